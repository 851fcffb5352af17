"""X-VLA contract layer on hand-computed cases (pure numpy, core install)."""

import numpy as np
import pytest

from agents.lerobot.contract import STATE_KEY, EnvContract, make_contract, resize_image
from agents.xvla.contract import IMAGE2_KEY, IMAGE_KEY, XVLAContract, orthonormality_error, rot_from_6d, rot_to_6d
from envs.errors import ConfigError
from envs.geometry import euler_to_mat, rot_x, rot_z

TOP_DOWN = euler_to_mat(0.0, np.pi / 2, 0.0)  # the env's gripper pointing straight down


def test_6d_orders_on_a_known_rotation():
    R = rot_z(np.pi / 2)  # columns (0,1,0), (-1,0,0), (0,0,1)
    np.testing.assert_allclose(rot_to_6d(R, "interleaved"), [0, -1, 1, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(rot_to_6d(R, "columns"), [0, 1, 0, -1, 0, 0], atol=1e-12)
    for order in ("interleaved", "columns"):
        np.testing.assert_allclose(rot_from_6d(rot_to_6d(R, order), order), R, atol=1e-12)
    assert orthonormality_error(rot_to_6d(R, "interleaved"), "columns") > 0.5  # the wrong order shows


def test_gram_schmidt_repairs_noisy_columns():
    v = rot_to_6d(rot_x(0.3), "interleaved") * 1.7 + np.array([0.02, -0.01, 0.0, 0.03, 0.01, 0.0])
    R = rot_from_6d(v, "interleaved")
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    np.testing.assert_allclose(R, rot_x(0.3), atol=0.03)
    with pytest.raises(ConfigError):
        rot_from_6d(np.zeros(6))


def test_top_down_gripper_is_identity_in_bridgedata_convention():
    c = XVLAContract()
    pos, R = c.env_to_model_pose(np.array([0.3, 0.0, 0.1]), TOP_DOWN)
    np.testing.assert_allclose(R, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(rot_to_6d(R), [1, 0, 0, 1, 0, 0], atol=1e-12)  # X-VLA's WidowX initial state
    # ee_gripper_link sits 0.014425 m behind the pinch point along the approach axis (up, here)
    np.testing.assert_allclose(pos, [0.3, 0.0, 0.1 + 0.014425], atol=1e-12)


def test_pose_round_trip_with_offsets():
    c = XVLAContract(base_offset_m=(0.01, -0.02, 0.03), model_to_env_rpy=(0.1, 1.2, -0.3))
    rng = np.random.default_rng(0)
    for _ in range(10):
        p, R = rng.uniform(-0.3, 0.3, 3), euler_to_mat(*rng.uniform(-1, 1, 3))
        back = c.model_to_env_pose(*c.env_to_model_pose(p, R))
        np.testing.assert_allclose(back[0], p, atol=1e-12)
        np.testing.assert_allclose(back[1], R, atol=1e-12)
    pos, _ = XVLAContract(base_offset_m=(0.1, 0, 0), ee_offset_m=0.0).model_to_env_pose(np.zeros(3), np.eye(3))
    np.testing.assert_allclose(pos, [0.1, 0, 0])


def test_decode_identity_action_is_a_top_down_env_pose():
    row = np.concatenate([[0.25, -0.05, 0.12], [1, 0, 0, 1, 0, 0], [0.9], np.zeros(10)])
    act = XVLAContract().decode(row[None])[0]
    np.testing.assert_allclose(act[:3], [0.25, -0.05, 0.12 - 0.014425], atol=1e-6)
    np.testing.assert_allclose(euler_to_mat(*act[3:6].astype(float)), TOP_DOWN, atol=1e-6)
    assert act[6] == pytest.approx(0.1)  # sigmoid 0.9 = 90% closed -> opening 0.1
    assert XVLAContract(gripper_closed_threshold=0.7).decode(row[None])[0, 6] == 0.0
    with pytest.raises(ConfigError, match=">= 10"):
        XVLAContract().decode(np.zeros((2, 7)))


def test_state_layouts():
    env_state = np.array([0.3, 0.0, 0.1, 0.0, np.pi / 2, 0.0, 0.0, 0.25], np.float32)  # opening 0.25
    s = XVLAContract(state_dim=20).state(env_state)
    assert s.shape == (20,) and s.dtype == np.float32
    np.testing.assert_allclose(s[:10], [0.3, 0, 0.114425, 1, 0, 0, 1, 0, 0, 0.75], atol=1e-5)
    assert not s[10:].any()
    b = XVLAContract(state_format="bridge8").state(env_state)
    np.testing.assert_allclose(b, [0.3, 0, 0.114425, 0, 0, 0, 0, 0.25], atol=1e-5)


def test_inputs_hold_the_checkpoint_image_size_and_second_view():
    rng = np.random.default_rng(0)
    obs = {"images": {"primary": rng.integers(0, 255, (240, 320, 3), np.uint8),
                      "third_person": rng.integers(0, 255, (240, 320, 3), np.uint8)},
           "state": np.zeros(8, np.float32)}
    inputs = XVLAContract(image_size=(224, 224)).build_inputs(obs, "pick up the red block")
    assert inputs[IMAGE_KEY].shape == (224, 224, 3) and IMAGE2_KEY not in inputs  # masked by the model
    assert inputs["task"] == "pick up the red block" and inputs[STATE_KEY].shape == (10,)
    black = XVLAContract(image_size=(32, 48), image2="black").build_inputs(obs, "x")
    assert black[IMAGE2_KEY].shape == (32, 48, 3) and not black[IMAGE2_KEY].any()
    third = XVLAContract(image_size=(32, 32), image2="third_person").build_inputs(obs, "x")
    np.testing.assert_array_equal(third[IMAGE2_KEY], resize_image(obs["images"]["third_person"], (32, 32), "squash"))


def test_resize_modes_keep_or_squash_the_aspect():
    img = np.zeros((240, 320, 3), np.uint8)
    img[:, :160] = 255  # left half white
    squash = resize_image(img, (100, 100), "squash")
    assert squash[:, :45].mean() > 250 and squash[:, 55:].mean() < 5
    pad = resize_image(img, (100, 100), "pad")  # 4:3 into a square: black bars top and bottom
    assert not pad[:10].any() and not pad[-10:].any() and pad[50, :45].mean() > 250
    crop = resize_image(img, (100, 100), "crop")  # the centre square: half white, half black
    assert crop[:, :45].mean() > 250 and crop[:, 55:].mean() < 5 and crop.shape == (100, 100, 3)


def test_bad_settings_name_the_choices():
    with pytest.raises(ConfigError, match="interleaved"):
        XVLAContract(rot6d_order="rows")
    with pytest.raises(ConfigError, match="squash"):
        XVLAContract(resize="stretch")


def test_env_contract_passes_the_env_layout_through():
    c = EnvContract.from_facts({"images": {"observation.images.primary": [96, 128]}})
    rng = np.random.default_rng(0)
    obs = {"images": {"primary": rng.integers(0, 255, (240, 320, 3), np.uint8)},
           "state": np.arange(8, dtype=np.float32)}
    inputs = c.build_inputs(obs, "place the red block on the blue target")
    assert inputs["observation.images.primary"].shape == (96, 128, 3)
    np.testing.assert_array_equal(inputs["observation.state"], obs["state"])
    chunk = np.array([[0.2, 0.0, 0.1, 0.0, 1.57, 0.0, 1.3]])
    np.testing.assert_allclose(c.decode(chunk), [[0.2, 0.0, 0.1, 0.0, 1.57, 0.0, 1.0]], rtol=1e-6)
    with pytest.raises(ConfigError, match="7 numbers"):
        c.decode(np.zeros((1, 20)))
    with pytest.raises(ConfigError, match="obs_cameras"):
        EnvContract(images={"observation.images.wrist": (8, 8)}).build_inputs(obs, "x")


def test_contracts_come_from_the_registry_without_an_import_cycle():
    """agents.lerobot names contracts by module path; agents.xvla imports agents.lerobot, never the reverse
    at import time, so either package imports first in a fresh interpreter (no module __getattr__ trick)."""
    import subprocess
    import sys

    import agents.xvla

    assert not hasattr(agents.xvla, "__getattr__")
    for first in ("agents.xvla.contract", "agents.lerobot", "eval.record"):
        proc = subprocess.run([sys.executable, "-c", f"import {first}; import agents.lerobot.agent"],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr[-2000:]
    facts = {"images": {IMAGE_KEY: [32, 32]}, "image_size": [32, 32], "state_dim": 20}
    assert make_contract("xvla", facts, rot6d_order="columns") == XVLAContract((32, 32), state_dim=20,
                                                                               rot6d_order="columns")
    assert make_contract("env", facts) == EnvContract(images={IMAGE_KEY: (32, 32)})
    with pytest.raises(ConfigError, match="env.*xvla"):
        make_contract("openvla", facts)


def test_contracts_report_their_own_diagnostics():
    clean = np.concatenate([[0.2, 0, 0.1], rot_to_6d(rot_z(0.4), "interleaved"), [0.5], np.zeros(10)])
    assert XVLAContract().diagnostics(clean[None]) == {"rot6d_orthonormality_error": 0.0}
    assert XVLAContract(rot6d_order="columns").diagnostics(clean[None])["rot6d_orthonormality_error"] > 0.1
    assert EnvContract().diagnostics(np.zeros((2, 7))) == {}
