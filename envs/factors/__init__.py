"""Perturbation factors beyond the camera: named axes with units, swept by magnitude.

Each axis is data (:data:`AXES`): a unit, a nominal value (no change), the
range of values accepted and a documented maximum (the harshest level the
published sweep uses; the oracle must still succeed there).  A
:class:`FactorsConfig` holds one value per axis, all nominal by default; the
harness's ``factors`` node is derived from it, so
``python -m eval.run -m agent=classic factors.light_intensity=1,0.6,0.3`` sweeps one.

An axis acts on the env through an :class:`Effect` (its hooks: compile-time
additions, per-episode draws, per-step changes, observation images, the
reported calibration).  An effect is built only when its axes are off nominal,
so a nominal config compiles and renders exactly the scene it did before
factors existed.  Every random part (which texture, which way a cube is nudged,
the pixel noise) is drawn from the effect's own stream, derived from the
episode's scene seed: every agent meets the identical perturbed scene, and
turning one axis on does not change the draws of another.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Union

import numpy as np

from envs.errors import ConfigError, check_choice
from envs.tasks.base import LANGUAGE_SETS

if TYPE_CHECKING:
    import mujoco

    from envs.cameras import Calibration

Level = Union[float, str]


@dataclass(frozen=True)
class Axis:
    """One perturbation axis: ``valid`` is a closed numeric range, or the levels of a categorical axis."""

    name: str
    unit: str
    nominal: Level
    valid: tuple
    maximum: Level  # the documented harshest level (the published sweep's last one)
    doc: str
    integer: bool = False  # whole numbers only (counts, JPEG quality)

    @property
    def categorical(self) -> bool:
        return isinstance(self.nominal, str)

    def check(self, value) -> Level:
        """``value`` as this axis's type, or ConfigError naming the valid range or levels."""
        if self.categorical:
            return check_choice(f"factors.{self.name}", str(value), self.valid)
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"factors.{self.name} must be a number in {self.unit}, got {value!r}") from None
        lo, hi = self.valid
        if not (math.isfinite(v) and lo <= v <= hi):
            raise ConfigError(f"factors.{self.name} must be within [{lo:g}, {hi:g}] {self.unit} "
                              f"(nominal {self.nominal:g}, documented maximum {self.maximum:g}), got {value}")
        if self.integer and not v.is_integer():
            raise ConfigError(f"factors.{self.name} must be a whole number of {self.unit}, got {value}")
        return v


TABLE_TEXTURES = ("wood", "cloth", "checker", "noise")


@dataclass(frozen=True)
class FactorsConfig:
    """One value per axis of :data:`AXES`, plus the options of some axes.  Each field's default is its axis's
    nominal value (no change), written here once; an ``int`` field is an axis of whole numbers."""

    light_intensity: float = 1.0
    light_direction_deg: float = 0.0
    light_temperature_k: float = 6500.0
    table_contrast: float = 0.0
    object_hue_deg: float = 0.0
    object_saturation: float = 0.0
    object_value: float = 0.0
    clutter: int = 0
    pixel_noise_sigma: float = 0.0
    blur_px: float = 0.0
    jpeg_quality: int = 100
    robot_init_rad: float = 0.0
    language: str = "train"
    disturbance_cm: float = 0.0
    calibration_error_mm: float = 0.0
    calibration_error_deg: float = 0.0
    # options (not axes)
    table_textures: tuple[str, ...] = TABLE_TEXTURES  # kinds a procedural table texture is drawn from
    table_image: str | None = None  # an image file for the table top (blended by table_contrast)

    def __post_init__(self):
        for axis in AXES.values():
            axis.check(getattr(self, axis.name))
        if not self.table_textures:
            raise ConfigError(f"factors.table_textures must name at least one of {', '.join(TABLE_TEXTURES)}")
        for kind in self.table_textures:
            check_choice("factors.table_textures entry", kind, TABLE_TEXTURES)
        if self.table_image is not None and not Path(self.table_image).expanduser().is_file():
            raise ConfigError(f"factors.table_image={self.table_image} is not a file; give a PNG or JPEG image "
                              "(it is blended in by factors.table_contrast) or leave it unset")

    def off_nominal(self) -> dict[str, Level]:
        """The axes not at their nominal value, by name."""
        return {a.name: getattr(self, a.name) for a in AXES.values() if getattr(self, a.name) != a.nominal}

    def label(self) -> str:
        """``nominal``, or the off-nominal axes as ``name=value`` joined by ``;`` (the ``factors`` column)."""
        off = self.off_nominal()
        return ";".join(f"{k}={_fmt(v)}" for k, v in off.items()) or "nominal"


def _axis(name: str, unit: str, valid: tuple, maximum: Level, doc: str) -> Axis:
    """The axis of ``FactorsConfig.<name>``: its nominal value and whether it counts come from that field."""
    nominal = FactorsConfig.__dataclass_fields__[name].default
    assert isinstance(nominal, (int, float, str)), f"FactorsConfig.{name} needs a plain default"
    return Axis(name, unit, nominal, valid, maximum, doc, integer=type(nominal) is int)


_AXES = (
    _axis("light_intensity", "x nominal", (0.1, 2.0), 0.2,
          "every light (key, fill, headlight) scaled by this factor"),
    _axis("light_direction_deg", "deg", (0.0, 65.0), 60.0,
          "key light tilted this far from its nominal direction, toward an azimuth drawn per episode"),
    _axis("light_temperature_k", "K", (1500.0, 15000.0), 2000.0,
          "colour temperature of every light (6500 K renders white)"),
    _axis("table_contrast", "fraction", (0.0, 1.0), 1.0,
          "contrast of a procedural table texture (kind drawn per episode from factors.table_textures), "
          "or the weight of factors.table_image"),
    _axis("object_hue_deg", "deg", (0.0, 15.0), 12.0,
          "each named colour's hue shifted by up to this much (drawn per colour per episode)"),
    _axis("object_saturation", "fraction", (0.0, 0.6), 0.5,
          "each named colour's saturation scaled by 1 +- up to this fraction"),
    _axis("object_value", "fraction", (0.0, 0.6), 0.5,
          "each named colour's brightness (HSV value) scaled by 1 +- up to this fraction"),
    _axis("clutter", "objects", (0.0, 5.0), 4.0,
          "non-task objects (cylinders, spheres, low boxes) in palette colours, which may share a target's colour"),
    _axis("pixel_noise_sigma", "0-255", (0.0, 80.0), 40.0,
          "Gaussian noise added to every observed pixel (standard deviation, 0-255 units)"),
    _axis("blur_px", "px", (0.0, 8.0), 4.0, "Gaussian blur of the observed images (standard deviation)"),
    _axis("jpeg_quality", "quality", (5.0, 100.0), 10.0,
          "observed images JPEG-compressed at this quality (100: not compressed)"),
    _axis("robot_init_rad", "rad", (0.0, 0.5), 0.3,
          "each arm joint's initial position offset from home by up to this much"),
    _axis("language", "instruction set", LANGUAGE_SETS, "heldout",
          "the task's instruction templates: train, heldout (wording never in train), synonyms, verbose"),
    _axis("disturbance_cm", "cm", (0.0, 10.0), 8.0,
          "the task's cube pushed this far in a random horizontal direction when the gripper first comes near it"),
    _axis("calibration_error_mm", "mm", (0.0, 50.0), 20.0,
          "the reported calibration's camera position off by this much, in a random direction"),
    _axis("calibration_error_deg", "deg", (0.0, 10.0), 3.0,
          "the reported calibration's camera orientation off by this much, about a random axis"),
)
AXES: dict[str, Axis] = {a.name: a for a in _AXES}


def _fmt(v: Level) -> str:
    return v if isinstance(v, str) else f"{float(v):g}"


def parse_label(label: str) -> dict[str, Level]:
    """The inverse of :meth:`FactorsConfig.label` (numbers as floats)."""
    if label in ("", "nominal") or label is None:
        return {}
    out: dict[str, Level] = {}
    for part in str(label).split(";"):
        name, _, value = part.partition("=")
        axis = AXES[check_choice("factor axis", name, AXES)]
        out[name] = value if axis.categorical else float(value)
    return out


def make_factors(config: FactorsConfig | dict | None) -> FactorsConfig:
    if isinstance(config, FactorsConfig):
        return config
    config = dict(config or {})
    known = {f.name for f in dataclasses.fields(FactorsConfig)}
    for key in config:
        check_choice("factor axis", key, known)
    if "table_textures" in config:
        config["table_textures"] = tuple(config["table_textures"])
    return FactorsConfig(**config)


# --- effects ----------------------------------------------------------------
class Effect:
    """What one axis (or a group of related axes) does to the env; every hook is a no-op by default.

    ``stream``: a fixed number naming this effect's random stream (never reuse one).
    """

    stream: ClassVar[int]
    axes: ClassVar[tuple[str, ...]]

    def __init__(self, config: FactorsConfig):
        self.config = config

    @classmethod
    def active(cls, config: FactorsConfig) -> bool:
        """Built only when one of its axes is off nominal."""
        return any(getattr(config, a) != AXES[a].nominal for a in cls.axes)

    def build(self, spec: mujoco.MjSpec) -> None:
        """Add to the model before it compiles (textures, bodies)."""

    def bind(self, env) -> None:
        """After the env is built: look up ids, remember nominal model values."""

    def reset(self, env, rng: np.random.Generator) -> None:
        """Per episode, after the task placed its objects and before the scene settles."""

    def after_step(self, env) -> None:
        """After each control step's physics, before the task is evaluated."""

    def image(self, camera: str, image: np.ndarray) -> np.ndarray:
        """An observed image (uint8 HxWx3) of ``camera``, as the agent will see it."""
        return image

    def calibration(self, camera: str, calibration: Calibration) -> Calibration:
        """What agents are told about ``camera``."""
        return calibration

    def info(self) -> dict:
        """What the episode's ``info["factors"]`` reports of this effect (ground truth, for logs)."""
        return {}


EFFECTS: list[type[Effect]] = []  # filled by register(); order = application order


def register(cls: type[Effect]) -> type[Effect]:
    if any(e.stream == cls.stream for e in EFFECTS):
        raise ConfigError(f"effect stream {cls.stream} of {cls.__name__} is already taken")
    EFFECTS.append(cls)
    return cls


class FactorEffects:
    """The active effects of one env, called from its hooks."""

    def __init__(self, config: FactorsConfig):
        _load_effects()
        self.config = config
        self.effects = [cls(config) for cls in EFFECTS if cls.active(config)]

    def build(self, spec: mujoco.MjSpec) -> None:
        for e in self.effects:
            e.build(spec)

    def bind(self, env) -> None:
        for e in self.effects:
            e.bind(env)

    def reset(self, env, entropy: int) -> None:
        for e in self.effects:
            e.reset(env, np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(e.stream,))))

    def after_step(self, env) -> None:
        for e in self.effects:
            e.after_step(env)

    def image(self, camera: str, image: np.ndarray) -> np.ndarray:
        for e in self.effects:
            image = e.image(camera, image)
        return image

    def calibration(self, camera: str, calibration: Calibration) -> Calibration:
        for e in self.effects:
            calibration = e.calibration(camera, calibration)
        return calibration

    def info(self) -> dict:
        out: dict = {}
        for e in self.effects:
            out.update(e.info())
        return out


def _load_effects() -> None:
    """Import the effect modules (each registers its classes once)."""
    from envs.factors import effects  # noqa: F401
