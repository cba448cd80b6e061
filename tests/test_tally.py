"""The sums kept by change (tally.py) equal a count over everyone from scratch, at every step
of both worlds, with ties stored or implicit, whoever cut the ties or changed the jobs or
sanctions, and across a change of regime."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoresim import Sim
from scoresim import sim as S
from scoresim.metrics import PM, recount_kept
from scoresim.tally import TALLIED, income_sums


def _from_scratch(world) -> tuple[np.ndarray, np.ndarray]:
    return recount_kept(world.recorder.cell, world.s.graph.indptr, world.active, world.earning())


@pytest.mark.parametrize(
    "preset, years, implicit",
    [("article", 1.5, False), ("article", 1.5, True), ("repeal", 2.5, False)],
)
def test_kept_sums_equal_a_count_from_scratch_at_every_step(monkeypatch, preset, years, implicit):
    """(repeal: at year 2 the safeguards' sanctions table replaces the article's)"""
    monkeypatch.setattr(S, "ties_implicit", lambda sc, have=None, held=implicit: held)
    sim = Sim(preset, n=6000, years=years, seed=11, twin=True).build()
    assert (sim.society.graph.xptr is not None) == implicit  # the layout asked for
    cols = [PM[m] for m in TALLIED]
    incomes = []

    def check(t: int) -> None:
        for w in sim.worlds:
            counted, bins = _from_scratch(w)
            tally = w.recorder.tally
            assert not tally.stale
            np.testing.assert_array_equal(tally.by_thread.sum(axis=0), counted, f"step {t}")
            np.testing.assert_array_equal(tally.income.sum(axis=0), bins, f"step {t}")
            cells = w.recorder.cells[t]
            np.testing.assert_array_equal(cells[:, cols], counted, f"step {t}")
            np.testing.assert_array_equal(cells[:, PM["income"]], income_sums(bins))
            # the same as adding everyone's income in float64 (float32 incomes of a few
            # thousand persons a cell: every partial sum exact)
            income = np.bincount(w.recorder.cell, w.income().astype(np.float64), len(cells))
            np.testing.assert_array_equal(cells[:, PM["income"]], income, f"step {t}")
        incomes.append(sim.worlds[0].recorder.cells[t][:, PM["income"]].sum())

    sim.run(after_step=check)
    assert len(incomes) == sim.scenario.run.steps
    run = sim.worlds[0]
    totals = dict(zip(run.recorder.total_names, run.recorder.totals[-1]))
    # the sums moved by change: ties were cut (by avoidance and by policing), jobs and
    # sanctions changed incomes
    assert totals["ties_cut_by_policing"] > 0 and run.cuts[:4].sum() > run.policing.cuts
    employed = run.recorder.cells[:, :, PM["employed"]].sum(axis=1)
    assert len(np.unique(employed)) > 1
    sanctioned = run.recorder.cells[:, :, PM["sanctioned"]].sum(axis=1)
    assert sanctioned.max() > 0 and len(np.unique(incomes)) > 10


def test_a_lost_change_is_caught():
    """The comparison above can fail: a cut the sums are not told of leaves them behind."""
    sim = Sim("article", n=3000, years=0.25, seed=2, twin=False).build()
    sim.run()
    w = sim.worlds[0]
    kept = w.recorder.tally.by_thread.sum(axis=0)
    np.testing.assert_array_equal(kept, _from_scratch(w)[0])
    bits = np.unpackbits(w.active.view(np.uint8), bitorder="little")
    e = int(np.flatnonzero(bits)[0])  # an active entry: cut behind the sums' back
    w.active[e >> 6] &= ~np.uint64(1 << (e & 63))
    assert not np.array_equal(w.recorder.tally.by_thread.sum(axis=0), _from_scratch(w)[0])


def test_income_sums_are_exact_in_any_order():
    """Incomes kept in their exponents' bins give the same total whatever the order they
    came and went in: the exact sum, to a few units in its last place."""
    from scoresim.tally import INCOME_BINS, add_income

    rng = np.random.default_rng(5)
    x = np.concatenate([rng.lognormal(10, 2, 5000), rng.random(50) * 1e-3]).astype(np.float32)
    x[:3] = [0.0, 1e-40, 3e38]  # zero, a subnormal, near the largest float32
    bins = np.zeros((1, 1, INCOME_BINS), np.int64)
    for v in x:
        add_income(bins, 0, 0, v, 1)
    forward = income_sums(bins[0])[0]
    for v in rng.permutation(x)[:2000]:  # leave and come back, in another order
        add_income(bins, 0, 0, v, -1)
        add_income(bins, 0, 0, v, 1)
    assert income_sums(bins[0])[0] == forward
    exact = math.fsum(x.astype(np.float64))  # the exact sum, rounded once
    assert abs(forward - exact) <= 4 * np.spacing(exact)
