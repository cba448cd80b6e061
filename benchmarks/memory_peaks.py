"""Where a run's memory peaks: a thread polls RSS and notes the highest RSS seen under each
call site of the main thread (its three innermost scoresim frames), then prints the top.

    python benchmarks/memory_peaks.py [--n 6e6] [--years 1] [--implicit] [--top 25]

Kernels are warmed on a small run first (their compiled code is part of the base, not of
the run). Sites at the same RSS as the end of the run are the plateau; a site above it is a
temporary to look at. The estimate (sim.estimate_bytes) is printed alongside.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
import traceback

from _machine import machine, rss_gb

import scoresim
from scoresim import sim as S


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=float, default=6e6)
    ap.add_argument("--years", type=float, default=1.0)
    ap.add_argument("--implicit", action="store_true", help="hold ties implicitly (as at 1e8)")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    if args.implicit:
        S.ties_implicit = lambda sc, have=None: True
    main_id = threading.main_thread().ident
    sites: dict[tuple[str, str], int] = {}
    phase = ["warm"]
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            now = rss_gb()
            frame = sys._current_frames().get(main_id)
            stack = traceback.extract_stack(frame) if frame is not None else []
            own = [
                f"{os.path.basename(x.filename)}:{x.lineno} {x.name}"
                for x in stack
                if "scoresim" in x.filename
            ]
            key = (phase[0], " < ".join(reversed(own[-3:])))
            sites[key] = max(sites.get(key, 0), now)
            time.sleep(0.001)

    threading.Thread(target=poll, daemon=True).start()
    scoresim.Sim("article", n=2000, years=0.1, twin=False).run()
    gc.collect()
    warm = rss_gb()
    sim = scoresim.Sim("article", n=int(args.n), years=args.years, twin=False)
    est = S.estimate_bytes(sim.scenario, implicit=args.implicit or None)
    phase[0] = "build"
    sim.build()
    phase[0] = "run"
    sim.run()
    done.set()
    print(
        f"N={int(args.n):,}: warm {warm:.3f} GB (BASE_BYTES {S.BASE_BYTES / 1e9:.2f}), "
        f"estimate {est / 1e9:.3f} GB, end of run {rss_gb():.3f} GB"
    )
    for (ph, site), top in sorted(sites.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"{top:7.3f} GB  {ph:5s} {site}")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
