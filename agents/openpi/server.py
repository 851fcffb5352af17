"""An openpi-protocol policy server for any :class:`agents.base.PolicyBackend` (describe / reset / predict).

What it speaks is openpi's (``agents/openpi/wire.py``): the backend's ``describe()`` as the metadata
message on connect, then one observation dict per message answered with ``{"actions": <chunk>,
"server_timing": {"infer_ms": ...}}``, errors as text frames, ``GET /healthz``, optional
``Authorization: Api-Key``.  One extension, announced in the metadata (``"reset": true``) and ignored by
clients that do not know it: the message ``{"__reset__": true, "seed": <int or null>}`` resets the backend
for a new episode (seeding its sampling) and is answered ``{"reset": true}``; after it, a backend that
batches draws each query's noise from (that seed, the query's number), as an in-process agent does.

Safe defaults: 127.0.0.1 unless told otherwise, messages and arrays capped (:class:`Limits`), at most
``max_connections`` clients at once (one more is closed with 1013, try again later), a client silent for
``idle_timeout_s`` closed so its slot frees, one inference at a time, nothing ever unpickled.  An
observation that fails (a missing key, a policy error) is answered with an error frame and the connection
goes on serving.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from http import HTTPStatus
from typing import Any

import numpy as np

from agents.base import BatchPolicyBackend, PolicyBackend, query_noise_seed
from agents.openpi.wire import API_KEY_ENV, Limits, WireError, as_str_keys, packb, unpackb

log = logging.getLogger("agents.openpi.server")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
RESET_KEY = "__reset__"


class PolicyServer:
    def __init__(self, backend: PolicyBackend, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None,
                 limits: Limits = Limits(), max_connections: int = 8, idle_timeout_s: float | None = 600.0):
        from websockets.sync.server import serve

        self.backend, self.api_key, self.limits = backend, api_key, limits
        self.idle_timeout_s = idle_timeout_s  # a client silent this long is closed, freeing its slot
        self.metadata = {**backend.describe(), "reset": True}
        self.queries = 0
        self._lock = threading.Lock()  # one inference at a time
        self._slots = threading.BoundedSemaphore(max_connections)
        self._server = serve(self._handle, host, port, compression=None, max_size=limits.max_message_bytes,
                             process_request=self._process_request)
        self.host = host
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://{'127.0.0.1' if self.host in ('0.0.0.0', '') else self.host}:{self.port}"

    def __enter__(self) -> PolicyServer:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def shutdown(self) -> None:
        self._server.shutdown()

    def _process_request(self, connection, request) -> Any:
        if request.path == "/healthz":
            return connection.respond(HTTPStatus.OK, "OK\n")
        if self.api_key:
            got = request.headers.get("Authorization", "")
            if not hmac.compare_digest(got.encode("utf-8", "replace"), f"Api-Key {self.api_key}".encode()):
                return connection.respond(HTTPStatus.UNAUTHORIZED,
                                          f"missing or wrong API key: set {API_KEY_ENV} on the client\n")
        return None

    def _handle(self, ws) -> None:
        if not self._slots.acquire(blocking=False):
            ws.close(1013, "busy: too many clients")  # 1013: try again later
            return
        try:
            self._serve(ws)
        finally:
            self._slots.release()

    def _serve(self, ws) -> None:
        from websockets.exceptions import ConnectionClosed

        episode: dict[str, Any] = {"seed": None, "queries": 0}  # this connection's episode (reset extension)
        try:
            ws.send(packb(self.metadata))
            while True:
                try:
                    message = ws.recv(timeout=self.idle_timeout_s)
                except TimeoutError:
                    log.info("closing %s: idle for %s s", ws.remote_address, self.idle_timeout_s)
                    ws.close(1001, f"idle for {self.idle_timeout_s} s")  # 1001: going away; reconnect to go on
                    return
                try:
                    ws.send(packb(self._answer(message, episode)))
                except (WireError, KeyError, ValueError, TypeError, RuntimeError) as e:
                    log.info("error frame to %s: %s", ws.remote_address, e)
                    ws.send(f"{type(e).__name__}: {e}")
                except Exception as e:  # a fault of the policy: say so, keep serving
                    log.exception("inference failed")
                    ws.send(f"{type(e).__name__}: {e}")
        except ConnectionClosed:
            return

    def _answer(self, message: Any, episode: dict[str, Any]) -> dict:
        if not isinstance(message, bytes):
            raise WireError("observations travel as binary msgpack messages")
        obs = as_str_keys(unpackb(message, self.limits))
        if not isinstance(obs, dict):
            raise WireError("an observation is a msgpack map")
        if obs.get(RESET_KEY) is True:
            seed = obs.get("seed")
            if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
                raise ValueError(f"seed must be an integer or null, got {seed!r:.40}")
            with self._lock:
                self.backend.reset(seed)
            episode.update(seed=seed, queries=0)
            return {"reset": True}
        start = time.perf_counter()
        with self._lock:
            if isinstance(self.backend, BatchPolicyBackend) and episode["seed"] is not None:
                # the noise of an in-process query of the same episode (agents.base.query_noise_seed)
                (chunk,) = self.backend.predict_batch([obs], [query_noise_seed(episode["seed"], episode["queries"])])
            else:
                chunk = self.backend.predict(obs)
            actions = np.asarray(chunk, np.float32)
        episode["queries"] += 1
        self.queries += 1
        return {"actions": actions, "server_timing": {"infer_ms": 1000 * (time.perf_counter() - start)}}


def warn_if_exposed(host: str, api_key: str | None, logger: logging.Logger = log) -> None:
    """Log a warning when the server is reachable beyond this machine."""
    if host in LOOPBACK:
        return
    if api_key is None:
        logger.warning("listening on %s without an API key: anyone who can reach this machine can drive the "
                       "policy; set %s on the server and the client", host, API_KEY_ENV)
    else:
        logger.warning("listening on %s: reachable from other machines (API key required)", host)
