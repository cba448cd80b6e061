"""FICO TransRisk aggregates (data/fico/, with their provenance): score distributions and
repayment probabilities of two groups, as Liu et al. (2018) used them (docs/design/lending.md).

Aggregates only: each table gives, per TransRisk score, a group's cumulative share and its
share of non-performing debtors. Nothing about any person is read or made.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import numpy as np

# Liu et al.'s mapping of a TransRisk percentile to the FICO 300-850 scale: the national shares
# of the population in the 50-point bands from 300 to 800 (percent; the last band is 800-850)
FICO_BANDS = (2.1, 4.2, 5.4, 6.5, 7.9, 9.6, 12.0, 13.8, 17.0, 15.8, 5.7)
COLUMNS = {"white": "Non- Hispanic white", "black": "Black", "hispanic": "Hispanic",
           "asian": "Asian"}  # fmt: skip


@dataclass
class Fico:
    """Per TransRisk score (ascending): each group's probability mass and repayment
    probability, and each group's size in the sample."""

    scores: np.ndarray  # TransRisk, 0 .. 100 in steps of 0.5
    pmf: dict[str, np.ndarray]
    repay: dict[str, np.ndarray]
    totals: dict[str, int]


def _table(name: str) -> tuple[list[str], list[list[str]]]:
    text = (resources.files("scoresim") / "data" / "fico" / name).read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    return rows[0], rows[1:]


def load() -> Fico:
    """The shipped tables. The mass at a score is the CDF's step there (the first score keeps
    its own CDF value), as Liu et al. form it; repayment is 1 - non-performing share."""
    head, rows = _table("transrisk_cdf_by_race_ssa.csv")
    scores = np.array([float(r[0]) for r in rows])
    cdf = {g: np.array([float(r[head.index(c)]) for r in rows]) / 100 for g, c in COLUMNS.items()}
    pmf = {g: np.diff(c, prepend=0.0) for g, c in cdf.items()}
    pmf = {g: p / p.sum() for g, p in pmf.items()}  # the published CDFs end at 100 % +- rounding
    head, rows = _table("transrisk_performance_by_race_ssa.csv")
    if [float(r[0]) for r in rows] != scores.tolist():
        raise ValueError("the FICO tables' scores differ")
    repay = {
        g: 1.0 - np.array([float(r[head.index(c)]) for r in rows]) / 100 for g, c in COLUMNS.items()
    }
    head, rows = _table("totals.csv")
    totals = {g: int(rows[0][head.index(c)]) for g, c in COLUMNS.items()}
    return Fico(scores, pmf, repay, totals)


def to_fico(transrisk: np.ndarray) -> np.ndarray:
    """TransRisk scores (percentiles, 0-100) on the FICO 300-850 scale: each percentile placed
    in its 50-point band by the bands' running sum, linearly inside it."""
    edges = np.concatenate([[0.0], np.cumsum(FICO_BANDS)])
    edges *= 100.0 / edges[-1]
    points = 300.0 + 50.0 * np.arange(len(edges))
    points[-1] = 850.0  # the last band is 800-850
    return np.interp(np.asarray(transrisk, float), edges, points)
