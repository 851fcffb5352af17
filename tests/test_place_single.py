"""place_single: the place task without distractors, for language-blind policies."""

import pytest

from envs.errors import ConfigError
from envs.tasks import make_task


def test_place_single_scene_holds_one_cube_and_one_mat(make_env):
    env = make_env(task="place_single", obs_cameras=())
    for seed in range(3):
        _, info = env.reset(seed=seed)
        handle = env.unwrapped.handle
        assert len(handle.active_blocks) == 1 and len(handle.active_mats) == 1
        assert set(env.unwrapped.task.roles.values()) == {*handle.active_blocks, *handle.active_mats}


def test_place_single_equals_place_without_distractors(make_env):
    """Same seed, same draws: a dataset recorded either way holds the same scenes."""
    single = make_env(task="place_single", obs_cameras=())
    place = make_env(task="place", obs_cameras=(), task_config={"num_distractor_blocks": 0, "num_distractor_mats": 0})
    for seed in (0, 7):
        a, _ = single.reset(seed=seed)
        b, _ = place.reset(seed=seed)
        assert a["instruction"] == b["instruction"]
        assert single.unwrapped.handle.object_poses() == place.unwrapped.handle.object_poses()


def test_place_single_refuses_distractors():
    with pytest.raises(ConfigError, match="task=place"):
        make_task("place_single", {"num_distractor_blocks": 1})
    assert make_task("place_single", {"settle_steps": 2}).config.num_distractor_mats == 0
    assert make_task("place", {}).config.num_distractor_blocks == 2
