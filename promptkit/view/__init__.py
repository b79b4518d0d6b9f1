"""``promptkit view``: a local, read-only web viewer over run directories.

Evaluation runs (``results.jsonl``, ``summary.json``), ``eval compare`` of two runs, ``eval matrix``
directories, ``compile`` directories, retrieval evaluations and ``promptkit chain --output`` files,
served by Starlette with Jinja pages and a little vanilla JS; all assets ship in the package.
Importing this package imports no web framework and no DSPy: :func:`create_app` and :func:`serve` do.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkit.errors import InputError, MissingDependencyError

if TYPE_CHECKING:
    from starlette.applications import Starlette

EXTRA = "promptkit[view]"
DEFAULT_PORT = 8484


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(directories: list[Path]) -> Starlette:
    """The web application over ``directories`` (each must exist)."""
    missing = [str(d) for d in directories if not Path(d).is_dir()]
    if missing:
        raise InputError(
            f"not a directory: {', '.join(missing)}",
            hint="pass the folders holding your runs (default ./runs, where eval run writes)",
        )
    try:
        from promptkit.view.app import create_app as build
    except ImportError as exc:
        raise MissingDependencyError(
            f"promptkit view needs {exc.name}, which is not installed", hint=f"pip install '{EXTRA}'"
        ) from None
    return build([Path(d) for d in directories])


def serve(directories: list[Path], *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, on_ready: Any = None) -> None:
    """Serve the viewer until interrupted; ``on_ready()`` is called once it accepts connections."""
    app = create_app(directories)
    try:
        import uvicorn
    except ImportError:
        raise MissingDependencyError(
            "promptkit view needs uvicorn, which is not installed", hint=f"pip install '{EXTRA}'"
        ) from None
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if on_ready is not None:
        original = server.startup

        async def startup(*args: Any, **kwargs: Any) -> None:
            await original(*args, **kwargs)
            if server.started:
                on_ready()

        server.startup = startup  # type: ignore[method-assign]
    server.run()


__all__ = ["DEFAULT_PORT", "create_app", "is_loopback", "serve"]
