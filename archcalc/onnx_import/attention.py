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
projections (MatMul or Gemm of a 2-D weight), and from those through views, slices, pads and
concatenations to one activation X, the layer's input; from the weighted sum it goes down
through views to the output projection and on through views to the value the rest of the network
reads (the end). The region is every node between X and the end, with the constant subgraphs
only it reads (a relative-position table, a mask). A region whose values something outside reads
is not one layer.

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

from ..ops.words import counted
from . import layout as lay
from .context import Context
from .dims import T, V, evaluate, placed
from .layout import Layout
from .values import KEEP, Act, Const, Keep, Unsupported
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


@dataclass
class Region:
    """An attention found in the graph: its input ``x``, the node whose output is the layer's
    (``end``), its core (the scores, the Softmax, the weighted sum; or an Attention node), the
    projections, the biases added to the scores (node, the scores' operand, the bias), and
    every node of it in order."""
    x: str
    end: Node
    scores: Node
    av: Node
    inproj: list[Node]
    proj: Node | None
    biases: list[tuple[Node, str | None, str]]
    nodes: list[Node] = field(default_factory=list)


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
    """The dimensions of the initializer ``value`` is (through Identity and Cast)."""
    while value:
        if value in cv.g.initializers:
            return cv.g.initializers[value].dims
        node = cv.producer.get(value)
        if node is None or node.op_type not in ("Identity", "Cast"):
            return None
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


def _up(cv: Context, start: str, ops: frozenset[str], data: set[str], stop: Any
        ) -> tuple[set[int], set[str], list[Node]]:
    """From ``start`` up through nodes of ``ops`` (arithmetic ones with one activation input):
    (the nodes walked, the values where the walk ends, the nodes ``stop`` accepts that it
    met)."""
    walked: set[int] = set()
    leaves: set[str] = set()
    stops: list[Node] = []
    todo, seen = [start], set()
    while todo:
        v = todo.pop()
        if v in seen:
            continue
        seen.add(v)
        p = cv.producer.get(v)
        if p is None:
            leaves.add(v)
            continue
        ds = [x for x in p.inputs if x and x in data]
        if stop is not None and stop(p):
            if p not in stops:
                stops.append(p)
        elif p.op_type in ops and ds and (p.op_type not in ARITH or len(ds) == 1) and \
                (p.op_type != "Concat" or len(ds) == len([x for x in p.inputs if x])):
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
        srcs = {p.inputs[0] if p is not None and p.op_type == "Slice" else None
                for p in (cv.producer.get(x) for x in node.inputs if x)}
        return len(srcs) == 1 and None not in srcs
    if node.op_type != "Slice":
        return False
    if padded:
        return True
    users = _consumers(cv, node.outputs[0])
    return len(users) == 1 and users[0] is not None and _back(cv, users[0], False)


def _delimit(cv: Context, node: Node, data: set[str], pos: dict[int, int],
             byindex: dict[int, Node]) -> Region | None:
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
    for v in qkv:
        w, leaves, stops = _up(cv, v, TO_CORE, data, is_proj)
        if leaves:
            raise NotFound("its queries, keys or values come from no projection (a MatMul or "
                           "Gemm by a weight)")
        walked |= w
        inproj += [p for p in stops if p not in inproj]
    xs: set[str] = set()
    padded = False
    for p in inproj:
        w, leaves, _ = _up(cv, p.inputs[0], TO_X, data, None)
        walked |= w
        xs |= leaves
        padded = padded or any(byindex[i].op_type == "Pad" for i in w)
    if len(xs) != 1:
        raise NotFound("its projections read different inputs (cross-attention, which archcalc "
                       "reads from specs only)" if len(xs) > 1 else "its input is not found")
    x = next(iter(xs))
    walked |= {p.index for p in inproj}
    for p in inproj:
        if p.op_type == "MatMul":
            b = _bias_after(cv, p, data)
            if b is not None:
                walked.add(b.index)
    # down from the weighted sum: views, the output projection (and its bias), views
    proj: Node | None = None
    ends: set[str] = set()
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
            if u.op_type in FROM_CORE or _back(cv, u, padded):
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
            walked.add(u.index)
            todo.extend(y for y in u.outputs if y and y in data)
    if len(ends) != 1:
        raise NotFound("its output does not come back to one value")
    end_value = next(iter(ends))
    end = cv.producer[end_value]
    # the region: what lies between x and the end, and the constants only it reads
    last = pos[end.index]
    inside: set[int] = set()
    todo_v = [x]
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
            prod = cv.producer.get(v) if v else None
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
            if v and v in data and v != x and (cv.producer.get(v) is None or
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
    return Region(x, end, scores, av, inproj, proj, biases, nodes)


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
            region = _delimit(cv, node, data, pos, byindex)
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
    env: dict[str, V] = {}
    try:
        _run(cv, region, a, env)
        raw = _attributes(Scope(cv, env), region, a.vol)
        d = raw.pop("_d", None)
        cv.emit(node, "attention", raw, [a], layout=_out_layout(cv, region, a, env, d))
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
        cv.emit(node, "opaque", opaque, [a], layout=out)


def _run(cv: Context, region: Region, a: Act, env: dict[str, V]) -> None:
    """The region's nodes on dimensions, from its input ``a``, into ``env``."""
    src = a.layout or lay.classic(a.onnx_dims(cv.batch), cv.batch)
    env[region.x] = T(src.dims, src.place_array(), src.chan, True)

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
    token is its query's. ``d``: the output's channels where they are not the input's."""
    src = a.layout or lay.classic(a.onnx_dims(cv.batch), cv.batch)
    end = env[region.end.outputs[0]]
    fed = placed(env[region.inproj[0].inputs[0]])
    for cand in (src, fed):
        if cand is None:
            continue
        cand = cand if d is None else cand.with_channels(d)
        if cand.dims == end.dims:
            return None if cand.dims == src.dims and a.layout is None else lay.normalized(cand)
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


def _attributes(sc: Scope, r: Region, vol: tuple[int, int, int]) -> dict[str, Any]:
    cv, env = sc.cv, sc.env
    h, w, c = vol
    # the projections: D, the biases
    units, biased = [], []
    for p in r.inproj:
        f_in, f_out = _features(sc, p)
        if f_in != c:
            raise Unsupported(f"an input projection for {counted(f_in, 'channel')} on an input of "
                              f"{c}")
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
    # which tokens a query attends to: the places the projection reads, in runs of g
    t = env[r.inproj[0].inputs[0]]
    placed_in = placed(t)
    if placed_in is None or placed_in.chan != len(placed_in.dims) - 1:
        raise Unsupported("an attention whose tokens archcalc cannot follow from its input to "
                          "its projection")
    found = lay.groups(placed_in.place_array(), g, (h, w))
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
        if bd[-3] == heads and all(x == 1 for x in bd[:-3]) and (heads > 1 or _learned(cv, r,
                                                                                        bias)):
            relpos = True
        elif bd[-3] != 1 or (all(x == 1 for x in bd[:-3]) and _learned(cv, r, bias)):
            raise Unsupported(f"a bias of shape {list(b.dims)} added to attention scores of "
                              f"{list(sd)} (archcalc reads a relative-position bias, one per head, "
                              "and masks)")
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
    return len(other) == 1 and sc.is_param(other[0])


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
