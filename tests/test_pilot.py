"""Pilots (a regime over some regions only), their widening, and sources coming online."""

from __future__ import annotations

import numpy as np
import pytest

from scoresim import Sim
from scoresim.approval import INFORMED
from scoresim.pilot import regions_inside
from scoresim.scenario import ScenarioError, load


def _quiet_outsiders(sim, regions: np.ndarray) -> np.ndarray:
    """Persons outside ``regions`` with no tie to a person inside them."""
    g, p = sim.society.graph, sim.society.persons
    inside = regions[p.region]
    rows = np.repeat(np.arange(g.n), np.diff(g.indptr))
    touching = np.zeros(g.n, bool)
    touching[rows[inside[g.nbr]]] = True
    return ~inside & ~touching


def test_persons_outside_a_pilot_with_no_ties_into_it_are_their_twin():
    """The issue's test: a pilot in a fifth of the regions widened to half at half a year,
    with an information campaign about the system everywhere. Every act, state, tie and
    approval of a person outside the widest pilot with no tie into it equals the twin's at
    every step; those with ties into it do not all (spill-over)."""
    over = {
        "regime": {"pilot": {"share": 0.2}},
        "approval": {"information": {"share": 0.5, "at_years": 0.2}},
        "schedule": [{"at": 0.5, "regime": {"pilot": {"share": 0.5}}}],
    }
    sim = Sim("article", n=6000, years=1.0, seed=3, overrides=over)
    sc = sim.phases[-1].scenario
    widest = regions_inside(sc, sc.regime)
    sim.build()
    quiet = _quiet_outsiders(sim, widest)
    touching = ~widest[sim.society.persons.region] & ~quiet
    assert quiet.sum() > 500 and touching.sum() > 500
    differ = {"quiet": [], "touching": 0}

    def check(t: int) -> None:
        run, twin = sim.worlds
        for who, mask in (("quiet", quiet), ("touching", touching)):
            a, b = run.events.view(), twin.events.view()
            ea = set(zip(a[0][mask[a[0]]].tolist(), a[1][mask[a[0]]].tolist()))
            eb = set(zip(b[0][mask[b[0]]].tolist(), b[1][mask[b[0]]].tolist()))
            same = ea == eb and np.array_equal(run.deg_active[mask], twin.deg_active[mask])
            for part, names in (
                ("state", ("debt", "misses", "employed", "knows", "vpn", "watched")),
                ("approval.state", ("experience", "aware")),
            ):
                x, y = run, twin
                for attr in part.split("."):
                    x, y = getattr(x, attr), getattr(y, attr)
                same &= all(np.array_equal(getattr(x, n)[mask], getattr(y, n)[mask]) for n in names)
            same &= np.array_equal(run.approval.logit()[mask], twin.approval.logit()[mask])
            same &= np.array_equal(run.income()[mask], twin.income()[mask])
            if who == "quiet" and not same:
                differ["quiet"].append(t)
            if who == "touching" and not same:
                differ["touching"] += 1

    res = sim.run(after_step=check)
    assert differ["quiet"] == []
    assert differ["touching"] > 0  # spill-over across the border is there to measure
    split = res.summary()["pilot"]
    assert split["outside"]["sanctioned_share_mean"] == 0
    assert split["outside"]["listed_share_end"] == 0
    assert split["inside"]["sanctioned_share_mean"] > 0
    assert split["outside"]["ties_cut_share_end"] > 0  # ties to listed persons inside


def test_pilot_regions_by_share_are_nested_reproducible_and_drawn_from_the_seed():
    def drawn(share, seed=1):
        sc = load("article", {"regime": {"pilot": {"share": share}}, "run": {"seed": seed}})
        return regions_inside(sc, sc.regime)

    small, half = drawn(0.2), drawn(0.5)
    assert small.sum() == 6 and half.sum() == 16  # of 31 regions
    assert (half | ~small).all()  # the wider pilot keeps the narrower one's regions
    assert np.array_equal(small, drawn(0.2))
    assert not np.array_equal(small, drawn(0.2, seed=2))
    assert drawn(1.0) is None and drawn(0.01).sum() == 1


def test_the_regional_panel_adds_up_to_the_whole_and_splits_by_reach():
    over = {"regime": {"pilot": {"regions": ["Shandong", "Jiangsu"]}}}
    df = Sim("article", n=4000, years=0.3, seed=2, overrides=over).run().timeseries()
    for metric in ("persons", "listed", "critical_post"):
        rows = df[df.metric == metric]
        whole = rows[rows.group == "all"].groupby("step").run.sum()
        regions = rows[rows.group.astype(str).str.startswith("region.")].groupby("step").run.sum()
        split = rows[rows.group.isin(["pilot_inside", "pilot_outside"])].groupby("step").run.sum()
        np.testing.assert_array_equal(whole.to_numpy(), regions.to_numpy())
        np.testing.assert_array_equal(whole.to_numpy(), split.to_numpy())
    inside = df[(df.metric == "inside") & (df.step == 0)].set_index("group").run
    assert inside["region.Shandong"] == 1 and inside["region.Henan"] == 0 and inside.sum() == 2
    listed_out = df[(df.metric == "listed") & (df.group == "pilot_outside")].run
    assert listed_out.sum() == 0


def test_a_source_coming_online_by_schedule_covers_more_and_keeps_whom_it_covered():
    """Courts at a tenth of their coverage, then half, then all: each wider coverage keeps
    everyone the narrower one covered, and records from the courts rise with it."""
    over = {
        "sources": {"courts": {"coverage": 0.1}},
        "schedule": [
            {"at": 0.3, "sources": {"courts": {"coverage": 0.5}}},
            {"at": 0.6, "sources": {"courts": {"coverage": 1.0}}},
        ],
    }
    sim = Sim("article", n=5000, years=0.9, seed=4, overrides=over)
    bit = list(sim.scenario.sources).index("courts")
    covered = {}

    def seen(t: int) -> None:
        covered[t] = (sim.worlds[0].coverage.open >> bit) & 1 == 1

    res = sim.run(after_step=seen)
    steps = [ph.step for ph in sim.phases]
    a, b, c = covered[steps[1] - 1], covered[steps[2] - 1], covered[max(covered)]
    assert a.mean() < 0.15 and 0.4 < b.mean() < 0.6 and c.mean() > 0.9
    assert (b | ~a).all() and (c | ~b).all()
    df = res.timeseries()
    courts = df[df.metric == "records.courts"].sort_values("step").run.to_numpy()
    means = [courts[lo:hi].mean() for lo, hi in zip(steps, steps[1:] + [len(courts)])]
    assert means[0] < means[1] < means[2]


@pytest.mark.parametrize(
    "pilot, key",
    [
        ({"regions": ["Atlantis"]}, "regime.pilot.regions[0]"),
        ({"regions": ["Shandong"], "share": 0.5}, "regime.pilot.share"),
        ({"share": 1.5}, "regime.pilot.share"),
    ],
)
def test_a_bad_pilot_is_refused_naming_the_key(pilot, key):
    with pytest.raises(ScenarioError) as e:
        load("article", {"regime": {"pilot": pilot}})
    assert e.value.key == key


def test_a_pilot_may_only_widen_while_its_system_runs():
    with pytest.raises(ScenarioError) as e:
        load(
            "article",
            {
                "regime": {"pilot": {"regions": ["Shandong", "Henan"]}},
                "schedule": [{"at": 1, "regime": {"pilot": {"regions": ["Shandong"]}}}],
            },
        )
    assert e.value.key == "schedule[0].regime.pilot" and e.value.value == ["Henan"]
    load(  # ending the system there is a change to no system
        "article",
        {
            "regime": {"pilot": {"regions": ["Henan"]}},
            "schedule": [{"at": 1, "regime_from": "none"}],
        },
    )


def test_the_panel_keeps_regions_and_the_split_apart_with_two_regions():
    over = {
        "population": {"region_weights": [1.0, 1.0]},
        "regime": {"pilot": {"regions": ["region_1"]}},
    }
    df = Sim("article", n=2000, years=0.1, seed=2, overrides=over).run().timeseries()
    persons = df[(df.metric == "persons") & (df.step == 0)].set_index("group").run
    assert persons["region.region_1"] + persons["region.region_2"] == persons["all"]
    assert persons["pilot_inside"] == persons["region.region_1"]
    assert persons["pilot_outside"] == persons["region.region_2"]
    assert (df[df.metric == "persons"].groupby(["group", "step"], observed=True).size() == 1).all()


def test_the_regional_panel_sums_what_bincount_sums():
    """The panel's persons' columns, summed in one compiled pass with income, active degree
    and approval formed where counted, are exactly np.bincount's sums over the columns those
    follow from (every column, every region, several steps of a pilot run)."""
    from scoresim.metrics import _RM, RegionalPanel
    from scoresim.response import income

    over = {"regime": {"pilot": {"regions": ["Shandong", "Tibet"]}}}
    sim = Sim("article", n=6000, years=0.3, seed=7, overrides=over).build()
    run = sim.worlds[0]
    seen = []
    add = RegionalPanel.add

    def checked(panel, t, listed, status, earning, living, opinion, *rest):
        add(panel, t, listed, status, earning, living, opinion, *rest)
        r, k = panel.region.astype(np.int64), panel.n_regions

        def count(w=None):
            return np.bincount(r, weights=w, minlength=k)

        x = opinion.base + opinion.experience
        informed = (opinion.flags & INFORMED) != 0
        shifted = informed if len(opinion.reached) == 0 else informed & opinion.reached
        x = x + opinion.info_effect * shifted
        degree = sim.society.graph.degree(living.active)
        want = {
            "persons": count(),
            "listed": count(listed),
            "sanctioned": count(status > 0),
            "income": count(income(earning)),
            "employed": count(earning.employed & (earning.employer >= 0)),
            "isolated": count(degree == 0),
            "active_ties": count(degree),
            "watched": count(living.watched),
            "approving": count(x >= 0.0),
        }
        for name, values in want.items():
            assert np.array_equal(panel.values[t][:, _RM[name]], values), (t, name)
        seen.append((t, int(listed.sum()), int((degree == 0).sum())))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RegionalPanel, "add", checked)
        for t in range(sim.scenario.run.steps):
            for w in sim.worlds:
                w.step(t)
    assert len(seen) == 2 * sim.scenario.run.steps
    values = run.recorder.panel.values
    for name in ("income", "active_ties", "approving", "watched"):  # something to count
        assert (values[:, :, _RM[name]] > 0).any(), name
