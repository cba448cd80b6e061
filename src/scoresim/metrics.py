"""Per-step aggregates by group, attribution via components, twin differences
(docs/model.md §7.9).

Each step, one pass over persons adds every per-person quantity into a small table of
*cells* — the cross of urban x minority x income quintile x foreigner x sex x age band (320
cells) — and the events and records of the step are counted into the same cells. The few
columns that move for few persons a step (active ties, the isolated, the employed, income)
are not in the pass: the kernels that change them keep them by cell (tally.py). Groups
(urban, rural, minority, income_q1 ...) are sums of cells, formed once at the end, so the
per-step cost does not grow with the number of groups. Sums run in a fixed order, so results
are identical whatever the thread count. Totals that have no group (ties per layer, list
stocks, firms, records per source) are kept beside the cells.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from .acts import ACT_ID, ACTS, N_ACTS
from .approval import AWARE, INFORMED
from .network import active_in
from .parallel import slicing
from .population import Persons
from .registry import JOINED, LEFT, LONG_LISTED, VISIBLE
from .response import earned
from .sanctions import REWARD, applied_of
from .tally import EMPLOYED, INCOME_BINS, ISOLATED, KEPT, TALLIED, TIES, Tally, add_income

DIMENSIONS = (  # (name, values, column) in cell order
    ("urban", ("rural", "urban")),
    ("minority", ("majority", "minority")),
    ("income", ("income_q1", "income_q2", "income_q3", "income_q4", "income_q5")),
    ("foreigner", ("native", "foreigner")),
    ("sex", ("male", "female")),
    ("age", ("age_18_29", "age_30_44", "age_45_59", "age_60_plus")),
)
N_CELLS = int(np.prod([len(v) for _, v in DIMENSIONS]))

PERSON_METRICS = (
    "persons",
    "listed",
    "list_inflow",
    "list_outflow",
    "visible_listed",
    "sanctioned",
    "sanctioned_own_true",
    "wrongly_sanctioned",
    "association_sanctioned",
    "sanction_applications",
    "unrelated_applications",
    "disproportionate",
    "rewarded",
    "household_spillover",
    "income",
    "employed",
    "isolated",
    "active_ties",
    "watched",
    "score_sum",
    "score_sq_sum",
    "records",
    "false_records",
    "long_listed",
    "approval",  # sum of approval in [0, 1]: divide by persons for the mean
    "aware",
    "approving",  # approval >= 0.5
    "approving_aware",
    "informed",
    "approving_informed",
)
PM = {m: i for i, m in enumerate(PERSON_METRICS)}
ACT_METRICS = tuple(a.name for a in ACTS if a.subject == "person")
ALL_PERSON_METRICS = PERSON_METRICS + ACT_METRICS


def cells_of(p: Persons) -> np.ndarray:
    c = p.urban.astype(np.int32)
    c = c * 2 + p.minority
    c = c * 5 + p.income_quintile
    c = c * 2 + p.foreigner
    c = c * 2 + p.sex
    c = c * 4 + p.age_band
    return c.astype(np.int32)


def group_matrix() -> tuple[list[str], np.ndarray]:
    """Group names and a [groups, cells] 0/1 matrix; group 'all' first."""
    idx = np.arange(N_CELLS)
    coords = []
    rest = idx.copy()
    for _, values in reversed(DIMENSIONS):
        coords.append(rest % len(values))
        rest //= len(values)
    coords = coords[::-1]
    names, rows = ["all"], [np.ones(N_CELLS)]
    for (_, values), coord in zip(DIMENSIONS, coords):
        for v, name in enumerate(values):
            names.append(name)
            rows.append((coord == v).astype(np.float64))
    return names, np.array(rows)


# The person pass's columns: two tasks share each slice of persons, one adding the lists'
# and sanctions' columns (LISTING), the other the rest (LIVING, then the grades), each into a
# table of its own columns only (small enough to stay in cache). The kernel names each by
# its place there (module constants: numba folds them); the tables are added into the step's
# row of Recorder.cells through LISTING_COLS and LIVING_COLS.
LISTING = (
    "listed",
    "list_inflow",
    "list_outflow",
    "visible_listed",
    "long_listed",
    "sanctioned",
    "sanctioned_own_true",  # a sanctioned step's status (1 own true, 2 false records,
    "wrongly_sanctioned",  # 3 association) counts in _OWN_TRUE + status - 1: these three
    "association_sanctioned",  # stay adjacent
    "sanction_applications",
    "unrelated_applications",
    "disproportionate",
    "rewarded",
    "household_spillover",
)
LIVING = (
    "watched",
    "score_sum",
    "score_sq_sum",
    "approval",
    "aware",
    "approving",
    "approving_aware",
    "informed",
    "approving_informed",
)
_L = {m: i for i, m in enumerate(LISTING)}
_V = {m: i for i, m in enumerate(LIVING)}
_LISTED, _INFLOW, _OUTFLOW, _VISIBLE, _LONG = (
    _L[m] for m in ("listed", "list_inflow", "list_outflow", "visible_listed", "long_listed")
)
_SANCTIONED, _OWN_TRUE = _L["sanctioned"], _L["sanctioned_own_true"]
_APPLIED, _UNRELATED, _DISPRO, _REWARDED, _SPILL = (
    _L[m]
    for m in (
        "sanction_applications",
        "unrelated_applications",
        "disproportionate",
        "rewarded",
        "household_spillover",
    )
)
_WATCHED, _SCORE, _SCORE_SQ = (_V[m] for m in ("watched", "score_sum", "score_sq_sum"))
_APPROVAL, _AWARE, _APPROVING, _APPROVING_AWARE, _INFORMED, _APPROVING_INFORMED = (
    _V[m]
    for m in (
        "approval",
        "aware",
        "approving",
        "approving_aware",
        "informed",
        "approving_informed",
    )
)
assert (_L["wrongly_sanctioned"], _L["association_sanctioned"]) == (_OWN_TRUE + 1, _OWN_TRUE + 2)
_PERSONS = PM["persons"]  # not in the pass: Recorder.persons, by cell
# every per-person column is the pass's, but those counted from events and records and those
# kept by change (tally.py)
assert set(PERSON_METRICS) == {
    *LISTING, *LIVING, *KEPT, "persons", "records", "false_records"
}  # fmt: skip
_GRADES = len(LIVING)  # grade g of a world with grades counts in its LIVING table's _GRADES + g
LISTING_COLS = np.array([PM[m] for m in LISTING], np.int64)
LIVING_COLS = np.array([PM[m] for m in LIVING], np.int64)
TALLIED_COLS, INCOME_COL = [PM[m] for m in TALLIED], PM["income"]
# The pass counts the LIVING columns that are counts of persons (0 or 1 each) three to an
# integer, in fields of 21 bits (the top one below the sign bit), and adds them to the table
# every COUNT_BLOCK persons: one addition for three (the sums are whole numbers, the same in
# any order and width). A field holds up to FIELD persons: a block must not hold more.
COUNT_BLOCK = 1 << 20
FIELD = np.int64((1 << 21) - 1)


# what a sanctioned step adds to a person's ``Recorder.ever`` bits, by status (1 own true
# records, 2 false records, 3 association): 1 sanctioned, 16 own true, 2 false, 4 association
_EVER_BITS = np.array([0, 1 | 16, 1 | 2, 1 | 4], np.uint8)


class Listing(NamedTuple):
    """Each person's lists this step (the registry's columns: listed, and its marks)."""

    listed: np.ndarray
    marks: np.ndarray  # registry.VISIBLE, JOINED, LEFT, LONG_LISTED, ...


class Sanctioning(NamedTuple):
    """What the sanctions did to each person this step (sanctions.Outcome's columns)."""

    status: np.ndarray
    unrelated: np.ndarray
    dispro: np.ndarray
    bits: np.ndarray  # which sanctions each has (applications, rewards: sanctions.Sanctioned)
    effects: np.ndarray  # what each does
    spill: np.ndarray


class Living(NamedTuple):
    """Each person's ties, sense of being watched, score and grade (with sanctions.Earning:
    income and work)."""

    indptr: np.ndarray  # each person's row of ties (network.Graph)
    active: np.ndarray  # which are active (a bit a tie: the active degree, network.active_in)
    watched: np.ndarray
    score: np.ndarray
    grade: np.ndarray  # empty where the world has no grades


class Opinion(NamedTuple):
    """What each person thinks of the system (approval.py's columns)."""

    base: np.ndarray
    experience: np.ndarray
    flags: np.ndarray  # approval.ApprovalState.flags (AWARE, INFORMED)
    reached: np.ndarray  # empty: a campaign reached everyone it informed
    info_effect: np.float32


@njit(cache=True)
def _add_living(cell, living, opinion, lo, hi, a, block=COUNT_BLOCK):
    """Persons lo..hi-1 into ``a`` (their cells' LIVING columns, then grades): the sums in
    person order, the counts of persons three to an integer, added every ``block`` persons
    (at most 2^21 - 1). Written without branches on a person's values: a mispredicted branch
    per person cost more than the rest (measured: 9.2 -> 7.2 ms a pass at 10^6, with the
    packing)."""
    watched, score, grade = living.watched, living.score, living.grade
    approval_base, experience, flags = opinion.base, opinion.experience, opinion.flags
    reached, info_effect = opinion.reached, opinion.info_effect
    if block > FIELD:
        raise ValueError("more persons a block than a count's field holds")
    everyone = len(reached) == 0  # a campaign reached everyone it informed
    counts = np.zeros((N_CELLS, 2), np.int64)
    for start in range(lo, hi, block):
        for k in range(start, min(hi, start + block)):
            i = np.uint64(k)  # (unsigned: every read skips numba's test for a negative index)
            c = np.uint64(cell[i])
            a[c, _WATCHED] += watched[i]
            a[c, _SCORE] += score[i]
            a[c, _SCORE_SQ] += score[i] * score[i]
            if len(grade):
                a[c, np.uint64(_GRADES + grade[i])] += 1.0
            inf = np.int64((flags[i] & INFORMED) != 0)
            aw = np.int64((flags[i] & AWARE) != 0)
            informs = inf & np.int64(everyone or reached[i])
            x = approval_base[i] + experience[i]  # float32, as Approvals.logit forms it
            x = x + info_effect * np.float32(informs)  # (+ 0: x itself)
            a[c, _APPROVAL] += 1.0 / (1.0 + np.exp(-x))
            yes = np.int64(x >= 0.0)
            counts[c, 0] += aw | (yes << 21) | ((yes & aw) << 42)
            counts[c, 1] += inf | ((yes & inf) << 21)
        for c in range(N_CELLS):
            w0, w1 = counts[c, 0], counts[c, 1]
            a[c, _AWARE] += w0 & FIELD
            a[c, _APPROVING] += (w0 >> 21) & FIELD
            a[c, _APPROVING_AWARE] += w0 >> 42
            a[c, _INFORMED] += w1 & FIELD
            a[c, _APPROVING_INFORMED] += w1 >> 21
            counts[c, :] = 0


@njit(cache=True, parallel=True)
def _person_pass(
    cell, listing, sanctioning, living, opinion, ever, tables, living_cols, acc, anyone
):
    """Add every person into its cell; each slice (parallel.py) sums into its own table and
    the tables are added in slice order. Within a slice, two tasks split the columns between
    them (LISTING, LIVING), each into a table of its own (so a run of one slice still uses two
    cores): every cell's column still gets its persons in person order, the same sums as one
    serial pass. ``living_cols``: LIVING_COLS and the grades' columns of ``acc``.
    The first task's columns (lists and sanctions) are zero for most persons most steps: a
    person with none of them is passed over after a look (adding zeros changes no sum), and
    with ``anyone`` False (nobody on a list or sanctioned: the twin) nobody is looked at. The
    persons a cell has are not counted here (``Recorder.persons``: they do not change).
    ``tables`` is scratch of 2 x slices tables, kept from step to step (fresh memory costs
    more to touch than to clear)."""
    listed, marks = listing.listed, listing.marks
    status, unrelated = sanctioning.status, sanctioning.unrelated
    bits, effects = sanctioning.bits, sanctioning.effects
    reward = effects[REWARD]
    dispro, spill = sanctioning.dispro, sanctioning.spill
    n = len(cell)
    slices, span = slicing(n)
    for task in prange(2 * slices):
        part, half = task // 2, task % 2
        a = tables[task]
        a[:] = 0.0
        lo, hi = part * span, min(n, (part + 1) * span)
        if half == 1:
            _add_living(cell, living, opinion, lo, hi, a)
            continue
        if not anyone:
            continue
        for i in range(lo, hi):
            c = cell[i]
            st = status[i]
            m = marks[i]
            quiet = not (listed[i] or m & (JOINED | LEFT | VISIBLE | LONG_LISTED))
            if quiet and bits[i] == 0 and not spill[i]:
                continue  # (no sanction, so no status, application or reward)
            a[c, _LISTED] += listed[i]
            a[c, _INFLOW] += (m & JOINED) != 0
            a[c, _OUTFLOW] += (m & LEFT) != 0
            a[c, _VISIBLE] += (m & VISIBLE) != 0
            a[c, _LONG] += (m & LONG_LISTED) != 0
            if st > 0:  # status 1 own true, 2 false records, 3 association: adjacent
                a[c, _SANCTIONED] += 1.0
                a[c, _OWN_TRUE + st - 1] += 1.0
                ever[i] |= _EVER_BITS[st]
            a[c, _APPLIED] += applied_of(bits[i], effects)
            a[c, _UNRELATED] += unrelated[i]
            a[c, _DISPRO] += dispro[i]
            rewarded = (bits[i] & reward) != 0
            a[c, _REWARDED] += rewarded
            if rewarded:
                ever[i] |= 8
            a[c, _SPILL] += spill[i]
    for task in range(2 * slices):
        cols = LISTING_COLS if task % 2 == 0 else living_cols
        a = tables[task]
        for c in range(N_CELLS):
            for k in range(len(cols)):
                acc[c, cols[k]] += a[c, k]


_RECORDS, _FALSE_RECORDS = PM["records"], PM["false_records"]


@njit(cache=True)
def _count_acts_and_records(cell, ev_agent, ev_act, act_cols, rec_subject, rec_true, acc):
    """The step's events (a person act in its column, ``act_cols``; -1: a firm's act) and
    records (all, and the false ones), each counted in its person's cell: whole numbers, the
    same sums as counting first and adding once."""
    for e in range(len(ev_agent)):
        col = act_cols[ev_act[e]]
        if col >= 0:
            acc[cell[ev_agent[e]], col] += 1.0
    for r in range(len(rec_subject)):
        c = cell[rec_subject[r]]
        acc[c, _RECORDS] += 1.0
        if not rec_true[r]:
            acc[c, _FALSE_RECORDS] += 1.0


def recount_kept(cell, indptr, active, earning) -> tuple[np.ndarray, np.ndarray]:
    """What tally.py keeps by change, counted afresh over everyone: ([cells, TALLIED] active
    ties, isolated, employed; [cells, INCOME_BINS] the income's bins)."""
    counted = np.zeros((N_CELLS, len(TALLIED)), np.int64)
    income = np.zeros((1, N_CELLS, INCOME_BINS), np.int64)  # (one thread's table)
    _recount_kept(cell, indptr, active, earning, counted, income)
    return counted, income[0]


@njit(cache=True)
def _recount_kept(cell, indptr, active, earning, counted, income):
    employed, employer = earning.employed, earning.employer
    for k in range(len(cell)):
        i = np.uint64(k)  # (unsigned: no test for a negative index)
        c = np.uint64(cell[i])
        ties = active_in(active, np.int64(indptr[i]), np.int64(indptr[np.uint64(k + 1)]))
        counted[c, TIES] += ties
        counted[c, ISOLATED] += np.int64(ties == 0)
        counted[c, EMPLOYED] += np.int64(employed[i]) & np.int64(employer[i] >= 0)
        add_income(income, 0, c, earned(earning, i), 1)


def _any_of(*columns: np.ndarray) -> bool:
    return any(c.any() for c in columns)


SAMPLED_TOTALS = ("largest_component_share", "score_assortativity")

# The regional panel (runs with a pilot, or run.regional): per step and region, what a
# researcher of a pilot's effect would have for each region (docs/model.md §7.10.1).
REGIONAL_METRICS = (
    "persons",
    "listed",
    "sanctioned",
    "income",
    "employed",
    "isolated",
    "active_ties",
    "watched",
    "approving",
    "records",
) + ACT_METRICS
_RM = {m: i for i, m in enumerate(REGIONAL_METRICS)}


class RegionalPanel:
    """Per step and region: sums of REGIONAL_METRICS, and whether the regime reached the
    region then (``inside``)."""

    def __init__(self, region: np.ndarray, n_regions: int, steps: int):
        self.region = region  # the persons' own column (uint8): no copy
        self.n_regions = n_regions
        self.values = np.zeros((steps, n_regions, len(REGIONAL_METRICS)), np.float64)
        self.inside = np.zeros((steps, n_regions), bool)

    def sum_over(self, where: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """[steps, metrics]: each step's sums over the regions ``where`` marks that step (of
        ``values``, another world's panel values; by default this one's)."""
        v = self.values if values is None else values
        return np.einsum("tk,tkm->tm", where.astype(np.float64), v)

    def add(self, t, listed, status, earning, living, opinion, ev_agent, ev_act, rec_subject):
        """Step t's sums by region: the persons' columns in one compiled pass
        (``_panel_pass``: no column formed for them), the records and acts by bincount."""
        k, r, v = self.n_regions, self.region, self.values[t]
        v[:, :] = 0.0
        _panel_pass(r, listed, status, earning, living, opinion, v)
        if len(rec_subject):
            v[:, _RM["records"]] = np.bincount(r[rec_subject], minlength=k)
        if len(ev_agent):
            cells = r[ev_agent].astype(np.int64) * N_ACTS + ev_act
            acts = np.bincount(cells, minlength=k * N_ACTS).reshape(k, N_ACTS)
            for a in ACTS:
                if a.subject == "person":
                    v[:, _RM[a.name]] = acts[:, ACT_ID[a.name]]


_R_PERSONS, _R_LISTED, _R_SANCTIONED, _R_INCOME, _R_EMPLOYED = (
    _RM["persons"],
    _RM["listed"],
    _RM["sanctioned"],
    _RM["income"],
    _RM["employed"],
)
_R_ISOLATED, _R_TIES, _R_WATCHED, _R_APPROVING = (
    _RM["isolated"],
    _RM["active_ties"],
    _RM["watched"],
    _RM["approving"],
)


@njit(cache=True)
def _panel_pass(region, listed, status, earning, living, opinion, v):
    """Each person into its region's row of ``v``: persons, listed, sanctioned, income,
    employed, isolated, active ties, watched and approving, added in person order as
    np.bincount adds them (so the same sums), with each person's income (``earned``), active
    degree (``active_in``) and approval formed where counted: the panel keeps nothing by
    change (tally.py), since a person's region is not its cell."""
    indptr, active, watched = living.indptr, living.active, living.watched
    base, experience, flags = opinion.base, opinion.experience, opinion.flags
    reached, info_effect = opinion.reached, opinion.info_effect
    everyone = len(reached) == 0
    for i in range(len(region)):
        r = region[i]
        ties = active_in(active, np.int64(indptr[i]), np.int64(indptr[i + 1]))
        informs = np.int64((flags[i] & INFORMED) != 0) & np.int64(everyone or reached[i])
        x = base[i] + experience[i]  # float32, as Approvals.logit forms it
        x = x + info_effect * np.float32(informs)
        v[r, _R_PERSONS] += 1.0
        v[r, _R_LISTED] += 1.0 if listed[i] else 0.0
        v[r, _R_SANCTIONED] += 1.0 if status[i] > 0 else 0.0
        v[r, _R_INCOME] += np.float64(earned(earning, i))
        v[r, _R_EMPLOYED] += 1.0 if earning.employed[i] and earning.employer[i] >= 0 else 0.0
        v[r, _R_ISOLATED] += 1.0 if ties == 0 else 0.0
        v[r, _R_TIES] += ties
        v[r, _R_WATCHED] += np.float64(watched[i])
        v[r, _R_APPROVING] += 1.0 if x >= 0.0 else 0.0


LAZY_TABLE_BYTES = 1 << 30  # above this, the per-step table is zeroed lazily, page by page


class Recorder:
    """Collects the per-step measurements of one world."""

    def __init__(
        self,
        persons: Persons,
        steps: int,
        total_names: list[str],
        grade_names: list[str],
        regions: int = 0,
    ):
        self.cell = cells_of(persons).astype(np.int16)  # N_CELLS < 2**15
        self.persons = np.bincount(self.cell, minlength=N_CELLS).astype(np.float64)  # by cell
        # per region (``regions`` > 0: a run with a pilot, or run.regional)
        self.panel = RegionalPanel(persons.region, regions, steps) if regions else None
        self.steps = steps
        # grade counts per cell follow the fixed metrics: the score distribution by group
        self.metric_names = list(ALL_PERSON_METRICS) + [f"grade.{g}" for g in grade_names]
        self.n_grades = len(grade_names)
        grade_cols = len(ALL_PERSON_METRICS) + np.arange(self.n_grades)
        self._living_cols = np.concatenate([LIVING_COLS, grade_cols]).astype(np.int64)
        # written here rather than left to the first add of each step: a fresh page costs
        # several microseconds when the step's pass first touches it (measured, W3)
        shape = (steps, N_CELLS, len(self.metric_names))
        if steps * N_CELLS * len(self.metric_names) * 8 <= LAZY_TABLE_BYTES:
            self.cells = np.full(shape, 0.0)
        else:  # a long run's pages are zeroed as its steps reach them (none, unmeasured)
            self.cells = np.zeros(shape)
        self.total_names = list(total_names)
        self._total_col = {name: k for k, name in enumerate(self.total_names)}
        self.totals = np.zeros((steps, len(total_names)), np.float64)
        for name in SAMPLED_TOTALS:  # measured every few steps only: NaN in between
            if name in self.total_names:
                self.totals[:, self.total_names.index(name)] = np.nan
        self._act_cols = np.array(
            [ALL_PERSON_METRICS.index(a.name) if a.subject == "person" else -1 for a in ACTS]
        )
        # per person, ever: 1 sanctioned, 2 by false records, 4 by association alone,
        # 8 rewarded, 16 on own true records (results.sanction_classes reads them)
        self.ever = np.zeros(persons.n, np.uint8)
        self._tables: np.ndarray | None = None  # the pass's scratch, made on first use
        self.tally = Tally(self.cell, N_CELLS)  # the columns kept by change

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_tables": None}  # scratch stays out of checkpoints

    def person_step(
        self,
        t,
        reg,
        out,
        spill,
        state,
        earning,
        graph,
        active,
        score,
        grade,
        approvals,
        ev_agent,
        ev_act,
        rec_subject,
        rec_true,
    ) -> None:
        """Add one step of one world (its ties: ``graph`` and the bits of those ``active``);
        ``grade`` is None where the world has no grades."""
        acc = self.cells[t]
        if self._tables is None:
            slices = slicing(len(self.cell))[0]
            width = max(len(LISTING), len(self._living_cols))
            self._tables = np.zeros((2 * slices, N_CELLS, width), np.float64)
        living = Living(
            graph.indptr,
            active,
            state.watched,
            score,
            grade if grade is not None and self.n_grades else np.empty(0, np.uint8),
        )
        opinion = Opinion(
            approvals.base,
            approvals.state.experience,
            approvals.state.flags,
            approvals.inside,
            np.float32(approvals.info_effect()),
        )
        _person_pass(
            self.cell,
            Listing(reg.listed, reg.marks),
            Sanctioning(
                out.status,
                out.unrelated,
                out.disproportionate,
                out.bits,
                out.effects,
                spill,
            ),
            living,
            opinion,
            self.ever,
            self._tables,
            self._living_cols,
            acc,
            # (Registry.on holds whoever has a list column set)
            len(reg.on) > 0 or _any_of(out.bits, spill),  # (bits: applied or rewarded)
        )
        acc[:, _PERSONS] += self.persons
        if self.tally.stale:
            self.tally.restart(*recount_kept(self.cell, graph.indptr, active, earning))
        acc[:, TALLIED_COLS], acc[:, INCOME_COL] = self.tally.sums()
        _count_acts_and_records(
            self.cell, ev_agent, ev_act, self._act_cols, rec_subject, rec_true, acc
        )
        if self.panel is not None:
            self.panel.add(
                t, reg.listed, out.status, earning, living, opinion, ev_agent, ev_act, rec_subject
            )

    def total(self, t: int, name: str, value: float) -> None:
        self.totals[t, self._total_col[name]] = value

    def over_all(self) -> np.ndarray:
        """[steps, metrics] sums over every person (the group 'all'), without forming groups."""
        return self.cells.sum(axis=1)

    def by_group(self) -> tuple[list[str], np.ndarray]:
        """[steps, groups, metrics] sums by group."""
        names, g = group_matrix()
        # (einsum, not a matrix product: BLAS may split the sum over cells differently on
        # another machine, and the same scenario must give the same numbers everywhere)
        return names, np.einsum("gc,tcm->tgm", g, self.cells)

    def ever_counts_by_group(self, bit: int) -> dict[str, tuple[int, int]]:
        """(persons who ever had ``bit`` set, persons) of each group (1 sanctioned, 2 wrong,
        4 assoc)."""
        names, g = group_matrix()
        hit = np.zeros(N_CELLS)
        _count_ever(self.cell, self.ever, bit, hit)
        num, den = g @ hit, g @ self.persons
        return {n: (int(round(a)), int(round(b))) for n, a, b in zip(names, num, den)}

    def ever_by_group(self, bit: int) -> dict[str, float]:
        """Share of each group that ever had ``bit`` set (1 sanctioned, 2 wrong, 4 assoc)."""
        counts = self.ever_counts_by_group(bit)
        return {n: (a / b if b > 0 else float("nan")) for n, (a, b) in counts.items()}


@njit(cache=True)
def _count_ever(cell, ever, bit, out):
    """The persons of each cell who ever had ``bit`` (into ``out``): counted where read, no
    column a person (np.bincount would take its weights as float64 and the cells as intp,
    17 bytes a person at the end of a run, when memory is fullest)."""
    for i in range(len(cell)):
        if ever[i] & bit:
            out[cell[i]] += 1.0


# Firm size classes by employees (the EU's SME thresholds: micro < 10, small < 50, medium
# < 250, large): firm revenue lost is reported by class and for foreign-invested firms.
FIRM_SIZES = ("micro", "small", "medium", "large")
FIRM_SIZE_EDGES = np.array([10, 50, 250])


def firm_size_class(size: np.ndarray) -> np.ndarray:
    """Index into FIRM_SIZES of each firm, by its employees."""
    return np.searchsorted(FIRM_SIZE_EDGES, size, side="right").astype(np.uint8)


# References for disparate impact: group -> its reference group.
DISPARITY_PAIRS = {
    "rural": "urban",
    "minority": "majority",
    "foreigner": "native",
    "income_q1": "income_q5",
    "female": "male",
    "age_18_29": "age_30_44",
    "age_60_plus": "age_30_44",
}
FOUR_FIFTHS = 0.8


def disparate_impact(rates: dict[str, float]) -> dict[str, float | None]:
    """Sanction-rate ratio of each group to its reference (None where undefined)."""
    out: dict[str, float | None] = {}
    for g, ref in DISPARITY_PAIRS.items():
        a, b = rates.get(g, float("nan")), rates.get(ref, float("nan"))
        out[g] = float(a / b) if (b > 0 and np.isfinite(a)) else None
    return out


def flagged(ratios: dict[str, float | None]) -> list[str]:
    """Groups whose ratio fails the four-fifths rule either way (< 0.8 or > 1/0.8)."""
    return [
        g for g, r in ratios.items() if r is not None and (r < FOUR_FIFTHS or r > 1 / FOUR_FIFTHS)
    ]


FAILS, PASSES = "fails", "passes"
TOO_SMALL, AT_LINE = "too small to tell", "at the line"


def four_fifths_verdict(low: float | None, high: float | None) -> str:
    """A group fails the four-fifths rule only when its whole interval lies outside the band
    [0.8, 1.25] and passes when the whole interval lies inside. An interval that crosses a
    line is "too small to tell" when it is wider than the band itself (high / low > 1.25 /
    0.8: more persons would be needed to tell), and "at the line" when it is narrower (the
    ratio sits at 0.8 or 1.25, however many persons)."""
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return TOO_SMALL
    if high < FOUR_FIFTHS or low > 1 / FOUR_FIFTHS:
        return FAILS
    if low >= FOUR_FIFTHS and high <= 1 / FOUR_FIFTHS:
        return PASSES
    if low > 0 and high / low < 1 / FOUR_FIFTHS**2:
        return AT_LINE
    return TOO_SMALL


def clopper_pearson(x: float, n: float, z: float) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a binomial proportion x / n at the two-sided
    level of the normal quantile ``z``: conservative where a count is small."""
    from scipy.stats import beta, norm

    alpha = 2 * float(norm.sf(z))
    low = float(beta.ppf(alpha / 2, x, n - x + 1)) if x > 0 else 0.0
    high = float(beta.ppf(1 - alpha / 2, x + 1, n - x)) if x < n else 1.0
    return low, high


def ratio_interval(a: float, n1: float, c: float, n2: float, z: float) -> tuple[float, float]:
    """The MOVER interval of a ratio of two binomial proportions (Donner and Zou 2012), from
    each proportion's exact interval: it holds the ratio a/n1 / (c/n2) itself, and stays
    honest when a count is 0, 1 or all of its group (no continuity correction that moves the
    estimate; no Wald step that trusts a handful of persons). Needs c > 0."""
    p1, p2 = a / n1, c / n2
    l1, u1 = clopper_pearson(a, n1, z)
    l2, u2 = clopper_pearson(c, n2, z)
    low = p1 * p2 - np.sqrt(max(0.0, (p1 * p2) ** 2 - l1 * u2 * (2 * p1 - l1) * (2 * p2 - u2)))
    low /= u2 * (2 * p2 - u2)
    high = p1 * p2 + np.sqrt(max(0.0, (p1 * p2) ** 2 - u1 * l2 * (2 * p1 - u1) * (2 * p2 - l2)))
    den = l2 * (2 * p2 - l2)
    return max(0.0, float(low)), (float(high / den) if den > 0 else float("inf"))


def disparate_impact_intervals(
    counts: dict[str, tuple[int, int]], z: float = 1.959963984540054
) -> dict[str, dict]:
    """Each group's ratio of ever-sanctioned rates to its reference with a 95 % interval
    (MOVER from exact binomial intervals, ``ratio_interval``), its size and its verdict. No
    interval where the reference group has nobody sanctioned (the ratio is undefined). The
    interval treats
    persons as independent draws, an assumption: sanctions by association are correlated
    along ties, so it is too narrow if anything; an ensemble gives the interval across
    societies."""
    out: dict[str, dict] = {}
    for g, ref in DISPARITY_PAIRS.items():
        (a, n1), (c, n2) = counts.get(g, (0, 0)), counts.get(ref, (0, 0))
        entry: dict = {"persons": n1, "sanctioned": a, "low": None, "high": None}
        entry["reference_persons"], entry["reference_sanctioned"] = n2, c
        if n1 > 0 and n2 > 0 and c > 0:
            entry["low"], entry["high"] = ratio_interval(a, n1, c, n2, z)
        entry["verdict"] = four_fifths_verdict(entry["low"], entry["high"])
        out[g] = entry
    return out
