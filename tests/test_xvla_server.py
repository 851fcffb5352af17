"""The X-VLA agent through a policy server on 127.0.0.1 serving a deterministic test policy."""

import json
import threading
import urllib.request

import numpy as np
import pytest

from agents.xvla import XVLAAgent  # = agents.lerobot_agent.LeRobotAgent
from agents.xvla.client import PolicyClient
from agents.xvla.protocol import decode_observation, encode_observation
from agents.xvla.serve import make_server
from agents.xvla.testing import ReachPolicy
from agents.errors import FatalAgentError
from harness_util import episodes, run_cli


@pytest.fixture
def server():
    policy = ReachPolicy()
    httpd = make_server(policy, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.policy = policy
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_observation_encoding_is_lossless():
    rng = np.random.default_rng(0)
    obs = {"observation.images.image": rng.integers(0, 255, (32, 48, 3), np.uint8),
           "observation.state": rng.normal(size=20).astype(np.float32), "task": "pick up the red block"}
    back = decode_observation(json.loads(json.dumps(encode_observation(obs))))
    np.testing.assert_array_equal(back["observation.images.image"], obs["observation.images.image"])
    np.testing.assert_array_equal(back["observation.state"], obs["observation.state"])
    assert back["task"] == obs["task"]


def test_client_gets_the_same_chunk_as_the_policy_in_process(server):
    client = PolicyClient(server.url)
    assert client.describe()["chunk_size"] == 8
    inputs = {"observation.images.image": np.zeros((64, 64, 3), np.uint8),
              "observation.state": np.r_[0.2, 0.0, 0.2, 1, 0, 0, 1, 0, 0, 0, np.zeros(10)].astype(np.float32),
              "task": "x"}
    np.testing.assert_allclose(client.predict(inputs), ReachPolicy().predict(inputs), atol=1e-6)


def test_server_reports_policy_errors_and_keeps_serving(server):
    client = PolicyClient(server.url, retries=1)
    with pytest.raises(Exception, match="500.*do not match"):
        client.predict({"observation.images.image": np.zeros((8, 8, 3), np.uint8),
                        "observation.state": np.zeros(3, np.float32), "task": "x"})
    assert client.describe()["action_dim"] == 20


def test_protocol_mismatch_is_refused(server, monkeypatch):
    monkeypatch.setattr("agents.xvla.client.PROTOCOL_VERSION", 99)
    with pytest.raises(FatalAgentError, match="protocol 1.*speaks 99"):
        PolicyClient(server.url)
    req = urllib.request.Request(server.url + "/predict", data=json.dumps({"protocol": 99}).encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 409


def test_unreachable_server_fails_fast_with_the_command_to_start_one():
    with pytest.raises(FatalAgentError, match="cannot reach.*agents.xvla.serve"):
        XVLAAgent(server="http://127.0.0.1:9", timeout_s=1, retries=1)


def test_without_lerobot_or_server_the_message_names_both_ways():
    with pytest.raises(FatalAgentError, match=r"pip install -e '.\[xvla\]'.*agent.server="):
        XVLAAgent()


def test_agent_decodes_chunks_into_env_motion(make_env, server, tmp_path):
    env = make_env(task="pick")
    agent = XVLAAgent(server=server.url, control_freq=10, policy_hz=5, debug=True, debug_dir=str(tmp_path))
    agent.seed(7)
    obs, info = env.reset(seed=0)
    agent.reset(obs["instruction"], info["calibration"])
    for _ in range(40):
        obs, *_ = env.step(agent.act(obs))
    # the test policy drives ee_gripper_link to (0.25, 0.05, 0.12) pointing down: the pinch is 1.44 cm lower
    np.testing.assert_allclose(obs["state"][:3], [0.25, 0.05, 0.12 - 0.014425], atol=4e-3)
    c = agent.counters()
    assert c["policy_queries"] == 5  # 4 actions per chunk, each held 2 steps at 10 Hz
    folder = tmp_path / "episode_0001_seed7"
    assert (folder / "step_0000_image.png").exists() and (folder / "step_0000_targets.png").exists()
    assert len((folder / "queries.jsonl").read_text().splitlines()) == 5


def test_harness_runs_xvla_episodes_against_the_server(server, tmp_path):
    run_cli("agent=xvla", f"agent.server={server.url}", "task=pick", "episodes=2", "workers=2", "max_steps=30",
            f"out_dir={tmp_path}", check=0)
    df = episodes(tmp_path)
    assert (df["status"] == "ok").all() and (df["policy_queries"] == 4).all() and (df["steps"] == 30).all()


def test_harness_without_a_backend_stops_at_once(tmp_path):
    proc = run_cli("agent=xvla", "episodes=2", f"out_dir={tmp_path}", check=2)
    assert "agent.server=" in proc.stdout + proc.stderr
