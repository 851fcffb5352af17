"""Lighting: intensity, key-light direction and colour temperature, set on the compiled model per episode.

Shadows follow the scene's visual preset (``scene=shadows`` casts the key light's shadow); sweeps of the
light direction are meant to run with it.
"""

from __future__ import annotations

import numpy as np

from envs.factors import Effect, register

NOMINAL_TEMPERATURE_K = 6500.0  # renders as the lights' nominal (white) colour


def temperature_rgb(kelvin: float) -> np.ndarray:
    """Relative RGB of a black body at ``kelvin`` (Tanner Helland's fit of the CIE data, 1000-40000 K),
    scaled so that 6500 K is (1, 1, 1)."""
    return _planck_rgb(kelvin) / _planck_rgb(NOMINAL_TEMPERATURE_K)


def _planck_rgb(kelvin: float) -> np.ndarray:
    t = float(np.clip(kelvin, 1000.0, 40000.0)) / 100.0
    r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    g = 99.4708025861 * np.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * np.log(t - 10) - 305.0447927307)
    return np.clip(np.array([r, g, b]), 1.0, 255.0) / 255.0


def tilt(direction: np.ndarray, angle_rad: float, azimuth_rad: float) -> np.ndarray:
    """``direction`` rotated by ``angle_rad`` about the perpendicular axis at ``azimuth_rad`` around it."""
    d = direction / np.linalg.norm(direction)
    u = np.cross(d, [0.0, 0.0, 1.0])
    u = u / np.linalg.norm(u) if np.linalg.norm(u) > 1e-9 else np.array([1.0, 0.0, 0.0])
    v = np.cross(d, u)
    k = np.cos(azimuth_rad) * u + np.sin(azimuth_rad) * v  # unit, perpendicular to d
    return d * np.cos(angle_rad) + np.cross(k, d) * np.sin(angle_rad)  # Rodrigues, k . d = 0


@register
class Lighting(Effect):
    stream = 1
    axes = ("light_intensity", "light_direction_deg", "light_temperature_k")

    def bind(self, env) -> None:
        m = env.model
        self.model = m
        self.key = m.light("key").id
        self.nominal = {"diffuse": m.light_diffuse.copy(), "specular": m.light_specular.copy(),
                        "ambient": m.light_ambient.copy(), "dir": m.light_dir.copy(),
                        "head_ambient": m.vis.headlight.ambient.copy(), "head_diffuse": m.vis.headlight.diffuse.copy()}

    def reset(self, env, rng: np.random.Generator) -> None:
        c, m, n = self.config, self.model, self.nominal
        azimuth = rng.uniform(0.0, 2 * np.pi)  # drawn even when the direction is nominal: streams stay aligned
        scale = c.light_intensity * temperature_rgb(c.light_temperature_k)
        m.light_diffuse[:] = n["diffuse"] * scale
        m.light_specular[:] = n["specular"] * scale
        m.light_ambient[:] = n["ambient"] * scale
        m.vis.headlight.ambient[:] = n["head_ambient"] * scale
        m.vis.headlight.diffuse[:] = n["head_diffuse"] * scale
        m.light_dir[:] = n["dir"]
        m.light_dir[self.key] = tilt(n["dir"][self.key], np.deg2rad(c.light_direction_deg), azimuth)
