"""Per-episode randomization as data: named ranges and samplers.

Everything here draws only from the ``np.random.Generator`` it is given, so a
seeded ``env.reset(seed=...)`` reproduces the same scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.cameras import CameraPerturbation
from envs.errors import ConfigError, SimulationError


@dataclass(frozen=True)
class Range:
    """A closed interval [low, high] sampled uniformly."""

    low: float
    high: float

    def __post_init__(self):
        if self.low > self.high:
            raise ConfigError(f"range low {self.low} > high {self.high}")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True)
class Workspace:
    """Where object centres may be placed (robot base frame, metres).

    The default box is reachable with a top-down grasp by the WidowX 250s and
    lies inside the nominal primary camera's view.
    """

    x: Range = Range(0.18, 0.34)
    y: Range = Range(-0.15, 0.15)
    clearance_m: float = 0.01  # gap kept between object footprints

    def sample_xy(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([self.x.sample(rng), self.y.sample(rng)])

    def bounds(self, margin_m: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper (x, y) corners of the box widened by ``margin_m`` on every side."""
        return (np.array([self.x.low - margin_m, self.y.low - margin_m]),
                np.array([self.x.high + margin_m, self.y.high + margin_m]))

    def contains(self, xy: np.ndarray, margin_m: float = 0.0) -> bool:
        """Whether ``xy`` lies in the box widened by ``margin_m``."""
        lo, hi = self.bounds(margin_m)
        return bool(np.all(lo <= xy) and np.all(xy <= hi))


# A cube is symmetric under 90 degree turns, so this covers every yaw.
BLOCK_YAW_RAD = Range(-np.pi / 4, np.pi / 4)
LAYOUT_MAX_TRIES = 2000


def sample_layout(rng: np.random.Generator, radii: list[float], workspace: Workspace) -> np.ndarray:
    """Centres (N, 2) for footprints of the given radii, pairwise non-overlapping.

    Rejection sampling, object by object; raises if the workspace is too
    crowded to fit them (fewer distractors, or a larger workspace, fixes it).
    """
    placed: list[np.ndarray] = []
    for i, r in enumerate(radii):
        for _ in range(LAYOUT_MAX_TRIES):
            xy = workspace.sample_xy(rng)
            if all(np.linalg.norm(xy - p) >= r + radii[j] + workspace.clearance_m for j, p in enumerate(placed)):
                placed.append(xy)
                break
        else:
            raise SimulationError(
                f"could not place object {i + 1} of {len(radii)} in the workspace after "
                f"{LAYOUT_MAX_TRIES} tries; reduce the number of distractors"
            )
    return np.array(placed)


def sample_layout_redrawn(rng: np.random.Generator, radii: list[float], workspace: Workspace,
                          layouts: int) -> np.ndarray:
    """:func:`sample_layout`, whole layouts drawn again (up to ``layouts``) when one paints itself into a
    corner object by object (crowded scenes: sort's six footprints, gather's tray)."""
    for attempt in range(layouts):
        try:
            return sample_layout(rng, radii, workspace)
        except SimulationError:
            if attempt == layouts - 1:
                raise
    raise SimulationError("no layout drawn: layouts must be >= 1")


def choose_colors(rng: np.random.Generator, palette: list[str], n: int) -> list[str]:
    """``n`` distinct colours from ``palette`` in random order."""
    if n > len(palette):
        raise ConfigError(f"scene needs {n} distinct colours but the palette has {len(palette)}: {palette}")
    return [palette[i] for i in rng.choice(len(palette), size=n, replace=False)]


@dataclass(frozen=True)
class ViewpointRange:
    """Named ranges of a random camera perturbation (viewpoint randomization)."""

    orbit_deg: Range = Range(-15.0, 15.0)
    shift_right_m: Range = Range(-0.03, 0.03)
    distance_scale: Range = Range(0.9, 1.15)
    fovy_delta_deg: Range = Range(-3.0, 3.0)

    def sample(self, rng: np.random.Generator) -> CameraPerturbation:
        return CameraPerturbation(name="random", orbit_deg=self.orbit_deg.sample(rng),
                                  distance_scale=self.distance_scale.sample(rng),
                                  shift_right_m=self.shift_right_m.sample(rng),
                                  fovy_delta_deg=self.fovy_delta_deg.sample(rng))
