"""W3: the reference model in scoresim (preset `reference`) and in Mesa 3
(benchmarks/peers/mesa_reference.py), N persons, 52 weekly steps, 5 seeds each: loop wall
times and their ratio; list prevalence and ties cut, mean and spread over seeds.

    pip install "mesa>=3,<4"
    python benchmarks/w3_peer.py [--n 10000] [--seeds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from _machine import machine

import scoresim

sys.path.insert(0, str(Path(__file__).parent / "peers"))
from mesa_reference import ReferenceModel  # noqa: E402


def spread(xs) -> str:
    return f"{statistics.mean(xs):.4f} ± {statistics.stdev(xs):.4f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    scoresim.Sim("reference", n=2000, twin=False).run()  # compile once
    ours = {"loop": [], "listed": [], "cut": []}
    peer = {"loop": [], "listed": [], "cut": []}
    for seed in range(1, args.seeds + 1):
        sim = scoresim.Sim("reference", n=args.n, seed=seed, twin=False).build()
        t = time.perf_counter()
        s = sim.run().summary()
        ours["loop"].append(time.perf_counter() - t)
        ours["listed"].append(s["listed_share"])
        ours["cut"].append(s["ties_cut_share"])
        model = ReferenceModel(args.n, seed)
        t = time.perf_counter()
        for _ in range(sim.scenario.run.steps):
            model.step()
        peer["loop"].append(time.perf_counter() - t)
        df = model.datacollector.get_model_vars_dataframe()
        peer["listed"].append(float(df["listed_share"].iloc[-1]))
        peer["cut"].append(float(df["ties_cut_share"].iloc[-1]))
        print(
            f"seed {seed}: scoresim loop {ours['loop'][-1]:.3f} s, mesa loop "
            f"{peer['loop'][-1]:.3f} s",
            flush=True,
        )
    ratio = statistics.median(peer["loop"]) / statistics.median(ours["loop"])
    print(
        f"W3: N={args.n:,}, 52 steps, {args.seeds} seeds; loop median scoresim "
        f"{statistics.median(ours['loop']):.3f} s, Mesa {statistics.median(peer['loop']):.3f} s"
        f" -> scoresim {ratio:.1f}x faster"
    )
    print(f"  listed share:   scoresim {spread(ours['listed'])}, Mesa {spread(peer['listed'])}")
    print(f"  ties cut share: scoresim {spread(ours['cut'])}, Mesa {spread(peer['cut'])}")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
