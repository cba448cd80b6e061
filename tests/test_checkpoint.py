"""Runs that survive: kill -9 at random steps and resume, a crash in the middle of writing,
Ctrl-C, and the refusal to overwrite a finished run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import resumed_after
from test_cli import scoresim

ARGS = ("run", "article", "--n", "3000", "--years", "2", "--seed", "4")
FILES = ("scenario.toml", "timeseries.parquet", "summary.json")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    r = scoresim(*ARGS, "--out", str(out), "--checkpoint-every", "0")
    assert r.returncode == 0, r.stderr
    return {f: (out / f).read_bytes() for f in FILES}


def _status(out: Path) -> dict:
    try:
        return json.loads((out / "status").read_text())
    except (OSError, ValueError):
        return {}


def _start(out: Path, env=None, every="3"):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scoresim.cli",
            *ARGS,
            "--out",
            str(out),
            "--checkpoint-every",
            every,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _wait_for_step(proc, out: Path, step: int) -> int:
    deadline = time.time() + 300
    while time.time() < deadline:
        st = _status(out)
        if st.get("status") == "running" and st.get("step", 0) >= step:
            return st["step"]
        if proc.poll() is not None:
            pytest.fail(f"run ended before step {step}: {proc.stderr.read()}")
        time.sleep(0.005)
    pytest.fail("timed out")


@pytest.mark.parametrize("kill_at", [4, 37, 80])
def test_sigkill_then_resume_gives_identical_outputs(tmp_path, reference, kill_at):
    out = tmp_path / "run"
    proc = _start(out, env={"NUMBA_NUM_THREADS": "2"})
    reached = _wait_for_step(proc, out, kill_at)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _status(out)["status"] == "running"  # never claims complete
    assert not (out / "summary.json").exists()
    r = scoresim("run", "--resume", str(out), env={"NUMBA_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert _status(out)["status"] == "complete"
    for f in FILES:
        assert (out / f).read_bytes() == reference[f], (f, reached)
    assert not (out / "checkpoint").exists()


def test_ctrl_c_checkpoints_and_says_how_to_resume(tmp_path, reference):
    out = tmp_path / "run"
    proc = _start(out, every="10")
    _wait_for_step(proc, out, 10)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    if proc.returncode == 0:  # finished before the signal landed: nothing to test
        pytest.skip("run finished before Ctrl-C")
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    assert _status(out)["status"] == "interrupted"
    r = scoresim("run", "--resume", str(out))
    assert r.returncode == 0, r.stderr
    for f in FILES:
        assert (out / f).read_bytes() == reference[f]


@pytest.mark.parametrize("fault", ["after-timeseries", "mid-write:summary.json"])
def test_crash_while_writing_outputs_leaves_no_complete_run_and_no_torn_file(tmp_path, fault):
    """Killed between two output files, or with the new summary half written: nothing is
    marked complete, the old summary stays whole, no half-written bytes took a real name."""
    out = tmp_path / "run"
    first = scoresim("run", "--n", "2000", "--years", "0.5", "--seed", "1", "--out", str(out))
    assert first.returncode == 0
    old_summary = (out / "summary.json").read_bytes()
    again = ("run", "--n", "2000", "--years", "0.5", "--seed", "2", "--out", str(out), "--force")
    r = scoresim(*again, env={"SCORESIM_FAULT": fault})
    assert r.returncode == 137
    assert _status(out)["status"] != "complete"
    assert (out / "summary.json").read_bytes() == old_summary
    json.loads(old_summary)
    assert pq.read_table(out / "timeseries.parquet").num_rows > 0  # whole, old or new


def test_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / "run"
    assert scoresim("run", "--n", "2000", "--years", "0.2", "--out", str(out)).returncode == 0
    r = scoresim("run", "--n", "2000", "--years", "0.2", "--out", str(out))
    assert r.returncode == 2 and "--force" in r.stderr and "Traceback" not in r.stderr
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    r = scoresim("run", "--n", "2000", "--years", "0.2", "--out", str(mine))
    assert r.returncode == 2
    r = scoresim("run", "--n", "2000", "--years", "0.2", "--out", str(mine), "--force")
    assert r.returncode == 0 and (mine / "notes.txt").read_text() == "keep me"


def test_runs_lists_run_directories(tmp_path):
    out = tmp_path / "a"
    assert scoresim("run", "--n", "2000", "--years", "0.2", "--out", str(out)).returncode == 0
    r = scoresim("runs", str(tmp_path))
    assert r.returncode == 0 and "complete" in r.stdout and "article" in r.stdout


def test_default_out_never_overwrites(tmp_path):
    for _ in range(2):
        r = scoresim("run", "--n", "2000", "--years", "0.2", "--no-report", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "runs" / "article" / "summary.json").exists()
    assert (tmp_path / "runs" / "article-2" / "summary.json").exists()


def test_resume_and_runs_refuse_bad_input_clearly(tmp_path):
    r = scoresim("run", "--resume", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "needs a run directory" in r.stderr
    assert "Traceback" not in r.stderr
    done = tmp_path / "done"
    assert (
        scoresim(
            "run", "--n", "2000", "--years", "0.2", "--no-report", "--out", str(done)
        ).returncode
        == 0
    )
    r = scoresim("run", "--resume", str(done))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = scoresim("runs", str(tmp_path / "absent"))
    assert r.returncode == 2 and "is not a folder" in r.stderr


def test_checkpoint_of_another_format_is_refused_clearly_and_kept(tmp_path):
    """A torn, foreign, older, altered or another run's checkpoint is refused with one clear
    line and kept as it was; a pickle put in its place is never executed."""
    import io
    import pickle

    import numpy as np

    from scoresim.checkpoint import _digest

    out = tmp_path / "run"
    proc = _start(out)
    _wait_for_step(proc, out, 6)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = out / "checkpoint" / "state.npz"
    marker = tmp_path / "executed"

    class Payload:  # what a malicious pickle would run when loaded
        def __reduce__(self):
            return (open, (str(marker), "w"))

    def npz(members: dict, digest: str | None = None) -> bytes:
        buf = io.BytesIO()
        digest = _digest(members) if digest is None else digest
        np.savez(buf, __digest__=np.frombuffer(digest.encode(), np.uint8), **members)
        return buf.getvalue()

    with np.load(state) as f:
        good = {k: f[k] for k in f.files if k != "__digest__"}
    meta = json.loads(good["__meta__"].tobytes())
    altered = dict(good)
    name = next(k for k in good if k != "__meta__" and good[k].size)
    altered[name] = good[name].copy()
    altered[name].view(np.uint8).flat[0] ^= 1  # one bit changed, the checksum not
    other = dict(
        good, __meta__=np.frombuffer(json.dumps({**meta, "scenario": "x"}).encode(), np.uint8)
    )
    older = {"__meta__": np.frombuffer(json.dumps({**meta, "format": 4}).encode(), np.uint8)}
    cases = [
        (state.read_bytes()[:-100], "checkpoint"),  # torn
        (b"not a checkpoint", "checkpoint"),  # foreign
        (pickle.dumps(Payload()), "checkpoint"),  # a pickle
        (npz(older), "format"),  # a whole checkpoint of an older format
        (npz(altered, _digest(good)), "checksum"),  # damaged inside a whole file
        (npz(other), "scenario"),  # another run's
    ]
    for damage, key in cases:
        state.write_bytes(damage)
        r = scoresim("run", "--resume", str(out))
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        msg = " ".join(r.stderr.split())
        assert "state.npz" in msg and key in msg and "without --resume" in msg, (key, msg)
        assert state.read_bytes() == damage  # nothing written over
        assert not marker.exists()  # the pickle never ran
    state.write_bytes(npz(good))  # the same checkpoint again: resumes
    r = scoresim("run", "--resume", str(out))
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("preset", ["corporate", "rongcheng"])
def test_resume_keeps_what_changes_in_a_world(tmp_path, preset):
    """A checkpoint holds every part of a world that changes: representatives and who
    answers for a listing, grade onsets, the approval arms and experience. Resumed half-way,
    the outputs equal an uninterrupted run's."""
    from scoresim import Sim

    over = {"approval": {"information": {"share": 0.5, "at_years": 0.2, "when": "urban == 1"}}}
    kw = dict(overrides=over, n=6000, years=1.5, seed=3)
    whole = Sim(preset, **kw).run()
    resumed = resumed_after(preset, 40, tmp_path, **kw)
    assert resumed.summary() == whole.summary()
    assert resumed.timeseries().equals(whole.timeseries())


def test_a_run_directory_being_written_is_locked_until_its_writer_dies(tmp_path):
    """While a process holds a run directory, another run into it is refused even with
    --force (naming the holder); once the holder is killed, its lock is no lock."""
    from scoresim import ScenarioError
    from scoresim.atomic import RunLock

    mine = RunLock(tmp_path / "a").acquire()
    with pytest.raises(ScenarioError, match=f"pid {os.getpid()}"):
        RunLock(tmp_path / "a").acquire()
    mine.release()
    RunLock(tmp_path / "a").acquire().release()  # released: free again

    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from scoresim.atomic import RunLock; "
         "RunLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(120)", str(out)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        args = ("run", "article", "--n", "2000", "--years", "0.1", "--out", str(out))
        r = scoresim(*args)  # without --force: the live writer is named too
        assert r.returncode == 2 and str(holder.pid) in " ".join(r.stderr.split())
        args += ("--force",)
        r = scoresim(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        msg = " ".join(r.stderr.split())
        assert "being written by another scoresim process" in msg and str(holder.pid) in msg
        assert not (out / "scenario.toml").exists()  # nothing written into the held folder
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    r = scoresim(*args)  # the holder was killed: its lock file is stale, not a lock
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "status").read_text())["status"] == "complete"


def test_checkpoint_encoding_keeps_types_and_sharing_and_refuses_other_classes():
    """What the store writes comes back as the same types (np.float64 stays one, an IntEnum
    stays one), what was shared stays shared, and nothing but scoresim's own classes is
    written or built."""
    import numpy as np

    from scoresim.checkpoint import _Decoder, _Encoder, _scoresim_class
    from scoresim.rng import Stream
    from scoresim.sim import PersonState

    enc = _Encoder({})
    a = np.arange(5, dtype=np.int32)
    st = PersonState.start(3, np.ones(3, bool), np.array([0, 1, 1], bool))
    x = {"f": np.float64(1.5), "twice": [a, a], "s": Stream.ENSEMBLE, "nan": float("nan"),
         (1, "k"): st}  # fmt: skip
    back = _Decoder({}, enc.arrays).decode(json.loads(json.dumps(enc.encode(x))))
    assert type(back["f"]) is np.float64 and type(back["s"]) is Stream
    assert back["twice"][0] is back["twice"][1] and back["twice"][0].dtype == np.int32
    assert np.isnan(back["nan"]) and type(back[(1, "k")]) is PersonState
    np.testing.assert_array_equal(back[(1, "k")].vpn, st.vpn)
    with pytest.raises(TypeError, match="not one of scoresim's classes"):
        _Encoder({}).encode(Path("x"))
    for node in (  # a crafted file cannot call a scoresim class's constructor either
        {"$enum": "scoresim.sim:Sim", "v": "article"},
        {"$named": "scoresim.sim:Interrupted", "v": [7], "id": 0},
    ):
        with pytest.raises(ValueError):
            _Decoder({}, {}).decode(node)
    for name in ("os:system", "builtins:eval", "scoresim.sim:np.load", "scoresim.cli:Path",
                 "scoresim.sim:NONE_REGIME.__class__", "scoresim.nothing:X"):  # fmt: skip
        with pytest.raises((ValueError, AttributeError)):
            _scoresim_class(name)
