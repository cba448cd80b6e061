"""Pilots: a regime that applies in some regions only (docs/model.md §7.10.1).

A regime's ``pilot`` names its regions, or a share of them drawn once from the run's seed in
a fixed order (so a wider share keeps the regions of a narrower one). Persons and firms
outside are outside the system: no source covers them, their records are never made or
misattributed to them, association does not reach them, they are never listed or
sanctioned, and they do not feel watched. Whatever crosses a tie is not stopped at the
border — a listed contact inside may be avoided, a sanctioned one heard of, a partner firm
dropped — so spill-over across the pilot's border is part of what a run measures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rng import Stream, draws
from .scenario import Regime, Scenario, region_names
from .sources import Coverage


def regions_inside(sc: Scenario, regime: Regime) -> np.ndarray | None:
    """Per region, whether the regime applies there; None where it applies everywhere."""
    pilot = regime.pilot
    k = len(sc.population.region_weights)
    inside = np.zeros(k, bool)
    if pilot.regions:
        names = region_names(sc.population)
        inside[[names.index(r) for r in pilot.regions]] = True
    else:
        if pilot.share >= 1.0:
            return None
        take = int(round(pilot.share * k))
        if pilot.share > 0:
            take = max(1, take)
        order = np.argsort(draws(sc.run.seed, Stream.PILOT, k), kind="stable")
        inside[order[:take]] = True
    return None if inside.all() else inside


@dataclass
class Scope:
    """Who a pilot regime reaches, as masks over persons and firms."""

    regions: np.ndarray  # bool per region
    persons: np.ndarray  # bool per person: inside
    firms: np.ndarray  # bool per firm: inside
    outside: np.ndarray  # int64: the persons outside
    targets: np.ndarray  # int32: the persons inside (whom a misattributed record can name)
    firm_targets: np.ndarray  # int32: the firms inside

    @classmethod
    def of(cls, sc: Scenario, regime: Regime, persons, firms) -> Scope | None:
        inside = regions_inside(sc, regime)
        if inside is None:
            return None
        p, f = inside[persons.region], inside[firms.region]
        return cls(
            inside,
            p,
            f,
            np.flatnonzero(~p),
            np.flatnonzero(p).astype(np.int32),
            np.flatnonzero(f).astype(np.int32),
        )

    def coverage(self, cov: Coverage) -> Coverage:
        """What the sources see of a society when only those inside are covered."""
        zero = np.uint16(0)
        return Coverage(
            np.where(self.firms, cov.firms, zero),
            np.where(self.persons, cov.open, zero),
            cov.vpn_hidden,
        )
