"""The counts kept by change (tally.py): at random steps of a run they equal a count over
everyone from scratch, in both worlds, with ties stored or implicit, whoever cut the ties."""

from __future__ import annotations

import numpy as np
import pytest

from scoresim import Sim
from scoresim import sim as S
from scoresim.metrics import N_CELLS, PM
from scoresim.tally import TALLIED, recount


def _from_scratch(world) -> np.ndarray:
    e = world.earning()
    return recount(
        world.recorder.cell, N_CELLS, world.s.graph.indptr, world.active, e.employed, e.employer
    )


@pytest.mark.parametrize("implicit", [False, True])
def test_kept_counts_equal_a_count_from_scratch_at_random_steps(monkeypatch, implicit):
    monkeypatch.setattr(S, "ties_implicit", lambda sc, have=None, held=implicit: held)
    sim = Sim("article", n=6000, years=1, seed=11, twin=True).build()
    assert (sim.society.graph.xptr is not None) == implicit  # the layout asked for
    steps = sim.scenario.run.steps
    checked = set(np.random.default_rng(4).choice(steps, 12, replace=False).tolist())
    seen = []

    def check(t: int) -> None:
        if t not in checked:
            return
        for w in sim.worlds:
            fresh = _from_scratch(w)
            kept = w.recorder.tally.by_thread.sum(axis=0)
            np.testing.assert_array_equal(kept, fresh, err_msg=f"step {t}")
            cols = [PM[m] for m in TALLIED]
            np.testing.assert_array_equal(w.recorder.cells[t][:, cols], fresh, err_msg=f"{t}")
        seen.append(t)

    result = sim.run(after_step=check)
    assert sorted(seen) == sorted(checked)
    run = sim.worlds[0]
    # the counts moved by change: ties were cut (by avoidance and by policing), jobs changed
    assert run.recorder.totals[-1, run.recorder.total_names.index("ties_cut_by_policing")] > 0
    assert run.cuts[:4].sum() > run.policing.cuts
    employed = run.recorder.cells[:, :, PM["employed"]].sum(axis=1)
    assert len(np.unique(employed)) > 1
    assert result.summary()["persons"] == 6000


def test_a_lost_change_is_caught(monkeypatch):
    """The comparison above can fail: a cut the counts are not told of leaves them behind."""
    sim = Sim("article", n=3000, years=0.25, seed=2, twin=False).build()
    sim.run()
    w = sim.worlds[0]
    kept = w.recorder.tally.by_thread.sum(axis=0)
    np.testing.assert_array_equal(kept, _from_scratch(w))
    bits = np.unpackbits(w.active.view(np.uint8), bitorder="little")
    e = int(np.flatnonzero(bits)[0])  # an active entry: cut behind the counts' back
    w.active[e >> 6] &= ~np.uint64(1 << (e & 63))
    assert not np.array_equal(w.recorder.tally.by_thread.sum(axis=0), _from_scratch(w))
