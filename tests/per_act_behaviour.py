"""The persons' step as it was before issue 18 made behaviour event-scaled: one draw per
act per person per step, each act from its own stream. Kept only as the oracle that the
event-scaled kernel (one draw a person, then which acts) is tested against: the same acts at
the same rates, with the same dependence on traits and state (test_event_scaled.py)."""

# ruff: noqa: E501
import numpy as np
from numba import njit

from scoresim import acts as A
from scoresim.behaviour import (
    _COMMEND,
    _COURT,
    _FLIGHTS,
    _LUXURY,
    _MIS,
    _OVERDUE,
    _RAIL,
    COURT_GROUNDS,
    DEFAULT,
    IX_ARREARS_FOUND,
    IX_BREACH,
    IX_BREACH_SUED,
    IX_DEADLINE,
    IX_EVAL_EVERY,
    IX_GOOD,
    IX_JUDGMENT,
    IX_MIS_SUM,
    IX_MISSES,
    IX_PAYS,
    IX_POOR,
    IX_PRESSURE,
    JUDGMENT,
    LOAN,
    MIS_ACTS,
    N_MIS,
    NONE,
    P_BLOOD,
    P_CURE,
    P_DISFAVOURED,
    P_FAVOURED,
    P_HEROIC,
    P_LATE_UTILITY,
    P_LAWSUIT,
    P_LITTERING,
    P_LOAN,
    P_MAJOR,
    P_MISSED,
    P_PAYOFF,
    P_POST,
    P_TRAFFIC,
    P_UNPAID_PAY,
    P_VOLUNTEERING,
    RP_COMPLY,
    RP_DECIDE,
    RP_FORGET,
    RP_NOTICE,
    RP_PAY,
    RP_PER_ACT,
    RP_POST_MASK,
    RP_REFUSAL,
    RP_SHOP_MASK,
    RP_TRAVEL,
    RP_VPN,
    RP_VPN_C,
    RP_VPN_EXPRESSIVE,
    RP_VPN_HIDING,
    RP_VPN_MASK,
    RP_VPN_PENALTY,
    RP_VPN_USES,
    RP_VPN_WATCHED,
    SUED,
    T_AIR,
    T_MEAN_INCOME,
    T_RAIL,
    UNPAID_REFUSES,
    UNPAID_UNABLE,
    _count,
    _emit,
    _emit_count,
    _exposure,
    _trips,
    mode_weight,
    travel_weight,
)
from scoresim.population import INTERNET, LEARNER, has_flag, trait
from scoresim.rng import uniform
from scoresim.sanctions import FLIGHTS, LUXURY, RAIL, credit_block


@njit
def _values(levels):
    out = np.empty(len(levels), np.float32)
    for i in range(len(levels)):
        out[i] = trait(levels[i])
    return out


@njit
def persons_range(
    lo, hi, k, limit, t, keys, p, rp, recorded, chill_max, deter_max, tr, st, bl, ev_agent, ev_act
):
    """Persons lo..hi of one step: their events into ev_agent/ev_act from slot k (up to
    limit); returns the next slot (past limit: the slice was too small)."""
    facts, flags, open_coverage, vpn_hidden = (
        tr.facts,
        tr.flags,
        tr.open_coverage,
        tr.vpn_hidden,
    )
    expressiveness, law = _values(tr.expressiveness), _values(tr.law)
    fragility, civic = _values(tr.fragility), _values(tr.civic)
    debt, timer, misses, employed = st.debt, st.timer, st.misses, st.employed
    watched, knows, vpn, pressured = st.watched, st.knows, st.vpn, st.pressured
    listed = bl.listed
    sanctions, effects, strength = bl.sanctions, bl.effects, bl.strength
    no_flight, no_rail, no_luxury = effects[FLIGHTS], effects[RAIL], effects[LUXURY]
    kf, kv, ks, kshop, kw, kc, kt = keys[0], keys[1], keys[2], keys[3], keys[4], keys[5], keys[6]
    kcourt, klux, kmis, kch, kvpn = keys[7], keys[8], keys[9], keys[10], keys[11]
    eval_every = int(p[IX_EVAL_EVERY])
    travel_on, per_act = rp[RP_TRAVEL] > 0.0, rp[RP_PER_ACT] > 0.0
    post_mask, shop_mask = int(rp[RP_POST_MASK]), int(rp[RP_SHOP_MASK])
    vpn_mask = int(rp[RP_VPN_MASK])
    for i in range(lo, hi):
        w = watched[i]
        refused = 0  # purchases and loans refused this step (the pressure of a refusal)
        # --- VPN use, reconsidered now and then (before acting: it hides today's posts)
        if (
            rp[RP_VPN] > 0.0
            and has_flag(facts, i, INTERNET)
            and uniform(kvpn, 4 * i) < rp[RP_DECIDE]
        ):
            felt = w * _exposure(post_mask, open_coverage[i], recorded)
            with_vpn = open_coverage[i] & ~vpn_hidden[i]  # the sources that see a VPN user
            x = (
                rp[RP_VPN_C]
                + rp[RP_VPN_WATCHED] * felt
                + rp[RP_VPN_EXPRESSIVE] * expressiveness[i]
                + rp[RP_VPN_HIDING] * (1.0 - law[i])
                - rp[RP_VPN_PENALTY] * _exposure(vpn_mask, with_vpn, recorded)
            )
            vpn[i] = uniform(kvpn, 4 * i + 1) < 1.0 / (1.0 + np.exp(-x))
        chill = 1.0 - chill_max * w
        chill_post, chill_shop = chill, chill
        if per_act and w > 0.0:  # by how watched the person believes each act is
            seen = open_coverage[i] & ~(vpn_hidden[i] if vpn[i] else np.uint16(0))
            chill_post = 1.0 - chill_max * w * _exposure(post_mask, seen, recorded)
            chill_shop = 1.0 - chill_max * w * _exposure(shop_mask, seen, recorded)
        deter = 1.0 - deter_max * w
        comply = 1.0
        if pressured[i]:  # policing by contacts who share the person's penalties
            comply = 1.0 - rp[RP_COMPLY]
            deter *= comply
        # --- what the person knows of their travel restrictions
        if travel_on:
            restricted = (1 if sanctions[i] & no_flight else 0) | (
                2 if sanctions[i] & no_rail else 0
            )
            kn = knows[i] & restricted
            if restricted and has_flag(flags, i, LEARNER):
                if kn != restricted and uniform(kch, 64 * i + 60) < rp[RP_NOTICE]:
                    kn = restricted  # notified of the listing and what it restricts
                elif kn and uniform(kch, 64 * i + 61) < rp[RP_FORGET]:
                    kn = 0
            knows[i] = kn
        # --- finance: loan -> missed payments -> default -> suit -> judgment -> paid/unpaid
        s = debt[i]
        u0 = uniform(kf, 4 * i)
        u1 = uniform(kf, 4 * i + 1)
        if s == NONE:
            if u0 < p[P_LOAN]:  # applies for a loan; a credit sanction refuses it with its strength
                credit = credit_block(sanctions[i], effects, strength)
                if credit > 0.0 and u1 < credit:
                    k = _emit(ev_agent, ev_act, k, limit, i, A.LOAN_REFUSED)
                    refused += 1
                else:
                    debt[i] = LOAN
                    misses[i] = 0
        elif s == LOAN:
            pm = p[P_MISSED] * (0.2 + 1.6 * fragility[i])
            if not employed[i]:
                pm *= 2.0  # [assume] no wage, twice the risk of missing
            credit = credit_block(sanctions[i], effects, strength)
            if credit > 0.0:
                pm *= 1.0 + credit  # credit cut: no refinancing (feedback)
            if pressured[i]:
                pm *= comply
            if u0 < pm:
                misses[i] += 1
                k = _emit(ev_agent, ev_act, k, limit, i, A.MISSED_PAYMENT)
                if misses[i] >= p[IX_MISSES]:
                    debt[i] = DEFAULT
                    misses[i] = 0
                    k = _emit(ev_agent, ev_act, k, limit, i, A.LOAN_DEFAULT)
            elif misses[i] > 0 and u1 < p[P_CURE]:
                misses[i] = 0
            elif misses[i] == 0 and u1 < p[P_PAYOFF]:
                debt[i] = NONE
        elif s == DEFAULT:
            if u0 < p[P_LAWSUIT]:
                debt[i] = SUED
                timer[i] = int(p[IX_JUDGMENT])
                k = _emit(ev_agent, ev_act, k, limit, i, A.SUED)
        elif s == SUED:
            timer[i] -= 1
            if timer[i] <= 0:
                debt[i] = JUDGMENT
                timer[i] = int(p[IX_DEADLINE])
                k = _emit(ev_agent, ev_act, k, limit, i, A.LOST_SUIT)
        elif s == JUDGMENT:
            timer[i] -= 1
            if timer[i] <= 0:
                able = u0 < (1.0 - fragility[i]) * (1.0 if employed[i] else 0.5)
                if able and u1 < p[IX_PAYS] * (0.5 + law[i]):
                    debt[i] = NONE
                    k = _emit(ev_agent, ev_act, k, limit, i, A.DEBT_PAID)
                elif able:
                    debt[i] = UNPAID_REFUSES
                    k = _emit(ev_agent, ev_act, k, limit, i, A.UNPAID_REFUSES)
                else:
                    debt[i] = UNPAID_UNABLE
                    k = _emit(ev_agent, ev_act, k, limit, i, A.UNPAID_UNABLE)
        else:  # unpaid: pays later, faster under the pressure of a listing
            hazard = p[P_UNPAID_PAY] * (0.5 if s == UNPAID_UNABLE else 1.0)
            if listed[i]:
                hazard = 1.0 - (1.0 - hazard) * (1.0 - p[IX_PRESSURE])
            if u0 < hazard:
                debt[i] = NONE
                k = _emit(ev_agent, ev_act, k, limit, i, A.DEBT_PAID)
            else:  # the court list's other grounds, more likely the less law-abiding
                lax = 1.5 - law[i]
                for g in range(len(COURT_GROUNDS)):
                    if p[_COURT + g] > 0.0:
                        u = uniform(kcourt, 4 * i + g)
                        lam = p[_COURT + g] * lax
                        if u < lam:
                            act = COURT_GROUNDS[g]
                            k = _emit_count(ev_agent, ev_act, k, limit, i, act, u, lam)
        if debt[i] >= DEFAULT and p[_OVERDUE] > 0.0:  # a defaulted loan overdue each cycle
            u = uniform(kf, 4 * i + 2)
            lam = p[_OVERDUE]
            if u < lam:
                k = _emit_count(ev_agent, ev_act, k, limit, i, A.LOAN_OVERDUE, u, lam)
        # --- violations and misconduct, cut by deterrence
        k = _violations(ev_agent, ev_act, k, limit, i, kv, kmis, p, law[i], fragility[i], deter)[0]
        # --- online speech (internet users), cut by the chilling effect
        if has_flag(facts, i, INTERNET):
            x = expressiveness[i]
            if p[P_POST] > 0.0:
                u = uniform(ks, i)
                lam = p[P_POST] * x * x * chill_post
                if u < lam:
                    k = _emit_count(ev_agent, ev_act, k, limit, i, A.CRITICAL_POST, u, lam)
        # --- shopping
        if p[P_DISFAVOURED] > 0.0:
            u = uniform(kshop, 2 * i)
            lam = p[P_DISFAVOURED] * (1.25 - 0.5 * law[i]) * chill_shop
            if u < lam:
                k = _emit_count(ev_agent, ev_act, k, limit, i, A.DISFAVOURED, u, lam)
        if p[P_FAVOURED] > 0.0:
            u = uniform(kshop, 2 * i + 1)
            lam = p[P_FAVOURED]
            if u < lam:
                k = _emit_count(ev_agent, ev_act, k, limit, i, A.FAVOURED, u, lam)
        # --- workplace evaluation, staggered through the year
        if employed[i] and eval_every > 0 and (t + i) % eval_every == 0:
            q = 0.7 * uniform(kw, i) + 0.3 * (1.0 - law[i])  # noisy around performance
            if q > 1.0 - p[IX_POOR] * 1.0:
                k = _emit(ev_agent, ev_act, k, limit, i, A.POOR_EVAL)
            elif q < p[IX_GOOD]:
                k = _emit(ev_agent, ev_act, k, limit, i, A.GOOD_EVAL)
        # --- civic acts
        if p[P_VOLUNTEERING] > 0.0:
            u = uniform(kc, 3 * i)
            lam = p[P_VOLUNTEERING] * civic[i]
            if u < lam:
                k = _emit_count(ev_agent, ev_act, k, limit, i, A.VOLUNTEERING, u, lam)
        if p[P_BLOOD] > 0.0:
            u = uniform(kc, 3 * i + 1)
            lam = p[P_BLOOD] * civic[i]
            if u < lam:
                k = _emit_count(ev_agent, ev_act, k, limit, i, A.BLOOD, u, lam)
        if p[P_HEROIC] > 0.0:
            u = uniform(kc, 3 * i + 2)
            lam = p[P_HEROIC]
            if u < lam:
                k = _emit_count(ev_agent, ev_act, k, limit, i, A.HEROIC, u, lam)
        if p[_COMMEND] > 0.0:
            u = uniform(kmis, 32 * i + 25)
            lam = p[_COMMEND] * civic[i]
            if u < lam:
                k = _emit_count(ev_agent, ev_act, k, limit, i, A.COMMENDATION, u, lam)
        # --- travel: an attempt is refused if the person is restricted (the refusal counted)
        if p[_FLIGHTS] > 0.0:
            u = uniform(kt, 2 * i)
            travel = travel_weight(tr.income[i], tr.travel[T_MEAN_INCOME])
            lam = p[_FLIGHTS] * (mode_weight(tr, i, travel, T_AIR) if travel_on else travel)
            if u < lam:
                k, r = _trips(
                    ev_agent,
                    ev_act,
                    k,
                    limit,
                    i,
                    _count(u, lam),
                    (sanctions[i] & no_flight) != 0,
                    travel_on,
                    A.FLIGHT_TAKEN,
                    A.FLIGHT_BLOCKED,
                    1,
                    knows,
                    has_flag(flags, i, LEARNER),
                    kch,
                    64 * i,
                    rp,
                )
                refused += r
        if p[_RAIL] > 0.0:
            u = uniform(kt, 2 * i + 1)
            travel = travel_weight(tr.income[i], tr.travel[T_MEAN_INCOME])
            lam = p[_RAIL] * (mode_weight(tr, i, travel, T_RAIL) if travel_on else travel)
            if u < lam:
                k, r = _trips(
                    ev_agent,
                    ev_act,
                    k,
                    limit,
                    i,
                    _count(u, lam),
                    (sanctions[i] & no_rail) != 0,
                    travel_on,
                    A.RAIL_TAKEN,
                    A.RAIL_BLOCKED,
                    2,
                    knows,
                    has_flag(flags, i, LEARNER),
                    kch,
                    64 * i + 30,
                    rp,
                )
                refused += r
        # --- high spending (star hotels, property, luxury): refused under a restriction,
        # unless the person gets round it, which is itself a listing ground
        if p[_LUXURY] > 0.0:
            u = uniform(klux, 2 * i)
            lam = p[_LUXURY] * travel_weight(tr.income[i], tr.travel[T_MEAN_INCOME])
            times = _count(u, lam) if u < lam else 0
            if times > 0:
                act = A.LUXURY_TAKEN
                breach = False
                if sanctions[i] & no_luxury:  # refused, unless the person gets round it
                    breach = uniform(klux, 2 * i + 1) < p[IX_BREACH]
                    act = A.LUXURY_TAKEN if breach else A.LUXURY_BLOCKED
                    refused += 0 if breach else times
                for _ in range(times):
                    k = _emit(ev_agent, ev_act, k, limit, i, act)
                if breach:
                    k = _emit(ev_agent, ev_act, k, limit, i, A.SPENDING)
        # --- VPN use, recorded where a source of the regime sees it (were it not hidden)
        if vpn[i] and rp[RP_VPN_USES] > 0.0 and (open_coverage[i] & vpn_mask) != 0:
            u = uniform(kvpn, 4 * i + 2)
            lam = rp[RP_VPN_USES]
            if u < lam:
                k = _emit_count(ev_agent, ev_act, k, limit, i, A.VPN_USE, u, lam)
        # --- the pressure of a refusal: a listed debtor able to pay may pay now
        if refused > 0 and rp[RP_REFUSAL] > 0.0 and listed[i] and debt[i] == UNPAID_REFUSES:
            if uniform(kf, 4 * i + 3) < 1.0 - (1.0 - rp[RP_PAY]) ** refused:
                debt[i] = NONE
                k = _emit(ev_agent, ev_act, k, limit, i, A.DEBT_PAID)
                k = _emit(ev_agent, ev_act, k, limit, i, A.PAID_AFTER_REFUSAL)
    return k


@njit
def _violations(ev_agent, ev_act, k, limit, i, kv, kmis, p, law_i, fragility_i, deter):
    """Person i's violations and point-table misconduct this step, cut by ``deter`` (and the
    court findings some lead to), emitted into the buffer. Returns the event count and the
    number of violations among the events. With ``limit`` 0 it only counts: a person's
    violations with no system (``deter`` 1), by common random numbers (``no_system_violations``)."""
    v = 0
    lawless = 1.5 - law_i
    if p[P_TRAFFIC] > 0.0:
        u = uniform(kv, 4 * i)
        lam = p[P_TRAFFIC] * lawless * deter
        if u < lam:
            k0 = k
            k = _emit_count(ev_agent, ev_act, k, limit, i, A.TRAFFIC, u, lam)
            v += k - k0
    if p[P_LATE_UTILITY] > 0.0:
        u = uniform(kv, 4 * i + 1)
        lam = p[P_LATE_UTILITY] * (0.5 + fragility_i) * deter
        if u < lam:  # late bills, and sometimes a court finding of arrears
            for e in range(_count(u, lam)):
                v += 1
                k = _emit(ev_agent, ev_act, k, limit, i, A.LATE_UTILITY)
                if uniform(kmis, 32 * i + 17 + e) < p[IX_ARREARS_FOUND]:
                    k = _emit(ev_agent, ev_act, k, limit, i, A.ARREARS_FOUND)
    if p[P_LITTERING] > 0.0:
        u = uniform(kv, 4 * i + 2)
        lam = p[P_LITTERING] * lawless * deter
        if u < lam:
            k0 = k
            k = _emit_count(ev_agent, ev_act, k, limit, i, A.LITTERING, u, lam)
            v += k - k0
    if p[P_MAJOR] > 0.0:
        u = uniform(kv, 4 * i + 3)
        lam = p[P_MAJOR] * 2.0 * (1.0 - law_i) * deter
        if u < lam:
            k0 = k
            k = _emit_count(ev_agent, ev_act, k, limit, i, A.MAJOR_OFFENCE, u, lam)
            v += k - k0
    # the misconduct of a point table: one draw for all of it, then which acts
    lam = p[IX_MIS_SUM] * lawless * deter
    u = uniform(kmis, 32 * i) if lam > 0.0 else 1.0
    if u < lam:
        for e in range(_count(u, lam)):
            x = uniform(kmis, 32 * i + 1 + e) * p[IX_MIS_SUM]
            j = 0
            below = p[_MIS]
            while x >= below and j < N_MIS - 1:
                j += 1
                below += p[_MIS + j]
            v += 1
            k = _emit(ev_agent, ev_act, k, limit, i, MIS_ACTS[j])
            if MIS_ACTS[j] == A.CONTRACT_BREACH:  # sometimes sued and found in breach
                if uniform(kmis, 32 * i + 9 + e) < p[IX_BREACH_SUED]:
                    k = _emit(ev_agent, ev_act, k, limit, i, A.BREACH_JUDGMENT)
    return k, v
