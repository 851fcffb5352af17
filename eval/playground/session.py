"""One playground episode: the config composed as ``eval.run`` composes it, the harness's env and agent, the one
rollout loop, and what the page shows (frames as they come, then the outcome, the calls and the files).

Everything that touches MuJoCo runs on one thread of its own (:class:`Playground`): an EGL context belongs to
the thread that made it, and the web server calls handlers from a pool of threads.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import queue
import re
import shlex
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from omegaconf import DictConfig, OmegaConf

from agents.errors import FatalAgentError
from envs.errors import BenchError, ConfigError
from eval.episodes import (
    STATUS_ERROR,
    STATUS_OK,
    EnvSettings,
    agent_settings,
    env_settings,
    episode_spec,
    outcome,
    plain,
    rollout,
)
from eval.playground.frames import compose, latest_look
from eval.store import jsonable
from eval.video import VideoRecorder

log = logging.getLogger(__name__)

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
THIRD_PERSON = "third_person"
FRAME_INTERVAL_S = 0.1  # at most this often a frame goes to the page (the video keeps every step)
COMPOSED_KEPT = 32
_compose_lock = threading.Lock()  # Hydra's global state: one composition at a time
_composed: dict[tuple[str, ...], DictConfig] = {}  # overrides -> the checked config (read-only)


def agent_names() -> list[str]:
    """The agents of ``conf/agent/`` (``agent=<name>``), the offline ones first."""
    names = sorted(p.stem for p in CONF_DIR.glob("agent/*.yaml"))
    first = [n for n in ("classic", "oracle") if n in names]
    return first + [n for n in names if n not in first]


def agent_note(name: str) -> str:
    """The first comment line of the agent's YAML: what it is and what it needs (a key, a server)."""
    path = CONF_DIR / "agent" / f"{name}.yaml"
    if not path.exists():
        return ""
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


@dataclass(frozen=True)
class Choices:
    """What the page's Run tab picked; :meth:`overrides` turns it into ``eval.run``'s command-line overrides."""

    agent: str = "classic"
    task: str = "place"
    camera: str = "nominal"
    magnitude: float | None = None  # None: the perturbation's default
    calibration: str = "true"
    factors: str = ""  # "light_intensity=0.5 blur_px=1": perturbation axes (envs.factors.AXES) and levels
    seed: int = 0  # the base seed: the episode is episode 0 of `eval.run seed=<seed>`
    max_steps: int | None = None  # None: the task's horizon
    extra: str = ""  # any other overrides, as on the command line (agent.reasoner.model=...)
    instruction: str = ""  # what the agent is told; empty: the task's own instruction

    def overrides(self) -> list[str]:
        out = [f"agent={self.agent}", f"task={self.task}", f"camera={self.camera}",
               f"camera.calibration={self.calibration}", f"seed={int(self.seed)}"]
        if self.magnitude is not None:
            out.append(f"camera.magnitude={float(self.magnitude)}")
        if self.max_steps is not None:
            out.append(f"max_steps={int(self.max_steps)}")
        for item in shlex.split(self.factors.replace(",", " ")):
            key, sep, value = item.partition("=")
            if not sep or not key or not value:
                raise ConfigError(f"perturbation axes are written axis=level (light_intensity=0.5), got {item!r}")
            out.append(f"factors.{key.removeprefix('factors.')}={value}")
        extra = shlex.split(self.extra)
        for item in extra:
            if "_target_" in item.partition("=")[0]:  # the page builds the configured classes, nothing else
                raise ConfigError(f"the playground does not change which class an agent is built from ({item!r}); "
                                  "add a config under conf/agent/ and pick it, or use python -m eval.run")
        return out + extra


def compose_config(overrides: list[str]) -> DictConfig:
    """``eval.run``'s config with these overrides, checked as ``eval.run`` checks it (same messages)."""
    from hydra import compose, initialize_config_dir

    from eval import schema
    from eval.run import check_factor_overrides
    from eval.secrets import check_overrides

    check_overrides(overrides)  # no secret typed into the page either
    check_factor_overrides(overrides)
    key = tuple(overrides)
    with _compose_lock:
        cfg = _composed.get(key)
        if cfg is None:
            schema.register()
            with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
                cfg = compose(config_name="config", overrides=overrides)
            OmegaConf.set_readonly(cfg, True)
            schema.validate(cfg)
            if len(_composed) >= COMPOSED_KEPT:
                _composed.pop(next(iter(_composed)))
            _composed[key] = cfg  # composing costs 0.1-0.3 s: a Run with the same choices reuses it
    return cfg


@dataclass
class Result:
    """An episode as the page reports it."""

    agent: str
    task_instruction: str  # the task's own: what success is scored against
    instruction: str  # what the agent was told
    status: str = STATUS_OK
    error: str = ""
    success: bool = False
    steps: int = 0
    conditions: dict[str, bool] = field(default_factory=dict)
    counters: dict[str, Any] = field(default_factory=dict)
    calls: list[dict] = field(default_factory=list)
    video: Path | None = None
    replay: Path | None = None
    trace: Path | None = None
    first_frame_s: float | None = None  # from the start of the run to the first frame composed
    wall_s: float = 0.0


@dataclass
class Update:
    """One message from the simulation thread: a frame (``t`` = step), a finished :class:`Result`, or an error
    that stopped the episode before it began (a bad setting, an agent that is not configured)."""

    frame: np.ndarray | None = None
    t: int = 0
    result: Result | None = None
    error: str = ""


class Playground:
    """Runs one episode at a time on its own simulation thread; keeps the last env to reuse it."""

    def __init__(self, out_root: Path, replays: bool = True):
        self.out_root = Path(out_root)
        self.replays = replays and importlib.util.find_spec("rerun") is not None
        self._sim = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playground-sim")
        self._env: Any = None
        self._env_settings: EnvSettings | None = None

    def warm_up(self, choices: Choices = Choices()) -> None:
        """Build the default env and render once now, so the first Run does not pay for it."""
        self._sim.submit(self._warm, choices).result()

    def run(self, choices: Choices) -> Iterator[Update]:
        """Start the episode and yield its updates: frames (the newest only, when the page falls behind), then
        the result or the error.  Closing the iterator stops the episode at its next step."""
        updates: queue.Queue[Update | None] = queue.Queue()
        stop = threading.Event()
        future = self._sim.submit(self._episode, choices, updates, stop)
        try:
            while True:
                item = updates.get()
                pending = [item]
                while not updates.empty():  # the page is slower than the simulation: skip to the newest frame
                    pending.append(updates.get_nowait())
                frames = [u for u in pending if u is not None and u.frame is not None]
                if frames:
                    yield frames[-1]
                for u in pending:
                    if u is None:
                        future.result()  # re-raise what the episode thread could not report
                        return
                    if u.frame is None:
                        yield u
        finally:
            stop.set()

    def close(self) -> None:
        self._sim.submit(self._drop_env).result()
        self._sim.shutdown()

    # --- on the simulation thread -----------------------------------------------
    def _warm(self, choices: Choices) -> None:
        """What the first Run would otherwise wait for: composing, the env and its GL contexts, the agent's
        modules, and the first use of Rerun (its import and first log take about a second) and of ffmpeg."""
        import tempfile

        cfg = compose_config(choices.overrides())
        env = self._make_env(env_settings(cfg))
        agent_settings(cfg).make(env)
        obs, info = env.reset(seed=0)
        frame = compose(_primary(env, obs), env.unwrapped.render_camera_image(THIRD_PERSON))
        with tempfile.TemporaryDirectory() as tmp:
            if self.replays:
                from eval.replay import ReplayRecorder

                replay = ReplayRecorder(Path(tmp) / "warm.rrd")
                replay.add(env, 0, obs, info)
                replay.finish(agent_settings(cfg).make(env))
            video = VideoRecorder(Path(tmp) / "warm.mp4", fps=env.unwrapped.control_freq)
            video.frames = [frame, frame]
            video.save()

    def _make_env(self, settings: EnvSettings):
        """The env for ``settings``: the last one when only the step limit changed (a new env compiles its model
        and makes new GL contexts, about half a second), under a time limit of its own for this episode."""
        from gymnasium.wrappers import TimeLimit

        from eval.schema import MAX_STEPS_LIMIT

        base = dataclasses.replace(settings, max_steps=MAX_STEPS_LIMIT)  # the outer limit below truncates first
        if self._env is None or self._env_settings != base:
            self._drop_env()
            self._env, self._env_settings = base.make(), base
        return TimeLimit(self._env, settings.max_steps)

    def _drop_env(self) -> None:
        if self._env is not None:
            self._env.close()
        self._env = self._env_settings = None

    def _episode(self, choices: Choices, updates: queue.Queue, stop: threading.Event) -> None:
        start = time.perf_counter()
        try:
            cfg = compose_config(choices.overrides())
            env = self._make_env(env_settings(cfg))
            agent_cfg = agent_settings(cfg)
            agent = agent_cfg.make(env)
            agent.prepare()  # an agent that is not configured (no key, no server) says so here
        except Exception as e:  # every failure to start is shown in the page, none ends the server
            log.warning("playground: the episode could not start: %s", _message(e))
            updates.put(Update(error=_message(e)))
            updates.put(None)
            return
        try:
            updates.put(Update(result=self._roll(choices, cfg, env, agent, agent_cfg.name, start, updates, stop)))
        except Exception as e:  # writing the files failed (a full disk): said in the page, the server goes on
            log.exception("playground: the episode's files could not be written")
            updates.put(Update(error=_message(e)))
        finally:
            try:
                agent.close()
            except Exception:
                log.exception("playground: closing the agent failed")
            updates.put(None)  # always: the page waits for it

    def _roll(self, choices: Choices, cfg: DictConfig, env, agent, name: str, start: float,
              updates: queue.Queue, stop: threading.Event) -> Result:
        folder = self.out_root / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{_slug(name)}_{plain(cfg.task)['name']}"
        folder.mkdir(parents=True, exist_ok=True)
        video = VideoRecorder(folder / "episode.mp4", fps=env.unwrapped.control_freq)
        replay = None
        if self.replays:
            from eval.replay import ReplayRecorder

            replay = ReplayRecorder(folder / "episode.rrd")
        told = choices.instruction.strip() or None
        result = Result(name, "", told or "")
        last_sent = -np.inf
        try:
            for step in rollout(env, agent, episode_spec(int(cfg.seed), 0), instruction=told):
                if step.t == 0:
                    result.task_instruction = step.obs["instruction"]
                    result.instruction = told or step.obs["instruction"]
                frame = compose(_primary(env, step.obs), env.unwrapped.render_camera_image(THIRD_PERSON),
                                latest_look(agent.pointed()))
                video.frames.append(frame)
                result.steps = step.t
                if step.done:
                    result.success = bool(step.info["success"])
                    result.conditions = {k: v for k, v in outcome(step.info).items() if k != "success"}
                now = time.perf_counter()
                if result.first_frame_s is None:
                    result.first_frame_s = now - start
                if step.done or now - last_sent >= FRAME_INTERVAL_S:  # to the page first, then the replay
                    updates.put(Update(frame=frame, t=step.t))
                    last_sent = now
                if replay is not None:
                    replay.add(env, step.t, step.obs, step.info)
                if stop.is_set():
                    result.status, result.error = STATUS_ERROR, "stopped from the page"
                    break
        except FatalAgentError as e:
            result.status, result.error = STATUS_ERROR, _message(e)
        except Exception as e:  # the episode's failure is its outcome, as in the harness's rows
            log.warning("playground: episode failed:\n%s", traceback.format_exc())
            result.status, result.error = STATUS_ERROR, _message(e)
        result.wall_s = round(time.perf_counter() - start, 3)
        result.calls, result.counters = agent.calls(), agent.counters()
        if replay is not None:
            replay.finish(agent)
            result.replay = replay.path
        if video.frames:
            result.video = video.save()
        result.trace = folder / "episode.json"
        result.trace.write_text(json.dumps(jsonable(dataclasses.asdict(result)), indent=1))
        return result


def _primary(env, obs: dict) -> np.ndarray:
    """The primary view: the agent's own observation when it has one (perturbations applied), else rendered."""
    images = obs.get("images", {})
    return images["primary"] if "primary" in images else env.unwrapped.render_camera_image("primary")


def _message(e: BaseException) -> str:
    """A one-paragraph message: ours as they are, Hydra's and others' with their type."""
    text = str(e).strip() or type(e).__name__
    return text if isinstance(e, BenchError) else f"{type(e).__name__}: {text}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "agent"
