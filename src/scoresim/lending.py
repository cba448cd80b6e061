"""A credit market with a lender: who applies, who gets a loan, who repays (docs/model.md §7.12).

The lending-feedback loop of Liu et al. (2018) and D'Amour et al. (2020) inside the step:
applicants arrive, the lender of the regime (``[regime.lender]``) decides from each group's
current score distribution (lender.py: an oracle of the true repayment probabilities, as both
papers assume), and each loan is repaid with the probability of the applicant's score on the
market's grid. The outcomes are acts — ``loan_declined``, ``loan_repaid``, ``loan_default``
— that go through the same sources, rules, lists and sanctions as every other act: the
score moves only if a source records them and a rule scores them. A credit sanction
(``block_credit``) refuses an application before the lender sees it (``loan_refused``).

Random numbers (common to run and twin): application ``j`` of a step (person ``j`` when
every person may apply, draw ``j`` when applicants are drawn) uses counters 4j (the
sanction), 4j+1 (the lender's randomised threshold) and 4j+2 (repayment) of stream
LENDING; 4j+3 is person j's arrival when persons apply at a rate. Drawn applicants use
LENDING_ARRIVAL (2j: the group, 2j+1: the member); the initial scores LENDING_INIT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import acts as A
from . import fico, lender
from .rng import Stream, draws, stream_key, uniforms_at
from .scenario import Lender, Lending, Scenario

GROUPS = ("majority", "minority")
# the lender's own groups in the FICO tables when ``columns`` names none (Liu et al.'s pair)
FICO_DEFAULT_COLUMNS = {"majority": "white", "minority": "black"}
# per step and group (Market.series)
SERIES = (
    "applicants",
    "refused",  # by a credit sanction, before the lender
    "approved",
    "repaid",
    "defaulted",
    "would_repay",  # applicants whose repayment draw says they would repay (TP + FN)
    "true_positives",  # approved and repaid
    # declined by the lender, though the score of their own true record would have passed
    # (with the same draw): declined for what false records or association did to the score
    "declined_by_others",
    "threshold",  # the lender's boundary score (NaN: permissive)
    "alpha",  # the share approved at the boundary score
    "selection_rate",  # the policy's share of the group it would lend to
    "tpr",  # the policy's expected true-positive rate
    "utility",  # the lender's expected utility per member of the group
    "mean_score",  # the group's mean shown score at the start of the step
    "mean_repay",  # the group's mean repayment probability at the start of the step
)
S = {name: k for k, name in enumerate(SERIES)}


@dataclass
class Tables:
    """The market's ground truth: scores on a grid (ascending), each group's initial pmf over
    it and repayment probability at each score ([2, len(grid)], rows in GROUPS order)."""

    grid: np.ndarray
    initial: np.ndarray
    repay: np.ndarray


def tables(spec: Lending) -> Tables:
    """The market's tables: the scenario's own, or the shipped FICO tables on the 300-850
    scale (``data = "fico-transrisk"``)."""
    if spec.data == "fico-transrisk":
        f = fico.load()
        cols = FICO_DEFAULT_COLUMNS | spec.columns
        return Tables(
            fico.to_fico(f.scores),
            np.array([f.pmf[cols[g]] for g in GROUPS]),
            np.array([f.repay[cols[g]] for g in GROUPS]),
        )
    return Tables(
        np.asarray(spec.grid, np.float64),
        np.array([spec.initial[g] for g in GROUPS], np.float64),
        np.array([spec.repay[g] for g in GROUPS], np.float64),
    )


def group_of(spec: Lending, persons) -> np.ndarray:
    """Each person's lending group: 0 majority, 1 minority (the field ``spec.group``)."""
    return (np.asarray(getattr(persons, spec.group)) != 0).astype(np.uint8)


def initial_scores(tab: Tables, group: np.ndarray, seed: int) -> np.ndarray:
    """Every person's starting score: each group gets its pmf's counts exactly (largest
    remainders), handed out in a random order of its members."""
    order_key = draws(seed, Stream.LENDING_INIT, len(group))
    out = np.empty(len(group), np.float64)
    for g in range(len(GROUPS)):
        members = np.flatnonzero(group == g)
        if len(members) == 0:
            continue
        counts = _largest_remainder(tab.initial[g], len(members))
        values = np.repeat(tab.grid, counts)
        out[members[np.argsort(order_key[members], kind="stable")]] = values
    return out


def _largest_remainder(pmf: np.ndarray, n: int) -> np.ndarray:
    exact = pmf / pmf.sum() * n
    counts = np.floor(exact).astype(np.int64)
    short = n - int(counts.sum())
    if short > 0:
        counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return counts


def nearest(grid: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Index of the grid score nearest each of ``x`` (ties: the lower)."""
    mids = (grid[1:] + grid[:-1]) / 2.0
    return np.searchsorted(mids, np.asarray(x, np.float64), side="left")


class Market:
    """One world's credit market: its groups and tables, and per step what happened."""

    def __init__(self, sc: Scenario, persons, steps: int):
        spec = sc.lending
        self.tab = tables(spec)
        self.group = group_of(spec, persons)
        self.sizes = np.bincount(self.group, minlength=len(GROUPS)).astype(np.int64)
        self.members = [np.flatnonzero(self.group == g) for g in range(len(GROUPS))]
        self.initial = initial_scores(self.tab, self.group, sc.run.seed)
        self.p_apply = 1.0 - np.exp(-spec.applications_per_year * sc.step_years)
        self.arrivals, self.draws_per_step = spec.arrivals, spec.applicants_per_step
        self.repay_from = spec.repay_from
        w = np.asarray(spec.group_weights, np.float64)
        self.minority_weight = float(w[1] / w.sum()) if len(w) else None
        self.series = np.zeros((steps, len(GROUPS), len(SERIES)), np.float64)

    # ---------------------------------------------------------------- the lender's policy
    def pmfs(self, idx: np.ndarray) -> np.ndarray:
        """Each group's distribution over the grid ([2, G]) of grid indices ``idx``."""
        g = len(self.tab.grid)
        counts = np.bincount(self.group * g + idx, minlength=len(GROUPS) * g).reshape(-1, g)
        return counts / np.maximum(self.sizes, 1)[:, None]

    def policy(self, pmf: np.ndarray, lend: Lender) -> tuple[np.ndarray, list]:
        """The chance of a loan at each grid score for each group ([2, G]) and each group's
        decision (None where the policy is not a randomised threshold)."""
        grid, n_g = self.tab.grid, len(GROUPS)
        if lend.policy == "permissive":
            return np.ones((n_g, len(grid))), [None] * n_g
        if lend.policy == "threshold":
            accept = (grid >= lend.threshold).astype(np.float64)
            return np.tile(accept, (n_g, 1)), [None] * n_g
        weights = self.sizes / max(1, self.sizes.sum())
        if lend.group_weighting == "equal":
            weights = np.full(n_g, 1.0 / n_g)
        groups = {
            GROUPS[g]: lender.Group(grid, pmf[g], self.tab.repay[g], float(weights[g]))
            for g in range(n_g)
        }
        u_r, u_d = lend.utility_repaid, lend.utility_default
        if lend.policy == "rate":
            made = {n: lender.at_rate(g, lend.rate, u_r, u_d) for n, g in groups.items()}
        else:
            made = lender.decide(groups, lend.policy, u_r, u_d)
        decisions = [made[g] for g in GROUPS]
        return np.array([d.accept(grid) for d in decisions]), decisions

    # ---------------------------------------------------------------- the step
    def applicants(self, t: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """This step's applicants (person ids, ascending unless drawn) and their counters."""
        n = len(self.group)
        if self.arrivals == "all":
            who = np.arange(n, dtype=np.int64)
            return who, who
        if self.arrivals == "hazard":
            u = uniforms_at(stream_key(seed, Stream.LENDING, t), 4 * np.arange(n) + 3)
            who = np.flatnonzero(u < self.p_apply).astype(np.int64)
            return who, who
        k = self.draws_per_step
        j = np.arange(k, dtype=np.int64)
        u = uniforms_at(
            stream_key(seed, Stream.LENDING_ARRIVAL, t), np.stack([2 * j, 2 * j + 1]).T.ravel()
        )
        u_group, u_member = u[0::2], u[1::2]
        if self.minority_weight is None:
            return np.minimum((u_member * n).astype(np.int64), n - 1), j
        g = (u_group >= 1.0 - self.minority_weight).astype(np.int64)  # 0 majority, 1 minority
        who = np.empty(k, np.int64)
        for gg in range(len(GROUPS)):
            m = self.members[gg]
            pick = g == gg
            who[pick] = m[np.minimum((u_member[pick] * len(m)).astype(np.int64), len(m) - 1)]
        return who, j

    def step(
        self,
        t: int,
        seed: int,
        shown: np.ndarray,
        own: np.ndarray,
        block_credit: np.ndarray,
        lend: Lender,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Applications, decisions and repayments of step ``t``: the events (agent, act), in
        application order. ``shown``: the scores the lender sees; ``own``: the scores of the
        persons' own true records (Lending.repay_from says which repayment follows)."""
        tab, row = self.tab, self.series[t]
        idx_shown = nearest(tab.grid, shown)
        idx_own = nearest(tab.grid, own)
        idx_true = idx_shown if self.repay_from == "shown" else idx_own
        pmf = self.pmfs(idx_shown)
        accept, decisions = self.policy(pmf, lend)
        rho_all = tab.repay[self.group, idx_true]
        for g in range(len(GROUPS)):
            m = self.members[g]
            row[g, S["mean_score"]] = shown[m].mean() if len(m) else np.nan
            row[g, S["mean_repay"]] = rho_all[m].mean() if len(m) else np.nan
            d = decisions[g]
            if d is None:  # the same measures of a lender who does not optimise
                rho, lent = tab.repay[g], pmf[g] * accept[g]
                good = (pmf[g] * rho).sum()
                row[g, S["threshold"]] = np.nan if lend.policy == "permissive" else lend.threshold
                row[g, S["alpha"]] = 1.0
                row[g, S["selection_rate"]] = lent.sum()
                row[g, S["tpr"]] = (lent * rho).sum() / good if good > 0 else np.nan
                row[g, S["utility"]] = (
                    lent * (rho * lend.utility_repaid + (1 - rho) * lend.utility_default)
                ).sum()
            else:
                row[g, S["threshold"]] = d.threshold
                row[g, S["alpha"]] = d.alpha
                row[g, S["selection_rate"]] = d.selection
                row[g, S["tpr"]] = d.tpr
                row[g, S["utility"]] = d.utility
        who, counters = self.applicants(t, seed)
        if len(who) == 0:
            return np.empty(0, np.int32), np.empty(0, np.uint8)
        key = stream_key(seed, Stream.LENDING, t)
        u = uniforms_at(key, np.stack([4 * counters, 4 * counters + 1, 4 * counters + 2]).T.ravel())
        u_block, u_lend, u_repay = u[0::3], u[1::3], u[2::3]
        grp = self.group[who]
        refused = (block_credit[who] > 0) & (u_block < block_credit[who])
        approved = ~refused & (u_lend < accept[grp, idx_shown[who]])
        by_others = ~refused & ~approved & (u_lend < accept[grp, idx_own[who]])
        would = u_repay < rho_all[who]
        acts = np.full(len(who), A.LOAN_DECLINED, np.uint8)
        acts[refused] = A.LOAN_REFUSED
        acts[approved & would] = A.LOAN_REPAID
        acts[approved & ~would] = A.LOAN_DEFAULT
        for name, mask in (
            ("applicants", np.ones(len(who), bool)),
            ("refused", refused),
            ("approved", approved),
            ("repaid", approved & would),
            ("defaulted", approved & ~would),
            ("would_repay", would),
            ("true_positives", approved & would),
            ("declined_by_others", by_others),
        ):
            row[:, S[name]] = np.bincount(grp[mask], minlength=len(GROUPS))
        return who.astype(np.int32), acts


def scores(ledger) -> tuple[np.ndarray, np.ndarray]:
    """A ledger's shown scores and the scores of the persons' own true records (base + own
    true points, in the shown range)."""
    return ledger.shown(), ledger.shown(ledger.base + ledger.own_true)


def summary(market: Market, shown: np.ndarray, own: np.ndarray) -> dict:
    """Per group over the run: loans and outcomes, the realised selection and true-positive
    rates, the mean score and repayment probability at the start and the end, and the score
    distribution over the grid at the start and the end."""
    tab, ser = market.tab, market.series
    idx_end = nearest(tab.grid, shown)
    idx_true = nearest(tab.grid, shown if market.repay_from == "shown" else own)
    end_pmf = market.pmfs(idx_end)
    start_pmf = market.pmfs(nearest(tab.grid, market.initial))
    out: dict = {"grid": tab.grid.tolist()}
    for g, name in enumerate(GROUPS):
        m = market.members[g]
        tot = ser[:, g, :].sum(axis=0)
        end_mean = float(shown[m].mean()) if len(m) else None
        start_mean = float(ser[0, g, S["mean_score"]]) if len(m) else None
        out[name] = {
            "persons": int(market.sizes[g]),
            "applicants": int(tot[S["applicants"]]),
            "refused": int(tot[S["refused"]]),
            "loans": int(tot[S["approved"]]),
            "repaid": int(tot[S["repaid"]]),
            "defaulted": int(tot[S["defaulted"]]),
            # the lender's policy at the first step (a one-round study's policy)
            "threshold_first": _number(ser[0, g, S["threshold"]]),
            "alpha_first": _number(ser[0, g, S["alpha"]]),
            "selection_rate": _ratio(tot[S["approved"]], tot[S["applicants"]]),
            "tpr": _ratio(tot[S["true_positives"]], tot[S["would_repay"]]),
            "mean_score_start": start_mean,
            "mean_score_end": end_mean,
            "mean_score_change": None if end_mean is None else end_mean - start_mean,
            "mean_repay_start": float(ser[0, g, S["mean_repay"]]) if len(m) else None,
            "mean_repay_end": float(tab.repay[g, idx_true[m]].mean()) if len(m) else None,
            "declined_by_others": int(tot[S["declined_by_others"]]),
            "pmf_start": start_pmf[g].tolist(),
            "pmf_end": end_pmf[g].tolist(),
        }
    return out


# what a reader is shown of a market's summary (results.lending_cells): key, label, kind
ROWS = (
    ("persons", "persons", "int"),
    ("applicants", "applications", "int"),
    ("refused", "refused by a credit sanction", "int"),
    ("threshold_first", "the lender's threshold score (first step)", "num"),
    ("alpha_first", "… share lent to at that score", "num"),
    ("loans", "loans", "int"),
    ("selection_rate", "share of applications lent to", "pct"),
    ("tpr", "true-positive rate (lent to, of those who would repay)", "pct"),
    ("defaulted", "defaults", "int"),
    ("mean_score_start", "mean score at the start", "num"),
    ("mean_score_end", "mean score at the end", "num"),
    ("mean_repay_start", "mean repayment probability at the start", "num"),
    ("mean_repay_end", "mean repayment probability at the end", "num"),
    ("declined_by_others", "declined, though their own record would have passed", "int"),
)


def columns(summary: dict) -> list[tuple[str, dict]]:
    """(header, a group's summary) for each group of the run, then of the twin."""
    out = [(f"{g}", summary["lending"][g]) for g in GROUPS]
    if summary.get("lending_twin"):
        out += [(f"{g}, twin", summary["lending_twin"][g]) for g in GROUPS]
    return out


def _number(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b > 0 else None
