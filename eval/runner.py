"""Run a config's episodes, serially or in worker processes, resuming from what is on disk."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, cast

from omegaconf import DictConfig, OmegaConf

from envs.cameras import resolve_magnitude
from eval.episodes import (
    STATUS_ERROR,
    STATUS_TIMEOUT,
    EpisodeSpec,
    episode_seed,
    make_agent,
    make_env,
    plain,
    run_episode,
)
from eval.pool import TIMEOUT, Lost, WorkerPool, stop_on_signals
from eval.progress import Progress
from eval.store import EpisodeStore
from eval.video import VideoRecorder

log = logging.getLogger(__name__)
KILL_GRACE_S = 5.0  # past episode_timeout_s, the parent kills a worker the in-episode timer did not stop

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
    cfg = cast(DictConfig, OmegaConf.create(cfg_yaml))  # a mapping, as written by _execute
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
    progress = Progress(cfg.episodes, len(rows), f"{ident['agent']} {ident['task']} {ident['camera']}")
    try:
        for row in _execute(cfg, out_dir, todo, workers):
            row = {**ident, **row}
            rows[row["episode"]] = row
            store.append(row)
            store.write_csv(rows)
            progress.update(_rate(rows.values()))
    finally:
        progress.close()
    store.write_csv(rows)
    return rows


def _rate(rows) -> float:
    ok = [r for r in rows if r["status"] == "ok"]
    return sum(bool(r["success"]) for r in ok) / len(ok) if ok else 0.0


def _execute(cfg: DictConfig, out_dir: Path, todo: list[EpisodeSpec], workers: int):
    """Yield episode records as they finish (order of completion).

    With ``episode_timeout_s`` set, episodes run in worker processes even when
    ``workers=1``: only a parent can stop an agent stuck in C code.  Without
    it, one worker means the run stays in this process (fast, debuggable).
    """
    cfg_yaml = OmegaConf.to_yaml(cfg, resolve=True)
    timeout = cfg.episode_timeout_s
    with stop_on_signals(lambda name: f"stopped by {name}: finished episodes are saved in {out_dir}; "
                                      "run the same command again to resume"):
        if workers <= 1 and not timeout:
            _init_worker(cfg_yaml, str(out_dir))
            try:
                for spec in todo:
                    yield _run_one(spec)
            finally:
                _worker["env"].close()
            return
        with WorkerPool(_init_worker, (cfg_yaml, str(out_dir), True), _run_one, workers) as pool:
            yield from pool.imap(todo, timeout + KILL_GRACE_S if timeout else None,
                                 lambda lost: _lost_row(lost, timeout))


def _lost_row(lost: Lost[EpisodeSpec], timeout_s: float | None) -> dict:
    """The record of an episode whose worker was killed at the deadline or died."""
    timed_out = lost.reason == TIMEOUT
    error = f"episode exceeded episode_timeout_s={timeout_s}; {lost.message}" if timed_out else lost.message
    return {"episode": lost.item.index, "seed": lost.item.seed, "instruction": "", "success": False, "steps": 0,
            "status": STATUS_TIMEOUT if timed_out else STATUS_ERROR, "error": error, "wall_s": round(lost.elapsed_s, 3)}
