"""The report, opened in a real browser (headless Chromium): no script errors, every figure
loaded, the headline numbers equal to summary.json. A screenshot is kept in artifacts/."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest
from test_cli import scoresim

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=10000",
]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail("CI must have Debian's chromium (installed by .ci/run)")
    pytest.skip("no chromium on this machine (apt-get install chromium)")


def _browse(page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_chromium(), *FLAGS, f"--user-data-dir={tmp / 'profile'}", *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )


def _check_page(page: Path, tmp: Path, figures: int) -> str:
    r = _browse(page, tmp, "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    dom = r.stdout
    m = re.search(r'<p id="selfcheck"[^>]*>', dom)
    assert m, "the page's self-check did not run"
    attrs = dict(re.findall(r'data-(\w+)="([^"]*)"', m.group(0)))
    assert attrs["figures"] == attrs["loaded"] == str(figures), attrs
    assert attrs["broken"] == "" and attrs["errors"] == "", attrs
    console = [line for line in r.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    return dom


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "run"
    r = scoresim("run", "article", "--n", "4000", "--years", "1", "--seed", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out


def test_report_files(run_dir):
    from scoresim.report import FIGURES

    assert (run_dir / "report.html").stat().st_size > 10_000
    for name, _, _ in FIGURES:
        png = (run_dir / "figures" / f"{name}.png").read_bytes()
        svg = (run_dir / "figures" / f"{name}.svg").read_text()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    html = (run_dir / "report.html").read_text()
    assert "http://" not in html.replace("http://www.w3.org", "")  # no network needed
    assert "https://" not in html


def test_report_in_headless_chromium(run_dir, tmp_path):
    from scoresim.report import FIGURES

    dom = _check_page(run_dir / "report.html", tmp_path, len(FIGURES))
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = re.findall(r'<tr data-key="(\w+)" data-value="([^"]*)"', dom)
    assert len(rows) >= 15
    for key, value in rows:
        assert json.loads(unescape(value)) == summary[key], key
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    r = _browse(
        run_dir / "report.html", tmp_path, "--window-size=1100,3000", f"--screenshot={shot}"
    )
    assert r.returncode == 0 and shot.stat().st_size > 50_000


def test_report_command_and_comparison_report(run_dir, tmp_path):
    r = scoresim("report", str(run_dir))
    assert r.returncode == 0, r.stderr
    bad = scoresim("report", str(tmp_path))
    assert bad.returncode == 2 and "missing" in bad.stderr and "Traceback" not in bad.stderr
    out = tmp_path / "cmp"
    r = scoresim(
        "compare", "article", "eu-safeguards", "--n", "3000", "--years", "0.5", "--out", str(out)
    )
    assert r.returncode == 0, r.stderr
    _check_page(out / "report.html", tmp_path, 2)


def test_ensemble_report_draws_bands_and_gives_verdicts(tmp_path):
    """`scoresim ensemble` writes a report whose headline cells carry intervals, whose
    disparate-impact verdicts are the ensemble.json verdicts, and whose figure loads."""
    out = tmp_path / "ens"
    r = scoresim(
        "ensemble", "article", "--seeds", "3", "--n", "3000", "--years", "0.3", "--out", str(out)
    )
    assert r.returncode == 0, r.stderr
    dom = _check_page(out / "report.html", tmp_path, 1)
    stats = json.loads((out / "ensemble.json").read_text())
    verdicts = dict(re.findall(r'<tr data-group="(\w+)" data-verdict="([^"]+)"', dom))
    assert verdicts == {g: v["verdict"] for g, v in stats["disparate_impact"].items()}
    assert "foreigner" in verdicts and verdicts["foreigner"] == "too small to tell"
    row = re.search(r'<tr data-key="records_per_person_year">(.*?)</tr>', dom).group(1)
    assert row.count("[") >= 2  # run and twin cells: mean [interval]
