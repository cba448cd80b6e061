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

import numpy as np
from numba import get_num_threads, njit, prange

from .parallel import slicing
from .population import Firms, Persons, group_starts
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


@dataclass
class Graph:
    indptr: np.ndarray  # int64, n + 1
    adj: np.ndarray  # uint32 (uint64 for 2**29 agents and more): neighbour << 3 | layer

    @property
    def n(self) -> int:
        return len(self.indptr) - 1

    @property
    def entries(self) -> int:
        return len(self.adj)

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
        return self.indptr.nbytes + self.adj.nbytes


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


@njit(inline="always", cache=True)
def is_active(bits, e):
    """Whether entry ``e``'s tie is active."""
    return ((bits[e >> 6] >> np.uint64(e & 63)) & np.uint64(1)) != 0


@njit(inline="always", cache=True)
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


@njit(inline="always", cache=True)
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
        out[i] = active_in(active, indptr[i], indptr[i + 1])
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
def _small_world_pairs(cell_starts, half_degree, stride, rewire, key):
    """Watts-Strogatz inside each (region, urban) cell: each person links to the persons
    ``stride``, 2*``stride``, ... positions ahead (past their own household, which sits at
    adjacent positions), and each link is rewired to a random cell member with prob ``rewire``."""
    total = 0
    for c in range(len(cell_starts) - 1):
        s = cell_starts[c + 1] - cell_starts[c]
        if s > 1:
            total += s * half_degree
    a = np.empty(total, dtype=np.int32)
    b = np.empty(total, dtype=np.int32)
    k = 0
    for c in range(len(cell_starts) - 1):
        lo, hi = cell_starts[c], cell_starts[c + 1]
        s = hi - lo
        if s <= 1:
            continue
        for x in range(s):
            for d in range(1, half_degree + 1):
                i = lo + x
                j = lo + (x + d * stride) % s
                if uniform(key, 2 * k) < rewire:
                    j = lo + int(uniform(key, 2 * k + 1) * s)
                a[k] = i
                b[k] = j
                k += 1
    return a[:k], b[:k]


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


@njit(inline="always", cache=True)
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


def build_person_graph(spec: Network, persons: Persons, seed: int) -> Graph:
    n = persons.n
    parts: list[tuple[np.ndarray, np.ndarray, int]] = []  # (a, b, layer), int32 pairs
    parts.append((*_clique_pairs(group_starts(persons.household), 10_000), HOUSEHOLD))
    workers = np.flatnonzero(persons.employer >= 0)
    order = workers[np.argsort(persons.employer[workers], kind="stable")].astype(np.int32)
    del workers
    if len(order):
        wa, wb = _clique_pairs(group_starts(persons.employer[order]), spec.work_degree_cap)
        parts.append((order[wa], order[wb], WORK))
        del wa, wb
    del order
    cell = persons.region.astype(np.int64) * 2 + (~persons.urban)
    cell_starts = group_starts(cell)
    del cell
    half = int(round(spec.community_degree / 2))
    if half > 0:
        stride = max(1, int(np.ceil(3 * 2.62)))  # [assume] beyond a typical household's span
        key = stream_key(seed, Stream.NETWORK, COMMUNITY)
        pairs = _small_world_pairs(cell_starts, half, stride, spec.community_rewire, key)
        parts.append((*pairs, COMMUNITY))
        del pairs
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
    return from_parts(n, parts)


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


@njit(cache=True)
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


@njit(cache=True)
def reverse_entry(indptr, adj, i, e):
    """The index of the entry j->i matching entry e = i->j (same layer); -1 if absent."""
    j = nbr_of(adj[e])
    want = (np.int64(i) << LAYER_BITS) | layer_of(adj[e])
    r = lower_bound(adj, indptr[j], indptr[j + 1], want)
    if r < indptr[j + 1] and adj[r] == want:
        return r
    return -1


def ties_by_layer(graph: Graph, active: np.ndarray | None = None, n_layers: int = 5) -> np.ndarray:
    """Undirected ties per layer (active only, if a mask is given)."""
    mask = np.zeros(1, np.uint64) if active is None else check_active(active, graph.entries)
    return _layer_entries(graph.adj, mask, active is None, n_layers) / 2


@njit(cache=True)
def _layer_entries(adj, active, all_active, n_layers):
    out = np.zeros(n_layers, np.float64)
    for e in range(len(adj)):
        if all_active or is_active(active, e):
            out[layer_of(adj[e])] += 1.0
    return out


@njit(cache=True)
def row_weight_sums(indptr, adj, layer_w):
    """Sum over each row's entries of its layer's weight (in entry order), without the
    per-entry temporaries np.repeat + np.bincount would need."""
    n = len(indptr) - 1
    out = np.zeros(n, np.float64)
    for i in range(n):
        acc = 0.0
        for e in range(indptr[i], indptr[i + 1]):
            acc += layer_w[layer_of(adj[e])]
        out[i] = acc
    return out


@njit(inline="always", cache=True)
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]  # path halving
        x = parent[x]
    return x


@njit(inline="always", cache=True)
def _join_row(parent, indptr, adj, active, i, lo_e, until):
    """Join node i with its active neighbours j (i < j < ``until``) from entry ``lo_e`` of its
    row on (rows are sorted by neighbour). A root always points to the smaller root, so
    ``parent[x] <= x`` throughout, and joins among nodes of one range of indices touch the
    parents of that range only."""
    a = -1
    for e in range(lo_e, indptr[i + 1]):
        j = nbr_of(adj[e])
        if j >= until:
            break
        if j > i and is_active(active, e):
            if a < 0:
                a = _find(parent, i)
            b = _find(parent, j)
            if a != b:
                if a < b:
                    parent[b] = a
                else:
                    parent[a] = b
                    a = b


@njit(cache=True, parallel=True)
def _component_roots(indptr, adj, active, parts):
    """Each node's component, named by its smallest node (union-find over active entries).
    The nodes are cut into ``parts`` ranges joined in parallel over the ties inside each
    range, then the ties between ranges are joined in one serial pass; the components do not
    depend on the order of joins, so neither does the answer on ``parts``."""
    n = len(indptr) - 1
    parent = np.arange(n, dtype=np.int32)
    span = (n + parts - 1) // parts
    for part in prange(parts):
        lo, hi = part * span, min(n, (part + 1) * span)
        for i in range(lo, hi):
            _join_row(parent, indptr, adj, active, i, indptr[i], hi)
    for part in range(parts - 1):
        lo, hi = part * span, min(n, (part + 1) * span)
        first = np.int64(hi) << LAYER_BITS
        for i in range(lo, hi):
            e = lower_bound(adj, indptr[i], indptr[i + 1], first)
            _join_row(parent, indptr, adj, active, i, e, n)
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


@njit(cache=True)
def _largest_size(roots):
    """The number of nodes of the largest component."""
    size = np.zeros(len(roots), dtype=np.int32)
    for i in range(len(roots)):
        size[roots[i]] += 1
    return size.max()


def _roots(graph: Graph, active: np.ndarray | None, parts: int | None) -> np.ndarray:
    mask = all_active(graph.entries) if active is None else check_active(active, graph.entries)
    parts = get_num_threads() if parts is None else parts
    return _component_roots(graph.indptr, graph.adj, mask, max(1, min(parts, graph.n)))


def components(
    graph: Graph, active: np.ndarray | None = None, parts: int | None = None
) -> tuple[int, np.ndarray]:
    """Connected components over active ties: (count, label per node). ``parts``: ranges
    joined in parallel (default: the thread count; the answer does not depend on it)."""
    return _labels_of(_roots(graph, active, parts))


def largest_component_share(
    graph: Graph, active: np.ndarray | None = None, parts: int | None = None
) -> float:
    if graph.n == 0:
        return 0.0
    return float(_largest_size(_roots(graph, active, parts)) / graph.n)


@njit(cache=True, parallel=True)
def _assortativity_kernel(indptr, adj, active, score):
    """Two passes over the active entries, each in slices whose partial sums are added in
    slice order (the same float sums at any thread count)."""
    n = len(indptr) - 1
    slices, span = slicing(n)
    first = np.zeros((slices, 2), np.float64)  # entries, sum of scores
    for s in prange(slices):
        c = sx = 0.0  # local sums: slices share cache lines, so add to memory once
        for i in range(s * span, min(n, (s + 1) * span)):
            for e in range(indptr[i], indptr[i + 1]):
                if is_active(active, e):
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
        for i in range(s * span, min(n, (s + 1) * span)):
            x = score[i] - mean
            for e in range(indptr[i], indptr[i + 1]):
                if is_active(active, e):
                    xx += x * x
                    xy += x * (score[nbr_of(adj[e])] - mean)
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
    return float(_assortativity_kernel(graph.indptr, graph.adj, active, score))


LAYER_NAMES = LAYERS + ("business",)
