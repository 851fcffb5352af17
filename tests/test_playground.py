"""The playground without a browser: frames with the agent's points, the config it composes, one episode through
the one rollout loop, and reading results folders (tests/test_playground_browser.py drives the page itself)."""

import json

import numpy as np
import pandas as pd
import pytest

from agents.base import Agent, PointReport
from envs.errors import BenchError, ConfigError
from eval.episodes import episode_spec, rollout
from eval.playground import browse
from eval.playground.frames import compose, draw_points, label_rgb, latest_look
from eval.playground.session import Choices, Playground, agent_names, agent_note, compose_config
from eval.store import write_trace


# --- frames ---------------------------------------------------------------------
def test_points_are_drawn_in_their_label_colour_where_they_were_pointed():
    frame = np.zeros((40, 60, 3), np.uint8)
    out = draw_points(frame, [PointReport(1, "primary", "red block", (20.0, 10.0), None),
                              PointReport(1, "primary", "gone", (500.0, 10.0), None)])  # outside: skipped
    assert out is not frame and not out[35:, :15].any()  # far from the point: untouched
    ring = out[10, 15:26]  # the row through the point crosses its ring
    assert (ring == label_rgb("red block")).all(axis=1).any()
    assert label_rgb("red block")[0] > 200 and label_rgb("blue target")[2] > 200 and label_rgb("tray") == (255, 220, 0)
    assert draw_points(frame, []) is frame


def test_the_frame_is_primary_beside_third_person_with_the_latest_look_only():
    points = [PointReport(1, "primary", "red block", (5.0, 5.0), None),
              PointReport(2, "primary", "blue target", (8.0, 8.0), None),
              PointReport(3, "third_person", "red block", (1.0, 1.0), None)]
    assert [p.label for p in latest_look(points)] == ["blue target"]
    out = compose(np.zeros((30, 20, 3), np.uint8), np.full((40, 25, 3), 7, np.uint8), latest_look(points))
    assert out.shape == (30, 45, 3) and (out[:, 20:] == 7).all() and out[:, :20].any()


# --- the config, as eval.run composes it ---------------------------------------------
def test_choices_become_eval_run_overrides():
    c = Choices(agent="oracle", task="stack", camera="shifted", magnitude=4, calibration="nominal",
                factors="light_intensity=0.5, factors.blur_px=1", seed=3, max_steps=9, extra="scene=lean")
    assert c.overrides() == ["agent=oracle", "task=stack", "camera=shifted", "camera.calibration=nominal", "seed=3",
                             "camera.magnitude=4.0", "max_steps=9", "factors.light_intensity=0.5",
                             "factors.blur_px=1", "scene=lean"]
    with pytest.raises(ConfigError, match="axis=level"):
        Choices(factors="light_intensity").overrides()
    with pytest.raises(ConfigError, match="which class an agent is built from"):
        Choices(extra="agent.reasoner._target_=os.system").overrides()


def test_bad_values_fail_with_eval_runs_messages():
    with pytest.raises(ConfigError, match=r"magnitude must be within \[-20, 20\] cm"):
        compose_config(Choices(camera="shifted", magnitude=99).overrides())
    with pytest.raises(ConfigError, match="factors.light_intensity must be within"):
        compose_config(Choices(factors="light_intensity=50").overrides())
    with pytest.raises(BenchError, match="api_key"):  # no secret typed into the page either
        compose_config(Choices(extra="+agent.reasoner.api_key=abc").overrides())
    with pytest.raises(Exception, match="classic"):  # Hydra lists the agents there are
        compose_config(Choices(agent="nosuch").overrides())
    assert agent_names()[:2] == ["classic", "oracle"] and {"gemini", "vlm", "lerobot"} <= set(agent_names())
    assert "API" in agent_note("gemini") or "GEMINI" in agent_note("gemini")


# --- the instruction override of the one rollout loop ---------------------------------
class _Told(Agent):
    def reset(self, instruction, calibration):
        self.told = instruction

    def act(self, obs):
        return np.r_[obs["state"][:6], 1.0]


def test_the_agent_is_told_the_typed_instruction_and_the_env_keeps_the_tasks(make_env):
    env = make_env(task="place", obs_cameras=(), max_episode_steps=2)
    agent = _Told()
    steps = list(rollout(env, agent, episode_spec(0, 0), instruction="wave at the camera"))
    assert agent.told == "wave at the camera"
    assert steps[0].obs["instruction"] != "wave at the camera" and steps[-1].done and "success" in steps[-1].info
    list(rollout(env, agent, episode_spec(0, 0)))
    assert agent.told == steps[0].obs["instruction"]  # no override: the task's own, as before


# --- one episode through the playground -----------------------------------------------
@pytest.fixture(scope="module")
def playground(tmp_path_factory):
    pg = Playground(tmp_path_factory.mktemp("playground"))
    yield pg
    pg.close()


def test_a_classic_episode_streams_frames_then_the_outcome_calls_and_files(playground):
    updates = list(playground.run(Choices(task="place", seed=0, max_steps=40,
                                          instruction="put the red block on the blue target")))
    frames = [u for u in updates if u.frame is not None]
    assert frames and updates[0].frame is not None and frames[0].t == 0
    assert frames[0].frame.shape == (240, 640, 3) and frames[-1].t == 40
    r = updates[-1].result
    assert r is not None and r.status == "ok" and r.steps == 40 and r.first_frame_s is not None
    assert r.instruction == "put the red block on the blue target" and r.task_instruction != r.instruction
    assert {"on_target", "released"} <= set(r.conditions)
    assert r.calls and r.calls[0]["look"] == 1 and {c["call"] for c in r.calls} <= {"move", "setGripperState"}
    assert all(c["status"] in ("ok", "error") and isinstance(c["result"], dict) for c in r.calls[:-1])
    assert r.calls[-1]["status"] in ("ok", "error", "unfinished")  # 40 steps may end in the middle of a call
    assert r.counters["calls_executed"] == len(r.calls)
    assert r.video.stat().st_size > 1000 and (r.replay is None or r.replay.stat().st_size > 10_000)
    assert json.loads(r.trace.read_text())["calls"] == json.loads(json.dumps(r.calls))
    # the agent pointed at the red block: its ring is drawn on the primary half of a later frame
    red = np.array(label_rgb("red block"))
    assert any((np.abs(f.frame[:, :320].astype(int) - red).sum(axis=2) < 30).sum() > 20 for f in frames[1:])


def test_an_agent_that_is_not_configured_says_why_and_the_next_run_works(playground, monkeypatch):
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    updates = list(playground.run(Choices(agent="gemini")))
    assert len(updates) == 1 and "GEMINI_API_KEY" in updates[0].error
    assert "camera 'shifted' magnitude" in list(playground.run(Choices(camera="shifted", magnitude=99)))[0].error
    r = list(playground.run(Choices(agent="oracle", task="pick", max_steps=3)))[-1].result
    assert r is not None and r.status == "ok" and r.steps == 3 and r.calls == []


# --- results folders ------------------------------------------------------------------
def _run_folder(path, agent="classic", successes=(True, False)):
    path.mkdir(parents=True)
    rows = [{"agent": agent, "task": "place", "camera": "nominal", "magnitude": 0.0, "calibration": True,
             "scene": "lean", "factors": "nominal", "privileged": False, "base_seed": 0, "episode": i, "seed": 100 + i,
             "instruction": "place it", "success": s, "steps": 10, "wall_s": 0.5, "status": "ok", "error": ""}
            for i, s in enumerate(successes)]
    pd.DataFrame(rows).to_csv(path / "episodes.csv", index=False)
    (path / "videos").mkdir()
    (path / "videos" / "episode_0001.mp4").write_bytes(b"not a real video")


def test_a_results_folder_shows_its_table_cells_episodes_and_files(tmp_path):
    _run_folder(tmp_path / "runs" / "a")
    _run_folder(tmp_path / "runs" / "b", agent="oracle", successes=(True,))
    assert browse.result_folders(tmp_path) == ["runs/a", "runs/b"]
    f = browse.load(tmp_path)  # no table file: summarised from the episodes, as eval.report would
    assert f.table_source == "episodes.csv files" and f.plots == []
    assert sorted(f.table["agent"]) == ["classic", "oracle"] and f.table["n"].sum() == 3
    cell = next(c for c in f.cells() if c.startswith("classic"))
    assert cell == "classic | place | nominal(0) | calibration true | nominal"
    assert list(f.cell_episodes(cell)["seed"]) == [100, 101] and set(f.cell_episodes(cell)["run"]) == {"runs/a"}
    ep = f.episode(cell, 1)
    assert ep["video"] == tmp_path / "runs" / "a" / "videos" / "episode_0001.mp4" and ep["replay"] is None
    assert ep["record"]["seed"] == 101 and not ep["record"]["success"]
    assert f.episode(cell, 0)["video"] is None and ep["trace"] is None
    write_trace(tmp_path / "runs" / "a", {"episode": 1, "seed": 101, "success": False}, [{"look": 1, "call": "move"}])
    trace = f.episode(cell, 1)["trace"]
    assert trace == tmp_path / "runs" / "a" / "episodes" / "episode_0001.json"
    assert json.loads(trace.read_text()) == {"episode": 1, "seed": 101, "success": False,
                                             "calls": [{"look": 1, "call": "move"}]}
    with pytest.raises(BenchError, match="no row 5"):
        f.episode(cell, 5)


def test_a_report_folder_shows_its_own_table_and_plots_first(tmp_path):
    pd.DataFrame({"task": ["place"], "classic:success_rate": [0.5]}).to_csv(tmp_path / "comparison.csv", index=False)
    for name in ("axis_blur_px.png", "comparison.png"):
        (tmp_path / name).write_bytes(b"png")
    f = browse.load(tmp_path)
    assert f.table_source == "comparison.csv" and list(f.table.columns) == ["task", "classic:success_rate"]
    assert [p.name for p in f.plots] == ["comparison.png", "axis_blur_px.png"] and f.cells() == []
    with pytest.raises(BenchError, match="outside the results folder"):
        browse.inside(tmp_path, "../elsewhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="no comparison.csv, summary.csv or episodes.csv"):
        browse.load(tmp_path / "empty")


def test_the_page_builds_and_words_an_outcome(tmp_path):
    pytest.importorskip("gradio", reason="the playground extra (make setup installs it)")
    from eval.playground.app import _number, build, calls_frame, outcome_markdown
    from eval.playground.session import Result

    pg = Playground(tmp_path)
    assert build(pg, tmp_path) is not None
    pg.close()
    text = outcome_markdown(Result("classic", "put the red block on the blue target", "wave", success=True, steps=7))
    assert text.startswith("**SUCCESS** after 7 steps") and "scored against the task's goal" in text
    failed = outcome_markdown(Result("classic", "x", "x", status="error", error="boom", steps=2))
    assert failed.startswith("**ERROR** after 2 steps: boom")
    assert list(calls_frame([{"look": 1, "call": "move", "args": {"x": 1}, "status": "ok", "result": {}}])["args"]) \
        == ['{"x": 1}']
    assert _number("", "max steps", int) is None and _number("4", "max steps", int) == 4
    with pytest.raises(ConfigError, match="max steps must be a whole number"):
        _number("4.5", "max steps", int)
