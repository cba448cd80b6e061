"""Software prefetch for kernels that walk the rows of scattered agents.

Walking the ties of a list of agents (those whose points moved, those newly listed) starts
each row at a random place in memory. The loop over one row is long enough that the CPU
does not reach the next row's loads before it stalls on them, so every row pays the full
memory latency in turn. Asking for the rows a few agents ahead overlaps those waits (W1: the
own-point scatter took half the time; BENCHMARKS.md). A prefetch is only a hint: it changes
no value, so results stay identical.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .jit import element_pointer, helper
from .network import row_start, stored_start

AHEAD = 8  # agents ahead whose rows are asked for (4-32 measured alike on W1)


@intrinsic
def prefetch(typingctx, array, index):
    """Ask for the cache line of ``array[index]`` (for reading, kept in all cache levels).
    ``index`` must be in bounds; nothing is read or checked."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        ptr = element_pointer(context, builder, signature.args[0], args[0], args[1])
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = builder.module.declare_intrinsic(
            "llvm.prefetch",
            [byte_ptr],
            ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]),
        )
        # read (0), highest temporal locality (3), data cache (1)
        builder.call(fn, [builder.bitcast(ptr, byte_ptr), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@helper
def prefetch_row(ties, active, agents, x):
    """Ask for the row of ``agents[x + AHEAD]`` (its stored ties and their active bits, and
    where co-workers are implicit, its firm's first worker) and for the row starts of
    ``agents[x + 2 * AHEAD]``, while the row of ``agents[x]`` is walked (network.Ties: its
    household and lattice ties are next to the person in memory)."""
    if x + 2 * AHEAD < len(agents):
        prefetch(ties.indptr, agents[x + 2 * AHEAD])
        prefetch(ties.xptr, agents[x + 2 * AHEAD])
        if len(ties.employer):
            prefetch(ties.employer, agents[x + 2 * AHEAD])
    if x + AHEAD < len(agents):
        j = agents[x + AHEAD]
        if len(ties.employer) and ties.employer[j] >= 0:
            prefetch(ties.staff_starts, ties.employer[j])
        start, end = stored_start(ties, j), stored_start(ties, j + 1)
        if end > start:
            prefetch(ties.adj, start)
            prefetch(ties.adj, end - 1)  # a row of up to two cache lines
        first = row_start(ties, j)
        if row_start(ties, j + 1) > first:
            prefetch(active, first >> 6)  # a bit an entry: one line holds 512
