"""The Report: what one analysis pass found, as immutable records. Views render it; none
recompute. ``RF`` and ``LayerRow`` are named tuples rather than frozen dataclasses: a report of a
100,000-layer network makes 200,000 of them, and a tuple is built five times faster.

``Report.to_dict()`` defines the JSON document (schema ``SCHEMA``; every field is described in
docs/definitions.md, "The JSON document").
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .errors import Diagnostic
from .ops import OPS, Attrs, Vol
from .ops.words import counted
from .settings import Settings

Pair = tuple[int, int]
# per axis (h, w): a receptive field's size, jump or centre; whole numbers, or fractions after
# upsampling
AxisPair = tuple[float, float]
SCHEMA = 3      # version of the JSON document; raised whenever a field changes meaning or shape


def _num(x: float) -> float:
    return int(x) if float(x).is_integer() else x


def as_pair(v: AxisPair | None) -> list[float] | None:
    return None if v is None else [_num(x) for x in v]


class RF(NamedTuple):
    """Receptive field of one unit of a layer's output, in input pixels, per axis (h, w).

    ``size``: the side of the input window a unit sees; ``stride``: the distance in input pixels
    between neighbouring units (the jump); ``start``: the centre of the first (top-left) unit, in
    input pixel coordinates where pixel i has its centre at i. ``is_global``: the unit sees the
    whole input (fully connected, global pooling); size, stride and start are then None, since no
    local window describes it. ``aligned``: False where the paths into a merge disagree on stride
    or centre.
    """
    size: AxisPair | None = (1, 1)
    stride: AxisPair | None = (1, 1)
    start: AxisPair | None = (0.0, 0.0)
    is_global: bool = False
    aligned: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Always the same keys; pairs are always [h, w]; a global field has nulls."""
        return {"global": self.is_global, "size": as_pair(self.size),
                "stride": as_pair(self.stride), "start": as_pair(self.start),
                "aligned": self.aligned}

    def text(self) -> str:
        if self.is_global:
            return "global"

        def axes(pair: AxisPair | None) -> str:   # fractions (after upsampling): 4 digits
            h, w = (f"{v:.4g}" if isinstance(v, float) else str(v) for v in pair or ())
            return h if h == w else f"{h}×{w}"
        return f"{axes(self.size)} /{axes(self.stride)}" + ("" if self.aligned else " !")


GLOBAL_RF = RF(None, None, None, True)


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


def public_attrs(attrs: Attrs) -> dict[str, Any]:
    """A layer's attributes as a user wrote them (defaults filled in), for JSON: pairs as
    [h, w], padding resolved to pixels per side, unset optional ones left out."""
    out = {}
    for k, v in attrs.items():
        if k in ("k_eff", "pads", "pads_end") or v is None:
            continue
        out[k] = _jsonable(v)
    if "pads_end" in attrs:               # four sides: [top, bottom, left, right]
        (t, left), (b, r) = attrs["pads"], attrs["pads_end"]
        out["padding"] = [t, b, left, r]
    elif "pads" in attrs:
        out["padding"] = list(attrs["pads"])
    if attrs.get("output_size") is not None:   # output_padding is then picked from it: the
        out.pop("output_padding", None)         # default 0 shown beside it would mislead
    return out


class LayerRow(NamedTuple):
    """One layer's figures (see docs/definitions.md); ``Report.to_dict`` gives its JSON form."""
    name: str
    op: str
    inputs: tuple[str, ...]
    output: Vol
    params: int             # parameters (what PyTorch's model.parameters() holds)
    trainable_params: int
    macs: int
    activations: int        # elements this layer writes to a new buffer (0 when in place)
    rf: RF
    attrs: Attrs = {}       # the layer's attributes (shared with the Layer, never modified)
    inplace: bool = False   # its output overwrites its input's buffer (or is a view of it)
    scope: tuple[str, ...] = ()
    note: str = ""          # replaces the detail text (folded block rows: "12 layers")
    buffers: int = 0        # non-parameter state, e.g. BatchNorm's running mean and variance
    train_only: bool = False  # runs only in training (an auxiliary head): see Totals
    scratch: int = 0        # elements held while it runs besides its output (attention matrix)

    @property
    def detail(self) -> str:
        """The op's attributes in short form, e.g. "3×3/1 p1, 64" (formatted on demand)."""
        if self.note or self.op == "block":
            return self.note
        return OPS[self.op].describe(self.attrs)

    @property
    def trainable(self) -> str:
        """"yes", "no" or "partial" for a layer with parameters; "" for one without."""
        if not self.params:
            return ""
        if self.trainable_params == self.params:
            return "yes"
        return "no" if self.trainable_params == 0 else "partial"

    def to_dict(self, vols: Mapping[str, Vol] | None = None) -> dict[str, Any]:
        """The row's JSON form; ``vols`` (layer name → output volume) gives the input volumes."""
        d: dict[str, Any] = {"name": self.name, "op": self.op,
             "attrs": public_attrs(self.attrs),
             "inputs": list(self.inputs)}
        if vols is not None:
            d["input"] = [list(vols[s]) for s in self.inputs]
        d.update({"output": list(self.output), "params": self.params,
                  "trainable_params": self.trainable_params, "buffers": self.buffers,
                  "macs": self.macs, "activations": self.activations, "inplace": self.inplace,
                  "rf": self.rf.to_dict(), "scope": list(self.scope),
                  "train_only": self.train_only})
        return d


@dataclass(frozen=True, slots=True)
class Totals:
    params: int               # parameters: PyTorch's sum(p.numel() for p in model.parameters())
    trainable_params: int
    macs: int                 # per image
    flops: int                # per image
    activations: int          # elements per image, the input included
    activation_bytes: int     # per batch
    param_bytes: int          # parameters and buffers that inference loads (the weights file)
    peak_bytes: int
    peak_layer: str
    buffers: int = 0          # BatchNorm running statistics and the like
    input_bytes: int = 0      # the input batch
    batch: int = 1
    # layers that run only in training (train_only: an auxiliary head): their parameters and
    # buffers are in params and buffers (the model holds them), their MACs and activations are
    # not in macs and activations (inference does not run them); training_bytes counts them all
    train_only_params: int = 0
    train_only_buffers: int = 0
    train_only_macs: int = 0
    train_only_activations: int = 0
    # the training step (archcalc.analysis.training.Training), made when first asked for: a
    # Lazy (analysis) or the record itself; the figures below read it
    step: Any = field(default=None, repr=False, compare=False)

    @property
    def training(self) -> Any:
        """The training step, term by term (docs/training-memory.md)."""
        step = self.step
        return step.get() if hasattr(step, "get") else step

    @property
    def training_bytes(self) -> int:
        """The peak of one training step as eager PyTorch holds it (weights, gradients,
        optimizer state, what autograd saves, gradients of activations)."""
        return int(self.training.peak)

    @property
    def saved_bytes(self) -> int:
        """What autograd saves for the backward pass, one micro-batch."""
        return int(self.training.saved)

    @property
    def inference_bytes(self) -> int:
        """The inference peak of eager PyTorch: weights, buffers, input and live activations."""
        return int(self.training.inference)

    @property
    def recompute_macs(self) -> int:
        """The MACs checkpointed blocks run again in the backward pass, per step."""
        return int(self.training.recompute_macs)

    @property
    def non_trainable_params(self) -> int:
        return self.params - self.trainable_params

    @property
    def batch_macs(self) -> int:
        return self.macs * self.batch

    @property
    def forward_bytes(self) -> int:
        """Activations of the forward pass other than the input, per batch."""
        return self.activation_bytes - self.input_bytes

    @property
    def total_bytes(self) -> int:
        """The inference estimate: input + forward activations + parameters and buffers."""
        return self.activation_bytes + self.param_bytes

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__slots__ if k not in ("batch", "step")}
        d.update(non_trainable_params=self.non_trainable_params, batch_macs=self.batch_macs,
                 forward_bytes=self.forward_bytes, total_bytes=self.total_bytes,
                 training_bytes=self.training_bytes, saved_bytes=self.saved_bytes,
                 inference_bytes=self.inference_bytes, recompute_macs=self.recompute_macs)
        return d


@dataclass(frozen=True)
class Report:
    name: str
    input: Vol
    layers: tuple[LayerRow, ...]
    totals: Totals
    settings: Settings = field(default_factory=Settings)
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    # block instance → its output layer
    block_outputs: dict[str, str] = field(default_factory=dict)

    @property
    def training(self) -> Any:
        """The training step, term by term (archcalc.analysis.training.Training)."""
        return self.totals.training

    def __getitem__(self, name: str) -> LayerRow:
        for row in self.layers:
            if row.name == name:
                return row
        raise KeyError(name)

    def rows(self, depth: int | None = None) -> list[LayerRow]:
        """The layer rows, with block instances nested deeper than ``depth`` folded."""
        return fold(self.layers, depth, self.block_outputs)

    @property
    def layer_count(self) -> int:
        """The layers: every row but the input's (the input computes nothing; ``layers`` holds
        its row first). ``repr(net)``, the report and the drawings count alike."""
        return sum(1 for row in self.layers if row.op != "input")

    def __repr__(self) -> str:
        h, w, c = self.input
        n, t = self.layer_count, self.totals
        return (f"Report({self.name!r}, input={h}×{w}×{c}, {n} layer{'s' * (n != 1)}, "
                f"params={t.params:,}, macs={t.macs:,})")

    def _repr_html_(self) -> str:
        """Jupyter's view (archcalc.views.notebook)."""
        from .views.notebook import report_html  # the notebook hook: the one upward import
        return report_html(self)

    def to_dict(self, depth: int | None = None) -> dict[str, Any]:
        rows = self.rows(depth)
        vols = {row.name: row.output for row in rows}
        return {"schema": SCHEMA, "name": self.name, "input": list(self.input),
                "depth": depth,
                "layers": [row.to_dict(vols) for row in rows],
                "totals": self.totals.to_dict(),
                "settings": self.settings.to_dict(),
                "diagnostics": [d.to_dict() for d in self.diagnostics]}


def fold(rows: Sequence[LayerRow], depth: int | None,
         block_outputs: Mapping[str, str] | None = None) -> list[LayerRow]:
    """Rows with block instances deeper than ``depth`` folded into one row each.

    ``depth`` None keeps every layer; 0 folds every top-level block instance into a single row
    whose op is ``block``, whose output volume and receptive field are those of the block's
    declared output layer (``block_outputs``; its last layer where none is declared), and whose
    counts are the sums of its layers'. Every ``inputs`` entry names a row of the folded view: a
    layer folded into a block is referred to by the block's name. Totals are unchanged.
    """
    if depth is None:
        return list(rows)
    block_outputs = block_outputs or {}
    out: list[LayerRow] = []
    group: list[LayerRow] = []
    renamed: dict[str, str] = {}       # folded layer → the block row that now stands for it

    def flush() -> None:
        if not group:
            return
        key = group[0].scope[depth]
        names = {r.name for r in group}
        ext = tuple(dict.fromkeys(renamed.get(s, s) for r in group for s in r.inputs
                                  if s not in names))
        want = block_outputs.get(key)
        last = next((r for r in group if r.name == want), group[-1])
        for r in group:
            renamed[r.name] = key
        train = all(r.train_only for r in group)
        # MACs and activations as the totals count them: a block run in inference counts its
        # inference layers' (its training-only layers' are in the totals' training-only figures)
        run = group if train else [r for r in group if not r.train_only]
        out.append(LayerRow(key, "block", ext, last.output, sum(r.params for r in group),
                            sum(r.trainable_params for r in group), sum(r.macs for r in run),
                            sum(r.activations for r in run), last.rf, {"layers": len(group)},
                            False, last.scope[:depth], counted(len(group), "layer"),
                            sum(r.buffers for r in group), train))
        group.clear()

    for row in rows:
        if len(row.scope) > depth:
            if group and group[0].scope[depth] != row.scope[depth]:
                flush()
            group.append(row)
        else:
            flush()
            if any(s in renamed for s in row.inputs):
                row = row._replace(inputs=tuple(dict.fromkeys(renamed.get(s, s)
                                                              for s in row.inputs)))
            out.append(row)
    flush()
    return out
