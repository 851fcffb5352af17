"""A small pool of spawned worker processes whose parent enforces each item's deadline.

    with WorkerPool(init, init_args, run, workers=2) as pool:
        for result in pool.imap(items, timeout_s=12.0, on_lost=lost_result):
            ...

Each worker calls ``init(*init_args)`` once, then ``run(item)`` per item; results
stream back in order of completion.  An exception raised by ``init`` or ``run``
ends the pool and is re-raised in the parent (its worker traceback as the cause).
An item still running ``timeout_s`` after it was handed out has its worker killed
(SIGKILL: it may be stuck in C code, where no Python timer runs), and an item
whose worker died (segfault, OOM kill) is lost too: ``on_lost(Lost(...))``
provides the result for either, and a fresh worker takes the dead one's place.
Workers exit on their own when the parent dies (``kill -9``), so none is orphaned.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

from envs.errors import BenchError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
TIMEOUT, DIED = "timeout", "died"
MAX_START_DEATHS = 3  # consecutive workers that die before init finishes: give up
PARENT_CHECK_S = 0.5


@dataclass
class Lost(Generic[T]):
    """An item that produced no result: ``reason`` is TIMEOUT (killed at its deadline) or DIED."""
    item: T
    reason: str
    message: str
    elapsed_s: float


class Interrupted(BenchError):
    """The run was stopped by SIGTERM or SIGINT (raised by :func:`stop_on_signals`)."""


@contextmanager
def stop_on_signals(message: Callable[[str], str]):
    """Within the block, SIGTERM and SIGINT raise ``Interrupted(message(signal name))`` in the main thread,
    so that ``finally`` clauses (a pool's shutdown, saving the table) run; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Interrupted(message(signal.Signals(signum).name))

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker (attached as the re-raised error's cause)."""


class _Worker:
    def __init__(self, ctx, target_args: tuple):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, os.getpid(), *target_args), name="eval-worker")
        self.proc.start()
        child.close()  # only the worker holds its end: its death reads as EOF here
        self.ready = False
        self.item: Any = None
        self.started = 0.0

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()

    def exit_text(self) -> str:
        self.proc.join(5)
        code = self.proc.exitcode
        if code is not None and code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"


class WorkerPool(Generic[T, R]):
    def __init__(self, init: Callable[..., None], init_args: tuple, run: Callable[[T], R], workers: int):
        self._ctx = mp.get_context("spawn")  # no GL context or MuJoCo state crosses a fork
        self._args = (init, init_args, run)
        self._workers = [_Worker(self._ctx, self._args) for _ in range(max(1, workers))]
        self._start_deaths = 0

    def __enter__(self) -> WorkerPool[T, R]:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def imap(self, items: Iterable[T], timeout_s: float | None, on_lost: Callable[[Lost[T]], R]) -> Iterator[R]:
        """Yield one result per item, in order of completion: ``run(item)``'s, or ``on_lost(Lost(...))``'s
        for an item still running ``timeout_s`` after it was handed out (its worker is killed) or whose worker
        died.  ``timeout_s=None``: no deadline.  An exception from ``init`` or ``run`` is re-raised here."""
        todo = list(items)[::-1]
        while todo or any(w.item is not None for w in self._workers):
            for w in self._workers:
                if w.ready and w.item is None and todo:
                    w.item, w.started = todo.pop(), time.monotonic()
                    try:
                        w.conn.send(w.item)
                    except OSError:  # it died idle: the item waits for its replacement
                        todo.append(w.item)
                        w.item = None
            busy = [w.started + timeout_s for w in self._workers if w.item is not None and timeout_s]
            wait_s = max(0.0, min(busy) - time.monotonic()) if busy else None
            ready = wait([w.conn for w in self._workers], wait_s)
            for w in list(self._workers):
                if w.conn in ready:
                    yield from self._receive(w, on_lost, bool(todo))
                elif w.item is not None and timeout_s and time.monotonic() - w.started >= timeout_s:
                    message = f"still running after {timeout_s:g} s: worker killed"
                    yield on_lost(self._lose(w, TIMEOUT, message, bool(todo)))

    def _receive(self, w: _Worker, on_lost: Callable[[Lost[T]], R], more: bool) -> Iterator[R]:
        """Yield what ``w`` sent: a result, or the lost item if it died; nothing for 'ready' or a start death."""
        try:
            kind, payload = w.conn.recv()
        except (EOFError, OSError):
            text = w.exit_text()
            if w.item is not None:
                yield on_lost(self._lose(w, DIED, f"worker process died ({text})", more))
                return
            if not w.ready:
                self._start_deaths += 1
                if self._start_deaths >= MAX_START_DEATHS:
                    raise BenchError(f"{self._start_deaths} worker processes in a row died while starting "
                                     f"({text}); see run.log, or run with workers=1 and no episode_timeout_s to "
                                     "debug in one process") from None
            self._restart(w, more)
            return
        if kind == "error":
            exc, tb = payload
            raise exc from RemoteTraceback(tb)
        if kind == "ready":
            w.ready, self._start_deaths = True, 0
        else:
            w.item = None
            yield payload

    def _lose(self, w: _Worker, reason: str, message: str, more: bool) -> Lost[T]:
        lost = Lost(w.item, reason, message, time.monotonic() - w.started)
        log.warning("%r lost: %s", w.item, message)
        self._restart(w, more)
        return lost

    def _restart(self, w: _Worker, more: bool) -> None:
        """Kill ``w``; a fresh worker takes its place while items wait to be run."""
        w.kill()
        if more:
            self._workers[self._workers.index(w)] = _Worker(self._ctx, self._args)
        else:
            self._workers.remove(w)

    def close(self) -> None:
        """Stop every worker: idle ones are asked to exit, busy or stuck ones are killed."""
        for w in self._workers:
            if w.item is None and w.proc.is_alive():
                try:
                    w.conn.send(None)
                except OSError:
                    pass
        deadline = time.monotonic() + 2.0
        for w in self._workers:
            if w.item is None:
                w.proc.join(max(0.0, deadline - time.monotonic()))
            w.kill()
        self._workers = []


def _worker_main(conn: Connection, parent_pid: int, init: Callable[..., None], init_args: tuple,
                 run: Callable[[Any], Any]) -> None:
    _die_with_parent(parent_pid)
    for sig in (signal.SIGINT, signal.SIGTERM):  # sent to the whole group (Ctrl-C, Slurm): the parent stops the
        signal.signal(sig, _ignore)              # pool, so no episode is recorded as an error for it
    try:
        init(*init_args)
        conn.send(("ready", None))
        while (item := conn.recv()) is not None:
            conn.send(("result", run(item)))
    except EOFError:  # the parent has gone
        return
    except BaseException as e:  # noqa: BLE001 - everything goes to the parent, which ends the run
        _send_error(conn, e)


def _ignore(signum, frame) -> None:
    """A handler, not SIG_IGN: programs this worker starts get the default back when they exec."""


def _send_error(conn: Connection, e: BaseException) -> None:
    tb = "".join(traceback.format_exception(e))
    try:
        conn.send(("error", (e, tb)))
    except Exception:  # the exception itself does not pickle
        conn.send(("error", (BenchError(f"{type(e).__name__}: {e}"), tb)))


def _die_with_parent(parent_pid: int) -> None:
    """Exit when the parent dies, even when it was SIGKILLed and this process is busy or stuck."""
    if sys.platform == "linux":  # the kernel's own notice, which needs no Python thread to run
        import ctypes
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
