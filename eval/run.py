"""Evaluate an agent on seeded episodes: ``python -m eval.run agent=oracle camera=shifted``.

Writes into the run folder (``out_dir``; one sub-folder per job with ``-m``):
``episodes.csv`` (one row per episode), ``episodes.jsonl`` (the durable log a
re-run resumes from), ``summary.csv`` (success rate with Wilson 95% interval),
the resolved ``config.yaml``, ``run.log`` and, with ``video=true``, ``videos/``.
Exit code: 0 when every episode ran, 1 when some errored or timed out (or a
config value was rejected by Hydra), 2 when the run could not start or was
stopped by a fatal agent error or by SIGTERM / SIGINT.  A sweep run by Hydra's
basic launcher exits with its worst job's code and stops at either; with launchers
that run jobs elsewhere (joblib, submitit, Ray) read each job's summary.csv.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from agents.errors import FatalAgentError
from envs.errors import BenchError, ConfigError
from eval import schema
from eval.files import write_atomic
from eval.pool import Interrupted
from eval.runner import run_locked, run_settings
from eval.secrets import redact, redact_override
from eval.store import EpisodeStore, episodes_frame, summarize

log = logging.getLogger("eval.run")
schema.register()
IDENTITY_KEYS = ("agent", "camera", "task", "scene", "seed", "max_steps")  # a folder holds one run of these


def save_config(cfg: DictConfig, out_dir: Path) -> None:
    """Write the resolved config (and Hydra's record of the run, ``.hydra/``) into the run folder the caller
    holds the lock of; refuse to resume a folder that holds a different run."""
    path = out_dir / "config.yaml"
    text = OmegaConf.to_yaml(OmegaConf.create(redact(OmegaConf.to_container(cfg, resolve=True))))
    if path.exists():
        try:
            old = OmegaConf.to_container(OmegaConf.load(path))
        except Exception:  # noqa: BLE001  (any parse failure means the same thing here)
            old = None
        if not isinstance(old, dict) or not old:
            raise BenchError(f"{path} is empty or unreadable (a full disk when it was written?), so this folder "
                             "cannot be resumed: choose another out_dir, or delete the folder to start over")
        new = OmegaConf.to_container(OmegaConf.create(text))
        assert isinstance(new, dict)
        for key in IDENTITY_KEYS:
            if old.get(key) != new[key]:
                raise BenchError(f"{out_dir} holds a run with a different '{key}'; resume it with the same "
                                 f"settings or choose another out_dir")
    write_atomic(path, text)
    hc = HydraConfig.get()
    (out_dir / ".hydra").mkdir(exist_ok=True)
    write_atomic(out_dir / ".hydra" / "config.yaml", text)
    overrides = [redact_override(o) for o in hc.overrides.task]
    write_atomic(out_dir / ".hydra" / "overrides.yaml", OmegaConf.to_yaml(overrides))
    write_atomic(out_dir / ".hydra" / "hydra.yaml", OmegaConf.to_yaml({"hydra": redact(OmegaConf.to_container(hc))}))


def evaluate(cfg: DictConfig) -> int:
    schema.validate(cfg)
    settings = run_settings(cfg)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    store = EpisodeStore(out_dir)
    with store.lock():  # before anything is written: a refused second run must not touch a live run's files
        save_config(cfg, out_dir)
        rows = run_locked(settings, out_dir, store)
        summary = summarize(episodes_frame(rows.values()))
        write_atomic(out_dir / "summary.csv", summary.to_csv(index=False))
    for r in summary.itertuples():
        log.info("%s %s camera=%s(%g) calibration=%s factors=%s: %d/%d = %.0f%% [%.0f%%, %.0f%%], errors %d, "
                 "timeouts %d", r.agent, r.task, r.camera, r.magnitude, r.calibration, r.factors, r.successes, r.n,
                 100 * r.success_rate, 100 * r.ci_low, 100 * r.ci_high, r.errors, r.timeouts)
    log.info("results in %s", out_dir)
    return 1 if int(summary["errors"].sum() + summary["timeouts"].sum()) else 0


_job_codes: list[int] = []  # exit codes of the jobs run in this process (a sweep's, with the basic launcher)


@hydra.main(config_path="../conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> int:
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        code = evaluate(cfg)
    except (FatalAgentError, Interrupted) as e:
        log.error("%s", e)
        sys.exit(2)  # every later job would fail the same way, or the user asked to stop: stop the sweep too
    except BenchError as e:
        log.error("%s", e)
        code = 2
    if code and not multirun:
        sys.exit(code)
    _job_codes.append(code)
    return code


def preflight(argv: list[str]) -> None:
    """Checks that must run before Hydra writes anything: no secret on the command line, a usable out_dir."""
    from eval.secrets import check_overrides

    check_overrides(argv)
    for arg in argv:
        if arg.startswith("out_dir="):
            check_out_dir(Path(arg.split("=", 1)[1]))
    check_factor_overrides(argv)


def check_factor_overrides(argv: list[str]) -> None:
    """Every ``factors.<axis>=...`` value (each value of a sweep too) checked against the axis's range or
    levels before any job starts, so a bad level in a sweep's last job writes nothing."""
    import dataclasses

    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    from envs.errors import check_choice
    from envs.factors import AXES, FactorsConfig

    fields = [f.name for f in dataclasses.fields(FactorsConfig)]
    try:
        overrides = OverridesParser.create().parse_overrides([a for a in argv if a.startswith("factors.")])
    except HydraException:
        return  # Hydra reports its own syntax errors
    for o in overrides:
        key = o.key_or_group.split(".", 1)[1]
        check_choice("factors key", key, fields)
        if key in AXES and not o.is_delete():
            values = list(o.sweep_string_iterator()) if o.is_sweep_override() else [o.value()]
            for v in values:
                AXES[key].check(v)


def check_out_dir(path: Path) -> None:
    """Refuse an out_dir that cannot hold a run (a file, under a file, not writable) with one line."""
    path = path.expanduser()
    existing = next(p for p in (path, *path.parents) if p.exists())  # "." or "/" at the latest
    if not existing.is_dir():
        where = "is a file" if existing == path else f"lies under the file {existing}"
        raise ConfigError(f"out_dir={path} {where}; choose a folder (it is created if missing)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"out_dir={path}: {existing} is not writable; choose a folder you can write to")


def cli() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        preflight(sys.argv[1:])
    except BenchError as e:
        log.error("%s", e)
        sys.exit(2)
    main()
    sys.exit(max(_job_codes, default=0))


if __name__ == "__main__":
    cli()
