"""The definition of every summary key, read from data/measurement.md (the one source: the
docs point to it, the web page links every number to it)."""

from __future__ import annotations

import html
import re
from functools import cache
from importlib.resources import files

_KEY = re.compile(r"`([a-z_0-9]+)`")


@cache
def table() -> list[tuple[list[str], str]]:
    """The rows of the table: (the keys a row defines, its definition in markdown)."""
    rows = []
    text = files("scoresim").joinpath("data/measurement.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        keys_cell, definition = line[2:].rstrip(" |").split(" | ", 1)
        rows.append((_KEY.findall(keys_cell), definition))
    return rows


def anchor(key: str) -> str:
    """The anchor of a (possibly dotted: "partners_dropped.rating") key's row."""
    return key.split(".")[0]


def definition(key: str) -> str | None:
    """The markdown definition of a summary key (a dotted key: of its first part)."""
    base = anchor(key)
    for keys, text in table():
        if base in keys:
            return text
    return None


def as_html(markdown: str) -> str:
    """A definition cell as HTML: escaped, with its `code` spans."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(markdown, quote=False))
