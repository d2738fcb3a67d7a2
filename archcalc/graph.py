"""The layer graph: a ``Network`` is a networkx DiGraph of immutable ``Layer`` records.

Front-ends build networks through :class:`Builder`, which validates each layer's attributes with
its op (``archcalc/ops/``), names layers, wires inputs and enforces the size limits. Nothing here
computes a shape: that is the analysis pass.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from .errors import Diagnostic, Places, SourcePos, error
from .ops import DEFAULT_ROUNDING, OPS, Attrs, Op, Vol, lookup
from .ops.values import as_int
from .settings import Settings

# Refused before anything is built: a spec expanding to more layers than this (repeat counts
# multiply) would exhaust memory long before it finished.
MAX_LAYERS = 1_000_000
_new_layer = tuple.__new__    # a Layer without the named tuple's Python-level constructor


class Layer(NamedTuple):
    """One layer as the spec wrote it (immutable; a named tuple, as it is built once per layer of
    networks up to 1,000,000 layers long)."""
    name: str
    op: str
    attrs: Attrs                  # as the op normalized them; shared, never modified
    inputs: tuple[str, ...]
    pos: SourcePos
    scope: tuple[str, ...] = ()   # enclosing block instances, outermost first
    train_only: bool = False      # runs only in training (an auxiliary head): not in inference

    @property
    def opdef(self) -> Op:
        return OPS[self.op]


class Network:
    """A named network: input volume, layers in a topological (spec) order, and their graph.

    ``graph`` is a networkx DiGraph keyed by layer name; each node holds its ``Layer`` under the
    ``"layer"`` key, and edges run from producer to consumer. ``layers`` keeps the order the spec
    wrote them, which is always a topological order (a layer may only use earlier layers), and
    ``consumers`` maps each layer to the layers that read its output: the same edges, kept as a
    plain dict so that the analysis pass runs without importing networkx (which would double the
    start-up time of ``archcalc summary``). The DiGraph is built on first access.

    Every field is declared here and set when the network is made (a front-end passes them to
    :meth:`Builder.build`); :meth:`replace` gives a copy with some of them changed. Nothing is
    added to a network afterwards.
    """

    __slots__ = ("_graph", "_inference_consumers", "block_outputs", "by_name", "consumers",
                 "declared_outputs", "input", "input_given", "language", "layers", "name", "origin",
                 "params", "rounding", "settings", "size_dependent", "source", "warnings")

    def __init__(self, name: str, input: Vol, layers: list[Layer], rounding: str = DEFAULT_ROUNDING,
                 source: str | None = None, language: str = "string",
                 warnings: Iterable[Diagnostic] | None = None,
                 block_outputs: Mapping[str, str] | None = None,
                 index: tuple[dict[str, Layer], dict[str, list[str]]] | None = None,
                 outputs: Sequence[str] | None = None, *,
                 params: Mapping[str, Any] | None = None, settings: Settings | None = None,
                 input_given: bool = False, size_dependent: bool = False,
                 origin: dict[str, Any] | None = None):
        self.name = name
        self.input = input
        self.layers = layers
        self.rounding = rounding
        # the file it was read from (or <spec>, <stdin>, <spec 2> for a text)
        self.source = source
        # the spec language it was written in ("string", "table", "yaml", "onnx"): hints use
        # its spelling
        self.language = language
        # network-level warnings found while reading the spec (analyze/diagnose report them)
        self.warnings: list[Diagnostic] = list(warnings or [])
        # each block instance (full name, e.g. "layer1.0") -> the full name of its output layer
        self.block_outputs: dict[str, str] = dict(block_outputs or {})
        self.by_name: dict[str, Layer]
        self.consumers: dict[str, list[str]]
        if index is not None:       # by_name and consumers, kept by the Builder as it added
            self.by_name, self.consumers = index
        else:
            self.by_name = {layer.name: layer for layer in layers}
            self.consumers = {layer.name: [] for layer in layers}
            for layer in layers:
                for src in layer.inputs:
                    self.consumers[src].append(layer.name)
        # the layers the network returns, where the spec lists them (YAML's outputs:); else None
        # and the outputs are the inference layers nothing reads (see ``outputs``)
        self.declared_outputs: list[str] | None = list(outputs) if outputs else None
        # the values the spec's declared parameters took (YAML params: with --set over them)
        self.params: dict[str, Any] = dict(params or {})
        # what analyze() uses unless told otherwise (--set batch=… as the network was loaded)
        self.settings: Settings = settings or Settings()
        # the input volume came from an option (-i, input=): hints then name that option
        self.input_given = input_given
        # its layers are computed from the input's size (in.h, res): another size is read anew
        self.size_dependent = size_dependent
        # an imported model's origin: {"path", "opset", "producer", "node_layers"} (ONNX)
        self.origin: dict[str, Any] | None = origin
        self._graph: Any = None
        self._inference_consumers: dict[str, list[str]] | None = None

    def replace(self, **changes: Any) -> Network:
        """A copy with some fields changed (the layers and their index are shared, not copied)."""
        fields = {k: getattr(self, k) for k in ("name", "input", "layers", "rounding", "source",
                                                 "language", "warnings", "block_outputs")}
        fields.update(index=(self.by_name, self.consumers), outputs=self.declared_outputs,
                      params=self.params, settings=self.settings, input_given=self.input_given,
                      size_dependent=self.size_dependent, origin=self.origin)
        unknown = set(changes) - set(fields) - {"declared_outputs"}
        if unknown:
            raise TypeError(f"Network has no field {sorted(unknown)[0]!r}")
        if "declared_outputs" in changes:
            changes["outputs"] = changes.pop("declared_outputs")
        fields.update(changes)
        return Network(**fields)

    @property
    def outputs(self) -> list[str]:
        """The layers the network returns: those the spec declares, else every layer that runs
        in inference and that no inference layer reads."""
        if self.declared_outputs:
            return self.declared_outputs
        readers = self.inference_consumers
        return [layer.name for layer in self.layers
                if layer.op != "input" and not layer.train_only and not readers[layer.name]]

    @property
    def inference_consumers(self) -> dict[str, list[str]]:
        """``consumers`` without the readers that run only in training (``train_only`` layers),
        and without those layers' own entries: the graph that inference runs (and exports). The
        same dict as ``consumers`` where no layer is training-only."""
        if self._inference_consumers is None:
            if not any(layer.train_only for layer in self.layers):
                self._inference_consumers = self.consumers
            else:
                train = {layer.name for layer in self.layers if layer.train_only}
                self._inference_consumers = {
                    n: [c for c in readers if c not in train]
                    for n, readers in self.consumers.items() if n not in train}
        return self._inference_consumers

    @property
    def graph(self) -> Any:
        """The layer graph as a networkx DiGraph (built once, on first use)."""
        if self._graph is None:
            import networkx as nx
            g = nx.DiGraph(name=self.name)
            for layer in self.layers:
                g.add_node(layer.name, layer=layer)
                for src in layer.inputs:
                    g.add_edge(src, layer.name)
            self._graph = g
        return self._graph

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, name: str) -> Layer:
        return self.by_name[name]

    @property
    def layer_count(self) -> int:
        """The layers: every one but the input (which computes nothing; ``layers`` holds it
        first, and ``len(net)`` counts it). ``repr(net)`` and the report count alike."""
        return sum(1 for layer in self.layers if layer.op != "input")

    def __repr__(self) -> str:
        h, w, c = self.input
        n = self.layer_count
        return f"Network({self.name!r}, input={h}×{w}×{c}, {n} layer{'s' * (n != 1)})"

    def _repr_svg_(self) -> str | None:
        """Jupyter's view (archcalc.views.notebook)."""
        from .views.notebook import network_svg  # the notebook hook: the one upward import
        return network_svg(self)

    def weight_layers(self) -> int:
        """Layers with weights in the VGG paper's sense (conv and fully connected)."""
        return sum(1 for layer in self.layers if layer.opdef.weight_layer)


class Builder:
    """Collects layers for a Network, naming them and wiring their inputs.

    A layer without explicit inputs follows the previous one. Names are the user's, or the op
    kind with a running number (``conv1``, ``relu3``, ``pool2``); inside a block instance they
    carry its prefix (``inception_3a/conv1``).
    """

    SHORT = {"maxpool": "pool", "avgpool": "avgpool", "global_avgpool": "gap", "batchnorm": "bn",
             "global_maxpool": "gmp", "relu6": "relu6_"}

    def __init__(self, name: str, input: Vol, pos: SourcePos | None = None):
        self.name = name
        self.input = input
        self.layers: list[Layer] = [Layer("input", "input", {}, (), pos or SourcePos())]
        self.names: dict[str, Layer] = {"input": self.layers[0]}
        self.consumers: dict[str, list[str]] = {"input": []}   # see Network.consumers
        self.counters: dict[str, int] = {}
        self.last = "input"
        self.failed: set[str] = set()   # names of layers that could not be built
        self.warnings: list[Diagnostic] = []         # see Network.warnings
        self.block_outputs: dict[str, str] = {}      # see Network.block_outputs
        self.splits: dict[str, list[str]] = {}       # a split's name -> its parts' layer names
        self.train_only = False      # layers added now run only in training (see Layer)
        self.outputs: list[str] | None = None        # see Network.declared_outputs

    def next_name(self, kind: str, prefix: str = "") -> str:
        """The name the next unnamed layer of ``kind`` gets (``conv3``), taken now."""
        key = prefix + self.SHORT.get(kind, kind)
        n = self.counters.get(key, 0) + 1
        name = f"{key}{n}"
        while name in self.names or name in self.failed:
            n += 1
            name = f"{key}{n}"
        self.counters[key] = n
        return name

    def fail(self, name: str | None = None) -> str:
        """Record that a layer (named, or anonymous) could not be built. Layers that use it are
        then still checked on their own, but not added, so one mistake is reported once."""
        name = name or f"<failed {len(self.failed) + 1}>"
        self.failed.add(name)
        self.last = name
        return name

    def add(self, op: str, raw: Mapping[str, Any], pos: SourcePos, name: str | None = None,
            inputs: Iterable[str] | None = None, scope: tuple[str, ...] = (),
            prefix: str = "", where: Places | None = None,
            ready: bool = False) -> Layer:
        """Add a layer of kind ``op``; ``raw`` attributes are validated by the op unless
        ``ready`` says they already were (they are then shared, never modified)."""
        opdef = OPS.get(op) if isinstance(op, str) else None   # the common case, cheaply
        if opdef is None:
            opdef = lookup(op, pos)
        kind = opdef.kind
        if kind == "split":              # expanded into one slice per part
            return self._split(raw, pos, name, inputs, scope, prefix, where)
        layers, names, failed = self.layers, self.names, self.failed
        if len(layers) > MAX_LAYERS:        # the input row is not a layer
            raise error(f"the network has more than {MAX_LAYERS:,} layers", pos,
                        hint="archcalc's limit on layers keeps analysis within memory")
        attrs = raw if ready else opdef.normalize(raw, pos, where)
        if name is None:
            name = self.next_name(kind, prefix)
        else:
            name = prefix + str(name)
            if name in names or name in failed:
                raise error(f"the layer name {name!r} is used twice", pos,
                            hint=f"the first is at {names[name].pos}; rename one of them"
                            if name in names else "rename one of them")
        srcs = tuple(inputs) if inputs is not None else (self.last,)
        if failed and any(s in failed for s in srcs):
            self.fail(name)
            return Layer(name, kind, attrs, srcs, pos, scope)
        for s in srcs:
            if s not in names:
                known = ", ".join(list(names)[-5:])
                raise error(f"layer {name!r} takes input {s!r}, which is not defined before it",
                            pos, hint=f"inputs name earlier layers (the latest: {known})")
        arity = opdef.arity
        if arity == 1:
            if len(srcs) != 1:
                raise error(f"{kind} takes one input, got {len(srcs)}", pos,
                            hint="merge branches first with concat or add")
        elif arity is None and len(srcs) < 2:
            raise error(f"{kind} merges two or more inputs, got {len(srcs)}", pos,
                        hint="list the branches it merges: inputs: [a, b]")
        train = self.train_only
        if not train:
            for s in srcs:
                if names[s].train_only:
                    raise error(f"layer {name!r} reads {s!r}, which runs only in training",
                                pos, hint="read a layer that inference runs (after a block "
                                "whose last layer is training-only, name the block's output "
                                f"with output:), or mark {name!r} train_only: true as well")
        layer = _new_layer(Layer, (name, kind, attrs, srcs, pos, scope, train))
        layers.append(layer)
        names[name] = layer
        consumers = self.consumers
        consumers[name] = []
        for s in srcs:
            consumers[s].append(name)
        self.last = name
        return layer

    def follow(self, kind: str, attrs: Attrs, pos: SourcePos) -> Layer:
        """The common case of :meth:`add`, at the cost of a few dictionary operations: an unnamed
        top-level layer of a one-input op whose attributes were already validated, following the
        previous layer (a spec string's repeated words). Anything else goes through ``add``."""
        last, names, layers = self.last, self.names, self.layers
        if OPS[kind].arity != 1 or last not in names or len(layers) > MAX_LAYERS or \
                self.train_only or names[last].train_only:
            return self.add(kind, attrs, pos, ready=True)
        name = self.next_name(kind)
        layer = _new_layer(Layer, (name, kind, attrs, (last,), pos, (), False))
        layers.append(layer)
        names[name] = layer
        consumers = self.consumers
        consumers[name] = []
        consumers[last].append(name)
        self.last = name
        return layer

    def _split(self, raw: Mapping[str, Any], pos: SourcePos, name: str | None,
               inputs: Iterable[str] | None, scope: tuple[str, ...], prefix: str,
               where: Places | None) -> Layer:
        """A channel split (``parts: n`` equal parts, or ``sizes: [a, b, ...]``) as one slice
        layer per part, named ``<split>.<i>`` (``s.0``, ``s.1``; ``split1.0`` when unnamed),
        each reading the split's input. Returns the last part (a layer after the split without
        inputs reads it); ``splits`` maps the split's full name to its parts' names."""
        where = where or {}
        raw = dict(raw)
        bad = [k for k in raw if k not in ("parts", "sizes")]
        if bad:
            raise error(f"split takes no attribute {bad[0]!r}", where.get(("key", bad[0]),
                        where.get(bad[0], pos)), hint="attributes of split: parts or sizes")
        if ("parts" in raw) == ("sizes" in raw):
            raise error("split needs exactly one of parts (equal parts) and sizes (channels per "
                        "part)", pos, hint="write {op: split, parts: 2} or "
                        "{op: split, sizes: [16, 48]}")
        op = OPS["slice"]
        n = len(op.coerce("sizes", raw["sizes"], where.get("sizes", pos))) if "sizes" in raw \
            else as_int(raw["parts"], "parts", where.get("parts", pos))
        if n < 2 and "parts" in raw:
            raise error(f"a split into {n} part is no split", where.get("parts", pos),
                        hint="use parts: 2 or more")
        if name is None:
            key = prefix + "split"
            k = self.counters.get(key, 0) + 1
            while f"{key}{k}.0" in self.names:
                k += 1
            self.counters[key] = k
            full = f"{key}{k}"
        else:
            full = prefix + str(name)
        if full in self.names:
            raise error(f"the layer name {full!r} is used twice", pos,
                        hint=f"the first is at {self.names[full].pos}; rename one of them")
        srcs = tuple(inputs) if inputs is not None else (self.last,)
        parts = []
        for i in range(n):
            attrs = op.normalize({**raw, "part": i}, pos, where)
            parts.append(self.add("slice", attrs, pos, name=f"{full[len(prefix):]}.{i}",
                                  inputs=srcs, scope=scope, prefix=prefix, ready=True))
        self.splits[full] = [p.name for p in parts]
        return parts[-1]

    def build(self, rounding: str = DEFAULT_ROUNDING, source: str | None = None,
              language: str = "string", **fields: Any) -> Network:
        """The network of the layers added; ``fields`` are Network's keyword-only fields
        (params, settings, input_given, size_dependent, origin)."""
        if len(self.layers) == 1:
            raise error("the spec has no layers", self.layers[0].pos,
                        hint="write at least one layer, e.g. CRP")
        return Network(self.name, self.input, self.layers, rounding, source, language,
                       self.warnings, self.block_outputs, (self.names, self.consumers),
                       self.outputs, **fields)
