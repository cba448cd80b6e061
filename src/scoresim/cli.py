"""The ``scoresim`` command: run, scenarios, validate.

Bad input (a scenario problem, a bad option) ends with one line naming the file, the key, the
value and what is allowed, and exit code 2 — never a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .atomic import LOCK, RunLock, busy, is_locked, write_atomic
from .atomic import alive as _alive
from .results import CAUSE_RULE, HEADLINE, format_count, format_interval
from .results import format_value as _fmt
from .results import headline_value as _value
from .scenario import ScenarioError, load, presets

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Simulate social credit systems over a synthetic society, each run "
    "against a twin society with no system.",
)
console = Console()
err = Console(stderr=True)


def _fail(e: Exception, code: int = 2) -> None:
    """One line on stderr and the exit code: 2 for bad input, 1 for runs that failed."""
    err.print(f"[bold red]error:[/] {e}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def _count(value: str, option: str) -> int:
    try:
        x = float(value)
    except ValueError:
        raise ScenarioError(
            "(command line)", option, value, "must be a number, e.g. 100000 or 1e6"
        ) from None
    if not (x >= 1 and x == int(x)):
        raise ScenarioError("(command line)", option, value, "must be a whole number >= 1")
    return int(x)


@contextmanager
def _bars():
    """A Rich progress display with one bar per named task; yields progress(name, done, total)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done)

        yield progress


def _options(n: str | None, years: float | None, out: Path | None) -> int | None:
    """Check the options `run` and `compare` share; returns the population (or None)."""
    persons = _count(n, "--n") if n is not None else None
    if years is not None and not (0 < years <= 200):
        raise ScenarioError("(command line)", "--years", years, "must be > 0 and <= 200")
    if out is not None and out.exists() and not out.is_dir():
        raise ScenarioError("(command line)", "--out", str(out), "exists and is not a directory")
    return persons


def _many(preset: str, n: str | None, years: float | None, out: Path, seeds: str, workers: int):
    """The options of the commands that run many members: the scenario (with --n and
    --years) and the number of members per point."""
    from .ensemble import resolve

    persons = _options(n, years, out)
    members = _count(seeds, "--seeds")
    if workers < 1:
        raise ScenarioError("(command line)", "--workers", workers, "must be 1 or more")
    return resolve(preset, persons, years), members


def summary_table(summary: dict, title: str, width: int = 100) -> Table:
    """The headline metrics, run against twin, with the number behind each share (persons
    with their rate per 100,000; for the twin too where the terminal is wide enough)."""
    from rich import box

    table = Table(
        title=title,
        title_justify="left",
        caption=CAUSE_RULE,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("metric", no_wrap=True)
    table.add_column("run", justify="right", no_wrap=True)
    table.add_column("how many (run)", justify="right", overflow="fold", min_width=12)
    table.add_column("twin", justify="right", no_wrap=True)
    twin = summary.get("twin") or {}
    counts = summary.get("counts") or {}
    twin_counts = twin.get("counts") or {}
    for h in HEADLINE:
        mine, theirs = _fmt(_value(summary, h.key), h.kind), _fmt(_value(twin, h.key), h.kind)
        entry = twin_counts.get(h.key)
        if width >= 100 and entry and entry["unit"] == "persons" and theirs != "—":
            theirs += f" ({format_count(entry, short=True)})"
        table.add_row(h.label, mine, format_count(counts.get(h.key)) if mine != "—" else "", theirs)
    return table


@app.command()
def run(
    scenario: str = typer.Argument("article", help="A preset name or a scenario TOML file."),
    n: str | None = typer.Option(None, "--n", help="Persons (e.g. 100000 or 1e6)."),
    years: float | None = typer.Option(None, "--years", help="Years to simulate."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed."),
    out: Path | None = typer.Option(
        None, "--out", help="Output directory [runs/NAME, or runs/NAME-2 ... if taken]."
    ),
    no_twin: bool = typer.Option(False, "--no-twin", help="Skip the twin society."),
    checkpoint_every: int | None = typer.Option(
        None,
        "--checkpoint-every",
        min=0,
        help="Steps between checkpoints (0: none) [52; none where the per-step tables take "
        "over 1 GiB, which every checkpoint would write again].",
    ),
    resume: Path | None = typer.Option(
        None, "--resume", help="Continue the run in this directory from its last checkpoint."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite a finished run directory."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip DIR/report.html."),
) -> None:
    """Run a scenario beside its twin; write DIR/scenario.toml, timeseries.parquet, summary.json.

    The run checkpoints into DIR/checkpoint/ every --checkpoint-every steps; after a crash or
    Ctrl-C, `scoresim run --resume DIR` continues it, with the same results as an
    uninterrupted run. DIR/status says running, interrupted, failed or complete."""
    from . import checkpoint as ckpt
    from .scenario import to_toml
    from .sim import Interrupted, Sim, check_memory

    try:
        if resume is not None:
            out = resume
            if not (out / "scenario.toml").exists() or not ckpt.has_checkpoint(out):
                raise ScenarioError(
                    "(command line)",
                    "--resume",
                    str(out),
                    "needs a run directory with scenario.toml and a checkpoint",
                )
            if ckpt.read_status(out).get("status") == "complete":
                raise ScenarioError(
                    "(command line)", "--resume", str(out), "this run is complete already"
                )
            sim = Sim(str(out / "scenario.toml"))
        else:
            persons = _options(n, years, out)
            sim = Sim(scenario, n=persons, years=years, seed=seed, twin=False if no_twin else None)
            _warn_replaced(scenario)
            if out is None:
                wanted = Path("runs") / sim.scenario.name
                out = _fresh(wanted)
                if out != wanted:
                    console.print(
                        f"{wanted}/ holds another run: writing to {out}/ (choose with --out)"
                    )
            _options(None, None, out)
            _check_out(out, force)
        sc = sim.scenario
        check_memory(sc, scenario if resume is None else resume)
        # held until this process ends: a second writer is refused while this one is alive
        lock = RunLock(out).acquire("--resume" if resume is not None else "--out")
    except ScenarioError as e:
        _fail(e)
    if checkpoint_every is None:
        from .sim import tables_bytes

        checkpoint_every = default_checkpoint_every(sc)
        if checkpoint_every == 0:
            console.print(
                f"checkpoints off: this run's per-step tables take "
                f"{tables_bytes(sc) / 1e9:.1f} GB, which every checkpoint would write again "
                "(--checkpoint-every N turns them on)"
            )
    if resume is None:
        ckpt.remove(out)  # starting over (--force): an earlier run's checkpoint is not ours
    _build(sim, out, resume)
    start = 0
    if resume is not None:
        try:
            start = ckpt.load(sim, out)
        except ScenarioError as e:
            _fail(e)
        console.print(f"resuming at step {start} of {sc.run.steps}")
    else:
        write_atomic(out / "scenario.toml", to_toml(sc).encode())
    ckpt.set_status(out, "running", pid=os.getpid(), step=start, steps=sc.run.steps)
    stop = {"asked": False}

    def ask_stop(signum, frame) -> None:
        stop["asked"] = True

    telling, saved = _Every(STATUS_SECONDS), {"step": start}

    def after_step(t: int) -> None:
        saving = checkpoint_every and (t + 1) % checkpoint_every == 0 and t + 1 < sc.run.steps
        if saving:
            ckpt.save(sim, out, t)
            saved["step"] = t + 1
        if telling.due(now=saving) and t + 1 < sc.run.steps:
            # the step reached (for `scoresim runs` and the server's page) and the step a
            # resume would start from
            ckpt.set_status(
                out,
                "running",
                pid=os.getpid(),
                step=t + 1,
                steps=sc.run.steps,
                saved=saved["step"],
            )

    old = {sig: signal.signal(sig, ask_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        label = f"{sc.name} ({'run + twin' if sc.run.twin else 'run'}) steps"
        with _bars() as progress:
            progress(label, start, sc.run.steps)
            res = sim.run(
                progress=lambda done, total: progress(label, done, total),
                start=start,
                after_step=after_step,
                stop=lambda: stop["asked"],
            )
        # a Ctrl-C from here on is answered once the outputs are whole
        res.write(out, report=not no_report)
        ckpt.set_status(out, "complete", steps=sc.run.steps)
        ckpt.remove(out)
    except Interrupted as e:
        ckpt.save(sim, out, e.step)
        ckpt.set_status(out, "interrupted", step=e.step + 1)
        err.print(
            f"interrupted after step {e.step + 1} of {sc.run.steps}; state saved. "
            f"Continue with: scoresim run --resume {out}"
        )
        raise typer.Exit(130) from None
    except BaseException as e:
        ckpt.set_status(out, "failed", error=repr(e)[:500])
        raise
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        lock.release()
    console.print(
        summary_table(
            res.summary(),
            f"{sc.name}: {sc.population.persons:,} persons, "
            f"{sc.run.years:g} years, seed {sc.run.seed}",
            console.width,
        )
    )
    if res.summary().get("phases"):
        console.print(phase_table(res.summary()))
    if res.summary().get("pilot"):
        console.print(pilot_table(res.summary()["pilot"]))
    if res.summary().get("lending"):
        console.print(lending_table(res.summary()))
    console.print(
        f"loop {res.loop_seconds:.1f} s · wrote {out}/ (scenario.toml, "
        "timeseries.parquet, "
        + ("lending.parquet, " if res.lending is not None else "")
        + "summary.json"
        + ("" if no_report else ", report.html, figures/")
        + ")"
    )


CHECKPOINT_EVERY = 52  # steps between checkpoints, by default
STATUS_SECONDS = 1.0  # DIR/status tells how far a run or comparison is at most this often


class _Every:
    """Due at most once every ``seconds`` (or ``now``, which starts the wait again)."""

    def __init__(self, seconds: float, first: bool = False):
        self.seconds = seconds
        self.at = -float("inf") if first else time.monotonic()

    def due(self, now: bool = False) -> bool:
        if now or time.monotonic() - self.at >= self.seconds:
            self.at = time.monotonic()
            return True
        return False


def default_checkpoint_every(sc) -> int:
    """52 steps; none where a checkpoint would write over 1 GiB of per-step tables (a long
    run of a small society: lending-damour2020's 20,000 daily steps)."""
    from .metrics import LAZY_TABLE_BYTES
    from .sim import tables_bytes

    return 0 if tables_bytes(sc) > LAZY_TABLE_BYTES else CHECKPOINT_EVERY


PHASE_COLUMNS = (
    ("sanctioned_share_mean", "sanctioned"),
    ("listed_share_end", "listed¹"),
    ("ties_cut_share_end", "ties cut¹"),
    ("chilling_effect", "chilling"),
    ("approving_share_end", "approve¹"),
    ("twin_approving_share_end", "twin¹"),
)


def phase_table(summary: dict) -> Table:
    """Each phase of a scheduled run on its own: what it left at its end, what happened
    during it (against the twin over the same steps)."""
    from rich import box

    table = Table(
        title="phases (scheduled changes; docs/model.md §7.10)",
        title_justify="left",
        caption="sanctioned: mean over the phase; ¹ at its end; chilling and ties cut: vs twin",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("years", justify="right", no_wrap=True)
    table.add_column("regime", overflow="fold", min_width=8)
    for _, label in PHASE_COLUMNS:
        table.add_column(label, justify="right", no_wrap=True)
    for p in summary["phases"]:
        cells = [_fmt(p.get(k), "pct") for k, _ in PHASE_COLUMNS]
        table.add_row(f"{p['from_years']:.1f}–{p['to_years']:.1f}", p["regime"], *cells)
    return table


def pilot_table(split: dict) -> Table:
    """Inside and outside a pilot's regions, against the twin."""
    from rich import box

    from .report import PILOT_ROWS, pilot_headers

    table = Table(
        title="inside and outside the pilot (docs/model.md §7.10.1)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("", no_wrap=True)
    for label in pilot_headers(split):
        table.add_column(label, justify="right")
    for key, label in PILOT_ROWS:
        table.add_row(label, *(_fmt(split[w].get(key), "pct") for w in split))
    return table


def lending_table(summary: dict) -> Table:
    """The credit market by group, run (and twin): docs/model.md §7.12."""
    from rich import box

    from .results import lending_cells

    heads, rows = lending_cells(summary)
    table = Table(
        title="credit market (docs/model.md §7.12; per step: lending.parquet)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("", overflow="fold")
    for head in heads:
        table.add_column(head, justify="right")
    for label, values in rows:
        table.add_row(label, *values)
    return table


class _Stopped(Exception):
    """Ctrl-C or SIGTERM while the society was being built."""


def _build(sim, out: Path, resume: Path | None) -> None:
    """Build the society (and the worlds, unless resuming), saying so in DIR/status; a
    Ctrl-C or SIGTERM meanwhile ends the command at once with status ``interrupted`` and one
    line: nothing was saved yet (a resumed run keeps its checkpoint)."""
    from . import checkpoint as ckpt

    sc = sim.scenario
    ckpt.set_status(out, "running", pid=os.getpid(), step=0, phase="building")

    def stop(signum, frame) -> None:
        raise _Stopped

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with console.status(f"building {sc.population.persons:,} persons …"):
            sim.build(worlds=resume is None)
    except _Stopped:
        kept = "the checkpoint is kept" if resume is not None else "nothing was saved yet"
        ckpt.set_status(out, "interrupted", step=0, phase="building", note=kept)
        err.print(f"interrupted while building the society: {kept}")
        raise typer.Exit(130) from None
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    console.print(
        f"built {sc.population.persons:,} persons, {sim.society.firms.n:,} firms, "
        f"{sim.society.graph.entries // 2:,} ties in {sim.build_seconds:.1f} s"
    )


def _fresh(base: Path) -> Path:
    """Without --out: runs/NAME, or runs/NAME-2, -3, ... if taken (nothing is overwritten)."""
    out, k = base, 1
    while out.exists():
        k += 1
        out = base.with_name(f"{base.name}-{k}")
    return out


def _check_out(out: Path, force: bool) -> None:
    """Refuse to overwrite a run directory (or someone's folder) without --force. With
    --force only scoresim's own files are replaced; nothing else is deleted."""
    from . import checkpoint as ckpt

    if out.exists() and is_locked(out):  # a live writer: refused, whatever else holds
        raise busy(out)
    if not out.exists() or force:
        return
    st = ckpt.read_status(out)
    state = st.get("status")
    if st.get("phase") == "building" and not ckpt.has_checkpoint(out):
        pid = int(st.get("pid") or 0)
        if state == "interrupted" or not (pid > 0 and _alive(pid)):
            return  # stopped while building: nothing was saved, so nothing to lose
    if state == "complete":
        raise ScenarioError(
            "(command line)",
            "--out",
            str(out),
            "holds a complete run; choose another --out (or none: a fresh runs/NAME-k is "
            "picked) or add --force",
        )
    if state in ("running", "interrupted", "failed"):
        raise ScenarioError(
            "(command line)",
            "--out",
            str(out),
            f"holds a {state} run; continue it with --resume {out}, or add --force to start over",
        )
    if any(f.name != LOCK for f in out.iterdir()):
        raise ScenarioError(
            "(command line)",
            "--out",
            str(out),
            "is a folder with other files in it; choose an empty or new "
            "folder, or add --force (only scoresim's own files are replaced)",
        )


@app.command()
def report(run_dir: Path = typer.Argument(..., help="A finished run directory.")) -> None:
    """Write RUN_DIR/report.html (self-contained) and RUN_DIR/figures/*.png|svg."""
    from .report import write_report

    missing = [
        f
        for f in ("scenario.toml", "timeseries.parquet", "summary.json")
        if not (run_dir / f).exists()
    ]
    if missing:
        _fail(
            ScenarioError(
                "(command line)",
                "RUN_DIR",
                str(run_dir),
                f"needs a finished run directory; missing: {', '.join(missing)}",
            )
        )
    path = write_report(run_dir)
    console.print(f"wrote {path} and {run_dir / 'figures'}/")


@app.command()
def runs(root: Path = typer.Argument(Path("runs"), help="Folder holding run directories.")) -> None:
    """List run directories under ROOT with their status, preset, size and date."""
    import tomllib

    from . import checkpoint as ckpt

    if not root.is_dir():
        _fail(ScenarioError("(command line)", "ROOT", str(root), "is not a folder"))
    table = Table(show_header=True)
    for col in ("run", "status", "preset", "persons", "size", "updated"):
        table.add_column(col, justify="right" if col in ("size", "persons") else "left")
    found = 0
    dirs = {p.parent for p in root.glob("**/status")}
    dirs |= {
        p.parent for p in root.glob("**/summary.json") if (p.parent / "scenario.toml").exists()
    }
    for d in sorted(dirs):
        found += 1
        st = ckpt.read_status(d)
        name, persons = "?", "?"
        try:
            if (d / "comparison.json").exists():
                meta = json.loads((d / "comparison.json").read_text())
                name = "compare: " + ", ".join(meta["presets"])
                persons = f"{meta['scenario']['population']['persons']:,}"
            elif st.get("kind") == "compare":
                name = "compare (unfinished)"
            else:
                data = tomllib.loads((d / "scenario.toml").read_text())
                name, persons = data.get("name", "?"), f"{data['population']['persons']:,}"
        except (OSError, ValueError, KeyError, TypeError):
            pass
        size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
        state = st.get("status", "no status file (older run)")
        if state == "running" and st.get("pid") and not _alive(int(st["pid"])):
            gone = "run it again" if name.startswith("compare") else "resume it"
            state = f"running (process gone: {gone})"
        if state == "running" and "step" in st:
            state += f" (step {st['step']})"
        updated = st.get("updated") or datetime.fromtimestamp(d.stat().st_mtime, UTC).isoformat(
            timespec="seconds"
        )
        table.add_row(str(d), state, name, persons, f"{size / 1e6:.1f} MB", updated)
    console.print(table if found else f"no run directories under {root}")


@app.command("compare")
def compare_cmd(
    presets: list[str] = typer.Argument(..., help="Presets or scenario files to compare."),
    n: str | None = typer.Option(None, "--n", help="Persons (e.g. 200000 or 2e5)."),
    years: float | None = typer.Option(None, "--years", help="Years to simulate."),
    seed: int | None = typer.Option(
        None, "--seed", help="Random seed (with --seeds: the ensemble's)."
    ),
    seeds: str = typer.Option(
        "1", "--seeds", help="Societies (K > 1: means, intervals and paired tests)."
    ),
    workers: int = typer.Option(1, "--workers", help="Dask workers for --seeds (1: in-process)."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="A Dask scheduler address."),
    out: Path = typer.Option(Path("runs/compare"), "--out", help="Output directory."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip DIR/report.html."),
) -> None:
    """Run several regimes on one society with one shared twin; print them side by side and
    write DIR/comparison.parquet, comparison.csv and comparison.md. With --seeds K, on K
    societies: each cell the mean and its 95 % interval, each pair of regimes tested on the
    same societies (comparison_stats.csv, comparison_pairs.csv)."""
    from . import checkpoint as ckpt
    from .compare import ComparisonFailed, compare

    try:
        persons = _options(n, years, out)
        k = _count(seeds, "--seeds")
        if workers < 1:
            raise ScenarioError("(command line)", "--workers", workers, "must be 1 or more")
        if (out / "scenario.toml").exists():
            raise ScenarioError(
                "(command line)", "--out", str(out), "holds a run, not a comparison: choose another"
            )
        made, had_lock = not out.exists(), (out / LOCK).exists()
        lock = RunLock(out).acquire("--out")  # one writer per directory, as for `run`
        before = (out / ckpt.STATUS).read_bytes() if (out / ckpt.STATUS).exists() else None
    except ScenarioError as e:
        _fail(e)
    ckpt.set_status(out, "running", pid=os.getpid(), fraction=0.0, kind="compare")
    try:
        with _bars() as progress:
            result = compare(
                presets,
                n=persons,
                years=years,
                seed=seed,
                progress=_telling(progress, out, len(presets) + 1, "societies" if k > 1 else None),
                seeds=k,
                workers=workers,
                scheduler=scheduler,
            )
    except ScenarioError as e:  # bad input: nothing of this command is left behind
        if before is None:
            (out / ckpt.STATUS).unlink(missing_ok=True)
        else:
            write_atomic(out / ckpt.STATUS, before)
        if not had_lock:
            (out / LOCK).unlink(missing_ok=True)
        lock.release()
        if made and not any(out.iterdir()):
            out.rmdir()
        _fail(e)
    except ComparisonFailed as e:
        ckpt.set_status(out, "failed", error=str(e)[:500], kind="compare")
        lock.release()
        _fail(e, 1)
    except BaseException as e:
        ckpt.set_status(out, "failed", error=repr(e)[:500], kind="compare")
        lock.release()
        raise
    command = ["scoresim", "compare", *presets]
    for flag, value in (("--n", n), ("--years", years), ("--seed", seed)):
        if value is not None:
            command += [flag, str(value)]
    if k > 1:
        command += ["--seeds", str(k)]
    try:
        result.write(out, HEADLINE, " ".join([*command, "--out", str(out)]))
        for part in result.rich_parts(HEADLINE, width=min(console.width, 100)):
            console.print(part)
        if not no_report:
            from .report import write_comparison_report

            write_comparison_report(out, result, HEADLINE)
        ckpt.set_status(out, "complete", fraction=1.0, kind="compare")
    except BaseException as e:
        ckpt.set_status(out, "failed", error=repr(e)[:500], kind="compare")
        raise
    finally:
        lock.release()
    console.print(
        f"wrote {out}/ (comparison.parquet, comparison.csv, comparison.md"
        + (", comparison_stats.csv, comparison_pairs.csv" if k > 1 else "")
        + ("" if no_report else ", report.html, figures/")
        + ")"
    )


def _telling(progress, out: Path, tasks: int, only: str | None = None):
    """``progress`` that also says in DIR/status how far the work is (at most once a second):
    ``tasks`` bars run one after another, the fraction done counts the finished ones; with
    ``only``, that one bar alone tells it."""
    from . import checkpoint as ckpt

    seen: list[str] = []
    telling = _Every(STATUS_SECONDS, first=True)

    def tell(name: str, done: int, total: int) -> None:
        progress(name, done, total)
        if only is not None and name != only:
            return
        if name not in seen:
            seen.append(name)
        if telling.due():
            finished, bars = (0, 1) if only is not None else (len(seen) - 1, tasks)
            part = done / total if total else 1.0
            fraction = min(1.0, (finished + part) / bars)
            ckpt.set_status(
                out, "running", pid=os.getpid(), task=name, fraction=fraction, kind="compare"
            )

    return tell


@app.command("ensemble")
def ensemble_cmd(
    preset: str = typer.Argument(..., help="A preset name or a scenario TOML file."),
    seeds: str = typer.Option("8", "--seeds", help="Members (each with its twin)."),
    n: str | None = typer.Option(None, "--n", help="Persons (e.g. 200000 or 2e5)."),
    years: float | None = typer.Option(None, "--years", help="Years to simulate."),
    seed: int | None = typer.Option(None, "--seed", help="The ensemble's seed."),
    workers: int = typer.Option(1, "--workers", help="Dask workers (1: in-process)."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="A Dask scheduler address."),
    out: Path = typer.Option(Path("runs/ensemble"), "--out", help="Output directory."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip DIR/report.html."),
) -> None:
    """Run K members of one scenario, each beside its twin; write DIR/ensemble.json (mean,
    sd and 95 % interval of every summary number, and the paired interval of every
    run-minus-twin difference), DIR/summaries.parquet and DIR/timeseries/ (by member)."""
    from .ensemble import ensemble

    try:
        sc, members = _many(preset, n, years, out, seeds, workers)
        with _bars() as progress:
            result = ensemble(
                sc,
                members,
                seed=seed,
                workers=workers,
                scheduler=scheduler,
                progress=lambda done, total: progress("members", done, total),
                out=out,
            )
    except ScenarioError as e:
        _fail(e)
    result.write(out)
    stats = result.stats
    table = Table(title=f"{sc.name}: {members} members, mean [95 % interval]")
    table.add_column("metric")
    table.add_column("run", justify="right")
    table.add_column("run − twin (paired)", justify="right")
    for h in HEADLINE:
        s, e = stats["summary"].get(h.key), stats["effects"].get(h.key)
        table.add_row(h.label, format_interval(s, h.kind, h.key), format_interval(e, h.kind))
    console.print(table)
    report = not no_report and bool(result.index)  # at least one member to draw
    if report:
        from .report import write_ensemble_report

        write_ensemble_report(out, result)
    console.print(
        f"wrote {out}/ (ensemble.json, summaries.parquet, members/, timeseries/"
        + (", report.html, figures/" if report else "")
        + ")"
    )
    if result.failed:
        for j, why in sorted(result.failed.items()):
            err.print(f"member {j} failed: {why}", highlight=False, markup=False)
        err.print(
            f"{len(result.failed)} of {members} members failed and are left out of the "
            "statistics; run the same command again to finish them",
            highlight=False,
        )
        raise typer.Exit(1)


@app.command("sweep")
def sweep_cmd(
    preset: str = typer.Argument(..., help="A preset name or a scenario TOML file."),
    sets: list[str] = typer.Option(
        ..., "--set", help="KEY=LOW:HIGH[:N], e.g. regime.publicity=0.2:1:5 (repeatable)."
    ),
    design: str = typer.Option("grid", "--design", help="grid or lhs (Latin hypercube)."),
    seeds: str = typer.Option("4", "--seeds", help="Members per point (each with its twin)."),
    points: str = typer.Option("10", "--points", help="Points of an lhs design."),
    n: str | None = typer.Option(None, "--n", help="Persons (e.g. 200000 or 2e5)."),
    years: float | None = typer.Option(None, "--years", help="Years to simulate."),
    seed: int | None = typer.Option(None, "--seed", help="The sweep's seed."),
    workers: int = typer.Option(1, "--workers", help="Dask workers (1: in-process)."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="A Dask scheduler address."),
    metrics: list[str] = typer.Option(
        [], "--metric", help="Summary keys to draw (repeatable; default: six headline ones)."
    ),
    out: Path = typer.Option(Path("runs/sweep"), "--out", help="Output directory."),
) -> None:
    """Vary scenario keys over ranges (a grid, or a Latin hypercube) and run K members at
    every point; write DIR/sweep.csv and sweep.parquet (one row per point x summary number,
    mean and 95 % interval) and one figure per swept key."""
    from .sweeps import FIGURE_METRICS, design_points, parse_set
    from .sweeps import sweep as run_sweep

    try:
        base, members = _many(preset, n, years, out, seeds, workers)
        lhs = _count(points, "--points")
        axes = [parse_set(text, base) for text in sets]
        x = design_points(axes, design, lhs, base.run.seed if seed is None else seed)
        console.print(
            f"{design}: {len(x)} points x {members} members = {len(x) * members:,} runs of "
            f"{base.population.persons:,} persons x {base.run.years:g} years, each with its twin",
            highlight=False,
        )
        shown = tuple(metrics) or FIGURE_METRICS
        with _bars() as progress:
            result = run_sweep(
                base,
                axes,  # parsed and checked once, above
                design,
                members,
                lhs,
                seed=seed,
                workers=workers,
                scheduler=scheduler,
                progress=lambda done, total: progress("runs", done, total),
            )
    except ScenarioError as e:
        _fail(e)
    except RuntimeError as e:
        _fail(e, 1)
    result.write(out, shown)
    table = result.table()
    view = Table(title=f"{base.name}: mean [95 % interval] over {members} members per point")
    keys = [a.key for a in axes]
    for k in keys:
        view.add_column(k.split(".")[-1], justify="right")
    first = [m for m in shown if m in set(table["metric"])][:3]
    for m in first:
        view.add_column(m, justify="right")
    kind = {h.key: h.kind for h in HEADLINE}
    for i, point in enumerate(result.points):
        rows = table[table["point"] == i].set_index("metric")
        cells = [f"{v:g}" for v in point]
        for m in first:
            if m not in rows.index:  # no value at this point (e.g. a share of nobody)
                cells.append("—")
                continue
            stat = {k: (None if v != v else v) for k, v in rows.loc[m].to_dict().items()}
            cells.append(format_interval(stat, kind.get(m, "num"), m))
        view.add_row(*cells)
    console.print(view)
    console.print(f"wrote {out}/ (sweep.csv, sweep.parquet, sweep.json, figures/)")


@app.command("sensitivity")
def sensitivity_cmd(
    preset: str = typer.Argument(..., help="A preset name or a scenario TOML file."),
    problem: Path = typer.Option(..., "--problem", help="The problem file (TOML)."),
    method: str = typer.Option("sobol", "--method", help="sobol or morris."),
    workers: int = typer.Option(1, "--workers", help="Dask workers (1: in-process)."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="A Dask scheduler address."),
    out: Path = typer.Option(Path("runs/sensitivity"), "--out", help="Output directory."),
) -> None:
    """Which assumptions drive the outputs: SALib's Sobol indices (first order and total) or
    Morris' mu* and sigma, with 95 % intervals; writes DIR/sensitivity.csv and a figure."""
    from .sensitivity_analysis import METHODS, analyse, load_problem, runs_needed
    from .sensitivity_analysis import write as write_indices

    try:
        if method not in METHODS:
            raise ScenarioError(
                "(command line)", "--method", method, f"allowed: {', '.join(METHODS)}"
            )
        base = load(preset)
        spec = load_problem(problem, base)
        runs = runs_needed(method, spec.samples, len(spec.parameters))
        console.print(
            f"{method}: {len(spec.parameters)} parameters, N = {spec.samples}: {runs:,} runs "
            f"of {spec.persons:,} persons x {spec.years:g} years, each with its twin",
            highlight=False,
        )
        with _bars() as progress:
            table = analyse(
                base,
                spec,
                method,
                lambda done, total: progress("runs", done, total),
                workers,
                scheduler,
            )
    except ScenarioError as e:
        _fail(e)
    except RuntimeError as e:
        _fail(e, 1)
    write_indices(table, out, method)
    shown = Table(title=f"{base.name}: {method} indices [95 % interval half-width]")
    for col in ("output", "parameter", "index", "value", "± conf"):
        shown.add_column(col, justify="left" if col in ("output", "parameter") else "right")
    for r in table.itertuples():
        conf = "—" if r.conf != r.conf else f"{r.conf:.3f}"
        shown.add_row(r.output, r.parameter, r.index, f"{r.value:.3f}", conf)
    console.print(shown)
    console.print(f"wrote {out}/ (sensitivity.csv, sensitivity.png)")


@app.command("calibrate")
def calibrate_cmd(
    preset: str = typer.Argument(..., help="The preset to fit."),
    targets: Path = typer.Option(..., "--targets", help="Targets file (TOML)."),
    out: Path = typer.Option(Path("runs/calibrate"), "--out", help="Output directory."),
) -> None:
    """Fit a preset's free parameters to published figures; print target vs simulated; write
    DIR/fitted.toml (values, command, date), scenario.toml, trials.csv, check.csv."""
    from . import calibrate as cal

    try:
        spec, base = cal.load_targets(targets, preset)
        _options(None, None, out)
    except ScenarioError as e:
        _fail(e)
    console.print(
        f"fitting {', '.join(p.key for p in spec.parameters)} of {spec.preset!r}: "
        f"{spec.trials} trials at {spec.search_persons or spec.persons:,} persons x "
        f"{len(spec.search_seeds or spec.seeds[:2])} seeds, then a check at "
        f"{spec.persons:,} persons x {len(spec.seeds)} seeds"
    )
    with _bars() as progress:
        fit = cal.calibrate(spec, base, progress)
    command = " ".join(
        ["scoresim", "calibrate", preset, "--targets", str(targets), "--out", str(out)]
    )
    cal.write(fit, base, out, command)
    table = Table(
        title=f"{spec.preset}: target vs simulated (mean ± sd over {len(spec.seeds)} "
        f"seeds at {spec.persons:,} persons, {spec.years:g} years)",
        title_justify="left",
    )
    for col in ("metric", "target", "simulated", "error", "tolerance", ""):
        table.add_column(col, justify="left" if col == "metric" else "right", no_wrap=True)
    for r in fit.rows():
        if r["absolute"]:  # in the metric's units (for a share: percentage points)
            error = f"{r['simulated'] - r['target']:+.4f}"
            tolerance = f"± {r['tolerance']:g}"
        else:
            error = f"{100 * r['relative_error']:+.1f} %"
            tolerance = f"± {100 * r['tolerance']:.0f} %"
        table.add_row(
            r["metric"],
            f"{r['target']:.4g}",
            f"{r['simulated']:.4g} ± {r['sd']:.2g}",
            error,
            tolerance,
            "[green]ok[/]" if r["within"] else "[red]outside[/]",
        )
    console.print(table)
    for key, v in fit.values.items():
        console.print(f"  {key} = {v:.6g}")
    console.print(f"wrote {out}/ (fitted.toml, scenario.toml, trials.csv, check.csv)")
    if not fit.ok:
        raise typer.Exit(1)


@app.command()
def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on (this machine only by default)."
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port."),
    root: Path = typer.Option(
        Path("runs"), "--root", help="Folder of the server's runs and job store."
    ),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Jobs run at once."),
    max_persons: str = typer.Option(
        "200000", "--max-persons", help="Largest society a visitor may run."
    ),
    max_years: float = typer.Option(10.0, "--max-years", help="Longest run a visitor may ask for."),
    queue_limit: int = typer.Option(
        50, "--queue", min=1, help="Jobs waiting before new ones are refused."
    ),
    no_reports: bool = typer.Option(
        False, "--no-reports", help="Jobs skip report.html and its figures (faster)."
    ),
) -> None:
    """The explorable: a web page where anyone can put a society under a regime and see what
    it does. Jobs run in the background as `scoresim run` / `compare` would, kept in
    ROOT/.server/jobs.sqlite: a server stopped mid-job resumes it when it starts again."""
    from .explorable import Limits
    from .server import serve as start

    try:
        persons = _count(max_persons, "--max-persons")
        if not (0 < max_years <= 200):
            raise ScenarioError(
                "(command line)", "--max-years", max_years, "must be > 0 and <= 200"
            )
        if root.exists() and not root.is_dir():
            raise ScenarioError("(command line)", "--root", str(root), "exists and is not a folder")
    except ScenarioError as e:
        _fail(e)
    limits = Limits(
        max_persons=persons,
        max_years=max_years,
        default_persons=min(Limits.default_persons, persons),
        queue=queue_limit,
    )
    try:
        start(root, host, port, workers, limits, reports=not no_reports)
    except ScenarioError as e:  # another server holds this root
        _fail(e)


@app.command()
def scenarios() -> None:
    """List the shipped presets, one line each."""
    table = Table(show_header=True)
    table.add_column("preset")
    table.add_column("what it models")
    for name, path in sorted(presets().items()):
        try:
            sc = load(path)
            table.add_row(name, sc.description)
        except ScenarioError as e:  # a broken preset is a bug: say so, do not hide it
            table.add_row(name, f"[red]invalid: {e}[/]")
    console.print(table)


DID_ROWS = ("truth (treated)", "two-way FE", "did2s (Gardner)", "spill-over (untreated)")


@app.command()
def did(
    run_dir: Path = typer.Argument(..., help="A run, or an ensemble, of a scenario with a pilot."),
    outcome: str = typer.Option("critical_post", help="A metric of the regional panel."),
    period_days: float = typer.Option(91.0, help="Days in a period of the panel."),
) -> None:
    """Estimate a pilot's effect from the run's regional panel alone, as a researcher would
    (two-way fixed effects; Gardner's two-stage estimator), beside the true effect the twin
    gives; writes RUN_DIR/did_OUTCOME.csv and .json."""
    try:
        import pyfixest  # noqa: F401
    except ImportError:
        _fail(
            ScenarioError(
                "(command line)",
                "did",
                "pyfixest",
                'needs the optional estimators: pip install "scoresim[did]"',
            )
        )
    from .did import NoPanel
    from .did import did as estimate

    if not 1 <= period_days <= 3653:
        _fail(ScenarioError("(command line)", "--period-days", period_days, "1 to 3653 days"))
    try:
        frame, results = estimate(run_dir, outcome, period_days)
    except NoPanel as e:
        _fail(ScenarioError("(command line)", "RUN_DIR", str(run_dir), str(e)))
    except ValueError as e:
        _fail(ScenarioError("(command line)", "--outcome", outcome, str(e)))
    from rich import box

    k = frame.attrs["members"]
    table = Table(
        title=f"{frame.attrs['outcome']}, "
        + (f"{k} members: mean, 95 % t interval" if k > 1 else "one run, 95 % interval"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for col in ("", "estimate", "95 % interval", "bias", "holds truth"):
        table.add_column(col, justify="left" if not col else "right", no_wrap=True)
    for (_, r), label in zip(frame.iterrows(), DID_ROWS):
        has = isinstance(r.get("bias"), float) and r["bias"] == r["bias"]
        table.add_row(
            label,
            f"{r['mean']:.3g}",
            "" if r["low"] != r["low"] else f"[{r['low']:.3g}, {r['high']:.3g}]",
            f"{r['bias']:+.3g}" if has else "",
            f"{100 * r['covers_truth']:.0f} %" if has else "",
        )
    console.print(table)
    from .atomic import write_atomic

    stem = run_dir / f"did_{outcome}"
    write_atomic(stem.with_suffix(".csv"), frame.to_csv(index=False).encode())
    members = [
        {k: (v.__dict__ if hasattr(v, "__dict__") else v) for k, v in r.items()} for r in results
    ]
    doc = {"outcome": outcome, "period_days": period_days, "table": frame.to_dict("records"),
           "members": members}  # fmt: skip
    write_atomic(stem.with_suffix(".json"), (json.dumps(doc, indent=2) + "\n").encode())
    console.print(f"wrote {stem}.csv and {stem}.json")


@app.command()
def validate(
    file: str = typer.Argument(..., help="A scenario TOML file or preset name."),
    n: str | None = typer.Option(None, "--n", help="Persons (e.g. 100000 or 1e6)."),
    years: float | None = typer.Option(None, "--years", help="Years to simulate."),
) -> None:
    """Check a scenario file; say what it would run and the memory it needs, or exactly what
    is wrong. Warns (without failing) where an array replaces the preset's whole array."""
    from .sim import Sim, check_memory, estimate_bytes

    try:
        persons = _options(n, years, None)
        sc = Sim(file, n=persons, years=years).scenario
        check_memory(sc, file)
    except ScenarioError as e:
        _fail(e)
    _warn_replaced(file)
    console.print(
        f"ok: {file}: scenario {sc.name!r}, regime {sc.regime.name!r}, "
        f"{sc.population.persons:,} persons, {sc.run.steps} steps of a {sc.run.step}, "
        f"twin {'on' if sc.run.twin else 'off'}, about "
        f"{estimate_bytes(sc) / 1e9:.2f} GB of memory"
    )
    from .schedule import phases

    for ph in phases(sc)[1:]:
        when = f"step {ph.step}" if ph.reached(sc.run.steps) else "after the run ends"
        what = ", ".join(ph.keys[:6]) + (" …" if len(ph.keys) > 6 else "")
        console.print(
            f"  at {ph.at:g} years ({when}): regime {ph.scenario.regime.name!r}; {what}"
            + (f" — {ph.note}" if ph.note else "")
        )


def _warn_replaced(file) -> None:
    """Say, on stderr, which arrays of a scenario file replace its preset's whole arrays."""
    from .scenario import replaced_arrays

    for line in replaced_arrays(file):
        err.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)


def main() -> None:  # pragma: no cover - console script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
