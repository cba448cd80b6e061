"""numba's on-disk kernel cache, keyed by the package's sources.

numba checks a cached kernel against its own file only. A kernel that calls or inlines one
from another module (the random numbers, the graph's entry decoding, the prefetch) is not
recompiled when that other file changes: it silently runs the old code. So this package's
kernels are cached in a directory named after a hash of all its sources — an edit anywhere
starts a fresh cache — and the caches of earlier sources are removed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numba

PACKAGE = Path(__file__).parent
PREFIX = "numba-"


def sources_hash(package: Path = PACKAGE) -> str:
    """A hash of every Python source of the package (names and contents)."""
    digest = hashlib.sha1()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_dir(package: Path = PACKAGE) -> Path:
    """Where the kernels of these sources are cached: under ``NUMBA_CACHE_DIR`` if the user
    set one, else in the package's ``__pycache__``."""
    root = Path(os.environ.get("NUMBA_CACHE_DIR") or package / "__pycache__")
    return root / (PREFIX + sources_hash(package))


def _remove_stale(current: Path) -> None:
    for old in current.parent.glob(PREFIX + "*"):
        if old != current and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


@contextmanager
def keyed_by_sources(package: Path = PACKAGE) -> Iterator[Path]:
    """Within the block, kernels compiled with ``cache=True`` are cached in ``cache_dir()``;
    numba's setting is put back afterwards, so other libraries' caches are left alone. Where
    the directory cannot be written, numba falls back to its own locations."""
    target = cache_dir(package)
    if not target.exists():
        try:
            target.mkdir(parents=True)
            _remove_stale(target)
        except OSError:
            pass  # read-only install: numba falls back to its own locations
    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(target)
    try:
        yield target
    finally:
        numba.config.CACHE_DIR = previous
