"""The small, safe language of rule conditions.

A rule in a rulebook may carry a condition such as ``urban == 0 and age_band >= 2``. Rulebooks
are data written by users, so conditions are parsed by our own recursive-descent parser into
a small tree and evaluated over numpy columns — never by Python ``eval``/``exec``. The
language has numbers, booleans, named fields, arithmetic (+ - * /), comparisons
(== != < <= > >=), ``and``/``or``/``not`` and parentheses; no calls, no attribute access,
no indexing, no strings. Size and nesting are bounded so that hostile input cannot hang or
exhaust the parser. Division by zero gives NaN, and every comparison with NaN is false.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

MAX_LENGTH = 1000
MAX_DEPTH = 32
MAX_NODES = 200

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|\(|\)))"
)
_CMP = ("==", "!=", "<", "<=", ">", ">=")
_KEYWORDS = ("and", "or", "not", "true", "false")


class ExprError(ValueError):
    """A condition that is not a valid expression; says where and what is allowed."""


@dataclass(frozen=True)
class Node:
    op: str  # "num", "name", "neg", "not", "and", "or", a comparison or an arithmetic operator
    args: tuple = ()
    value: float | str | bool | None = None
    boolean: bool = False  # static type: True if the node yields a boolean


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            bad = text[pos:].lstrip()[:1]
            raise ExprError(f"unexpected character {bad!r} at position {pos}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str, names: frozenset[str] | None):
        self.tokens = _tokenize(text)
        self.i = 0
        self.names = names
        self.nodes = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise ExprError("unexpected end of expression")
        self.i += 1
        return tok

    def node(self, depth: int, **kw) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExprError(f"expression too large (more than {MAX_NODES} nodes)")
        if depth > MAX_DEPTH:
            raise ExprError(f"expression nested too deeply (more than {MAX_DEPTH} levels)")
        return Node(**kw)

    def at(self, word: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] in ("name", "op") and tok[1] == word

    def parse(self) -> Node:
        tree = self.disjunction(0)
        tok = self.peek()
        if tok is not None:
            raise ExprError(f"unexpected {tok[1]!r} at position {tok[2]}")
        return tree

    def _need_bool(self, n: Node, op: str) -> None:
        if not n.boolean:
            raise ExprError(f"'{op}' needs true/false operands (a comparison), not a number")

    def disjunction(self, d: int) -> Node:
        left = self.conjunction(d)
        while self.at("or"):
            self.take()
            right = self.conjunction(d)
            self._need_bool(left, "or")
            self._need_bool(right, "or")
            left = self.node(d, op="or", args=(left, right), boolean=True)
        return left

    def conjunction(self, d: int) -> Node:
        left = self.negation(d)
        while self.at("and"):
            self.take()
            right = self.negation(d)
            self._need_bool(left, "and")
            self._need_bool(right, "and")
            left = self.node(d, op="and", args=(left, right), boolean=True)
        return left

    def negation(self, d: int) -> Node:
        if d > MAX_DEPTH:
            raise ExprError(f"expression nested too deeply (more than {MAX_DEPTH} levels)")
        if self.at("not"):
            self.take()
            inner = self.negation(d + 1)
            self._need_bool(inner, "not")
            return self.node(d, op="not", args=(inner,), boolean=True)
        return self.comparison(d)

    def comparison(self, d: int) -> Node:
        left = self.sum(d)
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] in _CMP:
            self.take()
            right = self.sum(d)
            if left.boolean != right.boolean:
                raise ExprError(
                    f"'{tok[1]}' at position {tok[2]} compares true/false with a number"
                )
            nxt = self.peek()
            if nxt is not None and nxt[0] == "op" and nxt[1] in _CMP:
                raise ExprError(f"chained comparison at position {nxt[2]}: use 'and'")
            return self.node(d, op=tok[1], args=(left, right), boolean=True)
        return left

    def sum(self, d: int) -> Node:
        left = self.product(d)
        while self.at("+") or self.at("-"):
            op = self.take()[1]
            right = self.product(d)
            self._need_number(left, op)
            self._need_number(right, op)
            left = self.node(d, op=op, args=(left, right))
        return left

    def product(self, d: int) -> Node:
        left = self.unary(d)
        while self.at("*") or self.at("/"):
            op = self.take()[1]
            right = self.unary(d)
            self._need_number(left, op)
            self._need_number(right, op)
            left = self.node(d, op=op, args=(left, right))
        return left

    def _need_number(self, n: Node, op: str) -> None:
        if n.boolean:
            raise ExprError(f"'{op}' needs numbers, not true/false")

    def unary(self, d: int) -> Node:
        if d > MAX_DEPTH:
            raise ExprError(f"expression nested too deeply (more than {MAX_DEPTH} levels)")
        if self.at("-"):
            self.take()
            inner = self.unary(d + 1)
            self._need_number(inner, "-")
            return self.node(d, op="neg", args=(inner,))
        return self.atom(d)

    def atom(self, d: int) -> Node:
        kind, text, pos = self.take()
        if kind == "num":
            value = float(text)
            if not np.isfinite(value):
                raise ExprError(f"number {text[:20]!r} at position {pos} is not finite")
            return self.node(d, op="num", value=value)
        if kind == "name":
            if text in ("true", "false"):
                return self.node(d, op="num", value=text == "true", boolean=True)
            if text in _KEYWORDS:
                raise ExprError(f"unexpected {text!r} at position {pos}")
            if self.names is not None and text not in self.names:
                allowed = ", ".join(sorted(self.names))
                raise ExprError(f"unknown field {text!r} at position {pos}; allowed: {allowed}")
            return self.node(d, op="name", value=text)
        if text == "(":
            if d + 1 > MAX_DEPTH:
                raise ExprError(f"expression nested too deeply (more than {MAX_DEPTH} levels)")
            inner = self.disjunction(d + 1)
            if not self.at(")"):
                raise ExprError(f"missing ')' for '(' at position {pos}")
            self.take()
            return inner
        raise ExprError(f"unexpected {text!r} at position {pos}")


def parse(text: str, names: frozenset[str] | set[str] | None = None) -> Node:
    """Parse a condition; ``names`` are the allowed fields (None: any). Raises ExprError."""
    if not isinstance(text, str):
        raise ExprError("a condition must be a string")
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters")
    if text.strip() == "":
        raise ExprError("empty expression")
    tree = _Parser(text, frozenset(names) if names is not None else None).parse()
    if not tree.boolean:
        raise ExprError("a condition must be true/false (e.g. 'age_band >= 2'), not a number")
    return tree


def fields(tree: Node) -> set[str]:
    """The field names a tree reads."""
    if tree.op == "name":
        return {str(tree.value)}
    out: set[str] = set()
    for a in tree.args:
        out |= fields(a)
    return out


def evaluate(tree: Node, columns: Mapping[str, np.ndarray], size: int) -> np.ndarray:
    """Evaluate a parsed tree over equally long columns; returns a bool array of ``size``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = _eval(tree, columns)
    return np.broadcast_to(np.asarray(out, dtype=bool), (size,)).copy()


def _eval(n: Node, cols: Mapping[str, np.ndarray]):
    op, a = n.op, n.args
    if op == "num":
        return n.value
    if op == "name":
        return np.asarray(cols[str(n.value)], dtype=np.float64)
    if op == "neg":
        return -_eval(a[0], cols)
    if op == "not":
        return np.logical_not(_eval(a[0], cols))
    x, y = _eval(a[0], cols), _eval(a[1], cols)
    if op == "and":
        return np.logical_and(x, y)
    if op == "or":
        return np.logical_or(x, y)
    if op == "+":
        return np.add(x, y)
    if op == "-":
        return np.subtract(x, y)
    if op == "*":
        return np.multiply(x, y)
    if op == "/":
        return np.divide(np.asarray(x, dtype=np.float64), y)
    if op == "==":
        return np.equal(x, y)
    if op == "!=":  # NaN compares false here too, unlike IEEE
        return (
            np.not_equal(x, y)
            & ~np.isnan(np.asarray(x, dtype=float))
            & ~np.isnan(np.asarray(y, dtype=float))
        )
    if op == "<":
        return np.less(x, y)
    if op == "<=":
        return np.less_equal(x, y)
    if op == ">":
        return np.greater(x, y)
    if op == ">=":
        return np.greater_equal(x, y)
    raise AssertionError(f"unknown node {op}")
