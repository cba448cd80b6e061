"""W4: a STREAM-style triad (numba, all cores) in the same process, to set W1's speed against
the machine's memory bandwidth.

    python benchmarks/w4_limit.py [--mb 800] [--w1-bytes-per-person-step B --w1-rate R]

Prints the triad bandwidth (median of 5) and, if W1's figures are given, the share of the
bandwidth W1 reaches: bytes moved per person-step x person-steps per second / bandwidth.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _machine import machine
from numba import njit, prange


@njit(parallel=True, cache=True)
def triad(a, b, c, s):
    for i in prange(len(a)):
        a[i] = b[i] + s * c[i]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=800.0, help="size of each array")
    ap.add_argument("--w1-bytes-per-person-step", type=float)
    ap.add_argument("--w1-rate", type=float, help="W1 person-steps per second")
    args = ap.parse_args()
    n = int(args.mb * 1e6 / 8)
    a, b, c = np.zeros(n), np.ones(n), np.full(n, 2.0)
    triad(a, b, c, 3.0)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        triad(a, b, c, 3.0)
        times.append(time.perf_counter() - t)
    bw = 3 * 8 * n / statistics.median(times)
    print(f"triad bandwidth {bw / 1e9:.1f} GB/s (3 arrays of {args.mb:.0f} MB, median of 5)")
    if args.w1_bytes_per_person_step and args.w1_rate:
        used = args.w1_bytes_per_person_step * args.w1_rate
        print(f"W1 moves {used / 1e9:.2f} GB/s = {100 * used / bw:.1f} % of the triad bandwidth")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
