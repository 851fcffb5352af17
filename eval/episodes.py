"""One episode: seed derivation, env/agent construction from config, rollout -> record."""

from __future__ import annotations

import logging
import signal
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

import envs
from agents.errors import FatalAgentError
from envs.errors import BenchError

log = logging.getLogger(__name__)

STATUS_OK, STATUS_ERROR, STATUS_TIMEOUT = "ok", "error", "timeout"
NON_CONDITION_KEYS = ("success", "conditions_met", "held_steps")


class EpisodeTimeout(BenchError):
    """An episode ran past ``episode_timeout_s`` of wall-clock time."""


def episode_seed(base_seed: int, index: int) -> int:
    """Seed of episode ``index``: depends on (base seed, index) only, so every agent meets the same scenes."""
    return int(np.random.SeedSequence([int(base_seed), int(index)]).generate_state(1)[0])


def plain(node) -> Any:
    """A config node as plain Python (enums as their names)."""
    return OmegaConf.to_container(node, resolve=True, enum_to_str=True)


def make_env(cfg: DictConfig) -> gym.Env:
    task, scene, camera = plain(cfg.task), plain(cfg.scene), plain(cfg.camera)
    return gym.make(
        envs.ENV_ID, task=task.pop("name"), task_config=task,
        camera=camera["name"], camera_magnitude=camera["magnitude"], calibration=camera["calibration"],
        control_freq=scene.pop("control_freq"), scene=scene,
        obs_cameras=tuple(cfg.agent.get("obs_cameras", ["primary"])),
        depth_cameras=tuple(cfg.agent.get("depth_cameras", [])), max_episode_steps=cfg.max_steps,
    )


def make_agent(cfg: DictConfig, env: gym.Env | None = None):
    """Build the agent from its ``_target_``; only agents declaring ``privileged`` get the env.

    Construction must be cheap (load models lazily): the harness builds the
    agent once up front so that a missing key or package fails before any episode.
    """
    from eval.schema import AGENT_META_KEYS

    node = {k: v for k, v in plain(cfg.agent).items() if k not in AGENT_META_KEYS}
    try:
        agent = instantiate(node, _convert_="all")
    except InstantiationException as e:  # surface our own errors (e.g. no API key) unwrapped
        cause = e.__cause__
        if isinstance(cause, BenchError):
            raise cause from None
        raise
    if env is not None and getattr(agent, "privileged", False):
        agent.bind(env)
    return agent


@dataclass
class EpisodeSpec:
    index: int
    seed: int


def run_episode(env: gym.Env, agent, spec: EpisodeSpec, timeout_s: float | None = None,
                recorder=None) -> dict[str, Any]:
    """Roll out one episode; never raises except for fatal agent errors."""
    row: dict[str, Any] = {"episode": spec.index, "seed": spec.seed, "instruction": "", "success": False,
                           "steps": 0, "status": STATUS_OK, "error": ""}
    start = time.perf_counter()
    try:
        with _deadline(timeout_s):
            _rollout(env, agent, spec, row, recorder)
    except FatalAgentError:
        raise
    except EpisodeTimeout as e:
        row.update(status=STATUS_TIMEOUT, error=str(e), success=False)
    except Exception as e:  # one bad episode must not end the run
        log.error("episode %d (seed %d) failed:\n%s", spec.index, spec.seed, traceback.format_exc())
        row.update(status=STATUS_ERROR, error=f"{type(e).__name__}: {e}", success=False)
    row["wall_s"] = round(time.perf_counter() - start, 3)
    counters = getattr(agent, "counters", None)
    try:
        row.update(counters() if callable(counters) else {})
    except Exception:  # counters are logging; they must not turn a finished episode into a crash
        log.exception("episode %d: agent counters failed", spec.index)
    return row


def _rollout(env, agent, spec: EpisodeSpec, row: dict, recorder) -> None:
    if callable(getattr(agent, "seed", None)):
        agent.seed(spec.seed)  # stochastic agents draw from the episode's seed, not from history
    obs, info = env.reset(seed=spec.seed)
    row["instruction"] = obs["instruction"]
    agent.reset(obs["instruction"], info["calibration"])
    if recorder:
        recorder.add(env, obs)
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(agent.act(obs))
        row["steps"] += 1
        if recorder:
            recorder.add(env, obs)
        done = terminated or truncated
    row["success"] = bool(info["success"])
    row.update({k: bool(v) for k, v in info["eval"].items() if k not in NON_CONDITION_KEYS})


@contextmanager
def _deadline(timeout_s: float | None):
    """Raise EpisodeTimeout in the main thread after ``timeout_s`` (POSIX timers)."""
    if not timeout_s or not hasattr(signal, "setitimer"):
        yield
        return

    def _expire(signum, frame):
        raise EpisodeTimeout(f"episode exceeded episode_timeout_s={timeout_s}")

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
