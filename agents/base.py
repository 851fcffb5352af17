"""The agent contract every agent implements.

    agent.reset(instruction, calibration)   # once per episode
    action = agent.act(obs)                 # once per control step

``calibration`` maps camera name -> :class:`envs.cameras.Calibration`: what the
env reports, which under ``calibration=nominal`` is stale on purpose.  Agents
see only observations and that calibration; only the oracle is privileged.
"""

from __future__ import annotations

from typing import Mapping, Protocol, runtime_checkable

import numpy as np

from envs.cameras import Calibration


@runtime_checkable
class Agent(Protocol):
    def reset(self, instruction: str, calibration: Mapping[str, Calibration]) -> None: ...

    def act(self, obs: dict) -> np.ndarray: ...
