"""The real google-genai client against a local server speaking the generateContent wire format."""

import json
import logging

import numpy as np
import pandas as pd
import pytest
from fake_gemini import THOUGHT_SIGNATURE, FakeGemini, error_body, text_reply
from harness_util import episodes, run_agent, run_cli

from agents.errors import FatalAgentError
from agents.tool import ToolAgent
from agents.tool.gemini import GeminiReasoner, parse_json_lenient
from agents.tool.perception import detect_color
from agents.tool.types import CallResult


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL", raising=False)
    with FakeGemini() as server:
        yield server


def reasoner(fake, **kw):
    return GeminiReasoner(base_url=fake.base_url, cache_dir=None, retry_initial_delay_s=0.05, **kw)


def test_points_come_back_as_detections(fake, place_scene):
    _, obs, _ = place_scene
    image = obs["images"]["primary"]
    dets = reasoner(fake).point(image, obs["instruction"])
    assert [d.kind for d in dets] == ["block", "target"]
    truth = detect_color(image, dets[0].color, "x")
    assert np.linalg.norm(dets[0].pixel - truth.pixel) < 2.0 and dets[0].box is not None
    path, body = fake.requests[0]
    assert path.endswith("/models/gemini-robotics-er-2-preview:generateContent")
    gen = body["generationConfig"]
    assert gen["responseMimeType"] == "application/json" and gen["responseSchema"]["type"] == "ARRAY"
    thinking = gen["thinkingConfig"]  # proto JSON: the SDK may send either field spelling
    assert thinking.get("thinkingLevel", thinking.get("thinking_level")) == "LOW"
    assert "inlineData" in body["contents"][0]["parts"][0]


def test_plan_is_function_calls_and_results_go_back_with_the_signature(fake, place_scene):
    _, obs, _ = place_scene
    r = reasoner(fake)
    image = obs["images"]["primary"]
    dets = r.point(image, obs["instruction"])
    calls = r.start_plan(image, obs["instruction"], dets)
    assert [c.name for c in calls][:3] == ["setGripperState", "move", "move"] and calls[1].args["high"] is True
    assert "tools" in fake.requests[-1][1]
    results = [CallResult(c, "ok", {"reached_m": [0.2, 0.0, 0.1]}) for c in calls]
    assert r.continue_plan(results) == []  # the model answers DONE
    follow_up = fake.requests[-1][1]["contents"]
    model_turn, answers = follow_up[1], follow_up[2]
    assert model_turn["role"] == "model" and model_turn["parts"][0]["thoughtSignature"] == THOUGHT_SIGNATURE
    sent = answers["parts"][0]["functionResponse"]
    assert sent["id"] == "call-0" and sent["response"] == {"status": "ok", "reached_m": [0.2, 0.0, 0.1]}
    assert r.counters()["reasoner_calls"] == 3 and r.counters()["tokens_in"] == 3000


def test_a_dropped_thought_signature_is_refused_by_the_server(fake, place_scene):
    _, obs, _ = place_scene
    r = reasoner(fake)
    image = obs["images"]["primary"]
    calls = r.start_plan(image, obs["instruction"], r.point(image, obs["instruction"]))
    r.history[-1].parts[0].thought_signature = None  # what a hand-rebuilt turn would lose
    with pytest.raises(FatalAgentError, match="400"):
        r.continue_plan([CallResult(calls[0], "ok")])


def test_prose_instead_of_json_is_parsed_leniently(fake, place_scene):
    _, obs, _ = place_scene
    fake.push(200, text_reply('Sure! Here they are:\n```json\n[{"point": [500, 250], "label": "red block"}]\n```'))
    dets = reasoner(fake).point(obs["images"]["primary"], obs["instruction"])
    assert [d.label for d in dets] == ["red block"]
    np.testing.assert_allclose(dets[0].pixel, [79.5, 119.5])
    assert parse_json_lenient("no json here") is None


def test_an_empty_list_means_nothing_found(fake, make_env):
    for _ in range(3):
        fake.push(200, text_reply("[]"))
    env = make_env(task="pick", max_episode_steps=60)
    agent = ToolAgent(reasoner(fake))
    obs, info = env.reset(seed=0)
    agent.reset(obs["instruction"], info["calibration"])
    for _ in range(60):
        obs, _, terminated, truncated, info = env.step(agent.act(obs))
    c = agent.counters()
    assert not info["success"] and c["calls_executed"] == 0 and c["attempts"] == 2 and c["empty_plans"] == 2


def test_429_is_retried_then_succeeds(fake, place_scene):
    _, obs, _ = place_scene
    fake.push(429, error_body(429, "RESOURCE_EXHAUSTED", "Quota exceeded, retry later"))
    dets = reasoner(fake).point(obs["images"]["primary"], obs["instruction"])
    assert len(dets) == 2 and len(fake.requests) == 2


@pytest.mark.parametrize("status, words", [(403, ["403", "key"]), (401, ["401", "key"]),
                                           (400, ["400", "API key"])])
def test_key_errors_stop_at_once(fake, place_scene, status, words):
    _, obs, _ = place_scene
    fake.push(status, error_body(status, "PERMISSION_DENIED", "API key not valid or not allowed"))
    with pytest.raises(FatalAgentError) as err:
        reasoner(fake).point(obs["images"]["primary"], obs["instruction"])
    assert all(w in str(err.value) for w in words) and len(fake.requests) == 1  # no retries


def test_a_retired_model_stops_at_once_naming_the_current_one(fake, place_scene):
    _, obs, _ = place_scene
    with pytest.raises(FatalAgentError, match="retired.*gemini-robotics-er-2-preview"):
        reasoner(fake, model="gemini-robotics-er-1.6-preview").point(obs["images"]["primary"], obs["instruction"])


def test_sdk_base_url_variable_is_honoured(fake, place_scene, monkeypatch):
    _, obs, _ = place_scene
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.base_url)
    GeminiReasoner(cache_dir=None).point(obs["images"]["primary"], obs["instruction"])
    assert len(fake.requests) == 1


def test_missing_key_is_one_clear_line(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with pytest.raises(FatalAgentError, match="GEMINI_API_KEY.*agent=classic"):
        GeminiReasoner()


def test_answers_are_cached_on_disk(fake, place_scene, tmp_path):
    _, obs, _ = place_scene
    image = obs["images"]["primary"]
    first = GeminiReasoner(base_url=fake.base_url, cache_dir=str(tmp_path)).point(image, obs["instruction"])
    again = GeminiReasoner(base_url=fake.base_url, cache_dir=str(tmp_path))
    second = again.point(image, obs["instruction"])
    assert len(fake.requests) == 1 and again.counters()["cache_hits"] == 1 and again.counters()["reasoner_calls"] == 0
    assert [d.label for d in first] == [d.label for d in second]
    again.point(image[::-1].copy(), obs["instruction"])  # other image bytes: a new request
    assert len(fake.requests) == 2


def test_harness_runs_gemini_episodes_through_the_real_client(fake, tmp_path):
    common = ["agent=gemini", f"agent.reasoner.base_url={fake.base_url}",
              f"agent.reasoner.cache_dir={tmp_path / 'cache'}", "task=stack", "episodes=3", "workers=2"]
    run_cli(*common, f"out_dir={tmp_path / 'a'}", check=0)
    df = episodes(tmp_path / "a")
    assert df["success"].all() and (df["reasoner_calls"] >= 2).all() and (df["tokens_in"] > 0).all()
    n = len(fake.requests)
    run_cli(*common, f"out_dir={tmp_path / 'b'}", check=0)  # a repeated evaluation costs no calls
    again = episodes(tmp_path / "b")
    assert len(fake.requests) == n and (again["reasoner_calls"] == 0).all() and (again["cache_hits"] > 0).all()
    pd.testing.assert_series_equal(df["success"], again["success"])


def test_harness_without_a_key_stops_before_any_episode(tmp_path, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    proc = run_cli("agent=gemini", "episodes=2", f"out_dir={tmp_path}", check=2)
    assert "needs an API key" in proc.stderr + proc.stdout
    assert not (tmp_path / "episodes.csv").exists() or len(episodes(tmp_path)) == 0


def _point(r, place_scene):
    _, obs, _ = place_scene
    return r.point(obs["images"]["primary"], obs["instruction"])


def test_a_cache_filled_at_one_endpoint_does_not_answer_for_another(fake, place_scene, tmp_path):
    with FakeGemini() as other:
        _point(GeminiReasoner(base_url=fake.base_url, cache_dir=str(tmp_path)), place_scene)
        r = GeminiReasoner(base_url=other.base_url, cache_dir=str(tmp_path))
        assert len(_point(r, place_scene)) == 2
        assert len(other.requests) == 1 and r.counters()["cache_hits"] == 0


def test_the_base_url_variable_is_part_of_the_cache_key(fake, place_scene, tmp_path, monkeypatch):
    with FakeGemini() as other:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.base_url)
        _point(GeminiReasoner(cache_dir=str(tmp_path)), place_scene)
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", other.base_url)
        _point(GeminiReasoner(cache_dir=str(tmp_path)), place_scene)
        assert len(fake.requests) == 1 and len(other.requests) == 1
        monkeypatch.setenv("GOOGLE_GENAI_API_VERSION", "v1alpha")
        assert GeminiReasoner(cache_dir=None).endpoint == f"{other.base_url} api_version=v1alpha"


@pytest.mark.parametrize("base_url, variable", [(None, None), ("http://127.0.0.1:9/", None),
                                                (None, "http://127.0.0.1:8/"), ("http://127.0.0.1:9", "http://x/")])
def test_the_endpoint_in_the_key_is_the_one_the_sdk_calls(monkeypatch, base_url, variable):
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    if variable:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", variable)
    else:
        monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL", raising=False)
    r = GeminiReasoner(base_url=base_url, cache_dir=None)
    sdk = r.client._api_client._http_options.base_url  # the SDK's resolved choice (private: checked here only)
    assert r.endpoint.split(" ")[0] == sdk.rstrip("/")


CORRUPT = {"empty object": b"{}", "list": b"[]", "binary": bytes(range(256)), "truncated": b'{"key": "ab',
           "not a response": None, "empty file": b""}


@pytest.mark.parametrize("kind", CORRUPT)
def test_a_corrupt_cache_entry_is_a_miss_and_is_replaced(fake, place_scene, tmp_path, kind):
    first = _point(GeminiReasoner(base_url=fake.base_url, cache_dir=str(tmp_path)), place_scene)
    (entry,) = tmp_path.rglob("*.json")
    key = entry.stem
    entry.write_bytes(CORRUPT[kind] if CORRUPT[kind] is not None
                      else json.dumps({"key": key, "value": {"candidates": "not a list"}}).encode())
    r = GeminiReasoner(base_url=fake.base_url, cache_dir=str(tmp_path))
    again = _point(r, place_scene)
    assert len(fake.requests) == 2 and r.counters()["cache_hits"] == 0 and r.counters()["reasoner_calls"] == 1
    assert [d.label for d in again] == [d.label for d in first]
    third = GeminiReasoner(base_url=fake.base_url, cache_dir=str(tmp_path))
    _point(third, place_scene)  # the fresh answer replaced the damaged entry
    assert len(fake.requests) == 2 and third.counters()["cache_hits"] == 1


def test_an_episode_succeeds_through_a_damaged_cache(fake, make_env, tmp_path):
    env = make_env(task="pick")

    def episode():
        info, counters = run_agent(env, ToolAgent(GeminiReasoner(base_url=fake.base_url, cache_dir=str(tmp_path))),
                                   seed=3)
        return info["success"], counters

    assert episode()[0]
    calls = len(fake.requests)
    entries = sorted(tmp_path.rglob("*.json"))
    assert len(entries) == calls
    for entry, kind in zip(entries, [b"{}", b"[]", bytes(range(256)), b'{"key'] * len(entries)):
        entry.write_bytes(kind)
    success, counters = episode()
    assert success and counters["cache_hits"] == 0 and len(fake.requests) == 2 * calls


def test_the_api_key_is_never_logged(fake, place_scene, caplog):
    secret = "AIzaSy-programmatic-key-98765"
    caplog.set_level(logging.DEBUG)
    r = GeminiReasoner(base_url=fake.base_url, api_key=secret, cache_dir=None, retry_initial_delay_s=0.05)
    fake.push(429, error_body(429, "RESOURCE_EXHAUSTED", "retry later"))
    _point(r, place_scene)
    fake.push(403, error_body(403, "PERMISSION_DENIED", "API key not valid"))
    with pytest.raises(FatalAgentError) as err:
        _point(r, place_scene)
    assert secret not in caplog.text and secret not in str(err.value)
    assert secret not in repr({k: v for k, v in vars(r).items() if k != "client"})


NEW_TASKS = ["place_rel", "pick_ref", "place_ref", "sort", "tower", "gather"]


@pytest.mark.parametrize("task", NEW_TASKS)
def test_every_reasoning_task_runs_end_to_end_through_the_real_client(fake, make_env, task):
    """The stand-in reads each task's instructions (referring expressions and relations through the nominal
    view, the multi-step forms by the classic rules): pointing, a many-step plan, each call answered."""
    info, c = run_agent(make_env(task=task), ToolAgent(reasoner(fake)), seed=0)
    assert info["success"], c
    steps = {"sort": 2, "tower": 2, "gather": 3}.get(task, 1)  # pick-and-place steps in one plan
    assert c["call_errors"] == 0 and c["calls_executed"] >= 4 * steps + 1
    assert any(b.get("tools") for _, b in fake.requests)  # planned through function calling


def test_the_outcome_question_is_asked_and_a_no_means_another_attempt(fake, make_env):
    env = make_env(task="place")
    obs, info = env.reset(seed=1)
    r = reasoner(fake)
    image = obs["images"]["primary"]
    assert r.check_done(image, obs["instruction"]) is False  # the cube is not on the mat yet
    fake.push(200, text_reply("Hard to say."))
    assert r.check_done(image, obs["instruction"]) is None  # prose: no verdict, the agent checks its steps
    fake.push(200, text_reply('{"done": true}'))
    assert r.check_done(image, obs["instruction"]) is True
    asked = [b for _, b in fake.requests if "carried out" in json.dumps(b)]
    assert len(asked) == 3 and all(b["generationConfig"]["responseMimeType"] == "application/json" for b in asked)


def test_the_harness_runs_reasoning_tasks_in_their_heldout_wording(fake, tmp_path):
    """Through eval.run (a sweep over two of the new tasks), worded as the heldout instruction set words them."""
    run_cli("-m", "agent=gemini", f"agent.reasoner.base_url={fake.base_url}", "agent.reasoner.cache_dir=null",
            "task=pick_ref,place_rel", "factors.language=heldout", "episodes=2", "workers=1", f"out_dir={tmp_path}",
            check=0)
    jobs = sorted(p.parent for p in tmp_path.rglob("episodes.csv"))
    assert [j.name for j in jobs] == ["agent=gemini,factors.language=heldout,task=pick_ref",
                                      "agent=gemini,factors.language=heldout,task=place_rel"]  # no URL in the names
    df = pd.concat([episodes(j) for j in jobs])
    assert sorted(set(df["task"])) == ["pick_ref", "place_rel"] and len(df) == 4
    assert df["success"].all() and (df["calls_executed"] > 0).all() and (df["factors"] == "language=heldout").all()
