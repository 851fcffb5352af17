"""The tabletop scene: WidowX 250s, table, coloured cubes, target mats, lights, cameras.

Every colour in the palette has one cube and one mat in the compiled model, so
the model never changes between episodes.  Objects an episode does not use are
parked on a hidden shelf under the table top (out of every camera's view).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Sequence

import mujoco

from envs.cameras import CameraSpec, mujoco_quat
from envs.errors import ConfigError, check_choice

log = logging.getLogger(__name__)

PHYSICS_HZ = 500  # Menagerie's timestep, 0.002 s
ROBOT_XML = Path(str(resources.files("envs") / "assets" / "wx250s.xml"))

# Named colours (RGBA).  Cubes and mats share the palette; a scene never uses one
# colour twice, so "the blue target" and "the blue block" never coexist.
COLORS: dict[str, tuple[float, float, float, float]] = {
    "red": (0.85, 0.10, 0.10, 1.0),
    "green": (0.10, 0.65, 0.15, 1.0),
    "blue": (0.10, 0.25, 0.90, 1.0),
    "yellow": (0.95, 0.85, 0.10, 1.0),
    "purple": (0.55, 0.15, 0.75, 1.0),
    "orange": (1.00, 0.50, 0.05, 1.0),
}

BLOCK_HALF_SIZE_M = 0.02  # 4 cm cubes, as in the seed scene
SMALL_BLOCK_HALF_SIZE_M = 0.015  # 3 cm cubes: "the small red block" beside a 4 cm red one
BLOCK_MASS_KG = 0.05  # seed scene
MAT_RADIUS_M = 0.05  # seed scene's target mats
MAT_HALF_THICKNESS_M = 0.0005  # visual only: cubes rest on the table through it
TRAY_HALF_SIZE_M = 0.07  # a 14 cm square tray holds three 4 cm cubes side by side
TRAY_RGBA = (0.86, 0.86, 0.84, 1.0)  # light grey: a colour no cube or mat has
TABLE_TOP_Z_M = 0.0  # the table top is the world's z = 0 plane
TABLE_HALF_EXTENTS_M = (0.40, 0.50, 0.02)
TABLE_CENTER_XY_M = (0.22, 0.0)
SHELF_Z_M = -0.30  # hidden parking shelf under the table top
# Collision bits: world geoms collide with everything, robot geoms (contype 2,
# conaffinity 1 in wx250s.xml) only with the world.
WORLD_CONTYPE, WORLD_CONAFFINITY = 1, 3

VISUAL_PRESETS = {
    # lean: no shadows, no reflections; 3-4x faster on a software renderer.
    "lean": {"shadow": False, "shadowsize": 1024},
    # shadows: one shadow-casting key light at 1024^2, closer to real images.
    "shadows": {"shadow": True, "shadowsize": 1024},
}


def block_name(block: str) -> str:
    """MuJoCo name of the cube with id ``block``: its colour (the palette's 4 cm cube), or an extra's id."""
    return f"block_{block}"


def block_color(block: str) -> str:
    """The colour of cube ``block`` (ids are ``<colour>`` or ``<colour>_<variant>``)."""
    return block.split("_", 1)[0]


@dataclass(frozen=True)
class ExtraObjects:
    """Objects beyond the palette's one 4 cm cube and one mat per colour, compiled only into the models of
    tasks that use them (the others keep the model they always had)."""

    duplicate_blocks: bool = False  # a second 4 cm cube of every colour, id "<colour>_2"
    small_blocks: bool = False  # a 3 cm cube of every colour, id "<colour>_small"
    tray: bool = False  # the grey tray (a flat square target), name "tray"

    def blocks(self) -> list[tuple[str, float]]:
        """(id, half size) of every extra cube, in the order they are compiled and parked."""
        out = [(f"{c}_2", BLOCK_HALF_SIZE_M) for c in COLORS] if self.duplicate_blocks else []
        return out + ([(f"{c}_small", SMALL_BLOCK_HALF_SIZE_M) for c in COLORS] if self.small_blocks else [])


def mat_name(color: str) -> str:
    return f"target_{color}"


@dataclass(frozen=True)
class SceneConfig:
    """The scene compiled into the model, and the rate it is controlled at."""

    visual: str = "lean"  # a key of VISUAL_PRESETS
    menagerie_dir: str | None = None  # a Menagerie trossen_wx250s folder: use its meshes
    control_freq: int = 10  # Hz; one env step holds a command for PHYSICS_HZ / control_freq physics steps

    def __post_init__(self):
        check_choice("visual preset", self.visual, VISUAL_PRESETS)
        if self.control_freq <= 0 or PHYSICS_HZ % self.control_freq:
            raise ConfigError(f"control_freq must divide {PHYSICS_HZ} Hz (e.g. 5, 10, 20, 25, 50), "
                              f"got {self.control_freq}")


def build_model(config: SceneConfig, cameras: Sequence[CameraSpec],
                extend: Callable[[mujoco.MjSpec], None] | None = None,
                extras: ExtraObjects = ExtraObjects()) -> mujoco.MjModel:
    """Compile the robot, table, objects (and the task's ``extras``), lights and ``cameras`` into one model;
    ``extend`` adds to the spec before it compiles (the perturbation factors' textures and objects)."""
    spec = mujoco.MjSpec.from_file(str(ROBOT_XML))
    preset = VISUAL_PRESETS[config.visual]
    _add_visual_settings(spec, preset, cameras)
    _add_table(spec)
    _add_objects(spec, extras)
    _add_lights(spec, bool(preset["shadow"]))
    for cam in cameras:
        spec.worldbody.add_camera(
            name=cam.name, pos=list(cam.position), quat=list(mujoco_quat(cam)), fovy=cam.fovy
        )
    if config.menagerie_dir:
        from envs.robot import use_menagerie_meshes

        use_menagerie_meshes(spec, Path(config.menagerie_dir))
    if extend is not None:
        extend(spec)
    return spec.compile()


def _add_visual_settings(spec: mujoco.MjSpec, preset: dict, cameras: Sequence[CameraSpec]) -> None:
    spec.visual.global_.offwidth = max([640] + [c.width for c in cameras])
    spec.visual.global_.offheight = max([480] + [c.height for c in cameras])
    spec.visual.quality.shadowsize = preset["shadowsize"]
    spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
    spec.visual.headlight.diffuse = [0.45, 0.45, 0.45]
    spec.visual.headlight.specular = [0.0, 0.0, 0.0]


def _add_table(spec: mujoco.MjSpec) -> None:
    wood = spec.add_material(name="table_wood", rgba=[0.62, 0.48, 0.34, 1.0], specular=0.1, shininess=0.1)
    hx, hy, hz = TABLE_HALF_EXTENTS_M
    table = spec.worldbody.add_body(name="table", pos=[*TABLE_CENTER_XY_M, TABLE_TOP_Z_M - hz])
    table.add_geom(
        name="table_top", type=mujoco.mjtGeom.mjGEOM_BOX, size=[hx, hy, hz], material=wood.name,
        contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY, friction=[0.8, 0.005, 0.0001],
    )
    shelf = spec.worldbody.add_body(name="parking_shelf", pos=[*TABLE_CENTER_XY_M, SHELF_Z_M - 0.01])
    shelf.add_geom(
        name="parking_shelf", type=mujoco.mjtGeom.mjGEOM_BOX, size=[hx * 0.8, hy * 0.8, 0.01],
        group=3, contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY,
    )
    floor = spec.worldbody.add_body(name="floor", pos=[0, 0, -0.75])
    floor.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[3, 3, 0.1], rgba=[0.3, 0.3, 0.32, 1],
                   contype=0, conaffinity=0)


def _add_objects(spec: mujoco.MjSpec, extras: ExtraObjects) -> None:
    for i, (color, rgba) in enumerate(COLORS.items()):
        _add_block(spec, color, BLOCK_HALF_SIZE_M, i)
        park = parking_position(i)
        mat = spec.worldbody.add_body(name=mat_name(color), pos=[park[0], park[1] + 0.06, SHELF_Z_M], mocap=True)
        mat.add_geom(
            name=mat_name(color), type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[MAT_RADIUS_M, MAT_HALF_THICKNESS_M, 0],
            pos=[0, 0, MAT_HALF_THICKNESS_M], rgba=list(rgba), contype=0, conaffinity=0,
        )
    for i, (block, half) in enumerate(extras.blocks(), start=len(COLORS)):
        _add_block(spec, block, half, i)
    if extras.tray:
        tray = spec.worldbody.add_body(name=TRAY_NAME, pos=list(TRAY_PARK_M), mocap=True)
        tray.add_geom(name=TRAY_NAME, type=mujoco.mjtGeom.mjGEOM_BOX,
                      size=[TRAY_HALF_SIZE_M, TRAY_HALF_SIZE_M, MAT_HALF_THICKNESS_M],
                      pos=[0, 0, MAT_HALF_THICKNESS_M], rgba=list(TRAY_RGBA), contype=0, conaffinity=0)


def _add_block(spec: mujoco.MjSpec, block: str, half: float, index: int) -> None:
    body = spec.worldbody.add_body(name=block_name(block), pos=list(parking_position(index)))
    body.add_freejoint(name=block_name(block))
    body.add_geom(
        name=block_name(block), type=mujoco.mjtGeom.mjGEOM_BOX, size=[half] * 3, rgba=list(COLORS[block_color(block)]),
        mass=BLOCK_MASS_KG, contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY, condim=4,
        friction=[1.0, 0.02, 0.002],
    )


TRAY_NAME = "tray"
TRAY_PARK_M = (TABLE_CENTER_XY_M[0] - 0.2, 0.0, SHELF_Z_M)


def parking_position(index: int) -> tuple[float, float, float]:
    """Where unused cube ``index`` waits on the hidden shelf: rows of six, 12 cm apart (the palette's cubes
    in the first row, extras behind)."""
    row, col = divmod(index, len(COLORS))
    return (TABLE_CENTER_XY_M[0] + 0.1 * row, -0.3 + 0.12 * col, SHELF_Z_M + BLOCK_HALF_SIZE_M)


def _add_lights(spec: mujoco.MjSpec, shadow: bool) -> None:
    spec.worldbody.add_light(
        name="key", pos=[0.1, -0.4, 1.2], dir=[0.2, 0.35, -1.0], diffuse=[0.55, 0.55, 0.55],
        specular=[0.1, 0.1, 0.1], castshadow=shadow, type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
    )
    spec.worldbody.add_light(
        name="fill", pos=[0.6, 0.6, 1.0], dir=[-0.3, -0.3, -1.0], diffuse=[0.25, 0.25, 0.25],
        specular=[0.0, 0.0, 0.0], castshadow=False, type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
    )


def validate_colors(colors: Sequence[str]) -> None:
    for c in colors:
        check_choice("colour", c, COLORS)
    if len(set(colors)) != len(colors):
        raise ConfigError(f"colours must be distinct within a scene, got {list(colors)}")
