"""The three kinds of false record, each with its own parameter, each counted as false harm:
raising it raises the harm its name says (persons sanctioned with false records involved,
and person-steps sanctioned because of false records)."""

from __future__ import annotations

import pytest

from scoresim import Sim

BASE = dict(n=12_000, years=1.5, seed=6)


def _harm(over: dict) -> tuple[float, float, dict]:
    s = Sim("article", overrides=over, **BASE).run().summary()
    c = s["counts"]
    return (
        c["sanctioned_false_records_share"]["count"],
        c["wrongly_sanctioned_steps_share"]["count"],
        s,
    )


@pytest.fixture(scope="module")
def baseline():
    return _harm({})


def test_misattributed_records_raise_the_false_harm(baseline):
    """More records put on the wrong person: more persons harmed by false records, though
    the punished share need not rise (the actor escapes the record an innocent gets)."""
    persons, steps, s = _harm({"false_records": {"misattributed": 0.05}})
    assert persons > baseline[0] and steps > baseline[1]
    assert s["false_record_kinds"] == {"misattributed": 0.05}


def test_invented_records_raise_the_false_harm_and_the_punished(baseline):
    persons, steps, s = _harm({"false_records": {"invented": 0.02}})
    assert persons > baseline[0] and steps > baseline[1]
    assert s["ever_sanctioned_share"] > baseline[2]["ever_sanctioned_share"]
    assert s["false_record_kinds"]["invented_per_year"] == pytest.approx(0.02)


def test_a_source_may_override_the_global_rates():
    """A source's own false_rate and invented win over [false_records]: here no source may
    invent, so the global rate changes nothing."""
    names = list(Sim("article", n=10).scenario.sources)
    over = {
        "false_records": {"invented": 0.02},
        "sources": {name: {"invented": 0.0} for name in names},
    }
    s = Sim("article", overrides=over, n=3000, years=0.5, seed=2).run()
    ts = s.timeseries()
    assert ts[ts.metric == "records_invented"]["run"].sum() == 0
    assert "invented_per_year" not in s.summary()["false_record_kinds"]


def test_kept_delistings_raise_the_false_harm(baseline):
    persons, steps, s = _harm({"false_records": {"kept_share": 0.5, "kept_days": 180}})
    assert persons > baseline[0] and steps > baseline[1]
    assert s["false_record_kinds"] == {
        "misattributed": 0.005,
        "kept_share": 0.5,
        "kept_days": 180.0,
    }


def test_a_kept_member_is_listed_on_a_false_ground_until_its_delay_ends():
    from conftest import Stepped

    from scoresim.registry import FALSE

    over = {"false_records": {"kept_share": 1.0, "kept_days": 28}}  # every delisting, 4 weeks
    st = Stepped("court-defaulters", overrides=over, n=20000, years=2.5, twin=False)
    reg = st.run.registry
    kept = 0
    for t in st.steps():
        held = reg.kept_until[0] >= 0
        kept += reg.kept
        assert (reg.cause[0][held] == FALSE).all() and reg.member[0][held].all()
        assert (reg.kept_until[0][held] - t <= 4).all()
    assert kept > 10, kept
