"""A few hundred hostile inputs inside the suite; the long run is `python tests/fuzzing.py`."""

from __future__ import annotations

import random

import pytest
from fuzzing import corpus, run_case


@pytest.fixture(scope="module")
def bases():
    return corpus()


@pytest.mark.parametrize("block", range(6))
def test_hostile_scenarios_end_in_a_scenario_or_a_clear_error(tmp_path, bases, block):
    rng = random.Random(1000 + block)
    kinds = set()
    for _ in range(50):
        kind, secs, detail = run_case(rng, *bases, tmp_path)
        assert kind in ("ok", "error"), detail
        kinds.add(kind)
    assert "error" in kinds  # the mutations do reach the validation
