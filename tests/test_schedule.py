"""Schedules: changes during a run, the state they carry, and the twin before a switch-on."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import brute_association, resumed_after

from scoresim import Sim
from scoresim.scenario import ScenarioError, load
from scoresim.schedule import CARRIED, REBUILT, RULED, phases, rebuild
from scoresim.sim import NONE_REGIME

KW = dict(n=2000, seed=5)


def _equal_nan(a, b) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return bool(((a == b) | (np.isnan(a) & np.isnan(b))).all())


def _scheduled(base: str, *changes: dict, **over) -> dict:
    return {"schedule": list(changes), **over}


def test_every_part_of_a_world_is_carried_or_rebuilt():
    """A new attribute of a world or its parts fails here until schedule.py says whether a
    change carries it or rebuilds it."""
    w = Sim("corporate", n=500, years=0.1, seed=1).build().worlds[0]
    parts = {
        "World": w,
        "Ledger": w.ledger,
        "Registry": w.registry,
        "Approvals": w.approval,
        "SourceSet": w.sources,
        "Policing": w.policing,
        "Screening": w.screening,
    }
    for kind, obj in parts.items():
        placed = set(CARRIED.get(kind, ())) | set(RULED.get(kind, ())) | set(REBUILT[kind])
        assert set(vars(obj)) == placed, (kind, set(vars(obj)) ^ placed)


@pytest.mark.parametrize("preset", ["article", "rongcheng", "corporate", "eu-safeguards"])
def test_rebuilding_a_world_under_its_own_phase_changes_nothing(preset):
    """Rebuild and carry with nothing changed gives the uninterrupted run, byte for byte:
    whatever a change does not touch is carried exactly."""
    over = {"approval": {"information": {"share": 0.5, "at_years": 0.2}}}
    whole = Sim(preset, years=1.0, overrides=over, **KW).run()
    sim = Sim(preset, years=1.0, overrides=over, **KW).build()
    for t in range(sim.scenario.run.steps):
        if t == 26:
            run, twin = sim.worlds
            sim.worlds = [
                rebuild(run, run.sc, run.regime, t),
                rebuild(twin, twin.sc, NONE_REGIME, t),
            ]
        for w in sim.worlds:
            w.step(t)
    from scoresim.results import Results

    again = Results.from_sim(sim, 0.0)
    assert again.summary() == whole.summary()
    assert again.timeseries().equals(whole.timeseries())


def test_a_regime_switched_on_at_year_two_is_its_twin_until_then():
    """The issue's test: the run equals its twin in every recorded number for the first two
    years, and departs from it after."""
    over = _scheduled("none", {"at": 2.0, "regime_from": "article"})
    sim = Sim("none", years=2.5, overrides=over, **KW)
    res = sim.run()
    # policing, none until the change, keeps each person's first pressure from then on
    run, twin = sim.worlds
    assert len(twin.policing.first) == 0 and len(run.policing.first) == KW["n"]
    assert (run.policing.first[run.policing.ever] >= 104).all() and run.policing.ever.any()
    df = res.timeseries()
    change = res.summary()["changes"][0]
    assert change["step"] == 104 and change["reached"] and change["regime"] == "article"
    before, after = df[df.step < 104], df[df.step >= 104]
    assert len(before) > 0 and _equal_nan(before.run, before.twin)
    assert not _equal_nan(after.run, after.twin)
    listed = df[(df.metric == "listed") & (df.group == "all")]
    assert listed[listed.step < 104].run.sum() == 0 and listed[listed.step >= 112].run.sum() > 0


def test_invariants_hold_across_changes():
    """none -> article -> eu-safeguards -> rongcheng (other lists, grades and rules): at every
    step the score is its components, the association sums and listed contacts equal a recount
    over the active ties, and every list's stock is its flows (lists carried by name)."""
    over = _scheduled(
        "none",
        {"at": 0.25, "regime_from": "article"},
        {"at": 0.6, "regime_from": "eu-safeguards"},
        {"at": 0.8, "regime_from": "rongcheng"},
    )
    sim = Sim("none", years=1.0, overrides=over, **KW)
    errors = []

    def check(t: int) -> None:
        w = sim.worlds[0]
        led = w.ledger
        total = led.base + led.own_true.astype(np.float64) + led.own_false + led.assoc
        s, wsum, listed, deg = brute_association(w)
        errors.append(
            (
                float(np.abs(led.score - total).max()),
                float(np.abs(listed - led.listed_contacts).max()),
                float(np.abs(deg - w.deg_active).max()),
                float(np.abs(s - led.sum_own).max()) if led.associating else 0.0,
                float(np.abs(wsum - led.sum_w).max()) if led.associating else 0.0,
            )
        )

    res = sim.run(after_step=check)
    worst = np.max(np.array(errors), axis=0)
    assert worst[0] < 0.05 and worst[1] == 0 and worst[2] == 0
    assert worst[3] < 1e-6 and worst[4] < 1e-6
    totals = res.timeseries()
    totals = totals[totals.metric.astype(str).str.startswith("list.")]
    names = {m.rsplit(".", 1)[0] for m in totals.metric.astype(str)}
    assert {"list.blacklist", "list.honesty_redlist"} <= names  # article's and rongcheng's lists
    moved = 0
    for name in names:
        stock, inflow, outflow = (
            totals[totals.metric == f"{name}.{x}"].sort_values("step").run.to_numpy()
            for x in ("stock", "inflow", "outflow")
        )
        prev = np.concatenate([[0.0], stock[:-1]])
        np.testing.assert_array_equal(stock, prev + inflow - outflow, err_msg=name)
        moved += inflow.sum()
    assert moved > 0


def test_a_repeal_ends_sanctions_and_lets_pressure_and_experience_fade():
    over = _scheduled("article", {"at": 0.5, "regime_from": "none"})
    res = Sim("article", years=1.5, overrides=over, **KW).run()
    df = res.timeseries()
    alls = df[df.group == "all"]
    T = res.summary()["changes"][0]["step"]

    def series(metric, col="run"):
        return alls[alls.metric == metric].sort_values("step")[col].to_numpy()

    sanctioned, blocked = series("sanctioned"), series("rail_blocked") + series("flight_blocked")
    assert sanctioned[:T].sum() > 0 and blocked[:T].sum() > 0
    assert sanctioned[T:].sum() == 0 and blocked[T + 1 :].sum() == 0
    pressed = df[df.metric == "persons_pressured"].sort_values("step").run.to_numpy()
    assert pressed[T - 1] > 0 and pressed[-1] < pressed[T - 1] / 2  # lapsing at 1 a year
    gap = np.abs(series("approval") - series("approval", "twin"))
    # experience fades toward the twin's (forgetting 0.2 a year: about 18 % in a year)
    assert gap[T - 1] > 0 and gap[-1] < 0.9 * gap[T - 1]
    assert series("listed")[T:].sum() == 0  # lists the repeal dropped let everyone go


def test_resume_across_a_change_gives_the_uninterrupted_run(tmp_path):
    over = _scheduled(
        "none", {"at": 0.3, "regime_from": "article"}, {"at": 0.6, "regime_from": "sesame"}
    )
    kw = dict(years=1.0, overrides=over, **KW)
    whole = Sim("none", **kw).run()
    for stop_at in (10, 20):  # before the first change, between the two
        resumed = resumed_after("none", stop_at, tmp_path, **kw)
        assert resumed.summary() == whole.summary()
        assert resumed.timeseries().equals(whole.timeseries())


@pytest.mark.parametrize(
    "change, key, words",
    [
        ({"at": 1, "population": {"persons": 10}}, "schedule[0].population.persons", "mid-run"),
        ({"at": 1, "run": {"seed": 3}}, "schedule[0].run.seed", "mid-run"),
        ({"at": 1, "regime_from": "nonesuch"}, "schedule[0].regime_from", "preset"),
        ({"at": 1, "regime": {"publicty": 1}}, "schedule[0].regime.publicty", "publicity"),
        ({"at": 1, "regime": {"publicity": 3}}, "schedule[0].regime.publicity", "less than"),
        ({"at": -1}, "schedule[0].at", "greater than"),
        (
            {"at": 1, "sources": {"cameras": {"acts": ["littering"]}}},
            "schedule[0].sources",
            "order",
        ),
        ({"at": 1, "regime_from": "/tmp/some.toml"}, "schedule[0].regime_from", "presets"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_entry_and_key(change, key, words):
    with pytest.raises(ScenarioError) as e:
        load("article", {"schedule": [change]})
    assert e.value.key == key and words in e.value.allowed, str(e.value)


def test_two_changes_on_one_step_are_refused():
    with pytest.raises(ScenarioError) as e:
        load("article", {"schedule": [{"at": 1.0}, {"at": 1.001, "regime_from": "none"}]})
    assert e.value.key == "schedule[1].at" and "merge" in e.value.allowed


def test_phases_merge_changes_in_turn_and_record_what_changed():
    sc = load(
        "article",
        {
            "schedule": [
                {"at": 1, "regime": {"safeguards": {"notice_days": 30}}},
                {"at": 2, "sources": {"courts": {"coverage": 0.5}}, "note": "half the courts"},
            ]
        },
    )
    ph = phases(sc)
    assert [p.step for p in ph] == [0, 52, 104]
    assert ph[1].scenario.regime.safeguards.notice_days == 30
    assert ph[2].scenario.regime.safeguards.notice_days == 30  # kept from the change before
    assert ph[2].scenario.sources["courts"].coverage == 0.5
    assert ph[1].regime_changed and not ph[1].other_changed
    assert ph[2].coverage_changed and ph[2].other_changed and not ph[2].regime_changed
    assert ph[2].keys == ("sources.courts.coverage",) and ph[2].note == "half the courts"


def test_a_tighter_record_age_cap_reaches_records_already_made():
    """article (points expire after 2 years) -> eu-safeguards (records expire after a year at
    most) at 1.25 years: after the change no pending expiry is older than the cap."""
    over = _scheduled("article", {"at": 1.25, "regime_from": "eu-safeguards"})
    sim = Sim("article", years=1.3, overrides=over, **KW)
    ages = {}

    def check(t: int) -> None:
        queue = sim.worlds[0].ledger.expiry
        ages[t] = max(due - e.made for due, entries in queue.items() for e in entries)

    sim.run(after_step=check)
    T = sim.phases[1].step
    assert ages[T - 1] > 52 and max(ages[t] for t in ages if t >= T) <= 52


def test_a_cap_after_rules_that_never_expire_is_refused():
    rules = load("article").regime.rules
    never = [{**r.model_dump(), "expiry_years": 0.0} for r in rules]
    with pytest.raises(ScenarioError) as e:
        load(
            "article",
            {
                "regime": {"rules": never},
                "schedule": [{"at": 1, "regime": {"safeguards": {"max_record_age_years": 1}}}],
            },
        )
    assert e.value.key == "schedule[0].regime.safeguards.max_record_age_years"
    assert "never expires" in e.value.allowed


def test_the_report_and_summary_give_each_phase_on_its_own(tmp_path):
    over = _scheduled("article", {"at": 0.5, "regime_from": "none", "note": "switched off"})
    res = Sim("article", years=1.0, overrides=over, **KW).run()
    phases_ = res.summary()["phases"]
    assert [p["regime"] for p in phases_] == ["article", "none"]
    assert phases_[0]["sanctioned_share_mean"] > 0 and phases_[1]["sanctioned_share_mean"] == 0
    assert phases_[1]["listed_share_end"] == 0 and phases_[0]["listed_share_end"] > 0
    res.write(tmp_path)
    svg = (tmp_path / "figures" / "lists.svg").read_text()
    assert svg.count("#444444") == 2  # the change's dotted line (its colour) on both panels
    page = (tmp_path / "report.html").read_text()
    table = page.split("<table id=phases>")[1].split("</table>")[0]
    assert table.count("<tr>") == 3 and "switched off" in page


def test_firms_name_representatives_again_after_the_bar_ends():
    """corporate bars the representatives of listed firms; after a change to no system the
    vacant firms name new ones at the replacement rate, as they would under the bar."""
    over = _scheduled("corporate", {"at": 1.0, "regime_from": "none"})
    res = Sim("corporate", n=3000, years=2.0, seed=3, overrides=over).run()
    df = res.timeseries()
    vacant = df[df.metric == "firms_without_representative"].sort_values("step").run.to_numpy()
    T = res.summary()["changes"][0]["step"]
    assert vacant[:T].max() > 0 and vacant[-1] == 0


def test_compare_applies_a_regime_schedule_and_refuses_other_changes(tmp_path):
    from scoresim.compare import compare

    path = tmp_path / "off.toml"
    path.write_text(
        'extends = "article"\nname = "off"\n[[schedule]]\nat = 0.5\nregime_from = "none"\n'
    )
    alone = Sim(str(path), n=3000, years=1.0, seed=2).run().summary()
    both = compare(["article", str(path)], n=3000, years=1.0, seed=2)
    assert both.summaries["off"] == alone
    assert both.summaries["off"]["listed_share"] != both.summaries["article"]["listed_share"]
    path.write_text(
        'extends = "article"\nname = "off"\n[[schedule]]\nat = 0.5\n'
        "behaviour.unemployed_income_share = 0.2\n"
    )
    with pytest.raises(ScenarioError) as e:
        compare(["article", str(path)], n=3000, years=1.0, seed=2)
    assert e.value.key == "schedule[0]" and "only the regime" in e.value.allowed


def test_a_cap_after_never_expiring_rules_is_refused_however_late():
    rules = [{**r.model_dump(), "expiry_years": 0.0} for r in load("article").regime.rules]
    later = {"at": 2, "regime": {"safeguards": {"max_record_age_years": 1}}}
    with pytest.raises(ScenarioError) as e:
        load("article", {"regime": {"rules": rules}, "schedule": [{"at": 1}, later]})
    assert e.value.key == "schedule[1].regime.safeguards.max_record_age_years"


def test_what_a_repealed_system_made_stays_in_the_summary_and_the_saved_scenario():
    """False records made before a repeal to none are still reported; the information
    campaign's effect fades rather than vanishing at the change; a schedule built in Python
    with unset keys saves as TOML."""
    from scoresim.scenario import to_toml

    over = _scheduled(
        "article",
        {"at": 0.5, "regime_from": "none"},
        approval={"information": {"share": 0.5, "at_years": 0.1}},
    )
    res = Sim("article", years=1.0, overrides=over, **KW).run()
    assert res.summary()["false_record_kinds"].get("misattributed", 0) > 0
    df = res.timeseries()
    informed = df[(df.metric == "approving_informed") & (df.group == "all")]
    x = informed.sort_values("step").run.to_numpy()
    T = res.summary()["changes"][0]["step"]
    assert abs(x[T] - x[T - 1]) < 0.05 * x[T - 1]  # no jump when the system ends
    regime = load("eu-safeguards").regime.model_dump()  # holds None (unset) values
    sc = load("article", {"schedule": [{"at": 1, "regime": regime}]})
    assert "[[schedule]]" in to_toml(sc)


def test_setting_a_key_back_to_unset_is_refused_because_toml_cannot_say_it():
    with pytest.raises(ScenarioError) as e:
        load(
            "article",
            {
                "sources": {"courts": {"false_rate": 0.2}},
                "schedule": [{"at": 1, "sources": {"courts": {"false_rate": None}}}],
            },
        )
    assert e.value.key == "schedule[0].sources.courts.false_rate" and "null" in e.value.allowed


def test_sanctions_reordered_mid_run_change_nothing():
    """Who may not fly, take rail or spend, whose household's schooling is barred and who is
    rewarded are read from each person's sanction bits (Outcome.having) under the masks of
    the table that wrote them: a schedule that lists the same sanctions in reverse order
    (every bit moves) records the same numbers as the run without it."""
    sanctions = [
        s.model_dump(mode="python", exclude_defaults=True) for s in load("article").regime.sanctions
    ]
    kw = dict(years=1.0, n=6000, seed=4)
    plain = Sim("article", **kw).run().timeseries()
    over = _scheduled("article", {"at": 0.5, "regime": {"sanctions": sanctions[::-1]}})
    turned = Sim("article", overrides=over, **kw).run().timeseries()
    a = plain.set_index(["metric", "group", "step"]).sort_index()
    b = turned.set_index(["metric", "group", "step"]).sort_index()
    assert a.index.equals(b.index)
    assert _equal_nan(a.run, b.run) and _equal_nan(a.twin, b.twin)
    after = a.run.xs("all", level="group")
    for m in ("flight_blocked", "rail_blocked", "household_spillover", "rewarded"):
        assert after[m].loc[27:].sum() > 0, m  # each read after the change
