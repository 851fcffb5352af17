"""Run a config's episodes, serially or in worker processes, resuming from what is on disk."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from omegaconf import DictConfig

from envs.errors import ConfigError
from eval.episodes import (
    STATUS_ERROR,
    STATUS_TIMEOUT,
    AgentSettings,
    EnvSettings,
    EpisodeSpec,
    agent_settings,
    env_settings,
    episode_spec,
    is_privileged,
    plain,
    run_episodes,
)
from eval.pool import TIMEOUT, Lost, WorkerPool, stop_on_signals
from eval.progress import Progress
from eval.store import EpisodeStore, write_trace
from eval.video import VideoRecorder

log = logging.getLogger(__name__)

_worker: dict = {}  # per-process env, agent, settings and row identity (built once by _init_worker)
KILL_GRACE_S = 5.0  # past episode_timeout_s, the parent kills a worker the in-episode timer did not stop


@dataclass(frozen=True)
class RunSettings:
    """The run, typed once in the parent from the composed config and handed to workers as it is."""

    env: EnvSettings
    agent: AgentSettings
    base_seed: int
    episodes: int
    workers: int | None
    timeout_s: float | None
    video: bool
    settings_id: str = ""
    rerun: bool = False
    batch_episodes: int = 1  # episodes in lockstep per worker, one batched policy query per step


def run_settings(cfg: DictConfig) -> RunSettings:
    import importlib.util

    from eval.store import settings_id

    if cfg.get("rerun") and importlib.util.find_spec("rerun") is None:
        raise ConfigError("rerun=true needs rerun-sdk: pip install -e '.[viz]' (make setup installs it)")

    return RunSettings(env_settings(cfg), agent_settings(cfg), int(cfg.seed), int(cfg.episodes), cfg.workers,
                       cfg.episode_timeout_s, bool(cfg.video), settings_id(plain(cfg)), bool(cfg.get("rerun", False)),
                       min(int(cfg.get("batch_episodes", 1)), int(cfg.episodes)))  # no idle lockstep slots


def row_identity(settings: RunSettings, env, agent) -> dict:
    """The columns every row of this run shares, from what the env and the agent actually are."""
    built = env.unwrapped.describe()
    return _identity(settings, built, is_privileged(agent), env.spec.max_episode_steps)


def planned_identity(settings: RunSettings) -> dict:
    """The same columns from the settings, for an episode whose worker was lost before it could report them
    (the agent is built here only to ask the allow-list; construction is cheap by contract)."""
    e, camera = settings.env, settings.env.camera.resolved()
    built = {"task": e.task, "camera": camera.name, "magnitude": camera.magnitude, "calibration": camera.calibration,
             "scene": e.scene.visual, "control_freq": e.scene.control_freq, "factors": e.factors.label()}
    return _identity(settings, built, is_privileged(settings.agent.make()), e.max_steps)


def _identity(settings: RunSettings, built: dict, privileged: bool, max_steps: int) -> dict:
    return {"agent": settings.agent.name, "task": built["task"], "camera": built["camera"],
            "magnitude": built["magnitude"], "calibration": built["calibration"], "scene": built["scene"],
            "factors": built["factors"], "privileged": privileged, "base_seed": settings.base_seed,
            "max_steps": max_steps, "control_freq": built["control_freq"], "settings_id": settings.settings_id}


def _init_worker(settings: RunSettings, out_dir: str, subprocess: bool = False) -> None:
    if subprocess:  # spawned workers log into the run's log file too (tracebacks of failed episodes)
        handler = logging.FileHandler(Path(out_dir) / "run.log")
        handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
        logging.basicConfig(level=logging.WARNING, handlers=[handler, logging.StreamHandler()])
        # what agents say of themselves (a server's metadata, the model and pointing convention, a look with no
        # plan), as they do in the main process
        logging.getLogger("agents").setLevel(logging.INFO)
    env = settings.env.make()
    agent = settings.agent.make(env)
    agent.prepare()  # heavy loading (models) outside any episode's timer
    envs_, agents = [env], [agent]
    for _ in range(settings.batch_episodes - 1):  # lockstep siblings share what prepare() loaded
        agents.append(agent.replicate())
        envs_.append(settings.env.make())
    _worker.update(settings=settings, envs=envs_, agents=agents, out_dir=Path(out_dir),
                   ident=row_identity(settings, env, agent))


def _close_worker() -> None:
    for env in _worker.get("envs", []):
        env.close()


def _run_group(specs: tuple[EpisodeSpec, ...]) -> list[dict]:
    """Run a group of episodes in lockstep (one episode unless ``batch_episodes`` > 1)."""
    settings, out = _worker["settings"], _worker["out_dir"]
    envs_, agents = _worker["envs"][:len(specs)], _worker["agents"][:len(specs)]
    recorders: list[VideoRecorder | None] = [None] * len(specs)
    replays: list = [None] * len(specs)
    for k, spec in enumerate(specs):
        if settings.video:
            recorders[k] = VideoRecorder(out / "videos" / f"episode_{spec.index:04d}.mp4",
                                         fps=envs_[k].unwrapped.control_freq)
        if settings.rerun:
            from eval.replay import ReplayRecorder
            replays[k] = ReplayRecorder(out / "episodes" / f"episode_{spec.index:04d}.rrd")
    rows = run_episodes(envs_, agents, specs, settings.timeout_s, recorders, replays)
    for recorder in recorders:
        if recorder and recorder.frames:
            recorder.save()
    for agent, row in zip(agents, rows):  # a tool agent's calls, for reading an episode (not for its row)
        try:
            if calls := agent.calls():
                write_trace(out, row, calls)
        except Exception:  # a trace is logging; it must not turn a finished episode into a crash
            log.exception("episode %d: writing its call trace failed", row["episode"])
    return [{**_worker["ident"], **row} for row in rows]


def pending_specs(settings: RunSettings, done: Iterable[int]) -> list[EpisodeSpec]:
    done = set(done)
    return [episode_spec(settings.base_seed, i) for i in range(settings.episodes) if i not in done]


def groups(specs: list[EpisodeSpec], size: int) -> list[tuple[EpisodeSpec, ...]]:
    """The episodes to run, ``size`` at a time in lockstep (the last group may be smaller)."""
    return [tuple(specs[i:i + size]) for i in range(0, len(specs), size)]


def run_locked(settings: RunSettings, out_dir: Path, store: EpisodeStore) -> dict[int, dict]:
    """Run every episode not yet on disk (the caller holds ``store.lock()``); returns all records by index.

    Each record is appended to the durable log as it finishes; ``episodes.csv`` is
    written once at the end, and on the way out of an interrupted run.
    """
    rows = {i: r for i, r in store.load().items() if i < settings.episodes}  # a smaller re-run reports only its own
    todo = pending_specs(settings, rows)
    if rows:
        log.info("resuming %s: %d episodes on disk, %d to run", out_dir, len(rows), len(todo))
    todo_groups = groups(todo, settings.batch_episodes)
    workers = min(settings.workers or os.cpu_count() or 1, max(len(todo_groups), 1))
    if todo and workers > 1:
        settings.agent.make()  # fail here, once, on a missing key or package, not in every worker
    env = settings.env
    progress = Progress(settings.episodes, len(rows), f"{settings.agent.name} {env.task} {env.camera.name}")
    try:
        for group_rows in _execute(settings, out_dir, todo_groups, workers):
            for row in group_rows:
                rows[row["episode"]] = row
                store.append(row)
            progress.update(_rate(rows.values()))
    finally:
        progress.close()
        store.write_csv(rows)
    return rows


def _rate(rows) -> float:
    ok = [r for r in rows if r["status"] == "ok"]
    return sum(bool(r["success"]) for r in ok) / len(ok) if ok else 0.0


def _execute(settings: RunSettings, out_dir: Path, todo: list[tuple[EpisodeSpec, ...]], workers: int):
    """Yield the records of each group of episodes as it finishes (order of completion).

    With ``episode_timeout_s`` set, episodes run in worker processes even when
    ``workers=1``: only a parent can stop an agent stuck in C code.  Without
    it, one worker means the run stays in this process (fast, debuggable).
    """
    timeout = settings.timeout_s
    with stop_on_signals(lambda name: f"stopped by {name}: finished episodes are saved in {out_dir}; "
                                      "run the same command again to resume"):
        if workers <= 1 and not timeout:
            _init_worker(settings, str(out_dir))
            try:
                for group in todo:
                    yield _run_group(group)
            finally:
                _close_worker()
            return
        ident = planned_identity(settings)
        deadline = timeout * settings.batch_episodes + KILL_GRACE_S if timeout else None
        with WorkerPool(_init_worker, (settings, str(out_dir), True), _run_group, workers) as pool:
            yield from pool.imap(todo, deadline, lambda lost: [{**ident, **row} for row in _lost_rows(lost, timeout)])


def _lost_rows(lost: Lost[tuple[EpisodeSpec, ...]], timeout_s: float | None) -> list[dict]:
    """The records of a group of episodes whose worker was killed at the deadline or died."""
    timed_out = lost.reason == TIMEOUT
    error = f"episode exceeded episode_timeout_s={timeout_s}; {lost.message}" if timed_out else lost.message
    return [{"episode": spec.index, "seed": spec.seed, "instruction": "", "success": False, "steps": 0,
             "status": STATUS_TIMEOUT if timed_out else STATUS_ERROR, "error": error,
             "wall_s": round(lost.elapsed_s, 3)} for spec in lost.item]
