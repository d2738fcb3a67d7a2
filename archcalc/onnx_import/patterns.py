"""Node patterns that are one layer in a framework (and in archcalc), found before the walk.

Each pattern names the node where its layer is made (:attr:`Plan.special`: the handler that
makes it) and the nodes it absorbs (:attr:`Plan.skip`: their outputs alias the layer's, or are
internal to the pattern). A pattern is taken only where its inner values are read by nothing
outside it, so no value a later node needs disappears.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..ops.tokens import PatchMerge, Tokens, Untokens
from ..ops.words import counted
from . import attention
from . import handlers as h
from .context import Context, Handler
from .layout import Layout
from .values import Act, Scalar, Unsupported, constant, sorted_axes
from .wire import Node

Check = Callable[[Node], None]      # raises Unsupported where an absorbed node does not fit


@dataclass
class Plan:
    """The patterns found: ``special``, node index → the handler that makes the pattern's layer
    there; ``skip``, node index → (the value its outputs alias, None for a value internal to the
    pattern; a check of the node, or None)."""
    special: dict[int, Handler] = field(default_factory=dict)
    skip: dict[int, tuple[str | None, Check | None]] = field(default_factory=dict)

    def internal(self, *nodes: Node) -> None:
        for n in nodes:
            self.skip[n.index] = (None, None)

    def alias(self, head: Node, *nodes: Node, check: Check | None = None) -> None:
        for n in nodes:
            self.skip[n.index] = (head.outputs[0], check if n is nodes[-1] else None)


def find_patterns(cv: Context, order: list[Node]) -> Plan:
    plan = Plan()
    # a layer norm over the channels of [N, C, H, W], a channel shuffle and a patch merging
    # begin or end with views (and slices, pads, concatenations) that an attention's walk to
    # its input, or from its output, would take for its own: found first, they are layers
    # there (archcalc's export writes every layer norm so, before and after attention), as the
    # tokens and untokens layers archcalc's export names; then the attentions, whose nodes are
    # no other pattern's
    for node in order:
        if node.op_type == "Transpose":
            _layernorm(cv, plan, node)
        elif node.op_type == "Reshape" and node.doc in (Tokens.ONNX_DOC, Untokens.ONNX_DOC):
            plan.special[node.index] = _named_view       # (archcalc's export names these)
        elif node.op_type == "Reshape":
            _shuffle(cv, plan, node)
        elif node.op_type == "Concat":
            _patch_merge(cv, plan, node)
    attention.find(cv, plan, order)
    pos = {n.index: i for i, n in enumerate(order)}
    for node in order:
        if node.index in plan.skip or node.index in plan.special:
            continue
        op = node.op_type
        if op in ("Sigmoid", "HardSigmoid"):
            _gate(cv, plan, node)
        elif op in ("Erf", "Tanh"):
            _gelu(cv, plan, node, pos)
        elif op == "MatMul":
            _matmul_add(cv, plan, node)
        elif op == "Reshape":
            _shuffle(cv, plan, node) or _groupnorm(cv, plan, node) or _row_view(plan, node)
        elif op == "Transpose":
            _layernorm(cv, plan, node)
        elif op == "ConvTranspose":
            _conv_transpose_pad(cv, plan, node)
        elif op == "ReduceMean":
            _layernorm_parts(cv, plan, node)
        elif op == "Concat":
            _broadcast_token(cv, plan, node)
        elif op == "Gather":
            plan.special[node.index] = _gather_row
    return plan


def _only(cv: Context, value: str, op_type: str | None = None) -> Node | None:
    """The one node that reads ``value`` (of ``op_type``), or None."""
    users = cv.consumers.get(value, [])
    if len(users) != 1 or users[0] is None:
        return None
    if op_type is not None and users[0].op_type != op_type:
        return None
    return users[0]


def _static(cv: Context, value: str) -> Sequence[Scalar] | None:
    """A constant's values before the walk: a Constant node's or a small initializer's."""
    if value in cv.g.initializers:
        return cv.g.initializers[value].values()
    node = cv.producer.get(value)
    if node is not None and node.op_type == "Constant":
        try:
            return constant(node).values
        except Unsupported:
            return None
    return None


def _near(values: Sequence[Scalar] | None, target: float) -> bool:
    return values is not None and len(values) == 1 and abs(values[0] - target) < 1e-4


def _other(node: Node, value: str) -> str | None:
    xs = [x for x in node.inputs if x]
    if len(xs) != 2 or value not in xs:
        return None
    return xs[1] if xs[0] == value else xs[0]


# -- activations built of two nodes --------------------------------------------------------------

def _gate(cv: Context, plan: Plan, node: Node) -> None:
    """Mul(x, Sigmoid(x)) → SiLU; Mul(x, HardSigmoid(x)) → hard swish."""
    x = node.inputs[0]
    mul = _only(cv, node.outputs[0], "Mul")
    if mul is None or _other(mul, node.outputs[0]) != x:
        return
    kind = "silu" if node.op_type == "Sigmoid" else "hardswish"
    plan.internal(node)
    plan.special[mul.index] = partial(_unary, kind=kind, x=x)


def _unary(cv: Context, node: Node, kind: str, x: str) -> None:
    cv.emit(node, kind, {}, [cv.act(x)])


_unary.layout_aware = True           # type: ignore[attr-defined]


ELEMENTWISE = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Erf", "Tanh", "Sqrt"})


def _gelu(cv: Context, plan: Plan, anchor: Node, pos: dict[int, int]) -> None:
    """GELU written out in element-wise nodes around an Erf (its exact form, as exporters write
    it before opset 20: x·0.5·(1 + erf(x/√2)), the factors in any order) or a Tanh (PyTorch's
    approximate='tanh': 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))). The nodes between a value
    x and a later node are taken where they use only x and scalar constants, nothing outside
    reads their values, and they compute GELU: checked by evaluating them on sample values."""
    xs = _sources(cv, anchor)
    ends = [anchor]
    node = anchor
    while True:
        users = cv.consumers.get(node.outputs[0], [])
        if len(users) != 1 or users[0] is None or users[0].op_type not in ELEMENTWISE:
            break
        node = users[0]
        ends.append(node)
    for end in reversed(ends[1:]):
        for x in xs:
            nodes = _between(cv, x, end, pos)
            if nodes is not None and _computes_gelu(cv, nodes, x, end):
                plan.internal(*[n for n in nodes if n is not end])
                plan.special[end.index] = partial(_unary, kind="gelu", x=x)
                return


def _scalar(cv: Context, value: str) -> float | None:
    t = cv.g.initializers.get(value)
    if t is not None and math.prod(t.dims) != 1:      # (a weight: not decoded to say so)
        return None
    v = _static(cv, value)
    return float(v[0]) if v is not None and len(v) == 1 else None


def _sources(cv: Context, anchor: Node) -> list[str]:
    """The values an element-wise expression ending at ``anchor`` may be a function of: those
    its element-wise nodes (of scalar constants otherwise) read, nearest first."""
    out: list[str] = []
    todo = [anchor]
    seen: set[int] = set()
    while todo:
        n = todo.pop(0)
        if n.index in seen:
            continue
        seen.add(n.index)
        for x in n.inputs:
            if not x or _scalar(cv, x) is not None:
                continue
            if x not in out:
                out.append(x)
            p = cv.producer.get(x)
            if p is not None and p.op_type in ELEMENTWISE:
                todo.append(p)
    return out


def _between(cv: Context, x: str, end: Node, pos: dict[int, int]) -> list[Node] | None:
    """The element-wise nodes from ``x`` to ``end`` where they read only x, one another and
    scalar constants and nothing else reads them; else None."""
    nodes: dict[int, Node] = {}
    todo = [end]
    while todo:
        n = todo.pop()
        if n.index in nodes:
            continue
        if n.op_type not in ELEMENTWISE:
            return None
        nodes[n.index] = n
        for v in n.inputs:
            if not v or v == x or _scalar(cv, v) is not None:
                continue
            p = cv.producer.get(v)
            if p is None:
                return None
            todo.append(p)
    for n in nodes.values():
        if n is end:
            continue
        for u in cv.consumers.get(n.outputs[0], []):
            if u is None or u.index not in nodes:
                return None
    if not any(x in n.inputs for n in nodes.values()):
        return None
    return sorted(nodes.values(), key=lambda n: pos[n.index])


def _computes_gelu(cv: Context, nodes: list[Node], x: str, end: Node) -> bool:
    import numpy as np
    t = np.linspace(-4.0, 4.0, 33)
    vals = {x: t}
    erf = np.vectorize(math.erf)
    for n in nodes:
        args: list[Any] = [vals[v] if v in vals else _scalar(cv, v) for v in n.inputs]
        if any(a is None for a in args):
            return False
        op = n.op_type
        with np.errstate(all="ignore"):
            if op == "Add":
                r = args[0] + args[1]
            elif op == "Sub":
                r = args[0] - args[1]
            elif op == "Mul":
                r = args[0] * args[1]
            elif op == "Div":
                r = args[0] / args[1]
            elif op == "Pow":
                r = np.power(args[0], args[1])
            elif op == "Erf":
                r = erf(args[0])
            elif op == "Tanh":
                r = np.tanh(args[0])
            else:
                r = np.sqrt(args[0])
        vals[n.outputs[0]] = r * np.ones_like(t)
    got = vals[end.outputs[0]]
    exact = 0.5 * t * (1 + erf(t / math.sqrt(2)))
    tanh = 0.5 * t * (1 + np.tanh(math.sqrt(2 / math.pi) * (t + 0.044715 * t ** 3)))
    return bool(np.allclose(got, exact, atol=1e-4) or np.allclose(got, tanh, atol=1e-4))


# -- a fully connected layer as MatMul + Add ------------------------------------------------------

def _pdims(cv: Context, value: str) -> tuple[int, ...] | None:
    """The dimensions of the initializer or Constant ``value`` is, through Identity and Cast
    (PyTorch's TorchScript exporter shares equal weights through Identity nodes)."""
    while value:
        d = cv.dims(value)
        if d is not None:
            return d
        node = cv.producer.get(value)
        if node is None or node.op_type not in ("Identity", "Cast"):
            return _static_dims(cv, value)
        value = node.inputs[0]
    return None


def _matmul_add(cv: Context, plan: Plan, mm: Node) -> None:
    w = _pdims(cv, mm.inputs[1]) if len(mm.inputs) > 1 else None
    add = _only(cv, mm.outputs[0], "Add")
    if w is None or len(w) != 2 or add is None:
        return
    b = _other(add, mm.outputs[0])
    bd = _pdims(cv, b or "")
    if b is None or bd is None or math.prod(bd) != w[1] or not _param_path(cv, b):
        return
    plan.special[mm.index] = partial(h.matmul, bias=b, last=add)
    plan.alias(mm, add)


# -- channel shuffle: Reshape → Transpose → Reshape ------------------------------------------------

def _shuffle(cv: Context, plan: Plan, r1: Node) -> bool:
    t = _only(cv, r1.outputs[0], "Transpose")
    if t is None or t.attrs.get("perm") != [0, 2, 1, 3, 4]:
        return False
    r2 = _only(cv, t.outputs[0], "Reshape")
    if r2 is None:
        return False
    plan.special[r1.index] = partial(_shuffle_head, last=r2)

    def check(node: Node) -> None:
        a = cv.vals.get(r1.outputs[0])
        c = cv.const(node.inputs[1])
        if not isinstance(a, Act) or c is None or c.values is None:
            raise Unsupported("the last Reshape of a channel shuffle to a shape archcalc cannot "
                              "compute")
        hh, ww, ch = a.vol
        target = [int(v) for v in c.values]
        if len(target) != 4 or target[1:] not in ([ch, hh, ww], [-1, hh, ww]):
            raise Unsupported(f"a channel shuffle that ends in the shape {target}, not "
                              f"[N, {ch}, {hh}, {ww}]")
    plan.alias(r1, t, r2, check=check)
    return True


def _shuffle_head(cv: Context, node: Node, last: Node) -> None:
    a = cv.act(node.inputs[0])
    c = cv.const(node.inputs[1])
    hh, ww, ch = a.vol
    target = [int(v) for v in c.values] if c is not None and c.values is not None else []
    if len(target) != 5 or (target[3:] != [hh, ww] and target[3:] != [0, 0]):
        raise Unsupported(f"a Reshape to {target} before a channel shuffle's transpose")
    groups = target[1] if target[1] > 0 else ch // target[2]
    if groups * (target[2] if target[2] > 0 else ch // groups) != ch:
        raise Unsupported(f"a channel shuffle of {counted(ch, 'channel')} as {target[1:3]}")
    cv.emit(node, "shuffle", {"groups": groups}, [a], rank=4, named=last)


# -- group norm: Reshape → InstanceNormalization → Reshape → Mul γ → Add β ------------------------

def _groupnorm(cv: Context, plan: Plan, r1: Node) -> bool:
    inorm = _only(cv, r1.outputs[0], "InstanceNormalization")
    if inorm is None:                  # (its scale and bias per group: constants, or
        return False                   # initializers as PyTorch's newer exporter writes them)
    r2 = _only(cv, inorm.outputs[0], "Reshape")
    mul = _only(cv, r2.outputs[0], "Mul") if r2 is not None else None
    add = _only(cv, mul.outputs[0], "Add") if mul is not None else None
    if r2 is None or mul is None or add is None or \
            not _param_path(cv, _other(mul, r2.outputs[0])) or \
            not _param_path(cv, _other(add, mul.outputs[0])):
        return False
    groups = cv.dims(inorm.inputs[1]) or _static_dims(cv, inorm.inputs[1])
    if not groups:
        return False
    plan.special[r1.index] = partial(_groupnorm_head, groups=groups[0],
                                     eps=inorm.attrs.get("epsilon", 1e-5), last=add)
    plan.alias(r1, inorm, r2, mul, add)
    return True


def _static_dims(cv: Context, value: str) -> tuple[int, ...] | None:
    node = cv.producer.get(value)
    if node is not None and node.op_type == "Constant":
        try:
            return constant(node).dims
        except Unsupported:
            return None
    return None


def _param_path(cv: Context, value: str | None, more: tuple[str, ...] = ()) -> bool:
    """Whether ``value`` is an initializer, or one reshaped by Unsqueeze/Reshape (a weight);
    ``more``: other views it may go through."""
    while value:
        if cv.is_param(value):
            return True
        node = cv.producer.get(value)
        if node is None or node.op_type not in ("Unsqueeze", "Reshape", "Identity", "Cast",
                                                *more):
            return False
        value = node.inputs[0]
    return False


def _groupnorm_head(cv: Context, node: Node, groups: int, eps: float, last: Node) -> None:
    a = cv.act(node.inputs[0])
    cv.emit(node, "groupnorm", {"groups": groups, "eps": eps}, [a], rank=4, named=last)


# -- layer norm over the channels: Transpose → LayerNormalization → Transpose ---------------------

def _layernorm(cv: Context, plan: Plan, t1: Node) -> None:
    if t1.attrs.get("perm") != [0, 2, 3, 1]:
        return
    ln = _only(cv, t1.outputs[0], "LayerNormalization")
    if ln is None:                       # written out, as before opset 17
        r1 = next((u for u in cv.consumers.get(t1.outputs[0], [])
                   if u is not None and u.op_type == "ReduceMean"), None)
        parts = _ln_parts(cv, r1) if r1 is not None else None
        if parts is None or parts[3] not in ([-1], [3]):
            return
        inner, last, eps, _ = parts
        t2 = _only(cv, last.outputs[0], "Transpose")
        if t2 is None or t2.attrs.get("perm") != [0, 3, 1, 2]:
            return
        plan.special[t1.index] = partial(_layernorm_eps, eps=eps, last=t2)
        plan.alias(t1, *inner, last, t2)
        return
    if ln.attrs.get("axis", -1) not in (-1, 3):
        return
    t2 = _only(cv, ln.outputs[0], "Transpose")
    if t2 is None or t2.attrs.get("perm") != [0, 3, 1, 2]:
        return
    plan.special[t1.index] = partial(_layernorm_head, ln=ln, last=t2)
    plan.alias(t1, ln, t2)


def _layernorm_eps(cv: Context, node: Node, eps: float, last: Node) -> None:
    cv.emit(node, "layernorm", {"eps": eps}, [cv.act(node.inputs[0])], rank=4, named=last)


def _layernorm_head(cv: Context, node: Node, ln: Node, last: Node) -> None:
    a = cv.act(node.inputs[0])
    if len(ln.inputs) < 3 or not ln.inputs[2]:
        raise Unsupported("a LayerNormalization without a bias")
    cv.emit(node, "layernorm", {"eps": ln.attrs.get("epsilon", 1e-5)}, [a], rank=4, named=last)


# -- a transposed conv whose output_padding reaches the stride: ConvTranspose → Pad (→ Add bias) --

def _conv_transpose_pad(cv: Context, plan: Plan, ct: Node) -> None:
    """PyTorch allows an output_padding up to the dilation; ONNX's ConvTranspose (as
    onnxruntime runs it) stops below the stride, so the rest comes as zero rows and columns
    padded at the end, and the bias is added after them (archcalc's own export writes it so)."""
    pad = _only(cv, ct.outputs[0], "Pad")
    if pad is None or pad.attrs.get("mode", "constant") != "constant" or \
            (len(ct.inputs) > 2 and ct.inputs[2]) or pad.index in plan.skip or \
            pad.doc.startswith(attention.MARK):         # (another layer's: a patch merging's)
        return
    pads = _static(cv, pad.inputs[1]) if len(pad.inputs) > 1 else None
    value = _static(cv, pad.inputs[2]) if len(pad.inputs) > 2 and pad.inputs[2] else [0.0]
    if pads is None or len(pads) != 8 or any(pads[:6]) or any(p < 0 for p in pads) or \
            value != [0.0] or len(pad.inputs) > 3:
        return
    last, bias = pad, False
    add = _only(cv, pad.outputs[0], "Add")
    if add is not None and _param_path(cv, _other(add, pad.outputs[0])):
        last, bias = add, True
    plan.special[ct.index] = partial(h.conv_transpose, extra=(int(pads[6]), int(pads[7])),
                                     bias=bias, named=last)
    plan.alias(ct, *([pad, add] if bias else [pad]))



# -- a layer norm written out: ReduceMean → Sub → Pow 2 → ReduceMean → Add ε → Sqrt → Div → Mul γ
# -- → Add β (PyTorch's exporters before opset 17, and others') ---------------------------------

def _axes_of(cv: Context, node: Node) -> list[int] | None:
    if len(node.inputs) > 1 and node.inputs[1]:
        v = _static(cv, node.inputs[1])
        return [int(a) for a in v] if v is not None else None
    axes = node.attrs.get("axes")
    return list(axes) if axes is not None else None


def _layernorm_parts(cv: Context, plan: Plan, r1: Node) -> None:
    parts = _ln_parts(cv, r1)
    if parts is not None:
        inner, last, eps, axes = parts
        plan.internal(*inner)
        plan.special[last.index] = partial(_layernorm_parts_head, x=r1.inputs[0], axes=axes,
                                           eps=eps)


def _ln_parts(cv: Context, r1: Node) -> tuple[list[Node], Node, float, list[int]] | None:
    """(the nodes, the last one (Add β), ε, the axes) of a layer norm written out from the
    ReduceMean ``r1``; None where it is not one."""
    x = r1.inputs[0]
    axes = _axes_of(cv, r1)
    if axes is None or not r1.attrs.get("keepdims", 1):
        return None
    sub = _only(cv, r1.outputs[0], "Sub")
    if sub is None or sub.inputs[0] != x or sub.inputs[1] != r1.outputs[0]:
        return None
    d = sub.outputs[0]
    users = list(cv.consumers.get(d, []))
    if len(users) != 2 or None in users:
        return None
    sq = next((u for u in users if u is not None and (
        (u.op_type == "Pow" and u.inputs[0] == d and _near(_static(cv, u.inputs[1]), 2.0)) or
        (u.op_type == "Mul" and u.inputs[0] == d == u.inputs[1]))), None)
    other = next((u for u in users if u is not sq), None)
    if sq is None or other is None:
        return None
    r2 = _only(cv, sq.outputs[0], "ReduceMean")
    if r2 is None or _axes_of(cv, r2) != axes or not r2.attrs.get("keepdims", 1):
        return None
    add = _only(cv, r2.outputs[0], "Add")
    eps = _scalar(cv, _other(add, r2.outputs[0]) or "") if add is not None else None
    sqrt = _only(cv, add.outputs[0], "Sqrt") if add is not None else None
    if eps is None or sqrt is None or add is None:
        return None
    inner = [r1, sub, sq, r2, add, sqrt]
    if other.op_type == "Div" and other.inputs == [d, sqrt.outputs[0]] and \
            _only(cv, sqrt.outputs[0]) is other:
        norm = other
    else:
        rec = _only(cv, sqrt.outputs[0], "Reciprocal")
        if rec is None or other.op_type != "Mul" or \
                set(other.inputs) != {d, rec.outputs[0]} or _only(cv, rec.outputs[0]) is not other:
            return None
        inner.append(rec)
        norm = other
    mul = _only(cv, norm.outputs[0], "Mul")
    bias = _only(cv, mul.outputs[0], "Add") if mul is not None else None
    if mul is None or bias is None or not _param_path(cv, _other(mul, norm.outputs[0])) or \
            not _param_path(cv, _other(bias, mul.outputs[0])):
        return None
    return [*inner, norm, mul], bias, eps, axes


def _layernorm_parts_head(cv: Context, node: Node, x: str, axes: list[int], eps: float) -> None:
    a = cv.act(x)
    rank = len(a.onnx_dims(cv.batch))
    chan = a.layout.chan if a.layout is not None else 1
    if sorted_axes(axes, rank) != [chan]:
        raise Unsupported(f"a layer norm (written out) over axes {axes} of a rank-{rank} tensor "
                          "(archcalc's layer norm is over the channels)")
    cv.emit(node, "layernorm", {"eps": eps}, [a])


_layernorm_parts_head.layout_aware = True       # type: ignore[attr-defined]


# -- Swin's patch merging: four strided Slices of [N, H, W, C] concatenated on the channels -------

def _patch_merge(cv: Context, plan: Plan, cat: Node) -> bool:
    xs = [x for x in cat.inputs if x]
    if len(xs) != 4:
        return False
    nodes: dict[int, Node] = {}
    picks = []
    sources = set()
    for v in xs:
        pick: dict[int, tuple[int, int]] = {}
        cur = v
        while (sl := cv.producer.get(cur)) is not None and sl.op_type == "Slice":
            vals = [_static(cv, x) if x else None for x in (sl.inputs + [""] * 5)[1:5]]
            starts, ends, axes, steps = vals
            if pick and (steps is None or any(st != 2 for st in steps)):
                break                       # (a slice of the input: another layer's)
            if starts is None or ends is None or axes is None or steps is None:
                return False
            for ax, s, st in zip(axes, starts, steps):
                pick[int(ax)] = (int(s), int(st))
            nodes[sl.index] = sl
            cur = sl.inputs[0]
        if not pick:
            return False
        picks.append(pick)
        sources.add(cur)
    if len(sources) != 1 or len({tuple(sorted(p)) for p in picks}) != 1 or \
            len(picks[0]) != 2 or any(st != 2 or s not in (0, 1) for p in picks
                                      for s, st in p.values()) or \
            len({tuple(sorted(p.items())) for p in picks}) != 4:
        return False
    for n in nodes.values():
        if any(u is None or (u.index not in nodes and u is not cat)
               for u in cv.consumers.get(n.outputs[0], [])):
            return False
    src = next(iter(sources))
    pad = cv.producer.get(src)
    if pad is not None and pad.op_type == "Pad" and \
            all(u is not None and u.index in nodes for u in cv.consumers.get(src, [])) and \
            _merge_pad(cv, pad, sorted(picks[0])):
        plan.internal(pad)
        src = pad.inputs[0]
    else:
        pad = None
    plan.internal(*nodes.values())
    plan.special[cat.index] = partial(_patch_merge_head, x=src, axes=sorted(picks[0]), pad=pad)
    return True


def _merge_pad(cv: Context, pad: Node, axes: list[int]) -> bool:
    """Whether ``pad``, before a patch merging's slices along ``axes``, is its own: archcalc's
    export names it so; another's pads by zeros, one row or column at most at the end of those
    axes (a network's pad layer, archcalc's export writes without that name)."""
    if pad.doc.startswith(attention.MARK):
        return pad.doc == PatchMerge.ONNX_DOC
    pads = _static(cv, pad.inputs[1]) if len(pad.inputs) > 1 else pad.attrs.get("pads")
    value = _static(cv, pad.inputs[2]) if len(pad.inputs) > 2 and pad.inputs[2] else [0.0]
    if pad.attrs.get("mode", "constant") not in ("constant", b"constant") or \
            (len(pad.inputs) > 3 and pad.inputs[3]) or value != [0.0]:
        return False
    if pads is None:
        return True              # (computed from the input's shape, as torchvision's: checked
    if len(pads) != 8:           # on the walk)
        return False
    ends = {4 + a for a in sorted_axes(axes, 4)}
    return all(p == 0 or (i in ends and p == 1) for i, p in enumerate(pads))


def _patch_merge_head(cv: Context, node: Node, x: str, axes: list[int], pad: Node | None) -> None:
    """Swin's patch merging: of [N, H, W, C] (torchvision's, channels last) along H and W
    concatenated on the last axis, or of [N, C, H, W] along H and W concatenated on the
    channels (archcalc's export)."""
    a = cv.act(x)
    la = a.layout
    axis = sorted_axes([node.attrs.get("axis", 0)], 4)
    last = la is not None and len(la.dims) == 4 and la.chan == 3 and la.places is None and \
        sorted_axes(axes, 4) == [1, 2] and axis == [3]
    first = la is None and a.rank == 4 and sorted_axes(axes, 4) == [2, 3] and axis == [1]
    if not (last or first):
        shown = la.describe() if la is not None else str(a.onnx_dims(cv.batch))
        raise Unsupported(f"strided slices of {shown} concatenated: archcalc reads Swin's "
                          "patch merging, of [N, H, W, C] or [N, C, H, W] along H and W")
    if pad is not None:
        pads = cv.ints(pad, 1, "pads") or []
        # the end of H and of W: one row or column at most
        allowed = {6: 1, 5: 1} if last else {6: 1, 7: 1}
        if len(pads) != 8 or any(p and (i not in allowed or p > allowed[i])
                                 for i, p in enumerate(pads)):
            raise Unsupported(f"a Pad {pads} before a patch merging (archcalc's pads an odd "
                              "height or width by one)")
    if first:
        cv.emit(node, "patch_merge", {}, [a], rank=4)
        return
    assert la is not None
    n, hh, ww, c = la.dims
    cv.emit(node, "patch_merge", {}, [a], layout=Layout((n, (hh + 1) // 2, (ww + 1) // 2, 4 * c),
                                                        3))


_patch_merge_head.layout_aware = True          # type: ignore[attr-defined]


# -- token sequences as archcalc's export lays them out: [N, C, 1, T] ----------------------------
# (a sequence 1×T×C is a map of one row, whose ONNX form is [N, C, H, W]'s: the importer reads
# one so as any map, and these are the token ops' forms on it)

def _target(cv: Context, node: Node, a: Act) -> list[int] | None:
    """A Reshape's target shape (0 copying the input's dimension), or None."""
    c = cv.const(node.inputs[1]) if len(node.inputs) > 1 else None
    if c is None or c.values is None:
        return None
    dims = a.onnx_dims(cv.batch)
    target = [int(v) for v in c.values]
    if not node.attrs.get("allowzero", 0):
        target = [dims[i] if t == 0 and i < len(dims) else t for i, t in enumerate(target)]
    if target.count(-1) == 1:
        known = math.prod(t for t in target if t != -1)
        target = [math.prod(dims) // known if t == -1 and known else t for t in target]
    return target


def _as_row(cv: Context, node: Node) -> bool:
    """A Reshape of a map [N, C, H, W] into a sequence [N, C, 1, H·W] (``x.flatten(2)`` in
    archcalc's layout): a ``tokens`` layer, made here; False where it is not one."""
    a = cv.act(node.inputs[0])
    hh, ww, c = a.vol
    if a.layout is not None or a.rank != 4 or _target(cv, node, a) != [cv.batch, c, 1, hh * ww]:
        return False
    cv.emit(node, "tokens", {}, [a], rank=4, layout=None)
    return True


def _row_view(plan: Plan, node: Node) -> bool:
    """A Reshape that may make a map a sequence (:func:`_as_row`), decided on the walk."""
    plan.special[node.index] = _row_or_view
    return True


def _row_or_view(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    if a.layout is not None or a.vol[0] == 1 or not _as_row(cv, node):
        h.reshape(cv, node)


_row_or_view.layout_aware = True            # type: ignore[attr-defined]


def _named_view(cv: Context, node: Node) -> None:
    """A Reshape archcalc's export names a ``tokens`` or ``untokens`` layer (in its doc_string):
    that layer, also where it changes nothing (the tokens of a map of one row, a sequence
    back into a map of one row)."""
    a = cv.act(node.inputs[0])
    hh, ww, c = a.vol
    target = _target(cv, node, a) if a.layout is None and a.rank == 4 else None
    if node.doc == Tokens.ONNX_DOC and target == [cv.batch, c, 1, hh * ww]:
        cv.emit(node, "tokens", {}, [a], rank=4, layout=None)
    elif node.doc == Untokens.ONNX_DOC and target is not None and len(target) == 4 and \
            target[:2] == [cv.batch, c] and target[2] * target[3] == hh * ww:
        cv.emit(node, "untokens", {"size": target[2:]}, [a], rank=4, layout=None)
    else:
        h.reshape(cv, node)


_named_view.layout_aware = True             # type: ignore[attr-defined]


def _gather_row(cv: Context, node: Node) -> None:
    """A Gather of one place along the last axis of a sequence [N, C, 1, T] (``x[:, index]`` in
    archcalc's layout): ``take_token``; any other Gather as its handler reads it."""
    a = cv.act(node.inputs[0])
    index = cv.const(node.inputs[1])
    axis = node.attrs.get("axis", 0)
    if a.layout is None and a.rank == 4 and a.vol[0] == 1 and axis in (3, -1) and \
            index is not None and index.values is not None and index.dims == (1,):
        cv.emit(node, "take_token", {"index": int(index.values[0])}, [a], rank=4, layout=None)
        return
    h.gather(cv, node)


_gather_row.layout_aware = True             # type: ignore[attr-defined]


def _broadcast_token(cv: Context, plan: Plan, cat: Node) -> bool:
    """Learned tokens put before a sequence [N, C, 1, T] as archcalc's export writes them:
    Concat(Where(true, tokens, Slice(x)), x) along the last axis (the Where copies the tokens
    [1, C, 1, count] for every image of the batch, against the first token of x)."""
    xs = [x for x in cat.inputs if x]
    where = cv.producer.get(xs[0]) if len(xs) == 2 else None
    if where is None or where.op_type != "Where" or len(where.inputs) != 3 or \
            _only(cv, where.outputs[0]) is not cat:
        return False
    first = cv.producer.get(where.inputs[2])
    if first is None or first.op_type != "Slice" or first.inputs[0] != xs[1] or \
            _only(cv, first.outputs[0]) is not where or not _param_path(cv, where.inputs[1],
                                                                        ("Transpose",)):
        return False
    plan.internal(first, where)
    plan.special[cat.index] = partial(_broadcast_token_head, x=xs[1], tokens=where.inputs[1])
    return True


def _broadcast_token_head(cv: Context, node: Node, x: str, tokens: str) -> None:
    a = cv.act(x)
    d = cv.dims(tokens) or ()
    _, _, c = a.vol
    if a.layout is not None or a.rank != 4 or a.vol[0] != 1 or len(d) != 4 or \
            tuple(d[:3]) != (1, c, 1) or node.attrs.get("axis") not in (3, -1):
        shown = a.layout.describe() if a.layout is not None else str(a.onnx_dims(cv.batch))
        raise Unsupported(f"learned tokens of shape {list(d)} put before {shown} (archcalc reads "
                          "[1, C, 1, count] before a sequence [N, C, 1, T], along its last axis)")
    cv.emit(node, "class_token", {"count": d[3]}, [a], rank=4, layout=None)
