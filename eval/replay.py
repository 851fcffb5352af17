"""3-D episode replays in Rerun (``rerun=true`` in ``eval.run``): ``episodes/episode_NNNN.rrd`` per episode.

    rerun results/runs/<run>/episodes/episode_0003.rrd      # the viewer that comes with rerun-sdk

What a replay holds (timeline ``step``, one per control step; the harness writes it, so it may use ground
truth, which agents still may not):

- ``world/table``, ``world/mats``, ``world/tray`` and ``world/objects`` (every cube as a box, posed from the
  simulator each step);
- ``world/robot/skeleton`` (the arm's body origins joined in order) and ``world/robot/ee_path`` (the
  end-effector's path so far);
- each observed camera twice: ``world/cameras/<name>/true`` (where it is) and ``world/cameras/<name>/reported``
  (the calibration the agent was told) as pinhole frusta, so a stale or noisy calibration shows as two;
- ``camera/<name>/image`` (the observation, JPEG-compressed), and for agents that point
  (:meth:`agents.base.Agent.pointed`) each look's points on it (``camera/<name>/points/look_<k>``), their
  lifted 3-D points (``world/points/look_<k>``) and the rays from the reported camera to them
  (``world/rays/look_<k>``), from the step the look was taken until the next look;
- the end-effector targets the agent planned (:meth:`agents.base.Agent.planned`), from the step it planned
  them: the tool agent's move goals as a path of waypoints (``world/plan/waypoints``, the latest goal in
  ``world/plan/goal``), a LeRobot policy's decoded action chunk (``world/plan/chunk``);
- ``eval/<condition>``: the task's sub-conditions and ``success`` as 0/1 time series;
- a default layout (blueprint): the 3-D scene beside one 2-D view per camera, where the image and the
  points drawn on it share the view, and the sub-conditions over time.

Requires ``rerun-sdk`` (the ``viz`` extra; ``make setup`` installs it).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from envs.geometry import mat_to_quat
from envs.scene import COLORS, MAT_RADIUS_M, TABLE_CENTER_XY_M, TABLE_HALF_EXTENTS_M, TABLE_TOP_Z_M, TRAY_RGBA
from envs.scene import block_color as color_of

log = logging.getLogger(__name__)
JPEG_QUALITY = 80
TABLE_RGB = (158, 122, 87)


def _rgb(color: str) -> tuple[int, int, int]:
    r, g, b, _ = COLORS[color]
    return int(255 * r), int(255 * g), int(255 * b)


def _xyzw(R: np.ndarray) -> list[float]:
    w, x, y, z = mat_to_quat(R)
    return [float(x), float(y), float(z), float(w)]


class ReplayRecorder:
    """Collects one episode into ``path`` as the rollout goes (:meth:`add` per step, :meth:`finish` once)."""

    def __init__(self, path: Path):
        os.environ.setdefault("RERUN_ANALYTICS", "0")  # nothing leaves this machine
        import rerun as rr

        self.rr, self.path = rr, Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rec = rr.RecordingStream("vla-agent-bench", recording_id=self.path.stem)
        self.rec.save(str(self.path))
        self._ee: list[np.ndarray] = []
        self._reported: dict = {}
        self._cameras: list[str] = []

    def add(self, env, t: int, obs: dict, info: dict) -> None:
        rr, rec = self.rr, self.rec
        u = env.unwrapped
        rec.set_time("step", sequence=t)
        if t == 0:
            self._static(u, info)
        h = u.handle
        blocks = list(h.active_blocks)
        if blocks:
            rec.log("world/objects", rr.Boxes3D(
                centers=[h.block_pos(b) for b in blocks], half_sizes=[[h.block_half(b)] * 3 for b in blocks],
                quaternions=[rr.Quaternion(xyzw=_xyzw(h.block_rot(b))) for b in blocks],
                colors=[_rgb(color_of(b)) for b in blocks], labels=blocks, fill_mode="solid"))
        skeleton = np.vstack([u.data.xpos[self._arm_bodies], u.data.site_xpos[u.robot.site_id]])
        rec.log("world/robot/skeleton", rr.LineStrips3D([skeleton], colors=[(40, 40, 40)], radii=0.008))
        self._ee.append(np.asarray(obs["state"][:3], float))
        rec.log("world/robot/ee_path", rr.LineStrips3D([np.array(self._ee)], colors=[(230, 120, 20)]))
        for name, image in obs.get("images", {}).items():
            rec.log(f"camera/{name}/image", rr.Image(image).compress(jpeg_quality=JPEG_QUALITY))
        for key, value in info.get("eval", {}).items():
            if isinstance(value, (bool, np.bool_)):
                rec.log(f"eval/{key}", rr.Scalars(float(value)))

    def _static(self, u, info: dict) -> None:
        from envs.robot import ARM_JOINTS

        rr, rec, h = self.rr, self.rec, u.handle
        self._arm_bodies = [int(u.model.joint(j).bodyid[0]) for j in ARM_JOINTS]  # base to wrist, in order
        hx, hy, _ = TABLE_HALF_EXTENTS_M
        rec.log("world/table", rr.Boxes3D(centers=[[*TABLE_CENTER_XY_M, TABLE_TOP_Z_M - 0.002]],
                                          half_sizes=[[hx, hy, 0.002]], colors=[TABLE_RGB], fill_mode="solid"),
                static=True)
        if h.active_mats:
            rec.log("world/mats", rr.Cylinders3D(
                centers=[h.mat_pos(c) for c in h.active_mats], lengths=[0.002] * len(h.active_mats),
                radii=[MAT_RADIUS_M] * len(h.active_mats), colors=[_rgb(c) for c in h.active_mats],
                labels=[f"{c} mat" for c in h.active_mats], fill_mode="solid"), static=True)
        if h.tray_active:
            from envs.scene import TRAY_HALF_SIZE_M

            rec.log("world/tray", rr.Boxes3D(centers=[h.tray_pos()], half_sizes=[[TRAY_HALF_SIZE_M] * 2 + [0.001]],
                                             colors=[tuple(int(255 * c) for c in TRAY_RGBA[:3])],
                                             fill_mode="solid"), static=True)
        self._cameras = list(u.obs_cameras)
        rec.send_blueprint(self._layout(self._cameras), make_active=False, make_default=True)
        for name in u.obs_cameras:
            self._camera(f"world/cameras/{name}/true", u.specs[name].calibration())
            reported = info["calibration"][name]
            self._reported[name] = reported
            self._camera(f"world/cameras/{name}/reported", reported)

    @staticmethod
    def _layout(cameras: list[str]):
        """The viewer's default layout: the 3-D scene; each camera's image with the agent's points drawn on it
        (one 2-D view per camera, its origin holding both); the sub-conditions over time."""
        import rerun.blueprint as rrb

        return rrb.Blueprint(rrb.Horizontal(
            rrb.Spatial3DView(origin="world", name="scene"),
            rrb.Vertical(*[rrb.Spatial2DView(origin=f"camera/{c}", name=c) for c in cameras],
                         rrb.TimeSeriesView(origin="eval", name="sub-conditions")),
            column_shares=[3, 2]))

    def _camera(self, path: str, cal) -> None:
        rr = self.rr
        self.rec.log(path, rr.Transform3D(translation=cal.T_world_cam[:3, 3], mat3x3=cal.T_world_cam[:3, :3]),
                     static=True)
        self.rec.log(path, rr.Pinhole(image_from_camera=cal.K, resolution=[cal.width, cal.height]), static=True)

    def finish(self, agent) -> None:
        """Each look's points, lifted points and rays (agents that point), then close the file."""
        try:
            points = agent.pointed()
        except Exception:  # a replay never costs the episode its row
            log.exception("replay: the agent's points could not be read")
            points = []
        self._points(points)
        self._plans(agent)
        self.rec.flush()
        self.rec.disconnect()

    def _points(self, points: list) -> None:
        """Each look's points on its camera's image, its lifted points and rays in 3-D, from the step of the
        observation it pointed in until the next look (whose step clears them)."""
        rr, rec = self.rr, self.rec
        looks = sorted({p.look for p in points})
        for i, look in enumerate(looks):
            group = [p for p in points if p.look == look]
            rec.set_time("step", sequence=min(p.step for p in group))
            if i:  # the previous look's points end where this one's begin
                for path in (f"camera/{cam}/points/look_{looks[i - 1]}" for cam in self._cameras):
                    rec.log(path, rr.Clear(recursive=False))
                rec.log(f"world/points/look_{looks[i - 1]}", rr.Clear(recursive=False))
                rec.log(f"world/rays/look_{looks[i - 1]}", rr.Clear(recursive=False))
            for cam in sorted({p.camera for p in group}):
                on = [p for p in group if p.camera == cam]
                rec.log(f"camera/{cam}/points/look_{look}", rr.Points2D([p.pixel for p in on], radii=3.0,
                                                                        labels=[p.label for p in on]))
                lifted = [p for p in on if p.lifted is not None]
                if lifted and cam in self._reported:
                    origin = self._reported[cam].position
                    rec.log(f"world/points/look_{look}", rr.Points3D([p.lifted for p in lifted], radii=0.006,
                                                                      labels=[p.label for p in lifted]))
                    rec.log(f"world/rays/look_{look}", rr.LineStrips3D([[origin, p.lifted] for p in lifted]))

    def _plans(self, agent) -> None:
        """Planned end-effector targets at the step they were planned: the tool agent's move goals as a path
        of waypoints so far (``world/plan/waypoints``), a policy's decoded chunk (``world/plan/chunk``)."""
        rr, rec = self.rr, self.rec
        try:
            plans = agent.planned()
        except Exception:
            log.exception("replay: the agent's planned targets could not be read")
            return
        waypoints: list = []
        for plan in plans:
            rec.set_time("step", sequence=plan.step)
            points = [list(p) for p in plan.points]
            if plan.label == "move":
                waypoints.extend(points)
                rec.log("world/plan/waypoints", rr.LineStrips3D([waypoints], colors=[(20, 160, 220)], radii=0.003))
                rec.log("world/plan/goal", rr.Points3D(points, colors=[(20, 160, 220)], radii=0.01))
            else:
                rec.log(f"world/plan/{plan.label}", rr.LineStrips3D([points], colors=[(200, 40, 160)], radii=0.003))
                rec.log(f"world/plan/{plan.label}_targets", rr.Points3D(points, colors=[(200, 40, 160)],
                                                                        radii=0.005))
