"""Data sources: how the state comes to know (docs/model.md §7.2).

A source sees some acts of the agents it covers, records each with a detection probability,
attributes a share of its records to the wrong agent (false records: identity mix-ups,
data-entry errors) and delivers them after a latency. Coverage is drawn once per agent and
source: online sources see internet users only and VPN users mostly not; foreigners and
foreign-invested firms are partly covered. Every record keeps whether it is true — the model
knows what the system does not — so that harm can be attributed exactly (metrics.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from .acts import ACT_ID, ACTS, N_ACTS
from .jit import helper
from .rng import Stream, draws, stream_key, uniform, uniforms_at
from .scenario import Scenario

MAX_SOURCES_PER_ACT = 16


@dataclass
class Records:
    """A batch of records, as columns."""

    subject: np.ndarray  # int32
    act: np.ndarray  # uint8
    source: np.ndarray  # uint8
    true: np.ndarray  # bool

    @classmethod
    def empty(cls) -> Records:
        return cls(
            np.zeros(0, np.int32), np.zeros(0, np.uint8), np.zeros(0, np.uint8), np.zeros(0, bool)
        )

    @classmethod
    def concat(cls, parts: list[Records]) -> Records:
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("subject", "act", "source", "true")
            )
        )

    def take(self, mask: np.ndarray) -> Records:
        return Records(self.subject[mask], self.act[mask], self.source[mask], self.true[mask])

    def __len__(self) -> int:
        return len(self.subject)


def grouped(keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """The positions of ``keys`` (small integers, 0 .. n_groups - 1) grouped by key, each
    group in its original order, and where each group starts: group g is
    ``order[bounds[g] : bounds[g + 1]]`` (a stable sort of small integers: linear in them)."""
    order = np.empty(len(keys), np.intp)
    bounds = np.zeros(n_groups + 1, np.intp)
    _group_by_key(keys, order, bounds)
    return order, bounds


@njit(cache=True)
def _group_by_key(keys, order, bounds):
    """A counting sort: ``bounds`` (zeros, one longer than the groups) becomes where each
    group starts, ``order`` the positions, each group's in their order (np.argsort's stable
    order, without its comparisons: at 10^6 persons ~1.35 ms a step in np.argsort, 0.9
    here)."""
    for k in keys:
        bounds[k + 1] += 1
    for g in range(1, len(bounds)):
        bounds[g] += bounds[g - 1]
    at = bounds[:-1].copy()
    for i in range(len(keys)):
        order[at[keys[i]]] = i
        at[keys[i]] += 1


@dataclass
class Coverage:
    """Per agent, one bit per scenario source: does the source see this agent at all?
    ``open`` is what the sources would see of a person with no VPN; ``vpn_hidden`` which
    sources a VPN hides the person from (a person's coverage with VPN use ``v`` is
    ``open & ~(v ? vpn_hidden : 0)``: formed where read, ``Seen``, as VPN use changes)."""

    firms: np.ndarray  # uint16
    open: np.ndarray  # uint16
    vpn_hidden: np.ndarray  # uint16

    def seen(self, vpn: np.ndarray) -> Seen:
        """What the sources see of the persons, of whom those with ``vpn`` use one now."""
        return Seen(self.open, self.vpn_hidden, vpn)

    def seen_firms(self) -> Seen:
        return Seen(self.firms, np.zeros(0, np.uint16), np.zeros(0, bool))


class Seen(NamedTuple):
    """What the sources see of each agent now: ``open`` less, for those who use a VPN now
    (``vpn``; empty: none, as firms), the sources it hides them from (``hidden``). No world
    keeps the result: it follows from VPN use, and is formed where read (``seen_now``)."""

    open: np.ndarray  # uint16
    hidden: np.ndarray  # uint16
    vpn: np.ndarray  # bool


@helper
def seen_now(open_bits, hidden, vpn, i):
    """The sources that see agent ``i`` now (Seen's columns; ``vpn`` empty: no VPN)."""
    u = np.uint64(i)  # (unsigned: no test for a negative index)
    if len(vpn) and vpn[u]:
        return open_bits[u] & ~hidden[u]
    return open_bits[u]


def coverage_bits(sc: Scenario, persons, firms, seed: int) -> Coverage:
    """Coverage drawn once per agent and source: online sources see internet users only, and
    a VPN hides a user from each with chance ``vpn_hidden``; foreigners are partly covered."""
    obits = np.zeros(persons.n, np.uint16)
    hbits = np.zeros(persons.n, np.uint16)
    fbits = np.zeros(firms.n, np.uint16)
    foreigner, internet = persons.foreigner, persons.internet  # (formed once, not a source)
    for s, src in enumerate(sc.sources.values()):
        u = draws(seed, Stream.COVERAGE, persons.n, step=2 * s)
        cov = np.where(foreigner, src.coverage * src.foreign_coverage, src.coverage)
        seen = u < cov
        if src.online:
            seen &= internet
            hides = draws(seed, Stream.COVERAGE, persons.n, step=2 * s + 1) < src.vpn_hidden
            hbits |= hides.astype(np.uint16) << s
        obits |= seen.astype(np.uint16) << s
        uf = draws(seed, Stream.COVERAGE, firms.n, step=1000 + s)
        fcov = np.where(firms.foreign, src.coverage * src.foreign_coverage, src.coverage)
        fbits |= (uf < fcov).astype(np.uint16) << s
    return Coverage(fbits, obits, hbits)


def recorded_table(detection: np.ndarray) -> np.ndarray:
    """For every set of sources b (a bit per source), the chance that at least one of them
    records an act it observes: 1 - prod over b of (1 - detection). Indexed by
    ``coverage & mask``, it says how likely an act is recorded for a person, in one load."""
    table = np.zeros(1 << len(detection), np.float64)
    for s, d in enumerate(detection):
        half = 1 << s
        table[half : 2 * half] = 1.0 - (1.0 - table[:half]) * (1.0 - d)
    return table


def with_vpn(open_bits: np.ndarray, hidden: np.ndarray, vpn: np.ndarray) -> np.ndarray:
    """Coverage of persons of whom those with ``vpn`` use one."""
    return open_bits & ~np.where(vpn, hidden, np.uint16(0)).astype(np.uint16)


class SourceSet:
    """The sources a regime uses, compiled into arrays for the observation kernel."""

    def __init__(self, sc: Scenario, active: list[str], subject: str = "person"):
        names = list(sc.sources)
        self.names = names
        self.index = {n: i for i, n in enumerate(names)}
        s_count = len(names)
        self.detection = np.zeros(s_count, np.float64)
        self.false_rate = np.zeros(s_count, np.float64)
        # records of misdeeds that never happened: per step and covered subject, and the
        # graver acts (gravity > 0) of the subject's kind each source could record
        self.invented = np.zeros(s_count, np.float64)
        self.invented_acts: list[np.ndarray] = [np.zeros(0, np.uint8)] * s_count
        fr = sc.false_records
        self.latency = np.zeros(s_count, np.int64)
        self.opaque = np.zeros(s_count, bool)
        self.act_sources = np.full((N_ACTS, MAX_SOURCES_PER_ACT), -1, np.int16)
        fill = np.zeros(N_ACTS, np.int64)
        for name in active:
            s = self.index[name]
            src = sc.sources[name]
            self.detection[s] = src.detection
            self.false_rate[s] = fr.misattributed if src.false_rate is None else src.false_rate
            rate = fr.invented if src.invented is None else src.invented
            graver = [ACT_ID[a] for a in src.acts if ACTS[ACT_ID[a]].subject == subject]
            graver = [a for a in graver if ACTS[a].gravity > 0]
            if not sc.responses.vpn.enabled:  # VPN use is an act under that mechanism only
                graver = [a for a in graver if ACTS[a].name != "vpn_use"]
            if subject == "person" and rate > 0 and graver:
                self.invented[s] = rate * sc.step_years
                self.invented_acts[s] = np.array(graver, np.uint8)
            self.latency[s] = sc.steps_of(src.latency_days)
            self.opaque[s] = src.opaque
            for a in src.acts:
                ai = ACT_ID[a]
                self.act_sources[ai, fill[ai]] = s
                fill[ai] += 1
        self.observed = fill > 0  # which acts any active source sees
        self.recorded = recorded_table(self.detection)
        self.boostable = np.array([a.context == "regulatory" for a in ACTS])
        self.pending: dict[int, list[Records]] = {}
        self.invented_count = 0  # invented this step

    def mask(self, act_name: str) -> int:
        """Bits of the active sources that observe an act."""
        srcs = self.act_sources[ACT_ID[act_name]]
        return int(sum(1 << int(s) for s in srcs if s >= 0))

    def sees_any(self, act_names) -> bool:
        return bool(any(self.observed[ACT_ID[a]] for a in act_names))

    def _invent(self, t, seed, n_subjects, seen: Seen, stream_offset) -> Records:
        """Records of misdeeds that never happened (clerical errors, identity confusion):
        for each source, a Poisson number with mean rate x step x subjects, each about a
        subject drawn at random — kept if the source covers them — and an act drawn from the
        graver acts the source records. All false."""
        inventing = np.flatnonzero(self.invented > 0)
        if len(inventing) == 0:
            return Records.empty()
        from scipy.stats import poisson  # half a second to import: only where it is used

        key = stream_key(seed, Stream.INVENTED + stream_offset, t)
        parts = []
        for s in inventing:
            lam = self.invented[s] * n_subjects
            count = int(poisson.ppf(uniforms_at(key, np.array([4 * s], np.int64))[0], lam))
            if count == 0:
                continue
            c = 16 * (np.arange(count, dtype=np.int64) + 1) + s
            who = np.minimum(
                (uniforms_at(key, 2 * c) * n_subjects).astype(np.int32), n_subjects - 1
            )
            acts = self.invented_acts[s]
            pick = np.minimum(
                (uniforms_at(key, 2 * c + 1) * len(acts)).astype(np.int64), len(acts) - 1
            )
            bits = seen.open[who]
            if len(seen.vpn):
                bits = with_vpn(bits, seen.hidden[who], seen.vpn[who])
            covered = ((bits >> s) & 1) == 1
            who, what = who[covered], acts[pick][covered]
            parts.append(
                Records(who, what, np.full(len(who), s, np.uint8), np.zeros(len(who), bool))
            )
        return Records.concat(parts)

    def observe(
        self,
        t: int,
        seed: int,
        ev_agent,
        ev_act,
        n_subjects: int,
        seen: Seen,
        boost,
        stream_offset: int,
        targets: np.ndarray | None = None,
    ) -> Records:
        """Turn this step's events into records; return those due now (latency applied).
        ``seen``: what the sources see of each subject now (Coverage.seen, .seen_firms);
        ``targets``: whom a misattributed record can name (a pilot's subjects; None: all)."""
        if len(ev_agent) and self.observed.any():
            cap = len(ev_agent) * int((self.act_sources >= 0).sum(axis=1).max())
            subj = np.empty(cap, np.int32)
            act = np.empty(cap, np.uint8)
            src = np.empty(cap, np.uint8)
            tru = np.empty(cap, bool)
            k = _observe_kernel(
                ev_agent,
                ev_act,
                n_subjects,
                Sensing(self.act_sources, self.detection, self.false_rate, self.boostable),
                seen,
                boost,
                ObserveKeys(
                    stream_key(seed, Stream.DETECTION + stream_offset, t),
                    stream_key(seed, Stream.FALSE_RECORD + stream_offset, t),
                    stream_key(seed, Stream.REPEATED_ACT + stream_offset, t),
                ),
                np.zeros(0, np.int32) if targets is None else targets,
                Made(subj, act, src, tru),
            )
            new = Records(subj[:k], act[:k], src[:k], tru[:k])
        else:
            new = Records.empty()
        made = self._invent(t, seed, n_subjects, seen, stream_offset)
        self.invented_count = len(made)
        if len(made):
            new = Records.concat([new, made])
        if len(new):
            self._hold(t, new)
        return Records.concat(self.pending.pop(t, []))

    def _hold(self, t: int, new: Records) -> None:
        """Keep ``new`` records until their sources' latencies have passed: one part per
        latency, each in the order of ``new`` (a stable sort by latency: a sort of small
        integers, linear in the records)."""
        present = np.bincount(new.source, minlength=len(self.latency)) > 0
        delays = np.unique(self.latency[present])
        if len(delays) == 1:
            self.pending.setdefault(t + int(delays[0]), []).append(new)
            return
        rank = np.searchsorted(delays, self.latency).astype(np.uint16)  # a source's delay's
        order, bounds = grouped(rank[new.source], len(delays))  # place among the delays
        for g, d in enumerate(delays):
            part = new.take(order[bounds[g] : bounds[g + 1]])
            self.pending.setdefault(t + int(d), []).append(part)


class Sensing(NamedTuple):
    """What the observing kernel reads of a source set: the sources that observe each act
    ([act, k], -1 after the last), each source's detection and false-record rates, and which
    acts a boost (a watched person's) makes easier to detect."""

    act_sources: np.ndarray
    detection: np.ndarray
    false_rate: np.ndarray
    boostable: np.ndarray


class ObserveKeys(NamedTuple):
    """The step's keys: detection, false attribution, and the draws of a repeated act."""

    detect: np.uint64
    false: np.uint64
    repeat: np.uint64


class Made(NamedTuple):
    """The records the kernel writes (room for every event x source)."""

    subject: np.ndarray
    act: np.ndarray
    source: np.ndarray
    true: np.ndarray


@njit(cache=True)
def _observe_kernel(ev_agent, ev_act, n_subjects, sensing, seen, boost, keys, targets, made):
    """Each event is offered to the sources that observe its act. The draws of an event are
    keyed by (agent, act, source) and, for the second and later time the agent did the same
    act in the step, by that repetition too (key ``kr``). An agent's events are contiguous
    (in agent order), and few, so the repetition is counted over the agent's earlier ones.
    ``targets``: whom a misattributed record can name (empty: every subject)."""
    act_sources, detection, false_rate = sensing.act_sources, sensing.detection, sensing.false_rate
    boostable = sensing.boostable
    open_bits, hidden, vpn = seen.open, seen.hidden, seen.vpn
    kd, kf, kr = keys.detect, keys.false, keys.repeat
    subj, act, src, tru = made.subject, made.act, made.source, made.true
    k = 0
    first = 0  # the agent's first event
    for e in range(len(ev_agent)):
        i = ev_agent[e]
        a = ev_act[e]
        if e == 0 or ev_agent[e - 1] != i:
            first = e
        rep = 0
        for b in range(first, e):
            if ev_act[b] == a:
                rep += 1
        cov = seen_now(open_bits, hidden, vpn, i)
        for x in range(act_sources.shape[1]):
            s = act_sources[a, x]
            if s < 0:
                break
            if (cov >> s) & 1 == 0:
                continue
            det = detection[s]
            if boostable[a]:
                det = min(1.0, det * boost[i])
            c = (np.int64(i) * 64 + a) * 16 + s
            r = 4 * (c * 64 + rep)
            u_detect = uniform(kd, 2 * c) if rep == 0 else uniform(kr, r)
            if u_detect >= det:
                continue
            who = i
            u_false = uniform(kf, 2 * c) if rep == 0 else uniform(kr, r + 1)
            if u_false < false_rate[s]:  # attributed to someone else
                u_who = uniform(kf, 2 * c + 1) if rep == 0 else uniform(kr, r + 2)
                if len(targets) == 0:
                    who = int(u_who * n_subjects)
                    if who == i:
                        who = (i + 1) % n_subjects
                else:  # among a pilot's subjects only
                    x = min(int(u_who * len(targets)), len(targets) - 1)
                    who = targets[x]
                    if who == i:
                        who = targets[(x + 1) % len(targets)]
            subj[k] = who
            act[k] = a
            src[k] = s
            tru[k] = who == i
            k += 1
    return k
