"""Shared fixtures: one small article run (with twin), stepped by hand so tests can look
inside every step, and helpers to brute-force what the engine keeps incrementally."""

from __future__ import annotations

import numpy as np
import pytest

import scoresim
from scoresim.network import active_flags

SMALL = dict(n=4000, years=1.0, seed=7)


def brute_association(world):
    """Association sums recomputed from scratch over active ties only."""
    g, led = world.s.graph, world.ledger
    rows = np.repeat(np.arange(g.n), np.diff(g.indptr))
    active = active_flags(world.active, g.entries)
    w = led.layer_weights[g.layer] * active
    own = (led.own_true + led.own_false).astype(np.float64)
    s = np.bincount(rows, weights=w * own[g.nbr], minlength=g.n)
    wsum = np.bincount(rows, weights=w, minlength=g.n)
    listed = np.bincount(rows, weights=active * world.registry.listed[g.nbr], minlength=g.n)
    deg = np.bincount(rows, weights=active, minlength=g.n)
    return s, wsum, listed, deg


class Stepped:
    """A Sim whose steps are run one by one, with a per-step hook."""

    def __init__(self, scenario="article", overrides=None, **kw):
        args = {**SMALL, **kw}
        self.sim = scoresim.Sim(scenario, overrides=overrides, **args).build()
        self.run, self.twin = self.sim.worlds[0], self.sim.worlds[-1]

    def steps(self):
        for t in range(self.sim.scenario.run.steps):
            for w in self.sim.worlds:
                w.step(t)
            yield t


def resumed_after(scenario: str, steps: int, folder, **kw):
    """Run ``scenario`` for ``steps`` steps, checkpoint it into ``folder``, then resume it in
    a fresh Sim from the checkpoint to the end: the resumed Results."""
    from scoresim import checkpoint as ckpt
    from scoresim.sim import Interrupted

    sim = scoresim.Sim(scenario, **kw).build()
    stop = iter([False] * (steps - 1) + [True]).__next__
    with pytest.raises(Interrupted) as e:
        sim.run(stop=stop)
    ckpt.save(sim, folder, e.value.step)
    again = scoresim.Sim(scenario, **kw).build(worlds=False)
    start = ckpt.load(again, folder)
    assert start == steps
    return again.run(start=start)


@pytest.fixture(scope="session")
def stepped_checks():
    """Run the small article sim once, checking invariants at every step; return the log."""
    st = Stepped()
    log = {
        "score_err": [],
        "assoc_err": [],
        "deg_err": [],
        "stock": [],
        "twin_sanctioned": [],
        "twin_cut": [],
        "sanctioned": [],
    }
    for _t in st.steps():
        led = st.run.ledger
        total = led.base + led.own_true.astype(np.float64) + led.own_false + led.assoc
        log["score_err"].append(float(np.abs(led.score - total).max()))
        s, wsum, listed, deg = brute_association(st.run)
        log["assoc_err"].append(
            max(
                float(np.abs(s - led.sum_own).max()),
                float(np.abs(wsum - led.sum_w).max()),
                float(np.abs(listed - led.listed_contacts).max()),
            )
        )
        log["deg_err"].append(float(np.abs(deg - st.run.deg_active).max()))
        log["stock"].append(
            (
                st.run.registry.stock().copy(),
                st.run.registry.inflow.copy(),
                st.run.registry.outflow.copy(),
            )
        )
        log["twin_sanctioned"].append(int((st.twin.out.applied > 0).sum()))
        twin_graph = st.twin.s.graph
        log["twin_cut"].append(int((~active_flags(st.twin.active, twin_graph.entries)).sum()))
        log["sanctioned"].append(int((st.run.out.applied > 0).sum()))
    log["stepped"] = st
    return log
