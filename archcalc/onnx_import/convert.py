"""An ONNX graph → archcalc's own layers (a :class:`~archcalc.graph.Network`).

Every node becomes a layer of one of archcalc's op kinds, or is folded away:
  * constant subgraphs that only compute shapes (Shape → Gather → Unsqueeze → Concat → Reshape,
    as exporters emit them) are evaluated (:mod:`.fold`), on small integer lists;
  * patterns that are one layer in a framework become one layer: an attention's projections,
    heads, scores, softmax and weighted sum (:mod:`.attention`), Mul(x, Sigmoid(x)) is SiLU,
    Mul(x, HardSigmoid(x)) hard swish, GELU written out (Erf or Tanh), MatMul + Add a fully
    connected or linear layer, Reshape → Transpose → Reshape a channel shuffle, Reshape →
    InstanceNormalization → Reshape → Mul → Add a group norm, Transpose → LayerNormalization
    → Transpose a layer norm over the channels, a layer norm written out, Swin's patch merging
    (:mod:`.patterns`), a Flatten that feeds a fully connected layer part of it;
  * views that change nothing archcalc sees (Identity, Cast, [N, C] ↔ [N, C, 1, 1]) are
    aliases; views that move the channels whole (to a token sequence, channels last, windows)
    lay the activation out anew (:mod:`.layout`);
  * every other node goes to the handler of its op (:mod:`.handlers`), which emits a layer
    through the :class:`Converter` (seen as a :class:`~.context.Context`).
The analysis then computes every figure from the layers' attributes, as for a spec: weights are
never read, only the dimensions of the initializers a layer uses (a conv's filters, kernel and
input channels come from its weight's shape). Values are decoded only for small tensors (a
Reshape's target, a Resize's scales, a Clip's bounds).

docs/onnx-import.md lists what is read and how.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..errors import OPTIONS, ArchcalcError, Diagnostic, SourcePos, error
from ..graph import Builder, Network
from ..ops import OPS, At, Vol
from ..ops.values import channels_first_warning
from . import dims, fold, infer, wire
from .handlers import HANDLERS, LAYOUT_OPS
from .layout import Layout
from .names import scope_modules, short_name, torch_scope_name
from .patterns import Plan, find_patterns
from .values import (
    FAILED,
    INTERNAL,
    KEEP,
    Act,
    Const,
    Keep,
    Scalar,
    Skipped,
    Unsupported,
    Value,
    constant,
)

NEWEST_KNOWN_OPSET = 20          # checked against the installed onnx only above this

VIEW_OPS = ("Unsqueeze", "Squeeze", "Reshape", "Identity", "Cast", "Transpose")
# the inputs of an op that hold weights (a structure-only export gives them as graph inputs)
WEIGHT_SLOTS: Mapping[str, tuple[int, ...]] = {
    "Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (1, 2), "MatMul": (1,),
    "BatchNormalization": (1, 2, 3, 4), "InstanceNormalization": (1, 2),
    "LayerNormalization": (1, 2), "GroupNormalization": (1, 2), "PRelu": (1,)}


class Converter:
    """One model's conversion (:meth:`convert`). Handlers and patterns see it as a
    :class:`~.context.Context`."""
    # set by convert(), before any node is visited
    b: Builder
    vols: dict[str, Vol]                              # layer name → its output volume
    consumers: dict[str, list[wire.Node | None]]      # value → its readers (None: an output)
    producer: dict[str, wire.Node]                    # value → the node that gives it
    parents: set[str]          # module paths that hold modules (dynamo metadata)
    plan: Plan                 # the patterns found
    image_name: str
    rounding: str
    batch: int
    fixed_size: tuple[int | None, int | None] | None    # the image's H, W as the model fixes them

    def __init__(self, model: wire.Model, path: str, input: Vol | None = None,
                 unknown: str = "error", name: str | None = None, res: int | None = None):
        self.res = res
        self.m, self.path = model, path
        if model.graph is None:
            raise self.fail(f"{self.path} holds no graph: it is not an ONNX model",
                            hint="give a .onnx file that PyTorch, TensorFlow or another tool "
                                 "exported")
        self.g: wire.Graph = model.graph
        self.opset = model.opsets.get("", model.opsets.get("ai.onnx", 0))
        self.unknown = unknown
        self.given_input = input
        # archcalc's exporter names the graph after the network (export → import keeps it);
        # another tool's graph name says nothing (PyTorch's is always main_graph): the file's
        self.name = name or (self.g.name if model.producer.split(" ")[0] == "archcalc"
                             and self.g.name.strip() else
                             os.path.splitext(os.path.basename(path))[0])
        self.vals: dict[str, Value] = {}         # ONNX value name → Act | Const | FAILED
        self.diags: list[Diagnostic] = []
        # op type (or a node's own problem) → [(node, why)]
        self.unsupported: dict[str, list[tuple[wire.Node, str]]] = {}
        self.names: set[str] = set()
        self.inferred: dict[str, list[int | None]] | None = None
        self.layout_ok = False     # whether the node in hand reads activations in any layout
        # what a failure stops: a FAILED value → the index of the node whose failure it
        # follows from (the root cause); a root → the nodes it leaves unconverted; a root → its
        # diagnostics (an error raised while converting it)
        self.cause: dict[str, int] = {}
        self.skipped: dict[int, set[int]] = {}
        self.root_diags: dict[int, list[Diagnostic]] = {}

    # -- places and errors ------------------------------------------------------------------

    def pos(self, node: wire.Node | None = None) -> SourcePos:
        """The model file: a layer's diagnostics name the layer, and the importer's own name
        the ONNX node in their message (JSON's "file" stays a path)."""
        return SourcePos(self.path)

    @staticmethod
    def node_label(node: wire.Node) -> str:
        return f"node {node.name or node.outputs[0]!r} ({node.op_type})"

    def fail(self, msg: str, hint: str | None = None) -> ArchcalcError:
        return error(msg, SourcePos(self.path), hint=hint, kind="usage")

    # -- values ------------------------------------------------------------------------------

    def const(self, name: str) -> Const | None:
        """The value of ``name`` where it is a known constant (a Constant node, a folded
        subgraph, or a small initializer), else None."""
        if not name:
            return None
        v = self.vals.get(name)
        if isinstance(v, Const):
            return v
        if v is None and name in self.g.initializers:
            t = self.g.initializers[name]
            c = Const(t.dims, t.values(), param=True)
            self.vals[name] = c
            return c
        return None

    def dims(self, name: str) -> tuple[int, ...] | None:
        """The dimensions of an initializer or a constant (a weight's shape), without reading
        its values."""
        if name in self.g.initializers:
            return self.g.initializers[name].dims
        v = self.vals.get(name)
        return v.dims if isinstance(v, Const) else None

    def is_param(self, name: str) -> bool:
        """An initializer, or one reshaped or transposed (a weight)."""
        if name in self.g.initializers:
            return True
        v = self.vals.get(name)
        return isinstance(v, Const) and v.param

    def act(self, name: str) -> Act:
        v = self.vals.get(name)
        if isinstance(v, Act):
            if v.layout is not None and not self.layout_ok:
                raise Unsupported(f"its input is laid out as {v.layout.describe()}; archcalc "
                                  "reads this op on [N, C, H, W] and [N, C] only")
            return v
        if v is FAILED:                       # its producer's error says why
            raise Skipped(name)
        if v is INTERNAL:
            raise Unsupported(f"it reads {name!r}, a value inside a pattern archcalc folded")
        if name in self.g.initializers or isinstance(v, Const):
            raise Unsupported("a constant where archcalc expects an activation")
        raise Unsupported(f"it reads {name!r}, which no node produces")

    def scalar(self, node: wire.Node, i: int, attr: str | None,
               default: Scalar | None) -> Scalar | None:
        """Input ``i`` as a constant scalar (opset ≥ 11 style), else attribute ``attr``."""
        if len(node.inputs) > i and node.inputs[i]:
            c = self.const(node.inputs[i])
            if c is None or c.scalar is None:
                raise Unsupported(f"input {i + 1} is not a constant scalar")
            return c.scalar
        if attr is not None and attr in node.attrs:
            value: Scalar = node.attrs[attr]        # (a float or int attribute, by the schema)
            return value
        return default

    def ints(self, node: wire.Node, i: int, attr: str | None) -> list[int] | None:
        """Input ``i`` as constant integers (opset ≥ 11 style), else attribute ``attr``."""
        if len(node.inputs) > i and node.inputs[i]:
            c = self.const(node.inputs[i])
            if c is None or c.values is None:
                raise Unsupported(f"input {i + 1} is not a constant")
            return [int(v) for v in c.values]
        if attr is not None and attr in node.attrs:
            return list(node.attrs[attr])
        return None

    # -- emitting layers ---------------------------------------------------------------------

    def layer_name(self, node: wire.Node) -> str | None:
        scope = node.meta.get("namespace") if not node.name.startswith("/") else None
        base = torch_scope_name(scope, self.parents) if scope else None
        if not base:
            base = short_name(node.name, node.op_type) if node.name else \
                (node.outputs[0] if node.outputs and not node.outputs[0].isdigit() else "")
        if not base:
            return None
        name, n = base, 0
        while name in self.names or name == "input":    # a second call: _1, as PyTorch's
            n += 1
            name = f"{base}_{n}"
        return name

    def source(self, a: Act, op: str) -> str:
        """The layer a reader of ``a`` reads: a pending flatten becomes a layer, unless the
        reader is a fully connected layer (which flattens its input itself)."""
        if a.flat is None or op == "fc":
            return a.layer
        name = a.flat
        if name not in self.b.names:
            self.b.add("flatten", {}, self.b.names[a.layer].pos, name=name, inputs=[a.layer])
            self.names.add(name)
            self.vols[name] = (1, 1, a.vol[2])
        return name

    def emit(self, node: wire.Node, op: str, raw: dict[str, Any], inputs: list[Act],
             rank: int | None = None, out: int = 0, named: wire.Node | None = None,
             layout: Layout | Keep | None = KEEP) -> Act:
        """Add a layer for ``node`` (named after ``named`` where a pattern's layer takes the
        name of its last node); its output is ``node``'s output ``out``. ``layout``: the
        output's (None: [N, C, H, W] or [N, C]); by default the first input's, with the layer's
        channels, where the layer keeps its places."""
        srcs = [self.source(a, op) for a in inputs]
        name = self.layer_name(named or node)
        layer = self.b.add(op, raw, self.pos(node), name=name, inputs=srcs)
        self.names.add(layer.name)
        ins = [self.vols[s] for s in srcs]
        vol = OPS[layer.op].shape(layer.attrs, ins, At(layer.name, layer.pos, tuple(srcs),
                                                       self.rounding))
        self.vols[layer.name] = vol
        if isinstance(layout, Keep):
            first = inputs[0].layout if inputs else None
            if first is not None and vol[:2] != inputs[0].vol[:2]:
                raise Unsupported(f"a {op} that changes the places of an input laid out as "
                                  f"{first.describe()}")
            layout = first.with_channels(vol[2]) if first is not None else None
        if rank is None:
            rank = len(layout.dims) if layout is not None else max(a.rank for a in inputs)
        act = Act(layer.name, vol, rank, layout=layout)
        self.vals[node.outputs[out]] = act
        return act

    def emit_split(self, node: wire.Node, a: Act, sizes: list[int]) -> None:
        """Add a split layer for ``node`` (archcalc makes it one layer per part): its outputs
        are the parts."""
        name = self.layer_name(node)
        src = self.source(a, "split")
        self.b.add("split", {"sizes": sizes}, self.pos(node), name=name, inputs=[src])
        full = name if name is not None else list(self.b.splits)[-1]
        for y, part, size in zip(node.outputs, self.b.splits[full], sizes):
            self.names.add(part)
            vol = (a.vol[0], a.vol[1], size)
            self.vols[part] = vol
            self.vals[y] = Act(part, vol, a.rank)

    def alias(self, node: wire.Node, a: Act, rank: int | None = None) -> None:
        self.vals[node.outputs[0]] = a if rank is None else Act(a.layer, a.vol, rank, a.flat)

    def warn(self, node: wire.Node, message: str, hint: str | None = None) -> None:
        """A warning about ``node``, reported with the model's."""
        self.diags.append(Diagnostic("warning", f"{self.node_label(node)}: {message}",
                                     self.pos(node), hint))

    def take_name(self, name: str) -> None:
        """Mark ``name`` as a layer's (a pending flatten's: made a layer only where read)."""
        self.names.add(name)

    # -- the walk ----------------------------------------------------------------------------

    def convert(self) -> Network:
        g = self.g
        self.check_opset()
        order = self.order()
        self.parents = set()
        for node in order:
            mods = scope_modules(node.meta.get("namespace", ""))
            self.parents.update(m for m in mods[:-1] if m)
        image = self.image_input()
        self.image_name = image.name
        self.rounding = "floor"       # ONNX's rule; ceil_mode is a layer's own rounding
        vol = self.input_volume(image)
        self.b = Builder(self.name, vol, SourcePos(self.path))
        self.vols = {"input": vol}
        self.vals[image.name] = Act("input", vol, 4)
        self.names.add("input")
        self.consumers = {}
        self.producer = {}
        for node in order:
            for x in node.inputs:
                if x:
                    self.consumers.setdefault(x, []).append(node)
            for y in node.outputs:
                self.producer[y] = node
        for o in g.outputs:
            self.consumers.setdefault(o.name, []).append(None)    # a graph output is read
        self.plan = find_patterns(self, order)
        for node in order:
            self.visit(node)
        self.report_unsupported(order)
        if any(d.severity == "error" for d in self.diags):
            raise ArchcalcError(self.diags, kind="spec")
        outputs = self.outputs()
        if outputs == [layer.name for layer in self.b.layers if layer.op != "input"
                       and not self.b.consumers[layer.name]]:
            outputs = []                         # the default: what nothing reads
        self.b.outputs = outputs or None
        self.b.warnings = list(self.diags) + self.b.warnings
        return self.b.build(self.rounding, self.path, "onnx", origin={
            "opset": self.opset, "producer": self.m.producer, "path": self.path,
            "node_layers": self.node_layers(order), "input_name": image.name,
            "fixed_size": self.fixed_size})

    def node_layers(self, order: list[wire.Node]) -> dict[str, str]:
        """Each ONNX node's name, and its outputs' names (onnxruntime names fused nodes after
        either) → the layer it is part of (a pattern's inner nodes and a flatten a fully
        connected layer absorbed: the layer they feed), for mapping what a profiler times back
        to layers. Nodes folded into constants have none."""
        out: dict[str, str] = {}
        for node in reversed(order):
            v = next((self.vals.get(y) for y in node.outputs if y in self.vals), None)
            if isinstance(v, Act) and (v.flat is None or v.flat in self.b.names):
                layer = v.flat or v.layer
                if layer != "input":
                    out[node.name] = layer
                continue
            if v is INTERNAL or isinstance(v, Act):
                for user in self.consumers.get(node.outputs[0], ()):
                    if user is not None and user.name in out:
                        out[node.name] = out[user.name]
                        break
        for node in order:
            if node.name in out:
                for y in node.outputs:
                    out.setdefault(y, out[node.name])
        return out

    def skip(self, node: wire.Node, value: str, counted: bool = True) -> None:
        """``node`` is not converted: it reads ``value``, the output of a node that failed. It
        is counted with that failure's root cause (where ``counted``), not reported."""
        root = self.cause.get(value)
        for y in node.outputs:
            self.vals[y] = FAILED
            if root is not None:
                self.cause[y] = root
        if root is not None and counted:
            self.skipped.setdefault(root, set()).add(node.index)

    def failed(self, node: wire.Node) -> None:
        """``node`` could not be converted (its error is reported): a root cause."""
        for y in node.outputs:
            self.vals[y] = FAILED
            self.cause[y] = node.index

    def visit(self, node: wire.Node) -> None:
        self.layout_ok = False
        if node.index in self.plan.skip:
            src, check = self.plan.skip[node.index]
            if src is not None and self.vals.get(src) is FAILED:
                self.skip(node, src)          # the pattern's first node failed: said there
                return
            if check is not None:
                try:
                    check(node)
                except Skipped as exc:
                    self.skip(node, exc.value)
                    return
                except Unsupported as exc:
                    self.unsupported_node(node, exc)
                    return
            v = self.vals.get(src) if src else INTERNAL
            for y in node.outputs:
                self.vals[y] = v if v is not None else FAILED
            return
        bad = next((x for x in node.inputs if x and self.vals.get(x) is FAILED), None)
        if bad is not None:
            what = self.unknown_op(node)
            self.skip(node, bad, counted=what is None)
            if what is not None:              # still named: every node of an unknown op
                self.unsupported.setdefault(what, []).append((node, what))
            return
        try:
            if self.fold_constants(node):
                return
            special = self.plan.special.get(node.index)
            self.layout_ok = node.op_type in LAYOUT_OPS if special is None else \
                getattr(getattr(special, "func", special), "layout_aware", False)
            if special is not None:
                special(self, node)
            else:
                what = self.unknown_op(node)
                handler = HANDLERS.get(node.op_type)
                if what is not None or handler is None:     # (shape arithmetic on tensors)
                    raise Unsupported(what or node.op_type, op=True)
                handler(self, node)
        except Skipped as exc:               # a pattern whose input failed
            self.skip(node, exc.value)
        except Unsupported as exc:
            self.unsupported_node(node, exc)
        except ArchcalcError as exc:
            self.diags.extend(exc.diagnostics)
            self.root_diags[node.index] = list(exc.diagnostics)
            self.failed(node)
        else:
            for i, y in enumerate(node.outputs[1:], 1):
                if y and y not in self.vals and self.consumers.get(y):
                    self.unsupported_node(node, Unsupported(
                        f"its output {i + 1} ({y!r}), which archcalc does not follow, is read"))
                    return

    @staticmethod
    def unknown_op(node: wire.Node) -> str | None:
        """The op's name (with its domain outside ONNX's own) where archcalc has no handler for
        it, else None."""
        if node.domain in ("", "ai.onnx"):
            return None if node.op_type in HANDLERS or node.op_type in fold.LIST_FOLDED or \
                fold.can_fold(node.op_type) else node.op_type
        return f"{node.domain}.{node.op_type}"

    def unsupported_node(self, node: wire.Node, exc: Unsupported) -> None:
        if self.unknown == "passthrough":
            acts = [v for x in node.inputs if x for v in [self.vals.get(x)] if isinstance(v, Act)]
            if acts and acts[0].layout is not None:
                self.passthrough_laid_out(node, acts)
                return
            if acts:
                try:
                    out = self.inferred_volume(node.outputs[0])
                    raw: dict[str, Any] = {"onnx_op": node.op_type}
                    if out is not None:
                        raw["output"] = list(out[0])
                    self.emit(node, "opaque", raw, acts,
                              rank=out[1] if out is not None else acts[0].rank)
                    return
                except Unsupported:                # (an input laid out as archcalc cannot
                    pass                           # keep through an opaque layer)
                except ArchcalcError as err:      # (one error for the node: this one)
                    self.diags.extend(err.diagnostics)
                    self.root_diags[node.index] = list(err.diagnostics)
                    self.failed(node)
                    return
        self.failed(node)
        key = exc.what if exc.op else f"\0{node.op_type}\0{exc.what}"
        self.unsupported.setdefault(key, []).append((node, exc.what))

    def passthrough_laid_out(self, node: wire.Node, acts: list[Act]) -> None:
        """An opaque layer for a node of an unknown op that reads an activation laid out other
        than [N, C, H, W] (a token sequence, channels last): its output is laid out as that
        input where ONNX shape inference gives it the same dimensions (an element-wise op);
        else the node is an error (archcalc could not follow the layers after it)."""
        first = acts[0]
        assert first.layout is not None
        if self.inferred is None:
            self.inferred_volume(node.outputs[0])
        dims = (self.inferred or {}).get(node.outputs[0])
        want = first.layout.dims
        if dims is not None and len(dims) == len(want) and \
                all(d is None or d == w for d, w in zip(dims, want)):
            self.emit(node, "opaque", {"onnx_op": node.op_type, "output": list(first.vol)},
                      acts)
            return
        self.failed(node)
        self.unsupported.setdefault(node.op_type, []).append((node, node.op_type))

    def skipped_by(self, order: list[wire.Node]) -> dict[int, set[int]]:
        """Each root cause → the nodes it leaves unconverted: those that read its outputs
        (counted as they were skipped), and the inner nodes of a pattern whose layer was
        skipped (each node of a GELU's Erf form, say)."""
        out = {root: set(nodes) for root, nodes in self.skipped.items()}
        root_of = {i: root for root, nodes in out.items() for i in nodes}
        for node in reversed(order):
            if node.index in root_of or not node.outputs or \
                    any(self.vals.get(y) is not INTERNAL for y in node.outputs):
                continue
            users = [u for y in node.outputs for u in self.consumers.get(y, ()) if u is not None]
            roots = {root_of.get(u.index) for u in users}
            if users and None not in roots:
                root = next(r for r in roots if r is not None)
                out[root].add(node.index)
                root_of[node.index] = root
        return out

    @staticmethod
    def skipped_text(n: int, several: bool) -> str:
        """"; the 10 nodes that depend on it are skipped" (nothing for none)."""
        it = "them" if several else "it"
        if n == 0:
            return ""
        if n == 1:
            return f"; the node that depends on {it} is skipped"
        return f"; the {n:,} nodes that depend on {it} are skipped"

    def report_unsupported(self, order: list[wire.Node]) -> None:
        skipped = self.skipped_by(order)
        for root, diags in self.root_diags.items():       # errors raised while converting
            n = len(skipped.get(root, ()))
            if n and diags:
                last = diags[-1]
                i = next(k for k, d in enumerate(self.diags) if d is last)
                self.diags[i] = replace(last, message=last.message + self.skipped_text(n, False))
        for key, found in self.unsupported.items():
            node = found[0][0]
            names = [n.name or n.outputs[0] for n, _ in found]
            shown = ", ".join(names[:4]) + (", …" if len(names) > 4 else "")
            count = f"{len(found)} node{'s' if len(found) > 1 else ''}: {shown}"
            after = set().union(*(skipped.get(n.index, set()) for n, _ in found))
            tail = self.skipped_text(len(after), len(found) > 1)
            hint = ("--unknown passthrough keeps such nodes as layers whose figures are not "
                    "counted; docs/onnx-import.md lists the ops archcalc reads")
            if self.unknown == "passthrough":    # (kept where they could be: these could not)
                hint = "docs/onnx-import.md lists the ops and forms archcalc reads"
            if key.startswith("\0"):            # a known op in a form archcalc cannot read
                hint = "docs/onnx-import.md lists the ops and forms archcalc reads"
                why = found[0][1]
                more = f" (and {len(found) - 1} more: {', '.join(names[1:4])}" + \
                    (", …)" if len(names) > 4 else ")") if len(found) > 1 else ""
                self.diags.append(Diagnostic("error", f"{self.node_label(node)}: archcalc cannot "
                                             f"read it: {why}{more}{tail}", self.pos(node), hint))
            else:
                self.diags.append(Diagnostic("error", f"unsupported op {key!r} ({count}){tail}",
                                             self.pos(node), hint))

    # -- model-level checks ------------------------------------------------------------------

    def check_opset(self) -> None:
        v = self.opset
        if v > NEWEST_KNOWN_OPSET:
            newest = infer.newest_opset()
            if newest is None:
                return
            if v > newest:
                raise self.fail(f"{self.path} uses ONNX opset {v}, newer than the installed onnx "
                                f"knows (opset {newest})",
                                hint="upgrade onnx (pip install -U onnx), or export the model at "
                                     f"opset {newest} or older")

    def order(self) -> list[wire.Node]:
        """The nodes in a topological order; a cycle, or an input no node, initializer or graph
        input gives, is an error."""
        g = self.g
        given = {i.name for i in g.inputs} | set(g.initializers) | {""}
        made: dict[str, wire.Node] = {}
        for n in g.nodes:
            for y in n.outputs:
                if y:
                    made[y] = n
        dangling = [(n, x) for n in g.nodes for x in n.inputs
                    if x not in given and x not in made]
        if dangling:
            n, x = dangling[0]
            more = f" (and {len(dangling) - 1} more)" if len(dangling) > 1 else ""
            raise self.fail(f"node {n.name or n.outputs[0]!r} ({n.op_type}) reads {x!r}, which no "
                            f"node, initializer or graph input gives{more}: the graph is "
                            "incomplete", hint="re-export the model; onnx.checker.check_model "
                            "names the same problem")
        indeg = {n.index: 0 for n in g.nodes}
        users: dict[str, list[wire.Node]] = {}
        for n in g.nodes:
            deps = {x for x in n.inputs if x in made}
            indeg[n.index] = len(deps)
            for x in deps:
                users.setdefault(x, []).append(n)
        ready = [n for n in g.nodes if indeg[n.index] == 0]
        out: list[wire.Node] = []
        i = 0
        while i < len(ready):
            n = ready[i]
            i += 1
            out.append(n)
            for y in set(n.outputs):
                for u in users.get(y, ()):
                    indeg[u.index] -= 1
                    if indeg[u.index] == 0:
                        ready.append(u)
        if len(out) != len(g.nodes):
            stuck = [n for n in g.nodes if indeg[n.index] > 0]
            raise self.fail(f"the graph has a cycle through {len(stuck)} nodes (first: "
                            f"{stuck[0].name or stuck[0].outputs[0]!r}, {stuck[0].op_type})",
                            hint="an ONNX graph is acyclic; re-export the model")
        seen = set(given)                 # the file's own order where it is a valid one
        for n in g.nodes:
            if any(x not in seen for x in n.inputs):
                return out
            seen.update(n.outputs)
        return list(g.nodes)

    def image_input(self) -> wire.ValueInfo:
        """The one image input. Graph inputs that only feed weight slots (a Conv's W, a
        BatchNormalization's statistics: any input after the first, or a Reshape/Unsqueeze of
        one) are weights given as inputs, as a structure-only export has them: they are taken
        as initializers of their declared shape."""
        g = self.g
        real = [i for i in g.inputs if i.name not in g.initializers]
        data_use: set[str] = set()
        for n in g.nodes:                 # any use but a weight's slot, or a view of one
            for k, x in enumerate(n.inputs):
                if n.op_type not in VIEW_OPS and k not in WEIGHT_SLOTS.get(n.op_type, ()):
                    data_use.add(x)
        for n in reversed(g.nodes):       # a view's input is data where the view's output is
            if n.op_type in VIEW_OPS and n.inputs and n.outputs[0] in data_use:
                data_use.add(n.inputs[0])
        given = list(real)
        for i in real:                    # (an input that is not 4-D is no image either)
            if (i.name not in data_use or len(i.dims or ()) != 4) and i.dims is not None and \
                    i.elem_type in wire.FLOATS:
                static = [d for d in i.dims if isinstance(d, int) and d >= 0]
                if len(static) == len(i.dims):
                    g.initializers[i.name] = wire.Tensor(i.name, tuple(static),
                                                         i.elem_type or 1, external=True)
        real = [i for i in real if i.name not in g.initializers]
        images = [i for i in real if i.dims is not None and len(i.dims) == 4
                  and i.elem_type in wire.FLOATS | {2, 3}]
        if len(images) == 1:
            return images[0]

        def shown(i: wire.ValueInfo) -> str:
            t = wire.DTYPES.get(i.elem_type, ("?",))[0]
            d = "no shape" if i.dims is None else "[" + ", ".join(
                str(x) if x is not None else "?" for x in i.dims) + "]"
            return f"{i.name!r} {t} {d}"
        found = "; ".join(shown(i) for i in (real if images else given)) or "no inputs"
        if not images:
            raise self.fail(f"{self.path} has no image input (a 4-D tensor N×C×H×W): found "
                            f"{found}", hint="archcalc reads convolutional networks with one "
                            "image input")
        raise self.fail(f"{self.path} has {len(images)} image inputs ({found}); archcalc reads "
                        "networks with one", hint="export the model with one image input")

    def input_volume(self, image: wire.ValueInfo) -> Vol:
        assert image.dims is not None           # (image_input gives a 4-D input)
        n, c, h, w = image.dims
        self.batch = n if isinstance(n, int) and n > 0 else 1
        # (H, W) as the model fixes them (None for a dynamic one): such a model takes that one
        # size along a fixed axis; None where both are dynamic
        fh, fw = (d if isinstance(d, int) and d > 0 else None for d in (h, w))
        self.fixed_size = None if fh is None and fw is None else (fh, fw)
        if self.res is not None and self.given_input is None:     # --set res=N
            if not (isinstance(c, int) and c > 0):
                raise self.fail(f"--set res gives the height and width, but {self.path}'s "
                                f"input {image.name!r} has dynamic channels",
                                hint="give the whole volume: --input 224x224x3")
            self.given_input = (self.res, self.res, c)
        if self.given_input is not None:
            gh, gw, gc = self.given_input
            if isinstance(c, int) and c > 0 and gc != c:
                raise error(f"--input gives {gc} channel{'s' if gc != 1 else ''}, but "
                            f"{self.path}'s input "
                            f"{image.name!r} has {c}", SourcePos("<options>"),
                            hint=self.channels_hint(self.given_input, c, h, w), kind="usage")
            if (fh is not None and gh != fh) or (fw is not None and gw != fw):
                opt = "--input" if self.res is None else "--set res"
                fixed = f"{h}×{w}" if fh and fw else f"{'H' if fh else 'W'} = {fh or fw}"
                keep = f"drop {opt} (the model's size is {h}x{w}x{c})" if fh and fw else \
                    f"give --input {fh or gh}x{fw or gw}x{gc}"
                raise error(f"{opt} gives {gh}×{gw}, but {self.path}'s input {image.name!r} is "
                            f"fixed at {fixed}", SourcePos("<options>"),
                            hint=f"{keep}, or re-export the model with dynamic height and width",
                            kind="usage")
            return self.given_input
        if not (isinstance(c, int) and c > 0 and isinstance(h, int) and h > 0 and
                isinstance(w, int) and w > 0):
            dyn = [name for name, d in (("channels", c), ("height", h), ("width", w))
                   if not (isinstance(d, int) and d > 0)]
            dims = "[" + ", ".join(str(x) if x is not None else "?" for x in image.dims) + "]"
            cc = c if isinstance(c, int) and c > 0 else 3
            what = " and ".join(dyn)
            what = "dynamic channels" if what == "channels" else f"a dynamic {what}"
            raise ArchcalcError(Diagnostic(
                "error", f"the input {image.name!r} has {what} (dims {dims})",
                SourcePos(self.path), f"give the size: --input 224x224x{cc} "
                "(archcalc.load(path, input=(224, 224, 3)) from Python)",
                fix={"kind": "dynamic_input", "dynamic": dyn, "fixed_size": self.fixed_size,
                     "channels": c if isinstance(c, int) and c > 0 else None}), "usage")
        if w in (1, 3, 4) and c > 4 and h > 4:      # [N, H, W, C] as TensorFlow writes it
            self.diags.append(Diagnostic(
                "warning", f"the input {image.name!r} is [{n}, {c}, {h}, {w}]: read as C = {c}, "
                f"H = {h}, W = {w}, but it looks channels-last (N, H, W, C = {w})",
                SourcePos(self.path), "archcalc reads NCHW models; export the model with "
                "channels first (tf2onnx --inputs-as-nchw)"))
        return (h, w, c)

    @staticmethod
    def channels_hint(given: Vol, c: int, h: Any, w: Any) -> str:
        """What ``--input`` should be where its channels are not the model's ``c``: the model's
        own height and width where it fixes them; else the given ones, read as PyTorch's C×H×W
        where the volume looks written so (3x64x64 → 64x64x3), never a volume whose depth is
        taken for a height."""
        if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
            return f"--input {h}x{w}x{c} (the model's size), or drop --input"
        gh, gw, gc = given
        if channels_first_warning(given, OPTIONS, "onnx") is not None:
            return (f"--input {gw}x{gc}x{c} (archcalc reads H×W×C; {gh}x{gw}x{gc} looks written "
                    "C×H×W, as PyTorch does)")
        return f"--input {gh}x{gw}x{c}"

    def inferred_volume(self, value: str) -> tuple[Vol, int] | None:
        """ONNX shape inference's volume for ``value`` (passthrough nodes only): the model's
        structure without its weights goes through onnx.shape_inference once."""
        if self.inferred is None:
            self.inferred = {}
            try:
                self.inferred = infer.infer_shapes(self.path, self.image_name,
                                                   self.given_input)
            except Exception:        # no onnx, or inference fails: the input's size is used
                self.inferred = {}
        found = self.inferred.get(value) or (self.g.value_info[value].dims
                                             if value in self.g.value_info else None)
        if not found:
            return None
        dims = [d for d in found[1:] if isinstance(d, int)]     # C, H, W (known ones)
        if len(dims) != len(found) - 1:
            return None
        if len(found) == 4:
            return (dims[1], dims[2], dims[0]), 4
        if len(found) == 2:
            return (1, 1, dims[0]), 2
        return None

    def outputs(self) -> list[str]:
        out = []
        for o in self.g.outputs:
            v = self.vals.get(o.name)
            if isinstance(v, Act):
                name = self.source(v, "")
                if name not in out and name != "input":
                    out.append(name)
        return out

    # -- constant folding --------------------------------------------------------------------

    def fold_constants(self, node: wire.Node) -> bool:
        """Evaluate a node whose inputs are all constants (shape arithmetic); True if done."""
        op = node.op_type
        if op == "Constant":
            self.vals[node.outputs[0]] = constant(node)
            return True
        if op == "Shape":
            a = self.vals.get(node.inputs[0])
            if isinstance(a, Act):
                self.vals[node.outputs[0]] = fold.shape_of(a.onnx_dims(self.batch), node)
                return True
        if not node.inputs or (op in HANDLERS and not fold.can_fold(op)):
            return False
        cs = [self.const(x) if x else None for x in node.inputs]
        if any(c is None for c, x in zip(cs, node.inputs) if x):
            return False
        result = fold.evaluate(node, cs) if fold.can_fold(op) else None
        if result is not None:
            self.vals[node.outputs[0]] = result
            return True
        try:                        # too large to fold (a mask): its dimensions, if known
            outs = dims.evaluate(node, cs)
        except Unsupported:
            return False
        param = cs[0] is not None and cs[0].param
        for y, o in zip(node.outputs, outs):
            if y:
                self.vals[y] = o if isinstance(o, Const) else Const(o.dims, None, param)
        return True
