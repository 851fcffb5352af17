"""The contracts agents implement: the :class:`Agent` base class, and the
:class:`Reasoner` and :class:`PolicyBackend` protocols behind the tool agent and
the LeRobot agent.

The harness calls, per worker process and then per episode::

    agent = instantiate(cfg.agent)          # cheap: no model loading here
    agent.prepare()                         # once per worker: load models, outside any episode timer
    agent.seed(agent_seed)                  # per episode: the agent's own random stream
    agent.reset(instruction, calibration)   # per episode: zeroes the episode's counters
    action = agent.act(obs)                 # per control step
    row.update(agent.counters())            # per episode, after its last step

With ``batch_episodes=K`` the harness runs K episodes in lockstep: it calls
``replicate()`` K-1 times after ``prepare`` and, at every control step, one
``act_batch(agents, observations)`` for the episodes still running (the base
class calls each ``act``; the LeRobot agent sends one batched policy query).

``calibration`` maps camera name -> :class:`envs.cameras.Calibration`: what the
env reports, which under ``calibration=nominal`` is stale on purpose.

**Privilege.** Agents see only observations and that calibration.  The
``agent_seed`` comes from a stream of its own (``eval.episodes.episode_spec``)
and says nothing about the scene.  Only agents on the harness's allow-list
(``eval.episodes.PRIVILEGED_AGENTS``: the oracle and the fault-injection test
agents) are handed the env, through :meth:`PrivilegedAgent.bind`; any other
agent that asks is refused before the first episode.

**Counters.** ``counters()`` returns numbers about the current episode (calls,
tokens, latency ...) that go into its ``episodes.csv`` row; ``reset()`` zeroes
them, reading them changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from envs.cameras import Calibration


@dataclass(frozen=True)
class PointReport:
    """What an agent pointed at in one look: for the harness's stage diagnostics (``eval.diagnostics``)."""

    look: int  # 1 for the episode's first look, then one more per look
    camera: str
    label: str  # as the reasoner named it: "red block", "blue target", "tray"
    pixel: tuple[float, float]  # (u, v) in that camera's image, pixel centres at integers
    lifted: tuple[float, float, float] | None  # the 3-D point the agent lifted it to, None if it could not
    step: int = 0  # the control step whose observation the look pointed in (0: the first)


@dataclass(frozen=True)
class PlannedTargets:
    """End-effector targets an agent planned, for replays (``eval.replay``): in the robot base frame, which is
    the world frame of this env, metres."""

    step: int  # the control step at which they were planned (0: before the first action)
    label: str  # "move": a tool agent's move goal; "chunk": a policy's decoded action chunk, in order
    points: tuple[tuple[float, float, float], ...]


class Agent:
    """Base class of every agent: each hook the harness calls, doing nothing by default."""

    privileged: ClassVar[bool] = False  # True only for agents that read ground truth (see PrivilegedAgent)

    def prepare(self) -> None:
        """Heavy one-time work (load a model, open a connection); called once per worker process."""

    def seed(self, seed: int) -> None:
        """The agent's own random stream for the next episode (independent of the scene's)."""

    def reset(self, instruction: str, calibration: Mapping[str, Calibration]) -> None:
        """Start an episode: the instruction and the calibration the env reports; zero the counters."""
        raise NotImplementedError

    def act(self, obs: dict) -> np.ndarray:
        """The next action for the env's ``action_space``."""
        raise NotImplementedError

    @classmethod
    def act_batch(cls, agents: Sequence[Agent], observations: Sequence[dict]) -> list[np.ndarray | Exception]:
        """One action per lockstep episode (``batch_episodes``); an episode whose agent failed gets its
        exception instead, so one failure ends only that episode.  ``FatalAgentError`` propagates."""
        from agents.errors import FatalAgentError

        out: list[np.ndarray | Exception] = []
        for agent, obs in zip(agents, observations):
            try:
                out.append(np.asarray(agent.act(obs)))
            except FatalAgentError:
                raise
            except Exception as e:  # this episode's error, recorded in its row
                out.append(e)
        return out

    def replicate(self) -> Agent:
        """Another agent of the same settings for a lockstep episode (``batch_episodes``), sharing what
        ``prepare`` loaded; called after ``prepare``.  Agents with nothing to batch refuse."""
        from envs.errors import ConfigError

        raise ConfigError(f"batch_episodes > 1 batches the queries of an in-process policy; "
                          f"{type(self).__qualname__} has none to batch: use workers=N to run episodes in parallel")

    def counters(self) -> dict[str, Any]:
        """Numbers about the current episode for its ``episodes.csv`` row (flat, JSON-able)."""
        return {}

    def pointed(self) -> list[PointReport]:
        """What the agent pointed at this episode, look by look (agents that point: the tool agent)."""
        return []

    def planned(self) -> list[PlannedTargets]:
        """The end-effector targets the agent planned this episode (move goals, decoded action chunks)."""
        return []

    def calls(self) -> list[dict[str, Any]]:
        """The function calls the agent carried out this episode, in order, each with its result (tool agents:
        ``look``, ``call``, ``args``, ``status`` ok / error / unfinished (the episode ended during the call),
        ``result``); for showing an episode (the playground), not for its row."""
        return []

    def close(self) -> None:
        """Release what ``prepare`` took (connections, processes)."""


class PrivilegedAgent(Agent):
    """An agent that reads the simulator's ground truth; the harness binds the env only when the
    class is on its allow-list (``eval.episodes.PRIVILEGED_AGENTS``)."""

    privileged = True

    def bind(self, env) -> PrivilegedAgent:
        raise NotImplementedError


@runtime_checkable
class Reasoner(Protocol):
    """The tool agent's brain (``agents.tool``): points at what the instruction names, then plans
    function calls (``move``, ``setGripperState``) in one or more turns, each answered with its real
    outcome, and judges from a fresh look whether the task is done.  Implementations: ``ClassicReasoner``
    (offline rules), ``LearnedReasoner`` (the classic plan, points from the learned pointer), ``GeminiReasoner``,
    ``VLMReasoner`` (any OpenAI-compatible endpoint)."""

    name: str

    def prepare(self) -> None:
        """Once per worker, before any episode: check what every episode needs (a server that answers, a
        key it accepts, the model); raise ``FatalAgentError`` to stop the run."""

    def reset(self) -> None:
        """Start an episode: forget the conversation, zero the counters."""

    def point(self, image: np.ndarray, instruction: str) -> list: ...  # list[agents.tool.types.Detection]

    def start_plan(self, image: np.ndarray, instruction: str, dets: list) -> list: ...  # list[Call]

    def continue_plan(self, results: list) -> list: ...  # CallResults of the last turn -> next calls

    def check_done(self, image: np.ndarray, instruction: str) -> bool | None:
        """After a plan, from a fresh look: whether the instruction is carried out; None leaves it to the
        agent's geometric check of its own steps (the classic reasoner has no view of its own)."""

    def counters(self) -> dict[str, Any]: ...


@runtime_checkable
class PolicyBackend(Protocol):
    """Where a LeRobot policy runs (``agents.lerobot``): in-process, or behind a policy server."""

    def describe(self) -> dict[str, Any]:
        """Checkpoint facts the contract needs (image keys and size, state size, chunk length, ...)."""

    def reset(self, seed: int | None = None) -> None:
        """Start an episode (clears the policy's action queue; seeds its sampling)."""

    def predict(self, inputs: dict[str, Any]) -> np.ndarray:
        """One observation -> an action chunk (steps, action dims)."""


@runtime_checkable
class BatchPolicyBackend(PolicyBackend, Protocol):
    """An in-process backend that answers several observations in one query (``batch_episodes``)."""

    def predict_batch(self, inputs: Sequence[dict[str, Any]], noise_seeds: Sequence[int | None]) -> list[np.ndarray]:
        """One chunk per observation.  ``noise_seeds[i]`` seeds observation i's sampling noise (flow
        matching, diffusion) on its own, so a chunk does not depend on what else is in the batch."""


def query_noise_seed(episode_seed: int, query: int) -> int:
    """The sampling-noise seed of an episode's ``query``-th policy query (0, 1, ...): from the episode's
    agent seed and the query's number only, so a chunk is the same batched, alone, or through a server."""
    return int(np.random.SeedSequence([int(episode_seed), int(query)]).generate_state(1)[0])
