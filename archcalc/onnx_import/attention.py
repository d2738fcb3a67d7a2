"""Multi-head attention as exporters write it, read as one ``attention`` layer.

PyTorch's exporters write an attention as some dozens of nodes: the input projection(s) (MatMul
+ Add, or Gemm), Reshape/Transpose/Gather/Split into heads, a scaling Mul or Div, the scores
QKᵀ (MatMul, or Einsum as MaxViT writes it), biases added to them (a relative-position bias, a
shifted window's mask), Softmax, the weighted sum AV, Transpose/Reshape back, the output
projection, and the shape arithmetic in between; from opset 23 the dynamo exporter writes
scaled_dot_product_attention as ONNX's ``Attention`` op between the same projections. Swin's
windows add a Pad, a roll (Slice + Concat) and the partition views before the projection and
their inverses after it.

Finding one (:func:`find`, before the walk): the core is a Softmax whose input is, through
element-wise nodes with one activation input, a MatMul or Einsum of two activations (the scores)
and whose output is read by another (the weighted sum); or an ``Attention`` node. From its
queries, keys and values the walk goes up through views, selections and scalings to the input
projections (MatMul or Gemm of a 2-D weight, or of one transposed), and from those through
views, rolls and pads to one activation X, the layer's input (or two: cross-attention, the
queries' X and the keys' and values' KV); from the weighted sum it goes down through views to
the output projection and on through views to the value the rest of the network reads (the
end). The walks end at another layer (:func:`layer_of_its_own`: a node archcalc's export names,
a pattern found first, a value something else reads), take a roll only where the walk down rolls
it back and a pad only where it unpads it, and the walk down ends at the node archcalc's export
names the attention's last. The region is every node between X and the end, with the constant
subgraphs only it reads (a relative-position table, a mask). A region whose values something
outside reads is not one layer.

Reading one (:func:`layer`, during the walk): the region's nodes are evaluated on dimensions
(and, on the way from X to the projection, on which place each position holds: :mod:`.layout`),
giving the heads (the projection's width over the head size QKᵀ contracts), the tokens a query
attends to (the scores' last axis: every token, a window or a grid cell, told apart by the
places the projection reads), a shift (where a window starts), the biases and the relative-
position bias (a per-head bias added to the scores, from a table or already gathered). A
region that cannot be read so is one error, at its end node.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from ..ops.attention import Attention
from ..ops.words import counted
from . import layout as lay
from .context import Context
from .dims import T, V, evaluate, placed
from .layout import Layout
from .values import KEEP, Act, Const, Keep, Unsupported, constant
from .wire import FLOATS, Node

if TYPE_CHECKING:
    from .patterns import Plan

VIEWS = frozenset({"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Identity", "Cast",
                   "Dropout"})
ARITH = frozenset({"Add", "Sub", "Mul", "Div"})
# between X and an input projection; between a projection and the queries, keys or values;
# after the weighted sum (and after the output projection); between the scores and the Softmax
TO_X = VIEWS | {"Slice", "Concat", "Pad"}
TO_CORE = VIEWS | ARITH | {"Gather", "Slice", "Split", "Concat", "Expand"}
FROM_CORE = VIEWS          # and a roll back, an unpad (_back)
SCORES = VIEWS | ARITH | {"Where"}
MATMULS = ("MatMul", "Einsum")
# how a doc_string of archcalc's export that names a layer begins (a drop_path's, a crop's, a
# tokens', an attention's: ops' ONNX_DOC)
MARK = "archcalc: "
GRID_DOC = f"{Attention.ONNX_DOC}{Attention.ONNX_GRID}"


@dataclass
class Region:
    """An attention found in the graph: its input ``x``, the node whose output is the layer's
    (``end``), its core (the scores, the Softmax, the weighted sum; or an Attention node), the
    projections (the queries' first), the biases added to the scores (node, the scores'
    operand, the bias), every node of it in order, and for cross-attention the second input
    ``kv`` and the projections that read it."""
    x: str
    end: Node
    scores: Node
    av: Node
    inproj: list[Node]
    proj: Node | None
    biases: list[tuple[Node, str | None, str]]
    nodes: list[Node] = field(default_factory=list)
    kv: str | None = None          # cross-attention: the keys' and values' input
    kv_proj: list[Node] = field(default_factory=list)      # the projections that read it


class NotFound(Exception):
    """The core of an attention is there, but not the rest: why."""


def flows(cv: Context, order: Sequence[Node]) -> set[str]:
    """The values that carry the image's data (not shape arithmetic: a Shape's output does
    not)."""
    data = {cv.image_name}
    for node in order:
        if node.op_type not in ("Shape", "Size") and any(x in data for x in node.inputs if x):
            data.update(y for y in node.outputs if y)
    return data


def _consumers(cv: Context, value: str) -> list[Node | None]:
    return list(cv.consumers.get(value, []))


def _param_dims(cv: Context, value: str) -> tuple[int, ...] | None:
    """The dimensions of the initializer ``value`` is (through Identity and Cast), or of one
    transposed (a weight kept in PyTorch's [out, in] and transposed for the MatMul, as
    archcalc's export writes ``F.linear``)."""
    perms: list[list[int]] = []
    while value:
        if value in cv.g.initializers:
            dims = cv.g.initializers[value].dims
            for perm in reversed(perms):
                perm = perm or list(reversed(range(len(dims))))       # (none: reversed)
                if sorted(perm) != list(range(len(dims))):
                    return None
                dims = tuple(dims[p] for p in perm)
            return dims
        node = cv.producer.get(value)
        if node is None or node.op_type not in ("Identity", "Cast", "Transpose"):
            return None
        if node.op_type == "Transpose":
            perms.append(list(node.attrs.get("perm") or []))
        value = node.inputs[0]
    return None


def projection(cv: Context, node: Node, data: set[str]) -> tuple[int, int] | None:
    """(in, out) features where ``node`` applies a 2-D weight to an activation: MatMul by a
    weight, or Gemm (transA 0)."""
    if node.op_type == "MatMul" and len(node.inputs) == 2 and node.inputs[0] in data and \
            node.inputs[1] not in data:
        w = _param_dims(cv, node.inputs[1])
        return (w[0], w[1]) if w is not None and len(w) == 2 else None
    if node.op_type == "Gemm" and node.inputs[0] in data and not node.attrs.get("transA", 0):
        w = _param_dims(cv, node.inputs[1])
        if w is None or len(w) != 2:
            return None
        return (w[1], w[0]) if node.attrs.get("transB", 0) else (w[0], w[1])
    return None


def _bias_after(cv: Context, mm: Node, data: set[str]) -> Node | None:
    """The Add of a learned bias right after a MatMul projection."""
    users = _consumers(cv, mm.outputs[0])
    if len(users) != 1 or users[0] is None or users[0].op_type != "Add":
        return None
    add = users[0]
    other = [x for x in add.inputs if x != mm.outputs[0]]
    if len(other) != 1 or other[0] in data or _param_dims(cv, other[0]) is None:
        return None
    return add


def _core(cv: Context, node: Node, data: set[str]
          ) -> tuple[Node, Node, list[str], list[Node], list[tuple[Node, str | None, str]]] | None:
    """(scores, weighted sum, [q, k, v], the core's nodes, the biases) around a Softmax or an
    Attention node, else None."""
    if node.op_type == "Attention":
        xs = list(node.inputs) + [""] * 6
        if not all(x in data for x in xs[:3]) or any(xs[4:6]) or \
                any(y and cv.consumers.get(y) for y in node.outputs[1:]):
            return None
        mask = xs[3]
        if mask and mask in data:
            return None
        return node, node, xs[:3], [node], [(node, None, mask)] if mask else []
    chain: list[Node] = []
    biases: list[tuple[Node, str | None, str]] = []
    v = node.inputs[0]
    while True:
        p = cv.producer.get(v)
        if p is None:
            return None
        ds = [x for x in p.inputs if x and x in data]
        if p.op_type in MATMULS and len(ds) == 2 and len(p.inputs) == 2:
            scores = p
            break
        users = _consumers(cv, p.outputs[0])
        if p.op_type not in SCORES or len(ds) != 1 or len(users) != 1:
            return None
        if p.op_type in ("Add", "Sub"):
            for other in p.inputs:
                if other and other != ds[0] and other not in data:
                    biases.append((p, ds[0], other))
        chain.append(p)
        v = ds[0]
    after: list[Node] = []
    u = node.outputs[0]
    while True:
        users = _consumers(cv, u)
        if len(users) != 1 or users[0] is None:
            return None
        c = users[0]
        if c.op_type in ("Dropout", "Cast", "Identity"):
            after.append(c)
            u = c.outputs[0]
            continue
        break
    if c.op_type not in MATMULS or len(c.inputs) != 2 or c.inputs[0] != u or \
            c.inputs[1] not in data:
        return None
    nodes = [scores, *reversed(chain), node, *after, c]
    return scores, c, [scores.inputs[0], scores.inputs[1], c.inputs[1]], nodes, biases


def layer_of_its_own(plan: Plan | None, node: Node) -> bool:
    """Whether ``node``, of an op an attention's walk to its input or from its output passes
    through as a view, is a layer of its own there: a Dropout (torchvision's attentions drop
    their attention weights only, inside the core; a Dropout before the input projection or
    after the output projection is a network's dropout layer, as archcalc's export writes
    it); a Flatten to [N, features] (a network's flatten: an attention never merges its tokens
    with their channels); a node archcalc's export names as a layer's output in its doc_string
    (a drop_path's Identity, a tokens' Reshape, another attention's last node); or a node of a
    pattern found before the attentions (a layer norm over the channels of [N, C, H, W]:
    Transpose → LayerNormalization → Transpose)."""
    if node.op_type == "Dropout" or node.doc.startswith(MARK) or \
            (node.op_type == "Flatten" and node.attrs.get("axis", 1) in (0, 1)):
        return True
    return plan is not None and (node.index in plan.skip or node.index in plan.special)


def _static_ints(cv: Context, value: str) -> list[int] | None:
    """The values of the small integer constant ``value`` before the walk (an initializer or a
    Constant node), else None."""
    if not value:
        return None
    got: Sequence[float | int] | None
    if value in cv.g.initializers:
        got = cv.g.initializers[value].values()
    else:
        node = cv.producer.get(value)
        if node is None or node.op_type != "Constant":
            return None
        try:
            got = constant(node).values
        except Unsupported:
            return None
    return None if got is None else [int(v) for v in got]


def _slice_of(cv: Context, node: Node) -> tuple[int, int, int] | bool | None:
    """(axis, start, end) of a Slice of one axis with step 1; False for another Slice whose
    bounds are constants (of several axes, or by steps); None where they are computed."""
    if len(node.inputs) == 1:                     # opset < 10: attributes
        starts, ends = node.attrs.get("starts"), node.attrs.get("ends")
        axes, steps = node.attrs.get("axes"), None
    else:
        starts, ends, axes, steps = (_static_ints(cv, x) for x in (node.inputs + [""] * 5)[1:5])
        given = node.inputs + [""] * 5
        if (given[3] and axes is None) or (given[4] and steps is None):
            return None
    if starts is None or ends is None:
        return None
    if len(starts) != 1 or len(ends) != 1 or (axes is not None and len(axes) != 1) or \
            (steps is not None and steps != [1]):
        return False
    return (axes[0] if axes is not None else 0, starts[0], ends[0])


def _roll(cv: Context, node: Node) -> bool:
    """Whether ``node`` is ``torch.roll`` of one axis as exporters write it: a Concat of two
    Slices of one value along that axis, the tail and then the head (the second from 0 to
    where the first starts). (Slices whose bounds are computed: any two of one value.)"""
    xs = [x for x in node.inputs if x]
    if node.op_type != "Concat" or len(xs) != 2:
        return False
    parts = [cv.producer.get(x) for x in xs]
    if any(p is None or p.op_type != "Slice" for p in parts) or \
            len({p.inputs[0] for p in parts if p is not None}) != 1:
        return False
    assert parts[0] is not None and parts[1] is not None
    tail, head = _slice_of(cv, parts[0]), _slice_of(cv, parts[1])
    if tail is False or head is False:
        return False
    if not isinstance(tail, tuple) or not isinstance(head, tuple):
        return True
    axis = node.attrs.get("axis", 0)
    same = axis == tail[0] or (axis < 0) != (tail[0] < 0)       # (the rank is not known here)
    return tail[0] == head[0] and same and head[1] == 0 and tail[1] == head[2]


def _window_pad(cv: Context, node: Node) -> bool:
    """Whether ``node`` is a Pad as Swin's window attention writes it before its windows: by a
    constant, of a channels-last [N, H, W, C] at the bottom and right only, some of it non-zero,
    or by pads computed from the input's shape (torchvision's, which the walk folds); a Pad by
    constant pads of [N, C, H, W], or of nothing, is a network's pad layer."""
    if node.op_type != "Pad" or node.attrs.get("mode", "constant") not in ("constant",
                                                                           b"constant"):
        return False
    if len(node.inputs) > 3 and node.inputs[3]:
        return False                                  # (pads of some axes only)
    if len(node.inputs) > 1:
        pads = _static_ints(cv, node.inputs[1])
        if pads is None:
            return True
    else:
        pads = list(node.attrs.get("pads", []))
    return len(pads) == 8 and not any(pads[:4]) and not pads[4] and not pads[7] and any(pads)


def _up(cv: Context, start: str, ops: frozenset[str], data: set[str], stop: Any,
        plan: Plan | None = None, pads: bool = True, rolls: int | None = None,
        leaf: frozenset[str] = frozenset()) -> tuple[set[int], set[str], list[Node]]:
    """From ``start`` up through nodes of ``ops`` (arithmetic ones with one activation input):
    (the nodes walked, the values where the walk ends, the nodes ``stop`` accepts that it
    met). With ``plan`` (the walk from a projection to the input), the walk ends at a layer of
    its own (:func:`layer_of_its_own`) and goes through a Concat only where it is a roll (and
    through its Slices), through ``rolls`` of them at most (None: any), through a Pad only where
    it is Swin's (:func:`_window_pad`) and ``pads`` allows it; it ends at the values ``leaf``."""
    walked: set[int] = set()
    leaves: set[str] = set()
    stops: list[Node] = []
    todo, seen = [start], set()
    taken = 0
    while todo:
        v = todo.pop()
        if v in seen:
            continue
        seen.add(v)
        p = cv.producer.get(v)
        if p is None or v in leaf or (plan is not None and layer_of_its_own(plan, p)):
            leaves.add(v)
            continue
        ds = [x for x in p.inputs if x and x in data]
        if stop is not None and stop(p):
            if p not in stops:
                stops.append(p)
            continue
        ok = p.op_type in ops and ds and (p.op_type not in ARITH or len(ds) == 1) and \
            (p.op_type != "Concat" or len(ds) == len([x for x in p.inputs if x]))
        if ok and plan is not None:
            if p.op_type == "Concat":
                ok = (rolls is None or taken < rolls) and _roll(cv, p)
                taken += ok
            elif p.op_type == "Slice":
                users = _consumers(cv, v)
                ok = bool(users) and all(u is not None and u.index in walked and _roll(cv, u)
                                         for u in users)
            elif p.op_type == "Pad":
                ok = pads and _window_pad(cv, p)
        if ok:
            walked.add(p.index)
            todo.extend(ds)
        else:
            leaves.add(v)
    return walked, leaves, stops


def _back(cv: Context, node: Node, padded: bool) -> bool:
    """Whether ``node``, after the weighted sum, undoes what was done before the projection:
    a roll (Slices of one value concatenated back: Swin's), or a Slice where the input was
    padded (the unpad). A Slice of some tokens (ViT's class token) is not."""
    if node.op_type == "Concat":
        return _roll(cv, node)
    if node.op_type != "Slice":
        return False
    if padded:
        return True
    users = _consumers(cv, node.outputs[0])
    return len(users) == 1 and users[0] is not None and _back(cv, users[0], False)


def _delimit(cv: Context, node: Node, data: set[str], pos: dict[int, int],
             byindex: dict[int, Node], plan: Plan | None = None) -> Region | None:
    """The attention around the Softmax or Attention node ``node``; None where there is none;
    :class:`NotFound` where its core is there but the region is not."""
    core = _core(cv, node, data)
    if core is None:
        return None
    scores, av, qkv, core_nodes, biases = core

    def is_proj(n: Node) -> bool:
        return projection(cv, n, data) is not None

    walked: set[int] = {n.index for n in core_nodes}
    inproj: list[Node] = []
    reads: list[list[Node]] = []           # the projections of the queries, keys, values
    for v in qkv:
        w, leaves, stops = _up(cv, v, TO_CORE, data, is_proj)
        if leaves:
            raise NotFound("its queries, keys or values come from no projection (a MatMul or "
                           "Gemm by a weight)")
        walked |= w
        reads.append(stops)
        inproj += [p for p in stops if p not in inproj]
    rolls: int | None = None
    for pads in (True, True, False, False):
        # from each projection up to its input: a Pad taken for Swin's needs its unpad after
        # the weighted sum, each roll a roll back (Swin's shifted windows); without them, the
        # walk is made again with the Pad, or the rolls beyond those rolled back, layers (a pad
        # layer before the attention, a concatenation of slices); a value that something other
        # than the walk reads is a layer's output, where the walk ends
        shared: frozenset[str] = frozenset()
        while True:
            to_x: set[int] = set()
            source: dict[int, set[str]] = {}
            for p in inproj:
                w, leaves, _ = _up(cv, p.inputs[0], TO_X, data, None, plan, pads, rolls,
                                   shared)
                to_x |= w
                source[p.index] = leaves
            inner = to_x | {p.index for p in inproj}
            read = {y for i in to_x for y in byindex[i].outputs if y and any(
                u is None or (u.index not in inner and u.op_type not in ("Shape", "Size"))
                for u in _consumers(cv, y))}
            if read <= shared:
                break
            shared |= read
        padded = any(byindex[i].op_type == "Pad" for i in to_x)
        xs = set().union(*source.values())
        kv: str | None = None
        kv_proj: list[Node] = []
        if len(xs) == 2:                   # cross-attention: queries from one, keys and values
            q_in = set().union(*(source[p.index] for p in reads[0]))      # from the other
            kv_in = set().union(*(source[p.index] for p in reads[1] + reads[2]))
            if len(q_in) == 1 and len(kv_in) == 1 and q_in != kv_in:
                kv = next(iter(kv_in))
                kv_proj = [p for p in inproj if source[p.index] == kv_in]
                xs = q_in
        if len(xs) != 1:
            raise NotFound("its projections read more than two inputs, or the queries some of "
                           "the keys' and values'" if len(xs) > 1 else "its input is not found")
        x = next(iter(xs))
        # down from the weighted sum: views, the output projection (and its bias), views; in
        # archcalc's export, to its last node (named so)
        proj: Node | None = None
        ends: set[str] = set()
        down: set[int] = set()
        todo, seen = [av.outputs[0]], set()
        while todo:
            v = todo.pop()
            if v in seen:
                continue
            seen.add(v)
            users = _consumers(cv, v)
            if None in users:
                ends.add(v)
                continue
            readers = [u for u in users if u is not None and u.op_type not in ("Shape", "Size")]
            ok = []
            for u in readers:
                if u.doc.startswith(Attention.ONNX_DOC) and u.op_type in FROM_CORE | {"Concat"}:
                    ok.append(u)              # (its last node: no further)
                elif layer_of_its_own(plan, u):
                    continue
                elif u.op_type in FROM_CORE or _back(cv, u, padded):
                    ok.append(u)
                elif proj is None and is_proj(u):
                    proj = u
                    ok.append(u)
                elif proj is not None and proj.op_type == "MatMul" and v == proj.outputs[0] and \
                        _bias_after(cv, proj, data) is u:
                    ok.append(u)
            if not readers or len(ok) != len(readers):
                ends.add(v)
                continue
            for u in ok:
                down.add(u.index)
                if u.doc.startswith(Attention.ONNX_DOC):
                    ends.add(u.outputs[0])
                else:
                    todo.extend(y for y in u.outputs if y and y in data)
        unpadded = any(byindex[i].op_type == "Slice" and not _back(cv, byindex[i], False)
                       for i in down)
        rolled = [sum(byindex[i].op_type == "Concat" for i in part) for part in (to_x, down)]
        if (not padded or unpadded) and rolled[0] == rolled[1]:
            break
        rolls = rolled[1] if rolled[0] != rolled[1] else None
    walked |= to_x | down
    walked |= {p.index for p in inproj}
    for p in inproj:
        if p.op_type == "MatMul":
            b = _bias_after(cv, p, data)
            if b is not None:
                walked.add(b.index)
    if len(ends) != 1:
        raise NotFound("its output does not come back to one value")
    end_value = next(iter(ends))
    end = cv.producer[end_value]
    # the region: what lies between x and the end, and the constants only it reads
    last = pos[end.index]
    inside: set[int] = set()
    todo_v = [x] if kv is None else [x, kv]
    while todo_v:
        v = todo_v.pop()
        for user in _consumers(cv, v):
            if user is not None and user.index not in inside and pos[user.index] <= last:
                inside.add(user.index)
                todo_v.extend(y for y in user.outputs if y)
    region: set[int] = set()
    todo_n = [end]
    while todo_n:
        n = todo_n.pop()
        if n.index in region or n.index not in inside:
            continue
        region.add(n.index)
        for v in n.inputs:
            prod = cv.producer.get(v) if v and v not in (x, kv) else None
            if prod is not None:
                todo_n.append(prod)
    if not walked <= region:
        raise NotFound("its nodes do not all lie between its input and its output")

    def outside_readers(n: Node) -> bool:
        return any(u is None or u.index not in region
                   for y in n.outputs if y and y != end_value for u in _consumers(cv, y))
    changed = True
    while changed:            # shape arithmetic on x that something else reads too: outside
        changed = False
        for i in sorted(region, key=lambda k: pos[k]):
            n = byindex[i]
            if n is not end and outside_readers(n) and not any(y in data for y in n.outputs) \
                    and i not in walked:
                region.discard(i)
                changed = True
    for i in region:
        n = byindex[i]
        if n is not end and outside_readers(n):
            raise NotFound(f"a value inside it ({n.outputs[0]!r}) is read outside it")
        for v in n.inputs:
            if v and v in data and v not in (x, kv) and (cv.producer.get(v) is None or
                                               cv.producer[v].index not in region):
                raise NotFound(f"it reads {v!r}, an activation other than its input")
    todo_n = [cv.producer[v] for i in region for v in byindex[i].inputs
              if v and v not in data and v in cv.producer]
    while todo_n:               # constants only the region reads (a table, a mask)
        n = todo_n.pop()
        if n.index in region or any(y in data for y in n.outputs):
            continue
        if all(u is not None and u.index in region
               for y in n.outputs if y for u in _consumers(cv, y)):
            region.add(n.index)
            todo_n.extend(cv.producer[v] for v in n.inputs if v and v in cv.producer)
    nodes = sorted((byindex[i] for i in region), key=lambda n: pos[n.index])
    return Region(x, end, scores, av, inproj, proj, biases, nodes, kv, kv_proj)


def find(cv: Context, plan: Plan, order: Sequence[Node]) -> None:
    """Every attention of the graph, as one layer each (or, where its core is there but its
    region is not, one error at its weighted sum)."""
    cores = [n for n in order if n.op_type == "Softmax" or
             (n.op_type == "Attention" and n.domain in ("", "ai.onnx"))]
    if not cores:
        return
    data = flows(cv, order)
    pos = {n.index: i for i, n in enumerate(order)}
    byindex = {n.index: n for n in order}
    for node in cores:
        if node.index in plan.skip or node.index in plan.special:
            continue
        try:
            region = _delimit(cv, node, data, pos, byindex, plan)
        except NotFound as exc:
            _refuse_core(cv, plan, node, data, byindex, str(exc))
            continue
        if region is None or any(n.index in plan.skip or n.index in plan.special
                                 for n in region.nodes):
            continue
        plan.internal(*[n for n in region.nodes if n is not region.end])
        plan.special[region.end.index] = partial(layer, region=region)


def _refuse_core(cv: Context, plan: Plan, node: Node, data: set[str], byindex: dict[int, Node],
                 why: str) -> None:
    """An attention archcalc cannot delimit: one error at its weighted sum, which its scores
    and the views into heads before it do not repeat."""
    core = _core(cv, node, data)
    assert core is not None
    scores, av, qkv, core_nodes, _ = core
    inner = {n.index for n in core_nodes}
    for v in qkv:
        w, _, _ = _up(cv, v, TO_CORE - ARITH, data, None)
        inner |= w
    members = [n for n in core_nodes if n is not av]
    for i in inner - {n.index for n in core_nodes}:
        n = byindex[i]
        if all(u is not None and (u.index in inner) for y in n.outputs if y
               for u in _consumers(cv, y)):
            members.append(n)
    if any(n.index in plan.skip or n.index in plan.special for n in members + [av]):
        return
    plan.internal(*members)
    what = "an Attention node" if av.op_type == "Attention" else \
        f"an attention ({scores.op_type} → Softmax → {av.op_type})"
    plan.special[av.index] = partial(_refuse, why=f"{what} archcalc cannot read as one layer: "
                                                  f"{why}")


def _refuse(cv: Context, node: Node, why: str) -> None:
    raise Unsupported(why)


def layer(cv: Context, node: Node, region: Region) -> None:
    """The attention layer of ``region`` (made at its end node). One archcalc cannot read is an
    error there; with ``--unknown passthrough`` an ``opaque`` layer from its input to its output
    (laid out as the attention's would be, where archcalc got that far; else as its input)."""
    a = cv.act(region.x)
    ins = [a] if region.kv is None else [a, cv.act(region.kv)]
    env: dict[str, V] = {}
    try:
        _run(cv, region, ins, env)
        raw = _attributes(Scope(cv, env), region, [b.vol for b in ins])
        d = raw.pop("_d", None)
        laid = _out_layout(cv, region, a, env, d)
        rank = len(env[node.outputs[0]].dims) if laid is None else None
        cv.emit(node, "attention", raw, ins, rank=rank, layout=laid)
    except Unsupported as exc:
        if cv.unknown != "passthrough":
            raise
        cv.warn(node, f"archcalc cannot read the attention it ends: {exc.what}; kept as an "
                      "opaque layer (not counted)",
                "docs/onnx-import.md, \"Transformers\", lists the forms archcalc reads")
        out: Layout | Keep | None = KEEP
        opaque: dict[str, Any] = {"onnx_op": "attention"}
        end = env.get(node.outputs[0])
        if end is not None:
            try:
                out = _out_layout(cv, region, a, env, end.dims[-1] if end.dims else None)
                if out is not None and out.dims[out.chan] != a.vol[2]:
                    opaque["output"] = [a.vol[0], a.vol[1], out.dims[out.chan]]
            except Unsupported:
                out = KEEP
        cv.emit(node, "opaque", opaque, ins, layout=out)


def _run(cv: Context, region: Region, ins: list[Act], env: dict[str, V]) -> None:
    """The region's nodes on dimensions, from its inputs ``ins`` (of ``region.x`` and
    ``region.kv``), into ``env``."""
    for name, a in zip((region.x, region.kv), ins):
        assert name is not None
        src = a.layout or lay.classic(a.onnx_dims(cv.batch), cv.batch)
        env[name] = T(src.dims, src.place_array(), src.chan, True)

    def get(name: str) -> V | None:
        if not name:
            return None
        if name in env:
            return env[name]
        t = cv.g.initializers.get(name)
        if t is not None and t.dtype in FLOATS and math.prod(t.dims) > 1 and name not in cv.vals:
            return Const(t.dims, None, param=True)     # a weight: its values are not needed
        k = cv.const(name)
        if k is not None:
            return k
        raise Unsupported(f"it reads {name!r}, which archcalc cannot follow into an attention")
    for n in region.nodes:
        outs = evaluate(n, [get(x) for x in n.inputs])
        for y, o in zip(n.outputs, outs):
            if y:
                env[y] = o


def _out_layout(cv: Context, region: Region, a: Act, env: dict[str, V], d: int | None
                ) -> Layout | None:
    """The output's layout: the input's (its views undone: Swin's windows, MaxViT's), or that
    of the tokens the projection reads (a flatten into tokens inside the region): each output
    token is its query's. ``d``: the output's channels where they are not the input's. None:
    [N, C, H, W], as an input [N, C, H, W] or [N, C] (a vector, a map of 1×1)."""
    src = a.layout or lay.classic(a.onnx_dims(cv.batch), cv.batch)
    end = env[region.end.outputs[0]]
    h, w, c = a.vol
    if a.layout is None and end.dims == (cv.batch, d or c, h, w):
        return None
    fed = placed(env[region.inproj[0].inputs[0]])
    for i, cand in enumerate((src, fed)):
        if cand is None:
            continue
        cand = cand if d is None else cand.with_channels(d)
        if cand.dims == end.dims:
            if a.layout is None and i == 0:         # [N, C, H, W] (or [N, C]) again
                return None
            return lay.normalized(cand)
    raise Unsupported(f"an attention whose output {list(end.dims)} is laid out neither as its "
                      f"input {list(src.dims)} nor as the tokens its projection reads")


layer.layout_aware = True           # type: ignore[attr-defined]


class Scope:
    """The converter and the values a region's evaluation gave (its own constants first: a
    weight the region alone reads through an Identity is one of them)."""

    def __init__(self, cv: Context, env: dict[str, V]):
        self.cv, self.env = cv, env

    def value(self, name: str) -> V | None:
        return self.env[name] if name in self.env else self.cv.const(name)

    def dims(self, name: str) -> tuple[int, ...] | None:
        v = self.env.get(name)
        return v.dims if v is not None else self.cv.dims(name)

    def is_param(self, name: str) -> bool:
        v = self.env.get(name)
        return v.param if isinstance(v, Const) else self.cv.is_param(name)


def _attributes(sc: Scope, r: Region, vols: list[tuple[int, int, int]]) -> dict[str, Any]:
    cv, env = sc.cv, sc.env
    h, w, c = vols[0]
    ck = vols[-1][2]            # the keys' and values' channels (cross-attention: the second's)
    # the projections: D, the biases
    units, biased = [], []
    for p in r.inproj:
        f_in, f_out = _features(sc, p)
        width = ck if p in r.kv_proj else c
        if f_in != width:
            raise Unsupported(f"an input projection for {counted(f_in, 'channel')} on an input of "
                              f"{width}")
        units.append(f_out)
        biased.append(_has_bias(sc, p))
    total = sum(units)
    if total % 3 or (len(units) == 3 and len(set(units)) > 1):
        raise Unsupported(f"input projections of {units} units (archcalc's attention projects to "
                          "queries, keys and values of one width)")
    d = total // 3
    if len(set(biased)) > 1:
        raise Unsupported("input projections of which some have biases and some not")
    # the head size QKᵀ contracts, the tokens a query attends to
    q, k = env[r.scores.inputs[0]], env[r.scores.inputs[1]]
    scores = env[r.scores.outputs[0]]
    if r.scores.op_type == "Attention":
        if len(q.dims) == 4:
            hd, g = q.dims[-1], k.dims[-2]
        else:
            hd, g = q.dims[-1] // r.scores.attrs.get("q_num_heads", 1), k.dims[1]
        heads_axis_dims: tuple[int, ...] = (1, d // hd if hd else 1, q.dims[-2], g)
    elif r.scores.op_type == "Einsum":
        eq = str(r.scores.attrs.get("equation", "")).replace(" ", "")
        lhs, rhs = eq.split("->")
        t1, t2 = lhs.split(",")
        gone = [letter for letter in t1 if letter in t2 and letter not in rhs]
        hd = math.prod(q.dims[t1.index(letter)] for letter in gone)
        g = scores.dims[-1]
        heads_axis_dims = scores.dims
    else:
        hd, g = q.dims[-1], scores.dims[-1]
        heads_axis_dims = scores.dims
    if not hd or d % hd:
        raise Unsupported(f"heads of {hd} channels that do not divide the {d} of the projection")
    heads = d // hd
    raw: dict[str, Any] = {"heads": heads}
    if d != c:
        raw["head_dim"] = hd
    raw["qkv_bias"] = biased[0]
    if r.proj is not None:
        f_in, f_out = _features(sc, r.proj)
        if f_in != d or f_out != c:
            raise Unsupported(f"an output projection of {f_in} to {f_out} (archcalc's maps the "
                              f"{d} channels of the heads back to the input's {c})")
        raw["proj_bias"] = _has_bias(sc, r.proj)
    else:
        raw["proj"] = False
        raw["_d"] = d
    if r.kv is not None:
        hk, wk = vols[1][:2]
        if g != hk * wk:
            raise Unsupported(f"a cross-attention of each query to {counted(g, 'key')} of the "
                              f"{hk * wk:,} of its second input")
        if ck != c:
            raw["kv_channels"] = ck
    # which tokens a query attends to: the places the projection reads, in runs of g
    t = env[r.inproj[0].inputs[0]]
    placed_in = placed(t)
    if placed_in is not None and placed_in.chan != len(placed_in.dims) - 1 and \
            placed_in.dims[-1] == 1 == c:
        placed_in = lay.unit_channels_last(placed_in)      # (one channel: any axis of 1)
    if placed_in is None or placed_in.chan != len(placed_in.dims) - 1:
        raise Unsupported("an attention whose tokens archcalc cannot follow from its input to "
                          "its projection")
    found = ("all", (h, w), (0, 0)) if r.kv is not None else \
        lay.groups(placed_in.place_array(), g, (h, w))
    if found is None:
        raise Unsupported(f"an attention of each token to {counted(g, 'token')} that are neither "
                          f"all the {h * w:,} of the input, nor a window, nor a grid cell (or a "
                          "padded map, which archcalc's attention does not pad)")
    kind, size, shift = found
    # the biases added to the scores: a relative-position bias (per head, the same for every
    # window), or a mask (the same for every head): not parameters
    relpos = False
    for _, operand, bias in r.biases:
        b = sc.value(bias)
        if b is None:
            continue
        sd = env[operand].dims if operand is not None else heads_axis_dims
        bd = (1,) * max(len(sd) - len(b.dims), 0) + tuple(b.dims)
        if len(bd) < 3 or bd[-1] != g or bd[-2] != g:
            if math.prod(bd) == 1:
                continue
            raise Unsupported(f"a bias of shape {list(b.dims)} added to attention scores of "
                              f"{list(sd)}")
        if bd[-3] == heads and all(x == 1 for x in bd[:-3]) and \
                (heads > 1 or _learned(cv, r, bias) or _gathered_table(cv, bias)):
            relpos = True
        elif bd[-3] != 1 or (all(x == 1 for x in bd[:-3]) and _learned(cv, r, bias)):
            raise Unsupported(f"a bias of shape {list(b.dims)} added to attention scores of "
                              f"{list(sd)} (archcalc reads a relative-position bias, one per head, "
                              "and masks)")
    if r.end.doc == GRID_DOC and kind in ("window", "all") and not any(shift) and \
            all(m in (1, n) for m, n in zip(size, (h, w))):
        kind = "grid"       # (cells of one place per axis or of all: windows too; named so)
    if kind == "window":
        raw["window"] = list(size)
        if any(shift):
            raw["shift"] = list(shift)
    elif kind == "grid":
        raw["grid"] = list(size)
    elif relpos:
        raw["window"] = [h, w]
    if relpos:
        raw["relpos"] = True
        m = raw.get("window") or raw.get("grid")
        assert m is not None
        table = (2 * m[0] - 1) * (2 * m[1] - 1)
        for n in r.nodes:
            if n.op_type == "Gather" and n.inputs[0] in cv.g.initializers:
                td = cv.g.initializers[n.inputs[0]].dims
                if len(td) == 2 and td[1] == heads and td[0] != table:
                    raise Unsupported(f"a relative-position table of {td[0]} offsets for a "
                                      f"{m[0]}×{m[1]} window (archcalc's has (2M − 1)² = "
                                      f"{table})")
    _unaccounted(sc, r)
    return raw


def _features(sc: Scope, p: Node) -> tuple[int, int]:
    w = sc.dims(p.inputs[1]) or ()
    if len(w) != 2:
        raise Unsupported(f"a projection whose weight {p.inputs[1]!r} is not 2-D")
    if p.op_type == "Gemm" and p.attrs.get("transB", 0):
        return w[1], w[0]
    return w[0], w[1]


def _has_bias(sc: Scope, p: Node) -> bool:
    if p.op_type == "Gemm":
        return len(p.inputs) > 2 and bool(p.inputs[2])
    users = sc.cv.consumers.get(p.outputs[0], [])
    if len(users) != 1 or users[0] is None or users[0].op_type != "Add":
        return False
    other = [x for x in users[0].inputs if x != p.outputs[0]]
    return len(other) == 1 and (sc.is_param(other[0]) or _part_of_weight(sc.cv, other[0]))


def _part_of_weight(cv: Context, value: str) -> bool:
    """Whether ``value`` is a float initializer, or a view, a Slice or a part of a Split of one
    (a bias of one projection cut from PyTorch's ``in_proj_bias``, as for cross-attention)."""
    while value:
        t = cv.g.initializers.get(value)
        if t is not None:
            return t.dtype in FLOATS
        node = cv.producer.get(value)
        if node is None or node.op_type not in ("Slice", "Split", "Identity", "Cast", "Reshape",
                                                "Unsqueeze", "Squeeze", "Transpose"):
            return False
        value = node.inputs[0]
    return False


def _learned(cv: Context, r: Region, value: str) -> bool:
    """Whether ``value`` comes from a float initializer of more than one element."""
    todo, seen = [value], set()
    while todo:
        v = todo.pop()
        if v in seen or not v:
            continue
        seen.add(v)
        if v in cv.g.initializers:
            t = cv.g.initializers[v]
            if t.dtype in FLOATS and math.prod(t.dims) > 1:
                return True
            continue
        p = cv.producer.get(v)
        if p is not None and p.op_type not in ("Shape", "Size", "ConstantOfShape"):
            todo.extend(p.inputs)
    return False


def _gathered_table(cv: Context, value: str) -> bool:
    """Whether ``value`` is gathered from a 2-D float initializer (a relative-position bias
    table [offsets, heads], however few its values: a window of one place has one offset)."""
    todo, seen = [value], set()
    while todo:
        v = todo.pop()
        if v in seen or not v:
            continue
        seen.add(v)
        p = cv.producer.get(v)
        if p is None:
            continue
        if p.op_type == "Gather":
            t = cv.g.initializers.get(p.inputs[0])
            if t is not None and t.dtype in FLOATS and len(t.dims) == 2:
                return True
        elif p.op_type not in ("Shape", "Size", "ConstantOfShape"):
            todo.extend(p.inputs)
    return False


def _unaccounted(sc: Scope, r: Region) -> None:
    """A learned tensor the region applies to its activations that is none of the attention's
    own (a norm of the queries, a learned temperature): its parameters would go uncounted."""
    cv, env = sc.cv, sc.env
    known: set[str] = set()
    for p in [*r.inproj, *([r.proj] if r.proj is not None else [])]:
        known.update(p.inputs[1:])
        users = cv.consumers.get(p.outputs[0], [])
        if len(users) == 1 and users[0] is not None and users[0].op_type == "Add":
            known.update(users[0].inputs)
    known.update(b for _, _, b in r.biases)
    for n in r.nodes:
        ins = [env.get(x) for x in n.inputs if x]
        if not any(isinstance(v, T) and v.data for v in ins):
            continue
        for x in n.inputs:
            if not x or x in known or isinstance(env.get(x), T):
                continue
            k = sc.value(x)
            if isinstance(k, Const) and k.param and math.prod(k.dims) > 1 and \
                    _learned(cv, r, x):
                raise Unsupported(f"an attention that applies a learned tensor {x!r} of shape "
                                  f"{list(k.dims)} ({n.op_type}) archcalc's attention does not "
                                  "have")
