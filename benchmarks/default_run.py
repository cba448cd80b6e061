"""Time the default `scoresim run` (article, 100,000 persons, 5 years weekly, twin on).

    python benchmarks/default_run.py [--repeat 3]

Prints build and loop seconds of each repeat, their medians, peak RSS and the machine.
Run by hand; results go into BENCHMARKS.md with the date and the command.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _machine import machine, peak_rss_gb

import scoresim


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    scoresim.Sim("article", n=2000, years=0.1).run()  # compile (or load) the kernels once
    builds, loops = [], []
    for k in range(args.repeat):
        sim = scoresim.Sim("article", n=args.n)
        t0 = time.perf_counter()
        sim.build()
        t1 = time.perf_counter()
        sim.run()
        t2 = time.perf_counter()
        builds.append(t1 - t0)
        loops.append(t2 - t1)
        print(f"repeat {k + 1}: build {builds[-1]:.2f} s, loop+results {loops[-1]:.2f} s")
    steps = sim.scenario.run.steps
    loop = statistics.median(loops)
    print(
        f"median build {statistics.median(builds):.2f} s, median loop {loop:.2f} s "
        f"({args.n * steps / loop / 1e6:.2f} M person-steps/s per world pair, run + twin)"
    )
    print(f"peak RSS {peak_rss_gb():.2f} GB")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
