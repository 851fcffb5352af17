"""openpi's policy protocol: our wire format and client against our test server, openpi's own client
(``openpi-client``, installed without its numpy < 2 pin) against our server, and agent=openpi episodes."""

import threading

import msgpack
import numpy as np
import pytest
from harness_util import episodes, run_cli

from agents.errors import AgentError, FatalAgentError
from agents.openpi import OpenPIAgent
from agents.openpi.client import OpenPIClient
from agents.openpi.contract import make_contract, resize_with_pad
from agents.openpi.server import PolicyServer
from agents.openpi.testing import DemoBackend, demo_policy
from agents.openpi.wire import API_KEY_ENV, Limits, WireError, packb, unpackb
from envs.errors import ConfigError

OBS = {"observation/image": np.zeros((224, 224, 3), np.uint8), "observation/wrist_image": np.zeros((224, 224, 3),
       np.uint8), "observation/state": np.arange(8, dtype=np.float32), "prompt": "pick up the red block"}


@pytest.fixture
def server(monkeypatch):
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with PolicyServer(DemoBackend(demo_policy("libero"), {"policy": "test", "action_horizon": 10})) as s:
        yield s


def test_wire_round_trip_keeps_dtypes_and_shapes():
    back = unpackb(packb({"a": np.arange(6, dtype=np.int16).reshape(2, 3), "s": np.float32(2.5), "t": "x"}))
    assert back["a"].dtype == np.int16 and back["a"].shape == (2, 3) and back["a"][1, 2] == 5
    assert back["s"].dtype == np.float32 and back["s"] == 2.5 and back["t"] == "x"


@pytest.mark.parametrize("dtype", ["O", "V8", "c8", "U3"])
def test_wire_refuses_what_is_not_a_number_both_ways(dtype):
    with pytest.raises(WireError):
        packb({"a": np.zeros(2, dtype=dtype)})
    forged = msgpack.packb({"a": {b"__ndarray__": True, b"data": b"\0" * 16, b"dtype": np.dtype(dtype).str,
                                  b"shape": [2]}}, use_bin_type=True)
    with pytest.raises(WireError):
        unpackb(forged)


def test_wire_caps_what_it_decodes():
    big = packb({"a": np.zeros(1000, np.float32)})
    with pytest.raises(WireError, match="exceeds the limit"):
        unpackb(big, Limits(max_array_elements=999))
    with pytest.raises(WireError, match="exceeds the limit"):
        unpackb(big, Limits(max_message_bytes=100))
    lying = msgpack.packb({b"__ndarray__": True, b"data": b"\0" * 8, b"dtype": "<f4", b"shape": [100]},
                          use_bin_type=True)
    with pytest.raises(WireError, match="does not fit"):
        unpackb(lying)


def test_openpi_client_package_speaks_to_our_server(server):
    """openpi's own WebsocketClientPolicy: metadata, a chunk, an error frame, and the server serves on."""
    policy_client = pytest.importorskip("openpi_client.websocket_client_policy",
                                        reason="pip install --no-deps openpi-client==0.1.2 (make setup does)")
    client = policy_client.WebsocketClientPolicy(server.url)
    assert client.get_server_metadata() == {"policy": "test", "action_horizon": 10, "reset": True}
    reply = client.infer(OBS)
    np.testing.assert_array_equal(reply["actions"], demo_policy("libero")(OBS))
    assert "infer_ms" in reply["server_timing"]
    with pytest.raises(RuntimeError, match="observation has no 'observation/image'"):
        client.infer({"prompt": "x"})
    assert client.infer(OBS)["actions"].shape == (10, 7) and server.queries == 2


def test_our_wire_reads_what_openpi_client_packs():
    msgpack_numpy = pytest.importorskip("openpi_client.msgpack_numpy")
    back = unpackb(msgpack_numpy.packb(OBS))
    assert back["observation/image"].shape == (224, 224, 3) and back["prompt"] == OBS["prompt"]
    again = msgpack_numpy.unpackb(packb(OBS))
    np.testing.assert_array_equal(again["observation/state"], OBS["observation/state"])


def test_client_reads_metadata_chunks_and_error_frames(server):
    client = OpenPIClient(server.url, timeout_s=5)
    assert client.metadata["policy"] == "test"
    assert client.infer(OBS)["actions"].shape == (10, 7)
    with pytest.raises(AgentError, match="failed on this observation"):
        client.infer({"prompt": "x"})
    assert client.infer(OBS)["actions"].shape == (10, 7)  # the same connection goes on


def test_no_server_stops_at_once_naming_it():
    with pytest.raises(FatalAgentError, match="agent.server=ws://127.0.0.1:9.*start one"):
        OpenPIClient("ws://127.0.0.1:9", timeout_s=2)


def test_a_key_is_sent_when_the_server_wants_one(monkeypatch):
    with PolicyServer(DemoBackend(demo_policy("libero"), {"policy": "test"}), api_key="sesame") as s:
        monkeypatch.delenv(API_KEY_ENV, raising=False)
        with pytest.raises(FatalAgentError, match=f"refused the connection \\(401\\).*{API_KEY_ENV}"):
            OpenPIClient(s.url, timeout_s=2)
        monkeypatch.setenv(API_KEY_ENV, "sesame")
        assert OpenPIClient(s.url, timeout_s=2).infer(OBS)["actions"].shape == (10, 7)


def test_a_server_without_openpi_metadata_is_refused():
    from websockets.sync.server import serve

    def handler(ws):
        ws.send("hello")  # text, not the msgpack metadata map
        ws.recv()

    with serve(handler, "127.0.0.1", 0) as srv:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        port = srv.socket.getsockname()[1]
        with pytest.raises(FatalAgentError, match="metadata"):
            OpenPIClient(f"ws://127.0.0.1:{port}", timeout_s=2)
        srv.shutdown()


def test_a_slow_server_is_a_timeout_for_that_query():
    slow = demo_policy("libero")

    def sleepy(obs):
        import time
        time.sleep(1.5)
        return slow(obs)

    with PolicyServer(DemoBackend(sleepy, {"policy": "slow"})) as s:
        client = OpenPIClient(s.url, timeout_s=0.5)
        with pytest.raises(AgentError, match="did not answer within 0.5 s"):
            client.infer(OBS)


def test_libero_contract_builds_its_keys_and_reads_deltas():
    c = make_contract("libero")
    obs = {"images": {"primary": np.full((240, 320, 3), 200, np.uint8)}, "joint_pos": np.r_[np.zeros(6), 0.015,
           -0.015].astype(np.float32), "state": np.array([0.3, 0.0, 0.2, 0.0, np.pi / 2, 0.0, 0.0, 1.0], np.float32)}
    sent = c.build(obs, "pick up the red block")
    assert set(sent) == {"observation/image", "observation/wrist_image", "observation/state", "prompt"}
    assert sent["observation/image"].shape == (224, 224, 3) and sent["observation/wrist_image"].max() == 0
    np.testing.assert_allclose(sent["observation/state"][3:6], [0.0, np.pi / 2, 0.0], atol=1e-6)  # axis-angle
    np.testing.assert_allclose(sent["observation/state"][6:], [0.015, -0.015])
    action = c.action(np.array([1.0, 0.0, -0.5, 0.0, 0.0, 0.2, 1.0]), obs)
    np.testing.assert_allclose(action, [0.35, 0.0, 0.175, 0.0, np.pi / 2, 0.1, 0.0], atol=1e-6)  # +1: closed
    assert c.action(np.r_[np.zeros(6), -1.0], obs)[6] == 1.0  # -1: open


def test_env_contract_is_absolute_and_the_presets_validate():
    c = make_contract("env")
    obs = {"images": {"primary": np.zeros((240, 320, 3), np.uint8)}, "state": np.arange(8, dtype=np.float32)}
    assert c.build(obs, "x")["observation/image"].shape == (240, 320, 3)
    np.testing.assert_allclose(c.action(np.array([0.3, 0.1, 0.2, 0.0, 1.5, 0.0, 0.7]), obs),
                               [0.3, 0.1, 0.2, 0.0, 1.5, 0.0, 0.7], atol=1e-6)
    with pytest.raises(ConfigError, match="valid"):
        make_contract("droid-v9")
    with pytest.raises(ConfigError, match="gripper"):
        make_contract("libero", gripper="sideways")


def test_resize_with_pad_keeps_the_aspect_ratio_with_black_bars():
    out = resize_with_pad(np.full((240, 320, 3), 255, np.uint8), 224)
    assert out.shape == (224, 224, 3)
    assert out[0].max() == 0 and out[-1].max() == 0 and out[112].min() == 255  # 168 rows of image, bars above/below


def test_agent_runs_chunks_of_replan_steps(server, make_env):
    env = make_env(task="pick", max_episode_steps=12)
    agent = OpenPIAgent(server.url, {"preset": "libero", "replan_steps": 4})
    agent.prepare()
    obs, info = env.reset(seed=0)
    agent.reset(obs["instruction"], info["calibration"])
    z0 = obs["state"][2]
    for _ in range(12):
        obs, *_ = env.step(agent.act(obs))
    assert agent.counters()["policy_queries"] == 3 and obs["state"][2] < z0 - 0.02  # lowered, as the policy says
    plans = agent.planned()  # each chunk's deltas chained from the pose it was asked at: 4 targets going down
    assert [p.step for p in plans] == [0, 4, 8] and all(p.label == "chunk" and len(p.points) == 4 for p in plans)
    zs = [t[2] for t in plans[0].points]
    assert zs[0] < z0 and all(b < a for a, b in zip(zs, zs[1:])) and zs[-1] == pytest.approx(zs[0] - 3 * (z0 - zs[0]))
    agent.reset(obs["instruction"], info["calibration"])
    assert agent.planned() == []


def test_harness_runs_openpi_episodes(server, tmp_path):
    run_cli("agent=openpi", f"agent.server={server.url}", "task=pick", "episodes=2", "max_steps=20",
            f"out_dir={tmp_path}", check=0)
    df = episodes(tmp_path)
    assert len(df) == 2 and (df["status"] == "ok").all() and (df["policy_queries"] == 4).all()
    assert f"openpi server {server.url} metadata: {{'policy': 'test', 'action_horizon': 10" in \
        (tmp_path / "run.log").read_text()  # what the server says of itself, in the run's log


def test_the_server_answers_its_health_check_without_a_key(monkeypatch):
    import urllib.error
    import urllib.request

    monkeypatch.delenv(API_KEY_ENV, raising=False)
    backend = DemoBackend(demo_policy("libero"), {"policy": "test"})
    with PolicyServer(backend, api_key="secret") as s:
        http = s.url.replace("ws://", "http://")
        with urllib.request.urlopen(f"{http}/healthz", timeout=5) as r:  # load balancers ask without a key
            assert r.status == 200 and r.read() == b"OK\n"
        with pytest.raises(urllib.error.HTTPError) as err:  # anything else without the key: 401
            urllib.request.urlopen(f"{http}/", timeout=5)
        assert err.value.code == 401


def test_harness_without_an_openpi_server_stops_at_once(tmp_path):
    proc = run_cli("agent=openpi", "agent.server=ws://127.0.0.1:9", "agent.timeout_s=2", "episodes=2",
                   f"out_dir={tmp_path}", check=2)
    assert "agent.server=ws://127.0.0.1:9" in proc.stderr + proc.stdout


def test_droid_contract_sends_joint_keys_and_integrates_velocities():
    c = make_contract("droid")
    q = np.r_[0.1, -0.2, 0.3, 0.0, 0.5, 0.0, 0.015, -0.015].astype(np.float32)
    obs = {"images": {"primary": np.zeros((240, 320, 3), np.uint8)}, "joint_pos": q,
           "state": np.r_[np.zeros(7), 0.25].astype(np.float32)}
    sent = c.build(obs, "x")
    assert set(sent) == {"observation/exterior_image_1_left", "observation/wrist_image_left",
                         "observation/joint_position", "observation/gripper_position", "prompt"}
    np.testing.assert_allclose(sent["observation/joint_position"], np.r_[q[:6], 0.0])  # 6 joints, padded to 7
    np.testing.assert_allclose(sent["observation/gripper_position"], [0.75])  # 0 open, 1 closed
    action = c.action(np.r_[1.0, 0, 0, 0, 0, -2.0, 9.0, 1.0], obs, dt_s=0.1)  # the 7th joint is not there
    np.testing.assert_allclose(action, np.r_[0.2, -0.2, 0.3, 0.0, 0.5, -0.2, 0.0], atol=1e-6)


def test_a_contract_that_does_not_match_the_env_is_refused_at_start():
    with pytest.raises(ConfigError, match="agent.control_mode=joint_pos"):
        OpenPIAgent("ws://127.0.0.1:9", {"preset": "droid"}, env_control_mode="ee_pose")


def test_harness_runs_a_joint_space_policy(tmp_path, monkeypatch):
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with PolicyServer(DemoBackend(demo_policy("droid"), {"policy": "droid-test"})) as s:
        run_cli("agent=openpi", f"agent.server={s.url}", "agent.control_mode=joint_pos",
                "agent.contract.preset=droid", "task=pick", "episodes=1", "max_steps=16", f"out_dir={tmp_path}",
                check=0)
    df = episodes(tmp_path)
    assert (df["status"] == "ok").all() and (df["policy_queries"] == 2).all()  # 8 rows per query
