"""Joint punishment: what a listing or grade blocks, and its effects (MODEL.md §7).

A sanction attaches to a list or to a set of grades, lands on the listed agent (or, for a
firm, on its legal representative: the MOU mechanism), and has one explicit effect
(effects.py). Each application carries the context, gravity and cause of the data that
triggered it, so the audit can say — per person and step — whether the person is sanctioned
because of their own true records, only because of false records, or only by association;
whether the sanction lands in a context unrelated to the data (EU AI Act Art. 5(1)(c)(i));
and whether its severity exceeds the gravity of the behaviour (Art. 5(1)(c)(ii)).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numba import njit, prange

from .acts import CONTEXT_ID
from .effects import EFFECT_ID
from .registry import ASSOC, ASSOC_CONTEXT, NO_CAUSE, Registry
from .scenario import Regime
from .scoring import NO_CONTEXT, Ledger

ON_LIST, ON_GRADE = 0, 1
LUXURY = EFFECT_ID["block_luxury"]
FLIGHTS, RAIL, CREDIT, JOB, INCOME, SCHOOL, LICENCE, PROCUREMENT, INSPECTION, LEGAL_REP, REWARD = (
    EFFECT_ID[e]
    for e in (
        "block_flights",
        "block_rail",
        "block_credit",
        "job_loss",
        "income_loss",
        "block_school",
        "deny_licence",
        "exclude_procurement",
        "raise_inspection",
        "bar_legal_rep",
        "reward",
    )
)


@dataclass
class Table:
    """The sanctions that land on one kind of subject, as arrays for the kernel."""

    names: list[str]
    trigger: np.ndarray  # uint8 ON_LIST / ON_GRADE
    index: np.ndarray  # int64 list index in the trigger's registry
    grades: np.ndarray  # uint64 bitmask of grade indices
    via_firm: np.ndarray  # bool: triggered by a firm, lands on its legal representative
    effect: np.ndarray  # int64
    strength: np.ndarray  # float64
    related: np.ndarray  # uint64 bitmask of related data contexts
    severity: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.names)


def compile_table(
    regime: Regime,
    subject: str,
    person_lists: list[str],
    firm_lists: list[str],
    person_grades: list[str],
    firm_grades: list[str],
) -> Table:
    rows = [
        s
        for s in regime.sanctions
        if (s.subject == "firm") == (subject == "firm")
        # a firm's sanctions reaching its representative are association: off with it
        and (regime.safeguards.association or s.subject != "representative")
    ]
    t = Table(
        [],
        *(
            np.zeros(len(rows), d)
            for d in (
                np.uint8,
                np.int64,
                np.uint64,
                bool,
                np.int64,
                np.float64,
                np.uint64,
                np.int64,
            )
        ),
    )
    for k, s in enumerate(rows):
        t.names.append(s.name)
        firm_side = s.subject != "person"
        t.via_firm[k] = s.subject == "representative"
        if s.on_list is not None:
            t.trigger[k] = ON_LIST
            t.index[k] = (firm_lists if firm_side else person_lists).index(s.on_list)
        else:
            t.trigger[k] = ON_GRADE
            names = firm_grades if firm_side else person_grades
            t.grades[k] = sum(1 << names.index(g) for g in s.on_grades)
        t.effect[k] = EFFECT_ID[s.effect]
        t.strength[k] = s.strength
        t.related[k] = sum(1 << CONTEXT_ID[c] for c in s.related_contexts)
        t.severity[k] = s.severity
    return t


@dataclass
class Outcome:
    """Per agent, this step: what is applied and what the audit says about it."""

    bits: np.ndarray  # uint16, one bit per sanction in the table
    status: np.ndarray  # uint8: 0 none, 1 own true records, 2 false records, 3 association
    applied: np.ndarray  # uint8 sanctions applied (rewards excluded)
    unrelated: np.ndarray  # uint8 of which in a context unrelated to the data
    disproportionate: np.ndarray  # bool
    rewarded: np.ndarray  # bool
    block_flight: np.ndarray  # bool
    block_rail: np.ndarray
    block_credit: np.ndarray
    block_school: np.ndarray
    block_luxury: np.ndarray
    job_hazard: np.ndarray  # float32 extra yearly job-loss hazard
    income_factor: np.ndarray  # float32 multiplier on income (losses and rewards)
    inspection: np.ndarray  # float32 multiplier on regulators' detection (firms)

    @classmethod
    def zeros(cls, n: int) -> Outcome:
        dtypes = {
            "bits": np.uint16,
            "status": np.uint8,
            "applied": np.uint8,
            "unrelated": np.uint8,
            "job_hazard": np.float32,
        }
        ones = ("income_factor", "inspection")
        return cls(
            **{
                f.name: (
                    np.ones(n, np.float32)
                    if f.name in ones
                    else np.zeros(n, dtypes.get(f.name, bool))
                )
                for f in fields(cls)
            }
        )


@njit(cache=True, parallel=True)
def _apply_kernel(
    trigger,
    index,
    grades,
    via_firm,
    effect,
    strength,
    related,
    severity,
    proportionality,
    context_bound,
    member,
    cause,
    ctx,
    gravity,
    grade,
    g_true,
    g_own,
    last_ctx,
    last_gravity,
    rep_member,
    rep_ctx,
    rep_gravity,
    self_employed,
    bits,
    status,
    applied,
    unrelated,
    disproportionate,
    rewarded,
    block_flight,
    block_rail,
    block_credit,
    block_school,
    block_luxury,
    job_hazard,
    income_factor,
    inspection,
):
    n = len(bits)
    n_s = len(trigger)
    for i in prange(n):
        b = 0
        any_true = False
        any_own = False
        n_app = 0
        n_unrel = 0
        sev = 0
        grav = 0
        loss = 0.0
        gain = 0.0
        hazard = 0.0
        fl = False
        rl = False
        cr = False
        sc = False
        lx = False
        rw = False
        insp = 1.0
        for s in range(n_s):
            hit = False
            c = 0
            cx = NO_CONTEXT
            gv = 0
            if via_firm[s]:
                if rep_member[s, i]:
                    hit = True
                    c = ASSOC
                    cx = rep_ctx[s, i]
                    gv = rep_gravity[s, i]
            elif trigger[s] == ON_LIST:
                k = index[s]
                if member[k, i]:
                    hit = True
                    c = cause[k, i]
                    cx = ctx[k, i]
                    gv = gravity[k, i]
            else:
                if (grades[s] >> np.uint64(grade[i])) & np.uint64(1):
                    hit = True
                    if (grades[s] >> np.uint64(g_true[i])) & np.uint64(1):
                        c = 1
                    elif (grades[s] >> np.uint64(g_own[i])) & np.uint64(1):
                        c = 2
                    else:
                        c = ASSOC
                    cx = ASSOC_CONTEXT if (c == ASSOC or last_ctx[i] == NO_CONTEXT) else last_ctx[i]
                    gv = 0 if c == ASSOC else last_gravity[i]
            if not hit:
                continue
            e = effect[s]
            off_context = (related[s] >> np.uint64(cx)) & np.uint64(1) == 0
            if context_bound and off_context and e != REWARD:
                continue  # safeguard: a sanction may only use data of its own context
            b |= 1 << s
            if e == REWARD:
                rw = True
                gain += strength[s]
                continue
            n_app += 1
            if c == 1:
                any_true = True
            if c == 1 or c == 2:
                any_own = True
            if off_context:
                n_unrel += 1
            sev += severity[s]
            if gv > grav:
                grav = gv
            if e == FLIGHTS:
                fl = True
            elif e == RAIL:
                rl = True
            elif e == CREDIT:
                cr = True
            elif e == SCHOOL:
                sc = True
            elif e == LUXURY:
                lx = True
            elif e == INSPECTION:
                insp *= strength[s]
            elif e == JOB:
                hazard += strength[s]
            elif e == INCOME:
                loss += strength[s]
            elif e == LICENCE and self_employed[i]:
                loss += strength[s]
        if b == 0 and bits[i] == 0:
            continue  # nothing now, nothing last step: every output is at its default already
        bits[i] = b
        applied[i] = min(n_app, 255)
        unrelated[i] = min(n_unrel, 255)
        if n_app == 0:
            status[i] = 0
        elif any_true:
            status[i] = 1
        elif any_own:
            status[i] = 2
        else:
            status[i] = 3
        disproportionate[i] = n_app > 0 and sev > proportionality * grav
        rewarded[i] = rw
        block_flight[i] = fl
        block_rail[i] = rl
        block_credit[i] = cr
        block_school[i] = sc
        block_luxury[i] = lx
        inspection[i] = insp
        job_hazard[i] = hazard
        income_factor[i] = max(0.0, 1.0 - min(loss, 1.0) + gain)


def apply(
    table: Table,
    out: Outcome,
    proportionality: float,
    context_bound: bool,
    registry: Registry,
    ledger: Ledger,
    firm_registry: Registry | None = None,
    firm_ledger: Ledger | None = None,
    legal_rep: np.ndarray | None = None,
    self_employed: np.ndarray | None = None,
) -> None:
    """Fill ``out`` with this step's sanctions for every agent of one kind."""
    n = len(out.bits)
    if len(table) == 0:
        out.bits[:] = 0
        out.status[:] = 0
        out.applied[:] = 0
        return
    needs_grade = bool((table.trigger == ON_GRADE).any())
    if needs_grade:
        g_true, g_own = ledger.hypothetical_grades()
    else:
        g_true = g_own = ledger.grade
    k = len(table)
    rep_member = np.zeros((k, n if table.via_firm.any() else 0), bool)
    rep_ctx = np.zeros(rep_member.shape, np.uint8)
    rep_gravity = np.zeros(rep_member.shape, np.uint8)
    for s in np.flatnonzero(table.via_firm):
        if table.trigger[s] == ON_LIST:
            lst = table.index[s]
            firms = np.flatnonzero(firm_registry.member[lst])
            fctx, fgrav = firm_registry.ctx[lst][firms], firm_registry.gravity[lst][firms]
        else:
            bitset = int(table.grades[s])
            in_set = (
                np.right_shift(np.uint64(bitset), firm_ledger.grade.astype(np.uint64))
                & np.uint64(1)
            ).astype(bool)
            firms = np.flatnonzero(in_set)
            fctx = np.where(
                firm_ledger.last_ctx[firms] == NO_CONTEXT,
                ASSOC_CONTEXT,
                firm_ledger.last_ctx[firms],
            )
            fgrav = firm_ledger.last_gravity[firms]
        reps = legal_rep[firms]
        rep_member[s, reps] = True
        rep_ctx[s, reps] = fctx
        rep_gravity[s, reps] = fgrav
    member = registry.member if len(registry.specs) else np.zeros((1, n), bool)
    cause = registry.cause if len(registry.specs) else np.zeros((1, n), np.uint8)
    ctx = registry.ctx if len(registry.specs) else np.zeros((1, n), np.uint8)
    gravity = registry.gravity if len(registry.specs) else np.zeros((1, n), np.uint8)
    if self_employed is None:
        self_employed = np.ones(n, bool)
    _apply_kernel(
        table.trigger,
        table.index,
        table.grades,
        table.via_firm,
        table.effect,
        table.strength,
        table.related,
        table.severity,
        proportionality,
        context_bound,
        member,
        cause,
        ctx,
        gravity,
        ledger.grade,
        g_true,
        g_own,
        ledger.last_ctx,
        ledger.last_gravity,
        rep_member,
        rep_ctx,
        rep_gravity,
        self_employed,
        out.bits,
        out.status,
        out.applied,
        out.unrelated,
        out.disproportionate,
        out.rewarded,
        out.block_flight,
        out.block_rail,
        out.block_credit,
        out.block_school,
        out.block_luxury,
        out.job_hazard,
        out.income_factor,
        out.inspection,
    )


__all__ = ["Table", "Outcome", "compile_table", "apply", "NO_CAUSE"]
