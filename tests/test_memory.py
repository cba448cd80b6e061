"""The memory budget the guard uses must describe the arrays the engine really allocates:
a column added without its bytes in the budget fails here (peak RSS against the estimate is
measured by benchmarks/memory.py, not in tests)."""

from __future__ import annotations

import numpy as np
import pytest

import scoresim
from scoresim import sim as S
from scoresim.network import active_words
from scoresim.policing import pressing

N = 20_000


def _bytes_by_length(obj, n: int, skip: set[int]) -> tuple[int, int]:
    """Bytes of the arrays reachable from ``obj`` with one row per agent (or more, like the
    event buffer: a slot an agent and a little) and bytes of arrays with a bit per graph
    entry (the active mask)."""
    seen, per_agent, per_entry = set(skip), 0, 0
    entries = None

    def walk(o, depth=0):
        nonlocal per_agent, per_entry
        if id(o) in seen or depth > 5:
            return
        seen.add(id(o))
        if isinstance(o, np.ndarray):
            if entries is not None and o.ndim == 1 and len(o) == active_words(entries):
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
    regime = sim.scenario.regime
    budget = S.world_person_bytes(regime, pressed=pressing(sim.scenario, regime))
    assert abs(per_agent / N - budget) < 1.0, (per_agent / N, budget)
    assert per_entry == 8 * active_words(society.graph.entries)  # the active mask: a bit each


@pytest.mark.parametrize("preset", ["article", "court-defaulters", "sesame", "corporate"])
def test_world_firm_budget_matches_its_arrays(preset):
    """A world's columns of a firm (after a step: the inspections it boosts are the
    sanctions' own column) add up to the firms' budget; where sanctions are on firms' grades
    the budget is an upper bound (corporate)."""
    sim = scoresim.Sim(preset, n=N, years=0.1, twin=False).build()
    sim.run()
    world, society = sim.worlds[0], sim.society
    m = society.firms.n
    shared = {id(x) for x in vars(society).values()} | {id(society), id(sim.scenario)}
    shared |= {id(v) for x in (society.firms, society.firm_graph) for v in vars(x).values()}
    seen, per_firm = set(shared), 0

    def walk(o, depth=0):
        nonlocal per_firm
        if id(o) in seen or depth > 5:
            return
        seen.add(id(o))
        if isinstance(o, np.ndarray):
            per_firm += o.nbytes if o.ndim >= 1 and o.shape[-1] == m else 0
            return
        if isinstance(o, dict):  # (the pending records: persons', by step; not firms')
            return
        for v in (
            o
            if isinstance(o, (list, tuple))
            else vars(o).values()
            if hasattr(o, "__dict__")
            else ()
        ):
            walk(v, depth + 1)

    walk(world)
    budget = S.world_firm_bytes(sim.scenario.regime)
    if S._grade_sets(sim.scenario.regime, "firm"):
        assert budget - 20 <= per_firm / m <= budget, (per_firm / m, budget)
    else:
        assert per_firm / m == pytest.approx(budget, abs=0.5), (per_firm / m, budget)


def test_a_persons_flags_hold_the_facts_they_replace():
    """Society.flags packs four yes/no facts into a byte: each reads back as the draw it
    holds (a bit that overlapped another, or was lost to a cast, shows here)."""
    from scoresim import approval
    from scoresim.rng import Stream, draws

    sc = scoresim.Sim("article", n=N, years=0.1, twin=False).scenario
    society = S.build_society(sc, False)
    p, seed = society.persons, sc.run.seed
    learner = draws(seed, Stream.RESPONSE_TRAITS, N) < sc.responses.travel.learns
    rep = np.zeros(N, bool)
    rep[society.firms.legal_rep[society.firms.legal_rep >= 0]] = True
    facts = {
        "learner": learner,
        "self_employed": S.self_employed(sc.population, p, seed),
        "representative": rep,
        "aware0": approval.baseline(sc.approval, p, seed)[1],
    }
    for name, want in facts.items():
        assert 0 < want.sum() < N, name  # each fact splits the persons
        assert np.array_equal(getattr(society, name), want), name
    assert society.flags.dtype == np.uint8


@pytest.mark.parametrize("implicit", [False, True])
def test_society_budget_matches_its_arrays(implicit):
    sim = scoresim.Sim("article", n=N, years=0.1, twin=False)
    society = S.build_society(sim.scenario, implicit)
    static = (
        society.persons.nbytes()
        + society.flags.nbytes
        + society.coverage.open.nbytes
        + society.coverage.vpn_hidden.nbytes
        + society.approval_base.nbytes
    )
    assert society.graph.indptr.nbytes == (N + 1) * S.row_start_bytes(society.graph.entries)
    assert abs(static - S.STATIC_PERSON_BYTES * N) < 0.05 * N
    graph = society.graph
    assert graph.stored.nbytes == len(graph.stored) * S.ENTRY_BYTES
    degree, stored = S.mean_degrees(sim.scenario, implicit)
    assert graph.entries / N == pytest.approx(degree, rel=0.1)
    assert len(graph.stored) / N == pytest.approx(stored, rel=0.1)
    if implicit:  # household, co-worker, lattice ties held implicitly: row starts of the
        #           stored, a bit a lattice link, the firms' staff
        assert graph.xptr.nbytes == (N + 1) * S.row_start_bytes(len(graph.stored))
        lattice_bits = N * sim.scenario.network.community_degree / 2
        assert graph.rewired.nbytes == pytest.approx(lattice_bits / 8, rel=0.01)
        staff = N * S.WORKER_SHARE * S.STAFF_BYTES
        assert graph.staff.nbytes == pytest.approx(staff, rel=0.05)
        firms = society.firms.n
        assert graph.staff_starts.nbytes == pytest.approx(firms * S.STAFF_START_BYTES, rel=0.02)
    else:
        assert graph.xptr is None and graph.rewired is None and graph.staff is None


def test_ties_are_held_implicitly_where_stored_whole_they_would_crowd_the_memory():
    """The form follows the estimate of the graph stored whole against the memory there is;
    the implicit form's estimate is the smaller by the entries it does not store."""
    sc = scoresim.Sim("article", n=10**7, years=1, twin=False).scenario
    whole, implicit = S.estimate_bytes(sc, False), S.estimate_bytes(sc, True)
    assert (whole - implicit) / 10**7 > 40  # ~15 entries of 4 B, less ~11 B of row starts
    #                                         and staff
    assert S.ties_implicit(sc, have=whole)  # stored whole it would fill it
    assert not S.ties_implicit(sc, have=4 * whole)
    assert S.estimate_bytes(sc) in (whole, implicit)


@pytest.mark.parametrize("asked", [10**6, 10**9])
def test_the_largest_population_a_budget_holds_whatever_was_asked(asked):
    """Asked at a population that fits or one that does not, the answer is the same
    largest one within 1 %: it fits the budget and 2 % more does not."""
    sc = scoresim.Sim("article", n=asked, years=1, twin=False).scenario
    budget = 5e9
    fit = S.largest_fitting(sc, budget)

    def estimate(persons: int) -> int:
        trial = sc.model_copy(deep=True)
        trial.population.persons = persons
        return S.estimate_bytes(trial, S.ties_implicit(trial, budget))

    assert estimate(fit) <= budget < estimate(int(fit * 1.02))
    assert 10**6 < fit < 10**9  # searched above the persons asked, and below


def test_a_pilot_worlds_extra_bytes_stay_within_their_budget():
    over = {"regime": {"pilot": {"regions": ["Shandong", "Tibet"]}}}
    sim = scoresim.Sim("article", n=N, years=0.1, twin=False, overrides=over).build()
    world = sim.worlds[0]
    scope, cov = world.scope, world.coverage
    persons = sum(a.nbytes for a in (scope.persons, scope.outside, scope.targets, cov.open))
    firms = sum(a.nbytes for a in (scope.firms, scope.firm_targets, cov.firms))
    m = sim.society.firms.n
    # upper bounds: ids are 8 bytes for each person outside, 4 for each inside (firms: 4 in)
    assert S.PILOT_PERSON_BYTES - 4 <= persons / N <= S.PILOT_PERSON_BYTES
    assert S.PILOT_FIRM_BYTES - 4 <= firms / m <= S.PILOT_FIRM_BYTES
    assert world.recorder.panel.region is sim.society.persons.region  # (no column of its own)


def test_step_columns_narrow_only_where_every_step_fits():
    """A list's steps, notices, delayed delistings and appeals are int16 while the burn-in's
    first step and the run's last plus the longest delayed delisting fit, int32 beyond."""
    short = scoresim.load_scenario("article")
    assert S.step_type(short) is np.int16
    long_daily = short.model_copy(deep=True)
    long_daily.run.step, long_daily.run.years = "day", 80.0  # 29,220 steps + 3,650 days
    assert S.step_type(long_daily) is np.int32
    long_daily.run.years = 79.75  # 29,129 steps + 3,650 + 1: just past 32,767
    assert S.step_type(long_daily) is np.int32
    long_daily.run.years = 79.7  # 29,111 + 3,651: just inside
    assert S.step_type(long_daily) is np.int16
    weekly = short.model_copy(deep=True)
    weekly.run.years = 200.0  # the longest run allowed, in weeks
    assert S.step_type(weekly) is np.int16
    burnt = short.model_copy(deep=True)
    burnt.run.step, burnt.run.years, burnt.run.burn_in_years = "day", 1.0, 50.0
    assert S.step_type(burnt) is np.int16  # 18,262 steps before the start


def test_narrow_step_columns_change_no_number(monkeypatch):
    """The same run with every step column int32 (the wide form) records the same numbers:
    notices, delayed delistings, appeals and terms read and write steps alike."""
    over = {
        "false_records": {"kept_share": 0.5, "kept_days": 90.0, "misattributed": 0.05},
        "run": {"step": "day"},
    }

    def cells(width):
        monkeypatch.setattr(S, "step_type", lambda sc: width)
        sim = scoresim.Sim("eu-safeguards", n=6000, years=0.8, seed=4, overrides=over).build()
        assert sim.worlds[0].registry.since.dtype == width
        assert len(sim.worlds[0].registry.kept_until[0]) == 6000  # delayed delistings kept
        sim.run()
        w = sim.worlds[0]
        assert (w.ledger.struck_at != np.iinfo(width).min).any()  # appeals struck records
        return [x.recorder.cells.copy() for x in sim.worlds], w.registry.since.astype(np.int64)

    narrow, wide = cells(np.int16), cells(np.int32)
    for a, b in zip(narrow[0], wide[0]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(narrow[1], wide[1])
    assert (narrow[1] >= 0).sum() > 0  # somebody was listed: the steps were used


@pytest.mark.parametrize(
    ("span", "flags"),
    [(10**5, "mixed"), (10**5, "plain"), (2**31 - 1, "mixed"), (70_000, "mixed"), (300, "plain")],
)
def test_pending_records_give_back_their_records_sorted(span, flags):
    """A compact group of pending records gives back each record — subject, true flag,
    opaque flag — in ascending order of subject (a record's flags stay with it), each gap
    between subjects in as many bytes as its 7-bit groups (one where it is under 128)."""
    from scoresim.scoring import Pending

    rng = np.random.default_rng(span)
    n = 5000
    subj = rng.integers(0, span, n).astype(np.int32)
    subj[:50] = subj[50]  # repeats: one subject with many records
    true = rng.random(n) < (1.0 if flags == "plain" else 0.9)
    opaque = rng.random(n) < (0.0 if flags == "plain" else 0.3)
    p = Pending.of(subj, true, opaque, np.float32(5.0), 7)
    order = np.argsort(subj, kind="stable")
    got = p.records()
    np.testing.assert_array_equal(got[0], subj[order])
    assert got[0].dtype == np.int32
    np.testing.assert_array_equal(got[1], true[order])
    np.testing.assert_array_equal(got[2], opaque[order])
    assert (p.true is None and p.opaque is None) == (flags == "plain")
    gaps = np.diff(np.sort(subj).astype(np.int64))  # (the first subject: Pending.first)
    groups = np.maximum(1, -(-np.floor(np.log2(np.maximum(gaps, 1)) + 1).astype(int) // 7))
    assert p.gaps.dtype == np.uint8 and p.gaps.nbytes == groups.sum()
    assert (groups == 1).mean() > (0.9 if span < 10**6 else 0.0)  # dense: mostly a byte
    assert (groups.max() >= 3) == (span == 2**31 - 1)  # gaps of millions: 3 groups or more


def test_pending_gaps_at_their_byte_edges():
    """Gaps of 127/128, 2^14 - 1/2^14 and up to 2^31 - 1 (a byte more at each 7-bit edge)
    come back exactly, a single record too."""
    from scoresim.scoring import Pending

    edges = np.array([0, 127, 255, 255 + 16383, 255 + 32767, 2**31 - 1], np.int64)
    subj = edges.astype(np.int32)
    p = Pending.of(subj[::-1].copy(), np.ones(6, bool), np.zeros(6, bool), np.float32(1), 0)
    assert p.records()[0].tolist() == subj.tolist()
    # gaps 127, 128, 16383, 16384, 2^31 - 1 - 33022: 1, 2, 2, 3, 5 bytes (the first: none)
    assert p.first == 0 and p.gaps.nbytes == 1 + 2 + 2 + 3 + 5
    one = Pending.of(np.array([7], np.int32), np.ones(1, bool), np.zeros(1, bool), 1.0, 0)
    assert one.records()[0].tolist() == [7] and one.gaps.nbytes == 0


# Run in a fresh process whose allocator maps arrays of a page or more on their own where it
# has no freed memory to reuse (as it does arrays of more than 32 MB, at scale): which pages
# of the bare twin's columns are real memory rather than the kernel's shared zero page (an
# array's first page holds the allocator's header). Arrays the allocator took from its heap
# cannot be told apart and are left out. Reading a page's frame needs root (else: skip).
_RESIDENT = r"""
import mmap, os, sys, json, numpy as np, scoresim
page = os.sysconf("SC_PAGE_SIZE")
fd = os.open("/proc/self/pagemap", os.O_RDONLY)

def frames(a):
    addr = a.__array_interface__["data"][0]
    first, last = addr // page, (addr + max(a.nbytes, 1) - 1) // page
    v = np.frombuffer(os.pread(fd, 8 * (last - first + 1), 8 * first), np.uint64)
    present = (v >> np.uint64(63)).astype(bool)
    return present, v & np.uint64((1 << 55) - 1)

# pages read, never written, of a small private anonymous map (no huge pages): the zero page
# (the columns of a run this size are under the 4 MB from which numpy asks for huge pages)
blank = mmap.mmap(-1, 1 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
zero = np.frombuffer(blank, np.uint8)
zero.sum()
p, f = frames(zero)
zero_frames = np.unique(f[p])
if len(zero_frames) == 0 or (zero_frames == 0).all():
    print(json.dumps(None)); sys.exit()
n = int(sys.argv[1])
sim = scoresim.Sim("article", n=n, years=0.3, seed=2).build()
sim.run()
heap = [tuple(int(x, 16) for x in line.split()[0].split("-"))
        for line in open("/proc/self/maps") if line.rstrip().endswith("[heap]")]
twin = sim.worlds[1]
seen = {id(v) for v in vars(sim.society).values()}
written, sizes = {}, {}

def walk(o, name, depth=0):
    if id(o) in seen or depth > 5:
        return
    seen.add(id(o))
    if isinstance(o, np.ndarray):
        if o.ndim == 1 and len(o) == n:
            sizes[name] = o.nbytes
            addr = o.__array_interface__["data"][0]
            if not any(lo <= addr < hi for lo, hi in heap):
                p, f = frames(o)
                written[name] = int((p & ~np.isin(f, zero_frames)).sum()) - 1
        return
    items = vars(o).items() if hasattr(o, "__dict__") else (
        enumerate(o) if isinstance(o, (list, tuple)) else ())
    for k, v in items:
        walk(v, f"{name}.{k}", depth + 1)

walk(twin, "twin")
print(json.dumps({"bare": twin.bare, "written": written, "sizes": sizes}))
"""

# What a bare world writes (sim.BARE_PERSON_BYTES), besides its event buffer
BARE_WRITES = {
    "twin.state." + c
    for c in ("debt", "debt_timer", "misses", "employed", "watched", "knows", "vpn")
} | {
    "twin.state.pressured", "twin.ceiling",
    "twin.recorder.cell", "twin.ledger.score", "twin.ledger.struck_at", "twin.ledger.last_ctx",
    "twin.approval.state.flags",
}  # fmt: skip


def test_a_bare_world_writes_only_its_budget():
    """The twin (no system) is bare: it writes none of its columns but those the budget
    counts; the others stay the untouched zeros numpy got from the system (no memory)."""
    import json
    import os
    import subprocess
    import sys

    if not os.path.exists("/proc/self/pagemap"):
        pytest.skip("needs Linux's /proc/self/pagemap")
    n = 60_000
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="4096")
    out = subprocess.run(
        [sys.executable, "-c", _RESIDENT, str(n)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    if found is None:
        pytest.skip("page frames are not readable here (not root)")
    assert found["bare"]
    written, sizes = found["written"], found["sizes"]
    untouched = [k for k in sizes if k not in BARE_WRITES]
    checked = [k for k in untouched if k in written]
    assert len(checked) >= 0.8 * len(untouched) >= 15, (len(checked), len(untouched))
    assert {k: written[k] for k in checked if written[k] > 0} == {}  # none written
    events = S.BARE_PERSON_BYTES + 2 - sum(sizes[k] for k in BARE_WRITES) / n  # (+ struck: 2)
    assert events == pytest.approx(5.0)  # the rest of the budget: the event buffer


GRADES_SEEN = {  # no system but grades that employers see: a regime of grades alone
    "regime": {
        "scoring": {"grades": [{"name": "D", "min": -1e9}]},
        "response": {"visible_low_grades": ["D"], "employer_firing": 5.0},
    }
}


@pytest.mark.parametrize(
    ("preset", "over", "expected"),
    [
        ("article", None, [False, True]),
        ("article-rollout", None, [True, True]),  # bare until its system starts
        ("lending-damour2020", None, [False, False]),  # a credit market: never bare
        ("none", GRADES_SEEN, [False, True]),
    ],
)
def test_a_bare_world_records_what_a_full_step_would(preset, over, expected, monkeypatch):
    """Skipping scores, lists, sanctions, cuts and policing where there is no system changes
    no number: the same run with every step taken in full records the same."""

    def run():
        sim = scoresim.Sim(preset, n=8000, years=1.2, seed=6, twin=True, overrides=over)
        sim.build()
        bare = [w.bare for w in sim.worlds]
        sim.run()
        return bare, [(w.recorder.cells.copy(), w.recorder.totals.copy()) for w in sim.worlds]

    bare, skipped = run()
    monkeypatch.setattr(S.World, "bare", property(lambda self: False))
    _, full = run()
    for (a, b), (c, d) in zip(skipped, full):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert bare == expected


def test_the_twin_shares_the_runs_tick_ceilings():
    """One column of tick ceilings serves both worlds (sim.share_ceilings): at least each
    world's own everywhere (a larger ceiling skips fewer persons, never a tick), and in the
    article the two are the same."""
    from scoresim import behaviour

    sim = scoresim.Sim("article", n=N, years=0.1, twin=True).build()
    run, twin = sim.worlds
    assert twin.ceiling is run.ceiling
    p, s = sim.society.persons, sim.society
    own = [
        behaviour.tick_ceilings(w.params, w.responses, behaviour.traits_of(p, s, w.coverage))
        for w in (run, twin)
    ]
    assert np.array_equal(run.ceiling, np.maximum(*own)) and np.array_equal(own[0], own[1])
    assert (run.ceiling < behaviour.ALWAYS).mean() > 0.5  # the ceilings let persons be skipped


def test_giving_the_heap_back_between_steps_moves_no_number(monkeypatch):
    """A large run gives glibc's free heap pages back after every step of every world
    (scoresim.heap), the burn-in's too: the same results as a run that keeps them, and the
    trim was really asked for."""
    from scoresim import heap

    def run():
        return scoresim.Sim("article", n=3000, years=0.25, seed=5).run().timeseries()

    kept = run()
    asked = []
    real = heap.give_back
    monkeypatch.setattr(heap, "GIVE_BACK_FROM", 0)
    monkeypatch.setattr(heap, "give_back", lambda: asked.append(1) or real())
    given = run()
    sc = scoresim.load_scenario("article")
    burn_in = round(sc.run.burn_in_years / sc.step_years)
    assert burn_in > 0  # (the burn-in's steps are counted below)
    # after the burn-in's steps, the build, and every step of the run and its twin
    assert len(asked) == burn_in + 1 + 2 * round(0.25 * 52)
    assert given.equals(kept)
