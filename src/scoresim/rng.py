"""Counter-based random numbers: a uniform is a pure function of (seed, stream, step, agent, draw).

Why counter-based: results must not depend on thread count, evaluation order or partitioning,
and the twin society must see every random number the regime does not change (common random
numbers). A stateful generator cannot give that; a hash of the counter can. The mixer is
SplitMix64's finaliser, which passes BigCrush as a counter-based generator.

Use: ``key = stream_key(seed, Stream.FINANCE, step)`` in Python, then ``uniform(key, i)``
inside a numba kernel, with ``i`` a unique counter (agent id, or agent id * K + draw index).
"""

from __future__ import annotations

from enum import IntEnum
from functools import lru_cache

import numpy as np
from numba import njit, uint64

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


class Stream(IntEnum):
    """One stream per independent source of randomness; never reuse a number for two purposes."""

    POPULATION = 1
    HOUSEHOLD = 2
    COMPANY = 3
    NETWORK = 4
    COVERAGE = 5
    FINANCE = 10
    VIOLATION = 11
    SPEECH = 12
    SHOPPING = 13
    WORK = 14
    CIVIC = 15
    TRAVEL = 16
    FIRM = 17
    COURT = 18
    LUXURY = 19
    FIRM_COURT = 24
    DETECTION = 20
    FALSE_RECORD = 21
    REPEATED_ACT = 22  # the draws of an act done more than once in a step
    INVENTED = 23  # records of misdeeds that never happened
    KEPT = 26  # delistings delayed
    MISCONDUCT = 25
    FIRM_OFFSET = 100  # firm-side streams: the person stream + 100
    AVOIDANCE = 30
    EMPLOYER = 31
    PARTNER = 32
    APPEAL = 33
    REPRESENTATIVE = 34
    APPROVAL = 35  # awareness of the system, the information campaign
    APPROVAL_BASE = 6  # individual differences in the baseline (static)
    RESPONSE_TRAITS = 7  # who learns from a refusal; firms' screening thresholds (static)
    ENSEMBLE = 8  # members' seeds from an ensemble's seed
    PILOT = 9  # the order in which regions join a pilot drawn by share (static)
    TRAVEL_CHOICE = 36  # a restricted trip: tried or not, substituted or forgone; learning
    VPN = 37  # reconsidering VPN use
    POLICING = 38  # pressure from contacts who share one's penalties
    POLICING_CUT = 40  # their cutting ties with those who offend anyway
    SCREENING = 39  # firms dropping partners by rating or by requirement
    LENDING = 41  # a credit market: arrivals at a rate, the sanction, the lender, repayment
    LENDING_ARRIVAL = 42  # applicants drawn with replacement: the group, then the member
    LENDING_INIT = 43  # the order in which a group's starting scores are handed out (static)
    ACTS = 44  # whether anything happens to a person in a step, and which of their clocks ticked


def _mix(z: int) -> int:
    """Python twin of the numba mixer (for keys, computed once per step)."""
    mask = (1 << 64) - 1
    z = (z + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


@lru_cache(maxsize=1024)
def _stream_base(seed: int, stream: int) -> int:
    """What a key owes to its seed and stream (kept: every step asks again)."""
    return _mix(_mix(seed & ((1 << 64) - 1)) ^ stream)


def stream_key(seed: int, stream: int, step: int = 0) -> np.uint64:
    """The key for one (seed, stream, step); feed it to :func:`uniform` with an agent counter."""
    return np.uint64(_mix(_stream_base(int(seed), int(stream)) ^ (int(step) + 1)))


@njit(inline="always", cache=True)
def mix64(z: uint64) -> uint64:
    z = z + _GOLDEN
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


@njit(inline="always", cache=True)
def uniform(key: uint64, counter: int) -> float:
    """A uniform in [0, 1) for one counter under one key."""
    return float(mix64(key ^ (uint64(counter) * _M2)) >> uint64(11)) * _TO_UNIT


@njit(cache=True)
def uniforms(key: uint64, start: int, count: int) -> np.ndarray:
    """``count`` uniforms for counters start .. start+count-1 (vector form for build-time use)."""
    out = np.empty(count, dtype=np.float64)
    for i in range(count):
        out[i] = uniform(key, start + i)
    return out


@njit(cache=True)
def uniforms_at(key: uint64, counters: np.ndarray) -> np.ndarray:
    """One uniform per given counter (for a scattered set of agents)."""
    out = np.empty(len(counters), dtype=np.float64)
    for k in range(len(counters)):
        out[k] = uniform(key, counters[k])
    return out


def draws(seed: int, stream: int, count: int, step: int = 0, start: int = 0) -> np.ndarray:
    """Convenience for Python code: ``count`` uniforms of one stream and step."""
    return uniforms(stream_key(seed, stream, step), start, count)
