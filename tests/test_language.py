"""Instruction sets: train is today's paraphrases, heldout never shares their wording, every set is drawn
from the episode's seed."""

import re

import gymnasium as gym
import pytest

import envs
from envs.errors import ConfigError
from envs.tasks import TASKS, make_task
from envs.tasks.base import LANGUAGE_SETS
from envs.widowx_env import INSTRUCTION_CHARSET

TRAIN = {  # the paraphrases before instruction sets existed: train must stay them, in order
    "pick": ("pick up the {block} block", "lift the {block} block", "grab the {block} cube and lift it",
             "pick the {block} block up off the table"),
    "place": ("place the {block} block on the {target} target", "put the {block} block on the {target} mat",
              "move the {block} cube onto the {target} target", "set the {block} block down on the {target} mat"),
    "stack": ("stack the {block} block on the {base} block", "put the {block} block on top of the {base} block",
              "place the {block} cube on the {base} cube", "stack the {block} cube on top of the {base} one"),
}
TRAIN["place_single"] = TRAIN["place"]


def _words(template: str) -> set[str]:
    return set(re.findall(r"[a-z]+", re.sub(r"\{\w+\}", "", template)))


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_has_every_set(task):
    sets = TASKS[task].instruction_sets
    assert tuple(sets) == LANGUAGE_SETS
    assert sets["train"] == TASKS[task].templates == TRAIN.get(task, sets["train"])  # the old tasks' are pinned
    fields = set(re.findall(r"\{(\w+)\}", " ".join(sets["train"])))
    for name, templates in sets.items():
        assert len(templates) >= 4 and len(set(templates)) == len(templates), name
        for t in templates:
            assert set(re.sub(r"\{\w+\}", "red", t)) <= INSTRUCTION_CHARSET, (name, t)
            assert set(re.findall(r"\{(\w+)\}", t)) == fields, (name, t)  # every role named, no other
    assert not set(sets["heldout"]) & set(sets["train"])
    verbs = {t.split()[0] for t in sets["train"]} | {"pick", "lift", "grab", "place", "put", "move", "set"}
    for t in sets["heldout"]:
        assert not _words(t) & verbs, t  # other verbs than train's
        assert not _words(t) & {"block", "cube", "mat", "target"}, t  # and other nouns


def test_an_unknown_set_names_the_valid_ones():
    with pytest.raises(ConfigError, match="heldout, synonyms, train, verbose"):
        make_task("place", language="klingon")


def test_a_fixed_template_is_checked_against_the_chosen_set():
    with pytest.raises(ConfigError, match="instruction_template must be in"):
        make_task("place", {"instruction_template": 7}, language="verbose")


def _instructions(language: str, seeds=(0, 1, 2)) -> list[str]:
    env = gym.make(envs.ENV_ID, task="place", obs_cameras=(), factors={"language": language})
    try:
        return [env.reset(seed=s)[0]["instruction"] for s in seeds]
    finally:
        env.close()


def test_train_is_the_old_instructions_and_each_set_is_seeded():
    assert _instructions("train") == ["set the purple block down on the blue mat",
                                      "put the yellow block on the green mat",
                                      "move the green cube onto the purple target"]
    heldout = _instructions("heldout")
    assert heldout == _instructions("heldout")  # seeded
    assert all(any(t.format(block=b, target=g) == h for t in TASKS["place"].instruction_sets["heldout"]
                   for b in ("purple", "yellow", "green") for g in ("blue", "green", "purple")) for h in heldout)
    # the same scene (colours) whatever the set: only the wording changes
    assert [h.split()[2] for h in _instructions("synonyms")] == ["purple", "yellow", "green"]
