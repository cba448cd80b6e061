"""Calibration: it recovers parameter values the model itself produced targets from, and
bad targets files get the same clear-error treatment as scenarios."""

from __future__ import annotations

import pytest
from test_cli import scoresim

from scoresim import load_scenario
from scoresim.calibrate import Parameter, Target, Targets, calibrate, load_targets, simulate

KEY = "behaviour.missed_payment"


def test_calibrate_recovers_known_parameter_values():
    base = load_scenario("court-defaulters")
    true = 1.6
    spec = Targets(
        preset="court-defaulters",
        persons=6000,
        years=3,
        seeds=[1, 2],
        trials=25,
        parameters=[Parameter(key=KEY, low=0.4, high=5.0, log=True)],
        targets=[
            Target(metric="records_per_person_year", value=1.0),
            Target(metric="listed_share_peak", value=1.0),
        ],
    )
    produced = simulate(base, spec, {KEY: true}, 6000, [1, 2]).mean(axis=0)
    for tg, v in zip(spec.targets, produced):
        tg.value = float(v)
    fit = calibrate(spec, base)
    # stated tolerance: within 15 % of the value that produced the targets
    assert abs(fit.values[KEY] - true) / true < 0.15, fit.values
    assert fit.ok


def _targets(tmp_path, text):
    path = tmp_path / "t.toml"
    path.write_text(text)
    return path


GOOD = """preset = "court-defaulters"
persons = 1000
years = 0.5
seeds = [1]
trials = 2
[[parameters]]
key = "behaviour.missed_payment"
low = 0.5
high = 2.0
[[targets]]
metric = "listed_share_peak"
value = 0.01
"""


@pytest.mark.parametrize(
    "change, key, allowed",
    [
        (
            ('metric = "listed_share_peak"', 'metric = "happiness"'),
            "targets[0].metric",
            "unknown metric",
        ),
        (("low = 0.5", "low = 3.0"), "parameters[0].low/high", "low < high"),
        (
            ('key = "behaviour.missed_payment"', 'key = "behaviour.telepathy"'),
            "parameters[0].key",
            "must name a number",
        ),
        (("high = 2.0", "high = 2e9"), "parameters[0]", "invalid"),
        (('preset = "court-defaulters"', 'preset = "utopia"'), "preset", "is for 'utopia'"),
        (("value = 0.01", "value = 0"), "targets[0].value", "non-zero"),
        (("trials = 2", "trials = -2"), "trials", "greater than or equal to 1"),
    ],
)
def test_bad_targets_files_are_one_clear_line(tmp_path, change, key, allowed):
    path = _targets(tmp_path, GOOD.replace(*change))
    r = scoresim(
        "calibrate", "court-defaulters", "--targets", str(path), "--out", str(tmp_path / "o")
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    msg = " ".join(r.stderr.split())
    assert str(path) in msg and key in msg and allowed in msg, msg


def test_unknown_preset(tmp_path):
    path = _targets(tmp_path, GOOD.replace('preset = "court-defaulters"\n', ""))
    r = scoresim("calibrate", "utopia", "--targets", str(path), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "give a preset name" in " ".join(r.stderr.split())


def test_preset_on_command_line_must_match_file(tmp_path):
    path = _targets(tmp_path, GOOD)
    with pytest.raises(Exception, match="not 'sesame'"):
        load_targets(path, "sesame")


@pytest.mark.parametrize(
    "tolerance, code, verdict",
    [("tolerance = 9.0", 0, "ok"), ("tolerance = 0.0001\nabsolute = true", 1, "outside")],
)
def test_calibrate_command_end_to_end(tmp_path, tolerance, code, verdict):
    """Exit 0 when every target is within its tolerance, 1 (and 'outside') when one is not;
    the outputs are written either way."""
    path = _targets(tmp_path, GOOD + tolerance + "\n")
    r = scoresim(
        "calibrate", "court-defaulters", "--targets", str(path), "--out", str(tmp_path / "o")
    )
    assert r.returncode == code, r.stdout + r.stderr
    printed = " ".join(r.stdout.split())
    assert "target vs simulated" in printed and verdict in printed
    for name in ("fitted.toml", "scenario.toml", "trials.csv", "check.csv"):
        assert (tmp_path / "o" / name).exists()
    fitted = (tmp_path / "o" / "fitted.toml").read_text()
    assert "date" in fitted and f"all_within_tolerance = {str(code == 0).lower()}" in fitted


def test_targets_file_may_set_scenario_keys(tmp_path):
    """`[scenario]` keys are set over the preset before fitting, validated like a scenario."""
    path = _targets(tmp_path, GOOD + "[scenario.approval.information]\nshare = 0.5\n")
    _, base = load_targets(path)
    assert base.approval.information.share == 0.5
    bad = _targets(tmp_path, GOOD + "[scenario.approval.information]\nshare = 5.0\n")
    with pytest.raises(Exception, match="scenario.approval.information.share"):
        load_targets(bad)
