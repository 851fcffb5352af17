"""A deterministic stand-in policy with the X-VLA WidowX interface (for tests and demos).

A :class:`agents.base.PolicyBackend` (describe / reset / predict), like the in-process
backend and the policy client.  It reads the ee6d state it is given (interleaved 6-D rotation) and returns a
chunk that moves the end effector in a straight line to a fixed goal with the
gripper pointing down, gripper open: a known answer that exercises every
convention of the contract, the server and the agent.  It batches too
(``predict_batch``, a :class:`agents.base.BatchPolicyBackend`), with an optional
seeded jitter of the goal (``noise_m``) standing in for a sampling policy's noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agents.lerobot.contract import STATE_KEY, check_inputs
from agents.xvla.contract import IMAGE_KEY


class ReachPolicy:
    def __init__(self, goal_m=(0.25, 0.05, 0.12), chunk_size: int = 8, n_action_steps: int = 4,
                 image_size=(64, 64), state_dim: int = 20, step_m: float = 0.02, noise_m: float = 0.0):
        self.goal = np.asarray(goal_m, float)
        self.chunk_size, self.n_action_steps, self.step_m = chunk_size, n_action_steps, step_m
        self.image_size, self.state_dim, self.noise_m = tuple(image_size), state_dim, noise_m
        self.calls = 0
        self.batch_sizes: list[int] = []  # observations per call of predict_batch

    def describe(self) -> dict:
        return {"policy_type": "reach_test_policy", "image_keys": [IMAGE_KEY], "image_size": list(self.image_size),
                "images": {IMAGE_KEY: list(self.image_size)},
                "state_dim": self.state_dim, "chunk_size": self.chunk_size, "n_action_steps": self.n_action_steps,
                "action_dim": 20}

    def reset(self, seed: int | None = None) -> None:
        self.calls = 0

    def predict(self, inputs: dict) -> np.ndarray:
        return self._chunk(inputs, None)

    def predict_batch(self, inputs: Sequence[dict], noise_seeds: Sequence[int | None]) -> list[np.ndarray]:
        self.batch_sizes.append(len(inputs))
        return [self._chunk(one, seed) for one, seed in zip(inputs, noise_seeds)]

    def _chunk(self, inputs: dict, noise_seed: int | None) -> np.ndarray:
        check_inputs(self.describe(), inputs)
        state = np.asarray(inputs[STATE_KEY], float)
        self.calls += 1
        goal = self.goal
        if self.noise_m and noise_seed is not None:
            goal = goal + np.random.default_rng(noise_seed).normal(0.0, self.noise_m, 3)
        pos, rows = state[:3], []
        for _ in range(self.chunk_size):
            delta = goal - pos
            pos = pos + delta * min(1.0, self.step_m / max(float(np.linalg.norm(delta)), 1e-9))
            rows.append(np.concatenate([pos, [1, 0, 0, 1, 0, 0], [0.0], np.zeros(10)]))
        return np.asarray(rows, np.float32)
