"""Fit a preset's free parameters to published figures.

A targets file (TOML) names the preset, the parameters to fit (a dotted key into the resolved
scenario, with bounds) and the targets (a summary metric, its published value, a relative
tolerance and its source). The objective is the sum of squared relative errors of the targets,
averaged over several seeds; it is noisy, so the search uses Optuna's TPE sampler (seeded:
the same file gives the same fit). The search may run on a smaller population
(``search_persons``) — the targets are shares, not counts — and the result is then checked at
the full population over all seeds: that check is the table the command prints.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from .results import NOT_NUMBERS, SUMMARY_KEYS
from .scenario import (
    Scenario,
    ScenarioError,
    Strict,
    _merge,
    from_dict,
    load,
    read_toml,
    to_toml,
    validate_model,
)

DICT_METRICS = ("disparate_impact", "grade_shares", "firm_grade_shares")
SCALAR_METRICS = tuple(k for k in SUMMARY_KEYS if k not in DICT_METRICS + NOT_NUMBERS)


class Parameter(Strict):
    key: str = Field(min_length=1, max_length=200)  # e.g. behaviour.missed_payment
    low: float
    high: float
    log: bool = False


class Target(Strict):
    metric: str = Field(min_length=1, max_length=100)
    value: float
    tolerance: float = Field(0.10, gt=0, le=10)  # relative, or in the metric's units
    absolute: bool = False  # tolerance in the metric's units (e.g. 0.10: 10 points of a share)
    source: str = ""

    @field_validator("metric")
    @classmethod
    def _known(cls, v: str) -> str:
        root, _, sub = v.partition(".")
        if root in SCALAR_METRICS and not sub:
            return v
        if root in DICT_METRICS and sub:
            return v
        allowed = ", ".join(SCALAR_METRICS) + ", " + ", ".join(f"{d}.NAME" for d in DICT_METRICS)
        raise ValueError(f"unknown metric; allowed: {allowed}")


class Targets(Strict):
    preset: str | None = None  # the preset the file is for (the command line may name it)
    description: str = ""
    persons: int = Field(200_000, ge=100, le=10_000_000)
    years: float = Field(5.0, gt=0, le=50)
    seeds: list[int] = [1, 2, 3, 4, 5]
    search_persons: int | None = Field(None, ge=100, le=10_000_000)
    search_seeds: list[int] | None = None
    trials: int = Field(30, ge=1, le=10_000)
    sampler_seed: int = Field(0, ge=0)
    parameters: list[Parameter] = Field(min_length=1, max_length=20)
    targets: list[Target] = Field(min_length=1, max_length=20)
    # scenario keys set over the preset before fitting (e.g. a survey experiment to measure)
    scenario: dict[str, Any] = {}

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if not v or any(s < 0 for s in v):
            raise ValueError("give one or more non-negative seeds")
        return v


_PATH = re.compile(r"([A-Za-z_][A-Za-z0-9_\-]*)(\[(\d+)\])?")


def _steps(key: str) -> list[str | int]:
    out: list[str | int] = []
    for part in key.split("."):
        m = _PATH.fullmatch(part)
        if m is None:
            raise KeyError(part)
        out.append(m.group(1))
        if m.group(3) is not None:
            out.append(int(m.group(3)))
    return out


def set_path(data: dict, key: str, value: float) -> None:
    """Set an existing numeric entry of a nested dict/list by dotted key (``a.b[2].c``)."""
    steps = _steps(key)
    node = data
    for s in steps[:-1]:
        node = node[s]
    last = steps[-1]
    old = node[last]
    if isinstance(old, bool) or not isinstance(old, (int, float)):
        raise TypeError(f"{key} is not a number")
    node[last] = type(old)(round(value)) if isinstance(old, int) else float(value)


def get_path(data: dict, key: str):
    node = data
    for s in _steps(key):
        node = node[s]
    return node


def check_key(
    data: dict, key: str, low: float, high: float, file: str | Path, key_at: str, high_at: str
) -> None:
    """A scenario key to vary must name a number, its range must be a range, and the
    scenario must stay valid at both ends (errors name ``key_at`` and ``high_at``)."""
    try:
        old = get_path(data, key)
    except (KeyError, IndexError, TypeError):
        raise ScenarioError(file, key_at, key, "no such scenario key") from None
    if isinstance(old, bool) or not isinstance(old, int | float):
        raise ScenarioError(file, key_at, key, "must name a number")
    if not low < high:
        raise ScenarioError(file, high_at, high, f"must be above low ({low})")
    for bound in (low, high):
        trial = json.loads(json.dumps(data))
        set_path(trial, key, bound)
        from_dict(trial, file)


def load_targets(path: str | Path, preset: str | None = None) -> tuple[Targets, Scenario]:
    """Read and check a targets file; every parameter must name a number the preset has,
    and the preset must stay valid at both bounds."""
    path = Path(path)
    t = validate_model(Targets, read_toml(path), path)
    if preset is not None:
        if t.preset is not None and t.preset != preset:
            raise ScenarioError(
                path, "preset", t.preset, f"this targets file is for {t.preset!r}, not {preset!r}"
            )
        t.preset = preset
    if t.preset is None:
        raise ScenarioError(path, "preset", None, "name the preset (here or on the command line)")
    try:
        base = load(t.preset)
    except ScenarioError as e:
        raise ScenarioError(path, "preset", t.preset, e.allowed) from None
    if t.scenario:
        merged = _merge(base.model_dump(mode="json"), t.scenario)
        try:
            base = from_dict(merged, f"{path} (scenario)")
        except ScenarioError as e:
            raise ScenarioError(path, f"scenario.{e.key}", e.value, e.allowed) from None
    data = base.model_dump(mode="json")
    for i, p in enumerate(t.parameters):
        at = f"parameters[{i}]"
        if not (math.isfinite(p.low) and math.isfinite(p.high)) or p.low >= p.high:
            raise ScenarioError(
                path, f"{at}.low/high", [p.low, p.high], "bounds must be finite with low < high"
            )
        if p.log and p.low <= 0:
            raise ScenarioError(path, f"{at}.low", p.low, "a log-scaled bound must be > 0")
        try:
            get_path(data, p.key)
            for bound in (p.low, p.high):
                trial = base.model_dump(mode="json")
                set_path(trial, p.key, bound)
                from_dict(trial, f"{path} ({p.key} = {bound})")
        except (KeyError, IndexError, TypeError):
            raise ScenarioError(
                path,
                f"{at}.key",
                p.key,
                f"must name a number in the resolved {t.preset!r} scenario "
                "(see `scoresim run` DIR/scenario.toml), e.g. "
                "behaviour.missed_payment",
            ) from None
        except ScenarioError as e:
            raise ScenarioError(
                path,
                f"{at}",
                f"{p.key} in [{p.low}, {p.high}]",
                f"a bound makes the scenario invalid: {e}",
            ) from None
    for i, tg in enumerate(t.targets):
        if not math.isfinite(tg.value) or (tg.value == 0 and not tg.absolute):
            raise ScenarioError(
                path,
                f"targets[{i}].value",
                tg.value,
                "must be a finite, non-zero number (errors are relative)",
            )
    return t, base


def metric(summary: dict, name: str) -> float:
    root, _, sub = name.partition(".")
    v = summary.get(root)
    if sub:
        v = (v or {}).get(sub)
    return float("nan") if v is None else float(v)


def simulate(
    base: Scenario, t: Targets, values: dict[str, float], persons: int, seeds: list[int]
) -> np.ndarray:
    """[seeds, targets] metric values with the given parameter values."""
    from .sim import Sim

    data = base.model_dump(mode="json")
    for key, v in values.items():
        set_path(data, key, v)
    data["population"]["persons"] = persons
    data["run"]["years"] = t.years
    data["run"]["twin"] = False
    out = np.empty((len(seeds), len(t.targets)))
    for a, seed in enumerate(seeds):
        data["run"]["seed"] = seed
        s = Sim(from_dict(data)).run().summary()
        out[a] = [metric(s, tg.metric) for tg in t.targets]
    return out


def loss(values: np.ndarray, t: Targets) -> float:
    """Sum over targets of the squared error of the mean over seeds, each in units of its own
    tolerance (relative, or in the metric's units for an absolute target): so targets weigh
    by how closely they must be met."""
    target = np.array([tg.value for tg in t.targets])
    tol = np.array([tg.tolerance for tg in t.targets])
    absolute = np.array([tg.absolute for tg in t.targets])
    mean = values.mean(axis=0)
    if not np.all(np.isfinite(mean)):
        return 1e6
    scale = np.where(absolute, 1.0, target)  # relative errors are of the target
    return float((((mean - target) / scale / tol) ** 2).sum())


@dataclass
class Fit:
    targets: Targets
    values: dict[str, float]
    check: np.ndarray  # [seeds, targets] at full size
    trials: list[tuple[dict[str, float], float]] = field(default_factory=list)

    def rows(self) -> list[dict]:
        out = []
        for k, tg in enumerate(self.targets.targets):
            col = self.check[:, k]
            mean = float(col.mean())
            rel = (mean - tg.value) / tg.value
            off = abs(mean - tg.value) if tg.absolute else abs(rel)
            out.append(
                {
                    "metric": tg.metric,
                    "target": tg.value,
                    "simulated": mean,
                    "sd": float(col.std(ddof=1)) if len(col) > 1 else 0.0,
                    "relative_error": rel,
                    "tolerance": tg.tolerance,
                    "absolute": tg.absolute,
                    "within": bool(off <= tg.tolerance),
                    "source": tg.source,
                }
            )
        return out

    @property
    def ok(self) -> bool:
        return all(r["within"] for r in self.rows())


def calibrate(
    t: Targets, base: Scenario, progress: Callable[[str, int, int], None] | None = None
) -> Fit:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    persons = t.search_persons or t.persons
    seeds = t.search_seeds or t.seeds[:2]
    sampler = optuna.samplers.TPESampler(
        seed=t.sampler_seed, n_startup_trials=min(10, t.trials), multivariate=True
    )
    study = optuna.create_study(direction="minimize", sampler=sampler)
    history: list[tuple[dict[str, float], float]] = []

    def objective(trial) -> float:
        values = {p.key: trial.suggest_float(p.key, p.low, p.high, log=p.log) for p in t.parameters}
        value = loss(simulate(base, t, values, persons, seeds), t)
        history.append((values, value))
        if progress is not None:
            progress("search", len(history), t.trials)
        return value

    study.optimize(objective, n_trials=t.trials)
    best = dict(study.best_params)
    if progress is not None:
        progress("check", 0, 1)
    check = simulate(base, t, best, t.persons, t.seeds)
    if progress is not None:
        progress("check", 1, 1)
    return Fit(t, best, check, history)


def write(fit: Fit, base: Scenario, out: str | Path, command: str) -> Path:
    """DIR/fitted.toml (values, command, date, check table), DIR/scenario.toml (the fitted
    scenario), DIR/trials.csv and DIR/check.csv."""
    import pandas as pd
    import tomli_w

    from .atomic import write_atomic as _atomic

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t = fit.targets
    doc = {
        "preset": t.preset,
        "command": command,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "persons": t.persons,
        "years": t.years,
        "seeds": t.seeds,
        "all_within_tolerance": fit.ok,
        "fitted": fit.values,
        "check": fit.rows(),
    }
    _atomic(out / "fitted.toml", tomli_w.dumps(doc).encode())
    data = base.model_dump(mode="json")
    for key, v in fit.values.items():
        set_path(data, key, v)
    _atomic(out / "scenario.toml", to_toml(from_dict(data)).encode())
    trials = pd.DataFrame([{**v, "loss": l} for v, l in fit.trials])
    _atomic(out / "trials.csv", trials.to_csv(index=False).encode())
    _atomic(out / "check.csv", pd.DataFrame(fit.rows()).to_csv(index=False).encode())
    return out
