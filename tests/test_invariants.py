"""Invariants of the engine, checked at every step of a small run."""

from __future__ import annotations

import numpy as np
import pytest

from scoresim import Sim, load_scenario
from scoresim.approval import AWARE, INFORMED
from scoresim.network import active_flags
from scoresim.results import Results
from scoresim.tally import KEPT

ARTICLE_SOURCES = tuple(load_scenario("article").sources)


def test_score_equals_base_plus_components(stepped_checks):
    # incremental score vs its components: float32 rounding only
    assert max(stepped_checks["score_err"]) < 0.05


def test_association_sums_follow_active_ties_only(stepped_checks):
    # masked (cut) ties never count: the incremental sums equal a from-scratch recount
    assert max(stepped_checks["assoc_err"]) < 1e-6
    assert max(stepped_checks["deg_err"]) == 0


def test_ties_were_actually_cut(stepped_checks):
    st = stepped_checks["stepped"]
    g = st.sim.society.graph
    active = active_flags(st.run.active, g.entries)
    assert (~active).sum() > 0, "the invariant above must be tested with cuts"
    # both directions of a tie are masked together
    rows = np.repeat(np.arange(g.n), np.diff(g.indptr))
    cut = np.flatnonzero(~active)
    pairs = set(zip(rows[cut].tolist(), g.nbr[cut].tolist(), g.layer[cut].tolist()))
    assert all((b, a, lay) in pairs for a, b, lay in pairs)


def test_list_stock_equals_inflows_minus_outflows(stepped_checks):
    prev = None
    moved = 0
    for stock, inflow, outflow in stepped_checks["stock"]:
        base = prev if prev is not None else np.zeros_like(stock)
        np.testing.assert_array_equal(stock, base + inflow - outflow)
        moved += int(inflow.sum() + outflow.sum())
        prev = stock
    assert moved > 0


def test_twin_applies_no_sanction(stepped_checks):
    assert max(stepped_checks["twin_sanctioned"]) == 0
    assert max(stepped_checks["twin_cut"]) == 0
    assert max(stepped_checks["sanctioned"]) > 0


def test_common_random_numbers_travel_attempts_match_twin(stepped_checks):
    """The wish to travel does not depend on the regime; only what becomes of it does: each
    restricted trip is made another way or forgone (refused or not: a person who knows of a
    restriction mostly does not try), every other trip is taken as in the twin."""
    st = stepped_checks["stepped"]
    res = Results.from_sim(st.sim, 0.0).timeseries()
    alls = res[res.group == "all"].set_index("metric")
    wishes = ("flight_taken", "rail_taken", "trip_substituted", "trip_forgone")
    run = sum(alls.loc[m, "run"].to_numpy() for m in wishes)
    twin = sum(alls.loc[m, "twin"].to_numpy() for m in wishes)
    np.testing.assert_array_equal(run, twin)
    assert alls.loc["flight_blocked", "run"].sum() + alls.loc["rail_blocked", "run"].sum() > 0
    assert alls.loc["trip_forgone", "twin"].sum() == 0


def test_no_false_records_means_nobody_wrongly_sanctioned():
    over = {"sources": {s: {"false_rate": 0.0} for s in ARTICLE_SOURCES}}
    s = Sim("article", n=4000, years=1, seed=7, overrides=over).run().summary()
    assert s["ever_sanctioned_share"] > 0
    assert s["sanctioned_false_records_share"] == 0


def test_no_association_means_nobody_sanctioned_by_association():
    over = {
        "regime": {
            "association": {"mean_weight": 0.0, "listed_penalty": 0.0, "partner_weight": 0.0},
            "sanctions": [
                {"name": "no_flights", "on_list": "blacklist", "effect": "block_flights"}
            ],
        }
    }
    s = Sim("article", n=4000, years=1, seed=7, overrides=over).run().summary()
    assert s["ever_sanctioned_share"] > 0
    assert s["sanctioned_association_only_share"] == s["sanctioned_mixed_share"] == 0


def test_only_false_records_means_nobody_sanctioned_on_true_records():
    """If every record is attributed to the wrong person, no sanction rests on true records."""
    over = {
        "sources": {s: {"false_rate": 1.0} for s in ARTICLE_SOURCES},
        "regime": {"association": {"mean_weight": 0.0, "listed_penalty": 0.0}},
    }
    sim = Sim("article", n=4000, years=1, seed=7, overrides=over)
    res = sim.run()
    ts = res.timeseries()
    alls = ts[ts.group == "all"].set_index("metric")
    assert alls.loc["sanctioned", "run"].sum() > 0
    assert alls.loc["sanctioned_own_true", "run"].sum() == 0
    assert res.summary()["sanctioned_false_records_share"] > 0.5


def test_ranked_is_np_unique_with_its_inverse():
    """The ledger's distinct changed agents and each record's slot among them: what np.unique
    gives, across word edges (63, 64, 65 agents), the scratch bits left all zero."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from scoresim.scoring import _ranked, _sums_by_rank

    @settings(max_examples=200, deadline=None)
    @given(st.integers(1, 300), st.lists(st.integers(0, 10**6), max_size=400))
    def check(n, raw):
        v = np.array([x % n for x in raw], np.int32)
        marks = np.zeros((n + 63) // 64, np.uint64)
        distinct, ranks = _ranked(v, marks)
        unique, inverse = np.unique(v, return_inverse=True)
        assert np.array_equal(distinct, unique)
        assert np.array_equal(ranks, inverse.ravel())
        assert not marks.any()
        # each agent's changes summed in record order, as a column of sums would take them
        delta = (np.arange(len(v), dtype=np.float32) * np.float32(0.1)) - np.float32(7.3)
        column = np.zeros(n, np.float64)
        for agent, d in zip(v, delta):
            column[agent] += d
        assert np.array_equal(_sums_by_rank(ranks, delta, len(distinct)), column[distinct])

    check()


def test_cause_classes_add_up_and_follow_their_rule():
    """Each person ever sanctioned is in exactly one class, and the classes are those the
    rule gives from the person's sanctioned steps (recounted here step by step)."""
    from conftest import Stepped

    from scoresim.results import Results

    st = Stepped("article", n=8000, years=1.5, seed=2, twin=False)
    seen: dict[int, set[int]] = {}
    for _ in st.steps():
        status = st.run.out.status
        for i in np.flatnonzero(status > 0):
            seen.setdefault(int(i), set()).add(int(status[i]))
    want = {"own": 0, "false": 0, "assoc": 0, "mixed": 0}
    for statuses in seen.values():
        if 2 in statuses:
            want["false"] += 1
        elif statuses == {3}:
            want["assoc"] += 1
        elif statuses == {1}:
            want["own"] += 1
        else:
            want["mixed"] += 1
    s = Results.from_sim(st.sim, 0.0).summary()
    counts = s["counts"]
    got = {
        "own": counts["sanctioned_own_true_only_share"]["count"],
        "false": counts["sanctioned_false_records_share"]["count"],
        "assoc": counts["sanctioned_association_only_share"]["count"],
        "mixed": counts["sanctioned_mixed_share"]["count"],
    }
    assert got == want
    assert sum(got.values()) == counts["ever_sanctioned_share"]["count"] == len(seen) > 100
    assert min(want.values()) > 0  # every class occurs, so the test tells them apart
    shares = [s[f"sanctioned_{k}_share"] for k in ("own_true_only", "false_records",
              "association_only", "mixed")]  # fmt: skip
    assert abs(sum(shares) - 1.0) < 1e-9


def _recount_lists(reg, t: int, was_listed: np.ndarray, was_ever: np.ndarray) -> dict:
    """A registry's summary columns counted from scratch over every agent and list."""
    member, since = reg.member, reg.since
    listed = member.any(axis=0)
    return {
        "listed": listed,
        "long_listed": ((since >= 0) & (t - since >= reg.two_years)).any(axis=0),
        "joined": listed & ~was_listed,
        "left": was_listed & ~listed,
        "ever": was_ever | listed,
        "visible": (reg.public[:, None] & member & (t - since >= reg.lag[:, None])).any(axis=0),
    }


@pytest.mark.parametrize(
    "scenario, overrides, years",
    [
        # notice before listing, appeals, credit repair, delistings kept on a false ground
        ("eu-safeguards", {"false_records": {"kept_share": 0.5, "kept_days": 60}}, 1.5),
        ("article", None, 1.0),  # public lists, a firms' grade list, association
        ("article-rollout", None, 2.2),  # pilots, and two changes of the rules carried over
    ],
)
def test_list_columns_kept_by_change_equal_a_recount(scenario, overrides, years):
    """A step of the lists reads and writes only the agents they touch (``Registry.on``) and
    the step's entrants; every column they keep — on a list, for two years, ever, joined or
    left this step, visible — equals a recount over every agent and list at every step, and
    every member is among those touched (also across a change of the rules)."""
    sim = Sim(scenario, overrides=overrides, n=6000, years=years, seed=7, twin=False).build()
    prev, flips = {}, []

    def check(t: int) -> None:
        for side in ("registry", "firm_registry"):
            reg = getattr(sim.worlds[0], side)  # (a change of the rules rebuilds the world)
            was_listed, was_ever = prev.get(side, (np.zeros_like(reg.listed),) * 2)
            want = _recount_lists(reg, t, was_listed, was_ever)
            for name, col in want.items():
                if name == "visible" and not reg.public.any():
                    continue  # (left as it is without public lists)
                assert np.array_equal(getattr(reg, name), col), (side, t, name)
            assert np.all(np.diff(reg.on) > 0)
            assert np.isin(np.flatnonzero(reg.member.any(axis=0)), reg.on).all()
            assert np.array_equal(reg.stock(), reg.member.sum(axis=1))
            prev[side] = (reg.listed.copy(), reg.ever.copy())
            flips.append(int(want["joined"].sum() + want["left"].sum()))

    sim.run(after_step=check)
    assert sum(flips) > 10, flips  # the lists moved


def test_the_cells_recorded_equal_a_recount_by_cell():
    """Every step, each cell's counts of persons (employed, isolated, aware, approving,
    approving and aware, informed, approving and informed) and of active ties equal a recount
    over every person, and its sums (income, watched, scores, approval) one within float
    rounding; counted in blocks of a few persons (the pass's packed counts) the same table
    comes out. (Ties, jobs and income are kept by change: tally.py, tests/test_tally.py.)"""
    from scoresim import metrics as M

    sim = Sim("article", n=4000, years=0.5, seed=9, twin=False).build()
    w = sim.worlds[0]
    rec = w.recorder
    name = {m: M.ALL_PERSON_METRICS.index(m) for m in M.LIVING + KEPT}
    seen = []

    def check(t: int) -> None:
        st, ap = w.state, w.approval
        cell = rec.cell
        x = ap.logit()
        yes, aware, informed = x >= 0, ap.state.aware, ap.state.informed

        def count(v):
            return np.bincount(cell, weights=np.asarray(v, np.float64), minlength=M.N_CELLS)

        want = {
            "employed": count(st.employed & (w.s.persons.employer >= 0)),
            "isolated": count(w.deg_active == 0),
            "active_ties": count(w.deg_active),
            "aware": count(aware),
            "approving": count(yes),
            "approving_aware": count(yes & aware),
            "informed": count(informed),
            "approving_informed": count(yes & informed),
        }
        for m, v in want.items():
            assert np.array_equal(rec.cells[t][:, name[m]], v), (t, m)
        sums = {
            "income": count(w.income()),
            "watched": count(st.watched),
            "score_sum": count(w.ledger.score),
            "approval": count(1.0 / (1.0 + np.exp(-x.astype(np.float64)))),
        }
        for m, v in sums.items():
            np.testing.assert_allclose(rec.cells[t][:, name[m]], v, rtol=1e-6, err_msg=m)
        seen.append(int(want["approving"].sum()))

    sim.run(after_step=check)
    assert len(set(seen)) > 1 and 0 < seen[-1] < 4000  # approval moved, and splits persons
    # counted in blocks of 7 persons, every field of the packed counts filled: the same
    rng = np.random.default_rng(2)
    n = 5000

    def flags(p):
        return rng.random(n) < p

    cell = rng.integers(0, M.N_CELLS, n).astype(rec.cell.dtype)
    living = M.Living(np.zeros(n + 1, np.int64), np.empty(0, np.uint64),  # (ties: tally.py)
                      rng.random(n).astype(np.float32), rng.normal(900, 50, n).astype(np.float32),
                      np.empty(0, np.uint8))  # fmt: skip
    aware, informed = flags(0.5), flags(0.4)
    bits = aware * np.uint8(AWARE) | informed * np.uint8(INFORMED)
    opinion = M.Opinion(rng.normal(0, 1, n).astype(np.float32), np.zeros(n, np.float32),
                        bits.astype(np.uint8), flags(0.5), np.float32(0.3))  # fmt: skip
    width = len(M.LIVING)
    once, often = np.zeros((M.N_CELLS, width)), np.zeros((M.N_CELLS, width))
    M._add_living(cell, living, opinion, 0, n, once)
    M._add_living(cell, living, opinion, 0, n, often, 7)
    assert np.array_equal(once, often)
    x = opinion.base + informed * opinion.reached * np.float32(0.3)
    yes = x >= 0
    counted = {"aware": aware, "approving": yes, "approving_aware": yes & aware,
               "informed": informed, "approving_informed": yes & informed}  # fmt: skip
    for m, v in counted.items():
        assert np.array_equal(once[:, M.LIVING.index(m)], np.bincount(cell, v, M.N_CELLS)), m
    # one cell, every person counted in every field: as many as a field holds, in full blocks
    n = int(M.FIELD)
    yes = np.ones(n, bool)
    none = np.zeros(n, np.float32)
    living = M.Living(np.zeros(n + 1, np.int64), np.empty(0, np.uint64), none, none,
                      np.empty(0, np.uint8))  # fmt: skip
    opinion = M.Opinion(np.ones(n, np.float32), np.zeros(n, np.float32),
                        np.full(n, AWARE | INFORMED, np.uint8), np.empty(0, bool),
                        np.float32(0.0))  # fmt: skip
    full = np.zeros((M.N_CELLS, width))
    M._add_living(np.zeros(n, np.int32), living, opinion, 0, n, full)
    for m in counted:
        assert full[0, M.LIVING.index(m)] == n, m
    with pytest.raises(ValueError, match="field"):
        M._add_living(np.zeros(n, np.int32), living, opinion, 0, n, full, n + 1)


def test_acts_and_records_are_counted_in_their_persons_cells():
    """Each person act counts in its column of its person's cell (a firm's act nowhere), each
    record in the records column, a false one in the false-records column too: what counting
    with np.bincount first gives."""
    from scoresim import metrics as M
    from scoresim.acts import ACTS, N_ACTS

    rng = np.random.default_rng(4)
    n, k = 3000, 20_000
    cell = rng.integers(0, M.N_CELLS, n).astype(np.int32)
    cols = np.array([M.ALL_PERSON_METRICS.index(a.name) if a.subject == "person" else -1
                     for a in ACTS])  # fmt: skip
    agent = np.sort(rng.integers(0, n, k)).astype(np.int32)
    act = rng.integers(0, N_ACTS, k).astype(np.uint8)
    subject, true = rng.integers(0, n, k // 2).astype(np.int32), rng.random(k // 2) < 0.8
    got = np.zeros((M.N_CELLS, len(M.ALL_PERSON_METRICS)))
    M._count_acts_and_records(cell, agent, act, cols, subject, true, got)
    want = np.zeros_like(got)
    counts = np.bincount(cell[agent] * N_ACTS + act, minlength=M.N_CELLS * N_ACTS)
    counts = counts.reshape(M.N_CELLS, N_ACTS)
    person = cols >= 0
    assert (~person).any()  # firms' acts are in the draw, and must count nowhere
    want[:, cols[person]] += counts[:, person]
    want[:, M.PM["records"]] += np.bincount(cell[subject], minlength=M.N_CELLS)
    want[:, M.PM["false_records"]] += np.bincount(cell[subject[~true]], minlength=M.N_CELLS)
    assert np.array_equal(got, want) and want[:, M.PM["false_records"]].sum() > 0


def test_the_lists_columns_recorded_equal_a_recount_also_when_the_lists_end():
    """Every step and world, each cell's list and sanction counts (on a list, joined, left,
    visible, long listed, sanctioned by status, applications, unrelated, disproportionate,
    rewarded, household spill-over) equal a recount over every person — including the twin,
    whose pass skips them (nobody listed or sanctioned), and the steps after the rules
    drop every list and sanction, when the last members leave."""
    from scoresim import metrics as M

    over = {"schedule": [{"at": 0.4, "regime_from": "none"}]}
    sim = Sim("article", overrides=over, n=5000, years=0.7, seed=3).build()
    name = {m: M.ALL_PERSON_METRICS.index(m) for m in M.LISTING}
    left_at_end = []

    def check(t: int) -> None:
        for w in sim.worlds:  # (a change of the rules rebuilds the worlds)
            reg, out = w.registry, w.out
            want = {
                "listed": reg.listed, "list_inflow": reg.joined, "list_outflow": reg.left,
                "visible_listed": reg.visible, "long_listed": reg.long_listed,
                "sanctioned": out.status > 0, "sanctioned_own_true": out.status == 1,
                "wrongly_sanctioned": out.status == 2,
                "association_sanctioned": out.status == 3,
                "sanction_applications": out.applied, "unrelated_applications": out.unrelated,
                "disproportionate": out.disproportionate, "rewarded": out.rewarded,
                "household_spillover": w.spill,
            }  # fmt: skip
            for m, v in want.items():
                got = w.recorder.cells[t][:, name[m]]
                v = np.bincount(w.recorder.cell, np.asarray(v, np.float64), M.N_CELLS)
                assert np.array_equal(got, v), (t, w.regime.name, m)
            # the visible are found among those the lists touch, not by a pass over everyone
            assert np.array_equal(reg.visible_ones(), np.flatnonzero(reg.visible))
        left_at_end.append(int(sim.worlds[0].registry.left.sum()))
        visible_seen.append(len(sim.worlds[0].registry.visible_ones()))

    visible_seen = []
    sim.run(after_step=check)
    assert max(visible_seen) > 0
    change = round(0.4 * 52)
    assert max(left_at_end[:change]) > 0 and left_at_end[change] > 0  # the lists ended there
    assert sum(left_at_end[change + 1 :]) == 0
