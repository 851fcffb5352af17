"""The effect modules, imported in application order (scene first, then the images, then the calibration);
each registers its Effect classes with envs.factors.register."""

from envs.factors import (  # noqa: F401
    appearance,
    calibration_noise,
    clutter,
    disturbance,
    lighting,
    robot_init,
    sensor,
    table,
)
