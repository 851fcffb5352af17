"""One short oracle episode: save a picture of the scene and print the outcome.

    python -m eval.demo [--task place] [--camera nominal] [--seed 0] [--out results/runs/demo]

``make demo`` runs it: a quick look at the scene and a check that rendering works.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

import envs  # noqa: F401  (registers the env, picks a headless GL backend)
import gymnasium as gym
from agents.oracle import OracleAgent
from envs.tasks import TASKS

log = logging.getLogger("eval.demo")


def run_episode(task: str, camera: str, seed: int, out: Path) -> dict:
    env = gym.make(envs.ENV_ID, task=task, camera=camera, obs_cameras=("primary",))
    agent = OracleAgent(env)
    obs, info = env.reset(seed=seed)
    agent.reset(obs["instruction"], info["calibration"])
    first = _picture(env, obs)
    steps, terminated, truncated = 0, False, False
    while not (terminated or truncated):
        obs, _, terminated, truncated, info = env.step(agent.act(obs))
        steps += 1
    out.mkdir(parents=True, exist_ok=True)
    picture = out / f"{task}_{camera}_seed{seed}.png"
    from PIL import Image

    Image.fromarray(np.concatenate([first, _picture(env, obs)], axis=0)).save(picture)
    env.close()
    return {"instruction": obs["instruction"], "success": info["success"], "steps": steps,
            "eval": info["eval"], "picture": picture}


def _picture(env, obs) -> np.ndarray:
    """Primary view (what agents see) beside the third-person view, same height."""
    primary = obs["images"]["primary"]
    third = env.unwrapped.render_camera_image("third_person")
    return np.concatenate([primary, third[: primary.shape[0], : primary.shape[1]]], axis=1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="place", choices=sorted(TASKS))
    p.add_argument("--camera", default="nominal", choices=sorted(envs.PERTURBATIONS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/runs/demo"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    r = run_episode(args.task, args.camera, args.seed, args.out)
    conds = ", ".join(f"{k}={bool(v)}" for k, v in r["eval"].items() if k not in ("held_steps", "success"))
    log.info("instruction: %s", r["instruction"])
    log.info("outcome: %s after %d steps (%s)", "SUCCESS" if r["success"] else "FAILURE", r["steps"], conds)
    log.info("picture (start above, end below; primary | third_person): %s", r["picture"])
    return 0 if r["success"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
