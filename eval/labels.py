"""Pixel labels of the task's objects in every recorded frame: ``<out_dir>/labels.jsonl`` beside the dataset.

``eval.record`` runs the privileged oracle, so it may read ground truth: for each frame it writes, per recorded
camera and per task role (``info["roles"]``: ``block`` = the cube to move, ``target`` = its mat, ``base``,
``reference`` ... as the task names them), where the role's object is, read from the simulator when that frame's
image was rendered (:func:`eval.diagnostics.scene_truth`) and projected through the camera's *true* calibration of
that episode (the perturbed one under ``viewpoint_randomization``).  The LeRobotDataset itself is unchanged.

One JSON line per kept episode, keyed by ``episode_index`` (the dataset's) with one entry per frame (the
dataset's ``frame_index``)::

    {"episode": i, "seed": ..., "status": "ok", "episode_index": k, "task": "place the red block on ...",
     "roles": {"block": "red", "target": "blue"}, "kinds": {"block": "block", "target": "target"},
     "frames": n, "image_size": {"primary": [96, 128]}, "camera_size": {"primary": [240, 320]},
     "pixels": {"primary": {"block": {"u": [...], "v": [...], "in_image": [...], "visible": [...]}, ...}},
     "world": {"block": [[x, y, z], ...], "target": [...]}}

Pixel convention: ``(u, v)`` = (column, row) in the image *as stored* (``image_size``, else the camera's
resolution), pixel centres at integers, the object's centre (a mat's: the centre of its disc on the table), the
same point ``eval.diagnostics`` scores ``point_err_px`` against.  A stored image squashed from W x H to w x h maps
``u -> (u + 0.5) w / W - 0.5`` (the convention of PIL's resize).  ``in_image``: the centre projects inside the
image; ``visible``: the ray from the camera to that centre meets the object before anything else (the arm, another
cube; a mat under its cube is not "visible" at its centre).  ``world``: the centre in the robot base frame (m).
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from agents.tool.types import scale_pixels
from envs.errors import BenchError
from envs.scene import TRAY_NAME, block_name, mat_name
from eval.diagnostics import TrueObject, role_object_ids, scene_truth
from eval.store import EpisodeStore

LABELS_FILE = "labels.jsonl"
LABEL_IDENTITY = ("episode", "seed", "episode_index")


class EpisodeLabels:
    """Collects one episode's labels frame by frame (:meth:`add` right after each observation is rendered)."""

    def __init__(self, roles: dict[str, str], cameras: list[str], image_size: list[int] | None):
        self.roles = dict(roles)
        self.cameras = list(cameras)
        self.image_size: tuple[int, int] | None = (int(image_size[0]), int(image_size[1])) if image_size else None
        self.ids = role_object_ids(self.roles)
        self.pixels: dict[str, dict[str, dict[str, list]]] = {c: {} for c in self.cameras}
        self.world: dict[str, list] = {}
        self.kinds: dict[str, str] = {}
        self.sizes: dict[str, list[int]] = {}
        self.camera_sizes: dict[str, list[int]] = {}

    def add(self, env) -> None:
        objects, cals = scene_truth(env)
        by_id = {o.id: o for o in objects}
        role_objs = {r: by_id[i] for r, i in self.ids.items() if i in by_id}  # every task's roles name objects
        self.kinds = {r: o.kind for r, o in role_objs.items()}
        model, data = env.unwrapped.handle.model, env.unwrapped.handle.data
        for r, o in role_objs.items():
            self.world.setdefault(r, []).append([round(float(x), 5) for x in o.pos])
        for c in self.cameras:
            cal = cals[c]
            full = (cal.height, cal.width)
            size = self.image_size or full
            self.sizes[c], self.camera_sizes[c] = list(size), list(full)
            for r, o in role_objs.items():
                uv = scale_pixels(cal.project(o.pos[None])[0:1], full, size)[0]
                lab = self.pixels[c].setdefault(r, {"u": [], "v": [], "in_image": [], "visible": []})
                lab["u"].append(round(float(uv[0]), 3))
                lab["v"].append(round(float(uv[1]), 3))
                lab["in_image"].append(bool(-0.5 <= uv[0] <= size[1] - 0.5 and -0.5 <= uv[1] <= size[0] - 0.5))
                lab["visible"].append(_visible(model, data, cal.position, o))

    def record(self, episode: int, seed: int, episode_index: int, task: str, frames: int) -> dict:
        """The JSON line of this episode, its first ``frames`` frames (the ones written to the dataset)."""
        pixels = {c: {r: {k: v[:frames] for k, v in lab.items()} for r, lab in roles.items()}
                  for c, roles in self.pixels.items()}
        return {"episode": episode, "seed": seed, "status": "ok", "episode_index": episode_index, "task": task,
                "roles": self.roles, "kinds": self.kinds, "frames": frames, "image_size": self.sizes,
                "camera_size": self.camera_sizes, "pixels": pixels,
                "world": {r: w[:frames] for r, w in self.world.items()}}


def _geom_id(model, o: TrueObject) -> int:
    name = {"block": block_name(o.id), "target": mat_name(o.color or ""), "tray": TRAY_NAME}[o.kind]
    return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)


def _visible(model, data, eye: np.ndarray, o: TrueObject) -> bool:
    geom = np.array([-1], np.int32)
    dist = mujoco.mj_ray(model, data, np.asarray(eye, float), np.asarray(o.pos, float) - eye, None, True, -1, geom)
    return bool(dist >= 0 and int(geom[0]) == _geom_id(model, o))


def labels_store(out_dir: str | Path) -> EpisodeStore:
    """The append-only, flushed ``labels.jsonl`` of a recording (torn last line dropped on load)."""
    return EpisodeStore(out_dir, log_name=LABELS_FILE, identity=LABEL_IDENTITY)


def read_labels(out_dir: str | Path) -> dict[int, dict]:
    """The labels of a recording by the dataset's ``episode_index`` (the last line of an episode wins)."""
    path = Path(out_dir) / LABELS_FILE
    if not path.exists():
        raise BenchError(f"no {LABELS_FILE} in {out_dir}: record the dataset with this version of eval.record "
                         "(it writes labels beside <out_dir>/dataset)")
    return {r["episode_index"]: r for r in labels_store(out_dir).load().values()}
