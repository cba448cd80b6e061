"""People and firms respond to being watched (docs/model.md §7.7): travel and learning, the
pressure of a refusal, VPN use as a choice, chilling per act, policing one's own, firms'
safeguards. Each mechanism is switched on and off alone, and its outcome moves only when on.
(With all of them off every preset gives its earlier outputs: test_responses_off.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Stepped

from scoresim import Sim, behaviour
from scoresim import acts as A
from scoresim.acts import VIOLATIONS
from scoresim.behaviour import UNPAID_REFUSES
from scoresim.network import active_flags


def _run(preset, n=30_000, years=2.0, seed=4, **over):
    return Sim(preset, n=n, years=years, seed=seed, overrides=over or None).run()


def _acts(res, names, world="run") -> float:
    df = res.timeseries()
    df = df[(df["group"] == "all") & df["metric"].isin(names)]
    return float(df[world].sum())


# ------------------------------------------------------------------------- 1. travel


def _society_weights(sim):
    s = sim.society
    return s, behaviour.weights_of(behaviour.traits_of(s.persons, s, s.coverage))


def test_air_travel_concentrates_among_representatives_and_high_earners_more_than_rail():
    sim = Sim("court-defaulters", n=40_000, years=0.1).build()
    s, weights = _society_weights(sim)
    rep = np.zeros(s.persons.n, bool)
    rep[s.firms.legal_rep[s.firms.legal_rep >= 0]] = True
    assert np.array_equal(s.representative, rep)
    air, rail = weights["air"].astype(np.float64), weights["rail"].astype(np.float64)
    assert air.mean() == pytest.approx(1.0, abs=1e-3)  # the sourced trips per person stay
    assert rail.mean() == pytest.approx(1.0, abs=1e-3)
    assert air[rep].mean() > 2.0 * air[~rep].mean()
    assert air[s.self_employed].mean() > air[~s.self_employed & ~rep].mean()
    top = s.persons.income_quintile == 4
    assert air[top].sum() / air.sum() > rail[top].sum() / rail.sum() > 0.2  # air more so
    off = Sim("court-defaulters", n=40_000, years=0.1,
              overrides={"responses": {"travel": {"enabled": False}}}).build()  # fmt: skip
    _, alike = _society_weights(off)
    assert np.array_equal(alike["air"], alike["travel"])  # off: income alone, alike
    assert np.array_equal(alike["rail"], alike["travel"])


@pytest.mark.parametrize(
    "air_income, rail_income", [(1.2, 0.5), (2.0, 0.7), (1.0, 0.0), (0.5, 2.0)]
)
def test_travel_weights_read_from_income_and_flags_are_the_columns_they_replace(
    air_income, rail_income
):
    """The kernels derive each person's weights from the income, the two flags and a few
    constants; they must be the very numbers the float32 columns held (numpy's formula)."""
    over = {"responses": {"travel": {"air_income": air_income, "rail_income": rail_income}}}
    sim = Sim("article", n=20_000, years=0.1, overrides=over).build()
    s, weights = _society_weights(sim)
    spec = sim.scenario.responses.travel
    income = s.persons.base_income
    travel = np.clip(income / np.float32(np.mean(income)), 0.1, 5.0).astype(np.float32)
    assert np.array_equal(weights["travel"], travel)
    for mode, e, rep_factor, se_factor in (
        ("air", spec.air_income, spec.air_representative, spec.air_self_employed),
        ("rail", spec.rail_income, spec.rail_representative, spec.rail_self_employed),
    ):
        w = travel.astype(np.float64) ** e
        w *= np.where(s.representative, rep_factor, 1.0) * np.where(s.self_employed, se_factor, 1.0)
        old = (w / w.mean()).astype(np.float32)
        # numpy takes powers with libm here (equal bit for bit); on CPUs where it takes them
        # with SIMD code instead, a last-place difference in float64 may show in a few
        assert (weights[mode] == old).mean() > 0.999, mode
        np.testing.assert_array_max_ulp(weights[mode], old, maxulp=1)


def _travel(**travel):
    return _run("court-defaulters", n=40_000, years=3.0,
                responses={"travel": travel, "refusal": {"enabled": False}})  # fmt: skip


def test_restricted_trips_are_refused_substituted_or_forgone_and_people_learn():
    never = _travel(learns=0.0).summary()
    learn = _travel(learns=1.0, retry=0.0, notice_rate=0.0, forgets=0.0).summary()
    blocked = never["blocked_flights"] + never["blocked_rail"]
    # who never learns tries every restricted trip: each is refused, then made another way
    # or forgone
    assert blocked > 100
    assert never["trips_substituted"] + never["trips_forgone"] == blocked
    share = never["trips_substituted"] / blocked
    assert abs(share - 0.6) < 4 * np.sqrt(0.6 * 0.4 / blocked)  # travel.substitute
    # who learns is refused once per mode and restriction, then stops trying: the same wish
    # to travel (common random numbers), far fewer refusals
    desired = learn["trips_substituted"] + learn["trips_forgone"]
    assert desired == pytest.approx(blocked, rel=0.05)
    learnt = learn["blocked_flights"] + learn["blocked_rail"]
    assert learnt < 0.5 * blocked
    assert learn["listed_share"] == never["listed_share"]  # nothing else moved
    # knowing but trying anyway is refused like not knowing; a notice teaches before any
    # refusal; forgetting brings the refusals back
    retry = _travel(learns=1.0, retry=1.0, notice_rate=0.0, forgets=0.0).summary()
    assert retry["blocked_flights"] + retry["blocked_rail"] == blocked
    told = _travel(learns=1.0, retry=0.0, notice_rate=52.0, forgets=0.0).summary()
    assert told["blocked_flights"] + told["blocked_rail"] < 0.8 * learnt
    fading = _travel(learns=1.0, retry=0.0, notice_rate=0.0, forgets=52.0).summary()
    assert fading["blocked_flights"] + fading["blocked_rail"] > 1.5 * learnt


def test_blocked_purchases_per_listed_person_year_are_reported():
    """Refusals over the run / person-years on a list, counted step by step from the world."""
    st = Stepped("court-defaulters", n=30_000, years=2.0, twin=False)
    w = st.run
    flights = rail = listed_steps = 0
    for _ in st.steps():
        agent, act = w.events.view()
        flights += int((act == A.FLIGHT_BLOCKED).sum())
        rail += int((act == A.RAIL_BLOCKED).sum())
        listed_steps += int(w.registry.listed.sum())
    from scoresim.results import Results

    s = Results.from_sim(st.sim, 0.0).summary()
    years = listed_steps * st.sim.scenario.step_years
    assert flights > 20 and rail > 20
    assert s["blocked_flights_per_listed_year"] == pytest.approx(flights / years, rel=1e-9)
    assert s["blocked_rail_per_listed_year"] == pytest.approx(rail / years, rel=1e-9)


# ------------------------------------------------------------- 2. the pressure of a refusal


def test_a_refusal_can_make_an_able_listed_debtor_pay():
    none = _run("court-defaulters", responses={"refusal": {"pay": 0.0}}).summary()
    some = _run("court-defaulters", responses={"refusal": {"pay": 0.5}}).summary()
    off = _run("court-defaulters", responses={"refusal": {"enabled": False, "pay": 0.5}})
    assert none["payments_after_refusal"] == 0
    assert off.summary()["payments_after_refusal"] == 0
    assert some["payments_after_refusal"] > 20
    assert some["repaid_share"] > none["repaid_share"]


def test_payments_after_a_refusal_follow_a_refusal_of_a_listed_debtor():
    st = Stepped("court-defaulters", n=30_000, years=2.0, twin=False,
                 overrides={"responses": {"refusal": {"pay": 1.0}}})  # fmt: skip
    refusals = (A.FLIGHT_BLOCKED, A.RAIL_BLOCKED, A.LUXURY_BLOCKED, A.LOAN_REFUSED)
    w, paid = st.run, 0
    listed = w.registry.listed.copy()  # behaviour sees the lists of the step before
    debt = w.state.debt.copy()
    for _ in st.steps():
        agent, act = w.events.view()
        payers = agent[act == A.PAID_AFTER_REFUSAL]
        paid += len(payers)
        refused = np.unique(agent[np.isin(act, refusals)])
        assert np.isin(payers, refused).all() and listed[payers].all()
        assert (debt[payers] == UNPAID_REFUSES).all()  # able to pay, refusing
        listed, debt = w.registry.listed.copy(), w.state.debt.copy()
    assert paid > 10


# ---------------------------------------------------------------------------- 3. VPN


def test_vpn_use_rises_with_surveillance_and_falls_with_penalty_and_cost():
    base = {"vpn": {"decisions": 4.0}}
    s = _run("article", n=30_000, years=2.0, responses=base).summary()
    start = 0.05
    assert abs(s["twin"]["vpn_share"] - start) < 0.01  # no system: VPN use stays put
    assert s["vpn_share"] > s["twin"]["vpn_share"] + 0.005
    assert s["critical_posts_hidden_by_vpn"] > 0
    fined = _run("article", n=30_000, years=2.0,
                 responses={"vpn": {"decisions": 4.0, "penalty": 20.0}}).summary()  # fmt: skip
    dear = _run("article", n=30_000, years=2.0,
                responses={"vpn": {"decisions": 4.0, "cost": 3.0}}).summary()  # fmt: skip
    assert fined["vpn_share"] < s["vpn_share"]
    assert dear["vpn_share"] < s["vpn_share"] and dear["twin"]["vpn_share"] < start


POLICE_ACTS = [
    "traffic_offence",
    "littering",
    "major_offence",
    "drunk_driving",
    "heating_tampering",
    "utility_theft",
    "public_property_damage",
]
UNSEEN = {  # article's sources without VPN use
    "intelligence": {"acts": ["critical_post", "major_offence"]},
    "police": {"acts": POLICE_ACTS},
}


def _records(res, source: str) -> float:
    return _acts(res, [f"records.{source}"])


def test_vpn_use_is_recorded_and_punished_only_where_a_source_sees_it():
    seen = _run("article", n=20_000, years=1.0)
    unseen = _run("article", n=20_000, years=1.0, sources=UNSEEN)
    assert _acts(seen, ["vpn_use"]) > 100 and _acts(unseen, ["vpn_use"]) == 0
    assert _records(seen, "intelligence") > _records(unseen, "intelligence")
    assert _records(seen, "police") > _records(unseen, "police")
    # the penalty deters only where the regime records (and punishes) VPN use
    vpn = {"decisions": 4.0}
    free = _run("article", n=20_000, years=1.0, sources=UNSEEN, responses={"vpn": vpn})
    harsh = _run("article", n=20_000, years=1.0, sources=UNSEEN,
                 responses={"vpn": vpn | {"penalty": 20.0}})  # fmt: skip
    assert free.summary()["vpn_share"] == harsh.summary()["vpn_share"]


# ------------------------------------------------------------------ 4. chilling per act


def _only_ecommerce(per_act: bool):
    regime = {
        "sources": ["ecommerce"],
        "rules": [{"record": "disfavoured_purchase", "points": -20.0}],
    }
    return _run("article", n=30_000, years=1.0, regime=regime,
                responses={"chilling": {"enabled": per_act}})  # fmt: skip


def test_a_regime_that_watches_only_purchases_chills_purchases_not_posts():
    res = _only_ecommerce(per_act=True)
    posts = ("critical_post",)
    assert _acts(res, posts) == _acts(res, posts, "twin")  # not one post less
    shop = ("disfavoured_purchase",)
    assert _acts(res, shop) < 0.97 * _acts(res, shop, "twin")
    old = _only_ecommerce(per_act=False)  # before: every chilled act cut alike
    assert _acts(old, posts) < 0.97 * _acts(old, posts, "twin")


# ------------------------------------------------------------- 5. policing one's own


def test_pressure_is_what_lowers_the_pressed_persons_violations():
    """With `comply` 0 pressure changes nothing: what remains of the change is the regime's
    other deterrence; with `comply` > 0 the pressed offend less than that."""
    idle = _run("article", n=30_000, years=2.0, responses={"policing": {"comply": 0.0}})
    biting = _run("article", n=30_000, years=2.0, responses={"policing": {"comply": 0.5}})
    a = idle.summary()["policing_violation_change"]
    b = biting.summary()["policing_violation_change"]
    assert b < a - 0.05


def test_a_firm_is_pressed_by_the_representative_who_shares_its_penalties():
    strong = {"policing": {"strength": 30.0}}  # corporate's representatives feel little watched
    on = _run("corporate", n=60_000, years=2.0, responses=strong)
    off = _run("corporate", n=60_000, years=2.0, responses={"policing": {"enabled": False}})
    assert on.summary()["firms_pressured_share"] > 0.01
    assert off.summary()["firms_pressured_share"] == 0
    assert _acts(on, ["firm_records"]) < _acts(off, ["firm_records"])


def test_collective_sanctions_lower_violations_against_the_same_regime_without_policing():
    on = _run("article", n=30_000, years=2.0)
    off = _run("article", n=30_000, years=2.0, responses={"policing": {"enabled": False}})
    s_on, s_off = on.summary(), off.summary()
    assert s_on["pressured_share"] > 0.05 and s_off["pressured_share"] == 0
    assert _acts(on, VIOLATIONS) < 0.97 * _acts(off, VIOLATIONS)
    assert s_on["policing_violation_change"] < -0.05  # the pressed offend less than in the twin
    assert s_off["policing_violation_change"] is None
    assert s_on["ties_cut_by_policing"] > 0 and s_off["ties_cut_by_policing"] == 0


def test_policing_reaches_only_those_who_share_a_penalty():
    from scoresim import load_scenario
    from scoresim.network import LAYER_NAMES
    from scoresim.policing import sharing_layers

    regime = load_scenario("article").regime
    weights = regime.association.layer_weights
    want = {k for k, w in weights.items() if w > 0} | {"household"}  # + the school ban
    assert {LAYER_NAMES[i] for i in np.flatnonzero(sharing_layers(regime))} == want
    regime.association.enabled = False
    assert [LAYER_NAMES[i] for i in np.flatnonzero(sharing_layers(regime))] == ["household"]
    # rongcheng: no association, no spill-over: nobody shares a penalty, nobody is pressed
    s = _run("rongcheng", n=20_000, years=1.0).summary()
    assert s["pressured_share"] == 0 and s["ties_cut_by_policing"] == 0


# ------------------------------------------------------------------ 6. firms' safeguards


def test_firms_drop_partners_by_rating_and_by_requirement():
    on = _run("corporate", n=60_000, years=2.0).summary()["partners_dropped"]
    off = _run(
        "corporate", n=60_000, years=2.0, responses={"screening": {"enabled": False}}
    ).summary()["partners_dropped"]
    assert on["rating"] > 0 and off["rating"] == 0
    assert on["listed"] > 0 and off["listed"] > 0 and on["required"] == off["required"] == 0


def test_a_required_drop_leaves_no_tie_to_a_visibly_listed_firm():
    st = Stepped("corporate", n=40_000, years=1.0, twin=False,
                 overrides={"regime": {"response": {"partner_drop_required": True}}})  # fmt: skip
    w = st.run
    g = w.s.firm_graph
    rows = np.repeat(np.arange(g.n), np.diff(g.indptr))
    nbr = (g.adj >> 3).astype(np.int64)
    checked = 0
    for _ in st.steps():
        vis = w.firm_registry.visible
        live = active_flags(w.firm_active, g.entries)
        assert not (live & (vis[rows] | vis[nbr])).any()
        checked += int(vis.sum())
    assert checked > 0 and w.screening.dropped[1] > 0  # required drops happened


def test_contractual_safeguards_keep_partners_listings_from_foreign_firms():
    over = {"population": {"foreign_firm_share": 0.3},
            "responses": {"screening": {"foreign_safeguards": 0.5}}}  # fmt: skip
    st = Stepped("corporate", n=40_000, years=1.0, twin=False, overrides=over)
    for _ in st.steps():
        pass
    w = st.run
    guarded = w.s.safeguarded
    assert guarded.sum() > 100 and (guarded <= w.s.firms.foreign).all()
    assert (w.firm_ledger.assoc[guarded] == 0).all()  # no pull from partners' grades
    assert (w.firm_ledger.assoc[w.s.firms.foreign & ~guarded] != 0).any()
    s = Sim("corporate", n=40_000, years=1.0, seed=7, overrides=over).run().summary()
    assert (
        s["foreign_firms_exposed_safeguarded_share"]
        < s["foreign_firms_exposed_unsafeguarded_share"]
    )


def test_safeguarded_firms_keep_their_listed_partners():
    """No tie of a safeguarded (unlisted) firm to a visibly listed firm is ever cut; such
    ties of firms without safeguards are."""
    over = {"population": {"foreign_firm_share": 0.3},
            "regime": {"response": {"partner_drop": 12.0}},
            "responses": {"screening": {"foreign_safeguards": 0.5, "rate": 0.0}}}  # fmt: skip
    st = Stepped("corporate", n=40_000, years=1.0, twin=False, overrides=over)
    w = st.run
    g = w.s.firm_graph
    rows = np.repeat(np.arange(g.n), np.diff(g.indptr))
    nbr = (g.adj >> 3).astype(np.int64)
    guarded = w.s.safeguarded
    kept_cut = others_cut = 0
    before = active_flags(w.firm_active, g.entries)
    for _ in st.steps():
        vis = w.firm_registry.visible
        now = active_flags(w.firm_active, g.entries)
        gone = before & ~now
        to_listed = vis[nbr] & ~vis[rows]
        kept_cut += int((gone & to_listed & guarded[rows]).sum())
        others_cut += int((gone & to_listed & ~guarded[rows]).sum())
        before = now
    assert kept_cut == 0 and others_cut > 20


@pytest.mark.parametrize("ties", [False, True])
def test_firms_rating_percentile_is_a_plain_search(ties):
    """The screening's percentile (how many rated firms score below each firm) looks the
    firms up in score order: the same counts as searching in firm order, ties and firms
    outside the rated set included."""
    from scoresim.screening import below

    rng = np.random.default_rng(3)
    for m in (0, 1, 7, 5000):
        x = rng.normal(1000, 50, m).astype(np.float32)
        if ties:
            x = np.round(x / 25) * 25
        ranked = np.sort(x[rng.random(m) < 0.6])  # rated: those inside a pilot
        assert np.array_equal(below(ranked, x), np.searchsorted(ranked, x, "left"))
