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
