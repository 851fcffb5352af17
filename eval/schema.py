"""Typed schema of the harness config, derived from the env's own dataclasses.

Each default is written once, in the env: :class:`envs.tasks.TaskConfig` (and
each task's ``config_defaults``), :class:`envs.cameras.CameraConfig`,
:class:`envs.scene.SceneConfig`, ``envs.DEFAULT_MAX_EPISODE_STEPS``.  The Hydra
nodes below copy their fields and defaults, and the ``task``, ``camera`` and
``scene`` group options are generated from the env's registries (``TASKS``,
``PERTURBATIONS``, ``VISUAL_PRESETS``), so a task added to ``TASKS`` is
``task=<name>`` at once and no YAML repeats a default.

``conf/config.yaml`` lists ``run_schema`` first in its defaults, so every value
is type-checked as Hydra composes it; :func:`run_settings` then builds the env's
typed objects from it once (which checks ranges and choices) and fails before
any episode starts.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field, make_dataclass
from enum import Enum
from functools import partial
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

from envs.cameras import CALIBRATION_MODES, PERTURBATIONS, CameraConfig
from envs.errors import ConfigError, check_choice
from envs.factors import FactorsConfig, make_factors
from envs.scene import VISUAL_PRESETS, SceneConfig
from envs.tasks import TASKS, TaskConfig
from envs.widowx_env import DEFAULT_TASK

TaskName = Enum("TaskName", {n: n for n in sorted(TASKS)})  # type: ignore[misc]
CameraName = Enum("CameraName", {n: n for n in PERTURBATIONS})  # type: ignore[misc]
VisualPreset = Enum("VisualPreset", {n: n for n in VISUAL_PRESETS})  # type: ignore[misc]
# harness keys of the agent node, not constructor arguments (control_mode: the env's action space)
AGENT_META_KEYS = ("name", "obs_cameras", "depth_cameras", "control_mode")
TASK_FIELDS_NOT_IN_CONFIG = ("workspace",)  # nested frozen dataclasses stay Python-only
MAX_EPISODES = 1_000_000  # per run; a bigger number is a typo
MAX_STEPS_LIMIT = 100_000
MAX_WORKERS = 512
MAX_BATCH_EPISODES = 256


def _hydra_type(tp):
    """An annotation OmegaConf accepts: ``X | None`` -> ``Optional[X]``, ``tuple[X, ...]`` -> ``List[X]``."""
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        rest = [a for a in args if a is not type(None)]
        return Optional[_hydra_type(rest[0])] if len(rest) == 1 else Any
    if typing.get_origin(tp) in (tuple, list):
        return List[args[0]]
    return tp


def derived(name: str, source: type, enums: dict[str, type[Enum]], skip: tuple[str, ...] = (),
            first: tuple[tuple[str, Any, Any], ...] = ()) -> type:
    """A Hydra node class with ``source``'s fields and defaults (``enums`` replace the types of named choices),
    after the ``first`` extra fields."""
    hints = typing.get_type_hints(source)
    specs: list[tuple[str, Any, Any]] = list(first)
    for f in dataclasses.fields(source):
        if f.name in skip:
            continue
        typ = enums.get(f.name, _hydra_type(hints[f.name]))
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[operator]
        if f.name in enums:
            default = enums[f.name][default]
        if isinstance(default, tuple):
            default = list(default)
        specs.append((f.name, typ, field(default_factory=partial(list, default)) if isinstance(default, list)
                      else field(default=default)))
    cls = make_dataclass(name, specs)
    cls.__module__ = __name__  # picklable and named like a class of this module
    return cls


CameraConf = derived("CameraConf", CameraConfig, {"name": CameraName})
SceneConf = derived("SceneConf", SceneConfig, {"visual": VisualPreset})
FactorsConf = derived("FactorsConf", FactorsConfig, {})
TaskConf = derived("TaskConf", TaskConfig, {}, skip=TASK_FIELDS_NOT_IN_CONFIG,
                   first=(("name", TaskName, field(default=TaskName[DEFAULT_TASK])),))


def task_node(name: str) -> Any:
    """The ``task=<name>`` option: the task's own defaults (``Task.default_config()``)."""
    defaults = TASKS[name].default_config()
    values = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(TaskConf) if f.name != "name"}
    return TaskConf(name=TaskName[name], **{k: list(v) if isinstance(v, tuple) else v for k, v in values.items()})


@dataclass
class _EnvRunConf:
    """What builds an episode: the agent, the env's three groups, the base seed and the step limit."""

    agent: Any = field(default_factory=dict)  # {name, obs_cameras, depth_cameras, control_mode, _target_, kwargs}
    camera: Any = field(default_factory=CameraConf)
    task: Any = field(default_factory=lambda: task_node(DEFAULT_TASK))
    scene: Any = field(default_factory=SceneConf)
    factors: Any = field(default_factory=FactorsConf)  # perturbation axes beyond the camera (envs.factors.AXES)
    seed: int = 0  # base seed; episode i's scene (and the agent's own stream) derive from (seed, i) only
    max_steps: Optional[int] = None  # control steps per episode; null: the task's (Task.max_episode_steps or 200)


@dataclass
class RunConf(_EnvRunConf):
    """``python -m eval.run``."""

    episodes: int = 20  # per task
    workers: Optional[int] = None  # processes; null = number of CPU cores
    video: bool = False  # one mp4 per episode: primary view beside the third-person view
    rerun: bool = False  # one Rerun replay per episode (episodes/episode_NNNN.rrd); needs rerun-sdk
    episode_timeout_s: Optional[float] = None  # wall-clock limit per episode; null = none
    batch_episodes: int = 1  # episodes run in lockstep per worker, one batched policy query per step (LeRobot agents)
    out_dir: str = "results/runs/${now:%Y-%m-%d_%H-%M-%S}"


@dataclass
class RecordConf(_EnvRunConf):
    """``python -m eval.record``: oracle demonstrations written as a LeRobotDataset."""

    episodes: int = 200  # attempted episodes; failed ones are not written
    cameras: list = field(default_factory=lambda: ["primary"])  # views written as observation.images.<name>
    use_videos: bool = True  # mp4 (LeRobot's default) or PNG frames
    image_size: Optional[list] = None  # [height, width] to store images at; null: the camera's resolution
    viewpoint_randomization: bool = False  # a random camera perturbation per episode (envs.randomization)
    repo_id: Optional[str] = None  # null: local/widowx_<task>
    out_dir: str = "results/datasets/${now:%Y-%m-%d_%H-%M-%S}"


def _register_groups(cs: ConfigStore) -> None:
    for name in TASKS:
        cs.store(group="task", name=name, node=task_node(name))
    for name in PERTURBATIONS:
        cs.store(group="camera", name=name, node=CameraConf(name=CameraName[name]))
    cs.store(group="scene", name="default", node=SceneConf())
    for name in VISUAL_PRESETS:
        cs.store(group="scene", name=name, node=SceneConf(visual=VisualPreset[name]))


def register() -> None:
    cs = ConfigStore.instance()
    cs.store(name="run_schema", node=RunConf)
    _register_groups(cs)


def register_record() -> None:
    cs = ConfigStore.instance()
    cs.store(name="record_schema", node=RecordConf)
    _register_groups(cs)


# --- from the composed config to the env's typed objects, once ----------------
def _value(v):
    return v.value if isinstance(v, Enum) else v


def env_configs(cfg: DictConfig) -> tuple[str, TaskConfig, CameraConfig, SceneConfig, FactorsConfig]:
    """The env's own dataclasses built from the config; their checks (ranges, choices) run here."""
    task = {k: _value(v) for k, v in cfg.task.items()}
    name = task.pop("name")
    task = {k: tuple(v) if k == "palette" else v for k, v in task.items()}
    cam = {k: _value(v) for k, v in cfg.camera.items()}
    cam["calibration"] = str(cam["calibration"]).lower()
    check_choice("camera.calibration", cam["calibration"], CALIBRATION_MODES)
    scene = {k: _value(v) for k, v in cfg.scene.items()}
    factors = make_factors({k: _value(v) for k, v in cfg.get("factors", {}).items()})
    task_config = TASKS[name].default_config(**task)
    TASKS[name](task_config, language=factors.language)  # the task's own checks (template index, distractors)
    return name, task_config, CameraConfig(**cam), SceneConfig(**scene), factors


def validate(cfg: DictConfig) -> None:
    """Checks types cannot express; raises ConfigError naming the valid range or choices."""
    _in_range("episodes", cfg.episodes, 1, MAX_EPISODES)
    if cfg.max_steps is not None:
        _in_range("max_steps", cfg.max_steps, 1, MAX_STEPS_LIMIT)
    _in_range("seed", cfg.seed, 0, 2**63 - 1)
    if "workers" in cfg and cfg.workers is not None:
        _in_range("workers", cfg.workers, 1, MAX_WORKERS)
    if "batch_episodes" in cfg:
        _in_range("batch_episodes", cfg.batch_episodes, 1, MAX_BATCH_EPISODES)
    timeout = cfg.get("episode_timeout_s")
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise ConfigError(f"episode_timeout_s must be a finite number of seconds > 0, or null (none); got {timeout}")
    agent = cfg.agent
    if not agent or "_target_" not in agent or "name" not in agent:
        raise ConfigError("agent config needs 'name' and '_target_'; choose one with agent=<name> (see conf/agent/)")
    env_configs(cfg)


def _in_range(key: str, value, lo: int, hi: int) -> None:
    if not lo <= value <= hi:
        raise ConfigError(f"{key} must be within [{lo}, {hi}], got {value}")
