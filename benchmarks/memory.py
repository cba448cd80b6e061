"""Memory: the estimate the guard uses before building vs the measured peak RSS.

    python benchmarks/memory.py [--n 200000 500000 1000000] [--years 1] [--no-twin]

Each size runs in a fresh process (peak RSS is per process): build + run, twin on unless
--no-twin.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _machine import machine

CHILD = """
import json, resource, sys
import scoresim
from scoresim.sim import estimate_bytes
n, years, twin = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "1"
sim = scoresim.Sim("article", n=n, years=years, twin=twin)
est = estimate_bytes(sim.scenario)
sim.run()
print(json.dumps({"n": n, "estimate": est,
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "entries": int(sim.society.graph.entries), "twin": sim.scenario.run.twin}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=float, nargs="+", default=[2e5, 5e5, 1e6])
    ap.add_argument("--years", type=float, default=1.0)
    ap.add_argument("--no-twin", action="store_true")
    args = ap.parse_args()
    for n in args.n:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(int(n)),
                str(args.years),
                "0" if args.no_twin else "1",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        err = r["estimate"] / r["peak"] - 1
        print(
            f"N={r['n']:>11,}  estimate {r['estimate'] / 1e9:6.2f} GB  peak RSS "
            f"{r['peak'] / 1e9:6.2f} GB  ({100 * err:+.0f} %)  entries/person "
            f"{r['entries'] / r['n']:.1f}, twin {'on' if r['twin'] else 'off'}",
            flush=True,
        )
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
