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
    """The seven regimes of docs/model.md §1.3, the benchmark's reference model (W3), and the
    scheduled scenarios (docs/model.md §7.10) and the lending studies (§7.12)."""
    assert set(ALL) == {
        "lending-liu2018",
        "lending-damour2020",
        "repeal",
        "article-rollout",
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
    assert s["persons"] == 3000
    if s["twin"] is None:  # the lending studies run without a twin
        assert name.startswith("lending-") and s["lending"]["minority"]["applicants"] > 0
    else:
        assert s["twin"]["ever_sanctioned_share"] == 0


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
        "sanctioned_association_only_share",
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
    joined_total = notices = warnings = 0
    for t in st.steps():
        pend = reg.pending[0]
        fresh = np.flatnonzero(pend == t)
        for i in fresh:
            warned[int(i)] = t
        warnings += len(fresh)
        notices += int(reg.notices[0])  # the count the outputs report: one per warning
        for i in np.flatnonzero(reg.member[0] & (reg.since[0] == t)):
            assert t - warned[int(i)] == 6
            joined_total += 1
    assert notices == warnings
    assert joined_total > 0 and len(warned) > joined_total


def test_appeals_strike_false_records_within_capacity():
    names = tuple(Sim("article", n=10).scenario.sources)
    over = {
        "sources": {s: {"false_rate": 0.2} for s in names},
        "regime": {
            "lists": [{"name": "blacklist", "enter_below": 975.0}],
            "sanctions": [
                {"name": "no_flights", "on_list": "blacklist", "effect": "block_flights"}
            ],
            "safeguards": {
                "appeals": {
                    "rate": 12.0,
                    "success": 1.0,
                    "capacity_per_100k_per_year": 400.0 * 365.25 / 7,
                }
            },
        },
    }
    no_appeals = {"sources": over["sources"], "regime": {**over["regime"], "safeguards": {}}}
    st = Stepped(overrides=over, n=5000, years=1, twin=False)
    upheld = kept_opaque = 0
    for t in st.steps():
        led = st.run.ledger
        upheld += st.run.registry.appeals_upheld
        assert st.run.registry.appeals_heard <= 400 * 5000 / 1e5 + 1
        # an upheld appeal leaves only the false points of opaque sources behind
        now = np.flatnonzero(led.struck_at == t)
        np.testing.assert_array_equal(led.own_false[now], led.false_opaque[now])
        kept_opaque += int((led.false_opaque[now] < 0).sum())
    assert upheld > 0
    assert kept_opaque > 0  # and some of those struck kept opaque points: they stay
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


def test_grades_and_thresholds_read_the_clamped_score():
    """Sesame shows 350-950: a raw score far below 350 is shown as 350, so it is graded on 350
    and a list entered below 345 does not take it, while the components stay unclamped."""
    from scoresim.scoring import grade_of
    from scoresim.sources import Records

    over = {"regime": {"lists": [{"name": "low", "enter_below": 345.0}]}}
    st = Stepped("sesame", overrides=over, n=3000, years=0.1, twin=False)
    w = st.run
    led, reg = w.ledger, w.registry
    low, high = np.arange(0, 50), np.arange(50, 100)
    led.own_true[low] -= 2000.0
    led.score[low] -= 2000.0
    led.own_true[high] += 2000.0
    led.score[high] += 2000.0
    led.grade = grade_of(led.shown(), led.grade_mins)
    reg.update(0, Records.empty(), w.person_fields, w.active)
    assert not reg.member[0][low].any()  # shown 350 >= 345: not listed on the raw -1,350
    names = led.grade_names
    assert {names[g] for g in led.grade[low]} == {"poor"}
    assert {names[g] for g in led.grade[high]} == {"excellent"}
    g_true, _ = led.hypothetical_grades()  # attribution reads the shown score too
    assert {names[g] for g in g_true[low]} == {"poor"}
    total = led.base + led.own_true.astype(float) + led.own_false + led.assoc
    assert np.abs(led.score - total).max() < 0.05 and led.score[low].max() < 0


def test_rongcheng_is_alive_from_aaa_to_d():
    """Every line of the point table has an act in the society; under the default rates
    persons reach every grade from AAA to D, rewards for the top grades land and are
    counted, and grade D is blacklisted (after its notice) with its restrictions applied."""
    sc = Sim("rongcheng", n=10).scenario
    used = set(sc.regime.sources)
    seen = {a for name in used for a in sc.sources[name].acts}
    for rule in sc.regime.rules:
        assert rule.record in seen, rule.record  # a source of the regime records it
    st = Stepped("rongcheng", n=30_000, years=4, seed=2, twin=False)
    w = st.run
    names = w.ledger.grade_names
    assert names == ["AAA", "AA", "A", "B", "C", "D"]
    reached = np.zeros(len(names), bool)
    blacklisted = rewarded = 0
    black = w.registry.names.index("blacklist")
    for _ in st.steps():
        reached |= np.bincount(w.ledger.grade, minlength=len(names)) > 0
        on = w.registry.member[black]
        blacklisted = max(blacklisted, int(on.sum()))
        assert np.all(w.ledger.grade[on] == names.index("D"))
        assert np.all(w.out.block_credit[on] == 1.0) and np.all(w.out.applied[on] == 3)
        top = w.ledger.grade <= 1
        assert np.array_equal(w.out.rewarded, top)  # AAA and AA perks, every step
        rewarded += int(top.sum())
    assert reached.all(), dict(zip(names, reached))
    assert blacklisted > 0 and rewarded > 0
    from scoresim.metrics import ALL_PERSON_METRICS as M

    happened = w.recorder.over_all().sum(axis=0)  # every rule's act happened in the run
    quiet = [r.record for r in sc.regime.rules if happened[M.index(r.record)] == 0]
    assert not quiet, quiet


def test_compare_worlds_share_the_twins_tick_ceilings(monkeypatch):
    """Each regime's world in a compare keeps one column of tick ceilings with the twin, as
    a run's worlds do (the memory check counts one): the twin's array, at least each
    world's own ceilings (a larger ceiling changes no tick)."""
    from scoresim import compare as cmp

    built = []

    class Recorded(cmp.World):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            built.append((self, self.ceiling.copy()))

    monkeypatch.setattr(cmp, "World", Recorded)
    cmp.compare(["article", "eu-safeguards"], n=2000, years=0.1, seed=2)
    (twin, _), *regimes = built
    assert len(regimes) == 2
    for world, own in regimes:
        assert world.ceiling is twin.ceiling
        assert (world.ceiling >= own).all()
