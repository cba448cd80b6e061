"""Intervals where a user reads a number: compare over several societies (paired tests
between regimes, letters, the written tables), sweeps over scenario keys, and the Python API
that reopens and plots what the commands wrote."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_cli import scoresim as cli

import scoresim
from scoresim import ScenarioError, load_scenario
from scoresim.compare import compare, holm, letters, paired_tests
from scoresim.results import HEADLINE
from scoresim.sweeps import design_points, parse_set

TINY = {"n": 2000, "years": 0.3}


def test_paired_tests_tell_apart_what_the_societies_hide():
    """Two regimes 1 apart on societies that vary by far more: the paired test tells them
    apart where an unpaired one cannot; a third regime equal to the second in every society
    is never told apart from it, and the letters say so."""
    from scipy.stats import ttest_ind

    rng = np.random.default_rng(3)
    society = rng.normal(50, 10, 8)  # what the regimes share within a society
    values = {
        "high": society + 1 + rng.normal(0, 0.05, 8),
        "low": society.copy(),
        "same": society.copy(),
    }
    rows = {(r[1], r[2]): r for r in paired_tests("x", values)}
    high_low = rows[("high", "low")]
    assert high_low[-1] and high_low[5] < 1 < high_low[6]  # differs; interval holds the truth
    assert ttest_ind(values["high"], values["low"]).pvalue > 0.5  # unpaired: no idea
    assert rows[("low", "same")][7] == 1.0 and not rows[("low", "same")][-1]
    differs = {frozenset(k) for k, r in rows.items() if r[-1]}
    means = {k: float(v.mean()) for k, v in values.items()}
    assert letters(means, differs) == {"high": "a", "low": "b", "same": "b"}


def test_holm_adjusts_step_down_and_keeps_order():
    p = np.array([0.01, 0.04, 0.03, np.nan])
    adj = holm(p)
    assert adj[0] == pytest.approx(0.03) and adj[2] == pytest.approx(0.06)
    assert adj[1] == pytest.approx(0.06) and np.isnan(adj[3])  # max(0.04 * 1, 0.06)


def test_letters_for_an_overlapping_chain_and_for_ties_in_any_order():
    means = {"A": 3.0, "B": 2.0, "C": 1.0}
    assert letters(means, {frozenset(("A", "C"))}) == {"A": "a", "B": "ab", "C": "b"}
    assert letters(means, set()) == {"A": "a", "B": "a", "C": "a"}
    # two groups share their top member (A): ordered by their members' ranks, whatever the
    # order of the pairs (a set's order changes with PYTHONHASHSEED)
    means = {"A": 4.0, "B": 3.0, "C": 2.0, "D": 1.0}
    pairs = [frozenset(p) for p in (("A", "C"), ("B", "D"))]
    want = {"A": "ab", "B": "ac", "C": "cd", "D": "bd"}
    assert letters(means, pairs) == letters(means, pairs[::-1]) == want


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    c = compare(["court-defaulters", "none"], seeds=3, **TINY)
    c.write(out, HEADLINE, "scoresim compare ...")
    return c, out


def test_compare_over_societies_gives_each_cell_its_interval_and_pairs(seeded):
    c, out = seeded
    assert c.ensemble and len(set(c.seeds)) == 3
    stats = pd.read_csv(out / "comparison_stats.csv")
    row = stats[(stats.preset == "court-defaulters") & (stats.metric == "listed_share")].iloc[0]
    values = [m["court-defaulters"]["listed_share"] for m in c.members]
    assert row["n"] == 3 and row["mean"] == pytest.approx(np.mean(values))
    pairs = pd.read_csv(out / "comparison_pairs.csv")
    assert set(pairs.metric) == {h.key for h in HEADLINE}
    assert ((pairs.a == "court-defaulters") & (pairs.b == "none")).sum() == len(HEADLINE)
    md = (out / "comparison.md").read_text()
    assert "3 synthetic societies" in md and "[" in md
    # every member is a whole comparison on its own seed: the first equals a single run
    one = compare(["court-defaulters", "none"], seed=c.seeds[0], **TINY)
    assert one.summaries["court-defaulters"]["listed_share"] == values[0]


def test_two_dask_workers_give_the_same_societies_as_one_process(seeded):
    c, _ = seeded
    two = compare(["court-defaulters", "none"], seeds=2, workers=2, **TINY)
    assert two.seeds == c.seeds[:2]  # a smaller compare is the start of a larger one
    assert json.dumps(two.members, sort_keys=True) == json.dumps(c.members[:2], sort_keys=True)


def test_a_written_comparison_reopens_with_the_same_table(seeded):
    c, out = seeded
    again = scoresim.Results.load(out)
    assert again.seeds == c.seeds and again.markdown(HEADLINE) == c.markdown(HEADLINE)
    ax = again.plot("listed_share")
    assert len(ax.patches) == 2  # a bar per regime


def test_parse_set_checks_keys_ranges_and_counts():
    base = load_scenario("article")
    a = parse_set("regime.publicity=0.2:1:3", base)
    assert (a.key, a.low, a.high, a.n) == ("regime.publicity", 0.2, 1.0, 3)
    assert np.allclose(a.grid(), [0.2, 0.6, 1.0])
    for text, words in (
        ("regime.publicity", "KEY=LOW:HIGH"),
        ("regime.nothing=0:1", "no such scenario key"),
        ("regime.publicity=1:0.2", "must be above low"),
        ("regime.publicity=0.2:1:1", "N must be a whole number"),
        ("regime.publicity=a:b", "must be numbers"),
        ("name=0:1", "must name a number"),
        ("run.seed=1:9", "run settings are the sweep's own"),
    ):
        with pytest.raises(ScenarioError) as e:
            parse_set(text, base)
        assert words in str(e.value), text


def test_designs_cover_the_ranges():
    base = load_scenario("article")
    axes = [
        parse_set(t, base)
        for t in ("regime.publicity=0:1:3", "false_records.misattributed=0:0.1:4")
    ]
    grid = design_points(axes, "grid", 0, 1)
    assert grid.shape == (12, 2) and len({tuple(p) for p in grid}) == 12
    lhs = design_points(axes, "lhs", 20, 1)
    for k, a in enumerate(axes):  # one point in each of the 20 strata of every key
        strata = np.floor((lhs[:, k] - a.low) / (a.high - a.low) * 20).astype(int)
        assert sorted(strata) == list(range(20))
    assert np.array_equal(lhs, design_points(axes, "lhs", 20, 1))  # seeded


def test_sweep_runs_every_point_on_the_same_members(tmp_path, monkeypatch):
    import scoresim.sweeps as sw

    calls = []
    real = sw.run_summary
    monkeypatch.setattr(sw, "run_summary", lambda d, s: calls.append(s) or real(d, s))
    res = scoresim.sweep("court-defaulters", {"regime.publicity": (0.2, 1.0, 2)}, seeds=2, **TINY)
    assert calls[:2] == calls[2:] == res.seeds  # the same member seeds at each point
    t = res.table()
    rows = t[t.metric == "listed_share"]
    assert list(rows["regime.publicity"]) == [0.2, 1.0] and (rows.n == 2).all()
    member = [s["listed_share"] for s in res.summaries[1]]
    assert rows.iloc[1]["mean"] == pytest.approx(np.mean(member))
    res.write(tmp_path)
    assert (tmp_path / "figures" / "sweep_regime_publicity.png").stat().st_size > 1000
    assert len(pd.read_parquet(tmp_path / "sweep.parquet")) == len(t)
    two = scoresim.sweep(
        "court-defaulters", ["regime.publicity=0.2:1:2"], seeds=2, workers=2, **TINY
    )
    assert json.dumps(two.summaries, sort_keys=True) == json.dumps(res.summaries, sort_keys=True)


def test_sweep_names_the_point_that_failed(monkeypatch):
    import scoresim.sweeps as sw

    def boom(data, seed):
        if data["regime"]["publicity"] > 0.5:
            raise RuntimeError("disk full")
        return {"listed_share": 0.0}

    monkeypatch.setattr(sw, "run_summary", boom)
    with pytest.raises(RuntimeError, match="regime.publicity=1.*disk full"):
        scoresim.sweep("article", ["regime.publicity=0.2:1:2"], seeds=2, **TINY)


def test_sweep_command_refuses_a_bad_key_in_one_line(tmp_path):
    r = cli("sweep", "article", "--set", "regime.nothing=0:1", "--out", str(tmp_path / "s"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "regime.nothing" in r.stderr and "no such scenario key" in " ".join(r.stderr.split())
    r = cli("sweep", "article", "--set", "regime.publicity=0:1", "--design", "cube")
    assert r.returncode == 2 and "grid, lhs" in r.stderr


def test_ensemble_api_reopens_and_plots_its_band(tmp_path):
    ens = scoresim.Ensemble("court-defaulters", seeds=3, **TINY).run()
    ens.write(tmp_path)
    again = scoresim.Results.load(tmp_path)
    assert again.index == ens.index and again.summaries == ens.summaries
    pd.testing.assert_frame_equal(again.summary_table(), ens.summary_table())
    ts = again.timeseries()
    assert sorted(ts.member.unique()) == [0, 1, 2]
    ax = again.plot("listed")
    assert len(ax.collections) == 2  # the run's band and the twin's
    wide = ts[(ts.metric == "listed") & (ts.group == "all")].pivot(
        index="step", columns="member", values="run"
    )
    mean_line = next(line for line in ax.lines if line.get_label().startswith("run (mean"))
    assert np.allclose(mean_line.get_ydata(), wide.mean(axis=1))
    with pytest.raises(ValueError, match="no metric"):
        again.plot("nothing")


def test_a_run_reopens_and_plots(tmp_path):
    res = scoresim.Sim("court-defaulters", n=2000, years=0.3, seed=2).run()
    res.write(tmp_path, report=False)
    again = scoresim.Results.load(tmp_path)
    assert again.summary() == json.loads(json.dumps(res.summary()))
    ax = again.plot("listed")
    assert [line.get_label() for line in ax.lines] == ["run", "twin"]
    with pytest.raises(FileNotFoundError):
        scoresim.Results.load(tmp_path / "figures")


def test_compare_command_refuses_bad_seeds_and_workers(tmp_path):
    for args, option in (
        (("--seeds", "0"), "--seeds"),
        (("--seeds", "2", "--workers", "0"), "--workers"),
    ):
        r = cli("compare", "article", "none", "--n", "2000", *args, "--out", str(tmp_path / "c"))
        assert r.returncode == 2 and "Traceback" not in r.stderr and option in r.stderr, args


def test_a_written_ensemble_is_not_taken_for_another(tmp_path):
    from scoresim.ensemble import ensemble

    scoresim.Ensemble("court-defaulters", seeds=2, **TINY).run().write(tmp_path)
    other = load_scenario("article", {"population": {"persons": 2000}, "run": {"years": 0.3}})
    with pytest.raises(ScenarioError, match="holds another ensemble"):
        ensemble(other, 2, out=tmp_path)


def test_a_malformed_scheduler_address_is_one_clear_error(tmp_path):
    r = cli("ensemble", "article", "--seeds", "2", "--n", "2000", "--scheduler", "nonsense",
            "--out", str(tmp_path / "e"))  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--scheduler" in r.stderr and "tcp://host:8786" in " ".join(r.stderr.split())
