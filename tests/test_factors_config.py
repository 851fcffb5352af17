"""The factors node: axes as data, defaults written once, bad values refused before anything is written."""

import dataclasses
from pathlib import Path

import pytest
from harness_util import episodes, run_cli
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from envs.errors import ConfigError
from envs.factors import AXES, FactorEffects, FactorsConfig, make_factors, parse_label
from eval import schema
from eval.episodes import env_settings
from eval.run import check_factor_overrides

CONF = Path(__file__).resolve().parents[1] / "conf"


def test_every_axis_is_a_field_whose_default_is_its_nominal():
    defaults = FactorsConfig()
    for axis in AXES.values():
        assert getattr(defaults, axis.name) == axis.nominal, axis.name
        assert axis.check(axis.maximum) == axis.maximum  # the documented maximum is a valid level
        if not axis.categorical:
            assert axis.valid[0] <= axis.nominal <= axis.valid[1]
            assert axis.maximum != axis.nominal, f"{axis.name}: its maximum must perturb"
    assert defaults.off_nominal() == {} and defaults.label() == "nominal"
    assert FactorEffects(defaults).effects == []  # nominal builds nothing: the scene is the one before factors


def test_the_schema_node_is_derived_from_the_dataclass():
    schema.register()
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose("config", overrides=["factors.light_intensity=0.5", "factors.language=heldout"])
    node = OmegaConf.to_container(cfg.factors)
    expected = dataclasses.asdict(FactorsConfig(light_intensity=0.5, language="heldout"))
    assert node == {k: list(v) if isinstance(v, tuple) else v for k, v in expected.items()}
    assert env_settings(cfg).factors == FactorsConfig(light_intensity=0.5, language="heldout")


def test_label_round_trips():
    cfg = FactorsConfig(light_intensity=0.3, clutter=2, language="synonyms")
    assert cfg.label() == "light_intensity=0.3;clutter=2;language=synonyms"
    assert parse_label(cfg.label()) == {"light_intensity": 0.3, "clutter": 2.0, "language": "synonyms"}
    assert parse_label("nominal") == {}


@pytest.mark.parametrize("values, message", [
    ({"light_intensity": 5.0}, "within [0.1, 2]"),
    ({"light_intensity": float("nan")}, "within"),
    ({"clutter": 2.5}, "whole number"),
    ({"language": "klingon"}, "heldout, synonyms, train, verbose"),
    ({"lightintensity": 0.5}, "valid choices: blur_px"),
    ({"table_textures": ("marble",)}, "checker"),
])
def test_bad_values_name_the_valid_ones(values, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        make_factors(values)


@pytest.mark.parametrize("arg, message", [
    ("factors.light_intensity=1,0.6,5", "within"),  # a sweep whose last level is out of range
    ("factors.lightintensity=1", "valid choices"),
    ("factors.language=train,klingon", "valid choices"),
    ("factors.clutter=range(0,7)", "within"),
])
def test_preflight_refuses_a_bad_level_anywhere_in_a_sweep(arg, message):
    with pytest.raises(ConfigError, match=message):
        check_factor_overrides([arg])
    check_factor_overrides(["factors.light_intensity=1,0.6,0.3", "factors.clutter=range(0,3)", "agent=oracle"])


def test_a_refused_sweep_writes_nothing(tmp_path):
    out = tmp_path / "sweep"
    proc = run_cli("-m", "factors.light_intensity=1,0.3,9", f"out_dir={out}", "episodes=1", check=2)
    assert "factors.light_intensity must be within" in proc.stdout + proc.stderr
    assert not out.exists()


def test_rows_name_their_factors(tmp_path):
    run_cli("agent=oracle", "task=pick", "episodes=1", "max_steps=3", "workers=1", "factors.light_intensity=0.5",
            f"out_dir={tmp_path}", check=0)
    row = episodes(tmp_path).iloc[0]
    assert row["factors"] == "light_intensity=0.5"


def test_the_readme_table_lists_every_axis_as_it_is():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()

    def f(v):
        return v if isinstance(v, str) else f"{v:g}"

    for a in AXES.values():
        valid = ", ".join(a.valid) if a.categorical else f"[{f(a.valid[0])}, {f(a.valid[1])}]"
        assert f"| `{a.name}` | {a.unit} | {f(a.nominal)} | {valid} | {f(a.maximum)} | {a.doc} |" in readme, a.name
