"""W4: W1's memory traffic against a STREAM-style triad (numba, all cores) measured in the
same process.

    python benchmarks/w4_limit.py [--n 1e6] [--years 1] [--mb 800]

Runs W1's workload (article, twin off) with every engine kernel wrapped so that each call
adds up the bytes of the arrays it is handed; then the triad. Two figures per person-step:
*all arrays* counts every array handed to a kernel in full, *per-agent arrays* the same
without the per-tie arrays. Both are upper bounds on the traffic (kernels that follow events
touch only the rows of the agents that changed; numpy work outside kernels is not counted),
so the shares of the triad bandwidth they give are upper bounds on what W1 uses.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import statistics
import time

import numpy as np
from _machine import machine, peak_rss_gb
from numba import njit, prange
from numba.core.dispatcher import Dispatcher

import scoresim


@njit(parallel=True, cache=True)
def triad(a, b, c, s):
    for i in prange(len(a)):
        a[i] = b[i] + s * c[i]


def triad_bandwidth(mb: float) -> float:
    n = int(mb * 1e6 / 8)
    a, b, c = np.zeros(n), np.ones(n), np.full(n, 2.0)
    triad(a, b, c, 3.0)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        triad(a, b, c, 3.0)
        times.append(time.perf_counter() - t)
    return 3 * 8 * n / statistics.median(times)


class KernelBytes:
    """Wraps every numba kernel in scoresim's modules to count the bytes it is handed."""

    def __init__(self, entries: int):
        self.entries = entries
        self.all = 0
        self.per_agent = 0
        self.calls = 0

    def install(self) -> None:
        for info in pkgutil.iter_modules(scoresim.__path__):
            module = importlib.import_module(f"scoresim.{info.name}")
            for name, obj in list(vars(module).items()):
                if isinstance(obj, Dispatcher):
                    setattr(module, name, self._wrap(obj))

    def _wrap(self, kernel):
        def arrays(values):  # the arrays among the arguments, in bundles (named tuples) too
            for v in values:
                if isinstance(v, tuple):
                    yield from arrays(v)
                elif isinstance(v, np.ndarray):
                    yield v

        def counted(*args, **kw):
            seen = set()
            for a in arrays(list(args) + list(kw.values())):
                if id(a) not in seen:
                    seen.add(id(a))
                    self.all += a.nbytes
                    if a.ndim != 1 or len(a) != self.entries:
                        self.per_agent += a.nbytes
            self.calls += 1
            return kernel(*args, **kw)

        return counted


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=float, default=1e6)
    ap.add_argument("--years", type=float, default=1.0)
    ap.add_argument("--mb", type=float, default=800.0, help="size of each triad array")
    args = ap.parse_args()
    n = int(args.n)
    scoresim.Sim("article", n=2000, years=0.1).run()  # compile first
    sim = scoresim.Sim("article", n=n, years=args.years, twin=False).build()
    counter = KernelBytes(sim.society.graph.entries)
    counter.install()
    t0 = time.perf_counter()
    sim.run()
    loop = time.perf_counter() - t0
    steps = sim.scenario.run.steps
    rate = n * steps / loop
    bw = triad_bandwidth(args.mb)
    print(
        f"W1 workload: N={n:,}, {steps} steps, loop {loop:.1f} s, {rate / 1e6:.2f} M "
        f"person-steps/s (kernels counted: {counter.calls / steps:.0f} calls a step)"
    )
    print(f"triad bandwidth {bw / 1e9:.1f} GB/s (3 arrays of {args.mb:.0f} MB, median of 5)")
    for label, total in (("all arrays", counter.all), ("per-agent arrays", counter.per_agent)):
        per = total / (n * steps)
        used = per * rate
        print(
            f"{label}: {per:.0f} B per person-step -> {used / 1e9:.2f} GB/s = "
            f"{100 * used / bw:.1f} % of the triad"
        )
    print(f"peak RSS {peak_rss_gb():.2f} GB; machine: {machine()}")


if __name__ == "__main__":
    main()
