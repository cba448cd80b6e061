"""Where a run's time goes inside the compiled kernels: Linux `perf`, with numba's code named.

cProfile sees a kernel as one call; `perf` samples instructions, but numba's machine code has
no symbols perf can read. This script compiles every kernel in-process (a fresh numba cache:
code loaded from the cache carries no names), writes `/tmp/perf-<pid>.map` from the compiled
libraries (each function's address from numba, its size up to the next function's start), then
samples its own loop with `perf record -p` and prints `perf report` by symbol. A function is
named `module.kernel` (its parallel body `module.kernel.parfor`), and a helper that LLVM did not
inline `module.kernel/helper`.

    python benchmarks/perf_profile.py [--n 1e6] [--years 0.5] [--preset article] [--twin]

Needs `perf` on the PATH and permission to sample (perf_event_paranoid <= 1, or root).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import time

from _kernels import compiled_functions


def write_perf_map(package) -> int:
    """Write /tmp/perf-<pid>.map for every function compiled in this process from
    ``package``'s kernels; returns how many were named."""
    named: dict[int, str] = {}
    for label, name, f in compiled_functions(package):
        for cres in list(f.overloads.values()):
            final = cres.library._final_module
            for fn in final.functions if final is not None else ():
                if fn.is_declaration or "cpython" in fn.name or "cfunc" in fn.name:
                    continue
                address = cres.library.get_pointer_to_function(fn.name)
                if not address:
                    continue
                if "parfor" in fn.name:
                    named.setdefault(address, label + ".parfor")
                elif name not in fn.name:
                    named.setdefault(address, f"{label}/{fn.name[:60]}")
                else:
                    named.setdefault(address, label)
    starts = sorted(named)
    with open(f"/tmp/perf-{os.getpid()}.map", "w") as fh:
        for a, b in zip(starts, starts[1:] + [starts[-1] + 4096] if starts else []):
            fh.write(f"{a:x} {min(b - a, 1 << 20):x} {named[a]}\n")
    return len(starts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=float, default=1e6)
    ap.add_argument("--years", type=float, default=0.5)
    ap.add_argument("--preset", default="article")
    ap.add_argument("--twin", action="store_true")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    if shutil.which("perf") is None:
        raise SystemExit("perf_profile: `perf` is not on the PATH (Debian: linux-perf)")
    with tempfile.TemporaryDirectory(prefix="scoresim-perf-") as cache:
        os.environ["NUMBA_CACHE_DIR"] = cache  # fresh: cached code carries no names
        profile(args, cache)


def profile(args, cache: str) -> None:
    import scoresim

    print("compiling every kernel (a fresh cache) ...", flush=True)
    scoresim.Sim(args.preset, n=3000, years=0.2, seed=1, twin=args.twin).run()
    sim = scoresim.Sim(args.preset, n=int(args.n), years=args.years, seed=1, twin=args.twin)
    sim.build()
    print(f"named {write_perf_map(scoresim)} compiled functions", flush=True)
    data = os.path.join(cache, "perf.data")
    record = subprocess.Popen(["perf", "record", "-q", "-p", str(os.getpid()), "-o", data])
    time.sleep(1.0)  # let perf attach
    started = time.perf_counter()
    sim.run()
    loop = time.perf_counter() - started
    record.send_signal(signal.SIGINT)
    record.wait()
    # kernels compiled during the loop (a signature the small run did not need) get no name
    write_perf_map(scoresim)
    report = subprocess.run(
        ["perf", "report", "-i", data, "--no-children", "--sort", "sym", "--stdio"],
        capture_output=True,
        text=True,
    ).stdout
    rows = [line for line in report.splitlines() if "%" in line and not line.startswith("#")]
    print(f"loop {loop:.1f} s; perf samples by symbol, top {args.top}:")
    print("\n".join(rows[: args.top]))


if __name__ == "__main__":
    main()
