"""One exception base for the whole project, so callers can catch ours only."""


class BenchError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(BenchError, ValueError):
    """A setting has a value we do not accept; the message names valid ones."""


class SimulationError(BenchError, RuntimeError):
    """The simulator could not do what was asked (unreachable pose, bad layout)."""


def check_choice(kind: str, value: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ConfigError naming them."""
    choices = sorted(choices)
    if value not in choices:
        raise ConfigError(f"unknown {kind} {value!r}; valid choices: {', '.join(choices)}")
    return value


class AgentError(BenchError):
    """An agent could not produce an action for this episode."""


class FatalAgentError(AgentError):
    """An agent error no later episode can recover from (no key, bad key, retired model):
    the harness stops the whole run at once instead of failing every episode."""
