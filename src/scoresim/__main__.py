"""``python -m scoresim``: the same command as the ``scoresim`` console script (the server starts
its jobs this way, with the interpreter it runs on).

A job of ``scoresim serve`` (SCORESIM_PARENT_PID set) asks Linux for SIGTERM when the server's
thread that started it ends (PR_SET_PDEATHSIG): however the server ends, its runs checkpoint
and stop (its comparisons, which keep no checkpoint, just stop), and the server resumes or
restarts them when it starts again."""

import os


def _stop_with_server() -> None:
    parent = os.environ.pop("SCORESIM_PARENT_PID", None)
    if not parent:
        return
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: the server's restart still finds the job (its lock, its status)
    if os.getppid() != int(parent):  # the server died before the line above
        raise SystemExit(130)


if __name__ == "__main__":
    _stop_with_server()
    from .cli import main

    main()
