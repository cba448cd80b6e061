"""Citations point at documents a user of scoresim has: docs/sources.md and docs/model.md.

A published figure is cited by the ID of its entry in docs/sources.md (``[src S-court-paid:
about 27 % paid]``, or a link to ``sources.md#s-court-paid``); a part of the model by a section
of docs/model.md (``docs/model.md §7.5`` or ``model.md#7-5-sanctions``). IDs, anchors and
section numbers are read from the two documents themselves, so adding an entry there is all
a new citation needs. These tests fail if a preset, a calibration targets file, a document
(README.md, docs/**/*.md) or a module under src/scoresim/ cites an ID, anchor or section that
does not exist, gives a ``[src ...]`` with no ID, or still cites facts.md or MODEL.md — files
outside the project that a user who clones it does not have.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "docs" / "sources.md"
MODEL = ROOT / "docs" / "model.md"

# an entry of docs/sources.md: its anchor, then a heading that starts with its ID
ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
ENTRY = re.compile(r'<a id="([^"]+)"></a>\s*\n#{2,4} (S-[a-z0-9]+(?:-[a-z0-9]+)*)\b')
# a numbered section of docs/model.md: "### 7.5 Sanctions"
SECTION = re.compile(r"^#{2,4} (\d+(?:\.\d+)*) \S", re.M)

SOURCE_ID = re.compile(r"(?<![\w-])S-[a-z0-9]+(?:-[a-z0-9]+)*")
SRC_BRACKET = re.compile(r"\[src(?=[\s:\],])([^\]]*)\]")  # not "[src.attr" in code
SOURCES_LINK = re.compile(r"sources\.md#([\w-]+)")
MODEL_LINK = re.compile(r"model\.md#([\w-]+)")
MODEL_SECTIONS = re.compile(r"model\.md((?:(?:\s*,\s*|\s+and\s+|\s+)§\s*\d+(?:\.\d+)*)+)")
SECTION_REF = re.compile(r"§\s*(\d+(?:\.\d+)*)")
OWN_LINK = re.compile(r"\]\(#([\w-]+)\)")
# files outside the project (the steering repository's), which a user does not have
FORBIDDEN = re.compile(r"facts\.md|MODEL\.md|shared/reference")


def source_ids(text: str) -> set[str]:
    """The IDs of the entries of docs/sources.md (``S-census-households``)."""
    return {i for _, i in ENTRY.findall(text)}


def model_sections(text: str) -> tuple[set[str], set[str]]:
    """The section numbers ("7.5") and anchors ("7-5-sanctions") of docs/model.md."""
    return set(SECTION.findall(text)), set(ANCHOR.findall(text))


def bad_citations(
    text: str,
    ids: set[str],
    sections: set[str],
    anchors: set[str],
    internal: bool = False,
    own_anchors: set[str] | None = None,
) -> list[str]:
    """Every citation in ``text`` that points nowhere, as "line N: what is wrong".
    ``internal``: the text is docs/model.md itself, where a bare "§7.5" is one of its own
    sections. ``own_anchors``: the anchors the text's own links (``](#anchor)``) may use."""
    bad = []

    def line(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    for m in FORBIDDEN.finditer(text):
        bad.append(
            f"line {line(m.start())}: cites {m.group(0)!r}, which users do not have: cite an "
            "entry of docs/sources.md ([src S-...]) or a section of docs/model.md (§N.N)"
        )
    for m in SRC_BRACKET.finditer(text):
        head = m.group(1).split(":", 1)[0]
        if not SOURCE_ID.search(head):
            bad.append(
                f"line {line(m.start())}: {m.group(0)[:60]!r} names no entry of "
                "docs/sources.md: write [src S-<id>] or [src S-<id>: what it says]"
            )
    for m in SOURCE_ID.finditer(text):
        if m.group(0) not in ids:
            bad.append(f"line {line(m.start())}: no entry {m.group(0)!r} in docs/sources.md")
    lower = {i.lower() for i in ids}
    for m in SOURCES_LINK.finditer(text):
        if m.group(1) not in lower and m.group(1) not in HEADINGS_OF_SOURCES:
            bad.append(f"line {line(m.start())}: no anchor #{m.group(1)} in docs/sources.md")
    for m in MODEL_LINK.finditer(text):
        if m.group(1) not in anchors:
            bad.append(f"line {line(m.start())}: no anchor #{m.group(1)} in docs/model.md")
    refs = (
        [(m.start(), n) for m in SECTION_REF.finditer(text) for n in [m.group(1)]]
        if internal
        else [
            (m.start(), n)
            for m in MODEL_SECTIONS.finditer(text)
            for n in SECTION_REF.findall(m.group(1))
        ]
    )
    for pos, n in refs:
        if n not in sections:
            bad.append(f"line {line(pos)}: no section §{n} in docs/model.md")
    if own_anchors is not None:
        for m in OWN_LINK.finditer(text):
            if m.group(1) not in own_anchors:
                bad.append(f"line {line(m.start())}: no anchor #{m.group(1)} in this document")
    return bad


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


# topic headings of docs/sources.md ("#population"), which its contents line links to
HEADINGS_OF_SOURCES = {
    _slug(h) for h in re.findall(r"^## (.+)$", SOURCES.read_text(encoding="utf-8"), re.M)
}


def cited_files() -> list[Path]:
    """Every file whose citations must resolve."""
    files = sorted((ROOT / "src" / "scoresim" / "scenarios").glob("*.toml"))
    files += sorted((ROOT / "calibration").glob("*.toml"))
    files += sorted((ROOT / "docs").rglob("*.md"))
    files.append(ROOT / "README.md")
    files += sorted((ROOT / "src" / "scoresim").rglob("*.py"))
    return files


IDS = source_ids(SOURCES.read_text(encoding="utf-8"))
SECTIONS, ANCHORS = model_sections(MODEL.read_text(encoding="utf-8"))


# ----------------------------------------------------------------- the checker can fail


def test_checker_catches_bad_citations():
    ids = {"S-court-paid", "S-census-households"}
    sections, anchors = {"7", "7.5"}, {"7-5-sanctions"}

    def check(text: str, internal: bool = False) -> list[str]:
        return bad_citations(text, ids, sections, anchors, internal)

    good = (
        "# [src S-court-paid: about 27 % paid] [src S-court-paid, S-census-households]\n"
        "# [src S-court-paid, uncertain: a reading] [assume] a choice\n"
        "see docs/model.md §7.5 and [§7.5](model.md#7-5-sanctions), "
        "[S-court-paid](sources.md#s-court-paid)\n"
    )
    assert check(good) == []
    assert check("points = -10  # [src S-made-up: a figure]") == [
        "line 1: no entry 'S-made-up' in docs/sources.md"
    ]
    assert len(check('x = 1  # [src "Population": 67 %]')) == 1  # the old form: no ID
    assert len(check("x = 1  # [src]")) == 1
    assert len(check("x = 1  # [src, uncertain] removed early")) == 1
    assert len(check("(facts.md, section 'Firms')")) == 1
    assert len(check('"""Sources (MODEL.md §5)."""')) == 1
    assert len(check("cites ../shared/reference/facts.md")) == 2  # the path and the file
    assert check("\n\nsee docs/model.md §7.9") == ["line 3: no section §7.9 in docs/model.md"]
    assert len(check("docs/model.md §7.5, §8.1 and §7")) == 1
    assert len(check("[sanctions](model.md#7-6-safeguards)")) == 1
    assert len(check("[S-court-paid](sources.md#s-court-unpaid)")) == 1
    assert check("as in §9", internal=False) == []  # elsewhere a bare § is not ours
    assert len(check("as in §9", internal=True)) == 1
    assert len(bad_citations("see [below](#7-9-x)", ids, sections, anchors, True, anchors)) == 1


def test_checker_catches_a_made_up_id_in_a_preset_copy(tmp_path):
    """A real preset with one citation changed to an ID that does not exist is caught."""
    text = (ROOT / "src" / "scoresim" / "scenarios" / "article.toml").read_text(encoding="utf-8")
    assert bad_citations(text, IDS, SECTIONS, ANCHORS) == []
    broken = text.replace("[src S-court-term: 2 years]", "[src S-court-terms: 2 years]", 1)
    assert broken != text
    copy = tmp_path / "article.toml"
    copy.write_text(broken, encoding="utf-8")
    found = bad_citations(copy.read_text(encoding="utf-8"), IDS, SECTIONS, ANCHORS)
    assert len(found) == 1 and "S-court-terms" in found[0]


# ----------------------------------------------------------------- the two documents


def test_sources_document_is_well_formed():
    text = SOURCES.read_text(encoding="utf-8")
    entries = ENTRY.findall(text)
    assert len(entries) >= 30
    for anchor, ident in entries:
        assert anchor == ident.lower(), f"entry {ident}: anchor must be {ident.lower()!r}"
    ids = [i for _, i in entries]
    assert len(ids) == len(set(ids)), "an ID is given twice"
    for block in re.split(r"\n(?=<a id=)", text)[1:]:
        ident = SOURCE_ID.search(block).group(0)
        for part in ("**Figure", "**Source:**", "**Used:**"):
            assert part in block, f"entry {ident} has no {part} line"


def test_model_document_follows_odd():
    text = MODEL.read_text(encoding="utf-8")
    for n in ("1", "2", "3", "4", "5", "6", "7"):
        assert n in SECTIONS, f"docs/model.md has no section {n}"
    for k in range(1, 12):  # the eleven design concepts of ODD (Grimm et al. 2020)
        assert f"4.{k}" in SECTIONS, f"docs/model.md has no design concept 4.{k}"
    # every numbered section has an anchor "7-5-..." right above it
    for m in re.finditer(r'<a id="([^"]+)"></a>\s*\n#{2,4} (\d+(?:\.\d+)*) ', text):
        assert m.group(1).startswith(m.group(2).replace(".", "-") + "-"), m.group(0)
    numbered = len(SECTION.findall(text))
    anchored = len(re.findall(r'<a id="[^"]+"></a>\s*\n#{2,4} \d', text))
    assert numbered == anchored, "a numbered section of docs/model.md has no anchor"


# ----------------------------------------------------------------- every citation resolves


@pytest.mark.parametrize("path", cited_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_citations_resolve(path: Path):
    text = path.read_text(encoding="utf-8")
    own = {MODEL: ANCHORS, SOURCES: {i.lower() for i in IDS} | HEADINGS_OF_SOURCES}.get(path)
    bad = bad_citations(text, IDS, SECTIONS, ANCHORS, internal=path == MODEL, own_anchors=own)
    where = path.relative_to(ROOT)
    hint = ""
    if path.suffix == ".py":
        hint = (
            "\n(the modules' citations of facts.md and MODEL.md are to be repointed at "
            "docs/sources.md IDs and docs/model.md sections, e.g. '(MODEL.md §5)' -> "
            "'(docs/model.md §7.2)', 'facts.md \"Seventh census\": 8.89 %' -> "
            "'[src S-census-minorities: 8.89 %]': see the replacement list of issue 12, item 2)"
        )
    assert not bad, f"{where}:\n  " + "\n  ".join(bad) + hint


def test_calibration_targets_cite_a_source():
    for path in sorted((ROOT / "calibration").glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for target in data.get("targets", []):
            head = SRC_BRACKET.search(target.get("source", ""))
            assert head and SOURCE_ID.search(head.group(1)), (
                f"{path.name}: target {target['metric']!r} has no [src S-...] source"
            )
