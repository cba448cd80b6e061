"""Figures and a self-contained HTML report of a run (or of a comparison).

The report reads only what a run directory holds (scenario.toml, timeseries.parquet,
summary.json), so ``scoresim report DIR`` works on any finished run. Every figure is drawn
headless with matplotlib in one style — a colour-blind-safe palette (Okabe–Ito), labelled
axes with units, A4-width sizes — saved as PNG and SVG in DIR/figures/, and embedded in
DIR/report.html as data URIs, so the page needs no network and no other file. The page checks
itself when opened: every figure must load, and any script error is recorded in
``#selfcheck`` (what the browser test reads).
"""

from __future__ import annotations

import base64
import html
import io
import json
import textwrap
import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import __version__  # noqa: E402
from .atomic import write_atomic  # noqa: E402
from .ensemble import interval  # noqa: E402
from .metrics import AT_LINE, FAILS, PASSES, TOO_SMALL  # noqa: E402
from .results import (  # noqa: E402
    CAUSE_RULE,
    HEADLINE,
    audit_rows,
    format_compact,
    format_count,
    format_interval,
    format_value,
    headline_value,
)
from .scenario import STEP_YEARS  # noqa: E402

PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
VERDICT_COLORS = {FAILS: PALETTE[1], AT_LINE: "#777777", TOO_SMALL: "#BBBBBB", PASSES: PALETTE[0]}
RUN, TWIN = PALETTE[0], "#7f7f7f"
WIDTH = 7.0  # inches: A4 text width at a readable size

STYLE = {
    "figure.figsize": (WIDTH, 3.2),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "legend.frameon": False,
    "legend.fontsize": 8,
    "svg.hashsalt": "scoresim",  # reproducible SVG ids
}


class RunData:
    """The time series of a run directory, by metric and group."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.summary = json.loads((folder / "summary.json").read_text())
        self.scenario_text = (folder / "scenario.toml").read_text()
        self.scenario = tomllib.loads(self.scenario_text)
        ts = pd.read_parquet(folder / "timeseries.parquet")
        ts["metric"] = ts["metric"].astype(str)
        ts["group"] = ts["group"].astype(str)
        self.ts = ts.set_index(["metric", "group", "step"]).sort_index()
        self.steps = int(ts["step"].max()) + 1
        self.step_years = STEP_YEARS[self.scenario["run"]["step"]]
        self.years = np.arange(self.steps) * self.step_years
        self.has_twin = self.summary.get("twin") is not None
        self.metrics = set(ts["metric"].unique())
        self.metric_order = list(dict.fromkeys(ts["metric"]))  # as the run recorded them

    def get(self, metric: str, group: str = "all", world: str = "run") -> np.ndarray:
        if metric not in self.metrics:
            return np.zeros(self.steps)
        return self.ts.loc[(metric, group), world].to_numpy(dtype=float)

    def share(self, metric: str, group: str = "all", world: str = "run") -> np.ndarray:
        return _ratio(self.get(metric, group, world), self.get("persons", group, world))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den per step, 0 where den is 0."""
    return np.divide(num, den, out=np.zeros(len(den)), where=den > 0)


def _lines(ax, years, series, lw: float, first: int = 0) -> None:
    """One line per (values, label), coloured in palette order from ``first``."""
    for k, (y, label) in enumerate(series):
        ax.plot(years, y, color=PALETTE[first + k], lw=lw, label=label)


def _vs_twin(ax, d: RunData, y_run, y_twin, label: str) -> None:
    ax.plot(d.years, y_run, color=RUN, lw=1.6, label=f"{label}: run")
    if d.has_twin:
        ax.plot(d.years, y_twin, color=TWIN, lw=1.2, ls="--", label=f"{label}: twin (no system)")


def _pct(ax) -> None:
    """Percent ticks with as many decimals as the axis's range needs (no "0.1 %, 0.1 %")."""
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=None))


def fig_lists(d: RunData):
    fig, (a, b) = plt.subplots(1, 2)
    _vs_twin(a, d, d.share("listed"), d.share("listed", world="twin"), "listed")
    a.set(title="Persons on a list", xlabel="years", ylabel="share of persons")
    _pct(a)
    flows = [(d.get("list_inflow"), "inflow"), (d.get("list_outflow"), "outflow")]
    _lines(b, d.years, flows, lw=1.2, first=1)
    b.set(title="Listings and delistings per step", xlabel="years", ylabel="persons per step")
    for ax in (a, b):
        ax.legend()
    return fig


SCORE_GROUPS = ("urban", "rural", "minority", "income_q1", "income_q5", "foreigner")


def fig_scores(d: RunData):
    fig, ax = plt.subplots()
    for k, g in enumerate(SCORE_GROUPS):
        persons = d.get("persons", g)
        if persons.max() == 0:
            continue
        mean = d.get("score_sum", g) / np.maximum(persons, 1)
        sd = np.sqrt(np.maximum(d.get("score_sq_sum", g) / np.maximum(persons, 1) - mean**2, 0))
        ax.plot(d.years, mean, color=PALETTE[k], lw=1.4, label=g)
        ax.fill_between(d.years, mean - sd, mean + sd, color=PALETTE[k], alpha=0.04)
    ax.set(
        title="Score distribution by group (mean ± 1 sd)", xlabel="years", ylabel="score (points)"
    )
    ax.legend(ncol=3)
    return fig


def fig_causes(d: RunData):
    fig, ax = plt.subplots()
    parts = [
        ("sanctioned_own_true", "own true records"),
        ("wrongly_sanctioned", "false records"),
        ("association_sanctioned", "association"),
    ]
    ax.stackplot(
        d.years,
        *[d.share(m) for m, _ in parts],
        labels=[lbl for _, lbl in parts],
        colors=PALETTE[:3],
        alpha=0.85,
    )
    ax.set(title="Who is sanctioned, and why", xlabel="years", ylabel="share of persons")
    _pct(ax)
    ax.legend(loc="upper left")
    return fig


def fig_disparate(d: RunData):
    """Each group's ratio as a dot with its 95 % interval, coloured by its verdict, on a log
    axis (a ratio and its inverse equally far from 1)."""
    fig, ax = plt.subplots()
    ratios = {g: r for g, r in (d.summary.get("disparate_impact") or {}).items() if r is not None}
    tests = d.summary.get("disparate_impact_interval") or {}
    if ratios:
        names = list(ratios)
        for row, g in enumerate(names):
            e = tests.get(g) or {}
            color = VERDICT_COLORS[e.get("verdict", TOO_SMALL)]
            low, high = e.get("low"), e.get("high")
            if low is not None and high is not None:
                ax.plot([max(low, 1e-2), min(high, 1e2)], [row, row], color=color, lw=2.5)
            ax.plot([min(max(ratios[g], 1e-2), 1e2)], [row], "o", color=color, ms=6)
        ax.set_yticks(range(len(names)), names)
        ax.set_xscale("log")
        ax.set_xlim(1e-2 * 0.8, 1e2 * 1.25)
        ax.axvline(1.0, color="black", lw=0.8)
        ax.axvline(0.8, color=PALETTE[1], ls="--", lw=1, label="four-fifths rule (0.8 and 1.25)")
        ax.axvline(1.25, color=PALETTE[1], ls="--", lw=1)
        for v, c in VERDICT_COLORS.items():
            ax.plot([], [], "o", color=c, label=v)  # legend entries only
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=5, fontsize="small")
    else:
        ax.text(0.5, 0.5, "nobody sanctioned: no ratios", ha="center", transform=ax.transAxes)
    ax.set(
        title="Disparate impact: sanction rate vs reference group, with 95 % intervals",
        xlabel="ratio of ever-sanctioned rates (group / reference; log scale, cut at 0.01 and 100)",
    )
    return fig


def _or_nan(x) -> float:
    return float("nan") if x is None else float(x)


def disparate_impact_line(summary: dict) -> str:
    """Which groups fail the four-fifths rule (interval outside the band), which sit at the
    line, and which are too small to tell, with their sizes."""
    tests = summary.get("disparate_impact_interval") or {}

    def named(verdict: str) -> str:
        return ", ".join(
            f"{g} ({e['persons']:,} persons)" for g, e in tests.items() if e["verdict"] == verdict
        )

    fails = [g for g, e in tests.items() if e["verdict"] == FAILS]
    line = (
        "Groups failing the four-fifths rule (95 % interval of the ratio wholly outside "
        f"0.8–1.25): {', '.join(fails) or 'none'}."
    )
    if named(AT_LINE):
        line += f" At the line (a narrow interval that holds 0.8 or 1.25): {named(AT_LINE)}."
    if named(TOO_SMALL):
        why = "no ratio, or an interval wider than the band"
        line += f" Too small to tell ({why}): {named(TOO_SMALL)}."
    return line


def fig_network(d: RunData):
    fig, (a, b) = plt.subplots(1, 2)
    for k, layer in enumerate(("household", "work", "community", "online")):
        cut, act = d.get(f"ties_cut.{layer}"), d.get(f"ties_active.{layer}")
        total = cut + act
        a.plot(
            d.years,
            _ratio(cut, total),
            color=PALETTE[k],
            lw=1.4,
            label=layer,
        )
    a.set(title="Ties cut, by layer", xlabel="years", ylabel="share of the layer's ties")
    _pct(a)
    a.legend()
    _vs_twin(b, d, d.share("isolated"), d.share("isolated", world="twin"), "isolated")
    lcc = d.get("largest_component_share")
    ok = np.isfinite(lcc)
    b.plot(d.years[ok], lcc[ok], color=PALETTE[2], lw=1.4, marker=".", label="largest component")
    b.set(title="Isolation and fragmentation", xlabel="years", ylabel="share of persons")
    _pct(b)
    b.legend()
    return fig


def fig_chilling(d: RunData):
    fig, (a, b) = plt.subplots(1, 2)
    chilled_run = d.get("critical_post") + d.get("disfavoured_purchase")
    chilled_twin = d.get("critical_post", world="twin") + d.get(
        "disfavoured_purchase", world="twin"
    )
    _vs_twin(a, d, chilled_run, chilled_twin, "acts")
    a.set(
        title="Chilling: critical posts, disfavoured buys",
        xlabel="years",
        ylabel="acts per step",
    )
    viol = ("traffic_offence", "late_utility", "littering", "major_offence")
    _vs_twin(
        b, d, sum(d.get(m) for m in viol), sum(d.get(m, world="twin") for m in viol), "violations"
    )
    b.set(title="Deterrence: violations", xlabel="years", ylabel="violations per step")
    for ax in (a, b):
        ax.legend()
        ax.set_ylim(bottom=0)
    return fig


INCOME_GROUPS = (
    "all",
    "urban",
    "rural",
    "minority",
    "majority",
    "foreigner",
    "native",
    "income_q1",
    "income_q3",
    "income_q5",
    "female",
    "male",
)


def fig_income(d: RunData):
    fig, ax = plt.subplots()
    if d.has_twin:
        loss = []
        for g in INCOME_GROUPS:
            twin = d.get("income", g, "twin").sum()
            loss.append(1 - d.get("income", g).sum() / twin if twin > 0 else 0.0)
        ax.bar(INCOME_GROUPS, loss, color=PALETTE[0])
        ax.axhline(0, color="black", lw=0.8)
        _pct(ax)
        ax.tick_params(axis="x", rotation=45)
    else:
        ax.text(
            0.5, 0.5, "no twin: income loss needs the twin", ha="center", transform=ax.transAxes
        )
    ax.set(title="Income lost against the twin, by group", ylabel="share of the twin's income")
    return fig


def fig_firms(d: RunData):
    fig, (ax, b) = plt.subplots(1, 2)
    series = [
        (d.get("firms_listed"), "firms listed"),
        (d.get("foreign_firms_exposed"), "foreign-invested firms exposed"),
        (d.get("ties_cut.business"), "partnerships cut (cumulative)"),
        (d.get("firms_without_representative"), "firms without a representative"),
    ]
    _lines(ax, d.years, series, lw=1.4)
    ax.set(title="Firms listed, exposed and dropped", xlabel="years", ylabel="firms / ties")
    ax.legend()
    loss = d.summary.get("firm_revenue_loss_by_size") or {}
    if d.has_twin and loss:
        names = list(loss)
        b.bar(names, [loss[k] or 0.0 for k in names], color=PALETTE[0])
        b.axhline(0, color="black", lw=0.8)
        _pct(b)
    else:
        b.text(0.5, 0.5, "no twin: revenue loss needs the twin", ha="center",
               transform=b.transAxes)  # fmt: skip
    b.set(title="Firm revenue lost vs twin, by size", ylabel="share of the twin's revenue")
    return fig


def fig_grades(d: RunData):
    """The grade distribution over time (the regime's grades, best on top)."""
    fig, ax = plt.subplots()
    grades = [m[len("grade.") :] for m in d.metric_order if m.startswith("grade.")]
    if grades:
        ax.stackplot(
            d.years,
            *[d.share(f"grade.{g}") for g in grades],
            labels=grades,
            colors=[PALETTE[k % len(PALETTE)] for k in range(len(grades))],
            alpha=0.85,
        )
        ax.set_ylim(0, 1)
        _pct(ax)
        ax.legend(loc="lower left", ncol=min(6, len(grades)))
        # the rare grades, too small to see in the stack, as a count in the legend's title
        rare = [f"{g}: {int(d.get(f'grade.{g}').max()):,} at most" for g in grades[-2:]]
        ax.set_title("Grades over time (share of persons) · " + ", ".join(rare))
    else:
        ax.text(0.5, 0.5, "this regime has no grades", ha="center", transform=ax.transAxes)
        ax.set_title("Grades over time")
    ax.set(xlabel="years", ylabel="share of persons")
    return fig


APPROVAL_GROUPS = ("urban", "rural", "income_q1", "income_q5", "age_18_29", "age_60_plus")


def fig_approval(d: RunData):
    """Approval of the system among the aware, run against twin, and by group."""
    fig, (a, b) = plt.subplots(1, 2)
    _vs_twin(
        a,
        d,
        _ratio(d.get("approving_aware"), d.get("aware")),
        _ratio(d.get("approving_aware", world="twin"), d.get("aware", world="twin")),
        "approve (aware)",
    )
    a.plot(d.years, d.share("aware"), color=PALETTE[2], lw=1.2, label="aware of the system")
    a.set(title="Approval among the aware", xlabel="years", ylabel="share", ylim=(0, 1.02))
    _pct(a)
    a.legend(loc="lower left")
    for k, g in enumerate(APPROVAL_GROUPS):
        b.plot(d.years, _ratio(d.get("approving", g), d.get("persons", g)), color=PALETTE[k],
               lw=1.2, label=g)  # fmt: skip
    b.set(title="Would approve, by group", xlabel="years", ylim=(0, 1.02))
    _pct(b)
    b.legend(ncol=2, loc="lower left")
    return fig


def fig_travel(d: RunData):
    fig, ax = plt.subplots()
    series = [
        (np.cumsum(d.get("flight_blocked")), "flight purchases refused"),
        (np.cumsum(d.get("rail_blocked")), "high-speed-rail purchases refused"),
    ]
    _lines(ax, d.years, series, lw=1.6)
    ax.set(title="Blocked travel purchases (cumulative)", xlabel="years", ylabel="purchases")
    ax.legend()
    return fig


def fig_audit(d: RunData):
    fig, (ax, m) = plt.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    apps, sanctioned = d.get("sanction_applications"), d.get("sanctioned")
    series = [
        (
            _ratio(d.get("unrelated_applications"), apps),
            "in a context unrelated to the data — Art. 5(1)(c)(i)",
        ),
        (
            _ratio(d.get("disproportionate"), sanctioned),
            "disproportionate to the behaviour — Art. 5(1)(c)(ii)",
        ),
    ]
    _lines(ax, d.years, series, lw=1.6)
    ax.set(
        title="EU AI Act audit of sanctions",
        xlabel="years",
        ylabel="share of sanctions",
        ylim=(0, 1.05),
    )
    _pct(ax)
    ax.legend(loc="lower right", fontsize=6.5)
    rows, cols, values = audit_rows(d.summary.get("audit_matrix"))
    if rows:
        v = np.array(values, dtype=float)
        m.imshow(v / v.sum(), cmap="Blues", aspect="auto")
        m.set_xticks(range(len(cols)), cols, rotation=40, ha="right")
        m.set_yticks(range(len(rows)), rows)
        for (r, c), x in np.ndenumerate(v):
            m.text(c, r, f"{x / v.sum():.0%}", ha="center", va="center", fontsize=7)
        m.grid(False)
        m.set(title="Data context → sanction context", xlabel="where the sanction bites")
    else:
        m.axis("off")
        m.text(0.5, 0.5, "no sanction applied", ha="center", transform=m.transAxes)
    return fig


FIGURES = (
    ("lists", fig_lists, "List stock, inflow and outflow"),
    ("scores", fig_scores, "Score distribution over time by group"),
    ("causes", fig_causes, "Sanctions by cause: own true records, false records, association"),
    ("disparate_impact", fig_disparate, "Disparate impact with the four-fifths lines"),
    ("network", fig_network, "Ties cut per layer, isolated persons, largest component"),
    (
        "chilling_deterrence",
        fig_chilling,
        "Chilling effect and deterrence against the twin. "
        "Chilling starts as soon as people know they are watched — before anyone is listed — "
        "and grows as contacts are listed and sanctioned",
    ),
    ("income", fig_income, "Income lost by group"),
    ("grades", fig_grades, "Grade distribution over time"),
    ("approval", fig_approval, "Approval of the system, run against twin and by group"),
    ("firms", fig_firms, "Firms listed, exposed, without a representative; revenue lost by size"),
    ("travel", fig_travel, "Blocked flight and rail purchases"),
    (
        "audit",
        fig_audit,
        "EU AI Act Art. 5(1)(c) audit: shares over time, and sanction "
        "applications by data context and sanction context",
    ),
)


def mark_changes(ax, years: list[float], label: bool = True) -> None:
    """A dotted vertical line at each scheduled change (on axes over years); ``label``: named
    once in the legend drawn after."""
    for k, x in enumerate(years):
        name = "scheduled change" if label and k == 0 else None
        ax.axvline(x, color="#444444", ls=":", lw=1.0, label=name)


def _changed_at(summary: dict, step_years: float) -> list[float]:
    """When each change that the run reached took effect: its step, in years."""
    return [c["step"] * step_years for c in summary.get("changes") or [] if c["reached"]]


def _mark_figure(fig, years: list[float]) -> None:
    """Change points on every panel drawn over time (the page names the dotted lines)."""
    for ax in fig.axes:
        if ax.get_xlabel() == "years":
            mark_changes(ax, years, label=False)


def _changes_html(summary: dict) -> str:
    """The run's scheduled changes as a table (none: nothing)."""
    changes = summary.get("changes") or []
    if not changes:
        return ""
    rows = "".join(
        f"<tr><td class=num>{c['at_years']:g}</td><td class=num>{c['step']}</td>"
        f"<td>{html.escape(c['regime'])}</td><td>{html.escape(c['note'])}</td>"
        f"<td>{html.escape(', '.join(c['keys'][:8]) + (' …' if len(c['keys']) > 8 else ''))}"
        f"</td><td>{'' if c['reached'] else 'after the run ends'}</td></tr>"
        for c in changes
    )
    phase_rows = "".join(
        f"<tr><td>{html.escape(p['regime'])}</td><td class=num>{p['from_years']:.2f}–"
        f"{p['to_years']:.2f}</td>"
        + "".join(
            f"<td class=num>{format_value(p.get(k), 'pct')}</td>"
            for k in (
                "sanctioned_share_mean",
                "listed_share_end",
                "ties_cut_share_end",
                "chilling_effect",
                "approving_share_end",
                "twin_approving_share_end",
            )
        )
        + "</tr>"
        for p in summary.get("phases") or []
    )
    return (
        "<h2>Scheduled changes</h2><p>The scenario changed during the run (dotted lines in the "
        "figures). What people and firms had lived carried over each change; the twin changed "
        "with it except for the regime.</p><table><thead><tr><th>at (years)</th><th>step</th>"
        "<th>regime from then</th><th>note</th><th>keys changed</th><th></th></tr></thead>"
        f"<tbody>{rows}</tbody></table><p>Each phase on its own (a summary over the whole run "
        "mixes them):</p><table id=phases><thead><tr><th>regime</th><th>years</th>"
        "<th>sanctioned (mean)</th><th>listed (at its end)</th><th>ties cut (at its end, vs "
        "twin)</th><th>chilling (vs twin)</th><th>approving (at its end)</th><th>approving, "
        f"twin</th></tr></thead><tbody>{phase_rows}</tbody></table>"
    )


PILOT_ROWS = (
    ("sanctioned_share_mean", "sanctioned (mean of person-steps)"),
    ("listed_share_end", "listed (at the end)"),
    ("ties_cut_share_end", "ties cut (at the end, vs twin)"),
    ("chilling_effect", "chilling (vs twin)"),
    ("income_loss_share", "income lost (vs twin)"),
    ("approving_share_end", "approving (at the end)"),
    ("twin_approving_share_end", "approving, twin (at the end)"),
)


def pilot_headers(split: dict) -> list[str]:
    """Inside and outside, each with its share of the run's person-steps (a pilot that widens
    moves persons from outside to inside) and its persons at the end."""
    total = sum(split[w]["person_steps"] for w in split) or 1.0
    return [
        f"{w} ({100 * split[w]['person_steps'] / total:.0f} % of person-steps; "
        f"{split[w]['persons_end']:,.0f} persons at the end)"
        for w in split
    ]


def _pilot_html(summary: dict) -> str:
    """Inside and outside a pilot's regions (none: nothing)."""
    split = summary.get("pilot")
    if not split:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td class=num>{format_value(split[w].get(k), 'pct')}</td>" for w in split)
        + "</tr>"
        for k, label in PILOT_ROWS
    )
    head = "".join(f"<th>{html.escape(label)}</th>" for label in pilot_headers(split))
    return (
        "<h2>Inside and outside the pilot</h2><p>A region counts as inside from the step the "
        "regime reaches it. Nobody outside is observed, scored, listed or sanctioned: what "
        "differs from the twin there came across a tie from inside (spill-over). Per region: "
        "groups <code>region.&lt;name&gt;</code> in timeseries.parquet.</p>"
        f"<table id=pilot><thead><tr><th></th>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _lending_html(summary: dict) -> str:
    """The credit market by group, run and twin (none: nothing)."""
    if not summary.get("lending"):
        return ""
    from .results import lending_cells

    heads, cells = lending_cells(summary)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td class=num>{v}</td>" for v in values)
        + "</tr>"
        for label, values in cells
    )
    return (
        "<h2>Credit market</h2><p>Persons apply for loans, the regime's lender decides from "
        "each group's scores, and loans are repaid with the probability at the applicant's "
        "score (docs/model.md §7.12). Per step and group: lending.parquet.</p>"
        f"<table id=lending><thead><tr><th></th>{head}</tr></thead><tbody>{rows}</tbody>"
        "</table>"
    )


def _save(fig, folder: Path, name: str) -> str:
    """PNG and SVG into folder; returns the PNG as a data URI."""
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    svg = io.BytesIO()
    fig.savefig(svg, format="svg", metadata={"Date": None})
    plt.close(fig)
    write_atomic(folder / f"{name}.png", png.getvalue())
    write_atomic(folder / f"{name}.svg", svg.getvalue())
    return "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()


PAGE_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;
margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.9rem}
td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd}
td.num{text-align:right;font-variant-numeric:tabular-nums} figure{margin:1.2rem 0}
figure img{max-width:100%;height:auto} figcaption{font-size:.85rem;color:#555}
pre{background:#f6f6f6;padding:.8rem;overflow:auto;font-size:.8rem} .muted{color:#666}
"""

SELFCHECK_JS = """
<script>
(function(){
  var errors=[];
  window.addEventListener('error',function(e){errors.push(String(e.message||e));});
  window.addEventListener('load',function(){
    var imgs=document.querySelectorAll('img.figure'), ok=0, bad=[];
    imgs.forEach(function(i){ if(i.complete&&i.naturalWidth>0){ok++;} else {bad.push(i.alt);} });
    var out=document.getElementById('selfcheck');
    out.setAttribute('data-figures', String(imgs.length));
    out.setAttribute('data-loaded', String(ok));
    out.setAttribute('data-broken', bad.join('|'));
    out.setAttribute('data-errors', errors.join('|'));
    out.textContent='figures '+ok+'/'+imgs.length+
      (errors.length?', script errors '+errors.length:'');
  });
})();
</script>
"""


def _headline_rows(summary: dict) -> str:
    twin = summary.get("twin") or {}
    counts = summary.get("counts") or {}
    rows = []
    for h in HEADLINE:
        v, t = headline_value(summary, h.key), headline_value(twin, h.key)
        rows.append(
            f'<tr data-key="{h.key}" data-value="{html.escape(json.dumps(v))}">'
            f"<td>{html.escape(h.label)}</td><td class=num>{format_value(v, h.kind)}</td>"
            f"<td class=num>{html.escape(format_count(counts.get(h.key)))}</td>"
            f"<td class=num>{format_value(t, h.kind)}</td></tr>"
        )
    return (
        "<table><thead><tr><th>metric</th><th>run</th><th>how many (run)</th>"
        "<th>twin (no system)</th></tr></thead><tbody>"
        + "".join(rows)
        + f"</tbody></table><p class=muted>{html.escape(CAUSE_RULE)}</p>"
    )


def false_records_line(kinds: dict | None) -> str:
    """One sentence: which kinds of false record the run has, and how large."""
    if not kinds:  # no source used, or none used that makes any
        return "False records: none (no source used makes any)."
    parts = []
    if "misattributed" in kinds:
        parts.append(f"misattributed ({100 * kinds['misattributed']:.2g} % of a source's records)")
    if "invented_per_year" in kinds:
        parts.append(
            f"invented where no act happened ({kinds['invented_per_year']:.3g} per covered "
            "person-year and source)"
        )
    if "kept_share" in kinds:
        parts.append(
            f"kept after they should have gone ({100 * kinds['kept_share']:.3g} % of "
            f"delistings delayed {kinds['kept_days']:g} days)"
        )
    return "False records in this run: " + ("; ".join(parts) or "none") + "."


def _audit_html(summary: dict, key: str = "audit_matrix") -> str:
    """An audit matrix of a summary as an HTML table (empty rows and columns left out)."""
    rows, cols, values = audit_rows(summary.get(key))
    if not rows:
        kind = "firm" if key.startswith("firm") else "person"
        return f"<p class=muted>no sanction applied to a {kind}</p>"
    who = "firms (firm-steps)" if key.startswith("firm") else "persons (person-steps)"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in [f"{who}: data → sanction", *cols])
    body = "".join(
        f"<tr><td>{html.escape(r)}</td>"
        + "".join(f"<td class=num>{v:,}</td>" for v in vals)
        + "</tr>"
        for r, vals in zip(rows, values)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(folder: str | Path) -> Path:
    """DIR/report.html and DIR/figures/*.png|svg for a finished run directory."""
    folder = Path(folder)
    d = RunData(folder)
    figs = folder / "figures"
    figs.mkdir(exist_ok=True)
    sc, s = d.scenario, d.summary
    blocks = []
    with plt.rc_context(STYLE):
        for name, draw, caption in FIGURES:
            fig = draw(d)
            _mark_figure(fig, _changed_at(s, d.step_years))
            uri = _save(fig, figs, name)
            blocks.append(
                f'<figure id="fig-{name}"><img class="figure" alt="{html.escape(caption)}" '
                f'src="{uri}" width="1050"><figcaption>{html.escape(caption)} · '
                f'<a href="figures/{name}.svg">SVG</a> · <a href="figures/{name}.png">PNG'
                f"</a></figcaption></figure>"
            )
    persons = sc["population"]["persons"]
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>scoresim report: {html.escape(sc["name"])}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{PAGE_CSS}</style>
{SELFCHECK_JS}</head><body>
<h1>{html.escape(sc["name"])}: what the regime does</h1>
<p class=muted>{html.escape(sc.get("description", ""))}</p>
<p>{persons:,} synthetic persons and {s["companies"]:,} firms, {s["steps"]} steps
({sc["run"]["years"]:g} years), seed {sc["run"]["seed"]}; every number is compared with a
<b>twin</b>: the same society and random numbers with no system. scoresim {__version__}.
The society is synthetic: no real person's data went in or comes out.</p>
{_lending_html(s)}
<h2>Headline</h2>{_headline_rows(s)}
{_changes_html(s)}
{_pilot_html(s)}
<p id="false-records">{html.escape(false_records_line(s.get("false_record_kinds")))}</p>
<p id="disparate">{html.escape(disparate_impact_line(s))}</p>
<h2>Audit: the data behind each sanction, and where it bites</h2>
<p>Sanction applications (person-steps) by the context of the data that caused them (rows)
and the context the sanction acts in (columns): persons, then firms (firm-steps).</p>
{_audit_html(s)}{_audit_html(s, "firm_audit_matrix")}
<h2>Figures</h2>{"".join(blocks)}
<h2>Reproduce</h2>
<p>Run <code>scoresim run scenario.toml</code> with the resolved scenario below (it is also
saved as <code>scenario.toml</code> in this folder); the same scenario and seed give the
same numbers.</p>
<details><summary>scenario.toml</summary><pre>{html.escape(d.scenario_text)}</pre></details>
<p id="selfcheck" class=muted></p>
</body></html>
"""
    write_atomic(folder / "report.html", page.encode())
    return folder / "report.html"


def _value_bars(ax, presets, colors, vals, kind: str, spans=None) -> None:
    """One bar per regime on the panel's own scale, each labelled with its value ("—" where a
    regime has none); ``spans``: each regime's (low, high) interval, drawn as an error bar."""
    heights = [0.0 if v is None else v for v in vals]
    bars = ax.bar(range(len(presets)), heights, color=[colors[p] for p in presets])
    labels = [format_compact(v, kind) for v in vals]
    ax.set_xticks([])
    tops = list(heights)
    if spans is not None:
        for x, (h, (lo, hi)) in enumerate(zip(heights, spans)):
            if lo is not None and hi is not None:
                ax.errorbar(x, h, yerr=[[h - lo], [hi - h]], color="black", capsize=2, lw=0.8)
                tops[x] = max(h, hi)
    ax.bar_label(bars, labels=labels, fontsize=5.5, padding=1, rotation=90)
    if not any(h for h in tops):
        ax.set_ylim(0, 1)
        ax.set_yticks([])  # nothing to scale: every regime at zero (or none)
        return
    heights = tops
    top = max([h for h in heights if h > 0], default=0.0)
    low = min(0.0, min(heights)) * 1.3
    ax.set_ylim(low, top * 1.45 if top > 0 else -low * 0.2)  # room for the labels


def _means(comparison, key: str) -> tuple[list, list | None]:
    """Each regime's value of ``key``: its one value, or over several societies its mean and
    95 % interval."""
    if not comparison.ensemble:
        return [headline_value(comparison.summaries[p], key) for p in comparison.presets], None
    stats = [interval(comparison.values(p, key)) for p in comparison.presets]
    return [st["mean"] for st in stats], [(st["low"], st["high"]) for st in stats]


def write_comparison_report(folder: str | Path, comparison, headline=HEADLINE) -> Path:
    """DIR/report.html for a comparison: one small bar chart per headline metric, one colour
    per regime, shared axes where the unit is shared."""
    folder = Path(folder)
    figs = folder / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    presets = comparison.presets
    colors = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(presets)}
    pct = [(h.key, h.label) for h in headline if h.kind == "pct"]
    other = [(h.key, h.label, h.kind) for h in headline if h.kind != "pct"]
    with plt.rc_context(STYLE):
        cols = 3
        rows = -(-len(pct) // cols)
        handles = [matplotlib.patches.Patch(color=colors[p], label=p) for p in presets]
        fig, axes = plt.subplots(
            rows, cols, figsize=(WIDTH, 1.9 * rows + 0.6), squeeze=False, layout="constrained"
        )
        for ax, (key, label) in zip(axes.flat, pct):  # each panel its own scale, values shown
            vals, spans = _means(comparison, key)
            _value_bars(ax, presets, colors, vals, "pct", spans)
            ax.set_title(textwrap.fill(label, 34), fontsize=7.5, fontweight="normal")
            _pct(ax)
        for ax in list(axes.flat)[len(pct) :]:
            ax.axis("off")
        fig.legend(handles=handles, loc="outside upper center", ncol=min(len(presets), 4))
        uri_a = _save(fig, figs, "compare_shares")
        cols = min(4, len(other))
        rows = -(-len(other) // cols)
        fig, axes = plt.subplots(
            rows, cols, figsize=(WIDTH, 2.1 * rows + 0.6), squeeze=False, layout="constrained"
        )
        for ax, (key, label, kind) in zip(axes.flat, other):
            vals, spans = _means(comparison, key)
            _value_bars(ax, presets, colors, vals, kind, spans)
            ax.set_title(textwrap.fill(label, 26), fontsize=7, fontweight="normal")
            ax.set_xticks([])
        for ax in list(axes.flat)[len(other) :]:
            ax.axis("off")
        fig.legend(handles=handles, loc="outside upper center", ncol=min(len(presets), 4))
        uri_b = _save(fig, figs, "compare_counts")
    sc = comparison.scenario
    table = comparison.markdown(headline)
    rows = [line for line in table.splitlines() if line.startswith("|")]
    head = [c.strip() for c in rows[0].strip("|").split("|")]
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{'' if i == 0 else ' class=num'}>{html.escape(c.strip())}</td>"
            for i, c in enumerate(r.strip("|").split("|"))
        )
        + "</tr>"
        for r in rows[2:]
    )
    names = ", ".join(html.escape(p) for p in presets)
    k = len(comparison.members)
    if comparison.ensemble:
        intro = (
            f"{names} on {k} synthetic societies of {sc.population.persons:,} persons, "
            f"{sc.run.years:g} years (ensemble seed {sc.run.seed}), each regime against the "
            f"same twin with no system in each society. Bars: the mean over the {k} "
            "societies; whiskers: its 95 % interval. scoresim " + __version__ + "."
        )
        note = (
            "Each cell: mean [95 % interval]. Regimes that share a letter in a row are not "
            "told apart by a paired t test over the societies at 5 % (Holm); a marks the "
            "highest mean. comparison_pairs.csv has every difference and p value."
        )
        audit_which = " Shown for the first society (seed " + str(comparison.seeds[0]) + ")."
    else:
        intro = (
            f"{names} on one synthetic society of {sc.population.persons:,} persons, "
            f"{sc.run.years:g} years, seed {sc.run.seed}, each against the same twin with no "
            f"system. scoresim {__version__}."
        )
        note = (
            "In brackets: how many (persons, unless the metric counts something else; the "
            "summaries' <code>counts</code> say what, with persons per 100,000)."
        )
        audit_which = ""
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>scoresim comparison</title><style>{PAGE_CSS}</style>{SELFCHECK_JS}</head><body>
<h1>Regimes side by side</h1>
<p>{intro}</p>
<h2>Shares</h2><figure><img class="figure" alt="headline shares by regime" src="{uri_a}"
width="1050"><figcaption>Headline shares, one colour per regime, shared axes ·
<a href="figures/compare_shares.svg">SVG</a></figcaption></figure>
<h2>Counts</h2><figure><img class="figure" alt="counts by regime" src="{uri_b}" width="1050">
<figcaption>Counts and rates: blocked and substituted purchases, payments, VPN, policing,
partners, records ·
<a href="figures/compare_counts.svg">SVG</a></figcaption></figure>
<h2>Table</h2><table><thead><tr>{"".join(f"<th>{html.escape(h)}</th>" for h in head)}</tr>
</thead><tbody>{body}</tbody></table>
<p class=muted>{note} {html.escape(CAUSE_RULE)}</p>
<h2>Audit: the data behind each sanction, and where it bites</h2>
<p>Sanction applications (person-steps) by the context of the data that caused them (rows)
and the context the sanction acts in (columns); EU AI Act Art. 5(1)(c)(i) asks whether the
two are related.{audit_which}</p>
{
        "".join(
            f"<h3>{html.escape(p)}</h3>"
            + _audit_html(comparison.summaries[p])
            + _audit_html(comparison.summaries[p], "firm_audit_matrix")
            for p in presets
        )
    }
<p id="selfcheck" class=muted></p></body></html>
"""
    write_atomic(folder / "report.html", page.encode())
    return folder / "report.html"


# what an ensemble's report draws over time: (metric, per person?, title)
ENSEMBLE_BANDS = (
    ("listed", True, "listed (share of persons)"),
    ("sanctioned", True, "sanctioned (share of persons)"),
    ("isolated", True, "isolated (share of persons)"),
    ("active_ties", False, "active ties"),
    ("critical_post", False, "critical posts per step"),
    ("income", False, "income per step"),
)


def write_ensemble_report(folder: str | Path, ens) -> Path:
    """DIR/report.html for an ensemble: the headline numbers with their intervals, the
    paired run-minus-twin differences, disparate impact with verdicts, and bands across
    members over time."""
    from .ensemble import plot_band, ratio_text

    folder = Path(folder)
    figs = folder / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    stats = ens.stats
    ts = ens.timeseries()
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, 3, figsize=(WIDTH, 5.6), layout="constrained")
        for ax, (metric, share, title) in zip(axes.flat, ENSEMBLE_BANDS):
            plot_band(ts, ens.scenario, metric, "all", ax, share)
            ax.set_title(title, fontsize=8, fontweight="normal")
            ax.set_ylabel("")
            ax.get_legend().remove()
            if share:
                _pct(ax)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncol=2)
        uri = _save(fig, figs, "ensemble_bands")
    rows = []
    for h in HEADLINE:
        s, e = stats["summary"].get(h.key), stats["effects"].get(h.key)
        twin = interval_of_twin(ens.summaries, h.key)
        rows.append(
            f'<tr data-key="{h.key}"><td>{html.escape(h.label)}</td>'
            f"<td class=num>{format_interval(s, h.kind, h.key)}</td>"
            f"<td class=num>{format_interval(twin, h.kind, h.key)}</td>"
            f"<td class=num>{format_interval(e, h.kind)}</td></tr>"
        )
    di = []
    for g, v in stats["disparate_impact"].items():
        cell, verdict = ratio_text(v).removesuffix(" " + v["verdict"]), v["verdict"]
        di.append(
            f'<tr data-group="{g}" data-verdict="{verdict}"><td>{g}</td>'
            f"<td class=num>{cell}</td><td>{html.escape(verdict)}</td></tr>"
        )
    sc, k = ens.scenario, len(ens.summaries)
    failed = (
        f"<p><b>{len(ens.failed)} members failed</b> and are left out: "
        + html.escape("; ".join(f"{j}: {why}" for j, why in sorted(ens.failed.items())))
        + "</p>"
        if ens.failed
        else ""
    )
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>scoresim ensemble: {html.escape(sc.name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{PAGE_CSS}</style>
{SELFCHECK_JS}</head><body>
<h1>{html.escape(sc.name)}: {k} members, how sure each number is</h1>
<p>{k} synthetic societies of {sc.population.persons:,} persons, {sc.run.years:g} years,
their seeds derived from the ensemble seed {ens.seed}; each member is run beside its twin
(the same society and random numbers with no system). Every number: the mean over the
members [95 % Student-t interval of the mean], the interval cut at what the metric can
take. scoresim {__version__}. The societies are synthetic: no real person's data went in or
comes out.</p>{failed}
<h2>Headline</h2>
<table><thead><tr><th>metric</th><th>run</th><th>twin (no system)</th>
<th>run − twin, paired</th></tr></thead><tbody>{"".join(rows)}</tbody></table>
<p class=muted>Run and twin share their random numbers, so the paired difference varies
far less than either; ensemble.json gives the unpaired interval beside it.
{html.escape(CAUSE_RULE)}</p>
<h2>Disparate impact</h2>
<p>Each group's ratio of ever-sanctioned rates to its reference group over the members. A
group fails the four-fifths rule only when its whole interval lies outside 0.8–1.25; when
the interval crosses a line, or a member has no ratio, it is too small to tell.</p>
<table><thead><tr><th>group</th><th>ratio [95 % interval]</th><th>verdict</th></tr></thead>
<tbody>{"".join(di)}</tbody></table>
<h2>Over time</h2>
<figure><img class="figure" alt="bands across members" src="{uri}" width="1050">
<figcaption>Thin lines: members; thick: their mean with its 95 % interval shaded; run solid,
twin dashed · <a href="figures/ensemble_bands.svg">SVG</a></figcaption></figure>
<p id="selfcheck" class=muted></p>
</body></html>
"""
    write_atomic(folder / "report.html", page.encode())
    return folder / "report.html"


def interval_of_twin(summaries: list[dict], key: str) -> dict:
    """The twin's value of a headline metric over members: mean and interval."""
    values = [headline_value(s.get("twin") or {}, key) for s in summaries]
    return interval(np.array([np.nan if v is None else float(v) for v in values]))
