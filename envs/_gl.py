"""Pick a headless OpenGL backend before MuJoCo creates a renderer."""

import os
import sys


def ensure_headless_gl() -> None:
    """Use EGL (Mesa llvmpipe works) when no display is present and the user chose nothing."""
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") and "MUJOCO_GL" not in os.environ:
        os.environ["MUJOCO_GL"] = "egl"
