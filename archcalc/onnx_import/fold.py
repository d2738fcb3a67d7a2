"""Constant folding: a node whose inputs are all constants is evaluated (the shape arithmetic
exporters emit: Shape → Gather → Unsqueeze → Concat → Reshape), on small flat lists by the
rules in :data:`FOLD`, and where those do not cover the case (constants of any rank) with numpy,
which is imported only then. Views of a weight whose values are not decoded (a transposed or
reshaped initializer) fold to its new dimensions.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import wire
from .values import Const, Scalar

if TYPE_CHECKING:                    # (numpy itself is imported only where it folds a node)
    from numpy.typing import ArrayLike, NDArray

FoldRule = Callable[[wire.Node, Sequence["Const | None"]], "Const | None"]


class _Missing(Exception):
    """An input a rule reads is left out, or its values are not decoded: no folding."""


def _need(c: Const | None) -> Const:
    if c is None:
        raise _Missing
    return c


def _decoded(c: Const | None) -> Sequence[Scalar]:
    values = _need(c).values
    if values is None:
        raise _Missing
    return values


def shape_of(dims: Sequence[int], node: wire.Node) -> Const:
    """The output of ``node`` (a Shape) on a tensor of ``dims``: its start and end applied."""
    picked = list(dims)[node.attrs.get("start", 0):node.attrs.get("end")]
    return Const((len(picked),), picked)


def can_fold(op: str) -> bool:
    """Whether a node of ``op`` is folded where its inputs are constants."""
    return op in FOLD or op in NP_FOLD


def evaluate(node: wire.Node, cs: Sequence[Const | None]) -> Const | None:
    """``node`` on the constants ``cs`` (None for an input left out), or None where it is not
    folded: a value it reads is not decoded, or no rule covers the case."""
    op = node.op_type
    first = cs[0]
    if first is None:                # (nothing to fold where the first input is left out)
        return None
    if op == "Shape":                  # the shape of a constant
        return shape_of(first.dims, node)
    if any(c is not None and c.values is None for c in cs[1:]) or \
            (first.values is None and op not in VIEWS):
        return None
    fn = FOLD.get(op)
    try:
        result = fn(node, cs) if fn is not None else None
    except _Missing:
        result = None
    if result is None and op in NP_FOLD and all(c is None or c.values is not None
                                                for c in cs):
        result = _np_fold(node, cs)    # the general case, with numpy (imported there only)
    if result is None:
        return None
    result.param = any(c is not None and c.param for c in cs[:1])
    return result


# ---------------------------------------------------------------------------------------------
# the rules on small flat lists

def _broadcast(fn: Callable[[Scalar, Scalar], Scalar]) -> FoldRule:
    def f(node: wire.Node, cs: Sequence[Const | None]) -> Const | None:
        a, b = _need(cs[0]), _need(cs[1])
        av, bv = _decoded(a), _decoded(b)
        vals: Sequence[Scalar]
        if len(av) == len(bv):
            vals = [fn(x, y) for x, y in zip(av, bv)]
            dims = a.dims if len(a.dims) >= len(b.dims) else b.dims
        elif len(bv) == 1:
            vals, dims = [fn(x, bv[0]) for x in av], a.dims
        elif len(av) == 1:
            vals, dims = [fn(av[0], y) for y in bv], b.dims
        else:
            return None
        return Const(dims, vals)
    return f


def _div(x: Scalar, y: Scalar) -> Scalar:
    if isinstance(x, int) and isinstance(y, int):
        return x // y if y else 0
    return x / y if y else math.inf


def _gather(node: wire.Node, cs: Sequence[Const | None]) -> Const | None:
    data, idx = cs
    data = _need(data)
    if len(data.dims) > 1:
        return None
    values = _decoded(data)
    n = len(values)
    picked = [values[i + n if i < 0 else i] for i in map(int, _decoded(idx))]
    return Const(_need(idx).dims, picked)


def _unsqueeze(node: wire.Node, cs: Sequence[Const | None]) -> Const | None:
    axes = _decoded(cs[1]) if len(cs) > 1 and cs[1] is not None else \
        node.attrs.get("axes", [0])
    first = _need(cs[0])
    dims = list(first.dims)
    for ax in sorted(int(a) + len(dims) + 1 if a < 0 else int(a) for a in axes):
        dims.insert(ax, 1)
    return Const(tuple(dims), first.values)


def _squeeze(node: wire.Node, cs: Sequence[Const | None]) -> Const | None:
    first = _need(cs[0])
    return Const(tuple(d for d in first.dims if d != 1), first.values)


# ops that only reshape: they apply to a weight whose values are not read (dims only)
VIEWS = ("Unsqueeze", "Squeeze", "Reshape", "Identity", "Transpose", "Expand")


def _expand(node: wire.Node, cs: Sequence[Const | None]) -> Const | None:
    """A weight broadcast to a shape (ViT's class token to the batch): its dims only; a
    constant whose values are decoded is numpy's (_np_fold)."""
    first = _need(cs[0])
    if first.values is not None:
        return None
    shape = [int(v) for v in _decoded(cs[1])]
    dims = list(first.dims)
    n = max(len(dims), len(shape))
    a = [1] * (n - len(dims)) + dims
    b = [1] * (n - len(shape)) + shape
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
        return None
    return Const(tuple(max(x, y) for x, y in zip(a, b)), None)


def _concat(node: wire.Node, cs: Sequence[Const | None]) -> Const | None:
    consts = [_need(c) for c in cs]
    if any(len(c.dims) > 1 for c in consts):
        return None
    vals = [v for c in consts for v in _decoded(c)]
    return Const((len(vals),), vals)


def _cast(node: wire.Node, cs: Sequence[Const | None]) -> Const | None:
    to = node.attrs.get("to", 1)
    conv: Callable[[Scalar], Scalar] = float if to in wire.FLOATS else int
    first = _need(cs[0])
    return Const(first.dims, [conv(v) for v in _decoded(first)])


def _slice(node: wire.Node, cs: Sequence[Const | None]) -> Const | None:
    first = _need(cs[0])
    if len(first.dims) != 1:
        return None
    values = _decoded(first)
    starts = _decoded(cs[1]) if len(cs) > 1 else node.attrs.get("starts", [0])
    ends = _decoded(cs[2]) if len(cs) > 2 else node.attrs.get("ends", [len(values)])
    steps = _decoded(cs[4]) if len(cs) > 4 and cs[4] is not None else [1]
    s, e, st = int(starts[0]), int(ends[0]), int(steps[0])
    n = len(values)
    e = min(e, n) if e >= 0 else e
    vals = values[s:e:st]
    return Const((len(vals),), vals)


def _reshape_const(node: wire.Node, cs: Sequence[Const | None]) -> Const | None:
    target = [int(v) for v in _decoded(cs[1])]
    first = _need(cs[0])
    n = math.prod(first.dims)
    if -1 in target:
        known = math.prod(d for d in target if d != -1) or 1
        target = [n // known if d == -1 else d for d in target]
    return Const(tuple(target), first.values)


def _const_of_shape(node: wire.Node, cs: Sequence[Const | None]) -> Const | None:
    t = node.attrs.get("value")
    tv = t.values() if isinstance(t, wire.Tensor) else None
    v = tv[0] if tv else 0.0
    shape = _decoded(cs[0])
    n = math.prod(int(d) for d in shape)
    if n > wire.MAX_VALUE_ELEMENTS:
        return None
    return Const(tuple(int(d) for d in shape), [v] * n)


def _transpose(node: wire.Node, cs: Sequence[Const | None]) -> Const | None:
    first = _need(cs[0])
    dims = first.dims
    perm = node.attrs.get("perm") or list(reversed(range(len(dims))))
    if first.values is None:                 # a weight: its dims only
        return Const(tuple(dims[p] for p in perm), None)
    return None                              # values: numpy's (_np_fold)


def _each(fn: Callable[[Scalar], Scalar]) -> FoldRule:
    def f(node: wire.Node, cs: Sequence[Const | None]) -> Const | None:
        first = _need(cs[0])
        return Const(first.dims, [fn(v) for v in _decoded(first)])
    return f


FOLD: Mapping[str, FoldRule] = {
    "Transpose": _transpose, "Expand": _expand,
    "Gather": _gather, "Unsqueeze": _unsqueeze, "Squeeze": _squeeze, "Concat": _concat,
    "Cast": _cast, "Slice": _slice, "Reshape": _reshape_const, "ConstantOfShape": _const_of_shape,
    "Identity": lambda node, cs: cs[0],
    "Add": _broadcast(lambda x, y: x + y), "Sub": _broadcast(lambda x, y: x - y),
    "Mul": _broadcast(lambda x, y: x * y), "Div": _broadcast(_div),
    "Floor": _each(math.floor), "Ceil": _each(math.ceil), "Sqrt": _each(math.sqrt),
}

# the ops folded on small lists, and the two the converter folds itself: ops archcalc knows
# even where no handler reads them
LIST_FOLDED = frozenset(FOLD) | {"Constant", "Shape"}

NP_FOLD = frozenset({
    "Transpose", "Slice", "Concat", "Gather", "Reshape", "Expand", "Range", "Equal", "Where",
    "Neg", "Tile", "Squeeze", "Unsqueeze", "Cast", "Add", "Sub", "Mul", "Div", "Mod", "Pow",
    "Min", "Max", "Not", "Less", "Greater", "ReduceProd", "Abs", "Shape"})


# ---------------------------------------------------------------------------------------------
# the general case, with numpy

def _np_fold(node: wire.Node, cs: Sequence[Const | None]) -> Const | None:
    """A node on constants of any rank, evaluated with numpy (shape arithmetic that the small
    list rules above do not cover: PyTorch's pad computation reverses and transposes a 2-D
    tensor)."""
    import numpy as np
    xs = [None if c is None else np.asarray(c.values).reshape(c.dims) for c in cs]

    def x(i: int) -> NDArray[Any]:         # input i, which the op needs
        v = xs[i]
        if v is None:
            raise ValueError(f"input {i + 1} is left out")
        return v

    def opt(i: int) -> NDArray[Any] | None:    # input i where given (an optional input)
        return xs[i] if len(xs) > i else None

    op, at = node.op_type, node.attrs
    y: ArrayLike
    try:
        a = x(0)
        if op == "Transpose":
            y = np.transpose(a, at.get("perm"))
        elif op == "Slice":
            starts, ends, given_axes, given_steps = x(1), x(2), opt(3), opt(4)
            axes: Iterable[Any] = given_axes if given_axes is not None else range(len(starts))
            steps: Iterable[Any] = given_steps if given_steps is not None else \
                [1] * len(starts)
            index = [slice(None)] * a.ndim
            for ax, s, e, st in zip(axes, starts, ends, steps):
                s, e, st = int(s), int(e), int(st)
                n = a.shape[ax]
                e = None if (st < 0 and e < -n) else max(min(e, n), -n - 1)
                index[int(ax)] = slice(max(min(s, n), -n), e, st)
            y = a[tuple(index)]
        elif op == "Concat":
            y = np.concatenate([v for v in xs if v is not None], axis=at.get("axis", 0))
        elif op == "Gather":
            y = np.take(a, x(1).astype(np.int64), axis=at.get("axis", 0))
        elif op == "Reshape":
            t = [int(v) for v in x(1).reshape(-1)]
            y = a.reshape([a.shape[i] if v == 0 else v for i, v in enumerate(t)])
        elif op == "Expand":
            y = a * np.ones([int(v) for v in x(1).reshape(-1)], a.dtype)
        elif op == "Range":
            y = np.arange(a.reshape(1)[0], x(1).reshape(1)[0], x(2).reshape(1)[0])   # scalars
        elif op == "Tile":
            y = np.tile(a, [int(v) for v in x(1).reshape(-1)])
        elif op in ("Squeeze", "Unsqueeze"):
            given = opt(1)
            which: Sequence[Any] | None = list(given) if given is not None else at.get("axes")
            if op == "Squeeze":
                y = np.squeeze(a, tuple(int(v) for v in which) if which is not None else None)
            elif which is None:            # (an Unsqueeze without its axes)
                return None
            else:
                y = a
                for ax in sorted(int(v) if v >= 0 else int(v) + a.ndim + len(which)
                                 for v in which):
                    y = np.expand_dims(y, ax)
        elif op == "Cast":
            y = a.astype(float if at.get("to", 1) in wire.FLOATS else np.int64)
        elif op == "Where":
            y = np.where(a, x(1), x(2))
        elif op == "ReduceProd":
            y = np.prod(a, keepdims=bool(at.get("keepdims", 1)))
        else:
            fn = {"Neg": np.negative, "Abs": np.abs, "Not": np.logical_not}.get(op)
            if fn is not None:
                y = fn(a)
            else:
                binary: dict[str, Callable[[NDArray[Any], NDArray[Any]], ArrayLike]] = {
                    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Mod": np.mod,
                    "Pow": np.power, "Min": np.minimum, "Max": np.maximum, "Equal": np.equal,
                    "Less": np.less, "Greater": np.greater,
                    "Div": lambda p, q: p // q if p.dtype.kind in "iu" and q.dtype.kind in
                    "iu" else p / q}
                y = binary[op](a, x(1))
    except (ValueError, IndexError, TypeError, KeyError, ZeroDivisionError):
        return None
    out = np.asarray(y)
    if out.size > wire.MAX_VALUE_ELEMENTS:
        return None
    return Const(tuple(int(d) for d in out.shape), out.reshape(-1).tolist())
