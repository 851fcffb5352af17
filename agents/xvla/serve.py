"""Serve a LeRobot policy over HTTP so a laptop can evaluate against a GPU box.

    python -m agents.xvla.serve --checkpoint lerobot/xvla-widowx --port 8000 [--device cuda]
    python -m agents.xvla.serve --test-policy --port 8000       # deterministic stand-in, no lerobot

Then, on the evaluating machine:

    python -m eval.run agent=xvla agent.server=http://<gpu-box>:8000

Endpoints (``agents/xvla/protocol.py``): ``GET /health``, ``POST /reset``,
``POST /predict``.  One request runs the model at a time.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agents.xvla.protocol import PROTOCOL_VERSION, decode_observation

log = logging.getLogger("agents.xvla.serve")


def make_server(backend, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server answering for ``backend`` (describe / reset / predict)."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            log.debug(fmt, *args)

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path != "/health":
                return self._send(404, {"error": f"unknown path {self.path}"})
            self._send(200, {"protocol": PROTOCOL_VERSION, "status": "ok", "policy": backend.describe()})

        def do_POST(self):
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            except json.JSONDecodeError as e:
                return self._send(400, {"error": f"body is not JSON: {e}"})
            if body.get("protocol") != PROTOCOL_VERSION:
                return self._send(409, {"error": f"protocol {body.get('protocol')!r} != {PROTOCOL_VERSION}",
                                        "protocol": PROTOCOL_VERSION})
            try:
                with lock:
                    if self.path == "/reset":
                        backend.reset(body.get("seed"))
                        return self._send(200, {"protocol": PROTOCOL_VERSION})
                    if self.path == "/predict":
                        start = time.perf_counter()
                        actions = backend.predict(decode_observation(body["observation"]))
                        return self._send(200, {"protocol": PROTOCOL_VERSION, "actions": actions.tolist(),
                                                "latency_s": round(time.perf_counter() - start, 4)})
                return self._send(404, {"error": f"unknown path {self.path}"})
            except Exception as e:  # the client sees the reason; the server keeps serving
                log.exception("request %s failed", self.path)
                self._send(500, {"error": f"{type(e).__name__}: {e}"})

    return ThreadingHTTPServer((host, port), Handler)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="hub id or local folder of a LeRobot policy checkpoint")
    src.add_argument("--test-policy", action="store_true", help="serve the deterministic test policy")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", default="auto", help="cuda, cpu, mps or auto")
    p.add_argument("--tokenizer-dir", default=None, help="local tokenizer folder (offline use)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.test_policy:
        from agents.xvla.testing import ReachPolicy
        backend = ReachPolicy()
    else:
        from agents.xvla.lerobot_backend import LeRobotBackend
        backend = LeRobotBackend(args.checkpoint, device=args.device, tokenizer_dir=args.tokenizer_dir)
    server = make_server(backend, args.host, args.port)
    log.info("serving %s on http://%s:%d (protocol %d)", backend.describe(), args.host, args.port, PROTOCOL_VERSION)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
