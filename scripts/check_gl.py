#!/usr/bin/env python3
"""Check that MuJoCo headless (offscreen) rendering works on this machine.

Standalone: imports nothing from the project. Exit 0 when a frame renders,
exit 1 with one message naming the system packages to install otherwise.
"""
import ctypes
import ctypes.util
import os
import sys

HINTS = {
    "egl": "sudo apt-get install libegl1 libopengl0 libgl1-mesa-dri",
    "osmesa": "sudo apt-get install libosmesa6",
}
LIBS = {"egl": ["EGL", "OpenGL"], "osmesa": ["OSMesa"]}
SONAMES = {"EGL": "libEGL.so.1", "OpenGL": "libOpenGL.so.0", "OSMesa": "libOSMesa.so"}
MODEL = '<mujoco><worldbody><geom size=".1"/></worldbody></mujoco>'


def fail(backend: str, what: str) -> None:
    hint = HINTS.get(backend, HINTS["egl"])
    print(f"GL check FAILED (MUJOCO_GL={backend}): {what}. Install: {hint}", file=sys.stderr)
    sys.exit(1)


def check_libs(backend: str) -> list[str]:
    found = []
    for name in LIBS.get(backend, []):
        path = ctypes.util.find_library(name)
        try:
            ctypes.CDLL(path or SONAMES[name])
        except OSError:
            fail(backend, f"cannot load {SONAMES[name]}")
        found.append(path or SONAMES[name])
    return found


def main() -> None:
    if not os.environ.get("DISPLAY") and not os.environ.get("MUJOCO_GL"):
        os.environ["MUJOCO_GL"] = "egl"
    backend = os.environ.get("MUJOCO_GL", "glfw").lower()
    if backend not in ("egl", "osmesa") and not os.environ.get("DISPLAY"):
        fail(backend, "no DISPLAY for an on-screen GL backend; use MUJOCO_GL=egl")
    libs = check_libs(backend)
    try:
        import mujoco

        model = mujoco.MjModel.from_xml_string(MODEL)
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        with mujoco.Renderer(model, height=32, width=32) as renderer:
            renderer.update_scene(data)
            frame = renderer.render()
        if frame.shape != (32, 32, 3):
            raise RuntimeError(f"unexpected frame shape {frame.shape}")
    except Exception as exc:  # any failure here means rendering is unusable
        fail(backend, f"{type(exc).__name__}: {exc}")
    print(f"GL check ok: MUJOCO_GL={backend}, mujoco {mujoco.__version__}, "
          f"libs: {', '.join(libs) or 'n/a'}")


if __name__ == "__main__":
    main()
