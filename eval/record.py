"""Record oracle demonstrations as a LeRobotDataset: ``python -m eval.record task=place episodes=200``.

Runs in the LeRobot environment (``.venv-xvla``, Python 3.12; ``make test-xvla``
creates it).  Writes with LeRobot's own writer into ``<out_dir>/dataset``:

- ``observation.images.<camera>`` per camera in ``cameras`` (video or PNG),
- ``observation.state``: the env's 8-D BridgeData layout (x, y, z, roll, pitch,
  yaw, pad, gripper opening),
- ``action``: the env's ``ee_pose`` action (x, y, z, roll, pitch, yaw, gripper
  opening in [0, 1]; the ``pinch`` frame in the robot base frame, metres and
  radians, R = Rz(yaw) Ry(pitch) Rx(roll)); the names are in the dataset's
  ``meta/info.json``,
- the instruction (its paraphrase) as the episode's task, ``fps`` = control rate.

Beside the dataset, ``<out_dir>/labels.jsonl`` holds, per kept episode and frame, the pixel of each task role's
object (the cube, its mat) in each recorded camera, from ground truth through the episode's true calibration
(:mod:`eval.labels`); the dataset itself does not change.

Only successful episodes are written.  ``record_log.jsonl`` lists every
attempted episode (seed, kept or not, frames), written through the harness's
``EpisodeStore`` (folder lock, flushed lines, torn-line recovery); a re-run with
the same ``out_dir`` resumes after the last logged episode.  Episodes run
through the harness's one rollout loop (``eval.episodes.rollout``), so episode
i meets the scene ``eval.run`` gives episode i.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from agents.lerobot.contract import resize_image
from envs.errors import BenchError
from envs.randomization import ViewpointRange
from eval import schema
from eval.episodes import EpisodeSpec, episode_spec, make_agent, make_env, plain, rollout
from eval.files import write_atomic
from eval.labels import EpisodeLabels, labels_store
from eval.store import EpisodeStore

log = logging.getLogger("eval.record")
schema.register_record()

RECORD_LOG = "record_log.jsonl"
STATE_NAMES = ["x", "y", "z", "roll", "pitch", "yaw", "pad", "gripper"]
ACTION_NAMES = ["x", "y", "z", "roll", "pitch", "yaw", "gripper"]


def features(env, cameras, use_videos: bool, image_size=None) -> dict:
    u = env.unwrapped
    shape = {c: tuple(image_size) if image_size else (u.specs[c].height, u.specs[c].width) for c in cameras}
    feats = {f"observation.images.{c}": {"dtype": "video" if use_videos else "image", "shape": (*shape[c], 3),
                                         "names": ["height", "width", "channels"]} for c in cameras}
    feats["observation.state"] = {"dtype": "float32", "shape": (8,), "names": STATE_NAMES}
    feats["action"] = {"dtype": "float32", "shape": (7,), "names": ACTION_NAMES}
    return feats


def open_dataset(cfg: DictConfig, env, root: Path):
    try:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset
    except ImportError as e:
        raise BenchError("eval.record needs LeRobot (Python >= 3.12): run `make test-xvla` once to create "
                         ".venv-xvla, then .venv-xvla/bin/python -m eval.record ...") from e
    repo_id = cfg.repo_id or f"local/widowx_{plain(cfg.task)['name']}"
    if (root / "meta" / "info.json").exists():
        return LeRobotDataset.resume(repo_id, root=root)
    return LeRobotDataset.create(repo_id, fps=env.unwrapped.control_freq, root=root, robot_type="wx250s",
                                 features=features(env, list(cfg.cameras), cfg.use_videos, cfg.image_size),
                                 use_videos=cfg.use_videos)


def rollout_frames(env, agent, spec: EpisodeSpec, cameras, image_size=None
                   ) -> tuple[list[dict], bool, str, EpisodeLabels]:
    """One oracle episode; the frames pair each observation with the action taken from it, and the labels
    (:mod:`eval.labels`) are read from the simulator as each observation is rendered.

    ``image_size`` (height, width): images are stored resized (a plain resize, the
    same function ``agent=lerobot`` applies to live observations)."""
    frames: list[dict] = []
    prev = None
    labels: EpisodeLabels | None = None
    for step in rollout(env, agent, spec):
        if labels is None:
            labels = EpisodeLabels(step.info.get("roles", {}), cameras, image_size)
        labels.add(env)
        if prev is not None:
            obs = prev.obs
            frame = {f"observation.images.{c}": obs["images"][c] if not image_size
                     else resize_image(obs["images"][c], tuple(image_size), "squash") for c in cameras}
            frame.update({"observation.state": obs["state"].astype(np.float32),
                          "action": np.asarray(step.action, np.float32), "task": obs["instruction"]})
            frames.append(frame)
        prev = step
    assert prev is not None and labels is not None
    return frames, bool(prev.info["success"]), prev.obs["instruction"], labels


def record(cfg: DictConfig, out_dir: Path) -> dict:
    cameras = list(cfg.cameras)
    OmegaConf.update(cfg, "agent.obs_cameras", sorted(set(cameras)), force_add=True)
    env = make_env(cfg)
    agent = make_agent(cfg, env)
    dataset = open_dataset(cfg, env, out_dir / "dataset")
    store = EpisodeStore(out_dir, log_name=RECORD_LOG)
    label_store = labels_store(out_dir)
    done = store.load()
    start = max(done, default=-1) + 1  # the dataset holds the kept episodes in order: resume after the last
    bar = tqdm(total=cfg.episodes, initial=start, desc=f"record {plain(cfg.task)['name']}", unit="ep")
    for i in range(start, cfg.episodes):
        spec = episode_spec(cfg.seed, i)
        if cfg.viewpoint_randomization:
            view = ViewpointRange().sample(np.random.default_rng(spec.seed))  # from the scene's stream
            env.unwrapped.set_camera_perturbation(view)  # type: ignore[attr-defined]
        frames, success, instruction, labels = rollout_frames(env, agent, spec, cameras, cfg.image_size)
        if success:
            episode_index = dataset.meta.total_episodes
            for frame in frames:
                dataset.add_frame(frame)
            dataset.save_episode()
            label_store.append(labels.record(i, spec.seed, episode_index, instruction, len(frames)))
        entry = {"episode": i, "seed": spec.seed, "status": "ok", "kept": success, "frames": len(frames),
                 "task": instruction}
        store.append(entry)
        done[i] = entry
        bar.update(1)
        bar.set_postfix(kept=sum(e["kept"] for e in done.values()))
    bar.close()
    dataset.finalize()
    env.close()
    return {"attempted": len(done), "kept": sum(e["kept"] for e in done.values()),
            "frames": sum(e["frames"] for e in done.values() if e["kept"])}


@hydra.main(config_path="../conf", config_name="record", version_base=None)
def main(cfg: DictConfig) -> int:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        schema.validate(cfg)
        with EpisodeStore(out_dir, log_name=RECORD_LOG).lock():
            write_atomic(out_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
            summary = record(cfg, out_dir)
    except BenchError as e:
        log.error("%s", e)
        sys.exit(2)
    log.info("kept %d of %d episodes (%d frames) in %s", summary["kept"], summary["attempted"], summary["frames"],
             out_dir / "dataset")
    return 0


if __name__ == "__main__":
    from eval.run import preflight

    try:
        preflight(sys.argv[1:])
    except BenchError as e:
        log.error("%s", e)
        sys.exit(2)
    main()
