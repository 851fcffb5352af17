"""A small openpi-protocol server with a deterministic test policy (no model): for tests and for trying
``agent=openpi`` without a GPU.

    python -m agents.openpi.testing --port 8000 [--contract libero|env]

It speaks what openpi's ``serve_policy.py`` speaks (metadata on connect, one observation per message,
``{"actions", "server_timing"}`` back, errors as text frames, ``GET /healthz``, optional
``Authorization: Api-Key``), binds 127.0.0.1 by default, caps the messages it decodes and never unpickles.
The test policy answers every observation with a chunk of ``CHUNK`` rows that lower the gripper slowly,
open, in the contract's action convention; an observation without the contract's keys is answered with an
error frame, and the server goes on serving.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import threading
import time
from http import HTTPStatus
from typing import Any, Callable

import numpy as np

from agents.openpi.wire import API_KEY_ENV, Limits, WireError, as_str_keys, packb, unpackb

log = logging.getLogger("agents.openpi.testing")
CHUNK = 10
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def demo_policy(contract: str = "libero") -> Callable[[dict], np.ndarray]:
    """A deterministic policy: lower the gripper 1 cm per step, gripper open, in the contract's convention."""
    def libero(obs: dict) -> np.ndarray:
        for key in ("observation/image", "observation/state", "prompt"):
            if key not in obs:
                raise KeyError(f"observation has no {key!r} (keys: {sorted(obs)})")
        return np.tile(np.array([0.0, 0.0, -0.2, 0.0, 0.0, 0.0, -1.0], np.float32), (CHUNK, 1))

    def env(obs: dict) -> np.ndarray:
        state = np.asarray(obs["observation/state"], np.float32)
        rows = [np.r_[state[:2], state[2] - 0.01 * (k + 1), state[3:6], 1.0] for k in range(CHUNK)]
        return np.asarray(rows, np.float32)

    return {"libero": libero, "env": env}[contract]


class PolicyServer:
    """Serve ``policy`` (observation dict -> action chunk) over openpi's protocol."""

    def __init__(self, policy: Callable[[dict], np.ndarray], metadata: dict, host: str = "127.0.0.1",
                 port: int = 0, api_key: str | None = None, limits: Limits = Limits()):
        from websockets.sync.server import serve

        self.policy, self.metadata, self.api_key, self.limits = policy, metadata, api_key, limits
        self.queries = 0
        self._lock = threading.Lock()  # one inference at a time
        self._server = serve(self._handle, host, port, compression=None, max_size=limits.max_message_bytes,
                             process_request=self._process_request)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> PolicyServer:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()

    def _process_request(self, connection, request) -> Any:
        if request.path == "/healthz":
            return connection.respond(HTTPStatus.OK, "OK\n")
        if self.api_key:
            got = request.headers.get("Authorization", "")
            if not hmac.compare_digest(got.encode(), f"Api-Key {self.api_key}".encode()):
                return connection.respond(HTTPStatus.UNAUTHORIZED, "a valid Authorization: Api-Key header is needed\n")
        return None

    def _handle(self, ws) -> None:
        from websockets.exceptions import ConnectionClosed

        ws.send(packb(self.metadata))
        while True:
            try:
                message = ws.recv()
            except ConnectionClosed:
                return
            try:
                if not isinstance(message, bytes):
                    raise WireError("observations travel as binary msgpack messages")
                obs = as_str_keys(unpackb(message, self.limits))
                if not isinstance(obs, dict):
                    raise WireError("an observation is a msgpack map")
                start = time.perf_counter()
                with self._lock:
                    actions = np.asarray(self.policy(obs))
                self.queries += 1
                reply = {"actions": actions, "server_timing": {"infer_ms": 1000 * (time.perf_counter() - start)}}
                ws.send(packb(reply))
            except ConnectionClosed:
                return
            except Exception as e:  # the policy's or the message's fault: an error frame, and go on serving
                log.info("error frame: %s", e)
                try:
                    ws.send(f"{type(e).__name__}: {e}")
                except ConnectionClosed:
                    return


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--contract", default="libero", choices=("libero", "env"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    key = os.environ.get(API_KEY_ENV)
    if args.host not in LOOPBACK and not key:
        log.warning("serving on %s without an API key: anyone who reaches the port can query it (set %s)",
                    args.host, API_KEY_ENV)
    server = PolicyServer(demo_policy(args.contract), {"policy": "test", "contract": args.contract,
                                                       "chunk": CHUNK}, args.host, args.port, key)
    log.info("openpi test policy on ws://%s:%d (contract %s)", args.host, server.port, args.contract)
    server._server.serve_forever()


if __name__ == "__main__":
    main()
