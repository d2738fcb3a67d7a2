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

from ..ops.words import counted
from . import handlers as h
from .context import Context, Handler
from .values import Act, Scalar, Unsupported, constant
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
    for node in order:
        if node.index in plan.skip or node.index in plan.special:
            continue
        op = node.op_type
        if op in ("Sigmoid", "HardSigmoid"):
            _gate(cv, plan, node)
        elif op == "Erf":
            _gelu(cv, plan, node)
        elif op == "MatMul":
            _matmul_add(cv, plan, node)
        elif op == "Reshape":
            _shuffle(cv, plan, node) or _groupnorm(cv, plan, node)
        elif op == "Transpose":
            _layernorm(cv, plan, node)
        elif op == "ConvTranspose":
            _conv_transpose_pad(cv, plan, node)
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


def _gelu(cv: Context, plan: Plan, erf: Node) -> None:
    """GELU's exact form, as exporters write it before opset 20: x·0.5·(1 + erf(x/√2)) (the
    scaling by Div √2 or Mul 1/√2; the halving before or after)."""
    pre = cv.producer.get(erf.inputs[0])
    if pre is None or pre.op_type not in ("Div", "Mul") or _only(cv, pre.outputs[0]) is not erf:
        return
    x = pre.inputs[0]
    c = _static(cv, pre.inputs[1])
    if not (_near(c, math.sqrt(2)) if pre.op_type == "Div" else _near(c, 1 / math.sqrt(2))):
        return
    plus = _only(cv, erf.outputs[0], "Add")
    if plus is None or not _near(_static(cv, _other(plus, erf.outputs[0]) or ""), 1.0):
        return
    m1 = _only(cv, plus.outputs[0], "Mul")
    if m1 is None:
        return
    other = _other(m1, plus.outputs[0])
    if other == x:                                  # (x·(1 + erf))·0.5
        m2 = _only(cv, m1.outputs[0], "Mul")
        if m2 is None or not _near(_static(cv, _other(m2, m1.outputs[0]) or ""), 0.5):
            return
        plan.internal(pre, erf, plus, m1)
        plan.special[m2.index] = partial(_unary, kind="gelu", x=x)
        return
    half = cv.producer.get(other or "")
    if half is None or half.op_type != "Mul" or _only(cv, half.outputs[0]) is not m1:
        return
    k = _other(half, x)
    if k is None or not _near(_static(cv, k), 0.5):
        return
    plan.internal(pre, erf, plus, half)              # (x·0.5)·(1 + erf)
    plan.special[m1.index] = partial(_unary, kind="gelu", x=x)


# -- a fully connected layer as MatMul + Add ------------------------------------------------------

def _matmul_add(cv: Context, plan: Plan, mm: Node) -> None:
    w = cv.dims(mm.inputs[1]) if len(mm.inputs) > 1 else None
    add = _only(cv, mm.outputs[0], "Add")
    if w is None or len(w) != 2 or add is None:
        return
    b = _other(add, mm.outputs[0])
    bd = cv.dims(b or "")
    if b is None or bd is None or math.prod(bd) != w[1] or not cv.is_param(b):
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


def _param_path(cv: Context, value: str | None) -> bool:
    """Whether ``value`` is an initializer, or one reshaped by Unsqueeze/Reshape (a weight)."""
    while value:
        if cv.is_param(value):
            return True
        node = cv.producer.get(value)
        if node is None or node.op_type not in ("Unsqueeze", "Reshape", "Identity", "Cast"):
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
    if ln is None or ln.attrs.get("axis", -1) not in (-1, 3):
        return
    t2 = _only(cv, ln.outputs[0], "Transpose")
    if t2 is None or t2.attrs.get("perm") != [0, 3, 1, 2]:
        return
    plan.special[t1.index] = partial(_layernorm_head, ln=ln, last=t2)
    plan.alias(t1, ln, t2)


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
            (len(ct.inputs) > 2 and ct.inputs[2]):
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

