"""Same scenario and seed, same numbers: across runs and across thread counts."""

from __future__ import annotations

import hashlib

from test_cli import scoresim


def _digest(d):
    return {
        name: hashlib.sha256((d / name).read_bytes()).hexdigest()
        for name in ("summary.json", "timeseries.parquet", "scenario.toml")
    }


def test_same_seed_same_bytes_across_runs_and_threads(tmp_path):
    args = ("run", "article", "--n", "20000", "--years", "1", "--seed", "11")  # > 1 chunk
    outs = []
    for k, threads in enumerate(("1", "2", "2")):
        d = tmp_path / f"r{k}"
        r = scoresim(*args, "--out", str(d), env={"NUMBA_NUM_THREADS": threads})
        assert r.returncode == 0, r.stderr
        outs.append(_digest(d))
    assert outs[0] == outs[1] == outs[2]


def test_other_seed_other_numbers(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d, seed in ((a, "1"), (b, "2")):
        assert (
            scoresim(
                "run", "--n", "3000", "--years", "0.5", "--seed", seed, "--out", str(d)
            ).returncode
            == 0
        )
    assert _digest(a)["timeseries.parquet"] != _digest(b)["timeseries.parquet"]
