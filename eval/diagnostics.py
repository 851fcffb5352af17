"""Stage-level diagnostics of agents that point (the tool agent, whatever its reasoner): was the pointing
right, and did the lift through the reported calibration land on the object?

The harness, which may read ground truth, snapshots the scene at the reset (:func:`scene_truth`: every
object's id, kind, colour, pose and footprint, and each camera's *true* calibration) and, after the
episode, scores the points of the agent's first look (:func:`point_diagnostics`), taken before anything
moved.  Each point is matched to the nearest object (by true projection) whose colour and kind its label
names ("red block": the red cubes; "blue target": the blue mat; "tray").  Columns of ``episodes.csv``:

- ``points``: points in the first look; ``points_unmatched``: those whose label names no object in the scene;
- ``point_err_px`` / ``point_err_px_max``: mean / largest distance from a matched point to its object's true
  projection (the object's centre; a cube's visible centroid lies a few pixels from it);
- ``lift_in_footprint``: the share of matched points whose lifted 3-D point fell within the object's
  footprint (a cube's square, a mat's disc, the tray's square);
- ``pointed_roles``: the share of the task's role objects (``info["roles"]``: the cube to move, the mat, the
  referent of a referring expression) that some matched point went to.

A failure with ``pointed_roles`` < 1 or a large ``point_err_px`` is perception's; with good points but
``lift_in_footprint`` < 1, the calibration's (lifting); with both good, execution's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.base import PointReport
from envs.cameras import Calibration
from envs.scene import MAT_RADIUS_M, TRAY_HALF_SIZE_M, block_color


@dataclass(frozen=True)
class TrueObject:
    id: str  # a cube id ("red", "red_2"), "mat:<colour>", or "tray"
    kind: str  # "block" | "target" | "tray"
    color: str | None
    pos: np.ndarray  # centre (3,)
    yaw: float
    half: float  # a cube's or the tray's half side; a mat's radius


def scene_truth(env) -> tuple[list[TrueObject], dict[str, Calibration]]:
    """The objects and each observed camera's true calibration, read from the simulator (harness only)."""
    u = env.unwrapped
    h = u.handle
    objects = []
    for b in h.active_blocks:
        R = h.block_rot(b)
        objects.append(TrueObject(b, "block", block_color(b), h.block_pos(b), float(np.arctan2(R[1, 0], R[0, 0])),
                                  h.block_half(b)))
    objects += [TrueObject(f"mat:{c}", "target", c, h.mat_pos(c), 0.0, MAT_RADIUS_M) for c in h.active_mats]
    if h.tray_active:
        objects.append(TrueObject("tray", "tray", None, h.tray_pos(), 0.0, TRAY_HALF_SIZE_M))
    cameras = {n: u.specs[n].calibration() for n in u.obs_cameras}
    return objects, cameras


def role_object_ids(roles: dict[str, str]) -> dict[str, str]:
    """Role -> the id of its object in :func:`scene_truth`: roles name cubes by id and mats by colour; mat roles
    are the "target" ones (target, target_1, ...)."""
    return {k: f"mat:{v}" if k.startswith("target") else v for k, v in roles.items()}


def _candidates(label: str, objects: list[TrueObject]) -> list[TrueObject]:
    words = label.lower().split()
    if "tray" in words:
        return [o for o in objects if o.kind == "tray"]
    kind = "target" if any(w in words for w in ("target", "mat")) else "block"
    return [o for o in objects if o.kind == kind and o.color in words]


def _inside(o: TrueObject, xy: np.ndarray) -> bool:
    d = xy - o.pos[:2]
    if o.kind == "target":
        return bool(np.linalg.norm(d) <= o.half)
    c, s = np.cos(o.yaw), np.sin(o.yaw)
    local = np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1]])
    return bool(np.all(np.abs(local) <= o.half))


def point_diagnostics(points: list[PointReport], truth: tuple[list[TrueObject], dict[str, Calibration]],
                      roles: dict[str, str]) -> dict[str, float | int]:
    """The columns above, from the first look's points (empty when the agent pointed at nothing)."""
    first = [p for p in points if p.look == 1]
    if not first:
        return {}
    objects, cameras = truth
    errors, inside, hit = [], [], set()
    unmatched = 0
    for p in first:
        cands = _candidates(p.label, objects)
        cal = cameras.get(p.camera)
        if not cands or cal is None:
            unmatched += 1
            continue
        proj = cal.project(np.array([o.pos for o in cands]))
        k = int(np.argmin(np.linalg.norm(proj - np.array(p.pixel), axis=1)))
        errors.append(float(np.linalg.norm(proj[k] - np.array(p.pixel))))
        inside.append(p.lifted is not None and _inside(cands[k], np.array(p.lifted[:2])))
        hit.add(cands[k].id)
    role_ids = set(role_object_ids(roles).values())
    role_objects = [o for o in objects if o.id in role_ids]
    out: dict[str, float | int] = {"points": len(first), "points_unmatched": unmatched}
    if errors:
        out.update(point_err_px=round(float(np.mean(errors)), 2), point_err_px_max=round(float(np.max(errors)), 2),
                   lift_in_footprint=round(float(np.mean(inside)), 3))
    if role_objects:
        out["pointed_roles"] = round(sum(o.id in hit for o in role_objects) / len(role_objects), 3)
    return out
