"""What the tests' stand-in API servers share: a threaded HTTP server on 127.0.0.1 (port chosen by the
system unless given), the requests it received, and canned replies that take the next request's turn."""

from __future__ import annotations

import threading
from collections import deque
from http.server import ThreadingHTTPServer


class LocalServer:
    def __init__(self, port: int = 0):
        self.requests: list[tuple[str, dict]] = []
        self.canned: deque[tuple[int, dict]] = deque()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def push(self, status: int, body: dict) -> None:
        """The next request gets this reply instead of the model's."""
        self.canned.append((status, body))

    def _handler(self) -> type:
        raise NotImplementedError
