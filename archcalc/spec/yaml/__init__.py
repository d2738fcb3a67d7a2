"""YAML specs: name, input, defaults, reusable blocks and a layer list (docs/spec-languages.md).

The file is composed with PyYAML's safe loader into nodes (no object is ever constructed from a
tag) and converted here with a budget on nodes, so aliases cannot blow up memory, while keeping
the line and column of every value for error messages.
"""
from __future__ import annotations

import ast
import difflib
import functools
import math
import operator
import re
from dataclasses import replace
from typing import Any

import yaml

from ...errors import ArchcalcError, Diagnostic, SourcePos, error
from ...graph import MAX_LAYERS, Builder, Network
from ...ops import DEFAULT_ROUNDING, OP_NAMES, OPS, At, lookup
from ...ops.base import suggest_attr
from ...ops.values import (as_bool, as_int, as_padding, as_pair, as_rounding, as_volume,
                           as_written, channels_first_warning)
from ...settings import BUILTINS
from ..text import Defaults, check_size, emit_word, expand, letter_runs, parse_items

MAX_NODES = 1_000_000      # YAML nodes after alias expansion
MAX_BLOCK_DEPTH = 16       # blocks instantiating blocks


class YMap(dict):
    pos: SourcePos
    where: dict      # key -> place of its value
    key_at: dict     # key -> place of the key itself


class YList(list):
    pos: SourcePos
    where: list


_PLAIN = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class _Convert:
    def __init__(self, file: str, lines: list[str]):
        self.file, self.lines, self.count = file, lines, 0
        self.cons = yaml.constructor.SafeConstructor()

    def pos(self, node: yaml.Node) -> SourcePos:
        m = node.start_mark
        line = self.lines[m.line] if m.line < len(self.lines) else None
        return SourcePos(self.file, m.line + 1, m.column + 1, line)

    def __call__(self, node: yaml.Node, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise error(f"the YAML expands to more than {MAX_NODES:,} values (through aliases?)",
                        self.pos(node), hint="archcalc refuses alias bombs; write the spec out")
        if depth > 200:
            raise error("the YAML nests deeper than 200 levels", self.pos(node))
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN:
            raise error(f"unsupported YAML value: tag {node.tag!r}", self.pos(node),
                        hint="archcalc reads plain YAML: numbers, strings, lists and mappings")
        if isinstance(node, yaml.MappingNode):
            out = YMap()
            out.pos, out.where, out.key_at = self.pos(node), {}, {}
            for k, v in node.value:
                key = self(k, depth + 1)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise error("mapping keys must be plain words", self.pos(k))
                key = str(key)        # every key of the schema is a name
                if key in out:
                    raise error(f"key {key!r} appears twice", self.pos(k),
                                hint="each key may be given once")
                out[key] = self(v, depth + 1)
                out.where[key] = self.pos(v)
                out.key_at[key] = self.pos(k)
            return out
        if isinstance(node, yaml.SequenceNode):
            out = YList()
            out.pos, out.where = self.pos(node), []
            for v in node.value:
                out.append(self(v, depth + 1))
                out.where.append(self.pos(v))
            return out
        try:
            value = self.cons.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise error(f"unsupported YAML value: {getattr(exc, 'problem', exc)}", self.pos(node),
                        hint="archcalc reads plain YAML: numbers, strings, lists and mappings")
        if not isinstance(value, (str, int, float, bool, type(None))):
            raise error(f"unsupported YAML value of type {type(value).__name__}", self.pos(node),
                        hint="archcalc reads plain YAML: numbers, strings, lists and mappings")
        if isinstance(value, str) and node.style in ("'", '"'):
            return _Quoted(value)
        return value


class _Quoted(str):
    """A quoted scalar: its text starts one column after its mark."""


def _yaml_error(exc: yaml.YAMLError, file: str, lines: list[str]) -> ArchcalcError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return error(f"YAML syntax error: {problem}", SourcePos(file))
    opened = getattr(exc, "context_mark", None)
    context = getattr(exc, "context", None) or ""
    if opened is not None and "flow" in context and opened.line < mark.line:
        # a { or [ that is never closed: PyYAML notices at the end; point at the opening
        bracket = "{" if "mapping" in context else "["
        line = lines[opened.line] if opened.line < len(lines) else None
        return error(f"YAML syntax error: the '{bracket}' opened here is not closed",
                     SourcePos(file, opened.line + 1, opened.column + 1, line),
                     hint=f"close it with '{'}' if bracket == '{' else ']'}' on this line, "
                          "or check the commas between its items")
    line = lines[mark.line] if mark.line < len(lines) else None
    hint = "check the indentation and the brackets on this line"
    if line is not None and "\t" in line[:len(line) - len(line.lstrip())]:
        hint = "YAML indents with spaces, not tabs: replace the tab at the start of this line"
    elif line is not None and re.match(r"\s*-[^\s-]", line):
        hint = "a list item is '- ' with a space: write '- " + line.strip()[1:] + "'"
    bare = re.search(r"(^|[^'\"])(\$\{[^}]*\})", line or "")
    if bare and "{" in line[:bare.start(2)]:
        hint = (f"quote ${{…}} inside a flow mapping {{…}}: write '{bare.group(2)}' "
                "(YAML reads a bare { as the start of a mapping)")
    return error(f"YAML syntax error: {problem}", SourcePos(file, mark.line + 1, mark.column + 1, line),
                 hint=hint)


# ---------------------------------------------------------------------------------------------
# block parameters: $name and ${expression}
#
# An expression is numeric (and boolean) only: names, numbers, + - * / // %, comparisons,
# and/or/not, ``a if c else b``, the functions in _FUNCS and a block's input volume ``in.h``,
# ``in.w``, ``in.c``. It is read with ``ast`` and evaluated node by node here: no Python
# evaluation, no attribute access but ``in.*``, no calls but these.

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Div: operator.truediv}
_CMP = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
        ast.Gt: operator.gt, ast.GtE: operator.ge}
_SUBST = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z_0-9]*)")
_IN = re.compile(r"(?<![\w.])in\s*\.")          # in.c → _in_.c (``in`` is a Python keyword)
_IN_NAME = "_in_"
_IN_AXES = {"h": 0, "w": 1, "c": 2}
_BIG = 1 << 62
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


_FUNCS = {"min": (min, 1, None), "max": (max, 1, None), "round": (_round, 1, 1),
          "floor": (math.floor, 1, 1), "ceil": (math.ceil, 1, 1),
          "make_divisible": (make_divisible, 1, 3)}
_KWARGS = {"make_divisible": ("x", "divisor", "min_value")}


class InputVolume:
    """What ``in.h``, ``in.w``, ``in.c`` read: the volume of a block instance's input, computed
    only when an expression asks (see _Emitter.volume)."""

    def __init__(self, emitter: "_Emitter", src: str):
        self.emitter, self.src = emitter, src

    def get(self, axis: str, expr: str, pos: SourcePos) -> int:
        if axis != "c":             # the network's layers then depend on the input's size
            self.emitter.size_read = True
        vol = self.emitter.volume(self.src, pos, f"in.{axis}", expr)
        return vol[_IN_AXES[axis]]


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


@functools.lru_cache(maxsize=4096)
def _tree(expr: str):
    """An expression's syntax tree (read once per text: a spec read again for each variant of a
    sweep evaluates the same expressions), or None where it cannot be read."""
    try:
        return ast.parse(_IN.sub(_IN_NAME + ".", expr.strip()), mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None


def _eval(expr: str, env: dict, pos: SourcePos) -> Any:
    tree = _tree(expr) if len(expr) <= 1000 else _tree.__wrapped__(expr)
    if tree is None:
        raise error(f"cannot read the expression {expr!r}", pos, hint=_EXPR_HINT)

    def fail(message: str, hint: str | None = None):
        raise error(message + f" in {expr!r}", pos, hint=hint)

    def num(n: ast.AST, what: str) -> Any:
        v = ev(n)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            name = f"parameter {n.id!r} is {_kind(v)}" if isinstance(n, ast.Name) else _kind(v)
            fail(f"{what} takes numbers, but {name} is not a number",
                 "arithmetic, comparisons < <= > >= and min/max/round/floor/ceil/make_divisible "
                 "take numbers only")
        return v

    def boolean(n: ast.AST, what: str) -> bool:
        v = ev(n)
        if not isinstance(v, bool):
            fail(f"{what} takes true or false, got {_kind(v)}",
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
                if n.id in _FUNCS:
                    fail(f"{n.id} is a function", f"call it: {n.id}(...)")
                raise error(f"unknown parameter {n.id!r} in {expr!r}", pos,
                            hint=_near(n.id, [k for k in env if k != "in"])
                            + "parameters here: " + (", ".join(k for k in env if k != "in")
                                                     or "none"))
            return env[n.id]
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) \
                and n.value.id == _IN_NAME:
            if n.attr not in _IN_AXES:
                near = _near(n.attr, _IN_AXES)
                raise error(f"{expr!r} uses in.{n.attr}, which does not exist", pos, hint=
                     (f"did you mean in.{near.split(chr(39))[1]}? " if near else "")
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
                                 f"got {_kind(v)}")
                if not _CMP[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(n, ast.Subscript):            # a list parameter's item: depth[0]
            seq = ev(n.value)
            if not isinstance(seq, list):
                fail(f"only a list can be indexed, got {_kind(seq)}",
                     "a list parameter, e.g. params: {depth: [3, 4, 6, 3]}, then depth[0]")
            k = num(n.slice, "an index")
            if not isinstance(k, int) or not -len(seq) <= k < len(seq):
                fail(f"index {_kind(k)} is outside the list of {len(seq)} item"
                     f"{'s' * (len(seq) != 1)}", f"indices run from 0 to {len(seq) - 1}")
            return seq[k]
        if isinstance(n, ast.IfExp):
            return ev(n.body) if boolean(n.test, "the condition of 'a if c else b'") \
                else ev(n.orelse)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            name = n.func.id
            if name not in _FUNCS:
                fail(f"unknown function {name!r}",
                     _near(name, _FUNCS) + "functions: " + ", ".join(_FUNCS))
            fn, least, most = _FUNCS[name]
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
                    fail(f"make_divisible's divisor must be a whole number ≥ 1, got {_kind(d)}")
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


def _subst(value: Any, env: dict, pos: SourcePos) -> Any:
    if isinstance(value, list):
        return [_subst(v, env, pos) for v in value]
    if not isinstance(value, str) or "$" not in value:
        return value
    m = _SUBST.fullmatch(value.strip())
    if m:
        return _eval(m.group(1) if m.group(1) is not None else m.group(2), env, pos)
    return _SUBST.sub(lambda m: str(_eval(m.group(1) if m.group(1) is not None else m.group(2),
                                          env, pos)), value)


# ---------------------------------------------------------------------------------------------
# the schema

TOP_KEYS = ("name", "input", "params", "defaults", "blocks", "layers", "outputs")
DEFAULT_KEYS = ("filters", "double_after_pool", "rounding", "bias", "conv", "pool")
LAYER_KEYS = ("op", "name", "inputs", "repeat", "when", "train_only")
BLOCK_KEYS = ("block", "name", "inputs", "repeat", "when", "train_only")
STAGE_KEYS = ("block", "table", "with", "name", "repeat", "stride", "train_only")


def _near(word: str, choices) -> str:
    """ "did you mean 'x'? " for the closest of ``choices``, or nothing."""
    import difflib
    near = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean {near[0]!r}? " if near else ""


def _defaults(spec: YMap, base: Defaults, diags: list, env: dict | None = None) -> Defaults:
    """The spec's ``defaults:`` over ``base``; each bad entry is added to ``diags`` and skipped,
    so that the layers are still checked. Values may use the top-level ``params`` (``env``)."""
    raw = spec.get("defaults")
    if raw is None:
        return base
    if not isinstance(raw, YMap):
        diags.extend(error("defaults must be a mapping", spec.where["defaults"]).diagnostics)
        return base
    d = replace(base)
    for key, value in raw.items():
        pos = raw.where[key]
        try:
            value = _subst(value, env or {}, pos) if not isinstance(value, YMap) else value
            if key not in DEFAULT_KEYS:
                raise error(f"unknown default {key!r}", raw.key_at[key],
                            hint=_near(key, DEFAULT_KEYS) + "defaults: " + ", ".join(DEFAULT_KEYS))
            if key in ("conv", "pool"):
                if not isinstance(value, YMap):
                    raise error(f"defaults.{key} must be a mapping", pos)
                allowed = ("kernel", "stride", "padding") if key == "conv" else ("kernel", "stride")
                for k, v in value.items():
                    try:
                        if k not in allowed:
                            near = suggest_attr(k, allowed)
                            raise error(f"unknown default {key}.{k}", value.key_at[k],
                                        hint=(f"did you mean {near!r}? " if near else "")
                                        + f"defaults.{key}: " + ", ".join(allowed))
                        where = value.where[k]
                        v = _subst(v, env or {}, where)
                        setattr(d, f"{key}_{k}", as_padding(v, where) if k == "padding"
                                else as_pair(v, f"defaults.{key}.{k}", where))
                    except ArchcalcError as exc:
                        diags.extend(exc.diagnostics)
            elif key == "rounding":
                d.rounding = as_rounding(value, pos) or DEFAULT_ROUNDING
            elif key == "filters":
                d.filters = as_int(value, "filters", pos)
            else:                               # double_after_pool, bias
                setattr(d, key, as_bool(value, key, pos))
        except ArchcalcError as exc:
            diags.extend(exc.diagnostics)
    d.width = d.filters
    return d


DEFAULT_INPUT = (224, 224, 3)      # a spec without input: and without --input (as docs say)


def parse_yaml(text: str, file: str, input=None, name=None,
               overrides: dict | None = None, default_name: str | None = None,
               settings: dict | None = None, document: YMap | None = None) -> Network:
    """A YAML spec. ``overrides`` (from options) win over the spec's own ``defaults``;
    ``settings`` (``--set name=value``) over the defaults of its top-level ``params`` (a name it
    does not declare is an error, kind "usage"; ``res``, undeclared, sets the input's height and
    width). The network's ``params`` are the values its parameters took. ``document``: the
    text already composed (:func:`compose`; a sweep composes once and builds every variant)."""
    spec = compose(text, file) if document is None else document
    diags: list = []                 # every problem, reported together at the end
    meant = set()                    # top-level keys that a misspelled key probably stands for
    for key in spec:
        if key not in TOP_KEYS:
            near = _near(key, TOP_KEYS)
            meant.add(near.split("'")[1] if near else None)
            diags.append(Diagnostic("error", f"unknown top-level key {key!r}", spec.key_at[key],
                                    near + "top-level keys: " + ", ".join(TOP_KEYS)))
    try:
        return _parse_spec(spec, file, input, name, overrides, default_name, diags, meant,
                           settings or {})
    except ArchcalcError as exc:
        if not diags or exc.diagnostics[0] in diags:
            raise
        raise ArchcalcError(diags + exc.diagnostics) from None


def compose(text: str, file: str) -> YMap:
    """The spec's text as YMap/YList values with their places."""
    lines = text.split("\n")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file, lines) from None
    except RecursionError:
        raise error("the YAML nests too deeply to read", SourcePos(file, 1, 1),
                    hint="archcalc reads YAML nested up to 200 levels") from None
    if root is None:
        raise error("the YAML file is empty", SourcePos(file, 1, 1),
                    hint="write name, input and layers (see specs/vgg16.yaml)")
    spec = _Convert(file, lines)(root)
    if not isinstance(spec, YMap):
        raise error("a YAML spec is a mapping with name, input and layers", SourcePos(file, 1, 1))
    return spec


def _parse_spec(spec: YMap, file: str, input, name, overrides, default_name, diags: list,
                meant: set, settings: dict) -> Network:
    """The checked mapping of a YAML spec → a Network; ``diags`` holds the problems found so far
    (raised with any found here), ``meant`` the keys a misspelled top-level key stands for (their
    absence is not reported twice)."""
    env = _top_params(spec, diags, settings)
    d = _defaults(spec, Defaults(), diags, env)
    for k, v in (overrides or {}).items():
        setattr(d, k, v)
    d.width = d.filters
    chw = None                       # the spec's own input written C×H×W (an option's: see parse)
    if input is None:
        if "input" not in spec and "input" in meant:
            raise ArchcalcError(diags)
        if "input" not in spec:             # as for spec strings and tables
            input = DEFAULT_INPUT
    if input is None:
        try:
            input = as_volume(_subst(spec["input"], env, spec.where["input"]),
                                 spec.where["input"])
            chw = channels_first_warning(input, spec.where["input"], "yaml")
        except ArchcalcError as exc:        # the layers are still checked (and never returned)
            diags.extend(exc.diagnostics)
            input = (224, 224, 3)
    if "res" in settings and "res" not in env:     # the built-in: the input's height and width
        input = (settings["res"], settings["res"], input[2])
    stem = file.rsplit("/", 1)[-1].rsplit(".", 1)[0] if not file.startswith("<") else "network"
    net_name = name or str(spec.get("name") or default_name or stem)
    layers = spec.get("layers")
    if "layers" not in spec and "layers" in meant:
        raise ArchcalcError(diags)
    if isinstance(layers, str) and layers.strip():
        raise error("'layers' is a list, got one string", spec.where["layers"],
                    hint=f"write layers: [{layers.strip()}] (or one item per line, each after '- ')")
    if not isinstance(layers, YList) or not layers:
        raise error("the spec needs a non-empty list 'layers'",
                    spec.where.get("layers", spec.pos), hint="layers: [C3D64, M, FC10, S]")
    blocks = spec.get("blocks") or YMap()
    if not isinstance(blocks, YMap):
        raise error("blocks must be a mapping from block name to its definition",
                    spec.where["blocks"])
    b = Builder(net_name, input, spec.where.get("input", spec.pos))
    if chw is not None:
        b.warnings.append(chw)
    emitter = _Emitter(b, d, blocks)
    emitter.top = dict(env)
    local = {"input": "input"}
    emitter.items(layers, env, "", (), local, 0)
    diags += emitter.report()
    for bname in blocks:                # a block nothing uses is never checked: say so
        if bname not in emitter.used:
            b.warnings.append(Diagnostic(
                "warning", f"block {bname!r} is defined but never used (its layers are not "
                "checked)", blocks.key_at[bname],
                f"use it (- {{block: {bname}}}) or remove it"))
    if "outputs" in spec and not diags:
        try:
            b.outputs = _outputs(spec, local, b)
        except ArchcalcError as exc:
            diags += exc.diagnostics
    if diags:
        raise ArchcalcError(diags, partial=b.build(d.rounding, file, "yaml")
                            if len(b.layers) > 1 else None)
    # its layers depend on the input's height or width beyond the input itself (in.h, in.w, or a
    # declared res): another input size needs the spec read again (archcalc sizes)
    size_dependent = emitter.size_read or ("res" in env and _uses(
        [v for k, v in spec.items() if k not in ("input", "params")]
        + [v for k, v in (spec.get("params") or {}).items() if k != "res"], "res"))
    return b.build(d.rounding, file, "yaml", params=env, size_dependent=size_dependent)



_RESERVED = ("in", "i", "stage", "true", "false", *_FUNCS)


def _outputs(spec: YMap, local: dict, b: Builder) -> list[str]:
    """The spec's ``outputs:``, the layers (or block instances) the network returns, as full
    layer names. Without it, the outputs are the layers nothing reads."""
    raw, pos = spec["outputs"], spec.where["outputs"]
    items = [raw] if isinstance(raw, str) else raw
    where = raw.where if isinstance(raw, YList) else [pos] * len(items or [])
    if not isinstance(items, list) or not items:
        raise error("outputs must name one or more layers", pos,
                    hint="outputs: [p2, p3, p4, p5]")
    out: list[str] = []
    for item, at in zip(items, where):
        if not isinstance(item, str):
            raise error(f"outputs name layers, got {_kind(item)}", at,
                        hint="outputs: [p2, p3, p4, p5]")
        full = local.get(item, item)
        if item in local and full != item and item not in b.block_outputs:
            raise error(f"outputs: {item!r} is absent (its when: is false here), so it stands "
                        f"for {full!r}", at, hint=f"list {full!r} itself, or drop {item!r}")
        full = b.block_outputs.get(full, full)       # a block instance: its output layer
        if full not in b.names:
            raise error(f"outputs: no layer {item!r}", at,
                        hint=_near(item, [k for k in local if k != "input"]) +
                        "outputs name layers or block instances of the top-level list")
        if b.names[full].train_only:
            raise error(f"outputs: {item!r} runs only in training", at,
                        hint="the outputs are the inference network's; drop it from outputs")
        if full == "input":
            raise error("outputs: the input is not an output", at, hint="name a layer")
        if full in out:
            raise error(f"outputs: {item!r} is listed twice", at, hint="list each layer once")
        out.append(full)
    return out


# the built-in parameters every spec has (archcalc.settings.BUILTINS): ``res`` may also be declared (the
# spec then uses it itself, e.g. ``input: ${res}x${res}x3``); the others may not
_UNDECLARABLE = BUILTINS[1:]


def _top_params(spec: YMap, diags: list, settings: dict | None = None) -> dict:
    """The spec's ``params:``: names every expression may use (e.g. width_mult, depth_mult),
    with ``settings`` (``--set``) over their defaults. A parameter given in ``settings`` takes
    that value whatever its default says; one after it that is computed from it follows it."""
    settings = settings or {}
    raw = spec.get("params")
    if raw is not None and not isinstance(raw, YMap):
        diags.extend(error("params must be a mapping of names to values", spec.where["params"],
                           hint="params: {width_mult: 1.0, depth_mult: 1.0}").diagnostics)
        raw = None
    raw = raw if raw is not None else YMap()
    unknown = [k for k in settings if k not in raw and k not in BUILTINS]
    if unknown:
        declared = [k for k in raw]
        raise ArchcalcError([Diagnostic(
            "error", f"the spec declares no parameter {k!r}", SourcePos("<options>"),
            _near(k, declared + list(BUILTINS)) + "its parameters: "
            + (", ".join(declared) or "none") + "; built-in: " + ", ".join(BUILTINS))
            for k in unknown], kind="usage")
    env: dict = {}
    for k, v in raw.items():
        try:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", k) or k in _RESERVED:
                raise error(f"{k!r} cannot name a parameter", raw.key_at[k],
                            hint="a parameter is a word other than "
                            + ", ".join(_RESERVED))
            if k in _UNDECLARABLE:
                raise error(f"{k!r} is a built-in parameter: a spec cannot declare it",
                            raw.key_at[k], hint=f"set it with --set {k}=… (or set={{{k!r}: …}}); "
                            "a spec may declare res (and use it, input: ${res}x${res}x3)")
            default = _subst(v, env, raw.where[k])
            env[k] = _setting(k, settings[k], default) if k in settings else default
        except ArchcalcError as exc:
            if exc.kind == "usage":          # a bad --set: the command line's, not the spec's
                raise
            diags.extend(exc.diagnostics)
    return env


def _setting(name: str, value: Any, default: Any) -> Any:
    """A ``--set`` value for a declared parameter, checked against the kind of its default (a
    number for a number, a list for a list, true/false for true/false)."""
    def kind(v):
        return ("true or false" if isinstance(v, bool) else "a number"
                if isinstance(v, (int, float)) else "a list" if isinstance(v, list)
                else "text" if isinstance(v, str) else None)
    want, got = kind(default), kind(value)
    if want is not None and got != want:
        raise error(f"--set {name}: the parameter is {want} (its default is "
                    f"{as_written(default)}), got {as_written(value)}", SourcePos("<options>"),
                    hint=f"e.g. --set {name}={as_written(default)}", kind="usage")
    return value


def _uses(value: Any, name: str) -> bool:
    """Whether an expression somewhere in ``value`` (YAML values, nested) may read ``name``."""
    stack = [value]
    word = re.compile(r"\b" + re.escape(name) + r"\b")
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str) and "$" in v and word.search(v):
            return True
    return False


def _when(item: YMap, env: dict) -> bool:
    """A layer's or block instance's ``when:``, which must be true or false."""
    if "when" not in item:
        return True
    pos = item.where["when"]
    v = _subst(item["when"], env, pos)
    if not isinstance(v, bool):
        raw = item["when"]
        what = ("a number" if isinstance(v, (int, float)) else "text" if isinstance(v, str)
                else "a list" if isinstance(v, list) else "nothing" if v is None else "a value")
        raise error(f"when: must be true or false, but {raw!r} is {what}"
                    if isinstance(raw, str) and "$" in raw
                    else f"when: must be true or false, got {_kind(v)}", pos,
                    hint="write a condition, e.g. when: ${stride == 1 and in.c == out}")
    return v


def _train_only(item: YMap, env: dict) -> bool:
    """A layer's, block instance's or stage's ``train_only:``, which must be true or false."""
    pos = item.where["train_only"]
    v = _subst(item["train_only"], env, pos)
    if not isinstance(v, bool):
        raise error(f"train_only: must be true or false, got {_kind(v)}", pos,
                    hint="write train_only: true on the layers (or the block) that run only in "
                         "training, such as an auxiliary classifier")
    return v


def _kind_of(item) -> str | None:
    """The op kind of a layer mapping whose op is a plain known word, else None."""
    if not isinstance(item, YMap) or not isinstance(item.get("op"), str) or "repeat" in item:
        return None
    return OP_NAMES.get(item["op"].lower())


class _Emitter:
    def __init__(self, builder: Builder, d: Defaults, blocks: YMap):
        self.b, self.d, self.blocks = builder, d, blocks
        self.diags: list = []           # every problem found, not only the first
        self.users: dict = {}           # (place, message) -> the block instances that hit it
        self.memo: dict = {}            # validated token attributes (see text.emit_word)
        self.instances: dict = {}       # unnamed block instances so far, per (scope, block)
        # the volume tracker (in.h, in.w, in.c): the output volume of a built layer, computed
        # with its op's own shape rule when an expression asks, with those of its ancestors
        self.vols: dict = {}            # layer name -> volume, or None when it cannot be known
        self.why: dict = {}             # layer name -> the layer whose error made it unknown
        self.unknown_said = False       # an in.* was refused for an earlier error: said once
        self.used: set = set()          # blocks instantiated (or named in stages) at least once
        self.top: dict = {}             # the top-level params, which block layers also see
        self.size_read = False          # an expression read in.h or in.w

    def volume(self, src: str, pos: SourcePos, what: str, expr: str):
        """The output volume of layer ``src``; a located error for ``what`` (``in.c``) when it
        cannot be known. A shape error found here is reported once, as the analysis would."""
        vols, stack = self.vols, [src]
        while stack:                    # depth first, without recursion (chains may be long)
            name = stack[-1]
            if name in vols:
                stack.pop()
                continue
            layer = self.b.names.get(name)
            if layer is None or layer.op == "input":    # a layer that failed to build: None
                vols[name] = self.b.input if layer is not None else None
                stack.pop()
                continue
            todo = [s for s in layer.inputs if s not in vols]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            ins = [vols[s] for s in layer.inputs]
            if None in ins:
                vols[name] = None
                cause = self.why.get(layer.inputs[ins.index(None)])
                if cause is not None:
                    self.why[name] = cause
                continue
            try:
                self.vols[layer.name] = OPS[layer.op].shape(
                    layer.attrs, ins, At(layer.name, layer.pos, layer.inputs, self.d.rounding))
            except ArchcalcError as exc:
                self.vols[layer.name] = None
                self.why[layer.name] = layer
                for d in exc.diagnostics:      # reported here, as the build then stops
                    if (d.pos, d.message) not in self.users:
                        self.users[(d.pos, d.message)] = []
                        self.diags.append(d)
        vol = self.vols.get(src)
        if vol is not None:
            return vol
        if self.unknown_said:           # the layers that follow fail quietly: one error says why
            raise ArchcalcError([])
        self.unknown_said = True
        cause = self.why.get(src)
        if cause is not None:
            because = f"layer {cause.name!r} before it has an error ({cause.pos})"
        else:
            because = "a layer before it could not be built (its error is reported)"
        raise error(f"{what} is unknown in {expr!r}: {because}", pos,
                    hint="fix that error first; this one (and the layers that depend on it) "
                         "then follow")

    def report(self) -> list:
        """The problems found, each once, with the block instances that use it."""
        out = []
        for d in self.diags:
            users = self.users[(d.pos, d.message)]
            if users:
                shown = ", ".join(users[:6]) + (f" and {len(users) - 6} more" if len(users) > 6
                                                else "")
                d = replace(d, message=f"{d.message} (in block instance"
                            f"{'s' if len(users) > 1 else ''} {shown})")
            out.append(d)
        return out

    def items(self, items: YList, env: dict, prefix: str, scope: tuple, local: dict, depth: int):
        """Emit a layer list. ``local`` maps names visible here to full layer names. A failed
        item is reported and the items after it are still checked (see Builder.fail)."""
        for i, item in enumerate(items):
            try:
                self.item(item, items.where[i], env, prefix, scope, local, depth)
            except ArchcalcError as exc:
                for d in exc.diagnostics:      # a block's mistake once, not once per instance
                    key = (d.pos, d.message)
                    if key not in self.users:
                        self.users[key] = []
                        self.diags.append(d)
                    if scope and scope[-1] not in self.users[key]:
                        self.users[key].append(scope[-1])
                name = item.get("name") if isinstance(item, YMap) else None
                if isinstance(name, str) and "{" not in name and "$" not in name:
                    full = self.b.fail(prefix + name)
                else:       # an unnamed layer keeps the name it would have had (conv1): later
                    kind = _kind_of(item)           # layers naming it are not reported again
                    full = self.b.fail(self.b.next_name(kind, prefix) if kind else None)
                if full.startswith(prefix):
                    local[full[len(prefix):]] = full

    def item(self, item, pos, env, prefix, scope, local, depth):
        # train_only: on a layer or block instance, or inside a stages: mapping
        flags = item.get("stages") if isinstance(item, YMap) and "stages" in item else item
        if isinstance(flags, YMap) and "train_only" in flags:
            train = _train_only(flags, env)
            before = self.b.train_only
            self.b.train_only = before or train      # inside a training-only block: still so
            try:
                return self._item(item, pos, env, prefix, scope, local, depth)
            finally:
                self.b.train_only = before
        return self._item(item, pos, env, prefix, scope, local, depth)

    def _item(self, item, pos, env, prefix, scope, local, depth):
        if isinstance(item, str):
            self.tokens(_subst(item, env, pos), pos, isinstance(item, _Quoted), prefix, scope,
                        local)
        elif isinstance(item, YMap) and "stages" in item:
            self.stages(item, env, prefix, scope, local, depth)
        elif isinstance(item, YMap) and "block" in item:
            self.block(item, env, prefix, scope, local, depth)
        elif isinstance(item, YMap) and "op" in item:
            self.layer(item, env, prefix, scope, local)
        else:
            near = ""
            if isinstance(item, YMap):
                import difflib
                for k in item:
                    m = difflib.get_close_matches(str(k).lower(), ["op", "block", "stages"], n=1,
                                                  cutoff=0.6)
                    if m:
                        near = f"did you mean {m[0]!r} for {k!r}? "
                        pos = item.key_at[k]
                        break
            raise error("a layer is a token string (C3D64), a mapping with 'op', "
                        "a mapping with 'block' or a mapping with 'stages'", pos,
                        hint=near + "e.g. - {op: conv, filters: 64, kernel: 3}")

    def tokens(self, text: str, pos: SourcePos, quoted: bool, prefix, scope, local):
        shift = pos.col + (1 if quoted else 0)

        def pos_of(offset: int) -> SourcePos:
            return SourcePos(pos.file, pos.line, shift + offset, pos.source_line)
        words = parse_items(text, pos_of)
        check_size(words, pos)
        errors, warnings = letter_runs(words)
        if errors:
            raise ArchcalcError(errors)
        first: dict = {}
        for w in expand(words):
            for layer in emit_word(self.b, w, self.d, self.memo, scope=scope, prefix=prefix):
                local[layer.name[len(prefix):]] = layer.name
                first.setdefault(w.pos, layer.name)
        for w in warnings:
            if not any(x.pos == w.pos for x in self.b.warnings):   # once per place
                self.b.warnings.append(replace(w, layer=first.get(w.pos)))

    def _inputs(self, item: YMap, env: dict, local: dict) -> list[str] | None:
        if "inputs" not in item:
            return None
        given = item["inputs"]
        where = given.where if isinstance(given, YList) else [item.where["inputs"]]
        raw = _subst(given, env, item.where["inputs"])
        raw = [raw] if isinstance(raw, str) else raw
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            raise error("inputs must be a layer name or a list of names", item.where["inputs"])
        out = []
        for x, pos in zip(raw, where):
            if x not in local:
                raise error(f"input {x!r} is not defined before this layer", pos,
                            hint=_near(x, local) +
                            "inputs name earlier layers of the same list (or 'input'); "
                                 "defined so far: " + ", ".join(
                                     [k for k, v in local.items() if v not in self.b.failed][-6:]))
            out.append(local[x])
        return out

    def _repeat(self, item: YMap, env: dict) -> int:
        n = _subst(item.get("repeat", 1), env, item.where.get("repeat", item.pos))
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise error(f"repeat must be a whole number ≥ 1, got {n!r}",
                        item.where.get("repeat", item.pos))
        if n > MAX_LAYERS:
            raise error(f"repeat {n:,} is more than the {MAX_LAYERS:,} layers archcalc analyzes",
                        item.where["repeat"], hint="lower the repeat count")
        return n

    def _names(self, item: YMap, env: dict, n: int, default: str | None) -> list[str | None]:
        raw = item.get("name", default)
        if raw is None:
            return [None] * n
        if not isinstance(raw, (str, int)) or isinstance(raw, bool):
            raise error(f"a layer name is a word, got {raw!r}", item.where["name"])
        raw = str(raw)
        if n > 1 and "{i" not in raw:
            raw += ".{i}"
        pos = item.where.get("name", item.pos)
        return [re.sub(r"\{([^}]*)\}", lambda m: str(_eval(m.group(1), {**env, "i": i}, pos)), raw)
                if "{" in raw else _subst(raw, env, pos) for i in range(n)]

    def _absent(self, item: YMap, env: dict, local: dict, names: list) -> None:
        """A layer or block instance whose ``when:`` is false is not built: it acts as identity.
        Its name stands for its (first) input, and the next layer follows that input."""
        inputs = self._inputs(item, env, local)
        src = inputs[0] if inputs else self.b.last
        for name in names:
            if name is not None:
                local[name] = src
        self.b.last = src

    def layer(self, item: YMap, env, prefix, scope, local):
        op = _subst(item["op"], env, item.where["op"])
        if not _when(item, env):
            lookup(op, item.where["op"])
            self._absent(item, env, local, self._names(item, env, self._repeat(item, env), None))
            return
        opdef = lookup(op, item.where["op"])
        for k in item:       # a misspelled layer key (train-only, inptus) is not an attribute
            if k not in LAYER_KEYS and k not in opdef.ATTRS:
                near = difflib.get_close_matches(str(k).lower().replace("-", "_"), LAYER_KEYS,
                                                 n=1, cutoff=0.75)
                if near and not suggest_attr(str(k), opdef.ATTRS):
                    raise error(f"unknown key {k!r}", item.key_at[k],
                                hint=f"did you mean {near[0]!r}? keys of a layer: "
                                + ", ".join(LAYER_KEYS) + f", and {opdef.kind}'s attributes")
        attrs = {k: _subst(v, env, item.where[k]) for k, v in item.items() if k not in LAYER_KEYS}
        kind = opdef.kind
        d = self.d
        if kind in ("conv", "dwconv"):
            for k, v in (("kernel", d.conv_kernel), ("stride", d.conv_stride),
                         ("padding", d.conv_padding), ("bias", d.bias)):
                attrs.setdefault(k, v)
        elif kind in ("fc", "conv_transpose"):     # the other ops with a bias
            attrs.setdefault("bias", d.bias)
        n = self._repeat(item, env)
        inputs = self._inputs(item, env, local)
        where = {**item.where, **{("key", k): p for k, p in item.key_at.items()}}
        for name in self._names(item, env, n, None):
            if kind in ("maxpool", "avgpool"):     # each pool may double the letter width
                attrs = d.pool(kind, attrs)[1]
            layer = self.b.add(kind, attrs, item.pos, name=name, inputs=inputs, scope=scope,
                               prefix=prefix, where=where)
            local[layer.name[len(prefix):]] = layer.name
            if kind == "split":             # each part is addressable: s.0, s.1, ...
                for part in self.b.splits[layer.name.rpartition(".")[0]]:
                    local[part[len(prefix):]] = part
            inputs = None

    def _block_def(self, bname, where: SourcePos, pos: SourcePos, depth: int):
        """The checked definition of block ``bname`` and its parameters."""
        if not isinstance(bname, str) or bname not in self.blocks:
            raise error(f"no block named {bname!r}", where,
                        hint=_near(bname, self.blocks)
                        + "blocks defined: " + (", ".join(self.blocks) or "none"))
        self.used.add(bname)
        if depth >= MAX_BLOCK_DEPTH:
            raise error(f"blocks nest deeper than {MAX_BLOCK_DEPTH} levels (does {bname!r} "
                        "instantiate itself?)", pos)
        bdef = self.blocks[bname]
        if not isinstance(bdef, YMap) or not isinstance(bdef.get("layers"), YList):
            raise error(f"block {bname!r} needs a list 'layers'", self.blocks.where[bname])
        for k in bdef:
            if k not in ("params", "layers", "output"):
                raise error(f"unknown key {k!r} in block {bname!r}", bdef.key_at[k],
                            hint="train_only goes on the instance line: - {block: "
                            f"{bname}, train_only: true}}" if k == "train_only" else
                            _near(k, ("params", "layers", "output")) +
                            "a block has params, layers and optionally output")
        params = bdef.get("params") or {}
        if not isinstance(params, dict):
            raise error(f"params of block {bname!r} must be a mapping of names to defaults",
                        bdef.where["params"], hint="params: {width: null, stride: 1}")
        return bdef, params

    def _block_env(self, bname, params: dict, given: dict, key_at, pos: SourcePos,
                   keys=BLOCK_KEYS) -> dict:
        """The block's parameters: those ``given`` (placed by ``key_at``) over its defaults."""
        for k in given:
            if k not in params:
                raise error(f"block {bname!r} has no parameter {k!r}", key_at(k),
                            hint=_near(k, [c for c in (*params, *keys) if c != k])
                            + ("a stage table gives the first block of each stage its stride: "
                               f"add a stride parameter to block {bname!r} (" if k == "stride"
                               else "") + "its parameters: " + (", ".join(params) or "none")
                            + (")" if k == "stride" else ""))
        benv = {}
        for k, default in params.items():
            if k in given:
                benv[k] = given[k]
            elif default is None:
                raise error(f"block {bname!r} needs the parameter {k!r}", pos,
                            hint=f"add {k}: <value> to this line" if keys is BLOCK_KEYS else
                            f"name a column {k} in the table's header, or map it in with: "
                            f"{{{k}: ${{...}}}}")
            else:
                benv[k] = default
        return benv

    def _instance(self, bname, bdef, benv: dict, i: int, name: str, src: str, prefix, scope,
                  local, depth):
        """Emit one instance of a block, named ``name``, reading layer ``src``."""
        full = prefix + name
        inner_local = {"input": src}
        self.b.last = src
        self.items(bdef["layers"], {**self.top, **benv, "i": i, "in": InputVolume(self, src)},
                   full + "/",
                   scope + (full,), inner_local, depth + 1)
        out = bdef.get("output")
        if out is not None:
            if not isinstance(out, str) or out not in inner_local:
                local[name] = self.b.fail(full)    # defined, but failed: not reported again
                raise error(f"block {bname!r} names output {out!r}, which it does not define",
                            bdef.where["output"], hint=_near(out, inner_local)
                            + "its layers: " + ", ".join(k for k in inner_local
                                                         if k != "input"))
            self.b.last = inner_local[out]
        local[name] = self.b.last
        if self.b.last not in self.b.failed:
            self.b.block_outputs[full] = self.b.last

    def block(self, item: YMap, env, prefix, scope, local, depth):
        pos = item.pos
        bname = item["block"]
        bdef, params = self._block_def(bname, item.where["block"], pos, depth)
        n = self._repeat(item, env)
        inputs = self._inputs(item, env, local)
        if inputs and len(inputs) != 1:
            raise error("a block instance takes one input", item.where["inputs"])
        for i, name in enumerate(self._names(item, env, n, None)):
            src = inputs[0] if inputs else self.b.last
            here = {**env, "in": InputVolume(self, src)}
            if not _when(item, {**here, "i": i}):   # not built: its name stands for its input
                if name is not None:
                    local[name] = src
                self.b.last = src
                inputs = None
                continue
            if name is None:                      # block1, block2, ... per block and scope
                key = (prefix, bname)
                self.instances[key] = self.instances.get(key, 0) + 1
                name = f"{bname}{self.instances[key]}"
            given = {k: _subst(v, {**here, "i": i}, item.where[k]) for k, v in item.items()
                     if k not in BLOCK_KEYS}      # i: the repeat's index, as in when: and name:
            benv = self._block_env(bname, params, given, item.key_at.get, pos)
            self._instance(bname, bdef, benv, i, name, src, prefix, scope, local, depth)
            inputs = None

    def stages(self, item: YMap, env, prefix, scope, local, depth):
        """A stage table: each row (named by the header row) repeats a block; the first block of
        a stage takes the row's stride, the others stride 1."""
        for k in item:
            if k != "stages":
                raise error(f"unknown key {k!r} beside 'stages'", item.key_at[k],
                            hint="write every setting inside stages: {block: …, table: …}")
        st = item["stages"]
        if not isinstance(st, YMap):
            raise error("stages is a mapping with block and table", item.where["stages"],
                        hint="stages: {block: inverted_residual, table: [[t, c, n, s], "
                             "[1, 16, 1, 1]]}")
        for k in st:
            if k not in STAGE_KEYS:
                raise error(f"unknown key {k!r} in stages", st.key_at[k],
                            hint=_near(k, STAGE_KEYS) + "stages take: " + ", ".join(STAGE_KEYS))
        for k in ("block", "table"):
            if k not in st:
                raise error(f"stages needs {k!r}", st.pos,
                            hint="stages: {block: inverted_residual, table: [[t, c, n, s], "
                                 "[1, 16, 1, 1]]}")
        bname = st["block"]
        bdef, params = self._block_def(bname, st.where["block"], st.pos, depth)
        table = st["table"]
        example = "table: [[t, c, n, s], [1, 16, 1, 1], [6, 24, 2, 2]]"
        if not isinstance(table, YList) or len(table) < 2 or not isinstance(table[0], YList):
            raise error("a stage table is a list of rows, the first naming the columns",
                        st.where["table"], hint=example)
        header, hpos = table[0], table.where[0]
        for j, col in enumerate(header):
            if not isinstance(col, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", col) \
                    or col in _RESERVED:
                raise error(f"column {j + 1} of the header is {col!r}, not a name", header.where[j],
                            hint=(f"{col!r} is reserved; " if col in _RESERVED else "")
                            + "the first row names the columns with words: " + example)
            if col in header[:j]:
                raise error(f"the column {col!r} is named twice", header.where[j],
                            hint="name each column once")
        cols = list(header)
        repeat = st.get("repeat", "$n")
        stride = st.get("stride", "$s" if "s" in cols else None)
        if "repeat" not in st and "n" not in cols:
            raise error("the stage table has no column n (the blocks per stage)", hpos,
                        hint="add a column n, or write repeat: ${…} over the columns")
        with_ = st.get("with")
        if with_ is not None and not isinstance(with_, YMap):
            raise error("with maps block parameters to values over the columns",
                        st.where["with"], hint="with: {expand: $t, out: $c}")
        passed = [c for c in cols if c not in ("n", "s")] if with_ is None else list(with_)
        name_pat = st.get("name", "stage{stage}")
        if not isinstance(name_pat, str):
            raise error(f"a stage name is a word, got {name_pat!r}", st.where["name"])
        name_pos = st.where.get("name", st.pos)
        rows = []
        for r in range(1, len(table)):
            row, rpos = table[r], table.where[r]
            if not isinstance(row, YList) or len(row) != len(cols):
                got = f"{len(row)} values" if isinstance(row, YList) else repr(row)
                raise error(f"row {r} of the stage table has {got}, the header "
                            f"[{', '.join(cols)}] has {len(cols)}", rpos,
                            hint=f"write one value per column: [{', '.join(cols)}]")
            rows.append((row, rpos))
        for r, (row, rpos) in enumerate(rows, 1):
            renv = {**env, **dict(zip(cols, row)), "stage": r}
            n = _subst(repeat, renv, st.where.get("repeat", rpos))
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise error(f"row {r}: the blocks per stage must be a whole number ≥ 0, got "
                            f"{_kind(n)}", st.where.get("repeat", rpos))
            if n > MAX_LAYERS:
                raise error(f"row {r} repeats its block {n:,} times, more than the "
                            f"{MAX_LAYERS:,} layers archcalc analyzes", rpos)
            base = (re.sub(r"\{([^}]*)\}", lambda m: str(_eval(m.group(1), renv, name_pos)),
                           name_pat) if "{" in name_pat else _subst(name_pat, renv, name_pos))
            if n and prefix + f"{base}.0" in self.b.block_outputs:
                raise error(f"the stage {base!r} is built twice: its blocks {base}.0, … exist "
                            "already", name_pos, hint="give each stages: item its own name, "
                            "e.g. name: \"head{stage}\"" if "name" not in st else
                            "give this stages: item another name")
            for i in range(n):
                src = self.b.last
                ienv = {**renv, "i": i, "in": InputVolume(self, src)}
                if with_ is None:
                    given = {c: renv[c] for c in passed}
                else:
                    given = {k: _subst(v, ienv, with_.where[k]) for k, v in with_.items()}
                if stride is not None and "stride" not in given:   # with: may set it itself
                    s = _subst(stride, ienv, st.where.get("stride", rpos))
                    given["stride"] = s if i == 0 else 1
                benv = self._block_env(bname, params, given,
                                       lambda k: (with_.key_at.get(k) if with_ is not None
                                                  else None) or st.where.get(k) or hpos,
                                       rpos, STAGE_KEYS)
                self._instance(bname, bdef, benv, i, f"{base}.{i}", src, prefix, scope, local,
                               depth)
