"""Fault injection for testing the harness: an oracle that fails on chosen episodes.

    agent._target_=agents.testing.FaultyOracle +agent.fail_on_seeds=[123]

Seeds here are *scene* seeds (the ``seed`` column of ``episodes.csv``): the
agent is privileged (on the harness's allow-list) and reads the one the env
was reset with.  ``native_hang_on_seeds`` blocks inside C code (a lock taken
twice), which no Python-level timer can interrupt.
"""

from __future__ import annotations

import ctypes
import time

from agents.errors import FatalAgentError
from agents.oracle import OracleAgent


class FaultyOracle(OracleAgent):
    def __init__(self, fail_on_seeds=(), fatal_on_seeds=(), hang_on_seeds=(), native_hang_on_seeds=(),
                 fail_at_step: int = 3, **kw):
        super().__init__(**kw)
        self.fail_on, self.fatal_on, self.hang_on = set(fail_on_seeds), set(fatal_on_seeds), set(hang_on_seeds)
        self.native_hang_on = set(native_hang_on_seeds)
        self.fail_at_step = fail_at_step
        self._seed: int | None = None
        self._step = self._calls = 0

    def reset(self, instruction, calibration=None) -> None:
        super().reset(instruction, calibration)
        self._seed, self._step, self._calls = self.env.np_random_seed, 0, 0

    def act(self, obs):
        self._step += 1
        self._calls += 1
        if self._step == self.fail_at_step:
            if self._seed in self.fatal_on:
                raise FatalAgentError(f"injected fatal error at seed {self._seed}: stop the run")
            if self._seed in self.fail_on:
                raise RuntimeError(f"injected failure at seed {self._seed}")
            if self._seed in self.hang_on:
                time.sleep(3600)
            if self._seed in self.native_hang_on:
                _native_deadlock()
        return super().act(obs)

    def counters(self) -> dict:
        return {"act_calls": self._calls}


def _native_deadlock() -> None:
    """Lock a plain pthread mutex twice: the thread blocks inside libc for good, and Python signal
    handlers (the in-process episode timer) never get to run."""
    libc = ctypes.CDLL(None)
    mutex = ctypes.create_string_buffer(64)  # zeroed = PTHREAD_MUTEX_INITIALIZER (a normal, non-recursive mutex)
    libc.pthread_mutex_lock(mutex)
    libc.pthread_mutex_lock(mutex)
