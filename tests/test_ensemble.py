"""Ensembles: members' seeds from one seed, statistics that are what they say, and the same
bytes whoever ran the members (in-process, or two Dask workers)."""

from __future__ import annotations

import json
import math

import duckdb
import numpy as np
import pytest
from scipy.stats import t as student

from scoresim import load_scenario
from scoresim.ensemble import ensemble, four_fifths, interval, member_seeds, statistics

SMALL = {"population": {"persons": 2000}, "run": {"years": 0.3, "seed": 11}}


def _scenario(name="court-defaulters"):
    return load_scenario(name, SMALL)


def test_member_seeds_are_a_function_of_the_ensemble_seed_and_differ():
    a, b = member_seeds(3, 5), member_seeds(3, 8)
    assert a == b[:5] and len(set(b)) == 8  # a larger ensemble extends a smaller one
    assert member_seeds(4, 5) != a


def test_interval_is_the_student_t_interval_of_the_mean():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    s = interval(x)
    half = student.ppf(0.975, 3) * x.std(ddof=1) / math.sqrt(4)
    assert s["mean"] == pytest.approx(3.5) and s["high"] - s["mean"] == pytest.approx(half)
    assert interval(np.array([np.nan, 2.0]))["n"] == 1


def test_paired_interval_is_narrower_when_run_and_twin_move_together():
    rng = np.random.default_rng(0)
    base = rng.normal(10, 3, 12)  # what run and twin share (common random numbers)
    summaries = [{"x": float(b + 1 + rng.normal(0, 0.1)), "twin": {"x": float(b)}} for b in base]
    e = statistics(summaries)["effects"]["x"]
    assert e["low"] < 1 < e["high"]  # the true effect is 1
    assert e["narrowing"] < 0.1  # far narrower than the unpaired interval
    assert e["unpaired_low"] < e["low"] and e["unpaired_high"] > e["high"]


def test_ensemble_flags_a_group_only_when_its_interval_clears_the_four_fifths_band():
    rng = np.random.default_rng(1)

    def members(rural, foreigner):
        return [
            {"disparate_impact": {"rural": float(r), "foreigner": f}}
            for r, f in zip(rural, foreigner)
        ]

    far = rng.normal(0.5, 0.02, 8)  # clearly below 0.8
    noisy = rng.normal(1.0, 1.5, 8)  # a dozen persons: all over the place
    v = four_fifths(members(far, [float(x) for x in noisy]))
    assert v["rural"]["verdict"] == "fails" and v["rural"]["high"] < 0.8
    assert v["foreigner"]["verdict"] == "too small to tell"
    v = four_fifths(members(rng.normal(1.0, 0.02, 8), [None] + [1.0] * 7))
    assert v["rural"]["verdict"] == "passes"
    assert v["foreigner"]["verdict"] == "too small to tell"  # a member without a ratio
    assert v["foreigner"]["members_without_ratio"] == 1
    # eight societies that all sanction none of their 160 foreigners, where 1 in 1,000 of
    # the natives is sanctioned: a ratio of 0 every time, but too few to tell
    counts = {"persons": 160, "sanctioned": 0, "reference_persons": 200_000}
    zero = [
        {
            "disparate_impact": {"foreigner": 0.0},
            "disparate_impact_interval": {"foreigner": {**counts, "reference_sanctioned": 200}},
        }
    ] * 8
    v = four_fifths(zero)["foreigner"]
    assert v["sd"] == 0 and v["verdict"] == "too small to tell" and v["pooled_high"] > 1.25


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    out = tmp_path_factory.mktemp("ens1")
    return ensemble(_scenario(), 3, workers=1).write(out)


def test_ensemble_writes_members_and_their_statistics(in_process):
    stats = json.loads((in_process / "ensemble.json").read_text())
    assert stats["members"] == 3 and len(set(stats["seeds"])) == 3
    con = duckdb.connect()
    runs = con.execute(
        f"SELECT member, run FROM read_parquet('{in_process}/summaries.parquet') "
        "WHERE key = 'blocked_rail' ORDER BY member"
    ).fetchall()
    values = np.array([r[1] for r in runs], float)
    s = stats["summary"]["blocked_rail"]
    assert s["n"] == 3 and s["mean"] == pytest.approx(values.mean())
    members = con.execute(
        f"SELECT DISTINCT member FROM read_parquet('{in_process}/timeseries/*/*.parquet', "
        "hive_partitioning = true) ORDER BY member"
    ).fetchall()
    assert [m[0] for m in members] == [0, 1, 2]


def test_two_dask_workers_write_the_same_bytes_as_one_process(in_process, tmp_path):
    pytest.importorskip("distributed")
    out = ensemble(_scenario(), 3, workers=2).write(tmp_path / "ens2")
    files = sorted(p.relative_to(in_process) for p in in_process.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    for f in files:
        assert (in_process / f).read_bytes() == (out / f).read_bytes(), f


def test_a_failed_member_is_reported_left_out_and_finished_by_a_rerun(
    in_process, tmp_path, monkeypatch
):
    import scoresim.ensemble as E

    real = E.run_member
    seeds = member_seeds(11, 3)

    def flaky(data, seed):
        if seed == seeds[1]:
            raise RuntimeError("worker lost")
        return real(data, seed)

    monkeypatch.setattr(E, "run_member", flaky)
    part = ensemble(_scenario(), 3, out=tmp_path)
    assert part.failed == {1: "RuntimeError: worker lost"} and part.index == [0, 2]
    stats = part.to_json()
    assert stats["summary"]["blocked_rail"]["n"] == 2
    monkeypatch.setattr(E, "run_member", real)
    calls = []
    monkeypatch.setattr(E, "run_member", lambda d, s: calls.append(s) or real(d, s))
    whole = ensemble(_scenario(), 3, out=tmp_path).write(tmp_path)
    assert calls == [seeds[1]]  # only the missing member ran
    for f in ("ensemble.json", "summaries.parquet", "timeseries/member=1/part-0.parquet"):
        assert (whole / f).read_bytes() == (in_process / f).read_bytes(), f


def test_another_ensemble_in_the_same_folder_is_refused(tmp_path):
    from scoresim import ScenarioError

    ensemble(_scenario(), 2, out=tmp_path)
    with pytest.raises(ScenarioError, match="holds another ensemble"):
        ensemble(_scenario(), 2, seed=12, out=tmp_path)


def test_workers_that_would_not_fit_in_memory_are_refused(monkeypatch):
    import scoresim.sim as S
    from scoresim import ScenarioError

    need = S.estimate_bytes(_scenario())
    monkeypatch.setattr(S, "available_bytes", lambda: int(2.5 * need))
    with pytest.raises(ScenarioError, match="at most 2 fit") as e:
        ensemble(_scenario(), 3, workers=3)
    assert e.value.key == "--workers"


def test_killed_ensemble_finishes_on_the_same_command(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    args = ["court-defaulters", "--seeds", "3", "--n", "2000", "--years", "0.3"]
    cmd = [sys.executable, "-m", "scoresim.cli", "ensemble", *args]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run([*cmd, "--out", str(whole)], check=True, capture_output=True)
    proc = subprocess.Popen([*cmd, "--out", str(killed)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 240
    while not (killed / "members" / "0.json").exists() and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "ensemble.json").exists()  # killed before the end
    subprocess.run([*cmd, "--out", str(killed)], check=True, capture_output=True)
    for f in ("ensemble.json", "summaries.parquet", "timeseries/member=2/part-0.parquet"):
        assert (killed / f).read_bytes() == (whole / f).read_bytes(), f
