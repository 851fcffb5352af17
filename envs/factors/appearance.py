"""Object appearance: each named colour's hue, saturation and value jittered per episode.

One draw per colour of the palette, applied to that colour's cube and mat alike (a person calls them the
same colour), within bounds where a person would still give the colour its name.
"""

from __future__ import annotations

import colorsys

import numpy as np

from envs.factors import Effect, register
from envs.scene import COLORS, block_name, mat_name


def jitter_rgb(rgb, hue_deg: float, saturation_scale: float, value_scale: float) -> np.ndarray:
    """``rgb`` in [0, 1] with its hue turned by ``hue_deg`` and saturation and value scaled (clipped to [0, 1])."""
    h, s, v = colorsys.rgb_to_hsv(*map(float, rgb))
    h = (h + hue_deg / 360.0) % 1.0
    return np.array(colorsys.hsv_to_rgb(h, min(max(s * saturation_scale, 0.0), 1.0),
                                        min(max(v * value_scale, 0.0), 1.0)))


@register
class Appearance(Effect):
    stream = 3
    axes = ("object_hue_deg", "object_saturation", "object_value")

    def bind(self, env) -> None:
        m = env.model
        self.model = m
        self.geoms = {c: [m.geom(block_name(c)).id, m.geom(mat_name(c)).id] for c in COLORS}
        self.nominal = {c: np.array(rgba[:3]) for c, rgba in COLORS.items()}
        self.drawn: dict[str, np.ndarray] = {}

    def reset(self, env, rng: np.random.Generator) -> None:
        c = self.config
        for color in COLORS:  # every colour draws, used or not: the draws do not depend on the scene
            hue = rng.uniform(-c.object_hue_deg, c.object_hue_deg)
            sat = rng.uniform(1.0 - c.object_saturation, 1.0 + c.object_saturation)
            val = rng.uniform(1.0 - c.object_value, 1.0 + c.object_value)
            rgb = jitter_rgb(self.nominal[color], hue, sat, val)
            self.drawn[color] = rgb
            for g in self.geoms[color]:
                self.model.geom_rgba[g, :3] = rgb
