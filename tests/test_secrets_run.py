"""No run file holds an API key: keys come from the environment, and a key on the command line is refused
before anything is written."""

from pathlib import Path

import pytest
from fake_gemini import FakeGemini
from harness_util import run_cli

ENV_KEY = "sk-env-7f3a9c1e5b"
CLI_KEY = "sk-cli-2d8b4e6f0a"


def _files_holding(root: Path, secret: str) -> list[str]:
    hits = [str(p) for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    return hits + [str(p) for p in root.rglob(f"*{secret}*")]


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", ENV_KEY)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL", raising=False)
    with FakeGemini() as server:
        yield server


def test_a_sweep_with_the_key_in_the_environment_writes_it_nowhere(fake, tmp_path):
    run_cli("-m", "agent=gemini", f"agent.reasoner.base_url={fake.base_url}", "agent.reasoner.cache_dir=null",
            "task=pick", "episodes=1", "workers=1", "max_steps=30", "camera=nominal,shifted", f"out_dir={tmp_path}",
            check=0)
    assert len(list(tmp_path.rglob("episodes.jsonl"))) == 2 and (tmp_path / "multirun.yaml").exists()
    assert _files_holding(tmp_path, ENV_KEY) == []


@pytest.mark.parametrize("mode", [[], ["-m"]])
@pytest.mark.parametrize("override", [f"+agent.reasoner.api_key={CLI_KEY}", f"++agent.reasoner.api_key={CLI_KEY}"])
def test_a_key_on_the_command_line_is_refused_before_anything_is_written(fake, tmp_path, mode, override):
    out = tmp_path / "run"
    proc = run_cli(*mode, "agent=gemini", override, "episodes=1", f"out_dir={out}", check=2)
    text = proc.stdout + proc.stderr
    assert "api_key" in text and "GEMINI_API_KEY" in text and "Traceback" not in text
    assert CLI_KEY not in text  # not even echoed back
    assert not out.exists() and _files_holding(tmp_path, CLI_KEY) == []
