"""Which perturbation axis a result row belongs to, and at what level.

A row perturbs at most one thing to sit on an axis's curve: one off-nominal factor (``factors`` column,
camera nominal) puts it on that factor's axis at the factor's value; a camera perturbation with nominal
factors puts it on axis ``camera:<name>`` at its magnitude; a fully nominal row sits on *every* axis's curve
at that axis's nominal level (one nominal cell serves them all); anything else is ``combined``.
"""

from __future__ import annotations

import pandas as pd

from envs.cameras import PERTURBATIONS, CameraPerturbation
from envs.factors import AXES, parse_label

NOMINAL, COMBINED = "nominal", "combined"
CAMERA_PREFIX = "camera:"


def camera_nominal_level(name: str) -> float:
    """The magnitude at which camera perturbation ``name`` moves nothing (0, or 1 for a distance scale)."""
    for level in (0.0, 1.0):
        lo, hi = PERTURBATIONS[name].valid
        if lo <= level <= hi and PERTURBATIONS[name].build(level) == CameraPerturbation(name):
            return level
    return 0.0


def axis_and_level(camera: str, magnitude, factors: str) -> tuple[str, object]:
    off = parse_label(factors if isinstance(factors, str) else NOMINAL)
    if camera == "nominal" and not off:
        return NOMINAL, None
    if camera == "nominal" and len(off) == 1:
        (name, level), = off.items()
        return name, level
    if camera != "nominal" and not off:
        return CAMERA_PREFIX + camera, float(magnitude)
    return COMBINED, None


def nominal_level(axis: str):
    if axis.startswith(CAMERA_PREFIX):
        return camera_nominal_level(axis[len(CAMERA_PREFIX):])
    return AXES[axis].nominal


def unit(axis: str) -> str:
    if axis.startswith(CAMERA_PREFIX):
        return PERTURBATIONS[axis[len(CAMERA_PREFIX):]].unit
    return AXES[axis].unit


def categorical(axis: str) -> bool:
    return not axis.startswith(CAMERA_PREFIX) and AXES[axis].categorical


def with_axes(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with ``axis`` and ``level`` columns (rows of one cell share them)."""
    keys = df[["camera", "magnitude", "factors"]].astype(object).drop_duplicates()
    pairs = {tuple(k): axis_and_level(*k) for k in keys.itertuples(index=False)}
    ax = [pairs[(c, m, f)] for c, m, f in df[["camera", "magnitude", "factors"]].astype(object).itertuples(index=False)]
    return df.assign(axis=[a for a, _ in ax], level=[lv for _, lv in ax])


def curves(df: pd.DataFrame, split: list[str]) -> dict[tuple, pd.DataFrame]:
    """Per (``split`` values..., axis): the rows on that axis's curve, the nominal ones at its nominal level."""
    df = with_axes(df)
    out: dict[tuple, pd.DataFrame] = {}
    for key, g in df.groupby(split, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        nominal = g[g["axis"] == NOMINAL]
        for axis in sorted(set(g["axis"]) - {NOMINAL, COMBINED}):
            on = g[g["axis"] == axis]
            out[(*key, axis)] = pd.concat([nominal.assign(axis=axis, level=nominal_level(axis)), on],
                                          ignore_index=True)
    return out
