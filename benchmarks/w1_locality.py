"""W1's biggest kernel against ideal memory layouts: would renumbering persons make the
own-point scatter (scoring._propagate_own) fast? Builds W1's society, lets a share of the
persons change their own points, and times the scatter on the graph as built and on two
rewired copies with the same rows and layers: every neighbour moved next to its row's owner
(perfect locality), and all but the online layer moved so (what renumbering persons could at
best achieve: online ties are random by the model). Then 1 thread against all threads.

    python benchmarks/w1_locality.py [--n 1e6] [--changed 0.1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numba
import numpy as np
from _machine import machine

import scoresim
from scoresim.network import LAYER_BITS, LAYERS, Graph
from scoresim.scoring import _propagate_own


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=float, default=1e6)
    ap.add_argument("--changed", type=float, default=0.1, help="share of persons changed")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sim = scoresim.Sim("article", n=int(args.n), years=0.1, twin=False).build()
    g, world = sim.society.graph, sim.worlds[0]
    weights = world.ledger.layer_weights
    n = g.n
    rng = np.random.default_rng(1)
    changed = np.sort(rng.choice(n, int(n * args.changed), replace=False)).astype(np.int32)
    d_own = rng.normal(size=len(changed))  # a change a changed agent, in their order

    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(g.indptr))
    whole = g.adj  # every entry, the implicit ones too
    layer = whole & ((1 << LAYER_BITS) - 1)
    rank = np.arange(len(whole)) - g.indptr[rows]
    local = ((((rows + rank + 1) % n) << LAYER_BITS) | layer).astype(whole.dtype)
    online = layer == LAYERS.index("online")
    all_but_online = np.where(online, whole, local).astype(whole.dtype)
    distance = np.abs((whole.astype(np.int64) >> LAYER_BITS) - rows)
    for k, name in enumerate(LAYERS):
        if (layer == k).any():
            print(
                f"layer {name}: {np.mean(layer == k):.1%} of entries, median index distance "
                f"{np.median(distance[layer == k]):,.0f}"
            )

    def ms(adj: np.ndarray | None, threads: int) -> float:
        """The scatter over the graph as built (None: its household and lattice ties held
        implicitly) or over every entry stored, as ``adj``."""
        ties = g.ties if adj is None else Graph(g.indptr, adj).ties
        numba.set_num_threads(threads)
        times = []
        for _ in range(args.repeat):
            sums = np.zeros(n)
            t = time.perf_counter()
            _propagate_own(changed, d_own, ties, world.active, weights, sums, threads)
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1e3

    ms(None, numba.config.NUMBA_NUM_THREADS)  # compile
    ms(whole, numba.config.NUMBA_NUM_THREADS)
    entries = int(np.diff(g.indptr)[changed].sum())
    print(f"N={n:,}, {len(changed):,} changed persons, {entries:,} entries walked")
    for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        print(
            f"{threads} thread(s), median of {args.repeat}: as built {ms(None, threads):.1f} ms,"
            f" every entry stored {ms(whole, threads):.1f} ms,"
            f" all but online local {ms(all_but_online, threads):.1f} ms,"
            f" all local {ms(local, threads):.1f} ms"
        )
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
