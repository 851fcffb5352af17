"""One episode: seeds, env and agent built from the typed run settings, and the one rollout loop.

:func:`rollout` is the only episode loop of the project: the harness
(:func:`run_episode`), ``eval.record``, ``eval.demo`` and every later consumer
iterate over the steps it yields.
"""

from __future__ import annotations

import logging
import signal
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import gymnasium as gym
import numpy as np
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

import envs
from agents.base import Agent
from agents.errors import FatalAgentError
from envs.cameras import CameraConfig
from envs.errors import BenchError, ConfigError, check_choice
from envs.factors import FactorsConfig
from envs.scene import SceneConfig
from envs.tasks import TaskConfig
from eval.diagnostics import point_diagnostics, scene_truth

log = logging.getLogger(__name__)

STATUS_OK, STATUS_ERROR, STATUS_TIMEOUT = "ok", "error", "timeout"
NON_CONDITION_KEYS = ("success", "conditions_met", "held_steps")
# The only agents the harness hands the env to (they read ground truth).  Exact classes, not subclasses:
# an agent cannot make itself privileged by declaring it or by inheriting from the oracle.
PRIVILEGED_AGENTS = frozenset({"agents.oracle.OracleAgent", "agents.testing.FaultyOracle"})


class EpisodeTimeout(BaseException):
    """An episode ran past ``episode_timeout_s`` of wall-clock time.

    Raised asynchronously (a timer signal) wherever the episode happens to be, so, like
    ``KeyboardInterrupt``, it is no ``Exception``: an agent's own ``except Exception``
    (a retry loop, a per-episode error in a batch) must not swallow it."""


# --- seeds ---------------------------------------------------------------------
@dataclass(frozen=True)
class EpisodeSpec:
    """Episode ``index`` of a run: the scene's seed (the env's reset) and the agent's own seed.

    Both derive from ``SeedSequence([base_seed, index])``: the scene from its
    state (as before this split, so earlier published runs meet the same scenes),
    the agent from its first spawned child.  A hash separates them, so the agent's
    seed tells it nothing about the scene.
    """

    index: int
    seed: int  # the scene's: env.reset(seed=...), the `seed` column
    agent_seed: int


def episode_spec(base_seed: int, index: int) -> EpisodeSpec:
    root = np.random.SeedSequence([int(base_seed), int(index)])
    return EpisodeSpec(index, int(root.generate_state(1)[0]), int(root.spawn(1)[0].generate_state(1)[0]))


def episode_seed(base_seed: int, index: int) -> int:
    """The scene seed of episode ``index``: depends on (base seed, index) only, so every agent meets the same scenes."""
    return episode_spec(base_seed, index).seed


# --- typed settings, built once from the composed config ------------------------
def plain(node) -> Any:
    """A config node as plain Python (enums as their names)."""
    return OmegaConf.to_container(node, resolve=True, enum_to_str=True)


@dataclass(frozen=True)
class EnvSettings:
    """Everything ``gym.make`` needs, as the env's own typed objects."""

    task: str
    task_config: TaskConfig
    camera: CameraConfig
    scene: SceneConfig
    max_steps: int
    factors: FactorsConfig = FactorsConfig()
    obs_cameras: tuple[str, ...] = ("primary",)
    depth_cameras: tuple[str, ...] = ()
    control_mode: str = "ee_pose"  # the action space the agent speaks (envs.widowx_env.CONTROL_MODES)

    def make(self) -> gym.Env:
        return gym.make(envs.ENV_ID, task=self.task, task_config=self.task_config, camera=self.camera.name,
                        camera_magnitude=self.camera.magnitude, calibration=self.camera.calibration,
                        scene=self.scene, factors=self.factors, obs_cameras=self.obs_cameras,
                        depth_cameras=self.depth_cameras, control_mode=self.control_mode,
                        max_episode_steps=self.max_steps)


@dataclass(frozen=True)
class AgentSettings:
    name: str
    node: dict = field(default_factory=dict)  # _target_ and constructor arguments, plain data

    def make(self, env: gym.Env | None = None) -> Agent:
        """Build the agent; only an allow-listed privileged agent gets the env (see :data:`PRIVILEGED_AGENTS`).

        Construction must be cheap (load models in ``prepare``): the harness builds
        the agent once up front so that a missing key or package fails before any episode.
        """
        try:
            agent = instantiate(self.node, _convert_="all")
        except InstantiationException as e:  # surface our own errors (e.g. no API key) unwrapped
            if isinstance(e.__cause__, BenchError):
                raise e.__cause__ from e
            raise
        check_agent(agent, self.name)
        if env is not None and is_privileged(agent):
            agent.bind(env)
        return agent


def _class_path(agent: Any) -> str:
    return f"{type(agent).__module__}.{type(agent).__qualname__}"


def is_privileged(agent: Agent) -> bool:
    return _class_path(agent) in PRIVILEGED_AGENTS


def check_agent(agent: Any, name: str) -> None:
    if not isinstance(agent, Agent):
        raise ConfigError(f"agent {name!r} ({type(agent).__qualname__}) does not subclass agents.base.Agent; "
                          "derive it from Agent so the harness can call every hook")
    if agent.privileged and not is_privileged(agent):  # PrivilegedAgent sets the flag
        raise ConfigError(f"agent {name!r} ({_class_path(agent)}) asks for ground truth but is not on the "
                          f"harness's allow-list ({', '.join(sorted(PRIVILEGED_AGENTS))}); agents see "
                          "observations and calibration only")


def env_settings(cfg: DictConfig) -> EnvSettings:
    from envs.tasks import TASKS
    from eval.schema import env_configs

    task, task_config, camera, scene, factors = env_configs(cfg)
    max_steps = cfg.max_steps or TASKS[task].max_episode_steps or envs.DEFAULT_MAX_EPISODE_STEPS
    from envs.widowx_env import CONTROL_MODES

    control_mode = check_choice("agent.control_mode", str(cfg.agent.get("control_mode", "ee_pose")), CONTROL_MODES)
    return EnvSettings(task, task_config, camera, scene, int(max_steps), factors,
                       tuple(cfg.agent.get("obs_cameras", ["primary"])), tuple(cfg.agent.get("depth_cameras", [])),
                       control_mode)


def agent_settings(cfg: DictConfig) -> AgentSettings:
    from eval.schema import AGENT_META_KEYS

    node = {k: v for k, v in plain(cfg.agent).items() if k not in AGENT_META_KEYS}
    return AgentSettings(str(cfg.agent.name), node)


def make_env(cfg: DictConfig) -> gym.Env:
    return env_settings(cfg).make()


def make_agent(cfg: DictConfig, env: gym.Env | None = None) -> Agent:
    return agent_settings(cfg).make(env)


# --- the rollout ------------------------------------------------------------------
@dataclass
class Step:
    """One yield of :func:`rollout`: ``t`` = 0 after the reset (``action`` None), then one per env step with
    the action that led to ``obs`` (taken from the previous step's observation).  In :func:`lockstep`, an
    episode whose env or agent raised yields one last step with ``error`` set (and ``done``)."""

    t: int
    obs: dict
    info: dict
    action: np.ndarray | None = None
    done: bool = False
    error: Exception | None = None


def lockstep(envs_: Sequence[gym.Env], agents: Sequence[Agent], specs: Sequence[EpisodeSpec],
             dropped: set[int] | None = None,
             instructions: Sequence[str | None] | None = None) -> Iterator[list[tuple[int, Step]]]:
    """The episode loop, for one episode or K in lockstep (``batch_episodes``).

    Each episode is seeded from its own streams, reset, then stepped until done; per
    control step the agents of the running episodes act together through
    ``act_batch`` (one batched policy query where the agent has one).  Yields the
    ``(slot, Step)`` of every running episode; finished ones drop out, and so does any
    slot the consumer adds to ``dropped``.  An episode whose env or agent raises ends
    with a step carrying the error; ``FatalAgentError`` ends everything.

    ``instructions[i]``: text episode i's agent is given instead of the task's own (the
    playground's typed prompt); the observations still carry the task's instruction and
    success is still the task's own goal.
    """
    dropped = set() if dropped is None else dropped
    live: dict[int, Step] = {}
    first: list[tuple[int, Step]] = []
    for i, (env, agent, spec) in enumerate(zip(envs_, agents, specs)):
        try:
            agent.seed(spec.agent_seed)
            obs, info = env.reset(seed=spec.seed)
            told = instructions[i] if instructions is not None else None
            agent.reset(obs["instruction"] if told is None else told, info["calibration"])
            live[i] = Step(0, obs, info)
            first.append((i, live[i]))
        except FatalAgentError:
            raise
        except Exception as e:
            first.append((i, Step(0, {}, {}, done=True, error=e)))
    yield first
    while True:
        slots = [i for i in live if i not in dropped]
        if not slots:
            return
        actions = type(agents[slots[0]]).act_batch([agents[i] for i in slots], [live[i].obs for i in slots])
        out: list[tuple[int, Step]] = []
        for i, action in zip(slots, actions):
            t = live[i].t + 1
            if isinstance(action, Exception):
                step = Step(t, live[i].obs, live[i].info, None, True, action)
            else:
                try:
                    obs, _, terminated, truncated, info = envs_[i].step(action)
                    step = Step(t, obs, info, action, bool(terminated or truncated))
                except FatalAgentError:
                    raise
                except Exception as e:
                    step = Step(t, live[i].obs, live[i].info, action, True, e)
            out.append((i, step))
            if step.done:
                del live[i]
            else:
                live[i] = step
        yield out


def rollout(env: gym.Env, agent: Agent, spec: EpisodeSpec, instruction: str | None = None) -> Iterator[Step]:
    """One episode of :func:`lockstep`: seed the agent from its own stream, reset the env from the scene's,
    act until done; an error of the env or the agent is raised here.  ``instruction``: as in :func:`lockstep`."""
    for ((_, step),) in lockstep([env], [agent], [spec], instructions=[instruction]):
        if step.error is not None:
            raise step.error
        yield step


def outcome(info: dict) -> dict[str, bool]:
    """``success`` and the task's named sub-conditions from a step's info (no counters like held_steps)."""
    return {"success": bool(info["success"]),
            **{k: bool(v) for k, v in info["eval"].items() if k not in NON_CONDITION_KEYS}}


def run_episode(env: gym.Env, agent: Agent, spec: EpisodeSpec, timeout_s: float | None = None,
                recorder=None, replay=None) -> dict[str, Any]:
    """Roll out one episode into a record; never raises except for fatal agent errors.  ``recorder`` (video)
    and ``replay`` (:class:`eval.replay.ReplayRecorder`) see every step."""
    return run_episodes([env], [agent], [spec], timeout_s, [recorder], [replay])[0]


def run_episodes(envs_: Sequence[gym.Env], agents: Sequence[Agent], specs: Sequence[EpisodeSpec],
                 timeout_s: float | None = None, recorders: Sequence | None = None,
                 replays: Sequence | None = None) -> list[dict[str, Any]]:
    """Roll out K episodes in lockstep (K = 1 for the usual run) into one record each; never raises except
    for fatal agent errors.  The records are those K separate runs would give, but for ``wall_s`` (the
    time from the group's start to the episode's end) and the agents' timings.  ``timeout_s`` is per
    episode: the group as a whole gets K times it."""
    n = len(specs)
    recorders = list(recorders or [None] * n)
    replays = list(replays or [None] * n)
    rows: list[dict[str, Any]] = [{"episode": s.index, "seed": s.seed, "instruction": "", "success": False,
                                   "steps": 0, "status": STATUS_OK, "error": ""} for s in specs]
    truth: list[Any] = [None] * n
    roles: list[dict] = [{} for _ in range(n)]
    running, dropped = set(range(n)), set[int]()
    start = time.perf_counter()
    wall = [0.0] * n

    def fail(i: int, e: BaseException) -> None:
        log.error("episode %d (seed %d) failed:\n%s", specs[i].index, specs[i].seed,
                  "".join(traceback.format_exception(type(e), e, e.__traceback__)))
        rows[i].update(status=STATUS_ERROR, error=f"{type(e).__name__}: {e}", success=False)

    try:
        with _deadline(timeout_s * n if timeout_s else None, n):
            for steps in lockstep(envs_, agents, specs, dropped):
                for i, step in steps:
                    if step.error is not None:
                        fail(i, step.error)
                    else:
                        rows[i]["steps"] = step.t
                        try:
                            if step.t == 0:
                                rows[i]["instruction"] = step.obs["instruction"]
                                truth[i], roles[i] = scene_truth(envs_[i]), dict(step.info.get("roles", {}))
                            if recorders[i] is not None:
                                recorders[i].add(envs_[i], step.obs)
                            if replays[i] is not None:
                                replays[i].add(envs_[i], step.t, step.obs, step.info)
                            if step.done:
                                rows[i].update(outcome(step.info))
                        except FatalAgentError:
                            raise
                        except Exception as e:  # a consumer failed: this episode ends here
                            fail(i, e)
                            dropped.add(i)
                    if step.done or i in dropped:
                        running.discard(i)
                        wall[i] = time.perf_counter() - start
    except FatalAgentError:
        raise
    except EpisodeTimeout as e:
        for i in running:
            rows[i].update(status=STATUS_TIMEOUT, error=str(e), success=False)
            wall[i] = time.perf_counter() - start
    for i in range(n):
        rows[i]["wall_s"] = round(wall[i], 3)
        try:
            rows[i].update(agents[i].counters())
            if truth[i] is not None:
                rows[i].update(point_diagnostics(agents[i].pointed(), truth[i], roles[i]))
            if replays[i] is not None:
                replays[i].finish(agents[i])
        except Exception:  # counters are logging; they must not turn a finished episode into a crash
            log.exception("episode %d: agent counters, diagnostics or replay failed", specs[i].index)
    return rows


@contextmanager
def _deadline(timeout_s: float | None, n_episodes: int = 1):
    """Raise EpisodeTimeout in the main thread after ``timeout_s`` (POSIX timers; the parent process enforces
    a hard limit on top, for code that never returns to Python)."""
    if not timeout_s or not hasattr(signal, "setitimer"):
        yield
        return

    def _expire(signum, frame):
        raise EpisodeTimeout(f"episode exceeded episode_timeout_s={timeout_s / n_episodes}"
                             + (f" (x{n_episodes} for {n_episodes} episodes in lockstep)" if n_episodes > 1 else ""))

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
