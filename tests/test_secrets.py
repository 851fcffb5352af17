"""Secrets stay out of run folders: refused on the command line, masked in what is written."""

import pytest

from envs.errors import ConfigError
from eval.secrets import MASK, check_overrides, is_secret_name, redact, redact_override

KEY = "AIzaSy-not-a-real-key-0123456789"


@pytest.mark.parametrize("arg", [f"agent.reasoner.api_key={KEY}", f"+agent.reasoner.api_key={KEY}",
                                 f"++agent.reasoner.api_key={KEY}", f"agent.reasoner.apiKey={KEY}",
                                 f"agent.token={KEY}", f"+agent.reasoner.client_secret={KEY}",
                                 f"db.password={KEY}", f"agent.credentials={KEY}",
                                 f"hydra.job.env_set.GEMINI_API_KEY={KEY}",
                                 f"agent.reasoner.api_key={KEY},other", "agent.reasoner.key@pkg=x",
                                 f"agent.reasoner.api_key.value={KEY}",
                                 f"agent.reasoner={{_target_:x.Y,api_key:{KEY}}}",
                                 f"+agent.reasoner.extra={{api_key:{KEY}}}",
                                 f"agent.servers=[{{url:u,password:{KEY}}}]",
                                 f"agent.reasoner={{model:m}},{{model:n,token:{KEY}}}"])
def test_a_secret_on_the_command_line_is_refused_without_echoing_it(arg):
    with pytest.raises(ConfigError) as err:
        check_overrides(["agent=gemini", "-m", arg, "episodes=3"])
    msg = str(err.value)
    assert KEY not in msg and "GEMINI_API_KEY" in msg and "OPENAI_API_KEY" in msg
    assert arg.lstrip("+").split("=")[0].split("@")[0] in msg


@pytest.mark.parametrize("value", ["${oc.env:GEMINI_API_KEY}", "${oc.env:OPENAI_API_KEY,x}", "pre${env:MY_TOKEN}"])
def test_a_value_reading_a_secret_variable_is_refused(value):
    with pytest.raises(ConfigError, match="reads .*oc.env"):
        check_overrides([f"agent.reasoner.base_url={value}"])


@pytest.mark.parametrize("argv", [[], ["agent=gemini", "task=stack", "episodes=3", "workers=2"],
                                  ["-m", "--config-name=config", "camera=nominal,shifted"],
                                  ["~agent.reasoner.api_key"], ["agent.reasoner.api_key=null"],
                                  ["agent.tokenizer_dir=/tok", "hydra.job.config.override_dirname.exclude_keys=[a]",
                                   "agent.max_tokens=5", "out_dir=${oc.env:HOME}/runs", "keyboard=1"],
                                  ["agent.reasoner={model:m,api_key:null,max_tokens:5}", "agent.servers=[{url:u}]"]])
def test_ordinary_overrides_pass(argv):
    check_overrides(argv)


def test_secret_names_are_whole_words():
    assert all(map(is_secret_name, ["api_key", "apikey", "API_KEY", "apiKey", "GOOGLE_API_KEY", "access_token",
                                    "secret", "password", "credential"]))
    assert not any(map(is_secret_name, ["tokenizer_dir", "exclude_keys", "max_tokens", "monkey", "keyboard",
                                        "base_url"]))


def test_redact_masks_secret_values_at_any_depth():
    config = {"agent": {"name": "gemini", "reasoner": {"api_key": KEY, "model": "m", "token": None},
                        "servers": [{"url": "u", "password": KEY}]}, "max_steps": 200}
    clean = redact(config)
    assert KEY not in repr(clean) and clean["agent"]["reasoner"] == {"api_key": MASK, "model": "m", "token": None}
    assert clean["agent"]["servers"] == [{"url": "u", "password": MASK}] and clean["max_steps"] == 200
    assert config["agent"]["reasoner"]["api_key"] == KEY  # the input is left alone


def test_overrides_written_to_the_run_folder_are_masked():
    assert redact_override(f"+agent.reasoner.api_key={KEY}") == f"+agent.reasoner.api_key={MASK}"
    assert redact_override("agent.reasoner.api_key=null") == "agent.reasoner.api_key=null"
    assert redact_override("agent.max_tokens=5") == "agent.max_tokens=5"
