"""Episode records on disk (append-only JSON lines, flushed per episode), CSV tables, success rates with
Wilson intervals and the settings identity of a run."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.files import FolderLock, write_atomic
from eval.secrets import is_secret_name

if TYPE_CHECKING:
    import pandas as pd  # imported where used: worker processes, which never build tables, start faster

log = logging.getLogger(__name__)

ID_COLUMNS = ["agent", "task", "camera", "magnitude", "calibration", "scene", "factors", "privileged", "settings_id",
              "base_seed", "episode", "seed", "instruction"]
RESULT_COLUMNS = ["success", "steps", "wall_s", "status", "error"]
GROUP_COLUMNS = ["agent", "task", "camera", "magnitude", "calibration", "scene", "factors", "privileged"]
RECORD_IDENTITY = ("episode", "seed", "status")  # a log line without these is no record
# Config keys that do not change an episode's outcome (where, how fast, how many, which base seed: runs with
# other base seeds add episodes to a cell). Any ``cache_dir`` under ``agent`` and any secret are left out too.
SETTINGS_IGNORED = {"out_dir", "workers", "batch_episodes", "video", "rerun", "episodes", "episode_timeout_s", "seed",
                    "hydra", "agent.device", "agent.server", "agent.debug", "agent.debug_dir"}


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of a binomial proportion (NaNs when n == 0), from statsmodels (eval.stats)."""
    from eval.stats import wilson

    return wilson(successes, n)


class EpisodeStore:
    """A JSON-lines log of records keyed by ``episode`` (``episodes.jsonl`` by default; ``eval.record``
    keeps ``record_log.jsonl``), one flushed line each; ``episodes.csv`` is written from it on demand.

    ``identity``: the fields a line needs to count as a record; a line without them (or not a JSON
    object) is skipped with a warning and never replaces a real record."""

    def __init__(self, out_dir: str | os.PathLike, log_name: str = "episodes.jsonl",
                 identity: tuple[str, ...] = RECORD_IDENTITY):
        self.out_dir = Path(out_dir)
        self.log_path = self.out_dir / log_name
        self.csv_path = self.out_dir / "episodes.csv"
        self.identity = identity

    def lock(self) -> FolderLock:
        """The folder's lock, as a context manager (or ``acquire()`` / ``release()``)."""
        return FolderLock(self.out_dir)

    def load(self) -> dict[int, dict]:
        """Records already finished, by episode index; a torn last line (killed mid-write) is dropped."""
        rows: dict[int, dict] = {}
        if not self.log_path.exists():
            return rows
        with self.log_path.open(encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    log.warning("%s line %d is incomplete (run killed mid-write?): ignored", self.log_path, n)
                    continue
                why = self._not_a_record(row)
                if why:
                    log.warning("%s line %d is not a record (%s): ignored", self.log_path, n, why)
                    continue
                rows[row["episode"]] = row
        return rows

    def _not_a_record(self, row: Any) -> str:
        if not isinstance(row, dict):
            return f"a JSON {type(row).__name__}, not an object"
        missing = [k for k in self.identity if row.get(k) is None]
        if missing:
            return f"no {', '.join(missing)}"
        ep = row.get("episode")
        if not isinstance(ep, int) or isinstance(ep, bool) or ep < 0:
            return f"episode {ep!r} is not an index"
        return ""

    def append(self, row: dict) -> None:
        torn = self.log_path.exists() and self.log_path.stat().st_size > 0 and not self._ends_with_newline()
        with self.log_path.open("a") as f:
            f.write(("\n" if torn else "") + json.dumps(row, default=_jsonable) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _ends_with_newline(self) -> bool:
        with self.log_path.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def write_csv(self, rows: dict[int, dict]) -> pd.DataFrame:
        """Write ``episodes.csv`` atomically from all records; the runner calls it once at the end (and on
        an interrupt), not per episode: the log is the durable record, the table a view of it."""
        df = episodes_frame(rows.values())
        write_atomic(self.csv_path, df.to_csv(index=False))
        return df


def settings_id(config: dict) -> str:
    """A short stable hash of every setting that can change an episode's outcome.

    ``config``: the resolved run config as plain containers (``OmegaConf.to_container(cfg, resolve=True)``
    or ``yaml.safe_load`` of ``config.yaml``; both give the same id). Leaves out SETTINGS_IGNORED, any
    ``cache_dir`` under ``agent`` and secret-looking keys; everything else (max_steps, task, scene,
    camera, the agent's settings and checkpoint) is in."""
    text = json.dumps(outcome_settings(config), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def outcome_settings(config: dict) -> dict:
    """The part of a run config that ``settings_id`` hashes, flattened to dotted keys."""
    return {k: v for k, v in flatten(config).items() if not _ignored(k)}


def _ignored(key: str) -> bool:
    parts = key.split(".")
    prefixes = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return bool(prefixes & SETTINGS_IGNORED) or any(is_secret_name(p) for p in parts) \
        or (parts[0] == "agent" and "cache_dir" in parts)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one dict of dotted keys (lists and scalars are leaves; enums by name)."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out if out or not prefix else {prefix[:-1]: {}}
    if isinstance(obj, (list, tuple)):
        return {prefix[:-1]: [_plain(v) for v in obj]}
    return {prefix[:-1]: _plain(obj)}


def _plain(v: Any) -> Any:
    if isinstance(v, Enum):
        return v.name
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _jsonable(v):
    if hasattr(v, "item"):
        return v.item()
    raise TypeError(f"cannot store {type(v).__name__} in an episode record")


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays, tuples and paths made plain JSON values (dict keys as text)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    return obj


TRACE_KEYS = ("episode", "seed", "instruction", "success", "status", "error", "steps")


def trace_path(run_dir: Path, episode: int) -> Path:
    """Where ``eval.run`` keeps an episode's call trace (beside its replay)."""
    return Path(run_dir) / "episodes" / f"episode_{episode:04d}.json"


def write_trace(run_dir: Path, row: dict, calls: list[dict]) -> Path:
    """An episode's calls (``Agent.calls``: what a tool agent's reasoner asked for, and what came back) with
    the row's outcome, as ``episodes/episode_NNNN.json``; replaced atomically, so a resumed run rewrites it."""
    path = trace_path(run_dir, int(row["episode"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {k: row[k] for k in TRACE_KEYS if k in row}
    write_atomic(path, json.dumps(jsonable({**record, "calls": calls}), indent=1))
    return path


def episodes_frame(rows) -> pd.DataFrame:
    import pandas as pd

    df = pd.DataFrame(list(rows))
    if df.empty:
        return pd.DataFrame(columns=ID_COLUMNS + RESULT_COLUMNS)
    first = [c for c in ID_COLUMNS + RESULT_COLUMNS if c in df.columns]
    df = df[first + [c for c in df.columns if c not in first]]
    return df.sort_values("episode", kind="stable").reset_index(drop=True)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per agent x task x camera x magnitude x calibration x scene x privileged: n, successes, rate,
    Wilson 95%, errors. A group column missing from older records reads as unknown (``privileged``) or as
    nominal (``factors``: runs from before perturbation factors had none)."""
    import pandas as pd

    df = df.assign(**{c: "nominal" if c == "factors" else None for c in GROUP_COLUMNS if c not in df})
    out = []
    for key, g in df.groupby(GROUP_COLUMNS, dropna=False, sort=True):
        ok = g[g["status"] == "ok"]
        n, k = len(ok), int(ok["success"].astype(bool).sum())
        lo, hi = wilson_interval(k, n)
        out.append({**dict(zip(GROUP_COLUMNS, key)), "n": n, "successes": k,
                    "success_rate": k / n if n else float("nan"), "ci_low": lo, "ci_high": hi,
                    "mean_steps": float(ok["steps"].mean()) if n else float("nan"),
                    "errors": int((g["status"] == "error").sum()),
                    "timeouts": int((g["status"] == "timeout").sum())})
    return pd.DataFrame(out)

