"""Per-cell counts kept by change, not recounted over everyone each step (docs/model.md
§7.9; docs/architecture.md, "Measured by change").

A few of the metrics' columns move for a few persons a step: a person's active ties and
whether it has none left move only when a tie of its is cut; whether it is employed, only
when an employer lets it go or takes it back. Counting them over every person every step
cost the metrics pass more than anything else it does (the active bits of 23 entries a
person: 4 of 16 ms a serial pass at 10^6). So whoever cuts a tie or changes a job adds the
change into its person's cell here (``tie_cut``, ``job_changed``), and the step's measure
reads the counts (``Tally.read``).

The counts are whole numbers, added into a table per thread and summed over the tables when
read: the same counts in any order and with any number of threads. A count is formed afresh
(``recount``, one pass over everyone) when it is *stale*: at the first measure of a world,
whose state came from its build or its burn-in. Checkpoints and a rollout's change of phase
carry the counts with the state they count (the recorder is carried whole).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import njit

from .jit import helper
from .network import active_in, row_start

TALLIED = ("active_ties", "isolated", "employed")  # metrics' columns, in this order
TIES, ISOLATED, EMPLOYED = range(len(TALLIED))


class Counts(NamedTuple):
    """What a kernel that changes a person's ties or job adds its change to: each person's
    cell (empty: nothing is counted, as for firms) and a table a thread [threads, cells,
    TALLIED]."""

    cell: np.ndarray
    by_thread: np.ndarray


NOWHERE = Counts(np.empty(0, np.int16), np.zeros((1, 1, len(TALLIED)), np.int64))


class Tally:
    """The kept counts of one world's persons by cell (metrics.Recorder holds it)."""

    def __init__(self, cell: np.ndarray, cells: int):
        self.cell = cell  # the recorder's column: no copy
        self.by_thread = np.zeros((numba.config.NUMBA_NUM_THREADS, cells, len(TALLIED)), np.int64)
        self.stale = True  # counted by nobody yet

    @property
    def counts(self) -> Counts:
        """For the kernels that change ties or jobs: a table for every thread numba may run
        (more than when counted, if a checkpoint is resumed where numba has more)."""
        more = numba.config.NUMBA_NUM_THREADS - len(self.by_thread)
        if more > 0:
            self.by_thread = np.concatenate(
                [self.by_thread, np.zeros_like(self.by_thread[:1]).repeat(more, 0)]
            )
        return Counts(self.cell, self.by_thread)

    def read(self, indptr, active, employed, employer) -> np.ndarray:
        """[cells, TALLIED]: the counts now, formed afresh if stale."""
        if self.stale:
            self.by_thread[:] = 0
            self.by_thread[0] = recount(self.cell, len(self.by_thread[0]), indptr, active,
                                        employed, employer)  # fmt: skip
            self.stale = False
        return self.by_thread.sum(axis=0)


def recount(cell, cells: int, indptr, active, employed, employer) -> np.ndarray:
    """[cells, TALLIED]: the counts formed over everyone, as a step's changes keep them."""
    out = np.zeros((cells, len(TALLIED)), np.int64)
    _recount(cell, indptr, active, employed, employer, out)
    return out


@njit(cache=True)
def _recount(cell, indptr, active, employed, employer, out):
    for k in range(len(cell)):
        i = np.uint64(k)  # (unsigned: no test for a negative index)
        c = np.uint64(cell[i])
        ties = active_in(active, np.int64(indptr[i]), np.int64(indptr[np.uint64(k + 1)]))
        out[c, TIES] += ties
        out[c, ISOLATED] += np.int64(ties == 0)
        out[c, EMPLOYED] += np.int64(employed[i]) & np.int64(employer[i] >= 0)


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


__all__ = ["NOWHERE", "TALLIED", "Counts", "Tally", "job_changed", "recount", "tie_cut"]
