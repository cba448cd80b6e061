"""Parallel kernels cut the agents into fixed chunks; each must give exactly what one serial
pass over all agents gives (same values, same event order), and refuse to lose events."""

from __future__ import annotations

import numpy as np
import pytest

import scoresim
from scoresim import behaviour
from scoresim.behaviour import CHUNK


def _behaviour_args(n: int, t: int = 3):
    sim = scoresim.Sim("article", n=n, years=0.2, seed=5, twin=False).build()
    w = sim.worlds[0]
    p, st, out = w.s.persons, w.state.copy(), w.out
    rng = np.random.default_rng(1)
    st.watched[:] = rng.random(n).astype(np.float32)  # some adaptation in play
    flags = [rng.random(n) < 0.2 for _ in range(5)]  # blocks and listings
    args = (
        t,
        behaviour.step_keys(w.seed, t),
        w.params,
        0.3,
        0.4,
        p.internet,
        p.expressiveness,
        p.law_abidance,
        p.financial_fragility,
        p.civic_virtue,
        w.s.travel_weight,
        st.debt,
        st.debt_timer,
        st.misses,
        st.employed,
        st.watched,
        *flags,
    )
    assert len(args) == 21 and out is not None
    return args, st


def test_chunked_behaviour_equals_one_serial_pass():
    n = 2 * CHUNK + 777  # three chunks, the last one short
    args, st = _behaviour_args(n)
    serial_state = st.copy()
    serial_args = (
        args[:11]
        + tuple(
            getattr(serial_state, k)
            for k in ("debt", "debt_timer", "misses", "employed", "watched")
        )
        + args[16:]
    )
    ag, ac = np.empty(3 * n, np.int32), np.empty(3 * n, np.uint8)
    k = behaviour._persons_kernel(*args, ag, ac)
    sg, sc = np.empty(3 * n, np.int32), np.empty(3 * n, np.uint8)
    ks = behaviour._persons_range(0, n, 0, len(sg), *serial_args, sg, sc)
    assert k == ks > n // 10  # events happened
    assert np.array_equal(ag[:k], sg[:k]) and np.array_equal(ac[:k], sc[:k])
    assert np.all(np.diff(ag[:k]) >= 0)  # in agent order
    for name in ("debt", "debt_timer", "misses"):
        assert np.array_equal(getattr(st, name), getattr(serial_state, name))


def test_behaviour_buffer_overflow_is_an_error_not_a_loss():
    n = 2 * CHUNK
    args, _ = _behaviour_args(n)
    events = behaviour.Events(64)  # far too small
    with pytest.raises(RuntimeError, match="event buffer overflow"):
        events.fill(behaviour._persons_kernel, *args)
