"""A Qdrant server (or cluster) by URL: for indexes shared by several processes or machines.

Shards and replication are the server's business; the interface is the same as every engine.
The API key comes from the argument or ``QDRANT_API_KEY`` and never appears in a repr or an error.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

from promptkit.errors import BackendError, BackendUnavailableError, InputError
from promptkit.retrieval.stores.qdrant_client_store import QdrantClientStore

DEFAULT_TIMEOUT = 5.0


def redact_url(url: str) -> str:
    """The URL without user:password (and without a query string, which may carry a key)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class ServerStore(QdrantClientStore):
    engine = "server"

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Report a server that goes away (or answers with an error) as a promptkit error."""
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

        try:
            yield
        except UnexpectedResponse as exc:
            raise BackendError(
                f"the Qdrant server at {self.location} answered HTTP {exc.status_code}: "
                f"{exc.content.decode('utf-8', 'replace')[:300]}",
                hint="check the server's log; the request is shown above",
            ) from None
        except ResponseHandlingException as exc:
            raise BackendUnavailableError(
                f"lost the Qdrant server at {self.location} ({type(exc.source).__name__})",
                url=self.location,
                hint="check that the server is running and reachable, then retry",
            ) from None

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        from qdrant_client import QdrantClient

        shown = redact_url(url)
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise InputError(f"not a Qdrant server URL: {shown!r}", hint="use http(s)://HOST:6333")
        key = api_key if api_key is not None else os.environ.get("QDRANT_API_KEY") or None
        client = QdrantClient(
            url=url,
            api_key=key,
            # qdrant-client takes whole seconds; never 0, which would mean "no timeout".
            timeout=max(1, round(timeout)),
            check_compatibility=False,  # it would make its own request and only warn on failure
        )
        super().__init__(client, shown, serialize=False)
        try:
            client.get_collections()
        except Exception as exc:
            client.close()
            status = getattr(exc, "status_code", None)
            if status in (401, 403):
                raise BackendUnavailableError(
                    f"the Qdrant server at {shown} refused the API key (HTTP {status})",
                    url=shown,
                    hint="set QDRANT_API_KEY to the server's key",
                ) from None
            reason = type(exc).__name__
            raise BackendUnavailableError(
                f"cannot reach the Qdrant server at {shown} ({reason})",
                url=shown,
                hint="start Qdrant there (docker run -p 6333:6333 qdrant/qdrant), fix the URL, "
                "or use a local index (--store PATH)",
            ) from None
