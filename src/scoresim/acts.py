"""The acts agents can commit, the contexts they belong to, and how grave each is.

Acts are what behaviour emits and what sources record; a record is an act as the state saw it
(possibly about the wrong person). The context says in which sphere of life the data were
generated (for the EU AI Act Art. 5(1)(c)(i) audit: a sanction in another context is
"unrelated"); the gravity says how serious the behaviour is (0 = lawful, 1 minor, 2 moderate,
3 serious; for the Art. 5(1)(c)(ii) proportionality audit). Contexts and gravities are
[assume] labels chosen here; a scenario's sanctions say which contexts they count as related.
"""

from __future__ import annotations

from typing import NamedTuple


class Act(NamedTuple):
    name: str
    subject: str  # "person" or "firm"
    context: str
    gravity: int


CONTEXTS: tuple[str, ...] = (
    "finance",
    "legal",
    "traffic",
    "public_order",
    "speech",
    "consumption",
    "work",
    "civic",
    "travel",
    "regulatory",
    "association",  # not an act's context: the trigger context of a sanction by association
)
CONTEXT_ID = {c: i for i, c in enumerate(CONTEXTS)}
# Where a sanction bites (a scenario's `Sanction.context`): the columns of the audit matrix,
# whose rows are the data contexts above.
SANCTION_CONTEXTS: tuple[str, ...] = (
    "travel",
    "finance",
    "work",
    "education",
    "business",
    "public_services",
    "consumption",
)
SANCTION_CONTEXT_ID = {c: i for i, c in enumerate(SANCTION_CONTEXTS)}

ACTS: tuple[Act, ...] = (
    Act("missed_payment", "person", "finance", 1),
    Act("loan_default", "person", "finance", 2),
    Act("sued", "person", "legal", 1),
    Act("lost_suit", "person", "legal", 2),
    Act("judgment_unpaid_unable", "person", "legal", 2),
    Act("judgment_unpaid_refuses", "person", "legal", 3),
    Act("debt_paid", "person", "finance", 0),
    Act("traffic_offence", "person", "traffic", 1),
    Act("late_utility", "person", "finance", 1),
    Act("littering", "person", "public_order", 1),
    Act("major_offence", "person", "public_order", 3),
    Act("critical_post", "person", "speech", 0),
    Act("disfavoured_purchase", "person", "consumption", 0),
    Act("favoured_purchase", "person", "consumption", 0),
    Act("poor_evaluation", "person", "work", 1),
    Act("good_evaluation", "person", "work", 0),
    Act("volunteering", "person", "civic", 0),
    Act("blood_donation", "person", "civic", 0),
    Act("heroic_act", "person", "civic", 0),
    Act("flight_taken", "person", "travel", 0),
    Act("flight_blocked", "person", "travel", 0),
    Act("rail_taken", "person", "travel", 0),
    Act("rail_blocked", "person", "travel", 0),
    Act("firm_tax_arrears", "firm", "finance", 2),
    Act("firm_violation", "firm", "regulatory", 2),
    Act("firm_missed_report", "firm", "regulatory", 1),
    Act("firm_tax_paid", "firm", "finance", 0),
    # the other listing grounds of the court list ([src S-court-grounds]: 2017 rules), committed
    # by debtors with an unpaid judgment; and the high spending the court restricts
    Act("obstructs_enforcement", "person", "legal", 3),
    Act("evades_enforcement", "person", "legal", 3),
    Act("breaks_asset_reporting", "person", "legal", 2),
    Act("breaks_spending_restriction", "person", "legal", 2),
    Act("refuses_settlement", "person", "legal", 2),
    Act("luxury_taken", "person", "consumption", 0),
    Act("luxury_blocked", "person", "consumption", 0),
    Act("firm_judgment_unpaid", "firm", "legal", 3),
    Act("loan_refused", "person", "finance", 0),  # a credit sanction refused an application
    # the rest of a local point table ([src S-rongcheng-table]: Rongcheng): a loan
    # still overdue at each monthly cycle after default; breaches, frauds and offences
    Act("loan_overdue", "person", "finance", 1),
    Act("contract_breach", "person", "finance", 1),
    Act("breach_judgment", "person", "legal", 2),  # sued and found in breach
    Act("private_lending_breach", "person", "finance", 1),
    Act("illegal_fundraising", "person", "finance", 3),
    Act("fraud", "person", "legal", 3),  # pyramid selling or fraud
    Act("counterfeit_goods", "person", "legal", 2),
    Act("utility_arrears_found", "person", "legal", 2),  # a court finds utility arrears
    Act("heating_tampering", "person", "public_order", 2),
    Act("utility_theft", "person", "public_order", 2),
    Act("public_property_damage", "person", "public_order", 3),
    Act("drunk_driving", "person", "traffic", 3),
    Act("commendation", "person", "civic", 0),  # a public honour: model worker, award
    # responses to being watched (docs/model.md §7.7): a restricted trip made another way or
    # not at all; a debt paid after a refusal; a VPN use, recordable where a source sees it
    Act("trip_substituted", "person", "travel", 0),
    Act("trip_forgone", "person", "travel", 0),
    Act("paid_after_refusal", "person", "finance", 0),
    Act("vpn_use", "person", "speech", 1),
    # a credit market's outcomes (lending.py): a loan repaid; an application the lender
    # declined (a sanction's refusal is loan_refused); a default is loan_default
    Act("loan_repaid", "person", "finance", 0),
    Act("loan_declined", "person", "finance", 0),
)
ACT_ID = {a.name: i for i, a in enumerate(ACTS)}
N_ACTS = len(ACTS)

# Acts that are violations (deterrence is measured on them) and lawful-but-disfavoured acts
# (the chilling effect is measured on them). Both compared with the twin society.
# the misconduct of a point table, drawn together (one draw a person, then which act)
MISCONDUCT = (
    "contract_breach",
    "private_lending_breach",
    "illegal_fundraising",
    "fraud",
    "counterfeit_goods",
    "heating_tampering",
    "utility_theft",
    "public_property_damage",
    "drunk_driving",
)
VIOLATIONS = ("traffic_offence", "late_utility", "littering", "major_offence") + MISCONDUCT
CHILLED = ("critical_post", "disfavoured_purchase")

# Named ids used by the kernels (numba sees them as compile-time constants).
MISSED_PAYMENT = ACT_ID["missed_payment"]
LOAN_DEFAULT = ACT_ID["loan_default"]
SUED = ACT_ID["sued"]
LOST_SUIT = ACT_ID["lost_suit"]
UNPAID_UNABLE = ACT_ID["judgment_unpaid_unable"]
UNPAID_REFUSES = ACT_ID["judgment_unpaid_refuses"]
DEBT_PAID = ACT_ID["debt_paid"]
TRAFFIC = ACT_ID["traffic_offence"]
LATE_UTILITY = ACT_ID["late_utility"]
LITTERING = ACT_ID["littering"]
MAJOR_OFFENCE = ACT_ID["major_offence"]
CRITICAL_POST = ACT_ID["critical_post"]
DISFAVOURED = ACT_ID["disfavoured_purchase"]
FAVOURED = ACT_ID["favoured_purchase"]
POOR_EVAL = ACT_ID["poor_evaluation"]
GOOD_EVAL = ACT_ID["good_evaluation"]
VOLUNTEERING = ACT_ID["volunteering"]
BLOOD = ACT_ID["blood_donation"]
HEROIC = ACT_ID["heroic_act"]
FLIGHT_TAKEN = ACT_ID["flight_taken"]
FLIGHT_BLOCKED = ACT_ID["flight_blocked"]
RAIL_TAKEN = ACT_ID["rail_taken"]
RAIL_BLOCKED = ACT_ID["rail_blocked"]
FIRM_TAX_ARREARS = ACT_ID["firm_tax_arrears"]
FIRM_VIOLATION = ACT_ID["firm_violation"]
FIRM_MISSED_REPORT = ACT_ID["firm_missed_report"]
FIRM_TAX_PAID = ACT_ID["firm_tax_paid"]
OBSTRUCTS = ACT_ID["obstructs_enforcement"]
EVADES = ACT_ID["evades_enforcement"]
ASSET_REPORTING = ACT_ID["breaks_asset_reporting"]
SPENDING = ACT_ID["breaks_spending_restriction"]
SETTLEMENT = ACT_ID["refuses_settlement"]
LUXURY_TAKEN = ACT_ID["luxury_taken"]
LUXURY_BLOCKED = ACT_ID["luxury_blocked"]
FIRM_JUDGMENT_UNPAID = ACT_ID["firm_judgment_unpaid"]
LOAN_REFUSED = ACT_ID["loan_refused"]
LOAN_OVERDUE = ACT_ID["loan_overdue"]
CONTRACT_BREACH = ACT_ID["contract_breach"]
BREACH_JUDGMENT = ACT_ID["breach_judgment"]
ARREARS_FOUND = ACT_ID["utility_arrears_found"]
COMMENDATION = ACT_ID["commendation"]
TRIP_SUBSTITUTED = ACT_ID["trip_substituted"]
TRIP_FORGONE = ACT_ID["trip_forgone"]
PAID_AFTER_REFUSAL = ACT_ID["paid_after_refusal"]
VPN_USE = ACT_ID["vpn_use"]
LOAN_REPAID = ACT_ID["loan_repaid"]
LOAN_DECLINED = ACT_ID["loan_declined"]
