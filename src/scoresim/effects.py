"""The effects a sanction or reward can have on the agent it lands on.

Kept apart from sanctions.py so that the scenario schema can name them without loading the
engine. Each effect is explicit about what it does (MODEL.md §7); its ``strength`` in the
scenario is the size of that effect.
"""

from __future__ import annotations

EFFECTS: dict[str, str] = {
    "block_flights": "flight ticket purchases are refused (each refusal counted)",
    "block_rail": "high-speed-rail ticket purchases are refused (each refusal counted)",
    "block_credit": "no new loans; missed-payment hazard on current loans x (1 + strength)",
    "job_loss": "yearly hazard `strength` of losing one's job (civil service bar, screening)",
    "income_loss": "share `strength` of income lost while sanctioned",
    "block_school": "household's children barred from private schools (household spillover)",
    "deny_licence": "business licences denied: share `strength` of a firm's revenue lost",
    "exclude_procurement": "excluded from government procurement: share `strength` of revenue",
    "raise_inspection": "inspections x `strength` (below 1: fewer): regulators' detection of a "
    "firm's violations scales with it",
    "bar_legal_rep": "barred from serving as a firm's legal representative",
    "block_luxury": "star hotels, property, luxury purchases refused (each refusal counted)",
    "reward": "perks (deposit-free rentals, discounts): share `strength` of income gained",
}
EFFECT_ID = {e: i for i, e in enumerate(EFFECTS)}
