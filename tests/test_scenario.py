"""Scenarios: presets validate, files extend presets, the resolved scenario round-trips."""

from __future__ import annotations

import tomllib

import pytest

from scoresim import ScenarioError, load_scenario, presets
from scoresim.scenario import from_dict, to_toml


@pytest.mark.parametrize("name", sorted(presets()))
def test_presets_validate(name):
    sc = load_scenario(name)
    assert sc.name == name and sc.description


def test_extends_overrides_and_merges(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'extends = "article"\nname = "mine"\n[population]\npersons = 1234\n'
        "[regime.association]\nlisted_penalty = -1.0\n"
    )
    sc = load_scenario(path)
    base = load_scenario("article")
    assert sc.population.persons == 1234 and sc.name == "mine"
    assert sc.regime.association.listed_penalty == -1.0
    # untouched keys of the same table come from the preset
    assert sc.regime.association.mean_weight == base.regime.association.mean_weight
    assert sc.regime.rules == base.regime.rules


def test_resolved_scenario_round_trips():
    sc = load_scenario("article")
    again = from_dict(tomllib.loads(to_toml(sc)))
    assert again == sc


def test_cross_references_are_checked():
    data = load_scenario("article").model_dump(mode="json")
    data["regime"]["sanctions"][0]["on_list"] = "greylist"
    with pytest.raises(ScenarioError) as e:
        from_dict(data, "x.toml")
    assert e.value.key == "regime.sanctions[0].on_list" and "blacklist" in e.value.allowed
    data = load_scenario("article").model_dump(mode="json")
    data["regime"]["sources"].append("astrology")
    with pytest.raises(ScenarioError, match="no such source"):
        from_dict(data)


def test_no_identity_fields_anywhere():
    """The line we hold: no name or ID fields that could carry a real person's identity."""
    text = to_toml(load_scenario("article")).lower()
    for word in ("name_of", "id_number", "passport", "phone", "address", "hukou_id"):
        assert word not in text


def test_more_than_64_grades_is_a_clear_error(tmp_path):
    path = tmp_path / "grades.toml"
    bands = "".join(
        f'[[regime.scoring.grades]]\nname = "g{k}"\nmin = {1000 - k}\n' for k in range(65)
    )
    path.write_text(f'extends = "article"\nname = "grades"\n{bands}')
    with pytest.raises(ScenarioError, match="at most 64 grades") as e:
        load_scenario(path)
    assert "regime.scoring.grades" in str(e.value) and "65" in str(e.value)


def test_durations_are_days_and_old_step_keys_say_what_replaced_them(tmp_path):
    """A duration means the same at any step length; an old step-counted key is refused with
    the key that replaced it."""
    week = load_scenario("article")
    month = load_scenario("article").model_copy(deep=True)
    month.run.step = "month"
    assert week.steps_of(28) == 4 and month.steps_of(28) == 1
    assert week.steps_of(3, at_least=1) == 1 and month.steps_of(365.25) == 12
    path = tmp_path / "old.toml"
    path.write_text('extends = "article"\n[sources.bank]\nlatency_steps = 4\n')
    with pytest.raises(ScenarioError, match="latency_days") as e:
        load_scenario(path)
    assert e.value.key == "sources.bank.latency_steps"
