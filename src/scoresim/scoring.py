"""Rulebook -> score components, expiry, association, grades (docs/model.md §7.3).

The score of an agent is kept as components — own-true records, own-false records and
association — and ``score = base + own_true + own_false + association``. The components are
updated incrementally (never recomputed from scratch), and the sum is kept incrementally
too, so a test can check that the two never drift apart.

Three families share one mechanism: point schemes (points per record, expiring after a
term), weighted-dimension scores (each rule's points weighted by its dimension's weight and
scaled: a linear weighted sum, so components stay additive) and list regimes (no points;
registry.py lists on records). Association is computed from contacts' *own* points (not
their association term), so penalties by association cannot cascade without bound:
``association = mean_weight * (layer-weighted mean own points of active contacts)
+ listed_penalty * min(listed active contacts, listed_cap)``. The sums behind it are kept
incrementally: a change in j's own points, a cut tie or a listing touches only j's contacts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import get_num_threads, njit, prange

from . import expr
from .acts import ACT_ID, ACTS, CONTEXT_ID, N_ACTS
from .jit import helper
from .network import (
    LAYER_BITS,
    Graph,
    active_words,
    implicit_span,
    is_active,
    layer_of,
    lower_bound,
    nbr_of,
    popcount,
    row_room,
    row_span,
    row_start,
    row_weight_sums,
    rows_in,
    stored_start,
)
from .parallel import row_slicing
from .prefetch import prefetch_row
from .scenario import FIRM_FIELDS, LAYERS, PERSON_FIELDS, Grade, Regime
from .sources import grouped

NO_CONTEXT = 255
ACT_CONTEXT = np.array([CONTEXT_ID[a.context] for a in ACTS], np.uint8)  # data context of acts
ACT_GRAVITY = np.array([a.gravity for a in ACTS], np.uint8)  # gravity of each act


class Pending(NamedTuple):
    """One rule's records of one step, waiting to expire, compact — pending records are the
    part of memory that grows with the run: the subjects in ascending order as gaps from the
    one before, each in as few bytes as it needs, 7 bits a byte (a byte where the gap is
    under 128, as most are: ~50 persons apart at the article's densest rules; the first
    subject apart), the true and opaque flags a bit a record (None: every record true, or
    none opaque). ~1.3 bytes a record at the article's densities, flags included, instead
    of 5. Sorting changes no number: a group's records all add ``points`` or nothing to each
    of a subject's sums, so in any order alike."""

    first: int  # the smallest subject
    count: int  # records
    gaps: np.ndarray  # uint8: subject k minus subject k - 1 for k >= 1, ``_gap_code``
    true: np.ndarray | None  # np.packbits of the true flags
    opaque: np.ndarray | None  # np.packbits of the opaque flags
    points: np.float32  # what expiry adds (the rule's points, negated)
    made: int  # the step the records were made

    @classmethod
    def of(cls, subj, true, opaque, points, made: int) -> Pending:
        all_true, none_opaque = bool(true.all()), not opaque.any()
        if all_true and none_opaque:
            subj = np.sort(subj)
        else:
            order = np.argsort(subj, kind="stable")
            subj, true, opaque = subj[order], true[order], opaque[order]
        return cls(
            int(subj[0]),  # (a group is never empty)
            len(subj),
            _gap_code(subj),
            None if all_true else np.packbits(true),
            None if none_opaque else np.packbits(opaque),
            points,
            made,
        )

    def records(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(subjects int32, true, opaque) in ascending order of subject."""
        n = self.count
        subj = _subjects_of(self.first, self.gaps, n)
        true = np.ones(n, bool) if self.true is None else np.unpackbits(self.true, count=n)
        opaque = np.zeros(n, bool) if self.opaque is None else np.unpackbits(self.opaque, count=n)
        return subj, true.view(bool), opaque.view(bool)


@njit(cache=True)
def _gap_code(subj) -> np.ndarray:
    """The gaps between ascending subjects, each in 7-bit groups, low first, a byte each with
    its high bit set where another group follows (LEB128)."""
    size = 0
    for k in range(1, len(subj)):
        g = np.int64(subj[k]) - np.int64(subj[k - 1])
        size += 1
        while g >= 128:
            g >>= 7
            size += 1
    out = np.empty(size, np.uint8)  # (the first subject is Pending.first: no gap)
    at = 0
    for k in range(1, len(subj)):
        g = np.int64(subj[k]) - np.int64(subj[k - 1])
        while g >= 128:
            out[at] = (g & 127) | 128
            g >>= 7
            at += 1
        out[at] = g
        at += 1
    return out


@njit(cache=True)
def _subjects_of(first, code, n) -> np.ndarray:
    """The subjects ``_gap_code`` coded (int32, ascending)."""
    out = np.empty(n, np.int32)
    s, at = np.int64(first), 0
    if n == 0:
        return out
    out[0] = s
    for k in range(1, n):
        g, shift = np.int64(0), 0
        while True:
            b = np.int64(code[at])
            at += 1
            g |= (b & 127) << shift
            if b < 128:
                break
            shift += 7
        s += g
        out[k] = s
    return out


@dataclass
class CompiledRule:
    act: int
    points: float  # effective points (dimension weight applied)
    expiry_steps: int  # 0: never
    tree: expr.Node | None
    saturate: bool = False  # keep base + own points inside the score's range, record by record


def compile_rules(regime: Regime, subject: str, step_years: float) -> dict[int, list[CompiledRule]]:
    """Rules of one subject kind by act; expiry capped by the max-record-age safeguard."""
    out: dict[int, list[CompiledRule]] = {}
    sc = regime.scoring
    if sc.family == "none":
        return out
    names = PERSON_FIELDS if subject == "person" else FIRM_FIELDS
    for rule in regime.rules:
        act = ACT_ID[rule.record]
        if ACTS[act].subject != subject:
            continue
        pts = rule.points
        if sc.family == "dimensions":
            pts = pts * sc.dimensions[rule.dimension] * sc.dimension_scale
        exp = 0 if rule.expiry_years == 0 else max(1, round(rule.expiry_years / step_years))
        cap_years = regime.safeguards.max_record_age_years
        if cap_years > 0:
            cap = max(1, round(cap_years / step_years))
            exp = cap if exp == 0 else min(exp, cap)
        tree = expr.parse(rule.when, names) if rule.when else None
        out.setdefault(act, []).append(CompiledRule(act, pts, exp, tree, rule.saturate))
    return out


def most_ties(graph: Graph) -> int:
    """The longest row of ``graph``: the most ties any agent has."""
    return graph.longest


def weight_sum_type(layer_weights: np.ndarray, most: int) -> type:
    """The float of an agent's sum of layer weights over its active ties (of at most ``most``):
    float32 where every such sum is exact in it — weights that are multiples of 2^-k (k <= 8)
    and no sum of 2^(24-k) or more, as the article's 1, 0.5 and 0.25 over any row —, the same
    numbers as float64 with 4 bytes an agent less; else float64."""
    w = np.abs(np.asarray(layer_weights, np.float64))
    for k in range(9):
        scaled = w * 2.0**k
        if np.array_equal(scaled, np.round(scaled)):
            return np.float32 if most * float(w.max(initial=0.0)) * 2.0**k < 2.0**24 else np.float64
    return np.float64


def grade_bands(grades: list[Grade]) -> tuple[np.ndarray, list[str]]:
    """Grade mins sorted from best to worst, and their names."""
    order = sorted(grades, key=lambda g: -g.min)
    return np.array([g.min for g in order], np.float64), [g.name for g in order]


def grade_of(score: np.ndarray, mins: np.ndarray) -> np.ndarray:
    """Grade index (0 = best) of each score: the first band whose minimum the score reaches
    (a score equal to a band's minimum is in that band); below every band, the worst."""
    out = np.zeros(len(score), np.uint8)
    if len(mins):
        _grade_kernel(score, mins, out)
    return out


def grades_among(grade: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Whether each agent's grade is one of ``which`` (np.isin's answer, in one pass through
    a table of the 256 grades, not a pass a grade)."""
    table = np.zeros(256, np.bool_)
    table[np.asarray(which, np.int64)] = True
    out = np.empty(len(grade), np.bool_)
    _look_up(grade, table, out)
    return out


@njit(cache=True, parallel=True)
def _look_up(grade, table, out):
    for i in prange(len(grade)):
        out[i] = table[grade[i]]


@helper
def _band(score, mins):
    """The grade of ``score``: walk down the bands' minimums (best first) until it is not
    below one. (A branchless count measured 3.7x faster over random scores but 15 % slower
    in a run, where grades hold still and the walk's branch is predicted.)"""
    x = np.float64(score)
    g, last = 0, len(mins) - 1
    while g < last and x < mins[g]:
        g += 1
    return g


@njit(cache=True, parallel=True)
def _grade_kernel(score, mins, out):
    for i in prange(len(score)):
        out[i] = _band(score[i], mins)


@njit(cache=True, parallel=True)
def _regrade(score, clamp, lo, hi, mins, grade):
    """grade[i]: the band of agent i's score as shown — clamped in float32 to ``lo..hi``
    where ``clamp``, as Ledger.shown's np.clip does (grade_of(shown(), mins), in place)."""
    for i in prange(len(score)):
        x = score[i]
        if clamp:
            x = min(max(x, lo), hi)
        grade[i] = _band(x, mins)


@njit(cache=True, inline="always")
def hypothetical_scores(base, own_true, own_false, clamp, lo, hi):
    """One agent's score from its own-true points alone and from its own points alone, as
    the regime shows it: the float32 sums (and clamp) of ``shown(base + own_true)`` and
    ``shown(base + own_true + own_false)``. ``base, clamp, lo, hi``: ``Ledger.shown_args``."""
    x_true = base + own_true
    x_own = x_true + own_false
    if clamp:
        x_true = min(max(x_true, lo), hi)
        x_own = min(max(x_own, lo), hi)
    return x_true, x_own


@njit(cache=True, parallel=True)
def _hypothetical_kernel(base, own_true, own_false, clamp, lo, hi, mins, g_true, g_own):
    """Grades of the hypothetical scores (``hypothetical_scores``) in one pass."""
    for i in prange(len(own_true)):
        x_true, x_own = hypothetical_scores(base, own_true[i], own_false[i], clamp, lo, hi)
        g_true[i] = _band(x_true, mins)
        g_own[i] = _band(x_own, mins)


class Ledger:
    """Score components of one kind of subject (persons or firms) in one world."""

    def __init__(
        self,
        n: int,
        base: float,
        grades: list[Grade],
        graph: Graph,
        layer_weights: np.ndarray,
        mean_weight: float,
        listed_penalty: float,
        listed_cap: int,
        rules: dict[int, list[CompiledRule]],
        score_range: tuple[float, float] | None = None,
        step_type: type = np.int32,
    ):
        """``step_type``: the integer of the steps of appeals (sim.step_type)."""
        self.n, self.base = n, float(base)
        self.range = score_range
        self.own_true = np.zeros(n, np.float32)
        self.own_false = np.zeros(n, np.float32)
        self.false_opaque = np.zeros(n, np.float32)  # the part of own_false no appeal can strike
        # the step of the last successful appeal (never: the type's least)
        self.struck_at = np.full(n, np.iinfo(step_type).min, step_type)
        self.assoc = np.zeros(n, np.float32)
        self.score = np.full(n, base, np.float32)
        self.grade_mins, self.grade_names = grade_bands(grades)
        self.grade = grade_of(self.shown(), self.grade_mins)
        self.prior = np.zeros(n, np.uint16)
        # the data behind the latest fall in the score: the context and gravity of the
        # largest deduction in the latest step with deductions (what a sanction that starts
        # now names as its cause; registry.py and sanctions.py freeze it at the start)
        self.last_ctx = np.full(n, NO_CONTEXT, np.uint8)
        self.last_gravity = np.zeros(n, np.uint8)
        self.graph = graph
        self.layer_weights = layer_weights.astype(np.float64)
        self.mean_weight, self.listed_penalty, self.listed_cap = (
            mean_weight,
            listed_penalty,
            listed_cap,
        )
        self.associating = mean_weight > 0 or listed_penalty != 0
        self.immune = np.zeros(0, bool)  # agents association never reaches (firms' safeguards)
        # association accumulators over active contacts
        self.sum_own = np.zeros(n, np.float64)  # sum of w * own points
        self.sum_w = np.zeros(n, weight_sum_type(self.layer_weights, most_ties(graph)))  # sum of w
        self.listed_contacts = np.zeros(n, np.int32)
        if self.associating:
            self.sum_w[:] = row_weight_sums(graph.ties, self.layer_weights)
        self.rules = rules
        # step -> the records expiring then, a Pending for each rule and step they were made
        self.expiry: dict[int, list[Pending]] = {}
        # scratch of _ranked, a bit an agent, all zero between uses (the changes of a step
        # are summed per agent in a column as long as the agents changed, not as long as all)
        self._marks = np.zeros(active_words(n), np.uint64)
        self._hypothetical: tuple | None = None  # this step's hypothetical grades, once asked

    def apply(
        self,
        t: int,
        records,
        fields: Callable[[np.ndarray, np.ndarray], dict],
        active: np.ndarray,
        opaque_source: np.ndarray,
    ) -> None:
        """Expire old points, add this step's records, update association and grades."""
        self._hypothetical = None
        changed_parts = self._expire(t)  # (subjects, how far each record moved them)
        deductions = self._add_records(t, records, fields, opaque_source, changed_parts)
        if deductions:  # (before the scatter, which they do not touch: their subjects'
            self._name_deductions(deductions)  # columns are then let go)
            deductions.clear()
        self._propagate(changed_parts, active)
        self.refresh_association()
        self.regrade()

    def _expire(self, t: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Take back the points of the records that expire now: (subjects, deltas) a group."""
        changed_parts = []
        for due in self.expiry.pop(t, []):
            subj, true, opaque = due.records()
            changed_parts.append((subj, self._add(subj, true, opaque, due.points, due.made, True)))
        return changed_parts

    def _add_records(
        self,
        t: int,
        records,
        fields: Callable[[np.ndarray, np.ndarray], dict],
        opaque_source: np.ndarray,
        changed_parts: list,
    ) -> list[tuple]:
        """Add the points of this step's records, rule by rule, appending (subjects, deltas)
        to ``changed_parts``; returns (subjects, points, act) of the negative rules. (A
        method of its own so that its columns are let go on return, not held by the
        caller's names through the scatter.)"""
        deductions: list[tuple] = []
        if not (len(records) and self.rules):
            return deductions
        count_into(self.prior, records.subject)
        by_act, bounds = grouped(records.act, N_ACTS)  # each act's records, in order
        for act, rules in self.rules.items():
            idx = by_act[bounds[act] : bounds[act + 1]]
            if len(idx) == 0:
                continue
            subj, tr = records.subject[idx], records.true[idx]
            opq = opaque_source[records.source[idx]]
            cols = None
            for rule in rules:
                if rule.tree is not None:
                    if cols is None:
                        cols = fields(subj, tr)
                    m = expr.evaluate(rule.tree, cols, len(subj))
                    s, tt, oo = subj[m], tr[m], opq[m]
                else:
                    s, tt, oo = subj, tr, opq
                if len(s) == 0:
                    continue
                pts = np.float32(rule.points)
                if rule.saturate:  # never expires (scenario.check)
                    changed_parts.append((s, self._add_saturating(s, tt, oo, pts)))
                    if rule.points < 0:
                        deductions.append((s, rule.points, act))
                    continue
                changed_parts.append((s, self._add(s, tt, oo, pts, t, False)))
                if rule.expiry_steps:
                    self.expiry.setdefault(t + rule.expiry_steps, []).append(
                        Pending.of(s, tt, oo, -pts, t)
                    )
                if rule.points < 0:
                    deductions.append((s, rule.points, act))
        return deductions

    def _name_deductions(self, deductions: list[tuple]) -> None:
        """Each subject with deductions this step: the context and gravity of its largest
        deduction (ties: the graver act, then the earlier rule) become ``last_ctx`` and
        ``last_gravity``. ``deductions``: (subjects, points, act) in rule order."""
        subj = np.concatenate([d[0] for d in deductions])
        agents, ranks = _ranked(subj, self._marks)
        _largest_deductions(
            subj,
            ranks,
            np.cumsum([len(d[0]) for d in deductions]),
            np.array([d[1] for d in deductions], np.float64),
            np.array([d[2] for d in deductions], np.intp),
            np.zeros(len(agents), np.float64),
            self.last_ctx,
            self.last_gravity,
        )

    def _add(self, subj, true, opaque, pts, t_rec: int, expiring: bool) -> np.ndarray:
        """Add the records' points; returns how far each moved its subject's own points."""
        delta = np.empty(len(subj), np.float32)
        _add_points(
            subj,
            true,
            opaque,
            pts,
            t_rec,
            expiring,
            self.struck_at,
            self.own_true,
            self.own_false,
            self.false_opaque,
            self.score,
            delta,
        )
        return delta

    def _add_saturating(self, subj, true, opaque, pts) -> np.ndarray:
        lo, hi = self.range
        delta = np.empty(len(subj), np.float32)
        _add_saturating_points(
            subj, true, opaque, pts, np.float32(self.base), np.float32(lo), np.float32(hi),
            self.own_true, self.own_false, self.false_opaque, self.score, delta,
        )  # fmt: skip
        return delta

    def seed(self, points: np.ndarray, active: np.ndarray) -> None:
        """Start every agent with ``points`` of its own (true) record: a credit market's
        starting scores (lending.py). Association is recounted over them."""
        pts = np.asarray(points, np.float32)
        self._hypothetical = None
        self.own_true += pts
        self.score += pts
        if self.associating:
            self.recount_association(active)
            self.refresh_association()
        self.regrade()

    def _propagate(self, parts: list[tuple[np.ndarray, np.ndarray]], active: np.ndarray) -> None:
        """Tell the contacts of the agents whose own points moved how far they moved: each
        agent's records' deltas summed in record order (float64, as one column of sums
        taking them one by one would), then scattered in the order of the agents. ``parts``:
        (subjects, deltas) of the records in order, emptied here — each part let go once
        copied, the records once summed, so the scatter holds two columns as long as the
        agents that changed (at 10^8 persons the records and their parts, held through the
        scatter, were ~0.3 GB of the step's peak)."""
        if not (self.associating and self.mean_weight > 0) or not any(len(x[0]) for x in parts):
            parts.clear()  # (no association, or no records: nothing to scatter)
            return
        subj, delta = _joined(parts)
        changed, ranks = _ranked(subj, self._marks)
        del subj
        sums = _sums_by_rank(ranks, delta, len(changed))
        del ranks, delta
        g = self.graph
        _propagate_own(
            changed,
            sums,
            g.ties,
            active,
            self.layer_weights,
            self.sum_own,
            get_num_threads(),
        )

    def distinct(self, agents: np.ndarray) -> np.ndarray:
        """The distinct ``agents``, ascending (np.unique's answer, in time linear in them)."""
        return _ranked(agents, self._marks)[0]

    def strike(self, agents: np.ndarray, t: int, active: np.ndarray) -> None:
        """A successful appeal strikes the agents' false records, except those of opaque
        sources; records of theirs that expire later are not taken back twice."""
        agents = np.unique(agents).astype(np.int32)
        self._hypothetical = None
        open_part = (self.own_false[agents] - self.false_opaque[agents]).astype(np.float32)
        self.own_false[agents] = self.false_opaque[agents]
        self.score[agents] -= open_part
        self.struck_at[agents] = t
        self._propagate([(agents, -open_part)], active)
        self.refresh_association()
        self.regrade()

    def regrade(self) -> None:
        """Each agent's grade from its score as shown, in place: one pass, and no score or
        grade column formed anew each time (at 10^8 agents, 0.5 GB a time)."""
        if len(self.grade_mins):
            _, clamp, lo, hi = self.shown_args()
            _regrade(self.score, clamp, lo, hi, self.grade_mins, self.grade)

    def shown(self, score: np.ndarray | None = None) -> np.ndarray:
        """The score as the regime shows it: clamped to its range, if it has one."""
        x = self.score if score is None else score
        return x if self.range is None else np.clip(x, self.range[0], self.range[1])

    def refresh_association(self) -> None:
        if not self.associating:
            return
        _refresh_assoc(
            self.sum_own,
            self.sum_w,
            self.listed_contacts,
            self.mean_weight,
            self.listed_penalty,
            self.listed_cap,
            self.immune,
            self.assoc,
            self.score,
        )

    def recount_association(self, active: np.ndarray) -> None:
        """Form the association sums afresh over the active ties (after a change of rules;
        step by step they are kept incrementally)."""
        g = self.graph
        _recount_sums(
            g.ties, active, self.layer_weights, self.own_true, self.own_false, self.sum_own,
            self.sum_w,
        )  # fmt: skip

    def shown_args(self) -> tuple[np.float32, bool, np.float32, np.float32]:
        """(base, clamped?, low, high) in float32, for kernels that form shown scores."""
        lo, hi = self.range if self.range is not None else (0.0, 0.0)
        return np.float32(self.base), self.range is not None, np.float32(lo), np.float32(hi)

    def hypothetical_grades(self) -> tuple[np.ndarray, np.ndarray]:
        """Grades from own-true points alone and from own points alone (for attribution),
        formed once per change of the own points (lists, sanctions and metrics all ask);
        read-only. ``forget()`` drops them at the end of a step."""
        if self._hypothetical is None:
            g_true, g_own = np.zeros(self.n, np.uint8), np.zeros(self.n, np.uint8)
            if len(self.grade_mins):
                base, clamp, lo, hi = self.shown_args()
                _hypothetical_kernel(
                    base,
                    self.own_true,
                    self.own_false,
                    clamp,
                    lo,
                    hi,
                    self.grade_mins,
                    g_true,
                    g_own,
                )
            self._hypothetical = (g_true, g_own)
        return self._hypothetical

    def forget(self) -> None:
        """Drop what was formed for this step only (kept out of memory between steps)."""
        self._hypothetical = None


def _joined(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The parts' subjects and deltas end to end (np.concatenate's answer), each part let
    go as soon as it is copied, so a step's records are held once and a part at most, not
    twice; ``parts`` is left empty."""
    total = sum(len(p[0]) for p in parts)
    subj = np.empty(total, np.result_type(*(p[0] for p in parts)))
    delta = np.empty(total, np.result_type(*(p[1] for p in parts)))
    at = 0
    for k in range(len(parts)):
        s, d = parts[k]
        parts[k] = None  # type: ignore[call-overload]
        subj[at : at + len(s)] = s
        delta[at : at + len(s)] = d
        at += len(s)
        del s, d
    parts.clear()
    return subj, delta


@njit(cache=True)
def _ranked(values, marks):
    """The distinct ``values`` ascending and each value's position among them — what
    ``np.unique(values, return_inverse=True)`` gives — in time linear in the values plus a
    word per 64 agents: each value sets its bit in ``marks`` (all zero, left all zero), a
    running count of the bits below each word ranks them."""
    one = np.uint64(1)
    for v in values:
        marks[v >> 6] |= one << np.uint64(v & 63)
    below = np.empty(len(marks), np.int64)
    total = 0
    for w in range(len(marks)):
        below[w] = total
        if marks[w]:
            total += popcount(marks[w])
    distinct = np.empty(total, np.int32)
    k = 0
    for w in range(len(marks)):
        word = marks[w]
        while word:
            low = word & (~word + one)  # the lowest bit set
            distinct[k] = w * 64 + popcount(low - one)
            word ^= low
            k += 1
    ranks = np.empty(len(values), np.int32)  # (agents are numbered in int32)
    for r in range(len(values)):
        v = values[r]
        w = v >> 6
        ranks[r] = below[w] + popcount(marks[w] & ((one << np.uint64(v & 63)) - one))
    for v in values:
        marks[v >> 6] = 0
    return distinct, ranks


@njit(cache=True)
def _sums_by_rank(ranks, delta, k):
    """Each of ``k`` ranks' ``delta`` summed in order, in float64."""
    out = np.zeros(k, np.float64)
    for r in range(len(ranks)):
        out[ranks[r]] += delta[r]
    return out


@njit(cache=True)
def _largest_deductions(subj, ranks, part_ends, part_pts, part_act, best, last_ctx, last_gravity):
    """One pass over the deductions in rule order (part p: subjects up to ``part_ends[p]``,
    each losing ``part_pts[p]`` for act ``part_act[p]``): a subject's first deduction, or one
    larger than its best so far, or as large but for a graver act, names its context and
    gravity — what a sort by (subject, points, gravity descending, rule order) would put
    first. ``best``: all zero (points are negative), a slot for each distinct subject, the
    record's being ``ranks[k]``."""
    start = 0
    for p in range(len(part_ends)):
        pts, a = part_pts[p], part_act[p]
        g = ACT_GRAVITY[a]
        for k in range(start, part_ends[p]):
            i = subj[k]
            b = best[ranks[k]]
            if b == 0.0 or pts < b or (pts == b and g > last_gravity[i]):
                best[ranks[k]] = pts
                last_ctx[i] = ACT_CONTEXT[a]
                last_gravity[i] = g
        start = part_ends[p]


@njit(cache=True)
def count_into(counts, agents):
    """counts[a] += 1 for each a in agents: np.add.at without its overhead, and np.bincount
    without the intp copy of ``agents`` it makes (8 bytes an agent). Every a < len(counts)."""
    for a in agents:
        counts[a] += 1


@njit(cache=True)
def _add_saturating_points(
    subj, true, opaque, pts, base, lo, hi, own_true, own_false, false_opaque, score, delta
):
    """Add ``pts`` for each record, in record order, but only as far as takes base + own
    points to the edge of lo..hi (a record that cannot move the score adds nothing; one that
    finds the score beyond an edge, put there by other rules, never moves it back)."""
    zero = np.float32(0.0)
    for k in range(len(subj)):
        i = subj[k]
        own = base + own_true[i] + own_false[i]
        # up to the range's edge, never past it; a score already outside stays where it is
        d = min(max(own + pts, min(lo, own)), max(hi, own)) - own
        d_true = d if true[k] else zero
        d_false = zero if true[k] else d
        own_true[i] += d_true
        own_false[i] += d_false
        if opaque[k]:
            false_opaque[i] += d_false
        score[i] += d
        delta[k] = d


@njit(cache=True)
def _add_points(
    subj,
    true,
    opaque,
    pts,
    t_rec,
    expiring,
    struck_at,
    own_true,
    own_false,
    false_opaque,
    score,
    delta,
):
    """Add ``pts`` for each record: to own_true if true, else to own_false (and to its opaque
    part if an opaque source made it); ``delta``: how far each moved its subject's own
    points. An expiring false record whose open part was struck on appeal since takes back
    only its opaque part."""
    zero = np.float32(0.0)
    for k in range(len(subj)):
        i = np.uint64(subj[k])  # (unsigned: no test for a negative index at each read)
        d_true = pts if true[k] else zero
        d_false = zero if true[k] else pts
        d_opaque = d_false if opaque[k] else zero
        df = d_false
        if expiring and t_rec <= struck_at[i]:
            df = d_opaque  # its open part was struck on appeal already
        own_true[i] += d_true
        own_false[i] += df
        false_opaque[i] += d_opaque
        score[i] += d_true + df
        delta[k] = d_true + df


@njit(cache=True, parallel=True)
def _propagate_own(changed, d_own, ties, active, layer_w, sum_own, parts):
    """Scatter own-point changes (``d_own[x]``: of agent ``changed[x]``) to contacts. Each
    thread owns a range of receivers and walks every change in order, so each receiver's sum
    gets its additions in the order of one serial pass (the same float rounding at any
    thread count). Rows are sorted by neighbour,
    so a thread walks only its own stretch of each row (found by binary search). The cost is
    reading the changed agents' rows from memory, hence the prefetch; laying the updates out
    by receiver first, or the graph out for locality, was measured and did not help."""
    span = (len(sum_own) + parts - 1) // parts
    for part in prange(parts):
        lo, hi = part * span, (part + 1) * span
        first = np.int64(lo) << LAYER_BITS
        row = np.empty(row_room(ties), ties.adj.dtype)
        r, adj = rows_in(ties, row), ties.adj
        for x in range(len(changed)):
            prefetch_row(ties, active, changed, x)
            j = changed[x]
            d = d_own[x]
            if d == 0.0:
                continue
            span_lo, span_hi = implicit_span(ties, j)
            start = row_start(ties, j)  # the row's first entry
            if span_hi <= lo or span_lo >= hi or span_lo == span_hi:
                # no implicit tie in this thread's range: the stored ones as they are, each
                # numbered past the row's implicit ties below it (all or none of them)
                o = stored_start(ties, j)
                end = stored_start(ties, j + 1) - o
                if span_hi <= lo:
                    start += row_start(ties, j + 1) - row_start(ties, j) - end
                _add_to_range(adj, o, end, start, first, lo, hi, active, layer_w, d, sum_own)
            else:
                o, end = row_span(ties, j, row)
                _add_to_range(r, o, end, start, first, lo, hi, active, layer_w, d, sum_own)


@helper
def _add_to_range(r, o, end, start, first, lo, hi, active, layer_w, d, sum_own):
    """Add ``d`` times each active entry's layer weight to the sums of the row's contacts in
    lo..hi-1 (the row's entries ``r[o:o + end]``, numbered from ``start``; ``first``: lo's
    least entry value)."""
    q = lower_bound(r, o, o + end, first) - o if lo > 0 else 0
    while q < end:
        v = r[np.uint64(o + q)]  # (unsigned indexes: no test for a negative index a read)
        i = nbr_of(v)
        if i >= hi:
            break
        if is_active(active, start + q):
            sum_own[np.uint64(i)] += layer_w[np.uint64(layer_of(v))] * d
        q += 1


@njit(cache=True, parallel=True)
def _recount_sums(ties, active, layer_w, own_true, own_false, sum_own, sum_w):
    """Each agent's layer-weighted sums over its active ties: of the contacts' own points
    and of the weights."""
    n = len(sum_own)
    slices, span = row_slicing(n)
    for s in prange(slices):
        row = np.empty(row_room(ties), ties.adj.dtype)
        r = rows_in(ties, row)
        for i in range(s * span, min(n, (s + 1) * span)):
            a = 0.0
            w_sum = 0.0
            first = row_start(ties, i)
            o, k = row_span(ties, i, row)
            for q in range(k):
                if is_active(active, first + q):
                    j = nbr_of(r[o + q])
                    w = layer_w[layer_of(r[o + q])]
                    a += w * (np.float64(own_true[j]) + np.float64(own_false[j]))
                    w_sum += w
            sum_own[i] = a
            sum_w[i] = w_sum


@njit(cache=True, parallel=True)
def _refresh_assoc(
    sum_own, sum_w, listed_contacts, mean_weight, penalty, cap, immune, assoc, score
):
    for i in prange(len(assoc)):
        a = 0.0
        if mean_weight > 0.0 and sum_w[i] > 1e-9:
            a = mean_weight * sum_own[i] / sum_w[i]
        if penalty != 0.0:
            a += penalty * min(listed_contacts[i], cap)
        if len(immune) and immune[i]:
            a = 0.0  # a contract keeps the contacts' records from reaching this agent
        a32 = np.float32(a)
        if a32 != assoc[i]:
            score[i] += a32 - assoc[i]
            assoc[i] = a32


def person_layer_weights(regime: Regime) -> np.ndarray:
    w = np.zeros(5, np.float64)
    for k, v in regime.association.layer_weights.items():
        w[LAYERS.index(k)] = v
    return w
