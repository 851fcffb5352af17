"""Any LeRobot policy closed-loop in the env: ``agent=lerobot`` (policies trained on this env's
demonstrations) and ``agent=xvla`` (LeRobot's ``xvla-widowx``) are two configurations of it.

Backends: in-process (``lerobot`` installed, extra ``xvla``; the checkpoint's
own pre/post-processors) or a policy server (``server=http://host:8000``, run
``python -m agents.xvla.serve`` on the GPU box).  Each query returns a chunk;
the first ``n_action_steps`` rows are decoded by the contract and each is held
for ``control_freq / policy_hz`` env steps.  Contracts (``contract.type``):
``xvla`` (:class:`XVLAContract`: BridgeData conventions, ee6d actions) or
``env`` (:class:`EnvContract`: the env's own observation and ``ee_pose`` action
layout, as ``eval.record`` writes them).
"""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path
from typing import Mapping

import numpy as np

from agents.xvla.contract import EnvContract, XVLAContract, orthonormality_error
from envs.cameras import Calibration
from agents.base import Agent
from agents.errors import FatalAgentError
from envs.errors import check_choice

log = logging.getLogger(__name__)

CONTRACTS = {"xvla": XVLAContract, "env": EnvContract}
UNAVAILABLE = ("this agent has no policy to run: either install LeRobot (Python >= 3.12: "
               "pip install -e '.[xvla]', see README 'X-VLA') to run the checkpoint in-process, or point "
               "agent.server=http://<host>:8000 at a policy server (python -m agents.xvla.serve --checkpoint "
               "lerobot/xvla-widowx on a GPU machine)")


class LeRobotAgent(Agent):
    def __init__(self, checkpoint: str = "lerobot/xvla-widowx", server: str | None = None, device: str = "auto",
                 tokenizer_dir: str | None = None, n_action_steps: int | None = None, policy_hz: float = 5.0,
                 control_freq: int = 10, contract: dict | None = None, debug: bool = False,
                 debug_dir: str = "xvla_debug", timeout_s: float = 60.0, retries: int = 3):
        self.checkpoint, self.device, self.tokenizer_dir = checkpoint, device, tokenizer_dir
        self.n_action_steps, self.contract_overrides = n_action_steps, dict(contract or {})
        self.repeat = max(1, round(control_freq / policy_hz))
        self.debug, self.debug_dir = debug, Path(debug_dir)
        self.backend, self.contract = None, None
        if server:
            from agents.xvla.client import PolicyClient
            self.backend = PolicyClient(server, timeout_s=timeout_s, retries=retries)  # fails fast if unreachable
        elif importlib.util.find_spec("lerobot") is None:
            raise FatalAgentError(UNAVAILABLE)
        self._queue: list[np.ndarray] = []
        self._stats = {"policy_queries": 0, "inference_s": 0.0}
        self._episode = 0
        self._seed = None

    # --- lifecycle ---------------------------------------------------------
    def prepare(self) -> None:
        """Load the policy now (the harness calls this once per worker, outside episode timers)."""
        self._ensure_backend()

    def _ensure_backend(self) -> None:
        if self.backend is None:  # in-process: load lazily, in the worker that uses it
            from agents.xvla.lerobot_backend import LeRobotBackend
            self.backend = LeRobotBackend(self.checkpoint, device=self.device, tokenizer_dir=self.tokenizer_dir)
        if self.contract is None:
            facts = self.backend.describe()
            log.info("policy facts: %s", facts)
            settings = dict(self.contract_overrides)
            kind = check_choice("contract.type", settings.pop("type", "xvla"), CONTRACTS)
            self.contract = CONTRACTS[kind].from_facts(facts, **settings)
            self.n_action_steps = self.n_action_steps or int(facts["n_action_steps"])

    def seed(self, seed: int) -> None:
        self._seed = seed

    def reset(self, instruction: str, calibration: Mapping[str, Calibration]) -> None:
        self._ensure_backend()
        self.instruction, self.calibration = instruction, calibration
        self._queue, self._step = [], 0
        self._stats = {"policy_queries": 0, "inference_s": 0.0}
        self._episode += 1
        self.backend.reset(self._seed)

    def act(self, obs: dict) -> np.ndarray:
        if not self._queue:
            self._query(obs)
        self._step += 1
        return self._queue.pop(0)

    def counters(self) -> dict:
        return {**self._stats, "inference_s": round(self._stats["inference_s"], 3)}

    # --- one query ---------------------------------------------------------
    def _query(self, obs: dict) -> None:
        inputs = self.contract.build_inputs(obs, self.instruction)
        start = time.perf_counter()
        chunk = self.backend.predict(inputs)
        self._stats["inference_s"] += time.perf_counter() - start
        self._stats["policy_queries"] += 1
        actions = self.contract.decode(chunk[: self.n_action_steps])
        self._queue = [a for a in actions for _ in range(self.repeat)]
        if self.debug:
            from agents.xvla.debug import save_query
            name = f"episode_{self._episode:04d}" + ("" if self._seed is None else f"_seed{self._seed}")
            extra = {}
            if isinstance(self.contract, XVLAContract):
                err = max(orthonormality_error(row[3:9], self.contract.rot6d_order) for row in chunk)
                extra["rot6d_orthonormality_error"] = round(float(err), 4)
            save_query(self.debug_dir / name, self._step, inputs, obs, actions, self.calibration.get("primary"), extra)
