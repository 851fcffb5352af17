"""The tiny X-VLA checkpoint round-trips through LeRobot's real save/load path.

Runs in the LeRobot environment only: ``make test-xvla`` (Python 3.12, offline).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from agents.lerobot.backend import load_policy, predict_chunk  # noqa: E402
from agents.xvla import tiny  # noqa: E402

STATE_DIM, IMAGE_SIZE = 8, (64, 64)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny.build_tiny_checkpoint(tmp_path_factory.mktemp("xvla") / "ckpt", IMAGE_SIZE, STATE_DIM, seed=0)


@pytest.fixture(scope="module")
def loaded(checkpoint):
    return load_policy(checkpoint, device="cpu", tokenizer_dir=str(checkpoint / "tokenizer"))


def _observation(seed: int = 0, image2: bool = True) -> dict:
    rng = np.random.default_rng(seed)
    obs = {tiny.IMAGE_KEY: rng.integers(0, 256, (*IMAGE_SIZE, 3), dtype=np.uint8),
           tiny.STATE_KEY: rng.standard_normal(STATE_DIM).astype(np.float32),
           "task": "Place the blue block on the green target."}
    if image2:
        obs[tiny.IMAGE2_KEY] = rng.integers(0, 256, (*IMAGE_SIZE, 3), dtype=np.uint8)
    return obs


def _predict(loaded, obs, seed: int) -> np.ndarray:
    torch.manual_seed(seed)
    return predict_chunk(*loaded, obs)


def test_checkpoint_has_a_hub_checkpoint_layout(checkpoint):
    for name in ("config.json", "model.safetensors", "policy_preprocessor.json", "policy_postprocessor.json",
                 "tokenizer/tokenizer.json", "tokenizer/tokenizer_config.json"):
        assert (checkpoint / name).is_file(), name
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["type"] == "xvla" and config["action_mode"] == "ee6d"
    steps = json.loads((checkpoint / "policy_preprocessor.json").read_text())["steps"]
    by_name = {step["registry_name"]: step["config"] for step in steps}
    assert by_name["xvla_add_domain_id"] == {"domain_id": 0}
    assert by_name["tokenizer_processor"]["max_length"] == config["tokenizer_max_length"]
    assert {"xvla_image_to_float", "xvla_imagenet_normalize", "device_processor"} <= set(by_name)


def test_loaded_weights_equal_saved_weights(checkpoint, loaded):
    policy = loaded[0]
    assert type(policy).__name__ == "XVLAPolicy"
    loaded_sd = policy.state_dict()
    saved = load_file(str(checkpoint / "model.safetensors"))
    assert set(saved) <= set(loaded_sd)
    for key, tensor in saved.items():
        assert torch.equal(loaded_sd[key], tensor), key
    # the full state dict (tied embeddings included) equals a fresh build with the same seed
    rebuilt = tiny.build_tiny_policy(policy.config, seed=0).state_dict()
    assert rebuilt.keys() == loaded_sd.keys()
    assert all(torch.equal(rebuilt[k], loaded_sd[k]) for k in rebuilt)


def test_predict_chunk_shape_range_and_determinism(loaded):
    policy, obs = loaded[0], _observation()
    chunk = _predict(loaded, obs, seed=123)
    assert chunk.shape == (policy.config.chunk_size, 20)
    assert chunk.dtype == np.float32 and np.isfinite(chunk).all()
    assert ((chunk[:, [9, 19]] >= 0) & (chunk[:, [9, 19]] <= 1)).all()  # grippers: sigmoid
    np.testing.assert_array_equal(chunk, _predict(loaded, obs, seed=123))
    assert not np.array_equal(chunk, _predict(loaded, obs, seed=124))  # the noise does matter


def test_missing_second_view_is_masked(loaded):
    obs = _observation(image2=False)
    chunk = _predict(loaded, obs, seed=0)
    assert chunk.shape == (loaded[0].config.chunk_size, 20) and np.isfinite(chunk).all()
    # the absent view is zero-padded and masked by XVLAPolicy._prepare_images; a real one changes the output
    with_view = _predict(loaded, {**obs, tiny.IMAGE2_KEY: _observation(1)[tiny.IMAGE2_KEY]}, seed=0)
    assert not np.array_equal(chunk, with_view)


def test_moved_checkpoint_loads_with_tokenizer_dir(loaded, tmp_path):
    built = tiny.build_tiny_checkpoint(tmp_path / "built", IMAGE_SIZE, STATE_DIM, seed=0)
    moved = Path(shutil.move(str(built), str(tmp_path / "moved")))  # the tokenizer path it saved is gone
    obs, expected = _observation(), _predict(loaded, _observation(), seed=5)
    np.testing.assert_array_equal(_predict(load_policy(moved, tokenizer_dir=str(moved / "tokenizer")), obs, 5),
                                  expected)
    np.testing.assert_array_equal(_predict(load_policy(moved), obs, 5), expected)  # <ckpt>/tokenizer found
