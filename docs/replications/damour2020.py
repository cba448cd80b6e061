"""D'Amour et al. (2020), the lending environment of ml-fairness-gym, through scoresim's engine:
the preset lending-damour2020 (20,000 single applications) under the max-util and the
equal-opportunity lender over K seeds, in the style of the paper's Figure 4 (cumulative loans,
mean repayment probability and true-positive rate per group over time; the bucket
distributions at the end), and a permissive lender run until the buckets settle, against the
stationary distribution of their Markov chain. Writes damour2020.csv,
damour2020_figure4.png and damour2020_permissive.png into OUT and prints the tables of
docs/replications/lending.md.

    python docs/replications/damour2020.py docs/replications [--seeds 20 --workers 2]
"""

from __future__ import annotations

import argparse
import csv
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib
import numba

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from scoresim import Sim  # noqa: E402
from scoresim.lending import GROUPS, S, nearest  # noqa: E402

POLICIES = {"max_util": "max-util", "equal_opportunity": "equal opportunity"}
NAMES = {"majority": "group 1 (starts higher)", "minority": "group 2 (starts lower)"}
COLOURS = {"max_util": "#0072B2", "equal_opportunity": "#D55E00"}


def member(job: tuple[str, int]) -> dict:
    """One seed of one lender: the market's series and the bucket distributions."""
    policy, seed = job
    numba.set_num_threads(1)  # one thread a worker: 200 persons, and the workers fill the cores
    sim = Sim("lending-damour2020", seed=seed,
              overrides={"regime": {"lender": {"policy": policy}}}).build()  # fmt: skip
    w = sim.worlds[0]
    for t in range(sim.scenario.run.steps):
        w.step(t, measure=False)  # the market keeps its own series
    m = w.market
    ser = m.series
    end = nearest(m.tab.grid, w.ledger.shown())
    return {
        "policy": policy,
        "seed": seed,
        "loans": np.cumsum(ser[:, :, S["approved"]], axis=0),
        "tp": np.cumsum(ser[:, :, S["true_positives"]], axis=0),
        "good": np.cumsum(ser[:, :, S["would_repay"]], axis=0),
        "repay": ser[:, :, S["mean_repay"]],
        "start": m.pmfs(nearest(m.tab.grid, m.initial)),
        "end": m.pmfs(end),
        "repay_end": np.array([m.tab.repay[g, end[m.members[g]]].mean() for g in range(2)]),
    }


def band(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over members (axis 0) and its 95 % interval."""
    mean = x.mean(axis=0)
    half = 1.96 * x.std(axis=0, ddof=1) / np.sqrt(len(x))
    return mean, mean - half, mean + half


def chain(repay: np.ndarray) -> np.ndarray:
    k = len(repay)
    T = np.zeros((k, k))
    for b in range(k):
        T[b, min(b + 1, k - 1)] += repay[b]
        T[b, max(b - 1, 0)] += 1 - repay[b]
    return T


def stationary(T: np.ndarray) -> np.ndarray:
    k = len(T)
    A = np.vstack([T.T - np.eye(k), np.ones(k)])
    return np.linalg.lstsq(A, np.r_[np.zeros(k), 1.0], rcond=None)[0]


def permissive(out: Path, steps: int = 700, n: int = 20_000) -> dict:
    over = {
        "population": {"persons": n},
        "lending": {"arrivals": "all"},
        "regime": {"lender": {"policy": "permissive"}},
        "run": {"step": "week", "years": steps * 7 / 365.25},
    }
    sim = Sim("lending-damour2020", seed=1, overrides=over).build()
    w = sim.worlds[0]
    m = w.market
    for t in range(sim.scenario.run.steps):
        w.step(t, measure=False)
    repay = m.tab.repay[0]
    pi = stationary(chain(repay))
    end = m.pmfs(nearest(m.tab.grid, w.ledger.shown()))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for g in range(2):
        axes[0].plot(m.series[:, g, S["mean_repay"]], label=NAMES[GROUPS[g]])
    axes[0].axhline(pi @ repay, color="black", ls="--", lw=1, label="stationary law")
    axes[0].set(xlabel="step (every person applies once)", ylabel="mean repayment probability")
    axes[0].legend(fontsize=8)
    x = np.arange(7)
    for g in range(2):
        axes[1].bar(x + (g - 1) * 0.27, end[g], 0.27, label=NAMES[GROUPS[g]])
    axes[1].bar(x + 0.27, pi, 0.27, color="black", label="stationary law")
    axes[1].set(xlabel="bucket", ylabel="share of the group", title=f"after {steps} steps")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "damour2020_permissive.png", dpi=130)
    return {"pi": pi, "end": end, "repay": repay}


def main(out: Path, seeds: int, workers: int) -> None:
    jobs = [(p, s) for p in POLICIES for s in range(1, seeds + 1)]
    with ProcessPoolExecutor(workers) as ex:
        got = list(ex.map(member, jobs))
    by = {p: [g for g in got if g["policy"] == p] for p in POLICIES}
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    x = np.arange(1, len(got[0]["loans"]) + 1)
    styles = {0: "-", 1: "--"}
    rows = []
    for p, members in by.items():
        for g in range(2):
            lab = f"{POLICIES[p]}, {NAMES[GROUPS[g]]}"
            tpr_t = [m["tp"][:, g] / np.maximum(m["good"][:, g], 1) for m in members]
            for ax, series in (
                (axes[0, 0], np.array([m["loans"][:, g] for m in members])),
                (axes[0, 1], np.array([m["repay"][:, g] for m in members])),
                (axes[1, 0], np.array(tpr_t)),
            ):
                mean, lo, hi = band(series)
                ax.plot(x, mean, styles[g], color=COLOURS[p], label=lab, lw=1.3)
                ax.fill_between(x, lo, hi, color=COLOURS[p], alpha=0.2, lw=0)
            loans = band(np.array([m["loans"][-1, g] for m in members]))
            rep = band(np.array([m["repay_end"][g] for m in members]))
            tpr = band(np.array([m["tp"][-1, g] / m["good"][-1, g] for m in members]))
            end = np.mean([m["end"][g] for m in members], axis=0)
            rows.append({
                "policy": p, "group": GROUPS[g], "seeds": len(members),
                "loans": loans[0], "loans_low": loans[1], "loans_high": loans[2],
                "mean_repay_start": float(members[0]["repay"][0, g]),
                "mean_repay_end": rep[0], "mean_repay_end_low": rep[1],
                "mean_repay_end_high": rep[2],
                "tpr": tpr[0], "tpr_low": tpr[1], "tpr_high": tpr[2],
                "pmf_start": " ".join(f"{v:.3f}" for v in members[0]["start"][g]),
                "pmf_end": " ".join(f"{v:.3f}" for v in end),
            })  # fmt: skip
    axes[0, 0].set(xlabel="applications", ylabel="cumulative loans", title="loans")
    axes[0, 1].set(xlabel="applications", ylabel="mean P(repay) of the group",
                   title="credit (mean repayment probability)")  # fmt: skip
    axes[1, 0].set(xlabel="applications", ylabel="TP / (TP + FN), cumulative",
                   title="true-positive rate")  # fmt: skip
    axes[0, 0].legend(fontsize=7)
    xb = np.arange(7)
    w = 0.18
    k = 0
    for p, members in by.items():
        for g in range(2):
            end = np.mean([m["end"][g] for m in members], axis=0)
            axes[1, 1].bar(xb + (k - 1.5) * w, end, w, color=COLOURS[p],
                           alpha=1.0 if g == 0 else 0.5,
                           label=f"{POLICIES[p]}, {NAMES[GROUPS[g]]}")  # fmt: skip
            k += 1
    for g in range(2):
        axes[1, 1].step(xb, got[0]["start"][g], where="mid", color="black",
                        ls=styles[g], lw=1, label=f"start, {NAMES[GROUPS[g]]}")  # fmt: skip
    axes[1, 1].set(xlabel="bucket", ylabel="share of the group",
                   title="bucket distribution after 20,000 applications")  # fmt: skip
    axes[1, 1].legend(fontsize=6)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "damour2020_figure4.png", dpi=130)
    with open(out / "damour2020.csv", "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    print(
        "| lender | group | loans | mean P(repay): start → end | true-positive rate "
        "| buckets 0-6 at the end |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {POLICIES[r['policy']]} | {NAMES[r['group']]} | {r['loans']:.0f} "
            f"[{r['loans_low']:.0f}, {r['loans_high']:.0f}] | {r['mean_repay_start']:.3f} → "
            f"{r['mean_repay_end']:.3f} [{r['mean_repay_end_low']:.3f}, "
            f"{r['mean_repay_end_high']:.3f}] | {r['tpr']:.3f} [{r['tpr_low']:.3f}, "
            f"{r['tpr_high']:.3f}] | {r['pmf_end']} |"
        )
    perm = permissive(out)
    print("\npermissive lender, 700 steps of 20,000 persons: stationary", np.round(perm["pi"], 3))
    for g in range(2):
        mean = float(perm["end"][g] @ perm["repay"])
        print(GROUPS[g], np.round(perm["end"][g], 3), "mean P(repay)", round(mean, 3))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default=".")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    main(Path(a.out), a.seeds, a.workers)
