"""Liu et al. (2018) in closed form, from scoresim's lender policies over the FICO tables:
the policy table and the outcome curves (docs/replications/lending.md). The engine's lending
runs (issue 16, later slices) are to be checked against these numbers.

    python docs/replications/liu2018_closed_form.py docs/replications
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from scoresim.fico import load, to_fico  # noqa: E402
from scoresim.lender import POLICIES, Group, decide, outcome, outcome_curve  # noqa: E402

NAMES = {"black": "Black", "white": "white"}
LABELS = {"max_util": "max-util", "demographic_parity": "demographic parity",
          "equal_opportunity": "equal opportunity"}  # fmt: skip


def main(out: Path) -> None:
    f = load()
    total = f.totals["black"] + f.totals["white"]
    groups = {g: Group(f.scores, f.pmf[g], f.repay[g], f.totals[g] / total) for g in NAMES}
    fico = to_fico(f.scores)
    print(
        "| utility of a default | policy | group | threshold (TransRisk; FICO) | share at "
        "the threshold lent to | selection rate | true-positive rate | Δμ (FICO points) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    made = {}
    for u in (-4.0, -10.0):
        for policy in POLICIES:
            made[u, policy] = d = decide(groups, policy, 1.0, u)
            for g in NAMES:
                x = d[g]
                print(
                    f"| {u:g} | {LABELS[policy]} | {NAMES[g]} | {x.threshold:g}; "
                    f"{to_fico([x.threshold])[0]:.0f} | {x.alpha:.2f} | {x.selection:.3f} | "
                    f"{x.tpr:.3f} | {outcome(groups[g], x, fico):+.2f} |"
                )
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=False)
    marks = {"max_util": "o", "demographic_parity": "s", "equal_opportunity": "^"}
    for ax, g in zip(axes, NAMES):
        sel, dmu = outcome_curve(groups[g], fico)
        ax.plot(sel, dmu, color="#0072B2", lw=1.6)
        ax.axhline(0, color="black", lw=0.8)
        for policy, m in marks.items():
            d = made[-4.0, policy][g]
            ax.plot(d.selection, outcome(groups[g], d, fico), m, color="#D55E00",
                    label=LABELS[policy])  # fmt: skip
        ax.set(title=f"{NAMES[g]} group", xlabel="selection rate",
               ylabel="expected change of mean score (FICO points)")  # fmt: skip
        ax.grid(alpha=0.3)
    axes[0].legend(title="policy (default's utility -4)", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "liu2018_outcome_curves.png", dpi=130)
    np.set_printoptions(precision=3)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
