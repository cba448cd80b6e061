"""Sim: build the society, run the step loop in its explicit order, beside its twin.

The step, in order (written once, here — World.step):

    behaviour  -> sources  -> scoring  -> registry  -> sanctions  -> response  -> metrics
    (acts)        (records)   (components, (listing,     (effects,     (ties, jobs,  (per step,
                               association, expiry,      audit)        partners,     per group)
                               grades)     repair)                     income)

The twin is the same society under the regime ``none``, run through the same loop with the
same counter-based random numbers (common random numbers): every difference between run and
twin is an effect of the regime.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from . import approval, behaviour, heap, lending, metrics, response, sanctions, screening
from .acts import ACT_ID, CHILLED, CRITICAL_POST, VIOLATIONS
from .behaviour import Events, PersonState
from .network import (
    ENTRY_BYTES,
    LAYER_NAMES,
    PACK32_LIMIT,
    all_active,
    build_firm_graph,
    build_person_graph,
    largest_component_share,
    score_assortativity,
    ties_by_layer,
)
from .parallel import slicing
from .pilot import Scope, regions_inside
from .policing import Policing, pressing
from .population import (
    AWARE_AT_START,
    FIRM_BYTES,
    FOREIGNER,
    INTERNET,
    LEARNER,
    MINORITY,
    PERSON_BYTES,
    REPRESENTATIVE,
    SELF_EMPLOYED,
    URBAN,
    build_firms,
    build_persons,
    flag_column,
    household_of,
    pack_flags,
)
from .registry import Registry
from .rng import Stream, draws, stream_key
from .scenario import Regime, Scenario, ScenarioError, association_on, load
from .schedule import phases, rebuild, set_coverage
from .scoring import (
    Ledger,
    compile_rules,
    grades_among,
    person_layer_weights,
    weight_sum_type,
)
from .sources import Coverage, SourceSet, coverage_bits


@dataclass
class Society:
    """What run and twin share: the static population, firms, graphs and source coverage."""

    persons: object
    firms: object
    graph: object
    firm_graph: object
    coverage: Coverage  # which sources see whom (and whom a VPN would hide)
    flags: np.ndarray  # uint8: a bit each (population.LEARNER, ...): learns of a travel
    #                    restriction from a refusal or a notice, works for oneself (an
    #                    individual business), a firm's legal representative (travels on
    #                    business), knows of the system at the start
    travel: np.ndarray  # the travel weights' constants (behaviour.travel_terms: the weights
    #                     follow from them, the income and two flags)
    vpn_intercept: float  # VPN use's intercept: the population's VPN share with no system
    firm_avoid: np.ndarray  # float32: share of the worst-rated firms each firm avoids
    safeguarded: np.ndarray  # bool: foreign-invested firms with contractual safeguards
    region_starts: np.ndarray  # int64: first person of each region, then N (persons are by region)
    approval_base: np.ndarray  # float32: baseline approval of the system, log-odds

    learner = flag_column(LEARNER, "bool: learns of a travel restriction")
    self_employed = flag_column(SELF_EMPLOYED, "bool: works for oneself")
    representative = flag_column(REPRESENTATIVE, "bool: a firm's legal representative")
    aware0 = flag_column(AWARE_AT_START, "bool: knows of the system at the start")


def build_society(sc: Scenario, implicit: bool | None = None) -> Society:
    """The society ``sc`` describes; ``implicit``: whether its graph holds household,
    co-worker and lattice ties implicitly (None: where the run with the graph stored whole
    would crowd the memory, ties_implicit; the numbers are the same either way)."""
    seed = sc.run.seed
    implicit = ties_implicit(sc) if implicit is None else implicit
    persons = build_persons(sc.population, seed)
    firms = build_firms(sc.population, persons, seed)
    graph = build_person_graph(sc.network, persons, seed, implicit)
    firm_graph = build_firm_graph(sc.network, firms, seed)
    coverage = coverage_bits(sc, persons, firms, seed)
    approval_base, aware0 = approval.baseline(sc.approval, persons, seed)
    se = self_employed(sc.population, persons, seed)
    representative = np.zeros(persons.n, bool)
    representative[firms.legal_rep[firms.legal_rep >= 0]] = True
    tr = sc.responses.travel
    learner = draws(seed, Stream.RESPONSE_TRAITS, persons.n) < tr.learns
    flags = pack_flags(learner, se, representative, aware0)
    return Society(
        persons,
        firms,
        graph,
        firm_graph,
        coverage,
        flags,
        behaviour.travel_terms(tr, persons.base_income, flags),
        behaviour.vpn_intercept(sc.responses.vpn, persons),
        screening.avoid_shares(sc, firms.n, seed)
        if sc.responses.screening.enabled
        else np.zeros(firms.n, np.float32),
        screening.safeguarded(sc, firms.foreign, seed),
        np.searchsorted(persons.region, np.arange(len(sc.population.region_weights) + 1)),
        approval_base,
    )


NONE_REGIME = Regime()


def self_employed(spec, persons, seed: int) -> np.ndarray:
    """Who runs an individual business: a share of the adults under 60 who are off a firm's
    payroll (the retired and the rest of the off-payroll do not); drawn from its own stream."""
    u = draws(seed, Stream.POPULATION, persons.n, step=14)
    return (persons.employer < 0) & (persons.age_band < 3) & (u < spec.self_employed_share)


def has_system(regime: Regime) -> bool:
    """Whether a regime runs any system at all (something people can know and experience)."""
    return bool(
        regime.sources or regime.rules or regime.lists or regime.sanctions or regime.publicity
    )


def share_ceilings(run: World, twin: World) -> None:
    """One column of tick ceilings for both worlds: the larger of the two for each person. A
    ceiling only lets the persons' kernel skip a person whose draw is at or above it, so a
    larger one skips fewer and changes no tick (behaviour.tick_ceilings); the two are equal
    in every preset checked. 2 bytes a person less. (A change of the run's regime gives it
    its own, schedule.rebuild, and Sim._enter shares them again.)"""
    np.maximum(run.ceiling, twin.ceiling, out=run.ceiling)
    twin.ceiling = run.ceiling


def behave(worlds: list[World], t: int) -> None:
    """Step the persons of the run and its twin in one pass, where their clocks are the same
    (behaviour.same_clocks: the same seed, bounds and tick ceilings — every preset, before
    and after a scheduled change, Sim._enter): each person's ticks are drawn once for both,
    and each world keeps what its regime leaves of them. Each world's step ``t`` then takes
    its result (World.behaved) — the same numbers as stepping each alone."""
    if len(worlds) != 2 or worlds[0].seed != worlds[1].seed:
        return
    started = time.perf_counter()
    sides = [w.side() for w in worlds]
    if not behaviour.same_clocks(*sides):
        return
    keys = behaviour.step_keys(worlds[0].seed, t)
    frees = behaviour.run_persons(t, keys, sides, [w.events for w in worlds])
    for w, free in zip(worlds, frees):
        w.behaved = (t, free)
    worlds[0].seconds += time.perf_counter() - started  # (the twin's cost in the run's time)


def step_type(sc: Scenario) -> type:
    """The integer of the columns that hold a step (a list entry's, a notice's, a delayed
    delisting's end, an appeal's): int16 where every step from the burn-in's first to the
    run's last plus the longest delayed delisting (3,650 days) fits — every run of weeks or
    months (at most 200 years), runs of days up to ~79.7 years —, else int32. 2 bytes a
    person and list less, and the same numbers: a step is an integer either way."""
    last = sc.run.steps + round(3650 / 365.25 / sc.step_years) + 1
    first = -round(sc.run.burn_in_years / sc.step_years)
    return np.int16 if last < 2**15 and first >= -(2**15) else np.int32


class World:
    """One society's dynamic state under one regime (the run, or the twin)."""

    def __init__(
        self,
        society: Society,
        sc: Scenario,
        regime: Regime,
        total_names: list[str],
        grade_names: list[str],
        start: PersonState | None = None,
        recorder: metrics.Recorder | None = None,
        regional: bool = False,
    ):
        self.s, self.sc, self.regime = society, sc, regime
        p, f = society.persons, society.firms
        dt = sc.step_years
        self.dt = dt
        self.seed = sc.run.seed
        # a pilot's reach (None: everywhere) and what the sources see of the society then
        self.scope = Scope.of(sc, regime, p, f)
        self.coverage = society.coverage
        self.active = all_active(society.graph.entries)  # a bit a tie entry
        self.firm_active = all_active(society.firm_graph.entries)
        self.state = (
            PersonState.start(p.n, p.employer >= 0, p.vpn) if start is None else start.copy()
        )
        if self.scope is not None:
            self.use_coverage(society.coverage)
        a, guard = regime.association, regime.safeguards
        on = 1.0 if association_on(regime) else 0.0  # switched off, or by the safeguard
        steps = step_type(sc)
        self.ledger = Ledger(
            p.n,
            regime.scoring.base,
            regime.scoring.grades,
            society.graph,
            person_layer_weights(regime),
            on * a.mean_weight,
            on * a.listed_penalty,
            a.listed_cap,
            compile_rules(regime, "person", dt),
            regime.scoring.range,
            steps,
        )
        self.firm_ledger = Ledger(
            f.n,
            regime.scoring.firm_base,
            regime.scoring.firm_grades,
            society.firm_graph,
            np.array([0, 0, 0, 0, 1.0]),
            on * a.partner_weight,
            0.0,
            0,
            compile_rules(regime, "firm", dt),
            regime.scoring.firm_range,
            steps,
        )
        # a credit market (its starting scores are own points, the same in run and twin)
        self.market = lending.Market(sc, p, sc.run.steps) if sc.lending.enabled else None
        if self.market is not None:
            self.ledger.seed(self.market.initial - self.ledger.base, self.active)
        fr = sc.false_records
        scope = self.scope
        if scope is not None:  # association does not reach those outside a pilot
            self.ledger.immune = ~scope.persons
        self.registry = Registry(
            [x for x in regime.lists if x.subject == "person"],
            p.n,
            self.ledger,
            dt,
            guard,
            fr,
            None if scope is None else scope.persons,
            steps,
        )
        self.firm_registry = Registry(
            [x for x in regime.lists if x.subject == "firm"],
            f.n,
            self.firm_ledger,
            dt,
            guard,
            fr,
            None if scope is None else scope.firms,
            steps,
        )
        args = (
            self.registry.names,
            self.firm_registry.names,
            self.ledger.grade_names,
            self.firm_ledger.grade_names,
        )
        self.table = sanctions.compile_table(regime, "person", *args)
        self.firm_table = sanctions.compile_table(regime, "firm", *args)
        self.out = sanctions.Outcome.zeros(p.n)
        self.firm_out = sanctions.Outcome.zeros(f.n)
        # the data named as the cause of grade sanctions, from the step they start
        self.onsets = sanctions.Onsets.of(self.table.own_sets, p.n)
        self.rep_onsets = sanctions.Onsets.of(self.table.firm_sets, f.n, since=True)
        self.firm_onsets = sanctions.Onsets.of(self.firm_table.own_sets, f.n)
        self.audit = np.zeros_like(self.out.audit)  # applications over the run
        self.firm_audit = np.zeros_like(self.out.audit)  # the firms' (firm-steps)
        self.firm_unrelated = 0  # firms' applications in an unrelated context, over the run
        # who represents each firm (-1: nobody, after a bar, until the firm names another)
        self.legal_rep = f.legal_rep.copy()
        # per sanction reaching representatives: who answers for each firm's current listing
        via = len(self.table) if self.table.via_firm.any() else 0
        self.answerable = np.full((via, f.n if via else 0), -1, np.int32)
        self.barring = bool((self.table.effect == sanctions.LEGAL_REP).any())
        self.p_name_rep = behaviour.per_step(regime.response.representative_replacement, dt)
        self.reps_lost = 0
        self.firm_class = metrics.firm_size_class(f.size)
        self.approval = approval.Approvals(
            sc,
            society.approval_base,
            society.aware0,
            moves=has_system(regime),
            inside=None if scope is None else scope.persons,
        )
        used = [x for x in regime.sources if x not in guard.excluded_sources]
        self.sources = SourceSet(sc, used)
        self.firm_sources = SourceSet(sc, used, "firm")
        self.boost = np.ones(f.n, np.float32)
        r = regime.response
        self.params = behaviour.parameters(sc.behaviour, dt, r.pressure_pay)
        ad = regime.adaptation
        # people adapt only what a source could see (no speech data: no chilled speech)
        # (per act: by how likely a source records each act; else all alike if any is seen)
        per_act = sc.responses.chilling.enabled
        self.chill_max = ad.chill_max if per_act or self.sources.sees_any(CHILLED) else 0.0
        self.responses = behaviour.response_parameters(
            sc, regime, dt, self.sources, society.vpn_intercept
        )
        self.ceiling = behaviour.tick_ceilings(  # (from traits and the clocks' parameters)
            self.params, self.responses, behaviour.traits_of(p, society, self.coverage)
        )
        self.policing = Policing(sc, regime, p.n, f.n, step_type(sc))
        # violations of the persons pressed (from the step after their first pressure), in
        # this world and, by common random numbers, with no system (the twin's): policing.py
        self.pressed_violations = np.zeros(2, np.int64)
        self.vpn_posts_hidden = 0.0  # expected records of critical posts a VPN kept away
        self.deter_max = ad.deter_max if self.sources.sees_any(VIOLATIONS) else 0.0
        self.events = Events(behaviour.EVENT_ROOM * p.n + 1024)
        self.firm_events = Events(4 * f.n + 1024)
        self.avoid_rate = np.zeros(5)
        for layer, rate in r.avoidance.items():
            self.avoid_rate[LAYER_NAMES.index(layer)] = (
                behaviour.per_step(rate, dt) * regime.publicity
            )
        self.screening = screening.Screening(
            sc, regime, society, dt, None if scope is None else scope.firms
        )
        self.firm_ledger.immune = self.screening.immune
        if scope is not None:
            self.firm_ledger.immune = self.screening.immune | ~scope.firms
        self.visible_low = np.array(
            [self.ledger.grade_names.index(g) for g in r.visible_low_grades], np.uint8
        )
        self.cuts = np.zeros(5, np.int64)
        self.ties0 = ties_by_layer(society.graph) + ties_by_layer(society.firm_graph)
        self.spill = np.zeros(p.n, bool)
        self.firm_exposed_ever = np.zeros(f.n, bool)
        regions = len(sc.population.region_weights) if regional else 0
        self.recorder = recorder or metrics.Recorder(
            p, sc.run.steps, total_names, grade_names, regions
        )
        # the recorder's grade column of each of this regime's grades (None: the same order)
        cols = [grade_names.index(g) for g in self.ledger.grade_names]
        self.grade_columns = None if cols == list(range(len(cols))) else np.array(cols, np.uint8)
        self.closing: list[tuple[str, float]] = []  # totals of lists a change dropped
        self.person_records = 0
        self._lcc: tuple[int, float] | None = None
        self.seconds = 0.0
        # (step, its violations of the pressed with no system) once the step's persons have
        # stepped beside the twin's (Sim.run: behave); None: not yet
        self.behaved: tuple[int, int] | None = None

    @property
    def bare(self) -> bool:
        """No system now nor ever before (a schedule may end one: what it left still
        moves), no credit market (its scores are a ledger's), no pilot, no grades employers
        see (a regime of grades alone still costs jobs): scores, lists, sanctions, tie cuts
        and policing have nothing to do, and a step skips them."""
        return (
            not self.approval.had_system
            and self.market is None
            and self.scope is None
            and not len(self.visible_low)
        )

    def reach(self) -> np.ndarray:
        """Per region, whether the regime reaches it (none where there is no system)."""
        k = len(self.sc.population.region_weights)
        if not has_system(self.regime):
            return np.zeros(k, bool)
        return np.ones(k, bool) if self.scope is None else self.scope.regions

    def use_coverage(self, society_coverage: Coverage) -> None:
        """What this world's sources see (a pilot's: only those inside); what they see of
        each person now follows from it and their VPN use (Coverage.seen)."""
        cov = society_coverage if self.scope is None else self.scope.coverage(society_coverage)
        self.coverage = cov

    # ---------------------------------------------------------------- fields for conditions
    def person_fields(self, subj: np.ndarray, true: np.ndarray) -> dict:
        p = self.s.persons
        facts = p.facts[subj]  # (not p.urban[subj]: that forms every person's column first)
        return {
            "urban": (facts & URBAN) != 0,
            "minority": (facts & MINORITY) != 0,
            "foreigner": (facts & FOREIGNER) != 0,
            "age_band": p.age_band[subj],
            "sex": p.sex[subj],
            "education": p.education[subj],
            "income_quintile": p.income_quintile[subj],
            "internet": (facts & INTERNET) != 0,
            "employed": self.state.employed[subj],
            "score": self.ledger.score[subj],
            "listed": self.registry.listed[subj],
            "record_true": true,
            "prior_records": self.ledger.prior[subj],
        }

    def firm_fields(self, subj: np.ndarray, true: np.ndarray) -> dict:
        f = self.s.firms
        return {
            "foreign": f.foreign[subj],
            "sector": f.sector[subj],
            "size": f.size[subj],
            "score": self.firm_ledger.score[subj],
            "listed": self.firm_registry.listed[subj],
            "record_true": true,
            "prior_records": self.firm_ledger.prior[subj],
        }

    # ---------------------------------------------------------------- the step
    def step(self, t: int, measure: bool = True) -> None:
        """Step ``t``; in a run of ``heap.GIVE_BACK_FROM`` persons or more, the heap's free
        pages are then given back (heap.py) — after every step of every world, the
        burn-in's and ``compare``'s included."""
        self._step(t, measure)
        if self.s.persons.n >= heap.GIVE_BACK_FROM:
            heap.give_back()  # the step's freed temporaries, not kept between held blocks

    def _step(self, t: int, measure: bool) -> None:
        started = time.perf_counter()
        s, sc, regime = self.s, self.sc, self.regime
        p, f = s.persons, s.firms
        st, out = self.state, self.out
        # 1. behaviour: how watched each person feels (adaptation), then what they do (and
        # the violations the pressed would make with no system: policing's measure) — done
        # already if the twin stepped its persons with this world's (Sim.run: behave)
        done, self.behaved = self.behaved, None
        if done is not None and done[0] == t:
            free_violations = done[1]
        else:
            keys = behaviour.step_keys(self.seed, t)
            free_violations = behaviour.run_persons(t, keys, [self.side()], [self.events])[0]
        if self.market is not None:  # the credit market's applications and outcomes
            self._lend(t)
        behaviour.run_firms(
            t,
            self.seed,
            sc.behaviour,
            self.dt,
            f,
            self.policing.firm_pressed,
            self.responses[behaviour.RP_COMPLY],
            self.firm_events,
        )
        ev_agent, ev_act = self.events.view()
        # 2. sources: events -> records due now
        scope = self.scope
        recs = self.sources.observe(
            t,
            self.seed,
            ev_agent,
            ev_act,
            p.n,
            self.coverage.seen(st.vpn),
            np.ones(1, np.float32),
            0,
            None if scope is None else scope.targets,
        )
        fev_agent, fev_act = self.firm_events.view()
        frecs = self.firm_sources.observe(
            t,
            self.seed,
            fev_agent,
            fev_act,
            f.n,
            self.coverage.seen_firms(),
            self.boost,
            Stream.FIRM_OFFSET,
            None if scope is None else scope.firm_targets,
        )
        self.person_records += len(recs)
        if self.bare:  # no system, nor ever one: only what lives without one moves
            self._live(t, ev_agent, ev_act)
            if measure:
                self._measure(t, ev_agent, ev_act, recs, frecs, free_violations)
            self.seconds += time.perf_counter() - started
            return
        # 3. scoring: components, expiry, association, grades
        self.ledger.apply(t, recs, self.person_fields, self.active, self.sources.opaque)
        self.firm_ledger.apply(
            t, frecs, self.firm_fields, self.firm_active, self.firm_sources.opaque
        )
        # 4. registry: appeals, listing, notice, term expiry, repair, publication
        upheld = self.registry.appeal(
            t, stream_key(self.seed, Stream.APPEAL, t), out.status, self.active
        )
        firm_upheld = self.firm_registry.appeal(
            t,
            stream_key(self.seed, Stream.APPEAL + Stream.FIRM_OFFSET, t),
            self.firm_out.applied,
            self.firm_active,
        )
        self.registry.update(
            t, recs, self.person_fields, self.active, upheld, stream_key(self.seed, Stream.KEPT, t)
        )
        self.firm_registry.update(
            t,
            frecs,
            self.firm_fields,
            self.firm_active,
            firm_upheld,
            stream_key(self.seed, Stream.KEPT + Stream.FIRM_OFFSET, t),
        )
        # 5. sanctions: what lands on whom, with its effects and its audit
        bound = regime.safeguards.context_bound
        sanctions.apply(
            t,
            self.firm_table,
            self.firm_out,
            regime.response.proportionality,
            bound,
            self.firm_registry,
            self.firm_ledger,
            self.firm_onsets,
            scope=None if scope is None else scope.firms,
        )
        sanctions.apply(
            t,
            self.table,
            out,
            regime.response.proportionality,
            bound,
            self.registry,
            self.ledger,
            self.onsets,
            self.firm_registry,
            self.firm_ledger,
            self.rep_onsets,
            self.legal_rep,
            self.answerable,
            scope=None if scope is None else scope.persons,
            paid=self.earning(),
            counts=self.recorder.tally.counts,
        )
        # the lists and sanctions were the last to ask for the persons' hypothetical grades:
        # dropped now, not held through the rest of the step (2 B a person at the peak)
        self.ledger.forget()
        self.boost = self.firm_out.inspection
        _household_spillover(p.home, out.bits, out.effects[sanctions.SCHOOL], self.spill)
        # 6. response: avoidance, employers, partners, representatives, income
        if self.barring or self.legal_rep.min(initial=0) < 0:  # bars, or firms still naming
            lost, _ = response.representatives(
                stream_key(self.seed, Stream.REPRESENTATIVE, t),
                out.barred,
                self.registry.listed,
                self.legal_rep,
                f.region,
                s.region_starts,
                self.p_name_rep,
            )
            self.reps_lost += lost
        visible = self.registry.visible_ones()  # (ascending)
        flagged = self.registry.listed  # what employers screen on: any list, or a low grade
        if len(self.visible_low):  # (one column a person formed, not three: low, then
            flagged = grades_among(self.ledger.grade, self.visible_low)  # or listed, in place)
            if scope is not None:
                flagged &= scope.persons
            if regime.publicity > 0:
                visible = np.flatnonzero(self.registry.visible | flagged)
            flagged |= self.registry.listed
        response.cut_ties(
            visible,
            s.graph,
            self.active,
            self.avoid_rate,
            p.risk_aversion,
            stream_key(self.seed, Stream.AVOIDANCE, t),
            self.ledger,
            self.registry.listed,
            self.cuts,
            self.recorder.tally.counts,
        )
        self.policing.respond(
            t,
            self.seed,
            recs,
            self.sources.opaque,
            st,
            s.graph,
            self.active,
            p.risk_aversion,
            self.ledger,
            self.registry.listed,
            self.cuts,
            self.recorder.tally.counts,
        )
        self.policing.respond_firms(
            t, self.seed, frecs, self.firm_sources.opaque, self.legal_rep, st.watched
        )
        self.screening.drop(
            t,
            self.seed,
            s.firm_graph,
            self.firm_active,
            self.firm_ledger,
            self.firm_registry,
            self.cuts,
        )
        self._live(t, ev_agent, ev_act, flagged)
        del flagged, visible  # (not held while the metrics count)
        # 8. metrics
        if measure:
            self._measure(t, ev_agent, ev_act, recs, frecs, free_violations)
        self.firm_ledger.forget()  # (the persons' ledger forgot after the sanctions, above)
        self.seconds += time.perf_counter() - started

    def side(self) -> behaviour.Side:
        """This world's part of the persons' pass at the start of a step: its parameters, what
        its regime does to each person, and its event buffer."""
        out = self.out
        blocks = behaviour.Blocks(
            *sanctions.Sanctioned.of(out), self.registry.listed,
            contacts=self.ledger.listed_contacts, status=out.status,
        )  # fmt: skip
        if self.policing.on:  # the pressed: their violations with no system are counted
            blocks = blocks._replace(since=self.policing.first)
        if self.scope is not None:  # outside a pilot nobody is watched
            blocks = blocks._replace(inside=self.scope.persons)
        return behaviour.side(
            self.params,
            self.responses,
            self.sources.recorded,
            self.chill_max,
            self.deter_max,
            self.s.persons,
            self.s,
            self.coverage,
            self.ceiling,
            self.state,
            blocks,
            self.events,
        )

    def earning(self) -> sanctions.Earning:
        """What each person's income follows from (sanctions.income_of)."""
        p = self.s.persons
        return sanctions.Earning(
            p.base_income,
            p.employer,
            self.state.employed,
            self.s.flags,
            np.float32(self.sc.behaviour.unemployed_income_share),
            *sanctions.Sanctioned.of(self.out),
        )

    def income(self) -> np.ndarray:
        """Each person's income now, after job status, sanctions and rewards (a new array:
        no column holds it, the metrics form it as they count)."""
        return response.income(self.earning())

    @property
    def deg_active(self) -> np.ndarray:
        """Each person's active ties (a new array: no column holds it, the metrics count each
        row's active bits as they read it, network.active_in)."""
        return self.s.graph.degree(self.active)

    def _live(self, t: int, ev_agent, ev_act, flagged: np.ndarray | None = None) -> None:
        """6 and 7, what a step does with or without a system: employers (screening on
        ``flagged``: by default, the listed), approval (income follows: World.income)."""
        s, sc, regime, out = self.s, self.sc, self.regime, self.out
        response.employers(
            stream_key(self.seed, Stream.EMPLOYER, t),
            self.earning(),
            self.registry.listed if flagged is None else flagged,
            sc.behaviour,
            regime.response,
            self.dt,
            self.recorder.tally.counts,
        )
        # 7. approval: awareness, experience, information
        self.approval.step(
            t,
            regime.publicity,
            out.status,
            out.rewarded,
            ev_agent,
            ev_act,
            s.graph,
            self.active,
            self.person_fields,
        )

    def _lend(self, t: int) -> None:
        """The credit market's step: its events join the persons' (each person's events
        stay together, as the sources need)."""
        agents, acts = self.market.step(
            t, self.seed, *lending.scores(self.ledger), self.out.block_credit, self.regime.lender
        )
        if len(agents):
            a, c = self.events.view()
            a, c = np.concatenate([a, agents]), np.concatenate([c, acts])
            order = np.argsort(a, kind="stable")
            self.events.take(a[order], c[order])

    def _recorded_grades(self) -> np.ndarray | None:
        if not self.ledger.grade_names:
            return None
        g = self.ledger.grade
        return g if self.grade_columns is None else self.grade_columns[g]

    def _measure(self, t, ev_agent, ev_act, recs, frecs, free_violations: int) -> None:
        rec = self.recorder
        rec.person_step(
            t,
            self.registry,
            self.out,
            self.spill,
            self.state,
            self.earning(),
            self.s.graph,
            self.active,
            self.ledger.score,
            self._recorded_grades(),
            self.approval,
            ev_agent,
            ev_act,
            recs.subject,
            recs.true,
        )
        if rec.panel is not None:
            rec.panel.inside[t] = self.reach()
        for name, value in self.closing:
            rec.total(t, name, value)
        self.closing = []
        st = self.state
        if self.policing.on:
            since = self.policing.first
            self.pressed_violations[0] += _count_since(ev_agent, ev_act, VIOLATION_IDS, since, t)
            self.pressed_violations[1] += free_violations
        mask = int(self.responses[behaviour.RP_POST_MASK])
        if mask:
            self.vpn_posts_hidden += behaviour.kept_from_sources(
                ev_agent[ev_act == CRITICAL_POST],
                mask,
                self.coverage.seen(st.vpn),
                self.sources.recorded,
            )
        rec.total(t, "vpn_users", float(np.count_nonzero(st.vpn)))  # (a bool sum is slower)
        rec.total(t, "critical_posts_hidden_by_vpn", self.vpn_posts_hidden)
        rec.total(t, "persons_pressured", float(np.count_nonzero(st.pressured)))
        rec.total(t, "ties_cut_by_policing", float(self.policing.cuts))
        rec.total(t, "firms_pressured", float(np.count_nonzero(self.policing.firm_pressed)))
        for k, name in enumerate(LAYER_NAMES):
            rec.total(t, f"ties_cut.{name}", float(self.cuts[k]))
            rec.total(t, f"ties_active.{name}", float(self.ties0[k] - self.cuts[k]))
        for reg, prefix in ((self.registry, "list"), (self.firm_registry, "firm_list")):
            stock = reg.stock()
            rec.total(t, f"{prefix}_appeals_heard", float(reg.appeals_heard))
            rec.total(t, f"{prefix}_appeals_upheld", float(reg.appeals_upheld))
            for k, name in enumerate(reg.names):
                rec.total(t, f"{prefix}.{name}.notices", float(reg.notices[k]))
                rec.total(t, f"{prefix}.{name}.stock", float(stock[k]))
                rec.total(t, f"{prefix}.{name}.inflow", float(reg.inflow[k]))
                rec.total(t, f"{prefix}.{name}.outflow", float(reg.outflow[k]))
        f = self.s.firms
        fl = self.firm_registry.listed
        rep = self.legal_rep
        vacant = rep < 0
        exposed = f.foreign & (
            ((self.firm_ledger.listed_contacts > 0) & ~self.screening.immune)
            | (self.firm_ledger.grade != self.firm_ledger.hypothetical_grades()[1])
            | (self.registry.listed[rep] & ~vacant)
            | ((self.out.status[rep] == 3) & ~vacant)
            | vacant
        )
        self.audit += self.out.audit
        self.firm_audit += self.firm_out.audit
        self.firm_unrelated += int(self.firm_out.unrelated.sum(dtype=np.int64))
        revenue = f.revenue * self.firm_out.income_factor(None)  # (a firm: everyone)
        by_class = np.bincount(self.firm_class, weights=revenue, minlength=len(metrics.FIRM_SIZES))
        rec.total(t, "firm_revenue", float(revenue.sum(dtype=np.float64)))
        rec.total(t, "firm_revenue.foreign", float(revenue[f.foreign].sum(dtype=np.float64)))
        for k, name in enumerate(metrics.FIRM_SIZES):
            rec.total(t, f"firm_revenue.{name}", float(by_class[k]))
        rec.total(t, "firms_without_representative", float(vacant.sum()))
        rec.total(t, "representatives_lost", float(self.reps_lost))
        self.firm_exposed_ever |= exposed
        rec.total(t, "firms_listed", float(fl.sum()))
        rec.total(t, "firms_sanctioned", float((self.firm_out.applied > 0).sum()))
        rec.total(t, "foreign_firms_exposed", float(exposed.sum()))
        rec.total(t, "firm_records", float(len(frecs)))
        rec.total(t, "records_invented", float(self.sources.invented_count))
        rec.total(t, "delistings_kept", float(self.registry.kept + self.firm_registry.kept))
        rec.total(t, "firm_false_records", float((~frecs.true).sum()))
        counts = np.bincount(recs.source, minlength=len(self.sources.names))
        fcounts = np.bincount(frecs.source, minlength=len(self.sources.names))
        for k, name in enumerate(self.sources.names):
            rec.total(t, f"records.{name}", float(counts[k] + fcounts[k]))
        for table, outcome, prefix in (
            (self.table, self.out, "sanction"),
            (self.firm_table, self.firm_out, "firm_sanction"),
        ):
            if len(table):
                hits = _bit_counts(outcome.bits, len(table))
                for k, name in enumerate(table.names):
                    rec.total(t, f"{prefix}.{name}", float(hits[k]))
        every = self.sc.steps_of(self.sc.run.network_metrics_every_days, at_least=1)
        if t % every == 0 or t == self.sc.run.steps - 1:
            cut = int(self.cuts[:4].sum())
            if self._lcc is None or self._lcc[0] != cut:  # unchanged graph: reuse the scan
                self._lcc = (cut, largest_component_share(self.s.graph, self.active))
            rec.total(t, "largest_component_share", self._lcc[1])
            rec.total(
                t,
                "score_assortativity",
                score_assortativity(self.s.graph, self.active, self.ledger.score),
            )


def burn_in(society: Society, sc: Scenario, names, grades) -> PersonState | None:
    """Let the society live ``run.burn_in_years`` with no system, so that the run starts with
    loans, defaults and lawsuits under way. Steps -B .. -1 have their own random numbers."""
    steps = round(sc.run.burn_in_years / sc.step_years)
    if steps == 0:
        return None
    world = World(society, sc, NONE_REGIME, names, grades)
    world.market = None  # the credit market opens with the run
    for t in range(-steps, 0):
        world.step(t, measure=False)
    world.state.watched[:] = 0
    world.state.pressured[:] = False
    world.state.knows[:] = 0
    return world.state


VIOLATION_IDS = np.array([ACT_ID[a] for a in VIOLATIONS], np.uint8)


@njit(cache=True)
def _count_since(agents, acts, which, since, t):
    """Events whose act is one of ``which``, by persons with ``since[agent] < t``."""
    hit = np.zeros(256, np.bool_)
    for a in which:
        hit[a] = True
    total = 0
    for k in range(len(agents)):
        if hit[acts[k]] and since[agents[k]] < t:
            total += 1
    return total


@njit(cache=True)
def _bit_counts(bits: np.ndarray, width: int) -> np.ndarray:
    """How many elements have each of the low ``width`` bits set."""
    counts = np.zeros(width, np.int64)
    for b in bits:
        if b:
            for k in range(width):
                counts[k] += (b >> k) & 1
    return counts


def _household_spillover(home, bits, school, spill) -> None:
    """Household members of a person whose children are barred from private schools (into
    ``spill``): a person is barred if its sanctions' ``bits`` meet ``school`` (the bits of
    the sanctions that bar schools: 0, none does). Households are runs of persons
    (``home``: Persons.home). The barred are few: found in parallel, then their households
    marked in order."""
    spill[:] = False
    if school:
        _mark_households(home, bits, school, _meeting(bits, school), spill)


@njit(cache=True, parallel=True)
def _meeting(bits, school):
    """The persons whose ``bits`` meet ``school``, ascending: counted, then written, slice by
    slice in parallel, each slice read through views (indexes not negative: see
    docs/architecture.md, "Parallel kernels, same numbers")."""
    n = len(bits)
    slices, size = slicing(n)
    first = np.zeros(slices + 1, np.int64)
    for s in prange(slices):
        b = bits[s * size : min(n, (s + 1) * size)]
        c = 0
        for i in range(len(b)):
            c += (b[i] & school) != 0
        first[s + 1] = c
    for s in range(slices):
        first[s + 1] += first[s]
    out = np.empty(first[slices], np.int64)
    for s in prange(slices):
        b = bits[s * size : min(n, (s + 1) * size)]
        k = first[s]
        for i in range(len(b)):
            if b[i] & school:
                out[k] = s * size + i
                k += 1
    return out


@njit(cache=True)
def _mark_households(home, bits, school, barred, spill):
    for i in barred:
        lo, hi = household_of(home, i)
        for m in range(lo, hi):
            if not bits[m] & school:
                spill[m] = True


def recorded_names(scenarios: list[Scenario]) -> tuple[list[str], list[str]]:
    """The totals and grades a run records: those of every phase, in the order they first
    appear (one layout for the whole run, whatever regime is in force)."""
    names: dict[str, None] = {}
    grades: dict[str, None] = {}
    for sc in scenarios:
        names.update(dict.fromkeys(total_names(sc)))
        ordered = sorted(sc.regime.scoring.grades, key=lambda g: -g.min)
        grades.update(dict.fromkeys(g.name for g in ordered))
    return list(names), list(grades)


def total_names(sc: Scenario) -> list[str]:
    names = []
    for layer in LAYER_NAMES:
        names += [f"ties_cut.{layer}", f"ties_active.{layer}"]
    for lst in sc.regime.lists:
        prefix = "list" if lst.subject == "person" else "firm_list"
        names += [f"{prefix}.{lst.name}.{x}" for x in ("stock", "inflow", "outflow", "notices")]
    names += ["list_appeals_heard", "list_appeals_upheld"]
    names += ["firm_list_appeals_heard", "firm_list_appeals_upheld"]
    names += [
        "firms_listed",
        "firms_sanctioned",
        "foreign_firms_exposed",
        "firm_records",
        "firm_false_records",
        "records_invented",
        "delistings_kept",
        "firm_revenue",
        "firm_revenue.foreign",
        *(f"firm_revenue.{size}" for size in metrics.FIRM_SIZES),
        "firms_without_representative",
        "representatives_lost",
    ]
    names += [f"records.{s}" for s in sc.sources]
    for s in sc.regime.sanctions:
        names.append(f"{'firm_sanction' if s.subject == 'firm' else 'sanction'}.{s.name}")
    names += ["largest_component_share", "score_assortativity"]
    names += [
        "vpn_users",
        "critical_posts_hidden_by_vpn",
        "persons_pressured",
        "ties_cut_by_policing",
        "firms_pressured",
    ]
    return names


# ------------------------------------------------------------------------ memory guard


# The memory budget (bytes), checked against the arrays by tests/test_memory.py and against
# peak RSS by benchmarks/memory.py (BENCHMARKS.md):
STATIC_PERSON_BYTES = PERSON_BYTES + 1 + 4 + 4  # traits etc.; the flags (Society.flags:
#          learner, self-employed, legal representative — the travel weights follow from the
#          last two and the income: behaviour.travel_weight, mode_weight — and awareness at
#          the start); the approval baseline; open and VPN-hidden coverage bits (what the
#          sources see of a person follows from them and VPN use: sources.Seen). A row start
#          (ROW_START_BYTES) comes on top, in estimate_bytes
# (no household column but the person's place and size, a byte: Persons.home)
WORLD_PERSON_BYTES = 76  # one world's columns but its steps: ledger 41 + a step (the last
#                          appeal's), registry 2 + a list's, sanctions 5, state 12, event
#                           buffer 5, spill 1, metrics 3 (cell 2, ever 1), approval 5
#                           (experience 4, its yes/no facts a bit each: ApprovalState), tick
#                           ceilings 2; + a step where policing is on (the first pressure's);
#                           + 4 where the sums of layer weights need float64 (weight_sum_type)
MOST_TIES = 10**6  # [assume] the most ties a person has, for the estimate of weight_sum_type
#                  (the article's online hubs at 10^8 persons: ~6 x 10^5 expected)
BARE_PERSON_BYTES = 27  # a bare world's columns but its step (World.bare: no system, no
#                         market, no pilot, no grades employers see) that it writes: state 12,
#                         event buffer 5, tick ceilings 2, the recorder's cell 2, and the
#                         constants it is given at the start (score 4, a ledger's context 1,
#                         approval's flags 1: awareness, and who a campaign told). Its other
#                         columns are zeros it never writes: numpy takes them from the system
#                         zeroed and untouched, and they are no memory until written (arrays
#                         of more than 32 MB, as at scale, always; smaller ones may reuse
#                         freed memory)
# (no world keeps a degree column: readers count a row's active bits, network.active_in)
CEILING_BYTES = 2  # a person's tick ceiling (behaviour.tick_ceilings), in each world's budget
LIST_PERSON_BYTES = 4  # one list's columns in one world (member, gravity, ctx, cause) + a step
NOTICE_LIST_BYTES = 2  # one list's notice columns, under a notice period (record) + a step
# (each of these holds one step more: since, the notice's step, a delayed delisting's end; 2
# or 4 bytes, sim.step_type)
GRADE_SET_BYTES = 3  # per agent, for each set of grades a sanction is on (in, context, gravity)
WORLD_FIRM_BYTES = 63  # one world's columns of a firm but its steps and lists: ledger 41
#                         (the business ties' weight, 1, sums exactly in float32),
#                         sanctions 5, the inspections they boost 4, registry 2,
#                         representative 4, screening weight 4, size class 1, pressed by
#                         policing 1, exposed 1
FIRM_RESPONSE_BYTES = 5  # static: the share of worst-rated firms avoided (4), safeguarded (1)
ANSWERABLE_FIRM_BYTES = 4  # per sanction that reaches representatives: who answers
PILOT_PERSON_BYTES = 11  # a pilot world's own coverage (2), reach (1), ids out (8) or in (4)
# (the regional panel keeps no column: it reads the persons' region, metrics._panel_pass)
PILOT_FIRM_BYTES = 7  # its firms' coverage (2), reach (1), ids inside (4)


def _grade_sets(regime: Regime, side: str) -> int:
    """Distinct sets of grades that sanctions of one side are on ("person": on persons' own
    grades; "firm": on firms' grades, for firms and their representatives)."""
    sets = {
        frozenset(s.on_grades)
        for s in regime.sanctions
        if s.on_grades and (s.subject == "person") == (side == "person")
    }
    return len(sets)


def _lists_bytes(regime: Regime, subject: str, kept: bool, step_bytes: int) -> float:
    """Bytes per agent of one world's lists of ``subject`` ("person" or "firm")."""
    lists = sum(x.subject == subject for x in regime.lists)
    per_list = LIST_PERSON_BYTES + step_bytes
    if regime.safeguards.notice_days:
        per_list += NOTICE_LIST_BYTES + step_bytes
    per_list += step_bytes if kept else 0
    return per_list * lists


def world_person_bytes(
    regime: Regime, kept: bool = False, step_bytes: int = 2, pressed: bool = False
) -> float:
    """Bytes per person of one world under ``regime`` (its columns, lists and grade sets);
    ``kept``: delistings may be delayed (a step per list and person); ``pressed``: policing
    is on (policing.pressing: the step of each person's first pressure)."""
    own = WORLD_PERSON_BYTES + step_bytes * (2 if pressed else 1)
    own += np.dtype(weight_sum_type(person_layer_weights(regime), MOST_TIES)).itemsize - 4
    lists = _lists_bytes(regime, "person", kept, step_bytes)
    return own + lists + GRADE_SET_BYTES * _grade_sets(regime, "person")


def world_firm_bytes(regime: Regime, kept: bool = False, step_bytes: int = 2) -> float:
    """Bytes per firm of one world under ``regime``: its columns and lists, its grade sets
    (held for its own sanctions and its representatives', with the step each firm entered:
    an upper bound), and where sanctions reach representatives, who answers for each firm
    under each sanction of a person and whether policing ever pressed it."""
    out = WORLD_FIRM_BYTES + step_bytes + _lists_bytes(regime, "firm", kept, step_bytes)
    out += (2 * GRADE_SET_BYTES + 4) * _grade_sets(regime, "firm")
    if any(s.subject == "representative" for s in regime.sanctions):
        out += ANSWERABLE_FIRM_BYTES * sum(s.subject != "firm" for s in regime.sanctions) + 1
    return out


# A pending expiry (scoring.Pending): a gap to the agent before (a byte where under 128, a
# byte more each further 7 bits), its true flag (a bit) and, from a few sources, its opaque
# flag (a bit). The gaps widen as steps shorten (fewer of a rule's records a step) [measured:
# article, the end of a run, 1.65 B a record by day (3 x 10^5, half a year), 1.27 by week
# (10^6, a year), 1.18 by month (3 x 10^5, a year); the same at any N, as densities are]
RECORD_BYTES = {"day": 1.7, "week": 1.3, "month": 1.2}
# [measured] article, the busiest preset (benchmarks/memory.py): 0.12 records a person and
# weekly step; records come with time, not steps (monthly steps make ~4.6x as many a step)
RECORDS_PER_PERSON_YEAR = 0.12 * 365.25 / 7
BASE_BYTES = 360e6  # interpreter, numba, libraries, every kernel loaded [measured: a warm
#                    process after a small run, 0.36 GB, benchmarks/memory_peaks.py, 2026-11-29]


ROW_START_BYTES = 4  # a person's row start among all its entries (network.narrow_starts:
#                     8 from 2**32 entries), and where ties are implicit, another among the
#                     stored entries
STAFF_BYTES = 4  # a worker's place in its firm's staff (Ties.staff), where ties are implicit
STAFF_START_BYTES = 8  # a firm's first worker in the staff (Ties.staff_starts), likewise
WORKER_SHARE = 0.6  # [measured] the persons who work for a firm (article, 2 x 10^5: 0.59)
IMPLICIT_SHARE = 0.5  # [assume] hold ties implicitly where the graph stored whole would need
#                       more than this share of the available memory (the walks are slower)


def mean_degrees(sc: Scenario, implicit: bool = True) -> tuple[float, float]:
    """A person's entries, all and stored. ``implicit``: household, co-worker and unrewired
    community ties are held implicitly (network.Ties, with a bit a lattice link), online
    ties and rewired community ties stored; otherwise all are stored."""
    net, pop = sc.network, sc.population
    work = min(net.work_degree_cap, 10) * WORKER_SHARE
    online = net.online_degree * pop.internet_share
    degree = (pop.household_mean - 1) + work + net.community_degree + online
    return (
        degree,
        online + net.community_degree * net.community_rewire if implicit else degree,
    )


def ties_implicit(sc: Scenario, have: float | None = None) -> bool:
    """Whether the society's graph holds household, co-worker and lattice ties implicitly:
    where the run, with the graph stored whole, would need more than IMPLICIT_SHARE of the
    memory ``have`` (the available memory if None; so the estimate of a run near that share
    depends on the memory free when it is made). Both forms give the same numbers; the
    implicit one needs ~50 B a person less, and its walks are slower (BENCHMARKS.md)."""
    have = available_bytes() if have is None else have
    return estimate_bytes(sc, implicit=False) > IMPLICIT_SHARE * have


def row_start_bytes(entries: float) -> int:
    """Bytes of a row start in a graph of ``entries`` entries (network.narrow_starts)."""
    return ROW_START_BYTES if entries < 2**32 else 8


def estimate_bytes(sc: Scenario, implicit: bool | None = None) -> int:
    """Peak memory of a build and run, from the per-person and per-entry budgets above: the
    larger of the build (society + pair lists) and the run (society + worlds + pending
    record expiries, which grow until the longest rule's expiry). ``implicit``: the graph's
    form (None: the one build_society chooses, ties_implicit)."""
    if implicit is None:
        implicit = ties_implicit(sc)
    n = sc.population.persons
    m = n * sc.population.firms_per_person
    net = sc.network
    degree, stored_degree = mean_degrees(sc, implicit)
    entries, stored = n * degree, n * stored_degree
    entry_bytes = ENTRY_BYTES if n < PACK32_LIMIT else 8  # wide entries beyond 2**29
    society = n * (STATIC_PERSON_BYTES + row_start_bytes(entries)) + stored * entry_bytes
    if implicit:  # the stored entries' row starts; a bit a lattice link; the firms' staff
        society += n * (row_start_bytes(stored) + net.community_degree / 16)
        society += n * WORKER_SHARE * STAFF_BYTES + m * STAFF_START_BYTES
    society += m * (FIRM_BYTES + FIRM_RESPONSE_BYTES)
    build = society + stored * 4 + n * 16  # pair lists (int32 a, b per 2 entries), counts
    worlds = []
    had_system = False  # the run's world has had a system (it stays not bare)
    pressed = False  # policing has been on in it (its first pressures stay: policing.first)
    for phase in phases(sc) if sc.schedule else [None]:
        now = sc if phase is None else phase.scenario
        had_system = had_system or has_system(now.regime)
        pressed = pressed or pressing(now, now.regime)
        sizes = [_world_bytes(now, now.regime, n, m, entries, not had_system, pressed)]
        if sc.run.twin:  # (it shares the run's tick ceilings: share_ceilings)
            twin = _world_bytes(now, NONE_REGIME, n, m, entries, bare=True)
            sizes.append(twin - n * CEILING_BYTES)
        worlds.append(sizes)
    run = society + max(sum(w) for w in worlds)
    if sc.schedule:  # a change holds the old world and the new one for a moment
        run += max(max(w) for w in worlds)
    return int(max(build, run) + BASE_BYTES)


def table_bytes(sc: Scenario, regime: Regime) -> int:
    """The bytes of one world's per-step table (the recorder's cells) under ``regime``."""
    metrics_per_cell = len(metrics.ALL_PERSON_METRICS) + len(regime.scoring.grades)
    return sc.run.steps * metrics.N_CELLS * metrics_per_cell * 8


def tables_bytes(sc: Scenario) -> int:
    """The bytes of a run's per-step tables: its world's and its twin's."""
    return table_bytes(sc, sc.regime) + (table_bytes(sc, NONE_REGIME) if sc.run.twin else 0)


def _world_bytes(
    sc: Scenario,
    regime: Regime,
    n: int,
    m: int,
    entries: float,
    bare: bool = False,
    pressed: bool = False,
) -> float:
    """One world's bytes under ``regime``: its columns, tie masks, recorder and records;
    ``bare``: it has had no system (World.bare, if nothing else rules it out here);
    ``pressed``: policing has been on in it before (its column of first pressures stays)."""
    fr = sc.false_records
    kept = fr.kept_share > 0 and fr.kept_days > 0
    step_bytes = np.dtype(step_type(sc)).itemsize
    bare = bare and not sc.lending.enabled and regions_inside(sc, regime) is None
    bare = bare and not regime.response.visible_low_grades
    pressed = pressed or pressing(sc, regime)
    own = world_person_bytes(regime, kept, step_bytes, pressed)
    own = BARE_PERSON_BYTES + step_bytes if bare else own
    run = n * own + entries / 8
    if regions_inside(sc, regime) is not None:
        run += n * PILOT_PERSON_BYTES + m * PILOT_FIRM_BYTES
    run += m * world_firm_bytes(regime, kept, step_bytes)
    run += table_bytes(sc, regime)
    expiries = [r.expiry_years for r in regime.rules]
    cap = regime.safeguards.max_record_age_years
    if cap > 0:
        expiries = [cap if x == 0 else min(x, cap) for x in expiries]
    if expiries:
        held = sc.run.steps if 0 in expiries else round(max(expiries) / sc.step_years)
        per_step = RECORDS_PER_PERSON_YEAR * sc.step_years
        run += n * per_step * min(sc.run.steps, held) * RECORD_BYTES[sc.run.step]
    return run


def available_bytes() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def largest_fitting(sc: Scenario, budget: float) -> int:
    """The largest population (to within 1 %) whose estimate stays within ``budget`` bytes
    (with ties held implicitly where they would be with ``budget`` available): below the
    scenario's persons where they do not fit, above them where they do (up to the
    scenario's limit on persons)."""

    def fits(persons: int) -> bool:
        trial = sc.model_copy(deep=True)
        trial.population.persons = persons
        return estimate_bytes(trial, ties_implicit(trial, budget)) <= budget

    cap = type(sc.population).model_fields["persons"].metadata
    most = min(m.le for m in cap if hasattr(m, "le"))
    lo, hi = 10, max(11, sc.population.persons)
    while hi < most and fits(hi):  # fits as asked: how far above?
        lo, hi = hi, min(most, 2 * hi)
    if hi == most and fits(hi):
        return most
    while hi - lo > max(1000, lo // 100):
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def check_memory(sc: Scenario, file=None) -> None:
    need, have = estimate_bytes(sc), available_bytes()
    tables = tables_bytes(sc)
    if need > have and tables > need / 2:  # the steps, not the persons, fill the memory
        per_step = tables / sc.run.steps
        steps = max(0, int((have - (need - tables)) / per_step))
        raise ScenarioError(
            file,
            "run.years",
            sc.run.years,
            f"needs about {need / 1e9:.1f} GB, {tables / 1e9:.1f} GB of them the per-step "
            f"tables of {sc.run.steps:,} steps, but {have / 1e9:.1f} GB is available; the "
            f"longest run that fits is about {steps * sc.step_years:.3g} years ({steps:,} steps)",
        )
    if need > have:
        raise ScenarioError(
            file,
            "population.persons",
            sc.population.persons,
            f"needs about {need / 1e9:.1f} GB but {have / 1e9:.1f} GB is "
            f"available; the largest population that fits is about "
            f"{largest_fitting(sc, have):,}",
        )


# ------------------------------------------------------------------------ public face


class Sim:
    """A scenario, built and run beside its twin.

    >>> import scoresim
    >>> res = scoresim.Sim("article", n=20_000, years=1).run()   # doctest: +SKIP
    >>> res.summary()["listed_share"]                            # doctest: +SKIP
    """

    def __init__(
        self,
        scenario: str | Scenario = "article",
        *,
        n: int | None = None,
        years: float | None = None,
        seed: int | None = None,
        twin: bool | None = None,
        overrides: dict | None = None,
    ):
        if isinstance(scenario, Scenario):
            sc = scenario.model_copy(deep=True)
        else:
            sc = load(scenario, overrides)
        self.file = None if isinstance(scenario, Scenario) else scenario
        extra = {}
        if n is not None:
            extra.setdefault("population", {})["persons"] = int(n)
        run = {k: v for k, v in (("years", years), ("seed", seed), ("twin", twin)) if v is not None}
        if run:
            extra["run"] = run
        if extra:
            from .scenario import _merge, from_dict

            sc = from_dict(_merge(sc.model_dump(mode="python"), extra), self.file)
        self.scenario = sc
        self.phases = phases(sc, self.file)  # the scenario in force from each change on
        self.society: Society | None = None
        self.worlds: list[World] = []
        self.build_seconds = 0.0

    def build(self, worlds: bool = True) -> Sim:
        """Build the society and (unless ``worlds`` is False, as when resuming from a
        checkpoint that holds them) the burnt-in worlds."""
        check_memory(self.scenario, self.file)
        started = time.perf_counter()
        sc = self.scenario
        self.society = build_society(sc)
        if not worlds:
            self.build_seconds = time.perf_counter() - started
            return self
        sc = self.phases[0].scenario  # the scenario before any change
        names, grades = recorded_names([ph.scenario for ph in self.phases])
        start = burn_in(self.society, sc, names, grades)
        regional = sc.run.regional or any(
            regions_inside(ph.scenario, ph.scenario.regime) is not None for ph in self.phases
        )
        self.worlds = [World(self.society, sc, sc.regime, names, grades, start, None, regional)]
        if sc.run.twin:
            self.worlds.append(
                World(self.society, sc, NONE_REGIME, names, grades, start, None, regional)
            )
            share_ceilings(*self.worlds)
        if self.society.persons.n >= heap.GIVE_BACK_FROM:
            heap.give_back()  # (what the build and the burn-in freed)
        self.build_seconds = time.perf_counter() - started
        return self

    def run(
        self,
        progress: Callable[[int, int], None] | None = None,
        start: int = 0,
        after_step: Callable[[int], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ):
        """Run steps ``start`` .. end; ``after_step(t)`` is called after each (checkpoints),
        and ``stop()`` is asked after each: if true, :class:`Interrupted` is raised with the
        last step done, at a step boundary where the state is whole."""
        from .results import Results

        if self.society is None:
            self.build()
        steps = self.scenario.run.steps
        started = time.perf_counter()
        if start > 0:  # resumed: the worlds are in their phase; the society's coverage too
            now = [ph for ph in self.phases if ph.step < start]
            if any(ph.coverage_changed for ph in now):
                set_coverage(self, now[-1].scenario)
        for t in range(start, steps):
            for ph in self.phases[1:]:
                if ph.step == t:
                    self._enter(ph, t)
            behave(self.worlds, t)
            for w in self.worlds:
                w.step(t)
            if after_step is not None:
                after_step(t)
            if progress is not None:
                progress(t + 1, steps)
            if stop is not None and stop() and t + 1 < steps:
                raise Interrupted(t)
        loop = time.perf_counter() - started
        return Results.from_sim(self, loop_seconds=loop)

    def _enter(self, phase, t: int) -> None:
        """Apply a scheduled change at the start of step ``t``: the run's world is rebuilt
        under the phase's regime, the twin's too where more than the regime changed."""
        sc = phase.scenario
        if phase.coverage_changed:
            set_coverage(self, sc)
        self.worlds[0] = rebuild(self.worlds[0], sc, sc.regime, t)
        if len(self.worlds) > 1 and phase.other_changed:
            self.worlds[1] = rebuild(self.worlds[1], sc, NONE_REGIME, t)
        if len(self.worlds) > 1:  # one column of ceilings again (no tick changes): the
            share_ceilings(*self.worlds)  # worlds can step their persons together (behave)


class Interrupted(Exception):
    """The run was asked to stop; ``step`` is the last step done."""

    def __init__(self, step: int):
        super().__init__(step)
        self.step = step
