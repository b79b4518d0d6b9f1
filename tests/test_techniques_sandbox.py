"""The sandbox that runs model-written code: no files outside, no network, no processes, no environment,
and a program is stopped at the time and memory limits. Runs on every backend that works here."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from promptkit.errors import InputError
from promptkit.techniques import sandbox
from promptkit.techniques.sandbox import PythonSandbox, SandboxLimits, SandboxUnavailableError, backend_works

WORKING = [b for b in sandbox.BACKENDS if backend_works(b)]
pytestmark = pytest.mark.skipif(not WORKING, reason="no sandbox backend works on this machine")
REPO_FILE = Path(__file__).resolve().parents[1] / "pyproject.toml"


@pytest.fixture(params=WORKING)
def box(request: pytest.FixtureRequest) -> PythonSandbox:
    return PythonSandbox(SandboxLimits(timeout=2.0, memory_mb=128), backend=request.param)


def test_result_conventions(box: PythonSandbox) -> None:
    assert box.run("ans = sum(range(10))").result == "45"
    assert box.run("def solution():\n    return 6 * 7", entry="solution", result_var=None).result == "42"
    printed = box.run("print('hello'); ans = None")
    assert printed.ok and printed.result is None and printed.stdout == "hello\n"
    failed = box.run("ans = 1 / 0")
    assert failed.kind == "error" and "ZeroDivisionError" in (failed.error or "")


@pytest.mark.parametrize("path", ["/etc/hostname", "/etc/passwd", str(REPO_FILE)])
def test_cannot_read_files_outside(box: PythonSandbox, path: str) -> None:
    assert Path(path).is_file()  # the file exists on the host: the sandbox, not its absence, stops the read
    result = box.run(f"ans = open({path!r}).read()")
    error = result.error or ""
    assert result.kind == "error" and ("FileNotFoundError" in error or "Permission" in error)


def test_sees_only_an_empty_working_directory_and_no_environment(
    box: PythonSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTKIT_TEST_SECRET", "sk-should-not-leak")
    result = box.run("import os\nans = (os.getcwd(), os.listdir('.'), sorted(os.environ))")
    assert result.ok
    cwd, listing, env = eval(result.result or "")  # the repr of a tuple of str/list values
    assert cwd == "/tmp" and listing == []
    assert "PROMPTKIT_TEST_SECRET" not in env and "HOME" not in env and "PATH" not in env
    assert "sk-should-not-leak" not in (result.stdout + (result.result or ""))


def test_cannot_write_outside_its_temporary_directory(box: PythonSandbox) -> None:
    result = box.run("open('/usr/pwned', 'w').write('x')")
    assert result.kind == "error" and ("Read-only" in (result.error or "") or "Permission" in (result.error or ""))
    assert not Path("/usr/pwned").exists()


def test_cannot_open_a_socket(box: PythonSandbox) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # the accept timeout: nobody connected, as expected
            accepted.append(server.accept())

    listener = threading.Thread(target=accept)
    listener.start()
    try:
        code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\nans = 'connected'"
        result = box.run(code)
    finally:
        listener.join()
        server.close()
    assert result.kind == "error" and result.result is None
    assert not accepted, "the sandboxed program reached a server on the host"


def test_cannot_start_processes(box: PythonSandbox) -> None:
    result = box.run("import subprocess\nans = subprocess.run(['/usr/bin/id'], capture_output=True).stdout")
    assert result.kind == "error" and "PermissionError" in (result.error or "")
    forked = box.run("import os\nans = os.fork()")
    assert forked.kind == "error"


def test_is_stopped_at_the_cpu_time_limit(box: PythonSandbox) -> None:
    quick = PythonSandbox(SandboxLimits(timeout=1.0), backend=box.backend)
    started = time.monotonic()
    result = quick.run("while True:\n    pass")
    assert result.kind == "timeout" and time.monotonic() - started < 10


def test_is_stopped_at_the_wall_clock_limit(box: PythonSandbox) -> None:
    quick = PythonSandbox(SandboxLimits(timeout=1.0), backend=box.backend)
    started = time.monotonic()
    result = quick.run("import time\ntime.sleep(60)")
    assert result.kind == "timeout" and time.monotonic() - started < 10


def test_is_stopped_at_the_memory_limit(box: PythonSandbox) -> None:
    result = box.run("block = bytearray(1024 ** 3)\nans = len(block)")
    assert result.kind == "memory" and result.result is None
    growing = box.run("items = []\nwhile True:\n    items.append('x' * 10_000_000)")
    assert growing.kind == "memory"


def test_output_is_bounded(box: PythonSandbox) -> None:
    result = box.run("print('x' * 200_000)")
    assert result.kind == "error" and "printed more than" in (result.error or "")


def test_no_working_backend_refuses_instead_of_running_unsandboxed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "backend_works", lambda backend: False)
    with pytest.raises(SandboxUnavailableError) as caught:
        PythonSandbox().run("ans = 1")
    assert "refusing to run the program unsandboxed" in str(caught.value)
    assert "bubblewrap" in str(caught.value)


def test_unknown_backend_and_bad_limits_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown sandbox backend"):
        sandbox.detect_sandbox("docker")
    with pytest.raises(InputError, match="invalid sandbox limits"):
        SandboxLimits(timeout=0)


def test_the_host_environment_is_untouched() -> None:
    assert os.environ.get("PROMPTKIT_TEST_SECRET") is None
