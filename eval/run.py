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
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from agents.errors import FatalAgentError
from envs.errors import BenchError
from eval import schema
from eval.pool import Interrupted
from eval.runner import run_all
from eval.store import episodes_frame, summarize

log = logging.getLogger("eval.run")
schema.register()


def save_config(cfg: DictConfig, out_dir: Path) -> None:
    """Write the resolved config; refuse to resume a folder that holds a different run."""
    path = out_dir / "config.yaml"
    text = OmegaConf.to_yaml(cfg, resolve=True)
    if path.exists():
        old = OmegaConf.to_container(OmegaConf.load(path))
        new = OmegaConf.to_container(OmegaConf.create(text))
        for key in ("agent", "camera", "task", "scene", "seed", "max_steps"):
            if old.get(key) != new[key]:
                raise BenchError(f"{out_dir} holds a run with a different '{key}'; resume it with the same "
                                 f"settings or choose another out_dir")
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def evaluate(cfg: DictConfig) -> int:
    schema.validate(cfg)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    save_config(cfg, out_dir)
    rows = run_all(cfg, out_dir)
    summary = summarize(episodes_frame(rows.values()))
    summary.to_csv(out_dir / "summary.csv", index=False)
    for r in summary.itertuples():
        log.info("%s %s camera=%s(%g) calibration=%s: %d/%d = %.0f%% [%.0f%%, %.0f%%], errors %d, timeouts %d",
                 r.agent, r.task, r.camera, r.magnitude, r.calibration, r.successes, r.n,
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


if __name__ == "__main__":
    main()
    sys.exit(max(_job_codes, default=0))
