"""Evaluating a node on dimensions: what shape its outputs have, given its inputs' shapes and
the values of the small constants it reads (a Reshape's target, a Slice's bounds). Where
constants are small enough, shape arithmetic is folded (:mod:`.fold`); elsewhere only the
dimensions are known (a weight, a mask of 153,664 elements, a gathered position table).

An attention's region (:mod:`.attention`) is read so, node by node; so is a constant subgraph
too large to fold (:meth:`~.convert.Converter.fold_constants`). On the way from an attention's
input to its projection, a tensor also carries the place each position holds (:mod:`.layout`),
through views, slices, pads and concatenations that keep its channels whole.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import fold
from . import layout as lay
from .values import Const, Unsupported, constant, sorted_axes
from .wire import Node, Tensor


@dataclass
class T:
    """A tensor inside an attention: its dimensions; where it holds X's tokens with their
    channels whole, the place each position holds (``places``, over the axes but ``chan``)."""
    dims: tuple[int, ...]
    places: Any = None
    chan: int | None = None
    data: bool = False


V = T | Const


def _broadcast(*shapes: Sequence[int]) -> tuple[int, ...]:
    n = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(n):
        sizes = {s[len(s) - n + i] for s in shapes if len(s) - n + i >= 0} - {1}
        if len(sizes) > 1:
            raise Unsupported(f"shapes {[list(s) for s in shapes]} that do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _ints(v: V | None, what: str) -> list[int]:
    if not isinstance(v, Const) or v.values is None:
        raise Unsupported(f"its {what} is not a constant archcalc can compute")
    return [int(x) for x in v.values]


def placed(t: V) -> lay.Layout | None:
    if isinstance(t, T) and t.places is not None and t.chan is not None:
        return lay.Layout(t.dims, t.chan, t.places)
    return None


def evaluate(node: Node, ins: Sequence[V | None]) -> list[V]:
    """``node`` on dimensions (constants where its inputs are: shape arithmetic)."""
    op = node.op_type
    if op == "Constant":
        value = node.attrs.get("value")
        try:
            return [constant(node)]
        except Unsupported:
            if not isinstance(value, Tensor):
                raise
            return [Const(value.dims, None)]      # too large to decode (a mask): its dims
    first = ins[0] if ins else None
    if op in ("Shape", "Size"):
        assert first is not None
        d = first.dims
        return [fold.shape_of(d, node) if op == "Shape" else Const((), [math.prod(d)])]
    if all(v is None or isinstance(v, Const) for v in ins) and fold.can_fold(op):
        c = fold.evaluate(node, ins)          # type: ignore[arg-type]
        if c is not None:
            return [c]
    data = any(isinstance(v, T) and v.data for v in ins)
    if first is None:
        raise Unsupported(f"its {op} node {node.name!r} has no first input")
    d = first.dims
    at = node.attrs
    places = placed(first)

    def out(dims: Sequence[int], keep: lay.Layout | None = None) -> list[V]:
        if keep is not None:
            return [T(tuple(dims), keep.place_array(), keep.chan, data)]
        return [T(tuple(dims), None, None, data)]
    if op in ("Identity", "Cast", "Dropout"):
        return out(d, places)[:1] + [T(d, None, None, data)] * (len(node.outputs) - 1)
    if op in ("Erf", "Sqrt", "Neg", "Abs", "Not", "Relu", "Sigmoid", "Tanh", "Exp", "Log",
              "Softmax", "Reciprocal", "Floor", "Ceil", "IsNaN", "IsInf", "CumSum", "Trilu",
              "LayerNormalization", "ScatterND", "ScatterElements", "Gelu"):
        return out(d)
    if op in ("Add", "Sub", "Mul", "Div", "Pow", "Equal", "Less", "Greater", "LessOrEqual",
              "GreaterOrEqual", "And", "Or", "Xor", "Where", "Max", "Min", "Mod"):
        return out(_broadcast(*[v.dims for v in ins if v is not None]))
    if op == "MatMul":
        a, b = d, ins[1].dims if ins[1] is not None else ()
        if len(a) < 1 or len(b) < 1:
            raise Unsupported("a MatMul of scalars")
        a2 = (1,) + tuple(a) if len(a) == 1 else tuple(a)
        b2 = tuple(b) + (1,) if len(b) == 1 else tuple(b)
        if a2[-1] != b2[-2]:
            raise Unsupported(f"a MatMul of {list(a)} by {list(b)}")
        shape = _broadcast(a2[:-2], b2[:-2]) + (a2[-2], b2[-1])
        if len(a) == 1:
            shape = shape[:-2] + shape[-1:]
        if len(b) == 1:
            shape = shape[:-1]
        keep = None
        if places is not None and places.chan == len(a) - 1 and len(b) == 2:
            keep = places.with_channels(b[1])
        return out(shape, keep)
    if op == "Gemm":
        b = ins[1].dims if ins[1] is not None else ()
        m = d[1] if at.get("transA", 0) else d[0]
        n = b[0] if at.get("transB", 0) else b[1]
        return out((m, n))
    if op == "Einsum":
        eq = str(at.get("equation", "")).replace(" ", "")
        if "..." in eq or "->" not in eq:
            raise Unsupported(f"an Einsum {eq!r}")
        lhs, rhs = eq.split("->")
        size: dict[str, int] = {}
        for term, v in zip(lhs.split(","), ins):
            if v is None or len(term) != len(v.dims):
                raise Unsupported(f"an Einsum {eq!r} on {[list(x.dims) for x in ins if x]}")
            for letter, n in zip(term, v.dims):
                if size.setdefault(letter, n) != n and 1 not in (n, size[letter]):
                    raise Unsupported(f"an Einsum {eq!r} of mismatched sizes")
                size[letter] = max(size[letter], n)
        return out([size[letter] for letter in rhs])
    if op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
        if op == "Reshape":
            target = _ints(ins[1], "Reshape's shape")
            if not at.get("allowzero", 0):
                target = [d[i] if t == 0 and i < len(d) else t for i, t in enumerate(target)]
            if target.count(-1) == 1:
                known = math.prod(t for t in target if t != -1)
                target = [math.prod(d) // known if t == -1 and known else t for t in target]
            new = target
        elif op == "Flatten":
            axis = at.get("axis", 1)
            axis = axis + len(d) if axis < 0 else axis
            new = [math.prod(d[:axis]), math.prod(d[axis:])]
        else:
            axes = _ints(ins[1], "axes") if len(ins) > 1 and ins[1] is not None else \
                list(at.get("axes", []))
            if op == "Squeeze":
                gone = set(sorted_axes(axes, len(d))) if axes else \
                    {i for i, n in enumerate(d) if n == 1}
                new = [n for i, n in enumerate(d) if i not in gone]
            else:
                new = list(d)
                for ax in sorted_axes(axes, len(d) + len(axes)):
                    new.insert(ax, 1)
        if math.prod(new) != math.prod(d):
            raise Unsupported(f"a {op} of {list(d)} to {new}")
        return out(new, lay.reshape(places, new) if places is not None else None)
    if op == "Transpose":
        perm = list(at.get("perm") or reversed(range(len(d))))
        return out([d[p] for p in perm], lay.transpose(places, perm) if places else None)
    if op == "Gather":
        idx = ins[1]
        axis = at.get("axis", 0)
        axis = axis + len(d) if axis < 0 else axis
        assert idx is not None
        return out(tuple(d[:axis]) + tuple(idx.dims) + tuple(d[axis + 1:]))
    if op == "Slice":
        starts, ends = _ints(ins[1], "starts"), _ints(ins[2], "ends")
        axes = _ints(ins[3], "axes") if len(ins) > 3 and ins[3] is not None else \
            list(range(len(starts)))
        steps = _ints(ins[4], "steps") if len(ins) > 4 and ins[4] is not None else \
            [1] * len(starts)
        dims: list[int] = list(d)
        index: list[Any] = [slice(None)] * len(d)
        for ax, s, e, st in zip(axes, starts, ends, steps):
            ax = ax + len(d) if ax < 0 else ax
            picked = range(d[ax])[slice(s, e, st)]
            dims[ax] = len(picked)
            index[ax] = picked
        keep = None
        if places is not None and index[places.chan] == slice(None):
            arr = places.place_array()
            for ax, part in enumerate(index):
                if part != slice(None):
                    arr = arr.take(list(part), axis=ax - (ax > places.chan))
            keep = lay.Layout(tuple(dims), places.chan, arr)
        return out(dims, keep)
    if op == "Split":
        axis = at.get("axis", 0)
        axis = axis + len(d) if axis < 0 else axis
        n = len(node.outputs)
        sizes = _ints(ins[1], "split") if len(ins) > 1 and ins[1] is not None else \
            list(at.get("split", []))
        if not sizes:
            part = -(-d[axis] // n)
            sizes = [part] * (n - 1) + [d[axis] - part * (n - 1)]
        return [T(tuple(d[:axis]) + (s,) + tuple(d[axis + 1:]), None, None, data)
                for s in sizes]
    if op == "Concat":
        axis = at.get("axis", 0)
        axis = axis + len(d) if axis < 0 else axis
        vs = [v for v in ins if v is not None]
        dims = list(d)
        dims[axis] = sum(v.dims[axis] for v in vs)
        laid = [p for p in (placed(v) for v in vs) if p is not None]
        keep = None
        if len(laid) == len(vs) and all(p.chan == laid[0].chan for p in laid) and \
                axis != laid[0].chan:
            import numpy as np
            arr = np.concatenate([p.place_array() for p in laid],
                                 axis=axis - (axis > laid[0].chan))
            keep = lay.Layout(tuple(dims), laid[0].chan, arr)
        return out(dims, keep)
    if op == "Pad":
        pads = _ints(ins[1], "pads")
        axes = _ints(ins[3], "axes") if len(ins) > 3 and ins[3] is not None else \
            list(range(len(d)))
        k = len(axes)
        dims = list(d)
        widths = [(0, 0)] * len(d)
        for i, ax in enumerate(sorted_axes(axes, len(d))):
            widths[ax] = (pads[i], pads[i + k])
            dims[ax] += pads[i] + pads[i + k]
        keep = None
        if places is not None and widths[places.chan] == (0, 0) and min(pads, default=0) >= 0:
            import numpy as np
            rest = [w for i, w in enumerate(widths) if i != places.chan]
            arr = np.pad(places.place_array(), rest, constant_values=-1)
            keep = lay.Layout(tuple(dims), places.chan, arr)
        return out(dims, keep)
    if op == "Expand":
        return out(_broadcast(d, _ints(ins[1], "Expand's shape")))
    if op == "Tile":
        return out([n * r for n, r in zip(d, _ints(ins[1], "repeats"))])
    if op == "ConstantOfShape":
        return out(_ints(first, "shape"))
    if op in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"):
        axes = _ints(ins[1], "axes") if len(ins) > 1 and ins[1] is not None else \
            list(at.get("axes", range(len(d))))
        over = set(sorted_axes(axes, len(d)))
        keepdims = at.get("keepdims", 1)
        return out([1 if i in over else n for i, n in enumerate(d) if keepdims or i not in over])
    if op == "Attention":
        qd = first.dims
        vd = ins[2].dims if len(ins) > 2 and ins[2] is not None else ()
        if len(qd) == 4:
            return out(tuple(qd[:-1]) + (vd[-1],))
        heads, kv = at.get("q_num_heads", 1), at.get("kv_num_heads", 1)
        return out((qd[0], qd[1], heads * (vd[-1] // kv)))
    raise Unsupported(f"its {op} node {node.name or node.outputs[0]!r}, which archcalc does not "
                      "follow inside an attention")
