"""Mechanisms that had no test of their own: who the sources can see (VPN users, foreigners),
firms dropping partners, employers firing and screening, deterrence, the household
spill-over of a school ban, and the arithmetic of disparate impact, income loss and the
inspection ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import Stepped

from scoresim import Sim, load_scenario
from scoresim.metrics import (
    AT_LINE,
    DISPARITY_PAIRS,
    FAILS,
    PASSES,
    TOO_SMALL,
    disparate_impact,
    disparate_impact_intervals,
    flagged,
)
from scoresim.network import active_flags
from scoresim.population import build_firms, build_persons
from scoresim.sources import coverage_bits, with_vpn


def _within(share: float, p: float, n: int, z: float = 4.0) -> bool:
    return abs(share - p) <= z * np.sqrt(p * (1 - p) / n) + 1e-12


def test_vpn_users_and_foreigners_are_covered_as_the_sources_say():
    sc = load_scenario("article").model_copy(deep=True)
    sc.population.persons = 200_000
    sc.population.foreigner_share = 0.2  # enough foreigners to measure
    persons = build_persons(sc.population, 3)
    firms = build_firms(sc.population, persons, 3)
    cov = coverage_bits(sc, persons, firms, 3)
    bits = with_vpn(cov.open, cov.vpn_hidden, persons.vpn)  # what the sources see at the start
    names = list(sc.sources)
    social, bank = sc.sources["social_media"], sc.sources["bank"]
    seen = (bits >> names.index("social_media")) & 1 == 1
    native, foreign = ~persons.foreigner, persons.foreigner
    users = persons.internet & ~persons.vpn
    vpn = persons.vpn
    assert not seen[~persons.internet].any()  # an online source sees internet users only
    cov = social.coverage
    assert _within(seen[users & native].mean(), cov, int((users & native).sum()))
    hidden = cov * (1 - social.vpn_hidden)
    assert _within(seen[vpn & native].mean(), hidden, int((vpn & native).sum()))
    banked = (bits >> names.index("bank")) & 1 == 1
    assert _within(banked[native].mean(), bank.coverage, int(native.sum()))
    part = bank.coverage * bank.foreign_coverage
    assert _within(banked[foreign].mean(), part, int(foreign.sum()))


def test_firms_drop_only_listed_partners_at_their_rate():
    """Every business tie cut has a visibly listed firm at one end, and the ties cut per step
    match the drop hazard over the listed firms' active ties."""
    drop = 2.0
    over = {
        "regime": {"response": {"partner_drop": drop}},
        "responses": {"screening": {"enabled": False}},  # no drops by rating (test_responses)
    }
    st = Stepped("corporate", overrides=over, n=40_000, years=1.5, twin=False)
    w = st.run
    g = w.s.firm_graph
    rows = np.repeat(np.arange(g.n), np.diff(g.indptr))
    p = 1 - np.exp(-drop * w.dt)  # per step and tie of a listed firm (firms weigh 1)
    expected = cut = 0.0
    before = active_flags(w.firm_active, g.entries)
    for _ in st.steps():
        now = active_flags(w.firm_active, g.entries)
        gone = np.flatnonzero(before & ~now)
        visible = w.firm_registry.visible
        assert np.all(visible[rows[gone]] | visible[g.nbr[gone]])
        cut += len(gone) / 2  # both entries of a tie
        expected += p * (before & visible[rows]).sum()
        before = now
    assert cut > 30
    assert abs(cut - expected) < 5 * np.sqrt(expected) + 0.05 * expected, (cut, expected)


def test_employers_fire_and_screen_the_listed():
    over = {
        "regime": {
            "lists": [{"name": "blacklist", "enter_below": 985.0}],
            "sanctions": [],
            "response": {
                "employer_firing": 3.0,
                "employer_screening": 0.8,
                "visible_low_grades": [],
            },  # fmt: skip
        }
    }
    st = Stepped("article", overrides=over, n=20_000, years=1, twin=False)
    w, p = st.run, st.sim.society.persons
    b = st.sim.scenario.behaviour
    counts = {k: [0, 0] for k in ("fire_listed", "fire_other", "hire_listed", "hire_other")}
    for _ in st.steps():
        if _ == 0:
            was = w.state.employed.copy()
            continue
        listed = w.registry.listed
        worker = p.employer >= 0
        for name, mask in (
            ("fire_listed", was & worker & listed),
            ("fire_other", was & worker & ~listed),
            ("hire_listed", ~was & worker & listed),
            ("hire_other", ~was & worker & ~listed),
        ):
            changed = mask & (w.state.employed != was)
            counts[name][0] += int(changed.sum())
            counts[name][1] += int(mask.sum())
        was = w.state.employed.copy()
    dt = w.dt
    for name, rate in (
        ("fire_listed", b.job_loss + 3.0),
        ("fire_other", b.job_loss),
        ("hire_listed", b.job_finding * 0.2),
        ("hire_other", b.job_finding),
    ):
        k, trials = counts[name]
        assert trials > 2000, name
        assert _within(k / trials, 1 - np.exp(-rate * dt), trials), (name, k / trials)


def test_deterrence_scales_with_its_maximum_and_needs_a_source_that_sees_violations():
    def effect(over):
        over["responses"] = {"policing": {"enabled": False}}  # contacts' pressure deters too
        return (
            Sim("article", overrides=over, n=10_000, years=1, seed=2)
            .run()
            .summary()["deterrence_effect"]
        )

    none = effect({"regime": {"adaptation": {"deter_max": 0.0}}})
    low = effect({"regime": {"adaptation": {"deter_max": 0.2}}})
    high = effect({"regime": {"adaptation": {"deter_max": 0.4}}})
    blind = effect(
        {
            "regime": {
                "adaptation": {"deter_max": 0.4},
                "safeguards": {"excluded_sources": ["police", "courts", "bank", "intelligence"]},
            }
        }
    )
    assert none == 0.0 and blind == 0.0
    assert 0 < low < high
    assert abs(high / low - 2.0) < 0.3  # about linear in the maximum


def test_a_school_ban_spills_over_to_the_whole_household():
    over = {
        "regime": {
            "lists": [{"name": "blacklist", "enter_below": 990.0}],
            "sanctions": [{"name": "school", "on_list": "blacklist", "effect": "block_school"}],
        }
    }
    st = Stepped("article", overrides=over, n=8000, years=0.5, twin=False)
    w, p = st.run, st.sim.society.persons
    spilled = 0
    for _ in st.steps():
        banned = w.out.block_school
        hh_banned = pd.Series(banned).groupby(p.household_ids()).transform("any").to_numpy()
        want = hh_banned & ~banned  # the others of a household with a banned member
        np.testing.assert_array_equal(w.spill, want)
        spilled += int(want.sum())
    assert spilled > 100


def test_disparate_impact_arithmetic_and_the_four_fifths_rule():
    rates = {g: 0.1 for pair in DISPARITY_PAIRS.items() for g in pair}
    rates |= {"rural": 0.05, "minority": 0.13, "foreigner": 0.124, "income_q1": 0.2}
    rates |= {"female": 0.0801, "age_60_plus": float("nan")}
    rates["income_q5"] = 0.0
    ratios = disparate_impact(rates)
    assert ratios["rural"] == pytest.approx(0.5) and ratios["minority"] == pytest.approx(1.3)
    assert ratios["foreigner"] == pytest.approx(1.24) and ratios["female"] == pytest.approx(0.801)
    assert ratios["income_q1"] is None and ratios["age_60_plus"] is None  # undefined
    assert sorted(flagged(ratios)) == ["minority", "rural"]  # 0.801 and 1.24 pass
    # and a run's ratios are its groups' ever-sanctioned rates, divided
    res = Sim("article", n=10_000, years=1, seed=5, twin=False)
    res.build()
    out = res.run()
    w = res.worlds[0]
    p = res.society.persons
    ever = (w.recorder.ever & 1) > 0
    want = ever[p.urban == 0].mean() / ever[p.urban == 1].mean()
    assert out.summary()["disparate_impact"]["rural"] == pytest.approx(want, rel=1e-9)


def test_disparate_impact_intervals_cover_the_true_ratio_and_decide_only_when_clear():
    """Katz's interval for a ratio of two binomial rates covers the true ratio about 95 % of
    the time; a verdict is given only when the interval lies wholly on one side of a
    four-fifths line, and a group of a dozen persons is too small to tell."""
    rng = np.random.default_rng(7)
    n1, n2, p1, p2 = 400, 3000, 0.06, 0.05  # true ratio 1.2
    covered = 0
    for _ in range(2000):
        a, c = int(rng.binomial(n1, p1)), int(rng.binomial(n2, p2))
        e = disparate_impact_intervals({"rural": (a, n1), "urban": (c, n2)})["rural"]
        covered += e["low"] <= 1.2 <= e["high"]
    assert 0.93 <= covered / 2000 <= 0.97

    def verdict(a, n1, c, n2):
        return disparate_impact_intervals({"foreigner": (a, n1), "native": (c, n2)})["foreigner"]

    assert verdict(1, 12, 1000, 20_000)["verdict"] == TOO_SMALL  # ratio 1.7 but 12 persons
    assert verdict(1, 16, 100, 19_984)["verdict"] == TOO_SMALL  # 12.5 from one person
    for a, n, c in ((0, 1, 1000), (1, 1, 1000), (0, 12, 1000), (3, 3, 10_000)):  # a handful
        e = verdict(a, n, c, 20_000)
        assert e["verdict"] == TOO_SMALL and e["low"] <= (a / n) / (c / 20_000) <= e["high"]
    assert verdict(3, 3, 1000, 20_000)["verdict"] == FAILS  # 3 of 3 where 1 in 20 is: clear
    assert verdict(500, 10_000, 5000, 50_000)["verdict"] == FAILS  # ratio 0.5
    assert verdict(2000, 20_000, 10_000, 100_000)["verdict"] == PASSES  # ratio 1.0
    near = verdict(1200, 10_000, 10_000, 100_000)  # 1.2, an interval narrower than the band
    assert near["verdict"] == AT_LINE and near["low"] < 1.25 < near["high"]
    assert verdict(0, 0, 10, 100)["low"] is None  # nobody in the group
    assert verdict(50, 1000, 0, 100_000)["verdict"] == TOO_SMALL  # reference: nobody, no ratio


def test_a_run_flags_only_groups_whose_interval_clears_the_band():
    """In a 20,000-person run the foreigners (a dozen or so) are never flagged, and every
    flagged group's interval lies outside the band."""
    s = Sim("article", n=20_000, years=1, seed=3).run().summary()
    tests = s["disparate_impact_interval"]
    assert tests["foreigner"]["persons"] < 50 and tests["foreigner"]["verdict"] == TOO_SMALL
    assert "foreigner" in flagged(s["disparate_impact"])  # the bare ratio would flag them
    assert "foreigner" not in s["disparate_impact_flagged"]
    for g in s["disparate_impact_flagged"]:
        assert tests[g]["high"] < 0.8 or tests[g]["low"] > 1.25
    for g, e in tests.items():
        assert e["low"] <= s["disparate_impact"][g] <= e["high"]


def test_income_loss_is_the_share_the_sanctions_take():
    """Everyone listed from the start, each losing 10 % of income and nothing else: the run
    loses exactly 10 % of the twin's income."""
    over = {
        "regime": {
            "lists": [{"name": "everyone", "enter_below": 1e6}],
            "sanctions": [
                {"name": "tax", "on_list": "everyone", "effect": "income_loss", "strength": 0.1}
            ],
            "response": {"employer_firing": 0.0, "employer_screening": 0.0},
        }
    }
    s = Sim("article", overrides=over, n=5000, years=0.5, seed=1).run().summary()
    assert s["income_loss_share"] == pytest.approx(0.1, abs=2e-3)


@pytest.mark.parametrize("best, worst", [(0.5, 4.0), (0.057, 8.476)])
def test_inspection_ratio_is_worst_over_best(best, worst):
    over = {"regime": {"sanctions": [
        {"name": "a", "on_grades": ["A"], "subject": "firm", "effect": "raise_inspection",
         "strength": best, "context": "business"},
        {"name": "d", "on_grades": ["D"], "subject": "firm", "effect": "raise_inspection",
         "strength": worst, "context": "business"},
    ]}}  # fmt: skip
    s = Sim("corporate", overrides=over, n=20_000, years=1, seed=1, twin=False).run().summary()
    assert s["inspection_ratio"] == pytest.approx(worst / best, rel=1e-5)
    none = {"regime": {"sanctions": []}}
    s = Sim("corporate", overrides=none, n=20_000, years=1, seed=1, twin=False).run().summary()
    assert s["inspection_ratio"] == pytest.approx(1.0)


def test_employers_decide_each_person_as_the_plain_chance_does():
    """The employers' step decides ``u < 1 - exp(-h dt)`` without the exponential for draws
    clearly away from the chance: every person's outcome equals the plain formula's, for
    draws spread over every hazard and for draws within a few units in the last place of
    the chance, on both sides (response._below_chance). The plain formula is compiled as
    the kernel was: numpy's exponential may differ from it in the last place."""
    import numba
    from numba import njit

    from scoresim.response import _below_chance, _employers_kernel, income
    from scoresim.rng import uniforms_at
    from scoresim.sanctions import JOB, Earning, Outcome, Sanctioned
    from scoresim.tally import EMPLOYED, INCOME_BINS, TALLIED, income_sums

    @njit
    def plain(u, x):
        out = np.empty(len(u), np.bool_)
        for k in range(len(u)):
            out[k] = u[k] < 1.0 - np.exp(-x[k])
        return out

    @njit
    def chances(x):
        return np.array([1.0 - np.exp(-v) for v in x])

    rng = np.random.default_rng(11)
    x = np.concatenate([[0.0, 1e-300, 1e-9], 10.0 ** rng.uniform(-8, 1.3, 3000)])
    chance = chances(x)
    near = [np.nextafter(chance, 2.0 * (k > 0) - 1.0) if k else chance for k in (-1, 0, 1)]
    for u in (*near, rng.random(len(x)), x, x - x * x / 2, chance * rng.uniform(0.9, 1.1)):
        got = np.array([_below_chance(a, b) for a, b in zip(u, x, strict=True)])
        np.testing.assert_array_equal(got, plain(u, x))
    n, dt, key = 20_000, 1 / 52, np.uint64(2024)
    employer = np.where(rng.random(n) < 0.8, 3, -1).astype(np.int32)
    employed, listed = rng.random(n) < 0.9, rng.random(n) < 0.3
    # sixteen job-loss sanctions, some of them each: hazards wide, so both sides are common
    out = Outcome.zeros(n)
    out.bits[:] = rng.integers(0, 1 << 16, n)
    out.effects[JOB], out.strength[:] = 0xFFFF, rng.uniform(0.0, 5.0, 16)
    hazard = out.job_hazard  # (each a sum of strengths, as the sanctions' step formed it)
    assert hazard.min() < 5.0 and hazard.max() > 40.0
    loss, firing, finding, screening = 0.1, 5.0, 30.0, 0.4
    after = employed.copy()
    base = rng.lognormal(10, 1, n).astype(np.float32)
    paid = Earning(base, employer, after, np.zeros(n, np.uint8), np.float32(0.4),
                   *Sanctioned.of(out))  # fmt: skip
    before = income(paid._replace(employed=employed))
    cell = (np.arange(n) % 7).astype(np.int16)  # the kept sums (tally.py), by a cell
    threads = numba.config.NUMBA_NUM_THREADS
    kept = np.zeros((threads, 7, len(TALLIED)), np.int64)
    bins = np.zeros((threads, 7, INCOME_BINS), np.int64)
    _employers_kernel(
        key, paid, after, listed, loss, firing, finding, screening, dt, cell, kept, bins
    )
    u = uniforms_at(key, np.arange(n, dtype=np.int64))
    h_loss = loss + hazard.astype(np.float64) + np.where(listed, firing, 0.0)
    h_find = finding * np.where(listed, 1.0 - screening, 1.0)
    h = np.where(employed, h_loss, h_find)
    flips = (employer >= 0) & plain(u, h * dt)
    assert 0 < flips.sum() < n / 2
    np.testing.assert_array_equal(after, employed ^ flips)
    moved = np.bincount(cell, (after & (employer >= 0)).astype(int), 7) - np.bincount(
        cell, (employed & (employer >= 0)).astype(int), 7
    )
    np.testing.assert_array_equal(kept.sum(axis=0)[:, EMPLOYED], moved)
    gained = income(paid).astype(np.float64) - before  # (the new incomes, less the old)
    np.testing.assert_allclose(
        income_sums(bins.sum(axis=0)), np.bincount(cell, gained, 7), rtol=1e-12
    )


def test_records_wait_for_their_sources_latency_in_the_order_made():
    """A step's records are held until their source's latency has passed: each part holds
    exactly the records of one latency, in the order they were made (what a mask per latency
    gives), and a batch whose sources share one latency is held whole."""
    from scoresim.sources import Records, SourceSet

    sc = load_scenario("article")
    sources = SourceSet(sc, list(sc.sources))
    lat = sources.latency
    assert len(np.unique(lat)) >= 3
    rng = np.random.default_rng(5)
    m = 5000
    recs = Records(
        rng.integers(0, 10**6, m).astype(np.int32),
        rng.integers(0, 40, m).astype(np.uint8),
        rng.integers(0, len(lat), m).astype(np.uint8),
        rng.random(m) < 0.9,
    )
    sources._hold(10, recs)
    assert sorted(sources.pending) == sorted(10 + int(d) for d in np.unique(lat))
    for d in np.unique(lat):
        (part,) = sources.pending[10 + int(d)]
        mask = lat[recs.source] == d
        for col in ("subject", "act", "source", "true"):
            np.testing.assert_array_equal(getattr(part, col), getattr(recs, col)[mask])
    # latencies of daily steps (up to 3650 days) and beyond what 16 bits hold
    for wide in ([0, 3, 300, 1000, 3650], [1, 70_000, 300, 65_536, 0]):
        sources.latency = np.resize(np.array(wide, np.int64), len(lat))
        sources.pending.clear()
        sources._hold(10, recs)
        for d in np.unique(sources.latency):
            (part,) = sources.pending[10 + int(d)]
            mask = sources.latency[recs.source] == d
            np.testing.assert_array_equal(part.subject, recs.subject[mask])
            np.testing.assert_array_equal(part.true, recs.true[mask])
    sources.latency = lat
    one = recs.take(lat[recs.source] == lat.max())
    sources.pending.clear()
    sources._hold(3, one)
    later = 3 + int(lat.max())
    assert list(sources.pending) == [later] and sources.pending[later][0] is one
