"""One exception base for the whole project, so callers can catch ours only."""


class BenchError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(BenchError, ValueError):
    """A setting has a value we do not accept; the message names valid ones."""


class SimulationError(BenchError, RuntimeError):
    """The simulator could not do what was asked (unreachable pose, bad layout)."""


class GeometryError(BenchError, ValueError):
    """A geometric query has no answer: a point behind the camera, a ray parallel to a plane."""


def check_choice(kind: str, value: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ConfigError naming them."""
    choices = sorted(choices)
    if value not in choices:
        raise ConfigError(f"unknown {kind} {value!r}; valid choices: {', '.join(choices)}")
    return value
