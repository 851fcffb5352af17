"""Serve a LeRobot policy over HTTP so a laptop can evaluate against a GPU box.

    python -m agents.lerobot.serve --checkpoint lerobot/xvla-widowx --port 8000 [--device cuda]
    python -m agents.lerobot.serve --test-policy --port 8000       # deterministic stand-in, no lerobot

It listens on 127.0.0.1 unless told otherwise (``--host 0.0.0.0`` to be reached
from another machine; then set an API key: ``VLA_BENCH_POLICY_API_KEY`` in the
environment of both the server and the evaluating machine).  Then, there:

    python -m eval.run agent=xvla agent.server=http://<gpu-box>:8000

Endpoints (``agents/lerobot/protocol.py``): ``GET /health``, ``POST /reset``,
``POST /predict``.  One request runs the model at a time.  What the server
accepts is capped (:class:`~agents.lerobot.protocol.Limits`); a request that
can never succeed gets a 4xx (clients do not retry those), a fault of the
server or the policy a 500.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import json
import logging
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agents.base import PolicyBackend
from agents.lerobot.contract import PolicyInputError
from agents.lerobot.protocol import (
    API_KEY_ENV,
    DEFAULT_LIMITS,
    PROTOCOL_VERSION,
    Limits,
    RequestError,
    decode_observation,
)

log = logging.getLogger("agents.lerobot.serve")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class PolicyHTTPServer(ThreadingHTTPServer):
    """A threading server with at most ``max_handlers`` requests in flight; one more is answered 503."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, max_handlers: int):
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(max_handlers)

    def process_request(self, request, client_address) -> None:
        if not self.slots.acquire(blocking=False):
            try:
                request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def make_server(backend: PolicyBackend, host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None,
                limits: Limits = DEFAULT_LIMITS, timeout_s: float = 30.0, max_handlers: int = 8) -> PolicyHTTPServer:
    """An HTTP server answering for ``backend``.

    ``api_key``: required of every request when given.  ``timeout_s``: the longest a
    connection may wait on the client for any read (and for the whole body).
    """
    lock = threading.Lock()
    expected = None if api_key is None else f"Api-Key {api_key}".encode()

    class Handler(BaseHTTPRequestHandler):
        timeout = timeout_s  # per socket operation: a silent client is dropped

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _refusal(self, paths: tuple[str, ...]) -> RequestError | None:
            """Why this request is refused before its body is looked at (no key, unknown path), if it is."""
            if expected is not None:
                given = self.headers.get("Authorization", "").encode("utf-8", "replace")
                if not hmac.compare_digest(given, expected):
                    return RequestError(401, f"missing or wrong API key: set {API_KEY_ENV} on the client")
            if self.path not in paths:
                return RequestError(404, f"unknown path {self.path}")
            return None

        def do_GET(self) -> None:
            refused = self._refusal(("/health",))
            if refused is not None:
                return self._send(refused.status, {"error": str(refused)})
            self._send(200, {"protocol": PROTOCOL_VERSION, "status": "ok", "policy": backend.describe(),
                             "max_body_bytes": limits.max_body_bytes})

        def do_POST(self) -> None:
            try:
                refused = self._refusal(("/reset", "/predict"))
                if refused is not None:
                    with contextlib.suppress(RequestError):  # dropped, so the client reads the answer, not a reset
                        self._read_body(keep=False)
                    raise refused
                body = self._read_json()
                if body.get("protocol") != PROTOCOL_VERSION:
                    return self._send(409, {"error": f"protocol {body.get('protocol')!r} != {PROTOCOL_VERSION}",
                                            "protocol": PROTOCOL_VERSION})
                if self.path == "/reset":
                    return self._reset(body.get("seed"))
                self._predict(decode_observation(body.get("observation"), limits))
            except RequestError as e:
                self._send(e.status, {"error": str(e)})
            except PolicyInputError as e:
                self._send(422, {"error": str(e)})
            except TimeoutError:
                log.info("dropped %s: the client stalled for %.0f s", self.client_address[0], timeout_s)
                self.close_connection = True
            except Exception as e:  # a fault of the server or the policy: the client may retry
                log.exception("request %s failed", self.path)
                self._send(500, {"error": f"{type(e).__name__}: {e}"})

        def _read_body(self, keep: bool = True) -> bytes:
            """The body, within the size cap (checked from Content-Length first) and ``timeout_s`` in all."""
            length = self.headers.get("Content-Length")
            if length is None:
                raise RequestError(411, "a Content-Length header is required")
            if not (length.isascii() and length.isdigit()):
                raise RequestError(400, f"bad Content-Length {length[:40]!r}")
            size = int(length)
            if size > limits.max_body_bytes:
                raise RequestError(413, f"body of {size} bytes exceeds the server's limit of "
                                        f"{limits.max_body_bytes}")
            parts, got, deadline = [], 0, time.monotonic() + timeout_s
            while got < size:
                if time.monotonic() > deadline:
                    raise TimeoutError
                chunk = self.rfile.read1(min(size - got, 2**16))
                if not chunk:
                    raise RequestError(400, f"body ended after {got} of {size} bytes")
                got += len(chunk)
                if keep:
                    parts.append(chunk)
            return b"".join(parts)

        def _read_json(self) -> dict:
            data = self._read_body()
            try:
                body = json.loads(data or b"{}")
            except (ValueError, RecursionError) as e:
                raise RequestError(400, f"body is not JSON: {e}") from e
            if not isinstance(body, dict):
                raise RequestError(400, "body must be a JSON object")
            return body

        def _reset(self, seed: Any) -> None:
            if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
                raise RequestError(400, f"seed must be an integer or null, got {seed!r:.40}")
            with lock:
                backend.reset(seed)
            self._send(200, {"protocol": PROTOCOL_VERSION})

        def _predict(self, observation: dict) -> None:
            with lock:
                start = time.perf_counter()
                actions = backend.predict(observation)
                latency = time.perf_counter() - start
            self._send(200, {"protocol": PROTOCOL_VERSION, "actions": actions.tolist(),
                             "latency_s": round(latency, 4)})

    return PolicyHTTPServer((host, port), Handler, max_handlers)


def warn_if_exposed(host: str, api_key: str | None) -> None:
    """Log a warning when the server is reachable beyond this machine."""
    if host in LOOPBACK:
        return
    if api_key is None:
        log.warning("listening on %s without an API key: anyone who can reach this machine can drive the "
                    "policy; set %s on the server and the client", host, API_KEY_ENV)
    else:
        log.warning("listening on %s: reachable from other machines (API key required)", host)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="hub id or local folder of a LeRobot policy checkpoint")
    src.add_argument("--test-policy", action="store_true", help="serve the deterministic test policy")
    p.add_argument("--host", default="127.0.0.1",
                   help=f"0.0.0.0 to be reachable from other machines (then set {API_KEY_ENV})")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", default="auto", help="cuda, cpu, mps or auto")
    p.add_argument("--tokenizer-dir", default=None, help="local tokenizer folder (offline use)")
    p.add_argument("--max-body-mb", type=float, default=Limits.max_body_bytes / 2**20)
    p.add_argument("--timeout-s", type=float, default=30.0, help="drop a client silent for this long")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    api_key = os.environ.get(API_KEY_ENV) or None
    warn_if_exposed(args.host, api_key)
    backend: PolicyBackend
    if args.test_policy:
        from agents.lerobot.testing import ReachPolicy
        backend = ReachPolicy()
    else:
        from agents.lerobot.backend import LeRobotBackend
        backend = LeRobotBackend(args.checkpoint, device=args.device, tokenizer_dir=args.tokenizer_dir)
    limits = Limits(max_body_bytes=int(args.max_body_mb * 2**20))
    try:
        server = make_server(backend, args.host, args.port, api_key, limits, args.timeout_s)
    except OSError as e:
        log.error("cannot listen on %s:%d: %s", args.host, args.port, e)
        return 1
    log.info("serving %s on http://%s:%d (protocol %d, API key %s)", backend.describe(), args.host, args.port,
             PROTOCOL_VERSION, "required" if api_key else "off")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
