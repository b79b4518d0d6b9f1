"""``promptkit view [DIR ...] [--host 127.0.0.1] [--port 8484] [--open]``: browse runs in a local web page.

Read-only; binds to loopback by default. Another ``--host`` prints a warning first, since the pages show
prompts and replies (secrets are redacted, the data is not).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from promptkit.cli._common import err

LOOPBACK = "127.0.0.1"


def view(
    directories: Annotated[
        list[Path] | None, typer.Argument(help="folders holding runs (searched recursively; default ./runs)")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="address to bind (loopback unless you mean to share)")] = LOOPBACK,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="port to listen on")] = 8484,
    open_browser: Annotated[bool, typer.Option("--open", help="open the viewer in a web browser")] = False,
) -> None:
    """Browse evaluation, compare, matrix, compile, retrieval and chain results in a local web viewer."""
    from promptkit.view import is_loopback, serve

    roots = list(directories or [Path("runs")])
    if not is_loopback(host):
        err.print(
            f"warning: serving on {host}: anyone who can reach this address sees the prompts and replies "
            "of these runs (the viewer has no login)",
            style="yellow",
            highlight=False,
        )
    shown = "localhost" if host in ("127.0.0.1", "::1", "0.0.0.0") else host
    url = f"http://{shown}:{port}/"

    def ready() -> None:
        err.print(f"promptkit view: {url} (serving {', '.join(str(r) for r in roots)}; Ctrl-C stops)", highlight=False)
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    serve(roots, host=host, port=port, on_ready=ready)


def register(app: typer.Typer) -> None:
    app.command("view")(view)


__all__ = ["register", "view"]
