"""Reading a results folder for the playground's second tab: the comparison table and plots, each cell's
episodes, and each episode's video, replay, record and call trace.

Two kinds of folder (``results/README.md``): a report (``eval.report`` wrote ``comparison.csv`` and the
plots; published ones keep only these) and runs (``eval.run`` wrote ``episodes.csv``, ``summary.csv`` and,
when asked, ``videos/episode_NNNN.mp4`` and ``episodes/episode_NNNN.rrd``; a tool agent's calls always,
``episodes/episode_NNNN.json``).  A folder can be both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from envs.errors import BenchError
from eval.store import summarize, trace_path

log = logging.getLogger(__name__)

TABLE_FILES = ("comparison.csv", "summary.csv")
CELL_KEYS = ("agent", "task", "camera", "magnitude", "calibration", "factors")  # one cell of a comparison
EPISODE_COLUMNS = ("episode", "seed", "instruction", "success", "steps", "status", "error", "wall_s")
MAX_FOLDERS = 500


def result_folders(root: Path) -> list[str]:
    """Folders under ``root`` (itself included) holding a table or episodes, as paths relative to it."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = {p.parent for name in (*TABLE_FILES, "episodes.csv") for p in root.rglob(name)}
    rel = sorted(str(p.relative_to(root)) for p in found)
    if len(rel) > MAX_FOLDERS:
        log.warning("%s holds %d results folders; listing the first %d", root, len(rel), MAX_FOLDERS)
    return rel[:MAX_FOLDERS]


def inside(root: Path, rel: str) -> Path:
    """``root / rel``, refused when it leads outside ``root`` (the page serves files under ``root`` only)."""
    base = Path(root).resolve()
    path = (base / rel).resolve()
    if path != base and base not in path.parents:
        raise BenchError(f"{rel!r} lies outside the results folder {base}")
    return path


@dataclass
class Folder:
    """What the second tab shows of one folder."""

    path: Path
    table: pd.DataFrame  # comparison.csv, else summary.csv, else a summary of the episodes found
    table_source: str  # the file the table came from, or "episodes.csv files"
    plots: list[Path] = field(default_factory=list)  # comparison.png first, then axis_*.png
    episodes: pd.DataFrame = field(default_factory=pd.DataFrame)  # every episodes.csv under it, with run_dir

    def cells(self) -> list[str]:
        """One label per cell that has episodes: ``agent | task | camera(magnitude) | calibration | factors``."""
        if self.episodes.empty:
            return []
        return sorted(self.episodes["cell"].unique())

    def cell_episodes(self, cell: str) -> pd.DataFrame:
        e = self.episodes[self.episodes["cell"] == cell]
        cols = [c for c in ("run", *EPISODE_COLUMNS) if c in e]
        return e[cols].reset_index(drop=True)

    def episode(self, cell: str, index: int) -> dict:
        """The episode's whole record (every column) and its files: ``video``, ``replay`` and ``trace`` (the
        agent's calls, ``episodes/episode_NNNN.json``; None if absent)."""
        e = self.episodes[(self.episodes["cell"] == cell)].reset_index(drop=True)
        if not 0 <= index < len(e):
            raise BenchError(f"cell {cell!r} has {len(e)} episodes; there is no row {index}")
        row = e.iloc[index]
        run_dir, n = Path(row["run_dir"]), int(row["episode"])
        video = run_dir / "videos" / f"episode_{n:04d}.mp4"
        replay = run_dir / "episodes" / f"episode_{n:04d}.rrd"
        record = {k: _plain(v) for k, v in row.items() if k not in ("cell", "run_dir") and not _missing(v)}
        trace = trace_path(run_dir, n)
        return {"record": record, "video": video if video.exists() else None,
                "replay": replay if replay.exists() else None, "trace": trace if trace.exists() else None}


def load(path: Path) -> Folder:
    """The table, plots and episodes of a results folder."""
    path = Path(path)
    if not path.is_dir():
        raise BenchError(f"{path} is not a folder")
    episodes = _episodes(path)
    table, source = None, "episodes.csv files"
    for name in TABLE_FILES:
        if (path / name).exists():
            table, source = pd.read_csv(path / name), name
            break
    if table is None:
        if episodes.empty:
            raise BenchError(f"{path} holds no comparison.csv, summary.csv or episodes.csv")
        table = summarize(episodes.drop(columns=["cell", "run", "run_dir"]))
    plots = sorted(path.glob("comparison*.png")) + sorted(path.glob("axis_*.png"))
    return Folder(path, table, source, plots, episodes)


def _episodes(path: Path) -> pd.DataFrame:
    frames = []
    for f in sorted(path.rglob("episodes.csv")):
        try:
            df = pd.read_csv(f, keep_default_na=False, na_values=[""], dtype={"settings_id": str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            log.warning("skipping %s: %s", f, e)
            continue
        df["run_dir"] = str(f.parent)
        df["run"] = str(f.parent.relative_to(path)) if f.parent != path else "."
        frames.append(df)
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    if "factors" not in df:
        df["factors"] = "nominal"
    df["cell"] = df.apply(cell_label, axis=1)
    return df


def cell_label(row) -> str:
    get = {k: row.get(k, "") for k in CELL_KEYS}
    return (f"{get['agent']} | {get['task']} | {get['camera']}({get['magnitude']:g}) | calibration "
            f"{str(get['calibration']).lower()} | {get['factors']}") if isinstance(get["magnitude"], (int, float)) \
        else " | ".join(str(v) for v in get.values())


def _missing(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _plain(v):
    return v.item() if hasattr(v, "item") else v
