"""Lender policies over the FICO tables: constraints met, optima exact, Δμ as Liu et al."""

from __future__ import annotations

import numpy as np
import pytest

from scoresim.fico import load, to_fico
from scoresim.lender import Decision, Group, Moves, decide, outcome, outcome_curve


@pytest.fixture(scope="module")
def groups():
    f = load()
    total = f.totals["black"] + f.totals["white"]
    return {
        g: Group(f.scores, f.pmf[g], f.repay[g], f.totals[g] / total) for g in ("black", "white")
    }


def _threshold_policies(g: Group, u_default: float):
    """Every threshold policy on a grid: (selection, tpr, utility)."""
    order = np.argsort(-g.scores)
    good = (g.pmf * g.repay).sum()
    for k in range(len(order)):
        for alpha in np.linspace(0, 1, 11):
            a = np.zeros(len(order))
            a[order[:k]] = 1.0
            a[order[k]] = alpha
            u = (g.pmf * a * (g.repay - (1 - g.repay) * -u_default)).sum()
            yield (g.pmf * a).sum(), (g.pmf * a * g.repay).sum() / good, u


@pytest.mark.parametrize("u_default", [-4.0, -10.0])
def test_constraints_hold_exactly_and_the_optima_beat_every_threshold_policy(groups, u_default):
    dp = decide(groups, "demographic_parity", 1.0, u_default)
    eo = decide(groups, "equal_opportunity", 1.0, u_default)
    mu = decide(groups, "max_util", 1.0, u_default)
    assert dp["black"].selection == pytest.approx(dp["white"].selection, abs=1e-12)
    assert eo["black"].tpr == pytest.approx(eo["white"].tpr, abs=1e-12)
    w = {n: g.weight for n, g in groups.items()}
    # max-util: no threshold policy of a group does better
    for name, g in groups.items():
        best = max(u for _, _, u in _threshold_policies(g, u_default))
        assert mu[name].utility >= best - 1e-12
    # the constrained optima: no pair of policies meeting the constraint (on a grid) does better
    black = list(_threshold_policies(groups["black"], u_default))
    white = list(_threshold_policies(groups["white"], u_default))
    for d, col in ((dp, 0), (eo, 1)):
        got = sum(w[n] * d[n].utility for n in d)
        xs = np.array([p[col] for p in white])
        for p in black[::7]:
            j = int(np.argmin(np.abs(xs - p[col])))
            if abs(xs[j] - p[col]) < 1e-3:
                assert got >= w["black"] * p[2] + w["white"] * white[j][2] - 2e-3


def test_the_outcome_closed_form_equals_lending_to_many_applicants(groups):
    """Δμ clipped per loan (what a simulation of single loans gives) is the expectation over
    applicants drawn from the group's scores: 400,000 applicants agree within 4 standard
    errors."""
    rng = np.random.default_rng(7)
    g = groups["black"]
    d = decide(groups, "max_util", 1.0, -4.0)["black"]
    fico = to_fico(g.scores)
    n = 400_000
    at = rng.choice(len(g.scores), size=n, p=g.pmf)
    lent = rng.random(n) < d.accept(g.scores)[at]
    repaid = rng.random(n) < g.repay[at]
    new = np.where(repaid, np.minimum(fico[at] + 75, 850), np.maximum(fico[at] - 150, 300))
    move = np.where(lent, new - fico[at], 0.0)
    want = outcome(g, d, fico, Moves(clip="outcome"))
    assert abs(move.mean() - want) < 4 * move.std() / np.sqrt(n)
    assert want != pytest.approx(outcome(g, d, fico, Moves(clip="expected")), abs=1e-9)


def test_liu_et_al_qualitative_claims(groups):
    """Under a default's utility of -4, demographic parity lowers the disadvantaged group's
    mean score (active harm), and equal opportunity raises it less than max-util (relative
    harm) [Liu et al. 2018]; at -10 both constraints raise it."""
    fico = to_fico(groups["black"].scores)

    def dmu(policy, u_default):
        return outcome(groups["black"], decide(groups, policy, 1.0, u_default)["black"], fico)

    assert dmu("demographic_parity", -4) < 0 < dmu("equal_opportunity", -4) < dmu("max_util", -4)
    assert dmu("demographic_parity", -10) > 0 and dmu("equal_opportunity", -10) > 0


def test_transrisk_to_fico_follows_the_national_bands():
    assert to_fico([0.0, 2.1, 6.3, 100.0]).tolist() == pytest.approx([300, 350, 400, 850])
    assert np.all(np.diff(to_fico(np.linspace(0, 100, 201))) > 0)


def test_a_decision_lends_above_its_threshold_and_a_share_at_it():
    d = Decision(50.0, 0.25, 0.0, 0.0, 0.0)
    assert d.accept(np.array([49.5, 50.0, 50.5])).tolist() == [0.0, 0.25, 1.0]


@pytest.mark.parametrize("policy", ["max_util", "demographic_parity", "equal_opportunity"])
def test_each_policy_lies_on_its_groups_outcome_curve(groups, policy):
    """A policy lends from the top, so its Δμ is the outcome curve at its selection rate."""
    fico = to_fico(groups["black"].scores)
    for name, d in decide(groups, policy, 1.0, -4.0).items():
        sel, dmu = outcome_curve(groups[name], fico)
        assert np.interp(d.selection, sel, dmu) == pytest.approx(outcome(groups[name], d, fico))
