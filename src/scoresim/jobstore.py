"""The server's jobs, kept in SQLite (ROOT/.server/jobs.sqlite) so that a server stopped or
killed mid-job finds, when it starts again, every job it had accepted: a job is committed to
disk before the request that made it is answered."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

STATES = ("queued", "running", "done", "failed")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,            -- run or compare
    title TEXT NOT NULL,
    request TEXT NOT NULL,         -- the request, as JSON
    state TEXT NOT NULL,           -- queued, running, done, failed
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    resume INTEGER NOT NULL DEFAULT 0,  -- 1: the next attempt continues from a checkpoint
    pid INTEGER,
    error TEXT,
    note TEXT                      -- what happened to it (a restart, a resume)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created);
"""
FIELDS = (
    "id", "kind", "title", "request", "state", "created", "started", "finished", "attempts",
    "resume", "pid", "error", "note",
)  # fmt: skip


class JobStore:
    """A thread-safe handle on the jobs table (one connection, one lock, WAL, full sync)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()

    def _all(self, sql: str, args=()) -> list[dict]:
        with self.lock:
            rows = self.db.execute(sql, args).fetchall()
        return [dict(zip(FIELDS, r)) for r in rows]

    def add(self, job_id: str, kind: str, title: str, request: dict, queue_limit: int) -> bool:
        """Queue a job unless ``queue_limit`` jobs already wait; False if refused. The check
        and the insert are one transaction, so concurrent requests never overfill it."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                (waiting,) = self.db.execute(
                    "SELECT COUNT(*) FROM jobs WHERE state = 'queued'"
                ).fetchone()
                if waiting >= queue_limit:
                    self.db.execute("ROLLBACK")
                    return False
                self.db.execute(
                    "INSERT INTO jobs (id, kind, title, request, state, created) "
                    "VALUES (?, ?, ?, ?, 'queued', ?)",
                    (job_id, kind, title, json.dumps(request), time.time()),
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return True

    def get(self, job_id: str) -> dict | None:
        rows = self._all(f"SELECT {', '.join(FIELDS)} FROM jobs WHERE id = ?", (job_id,))
        return rows[0] if rows else None

    def jobs(self, state: str | None = None, limit: int = 200) -> list[dict]:
        """Jobs newest first (or, for one state, oldest first: the queue's order)."""
        if state is None:
            return self._all(
                f"SELECT {', '.join(FIELDS)} FROM jobs ORDER BY created DESC LIMIT ?", (limit,)
            )
        return self._all(
            f"SELECT {', '.join(FIELDS)} FROM jobs WHERE state = ? ORDER BY created LIMIT ?",
            (state, limit),
        )

    def counts(self) -> dict[str, int]:
        with self.lock:
            rows = self.db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {s: 0 for s in STATES} | dict(rows)

    def update(self, job_id: str, **values) -> None:
        assert values and set(values) <= set(FIELDS) - {"id"}
        if "state" in values:
            assert values["state"] in STATES
        cols = ", ".join(f"{k} = ?" for k in values)
        with self.lock:
            self.db.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*values.values(), job_id))

    def close(self) -> None:
        with self.lock:
            self.db.close()
