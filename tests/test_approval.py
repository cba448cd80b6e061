"""Approval of the system (docs/model.md §7.8): the baseline follows demographics, experience moves
it in the direction the model says, an information campaign shifts the informed against
their control arm, and the twin holds the baseline."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Stepped

from scoresim import Sim
from scoresim.approval import baseline
from scoresim.population import build_persons
from scoresim.scenario import Approval, Population

CAMPAIGN = {"approval": {"information": {"share": 0.5, "at_years": 0.5, "when": "urban == 1"}}}


def test_baseline_is_higher_among_richer_educated_urban_and_older_people():
    p = build_persons(Population(persons=100_000), 3)
    x, aware = baseline(Approval(), p, 3)
    yes = x >= 0
    assert yes[p.income_quintile == 4].mean() > yes[p.income_quintile == 0].mean()
    assert yes[p.education == 2].mean() > yes[p.education == 0].mean()
    assert yes[p.urban].mean() > yes[~p.urban].mean()
    assert yes[p.age_band == 3].mean() > yes[p.age_band == 0].mean()
    assert abs(aware.mean() - 0.11) < 0.005  # [src S-pilot-awareness]: 11 % knew of their pilot


def test_experience_moves_approval_and_the_twin_holds_the_baseline():
    st = Stepped("article", overrides=CAMPAIGN, n=10_000, years=1.5)
    run, twin = st.run, st.twin
    base = st.sim.society.approval_base
    ever = np.zeros(len(base), bool)
    for _ in st.steps():
        ever |= run.out.status > 0
        assert np.array_equal(twin.approval.logit(), base)  # nothing to experience
        assert not twin.approval.state.aware[~st.sim.society.aware0].any()
    ap = run.approval
    shift = ap.logit() - base
    informed = ap.state.informed
    assert ever.sum() > 50
    # the sanctioned fell furthest; the never sanctioned, uninformed moved a little with
    # publicity and what they heard of contacts
    assert shift[ever & ~informed].mean() < shift[~ever & ~informed].mean() - 0.3
    assert ap.state.aware[ever].all()  # nobody is sanctioned without learning of it
    assert ap.state.aware.mean() > st.sim.society.aware0.mean() + 0.1  # publicity informs
    # the campaign: half the urban informed, the rest of the urban the control arm
    urban = st.sim.society.persons.urban
    assert not informed[~urban].any()
    assert abs(informed[urban].mean() - 0.5) < 0.02
    assert np.array_equal(twin.approval.state.informed, informed)  # the same arms
    s = _summary(st)
    assert s["approval_informed_share"] < s["approval_uninformed_share"]
    assert s["twin"]["approval_informed_share"] == pytest.approx(
        s["twin"]["approval_uninformed_share"], abs=0.02
    )  # the twin was informed of nothing: its arms differ by chance only


def _summary(st):
    from scoresim.results import Results

    return Results.from_sim(st.sim, 0.0).summary()


def test_a_private_regime_informs_only_through_experience():
    """Sesame is private (publicity 0): nobody learns of it but those it touches."""
    st = Stepped("sesame", n=8000, years=1)
    for _ in st.steps():
        pass
    ap, aware0 = st.run.approval, st.sim.society.aware0
    learnt = ap.state.aware & ~aware0
    touched = (st.run.recorder.ever > 0) | (st.run.approval.state.experience != 0)
    assert learnt.sum() > 0 and not (learnt & ~touched).any()


def test_approval_summary_keys_read_the_state():
    res = Sim("article", overrides=CAMPAIGN, n=6000, years=1, seed=4).run()
    s = res.summary()
    for key in (
        "approval_share",
        "approval_sanctioned_share",
        "approval_informed_share",
        "approval_uninformed_share",
        "approval_internet_share",
    ):
        assert 0.0 <= s[key] <= 1.0, key
    assert s["approval_sanctioned_share"] < s["approval_share"]
    # the per-step outputs agree with the summary at the last step
    ts = res.timeseries()
    last = ts[(ts.group == "all") & (ts.step == ts.step.max())].set_index("metric")["run"]
    assert s["approval_share"] == pytest.approx(last["approving_aware"] / last["aware"])
    assert s["aware_share"] == pytest.approx(last["aware"] / last["persons"])


def test_experience_moves_by_the_sizes_the_scenario_gives():
    """The approval kernels on a hand-made state: an own sanction (more if unjust), a reward,
    each refusal, fading and publicity's drift (aware only), and contacts hearing over active
    ties only (with everyone hearing), more for an unjust sanction."""
    from scoresim import acts
    from scoresim.approval import (
        AWARE,
        WAS_REWARDED,
        WAS_SANCTIONED,
        Outcomes,
        Shifts,
        _contacts_kernel,
        _news,
        _own_kernel,
        _refusals_kernel,
        _remember,
    )
    from scoresim.network import from_pairs, pack_active

    sp = Approval()
    n = 6
    exp = np.zeros(n, np.float32)
    flags = np.array([0, 0, 0, AWARE, 0, 0], np.uint8)
    status = np.array([1, 2, 0, 0, 3, 0], np.uint8)  # own true, false records, -, -, assoc
    rewarded = np.array([0, 0, 1, 0, 0, 0], bool)
    flags[4] |= WAS_SANCTIONED  # already sanctioned last step: no new shock
    flags[2] |= WAS_SANCTIONED  # (and 2 was, though not now: its reward is news all the same)

    def aware():
        return ((flags & AWARE) != 0).tolist()

    fade, drift = np.float32(0.5), np.float32(0.01)
    exp[:] = 0.2
    everyone = np.zeros(0, bool)  # no pilot: the system's publicity reaches everybody
    own = Shifts(sp.sanctioned, sp.unjust, sp.rewarded)
    outcomes = Outcomes(status, rewarded, flags)
    heard = Shifts(sp.contact_sanctioned, sp.contact_unjust, sp.contact_rewarded)
    news, told = _news(outcomes, heard)  # (read before the own pass moves the bits)
    assert news.tolist() == [0, 1, 2]
    _own_kernel(np.uint64(1), outcomes, own, everyone, fade, drift, 0.0, exp, flags)
    unjust = sp.contact_sanctioned + sp.contact_unjust
    np.testing.assert_allclose(told, [sp.contact_sanctioned, unjust, sp.contact_rewarded])
    want = np.array([0.1 + sp.sanctioned, 0.1 + sp.sanctioned + sp.unjust, 0.1 + sp.rewarded,
                     0.1 + 0.01, 0.1, 0.1])  # fmt: skip
    # (the newly sanctioned and rewarded become aware now, and drift from the next step)
    np.testing.assert_allclose(exp, want, rtol=1e-6)
    assert aware() == [True, True, True, True, False, False]
    ev = np.array([5, 5, 5], np.int32)
    _refusals_kernel(ev, np.array([acts.FLIGHT_BLOCKED, acts.FLIGHT_TAKEN, acts.LOAN_REFUSED],
                     np.uint8), approval_refused(), sp.refused, exp, flags)  # fmt: skip
    assert exp[5] == pytest.approx(0.1 + 2 * sp.refused) and aware()[5]
    # this step's sanctions and rewards, kept as last step's for the next
    assert ((flags & WAS_SANCTIONED) != 0).tolist() == (status > 0).tolist()
    assert ((flags & WAS_REWARDED) != 0).tolist() == rewarded.tolist()
    assert aware() == [True, True, True, True, False, True]  # (awareness kept)
    assert _news(outcomes, heard)[0].tolist() == []  # nothing new if the same again
    _remember(np.zeros(n, np.uint8), rewarded, flags)  # (a twin's step: the bits alone)
    assert not (flags & WAS_SANCTIONED).any() and (flags & WAS_REWARDED).any()
    # contacts: 0-1, 0-2 (cut), 1-3; person 0 newly sanctioned (true), 1 newly (false)
    g = from_pairs(4, np.array([0, 0, 1]), np.array([1, 2, 3]), np.zeros(3, np.uint8))
    active = np.ones(g.entries, np.uint8)
    for e in range(g.indptr[0], g.indptr[1]):
        if g.nbr[e] == 2:
            active[e] = 0
    for e in range(g.indptr[2], g.indptr[3]):
        active[e] = 0
    x = np.zeros(4, np.float32)
    seen = np.zeros(4, np.uint8)
    st4, rw4 = np.array([1, 2, 0, 0], np.uint8), np.zeros(4, bool)
    news, told = _news(Outcomes(st4, rw4, seen), heard)
    _contacts_kernel(np.uint64(3), 1.0, news, told, g.ties, pack_active(active), x, seen)
    np.testing.assert_allclose(x, [unjust, sp.contact_sanctioned, 0.0, unjust], rtol=1e-6)
    assert (seen == AWARE).tolist() == [True, True, False, True]  # 2 is cut off: hears nothing


def approval_refused():
    from scoresim.approval import _REFUSED

    return _REFUSED


def test_news_over_many_slices_equal_the_numpy_expression():
    """``_news`` counts and writes the news slice by slice, in parallel (here 5 slices): the
    persons newly sanctioned or rewarded, ascending, and each one's shift to its contacts,
    as numpy forms them; the own pass then keeps this step's sanctions and rewards as last
    step's, and leaves the other bits."""
    from scoresim.approval import (
        AWARE,
        INFORMED,
        WAS_REWARDED,
        WAS_SANCTIONED,
        Outcomes,
        Shifts,
        _news,
        _own_kernel,
    )
    from scoresim.parallel import SLICE, slicing

    n = 4 * SLICE + 123
    assert slicing(n)[0] == 5
    rng = np.random.default_rng(7)
    status = np.where(rng.random(n) < 0.01, rng.integers(1, 4, n), 0).astype(np.uint8)
    rewarded = rng.random(n) < 0.01
    flags = rng.integers(0, 16, n).astype(np.uint8)
    before = flags.copy()
    heard = Shifts(-0.25, -0.5, 0.125)
    news, told = _news(Outcomes(status, rewarded, flags), heard)
    new_s = (status > 0) & ((before & WAS_SANCTIONED) == 0)
    new_r = rewarded & ((before & WAS_REWARDED) == 0)
    want = np.flatnonzero(new_s | new_r)
    assert len(want) > 100 and news.tolist() == want.tolist()
    shift = np.where(new_s, -0.25 + np.where(status >= 2, -0.5, 0.0), 0.0) + np.where(
        new_r, 0.125, 0
    )
    np.testing.assert_array_equal(told, shift[want])
    own = Shifts(-1.0, -0.5, 0.25)  # (no sum of them is zero)
    exp = np.zeros(n, np.float32)
    _own_kernel(np.uint64(5), Outcomes(status, rewarded, flags), own, np.zeros(0, bool),
                np.float32(1), np.float32(0), 0.0, exp, flags)  # fmt: skip
    assert ((flags & WAS_SANCTIONED) != 0).tolist() == (status > 0).tolist()
    assert ((flags & WAS_REWARDED) != 0).tolist() == rewarded.tolist()
    assert ((flags & INFORMED) == (before & INFORMED)).all()
    assert ((flags & AWARE) != 0)[want].all()  # news makes one aware
    np.testing.assert_array_equal(exp != 0, new_s | new_r)
