"""Joint punishment: what a listing or grade blocks, and its effects (docs/model.md §7.5).

A sanction attaches to a list or to a set of grades, lands on the listed agent (or, for a
firm, on its legal representative: the MOU mechanism), and has one explicit effect
(effects.py). Each application carries the context, gravity and cause of the data that
triggered it, so the audit can say — per person and step — whether the person is sanctioned
because of their own true records, only because of false records, or only by association;
whether the sanction lands in a context unrelated to the data (EU AI Act Art. 5(1)(c)(i));
and whether its severity exceeds the gravity of the behaviour (Art. 5(1)(c)(ii)).

The data named as a sanction's cause are fixed when it starts and kept while it lasts: for
a list, the membership's (registry.py names them at entry: the listing ground of a record
list, the largest recent deduction for a score or grade list); for a set of grades, those of
the step the agent entered the set (``Onsets``). So the same sanction never flips between
related and unrelated from one week to the next, and the ``context_bound`` safeguard reads the
same cause as the audit. The audit matrix counts applications by the data's context (rows)
and the sanction's own context (columns: where it bites).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from .acts import CONTEXT_ID, CONTEXTS, SANCTION_CONTEXT_ID, SANCTION_CONTEXTS
from .effects import EFFECT_ID, EFFECTS
from .jit import helper
from .network import popcount
from .parallel import slicing
from .population import SELF_EMPLOYED, has_flag
from .registry import ASSOC, ASSOC_CONTEXT, NO_CAUSE, Registry
from .scenario import Regime, association_on
from .scoring import NO_CONTEXT, Ledger
from .tally import NOWHERE, Counts, move_income

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
N_DATA_CONTEXTS = len(CONTEXTS)
N_EFFECTS = len(EFFECTS)
MAX_SANCTIONS = 16  # a bit each in an agent's uint16 (scenario validation holds it)
# the effects the persons' kernel reads, in behaviour.Blocks.restricts' order
RESTRICTIONS = np.array([FLIGHTS, RAIL, LUXURY], np.int64)
N_SANCTION_CONTEXTS = len(SANCTION_CONTEXTS)


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
    context: np.ndarray  # int64: where the sanction bites (SANCTION_CONTEXTS)
    grade_set: np.ndarray  # int64: a grade row's set in own_sets / firm_sets (else -1)
    own_sets: np.ndarray  # uint64: distinct grade sets over the subject's own grades
    firm_sets: np.ndarray  # uint64: distinct grade sets over firms' grades (representatives)

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
        and (association_on(regime) or s.subject != "representative")
    ]
    k = len(rows)
    t = Table(
        [],
        np.zeros(k, np.uint8),
        np.zeros(k, np.int64),
        np.zeros(k, np.uint64),
        np.zeros(k, bool),
        np.zeros(k, np.int64),
        np.zeros(k, np.float64),
        np.zeros(k, np.uint64),
        np.zeros(k, np.int64),
        np.zeros(k, np.int64),
        np.full(k, -1, np.int64),
        np.zeros(0, np.uint64),
        np.zeros(0, np.uint64),
    )
    own_sets: list[int] = []
    firm_sets: list[int] = []
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
            bits = sum(1 << names.index(g) for g in s.on_grades)
            t.grades[k] = bits
            sets = firm_sets if t.via_firm[k] else own_sets
            if bits not in sets:
                sets.append(bits)
            t.grade_set[k] = sets.index(bits)
        t.effect[k] = EFFECT_ID[s.effect]
        t.strength[k] = s.strength
        t.related[k] = sum(1 << CONTEXT_ID[c] for c in s.related_contexts)
        t.severity[k] = s.severity
        t.context[k] = SANCTION_CONTEXT_ID[s.context]
    t.own_sets = np.array(own_sets, np.uint64)
    t.firm_sets = np.array(firm_sets, np.uint64)
    return t


@dataclass
class Onsets:
    """For sanctions on a set of grades, per set and agent: whether the agent is in the set,
    and the data named as the cause when it entered (kept while it stays)."""

    sets: np.ndarray  # uint64 grade bitmasks
    inside: np.ndarray  # bool [sets, n]
    ctx: np.ndarray  # uint8 [sets, n] data context
    gravity: np.ndarray  # uint8 [sets, n]
    since: np.ndarray  # int32 [sets, n]: the step it entered (kept for firms only: [sets, 0])

    @classmethod
    def of(cls, sets: np.ndarray, n: int, since: bool = False) -> Onsets:
        shape = (len(sets), n if len(sets) else 0)
        return cls(
            sets,
            np.zeros(shape, bool),
            np.zeros(shape, np.uint8),
            np.zeros(shape, np.uint8),
            np.zeros(shape if since else (len(sets), 0), np.int32),
        )

    def update(self, ledger: Ledger, t: int) -> None:
        """Name the cause of every agent that entered a set this step."""
        if len(self.sets) == 0:
            return
        g_true, g_own = ledger.hypothetical_grades()
        _onset_kernel(
            self.sets,
            ledger.grade,
            g_true,
            g_own,
            ledger.last_ctx,
            ledger.last_gravity,
            self.inside,
            self.ctx,
            self.gravity,
            self.since,
            t,
        )


@njit(cache=True, parallel=True)
def _onset_kernel(
    sets, grade, g_true, g_own, last_ctx, last_gravity, inside, ctx, gravity, since, t
):
    one = np.uint64(1)
    keep_since = since.shape[1] > 0
    for i in prange(len(grade)):
        for k in range(len(sets)):
            now = (sets[k] >> np.uint64(grade[i])) & one == one
            if now and not inside[k, i]:
                if keep_since:
                    since[k, i] = t
                own = (sets[k] >> np.uint64(g_true[i])) & one == one
                own = own or (sets[k] >> np.uint64(g_own[i])) & one == one
                if own and last_ctx[i] != NO_CONTEXT:
                    ctx[k, i] = last_ctx[i]
                    gravity[k, i] = last_gravity[i]
                else:  # only association puts it in the set (or no data at all)
                    ctx[k, i] = ASSOC_CONTEXT
                    gravity[k, i] = 0
            inside[k, i] = now


@dataclass
class Outcome:
    """Per agent, this step: what is applied and what the audit says about it. What the
    sanctions do follows from which an agent has (``bits``) and what each does (``effects``,
    ``strength``: those of the table that wrote the bits), and is formed where it is read —
    ``having`` (may not fly, ...), ``applied``, ``block_credit``, ``job_hazard``,
    ``income_factor``, ``inspection``, and the compiled ``credit_block``, ``job_hazard_of``,
    ``income_factor_of`` — not held in columns of their own (19 B an agent less)."""

    bits: np.ndarray  # uint16, one bit per sanction in the table
    status: np.ndarray  # uint8: 0 none, 1 own true records, 2 false records, 3 association
    unrelated: np.ndarray  # uint8 applications in a context unrelated to the data
    disproportionate: np.ndarray  # bool
    effects: np.ndarray  # uint16 per effect (EFFECT_ID): the bits of the sanctions with it
    strength: np.ndarray  # float64 per bit: the sanction's strength
    audit: np.ndarray  # int64 [data context, sanction context]: applications this step

    @classmethod
    def zeros(cls, n: int) -> Outcome:
        """No sanction on any of ``n`` agents."""
        return cls(
            bits=np.zeros(n, np.uint16),
            status=np.zeros(n, np.uint8),
            unrelated=np.zeros(n, np.uint8),
            disproportionate=np.zeros(n, bool),
            effects=np.zeros(N_EFFECTS, np.uint16),
            strength=np.zeros(MAX_SANCTIONS, np.float64),
            audit=np.zeros((N_DATA_CONTEXTS, N_SANCTION_CONTEXTS), np.int64),
        )

    def clear(self) -> None:
        """Every column back to what it is with no sanction (in place)."""
        for f in fields(self):
            getattr(self, f.name)[...] = 0

    def record(self, table: Table) -> None:
        """What each bit does, from the table about to write the bits."""
        self.effects[:] = effect_masks(table.effect)
        self.strength[:] = 0.0
        self.strength[: len(table)] = table.strength

    def having(self, effect: int) -> np.ndarray:
        """Whether each agent has a sanction of ``effect`` (an EFFECT_ID) this step: a new
        bool array (none at all: untouched zeros, no memory until written)."""
        mask = self.effects[effect]
        having = np.zeros(len(self.bits), bool)
        if mask != 0:
            _having(self.bits, mask, having)
        return having

    def _each(self, what: int, self_employed: np.ndarray | None = None) -> np.ndarray:
        out = np.empty(len(self.bits), np.uint8 if what == _APPLIED else np.float32)
        everyone = self_employed is None
        some = np.zeros(0, bool) if everyone else self_employed
        _each_agent(self.bits, self.effects, self.strength, some, everyone, what, out)
        return out

    @property
    def applied(self) -> np.ndarray:
        """uint8: sanctions applied to each agent (rewards excluded)."""
        return self._each(_APPLIED)

    @property
    def block_credit(self) -> np.ndarray:
        """float32: the chance each agent's loan application is refused (and more)."""
        return self._each(_CREDIT)

    @property
    def job_hazard(self) -> np.ndarray:
        """float32: each agent's extra yearly job-loss hazard."""
        return self._each(_JOB)

    @property
    def inspection(self) -> np.ndarray:
        """float32: the multiplier on regulators' detection of each agent (firms)."""
        return self._each(_INSPECTION)

    def income_factor(self, self_employed: np.ndarray | None) -> np.ndarray:
        """float32: the multiplier on each agent's income (a firm's revenue);
        ``self_employed``: whose income a denied licence cuts (persons: the society's column;
        None: everyone's, as for firms)."""
        return self._each(_INCOME, self_employed)

    @property
    def rewarded(self) -> np.ndarray:
        return self.having(REWARD)

    @property
    def block_flight(self) -> np.ndarray:
        return self.having(FLIGHTS)

    @property
    def block_rail(self) -> np.ndarray:
        return self.having(RAIL)

    @property
    def block_school(self) -> np.ndarray:
        return self.having(SCHOOL)

    @property
    def block_luxury(self) -> np.ndarray:
        return self.having(LUXURY)

    @property
    def barred(self) -> np.ndarray:
        """May not serve as a firm's legal representative."""
        return self.having(LEGAL_REP)


class Sanctioned(NamedTuple):
    """Which sanctions each agent has and what each does: an Outcome as kernels read it."""

    bits: np.ndarray  # uint16 an agent
    effects: np.ndarray  # uint16 per effect: the bits of the sanctions with it
    strength: np.ndarray  # float64 per bit

    @classmethod
    def of(cls, out: Outcome) -> Sanctioned:
        return cls(out.bits, out.effects, out.strength)


@njit(cache=True)
def _having(bits, mask, having):
    """having[i]: bits[i] meets mask (no uint16 scratch as long as the agents)."""
    for i in range(len(bits)):
        if bits[i] & mask:
            having[i] = True


# What the sanctions an agent has (its bits) do, added in the order of the bits, as the
# kernel that sets them went through the sanctions: the same numbers as it formed.
_ADD, _MOST, _TIMES = range(3)  # how _fold folds the strengths of an agent's sanctions


@helper
def _fold(b, mask, strength, how):
    """The strengths of the sanctions in ``b & mask``, in bit order (the order the sanctions'
    step once added them in), added (_ADD), the largest (_MOST) or multiplied (_TIMES)."""
    m = np.int64(b) & np.int64(mask)
    x = 1.0 if how == _TIMES else 0.0
    s = 0
    while m:
        if m & 1:
            if how == _ADD:
                x += strength[s]
            elif how == _MOST:
                x = max(x, strength[s])
            else:
                x *= strength[s]
        m >>= 1
        s += 1
    return x


@helper
def applied_of(b, effects):
    """Sanctions applied (rewards excluded) to an agent with bits ``b``."""
    return popcount(np.uint64(np.int64(b) & ~np.int64(effects[REWARD])))


@helper
def credit_block(b, effects, strength):
    """float32: the chance a loan application of an agent with bits ``b`` is refused."""
    return np.float32(_fold(b, effects[CREDIT], strength, _MOST))


@helper
def job_hazard_of(b, effects, strength):
    """float32: the extra yearly job-loss hazard of an agent with bits ``b``."""
    return np.float32(_fold(b, effects[JOB], strength, _ADD))


@helper
def income_factor_of(b, self_employed, effects, strength):
    """float32: the multiplier on the income of an agent with bits ``b`` (a denied licence
    cuts only the ``self_employed``'s)."""
    if b == 0:
        return np.float32(1.0)
    lose = np.int64(effects[INCOME]) | np.int64(effects[PROCUREMENT])
    if self_employed:
        lose |= np.int64(effects[LICENCE])
    loss = _fold(b, lose, strength, _ADD)
    gain = _fold(b, effects[REWARD], strength, _ADD)
    return np.float32(max(0.0, 1.0 - min(loss, 1.0) + gain))


class Earning(NamedTuple):
    """What a person's income follows from: base income, payroll (``employer``; -1: none),
    job, whose a denied licence cuts (``flags``: Society.flags, SELF_EMPLOYED), the share of
    income an unemployed person keeps (a np.float32) and their sanctions (sanctions.Sanctioned's
    columns: flat, as a parallel loop takes a bundle)."""

    base_income: np.ndarray
    employer: np.ndarray
    employed: np.ndarray
    flags: np.ndarray
    unemployed_share: np.float32
    bits: np.ndarray
    effects: np.ndarray
    strength: np.ndarray


_UNPAID = Earning(  # what no agent's income follows from (firms: nothing kept)
    np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(0, bool), np.zeros(0, np.uint8),
    np.float32(0.0), np.zeros(0, np.uint16), np.zeros(N_EFFECTS, np.uint16),
    np.zeros(MAX_SANCTIONS, np.float64),
)  # fmt: skip


@helper
def income_of(e, i, employed, b):
    """float32: person i's income were it ``employed`` (if on a payroll) with sanctions
    ``b``: its base income, the share an unemployed person keeps, and what its sanctions and
    rewards do (``income_factor_of``). ``e``: what income follows from (``Earning``)."""
    work = np.float32(1.0) if e.employer[i] < 0 or employed else e.unemployed_share
    own = has_flag(e.flags, i, SELF_EMPLOYED)
    return e.base_income[i] * work * income_factor_of(b, own, e.effects, e.strength)


@helper
def inspection_of(b, effects, strength):
    """float32: the multiplier on the inspections of a firm with bits ``b``."""
    return np.float32(_fold(b, effects[INSPECTION], strength, _TIMES))


_APPLIED, _CREDIT, _JOB, _INCOME, _INSPECTION = range(5)


@njit(cache=True)
def _each_agent(bits, effects, strength, self_employed, everyone, what, out):
    """One of the above for every agent (``everyone``: all are self-employed, as firms)."""
    for i in range(len(bits)):
        b = bits[i]
        if what == _APPLIED:
            out[i] = applied_of(b, effects)
        elif what == _CREDIT:
            out[i] = credit_block(b, effects, strength)
        elif what == _JOB:
            out[i] = job_hazard_of(b, effects, strength)
        elif what == _INCOME:
            out[i] = income_factor_of(b, everyone or self_employed[i], effects, strength)
        else:
            out[i] = inspection_of(b, effects, strength)


def effect_masks(effect: np.ndarray) -> np.ndarray:
    """Per effect (EFFECT_ID), the bits of a table's sanctions (``effect``: each one's)
    that have it: ``Outcome.effects``."""
    masks = np.zeros(N_EFFECTS, np.uint16)
    for s, e in enumerate(effect):
        masks[e] |= np.uint16(1 << s)
    return masks


class Rules(NamedTuple):
    """A Table's columns as the kernel reads them (one bundle)."""

    trigger: np.ndarray
    index: np.ndarray
    grades: np.ndarray
    via_firm: np.ndarray
    effect: np.ndarray
    related: np.ndarray
    severity: np.ndarray
    context: np.ndarray  # where each sanction bites (a sanction context)
    grade_set: np.ndarray


class Standing(NamedTuple):
    """Where each agent stands this step, as the kernel reads it: its lists (membership,
    cause, data context, gravity), its grades (shown, on true records, on own records) and
    grade onsets, what reaches it as a firm's representative, and whether a sanction can land
    on it at all (``scope``; empty: everyone). The representatives are lists, not columns
    (at 10^8 persons a column a sanction was 0.3 GB at the step's peak): a sanction s that
    reaches through a firm has list ``rep_row[s]`` (-1 for the others), the persons
    ``rep_agent[rep_start[r]:rep_start[r + 1]]`` ascending, each once, with the context and
    gravity at the same places."""

    member: np.ndarray
    cause: np.ndarray
    ctx: np.ndarray
    gravity: np.ndarray
    grade: np.ndarray
    g_true: np.ndarray
    g_own: np.ndarray
    onset_ctx: np.ndarray
    onset_gravity: np.ndarray
    rep_agent: np.ndarray
    rep_ctx: np.ndarray
    rep_gravity: np.ndarray
    rep_start: np.ndarray
    rep_row: np.ndarray
    scope: np.ndarray


class Landed(NamedTuple):
    """The kernel's per-agent outputs (Outcome's columns, the same arrays)."""

    bits: np.ndarray
    status: np.ndarray
    unrelated: np.ndarray
    disproportionate: np.ndarray


@helper
def reps_from(rep_agent, rep_start, lo, cursor):
    """Set each representatives' list's cursor (Standing) to its first person from ``lo``."""
    for r in range(len(cursor)):
        at, hi = rep_start[r], rep_start[r + 1]
        while hi > at:  # (binary search)
            mid = (at + hi) // 2
            if rep_agent[mid] < lo:
                at = mid + 1
            else:
                hi = mid
        cursor[r] = at


@helper
def reps_at(rep_agent, rep_start, i, cursor, here):
    """Where agent ``i`` is on each representatives' list (-1: not on it), moving the
    cursors up to it: the agents of a slice are asked in ascending order."""
    for r in range(len(cursor)):
        at, hi = cursor[r], rep_start[r + 1]
        while at < hi and rep_agent[at] < i:
            at += 1
        cursor[r] = at
        here[r] = at if at < hi and rep_agent[at] == i else -1


@njit(cache=True, parallel=True)
def _apply_kernel(
    rules, standing, landed, proportionality, context_bound, audit_parts, paid, cell, income
):
    """Every agent's sanctions this step, in slices (parallel.py); each slice counts its
    applications into its own audit matrix (integer counts: the sum is the same in any
    order). An agent on no list, in no sanctioned grade, answerable for no firm and with no
    sanction last step is passed over after a look at those few columns: nothing lands on it
    and its outputs are at their defaults — most agents, most steps. A person whose
    sanctions change moves its income in the kept sums (tally.py: ``cell``, ``income``;
    ``paid``, what income follows from; ``cell`` empty for firms)."""
    trigger, index, grades, via_firm = rules.trigger, rules.index, rules.grades, rules.via_firm
    effect, related, severity = rules.effect, rules.related, rules.severity
    sanction_ctx, grade_set = rules.context, rules.grade_set
    member, cause, ctx, gravity = standing.member, standing.cause, standing.ctx, standing.gravity
    grade, g_true, g_own = standing.grade, standing.g_true, standing.g_own
    onset_ctx, onset_gravity = standing.onset_ctx, standing.onset_gravity
    rep_agent, rep_ctx, rep_gravity = standing.rep_agent, standing.rep_ctx, standing.rep_gravity
    rep_start, rep_row, scope = standing.rep_start, standing.rep_row, standing.scope
    n_reps = len(rep_start) - 1
    bits, status, unrelated = landed.bits, landed.status, landed.unrelated
    disproportionate = landed.disproportionate
    n = len(bits)
    n_s = len(trigger)
    # what can reach anyone at all: the grades some sanction takes, the lists some sanction
    # reads (list_used), the firms' rows
    grade_any = np.uint64(0)
    list_used = np.zeros(len(member), np.bool_)
    for s in range(n_s):
        if via_firm[s]:
            continue
        if trigger[s] == ON_LIST:
            list_used[index[s]] = True
        else:
            grade_any |= grades[s]
    slices, span = slicing(n)
    for part in prange(slices):
        audit = audit_parts[part]
        audit[:, :] = 0
        cursor = np.empty(n_reps, np.int64)
        here = np.empty(n_reps, np.int64)
        reps_from(rep_agent, rep_start, part * span, cursor)
        for i in range(part * span, min(n, (part + 1) * span)):
            reps_at(rep_agent, rep_start, i, cursor, here)
            b = 0
            any_true = False
            any_own = False
            n_app = 0
            n_unrel = 0
            sev = 0
            grav = 0
            reached = len(scope) == 0 or scope[i]  # outside a pilot: nothing lands
            if reached and bits[i] == 0:  # anything that could land on it?
                standing_any = False
                if grade_any != 0:
                    standing_any = (grade_any >> np.uint64(grade[i])) & np.uint64(1) != 0
                for k in range(len(member) if not standing_any else 0):
                    standing_any |= list_used[k] and member[k, i]
                for r in range(n_reps if not standing_any else 0):
                    standing_any |= here[r] >= 0
                if not standing_any:
                    continue
            for s in range(n_s if reached else 0):
                hit = False
                c = 0
                cx = NO_CONTEXT
                gv = 0
                if via_firm[s]:
                    at = here[rep_row[s]]
                    if at >= 0:
                        hit = True
                        c = ASSOC
                        cx = rep_ctx[at]
                        gv = rep_gravity[at]
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
                        cx = onset_ctx[grade_set[s], i]
                        gv = onset_gravity[grade_set[s], i]
                if not hit:
                    continue
                if cx >= N_DATA_CONTEXTS:
                    cx = ASSOC_CONTEXT  # no data named: it can only be association
                e = effect[s]
                off_context = (related[s] >> np.uint64(cx)) & np.uint64(1) == 0
                if context_bound and off_context and e != REWARD:
                    continue  # safeguard: a sanction may only use data of its own context
                b |= 1 << s
                if e == REWARD:
                    continue
                n_app += 1
                audit[cx, sanction_ctx[s]] += 1
                if c == 1:
                    any_true = True
                if c == 1 or c == 2:
                    any_own = True
                if off_context:
                    n_unrel += 1
                sev += severity[s]
                if gv > grav:
                    grav = gv
            if b == 0 and bits[i] == 0:
                continue  # nothing now, nothing last step: every output is at its default
            if len(cell) and b != bits[i]:
                job = paid.employed[i]
                move_income(cell, income, i, income_of(paid, i, job, bits[i]),
                            income_of(paid, i, job, b))  # fmt: skip
            bits[i] = b  # (what the sanctions do follows from it: Outcome)
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


def _representatives(reps, ctx, gravity) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The persons a sanction reaches as representatives, ascending and each once, with
    the context and gravity of the last of their firms in firm order (a person who
    represents several firms on the list takes the last one's, as a column written in firm
    order would)."""
    order = np.argsort(reps, kind="stable")
    reps, ctx, gravity = reps[order], ctx[order], gravity[order]
    last = np.ones(len(reps), bool)
    last[:-1] = reps[1:] != reps[:-1]
    return reps[last].astype(np.int64), ctx[last], gravity[last]


def apply(
    t: int,
    table: Table,
    out: Outcome,
    proportionality: float,
    context_bound: bool,
    registry: Registry,
    ledger: Ledger,
    onsets: Onsets,
    firm_registry: Registry | None = None,
    firm_ledger: Ledger | None = None,
    firm_onsets: Onsets | None = None,
    legal_rep: np.ndarray | None = None,
    answerable: np.ndarray | None = None,
    scope: np.ndarray | None = None,
    paid: Earning | None = None,
    counts: Counts = NOWHERE,
) -> None:
    """Fill ``out`` with this step's sanctions for every agent of one kind (which each has and
    what each does: Outcome). ``onsets`` and ``firm_onsets`` hold the causes of grade sanctions.
    A firm's sanction that reaches its representative lands on the person who represented it
    when the listing (or grade) began — ``answerable[row, firm]``, taken from ``legal_rep``
    (-1: nobody) in that step — for as long as it lasts, even after they stop representing
    it; a representative named later is not answerable for it. ``scope``: a pilot's agents,
    the only ones a sanction (or reward) can land on (None: all). For persons, ``paid``
    (Earning, over ``out``'s columns) and ``counts`` keep the income's sums as the sanctions
    change it (tally.py)."""
    n = len(out.bits)
    if len(table) == 0:
        if out.bits.any():  # sanctions (or rewards) ended: a schedule's change
            out.clear()
        out.audit[:] = 0  # (no bits: no status, application or reward either)
        return
    onsets.update(ledger, t)
    if firm_onsets is not None:
        firm_onsets.update(firm_ledger, t)
    needs_grade = bool((table.trigger == ON_GRADE).any())
    if needs_grade:
        g_true, g_own = ledger.hypothetical_grades()
    else:
        g_true = g_own = ledger.grade
    via = np.flatnonzero(table.via_firm)  # a list of representatives each
    rep_row = np.full(len(table), -1, np.int64)
    rep_row[via] = np.arange(len(via))
    lists = []
    for s in via:
        if table.trigger[s] == ON_LIST:
            lst = table.index[s]
            firms = np.flatnonzero(firm_registry.member[lst])
            fctx, fgrav = firm_registry.ctx[lst][firms], firm_registry.gravity[lst][firms]
            began = firm_registry.since[lst][firms]
        else:
            at = table.grade_set[s]
            firms = np.flatnonzero(firm_onsets.inside[at])
            fctx, fgrav = firm_onsets.ctx[at][firms], firm_onsets.gravity[at][firms]
            began = firm_onsets.since[at][firms]
        fresh = firms[began == t]
        answerable[s, fresh] = legal_rep[fresh]  # who represented the firm as it began
        reps = answerable[s, firms]
        has = reps >= 0  # nobody to reach when the firm had no representative then
        lists.append(_representatives(reps[has], fctx[has], fgrav[has]))
    rep_agent, rep_ctx, rep_gravity = (
        np.concatenate([x[k] for x in lists]) if lists else np.zeros(0, dt)
        for k, dt in enumerate((np.int64, np.uint8, np.uint8))
    )
    rep_start = np.zeros(len(via) + 1, np.int64)
    rep_start[1:] = np.cumsum([len(x[0]) for x in lists], dtype=np.int64)
    member = registry.member if len(registry.specs) else np.zeros((1, n), bool)
    cause = registry.cause if len(registry.specs) else np.zeros((1, n), np.uint8)
    ctx = registry.ctx if len(registry.specs) else np.zeros((1, n), np.uint8)
    gravity = registry.gravity if len(registry.specs) else np.zeros((1, n), np.uint8)
    onset_ctx = onsets.ctx if len(onsets.sets) else np.zeros((1, 0), np.uint8)
    onset_gravity = onsets.gravity if len(onsets.sets) else np.zeros((1, 0), np.uint8)
    parts = np.zeros((slicing(n)[0], N_DATA_CONTEXTS, N_SANCTION_CONTEXTS), np.int64)
    rules = Rules(*(getattr(table, f) for f in Rules._fields))
    standing = Standing(
        member,
        cause,
        ctx,
        gravity,
        ledger.grade,
        g_true,
        g_own,
        onset_ctx,
        onset_gravity,
        rep_agent,
        rep_ctx,
        rep_gravity,
        rep_start,
        rep_row,
        np.zeros(0, bool) if scope is None else scope,
    )
    landed = Landed(*(getattr(out, f) for f in Landed._fields))
    out.record(table)  # the table that writes the bits is the one that reads them
    if paid is None:  # (firms: nothing kept, and a bundle of the same types)
        paid, counts = _UNPAID, NOWHERE
    _apply_kernel(
        rules, standing, landed, proportionality, context_bound, parts, paid, counts.cell,
        counts.income,
    )  # fmt: skip
    out.audit[:] = parts.sum(axis=0)


__all__ = ["Table", "Outcome", "Onsets", "compile_table", "apply", "NO_CAUSE"]
