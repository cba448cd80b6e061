"""W1 (and W1t): article preset, N persons, all layers, weekly steps; build seconds, loop
person-steps per second, peak RSS. One process per repeat would be fairer for RSS; the loop
figure is the median over repeats in one process (kernels compiled once beforehand).

    python benchmarks/w1_throughput.py --n 1000000 --years 5 --repeat 3 [--twin] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import time

from _machine import machine, peak_rss_gb

import scoresim


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=float, default=1e6)
    ap.add_argument("--years", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--twin", action="store_true", help="W1t: the twin on")
    ap.add_argument("--profile", action="store_true", help="cProfile one loop, top 25 by time")
    ap.add_argument(
        "--ties",
        choices=["auto", "stored", "implicit"],
        default="auto",
        help="the graph's form (auto: sim.ties_implicit; the numbers are the same)",
    )
    args = ap.parse_args()
    n = int(args.n)
    if args.ties != "auto":
        held = args.ties == "implicit"
        scoresim.sim.ties_implicit = lambda sc, have=None: held
    scoresim.Sim("article", n=2000, years=0.1).run()  # compile the kernels first
    builds, loops = [], []
    for k in range(args.repeat):
        sim = scoresim.Sim("article", n=n, years=args.years, twin=args.twin)
        t0 = time.perf_counter()
        sim.build()
        t1 = time.perf_counter()
        if args.profile and k == 0:
            prof = cProfile.Profile()
            prof.enable()
            sim.run()
            prof.disable()
        else:
            sim.run()
        t2 = time.perf_counter()
        builds.append(t1 - t0)
        loops.append(t2 - t1)
        steps = sim.scenario.run.steps
        print(
            f"repeat {k + 1}: build {builds[-1]:.1f} s, loop {loops[-1]:.1f} s, "
            f"{n * steps / loops[-1] / 1e6:.2f} M person-steps/s",
            flush=True,
        )
        if args.profile and k == 0:
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
            print(buf.getvalue())
    loop = statistics.median(loops)
    print(
        f"W1{'t' if args.twin else ''}: N={n:,}, steps={steps}, median build "
        f"{statistics.median(builds):.1f} s, median loop {loop:.1f} s, "
        f"{n * steps / loop / 1e6:.2f} M person-steps/s, peak RSS {peak_rss_gb():.2f} GB"
        f", ties {args.ties}"
    )
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
