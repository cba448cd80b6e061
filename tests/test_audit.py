"""The EU AI Act audit names the data that caused each sanction, keeps that cause while the
sanction lasts, and counts applications by data context x sanction context."""

from __future__ import annotations

import numpy as np
import pytest

from scoresim import Sim, sanctions
from scoresim.acts import ACT_ID, CONTEXT_ID, SANCTION_CONTEXT_ID
from scoresim.sources import Records

PERSON = 5


def _world(context_bound: bool, notice_days: float = 0.0):
    """A threshold list and a grade set, each with a sanction counted related to finance data
    only; a finance record moves a score by 200 points, a traffic record by 5."""
    over = {
        "regime": {
            "publicity": 0.0,
            "rules": [
                {"record": "missed_payment", "points": -200.0},
                {"record": "traffic_offence", "points": -5.0},
            ],
            "association": {"mean_weight": 0.0, "listed_penalty": 0.0, "partner_weight": 0.0},
            "lists": [{"name": "low", "enter_below": 880.0}],
            "sanctions": [
                {
                    "name": "no_flights",
                    "on_list": "low",
                    "effect": "block_flights",
                    "context": "travel",
                    "related_contexts": ["finance"],
                },
                {
                    "name": "no_credit_in_c",
                    "on_grades": ["C", "D"],
                    "effect": "block_credit",
                    "context": "finance",
                    "related_contexts": ["finance"],
                },
            ],
            "safeguards": {"context_bound": context_bound, "notice_days": notice_days},
        }
    }
    return Sim("article", overrides=over, n=2000, years=1, twin=False).build().worlds[0]


def _step(w, t: int, acts: list[str]) -> None:
    """Scoring, listing and sanctions of one step (as World.step runs them) on the given
    records of one person."""
    recs = Records(
        np.full(len(acts), PERSON, np.int32),
        np.array([ACT_ID[a] for a in acts], np.uint8),
        np.zeros(len(acts), np.uint8),
        np.ones(len(acts), bool),
    )
    w.ledger.apply(t, recs, w.person_fields, w.active, w.sources.opaque)
    w.registry.update(t, recs, w.person_fields, w.active)
    bound = w.regime.safeguards.context_bound
    sanctions.apply(t, w.table, w.out, 1.0, bound, w.registry, w.ledger, w.onsets)


@pytest.mark.parametrize("context_bound", [False, True])
def test_a_sanction_keeps_the_cause_it_started_with(context_bound):
    """A score that crosses the threshold on a finance record and later receives a traffic
    record: the audit still says finance, so the sanctions stay in context (and, under the
    context-bound safeguard, stay applied)."""
    w = _world(context_bound)
    finance, traffic = CONTEXT_ID["finance"], CONTEXT_ID["traffic"]
    _step(w, 0, ["traffic_offence", "missed_payment"])  # the largest deduction names it
    assert w.registry.member[0, PERSON] and w.ledger.last_ctx[PERSON] == finance
    assert w.out.applied[PERSON] == 2 and w.out.unrelated[PERSON] == 0
    for t in range(1, 4):
        _step(w, t, ["traffic_offence"])
        assert w.ledger.last_ctx[PERSON] == traffic  # the latest data are traffic data ...
        assert w.registry.ctx[0, PERSON] == finance  # ... the listing's cause is not
        assert w.out.applied[PERSON] == 2, t  # both sanctions still apply
        assert w.out.unrelated[PERSON] == 0, t
        row = w.out.audit[finance]
        assert row[SANCTION_CONTEXT_ID["travel"]] == 1 and row[SANCTION_CONTEXT_ID["finance"]] == 1
        assert w.out.audit[traffic].sum() == 0


def test_a_sanction_started_by_other_data_is_unrelated_and_the_safeguard_stops_it():
    """The same regime, but the crossing record is a traffic one: unrelated to finance, so
    the audit says so, and the context-bound safeguard withholds both sanctions."""
    for bound in (False, True):
        w = _world(bound)
        w.ledger.own_true[PERSON] = -118.0  # 882 points: one traffic record crosses 880
        w.ledger.score[PERSON] = 882.0
        _step(w, 0, ["traffic_offence"])
        assert w.registry.member[0, PERSON]
        assert w.registry.ctx[0, PERSON] == CONTEXT_ID["traffic"]
        if bound:
            assert w.out.applied[PERSON] == 0
        else:
            assert w.out.applied[PERSON] == 1 and w.out.unrelated[PERSON] == 1
            audit = w.out.audit[CONTEXT_ID["traffic"]]
            assert audit[SANCTION_CONTEXT_ID["travel"]] == 1


def test_the_audit_matrix_adds_up_to_the_applications():
    res = Sim("article", n=8000, years=1, seed=3, twin=False).run()
    s = res.summary()
    matrix = s["audit_matrix"]
    total = sum(v for row in matrix.values() for v in row.values())
    ts = res.timeseries()
    apps = ts[(ts.group == "all") & (ts.metric == "sanction_applications")]["run"].sum()
    assert total == apps > 0
    # unrelated applications are a part of the matrix: rows the sanctions do not count related
    assert 0 < s["unrelated_context_share"] < 1
    assert matrix["association"]["travel"] > 0  # article sanctions by association


def test_under_a_notice_period_the_cause_is_the_data_that_met_the_condition():
    """Warned on a finance record, traffic records arrive during the notice: the listing,
    when it comes, still names finance (and the finance-bound ban applies)."""
    w = _world(True, notice_days=14)  # two weekly steps
    _step(w, 0, ["missed_payment"])
    assert not w.registry.member[0, PERSON] and w.registry.notices[0] == 1
    _step(w, 1, ["traffic_offence"])
    _step(w, 2, ["traffic_offence"])
    assert w.registry.member[0, PERSON] and w.registry.since[0, PERSON] == 2
    assert w.registry.ctx[0, PERSON] == CONTEXT_ID["finance"]
    assert w.out.block_flight[PERSON] and w.out.unrelated[PERSON] == 0


def test_the_cause_named_is_the_largest_deduction_then_the_graver_act_then_the_earlier_rule():
    """The one-pass choice of each subject's cause (scoring._largest_deductions) names what a
    sort by (subject, points, gravity descending, rule order) puts first, with ties in points
    and gravity on purpose; subjects with no deduction keep what they had, and the marks are
    left all zero."""
    from scoresim.scoring import ACT_CONTEXT, ACT_GRAVITY, _largest_deductions, _ranked

    rng = np.random.default_rng(7)
    n = 400
    # rules in order, with ties in points between acts of equal and of unequal gravity
    # (gravities: missed payment 1 and traffic offence 1, fraud 3 and major offence 3, loan
    # default 2); each rule's subjects overlap the others' and repeat
    rules = [(-20.0, "missed_payment"), (-20.0, "traffic_offence"), (-5.0, "fraud"),
             (-20.0, "fraud"), (-20.0, "major_offence"), (-50.0, "loan_default"),
             (-50.0, "missed_payment"), (-5.0, "major_offence")]  # fmt: skip
    parts = [(rng.integers(0, n - 50, 150).astype(np.int32), pts, ACT_ID[a]) for pts, a in rules]
    ctx = np.full(n, 250, np.uint8)
    grav = np.full(n, 9, np.uint8)
    marks = np.zeros((n + 63) // 64, np.uint64)
    everyone = np.concatenate([p[0] for p in parts])
    distinct, ranks = _ranked(everyone, marks)
    _largest_deductions(
        everyone,
        ranks,
        np.cumsum([len(p[0]) for p in parts]),
        np.array([p[1] for p in parts]),
        np.array([p[2] for p in parts], np.intp),
        np.zeros(len(distinct), np.float64),
        ctx,
        grav,
    )
    # the plain formulation: a stable sort, largest deduction first, then the graver act
    subj = np.concatenate([p[0] for p in parts])
    pts = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    act = np.concatenate([np.full(len(p[0]), p[2], np.intp) for p in parts])
    order = np.lexsort((-ACT_GRAVITY[act].astype(np.int16), pts, subj))
    subj, act = subj[order], act[order]
    first = np.concatenate([[True], subj[1:] != subj[:-1]])
    want_ctx, want_grav = np.full(n, 250, np.uint8), np.full(n, 9, np.uint8)
    want_ctx[subj[first]] = ACT_CONTEXT[act[first]]
    want_grav[subj[first]] = ACT_GRAVITY[act[first]]
    np.testing.assert_array_equal(ctx, want_ctx)
    np.testing.assert_array_equal(grav, want_grav)
    assert (ctx[n - 50 :] == 250).all() and not marks.any()
