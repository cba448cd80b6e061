"""The synthetic society reproduces its marginals and its memory layout."""

from __future__ import annotations

import numpy as np

from scoresim.network import build_firm_graph
from scoresim.population import (
    FIRM_BYTES,
    PERSON_BYTES,
    TRAIT_LEVELS,
    apportion,
    build_firms,
    build_persons,
    household_of,
    trait_values,
)
from scoresim.scenario import Network, Population


def test_marginals_and_layout():
    spec = Population(persons=60_000)
    p = build_persons(spec, 5)
    f = build_firms(spec, p, 5)
    assert abs(p.urban.mean() - 0.67) < 0.01
    assert abs(p.minority.mean() - 0.0889) < 0.01
    assert abs(p.internet.mean() - 0.786) < 0.01
    household = p.household_ids()
    sizes = np.bincount(household)
    assert abs(sizes.mean() - 2.62) < 0.08
    assert (np.diff(household) >= 0).all() and (np.diff(p.region.astype(int)) >= 0).all()
    # a household never spans two regions or urban/rural
    assert (np.bincount(household, weights=p.urban) % sizes == 0).all()
    # a person's byte of place and size gives its household's run
    starts = p.household_starts()
    assert sizes.max() <= 10 and len(starts) == len(sizes) + 1
    for i in np.random.default_rng(0).choice(p.n, 500, replace=False):
        assert household_of(p.home, i) == (starts[household[i]], starts[household[i] + 1])
    assert abs(f.n - 60_000 * 60.2 / 1408.28) <= 1
    assert set(np.unique(np.bincount(p.income_quintile))) <= {11_999, 12_000, 12_001}
    employed = p.employer >= 0
    assert (p.region[employed] == f.region[p.employer[employed]]).all()
    assert (f.legal_rep >= 0).all() and (f.legal_rep < p.n).all()
    assert p.nbytes() == PERSON_BYTES * p.n and f.nbytes() == FIRM_BYTES * f.n
    fg = build_firm_graph(Network(), f, 5)
    assert abs(fg.entries / f.n - 4.0) < 0.5


def test_same_seed_same_society_other_seed_other():
    spec = Population(persons=3000)
    a, b, c = build_persons(spec, 1), build_persons(spec, 1), build_persons(spec, 2)
    assert np.array_equal(a.base_income, b.base_income)
    assert not np.array_equal(a.base_income, c.base_income)


def test_apportion_is_exact():
    parts = apportion(1001, [1, 1, 1])
    assert parts.sum() == 1001 and parts.max() - parts.min() <= 1


def test_traits_are_held_in_a_byte_each_and_keep_their_beta_shape():
    """A trait is a level of 256 (the midpoint of its bin of [0, 1]): the five columns take a
    byte a person each, and their values keep the Beta shapes' means and spreads."""
    spec = Population(persons=60_000)
    p = build_persons(spec, 5)
    mid = trait_values(np.arange(TRAIT_LEVELS, dtype=np.uint8)).astype(np.float64)
    np.testing.assert_array_equal(mid, (np.arange(TRAIT_LEVELS) + 0.5) / TRAIT_LEVELS)
    for name in ("law_abidance", "financial_fragility", "expressiveness", "civic_virtue",
                 "risk_aversion"):  # fmt: skip
        levels = getattr(p, name)
        assert levels.dtype == np.uint8, name
        a, b = getattr(spec.traits, name)
        mean, sd = a / (a + b), np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        values = trait_values(levels).astype(np.float64)
        assert abs(values.mean() - mean) < 0.003, name  # se ~0.0008
        assert abs(values.std() - sd) < 0.003, name
        assert len(np.unique(levels)) > 100, name  # the levels are used, not a few


def test_a_persons_facts_read_back_as_their_draws():
    """Persons.facts packs five yes/no facts into a byte: each reads back as the draw it
    holds (a bit that overlapped another, or was lost to a cast, shows here); urban persons
    come first in each region, as laid out."""
    from scoresim.population import INTERNET, VPN_AT_START, has_flag
    from scoresim.rng import Stream, draws

    spec = Population(persons=20_000, minority_exact=False)
    p = build_persons(spec, 11)

    def col(k: int) -> np.ndarray:
        return draws(11, Stream.POPULATION, p.n, step=k)

    internet = col(5) < spec.internet_share
    want = {
        "minority": col(3) < spec.minority_share,
        "foreigner": col(4) < spec.foreigner_share,
        "internet": internet,
        "vpn": internet & (col(6) < spec.vpn_share),
    }
    for name, column in want.items():
        assert 0 < column.sum() < p.n, name  # each fact splits the persons
        assert np.array_equal(getattr(p, name), column), name
    assert p.facts.dtype == np.uint8 and p.urban.dtype == bool
    first_rural = [np.flatnonzero((p.region == r) & ~p.urban)[0] for r in np.unique(p.region)]
    for r, i in zip(np.unique(p.region), first_rural):
        assert p.urban[(p.region == r) & (np.arange(p.n) < i)].all()
    assert all(has_flag(p.facts, i, INTERNET) == internet[i] for i in range(0, p.n, 97))
    assert not (p.vpn & ~p.internet).any() and (p.facts & VPN_AT_START).any()
