"""Statistics of the reports, on statsmodels: Wilson intervals, paired comparisons (Newcombe interval of
the difference, exact McNemar test) and logistic breaking points with bootstrap intervals.

Imported lazily by the report (statsmodels takes a second to import; worker processes never need it).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05  # 95% intervals
BOOTSTRAP_RESAMPLES = 300
BOOTSTRAP_SEED = 0
MIN_VALID_RESAMPLES = 0.5  # fraction of resamples whose fit must cross 50% for an interval to be given


def wilson(successes: int, n: int, alpha: float = ALPHA) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (NaNs when n == 0; exactly 0 or 1 at k = 0 or n)."""
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return float("nan"), float("nan")
    lo, hi = proportion_confint(successes, n, alpha=alpha, method="wilson")
    return (0.0 if successes == 0 else float(lo)), (1.0 if successes == n else float(hi))


# --- paired comparison -------------------------------------------------------------
@dataclass(frozen=True)
class Paired:
    """Agents A and B on the same n episodes: both succeeded (a), only A (b), only B (c), neither (d)."""

    both: int
    only_a: int
    only_b: int
    neither: int

    @property
    def n(self) -> int:
        return self.both + self.only_a + self.only_b + self.neither

    @property
    def diff(self) -> float:
        """Success rate of A minus that of B."""
        return (self.only_a - self.only_b) / self.n if self.n else float("nan")


def paired_table(success_a, success_b) -> Paired:
    a, b = np.asarray(success_a, bool), np.asarray(success_b, bool)
    return Paired(int((a & b).sum()), int((a & ~b).sum()), int((~a & b).sum()), int((~a & ~b).sum()))


def newcombe_paired(t: Paired, alpha: float = ALPHA) -> tuple[float, float]:
    """Interval of the difference of paired proportions: Newcombe (1998, Statistics in Medicine 17: 2635),
    method 10, built from the two marginal Wilson intervals (statsmodels) and the phi correlation of the
    table with Newcombe's correction (as in Fagerland, Lydersen and Laake 2017, ch. 8, whose worked example
    the tests reproduce).  With phi = 0 it is statsmodels' unpaired Newcombe interval
    (``confint_proportions_2indep(method="newcomb")``), which the tests check too."""
    n = t.n
    if n == 0:
        return float("nan"), float("nan")
    k1, k2 = t.both + t.only_a, t.both + t.only_b
    p1, p2 = k1 / n, k2 / n
    l1, u1 = wilson(k1, n, alpha)
    l2, u2 = wilson(k2, n, alpha)
    denom = math.sqrt(k1 * (n - k1) * k2 * (n - k2))
    cross = float(t.both * t.neither - t.only_a * t.only_b)
    if cross > n / 2:  # Newcombe's continuity correction of phi: ad - bc - n/2, and 0 in [0, n/2]
        cross -= n / 2
    elif cross >= 0:
        cross = 0.0
    phi = cross / denom if denom > 0 else 0.0
    d = p1 - p2
    delta = math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    eps = math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0.0))
    return max(d - delta, -1.0), min(d + eps, 1.0)


def mcnemar_exact(t: Paired) -> float:
    """Exact (binomial) McNemar p-value on the discordant pairs (statsmodels); 1.0 without any."""
    from statsmodels.stats.contingency_tables import mcnemar

    if t.only_a + t.only_b == 0:
        return 1.0
    return float(mcnemar([[t.both, t.only_a], [t.only_b, t.neither]], exact=True).pvalue)


# --- breaking points -----------------------------------------------------------------
@dataclass(frozen=True)
class BreakingPoint:
    """The level at which success falls to 50%, from a logistic fit over the episodes."""

    status: str  # fitted | not reached | bracketed | not fitted
    value: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    note: str = ""


def _logistic_50(x: np.ndarray, y: np.ndarray) -> float | None:
    """The x at which a logistic fit of y on x crosses 0.5, or None (no fit, flat, or separated data)."""
    import statsmodels.api as sm

    if y.min() == y.max():
        return None
    won, lost = x[y > 0.5], x[y < 0.5]
    if won.max() < lost.min() or lost.max() < won.min():
        return None  # complete separation: no finite maximum-likelihood fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # perfect separation and convergence warnings: judged below
        try:
            fit = sm.GLM(y, sm.add_constant(x, has_constant="add"), family=sm.families.Binomial()).fit()
        except Exception:  # noqa: BLE001  (statsmodels raises several kinds on degenerate data)
            return None
    b0, b1 = fit.params
    if not (np.isfinite(b0) and np.isfinite(b1)) or abs(b1) < 1e-12 or not fit.converged:
        return None
    return float(-b0 / b1)


def breaking_point(levels, successes, resamples: int = BOOTSTRAP_RESAMPLES,
                   seed: int = BOOTSTRAP_SEED) -> BreakingPoint:
    """Breaking point of success (0/1 per episode) against an axis's level (one value per episode).

    "not reached": no measured level falls to 50% success.  "fitted": the logistic fit's 50% point with a
    percentile bootstrap interval (episodes resampled within each level).  "bracketed": the fit failed
    (e.g. success jumps from all to none between two levels); the interval is the two levels around the
    fall.  "not fitted": fewer than two levels.
    """
    x, y = np.asarray(levels, float), np.asarray(successes, float)
    groups = {v: y[x == v] for v in np.unique(x)}
    if len(groups) < 2:
        return BreakingPoint("not fitted", note="fewer than two levels")
    rates = {v: float(g.mean()) for v, g in groups.items()}
    if min(rates.values()) >= 0.5:
        return BreakingPoint("not reached", note=f"lowest success {min(rates.values()):.0%}")
    point = _logistic_50(x, y)
    lo, hi = min(groups), max(groups)
    if point is None or not lo <= point <= hi:
        return _bracketed(rates)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(resamples):
        ys = [rng.choice(g, size=len(g), replace=True) for g in groups.values()]
        xs = [np.full(len(g), v) for v, g in groups.items()]
        b = _logistic_50(np.concatenate(xs), np.concatenate(ys))
        if b is not None:
            boots.append(b)
    if len(boots) < MIN_VALID_RESAMPLES * resamples:
        return BreakingPoint("fitted", point, note=f"only {len(boots)}/{resamples} resamples fitted: no interval")
    ci = np.percentile(boots, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    return BreakingPoint("fitted", point, float(ci[0]), float(ci[1]))


def _bracketed(rates: dict[float, float]) -> BreakingPoint:
    """Between the last level still at >= 50% and the first below it, walking away from the best level."""
    order = sorted(rates)
    if rates[order[0]] < rates[order[-1]]:
        order = order[::-1]  # walk from the best end toward the harsh one
    for above, below in zip(order, order[1:]):
        if rates[above] >= 0.5 > rates[below]:
            lo, hi = sorted((above, below))
            return BreakingPoint("bracketed", float(lo + hi) / 2, float(lo), float(hi), note="logistic fit failed; "
                                 "between levels")
    return BreakingPoint("not fitted", note="success does not fall monotonically through 50%")
