"""How long a repealed system's harms outlast it: the repeal preset against the article's
system kept and eu-safeguards from the start, over an ensemble each (docs/schedules/README.md).

    scoresim ensemble repeal --seeds 8 --n 2e5 --workers 2 --out runs/repeal
    scoresim ensemble article --seeds 8 --n 2e5 --years 5 --workers 2 --out runs/article5
    scoresim ensemble eu-safeguards --seeds 8 --n 2e5 --years 5 --workers 2 --out runs/eu5
    python docs/schedules/outlast.py runs/repeal runs/article5 runs/eu5 > docs/schedules/repeal.md
"""

from __future__ import annotations

import math
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

AT = (1.7, 2.3, 2.5, 3.0, 4.0, 4.5)  # years: before and after the change (windows clear of it)
WINDOW = 0.25  # years either side, for the flows (chilling)
CHILLED = ("critical_post", "disfavoured_purchase")
LAYERS = ("household", "work", "community", "online")


def members(folder: Path) -> tuple[list[pd.DataFrame], float]:
    sc = tomllib.loads((folder / "scenario.toml").read_text())
    step = {"day": 1 / 365.25, "week": 7 / 365.25, "month": 1 / 12}[sc["run"]["step"]]
    parts = sorted((folder / "timeseries").glob("member=*/part-0.parquet"))
    frames = []
    for p in parts:
        f = pd.read_parquet(p)
        f = f[f.group.astype(str) == "all"]
        f["metric"] = f.metric.astype(str)
        frames.append(f.pivot_table(index="step", columns="metric", values=["run", "twin"]))
    return frames, step


def measures(w: pd.DataFrame, step: float) -> dict[str, np.ndarray]:
    run, twin = w["run"], w["twin"]
    active_run = sum(run[f"ties_active.{x}"] for x in LAYERS)
    active_twin = sum(twin[f"ties_active.{x}"] for x in LAYERS)
    half = max(1, round(WINDOW / step))
    chilled_run = sum(run[x] for x in CHILLED).rolling(2 * half + 1, center=True).sum()
    chilled_twin = sum(twin[x] for x in CHILLED).rolling(2 * half + 1, center=True).sum()
    return {
        "listed": (run["listed"] / run["persons"]).to_numpy(),
        "sanctioned": (run["sanctioned"] / run["persons"]).to_numpy(),
        "ties cut (vs twin)": (1 - active_run / active_twin).to_numpy(),
        "chilling (vs twin, ±3 months)": (1 - chilled_run / chilled_twin).to_numpy(),
        "approving": (run["approving"] / run["persons"]).to_numpy(),
    }


def cell(values: list[float]) -> str:
    v = np.array(values)
    k = len(v)
    mean = v.mean()
    if k < 2:
        return f"{100 * mean:.2f} %"
    half = stats.t.ppf(0.975, k - 1) * v.std(ddof=1) / math.sqrt(k)
    return f"{100 * mean:.2f} % [{100 * (mean - half):.2f}, {100 * (mean + half):.2f}]"


def main(folders: list[str]) -> None:
    names = ["repeal (article, then eu-safeguards at 2 years)", "article throughout",
             "eu-safeguards throughout"]  # fmt: skip
    data = {}
    for name, folder in zip(names, folders):
        frames, step = members(Path(folder))
        data[name] = ([measures(f, step) for f in frames], step)
    k = len(next(iter(data.values()))[0])
    print(f"Each cell: mean [95 % t interval] over {k} members (societies), share of persons.\n")
    for what in next(iter(data.values()))[0][0]:
        print(f"### {what}\n")
        print("| years | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        for at in AT:
            row = []
            for name in names:
                ms, step = data[name]
                t = min(round(at / step), len(ms[0][what]) - 1)
                row.append(cell([m[what][t] for m in ms]))
            print(f"| {at:g} | " + " | ".join(row) + " |")
        print()


if __name__ == "__main__":
    main(sys.argv[1:4])
