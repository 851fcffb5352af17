"""VideoRecorder frames: the observation's views are reused, the others rendered."""

import numpy as np

from eval.video import VideoRecorder


def test_frame_reuses_observed_views_and_renders_the_rest(make_env, tmp_path):
    env = make_env(task="pick", obs_cameras=("primary",))
    obs, _ = env.reset(seed=3)
    u = env.unwrapped
    rec = VideoRecorder(tmp_path / "v.mp4", fps=10)
    rec.add(env, obs)
    primary, third = u.render_camera_image("primary"), u.render_camera_image("third_person")
    h = min(primary.shape[0], third.shape[0])
    expected = np.concatenate([primary[:h], third[:h]], axis=1)
    assert np.array_equal(rec.frames[0], expected)  # same pixels as rendering both views
    rec.add(env, {"images": {"primary": np.zeros_like(obs["images"]["primary"])}})
    assert not rec.frames[1][:h, :primary.shape[1]].any()  # the observed view is taken, not re-rendered
    assert np.array_equal(rec.frames[1][:h, primary.shape[1]:], third[:h])
