"""`scoresim serve`: requests validated as the CLI validates scenarios, jobs that survive a
killed server, a bounded queue under load, and the page in a real browser (Debian's
Chromium driven by Playwright)."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from scoresim.atomic import is_locked
from scoresim.explorable import (
    SAFEGUARDS,
    Limits,
    compare_scenarios,
    false_record_rate,
    preset_card,
    run_scenario,
)
from scoresim.jobs import Child, Queue
from scoresim.results import HEADLINE, format_value, headline_value
from scoresim.scenario import ScenarioError, load, presets, to_toml

_spec = importlib.util.spec_from_file_location(
    "serve_load", Path(__file__).parents[1] / "benchmarks" / "serve_load.py"
)
serve_load = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(serve_load)
call, start_server, free_port = serve_load.call, serve_load.start_server, serve_load.free_port

SMALL = {"preset": "article", "persons": 1000, "years": 0.5}
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    port = free_port()
    process = start_server(root, port, "--workers", "2", "--no-reports")
    yield {"url": f"http://127.0.0.1:{port}", "root": root, "port": port}
    process.terminate()
    process.wait(30)


def wait_done(url: str, job: str, seconds: float = 240) -> dict:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        code, status = call(f"{url}/api/jobs/{job}")
        assert code == 200, status
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.3)
    raise AssertionError(f"job {job} not finished in {seconds} s: {status}")


# ------------------------------------------------------------------ the request -> scenario


def test_each_switch_reaches_the_scenario():
    limits = Limits()
    base = load("article")
    for s in SAFEGUARDS:
        on = run_scenario({"preset": "article", "safeguards": {s.key: True}}, limits)
        off = run_scenario({"preset": "article", "safeguards": {s.key: False}}, limits)
        assert on.regime.safeguards != off.regime.safeguards, s.key
    eu = load("eu-safeguards").regime.safeguards
    all_on = run_scenario(
        {
            "preset": "article",
            "safeguards": {s.key: True for s in SAFEGUARDS},
            "association": False,
        },
        limits,
    ).regime.safeguards
    assert all_on == eu  # every switch on is eu-safeguards' set of safeguards
    sc = run_scenario(
        SMALL | {"false_record_rate": 0.02, "publicity": 0.3, "seed": 9, "twin": False}, limits
    )
    assert (sc.false_records.misattributed, sc.regime.publicity, sc.run.seed) == (0.02, 0.3, 9)
    assert (sc.population.persons, sc.run.years, sc.run.twin) == (1000, 0.5, False)
    assert sc.regime.rules == base.regime.rules  # the rest is the preset's
    back_on = run_scenario({"preset": "eu-safeguards", "association": True}, limits)
    assert (
        back_on.regime.safeguards.association
        and not load("eu-safeguards").regime.safeguards.association
    )


@pytest.mark.parametrize(
    "body, key, words",
    [
        ({"preset": "artcle"}, "preset", "did you mean 'article'"),
        (SMALL | {"persons": 10**7}, "persons", "at most 200,000 persons"),
        (SMALL | {"years": 50}, "years", "at most 10 years"),
        (SMALL | {"persons": "many"}, "persons", "valid integer"),
        (SMALL | {"colour": "red"}, "colour", "unknown key"),
        (SMALL | {"safeguards": {"amnesty": True}}, "safeguards.amnesty", "unknown safeguard"),
        (SMALL | {"false_record_rate": 2}, "false_record_rate", "less than or equal"),
        ({"preset": "none", "association": True}, "association", "no penalty by association"),
        ({"preset": "repeal", "publicity": 1.0}, "publicity", "schedule"),
    ],
)
def test_bad_run_requests_name_the_key(body, key, words):
    with pytest.raises(ScenarioError) as e:
        run_scenario(body, Limits())
    assert e.value.key == key and words in str(e.value)
    assert str(e.value).startswith("(request): ")


def test_compare_requests_share_one_society():
    req, scenarios = compare_scenarios(
        {"presets": ["article", "court-defaulters"], "persons": 3000, "years": 1}, Limits()
    )
    assert [s.population.persons for s in scenarios] == [3000, 3000]
    with pytest.raises(ScenarioError, match="presets"):
        compare_scenarios({"presets": ["article"]}, Limits())
    # what `scoresim compare` refuses is refused before it is queued
    for other, words in (("reference", "share one society"), ("article", "each preset once")):
        with pytest.raises(ScenarioError, match=words):
            compare_scenarios({"presets": ["article", other]}, Limits())
    cards = {p: preset_card(p, Limits()) for p in presets()}
    assert cards["court-defaulters"]["comparable"] and not cards["reference"]["comparable"]


@pytest.mark.parametrize("name", sorted(presets()))
def test_every_preset_runs_as_its_card_shows_it(name):
    """What the page offers for a preset is accepted, and each switch it offers moves it."""
    limits = Limits()
    card = preset_card(name, limits)
    body = {k: card[k] for k in ("persons", "years", "seed", "false_record_rate")}
    body["preset"] = name
    if not card["scheduled"]:
        body["safeguards"] = {
            k: v for k, v in card["safeguards"].items() if k not in card["locked"]
        }
        body["publicity"] = card["publicity"]
        if card["association_available"]:
            body["association"] = card["association"]
    sc = run_scenario(body, limits)
    assert sc.run.steps <= limits.max_steps
    rate, same = false_record_rate(run_scenario(body | {"false_record_rate": 0.05}, limits))
    assert (rate, same) == (0.05, True)  # every source's rate, where a source has its own
    for key in body.get("safeguards", {}):
        flipped = run_scenario(body | {"safeguards": {key: not card["safeguards"][key]}}, limits)
        assert flipped.regime.safeguards != sc.regime.safeguards, key


# ------------------------------------------------------------------ the HTTP boundary


def test_bad_requests_get_one_line_4xx_and_queue_nothing(server):
    url = server["url"]
    before = call(url + "/api/health")[1]["counts"]
    cases = [
        ("/api/runs", {"preset": "article", "persons": 10**7}, 422, "persons = 10000000"),
        ("/api/runs", {"preset": "nope"}, 422, "unknown preset"),
        ("/api/runs", [1, 2], 422, "must be a JSON object"),
        ("/api/compare", {"presets": ["article"]}, 422, "presets"),
        ("/api/compare", {"presets": ["article"] * 5}, 422, "presets"),
        ("/api/runs", {"preset": "article", "pad": "x" * 20_000}, 413, "at most 16,384 bytes"),
        ("/api/compare", {"presets": ["article", "reference"]}, 422, "share one society"),
        ("/api/runs", SMALL | {"safeguards": {"a\nb": True}}, 422, "unknown safeguard"),
    ]
    nested = 2_000 * "[" + 2_000 * "]"  # deeper than the JSON parser recurses
    got, answer = call(url + "/api/runs", raw=nested.encode())
    assert got == 422 and "must be a JSON object" in answer["error"]
    for path, body, code, words in cases:
        got, answer = call(url + path, body)
        assert got == code, (path, body, answer)
        assert words in answer["error"] and "\n" not in answer["error"]
        assert "Traceback" not in answer["error"]
    assert call(url + "/api/health")[1]["counts"] == before


def test_nothing_in_a_request_names_a_file(server):
    url, root = server["url"], server["root"]
    (root / "secret.txt").write_text("not for visitors")
    for path in (
        "/api/jobs/..%2F..%2Fsecret.txt",
        "/api/jobs/..%2Fsecret.txt/download",
        "/api/jobs/" + "a" * 11 + "/download",
        "/static/..%2F..%2Fsecret.txt",
        "/static/../server.py",
        "/jobs/..%2Fsecret.txt/report.html",
    ):
        code, _ = call(url + path)
        assert code == 404, path
    # the server listens on the loopback address only, unless told otherwise
    listening = Path("/proc/net/tcp").read_text().splitlines()[1:]
    ours = [x.split()[1] for x in listening if x.split()[1].endswith(f":{server['port']:04X}")]
    assert ours and all(a.startswith("0100007F:") for a in ours), ours


def test_a_run_through_the_server_is_the_cli_run(server):
    url, root = server["url"], server["root"]
    code, job = call(url + "/api/runs", SMALL | {"safeguards": {"notice": True}})
    assert code == 202
    status = wait_done(url, job["id"])
    assert status["state"] == "done", status
    out = root / job["id"]
    want = run_scenario(SMALL | {"safeguards": {"notice": True}}, Limits())
    assert (out / "scenario.toml").read_text() == to_toml(want)  # the same scenario, resolved
    summary = json.loads((out / "summary.json").read_text())
    code, result = call(f"{url}/api/jobs/{job['id']}/result")
    shown = {row["key"]: row for row in result["headline"]}
    assert {"listed_share", "ever_sanctioned_share", "ties_cut_share"} <= set(shown)
    for h in HEADLINE:
        if h.key in shown:
            assert shown[h.key]["run_text"] == format_value(headline_value(summary, h.key), h.kind)
            assert shown[h.key]["twin_text"] == format_value(
                headline_value(summary["twin"], h.key), h.kind
            )
    code, series = call(f"{url}/api/jobs/{job['id']}/series?group=rural")
    assert len(series["years"]) == summary["steps"] and "listed" in series["series"]
    assert call(f"{url}/api/jobs/{job['id']}/series?group=martians")[0] == 422
    raw = _get_bytes(f"{url}/api/jobs/{job['id']}/download")
    names = zipfile.ZipFile(io.BytesIO(raw)).namelist()
    assert f"{job['id']}/summary.json" in names and not any("lock" in n for n in names)


def _get_bytes(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


# ------------------------------------------------------------------ the queue in-process


def test_a_job_that_cannot_start_is_reported_and_the_queue_goes_on(tmp_path, monkeypatch):
    q = Queue(tmp_path, Limits())
    try:
        first = q.submit("run", SMALL)
        second = q.submit("run", SMALL | {"seed": 2})
        monkeypatch.setattr(q, "command", lambda job: ["/nonexistent/python", "-m", "scoresim"])
        q.dispatch()
        job = q.store.get(first)
        assert job["state"] == "failed" and job["error"].startswith("could not start")
        assert q.store.get(second)["state"] != "queued"  # the next one was tried at once
    finally:
        q.stop()


def test_one_server_per_root_and_memory_beside_running_jobs(tmp_path):
    q = Queue(tmp_path, Limits(), workers=2)
    try:
        with pytest.raises(ScenarioError, match="another scoresim process"):
            Queue(tmp_path, Limits())
        job = q.submit("run", SMALL)
        # a running job that may still take more memory than the machine has: the next
        # job waits in the queue rather than start beside it
        busy = subprocess.Popen(["sleep", "60"])
        q.children["f" * 12] = Child("f" * 12, busy, busy.pid)
        q.estimates["f" * 12] = 10**15
        q.dispatch()
        assert q.store.get(job)["state"] == "queued"
        busy.kill()
        busy.wait()
        q.children.clear()
        q.dispatch()  # alone, it starts (its own memory guard decides)
        assert q.store.get(job)["state"] == "running"
    finally:
        for child in q.children.values():
            child.process.kill()
            child.process.wait()
        q.stop()


def test_a_job_still_running_after_a_restart_is_adopted(tmp_path):
    """A job whose process outlived its server (it holds its directory's lock) is watched,
    not started again, and done once it completes."""
    q = Queue(tmp_path, Limits())
    job = q.submit("run", SMALL)
    out = q.run_dir(job)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from pathlib import Path; from scoresim.atomic import RunLock; "
                "from scoresim.checkpoint import set_status; out = Path(sys.argv[1]); "
                "lock = RunLock(out).acquire(); set_status(out, 'running', step=3); "
                "sys.stdin.readline(); set_status(out, 'complete')"
            ),
            str(out),
        ],
        stdin=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: is_locked(out), 30, "the writer's lock")
        q.store.update(job, state="running", pid=writer.pid, attempts=1)
        q.stop()  # the server goes; its job's process does not
        q = Queue(tmp_path, Limits())
        assert q.recovered == [f"{job}: still running (pid {writer.pid}), adopted"]
        q.dispatch()
        assert q.store.get(job)["state"] == "running" and job in q.children
        writer.communicate(b"done\n", timeout=30)
        q.dispatch()
        assert q.store.get(job)["state"] == "done" and q.store.get(job)["attempts"] == 1
    finally:
        if writer.poll() is None:
            writer.kill()
        q.stop()


# ------------------------------------------------------------------ restarts and load


def _wait_for(predicate, seconds: float, what: str):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("kill_job_too", [False, True])
def test_a_killed_server_loses_no_job(tmp_path, kill_job_too):
    """SIGKILL the server mid-job (and, in the second case, the job's process as well): when
    it starts again the running job resumes from its checkpoint or starts again, the queued
    one runs, and both finish."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path, port, "--workers", "1", "--no-reports")
    try:
        big = {"preset": "article", "persons": 20_000, "years": 3}
        first = call(url + "/api/runs", big)[1]["id"]
        second = call(url + "/api/runs", SMALL)[1]["id"]

        def running_step():
            s = call(f"{url}/api/jobs/{first}")[1]
            return s["state"] == "running" and s["progress"].get("step", 0) >= 5 and s

        _wait_for(running_step, 180, "the first job to run")
        pid = int(json.loads((tmp_path / first / "status").read_text())["pid"])
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    if kill_job_too:
        os.kill(pid, signal.SIGKILL)
    _wait_for(lambda: not _alive(pid), 60, "the job's process to end")
    status = json.loads((tmp_path / first / "status").read_text())
    saved = (tmp_path / first / "checkpoint" / "state.npz").exists()
    if not kill_job_too:  # told to stop when the server died: it saved its state
        assert status["status"] == "interrupted"
        assert (tmp_path / first / "checkpoint" / "state.npz").exists()
    server = start_server(tmp_path, port, "--workers", "1", "--no-reports")
    try:
        done = [wait_done(url, j) for j in (first, second)]
        assert [d["state"] for d in done] == ["done", "done"], done
        assert done[0]["attempts"] == 2
        why = "resumed from its checkpoint" if saved else "before anything was saved; started"
        assert why in done[0]["note"]
        assert (tmp_path / first / "summary.json").exists()
    finally:
        server.terminate()
        server.wait(30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_twenty_clients_against_a_bounded_queue(tmp_path):
    port = free_port()
    server = start_server(tmp_path, port, "--workers", "2", "--queue", "5", "--no-reports")
    try:
        figures = serve_load.load(
            f"http://127.0.0.1:{port}",
            clients=20,
            jobs_per_client=1,
            run={"preset": "article", "persons": 300, "years": 0.25},
            deadline_s=400,
        )
    finally:
        server.terminate()
        server.wait(30)
    print(json.dumps(figures))
    assert figures["errors"] == []
    assert figures["accepted"] == figures["done"] == 20 and figures["unfinished"] == 0
    assert figures["refused_429"] > 0  # 20 at once against a queue of 5: some must wait
    assert figures["most_waiting"] <= 5


# ------------------------------------------------------------------ the page in a browser

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    assert Path(CHROMIUM).exists(), ".ci/run installs Debian's chromium"
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _page(browser, width: int = 1280):
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return page, problems


def test_the_page_runs_a_society_and_shows_its_summary(server, browser):
    url, root = server["url"], server["root"]
    page, problems = _page(browser)
    page.goto(url + "/")
    page.select_option("#preset", "court-defaulters")
    page.fill("#persons", "1500")
    page.fill("#years", "0.5")
    page.check("#sg-appeals")
    page.click("#run")
    page.wait_for_url("**/#/job/*")
    job = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("[data-testid=progress]", timeout=60_000)  # a job takes seconds
    page.wait_for_selector("#headline", timeout=240_000)
    summary = json.loads((root / job / "summary.json").read_text())
    for key in ("listed_share", "ever_sanctioned_share"):
        kind = next(h.kind for h in HEADLINE if h.key == key)
        cell = page.locator(f"#headline tr[data-key={key}] td").nth(1).inner_text()
        assert cell == format_value(summary[key], kind)
        twin = page.locator(f"#headline tr[data-key={key}] td").nth(3).inner_text()
        assert twin == format_value(summary["twin"][key], kind)
    href = page.locator("#headline tr[data-key=listed_share] a").first.get_attribute("href")
    assert href == "/definitions#listed_share"
    page.wait_for_selector("#figures svg path.line.run", state="attached")
    assert page.locator("#figures .fig").count() >= 6
    # hover reads a step; a drag zooms in; reset zooms out
    fig = page.locator("#figures .fig[data-figure=listed]")
    fig.scroll_into_view_if_needed()
    box = fig.locator("svg").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    assert fig.locator(".tip").inner_text().startswith("year ")
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.5, steps=5)
    page.mouse.up()
    assert fig.locator(".reset").is_visible()
    fig.locator(".reset").click()
    assert not fig.locator(".reset").is_visible()
    income = "#figures .fig[data-figure=income] path.line.run"
    before = page.locator(income).get_attribute("d")
    page.select_option("#group", "rural")
    page.wait_for_function(f"document.querySelector('{income}')?.getAttribute('d') !== {before!r}")
    assert page.locator("#figures .fig").count() >= 6
    sanctioned = summary["ever_sanctioned_share"] > 0
    assert page.locator("#audit table.audit" if sanctioned else "#audit p.none").count() >= 1
    assert problems == []


def test_the_page_compares_and_reopens(server, browser):
    url = server["url"]
    page, problems = _page(browser, width=390)  # a phone
    page.goto(url + "/#/compare")
    page.wait_for_selector("#compare-form")
    page.fill("#c-persons", "1000")
    page.fill("#c-years", "0.5")
    page.click("#compare")
    page.wait_for_url("**/#/job/*")
    page.wait_for_selector("#comparison", timeout=240_000)
    heads = page.locator("#comparison thead th").all_inner_texts()
    assert heads[1:3] == ["article", "eu-safeguards"]
    page.wait_for_selector("#compare-figure svg rect.bar", state="attached")
    assert page.locator("#compare-figure rect.bar").count() == 2
    # each bar's drawn height is in proportion to its value
    page.select_option("#metric", "records_per_person_year")
    cells = page.locator("#comparison tr[data-key=records_per_person_year] td").all_inner_texts()
    values = [float(c.replace(",", "")) for c in cells[1:3]]
    heights = [r.bounding_box()["height"] for r in page.locator("#compare-figure rect.bar").all()]
    assert min(values) > 0 and heights[0] / heights[1] == pytest.approx(values[0] / values[1], 0.05)
    # the layout fits a phone: nothing wider than the screen but the scrolling tables
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.goto(url + "/#/runs")
    page.wait_for_selector("#runs")
    titles = page.locator("#runs tbody a").all_inner_texts()
    assert any(t.startswith("article vs eu-safeguards") for t in titles)
    page.locator("#runs tbody a", has_text="article vs eu-safeguards").first.click()
    page.wait_for_selector("#comparison")
    page.goto(url + "/definitions#ties_cut_share")
    assert "person ties cut" in page.locator("tr#ties_cut_share").inner_text()
    assert page.locator("[id]").evaluate_all(
        "els => new Set(els.map(e => e.id)).size === els.length"
    )
    assert problems == []


def test_a_bad_value_on_the_page_is_shown_not_run(server, browser):
    url = server["url"]
    page, problems = _page(browser)
    page.goto(url + "/")
    page.wait_for_selector("#run")
    page.fill("#persons", "10000000")
    page.evaluate("document.getElementById('persons').removeAttribute('max')")
    page.click("#run")
    page.wait_for_selector("[data-testid=error]")
    assert "this server runs at most" in page.locator("[data-testid=error]").inner_text()
    assert "#/job/" not in page.url
    assert [p for p in problems if "422" not in p] == []


def test_a_credit_market_shows_its_table(server):
    url, root = server["url"], server["root"]
    body = {"preset": "lending-liu2018", "persons": 2000}
    code, job = call(url + "/api/runs", body)
    assert code == 202, job
    assert wait_done(url, job["id"])["state"] == "done"
    summary = json.loads((root / job["id"] / "summary.json").read_text())
    market = call(f"{url}/api/jobs/{job['id']}/result")[1]["lending"]
    from scoresim.lending import GROUPS as groups

    assert market["columns"][: len(groups)] == list(groups)
    loans = next(r for r in market["rows"] if r["label"] == "loans")
    assert loans["values"][0] == format_value(summary["lending"][groups[0]]["loans"], "int")


def test_a_busy_port_is_one_line_and_starts_no_job(tmp_path):
    import socket

    q = Queue(tmp_path, Limits())
    job = q.submit("run", SMALL)
    q.stop()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run(
            [sys.executable, "-m", "scoresim", "serve", "--root", str(tmp_path), "--port",
             str(port)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert r.returncode == 2 and "cannot listen on 127.0.0.1" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    q = Queue(tmp_path, Limits())
    try:
        assert q.store.get(job)["state"] == "queued" and q.store.get(job)["attempts"] == 0
    finally:
        q.stop()
