"""The three scoring families and the list mechanics, on small custom regimes."""

from __future__ import annotations

import numpy as np
from conftest import Stepped

from scoresim import Sim
from scoresim.registry import FALSE, TRUE

LIST_ONLY = {
    # more debt trouble than the default, so that a small society fills the list quickly
    "behaviour": {"missed_payment": 3.0, "pays_by_deadline": 0.1},
    "regime": {
        "scoring": {"family": "none", "grades": [], "firm_grades": []},
        "rules": [],
        "association": {"mean_weight": 0.0, "listed_penalty": 0.0, "partner_weight": 0.0},
        "lists": [
            {
                "name": "defaulters",
                "enter_on": ["judgment_unpaid_refuses"],
                "term_years": 0.25,
                "repair_on": ["debt_paid"],
                "publication_lag_days": 21,  # 3 weekly steps
            },
        ],
        "sanctions": [
            {
                "name": "no_flights",
                "on_list": "defaulters",
                "effect": "block_flights",
                "related_contexts": ["legal", "finance"],
            }
        ],
        "response": {"visible_low_grades": [], "pressure_pay": 2.0},
    },
}


def test_list_regime_without_scores():
    st = Stepped(overrides=LIST_ONLY, n=6000, years=1.5, twin=False)
    reg, led = st.run.registry, st.run.ledger
    term = reg.term[0]
    entered = left = 0
    for t in st.steps():
        m = reg.member[0]
        assert np.all(led.score == led.base)  # no rules: no points
        assert set(np.unique(reg.cause[0][m])) <= {TRUE, FALSE}
        assert np.all(t - reg.since[0][m] < term)  # nobody outstays the term
        # visible only once the publication lag has passed
        assert not np.any(reg.visible & ~(m & (t - reg.since[0] >= 3)))
        entered += int(reg.inflow[0])
        left += int(reg.outflow[0])
    assert entered > 0 and left > 0
    s = Sim("article", overrides=LIST_ONLY, n=6000, years=1.5, seed=7).run().summary()
    assert s["unrelated_context_share"] == 0  # the only sanction is in context for court data
    assert s["sanctioned_association_only_share"] == s["sanctioned_mixed_share"] == 0


def _own_true(overrides):
    st = Stepped(overrides=overrides, n=3000, years=0.5, twin=False)
    for _ in st.steps():
        pass
    return st.run.ledger.own_true


def test_weighted_dimensions_equal_the_points_they_weigh():
    """A dimension rule of p points, weight w and scale k scores p*w*k: the same run as a
    point rule of p*w*k points."""
    base = {
        "lists": [],
        "sanctions": [],
        "response": {"visible_low_grades": []},
        "association": {"mean_weight": 0.0, "listed_penalty": 0.0},
    }
    points = {
        "regime": {
            **base,
            "scoring": {"family": "points"},
            "rules": [
                {"record": "traffic_offence", "points": -6.0},
                {"record": "volunteering", "points": 3.0},
            ],
        }
    }
    dims = {
        "regime": {
            **base,
            "scoring": {
                "family": "dimensions",
                "dimension_scale": 4.0,
                "dimensions": {"behaviour": 0.5, "civic": 0.25},
            },
            "rules": [
                {"record": "traffic_offence", "points": -3.0, "dimension": "behaviour"},
                {"record": "volunteering", "points": 3.0, "dimension": "civic"},
            ],
        }
    }
    a, b = _own_true(points), _own_true(dims)
    assert (a != 0).sum() > 100
    np.testing.assert_array_equal(a, b)


def test_rule_conditions_select_records():
    """A rule that only applies to rural persons leaves every urban person's points at 0."""
    over = {
        "regime": {
            "scoring": {"family": "points"},
            "lists": [],
            "sanctions": [],
            "response": {"visible_low_grades": []},
            "association": {"mean_weight": 0.0, "listed_penalty": 0.0},
            "rules": [
                {
                    "record": "traffic_offence",
                    "points": -5.0,
                    "when": "urban == 0 and record_true == 1",
                }
            ],
        }
    }
    st = Stepped(overrides=over, n=6000, years=1, twin=False)
    for _ in st.steps():
        pass
    urban = st.sim.society.persons.urban
    led = st.run.ledger
    assert np.all(led.own_true[urban] == 0) and (led.own_true[~urban] < 0).sum() > 20
    assert np.all(led.own_false == 0)  # record_true excludes false records


def test_rewards_raise_income_and_are_not_sanctions():
    over = {
        "regime": {
            "sanctions": [
                {
                    "name": "perks",
                    "on_grades": ["A", "AA", "AAA"],
                    "effect": "reward",
                    "strength": 0.1,
                }
            ]
        }
    }
    st = Stepped(overrides=over, n=3000, years=0.3)
    for _ in st.steps():
        pass
    out = st.run.out
    assert out.rewarded.sum() > 1000
    assert np.all(out.applied == 0) and np.all(out.status == 0)
    assert np.allclose(out.income_factor(st.run.s.self_employed)[out.rewarded], 1.1)


def test_unrelated_context_audit_counts_what_it_should():
    """One sanction on the blacklist, counted related to speech data only: every application
    whose listing was caused by other data is unrelated — recounted here from the listings'
    named causes, step by step."""
    from scoresim.acts import CONTEXT_ID

    over = {
        "regime": {
            "sanctions": [
                {
                    "name": "no_flights",
                    "on_list": "blacklist",
                    "effect": "block_flights",
                    "related_contexts": ["speech"],
                }
            ]
        }
    }
    st = Stepped(overrides=over, n=6000, years=1, twin=False)
    w = st.run
    speech = CONTEXT_ID["speech"]
    apps = unrelated = 0
    for _ in st.steps():
        on = w.registry.member[0]
        apps += int(on.sum())
        unrelated += int((on & (w.registry.ctx[0] != speech)).sum())
        assert int(w.out.unrelated.sum()) == int((on & (w.registry.ctx[0] != speech)).sum())
    assert apps > 50 and 0 < unrelated < apps  # both kinds happened
    alls = w.recorder.over_all()
    from scoresim.metrics import ALL_PERSON_METRICS as M

    share = (
        alls[:, M.index("unrelated_applications")].sum()
        / alls[:, M.index("sanction_applications")].sum()
    )
    assert share == unrelated / apps


def test_grade_bands_include_their_minimum():
    from scoresim.scenario import Grade
    from scoresim.scoring import grade_bands, grade_of

    mins, names = grade_bands(
        [Grade(name="B", min=850), Grade(name="A", min=960), Grade(name="D", min=-1e9)]
    )
    assert names == ["A", "B", "D"]
    score = np.array([960.0, 959.99, 850.0, 849.0, 2000.0, -5e9], np.float32)
    assert [names[g] for g in grade_of(score, mins)] == ["A", "B", "B", "D", "A", "D"]


def test_one_switch_turns_every_association_channel_off():
    """`[regime.association] enabled = false`: no pull toward contacts, no penalty for listed
    contacts, no partners' pull, no firm sanction reaching a representative — the same run as
    the association safeguard, and nobody in an association class."""
    off = {"regime": {"association": {"enabled": False}}}
    guard = {"regime": {"safeguards": {"association": False}}}
    for preset in ("article", "corporate"):
        a = Sim(preset, overrides=off, n=8000, years=1.5, seed=3).run().summary()
        b = Sim(preset, overrides=guard, n=8000, years=1.5, seed=3).run().summary()
        on = Sim(preset, n=8000, years=1.5, seed=3).run().summary()
        assert a == b
        assert a["sanctioned_association_only_share"] in (0, None)
        assert a["sanctioned_mixed_share"] in (0, None)
        assert on["sanctioned_association_only_share"] > 0  # the channels were busy
