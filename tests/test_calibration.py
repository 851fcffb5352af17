"""Calibration API: pinhole math, MuJoCo agreement via segmentation, perturbations, stale calibration."""

import mujoco
import numpy as np
import pytest

from envs import ConfigError
from envs.cameras import PERTURBATIONS, PRIMARY, THIRD_PERSON, Calibration, CameraPerturbation, make_perturbation
from envs.errors import GeometryError
from envs.geometry import look_at


def test_intrinsics_from_fovy_and_resolution():
    cal = PRIMARY.calibration()
    fy = 120 / np.tan(np.deg2rad(39 / 2))
    np.testing.assert_allclose(cal.K, [[fy, 0, 159.5], [0, fy, 119.5], [0, 0, 1]])
    assert cal.fovy == pytest.approx(39.0)
    assert (cal.width, cal.height) == (320, 240)


def test_extrinsics_are_opencv_axes_looking_at_target():
    cal = PRIMARY.calibration()
    R, t = cal.T_world_cam[:3, :3], cal.T_world_cam[:3, 3]
    np.testing.assert_allclose(t, PRIMARY.position)
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    forward = np.subtract(PRIMARY.target, PRIMARY.position)
    np.testing.assert_allclose(R[:, 2], forward / np.linalg.norm(forward))
    assert R[2, 1] < 0  # image y (down) points down in the world
    # the look-at point projects to the principal point
    np.testing.assert_allclose(cal.project(np.array([PRIMARY.target]))[0], [159.5, 119.5], atol=1e-9)


def test_project_unproject_round_trip():
    cal = make_perturbation("rotated").apply(PRIMARY).calibration()
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(0.15, 0.35, 20), rng.uniform(-0.15, 0.15, 20), rng.uniform(0, 0.1, 20)])
    px = cal.project(pts)
    for i, p in enumerate(pts):  # plane form
        np.testing.assert_allclose(cal.unproject(px[i:i + 1], plane_z=p[2])[0], p, atol=1e-9)
    depth = cal.to_camera(pts)[:, 2]
    np.testing.assert_allclose(cal.unproject(px, depth=depth), pts, atol=1e-9)  # depth form


def test_unproject_rejects_ambiguous_or_impossible_requests():
    cal = PRIMARY.calibration()
    with pytest.raises(ConfigError, match="exactly one"):
        cal.unproject(np.array([[10.0, 10.0]]))
    with pytest.raises(GeometryError, match="behind"):
        cal.unproject(np.array([[160.0, 5.0]]), plane_z=1.0)  # plane above the camera
    with pytest.raises(GeometryError, match="behind the camera"):
        cal.project(np.array([[0.0, -0.5, 0.6]]))
    level = np.eye(4)
    level[:3, :3] = [[0, 0, 1], [-1, 0, 0], [0, -1, 0]]  # optical axis along world +x: a level camera
    level[:3, 3] = cal.position
    flat = Calibration(cal.name, cal.K, level, cal.width, cal.height)
    with pytest.raises(GeometryError, match="parallel to the plane"):  # its principal ray never meets the table
        flat.unproject(np.array([[cal.K[0, 2], cal.K[1, 2]]]), plane_z=0.0)


def test_perturbations_move_the_camera_as_named():
    nominal = PRIMARY.calibration()
    shifted = make_perturbation("shifted", 4.0).apply(PRIMARY).calibration()
    d = shifted.position - nominal.position
    assert np.linalg.norm(d) == pytest.approx(0.04)
    np.testing.assert_allclose(shifted.T_world_cam[:3, :3], nominal.T_world_cam[:3, :3], atol=1e-12)
    rotated = make_perturbation("rotated", 10.0).apply(PRIMARY)
    target = np.array(PRIMARY.target)
    assert np.linalg.norm(np.subtract(rotated.position, target)) == pytest.approx(
        np.linalg.norm(np.subtract(PRIMARY.position, target)))
    cosang = np.dot(look_at(rotated.position, target)[:, 2], look_at(PRIMARY.position, target)[:, 2])
    assert np.rad2deg(np.arccos(np.clip(cosang, -1, 1))) > 5
    assert make_perturbation("zoomed").apply(PRIMARY).calibration().fovy == pytest.approx(34.0)
    far = make_perturbation("far", 1.5).apply(PRIMARY)
    assert np.linalg.norm(np.subtract(far.position, target)) == pytest.approx(
        1.5 * np.linalg.norm(np.subtract(PRIMARY.position, target)))
    assert make_perturbation("orbit", 0.0).apply(PRIMARY) == PRIMARY
    with pytest.raises(ConfigError, match="fovy"):
        CameraPerturbation(fovy_delta_deg=-40).apply(PRIMARY)


def _visible_blocks(u, seg):
    """(colour, centroid (u, v)) of cubes fully inside the image and not occluded."""
    out = []
    for c in u.handle.active_blocks:
        mask = (seg[..., 0] == u.handle.block_geom_id(c)) & (seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM))
        rows, cols = np.nonzero(mask)
        if len(rows) < 100 or rows.min() == 0 or cols.min() == 0 \
                or rows.max() == seg.shape[0] - 1 or cols.max() == seg.shape[1] - 1:
            continue
        out.append((c, np.array([cols.mean(), rows.mean()])))
    return out


@pytest.mark.parametrize("camera", ["nominal", "shifted", "rotated"])
def test_projection_matches_mujoco_segmentation_and_unprojects_to_table(make_env, camera):
    env = make_env(task="place", camera=camera)
    u = env.unwrapped
    n = 0
    for seed in range(4):
        env.reset(seed=seed)
        cal = u.calibration("primary")
        seg = u.render_camera_image("primary", segmentation=True)
        for color, centroid in _visible_blocks(u, seg):
            p = u.handle.block_pos(color)
            assert np.linalg.norm(cal.project(p[None])[0] - centroid) < 2.0
            xy = cal.unproject(centroid[None], plane_z=p[2])[0, :2]
            assert np.linalg.norm(xy - p[:2]) < 0.005
            n += 1
    assert n >= 8


def test_mat_centre_projects_onto_its_segmentation(make_env):
    env = make_env(task="place", task_config={"num_distractor_blocks": 0})
    u = env.unwrapped
    env.reset(seed=2)
    seg = u.render_camera_image("primary", segmentation=True)
    cal = u.calibration("primary")
    for c in u.handle.active_mats:
        gid = u.model.geom(f"target_{c}").id
        rows, cols = np.nonzero(seg[..., 0] == gid)
        top = u.handle.mat_pos(c) + [0, 0, 0.001]
        assert np.linalg.norm(cal.project(top[None])[0] - [cols.mean(), rows.mean()]) < 2.0


def test_stale_calibration_reports_the_nominal_camera(make_env):
    true_env = make_env(task="place", camera="shifted", calibration="true")
    stale_env = make_env(task="place", camera="shifted", calibration="nominal")
    _, info_true = true_env.reset(seed=0)
    _, info_stale = stale_env.reset(seed=0)
    assert info_stale["calibration"]["primary"] == PRIMARY.calibration()
    assert info_true["calibration"]["primary"] != PRIMARY.calibration()
    # ground truth always knows where the camera really is
    assert stale_env.unwrapped.true_calibration("primary") == info_true["calibration"]["primary"]
    # the images are the same: only what the agent is told differs
    a = true_env.unwrapped.render_camera_image("primary")
    np.testing.assert_array_equal(a, stale_env.unwrapped.render_camera_image("primary"))


@pytest.mark.parametrize("camera", sorted(set(PERTURBATIONS) - {"nominal"}))
def test_perturbation_leaves_other_cameras_alone(make_env, camera):
    """A perturbation moves the primary camera (spec, calibration, image) and nothing else."""
    cams = ("primary", "third_person")
    nominal = make_env(task="pick", camera="nominal", obs_cameras=cams)
    moved = make_env(task="pick", camera=camera, obs_cameras=cams)
    (obs_n, info_n), (obs_m, info_m) = nominal.reset(seed=0), moved.reset(seed=0)
    n, m = nominal.unwrapped, moved.unwrapped
    assert m.specs["third_person"] == n.specs["third_person"] == THIRD_PERSON
    assert m.true_calibration("third_person") == n.true_calibration("third_person") == THIRD_PERSON.calibration()
    assert info_m["calibration"]["third_person"] == info_n["calibration"]["third_person"]
    np.testing.assert_array_equal(obs_m["images"]["third_person"], obs_n["images"]["third_person"])
    cam = n.model.camera("third_person").id
    for field in ("cam_pos", "cam_quat", "cam_fovy"):  # the compiled camera too, not only its spec
        np.testing.assert_array_equal(getattr(m.model, field)[cam], getattr(n.model, field)[cam])
    assert m.specs["primary"] != n.specs["primary"]
    assert info_m["calibration"]["primary"] != info_n["calibration"]["primary"]
    assert not np.array_equal(obs_m["images"]["primary"], obs_n["images"]["primary"])


def test_camera_can_move_between_episodes_and_stays_calibrated(make_env):
    import numpy as np

    from envs.randomization import ViewpointRange

    env = make_env(task="place")
    u = env.unwrapped
    rng = np.random.default_rng(0)
    for _ in range(2):
        pert = ViewpointRange().sample(rng)
        u.set_camera_perturbation(pert)
        env.reset(seed=3)
        cal = u.calibration("primary")
        assert cal == pert.apply(PRIMARY).calibration()
        seg = u.render_camera_image("primary", segmentation=True)
        visible = _visible_blocks(u, seg)
        assert visible
        for color, centroid in visible:
            assert np.linalg.norm(cal.project(u.handle.block_pos(color)[None])[0] - centroid) < 2.0
