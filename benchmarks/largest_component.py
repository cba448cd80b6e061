"""The largest component's search (network.largest_component_share) on W1's graph after a
few months of the article, with 1, 2 and 4 ranges of words swept in parallel and a queue of
2^16 and 2^10 nodes; union-find (network.components) beside it. Every answer is the same:
the script checks it.

    python benchmarks/largest_component.py [--n 1e6] [--implicit] [--repeat 5]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import numpy as np
from _machine import machine

import scoresim
from scoresim import network
from scoresim import sim as sim_module


def timed(f, repeat: int) -> tuple[float, float]:
    f()  # (compiled and warm)
    times, value = [], 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        value = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=float, default=1e6)
    ap.add_argument(
        "--implicit", action="store_true", help="hold household and lattice ties implicitly"
    )
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if args.implicit:
        sim_module.ties_implicit = lambda sc, have=None: True
    sim = scoresim.Sim("article", n=int(args.n), years=0.3, twin=False)
    sim.run()
    g, active = sim.society.graph, sim.worlds[0].active

    def union_find() -> float:
        return float(np.bincount(network.components(g, active)[1]).max() / g.n)

    t, want = timed(union_find, args.repeat)
    print(f"union-find: {want:.6f}, median {1e3 * t:.1f} ms", flush=True)
    for parts in (1, 2, 4):
        for room in (1 << 16, 1 << 10):
            t, got = timed(
                functools.partial(network.largest_component_share, g, active, room, parts),
                args.repeat,
            )
            assert got == want, (parts, room, got, want)
            print(f"search, {parts} range(s), queue {room}: median {1e3 * t:.1f} ms", flush=True)
    print(f"N={g.n:,}, ties {'implicit' if args.implicit else 'auto'}; machine: {machine()}")


if __name__ == "__main__":
    main()
