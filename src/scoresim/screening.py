"""Firms' safeguards (docs/model.md §7.7.6): partners screened by public rating, dropping
listed partners by requirement, and foreign-invested firms' contractual safeguards.

Each firm avoids partners among the worst-rated share ``q`` of firms, its own ``q`` drawn once
from a Beta distribution (``responses.screening``): where a regime publishes firms' scores,
a firm drops such a partner with a yearly hazard. Listed partners are dropped as before
(``regime.response.partner_drop``, a yearly hazard), or at once where the regime requires it
(``partner_drop_required``). A foreign-invested firm with a contractual safeguard is not
reached by a partner's listing: it keeps the partner (unless the regime requires dropping)
and its score is not pulled by its partners'. Drops are counted by reason.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import response
from .behaviour import per_step
from .jit import helper
from .network import is_active, nbr_of
from .rng import Stream, draws, stream_key, uniform
from .scenario import Regime, Scenario

LISTED, REQUIRED, RATING = range(3)
REASONS = ("listed", "required", "rating")


def avoid_shares(sc: Scenario, m: int, seed: int) -> np.ndarray:
    """Per firm, the share of the worst-rated firms it avoids: Beta(mean x c, (1 - mean) x c)
    drawn by inverse transform from the firm's own uniform (so a change of the mean moves
    every firm's threshold the same way)."""
    from scipy.special import betaincinv  # only when screening is on

    s = sc.responses.screening
    u = draws(seed, Stream.RESPONSE_TRAITS, m, step=1)
    if s.avoid_mean <= 0.0:
        return np.zeros(m, np.float32)
    if s.avoid_mean >= 1.0:
        return np.ones(m, np.float32)
    a, b = s.avoid_mean * s.avoid_spread, (1.0 - s.avoid_mean) * s.avoid_spread
    return betaincinv(a, b, u).astype(np.float32)


def safeguarded(sc: Scenario, foreign: np.ndarray, seed: int) -> np.ndarray:
    """Foreign-invested firms that hold contractual safeguards."""
    u = draws(seed, Stream.RESPONSE_TRAITS, len(foreign), step=2)
    return foreign & (u < sc.responses.screening.foreign_safeguards)


def publishes_firm_ratings(regime: Regime) -> bool:
    """Whether firms can see each other's scores: a public regime that scores firms."""
    firm_rules = regime.scoring.family != "none" and any(
        r.record.startswith("firm_") for r in regime.rules
    )
    return regime.publicity > 0 and firm_rules


@helper
def _avoids(adj, e, percentile, avoid_i, skip, p, key):
    """Whether a firm drops the partner at its active entry ``e`` by rating this step."""
    j = nbr_of(adj[e])
    return not skip[j] and percentile[j] < avoid_i and uniform(key, e) < p


@njit(cache=True)
def _drawn_by_rating(indptr, adj, active, percentile, avoid, skip, p, key):
    """The active partners' entries a firm avoids by rating and draws to drop this step, with
    the firms (in firm then row order; counted, then written). ``skip``: partners handled as
    listed."""
    total = 0
    for i in range(len(avoid)):
        for e in range(np.int64(indptr[i]), np.int64(indptr[i + 1])):
            if is_active(active, e) and _avoids(adj, e, percentile, avoid[i], skip, p, key):
                total += 1
    src = np.empty(total, np.int64)
    ent = np.empty(total, np.int64)
    k = 0
    for i in range(len(avoid)):
        for e in range(np.int64(indptr[i]), np.int64(indptr[i + 1])):
            if is_active(active, e) and _avoids(adj, e, percentile, avoid[i], skip, p, key):
                src[k] = i
                ent[k] = e
                k += 1
    return src, ent


def below(ranked: np.ndarray, x: np.ndarray) -> np.ndarray:
    """How many of ``ranked`` (ascending) lie below each of ``x``: np.searchsorted(ranked, x,
    "left"), with ``x`` looked up in ascending order (each search starts where the last one
    ended: 10x faster than searching in firm order at 4 x 10^4 firms)."""
    order = np.argsort(x)
    out = np.empty(len(x), np.int64)
    out[order] = np.searchsorted(ranked, x[order], "left")
    return out


class Screening:
    """One world's partner screening and its counts by reason."""

    def __init__(
        self, sc: Scenario, regime: Regime, society, dt: float, inside: np.ndarray | None = None
    ):
        s = sc.responses.screening
        self.inside = inside  # a pilot's firms: the only ones rated (None: all)
        self.on = s.enabled
        self.required = regime.response.partner_drop_required
        self.rating = s.enabled and s.rate > 0 and publishes_firm_ratings(regime)
        self.p_rating = per_step(s.rate, dt)
        self.avoid = society.firm_avoid
        # who a partner's listing reaches: everybody, but the safeguarded (unless required)
        self.immune = society.safeguarded if s.enabled else np.zeros(len(self.avoid), bool)
        self.listed_weight = np.where(self.immune & ~self.required, 0.0, 1.0).astype(np.float32)
        # per-step chance of dropping a visibly listed partner, per layer (business only)
        listed = 1.0 if self.required else per_step(regime.response.partner_drop, dt)
        self.rates = np.array([0, 0, 0, 0, listed])
        self.dropped = np.zeros(3, np.int64)

    def drop(self, t, seed, graph, active, ledger, registry, cuts) -> None:
        visible = registry.visible
        before = int(cuts[4])
        response.cut_ties(
            np.flatnonzero(visible),
            graph,
            active,
            self.rates,
            self.listed_weight,
            stream_key(seed, Stream.PARTNER, t),
            ledger,
            registry.listed,
            cuts,
        )
        self.dropped[REQUIRED if self.required else LISTED] += int(cuts[4]) - before
        if not self.rating:
            return
        shown = ledger.shown()
        rated = shown if self.inside is None else shown[self.inside]
        percentile = (below(np.sort(rated), shown) / max(1, len(rated))).astype(np.float32)
        if self.inside is not None:  # a firm outside a pilot has no rating to avoid
            percentile[~self.inside] = 1.0
        key = stream_key(seed, Stream.SCREENING, t)
        src, ent = _drawn_by_rating(  # (the firms' rows are stored whole: Graph.stored)
            graph.indptr, graph.stored, active, percentile, self.avoid, visible, self.p_rating, key
        )
        before = int(cuts[4])
        response.cut_entries(src, ent, graph, active, ledger, registry.listed, cuts)
        self.dropped[RATING] += int(cuts[4]) - before
