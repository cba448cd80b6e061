"""Sensitivity analysis: the code path scoresim uses gives SALib's known answer for the
Ishigami function, problem files are checked like scenarios, and a small analysis of a
preset runs end to end."""

from __future__ import annotations

import numpy as np
import pytest

from scoresim import ScenarioError, load_scenario
from scoresim.sensitivity_analysis import analyse, indices, load_problem, salib_problem

# Ishigami (a = 7, b = 0.1): the analytic first-order and total indices
S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}


def test_ishigami_indices_through_the_same_path():
    from SALib.test_functions import Ishigami

    problem = salib_problem(["x1", "x2", "x3"], [(-np.pi, np.pi)] * 3)
    t = indices(problem, Ishigami.evaluate, "sobol", 1024, 3, ["y"]).set_index(
        ["parameter", "index"]
    )
    for name in S1:
        for kind, truth in (("S1", S1[name]), ("ST", ST[name])):
            value, conf = t.loc[(name, kind), ["value", "conf"]]
            assert abs(value - truth) <= max(2 * conf, 0.02), (name, kind, value)
    m = indices(problem, Ishigami.evaluate, "morris", 64, 3, ["y"]).set_index(
        ["parameter", "index"]
    )
    assert m.loc[("x3", "sigma"), "value"] > m.loc[("x3", "mu_star"), "value"] * 0.5  # interacts


PROBLEM = """
persons = 2000
years = 0.5
samples = 4
seed = 3
outputs = ["aware_share", "records_per_person_year"]
[[parameters]]
key = "regime.publicity"
low = 0.1
high = 1.0
[[parameters]]
key = "behaviour.lawsuit"
low = 0.5
high = 3.0
"""


def test_a_problem_file_names_keys_the_scenario_has(tmp_path):
    base = load_scenario("court-defaulters")
    bad = tmp_path / "bad.toml"
    bad.write_text(PROBLEM.replace("behaviour.lawsuit", "behaviour.lawsuits"))
    with pytest.raises(ScenarioError) as e:
        load_problem(bad, base)
    assert e.value.key == "parameters[1].key"
    worse = tmp_path / "worse.toml"
    worse.write_text(PROBLEM.replace('"aware_share"', '"aware_shares"'))
    with pytest.raises(ScenarioError, match="unknown output"):
        load_problem(worse, base)


def test_a_small_analysis_of_a_preset_runs_end_to_end(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PROBLEM)
    base = load_scenario("court-defaulters")
    spec = load_problem(path, base)
    done = []
    table = analyse(base, spec, "sobol", lambda i, n: done.append((i, n)))
    assert done[-1] == (16, 16)  # N (D + 2) runs
    assert set(table["output"]) == {"aware_share", "records_per_person_year"}
    assert len(table) == 2 * 2 * 2 and np.isfinite(table["value"]).all()
    t = table.set_index(["output", "parameter", "index"])["value"]
    # awareness follows publicity, the courts' records follow lawsuits
    assert (
        t[("aware_share", "regime.publicity", "ST")] > t[("aware_share", "behaviour.lawsuit", "ST")]
    )
    assert (
        t[("records_per_person_year", "behaviour.lawsuit", "ST")]
        > t[("records_per_person_year", "regime.publicity", "ST")]
    )
