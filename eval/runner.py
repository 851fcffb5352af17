"""Run a config's episodes, serially or in worker processes, resuming from what is on disk."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Iterable

from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from envs.cameras import resolve_magnitude
from envs.errors import BenchError
from eval.episodes import EpisodeSpec, episode_seed, make_agent, make_env, plain, run_episode
from eval.store import EpisodeStore
from eval.video import VideoRecorder

log = logging.getLogger(__name__)

_worker: dict = {}  # per-process env, agent and config (built once by _init_worker)


def run_identity(cfg: DictConfig) -> dict:
    """The columns every row of this run shares."""
    cam = plain(cfg.camera)
    return {"agent": cfg.agent.name, "task": plain(cfg.task)["name"], "camera": cam["name"],
            "magnitude": resolve_magnitude(cam["name"], cam["magnitude"]), "calibration": cam["calibration"], "scene": plain(cfg.scene)["visual"],
            "base_seed": int(cfg.seed)}


def _init_worker(cfg_yaml: str, out_dir: str, subprocess: bool = False) -> None:
    if subprocess:  # spawned workers log into the run's log file too (tracebacks of failed episodes)
        handler = logging.FileHandler(Path(out_dir) / "run.log")
        handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
        logging.basicConfig(level=logging.WARNING, handlers=[handler, logging.StreamHandler()])
    cfg = OmegaConf.create(cfg_yaml)
    env = make_env(cfg)
    agent = make_agent(cfg, env)
    if callable(getattr(agent, "prepare", None)):
        agent.prepare()  # heavy loading (models) outside any episode's timer
    _worker.update(cfg=cfg, env=env, agent=agent, out_dir=Path(out_dir))


def _run_one(spec: EpisodeSpec) -> dict:
    cfg, env, agent = _worker["cfg"], _worker["env"], _worker["agent"]
    recorder = None
    if cfg.video:
        path = _worker["out_dir"] / "videos" / f"episode_{spec.index:04d}.mp4"
        recorder = VideoRecorder(path, fps=env.unwrapped.control_freq)
    row = run_episode(env, agent, spec, cfg.episode_timeout_s, recorder)
    if recorder and recorder.frames:
        recorder.save()
    return row


def pending_specs(cfg: DictConfig, done: Iterable[int]) -> list[EpisodeSpec]:
    done = set(done)
    return [EpisodeSpec(i, episode_seed(cfg.seed, i)) for i in range(cfg.episodes) if i not in done]


def run_all(cfg: DictConfig, out_dir: Path) -> dict[int, dict]:
    """Run every episode not yet on disk; returns all records by episode index."""
    store = EpisodeStore(out_dir)
    with store.lock():
        return _run_locked(cfg, out_dir, store)


def _run_locked(cfg: DictConfig, out_dir: Path, store: EpisodeStore) -> dict[int, dict]:
    rows = {i: r for i, r in store.load().items() if i < cfg.episodes}  # a smaller re-run reports only its own
    todo = pending_specs(cfg, rows)
    if rows:
        log.info("resuming %s: %d episodes on disk, %d to run", out_dir, len(rows), len(todo))
    workers = min(cfg.workers or os.cpu_count() or 1, max(len(todo), 1))
    if todo and workers > 1:
        make_agent(cfg)  # fail here, once, on a missing key or package, not in every worker
    ident = run_identity(cfg)
    bar = tqdm(total=cfg.episodes, initial=len(rows), desc=f"{ident['agent']} {ident['task']} {ident['camera']}",
               unit="ep", dynamic_ncols=True)
    try:
        for row in _execute(cfg, out_dir, todo, workers):
            row = {**ident, **row}
            rows[row["episode"]] = row
            store.append(row)
            store.write_csv(rows)
            bar.update(1)
            bar.set_postfix(success=f"{_rate(rows.values()):.0%}")
    finally:
        bar.close()
    store.write_csv(rows)
    return rows


def _rate(rows) -> float:
    ok = [r for r in rows if r["status"] == "ok"]
    return sum(bool(r["success"]) for r in ok) / len(ok) if ok else 0.0


def _execute(cfg: DictConfig, out_dir: Path, todo: list[EpisodeSpec], workers: int):
    """Yield episode records as they finish (order of completion)."""
    cfg_yaml = OmegaConf.to_yaml(cfg, resolve=True)
    if workers <= 1:
        _init_worker(cfg_yaml, str(out_dir))
        try:
            for spec in todo:
                yield _run_one(spec)
        finally:
            _worker["env"].close()
        return
    ctx = mp.get_context("spawn")  # no GL context or MuJoCo state crosses a fork
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(cfg_yaml, str(out_dir), True))
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
