"""The tool agent with the offline classic reasoner, closed-loop in the env."""

import mujoco
import numpy as np
import pytest
from harness_util import run_agent

from agents.base import Agent
from agents.oracle import OracleAgent
from agents.tool import ToolAgent
from agents.tool.classic import ClassicReasoner
from agents.tool.types import Call


@pytest.mark.parametrize("task", ["pick", "place", "stack"])
def test_classic_tool_agent_solves_tasks(make_env, task):
    env = make_env(task=task)
    agent = ToolAgent(ClassicReasoner())
    assert isinstance(agent, Agent)
    wins = sum(run_agent(env, agent, seed)[0]["success"] for seed in range(3))
    assert wins == 3


def test_true_calibration_keeps_working_when_the_camera_moves(make_env):
    env = make_env(task="place", camera="rotated", calibration="true")
    info, counters = run_agent(env, ToolAgent(ClassicReasoner()), seed=4)
    assert info["success"] and counters["attempts"] == 1 and counters["call_errors"] == 0


def test_unfound_objects_end_in_failure_not_a_crash(make_env):
    class Blind(ClassicReasoner):
        def point(self, image, instruction):
            super().point(image, instruction)
            return []

    env = make_env(task="pick", max_episode_steps=80)
    info, counters = run_agent(env, ToolAgent(Blind()), seed=0)
    # one look from the start pose, one from the look pose (arm out of view), then it stops: a third look
    # would show the same scene
    assert not info["success"] and counters["attempts"] == 2 and counters["calls_executed"] == 0
    assert counters["empty_plans"] == 2


def test_bad_calls_are_answered_with_an_error_status(make_env):
    class Sloppy(ClassicReasoner):
        def start_plan(self, image, instruction, dets):
            return [Call("wave", {}), Call("move", {"x": "left"}), Call("move", {"x": 500, "y": 0, "high": True})]

        def continue_plan(self, results):
            self.results = results
            return []

    reasoner = Sloppy()
    env = make_env(task="pick", max_episode_steps=60)
    _, counters = run_agent(env, ToolAgent(reasoner), seed=0)
    statuses = [r.status for r in reasoner.results]
    assert statuses[:2] == ["error", "error"] and "unknown function" in reasoner.results[0].detail["message"]
    assert "numeric x, y" in reasoner.results[1].detail["message"]
    assert counters["call_errors"] >= 2


def test_harness_hands_the_env_only_to_privileged_agents(make_env):
    import gymnasium as gym
    from harness_util import REPO
    from hydra import compose, initialize_config_dir

    from eval import schema
    from eval.episodes import make_agent

    schema.register()
    env = make_env(task="place")
    for name, privileged in (("classic", False), ("oracle", True)):
        with initialize_config_dir(str(REPO / "conf"), version_base=None):
            agent = make_agent(compose("config", overrides=[f"agent={name}"]), env)
        seen, stack, found = set(), [agent], False
        while stack:  # everything reachable from the agent's attributes
            obj = stack.pop()
            if id(obj) in seen or isinstance(obj, (str, bytes, int, float, np.ndarray)):
                continue
            seen.add(id(obj))
            found |= isinstance(obj, gym.Env)
            stack.extend(vars(obj).values() if hasattr(obj, "__dict__") else
                         obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else [])
        assert found is privileged, name


def _actions_on_the_same_observations(env, make_agent, move_cubes: bool, steps: int = 20) -> tuple[list, list]:
    """Agent A runs ``steps`` steps from a reset and its observations are recorded.  Then the simulator
    goes back to the reset state, every cube is moved (if ``move_cubes``) without rendering anything,
    and a fresh agent B is fed A's recorded observations: the images still show the cubes where they
    were, only the ground truth changed.  Returns (A's actions, B's actions)."""
    u = env.unwrapped
    obs, info = env.reset(seed=3)
    reset_state = np.empty(mujoco.mj_stateSize(u.model, mujoco.mjtState.mjSTATE_INTEGRATION))
    mujoco.mj_getState(u.model, u.data, reset_state, mujoco.mjtState.mjSTATE_INTEGRATION)
    a, recorded, actions_a = make_agent(env), [], []
    a.reset(obs["instruction"], info["calibration"])
    for _ in range(steps):
        recorded.append(obs)
        actions_a.append(a.act(obs))
        obs, *_ = env.step(actions_a[-1])
    mujoco.mj_setState(u.model, u.data, reset_state, mujoco.mjtState.mjSTATE_INTEGRATION)
    if move_cubes:
        for color in u.handle.active_blocks:
            u.handle.set_block_pose(color, u.handle.block_pos(color) + [0.04, -0.03, 0.0], 0.5)
    mujoco.mj_forward(u.model, u.data)
    b = make_agent(env)
    b.reset(recorded[0]["instruction"], info["calibration"])
    return actions_a, [b.act(o) for o in recorded]


def _tool_agent(env):
    return ToolAgent(ClassicReasoner())


def _cheater(env):
    """A deliberately cheating agent: it plans from the simulator's ground truth (the oracle)."""
    return OracleAgent(env)


def test_agent_reads_only_observations_and_calibration(make_env):
    """Moving the cubes in the simulator without re-rendering leaves the tool agent's actions unchanged:
    they depend on the observations and the calibration only."""
    a, b = _actions_on_the_same_observations(make_env(task="place"), _tool_agent, move_cubes=True)
    assert np.ptp(np.array(a)[:, :3], axis=0).max() > 0.05  # it perceived, planned and moved
    np.testing.assert_array_equal(np.array(a), np.array(b))


def test_a_cheating_agent_fails_the_same_check(make_env):
    """The check above has teeth: an agent that reads ground truth reproduces itself when nothing
    moved, and changes its actions once the cubes moved behind the unchanged images."""
    env = make_env(task="place", obs_cameras=("primary",))
    a, b = _actions_on_the_same_observations(env, _cheater, move_cubes=False)
    np.testing.assert_array_equal(np.array(a), np.array(b))
    a, b = _actions_on_the_same_observations(env, _cheater, move_cubes=True)
    assert not np.array_equal(np.array(a), np.array(b))


@pytest.mark.parametrize("task", ["pick_ref", "place_ref", "place_rel"])
def test_classic_says_no_plan_rather_than_guess(make_env, task):
    """Colour rules cannot resolve "the leftmost block" or "to the left of": the classic reasoner points at
    nothing, makes no plan, and the arm never goes down to a cube."""
    env = make_env(task=task, max_episode_steps=60)
    info, counters = run_agent(env, ToolAgent(ClassicReasoner()), seed=0)
    assert not info["success"] and counters["no_plan"] == 2 and counters["calls_executed"] == 0
    assert counters["empty_plans"] == 2 and counters["attempts"] == 2


@pytest.mark.parametrize("task", ["sort", "tower", "gather"])
def test_classic_solves_colour_named_multi_step_tasks(make_env, task):
    env = make_env(task=task)
    info, counters = run_agent(env, ToolAgent(ClassicReasoner()), seed=1)
    assert info["success"] and counters["no_plan"] == 0 and counters["calls_executed"] > 9  # > one pick-and-place


class _Doubting(ClassicReasoner):
    """The classic reasoner with a judge of its own that answers "not done" to the first question only."""

    def __init__(self):
        super().__init__()
        self.asked = 0

    def check_done(self, image, instruction):
        self.asked += 1
        return False if self.asked == 1 else None


def test_a_no_from_the_outcome_check_means_another_attempt(make_env):
    """The env ends an episode at success, before the agent's own outcome check; stepped past that, the agent
    asks its reasoner whether the task is done, and a "no" makes it plan again from the fresh look."""
    env = make_env(task="place", max_episode_steps=400)
    agent = ToolAgent(_Doubting())
    agent.prepare()
    obs, info = env.reset(seed=0)
    agent.reset(obs["instruction"], info["calibration"])
    truncated = False
    while not truncated and agent.reasoner.asked < 2:
        obs, _, _, truncated, info = env.step(agent.act(obs))
    for _ in range(60):  # the second plan's check said done (its own steps): it holds still, the cube stays
        obs, _, _, truncated, info = env.step(agent.act(obs))
    c = agent.counters()
    assert agent.reasoner.asked == 2 and c["attempts"] == 2 and c["calls_executed"] > 10  # planned twice
    assert info["success"]
