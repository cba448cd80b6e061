"""Sensitivity analysis with SALib: which assumption drives a result.

A problem file names scenario keys with their ranges and the summary outputs to explain.
SALib draws the design (Sobol: Saltelli's scheme, N (D + 2) runs without second order;
Morris: N trajectories, N (D + 1) runs), every design point is run as a scenario (beside its
twin, so effects against it can be outputs), and SALib computes the indices with their
confidence intervals: first-order and total Sobol indices, or Morris' mu* and sigma.
``indices`` is the one code path: a test feeds it the Ishigami function and checks the
known answer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from .atomic import write_atomic
from .calibrate import (
    DICT_METRICS,
    SCALAR_METRICS,
    Parameter,
    check_key,
    metric,
    set_path,
)
from .ensemble import check_workers, resolve, run_summary, run_tasks
from .scenario import Scenario, ScenarioError, Strict, from_dict, read_toml, validate_model

METHODS = ("sobol", "morris")
MORRIS_LEVELS = 4


class Problem(Strict):
    """A sensitivity problem: scenario keys with ranges, outputs, size of each run."""

    description: str = ""
    persons: int = Field(20_000, ge=100, le=10_000_000)
    years: float = Field(1.0, gt=0, le=50)
    samples: int = Field(32, ge=2, le=100_000)  # N (Sobol: a power of 2 is best)
    seed: int = Field(1, ge=0, le=2**31 - 1)  # the design's seed and every run's seed
    parameters: list[Parameter] = Field(min_length=2, max_length=50)
    outputs: list[str] = Field(min_length=1, max_length=50)

    @field_validator("outputs")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        for name in v:
            root, _, sub = name.partition(".")
            if not ((root in SCALAR_METRICS and not sub) or (root in DICT_METRICS and sub)):
                allowed = ", ".join(SCALAR_METRICS)
                raise ValueError(f"unknown output {name!r}; allowed: {allowed}")
        return v


def salib_problem(names: list[str], bounds: list[tuple[float, float]]) -> dict:
    return {"num_vars": len(names), "names": names, "bounds": [list(b) for b in bounds]}


def design(problem: dict, method: str, samples: int, seed: int) -> np.ndarray:
    """The design points, one row per run."""
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample

        return sobol_sample.sample(problem, samples, calc_second_order=False, seed=seed)
    from SALib.sample import morris as morris_sample

    return morris_sample.sample(problem, samples, num_levels=MORRIS_LEVELS, seed=seed)


def runs_needed(method: str, samples: int, parameters: int) -> int:
    return samples * (parameters + 2 if method == "sobol" else parameters + 1)


def indices(
    problem: dict,
    evaluate: Callable[[np.ndarray], np.ndarray],
    method: str,
    samples: int,
    seed: int,
    outputs: list[str],
) -> pd.DataFrame:
    """The design, its evaluation (``evaluate``: points -> [points, outputs]) and SALib's
    indices, as a tidy table: output, parameter, index, value, conf (95 %)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    x = design(problem, method, samples, seed)
    y = np.asarray(evaluate(x), np.float64).reshape(len(x), len(outputs))
    rows = []
    for k, out in enumerate(outputs):
        col = y[:, k]
        if not np.isfinite(col).all() or np.ptp(col) == 0:  # nothing to attribute
            kinds = ("S1", "ST") if method == "sobol" else ("mu_star", "sigma")
            rows += [
                (out, name, kind, np.nan, np.nan) for name in problem["names"] for kind in kinds
            ]
            continue
        if method == "sobol":
            from SALib.analyze import sobol

            si = sobol.analyze(problem, col, calc_second_order=False, seed=seed)
            pairs = (("S1", "S1_conf"), ("ST", "ST_conf"))
        else:
            from SALib.analyze import morris

            si = morris.analyze(problem, x, col, num_levels=MORRIS_LEVELS, seed=seed)
            pairs = (("mu_star", "mu_star_conf"), ("sigma", None))
        for j, name in enumerate(problem["names"]):
            for index, conf in pairs:
                value = float(si[index][j])
                c = float(si[conf][j]) if conf else float("nan")
                rows.append((out, name, index, value, c))
    return pd.DataFrame(rows, columns=["output", "parameter", "index", "value", "conf"])


def load_problem(path: str | Path | dict, base: Scenario) -> Problem:
    """Read and check a problem (a file, or its contents as a dict): every key must name a
    number of the scenario."""
    if isinstance(path, dict):
        data, path = path, "(problem)"
    else:
        path = Path(path)
        data = read_toml(path)
    p = validate_model(Problem, data, path)
    scenario = base.model_dump(mode="json")
    for k, par in enumerate(p.parameters):
        at = f"parameters[{k}]"
        check_key(scenario, par.key, par.low, par.high, path, f"{at}.key", f"{at}.high")
    return p


def scenario_evaluator(
    base: Scenario,
    p: Problem,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """Points -> outputs: each point run as ``base`` with the parameters set (with its twin,
    at the problem's size and seed), in-process or as Dask tasks."""

    def evaluate(x: np.ndarray) -> np.ndarray:
        tasks = {}
        for i, point in enumerate(x):
            data = base.model_dump(mode="json")
            for par, v in zip(p.parameters, point):
                set_path(data, par.key, float(v))
            data["population"]["persons"] = p.persons
            data["run"]["years"] = p.years
            tasks[i] = (data, p.seed)
        out = np.full((len(x), len(p.outputs)), np.nan)
        done = 0

        def finish(i: int, summary: dict) -> None:
            nonlocal done
            out[i] = [metric(summary, name) for name in p.outputs]
            done += 1
            if progress is not None:
                progress(done, len(x))

        failed = run_tasks(run_summary, tasks, finish, workers, scheduler)
        if failed:
            i, why = min(failed.items())
            raise RuntimeError(f"{len(failed)} of {len(x)} runs failed; the first, run {i}: {why}")
        return out

    return evaluate


def analyse(
    base: Scenario,
    p: Problem,
    method: str,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> pd.DataFrame:
    if scheduler is None:
        size = base.model_dump(mode="json")
        size["population"]["persons"] = p.persons
        size["run"]["years"] = p.years
        check_workers(from_dict(size), workers)
    names = [par.key for par in p.parameters]
    problem = salib_problem(names, [(par.low, par.high) for par in p.parameters])
    evaluate = scenario_evaluator(base, p, progress, workers, scheduler)
    return indices(problem, evaluate, method, p.samples, p.seed, p.outputs)


def sensitivity(
    scenario: str | Path | Scenario,
    problem: str | Path | dict,
    method: str = "sobol",
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """From Python: the indices table for ``scenario`` (a preset, a TOML path or a
    Scenario) and ``problem`` (a problem file, or the same as a dict)."""
    if method not in METHODS:
        raise ScenarioError("(python)", "method", method, f"allowed: {', '.join(METHODS)}")
    base = resolve(scenario, None, None)
    spec = load_problem(problem, base)
    return analyse(base, spec, method, progress, workers, scheduler)


def write(table: pd.DataFrame, out: str | Path, method: str) -> Path:
    """DIR/sensitivity.csv and one figure: the indices with their intervals, per output."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "sensitivity.csv", table.to_csv(index=False).encode())
    outputs = list(dict.fromkeys(table["output"]))
    fig, axes = plt.subplots(
        1, len(outputs), figsize=(4.2 * len(outputs), 3.2), squeeze=False, layout="constrained"
    )
    for ax, name in zip(axes.flat, outputs):
        part = table[table["output"] == name]
        params = list(dict.fromkeys(part["parameter"]))
        kinds = list(dict.fromkeys(part["index"]))
        width = 0.8 / len(kinds)
        for k, kind in enumerate(kinds):
            rows = part[part["index"] == kind].set_index("parameter").loc[params]
            pos = np.arange(len(params)) + k * width
            conf = np.nan_to_num(rows["conf"].to_numpy())
            ax.barh(pos, rows["value"], height=width, xerr=conf, label=kind)
        ax.set_yticks(np.arange(len(params)) + 0.4 - width / 2)
        ax.set_yticklabels([x.split(".")[-1] for x in params], fontsize=7)
        ax.set_title(name, fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle(f"{method} indices (bars: 95 % intervals)", fontsize=9)
    fig.savefig(out / "sensitivity.png", dpi=120)
    plt.close(fig)
    return out
