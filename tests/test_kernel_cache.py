"""numba's cache checks a kernel against its own file only; the package keys its cache by a
hash of all its sources, so editing a helper in another module recompiles its callers."""

from __future__ import annotations

import subprocess
import sys

from scoresim.kernel_cache import PREFIX, cache_dir, sources_hash

HELPER = "from numba import njit\n\n\n@njit(cache=True)\ndef h():\n    return {}\n"
CALLER = (
    "from numba import njit\n\nfrom .helper import h\n\n\n"
    "@njit(cache=True)\ndef f():\n    return h()\n"
)
RUN = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from scoresim.kernel_cache import keyed_by_sources
with keyed_by_sources(Path({root!r}) / "pkg"):
    import pkg.main
print(pkg.main.f())
"""


def _package(tmp_path, value):
    pkg = tmp_path / "pkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text(HELPER.format(value))
    (pkg / "main.py").write_text(CALLER)
    return pkg


def _call(tmp_path) -> str:
    code = RUN.format(root=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_editing_a_helper_in_another_module_recompiles_its_caller(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    pkg = _package(tmp_path, 1)
    assert _call(tmp_path) == "1"
    first = cache_dir(pkg)
    assert first.is_dir() and any(first.rglob("*.nbi"))  # cached, and under the hash
    (pkg / "helper.py").write_text(HELPER.format(2))  # the caller's file is untouched
    assert _call(tmp_path) == "2"
    assert cache_dir(pkg) != first
    assert [p.name for p in (pkg / "__pycache__").glob(PREFIX + "*")] == [cache_dir(pkg).name]


def test_the_hash_follows_names_and_contents(tmp_path):
    pkg = _package(tmp_path, 1)
    before = sources_hash(pkg)
    assert sources_hash(pkg) == before
    (pkg / "main.py").rename(pkg / "other.py")
    assert sources_hash(pkg) != before
