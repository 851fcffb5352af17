"""Typed camera specs, named viewpoint perturbations and the calibration API.

Frames: the world frame is the robot base frame (x forward, z up, metres).
Calibrations use OpenCV camera axes (x right, y down, z forward) and pixel
coordinates whose origin is the *centre* of the top-left pixel, so an ideal
centred camera has ``cx = (width - 1) / 2``.  MuJoCo cameras look along -z with
y up; :func:`mujoco_quat` converts.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from envs.errors import ConfigError, GeometryError, check_choice
from envs.geometry import look_at, make_T, mat_to_quat, rot_z

# OpenCV camera axes -> MuJoCo camera axes (flip y and z).
_CV_TO_MJ = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class CameraSpec:
    """A pinhole camera placed by eye position and look-at point (world, metres)."""

    name: str
    position: tuple[float, float, float]
    target: tuple[float, float, float]
    fovy: float = 39.0  # vertical field of view, degrees
    width: int = 320
    height: int = 240

    def rotation(self) -> np.ndarray:
        """World-from-camera rotation, OpenCV axes."""
        return look_at(self.position, self.target)

    def calibration(self) -> Calibration:
        return Calibration.from_spec(self)


# Seed article / BridgeData-like over-the-shoulder view: eye (0, -0.2, 0.4) m in
# the robot base frame, fovy 39 deg, 4:3 images.  The look-at point is where the
# seed's camera axis meets the table (about (0.28, 0, 0)); we aim slightly nearer,
# at (0.24, -0.03, 0), so the whole object workspace is in view.
PRIMARY = CameraSpec("primary", position=(0.0, -0.2, 0.4), target=(0.24, -0.03, 0.0), fovy=39.0)
# A view from the front-left for humans and videos (not what agents use by default).
THIRD_PERSON = CameraSpec("third_person", position=(0.75, -0.45, 0.5), target=(0.2, 0.0, 0.05), fovy=45.0)
DEFAULT_CAMERAS: tuple[CameraSpec, ...] = (PRIMARY, THIRD_PERSON)


@dataclass(frozen=True)
class CameraPerturbation:
    """How a camera is moved away from its nominal placement.

    Applied in order: orbit about the vertical axis through the look-at point,
    scale of the eye's distance to the look-at point, translation of eye and
    look-at point along the camera's right vector, then the fovy change.
    """

    name: str = "nominal"
    orbit_deg: float = 0.0
    distance_scale: float = 1.0
    shift_right_m: float = 0.0
    fovy_delta_deg: float = 0.0

    def apply(self, spec: CameraSpec) -> CameraSpec:
        if self.distance_scale <= 0.1:
            raise ConfigError(f"distance_scale must be > 0.1 (the camera cannot reach its look-at point), "
                              f"got {self.distance_scale}")
        eye, target = np.asarray(spec.position, float), np.asarray(spec.target, float)
        eye = target + rot_z(np.deg2rad(self.orbit_deg)) @ (eye - target)
        eye = target + self.distance_scale * (eye - target)
        right = look_at(eye, target)[:, 0]
        eye, target = eye + self.shift_right_m * right, target + self.shift_right_m * right
        fovy = spec.fovy + self.fovy_delta_deg
        if not 5.0 <= fovy <= 120.0:
            raise ConfigError(f"perturbed fovy {fovy:.1f} deg is outside [5, 120]; use a smaller change")
        return dataclasses.replace(
            spec, position=tuple(eye.tolist()), target=tuple(target.tolist()), fovy=fovy
        )


@dataclass(frozen=True)
class PerturbationPreset:
    unit: str
    default: float
    valid: tuple[float, float]  # closed range of magnitudes accepted, in ``unit``
    build: Callable[[float], CameraPerturbation] = field(repr=False)


# Every named perturbation takes a magnitude in its own unit, so each can be swept;
# `orbit` is the one meant for sweeps (`rotated` is orbit at a small fixed angle).
# The valid ranges keep the workspace in view or the camera geometry meaningful.
PERTURBATIONS: dict[str, PerturbationPreset] = {
    "nominal": PerturbationPreset("none", 0.0, (0.0, 0.0), lambda m: CameraPerturbation("nominal")),
    "shifted": PerturbationPreset("cm", 3.0, (-20.0, 20.0),
                                  lambda m: CameraPerturbation("shifted", shift_right_m=m / 100)),
    "rotated": PerturbationPreset("deg", 8.0, (-90.0, 90.0), lambda m: CameraPerturbation("rotated", orbit_deg=m)),
    "zoomed": PerturbationPreset("deg fovy", -5.0, (-30.0, 60.0),
                                 lambda m: CameraPerturbation("zoomed", fovy_delta_deg=m)),
    "far": PerturbationPreset("x distance", 1.3, (0.5, 3.0), lambda m: CameraPerturbation("far", distance_scale=m)),
    "orbit": PerturbationPreset("deg", 15.0, (-90.0, 90.0), lambda m: CameraPerturbation("orbit", orbit_deg=m)),
}
CALIBRATION_MODES = ("true", "nominal")  # what agents are told: the real calibration, or the stale nominal one


@dataclass(frozen=True)
class CameraConfig:
    """Which perturbation moves the primary camera, how far, and what agents are told about it."""

    name: str = "nominal"  # a key of PERTURBATIONS
    magnitude: float | None = None  # in the perturbation's unit; None: its default
    calibration: str = "true"  # "true": the real calibration; "nominal": the stale, unperturbed one

    def __post_init__(self):
        check_choice("calibration", self.calibration, CALIBRATION_MODES)
        resolve_magnitude(self.name, self.magnitude)

    def resolved(self) -> CameraConfig:
        """The same config with the magnitude the env uses (the preset's default filled in)."""
        return dataclasses.replace(self, magnitude=resolve_magnitude(self.name, self.magnitude))


def resolve_magnitude(name: str, magnitude: float | None = None) -> float:
    """``magnitude`` in the named preset's unit, or the preset's default when None; refuses values outside
    the preset's valid range (and NaN, inf) with a message naming it."""
    preset = PERTURBATIONS[check_choice("camera perturbation", name, PERTURBATIONS)]
    if magnitude is None:
        return preset.default
    value = float(magnitude)
    lo, hi = preset.valid
    if not (math.isfinite(value) and lo <= value <= hi):
        if lo == hi:
            raise ConfigError(f"camera {name!r} takes no magnitude (got {magnitude}); leave camera.magnitude "
                              f"unset or choose a perturbation: {', '.join(sorted(set(PERTURBATIONS) - {name}))}")
        raise ConfigError(f"camera {name!r} magnitude must be within [{lo:g}, {hi:g}] {preset.unit}, "
                          f"got {magnitude}")
    return value


def make_perturbation(name: str, magnitude: float | None = None) -> CameraPerturbation:
    """The named perturbation at ``magnitude`` (its preset's unit) or its default."""
    magnitude = resolve_magnitude(name, magnitude)  # checks the name first
    return PERTURBATIONS[name].build(magnitude)


@dataclass(frozen=True, eq=False)
class Calibration:
    """Intrinsics ``K`` and extrinsics ``T_world_cam`` of one camera (OpenCV axes)."""

    name: str
    K: np.ndarray
    T_world_cam: np.ndarray
    width: int
    height: int

    def __eq__(self, other) -> bool:
        if not isinstance(other, Calibration):
            return NotImplemented
        return (self.name, self.width, self.height) == (other.name, other.width, other.height) \
            and np.array_equal(self.K, other.K) and np.array_equal(self.T_world_cam, other.T_world_cam)

    __hash__ = None  # type: ignore[assignment]  # mutable arrays inside: not hashable

    @classmethod
    def from_spec(cls, spec: CameraSpec) -> Calibration:
        fy = (spec.height / 2.0) / np.tan(np.deg2rad(spec.fovy) / 2.0)
        K = np.array([[fy, 0.0, (spec.width - 1) / 2.0], [0.0, fy, (spec.height - 1) / 2.0], [0, 0, 1.0]])
        T = make_T(spec.rotation(), np.asarray(spec.position, float))
        return cls(spec.name, K, T, spec.width, spec.height)

    @property
    def position(self) -> np.ndarray:
        return self.T_world_cam[:3, 3].copy()

    @property
    def fovy(self) -> float:
        return float(np.rad2deg(2 * np.arctan((self.height / 2.0) / self.K[1, 1])))

    def to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """Points (N, 3) in the world frame -> camera frame (OpenCV axes)."""
        R, t = self.T_world_cam[:3, :3], self.T_world_cam[:3, 3]
        return (np.atleast_2d(points_world) - t) @ R

    def project(self, points_world: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> pixels (N, 2) as (u, v) = (column, row)."""
        pc = self.to_camera(points_world)
        if np.any(pc[:, 2] <= 0):
            raise GeometryError(f"camera {self.name!r}: cannot project points behind the camera")
        uv = pc @ self.K.T
        return uv[:, :2] / uv[:, 2:3]

    def rays(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels (N, 2) -> ray directions (N, 3) in the world frame, unit camera-z."""
        px = np.atleast_2d(np.asarray(pixels, float))
        homog = np.column_stack([px, np.ones(len(px))])
        d_cam = homog @ np.linalg.inv(self.K).T
        return d_cam @ self.T_world_cam[:3, :3].T

    def unproject(self, pixels: np.ndarray, plane_z: float | None = None, depth=None) -> np.ndarray:
        """Pixels (N, 2) -> world points (N, 3).

        Give ``plane_z`` to intersect each pixel's ray with the horizontal plane
        z = plane_z (world metres), or ``depth`` (scalar or (N,), metres along the
        camera's z axis, as in a depth image) to place each point at that depth.
        """
        if (plane_z is None) == (depth is None):
            raise ConfigError("unproject needs exactly one of plane_z= or depth=")
        d = self.rays(pixels)
        c = self.position
        if depth is not None:
            return c + d * np.reshape(np.asarray(depth, float), (-1, 1))
        dz = d[:, 2]
        if np.any(np.abs(dz) < 1e-12):
            raise GeometryError(f"camera {self.name!r}: a ray is parallel to the plane z={plane_z}")
        t = (plane_z - c[2]) / dz
        if np.any(t <= 0):
            raise GeometryError(f"camera {self.name!r}: plane z={plane_z} is behind the camera for some pixels")
        return c + d * t[:, None]


def mujoco_quat(spec: CameraSpec) -> np.ndarray:
    """Orientation quaternion (w, x, y, z) of the MuJoCo camera for ``spec``."""
    return mat_to_quat(spec.rotation() @ _CV_TO_MJ)
