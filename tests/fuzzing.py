"""Hostile input for the scenario loader and the rule-expression language.

Each case is a scenario built by mutating a preset — random keys set to random values (huge
numbers, NaN, infinities, negative sizes, unicode, wrong types, deep nesting), random keys
added or deleted, random expressions in rule conditions — or a preset's TOML text with bytes
flipped, cut or repeated. Every case must end in a valid scenario (whose memory estimate is
then taken) or a ScenarioError: any other exception is a failure, and so is a case that takes
longer than the time limit.

The test suite runs a few hundred cases (tests/test_fuzz.py). The long run is one command:

    python tests/fuzzing.py --cases 10000 [--seed 1]

and prints the cases tried, tracebacks, hangs and the slowest case.
"""

from __future__ import annotations

import argparse
import copy
import random
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from scoresim.scenario import ScenarioError, from_dict, load, presets
from scoresim.sim import estimate_bytes

LIMIT_SECONDS = 5.0

NASTY = [
    0,
    -1,
    1,
    2**63,
    -(2**63),
    10**30,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    1e-320,
    0.5,
    -0.0,
    "",
    "x",
    "🙂" * 50,
    "a" * 10_000,
    "\x00",
    "'; drop table",
    True,
    False,
    [],
    [1, 2, 3],
    {},
    {"a": {"b": {"c": {}}}},
    [[[[[]]]]],
    None,
]
EXPRS = [
    "urban == 1",
    "(" * 200 + "1 > 0" + ")" * 200,
    "not " * 100 + "urban == 1",
    " and ".join(["urban == 1"] * 120),
    "__import__('os').system('true')",
    "a.b > 1",
    "score / 0 > 1",
    "score > 1e400",
    "income_quintile in [1, 2]",
    "🙂 > 1",
    "1 < 2 < 3",
    "-" * 900 + "1 > 0",
    "record_true == 1 or prior_records >= 3",
]


def _paths(node, prefix=()):
    """Every path into a nested dict/list."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _value(rng: random.Random):
    r = rng.random()
    if r < 0.5:
        return copy.deepcopy(rng.choice(NASTY))
    if r < 0.7:
        return rng.choice(EXPRS)
    if r < 0.85:
        return rng.uniform(-1e6, 1e6)
    nested = rng.choice(NASTY)
    for _ in range(rng.randint(1, 60)):
        nested = [nested] if rng.random() < 0.5 else {"k": nested}
    return nested


def mutate(rng: random.Random, base: dict) -> dict:
    data = copy.deepcopy(base)
    for _ in range(rng.randint(1, 4)):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = rng.choice(paths)
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = rng.random()
        try:
            if action < 0.6:
                parent[path[-1]] = _value(rng)
            elif action < 0.75 and isinstance(parent, dict):
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[rng.choice(["zzz", "🙂", "persons ", path[-1] + "_x"])] = _value(rng)
            else:
                parent.append(_value(rng))
        except (KeyError, IndexError, TypeError):
            pass
    if rng.random() < 0.3:  # a rule condition from the hostile list
        regime = data.get("regime") if isinstance(data, dict) else None
        rules = regime.get("rules") if isinstance(regime, dict) else None
        rules = [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []
        if rules:
            rng.choice(rules)["when"] = rng.choice(EXPRS) if rng.random() < 0.7 else _value(rng)
    return data


def mangle_text(rng: random.Random, text: str) -> str:
    b = bytearray(text.encode())
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(b))
        r = rng.random()
        if r < 0.4:
            b[i] = rng.randrange(256)
        elif r < 0.7:
            del b[i : i + rng.randint(1, 50)]
        else:
            b[i:i] = b[i : i + rng.randint(1, 200)] * rng.randint(1, 5)
    return b.decode("utf-8", errors="replace") if rng.random() < 0.5 else b.decode("latin-1")


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def run_case(rng: random.Random, bases: dict[str, dict], texts: dict[str, str], folder: Path):
    """One case: returns ('ok' | 'error' | 'traceback' | 'hang', seconds, detail)."""
    name = rng.choice(sorted(bases))
    started = time.perf_counter()
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, LIMIT_SECONDS)
    try:
        if rng.random() < 0.75:
            sc = from_dict(mutate(rng, bases[name]), f"<fuzz {name}>")
        else:
            path = folder / "case.toml"
            path.write_text(mangle_text(rng, texts[name]), encoding="utf-8", errors="replace")
            sc = load(path)
        estimate_bytes(sc)
        kind, detail = "ok", ""
    except ScenarioError as e:
        kind, detail = "error", str(e)[:200]
    except Hang:
        kind, detail = "hang", name
    except Exception:  # noqa: BLE001 - the point is to catch anything else
        kind, detail = "traceback", traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return kind, time.perf_counter() - started, detail


def corpus() -> tuple[dict[str, dict], dict[str, str]]:
    bases = {n: load(n).model_dump(mode="json") for n in presets()}
    texts = {n: p.read_text() for n, p in presets().items()}
    return bases, texts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    bases, texts = corpus()
    counts = {"ok": 0, "error": 0, "traceback": 0, "hang": 0}
    slowest = (0.0, "")
    first_traceback = ""
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.cases):
            kind, secs, detail = run_case(rng, bases, texts, Path(tmp))
            counts[kind] += 1
            if secs > slowest[0]:
                slowest = (secs, f"case {i} ({kind})")
            if kind == "traceback" and not first_traceback:
                first_traceback = detail
            if (i + 1) % 1000 == 0:
                print(f"{i + 1} cases: {counts}", flush=True)
    print(
        f"cases tried: {args.cases}; valid scenarios: {counts['ok']}; clear errors: "
        f"{counts['error']}; tracebacks: {counts['traceback']}; hangs: {counts['hang']}; "
        f"slowest case: {slowest[0] * 1000:.1f} ms ({slowest[1]})"
    )
    if first_traceback:
        print(first_traceback)
    return 1 if counts["traceback"] or counts["hang"] else 0


if __name__ == "__main__":
    sys.exit(main())
