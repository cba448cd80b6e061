"""Per-cell sums kept by change, not recounted over everyone each step (docs/model.md §7.9;
docs/architecture.md, "8. Metrics").

A few of the metrics' columns move for a few persons a step: a person's active ties and
whether it has none left move only when a tie of its is cut; whether it is employed, only
when an employer lets it go or takes it back; its income, only then or when its sanctions
change. Counting them over every person every step cost the metrics pass more than anything
else it did (at 10^6 persons, of 16 ms a serial pass: the active bits of 23 entries a
person 4 ms, the income 4 ms). So whoever cuts a tie, changes a job or changes a person's
sanctions adds the change into its person's cell here (``tie_cut``, ``job_changed``,
``move_income``), and the step's measure reads the sums (metrics.Recorder).

Everything kept is a whole number, added into a table a thread and summed over the tables
when read: the same sums in any order and with any number of threads. The income is kept
exactly too: each income (a float32) is split into its 24-bit mantissa, a whole number,
shifted by its exponent's place within a group of eight exponents and added into the bin of
that group (``INCOME_BINS``; a bin holds under 2^31 a person, so 2^32 persons a cell);
``income_sums`` forms each cell's total from its bins. The tables are formed afresh
(metrics.recount_kept, one pass over everyone) when *stale*: at the first measure of a
world, whose state came from its build or its burn-in, and after a rollout's change of
phase (a new sanctions table or unemployed share moves incomes no kernel touched).
Checkpoints carry the tables with the state they count (the recorder is pickled whole).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
from numba import njit

from .jit import helper
from .network import active_in, row_start

TALLIED = ("active_ties", "isolated", "employed")  # metrics' columns, in this order
TIES, ISOLATED, EMPLOYED = range(len(TALLIED))
KEPT = (*TALLIED, "income")  # every metrics column kept here
# a float32's exponent as math.frexp gives it runs from -148 to 128: e + SHIFT from 1 to 277,
# in bins of GROUP exponents (8: 35 bins, few enough to read every step at no cost)
SHIFT = 149
GROUP_BITS = 3
INCOME_BINS = (277 >> GROUP_BITS) + 1
MANTISSA = 16777216.0  # 2^24: frexp's fraction of a float32, times this, is a whole number


class Counts(NamedTuple):
    """What a kernel that changes a person's ties, job or sanctions adds its change to: each
    person's cell (empty: nothing is kept, as for firms), a table a thread of TALLIED
    [threads, cells, TALLIED] and one of the income's bins [threads, cells, INCOME_BINS]."""

    cell: np.ndarray
    by_thread: np.ndarray
    income: np.ndarray


NOWHERE = Counts(
    np.empty(0, np.int16),
    np.zeros((1, 1, len(TALLIED)), np.int64),
    np.zeros((1, 1, INCOME_BINS), np.int64),
)


class Tally:
    """The kept sums of one world's persons by cell (metrics.Recorder holds it)."""

    def __init__(self, cell: np.ndarray, cells: int):
        self.cell = cell  # the recorder's column: no copy
        threads = numba.config.NUMBA_NUM_THREADS
        self.by_thread = np.zeros((threads, cells, len(TALLIED)), np.int64)
        self.income = np.zeros((threads, cells, INCOME_BINS), np.int64)
        self.stale = True  # counted by nobody yet

    @property
    def counts(self) -> Counts:
        """For the kernels that change ties, jobs or sanctions: a table for every thread
        numba may run (more than when counted, if a checkpoint is resumed where numba has
        more)."""
        more = numba.config.NUMBA_NUM_THREADS - len(self.by_thread)
        if more > 0:
            self.by_thread, self.income = (
                np.concatenate([t, np.zeros((more, *t.shape[1:]), t.dtype)])
                for t in (self.by_thread, self.income)
            )
        return Counts(self.cell, self.by_thread, self.income)

    def restart(self, counted: np.ndarray, income: np.ndarray) -> None:
        """Keep from now the tables ``counted`` [cells, TALLIED] and ``income`` [cells,
        INCOME_BINS], formed afresh over everyone."""
        self.by_thread[:] = 0
        self.income[:] = 0
        self.by_thread[0] = counted
        self.income[0] = income
        self.stale = False

    def sums(self) -> tuple[np.ndarray, np.ndarray]:
        """([cells, TALLIED] whole numbers, [cells] income) now."""
        cells = self.by_thread.shape[1]
        counted, income = np.zeros((cells, len(TALLIED)), np.int64), np.zeros(cells)
        _sums(self.by_thread, self.income, counted, income)
        return counted, income


@njit(cache=True)
def _sums(by_thread, bins, counted, income):
    """The tables added over the threads; each cell's income from its bins."""
    cells = by_thread.shape[1]
    total = np.zeros((cells, INCOME_BINS), np.int64)
    for r in range(len(by_thread)):
        counted += by_thread[r]
        total += bins[r]
    income[:] = income_sums(total)


@njit(cache=True)
def income_sums(bins):
    """Each cell's income from its bins [cells, INCOME_BINS]: the whole numbers times the
    power of two of their bin, added from the smallest bin up (the same order always)."""
    out = np.zeros(len(bins))
    for c in range(len(bins)):
        total = 0.0
        for b in range(INCOME_BINS):
            if bins[c, b] != 0:
                total += math.ldexp(np.float64(bins[c, b]), (b << GROUP_BITS) - SHIFT - 24)
        out[c] = total
    return out


@njit(inline="always", cache=True)
def add_income(income, row, c, x, sign):
    """Add (``sign`` 1) or take away (-1) a float32 income ``x`` in cell ``c``'s bins."""
    m, e = math.frexp(np.float64(x))
    k = e + SHIFT
    q = np.int64(m * MANTISSA) << (k & ((1 << GROUP_BITS) - 1))
    income[row, c, k >> GROUP_BITS] += sign * q


@njit(inline="always", cache=True)
def move_income(cell, income, i, was, now):
    """Person i's income went from ``was`` to ``now`` (float32 each). Safe in a parallel
    loop: each thread adds into its own table."""
    if len(cell) and was != now:
        row = numba.get_thread_id()
        add_income(income, row, cell[i], was, -1)
        add_income(income, row, cell[i], now, 1)


@helper
def tie_cut(counts, ties, active, i):
    """Person i lost an active tie (its bit is cleared already): one tie fewer in its cell,
    and one more isolated if none is left. For serial kernels (the first table)."""
    if len(counts.cell):
        c = counts.cell[i]
        counts.by_thread[0, c, TIES] -= 1
        if active_in(active, row_start(ties, i), row_start(ties, i + 1)) == 0:
            counts.by_thread[0, c, ISOLATED] += 1


@njit(inline="always", cache=True)
def job_changed(cell, by_thread, i, now_employed):
    """Person i (on a payroll) found a job, or lost it. Safe in a parallel loop: each thread
    adds into its own table. (``Counts``' columns as arguments of their own: a parallel
    kernel that wrote through the bundle's field lost the writes, numba 0.68.1.)"""
    if len(cell):
        d = 1 if now_employed else -1
        by_thread[numba.get_thread_id(), cell[i], EMPLOYED] += d


__all__ = [
    "KEPT", "NOWHERE", "TALLIED", "Counts", "Tally", "add_income", "income_sums", "job_changed",
    "move_income", "tie_cut",
]  # fmt: skip
