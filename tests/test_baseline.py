"""A small run's summary, pinned. A change to the model that moves these numbers must update
the baseline on purpose: SCORESIM_UPDATE_BASELINE=1 pytest tests/test_baseline.py, and say
why in the commit."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from scoresim import Sim

BASELINE = Path(__file__).parent / "baseline" / "article_n5000_y1_s42.json"


def _close(a, b, path="summary"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert a == b, path
    elif isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9), (
            f"{path}: {a} != {b}"
        )
    else:
        assert a == b, f"{path}: {a} != {b}"


def test_small_run_matches_baseline():
    got = Sim("article", n=5000, years=1, seed=42).run().summary()
    if os.environ.get("SCORESIM_UPDATE_BASELINE"):
        BASELINE.write_text(json.dumps(got, indent=2) + "\n")
    want = json.loads(BASELINE.read_text())
    _close(got, want)
    assert got["ever_sanctioned_share"] > 0
