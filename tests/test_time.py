"""Time in days and years: the same scenario with weekly and with monthly steps tells the same
story. Durations are given in days or years and converted at load, rates are per year,
recurring acts are Poisson counts a step; so what is left between the two is sampling error,
and two effects of order one step, allowed 6 % of the value: people adapt to their own and
their contacts' sanctions one step later (a month instead of a week: less deterrence), and
a sanction's cause is the largest deduction of the step it starts in (a month holds more
records to choose from than a week)."""

from __future__ import annotations

import numpy as np

from scoresim import Sim

# Rates, stocks and shares of the summary. Left out: the "ever, at some step, only by false
# records / only by association" shares, which count transient states and so rise with how
# often the system is looked at (a finer step sees more of them).
KEYS = (
    "listed_share",
    "ever_sanctioned_share",
    "ties_cut_share",
    "chilling_effect",
    "deterrence_effect",
    "income_loss_share",
    "blocked_flights",
    "blocked_rail",
    "unrelated_context_share",
    "disproportionate_share",
    "records_per_person_year",
    "rewarded_share",
    "aware_share",
    "approval_share",
    "approval_sanctioned_share",
    "listed_share_peak",
    "repaid_share",
    "loans_refused",
)
SEEDS = (1, 2, 3, 4)


def _summaries(step: str) -> np.ndarray:
    rows = []
    for seed in SEEDS:
        over = {"run": {"step": step}}
        s = Sim("article", overrides=over, n=6000, years=2, seed=seed).run().summary()
        rows.append([s[k] for k in KEYS])
    return np.array(rows, float)


def test_weekly_and_monthly_steps_agree_within_sampling_error():
    week, month = _summaries("week"), _summaries("month")
    assert np.all(week.mean(axis=0) > 0), dict(zip(KEYS, week.mean(axis=0)))
    se = np.sqrt(week.var(axis=0, ddof=1) / len(SEEDS) + month.var(axis=0, ddof=1) / len(SEEDS))
    z = np.abs(week.mean(axis=0) - month.mean(axis=0)) / np.maximum(se, 1e-12)
    report = {k: (round(a, 5), round(b, 5), round(x, 2)) for k, a, b, x in
              zip(KEYS, week.mean(axis=0), month.mean(axis=0), z)}  # fmt: skip
    close = np.abs(week.mean(axis=0) - month.mean(axis=0)) <= 0.06 * week.mean(axis=0)
    assert np.all((z < 4.0) | close), report
