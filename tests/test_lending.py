"""The credit market in the engine (lending.py): one round over the FICO tables equals its
closed form; a permissive lender's buckets follow their Markov chain to its stationary
distribution; max-util's threshold makes the buckets below it absorbing; saturating rules
and the market's refusals."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import resumed_after

from scoresim import Sim, fico, lender
from scoresim.lending import GROUPS, S
from scoresim.network import Graph
from scoresim.scenario import ScenarioError
from scoresim.scoring import Ledger, compile_rules

FICO_COLUMN = {"majority": "white", "minority": "black"}
MOVES = lender.Moves(clip="outcome")  # the simulation moves each outcome, clipped


def _one_round(policy: str, u_default: float, n: int = 100_000):
    over = {"regime": {"lender": {"policy": policy, "utility_default": u_default}}}
    sim = Sim("lending-liu2018", n=n, seed=7, overrides=over)
    res = sim.run()
    return res.summary()["lending"], res.lending


def _groups(summary) -> dict[str, lender.Group]:
    f = fico.load()
    grid = fico.to_fico(f.scores)
    total = sum(summary[g]["persons"] for g in GROUPS)
    return {
        g: lender.Group(
            grid,
            np.array(summary[g]["pmf_start"]),
            f.repay[FICO_COLUMN[g]],
            summary[g]["persons"] / total,
        )
        for g in GROUPS
    }


@pytest.mark.parametrize("u_default", [-4.0, -10.0])
@pytest.mark.parametrize("policy", lender.POLICIES)
def test_one_round_in_the_engine_equals_the_closed_form(policy, u_default):
    """Every person applies once: the realised selection rate, true-positive rate and change
    of each group's mean score lie within 4 standard errors of the policy's closed form over
    the group's starting scores; the constraint holds exactly in the lender's policy."""
    summary, series = _one_round(policy, u_default)
    groups = _groups(summary)
    made = lender.decide(groups, policy, 1.0, u_default)
    grid = groups["majority"].scores
    for g in GROUPS:
        got, d, grp = summary[g], made[g], groups[g]
        n = got["persons"]
        assert got["applicants"] == n
        se = np.sqrt(d.selection * (1 - d.selection) / n)
        assert abs(got["selection_rate"] - d.selection) <= 4 * se + 1e-12
        # per person: a loan with chance a, then up or down; its mean and variance
        a = d.accept(grid)
        up = np.clip(grid + MOVES.gain, MOVES.low, MOVES.high) - grid
        down = np.clip(grid - MOVES.loss, MOVES.low, MOVES.high) - grid
        mean = a * (grp.repay * up + (1 - grp.repay) * down)
        var = a * (grp.repay * up**2 + (1 - grp.repay) * down**2) - mean**2
        closed = lender.outcome(grp, d, grid, MOVES)
        se_mu = np.sqrt((grp.pmf * var).sum() / n)
        assert abs(got["mean_score_change"] - closed) <= 4 * se_mu + 0.01  # float32 scores
        good = n * (grp.pmf * grp.repay).sum()  # applicants who would repay, expected
        se_tpr = np.sqrt(d.tpr * (1 - d.tpr) / good)
        assert abs(got["tpr"] - d.tpr) <= 4 * se_tpr + 1e-12
    step0 = series[series.step == 0].set_index("group")
    key = {"demographic_parity": "selection_rate", "equal_opportunity": "tpr"}.get(policy)
    if key is not None:
        assert step0.loc["majority", key] == pytest.approx(step0.loc["minority", key], abs=1e-12)


def test_liu_claims_hold_in_the_engine_at_minus_four():
    """Liu et al.: under utility -4 demographic parity lowers the Black group's mean score
    (active harm); equal opportunity raises it, less than max-util (relative harm at most)."""
    dp, _ = _one_round("demographic_parity", -4.0, 50_000)
    eo, _ = _one_round("equal_opportunity", -4.0, 50_000)
    mu, _ = _one_round("max_util", -4.0, 50_000)
    assert dp["minority"]["mean_score_change"] < -10
    assert 0 < eo["minority"]["mean_score_change"] < mu["minority"]["mean_score_change"]


def _chain(repay: np.ndarray) -> np.ndarray:
    """The bucket chain of a lender who lends to everyone, every step."""
    k = len(repay)
    T = np.zeros((k, k))
    for b in range(k):
        T[b, min(b + 1, k - 1)] += repay[b]
        T[b, max(b - 1, 0)] += 1 - repay[b]
    return T


def test_a_permissive_lenders_buckets_follow_their_markov_chain_to_its_stationary_law():
    over = {
        "population": {"persons": 20_000},
        "lending": {"arrivals": "all"},
        "regime": {"lender": {"policy": "permissive"}},
        "run": {"step": "week", "years": 701 * 7 / 365.25},
    }
    sim = Sim("lending-damour2020", seed=3, overrides=over).build()
    w = sim.worlds[0]
    market = w.market
    repay = market.tab.repay[0]
    T = _chain(repay)
    # stationary law by linear algebra: pi T = pi, sum 1; detailed balance checks it
    A = np.vstack([T.T - np.eye(7), np.ones(7)])
    pi = np.linalg.lstsq(A, np.r_[np.zeros(7), 1.0], rcond=None)[0]
    assert np.allclose(pi @ T, pi, atol=1e-12)
    for b in range(6):
        assert pi[b + 1] * (1 - repay[b + 1]) == pytest.approx(pi[b] * repay[b], abs=1e-12)
    start = np.rint(market.initial).astype(int)
    n_start = [np.bincount(start[market.members[g]], minlength=7) for g in range(2)]
    t = 0
    for m in (1, 10, 50, 700):
        while t < m:
            w.step(t)
            t += 1
        buckets = np.rint(w.ledger.shown()).astype(int)
        P = np.linalg.matrix_power(T, m)
        for g in range(2):
            count = np.bincount(buckets[market.members[g]], minlength=7)
            expect = n_start[g] @ P  # each person's own chain from their starting bucket
            var = (n_start[g][:, None] * P * (1 - P)).sum(axis=0)
            assert np.all(np.abs(count - expect) <= 4 * np.sqrt(var) + 1e-9), (m, g)
            if m == 700:  # forgotten where it started: the stationary law
                assert np.allclose(expect / n_start[g].sum(), pi, atol=1e-4)


def test_max_util_makes_the_buckets_below_its_threshold_absorbing():
    """A max-util lender (break-even repayment 0.5) lends to buckets 3-6 only: nobody in
    buckets 0-2 ever gets a loan, so nobody leaves them, buckets 0 and 1 never change, and
    both groups' credit (mean repayment probability) declines."""
    sim = Sim("lending-damour2020", seed=5, years=3000 / 365.25).build()
    w = sim.worlds[0]
    start = w.ledger.shown().copy()
    for t in range(sim.scenario.run.steps):
        before = w.ledger.shown().copy()
        w.step(t)
        assert np.all(w.ledger.shown()[before < 3] == before[before < 3])
    end = w.ledger.shown()
    assert np.array_equal(end[start < 2], start[start < 2])
    assert (end < 3).sum() > (start < 3).sum()  # the absorbing buckets filled
    ser = w.market.series
    assert np.all(ser[-1, :, S["mean_repay"]] < ser[0, :, S["mean_repay"]])  # credit declines
    # the lowest approved score held by anyone: 3, or above once a group has left bucket 3
    assert np.all(ser[:, :, S["threshold"]] >= 3.0) and np.any(ser[:, :, S["threshold"]] == 3.0)


def test_equal_opportunity_lends_more_to_the_disadvantaged_group_than_max_util():
    """D'Amour et al.: equal opportunity gives the group that starts lower more loans than
    max-util does (one seed, 3,000 applications)."""
    years = 3000 / 365.25
    mu = Sim("lending-damour2020", seed=11, years=years).run().summary()["lending"]
    eo = Sim(
        "lending-damour2020",
        seed=11,
        years=years,
        overrides={"regime": {"lender": {"policy": "equal_opportunity"}}},
    ).run()
    s = eo.summary()["lending"]
    assert s["minority"]["loans"] > 1.1 * mu["minority"]["loans"]
    step = eo.lending[eo.lending.world == "run"]
    tpr = step.pivot(index="step", columns="group", values="tpr")
    assert np.allclose(tpr["majority"], tpr["minority"], atol=1e-12)


def test_a_saturating_rule_keeps_the_score_in_its_range_record_by_record():
    graph = Graph(np.zeros(5, np.int64), np.zeros(0, np.uint32))
    from scoresim.scenario import Regime

    regime = Regime.model_validate(
        {
            "scoring": {"family": "points", "base": 0.0, "range": [0.0, 6.0]},
            "rules": [
                {"record": "loan_repaid", "points": 1, "expiry_years": 0, "saturate": True},
                {"record": "loan_default", "points": -1, "expiry_years": 0, "saturate": True},
            ],
        }
    )
    rules = compile_rules(regime, "person", 1 / 52)
    led = Ledger(4, 0.0, [], graph, np.ones(5), 0.0, 0.0, 0, rules, (0.0, 6.0))
    led.seed(np.array([6.0, 6.0, 0.0, 7.0]), np.zeros(0, np.uint8))

    class Records:
        def __init__(self, subject, act):
            self.subject = np.array(subject, np.int32)
            self.act = np.array(act, np.uint8)
            self.true = np.ones(len(subject), bool)
            self.source = np.zeros(len(subject), np.int16)

        def __len__(self):
            return len(self.subject)

    from scoresim.acts import LOAN_DEFAULT, LOAN_REPAID

    apply = lambda t, r: led.apply(t, r, None, np.zeros(0, np.uint8), np.zeros(1, bool))  # noqa: E731
    apply(
        0,
        Records(
            [0, 1, 1, 2, 3, 3],
            [LOAN_REPAID, LOAN_REPAID, LOAN_DEFAULT, LOAN_DEFAULT, LOAN_REPAID, LOAN_DEFAULT],
        ),
    )
    # 6 + 1 stays 6; 6 + 1 then - 1 gives 5 (unclamped it would be 6); 0 - 1 stays 0; a score
    # other rules put beyond the top is not pulled back by a repayment, and a default lowers it
    assert led.score.tolist() == [6.0, 5.0, 0.0, 6.0]
    assert led.own_true.tolist() == [6.0, 5.0, 0.0, 6.0]


@pytest.mark.parametrize(
    ("over", "key"),
    [
        ({"lending": {"initial": {"majority": [0.5, 0.4], "minority": [0.5, 0.5]}, "grid": [0, 1],
          "repay": {"majority": [0.1, 0.2], "minority": [0.1, 0.2]}}}, "lending.initial.majority"),
        ({"lending": {"grid": [0, 0, 1]}}, "lending.grid"),
        ({"regime": {"rules": [{"record": "loan_repaid", "points": 1, "expiry_years": 1,
                                "saturate": True}]}}, "regime.rules[0].saturate"),
        ({"lending": {"enabled": False}}, "regime.lender.policy"),
        ({"lending": {"group_weights": [1.0]}}, "lending.group_weights"),
        ({"population": {"minority_share": 0.0}}, "lending.group_weights"),
        ({"regime": {"safeguards": {"max_record_age_years": 1.0}}},
         "regime.safeguards.max_record_age_years"),
    ],
)  # fmt: skip
def test_bad_lending_input_names_its_key(over, key):
    with pytest.raises(ScenarioError) as e:
        Sim("lending-damour2020", overrides=over)
    assert key in str(e.value)


def test_the_market_opens_with_the_run_not_in_the_burn_in():
    """A society that lives a burn-in first (the default for scenarios built on article's):
    the market's first step is the run's first."""
    over = {"run": {"burn_in_years": 0.2}}
    res = Sim("lending-liu2018", n=2000, seed=1, overrides=over).run()
    assert res.lending.step.min() == 0 and res.summary()["lending"]["majority"]["loans"] > 0


def test_a_lending_run_resumed_half_way_equals_the_whole_run(tmp_path):
    over = {"regime": {"lender": {"policy": "equal_opportunity"}}}
    kw = dict(seed=4, years=400 / 365.25, overrides=over)
    whole = Sim("lending-damour2020", **kw).run()
    resumed = resumed_after("lending-damour2020", 150, tmp_path, **kw)
    assert resumed.summary() == whole.summary()
    assert resumed.lending.equals(whole.lending)


def test_association_declines_persons_whose_own_record_would_pass():
    """Over the society's network, with association on, the lender declines some applicants
    whom their own record's score would have passed (declined_by_others); with association
    off, nobody."""
    counts = {}
    for weight in (0.0, 0.6):
        over = {
            "lending": {"arrivals": "hazard", "applications_per_year": 2.0},
            "regime": {
                "scoring": {"base": 650.0},
                "association": {"enabled": weight > 0, "mean_weight": weight},
            },
            "run": {"years": 0.5},
        }
        res = Sim("lending-liu2018", n=20_000, seed=2, overrides=over).run()
        counts[weight] = res.lending["declined_by_others"].sum()
        assert res.summary()["lending"]["minority"]["applicants"] > 0
    assert counts[0.0] == 0 and counts[0.6] > 0


def test_the_memory_guard_names_the_steps_when_they_fill_the_memory(monkeypatch):
    """A long run of a small society (D'Amour's 20,000 daily steps) fills memory with its
    per-step tables, not with persons: the refusal names run.years and what fits."""
    from scoresim import sim as sim_module

    sc = Sim("lending-damour2020").scenario
    monkeypatch.setattr(sim_module, "available_bytes", lambda: 2_000_000_000)
    with pytest.raises(ScenarioError) as e:
        sim_module.check_memory(sc)
    msg = str(e.value)
    assert "run.years" in msg and "longest run that fits" in msg
    fits = float(msg.split("about ")[-1].split(" years")[0])
    assert 0 < fits < sc.run.years
    sc.run.years = fits * 0.98  # what it says fits, fits
    sim_module.check_memory(sc)
