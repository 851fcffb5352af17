"""WidowX 250s tabletop environments for comparing VLAs and tool-using agents.

    import gymnasium as gym, envs
    env = gym.make("WidowXTabletop-v0", task="place", camera="nominal")
"""

from envs._gl import ensure_headless_gl

ensure_headless_gl()

import gymnasium as gym  # noqa: E402

from envs.cameras import (  # noqa: E402
    PERTURBATIONS,
    Calibration,
    CameraConfig,
    CameraPerturbation,
    CameraSpec,
    make_perturbation,
)
from envs.errors import BenchError, ConfigError, GeometryError, SimulationError  # noqa: E402

ENV_ID = "WidowXTabletop-v0"
DEFAULT_MAX_EPISODE_STEPS = 200  # 20 s at the default 10 Hz control

if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="envs.widowx_env:WidowXTabletopEnv",
                 max_episode_steps=DEFAULT_MAX_EPISODE_STEPS)

__all__ = ["ENV_ID", "BenchError", "ConfigError", "GeometryError", "SimulationError", "Calibration", "CameraConfig",
           "CameraPerturbation", "CameraSpec", "PERTURBATIONS", "make_perturbation"]
