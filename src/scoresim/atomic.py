"""Files that are never half-written, and the lock of a run directory.

Every output goes through ``write_atomic``: a temporary name, written, flushed and fsynced,
then renamed over the old file and the folder fsynced, so a reader (or a crash) sees the old
file or the new one, never a torn one. A run directory being written is locked
(``RunLock``): a second writer is refused while the first is alive, and a lock left by a
killed process is not a lock (the operating system releases it with the process).
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from .scenario import ScenarioError

LOCK = ".lock"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new, never half."""
    tmp = path.with_name("." + path.name + ".tmp")
    with open(tmp, "wb") as fh:
        half = len(data) // 2
        fh.write(data[:half])
        fault_point(f"mid-write:{path.name}")  # a crash with the new file half written
        fh.write(data[half:])
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def fault_point(name: str) -> None:
    """Fault injection for the crash-safety tests: SCORESIM_FAULT=NAME kills the process here,
    as a power cut would (no clean-up, no exception handlers). Inert otherwise."""
    if os.environ.get("SCORESIM_FAULT") == name:
        os._exit(137)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class RunLock:
    """An exclusive lock on a run directory, held while a process writes it: an advisory
    ``flock`` on DIR/.lock (which names the holder's pid and start time). The kernel drops it
    when the holder exits or is killed, so a stale lock file never blocks a new run."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.fd: int | None = None

    def acquire(self, option: str = "--out") -> RunLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise busy(self.folder, option) from None
        os.ftruncate(fd, 0)
        since = datetime.now(UTC).isoformat(timespec="seconds")
        os.write(fd, json.dumps({"pid": os.getpid(), "since": since}).encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire() if self.fd is None else self

    def __exit__(self, *exc) -> None:
        self.release()


def busy(folder: Path, option: str = "--out") -> ScenarioError:
    """The error for a run directory another process is writing, naming that process."""
    holder = holder_of(folder)
    return ScenarioError(
        "(command line)",
        option,
        str(folder),
        "is being written by another scoresim process"
        + (f" (pid {holder['pid']}, since {holder['since']})" if holder else "")
        + "; wait for it to finish or stop it, then try again",
    )


def is_locked(folder: Path) -> bool:
    """Whether a live process holds the lock of a run directory (a lock file left by a killed
    process is not held). Looks without creating anything."""
    try:
        fd = os.open(Path(folder) / LOCK, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock taken here
    return False


def holder_of(folder: Path) -> dict | None:
    """Who holds (or last held) the lock of a run directory: {pid, since}, or None."""
    try:
        return json.loads((Path(folder) / LOCK).read_text())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
