"""The server's job queue: accepted jobs wait in the job store and run, a configurable number
at once, as the CLI's own commands (``python -m scoresim run|compare``) in child processes:
the same validation, memory guard, lock, checkpoints and outputs as at a terminal.

A job's run directory is ROOT/<id>/; its inputs (resolved scenario files) and the child's
output are in ROOT/.server/. A child is told to stop (SIGTERM: it saves a checkpoint) when
the server goes, however it goes; when the server starts again, every job that was running
is resumed from its checkpoint, restarted (nothing had been saved), adopted (its child is
still writing) or reported failed (it stopped too often) — none is lost silently.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import checkpoint as ckpt
from .atomic import RunLock, is_locked, write_atomic
from .atomic import alive as _alive
from .explorable import Limits, compare_scenarios, run_scenario
from .jobstore import JobStore
from .scenario import ScenarioError, load, to_toml

SERVER = ".server"  # ROOT/.server: the job store, the jobs' inputs and logs
MAX_ATTEMPTS = 3  # a job stopped this often (server restarts, crashes) is reported failed
PARENT = "SCORESIM_PARENT_PID"  # set for a job: __main__ makes it stop when the server goes
JOB_ID_LENGTH = 12  # hex digits


class QueueFull(Exception):
    """The queue holds as many waiting jobs as the server allows."""


def new_id() -> str:
    return secrets.token_hex(JOB_ID_LENGTH // 2)


def valid_id(text: str) -> bool:
    """Whether ``text`` could be a job id (hex, fixed length): nothing else names a folder."""
    return len(text) == JOB_ID_LENGTH and all(c in "0123456789abcdef" for c in text)


@dataclass
class Child:
    """A running job's process (or, adopted after a restart, only its pid)."""

    job_id: str
    process: subprocess.Popen | None
    pid: int


class Queue:
    def __init__(self, root: Path, limits: Limits, workers: int = 1, reports: bool = True):
        self.root = Path(root)
        self.limits = limits
        self.workers = workers
        self.reports = reports  # False: jobs skip report.html (a load test's small runs)
        self.server = self.root / SERVER
        # one server per root: a second would start the first one's jobs again
        self.lock = RunLock(self.server).acquire("--root")
        (self.server / "inputs").mkdir(parents=True, exist_ok=True)
        (self.server / "logs").mkdir(parents=True, exist_ok=True)
        self.store = JobStore(self.server / "jobs.sqlite")
        self.children: dict[str, Child] = {}
        self.estimates: dict[str, int] = {}  # job id -> the memory guard's estimate
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.recovered = self.recover()

    # ------------------------------------------------------------------ accepting
    def submit(self, kind: str, body) -> str:
        """Validate a request (ScenarioError: refused), write its inputs, queue it; its id.
        QueueFull where the queue is at its limit."""
        if kind == "run":
            scenarios = [run_scenario(body, self.limits)]
            title = _run_title(body, scenarios[0])
        elif kind == "compare":
            req, scenarios = compare_scenarios(body, self.limits)
            sc = scenarios[0]
            title = " vs ".join(req.presets) + _size_words(sc)
        else:
            raise ScenarioError("(request)", "kind", kind, "allowed: run, compare")
        full = QueueFull(f"the queue is full ({self.limits.queue} jobs waiting); try later")
        if self.store.counts()["queued"] >= self.limits.queue:
            raise full  # refused before anything is written (checked again when added)
        job_id = new_id()
        inputs = self.server / "inputs" / job_id
        inputs.mkdir()
        for i, sc in enumerate(scenarios):
            write_atomic(inputs / f"{i}-{sc.name}.toml", to_toml(sc).encode())
        if not self.store.add(job_id, kind, title, body, self.limits.queue):
            shutil.rmtree(inputs, ignore_errors=True)
            raise full
        return job_id

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name="scoresim-jobs", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop the dispatcher; running children are told to stop and save a checkpoint (they
        are resumed when the server starts again)."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
        self.store.close()
        self.lock.release()

    def _loop(self) -> None:
        # children are started from this thread only: they are told to stop when it ends
        # (PR_SET_PDEATHSIG, set in __main__), which is when the server ends
        while not self.stopping.is_set():
            try:
                self.dispatch()
            except Exception as e:  # noqa: BLE001 - the loop must go on; say why
                print(f"scoresim serve: job loop: {e!r}", file=sys.stderr, flush=True)
            self.stopping.wait(0.2)
        for child in self.children.values():
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in self.children.values():
            if child.process is not None:
                try:
                    child.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.process.kill()

    def dispatch(self) -> None:
        """Record the jobs that ended; start the oldest waiting ones while slots are free
        and their memory fits beside the running ones'."""
        self._reap()
        while len(self.children) < self.workers:
            waiting = self.store.jobs("queued", limit=1)
            if not waiting or not self._fits(waiting[0]):
                return
            try:
                self._launch(waiting[0])
            except Exception as e:  # noqa: BLE001 - a job that cannot start is reported
                self.store.update(
                    waiting[0]["id"],
                    state="failed",
                    finished=time.time(),
                    error=f"could not start: {type(e).__name__}: {e}"[:500],
                )

    def _estimate(self, job_id: str) -> int:
        if job_id not in self.estimates:
            from .sim import estimate_bytes

            inputs = self.inputs(job_id)
            self.estimates[job_id] = max((estimate_bytes(load(p)) for p in inputs), default=0)
        return self.estimates[job_id]

    def _fits(self, job: dict) -> bool:
        """Whether a job's memory fits beside the running jobs' (what they may still take,
        beyond what they hold now). Alone, it always starts: its own memory guard decides,
        and refuses it with the CLI's message if it cannot fit."""
        if not self.children:
            return True
        from .sim import available_bytes

        try:
            running = self.children.values()
            still = sum(max(0, self._estimate(c.job_id) - _rss(c.pid)) for c in running)
            need = self._estimate(job["id"])
        except Exception:  # noqa: BLE001 - no estimate: its child's own guard will decide
            return True
        return need + still <= available_bytes()

    def command(self, job: dict) -> list[str]:
        """The CLI command a job runs as."""
        out = str(self.run_dir(job["id"]))
        inputs = self.inputs(job["id"])
        base = [sys.executable, "-m", "scoresim"]
        extra = [] if self.reports else ["--no-report"]
        if job["kind"] == "compare":
            return [*base, "compare", *map(str, inputs), "--out", out, *extra]
        if job["resume"]:
            return [*base, "run", "--resume", out, *extra]
        return [*base, "run", str(inputs[0]), "--out", out, "--force", *extra]

    def _launch(self, job: dict) -> None:
        command = self.command(job)
        log = open(self.server / "logs" / f"{job['id']}.log", "ab")  # noqa: SIM115
        env = os.environ | {
            "COLUMNS": "100",
            "NO_COLOR": "1",
            "NUMBA_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // self.workers)),
            PARENT: str(os.getpid()),
        }
        try:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # a Ctrl-C at the server's terminal is the server's
            )
        finally:
            log.close()
        self.children[job["id"]] = Child(job["id"], process, process.pid)
        self.store.update(
            job["id"],
            state="running",
            started=time.time(),
            pid=process.pid,
            attempts=job["attempts"] + 1,
        )

    def _reap(self) -> None:
        for job_id, child in list(self.children.items()):
            if child.process is not None:
                code = child.process.poll()
                if code is None:
                    continue
            elif _alive(child.pid) and is_locked(self.run_dir(job_id)):
                continue  # adopted: its writer still holds the lock
            else:
                code = None
            del self.children[job_id]
            self._finished(job_id, code)

    def _finished(self, job_id: str, code: int | None) -> None:
        """Record how a child ended: done, failed (with its one-line error), or (stopped
        by a signal) queued again to continue."""
        self.estimates.pop(job_id, None)
        status = ckpt.read_status(self.run_dir(job_id))
        if status.get("status") == "complete":  # its outputs are whole, however it exited
            self.store.update(job_id, state="done", finished=time.time(), pid=None)
            return
        stopped = code in (130, -signal.SIGTERM, -signal.SIGKILL) or (
            code is None and status.get("status") != "failed"
        )
        if stopped:
            if not self.stopping.is_set():  # else the server is going: recover() decides
                self._again(job_id, "its process was stopped")
            return
        self.store.update(
            job_id, state="failed", finished=time.time(), pid=None, error=self.error_of(job_id)
        )

    def _again(self, job_id: str, why: str) -> None:
        """Queue a stopped job again: from its checkpoint where it has one, else afresh;
        reported failed after MAX_ATTEMPTS."""
        job = self.store.get(job_id)
        out = self.run_dir(job_id)
        if job["attempts"] >= MAX_ATTEMPTS:
            self.store.update(
                job_id,
                state="failed",
                finished=time.time(),
                pid=None,
                error=f"{why}, and it was stopped {job['attempts']} times; not tried again",
            )
            return
        resume = job["kind"] == "run" and ckpt.has_checkpoint(out)
        status = ckpt.read_status(out)
        # a running status tells the step reached; the checkpoint holds the one saved
        step = status.get("saved" if status.get("status") == "running" else "step")
        at = f" (step {step})" if step else ""
        note = (
            f"{why}; resumed from its checkpoint{at}"
            if resume
            else f"{why} before anything was saved; started again"
        )
        self.store.update(job_id, state="queued", resume=int(resume), pid=None, note=note)

    def recover(self) -> list[str]:
        """At start: decide about every job that was running when the server last stopped;
        returns what was decided, a line per job (the server prints them)."""
        said = []
        for job in self.store.jobs("running", limit=10_000):
            out = self.run_dir(job["id"])
            pid = job["pid"] or 0
            status = ckpt.read_status(out).get("status")
            if pid and _alive(pid) and is_locked(out):
                self.children[job["id"]] = Child(job["id"], None, pid)
                self.store.update(job["id"], note="still running after a server restart")
                said.append(f"{job['id']}: still running (pid {pid}), adopted")
            elif status == "complete":
                self.store.update(job["id"], state="done", pid=None)
                said.append(f"{job['id']}: had finished")
            elif status == "failed":  # on its own: not again
                error = self.error_of(job["id"])
                self.store.update(
                    job["id"], state="failed", finished=time.time(), pid=None, error=error
                )
                said.append(f"{job['id']}: had failed")
            else:
                self._again(job["id"], "the server stopped while it ran")
                said.append(f"{job['id']}: {self.store.get(job['id'])['note']}")
        return said

    # ------------------------------------------------------------------ reading
    def inputs(self, job_id: str) -> list[Path]:
        """A job's resolved scenario files, in the order its request named them."""
        return sorted((self.server / "inputs" / job_id).glob("*.toml"))

    def run_dir(self, job_id: str) -> Path:
        assert valid_id(job_id)
        return self.root / job_id

    def error_of(self, job_id: str) -> str:
        """A failed job's message: the CLI's one-line error, else the last lines it wrote."""
        try:
            text = (self.server / "logs" / f"{job_id}.log").read_text(errors="replace")
        except OSError:
            return "the job ended without a message"
        lines = [x.strip() for x in text.splitlines() if x.strip()]
        for i in range(len(lines) - 1, -1, -1):  # the last attempt's
            if lines[i].startswith("error:"):
                rest = [x for x in lines[i + 1 : i + 3] if not x.startswith(("Traceback", "File "))]
                return " ".join([lines[i].removeprefix("error:").strip(), *rest])[:500]
        last = lines[-1][:300] if lines else "no message"
        return f"the job ended unexpectedly ({last}); the server's log has the rest"

    def progress(self, job: dict) -> dict:
        """How far a job is: a fraction, a phase and (for a run) the step."""
        if job["state"] == "done":
            return {"fraction": 1.0, "phase": "done"}
        if job["state"] != "running":
            return {"fraction": 0.0, "phase": job["state"]}
        st = ckpt.read_status(self.run_dir(job["id"]))
        if st.get("phase") == "building":
            return {"fraction": 0.0, "phase": "building the society"}
        if "fraction" in st:
            return {"fraction": float(st["fraction"]), "phase": st.get("task") or "running"}
        if st.get("steps"):
            step, steps = int(st.get("step", 0)), int(st["steps"])
            return {"fraction": step / steps, "phase": "running", "step": step, "steps": steps}
        return {"fraction": 0.0, "phase": "starting"}

    def position(self, job_id: str) -> int | None:
        """A queued job's place in the queue (1: next)."""
        for k, job in enumerate(self.store.jobs("queued", limit=10_000), 1):
            if job["id"] == job_id:
                return k
        return None


def _run_title(body: dict, sc) -> str:
    return body["preset"] + _size_words(sc)


def _size_words(sc) -> str:
    years = sc.run.years
    return f" · {sc.population.persons:,} persons · {years:g} year{'' if years == 1 else 's'}"


def _rss(pid: int) -> int:
    """A process's resident memory in bytes (0 if it is gone)."""
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")
