"""What agents do each step, and how they adapt to being watched (docs/model.md §7.1).

One fused numba pass over persons decides every act and emits only the acts that happen (an
event list of (agent, act)), so the cost of what follows — sources, scoring — follows the
number of events. The pass is event-scaled (docs/architecture.md, §1 Behaviour): each
recurring act, taking a loan and reconsidering VPN use is a clock that ticks at its bound
(its rate with no system, from traits and the scenario only); one uniform a person a step
gives the number of ticks, and each tick one more uniform for its clock (competing risks)
and whether the regime keeps it (thinning by deterrence, chilling, pressure). So a person to
whom nothing happens costs one draw, and the twin, whose bounds are the same, draws the same
ticks (a run draws them once for both: ``_draw_ticks``, ``same_clocks``): an act differs
between run and twin only where the regime cut it or changed a state (debt, job). A clock
that ticks more than once a step on average draws on its own; debts,
restrictions, evaluations and what follows an act keep their own streams.

Rates in the scenario are per year. A state change (taking a loan, missing a payment,
paying a debt) happens at most once a step, with probability 1 - exp(-rate * dt). An act that
can recur (a post, a purchase, a trip, an offence) happens a Poisson(rate * dt) number of
times a step (at most MAX_REPEAT): so a weekly and a monthly run of the same scenario make
the same number of acts a year.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from . import acts as A
from .jit import helper
from .population import (
    INTERNET,
    LEARNER,
    REPRESENTATIVE,
    SELF_EMPLOYED,
    has_flag,
    trait,
    trait_values,
)
from .rng import Stream, stream_key, uniform
from .sanctions import (
    CREDIT,
    FLIGHTS,
    LUXURY,
    MAX_SANCTIONS,
    N_EFFECTS,
    RAIL,
    credit_block,
)
from .scenario import Behaviour
from .sources import seen_now

# debt states (docs/model.md §7.1.2)
NONE, LOAN, DEFAULT, SUED, JUDGMENT, UNPAID_UNABLE, UNPAID_REFUSES = range(7)


class Traits(NamedTuple):
    """What the persons' kernel reads of each person and never changes, and the constants
    its travel weights follow from (one bundle: numba takes a named tuple of arrays as one
    argument)."""

    facts: np.ndarray  # uint8: Persons.facts (online: population.INTERNET)
    expressiveness: np.ndarray  # the traits: uint8 levels (population.trait)
    law: np.ndarray
    fragility: np.ndarray
    civic: np.ndarray
    income: np.ndarray  # base income (float32): travel follows it (``travel_weight``)
    flags: np.ndarray  # uint8: Society.flags (representative and self-employed: ``mode_weight``;
    #                    learner: learns of a travel restriction from a notice or a refusal)
    travel: np.ndarray  # the travel weights' constants (``travel_terms``)
    open_coverage: np.ndarray  # what the world's sources see of the person without a VPN
    vpn_hidden: np.ndarray  # what a VPN hides from them
    risk_aversion: np.ndarray = np.empty(0, np.uint8)  # (read only when adapting: Blocks)
    ceiling: np.ndarray = np.empty(0, np.uint16)  # (``tick_ceilings``; empty: none)


class Changing(NamedTuple):
    """The state the persons' kernel changes (PersonState's columns, and the watched level
    it reads), by name."""

    debt: np.ndarray
    timer: np.ndarray
    misses: np.ndarray
    employed: np.ndarray
    watched: np.ndarray
    knows: np.ndarray
    vpn: np.ndarray
    pressured: np.ndarray


class Blocks(NamedTuple):
    """What the regime does to each person this step, as the persons' kernel reads it; and
    ``since``, the step each was first pressed by contacts (policing.py; empty: no policing),
    for whom the kernel also counts the violations they would make with no system. What each
    person sees of the regime — ``contacts`` listed, their own sanction ``status``, whether
    a pilot reaches them (``inside``; empty: everyone) — makes how watched they feel, set
    by the kernel as each person's step begins (empty ``contacts``: ``watched`` as given).
    Whether a person may fly, take high-speed rail, spend on luxury or borrow follows from
    the sanctions they have (sanctions.Sanctioned's columns: their bits, and what each bit
    does; flat, as a parallel loop takes a bundle)."""

    sanctions: np.ndarray
    effects: np.ndarray
    strength: np.ndarray
    listed: np.ndarray
    since: np.ndarray = np.empty(0, np.int16)  # (sim.step_type: one type, one compile)
    contacts: np.ndarray = np.empty(0, np.int32)
    status: np.ndarray = np.empty(0, np.uint8)
    inside: np.ndarray = np.empty(0, np.bool_)

    @classmethod
    def of_flags(cls, flight, rail, credit, luxury, listed, **rest) -> Blocks:
        """From a bool column a restriction (tests): each a sanction of its own, a loan
        refused for certain under ``credit``."""
        bits = flight.astype(np.uint16) | (rail.astype(np.uint16) << 1)
        bits |= (luxury.astype(np.uint16) << 2) | (credit.astype(np.uint16) << 3)
        effects = np.zeros(N_EFFECTS, np.uint16)
        strength = np.zeros(MAX_SANCTIONS)
        for bit, effect in enumerate((FLIGHTS, RAIL, LUXURY, CREDIT)):
            effects[effect] = 1 << bit
        strength[3] = 1.0
        return cls(bits, effects, strength, listed, **rest)

    def restricted(self, effect: int) -> np.ndarray:
        """Who has a sanction of ``effect`` (sanctions.FLIGHTS, ...): a new bool array."""
        return (self.sanctions & self.effects[effect]) != 0

    def credit(self) -> np.ndarray:
        """Each person's chance that a loan application is refused (a new array)."""
        return np.array([credit_block(b, self.effects, self.strength) for b in self.sanctions])


@dataclass
class PersonState:
    """Dynamic per-person columns of one world (run or twin)."""

    debt: np.ndarray  # uint8 debt state
    debt_timer: np.ndarray  # int16 steps left in SUED/JUDGMENT
    misses: np.ndarray  # uint8 missed payments on the current loan
    employed: np.ndarray  # bool (income follows from it: sanctions.income_of, World.income)
    watched: np.ndarray  # float32 in [0, 1]: how watched the person feels
    knows: np.ndarray  # uint8 bits: knows of a restriction on flights (1), high-speed rail (2)
    vpn: np.ndarray  # bool: uses a VPN now (what the sources see follows: sources.Seen)
    pressured: np.ndarray  # bool: pressed to comply by contacts who share their penalties

    @classmethod
    def start(cls, n: int, employed: np.ndarray, vpn: np.ndarray) -> PersonState:
        return cls(
            debt=np.zeros(n, np.uint8),
            debt_timer=np.zeros(n, np.int16),
            misses=np.zeros(n, np.uint8),
            employed=employed.copy(),
            watched=np.zeros(n, np.float32),
            knows=np.zeros(n, np.uint8),
            vpn=vpn.copy(),
            pressured=np.zeros(n, bool),
        )

    def copy(self) -> PersonState:
        return PersonState(*(getattr(self, f.name).copy() for f in fields(self)))


def per_step(rate_per_year: float, dt_years: float) -> float:
    return float(1.0 - np.exp(-rate_per_year * dt_years))


MAX_REPEAT = 8  # most times one act recurs in one step (a truncation of the Poisson tail)


@helper
def _count_upto(u, lam, most):
    """How many times an act with expected count ``lam`` this step happens, from one uniform:
    the inverse of the Poisson tail, so it happens at least once iff u < 1 - exp(-lam), at
    least twice iff u < 1 - exp(-lam) (1 + lam), ... As 1 - exp(-lam) <= lam, nothing
    happens when u >= lam: the kernel tests that inline (the common case, one comparison)
    and calls this, out of line, only when u < lam (measured: inlining the whole count at
    every site doubled the person pass)."""
    if u >= lam:
        return 0
    q = np.exp(-lam)
    below = q
    k = 0
    while u < 1.0 - below and k < most:
        k += 1
        q *= lam / k
        below += q
    return k


@helper
def _count(u, lam):
    """``_count_upto`` at most MAX_REPEAT times."""
    return _count_upto(u, lam, MAX_REPEAT)


# state changes (at most one a step); every other rate is of an act that can recur
TRANSITIONS = (
    "loan_uptake",
    "loan_payoff",
    "missed_payment",
    "arrears_cure",
    "lawsuit",
    "unpaid_pay",
)
# indices into the parameter vector passed to the kernel
_P = [
    *TRANSITIONS,
    "traffic_offence",
    "late_utility",
    "littering",
    "major_offence",
    "critical_post",
    "disfavoured_purchase",
    "favoured_purchase",
    "volunteering",
    "blood_donation",
    "heroic_act",
    "flights",
    "high_speed_rail",
    "obstructs_enforcement",
    "evades_enforcement",
    "breaks_asset_reporting",
    "refuses_settlement",
    "luxury_purchase",
    "overdue_cycles",
    "commendation",
    *A.MISCONDUCT,
]
P = {k: i for i, k in enumerate(_P)}
# the kernel reads each rate by its name (module constants: numba folds them)
P_LOAN, P_PAYOFF, P_MISSED, P_CURE = (
    P["loan_uptake"],
    P["loan_payoff"],
    P["missed_payment"],
    P["arrears_cure"],
)
P_LAWSUIT, P_UNPAID_PAY = P["lawsuit"], P["unpaid_pay"]
P_TRAFFIC, P_LATE_UTILITY, P_LITTERING, P_MAJOR = (
    P["traffic_offence"],
    P["late_utility"],
    P["littering"],
    P["major_offence"],
)
P_POST, P_DISFAVOURED, P_FAVOURED = (
    P["critical_post"],
    P["disfavoured_purchase"],
    P["favoured_purchase"],
)
P_VOLUNTEERING, P_BLOOD, P_HEROIC = P["volunteering"], P["blood_donation"], P["heroic_act"]
_OVERDUE, _COMMEND, _MIS = P["overdue_cycles"], P["commendation"], P[A.MISCONDUCT[0]]
N_MIS = len(A.MISCONDUCT)
MIS_ACTS = np.array([A.ACT_ID[a] for a in A.MISCONDUCT], np.uint8)
_COURT, _LUXURY = P["obstructs_enforcement"], P["luxury_purchase"]
_FLIGHTS, _RAIL = P["flights"], P["high_speed_rail"]
# the court list's other grounds, in parameter order (their rates are adjacent in _P)
COURT_GROUNDS = np.array([A.OBSTRUCTS, A.EVADES, A.ASSET_REPORTING, A.SETTLEMENT], np.uint8)
N_P = len(_P) + 12
IX_MISSES, IX_JUDGMENT, IX_DEADLINE, IX_PAYS, IX_EVAL_EVERY, IX_POOR, IX_GOOD = range(
    len(_P), len(_P) + 7
)
IX_PRESSURE, IX_BREACH = len(_P) + 7, len(_P) + 8
IX_BREACH_SUED, IX_ARREARS_FOUND, IX_MIS_SUM = len(_P) + 9, len(_P) + 10, len(_P) + 11


def parameters(b: Behaviour, dt: float, pressure_pay: float) -> np.ndarray:
    """The kernel's parameter vector: yearly rates of state changes as step probabilities,
    of recurring acts as expected counts a step; plus counts."""
    out = np.zeros(N_P, np.float64)
    for k, i in P.items():
        rate = getattr(b, k)
        out[i] = per_step(rate, dt) if k in TRANSITIONS else rate * dt
    out[IX_MISSES] = b.misses_to_default
    out[IX_JUDGMENT] = max(1, round(b.judgment_days / 365.25 / dt))
    out[IX_DEADLINE] = max(1, round(b.deadline_days / 365.25 / dt))
    out[IX_PAYS] = b.pays_by_deadline
    out[IX_EVAL_EVERY] = (
        0 if b.evaluations_per_year == 0 else max(1, round(1.0 / (b.evaluations_per_year * dt)))
    )
    out[IX_POOR] = b.poor_evaluation
    out[IX_GOOD] = b.good_evaluation
    out[IX_PRESSURE] = per_step(pressure_pay, dt)
    out[IX_BREACH] = b.breaks_restriction
    out[IX_BREACH_SUED] = b.breach_sued
    out[IX_ARREARS_FOUND] = b.utility_arrears_found
    out[IX_MIS_SUM] = out[_MIS : _MIS + N_MIS].sum()
    return out


# the responses' parameter vector (docs/model.md §7.7); a switched-off mechanism's flag is 0
(
    RP_TRAVEL,
    RP_SUBSTITUTE,
    RP_NOTICE,
    RP_RETRY,
    RP_FORGET,
    RP_REFUSAL,
    RP_PAY,
    RP_PER_ACT,
    RP_POST_MASK,
    RP_SHOP_MASK,
    RP_VPN,
    RP_DECIDE,
    RP_VPN_C,
    RP_VPN_WATCHED,
    RP_VPN_EXPRESSIVE,
    RP_VPN_HIDING,
    RP_VPN_PENALTY,
    RP_VPN_USES,
    RP_VPN_MASK,
    RP_COMPLY,
    RP_PUBLICITY,
    RP_AWARENESS,
    RP_CONTACT_WEIGHT,
    RP_OWN_WEIGHT,
) = range(24)
N_RP = 24


def punishes(regime, act: str) -> bool:
    """Whether a regime punishes an act: a rule deducts points for it, or a list takes in
    whoever does it."""
    scored = regime.scoring.family != "none"
    return any(r.record == act and r.points < 0 and scored for r in regime.rules) or any(
        act in x.enter_on for x in regime.lists
    )


def response_parameters(sc, regime, dt: float, sources, vpn_intercept: float) -> np.ndarray:
    """The kernel's vector for the responses of ``sc.responses`` under one world's regime
    and ``sources`` (a SourceSet): flags, step probabilities and source masks. VPN use is an
    act (drawn, recordable) only under the VPN mechanism; its penalty deters only where the
    regime punishes it."""
    r = sc.responses
    out = np.zeros(N_RP, np.float64)
    tr = r.travel
    if tr.enabled:
        out[RP_TRAVEL] = 1.0
        out[RP_SUBSTITUTE] = tr.substitute
        out[RP_NOTICE] = per_step(tr.notice_rate, dt)
        out[RP_RETRY] = tr.retry
        out[RP_FORGET] = per_step(tr.forgets, dt)
    if r.refusal.enabled:
        out[RP_REFUSAL] = 1.0
        out[RP_PAY] = r.refusal.pay
    out[RP_POST_MASK] = sources.mask("critical_post")
    out[RP_SHOP_MASK] = sources.mask("disfavoured_purchase")
    out[RP_VPN_MASK] = sources.mask("vpn_use")
    out[RP_PER_ACT] = 1.0 if r.chilling.enabled else 0.0
    v = r.vpn
    if v.enabled:
        out[RP_VPN] = 1.0
        out[RP_DECIDE] = per_step(v.decisions, dt)
        out[RP_VPN_C] = vpn_intercept - v.cost
        out[RP_VPN_WATCHED] = v.watched
        out[RP_VPN_EXPRESSIVE] = v.expressive
        out[RP_VPN_HIDING] = v.hiding
        out[RP_VPN_PENALTY] = v.penalty if punishes(regime, "vpn_use") else 0.0
        out[RP_VPN_USES] = v.uses * dt if out[RP_VPN_MASK] else 0.0
    if r.policing.enabled:
        out[RP_COMPLY] = r.policing.comply
    a = regime.adaptation  # how watched a person feels (``_persons_range``)
    out[RP_PUBLICITY] = regime.publicity
    out[RP_AWARENESS] = a.awareness
    out[RP_CONTACT_WEIGHT] = a.contact_weight
    out[RP_OWN_WEIGHT] = a.own_weight
    return out


def vpn_intercept(v, persons) -> float:
    """The intercept c of VPN use, logistic(c + expressive x + hiding (1 - law)), at which
    the internet users' mean is the population's VPN share: with no system (nobody feels
    watched, no use recorded) VPN use stays where the population starts it."""
    users = persons.internet
    target = float(persons.vpn[users].mean()) if users.any() else 0.0
    if target <= 0.0 or target >= 1.0:
        return -30.0 if target <= 0.0 else 30.0
    x = v.expressive * trait_values(persons.expressiveness[users]).astype(np.float64)
    x += v.hiding * (1.0 - trait_values(persons.law_abidance[users]).astype(np.float64))
    c = float(np.log(target / (1.0 - target)) - x.mean())
    for _ in range(12):  # Newton's method: the mean rises with c, smoothly
        q = 1.0 / (1.0 + np.exp(-(c + x)))
        gap, slope = q.mean() - target, (q * (1.0 - q)).mean()
        if abs(gap) < 1e-12 or slope <= 0.0:
            break
        c = min(30.0, max(-30.0, c - gap / slope))
    return c


def step_keys(seed: int, step: int) -> np.ndarray:
    streams = (
        Stream.FINANCE,
        Stream.VIOLATION,
        Stream.SPEECH,
        Stream.SHOPPING,
        Stream.WORK,
        Stream.CIVIC,
        Stream.TRAVEL,
        Stream.COURT,
        Stream.LUXURY,
        Stream.MISCONDUCT,
        Stream.TRAVEL_CHOICE,
        Stream.VPN,
        Stream.ACTS,
    )
    return np.array([stream_key(seed, s, step) for s in streams], dtype=np.uint64)


@helper
def _emit(ev_agent, ev_act, k, limit, i, act):
    if k < limit:
        ev_agent[k] = i
        ev_act[k] = act
    return k + 1


@helper
def _emit_count(ev_agent, ev_act, k, limit, i, act, u, lam):
    """Emit the Poisson count of an act (``_count``): called only when u < lam."""
    for _ in range(_count(u, lam)):
        k = _emit(ev_agent, ev_act, k, limit, i, act)
    return k


CHUNK = 1 << 14  # persons per parallel chunk at most; fewer in small runs, so both cores work
MIN_CHUNK = 1 << 10
CHUNKS_SMALL_RUN = 8  # a run of fewer than 8 * CHUNK persons is cut into this many chunks
EVENT_ROOM = 1  # event slots a person in the buffer at first (a chunk that needs more is
#                redone, and the buffer gains a slot a person: Events.widen)
MAX_EVENTS = 32 * MAX_REPEAT  # more than any person can emit in one step (< 32 sites)


@njit(cache=True)
def chunk_size(n):
    """Persons per chunk: a function of N only (never of the thread count). The events come
    out in person order whatever the chunks, so the size changes no result."""
    return max(MIN_CHUNK, min(CHUNK, (n + CHUNKS_SMALL_RUN - 1) // CHUNKS_SMALL_RUN))


@njit(cache=True)
def _chunk_span(c, chunks, n, room, capacity):
    """Persons lo..hi of chunk c and its slice start..end of the event buffer."""
    size = chunk_size(n)
    lo, hi = c * size, min(n, (c + 1) * size)
    return lo, hi, lo * room, capacity if c == chunks - 1 else hi * room


class Side(NamedTuple):
    """One world's part of the persons' pass: its kernel parameters (``parameters``,
    ``response_parameters``), its sources' chances of recording (sources.recorded_table),
    how far being watched chills and deters, the persons as it has them and its event
    buffer. The pass steps one world, or two that draw the same ticks (``same_clocks``)."""

    p: np.ndarray
    rp: np.ndarray
    recorded: np.ndarray
    chill_max: float
    deter_max: float
    tr: Traits
    st: Changing
    bl: Blocks
    ev_agent: np.ndarray
    ev_act: np.ndarray


@njit(cache=True)
def _saved(st, lo, hi):
    """Persons lo..hi of what the pass changes, as they were (a chunk redone starts there)."""
    return (
        st.debt[lo:hi].copy(),
        st.timer[lo:hi].copy(),
        st.misses[lo:hi].copy(),
        st.knows[lo:hi].copy(),
        st.vpn[lo:hi].copy(),
    )


@njit(cache=True)
def _restore(st, lo, hi, saved):
    st.debt[lo:hi], st.timer[lo:hi], st.misses[lo:hi] = saved[0], saved[1], saved[2]
    st.knows[lo:hi], st.vpn[lo:hi] = saved[3], saved[4]


@njit(cache=True, parallel=True)
def _persons_chunks(
    t, keys, pair,
    p_a, rp_a, rec_a, chill_a, deter_a, tr_a, st_a, bl_a, agent_a, act_a,
    p_b, rp_b, rec_b, chill_b, deter_b, tr_b, st_b, bl_b, agent_b, act_b,
):  # fmt: skip
    """Persons in fixed chunks, in parallel, each writing its events into its own slice of
    each world's buffer. A chunk whose slice is too small in either world puts its persons'
    state back as it was in both and reports -1, to be redone (``_persons_kernel``). Returns
    each chunk's event count and its violations with no system (``_persons_range``), a
    column each world (the second unused unless ``pair``). Each world comes as its Side's
    fields (a parallel loop takes flat bundles only: each chunk puts the Sides together)."""
    n = len(st_a.debt)
    chunks = (n + chunk_size(n) - 1) // chunk_size(n)
    counts = np.zeros((chunks, 2), np.int64)
    free = np.zeros((chunks, 2), np.int64)
    for c in prange(chunks):
        got = _chunk(
            c, chunks, t, keys, pair,
            p_a, rp_a, rec_a, chill_a, deter_a, tr_a, st_a, bl_a, agent_a, act_a,
            p_b, rp_b, rec_b, chill_b, deter_b, tr_b, st_b, bl_b, agent_b, act_b,
        )  # fmt: skip
        counts[c, 0], counts[c, 1], free[c, 0], free[c, 1] = got[0], got[1], got[2], got[3]
    return counts, free


@njit(cache=True)
def _chunk(
    c, chunks, t, keys, pair,
    p_a, rp_a, rec_a, chill_a, deter_a, tr_a, st_a, bl_a, agent_a, act_a,
    p_b, rp_b, rec_b, chill_b, deter_b, tr_b, st_b, bl_b, agent_b, act_b,
):  # fmt: skip
    """Chunk c of ``_persons_chunks``: each world's event count (-1: redo) and violations
    with no system."""
    a = Side(p_a, rp_a, rec_a, chill_a, deter_a, tr_a, st_a, bl_a, agent_a, act_a)
    b = Side(p_b, rp_b, rec_b, chill_b, deter_b, tr_b, st_b, bl_b, agent_b, act_b)
    n = len(st_a.debt)
    lo, hi, start_a, end_a = _chunk_span(c, chunks, n, len(agent_a) // max(n, 1), len(agent_a))
    start_b, end_b = _chunk_span(c, chunks, n, len(agent_b) // max(n, 1), len(agent_b))[2:]
    saved_a = _saved(st_a, lo, hi)
    saved_b = _saved(st_b, lo, hi if pair else lo)
    if pair:
        k_a, k_b, free_a, free_b = _pair_range(
            lo, hi, start_a, end_a, start_b, end_b, t, keys, a, b
        )
    else:
        k_a, free_a = _persons_range(lo, hi, start_a, end_a, t, keys, a, _no_ticks(), False)
        k_b, free_b = start_b, 0
    if k_a > end_a or (pair and k_b > end_b):
        _restore(st_a, lo, hi, saved_a)
        if pair:
            _restore(st_b, lo, hi, saved_b)
        return -1, -1, free_a, free_b
    return k_a - start_a, k_b - start_b, free_a, free_b


@njit(cache=True)
def _close_up(counts, n, ev_agent, ev_act):
    """Move the chunks' slices together, in chunk order; return the number of events."""
    chunks = len(counts)
    room = len(ev_agent) // max(n, 1)
    k = 0
    for c in range(chunks):
        start = _chunk_span(c, chunks, n, room, len(ev_agent))[2]
        for j in range(counts[c]):
            ev_agent[k + j] = ev_agent[start + j]
            ev_act[k + j] = ev_act[start + j]
        k += counts[c]
    return k


def _persons_kernel(
    t, keys, a: Side, b: Side | None = None
) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """One step of every person, in world ``a`` and, if given, in world ``b`` with the same
    ticks: each world's events in person order — the same events in the same order as one
    serial pass of that world alone, whatever the number of threads and however full the
    buffers. Returns for each world its events (agent, act), in its buffer when they fit,
    else in new arrays, and the violations its pressed (``bl.since``) would make with no
    system."""
    pair = b is not None
    sides = (a, b) if pair else (a,)
    counts, free = _persons_chunks(t, keys, pair, *a, *(a if b is None else b))
    n = len(a.st.debt)
    if (counts >= 0).all():
        out = []
        for w, s in enumerate(sides):
            k = _close_up(counts[:, w].copy(), n, s.ev_agent, s.ev_act)
            out.append((s.ev_agent[:k], s.ev_act[:k], int(free[:, w].sum())))
        return out
    # rare (rates far above the weekly scale): redo the full chunks with room for every act
    chunks = len(counts)
    agents: list[list[np.ndarray]] = [[] for _ in sides]
    acts: list[list[np.ndarray]] = [[] for _ in sides]
    for c in range(chunks):
        if counts[c, 0] >= 0:
            for w, s in enumerate(sides):
                room = len(s.ev_agent) // max(n, 1)
                start = _chunk_span(c, chunks, n, room, len(s.ev_agent))[2]
                agents[w].append(s.ev_agent[start : start + counts[c, w]].copy())
                acts[w].append(s.ev_act[start : start + counts[c, w]].copy())
            continue
        lo, hi = c * chunk_size(n), min(n, (c + 1) * chunk_size(n))
        wide = [
            s._replace(
                ev_agent=np.empty(MAX_EVENTS * (hi - lo), np.int32),
                ev_act=np.empty(MAX_EVENTS * (hi - lo), np.uint8),
            )
            for s in sides
        ]
        size = MAX_EVENTS * (hi - lo)
        if pair:
            k_a, k_b, free[c, 0], free[c, 1] = _pair_range(
                lo, hi, 0, size, 0, size, t, keys, wide[0], wide[1]
            )
        else:
            k_a, free[c, 0] = _persons_range(lo, hi, 0, size, t, keys, wide[0], _no_ticks(), False)
            k_b = 0
        if max(k_a, k_b) > size:
            raise RuntimeError(f"a person emitted more than {MAX_EVENTS} events in one step")
        for w, k in enumerate((k_a, k_b)[: len(sides)]):
            agents[w].append(wide[w].ev_agent[:k])
            acts[w].append(wide[w].ev_act[:k])
    return [
        (np.concatenate(agents[w]), np.concatenate(acts[w]), int(free[:, w].sum()))
        for w in range(len(sides))
    ]


# The clocks: the acts one draw a person a step decides (docs/architecture.md, §1 Behaviour).
# Each clock ticks at its bound — the act's rate with nothing chilled, deterred, pressed or
# restricted, which depends on the person's traits and the scenario only — and the regime
# keeps each tick with the share of the rate it leaves (thinning). So the run and the twin
# draw the same ticks, and an act differs between them only where the regime cut it. The
# commonest first: a tick's clock is found by a scan in this order. (Violations adjacent.)
(
    C_FAVOURED,
    C_DISFAVOURED,
    C_POST,
    C_VOLUNTEERING,
    C_RAIL,
    C_VPN_DECIDE,
    C_LUXURY,
    C_FLIGHTS,
    C_BLOOD,
    C_LOAN,
    C_TRAFFIC,
    C_LATE_UTILITY,
    C_LITTERING,
    C_MAJOR,
    C_MISCONDUCT,
    C_COMMENDATION,
    C_HEROIC,
) = range(17)
N_CLOCKS = 17
MAX_TICKS = 48  # most ticks of one person in one step (a truncation of the Poisson tail)
# A clock whose bound is above this many ticks a step draws its count on its own, as an act
# did before (one uniform, its Poisson count thinned by the regime's share), and stays out of
# the shared draw: so the shared count is at most N_CLOCKS x OWN_DRAW (its cap of MAX_TICKS
# is then never reached in practice), and a near-certain clock (a rate of 10,000 a year)
# does not crowd out the others or cost a tick a step each.
OWN_DRAW = 1.0
TICK_SLOTS = 128  # counters a person takes in the ACTS stream a step: 0 the shared draw,
OWN_SLOT = 64  # 1..MAX_TICKS one a tick, OWN_SLOT + clock a clock's own draw


@njit(cache=True)
def _hazard(probability):
    """The rate at which a clock ticks at least once a step with ``probability``."""
    return -np.log1p(-probability) if probability < 1.0 else 50.0


@njit(cache=True)
def _clock_setup(p, rp):
    """What the bounds read of the scenario besides the rates: the loan's and the VPN
    decision's hazards, and whether travel is by mode (the travel response)."""
    h_decide = _hazard(rp[RP_DECIDE]) if rp[RP_VPN] > 0.0 else 0.0
    return _hazard(p[P_LOAN]), h_decide, rp[RP_TRAVEL] > 0.0


# What the travel weights read besides the person (``travel_terms``): whether travel is by
# mode, the mean income, and for air then rail its elasticity to income, its factors for legal
# representatives and the self-employed, and the mean of its weights before scaling.
T_BY_MODE, T_MEAN_INCOME, T_AIR, T_RAIL = 0, 1, 2, 6
MODE_ELASTICITY, MODE_REPRESENTATIVE, MODE_SELF_EMPLOYED, MODE_MEAN = range(4)


def travel_terms(spec, income: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """The constants the travel weights read (``spec``: scenario.Travel): the weights follow
    from them, the income and two flags (``flags``: Society.flags), so a person holds no
    weight of its own (12 bytes fewer; the mean of each mode's weights, taken once here, is
    what scales them to mean 1)."""
    terms = np.zeros(T_RAIL + 4)
    terms[T_MEAN_INCOME] = np.float32(np.mean(income))
    if not spec.enabled:
        return terms
    terms[T_BY_MODE] = 1.0
    for at, modes in (
        (T_AIR, (spec.air_income, spec.air_representative, spec.air_self_employed)),
        (T_RAIL, (spec.rail_income, spec.rail_representative, spec.rail_self_employed)),
    ):
        terms[at : at + 3] = modes
        terms[at + MODE_MEAN] = 1.0  # unscaled while the mean is taken
        unscaled = np.empty(len(income))
        _mode_weights(income, flags, terms, at, unscaled)
        terms[at + MODE_MEAN] = max(unscaled.mean(), 1e-12)
    return terms


@njit(cache=True, inline="always")
def travel_weight(income, mean_income) -> np.float32:
    """Travel and high spending relative to the mean: income relative to the mean, clipped
    to [0.1, 5] [assume] (float32, as the column it replaces was)."""
    rel = income / np.float32(mean_income)
    return min(max(rel, np.float32(0.1)), np.float32(5.0))


@njit(cache=True, inline="always")
def _power(x, e):
    """x ** e as numpy takes an array to a scalar power (exact squares, roots and unit
    powers), so the weights are the same numbers as numpy's."""
    if e == 1.0:
        return x
    if e == 2.0:
        return x * x
    if e == 0.5:
        return np.sqrt(x)
    if e == 0.0:
        return 1.0
    if e == -1.0:
        return 1.0 / x
    return x**e


@helper
def _unscaled(travel, flags, i, terms, at) -> float:
    w = _power(np.float64(travel), terms[at + MODE_ELASTICITY])
    rep = terms[at + MODE_REPRESENTATIVE] if has_flag(flags, i, REPRESENTATIVE) else 1.0
    own = terms[at + MODE_SELF_EMPLOYED] if has_flag(flags, i, SELF_EMPLOYED) else 1.0
    return w * (rep * own)


@helper
def mode_weight(tr, i, travel, at) -> np.float32:
    """Trips of one mode (``at``: T_AIR or T_RAIL) relative to the mean: person i's travel
    weight (``travel``: travel_weight, formed once by the caller) to the mode's income
    elasticity, times the business travel of legal representatives and the self-employed,
    scaled to mean 1 (so the mode's sourced trips per person stay as they are); the travel
    weight where travel is not by mode."""
    if tr.travel[T_BY_MODE] == 0.0:
        return travel
    w = _unscaled(travel, tr.flags, i, tr.travel, at)
    return np.float32(w / tr.travel[at + MODE_MEAN])


@njit(cache=True)
def _mode_weights(income, flags, terms, at, out):
    for i in range(len(income)):
        travel = travel_weight(income[i], terms[T_MEAN_INCOME])
        w = _unscaled(travel, flags, i, terms, at)
        out[i] = w / terms[at + MODE_MEAN]


def weights_of(traits: Traits) -> dict[str, np.ndarray]:
    """Every person's travel, air and rail weights (float32), as the kernels read them (for
    tests and figures: the kernels hold none)."""
    tr = traits
    out = {"travel": np.empty(len(tr.income), np.float32)}
    _travel_weights(tr.income, tr.travel[T_MEAN_INCOME], out["travel"])
    for name, at in (("air", T_AIR), ("rail", T_RAIL)):
        out[name] = out["travel"].copy()
        if tr.travel[T_BY_MODE]:
            _mode_weights(tr.income, tr.flags, tr.travel, at, out[name])
    return out


@njit(cache=True)
def _travel_weights(income, mean_income, out):
    for i in range(len(income)):
        out[i] = travel_weight(income[i], mean_income)


@helper
def _bounds(bound, own, i, p, tr, h_loan, h_decide, travel_on):
    """Person i's clocks' rates this step with no system (expected ticks a step): those that
    share the person's draw into ``bound`` (0 for the others), those above OWN_DRAW into
    ``own`` (0 for the others). Returns the sum of the shared bounds and how many clocks draw
    on their own. The loan clock ticks whatever the debt state (a tick counts only for
    someone without a loan), so the bounds read traits and the scenario only."""
    law = trait(tr.law[i])
    lawless = 1.5 - law
    online = has_flag(tr.facts, i, INTERNET)
    x = trait(tr.expressiveness[i])
    civic = trait(tr.civic[i])
    bound[C_LOAN] = h_loan
    bound[C_VPN_DECIDE] = h_decide if online else 0.0
    bound[C_TRAFFIC] = p[P_TRAFFIC] * lawless
    bound[C_LATE_UTILITY] = p[P_LATE_UTILITY] * (0.5 + trait(tr.fragility[i]))
    bound[C_LITTERING] = p[P_LITTERING] * lawless
    bound[C_MAJOR] = p[P_MAJOR] * 2.0 * (1.0 - law)
    bound[C_MISCONDUCT] = p[IX_MIS_SUM] * lawless
    bound[C_POST] = p[P_POST] * x * x if online else 0.0
    bound[C_DISFAVOURED] = p[P_DISFAVOURED] * (1.25 - 0.5 * law)
    bound[C_FAVOURED] = p[P_FAVOURED]
    bound[C_VOLUNTEERING] = p[P_VOLUNTEERING] * civic
    bound[C_BLOOD] = p[P_BLOOD] * civic
    bound[C_HEROIC] = p[P_HEROIC]
    bound[C_COMMENDATION] = p[_COMMEND] * civic
    travel = travel_weight(tr.income[i], tr.travel[T_MEAN_INCOME])
    bound[C_FLIGHTS] = p[_FLIGHTS] * (mode_weight(tr, i, travel, T_AIR) if travel_on else travel)
    bound[C_RAIL] = p[_RAIL] * (mode_weight(tr, i, travel, T_RAIL) if travel_on else travel)
    bound[C_LUXURY] = p[_LUXURY] * travel
    total = 0.0
    for j in range(N_CLOCKS):
        total += bound[j]
    alone = 0
    if total > OWN_DRAW:  # some clock may be above it (``own`` is read only if one is)
        total = 0.0
        for j in range(N_CLOCKS):
            if bound[j] > OWN_DRAW:
                own[j] = bound[j]
                bound[j] = 0.0
                alone += 1
            else:
                own[j] = 0.0
                total += bound[j]
    return total, alone


@helper
def _ticks(u, total, key, i, bound, clock, rest, at):
    """Person i's ticks this step, given its draw u < total: how many (Poisson(total), from
    u), and for each its clock, chosen with chance bound/total (competing risks), into
    ``clock`` from ``at``; and into ``rest`` the uniform left over from that choice — where in
    its clock's share the draw fell, independent of which clock — against which a tick is
    kept."""
    n = _count_upto(u, total, MAX_TICKS)
    for e in range(n):
        x = uniform(key, TICK_SLOTS * i + 1 + e) * total
        j = 0
        while j < N_CLOCKS - 1 and x >= bound[j]:
            x -= bound[j]
            j += 1
        if x >= bound[j]:  # rounding carried the draw past the last clock: take the last one
            while bound[j] <= 0.0 and j > 0:
                j -= 1
            x = bound[j] * 0.9999999999999999
        clock[at + e] = j
        rest[at + e] = x / bound[j]
    return n


@njit(cache=True, inline="always")
def _share(j, deter, chill_post, chill_shop):
    """The share of clock j's ticks the regime leaves: a violation's ``deter``, a post's and
    a disfavoured purchase's what chilling leaves, any other's all."""
    if C_TRAFFIC <= j <= C_MISCONDUCT:
        return deter
    if j == C_POST:
        return chill_post
    if j == C_DISFAVOURED:
        return chill_shop
    return 1.0


@helper
def _keep(clock, rest, at, ticks, own, alone, key, i, kept, deter, chill_post, chill_shop):
    """How many of each clock's ticks the regime leaves, into ``kept``, at most MAX_REPEAT of
    one act: of the shared ticks, those whose leftover uniform falls below the share; of a
    clock that draws on its own, the Poisson count at its bound times the share, from its own
    uniform (the same uniform in run and twin, so the run's count is at most the twin's).
    The person's ticks are ``clock``/``rest`` from ``at`` (``Ticks``)."""
    kept[:] = 0
    for e in range(at, at + ticks):
        j = clock[e]
        if rest[e] < _share(j, deter, chill_post, chill_shop) and kept[j] < MAX_REPEAT:
            kept[j] += 1
    if alone > 0:  # (a VPN decision drawn on its own is made in the kernel, before the shares)
        for j in range(N_CLOCKS):
            if own[j] > 0.0 and j != C_VPN_DECIDE:
                u = uniform(key, TICK_SLOTS * i + OWN_SLOT + j)
                kept[j] = _count(u, own[j] * _share(j, deter, chill_post, chill_shop))


class Ticks(NamedTuple):
    """The ticks of persons lo..hi this step, drawn once for two worlds with the same clocks
    (``_draw_ticks``): person lo + j has ``first[j + 1] - first[j]`` ticks, their clocks and
    the uniforms left over from choosing them (``_ticks``) in ``clock``/``rest`` from
    ``first[j]``; and, if any of its clocks draws on its own, ``own[alone_at[j]]`` holds their
    bounds (``alone_at[j]`` -1: none)."""

    first: np.ndarray
    alone_at: np.ndarray
    clock: np.ndarray
    rest: np.ndarray
    own: np.ndarray


@njit(cache=True)
def _draw_ticks(lo, hi, key, p, rp, tr):
    """The ticks of persons lo..hi this step (``Ticks``), as ``_persons_range`` draws them:
    one draw a person decides whether any clock ticks (none if the draw is at or above the
    person's tick ceiling), and for each tick one more which clock."""
    ceiling = tr.ceiling
    capped = len(ceiling) > 0
    h_loan, h_decide, travel_on = _clock_setup(p, rp)
    bound, own = np.empty(N_CLOCKS), np.empty(N_CLOCKS)
    m = hi - lo
    first = np.empty(m + 1, np.int64)
    alone_at = np.full(m, -1, np.int32)
    clock = np.empty(m // 2 + MAX_TICKS, np.int64)
    rest = np.empty(len(clock))
    owns = np.empty((0, N_CLOCKS))
    k, rows = 0, 0
    for j in range(m):
        i = lo + j
        first[j] = k
        u = uniform(key, TICK_SLOTS * i)
        if capped and ceiling[i] < ALWAYS and u * CEILING_SCALE >= ceiling[i]:
            continue  # u >= the bounds' sum: none is needed
        total, alone = _bounds(bound, own, i, p, tr, h_loan, h_decide, travel_on)
        if k + MAX_TICKS > len(clock):  # room for more
            clock = np.concatenate((clock, np.empty(len(clock), np.int64)))
            rest = np.concatenate((rest, np.empty(len(rest))))
        k += _ticks(u, total, key, i, bound, clock, rest, k) if u < total else 0
        if alone > 0:
            if rows == len(owns):
                owns = np.concatenate((owns, np.empty((rows + 16, N_CLOCKS))))
            owns[rows, :] = own
            alone_at[j] = rows
            rows += 1
    first[m] = k
    return Ticks(first, alone_at, clock, rest, owns)


@njit(cache=True)
def _no_ticks():
    """No drawn ticks: a world's pass draws its own (``_persons_range``)."""
    return Ticks(
        np.zeros(1, np.int64),
        np.zeros(0, np.int32),
        np.zeros(0, np.int64),
        np.zeros(0),
        np.zeros((0, N_CLOCKS)),
    )


@njit(cache=True)
def _persons_range(lo, hi, k, limit, t, keys, s, drawn, reading):
    """Persons lo..hi of one step in one world (a Side): their events into its buffer from
    slot k (up to limit); returns the next slot (past limit: the slice was too small) and the
    violations the persons pressed before step t (``bl.since``) would make with no system —
    every tick of a violation's clock kept, from the same numbers: the twin's persons,
    counted in the same pass. One draw a person decides whether any clock ticks; further
    draws only for ticks, debts and restrictions. With ``reading``, the ticks are not drawn
    but read from ``drawn`` (``_draw_ticks``: drawn once for this world and another with the
    same clocks). (Every array is taken out of the bundles before the loop, and none is
    reassigned in it: the loop of a world alone stays as fast as before the reading.)"""
    p, rp, recorded, chill_max, deter_max = s.p, s.rp, s.recorded, s.chill_max, s.deter_max
    tr, st, bl, ev_agent, ev_act = s.tr, s.st, s.bl, s.ev_agent, s.ev_act
    expressiveness, law, flags = tr.expressiveness, tr.law, tr.flags
    fragility, open_coverage, vpn_hidden = tr.fragility, tr.open_coverage, tr.vpn_hidden
    debt, timer, misses, employed = st.debt, st.timer, st.misses, st.employed
    watched, knows, vpn, pressured = st.watched, st.knows, st.vpn, st.pressured
    listed, since = bl.listed, bl.since
    sanctions, effects, strength = bl.sanctions, bl.effects, bl.strength  # and what each does
    no_flight, no_rail, no_luxury = effects[FLIGHTS], effects[RAIL], effects[LUXURY]
    counting = len(since) > 0
    contacts, status, inside, risk_aversion = bl.contacts, bl.status, bl.inside, tr.risk_aversion
    adapting, piloted = len(contacts) > 0, len(inside) > 0
    ceiling = tr.ceiling
    capped = len(ceiling) > 0
    publicity, awareness = rp[RP_PUBLICITY], rp[RP_AWARENESS]
    contact_weight, own_weight = rp[RP_CONTACT_WEIGHT], rp[RP_OWN_WEIGHT]
    free = 0
    kf, kw, kcourt, kvpn, ka = keys[0], keys[4], keys[7], keys[11], keys[12]
    kmis, klux, kch = keys[9], keys[8], keys[10]
    eval_every = int(p[IX_EVAL_EVERY])
    due = (t + lo) % eval_every if eval_every > 0 else -1  # (t + i) % eval_every, counted
    #   up with i, not divided for every person
    per_act = rp[RP_PER_ACT] > 0.0
    post_mask, shop_mask = int(rp[RP_POST_MASK]), int(rp[RP_SHOP_MASK])
    vpn_mask = int(rp[RP_VPN_MASK])
    h_loan, h_decide, travel_on = _clock_setup(p, rp)
    bound, own = np.empty(N_CLOCKS), np.empty(N_CLOCKS)
    kept = np.zeros(N_CLOCKS, np.int64)
    unwatched = np.zeros(N_CLOCKS, np.int64)
    first, alone_at, owns = drawn.first, drawn.alone_at, drawn.own
    clock, rest = drawn.clock, drawn.rest
    if not reading:  # room for one person's ticks
        clock, rest = np.empty(MAX_TICKS, np.int64), np.empty(MAX_TICKS)
    for i in range(lo, hi):
        evaluated = due == 0  # the person's workplace evaluation is due this step
        if due >= 0:
            due = due + 1 if due + 1 < eval_every else 0
        if reading:
            j = i - lo
            at, ticks, alone = first[j], first[j + 1] - first[j], 0
            if alone_at[j] >= 0:
                alone = 1
                own[:] = owns[alone_at[j]]
        else:
            at = 0
            u = uniform(ka, TICK_SLOTS * i)
            if capped and ceiling[i] < ALWAYS and u * CEILING_SCALE >= ceiling[i]:
                alone, ticks = 0, 0  # u >= the bounds' sum: none is needed
            else:
                total, alone = _bounds(bound, own, i, p, tr, h_loan, h_decide, travel_on)
                ticks = _ticks(u, total, ka, i, bound, clock, rest, 0) if u < total else 0
        if adapting:  # how watched one feels: risk aversion x publicity x what one sees
            feel = awareness + contact_weight * contacts[i] + own_weight * (status[i] > 0)
            watched[i] = trait(risk_aversion[i]) * publicity * min(1.0, feel)
            if piloted and not inside[i]:
                watched[i] = 0  # outside a pilot nobody is watched
        w = watched[i]
        refused = 0  # purchases and loans refused this step (the pressure of a refusal)
        acting = ticks > 0 or alone > 0
        # --- VPN use, reconsidered when its clock ticks (before acting: it hides today's posts)
        decides = False
        for e in range(at, at + ticks):
            decides |= clock[e] == C_VPN_DECIDE
        if alone > 0 and own[C_VPN_DECIDE] > 0.0:
            slot = TICK_SLOTS * i + OWN_SLOT + C_VPN_DECIDE
            decides = uniform(ka, slot) < -np.expm1(-own[C_VPN_DECIDE])
        if decides:
            felt = w * _exposure(post_mask, open_coverage[i], recorded)
            with_vpn = open_coverage[i] & ~vpn_hidden[i]  # the sources that see a VPN user
            x = (
                rp[RP_VPN_C]
                + rp[RP_VPN_WATCHED] * felt
                + rp[RP_VPN_EXPRESSIVE] * trait(expressiveness[i])
                + rp[RP_VPN_HIDING] * (1.0 - trait(law[i]))
                - rp[RP_VPN_PENALTY] * _exposure(vpn_mask, with_vpn, recorded)
            )
            vpn[i] = uniform(kvpn, 4 * i + 1) < 1.0 / (1.0 + np.exp(-x))
        if acting:
            chill = 1.0 - chill_max * w
            chill_post, chill_shop = chill, chill
            if per_act and w > 0.0:  # by how watched the person believes each act is
                seen = seen_now(open_coverage, vpn_hidden, vpn, i)  # (with VPN use now)
                chill_post = 1.0 - chill_max * w * _exposure(post_mask, seen, recorded)
                chill_shop = 1.0 - chill_max * w * _exposure(shop_mask, seen, recorded)
            deter = 1.0 - deter_max * w
            if pressured[i]:  # policing by contacts who share the person's penalties
                deter *= 1.0 - rp[RP_COMPLY]
            _keep(clock, rest, at, ticks, own, alone, ka, i, kept, deter, chill_post, chill_shop)
            if counting and since[i] < t:  # what no system would have left: every tick
                _keep(clock, rest, at, ticks, own, alone, ka, i, unwatched, 1.0, 1.0, 1.0)
                for j in range(C_TRAFFIC, C_MISCONDUCT + 1):
                    free += unwatched[j]
        # --- what the person knows of their travel restrictions
        if travel_on:
            restricted = (1 if sanctions[i] & no_flight else 0) | (
                2 if sanctions[i] & no_rail else 0
            )
            kn = knows[i] & restricted
            if restricted and has_flag(flags, i, LEARNER):
                if kn != restricted and uniform(kch, 64 * i + 60) < rp[RP_NOTICE]:
                    kn = restricted  # notified of the listing and what it restricts
                elif kn and uniform(kch, 64 * i + 61) < rp[RP_FORGET]:
                    kn = 0
            knows[i] = kn
        # --- finance: loan -> missed payments -> default -> suit -> judgment -> paid/unpaid
        s = debt[i]
        if s == NONE:
            if acting and kept[C_LOAN] > 0:  # applies; a credit sanction refuses with its
                # strength
                credit = credit_block(sanctions[i], effects, strength)
                if credit > 0.0 and uniform(kf, 4 * i + 1) < credit:
                    k = _emit(ev_agent, ev_act, k, limit, i, A.LOAN_REFUSED)
                    refused += 1
                else:
                    debt[i] = LOAN
                    misses[i] = 0
        else:
            # a loan, a default, a suit, a judgment, an unpaid debt: two draws
            u0 = uniform(kf, 4 * i)
            u1 = uniform(kf, 4 * i + 1)
            if s == LOAN:
                pm = p[P_MISSED] * (0.2 + 1.6 * trait(fragility[i]))
                if not employed[i]:
                    pm *= 2.0  # [assume] no wage, twice the risk of missing
                credit = credit_block(sanctions[i], effects, strength)
                if credit > 0.0:
                    pm *= 1.0 + credit  # credit cut: no refinancing (feedback)
                if pressured[i]:
                    pm *= 1.0 - rp[RP_COMPLY]
                if u0 < pm:
                    misses[i] += 1
                    k = _emit(ev_agent, ev_act, k, limit, i, A.MISSED_PAYMENT)
                    if misses[i] >= p[IX_MISSES]:
                        debt[i] = DEFAULT
                        misses[i] = 0
                        k = _emit(ev_agent, ev_act, k, limit, i, A.LOAN_DEFAULT)
                elif misses[i] > 0 and u1 < p[P_CURE]:
                    misses[i] = 0
                elif misses[i] == 0 and u1 < p[P_PAYOFF]:
                    debt[i] = NONE
            elif s == DEFAULT:
                if u0 < p[P_LAWSUIT]:
                    debt[i] = SUED
                    timer[i] = int(p[IX_JUDGMENT])
                    k = _emit(ev_agent, ev_act, k, limit, i, A.SUED)
            elif s == SUED:
                timer[i] -= 1
                if timer[i] <= 0:
                    debt[i] = JUDGMENT
                    timer[i] = int(p[IX_DEADLINE])
                    k = _emit(ev_agent, ev_act, k, limit, i, A.LOST_SUIT)
            elif s == JUDGMENT:
                timer[i] -= 1
                if timer[i] <= 0:
                    able = u0 < (1.0 - trait(fragility[i])) * (1.0 if employed[i] else 0.5)
                    if able and u1 < p[IX_PAYS] * (0.5 + trait(law[i])):
                        debt[i] = NONE
                        k = _emit(ev_agent, ev_act, k, limit, i, A.DEBT_PAID)
                    elif able:
                        debt[i] = UNPAID_REFUSES
                        k = _emit(ev_agent, ev_act, k, limit, i, A.UNPAID_REFUSES)
                    else:
                        debt[i] = UNPAID_UNABLE
                        k = _emit(ev_agent, ev_act, k, limit, i, A.UNPAID_UNABLE)
            else:  # unpaid: pays later, faster under the pressure of a listing
                hazard = p[P_UNPAID_PAY] * (0.5 if s == UNPAID_UNABLE else 1.0)
                if listed[i]:
                    hazard = 1.0 - (1.0 - hazard) * (1.0 - p[IX_PRESSURE])
                if u0 < hazard:
                    debt[i] = NONE
                    k = _emit(ev_agent, ev_act, k, limit, i, A.DEBT_PAID)
                else:  # the court list's other grounds, more likely the less law-abiding
                    lax = 1.5 - trait(law[i])
                    for g in range(len(COURT_GROUNDS)):
                        if p[_COURT + g] > 0.0:
                            u = uniform(kcourt, 4 * i + g)
                            lam = p[_COURT + g] * lax
                            if u < lam:
                                act = COURT_GROUNDS[g]
                                k = _emit_count(ev_agent, ev_act, k, limit, i, act, u, lam)
        if debt[i] >= DEFAULT and p[_OVERDUE] > 0.0:  # a defaulted loan overdue each cycle
            u = uniform(kf, 4 * i + 2)
            lam = p[_OVERDUE]
            if u < lam:
                k = _emit_count(ev_agent, ev_act, k, limit, i, A.LOAN_OVERDUE, u, lam)
        # --- the acts whose clocks ticked and were kept
        if acting:
            # violations and misconduct
            k = _emit_times(ev_agent, ev_act, k, limit, i, A.TRAFFIC, kept[C_TRAFFIC])
            for e in range(kept[C_LATE_UTILITY]):  # late bills; a court may find arrears
                k = _emit(ev_agent, ev_act, k, limit, i, A.LATE_UTILITY)
                if uniform(kmis, 32 * i + 17 + e) < p[IX_ARREARS_FOUND]:
                    k = _emit(ev_agent, ev_act, k, limit, i, A.ARREARS_FOUND)
            k = _emit_times(ev_agent, ev_act, k, limit, i, A.LITTERING, kept[C_LITTERING])
            k = _emit_times(ev_agent, ev_act, k, limit, i, A.MAJOR_OFFENCE, kept[C_MAJOR])
            for e in range(kept[C_MISCONDUCT]):  # which act of the point table, by its rate
                x = uniform(kmis, 32 * i + 1 + e) * p[IX_MIS_SUM]
                j = 0
                below = p[_MIS]
                while x >= below and j < N_MIS - 1:
                    j += 1
                    below += p[_MIS + j]
                k = _emit(ev_agent, ev_act, k, limit, i, MIS_ACTS[j])
                if MIS_ACTS[j] == A.CONTRACT_BREACH:  # sometimes sued and found in breach
                    if uniform(kmis, 32 * i + 9 + e) < p[IX_BREACH_SUED]:
                        k = _emit(ev_agent, ev_act, k, limit, i, A.BREACH_JUDGMENT)
            # online speech, shopping, civic acts
            k = _emit_times(ev_agent, ev_act, k, limit, i, A.CRITICAL_POST, kept[C_POST])
            k = _emit_times(ev_agent, ev_act, k, limit, i, A.DISFAVOURED, kept[C_DISFAVOURED])
            k = _emit_times(ev_agent, ev_act, k, limit, i, A.FAVOURED, kept[C_FAVOURED])
            k = _emit_times(ev_agent, ev_act, k, limit, i, A.VOLUNTEERING, kept[C_VOLUNTEERING])
            k = _emit_times(ev_agent, ev_act, k, limit, i, A.BLOOD, kept[C_BLOOD])
            k = _emit_times(ev_agent, ev_act, k, limit, i, A.HEROIC, kept[C_HEROIC])
            k = _emit_times(ev_agent, ev_act, k, limit, i, A.COMMENDATION, kept[C_COMMENDATION])
            # travel: an attempt is refused if the person is restricted (the refusal counted)
            if kept[C_FLIGHTS] > 0:
                k, r = _trips(
                    ev_agent, ev_act, k, limit, i, kept[C_FLIGHTS], (sanctions[i] & no_flight) != 0,
                    travel_on,
                    A.FLIGHT_TAKEN, A.FLIGHT_BLOCKED, 1, knows, has_flag(flags, i, LEARNER), kch,
                    64 * i, rp,
                )  # fmt: skip
                refused += r
            if kept[C_RAIL] > 0:
                k, r = _trips(
                    ev_agent, ev_act, k, limit, i, kept[C_RAIL], (sanctions[i] & no_rail) != 0,
                    travel_on,
                    A.RAIL_TAKEN, A.RAIL_BLOCKED, 2, knows, has_flag(flags, i, LEARNER), kch,
                    64 * i + 30, rp,
                )  # fmt: skip
                refused += r
            # high spending (star hotels, property, luxury): refused under a restriction,
            # unless the person gets round it, which is itself a listing ground
            times = kept[C_LUXURY]
            if times > 0:
                act = A.LUXURY_TAKEN
                breach = False
                if sanctions[i] & no_luxury:  # refused, unless the person gets round it
                    breach = uniform(klux, 2 * i + 1) < p[IX_BREACH]
                    act = A.LUXURY_TAKEN if breach else A.LUXURY_BLOCKED
                    refused += 0 if breach else times
                k = _emit_times(ev_agent, ev_act, k, limit, i, act, times)
                if breach:
                    k = _emit(ev_agent, ev_act, k, limit, i, A.SPENDING)
        # --- workplace evaluation, staggered through the year
        if evaluated and employed[i]:
            q = 0.7 * uniform(kw, i) + 0.3 * (1.0 - trait(law[i]))  # noisy around performance
            if q > 1.0 - p[IX_POOR] * 1.0:
                k = _emit(ev_agent, ev_act, k, limit, i, A.POOR_EVAL)
            elif q < p[IX_GOOD]:
                k = _emit(ev_agent, ev_act, k, limit, i, A.GOOD_EVAL)
        # --- VPN use, recorded where a source of the regime sees it (were it not hidden)
        if vpn[i] and rp[RP_VPN_USES] > 0.0 and (open_coverage[i] & vpn_mask) != 0:
            u = uniform(kvpn, 4 * i + 2)
            lam = rp[RP_VPN_USES]
            if u < lam:
                k = _emit_count(ev_agent, ev_act, k, limit, i, A.VPN_USE, u, lam)
        # --- the pressure of a refusal: a listed debtor able to pay may pay now
        if refused > 0 and rp[RP_REFUSAL] > 0.0 and listed[i] and debt[i] == UNPAID_REFUSES:
            if uniform(kf, 4 * i + 3) < 1.0 - (1.0 - rp[RP_PAY]) ** refused:
                debt[i] = NONE
                k = _emit(ev_agent, ev_act, k, limit, i, A.DEBT_PAID)
                k = _emit(ev_agent, ev_act, k, limit, i, A.PAID_AFTER_REFUSAL)
    return k, free


@njit(cache=True)
def _pair_range(lo, hi, k_a, limit_a, k_b, limit_b, t, keys, a, b):
    """Persons lo..hi of one step in two worlds with the same clocks (``same_clocks``): the
    ticks drawn once (they read traits and the scenario only), then each world's step with
    its own state, reading them. Returns each world's next slot and its violations with no
    system, as ``_persons_range`` gives them for each alone."""
    drawn = _draw_ticks(lo, hi, keys[12], a.p, a.rp, a.tr)
    k_a, free_a = _persons_range(lo, hi, k_a, limit_a, t, keys, a, drawn, True)
    k_b, free_b = _persons_range(lo, hi, k_b, limit_b, t, keys, b, drawn, True)
    return k_a, k_b, free_a, free_b


@helper
def _emit_times(ev_agent, ev_act, k, limit, i, act, times):
    for _ in range(times):
        k = _emit(ev_agent, ev_act, k, limit, i, act)
    return k


@helper
def _exposure(mask, bits, recorded):
    """The chance an act is recorded, for a person the sources ``bits`` cover, by the
    sources ``mask`` that observe it (``recorded``: sources.recorded_table)."""
    return recorded[mask & bits]


@njit(cache=True)
def kept_from_sources(agents, mask, seen, recorded):
    """Expected records of acts by ``agents`` that a VPN kept from the sources ``mask``: the
    chance each act is recorded without the person's VPN less the chance with it
    (``seen``: sources.Seen)."""
    total = 0.0
    for i in agents:
        now = seen_now(seen.open, seen.hidden, seen.vpn, i)
        if seen.open[i] != now:
            total += _exposure(mask, seen.open[i], recorded)
            total -= _exposure(mask, now, recorded)
    return total


@helper
def _trips(
    ev_agent, ev_act, k, limit, i, times, blocked, travel_on, taken, refused_act, bit, knows,
    learner, key, at, rp,
):  # fmt: skip
    """``times`` trips of one mode: taken, or, under a restriction, refused (with the
    responses: ``_restricted_trips``). Returns the event count and the refusals."""
    if not blocked:
        for _ in range(times):
            k = _emit(ev_agent, ev_act, k, limit, i, taken)
        return k, 0
    if travel_on:
        return _restricted_trips(
            ev_agent, ev_act, k, limit, i, times, refused_act, bit, knows, learner, key, at,
            rp[RP_RETRY], rp[RP_SUBSTITUTE],
        )  # fmt: skip
    for _ in range(times):
        k = _emit(ev_agent, ev_act, k, limit, i, refused_act)
    return k, times


@helper
def _restricted_trips(
    ev_agent, ev_act, k, limit, i, times, blocked_act, bit, knows, learner, key, at, retry, sub
):
    """``times`` trips of a restricted mode: one who knows of the restriction mostly does not
    try (``retry``); one who tries is refused (counted) and, if a learner, knows from then on.
    Each trip is then made another way (``sub``: an unrestricted mode) or forgone. Returns
    the event count and the refusals."""
    refused = 0
    for e in range(times):
        if not (knows[i] & bit) or uniform(key, at + 3 * e) < retry:
            k = _emit(ev_agent, ev_act, k, limit, i, blocked_act)
            refused += 1
            if learner:
                knows[i] |= bit
        act = A.TRIP_SUBSTITUTED if uniform(key, at + 3 * e + 1) < sub else A.TRIP_FORGONE
        k = _emit(ev_agent, ev_act, k, limit, i, act)
    return k, refused


class FirmRates(NamedTuple):
    """The firms' base rates a step: expected tax arrears, violations, taxes paid and unpaid
    judgments (recurring acts), and the chance of missing the annual report. The kernel
    scales the bad ones by twice a firm's laxity, taxes paid by its compliance."""

    arrears: float
    violation: float
    report: float
    paid: float
    judgment: float


@njit(cache=True)
def _firms_kernel(
    t, key, court_key, rates, year_steps, compliance, pressed, comply, ev_agent, ev_act
):
    """Every firm's acts this step, more of the bad ones the less compliant (or pressed by
    its representative); the annual report falls due on each firm's own step of the year."""
    p_arrears, p_violation, p_report = rates.arrears, rates.violation, rates.report
    p_paid, p_judgment = rates.paid, rates.judgment
    k, limit = 0, len(ev_agent)
    for f in range(len(compliance)):
        lax = 1.0 - compliance[f]
        if pressed[f]:  # pressed by its legal representative (policing.py)
            lax *= 1.0 - comply
        u = uniform(key, 4 * f)
        lam = p_arrears * 2.0 * lax
        if u < lam:
            k = _emit_count(ev_agent, ev_act, k, limit, f, A.FIRM_TAX_ARREARS, u, lam)
        u = uniform(key, 4 * f + 1)
        lam = p_violation * 2.0 * lax
        if u < lam:
            k = _emit_count(ev_agent, ev_act, k, limit, f, A.FIRM_VIOLATION, u, lam)
        if (t + f) % year_steps == 0:  # the annual report falls due once a year
            if uniform(key, 4 * f + 2) < p_report * 2.0 * lax:
                k = _emit(ev_agent, ev_act, k, limit, f, A.FIRM_MISSED_REPORT)
        u = uniform(key, 4 * f + 3)
        lam = p_paid * compliance[f]
        if u < lam:
            k = _emit_count(ev_agent, ev_act, k, limit, f, A.FIRM_TAX_PAID, u, lam)
        u = uniform(court_key, f)  # court judgments left unpaid
        lam = p_judgment * 2.0 * lax
        if u < lam:
            k = _emit_count(ev_agent, ev_act, k, limit, f, A.FIRM_JUDGMENT_UNPAID, u, lam)
    return k


class Events:
    """A preallocated event buffer (agent, act) reused every step."""

    def __init__(self, capacity: int):
        self.agent = np.empty(capacity, np.int32)
        self.act = np.empty(capacity, np.uint8)
        self.count = 0
        self._spill: tuple[np.ndarray, np.ndarray] | None = None  # a step that did not fit

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        if self._spill is not None:
            return self._spill
        return self.agent[: self.count], self.act[: self.count]

    def fill(self, kernel, *args) -> None:
        """Run an emitting kernel that changes no state and returns its event count (it stops
        writing at the end of the buffer); if the buffer was too small, grow it to fit and
        run the kernel again (its draws are the same)."""
        self._spill = None
        n = kernel(*args, self.agent, self.act)
        if n > len(self.agent):
            self.agent = np.empty(n, np.int32)
            self.act = np.empty(n, np.uint8)
            n = kernel(*args, self.agent, self.act)
        self.count = n

    def take(self, agents: np.ndarray, acts: np.ndarray) -> bool:
        """Hold events a parallel kernel returned (views of the buffer, or new arrays);
        returns whether they are in the buffer."""
        self.count = len(agents)
        held = len(agents) == 0 or np.may_share_memory(agents, self.agent)
        self._spill = None if held else (agents, acts)
        return held

    def widen(self, n: int) -> None:
        """One more slot for each of ``n`` agents, from the next step on (the events held now
        stay where they are: new arrays, since they did not fit)."""
        room = len(self.agent) // max(n, 1) + 1
        self.agent = np.empty(room * n + 1024, np.int32)
        self.act = np.empty(room * n + 1024, np.uint8)


# A person's tick ceiling: the chance that any of its clocks ticks in a step, 1 - exp(-sum of
# the bounds) as ``_count_upto`` forms it, rounded up to a multiple of 2**-16 (2 bytes a
# person); ALWAYS where a clock draws on its own or the chance is that close to 1. The bounds
# read traits and the scenario only, so the ceiling is fixed for a world's scenario, and a
# person whose draw u is at or above it has no tick (``_count_upto`` counts one only for
# u < 1 - exp(-sum)): the kernel then skips the 17 bounds — the same ticks, exactly. (The
# sum itself, which bounds the chance from above, let 27 % of the article's persons a week
# through at 10^6; the chance, 23 %: the persons' pass 26.6 -> 24.2 ms, BENCHMARKS.md.)
CEILING_SCALE = 65536.0
ALWAYS = 65535


@njit(cache=True, parallel=True)
def _ceilings(p, rp, tr, out):
    h_loan, h_decide, travel_on = _clock_setup(p, rp)
    n = len(out)
    parts = (n + CHUNK - 1) // CHUNK
    for c in prange(parts):
        bound, own = np.empty(N_CLOCKS), np.empty(N_CLOCKS)
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            total, alone = _bounds(bound, own, i, p, tr, h_loan, h_decide, travel_on)
            chance = 1.0 - np.exp(-total)  # (the very float _count_upto compares u with)
            q = np.ceil(chance * CEILING_SCALE)  # exact: a power of two, then a whole number
            out[i] = ALWAYS if alone > 0 or q >= ALWAYS else np.uint16(q)


def tick_ceilings(params: np.ndarray, responses: np.ndarray, traits: Traits) -> np.ndarray:
    """Each person's tick ceiling (above) under a world's kernel parameters."""
    out = np.empty(len(traits.law), np.uint16)
    _ceilings(params, responses, traits, out)
    return out


def traits_of(persons, society, coverage, ceiling=np.empty(0, np.uint16)) -> Traits:
    """The persons' kernel's Traits of a society (``coverage``: sim.World.use_coverage;
    ``ceiling``: the world's tick_ceilings, or empty)."""
    return Traits(
        persons.facts,
        persons.expressiveness,
        persons.law_abidance,
        persons.financial_fragility,
        persons.civic_virtue,
        persons.base_income,
        society.flags,
        society.travel,
        coverage.open,
        coverage.vpn_hidden,
        persons.risk_aversion,
        ceiling,
    )


def side(
    params,
    responses,
    recorded,
    chill_max,
    deter_max,
    persons,
    society,
    coverage,
    ceiling,
    state,
    blocks: Blocks,
    events: Events,
) -> Side:
    """One world's Side of the persons' pass (``responses``: response_parameters;
    ``recorded``: the world's sources.recorded_table; ``coverage``: what the world's sources
    see, sim.World.use_coverage; ``ceiling``: tick_ceilings; ``blocks``: what the regime
    does to them and what they see of it)."""
    changing = Changing(
        state.debt,
        state.debt_timer,
        state.misses,
        state.employed,
        state.watched,
        state.knows,
        state.vpn,
        state.pressured,
    )
    return Side(
        params,
        responses,
        recorded,
        float(chill_max),
        float(deter_max),
        traits_of(persons, society, coverage, ceiling),
        changing,
        blocks,
        events.agent,
        events.act,
    )


# What the clocks' bounds read of the kernel's parameters (``_bounds``, ``_clock_setup``):
# two worlds whose entries here are equal draw the same ticks (``same_clocks``).
BOUND_P = np.array(
    [
        P_LOAN, P_TRAFFIC, P_LATE_UTILITY, P_LITTERING, P_MAJOR, IX_MIS_SUM, P_POST,
        P_DISFAVOURED, P_FAVOURED, P_VOLUNTEERING, P_BLOOD, P_HEROIC, _COMMEND, _FLIGHTS,
        _RAIL, _LUXURY,
    ]
)  # fmt: skip
BOUND_RP = np.array([RP_TRAVEL, RP_VPN, RP_DECIDE])
_BOUND_TRAITS = (
    "facts", "expressiveness", "law", "fragility", "civic", "income", "flags", "travel",
    "ceiling",
)  # fmt: skip


def same_clocks(a: Side, b: Side) -> bool:
    """Whether two worlds' persons have the same clocks: the same bounds (the parameters and
    traits they read) and the same tick ceilings, so one draw of the ticks serves both. The
    traits must be the same arrays (the run's and the twin's are the society's)."""
    return (
        all(getattr(a.tr, f) is getattr(b.tr, f) for f in _BOUND_TRAITS)
        and np.array_equal(a.p[BOUND_P], b.p[BOUND_P])
        and np.array_equal(a.rp[BOUND_RP], b.rp[BOUND_RP])
        and len(a.st.debt) == len(b.st.debt)
    )


def run_persons(t, keys, sides: list[Side], events: list[Events]) -> list[int]:
    """One step of every person in one world, or in two with the same clocks
    (``same_clocks``) in one pass that draws their ticks once: each world's events into its
    ``events``. Returns, for each world, the violations that the persons pressed before this
    step (``blocks.since``) would make with no system."""
    if len(sides) == 2 and not same_clocks(*sides):
        raise ValueError("two worlds step in one pass only with the same clocks")
    out = _persons_kernel(t, keys, *sides)
    frees = []
    for (agents, acts, free), ev, s in zip(out, events, sides):
        if not ev.take(agents, acts):  # a chunk overflowed (and was redone): more room
            ev.widen(len(s.st.debt))
        frees.append(free)
    return frees


def run_firms(t, seed, b: Behaviour, dt, firms, pressed, comply, events: Events) -> None:
    year_steps = max(1, round(1.0 / dt))
    events.fill(
        _firms_kernel,
        t,
        stream_key(seed, Stream.FIRM, t),
        stream_key(seed, Stream.FIRM_COURT, t),
        FirmRates(  # expected counts a step (these acts recur), the report's chance
            arrears=b.firm_tax_arrears * dt,
            violation=b.firm_violation * dt,
            report=b.firm_missed_report,
            paid=b.firm_tax_paid * dt,
            judgment=b.firm_judgment_unpaid * dt,
        ),
        year_steps,
        firms.compliance,
        pressed,
        comply,
    )
