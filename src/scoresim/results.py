"""Results: tables in memory (pandas/Arrow), Parquet and JSON on disk, the summary.

``timeseries`` is long: one row per step x group x metric with the run's value and the
twin's. ``summary`` holds the headline metrics of docs/model.md §7.9 for the run and, under
``twin``, for the twin. Definitions (docs/metrics.md says the same):

- listed_share: persons on any list at the last step / persons
- ever_sanctioned_share: persons sanctioned at some step / persons
- sanctioned_*_share: the ever sanctioned in four classes that add up to them (CAUSE_RULE)
- counts: next to every share, what it counts (persons, acts, yuan) and the rate per
  100,000 persons
- chilling_effect / deterrence_effect: 1 - (run / twin) of chilled acts / violations
- income_loss_share: 1 - (run income / twin income), summed over all steps
- unrelated_context_share: sanction applications whose context is unrelated to the
  triggering data / all applications; disproportionate_share: sanctioned person-steps whose
  severity exceeds proportionality x gravity / sanctioned person-steps
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numba import njit

from . import __version__, lending
from .acts import CHILLED, CONTEXTS, SANCTION_CONTEXTS, VIOLATIONS
from .approval import APPROVAL_GROUPS, approving_counts
from .atomic import fault_point
from .atomic import write_atomic as _atomic
from .metrics import (
    ALL_PERSON_METRICS,
    FAILS,
    FIRM_SIZES,
    REGIONAL_METRICS,
    disparate_impact,
    disparate_impact_intervals,
)
from .network import LAYER_NAMES
from .scenario import Scenario, to_toml
from .scoring import count_into
from .screening import REASONS

SUMMARY_KEYS = (
    "persons",
    "companies",
    "steps",
    "listed_share",
    "listed_share_peak",
    "ever_sanctioned_share",
    "sanctioned_own_true_only_share",
    "sanctioned_false_records_share",
    "sanctioned_association_only_share",
    "sanctioned_mixed_share",
    "ties_cut_share",
    "isolated_share",
    "largest_component_share",
    "chilling_effect",
    "deterrence_effect",
    "income_loss_share",
    "disparate_impact",
    "disparate_impact_flagged",
    "disparate_impact_interval",
    "blocked_flights",
    "blocked_rail",
    "unrelated_context_share",
    "disproportionate_share",
    "firms_listed_share",
    "foreign_firms_exposed_share",
    "records_per_person_year",
    "long_listed_share",
    "score_assortativity",
    "wrongly_sanctioned_steps_share",
    "association_sanctioned_steps_share",
    "repaid_share",
    "grade_shares",
    "firm_grade_shares",
    "inspection_ratio",
    "loans_refused",
    "firm_revenue_loss_share",
    "firm_revenue_loss_by_size",
    "representatives_lost",
    "audit_matrix",
    "firm_unrelated_context_share",
    "firm_audit_matrix",
    "rewarded_share",
    "aware_share",
    "approval_share",
    "approval_sanctioned_share",
    "approval_informed_share",
    "approval_uninformed_share",
    "approval_internet_share",
    "false_record_kinds",
    "blocked_flights_per_listed_year",
    "blocked_rail_per_listed_year",
    "trips_substituted",
    "trips_forgone",
    "payments_after_refusal",
    "vpn_share",
    "critical_posts_hidden_by_vpn",
    "pressured_share",
    "ties_cut_by_policing",
    "policing_violation_change",
    "firms_pressured_share",
    "partners_dropped",
    "foreign_firms_exposed_safeguarded_share",
    "foreign_firms_exposed_unsafeguarded_share",
    "counts",
)
# summary keys that are not numbers per se (a list of groups; verdicts with their counts)
NOT_NUMBERS = (
    "disparate_impact_flagged",
    "disparate_impact_interval",
    "changes",
    "phases",
    "pilot",
)
VS_TWIN = (
    "chilling_effect",
    "deterrence_effect",
    "income_loss_share",
    "firm_revenue_loss_share",
    "firm_revenue_loss_by_size",
)


class Headline(NamedTuple):
    """A headline metric: summary key, label, format, and a short label for narrow tables."""

    key: str
    label: str
    kind: str  # pct, int or num
    short: str


# the headline metrics shown by `run` and `compare` (and the reports)
HEADLINE = tuple(
    Headline(*row)
    for row in (
        ("listed_share", "listed (share of persons, last step)", "pct", "listed"),
        ("ever_sanctioned_share", "ever sanctioned (share of persons)", "pct", "sanctioned"),
        ("sanctioned_own_true_only_share", "… own true records only", "pct", "own true"),
        ("sanctioned_false_records_share", "… false records involved", "pct", "false rec."),
        ("sanctioned_association_only_share", "… association only", "pct", "assoc. only"),
        ("sanctioned_mixed_share", "… own records and association", "pct", "mixed"),
        (
            "wrongly_sanctioned_steps_share",
            "person-steps sanctioned, false records",
            "pct",
            "p-steps false",
        ),  # fmt: skip
        (
            "association_sanctioned_steps_share",
            "person-steps sanctioned, association",
            "pct",
            "p-steps assoc.",
        ),  # fmt: skip
        ("ties_cut_share", "social ties cut", "pct", "ties cut"),
        ("isolated_share", "isolated persons", "pct", "isolated"),
        ("chilling_effect", "chilling (speech, shopping vs twin)", "pct", "chilling"),
        ("deterrence_effect", "deterrence (violations vs twin)", "pct", "deterrence"),
        ("income_loss_share", "income lost vs twin", "pct", "income lost"),
        ("blocked_flights", "blocked flight purchases", "int", "flights blk."),
        ("blocked_rail", "blocked high-speed-rail purchases", "int", "rail blk."),
        (
            "blocked_flights_per_listed_year",
            "… flights blocked per listed person-year",
            "num",
            "flights/l-yr",
        ),  # fmt: skip
        (
            "blocked_rail_per_listed_year",
            "… rail purchases blocked per listed person-year",
            "num",
            "rail/l-yr",
        ),  # fmt: skip
        ("trips_substituted", "restricted trips made another way", "int", "trips subst."),
        ("trips_forgone", "restricted trips forgone", "int", "trips forgone"),
        ("payments_after_refusal", "debts paid after a refusal", "int", "paid/refusal"),
        ("unrelated_context_share", "sanctions in an unrelated context", "pct", "unrelated"),
        ("firm_unrelated_context_share", "… of firms' sanctions", "pct", "firms unrel."),
        ("disproportionate_share", "disproportionate sanctions", "pct", "dispropor."),
        ("rewarded_share", "ever rewarded (share of persons)", "pct", "rewarded"),
        ("loans_refused", "refused loan applications", "int", "loans refused"),
        ("firms_listed_share", "firms listed", "pct", "firms listed"),
        ("foreign_firms_exposed_share", "foreign-invested firms exposed", "pct", "foreign exp."),
        ("firm_revenue_loss_share", "firm revenue lost vs twin", "pct", "firm revenue"),
        (
            "firm_revenue_loss_by_size.foreign",
            "… of foreign-invested firms",
            "pct",
            "foreign rev.",
        ),  # fmt: skip
        (
            "representatives_lost",
            "firms whose representative was barred",
            "int",
            "reps barred",
        ),  # fmt: skip
        ("aware_share", "aware of the system (share of persons)", "pct", "aware"),
        ("approval_share", "approve of the system (among the aware)", "pct", "approve"),
        ("approval_sanctioned_share", "… among the ever sanctioned", "pct", "approve sanc."),
        (
            "approval_informed_share",
            "… among the informed (a campaign)",
            "pct",
            "approve inf.",
        ),  # fmt: skip
        ("vpn_share", "VPN users (share of internet users)", "pct", "VPN"),
        (
            "critical_posts_hidden_by_vpn",
            "critical posts kept from the sources by a VPN",
            "int",
            "posts hidden",
        ),  # fmt: skip
        ("pressured_share", "pressed to comply by contacts (ever)", "pct", "pressed"),
        (
            "policing_violation_change",
            "… their violations vs the same persons in the twin",
            "pct",
            "pressed viol.",
        ),  # fmt: skip
        ("ties_cut_by_policing", "ties cut over a pressed person's offence", "int", "pol. cuts"),
        ("partners_dropped.rating", "partners dropped for a low rating", "int", "drop rating"),
        (
            "foreign_firms_exposed_unsafeguarded_share",
            "foreign-invested firms exposed, without safeguards",
            "pct",
            "foreign unguarded",
        ),  # fmt: skip
        (
            "foreign_firms_exposed_safeguarded_share",
            "… with contractual safeguards",
            "pct",
            "foreign guarded",
        ),  # fmt: skip
        ("records_per_person_year", "records per person-year", "num", "records/p-yr"),
    )
)

# How each person ever sanctioned is put in exactly one class (shown next to the tables).
CAUSE_RULE = (
    "Each person ever sanctioned is counted in exactly one class: false records involved (at "
    "some step sanctioned only because of false records); else association only (at every "
    "sanctioned step their own records alone would not have sanctioned them); else own true "
    "records only (at every sanctioned step their own true records alone would have); else "
    "mixed (own true records at some steps, association alone at others). The four add up "
    "to the ever sanctioned. Person-step shares count sanctioned person-steps instead."
)


def audit_rows(matrix: dict | None) -> tuple[list[str], list[str], list[list[int]]]:
    """The audit matrix without its empty rows and columns: (data contexts, sanction
    contexts, counts)."""
    if not matrix:
        return [], [], []
    rows = [r for r, cols in matrix.items() if any(cols.values())]
    cols = [c for c in next(iter(matrix.values())) if any(matrix[r][c] for r in matrix)]
    return rows, cols, [[matrix[r][c] for c in cols] for r in rows]


def audit_markdown(matrix: dict | None) -> str:
    """The audit matrix as a markdown table (data context down, sanction context across)."""
    rows, cols, values = audit_rows(matrix)
    if not rows:
        return "no sanction applied\n"
    head = "| data → sanction | " + " | ".join(cols) + " |\n|" + "---|" * (len(cols) + 1) + "\n"
    body = "".join(
        f"| {r} | " + " | ".join(f"{v:,}" for v in vals) + " |\n" for r, vals in zip(rows, values)
    )
    return head + body


# run-against-twin changes: negative where the regime raises what it is said to cut
SIGNED = (*VS_TWIN, "policing_violation_change", "score_assortativity")


def bounds(key: str, kind: str) -> tuple[float, float]:
    """The values a headline metric can take, so that an interval of its mean is shown
    within them: shares lie in [0, 1] and counts are not negative; changes against the twin
    have no bound."""
    if key.split(".")[0] in SIGNED:
        return (-math.inf, math.inf)
    return (0.0, 1.0) if kind == "pct" else (0.0, math.inf)


def format_interval(stat: dict | None, kind: str, key: str | None = None) -> str:
    """mean [low, high] of a statistic over members, the interval cut at what the metric
    ``key`` can take (no cut with ``key`` None: a difference); the mean alone where all
    members agree."""
    if not stat or stat.get("mean") is None:
        return "—"
    text = format_value(stat["mean"], kind)
    if stat.get("low") is not None and stat.get("sd"):
        lowest, highest = bounds(key, kind) if key else (-math.inf, math.inf)
        low, high = max(stat["low"], lowest), min(stat["high"], highest)
        text += f" [{format_value(low, kind)}, {format_value(high, kind)}]"
    return text


def headline_value(summary: dict | None, key: str):
    """A summary value by a dotted key ("firm_revenue_loss_by_size.foreign"); None if absent."""
    v = summary
    for part in key.split("."):
        if not isinstance(v, dict):
            return None
        v = v.get(part)
    return v


def format_value(v, kind: str) -> str:
    """A headline value for people: percentages, counts or plain numbers; None as a dash."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if kind == "pct":
        return f"{100 * v:.2f} %" if abs(v) >= 5e-5 else "0.00 %"
    if kind == "int":
        return f"{int(v):,}"
    return f"{v:.2f}"


def lending_cells(summary: dict) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """A credit market's table for people (the CLI, the report and the web page): its column
    headers (each group, run then twin) and, per lending.ROWS entry, the label and the
    formatted values."""
    cols = lending.columns(summary)
    rows = [
        (label, [format_value(g.get(key), kind) for _, g in cols])
        for key, label, kind in lending.ROWS
    ]
    return [h for h, _ in cols], rows


_UNIT_SHORT = {
    "sanction applications": "appl.",
    "firm sanction applications": "firm appl.",
    "person-steps": "p-steps",
    "acts not done": "acts",
    "violations not done": "viol.",
}


def format_count(entry: dict | None, short: bool = False) -> str:
    """The number behind a share: persons with their rate per 100,000 persons, or a count
    of its unit ("" when there is none); ``short``: the number only."""
    if not entry:
        return ""
    c = entry["count"]
    if short:
        return f"{c:,.0f}"
    if entry["unit"] == "persons":
        return f"{c:,.0f} · {entry['per_100k_persons']:,.0f}/100k"
    return f"{c:,.0f} {_UNIT_SHORT.get(entry['unit'], entry['unit'])}"


def format_compact(v, kind: str) -> str:
    """A headline value in at most 7 characters (narrow tables): 3 significant digits."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if kind == "pct":
        x = 100 * v
        if abs(x) < 0.005:
            return "0 %"
        digits = 2 if abs(x) < 10 else (1 if abs(x) < 100 else 0)
        return f"{x:.{digits}f} %"
    if kind == "int":
        return f"{int(v):,}" if abs(v) < 1e6 else f"{v / 1e6:.1f} M"
    return f"{v:.3g}"


def _col(name: str) -> int:
    return ALL_PERSON_METRICS.index(name)


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b > 0 else None


def world_summary(w, years: float) -> dict:
    rec = w.recorder
    alls = rec.over_all()
    n, m = w.s.persons.n, w.s.firms.n
    ever = rec.ever
    ever_s = int(((ever & 1) > 0).sum())
    totals = dict(zip(rec.total_names, rec.totals[-1]))
    lcc = rec.totals[:, rec.total_names.index("largest_component_share")]
    assort = rec.totals[:, rec.total_names.index("score_assortativity")]
    foreign = int(w.s.firms.foreign.sum())
    sanctioned_steps = float(alls[:, _col("sanctioned")].sum())
    classes = sanction_classes(ever)
    approval_shares, approving = _approval(w)
    out = {
        "persons": n,
        "companies": m,
        "steps": int(rec.steps),
        "listed_share": float(alls[-1, _col("listed")] / n),
        "listed_share_peak": float(alls[:, _col("listed")].max() / n),
        "ever_sanctioned_share": ever_s / n,
        **{k: _ratio(v, ever_s) for k, v in classes.items()},
        "ties_cut_share": float(w.cuts[:4].sum() / max(1.0, w.ties0[:4].sum())),
        "isolated_share": float(alls[-1, _col("isolated")] / n),
        "largest_component_share": float(lcc[np.isfinite(lcc)][-1]),
        "disparate_impact": disparate_impact(rec.ever_by_group(1)) if ever_s else {},
        "blocked_flights": int(alls[:, _col("flight_blocked")].sum()),
        "blocked_rail": int(alls[:, _col("rail_blocked")].sum()),
        "unrelated_context_share": _ratio(
            float(alls[:, _col("unrelated_applications")].sum()),
            float(alls[:, _col("sanction_applications")].sum()),
        ),
        "disproportionate_share": _ratio(
            float(alls[:, _col("disproportionate")].sum()), sanctioned_steps
        ),
        "firms_listed_share": float(totals["firms_listed"] / max(1, m)),
        "foreign_firms_exposed_share": _ratio(int(w.firm_exposed_ever.sum()), foreign),
        "records_per_person_year": float(w.person_records / (n * years)),
        "long_listed_share": float(alls[-1, _col("long_listed")] / n),
        "wrongly_sanctioned_steps_share": _ratio(
            float(alls[:, _col("wrongly_sanctioned")].sum()), sanctioned_steps
        ),
        "association_sanctioned_steps_share": _ratio(
            float(alls[:, _col("association_sanctioned")].sum()), sanctioned_steps
        ),
        "score_assortativity": float(assort[np.isfinite(assort)][-1])
        if np.isfinite(assort).any()
        else None,
    }
    tests = disparate_impact_intervals(rec.ever_counts_by_group(1)) if ever_s else {}
    out["disparate_impact_flagged"] = [g for g, e in tests.items() if e["verdict"] == FAILS]
    out["disparate_impact_interval"] = tests
    reg = w.registry
    out["repaid_share"] = _ratio(int(reg.repaired.sum()), int(reg.ever.sum()))
    out["grade_shares"] = _shares(w.ledger)
    out["firm_grade_shares"] = _shares(w.firm_ledger)
    out["inspection_ratio"] = _inspection_ratio(w)
    out["loans_refused"] = int(alls[:, _col("loan_refused")].sum())
    out["rewarded_share"] = int(((ever & 8) > 0).sum()) / n
    out.update(approval_shares)
    out["representatives_lost"] = int(w.reps_lost)
    out["audit_matrix"] = _matrix(w.audit)
    out["firm_audit_matrix"] = _matrix(w.firm_audit)
    out["firm_unrelated_context_share"] = _ratio(w.firm_unrelated, int(w.firm_audit.sum()))
    out.update(_responses(w, alls, totals))
    out["counts"] = _counts(w, alls, ever, ever_s, classes, approving)
    out["false_record_kinds"] = false_record_kinds(w.sc, w.regime)
    return out


def _responses(w, alls, totals) -> dict:
    """How people respond (docs/model.md §7.7): refusals per listed person-year (listed on
    any list: person-steps x step length), restricted trips made another way or forgone,
    debts paid after a refusal, VPN use among internet users at the last step, the records
    of critical posts a VPN kept from the sources (expected: the chance each post is recorded
    without the VPN less with it, summed), persons ever pressed by their contacts and the
    ties cut over their offences."""
    listed_years = float(alls[:, _col("listed")].sum()) * w.dt
    users = int(w.s.persons.internet.sum())
    return {
        "blocked_flights_per_listed_year": _ratio(
            float(alls[:, _col("flight_blocked")].sum()), listed_years
        ),
        "blocked_rail_per_listed_year": _ratio(
            float(alls[:, _col("rail_blocked")].sum()), listed_years
        ),
        "trips_substituted": int(alls[:, _col("trip_substituted")].sum()),
        "trips_forgone": int(alls[:, _col("trip_forgone")].sum()),
        "payments_after_refusal": int(alls[:, _col("paid_after_refusal")].sum()),
        "vpn_share": _ratio(float(totals["vpn_users"]), users),
        "critical_posts_hidden_by_vpn": float(totals["critical_posts_hidden_by_vpn"]),
        "pressured_share": float(w.policing.ever.sum() / w.s.persons.n),
        "ties_cut_by_policing": int(w.policing.cuts),
        "policing_violation_change": policing_violation_change(w),
        "firms_pressured_share": float(w.policing.firms_ever / max(1, w.s.firms.n)),
        "partners_dropped": dict(zip(REASONS, (int(x) for x in w.screening.dropped))),
        **_exposure_by_safeguard(w),
    }


def _exposure_by_safeguard(w) -> dict:
    """Share of foreign-invested firms ever exposed, among those with contractual safeguards
    and among those without (drawn at random: the difference is the safeguards' effect)."""
    foreign = w.s.firms.foreign
    guarded = w.s.safeguarded & w.screening.on
    return {
        "foreign_firms_exposed_safeguarded_share": _ratio(
            int((w.firm_exposed_ever & guarded).sum()), int(guarded.sum())
        ),
        "foreign_firms_exposed_unsafeguarded_share": _ratio(
            int((w.firm_exposed_ever & foreign & ~guarded).sum()), int((foreign & ~guarded).sum())
        ),
    }


def policing_violation_change(w) -> float | None:
    """Change in the violations of the persons pressed by their contacts, from the step after
    their first pressure: in the run / with no system (the twin's, drawn from the same
    numbers) - 1. It holds all the regime does to them (feeling watched too), not pressure
    alone; None when nobody was pressed."""
    run, none = (float(x) for x in w.pressed_violations)
    return run / none - 1.0 if none > 0 else None


def false_record_kinds(sc: Scenario, regime) -> dict[str, float]:
    """The kinds of false record a regime makes in a scenario, with their sizes:
    misattributed (the largest share of a used source's records put on the wrong person),
    invented (records of misdeeds that never happened, per covered person-year), kept (share
    of delistings delayed, and by how many days). Empty when it records nothing."""
    from .sources import SourceSet

    used = [s for s in regime.sources if s not in regime.safeguards.excluded_sources]
    if not used:
        return {}
    fr, src = sc.false_records, SourceSet(sc, used)
    idx = [src.index[s] for s in used]
    out: dict[str, float] = {}
    if src.false_rate[idx].max() > 0:
        out["misattributed"] = float(src.false_rate[idx].max())
    if src.invented[idx].max() > 0:
        out["invented_per_year"] = float(src.invented[idx].max() / sc.step_years)
    if fr.kept_share > 0 and fr.kept_days > 0:
        out["kept_share"] = fr.kept_share
        out["kept_days"] = fr.kept_days
    return out


def _false_record_kinds_over(sc: Scenario, stages: list) -> dict[str, float]:
    """Over a scheduled run's phases (``stages``: schedule.phases): each kind at its largest."""
    out: dict[str, float] = {}
    for ph in stages:
        if ph.reached(sc.run.steps):
            for k, v in false_record_kinds(ph.scenario, ph.scenario.regime).items():
                out[k] = max(out.get(k, v), v)
    return out


def _count(value: float, unit: str, n: int) -> dict:
    """What a share counts: how many, of what, and (for persons) per 100,000 persons."""
    out: dict = {"count": round(float(value), 6), "unit": unit}
    if unit == "persons":
        out["per_100k_persons"] = float(value) / n * 1e5
    return out


def _counts(w, alls, ever, ever_s, classes, approving) -> dict[str, dict]:
    """Next to every share of the summary, the number behind it (``classes``: the cause
    classes' counts; ``approving``: the approval shares' counts, from ``_approval``)."""
    n = w.s.persons.n
    rec = w.recorder
    persons = {
        "listed_share": alls[-1, _col("listed")],
        "listed_share_peak": alls[:, _col("listed")].max(),
        "ever_sanctioned_share": ever_s,
        **classes,
        "isolated_share": alls[-1, _col("isolated")],
        "long_listed_share": alls[-1, _col("long_listed")],
        "rewarded_share": ((ever & 8) > 0).sum(),
        "repaid_share": w.registry.repaired.sum(),
        **approving,
    }
    out = {k: _count(v, "persons", n) for k, v in persons.items()}
    steps = (
        ("wrongly_sanctioned_steps_share", "wrongly_sanctioned"),
        ("association_sanctioned_steps_share", "association_sanctioned"),
        ("disproportionate_share", "disproportionate"),
    )
    for key, col in steps:
        out[key] = _count(alls[:, _col(col)].sum(), "person-steps", n)
    out["unrelated_context_share"] = _count(
        alls[:, _col("unrelated_applications")].sum(), "sanction applications", n
    )
    out["firm_unrelated_context_share"] = _count(w.firm_unrelated, "firm sanction applications", n)
    out["ties_cut_share"] = _count(w.cuts[:4].sum(), "ties", n)
    totals = dict(zip(rec.total_names, rec.totals[-1]))
    out["firms_listed_share"] = _count(totals["firms_listed"], "firms", n)
    out["foreign_firms_exposed_share"] = _count(w.firm_exposed_ever.sum(), "firms", n)
    return out


def _vs_twin_counts(run, twin, dt: float) -> dict[str, dict]:
    """The numbers behind the effects against the twin: acts, violations and income."""
    n = run.s.persons.n
    return {
        "chilling_effect": _count(_sum(twin, CHILLED) - _sum(run, CHILLED), "acts not done", n),
        "deterrence_effect": _count(
            _sum(twin, VIOLATIONS) - _sum(run, VIOLATIONS), "violations not done", n
        ),
        "income_loss_share": _count(
            (_sum(twin, ("income",)) - _sum(run, ("income",))) * dt, "yuan", n
        ),
    }


def _matrix(counts: np.ndarray) -> dict:
    """An audit matrix as {data context: {sanction context: applications}}."""
    return {
        data: {where: int(counts[i, j]) for j, where in enumerate(SANCTION_CONTEXTS)}
        for i, data in enumerate(CONTEXTS)
    }


def _approval(w) -> tuple[dict, dict]:
    """Approval at the last step (approval >= 0.5): among the aware, the ever-sanctioned, the
    informed and the campaign's control arm, and among internet users (aware or not: what a
    survey of internet users would find). Returns the shares and the persons approving
    behind each (the aware behind ``aware_share``)."""
    ap = w.approval
    counts_of = approving_counts(ap, w.recorder.ever, w.s.persons.facts)
    aware = int(counts_of[0, 0])
    n = len(ap.base)
    shares = {"aware_share": aware / n if n else float("nan"), "approval_uninformed_share": None}
    counts = {"aware_share": aware}
    for key, (among, yes) in zip(APPROVAL_GROUPS, counts_of.tolist()):
        if key == "approval_uninformed_share" and ap.eligible is None:
            continue  # no campaign, no control arm
        shares[key] = yes / among if among else None
        counts[key] = yes
    return shares, counts


def _firm_revenue(w) -> dict[str, float]:
    """Firm revenue summed over the run: all firms, by size class, foreign-invested."""
    rec = w.recorder
    names = ["firm_revenue", *(f"firm_revenue.{k}" for k in FIRM_SIZES), "firm_revenue.foreign"]
    return {n: float(rec.totals[:, rec.total_names.index(n)].sum()) for n in names}


def sanction_classes(ever: np.ndarray) -> dict[str, int]:
    """The persons ever sanctioned in the four classes of CAUSE_RULE (counts that add up to
    the ever sanctioned), from the recorder's ever bits (1 sanctioned, 2 by false records,
    4 by association alone, 16 on own true records)."""
    own_only, false, assoc_only, mixed = _class_counts(ever)
    return {
        "sanctioned_own_true_only_share": int(own_only),
        "sanctioned_false_records_share": int(false),
        "sanctioned_association_only_share": int(assoc_only),
        "sanctioned_mixed_share": int(mixed),
    }


@njit(cache=True)
def _class_counts(ever):
    """sanction_classes' four counts, in one pass (no column a person at the end of a run,
    when memory is fullest)."""
    own_only, false, assoc_only, mixed = 0, 0, 0, 0
    for e in ever:
        if not e & 1:
            continue
        if e & 2:
            false += 1
        elif e & 4 and e & 16:
            mixed += 1
        elif e & 4:
            assoc_only += 1
        elif e & 16:
            own_only += 1
    return own_only, false, assoc_only, mixed


def _shares(ledger) -> dict[str, float]:
    """Share of agents in each grade at the end (empty without grades)."""
    names = ledger.grade_names
    counts = np.zeros(len(names), np.int64)
    if names:  # a grade is below len(names) where there are names, 0 where there are none
        count_into(counts, ledger.grade)
    return {g: float(c / max(1, ledger.n)) for g, c in zip(names, counts)}


def _inspection_ratio(w) -> float | None:
    """Mean inspection multiplier of the worst-graded firms over that of the best-graded."""
    led, insp = w.firm_ledger, w.firm_out.inspection
    if len(led.grade_names) < 2:
        return None
    best, worst = led.grade == 0, led.grade == len(led.grade_names) - 1
    if not best.any() or not worst.any():
        return None
    return float(insp[worst].mean() / insp[best].mean())


def _sum(w, names) -> float:
    alls = w.recorder.over_all()
    return float(sum(alls[:, _col(a)].sum() for a in names))


def summarize(run, twin, sc: Scenario) -> dict:
    years = sc.run.steps * sc.step_years
    s = world_summary(run, years)
    if twin is not None:
        t = world_summary(twin, years)
        s["chilling_effect"] = _effect(_sum(run, CHILLED), _sum(twin, CHILLED))
        s["deterrence_effect"] = _effect(_sum(run, VIOLATIONS), _sum(twin, VIOLATIONS))
        inc_r = _sum(run, ("income",))
        inc_t = _sum(twin, ("income",))
        s["income_loss_share"] = _effect(inc_r, inc_t)
        rev_r, rev_t = _firm_revenue(run), _firm_revenue(twin)
        s["firm_revenue_loss_share"] = _effect(rev_r["firm_revenue"], rev_t["firm_revenue"])
        s["firm_revenue_loss_by_size"] = {
            k: _effect(rev_r[f"firm_revenue.{k}"], rev_t[f"firm_revenue.{k}"])
            for k in (*FIRM_SIZES, "foreign")
        }
        s["counts"] |= _vs_twin_counts(run, twin, sc.step_years)
        for k in VS_TWIN:
            t[k] = None
        s["twin"] = {k: t[k] for k in SUMMARY_KEYS}
    else:
        for k in VS_TWIN:
            s[k] = None
        s["twin"] = None
    s = {k: s[k] for k in SUMMARY_KEYS} | {"twin": s["twin"]}
    s["scenario"] = sc.name
    s["seed"] = sc.run.seed
    if sc.schedule:
        from .schedule import phases

        stages = phases(sc)  # validated once here: each phase is a whole scenario
        s["changes"] = [ph.describe(sc.run.steps) for ph in stages[1:]]
        s["false_record_kinds"] = _false_record_kinds_over(sc, stages)
        s["phases"] = phase_summaries(run, twin, sc, stages)
    if run.recorder.panel is not None and twin is not None:
        s["pilot"] = pilot_split(run, twin)
    if run.market is not None:
        s["lending"] = lending.summary(run.market, *lending.scores(run.ledger))
        if twin is not None:
            s["lending_twin"] = lending.summary(twin.market, *lending.scores(twin.ledger))
    s["version"] = __version__
    return _clean(s)


def lending_frame(sim) -> pd.DataFrame | None:
    """The credit market per step and group (lending.SERIES), run and twin: None without
    one."""
    worlds = [w for w in sim.worlds if w.market is not None]
    if not worlds:
        return None
    frames = []
    for name, w in zip(("run", "twin"), worlds):
        ser = w.market.series
        steps, groups, _ = ser.shape
        df = pd.DataFrame(ser.reshape(steps * groups, -1), columns=list(lending.SERIES))
        df.insert(0, "group", np.tile(np.array(lending.GROUPS), steps))
        df.insert(0, "step", np.repeat(np.arange(steps, dtype=np.int32), groups))
        df.insert(0, "world", name)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def phase_summaries(run, twin, sc: Scenario, stages: list) -> list[dict]:
    """Headline numbers over each phase of a scheduled run (``stages``: schedule.phases; a
    summary over the whole run mixes regimes): what a phase leaves at its end (listed, ties
    cut, approving) and what happens during it (sanctioned, chilling), against the twin over
    the same steps."""
    steps, dt = sc.run.steps, sc.step_years
    reached = [ph for ph in stages if ph.reached(steps)]
    starts = [ph.step for ph in reached]
    names = [ph.scenario.regime.name for ph in reached]
    ra = run.recorder.over_all()
    ta = twin.recorder.over_all() if twin is not None else None
    person_ties = [f"ties_active.{layer}" for layer in LAYER_NAMES[:4]]
    out = []
    for k, (a, name) in enumerate(zip(starts, names)):
        b = starts[k + 1] if k + 1 < len(starts) else steps
        if b <= a:
            continue
        n = float(ra[b - 1, _col("persons")])
        row = {
            "regime": name,
            "from_years": a * dt,
            "to_years": b * dt,
            "listed_share_end": float(ra[b - 1, _col("listed")] / n),
            "sanctioned_share_mean": float(ra[a:b, _col("sanctioned")].mean() / n),
            "approving_share_end": float(ra[b - 1, _col("approving")] / n),
            "chilling_effect": None,
            "ties_cut_share_end": None,
            "twin_approving_share_end": None,
        }
        if ta is not None:
            chilled = [_col(x) for x in CHILLED]
            row["chilling_effect"] = _effect(
                float(ra[a:b, chilled].sum()), float(ta[a:b, chilled].sum())
            )
            cols = [twin.recorder.total_names.index(x) for x in person_ties]
            active_run = float(run.recorder.totals[b - 1, cols].sum())
            active_twin = float(twin.recorder.totals[b - 1, cols].sum())
            row["ties_cut_share_end"] = _effect(active_run, active_twin)
            row["twin_approving_share_end"] = float(ta[b - 1, _col("approving")] / n)
        out.append(row)
    return out


def pilot_split(run, twin) -> dict[str, dict]:
    """Inside and outside the regions the regime reached, step by step (a region is counted
    inside from the step a pilot reaches it): what happened there against the twin. Outside
    is where spill-over across the pilot's border shows."""
    panel, other = run.recorder.panel, twin.recorder.panel
    col = {m: i for i, m in enumerate(REGIONAL_METRICS)}
    chilled = [col[x] for x in CHILLED]
    out = {}
    for name, where in (("inside", panel.inside), ("outside", ~panel.inside)):
        r, t = panel.sum_over(where), other.sum_over(where)
        persons = r[:, col["persons"]]
        last = persons[-1]
        out[name] = {
            "person_steps": float(persons.sum()),
            "persons_end": float(last),
            "listed_share_end": _ratio(float(r[-1, col["listed"]]), float(last)),
            "sanctioned_share_mean": _ratio(float(r[:, col["sanctioned"]].sum()), persons.sum()),
            "ties_cut_share_end": _effect(
                float(r[-1, col["active_ties"]]), float(t[-1, col["active_ties"]])
            ),
            "chilling_effect": _effect(float(r[:, chilled].sum()), float(t[:, chilled].sum())),
            "income_loss_share": _effect(
                float(r[:, col["income"]].sum()), float(t[:, col["income"]].sum())
            ),
            "approving_share_end": _ratio(float(r[-1, col["approving"]]), float(last)),
            "twin_approving_share_end": _ratio(float(t[-1, col["approving"]]), float(last)),
        }
    return out


def _effect(run: float, twin: float) -> float | None:
    return float(1.0 - run / twin) if twin > 0 else None


def _clean(x):
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, float):
        return round(x, 10)
    return x


def timeseries(run, twin) -> pd.DataFrame:
    names, g = run.recorder.by_group()
    steps, n_groups, n_metrics = g.shape
    step = np.repeat(np.arange(steps, dtype=np.int32), n_groups * n_metrics)
    group = np.tile(np.repeat(np.arange(n_groups), n_metrics), steps)
    metric = np.tile(np.arange(n_metrics), steps * n_groups)
    run_v = g.reshape(-1)
    twin_v = (
        twin.recorder.by_group()[1].reshape(-1) if twin is not None else np.full(len(run_v), np.nan)
    )
    tn = run.recorder.total_names
    t_steps = np.repeat(np.arange(steps, dtype=np.int32), len(tn))
    t_metric = np.tile(np.arange(len(tn)), steps)
    t_run = run.recorder.totals.reshape(-1)
    t_twin = twin.recorder.totals.reshape(-1) if twin is not None else np.full(len(t_run), np.nan)
    person_metrics = run.recorder.metric_names
    all_metrics = person_metrics + tn
    parts = [
        (step, group, metric, run_v, twin_v),
        (t_steps, np.zeros(len(t_steps), int), t_metric + len(person_metrics), t_run, t_twin),
    ]
    if run.recorder.panel is not None:
        extra_groups, extra = _panel_rows(run, twin, len(names), all_metrics)
        names = names + extra_groups
        all_metrics = all_metrics + ["inside"]
        parts += extra
    df = pd.DataFrame(
        {
            "step": np.concatenate([p[0] for p in parts]).astype(np.int32),
            "group": pd.Categorical.from_codes(
                np.concatenate([p[1] for p in parts]), categories=names
            ),
            "metric": pd.Categorical.from_codes(
                np.concatenate([p[2] for p in parts]), categories=all_metrics
            ),
            "run": np.concatenate([p[3] for p in parts]),
            "twin": np.concatenate([p[4] for p in parts]),
        }
    )
    return df


def _panel_rows(run, twin, first_group: int, metrics: list[str]):
    """The regional panel as rows: groups region.<name> (with the metric ``inside``: 1 where
    the run's regime reached the region that step), then pilot_inside and pilot_outside
    (the regions the run's regime reached that step, and the others)."""
    from .scenario import region_names

    panel = run.recorder.panel
    steps, k, m = panel.values.shape
    twin_values = twin.recorder.panel.values if twin is not None else np.full_like(
        panel.values, np.nan
    )  # fmt: skip
    codes = np.array([metrics.index(x) for x in REGIONAL_METRICS])
    inside = panel.inside
    split_run = np.stack([panel.sum_over(w) for w in (inside, ~inside)], axis=1)
    split_twin = np.stack([panel.sum_over(w, twin_values) for w in (inside, ~inside)], axis=1)
    rows = []
    for values_run, values_twin, groups, first in (
        (panel.values, twin_values, k, first_group),
        (split_run, split_twin, 2, first_group + k),
    ):
        rows.append(
            (
                np.repeat(np.arange(steps), groups * m),
                np.tile(np.repeat(np.arange(groups) + first, m), steps),
                np.tile(codes, steps * groups),
                values_run.reshape(-1),
                values_twin.reshape(-1),
            )
        )
    flag = inside.astype(np.float64).reshape(-1)
    rows.append(
        (
            np.repeat(np.arange(steps), k),
            np.tile(np.arange(k) + first_group, steps),
            np.full(steps * k, len(metrics)),
            flag,
            flag,
        )
    )
    names = [f"region.{x}" for x in region_names(run.sc.population)]
    return names + ["pilot_inside", "pilot_outside"], rows


@dataclass
class Results:
    scenario: Scenario
    summary_dict: dict
    frame: pd.DataFrame
    build_seconds: float = 0.0
    loop_seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    lending: pd.DataFrame | None = None  # the credit market per step (lending_frame)

    @classmethod
    def from_sim(cls, sim, loop_seconds: float) -> Results:
        run = sim.worlds[0]
        twin = sim.worlds[1] if len(sim.worlds) > 1 else None
        return cls(
            sim.scenario,
            summarize(run, twin, sim.scenario),
            timeseries(run, twin),
            sim.build_seconds,
            loop_seconds,
            lending=lending_frame(sim),
        )

    def summary(self) -> dict:
        return self.summary_dict

    def timeseries(self) -> pd.DataFrame:
        return self.frame

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pandas(self.frame, preserve_index=False)

    def plot(self, metric: str, group: str = "all", ax=None, share: bool = False):
        """``metric`` (of ``group``; ``share``: per person) over time, run and twin. Returns
        the matplotlib Axes."""
        from .ensemble import plot_band

        return plot_band(self.frame, self.scenario, metric, group, ax, share)

    @staticmethod
    def load(folder: str | Path):
        """A written run (Results), ensemble (EnsembleResults) or comparison (Comparison)
        again, from its folder."""
        folder = Path(folder)
        if (folder / "ensemble.json").exists():
            from .ensemble import EnsembleResults

            return EnsembleResults.load(folder)
        if (folder / "comparison.json").exists():
            from .compare import load_comparison

            return load_comparison(folder)
        if not (folder / "summary.json").exists():
            raise FileNotFoundError(
                f"{folder} holds no run (summary.json), ensemble (ensemble.json) or "
                "comparison (comparison.json)"
            )
        from .scenario import load as load_scenario

        market = folder / "lending.parquet"
        return Results(
            load_scenario(folder / "scenario.toml"),
            json.loads((folder / "summary.json").read_text()),
            pq.read_table(folder / "timeseries.parquet").to_pandas(),
            lending=pq.read_table(market).to_pandas() if market.exists() else None,
        )

    def write(self, out: str | Path, report: bool = True) -> Path:
        """Write scenario.toml, timeseries.parquet (and lending.parquet, with a credit market)
        and summary.json into ``out``, and (unless ``report`` is False) report.html with its
        figures, as ``scoresim run`` does. Each file is written to a temporary name and
        renamed, so none is ever half-written."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        _atomic(out / "scenario.toml", to_toml(self.scenario).encode())
        buf = pa.BufferOutputStream()
        pq.write_table(self.to_arrow(), buf, compression="zstd")
        _atomic(out / "timeseries.parquet", buf.getvalue().to_pybytes())
        if self.lending is None:  # an earlier run's, in a folder overwritten (--force)
            (out / "lending.parquet").unlink(missing_ok=True)
        else:
            buf = pa.BufferOutputStream()
            pq.write_table(pa.Table.from_pandas(self.lending, preserve_index=False), buf)
            _atomic(out / "lending.parquet", buf.getvalue().to_pybytes())
        fault_point("after-timeseries")
        _atomic(out / "summary.json", (json.dumps(self.summary_dict, indent=2) + "\n").encode())
        if report:
            from .report import write_report

            write_report(out)
        return out
