"""Fault injection for testing the harness: an oracle that fails on chosen episodes.

    agent._target_=agents.testing.FaultyOracle +agent.fail_on_seeds=[123]

The harness calls ``agent.seed(episode_seed)`` before each episode, which is
how this agent knows which episode it is in.
"""

from __future__ import annotations

import time

from agents.oracle import OracleAgent
from envs.errors import FatalAgentError


class FaultyOracle(OracleAgent):
    def __init__(self, fail_on_seeds=(), fatal_on_seeds=(), hang_on_seeds=(), fail_at_step: int = 3, **kw):
        super().__init__(**kw)
        self.fail_on, self.fatal_on, self.hang_on = set(fail_on_seeds), set(fatal_on_seeds), set(hang_on_seeds)
        self.fail_at_step = fail_at_step
        self._seed, self._step, self._calls = None, 0, 0

    def seed(self, seed: int) -> None:
        self._seed, self._step = seed, 0

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
        return super().act(obs)

    def counters(self) -> dict:
        calls, self._calls = self._calls, 0
        return {"act_calls": calls}
