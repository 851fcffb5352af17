"""eval.pool on small jobs: streaming, errors reaching the parent, the parent's deadline, dead workers."""

import logging
import os
import signal

import pytest

from agents.errors import FatalAgentError
from agents.testing import _native_deadlock
from envs.errors import BenchError
from eval.pool import DIED, MAX_START_DEATHS, TIMEOUT, Lost, RemoteTraceback, WorkerPool
from eval.progress import Progress

_state: dict = {}


def init_offset(offset: int) -> None:
    _state["offset"] = offset


def init_fatal() -> None:
    raise FatalAgentError("no API key: set GEMINI_API_KEY")


def init_crash() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def add_offset(item: int) -> int:
    return item + _state["offset"]


def faulty(item: int) -> int:
    """Item 2 deadlocks in C code, item 3 segfaults, item 4 raises; the rest come back doubled."""
    if item == 2:
        _native_deadlock()
    if item == 3:
        os.kill(os.getpid(), signal.SIGSEGV)
    if item == 4:
        raise FatalAgentError("stop the run")
    return 2 * item


def as_lost(lost: Lost) -> tuple:
    return lost.reason, lost.item


@pytest.mark.parametrize("workers", [1, 2])
def test_every_item_comes_back_once_from_initialised_workers(workers):
    with WorkerPool(init_offset, (100,), add_offset, workers) as pool:
        out = list(pool.imap(range(7), timeout_s=None, on_lost=as_lost))
    assert sorted(out) == [100 + i for i in range(7)]


def test_an_init_error_ends_the_run_with_that_error_and_its_worker_traceback():
    with pytest.raises(FatalAgentError, match="GEMINI_API_KEY") as info:
        with WorkerPool(init_fatal, (), add_offset, 2) as pool:
            list(pool.imap(range(3), timeout_s=None, on_lost=as_lost))
    assert isinstance(info.value.__cause__, RemoteTraceback) and "init_fatal" in str(info.value.__cause__)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_native_hang_is_killed_at_the_deadline_and_the_rest_still_runs(workers):
    with WorkerPool(init_offset, (0,), faulty, workers) as pool:
        out = list(pool.imap([0, 1, 2, 5, 6], timeout_s=2.0, on_lost=as_lost))
    assert sorted(out, key=str) == sorted([0, 2, 10, 12, (TIMEOUT, 2)], key=str)


def test_a_worker_that_dies_mid_item_is_replaced_and_the_item_reported():
    lost: list[Lost] = []
    with WorkerPool(init_offset, (0,), faulty, 2) as pool:
        out = list(pool.imap([0, 3, 1, 5], timeout_s=30.0, on_lost=lambda x: lost.append(x) or -1))
    assert sorted(out) == [-1, 0, 2, 10]
    assert [(x.reason, x.item) for x in lost] == [(DIED, 3)] and "SIGSEGV" in lost[0].message


def test_an_error_raised_by_run_ends_the_run():
    with pytest.raises(FatalAgentError, match="stop the run"):
        with WorkerPool(init_offset, (0,), faulty, 1) as pool:
            list(pool.imap([0, 4, 1], timeout_s=None, on_lost=as_lost))


def test_workers_that_keep_dying_while_starting_end_the_run():
    with pytest.raises(BenchError, match=f"{MAX_START_DEATHS} worker processes in a row died while starting"):
        with WorkerPool(init_crash, (), add_offset, 1) as pool:
            list(pool.imap([0], timeout_s=None, on_lost=as_lost))


def test_progress_without_a_terminal_logs_plain_lines_at_most_every_interval(caplog):
    caplog.set_level(logging.INFO, logger="eval.progress")
    progress = Progress(total=6, initial=1, desc="oracle place nominal", every_s=3600, tty=False)
    for _ in range(5):
        progress.update(0.5)
    progress.close()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2  # the first and the last; the others fell inside the interval
    assert lines[0].startswith("oracle place nominal: 2/6 episodes, success 50%,")
    assert lines[1].startswith("oracle place nominal: 6/6 episodes, success 50%,") and "episodes/min" in lines[1]


def test_progress_of_a_stopped_run_says_where_it_stood(caplog):
    caplog.set_level(logging.INFO, logger="eval.progress")
    progress = Progress(total=6, initial=0, desc="d", every_s=3600, tty=False)
    progress.update(1.0)
    progress.update(1.0)
    progress.close()
    assert [r.getMessage().split(",")[0] for r in caplog.records] == ["d: 1/6 episodes", "d: 2/6 episodes"]
