"""Liu et al. (2018) through scoresim's engine: the preset lending-liu2018 run for each policy
and each utility of a default, over seeds, beside the closed form of lender.py (the
expectation over the same starting scores). Writes liu2018_engine.csv and
liu2018_engine_curves.png (the outcome curves with engine runs on them) into OUT, and prints
the table of docs/replications/lending.md.

    python docs/replications/liu2018_engine.py docs/replications [--seeds 20]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from scoresim import Sim, fico, lender  # noqa: E402
from scoresim.lending import GROUPS  # noqa: E402

FICO_COLUMN = {"majority": "white", "minority": "black"}
NAMES = {"majority": "white", "minority": "Black"}
LABELS = {"max_util": "max-util", "demographic_parity": "demographic parity",
          "equal_opportunity": "equal opportunity", "rate": "a share from the top"}  # fmt: skip
OUTCOME = lender.Moves(clip="outcome")


def run(policy: str, u_default: float, seed: int, rate: float = 1.0) -> dict:
    over = {"regime": {"lender": {"policy": policy, "utility_default": u_default, "rate": rate}}}
    return Sim("lending-liu2018", seed=seed, overrides=over).run().summary()["lending"]


def closed(summary: dict, policy: str, u_default: float) -> dict:
    """The policy and its outcomes in closed form over the run's starting scores."""
    f = fico.load()
    grid = fico.to_fico(f.scores)
    total = sum(summary[g]["persons"] for g in GROUPS)
    groups = {
        g: lender.Group(grid, np.array(summary[g]["pmf_start"]), f.repay[FICO_COLUMN[g]],
                        summary[g]["persons"] / total)
        for g in GROUPS
    }  # fmt: skip
    made = lender.decide(groups, policy, 1.0, u_default)
    return {
        g: (made[g], lender.outcome(groups[g], made[g], grid),
            lender.outcome(groups[g], made[g], grid, OUTCOME))
        for g in GROUPS
    }  # fmt: skip


def interval(x: list[float]) -> tuple[float, float, float]:
    a = np.asarray(x, float)
    half = 1.96 * a.std(ddof=1) / np.sqrt(len(a)) if len(a) > 1 else float("nan")
    return float(a.mean()), float(a.mean() - half), float(a.mean() + half)


def main(out: Path, seeds: int) -> None:
    rows = []
    print(
        "| utility of a default | policy | group | threshold (FICO) | share at the threshold "
        "| selection rate: closed form / engine | true-positive rate: closed form / engine "
        "| Δμ closed form, expected move clipped (Liu) | Δμ closed form, each loan clipped "
        "| Δμ engine, mean [95 % interval] |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for u in (-4.0, -10.0):
        for policy in lender.POLICIES:
            runs = [run(policy, u, seed) for seed in range(1, seeds + 1)]
            cf = closed(runs[0], policy, u)  # the starting scores are the same in every seed
            for g in GROUPS:
                d, liu, per_loan = cf[g]
                sel = interval([r[g]["selection_rate"] for r in runs])
                tpr = interval([r[g]["tpr"] for r in runs])
                dmu = interval([r[g]["mean_score_change"] for r in runs])
                rows.append({
                    "utility_default": u, "policy": policy, "group": NAMES[g],
                    "threshold_fico": round(d.threshold, 2), "alpha": round(d.alpha, 4),
                    "selection_closed": round(d.selection, 4), "selection_engine": round(sel[0], 4),
                    "tpr_closed": round(d.tpr, 4), "tpr_engine": round(tpr[0], 4),
                    "dmu_liu": round(liu, 3), "dmu_per_loan": round(per_loan, 3),
                    "dmu_engine": round(dmu[0], 3), "dmu_engine_low": round(dmu[1], 3),
                    "dmu_engine_high": round(dmu[2], 3), "seeds": seeds,
                })  # fmt: skip
                print(
                    f"| {u:g} | {LABELS[policy]} | {NAMES[g]} | {d.threshold:.0f} | "
                    f"{d.alpha:.2f} | {d.selection:.3f} / {sel[0]:.3f} | "
                    f"{d.tpr:.3f} / {tpr[0]:.3f} | {liu:+.2f} | {per_loan:+.2f} | "
                    f"{dmu[0]:+.2f} [{dmu[1]:+.2f}, {dmu[2]:+.2f}] |"
                )
    with open(out / "liu2018_engine.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    # the outcome curves, with the engine's runs lending to a share from the top on them
    first = run("max_util", -4.0, 1)
    f = fico.load()
    grid = fico.to_fico(f.scores)
    rates = np.linspace(0.05, 1.0, 20)
    engine = {g: [] for g in GROUPS}
    for r in rates:
        s = run("rate", -4.0, 1, float(r))
        for g in GROUPS:
            engine[g].append((s[g]["selection_rate"], s[g]["mean_score_change"]))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    marks = {"max_util": "o", "demographic_parity": "s", "equal_opportunity": "^"}
    for ax, g in zip(axes, ("minority", "majority")):
        grp = lender.Group(grid, np.array(first[g]["pmf_start"]), f.repay[FICO_COLUMN[g]], 1.0)
        sel, dmu = lender.outcome_curve(grp, grid, OUTCOME)
        ax.plot(sel, dmu, color="#0072B2", lw=1.6, label="closed form (each loan clipped)")
        x, y = zip(*engine[g])
        ax.plot(x, y, ".", color="black", ms=5, label="engine, one seed")
        for policy, m in marks.items():
            got = [r for r in rows if r["policy"] == policy and r["group"] == NAMES[g]
                   and r["utility_default"] == -4.0][0]  # fmt: skip
            ax.plot(got["selection_engine"], got["dmu_engine"], m, color="#D55E00",
                    label=f"{LABELS[policy]} (engine)")  # fmt: skip
        ax.axhline(0, color="black", lw=0.8)
        ax.set(title=f"{NAMES[g]} group", xlabel="selection rate",
               ylabel="change of mean score (FICO points)")  # fmt: skip
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "liu2018_engine_curves.png", dpi=130)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default=".")
    ap.add_argument("--seeds", type=int, default=20)
    a = ap.parse_args()
    main(Path(a.out), a.seeds)
