"""The W3 reference model in Mesa 3, written the way Mesa's own examples are: one Agent
object per person, the model's AgentSet, a DataCollector. It mirrors the scoresim preset
`reference` (src/scoresim/scenarios/reference.toml): same traits and marginals, same weekly
probabilities, same order within a step; its own random numbers (Mesa's), so the two agree in
distribution, not draw for draw.

    pip install "mesa>=3,<4" networkx
    python benchmarks/peers/mesa_reference.py --n 10000 --seed 1
"""

from __future__ import annotations

import argparse
import math
import time

import mesa
import networkx as nx
import numpy as np

DT = 7 / 365.25  # one week in years


def per_step(rate_per_year: float) -> float:
    return 1.0 - math.exp(-rate_per_year * DT)


P_MISS = per_step(0.921689416019793)  # scoresim's calibrated default
P_TRAFFIC = per_step(0.25)
P_POST = per_step(12.0)
P_FLIGHT = per_step(0.47)
CUT = {"household": per_step(0.02), "community": per_step(1.0)}
POINTS = {"missed_payment": -30.0, "traffic_offence": -10.0, "critical_post": -10.0}
DETECTION = {"missed_payment": 1.0, "traffic_offence": 0.3, "critical_post": 0.6}
FALSE_RATE = 0.005
EXPIRY_STEPS = 104
THRESHOLD, PENALTY, CAP = 950.0, -5.0, 3
CHILL, DETER, AWARE, CONTACT_W, OWN_W = 0.5, 0.3, 0.3, 0.2, 1.0


class Person(mesa.Agent):
    def __init__(self, model, rng):
        super().__init__(model)
        self.law = rng.beta(5, 2)
        self.fragility = rng.beta(2, 5)
        self.expressiveness = rng.beta(1.5, 4)
        self.risk_aversion = rng.beta(2, 2)
        self.internet = rng.random() < 0.786
        self.vpn_hidden = self.internet and rng.random() < 0.05 and rng.random() < 0.8
        urban = rng.random() < 0.67
        edu = rng.choice([0.8, 1.0, 1.5], p=[0.55, 0.30, 0.15])
        self.income = (45000 if urban else 18000) * edu * math.exp(0.7 * rng.normal())
        self.travel = 1.0
        self.points = 0.0
        self.expiring = []  # (step, points)
        self.listed = False
        self.listed_contacts = 0
        self.watched = 0.0
        self.blocked = 0

    @property
    def score(self) -> float:
        return 1000.0 + self.points + PENALTY * min(self.listed_contacts, CAP)

    def adapt(self):
        feel = AWARE + CONTACT_W * self.listed_contacts + OWN_W * self.listed
        self.watched = self.risk_aversion * min(1.0, feel)

    def act(self):
        r = self.model.random
        chill, deter = 1 - CHILL * self.watched, 1 - DETER * self.watched
        acts = []
        if r.random() < P_MISS * (0.2 + 1.6 * self.fragility):
            acts.append("missed_payment")
        if r.random() < P_TRAFFIC * (1.5 - self.law) * deter:
            acts.append("traffic_offence")
        if self.internet and r.random() < P_POST * self.expressiveness**2 * chill:
            acts.append("critical_post")
        if r.random() < P_FLIGHT * self.travel and self.listed:
            self.blocked += 1
        for act in acts:  # the sources: detection, then a false record now and then
            if act == "critical_post" and self.vpn_hidden:
                continue
            if r.random() < DETECTION[act]:
                subject = self
                if r.random() < FALSE_RATE:
                    subject = r.choice(self.model.people)
                self.model.records.append((subject, POINTS[act]))

    def expire(self, step):
        while self.expiring and self.expiring[0][0] <= step:
            self.points -= self.expiring.pop(0)[1]


class ReferenceModel(mesa.Model):
    def __init__(self, n=10_000, seed=1):
        super().__init__(seed=seed)
        rng = np.random.default_rng(seed)
        people = [Person(self, rng) for _ in range(n)]
        self.people = people
        mean_income = sum(p.income for p in people) / n
        for p in people:
            p.travel = min(5.0, max(0.1, p.income / mean_income))
        self.graph = nx.Graph()
        self.graph.add_nodes_from(range(n))
        i = 0
        while i < n:  # households of 1 + Poisson(1.62), all pairs
            size = min(1 + rng.poisson(1.62), n - i)
            for a in range(i, i + size):
                for b in range(a + 1, i + size):
                    self.graph.add_edge(a, b, layer="household")
            i += size
        # community: a small world over people in random order (a ring over the household
        # order would mostly re-link household members)
        ws = nx.watts_strogatz_graph(n, 6, 0.1, seed=seed)
        order = rng.permutation(n)
        for a, b in ((order[x], order[y]) for x, y in ws.edges()):
            if not self.graph.has_edge(a, b):
                self.graph.add_edge(a, b, layer="community")
        self.ties = self.graph.number_of_edges()
        self.cut = 0
        self.records = []
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "listed_share": lambda m: sum(p.listed for p in m.people) / len(m.people),
                "ties_cut_share": lambda m: m.cut / m.ties,
            }
        )

    def step(self):
        self.agents.do("adapt")
        self.agents.shuffle_do("act")
        t = self.steps
        for person in self.people:
            person.expire(t)
        for subject, pts in self.records:  # scoring
            subject.points += pts
            subject.expiring.append((t + EXPIRY_STEPS, pts))
        self.records = []
        newly, gone = [], []
        for k, p in enumerate(self.people):  # the blacklist
            listed = p.score < THRESHOLD
            if listed != p.listed:
                (newly if listed else gone).append(k)
                p.listed = listed
        for k in newly + gone:  # listed contacts, for the association penalty
            d = 1 if self.people[k].listed else -1
            for j in self.graph.neighbors(k):
                self.people[j].listed_contacts += d
        for k, p in enumerate(self.people):  # avoidance of the visibly listed
            if not p.listed:
                continue
            for j in list(self.graph.neighbors(k)):
                q = self.people[j]
                if self.random.random() < CUT[self.graph.edges[k, j]["layer"]] * q.risk_aversion:
                    self.graph.remove_edge(k, j)
                    self.cut += 1
                    p.listed_contacts -= q.listed
                    q.listed_contacts -= p.listed
        self.datacollector.collect(self)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=52)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t0 = time.perf_counter()
    model = ReferenceModel(args.n, args.seed)
    t1 = time.perf_counter()
    for _ in range(args.steps):
        model.step()
    t2 = time.perf_counter()
    df = model.datacollector.get_model_vars_dataframe()
    print(
        f"mesa reference: n={args.n} seed={args.seed} build {t1 - t0:.2f} s loop "
        f"{t2 - t1:.2f} s listed_share {df['listed_share'].iloc[-1]:.4f} "
        f"ties_cut_share {df['ties_cut_share'].iloc[-1]:.4f} "
        f"blocked {sum(p.blocked for p in model.people)}"
    )


if __name__ == "__main__":
    main()
