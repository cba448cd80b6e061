"""Lender policies over discrete scores (docs/design/lending.md; issue 16, first slice).

A lender who knows each group's score distribution and repayment probability at each score
(the oracle both Liu et al. 2018 and D'Amour et al. 2020 assume) lends from the top score
down: everyone above a threshold, a share ``alpha`` of those at it, nobody below. Policies:
- ``max_util``: each group's threshold that maximises the lender's expected utility
  (repaid loan ``u_repay``, default ``u_default``);
- ``demographic_parity``: one selection rate for every group, the utility-maximising one;
- ``equal_opportunity``: one true-positive rate (the share of those who would repay who get a
  loan) for every group, the utility-maximising one.
The constrained optima are exact: utility is piecewise linear in the common rate, so its
maximum is at a kink, and every kink is evaluated. Randomising at the boundary score meets a
constraint exactly where scores are discrete.

``outcome`` gives the expected change of each group's mean score after one round (Liu et
al.'s Δμ): repaying and defaulting move a score as ``Moves`` says, on the FICO scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POLICIES = ("max_util", "demographic_parity", "equal_opportunity")


@dataclass
class Group:
    """One group's scores (ascending), its probability mass and repayment at each, and its
    weight in the lender's utility (its share of applicants)."""

    scores: np.ndarray
    pmf: np.ndarray
    repay: np.ndarray
    weight: float


@dataclass
class Decision:
    """A threshold policy: lend to every score above ``threshold``, to a share ``alpha`` at
    it; with what it selects, its true-positive rate and its expected utility per applicant."""

    threshold: float
    alpha: float
    selection: float
    tpr: float
    utility: float

    def accept(self, scores: np.ndarray) -> np.ndarray:
        """The chance of a loan at each score."""
        return np.where(
            scores > self.threshold, 1.0, np.where(scores == self.threshold, self.alpha, 0.0)
        )


def _from_top(g: Group, u_repay: float, u_default: float) -> dict[str, np.ndarray]:
    """Cumulative mass, true-positive rate and utility of lending to the top k scores, for
    k = 0 .. len (scores from the highest down)."""
    order = np.argsort(-g.scores, kind="stable")
    p, r = g.pmf[order], g.repay[order]
    good = float((g.pmf * g.repay).sum())
    zero = np.zeros(1)
    return {
        "order": order,
        "mass": np.concatenate([zero, np.cumsum(p)]),
        "tpr": np.concatenate([zero, np.cumsum(p * r) / good])
        if good > 0
        else np.zeros(len(p) + 1),
        "utility": np.concatenate([zero, np.cumsum(p * (r * u_repay + (1 - r) * u_default))]),
    }


def _at(g: Group, cum: dict, key: str, target: float) -> Decision:
    """The threshold policy whose cumulative ``key`` (mass or tpr) reaches ``target``."""
    x = cum[key]
    target = float(np.clip(target, 0.0, x[-1]))
    k = int(np.searchsorted(x, target, side="left"))  # x[k-1] < target <= x[k]
    if k == 0:  # lend to nobody
        top = g.scores[cum["order"][0]]
        return Decision(float(top), 0.0, 0.0, 0.0, 0.0)
    step = x[k] - x[k - 1]
    alpha = 1.0 if step <= 0 else (target - x[k - 1]) / step
    threshold = float(g.scores[cum["order"][k - 1]])

    def interp(name: str) -> float:
        return float(cum[name][k - 1] + alpha * (cum[name][k] - cum[name][k - 1]))

    return Decision(threshold, float(alpha), interp("mass"), interp("tpr"), interp("utility"))


def at_rate(g: Group, rate: float, u_repay: float = 1.0, u_default: float = -4.0) -> Decision:
    """The threshold policy that lends to the group's top ``rate`` share (a point of its
    outcome curve)."""
    return _at(g, _from_top(g, u_repay, u_default), "mass", rate)


def decide(
    groups: dict[str, Group], policy: str, u_repay: float = 1.0, u_default: float = -4.0
) -> dict[str, Decision]:
    """Each group's threshold policy under ``policy`` (POLICIES)."""
    if policy not in POLICIES:
        raise ValueError(f"policy {policy!r}: allowed {', '.join(POLICIES)}")
    cum = {name: _from_top(g, u_repay, u_default) for name, g in groups.items()}
    if policy == "max_util":
        out = {}
        for name, g in groups.items():
            k = int(np.argmax(cum[name]["utility"]))
            out[name] = _at(g, cum[name], "mass", cum[name]["mass"][k])
        return out
    key = "mass" if policy == "demographic_parity" else "tpr"
    kinks = np.unique(np.concatenate([np.clip(c[key], 0.0, 1.0) for c in cum.values()]))
    best, best_u = None, -np.inf
    for level in kinks:  # utility is linear between kinks: the optimum is at one of them
        made = {name: _at(g, cum[name], key, level) for name, g in groups.items()}
        u = sum(groups[n].weight * d.utility for n, d in made.items())
        if u > best_u + 1e-15:
            best, best_u = made, u
    return best


@dataclass(frozen=True)
class Moves:
    """How a loan moves its recipient's score (FICO points): up by ``gain`` on repayment,
    down by ``loss`` on default, kept within ``low``..``high``. ``clip="expected"`` clips each
    score's expected move (as Liu et al.'s code does); ``"outcome"`` clips each outcome (as a
    simulation of single loans does). The defaults are Liu et al.'s."""

    gain: float = 75.0
    loss: float = 150.0
    low: float = 300.0
    high: float = 850.0
    clip: str = "expected"

    def expected(self, fico: np.ndarray, repay: np.ndarray) -> np.ndarray:
        """Each score's expected move after a loan."""
        if self.clip == "expected":
            return (
                np.clip(fico + repay * self.gain - (1 - repay) * self.loss, self.low, self.high)
                - fico
            )
        if self.clip == "outcome":
            up = np.clip(fico + self.gain, self.low, self.high) - fico
            down = np.clip(fico - self.loss, self.low, self.high) - fico
            return repay * up + (1 - repay) * down
        raise ValueError(f"clip {self.clip!r}: allowed expected, outcome")


def outcome_curve(
    g: Group, fico: np.ndarray, moves: Moves = Moves()
) -> tuple[np.ndarray, np.ndarray]:
    """Liu et al.'s outcome curve: the expected change of the group's mean score against its
    selection rate, lending from the top score down (piecewise linear between the kinks
    returned: selection rates and Δμ)."""
    order = np.argsort(-g.scores, kind="stable")
    move = moves.expected(fico, g.repay)[order]
    p = g.pmf[order]
    return np.concatenate([[0.0], np.cumsum(p)]), np.concatenate([[0.0], np.cumsum(p * move)])


def outcome(g: Group, d: Decision, fico: np.ndarray, moves: Moves = Moves()) -> float:
    """The expected change of the group's mean score after one round of ``d``, on the FICO
    scale (``fico``: each score's FICO points)."""
    return float((g.pmf * d.accept(g.scores) * moves.expected(fico, g.repay)).sum())
