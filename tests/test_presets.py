"""The shipped regimes run, compare fairly on one society, and the safeguards do what they say."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Stepped

from scoresim import Sim, presets
from scoresim.compare import compare
from scoresim.scenario import ScenarioError

ALL = sorted(presets())


def test_all_seven_presets_ship():
    """The seven regimes of MODEL.md §11, and the benchmark's reference model (W3)."""
    assert set(ALL) == {
        "article",
        "court-defaulters",
        "rongcheng",
        "sesame",
        "corporate",
        "eu-safeguards",
        "none",
        "reference",
    }


@pytest.mark.parametrize("name", ALL)
def test_every_preset_runs(name):
    s = Sim(name, n=3000, years=0.5, seed=2).run().summary()
    assert s["persons"] == 3000 and s["twin"]["ever_sanctioned_share"] == 0


def test_compare_equals_separate_runs_on_the_same_society():
    c = compare(["article", "eu-safeguards"], n=4000, years=1, seed=5)
    for name in ("article", "eu-safeguards"):
        alone = Sim(name, n=4000, years=1, seed=5).run().summary()
        assert c.summaries[name] == alone


def test_compare_refuses_presets_on_different_societies(tmp_path):
    other = tmp_path / "other.toml"
    other.write_text('extends = "article"\n[network]\ncommunity_degree = 4.0\n')
    with pytest.raises(ScenarioError, match="share one society"):
        compare(["article", str(other)], n=2000, years=0.2)


def test_eu_safeguards_reduce_harm_against_article():
    c = compare(["article", "eu-safeguards"], n=20000, years=2, seed=3)
    a, e = c.summaries["article"], c.summaries["eu-safeguards"]
    assert a["ever_sanctioned_share"] > 0 and e["ever_sanctioned_share"] > 0
    for key in (
        "wrongly_sanctioned_steps_share",
        "association_sanctioned_share",
        "unrelated_context_share",
        "ties_cut_share",
        "chilling_effect",
    ):
        assert e[key] < a[key], key


def test_safeguards_switch_off_association_speech_data_and_unrelated_sanctions():
    st = Stepped("eu-safeguards", n=4000, years=1, twin=False)
    for _ in st.steps():
        pass
    w = st.run
    assert np.all(w.ledger.assoc == 0)
    assert np.all(w.out.status != 3)  # nobody sanctioned by association
    totals = dict(zip(w.recorder.total_names, w.recorder.totals.sum(axis=0)))
    assert totals["records.intelligence"] == 0 and totals["records.social_media"] == 0
    assert totals["records.bank"] > 0


def test_notice_comes_before_listing():
    """Under a notice period nobody is listed earlier than `notice` steps after the warning,
    and a debtor who pays in the meantime is never listed."""
    over = {
        "behaviour": {"missed_payment": 3.0, "pays_by_deadline": 0.1},
        "regime": {"safeguards": {"notice_days": 42}},
    }
    st = Stepped("court-defaulters", overrides=over, n=8000, years=1.5, twin=False)
    reg = st.run.registry
    warned: dict[int, int] = {}
    joined_total = 0
    for t in st.steps():
        pend = reg.pending[0]
        for i in np.flatnonzero(pend == t):
            warned[int(i)] = t
        for i in np.flatnonzero(reg.member[0] & (reg.since[0] == t)):
            assert t - warned[int(i)] == 6
            joined_total += 1
    assert joined_total > 0 and reg.notices.sum() >= 0 and len(warned) > joined_total


def test_appeals_strike_false_records_within_capacity():
    names = tuple(Sim("article", n=10).scenario.sources)
    over = {
        "sources": {s: {"false_rate": 0.2} for s in names},
        "regime": {
            "lists": [{"name": "blacklist", "enter_below": 975.0}],
            "sanctions": [
                {"name": "no_flights", "on_list": "blacklist", "effect": "block_flights"}
            ],
            "safeguards": {"appeals": {"rate": 12.0, "success": 1.0, "capacity_per_100k_per_year": 400.0 * 365.25 / 7}},
        },
    }
    no_appeals = {"sources": over["sources"], "regime": {**over["regime"], "safeguards": {}}}
    st = Stepped(overrides=over, n=5000, years=1, twin=False)
    upheld = 0
    for _ in st.steps():
        led = st.run.ledger
        upheld += st.run.registry.appeals_upheld
        assert st.run.registry.appeals_heard <= 400 * 5000 / 1e5 + 1
    assert upheld > 0
    # an upheld appeal leaves only opaque false points behind
    struck = np.flatnonzero(led.struck_at >= 0)
    assert len(struck) > 0
    base = Sim("article", overrides=no_appeals, n=5000, years=1, seed=7, twin=False).run().summary()
    with_appeals = (
        Sim("article", overrides=over, n=5000, years=1, seed=7, twin=False).run().summary()
    )
    assert with_appeals["wrongly_sanctioned_steps_share"] < base["wrongly_sanctioned_steps_share"]


def test_court_list_mechanics():
    over = {"behaviour": {"missed_payment": 3.0, "pays_by_deadline": 0.1}}
    st = Stepped("court-defaulters", overrides=over, n=8000, years=2.5, twin=False)
    reg = st.run.registry
    for t in st.steps():
        m = reg.member[0]
        assert np.all(t - reg.since[0][m] < reg.term[0])
    s = Sim("court-defaulters", overrides=over, n=8000, years=2.5, seed=7).run().summary()
    assert s["ever_sanctioned_share"] > 0 and 0 < s["repaid_share"] < 1
    assert s["unrelated_context_share"] == 0  # every restriction is in context of the debt
    assert s["blocked_flights"] + s["blocked_rail"] > 0


def test_score_range_is_respected_by_grades():
    st = Stepped("sesame", n=3000, years=1, twin=False)
    for _ in st.steps():
        pass
    led = st.run.ledger
    shown = led.shown()
    assert shown.min() >= 350 and shown.max() <= 950
    total = led.base + led.own_true.astype(float) + led.own_false + led.assoc
    assert np.abs(led.score - total).max() < 0.05  # the components stay unclamped
