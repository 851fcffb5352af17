"""Run a config's episodes, serially or in worker processes, resuming from what is on disk."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from omegaconf import DictConfig
from tqdm import tqdm

from envs.errors import BenchError
from eval.episodes import (AgentSettings, EnvSettings, EpisodeSpec, agent_settings, env_settings, episode_spec,
                           is_privileged, plain, run_episode)
from eval.store import EpisodeStore
from eval.video import VideoRecorder

log = logging.getLogger(__name__)

_worker: dict = {}  # per-process env, agent, settings and row identity (built once by _init_worker)


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


def run_settings(cfg: DictConfig) -> RunSettings:
    from eval.store import settings_id

    return RunSettings(env_settings(cfg), agent_settings(cfg), int(cfg.seed), int(cfg.episodes), cfg.workers,
                       cfg.episode_timeout_s, bool(cfg.video), settings_id(plain(cfg)))


def row_identity(settings: RunSettings, env, agent) -> dict:
    """The columns every row of this run shares, from what the env and the agent actually are."""
    built = env.unwrapped.describe()
    return {"agent": settings.agent.name, "task": built["task"], "camera": built["camera"],
            "magnitude": built["magnitude"], "calibration": built["calibration"], "scene": built["scene"],
            "privileged": is_privileged(agent), "base_seed": settings.base_seed, "max_steps": env.spec.max_episode_steps,
            "control_freq": built["control_freq"], "settings_id": settings.settings_id}


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
    row = run_episode(env, agent, spec, settings.timeout_s, recorder)
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
    bar = tqdm(total=settings.episodes, initial=len(rows), desc=f"{settings.agent.name} {env.task} {env.camera.name}",
               unit="ep", dynamic_ncols=True)
    try:
        for row in _execute(settings, out_dir, todo, workers):
            rows[row["episode"]] = row
            store.append(row)
            bar.update(1)
            bar.set_postfix(success=f"{_rate(rows.values()):.0%}")
    finally:
        bar.close()
        store.write_csv(rows)
    return rows


def _rate(rows) -> float:
    ok = [r for r in rows if r["status"] == "ok"]
    return sum(bool(r["success"]) for r in ok) / len(ok) if ok else 0.0


def _execute(settings: RunSettings, out_dir: Path, todo: list[EpisodeSpec], workers: int):
    """Yield episode records as they finish (order of completion)."""
    if workers <= 1:
        _init_worker(settings, str(out_dir))
        try:
            for spec in todo:
                yield _run_one(spec)
        finally:
            _worker["env"].close()
        return
    ctx = mp.get_context("spawn")  # no GL context or MuJoCo state crosses a fork
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(settings, str(out_dir), True))
    futures = {pool.submit(_run_one, s) for s in todo}
    try:
        while futures:
            finished, futures = wait(futures, return_when=FIRST_COMPLETED)
            for f in finished:
                yield f.result()  # a FatalAgentError re-raises here and ends the run
    except BrokenProcessPool as e:
        raise BenchError(f"a worker process died ({e}); finished episodes are saved: run the same command "
                         "again to resume") from e
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
