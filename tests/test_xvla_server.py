"""The LeRobot agent through a policy server on 127.0.0.1 serving a deterministic test policy."""

import base64
import http.client
import io
import json
import logging
import socket
import struct
import threading
import urllib.error
import urllib.request
import zlib

import numpy as np
import pytest
from harness_util import episodes, run_cli
from PIL import Image

from agents.errors import FatalAgentError
from agents.lerobot import LeRobotAgent
from agents.lerobot.client import PolicyClient, PolicyServerError
from agents.lerobot.protocol import API_KEY_ENV, Limits, decode_observation, encode_observation
from agents.lerobot.serve import make_server, parse_args, warn_if_exposed
from agents.lerobot.testing import ReachPolicy

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


def serve(backend, **kwargs):
    httpd = make_server(backend, "127.0.0.1", 0, **kwargs)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.backend, httpd.url = backend, f"http://127.0.0.1:{httpd.server_address[1]}"
    return httpd


@pytest.fixture
def servers():
    started = []

    def _start(backend=None, **kwargs):
        started.append(serve(backend or Counting(), **kwargs))
        return started[-1]

    yield _start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(servers):
    return servers()


def post(server, path: str, body, headers: dict | None = None) -> tuple[int, dict]:
    """One POST with ``body`` (bytes, or an object sent as JSON) -> (status, JSON reply)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        conn.request("POST", path, body=data, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def raw(server, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    with socket.create_connection(server.server_address, timeout=10) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        return reply


def predict_body(observation: dict) -> dict:
    return {"protocol": 1, "observation": observation}


def png_of_zeros(width: int, height: int) -> bytes:
    """A valid 8-bit grayscale PNG of zeros, compressed row by row (never held decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z, row, idat = zlib.compressobj(9), b"\x00" * (width + 1), []
    for _ in range(height):
        idat.append(z.compress(row))
    idat.append(z.flush())
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", b"".join(idat)) + chunk(b"IEND", b""))


# --- the wire format and the agent --------------------------------------------
def test_observation_encoding_is_lossless():
    rng = np.random.default_rng(0)
    obs = {"observation.images.image": rng.integers(0, 255, (32, 48, 3), np.uint8),
           "observation.state": rng.normal(size=20).astype(np.float32), "task": "pick up the red block"}
    back = decode_observation(json.loads(json.dumps(encode_observation(obs))))
    np.testing.assert_array_equal(back["observation.images.image"], obs["observation.images.image"])
    np.testing.assert_array_equal(back["observation.state"], obs["observation.state"])
    assert back["task"] == obs["task"]
    with pytest.raises(ValueError, match="complex128"):
        encode_observation({"x": np.zeros(2, complex)})


def test_client_gets_the_same_chunk_as_the_policy_in_process(server):
    client = PolicyClient(server.url)
    assert client.describe()["chunk_size"] == 8
    np.testing.assert_allclose(client.predict(GOOD), ReachPolicy().predict(GOOD), atol=1e-6)


def test_server_reports_policy_errors_and_keeps_serving(server):
    """A request the policy can never take is a 422, sent once (no retry); the server keeps serving."""
    client = PolicyClient(server.url, retries=3, backoff_s=0.0)
    with pytest.raises(PolicyServerError, match="422.*observation.state has shape") as err:
        client.predict({**GOOD, "observation.state": np.zeros(3, np.float32)})
    assert type(err.value) is PolicyServerError and err.value.status == 422
    assert server.backend.predicts == 1  # the policy refused it once: not retried
    with pytest.raises(PolicyServerError, match="422.*shape \\(8, 8, 3\\)"):
        client.predict({**GOOD, "observation.images.image": np.zeros((8, 8, 3), np.uint8)})
    np.testing.assert_allclose(client.predict(GOOD), ReachPolicy().predict(GOOD), atol=1e-6)
    assert server.backend.predicts == 3


def test_server_faults_are_500_and_retried(servers):
    flaky = servers(Counting(faults=1))
    np.testing.assert_allclose(PolicyClient(flaky.url, retries=3, backoff_s=0.0).predict(GOOD),
                               ReachPolicy().predict(GOOD), atol=1e-6)
    assert flaky.backend.predicts == 2  # the fault, then the retry that worked
    broken = servers(Counting(faults=5))
    with pytest.raises(PolicyServerError, match="500.*CUDA out of memory") as err:
        PolicyClient(broken.url, retries=2, backoff_s=0.0).predict(GOOD)
    assert err.value.status == 500 and broken.backend.predicts == 2


def test_protocol_mismatch_is_refused(server, monkeypatch):
    monkeypatch.setattr("agents.lerobot.client.PROTOCOL_VERSION", 99)
    with pytest.raises(FatalAgentError, match="protocol 1.*speaks 99"):
        PolicyClient(server.url)
    assert post(server, "/predict", {"protocol": 99})[0] == 409


def test_unreachable_server_fails_fast_with_the_command_to_start_one():
    with pytest.raises(FatalAgentError, match="cannot reach.*python -m agents.lerobot.serve"):
        LeRobotAgent(server="http://127.0.0.1:9", timeout_s=1, retries=1)


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
    with caplog.at_level(logging.WARNING, logger="agents.lerobot.serve"):
        warn_if_exposed("127.0.0.1", None)
        assert not caplog.records
        warn_if_exposed("0.0.0.0", None)
    assert "anyone who can reach this machine" in caplog.text and API_KEY_ENV in caplog.text


def test_api_key_is_required_when_the_server_has_one(servers, monkeypatch):
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    locked = servers(api_key="s3cret-key")
    with pytest.raises(FatalAgentError, match=f"wants an API key: set {API_KEY_ENV}"):
        PolicyClient(locked.url)
    body = predict_body(encode_observation(GOOD))
    assert post(locked, "/predict", body)[0] == 401
    assert post(locked, "/predict", body, {"Authorization": "Api-Key s3cret-kez"})[0] == 401
    assert post(locked, "/nowhere", body)[0] == 401  # nothing is told before the key
    assert raw(locked, b"GET /health HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 401")
    assert locked.backend.predicts == 0
    assert post(locked, "/predict", body, {"Authorization": "Api-Key s3cret-key"})[0] == 200
    monkeypatch.setenv(API_KEY_ENV, "s3cret-key")
    np.testing.assert_allclose(PolicyClient(locked.url).predict(GOOD), ReachPolicy().predict(GOOD), atol=1e-6)


def test_body_size_is_checked_from_content_length_before_reading(server):
    head = b"POST /predict HTTP/1.0\r\nContent-Type: application/json\r\n"
    assert raw(server, head + b"Content-Length: 1000000000\r\n\r\n").startswith(b"HTTP/1.0 413")
    assert raw(server, head + b"\r\n").startswith(b"HTTP/1.0 411")
    assert raw(server, head + b"Content-Length: -5\r\n\r\n").startswith(b"HTTP/1.0 400")
    assert raw(server, head + b"Content-Length: lots\r\n\r\n").startswith(b"HTTP/1.0 400")
    assert server.backend.predicts == 0


def test_client_does_not_send_more_than_the_server_takes(servers):
    small = servers(limits=Limits(max_body_bytes=2000))
    noisy = np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)  # a PNG of about 12 KB
    with pytest.raises(PolicyServerError, match="exceeds the server's limit of 2000") as err:
        PolicyClient(small.url).predict({**GOOD, "observation.images.image": noisy})
    assert err.value.status == 413 and small.backend.predicts == 0


def test_arrays_are_refused_unless_their_dtype_is_allowed(server):
    for dtype in ("S50000000", "object", "complex128", "V8", "<U9", 5):
        status, reply = post(server, "/predict", predict_body({"observation.state": {"array": [1], "dtype": dtype}}))
        assert status == 400 and "is not one of" in reply["error"], dtype
    state = {"array": STATE.tolist(), "dtype": "float16"}  # allowed: reaches the policy
    obs = {**encode_observation(GOOD), "observation.state": state}
    assert post(server, "/predict", predict_body(obs))[0] == 200


def test_array_element_count_is_capped(server):
    status, reply = post(server, "/predict", predict_body({"x": {"array": [0] * 65537, "dtype": "uint8"}}))
    assert status == 413 and "65537 elements" in reply["error"]
    status, reply = post(server, "/predict", predict_body({"x": {"array": [[0, 1], [2]], "dtype": "int16"}}))
    assert status == 400 and "not a regular" in reply["error"]


def test_images_must_be_pngs_whose_header_size_is_within_the_cap(server):
    bomb = png_of_zeros(9000, 9000)  # 81 megapixels in about 80 KB
    assert len(bomb) < 120_000
    status, reply = post(server, "/predict", predict_body({"observation.images.image": {
        "png": base64.b64encode(bomb).decode()}}))
    assert status == 413 and "9000x9000" in reply["error"]
    jpeg = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(jpeg, format="JPEG")
    for payload, why in ((base64.b64encode(jpeg.getvalue()).decode(), "must be PNG"),
                         ("not base64 at all!", "not base64"),
                         (base64.b64encode(png_of_zeros(64, 64)[:60]).decode(), "does not decode")):
        status, reply = post(server, "/predict", predict_body({"observation.images.image": {"png": payload}}))
        assert status == 400 and why in reply["error"]
    assert server.backend.predicts == 0


def test_requests_that_can_never_succeed_are_4xx(server):
    assert post(server, "/predict", b"{not json")[0] == 400
    assert post(server, "/predict", b"[1, 2]")[0] == 400
    assert post(server, "/predict", b"[" * 100_000 + b"]" * 100_000)[0] == 400  # deeper than the parser goes
    assert post(server, "/predict", {"protocol": 1})[0] == 400  # no observation
    assert post(server, "/predict", predict_body({"x": {"unknown": 1}}))[0] == 400
    assert post(server, "/reset", {"protocol": 1, "seed": "seven"})[0] == 400
    assert post(server, "/elsewhere", {"protocol": 1})[0] == 404
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(server.url + "/elsewhere", timeout=10)
    assert err.value.code == 404
    assert post(server, "/reset", {"protocol": 1, "seed": 3})[0] == 200


def test_stalled_connections_are_dropped_after_the_timeout(servers):
    quick = servers(timeout_s=0.3)
    assert raw(quick, b"") == b""  # says nothing: dropped
    assert raw(quick, b"POST /predict HTTP/1.0\r\n") == b""  # stops inside the headers
    assert raw(quick, b"POST /predict HTTP/1.0\r\nContent-Length: 100\r\n\r\n{\"proto") == b""  # inside the body
    assert PolicyClient(quick.url).describe()["chunk_size"] == 8  # and it still serves


def test_handler_threads_are_bounded(servers):
    busy = servers(max_handlers=2, timeout_s=60)
    client = PolicyClient(busy.url, retries=5, backoff_s=0.05)
    stalled = [socket.create_connection(busy.server_address, timeout=10) for _ in range(2)]
    try:
        assert raw(busy, b"").startswith(b"HTTP/1.0 503")  # a third connection is turned away at once
    finally:
        for sock in stalled:
            sock.close()
    np.testing.assert_allclose(client.predict(GOOD), ReachPolicy().predict(GOOD), atol=1e-6)  # retried 503s
