"""HTTP client of ``python -m agents.xvla.serve``: a policy backend living on another machine."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request

import numpy as np

from agents.xvla.protocol import PROTOCOL_VERSION, encode_observation
from agents.errors import AgentError, FatalAgentError

log = logging.getLogger(__name__)


class PolicyClient:
    """``describe()`` / ``predict(inputs)`` / ``reset(seed)`` over HTTP, with timeouts and retries."""

    def __init__(self, url: str, timeout_s: float = 60.0, retries: int = 3, backoff_s: float = 1.0):
        self.url, self.timeout_s, self.retries, self.backoff_s = url.rstrip("/"), timeout_s, retries, backoff_s
        self._facts = self._health()

    def _health(self) -> dict:
        try:
            reply = self._request("GET", "/health", None, retries=1)
        except AgentError as e:
            raise FatalAgentError(f"cannot reach the policy server at {self.url} ({e}); start it on the GPU box "
                                  "with: python -m agents.xvla.serve --checkpoint lerobot/xvla-widowx --port 8000")
        if reply.get("protocol") != PROTOCOL_VERSION:
            raise FatalAgentError(f"policy server at {self.url} speaks protocol {reply.get('protocol')!r}, this "
                                  f"client speaks {PROTOCOL_VERSION}: run the same vla-agent-bench version on both")
        log.info("policy server %s: %s", self.url, reply.get("policy"))
        return reply.get("policy", {})

    def describe(self) -> dict:
        return dict(self._facts)

    def reset(self, seed: int | None = None) -> None:
        self._request("POST", "/reset", {"protocol": PROTOCOL_VERSION, "seed": seed})

    def predict(self, inputs: dict) -> np.ndarray:
        reply = self._request("POST", "/predict", {"protocol": PROTOCOL_VERSION,
                                                   "observation": encode_observation(inputs)})
        return np.asarray(reply["actions"], dtype=np.float32)

    def _request(self, method: str, path: str, body: dict | None, retries: int | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        attempts = self.retries if retries is None else retries
        for attempt in range(1, attempts + 1):
            req = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as e:
                detail = e.read().decode(errors="replace")[:300]
                if e.code < 500 or attempt == attempts:
                    raise AgentError(f"policy server {path} answered {e.code}: {detail}")
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                if attempt == attempts:
                    raise AgentError(f"{path} failed after {attempts} attempts: {e}")
            time.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise AgentError(f"{path}: no attempt was made")
