"""An ONNX graph → archcalc's own layers (a :class:`~archcalc.graph.Network`).

Every node becomes a layer of one of archcalc's op kinds, or is folded away:
  * constant subgraphs that only compute shapes (Shape → Gather → Unsqueeze → Concat → Reshape,
    as exporters emit them) are evaluated here, on small integer lists;
  * patterns that are one layer in a framework become one layer: Mul(x, Sigmoid(x)) is SiLU,
    Mul(x, HardSigmoid(x)) hard swish, the Erf form of GELU, MatMul + Add a fully connected
    layer, Reshape → Transpose → Reshape a channel shuffle, Reshape → InstanceNormalization →
    Reshape → Mul → Add a group norm, Transpose → LayerNormalization → Transpose a layer norm
    over the channels, a Flatten that feeds a fully connected layer part of it;
  * views that change nothing archcalc sees (Identity, Cast, [N, C] ↔ [N, C, 1, 1]) are
    aliases.
The analysis then computes every figure from the layers' attributes, as for a spec: weights are
never read, only the dimensions of the initializers a layer uses (a conv's filters, kernel and
input channels come from its weight's shape). Values are decoded only for small tensors (a
Reshape's target, a Resize's scales, a Clip's bounds).

docs/onnx-import.md lists what is read and how.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ArchcalcError, Diagnostic, SourcePos, error
from ..graph import Builder, Network
from ..ops import OPS, At, Vol
from . import wire

NEWEST_KNOWN_OPSET = 20          # checked against the installed onnx only above this


@dataclass
class Act:
    """An activation: the output of an archcalc layer as ONNX holds it, [N, C, H, W] (rank 4)
    or [N, C] (rank 2, a vector 1×1×C). ``flat`` marks a pending flatten of ``layer`` (made a
    layer only if something other than a fully connected layer reads it)."""
    layer: str
    vol: Vol
    rank: int = 4
    flat: str | None = None      # the flatten layer's name, while it is pending


@dataclass
class Const:
    """A constant: ``values`` flat (None for a weight too large to decode: only its dims are
    known); ``param`` where it is, or is reshaped from, an initializer."""
    dims: tuple
    values: list | None
    param: bool = False

    @property
    def scalar(self):
        return self.values[0] if self.values is not None and len(self.values) == 1 else None


class Failed:
    """The output of a node that could not be converted (its error is reported once)."""


FAILED = Failed()
INTERNAL = Failed()        # a value inside a pattern (read only by the pattern's own nodes)


class Unsupported(Exception):
    """A node archcalc cannot convert: ``what`` says why (the op, or the variant of it)."""

    def __init__(self, what: str, op: bool = False):
        super().__init__(what)
        self.what = what
        self.op = op                 # the op itself is unknown (grouped per op type)


VIEW_OPS = ("Unsqueeze", "Squeeze", "Reshape", "Identity", "Cast", "Transpose")
# the inputs of an op that hold weights (a structure-only export gives them as graph inputs)
WEIGHT_SLOTS = {"Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (1, 2), "MatMul": (1,),
                "BatchNormalization": (1, 2, 3, 4), "InstanceNormalization": (1, 2),
                "LayerNormalization": (1, 2), "GroupNormalization": (1, 2), "PRelu": (1,)}


def short_name(name: str, op_type: str) -> str:
    """A layer name from an ONNX node name. PyTorch's exporter writes the module path
    (``/layer1/layer1.0/conv1/Conv``); that becomes the module name (``layer1.0.conv1``): the op
    type at the end goes, and a path part that the next one repeats as its prefix
    (``layer1`` before ``layer1.0``). Other names (archcalc's own exports name each node after
    its layer) are kept as they are."""
    if not name.startswith("/"):
        return name
    parts = [p for p in name.split("/") if p]
    if len(parts) > 1 and re.fullmatch(re.escape(op_type) + r"(_\d+)?", parts[-1]):
        parts = parts[:-1]
    keep = [p for i, p in enumerate(parts)
            if not (i + 1 < len(parts) and parts[i + 1].startswith(p + "."))]
    return ".".join(keep) or name


def scope_modules(namespace: str) -> list[str]:
    """The module paths in a node's ``namespace`` metadata (PyTorch's dynamo exporter:
    ``: Net/layer1: Sequential/layer1.0: Basic/layer1.0.relu: ReLU/relu_1: aten.relu.default``
    → ["", "layer1", "layer1.0", "layer1.0.relu"]; the last part is the node's own)."""
    return [p.partition(": ")[0].strip() for p in namespace.split("/")][:-1]


def torch_scope_name(namespace: str, parents: set[str] | None = None) -> str | None:
    """A layer name from a node's ``namespace`` metadata: the innermost module's path where that
    module has no modules of its own (a leaf: ``layer1.0.relu``; ``parents`` are the paths that
    contain others, from every node of the model), else that path and the node's own name
    (``layer1.0.add`` for a functional add inside the block ``layer1.0``)."""
    parts = [p.partition(": ") for p in namespace.split("/")]
    if len(parts) < 2:
        return None
    (fx, _, _), (module, _, cls) = parts[-1], parts[-2]
    module, fx = module.strip(": "), fx.strip(": ")
    leaf = module not in parents if parents is not None else \
        cls.startswith("torch.nn.modules.") and ".container." not in cls
    if module and leaf:
        return module
    return f"{module}.{fx}" if module else fx or None


def _axes(axes, rank: int) -> list[int]:
    return sorted(a + rank if a < 0 else a for a in axes)


class Converter:
    def __init__(self, model: wire.Model, path: str, input: Vol | None = None,
                 unknown: str = "error", name: str | None = None, res: int | None = None):
        self.res = res
        self.m, self.g, self.path = model, model.graph, path
        self.opset = model.opsets.get("", model.opsets.get("ai.onnx", 0))
        self.unknown = unknown
        self.given_input = input
        self.name = name or os.path.splitext(os.path.basename(path))[0]
        self.vals: dict[str, Any] = {}           # ONNX value name → Act | Const | FAILED
        self.diags: list[Diagnostic] = []
        self.unsupported: dict[str, list] = {}   # op type → [(node, why)]
        self.skip: dict[int, tuple[str | None, Callable | None]] = {}
        self.special: dict[int, tuple] = {}      # node index → (kind, data) of a fused pattern
        self.names: set[str] = set()
        self.inferred: dict[str, list] | None = None

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

    def dims(self, name: str) -> tuple | None:
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
            return v
        if v is INTERNAL:
            raise Unsupported(f"it reads {name!r}, a value inside a pattern archcalc folded")
        if name in self.g.initializers or isinstance(v, Const):
            raise Unsupported("a constant where archcalc expects an activation")
        raise Unsupported(f"its input {name!r} is not produced by any node")

    def scalar(self, node: wire.Node, i: int, attr: str | None, default):
        """Input ``i`` as a constant scalar (opset ≥ 11 style), else attribute ``attr``."""
        if len(node.inputs) > i and node.inputs[i]:
            c = self.const(node.inputs[i])
            if c is None or c.scalar is None:
                raise Unsupported(f"input {i + 1} is not a constant scalar")
            return c.scalar
        if attr is not None and attr in node.attrs:
            return node.attrs[attr]
        return default

    def ints(self, node: wire.Node, i: int, attr: str | None) -> list | None:
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

    def emit(self, node: wire.Node, op: str, raw: dict, inputs: list[Act], rank: int | None = None,
             out: int = 0, named: wire.Node | None = None) -> Act:
        """Add a layer for ``node`` (named after ``named`` where a pattern's layer takes the
        name of its last node); its output is ``node``'s output ``out``."""
        srcs = [self.source(a, op) for a in inputs]
        name = self.layer_name(named or node)
        layer = self.b.add(op, raw, self.pos(node), name=name, inputs=srcs)
        self.names.add(layer.name)
        ins = [self.vols[s] for s in srcs]
        vol = OPS[layer.op].shape(layer.attrs, ins, At(layer.name, layer.pos, tuple(srcs),
                                                       self.rounding))
        self.vols[layer.name] = vol
        if rank is None:
            rank = max(a.rank for a in inputs)
        act = Act(layer.name, vol, rank)
        self.vals[node.outputs[out]] = act
        return act

    def alias(self, node: wire.Node, a: Act, rank: int | None = None) -> None:
        self.vals[node.outputs[0]] = a if rank is None else Act(a.layer, a.vol, rank, a.flat)

    # -- the walk ----------------------------------------------------------------------------

    def convert(self) -> Network:
        g = self.g
        if g is None:
            raise self.fail(f"{self.path} holds no graph: it is not an ONNX model",
                            hint="give a .onnx file that PyTorch, TensorFlow or another tool "
                                 "exported")
        self.check_opset()
        order = self.order()
        self.parents: set[str] = set()        # module paths that hold modules (dynamo metadata)
        for node in order:
            mods = scope_modules(node.meta.get("namespace", ""))
            self.parents.update(m for m in mods[:-1] if m)
        image = self.image_input()
        self.image_name = image.name
        self.rounding = "floor"       # ONNX's rule; ceil_mode is a layer's own rounding
        vol = self.input_volume(image)
        self.b = Builder(self.name, vol, SourcePos(self.path))
        self.vols: dict[str, Vol] = {"input": vol}
        self.vals[image.name] = Act("input", vol, 4)
        self.names.add("input")
        self.consumers: dict[str, list[wire.Node]] = {}
        self.producer: dict[str, wire.Node] = {}
        for node in order:
            for x in node.inputs:
                if x:
                    self.consumers.setdefault(x, []).append(node)
            for y in node.outputs:
                self.producer[y] = node
        for o in g.outputs:
            self.consumers.setdefault(o.name, []).append(None)    # a graph output is read
        from .patterns import find_patterns
        find_patterns(self, order)
        for node in order:
            self.visit(node)
        self.report_unsupported()
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
            "node_layers": self.node_layers(order)})

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

    def visit(self, node: wire.Node) -> None:
        if node.index in self.skip:
            src, check = self.skip[node.index]
            if src is not None and self.vals.get(src) is FAILED:
                for y in node.outputs:       # the pattern's first node failed: said there
                    self.vals[y] = FAILED
                return
            if check is not None:
                try:
                    check(node)
                except Unsupported as exc:
                    self.unsupported_node(node, exc)
                    return
            v = self.vals.get(src) if src else INTERNAL
            for y in node.outputs:
                self.vals[y] = v if v is not None else FAILED
            return
        ins = [self.vals.get(x) for x in node.inputs if x]
        if any(v is FAILED for v in ins):
            for y in node.outputs:
                self.vals[y] = FAILED
            what = self.unknown_op(node)
            if what is not None:              # still named: every node of an unknown op
                self.unsupported.setdefault(what, []).append((node, what))
            return
        try:
            if self.fold(node):
                return
            special = self.special.get(node.index)
            if special is not None:
                special[0](self, node, *special[1:])
            else:
                what = self.unknown_op(node)
                handler = HANDLERS.get(node.op_type)
                if what is not None or handler is None:     # (shape arithmetic on tensors)
                    raise Unsupported(what or node.op_type, op=True)
                handler(self, node)
        except Unsupported as exc:
            self.unsupported_node(node, exc)
        except ArchcalcError as exc:
            self.diags.extend(exc.diagnostics)
            for y in node.outputs:
                self.vals[y] = FAILED
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
            return None if node.op_type in HANDLERS or node.op_type in FOLD or \
                node.op_type in ("Constant", "Shape") else node.op_type
        return f"{node.domain}.{node.op_type}"

    def unsupported_node(self, node: wire.Node, exc: Unsupported) -> None:
        if self.unknown == "passthrough":
            acts = [v for x in node.inputs if x for v in [self.vals.get(x)] if isinstance(v, Act)]
            if acts:
                try:
                    out = self.inferred_volume(node.outputs[0])
                    raw = {"onnx_op": node.op_type}
                    if out is not None:
                        raw["output"] = list(out[0])
                    self.emit(node, "opaque", raw, acts,
                              rank=out[1] if out is not None else acts[0].rank)
                    return
                except ArchcalcError as err:      # (one error for the node: this one)
                    self.diags.extend(err.diagnostics)
                    for y in node.outputs:
                        self.vals[y] = FAILED
                    return
        for y in node.outputs:
            self.vals[y] = FAILED
        key = exc.what if exc.op else f"\0{node.op_type}\0{exc.what}"
        self.unsupported.setdefault(key, []).append((node, exc.what))

    def report_unsupported(self) -> None:
        for key, found in self.unsupported.items():
            node = found[0][0]
            names = [n.name or n.outputs[0] for n, _ in found]
            shown = ", ".join(names[:4]) + (", …" if len(names) > 4 else "")
            count = f"{len(found)} node{'s' if len(found) > 1 else ''}: {shown}"
            hint = ("--unknown passthrough keeps such nodes as layers whose figures are not "
                    "counted; docs/onnx-import.md lists the ops archcalc reads")
            if self.unknown == "passthrough":    # (kept where they could be: these could not)
                hint = "docs/onnx-import.md lists the ops and forms archcalc reads"
            if key.startswith("\0"):
                why = found[0][1]
                more = f" (and {len(found) - 1} more: {', '.join(names[1:4])}" + \
                    (", …)" if len(names) > 4 else ")") if len(found) > 1 else ""
                self.diags.append(Diagnostic("error", f"{self.node_label(node)}: archcalc cannot "
                                             f"read {why}{more}", self.pos(node), hint))
            else:
                self.diags.append(Diagnostic("error", f"unsupported op {key!r} ({count})",
                                             self.pos(node), hint))

    # -- model-level checks ------------------------------------------------------------------

    def check_opset(self) -> None:
        v = self.opset
        if v > NEWEST_KNOWN_OPSET:
            try:
                import onnx.defs
                newest = onnx.defs.onnx_opset_version()
            except ImportError:
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
                    i.elem_type in wire.FLOATS and \
                    all(isinstance(d, int) and d >= 0 for d in i.dims):
                g.initializers[i.name] = wire.Tensor(i.name, tuple(i.dims), i.elem_type or 1,
                                                     external=True)
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
        n, c, h, w = image.dims
        self.batch = n if isinstance(n, int) and n > 0 else 1
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
                            hint=f"--input {gh}x{gw}x{c}", kind="usage")
            if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0 and (gh, gw) != (h, w):
                opt = "--input" if self.res is None else "--set res"
                raise error(f"{opt} gives {gh}×{gw}, but {self.path}'s input {image.name!r} is "
                            f"fixed at {h}×{w}", SourcePos("<options>"),
                            hint=f"drop {opt} (the model's size is {h}x{w}x{c}), or re-export "
                                 "the model with dynamic height and width", kind="usage")
            return self.given_input
        dyn = [name for name, d in (("channels", c), ("height", h), ("width", w))
               if not (isinstance(d, int) and d > 0)]
        if dyn:
            dims = "[" + ", ".join(str(x) if x is not None else "?" for x in image.dims) + "]"
            cc = c if isinstance(c, int) and c > 0 else 3
            what = " and ".join(dyn)
            what = "dynamic channels" if what == "channels" else f"a dynamic {what}"
            raise self.fail(f"the input {image.name!r} has {what} (dims {dims})", hint=f"give the size: --input 224x224x{cc} "
                            "(archcalc.load(path, input=(224, 224, 3)) from Python)")
        if w in (1, 3, 4) and c > 4 and h > 4:      # [N, H, W, C] as TensorFlow writes it
            self.diags.append(Diagnostic(
                "warning", f"the input {image.name!r} is [{n}, {c}, {h}, {w}]: read as C = {c}, "
                f"H = {h}, W = {w}, but it looks channels-last (N, H, W, C = {w})",
                SourcePos(self.path), "archcalc reads NCHW models; export the model with "
                "channels first (tf2onnx --inputs-as-nchw)"))
        return (h, w, c)

    def inferred_volume(self, value: str) -> tuple[Vol, int] | None:
        """ONNX shape inference's volume for ``value`` (passthrough nodes only): the model's
        structure without its weights goes through onnx.shape_inference once."""
        if self.inferred is None:
            self.inferred = {}
            try:
                self.inferred = _infer(self)
            except Exception:        # no onnx, or inference fails: the input's size is used
                self.inferred = {}
        dims = self.inferred.get(value) or (self.g.value_info[value].dims
                                            if value in self.g.value_info else None)
        if not dims or any(not isinstance(d, int) for d in dims[1:]):
            return None
        if len(dims) == 4:
            return (dims[2], dims[3], dims[1]), 4
        if len(dims) == 2:
            return (1, 1, dims[1]), 2
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

    def fold(self, node: wire.Node) -> bool:
        """Evaluate a node whose inputs are all constants (shape arithmetic); True if done."""
        op = node.op_type
        if op == "Constant":
            self.vals[node.outputs[0]] = _constant(node)
            return True
        if op == "Shape":
            a = self.vals.get(node.inputs[0])
            if isinstance(a, Act):
                h, w, c = a.vol
                dims = [self.batch, c, h, w] if a.rank == 4 else [self.batch, c]
                start, end = node.attrs.get("start", 0), node.attrs.get("end")
                dims = dims[start:end]
                self.vals[node.outputs[0]] = Const((len(dims),), dims)
                return True
        fn = FOLD.get(op)
        if (fn is None and op not in NP_FOLD) or not node.inputs:
            return False
        cs = [self.const(x) if x else None for x in node.inputs]
        if any(c is None for c, x in zip(cs, node.inputs) if x):
            return False
        if op == "Shape":                  # the shape of a constant
            dims = list(cs[0].dims)[node.attrs.get("start", 0):node.attrs.get("end")]
            self.vals[node.outputs[0]] = Const((len(dims),), dims)
            return True
        if any(c is not None and c.values is None for c in cs[1:]) or \
                cs[0].values is None and op not in VIEWS:
            return False
        result = fn(node, cs) if fn is not None else None
        if result is None and op in NP_FOLD and all(c is None or c.values is not None
                                                    for c in cs):
            result = _np_fold(node, cs)    # the general case, with numpy (imported here only)
        if result is None:
            return False
        result.param = any(c is not None and c.param for c in cs[:1])
        self.vals[node.outputs[0]] = result
        return True


# ---------------------------------------------------------------------------------------------
# constant folding on small lists

def _constant(node: wire.Node) -> Const:
    a = node.attrs
    if "value" in a and isinstance(a["value"], wire.Tensor):
        t = a["value"]
        values = t.values()
        if values is None:
            raise Unsupported("a Constant too large to read (a weight held as a Constant)")
        return Const(t.dims, values)
    for key in ("value_int", "value_float"):
        if key in a:
            return Const((), [a[key]])
    for key in ("value_ints", "value_floats"):
        if key in a:
            return Const((len(a[key]),), list(a[key]))
    raise Unsupported("a Constant of a kind archcalc does not read")


def _broadcast(fn):
    def f(node, cs):
        a, b = cs[0], cs[1]
        if len(a.values) == len(b.values):
            vals = [fn(x, y) for x, y in zip(a.values, b.values)]
            dims = a.dims if len(a.dims) >= len(b.dims) else b.dims
        elif len(b.values) == 1:
            vals, dims = [fn(x, b.values[0]) for x in a.values], a.dims
        elif len(a.values) == 1:
            vals, dims = [fn(a.values[0], y) for y in b.values], b.dims
        else:
            return None
        return Const(dims, vals)
    return f


def _div(x, y):
    if isinstance(x, int) and isinstance(y, int):
        return x // y if y else 0
    return x / y if y else math.inf


def _gather(node, cs):
    data, idx = cs
    if len(data.dims) > 1:
        return None
    n = len(data.values)
    picked = [data.values[i + n if i < 0 else i] for i in map(int, idx.values)]
    return Const(idx.dims, picked)


def _unsqueeze(node, cs):
    axes = cs[1].values if len(cs) > 1 and cs[1] is not None else node.attrs.get("axes", [0])
    dims = list(cs[0].dims)
    for ax in sorted(int(a) + len(dims) + 1 if a < 0 else int(a) for a in axes):
        dims.insert(ax, 1)
    return Const(tuple(dims), cs[0].values)


def _squeeze(node, cs):
    return Const(tuple(d for d in cs[0].dims if d != 1), cs[0].values)


# ops that only reshape: they apply to a weight whose values are not read (dims only)
VIEWS = ("Unsqueeze", "Squeeze", "Reshape", "Identity", "Transpose")


def _concat(node, cs):
    if any(len(c.dims) > 1 for c in cs):
        return None
    vals = [v for c in cs for v in c.values]
    return Const((len(vals),), vals)


def _cast(node, cs):
    to = node.attrs.get("to", 1)
    conv = float if to in wire.FLOATS else int
    return Const(cs[0].dims, [conv(v) for v in cs[0].values])


def _slice(node, cs):
    if len(cs[0].dims) != 1:
        return None
    starts = cs[1].values if len(cs) > 1 else node.attrs.get("starts", [0])
    ends = cs[2].values if len(cs) > 2 else node.attrs.get("ends", [len(cs[0].values)])
    steps = cs[4].values if len(cs) > 4 and cs[4] is not None else [1]
    s, e, st = int(starts[0]), int(ends[0]), int(steps[0])
    n = len(cs[0].values)
    e = min(e, n) if e >= 0 else e
    vals = cs[0].values[s:e:st]
    return Const((len(vals),), vals)


def _reshape_const(node, cs):
    target = [int(v) for v in cs[1].values]
    n = math.prod(cs[0].dims)
    if -1 in target:
        known = math.prod(d for d in target if d != -1) or 1
        target = [n // known if d == -1 else d for d in target]
    return Const(tuple(target), cs[0].values)


def _const_of_shape(node, cs):
    t = node.attrs.get("value")
    v = t.values()[0] if isinstance(t, wire.Tensor) and t.values() else 0.0
    n = math.prod(int(d) for d in cs[0].values)
    if n > wire.MAX_VALUE_ELEMENTS:
        return None
    return Const(tuple(int(d) for d in cs[0].values), [v] * n)


def _transpose(node, cs):
    dims = cs[0].dims
    perm = node.attrs.get("perm") or list(reversed(range(len(dims))))
    if cs[0].values is None:                 # a weight: its dims only
        return Const(tuple(dims[p] for p in perm), None)
    return None                              # values: numpy's (_np_fold)


FOLD: dict[str, Callable] = {
    "Transpose": _transpose,
    "Gather": _gather, "Unsqueeze": _unsqueeze, "Squeeze": _squeeze, "Concat": _concat,
    "Cast": _cast, "Slice": _slice, "Reshape": _reshape_const, "ConstantOfShape": _const_of_shape,
    "Identity": lambda node, cs: cs[0],
    "Add": _broadcast(lambda x, y: x + y), "Sub": _broadcast(lambda x, y: x - y),
    "Mul": _broadcast(lambda x, y: x * y), "Div": _broadcast(_div),
    "Floor": lambda node, cs: Const(cs[0].dims, [math.floor(v) for v in cs[0].values]),
    "Ceil": lambda node, cs: Const(cs[0].dims, [math.ceil(v) for v in cs[0].values]),
    "Sqrt": lambda node, cs: Const(cs[0].dims, [math.sqrt(v) for v in cs[0].values]),
}


NP_FOLD = {"Transpose", "Slice", "Concat", "Gather", "Reshape", "Expand", "Range", "Equal",
           "Where", "Neg", "Tile", "Squeeze", "Unsqueeze", "Cast", "Add", "Sub", "Mul", "Div",
           "Mod", "Pow", "Min", "Max", "Not", "Less", "Greater", "ReduceProd", "Abs", "Shape"}


def _np_fold(node: wire.Node, cs: list) -> Const | None:
    """A node on constants of any rank, evaluated with numpy (shape arithmetic that the small
    list rules above do not cover: PyTorch's pad computation reverses and transposes a 2-D
    tensor)."""
    import numpy as np
    xs = [None if c is None else np.asarray(c.values).reshape(c.dims) for c in cs]
    a, op, at = xs[0], node.op_type, node.attrs
    try:
        if op == "Transpose":
            y = np.transpose(a, at.get("perm"))
        elif op == "Slice":
            axes = xs[3] if len(xs) > 3 and xs[3] is not None else range(len(xs[1]))
            steps = xs[4] if len(xs) > 4 and xs[4] is not None else [1] * len(xs[1])
            index = [slice(None)] * a.ndim
            for ax, s, e, st in zip(axes, xs[1], xs[2], steps):
                s, e, st = int(s), int(e), int(st)
                n = a.shape[ax]
                e = None if (st < 0 and e < -n) else max(min(e, n), -n - 1)
                index[int(ax)] = slice(max(min(s, n), -n), e, st)
            y = a[tuple(index)]
        elif op == "Concat":
            y = np.concatenate([x for x in xs if x is not None], axis=at.get("axis", 0))
        elif op == "Gather":
            y = np.take(a, xs[1].astype(np.int64), axis=at.get("axis", 0))
        elif op == "Reshape":
            t = [int(v) for v in xs[1].reshape(-1)]
            y = a.reshape([a.shape[i] if v == 0 else v for i, v in enumerate(t)])
        elif op == "Expand":
            y = a * np.ones([int(v) for v in xs[1].reshape(-1)], a.dtype)
        elif op == "Range":
            y = np.arange(a.reshape(()), xs[1].reshape(()), xs[2].reshape(()))
        elif op == "Tile":
            y = np.tile(a, [int(v) for v in xs[1].reshape(-1)])
        elif op in ("Squeeze", "Unsqueeze"):
            axes = xs[1] if len(xs) > 1 and xs[1] is not None else at.get("axes")
            if op == "Squeeze":
                y = np.squeeze(a, tuple(int(v) for v in axes) if axes is not None else None)
            else:
                y = a
                for ax in sorted(int(v) if v >= 0 else int(v) + a.ndim + len(axes)
                                 for v in axes):
                    y = np.expand_dims(y, ax)
        elif op == "Cast":
            y = a.astype(float if at.get("to", 1) in wire.FLOATS else np.int64)
        elif op == "Where":
            y = np.where(a, xs[1], xs[2])
        elif op == "ReduceProd":
            y = np.prod(a, keepdims=bool(at.get("keepdims", 1)))
        else:
            fn = {"Neg": np.negative, "Abs": np.abs, "Not": np.logical_not}.get(op)
            if fn is not None:
                y = fn(a)
            else:
                fn2 = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Mod": np.mod,
                       "Pow": np.power, "Min": np.minimum, "Max": np.maximum, "Equal": np.equal,
                       "Less": np.less, "Greater": np.greater,
                       "Div": lambda p, q: p // q if p.dtype.kind in "iu" and q.dtype.kind in
                       "iu" else p / q}[op]
                y = fn2(a, xs[1])
    except (ValueError, IndexError, TypeError, KeyError, ZeroDivisionError):
        return None
    y = np.asarray(y)
    if y.size > wire.MAX_VALUE_ELEMENTS:
        return None
    return Const(tuple(int(d) for d in y.shape), y.reshape(-1).tolist())


def _infer(cv: Converter) -> dict[str, list]:
    """ONNX shape inference over the model's structure (weights left out: each initializer
    becomes a graph input of its shape), for the volumes of passthrough nodes."""
    import onnx
    from onnx import helper, shape_inference
    model = onnx.load(cv.path, load_external_data=False)
    g = model.graph
    big = [t for t in g.initializer if math.prod(t.dims) > wire.MAX_VALUE_ELEMENTS]
    small = [t for t in g.initializer if math.prod(t.dims) <= wire.MAX_VALUE_ELEMENTS]
    del g.initializer[:]
    g.initializer.extend(small)       # (a TopK's k, a Reshape's target: inference needs them)
    names = {i.name for i in g.input}
    for t in big:
        if t.name not in names:
            g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    if cv.given_input is not None:        # --input for a model with dynamic height and width
        h, w, c = cv.given_input
        for i in g.input:
            if i.name == cv.image_name:
                dims = i.type.tensor_type.shape.dim
                for d, v in zip(dims[1:], (c, h, w)):
                    d.dim_value = v
    inferred = shape_inference.infer_shapes(model)
    out = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = [d.dim_value if d.HasField("dim_value") else None
                for d in vi.type.tensor_type.shape.dim]
        out[vi.name] = dims
    return out


from .handlers import HANDLERS  # noqa: E402  (the handlers use the classes above)
