"""Parallel kernels cut the agents into fixed chunks; each must give exactly what one serial
pass over all agents gives (same values, same event order), however full the buffers."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

import scoresim
from scoresim import behaviour, jit
from scoresim.behaviour import CHUNK, chunk_size
from scoresim.population import trait_values
from scoresim.rng import uniforms_at

STATE = ("debt", "debt_timer", "misses", "employed", "watched", "knows", "vpn", "pressured")


def changing(st) -> behaviour.Changing:
    """A PersonState's columns as the kernel's bundle (the same arrays)."""
    return behaviour.Changing(*(getattr(st, k) for k in STATE))


def _behaviour_args(n: int, t: int = 3):
    sim = scoresim.Sim("article", n=n, years=0.2, seed=5, twin=False).build()
    w = sim.worlds[0]
    p, st, out, s = w.s.persons, w.state.copy(), w.out, w.s
    rng = np.random.default_rng(1)
    st.watched[:] = rng.random(n).astype(np.float32)  # some adaptation in play
    st.pressured[:] = rng.random(n) < 0.3  # and some policing
    st.knows[:] = rng.integers(0, 4, n).astype(np.uint8)  # and knowledge of restrictions
    flags = [rng.random(n) < 0.2 for _ in range(5)]  # blocks and listings
    responses = w.responses.copy()
    responses[behaviour.RP_DECIDE] = 0.5  # VPN use reconsidered often
    traits = behaviour.Traits(
        p.facts,
        p.expressiveness,
        p.law_abidance,
        p.financial_fragility,
        p.civic_virtue,
        p.base_income,
        s.flags,
        s.travel,
        s.coverage.open,
        s.coverage.vpn_hidden,
    )
    args = (
        t,
        behaviour.step_keys(w.seed, t),
        w.params,
        responses,
        w.sources.recorded,
        0.3,
        0.4,
        traits,
        changing(st),
        behaviour.Blocks.of_flags(*flags),
    )
    assert out is not None
    return args, st


def _one_world(lo, hi, k, limit, t, keys, *side):
    """The persons' pass over one world that draws its own ticks (a Side's fields after
    ``keys``): the next slot and the count of violations with no system."""
    return behaviour._persons_range(
        lo, hi, k, limit, t, keys, behaviour.Side(*side), behaviour._no_ticks(), False
    )


def _serial(args, st):
    """The oracle: one serial pass over every person into a buffer with room for all."""
    state = st.copy()
    serial_args = args[:-2] + (changing(state), args[-1])
    n = len(state.debt)
    sg, sc = np.empty(40 * n, np.int32), np.empty(40 * n, np.uint8)
    k, free = _one_world(0, n, 0, len(sg), *serial_args, sg, sc)
    return sg[:k], sc[:k], state, free


@pytest.mark.parametrize("room", [3.0, 0.05])  # ample, and far too small for most chunks
@pytest.mark.parametrize("n", [3000, 8 * CHUNK + 777])  # small chunks; full ones, one short
def test_chunked_behaviour_equals_one_serial_pass(room, n):
    assert (n + chunk_size(n) - 1) // chunk_size(n) >= 3
    args, st = _behaviour_args(n)
    since = np.random.default_rng(5).integers(0, 2 * args[0], n).astype(np.int16)  # step_type
    args = (*args[:-1], args[-1]._replace(since=since))  # the pressed: their no-system count
    want_agent, want_act, want_state, want_free = _serial(args, st)
    events = behaviour.Events(int(room * n))
    ((got_agent, got_act, got_free),) = behaviour._persons_kernel(
        *args[:2], behaviour.Side(*args[2:], events.agent, events.act)
    )
    events.take(got_agent, got_act)
    got_agent, got_act = events.view()
    assert len(want_agent) > n // 10  # events happened
    assert want_free > 0 and got_free == want_free
    assert np.array_equal(got_agent, want_agent) and np.array_equal(got_act, want_act)
    assert np.all(np.diff(got_agent) >= 0)  # in person order
    for name in STATE:  # chunks redone from their own start
        assert np.array_equal(getattr(st, name), getattr(want_state, name)), name


@njit
def _bound_sums(p, rp, tr, n):
    """Each person's sum of its clocks' bounds, from the kernel's own ``_bounds``."""
    h_loan, h_decide, travel_on = behaviour._clock_setup(p, rp)
    bound, own = np.empty(behaviour.N_CLOCKS), np.empty(behaviour.N_CLOCKS)
    out = np.empty(n)
    for i in range(n):
        total, alone = behaviour._bounds(bound, own, i, p, tr, h_loan, h_decide, travel_on)
        out[i] = total + (own.sum() if alone else 0.0)  # (the clocks drawn on their own too)
    return out


# the favoured purchase's expected count a step: as the article has it; bounds' sums
# straddling 1; and a clock above one tick a step (it draws on its own: never skipped)
@pytest.mark.parametrize("favoured", [None, 0.8, 1.5])
def test_tick_ceilings_skip_only_persons_with_no_tick(favoured):
    """A person whose draw is at or above its tick ceiling skips its clocks' bounds: the
    events and every state column are those of the pass without ceilings; each ceiling is the
    chance of a tick, 1 - exp(-the bounds' sum), rounded up to a multiple of 2**-16 (ALWAYS
    where a clock draws on its own)."""
    n = 20_000
    args, st = _behaviour_args(n)
    p = args[2].copy()
    if favoured is not None:
        p[behaviour.P_FAVOURED] = favoured
    rp, traits = args[3], args[7]
    ceiling = behaviour.tick_ceilings(p, rp, traits)
    sums = _bound_sums(p, rp, traits, n)
    capped = ceiling < behaviour.ALWAYS
    up = ceiling[capped] / behaviour.CEILING_SCALE - (1.0 - np.exp(-sums[capped]))
    assert (up >= 0).all() and (up < 2.0**-16).all()
    assert (sums[~capped] > 1.0).all()
    u = uniforms_at(args[1][12], behaviour.TICK_SLOTS * np.arange(n))  # the persons' draws
    skipped = capped & (u * behaviour.CEILING_SCALE >= ceiling)
    if favoured is None:
        assert skipped.mean() > 0.1  # (this setup reconsiders VPN use often: fewer skip)
    elif favoured > 1.0:
        assert not capped.any()
    else:
        # sums on both sides of 1, and persons skipped above it too (no clock draws alone)
        above = sums > 1.0
        assert 0.05 < above.mean() < 0.95 and capped.all() and skipped[above].any()
    want = _serial((*args[:2], p, *args[3:]), st)
    got = _serial((*args[:2], p, *args[3:7], traits._replace(ceiling=ceiling), *args[8:]), st)
    assert len(want[0]) > n // 10
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    for name in STATE:
        assert np.array_equal(getattr(got[2], name), getattr(want[2], name)), name


def test_the_pass_sets_how_watched_each_person_feels():
    """Adaptation happens in the persons' pass: each person's ``watched`` is risk aversion x
    publicity x min(1, awareness + weights x (listed contacts, own sanction)), and zero
    outside a pilot; the acts then follow from it (more felt, fewer violations)."""
    n = 20_000
    args, st = _behaviour_args(n)
    rng = np.random.default_rng(9)
    risk = rng.integers(0, 256, n).astype(np.uint8)  # trait levels (population.trait)
    contacts = rng.integers(0, 4, n).astype(np.int32)
    status = np.where(rng.random(n) < 0.2, rng.integers(1, 4, n), 0).astype(np.uint8)
    inside = rng.random(n) < 0.7
    rp = args[3].copy()
    rp[behaviour.RP_PUBLICITY], rp[behaviour.RP_AWARENESS] = 0.8, 0.3
    rp[behaviour.RP_CONTACT_WEIGHT], rp[behaviour.RP_OWN_WEIGHT] = 0.2, 1.0
    traits = args[7]._replace(risk_aversion=risk)
    blocks = args[9]._replace(contacts=contacts, status=status, inside=inside)
    state = st.copy()
    call = (*args[:3], rp, *args[4:7], traits, changing(state), blocks)
    a, b = np.empty(40 * n, np.int32), np.empty(40 * n, np.uint8)
    _one_world(0, n, 0, len(a), *call, a, b)
    feel = np.minimum(1.0, 0.3 + 0.2 * contacts + 1.0 * (status > 0))
    want = np.where(
        inside, (trait_values(risk).astype(np.float64) * 0.8 * feel).astype(np.float32), 0.0
    )
    assert np.array_equal(state.watched, want)
    assert want.max() > 0.5 and (want == 0).sum() > 0.25 * n
    untouched = st.copy()  # no ``contacts``: the watched level as given
    call = (*args[:3], rp, *args[4:7], traits, changing(untouched), args[9])
    _one_world(0, n, 0, len(a), *call, a, b)
    assert np.array_equal(untouched.watched, st.watched)


def test_two_pass_tie_cutting_equals_one_serial_pass():
    """Draw-then-apply must cut exactly the ties a serial draw-and-cut pass cuts, including
    ties between two listed sources (drawn from both ends, cut once)."""
    from scoresim.network import active_flags, from_pairs, pack_active, reverse_entry, row_room
    from scoresim.response import _apply_cuts, _draw_cuts
    from scoresim.rng import uniform
    from scoresim.tally import INCOME_BINS, ISOLATED, TALLIED, TIES, Counts

    rng = np.random.default_rng(3)
    n = 400
    a, b = rng.integers(0, n, 3000), rng.integers(0, n, 3000)
    g = from_pairs(n, a, b, rng.integers(0, 4, 3000).astype(np.uint8))
    sources = np.sort(rng.choice(n, 120, replace=False)).astype(np.int32)  # many adjacent
    rate = np.array([0.3, 0.5, 0.7, 0.9, 0.0])
    weight = rng.random(n).astype(np.float32)
    key = np.uint64(12345)
    start = (rng.random(g.entries) < 0.9).astype(np.uint8)
    nbr_, layer_ = g.nbr, g.layer  # decoded once (each access decodes the whole array)
    t = g.ties
    row = np.empty(row_room(t), t.adj.dtype)
    for e in range(g.entries):  # a consistent mask: both directions alike
        r = reverse_entry(t, np.searchsorted(g.indptr, e, "right") - 1, e, row)
        start[r] = start[e]
    is_source = np.zeros(n, bool)
    is_source[sources] = True
    for i in np.flatnonzero(~is_source)[:80]:  # some keep only ties to sources: may lose all
        for e in range(g.indptr[i], g.indptr[i + 1]):
            if not is_source[nbr_[e]]:
                start[e] = start[reverse_entry(t, i, e, row)] = 0

    # the oracle: one serial pass, drawing and cutting as it goes
    want = start.copy()
    for j in sources:
        for e in range(g.indptr[j], g.indptr[j + 1]):
            if not want[e]:
                continue
            p = rate[layer_[e]] * weight[nbr_[e]]
            if p > 0 and uniform(key, e) < p:
                want[e] = 0
                want[reverse_entry(t, j, e, row)] = 0

    got = pack_active(start)
    cuts = np.zeros(5, np.int64)
    z = np.zeros(n)
    src, ent = _draw_cuts(sources, t, got, rate, weight, key)
    cell = (np.arange(n) % 5).astype(np.int16)  # the kept counts (tally.py), by a cell
    kept = np.zeros((1, 5, len(TALLIED)), np.int64)
    income = np.zeros((1, 5, INCOME_BINS), np.int64)
    _apply_cuts(
        src, ent, t, got, np.zeros(n, np.float32), np.zeros(n, np.float32),
        np.zeros(n, bool), np.ones(5), False, z, z.copy(), np.zeros(n, np.int32), cuts,
        Counts(cell, kept, income),
    )  # fmt: skip
    assert np.array_equal(active_flags(got, g.entries), want.astype(bool))
    assert cuts.sum() == (start.sum() - want.sum()) // 2 > 50
    # each end's loss, and whoever has no tie left, in its cell
    rows = np.repeat(np.arange(n), np.diff(g.indptr.astype(np.int64)))
    deg0 = np.bincount(rows, start.astype(int), n)
    deg1 = np.bincount(rows, want.astype(int), n)
    np.testing.assert_array_equal(kept[0, :, TIES], np.bincount(cell, deg1 - deg0, 5))
    lost_all = (deg0 > 0) & (deg1 == 0)
    assert lost_all.any()
    np.testing.assert_array_equal(kept[0, :, ISOLATED], np.bincount(cell, lost_all, 5))
    assert not income.any()  # a cut moves nobody's income


def test_firm_events_grow_a_full_buffer_and_match():
    """The firms' kernel changes no state: a buffer too small is grown and the step redrawn,
    giving what an ample buffer gives."""
    sim = scoresim.Sim("article", n=40_000, years=0.2, seed=5, twin=False).build()
    firms, b = sim.society.firms, sim.scenario.behaviour
    ample, tiny = behaviour.Events(10 * firms.n), behaviour.Events(8)
    pressed = np.random.default_rng(2).random(firms.n) < 0.3  # some pressed to comply
    for events in (ample, tiny):
        behaviour.run_firms(5, 9, b, sim.scenario.step_years, firms, pressed, 0.5, events)
    want, got = ample.view(), tiny.view()
    assert len(want[0]) > 8
    assert np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1])


@pytest.mark.parametrize("implicit", [False, True])
@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_own_point_scatter_equals_one_serial_pass(parts, implicit):
    """Each thread walks only its receivers' stretch of each sorted row: every receiver must
    still get its additions in the serial order (bitwise the same float64 sums), over the
    graph stored whole and over one holding ties implicitly (where a thread reads only the
    stored entries of a row whose implicit ties all lie outside its receivers)."""
    from scoresim.network import pack_active
    from scoresim.scoring import _propagate_own
    from scoresim.sim import build_society

    sim = scoresim.Sim("article", n=3000, years=0.1, seed=2, twin=False)
    g = build_society(sim.scenario, implicit).graph
    assert (g.xptr is not None) == implicit
    rng = np.random.default_rng(parts)
    active = (rng.random(g.entries) < 0.8).astype(np.uint8)
    changed = np.sort(rng.choice(g.n, 700, replace=False)).astype(np.int32)
    d_own = np.zeros(g.n)
    d_own[changed] = rng.normal(size=len(changed)) * 10.0 ** rng.integers(-6, 6, len(changed))
    d_own[changed[::50]] = 0.0  # unchanged after all: skipped
    weights = np.array([1.0, 0.3, 0.7, 0.11, 1.0])
    start = rng.normal(size=g.n)
    want = start.copy()
    nbr, layer = g.nbr, g.layer
    for j in changed:  # the oracle: the serial pass, in pure Python
        if d_own[j] != 0.0:
            for e in range(g.indptr[j], g.indptr[j + 1]):
                if active[e]:
                    want[nbr[e]] += weights[layer[e]] * d_own[j]
    got = start.copy()
    compact = d_own[changed]  # (a change a changed agent, in their order)
    _propagate_own(changed, compact, g.ties, pack_active(active), weights, got, parts)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("score_range", [None, (950.0, 1060.0)])
def test_hypothetical_grades_equal_the_numpy_expressions(score_range):
    """The fused pass gives the grades of shown(base + own_true) and shown(base + own)."""
    from scoresim.scenario import Grade
    from scoresim.scoring import Ledger, grade_of

    rng = np.random.default_rng(4)
    n = 50_000
    grades = [Grade(name=f"g{k}", min=m) for k, m in enumerate([1050, 1000, 970.5, 900, 0])]
    graph = scoresim.network.from_parts(n, [])
    led = Ledger(n, 1000.0, grades, graph, np.zeros(5), 0.0, 0.0, 0, {}, score_range)
    led.own_true[:] = rng.normal(0, 150, n).astype(np.float32)
    led.own_false[:] = rng.normal(0, 80, n).astype(np.float32)
    led.own_true[::7] = np.float32(-29.5)  # exactly on a band's minimum: 970.5
    led.own_false[::11] = np.float32(0.0)
    mins = led.grade_mins
    g_true, g_own = led.hypothetical_grades()
    np.testing.assert_array_equal(g_true, grade_of(led.shown(led.base + led.own_true), mins))
    np.testing.assert_array_equal(
        g_own, grade_of(led.shown(led.base + led.own_true + led.own_false), mins)
    )
    assert len(np.unique(g_own)) >= 4  # the data span the bands (clamped or not)


def test_a_full_event_buffer_widens_and_changes_nothing():
    """A step whose events do not fit is redone chunk by chunk and the buffer gains a slot a
    person for the steps after: the same outputs as with room to spare from the start."""
    runs = []
    for room in (0, 4):  # none at all; more than any step needs
        sim = scoresim.Sim("article", n=3000, years=0.2, seed=4, twin=False).build()
        w = sim.worlds[0]
        w.events = behaviour.Events(room * 3000 + 1024)
        sizes = []
        for t in range(sim.scenario.run.steps):
            w.step(t)
            sizes.append(len(w.events.agent))
        runs.append((w.recorder.cells.copy(), sizes))
    (narrow, grown), (wide, kept) = runs
    assert np.array_equal(narrow, wide)
    assert grown[0] == 3000 + 1024 and grown[-1] == grown[0]  # one slot was enough after
    assert kept[0] == kept[-1] == 4 * 3000 + 1024


@pytest.mark.parametrize("clamped", [True, False])
def test_grades_formed_in_place_equal_the_grades_of_the_shown_score(clamped):
    """Ledger.regrade (one pass, in place) gives grade_of(shown()): scores past either end of
    the range, on a band's minimum and a float32 step either side of it."""
    from scoresim.scoring import Ledger, grade_of

    sim = scoresim.Sim("sesame", n=2000, years=0.1, twin=False).build()
    led: Ledger = sim.worlds[0].ledger
    if not clamped:
        led.range = None
    # bands past the range's ends too, where clamping moves a score's grade
    led.grade_mins = np.array([960.0, 700.0, 600.0, 355.5, 340.0])
    rng = np.random.default_rng(3)
    mins = led.grade_mins.astype(np.float32)
    edges = np.concatenate([mins, np.nextafter(mins, -np.inf), np.nextafter(mins, np.inf)])
    picks = np.concatenate([edges, [200.0, 349.9, 350.0, 950.0, 990.0]]).astype(np.float32)
    led.score[:] = np.where(rng.random(led.n) < 0.5, rng.choice(picks, led.n),
                            rng.uniform(250, 1050, led.n)).astype(np.float32)  # fmt: skip
    want = grade_of(led.shown(), led.grade_mins)
    led.grade[:] = 255
    led.regrade()
    assert np.array_equal(led.grade, want)
    assert len(np.unique(want)) == len(led.grade_mins) - clamped  # none above 950 if clamped


def test_sums_of_layer_weights_are_kept_in_float32_only_where_exact():
    """weight_sum_type: float32 for weights that are multiples of a power of two small enough
    that no row's sum can round (the same numbers as float64), float64 otherwise."""
    from scoresim.scoring import weight_sum_type

    article = np.array([1.0, 0.5, 0.5, 0.25, 0.0])
    assert weight_sum_type(article, 600_000) is np.float32
    assert weight_sum_type(article, 2**22) is np.float64  # a sum of 2^22 in quarters rounds
    assert weight_sum_type(np.array([1.0, 0.3, 0, 0, 0]), 10) is np.float64
    assert weight_sum_type(np.array([0, 0, 0, 0, 1.0]), 1000) is np.float32
    # exact: every partial sum in float32 equals float64's, for a long row in any order
    rng = np.random.default_rng(1)
    w = rng.choice(article, 600_000)
    assert np.cumsum(w.astype(np.float32), dtype=np.float32)[-1] == w.sum()


@pytest.mark.parametrize("alone", [False, True])  # clocks that draw on their own, or none
@pytest.mark.parametrize("room", [3.0, 0.05])  # ample, and far too small for most chunks
def test_two_worlds_in_one_pass_equal_each_alone(room, alone):
    """Two worlds with the same clocks stepped in one pass (the ticks drawn once) give each
    world exactly what its own pass gives: the same events in the same order, the same state
    and the same count of violations with no system — however full the buffers, with tick
    ceilings skipping persons, and with clocks that draw on their own (a VPN decision and a
    purchase above one tick a step)."""
    n = 3 * CHUNK + 501
    args, st = _behaviour_args(n)
    p, rp = args[2].copy(), args[3].copy()
    if alone:
        rp[behaviour.RP_VPN], rp[behaviour.RP_DECIDE] = 1.0, 0.9  # a hazard of 2.3 a step
        p[behaviour.P_FAVOURED] = 1.5
    traits = args[7]._replace(ceiling=behaviour.tick_ceilings(p, rp, args[7]))
    args = (*args[:2], p, rp, *args[4:7], traits, *args[8:])
    skipped = traits.ceiling < behaviour.ALWAYS
    assert skipped.mean() < 0.01 if alone else skipped.mean() > 0.5
    since = np.random.default_rng(5).integers(0, 2 * args[0], n).astype(np.int16)
    run = (*args[:-1], args[-1]._replace(since=since))  # watched, pressed, listed, restricted
    twin_state = st.copy()
    twin_state.watched[:] = 0.0  # nobody watched, pressed or restricted: the twin
    twin_state.pressured[:] = False
    quiet = [np.zeros(n, bool) for _ in range(5)]
    twin = (*args[:5], 0.0, 0.0, args[7], args[8], behaviour.Blocks.of_flags(*quiet))
    wants = [_serial(run, st), _serial(twin, twin_state)]
    states = [st.copy(), twin_state.copy()]
    events = [behaviour.Events(int(room * n)) for _ in range(2)]
    sides = [
        behaviour.Side(*w[2:-2], changing(s), w[-1], ev.agent, ev.act)
        for w, s, ev in zip((run, twin), states, events)
    ]
    assert behaviour.same_clocks(*sides)
    got = behaviour._persons_kernel(args[0], args[1], *sides)
    assert wants[0][3] > 0 and wants[1][3] == 0
    assert min(len(wants[0][0]), len(wants[1][0])) > n // 10
    differ = len(wants[0][0]) != len(wants[1][0]) or (wants[0][1] != wants[1][1]).any()
    assert differ  # the regime changed what the run's persons did
    for (agent, act, free), ev, (want_agent, want_act, want_state, want_free), state in zip(
        got, events, wants, states
    ):
        ev.take(agent, act)
        agent, act = ev.view()
        assert free == want_free
        assert np.array_equal(agent, want_agent) and np.array_equal(act, want_act)
        for name in STATE:
            assert np.array_equal(getattr(state, name), getattr(want_state, name)), name


def test_same_clocks_reads_every_parameter_the_bounds_read():
    """Two worlds share their ticks only if what the clocks' bounds read is the same: a
    parameter outside BOUND_P/BOUND_RP moves no tick ceiling (so no bound), one inside
    makes the worlds' clocks differ, and so do traits that are other arrays."""
    n = 4000
    args, st = _behaviour_args(n)
    p, rp, traits = args[2], args[3].copy(), args[7]
    rp[behaviour.RP_VPN], rp[behaviour.RP_TRAVEL] = 1.0, 1.0  # every bound in play
    base = behaviour.tick_ceilings(p, rp, traits)
    for i in range(len(p)):
        if i not in behaviour.BOUND_P:
            q = p.copy()
            q[i] = q[i] * 1.7 + 0.01
            assert np.array_equal(behaviour.tick_ceilings(q, rp, traits), base), i
    for i in range(len(rp)):
        if i not in behaviour.BOUND_RP:
            r = rp.copy()
            r[i] = r[i] * 1.7 + 0.01
            assert np.array_equal(behaviour.tick_ceilings(p, r, traits), base), i
    side = behaviour.Side(p, rp, *args[4:7], traits._replace(ceiling=base), changing(st), args[9],
                          np.empty(1, np.int32), np.empty(1, np.uint8))  # fmt: skip
    assert behaviour.same_clocks(side, side._replace(chill_max=0.0, deter_max=0.0))
    q = p.copy()
    q[behaviour.P_TRAFFIC] *= 2.0
    assert not behaviour.same_clocks(side, side._replace(p=q))
    r = rp.copy()
    r[behaviour.RP_DECIDE] *= 2.0
    assert not behaviour.same_clocks(side, side._replace(rp=r))
    for name in behaviour._BOUND_TRAITS:  # the same values in other arrays: not trusted
        other = side.tr._replace(**{name: getattr(side.tr, name).copy()})
        assert not behaviour.same_clocks(side, side._replace(tr=other)), name
    rng = np.random.default_rng(3)
    for name in set(traits._fields) - set(behaviour._BOUND_TRAITS):  # the others move no bound
        column = getattr(traits, name)
        if len(column):
            shuffled = traits._replace(**{name: rng.permutation(column)})
            assert np.array_equal(behaviour.tick_ceilings(p, rp, shuffled), base), name


@pytest.mark.parametrize("preset", ["article", "eu-safeguards", "repeal"])
def test_a_run_steps_its_twins_persons_with_its_own_as_each_alone(preset, monkeypatch):
    """Sim.run steps the persons of the run and its twin in one pass (sim.behave): every
    recorded number of both worlds is what stepping each world alone gives."""
    from scoresim import sim as sim_module

    run_persons = behaviour.run_persons

    def worlds(fused: bool):
        calls = []
        if fused:  # count the passes that step both worlds

            def spy(t, keys, sides, events):
                calls.extend([t] if len(sides) == 2 else [])
                return run_persons(t, keys, sides, events)

            monkeypatch.setattr(behaviour, "run_persons", spy)
        else:
            monkeypatch.setattr(sim_module, "behave", lambda worlds, t: calls.append(t))
        sim = scoresim.Sim(preset, n=3000, years=0.5, seed=4)
        sim.run()
        monkeypatch.undo()
        return sim.worlds, calls

    fused, shared = worlds(True)
    alone, calls = worlds(False)
    steps = list(range(fused[0].sc.run.steps))
    assert shared == steps  # every step's persons in one pass (after a change too)
    assert calls == steps  # (and none in the run without it)
    assert all(w.behaved is None for w in fused)
    for a, b in zip(fused, alone):
        assert np.array_equal(a.recorder.cells, b.recorder.cells)
        assert np.array_equal(a.recorder.totals, b.recorder.totals, equal_nan=True)
        assert np.array_equal(a.ledger.score, b.ledger.score)
        assert np.array_equal(a.state.debt, b.state.debt)


def test_a_loop_helper_that_would_miscount_an_array_does_not_compile():
    """A helper is compiled without reference counting (jit.helper): one that hands an array
    back (nothing would count the caller's reference), allocates one, or calls a plain njit
    (which would then compile without counting for every caller) must fail to compile."""

    @jit.helper
    def first(a, i):
        return a[i]

    @jit.helper
    def rest(a, i):
        return a[i:], i

    @jit.helper
    def total(n):
        return np.zeros(n).sum()

    @njit
    def plain(a, i):
        return a[i]

    @jit.helper
    def through_plain(a, i):
        return plain(a, i)

    assert first(np.arange(3), 1) == 1
    with pytest.raises(TypeError, match="rest returns .*may not return an array"):
        rest(np.arange(3), 1)
    with pytest.raises(TypingError, match="zeros"):  # numba allocates only with counting
        total(3)
    with pytest.raises(TypeError, match="through_plain calls .*plain, a plain njit"):
        through_plain(np.arange(3), 1)


@pytest.mark.parametrize("n, groups", [(0, 3), (1, 1), (500, 4), (5000, 60)])
def test_grouping_by_key_equals_a_stable_sort(n, groups):
    """sources.grouped (a counting sort) gives np.argsort's stable order and each group's
    start, on keys of the widths the engine groups (acts in uint8, delays in uint16), some
    groups empty."""
    from scoresim.sources import grouped

    rng = np.random.default_rng(n)
    for dtype in (np.uint8, np.uint16):
        keys = rng.integers(0, max(1, groups - 1), n).astype(dtype)  # (the last group empty)
        order, bounds = grouped(keys, groups)
        want = np.argsort(keys, kind="stable")
        assert order.tolist() == want.tolist()
        starts = np.searchsorted(keys[want], np.arange(groups + 1), side="left")
        assert bounds.tolist() == starts.tolist()


def test_grades_are_the_first_band_a_score_reaches():
    """grade_of (a count of the bands' minimums a score falls below) gives what walking down
    the bands gives: the first band whose minimum the score reaches (a score equal to a
    minimum is in that band), below every band the worst; bands with equal minimums too."""
    from scoresim.scoring import grade_of

    rng = np.random.default_rng(11)
    for mins in ([1050.0, 1000.0, 950.0, 0.0], [700.0, 700.0, 500.0], [10.0], [5.0, -5.0]):
        m = np.array(mins)
        score = np.concatenate(
            [rng.uniform(m.min() - 100, m.max() + 100, 2000), m, m - 1e-3, m + 1e-3]
        ).astype(np.float32)

        want = [_first_band_reached(float(x), mins) for x in score]
        assert grade_of(score, m).tolist() == want


def _first_band_reached(x: float, mins: list[float]) -> int:
    for g, low in enumerate(mins):
        if x >= low:
            return g
    return len(mins) - 1
