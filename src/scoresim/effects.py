"""The effects a sanction or reward can have on the agent it lands on.

Kept apart from sanctions.py so that the scenario schema can name them without loading the
engine. Each effect is explicit about what it does (docs/model.md §7.5); its ``strength`` in the
scenario is the size of that effect, and each names the outcome it moves (the outputs count
it), so a test can switch one on alone and see that outcome, and only it, leave the twin's.
An effect lands only on the kind of agent it can act on: scenario validation refuses, say,
raised inspections of a person or a flight ban on a firm.
"""

from __future__ import annotations

EFFECTS: dict[str, str] = {
    "block_flights": "flight ticket purchases are refused (each refusal counted)",
    "block_rail": "high-speed-rail ticket purchases are refused (each refusal counted)",
    "block_credit": "a loan application is refused with probability `strength` (at most 1; "
    "each refusal counted); missed-payment hazard on current loans x (1 + strength)",
    "job_loss": "yearly hazard `strength` of losing one's job (civil service bar, screening)",
    "income_loss": "share `strength` of income lost while sanctioned",
    "block_school": "household's children barred from private schools (household spillover)",
    "deny_licence": "business licences denied: share `strength` of a firm's revenue lost "
    "(of a self-employed person's income)",
    "exclude_procurement": "excluded from government procurement: share `strength` of a "
    "firm's revenue lost",
    "raise_inspection": "inspections x `strength` (below 1: fewer): regulators' detection of a "
    "firm's violations scales with it",
    "bar_legal_rep": "barred from serving as a firm's legal representative: every firm the "
    "person represents must name another (and has none until it does)",
    "block_luxury": "star hotels, property, luxury purchases refused (each refusal counted)",
    "reward": "perks (deposit-free rentals, discounts): share `strength` of income (a "
    "firm's revenue) gained",
}
EFFECT_ID = {e: i for i, e in enumerate(EFFECTS)}

# Which kind of agent each effect can act on ("person" covers a firm's representative).
PERSON_EFFECTS = frozenset(
    {
        "block_flights",
        "block_rail",
        "block_credit",
        "job_loss",
        "income_loss",
        "block_school",
        "deny_licence",
        "bar_legal_rep",
        "block_luxury",
        "reward",
    }
)
FIRM_EFFECTS = frozenset({"deny_licence", "exclude_procurement", "raise_inspection", "reward"})
