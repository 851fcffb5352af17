"""Language-conditioned tasks, by name."""

from envs.errors import check_choice
from envs.tasks.base import Task, TaskConfig
from envs.tasks.pick import PickTask
from envs.tasks.place import PlaceTask
from envs.tasks.stack import StackTask

TASKS: dict[str, type[Task]] = {t.name: t for t in (PickTask, PlaceTask, StackTask)}


def make_task(name: str, config: TaskConfig | None = None) -> Task:
    return TASKS[check_choice("task", name, TASKS)](config)


__all__ = ["TASKS", "Task", "TaskConfig", "PickTask", "PlaceTask", "StackTask", "make_task"]
