"""Episode store, Wilson intervals, seed derivation."""

import copy
import errno
import fcntl
import json
import os

import pytest
import yaml

from envs.errors import BenchError, ConfigError
from eval.episodes import episode_seed
from eval.files import write_atomic
from eval.store import EpisodeStore, episodes_frame, settings_id, summarize, wilson_interval


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
        store.append({"episode": i, "seed": i, "success": True, "status": "ok"})
    with store.log_path.open("a") as f:
        f.write(json.dumps({"episode": 3, "seed": 3, "success": True})[:10])  # killed mid-write
    assert sorted(store.load()) == [0, 1, 2]
    store.append({"episode": 3, "seed": 3, "success": True, "status": "ok"})  # the resumed run goes on
    store.append({"episode": 4, "seed": 4, "success": True, "status": "ok"})
    assert sorted(store.load()) == [0, 1, 2, 3, 4]


def test_a_second_run_on_the_same_folder_is_refused(tmp_path):
    with (tmp_path / ".lock").open("w") as other:  # another process's hold: its own open file
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BenchError, match="another run"), EpisodeStore(tmp_path).lock():
            pass
        fcntl.flock(other, fcntl.LOCK_UN)
    with EpisodeStore(tmp_path).lock():  # free again once the other run is gone
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


def _record(i: int, **kw) -> dict:
    return {"episode": i, "seed": 100 + i, "success": True, "status": "ok", **kw}


@pytest.mark.parametrize("line", ["null", "[1, 2]", "7", '"text"', "{}", '{"episode": 1}',
                                  '{"episode": 1, "seed": null, "status": "ok"}',
                                  '{"episode": "1", "seed": 5, "status": "ok"}',
                                  '{"episode": true, "seed": 5, "status": "ok"}',
                                  '{"episode": -1, "seed": 5, "status": "ok"}'])
def test_a_line_that_is_not_a_record_is_skipped_and_replaces_nothing(tmp_path, line, caplog):
    store = EpisodeStore(tmp_path)
    store.append(_record(0))
    store.append(_record(1, steps=42))
    with store.log_path.open("a") as f:
        f.write(line + "\n")
    store.append(_record(2))
    rows = store.load()
    assert sorted(rows) == [0, 1, 2] and rows[1]["steps"] == 42
    assert "line 3 is not a record" in caplog.text


def test_a_binary_line_is_skipped(tmp_path):
    store = EpisodeStore(tmp_path)
    store.append(_record(0))
    with store.log_path.open("ab") as f:
        f.write(b"\xff\xfe\x00garbage\n")
    store.append(_record(1))
    assert sorted(store.load()) == [0, 1]


def test_the_record_log_goes_through_the_same_store(tmp_path):
    """eval.record's attempt log: its own file, its own identity fields, the same lock and recovery."""
    store = EpisodeStore(tmp_path, "record_log.jsonl", identity=("episode", "seed"))
    with store.lock():
        store.append({"episode": 0, "seed": 7, "kept": True, "frames": 30})
        with store.log_path.open("a") as f:
            f.write('{"episode": 1, "se')  # killed mid-write
        store.append({"episode": 1, "seed": 8, "kept": False, "frames": 60})
    assert store.log_path.name == "record_log.jsonl" and not (tmp_path / "episodes.jsonl").exists()
    assert {i: r["kept"] for i, r in store.load().items()} == {0: True, 1: False}


def test_the_lock_is_reentrant_in_one_process_and_freed_by_the_outermost_holder(tmp_path):
    outer = EpisodeStore(tmp_path).lock()
    outer.acquire()  # the harness, before writing config.yaml
    with EpisodeStore(tmp_path).lock():  # the runner, inside
        pass
    with (tmp_path / ".lock").open("w") as other, pytest.raises(BlockingIOError):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # still held: the outer holder has not let go
    outer.release()
    with (tmp_path / ".lock").open("w") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)


@pytest.mark.parametrize("where", ["a file in the way", "under a file"])
def test_an_unusable_out_dir_is_a_config_error_naming_it(tmp_path, where):
    (tmp_path / "f").write_text("x")
    out_dir = tmp_path / "f" if where == "a file in the way" else tmp_path / "f" / "run"
    with pytest.raises(ConfigError, match=f"out_dir {out_dir} cannot be used.*choose a writable folder"):
        EpisodeStore(out_dir).lock().acquire()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_dir_is_a_config_error(tmp_path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="cannot be used"):
            EpisodeStore(tmp_path / "run").lock().acquire()
    finally:
        tmp_path.chmod(0o755)


def _fail(*args, **kw):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("call", ["write", "fsync", "replace"])
def test_a_full_disk_leaves_the_old_file_whole(tmp_path, monkeypatch, call):
    path = tmp_path / "config.yaml"
    write_atomic(path, "old: 1\n")
    monkeypatch.setattr(os, call, _fail)
    with pytest.raises(BenchError, match="could not write .*config.yaml.*No space left.*previous version is kept"):
        write_atomic(path, "new: 2\n" * 1000)
    monkeypatch.undo()
    assert path.read_text() == "old: 1\n" and [p.name for p in tmp_path.iterdir()] == ["config.yaml"]
    write_atomic(path, "new: 2\n")
    assert path.read_text() == "new: 2\n" and path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_episodes_csv_is_written_on_demand_and_atomically(tmp_path, monkeypatch):
    store = EpisodeStore(tmp_path)
    rows = {i: _record(i) for i in range(3)}
    for r in rows.values():
        store.append(r)
    assert not store.csv_path.exists()  # appending a record does not rewrite the table
    store.write_csv(rows)
    before = store.csv_path.read_text()
    monkeypatch.setattr(os, "write", _fail)
    with pytest.raises(BenchError, match="episodes.csv"):
        store.write_csv({**rows, 3: _record(3)})
    assert store.csv_path.read_text() == before


def test_summary_has_a_privileged_column_unknown_for_older_records():
    rows = [{"agent": "a", "task": "t", "camera": "c", "magnitude": 0.0, "calibration": "true", "scene": "lean",
             "episode": 0, "success": True, "status": "ok", "steps": 5}]
    assert summarize(episodes_frame(rows))["privileged"].isna().all()
    s = summarize(episodes_frame([{**rows[0], "privileged": True}, {**rows[0], "episode": 1, "privileged": False}]))
    assert s["privileged"].tolist() == [False, True] and s["n"].tolist() == [1, 1]


CONFIG = {"agent": {"name": "gemini", "device": "cpu", "server": None, "debug": False, "debug_dir": "d",
                    "checkpoint": "ckpt/a", "reasoner": {"model": "m", "cache_dir": "/c", "api_key": "k"}},
          "task": {"name": "place", "options": {"n": 1}}, "camera": {"name": "nominal", "magnitude": None},
          "scene": {"visual": "lean"}, "max_steps": 200, "episodes": 20, "seed": 0, "workers": 2, "video": False,
          "episode_timeout_s": None, "out_dir": "results/runs/x", "hydra": {"run": {"dir": "x"}}}


def _with(key: str, value) -> dict:
    config = copy.deepcopy(CONFIG)
    *path, last = key.split(".")
    node = config
    for k in path:
        node = node[k]
    node[last] = value
    return config


@pytest.mark.parametrize("key, value", [("out_dir", "elsewhere"), ("workers", 8), ("video", True), ("episodes", 3),
                                        ("episode_timeout_s", 9.0), ("seed", 4), ("hydra.run.dir", "y"),
                                        ("agent.device", "cuda"), ("agent.server", "http://h:1"),
                                        ("agent.debug", True), ("agent.debug_dir", "e"),
                                        ("agent.reasoner.cache_dir", None), ("agent.reasoner.api_key", "***")])
def test_settings_id_ignores_what_does_not_change_outcomes(key, value):
    assert settings_id(_with(key, value)) == settings_id(CONFIG)


@pytest.mark.parametrize("key, value", [("max_steps", 5), ("task.options.n", 2), ("task.name", "pick"),
                                        ("camera.magnitude", 3.0), ("scene.visual", "shadows"),
                                        ("agent.checkpoint", "ckpt/b"), ("agent.reasoner.model", "n")])
def test_settings_id_changes_with_every_setting_that_can_change_outcomes(key, value):
    assert settings_id(_with(key, value)) != settings_id(CONFIG)


def test_settings_id_is_short_and_the_same_from_memory_and_from_config_yaml():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({**CONFIG, "control_freq": 10, "scale": 1.5e-3, "dt": "${scale}", "sizes": [1, 2.0]})
    sid = settings_id(OmegaConf.to_container(cfg, resolve=True))
    assert sid == settings_id(yaml.safe_load(OmegaConf.to_yaml(cfg, resolve=True)))
    assert len(sid) == 12 and int(sid, 16) >= 0
