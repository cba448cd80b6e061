"""Atomic read-modify-writes of 64-bit words, for kernels whose threads share a bitset.

numba has no atomics of its own. A search of the graph in parallel (network.py: the largest
component) marks nodes seen in one bitset from both threads: each mark must be a single
read-modify-write that tells the thread whether the node was new, or two threads could both
take it (or both miss it). These are LLVM's ``atomicrmw`` with monotonic order: each word's
changes happen one at a time, and nothing else is ordered by them (the kernel waits for its
threads at the end of each parallel loop, which orders the rest).
"""

from __future__ import annotations

from numba import types
from numba.extending import intrinsic

from .jit import element_pointer


def _rmw(op: str, array, index, value):
    if not (
        isinstance(array, types.Array)
        and array.dtype == types.uint64
        and isinstance(index, types.Integer)
        and value == types.uint64
    ):
        return None

    def codegen(context, builder, signature, args):
        ptr = element_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.atomic_rmw(op, ptr, args[2], "monotonic")

    return types.uint64(array, index, value), codegen


@intrinsic
def fetch_or(typingctx, array, index, value):
    """``array[index] |= value`` (uint64) in one atomic step; returns the word before.
    ``index`` must be in bounds and not negative: nothing is checked."""
    return _rmw("or", array, index, value)


@intrinsic
def exchange(typingctx, array, index, value):
    """``array[index] = value`` (uint64) in one atomic step; returns the word before."""
    return _rmw("xchg", array, index, value)
