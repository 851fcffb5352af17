"""Episode store, Wilson intervals, seed derivation."""

import json

import pytest

from eval.episodes import episode_seed
from eval.store import EpisodeStore, summarize, episodes_frame, wilson_interval


@pytest.mark.parametrize("k, n, lo, hi", [(0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (5, 10, 0.2366, 0.7634),
                                          (45, 50, 0.7864, 0.9565)])
def test_wilson_interval_matches_published_values(k, n, lo, hi):
    assert wilson_interval(k, n) == pytest.approx((lo, hi), abs=1e-4)


def test_episode_seeds_are_stable_and_distinct():
    seeds = [episode_seed(0, i) for i in range(100)]
    assert len(set(seeds)) == 100 and seeds == [episode_seed(0, i) for i in range(100)]
    assert episode_seed(1, 0) != episode_seed(0, 0)
    assert episode_seed(0, 0) == 2968811710  # fixed forever: changing it changes every published scene


def test_store_drops_a_torn_last_line(tmp_path):
    store = EpisodeStore(tmp_path)
    for i in range(3):
        store.append({"episode": i, "success": True, "status": "ok"})
    with store.log_path.open("a") as f:
        f.write(json.dumps({"episode": 3, "success": True})[:10])  # killed mid-write
    assert sorted(store.load()) == [0, 1, 2]
    store.append({"episode": 3, "success": True, "status": "ok"})  # the resumed run goes on
    store.append({"episode": 4, "success": True, "status": "ok"})
    assert sorted(store.load()) == [0, 1, 2, 3, 4]


def test_a_second_run_on_the_same_folder_is_refused(tmp_path):
    from envs.errors import BenchError

    store = EpisodeStore(tmp_path)
    with store.lock():
        with pytest.raises(BenchError, match="another run"):
            with EpisodeStore(tmp_path).lock():
                pass


def test_summary_excludes_errors_from_the_rate():
    base = {"agent": "a", "task": "t", "camera": "c", "magnitude": 0.0, "calibration": "true", "scene": "lean",
            "steps": 5}
    rows = [{**base, "episode": 0, "success": True, "status": "ok"},
            {**base, "episode": 1, "success": False, "status": "ok"},
            {**base, "episode": 2, "success": False, "status": "error"},
            {**base, "episode": 3, "success": False, "status": "timeout"}]
    s = summarize(episodes_frame(rows)).iloc[0]
    assert (s.n, s.successes, s.success_rate, s.errors, s.timeouts) == (2, 1, 0.5, 1, 1)


def test_wilson_interval_is_exact_at_the_ends():
    """A plot's error bars (rate - low, high - rate) must never be negative."""
    for n in (1, 7, 50, 333):
        assert wilson_interval(0, n)[0] == 0.0 and wilson_interval(n, n)[1] == 1.0
