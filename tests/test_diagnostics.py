"""Stage diagnostics of pointing agents: perception (point_err_px, pointed_roles) vs lifting
(lift_in_footprint) vs execution, scored by the harness against ground truth."""

import numpy as np
import pytest

from agents.oracle import OracleAgent
from agents.tool import ToolAgent
from agents.tool.classic import ClassicReasoner
from eval.episodes import EpisodeSpec, run_episode

SPEC = EpisodeSpec(0, 1, 2)


class Offset(ClassicReasoner):
    """Points 30 px to the right of where the colours are: a perception error."""

    def point(self, image, instruction):
        dets = super().point(image, instruction)
        for d in dets:
            d.pixel = d.pixel + np.array([30.0, 0.0])
        return dets


def test_good_pointing_through_the_true_calibration_lands_on_the_objects(make_env):
    row = run_episode(make_env(task="place"), ToolAgent(ClassicReasoner()), SPEC)
    assert row["points"] == 2 and row["points_unmatched"] == 0 and row["pointed_roles"] == 1.0
    assert row["point_err_px"] < 3 and row["lift_in_footprint"] == 1.0


def test_a_stale_calibration_is_a_lifting_failure_not_a_perception_one(make_env):
    env = make_env(task="place", camera="shifted", calibration="nominal")
    row = run_episode(env, ToolAgent(ClassicReasoner()), SPEC)
    assert row["point_err_px"] < 3 and row["pointed_roles"] == 1.0  # it saw the right things, where they are
    assert row["lift_in_footprint"] < 1.0  # but lifted them through the wrong camera


def test_a_pointing_error_shows_in_pixels(make_env):
    row = run_episode(make_env(task="place"), ToolAgent(Offset()), SPEC)
    assert 25 < row["point_err_px"] < 35


def test_referents_pointed_at_are_scored_against_the_task_roles(make_env, monkeypatch):
    """pick_ref: the stand-in VLM points at the referent (pointed_roles 1); the classic points at nothing."""
    import os
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    from fake_gemini import FakeGemini

    from agents.tool.gemini import GeminiReasoner

    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    env = make_env(task="pick_ref")
    with FakeGemini() as fake:
        row = run_episode(env, ToolAgent(GeminiReasoner(base_url=fake.base_url, cache_dir=None)), SPEC)
    assert row["pointed_roles"] == 1.0 and row["points"] >= 1 and row["points_unmatched"] == 0
    classic = run_episode(make_env(task="pick_ref", max_episode_steps=30), ToolAgent(ClassicReasoner()), SPEC)
    assert "point_err_px" not in classic and classic["no_plan"] >= 1


@pytest.mark.parametrize("task", ["sort", "gather"])
def test_every_object_of_a_multi_step_task_is_scored(make_env, task):
    row = run_episode(make_env(task=task), ToolAgent(ClassicReasoner()), SPEC)
    assert row["points"] >= 4 and row["points_unmatched"] == 0 and row["pointed_roles"] == 1.0


def test_agents_that_do_not_point_get_no_columns(make_env):
    env = make_env(task="place")
    row = run_episode(env, OracleAgent(env), SPEC)
    assert row["success"] and not any(k.startswith("point") for k in row)
