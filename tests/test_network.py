"""The graph against networkx on small graphs: degrees, components, masks."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from scoresim.network import (
    _assortativity_kernel,
    active_flags,
    active_in,
    all_active,
    build_person_graph,
    check_active,
    components,
    deactivate,
    from_pairs,
    is_active,
    largest_component_share,
    pack_active,
    reverse_entry,
    row_room,
    score_assortativity,
    ties_by_layer,
)
from scoresim.population import build_firms, build_persons, group_starts
from scoresim.scenario import Network, Population


def _reverse(g, i, e):
    """The entry matching entry ``e`` of row ``i`` from the other end (-1 if none)."""
    return reverse_entry(g.ties, i, e, np.empty(row_room(g.ties), g.ties.adj.dtype))


@njit(cache=False)
def _bits_seen_by_kernels(bits, entries, cut):
    """What compiled code reads from a bitset after clearing the entries ``cut``."""
    for e in cut:
        deactivate(bits, e)
    out = np.empty(entries, np.bool_)
    for e in range(entries):
        out[e] = is_active(bits, e)
    return out


@pytest.mark.parametrize("entries", [0, 1, 63, 64, 65, 200, 1001])
def test_active_bitset_reads_and_cuts_as_a_byte_an_entry(entries):
    """The active mask is a bit an entry: numpy's packing and the kernels' reads agree bit for
    bit (entry e is bit e & 63 of word e >> 6), a cut clears its entry's bit only, and a mask
    in the old byte-an-entry form is refused rather than misread."""
    rng = np.random.default_rng(entries)
    flags = rng.random(entries) < 0.6
    bits = pack_active(flags)
    assert len(bits) == (entries + 63) // 64 and bits.dtype == np.uint64
    np.testing.assert_array_equal(active_flags(bits, entries), flags)
    np.testing.assert_array_equal(active_flags(all_active(entries), entries), np.ones(entries))
    cut = rng.choice(entries, entries // 3, replace=False).astype(np.int64)
    want = flags.copy()
    want[cut] = False
    np.testing.assert_array_equal(_bits_seen_by_kernels(bits, entries, cut), want)
    np.testing.assert_array_equal(active_flags(bits, entries), want)
    if entries > 64:
        with pytest.raises(ValueError, match="bitset"):
            check_active(flags.astype(np.uint8), entries)


@njit(cache=False)
def _active_in_each(bits, lo, hi):
    out = np.empty(len(lo), np.int64)
    for k in range(len(lo)):
        out[k] = active_in(bits, lo[k], hi[k])
    return out


def test_a_rows_active_ties_are_counted_from_its_bits():
    """active_in (the degree every reader counts, no world keeping a column of it) counts the
    set bits of any span of entries: inside a word, across two, whole words (rows of more than
    64 ties, as online hubs have), empty rows."""
    rng = np.random.default_rng(5)
    flags = rng.random(1000) < 0.5
    lo = rng.integers(0, 1000, 4000)
    hi = np.minimum(lo + rng.integers(0, 200, 4000), 1000)
    lo[:3], hi[:3] = [0, 64, 10], [1000, 128, 10]  # all, one whole word, empty
    cum = np.concatenate([[0], np.cumsum(flags)])
    got = _active_in_each(pack_active(flags), lo, hi)
    np.testing.assert_array_equal(got, cum[hi] - cum[lo])
    assert (hi - lo > 128).any() and got[0] == flags.sum()


def _both_ways(g, keep):
    """The active bitset of ``keep`` with each entry dropped from the other end too."""
    keep = keep.copy()
    rows = np.repeat(np.arange(g.n), np.diff(g.indptr))
    for e in np.flatnonzero(~keep):
        keep[_reverse(g, rows[e], e)] = False
    return pack_active(keep)


def _nx(n, graph, active=None):
    g = nx.Graph()
    g.add_nodes_from(range(n))
    rows = np.repeat(np.arange(n), np.diff(graph.indptr))
    keep = np.ones(graph.entries, bool) if active is None else active.astype(bool)
    g.add_edges_from(zip(rows[keep].tolist(), graph.nbr[keep].tolist()))
    return g


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 40).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=120),
            st.integers(0, 2**32 - 1),
        )
    )
)
def test_degrees_and_components_match_networkx(case):
    n, pairs, mask_seed = case
    a = np.array([p[0] for p in pairs], np.int32)
    b = np.array([p[1] for p in pairs], np.int32)
    g = from_pairs(n, a, b, np.zeros(len(a), np.uint8))
    oracle = nx.Graph()
    oracle.add_nodes_from(range(n))
    oracle.add_edges_from((x, y) for x, y in pairs if x != y)
    np.testing.assert_array_equal(g.degree(), [oracle.degree(i) for i in range(n)])
    count, _ = components(g)
    assert count == nx.number_connected_components(oracle)
    # mask a random half of the ties, both directions together, and compare again
    rng = np.random.default_rng(mask_seed)
    active = np.ones(g.entries, np.uint8)
    rows = np.repeat(np.arange(n), np.diff(g.indptr))
    nbr, layer = g.nbr, g.layer
    for e in np.flatnonzero(rng.random(g.entries) < 0.5):
        r = _reverse(g, rows[e], e)
        assert r >= 0 and nbr[r] == rows[e] and rows[r] == nbr[e] and layer[r] == layer[e]
        active[e] = active[r] = 0
    masked = _nx(n, g, active)
    active = pack_active(active)  # the engine's form: a bit an entry
    np.testing.assert_array_equal(g.degree(active), [masked.degree(i) for i in range(n)])
    count, labels = components(g, active)
    assert count == nx.number_connected_components(masked)
    assert ties_by_layer(g, active)[0] == masked.number_of_edges()
    # joined in ranges (in parallel, then the ties between ranges): the same components
    for parts in (1, 2, 3, 7, n):
        np.testing.assert_array_equal(components(g, active, parts)[1], labels)
    # the largest, searched with a queue of any room (one node: all but the start in bitsets,
    # swept in ranges of words on threads of their own: 64 nodes a word, so 3 parts of a few
    # words, and more parts than words)
    largest = max(len(c) for c in nx.connected_components(masked)) / n
    for room in (1, 2, 5, n):
        for parts in (1, 2, 3, 64):
            assert largest_component_share(g, active, room, parts) == largest
    first = {min(c): c for c in nx.connected_components(masked)}  # labels by first node
    for k, root in enumerate(sorted(first)):
        assert set(np.flatnonzero(labels == k)) == first[root]


def test_society_graph_matches_networkx_and_has_its_layers():
    pop = Population(persons=1500)
    persons = build_persons(pop, 3)
    build_firms(pop, persons, 3)
    g = build_person_graph(Network(), persons, 3)
    oracle = _nx(persons.n, g)
    # multi-layer ties between the same pair count once in networkx: compare distinct neighbours
    rows = np.repeat(np.arange(g.n), np.diff(g.indptr))
    distinct = np.bincount(
        rows[np.concatenate([[True], (np.diff(rows) != 0) | (np.diff(g.nbr) != 0)])], minlength=g.n
    )
    np.testing.assert_array_equal(distinct, [oracle.degree(i) for i in range(persons.n)])
    share = largest_component_share(g)
    comps = max(len(c) for c in nx.connected_components(oracle)) / persons.n
    assert share == comps
    per_layer = ties_by_layer(g)
    assert (per_layer[:4] > 0).all()
    # household ties join only members of the same household; rows are sorted
    hh = g.layer == 0
    household = persons.household_ids()
    assert (household[rows[hh]] == household[g.nbr[hh]]).all()
    nbr = g.nbr
    for i in range(0, g.n, 97):
        seg = nbr[g.indptr[i] : g.indptr[i + 1]]
        assert (np.diff(seg) >= 0).all()
    # mean degree over all layers is at least 20 (BENCHMARKS.md W1)
    assert g.entries / g.n >= 20


def test_no_self_loops_or_duplicate_ties():
    a = np.array([0, 0, 1, 2, 2, 3], np.int32)
    b = np.array([1, 1, 0, 2, 3, 2], np.int32)
    g = from_pairs(4, a, b, np.zeros(6, np.uint8))
    assert g.entries == 4  # 0-1 and 2-3, both ways
    np.testing.assert_array_equal(g.degree(), [1, 1, 1, 1])


def test_score_assortativity_matches_numpy_and_ignores_cut_ties():
    pop = Population(persons=800)
    persons = build_persons(pop, 4)
    build_firms(pop, persons, 4)
    g = build_person_graph(Network(), persons, 4)
    rng = np.random.default_rng(0)
    score = (persons.household_ids() % 7 * 10 + rng.normal(0, 5, persons.n)).astype(np.float32)
    active = np.ones(g.entries, np.uint8)
    rows = np.repeat(np.arange(g.n), np.diff(g.indptr))
    for e in np.flatnonzero(rng.random(g.entries) < 0.3):
        r = _reverse(g, rows[e], e)
        active[e] = active[r] = 0
    keep = active.astype(bool)
    active = pack_active(keep)
    want = np.corrcoef(score[rows[keep]].astype(float), score[g.nbr[keep]].astype(float))[0, 1]
    assert abs(score_assortativity(g, active, score) - want) < 1e-9
    assert want > 0.05  # households share a score level here: the test has signal
    # one score everywhere (a world with no scoring): undefined, as the full walk finds too
    for level in (600.0, 0.1, 850.25):
        same = np.full(persons.n, level, np.float32)
        assert np.isnan(score_assortativity(g, active, same))
        assert np.isnan(_assortativity_kernel(g.ties, active, same))
    same[-1] += 1.0  # one differs: the ties are walked again
    assert np.isfinite(score_assortativity(g, active, same))


def test_wide_entries_for_huge_populations_behave_alike():
    """Beyond 2**29 agents entries are uint64: the same graph, masks, reverse entries,
    components and assortativity as the uint32 form (forced here on a small graph)."""
    rng = np.random.default_rng(11)
    n = 300
    a, b, lay = rng.integers(0, n, 900), rng.integers(0, n, 900), rng.integers(0, 5, 900)
    narrow = from_pairs(n, a, b, lay.astype(np.uint8))
    wide = from_pairs(n, a, b, lay.astype(np.uint8), wide=True)
    assert narrow.adj.dtype == np.uint32 and wide.adj.dtype == np.uint64
    np.testing.assert_array_equal(narrow.indptr, wide.indptr)
    np.testing.assert_array_equal(narrow.nbr, wide.nbr)
    np.testing.assert_array_equal(narrow.layer, wide.layer)
    rows = np.repeat(np.arange(n), np.diff(narrow.indptr))
    active = pack_active(rng.random(narrow.entries) < 0.6)
    for e in range(0, narrow.entries, 7):
        assert _reverse(narrow, rows[e], e) == _reverse(wide, rows[e], e)
    assert components(narrow, active)[0] == components(wide, active)[0]
    np.testing.assert_array_equal(ties_by_layer(narrow, active), ties_by_layer(wide, active))
    score = rng.random(n).astype(np.float32)
    assert score_assortativity(narrow, active, score) == score_assortativity(wide, active, score)


def test_guided_inverse_cdf_is_searchsorted_exactly():
    """The guide table only speeds the search up: every draw lands where a binary search over
    all of ``cum`` lands, including draws at bucket edges and in long flat stretches."""
    from scoresim.network import _guide_table, _inverse_cdf_many

    rng = np.random.default_rng(5)
    for weights in (
        rng.pareto(1.5, 5000) + 1.0,
        np.ones(1000),
        np.r_[np.full(500, 1.0), 1e6, np.full(500, 1.0)],
    ):
        cum = np.cumsum(weights)
        for buckets in (1, 3, len(cum) // 4, len(cum)):
            guide = _guide_table(cum, buckets)
            u = np.r_[rng.random(20000), np.arange(buckets) / buckets, 0.0, 1 - 1e-16]
            got = _inverse_cdf_many(u, cum, guide)
            np.testing.assert_array_equal(got, np.searchsorted(cum, u * cum[-1], side="right"))


def test_csr_rows_sorted_and_deduplicated_with_hubs_and_repeats():
    """Rows long enough for the library sort (hubs) and short ones, many repeated pairs,
    several layers: the CSR holds each (row, neighbour, layer) once, rows sorted."""
    rng = np.random.default_rng(8)
    n = 200
    hub = rng.random(4000) < 0.3  # a third of the pairs touch node 0 or 1
    a = np.where(hub, rng.integers(0, 2, 4000), rng.integers(0, n, 4000))
    b = rng.integers(0, n, 4000)
    lay = rng.integers(0, 3, 4000).astype(np.uint8)
    a, b, lay = np.r_[a, a[:500]], np.r_[b, b[:500]], np.r_[lay, lay[:500]]  # exact repeats
    g = from_pairs(n, a, b, lay)
    keep = a != b
    rows = np.r_[a[keep], b[keep]]
    cols = np.r_[b[keep], a[keep]]
    lays = np.r_[lay[keep], lay[keep]]
    want = np.unique(rows * (n << 3) + (cols << 3) + lays)  # sorted by (row, neighbour, layer)
    got_rows = np.repeat(np.arange(n), np.diff(g.indptr))
    got = got_rows * (n << 3) + g.adj.astype(np.int64)
    np.testing.assert_array_equal(got, want)
    assert np.diff(g.indptr).max() > 32  # the hub rows took the library sort


def _stored_whole(persons, spec: Network, seed: int, g, wide: bool):
    """The graph ``g`` is meant to be, every tie stored (the form before the implicit layers):
    each household's pairs, the whole community lattice with its rewired links (drawn here
    with the builder's draws, link by link), each firm's co-workers (from the employers
    alone), and ``g``'s stored online ties."""
    from scoresim.network import COMMUNITY, HOUSEHOLD, ONLINE, WORK, from_parts
    from scoresim.rng import Stream, stream_key, uniform

    a, b = [], []
    starts = persons.household_starts()
    for lo, hi in zip(starts[:-1], starts[1:]):
        for x in range(lo, hi):
            for y in range(x + 1, hi):
                a.append(x), b.append(y)
    parts = [(np.array(a, np.int64), np.array(b, np.int64), HOUSEHOLD)]
    half = int(round(spec.community_degree / 2))
    stride = max(1, int(np.ceil(3 * 2.62)))
    key = stream_key(seed, Stream.NETWORK, COMMUNITY)
    cells = group_starts(persons.region.astype(np.int64) * 2 + (~persons.urban))
    a, b, k = [], [], 0
    for lo, hi in zip(cells[:-1], cells[1:]):
        s = hi - lo
        if s <= 1:
            continue
        for x in range(s):
            for d in range(1, half + 1):
                j = lo + (x + d * stride) % s
                if uniform(key, 2 * k) < spec.community_rewire:
                    j = lo + int(uniform(key, 2 * k + 1) * s)
                a.append(lo + x), b.append(j)
                k += 1
    parts.append((np.array(a, np.int64), np.array(b, np.int64), COMMUNITY))
    a, b = [], []  # co-workers: a firm's workers all tied, or a ring of degree cap if many
    for firm in np.unique(persons.employer[persons.employer >= 0]):
        staff = np.flatnonzero(persons.employer == firm)
        s, cap = len(staff), spec.work_degree_cap
        for x in range(s):
            others = (
                range(x + 1, s) if s <= cap + 1 else [(x + d) % s for d in range(1, cap // 2 + 1)]
            )
            for y in others:
                a.append(staff[x]), b.append(staff[y])
    parts.append((np.array(a, np.int64), np.array(b, np.int64), WORK))
    rows = np.repeat(np.arange(g.n), np.diff(g.ties.xptr))
    nbr, layer = g.stored >> 3, g.stored & 7
    assert not np.any(layer == WORK)  # co-workers are held implicitly
    one_way = (layer == ONLINE) & (rows < nbr)  # each stored tie is stored from both ends
    parts.append((rows[one_way], nbr[one_way].astype(np.int64), ONLINE))
    return from_parts(g.n, parts, wide)


@pytest.mark.parametrize(
    "persons,regions,degree,rewire,cap",
    [
        (3000, 4, 8.0, 0.1, 10),
        (400, 40, 8.0, 0.3, 3),
        (300, 60, 14.0, 0.0, 2),
        (500, 3, 6.0, 1.0, 4),
    ],
)
def test_implicit_rows_are_the_rows_stored_whole(persons, regions, degree, rewire, cap):
    """Household, co-worker and unrewired community ties are not stored: the rows row_into
    lays out are the rows of the graph with every tie stored, entry for entry (the same
    order, so the same active bits, sums and draws), with cells of a few persons whose
    lattice wraps onto itself (repeats and self-ties dropped), every link rewired or none,
    firms of all-tied workers and firms in rings (odd and even caps), and entries of 8
    bytes."""
    pop = Population(persons=persons, region_weights=[1.0] * regions)
    people = build_persons(pop, 6)
    build_firms(pop, people, 6)
    spec = Network(community_degree=degree, community_rewire=rewire, work_degree_cap=cap)
    g = build_person_graph(spec, people, 6)
    assert len(g.stored) < g.entries  # some ties are held implicitly
    sizes = np.bincount(people.employer[people.employer >= 0])
    assert sizes.max() > cap + 1 and np.any((sizes > 1) & (sizes <= cap + 1))  # rings, cliques
    whole = _stored_whole(people, spec, 6, g, wide=False)
    np.testing.assert_array_equal(g.indptr, whole.indptr)
    np.testing.assert_array_equal(g.adj, whole.stored)
    assert g.longest == np.diff(whole.indptr).max()
    # the same with entries of 8 bytes and row starts of 8 (beyond 2**29 agents)
    from scoresim.network import from_parts, with_implicit

    rows = np.repeat(np.arange(g.n), np.diff(g.ties.xptr))
    nbr, layer = (g.stored >> 3).astype(np.int64), (g.stored & 7).astype(np.int64)
    one_way = rows < nbr
    stored = from_parts(g.n, [(rows[one_way & (layer == x)], nbr[one_way & (layer == x)], x)
                              for x in np.unique(layer)], wide=True)  # fmt: skip
    wide = with_implicit(
        stored, people.home, g.cell_starts, g.half, g.stride, g.rewired, people.employer,
        g.staff, g.work_cap,
    )  # fmt: skip
    assert g.indptr.dtype == g.ties.xptr.dtype == np.uint32  # narrow row starts
    # (beyond 2**29 agents the entries pass 2**32 too: row starts of 8 bytes, read alike)
    wide.indptr, wide.xptr = wide.indptr.astype(np.int64), wide.xptr.astype(np.int64)
    assert wide.ties.adj.dtype == np.uint64 and wide.ties.xptr.dtype == np.int64
    np.testing.assert_array_equal(wide.indptr, whole.indptr)
    np.testing.assert_array_equal(wide.adj, whole.stored)
    # reverse entries and cut masks read the implicit rows alike
    rng = np.random.default_rng(1)
    whole_rows = np.repeat(np.arange(g.n), np.diff(g.indptr))
    for e in rng.choice(g.entries, 200, replace=False):
        r = _reverse(g, whole_rows[e], e)
        assert r >= 0 and whole_rows[r] == whole.nbr[e] and whole.nbr[r] == whole_rows[e]
        assert whole.layer[r] == whole.layer[e] and _reverse(wide, whole_rows[e], e) == r
    # walks over every row: components (rows past a range's end joined apart) and assortativity
    active = pack_active(rng.random(g.entries) < 0.5)
    for parts in (1, 2, 3, 7):
        count, labels = components(g, active, parts)
        want_count, want_labels = components(whole, active, parts)
        assert count == want_count and np.array_equal(labels, want_labels)
    # the largest, over a mask the engine could hold: a cut clears both directions
    active = _both_ways(g, rng.random(g.entries) < 0.5)
    largest = np.bincount(components(whole, active)[1]).max() / g.n
    for room in (1, 64, g.n):
        for parts in (1, 2, 5):
            assert largest_component_share(g, active, room, parts) == largest
            assert largest_component_share(whole, active, room, parts) == largest
    score = rng.random(g.n).astype(np.float32)
    assert score_assortativity(g, active, score) == score_assortativity(whole, active, score)
    np.testing.assert_array_equal(ties_by_layer(g, active), ties_by_layer(whole, active))


def test_row_starts_are_held_in_four_bytes_while_the_entries_fit():
    from scoresim.network import narrow_starts
    from scoresim.sim import row_start_bytes

    fits, past = np.array([0, 7, 2**32 - 1]), np.array([0, 7, 2**32])
    assert narrow_starts(fits).dtype == np.uint32 and row_start_bytes(2**32 - 1) == 4
    np.testing.assert_array_equal(narrow_starts(fits), fits)
    assert narrow_starts(past).dtype == np.int64 and row_start_bytes(2**32) == 8


@pytest.mark.parametrize("preset", ["article", "eu-safeguards", "rongcheng"])
def test_a_run_over_implicit_ties_equals_one_over_ties_stored_whole(preset, monkeypatch):
    """Every recorded number, every cut tie and every score of a run (and its twin) over a
    graph that holds household, co-worker and lattice ties implicitly are those of the same
    run over the graph stored whole: the form is a matter of memory and speed only."""
    import scoresim
    from scoresim import sim as S

    runs = []
    for implicit in (False, True):
        monkeypatch.setattr(S, "ties_implicit", lambda sc, have=None, held=implicit: held)
        sim = scoresim.Sim(preset, n=6000, years=1, seed=4).build()
        assert (sim.society.graph.xptr is not None) == implicit
        sim.run()
        runs.append(sim)
    stored, implicit = runs
    for a, b in zip(stored.worlds, implicit.worlds):
        np.testing.assert_array_equal(a.recorder.cells, b.recorder.cells)
        np.testing.assert_array_equal(a.recorder.totals, b.recorder.totals)
        np.testing.assert_array_equal(a.active, b.active)
        np.testing.assert_array_equal(a.ledger.score, b.ledger.score)
        np.testing.assert_array_equal(a.ledger.sum_own, b.ledger.sum_own)
    if preset == "article":  # contacts cut ties there: the masks have something to differ in
        assert not np.array_equal(stored.worlds[0].active, all_active(stored.society.graph.entries))


def test_implicit_ties_refuse_a_household_across_two_cells():
    """The reach of a row's implicit ties is its lattice cell, which holds its household
    (build_persons never splits one): cells that would split one are refused, not misread."""
    from scoresim.network import from_parts, with_implicit

    people = build_persons(Population(persons=500), 2)
    starts = people.household_starts()
    cells = group_starts(people.region.astype(np.int64) * 2 + (~people.urban))
    stored = from_parts(people.n, [])
    bits = np.zeros(people.n // 16 + 2, np.uint64)
    with_implicit(stored, people.home, cells, 4, 8, bits)  # as built: accepted
    big = int(np.argmax(np.diff(starts)))  # a household of two or more
    split = np.sort(np.r_[cells, starts[big] + 1])
    with pytest.raises(ValueError, match="straddles"):
        with_implicit(stored, people.home, split, 4, 8, bits)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_largest_component_swept_in_parallel_equals_union_find(seed):
    """A graph of many words (2 x 10^4 nodes, sparse enough to fall apart into several large
    components), searched from a queue of one node, so everything goes on in sweeps over
    ranges of words on several threads: the largest is the size union-find counts, whatever
    the number of ranges."""
    rng = np.random.default_rng(seed)
    n = 20_000
    a = rng.integers(0, n, 11_000).astype(np.int32)
    b = rng.integers(0, n, 11_000).astype(np.int32)
    g = from_pairs(n, a, b, np.zeros(len(a), np.uint8))
    active = _both_ways(g, rng.random(g.entries) < 0.9)
    sizes = np.sort(np.bincount(components(g, active)[1]))
    assert sizes[-2] > 50  # (more than one large component)
    for parts in (1, 2, 3, 8):
        for room in (1, 100):
            assert largest_component_share(g, active, room, parts) == sizes[-1] / n
