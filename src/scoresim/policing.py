"""Policing one's own: collective sanctions (docs/model.md §7.7.5; Heckathorn 1988, 1990).

Where a regime's penalties reach a person's contacts — the association term (their score
falls with one's own), a household spill-over (their children barred from private schools) —
those contacts have a stake in the person's conduct and respond to it. When a person
offends (a true record of an act of some gravity, from a source whose records can be seen,
which the contacts hear of as it costs them), the sharing contacts who feel watched press
them to comply: a person not yet pressed becomes pressed with chance ``1 - exp(-strength x
the sum of the sharing contacts' felt surveillance)``. Pressure lapses at a yearly rate. A
pressed person cuts their violation and default hazards by ``comply`` (behaviour.py). A
pressed person who offends anyway loses ties: each sharing contact cuts with chance ``cut``
x their risk aversion (response.py's kernel). With no sharing layer (no association, no
spill-over) nobody is pressed.

A firm's legal representative shares the firm's penalties where the regime's firm sanctions
reach representatives: the representative, as watched as they feel, presses the firm that
offends in the same way, and a pressed firm cuts its violation and arrears hazards by
``comply``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import response
from .acts import VPN_USE
from .behaviour import per_step
from .effects import EFFECT_ID
from .network import (
    LAYER_NAMES,
    is_active,
    layer_of,
    nbr_of,
    row_room,
    row_span,
    row_start,
    rows_in,
)
from .parallel import row_slicing
from .rng import Stream, stream_key, uniform, uniforms_at
from .scenario import Regime, Scenario, association_on
from .scoring import ACT_GRAVITY
from .tally import NOWHERE


def sharing_layers(regime: Regime) -> np.ndarray:
    """Per person layer (household, work, community, online, business): do contacts in it
    share a person's penalties? Through the association term (its layers with weight > 0),
    and through a household spill-over (a sanction that bars the household's children)."""
    share = np.zeros(len(LAYER_NAMES), bool)
    a = regime.association
    if association_on(regime) and (a.mean_weight > 0 or a.listed_penalty != 0):
        for layer, w in a.layer_weights.items():
            share[LAYER_NAMES.index(layer)] = w > 0
    school = EFFECT_ID["block_school"]
    if any(EFFECT_ID[s.effect] == school and s.subject == "person" for s in regime.sanctions):
        share[LAYER_NAMES.index("household")] = True
    share[LAYER_NAMES.index("business")] = False  # firms' ties are not persons'
    return share


@njit(cache=True, parallel=True)
def _felt(offenders, ties, active, share, watched):
    """Per offender, the summed felt surveillance of the contacts who share their penalties."""
    out = np.zeros(len(offenders), np.float64)
    slices, span = row_slicing(len(offenders))
    for s in prange(slices):
        row = np.empty(row_room(ties), ties.adj.dtype)
        r = rows_in(ties, row)
        for x in range(s * span, min(len(offenders), (s + 1) * span)):
            i = offenders[x]
            first = row_start(ties, i)
            o, k = row_span(ties, i, row)
            for q in range(k):
                if is_active(active, first + q) and share[layer_of(r[o + q])]:
                    out[x] += watched[nbr_of(r[o + q])]
    return out


def offences(recs, opaque: np.ndarray, distinct=np.unique) -> np.ndarray:
    """Subjects of this step's offences that contacts can know of: true records of an act of
    some gravity, from a source whose records can be seen; VPN use is not one (it is
    hidden from contacts as well). ``distinct``: np.unique or an equal, faster one."""
    seen = recs.true & (ACT_GRAVITY[recs.act] > 0) & ~opaque[recs.source]
    seen &= recs.act != VPN_USE
    return distinct(recs.subject[seen]).astype(np.int64)


def pressing(sc: Scenario, regime: Regime) -> bool:
    """Whether contacts press persons under ``regime`` (policing is on)."""
    pol = sc.responses.policing
    return pol.enabled and pol.strength > 0 and bool(sharing_layers(regime).any())


class Policing:
    """One world's policing: who is pressed, since when, and the ties cut over offences."""

    def __init__(self, sc: Scenario, regime: Regime, n: int, m: int, steps: type = np.int32):
        pol = sc.responses.policing
        self.share = sharing_layers(regime) if pol.enabled else np.zeros(5, bool)
        self.on = pressing(sc, regime)
        reaching = any(s.subject == "representative" for s in regime.sanctions)
        self.firms_on = pol.enabled and pol.strength > 0 and reaching and association_on(regime)
        self.strength = pol.strength
        self.p_lapse = per_step(pol.lapses, sc.step_years)
        self.cut_rate = np.where(self.share, pol.cut, 0.0)
        # the step each person was first pressed (``never``: not yet), in the integer of a
        # world's steps (sim.step_type); none where policing has never been on
        self.n, self.never = n, steps(np.iinfo(steps).max)
        self.first = self.nobody_pressed() if self.on else np.empty(0, steps)
        self.firm_pressed = np.zeros(m, bool)
        self.firms_ever = 0  # firms ever pressed by their representative
        self._firm_ever = np.zeros(m if self.firms_on else 0, bool)
        self.cuts = 0  # ties cut over offences, over the run

    def nobody_pressed(self) -> np.ndarray:
        """A ``first`` column of nobody pressed yet."""
        return np.full(self.n, self.never, type(self.never))

    @property
    def ever(self) -> np.ndarray:
        if len(self.first) == 0:
            return np.zeros(self.n, bool)
        return self.first != self.never

    def respond(self, t, seed, recs, opaque, state, graph, active, risk_aversion, ledger,
                listed, cuts, counts=NOWHERE) -> None:  # fmt: skip
        """This step's offences: the pressed who offended anyway lose ties (into the kept
        ``counts``, tally.py), the others may be pressed; then pressure lapses for some of
        those pressed before."""
        if not self.on:  # no policing (any more): those pressed before are let go in time
            if state.pressured.any():
                self._lapse(state.pressured, np.flatnonzero(state.pressured),
                            stream_key(seed, Stream.POLICING, t))  # fmt: skip
            return
        pressed = state.pressured
        before = np.flatnonzero(pressed)
        key = stream_key(seed, Stream.POLICING, t)
        offenders = offences(recs, opaque, ledger.distinct)
        again = offenders[pressed[offenders]]
        first = offenders[~pressed[offenders]]
        if len(again) and self.cut_rate.max() > 0:
            total = int(cuts[:4].sum())
            response.cut_ties(
                again,
                graph,
                active,
                self.cut_rate,
                risk_aversion,
                stream_key(seed, Stream.POLICING_CUT, t),
                ledger,
                listed,
                cuts,
                counts,
            )
            self.cuts += int(cuts[:4].sum()) - total
        if len(first):
            felt = _felt(first, graph.ties, active, self.share, state.watched)
            hit = first[uniforms_at(key, 2 * first) < 1.0 - np.exp(-self.strength * felt)]
            pressed[hit] = True
            self.first[hit] = np.minimum(self.first[hit], t)
        self._lapse(pressed, before, key)

    def _lapse(self, pressed, before, key) -> None:
        """Pressure lapses for some of those pressed before this step."""
        _lapse_kernel(pressed, before, key, self.p_lapse)

    def respond_firms(self, t, seed, frecs, opaque, legal_rep, watched) -> None:
        """Firms that offended may be pressed by their representative (as watched as they
        feel); pressure on firms lapses as on persons."""
        if not self.firms_on:
            if self.firm_pressed.any():
                self._lapse(self.firm_pressed, np.flatnonzero(self.firm_pressed),
                            stream_key(seed, Stream.POLICING + Stream.FIRM_OFFSET, t))  # fmt: skip
            return
        pressed = self.firm_pressed
        before = np.flatnonzero(pressed)
        key = stream_key(seed, Stream.POLICING + Stream.FIRM_OFFSET, t)
        offenders = offences(frecs, opaque)
        first = offenders[~pressed[offenders]]
        rep = legal_rep[first]
        felt = np.where(rep >= 0, watched[np.maximum(rep, 0)], 0.0)
        hit = first[uniforms_at(key, 2 * first) < 1.0 - np.exp(-self.strength * felt)]
        pressed[hit] = True
        self._firm_ever[hit] = True
        self.firms_ever = int(self._firm_ever.sum())
        self._lapse(pressed, before, key)


@njit(cache=True)
def _lapse_kernel(pressed, before, key, p_lapse):
    """Pressure lapses for each of ``before`` with chance ``p_lapse`` (counter 2i + 1 of the
    step's key): drawn where it is read, no column of draws for those pressed."""
    for i in before:
        if uniform(key, 2 * i + 1) < p_lapse:
            pressed[i] = False
