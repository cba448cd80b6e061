"""Checkpoints, run status and crash-safe run directories.

A checkpoint holds the dynamic state of every world after a step. The society (persons,
firms, graphs, coverage) is not stored: it is rebuilt from the saved scenario and seed, which
gives the same arrays bit for bit, and the pickled worlds refer to it by name (pickle's
persistent ids). A resumed run therefore continues exactly where the checkpoint left it, and
its outputs are byte-identical to those of an uninterrupted run.

Every file is written atomically (atomic.py); ``DIR/status`` says
running, interrupted, failed or complete, and is set to complete only after every output is
in place.
"""

from __future__ import annotations

import io
import json
import pickle
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

from .atomic import write_atomic
from .scenario import ScenarioError

CHECKPOINT = "checkpoint"
STATE = "state.pkl"
STATUS = "status"
STATES = ("running", "interrupted", "failed", "complete")
OUTPUTS = ("scenario.toml", "timeseries.parquet", "summary.json")
FORMAT = 4  # raise when the pickled worlds change shape (2: compact pending expiries;
#            3: approval, grade-sanction onsets, representatives, the audit matrix;
#            4: the responses: travel knowledge, VPN use, policing, screening)


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


class _Pickler(pickle.Pickler):
    def __init__(self, fh, shared: dict[int, str]):
        super().__init__(fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.shared = shared

    def persistent_id(self, obj):
        return self.shared.get(id(obj))


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh, shared: dict[str, object]):
        super().__init__(fh)
        self.shared = shared

    def persistent_load(self, pid):
        return self.shared[pid]


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
    """Write the state after ``step`` (0-based) atomically into DIR/checkpoint/."""
    folder = out / CHECKPOINT
    folder.mkdir(parents=True, exist_ok=True)
    shared = {id(v): k for k, v in _shared(sim).items()}
    buf = io.BytesIO()
    _Pickler(buf, shared).dump({"format": FORMAT, "step": step, "worlds": sim.worlds})
    write_atomic(folder / STATE, buf.getvalue())


def load(sim, out: Path) -> int:
    """Restore the worlds of a built ``sim`` from DIR/checkpoint/; returns the next step."""
    path = out / CHECKPOINT / STATE
    with open(path, "rb") as fh:
        try:
            state = _Unpickler(fh, _shared(sim)).load()
        except Exception as e:  # torn by hand, or from another version's classes
            raise ScenarioError(path, "checkpoint", type(e).__name__, _UNREADABLE) from None
    found = state.get("format") if isinstance(state, dict) else None
    if found != FORMAT:
        raise ScenarioError(path, "format", found, _UNREADABLE)
    sim.worlds = state["worlds"]
    return int(state["step"]) + 1


_UNREADABLE = (
    f"this scoresim reads checkpoints of format {FORMAT} only (written by this version); "
    "run again without --resume (with --force to replace the folder's outputs)"
)


def has_checkpoint(out: Path) -> bool:
    return (out / CHECKPOINT / STATE).exists()


def remove(out: Path) -> None:
    """Remove our own checkpoint files (and the folder, if nothing else is in it)."""
    folder = out / CHECKPOINT
    for name in (STATE, "." + STATE + ".tmp"):
        try:
            (folder / name).unlink()
        except FileNotFoundError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass
