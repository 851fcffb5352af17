"""eval.stats on statsmodels: the intervals agree with the published tables and with independent checks."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from statsmodels.stats.proportion import confint_proportions_2indep

from eval.stats import Paired, breaking_point, mcnemar_exact, newcombe_paired, paired_table, wilson

RESULTS = Path(__file__).resolve().parents[1] / "results"
PUBLISHED = [RESULTS / "e2e-vs-tools" / "comparison.csv", RESULTS / "tool-agent-place" / "comparison.csv"]


def _old_wilson(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The hand-written interval the published tables were made with (eval/store.py before statsmodels)."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.parent.name)
def test_wilson_from_statsmodels_reproduces_the_published_intervals(path):
    table = pd.read_csv(path)
    cells = 0
    for col in [c for c in table if c.endswith(":success_rate")]:
        agent = col[: -len(":success_rate")]
        for _, row in table.dropna(subset=[col]).iterrows():
            n = int(row[f"{agent}:n"])
            k = round(row[col] * n)
            assert wilson(k, n) == pytest.approx((row[f"{agent}:ci_low"], row[f"{agent}:ci_high"]), abs=1e-9)
            assert wilson(k, n) == pytest.approx(_old_wilson(k, n), abs=1e-12)
            cells += 1
    assert cells >= 10


def test_wilson_edges():
    assert math.isnan(wilson(0, 0)[0]) and wilson(0, 7)[0] == 0.0 and wilson(7, 7)[1] == 1.0


def test_paired_interval_without_correlation_is_statsmodels_newcombe():
    t = Paired(both=4, only_a=2, only_b=6, neither=3)  # ad - bc = 0: phi = 0
    lo, hi = confint_proportions_2indep(6, 15, 10, 15, method="newcomb", compare="diff")
    assert newcombe_paired(t) == pytest.approx((lo, hi), abs=1e-12)


def test_paired_interval_and_mcnemar_reproduce_a_published_worked_example():
    """Cavo et al. (2012) in Fagerland, Lydersen & Laake (2017), ch. 8: pairs 59, 6, 16, 80; Newcombe's
    square-and-add interval -0.1186 to -0.0046, exact McNemar P = 0.052479."""
    t = Paired(59, 6, 16, 80)
    assert newcombe_paired(t) == pytest.approx((-0.1186, -0.0046), abs=5e-5)
    assert mcnemar_exact(t) == pytest.approx(0.052479, abs=5e-7)


def test_paired_interval_narrows_with_agreement_and_holds_the_difference():
    agreeing, independent = Paired(40, 6, 1, 3), Paired(33, 13, 8, 6)  # same margins would not hold: compare widths
    for t in (agreeing, independent, Paired(50, 0, 0, 0), Paired(0, 0, 0, 50), Paired(0, 50, 0, 0)):
        lo, hi = newcombe_paired(t)
        assert -1.0 <= lo <= t.diff <= hi <= 1.0
    corr = newcombe_paired(Paired(40, 5, 1, 4))
    uncorr = confint_proportions_2indep(45, 50, 41, 50, method="newcomb", compare="diff")
    assert corr[1] - corr[0] < uncorr[1] - uncorr[0]  # positively correlated pairs: a tighter interval


def test_mcnemar_exact_is_the_binomial_test_on_discordant_pairs():
    t = paired_table([1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 1], [1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0])
    assert (t.both, t.only_a, t.only_b, t.neither) == (3, 6, 1, 2)
    assert mcnemar_exact(t) == pytest.approx(binomtest(1, 7, 0.5).pvalue, abs=1e-12)
    assert mcnemar_exact(Paired(5, 0, 0, 5)) == 1.0


def test_breaking_point_recovers_a_known_curve():
    rng = np.random.default_rng(3)
    x = np.repeat([0.0, 0.25, 0.5, 0.75, 1.0], 80)
    y = rng.random(len(x)) < 1 / (1 + np.exp(10 * (x - 0.6)))  # success falls through 50% at 0.6
    bp = breaking_point(x, y)
    assert bp.status == "fitted" and bp.ci_low <= 0.6 <= bp.ci_high and bp.ci_high - bp.ci_low < 0.2
    assert breaking_point(x, y) == bp  # seeded bootstrap


def test_breaking_point_not_reached_bracketed_and_degenerate():
    assert breaking_point(np.repeat([0, 1, 2], 20), np.r_[np.ones(40), np.ones(10), np.zeros(10)]).status \
        == "not reached"
    separated = breaking_point(np.repeat([1.0, 0.6, 0.3], 20), np.r_[np.ones(40), np.zeros(20)])
    assert separated.status == "bracketed" and (separated.ci_low, separated.ci_high) == (0.3, 0.6)
    assert breaking_point([1.0] * 5, [0] * 5).status == "not fitted"
