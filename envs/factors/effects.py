"""The effect modules; each registers its Effect classes with envs.factors.register on import.  Effects act
on separate things (lights, textures, colours, bodies, images, the reported calibration), so the order they
are applied in (this import order) changes nothing; each draws from its own stream."""

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
