"""Any LeRobot policy closed-loop in the env: ``agent=lerobot`` (policies trained on this env's
demonstrations) and ``agent=xvla`` (LeRobot's ``xvla-widowx``) are two configurations of it.

Backends (:class:`agents.base.PolicyBackend`): in-process (``lerobot`` installed,
extra ``xvla``; the checkpoint's own pre/post-processors) or a policy server
(``server=ws://host:8000``, openpi's protocol: run ``python -m agents.lerobot.serve`` on the GPU box).
Each query returns a chunk;
the first ``n_action_steps`` rows are decoded by the contract and each is held
for ``control_freq / policy_hz`` env steps.  Contracts (``contract.type``, looked up in
:data:`agents.lerobot.contract.CONTRACTS`): ``xvla`` (BridgeData conventions, ee6d
actions) or ``env`` (the env's own observation and ``ee_pose`` action layout, as
``eval.record`` writes them).
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from agents.base import Agent, PolicyBackend
from agents.errors import FatalAgentError
from agents.lerobot.contract import Contract, make_contract
from envs.cameras import Calibration

log = logging.getLogger(__name__)

UNAVAILABLE = ("this agent has no policy to run: either install LeRobot (Python >= 3.12: "
               "pip install -e '.[xvla]', see README 'X-VLA') to run the checkpoint in-process, or point "
               "agent.server=ws://<host>:8000 at a policy server (python -m agents.lerobot.serve --checkpoint "
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
        self.backend: PolicyBackend | None = None
        self.contract: Contract | None = None
        if server:
            from agents.lerobot.client import PolicyClient
            self.backend = PolicyClient(server, timeout_s=timeout_s, retries=retries)  # fails fast if unreachable
        elif importlib.util.find_spec("lerobot") is None:
            raise FatalAgentError(UNAVAILABLE)
        self._queue: list[np.ndarray] = []
        self._stats = {"policy_queries": 0, "inference_s": 0.0}
        self._episode = 0
        self._seed: int | None = None

    # --- lifecycle ---------------------------------------------------------
    def prepare(self) -> None:
        """Load the policy now (the harness calls this once per worker, outside episode timers)."""
        self._ensure_backend()

    def _ensure_backend(self) -> tuple[PolicyBackend, Contract]:
        if self.backend is None:  # in-process: load lazily, in the worker that uses it
            from agents.lerobot.backend import LeRobotBackend
            self.backend = LeRobotBackend(self.checkpoint, device=self.device, tokenizer_dir=self.tokenizer_dir)
        if self.contract is None:
            facts = self.backend.describe()
            log.info("policy facts: %s", facts)
            settings = dict(self.contract_overrides)
            self.contract = make_contract(settings.pop("type", "xvla"), facts, **settings)
            self.n_action_steps = self.n_action_steps or int(facts["n_action_steps"])
        return self.backend, self.contract

    def seed(self, seed: int) -> None:
        self._seed = seed

    def reset(self, instruction: str, calibration: Mapping[str, Calibration]) -> None:
        backend, _ = self._ensure_backend()
        self.instruction, self.calibration = instruction, calibration
        self._queue, self._step = [], 0
        self._stats = {"policy_queries": 0, "inference_s": 0.0}
        self._episode += 1
        backend.reset(self._seed)

    def act(self, obs: dict) -> np.ndarray:
        if not self._queue:
            self._query(obs)
        self._step += 1
        return self._queue.pop(0)

    def counters(self) -> dict:
        return {**self._stats, "inference_s": round(self._stats["inference_s"], 3)}

    # --- one query ---------------------------------------------------------
    def _query(self, obs: dict) -> None:
        backend, contract = self._ensure_backend()
        inputs = contract.build_inputs(obs, self.instruction)
        start = time.perf_counter()
        chunk = backend.predict(inputs)
        self._stats["inference_s"] += time.perf_counter() - start
        self._stats["policy_queries"] += 1
        actions = contract.decode(chunk[: self.n_action_steps])
        self._queue = [a for a in actions for _ in range(self.repeat)]
        if self.debug:
            from agents.lerobot.debug import save_query
            name = f"episode_{self._episode:04d}" + ("" if self._seed is None else f"_seed{self._seed}")
            save_query(self.debug_dir / name, self._step, inputs, obs, actions, self.calibration.get("primary"),
                       contract.diagnostics(chunk))
