"""The LeRobot agent through a policy server (openpi's protocol) on 127.0.0.1 serving a deterministic test
policy; openpi's own client against it."""

import json
import logging
import threading

import numpy as np
import pytest
from harness_util import episodes, run_cli

from agents.errors import AgentError, FatalAgentError
from agents.lerobot import LeRobotAgent
from agents.lerobot.client import PolicyClient
from agents.lerobot.serve import make_server, parse_args
from agents.lerobot.testing import ReachPolicy
from agents.openpi.server import warn_if_exposed
from agents.openpi.wire import API_KEY_ENV, Limits

STATE = np.r_[0.2, 0.0, 0.2, 1, 0, 0, 1, 0, 0, 0, np.zeros(10)].astype(np.float32)
GOOD = {"observation.images.image": np.zeros((64, 64, 3), np.uint8), "observation.state": STATE, "task": "x"}


class Counting:
    """The test policy, counting the calls that reach it and failing the first ``faults`` predicts."""

    def __init__(self, faults: int = 0):
        self.policy, self.faults, self.predicts = ReachPolicy(), faults, 0

    def describe(self):
        return self.policy.describe()

    def reset(self, seed=None):
        self.policy.reset(seed)

    def predict(self, inputs):
        self.predicts += 1
        if self.predicts <= self.faults:
            raise RuntimeError("CUDA out of memory (injected)")
        return self.policy.predict(inputs)


@pytest.fixture
def servers(monkeypatch):
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    started = []

    def _start(backend=None, **kwargs):
        srv = make_server(backend or Counting(), "127.0.0.1", 0, **kwargs).__enter__()
        started.append(srv)
        return srv

    yield _start
    for srv in started:
        srv.shutdown()


@pytest.fixture
def server(servers):
    return servers()


# --- the protocol and the agent -------------------------------------------------
def test_client_gets_the_same_chunk_as_the_policy_in_process(server):
    client = PolicyClient(server.url)
    assert client.describe()["chunk_size"] == 8 and client.describe() == ReachPolicy().describe()
    np.testing.assert_allclose(client.predict(GOOD), ReachPolicy().predict(GOOD), atol=1e-6)


def test_openpi_client_drives_a_lerobot_server(server):
    policy_client = pytest.importorskip("openpi_client.websocket_client_policy",
                                        reason="pip install --no-deps openpi-client==0.1.2 (make setup does)")
    client = policy_client.WebsocketClientPolicy(server.url)
    assert client.get_server_metadata()["policy_type"] == "reach_test_policy"
    np.testing.assert_allclose(client.infer(GOOD)["actions"], ReachPolicy().predict(GOOD), atol=1e-6)


def test_reset_reaches_the_policy_with_the_episode_seed(server):
    seen = []
    server.backend.reset = lambda seed=None: seen.append(seed)
    client = PolicyClient(server.url)
    client.reset(7)
    client.reset(None)
    assert seen == [7, None]


def test_server_reports_policy_errors_and_keeps_serving(server):
    """An observation the policy cannot take comes back as an error frame; the same connection serves on."""
    client = PolicyClient(server.url, retries=3, backoff_s=0.0)
    with pytest.raises(AgentError, match="observation.state has shape"):
        client.predict({**GOOD, "observation.state": np.zeros(3, np.float32)})
    assert server.backend.predicts == 1  # not retried
    with pytest.raises(AgentError, match="CUDA out of memory"):
        PolicyClient(make_faulty(server)).predict(GOOD)
    np.testing.assert_allclose(client.predict(GOOD), ReachPolicy().predict(GOOD), atol=1e-6)


def make_faulty(server):
    server.backend.faults = server.backend.predicts + 1  # the next predict fails
    return server.url


def test_an_http_url_is_refused_with_the_ws_one():
    with pytest.raises(FatalAgentError, match="use ws://127.0.0.1:9"):
        LeRobotAgent(server="http://127.0.0.1:9")


def test_unreachable_server_fails_fast_with_the_command_to_start_one():
    with pytest.raises(FatalAgentError, match="no openpi server.*python -m agents.lerobot.serve"):
        LeRobotAgent(server="ws://127.0.0.1:9", timeout_s=1, retries=1)


def test_without_lerobot_or_server_the_message_names_both_ways():
    with pytest.raises(FatalAgentError, match=r"pip install -e '.\[xvla\]'.*agent.server=.*agents.lerobot.serve"):
        LeRobotAgent()


def test_agent_decodes_chunks_into_env_motion(make_env, server, tmp_path):
    env = make_env(task="pick")
    agent = LeRobotAgent(server=server.url, control_freq=10, policy_hz=5, debug=True, debug_dir=str(tmp_path))
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
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines()]
    assert len(queries) == 5 and all(q["rot6d_orthonormality_error"] < 1e-4 for q in queries)


def test_harness_runs_xvla_episodes_against_the_server(server, tmp_path):
    run_cli("agent=xvla", f"agent.server={server.url}", "task=pick", "episodes=2", "workers=2", "max_steps=30",
            f"out_dir={tmp_path}", check=0)
    df = episodes(tmp_path)
    assert (df["status"] == "ok").all() and (df["policy_queries"] == 4).all() and (df["steps"] == 30).all()


def test_harness_without_a_backend_stops_at_once(tmp_path):
    proc = run_cli("agent=xvla", "episodes=2", f"out_dir={tmp_path}", check=2)
    assert "agent.server=" in proc.stdout + proc.stderr


# --- safe by default ------------------------------------------------------------
def test_server_listens_on_loopback_unless_told_and_warns_when_exposed(caplog):
    assert parse_args(["--test-policy"]).host == "127.0.0.1"
    assert parse_args(["--test-policy", "--host", "0.0.0.0"]).host == "0.0.0.0"
    logger = logging.getLogger("agents.lerobot.serve")
    with caplog.at_level(logging.WARNING, logger="agents.lerobot.serve"):
        warn_if_exposed("127.0.0.1", None, logger)
        assert not caplog.records
        warn_if_exposed("0.0.0.0", None, logger)
    assert "anyone who can reach this machine" in caplog.text and API_KEY_ENV in caplog.text


def test_api_key_is_required_when_the_server_has_one(servers, monkeypatch):
    locked = servers(api_key="sesame")
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with pytest.raises(FatalAgentError, match=f"401.*{API_KEY_ENV}"):
        PolicyClient(locked.url)
    monkeypatch.setenv(API_KEY_ENV, "wrong")
    with pytest.raises(FatalAgentError, match="401"):
        PolicyClient(locked.url)
    monkeypatch.setenv(API_KEY_ENV, "sesame")
    np.testing.assert_allclose(PolicyClient(locked.url).predict(GOOD), ReachPolicy().predict(GOOD), atol=1e-6)


def test_what_the_server_decodes_is_capped(servers, caplog):
    small = servers(limits=Limits(max_array_elements=10_000))
    client = PolicyClient(small.url)
    with pytest.raises(AgentError, match="exceeds the limit of 10000"):
        client.predict(GOOD)  # a 64x64x3 image is 12288 elements
    assert small.backend.predicts == 0
    tiny = servers(limits=Limits(max_message_bytes=4096))
    client = PolicyClient(tiny.url, retries=3, backoff_s=0)
    with pytest.raises(AgentError, match="refused the observation .1009"):  # refused before it is decoded
        client.predict(GOOD)
    assert tiny.backend.predicts == 0
    assert "reconnecting" not in caplog.text  # a message too big is refused again: not resent


def test_connections_are_bounded(servers):
    busy = servers(max_connections=1)
    first = PolicyClient(busy.url)
    with pytest.raises(FatalAgentError, match="as many clients as it takes.*--max-connections"):
        PolicyClient(busy.url, timeout_s=2)  # closed at once (1013, try again later)
    first.close()
    threading.Event().wait(0.2)
    assert PolicyClient(busy.url).describe()["chunk_size"] == 8  # served once the slot is free


def test_an_idle_client_is_closed_and_frees_its_slot(servers):
    busy = servers(max_connections=1, idle_timeout_s=0.3)
    idle = PolicyClient(busy.url, backoff_s=0)  # connects, then says nothing
    threading.Event().wait(0.8)
    assert PolicyClient(busy.url, timeout_s=2).describe()["chunk_size"] == 8  # its slot was freed
    idle.close()
