"""The layered social graph in CSR form: builders, cut-tie masks, components.

Persons: one CSR over all layers (household, work, community, online). Each directed entry is
one integer, ``adj = neighbour << 3 | layer``: one memory stream for the kernels that walk
ties, 4 bytes an entry (uint32 up to 2**29 agents, uint64 beyond). Each undirected tie is
stored twice (i->j and j->i), rows sorted by adj (= by neighbour, then layer), so the reverse
entry of a tie is found by binary search (no extra index array).
Firms: a separate CSR of business partner links. Ties are never deleted during a run: a cut
tie is masked in a per-world ``active`` bitset, and stays countable (docs/model.md §2.4).
The bitset holds one bit an entry in 64-bit words (entry e is bit ``e & 63`` of word
``e >> 6``): an eighth of a byte an entry, where a byte an entry was the graph's largest
per-world column. (Words, not bytes: a kernel reading bits out of uint8 bytes walked ties
~40 % slower than from a byte an entry; out of words, as fast; BENCHMARKS.md.)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
from numba import get_num_threads, njit, prange

from .atomic_words import exchange, fetch_or
from .jit import helper
from .parallel import slicing
from .population import Firms, Persons, group_starts, household_of
from .rng import Stream, draws, stream_key, uniform
from .scenario import LAYERS, Network

HOUSEHOLD, WORK, COMMUNITY, ONLINE = range(4)
BUSINESS = 4


LAYER_BITS = 3
LAYER_MASK = 7
PACK32_LIMIT = 1 << (32 - LAYER_BITS)  # agents a uint32 entry can address


@njit(inline="always", cache=True)
def nbr_of(v):
    """The neighbour of a packed entry."""
    return np.int64(v >> LAYER_BITS)


@njit(inline="always", cache=True)
def layer_of(v):
    """The layer of a packed entry."""
    return np.int64(v & LAYER_MASK)


class Ties(NamedTuple):
    """A graph as kernels read it. Row i's entries are its household's other members, its
    community lattice ties that were not rewired and its co-workers, held implicitly (they
    follow from the order of the persons, region by region, household by household, and
    from the staff of its employer), and the stored ones (online ties, rewired community
    ties), ``adj[xptr[i]:xptr[i + 1]]``. ``row_into`` lays a row out as if it were stored
    whole (by neighbour, then layer, no repeats): entry ``indptr[i] + q``, whose active bit
    the worlds keep, is its q-th."""

    indptr: np.ndarray  # uint32 (int64 from 2**32 entries), n + 1: each row's first entry,
    #                     implicit ones counted (read as int64: row_start)
    xptr: np.ndarray  # uint32 (likewise), n + 1: each row's first stored entry (stored_start)
    adj: np.ndarray  # uint32 (uint64 from 2**29 agents): the stored entries, neighbour << 3 | layer
    home: np.ndarray  # uint8: each person's place and household size (Persons.home; empty:
    #                   no implicit households)
    cell_starts: np.ndarray  # int64: first person of each (region, urban) cell, then n
    layout: np.ndarray  # int64: lattice half degree, stride; longest row; most implicit
    #                     entries; co-workers' cap (see HALF...)
    rewired: np.ndarray  # uint64 bitset, bit i * half + d - 1: person i's lattice slot d rewired
    employer: np.ndarray  # int32: each person's firm or -1 (empty: no implicit co-workers)
    staff: np.ndarray  # int32: the workers, firm by firm, ascending within a firm
    staff_starts: np.ndarray  # int64: each firm's first worker in ``staff``, then its length


# the fields of Ties.layout: the lattice's half degree and stride, the longest row, the most
# implicit entries of a row, the co-workers' cap (network.work_degree_cap: a firm of more
# than cap + 1 workers is a ring lattice of degree cap, _clique_pairs)
HALF, STRIDE, LONGEST, MOST_IMPLICIT, WORK_CAP = range(5)


@dataclass
class Graph:
    indptr: np.ndarray  # n + 1: row starts over all entries, implicit ones counted (narrow)
    stored: np.ndarray  # uint32 (uint64 for 2**29 agents and more): neighbour << 3 | layer
    xptr: np.ndarray | None = None  # n + 1: row starts of ``stored`` (None: indptr; narrow)
    home: np.ndarray | None = None  # the persons' Persons.home, if households are implicit
    cell_starts: np.ndarray | None = None  # the lattice's cells, if held implicitly
    half: int = 0  # the lattice's half degree (0: no lattice held implicitly)
    stride: int = 0
    rewired: np.ndarray | None = None
    longest: int = -1  # the longest row (-1: not yet known)
    most_implicit: int = 0  # the most implicit entries of a row
    employer: np.ndarray | None = None  # the persons' employers, if co-workers are implicit
    staff: np.ndarray | None = None  # int32: the workers, firm by firm (Ties.staff)
    staff_starts: np.ndarray | None = None  # int64: each firm's first worker, then the count
    work_cap: int = 0  # the co-workers' cap (Ties.layout)

    def __post_init__(self) -> None:
        self.indptr = narrow_starts(self.indptr)
        self.xptr = None if self.xptr is None else narrow_starts(self.xptr)
        if self.longest < 0:
            self.longest = int(np.diff(self.indptr).max()) if self.n else 0

    @property
    def n(self) -> int:
        return len(self.indptr) - 1

    @property
    def entries(self) -> int:
        return int(self.indptr[-1])

    @cached_property
    def ties(self) -> Ties:
        """The bundle kernels walk rows with (row_into); formed once (a graph's arrays are
        not replaced once built)."""
        none32, none64 = np.zeros(0, np.int32), np.zeros(0, np.int64)
        work = self.employer is not None
        return Ties(
            self.indptr,
            self.indptr if self.xptr is None else self.xptr,
            self.stored,
            np.zeros(0, np.uint8) if self.home is None else self.home,
            none64 if self.cell_starts is None else self.cell_starts,
            np.array(
                [self.half, self.stride, self.longest, self.most_implicit, self.work_cap],
                np.int64,
            ),
            np.zeros(1, np.uint64) if self.rewired is None else self.rewired,
            self.employer if work else none32,
            self.staff if work else none32,
            self.staff_starts if work else none64,
        )

    @property
    def adj(self) -> np.ndarray:
        """Every entry, implicit ones too, in row order (a new array: for Python-side use and
        tests; at scale, kernels walk rows with row_into)."""
        return _materialize(self.ties)

    @property
    def nbr(self) -> np.ndarray:
        """Neighbour of each entry (a new array: for Python-side use and tests)."""
        return (self.adj >> LAYER_BITS).astype(np.int64)

    @property
    def layer(self) -> np.ndarray:
        """Layer of each entry (a new array: for Python-side use and tests)."""
        return (self.adj & LAYER_MASK).astype(np.uint8)

    def degree(self, active: np.ndarray | None = None) -> np.ndarray:
        if active is None:
            return np.diff(self.indptr).astype(np.int32)
        return _active_degree(self.indptr, check_active(active, self.entries))

    def nbytes(self) -> int:
        """Bytes of the graph's own arrays (the household and employer columns are the
        persons')."""
        own = [self.indptr, self.stored, self.xptr, self.cell_starts, self.rewired]
        own += [self.staff, self.staff_starts]
        return sum(a.nbytes for a in own if a is not None)


def narrow_starts(starts: np.ndarray) -> np.ndarray:
    """Row starts as uint32 where the last fits (4 bytes a row, not 8: at 10^8 persons the
    ~2.4 x 10^9 entries do), else as int64; kernels read them as int64 (row_start,
    stored_start), as numba would mix uint32 with int64 into floats."""
    if starts.dtype == np.uint32 or (len(starts) and starts[-1] >= 2**32):
        return starts
    return starts.astype(np.uint32)


@helper
def row_start(t, i):
    """The graph's entry number of row i's first entry (entry q of the row is this + q)."""
    return np.int64(t.indptr[np.uint64(i)])  # (unsigned: no test for a negative index)


@helper
def stored_start(t, i):
    """Where row i's stored entries start in ``t.adj``."""
    return np.int64(t.xptr[np.uint64(i)])


@njit(cache=True)
def row_room(t):
    """The length of a buffer row_into can fill for any row of ``t`` (the row, then room
    for its implicit entries twice: two sorted runs and their merge)."""
    return t.layout[LONGEST] + 2 * t.layout[MOST_IMPLICIT]


@helper
def _is_rewired(t, i, d):
    """Whether person i's lattice link d was rewired (bit i * half + d - 1, laid out as the
    active bitsets are: is_active reads it)."""
    return is_active(t.rewired, np.int64(i) * t.layout[HALF] + d - 1)


@helper
def stored_whole(t):
    """Whether every row of ``t`` is stored as it is (nothing held implicitly)."""
    return len(t.home) == 0 and t.layout[HALF] == 0 and len(t.employer) == 0


@helper
def _put_sorted(buf, at, k, v):
    """Insert ``v`` into the sorted buf[at:at + k] unless it is there; the new length."""
    y = at + k - 1
    while y >= at and buf[y] > v:
        y -= 1
    if y >= at and buf[y] == v:
        return k
    for z in range(at + k - 1, y, -1):
        buf[z + 1] = buf[z]
    buf[y + 1] = v
    return k + 1


@njit(inline="always", cache=True)
def _wrap(y, s):
    """y % s, without a division where y is within one cell's length of 0..s-1 (as it is
    but in cells shorter than the lattice's reach)."""
    if y >= s:
        y -= s
    elif y < 0:
        y += s
    if y < 0 or y >= s:
        y %= s
    return y


@helper
def _staff_of(t, i):
    """Person i's firm's workers, ``t.staff[lo:hi]`` (an empty range if it has no employer
    or co-workers are stored)."""
    if len(t.employer) == 0 or t.employer[i] < 0:
        return np.int64(0), np.int64(0)
    f = t.employer[i]
    return t.staff_starts[f], t.staff_starts[f + 1]


@helper
def implicit_span(t, i):
    """The persons row i's implicit ties can reach, lo..hi-1: its lattice cell (or its
    household where no lattice is held) and its firm's workers, from the first to the last
    (an empty range if the row has none)."""
    lo, hi = np.int64(i), np.int64(i)
    if t.layout[HALF] > 0:
        c = _cell_of(t.cell_starts, i)
        lo, hi = t.cell_starts[c], t.cell_starts[c + 1]
    elif len(t.home):
        lo, hi = household_of(t.home, i)
    a, b = _staff_of(t, i)
    if b - a > 1:
        first, last = np.int64(t.staff[a]), np.int64(t.staff[b - 1]) + 1
        lo, hi = (first, last) if lo == hi else (min(lo, first), max(hi, last))
    return lo, hi


@helper
def _cell_of(starts, i):
    """The cell of person i: the last c with starts[c] <= i."""
    lo, hi = 0, len(starts) - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if starts[mid] <= i:
            lo = mid
        else:
            hi = mid
    return lo


@helper
def row_into(t, i, buf):
    """Row i's entries into ``buf[:k]`` (a buffer of ``row_room(t)``) in the order of a row
    stored whole: by neighbour, then layer, each once; returns k. Entry q is entry
    ``t.indptr[i] + q`` of the graph."""
    lo, hi = stored_start(t, i), stored_start(t, i + 1)
    half = t.layout[HALF]
    if stored_whole(t):
        for q in range(hi - lo):
            buf[q] = t.adj[lo + q]
        return hi - lo
    at = t.layout[LONGEST]  # the implicit entries, sorted, in the buffer's tail
    m = 0
    first = s = x = 0
    stride = t.layout[STRIDE]
    if half > 0:
        c = _cell_of(t.cell_starts, i)
        first = t.cell_starts[c]
        s = t.cell_starts[c + 1] - first
        x = i - first
    h_lo = h_hi = np.int64(i)
    if len(t.home):
        h_lo, h_hi = household_of(t.home, i)
    lattice = half > 0 and s > 1
    reach = half * stride
    if not lattice or (x >= reach and x + reach < s and h_lo > i - stride and h_hi <= i + stride):
        # the usual row: its lattice ties behind, its household, its lattice ties ahead are
        # in ascending order already, and distinct (no lattice link wraps round its cell)
        if lattice:
            for d in range(half, 0, -1):
                if not _is_rewired(t, i - d * stride, d):
                    buf[at + m] = ((i - d * stride) << LAYER_BITS) | COMMUNITY
                    m += 1
        for j in range(h_lo, h_hi):
            if j != i:
                buf[at + m] = (j << LAYER_BITS) | HOUSEHOLD
                m += 1
        if lattice:
            for d in range(1, half + 1):
                if not _is_rewired(t, i, d):
                    buf[at + m] = ((i + d * stride) << LAYER_BITS) | COMMUNITY
                    m += 1
    else:  # put in nearly ascending order: lattice ties behind, household, lattice ahead
        for d in range(half, 0, -1):
            p = first + _wrap(x - d * stride, s)
            if p != i and not _is_rewired(t, p, d):
                m = _put_sorted(buf, at, m, (p << LAYER_BITS) | COMMUNITY)
        for j in range(h_lo, h_hi):
            if j != i:
                m = _put_sorted(buf, at, m, (j << LAYER_BITS) | HOUSEHOLD)
        for d in range(1, half + 1):
            if not _is_rewired(t, i, d):
                j = first + _wrap(x + d * stride, s)
                if j != i:
                    m = _put_sorted(buf, at, m, (j << LAYER_BITS) | COMMUNITY)
    f_lo, f_hi = _staff_of(t, i)
    b, end = at, at + m
    if f_hi - f_lo > 1:
        b, end = _with_co_workers(t.staff, f_lo, f_hi, t.layout[WORK_CAP], i, buf, at, m)
    k = 0  # merge the stored run and the implicit one, each value once
    a = lo
    if end > b:  # the stored ties before the first implicit one, copied as they are
        cut = lower_bound(t.adj, lo, hi, buf[b])
        while a < cut:
            buf[k] = t.adj[a]
            a += 1
            k += 1
    while a < hi and b < end:  # (without branches: which run is ahead is unpredictable)
        va, vb = t.adj[a], buf[b]
        buf[k] = min(va, vb)
        a += va <= vb
        b += vb <= va
        k += 1
    while b < end:
        buf[k] = buf[b]
        b += 1
        k += 1
    while a < hi:
        buf[k] = t.adj[a]
        a += 1
        k += 1
    return k


@helper
def _with_co_workers(staff, f_lo, f_hi, cap, i, buf, at, m):
    """Row i's co-workers (the pairs _clique_pairs makes: all its firm's other workers
    ``staff[f_lo:f_hi]``, or the ``cap // 2`` each side of the person in the firm's ring)
    merged with its other implicit entries ``buf[at:at + m]``; returns where the merged run
    lies in ``buf`` (``lo, hi``; the co-workers and the merge use the room past ``at + m``)."""
    s = f_hi - f_lo
    c = at + m  # the co-workers, sorted
    w = 0
    reach = cap // 2
    lo, hi, p = f_lo, f_hi, f_lo  # all the firm's workers, or the ring's reach each side
    if s > cap + 1:
        p = lower_bound(staff, f_lo, f_hi, i)
        lo, hi = p - reach, p + reach + 1
    if f_lo <= lo and hi <= f_hi:  # no wrap: in ascending order already
        for q in range(lo, hi):
            j = np.int64(staff[q])
            if j != i:
                buf[c + w] = (j << LAYER_BITS) | WORK
                w += 1
    else:
        x = p - f_lo
        for d in range(1, reach + 1):
            for y in (x - d, x + d):
                j = np.int64(staff[f_lo + _wrap(y, s)])
                w = _put_sorted(buf, c, w, (j << LAYER_BITS) | WORK)
    if m == 0:
        return c, c + w
    u, v, out = at, c, c + w  # merge the two runs (no value is in both: their layers differ)
    k = out
    while u < at + m and v < c + w:
        if buf[u] < buf[v]:
            buf[k] = buf[u]
            u += 1
        else:
            buf[k] = buf[v]
            v += 1
        k += 1
    while u < at + m:
        buf[k] = buf[u]
        u += 1
        k += 1
    while v < c + w:
        buf[k] = buf[v]
        v += 1
        k += 1
    return out, k


@njit(inline="always", cache=True)
def rows_in(t, buf):
    """The array ``row_span``'s entries are read from: the stored entries where every row
    is stored whole, else ``buf`` (a buffer of ``row_room(t)``). Chosen once, before a
    kernel's loop over rows: an array picked per row would be reference-counted per row
    (jit.py)."""
    return t.adj if stored_whole(t) else buf


@helper
def row_span(t, i, buf):
    """Row i as ``(o, k)``: its entries are ``rows_in(t, buf)[o:o + k]``, in the order of a
    row stored whole (entry q is entry ``t.indptr[i] + q``). A row with nothing implicit is
    read where it is stored; one with implicit ties is laid out in ``buf`` (row_into)."""
    if stored_whole(t):
        o = stored_start(t, i)
        return o, stored_start(t, i + 1) - o
    return np.int64(0), row_into(t, i, buf)


@njit(cache=True)
def _households_inside_cells(home, cell_starts):
    """Whether every household lies inside one cell (as build_persons lays them out): the
    reach of a row's implicit ties is then its cell (implicit_span)."""
    for i in range(len(home)):
        lo, hi = household_of(home, i)
        if lo == i and _cell_of(cell_starts, lo) != _cell_of(cell_starts, hi - 1):
            return False
    return True


@njit(cache=True, parallel=True)
def _row_lengths(t):
    n = len(t.xptr) - 1
    out = np.zeros(n + 1, np.int64)
    slices, span = slicing(n)
    for s in prange(slices):
        buf = np.empty(row_room(t), t.adj.dtype)
        for i in range(s * span, min(n, (s + 1) * span)):
            out[i + 1] = row_into(t, i, buf)
    return out


@njit(cache=True, parallel=True)
def _materialize(t):
    n = len(t.indptr) - 1
    out = np.empty(row_start(t, n), t.adj.dtype)
    slices, span = slicing(n)
    for s in prange(slices):
        buf = np.empty(row_room(t), t.adj.dtype)
        for i in range(s * span, min(n, (s + 1) * span)):
            k = row_into(t, i, buf)
            first = row_start(t, i)
            out[first : first + k] = buf[:k]
    return out


def with_implicit(
    stored: Graph,
    home: np.ndarray,
    cell_starts: np.ndarray,
    half: int,
    stride: int,
    rewired: np.ndarray,
    employer: np.ndarray | None = None,
    staff: np.ndarray | None = None,
    work_cap: int = 0,
) -> Graph:
    """The graph whose rows are ``stored``'s with each person's household (``home``:
    Persons.home) and unrewired lattice ties added implicitly, and its co-workers if
    ``employer`` and ``staff`` (the workers, firm by firm, ascending within a firm) are
    given; its row starts count them (one pass over the rows)."""
    if half > 0 and not _households_inside_cells(home, cell_starts):
        raise ValueError("a household straddles two lattice cells: implicit_span needs not")
    most = int((home & 15).max(initial=0)) + 2 * half  # (the largest household's size - 1)
    work: tuple = (None, None, None, 0)
    if employer is not None and staff is not None and len(staff):
        firms = int(employer.max()) + 1
        staff_starts = np.zeros(firms + 1, np.int64)
        np.cumsum(np.bincount(employer[staff], minlength=firms), out=staff_starts[1:])
        most += min(work_cap, int(np.diff(staff_starts).max()) - 1)
        work = (employer, staff, staff_starts, work_cap)
    parts = (stored.stored, stored.indptr, home, cell_starts)
    lattice = (half, stride, rewired)
    room = int(np.diff(stored.indptr).max(initial=0)) + most  # enough to count the rows
    lengths = _row_lengths(Graph(stored.indptr, *parts, *lattice, room, most, *work).ties)
    longest = int(lengths.max(initial=0))
    np.cumsum(lengths, out=lengths)  # the row starts (narrowed by Graph)
    return Graph(lengths, *parts, *lattice, longest, most, *work)


# Bytes per directed entry (up to 2**29 agents; each world adds a bit an entry, its active mask).
ENTRY_BYTES = 4


def all_active(entries: int) -> np.ndarray:
    """An active bitset with every one of ``entries`` set (the bits past the last are 0)."""
    return pack_active(np.ones(entries, bool))


def active_words(entries: int) -> int:
    """The 64-bit words of an active bitset for ``entries`` entries."""
    return (entries + 63) // 64


def pack_active(flags: np.ndarray) -> np.ndarray:
    """The active bitset of per-entry flags (anything nonzero is active)."""
    flags = np.asarray(flags) != 0
    packed = np.zeros(8 * active_words(len(flags)), np.uint8)
    packed[: (len(flags) + 7) // 8] = np.packbits(flags, bitorder="little")
    return packed.view("<u8").astype(np.uint64)  # bit e & 63 of word e >> 6, on any machine


def active_flags(bits: np.ndarray, entries: int) -> np.ndarray:
    """Per-entry bools of an active bitset (a new array: for Python-side use and tests)."""
    packed = bits.astype("<u8").view(np.uint8)
    return np.unpackbits(packed, count=entries, bitorder="little").view(bool)


def check_active(bits: np.ndarray, entries: int) -> np.ndarray:
    """``bits`` if it is an active bitset for ``entries`` entries; a clear error otherwise (a
    byte an entry, the form before bitsets, would be read wrongly, not fail)."""
    if bits.dtype != np.uint64 or len(bits) != active_words(entries):
        raise ValueError(
            f"an active mask must be a bitset of {active_words(entries)} uint64 words for "
            f"{entries} entries (network.pack_active); got {len(bits)} of {bits.dtype}"
        )
    return bits


@helper
def is_active(bits, e):
    """Whether entry ``e``'s tie is active."""
    w = np.uint64(e)  # (an entry is never negative: unsigned, no wraparound test on the read)
    return ((bits[w >> np.uint64(6)] >> (w & np.uint64(63))) & np.uint64(1)) != 0


@helper
def deactivate(bits, e):
    """Mark entry ``e`` cut (not thread-safe: its word holds 63 other entries' bits)."""
    bits[e >> 6] &= ~(np.uint64(1) << np.uint64(e & 63))


@njit(inline="always", cache=True)
def popcount(x):
    """The set bits of a uint64."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@helper
def active_in(bits, lo, hi):
    """The active entries among ``lo..hi-1`` (a row: an agent's active degree), a word at a
    time. A world keeps no degree column: each reader counts the row where it reads it."""
    count = 0
    e = lo
    while e < hi:
        off = e & 63
        take = min(64 - off, hi - e)
        word = bits[e >> 6] >> np.uint64(off)
        if take < 64:
            word &= (np.uint64(1) << np.uint64(take)) - np.uint64(1)
        count += popcount(word)
        e += take
    return count


@njit(cache=True, parallel=True)
def _active_degree(indptr, active):
    n = len(indptr) - 1
    out = np.empty(n, dtype=np.int32)
    for i in prange(n):
        out[i] = active_in(active, np.int64(indptr[i]), np.int64(indptr[i + 1]))
    return out


@njit(cache=True)
def _count_pairs(a, b, counts):
    """counts[i + 1] += entries row i gets from these pairs (both directions, no self-loops)."""
    for k in range(len(a)):
        if a[k] != b[k]:
            counts[a[k] + 1] += 1
            counts[b[k] + 1] += 1


@njit(cache=True)
def _fill_pairs(a, b, lay, fill, adj):
    for k in range(len(a)):
        if a[k] != b[k]:
            adj[fill[a[k]]] = (b[k] << LAYER_BITS) | lay
            fill[a[k]] += 1
            adj[fill[b[k]]] = (a[k] << LAYER_BITS) | lay
            fill[b[k]] += 1


@njit(cache=True, parallel=True)
def _sort_rows(counts, adj):
    """Sort each row by adj (neighbour, then layer) and drop duplicate entries: rows are
    sorted in parallel (insertion sort for short rows, a library sort for hubs), then closed
    up in place in one serial sweep; return indptr."""
    n = len(counts) - 1
    kept = np.zeros(n + 1, dtype=np.int64)
    for i in prange(n):
        lo, hi = counts[i], counts[i + 1]
        if hi - lo > 32:
            adj[lo:hi].sort()
        else:
            for x in range(lo + 1, hi):
                v = adj[x]
                y = x - 1
                while y >= lo and adj[y] > v:
                    adj[y + 1] = adj[y]
                    y -= 1
                adj[y + 1] = v
        k = 0
        for x in range(lo, hi):
            if x == lo or adj[x] != adj[x - 1]:
                k += 1
        kept[i + 1] = k
    indptr = np.cumsum(kept)
    for i in range(n):  # close up: each row moves left (never past a row not yet moved)
        lo, hi = counts[i], counts[i + 1]
        w = indptr[i]
        if w == lo and indptr[i + 1] - w == hi - lo:
            continue  # in place and nothing dropped
        if hi == lo:
            continue
        prev = adj[lo]  # the original value: adj[x - 1] may be overwritten by then
        adj[w] = prev
        w += 1
        for x in range(lo + 1, hi):
            v = adj[x]
            if v != prev:
                adj[w] = v
                w += 1
            prev = v
    return indptr


def from_parts(
    n: int, parts: list[tuple[np.ndarray, np.ndarray, int]], wide: bool | None = None
) -> Graph:
    """CSR from pair lists, one (a, b, layer) per layer, without ever joining them: rows are
    counted and filled part by part, the parts are let go (the list is emptied), then rows
    are sorted and de-duplicated in place. Peak memory: the pairs plus the final arrays."""
    counts = np.zeros(n + 1, dtype=np.int64)
    for a, b, _ in parts:
        _count_pairs(a, b, counts)
    np.cumsum(counts, out=counts)
    wide = n >= PACK32_LIMIT if wide is None else wide  # (tests force the wide form)
    adj = np.empty(counts[n], dtype=np.uint64 if wide else np.uint32)  # numpy-owned: can shrink
    fill = counts[:-1].copy()
    for a, b, lay in parts:
        if wide:
            a, b = a.astype(np.uint64), b.astype(np.uint64)
        else:
            a, b = a.astype(np.uint32, copy=False), b.astype(np.uint32, copy=False)
        _fill_pairs(a, b, adj.dtype.type(lay), fill, adj)
    parts.clear()
    del fill
    indptr = _sort_rows(counts, adj)
    adj.resize(int(indptr[n]), refcheck=False)
    return Graph(indptr, adj)


def from_pairs(
    n: int, a: np.ndarray, b: np.ndarray, layer: np.ndarray, wide: bool | None = None
) -> Graph:
    """CSR from one list of pairs with a layer each (small graphs, tests)."""
    a, b, layer = a.astype(np.int64), b.astype(np.int64), layer.astype(np.uint8)
    parts = [(a[layer == x], b[layer == x], int(x)) for x in np.unique(layer)]
    return from_parts(n, parts, wide)


@njit(cache=True)
def _clique_pairs(group_starts, cap):
    """Pairs inside contiguous groups: all pairs if the group has <= cap + 1 members, else a
    ring lattice of degree ``cap`` (co-workers in large firms)."""
    total = 0
    for g in range(len(group_starts) - 1):
        s = group_starts[g + 1] - group_starts[g]
        total += s * (s - 1) // 2 if s <= cap + 1 else s * (cap // 2)
    a = np.empty(total, dtype=np.int32)
    b = np.empty(total, dtype=np.int32)
    k = 0
    for g in range(len(group_starts) - 1):
        lo, hi = group_starts[g], group_starts[g + 1]
        s = hi - lo
        if s <= cap + 1:
            for x in range(lo, hi):
                for y in range(x + 1, hi):
                    a[k] = x
                    b[k] = y
                    k += 1
        else:
            for x in range(s):
                for d in range(1, cap // 2 + 1):
                    a[k] = lo + x
                    b[k] = lo + (x + d) % s
                    k += 1
    return a[:k], b[:k]


@njit(cache=True)
def _lattice(n, cell_starts, half_degree, stride, rewire, key, whole):
    """Watts-Strogatz inside each (region, urban) cell: each person links to the persons
    ``stride``, 2*``stride``, ... positions ahead (past their own household, which sits at
    adjacent positions), and each link is rewired to a random cell member with prob
    ``rewire``. Returns which links were rewired (a bit a person and link) and the pairs to
    store: the rewired links, and the others too if the graph is stored ``whole`` (else
    they follow from the person order: Ties)."""
    rewired = np.zeros((n * half_degree + 63) // 64 + 1, np.uint64)
    m = 0
    for fill in range(2):  # count the pairs and mark the rewired links, then write the pairs
        if fill:
            a = np.empty(m, dtype=np.int32)
            b = np.empty(m, dtype=np.int32)
        else:
            a = b = np.empty(0, dtype=np.int32)
        k = 0  # the link's number, as when every link was a stored pair (the draws' counter)
        m = 0
        for c in range(len(cell_starts) - 1):
            lo, hi = cell_starts[c], cell_starts[c + 1]
            s = hi - lo
            if s <= 1:
                continue
            for x in range(s):
                for d in range(1, half_degree + 1):
                    moved = uniform(key, 2 * k) < rewire
                    if moved or whole:
                        if fill:
                            a[m] = lo + x
                            if moved:
                                b[m] = lo + int(uniform(key, 2 * k + 1) * s)
                            else:
                                b[m] = lo + (x + d * stride) % s
                        elif moved:
                            bit = (lo + x) * half_degree + d - 1
                            rewired[bit >> 6] |= np.uint64(1) << np.uint64(bit & 63)
                        m += 1
                    k += 1
    return rewired, a, b


@njit(cache=True)
def _guide_table(cum, buckets):
    """guide[b] = searchsorted(cum, b / buckets * total, 'right'): where a draw in bucket b
    starts looking, so a draw touches a few neighbouring entries of ``cum`` instead of
    binary-searching all of it (a cache miss per step once ``cum`` outgrows the cache)."""
    total = cum[-1]
    guide = np.empty(buckets + 1, np.int64)
    for b in range(buckets + 1):
        guide[b] = np.searchsorted(cum, b / buckets * total, side="right")
    return guide


@helper
def _inverse_cdf(u, cum, guide):
    """searchsorted(cum, u * total, 'right'), exactly, using the guide table."""
    x = u * cum[-1]
    buckets = len(guide) - 1
    b = min(int(u * buckets), buckets - 1)
    lo = max(guide[b] - 1, 0)  # one entry of slack each side for rounding at bucket edges
    hi = min(guide[b + 1] + 1, len(cum))
    while lo < hi:  # first index in the window with cum > x
        mid = (lo + hi) // 2
        if cum[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    if (lo > 0 and cum[lo - 1] > x) or (lo < len(cum) and cum[lo] <= x):
        return np.searchsorted(cum, x, side="right")  # outside the window: never in practice
    return lo


@njit(cache=True)
def _inverse_cdf_many(u, cum, guide):
    """_inverse_cdf for an array of uniforms (tests)."""
    out = np.empty(len(u), np.int64)
    for k in range(len(u)):
        out[k] = _inverse_cdf(u[k], cum, guide)
    return out


@njit(cache=True, parallel=True)
def _chung_lu_pairs(members, weights, n_edges, key):
    """Chung-Lu: endpoints drawn proportional to weight -> expected degree ~ weight. Pair k
    depends only on its own two draws, so the pairs are drawn in parallel."""
    cum = np.cumsum(weights)
    guide = _guide_table(cum, max(1, len(cum) // 4))
    a = np.empty(n_edges, dtype=np.int32)
    b = np.empty(n_edges, dtype=np.int32)
    last = len(members) - 1
    for k in prange(n_edges):
        a[k] = members[min(_inverse_cdf(uniform(key, 2 * k), cum, guide), last)]
        b[k] = members[min(_inverse_cdf(uniform(key, 2 * k + 1), cum, guide), last)]
    return a, b


def build_person_graph(
    spec: Network,
    persons: Persons,
    seed: int,
    implicit: bool = True,
) -> Graph:
    """The persons' ties. ``implicit``: household, co-worker and unrewired community ties are
    held implicitly (Ties: ~15 of 23.5 entries a person not stored, walks slower), online
    ties and rewired community ties stored; otherwise every tie is stored. The two are the
    same graph, entry for entry."""
    n = persons.n
    parts: list[tuple[np.ndarray, np.ndarray, int]] = []  # (a, b, layer), int32 pairs
    workers = np.flatnonzero(persons.employer >= 0)
    staff = workers[np.argsort(persons.employer[workers], kind="stable")].astype(np.int32)
    del workers
    if len(staff) and not implicit:
        wa, wb = _clique_pairs(group_starts(persons.employer[staff]), spec.work_degree_cap)
        parts.append((staff[wa], staff[wb], WORK))
        del wa, wb, staff
    cell = persons.region.astype(np.int64) * 2 + (~persons.urban)
    cell_starts = group_starts(cell)
    del cell
    half = int(round(spec.community_degree / 2))
    stride = max(1, int(np.ceil(3 * 2.62)))  # [assume] beyond a typical household's span
    rewired = None
    if half > 0:
        key = stream_key(seed, Stream.NETWORK, COMMUNITY)
        rewire, whole = spec.community_rewire, not implicit
        rewired, la, lb = _lattice(n, cell_starts, half, stride, rewire, key, whole)
        parts.append((la, lb, COMMUNITY))
        del la, lb
    if not implicit:
        households = persons.household_starts().astype(np.int32)
        parts.append((*_clique_pairs(households, 10_000), HOUSEHOLD))
        del households
    users = np.flatnonzero(persons.internet).astype(np.int32)
    if len(users) > 1 and spec.online_degree > 0:
        pu = draws(seed, Stream.NETWORK, len(users), step=101)
        # Pareto weights with tail exponent online_tail -> heavy-tailed expected degree
        w = (1.0 - pu) ** (-1.0 / (spec.online_tail - 1.0))
        del pu
        n_edges = int(round(len(users) * spec.online_degree / 2))
        key = stream_key(seed, Stream.NETWORK, ONLINE)
        parts.append((*_chung_lu_pairs(users, w, n_edges, key), ONLINE))
        del w
    del users
    stored = from_parts(n, parts)
    if not implicit:
        return stored
    return with_implicit(
        stored, persons.home, cell_starts, half, stride, rewired, persons.employer, staff,
        spec.work_degree_cap,
    )  # fmt: skip


def build_firm_graph(spec: Network, firms: Firms, seed: int) -> Graph:
    n = firms.n
    n_edges = int(round(n * spec.business_degree / 2))
    if n < 2 or n_edges == 0:
        return from_parts(n, [])
    w = np.sqrt(
        np.maximum(firms.size, 1).astype(np.float64)
    )  # [assume] bigger firms, more partners
    a, b = _chung_lu_pairs(
        np.arange(n, dtype=np.int32), w, n_edges, stream_key(seed, Stream.NETWORK, BUSINESS)
    )
    return from_parts(n, [(a, b, BUSINESS)])


@helper
def lower_bound(adj, lo, hi, want):
    """The first entry in lo..hi-1 (part of one sorted row) that is >= ``want`` (hi if none);
    ``want = node << LAYER_BITS`` finds the row's first tie to a node >= node."""
    while lo < hi:
        mid = (lo + hi) // 2
        if adj[mid] < want:
            lo = mid + 1
        else:
            hi = mid
    return lo


@helper
def entry_value(t, i, e, row):
    """The value of entry ``e`` of row i (``row``: a buffer of row_room(t), left holding
    row i)."""
    o, _ = row_span(t, i, row)
    return rows_in(t, row)[o + e - row_start(t, i)]


@helper
def reverse_of(t, i, v, row):
    """The index of the entry j->i matching the entry i->j of value ``v`` (same layer); -1
    if absent (``row`` is left holding row j)."""
    j = nbr_of(v)
    want = (np.int64(i) << LAYER_BITS) | layer_of(v)
    o, k = row_span(t, j, row)
    r = rows_in(t, row)
    q = lower_bound(r, o, o + k, want)
    if q < o + k and r[q] == want:
        return row_start(t, j) + q - o
    return -1


@helper
def reverse_entry(t, i, e, row):
    """The index of the entry j->i matching entry e = i->j of row i; -1 if absent."""
    return reverse_of(t, i, entry_value(t, i, e, row), row)


def ties_by_layer(graph: Graph, active: np.ndarray | None = None, n_layers: int = 5) -> np.ndarray:
    """Undirected ties per layer (active only, if a mask is given)."""
    mask = np.zeros(1, np.uint64) if active is None else check_active(active, graph.entries)
    return _layer_entries(graph.ties, mask, active is None, n_layers) / 2


@njit(cache=True)
def _layer_entries(t, active, all_active, n_layers):
    out = np.zeros(n_layers, np.float64)
    row = np.empty(row_room(t), t.adj.dtype)
    r = rows_in(t, row)
    for i in range(len(t.indptr) - 1):
        first = row_start(t, i)
        o, k = row_span(t, i, row)
        for q in range(k):
            if all_active or is_active(active, first + q):
                out[layer_of(r[o + q])] += 1.0
    return out


@njit(cache=True)
def row_weight_sums(t, layer_w):
    """Sum over each row's entries of its layer's weight (in entry order), without the
    per-entry temporaries np.repeat + np.bincount would need."""
    n = len(t.indptr) - 1
    out = np.zeros(n, np.float64)
    row = np.empty(row_room(t), t.adj.dtype)
    r = rows_in(t, row)
    for i in range(n):
        acc = 0.0
        o, k = row_span(t, i, row)
        for q in range(k):
            acc += layer_w[layer_of(r[o + q])]
        out[i] = acc
    return out


@helper
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]  # path halving
        x = parent[x]
    return x


@helper
def _join_row(parent, t, active, i, r, o, k, q, until):
    """Join node i with its active neighbours j (i < j < ``until``) from entry ``q`` of its
    row (``r[o:o + k]``: row_span) on (rows are sorted by neighbour). A root always points to
    the smaller root, so ``parent[x] <= x`` throughout, and joins among nodes of one range
    of indices touch the parents of that range only."""
    a = -1
    first = row_start(t, i)
    while q < k:
        j = nbr_of(r[o + q])
        if j >= until:
            break
        if j > i and is_active(active, first + q):
            if a < 0:
                a = _find(parent, i)
            b = _find(parent, j)
            if a != b:
                if a < b:
                    parent[b] = a
                else:
                    parent[a] = b
                    a = b
        q += 1


@njit(cache=True, parallel=True)
def _component_roots(t, active, parts):
    """Each node's component, named by its smallest node (union-find over active entries).
    The nodes are cut into ``parts`` ranges joined in parallel over the ties inside each
    range, then the ties between ranges are joined in one serial pass; the components do not
    depend on the order of joins, so neither does the answer on ``parts``."""
    n = len(t.indptr) - 1
    parent = np.arange(n, dtype=np.int32)
    span = (n + parts - 1) // parts
    for part in prange(parts):
        lo, hi = part * span, min(n, (part + 1) * span)
        row = np.empty(row_room(t), t.adj.dtype)
        r = rows_in(t, row)
        for i in range(lo, hi):
            o, k = row_span(t, i, row)
            _join_row(parent, t, active, i, r, o, k, 0, hi)
    row = np.empty(row_room(t), t.adj.dtype)
    r = rows_in(t, row)
    for part in range(parts - 1):
        lo, hi = part * span, min(n, (part + 1) * span)
        first = np.int64(hi) << LAYER_BITS
        for i in range(lo, hi):  # (rows with no tie past the range are not laid out)
            end = stored_start(t, i + 1)
            bare = end == stored_start(t, i) or t.adj[end - 1] < first
            if bare and implicit_span(t, i)[1] <= hi:
                continue
            o, k = row_span(t, i, row)
            q = lower_bound(r, o, o + k, first) - o
            _join_row(parent, t, active, i, r, o, k, q, n)
    for i in range(n):  # parent[i] <= i: in ascending order, each parent's root is known
        parent[i] = parent[parent[i]]
    return parent


@njit(cache=True)
def _labels_of(roots):
    """Labels numbered 0.. in order of first appearance (roots are their components' first
    nodes)."""
    labels = np.empty(len(roots), dtype=np.int32)
    count = 0
    for i in range(len(roots)):
        if roots[i] == i:
            labels[i] = count
            count += 1
        else:
            labels[i] = labels[roots[i]]
    return count, labels


@helper
def _reach(t, active, i, r, row, seen, queue, pending, state):
    """Mark node i's unseen neighbours over active ties seen and pending: on ``queue`` while
    it has room, then in the bitset ``pending``. ``state``: the queue's length, whether any
    went to ``pending`` (1), the nodes seen."""
    o, k = row_span(t, i, row)
    first = row_start(t, i)
    one = np.uint64(1)
    for q in range(k):
        if not is_active(active, first + q):
            continue
        j = nbr_of(r[np.uint64(o + q)])  # (unsigned indexes: no test for a negative one)
        w = np.uint64(j) >> np.uint64(6)
        bit = one << np.uint64(j & 63)
        if seen[w] & bit:
            continue
        seen[w] |= bit
        state[2] += 1
        if state[0] < len(queue):
            queue[state[0]] = j
            state[0] += 1
        else:
            pending[w] |= bit
            state[1] = 1


@helper
def _mark_row(t, active, i, r, row, seen, pending):
    """Mark node i's unseen neighbours over active ties seen and pending, each with one
    atomic step (``_sweeps``: other threads mark in the same bitsets); how many were new."""
    o, k = row_span(t, i, row)
    first = row_start(t, i)
    one = np.uint64(1)
    new = 0
    for q in range(k):
        if not is_active(active, first + q):
            continue
        j = nbr_of(r[np.uint64(o + q)])
        w = np.uint64(j) >> np.uint64(6)
        bit = one << np.uint64(j & 63)
        if seen[w] & bit:  # (seen already: bits are only ever set, so a stale read is safe)
            continue
        if fetch_or(seen, w, bit) & bit:  # (another thread saw it first)
            continue
        new += 1
        fetch_or(pending, w, bit)
    return new


@njit(cache=True, parallel=True)
def _sweeps(t, active, seen, pending, parts):
    """Go on with a search in sweeps until no node is pending: in each, ``parts`` ranges of
    words are walked in parallel, each in ascending order, every pending node's row read and
    its unseen neighbours marked seen and pending (in the same sweep if ahead in the range,
    else in the next). A pending word is taken whole by the range that holds it (an atomic
    exchange), and a node marked seen by one thread only (``_mark_row``), so each node is
    counted once whatever the threads; returns how many were newly seen."""
    words = len(seen)
    span = (words + parts - 1) // parts
    total = 0
    one = np.uint64(1)
    while True:
        found = np.zeros(parts, np.int64)
        walked = np.zeros(parts, np.int64)
        for part in prange(parts):
            row = np.empty(row_room(t), t.adj.dtype)
            r = rows_in(t, row)
            f = wk = 0
            for w in range(part * span, min(words, (part + 1) * span)):
                while pending[np.uint64(w)]:  # (what this word's nodes reach in it, too)
                    word = exchange(pending, np.uint64(w), np.uint64(0))
                    while word:
                        low = word & (~word + one)
                        f += _mark_row(t, active, w * 64 + popcount(low - one), r, row, seen,
                                       pending)  # fmt: skip
                        wk += 1
                        word ^= low
            found[part], walked[part] = f, wk
        total += found.sum()
        if walked.sum() == 0:  # nothing walked, so nothing marked: none is pending
            return total


@njit(cache=True)
def _largest_component_size(t, active, queue_room, parts):
    """The nodes of the largest component over active entries (which a cut clears in both
    directions), by a search from each node not yet seen, in a bit a node and a queue of
    ``queue_room`` nodes. A component that outgrows the queue goes on in sweeps (``_sweeps``,
    in ``parts`` ranges on threads of their own): each walks the nodes still pending in
    ascending order, so rows are read in the order they are laid out, and takes in the same
    sweep what it reaches ahead of itself; what it reaches behind waits for the next. At
    10^8 persons this holds 0.03 GB where union-find's column of roots held 0.4 GB, at the
    measuring steps. It stops once no component left can be larger. The answer is a count:
    the same whatever the parts."""
    n = len(t.indptr) - 1
    words = (n + 63) // 64
    seen = np.zeros(words, np.uint64)
    pending = np.zeros(words, np.uint64)
    queue = np.empty(max(1, queue_room), np.int32)
    row = np.empty(row_room(t), t.adj.dtype)
    r = rows_in(t, row)
    state = np.zeros(3, np.int64)
    one = np.uint64(1)
    best, left = 0, n
    for s in range(n):
        if best >= left:
            break
        if seen[s >> 6] & (one << np.uint64(s & 63)):
            continue
        seen[s >> 6] |= one << np.uint64(s & 63)
        queue[0] = s
        state[0], state[1], state[2] = 1, 0, 1
        head = 0
        while head < state[0]:
            _reach(t, active, queue[head], r, row, seen, queue, pending, state)
            head += 1
        if state[1]:  # the queue filled: the rest in sweeps, in parallel
            state[2] += _sweeps(t, active, seen, pending, parts)
        best = max(best, state[2])
        left -= state[2]
    return best


def _roots(graph: Graph, active: np.ndarray | None, parts: int | None) -> np.ndarray:
    mask = all_active(graph.entries) if active is None else check_active(active, graph.entries)
    parts = get_num_threads() if parts is None else parts
    return _component_roots(graph.ties, mask, max(1, min(parts, graph.n)))


def components(
    graph: Graph, active: np.ndarray | None = None, parts: int | None = None
) -> tuple[int, np.ndarray]:
    """Connected components over active ties: (count, label per node). ``parts``: ranges
    joined in parallel (default: the thread count; the answer does not depend on it)."""
    return _labels_of(_roots(graph, active, parts))


# a component searched on a queue up to this many nodes (its order), in sweeps beyond (the
# order of the rows): a small one is not swept, a large one mostly is [measured: 10^7
# persons, 2.69 s a search against 2.63 with no queue and 2.96 with a queue of N/32]
QUEUE_ROOM = 1 << 16


def largest_component_share(
    graph: Graph,
    active: np.ndarray | None = None,
    queue_room: int | None = None,
    parts: int | None = None,
) -> float:
    """The share of nodes in the largest component over active ties. ``queue_room``: nodes
    a search holds on its queue before it goes on in sweeps (default: QUEUE_ROOM); ``parts``:
    ranges a sweep walks in parallel (default: the thread count). The answer depends on
    neither."""
    if graph.n == 0:
        return 0.0
    mask = all_active(graph.entries) if active is None else check_active(active, graph.entries)
    room = QUEUE_ROOM if queue_room is None else queue_room
    parts = get_num_threads() if parts is None else parts
    size = _largest_component_size(graph.ties, mask, min(room, graph.n), max(1, parts))
    return float(size / graph.n)


@njit(cache=True, parallel=True)
def _assortativity_kernel(t, active, score):
    """Two passes over the active entries, each in slices whose partial sums are added in
    slice order (the same float sums at any thread count)."""
    n = len(t.indptr) - 1
    slices, span = slicing(n)
    first = np.zeros((slices, 2), np.float64)  # entries, sum of scores
    for s in prange(slices):
        c = sx = 0.0  # local sums: slices share cache lines, so add to memory once
        for i in range(s * span, min(n, (s + 1) * span)):
            k = active_in(active, row_start(t, i), row_start(t, i + 1))
            for _ in range(k):  # (one at a time: the float sums of a loop over the entries)
                c += 1.0
                sx += score[i]
        first[s, 0], first[s, 1] = c, sx
    n_e = sx = 0.0
    for s in range(slices):
        n_e += first[s, 0]
        sx += first[s, 1]
    if n_e == 0.0:
        return np.nan
    mean = sx / n_e  # each tie is stored both ways: both ends share mean and variance
    second = np.zeros((slices, 2), np.float64)  # sum of x^2, sum of x * y
    for s in prange(slices):
        xx = xy = 0.0
        row = np.empty(row_room(t), t.adj.dtype)
        r = rows_in(t, row)
        for i in range(s * span, min(n, (s + 1) * span)):
            x = score[np.uint64(i)] - mean  # (unsigned indexes: no test for a negative one)
            row0 = row_start(t, i)
            o, k = row_span(t, i, row)
            for q in range(k):
                if is_active(active, row0 + q):
                    xx += x * x
                    xy += x * (score[np.uint64(nbr_of(r[np.uint64(o + q)]))] - mean)
        second[s, 0], second[s, 1] = xx, xy
    sxx = sxy = 0.0
    for s in range(slices):
        sxx += second[s, 0]
        sxy += second[s, 1]
    if sxx <= 1e-12 * n_e:
        return np.nan
    return sxy / sxx


@njit(cache=True)
def _all_equal(x):
    for i in range(1, len(x)):
        if x[i] != x[0]:
            return False
    return True


def score_assortativity(graph: Graph, active: np.ndarray, score: np.ndarray) -> float:
    """Pearson correlation of scores across active ties (NaN if undefined: among others, where
    every score is the same — a world with no scoring, such as the twin, whose ties are then
    not walked). Because every tie is stored in both directions, the two ends have the same
    mean and variance."""
    if _all_equal(score):
        return float("nan")
    active = check_active(active, graph.entries)
    return float(_assortativity_kernel(graph.ties, active, score))


LAYER_NAMES = LAYERS + ("business",)
