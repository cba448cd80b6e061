"""Several regimes over one society, against one shared twin.

A fair comparison holds everything but the regime fixed: the same persons, firms, ties, source
coverage, burn-in state and random numbers (common random numbers), and a single twin under
no system. Each regime's world is built, run and summarised in turn, so memory holds the
society, the twin and one regime at a time.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import write_atomic as _atomic
from .ensemble import (
    check_workers,
    four_fifths,
    interval,
    member_seeds,
    on_seed,
    ratio_text,
    run_tasks,
)
from .metrics import DISPARITY_PAIRS
from .pilot import regions_inside
from .results import (
    CAUSE_RULE,
    HEADLINE,
    NOT_NUMBERS,
    SUMMARY_KEYS,
    audit_markdown,
    format_compact,
    format_count,
    format_interval,
    summarize,
)
from .results import format_value as _fmt
from .results import headline_value as _value
from .scenario import Scenario, ScenarioError, from_dict, load
from .schedule import phases, rebuild
from .sim import (
    NONE_REGIME,
    World,
    build_society,
    burn_in,
    check_memory,
    recorded_names,
    share_ceilings,
)

# what must be equal for two presets to share one society
SHARED = ("population", "network", "behaviour", "approval")
COVERAGE = ("coverage", "online", "vpn_hidden", "foreign_coverage")


def _same_society(base: Scenario, other: Scenario, name: str) -> None:
    for part in SHARED:
        a, b = getattr(base, part).model_dump(), getattr(other, part).model_dump()
        for key in a:
            if a[key] != b[key]:
                raise ScenarioError(
                    name,
                    f"{part}.{key}",
                    b[key],
                    f"must equal {a[key]!r} as in {base.name!r}: "
                    "compared regimes share one society",
                )
    for src, spec in other.sources.items():
        mine = base.sources.get(src)
        for key in COVERAGE:
            if mine is not None and getattr(mine, key) != getattr(spec, key):
                raise ScenarioError(
                    name,
                    f"sources.{src}.{key}",
                    getattr(spec, key),
                    f"must equal {getattr(mine, key)!r} as in {base.name!r}: coverage is part "
                    "of the shared society",
                )
        if mine is None:
            raise ScenarioError(
                name,
                f"sources.{src}",
                src,
                f"not defined in {base.name!r}: compared regimes share the sources' coverage",
            )


TWIN = "twin (no system)"
PAIR_COLUMNS = ["metric", "a", "b", "n", "difference", "low", "high", "p", "p_holm", "differs"]
ALPHA = 0.05


def paired_tests(key: str, values: dict[str, np.ndarray]) -> list[tuple]:
    """Every pair of regimes on one metric, paired by society: the mean difference, its t
    interval, the two-sided paired t test's p (1 where the two never differ, 0 where they
    differ by the same amount in every society), Holm's step-down adjustment over the pairs
    and whether it is below 5 %."""
    from scipy.stats import t as student

    names = list(values)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            both = np.isfinite(values[a]) & np.isfinite(values[b])
            d = values[a][both] - values[b][both]
            st = interval(d)
            if st["n"] < 2:
                p = float("nan")
            elif np.all(d == d[0]):
                p = 1.0 if d[0] == 0 else 0.0
            else:
                tstat = st["mean"] / (st["sd"] / np.sqrt(st["n"]))
                p = float(2 * student.sf(abs(tstat), st["n"] - 1))
            rows.append([key, a, b, st["n"], st["mean"], st["low"], st["high"], p])
    ps = np.array([r[-1] for r in rows], dtype=float)
    for r, adj in zip(rows, holm(ps)):
        r += [adj, bool(adj < ALPHA)]
    return [tuple(r) for r in rows]


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p values (NaN kept; they count as no test)."""
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m, running = len(order), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def letters(means: dict[str, float], differs) -> dict[str, str]:
    """A compact letter display (Piepho's insert-absorb): regimes that share a letter are not
    told apart; letters run from the highest mean down (groups ordered by their members'
    ranks, so the letters are the same whatever order the pairs come in)."""
    names = [n for n in means if np.isfinite(means[n])]
    order = {n: k for k, n in enumerate(means)}
    groups: list[set] = [set(names)] if names else []
    for pair in sorted(differs, key=lambda p: sorted(order[n] for n in p)):
        i, j = sorted(pair, key=order.get)
        if i not in names or j not in names:
            continue
        split = []
        for g in groups:
            split += [g - {i}, g - {j}] if (i in g and j in g) else [g]
        groups = [g for g in split if g and not any(g < h for h in split)]
        groups = [set(g) for g in dict.fromkeys(frozenset(g) for g in groups)]
    rank = {n: k for k, n in enumerate(sorted(names, key=lambda n: -means[n]))}
    groups.sort(key=lambda g: sorted(rank[n] for n in g))
    out = {n: "" for n in means}
    for k, g in enumerate(groups):
        for n in g:
            out[n] += chr(ord("a") + k) if k < 26 else "*"
    return out


@dataclass
class Comparison:
    """The regimes' summaries on one shared society; with several seeds (``members``), on
    one society per seed, each regime's numbers then given as mean and interval over the
    societies and each pair of regimes told apart (or not) by a paired test."""

    presets: list[str]
    summaries: dict[str, dict]  # the first (or only) society's
    scenario: Scenario  # the shared society's scenario (n, years, seed resolved)
    members: list[dict[str, dict]] = field(default_factory=list)  # per seed: preset -> summary
    seeds: list[int] = field(default_factory=list)  # the members' seeds

    def __post_init__(self) -> None:
        if not self.members:
            self.members = [self.summaries]
            self.seeds = [self.scenario.run.seed]

    @property
    def ensemble(self) -> bool:
        return len(self.members) > 1

    def values(self, preset: str | None, key: str) -> np.ndarray:
        """A headline value over the members (NaN where undefined); ``preset`` None: the
        shared twin's."""
        out = []
        for m in self.members:
            s = m[self.presets[0]].get("twin") if preset is None else m[preset]
            v = _value(s or {}, key)
            out.append(np.nan if v is None or isinstance(v, dict | str) else float(v))
        return np.array(out, dtype=float)

    def stats_frame(self, headline: tuple) -> pd.DataFrame:
        """One row per regime (and the twin) x headline metric: n, mean, sd, 95 % interval."""
        rows = []
        for h in headline:
            for p in [None, *self.presets]:
                st = interval(self.values(p, h.key))
                rows.append(
                    (p or TWIN, h.key, st["n"], st["mean"], st["sd"], st["low"], st["high"])
                )
        return pd.DataFrame(rows, columns=["preset", "metric", "n", "mean", "sd", "low", "high"])

    def plot(self, metric: str, ax=None):
        """``metric`` by regime: a bar each, whiskers for the 95 % interval over societies.
        Returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        from .report import PALETTE, _means, _value_bars

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
        kind = next((h.kind for h in HEADLINE if h.key == metric), "num")
        colors = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(self.presets)}
        vals, spans = _means(self, metric)
        _value_bars(ax, self.presets, colors, vals, kind, spans)
        ax.set_xticks(range(len(self.presets)), self.presets, rotation=30, fontsize=7)
        ax.set_title(metric)
        return ax

    def pairs_frame(self, headline: tuple) -> pd.DataFrame:
        """Each headline metric x pair of regimes: the paired difference (a - b) over the
        societies with its 95 % interval, the paired t test's p value, Holm's adjustment over
        the pairs of the metric, and whether the two differ at 5 %."""
        rows = []
        for h in headline:
            rows += paired_tests(h.key, {p: self.values(p, h.key) for p in self.presets})
        return pd.DataFrame(rows, columns=PAIR_COLUMNS)

    def frame(self) -> pd.DataFrame:
        """Long table: preset, metric, run, twin (disparate impact flattened per group)."""
        rows = []

        def add(preset, key, mine, theirs):
            if isinstance(mine, dict) or isinstance(theirs, dict):  # nested: dotted keys
                mine, theirs = mine or {}, theirs or {}
                for sub in dict.fromkeys([*mine, *theirs]):
                    add(preset, f"{key}.{sub}", mine.get(sub), theirs.get(sub))
            elif not isinstance(mine, str) and not isinstance(theirs, str):  # not a unit
                rows.append((preset, key, mine, theirs))

        for j, (seed, member) in enumerate(zip(self.seeds, self.members)):
            start = len(rows)
            for preset, s in member.items():
                twin = s.get("twin") or {}
                for key in SUMMARY_KEYS:
                    if key not in NOT_NUMBERS:
                        add(preset, key, s[key], twin.get(key))
            rows[start:] = [(j, seed, *r) for r in rows[start:]]
        df = pd.DataFrame(rows, columns=["member", "seed", "preset", "metric", "run", "twin"])
        df["run"] = pd.to_numeric(df["run"], errors="coerce")
        df["twin"] = pd.to_numeric(df["twin"], errors="coerce")
        return df

    def markdown(self, headline: tuple, command: str = "") -> str:
        if self.ensemble:
            return self.ensemble_markdown(headline, command)
        sc = self.scenario
        again = f"Regenerate with `{command}`.\n\n" if command else ""
        head = again + (
            f"Regimes compared on one society: {sc.population.persons:,} persons, "
            f"{sc.run.years:g} years ({sc.run.steps} steps of a {sc.run.step}), "
            f"seed {sc.run.seed}; "
            "each value is the regime's, the twin (no system) in its own column.\n\n"
        )
        cols = ["metric", "twin (no system)"] + self.presets
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        first = self.summaries[self.presets[0]].get("twin") or {}
        for h in headline:
            cells = [h.label, _fmt(_value(first, h.key), h.kind)]
            for p in self.presets:
                s = self.summaries[p]
                entry = (s.get("counts") or {}).get(h.key)
                value = _fmt(_value(s, h.key), h.kind)
                if entry and value != "—":
                    rate = entry.get("per_100k_persons")
                    value += f" ({entry['count']:,.0f}" + (
                        f"; {rate:,.0f}/100k)" if rate is not None else ")"
                    )
                cells.append(value)
            lines.append("| " + " | ".join(cells) + " |")
        note = (
            "\nIn brackets: how many — persons, with the rate per 100,000 persons, unless the "
            "metric counts something else (summary.json's `counts` says what).\n\n"
            + CAUSE_RULE
            + "\n"
        )
        return head + "\n".join(lines) + "\n" + note

    def cells(self, h, compact: bool = False) -> tuple[str, list[str]]:
        """A headline row over the members: the twin's cell and each regime's, as mean
        [interval] and the regime's letters (``compact``: mean and ± half-width)."""
        fmt = format_compact if compact else _fmt
        pairs = paired_tests(h.key, {p: self.values(p, h.key) for p in self.presets})
        differs = {frozenset((r[1], r[2])) for r in pairs if r[-1]}
        stats = {p: interval(self.values(p, h.key)) for p in self.presets}
        means = {p: np.nan if st["mean"] is None else st["mean"] for p, st in stats.items()}
        marks = letters(means, differs) if differs else {}  # no pair told apart: no letters

        def cell(st: dict) -> str:
            if not compact or st["low"] is None or not st["sd"]:
                return format_interval(st, h.kind, h.key)
            half = (st["high"] - st["low"]) / 2
            return f"{fmt(st['mean'], h.kind)}\n±{fmt(half, h.kind)}"

        twin = cell(interval(self.values(None, h.key)))
        sep = "\n" if compact else " "
        return twin, [
            cell(stats[p]) + (sep + marks[p] if marks.get(p) else "") for p in self.presets
        ]

    def ensemble_markdown(self, headline: tuple, command: str = "") -> str:
        sc = self.scenario
        k = len(self.members)
        again = f"Regenerate with `{command}`.\n\n" if command else ""
        head = again + (
            f"Regimes compared on {k} synthetic societies of {sc.population.persons:,} persons, "
            f"{sc.run.years:g} years ({sc.run.steps} steps of a {sc.run.step}); the societies' "
            f"seeds derive from the ensemble seed {sc.run.seed}, and within a society every "
            "regime and the twin (no system) share persons, ties and random numbers.\n\n"
            f"Each cell: the mean over the {k} societies [95 % Student-t interval of the mean]. "
            "Letters: within a row, regimes that share a letter are not told apart by a paired "
            "t test over the societies at 5 % (Holm's adjustment over the row's pairs); "
            "regimes with no letter in common differ; a row without letters: no two regimes "
            "told apart. a is the highest mean. Intervals are cut at what the metric can "
            "take (a share at 0 and 100 %, a count at 0); a value without an interval is the "
            "same in every society (or only one society has it). All differences, intervals "
            "and p values: "
            "comparison_pairs.csv.\n\n"
        )
        cols = ["metric", "twin (no system)"] + self.presets
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for h in headline:
            twin, cells = self.cells(h)
            lines.append("| " + " | ".join([h.label, twin, *cells]) + " |")
        return head + "\n".join(lines) + "\n\n" + CAUSE_RULE + "\n"

    def rich_parts(self, headline: tuple, width: int = 100) -> list:
        """The comparison for a terminal of ``width`` columns: a table with metrics as rows,
        regimes as columns (named, or lettered with a legend when the names do not fit),
        short metric labels with a legend, the number of persons under each share of
        persons; then the legends and the rule of the cause classes."""
        from rich import box
        from rich.table import Table
        from rich.text import Text

        sc = self.scenario
        names = ["twin", *self.presets]
        label_w = max(len(h.short) for h in headline)
        fits = label_w + sum(max(len(n), 7) + 2 for n in names) + 2 <= width
        heads = names if fits else ["twin", *(chr(ord("A") + k) for k in range(len(self.presets)))]
        table = Table(
            title=f"{sc.population.persons:,} persons, {sc.run.years:g} years, seed "
            f"{sc.run.seed}: each regime vs the shared twin (under a share of persons: how many)"
            if not self.ensemble
            else f"{len(self.members)} societies of {sc.population.persons:,} persons, "
            f"{sc.run.years:g} years: mean ± half the 95 % interval; regimes sharing a letter "
            "are not told apart (paired t, Holm, 5 %)",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        table.add_column("metric", no_wrap=True)
        for head in heads:
            table.add_column(head, justify="right", no_wrap=True)
        twin = self.summaries[self.presets[0]].get("twin") or {}
        for h in headline:
            if self.ensemble:
                first, cells = self.cells(h, compact=True)
                table.add_row(h.short, first, *cells)
                continue
            cells = []
            for s in (twin, *(self.summaries[p] for p in self.presets)):
                value = format_compact(_value(s, h.key), h.kind)
                entry = (s.get("counts") or {}).get(h.key)
                if entry and entry["unit"] == "persons" and value != "—":
                    value += "\n" + format_count(entry, short=True)
                cells.append(value)
            table.add_row(h.short, *cells)
        parts: list = [table]
        if not fits:
            legend = " · ".join(f"{head} {name}" for head, name in zip(heads[1:], self.presets))
            parts.append(Text("regimes: " + legend))
        parts.append(Text("metrics: " + " · ".join(f"{h.short} = {h.label}" for h in headline)))
        parts.append(Text(CAUSE_RULE, style="dim"))
        return parts

    def disparate_markdown(self) -> str:
        """Each regime's disparate impact by group: the ratio with its 95 % interval and the
        four-fifths verdict (over the societies; for one society, the binomial interval)."""
        lines = [
            "\n## Disparate impact: ever-sanctioned rate of each group vs its reference\n",
            "Each cell: the ratio and its 95 % interval (over several societies: the Student-t "
            "interval of their ratios joined with the binomial interval of their pooled "
            "counts). A group fails the four-fifths rule only when the whole interval lies "
            "outside 0.8–1.25 and passes when it lies inside; an interval that crosses a line "
            "is at the line when it is narrower than the band, and too small to tell when it "
            "is wider (or a society has no ratio).\n",
            "| group | " + " | ".join(self.presets) + " |",
            "|---|" + "---|" * len(self.presets),
        ]
        per = {p: self._four_fifths(p) for p in self.presets}
        for g in DISPARITY_PAIRS:
            cells = []
            for p in self.presets:
                ratio = _value(self.summaries[p], f"disparate_impact.{g}")
                cells.append(ratio_text(per[p].get(g), ratio))
            lines.append(f"| {g} vs {DISPARITY_PAIRS[g]} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def _four_fifths(self, preset: str) -> dict:
        if self.ensemble:
            return four_fifths([m[preset] for m in self.members])
        return self.summaries[preset].get("disparate_impact_interval") or {}

    def audit_markdown(self) -> str:
        """Per regime, its sanction applications by the context of the data that caused
        them (rows) and the context where they bite (columns): the EU AI Act Art. 5(1)(c)(i)
        audit as a matrix."""
        parts = [
            "\n## Audit: sanction applications (person-steps) by the data that caused them "
            "(rows) and where they bite (columns)\n"
        ]
        for p in self.presets:
            s = self.summaries[p]
            parts.append(f"\n### {p}: persons\n\n" + audit_markdown(s.get("audit_matrix")))
            parts.append(f"\n### {p}: firms\n\n" + audit_markdown(s.get("firm_audit_matrix")))
        return "".join(parts)

    def write(self, out: str | Path, headline: tuple, command: str = "") -> Path:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        df = self.frame()
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        _atomic(out / "comparison.parquet", buf.getvalue())
        _atomic(out / "comparison.csv", df.to_csv(index=False).encode())
        whole = {
            "presets": self.presets,
            "seeds": self.seeds,
            "members": self.members,
            "scenario": self.scenario.model_dump(mode="json"),
            "command": command,
        }
        _atomic(out / "comparison.json", json.dumps(whole, allow_nan=False).encode())
        audit = self.disparate_markdown() + ("" if self.ensemble else self.audit_markdown())
        _atomic(out / "comparison.md", (self.markdown(headline, command) + audit).encode())
        if self.ensemble:
            for name, table in (
                ("comparison_stats.csv", self.stats_frame(headline)),
                ("comparison_pairs.csv", self.pairs_frame(headline)),
            ):
                _atomic(out / name, table.to_csv(index=False).encode())
        return out


def load_comparison(folder: str | Path) -> Comparison:
    """A written comparison again, from DIR/comparison.json."""
    data = json.loads((Path(folder) / "comparison.json").read_text())
    sc = from_dict(data["scenario"])
    members = data["members"]
    return Comparison(data["presets"], members[0], sc, members=members, seeds=data["seeds"])


def compare(
    presets: list[str],
    n: int | None = None,
    years: float | None = None,
    seed: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    seeds: int = 1,
    workers: int = 1,
    scheduler: str | None = None,
) -> Comparison:
    """Run each preset (name or TOML path) on one shared society and one shared twin; with
    ``seeds`` K > 1, on K societies whose seeds derive from ``seed`` (in-process, or as Dask
    tasks with ``workers`` > 1 or a ``scheduler``), each regime then given with its interval
    and the pairs of regimes tested on the same societies."""
    scenarios = _scenarios(presets, n, years, seed)
    base = scenarios[0]
    if seeds == 1:
        return _compare_one(scenarios, progress)
    if seeds < 1:
        raise ScenarioError("(command line)", "--seeds", seeds, "must be 1 or more")
    if scheduler is None:
        check_workers(base, workers)
    member = member_seeds(base.run.seed, seeds)
    results: list = [None] * seeds
    done = 0

    def finish(j: int, summaries: dict) -> None:
        nonlocal done
        results[j] = summaries
        done += 1
        if progress is not None:
            progress("societies", done, seeds)

    if progress is not None:
        progress("societies", 0, seeds)
    steps = progress if (workers == 1 and scheduler is None) else None
    datas = [sc.model_dump(mode="json") for sc in scenarios]  # workers need no files
    tasks = {j: (datas, member[j], steps) for j in range(seeds)}
    failed = run_tasks(compare_member, tasks, finish, workers, scheduler)
    if failed:
        why = "; ".join(f"society {j} (seed {member[j]}): {e}" for j, e in sorted(failed.items()))
        raise ComparisonFailed(f"{len(failed)} of {seeds} societies failed: {why}")
    return Comparison(_labels(scenarios), results[0], base, members=results, seeds=member)


class ComparisonFailed(RuntimeError):
    """A society of a compare over several seeds failed (the others are not written)."""


def compare_member(datas: list[dict], seed: int, progress=None) -> dict[str, dict]:
    """One society's comparison (the resolved scenarios as dicts, on ``seed``): each
    regime's summary (a Dask task)."""
    return _compare_one([on_seed(data, seed) for data in datas], progress).summaries


def _scenarios(presets, n, years, seed) -> list[Scenario]:
    """The presets loaded with the shared overrides, checked to share one society."""
    if not presets:
        raise ScenarioError("(command line)", "PRESET", "", "name at least one preset")
    if len(set(presets)) != len(presets):
        raise ScenarioError("(command line)", "PRESET", " ".join(presets), "each preset once")
    over: dict = {}
    if n is not None:
        over["population"] = {"persons": int(n)}
    run = {k: v for k, v in (("years", years), ("seed", seed)) if v is not None}
    run["twin"] = True
    over["run"] = run
    scenarios = [load(p, over) for p in presets]
    for name, sc in zip(presets, scenarios):
        for i, ph in enumerate(phases(sc)[1:]):
            if ph.other_changed:
                raise ScenarioError(
                    name,
                    f"schedule[{i}]",
                    ", ".join(k for k in ph.keys if not k.startswith("regime."))[:200],
                    "compared regimes share one society and one twin: a schedule may change "
                    "only the regime there (regime.* keys, regime_from); run it alone with "
                    "scoresim run",
                )
    base = scenarios[0]
    for name, sc in zip(presets[1:], scenarios[1:]):
        _same_society(base, sc, name)
        if sc.run.model_dump() != base.run.model_dump():
            raise ScenarioError(
                name, "run", sc.run.model_dump(), f"must equal {base.name!r}'s run settings"
            )
    return scenarios


def _compare_one(scenarios: list[Scenario], progress) -> Comparison:
    base = scenarios[0]
    for sc in scenarios:  # the twin and one regime's world at a time, over one society
        check_memory(sc)
    society = build_society(base)
    start = burn_in(society, base, recorded_names([base])[0], [])
    steps = base.run.steps
    summaries: dict[str, dict] = {}
    labels = _labels(scenarios)
    twin = None
    staged = {id(sc): phases(sc) for sc in scenarios}
    regional = any(
        regions_inside(ph.scenario, ph.scenario.regime) is not None
        for stages in staged.values()
        for ph in stages
    )
    for name, sc in zip(["(twin)"] + labels, [base] + scenarios):
        stages = staged[id(base)][:1] if twin is None else staged[id(sc)]
        first = stages[0].scenario
        regime = NONE_REGIME if twin is None else first.regime
        names, grades = recorded_names([ph.scenario for ph in stages])
        if twin is None:
            grades = []
        world = World(society, first, regime, names, grades, start, None, regional)
        if twin is not None:  # one column of tick ceilings for the twin and this world, as
            share_ceilings(twin, world)  # a run has (the twin has stepped: no tick changes)
        changes = {ph.step: ph.scenario for ph in stages[1:]}  # regime changes only here
        for t in range(steps):
            if t in changes:
                world = rebuild(world, changes[t], changes[t].regime, t)
            world.step(t)
            if progress is not None:
                progress(name, t + 1, steps)
        if twin is None:
            twin = world
        else:
            summaries[name] = summarize(world, twin, sc)
    return Comparison(labels, summaries, base)


def _labels(scenarios: list[Scenario]) -> list[str]:
    """Each regime's column label: its scenario's name (not the file it came from), made
    unique with -2, -3 ... where two share a name."""
    out: list[str] = []
    for sc in scenarios:
        label, k = sc.name, 1
        while label in out:
            k += 1
            label = f"{sc.name}-{k}"
        out.append(label)
    return out
