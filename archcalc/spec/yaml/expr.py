"""The expression language of YAML specs: ``$name`` and ``${expression}`` (docs/spec-languages.md).

An expression is numeric (and boolean) only: names, numbers, + - * / // %, comparisons,
and/or/not, ``a if c else b``, the functions in :data:`FUNCTIONS`, list items (``depth[0]``) and a
block's input volume ``in.h``, ``in.w``, ``in.c``. It is read with ``ast`` and evaluated node by
node here: no Python evaluation, no attribute access but ``in.*``, no calls but these.

:class:`Expressions` keeps what reading each expression text made (its syntax tree) for the
next evaluation of the same text: a composed document owns one, so a spec built again for each
variant of a sweep reads each of its expressions once.
"""
from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import SourcePos, error
from ...ops.values import near

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Div: operator.truediv}
_CMP = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
        ast.Gt: operator.gt, ast.GtE: operator.ge}
_SUBST = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z_0-9]*)")
_IN = re.compile(r"(?<![\w.])in\s*\.")          # in.c → _in_.c (``in`` is a Python keyword)
_IN_NAME = "_in_"
_IN_AXES = {"h": 0, "w": 1, "c": 2}
_BIG = 1 << 62
Env = Mapping[str, Any]       # the names an expression may use, and their values
_EXPR_HINT = ("expressions use names, numbers, + - * / // %, == != < <= > >=, and/or/not, "
              "a if c else b, min, max, round, floor, ceil, make_divisible, list items "
              "(depth[0]) and in.h, in.w, in.c")


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


FUNCTIONS = {"min": (min, 1, None), "max": (max, 1, None), "round": (_round, 1, 1),
          "floor": (math.floor, 1, 1), "ceil": (math.ceil, 1, 1),
          "make_divisible": (make_divisible, 1, 3)}
_KWARGS = {"make_divisible": ("x", "divisor", "min_value")}


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


def read(expr: str) -> ast.Expression | None:
    """An expression's syntax tree, or None where it cannot be read."""
    try:
        return ast.parse(_IN.sub(_IN_NAME + ".", expr.strip()), mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None


class Expressions:
    """The expressions of one document, each read once: evaluating the same text again (a spec
    built for another variant) reuses its tree. Owned by the composed document, never shared
    between documents."""

    __slots__ = ("trees",)

    def __init__(self) -> None:
        self.trees: dict[str, ast.Expression | None] = {}

    def tree(self, expr: str) -> ast.Expression | None:
        try:
            return self.trees[expr]
        except KeyError:
            tree = self.trees[expr] = read(expr)
            return tree

    def evaluate(self, expr: str, env: Env, pos: SourcePos) -> Any:
        return _evaluate(self.tree(expr), expr, env, pos)

    def substitute(self, value: Any, env: Env, pos: SourcePos) -> Any:
        """``value`` with its ``$name`` and ``${…}`` evaluated: a whole expression gives its
        value, expressions inside text their text; lists item by item."""
        if isinstance(value, list):
            return [self.substitute(v, env, pos) for v in value]
        if not isinstance(value, str) or "$" not in value:
            return value
        m = _SUBST.fullmatch(value.strip())
        if m:
            return self.evaluate(m.group(1) if m.group(1) is not None else m.group(2), env, pos)
        return _SUBST.sub(lambda m: str(self.evaluate(
            m.group(1) if m.group(1) is not None else m.group(2), env, pos)), value)


def evaluate(expr: str, env: Env, pos: SourcePos) -> Any:
    """The value of expression ``expr`` with the names of ``env`` (read anew: see
    :class:`Expressions` for a document's)."""
    return _evaluate(read(expr), expr, env, pos)


def substitute(value: Any, env: Env, pos: SourcePos) -> Any:
    """:meth:`Expressions.substitute`, every expression read anew."""
    return Expressions().substitute(value, env, pos)


def _evaluate(tree: ast.Expression | None, expr: str, env: Env, pos: SourcePos) -> Any:
    if tree is None:
        raise error(f"cannot read the expression {expr!r}", pos, hint=_EXPR_HINT)

    def fail(message: str, hint: str | None = None):
        raise error(message + f" in {expr!r}", pos, hint=hint)

    def num(n: ast.AST, what: str) -> Any:
        v = ev(n)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            name = f"parameter {n.id!r} is {shown(v)}" if isinstance(n, ast.Name) else shown(v)
            fail(f"{what} takes numbers, but {name} is not a number",
                 "arithmetic, comparisons < <= > >= and min/max/round/floor/ceil/make_divisible "
                 "take numbers only")
        return v

    def boolean(n: ast.AST, what: str) -> bool:
        v = ev(n)
        if not isinstance(v, bool):
            fail(f"{what} takes true or false, got {shown(v)}",
                 "compare numbers to get true or false, e.g. stride == 1 or in.c != out")
        return v

    def finite(v: Any) -> Any:
        if isinstance(v, float):
            if not math.isfinite(v) or abs(v) > _BIG:
                fail("the value is too large")
            return int(v) if v.is_integer() else v
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > _BIG:
            fail("the value is too large")
        return v

    def ev(n: ast.AST) -> Any:
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)):
            return finite(n.value)             # bools are ints: True/False stay booleans
        if isinstance(n, ast.Name):
            if n.id not in env:
                if n.id in ("true", "false"):
                    return n.id == "true"
                if n.id == _IN_NAME:
                    fail("'in' is a block's input volume: write in.h, in.w or in.c")
                if n.id in FUNCTIONS:
                    fail(f"{n.id} is a function", f"call it: {n.id}(...)")
                raise error(f"unknown parameter {n.id!r} in {expr!r}", pos,
                            hint=near(n.id, [k for k in env if k != "in"])
                            + "parameters here: " + (", ".join(k for k in env if k != "in")
                                                     or "none"))
            return env[n.id]
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) \
                and n.value.id == _IN_NAME:
            if n.attr not in _IN_AXES:
                meant = near(n.attr, _IN_AXES)
                raise error(f"{expr!r} uses in.{n.attr}, which does not exist", pos, hint=
                     (f"did you mean in.{meant.split(chr(39))[1]}? " if meant else "")
                     + "a block's input volume is in.h (height), in.w (width), in.c (channels)")
            vol = env.get("in")
            if not isinstance(vol, InputVolume):
                raise error(f"{expr!r} uses in.{n.attr} outside a block: in.h, in.w, in.c are a "
                            "block's input volume", pos,
                            hint="use them in a block's layers, on a block instance (its when: "
                                 "and parameters) or in a stage table's with:")
            return vol.get(n.attr, expr, pos)
        if isinstance(n, ast.BinOp) and type(n.op) in _OPS:
            left, right = num(n.left, "arithmetic"), num(n.right, "arithmetic")
            if isinstance(n.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
                fail("division by zero", "check the divisor's parameter (a width or a ratio "
                     "of 0?)")
            if isinstance(n.op, ast.Mult) and abs(left) * abs(right) > _BIG:
                fail("the value is too large")
            return finite(_OPS[type(n.op)](left, right))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            v = num(n.operand, "a sign")
            return -v if isinstance(n.op, ast.USub) else v
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not):
            return not boolean(n.operand, "not")
        if isinstance(n, ast.BoolOp):
            word = "and" if isinstance(n.op, ast.And) else "or"
            for v in n.values:                  # short-circuit, as Python
                b = boolean(v, word)
                if b != (word == "and"):
                    return b
            return word == "and"
        if isinstance(n, ast.Compare) and all(type(o) in _CMP for o in n.ops):
            left = ev(n.left)
            for op, right_node in zip(n.ops, n.comparators):
                right = ev(right_node)
                both_bool = isinstance(left, bool) and isinstance(right, bool)
                if not (both_bool and isinstance(op, (ast.Eq, ast.NotEq))):
                    for side, v in ((n.left, left), (right_node, right)):
                        if isinstance(v, bool) or not isinstance(v, (int, float)):
                            fail(f"comparisons take numbers (== and != also true/false), "
                                 f"got {shown(v)}")
                if not _CMP[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(n, ast.Subscript):            # a list parameter's item: depth[0]
            seq = ev(n.value)
            if not isinstance(seq, list):
                fail(f"only a list can be indexed, got {shown(seq)}",
                     "a list parameter, e.g. params: {depth: [3, 4, 6, 3]}, then depth[0]")
            k = num(n.slice, "an index")
            if not isinstance(k, int) or not -len(seq) <= k < len(seq):
                fail(f"index {shown(k)} is outside the list of {len(seq)} item"
                     f"{'s' * (len(seq) != 1)}", f"indices run from 0 to {len(seq) - 1}")
            return seq[k]
        if isinstance(n, ast.IfExp):
            return ev(n.body) if boolean(n.test, "the condition of 'a if c else b'") \
                else ev(n.orelse)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            name = n.func.id
            if name not in FUNCTIONS:
                fail(f"unknown function {name!r}",
                     near(name, FUNCTIONS) + "functions: " + ", ".join(FUNCTIONS))
            fn, least, most = FUNCTIONS[name]
            allowed = _KWARGS.get(name, ())
            args = [num(a, name) for a in n.args]
            kwargs = {}
            for kw in n.keywords:
                if kw.arg not in allowed:
                    fail(f"{name} takes no argument {kw.arg!r}",
                         f"{name}({', '.join(allowed)})" if allowed else f"{name}(x)")
                none = isinstance(kw.value, ast.Constant) and kw.value.value is None
                kwargs[kw.arg] = None if none else num(kw.value, name)
            given = len(args) + len(kwargs)
            if given < least or (most is not None and given > most):
                want = (f"{least}" if least == most else f"{least} or more" if most is None
                        else f"{least} to {most}")
                fail(f"{name} takes {want} argument{'s' if want != '1' else ''}, got {given}",
                     f"e.g. {name}(x)" if name != "make_divisible"
                     else "make_divisible(x, divisor=8, min_value=None)")
            if name == "make_divisible":
                full = dict(zip(allowed, args))
                if any(k in full for k in kwargs):
                    fail("make_divisible is given an argument twice")
                full.update(kwargs)
                d = full.get("divisor", 8)
                if isinstance(d, float) and d.is_integer():
                    d = int(d)
                if not isinstance(d, int) or d < 1:
                    fail(f"make_divisible's divisor must be a whole number ≥ 1, got {shown(d)}")
                full["divisor"] = d
                return finite(make_divisible(**full))
            if name in ("min", "max") and len(args) < 1:
                fail(f"{name} takes one or more numbers")
            return finite(fn(*args) if len(args) > 1 or name not in ("min", "max") else args[0])
        if isinstance(n, ast.BinOp):                    # **, @, bit operators
            sym = {ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
                   ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@"}.get(type(n.op), "?")
            fail(f"the operator {sym} is not supported",
                 ("write a power as a product (x * x); " if sym == "**" else "") + _EXPR_HINT)
        fail("cannot evaluate this", _EXPR_HINT)
    return ev(tree)
