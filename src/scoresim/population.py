"""Persons and companies as columns (struct of arrays), synthesised from aggregate marginals.

No Python object per agent: each attribute is one numpy array with a small dtype. Persons are
laid out region by region, urban before rural, household by household, so that the likely
neighbours of a person (household, community) sit near them in memory. Every random draw is
counter-based (rng.py), so the same seed gives the same society on any machine.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

import numpy as np
from numba import get_num_threads, njit
from scipy.special import betaincinv, ndtri

from .jit import helper
from .rng import Stream, draws, stream_key, uniform
from .scenario import Population

# A person's drawn yes/no facts (Persons.facts), a bit each of one byte: lives in a town, is
# of a minority, is a foreigner, is online, uses a VPN at the start. Bits, not bool columns:
# 1 B a person instead of 5. Kernels read them with ``has_flag``; Python readers get bool
# columns from the properties of the same names (a new array each read).
URBAN, MINORITY, FOREIGNER, INTERNET, VPN_AT_START = 1, 2, 4, 8, 16


def flag_column(bit: int, doc: str, column: str = "flags") -> property:
    """A bool column read from the ``bit`` of a byte column (``flags``, ``facts``): a new
    array each read, for Python-side readers; kernels read the bits."""
    return property(lambda self: (getattr(self, column) & bit) != 0, doc=doc)


@dataclass
class Persons:
    region: np.ndarray  # uint8
    facts: np.ndarray  # uint8: a bit each, URBAN, MINORITY, FOREIGNER, INTERNET, VPN_AT_START
    age_band: np.ndarray  # uint8: 0 18-29, 1 30-44, 2 45-59, 3 60+
    sex: np.ndarray  # uint8: 0 male, 1 female
    education: np.ndarray  # uint8: 0 basic, 1 secondary, 2 tertiary
    home: np.ndarray  # uint8: place in one's household << 4 | its size - 1 (household_of)
    employer: np.ndarray  # int32 firm id or -1
    base_income: np.ndarray  # float32, yuan per year when employed
    income_quintile: np.ndarray  # uint8 0..4 (poorest first)
    law_abidance: np.ndarray  # uint8 traits in [0, 1], fixed for life: level q is the value
    #                           (q + 0.5) / 256 (``trait``; TRAIT_LEVELS)
    financial_fragility: np.ndarray
    expressiveness: np.ndarray
    civic_virtue: np.ndarray
    risk_aversion: np.ndarray

    @property
    def n(self) -> int:
        return len(self.region)

    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in fields(self))

    urban = flag_column(URBAN, "bool: lives in a town", "facts")
    minority = flag_column(MINORITY, "bool: ethnic minority", "facts")
    foreigner = flag_column(FOREIGNER, "bool: a foreigner", "facts")
    internet = flag_column(INTERNET, "bool: online", "facts")
    vpn = flag_column(VPN_AT_START, "bool: a VPN at the start", "facts")

    def household_starts(self) -> np.ndarray:
        """The first person of each household, then N (int64; households are runs)."""
        return np.append(np.flatnonzero((self.home >> 4) == 0), self.n)

    def household_ids(self) -> np.ndarray:
        """Each person's household, numbered 0.. in person order (int32; for Python-side use:
        kernels read ``household_of``)."""
        return (np.cumsum((self.home >> 4) == 0) - 1).astype(np.int32)


@helper
def household_of(home, i):
    """Person i's household, lo..hi-1 (households are runs of persons)."""
    h = np.int64(home[np.uint64(i)])
    lo = np.int64(i) - (h >> 4)
    return lo, lo + (h & 15) + 1


@njit(cache=True)
def _homes(sizes) -> np.ndarray:
    """Persons.home of households of these sizes, in order: a household's place and size
    share a byte (households have at most 10 persons, ``_household_sizes``; a nibble holds
    16)."""
    home = np.empty(sizes.sum(), np.uint8)
    k = 0
    for s in sizes:
        for place in range(s):
            home[k] = (place << 4) | (s - 1)
            k += 1
    return home


@dataclass
class Firms:
    region: np.ndarray  # uint8
    sector: np.ndarray  # uint8
    size: np.ndarray  # int32 employees (at build)
    foreign: np.ndarray  # bool, foreign-invested
    legal_rep: np.ndarray  # int32 person id
    compliance: np.ndarray  # float32 in [0, 1]
    revenue: np.ndarray  # float32, arbitrary units (size-proportional)

    @property
    def n(self) -> int:
        return len(self.region)

    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in fields(self))


# A person's static yes/no facts that the society adds to Persons (sim.Society.flags), a bit
# each of one byte: whether they learn of a travel restriction from a refusal or a notice,
# run an individual business, are a firm's legal representative, know of the system at the
# start. Bits, not bool columns: 1 B a person instead of 4 (sim.STATIC_PERSON_BYTES).
LEARNER, SELF_EMPLOYED, REPRESENTATIVE, AWARE_AT_START = 1, 2, 4, 8


@helper
def has_flag(flags, i, bit) -> bool:
    """Whether person i has the static fact ``bit`` (LEARNER, ...) of Society.flags."""
    return (flags[np.uint64(i)] & bit) != 0  # (an unsigned index: no test for a negative one)


def pack_bits(*columns) -> np.ndarray:
    """One byte a row from up to eight bool columns, the first as bit 1, the next as bit 2, ..."""
    out = np.zeros(len(columns[0]), np.uint8)
    for k, col in enumerate(columns):
        out |= col.astype(np.uint8) << np.uint8(k)
    return out


def pack_flags(learner, self_employed, representative, aware) -> np.ndarray:
    """Society.flags from four bool columns."""
    return pack_bits(learner, self_employed, representative, aware)


# Bytes per person and per firm of the static columns above (checked by a test).
PERSON_BYTES = 1 + 1 + 1 + 1 + 1 + 1 + 4 + 4 + 1 + 5 * 1
FIRM_BYTES = 1 + 1 + 4 + 1 + 4 + 4 + 4


def apportion(total: int, weights) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder)."""
    w = np.asarray(weights, dtype=np.float64)
    exact = total * w / w.sum()
    out = np.floor(exact).astype(np.int64)
    short = total - int(out.sum())
    if short > 0:
        out[np.argsort(-(exact - out), kind="stable")[:short]] += 1
    return out


def group_starts(ids: np.ndarray) -> np.ndarray:
    """First position of each run of equal values in ``ids`` (contiguous groups: a firm's
    staff in employer order, a region's cells), then len(ids); int64."""
    return np.flatnonzero(np.diff(ids, prepend=-1, append=-2) != 0)


def _categorical(u: np.ndarray, shares) -> np.ndarray:
    cum = np.cumsum(np.asarray(shares, dtype=np.float64))
    return np.minimum(np.searchsorted(cum / cum[-1], u, side="right"), len(cum) - 1).astype(
        np.uint8
    )


# A trait is held in a byte: 256 levels, the midpoints of equal bins of [0, 1]. [assume] A
# trait's value within 1/512 is as good as exact: the traits are assumed shapes (Beta), no
# figure pins them to three digits, and a level is 1/50 of their spread (sd ~0.1-0.25). At 10^8
# persons the five traits take 0.5 GB, not 2 GB.
TRAIT_LEVELS = 256


@njit(cache=True, inline="always")
def trait(level) -> np.float32:
    """The value of a trait held at ``level`` (0..255): the midpoint of its bin, exact in
    float32."""
    return (np.float32(level) + np.float32(0.5)) * np.float32(1.0 / TRAIT_LEVELS)


def trait_values(levels: np.ndarray) -> np.ndarray:
    """The values (float32) of a column of trait levels (for Python-side use)."""
    return (levels.astype(np.float32) + np.float32(0.5)) * np.float32(1.0 / TRAIT_LEVELS)


def _beta(u: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
    """Beta(a, b) draws (float64) by inverting the CDF of the given uniforms. scipy's inverse
    is the slowest part of building a society, and it releases the GIL: slices run on the
    engine's threads (the same numbers whatever the slicing)."""
    out = np.empty(len(u), np.float64)
    step = 1 << 16
    slices = [slice(k, k + step) for k in range(0, len(u), step)]

    def invert(s: slice) -> None:
        betaincinv(ab[0], ab[1], u[s], out=out[s])

    with ThreadPoolExecutor(get_num_threads()) as pool:
        list(pool.map(invert, slices))
    return out


def _trait(u: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
    """A trait's levels (uint8: the bin of [0, 1] each Beta(a, b) draw falls in)."""
    return np.minimum(_beta(u, ab) * TRAIT_LEVELS, TRAIT_LEVELS - 1).astype(np.uint8)


@njit(cache=True)
def _household_sizes(key, n: int, extra_mean: float) -> np.ndarray:
    """Household sizes 1 + Poisson(extra_mean), truncated at 10, filling exactly n persons."""
    sizes = np.empty(n, dtype=np.int32)
    filled = 0
    k = 0
    while filled < n:
        u = uniform(key, k)
        # inverse CDF of Poisson(extra_mean)
        p = np.exp(-extra_mean)
        cdf = p
        x = 0
        while u > cdf and x < 9:
            x += 1
            p *= extra_mean / x
            cdf += p
        s = min(1 + x, n - filled)
        sizes[k] = s
        filled += s
        k += 1
    return sizes[:k]


def build_persons(spec: Population, seed: int) -> Persons:
    n = spec.persons
    region_counts = apportion(n, spec.region_weights)
    region = np.repeat(np.arange(len(region_counts), dtype=np.uint8), region_counts)
    urban = np.zeros(n, dtype=bool)
    starts = np.concatenate([[0], np.cumsum(region_counts)])
    for r, c in enumerate(region_counts):
        urban[starts[r] : starts[r] + int(round(c * spec.urban_share))] = True
    # households never straddle a (region, urban) cell: sizes are drawn cell by cell
    cell_bounds = np.flatnonzero(np.diff(region.astype(np.int32) * 2 + (~urban)) != 0) + 1
    cell_starts = np.concatenate([[0], cell_bounds, [n]])
    home = np.empty(n, dtype=np.uint8)
    for c in range(len(cell_starts) - 1):
        a, b = int(cell_starts[c]), int(cell_starts[c + 1])
        if b <= a:
            continue
        sizes = _household_sizes(
            stream_key(seed, Stream.HOUSEHOLD, c), b - a, spec.household_mean - 1.0
        )
        if sizes.max() > 16:
            raise ValueError("a household of more than 16 persons: Persons.home holds 16")
        home[a:b] = _homes(sizes)

    def col(k: int) -> np.ndarray:  # attribute k of every person, one stream
        return draws(seed, Stream.POPULATION, n, step=k)

    age_band = _categorical(col(0), spec.age_band_shares)
    sex = (col(1) < spec.female_share).astype(np.uint8)
    education = _categorical(col(2), spec.education_shares)
    minority = col(3) < spec.minority_share
    if spec.minority_exact:  # exactly the share: the persons with the smallest draws
        minority = np.zeros(n, bool)
        minority[np.argsort(col(3), kind="stable")[: round(spec.minority_share * n)]] = True
    foreigner = col(4) < spec.foreigner_share
    internet = col(5) < spec.internet_share
    vpn = internet & (col(6) < spec.vpn_share)
    z = ndtri(np.clip(col(7), 1e-12, 1 - 1e-12))
    median = np.where(urban, spec.income_median_urban, spec.income_median_rural)
    edu_factor = np.array([0.8, 1.0, 1.5])[education]  # [assume] education premium
    base_income = (median * edu_factor * np.exp(spec.income_sigma * z)).astype(np.float32)
    ranks = np.argsort(np.argsort(base_income, kind="stable"), kind="stable")
    income_quintile = np.minimum(ranks * 5 // n, 4).astype(np.uint8)
    t = spec.traits
    working = np.where(age_band < 3, spec.employment_rate, spec.retired_employment_rate)
    employed = col(8) < working
    persons = Persons(
        region=region,
        facts=pack_bits(urban, minority, foreigner, internet, vpn),
        age_band=age_band,
        sex=sex,
        education=education,
        home=home,
        employer=np.where(employed, 0, -1).astype(np.int32),
        base_income=base_income,
        income_quintile=income_quintile,
        law_abidance=_trait(col(9), t.law_abidance),
        financial_fragility=_trait(col(10), t.financial_fragility),
        expressiveness=_trait(col(11), t.expressiveness),
        civic_virtue=_trait(col(12), t.civic_virtue),
        risk_aversion=_trait(col(13), t.risk_aversion),
    )
    return persons


def build_firms(spec: Population, persons: Persons, seed: int) -> Firms:
    """Firms per region, heavy-tailed in size; employed persons assigned to a firm of their
    region with probability proportional to its size; a legal representative per firm."""
    n_firms = max(1, int(round(persons.n * spec.firms_per_person)))
    n_regions = len(spec.region_weights)
    counts = apportion(n_firms, spec.region_weights)
    region = np.repeat(np.arange(n_regions, dtype=np.uint8), counts)

    def col(k: int) -> np.ndarray:
        return draws(seed, Stream.COMPANY, n_firms, step=k)

    size = np.minimum(np.floor(col(0) ** (-1.0 / spec.firm_size_pareto)), 1e6).astype(np.int32)
    foreign = col(1) < spec.foreign_firm_share
    sector = np.minimum(col(2) * spec.firm_sectors, spec.firm_sectors - 1).astype(np.uint8)
    compliance = _beta(col(3), (5.0, 2.0)).astype(np.float32)  # [assume]
    employer = persons.employer
    u = draws(seed, Stream.COMPANY, persons.n, step=10)
    firm_starts = np.concatenate([[0], np.cumsum(counts)])
    for r in range(n_regions):
        a, b = firm_starts[r], firm_starts[r + 1]
        members = np.flatnonzero((persons.region == r) & (employer >= 0))
        if b == a:  # no firm in this region: its workers are self-employed
            employer[members] = -1
            continue
        cum = np.cumsum(size[a:b].astype(np.float64))
        pick = np.searchsorted(cum / cum[-1], u[members], side="right")
        employer[members] = (a + np.minimum(pick, b - a - 1)).astype(np.int32)
    # legal representative: the first-listed employee, else a random adult of the region
    legal_rep = np.full(n_firms, -1, dtype=np.int32)
    has = employer >= 0
    ids = np.flatnonzero(has)[::-1]
    legal_rep[employer[ids]] = ids  # the lowest id wins (written last)
    missing = np.flatnonzero(legal_rep < 0)
    if len(missing):
        pstarts = np.searchsorted(persons.region, np.arange(n_regions + 1))
        r = region[missing]
        lo, hi = pstarts[r], pstarts[r + 1]
        pick = lo + np.floor(col(4)[missing] * np.maximum(hi - lo, 1)).astype(np.int64)
        legal_rep[missing] = np.where(hi > lo, pick, 0).astype(np.int32)
    actual = np.bincount(employer[has], minlength=n_firms).astype(np.int32)
    revenue = (np.maximum(actual, 1) * 1.0).astype(np.float32)
    return Firms(
        region=region,
        sector=sector,
        size=actual,
        foreign=foreign,
        legal_rep=legal_rep,
        compliance=compliance,
        revenue=revenue,
    )
