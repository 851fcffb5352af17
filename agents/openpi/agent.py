"""``agent=openpi``: any policy behind an openpi server, closed loop in this env.

Each query sends one observation built by the contract (:mod:`agents.openpi.contract`) and executes the
first ``replan_steps`` rows of the returned chunk, each held ``control_freq / policy_hz`` env steps, before
asking again.  The server's metadata is logged when the agent connects (in ``prepare``, before any episode).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import numpy as np

from agents.base import Agent, PlannedTargets
from agents.errors import AgentError
from agents.openpi.client import OpenPIClient
from agents.openpi.contract import OpenPIContract, make_contract
from envs.cameras import Calibration
from envs.errors import ConfigError

log = logging.getLogger(__name__)


class OpenPIAgent(Agent):
    def __init__(self, server: str, contract: dict | None = None, control_freq: int = 10,
                 policy_hz: float | None = None, timeout_s: float = 60.0, retries: int = 3,
                 env_control_mode: str = "ee_pose"):
        settings = dict(contract or {})
        preset = settings.pop("preset", "libero")
        self.contract: OpenPIContract = make_contract(preset, **settings)
        if self.contract.action_space != env_control_mode:
            raise ConfigError(f"contract preset {preset!r} sends {self.contract.action_space} actions but the env "
                              f"runs {env_control_mode}: set agent.control_mode={self.contract.action_space}")
        self.server, self.timeout_s, self.retries = server, timeout_s, retries
        self.repeat = max(1, round(control_freq / policy_hz)) if policy_hz else 1
        self.dt_s = self.repeat / control_freq  # how long each row of a chunk is held
        self.client: OpenPIClient | None = None
        self._queue: list[np.ndarray] = []
        self._stats = {"policy_queries": 0, "inference_s": 0.0, "server_infer_ms": 0.0}
        self._planned: list[PlannedTargets] = []
        self._step = 0

    def prepare(self) -> None:
        if self.client is None:
            self.client = OpenPIClient(self.server, timeout_s=self.timeout_s, retries=self.retries)

    def reset(self, instruction: str, calibration: Mapping[str, Calibration]) -> None:
        self.prepare()
        self.instruction, self._queue, self._planned, self._step = instruction, [], [], 0
        self._stats = {"policy_queries": 0, "inference_s": 0.0, "server_infer_ms": 0.0}

    def act(self, obs: dict) -> np.ndarray:
        if not self._queue:
            self._query(obs)
        row = self._queue.pop(0)
        self._step += 1
        return self.contract.action(row, obs, self.dt_s)  # deltas apply to the state at the step it runs

    def planned(self) -> list[PlannedTargets]:
        """Each query's chunk as end-effector positions (``ee_pose`` contracts; deltas chained from the pose
        at the query as if each row were reached), from the step it was asked at.  A joint-space contract
        plans joints, which this agent does not turn into positions: none."""
        return list(self._planned)

    def _plan(self, obs: dict) -> None:
        if self.contract.action_space != "ee_pose" or not self._queue:
            return
        state = np.asarray(obs["state"], np.float64).copy()
        points = []
        for row in self._queue:
            target = self.contract.action(row, {**obs, "state": state}, self.dt_s)
            state[:6] = target[:6]
            points.append((float(target[0]), float(target[1]), float(target[2])))
        self._planned.append(PlannedTargets(self._step, "chunk", tuple(points)))

    def _query(self, obs: dict) -> None:
        assert self.client is not None
        start = time.perf_counter()
        reply = self.client.infer(self.contract.build(obs, self.instruction))
        self._stats["inference_s"] += time.perf_counter() - start
        self._stats["policy_queries"] += 1
        timing = reply.get("server_timing")
        if isinstance(timing, dict) and isinstance(timing.get("infer_ms"), (int, float)):
            self._stats["server_infer_ms"] += float(timing["infer_ms"])
        chunk = np.asarray(reply["actions"], np.float64)
        if chunk.ndim == 1:
            chunk = chunk[None]
        if chunk.ndim != 2 or chunk.shape[1] < 7 or len(chunk) == 0:
            raise AgentError(f"the openpi server sent actions of shape {chunk.shape}; this contract needs "
                             "(steps, >= 7)")
        self._queue = [row for row in chunk[: self.contract.replan_steps] for _ in range(self.repeat)]
        self._plan(obs)

    def counters(self) -> dict:
        return {**self._stats, "inference_s": round(self._stats["inference_s"], 3),
                "server_infer_ms": round(self._stats["server_infer_ms"], 1)}

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
