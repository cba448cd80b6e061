"""Deterministic parallel loops: agents are cut into slices whose number depends on N only,
never on the thread count, and partial results are combined in slice order. So float sums,
event order and every output are the same with 1 thread or 64."""

from __future__ import annotations

from numba import njit

SLICE = 1 << 16  # agents per slice (a run up to this size is one slice: a serial pass)
MAX_SLICES = 16  # slices at most, each with its own partial sums


@njit(cache=True)
def slicing(n: int) -> tuple[int, int]:
    """(number of slices, agents per slice) for ``n`` agents."""
    slices = max(1, min(MAX_SLICES, (n + SLICE - 1) // SLICE))
    return slices, (n + slices - 1) // slices


ROW_SLICES = 256  # slices at most of a list of rows to walk, each with its own row buffer


@njit(cache=True)
def row_slicing(n: int) -> tuple[int, int]:
    """(number of slices, rows per slice) for walking ``n`` independent rows in parallel,
    each slice with its own buffer (network.row_span): fine enough to spread a few thousand
    rows over the threads, coarse enough that the buffers cost nothing."""
    slices = max(1, min(ROW_SLICES, n))
    return slices, (n + slices - 1) // slices
