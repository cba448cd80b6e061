"""Reference counting left inside the kernels' loops, per kernel (a diagnostic, no timing).

An increment or decrement of an array's reference count inside a loop costs an atomic
operation per iteration (src/scoresim/jit.py says why they appear and how helpers avoid
them). This compiles every kernel a small run needs into a fresh numba cache (cached code
cannot be inspected), finds the loops of each compiled function (and of its parallel
bodies) in its LLVM IR, and counts the NRT_incref/NRT_decref calls in them. A count in a
kernel's per-person or per-entry loop is worth removing; one in a loop over parallel slices
(a buffer allocated per slice) is not.

    python benchmarks/refcounts.py [--preset article] [--implicit] [--twin]
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile

import numpy as np
from _kernels import compiled_functions
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

FUNCTION = re.compile(r"^define [^@]*@(\S+?)\(.*?^\}", re.S | re.M)
LABEL = re.compile(r"^([\w.\-]+):")
REFCOUNT = ("@NRT_incref", "@NRT_decref")


def loop_refcounts(function_ir: str) -> int:
    """The refcount calls in the blocks of one LLVM function that lie on a cycle of its
    control-flow graph (a block's successors: the labels its terminator names)."""
    names: dict[str, int] = {}
    counts: list[int] = []
    edges: list[tuple[str, str]] = []
    current = None
    for line in function_ir.split("\n")[1:]:
        label = LABEL.match(line)
        if label or current is None:
            current = label.group(1) if label else "entry"
            names[current] = len(names)
            counts.append(0)
            if label:
                continue
        counts[names[current]] += any(r in line for r in REFCOUNT)
        if line.strip().startswith(("br ", "switch ", "[")):
            edges += [(current, t) for t in re.findall(r"label %([\w.\-]+)", line)]
    n = len(names)
    src = [names[a] for a, b in edges if b in names]
    dst = [names[b] for a, b in edges if b in names]
    graph = csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    _, component = connected_components(graph, directed=True, connection="strong")
    size = np.bincount(component, minlength=n)
    on_cycle = (size[component] > 1) | (graph.diagonal() > 0)
    return int(np.asarray(counts)[on_cycle].sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="article")
    ap.add_argument("--implicit", action="store_true", help="the graph's implicit form")
    ap.add_argument("--twin", action="store_true", help="the twin on")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="scoresim-refcounts-") as cache:
        os.environ["NUMBA_CACHE_DIR"] = cache  # fresh: cached code cannot be inspected
        report(args)


def report(args) -> None:
    import scoresim
    from scoresim import sim as sim_module

    if args.implicit:
        sim_module.ties_implicit = lambda sc, have=None: True
    scoresim.Sim(args.preset, n=3000, years=1, seed=3, twin=args.twin).run()
    rows = []
    for label, name, f in compiled_functions(scoresim):
        for sig in f.signatures:
            for fn in FUNCTION.finditer(f.inspect_llvm(sig)):
                own = name in fn.group(1) or "parfor" in fn.group(1)
                if own and "cpython" not in fn.group(1):
                    if n := loop_refcounts(fn.group(0)):
                        rows.append((n, label))
    print("refcount calls in loops, per compiled function (kernel: its own loops and its")
    print(f"parallel bodies); {args.preset}, {'implicit' if args.implicit else 'stored'} graph")
    for n, name in sorted(set(rows), reverse=True):
        print(f"{n:6d}  {name}")


if __name__ == "__main__":
    main()
