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
from .network import is_active, nbr_of, row_of, row_room, row_start
from .prefetch import prefetch_row
from .rng import Stream, draws, stream_key, uniform, uniforms_at
from .scenario import STATIC_PERSON_FIELDS, Approval, Scenario

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
    aware: np.ndarray  # bool: knows of the system
    informed: np.ndarray  # bool: told the pros and cons
    was_sanctioned: np.ndarray  # bool: sanctioned last step
    was_rewarded: np.ndarray  # bool: rewarded last step

    @classmethod
    def start(cls, aware0: np.ndarray) -> ApprovalState:
        n = len(aware0)
        return cls(
            np.zeros(n, np.float32),
            aware0.copy(),
            np.zeros(n, bool),
            np.zeros(n, bool),
            np.zeros(n, bool),
        )


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
                st.was_sanctioned[:] = status > 0
                st.was_rewarded[:] = rewarded
            return
        learn = 1.0 - np.exp(-sp.awareness_rate * publicity * self.dt)
        drift = sp.publicity * publicity * self.dt
        outcomes = Outcomes(status, rewarded, st.was_sanctioned, st.was_rewarded)
        own = Shifts(sp.sanctioned, sp.unjust, sp.rewarded)
        _own_kernel(
            key, outcomes, own, self.inside, self.fade, np.float32(drift), learn, st.experience,
            st.aware,
        )  # fmt: skip
        if len(ev_agent):
            _refusals_kernel(ev_agent, ev_act, _REFUSED, sp.refused, st.experience, st.aware)
        news = np.flatnonzero(
            ((status > 0) & ~st.was_sanctioned) | (rewarded & ~st.was_rewarded)
        ).astype(np.int32)
        if len(news):
            heard = Shifts(sp.contact_sanctioned, sp.contact_unjust, sp.contact_rewarded)
            _contacts_kernel(
                key, sp.contact_hears, news, outcomes, graph.ties, active, heard,
                st.experience, st.aware,
            )  # fmt: skip
        st.was_sanctioned[:] = status > 0
        st.was_rewarded[:] = rewarded

    def _inform(self, key, fields) -> None:
        """Draw the informed among the eligible (the same draws in run and twin)."""
        st, n = self.state, len(self.base)
        eligible = np.arange(n)
        if self.info_tree is not None:
            cols = fields(eligible, np.ones(n, bool))
            eligible = eligible[expr.evaluate(self.info_tree, cols, n)]
        u = uniforms_at(key, 4 * eligible.astype(np.int64))
        told = eligible[u < self.spec.information.share]
        st.informed[told] = True
        self.eligible = np.zeros(n, bool)
        self.eligible[eligible] = True
        if self.moves:  # of a system in force (a pilot's: told inside its regions only)
            st.aware[told if len(self.inside) == 0 else told[self.inside[told]]] = True


class Outcomes(NamedTuple):
    """Who is sanctioned (``status`` > 0; 2: unjustly) or rewarded this step, and who was
    last step: news is the change."""

    status: np.ndarray
    rewarded: np.ndarray
    was_sanctioned: np.ndarray
    was_rewarded: np.ndarray


class Shifts(NamedTuple):
    """How far a new sanction, an unjust one, and a reward move approval (log-odds)."""

    sanctioned: float
    unjust: float
    rewarded: float


@njit(cache=True, parallel=True)
def _own_kernel(key, outcomes, own, inside, fade, drift, learn, experience, aware):
    """Fade, publicity's drift among the aware, learning of the system, and one's own new
    sanction or reward (which also makes one aware). ``inside``: who the system's publicity
    reaches (empty: everybody)."""
    status, rewarded = outcomes.status, outcomes.rewarded
    was_sanctioned, was_rewarded = outcomes.was_sanctioned, outcomes.was_rewarded
    d_sanctioned, d_unjust, d_rewarded = own.sanctioned, own.unjust, own.rewarded
    everywhere = len(inside) == 0
    for i in prange(len(experience)):
        x = experience[i] * fade
        reached = everywhere or inside[i]
        if reached and not aware[i] and learn > 0.0 and uniform(key, 4 * np.int64(i) + 1) < learn:
            aware[i] = True
        if reached and aware[i]:
            x += drift
        s = status[i]
        if s > 0 and not was_sanctioned[i]:
            x += d_sanctioned + (d_unjust if s >= 2 else 0.0)
            aware[i] = True
        if rewarded[i] and not was_rewarded[i]:
            x += d_rewarded
            aware[i] = True
        experience[i] = x


@njit(cache=True)
def _refusals_kernel(ev_agent, ev_act, refused, d_refused, experience, aware):
    for e in range(len(ev_agent)):
        if refused[ev_act[e]]:
            i = ev_agent[e]
            experience[i] += d_refused
            aware[i] = True


@njit(cache=True)
def _contacts_kernel(key, hears, news, outcomes, ties, active, heard, experience, aware):
    """Each contact (over an active tie) of a person newly sanctioned or rewarded hears of it
    with probability ``hears`` (a draw keyed by the tie entry). Serial in person order: a
    contact's sum gets its additions in one fixed order."""
    status, rewarded = outcomes.status, outcomes.rewarded
    was_sanctioned, was_rewarded = outcomes.was_sanctioned, outcomes.was_rewarded
    d_sanc, d_unjust, d_reward = heard.sanctioned, heard.unjust, heard.rewarded
    row = np.empty(row_room(ties), ties.adj.dtype)
    for x in range(len(news)):
        prefetch_row(ties, active, news, x)
        j = news[x]
        d = 0.0
        if status[j] > 0 and not was_sanctioned[j]:
            d += d_sanc + (d_unjust if status[j] >= 2 else 0.0)
        if rewarded[j] and not was_rewarded[j]:
            d += d_reward
        if d == 0.0:
            continue
        first = row_start(ties, j)
        r, o, k = row_of(ties, j, row)
        for q in range(k):
            e = first + q
            if is_active(active, e) and uniform(key, 4 * np.int64(e) + 3) < hears:
                i = nbr_of(r[o + q])
                experience[i] += d
                aware[i] = True


def share_approving(logit: np.ndarray, among: np.ndarray) -> float | None:
    """Share with approval >= 0.5 among the persons in ``among`` (None if nobody)."""
    k = int(among.sum())
    return float((logit[among] >= 0).sum() / k) if k else None


__all__ = ["Approvals", "ApprovalState", "baseline", "share_approving"]
