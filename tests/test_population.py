"""The synthetic society reproduces its marginals and its memory layout."""

from __future__ import annotations

import numpy as np

from scoresim.network import build_firm_graph
from scoresim.population import FIRM_BYTES, PERSON_BYTES, apportion, build_firms, build_persons
from scoresim.scenario import Network, Population


def test_marginals_and_layout():
    spec = Population(persons=60_000)
    p = build_persons(spec, 5)
    f = build_firms(spec, p, 5)
    assert abs(p.urban.mean() - 0.67) < 0.01
    assert abs(p.minority.mean() - 0.0889) < 0.01
    assert abs(p.internet.mean() - 0.786) < 0.01
    sizes = np.bincount(p.household)
    assert abs(sizes.mean() - 2.62) < 0.08
    assert (np.diff(p.household) >= 0).all() and (np.diff(p.region.astype(int)) >= 0).all()
    # a household never spans two regions or urban/rural
    assert (np.bincount(p.household, weights=p.urban) % sizes == 0).all()
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
