"""W5: an ensemble of 16 members (article, 100,000 persons, 5 years, twin on) with 1 and with
2 workers, back to back; prints wall time, the speed-up and the peak RSS per worker. One
worker runs in-process, its numba kernels on every core; ``--one-core`` adds a third run, one
worker with one numba thread, against which two one-thread workers are measured too.

    python benchmarks/w5_ensemble.py [--members 16] [--n 1e5] [--years 5] [--one-core]
"""

from __future__ import annotations

import argparse
import time

from _machine import machine

from scoresim import load_scenario
from scoresim.ensemble import ensemble


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=16)
    ap.add_argument("--n", type=float, default=1e5)
    ap.add_argument("--years", type=float, default=5.0)
    ap.add_argument("--preset", default="article")
    ap.add_argument("--one-core", action="store_true", help="also one worker on one thread")
    a = ap.parse_args()
    sc = load_scenario(a.preset, {"population": {"persons": int(a.n)}, "run": {"years": a.years}})
    times = {}
    for workers in (1, 2):
        started = time.perf_counter()
        ens = ensemble(sc, a.members, workers=workers)
        times[workers] = time.perf_counter() - started
        print(
            f"{workers} worker(s): {times[workers]:.1f} s for {a.members} members, "
            f"peak RSS per worker {max(ens.peaks) / 1e9:.2f} GB",
            flush=True,
        )
    print(f"W5: speed-up with 2 workers {times[1] / times[2]:.2f}x")
    if a.one_core:
        import numba

        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        started = time.perf_counter()
        ensemble(sc, a.members, workers=1)
        one = time.perf_counter() - started
        numba.set_num_threads(threads)
        print(f"1 worker on 1 thread: {one:.1f} s; 2 workers against it: {one / times[2]:.2f}x")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
