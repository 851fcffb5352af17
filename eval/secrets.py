"""Keep secrets out of run folders: refuse them on the command line, mask them in what is written.

A value given as a Hydra override lands in ``config.yaml``, ``.hydra/*.yaml``,
``multirun.yaml``, ``run.log`` and a sweep's folder names.  Keys therefore
come from the environment (``GEMINI_API_KEY``, ``GOOGLE_API_KEY``,
``OPENAI_API_KEY``, ...), read by the client itself; :func:`check_overrides`
refuses them on the command line before Hydra writes anything, and
:func:`redact` masks secret-looking keys in anything else written to disk.
"""

from __future__ import annotations

import re
from typing import Any

from envs.errors import ConfigError

SECRET_WORDS = {"key", "apikey", "token", "secret", "secrets", "password", "passwd", "credential", "credentials"}
MASK = "***"
_ENV_LOOKUP = re.compile(r"\$\{\s*(?:oc\.env|env)\s*:\s*([A-Za-z_][A-Za-z0-9_]*)")


def words(name: str) -> list[str]:
    """``api_key``, ``apiKey``, ``API-KEY`` -> ``['api', 'key']``."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", name.lower()) if w]


def is_secret_name(name: str) -> bool:
    """True for a key or variable name with a secret word in it (``api_key``, ``GEMINI_API_KEY``,
    ``access_token``); whole words only, so ``tokenizer_dir`` and ``exclude_keys`` are not."""
    return any(w in SECRET_WORDS for w in words(name))


def sets_a_secret(key: str, value: str) -> bool:
    """True for an override ``key=value`` that gives a secret-looking key (any dotted part, with or without
    ``+`` / ``++`` / ``~`` and a ``@package``) a value; ``null`` and empty values give nothing away."""
    parts = key.lstrip("+~").split("@", 1)[0].split(".")
    return any(map(is_secret_name, parts)) and value.strip() not in ("", "null")


def check_overrides(argv: list[str]) -> None:
    """Refuse command-line overrides that would write a secret into the run folder.

    Call with ``sys.argv[1:]`` before Hydra starts. Refused: an override with a secret-looking part in
    its key (``agent.reasoner.api_key=...``, with or without ``+`` / ``++``), a value that is a dict
    holding a secret-looking key at any depth (``agent.reasoner={api_key: ...}``), and any value that
    reads a secret environment variable (``${oc.env:GEMINI_API_KEY}``), which the resolved config
    would hold in clear. Deletions (``~key``) and flags (``-m``, ``--config-name=...``) pass."""
    bad = []
    for arg in argv:
        if arg.startswith(("-", "~")) or "=" not in arg:
            continue
        given, value = arg.split("=", 1)
        key = given.lstrip("+").split("@", 1)[0]
        if sets_a_secret(given, value):
            bad.append(f"{key} is set on the command line")
        else:
            bad += [f"{key} holds {name}" for name in _secret_keys_in(arg)]
        bad += [f"{key} reads ${{oc.env:{var}}}" for var in _ENV_LOOKUP.findall(value) if is_secret_name(var)]
    if bad:
        raise ConfigError(f"{'; '.join(bad)}: a secret given to the run would be written in clear to "
                          "config.yaml, .hydra/, run.log and the sweep's folder names. Remove it and export the "
                          "key in the environment instead (GEMINI_API_KEY or GOOGLE_API_KEY for Gemini, "
                          "OPENAI_API_KEY for OpenAI, ...): the client reads it from there")


def _secret_keys_in(arg: str) -> list[str]:
    """The secret-looking keys (with a value) inside a dict- or list-valued override, as Hydra parses it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Sweep
    from hydra.errors import HydraException

    try:
        override = OverridesParser.create().parse_override(arg)
    except HydraException:
        return []  # Hydra refuses it itself, before writing anything
    value = override.value()
    found: list[str] = []

    def walk(obj: Any, path: str) -> None:
        if isinstance(obj, Sweep):
            for v in getattr(obj, "list", []) or []:
                walk(v, path)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                if is_secret_name(str(k)) and v not in (None, ""):
                    found.append(f"{path}.{k}")
                else:
                    walk(v, f"{path}.{k}")
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v, path)

    walk(value, "value")
    return found


def redact(obj: Any) -> Any:
    """A copy of nested dicts / lists with the value of every secret-looking key replaced by ``***``
    (``None`` and empty values stay as they are: they reveal nothing)."""
    if isinstance(obj, dict):
        return {k: MASK if is_secret_name(str(k)) and v not in (None, "") else redact(v)
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact(v) for v in obj]
    return obj


def redact_override(arg: str) -> str:
    """A command-line override as written to ``.hydra/overrides.yaml``: the value masked when its key
    looks secret (such an override is refused at start; this keeps any other path to the file clean)."""
    key, sep, value = arg.partition("=")
    return f"{key}={MASK}" if sep and sets_a_secret(key, value) else arg
