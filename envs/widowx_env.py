"""WidowXTabletop-v0: a WidowX 250s on a table, language tasks, calibrated cameras.

Action modes (``control_mode``):
  ``ee_pose``   (7,) absolute end-effector target in the robot base frame:
                x, y, z (m), roll, pitch, yaw (rad, R = Rz(yaw) Ry(pitch) Rx(roll)),
                gripper opening in [0, 1] (1 = open).  Damped least squares IK
                inside the env, warm-started from the last command, joint-limited.
  ``joint_pos`` (7,) absolute targets of the 6 arm joints (rad) + gripper opening.
Physics runs at 500 Hz (Menagerie's 2 ms step); one ``step`` holds the command
for ``500 / control_freq`` physics steps (default 10 Hz: 50 substeps).

Observation: ``images`` (uint8 HxWx3 per camera in ``obs_cameras``), ``depth``
(float32 HxW metres along each camera's z axis, per camera in ``depth_cameras``;
absent by default), ``state``
(8-D BridgeData layout: end-effector x, y, z, roll, pitch, yaw, a zero pad,
gripper opening), ``joint_pos`` (6 arm joints + 2 fingers), ``instruction``.
``info``: ``calibration`` (what the agent is told, per camera), ``object_poses``
(ground truth, for logs), ``eval`` (the task's evaluate() dict), ``success``.
"""

from __future__ import annotations

import dataclasses
import string
from typing import Sequence

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from envs.cameras import (
    CALIBRATION_MODES,
    DEFAULT_CAMERAS,
    Calibration,
    CameraConfig,
    CameraPerturbation,
    CameraSpec,
    make_perturbation,
    mujoco_quat,
    resolve_magnitude,
)
from envs.errors import ConfigError, SimulationError, check_choice
from envs.factors import FactorEffects, FactorsConfig, make_factors
from envs.geometry import euler_to_mat, mat_to_euler
from envs.objects import SceneHandle
from envs.robot import Robot
from envs.scene import PHYSICS_HZ, SceneConfig, build_model
from envs.tasks import TaskConfig, make_task

DEFAULT_TASK = "place"
CONTROL_MODES = ("ee_pose", "joint_pos")
SETTLE_AFTER_RESET_S = 0.1  # let cubes come to rest before the first observation
INSTRUCTION_CHARSET = frozenset(string.ascii_letters + string.digits + " ,.'-")
EE_POS_BOUNDS_M = (np.array([-0.6, -0.6, -0.05]), np.array([0.6, 0.6, 0.6]))


class WidowXTabletopEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        task: str = DEFAULT_TASK,
        camera: str | CameraPerturbation = CameraConfig.name,
        camera_magnitude: float | None = CameraConfig.magnitude,
        calibration: str = CameraConfig.calibration,
        control_mode: str = "ee_pose",
        control_freq: int | None = None,  # None: the scene's (SceneConfig.control_freq)
        obs_cameras: Sequence[str] = ("primary",),
        depth_cameras: Sequence[str] = (),
        perturbed_cameras: Sequence[str] = ("primary",),
        cameras: Sequence[CameraSpec] = DEFAULT_CAMERAS,
        scene: SceneConfig | dict | None = None,
        task_config: TaskConfig | dict | None = None,
        factors: FactorsConfig | dict | None = None,
        render_mode: str | None = None,
        render_camera: str = "third_person",
    ):
        self.control_mode = check_choice("control_mode", control_mode, CONTROL_MODES)
        self.calibration_mode = check_choice("calibration", calibration, CALIBRATION_MODES)
        if render_mode is not None:
            check_choice("render_mode", render_mode, self.metadata["render_modes"])
        scene = SceneConfig(**scene) if isinstance(scene, dict) else (scene or SceneConfig())
        if control_freq is not None:
            scene = dataclasses.replace(scene, control_freq=control_freq)  # validated by SceneConfig
        self.scene_config, control_freq = scene, scene.control_freq
        if isinstance(camera, CameraPerturbation):
            self.perturbation, self.camera_magnitude = camera, None
        else:
            self.camera_magnitude = resolve_magnitude(camera, camera_magnitude)
            self.perturbation = make_perturbation(camera, self.camera_magnitude)
        self.nominal_specs = {c.name: c for c in cameras}
        for name in (*obs_cameras, *depth_cameras, *perturbed_cameras, render_camera):
            check_choice("camera", name, self.nominal_specs)
        self.perturbed_cameras = tuple(perturbed_cameras)
        self.specs = {n: self.perturbation.apply(c) if n in perturbed_cameras else c
                      for n, c in self.nominal_specs.items()}
        self.obs_cameras, self.depth_cameras = tuple(obs_cameras), tuple(depth_cameras)
        self.render_mode, self.render_camera = render_mode, render_camera
        self.control_freq, self.n_substeps = control_freq, PHYSICS_HZ // control_freq
        self.metadata = {**self.metadata, "render_fps": control_freq}

        self.factors_config = make_factors(factors)
        self.factors = FactorEffects(self.factors_config)
        self.task = make_task(task, task_config, language=self.factors_config.language)
        self.model = build_model(scene, list(self.specs.values()), extend=self.factors.build, extras=self.task.extras)
        if abs(self.model.opt.timestep * PHYSICS_HZ - 1.0) > 1e-9:
            raise ConfigError(f"model timestep {self.model.opt.timestep} s does not match {PHYSICS_HZ} Hz")
        self.data = mujoco.MjData(self.model)
        self.robot = Robot(self.model)
        self.handle = SceneHandle(self.model, self.data, self.robot)
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self._q_cmd = self.robot.arm_qpos(self.data)
        self._last_eval: dict = {}
        self.action_space = self._make_action_space()
        self.observation_space = self._make_observation_space()
        # Per-step caches (values the step loop would otherwise rebuild every control step).
        self._action_lo = self.action_space.low.astype(np.float64)
        self._action_hi = self.action_space.high.astype(np.float64)
        self._obs_qadr = np.r_[self.robot.arm_qadr, self.robot.finger_qadr]
        self._calibrations: dict[str, Calibration] = {}  # what calibration() says, by camera; emptied when one moves
        self._ik_memo: tuple = (None, None, None)  # (settings, action pose + warm start bytes, joint solution)
        self.factors.bind(self)

    # --- spaces ------------------------------------------------------------
    def _make_action_space(self) -> spaces.Box:
        if self.control_mode == "ee_pose":
            lo = np.concatenate([EE_POS_BOUNDS_M[0], [-np.pi] * 3, [0.0]])
            hi = np.concatenate([EE_POS_BOUNDS_M[1], [np.pi] * 3, [1.0]])
        else:
            lo = np.concatenate([self.robot.arm_range[:, 0], [0.0]])
            hi = np.concatenate([self.robot.arm_range[:, 1], [1.0]])
        return spaces.Box(lo.astype(np.float32), hi.astype(np.float32), dtype=np.float32)

    def _make_observation_space(self) -> spaces.Dict:
        images = spaces.Dict({
            n: spaces.Box(0, 255, (self.specs[n].height, self.specs[n].width, 3), np.uint8) for n in self.obs_cameras
        })
        obs = {"images": images} if self.obs_cameras else {}  # obs_cameras=(): no rendering at all
        if self.depth_cameras:
            obs["depth"] = spaces.Dict({n: spaces.Box(0, np.inf, (self.specs[n].height, self.specs[n].width),
                                                      np.float32) for n in self.depth_cameras})
        return spaces.Dict({
            **obs,
            "state": spaces.Box(-np.inf, np.inf, (8,), np.float32),
            "joint_pos": spaces.Box(-np.inf, np.inf, (8,), np.float32),
            "instruction": spaces.Text(max_length=256, charset=INSTRUCTION_CHARSET),
        })

    # --- calibration -------------------------------------------------------
    def calibration(self, name: str = "primary") -> Calibration:
        """What agents are told about camera ``name`` (the ``calibration`` setting)."""
        check_choice("camera", name, self.specs)
        spec = self.specs[name] if self.calibration_mode == "true" else self.nominal_specs[name]
        return self.factors.calibration(name, spec.calibration())

    def describe(self) -> dict:
        """What this env was built as (an episode row's identity columns come from here, not from the config)."""
        return {"task": self.task.name, "camera": self.perturbation.name, "magnitude": self.camera_magnitude,
                "calibration": self.calibration_mode, "scene": self.scene_config.visual,
                "control_freq": self.control_freq, "factors": self.factors_config.label()}

    def set_camera_perturbation(self, perturbation: CameraPerturbation) -> None:
        """Move the perturbed cameras at once, without recompiling (e.g. per-episode viewpoint
        randomization when recording demonstrations); the resolution stays as it is."""
        self._calibrations.clear()
        for name in self.perturbed_cameras:
            spec = perturbation.apply(self.nominal_specs[name])
            cam = self.model.camera(name).id
            self.model.cam_pos[cam] = spec.position
            self.model.cam_quat[cam] = mujoco_quat(spec)
            self.model.cam_fovy[cam] = spec.fovy
            self.specs[name] = spec
        self.perturbation, self.camera_magnitude = perturbation, None
        mujoco.mj_kinematics(self.model, self.data)

    def true_calibration(self, name: str = "primary") -> Calibration:
        """The camera's real calibration (ground truth; privileged)."""
        return self.specs[check_choice("camera", name, self.specs)].calibration()

    # --- gym API -----------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        self.robot.set_home(self.data)
        self.task.initialize_episode(self.handle, self.np_random)
        # the factors' draws come after the task's, from a stream of the same seed: the layout never depends on them
        self.factors.reset(self, int(self.np_random.integers(2**63)))
        self._calibrations.clear()  # a reported calibration may be drawn per episode (factors.calibration_error_*)
        mujoco.mj_forward(self.model, self.data)
        mujoco.mj_step(self.model, self.data, nstep=round(SETTLE_AFTER_RESET_S * PHYSICS_HZ))
        self.handle.step_count = 0
        self._q_cmd = self.robot.arm_qpos(self.data)
        self._last_eval = self.task.evaluate(self.handle)
        return self._observation(), self._info()

    def step(self, action):
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != self.action_space.shape:
            raise ConfigError(f"{self.control_mode} action must have shape {self.action_space.shape}, "
                              f"got {action.shape}")
        if not np.isfinite(action).all():
            raise SimulationError(f"action has non-finite values: {action.tolist()}")
        action = np.minimum(np.maximum(action, self._action_lo), self._action_hi)  # np.clip, faster
        q = self._ik(action) if self.control_mode == "ee_pose" else action[:6]
        self.robot.command_joints(self.data, q, action[6])
        self._q_cmd = self.data.ctrl[self.robot.arm_act]  # fancy indexing: a copy
        mujoco.mj_step(self.model, self.data, nstep=self.n_substeps)
        self.factors.after_step(self)
        self.handle.step_count += 1
        self._last_eval = self.task.evaluate(self.handle)
        success = bool(self._last_eval["success"])
        return self._observation(), float(success), success, False, self._info()

    def _ik(self, action: np.ndarray) -> np.ndarray:
        """Joint targets for the ``ee_pose`` action, warm-started from the last command.  IK is a pure
        function of (pose, warm start, settings): a command held from one step to the next (the warm
        start is then the last solution) reuses the last solution, bit for bit."""
        settings, key = self.robot.ik_settings, action[:6].tobytes() + self._q_cmd.tobytes()
        if self._ik_memo[0] is settings and self._ik_memo[1] == key:
            return self._ik_memo[2]
        q, _ = self.robot.ik(action[:3], euler_to_mat(*action[3:6]), self._q_cmd)
        self._ik_memo = (settings, key, q)
        return q

    def render(self):
        if self.render_mode == "rgb_array":
            return self.render_camera_image(self.render_camera)
        return None

    def upload_texture(self, texid: int) -> None:
        """Send texture ``texid`` of the model to every renderer already made (new ones read the model)."""
        for r in self._renderers.values():  # mujoco.Renderer has no public upload: its context, as it renders
            r._gl_context.make_current()
            mujoco.mjr_uploadTexture(self.model, r._mjr_context, texid)

    def close(self):
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()

    # --- observation helpers ----------------------------------------------
    def render_camera_image(self, name: str, segmentation: bool = False, depth: bool = False) -> np.ndarray:
        """RGB (H, W, 3) uint8; with ``segmentation`` MuJoCo's (H, W, 2) ids; with ``depth``
        (H, W) float32 metres along the camera's z axis."""
        spec = self.specs[name if name in self.specs else check_choice("camera", name, self.specs)]
        key = (spec.width, spec.height)
        if key not in self._renderers:
            self._renderers[key] = mujoco.Renderer(self.model, height=spec.height, width=spec.width)
        r = self._renderers[key]
        r.update_scene(self.data, camera=name)
        if not (segmentation or depth):
            return r.render()  # a new array on every call
        enable, disable = (r.enable_segmentation_rendering, r.disable_segmentation_rendering) if segmentation \
            else (r.enable_depth_rendering, r.disable_depth_rendering)
        enable()
        try:
            out = r.render()
        finally:
            disable()
        return out.astype(np.float32, copy=False) if depth else out

    def ee_state(self) -> np.ndarray:
        pos, R = self.data.site_xpos[self.robot.site_id], self.data.site_xmat[self.robot.site_id].reshape(3, 3)
        return np.concatenate([pos, mat_to_euler(R), [0.0, self.robot.gripper_opening(self.data)]])

    def _observation(self) -> dict:
        obs = {"images": {n: self.factors.image(n, self.render_camera_image(n)) for n in self.obs_cameras}} \
            if self.obs_cameras else {}
        if self.depth_cameras:
            obs["depth"] = {n: self.render_camera_image(n, depth=True) for n in self.depth_cameras}
        return {
            **obs,
            "state": self.ee_state().astype(np.float32),
            "joint_pos": self.data.qpos[self._obs_qadr].astype(np.float32),
            "instruction": self.task.instruction,
        }

    def _info(self) -> dict:
        return {
            "calibration": {n: self._calibration_copy(n) for n in self.obs_cameras},
            "object_poses": self.handle.object_poses(),
            "roles": dict(self.task.roles),
            "eval": dict(self._last_eval),
            "success": bool(self._last_eval.get("success", False)),
            "camera": self.perturbation.name,
            **({"factors": self.factors.info()} if self.factors.effects else {}),
        }

    def _calibration_copy(self, name: str) -> Calibration:
        """``calibration(name)``, computed once per camera placement (cameras move only through
        set_camera_perturbation, which empties the cache); every call gets its own arrays."""
        cal = self._calibrations.get(name)
        if cal is None:
            cal = self._calibrations[name] = self.calibration(name)
        return Calibration(cal.name, cal.K.copy(), cal.T_world_cam.copy(), cal.width, cal.height)
