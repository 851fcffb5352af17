"""Episode records on disk (append-only JSON lines, flushed per episode), CSV tables, Wilson intervals."""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from envs.errors import BenchError

if TYPE_CHECKING:
    import pandas as pd  # imported where used: worker processes, which never build tables, start faster

log = logging.getLogger(__name__)

ID_COLUMNS = ["agent", "task", "camera", "magnitude", "calibration", "scene", "base_seed", "episode", "seed",
              "instruction"]
RESULT_COLUMNS = ["success", "steps", "wall_s", "status", "error"]
GROUP_COLUMNS = ["agent", "task", "camera", "magnitude", "calibration", "scene"]
WILSON_Z_95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = WILSON_Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (NaNs when n == 0)."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # exact at the ends: at k = 0 (k = n) the bound is 0 (1), not a rounding error away from it
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


class EpisodeStore:
    """``episodes.jsonl`` is the durable log (one flushed line per episode);
    ``episodes.csv`` is rewritten from it, sorted by episode index."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.log_path = self.out_dir / "episodes.jsonl"
        self.csv_path = self.out_dir / "episodes.csv"

    @contextmanager
    def lock(self):
        """Exclusive use of the folder: two runs appending to one log would corrupt it."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with (self.out_dir / ".lock").open("w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BenchError(f"another run is writing to {self.out_dir}; wait for it or choose another out_dir")
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def load(self) -> dict[int, dict]:
        """Records already finished, by episode index; a torn last line (killed mid-write) is dropped."""
        rows: dict[int, dict] = {}
        if not self.log_path.exists():
            return rows
        with self.log_path.open() as f:
            for n, line in enumerate(f, 1):
                try:
                    row = json.loads(line)
                    rows[int(row["episode"])] = row
                except (json.JSONDecodeError, KeyError, ValueError):
                    log.warning("%s line %d is incomplete (run killed mid-write?): ignored", self.log_path, n)
        return rows

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
        df = episodes_frame(rows.values())
        tmp = self.csv_path.with_suffix(".csv.tmp")
        df.to_csv(tmp, index=False)
        os.replace(tmp, self.csv_path)
        return df


def _jsonable(v):
    if hasattr(v, "item"):
        return v.item()
    raise TypeError(f"cannot store {type(v).__name__} in an episode record")


def episodes_frame(rows) -> pd.DataFrame:
    import pandas as pd

    df = pd.DataFrame(list(rows))
    if df.empty:
        return pd.DataFrame(columns=ID_COLUMNS + RESULT_COLUMNS)
    first = [c for c in ID_COLUMNS + RESULT_COLUMNS if c in df.columns]
    df = df[first + [c for c in df.columns if c not in first]]
    return df.sort_values("episode", kind="stable").reset_index(drop=True)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per agent x task x camera x magnitude x calibration: n, successes, rate, Wilson 95%, errors."""
    import pandas as pd

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
