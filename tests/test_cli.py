"""The command line end to end, and its treatment of bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from scoresim import load_scenario
from scoresim.results import SUMMARY_KEYS


def scoresim(*args, env=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "scoresim.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=600,
    )


def test_run_writes_outputs_and_prints_summary(tmp_path):
    out = tmp_path / "run"
    r = scoresim("run", "article", "--n", "3e3", "--years", "0.5", "--seed", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "blocked flight purchases" in r.stdout and "twin" in r.stdout
    summary = json.loads((out / "summary.json").read_text())
    for key in SUMMARY_KEYS:
        assert key in summary and key in summary["twin"]
    assert summary["persons"] == 3000 and summary["steps"] == 26 and summary["seed"] == 3
    table = pq.read_table(out / "timeseries.parquet")
    assert set(table.column_names) == {"step", "group", "metric", "run", "twin"}
    assert table.num_rows > 0
    # the resolved scenario re-runs the same thing
    again = tmp_path / "again"
    r2 = scoresim("run", str(out / "scenario.toml"), "--out", str(again))
    assert r2.returncode == 0, r2.stderr
    assert (again / "summary.json").read_bytes() == (out / "summary.json").read_bytes()


def test_no_twin(tmp_path):
    r = scoresim("run", "--n", "2000", "--years", "0.2", "--no-twin", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["twin"] is None and summary["chilling_effect"] is None


def test_scenarios_lists_presets():
    r = scoresim("scenarios")
    assert r.returncode == 0
    assert "article" in r.stdout and "none" in r.stdout and "invalid" not in r.stdout


def _bad(tmp_path, text, name="bad.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, key, value, allowed",
    [
        (
            'extends = "article"\n[population]\npersonz = 5\n',
            "population.personz",
            "5",
            "allowed here",
        ),
        (
            'extends = "article"\n[population]\npersons = "many"\n',
            "population.persons",
            "many",
            "integer",
        ),
        (
            'extends = "article"\n[population]\npersons = -4\n',
            "population.persons",
            "-4",
            "greater than or equal to 10",
        ),
        (
            'extends = "article"\n[[regime.rules]]\nrecord = "traffic_offence"\npoints = -5\n'
            'when = "urban == (1"\n',
            "regime.rules[0].when",
            "urban == (1",
            "missing ')'",
        ),
        (
            'extends = "article"\n[[regime.rules]]\nrecord = "jaywalk"\npoints = -5\n',
            "regime.rules[0].record",
            "jaywalk",
            "allowed acts",
        ),
        ('extends = "nonsense"\n', "extends", "nonsense", "allowed presets"),
        ('extends = "article"\n[run]\nyears = nan\n', "run.years", "nan", "finite"),
        ("[population\npersons = 3\n", "(syntax)", "", "valid TOML"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, text, key, value, allowed):
    path = _bad(tmp_path, text)
    for cmd in (("validate", str(path)), ("run", str(path), "--out", str(tmp_path / "o"))):
        r = scoresim(*cmd)
        assert r.returncode == 2, r.stdout + r.stderr
        assert "Traceback" not in r.stderr
        msg = " ".join(r.stderr.split())
        assert str(path) in msg and key in msg and value in msg and allowed in msg, msg
    assert not (tmp_path / "o").exists()


def test_missing_file(tmp_path):
    r = scoresim("validate", str(tmp_path / "nope.toml"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "file not found" in r.stderr and "nope.toml" in r.stderr


def test_bad_options(tmp_path):
    for args in (("--n", "lots"), ("--n", "0"), ("--years", "-1")):
        r = scoresim("run", *args, "--out", str(tmp_path / "o"))
        assert r.returncode == 2, args
        assert "Traceback" not in r.stderr and args[0] in r.stderr


def test_memory_guard_refuses_with_estimate(tmp_path):
    r = scoresim("run", "--n", "2e9", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    msg = " ".join(r.stderr.split())
    assert "population.persons" in msg and "GB" in msg and "largest population that fits" in msg
    assert not (tmp_path / "o").exists()


def test_validate_ok():
    r = scoresim("validate", "article")
    assert r.returncode == 0 and "ok:" in r.stdout


def test_compare_bad_input(tmp_path):
    r = scoresim("compare", "article", "utopia", "--n", "2000", "--out", str(tmp_path / "c"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "utopia" in r.stderr and "give a preset name" in " ".join(r.stderr.split())
    r = scoresim("compare", "article", "article", "--n", "2000", "--out", str(tmp_path / "c"))
    assert r.returncode == 2 and "each preset once" in r.stderr
    r = scoresim("compare", "article", "reference", "--n", "2000", "--out", str(tmp_path / "c"))
    assert r.returncode == 2 and "share one society" in " ".join(r.stderr.split())
    assert not (tmp_path / "c").exists()  # bad input leaves nothing behind (no lock, no status)


def test_validate_takes_n_and_years_and_warns_of_replaced_arrays(tmp_path):
    path = tmp_path / "one-rule.toml"
    path.write_text(
        'extends = "article"\nname = "one-rule"\n'
        '[[regime.rules]]\nrecord = "traffic_offence"\npoints = -5\n'
    )
    r = scoresim("validate", str(path), "--n", "2e5", "--years", "2")
    assert r.returncode == 0, r.stderr
    out = " ".join(r.stdout.split())
    assert "200,000 persons" in out and "104 steps" in out and "GB of memory" in out
    warned = " ".join(r.stderr.split())
    rules = len(load_scenario("article").regime.rules)
    assert "regime.rules" in warned and f"this entry replaces all {rules}" in warned
    assert "warning" not in scoresim("validate", "article").stderr  # a preset's own arrays


def test_a_mistyped_name_gets_the_closest_one(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text('extends = "article"\n[regime.asociation]\nenabled = false\n')
    r = scoresim("validate", str(path))
    assert r.returncode == 2 and "did you mean 'association'?" in " ".join(r.stderr.split())
    r = scoresim("run", "artcle", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "did you mean 'article'?" in " ".join(r.stderr.split())


def test_a_run_into_a_taken_name_says_where_it_writes(tmp_path):
    (tmp_path / "runs" / "article").mkdir(parents=True)
    (tmp_path / "runs" / "article" / "mine.txt").write_text("someone's folder")
    r = scoresim("run", "--n", "2000", "--years", "0.1", "--no-report", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    said = " ".join(r.stdout.split())
    assert "runs/article/ holds another run: writing to runs/article-2/" in said
    assert (tmp_path / "runs" / "article-2" / "summary.json").exists()
    assert (tmp_path / "runs" / "article" / "mine.txt").read_text() == "someone's folder"


def test_sigterm_while_building_says_nothing_was_saved(tmp_path):
    import signal
    import time

    out = tmp_path / "big"
    proc = subprocess.Popen(
        [sys.executable, "-m", "scoresim.cli", "run", "--n", "1e6", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "status").exists():
        time.sleep(0.05)
    time.sleep(0.5)  # into the build
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted while building the society: nothing was saved yet" in " ".join(
        stderr.split()
    )
    status = json.loads((out / "status").read_text())
    assert status["status"] == "interrupted" and status["phase"] == "building"
    assert not (out / "summary.json").exists()
    # the folder holds nothing to lose: the same command may start it again
    r = scoresim("run", "--n", "2000", "--years", "0.1", "--no-report", "--out", str(out))
    assert r.returncode == 0, r.stderr


def test_results_write_writes_the_report_as_the_command_does(tmp_path):
    from scoresim import Sim

    res = Sim("article", n=2000, years=0.2, seed=1).run()
    res.write(tmp_path / "a")
    assert (tmp_path / "a" / "report.html").exists()
    res.write(tmp_path / "b", report=False)
    assert not (tmp_path / "b" / "report.html").exists()
