"""scene.menagerie_dir swaps in Menagerie's visual meshes; collisions and dynamics stay ours.

The real Menagerie checkout cannot be downloaded here, so the test writes a
folder with the same layout (wx250s.xml with meshdir="assets", mesh visual
geoms with contype 0 on the Menagerie body names) and small STL files.
"""

import struct

import mujoco
import numpy as np
import pytest

from envs import ConfigError

BODIES = ["wx250s/base_link", "wx250s/shoulder_link", "wx250s/gripper_link", "wx250s/left_finger_link"]


def _write_tetra_stl(path, scale_mm=20.0):
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float) * scale_mm
    faces = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]
    with open(path, "wb") as f:
        f.write(b"\0" * 80 + struct.pack("<I", len(faces)))
        for a, b, c in faces:
            f.write(struct.pack("<3f", 0, 0, 0))
            for i in (a, b, c):
                f.write(struct.pack("<3f", *v[i]))
            f.write(b"\0\0")


def _fake_menagerie(root):
    (root / "assets").mkdir(parents=True)
    meshes = []
    for i, _body in enumerate(BODIES):
        _write_tetra_stl(root / "assets" / f"part{i}.stl")
        meshes.append(f'<mesh file="part{i}.stl" scale="0.001 0.001 0.001"/>')
    nested = "".join(
        f'<body name="{b}"><geom type="mesh" mesh="part{i}" contype="0" conaffinity="0" group="2"/>'
        for i, b in enumerate(BODIES)) + "</body>" * len(BODIES)
    (root / "wx250s.xml").write_text(
        f'<mujoco><compiler meshdir="assets"/><asset>{"".join(meshes)}</asset>'
        f"<worldbody>{nested}</worldbody></mujoco>")
    return root


def test_menagerie_meshes_replace_primitive_visuals(make_env, tmp_path):
    env = make_env(task="pick", scene={"menagerie_dir": str(_fake_menagerie(tmp_path / "trossen_wx250s"))})
    m = env.unwrapped.model
    mesh_geoms = [g for g in range(m.ngeom) if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH]
    assert len(mesh_geoms) == len(BODIES)
    assert {m.body(m.geom_bodyid[g]).name for g in mesh_geoms} == set(BODIES)
    assert all(m.geom_contype[g] == 0 and m.geom_group[g] == 2 for g in mesh_geoms)
    assert m.geom("left_pad").group == 3 and m.geom("left_pad").contype == 2  # still collides, now hidden
    obs, _ = env.reset(seed=0)
    assert obs["images"]["primary"].std() > 10


def test_menagerie_dir_without_model_fails_clearly(make_env, tmp_path):
    with pytest.raises(ConfigError, match="trossen_wx250s"):
        make_env(task="pick", scene={"menagerie_dir": str(tmp_path)})
