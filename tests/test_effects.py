"""Every sanction effect is real: switched on alone, exactly the outcome it names leaves the
twin's; switched off (no sanction, or a neutral strength), nothing does. And the effects
the engine cannot apply to an agent are refused when the scenario is read."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoresim import Sim
from scoresim.scenario import ScenarioError

# The outcomes compared with the twin: summed over the run (group "all").
OUTCOMES = (
    "missed_payment",
    "flight_blocked",
    "rail_blocked",
    "luxury_blocked",
    "loan_refused",
    "income",
    "employed",
    "household_spillover",
    "firm_revenue",
    "firm_records",
    "firms_without_representative",
)


def _regime(subject: str, sanctions: list[dict]) -> dict:
    """A list that nothing else reacts to (not public, no publicity, no pressure), entered
    on a traffic record (persons) or a regulatory violation (firms), with the sanctions."""
    enter = "traffic_offence" if subject == "person" else "firm_violation"
    return {
        "behaviour": {"firm_violation": 2.0},  # enough listed firms in a small society
        "regime": {
            "name": "one-effect",
            "publicity": 0.0,
            "sources": ["police", "regulators"],
            "lists": [
                {
                    "name": "watch",
                    "subject": subject,
                    "public": False,
                    "enter_on": [enter],
                    "term_years": 0.5,
                }
            ],
            "sanctions": sanctions,
        },
    }


def _sanction(effect: str, subject: str, strength: float = 0.5) -> dict:
    return {
        "name": "only",
        "on_list": "watch",
        "subject": subject,
        "effect": effect,
        "strength": strength,
        "related_contexts": ["traffic", "regulatory"],
    }


def _sums(overrides: dict):
    res = Sim("none", overrides=overrides, n=10_000, years=1, seed=4).run()
    ts = res.timeseries()
    return ts[ts.group == "all"].groupby("metric", observed=True)[["run", "twin"]].sum()


_NO_EFFECT: dict = {}


def _outcomes(overrides: dict, listed: str) -> dict[str, tuple[float, float]]:
    """Each outcome, (run, reference): the reference is the twin, except for records, which
    the twin (no system) never makes: those are compared with the same regime without the
    sanction."""
    sums = _sums(overrides)
    if listed not in _NO_EFFECT:
        _NO_EFFECT[listed] = _sums(_regime(listed, []))
    out = {k: (float(sums.loc[k, "run"]), float(sums.loc[k, "twin"])) for k in OUTCOMES}
    out["firm_records"] = (
        out["firm_records"][0],
        float(_NO_EFFECT[listed].loc["firm_records", "run"]),
    )
    return out


# effect, who the list holds, who the sanction lands on, what must move and which way
# (+1: above the twin, -1: below), what may move with it (a feedback of the effect itself)
CASES = [
    ("block_flights", "person", "person", {"flight_blocked": +1}, set()),
    ("block_rail", "person", "person", {"rail_blocked": +1}, set()),
    ("block_luxury", "person", "person", {"luxury_blocked": +1}, set()),
    ("block_credit", "person", "person", {"loan_refused": +1}, {"missed_payment"}),
    ("job_loss", "person", "person", {"employed": -1, "income": -1}, {"missed_payment"}),
    ("income_loss", "person", "person", {"income": -1}, set()),
    ("block_school", "person", "person", {"household_spillover": +1}, set()),
    ("deny_licence", "person", "person", {"income": -1}, set()),
    ("reward", "person", "person", {"income": +1}, set()),
    ("bar_legal_rep", "person", "person", {"firms_without_representative": +1}, set()),
    ("block_flights", "firm", "representative", {"flight_blocked": +1}, set()),
    ("bar_legal_rep", "firm", "representative", {"firms_without_representative": +1}, set()),
    ("deny_licence", "firm", "firm", {"firm_revenue": -1}, set()),
    ("exclude_procurement", "firm", "firm", {"firm_revenue": -1}, set()),
    ("reward", "firm", "firm", {"firm_revenue": +1}, set()),
    # more inspections find more violations, which list more firms: firm records move
    ("raise_inspection", "firm", "firm", {"firm_records": +1}, set()),
]


@pytest.mark.parametrize(
    "effect, listed, subject, moves, may_move", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES]
)
def test_an_effect_alone_moves_exactly_its_outcome(effect, listed, subject, moves, may_move):
    strength = 3.0 if effect == "raise_inspection" else 0.5
    got = _outcomes(_regime(listed, [_sanction(effect, subject, strength)]), listed)
    for key, (run, twin) in got.items():
        if key in moves:
            assert np.sign(run - twin) == moves[key], f"{effect}: {key} {run} vs twin {twin}"
        elif key not in may_move:
            assert run == twin, f"{effect}: {key} moved ({run} vs twin {twin})"


def test_an_income_loss_takes_its_share_of_the_sanctioned_incomes():
    """The size, not only the sign: the income lost is the strength times the income the
    sanctioned persons would have had (person-steps on the list x their income)."""
    from conftest import Stepped

    over = _regime("person", [_sanction("income_loss", "person", 0.3)])
    st = Stepped("none", overrides=over, n=10_000, years=1, seed=4)
    expected = lost = 0.0
    for _ in st.steps():
        on = st.run.out.applied > 0
        twin_income = st.twin.income()
        expected += 0.3 * float(twin_income[on].sum(dtype=np.float64))
        lost += float(twin_income.sum(dtype=np.float64)) - float(
            st.run.income().sum(dtype=np.float64)
        )
    assert expected > 0 and lost == pytest.approx(expected, rel=1e-3)


# strengths at which an effect does nothing
NEUTRAL = [
    ("block_credit", "person", 0.0),
    ("job_loss", "person", 0.0),
    ("income_loss", "person", 0.0),
    ("deny_licence", "person", 0.0),
    ("reward", "person", 0.0),
    ("deny_licence", "firm", 0.0),
    ("exclude_procurement", "firm", 0.0),
    ("raise_inspection", "firm", 1.0),
]


@pytest.mark.parametrize(
    "effect, subject, strength", [*NEUTRAL, (None, "person", 0.0), (None, "firm", 0.0)]
)
def test_an_effect_switched_off_moves_nothing(effect, subject, strength):
    sanctions = [] if effect is None else [_sanction(effect, subject, strength)]
    got = _outcomes(_regime(subject, sanctions), subject)
    for key, (run, twin) in got.items():
        assert run == twin, f"{effect} at {strength}: {key} moved ({run} vs {twin})"
    # and the list itself was busy: the test would have seen an effect
    if effect is None:  # and the lists were busy: the test would have seen an effect
        res = Sim("none", overrides=_regime(subject, []), n=10_000, years=1, seed=4).run()
        s = res.summary()
        assert (
            s["listed_share_peak"] > 0.005 if subject == "person" else s["firms_listed_share"] > 0
        )


def test_credit_block_refuses_in_proportion_to_its_strength():
    """A credit sanction of strength s refuses a share s of loan applications and multiplies
    the missed-payment hazard of current loans by 1 + s (the kernel on a known state)."""
    from test_kernels import _behaviour_args, changing

    from scoresim import acts, behaviour
    from scoresim.behaviour import LOAN, NONE

    n = 40_000
    args, st = _behaviour_args(n)
    args = list(args)
    args[2] = args[2].copy()
    args[2][behaviour.P["loan_uptake"]] = 0.3  # many applications in one step
    counts = {}
    for s in (0.0, 0.5, 1.0):
        state = st.copy()
        half = n // 2
        state.debt[:half] = NONE  # first half may apply for a loan
        state.debt[half:] = LOAN  # second half repays one
        state.misses[:] = 0
        state.watched[:] = 0.0
        state.pressured[:] = False  # nobody pressed by contacts to pay
        bl = args[-1]  # everyone under one credit sanction of strength s (bit 3)
        strength = bl.strength.copy()
        strength[3] = s
        blocks = bl._replace(sanctions=bl.sanctions | np.uint16(8), strength=strength)
        call = [*args[:-2], changing(state), blocks]
        ((agents, kinds, _),) = behaviour._persons_kernel(
            *call[:2],
            behaviour.Side(*call[2:], np.empty(4 * n, np.int32), np.empty(4 * n, np.uint8)),
        )
        refused = int((kinds == acts.LOAN_REFUSED).sum())
        taken = int((state.debt[:half] == LOAN).sum())
        missed = int((kinds == acts.MISSED_PAYMENT).sum())
        counts[s] = (refused, taken, missed)
    r0, t0, m0 = counts[0.0]
    assert r0 == 0 and t0 > 200
    for s in (0.5, 1.0):
        refused, taken, missed = counts[s]
        assert refused + taken == t0  # the same applications, by common random numbers
        share = refused / t0
        assert abs(share - s) < 4 * np.sqrt(s * (1 - s) / t0) + 1e-9, (s, share)
        assert abs(missed / m0 - (1 + s)) < 0.25, (s, missed / m0)


@pytest.mark.parametrize(
    "subject, effect",
    [
        ("firm", "block_flights"),
        ("person", "raise_inspection"),
        ("person", "exclude_procurement"),
        ("representative", "deny_licence"),
    ],
)
def test_an_effect_the_engine_cannot_apply_is_refused(subject, effect):
    over = _regime("person" if subject == "person" else "firm", [_sanction(effect, subject)])
    with pytest.raises(ScenarioError, match="cannot apply it to a") as e:
        Sim("none", overrides=over, n=100)
    assert e.value.key == "regime.sanctions[0].effect"


@pytest.mark.parametrize("effect, strength", [("block_credit", 2.0), ("income_loss", 1.5)])
def test_a_share_above_one_is_refused(effect, strength):
    over = _regime("person", [_sanction(effect, "person", strength)])
    with pytest.raises(ScenarioError, match="takes a share") as e:
        Sim("none", overrides=over, n=100)
    assert e.value.key == "regime.sanctions[0].strength"


def test_a_barred_representative_is_replaced_and_the_new_one_is_not_answerable():
    """A listed firm's representative is barred and replaced; the person the firm names next
    is not answerable for the listing that began before them, so a listing costs its firm
    one representative at most (a barred person also leaves the other firms they represent)."""
    from conftest import Stepped

    over = _regime("firm", [_sanction("bar_legal_rep", "representative")])
    st = Stepped("none", overrides=over, n=10_000, years=2, seed=4, twin=False)
    w = st.run
    losses: dict[tuple[int, int], int] = {}
    named = 0
    before = w.legal_rep.copy()
    for _ in st.steps():
        listed = w.firm_registry.member[0]
        for f in np.flatnonzero((before >= 0) & (w.legal_rep < 0) & listed):
            key = (int(f), int(w.firm_registry.since[0][f]))
            losses[key] = losses.get(key, 0) + 1
        named += int(((before < 0) & (w.legal_rep >= 0)).sum())
        before = w.legal_rep.copy()
    assert len(losses) > 20 and max(losses.values()) == 1
    assert named > 20  # firms named new representatives


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 7), st.integers(0, 3)), max_size=60))
def test_the_representatives_list_is_the_column_a_write_in_firm_order_would_leave(firms):
    """A person who represents several firms on a list is on the sanction's list once, with
    the context and gravity of the last of those firms: what writing a dense column in firm
    order (numpy's fancy assignment, last write wins) left before the lists replaced it."""
    from scoresim.sanctions import _representatives

    reps = np.array([f[0] for f in firms], np.int32)
    ctx = np.array([f[1] for f in firms], np.uint8)
    grav = np.array([f[2] for f in firms], np.uint8)
    member, col_ctx, col_grav = np.zeros(41, bool), np.zeros(41, np.uint8), np.zeros(41, np.uint8)
    member[reps], col_ctx[reps], col_grav[reps] = True, ctx, grav
    agents, got_ctx, got_grav = _representatives(reps, ctx, grav)
    assert np.array_equal(agents, np.flatnonzero(member))
    assert np.array_equal(got_ctx, col_ctx[member])
    assert np.array_equal(got_grav, col_grav[member])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sets(st.integers(0, 59)), min_size=1, max_size=3),
    st.sets(st.integers(1, 59)),
)
def test_a_slice_finds_its_agents_on_the_representatives_lists(lists, cuts):
    """Each slice of agents (any bounds) starts its cursors at its first agent and, asking
    its agents in order, finds each on exactly the lists it is on, at its place there."""
    from scoresim.sanctions import reps_at, reps_from

    rows = [np.array(sorted(x), np.int64) for x in lists]
    rep_agent = np.concatenate(rows)
    rep_start = np.zeros(len(rows) + 1, np.int64)
    rep_start[1:] = np.cumsum([len(x) for x in rows])
    bounds = [0, *sorted(cuts), 60]
    cursor, here = np.empty(len(rows), np.int64), np.empty(len(rows), np.int64)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        reps_from(rep_agent, rep_start, lo, cursor)
        for i in range(lo, hi):
            reps_at(rep_agent, rep_start, i, cursor, here)
            for r, row in enumerate(rows):
                want = rep_start[r] + int(np.searchsorted(row, i)) if i in row else -1
                assert here[r] == want
