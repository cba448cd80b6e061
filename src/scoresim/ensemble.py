"""Ensembles: K members of one scenario, each beside its twin, and how sure each number is.

Every number a single run prints is one realisation. An ensemble runs K members whose seeds
derive from one ensemble seed (member j's seed is a pure function of (seed, j)), each a full
run with its twin, and reports for every summary number its mean, standard deviation and a
95 % interval over members (Student's t). For every number the run and its twin both have,
it also reports the run-minus-twin difference with a *paired* interval: run and twin share
their random numbers, so the difference of a member's run and twin varies much less than
either does, and the paired interval is much narrower than the unpaired one (the ratio of
the two widths is given as ``narrowing``).

Members run in-process (``workers=1``) or as Dask tasks: on a LocalCluster sized to the
machine, or on a running cluster given by its scheduler address. The results are gathered
and written in member order, so the outputs are the same bytes whatever ran them.
"""

from __future__ import annotations

import json
import math
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .atomic import write_atomic
from .metrics import DISPARITY_PAIRS, disparate_impact_intervals, four_fifths_verdict
from .results import NOT_NUMBERS
from .rng import Stream, stream_key
from .scenario import Scenario, ScenarioError, from_dict

SEED_BITS = (1 << 62) - 1
# (a pilot's inside/outside split and a schedule's phases are numbers too: kept, by index)
SKIP = {"scenario", "version", "seed", "counts", "twin", *NOT_NUMBERS} - {"pilot", "phases"}
LEVEL = 0.95


def member_seeds(seed: int, members: int) -> list[int]:
    """The members' run seeds: a pure function of (ensemble seed, member index)."""
    return [int(stream_key(seed, Stream.ENSEMBLE, j)) & SEED_BITS for j in range(members)]


def flatten(summary: dict | None, prefix: str = "") -> dict[str, float]:
    """The numeric leaves of a summary as {dotted key: value}; None and lists of anything
    but tables left out."""
    out: dict[str, float] = {}
    for k, v in (summary or {}).items():
        if not prefix and k in SKIP:
            continue
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(flatten(v, key))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for i, x in enumerate(v):  # phases: phases.0.listed_share_end, ...
                out.update(flatten(x, f"{key}.{i}"))
        elif isinstance(v, bool):
            out[key] = float(v)
        elif isinstance(v, int | float) and v is not None and math.isfinite(v):
            out[key] = float(v)
    return out


def _t(n: int, level: float = LEVEL) -> float:
    """Student's t quantile for a two-sided ``level`` interval of a mean of n values."""
    from scipy.stats import t as student

    return float(student.ppf(0.5 + level / 2, n - 1))


def interval(values: np.ndarray, level: float = LEVEL) -> dict:
    """Mean, sd and the t interval of the mean of ``values`` (NaN left out)."""
    x = values[np.isfinite(values)]
    n = len(x)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "low": None, "high": None}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "sd": None, "low": None, "high": None}
    sd = float(x.std(ddof=1))
    half = _t(n, level) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "low": mean - half, "high": mean + half}


def statistics(summaries: list[dict]) -> dict:
    """``summary``: each number over members; ``effects``: run minus twin, paired, with the
    unpaired interval beside it and the ratio of the widths."""
    runs = [flatten(s) for s in summaries]
    twins = [flatten(s.get("twin")) for s in summaries]
    keys = sorted(set().union(*runs)) if runs else []
    summary, effects = {}, {}
    for k in keys:
        r = np.array([x.get(k, np.nan) for x in runs])
        summary[k] = interval(r)
        t = np.array([x.get(k, np.nan) for x in twins])
        both = np.isfinite(r) & np.isfinite(t)
        if both.sum() < 2 or np.all(t[both] == r[both]):
            continue  # the regime changes nothing here (or no twin has it)
        d = interval(r[both] - t[both])
        a, b = interval(r[both]), interval(t[both])
        if d["sd"] is None:
            continue
        n = int(both.sum())
        unpaired = _t(n) * math.sqrt((a["sd"] ** 2 + b["sd"] ** 2) / n)
        d["unpaired_low"] = d["mean"] - unpaired
        d["unpaired_high"] = d["mean"] + unpaired
        d["narrowing"] = (d["high"] - d["low"]) / (2 * unpaired) if unpaired > 0 else None
        effects[k] = d
    return {"summary": summary, "effects": effects, "disparate_impact": four_fifths(summaries)}


def four_fifths(summaries: list[dict]) -> dict[str, dict]:
    """Each group's disparate-impact ratio over members, its t interval and its verdict: the
    group fails the four-fifths rule only when the whole interval lies outside 0.8-1.25, and
    is too small to tell when the interval crosses a line or some member has no ratio. Where
    the members give their counts, the binomial interval of the pooled counts is joined to
    the t interval (the verdict reads the wider span): members that all agree on a ratio of
    0 from a handful of persons do not make a verdict."""
    out: dict[str, dict] = {}
    for g, ref in DISPARITY_PAIRS.items():
        ratios = [(s.get("disparate_impact") or {}).get(g) for s in summaries]
        values = np.array([np.nan if r is None else r for r in ratios], dtype=float)
        entry = interval(values)
        entry["members_without_ratio"] = int(np.isnan(values).sum())
        low, high = entry["low"], entry["high"]
        if entry["members_without_ratio"]:
            low = high = None
        counts = [(s.get("disparate_impact_interval") or {}).get(g) for s in summaries]
        if low is not None and counts and all(c and "reference_persons" in c for c in counts):
            pooled = disparate_impact_intervals(
                {
                    g: (sum(c["sanctioned"] for c in counts), sum(c["persons"] for c in counts)),
                    ref: (
                        sum(c["reference_sanctioned"] for c in counts),
                        sum(c["reference_persons"] for c in counts),
                    ),
                }
            )[g]
            entry["pooled_low"], entry["pooled_high"] = pooled["low"], pooled["high"]
            if pooled["low"] is None:
                low = high = None
            else:
                low, high = min(low, pooled["low"]), max(high, pooled["high"])
        entry["span_low"], entry["span_high"] = low, high  # what the verdict reads
        entry["verdict"] = four_fifths_verdict(low, high)
        out[g] = entry
    return out


def ratio_text(entry: dict | None, ratio: float | None = None) -> str:
    """A disparate-impact entry as "ratio [low, high] verdict" (the span the verdict reads)."""
    ratio = (entry or {}).get("mean", ratio)
    if not entry or ratio is None:
        return "—"
    low = entry.get("span_low", entry.get("low"))
    high = entry.get("span_high", entry.get("high"))
    span = f" [{max(low, 0.0):.2f}, {high:.2f}]" if low is not None else ""
    return f"{ratio:.2f}{span} {entry['verdict']}"


def on_seed(data: dict, seed: int) -> Scenario:
    """A scenario (as a dict, left as it is) on another seed, with its twin."""
    data = json.loads(json.dumps(data))
    data["run"]["seed"] = seed
    data["run"]["twin"] = True
    return from_dict(data)


def run_scenario(data: dict, seed: int):
    """The scenario (as a dict) with its seed, run beside its twin: its Results."""
    from .sim import Sim

    return Sim(on_seed(data, seed)).run()


def run_summary(data: dict, seed: int) -> dict:
    """The scenario (as a dict) with its seed, run beside its twin: its summary."""
    return run_scenario(data, seed).summary()


def run_member(data: dict, seed: int):
    """One member: the summary, the timeseries (Arrow table) and the peak RSS of the process
    that ran it."""
    res = run_scenario(data, seed)
    table = pa.Table.from_pandas(res.timeseries(), preserve_index=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the process's so far
    return res.summary(), table, peak


def _on_worker(fn: Callable, *args):
    """A task on a Dask worker: numba uses the worker's threads."""
    import numba
    from distributed import get_worker

    w = get_worker()
    nthreads = getattr(getattr(w, "state", w), "nthreads", None) or 1
    numba.set_num_threads(max(1, min(nthreads, numba.config.NUMBA_NUM_THREADS)))
    return fn(*args)


def run_tasks(
    fn: Callable,
    tasks: dict[int, tuple],
    finish: Callable[[int, object], None],
    workers: int = 1,
    scheduler: str | None = None,
) -> dict[int, str]:
    """``fn(*tasks[j])`` for every j: in-process in order (``workers`` 1, no scheduler) or
    as Dask tasks. ``finish(j, result)`` is called in this process as each one is done; a
    task that raises is returned in {j: why} and the others go on."""
    failed: dict[int, str] = {}
    if workers < 1:
        raise ScenarioError("(command line)", "--workers", workers, "must be 1 or more")
    if not tasks:
        return failed
    if workers == 1 and scheduler is None:
        for j, args in tasks.items():
            try:
                result = fn(*args)
            except Exception as e:  # noqa: BLE001 - a member's failure is reported, not fatal
                failed[j] = f"{type(e).__name__}: {e}"
                continue
            finish(j, result)
        return failed
    from distributed import as_completed

    client, cluster = _cluster(workers, scheduler)
    try:
        futures = {client.submit(_on_worker, fn, *a, pure=False): j for j, a in tasks.items()}
        for f in as_completed(list(futures)):
            j = futures[f]
            if f.status == "error":
                failed[j] = f"{type(f.exception()).__name__}: {f.exception()}"
                continue
            finish(j, f.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return failed


@dataclass
class EnsembleResults:
    """K members of one scenario: their summaries, time series and statistics."""

    scenario: Scenario
    seed: int
    seeds: list[int]
    summaries: list[dict]
    series: list[pa.Table]
    peaks: list[int]  # peak RSS (bytes) of the process that ran each member, when it ended
    failed: dict[int, str]  # members that failed: why (kept out of the statistics)
    index: list[int]  # the member index of each completed member

    @property
    def stats(self) -> dict:
        return statistics(self.summaries)

    def to_json(self) -> dict:
        return {
            "scenario": self.scenario.name,
            "ensemble_seed": self.seed,
            "members": len(self.seeds),
            "member_index": self.index,
            "seeds": self.seeds,
            "failed": {str(j): why for j, why in sorted(self.failed.items())},
            "level": LEVEL,
            **self.stats,
        }

    def members_frame(self) -> pd.DataFrame:
        """One row per member x summary key: the run's and the twin's value."""
        rows = []
        for j, s, seed in zip(self.index, self.summaries, self.seeds):
            run, twin = flatten(s), flatten(s.get("twin"))
            for k in sorted(run):
                rows.append((j, seed, k, run[k], twin.get(k, np.nan)))
        return pd.DataFrame(rows, columns=["member", "seed", "key", "run", "twin"])

    def summary_table(self) -> pd.DataFrame:
        """One row per summary number: n, mean, sd and the 95 % interval over members."""
        rows = [{"key": k, **v} for k, v in self.stats["summary"].items()]
        return pd.DataFrame(rows, columns=["key", "n", "mean", "sd", "low", "high"])

    def effects_table(self) -> pd.DataFrame:
        """One row per number the regime changes: the paired run-minus-twin difference with
        its interval, the unpaired interval beside it and the narrowing."""
        rows = [{"key": k, **v} for k, v in self.stats["effects"].items()]
        cols = ["key", "n", "mean", "sd", "low", "high", "unpaired_low", "unpaired_high"]
        return pd.DataFrame(rows, columns=[*cols, "narrowing"])

    def timeseries(self) -> pd.DataFrame:
        """Every member's time series in one long table, with a ``member`` column."""
        frames = []
        for j, table in zip(self.index, self.series):
            df = table.to_pandas()
            df.insert(0, "member", j)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)

    def plot(self, metric: str, group: str = "all", ax=None, share: bool = False):
        """``metric`` (of ``group``; ``share``: per person) over time: each member thin, the
        mean over members thick with its 95 % interval shaded, run and twin. Returns the
        matplotlib Axes."""
        return plot_band(self.timeseries(), self.scenario, metric, group, ax, share)

    @classmethod
    def load(cls, folder: str | Path) -> EnsembleResults:
        """A written ensemble again: DIR/ensemble.json, scenario.toml, members/, timeseries/."""
        from .scenario import load as load_scenario

        folder = Path(folder)
        meta = json.loads((folder / "ensemble.json").read_text())
        sc = load_scenario(folder / "scenario.toml")
        index = meta["member_index"]
        summaries = [json.loads((folder / "members" / f"{j}.json").read_text()) for j in index]
        series = [pq.read_table(_series_path(folder, j)) for j in index]
        failed = {int(j): why for j, why in meta["failed"].items()}
        return cls(
            sc,
            meta["ensemble_seed"],
            meta["seeds"],
            summaries,
            series,
            [0] * len(index),
            failed,
            index,
        )

    def write(self, out: str | Path) -> Path:
        """DIR/ensemble.json, DIR/scenario.toml, DIR/summaries.parquet, DIR/members/J.json and
        DIR/timeseries/member=J/part-0.parquet (a Hive-partitioned dataset: DuckDB reads it
        with hive_partitioning)."""
        from .scenario import to_toml

        out = Path(out)
        total = max([*self.index, *self.failed], default=-1) + 1
        Store(out, spec(self.scenario, member_seeds(self.seed, total)))  # what the folder holds
        for j, table, summary in zip(self.index, self.series, self.summaries):
            _series_path(out, j).parent.mkdir(parents=True, exist_ok=True)
            write_atomic(_series_path(out, j), _parquet_bytes(table))
            text = json.dumps(summary, sort_keys=True, allow_nan=False)
            write_atomic(out / "members" / f"{j}.json", text.encode())
        write_atomic(out / "scenario.toml", to_toml(self.scenario).encode())
        frame = pa.Table.from_pandas(self.members_frame(), preserve_index=False)
        write_atomic(out / "summaries.parquet", _parquet_bytes(frame))
        text = json.dumps(self.to_json(), indent=1, sort_keys=True, allow_nan=False)
        write_atomic(out / "ensemble.json", text.encode())
        return out


def _series_path(out: Path, j: int) -> Path:
    return out / "timeseries" / f"member={j}" / "part-0.parquet"


def plot_band(
    frame: pd.DataFrame,
    scenario: Scenario,
    metric: str,
    group: str = "all",
    ax=None,
    share: bool = False,
):
    """A metric over time from a long time-series table (with a ``member`` column where there
    are several members): members thin, their mean thick with its 95 % t interval shaded;
    the run solid, the twin dashed. ``share``: divided by the group's persons."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    rows = frame[(frame["metric"] == metric) & (frame["group"] == group)]
    if rows.empty:
        known = sorted(set(frame["metric"].astype(str)))
        raise ValueError(f"no metric {metric!r} for group {group!r}; metrics: {', '.join(known)}")
    if "member" not in rows:
        rows = rows.assign(member=0)
    years = scenario.step_years
    if share:
        persons = frame[(frame["metric"] == "persons") & (frame["group"] == group)]
        if "member" not in persons:
            persons = persons.assign(member=0)
    for column, style, color in (("run", "-", "#0072B2"), ("twin", "--", "#7f7f7f")):
        wide = rows.pivot(index="step", columns="member", values=column).sort_index()
        if share:
            wide = wide / persons.pivot(index="step", columns="member", values=column)
        if wide.isna().all().all():
            continue
        t = wide.index.to_numpy() * years
        values = wide.to_numpy(float)
        k = values.shape[1]
        if k > 1:
            ax.plot(t, values, color=color, lw=0.4, alpha=0.35, ls=style)
            mean = values.mean(axis=1)
            half = _t(k) * values.std(axis=1, ddof=1) / math.sqrt(k)
            low = np.maximum(mean - half, 0) if share else mean - half  # a share is >= 0
            ax.fill_between(t, low, mean + half, color=color, alpha=0.25, lw=0)
        else:
            mean = values[:, 0]
        label = f"{column} (mean of {k}, 95 % interval)" if k > 1 else column
        ax.plot(t, mean, color=color, lw=1.8, ls=style, label=label)
    what = f"{metric} (share of persons)" if share else metric
    ax.set(title=f"{what}, {group}", xlabel="years", ylabel=what)
    from .report import mark_changes
    from .schedule import phases

    steps = scenario.run.steps
    mark_changes(ax, [ph.step * years for ph in phases(scenario)[1:] if ph.reached(steps)])
    ax.legend(fontsize="small")
    return ax


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _cluster(workers: int, scheduler: str | None):
    """A Dask client: to a running scheduler, or on a LocalCluster of ``workers`` processes."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, ValueError, TypeError) as e:
            raise ScenarioError(
                "(command line)",
                "--scheduler",
                scheduler,
                f"no Dask scheduler answers ({e}); give an address like tcp://host:8786",
            ) from None
    cores = os.cpu_count() or 1
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=max(1, cores // workers),
        processes=True,
        dashboard_address=None,
    )
    return Client(cluster), cluster


def check_workers(scenario: Scenario, workers: int) -> None:
    """Refuse an ensemble whose members running at once would not fit in memory, naming the
    largest worker count that would."""
    from .sim import available_bytes, estimate_bytes

    if not isinstance(workers, int) or workers < 1:
        raise ScenarioError("(command line)", "--workers", workers, "must be 1 or more")
    need, have = estimate_bytes(scenario), available_bytes()
    if need * workers > have:
        fits = int(have // need)
        raise ScenarioError(
            "(command line)",
            "--workers",
            workers,
            f"{workers} members at once need about {need * workers / 1e9:.1f} GB but "
            f"{have / 1e9:.1f} GB is available; at most {max(fits, 0)} fit"
            + ("" if fits >= 1 else " (not even one: lower --n)"),
        )


def spec(scenario: Scenario, seeds: list[int]) -> dict:
    """What an ensemble folder holds: the scenario and the members' seeds."""
    return {"scenario": scenario.model_dump(mode="json"), "seeds": seeds}


class Store:
    """A member's results on disk as soon as it is done, so that the same command run again
    finishes only the missing members: DIR/members/J.json (its summary) and
    DIR/timeseries/member=J/part-0.parquet. DIR/members/spec.json says which ensemble the
    folder holds; another ensemble is refused."""

    def __init__(self, out: Path, holds: dict):
        self.out = out
        self.members = out / "members"
        self.members.mkdir(parents=True, exist_ok=True)
        path = self.members / "spec.json"
        text = json.dumps(holds, sort_keys=True)
        if path.exists() and path.read_text() != text:
            raise ScenarioError(
                "(command line)",
                "--out",
                str(out),
                "holds another ensemble (other scenario, seed or members); give another --out",
            )
        if not path.exists() and any(self.members.glob("*.json")):
            raise ScenarioError(
                "(command line)",
                "--out",
                str(out),
                "holds ensemble members but no members/spec.json to say which ensemble; "
                "give another --out",
            )
        write_atomic(path, text.encode())

    def series_path(self, j: int) -> Path:
        return _series_path(self.out, j)

    def load(self, j: int):
        summary, series = self.members / f"{j}.json", self.series_path(j)
        if not (summary.exists() and series.exists()):
            return None
        return json.loads(summary.read_text()), pq.read_table(series), 0

    def save(self, j: int, result) -> None:
        summary, table, _ = result
        self.series_path(j).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.series_path(j), _parquet_bytes(table))
        text = json.dumps(summary, sort_keys=True, allow_nan=False)
        write_atomic(self.members / f"{j}.json", text.encode())  # last: the member is done


def ensemble(
    scenario: Scenario,
    members: int,
    seed: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    out: str | Path | None = None,
) -> EnsembleResults:
    """Run ``members`` members of ``scenario`` (seeds from ``seed``, by default the
    scenario's) in-process (``workers`` 1) or as Dask tasks. With ``out``, each member is
    stored as it is done, and members already stored there are not run again. A member that
    fails is reported in ``Ensemble.failed`` and kept out of the statistics."""
    if members < 2:
        raise ScenarioError("(command line)", "--seeds", members, "an ensemble needs 2 or more")
    if scheduler is None:
        check_workers(scenario, workers)
    seed = scenario.run.seed if seed is None else seed
    seeds = member_seeds(seed, members)
    data = scenario.model_dump(mode="json")
    store = None
    if out is not None:
        store = Store(Path(out), spec(scenario, seeds))
    results: list = [store.load(j) if store else None for j in range(members)]
    todo = [j for j in range(members) if results[j] is None]
    done = members - len(todo)
    if progress is not None:
        progress(done, members)

    def finish(j: int, result) -> None:
        nonlocal done
        results[j] = result
        if store is not None:
            store.save(j, result)
        done += 1
        if progress is not None:
            progress(done, members)

    tasks = {j: (data, seeds[j]) for j in todo}
    failed = run_tasks(run_member, tasks, finish, workers, scheduler)
    ok = [j for j in range(members) if results[j] is not None]
    return EnsembleResults(
        scenario,
        seed,
        [seeds[j] for j in ok],
        [results[j][0] for j in ok],
        [results[j][1] for j in ok],
        [results[j][2] for j in ok],
        failed,
        ok,
    )


class Ensemble:
    """An ensemble to run from Python: ``Ensemble("article", seeds=8, n=20_000).run()``
    returns the EnsembleResults (tables in memory; ``.write(DIR)`` as the command does).
    ``scenario`` is a preset name, a TOML path or a Scenario; ``n``, ``years`` override it;
    ``seed`` is the ensemble's seed (by default the scenario's)."""

    def __init__(
        self,
        scenario: str | Path | Scenario,
        seeds: int = 8,
        n: int | None = None,
        years: float | None = None,
        seed: int | None = None,
        workers: int = 1,
        scheduler: str | None = None,
    ):
        self.scenario = resolve(scenario, n, years)
        self.members, self.seed = seeds, seed
        self.workers, self.scheduler = workers, scheduler

    def run(
        self, out: str | Path | None = None, progress: Callable[[int, int], None] | None = None
    ) -> EnsembleResults:
        return ensemble(
            self.scenario,
            self.members,
            seed=self.seed,
            workers=self.workers,
            scheduler=self.scheduler,
            progress=progress,
            out=out,
        )


def resolve(scenario: str | Path | Scenario, n: int | None, years: float | None) -> Scenario:
    """A Scenario from a preset name, a TOML path or a Scenario, with persons and years
    overridden where given."""
    from .scenario import load

    over: dict = {}
    if n is not None:
        over["population"] = {"persons": int(n)}
    if years is not None:
        over["run"] = {"years": float(years)}
    if isinstance(scenario, Scenario):
        if not over:
            return scenario
        data = scenario.model_dump(mode="json")
        for part, values in over.items():
            data[part].update(values)
        return from_dict(data)
    return load(scenario, over or None)
