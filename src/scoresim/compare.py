"""Several regimes over one society, against one shared twin.

A fair comparison holds everything but the regime fixed: the same persons, firms, ties, source
coverage, burn-in state and random numbers (common random numbers), and a single twin under
no system. Each regime's world is built, run and summarised in turn, so memory holds the
society, the twin and one regime at a time.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .checkpoint import write_atomic as _atomic
from .results import (
    CAUSE_RULE,
    SUMMARY_KEYS,
    audit_markdown,
    format_compact,
    format_count,
    summarize,
)
from .results import format_value as _fmt
from .results import headline_value as _value
from .scenario import Scenario, ScenarioError, load
from .sim import NONE_REGIME, World, build_society, burn_in, check_memory, total_names

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


@dataclass
class Comparison:
    presets: list[str]
    summaries: dict[str, dict]
    scenario: Scenario  # the shared society's scenario (n, years, seed resolved)

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

        for preset, s in self.summaries.items():
            twin = s.get("twin") or {}
            for key in SUMMARY_KEYS:
                if key != "disparate_impact_flagged":
                    add(preset, key, s[key], twin.get(key))
        df = pd.DataFrame(rows, columns=["preset", "metric", "run", "twin"])
        df["run"] = pd.to_numeric(df["run"], errors="coerce")
        df["twin"] = pd.to_numeric(df["twin"], errors="coerce")
        return df

    def markdown(self, headline: tuple, command: str = "") -> str:
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
            f"{sc.run.seed}: each regime vs the shared twin (under a share of persons: how many)",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        table.add_column("metric", no_wrap=True)
        for head in heads:
            table.add_column(head, justify="right", no_wrap=True)
        twin = self.summaries[self.presets[0]].get("twin") or {}
        for h in headline:
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
        text = self.markdown(headline, command) + self.audit_markdown()
        _atomic(out / "comparison.md", text.encode())
        return out


def compare(
    presets: list[str],
    n: int | None = None,
    years: float | None = None,
    seed: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Comparison:
    """Run each preset (name or TOML path) on one shared society and one shared twin."""
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
    base = scenarios[0]
    for name, sc in zip(presets[1:], scenarios[1:]):
        _same_society(base, sc, name)
        if sc.run.model_dump() != base.run.model_dump():
            raise ScenarioError(
                name, "run", sc.run.model_dump(), f"must equal {base.name!r}'s run settings"
            )
    check_memory(base)
    society = build_society(base)
    start = burn_in(society, base, total_names(base), [])
    steps = base.run.steps
    summaries: dict[str, dict] = {}
    labels = _labels(scenarios)
    twin = None
    for name, sc in zip(["(twin)"] + labels, [base] + scenarios):
        regime = NONE_REGIME if twin is None else sc.regime
        grades = [g.name for g in sorted(regime.scoring.grades, key=lambda g: -g.min)]
        world = World(society, sc, regime, total_names(sc), grades, start)
        for t in range(steps):
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
