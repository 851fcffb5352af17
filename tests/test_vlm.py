"""The real openai client against a local server speaking the OpenAI chat API (tests/fake_openai.py)."""

import json

import numpy as np
import pytest
from fake_openai import MODELS, FakeOpenAI, completion, error_body, text_message
from harness_util import episodes, run_agent, run_cli

from agents.errors import FatalAgentError
from agents.tool import ToolAgent
from agents.tool.pointing import POINT_FORMATS, infer_point_format, model_input_size, parse_points, write_points
from agents.tool.types import CallResult
from agents.tool.vlm import VLMReasoner
from envs.errors import ConfigError

BY_FORMAT = {fmt: model for model, fmt in MODELS.items()}


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAI() as server:
        yield server


def reasoner(fake, fmt="qwen3", **kw):
    return VLMReasoner(BY_FORMAT[fmt], base_url=fake.base_url, cache_dir=None, point_format=fmt, **kw)


def test_every_family_is_inferred_from_its_model_name():
    names = {"Qwen/Qwen2.5-VL-7B-Instruct": "qwen2.5", "Qwen/Qwen3-VL-8B-Instruct": "qwen3",
             "qwen2.5vl:7b": "qwen2.5", "allenai/Molmo-7B-D-0924": "molmo", "allenai/Molmo2-8B": "molmo2",
             "vikhyatk/moondream2": "moondream", "google/paligemma2-3b-mix-448": "paligemma",
             "BAAI/RoboBrain2.0-7B": "qwen2.5", "nvidia/Cosmos-Reason1-7B": "qwen2.5",
             "gemini-robotics-er-2-preview": "gemini", "google/gemma-3-12b-it": None}
    assert {n: infer_point_format(n) for n in names} == names


def test_a_model_name_that_says_nothing_needs_point_format(fake):
    with pytest.raises(ConfigError, match="point_format to one of gemini, qwen2.5"):
        VLMReasoner("google/gemma-3-12b-it", base_url=fake.base_url, cache_dir=None)
    with pytest.raises(ConfigError, match="valid"):
        VLMReasoner("x", base_url=fake.base_url, cache_dir=None, point_format="yx")


def test_qwen25_gets_an_image_already_sized_as_its_processor_would():
    assert model_input_size("qwen2.5", 320, 240) == (308, 252)  # multiples of 28, nearest
    assert model_input_size("qwen2.5", 5000, 4000)[0] * model_input_size("qwen2.5", 5000, 4000)[1] <= 16384 * 784
    assert model_input_size("qwen3", 320, 240) == (320, 240)  # 0-1000: the size does not matter


@pytest.mark.parametrize("fmt", POINT_FORMATS)
def test_writers_and_readers_agree_for_every_convention(fmt):
    sent = model_input_size(fmt, 320, 240)
    text = write_points(fmt, [("red block", 0.25, 0.5), ("blue target", 0.8, 0.3)], sent)
    dets = parse_points(fmt, text, 320, 240, sent)
    assert [d.label for d in dets] == ["red block", "blue target"]
    tol = 1.5 if fmt == "qwen2.5" else 0.6  # a pixel of the resized image, or a 0-1000 / percent rounding
    np.testing.assert_allclose(dets[0].pixel, [0.25 * 320 - 0.5, 0.5 * 240 - 0.5], atol=tol)
    np.testing.assert_allclose(dets[1].pixel, [0.8 * 320 - 0.5, 0.3 * 240 - 0.5], atol=tol)


def test_the_families_own_examples_read_as_documented():
    """Answers written as each family's documentation shows them."""
    w, h = 640, 480
    px = lambda d: d.pixel.round(1).tolist()  # noqa: E731
    assert px(parse_points("molmo", '<point x="25.0" y="50.0" alt="cup">cup</point>', w, h)[0]) == [159.5, 239.5]
    multi = parse_points("molmo", '<points x1="10.0" y1="20.0" x2="90.0" y2="80.0" alt="cups">cups</points>', w, h)
    assert [px(d) for d in multi] == [[63.5, 95.5], [575.5, 383.5]]
    assert px(parse_points("molmo2", '<points coords="1 1 250 500" alt="cup">cup</points>', w, h)[0]) == [159.5, 239.5]
    assert px(parse_points("paligemma", "<loc0256><loc0128><loc0768><loc0384> cup", w, h)[0]) == [159.5, 239.5]
    assert px(parse_points("qwen2.5", '```json\n[{"bbox_2d": [100, 100, 220, 380], "label": "cup"}]\n```', w, h,
                           (w, h))[0]) == [159.5, 239.5]
    assert px(parse_points("qwen3", '[{"point_2d": [250, 500], "label": "cup"}]', w, h)[0]) == [159.5, 239.5]
    assert px(parse_points("moondream", '{"points": [{"x": 0.25, "y": 0.5}]}', w, h)[0]) == [159.5, 239.5]
    assert px(parse_points("gemini", '[{"point": [500, 250], "label": "cup"}]', w, h)[0]) == [159.5, 239.5]
    assert parse_points("qwen3", "I see a cup.", w, h) == [] and parse_points("molmo", "no points", w, h) == []


def test_every_convention_lifts_the_same_object_to_the_same_point(fake, place_scene):
    """Each family's answer, read in its convention, lifts each object to one 3-D point (within 5 mm)."""
    env, obs, info = place_scene
    image, cal = obs["images"]["primary"], info["calibration"]["primary"]
    lifted = {}
    for fmt in POINT_FORMATS:
        dets = reasoner(fake, fmt).point(image, obs["instruction"])
        assert len(dets) == 2, (fmt, [d.label for d in dets])
        lifted[fmt] = {d.label: cal.unproject(d.pixel[None], plane_z=0.02)[0] for d in dets}
    ref = lifted["gemini"]
    for fmt, points in lifted.items():
        assert points.keys() == ref.keys(), fmt
        for label, p in points.items():
            assert np.linalg.norm(p - ref[label]) < 0.005, (fmt, label, p, ref[label])
    pali = [b["messages"][-1]["content"][1]["text"] for _, b in fake.requests
            if b.get("model") == BY_FORMAT["paligemma"]]
    assert pali and all(t.startswith("detect ") and " ; " in t for t in pali)  # its own wording: names to detect
    qwen25 = next(b for _, b in fake.requests if b.get("model") == BY_FORMAT["qwen2.5"])
    assert qwen25["messages"][-1]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")


@pytest.mark.parametrize("fmt", POINT_FORMATS)
def test_an_episode_succeeds_with_every_convention(fake, make_env, fmt):
    env = make_env(task="place")
    info, c = run_agent(env, ToolAgent(reasoner(fake, fmt)), seed=3)
    assert info["success"] and c["call_errors"] == 0 and c["reasoner_calls"] >= 2 and c["tokens_in"] > 0


def test_json_plan_mode_for_servers_without_tool_calls(fake, make_env):
    env = make_env(task="place")
    info, c = run_agent(env, ToolAgent(reasoner(fake, "molmo", plan_mode="json")), seed=3)
    plans = [b for _, b in fake.requests if "Carry out" in json.dumps(b)]
    assert info["success"] and plans and all("tools" not in b for b in plans)


def test_tool_calls_go_back_with_the_model_turn_and_their_results(fake, place_scene):
    env, obs, info = place_scene
    r = reasoner(fake)
    image = obs["images"]["primary"]
    calls = r.start_plan(image, obs["instruction"], r.point(image, obs["instruction"]))
    assert calls[0].name == "setGripperState" and calls[0].id == "call_0"
    assert r.continue_plan([CallResult(c, "ok", {"x": 1}) for c in calls[:2]]) == []  # "DONE"
    last = fake.requests[-1][1]["messages"]
    assert last[1]["role"] == "assistant" and last[1]["tool_calls"][0]["id"] == "call_0"
    assert [m["tool_call_id"] for m in last[2:]] == ["call_0", "call_1"] and json.loads(last[2]["content"]) == {
        "status": "ok", "x": 1}


def test_a_malformed_call_is_answered_with_an_error_not_a_crash(fake, make_env):
    fake.push(200, completion(BY_FORMAT["qwen3"], text_message('[{"point_2d": [300, 500], "label": "red block"}]')))
    bad = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c0", "type": "function", "function": {"name": "move", "arguments": "{not json"}}]}
    fake.push(200, completion(BY_FORMAT["qwen3"], bad))
    env = make_env(task="pick", max_episode_steps=40)
    info, c = run_agent(env, ToolAgent(reasoner(fake)), seed=0)
    assert c["call_errors"] >= 1 and not info["success"]


def test_429_is_retried_then_succeeds(fake, place_scene):
    env, obs, info = place_scene
    fake.push(429, error_body(429, "Rate limit reached", "rate_limit_error"))
    dets = reasoner(fake).point(obs["images"]["primary"], obs["instruction"])
    assert len(dets) == 2 and sum("chat/completions" in p for p, _ in fake.requests) == 2


def test_prose_instead_of_points_is_a_failed_step(fake, make_env):
    for _ in range(4):
        fake.push(200, completion(BY_FORMAT["qwen3"], text_message("There is a red block near the blue mat.")))
    env = make_env(task="place", max_episode_steps=60)
    info, c = run_agent(env, ToolAgent(reasoner(fake)), seed=0)
    assert not info["success"] and c["calls_executed"] == 0 and c["unreadable_answers"] >= 1


def test_a_wrong_key_stops_at_once(make_env, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "wrong")
    with FakeOpenAI(key="right") as fake:
        with pytest.raises(FatalAgentError, match="refused the key.*OPENAI_API_KEY"):
            reasoner(fake).prepare()
        monkeypatch.setenv("OPENAI_API_KEY", "right")
        reasoner(fake).prepare()


def test_a_model_the_server_does_not_serve_stops_at_once(fake):
    r = VLMReasoner("Qwen/Qwen3-VL-235B-A22B-Instruct", base_url=fake.base_url, cache_dir=None)
    with pytest.raises(FatalAgentError, match="does not serve model 'Qwen/Qwen3-VL-235B-A22B-Instruct'"):
        r.prepare()


def test_cost_and_cache(fake, place_scene, tmp_path):
    env, obs, info = place_scene
    image = obs["images"]["primary"]
    r = VLMReasoner(BY_FORMAT["qwen3"], base_url=fake.base_url, cache_dir=str(tmp_path), price_in_per_mtok=0.5,
                    price_out_per_mtok=2.0)
    r.point(image, obs["instruction"])
    assert r.counters()["cost_usd"] == pytest.approx((1200 * 0.5 + 60 * 2.0) / 1e6)
    n = len(fake.requests)
    again = VLMReasoner(BY_FORMAT["qwen3"], base_url=fake.base_url, cache_dir=str(tmp_path))
    again.point(image, obs["instruction"])
    assert len(fake.requests) == n and again.counters()["cache_hits"] == 1  # not even the model list was asked
    other = VLMReasoner(BY_FORMAT["qwen2.5"], base_url=fake.base_url, cache_dir=str(tmp_path))
    other.point(image, obs["instruction"])  # another model: its own answer
    assert other.counters()["reasoner_calls"] == 1


def test_harness_runs_vlm_episodes_and_labels_them_with_the_model(fake, tmp_path):
    qwen, molmo = tmp_path / "qwen3", tmp_path / "molmo"
    run_cli("agent=vlm", f"agent.reasoner.base_url={fake.base_url}", "agent.reasoner.model=Qwen/Qwen3-VL-8B-Instruct",
            "agent.reasoner.cache_dir=null", "task=place", "episodes=2", f"out_dir={qwen}", check=0)
    run_cli("agent=vlm", f"agent.reasoner.base_url={fake.base_url}", f"agent.reasoner.model={BY_FORMAT['molmo']}",
            "agent.reasoner.plan_mode=json", "agent.reasoner.cache_dir=null", "task=place", "episodes=2",
            f"out_dir={molmo}", check=0)
    df = episodes(qwen)
    assert df["success"].all() and set(df["agent"]) == {"vlm:Qwen/Qwen3-VL-8B-Instruct"}
    assert (df["reasoner_calls"] >= 2).all() and "cost_usd" in df
    assert episodes(molmo)["success"].all()
    # the run log says which pointing convention was used, and whether it was inferred
    assert "point format qwen3 (inferred from the model name), plans as tools" in (qwen / "run.log").read_text()
    assert "point format molmo (inferred from the model name), plans as json" in (molmo / "run.log").read_text()
    # labels with colons in them can still be paired by name in the report
    run_cli(tmp_path, "--pairs", f"vlm:Qwen/Qwen3-VL-8B-Instruct:vlm:{BY_FORMAT['molmo']}", module="eval.report",
            check=0)
    assert f"vlm:Qwen/Qwen3-VL-8B-Instruct - vlm:{BY_FORMAT['molmo']}" in (tmp_path / "tables.md").read_text()
    bad = run_cli(tmp_path, "--pairs", "vlm:Qwen:classic", module="eval.report", check=2)
    assert "the agents are: vlm:" in bad.stdout + bad.stderr


def test_harness_without_a_server_stops_at_once_naming_base_url(tmp_path):
    proc = run_cli("agent=vlm", "agent.reasoner.base_url=http://127.0.0.1:9/v1",
                   "agent.reasoner.model=Qwen/Qwen3-VL-8B-Instruct", "agent.reasoner.retries=0",
                   "episodes=2", f"out_dir={tmp_path}", check=2)
    assert "base_url=http://127.0.0.1:9/v1" in proc.stderr + proc.stdout
    assert not (tmp_path / "episodes.csv").exists() or episodes(tmp_path).empty



def test_an_ollama_model_without_its_tag_is_the_latest_one():
    with FakeOpenAI(models={"qwen2.5vl:latest": "qwen2.5"}) as fake:
        VLMReasoner("qwen2.5vl", base_url=fake.base_url, cache_dir=None).prepare()  # no error
