"""HTTP client of ``python -m agents.lerobot.serve``: a policy backend living on another machine.

:class:`PolicyClient` is a :class:`agents.base.PolicyBackend` (describe / reset / predict),
interchangeable with the in-process :class:`agents.lerobot.backend.LeRobotBackend`.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from typing import Any

import numpy as np

from agents.errors import AgentError, FatalAgentError
from agents.lerobot.protocol import API_KEY_ENV, PROTOCOL_VERSION, encode_observation

log = logging.getLogger(__name__)
START_HINT = "python -m agents.lerobot.serve --checkpoint lerobot/xvla-widowx --port 8000"


class PolicyServerError(AgentError):
    """The policy server answered an HTTP error; ``status`` is its code (4xx: the request can never
    succeed as sent and was not retried; 5xx: it still failed after the retries)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class PolicyClient:
    """``describe()`` / ``predict(inputs)`` / ``reset(seed)`` over HTTP, with timeouts and retries.

    Retries only what may pass on a second try (5xx answers, connection errors, timeouts), with
    exponential backoff.  The API key, when the server wants one, comes from the environment
    variable ``VLA_BENCH_POLICY_API_KEY`` (never from a config value, so it is never written down).
    """

    def __init__(self, url: str, timeout_s: float = 60.0, retries: int = 3, backoff_s: float = 1.0):
        self.url, self.timeout_s, self.retries, self.backoff_s = url.rstrip("/"), timeout_s, retries, backoff_s
        key = os.environ.get(API_KEY_ENV)
        self._headers = {"Content-Type": "application/json", **({"Authorization": f"Api-Key {key}"} if key else {})}
        self._max_body_bytes: int | None = None
        self._facts = self._health()

    def _health(self) -> dict:
        try:
            reply = self._request("GET", "/health", None, retries=1)
        except PolicyServerError as e:
            if e.status == 401:
                raise FatalAgentError(f"the policy server at {self.url} wants an API key: set {API_KEY_ENV} "
                                      "to the server's key in this environment") from e
            raise FatalAgentError(f"the policy server at {self.url} answered /health with {e.status}: {e}") from e
        except AgentError as e:
            raise FatalAgentError(f"cannot reach the policy server at {self.url} ({e}); start it on the GPU box "
                                  f"with: {START_HINT}") from e
        if reply.get("protocol") != PROTOCOL_VERSION:
            raise FatalAgentError(f"policy server at {self.url} speaks protocol {reply.get('protocol')!r}, this "
                                  f"client speaks {PROTOCOL_VERSION}: run the same vla-agent-bench version on both")
        log.info("policy server %s: %s", self.url, reply.get("policy"))
        self._max_body_bytes = reply.get("max_body_bytes")
        return reply.get("policy", {})

    def describe(self) -> dict:
        return dict(self._facts)

    def reset(self, seed: int | None = None) -> None:
        self._request("POST", "/reset", {"protocol": PROTOCOL_VERSION, "seed": seed})

    def predict(self, inputs: dict) -> np.ndarray:
        reply = self._request("POST", "/predict", {"protocol": PROTOCOL_VERSION,
                                                   "observation": encode_observation(inputs)})
        return np.asarray(reply["actions"], dtype=np.float32)

    def _request(self, method: str, path: str, body: dict | None, retries: int | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        if data is not None and self._max_body_bytes is not None and len(data) > self._max_body_bytes:
            raise PolicyServerError(f"{path}: a request of {len(data)} bytes exceeds the server's limit of "
                                    f"{self._max_body_bytes} (smaller images, or raise --max-body-mb)", 413)
        attempts = self.retries if retries is None else retries
        for attempt in range(1, attempts + 1):
            req = urllib.request.Request(self.url + path, data=data, method=method, headers=self._headers)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as e:
                detail = e.read().decode(errors="replace")[:300]
                if e.code < 500 or attempt == attempts:
                    raise PolicyServerError(f"policy server {path} answered {e.code}: {detail}", e.code) from e
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                if attempt == attempts:
                    raise AgentError(f"{path} failed after {attempts} attempts: {e}") from e
            except json.JSONDecodeError as e:
                raise AgentError(f"policy server {path} answered something that is not JSON: {e}") from e
            log.warning("policy server %s: attempt %d of %d failed, retrying", path, attempt, attempts)
            time.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise AgentError(f"{path}: no attempt was made")
