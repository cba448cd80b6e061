"""Difference-in-differences on a run's regional panel, beside the effect the twin knows
(docs/model.md §7.10.2).

An empirical researcher of a pilot has a panel of regions over time and the dates each region
joined; they estimate the pilot's effect with two-way fixed effects (region and period) or a
heterogeneity-robust estimator for staggered adoption. A scoresim run with a pilot writes the
same panel (groups ``region.<name>``), and its twin gives what no researcher has: each
region's outcome without the system, so the true effect of every region in every period.
``estimate`` fits both estimators on the run's panel alone and sets them beside the truth.

Estimators, both from pyfixest (the Python port of R's fixest, one package for both, with the
same clustered inference): two-way fixed effects (``feols``, y ~ treated | region + period)
and Gardner's two-stage estimator (``did2s``: region and period effects fitted on the
untreated observations only, then the residuals of the treated regressed on treatment), which
stays unbiased when effects differ across cohorts and grow over time, where two-way fixed
effects weighs some of them negatively. Why pyfixest over csdid or differences: docs/model.md
§7.10.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .acts import ACT_ID
from .metrics import REGIONAL_METRICS
from .scenario import STEP_YEARS

PER_YEAR = set(ACT_ID) | {"records"}  # flows: per person-year; the rest: mean per person


class NoPanel(ValueError):
    """The run has no regional panel, or no region's treatment changes in it."""


def _unit(outcome: str) -> str:
    return "per person-year" if outcome in PER_YEAR else "per person (mean over the period)"


def panel(
    frame: pd.DataFrame, outcome: str, step_years: float, period_days: float = 91.0
) -> pd.DataFrame:
    """Region x period: ``y`` (the run's outcome), ``truth`` (run minus twin, the same
    unit), ``treated`` (the regime reached the region in the period), ``cohort``
    (1 + the first treated period; 0: never treated), ``persons``. Periods in which every region is
    treated, and regions treated from the start, are left out: nothing untreated compares
    with them."""
    if outcome not in REGIONAL_METRICS:
        raise ValueError(
            f"outcome {outcome!r} is not in the regional panel; allowed: "
            + ", ".join(REGIONAL_METRICS)
        )
    groups = frame["group"].astype(str)
    regional = frame[groups.str.startswith("region.")]
    if regional.empty:
        raise NoPanel(
            "this run has no regional panel (it is written for runs with a pilot, "
            "[regime.pilot], or with run.regional = true)"
        )
    if regional.loc[regional["metric"].astype(str) == "persons", "twin"].isna().all():
        raise NoPanel("this run has no twin (run.twin = false): the true effect is run minus twin")
    metric = regional["metric"].astype(str)
    wide = {
        m: regional[metric == m].pivot_table(
            index="step", columns="group", values=["run", "twin"], observed=True
        )
        for m in (outcome, "persons", "inside")
    }
    per = max(1, round(period_days / (365.25 * step_years)))
    rows = []
    regions = [str(g) for g in wide["persons"]["run"].columns]
    steps = wide["persons"].index.to_numpy()
    period = steps // per
    scale = 1.0 / step_years if outcome in PER_YEAR else 1.0
    for g in regions:
        persons = wide["persons"]["run"][g].to_numpy()
        run = wide[outcome]["run"][g].to_numpy()
        twin = wide[outcome]["twin"][g].to_numpy()
        inside = wide["inside"]["run"][g].to_numpy()
        for p in np.unique(period):
            at = period == p
            if at.sum() < per:  # a last, partial period is left out
                continue
            ps = persons[at].sum()
            if ps == 0:  # a region with nobody in it (a tiny run)
                continue
            rows.append(
                {
                    "region": g.removeprefix("region."),
                    "period": int(p),
                    "y": scale * run[at].sum() / ps,
                    "truth": scale * (run[at].sum() - twin[at].sum()) / ps,
                    "treated": int(inside[at].max() > 0),
                    "persons": float(persons[at].mean()),
                }
            )
    out = pd.DataFrame(rows)
    # what nothing untreated can compare with is left out (for every estimator alike): periods
    # in which every region is treated, and regions treated from the first period
    some_untreated = out.groupby("period").treated.transform("min") == 0
    out = out[some_untreated & (out.groupby("region").treated.transform("min") == 0)]
    out = out.reset_index(drop=True)
    first = out[out.treated == 1].groupby("region").period.min()
    out["cohort"] = out.region.map(first).fillna(-1).astype(int) + 1  # 0: never treated
    if out.treated.nunique() < 2 or (out.cohort == 0).all():
        raise NoPanel("no region's treatment changes in this run: nothing to estimate")
    return out


@dataclass
class Estimate:
    name: str
    value: float
    low: float
    high: float


def estimate(data: pd.DataFrame) -> dict[str, Estimate | float]:
    """The true average effect on the treated region-periods, two-way fixed effects and
    Gardner's two-stage estimate (95 % intervals clustered by region), and the spill-over:
    the true effect on the untreated region-periods (what biases the comparison)."""
    import warnings

    import pyfixest as pf

    with warnings.catch_warnings():  # pandas' deprecation notices about pyfixest's own code
        warnings.filterwarnings("ignore", module="pyfixest")
        return _estimate(pf, data.copy())


def _estimate(pf, d: pd.DataFrame) -> dict[str, Estimate | float]:
    treated = d[d.treated == 1]
    untreated = d[d.treated == 0]
    out: dict[str, Estimate | float] = {
        "truth": float(treated.truth.mean()),
        "spillover": float(untreated.truth.mean()),
        "treated_cells": int(len(treated)),
        "regions": int(d.region.nunique()),
        "periods": int(d.period.nunique()),
    }
    twfe = pf.feols("y ~ treated | region + period", data=d, vcov={"CRV1": "region"})
    out["twfe"] = _from_fit("two-way fixed effects", twfe, "treated")
    d["treat"] = d.treated.astype(bool)
    two = pf.did2s(
        d,
        yname="y",
        first_stage="~ 0 | region + period",
        second_stage="~ treat",
        treatment="treat",
        cluster="region",
    )
    out["did2s"] = _from_fit("Gardner two-stage (did2s)", two, None)
    return out


def _from_fit(name: str, fit, coef: str | None) -> Estimate:
    tidy = fit.tidy()
    row = tidy.loc[coef] if coef is not None else tidy.iloc[0]
    return Estimate(name, float(row["Estimate"]), float(row["2.5%"]), float(row["97.5%"]))


def run_folders(folder: Path) -> list[Path]:
    """The runs in a folder: the run itself, or an ensemble's members."""
    if (folder / "timeseries.parquet").exists():
        return [folder]
    parts = sorted((folder / "timeseries").glob("member=*/part-0.parquet"))
    if parts:
        return parts
    raise NoPanel(f"{folder} holds no run (timeseries.parquet) or ensemble (timeseries/)")


def read(path: Path) -> tuple[pd.DataFrame, float]:
    """A run's (or a member's) time series and its step in years."""
    import tomllib

    folder = path if path.is_dir() else path.parent.parent.parent
    if not (folder / "scenario.toml").exists():
        raise NoPanel(
            f"{folder} has no scenario.toml: an ensemble still running or interrupted; "
            "finish it first (scoresim ensemble ... --out with the same folder)"
        )
    frame = pd.read_parquet(path / "timeseries.parquet" if path.is_dir() else path)
    scenario = tomllib.loads((folder / "scenario.toml").read_text())
    return frame, STEP_YEARS[scenario["run"]["step"]]


def table(results: list[dict], outcome: str) -> pd.DataFrame:
    """Over one run or several members: the truth and each estimator, mean and 95 % t
    interval over members (one member: the estimator's own interval), with each estimator's
    bias and how often its interval held the truth."""
    from scipy import stats

    k = len(results)
    rows = []
    for key in ("truth", "twfe", "did2s", "spillover"):
        vals = np.array([_value(r[key]) for r in results])
        mean = float(vals.mean())
        if k > 1:
            half = float(stats.t.ppf(0.975, k - 1) * vals.std(ddof=1) / math.sqrt(k))
            low, high = mean - half, mean + half
        elif isinstance(results[0][key], Estimate):
            low, high = results[0][key].low, results[0][key].high
        else:
            low = high = float("nan")
        row = {"what": _LABELS[key], "mean": mean, "low": low, "high": high}
        if key in ("twfe", "did2s"):
            truths = np.array([r["truth"] for r in results])
            row["bias"] = float((vals - truths).mean())
            row["covers_truth"] = float(
                np.mean([r[key].low <= r["truth"] <= r[key].high for r in results])
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["outcome"] = f"{outcome} ({_unit(outcome)})"
    out.attrs["members"] = k
    return out


_LABELS = {
    "truth": "true effect on the treated (run - twin)",
    "twfe": "two-way fixed effects",
    "did2s": "Gardner two-stage (did2s)",
    "spillover": "true effect on the untreated (spill-over)",
}


def _value(x) -> float:
    return x.value if isinstance(x, Estimate) else float(x)


def did(folder: str | Path, outcome: str = "critical_post", period_days: float = 91.0):
    """Estimate a pilot's effect on ``outcome`` from a run's (or each ensemble member's)
    regional panel; the table of truth and estimators, and the per-member results."""
    results = []
    for path in run_folders(Path(folder)):
        frame, step_years = read(path)
        results.append(estimate(panel(frame, outcome, step_years, period_days)))
    return table(results, outcome), results
