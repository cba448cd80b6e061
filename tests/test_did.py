"""Difference-in-differences on a run's regional panel, beside the true effect."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from scoresim import Sim
from scoresim.did import panel, read, run_folders, table

pytest.importorskip("pyfixest")

STAGGERED = {
    "schedule": [
        {"at": 0.25, "regime_from": "article", "regime": {"pilot": {"share": 0.2}}},
        {"at": 0.5, "regime": {"pilot": {"share": 0.5}}},
    ]
}


@pytest.fixture(scope="module")
def staggered(tmp_path_factory):
    out = tmp_path_factory.mktemp("staggered")
    Sim("none", n=8000, years=1.0, seed=11, overrides=STAGGERED).run().write(out, report=False)
    return out


def test_the_panel_is_the_runs_regions_and_the_truth_is_run_minus_twin(staggered):
    frame, dt = read(run_folders(staggered)[0])
    d = panel(frame, "critical_post", dt, period_days=30.0)
    assert d.region.nunique() == 31 and set(d.cohort.unique()) >= {0}
    assert len(set(d.cohort.unique()) - {0}) == 2  # two cohorts: the pilot and its widening
    assert (d.groupby("region").treated.diff().fillna(0) >= 0).all()  # absorbing
    # one cell by hand from the long table
    cell = d[(d.region == d[d.treated == 1].region.iloc[0]) & (d.treated == 1)].iloc[0]
    per = round(30.0 / (365.25 * dt))
    rows = frame[frame.group.astype(str) == f"region.{cell.region}"]
    steps = range(cell.period * per, (cell.period + 1) * per)
    pick = rows[rows.step.isin(steps)].set_index("metric")
    posts, persons = pick.loc["critical_post"], pick.loc["persons"]
    want = (posts.run.sum() - posts.twin.sum()) / persons.run.sum() / dt
    assert cell.truth == pytest.approx(want)
    assert cell.truth < 0  # watched people post less
    untreated = d[d.treated == 0]
    assert (untreated.truth == 0).all()  # nobody outside is watched: no spill-over in posts


def test_two_way_fixed_effects_equals_least_squares_with_dummies(staggered):
    """The estimate is the regression it names: pyfixest's coefficient equals an ordinary
    least-squares fit of y on treatment and region and period dummies."""
    from scoresim.did import estimate

    frame, dt = read(run_folders(staggered)[0])
    d = panel(frame, "active_ties", dt, period_days=30.0)
    est = estimate(d)
    x = [d.treated.to_numpy(float)]
    x += [(d.region == r).to_numpy(float) for r in sorted(d.region.unique())]
    x += [(d.period == p).to_numpy(float) for p in sorted(d.period.unique())[1:]]
    beta = np.linalg.lstsq(np.column_stack(x), d.y.to_numpy(), rcond=None)[0]
    assert est["twfe"].value == pytest.approx(beta[0], rel=1e-6, abs=1e-9)
    assert est["twfe"].low < est["twfe"].value < est["twfe"].high
    assert est["did2s"].low < est["did2s"].value < est["did2s"].high
    assert est["spillover"] < 0  # comparison regions lose ties to listed persons inside
    rows = table([est], "active_ties")
    assert list(rows.what)[1:3] == ["two-way fixed effects", "Gardner two-stage (did2s)"]


def test_did_command_writes_its_table_and_refuses_what_it_cannot_estimate(staggered, tmp_path):
    def scoresim(*args):
        return subprocess.run(
            [sys.executable, "-m", "scoresim.cli", *args], capture_output=True, text=True
        )

    r = scoresim("did", str(staggered), "--period-days", "30")
    assert r.returncode == 0, r.stderr
    assert "did2s" in r.stdout and (staggered / "did_critical_post.csv").exists()
    r = scoresim("did", str(staggered), "--outcome", "happiness")
    assert r.returncode == 2 and "--outcome" in r.stderr and "Traceback" not in r.stderr
    lone = tmp_path / "lone"
    Sim("none", n=2000, years=0.5, seed=1, twin=False, overrides=STAGGERED).run().write(
        lone, report=False
    )
    r = scoresim("did", str(lone))
    assert r.returncode == 2 and "twin" in r.stderr and "Traceback" not in r.stderr
    plain = tmp_path / "plain"
    Sim("article", n=2000, years=0.2, seed=1).run().write(plain, report=False)
    r = scoresim("did", str(plain))
    assert r.returncode == 2 and "regional panel" in " ".join(r.stderr.split())


def test_the_two_stage_estimator_recovers_effects_that_grow_and_differ_by_cohort():
    """On a noiseless panel with region and period effects and treatment effects that grow
    with time since treatment and differ by cohort, did2s returns the mean effect on the
    treated exactly and two-way fixed effects does not (its negative weights)."""
    import pandas as pd

    from scoresim.did import estimate

    rng = np.random.default_rng(0)
    rows = []
    cohorts = {f"r{i}": c for i, c in enumerate([0] * 6 + [3] * 6 + [6] * 6)}
    a = {r: rng.normal() for r in cohorts}
    b = rng.normal(size=10)
    for r, c in cohorts.items():
        for t in range(10):
            treated = c > 0 and t >= c
            effect = (1.0 + 0.5 * (t - c)) * (2.0 if c == 3 else 1.0) if treated else 0.0
            rows.append(
                {
                    "region": r,
                    "period": t,
                    "y": a[r] + b[t] + effect,
                    "truth": effect,
                    "treated": int(treated),
                    "persons": 100.0,
                    "cohort": c,
                }  # fmt: skip
            )
    est = estimate(pd.DataFrame(rows))
    assert est["did2s"].value == pytest.approx(est["truth"], abs=1e-9)
    assert abs(est["twfe"].value - est["truth"]) > 0.1


def test_did_over_an_ensemble_gives_intervals_over_members(tmp_path):
    from scoresim.did import did
    from scoresim.ensemble import Ensemble
    from scoresim.scenario import load

    sc = load("none", {**STAGGERED, "population": {"persons": 4000}, "run": {"years": 1.0}})
    Ensemble(sc, seeds=2, seed=3).run(out=tmp_path).write(tmp_path)
    frame, results = did(tmp_path, "active_ties", 30.0)
    assert len(results) == 2 and frame.attrs["members"] == 2
    truth = frame.set_index("what").loc["true effect on the treated (run - twin)"]
    assert truth["mean"] == pytest.approx(np.mean([r["truth"] for r in results]))
    assert truth["low"] < truth["mean"] < truth["high"] and truth["mean"] < 0
