"""Social response (docs/model.md §7.7): avoidance, employers, firms dropping partners.

Avoidance follows events, not people x edges: only the ties of visibly listed agents are
visited. A contact i of a visibly listed j cuts the tie with per-step probability
``1 - exp(-rate[layer] * dt) * publicity * risk_aversion[i]`` (``rate`` from the regime,
per layer: online ties go first, household ties almost never). A cut masks both directions of
the tie and updates the association sums of both ends, so nothing is rescanned.
The same kernel serves firms dropping listed partners (business layer, weight 1).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .jit import helper
from .network import (
    check_active,
    deactivate,
    entry_value,
    is_active,
    layer_of,
    nbr_of,
    reverse_of,
    row_room,
    row_span,
    row_start,
    rows_in,
)
from .parallel import row_slicing
from .population import trait
from .prefetch import prefetch_row
from .rng import uniform
from .sanctions import Earning, income_of, job_hazard_of
from .tally import NOWHERE, job_changed, move_income, tie_cut


def _weight_of(weight, j):
    """Contact j's weight: a trait held in levels (risk aversion: population.trait), or a
    value (a firm's weight)."""


@overload(_weight_of, inline="always")
def _weight_of_typed(weight, j):
    if isinstance(weight.dtype, types.Integer):
        return lambda weight, j: trait(weight[j])
    return lambda weight, j: weight[j]


@helper
def _draws_cut(v, e, rate, weight, key):
    """Whether the contact of entry ``e`` (its value ``v``) draws to cut the tie: a pure
    function of (key, e)."""
    p = rate[layer_of(v)] * _weight_of(weight, nbr_of(v))
    return p > 0.0 and uniform(key, e) < p


@njit(cache=True, parallel=True)
def _draw_cuts(sources, ties, active, rate, weight, key):
    """Pass 1, in parallel (each source owns its row): the active entries whose contact
    draws to cut the tie, with their sources, in source order then row order. Counted first,
    then written (the draws are pure, so the second walk draws the same)."""
    hits = np.zeros(len(sources) + 1, np.int64)
    slices, span = row_slicing(len(sources))
    for s in prange(slices):
        row = np.empty(row_room(ties), ties.adj.dtype)
        r = rows_in(ties, row)
        for x in range(s * span, min(len(sources), (s + 1) * span)):
            prefetch_row(ties, active, sources, x)
            j = sources[x]
            first = row_start(ties, j)
            c = 0
            o, n_q = row_span(ties, j, row)
            for q in range(n_q):
                e = first + q
                if is_active(active, e) and _draws_cut(r[o + q], e, rate, weight, key):
                    c += 1
            hits[x + 1] = c
    at = np.cumsum(hits)
    src = np.empty(at[-1], np.int64)
    ent = np.empty(at[-1], np.int64)
    for s in prange(slices):
        row = np.empty(row_room(ties), ties.adj.dtype)
        r = rows_in(ties, row)
        for x in range(s * span, min(len(sources), (s + 1) * span)):
            if at[x + 1] == at[x]:
                continue
            j = sources[x]
            first = row_start(ties, j)
            k = at[x]
            o, n_q = row_span(ties, j, row)
            for q in range(n_q):
                e = first + q
                if is_active(active, e) and _draws_cut(r[o + q], e, rate, weight, key):
                    src[k] = j
                    ent[k] = e
                    k += 1
    return src, ent


@njit(cache=True)
def _apply_cuts(
    src,
    ent,
    ties,
    active,
    own_true,
    own_false,
    listed,
    layer_w,
    track_own,
    sum_own,
    sum_w,
    listed_contacts,
    cuts,
    counts,
):
    """Pass 2, serial in the drawn order: cut the drawn ties (entry ``ent[k]`` of source
    ``src[k]``). A drawn entry whose tie was cut from the other end earlier in the order is
    inactive by then (both entries' bits are cleared), so the outcome is that of one serial
    pass that draws and cuts as it goes. Each end's loss goes into the kept ``counts``
    (tally.py)."""
    row = np.empty(row_room(ties), ties.adj.dtype)
    for k in range(len(ent)):
        e = ent[k]
        if not is_active(active, e):
            continue
        j = src[k]
        v = entry_value(ties, j, e, row)
        i = nbr_of(v)
        lay = layer_of(v)
        r = reverse_of(ties, j, v, row)
        deactivate(active, e)
        tie_cut(counts, ties, active, j)
        if r >= 0:
            deactivate(active, r)
            tie_cut(counts, ties, active, i)
        w = layer_w[lay]
        if track_own:  # own points, true and false, in float32
            sum_own[i] -= w * (own_true[j] + own_false[j])
            sum_own[j] -= w * (own_true[i] + own_false[i])
        sum_w[i] -= w
        sum_w[j] -= w
        if listed[j]:
            listed_contacts[i] -= 1
        if listed[i]:
            listed_contacts[j] -= 1
        cuts[lay] += 1


def cut_ties(
    sources: np.ndarray, graph, active, rate, weight, key, ledger, listed, cuts, counts=NOWHERE
) -> None:
    """Contacts of ``sources`` cut ties with them (see module doc); ``counts``: where the
    persons' kept tie counts go (tally.py; firms keep none)."""
    if len(sources) == 0 or not (rate > 0).any():
        return
    sources = sources.astype(np.int32)
    active = check_active(active, graph.entries)
    src, ent = _draw_cuts(sources, graph.ties, active, rate, weight, key)
    cut_entries(src, ent, graph, active, ledger, listed, cuts, counts)


def cut_entries(src, ent, graph, active, ledger, listed, cuts, counts=NOWHERE) -> None:
    """Cut the ties of entries ``ent`` (of sources ``src``) still active, in order (pass 2)."""
    if len(ent) == 0:
        return
    g = graph
    _apply_cuts(
        src,
        ent,
        g.ties,
        active,
        ledger.own_true,
        ledger.own_false,
        listed,
        ledger.layer_weights,
        ledger.associating and ledger.mean_weight > 0,
        ledger.sum_own,
        ledger.sum_w,
        ledger.listed_contacts,
        cuts,
        counts,
    )


@njit(cache=True, parallel=True)
def _employers_kernel(
    key,
    paid,
    employed,
    listed,
    base_loss,
    firing,
    finding,
    screening,
    dt,
    cell,
    by_thread,
    income,
):
    """``paid``: what income follows from (Earning; its ``employed`` is ``employed``, which
    this writes: read and written through the argument of its own)."""
    employer, bits, effects, strength = paid.employer, paid.bits, paid.effects, paid.strength
    for i in prange(len(employed)):
        if employer[i] < 0:
            continue  # outside the workforce (retired, self-employed, not working)
        u = uniform(key, i)
        was = employed[i]
        if was:
            h = base_loss + job_hazard_of(bits[i], effects, strength)
            h += firing if listed[i] else 0.0
        else:
            h = finding * ((1.0 - screening) if listed[i] else 1.0)
        if _below_chance(u, h * dt):
            employed[i] = not was
            job_changed(cell, by_thread, i, not was)
            move_income(cell, income, i, income_of(paid, i, was, bits[i]),
                        income_of(paid, i, not was, bits[i]))  # fmt: skip


@njit(inline="always", cache=True)
def _below_chance(u, x):
    """``u < 1 - exp(-x)`` (x >= 0), as computed in floating point, with the exponential
    formed only for the few ``u`` near the chance: x - x^2/2 <= 1 - exp(-x) <= x, and the
    computed value is within 1e-15 of the exact one, so a margin of 1e-12 decides the rest."""
    if u >= x + 1e-12:
        return False
    if u < x - 0.5 * x * x - 1e-12:
        return True
    return u < 1.0 - np.exp(-x)


def employers(key, paid: Earning, listed, behaviour, response, dt, counts=NOWHERE) -> None:
    """Employers let staff go (more so if listed, low-graded or sanctioned: ``paid``'s
    sanctions) and screen applicants by list and grade (``listed`` holds both). A person who
    finds a job again returns to the same firm's payroll [assume]. Each change, and the
    income it moves, goes into the kept ``counts`` (tally.py)."""
    _employers_kernel(
        key,
        paid,
        paid.employed,
        listed,
        behaviour.job_loss,
        response.employer_firing,
        behaviour.job_finding,
        response.employer_screening,
        dt,
        *counts,
    )


@helper
def earned(e, i):
    """Person i's income after job status, sanctions and rewards (float32; formed where it
    is read, not held in a column: sanctions.income_of)."""
    return income_of(e, i, e.employed[i], e.bits[i])


def income(earning: Earning) -> np.ndarray:
    """Every person's income (``earned``), as a new float32 array."""
    out = np.empty(len(earning.base_income), np.float32)
    _income_kernel(earning, out)
    return out


@njit(cache=True, parallel=True)
def _income_kernel(earning, out):
    for i in prange(len(out)):
        out[i] = earned(earning, i)


@njit(cache=True)
def _representatives_kernel(key, barred, listed, legal_rep, firm_region, region_starts, p_name):
    """Serial over firms (few, and the draws are keyed by firm): a firm whose representative
    is barred loses them; a firm without one names, with per-step probability ``p_name``, an
    adult of its region who is neither barred nor listed (up to 8 tries). Returns (firms that
    lost their representative, firms that named a new one)."""
    lost = 0
    named = 0
    for f in range(len(legal_rep)):
        rep = legal_rep[f]
        if rep >= 0:
            if barred[rep]:
                legal_rep[f] = -1
                lost += 1
            continue
        if uniform(key, 16 * f) >= p_name:
            continue
        lo, hi = region_starts[firm_region[f]], region_starts[firm_region[f] + 1]
        if hi <= lo:
            continue
        for attempt in range(1, 9):
            cand = lo + min(hi - lo - 1, int(uniform(key, 16 * f + attempt) * (hi - lo)))
            if not barred[cand] and not listed[cand]:
                legal_rep[f] = cand
                named += 1
                break
    return lost, named


def representatives(
    key, barred, listed, legal_rep, firm_region, region_starts, p_name
) -> tuple[int, int]:
    """Firms replace representatives barred from serving (docs/model.md §7.7, bar from being
    a legal representative): a barred person stops representing every firm they represent at
    once;
    each such firm names another adult of its region, neither barred nor listed, at a yearly
    rate (``response.representative_replacement``, per step ``p_name``), and has nobody to
    represent it until then — the firm is exposed (metrics count it). The person is not
    restored when the bar ends. A bar that came through a firm's listing lasts while that
    listing does (it lands on whoever answered for the firm when the listing began:
    sanctions.apply), so no other firm can name the person meanwhile, and the new
    representative is not answerable for it. [assume] the new representative is any adult
    of the region."""
    return _representatives_kernel(
        key, barred, listed, legal_rep, firm_region, region_starts, p_name
    )
