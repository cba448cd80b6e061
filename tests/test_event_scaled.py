"""Event-scaled behaviour (issue 18, part 1): one draw a person a step decides whether any of
their clocks ticks, further draws only for the ticks (which act: competing risks; kept or not:
thinning). It must make the same acts at the same rates, with the same dependence on traits
and state, as the per-act draws it replaced (the oracle in per_act_behaviour.py), and keep the
twin's common random numbers: an act differs between a watched and an unwatched world only
where being watched cut it."""

from __future__ import annotations

import numpy as np
import pytest
from per_act_behaviour import persons_range as per_act_range
from test_kernels import _behaviour_args, changing

from scoresim import acts as A
from scoresim import behaviour
from scoresim.behaviour import (
    DEFAULT,
    JUDGMENT,
    LOAN,
    NONE,
    SUED,
    UNPAID_REFUSES,
    UNPAID_UNABLE,
)
from scoresim.population import INTERNET, trait_values
from scoresim.sanctions import CREDIT, FLIGHTS

N, STEPS = 50_000, 120
N_DEBT = 7
# columns past the acts: debt transitions (from, to), a VPN switched on or off, knowledge gained
TRANSITIONS = [(a, b) for a in range(N_DEBT) for b in range(N_DEBT) if a != b]
COLS = A.N_ACTS + len(TRANSITIONS) + 3


def _world(n: int):
    """The kernel's arguments on a state with every debt state, feeling watched, pressed,
    restricted, credit-blocked, VPN users: every branch of the kernel in play."""
    args, st = _behaviour_args(n)
    rng = np.random.default_rng(7)
    st.debt[:] = rng.choice(
        [NONE, LOAN, DEFAULT, SUED, JUDGMENT, UNPAID_UNABLE, UNPAID_REFUSES],
        n,
        p=[0.4, 0.3, 0.06, 0.06, 0.06, 0.06, 0.06],
    ).astype(np.uint8)
    st.debt_timer[:] = rng.integers(1, 3, n)
    st.misses[:] = np.where(st.debt == LOAN, rng.integers(0, 2, n), 0)
    st.employed[:] = rng.random(n) < 0.85
    tr = args[7]
    st.vpn[:] = ((tr.facts & INTERNET) != 0) & (rng.random(n) < 0.3)
    bl = args[9]
    # loans refused with chance 0.5 or 1: two credit sanctions (bits 3 and 4), one or none each
    credit = np.where(rng.random(n) < 0.2, rng.choice([1, 2], n), 0).astype(np.uint16)
    bits = (bl.sanctions & ~np.uint16(0b11000)) | (credit << 3)
    effects, strength = bl.effects.copy(), bl.strength.copy()
    effects[CREDIT], strength[3], strength[4] = 0b11000, 1.0, 0.5
    return (*args[:8], args[8], bl._replace(sanctions=bits, effects=effects, strength=strength)), st


def _one_world(lo, hi, k, limit, t, keys, *side):
    """The kernel's pass over one world that draws its own ticks, from the arguments of the
    per-act kernel (a Side's fields after ``keys``): the next slot and the count of
    violations with no system."""
    return behaviour._persons_range(
        lo, hi, k, limit, t, keys, behaviour.Side(*side), behaviour._no_ticks(), False
    )


def _new_range(*args):
    """The kernel's events only (not its count of violations with no system)."""
    return _one_world(*args)[0]


def _tally(range_kernel, args, st, keys_of, steps: int = STEPS):
    """Per person, over ``steps`` steps each from the same start state: sums and sums of squares
    of each act's count in a step (and of the state changes), so that every total and every
    trait-weighted total has its sampling variance."""
    n = len(st.debt)
    total = np.zeros((n, COLS))
    square = np.zeros((n, COLS))
    agent_buf, act_buf = np.empty(40 * n, np.int32), np.empty(40 * n, np.uint8)
    pair = np.full((N_DEBT, N_DEBT), -1, np.int64)
    for c, (a, b) in enumerate(TRANSITIONS):
        pair[a, b] = A.N_ACTS + c
    rows = np.arange(n)
    for t in range(steps):
        state = st.copy()
        call = (t, keys_of(t), *args[2:8], changing(state), args[9])
        k = range_kernel(0, n, 0, len(agent_buf), *call, agent_buf, act_buf)
        counts = np.bincount(
            agent_buf[:k].astype(np.int64) * COLS + act_buf[:k], minlength=n * COLS
        ).reshape(n, COLS)
        moved = pair[st.debt, state.debt]
        counts[rows[moved >= 0], moved[moved >= 0]] += 1
        counts[:, COLS - 3] = state.vpn & ~st.vpn
        counts[:, COLS - 2] = ~state.vpn & st.vpn
        counts[:, COLS - 1] = state.knows & ~st.knows != 0
        total += counts
        square += counts.astype(np.float64) ** 2
    return total, square


@pytest.fixture(scope="module")
def tallies():
    args, st = _world(N)
    seed = 11

    def keys_of(t):
        return behaviour.step_keys(seed, t)

    return (
        _tally(per_act_range, args, st, keys_of),
        _tally(_new_range, args, st, keys_of),
        args,
        st,
    )


def _covariates(args, st) -> dict[str, np.ndarray]:
    tr, bl = args[7], args[9]
    out = {
        "law": trait_values(tr.law),
        "fragility": trait_values(tr.fragility),
        "expressiveness": trait_values(tr.expressiveness),
        "civic": trait_values(tr.civic),
        "travel_weight": behaviour.weights_of(tr)["travel"],
        "internet": (tr.facts & INTERNET) != 0,
        "watched": st.watched,
        "pressured": st.pressured,
        "employed": st.employed,
        "vpn": st.vpn,
        "credit_block": bl.credit(),
        "flight_block": bl.restricted(FLIGHTS),
        "listed": bl.listed,
        "knows": st.knows,
    }
    for s in range(N_DEBT):
        out[f"debt={s}"] = st.debt == s
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def _name(col: int) -> str:
    if col < A.N_ACTS:
        return A.ACTS[col].name
    if col < A.N_ACTS + len(TRANSITIONS):
        a, b = TRANSITIONS[col - A.N_ACTS]
        return f"debt {a}->{b}"
    return ("vpn on", "vpn off", "learns")[col - A.N_ACTS - len(TRANSITIONS)]


Z = 5.0  # ~500 comparisons: a false alarm at 5 sd has a chance of about 3 in 10,000


def _differences(old, new) -> tuple[dict, list[int]]:
    """The columns whose totals differ by more than Z sd, or happen under one scheme only;
    and the columns that happen at all."""
    (a_sum, a_sq), (b_sum, b_sq) = old, new
    a, b = a_sum.sum(0), b_sum.sum(0)
    sd = np.sqrt(a_sq.sum(0) + b_sq.sum(0))
    happened = [c for c in range(COLS) if a[c] + b[c] > 0]
    bad = {
        _name(c): (int(a[c]), int(b[c]))
        for c in happened
        if abs(b[c] - a[c]) > Z * sd[c] or (a[c] == 0) != (b[c] == 0)
    }
    return bad, happened


def test_every_act_happens_at_the_per_act_rate(tallies):
    """Each act's (and each state change's) total over 6 M person-steps matches the per-act
    draws' within sampling error, and no act happens under one scheme only."""
    old, new, _, _ = tallies
    bad, happened = _differences(old, new)
    assert len(happened) > 45  # the acts of persons (not firms', not lenders') and the moves
    assert not bad, bad


def test_acts_depend_on_traits_and_state_as_before(tallies):
    """For every act and every trait or state (centred), the trait-weighted totals agree:
    the same covariance of each act with who the person is and what state they are in."""
    (old, old_sq), (new, new_sq), args, st = tallies
    bad = {}
    tested = 0
    for name, x in _covariates(args, st).items():
        x = x - x.mean()
        a, b = x @ old, x @ new
        sd = np.sqrt((x * x) @ (old_sq + new_sq))
        for c in np.nonzero(old.sum(0) + new.sum(0) >= 50)[0]:
            tested += 1
            if abs(b[c] - a[c]) > Z * sd[c]:
                bad[(_name(c), name)] = round(float((b[c] - a[c]) / sd[c]), 1)
    assert tested > 500
    assert not bad, bad


def test_fast_clocks_draw_on_their_own_and_crowd_out_nothing():
    """A near-certain clock (the reference preset's loan uptake of 10,000 a year), an act far
    above its cap of 8 a step (posts at 40 a step) and travel without the responses: every
    act still at the per-act draws' rate — no clock starves the others of ticks."""
    args, st = _world(8_000)
    p, rp = args[2].copy(), args[3].copy()
    p[behaviour.P_LOAN] = 1.0  # a step probability of 1: a hazard of 50 a step
    p[behaviour.P_POST] = 40.0 * 3  # x expressiveness^2: several persons above the cap of 8
    p[behaviour.P_FAVOURED] = 2.5  # above one a step: its own draw, below the cap
    rp[behaviour.RP_TRAVEL] = 0.0  # flights and rail by travel weight, no learning
    args = (*args[:2], p, rp, *args[4:])
    old = _tally(per_act_range, args, st, lambda t: behaviour.step_keys(3, t), steps=30)
    new = _tally(_new_range, args, st, lambda t: behaviour.step_keys(3, t), steps=30)
    bad, happened = _differences(old, new)
    assert A.CRITICAL_POST in happened and A.LOAN_REFUSED in happened
    assert new[0][:, A.CRITICAL_POST].max() >= 8 * 30 * 0.9  # capped posters post 8 a step
    assert not bad, bad


def _events_by_person(args, st, watched: float | None, free: list | None = None):
    """Each person's count of each act in one step from ``st`` (every person feeling
    ``watched``); the kernel's count of violations with no system appended to ``free``."""
    state = st.copy()
    if watched is not None:
        state.watched[:] = watched
    n = len(st.debt)
    a, b = np.empty(40 * n, np.int32), np.empty(40 * n, np.uint8)
    k, none = _one_world(0, n, 0, len(a), *args[:8], changing(state), args[9], a, b)
    if free is not None:
        free.append(none)
    return np.bincount(a[:k].astype(np.int64) * A.N_ACTS + b[:k], minlength=n * A.N_ACTS).reshape(
        n, A.N_ACTS
    )


def test_the_twin_draws_the_same_ticks():
    """Unwatched (the twin) and watched (the run) worlds on the same state and numbers: every
    act being watched does not touch is the same person by person, and the chilled and
    deterred acts of the watched world are a subset of the unwatched world's."""
    args, st = _world(20_000)
    st.pressured[:] = False
    twin = _events_by_person(args, st, 0.0)
    run = _events_by_person(args, st, 0.9)
    cut = [A.ACT_ID[a] for a in (*A.VIOLATIONS, *A.CHILLED)]
    cut += [A.ARREARS_FOUND, A.BREACH_JUDGMENT]  # follow a violation
    same = [c for c in range(A.N_ACTS) if c not in cut and c != A.VPN_USE]
    assert twin[:, cut].sum() > run[:, cut].sum() * 1.1  # being watched cut something
    assert np.all(run[:, cut] <= twin[:, cut])
    assert twin[:, same].sum() > 1000
    assert np.array_equal(run[:, same], twin[:, same])


def test_violations_with_no_system_are_the_unwatched_worlds():
    """The count of violations with no system the kernel makes for the pressed (those with
    ``since`` before t) is exactly what the same persons emit when nobody is watched or
    pressed — counted in a world where they are watched and pressed, whose own violations are
    fewer."""
    args, st = _world(80_000)
    pressed, unpressed = st.copy(), st.copy()
    unpressed.pressured[:] = False
    twin = _events_by_person(args, unpressed, 0.0)
    n, t = len(st.debt), args[0]
    never = np.iinfo(np.int16).max  # policing.first's "not yet", in the runs' step integer
    since = np.where(np.arange(n) % 3 == 0, t - 5, np.where(np.arange(n) % 3 == 1, t, never))
    bl = args[9]._replace(since=since.astype(np.int16))
    pressed.pressured[:] = np.arange(n) % 3 == 0
    free: list[int] = []
    run = _events_by_person((*args[:9], bl), pressed, 0.9, free)
    mine = since < t
    violations = [A.ACT_ID[a] for a in A.VIOLATIONS]
    want = int(twin[mine][:, violations].sum())
    assert want > 100
    assert free[0] == want
    assert run[mine][:, violations].sum() < 0.5 * want  # the run's own were deterred
    _events_by_person(args, pressed, 0.9, free)  # no ``since``: nobody counted
    assert free[1] == 0
