"""What the web page (``scoresim serve``) lets a visitor change, and the scenario a request
makes: a preset, with its headline parameters set (size, years, seed, association, each
safeguard, the false-record rate, publicity). A request is validated by the same scenario
models as the CLI, and refused with the same one-line message.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .scenario import (
    STEP_YEARS,
    Safeguards,
    Scenario,
    ScenarioError,
    association_on,
    from_dict,
    load,
    presets,
    validate_model,
)

REQUEST = "(request)"  # the "file" a request's errors name


@dataclass(frozen=True)
class Limits:
    """What one server accepts: a visitor's run must fit these before it is queued."""

    max_persons: int = 200_000
    max_years: float = 10.0
    default_persons: int = 20_000
    queue: int = 50  # jobs waiting (not counting those running) before new ones are refused
    max_steps: int = 2_000  # a daily preset over ten years would be 3,652 steps


@dataclass(frozen=True)
class Safeguard:
    key: str
    label: str
    explanation: str


# Each safeguard's "on" is the eu-safeguards preset's setting (docs/model.md §7.6); "off" is
# Safeguards()'s default. A preset's own setting, where it has one on, is kept.
SAFEGUARDS = (
    Safeguard(
        "notice",
        "Notice before listing",
        "A person is warned four weeks before being listed; paying what is owed in that time "
        "stops the listing.",
    ),
    Safeguard(
        "appeals",
        "Appeals",
        "A listed or sanctioned person appeals about quarterly; an appeal strikes an erroneous "
        "record 9 times in 10, and only so many appeals are heard a week.",
    ),
    Safeguard(
        "expiry",
        "Records expire",
        "No record counts for more than a year, whatever the rulebook says.",
    ),
    Safeguard(
        "context_bound",
        "Sanctions stay in context",
        "A sanction applies only where the data that triggered it came from a related area "
        "of life (no travel ban for an unpaid fine, say).",
    ),
    Safeguard(
        "no_speech_data",
        "No speech data",
        "The intelligence services' and social media's records are not used at all.",
    ),
    Safeguard(
        "credit_repair",
        "Credit repair",
        "Paying a debt takes the debtor off a list early.",
    ),
)
SPEECH_SOURCES = ("intelligence", "social_media")


class RunRequest(BaseModel):
    """One run, as the page sends it. Absent fields keep the preset's value."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    preset: str = Field(min_length=1, max_length=60)
    persons: int | None = Field(None, ge=100)
    years: float | None = Field(None, gt=0)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    association: bool | None = None
    safeguards: dict[str, bool] = {}
    false_record_rate: float | None = Field(None, ge=0, le=0.5)
    publicity: float | None = Field(None, ge=0, le=1)
    twin: bool = True


class CompareRequest(BaseModel):
    """Up to four regimes on one society, one twin."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    presets: list[str] = Field(min_length=2, max_length=4)
    persons: int | None = Field(None, ge=100)
    years: float | None = Field(None, gt=0)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)


@cache
def _eu() -> Safeguards:
    return load("eu-safeguards").regime.safeguards


def safeguard_state(sc: Scenario) -> dict[str, bool]:
    """Which of SAFEGUARDS a scenario has on."""
    s = sc.regime.safeguards
    return {
        "notice": s.notice_days > 0,
        "appeals": s.appeals.rate > 0 and s.appeals.success > 0,
        "expiry": s.max_record_age_years > 0,
        "context_bound": s.context_bound,
        "no_speech_data": all(x in s.excluded_sources for x in SPEECH_SOURCES),
        "credit_repair": s.credit_repair,
    }


def _set_safeguard(s: dict, key: str, on: bool) -> None:
    """Turn one safeguard on (eu-safeguards' value unless the preset has its own) or off."""
    eu, off = _eu(), Safeguards()
    if key == "notice":
        s["notice_days"] = (s["notice_days"] or eu.notice_days) if on else off.notice_days
    elif key == "appeals":
        if on and not (s["appeals"]["rate"] > 0 and s["appeals"]["success"] > 0):
            s["appeals"] = eu.appeals.model_dump()
        elif not on:
            s["appeals"] = off.appeals.model_dump()
    elif key == "expiry":
        age = s["max_record_age_years"] or eu.max_record_age_years
        s["max_record_age_years"] = age if on else off.max_record_age_years
    elif key == "context_bound":
        s["context_bound"] = on
    elif key == "no_speech_data":
        rest = [x for x in s["excluded_sources"] if x not in SPEECH_SOURCES]
        s["excluded_sources"] = rest + list(SPEECH_SOURCES) if on else rest
    elif key == "credit_repair":
        s["credit_repair"] = on


def _known(name: str, key: str = "preset") -> str:
    """A preset's name, or the request's error naming ``key`` (never a path to a file)."""
    known = presets()
    if name not in known:
        from .scenario import did_you_mean

        raise ScenarioError(
            REQUEST,
            key,
            name,
            f"unknown preset{did_you_mean(name, known)}; allowed: " + ", ".join(sorted(known)),
        )
    return name


def _size(
    data: dict, persons: int | None, years: float | None, seed: int | None, limits: Limits
) -> None:
    """Set and bound population, years and seed (the server's limits, named in the error)."""
    if persons is not None:
        data["population"]["persons"] = persons
    if years is not None:
        data["run"]["years"] = years
    if seed is not None:
        data["run"]["seed"] = seed
    n, y = data["population"]["persons"], data["run"]["years"]
    if n > limits.max_persons:
        raise ScenarioError(
            REQUEST, "persons", n, f"this server runs at most {limits.max_persons:,} persons"
        )
    if y > limits.max_years:
        raise ScenarioError(
            REQUEST, "years", y, f"this server runs at most {limits.max_years:g} years"
        )
    steps = int(round(y / STEP_YEARS[data["run"]["step"]]))
    if steps > limits.max_steps:
        raise ScenarioError(
            REQUEST,
            "years",
            y,
            f"{steps:,} steps of a {data['run']['step']}; this server runs at most "
            f"{limits.max_steps:,} steps",
        )


def run_scenario(body: Any, limits: Limits) -> Scenario:
    """The scenario a run request makes, validated as the CLI validates a scenario file and
    bounded by the server's limits; a ScenarioError names the request's key otherwise."""
    req = validate_model(RunRequest, body, REQUEST)
    base = load(_known(req.preset))
    data = base.model_dump()
    _size(data, req.persons, req.years, req.seed, limits)
    regime = data["regime"]
    asked = {"association": req.association, "publicity": req.publicity,
             "safeguards": req.safeguards or None}  # fmt: skip
    switched = [k for k, v in asked.items() if v is not None]
    if base.schedule and switched:
        raise ScenarioError(
            REQUEST,
            switched[0],
            getattr(req, switched[0]),
            f"the {req.preset} preset changes its regime during the run (a schedule), which "
            "sets its switches; run it as it is, or pick a preset without a schedule",
        )
    if req.association is not None:
        if req.association and not _has_association(base):
            raise ScenarioError(
                REQUEST,
                "association",
                True,
                f"the {req.preset} regime has no penalty by association to turn on",
            )
        regime["safeguards"]["association"] = req.association
        if req.association:
            regime["association"]["enabled"] = True
    for key, on in req.safeguards.items():
        if key not in {s.key for s in SAFEGUARDS}:
            raise ScenarioError(
                REQUEST,
                f"safeguards.{key}",
                on,
                "unknown safeguard; allowed: " + ", ".join(s.key for s in SAFEGUARDS),
            )
        _set_safeguard(regime["safeguards"], key, on)
    if req.false_record_rate is not None:  # every source's rate, its own ones too
        data["false_records"]["misattributed"] = req.false_record_rate
        for source in data["sources"].values():
            if source.get("false_rate") is not None:
                source["false_rate"] = req.false_record_rate
    if req.publicity is not None:
        regime["publicity"] = req.publicity
    if not req.twin:
        data["run"]["twin"] = False
    return _validated(data)


def compare_scenarios(body: Any, limits: Limits) -> tuple[CompareRequest, list[Scenario]]:
    """The scenarios of a compare request (each preset with the request's size and years)."""
    from .compare import _scenarios as checked

    req = validate_model(CompareRequest, body, REQUEST)
    for i, name in enumerate(req.presets):
        _known(name, f"presets[{i}]")
    try:  # the checks `scoresim compare` makes: one society, one twin, each preset once
        scenarios = checked(req.presets, req.persons, req.years, req.seed)
    except ScenarioError as e:
        raise ScenarioError(
            REQUEST, "presets", req.presets, f"{e.file}: {e.key}: {e.allowed}"
        ) from None
    out = []
    for sc in scenarios:  # loaded with the request's size, years and seed: bound them
        data = sc.model_dump()
        _size(data, None, None, None, limits)
        out.append(_validated(data))
    return req, out


def _validated(data: dict) -> Scenario:
    data.pop("extends", None)  # already merged
    sc = from_dict(data, REQUEST)
    from .sim import check_memory

    check_memory(sc, REQUEST)
    return sc


def _has_association(sc: Scenario) -> bool:
    """Whether the regime has an association term at all (a switch to turn on)."""
    a = sc.regime.association
    reaches = any(s.subject == "representative" for s in sc.regime.sanctions)
    return a.mean_weight > 0 or a.listed_penalty < 0 or a.partner_weight > 0 or reaches


def false_record_rate(sc: Scenario) -> tuple[float, bool]:
    """The rate of false records a scenario's sources use, and whether they all use it
    (a source's own ``false_rate`` overrides ``false_records.misattributed``)."""
    used = {
        sc.false_records.misattributed if s.false_rate is None else s.false_rate
        for name, s in sc.sources.items()
        if name in sc.regime.sources
    }
    used = used or {sc.false_records.misattributed}
    return max(used), len(used) == 1


def _refusal(body: dict, limits: Limits) -> str | None:
    """Why a request would be refused (its one line), or None."""
    try:
        run_scenario(body, limits)
    except ScenarioError as e:
        return e.allowed
    return None


@cache
def preset_card(name: str, limits: Limits) -> dict:
    """What the page shows of a preset: its description, the parameters' starting values
    (each within the server's limits) and which switches it lets a visitor turn, with why
    not where it does not."""
    sc = load(name)
    step_years = STEP_YEARS[sc.run.step]
    years = min(sc.run.years, limits.max_years, limits.max_steps * step_years)
    persons = min(sc.population.persons, limits.default_persons)
    rate = false_record_rate(sc)[0]
    state = safeguard_state(sc)
    size = {"preset": name, "persons": persons, "years": years}
    locked = {}
    if not sc.schedule:
        for s in SAFEGUARDS:
            why = _refusal(size | {"safeguards": {s.key: not state[s.key]}}, limits)
            if why:
                locked[s.key] = why
    return {
        "name": name,
        "description": sc.description,
        "persons": persons,
        "years": years,
        "step": sc.run.step,
        "step_years": step_years,
        "seed": sc.run.seed,
        "locked": locked,
        "comparable": _comparable(name),
        "association": association_on(sc.regime) and _has_association(sc),
        "association_available": _has_association(sc),
        "safeguards": state,
        "false_record_rate": rate,
        "publicity": sc.regime.publicity,
        "scheduled": bool(sc.schedule),
    }


def _comparable(name: str) -> bool:
    """Whether the preset can be compared with the article's on one society (the page's
    compare form offers these)."""
    from .compare import _scenarios as checked

    try:
        checked(["article", name] if name != "article" else [name], None, None, None)
    except ScenarioError:
        return False
    return True
