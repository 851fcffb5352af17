"""The per-step caches (calibrations, contact scan) give what the uncached code computed."""

import numpy as np

from envs.cameras import PRIMARY, make_perturbation


def test_each_info_gets_its_own_calibration(make_env):
    """Calibrations are computed once, yet no two infos share arrays: a caller that edits one
    (or keeps it in a buffer) never changes another."""
    env = make_env(task="place")
    _, info0 = env.reset(seed=0)
    cal0 = info0["calibration"]["primary"]
    cal0.K[0, 0] = cal0.T_world_cam[0, 3] = -1.0  # a careless consumer
    _, _, _, _, info1 = env.step(env.action_space.sample())
    cal1 = info1["calibration"]["primary"]
    assert cal1 == PRIMARY.calibration() and cal1 != cal0
    assert not np.shares_memory(cal1.K, cal0.K) and not np.shares_memory(cal1.T_world_cam, cal0.T_world_cam)
    assert env.unwrapped.calibration("primary") == PRIMARY.calibration()


def test_cached_calibrations_follow_the_camera(make_env):
    """Moving the camera between episodes updates the reported (true mode) and the true
    calibration; the stale (nominal mode) one stays nominal."""
    true_env, stale_env = make_env(task="place", calibration="true"), make_env(task="place", calibration="nominal")
    for magnitude in (10.0, -20.0, 0.0, 10.0):
        pert = make_perturbation("orbit", magnitude)
        expected = pert.apply(PRIMARY).calibration()
        reported = {}
        for name, env in (("true", true_env), ("stale", stale_env)):
            env.unwrapped.set_camera_perturbation(pert)
            _, info = env.reset(seed=1)
            reported[name] = info["calibration"]["primary"]
            assert env.unwrapped.true_calibration("primary") == expected
        assert reported["true"] == true_env.unwrapped.calibration("primary") == expected
        assert reported["stale"] == stale_env.unwrapped.calibration("primary") == PRIMARY.calibration()


def test_pad_contacts_match_a_scan_of_every_contact(make_env):
    """The vectorised scan agrees with a plain loop over MuJoCo's contact list, while grasping."""
    from agents.oracle import OracleAgent

    env = make_env(task="pick", obs_cameras=())
    u, agent = env.unwrapped, OracleAgent(env)
    obs, info = env.reset(seed=0)
    agent.reset(obs["instruction"], info["calibration"])
    seen, done = set(), False
    while not done:
        obs, _, terminated, truncated, _ = env.step(agent.act(obs))
        done = terminated or truncated
        for color in u.handle.active_blocks:
            g, pads = u.handle.block_geom_id(color), u.handle._pad_geoms
            pairs = [(c.geom1, c.geom2) for c in u.data.contact[: u.data.ncon]]
            expected = tuple(any(g in p and pad in p for p in pairs) for pad in pads)
            assert u.handle.pad_contacts(color) == expected
            seen.add(expected)
    assert (True, True) in seen and (False, False) in seen  # both grasped and free states were checked


def test_held_ee_command_reuses_the_exact_ik_solution(make_env):
    """A held ``ee_pose`` command skips the IK solve, and its result is bit for bit the solve's;
    a new pose, a new warm start or new IK settings solve again."""
    import dataclasses

    from envs.geometry import euler_to_mat

    env = make_env(task="pick", obs_cameras=())
    u = env.unwrapped
    env.reset(seed=0)
    hold = np.r_[u.ee_state()[:3] + [0.02, -0.01, 0.03], 0.0, np.pi / 2, 0.3, 1.0].astype(np.float32)
    moving = [hold + np.float32(0.004 * k) * np.r_[1, 1, -1, 0, 0, 0, 0].astype(np.float32) for k in range(4)]

    def solve(a):
        a = a.astype(np.float64)
        return u.robot.ik(a[:3], euler_to_mat(*a[3:6]), u._q_cmd)[0]

    for a in [hold] * 4 + moving + [hold] * 2:
        expected = solve(a)
        np.testing.assert_array_equal(u._ik(a.astype(np.float64)), expected)
        env.step(a)
    far = (hold + np.r_[0.1, 0.1, -0.1, 0, 0, 0, 0]).astype(np.float32)
    fine = u._ik(far.astype(np.float64))
    u.robot.ik_settings = dataclasses.replace(u.robot.ik_settings, max_iters=1)  # a coarser solver
    coarse = u._ik(far.astype(np.float64))  # same pose, same warm start: only the settings changed
    np.testing.assert_array_equal(coarse, solve(far))
    assert not np.array_equal(coarse, fine)
