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

Batching (``batch_episodes=K``): :meth:`LeRobotAgent.replicate` makes lockstep
siblings sharing the loaded policy, and :meth:`LeRobotAgent.act_batch` sends the
episodes that need a chunk at a step as one query.  Each query's sampling noise
is seeded from (the episode's agent seed, the query's number), never from the
batch, so an episode's chunks, and its row, are the same at any K.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from agents.base import Agent, BatchPolicyBackend, PlannedTargets, PolicyBackend, query_noise_seed
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
                 debug_dir: str = "xvla_debug", timeout_s: float = 60.0, retries: int = 3,
                 backend: PolicyBackend | None = None):
        self.checkpoint, self.device, self.tokenizer_dir = checkpoint, device, tokenizer_dir
        self.n_action_steps, self.contract_overrides = n_action_steps, dict(contract or {})
        self.repeat = max(1, round(control_freq / policy_hz))
        self.debug, self.debug_dir = debug, Path(debug_dir)
        self.backend: PolicyBackend | None = backend  # any PolicyBackend built by Hydra (`_target_`), else below
        self.contract: Contract | None = None
        if backend is not None and server:
            raise FatalAgentError("give agent.server or agent.backend, not both")
        if backend is None and server:
            from agents.lerobot.client import PolicyClient
            self.backend = PolicyClient(server, timeout_s=timeout_s, retries=retries)  # fails fast if unreachable
        elif backend is None and importlib.util.find_spec("lerobot") is None:
            raise FatalAgentError(UNAVAILABLE)
        self._queue: list[np.ndarray] = []
        self._stats = {"policy_queries": 0, "inference_s": 0.0}
        self._planned: list[PlannedTargets] = []
        self._episode = 0
        self._step = 0
        self._seed: int | None = None
        self.instruction = ""
        self.calibration: Mapping[str, Calibration] = {}

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
        self._queue, self._step, self._planned = [], 0, []
        self._stats = {"policy_queries": 0, "inference_s": 0.0}
        self._episode += 1
        backend.reset(self._seed)

    def act(self, obs: dict) -> np.ndarray:
        (action,) = self.act_batch([self], [obs])
        if isinstance(action, Exception):
            raise action
        return action

    def replicate(self) -> LeRobotAgent:
        """A lockstep sibling sharing the loaded policy (``batch_episodes``): in-process backends only."""
        backend, _ = self._ensure_backend()
        if not isinstance(backend, BatchPolicyBackend):
            from envs.errors import ConfigError
            raise ConfigError(f"batch_episodes > 1 batches the in-process policy; {type(backend).__qualname__} "
                              "answers one observation at a time (a policy server speaks openpi's protocol, one "
                              "observation per message): use workers=N, or run the checkpoint in-process")
        twin = copy.copy(self)
        twin._queue, twin._episode, twin._step, twin._seed, twin._planned = [], 0, 0, None, []
        twin._stats = {"policy_queries": 0, "inference_s": 0.0}
        return twin

    @classmethod
    def act_batch(cls, agents: Sequence[Agent], observations: Sequence[dict]) -> list[np.ndarray | Exception]:
        """The next action of each episode; the episodes whose queue is empty share one policy query."""
        group = [a for a in agents if isinstance(a, LeRobotAgent)]
        if len(group) != len(agents):
            return super().act_batch(agents, observations)
        failed: dict[int, Exception] = {}
        need = [i for i, a in enumerate(group) if not a._queue]
        if need:
            failed = _query([group[i] for i in need], [observations[i] for i in need])
            failed = {need[k]: e for k, e in failed.items()}
        out: list[np.ndarray | Exception] = []
        for i, agent in enumerate(group):
            if i in failed:
                out.append(failed[i])
                continue
            agent._step += 1
            out.append(agent._queue.pop(0))
        return out

    def planned(self) -> list[PlannedTargets]:
        """Each query's decoded chunk (``ee_pose`` positions), from the step it was asked at."""
        return list(self._planned)

    def counters(self) -> dict:
        return {**self._stats, "inference_s": round(self._stats["inference_s"], 3)}

    # --- one query ---------------------------------------------------------
    def _noise_seed(self) -> int | None:
        """This query's sampling-noise seed: from the episode's agent seed and the query's number only."""
        if self._seed is None:
            return None
        return query_noise_seed(self._seed, int(self._stats["policy_queries"]))

    def _take(self, inputs: dict, obs: dict, chunk: np.ndarray, seconds: float) -> None:
        """Queue the decoded chunk and count the query (``seconds``: this episode's share of its time)."""
        assert self.contract is not None and self.n_action_steps is not None
        self._stats["inference_s"] += seconds
        self._stats["policy_queries"] += 1
        actions = self.contract.decode(chunk[: self.n_action_steps])
        self._queue = [a for a in actions for _ in range(self.repeat)]
        self._planned.append(PlannedTargets(self._step, "chunk", tuple(
            (float(a[0]), float(a[1]), float(a[2])) for a in np.asarray(actions))))
        if self.debug:
            from agents.lerobot.debug import save_query
            name = f"episode_{self._episode:04d}" + ("" if self._seed is None else f"_seed{self._seed}")
            save_query(self.debug_dir / name, self._step, inputs, obs, actions, self.calibration.get("primary"),
                       self.contract.diagnostics(chunk))


def _query(agents: list[LeRobotAgent], observations: Sequence[dict]) -> dict[int, Exception]:
    """One policy query for these episodes (one batched call where the backend batches); returns the
    errors by position.  If a batched call fails, each episode is asked alone, so an error lands on the
    episode that caused it, as in an unbatched run."""
    backend, contract = agents[0]._ensure_backend()
    failed: dict[int, Exception] = {}
    inputs: dict[int, dict] = {}
    for i, (agent, obs) in enumerate(zip(agents, observations)):
        try:
            inputs[i] = contract.build_inputs(obs, agent.instruction)
        except FatalAgentError:
            raise
        except Exception as e:
            failed[i] = e
    ready = list(inputs)
    if isinstance(backend, BatchPolicyBackend) and len(ready) > 1:
        start = time.perf_counter()
        try:
            chunks = backend.predict_batch([inputs[i] for i in ready], [agents[i]._noise_seed() for i in ready])
        except FatalAgentError:
            raise
        except Exception:
            log.warning("a batched query of %d episodes failed; asking each alone", len(ready), exc_info=True)
        else:
            share = (time.perf_counter() - start) / len(ready)
            for i, chunk in zip(ready, chunks):
                agents[i]._take(inputs[i], observations[i], chunk, share)
            return failed
    for i in ready:
        start = time.perf_counter()
        try:
            if isinstance(backend, BatchPolicyBackend):
                (chunk,) = backend.predict_batch([inputs[i]], [agents[i]._noise_seed()])
            else:
                chunk = backend.predict(inputs[i])
        except FatalAgentError:
            raise
        except Exception as e:
            failed[i] = e
            continue
        agents[i]._take(inputs[i], observations[i], chunk, time.perf_counter() - start)
    return failed
