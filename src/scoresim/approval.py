"""Approval of the system (docs/model.md §7.8): a baseline by demographics, moved by experience.

Each person's approval is kept as log-odds, ``baseline + experience (+ information)``, and
approval = 1 / (1 + e^-x) in [0, 1]; a person *approves* when approval >= 0.5 (x >= 0).

- The **baseline** (static, part of the society): an intercept, plus coefficients on income
  quintile, education, urban and age band (higher among richer, better educated, urban and
  older people: [src S-approval-gradient]), plus individual differences (normal, ``spread``).
  Fitted to the published shares by ``scoresim calibrate`` (calibration/approval.toml).
- **Awareness**: a share of persons knows of the system at the start (11 % of pilot-area
  residents did: [src S-pilot-awareness]); others learn of it through the regime's
  publicity (a yearly hazard x publicity), by being sanctioned, rewarded or refused, by
  hearing that a contact was sanctioned or rewarded (each contact hears with a
  probability), or by being informed. Approval is reported among the aware, as a survey of
  people who know the system would find it.
- **Experience** moves the log-odds: being sanctioned (more if wrongly, by false records, or
  by association), each refused purchase or loan, being rewarded; a contact over an active
  tie being sanctioned (more if unjustly) or rewarded; and, among the aware, the regime's
  publicity (a yearly drift). Experience fades at a yearly rate (``forgetting``).
- **Information**: a scenario may tell a share of the eligible persons the system's pros and
  cons at a given time (the MERICS experiment): a fixed shift of their log-odds; the other
  eligible persons are the control arm.

The twin holds the baseline only: with no system there is nothing to experience or to be
informed about, so its approval never moves (its persons are still drawn into the same
arms, with the same random numbers, so that run and twin compare group for group).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit, prange
from scipy.special import ndtri

from . import acts as A
from . import expr
from .jit import helper
from .network import is_active, nbr_of, row_room, row_span, row_start, rows_in
from .parallel import slicing
from .population import INTERNET, flag_column, has_flag
from .prefetch import prefetch_row
from .rng import Stream, draws, stream_key, uniform, uniforms_at
from .scenario import STATIC_PERSON_FIELDS, Approval, Scenario

# One world's yes/no facts of a person, a bit each of ApprovalState.flags (a byte instead of
# four bool columns): knows of the system, was told its pros and cons, was sanctioned last
# step, was rewarded last step.
AWARE, INFORMED, WAS_SANCTIONED, WAS_REWARDED = 1, 2, 4, 8

# acts that tell a person a purchase or a loan was refused to them
_REFUSED = np.zeros(A.N_ACTS, np.bool_)
for _a in (A.FLIGHT_BLOCKED, A.RAIL_BLOCKED, A.LUXURY_BLOCKED, A.LOAN_REFUSED, A.LOAN_DECLINED):
    _REFUSED[_a] = True


def baseline(spec: Approval, persons, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each person's baseline log-odds (float32) and whether they know of the system at the
    start (bool): static, drawn from their own streams."""
    z = ndtri(np.clip(draws(seed, Stream.APPROVAL_BASE, persons.n, step=0), 1e-12, 1 - 1e-12))
    x = (
        spec.intercept
        + spec.income * (persons.income_quintile.astype(np.float64) - 2.0)
        + spec.education * persons.education
        + spec.urban * persons.urban
        + spec.age * persons.age_band
        + spec.spread * z
    )
    aware = draws(seed, Stream.APPROVAL_BASE, persons.n, step=1) < spec.aware_share
    return x.astype(np.float32), aware


@dataclass
class ApprovalState:
    """One world's approval columns."""

    experience: np.ndarray  # float32 log-odds moved by experience (fades)
    flags: np.ndarray  # uint8: AWARE, INFORMED, WAS_SANCTIONED, WAS_REWARDED

    @classmethod
    def start(cls, aware0: np.ndarray) -> ApprovalState:
        n = len(aware0)
        return cls(np.zeros(n, np.float32), aware0.astype(np.uint8) * np.uint8(AWARE))

    aware = flag_column(AWARE, "bool: knows of the system")
    informed = flag_column(INFORMED, "bool: told the pros and cons")
    was_sanctioned = flag_column(WAS_SANCTIONED, "bool: sanctioned last step")
    was_rewarded = flag_column(WAS_REWARDED, "bool: rewarded last step")


class Approvals:
    """Approval of one world: updated each step from what happened to each person and their
    contacts (``moves`` False: the twin, which holds the baseline)."""

    def __init__(
        self,
        sc: Scenario,
        base: np.ndarray,
        aware0: np.ndarray,
        moves: bool,
        inside: np.ndarray | None = None,
    ):
        self.spec = sc.approval
        self.base = base
        self.moves = moves
        # a pilot's persons: only they learn of the system from its publicity (None: all)
        self.inside = np.zeros(0, bool) if inside is None else inside
        self.state = ApprovalState.start(aware0)
        dt = sc.step_years
        self.fade = np.float32(np.exp(-self.spec.forgetting * dt))
        self.info_step = sc.steps_of(self.spec.information.at_years * 365.25)
        self.info_tree = (
            expr.parse(self.spec.information.when, STATIC_PERSON_FIELDS)
            if self.spec.information.when
            else None
        )
        self.seed = sc.run.seed
        self.dt = dt
        self.eligible: np.ndarray | None = None  # the campaign's eligible, once drawn
        # a system has been in force (a schedule may end it): what it left fades from then
        self.had_system = moves

    def info_effect(self) -> float:
        """The log-odds shift of an informed person (none in the twin, nor before a system
        is in force; outside a pilot, none either: ``inside``)."""
        return float(self.spec.information.effect) if self.had_system else 0.0

    def logit(self) -> np.ndarray:
        """Each person's approval as log-odds (float32)."""
        st = self.state
        x = self.base + st.experience
        if self.info_effect():
            shifted = st.informed if len(self.inside) == 0 else st.informed & self.inside
            x = x + np.float32(self.info_effect()) * shifted
        return x

    def step(self, t, publicity, status, rewarded, ev_agent, ev_act, graph, active, fields):
        """One step: the information campaign (at its time), awareness, own and contacts'
        experience. ``status``: this step's sanction status (0 none, 1 own true records,
        2 false records, 3 association); ``rewarded``: rewarded this step."""
        sp, st = self.spec, self.state
        key = stream_key(self.seed, Stream.APPROVAL, t)
        if t == self.info_step and sp.information.share > 0:
            self._inform(key, fields)
        if not self.moves:  # no system (any more): what was lived fades all the same
            if self.had_system:
                st.experience *= self.fade
                _remember(status, rewarded, st.flags)
            return
        learn = 1.0 - np.exp(-sp.awareness_rate * publicity * self.dt)
        drift = sp.publicity * publicity * self.dt
        outcomes = Outcomes(status, rewarded, st.flags)
        own = Shifts(sp.sanctioned, sp.unjust, sp.rewarded)
        heard = Shifts(sp.contact_sanctioned, sp.contact_unjust, sp.contact_rewarded)
        news, told = _news(outcomes, heard)
        _own_kernel(
            key, outcomes, own, self.inside, self.fade, np.float32(drift), learn, st.experience,
            st.flags,
        )  # fmt: skip
        if len(ev_agent):
            _refusals_kernel(ev_agent, ev_act, _REFUSED, sp.refused, st.experience, st.flags)
        if len(news):
            _contacts_kernel(
                key, sp.contact_hears, news, told, graph.ties, active, st.experience, st.flags
            )

    def _inform(self, key, fields) -> None:
        """Draw the informed among the eligible (the same draws in run and twin)."""
        st, n = self.state, len(self.base)
        eligible = np.arange(n)
        if self.info_tree is not None:
            cols = fields(eligible, np.ones(n, bool))
            eligible = eligible[expr.evaluate(self.info_tree, cols, n)]
        u = uniforms_at(key, 4 * eligible.astype(np.int64))
        told = eligible[u < self.spec.information.share]
        st.flags[told] |= np.uint8(INFORMED)
        self.eligible = np.zeros(n, bool)
        self.eligible[eligible] = True
        if self.moves:  # of a system in force (a pilot's: told inside its regions only)
            st.flags[told if len(self.inside) == 0 else told[self.inside[told]]] |= np.uint8(AWARE)


class Outcomes(NamedTuple):
    """Who is sanctioned (``status`` > 0; 2: unjustly) or rewarded this step, and who was
    last step (``flags``: ApprovalState.flags): news is the change."""

    status: np.ndarray
    rewarded: np.ndarray
    flags: np.ndarray


@helper
def _new_sanction(status, flags, i) -> bool:
    """Whether person i is sanctioned this step and was not last step (``status``,
    ``flags``: Outcomes')."""
    return status[i] > 0 and not flags[i] & WAS_SANCTIONED


@helper
def _new_reward(rewarded, flags, i) -> bool:
    """Whether person i is rewarded this step and was not last step."""
    return rewarded[i] and not flags[i] & WAS_REWARDED


@helper
def _is_news(status, rewarded, flags, i) -> int:
    """1 if person i is newly sanctioned or newly rewarded this step (``_new_sanction`` or
    ``_new_reward``), else 0: in bit operations, so that a count over everyone has no branch
    to take."""
    f = flags[i]
    sanctioned = np.int64(status[i] > 0) & np.int64((f & WAS_SANCTIONED) == 0)
    rewarded_now = np.int64(rewarded[i]) & np.int64((f & WAS_REWARDED) == 0)
    return sanctioned | rewarded_now


@helper
def _count_news(status, rewarded, flags) -> int:
    c = 0
    for i in range(len(flags)):
        c += _is_news(status, rewarded, flags, i)
    return c


@helper
def _shift(status, rewarded, flags, i, sanctioned, unjust, reward) -> float:
    """How far person i's new sanction (more if unjust) and new reward move approval: by
    ``sanctioned`` (+ ``unjust``) and ``reward`` (a Shifts' fields)."""
    d = 0.0
    if _new_sanction(status, flags, i):
        d += sanctioned + (unjust if status[i] >= 2 else 0.0)
    if _new_reward(rewarded, flags, i):
        d += reward
    return d


@njit(cache=True, parallel=True)
def _remember(status, rewarded, flags):
    """This step's sanctions and rewards, as last step's for the next."""
    keep = ~np.int64(WAS_SANCTIONED | WAS_REWARDED)
    for i in prange(len(flags)):
        f = np.int64(flags[i]) & keep  # (int64 throughout: numba types uint64 | int64 as a float)
        if status[i] > 0:
            f |= WAS_SANCTIONED
        if rewarded[i]:
            f |= WAS_REWARDED
        flags[i] = f


class Shifts(NamedTuple):
    """How far a new sanction, an unjust one, and a reward move approval (log-odds)."""

    sanctioned: float
    unjust: float
    rewarded: float


@njit(cache=True, parallel=True)
def _news(outcomes, heard):
    """The persons newly sanctioned or rewarded this step (int32, ascending) and how far
    each moves a contact who hears of it (``heard``, a Shifts): counted by slice, then
    written, in parallel (read before ``_own_kernel`` moves the WAS bits)."""
    status, rewarded, flags = outcomes.status, outcomes.rewarded, outcomes.flags
    h_sanctioned, h_unjust, h_reward = heard.sanctioned, heard.unjust, heard.rewarded
    n = len(flags)
    slices, size = slicing(n)
    first = np.zeros(slices + 1, np.int64)  # where each slice's news start
    for s in prange(slices):
        lo, hi = s * size, min(n, (s + 1) * size)
        # (views indexed from 0: an index numba knows is not negative, so the count is
        # vectorised — indexed lo..hi, it was 5x slower)
        first[s + 1] = _count_news(status[lo:hi], rewarded[lo:hi], flags[lo:hi])
    for s in range(slices):
        first[s + 1] += first[s]
    news = np.empty(first[slices], np.int32)
    told = np.empty(first[slices], np.float64)
    for s in prange(slices):
        lo, hi = s * size, min(n, (s + 1) * size)
        st, rw, fl = status[lo:hi], rewarded[lo:hi], flags[lo:hi]
        k = first[s]
        for j in range(hi - lo):
            if _is_news(st, rw, fl, j):
                news[k] = lo + j
                told[k] = _shift(st, rw, fl, j, h_sanctioned, h_unjust, h_reward)
                k += 1
    return news, told


@njit(cache=True, parallel=True)
def _own_kernel(key, outcomes, own, inside, fade, drift, learn, experience, flags):
    """Fade, publicity's drift among the aware, learning of the system, and one's own new
    sanction or reward (which also makes one aware); then this step's sanctions and rewards
    kept as last step's for the next (the WAS bits: a pass of their own before).
    ``inside``: who the system's publicity reaches (empty: everybody). ``flags``:
    ``outcomes.flags``, which it writes, as an argument of its own (docs/architecture.md,
    "Parallel kernels, same numbers": a parallel kernel may lose writes to a bundle's
    arrays)."""
    status, rewarded = outcomes.status, outcomes.rewarded
    o_sanctioned, o_unjust, o_reward = own.sanctioned, own.unjust, own.rewarded
    everywhere = len(inside) == 0
    was = np.int64(WAS_SANCTIONED | WAS_REWARDED)
    for i in prange(len(experience)):
        x = experience[i] * fade
        f = np.int64(flags[i])  # (int64 throughout: numba types uint64 | int64 as a float)
        reached = everywhere or inside[i]
        aware = f & AWARE
        if reached and not aware and learn > 0.0 and uniform(key, 4 * np.int64(i) + 1) < learn:
            aware = AWARE
        if reached and aware:
            x += drift
        # added one at a time, not as _shift's sum: x + a + b and x + (a + b) round apart
        if _new_sanction(status, flags, i):
            x += o_sanctioned + (o_unjust if status[i] >= 2 else 0.0)
            aware = AWARE
        if _new_reward(rewarded, flags, i):
            x += o_reward
            aware = AWARE
        f = (f & ~was) | aware
        if status[i] > 0:
            f |= WAS_SANCTIONED
        if rewarded[i]:
            f |= WAS_REWARDED
        flags[i] = f
        experience[i] = x


@njit(cache=True)
def _refusals_kernel(ev_agent, ev_act, refused, d_refused, experience, flags):
    for e in range(len(ev_agent)):
        if refused[ev_act[e]]:
            i = ev_agent[e]
            experience[i] += d_refused
            flags[i] |= AWARE


@njit(cache=True)
def _contacts_kernel(key, hears, news, told, ties, active, experience, flags):
    """Each contact (over an active tie) of a person newly sanctioned or rewarded (``news``)
    hears of it with probability ``hears`` (a draw keyed by the tie entry), which moves it
    by ``told`` (``_news``' shifts). Serial in person order: a contact's sum gets its
    additions in one fixed order."""
    row = np.empty(row_room(ties), ties.adj.dtype)
    r = rows_in(ties, row)
    for x in range(len(news)):
        prefetch_row(ties, active, news, x)
        j = news[x]
        d = told[x]
        if d == 0.0:
            continue
        first = row_start(ties, j)
        o, k = row_span(ties, j, row)
        for q in range(k):
            e = first + q
            if is_active(active, e) and uniform(key, 4 * np.int64(e) + 3) < hears:
                i = nbr_of(r[o + q])
                experience[i] += d
                flags[i] |= AWARE


# The groups approval is reported among at the end (results.py), in _approving's order: the
# aware, the ever sanctioned, internet users, the informed, the campaign's control arm
# (eligible, not informed); the first three read the log-odds, the last two what the
# campaign asked about (the log-odds + ``question``).
APPROVAL_GROUPS = (
    "approval_share",
    "approval_sanctioned_share",
    "approval_internet_share",
    "approval_informed_share",
    "approval_uninformed_share",
)


def approving_counts(ap: Approvals, ever: np.ndarray, facts: np.ndarray) -> np.ndarray:
    """[group, (persons, approving)] of APPROVAL_GROUPS (int64; ``ever``: the recorder's
    ever bits, 1 sanctioned; ``facts``: Persons.facts, whose INTERNET bit marks internet
    users), each person's log-odds formed where counted as ``logit`` forms them: no column a
    person at the end of a run, when memory is fullest."""
    out = np.zeros((len(APPROVAL_GROUPS), 2), np.int64)
    eligible = np.zeros(0, bool) if ap.eligible is None else ap.eligible
    info = np.float32(ap.info_effect())
    question = np.float32(ap.spec.information.question)
    st = ap.state
    _approving(ap.base, st.experience, st.flags, ap.inside, info, question, ever, facts,
               eligible, out)  # fmt: skip
    return out


@njit(cache=True)
def _approving(base, experience, flags, inside, info, question, ever, facts, eligible, out):
    everyone = len(inside) == 0
    arms = len(eligible) > 0
    for i in range(len(base)):
        informed = (flags[i] & INFORMED) != 0
        x = base[i] + experience[i]  # float32, as ``logit`` forms it
        if informed and (everyone or inside[i]):
            x = x + info
        asked = x + question
        yes, yes_asked = np.int64(x >= 0), np.int64(asked >= 0)
        among = (
            (flags[i] & AWARE) != 0,
            (ever[i] & 1) != 0,
            has_flag(facts, i, INTERNET),
            informed,
            arms and eligible[i] and not informed,
        )
        for g in range(5):
            if among[g]:
                out[g, 0] += 1
                out[g, 1] += yes if g < 3 else yes_asked


__all__ = ["APPROVAL_GROUPS", "Approvals", "ApprovalState", "approving_counts", "baseline"]
