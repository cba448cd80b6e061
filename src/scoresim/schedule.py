"""Schedules: a scenario that changes while it runs (docs/model.md §7.10).

Each ``[[schedule]]`` entry, merged over the ones before it, makes a *phase*: a whole
scenario, validated at load like any other. At the start of a phase's step the worlds it
touches are rebuilt from it and their lived state is carried over ("rebuild and carry",
docs/design/schedules.md). What a scenario compiles (rules, lists, sanctions, sources,
behaviour parameters) comes from the new phase; what people and firms have lived (records
and their expiries, listings, cut ties, experience, pressure) stays. A regime change
rebuilds the run's world only; any other change rebuilds the twin too.

Keys that shaped the society before the run (its size, graph, seed, steps, who travels, the
approval baseline) cannot change: :data:`FROZEN` names them, and a schedule that changes one
is refused at load.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .registry import VISIBLE
from .scenario import Scenario, ScenarioError, _merge, _read_toml, _resolve, presets

if TYPE_CHECKING:
    from .sim import World

# Paths (dotted prefixes) a schedule may not change, and why.
FROZEN: dict[str, str] = {
    "name": "names the scenario",
    "description": "describes the scenario",
    "extends": "names the preset the scenario builds on",
    "run.seed": "sets the run's random numbers",
    "run.years": "sets the run's length",
    "run.step": "sets the run's steps",
    "run.twin": "sets whether the run has a twin",
    "run.burn_in_years": "sets the society's life before the run",
    "run.regional": "sets what the run records",
    "population": "shapes the society built before the run",
    "network": "shapes the society's ties built before the run",
    "lending": "shapes the credit market built before the run (its lender is regime.lender)",
    "approval.intercept": "sets the approval baseline drawn before the run",
    "approval.income": "sets the approval baseline drawn before the run",
    "approval.education": "sets the approval baseline drawn before the run",
    "approval.urban": "sets the approval baseline drawn before the run",
    "approval.age": "sets the approval baseline drawn before the run",
    "approval.spread": "sets the approval baseline drawn before the run",
    "approval.aware_share": "sets who knows of the system before the run",
    "approval.information.share": "schedules its campaign itself (at_years)",
    "approval.information.at_years": "schedules its campaign itself",
    "approval.information.when": "schedules its campaign itself (at_years)",
    "approval.information.question": "schedules its campaign itself (at_years)",
    "responses.travel.enabled": "sets who travels how much, drawn before the run",
    "responses.travel.air_income": "sets who travels how much, drawn before the run",
    "responses.travel.rail_income": "sets who travels how much, drawn before the run",
    "responses.travel.air_representative": "sets who travels how much, drawn before the run",
    "responses.travel.rail_representative": "sets who travels how much, drawn before the run",
    "responses.travel.air_self_employed": "sets who travels how much, drawn before the run",
    "responses.travel.rail_self_employed": "sets who travels how much, drawn before the run",
    "responses.travel.learns": "sets who learns from a refusal, drawn before the run",
    "responses.vpn.expressive": "sets the VPN baseline fitted before the run",
    "responses.vpn.hiding": "sets the VPN baseline fitted before the run",
    "responses.screening.enabled": "sets firms' screening thresholds drawn before the run",
    "responses.screening.avoid_mean": "sets firms' screening thresholds drawn before the run",
    "responses.screening.avoid_spread": "sets firms' screening thresholds drawn before the run",
    "responses.screening.foreign_safeguards": "sets which firms hold safeguards, drawn before "
    "the run",
}
# Of each source: what its coverage is drawn from (redrawn with the same uniforms at a change)
COVERAGE_KEYS = ("coverage", "online", "vpn_hidden", "foreign_coverage")


@dataclass(frozen=True)
class Phase:
    """A scenario in force from ``step`` on (the first phase: from step 0)."""

    step: int
    at: float  # years, as written
    scenario: Scenario
    keys: tuple[str, ...]  # what changed from the phase before
    regime_changed: bool
    other_changed: bool  # anything but the regime: the twin is rebuilt too
    coverage_changed: bool
    note: str

    def reached(self, steps: int) -> bool:
        return self.step < steps

    def describe(self, steps: int) -> dict:
        """The change as the run's summary records it."""
        return {
            "at_years": self.at,
            "step": self.step,
            "reached": self.reached(steps),
            "regime": self.scenario.regime.name,
            "keys": list(self.keys),
            "note": self.note,
        }


def _flat(data, at: str = "") -> dict[str, object]:
    """Leaves of nested dicts by dotted path (arrays are leaves)."""
    if not isinstance(data, dict):
        return {at: data}
    out: dict[str, object] = {}
    for k, v in data.items():
        out.update(_flat(v, f"{at}.{k}" if at else str(k)))
    return out


def _changed(before: dict, after: dict) -> list[str]:
    a, b = _flat(before), _flat(after)
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def _regime_of(spec: str, file, key: str) -> dict:
    """A preset's whole regime (presets only, as with ``extends``: a saved scenario names
    what it was made of, and means the same wherever it is read)."""
    known = presets()
    if spec not in known:
        raise ScenarioError(file, key, spec, f"allowed presets: {', '.join(sorted(known))}")
    path = known[spec]
    return copy.deepcopy(_resolve(_read_toml(path), path).get("regime", {}))


def _frozen_problem(first: dict, now: dict) -> tuple[str, object, str] | None:
    """The first frozen key whose value differs between two phases, with its new value."""
    for path in _changed(first, now):
        for prefix, why in FROZEN.items():
            if path == prefix or path.startswith(prefix + "."):
                return path, _flat(now).get(path), why
    old, new = first.get("sources", {}), now.get("sources", {})
    if list(old) != list(new):
        return "sources", list(new), "the sources' names and order fix their random draws"
    return None


def _check_cap(before: list[Phase], after: Scenario, file, at: str) -> None:
    """A record-age cap can reach records already made only if they were kept one by one:
    a rule that never expires keeps none (scoring.py), so a cap may not follow one, in any
    phase before."""
    cap = after.regime.safeguards.max_record_age_years
    if cap <= 0:
        return
    for k, phase in enumerate(before):
        r = phase.scenario.regime
        if r.safeguards.max_record_age_years > 0:
            continue  # its records were capped, so queued
        for i, rule in enumerate(r.rules):
            if rule.expiry_years == 0:
                where = "the scenario's" if k == 0 else f"schedule[{k - 1}]'s"
                raise ScenarioError(
                    file,
                    f"{at}.regime.safeguards.max_record_age_years",
                    cap,
                    f"records of a rule that never expires ({where} regime.rules[{i}]) are "
                    "not kept one by one, so a cap cannot reach them; give that rule an "
                    "expiry_years from the start",
                )


def _check_widening(before: Scenario, after: Scenario, file, at: str) -> None:
    """While a system runs, its pilot may only widen: nothing lets go of those listed or
    pressed in a region it would leave (not modelled, so refused)."""
    from .pilot import regions_inside
    from .sim import has_system

    if not (has_system(before.regime) and has_system(after.regime)):
        return
    old, new = regions_inside(before, before.regime), regions_inside(after, after.regime)
    if new is None:
        return
    dropped = np.ones(len(new), bool) if old is None else old
    dropped = dropped & ~new
    if dropped.any():
        from .scenario import region_names

        names = [n for n, d in zip(region_names(after.population), dropped) if d]
        raise ScenarioError(
            file,
            f"{at}.regime.pilot",
            names,
            "a pilot may only widen while its system runs (regions inside stay inside); "
            'to end it, change to a regime with no system (regime_from = "none")',
        )


def _check_nulls(keys: dict, current: dict, file, at: str, path: str = "") -> None:
    """A change that sets a key back to unset (None, from Python) cannot be saved as TOML,
    which has no null: the saved scenario would keep the earlier value. Refused where the
    earlier value is set (arrays replace whole: unset keys inside them mean the default)."""
    for k, v in keys.items():
        where = f"{path}.{k}" if path else str(k)
        before = current.get(k) if isinstance(current, dict) else None
        if isinstance(v, dict):
            _check_nulls(v, before if isinstance(before, dict) else {}, file, at, where)
        elif v is None and before is not None:
            raise ScenarioError(
                file,
                f"{at}.{where}",
                None,
                f"cannot be set back to unset (it is {before!r} before): a saved scenario "
                "(TOML) has no null; give the value it should take",
            )


def phases(sc: Scenario, file=None) -> list[Phase]:
    """The scenario's phases, the first at step 0; each entry is validated as the scenario
    it makes, with errors named ``schedule[i].<key>``."""
    if not sc.schedule:
        return [Phase(0, 0.0, sc, (), False, False, False, "")]
    base = sc.model_dump(mode="python")
    base["schedule"] = []
    first = Scenario.model_validate(base)
    out = [Phase(0, 0.0, first, (), False, False, False, "")]
    current = first.model_dump(mode="python")
    for i, change in enumerate(sc.schedule):
        at = f"schedule[{i}]"
        step = sc.steps_of(change.at * 365.25)
        if step <= out[-1].step and i > 0:
            raise ScenarioError(
                file,
                f"{at}.at",
                change.at,
                f"falls on step {step}, not after the change before it (step {out[-1].step}); "
                "merge changes at one time into one entry",
            )
        if "schedule" in change.keys():
            raise ScenarioError(file, f"{at}.schedule", "...", "a change cannot hold a schedule")
        data = copy.deepcopy(current)
        if change.regime_from is not None:
            data["regime"] = _regime_of(change.regime_from, file, f"{at}.regime_from")
        data = _merge(data, copy.deepcopy(change.keys()))
        try:
            from .scenario import from_dict

            made = from_dict(data, file)
        except ScenarioError as e:
            raise ScenarioError(e.file, f"{at}.{e.key}", e.value, e.allowed) from None
        now = made.model_dump(mode="python")
        frozen = _frozen_problem(out[0].scenario.model_dump(mode="python"), now)
        if frozen:
            path, value, why = frozen
            raise ScenarioError(file, f"{at}.{path}", value, f"{why}; cannot change mid-run")
        _check_cap(out, made, file, at)
        _check_widening(out[-1].scenario, made, file, at)
        _check_nulls(change.keys(), current, file, at)
        keys = _changed(current, now)
        regime = any(k.startswith("regime.") for k in keys)
        other = any(not k.startswith("regime.") for k in keys)
        coverage = any(k.startswith("sources.") and k.split(".")[-1] in COVERAGE_KEYS for k in keys)
        out.append(Phase(step, change.at, made, tuple(keys), regime, other, coverage, change.note))
        current = now
    return out


# ------------------------------------------------------------------------ rebuild and carry

# Every attribute of a world and of its parts is either carried over a change (lived state)
# or rebuilt from the new phase (what the phase compiles); tests/test_schedule.py fails on
# an attribute in neither, so a new one must be placed here.
CARRIED = {
    "World": (
        "s", "seed", "dt", "active", "firm_active", "state",
        "out", "firm_out", "audit", "firm_audit", "firm_unrelated", "legal_rep", "reps_lost",
        "pressed_violations", "vpn_posts_hidden", "cuts", "firm_exposed_ever", "person_records",
        "_lcc", "seconds", "spill", "events", "firm_events", "recorder", "ties0", "firm_class",
        "closing", "market",
    ),
    "Ledger": (
        "n", "own_true", "own_false", "false_opaque", "struck_at", "prior", "last_ctx",
        "last_gravity", "expiry", "listed_contacts", "_marks", "graph",
    ),
    "Registry": ("two_years",),
    "Approvals": ("state", "eligible", "base", "seed", "dt"),  # and had_system: see rebuild
    "SourceSet": ("pending",),
    "Policing": ("first", "firm_pressed", "firms_ever", "cuts"),
    "Screening": ("dropped",),
}  # fmt: skip
# carried, or rebuilt, by a rule of their own (below)
RULED = {
    "World": (
        "ledger", "firm_ledger", "registry", "firm_registry", "onsets", "rep_onsets",
        "firm_onsets", "answerable", "approval", "sources", "firm_sources", "policing",
        "screening", "boost", "coverage",
    ),
    "Ledger": ("score", "assoc", "sum_own", "sum_w", "grade", "_hypothetical"),
    "Registry": (
        "member", "since", "cause", "ctx", "gravity", "pending", "pending_record", "kept_until",
        "listed", "marks", "budget", "on",
    ),
    "Policing": ("_firm_ever",),
    "Approvals": ("had_system",),
}  # fmt: skip
REBUILT = {
    "World": (
        "sc", "regime", "table", "firm_table", "barring", "p_name_rep", "params", "chill_max",
        "responses", "deter_max", "avoid_rate", "visible_low", "grade_columns", "scope",
        "ceiling", "behaved",
    ),
    "Ledger": (
        "base", "range", "grade_mins", "grade_names", "layer_weights", "mean_weight",
        "listed_penalty", "listed_cap", "associating", "immune", "rules",
    ),
    "Registry": (
        "specs", "names", "ledger", "inflow", "outflow", "notices", "term", "trees",
        "enter_acts", "repair_acts", "public", "lag", "grade_sets", "grade_masks", "thresholds",
        "notice", "kept_share", "kept_steps", "kept", "appeal_p", "appeal_success", "capacity",
        "appeals_heard", "appeals_upheld", "inside",
    ),
    "Approvals": ("spec", "moves", "fade", "info_step", "info_tree", "inside"),
    "SourceSet": (
        "names", "index", "detection", "false_rate", "invented", "invented_acts", "latency",
        "opaque", "act_sources", "observed", "recorded", "boostable", "invented_count",
    ),
    "Policing": ("share", "on", "firms_on", "strength", "p_lapse", "cut_rate", "n", "never"),
    "Screening": ("on", "required", "rating", "p_rating", "avoid", "immune", "listed_weight",
                  "rates", "inside"),
}  # fmt: skip


def rebuild(old: World, sc: Scenario, regime, t: int) -> World:
    """A world under ``regime`` (of phase ``sc``) from step ``t`` on, carrying ``old``'s lived
    state (the rules: docs/model.md §7.10)."""
    from .sim import World

    grades = [m.removeprefix("grade.") for m in old.recorder.metric_names if m[:6] == "grade."]
    new = World(old.s, sc, regime, old.recorder.total_names, grades, recorder=old.recorder)
    for name in CARRIED["World"]:
        setattr(new, name, getattr(old, name))
    # the new phase's sanctions table or unemployed share may move incomes no kernel touches:
    # the sums kept by change are counted afresh at the next measure (tally.py)
    new.recorder.tally.stale = True
    new.boost = new.firm_out.inspection
    new.use_coverage(new.s.coverage)  # the new regime's reach (a pilot widened, or ended)
    cap = _cap_steps(regime, sc.step_years)
    if cap < _cap_steps(old.regime, sc.step_years):
        for ledger in (old.ledger, old.firm_ledger):
            ledger.expiry = _recap(ledger.expiry, cap, t)
    _carry_ledger(old.ledger, new.ledger, new.active)
    _carry_ledger(old.firm_ledger, new.firm_ledger, new.firm_active)
    new.closing = _carry_registry(old.registry, new.registry, "list")
    new.closing += _carry_registry(old.firm_registry, new.firm_registry, "firm_list")
    person_grades, firm_grades = old.ledger.grade_names, old.firm_ledger.grade_names
    _carry_onsets(old.onsets, person_grades, new.onsets, new.ledger.grade_names)
    _carry_onsets(old.rep_onsets, firm_grades, new.rep_onsets, new.firm_ledger.grade_names)
    _carry_onsets(old.firm_onsets, firm_grades, new.firm_onsets, new.firm_ledger.grade_names)
    _carry_answerable(old, new)
    _carry_parts(old.approval, new.approval, "Approvals")
    new.approval.had_system = old.approval.had_system or new.approval.moves
    for part in ("sources", "firm_sources"):
        _carry_pending(getattr(old, part), getattr(new, part), regime)
    _carry_parts(old.policing, new.policing, "Policing")
    if new.policing.on and len(new.policing.first) == 0:  # policing starts: nobody pressed yet
        new.policing.first = new.policing.nobody_pressed()
    if len(old.policing._firm_ever) >= len(new.policing._firm_ever):
        new.policing._firm_ever = old.policing._firm_ever
    _carry_parts(old.screening, new.screening, "Screening")
    return new


def _cap_steps(regime, step_years: float) -> float:
    """The record-age cap in steps (as scoring.compile_rules rounds it); inf: none."""
    cap = regime.safeguards.max_record_age_years
    return max(1, round(cap / step_years)) if cap > 0 else float("inf")


def _recap(expiry: dict, cap: int, t: int) -> dict:
    """A tighter record-age cap reaches records already made: each expires at the cap's age
    (at the change, if it is older)."""
    out: dict[int, list] = {}
    for due, entries in expiry.items():
        for entry in entries:
            out.setdefault(max(t, min(due, entry.made + cap)), []).append(entry)
    return out


def _carry_parts(old, new, kind: str) -> None:
    for name in CARRIED[kind]:
        setattr(new, name, getattr(old, name))


def _carry_ledger(old, new, active: np.ndarray) -> None:
    """Points keep their components. The score and association are carried when the new
    rules form them the same way; otherwise the score is re-based on the new base and the
    association recounted over the active ties (points already given keep the old rule's
    size: they net to zero when they expire)."""
    from .scoring import grade_of, most_ties, weight_sum_type

    _carry_parts(old, new, "Ledger")
    same = (
        old.base == new.base
        and np.array_equal(old.layer_weights, new.layer_weights)
        and (old.mean_weight, old.listed_penalty, old.listed_cap)
        == (new.mean_weight, new.listed_penalty, new.listed_cap)
        and np.array_equal(old.immune, new.immune)
    )
    if same:
        new.score, new.assoc, new.sum_own, new.sum_w = old.score, old.assoc, old.sum_own, old.sum_w
    else:
        new.score = (np.float32(new.base) + new.own_true + new.own_false).astype(np.float32)
        new.assoc = np.zeros(new.n, np.float32)
        new.sum_own = np.zeros(new.n, np.float64)
        new.sum_w = np.zeros(new.n, weight_sum_type(new.layer_weights, most_ties(new.graph)))
        if new.associating:
            new.recount_association(active)
            new.refresh_association()
    new.grade = grade_of(new.shown(), new.grade_mins)


def _carry_registry(old, new, prefix: str) -> list[tuple[str, float]]:
    """Lists are carried by name: a list in both phases keeps its members, their start
    steps and causes (a changed term counts from the start); a new list fills from its
    condition at the next step, or from the records that come from now on. A list the new
    phase drops lets its members go at the change: its stock is returned, to be recorded as
    its outflow then. Warnings in a notice period carry where both phases give notice and
    lapse otherwise [assume]."""
    _carry_parts(old, new, "Registry")
    for j, name in enumerate(new.names):
        if name not in old.names:
            continue
        k = old.names.index(name)
        for col in ("member", "since", "cause", "ctx", "gravity"):
            getattr(new, col)[j] = getattr(old, col)[k]
        if old.notice and new.notice:
            new.pending[j] = old.pending[k]
            new.pending_record[j] = old.pending_record[k]
        if old.kept_until.shape[1] and new.kept_until.shape[1]:
            new.kept_until[j] = old.kept_until[k]
    # who was listed before the change: the next update counts who leaves and tells contacts
    # (``on``: every member of the new lists is among the old lists' members)
    # (and the marks: ever listed, ever repaired, ...)
    for col in ("listed", "marks", "on"):
        setattr(new, col, getattr(old, col))
    if not new.public.any():  # with no public list nothing is visible (nothing recomputes it)
        new.marks = new.marks & np.uint8(~VISIBLE & 0xFF)
    new.budget = min(old.budget, new.capacity + 1.0)
    stock = old.stock()
    return [
        (f"{prefix}.{name}.outflow", float(stock[k]))
        for k, name in enumerate(old.names)
        if name not in new.names
    ]


def _grade_set_names(bits: int, grades: list[str]) -> frozenset[str]:
    return frozenset(g for b, g in enumerate(grades) if (bits >> b) & 1)


def _carry_onsets(old, old_grades, new, new_grades) -> None:
    """Sets of grades are carried by the grade names they hold; a new set starts empty, so
    those in it enter it at the change, with the cause named then."""
    for j, bits in enumerate(new.sets):
        want = _grade_set_names(int(bits), new_grades)
        for k, ob in enumerate(old.sets):
            if _grade_set_names(int(ob), old_grades) == want:
                new.inside[j], new.ctx[j], new.gravity[j] = (
                    old.inside[k],
                    old.ctx[k],
                    old.gravity[k],
                )
                if new.since.shape[1] and old.since.shape[1]:
                    new.since[j] = old.since[k]
                break


def _carry_answerable(old, new) -> None:
    """Who answers for a firm's sanction that reaches its representative: carried by
    sanction name; a sanction new at the change reaches whoever represents the firms it
    holds then [assume]."""
    from .sanctions import ON_LIST

    table = new.table
    for s in np.flatnonzero(table.via_firm):
        name = table.names[s]
        if name in old.table.names and old.answerable.shape[0]:
            k = old.table.names.index(name)
            if old.table.via_firm[k] and _trigger(old, k) == _trigger(new, s):
                new.answerable[s] = old.answerable[k]
                continue
        if table.trigger[s] == ON_LIST:
            firms = np.flatnonzero(new.firm_registry.member[table.index[s]])
        else:
            firms = np.flatnonzero(new.rep_onsets.inside[table.grade_set[s]])
        new.answerable[s, firms] = new.legal_rep[firms]


def _trigger(world, row: int) -> tuple:
    """What a sanction of a world's person table is on, by name: a firm list, or a set of
    firm grades."""
    from .sanctions import ON_LIST

    t = world.table
    if t.trigger[row] == ON_LIST:
        return ("list", world.firm_registry.names[t.index[row]])
    return ("grades", _grade_set_names(int(t.grades[row]), world.firm_ledger.grade_names))


def _carry_pending(old, new, regime) -> None:
    """Records on their way are delivered if the new regime still uses their source, and
    dropped otherwise [assume]."""
    used = [new.index[x] for x in regime.sources if x not in regime.safeguards.excluded_sources]
    keep = np.zeros(max(len(new.names), 1), bool)
    keep[used] = True
    for due, parts in old.pending.items():
        kept = [p.take(keep[p.source]) for p in parts]
        kept = [p for p in kept if len(p)]
        if kept:
            new.pending[due] = kept


def set_coverage(sim, sc: Scenario) -> None:
    """Coverage of the phase ``sc``, drawn with the same uniforms as at the start: whom a
    source covers at a lower share it still covers at a higher one."""
    from .sources import coverage_bits

    s = sim.society
    s.coverage = coverage_bits(sc, s.persons, s.firms, sc.run.seed)
    for w in sim.worlds:
        w.use_coverage(s.coverage)
