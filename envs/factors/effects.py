"""The effect modules, imported in application order (scene first, then the images, then the calibration)."""

from envs.factors import lighting  # noqa: F401
