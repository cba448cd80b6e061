"""The memory budget the guard uses must describe the arrays the engine really allocates:
a column added without its bytes in the budget fails here (peak RSS against the estimate is
measured by benchmarks/memory.py, not in tests)."""

from __future__ import annotations

import numpy as np
import pytest

import scoresim
from scoresim import sim as S

N = 20_000


def _bytes_by_length(obj, n: int, skip: set[int]) -> tuple[int, int]:
    """Bytes of the arrays reachable from ``obj`` with one row per agent (or more, like the
    event buffer: a slot an agent and a little) and bytes of arrays with one row per graph
    entry."""
    seen, per_agent, per_entry = set(skip), 0, 0
    entries = None

    def walk(o, depth=0):
        nonlocal per_agent, per_entry
        if id(o) in seen or depth > 5:
            return
        seen.add(id(o))
        if isinstance(o, np.ndarray):
            if entries is not None and o.ndim == 1 and len(o) == entries:
                per_entry += o.nbytes
            elif o.ndim >= 1 and (o.shape[-1] == n or len(o) >= n):
                per_agent += o.nbytes
            return
        if isinstance(o, (list, tuple)):
            for v in o:
                walk(v, depth + 1)
        elif isinstance(o, dict):
            for v in o.values():
                walk(v, depth + 1)
        elif hasattr(o, "__dict__"):
            for v in vars(o).values():
                walk(v, depth + 1)

    entries = getattr(getattr(obj, "s", None), "graph", None)
    entries = entries.entries if entries is not None else None
    walk(obj)
    return per_agent, per_entry


@pytest.mark.parametrize("preset", ["article", "court-defaulters", "sesame", "rongcheng"])
def test_world_budget_matches_its_arrays(preset):
    sim = scoresim.Sim(preset, n=N, years=0.1, twin=False).build()
    world = sim.worlds[0]
    society = sim.society
    shared = {id(x) for x in vars(society).values()} | {id(society), id(sim.scenario)}
    shared |= {id(v) for x in (society.persons, society.graph) for v in vars(x).values()}
    per_agent, per_entry = _bytes_by_length(world, N, shared)
    budget = S.world_person_bytes(sim.scenario.regime)
    assert abs(per_agent / N - budget) < 1.0, (per_agent / N, budget)
    assert per_entry == society.graph.entries  # the active mask, one byte an entry


def test_society_budget_matches_its_arrays():
    sim = scoresim.Sim("article", n=N, years=0.1, twin=False)
    society = S.build_society(sim.scenario)
    static = (
        society.persons.nbytes()
        + society.graph.indptr.nbytes
        + society.travel_weight.nbytes
        + society.air_weight.nbytes
        + society.rail_weight.nbytes
        + society.learner.nbytes
        + society.coverage.persons.nbytes
        + society.coverage.open.nbytes
        + society.coverage.vpn_hidden.nbytes
        + society.self_employed.nbytes
        + society.household_starts.nbytes
        + society.approval_base.nbytes
        + society.aware0.nbytes
    )
    households = N / sim.scenario.population.household_mean
    assert abs(static - S.STATIC_PERSON_BYTES * N - S.HOUSEHOLD_BYTES * households) < 0.05 * N
    graph = society.graph
    assert graph.adj.nbytes == graph.entries * S.ENTRY_BYTES


def test_a_pilot_worlds_extra_bytes_stay_within_their_budget():
    over = {"regime": {"pilot": {"regions": ["Shandong", "Tibet"]}}}
    sim = scoresim.Sim("article", n=N, years=0.1, twin=False, overrides=over).build()
    world = sim.worlds[0]
    scope, cov = world.scope, world.coverage
    persons = sum(
        a.nbytes for a in (scope.persons, scope.outside, scope.targets, cov.persons, cov.open)
    )
    firms = sum(a.nbytes for a in (scope.firms, scope.firm_targets, cov.firms))
    m = sim.society.firms.n
    # upper bounds: ids are 8 bytes for each person outside, 4 for each inside (firms: 4 in)
    assert S.PILOT_PERSON_BYTES - 4 <= persons / N <= S.PILOT_PERSON_BYTES
    assert S.PILOT_FIRM_BYTES - 4 <= firms / m <= S.PILOT_FIRM_BYTES
    assert world.recorder.panel.region.nbytes == S.PANEL_PERSON_BYTES * N
