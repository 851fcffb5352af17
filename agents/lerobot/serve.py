"""Serve a LeRobot policy in openpi's protocol, so a laptop can evaluate against a GPU box.

    python -m agents.lerobot.serve --checkpoint lerobot/xvla-widowx --port 8000 [--device cuda]
    python -m agents.lerobot.serve --test-policy --port 8000       # deterministic stand-in, no lerobot

It listens on 127.0.0.1 unless told otherwise (``--host 0.0.0.0`` to be reached from another machine; then
set an API key: ``VLA_BENCH_POLICY_API_KEY`` in the environment of both the server and the evaluating
machine).  Then, there:

    python -m eval.run agent=xvla agent.server=ws://<gpu-box>:8000

The protocol is openpi's (``agents/openpi/wire.py``, :class:`agents.openpi.server.PolicyServer`): the
checkpoint's facts as the metadata on connect, one observation dict per message (the keys of the
checkpoint's contract: ``observation.images.*``, ``observation.state``, ``task``), the action chunk back as
``actions``; openpi's own ``WebsocketClientPolicy`` can drive it.  Messages and arrays are capped, one
inference runs at a time, an observation the policy cannot take is answered with an error frame.
"""

from __future__ import annotations

import argparse
import logging
import os

from agents.base import PolicyBackend
from agents.openpi.server import PolicyServer, warn_if_exposed
from agents.openpi.wire import API_KEY_ENV, Limits

log = logging.getLogger("agents.lerobot.serve")


def make_server(backend: PolicyBackend, host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None,
                limits: Limits = Limits(), max_connections: int = 8,
                idle_timeout_s: float | None = 600.0) -> PolicyServer:
    """An openpi-protocol server answering for ``backend`` (``api_key``: required of every client when given)."""
    return PolicyServer(backend, host, port, api_key, limits, max_connections, idle_timeout_s)


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
    p.add_argument("--max-message-mb", type=float, default=Limits.max_message_bytes / 2**20)
    p.add_argument("--max-connections", type=int, default=8)
    p.add_argument("--idle-timeout-s", type=float, default=600.0,
                   help="close a client silent this long, freeing its connection slot")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    api_key = os.environ.get(API_KEY_ENV) or None
    warn_if_exposed(args.host, api_key, log)
    backend: PolicyBackend
    if args.test_policy:
        from agents.lerobot.testing import ReachPolicy
        backend = ReachPolicy()
    else:
        from agents.lerobot.backend import LeRobotBackend
        backend = LeRobotBackend(args.checkpoint, device=args.device, tokenizer_dir=args.tokenizer_dir)
    limits = Limits(max_message_bytes=int(args.max_message_mb * 2**20))
    try:
        server = make_server(backend, args.host, args.port, api_key, limits, args.max_connections,
                             args.idle_timeout_s)
    except OSError as e:
        log.error("cannot listen on %s:%d: %s", args.host, args.port, e)
        return 1
    log.info("serving %s on ws://%s:%d (openpi protocol, API key %s)", backend.describe(), args.host, server.port,
             "required" if api_key else "off")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
