"""A small openpi-protocol server with a deterministic test policy (no model): for tests and for trying
``agent=openpi`` without a GPU.

    python -m agents.openpi.testing --port 8000 [--contract libero|env|droid]

It is :class:`agents.openpi.server.PolicyServer` (openpi's protocol, safe defaults) around a test policy.
The test policy answers every observation with a chunk of ``CHUNK`` rows in the contract's action
convention (:func:`demo_policy`); an observation without the contract's keys is answered with an error
frame, and the server goes on serving.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Callable

import numpy as np

from agents.openpi.server import PolicyServer, warn_if_exposed
from agents.openpi.wire import API_KEY_ENV

log = logging.getLogger("agents.openpi.testing")
CHUNK = 10


def demo_policy(contract: str = "libero") -> Callable[[dict], np.ndarray]:
    """A deterministic policy in the contract's convention: lower the gripper, open (libero, env), or turn the
    base joint, open (droid)."""
    def libero(obs: dict) -> np.ndarray:
        for key in ("observation/image", "observation/state", "prompt"):
            if key not in obs:
                raise KeyError(f"observation has no {key!r} (keys: {sorted(obs)})")
        return np.tile(np.array([0.0, 0.0, -0.2, 0.0, 0.0, 0.0, -1.0], np.float32), (CHUNK, 1))

    def env(obs: dict) -> np.ndarray:
        state = np.asarray(obs["observation/state"], np.float32)
        rows = [np.r_[state[:2], state[2] - 0.01 * (k + 1), state[3:6], 1.0] for k in range(CHUNK)]
        return np.asarray(rows, np.float32)

    def droid(obs: dict) -> np.ndarray:  # the base joint turning at 0.2 rad/s, gripper open (0)
        for key in ("observation/exterior_image_1_left", "observation/joint_position", "prompt"):
            if key not in obs:
                raise KeyError(f"observation has no {key!r} (keys: {sorted(obs)})")
        return np.tile(np.array([0.2, 0, 0, 0, 0, 0, 0, 0.0], np.float32), (CHUNK, 1))

    return {"libero": libero, "env": env, "droid": droid}[contract]


class DemoBackend:
    """:func:`demo_policy` as a :class:`agents.base.PolicyBackend` for :class:`PolicyServer`."""

    def __init__(self, policy: Callable[[dict], np.ndarray], metadata: dict):
        self.policy, self.metadata = policy, metadata

    def describe(self) -> dict:
        return dict(self.metadata)

    def reset(self, seed: int | None = None) -> None:
        pass

    def predict(self, inputs: dict) -> np.ndarray:
        return self.policy(inputs)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--contract", default="libero", choices=("libero", "env", "droid"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    key = os.environ.get(API_KEY_ENV)
    warn_if_exposed(args.host, key, log)
    backend = DemoBackend(demo_policy(args.contract), {"policy": "test", "contract": args.contract, "chunk": CHUNK})
    server = PolicyServer(backend, args.host, args.port, key)
    log.info("openpi test policy on ws://%s:%d (contract %s)", args.host, server.port, args.contract)
    server.serve_forever()


if __name__ == "__main__":
    main()
