"""Errors agents raise: one that costs an episode, one that ends the run."""

from envs.errors import BenchError


class AgentError(BenchError):
    """An agent could not produce an action for this episode."""


class FatalAgentError(AgentError):
    """An agent error no later episode can recover from (no key, bad key, retired model):
    the harness stops the whole run at once instead of failing every episode."""
