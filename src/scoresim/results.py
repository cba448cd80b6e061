"""Results: tables in memory (pandas/Arrow), Parquet and JSON on disk, the summary.

``timeseries`` is long: one row per step x group x metric with the run's value and the
twin's. ``summary`` holds the headline metrics of MODEL.md §9 for the run and, under
``twin``, for the twin. Definitions (docs/metrics.md says the same):

- listed_share: persons on any list at the last step / persons
- ever_sanctioned_share: persons sanctioned at some step / persons
- wrongly_sanctioned_share: of the persons ever sanctioned, the share who at some step were
  sanctioned only because of false records (their own true records alone would not have)
- association_sanctioned_share: of the persons ever sanctioned, the share who at some step
  were sanctioned only by association (their own records alone would not have)
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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import __version__
from .acts import CHILLED, CONTEXTS, SANCTION_CONTEXTS, VIOLATIONS
from .approval import share_approving
from .checkpoint import fault_point
from .checkpoint import write_atomic as _atomic
from .metrics import ALL_PERSON_METRICS, FIRM_SIZES, disparate_impact, flagged
from .scenario import Scenario, to_toml

SUMMARY_KEYS = (
    "persons",
    "companies",
    "steps",
    "listed_share",
    "listed_share_peak",
    "ever_sanctioned_share",
    "wrongly_sanctioned_share",
    "association_sanctioned_share",
    "ties_cut_share",
    "isolated_share",
    "largest_component_share",
    "chilling_effect",
    "deterrence_effect",
    "income_loss_share",
    "disparate_impact",
    "disparate_impact_flagged",
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
)
VS_TWIN = (
    "chilling_effect",
    "deterrence_effect",
    "income_loss_share",
    "firm_revenue_loss_share",
    "firm_revenue_loss_by_size",
)

# the headline metrics shown by `run` and `compare`: key, label, format
HEADLINE = (
    ("listed_share", "listed (share of persons, last step)", "pct"),
    ("ever_sanctioned_share", "ever sanctioned (share of persons)", "pct"),
    ("wrongly_sanctioned_share", "… of them wrongly, by false records", "pct"),
    ("association_sanctioned_share", "… of them by association", "pct"),
    ("wrongly_sanctioned_steps_share", "sanctioned person-steps due to false records", "pct"),
    ("association_sanctioned_steps_share", "sanctioned person-steps due to association", "pct"),
    ("ties_cut_share", "social ties cut", "pct"),
    ("isolated_share", "isolated persons", "pct"),
    ("chilling_effect", "chilling effect (speech, shopping vs twin)", "pct"),
    ("deterrence_effect", "deterrence (violations vs twin)", "pct"),
    ("income_loss_share", "income lost vs twin", "pct"),
    ("blocked_flights", "blocked flight purchases", "int"),
    ("blocked_rail", "blocked high-speed-rail purchases", "int"),
    ("unrelated_context_share", "sanctions in an unrelated context", "pct"),
    ("firm_unrelated_context_share", "… of firms' sanctions", "pct"),
    ("disproportionate_share", "disproportionate sanctions", "pct"),
    ("rewarded_share", "ever rewarded (share of persons)", "pct"),
    ("loans_refused", "refused loan applications", "int"),
    ("firms_listed_share", "firms listed", "pct"),
    ("foreign_firms_exposed_share", "foreign-invested firms exposed", "pct"),
    ("firm_revenue_loss_share", "firm revenue lost vs twin", "pct"),
    ("firm_revenue_loss_by_size.foreign", "… of foreign-invested firms", "pct"),
    ("representatives_lost", "firms that lost their representative to a bar", "int"),
    ("aware_share", "aware of the system (share of persons)", "pct"),
    ("approval_share", "approve of the system (among the aware)", "pct"),
    ("approval_sanctioned_share", "… among the ever sanctioned", "pct"),
    ("approval_informed_share", "… among the informed (when a campaign ran)", "pct"),
    ("records_per_person_year", "records per person-year", "num"),
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
    out = {
        "persons": n,
        "companies": m,
        "steps": int(rec.steps),
        "listed_share": float(alls[-1, _col("listed")] / n),
        "listed_share_peak": float(alls[:, _col("listed")].max() / n),
        "ever_sanctioned_share": ever_s / n,
        "wrongly_sanctioned_share": _ratio(int(((ever & 2) > 0).sum()), ever_s),
        "association_sanctioned_share": _ratio(int(((ever & 4) > 0).sum()), ever_s),
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
    out["disparate_impact_flagged"] = flagged(out["disparate_impact"])
    reg = w.registry
    out["repaid_share"] = _ratio(int(reg.repaired.sum()), int(reg.ever.sum()))
    out["grade_shares"] = _shares(w.ledger)
    out["firm_grade_shares"] = _shares(w.firm_ledger)
    out["inspection_ratio"] = _inspection_ratio(w)
    out["loans_refused"] = int(alls[:, _col("loan_refused")].sum())
    out["rewarded_share"] = int(((ever & 8) > 0).sum()) / n
    out.update(_approval(w))
    out["representatives_lost"] = int(w.reps_lost)
    out["audit_matrix"] = _matrix(w.audit)
    out["firm_audit_matrix"] = _matrix(w.firm_audit)
    out["firm_unrelated_context_share"] = _ratio(w.firm_unrelated, int(w.firm_audit.sum()))
    return out


def _matrix(counts: np.ndarray) -> dict:
    """An audit matrix as {data context: {sanction context: applications}}."""
    return {
        data: {where: int(counts[i, j]) for j, where in enumerate(SANCTION_CONTEXTS)}
        for i, data in enumerate(CONTEXTS)
    }


def _approval(w) -> dict:
    """Approval at the last step (approval >= 0.5): among the aware, the ever-sanctioned, the
    informed and the campaign's control arm, and among internet users (aware or not: what a
    survey of internet users would find)."""
    ap = w.approval
    x, st = ap.logit(), ap.state
    control = None if ap.eligible is None else ap.eligible & ~st.informed
    asked = x + np.float32(ap.spec.information.question)  # what the campaign asked about
    return {
        "aware_share": float(st.aware.mean()),
        "approval_share": share_approving(x, st.aware),
        "approval_sanctioned_share": share_approving(x, (w.recorder.ever & 1) > 0),
        "approval_informed_share": share_approving(asked, st.informed),
        "approval_uninformed_share": None if control is None else share_approving(asked, control),
        "approval_internet_share": share_approving(x, w.s.persons.internet),
    }


def _firm_revenue(w) -> dict[str, float]:
    """Firm revenue summed over the run: all firms, by size class, foreign-invested."""
    rec = w.recorder
    names = ["firm_revenue", *(f"firm_revenue.{k}" for k in FIRM_SIZES), "firm_revenue.foreign"]
    return {n: float(rec.totals[:, rec.total_names.index(n)].sum()) for n in names}


def _shares(ledger) -> dict[str, float]:
    """Share of agents in each grade at the end (empty without grades)."""
    names = ledger.grade_names
    counts = np.bincount(ledger.grade, minlength=len(names))[: len(names)]
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
    s["version"] = __version__
    return _clean(s)


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
    df = pd.DataFrame(
        {
            "step": np.concatenate([step, t_steps]),
            "group": pd.Categorical.from_codes(
                np.concatenate([group, np.zeros(len(t_steps), int)]), categories=names
            ),
            "metric": pd.Categorical.from_codes(
                np.concatenate([metric, t_metric + len(person_metrics)]), categories=all_metrics
            ),
            "run": np.concatenate([run_v, t_run]),
            "twin": np.concatenate([twin_v, t_twin]),
        }
    )
    return df


@dataclass
class Results:
    scenario: Scenario
    summary_dict: dict
    frame: pd.DataFrame
    build_seconds: float = 0.0
    loop_seconds: float = 0.0
    extra: dict = field(default_factory=dict)

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
        )

    def summary(self) -> dict:
        return self.summary_dict

    def timeseries(self) -> pd.DataFrame:
        return self.frame

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pandas(self.frame, preserve_index=False)

    def write(self, out: str | Path) -> Path:
        """Write scenario.toml, timeseries.parquet and summary.json into ``out``.
        Each file is written to a temporary name and renamed, so none is ever half-written."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        _atomic(out / "scenario.toml", to_toml(self.scenario).encode())
        buf = pa.BufferOutputStream()
        pq.write_table(self.to_arrow(), buf, compression="zstd")
        _atomic(out / "timeseries.parquet", buf.getvalue().to_pybytes())
        fault_point("after-timeseries")
        _atomic(out / "summary.json", (json.dumps(self.summary_dict, indent=2) + "\n").encode())
        return out
