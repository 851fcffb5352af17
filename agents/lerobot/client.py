"""A LeRobot policy behind an openpi-protocol server (``python -m agents.lerobot.serve``) as a backend.

:class:`PolicyClient` is a :class:`agents.base.PolicyBackend` (describe / reset / predict), interchangeable
with the in-process :class:`agents.lerobot.backend.LeRobotBackend`.  It speaks openpi's protocol through
:class:`agents.openpi.client.OpenPIClient` (``agents/openpi/wire.py``); ``reset`` uses the server's reset
extension when the metadata announces it (``agents.openpi.server``) and does nothing otherwise.
"""

from __future__ import annotations

import logging

import numpy as np

from agents.errors import FatalAgentError
from agents.openpi.client import OpenPIClient
from agents.openpi.server import RESET_KEY

log = logging.getLogger(__name__)
START_HINT = "python -m agents.lerobot.serve --checkpoint lerobot/xvla-widowx --port 8000"


class PolicyClient:
    def __init__(self, url: str, timeout_s: float = 60.0, retries: int = 3, backoff_s: float = 0.5):
        if url.startswith(("http://", "https://")):
            raise FatalAgentError(f"agent.server={url}: policy servers speak openpi's WebSocket protocol now; use "
                                  f"ws://{url.split('://', 1)[1]} (start one with: {START_HINT})")
        self._client = OpenPIClient(url, timeout_s=timeout_s, retries=retries, backoff_s=backoff_s)
        self._facts = {k: v for k, v in self._client.metadata.items() if k != "reset"}
        self._resets = bool(self._client.metadata.get("reset"))

    def describe(self) -> dict:
        return dict(self._facts)

    def reset(self, seed: int | None = None) -> None:
        if self._resets:
            self._client.infer_raw({RESET_KEY: True, "seed": seed})

    def predict(self, inputs: dict) -> np.ndarray:
        return np.asarray(self._client.infer(inputs)["actions"], dtype=np.float32)

    def close(self) -> None:
        self._client.close()
