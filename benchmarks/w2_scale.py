"""W2: scale. The article preset at N persons (10^8 by default) for 52 weekly steps, twin
off: peak RSS against a budget (20 GB), build and loop seconds.

    python benchmarks/w2_scale.py [--n 1e8] [--years 1] [--budget-gb 20] [--twin] [--largest]
                                  [--cold]

The kernels are compiled into numba's cache by a small run in a process of its own first, so
the measured process loads them as any run after the first does (compiling them all in the
measured process costs ~0.6 GB of RSS more, on this machine). ``--cold`` skips that.

The memory guard's estimate comes first. If it is over the budget (or over what the machine
has free) the script says so, with the largest N that fits the budget, and stops — unless
``--largest`` is given, in which case it runs that N instead.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _machine import machine, peak_rss_gb, rss_gb

import scoresim
from scoresim.heap import heap_use
from scoresim.sim import available_bytes, estimate_bytes, largest_fitting, ties_implicit


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=float, default=1e8)
    ap.add_argument("--years", type=float, default=1.0)
    ap.add_argument("--budget-gb", type=float, default=20.0)
    ap.add_argument("--twin", action="store_true")
    ap.add_argument("--largest", action="store_true", help="run the largest N within budget")
    ap.add_argument("--cold", action="store_true", help="compile the kernels in this process")
    args = ap.parse_args()
    n = int(args.n)
    if not args.cold:  # both graph forms (the implicit one is W2's), both persons' passes
        small = f"Sim('article', n=2000, years=0.1, twin={args.twin})"
        for held in (False, True):
            warm = (
                f"from scoresim import Sim, sim; sim.ties_implicit = lambda sc, have=None: {held}; "
                f"{small}.run()"
            )
            subprocess.run([sys.executable, "-c", warm], check=True)
    sim = scoresim.Sim("article", n=n, years=args.years, twin=args.twin)
    budget = min(args.budget_gb * 1e9, available_bytes())
    est = estimate_bytes(sim.scenario, ties_implicit(sim.scenario, budget))
    print(
        f"N={n:,}: estimated peak {est / 1e9:.1f} GB; budget {budget / 1e9:.1f} GB "
        f"({est / n:.0f} B a person)",
        flush=True,
    )
    if est > budget:
        fit = largest_fitting(sim.scenario, budget)
        print(f"does not fit: the largest N within the budget is about {fit:,}", flush=True)
        if not args.largest:
            print(f"machine: {machine()}")
            return
        n = fit
        sim = scoresim.Sim("article", n=n, years=args.years, twin=args.twin)
        est = estimate_bytes(sim.scenario, ties_implicit(sim.scenario, budget))
        print(f"running N={n:,} instead (estimated peak {est / 1e9:.1f} GB)", flush=True)
    t0 = time.perf_counter()
    sim.build()
    t1 = time.perf_counter()
    print(
        f"built in {t1 - t0:.0f} s ({sim.society.graph.entries // 2:,} ties), "
        f"peak RSS so far {peak_rss_gb():.2f} GB",
        flush=True,
    )
    steps = sim.scenario.run.steps

    def progress(k: int, total: int) -> None:
        if k % 13 == 0 or k == total:  # RSS and glibc's heap (scoresim.heap) after the step
            h = heap_use()
            held = "" if h is None else (
                f"; heap held {h.held / 1e9:.2f} GB, free in it {h.free / 1e9:.2f} GB, "
                f"mapped {h.mapped / 1e9:.2f} GB"
            )  # fmt: skip
            print(f"  step {k}/{total}: RSS {rss_gb():.2f} GB{held}", flush=True)

    sim.run(progress=progress)
    t2 = time.perf_counter()
    peak = peak_rss_gb()
    print(
        f"W2: N={n:,}, {steps} steps, twin {'on' if args.twin else 'off'}: build "
        f"{t1 - t0:.0f} s, loop {t2 - t1:.0f} s ({n * steps / (t2 - t1) / 1e6:.2f} M "
        f"person-steps/s), peak RSS {peak:.2f} GB = {peak / 1.073741824:.2f} "
        f"GiB (estimate {est / 1e9:.2f} GB)"
    )
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
