"""Load on `scoresim serve`: C concurrent clients each submit small runs and poll their
status until done, against a server on 127.0.0.1 with a bounded queue. Reports how many were
accepted and refused (429, the queue limit), whether every accepted job completed, the most
jobs seen waiting, and the p50/p95/max latency of the status endpoint.

    python benchmarks/serve_load.py --clients 20 --jobs-per-client 1 --workers 2 --queue 5

tests/test_serve.py runs the same function (20 clients, a queue of 5, 300-person runs) and
asserts what must hold
(every accepted job done, the limit honoured, every status call answered); the latencies
are recorded in BENCHMARKS.md, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(
    url: str, body: dict | None = None, timeout: float = 30, raw: bytes | None = None
) -> tuple[int, dict]:
    """One HTTP request (a POST with ``body`` as JSON, or ``raw`` bytes); (status, JSON)."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def start_server(root: Path, port: int, *flags: str) -> subprocess.Popen:
    """`scoresim serve` in a child process (its own session: a test can SIGKILL it alone);
    returns once it answers."""
    log = open(Path(root) / f"serve-{port}.log", "ab")  # noqa: SIM115 - the child holds it
    command = [sys.executable, "-m", "scoresim", "serve", "--root", str(root), "--port"]
    process = subprocess.Popen(
        [*command, str(port), *flags],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = (Path(root) / f"serve-{port}.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"server exited: {said}")
        try:
            if call(url + "/api/health", timeout=2)[0] == 200:
                return process
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not answer within 60 s")


def load(url: str, clients: int, jobs_per_client: int, run: dict, deadline_s: float) -> dict:
    """Run the clients; their figures. A refused (429) submission is tried again after a
    pause until the deadline."""
    latencies: list[float] = []
    accepted: list[str] = []
    outcome: dict[str, str] = {}
    refused = [0]
    errors: list[str] = []
    waiting_max = [0]
    lock = threading.Lock()
    stop = threading.Event()
    end = time.monotonic() + deadline_s

    def watch() -> None:
        while not stop.is_set():
            code, h = call(url + "/api/health")
            if code == 200:
                with lock:
                    waiting_max[0] = max(waiting_max[0], h["counts"]["queued"])
            stop.wait(0.05)

    def client(k: int) -> None:
        for _ in range(jobs_per_client):
            while True:
                code, body = call(url + "/api/runs", run | {"seed": k})
                if code == 202:
                    break
                if code != 429 or time.monotonic() > end:
                    with lock:
                        errors.append(f"submit: {code} {body}")
                    return
                with lock:
                    refused[0] += 1
                time.sleep(0.5)
            job = body["id"]
            with lock:
                accepted.append(job)
            while time.monotonic() < end:
                t0 = time.perf_counter()
                code, status = call(url + f"/api/jobs/{job}")
                with lock:
                    latencies.append(time.perf_counter() - t0)
                if code != 200:
                    with lock:
                        errors.append(f"status: {code} {status}")
                    return
                if status["state"] in ("done", "failed"):
                    with lock:
                        outcome[job] = status["state"]
                    break
                time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    ms = sorted(1000 * x for x in latencies)
    return {
        "clients": clients,
        "accepted": len(accepted),
        "done": sum(1 for s in outcome.values() if s == "done"),
        "failed": sum(1 for s in outcome.values() if s == "failed"),
        "unfinished": len(accepted) - len(outcome),
        "refused_429": refused[0],
        "most_waiting": waiting_max[0],
        "status_calls": len(ms),
        "status_p50_ms": statistics.median(ms) if ms else None,
        "status_p95_ms": ms[int(0.95 * (len(ms) - 1))] if ms else None,
        "status_max_ms": ms[-1] if ms else None,
        "seconds": time.monotonic() - t0,
        "errors": errors,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--jobs-per-client", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--queue", type=int, default=5)
    ap.add_argument("--persons", type=int, default=500)
    ap.add_argument("--years", type=float, default=0.25)
    ap.add_argument("--deadline", type=float, default=600)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as root:
        port = free_port()
        server = start_server(
            Path(root), port, "--workers", str(a.workers), "--queue", str(a.queue), "--no-reports"
        )
        try:
            figures = load(
                f"http://127.0.0.1:{port}",
                a.clients,
                a.jobs_per_client,
                {"preset": "article", "persons": a.persons, "years": a.years},
                a.deadline,
            )
        finally:
            server.terminate()
            server.wait(30)
    figures["machine"] = f"{os.cpu_count()} cores"
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
