"""The scenario as typed, validated data: TOML in, one clear error out.

A scenario is a population spec, a network spec, behaviour rates, data sources, a regime and
run settings. Presets live in ``scoresim/scenarios/*.toml``; a user's file may say
``extends = "article"`` and override any field (tables merge key by key; arrays such as
``regime.rules`` replace the preset's array whole). Every default below that comes from the
world cites its entry in docs/sources.md, as in [src S-census-households]; every other
number is an [assume] that a scenario may override.
"""

from __future__ import annotations

import math
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import expr
from .acts import ACT_ID, ACTS, CONTEXTS, SANCTION_CONTEXTS
from .effects import EFFECTS, FIRM_EFFECTS, PERSON_EFFECTS

LAYERS = ("household", "work", "community", "online")  # person layers; "business" is firm-firm
STEP_YEARS = {"day": 1 / 365.25, "week": 7 / 365.25, "month": 1 / 12}

# Keys that were counted in steps (or weeks) and are now durations in days: an old scenario
# gets told what to write instead.
RENAMED = {
    "latency_steps": "latency_days (days from the act to the record; 1 week = 7)",
    "publication_lag_steps": "publication_lag_days (days)",
    "notice_steps": "notice_days (days)",
    "judgment_weeks": "judgment_days (days)",
    "deadline_weeks": "deadline_days (days)",
    "capacity_per_100k": "capacity_per_100k_per_year (appeals heard a year per 100,000)",
    "network_metrics_every": "network_metrics_every_days (days)",
}

# The fields a person has for life: what an information campaign may choose its arms by, so
# that run and twin (whose scores and lists differ) put the same persons in each arm.
STATIC_PERSON_FIELDS = frozenset(
    {
        "urban",
        "minority",
        "foreigner",
        "age_band",
        "sex",
        "education",
        "income_quintile",
        "internet",
    }
)
# Fields a rule or list condition may read: the subject's attributes at the time of the record.
PERSON_FIELDS = STATIC_PERSON_FIELDS | {
    "employed",
    "score",
    "listed",
    "record_true",
    "prior_records",
}
# Effects whose strength is a share (of applications refused, of income or revenue lost).
SHARE_EFFECTS = frozenset({"block_credit", "income_loss", "deny_licence", "exclude_procurement"})
FIRM_FIELDS = frozenset(
    {"foreign", "sector", "size", "score", "listed", "record_true", "prior_records"}
)

# 31 provinces of mainland China, population shares. [assume] approximate 2020 census
# province populations (not yet an entry of docs/sources.md); override in a scenario.
# The provinces those weights belong to, in the same order (largest first): pilots name them.
PROVINCE_NAMES = [
    "Guangdong", "Shandong", "Henan", "Jiangsu", "Sichuan", "Hebei", "Hunan", "Zhejiang",
    "Anhui", "Hubei", "Guangxi", "Yunnan", "Jiangxi", "Liaoning", "Fujian", "Shaanxi",
    "Guizhou", "Shanxi", "Chongqing", "Heilongjiang", "Xinjiang", "Gansu", "Shanghai", "Jilin",
    "Inner Mongolia", "Beijing", "Tianjin", "Hainan", "Ningxia", "Qinghai", "Tibet",
]  # fmt: skip
PROVINCE_WEIGHTS = [
    126.0,
    101.5,
    99.4,
    84.7,
    83.7,
    74.6,
    66.4,
    64.6,
    61.0,
    57.8,
    50.1,
    47.2,
    45.2,
    42.6,
    41.5,
    39.5,
    38.6,
    34.9,
    32.1,
    31.9,
    25.9,
    25.0,
    24.9,
    24.1,
    24.0,
    21.9,
    13.9,
    10.1,
    7.2,
    5.9,
    3.6,
]


def did_you_mean(name: str, choices) -> str:
    """ " (did you mean 'x'?)" for the closest of ``choices`` to a mistyped ``name``, or ""."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _with_suggestion(value: Any, allowed: str) -> str:
    """Add a "did you mean" to a message that lists what is allowed, when the bad name (the
    value, or a quoted name in the message) is close to one of them."""
    if "did you mean" in allowed:
        return allowed
    found = re.search(r"(?:allowed[^:;]*|defined|allowed here): (.+)$", allowed)
    if not found:
        return allowed
    quoted = re.search(r"unknown [\w ]+ '([^']+)'", allowed)
    name = quoted.group(1) if quoted else value
    if not isinstance(name, str):
        return allowed
    choices = [c.strip() for c in found.group(1).split(",")]
    return allowed + did_you_mean(name, choices)


class ScenarioError(Exception):
    """A scenario problem, told as file, key, value and what is allowed (and, for a mistyped
    name, the closest one that is)."""

    def __init__(self, file: str | Path | None, key: str, value: Any, allowed: str):
        allowed = _with_suggestion(value, allowed)
        self.file, self.key, self.value, self.allowed = (
            str(file or "<scenario>"),
            key,
            value,
            allowed,
        )
        shown = repr(value)
        if len(shown) > 120:
            shown = shown[:117] + "..."
        super().__init__(f"{self.file}: {key} = {shown}: {allowed}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class Traits(Strict):
    """Beta(a, b) shape of each latent trait in [0, 1]. [assume]"""

    law_abidance: tuple[float, float] = (5.0, 2.0)
    financial_fragility: tuple[float, float] = (2.0, 5.0)
    expressiveness: tuple[float, float] = (1.5, 4.0)
    civic_virtue: tuple[float, float] = (2.0, 4.0)
    risk_aversion: tuple[float, float] = (2.0, 2.0)

    @field_validator("*")
    @classmethod
    def _positive(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0.05 <= x <= 1000 for x in v):
            raise ValueError("both Beta shape parameters must be between 0.05 and 1000")
        return v


class Population(Strict):
    persons: int = Field(100_000, ge=10, le=2_000_000_000)
    # [src S-enterprises, S-population]: 60.2 M enterprises / 1,408.28 M persons.
    firms_per_person: float = Field(60.2 / 1408.28, ge=0.0, le=1.0)
    urban_share: float = Field(0.67, ge=0, le=1)  # [src S-population-urban: urban 67 %]
    # Adult age bands 18-29, 30-44, 45-59, 60+. [assume] derived so that 60+ is 22 % of the
    # whole population [src S-population-60plus] with about 18 % of it under 18.
    age_band_shares: list[float] = [0.19, 0.27, 0.27, 0.27]
    minority_share: float = Field(0.0889, ge=0, le=1)  # [src S-census-minorities: 8.89 %]
    # exactly round(share x persons) minority members (a lending study's fixed groups),
    # rather than each person a member with that chance
    minority_exact: bool = False
    # [src S-census-foreigners, S-population]: 845,697 foreign residents / 1,408.28 M persons
    foreigner_share: float = Field(845_697 / 1408.28e6, ge=0, le=1)
    internet_share: float = Field(0.786, ge=0, le=1)  # [src S-internet-users: 78.6 %]
    vpn_share: float = Field(0.05, ge=0, le=1)  # [assume] VPN users among internet users
    household_mean: float = Field(2.62, ge=1.0, le=10.0)  # [src S-census-households: 2.62]
    region_weights: list[float] = PROVINCE_WEIGHTS
    # names of the regions, in the order of region_weights (empty: the provinces' names with
    # the default weights, else region_1, region_2, ...): pilots name the regions they cover
    region_names: list[str] = []
    income_median_urban: float = Field(45_000.0, gt=0, le=1e9)  # [assume] yuan per year
    income_median_rural: float = Field(18_000.0, gt=0, le=1e9)  # [assume]
    income_sigma: float = Field(0.7, ge=0.0, le=5.0)  # [assume] log-normal spread
    employment_rate: float = Field(0.75, ge=0, le=1)  # [assume] among adults under 60
    retired_employment_rate: float = Field(0.15, ge=0, le=1)  # [assume] 60+
    # share of adults under 60 off a firm's payroll who work for themselves (an individual
    # business: a licence to lose). [src S-individual-businesses]: over 125 M individual
    # businesses, about 11 % of adults; here 0.73 x 0.25 of adults are under 60 and off a
    # payroll, so 0.11 / 0.18 ~ 0.59 of them [derived]
    self_employed_share: float = Field(0.59, ge=0, le=1)
    female_share: float = Field(0.49, ge=0, le=1)  # [assume]
    education_shares: list[float] = [0.55, 0.30, 0.15]  # [assume] basic, secondary, tertiary
    # [src S-foreign-invested]: 668,000 foreign-invested of 51 M enterprises (Aug 2022).
    foreign_firm_share: float = Field(668_000 / 51e6, ge=0, le=1)
    firm_size_pareto: float = Field(1.3, ge=1.01, le=10.0)  # [assume] employee-count tail
    firm_sectors: int = Field(10, ge=1, le=255)  # [assume]
    traits: Traits = Traits()

    @field_validator("age_band_shares", "education_shares", "region_weights")
    @classmethod
    def _weights(cls, v: list[float]) -> list[float]:
        if not v or any((not math.isfinite(x)) or x < 0 for x in v) or sum(v) <= 0:
            raise ValueError("must be non-negative finite weights with a positive sum")
        if len(v) > 255:
            raise ValueError("at most 255 categories")
        return v

    @field_validator("age_band_shares")
    @classmethod
    def _four_bands(cls, v: list[float]) -> list[float]:
        if len(v) != 4:
            raise ValueError("needs exactly 4 shares (18-29, 30-44, 45-59, 60+)")
        return v

    @field_validator("education_shares")
    @classmethod
    def _three_levels(cls, v: list[float]) -> list[float]:
        if len(v) != 3:
            raise ValueError("needs exactly 3 shares (basic, secondary, tertiary)")
        return v


class Network(Strict):
    community_degree: float = Field(8.0, ge=0, le=200)  # [assume] mean 8 (docs/model.md §5.3)
    community_rewire: float = Field(0.1, ge=0, le=1)  # [assume] small-world shortcut share
    online_degree: float = Field(10.0, ge=0, le=500)  # [assume] mean 10 (docs/model.md §5.3)
    online_tail: float = Field(2.5, ge=1.5, le=10)  # [assume] degree tail exponent
    work_degree_cap: int = Field(10, ge=0, le=500)  # [assume] co-worker ties in large firms
    business_degree: float = Field(4.0, ge=0, le=100)  # [assume] partner links per firm


class Behaviour(Strict):
    """Yearly rates and probabilities of what persons and firms do. All [assume], calibrate."""

    loan_uptake: float = Field(0.25, ge=0, le=1e4)
    loan_payoff: float = Field(0.3, ge=0, le=1e4)
    # calibrated: calibration/court-defaulters.toml (docs/calibration/court-defaulters)
    missed_payment: float = Field(0.921689416019793, ge=0, le=1e4)  # per year, scaled by fragility
    misses_to_default: int = Field(3, ge=1, le=100)
    arrears_cure: float = Field(4.0, ge=0, le=1e4)
    lawsuit: float = Field(1.0, ge=0, le=1e4)  # creditors sue defaulters
    judgment_days: float = Field(84.0, ge=0, le=3650)  # suit to judgment (12 weeks)
    deadline_days: float = Field(56.0, ge=0, le=3650)  # judgment to payment deadline (8 weeks)
    pays_by_deadline: float = Field(0.5, ge=0, le=1)
    unpaid_pay: float = Field(
        0.014195870183312259, ge=0, le=1e4
    )  # yearly hazard of paying later; calibrated
    traffic_offence: float = Field(0.25, ge=0, le=1e4)
    late_utility: float = Field(0.15, ge=0, le=1e4)
    littering: float = Field(0.1, ge=0, le=1e4)
    major_offence: float = Field(0.003, ge=0, le=1e4)
    critical_post: float = Field(12.0, ge=0, le=1e4)  # x expressiveness^2, internet users
    disfavoured_purchase: float = Field(4.0, ge=0, le=1e4)
    favoured_purchase: float = Field(4.0, ge=0, le=1e4)
    evaluations_per_year: int = Field(2, ge=0, le=52)
    poor_evaluation: float = Field(0.15, ge=0, le=1)  # share of evaluations that are poor
    good_evaluation: float = Field(0.15, ge=0, le=1)
    volunteering: float = Field(2.0, ge=0, le=1e4)  # x civic_virtue
    blood_donation: float = Field(0.3, ge=0, le=1e4)  # x civic_virtue
    heroic_act: float = Field(0.001, ge=0, le=1e4)
    # [src S-air-2019, S-rail-2019, S-population]: ~660 M air trips and 2.29 bn bullet-train
    # trips in 2019 / 1,408 M persons.
    flights: float = Field(0.47, ge=0, le=1e4)
    high_speed_rail: float = Field(1.63, ge=0, le=1e4)
    job_loss: float = Field(0.05, ge=0, le=1e4)
    job_finding: float = Field(0.5, ge=0, le=1e4)
    unemployed_income_share: float = Field(0.3, ge=0, le=1)
    firm_tax_arrears: float = Field(0.15, ge=0, le=1e4)  # x (1 - compliance)
    firm_violation: float = Field(0.15, ge=0, le=1e4)
    firm_missed_report: float = Field(0.05, ge=0, le=1)  # per year
    firm_tax_paid: float = Field(12.0, ge=0, le=1e4)  # monthly filings, x compliance
    firm_judgment_unpaid: float = Field(0.01, ge=0, le=1e4)  # x (1 - compliance)
    # the court list's other grounds, yearly, for a debtor with an unpaid judgment
    obstructs_enforcement: float = Field(0.05, ge=0, le=1e4)
    evades_enforcement: float = Field(0.05, ge=0, le=1e4)
    breaks_asset_reporting: float = Field(0.1, ge=0, le=1e4)
    refuses_settlement: float = Field(0.05, ge=0, le=1e4)
    luxury_purchase: float = Field(1.0, ge=0, le=1e4)  # star hotels, property, ... x income
    breaks_restriction: float = Field(0.05, ge=0, le=1)  # a refused purchase made anyway
    # the rest of a local point table ([src S-rongcheng-table]), yearly, each x the
    # person's lawlessness (1.5 - law_abidance) and cut by deterrence [assume all]
    overdue_cycles: float = Field(12.0, ge=0, le=1e4)  # a defaulted loan overdue each month
    contract_breach: float = Field(0.02, ge=0, le=1e4)
    breach_sued: float = Field(0.3, ge=0, le=1)  # a breach sued and found in breach
    private_lending_breach: float = Field(0.005, ge=0, le=1e4)
    illegal_fundraising: float = Field(0.0005, ge=0, le=1e4)
    fraud: float = Field(0.002, ge=0, le=1e4)
    counterfeit_goods: float = Field(0.002, ge=0, le=1e4)
    utility_arrears_found: float = Field(0.1, ge=0, le=1)  # a late bill found by a court
    heating_tampering: float = Field(0.003, ge=0, le=1e4)
    utility_theft: float = Field(0.002, ge=0, le=1e4)
    public_property_damage: float = Field(0.002, ge=0, le=1e4)
    drunk_driving: float = Field(0.005, ge=0, le=1e4)
    commendation: float = Field(0.05, ge=0, le=1e4)  # x civic_virtue: honours, awards


class Source(Strict):
    acts: list[str]
    coverage: float = Field(1.0, ge=0, le=1)
    detection: float = Field(1.0, ge=0, le=1)
    # share of its records attributed to the wrong person, and records of acts that never
    # happened per covered person-year: unset, the scenario's [false_records] values
    false_rate: float | None = Field(None, ge=0, le=1)
    invented: float | None = Field(None, ge=0, le=100)
    latency_days: float = Field(0.0, ge=0, le=3650)  # from the act to the record
    online: bool = False  # sees internet users only; VPN users mostly hidden
    vpn_hidden: float = Field(0.8, ge=0, le=1)  # [assume]
    foreign_coverage: float = Field(0.5, ge=0, le=1)  # [assume] foreigners partly covered
    opaque: bool = False  # its records can never be seen or appealed (intelligence)

    @field_validator("acts")
    @classmethod
    def _known_acts(cls, v: list[str]) -> list[str]:
        for a in v:
            if a not in ACT_ID:
                raise ValueError(f"unknown act {a!r}; allowed: {', '.join(ACT_ID)}")
        return v


class FalseRecords(Strict):
    """The three kinds of false record a reader of the article means (docs/model.md): a record
    of an act attributed to the wrong person (identity mix-ups, data entry), a record made
    where no act happened (clerical error, identity confusion), and a record kept after it
    should have been removed (a delisting delayed). In each the harm is the person's own
    false-record harm: the points go to own_false, the membership's cause is FALSE."""

    # share of each source's records put on the wrong person (a source's false_rate
    # overrides it). [assume] 0.5 % of records (docs/model.md §7.2)
    misattributed: float = Field(0.005, ge=0, le=1)
    # records of a misdeed that never happened, per covered person-year and source, drawn
    # from the graver acts the source records (gravity > 0); a source's `invented`
    # overrides it [assume]
    invented: float = Field(0.0, ge=0, le=100)
    kept_share: float = Field(0.0, ge=0, le=1)  # share of delistings delayed [assume]
    kept_days: float = Field(0.0, ge=0, le=3650)  # how long a delayed delisting waits [assume]


class Rule(Strict):
    record: str
    points: float = Field(ge=-1e6, le=1e6)
    expiry_years: float = Field(2.0, ge=0, le=100)  # 0: never expires
    when: str | None = None
    dimension: str | None = None  # for family = "dimensions"
    # keep the score inside scoring.range record by record: the points applied are what takes
    # base + own points to the range's edge at most (a credit score that tops out at 850)
    saturate: bool = False


class Grade(Strict):
    name: str = Field(min_length=1, max_length=16)
    min: float = Field(ge=-1e9, le=1e9)


class Association(Strict):
    """How contacts pull a score (docs/model.md §7.3, Association). ``enabled = false`` turns every
    channel off at once: the pull toward contacts' scores, the penalty per listed contact,
    the pull of a firm's partners and a firm's sanctions reaching its representative."""

    enabled: bool = True
    mean_weight: float = Field(0.0, ge=0, le=1)  # score moves toward contacts' mean own points
    listed_penalty: float = Field(0.0, ge=-1e6, le=0)  # points per listed contact
    listed_cap: int = Field(5, ge=0, le=10_000)
    layer_weights: dict[str, float] = {
        "household": 1.0,
        "work": 0.5,
        "community": 0.5,
        "online": 0.25,
    }
    partner_weight: float = Field(0.0, ge=0, le=1)  # firm pulled by partners' mean own points

    @field_validator("layer_weights")
    @classmethod
    def _layers(cls, v: dict[str, float]) -> dict[str, float]:
        for k, w in v.items():
            if k not in LAYERS:
                raise ValueError(f"unknown layer {k!r}; allowed: {', '.join(LAYERS)}")
            if not (0 <= w <= 100):
                raise ValueError(f"weight of {k} must be between 0 and 100")
        return v


class Scoring(Strict):
    family: Literal["points", "dimensions", "none"] = "points"
    base: float = Field(1000.0, ge=-1e9, le=1e9)
    firm_base: float = Field(1000.0, ge=-1e9, le=1e9)
    dimensions: dict[str, float] = {}  # name -> weight (family = "dimensions")
    dimension_scale: float = Field(1.0, gt=0, le=1e6)
    grades: list[Grade] = []
    firm_grades: list[Grade] = []
    # the range the shown score is clamped to (e.g. Sesame 350-950); grades and thresholds
    # read the clamped score, the components stay unclamped and additive
    range: tuple[float, float] | None = None
    firm_range: tuple[float, float] | None = None


class ListSpec(Strict):
    name: str = Field(min_length=1, max_length=40)
    subject: Literal["person", "firm"] = "person"
    public: bool = True
    publication_lag_days: float = Field(0.0, ge=0, le=3650)  # listing to publication
    enter_below: float | None = None  # score threshold
    enter_grades: list[str] = []
    enter_on: list[str] = []  # acts whose record lists the subject
    when: str | None = None
    term_years: float = Field(0.0, ge=0, le=100)  # 0: while the entry condition holds
    repair_on: list[str] = []  # acts whose record removes the subject early (credit repair)


class Sanction(Strict):
    name: str = Field(min_length=1, max_length=40)
    on_list: str | None = None
    on_grades: list[str] = []
    subject: Literal["person", "firm", "representative"] = "person"
    effect: str
    strength: float = Field(1.0, ge=0, le=1e3)
    context: str = "travel"  # where the sanction bites
    related_contexts: list[str] = []  # data contexts for which it is in context
    severity: int = Field(1, ge=0, le=3)

    @field_validator("effect")
    @classmethod
    def _effect(cls, v: str) -> str:
        if v not in EFFECTS:
            raise ValueError(f"unknown effect {v!r}; allowed: {', '.join(EFFECTS)}")
        return v

    @field_validator("related_contexts")
    @classmethod
    def _contexts(cls, v: list[str]) -> list[str]:
        for c in v:
            if c not in CONTEXTS:
                raise ValueError(f"unknown context {c!r}; allowed: {', '.join(CONTEXTS)}")
        return v


class Response(Strict):
    """Social response (docs/model.md §7.7). All [assume]."""

    avoidance: dict[str, float] = {
        "household": 0.002,
        "work": 0.01,
        "community": 0.02,
        "online": 0.05,
    }  # yearly-rate scale per layer, see response.py
    visible_low_grades: list[str] = []  # grades that are as visible as a public listing
    employer_firing: float = Field(0.0, ge=0, le=1e4)  # extra yearly job-loss hazard if listed
    employer_screening: float = Field(0.0, ge=0, le=1)  # share of hiring chances lost if listed
    partner_drop: float = Field(0.0, ge=0, le=1e4)  # yearly hazard partner drops a listed firm
    pressure_pay: float = Field(0.0, ge=0, le=1e4)  # extra yearly hazard a listed debtor pays
    partner_drop_required: bool = False  # firms must drop listed partners (at once)
    # [assume] yearly rate at which a firm whose representative was barred names another
    # (about a month on average)
    representative_replacement: float = Field(12.0, ge=0, le=1e4)
    proportionality: float = Field(1.0, ge=0, le=100)  # severity allowed per unit of gravity

    @field_validator("avoidance")
    @classmethod
    def _layers(cls, v: dict[str, float]) -> dict[str, float]:
        for k, w in v.items():
            if k not in LAYERS:
                raise ValueError(f"unknown layer {k!r}; allowed: {', '.join(LAYERS)}")
            if not (0 <= w <= 1e4):
                raise ValueError(f"rate of {k} must be between 0 and 10000")
        return v


class Adaptation(Strict):
    """How a watched person adapts (docs/model.md §7.1.1). All [assume]."""

    chill_max: float = Field(0.5, ge=0, le=1)  # most a fully watched person cuts chilled acts
    deter_max: float = Field(0.3, ge=0, le=1)  # most a fully watched person cuts violations
    awareness: float = Field(0.3, ge=0, le=1)  # feeling watched with no sanction in sight
    contact_weight: float = Field(0.2, ge=0, le=10)  # per listed contact
    own_weight: float = Field(1.0, ge=0, le=10)  # if sanctioned oneself


class Travel(Strict):
    """Who travels, what a restriction covers, and how the restricted respond (docs/model.md
    §7.7.1). A flight restriction covers flights; a rail restriction covers high-speed (G and
    D) trains, not ordinary trains. Off: every person travels in proportion to income alike by
    air and rail, and a restricted person keeps trying to buy, never substituting."""

    enabled: bool = True
    # [assume] trips rise with income (relative to the mean) with these elasticities, air more
    air_income: float = Field(1.2, ge=0, le=5)
    rail_income: float = Field(0.5, ge=0, le=5)
    # [assume] business travel: x trips of firms' legal representatives and the self-employed
    air_representative: float = Field(3.0, ge=0, le=100)
    rail_representative: float = Field(1.5, ge=0, le=100)
    air_self_employed: float = Field(1.5, ge=0, le=100)
    rail_self_employed: float = Field(1.2, ge=0, le=100)
    substitute: float = Field(0.6, ge=0, le=1)  # [assume] restricted trips made another way
    learns: float = Field(0.8, ge=0, le=1)  # [assume] share who learn from a refusal or notice
    notice_rate: float = Field(2.0, ge=0, le=1e4)  # [assume] yearly: told of a restriction
    retry: float = Field(0.1, ge=0, le=1)  # [assume] share of trips tried anyway, knowing
    forgets: float = Field(0.5, ge=0, le=1e4)  # [assume] yearly: knowing fades


class Refusal(Strict):
    """The pressure of a refusal (docs/model.md §7.7.2): a refused purchase or loan can move a
    listed debtor who is able to pay into paying, apart from the pressure of being listed."""

    enabled: bool = True
    pay: float = Field(0.05, ge=0, le=1)  # [assume] chance one refusal makes them pay


class Vpn(Strict):
    """VPN use as a choice (docs/model.md §7.7.3). An internet user reconsiders now and then
    and uses a VPN with probability logistic(c + terms), c set so that with no system the
    share of users is ``population.vpn_share``. Off: VPN use is the fixed draw of the
    population. All [assume]."""

    enabled: bool = True
    decisions: float = Field(1.0, ge=0, le=1e4)  # yearly rate of reconsidering
    watched: float = Field(4.0, ge=-20, le=20)  # log-odds x how watched one feels one's posts
    expressive: float = Field(2.0, ge=-20, le=20)  # log-odds x expressiveness
    hiding: float = Field(1.0, ge=-20, le=20)  # log-odds x (1 - law abidance): what one hides
    cost: float = Field(0.0, ge=-20, le=20)  # log-odds: a cost above today's (negative: cheaper)
    penalty: float = Field(1.0, ge=0, le=20)  # log-odds x the chance a use is recorded
    uses: float = Field(12.0, ge=0, le=1e4)  # recordable uses a year, where a source sees them


class Chilling(Strict):
    """Chilling per act (docs/model.md §7.7.4): a person cuts a lawful-but-disfavoured act in
    proportion to how watched they believe that act is — the chance that a source that
    observes it and covers them records it. Off: every chilled act is cut alike whenever any
    source sees any chilled act."""

    enabled: bool = True


class Policing(Strict):
    """Policing one's own (docs/model.md §7.7.5; Heckathorn 1988, 1990): contacts who share a
    person's penalties (association, a household spill-over) press them to comply when they
    offend, and cut the tie when they offend again while pressed. All [assume]."""

    enabled: bool = True
    strength: float = Field(1.0, ge=0, le=100)  # per offence: x the sharing contacts' felt
    comply: float = Field(0.5, ge=0, le=1)  # share of violation and default hazards cut
    lapses: float = Field(1.0, ge=0, le=1e4)  # yearly rate pressure lapses
    cut: float = Field(0.1, ge=0, le=1)  # a sharing contact cuts the tie on a repeat offence


class Screening(Strict):
    """Firms' safeguards (docs/model.md §7.7.6): firms screen partners by public rating
    (each firm's threshold a share of the worst-rated firms it avoids, Beta-distributed) as
    well as by listing; foreign-invested firms may hold contractual safeguards that keep a
    partner's listing from reaching them. All [assume]."""

    enabled: bool = True
    avoid_mean: float = Field(0.05, ge=0, le=1)  # mean share of the worst-rated firms avoided
    avoid_spread: float = Field(20.0, gt=0, le=1e4)  # Beta concentration (a + b)
    rate: float = Field(1.0, ge=0, le=1e4)  # yearly hazard a firm drops a partner it avoids
    foreign_safeguards: float = Field(0.5, ge=0, le=1)  # share of foreign firms that contract


class Responses(Strict):
    """How people and firms respond to a system that watches them (docs/model.md §7.7): each
    mechanism has its own switch; with all of them off, outputs are those of scoresim
    before they existed (tests/test_responses_off.py)."""

    travel: Travel = Travel()
    refusal: Refusal = Refusal()
    vpn: Vpn = Vpn()
    chilling: Chilling = Chilling()
    policing: Policing = Policing()
    screening: Screening = Screening()


class Appeals(Strict):
    """Who appeals, how often an erroneous record is struck, how many appeals are heard."""

    rate: float = Field(
        0.0, ge=0, le=1e4
    )  # yearly rate at which a listed/sanctioned person appeals
    success: float = Field(0.0, ge=0, le=1)  # chance an appeal strikes the false records
    # appeals heard per year per 100,000 persons (the default: no limit)
    capacity_per_100k_per_year: float = Field(1e12, ge=0, le=1e12)


class Safeguards(Strict):
    """Switches any regime can turn (docs/model.md §7.6; all on in eu-safeguards)."""

    max_record_age_years: float = Field(0.0, ge=0, le=100)  # 0: each rule's own expiry
    notice_days: float = Field(0.0, ge=0, le=3650)  # warning before listing; paying stops it
    appeals: Appeals = Appeals()
    credit_repair: bool = True  # lists' repair_on acts remove early
    excluded_sources: list[str] = []
    association: bool = True  # False: no association term, no representative spillover
    context_bound: bool = False  # True: a sanction needs data of a related context


class Pilot(Strict):
    """Where a regime applies (docs/model.md §7.10.1): everywhere, in the named regions, or in
    a share of the regions drawn once from the run's seed (a larger share keeps the regions
    of a smaller one, so a pilot widened by schedule keeps its first regions). Persons and
    firms outside are not observed, scored, listed or sanctioned, and do not feel watched;
    their ties to persons inside still carry what happens there."""

    regions: list[str] = []  # region names (population.region_names)
    share: float = Field(1.0, ge=0, le=1)  # used when no region is named


def association_on(regime: Regime) -> bool:
    """Whether any association channel may act: the regime's switch and the safeguard."""
    return regime.association.enabled and regime.safeguards.association


class Lender(Strict):
    """How the lender of ``[lending]`` decides (docs/model.md §7.12): from each group's current
    score distribution and the true repayment probability at each score (the oracle Liu et
    al. 2018 and D'Amour et al. 2020 assume), recomputed every step. ``permissive`` lends to
    every applicant; ``threshold`` to shown scores >= ``threshold`` (each read at its nearest
    grid score); ``rate`` to each group's top ``rate`` share; the others are lender.POLICIES,
    randomised at the boundary score."""

    policy: Literal[
        "permissive", "threshold", "rate", "max_util", "demographic_parity", "equal_opportunity"
    ] = "permissive"
    threshold: float = Field(0.0, ge=-1e9, le=1e9)
    rate: float = Field(1.0, ge=0, le=1)
    utility_repaid: float = Field(1.0, ge=-1e6, le=1e6)
    utility_default: float = Field(-1.0, ge=-1e6, le=1e6)
    # each group's weight in the lender's utility: its share of the persons (Liu et al.) or
    # equal (the lending environment of ml-fairness-gym, whose applicants are half each group)
    group_weighting: Literal["population", "equal"] = "population"


class Regime(Strict):
    name: str = Field("none", min_length=1, max_length=60)
    description: str = ""
    publicity: float = Field(0.0, ge=0, le=1)  # how public scores and lists are
    sources: list[str] = []
    scoring: Scoring = Scoring(family="none")
    rules: list[Rule] = []
    association: Association = Association()
    lists: list[ListSpec] = []
    sanctions: list[Sanction] = []
    response: Response = Response()
    adaptation: Adaptation = Adaptation()
    safeguards: Safeguards = Safeguards()
    pilot: Pilot = Pilot()
    lender: Lender = Lender()


class Information(Strict):
    """A balanced-information campaign (the MERICS survey experiment,
    [src S-merics-information]): at ``at_years`` a share of the eligible persons (``when``,
    over the person fields, at that time; all persons when absent) is told the system's pros
    and cons. The rest of the eligible are the control arm."""

    share: float = Field(0.0, ge=0, le=1)  # 0: no campaign
    at_years: float = Field(0.0, ge=0, le=200)
    when: str | None = None
    # what the campaign asks about, against the system (log-odds): 0, the system itself; the
    # MERICS students were asked about an aggregated individual score. Calibrated.
    question: float = Field(-1.0183796551287143, ge=-20, le=20)
    # the shift of an informed person's approval (log-odds); calibrated:
    # calibration/approval.toml (docs/calibration/approval)
    effect: float = Field(-1.03113531134291, ge=-20, le=20)


class Approval(Strict):
    """Approval of the system (docs/model.md §7.8), as log-odds: a baseline from demographics and
    individual differences, moved by experience. A person approves when approval >= 0.5.
    The baseline coefficients are fitted by calibration/approval.toml (docs/calibration/
    approval); their signs follow [src S-approval-gradient] (approval higher among richer,
    better educated, urban and older people); everything else is [assume]."""

    intercept: float = Field(0.4903720169174197, ge=-20, le=20)  # calibrated
    income: float = Field(0.15, ge=-5, le=5)  # per income quintile above the middle one
    education: float = Field(0.2, ge=-5, le=5)  # per education level above basic
    urban: float = Field(0.3, ge=-5, le=5)
    age: float = Field(0.3, ge=-5, le=5)  # per age band above 18-29
    spread: float = Field(1.5, ge=0, le=10)  # sd of individual differences (log-odds)
    # [src S-pilot-awareness: 11 % of residents of pilot areas knew of their pilot]
    aware_share: float = Field(0.11, ge=0, le=1)
    awareness_rate: float = Field(0.05, ge=0, le=1e4)  # yearly, x publicity: learning of it
    # experience, in log-odds (a person's own and their contacts'), fading at `forgetting`
    sanctioned: float = Field(-1.0, ge=-20, le=20)  # on being sanctioned
    unjust: float = Field(-1.0, ge=-20, le=20)  # more, if by false records or association
    refused: float = Field(-0.3, ge=-20, le=20)  # each refused purchase or loan
    rewarded: float = Field(0.5, ge=-20, le=20)  # on being rewarded
    contact_sanctioned: float = Field(-0.1, ge=-20, le=20)  # a contact is sanctioned
    contact_unjust: float = Field(-0.1, ge=-20, le=20)  # ... by false records or association
    contact_rewarded: float = Field(0.05, ge=-20, le=20)
    contact_hears: float = Field(0.1, ge=0, le=1)  # chance a contact hears of it
    publicity: float = Field(0.2, ge=-20, le=20)  # yearly drift among the aware x publicity
    forgetting: float = Field(0.2, ge=0, le=1e3)  # yearly rate experience fades
    information: Information = Information()


class Lending(Strict):
    """A credit market with a lender (docs/model.md §7.12; issue 16): persons apply for loans,
    the regime's ``[regime.lender]`` decides, repayment is drawn with the probability of the
    applicant's score on ``grid`` (``repay``, per group), and repaid and defaulted loans are
    acts (``loan_repaid``, ``loan_default``) a source records and rules score. Scores start
    as ``initial`` says (a pmf over ``grid`` per group). ``data = "fico-transrisk"`` fills
    grid, initial and repay from the shipped FICO tables (scoresim.fico) for the groups named
    in ``columns``. The groups are the persons with ``group`` false ("majority") and true
    ("minority")."""

    enabled: bool = False
    group: Literal["minority", "urban", "foreigner", "sex"] = "minority"
    data: Literal["", "fico-transrisk"] = ""
    columns: dict[str, str] = {}  # majority/minority -> a fico.COLUMNS group (white, black, ...)
    grid: list[float] = []  # scores of the tables, ascending
    initial: dict[str, list[float]] = {}  # majority/minority -> pmf over grid
    repay: dict[str, list[float]] = {}  # majority/minority -> P(repay) at each grid score
    # who applies each step: each person at a yearly rate (hazard); `applicants_per_step`
    # drawn with replacement, a group by `group_weights` then a member uniformly (draw); or
    # every person (all)
    arrivals: Literal["hazard", "draw", "all"] = "hazard"
    applications_per_year: float = Field(0.25, ge=0, le=1e4)  # [assume] hazard arrivals
    applicants_per_step: int = Field(1, ge=1, le=1_000_000)
    group_weights: list[float] = []  # [] : every person equally likely
    # repayment reads the score of the applicant's own true records (true) or the shown
    # score, with false records and association (shown)
    repay_from: Literal["true", "shown"] = "true"


class Run(Strict):
    seed: int = Field(1, ge=0, le=2**63 - 1)
    years: float = Field(5.0, gt=0, le=200)
    step: Literal["day", "week", "month"] = "week"
    twin: bool = True
    network_metrics_every_days: float = Field(91.0, gt=0, le=36_500)  # between component scans
    # [assume] years the society lives with no system before the run starts, so that loans,
    # defaults and lawsuits are under way at step 0 (run and twin start from the same state)
    burn_in_years: float = Field(2.0, ge=0, le=50)
    # record a panel by region (groups region.<name>): on by itself where a regime is a pilot
    regional: bool = False

    @property
    def steps(self) -> int:
        return max(1, int(round(self.years / STEP_YEARS[self.step])))


class Change(BaseModel):
    """One ``[[schedule]]`` entry: at ``at`` years from the start, the scenario's keys it
    holds take their new values (tables merge key by key, arrays replace, as in ``extends``).
    ``regime_from`` first replaces the whole regime by a preset's regime; the entry's own
    ``regime`` keys then apply over it. Validated at load as the scenario
    it makes (scoresim.schedule)."""

    model_config = ConfigDict(extra="allow", validate_default=True, allow_inf_nan=False)
    at: float = Field(ge=0, le=200)
    regime_from: str | None = None
    note: str = ""  # what the change stands for (shown in the report)

    def keys(self) -> dict:
        """The keys this change sets (everything but at, regime_from and note)."""
        return dict(self.model_extra or {})


class Scenario(Strict):
    name: str = Field("custom", min_length=1, max_length=60)
    description: str = ""
    extends: str | None = None
    population: Population = Population()
    network: Network = Network()
    behaviour: Behaviour = Behaviour()
    sources: dict[str, Source] = {}
    false_records: FalseRecords = FalseRecords()
    regime: Regime = Regime()
    approval: Approval = Approval()
    responses: Responses = Responses()
    lending: Lending = Lending()
    run: Run = Run()
    schedule: list[Change] = []  # changes during the run (scoresim.schedule)

    @property
    def step_years(self) -> float:
        return STEP_YEARS[self.run.step]

    def steps_of(self, days: float, at_least: int = 0) -> int:
        """A duration in days as a whole number of this scenario's steps (nearest, and at
        least ``at_least``): every duration in a scenario is in days or years, so a weekly and
        a monthly run of the same scenario mean the same thing."""
        return max(at_least, int(round(days / (365.25 * self.step_years))))


# --------------------------------------------------------------------------- loading


def presets() -> dict[str, Path]:
    """Shipped presets, name -> path."""
    folder = resources.files("scoresim") / "scenarios"
    return {p.name[:-5]: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")}


def _read_toml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(
            path,
            "(file)",
            str(path),
            "file not found; give a preset name "
            f"({', '.join(sorted(presets()))}) or an existing TOML file"
            + did_you_mean(path.name.removesuffix(".toml"), presets()),
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(path, "(file)", str(path), f"cannot be read: {e}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(path, "(syntax)", str(e), "must be valid TOML") from None


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _resolve(data: dict, path: Path, depth: int = 0) -> dict:
    parent = data.get("extends")
    if parent is None:
        return data
    known = presets()
    if not isinstance(parent, str) or parent not in known:
        raise ScenarioError(path, "extends", parent, f"allowed presets: {', '.join(sorted(known))}")
    if depth > 8:
        raise ScenarioError(path, "extends", parent, "preset chain deeper than 8")
    base = _resolve(_read_toml(known[parent]), known[parent], depth + 1)
    merged = _merge(base, {k: v for k, v in data.items() if k != "extends"})
    merged["extends"] = parent
    return merged


def _key(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _allowed_keys(loc: tuple, root: type[BaseModel] | None = None) -> str:
    model: Any = root or Scenario
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return ""
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        model = next(
            (a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None
        )
    if model is None:
        return ""
    return ", ".join(model.model_fields)


def validate_model(model: type[BaseModel], data: Any, file: str | Path | None = None):
    """Validate ``data`` as ``model``; the first problem becomes one ScenarioError."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        key = _key(loc)
        if err["type"] == "extra_forbidden" and str(loc[-1]) in RENAMED:
            raise ScenarioError(
                file, key, err["input"], f"renamed: durations are in days; use {RENAMED[loc[-1]]}"
            ) from None
        if err["type"] == "extra_forbidden":
            keys = _allowed_keys(loc, model)
            hint = did_you_mean(str(loc[-1]), keys.split(", "))
            raise ScenarioError(
                file, key, err["input"], f"unknown key{hint}; allowed here: {keys}"
            ) from None
        if err["type"] == "missing":
            raise ScenarioError(file, key, None, "required key is missing") from None
        msg = err["msg"].removeprefix("Value error, ")
        raise ScenarioError(file, key, err.get("input"), msg) from None


def from_dict(data: dict, file: str | Path | None = None) -> Scenario:
    """Validate a scenario dict (already merged with its preset) and cross-check it."""
    sc = validate_model(Scenario, data, file)
    check(sc, file)
    if sc.schedule:
        from .schedule import phases

        phases(sc, file)  # each change makes a valid scenario, and changes no frozen key
    return sc


def read_toml(path: Path) -> dict:
    """A TOML file as a dict; a missing or broken file is one ScenarioError."""
    return _read_toml(path)


def load(spec: str | Path, overrides: dict | None = None) -> Scenario:
    """A preset name or a TOML path -> validated Scenario (``overrides`` merged last)."""
    known = presets()
    if isinstance(spec, str) and spec in known:
        path = known[spec]
    else:
        path = Path(spec)
    data = _resolve(_read_toml(path), path)
    if overrides:
        data = _merge(data, overrides)
        return from_dict(data, f"{path} (with overrides)")
    return from_dict(data, path)


def replaced_arrays(spec: str | Path) -> list[str]:
    """Warnings for a scenario file whose arrays replace its preset's whole arrays (tables
    merge key by key, arrays do not): one line per array, saying how many entries went."""
    known = presets()
    if isinstance(spec, str) and spec in known:
        return []  # a shipped preset: its replacements are meant
    path = Path(spec)
    data = _read_toml(path)
    parent = data.get("extends")
    if not isinstance(parent, str) or parent not in known:
        return []
    base = _resolve(_read_toml(known[parent]), known[parent])
    out: list[str] = []

    def walk(mine: dict, theirs: dict, at: str) -> None:
        for k, v in mine.items():
            key = f"{at}.{k}" if at else k
            old = theirs.get(k) if isinstance(theirs, dict) else None
            if isinstance(v, dict) and isinstance(old, dict):
                walk(v, old, key)
            elif isinstance(v, list) and isinstance(old, list) and old and v != old:
                these = "this entry replaces" if len(v) == 1 else f"these {len(v)} entries replace"
                out.append(
                    f"{path}: {key}: {these} all {len(old)} of preset {parent!r} (an array "
                    "replaces the whole array; copy the preset's entries you want to keep)"
                )

    walk(data, base, "")
    return out


def region_names(population: Population) -> list[str]:
    """The regions' names, in the order of ``region_weights``."""
    if population.region_names:
        return list(population.region_names)
    if population.region_weights == PROVINCE_WEIGHTS:
        return list(PROVINCE_NAMES)
    return [f"region_{i + 1}" for i in range(len(population.region_weights))]


def check(sc: Scenario, file: str | Path | None = None) -> None:
    """Cross-field checks that pydantic cannot see: names that must refer to each other."""
    r = sc.regime
    names = sc.population.region_names
    if names and len(names) != len(sc.population.region_weights):
        raise ScenarioError(
            file,
            "population.region_names",
            names,
            f"one name per region: {len(sc.population.region_weights)} (region_weights)",
        )
    if len(set(names)) != len(names):
        raise ScenarioError(file, "population.region_names", names, "names must be unique")
    known = region_names(sc.population)
    for i, name in enumerate(r.pilot.regions):
        if name not in known:
            raise ScenarioError(
                file, f"regime.pilot.regions[{i}]", name, f"allowed regions: {', '.join(known)}"
            )
    if r.pilot.regions and r.pilot.share != 1.0:
        raise ScenarioError(
            file, "regime.pilot.share", r.pilot.share, "give regions or a share, not both"
        )
    for i, s in enumerate(r.safeguards.excluded_sources):
        if s not in sc.sources:
            raise ScenarioError(
                file,
                f"regime.safeguards.excluded_sources[{i}]",
                s,
                f"no such source; defined: {', '.join(sc.sources) or '(none)'}",
            )
    for i, s in enumerate(r.sources):
        if s not in sc.sources:
            raise ScenarioError(
                file,
                f"regime.sources[{i}]",
                s,
                f"no such source; defined: {', '.join(sc.sources) or '(none)'}",
            )
    for key in ("grades", "firm_grades"):
        if len(getattr(r.scoring, key)) > 64:  # sanctions hold a grade set as 64 bits
            n_grades = len(getattr(r.scoring, key))
            raise ScenarioError(file, f"regime.scoring.{key}", n_grades, "at most 64 grades")
    person_grades = {g.name for g in r.scoring.grades}
    firm_grades = {g.name for g in r.scoring.firm_grades}
    for i, rule in enumerate(r.rules):
        at = f"regime.rules[{i}]"
        if rule.record not in ACT_ID:
            raise ScenarioError(
                file, f"{at}.record", rule.record, f"allowed acts: {', '.join(ACT_ID)}"
            )
        subject = ACTS[ACT_ID[rule.record]].subject
        _check_expr(file, f"{at}.when", rule.when, subject)
        if r.scoring.family == "dimensions" and rule.dimension not in r.scoring.dimensions:
            raise ScenarioError(
                file,
                f"{at}.dimension",
                rule.dimension,
                f"allowed: {', '.join(r.scoring.dimensions) or '(none defined)'}",
            )
    names = set()
    for i, lst in enumerate(r.lists):
        at = f"regime.lists[{i}]"
        if lst.name in names:
            raise ScenarioError(file, f"{at}.name", lst.name, "list names must be unique")
        names.add(lst.name)
        modes = (lst.enter_below is not None) + bool(lst.enter_grades) + bool(lst.enter_on)
        if modes != 1:
            raise ScenarioError(
                file, at, lst.name, "give exactly one of enter_below, enter_grades, enter_on"
            )
        for key in ("enter_on", "repair_on"):
            for j, a in enumerate(getattr(lst, key)):
                if a not in ACT_ID or ACTS[ACT_ID[a]].subject != lst.subject:
                    raise ScenarioError(
                        file,
                        f"{at}.{key}[{j}]",
                        a,
                        f"allowed acts: {', '.join(_acts_of(lst.subject))}",
                    )
        grades = person_grades if lst.subject == "person" else firm_grades
        for j, g in enumerate(lst.enter_grades):
            if g not in grades:
                raise ScenarioError(
                    file,
                    f"{at}.enter_grades[{j}]",
                    g,
                    f"allowed grades: {', '.join(sorted(grades)) or '(none)'}",
                )
        _check_expr(file, f"{at}.when", lst.when, lst.subject)
    if len(r.lists) > 8:
        raise ScenarioError(file, "regime.lists", len(r.lists), "at most 8 lists")
    if len(r.sanctions) > 16:
        raise ScenarioError(file, "regime.sanctions", len(r.sanctions), "at most 16 sanctions")
    if len(sc.sources) > 16:
        raise ScenarioError(file, "sources", len(sc.sources), "at most 16 sources")
    list_subject = {lst.name: lst.subject for lst in r.lists}
    seen: set[tuple[bool, str]] = set()
    for i, s in enumerate(r.sanctions):
        at = f"regime.sanctions[{i}]"
        side = (s.subject == "firm", s.name)  # what a run records it as (and carries it by)
        if side in seen:
            raise ScenarioError(
                file, f"{at}.name", s.name, "sanction names must be unique per kind of subject"
            )
        seen.add(side)
        if (s.on_list is None) == (not s.on_grades):
            raise ScenarioError(file, at, s.name, "give exactly one of on_list, on_grades")
        if s.on_list is not None and s.on_list not in list_subject:
            raise ScenarioError(
                file,
                f"{at}.on_list",
                s.on_list,
                f"allowed lists: {', '.join(list_subject) or '(none)'}",
            )
        trig = list_subject.get(s.on_list, "firm" if s.subject != "person" else "person")
        if s.on_grades:
            grades = person_grades if s.subject == "person" else firm_grades
            for j, g in enumerate(s.on_grades):
                if g not in grades:
                    raise ScenarioError(
                        file,
                        f"{at}.on_grades[{j}]",
                        g,
                        f"allowed grades: {', '.join(sorted(grades)) or '(none)'}",
                    )
        elif (s.subject == "person") != (trig == "person"):
            raise ScenarioError(
                file,
                f"{at}.subject",
                s.subject,
                f"list {s.on_list!r} holds {trig}s: use "
                + ("'person'" if trig == "person" else "'firm' or 'representative'"),
            )
        can = {"firm": FIRM_EFFECTS, "person": PERSON_EFFECTS}.get(
            s.subject,
            PERSON_EFFECTS - {"deny_licence"},  # a representative is on a payroll
        )
        if s.effect not in can:
            kind = {"firm": "firm", "person": "person"}.get(s.subject, "firm's representative")
            raise ScenarioError(
                file,
                f"{at}.effect",
                s.effect,
                f"the engine cannot apply it to a {kind}; allowed for a {kind} "
                f"(subject = {s.subject!r}): {', '.join(sorted(can))}",
            )
        if s.effect in SHARE_EFFECTS and s.strength > 1:
            raise ScenarioError(
                file,
                f"{at}.strength",
                s.strength,
                f"{s.effect} takes a share: between 0 and 1 (1: all)",
            )
        if s.effect == "raise_inspection" and s.strength <= 0:
            raise ScenarioError(
                file,
                f"{at}.strength",
                s.strength,
                "raise_inspection multiplies inspections: above 0 (below 1: fewer)",
            )
        if s.context not in SANCTION_CONTEXTS:
            raise ScenarioError(
                file, f"{at}.context", s.context, f"allowed: {', '.join(SANCTION_CONTEXTS)}"
            )
    _check_expr(file, "approval.information.when", sc.approval.information.when, "static")
    _check_lending(sc, file)
    for i, g in enumerate(r.response.visible_low_grades):
        if g not in person_grades:
            raise ScenarioError(
                file,
                f"regime.response.visible_low_grades[{i}]",
                g,
                f"allowed grades: {', '.join(sorted(person_grades)) or '(none)'}",
            )


def _check_lending(sc: Scenario, file) -> None:
    """A credit market's tables, and the rules and lender that need one."""
    r, spec = sc.regime, sc.lending
    for i, rule in enumerate(r.rules):
        if not rule.saturate:
            continue
        at = f"regime.rules[{i}].saturate"
        if r.scoring.range is None:
            raise ScenarioError(file, at, True, "a saturating rule needs regime.scoring.range")
        if rule.expiry_years != 0:
            raise ScenarioError(
                file, at, True, "a saturating rule never expires: set expiry_years = 0"
            )
        if ACTS[ACT_ID[rule.record]].subject != "person":
            raise ScenarioError(file, at, True, "only rules on persons' acts saturate")
        if r.safeguards.max_record_age_years > 0:
            raise ScenarioError(
                file, "regime.safeguards.max_record_age_years", r.safeguards.max_record_age_years,
                f"a saturating rule ({at}) never expires: the record-age cap cannot apply to it "
                "(0: no cap)",
            )  # fmt: skip
    if r.lender.policy != "permissive" and not spec.enabled:
        raise ScenarioError(
            file, "regime.lender.policy", r.lender.policy,
            "a lender needs a credit market: set lending.enabled = true",
        )  # fmt: skip
    if not spec.enabled:
        return
    if r.pilot.regions or r.pilot.share < 1.0:
        raise ScenarioError(
            file, "lending.enabled", True, "a credit market under a pilot is not modelled yet"
        )
    groups = ("majority", "minority")
    if spec.data:
        from .fico import COLUMNS

        for key in ("grid", "initial", "repay"):
            if getattr(spec, key):
                raise ScenarioError(
                    file, f"lending.{key}", getattr(spec, key),
                    f"lending.data = {spec.data!r} gives it: leave it out",
                )  # fmt: skip
        for g, col in spec.columns.items():
            if g not in groups:
                raise ScenarioError(file, f"lending.columns.{g}", col, "groups: majority, minority")
            if col not in COLUMNS:
                raise ScenarioError(
                    file, f"lending.columns.{g}", col, f"allowed: {', '.join(COLUMNS)}"
                )
    else:
        grid = spec.grid
        if len(grid) < 2 or any(b <= a for a, b in zip(grid, grid[1:])):
            raise ScenarioError(
                file, "lending.grid", grid, "at least two scores, strictly ascending"
            )
        for key in ("initial", "repay"):
            table = getattr(spec, key)
            if set(table) != set(groups):
                raise ScenarioError(
                    file,
                    f"lending.{key}",
                    sorted(table),
                    "one list for each of: majority, minority",
                )
            for g in groups:
                v = table[g]
                if len(v) != len(grid):
                    raise ScenarioError(
                        file, f"lending.{key}.{g}", v, f"one value per grid score: {len(grid)}"
                    )
                if any(not 0.0 <= x <= 1.0 for x in v):
                    raise ScenarioError(file, f"lending.{key}.{g}", v, "values between 0 and 1")
                if key == "initial" and abs(sum(v) - 1.0) > 1e-9:
                    raise ScenarioError(
                        file,
                        f"lending.initial.{g}",
                        v,
                        f"a distribution: sums to 1 (sums to {sum(v)})",
                    )
    w = spec.group_weights
    if w and (len(w) != 2 or min(w) < 0 or sum(w) <= 0):
        raise ScenarioError(
            file, "lending.group_weights", w, "two weights (majority, minority), >= 0, not both 0"
        )
    share = {
        "minority": sc.population.minority_share,
        "foreigner": sc.population.foreigner_share,
        "urban": sc.population.urban_share,
        "sex": sc.population.female_share,
    }[spec.group]
    if spec.arrivals == "draw" and w:
        for g, weight, empty in (("majority", w[0], share == 1), ("minority", w[1], share == 0)):
            if weight > 0 and empty:
                raise ScenarioError(
                    file, "lending.group_weights", w,
                    f"the {g} group draws applicants but has no members "
                    f"(the population's {spec.group} share is {share:g})",
                )  # fmt: skip


def _acts_of(subject: str) -> list[str]:
    return [a.name for a in ACTS if a.subject == subject]


def _check_expr(file, key: str, text: str | None, subject: str) -> None:
    if text is None:
        return
    names = {"person": PERSON_FIELDS, "firm": FIRM_FIELDS, "static": STATIC_PERSON_FIELDS}
    try:
        expr.parse(text, names[subject])
    except expr.ExprError as e:
        raise ScenarioError(file, key, text, str(e)) from None


def to_toml(sc: Scenario) -> str:
    """The fully resolved scenario as TOML (saved beside every run)."""
    import tomli_w

    data = _without_none(sc.model_dump(mode="json", exclude_none=True))
    return tomli_w.dumps(data)


def _without_none(x):
    """Unset (None) keys dropped everywhere, the schedule's free-form changes too (TOML has
    no null)."""
    if isinstance(x, dict):
        return {k: _without_none(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_without_none(v) for v in x]
    return x
