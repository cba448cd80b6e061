"""Checkpoints, run status and crash-safe run directories.

A checkpoint holds the dynamic state of every world after a step. The society (persons,
firms, graphs, coverage) is not stored: it is rebuilt from the saved scenario and seed, which
gives the same arrays bit for bit, and the stored worlds refer to it by name. A resumed run
therefore continues exactly where the checkpoint left it, and its outputs are byte-identical
to those of an uninterrupted run. The worlds are stored as JSON and numpy arrays in one .npz
(no pickle: reading a checkpoint cannot run code), with a SHA-256 beside it; only scoresim's
own classes are rebuilt, by name.

Every file is written atomically (atomic.py); ``DIR/status`` says
running, interrupted, failed or complete, and is set to complete only after every output is
in place.
"""

from __future__ import annotations

import enum
import hashlib
import importlib
import io
import json
import math
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .atomic import write_atomic
from .scenario import ScenarioError

CHECKPOINT = "checkpoint"
STATE = "state.npz"
DIGEST = "state.sha256"
STATUS = "status"
STATES = ("running", "interrupted", "failed", "complete")
OUTPUTS = ("scenario.toml", "timeseries.parquet", "summary.json")
FORMAT = 5  # raise when the stored worlds change shape (2: compact pending expiries;
#            3: approval, grade-sanction onsets, representatives, the audit matrix;
#            4: the responses: travel knowledge, VPN use, policing, screening;
#            5: JSON and arrays instead of pickle, with a checksum)


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
            return {"$enum": f"{cls.__module__}:{cls.__qualname__}", "v": x.value}
        if x is None or isinstance(x, bool | int | float | str):
            return x if not isinstance(x, float) or math.isfinite(x) else {"$float": repr(x)}
        if id(x) in self.shared:
            return {"$shared": self.shared[id(x)]}
        if id(x) in self.seen:
            return {"$ref": self.seen[id(x)]}
        k = self.seen[id(x)] = len(self.seen)
        self.keep.append(x)
        if isinstance(x, np.ndarray):
            if x.dtype.hasobject:
                raise TypeError(f"an object array cannot go into a checkpoint: {x.dtype}")
            self.arrays[f"a{k}"] = x
            return {"$array": f"a{k}", "id": k}
        if isinstance(x, list):
            return {"$list": [self.encode(v) for v in x], "id": k}
        if isinstance(x, tuple) and not hasattr(x, "_fields"):
            return {"$tuple": [self.encode(v) for v in x], "id": k}
        if isinstance(x, dict):
            return {"$dict": [[self.encode(a), self.encode(b)] for a, b in x.items()], "id": k}
        if isinstance(x, set | frozenset):
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
            return _scoresim_class(x["$enum"])(x["v"])
        k = x["id"]
        if "$array" in x:
            out = self.made[k] = np.array(self.arrays[x["$array"]])
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
        if "$named" in x:
            out = self.made[k] = cls(*(self.decode(v) for v in x["v"]))
        else:
            out = self.made[k] = cls.__new__(cls)
            for name, value in self.decode(x["v"]).items():
                object.__setattr__(out, name, value)
        return out


def _scoresim_class(name: str) -> type:
    """A class of scoresim's own modules, by "module:qualname"; anything else is refused."""
    module, _, qualname = name.partition(":")
    if not module.startswith("scoresim.") or "<" in qualname:
        raise ValueError(f"{name} is not one of scoresim's classes")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type) or not obj.__module__.startswith("scoresim."):
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
    """Write the state after ``step`` (0-based) atomically into DIR/checkpoint/: the worlds
    as JSON and arrays in one .npz (no pickle: reading it cannot run code), with its format
    and, beside it, its SHA-256."""
    folder = out / CHECKPOINT
    folder.mkdir(parents=True, exist_ok=True)
    enc = _Encoder({id(v): k for k, v in _shared(sim).items()})
    tree = enc.encode(sim.worlds)
    meta = {"format": FORMAT, "step": step, "worlds": tree}
    text = json.dumps(meta, separators=(",", ":")).encode()
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.frombuffer(text, np.uint8), **enc.arrays)
    data = buf.getvalue()
    write_atomic(folder / STATE, data)
    write_atomic(folder / DIGEST, hashlib.sha256(data).hexdigest().encode())


def load(sim, out: Path) -> int:
    """Restore the worlds of a built ``sim`` from DIR/checkpoint/; returns the next step. A
    file whose SHA-256 is not the one written beside it, or that is not a checkpoint of this
    format, is refused (and kept)."""
    path = out / CHECKPOINT / STATE
    data = path.read_bytes()
    try:
        digest = (out / CHECKPOINT / DIGEST).read_text().strip()
    except OSError:
        digest = None
    if digest != hashlib.sha256(data).hexdigest():
        raise ScenarioError(path, "checksum", digest, _CORRUPT)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            meta = json.loads(arrays["__meta__"].tobytes())
            found = meta.get("format") if isinstance(meta, dict) else None
            if found != FORMAT:
                raise ScenarioError(path, "format", found, _UNREADABLE)
            worlds = _Decoder(_shared(sim), arrays).decode(meta["worlds"])
    except ScenarioError:
        raise
    except Exception as e:  # torn by hand, or from another version's classes
        raise ScenarioError(path, "checkpoint", type(e).__name__, _UNREADABLE) from None
    sim.worlds = worlds
    return int(meta["step"]) + 1


_CORRUPT = (
    "the checkpoint does not match its checksum (state.sha256): damaged or not written by "
    "scoresim; it is kept as it is. Run again without --resume (with --force to replace the "
    "folder's outputs)"
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
    for name in (STATE, "." + STATE + ".tmp", DIGEST, "." + DIGEST + ".tmp"):
        try:
            (folder / name).unlink()
        except FileNotFoundError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass
