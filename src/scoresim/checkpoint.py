"""Checkpoints, run status and crash-safe run directories.

A checkpoint holds the dynamic state of every world after a step. The society (persons,
firms, graphs, coverage) is not stored: it is rebuilt from the saved scenario and seed, which
gives the same arrays bit for bit, and the stored worlds refer to it by name. A resumed run
therefore continues exactly where the checkpoint left it, and its outputs are byte-identical
to those of an uninterrupted run. The worlds are stored as JSON and numpy arrays in one .npz
with a SHA-256 inside it (no pickle: reading a checkpoint runs no constructor; only classes
defined by scoresim are rebuilt, by name, from their attributes).

Every file is written atomically (atomic.py); ``DIR/status`` says
running, interrupted, failed or complete, and is set to complete only after every output is
in place.
"""

from __future__ import annotations

import enum
import hashlib
import io
import json
import math
import sys
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .atomic import write_atomic
from .scenario import ScenarioError

CHECKPOINT = "checkpoint"
STATE = "state.npz"
OLD_FILES = ("state.pkl", "state.sha256")  # left by earlier versions: removed with ours
STATUS = "status"
STATES = ("running", "interrupted", "failed", "complete")
OUTPUTS = ("scenario.toml", "timeseries.parquet", "summary.json")
FORMAT = 19  # raise when the stored worlds change shape (2: compact pending expiries;
#            3: approval, grade-sanction onsets, representatives, the audit matrix;
#            4: the responses: travel knowledge, VPN use, policing, screening;
#            5: JSON and arrays instead of pickle, with a checksum;
#            6: schedules: each world's phase, recorder grade columns, lists a change closed;
#            7: the credit market;
#            8: the recorder's persons by cell and its column map;
#            9: each world's tick ceilings;
#            10: the active ties as a bitset, a bit an entry; steps in int16; pending
#                records compact, scoring.Pending;
#            11: a ledger's scratch a bit an agent, its sums of a step's changes by agent;
#            12: a sanction outcome's restrictions and rewards read from its bits;
#            13: what each sanction bit does held by the outcome, no income column, a
#                list's marks a bit each;
#            14: no degree columns (counted from the active bits); policing's first
#                pressure in a world's step integer, kept only where policing is on; no
#                column of what the sources see of a person now (from VPN use); sums of
#                layer weights in float32 where exact;
#            15: a world's result of a persons' pass shared with the twin, World.behaved;
#            16: approval's yes/no columns a bit each of one byte, ApprovalState.flags;
#            17: pending records' gaps 7 bits a byte, with their count;
#            18: no gap stored for a group's first subject;
#            19: the recorder's sums kept by change, tally.Tally)


def set_status(out: Path, state: str, **extra) -> None:
    assert state in STATES
    doc = {"status": state, "updated": datetime.now(UTC).isoformat(timespec="seconds")}
    doc.update(extra)
    write_atomic(out / STATUS, (json.dumps(doc, indent=2) + "\n").encode())


def read_status(out: Path) -> dict:
    try:
        return json.loads((out / STATUS).read_text())
    except (OSError, ValueError):
        return {}


class _Encoder:
    """A world as JSON and arrays, never as code: numbers, strings, lists, dicts and tuples go
    into JSON; every numpy array into an .npz member (object arrays refused); objects of
    scoresim's own classes as their class name and their attributes; what the society and
    scenario hold as a name ({"$shared": ...}). An object met twice is stored once and
    referred to ({"$ref": k}), so what two parts of a world share they share again."""

    def __init__(self, shared: dict[int, str]):
        self.shared = shared
        self.arrays: dict[str, np.ndarray] = {}
        self.seen: dict[int, int] = {}
        self.keep: list = []  # keeps encoded objects alive, so their ids stay unique

    def encode(self, x):
        if isinstance(x, np.generic):  # before float: np.float64 is a float, and must stay one
            return {"$np": x.dtype.str, "v": self.encode(x.item())}
        if isinstance(x, enum.Enum):  # before int and str: an IntEnum stays an IntEnum
            cls = type(x)
            if not cls.__module__.startswith("scoresim."):
                raise TypeError(f"{cls.__qualname__} is not one of scoresim's enums")
            return {"$enum": f"{cls.__module__}:{cls.__qualname__}", "v": x.value}
        if x is None or isinstance(x, bool | int | float | str):
            return x if not isinstance(x, float) or math.isfinite(x) else {"$float": repr(x)}
        if id(x) in self.shared:
            return {"$shared": self.shared[id(x)]}
        if id(x) in self.seen:
            return {"$ref": self.seen[id(x)]}
        k = self.seen[id(x)] = len(self.seen)
        self.keep.append(x)
        if type(x) is np.ndarray:
            if x.dtype.hasobject:
                raise TypeError(f"an object array cannot go into a checkpoint: {x.dtype}")
            self.arrays[f"a{k}"] = x
            return {"$array": f"a{k}", "id": k}
        if type(x) is list:  # exact types: a subclass (defaultdict, ...) is refused below
            return {"$list": [self.encode(v) for v in x], "id": k}
        if type(x) is tuple:
            return {"$tuple": [self.encode(v) for v in x], "id": k}
        if type(x) is dict:
            return {"$dict": [[self.encode(a), self.encode(b)] for a, b in x.items()], "id": k}
        if type(x) in (set, frozenset):
            kind = "$set" if isinstance(x, set) else "$frozenset"
            return {kind: [self.encode(v) for v in sorted(x, key=repr)], "id": k}
        cls = type(x)
        name = f"{cls.__module__}:{cls.__qualname__}"
        if not cls.__module__.startswith("scoresim."):
            raise TypeError(f"{name} is not one of scoresim's classes: not checkpointed")
        if isinstance(x, tuple):  # a NamedTuple
            return {"$named": name, "v": [self.encode(v) for v in x], "id": k}
        return {"$obj": name, "v": self.encode(_attributes(x)), "id": k}


def _attributes(x) -> dict:
    out = dict(getattr(x, "__dict__", {}))
    for cls in type(x).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if hasattr(x, slot):
                out[slot] = getattr(x, slot)
    return out


class _Decoder:
    """The inverse of _Encoder; builds only scoresim's own classes, by name, and runs none of
    their code (objects are made with __new__ and given their attributes)."""

    def __init__(self, shared: dict[str, object], arrays):
        self.shared, self.arrays = shared, arrays
        self.made: dict[int, object] = {}

    def decode(self, x):
        if not isinstance(x, dict):
            return x
        if "$float" in x:
            return float(x["$float"])
        if "$shared" in x:
            return self.shared[x["$shared"]]
        if "$np" in x:
            return np.dtype(x["$np"]).type(self.decode(x["v"]))
        if "$ref" in x:
            return self.made[x["$ref"]]
        if "$enum" in x:
            cls = _scoresim_class(x["$enum"])
            if not issubclass(cls, enum.Enum):
                raise ValueError(f"{x['$enum']} is not an enum")
            return cls(x["v"])  # an Enum's lookup of a member by value, nothing else
        k = x["id"]
        if "$array" in x:
            a = self.arrays[x["$array"]]
            # all-zero columns (a bare world's) as fresh zeros: untouched, no memory until
            # written, as they were before the checkpoint (the same bytes either way)
            zero = not np.ascontiguousarray(a).reshape(-1).view(np.uint8).any()
            out = self.made[k] = np.zeros(a.shape, a.dtype) if zero else np.array(a)
            return out
        if "$list" in x:
            out = self.made[k] = []
            out.extend(self.decode(v) for v in x["$list"])
            return out
        if "$dict" in x:
            out = self.made[k] = {}
            for a, b in x["$dict"]:
                out[self.decode(a)] = self.decode(b)
            return out
        for kind, make in (("$tuple", tuple), ("$set", set), ("$frozenset", frozenset)):
            if kind in x:
                out = self.made[k] = make(self.decode(v) for v in x[kind])
                return out
        cls = _scoresim_class(x.get("$named") or x["$obj"])
        if "$named" in x:  # a NamedTuple, made as the tuple it is (its own code not run)
            if not (issubclass(cls, tuple) and hasattr(cls, "_fields")):
                raise ValueError(f"{x['$named']} is not a named tuple")
            out = self.made[k] = tuple.__new__(cls, [self.decode(v) for v in x["v"]])
        else:
            out = self.made[k] = cls.__new__(cls)
            for name, value in self.decode(x["v"]).items():
                object.__setattr__(out, name, value)
        return out


def _scoresim_class(name: str) -> type:
    """A class defined in scoresim's own modules, by "module:qualname", found among the
    module's own names and classes (no attribute of an instance or another module is
    followed); anything else is refused."""
    module, _, qualname = name.partition(":")
    if not module.startswith("scoresim.") or not qualname:
        raise ValueError(f"{name} is not one of scoresim's classes")
    parts = qualname.split(".")
    loaded = sys.modules.get(module)  # only modules already imported: none is run for this
    obj = vars(loaded).get(parts[0]) if loaded is not None else None
    for part in parts[1:]:
        obj = vars(obj).get(part) if isinstance(obj, type) else None
    ok = isinstance(obj, type) and obj.__module__ == module and obj.__qualname__ == qualname
    if not ok:
        raise ValueError(f"{name} is not a class defined by scoresim")
    return obj


def _shared(sim) -> dict[str, object]:
    """What a checkpoint refers to by name instead of storing: the society and scenario."""
    from .sim import NONE_REGIME

    s = sim.society
    out: dict[str, object] = {
        "society": s,
        "scenario": sim.scenario,
        "regime": sim.scenario.regime,
        "none": NONE_REGIME,
    }
    for f in fields(s):  # every static column of the society, by its name
        out[f.name] = getattr(s, f.name)
    return out


def save(sim, out: Path, step: int) -> None:
    """Write the state after ``step`` (0-based) atomically into DIR/checkpoint/state.npz:
    the worlds as JSON and arrays (no pickle), the format, the fingerprint of the scenario
    they belong to, and a SHA-256 over all of it, in one file."""
    folder = out / CHECKPOINT
    folder.mkdir(parents=True, exist_ok=True)
    enc = _Encoder({id(v): k for k, v in _shared(sim).items()})
    tree = enc.encode(sim.worlds)
    meta = {"format": FORMAT, "step": step, "scenario": _fingerprint(sim), "worlds": tree}
    text = np.frombuffer(json.dumps(meta, separators=(",", ":")).encode(), np.uint8)
    members = {"__meta__": text, **enc.arrays}
    digest = np.frombuffer(_digest(members).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, __digest__=digest, **members)
    write_atomic(folder / STATE, buf.getvalue())


def _digest(members) -> str:
    """SHA-256 over every member's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(members):
        a = np.ascontiguousarray(members[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _fingerprint(sim) -> str:
    """Which run a checkpoint belongs to: the resolved scenario and the society's size."""
    from .scenario import to_toml

    s = sim.society
    text = f"{to_toml(sim.scenario)}|{s.persons.n}|{s.firms.n}|{s.graph.entries}"
    return hashlib.sha256(text.encode()).hexdigest()


def load(sim, out: Path) -> int:
    """Restore the worlds of a built ``sim`` from DIR/checkpoint/; returns the next step. A
    file that is not a checkpoint of this format, does not match its own SHA-256, or belongs
    to another scenario is refused (and kept)."""
    path = out / CHECKPOINT / STATE
    try:
        with np.load(path, allow_pickle=False) as npz:
            members = {name: npz[name] for name in npz.files}
        digest = members.pop("__digest__", np.zeros(0, np.uint8)).tobytes().decode()
        meta = json.loads(members["__meta__"].tobytes())
        found = meta.get("format") if isinstance(meta, dict) else None
        if found != FORMAT:
            raise ScenarioError(path, "format", found, _UNREADABLE)
        if digest != _digest(members):
            raise ScenarioError(path, "checksum", digest[:12], _CORRUPT)
        if meta.get("scenario") != _fingerprint(sim):
            raise ScenarioError(path, "scenario", "another run's", _FOREIGN)
        worlds = _Decoder(_shared(sim), members).decode(meta["worlds"])
        step = int(meta["step"]) + 1
    except ScenarioError:
        raise
    except Exception as e:  # torn by hand, or from another version's classes
        raise ScenarioError(path, "checkpoint", type(e).__name__, _UNREADABLE) from None
    sim.worlds = worlds
    return step


_FOREIGN = (
    "this checkpoint belongs to another run (another scenario, seed or size than "
    "scenario.toml); it is kept as it is. Run again without --resume (with --force)"
)
_CORRUPT = (
    "the checkpoint does not match its own checksum: damaged (a checksum finds damage, not "
    "tampering); it is kept as it is. Run again without --resume (with --force to replace "
    "the folder's outputs)"
)
_UNREADABLE = (
    f"this scoresim reads checkpoints of format {FORMAT} only (written by this version); "
    "run again without --resume (with --force to replace the folder's outputs)"
)


def has_checkpoint(out: Path) -> bool:
    return (out / CHECKPOINT / STATE).exists()


def remove(out: Path) -> None:
    """Remove our own checkpoint files (and the folder, if nothing else is in it)."""
    folder = out / CHECKPOINT
    for name in (STATE, "." + STATE + ".tmp", *OLD_FILES):
        try:
            (folder / name).unlink()
        except FileNotFoundError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass
