"""Seeded episodes reproduce a fingerprint recorded from the env before its per-step speed-ups.

``tests/data/step_fingerprint.json`` was written by this module's ``record()`` on the code of
commit 30281a9 (before the caches, the vectorised contact scan and the lighter IK loop), so
the speed-ups provably change no observation state, no ``info`` key or value, no
``info['eval']`` entry and no episode outcome.  Conditions, held steps, success and the step
count must match exactly; float states and poses to 1e-5 (a different LAPACK may move the
last bits; a behaviour change moves them by far more: the IK's own tolerance is 2e-4 m).

Regenerate only for a deliberate behaviour change:
``MUJOCO_GL=egl python tests/test_step_fingerprint.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import envs
from agents.oracle import OracleAgent

FINGERPRINT = Path(__file__).parent / "data" / "step_fingerprint.json"
STATE_EVERY, POSE_EVERY = 5, 10  # steps between recorded float states, object poses
# (name, gym.make kwargs, reset seed): every task in ee_pose with the oracle, physics only; one
# rendered episode with a moved camera and a stale calibration; one joint_pos replay.
EPISODES = [
    ("pick", {"task": "pick", "obs_cameras": ()}, 0),
    ("place", {"task": "place", "obs_cameras": ()}, 1),
    ("place_single", {"task": "place_single", "obs_cameras": ()}, 2),
    ("stack", {"task": "stack", "obs_cameras": ()}, 3),
    ("place_shifted_render", {"task": "place", "camera": "shifted", "calibration": "nominal",
                              "obs_cameras": ("primary", "third_person")}, 11),
]
JOINT_REPLAY = ("stack_joint_pos", {"task": "stack", "obs_cameras": (), "control_mode": "joint_pos"}, 3)


def _r(x) -> list:
    return np.round(np.asarray(x, dtype=np.float64), 6).tolist()


def _calibrations(cals: dict) -> dict:
    return {n: {"K": _r(c.K), "T": _r(c.T_world_cam), "size": [c.width, c.height]} for n, c in cals.items()}


def _plain(ev: dict) -> dict:
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in ev.items()}


def _poses(poses: dict) -> dict:
    return {k: {"pos": _r(v["pos"]), "quat": _r(v["quat"])} for k, v in poses.items()}


class _Recorder:
    """One episode's fingerprint, built step by step."""

    def __init__(self, obs: dict, info: dict):
        self.fp: dict = {"instruction": obs["instruction"], "info_keys": sorted(info),
                         "obs_keys": sorted(obs), "roles": info["roles"], "camera": info["camera"],
                         "calibration": _calibrations(info["calibration"]),
                         "images": {n: [list(im.shape), str(im.dtype)] for n, im in obs.get("images", {}).items()},
                         "eval_keys": list(info["eval"]), "eval": [], "success": [info["success"]],
                         "states": [], "poses": []}
        self._add_eval(info)
        self._add_states(0, obs, info)

    def _add_eval(self, info: dict) -> None:
        ev = _plain(info["eval"])
        assert list(ev) == self.fp["eval_keys"]
        self.fp["eval"].append(list(ev.values()))

    def _add_states(self, t: int, obs: dict, info: dict) -> None:
        if t % STATE_EVERY == 0:
            self.fp["states"].append([t, _r(obs["state"]), _r(obs["joint_pos"])])
        if t % POSE_EVERY == 0:
            self.fp["poses"].append([t, _poses(info["object_poses"])])

    def step(self, t: int, obs: dict, reward: float, terminated: bool, truncated: bool, info: dict) -> None:
        assert sorted(info) == self.fp["info_keys"] and sorted(obs) == self.fp["obs_keys"]
        assert _calibrations(info["calibration"]) == self.fp["calibration"]
        assert reward == float(info["success"]) and terminated == info["success"]
        self._add_eval(info)
        self.fp["success"].append(info["success"])
        self._add_states(t, obs, info)
        self.fp["end"] = {"steps": t, "terminated": terminated, "truncated": truncated,
                          "state": _r(obs["state"]), "joint_pos": _r(obs["joint_pos"]),
                          "poses": _poses(info["object_poses"])}


def run_oracle(kwargs: dict, seed: int) -> tuple[dict, list[np.ndarray]]:
    """The oracle's episode; returns its fingerprint and the arm commands it led to (for a joint replay)."""
    env = gym.make(envs.ENV_ID, **kwargs)
    try:
        agent = OracleAgent(env)
        obs, info = env.reset(seed=seed)
        agent.reset(obs["instruction"], info["calibration"])
        rec, commands, done, t = _Recorder(obs, info), [], False, 0
        while not done:
            action = agent.act(obs)
            obs, reward, terminated, truncated, info = env.step(action)
            u = env.unwrapped
            commands.append(np.r_[u.data.ctrl[u.robot.arm_act], action[6]].astype(np.float32))
            t, done = t + 1, terminated or truncated
            rec.step(t, obs, reward, terminated, truncated, info)
        return rec.fp, commands
    finally:
        env.close()


def run_replay(kwargs: dict, seed: int, commands: list[np.ndarray]) -> dict:
    env = gym.make(envs.ENV_ID, **kwargs)
    try:
        obs, info = env.reset(seed=seed)
        rec = _Recorder(obs, info)
        for t, action in enumerate(commands, start=1):
            obs, reward, terminated, truncated, info = env.step(action)
            rec.step(t, obs, reward, terminated, truncated, info)
            if terminated or truncated:
                break
        return rec.fp
    finally:
        env.close()


def fingerprints() -> dict[str, dict]:
    out, commands = {}, {}
    for name, kwargs, seed in EPISODES:
        out[name], commands[name] = run_oracle(kwargs, seed)
    name, kwargs, seed = JOINT_REPLAY
    out[name] = run_replay(kwargs, seed, commands["stack"])
    return json.loads(json.dumps(out))  # the same plain types as the file


def _numbers(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _assert_close(new, old, where: str) -> None:
    """Equal structure, equal strings, bools and ints; floats (and lists of numbers) to 1e-5."""
    if isinstance(old, dict):
        assert sorted(new) == sorted(old), where
        for k in old:
            _assert_close(new[k], old[k], f"{where}.{k}")
    elif isinstance(old, list) and old and all(_numbers(v) for v in old) or isinstance(old, float):
        np.testing.assert_allclose(new, old, rtol=0, atol=1e-5, err_msg=where)
    elif isinstance(old, list):
        assert isinstance(new, list) and len(new) == len(old), where
        for i, (a, b) in enumerate(zip(new, old, strict=True)):
            _assert_close(a, b, f"{where}[{i}]")
    else:
        assert type(new) is type(old) and new == old, where


@pytest.fixture(scope="module")
def recorded() -> dict:
    return json.loads(FINGERPRINT.read_text())


@pytest.fixture(scope="module")
def now() -> dict:
    return fingerprints()


@pytest.mark.parametrize("name", [e[0] for e in EPISODES] + [JOINT_REPLAY[0]])
def test_episode_matches_the_recorded_fingerprint(recorded, now, name):
    old, new = recorded[name], now[name]
    assert new["eval"] == old["eval"], "info['eval'] sequence changed"  # exact: bools and held-step counts
    assert new["success"] == old["success"] and new["end"]["steps"] == old["end"]["steps"]
    _assert_close(new, old, name)


def test_fingerprint_episodes_succeed(recorded):
    """The fingerprint is worth comparing against: every recorded episode ends in success."""
    assert all(fp["end"]["terminated"] and fp["success"][-1] for fp in recorded.values())


if __name__ == "__main__":
    FINGERPRINT.parent.mkdir(exist_ok=True)
    FINGERPRINT.write_text(json.dumps(fingerprints(), separators=(",", ":")) + "\n")
    print(f"wrote {FINGERPRINT}", file=sys.stderr)
