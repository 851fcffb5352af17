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
    run_episode,
)
from eval.pool import TIMEOUT, Lost, WorkerPool, stop_on_signals
from eval.progress import Progress
from eval.store import EpisodeStore
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


def run_settings(cfg: DictConfig) -> RunSettings:
    import importlib.util

    from eval.store import settings_id

    if cfg.get("rerun") and importlib.util.find_spec("rerun") is None:
        raise ConfigError("rerun=true needs rerun-sdk: pip install -e '.[viz]' (make setup installs it)")

    return RunSettings(env_settings(cfg), agent_settings(cfg), int(cfg.seed), int(cfg.episodes), cfg.workers,
                       cfg.episode_timeout_s, bool(cfg.video), settings_id(plain(cfg)), bool(cfg.get("rerun", False)))


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
    env = settings.env.make()
    agent = settings.agent.make(env)
    agent.prepare()  # heavy loading (models) outside any episode's timer
    _worker.update(settings=settings, env=env, agent=agent, out_dir=Path(out_dir),
                   ident=row_identity(settings, env, agent))


def _run_one(spec: EpisodeSpec) -> dict:
    settings, env, agent = _worker["settings"], _worker["env"], _worker["agent"]
    recorder = None
    if settings.video:
        path = _worker["out_dir"] / "videos" / f"episode_{spec.index:04d}.mp4"
        recorder = VideoRecorder(path, fps=env.unwrapped.control_freq)
    replay = None
    if settings.rerun:
        from eval.replay import ReplayRecorder
        replay = ReplayRecorder(_worker["out_dir"] / "episodes" / f"episode_{spec.index:04d}.rrd")
    row = run_episode(env, agent, spec, settings.timeout_s, recorder, replay)
    if recorder and recorder.frames:
        recorder.save()
    return {**_worker["ident"], **row}


def pending_specs(settings: RunSettings, done: Iterable[int]) -> list[EpisodeSpec]:
    done = set(done)
    return [episode_spec(settings.base_seed, i) for i in range(settings.episodes) if i not in done]


def run_locked(settings: RunSettings, out_dir: Path, store: EpisodeStore) -> dict[int, dict]:
    """Run every episode not yet on disk (the caller holds ``store.lock()``); returns all records by index.

    Each record is appended to the durable log as it finishes; ``episodes.csv`` is
    written once at the end, and on the way out of an interrupted run.
    """
    rows = {i: r for i, r in store.load().items() if i < settings.episodes}  # a smaller re-run reports only its own
    todo = pending_specs(settings, rows)
    if rows:
        log.info("resuming %s: %d episodes on disk, %d to run", out_dir, len(rows), len(todo))
    workers = min(settings.workers or os.cpu_count() or 1, max(len(todo), 1))
    if todo and workers > 1:
        settings.agent.make()  # fail here, once, on a missing key or package, not in every worker
    env = settings.env
    progress = Progress(settings.episodes, len(rows), f"{settings.agent.name} {env.task} {env.camera.name}")
    try:
        for row in _execute(settings, out_dir, todo, workers):
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


def _execute(settings: RunSettings, out_dir: Path, todo: list[EpisodeSpec], workers: int):
    """Yield episode records as they finish (order of completion).

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
                for spec in todo:
                    yield _run_one(spec)
            finally:
                _worker["env"].close()
            return
        ident = planned_identity(settings)
        with WorkerPool(_init_worker, (settings, str(out_dir), True), _run_one, workers) as pool:
            yield from pool.imap(todo, timeout + KILL_GRACE_S if timeout else None,
                                 lambda lost: {**ident, **_lost_row(lost, timeout)})


def _lost_row(lost: Lost[EpisodeSpec], timeout_s: float | None) -> dict:
    """The record of an episode whose worker was killed at the deadline or died."""
    timed_out = lost.reason == TIMEOUT
    error = f"episode exceeded episode_timeout_s={timeout_s}; {lost.message}" if timed_out else lost.message
    return {"episode": lost.item.index, "seed": lost.item.seed, "instruction": "", "success": False, "steps": 0,
            "status": STATUS_TIMEOUT if timed_out else STATUS_ERROR, "error": error, "wall_s": round(lost.elapsed_s, 3)}
