"""Language-conditioned tasks, by name."""

from envs.errors import check_choice
from envs.tasks.base import Task, TaskConfig
from envs.tasks.gather import GatherTask
from envs.tasks.pick import PickTask
from envs.tasks.place import PlaceSingleTask, PlaceTask
from envs.tasks.place_rel import PlaceRelTask
from envs.tasks.refer import PickRefTask, PlaceRefTask
from envs.tasks.sort import SortTask
from envs.tasks.stack import StackTask
from envs.tasks.tower import TowerTask

TASKS: dict[str, type[Task]] = {t.name: t for t in (PickTask, PlaceTask, PlaceSingleTask, StackTask, PlaceRelTask,
                                                     SortTask, TowerTask, GatherTask, PickRefTask, PlaceRefTask)}


def make_task(name: str, config: TaskConfig | dict | None = None, language: str = "train") -> Task:
    """Build task ``name``; a dict config fills what it leaves out from the task's own defaults."""
    cls = TASKS[check_choice("task", name, TASKS)]
    if isinstance(config, dict):
        config = cls.default_config(**config)
    return cls(config, language)


__all__ = ["TASKS", "Task", "TaskConfig", "PickTask", "PlaceTask", "PlaceSingleTask", "StackTask", "PlaceRelTask",
           "SortTask", "TowerTask", "GatherTask", "PickRefTask", "PlaceRefTask", "make_task"]
