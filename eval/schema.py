"""Typed schema of the harness config, registered in Hydra's ConfigStore.

``conf/config.yaml`` lists ``run_schema`` first in its defaults, so every value
is type-checked as Hydra composes it; :func:`validate` then checks what types
cannot (choices, ranges) and fails before any episode starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

from envs.cameras import PERTURBATIONS
from envs.errors import ConfigError, check_choice
from envs.scene import VISUAL_PRESETS
from envs.tasks import TASKS

TaskName = Enum("TaskName", {n: n for n in sorted(TASKS)})
CameraName = Enum("CameraName", {n: n for n in PERTURBATIONS})
VisualPreset = Enum("VisualPreset", {n: n for n in VISUAL_PRESETS})
CALIBRATIONS = ("true", "nominal")
AGENT_META_KEYS = ("name", "obs_cameras", "depth_cameras")  # harness keys of the agent node, not constructor arguments


@dataclass
class CameraConf:
    name: CameraName = CameraName.nominal
    magnitude: Optional[float] = None  # in the perturbation's unit; null = its default
    calibration: str = "true"  # what agents are told: "true" (real) or "nominal" (stale)


@dataclass
class TaskConf:
    name: TaskName = TaskName.place
    num_distractor_blocks: int = 2
    num_distractor_mats: int = 1
    instruction_template: Optional[int] = None
    settle_steps: int = 3


@dataclass
class SceneConf:
    visual: VisualPreset = VisualPreset.lean
    menagerie_dir: Optional[str] = None
    control_freq: int = 10


@dataclass
class RunConf:
    agent: Any = field(default_factory=dict)  # {name, obs_cameras, _target_, constructor kwargs}
    camera: CameraConf = field(default_factory=CameraConf)
    task: TaskConf = field(default_factory=TaskConf)
    scene: SceneConf = field(default_factory=SceneConf)
    episodes: int = 20  # per task
    seed: int = 0  # base seed; episode i's seed derives from (seed, i) only
    workers: Optional[int] = None  # processes; null = number of CPU cores
    max_steps: int = 200
    video: bool = False
    episode_timeout_s: Optional[float] = None  # wall-clock limit per episode; null = none
    out_dir: str = "results/runs/${now:%Y-%m-%d_%H-%M-%S}"


def register() -> None:
    ConfigStore.instance().store(name="run_schema", node=RunConf)


def validate(cfg: DictConfig) -> None:
    """Checks types cannot express; raises ConfigError naming the valid choices."""
    cal = str(cfg.camera.calibration).lower()
    check_choice("camera.calibration", cal, CALIBRATIONS)
    cfg.camera.calibration = cal
    for key in ("episodes", "max_steps"):
        if cfg[key] < 1:
            raise ConfigError(f"{key} must be >= 1, got {cfg[key]}")
    if cfg.seed < 0:
        raise ConfigError(f"seed must be >= 0, got {cfg.seed}")
    if cfg.episode_timeout_s is not None and cfg.episode_timeout_s <= 0:
        raise ConfigError(f"episode_timeout_s must be > 0 or null, got {cfg.episode_timeout_s}")
    if cfg.workers is not None and cfg.workers < 1:
        raise ConfigError(f"workers must be >= 1 or null (all cores), got {cfg.workers}")
    agent = cfg.agent
    if not agent or "_target_" not in agent or "name" not in agent:
        raise ConfigError("agent config needs 'name' and '_target_'; choose one with agent=<name> "
                          "(see conf/agent/)")


@dataclass
class RecordConf:
    """``python -m eval.record``: oracle demonstrations written as a LeRobotDataset."""

    agent: Any = field(default_factory=dict)
    camera: CameraConf = field(default_factory=CameraConf)
    task: TaskConf = field(default_factory=TaskConf)
    scene: SceneConf = field(default_factory=SceneConf)
    episodes: int = 200  # attempted episodes; failed ones are not written
    seed: int = 0
    max_steps: int = 200
    cameras: list = field(default_factory=lambda: ["primary"])  # views written as observation.images.<name>
    use_videos: bool = True  # mp4 (LeRobot's default) or PNG frames
    image_size: Optional[list] = None  # [height, width] to store images at; null: the camera's resolution
    viewpoint_randomization: bool = False  # a random camera perturbation per episode (envs.randomization)
    repo_id: Optional[str] = None  # null: local/widowx_<task>
    out_dir: str = "results/datasets/${now:%Y-%m-%d_%H-%M-%S}"
    workers: Optional[int] = 1  # recording is serial; kept for a config shared with eval.run
    video: bool = False
    episode_timeout_s: Optional[float] = None


def register_record() -> None:
    ConfigStore.instance().store(name="record_schema", node=RecordConf)
