"""Lists: listing, terms, credit repair, publication (docs/model.md §7.4).

A list is entered in one of three ways: a record of a named act (the court list: a judgment
left unpaid while able to pay), a score below a threshold, or a grade in a set. It is left
at the end of its term, early on a record of a repair act (paying the debt), or — for
threshold and grade lists without a term — as soon as the condition no longer holds.

Every membership carries its cause, the context and gravity of the data behind it:
cause TRUE (own true records suffice), FALSE (only with false records), ASSOC (only with
association). For record lists the cause is the triggering record's truth; for threshold and
grade lists it is re-derived each step from the score components.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from . import expr
from .acts import ACT_ID, CONTEXT_ID
from .jit import helper
from .network import is_active, nbr_of, row_room, row_span, row_start, rows_in
from .parallel import slicing
from .prefetch import prefetch_row
from .rng import uniform, uniforms_at
from .scenario import FIRM_FIELDS, PERSON_FIELDS, FalseRecords, ListSpec, Safeguards
from .scoring import ACT_CONTEXT, ACT_GRAVITY, NO_CONTEXT, Ledger, hypothetical_scores

NO_CAUSE, TRUE, FALSE, ASSOC = 0, 1, 2, 3
ASSOC_CONTEXT = CONTEXT_ID["association"]


def _steps(days: float, step_years: float) -> int:
    """Days as the nearest whole number of steps (Scenario.steps_of, for a registry); a
    period of any positive length lasts at least one step (a notice is never dropped)."""
    return max(1 if days > 0 else 0, int(round(days / (365.25 * step_years))))


# Registry.marks, a bit each
VISIBLE, JOINED, LEFT, LONG_LISTED, EVER, REPAIRED = (1 << k for k in range(6))


class Registry:
    """The lists of one subject kind (persons or firms) in one world."""

    def __init__(
        self,
        specs: list[ListSpec],
        n: int,
        ledger: Ledger,
        step_years: float,
        safeguards: Safeguards | None = None,
        false_records: FalseRecords | None = None,
        inside: np.ndarray | None = None,
        step_type: type = np.int32,
    ):
        """``step_type``: the integer of the columns holding a step (sim.step_type)."""
        self.specs = specs
        self.inside = inside  # a pilot's subjects: only they can be listed (None: all)
        self.names = [s.name for s in specs]
        k = len(specs)
        self.ledger = ledger
        self.member = np.zeros((k, n), bool)
        self.since = np.full((k, n), -1, step_type)
        self.cause = np.zeros((k, n), np.uint8)
        self.ctx = np.zeros((k, n), np.uint8)
        self.gravity = np.zeros((k, n), np.uint8)
        self.listed = np.zeros(n, bool)  # on any list (read by many: a column of its own)
        # a bit each (VISIBLE ... REPAIRED): on a public list past its publication lag,
        # onto any list from none this step, off every list this step, on some list for two
        # years or more, ever on a list, ever taken off a list early by a repair act
        self.marks = np.zeros(n, np.uint8)
        # who the lists touch (ascending): every member of a list, and whoever is listed or
        # has one of the first four marks. A step reads and writes these and the step's
        # entrants only, never everyone: the columns of anyone else are all unset.
        self.on = np.zeros(0, np.int32)
        self.two_years = max(1, round(2.0 / step_years))
        self.inflow = np.zeros(k, np.int64)  # this step, per list
        self.outflow = np.zeros(k, np.int64)
        self.notices = np.zeros(k, np.int64)  # this step, per list: warnings given
        self.term = [
            0 if s.term_years == 0 else max(1, round(s.term_years / step_years)) for s in specs
        ]
        names = PERSON_FIELDS if (specs and specs[0].subject == "person") else FIRM_FIELDS
        self.trees = [expr.parse(s.when, names) if s.when else None for s in specs]
        self.enter_acts = [np.array([ACT_ID[a] for a in s.enter_on], np.uint8) for s in specs]
        guard = safeguards or Safeguards()
        self.repair_acts = [
            np.array([ACT_ID[a] for a in s.repair_on] if guard.credit_repair else [], np.uint8)
            for s in specs
        ]
        self.public = np.array([s.public for s in specs], bool)
        self.lag = np.array([_steps(s.publication_lag_days, step_years) for s in specs], np.int64)
        self.grade_sets = [
            np.array([ledger.grade_names.index(g) for g in s.enter_grades], np.uint8) for s in specs
        ]
        # for the kernels: whether each grade index (0..255) is in a list's set, and a list's
        # score threshold in float32 (what numpy compares a float32 score with)
        self.grade_masks = [np.zeros(256, bool) for _ in specs]
        for mask, grades in zip(self.grade_masks, self.grade_sets):
            mask[grades] = True
        self.thresholds = [np.float32(s.enter_below or 0.0) for s in specs]
        # notice before listing: the step the warning was given, and (record lists) its data
        self.notice = _steps(guard.notice_days, step_years)
        self.pending = np.full((k, n) if self.notice else (k, 0), -1, step_type)
        self.pending_record = np.zeros((k, n) if self.notice else (k, 0), np.int16)
        # delistings delayed: a false ground to stay listed (a false record kept)
        fr = false_records or FalseRecords()
        keeping = fr.kept_share > 0 and fr.kept_days > 0
        self.kept_share = fr.kept_share if keeping else 0.0
        self.kept_steps = _steps(fr.kept_days, step_years)
        self.kept_until = np.full((k, n) if keeping else (k, 0), -1, step_type)
        self.kept = 0
        # appeals
        a = guard.appeals
        self.appeal_p = 1.0 - np.exp(-a.rate * step_years)
        self.appeal_success = a.success
        served = n if inside is None else int(inside.sum())  # appeals courts serve those inside
        self.capacity = a.capacity_per_100k_per_year * step_years * served / 1e5  # per step
        self.budget = 0.0
        self.appeals_heard = 0
        self.appeals_upheld = 0

    def marked(self, bit: int) -> np.ndarray:
        """Who has mark ``bit`` (VISIBLE ... REPAIRED): a new bool array."""
        return (self.marks & bit) != 0

    @property
    def visible(self) -> np.ndarray:
        return self.marked(VISIBLE)

    @property
    def joined(self) -> np.ndarray:
        return self.marked(JOINED)

    @property
    def left(self) -> np.ndarray:
        return self.marked(LEFT)

    @property
    def long_listed(self) -> np.ndarray:
        return self.marked(LONG_LISTED)

    @property
    def ever(self) -> np.ndarray:
        return self.marked(EVER)

    @property
    def repaired(self) -> np.ndarray:
        return self.marked(REPAIRED)

    def visible_ones(self) -> np.ndarray:
        """Who is visible, ascending (all among ``on``: no pass over everyone)."""
        return self.on[(self.marks[self.on] & VISIBLE) != 0]

    def stock(self) -> np.ndarray:
        return self.member[:, self.on].sum(axis=1)  # (every member is in ``on``)

    def appeal(self, t: int, key, sanctioned: np.ndarray, active: np.ndarray | None) -> np.ndarray:
        """Listed or sanctioned agents (``listed``, ``sanctioned`` > 0) appeal; as many as
        capacity allows are heard, in random order; an upheld appeal strikes the agent's false
        records (not those of opaque sources). Returns the agents whose appeal was upheld."""
        self.appeals_heard = self.appeals_upheld = 0
        if self.appeal_p <= 0:
            return np.zeros(0, np.int64)
        cand = _listed_or_sanctioned(self.listed, sanctioned)
        if len(cand) == 0:
            return np.zeros(0, np.int64)
        ask = cand[uniforms_at(key, 3 * cand) < self.appeal_p]
        self.budget = min(self.budget + self.capacity, self.capacity + 1.0)
        room = int(self.budget)
        if len(ask) > room:
            ask = ask[np.argsort(uniforms_at(key, 3 * ask + 1), kind="stable")[:room]]
            ask.sort()
        self.budget -= len(ask)
        self.appeals_heard = len(ask)
        led = self.ledger
        wrong = led.own_false[ask] != led.false_opaque[ask]
        if len(self.specs):
            wrong |= (self.cause[:, ask] == FALSE).any(axis=0)
        upheld = ask[wrong & (uniforms_at(key, 3 * ask + 2) < self.appeal_success)]
        self.appeals_upheld = len(upheld)
        if len(upheld):
            led.strike(upheld, t, active if active is not None else np.zeros(0, np.uint64))
        return upheld

    def update(
        self,
        t: int,
        records,
        fields,
        active: np.ndarray | None,
        upheld: np.ndarray | None = None,
        kept_key=None,
    ) -> None:
        before = self.on
        if not self.specs and not len(before):
            return  # no list, and nobody left to take off one
        entered = []  # the step's entrants, list by list
        self.inflow[:] = 0
        self.outflow[:] = 0
        self.notices[:] = 0
        self.kept = 0  # delistings delayed this step
        led = self.ledger
        shown = led.shown()
        g_true = g_own = None
        for k, spec in enumerate(self.specs):
            m = self.member[k]
            members = before[m[before]]
            # leave: repair, appeal upheld, term, condition gone (marked for members only)
            leave = np.zeros_like(m)  # (untouched pages cost nothing)
            if len(self.repair_acts[k]) and len(records):
                r = np.isin(records.act, self.repair_acts[k])
                subj = records.subject[r]
                paid = subj[m[subj]]  # members who repaired
                leave[paid] = True
                self.marks[paid] |= REPAIRED
                if self.notice:  # paying within the notice period stops the listing
                    self.pending[k][subj] = -1
            if upheld is not None and len(upheld):
                struck = upheld[self.cause[k][upheld] == FALSE]
                leave[struck[m[struck]]] = True
            self.outflow[k], kept = _leave(
                members,
                leave,
                m,
                self.since[k],
                self.cause[k],
                t,
                self.term[k],
                spec.enter_below is not None,
                self.thresholds[k],
                shown,
                led.grade,
                self.grade_masks[k],
                np.uint64(0) if kept_key is None else kept_key,
                self.kept_share,
                self.kept_steps,
                self.kept_until[k],
            )
            self.kept += kept
            if len(self.enter_acts[k]):
                new = self._enter_on_records(k, t, records, fields)
            else:
                if g_true is None and len(self.grade_sets[k]):
                    g_true, g_own = led.hypothetical_grades()
                stay = members[~leave[members]]
                new = self._enter_on_condition(k, t, shown, g_true, g_own, leave, stay, fields)
            entered.append(new)
        new = np.sort(np.concatenate(entered)) if entered else before[:0]
        self.on, changed = _summarise(
            _merged(before, new),
            self.member,
            self.since,
            t,
            self.two_years,
            self.public,
            self.lag,
            self.listed,
            self.marks,
        )
        # contacts of the newly (de)listed: association counters
        if active is not None and len(changed):
            g = led.graph
            _bump_contacts(changed, self.marks, g.ties, active, led.listed_contacts)

    def _join(self, k, t, subj, cause, acts) -> np.ndarray:
        self.member[k][subj] = True
        self.since[k][subj] = t
        self.cause[k][subj] = cause
        self.ctx[k][subj] = ACT_CONTEXT[acts]
        self.gravity[k][subj] = ACT_GRAVITY[acts]
        self.inflow[k] += len(subj)
        return subj

    def _enter_on_records(self, k, t, records, fields) -> np.ndarray:
        """A record of a listing act lists its subject (after the notice period, if any).
        Returns the subjects listed."""
        m = self.member[k]
        new = []
        if len(records):
            r = np.flatnonzero(np.isin(records.act, self.enter_acts[k]))
            r = r[~m[records.subject[r]]]
            if self.notice:
                r = r[self.pending[k][records.subject[r]] < 0]
            if len(r) and self.trees[k] is not None:
                cols = fields(records.subject[r], records.true[r])
                r = r[expr.evaluate(self.trees[k], cols, len(r))]
            if len(r):
                # one entry per subject; a true record wins over a false one
                r = r[np.lexsort((~records.true[r], records.subject[r]))]
                subj = records.subject[r]
                first = np.concatenate([[True], subj[1:] != subj[:-1]])
                r, subj = r[first], subj[first]
                cause = np.where(records.true[r], TRUE, FALSE)
                if self.notice:  # warn now, list later; remember the record behind it
                    self.pending[k][subj] = t
                    self.pending_record[k][subj] = records.act[r].astype(np.int16) * 4 + cause
                    self.notices[k] += len(subj)
                else:
                    new.append(self._join(k, t, subj, cause, records.act[r]))
        if self.notice:
            due = np.flatnonzero((self.pending[k] >= 0) & (t - self.pending[k] >= self.notice))
            if len(due):
                code = self.pending_record[k][due]
                self.pending[k][due] = -1
                cause = (code % 4).astype(np.uint8)
                new.append(self._join(k, t, due, cause, (code // 4).astype(np.intp)))
        return np.concatenate(new) if new else np.zeros(0, np.int64)

    def _enter_on_condition(self, k, t, shown, g_true, g_own, leave, stay, fields) -> np.ndarray:
        """A score below a threshold, or a grade in a set, lists the subject; the cause of
        every member (``stay``: those not leaving now, and the entrants) is re-derived from
        today's components. Returns the subjects listed."""
        spec, led, m = self.specs[k], self.ledger, self.member[k]
        by_score = spec.enter_below is not None
        pend = self.pending[k]  # (empty without notice)
        inside = self.inside if self.inside is not None else np.zeros(0, bool)
        # those meeting the condition who are not members and not leaving now (a warning
        # lapses where the condition fails)
        idx = _condition_met(
            by_score, shown, self.thresholds[k], led.grade, self.grade_masks[k], inside, m,
            leave, pend,
        )  # fmt: skip
        if len(idx) and self.trees[k] is not None:
            keep = expr.evaluate(self.trees[k], fields(idx, np.ones(len(idx), bool)), len(idx))
            idx = idx[keep]
        named = None  # (subjects, context, gravity) of those entering now
        if self.notice:  # a warning first; listed only if the condition still holds after it
            fresh = idx[pend[idx] < 0]
            pend[fresh] = t
            if len(fresh):  # the data that met the condition are named at the warning
                c = self._cause_now(k, fresh, by_score, g_true, g_own)
                ctx, grav = named_cause(c, led.last_ctx[fresh], led.last_gravity[fresh])
                self.pending_record[k][fresh] = ctx.astype(np.int16) * 4 + grav
            self.notices[k] += len(fresh)
            idx = idx[t - pend[idx] >= self.notice]
            pend[idx] = -1
            if len(idx):
                code = self.pending_record[k][idx]
                named = (idx, (code // 4).astype(np.uint8), (code % 4).astype(np.uint8))
        if len(idx):
            m[idx] = True
            self.since[k][idx] = t
            self.inflow[k] += len(idx)
        _rederive_causes(
            np.concatenate((stay, idx)),
            self.cause[k],
            self._condition(k, by_score, g_true, g_own),
            self.kept_until[k],
        )
        if len(idx):  # the data behind a membership are named once, when it starts
            if named is None:
                ctx, grav = named_cause(
                    self.cause[k][idx], led.last_ctx[idx], led.last_gravity[idx]
                )
                named = (idx, ctx, grav)
            _, ctx, grav = named
            self.ctx[k][idx], self.gravity[k][idx] = ctx, grav
        return idx

    def _cause_now(self, k, idx, by_score, g_true, g_own) -> np.ndarray:
        """The cause (TRUE, FALSE, ASSOC) of list k's condition for subjects ``idx`` now: the
        rule ``_rederive_causes`` applies to members (``_condition_cause``)."""
        out = np.empty(len(idx), np.uint8)
        _causes_at(idx, self._condition(k, by_score, g_true, g_own), out)
        return out

    def _condition(self, k, by_score, g_true, g_own) -> Condition:
        """What ``_condition_cause`` reads of list k's condition and the ledger
        (``g_true``/``g_own``: the hypothetical grades, if formed)."""
        led = self.ledger
        base, clamp, lo, hi = led.shown_args()
        return Condition(
            by_score,
            self.thresholds[k],
            base,
            led.own_true,
            led.own_false,
            clamp,
            lo,
            hi,
            self.grade_masks[k],
            g_true if g_true is not None else led.grade,
            g_own if g_own is not None else led.grade,
        )


class Condition(NamedTuple):
    """A condition list's entry condition and what deciding its cause reads: the threshold
    (by score) or the grade set, the score's base and clamp, the members' own true and own
    components, and the hypothetical grades."""

    by_score: bool
    threshold: float
    base: float
    own_true: np.ndarray
    own_false: np.ndarray
    clamp: bool
    lo: float
    hi: float
    grade_set: np.ndarray
    g_true: np.ndarray
    g_own: np.ndarray


@njit(cache=True, parallel=True)
def _leave(  # the columns it writes are arguments, not a bundle: docs/architecture.md
    members,
    leave,
    member,
    since,
    cause,
    t,
    term,
    by_score,
    threshold,
    shown,
    grade,
    grade_set,
    key,
    kept_share,
    kept_steps,
    kept_until,
):
    """Of list k's ``members``, those that leave now: those marked already in ``leave``
    (repair, upheld appeal), those at the end of the term, and — lists without a term — those
    whose condition no longer holds (score back at the threshold, grade out of the set).
    Takes them off and marks them in ``leave`` (and only them); returns how many, and how
    many were kept instead: a delisting delayed (with probability ``kept_share``, by
    ``kept_steps``) keeps the member listed on a false ground (cause FALSE) until then."""
    out = 0
    kept = 0
    by_grade = grade_set.any()
    keeping = len(kept_until) > 0
    for x in prange(len(members)):
        i = members[x]
        go = leave[i]
        if term > 0:
            go = go or t - since[i] >= term
        else:
            if by_score:
                go = go or shown[i] >= threshold
            if by_grade:
                go = go or not grade_set[grade[i]]
        if keeping:
            if not go:
                kept_until[i] = -1  # listed on its own ground again
            elif kept_until[i] >= 0:
                go = t >= kept_until[i]  # kept until the delayed delisting
            elif uniform(key, i) < kept_share:
                kept_until[i] = t + kept_steps
                cause[i] = FALSE
                go = False
                kept += 1
        leave[i] = go
        if go:
            member[i] = False
            since[i] = -1
            cause[i] = NO_CAUSE
            if keeping:
                kept_until[i] = -1
            out += 1
    return out, kept


@njit(cache=True)
def _merged(a, b):
    """The agents of two ascending lists, each once, ascending (np.union1d without its
    sort)."""
    out = np.empty(len(a) + len(b), np.int32)
    x = y = k = 0
    while x < len(a) or y < len(b):
        if y == len(b) or (x < len(a) and a[x] <= b[y]):
            v = a[x]
            x += 1
        else:
            v = b[y]
            y += 1
        if k == 0 or out[k - 1] != v:
            out[k] = v
            k += 1
    return out[:k]


@njit(cache=True)
def _summarise(touched, member, since, t, two_years, public, lag, listed, marks):
    """Across all lists, for the agents ``touched`` (ascending: all whose columns may be set,
    and the step's entrants): on any list, on one for two years or more, ever listed, joined
    or left this step, visible (on a public list past its lag; left as it is without public
    lists). Returns who still has a column set (the next step's ``on``) and who joined or
    left (ascending)."""
    k_lists = member.shape[0]
    any_public = public.any()
    keep = np.empty(len(touched), np.int32)
    flips = np.empty(len(touched), np.int32)
    n_keep = n_flips = 0
    for x in range(len(touched)):
        i = touched[x]
        on = held = seen = False
        for k in range(k_lists):
            s = since[k, i]
            on = on or member[k, i]
            held = held or (s >= 0 and t - s >= two_years)
            seen = seen or (public[k] and member[k, i] and t - s >= lag[k])
        was = listed[i]
        listed[i] = on
        m = marks[i] & (EVER | REPAIRED | (0 if any_public else VISIBLE))  # (kept as they are)
        m |= (LONG_LISTED if held else 0) | (EVER if on else 0)
        m |= (JOINED if on and not was else 0) | (LEFT if was and not on else 0)
        m |= VISIBLE if any_public and seen else 0
        marks[i] = m
        if on != was:
            flips[n_flips] = i
            n_flips += 1
        if on or m & (LONG_LISTED | JOINED | LEFT) or (any_public and m & VISIBLE):
            keep[n_keep] = i
            n_keep += 1
    return keep[:n_keep], flips[:n_flips]


@njit(cache=True, parallel=True)
def _condition_met(by_score, shown, threshold, grade, grade_set, inside, member, leave, pending):
    """The agents (ascending) that meet a condition list's condition — a score below
    ``threshold`` or a grade in ``grade_set``, and inside a pilot if ``inside`` is given — and
    are neither members nor leaving now; where the condition fails, a warning given
    (``pending``, if any) lapses. One pass over everyone in fixed slices (parallel.py), each
    writing its finds into its own stretch of the output, closed up in slice order."""
    n = len(member)
    slices, span = slicing(n)
    out = np.empty(n, np.int64)  # (a slice's stretch holds all its agents: never overflows)
    counts = np.zeros(slices, np.int64)
    piloted, warning = len(inside) > 0, len(pending) > 0
    for c in prange(slices):
        w = c * span
        for i in range(c * span, min(n, (c + 1) * span)):
            met = shown[i] < threshold if by_score else grade_set[grade[i]]
            if piloted and not inside[i]:
                met = False
            if not met:
                if warning:
                    pending[i] = -1
            elif not member[i] and not leave[i]:
                out[w] = i
                w += 1
        counts[c] = w - c * span
    k = counts[0]
    for c in range(1, slices):
        out[k : k + counts[c]] = out[c * span : c * span + counts[c]]
        k += counts[c]
    return out[:k]


@njit(cache=True, parallel=True)
def _rederive_causes(members, cause, condition, kept_until):
    """The cause of every member of a condition list from today's components: TRUE if its
    own true records alone meet the condition, FALSE if its own records do, else ASSOC (the
    scores of ``hypothetical_scores``); a member kept after its delisting stays FALSE. The
    context of the data behind a membership is not re-derived: it is named once, at entry
    (``named_cause``)."""
    by_score, threshold, base, own_true, own_false, clamp, lo, hi, grade_set, g_true, g_own = (
        condition
    )
    keeping = len(kept_until) > 0
    for x in prange(len(members)):
        i = members[x]
        if keeping and kept_until[i] >= 0:
            continue
        cause[i] = _condition_cause(
            i,
            by_score,
            threshold,
            base,
            own_true,
            own_false,
            clamp,
            lo,
            hi,
            grade_set,
            g_true,
            g_own,
        )


@helper
def _condition_cause(
    i, by_score, threshold, base, own_true, own_false, clamp, lo, hi, grade_set, g_true, g_own
):
    """TRUE if subject i's own true records alone meet a score or grade condition, FALSE if
    its own records do, else ASSOC (the scores of ``hypothetical_scores``)."""
    if by_score:
        x_true, x_own = hypothetical_scores(base, own_true[i], own_false[i], clamp, lo, hi)
        c_true, c_own = x_true < threshold, x_own < threshold
    else:
        c_true, c_own = grade_set[g_true[i]], grade_set[g_own[i]]
    return TRUE if c_true else (FALSE if c_own else ASSOC)


@njit(cache=True)
def _causes_at(idx, condition, out):
    """``_condition_cause`` for the subjects ``idx`` (those warned now), into ``out``."""
    by_score, threshold, base, own_true, own_false, clamp, lo, hi, grade_set, g_true, g_own = (
        condition
    )
    for x in range(len(idx)):
        out[x] = _condition_cause(
            idx[x], by_score, threshold, base, own_true, own_false, clamp, lo, hi, grade_set,
            g_true, g_own,
        )  # fmt: skip


def named_cause(cause, last_ctx, last_gravity) -> tuple[np.ndarray, np.ndarray]:
    """The context and gravity of the data that made a score or grade condition hold, for
    memberships and sanctions that start now: the largest deduction of the subject's latest
    step with deductions (``Ledger.last_ctx``); association (with no gravity) when its own
    records alone would not meet the condition, or when it has no deduction at all."""
    assoc = (cause == ASSOC) | (last_ctx == NO_CONTEXT)
    ctx = np.where(assoc, ASSOC_CONTEXT, last_ctx).astype(np.uint8)
    gravity = np.where(assoc, 0, last_gravity).astype(np.uint8)
    return ctx, gravity


@njit(cache=True)
def _bump_contacts(changed, marks, ties, active, listed_contacts):
    row = np.empty(row_room(ties), ties.adj.dtype)
    r = rows_in(ties, row)
    for x in range(len(changed)):
        prefetch_row(ties, active, changed, x)
        j = changed[x]
        d = 1 if marks[j] & JOINED else -1
        first = row_start(ties, j)
        o, k = row_span(ties, j, row)
        for q in range(k):
            if is_active(active, first + q):
                listed_contacts[nbr_of(r[o + q])] += d


@njit(cache=True)
def _listed_or_sanctioned(listed, sanctioned) -> np.ndarray:
    """The agents listed or with ``sanctioned`` > 0, ascending (np.flatnonzero(listed |
    (sanctioned > 0)), counted then written, forming no column: most agents are neither)."""
    k = 0
    for i in range(len(listed)):
        k += listed[i] | (sanctioned[i] > 0)
    out = np.empty(k, np.int64)
    k = 0
    for i in range(len(listed)):
        if listed[i] or sanctioned[i] > 0:
            out[k] = i
            k += 1
    return out


__all__ = ["Registry", "TRUE", "FALSE", "ASSOC", "NO_CAUSE", "VISIBLE", "JOINED", "LEFT"]
