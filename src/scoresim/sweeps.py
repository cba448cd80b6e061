"""Sweeps: how a result moves as assumptions move, with its uncertainty at every point.

Each swept key is a number of the scenario with a range (``KEY=LOW:HIGH[:N]``). A grid design
takes N evenly spaced values of each key (N = 5 unless given) and every combination; a Latin
hypercube design draws ``points`` points that cover each key's range evenly (scipy's
LatinHypercube, seeded). Every point runs as K members beside their twins, and every point
uses the *same* K member seeds (common random numbers), so that differences between points
are the keys' doing rather than different societies'. The result is a tidy table, one row
per point x summary number: the keys' values, the mean over members and its 95 % interval,
and the paired run-minus-twin effect with its interval.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import write_atomic
from .calibrate import check_key, get_path, set_path
from .ensemble import check_workers, member_seeds, resolve, run_summary, run_tasks
from .scenario import Scenario, ScenarioError, from_dict

DESIGNS = ("grid", "lhs")
GRID_POINTS = 5
LHS_POINTS = 10
MAX_RUNS = 100_000
SET = re.compile(r"^(?P<key>[^=\s]+)=(?P<low>[^:]+):(?P<high>[^:]+)(?::(?P<n>[^:]+))?$")
# what a sweep's figures show unless told otherwise
FIGURE_METRICS = (
    "listed_share",
    "ever_sanctioned_share",
    "sanctioned_association_only_share",
    "ties_cut_share",
    "chilling_effect",
    "income_loss_share",
)


@dataclass(frozen=True)
class Axis:
    """One swept key: its range and (grid) how many values."""

    key: str
    low: float
    high: float
    n: int = GRID_POINTS
    integer: bool = False

    def grid(self) -> np.ndarray:
        values = np.linspace(self.low, self.high, self.n)
        return np.unique(np.round(values)) if self.integer else values


def parse_set(text: str, base: Scenario) -> Axis:
    """``KEY=LOW:HIGH[:N]`` checked against the scenario: the key names a number, the range
    is a range and the scenario stays valid at both ends."""
    m = SET.match(text.strip())
    if m is None:
        raise ScenarioError(
            "(command line)", "--set", text, "must be KEY=LOW:HIGH or KEY=LOW:HIGH:N"
        )
    try:
        low, high = float(m["low"]), float(m["high"])
    except ValueError:
        raise ScenarioError(
            "(command line)", "--set", text, "LOW and HIGH must be numbers"
        ) from None
    n = GRID_POINTS
    if m["n"] is not None:
        if not m["n"].isdigit() or not 2 <= int(m["n"]) <= 1000:
            raise ScenarioError(
                "(command line)", "--set", text, "N must be a whole number from 2 to 1000"
            )
        n = int(m["n"])
    if m["key"].startswith("run."):
        raise ScenarioError(
            "(command line)",
            "--set",
            text,
            "run settings are the sweep's own (--seed, --seeds, --years); sweep another key",
        )
    data = base.model_dump(mode="json")
    check_key(data, m["key"], low, high, "(command line)", "--set", "--set")
    integer = isinstance(get_path(data, m["key"]), int)
    return Axis(m["key"], low, high, n, integer)


def design_points(axes: list[Axis], design: str, points: int, seed: int) -> np.ndarray:
    """[points, keys]: the grid's every combination, or a seeded Latin hypercube."""
    if design not in DESIGNS:
        raise ScenarioError("(command line)", "--design", design, f"allowed: {', '.join(DESIGNS)}")
    if design == "grid":
        grids = [a.grid() for a in axes]
        size = int(np.prod([len(g) for g in grids], dtype=float))
        if size > MAX_RUNS:
            raise ScenarioError(
                "(command line)", "--set", size, f"a grid of at most {MAX_RUNS:,} points"
            )
        return np.array(list(itertools.product(*grids)), dtype=float)
    from scipy.stats import qmc

    unit = qmc.LatinHypercube(d=len(axes), seed=seed).random(points)
    low = np.array([a.low for a in axes])
    high = np.array([a.high for a in axes])
    x = qmc.scale(unit, low, high)
    for k, a in enumerate(axes):
        if a.integer:
            x[:, k] = np.round(x[:, k])
    return x


@dataclass
class Sweep:
    """Every point's members: the design, their summaries and the tidy table."""

    scenario: Scenario
    axes: list[Axis]
    design: str
    points: np.ndarray  # [points, keys]
    seeds: list[int]
    summaries: list[list[dict]]  # [point][member]

    def table(self) -> pd.DataFrame:
        """One row per point x summary number: the keys' values, n, mean, sd and the 95 %
        interval over members, and the paired run-minus-twin effect with its interval
        (empty where the twin has no such number or the regime changes nothing)."""
        from .ensemble import statistics

        rows = []
        keys = [a.key for a in self.axes]
        for i, (point, members) in enumerate(zip(self.points, self.summaries)):
            st = statistics(members)
            for metric, s in st["summary"].items():
                e = st["effects"].get(metric, {})
                rows.append(
                    (
                        i,
                        *point,
                        metric,
                        s["n"],
                        s["mean"],
                        s["sd"],
                        s["low"],
                        s["high"],
                        e.get("mean"),
                        e.get("low"),
                        e.get("high"),
                    )
                )
        cols = ["point", *keys, "metric", "n", "mean", "sd", "low", "high"]
        cols += ["effect", "effect_low", "effect_high"]
        return pd.DataFrame(rows, columns=cols)

    def plot(self, metric: str, key: str | None = None, ax=None):
        """``metric``'s mean and 95 % interval against a swept ``key`` (the first by
        default). Returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
        keys = [a.key for a in self.axes]
        panel(ax, self.table(), key or keys[0], keys, metric, self.design == "grid")
        return ax

    def to_json(self) -> dict:
        return {
            "scenario": self.scenario.name,
            "design": self.design,
            "axes": [a.__dict__ for a in self.axes],
            "points": self.points.tolist(),
            "seeds": self.seeds,
        }

    def write(self, out: str | Path, metrics: tuple[str, ...] = FIGURE_METRICS) -> Path:
        """DIR/sweep.csv and sweep.parquet (the tidy table), DIR/sweep.json (the design) and
        DIR/figures/sweep_KEY.png, one figure per swept key."""
        import io

        out = Path(out)
        (out / "figures").mkdir(parents=True, exist_ok=True)
        table = self.table()
        write_atomic(out / "sweep.csv", table.to_csv(index=False).encode())
        buf = io.BytesIO()
        table.to_parquet(buf, index=False)
        write_atomic(out / "sweep.parquet", buf.getvalue())
        write_atomic(out / "sweep.json", json.dumps(self.to_json(), indent=1).encode())
        for axis in self.axes:
            keys = [a.key for a in self.axes]
            figure(table, axis, keys, metrics, out / "figures", self.design == "grid")
        return out


def panel(ax, table: pd.DataFrame, key: str, keys: list[str], metric: str, grid: bool) -> None:
    """``metric``'s mean (dots, whiskers for the 95 % interval) against ``key``; on a grid,
    one line per combination of the other swept keys' values (a Latin hypercube's points
    are dots: every point has its own values of the others)."""
    others = [k for k in keys if k != key] if grid else []
    part = table[table["metric"] == metric].sort_values(key)
    if part.empty:
        raise ValueError(f"no metric {metric!r} in the sweep's table")
    groups = part.groupby(others, sort=True) if others else [((), part)]
    for label, g in groups:
        y = g["mean"].to_numpy(float)
        lo = np.nan_to_num(y - g["low"].to_numpy(float))
        hi = np.nan_to_num(g["high"].to_numpy(float) - y)
        name = ", ".join(
            f"{k.split('.')[-1]}={v:g}"
            for k, v in zip(others, label if isinstance(label, tuple) else (label,))
        )
        ax.errorbar(
            g[key], y, yerr=[lo, hi], marker="o", ms=3, capsize=2, lw=1 if grid else 0, label=name
        )
    ax.set_title(metric, fontsize=8)
    ax.set_xlabel(key.split(".")[-1], fontsize=7)
    ax.tick_params(labelsize=7)
    if others and len(part[others].drop_duplicates()) <= 6:
        ax.legend(fontsize=6)


def figure(
    table: pd.DataFrame, axis: Axis, keys: list[str], metrics, folder: Path, grid: bool = True
) -> Path:
    """One panel per metric: its mean (dots, with whiskers for the 95 % interval) against
    the key's value; where other keys are swept on a grid, one line per combination of
    their values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if m in set(table["metric"])]
    cols = min(3, len(metrics)) or 1
    rows = -(-len(metrics) // cols) or 1
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.6 * cols, 2.7 * rows), squeeze=False, layout="constrained"
    )
    for ax, m in zip(axes.flat, metrics):
        panel(ax, table, axis.key, keys, m, grid)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    fig.suptitle(f"{axis.key}: mean over members, 95 % intervals", fontsize=9)
    path = folder / f"sweep_{axis.key.replace('.', '_')}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def sweep(
    scenario: str | Path | Scenario,
    sets: list[str | Axis] | dict[str, tuple],
    design: str = "grid",
    seeds: int = 4,
    points: int = LHS_POINTS,
    n: int | None = None,
    years: float | None = None,
    seed: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Sweep:
    """Run every point of the design as ``seeds`` members (the same member seeds at every
    point), in-process or as Dask tasks. ``sets``: "KEY=LOW:HIGH[:N]" strings (or the Axis
    parse_set made of them), or {key: (low, high) or (low, high, n)}; ``scenario``: a
    preset, a TOML path or a Scenario, with ``n`` persons and ``years`` where given."""
    base = resolve(scenario, n, years)
    if isinstance(sets, dict):
        sets = [
            f"{k}={float(r[0])!r}:{float(r[1])!r}" + (f":{int(r[2])}" if len(r) > 2 else "")
            for k, r in sets.items()
        ]
    axes = [x if isinstance(x, Axis) else parse_set(x, base) for x in sets]
    members = seeds
    if not axes:
        raise ScenarioError("(command line)", "--set", "", "sweep at least one key")
    if len({a.key for a in axes}) != len(axes):
        raise ScenarioError("(command line)", "--set", [a.key for a in axes], "each key once")
    if members < 1:
        raise ScenarioError("(command line)", "--seeds", members, "must be 1 or more")
    seed = base.run.seed if seed is None else seed
    x = design_points(axes, design, points, seed)
    runs = len(x) * members
    if runs > MAX_RUNS:
        raise ScenarioError(
            "(command line)", "--set", runs, f"a sweep of at most {MAX_RUNS:,} runs"
        )
    if scheduler is None:  # the largest society the sweep builds
        largest = base.model_dump(mode="json")
        for a, column in zip(axes, x.T):
            if a.key == "population.persons":
                set_path(largest, a.key, float(column.max()))
        check_workers(from_dict(largest), workers)
    member = member_seeds(seed, members)
    tasks: dict[int, tuple] = {}
    for i, point in enumerate(x):
        data = base.model_dump(mode="json")
        for a, v in zip(axes, point):
            set_path(data, a.key, float(v))
        for j, s in enumerate(member):
            tasks[i * members + j] = (data, s)
    results: dict[int, dict] = {}

    def finish(task: int, summary: dict) -> None:
        results[task] = summary
        if progress is not None:
            progress(len(results), runs)

    if progress is not None:
        progress(0, runs)
    failed = run_tasks(run_summary, tasks, finish, workers, scheduler)
    if failed:
        task, why = min(failed.items())
        i, j = divmod(task, members)
        raise RuntimeError(
            f"{len(failed)} of {runs} runs failed; the first: point {i} "
            f"({', '.join(f'{a.key}={v:g}' for a, v in zip(axes, x[i]))}), member {j}: {why}"
        )
    summaries = [[results[i * members + j] for j in range(members)] for i in range(len(x))]
    return Sweep(base, axes, design, x, member, summaries)
