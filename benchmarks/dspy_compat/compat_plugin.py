"""pytest plugin for running DSPy's own tests (dspy_tests/) against promptkit.

Loaded by run.py with ``-p compat_plugin`` (this folder on PYTHONPATH); the vendored tests are not edited.

* ``PROMPTKIT_COMPAT_ADAPTER=template`` (or ``--compat-adapter template``): before every test, an autouse
  fixture puts a fresh ``promptkit.adapter.TemplateAdapter`` into DSPy's main-thread config, which is what
  ``dspy.configure(adapter=...)`` writes and what ``settings.adapter`` falls back to. A test's own
  ``dspy.configure(adapter=...)`` overwrites it and its ``dspy.context(adapter=...)`` shadows it, so both
  still win. DSPy's conftest resets the settings after each test; the fixture sets the adapter again
  before the next one. ``default`` (the default) leaves ``adapter=None``, i.e. DSPy's ChatAdapter.
* No traffic leaves the machine: sockets may connect only to loopback, and HTTP made through ``requests``
  (``dspy.Image.from_url`` and the tests' own downloads) is answered from local bytes for the two
  resources the tests download (a JPEG, a PDF); any other ``requests`` URL raises ``ConnectionError``.
* ``--compat-skip FILE``: skip the test ids listed in FILE (one ``id  # reason`` a line), with that reason.
"""

from __future__ import annotations

import io
import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from id_lists import read_id_list

ADAPTER_ENV = "PROMPTKIT_COMPAT_ADAPTER"
ADAPTERS = ("default", "template")

# The resources DSPy's tests download, served from bytes made here.
_JPEG_URLS = {"https://images.dog.ceo/breeds/dane-great/n02109047_8912.jpg"}
_PDF_URLS = {"https://www.w3.org/WAI/ER/tests/xhtml/testfiles/resources/pdf/dummy.pdf"}

_MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("promptkit-compat")
    group.addoption(
        "--compat-adapter",
        choices=ADAPTERS,
        default=None,
        help=f"adapter made DSPy's default for every test (default: ${ADAPTER_ENV} or 'default')",
    )
    group.addoption("--compat-skip", default=None, help="file of test ids to skip (`id  # reason` lines)")


def _adapter_choice(config: pytest.Config) -> str:
    choice = config.getoption("--compat-adapter") or os.environ.get(ADAPTER_ENV, "default")
    if choice not in ADAPTERS:
        raise pytest.UsageError(f"{ADAPTER_ENV} must be one of {ADAPTERS}, not {choice!r}")
    return choice


def pytest_configure(config: pytest.Config) -> None:
    choice = _adapter_choice(config)
    config.stash[_CHOICE] = choice
    if choice == "template":
        try:
            from promptkit.adapter import TemplateAdapter
        except Exception as exc:  # a broken promptkit must not pass for DSPy's default adapter
            raise pytest.UsageError(f"cannot import promptkit.adapter.TemplateAdapter: {exc!r}") from exc
        TemplateAdapter()  # fail here, not in every test, if it cannot be built


def pytest_report_header(config: pytest.Config) -> str:
    choice = config.stash.get(_CHOICE, "?")
    if choice != "template":
        return f"promptkit compat: default adapter = {choice}"
    import promptkit

    return f"promptkit compat: default adapter = TemplateAdapter from {Path(promptkit.__file__).parent}"


_CHOICE = pytest.StashKey[str]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    path = config.getoption("--compat-skip")
    if not path or not Path(path).exists():
        return
    wanted = read_id_list(path)
    for item in items:
        reason = wanted.get(item.nodeid)
        if reason is None:  # a whole file or a test's every parametrization
            reason = wanted.get(item.nodeid.split("::")[0]) or wanted.get(item.nodeid.split("[")[0])
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=f"dspy_compat SKIP.txt: {reason or 'no reason given'}"))


@pytest.fixture(autouse=True)
def _promptkit_default_adapter(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.config.stash.get(_CHOICE, "default") != "template":
        yield
        return
    import importlib

    from promptkit.adapter import TemplateAdapter

    # The module, not the `settings` object that `dspy.dsp.utils` re-exports under the same name.
    settings_module = importlib.import_module("dspy.dsp.utils.settings")

    # Written into the dict `dspy.configure` writes to, without `configure`'s owner-thread bookkeeping,
    # so the first `dspy.configure` of an async test is not refused for having been called elsewhere.
    settings_module.main_thread_config["adapter"] = TemplateAdapter()
    try:
        yield
    finally:
        settings_module.main_thread_config["adapter"] = None


# -- network -------------------------------------------------------------------------------------------


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like
    if host in ("localhost", "", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _guard_network() -> None:
    if getattr(socket.socket.connect, "_promptkit_guard", False):
        return
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def _check(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if not _is_loopback(host):
            raise ConnectionRefusedError(f"dspy_compat: network access to {host!r} is blocked")

    def connect(self: socket.socket, address: Any) -> None:
        _check(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"dspy_compat: name lookup of {host!r} is blocked")
        return real_getaddrinfo(host, *args, **kwargs)

    connect._promptkit_guard = True  # type: ignore[attr-defined]
    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo


def _jpeg_bytes() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (64, 48), (180, 120, 60))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


def _serve_known_downloads() -> None:
    try:
        import requests
        from requests.adapters import HTTPAdapter
    except ImportError:
        return
    if getattr(HTTPAdapter.send, "_promptkit_guard", False):
        return

    def send(self: HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        if url in _JPEG_URLS:
            body, mime = _jpeg_bytes(), "image/jpeg"
        elif url in _PDF_URLS:
            body, mime = _MINIMAL_PDF, "application/pdf"
        else:
            raise requests.ConnectionError(f"dspy_compat: no network; {url} is not served locally", request=request)
        response = requests.Response()
        response.status_code = 200
        response.url = url
        response.request = request
        response.headers["Content-Type"] = mime
        response.headers["Content-Length"] = str(len(body))
        response._content = body
        response.reason = "OK"
        return response

    send._promptkit_guard = True  # type: ignore[attr-defined]
    HTTPAdapter.send = send  # type: ignore[method-assign]


# At import: `-p compat_plugin` is imported before DSPy's conftest, which imports litellm.
_guard_network()
_serve_known_downloads()
