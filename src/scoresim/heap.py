"""The C library's heap in a large run: freed memory given back to the system between steps.

numpy takes an array of more than 32 MB from the system as a mapping of its own and returns
it when the array is freed. A smaller one comes from the C library's heap (glibc's malloc),
which keeps what is freed for reuse and returns it only from the heap's top. In a run of
10^7 persons or more, the arrays held for long (a rule's pending records of a step, a few MB
each, kept for years) and a step's medium temporaries (per firm, per rule, per act) share
that heap, so the space the temporaries free between held blocks can stay resident.
``give_back`` asks glibc to return every free page of its heaps (``malloc_trim(0)``); with
another C library it does nothing. It moves no number: it frees nothing that is in use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import NamedTuple

# [assume] From this many persons a run gives its free heap pages back after every step:
# there a step takes a second or more on 2 cores, a trim a few milliseconds.
GIVE_BACK_FROM = 10**7


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
        libc.mallinfo2.restype = _MallInfo2
        return libc
    except (OSError, AttributeError):  # not glibc, or one older than 2.33 (no mallinfo2)
        return None


_LIBC = _glibc()


def give_back() -> bool:
    """Return the heap's free pages to the system; whether any were returned."""
    return bool(_LIBC.malloc_trim(0)) if _LIBC is not None else False


class HeapUse(NamedTuple):
    """Bytes of the heap (all of glibc's arenas): held from the system, in use, free in it;
    and in mappings of their own (the large arrays)."""

    held: int
    in_use: int
    free: int
    mapped: int


def heap_use() -> HeapUse | None:
    """What glibc's heap holds now (None with another C library)."""
    if _LIBC is None:
        return None
    m = _LIBC.mallinfo2()
    return HeapUse(m.arena, m.uordblks, m.fordblks, m.hblkhd)
