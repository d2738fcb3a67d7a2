"""The expression language of YAML specs: ``$name`` and ``${expression}`` (docs/spec-languages.md).

An expression is numeric (and boolean) only: names, numbers, + - * / // %, comparisons,
and/or/not, ``a if c else b``, the functions of :data:`FUNCTIONS`, list items (``depth[0]``) and a
block's input volume ``in.h``, ``in.w``, ``in.c``. It is read with ``ast`` and compiled here,
node by node, into a tree of small Python functions (closures) that check every value as they
go: no Python evaluation, no attribute access but ``in.*``, no calls but these. A node the
language does not have compiles to one that fails when it is reached, with the message the
language gives for it, so an expression fails exactly where and as its evaluation would.

:class:`Expressions` keeps each compiled text for the next evaluation of the same text: a
composed document owns one, so a spec built again for each variant of a sweep reads and
compiles each of its expressions once.
"""
from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NoReturn

from ...errors import SourcePos, error
from ...ops.values import near

Env = Mapping[str, Any]                 # the names an expression may use, and their values
Node = Callable[[Env, SourcePos], Any]  # a compiled expression (or part of one)

_OPS: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = MappingProxyType({
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Div: operator.truediv})
_CMP: Mapping[type[ast.cmpop], Callable[[Any, Any], Any]] = MappingProxyType({
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge})
_UNSUPPORTED: Mapping[type[ast.operator], str] = MappingProxyType({
    ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<",
    ast.RShift: ">>", ast.MatMult: "@"})
SUBST = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z_0-9]*)")   # $name, ${expression}
BRACES = re.compile(r"\{([^}]*)\}")      # {expression} in a name pattern: "block{i}"
_IN = re.compile(r"(?<![\w.])in\s*\.")          # in.c → _in_.c (``in`` is a Python keyword)
_IN_NAME = "_in_"
AXES = ("h", "w", "c")                   # in.h, in.w, in.c
_BIG = 1 << 62
_EXPR_HINT = ("expressions use names, numbers, + - * / // %, == != < <= > >=, and/or/not, "
              "a if c else b, min, max, round, floor, ceil, make_divisible, list items "
              "(depth[0]) and in.h, in.w, in.c")
_NUMBERS_HINT = ("arithmetic, comparisons < <= > >= and min/max/round/floor/ceil/make_divisible "
                 "take numbers only")
_BOOLEANS_HINT = "compare numbers to get true or false, e.g. stride == 1 or in.c != out"


def make_divisible(x: float, divisor: int = 8, min_value: int | None = None) -> int:
    """torchvision's ``_make_divisible`` (MobileNetV2/V3, EfficientNet, RegNet): ``x`` rounded to
    the nearest multiple of ``divisor``, at least ``min_value`` (default ``divisor``), and never
    more than 10% below ``x``."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(x + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * x:
        new_v += divisor
    return new_v


def _round(x: float) -> int:
    return round(x)          # Python's: halves to even, as the reference code written in it


# name -> (function, least and most arguments: None for any number)
FUNCTIONS: Mapping[str, tuple[Callable[..., Any], int, int | None]] = MappingProxyType({
    "min": (min, 1, None), "max": (max, 1, None), "round": (_round, 1, 1),
    "floor": (math.floor, 1, 1), "ceil": (math.ceil, 1, 1),
    "make_divisible": (make_divisible, 1, 3)})
_KWARGS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"make_divisible": ("x", "divisor", "min_value")})


class InputVolume:
    """What ``in.h``, ``in.w``, ``in.c`` read: the volume of a block instance's input (the
    output of layer ``src``), computed only when an expression asks. ``read(src, axis, expr,
    pos)`` gives one axis of it (the emitter's volume tracker), or raises a located error."""

    __slots__ = ("read", "src")

    def __init__(self, read: Callable[[str, str, str, SourcePos], int], src: str):
        self.read, self.src = read, src

    def get(self, axis: str, expr: str, pos: SourcePos) -> int:
        return self.read(self.src, axis, expr, pos)


def shown(v: Any) -> str:
    """A value as messages show it: true, false, or its repr."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


def _is_number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float))


# ---------------------------------------------------------------------------------------------
# a document's expressions

class Expressions:
    """The expressions of one document, each compiled once: evaluating the same text again (a
    spec built for another variant) reuses its compiled form. Owned by the composed document,
    never shared between documents (nothing here outlives the document)."""

    __slots__ = ("names", "nodes", "texts")

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}      # expression → compiled
        self.texts: dict[str, Node] = {}      # a value with $name/${…} → its substitution
        self.names: dict[str, Node] = {}      # a name pattern with {…} → the name

    def node(self, expr: str) -> Node:
        """``expr`` compiled (once)."""
        got = self.nodes.get(expr)
        if got is None:
            got = self.nodes[expr] = compile_expression(expr)
        return got

    def evaluate(self, expr: str, env: Env, pos: SourcePos) -> Any:
        """The value of expression ``expr`` with the names of ``env``; errors at ``pos``."""
        return self.node(expr)(env, pos)

    def substitute(self, value: Any, env: Env, pos: SourcePos) -> Any:
        """``value`` with its ``$name`` and ``${…}`` evaluated: a whole expression gives its
        value, expressions inside text their text; lists item by item."""
        if isinstance(value, list):
            return [self.substitute(v, env, pos) for v in value]
        if not isinstance(value, str) or "$" not in value:
            return value
        got = self.texts.get(value)
        if got is None:
            got = self.texts[value] = self._template(value, SUBST, _substituted)
        return got(env, pos)

    def substitution(self, value: Any) -> Node:
        """:meth:`substitute` of ``value`` as a node, for a value substituted again and again
        (it then skips looking at the value each time)."""
        if isinstance(value, list):
            return lambda env, pos: self.substitute(value, env, pos)
        if not isinstance(value, str) or "$" not in value:
            return lambda env, pos: value
        got = self.texts.get(value)
        if got is None:
            got = self.texts[value] = self._template(value, SUBST, _substituted)
        return got

    def name(self, pattern: str, env: Env, pos: SourcePos) -> str:
        """A name pattern with its ``{expression}`` parts evaluated (``"block{i + 1}"``)."""
        got = self.names.get(pattern)
        if got is None:
            got = self.names[pattern] = self._template(pattern, BRACES, lambda m: m.group(1))
        value: str = got(env, pos)
        return value

    def _template(self, text: str, parts: re.Pattern[str],
                  expression: Callable[[re.Match[str]], str]) -> Node:
        """A text whose matches of ``parts`` are expressions: one whole expression gives its
        value (``${4 * w}``, for ``$``-substitution), else the text with each part's value
        written in, left to right."""
        if parts is SUBST:
            whole = SUBST.fullmatch(text.strip())
            if whole:
                return self.node(expression(whole))
        pieces: list[str | Node] = []
        at = 0
        for m in parts.finditer(text):
            pieces.append(text[at:m.start()])
            pieces.append(self.node(expression(m)))
            at = m.end()
        pieces.append(text[at:])

        def joined(env: Env, pos: SourcePos) -> str:
            return "".join([p if isinstance(p, str) else str(p(env, pos)) for p in pieces])
        return joined


def _substituted(m: re.Match[str]) -> str:
    """The expression of a ``$name`` or ``${expression}`` match."""
    return m.group(1) if m.group(1) is not None else m.group(2)


def evaluate(expr: str, env: Env, pos: SourcePos) -> Any:
    """The value of expression ``expr`` with the names of ``env`` (compiled anew: see
    :class:`Expressions` for a document's)."""
    return compile_expression(expr)(env, pos)


def substitute(value: Any, env: Env, pos: SourcePos) -> Any:
    """:meth:`Expressions.substitute`, every expression compiled anew."""
    return Expressions().substitute(value, env, pos)


# ---------------------------------------------------------------------------------------------
# the compiler

def read(expr: str) -> ast.Expression | None:
    """An expression's syntax tree, or None where it cannot be read."""
    try:
        return ast.parse(_IN.sub(_IN_NAME + ".", expr.strip()), mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None


def compile_expression(expr: str) -> Node:
    """``expr`` as a function of (names, place) that evaluates it, or raises the located error
    its evaluation meets."""
    tree = read(expr)
    if tree is None:
        def unreadable(env: Env, pos: SourcePos) -> NoReturn:
            raise error(f"cannot read the expression {expr!r}", pos, hint=_EXPR_HINT)
        return unreadable
    return _Compiler(expr).node(tree.body)


def _numeral(n: ast.AST) -> float | None:
    """The value of a number written in the expression (not true or false), where it is within
    bounds as written; else None."""
    if isinstance(n, ast.Constant) and n.value.__class__ in (int, float):
        v = n.value
        if math.isfinite(v) and abs(v) <= _BIG:
            return int(v) if isinstance(v, float) and v.is_integer() else v
    return None


def _fail(message: str, expr: str, pos: SourcePos, hint: str | None = None) -> NoReturn:
    raise error(message + f" in {expr!r}", pos, hint=hint)


def _finite(v: Any, expr: str, pos: SourcePos) -> Any:
    """A computed value within archcalc's bounds; a float that is whole becomes an int."""
    if isinstance(v, float):
        if not math.isfinite(v) or abs(v) > _BIG:
            _fail("the value is too large", expr, pos)
        return int(v) if v.is_integer() else v
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > _BIG:
        _fail("the value is too large", expr, pos)
    return v


class _Compiler:
    """Compiles the nodes of one expression (``expr``, named in its messages). Each method
    returns a :data:`Node`; the checks are those of the language's definition, in the order it
    makes them (operands left to right, each checked as soon as it is computed)."""

    def __init__(self, expr: str):
        self.expr = expr

    def failing(self, message: str, hint: str | None = None) -> Node:
        """A node that fails when it is reached."""
        expr = self.expr

        def fails(env: Env, pos: SourcePos) -> NoReturn:
            _fail(message, expr, pos, hint)
        return fails

    def node(self, n: ast.AST) -> Node:
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)):
            return self.constant(n.value)       # bools are ints: True/False stay booleans
        if isinstance(n, ast.Name):
            return self.name(n.id)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) \
                and n.value.id == _IN_NAME:
            return self.input_axis(n.attr)
        if isinstance(n, ast.BinOp) and type(n.op) in _OPS:
            return self.arithmetic(n)
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            operand = self.number(n.operand, "a sign")
            if isinstance(n.op, ast.USub):
                return lambda env, pos: -operand(env, pos)
            return operand
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not):
            test = self.boolean(n.operand, "not")
            return lambda env, pos: not test(env, pos)
        if isinstance(n, ast.BoolOp):
            return self.logic(n)
        if isinstance(n, ast.Compare) and all(type(o) in _CMP for o in n.ops):
            return self.comparison(n)
        if isinstance(n, ast.Subscript):            # a list parameter's item: depth[0]
            return self.item(n)
        if isinstance(n, ast.IfExp):
            test = self.boolean(n.test, "the condition of 'a if c else b'")
            body, orelse = self.node(n.body), self.node(n.orelse)
            return lambda env, pos: body(env, pos) if test(env, pos) else orelse(env, pos)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            return self.call(n, n.func.id)
        if isinstance(n, ast.BinOp):                    # **, @, bit operators
            sym = _UNSUPPORTED.get(type(n.op), "?")
            return self.failing(f"the operator {sym} is not supported",
                                ("write a power as a product (x * x); " if sym == "**" else "")
                                + _EXPR_HINT)
        return self.failing("cannot evaluate this", _EXPR_HINT)

    def constant(self, value: float) -> Node:
        v = value
        if isinstance(v, float):
            if not math.isfinite(v) or abs(v) > _BIG:
                return self.failing("the value is too large")
            v = int(v) if v.is_integer() else v
        elif not isinstance(v, bool) and abs(v) > _BIG:
            return self.failing("the value is too large")
        return lambda env, pos: v

    def name(self, name: str) -> Node:
        missing = self.missing(name)

        def value(env: Env, pos: SourcePos) -> Any:
            if name in env:
                return env[name]
            return missing(env, pos)
        return value

    def missing(self, name: str) -> Node:
        """What a name that is no parameter here is: true, false, or an error."""
        expr = self.expr

        def missing(env: Env, pos: SourcePos) -> Any:
            if name in ("true", "false"):
                return name == "true"
            if name == _IN_NAME:
                _fail("'in' is a block's input volume: write in.h, in.w or in.c", expr, pos)
            if name in FUNCTIONS:
                _fail(f"{name} is a function", expr, pos, f"call it: {name}(...)")
            raise error(f"unknown parameter {name!r} in {expr!r}", pos,
                        hint=near(name, [k for k in env if k != "in"])
                        + "parameters here: " + (", ".join(k for k in env if k != "in")
                                                 or "none"))
        return missing

    def input_axis(self, axis: str) -> Node:
        expr = self.expr
        if axis not in AXES:
            meant = near(axis, AXES)

            def no_axis(env: Env, pos: SourcePos) -> NoReturn:
                raise error(f"{expr!r} uses in.{axis}, which does not exist", pos, hint=(
                    f"did you mean in.{meant.split(chr(39))[1]}? " if meant else "")
                    + "a block's input volume is in.h (height), in.w (width), in.c (channels)")
            return no_axis

        def volume(env: Env, pos: SourcePos) -> Any:
            vol = env.get("in")
            if not isinstance(vol, InputVolume):
                raise error(f"{expr!r} uses in.{axis} outside a block: in.h, in.w, in.c are a "
                            "block's input volume", pos,
                            hint="use them in a block's layers, on a block instance (its when: "
                                 "and parameters) or in a stage table's with:")
            return vol.get(axis, expr, pos)
        return volume

    def number(self, n: ast.AST, what: str) -> Node:
        """``n``, which must be a number (not true or false)."""
        if _numeral(n) is not None:         # a number as written: nothing to check
            return self.node(n)
        f, expr = self.node(n), self.expr
        named = n.id if isinstance(n, ast.Name) else None
        if isinstance(n, ast.Name):         # the common case, in one step: a parameter
            name, missing = n.id, self.missing(n.id)

            def parameter(env: Env, pos: SourcePos) -> Any:
                v = env[name] if name in env else missing(env, pos)
                if v.__class__ is int or v.__class__ is float:
                    return v
                if not _is_number(v):
                    _fail(f"{what} takes numbers, but parameter {name!r} is {shown(v)} is not a "
                          "number", expr, pos, _NUMBERS_HINT)
                return v
            return parameter

        def num(env: Env, pos: SourcePos) -> Any:
            v = f(env, pos)
            if v.__class__ is int or v.__class__ is float:
                return v
            if not _is_number(v):
                name = f"parameter {named!r} is {shown(v)}" if named is not None else shown(v)
                _fail(f"{what} takes numbers, but {name} is not a number", expr, pos,
                      _NUMBERS_HINT)
            return v
        return num

    def boolean(self, n: ast.AST, what: str) -> Callable[[Env, SourcePos], bool]:
        """``n``, which must be true or false."""
        f, expr = self.node(n), self.expr

        def test(env: Env, pos: SourcePos) -> bool:
            v = f(env, pos)
            if v is True or v is False:
                return v
            _fail(f"{what} takes true or false, got {shown(v)}", expr, pos, _BOOLEANS_HINT)
        return test

    def arithmetic(self, n: ast.BinOp) -> Node:
        left, right = self.number(n.left, "arithmetic"), self.number(n.right, "arithmetic")
        fn, expr = _OPS[type(n.op)], self.expr
        divides = isinstance(n.op, (ast.Div, ast.FloorDiv, ast.Mod))
        multiplies = isinstance(n.op, ast.Mult)
        known = _numeral(n.left)
        if known is not None and not divides:   # 4 * width: the number as written, at once
            a = known

            def scaled(env: Env, pos: SourcePos) -> Any:
                b = right(env, pos)
                if multiplies and abs(a) * abs(b) > _BIG:
                    _fail("the value is too large", expr, pos)
                v = fn(a, b)
                if v.__class__ is int and -_BIG <= v <= _BIG:
                    return v
                return _finite(v, expr, pos)
            return scaled

        def arith(env: Env, pos: SourcePos) -> Any:
            a, b = left(env, pos), right(env, pos)
            if divides and b == 0:
                _fail("division by zero", expr, pos,
                      "check the divisor's parameter (a width or a ratio of 0?)")
            if multiplies and abs(a) * abs(b) > _BIG:
                _fail("the value is too large", expr, pos)
            v = fn(a, b)
            if v.__class__ is int and -_BIG <= v <= _BIG:
                return v
            return _finite(v, expr, pos)
        return arith

    def logic(self, n: ast.BoolOp) -> Node:
        word = "and" if isinstance(n.op, ast.And) else "or"
        # each operand as computed, checked here (true or false) as boolean() would check it
        operands, expr = [self.node(v) for v in n.values], self.expr

        def checked(v: Any, pos: SourcePos) -> bool:
            if v is True or v is False:
                return v
            _fail(f"{word} takes true or false, got {shown(v)}", expr, pos, _BOOLEANS_HINT)

        if word == "and":
            def all_of(env: Env, pos: SourcePos) -> bool:
                for operand in operands:        # short-circuit, as Python
                    v = operand(env, pos)
                    if v is not True and not checked(v, pos):
                        return False
                return True
            return all_of

        def any_of(env: Env, pos: SourcePos) -> bool:
            for operand in operands:
                v = operand(env, pos)
                if v is True or (v is not False and checked(v, pos)):
                    return True
            return False
        return any_of

    def comparison(self, n: ast.Compare) -> Node:
        first, expr = self.node(n.left), self.expr
        steps = [(_CMP[type(op)], isinstance(op, (ast.Eq, ast.NotEq)), self.node(right))
                 for op, right in zip(n.ops, n.comparators)]

        def check(left: Any, right: Any, equality: bool, pos: SourcePos) -> None:
            both_bool = isinstance(left, bool) and isinstance(right, bool)
            if not (both_bool and equality):
                for v in (left, right):
                    if not _is_number(v):
                        _fail(f"comparisons take numbers (== and != also true/false), "
                              f"got {shown(v)}", expr, pos)

        if len(steps) == 1:                 # stride == 1: one comparison, at once
            fn, equality, second = steps[0]

            def compare_one(env: Env, pos: SourcePos) -> bool:
                left, right = first(env, pos), second(env, pos)
                if not ((left.__class__ is int or left.__class__ is float)
                        and (right.__class__ is int or right.__class__ is float)):
                    check(left, right, equality, pos)
                return True if fn(left, right) else False
            return compare_one

        def compare(env: Env, pos: SourcePos) -> bool:
            left = first(env, pos)
            for fn, equality, node in steps:
                right = node(env, pos)
                if not ((left.__class__ is int or left.__class__ is float)
                        and (right.__class__ is int or right.__class__ is float)):
                    check(left, right, equality, pos)
                if not fn(left, right):
                    return False
                left = right
            return True
        return compare

    def item(self, n: ast.Subscript) -> Node:
        seq_of, index, expr = self.node(n.value), self.number(n.slice, "an index"), self.expr

        def item(env: Env, pos: SourcePos) -> Any:
            seq = seq_of(env, pos)
            if not isinstance(seq, list):
                _fail(f"only a list can be indexed, got {shown(seq)}", expr, pos,
                      "a list parameter, e.g. params: {depth: [3, 4, 6, 3]}, then depth[0]")
            k = index(env, pos)
            if not isinstance(k, int) or not -len(seq) <= k < len(seq):
                _fail(f"index {shown(k)} is outside the list of {len(seq)} item"
                      f"{'s' * (len(seq) != 1)}", expr, pos,
                      f"indices run from 0 to {len(seq) - 1}")
            return seq[k]
        return item

    def call(self, n: ast.Call, name: str) -> Node:
        if name not in FUNCTIONS:
            return self.failing(f"unknown function {name!r}",
                                near(name, FUNCTIONS) + "functions: " + ", ".join(FUNCTIONS))
        fn, least, most = FUNCTIONS[name]
        allowed = _KWARGS.get(name, ())
        expr = self.expr
        args = [self.number(a, name) for a in n.args]
        # keywords, in order: (name as written, the name where the function takes it, its
        # value: None for a literal None)
        keywords = [(kw.arg, kw.arg if kw.arg in allowed else None,
                     None if isinstance(kw.value, ast.Constant) and kw.value.value is None
                     else self.number(kw.value, name)) for kw in n.keywords]
        want = (f"{least}" if least == most else f"{least} or more" if most is None
                else f"{least} to {most}")
        example = (f"e.g. {name}(x)" if name != "make_divisible"
                   else "make_divisible(x, divisor=8, min_value=None)")

        def arguments(env: Env, pos: SourcePos) -> tuple[list[Any], dict[str, Any]]:
            values = [a(env, pos) for a in args]
            kwargs: dict[str, Any] = {}
            for arg, taken, node in keywords:
                if taken is None:
                    _fail(f"{name} takes no argument {arg!r}", expr, pos,
                          f"{name}({', '.join(allowed)})" if allowed else f"{name}(x)")
                kwargs[taken] = None if node is None else node(env, pos)
            given = len(values) + len(kwargs)
            if given < least or (most is not None and given > most):
                _fail(f"{name} takes {want} argument{'s' if want != '1' else ''}, got {given}",
                      expr, pos, example)
            return values, kwargs

        if name == "make_divisible":
            def divisible(env: Env, pos: SourcePos) -> Any:
                values, kwargs = arguments(env, pos)
                full: dict[str, Any] = dict(zip(allowed, values))
                if any(k in full for k in kwargs):
                    _fail("make_divisible is given an argument twice", expr, pos)
                full.update(kwargs)
                d = full.get("divisor", 8)
                if isinstance(d, float) and d.is_integer():
                    d = int(d)
                if not isinstance(d, int) or d < 1:
                    _fail(f"make_divisible's divisor must be a whole number ≥ 1, got {shown(d)}",
                          expr, pos)
                full["divisor"] = d
                return _finite(make_divisible(**full), expr, pos)
            return divisible

        def call(env: Env, pos: SourcePos) -> Any:
            values, _ = arguments(env, pos)
            if name in ("min", "max") and len(values) < 1:
                _fail(f"{name} takes one or more numbers", expr, pos)
            return _finite(fn(*values) if len(values) > 1 or name not in ("min", "max")
                           else values[0], expr, pos)
        return call
