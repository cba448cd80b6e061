"""``scoresim serve``: the explorable, a web page where anyone can put a society under a
regime and see what it does (FastAPI on uvicorn; every asset is in the package, nothing is
fetched from elsewhere).

Every request is validated by the scenario models the CLI uses and refused with the same
one-line message (a 4xx, never a traceback); oversize requests are refused before they are
read; nothing from a request names a file (job ids are the server's own hex strings); jobs
run through scoresim.jobs.
"""

from __future__ import annotations

import html
import io
import json
import math
import zipfile
from contextlib import asynccontextmanager
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import pyarrow.parquet as pq
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from . import definitions
from .explorable import SAFEGUARDS, Limits, preset_card
from .jobs import Queue, QueueFull, valid_id
from .results import (
    HEADLINE,
    audit_rows,
    format_count,
    format_value,
    headline_value,
    lending_cells,
)
from .scenario import STEP_YEARS, ScenarioError, presets

MAX_BODY = 16_384  # bytes: a request is a handful of parameters
WEB = files("scoresim").joinpath("web")

PARAMETERS = {
    "persons": "How many persons the synthetic society has (firms, households and ties grow "
    "with it). Larger societies give steadier shares and take longer.",
    "years": "How long the system runs. The society first lives two years with no system, "
    "so that loans, defaults and lawsuits are under way when it starts.",
    "seed": "The random seed: the same seed and settings give the same numbers, every time.",
    "association": "Penalties for one's contacts: a listed contact lowers your score, and a "
    "firm's sanctions reach its legal representative.",
    "false_record_rate": "The share of every source's records put on the wrong person "
    "(identity mix-ups, data entry): the harm of an error, not of a deed.",
    "publicity": "How public scores and lists are (0: secret; 1: published, with names): "
    "the more public, the more contacts shun a listed person.",
    "twin": "Run the same society, with the same random numbers, under no system, so every "
    "effect is a difference you can attribute. Off: faster, but no comparison.",
}

# the figures of a run: (key, title, numerator metric, a share of persons or a mean per person)
FIGURES = (
    ("listed", "On a list", "listed", "share"),
    ("sanctioned", "Sanctioned this step", "sanctioned", "share"),
    ("wrongly_sanctioned", "Sanctioned because of a false record", "wrongly_sanctioned", "share"),
    (
        "association_sanctioned",
        "Sanctioned because of a contact",
        "association_sanctioned",
        "share",
    ),
    ("watched", "Feel watched", "watched", "mean"),
    ("isolated", "No tie left", "isolated", "share"),
    ("approving", "Approve of the system", "approving", "share"),
    ("score", "Mean score", "score_sum", "mean"),
    ("income", "Income per person (yuan a step)", "income", "mean"),
)
RUN_ONLY = ("score",)  # the twin keeps no score: its "score" is the base, not a finding
FIGURE_TEXT = {
    "listed": "persons of the group on any list at the step / persons of the group",
    "sanctioned": "persons of the group under any sanction at the step / persons",
    "wrongly_sanctioned": "persons sanctioned at the step only because of false records",
    "association_sanctioned": "persons sanctioned at the step only because of their contacts",
    "watched": "mean of how watched persons feel (0 to 1), which cuts what they say and do",
    "isolated": "persons with no active tie left / persons",
    "approving": "persons approving of the system (approval >= 0.5) / persons",
    "score": "mean shown score of the group (not drawn where the regime keeps no score; the "
    "twin keeps none)",
    "income": "income summed over the group at the step / persons of the group",
}


def create_app(queue: Queue) -> FastAPI:
    """The app over a job queue (whose dispatcher it starts and stops with the server)."""
    limits = queue.limits

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        queue.start()
        yield
        queue.stop()

    app = FastAPI(
        title="scoresim",
        docs_url=None,  # the interactive docs load scripts from a CDN: not here
        redoc_url=None,
        lifespan=lifespan,
    )
    app.mount("/static", StaticFiles(directory=str(WEB)), name="static")

    @app.middleware("http")
    async def bounded(request: Request, call_next):
        """Oversize or unsized request bodies are refused before they are read."""
        if request.method in ("POST", "PUT", "PATCH"):
            size = request.headers.get("content-length")
            if size is None:
                return _error(411, "a request needs a Content-Length header")
            if not size.isdigit() or int(size) > MAX_BODY:
                return _error(413, f"a request may carry at most {MAX_BODY:,} bytes")
        try:
            return await call_next(request)
        except Exception as e:  # noqa: BLE001 - a one-line error, never a traceback
            return _error(500, f"internal error: {type(e).__name__}: {e}"[:300])

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(WEB.joinpath("index.html").read_text(encoding="utf-8"))

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/definitions", response_class=HTMLResponse)
    def definitions_page() -> HTMLResponse:
        return HTMLResponse(_definitions_html())

    @app.get("/api/presets")
    def api_presets() -> dict:
        return {
            "presets": [preset_card(name, limits) for name in sorted(presets())],
            "safeguards": [s.__dict__ for s in SAFEGUARDS],
            "parameters": PARAMETERS,
            "limits": limits.__dict__,
        }

    async def _body(request: Request):
        raw = await request.body()
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise ScenarioError(
                "(request)", "body", raw[:40].decode(errors="replace"), "must be a JSON object"
            ) from None

    async def _submit(kind: str, request: Request) -> JSONResponse:
        try:
            body = await _body(request)
            if not isinstance(body, dict):
                raise ScenarioError("(request)", "body", body, "must be a JSON object")
            job_id = await run_in_threadpool(queue.submit, kind, body)  # it writes, fsyncs
        except ScenarioError as e:
            return _error(422, str(e))
        except QueueFull as e:
            return _error(429, str(e))
        return JSONResponse({"id": job_id}, status_code=202)

    @app.post("/api/runs")
    async def api_run(request: Request):
        return await _submit("run", request)

    @app.post("/api/compare")
    async def api_compare(request: Request):
        return await _submit("compare", request)

    @app.get("/api/jobs")
    def api_jobs() -> dict:
        jobs = [_job_view(queue, j) for j in queue.store.jobs()]
        return {"jobs": jobs, "counts": queue.store.counts()}

    @app.get("/api/health")
    def api_health() -> dict:
        return {
            "ok": True,
            "workers": queue.workers,
            "running": len(queue.children),
            "counts": queue.store.counts(),
            "queue_limit": limits.queue,
        }

    def _job(job_id: str) -> dict | None:
        return queue.store.get(job_id) if valid_id(job_id) else None

    def _done(job_id: str, kind: str | None = None) -> dict | JSONResponse:
        """A finished job (of ``kind``), or the 404/409 that says why not."""
        job = _job(job_id)
        if job is None or kind not in (None, job["kind"]):
            return _error(404, f"no {kind or 'job'} {job_id[:40]!r}")
        if job["state"] != "done":
            return _error(409, f"job {job_id} is {job['state']}, not done")
        return job

    @app.get("/api/jobs/{job_id}")
    def api_job(job_id: str):
        job = _job(job_id)
        if job is None:
            return _error(404, f"no job {job_id[:40]!r}")
        return _job_view(queue, job, full=True)

    @app.get("/api/jobs/{job_id}/result")
    def api_result(job_id: str):
        job = _done(job_id)
        if isinstance(job, JSONResponse):
            return job
        out = queue.run_dir(job_id)
        return _compare_result(out) if job["kind"] == "compare" else _run_result(out)

    @app.get("/api/jobs/{job_id}/series")
    def api_series(job_id: str, group: str = "all"):
        job = _done(job_id, "run")
        if isinstance(job, JSONResponse):
            return job
        try:
            return _series(str(queue.run_dir(job_id)), group)
        except KeyError:
            return _error(422, f"(request): group = {group[:40]!r}: not a group of this run")

    @app.get("/api/jobs/{job_id}/download")
    def api_download(job_id: str):
        job = _done(job_id)
        if isinstance(job, JSONResponse):
            return job
        data = _zip(queue.run_dir(job_id))
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="scoresim-{job_id}.zip"'},
        )

    @app.get("/jobs/{job_id}/report.html", response_class=HTMLResponse)
    def report(job_id: str):
        job = _job(job_id)
        path = queue.run_dir(job_id) / "report.html" if job else None
        if path is None or not path.is_file():
            return _error(404, f"no report for {job_id[:40]!r}")
        return HTMLResponse(path.read_text(encoding="utf-8"))

    @app.get("/jobs/{job_id}/figures/{name}")
    def report_figure(job_id: str, name: str):
        """The figures a report links to (DIR/figures/NAME.png|svg, nothing else)."""
        job = _job(job_id)
        stem, _, ext = name.partition(".")
        if job is None or ext not in ("png", "svg") or not stem.replace("_", "").isalnum():
            return _error(404, f"no figure {name[:40]!r}")
        path = queue.run_dir(job_id) / "figures" / f"{stem}.{ext}"
        if not path.is_file():
            return _error(404, f"no figure {name[:40]!r}")
        kind = "image/png" if ext == "png" else "image/svg+xml"
        return Response(path.read_bytes(), media_type=kind)

    return app


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _error(status: int, message: str) -> JSONResponse:
    """A 4xx/5xx with one line (a request's key could hold a line break)."""
    return JSONResponse({"error": " ".join(message.splitlines())}, status_code=status)


def _job_view(q: Queue, job: dict, full: bool = False) -> dict:
    view = {
        k: job[k]
        for k in (
            "id",
            "kind",
            "title",
            "state",
            "created",
            "started",
            "finished",
            "note",
            "error",
            "attempts",
        )
    }
    view["progress"] = q.progress(job)
    if job["state"] == "queued":
        view["position"] = q.position(job["id"]) if full else None
    if full:
        view["request"] = json.loads(job["request"])
    return view


def _row(key: str, label: str, kind: str, summary: dict, twin: dict | None) -> dict:
    counts = summary.get("counts") or {}
    mine = headline_value(summary, key)
    return {
        "key": key,
        "anchor": definitions.anchor(key),
        "label": label,
        "run": mine,
        "twin": headline_value(twin, key) if twin else None,
        "run_text": format_value(mine, kind),
        "twin_text": format_value(headline_value(twin, key), kind) if twin else "—",
        "count": format_count(counts.get(key)) if mine is not None else "",
    }


def _run_result(out: Path) -> dict:
    summary = read_json(out / "summary.json") or {}
    twin = summary.get("twin")
    rows = [_row(h.key, h.label, h.kind, summary, twin) for h in HEADLINE]
    audit = {}
    for key in ("audit_matrix", "firm_audit_matrix"):
        r, c, v = audit_rows(summary.get(key))
        audit[key] = {"rows": r, "columns": c, "values": v}
    import tomllib

    scenario = tomllib.loads((out / "scenario.toml").read_text())
    return {
        "kind": "run",
        "persons": scenario["population"]["persons"],
        "years": scenario["run"]["years"],
        "seed": scenario["run"]["seed"],
        "twin": twin is not None,
        "headline": [r for r in rows if r["run"] is not None],
        "audit": audit,
        "figures": [
            {"key": k, "title": t, "definition": FIGURE_TEXT[k], "percent": kind == "share"}
            for k, t, _, kind in FIGURES
            if k != "score" or _scored(scenario)
        ],
        "groups": _groups(str(out)),
        "lending": _lending(summary),
        "report": (out / "report.html").is_file(),
    }


def _lending(summary: dict) -> dict | None:
    """A credit market's table (results.lending_cells), or None."""
    if not summary.get("lending"):
        return None
    heads, rows = lending_cells(summary)
    return {"columns": heads, "rows": [{"label": x, "values": v} for x, v in rows]}


def _compare_result(out: Path) -> dict:
    meta = read_json(out / "comparison.json") or {}
    table = pq.read_table(out / "comparison.parquet").to_pandas()
    table = table[table["member"] == 0]
    regimes = list(meta.get("presets") or dict.fromkeys(table["preset"]))
    cells = {(r.preset, r.metric): (r.run, r.twin) for r in table.itertuples()}
    rows = []
    for h in HEADLINE:
        pairs = [cells.get((p, h.key), (None, None)) for p in regimes]
        runs = [_number(run) for run, _ in pairs]
        if all(v is None for v in runs):
            continue
        twin = next((t for _, t in pairs if _number(t) is not None), None)
        rows.append(
            {
                "key": h.key,
                "anchor": definitions.anchor(h.key),
                "label": h.label,
                "kind": h.kind,
                "values": [format_value(v, h.kind) for v in runs],
                "raw": runs,
                "twin": format_value(twin, h.kind),
            }
        )
    return {
        "kind": "compare",
        "regimes": regimes,
        "rows": rows,
        "report": (out / "report.html").is_file(),
    }


def _number(x) -> float | None:
    """A cell of a table as a number (None where it is missing or NaN)."""
    return None if x is None or x != x else float(x)


def _scored(scenario: dict) -> bool:
    """Whether a run's regime (in any phase) keeps a score."""
    changes = scenario.get("schedule", [])
    regimes = [scenario.get("regime", {})] + [c.get("regime", {}) for c in changes]
    families = [r.get("scoring", {}).get("family", "none") for r in regimes]
    return any(f != "none" for f in families) or any("regime_from" in c for c in changes)


@lru_cache(maxsize=64)
def _groups(out: str) -> list[str]:
    table = pq.read_table(Path(out) / "timeseries.parquet", columns=["group"])
    return list(dict.fromkeys(str(g) for g in table.column("group").to_pylist()))


@lru_cache(maxsize=256)
def _series(out: str, group: str) -> dict:
    """The figures' series of one group of a finished run: run and twin per step."""
    if group not in _groups(out):
        raise KeyError(group)
    import tomllib

    wanted = {"persons"} | {m for _, _, m, _ in FIGURES}
    table = pq.read_table(
        Path(out) / "timeseries.parquet",
        filters=[("group", "=", group), ("metric", "in", sorted(wanted))],
    ).to_pandas()
    table["metric"] = table["metric"].astype(str)
    steps = int(table["step"].max()) + 1
    scenario = tomllib.loads((Path(out) / "scenario.toml").read_text())
    step_years = STEP_YEARS[scenario["run"]["step"]]
    by = {m: t.sort_values("step") for m, t in table.groupby("metric")}
    persons = by["persons"]
    series = {}
    for key, _, metric, _ in FIGURES:
        if metric not in by:
            continue
        t = by[metric]
        entry = {}
        for world in ("run",) if key in RUN_ONLY else ("run", "twin"):
            num, den = t[world].to_numpy(float), persons[world].to_numpy(float)
            if (den == 0).all() or (world == "twin" and not (t[world] == t[world]).any()):
                continue
            y = [
                round(float(a / b), 8) if b > 0 and math.isfinite(a / b) else None
                for a, b in zip(num, den)
            ]
            entry[world] = y
        if entry:
            series[key] = entry
    return {
        "group": group,
        "years": [round(k * step_years, 6) for k in range(steps)],
        "series": series,
    }


def _zip(out: Path) -> bytes:
    """The run directory as a zip (no lock file, no checkpoint)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(out.rglob("*")):
            rel = path.relative_to(out)
            if path.is_file() and rel.parts[0] != "checkpoint" and not rel.name.startswith("."):
                z.write(path, str(Path(out.name) / rel))
    return buffer.getvalue()


def _definitions_html() -> str:
    rows = "".join(
        f"<tr id='{html.escape(keys[0])}'><td>"
        + " ".join(
            (f"<a id='{html.escape(k)}'></a>" if i else "") + f"<code>{html.escape(k)}</code>"
            for i, k in enumerate(keys)
        )
        + f"</td><td>{definitions.as_html(text)}</td></tr>"
        for keys, text in definitions.table()
    )
    figures = "".join(
        f"<tr id='figure-{k}'><td>{html.escape(t)}</td><td>{html.escape(FIGURE_TEXT[k])}</td></tr>"
        for k, t, _, _ in FIGURES
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        "<title>scoresim: what each number means</title>"
        "<link rel=stylesheet href='/static/style.css'><link rel=icon href='data:,'>"
        "</head><body><main>"
        "<p><a href='/'>← scoresim</a></p><h1>What each number means</h1>"
        "<p>Every number the page shows is defined here. Shares are over the persons (or firms, "
        "ties, acts) of the run; the twin is the same society under no system.</p>"
        f"<div class=scroll><table class=defs><thead><tr><th>key</th><th>definition</th></tr>"
        f"</thead><tbody>{rows}</tbody></table></div>"
        "<h2>Figures</h2><div class=scroll><table class=defs><tbody>"
        f"{figures}</tbody></table></div></main></body></html>"
    )


def serve(
    root: Path, host: str, port: int, workers: int, limits: Limits, reports: bool = True
) -> None:
    import socket

    import uvicorn

    root.mkdir(parents=True, exist_ok=True)
    # the port first: a server that cannot listen must not start (and stop) anyone's jobs
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ScenarioError(
            "(command line)", "--port", port, f"cannot listen on {host}:{port}: {e.strerror}"
        ) from None
    queue = Queue(root, limits, workers, reports)  # ScenarioError: the root is served already
    for line in queue.recovered:
        print(f"scoresim serve: job {line}", flush=True)
    app = create_app(queue)
    print(f"scoresim serve: http://{host}:{port}/ (runs in {root}/, {workers} at once)", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
