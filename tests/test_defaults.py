"""Each default is written once: the Hydra schema's defaults are the env's."""

import dataclasses
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import envs
from envs.cameras import PERTURBATIONS, CameraConfig
from envs.scene import VISUAL_PRESETS, SceneConfig
from envs.tasks import TASKS
from envs.widowx_env import DEFAULT_TASK, WidowXTabletopEnv
from eval import schema
from eval.episodes import env_settings

CONF = Path(__file__).resolve().parents[1] / "conf"


@pytest.fixture(scope="module")
def compose_run():
    schema.register()
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        yield lambda *overrides: compose("config", overrides=list(overrides))


def _values(node) -> dict:
    return OmegaConf.to_container(node, enum_to_str=True)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_defaults_are_the_tasks_own(compose_run, task):
    node = _values(compose_run(f"task={task}").task)
    own = TASKS[task].default_config()
    assert node.pop("name") == task
    assert node == {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(own).items()
                    if k in node}
    assert set(node) == {f.name for f in dataclasses.fields(own)} - set(schema.TASK_FIELDS_NOT_IN_CONFIG)


def test_camera_scene_and_run_defaults_are_the_envs(compose_run):
    cfg = compose_run()
    assert _values(cfg.camera) == dataclasses.asdict(CameraConfig())
    assert _values(cfg.scene) == dataclasses.asdict(SceneConfig())
    assert cfg.max_steps is None and env_settings(cfg).max_steps == envs.DEFAULT_MAX_EPISODE_STEPS
    for task in TASKS:  # null: the task's own horizon, or the env's
        own = TASKS[task].max_episode_steps or envs.DEFAULT_MAX_EPISODE_STEPS
        assert env_settings(compose_run(f"task={task}")).max_steps == own
    assert cfg.task.name.name == DEFAULT_TASK == WidowXTabletopEnv.__init__.__defaults__[0]
    built = env_settings(cfg)
    assert (built.task_config, built.camera, built.scene) == (TASKS[DEFAULT_TASK].default_config(), CameraConfig(),
                                                               SceneConfig())


def test_every_registered_option_is_a_choice(compose_run):
    for name in PERTURBATIONS:
        assert compose_run(f"camera={name}").camera.name.name == name
    for name in VISUAL_PRESETS:
        assert compose_run(f"scene={name}").scene.visual.name == name


def test_no_yaml_repeats_a_schema_default():
    """conf/ holds agent configs and run-level settings only; no group YAML restates a task/camera/scene default."""
    for group in ("task", "camera", "scene"):
        assert not list((CONF / group).glob("*.yaml")), f"conf/{group}/ is generated from the env's registries"
    top = OmegaConf.load(CONF / "config.yaml")
    assert set(top) == {"defaults", "hydra"}
