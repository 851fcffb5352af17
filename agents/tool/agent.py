"""The tool agent: a reasoner decides what and where in the image; tools do the geometry.

observe -> reasoner points at the objects and plans function calls
(``move(x, y, high)``, ``setGripperState(opened)``) -> each point is lifted to
3D with the calibration the env reports -> bounded-speed ``ee_pose`` motion ->
each call answered with its real status -> after the plan, look again and
check the outcome; if the task is not done, re-perceive and replan, up to
``max_attempts`` times.  A plan may hold many pick-and-place steps (sorting,
stacking a tower).  An empty plan (nothing found, or the reasoner has none)
gets one more look, from the look pose with the arm out of view; a second
empty one ends the attempts, since looking again would show the same scene.

The outcome check asks the reasoner first (``check_done``: a VLM judges the
image); a reasoner without a view of its own (the classic one) answers None,
and the agent checks its own steps: every cube it put down is seen again where
it was put, or, if the plan ended holding a cube, it still holds it.

The agent remembers the height of what it stacked (the surface under each
place it put a cube down or picked one up), so a cube put on a cube that sits
on a cube is released at the right height and a detection on a stack is lifted
to the stack's top, without a depth camera.

The episode is a generator: ``act(obs)`` sends the observation in and gets the
next action out, so the plan executes across control steps while the code
reads top to bottom.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Generator, Mapping

import numpy as np

from agents.base import Agent, PlannedTargets, PointReport
from agents.errors import AgentError
from agents.motion import (
    CARRY_EXTRA_Z_M,
    GRIP_STEPS,
    PLACE_CLEARANCE_M,
    TRAVEL_Z_M,
    BoundedMotion,
    MotionSettings,
    closest_face_yaw,
)
from agents.tool.perception import footprint_yaw
from agents.tool.types import Call, CallResult, Detection, norm_to_pixel
from envs.cameras import Calibration
from envs.errors import GeometryError
from envs.scene import BLOCK_HALF_SIZE_M, MAT_HALF_THICKNESS_M, TABLE_TOP_Z_M

log = logging.getLogger(__name__)

# Known object models (the bench's public scene description, not episode state).
BLOCK_CENTRE_Z_M = TABLE_TOP_Z_M + BLOCK_HALF_SIZE_M
BLOCK_TOP_Z_M = TABLE_TOP_Z_M + 2 * BLOCK_HALF_SIZE_M
MAT_TOP_Z_M = TABLE_TOP_Z_M + 2 * MAT_HALF_THICKNESS_M
HOLDING_MIN_OPENING = 0.2  # fingers closed on a 4 cm cube stop near 0.6; on nothing near 0
REACH_M = 0.45  # farther targets are refused with an error status


@dataclass(frozen=True)
class ToolSettings:
    camera: str = "primary"
    max_attempts: int = 3  # plan, execute, look, check; again if not done
    max_rounds: int = 4  # reasoner turns per plan (function-calling loop)
    max_calls: int = 48  # function calls executed per plan (sorting three pairs takes 28)
    travel_z_m: float = TRAVEL_Z_M
    carry_extra_z_m: float = CARRY_EXTRA_Z_M
    place_clearance_m: float = PLACE_CLEARANCE_M
    grip_steps: int = GRIP_STEPS
    look_pose_m: tuple[float, float, float] = (0.05, 0.2, 0.3)  # out of the primary camera's view
    match_radius_px: float = 40.0  # a move targets the detection within this distance
    done_tol_m: float = 0.03  # outcome check: object within this distance of its goal
    stack_radius_m: float = 0.025  # a point this close to where a cube was put down is on that cube
    motion: MotionSettings = field(default_factory=MotionSettings)


class ToolAgent(Agent):
    def __init__(self, reasoner, settings: ToolSettings | None = None, control_freq: int = 10):
        self.reasoner = reasoner
        self.settings = settings or ToolSettings()
        self.motion = BoundedMotion(control_freq, self.settings.motion)
        self._gen: Generator[np.ndarray, dict, None] | None = None
        self._stats = {"attempts": 0, "calls_executed": 0, "call_errors": 0, "empty_plans": 0}
        self._points: list[PointReport] = []
        self._calls: list[dict] = []
        self._planned: list[PlannedTargets] = []
        self._steps = 0

    # --- agent contract ----------------------------------------------------
    def prepare(self) -> None:
        self.reasoner.prepare()

    def reset(self, instruction: str, calibration: Mapping[str, Calibration]) -> None:
        self.instruction = instruction
        self.cal = calibration[self.settings.camera]
        self.reasoner.reset()
        self._stats = dict.fromkeys(self._stats, 0)
        self._gen, self.yaw, self.gripper, self.holding, self.depth = None, 0.0, 1.0, False, None
        self.known: dict[str, np.ndarray] = {}  # last 3D position of each labelled object
        # (x, y), top z of what lies there, and the look it was recorded after; newest last
        self.surfaces: list[tuple[np.ndarray, float, int]] = []
        self._looks = 0
        self._points = []
        self._calls = []
        self._planned, self._steps = [], 0
        # each cube put down in this plan: (its label, its 3D centre, the flat target it went onto and that
        # target's 3D position then, if the release point matched one)
        self.placed: list[tuple[str, np.ndarray, str | None, np.ndarray | None]] = []
        self._target: Detection | None = None  # the detection the gripper went down to (picked on close)
        self._carrying: str | None = None

    def act(self, obs: dict) -> np.ndarray:
        self._steps += 1
        if self._gen is None:
            self._gen = self._episode(obs)
            return next(self._gen)
        return self._gen.send(obs)

    def counters(self) -> dict:
        return {**self._stats, **self.reasoner.counters()}

    def pointed(self) -> list[PointReport]:
        return list(self._points)

    def calls(self) -> list[dict]:
        return [dict(c) for c in self._calls]

    def planned(self) -> list[PlannedTargets]:
        return list(self._planned)

    # --- episode -----------------------------------------------------------
    def _episode(self, obs: dict):
        self.motion.reset(obs["state"][:3])
        dets = self._perceive(obs)
        for attempt in range(self.settings.max_attempts):
            self._stats["attempts"] += 1
            image = obs["images"][self.settings.camera]
            self.placed, executed = [], 0
            if not dets:
                log.info("attempt %d: the reasoner found no objects", attempt + 1)
            else:
                obs, executed = yield from self._run_plan(image, dets, obs)
            if not executed:
                self._stats["empty_plans"] += 1
                if attempt > 0:  # looked from the look pose already: the same scene again, nothing to gain
                    break
            obs = yield from self._retreat(obs)
            if attempt == self.settings.max_attempts - 1:
                break  # no attempt left: a last look would cost a reasoner call for nothing
            dets = self._perceive(obs)
            if self._task_done(obs, dets):
                break
        while True:
            obs = yield self.motion.action(self.yaw, self.gripper)

    def _perceive(self, obs: dict) -> list[Detection]:
        """Ask the reasoner for points; remember each object's 3D position."""
        self.depth = obs.get("depth", {}).get(self.settings.camera)  # the depth of the image pointed at
        dets = self.reasoner.point(obs["images"][self.settings.camera], self.instruction)
        self._looks += 1
        for d in dets:
            try:
                p = self.known[d.label] = self._lift(d.pixel, d.kind)
                lifted: tuple[float, float, float] | None = (float(p[0]), float(p[1]), float(p[2]))
            except GeometryError:  # a point whose ray misses the table: reported, not lifted
                lifted = None
            self._points.append(PointReport(self._looks, self.settings.camera, d.label,
                                            (float(d.pixel[0]), float(d.pixel[1])), lifted,
                                            step=max(self._steps - 1, 0)))
        return dets

    def _lift(self, pixel: np.ndarray, kind: str) -> np.ndarray:
        """Pixel -> 3D: the ray meets the plane of the object's centre height.

        Without depth the height is the known resting one (cube centre 2 cm,
        mat 1 mm); with a depth image it is measured (the surface under the
        pixel, minus half a cube for blocks), so a cube on a cube lifts right.
        """
        z = MAT_TOP_Z_M if kind == "target" else BLOCK_CENTRE_Z_M
        if self.depth is not None:
            h, w = self.depth.shape
            u, v = np.clip(np.round(pixel).astype(int), 0, [w - 1, h - 1])
            d = float(np.median(self.depth[max(v - 2, 0):v + 3, max(u - 2, 0):u + 3]))
            surface_z = self.cal.unproject(pixel[None], depth=d)[0, 2]
            z = surface_z - (0.0 if kind == "target" else BLOCK_HALF_SIZE_M)
            return self.cal.unproject(pixel[None], plane_z=z)[0]
        p = self.cal.unproject(pixel[None], plane_z=z)[0]
        top = self._surface_top(p[:2], seen=True)
        if kind == "block" and top is not None and top > BLOCK_TOP_Z_M + 1e-3:  # the top cube of a stack it built
            p = self.cal.unproject(pixel[None], plane_z=top - BLOCK_HALF_SIZE_M)[0]
        return p

    def _surface_top(self, xy: np.ndarray, seen: bool = False) -> float | None:
        """Height of the top of what the agent left at ``xy`` (its newest record there), or None.  ``seen``:
        only what it left before the image it points in was taken (a plan's pixels show the scene as it was
        then)."""
        near = [top for p, top, look in self.surfaces
                if np.linalg.norm(p - xy) <= self.settings.stack_radius_m and (not seen or look < self._looks)]
        return near[-1] if near else None

    def _run_plan(self, image, dets, obs):
        """Execute the reasoner's calls turn by turn; (obs, number of calls executed)."""
        calls = self.reasoner.start_plan(image, self.instruction, dets)
        budget = self.settings.max_calls
        for round_ in range(1, self.settings.max_rounds + 1):
            results = []
            for call in calls[:budget]:
                obs, result = yield from self._execute(call, image, dets, obs)
                results.append(result)
            budget -= len(results)
            if not results or budget <= 0 or round_ == self.settings.max_rounds:
                break  # no further turn: asking the reasoner again would cost a call for nothing
            calls = self.reasoner.continue_plan(results)
        return obs, self.settings.max_calls - budget

    # --- tools -------------------------------------------------------------
    def _execute(self, call: Call, image, dets, obs):
        self._stats["calls_executed"] += 1
        entry = {"look": self._looks, "call": call.name, "args": dict(call.args), "status": "unfinished", "result": {}}
        self._calls.append(entry)  # "unfinished" until it returns (an episode can end in the middle of a move)
        try:
            if call.name == "move":
                goal, speed = self._move_goal(call, image, dets)
                self._planned.append(PlannedTargets(max(self._steps - 1, 0), "move", (_xyz(goal),)))
                obs = yield from self._go(goal, speed, obs)
                err = float(np.linalg.norm(obs["state"][:3] - goal))
                status = "ok" if err < 0.02 else "error"
                result = CallResult(call, status, {"reached_m": np.round(obs["state"][:3], 3).tolist(),
                                                   "error_m": round(err, 4)})
            elif call.name == "setGripperState":
                was_holding = self.holding
                obs = yield from self._grip(_truthy(call.args.get("opened")), obs)
                self.holding = self.gripper == 0.0 and obs["state"][7] > HOLDING_MIN_OPENING
                self._note_grip(was_holding)
                result = CallResult(call, "ok", {"gripper_opening": round(float(obs["state"][7]), 3),
                                                 "holding_object": bool(self.holding)})
            else:
                result = CallResult(call, "error", {"message": f"unknown function {call.name!r}; "
                                                               "use move or setGripperState"})
        except ToolError as e:
            result = CallResult(call, "error", {"message": str(e)})
        self._stats["call_errors"] += result.status != "ok"
        entry.update(status=result.status, result=dict(result.detail))
        return obs, result

    def _move_goal(self, call: Call, image, dets) -> tuple[np.ndarray, float]:
        s = self.settings
        try:
            x, y, high = float(call.args["x"]), float(call.args["y"]), _truthy(call.args.get("high", True))
        except (KeyError, TypeError, ValueError) as e:
            raise ToolError("move needs numeric x, y (0-1000 image coordinates) and a boolean high") from e
        pixel = norm_to_pixel(y, x, self.cal.width, self.cal.height)
        det = _nearest(dets, pixel, s.match_radius_px)
        try:
            xy = self._lift(pixel, "target" if det is None else det.kind)[:2]
        except GeometryError as e:  # e.g. a point above the horizon: its ray never meets the table
            raise ToolError(f"point ({x:.0f}, {y:.0f}) does not lie on the table: {e}") from e
        if np.linalg.norm(xy) > REACH_M:
            raise ToolError(f"point ({x:.0f}, {y:.0f}) lies {np.linalg.norm(xy):.2f} m from the robot, out of reach")
        if high:
            return np.r_[xy, s.travel_z_m + (s.carry_extra_z_m if self.holding else 0.0)], s.motion.fast_m_s
        on_block = det is not None and det.kind == "block"
        top = self._surface_top(xy)  # what the agent itself left there, else the known object heights
        top = top if top is not None else (BLOCK_TOP_Z_M if on_block else TABLE_TOP_Z_M)
        if not self.holding and det is not None and on_block:
            yaw = footprint_yaw(image, det, self.cal, top)
            if yaw is not None:
                self.yaw = closest_face_yaw(yaw, xy)
            self._target = det
            return np.r_[xy, max(top - BLOCK_HALF_SIZE_M, BLOCK_CENTRE_Z_M)], s.motion.slow_m_s
        self._target = det
        z = top + BLOCK_HALF_SIZE_M
        return np.r_[xy, z + (s.place_clearance_m if self.holding else 0.0)], s.motion.slow_m_s

    def _go(self, goal: np.ndarray, speed: float, obs):
        self.motion.new_target()
        while not self.motion.step(goal, speed, obs["state"][:3]):
            obs = yield self.motion.action(self.yaw, self.gripper)
        return obs

    def _grip(self, opened: bool, obs):
        """Open or close the gripper in place for ``grip_steps`` steps."""
        self.gripper = 1.0 if opened else 0.0
        for _ in range(self.settings.grip_steps):
            obs = yield self.motion.action(self.yaw, self.gripper)
        return obs

    def _retreat(self, obs):
        """Out of the camera's view to look again (holding on to a picked cube)."""
        if self.holding and self._carrying is not None and not self.placed:
            return obs  # the plan ended holding the cube it picked: that is its outcome (pick); keep it
        if self.holding:  # a plan that left the cube in the gripper: put it back down first
            down = np.r_[self.motion.cmd[:2], BLOCK_CENTRE_Z_M + self.settings.place_clearance_m]
            obs = yield from self._go(down, self.settings.motion.slow_m_s, obs)
            obs = yield from self._grip(True, obs)
            self.holding = False
        up = np.r_[self.motion.cmd[:2], self.settings.travel_z_m]
        obs = yield from self._go(up, self.settings.motion.fast_m_s, obs)
        obs = yield from self._go(np.array(self.settings.look_pose_m), self.settings.motion.fast_m_s, obs)
        return obs

    def _note_grip(self, was_holding: bool) -> None:
        """Bookkeeping after a gripper call: what was picked up, where a cube was put down, and the height of
        what is left at either place."""
        here = self.motion.cmd
        if self.holding and not was_holding:  # picked: what lay under the cube is the surface there now
            self._carrying = self._target.label if self._target is not None else "object"
            self.surfaces.append((here[:2].copy(), float(here[2] - BLOCK_HALF_SIZE_M), self._looks))
        elif was_holding and not self.holding:  # put down: the cube's top is the surface there now
            centre = float(here[2] - self.settings.place_clearance_m)
            self.surfaces.append((here[:2].copy(), centre + BLOCK_HALF_SIZE_M, self._looks))
            goal = self._target.label if self._target is not None and self._target.kind == "target" else None
            self.placed.append((self._carrying or "object", np.r_[here[:2], centre], goal,
                                self.known.get(goal) if goal else None))
            self._carrying = None

    def _task_done(self, obs, dets) -> bool:
        """Outcome check from a fresh look: the reasoner's verdict if it gives one, else the agent's check of
        its own steps (the same rule for every reasoner without a view of its own)."""
        verdict = self.reasoner.check_done(obs["images"][self.settings.camera], self.instruction)
        if verdict is not None:
            return bool(verdict)
        if self.holding:  # the plan ended holding what it picked
            return bool(obs["state"][7] > HOLDING_MIN_OPENING)
        if not self.placed:
            return False
        tol = self.settings.done_tol_m
        for label, centre, goal, goal_then in self.placed:  # each cube is seen where it was put ...
            seen = [d for d in dets if d.label.lower() == label.lower()]
            if not seen or min(float(np.linalg.norm(self._lift(d.pixel, "block")[:2] - centre[:2]))
                               for d in seen) >= tol:
                return False
            now = self.known.get(goal) if goal else None  # ... and the mat or tray it went onto has not moved
            if goal_then is not None and now is not None and np.linalg.norm(now[:2] - goal_then[:2]) >= tol:
                return False
        return True


class ToolError(AgentError):
    """A call that cannot be carried out; its message goes back to the reasoner."""


def _xyz(p) -> tuple[float, float, float]:
    return (float(p[0]), float(p[1]), float(p[2]))


def _truthy(v) -> bool:
    return v if isinstance(v, bool) else str(v).strip().lower() in ("true", "1", "yes", "open", "opened")


def _nearest(dets, pixel, radius) -> Detection | None:
    best = min(dets, key=lambda d: np.linalg.norm(d.pixel - pixel), default=None)
    return best if best is not None and np.linalg.norm(best.pixel - pixel) <= radius else None


def _by_label(dets, label: str) -> Detection | None:
    return next((d for d in dets if d.label.lower() == label.lower()), None)
