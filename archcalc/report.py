"""The Report: what one analysis pass found, as immutable records. Views render it; none
recompute. ``RF`` and ``LayerRow`` are named tuples rather than frozen dataclasses: a report of a
100,000-layer network makes 200,000 of them, and a tuple is built five times faster.

``Report.to_dict()`` defines the JSON document (see docs/definitions.md for every field).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .errors import Diagnostic
from .ops import Vol

Pair = tuple[int, int]


def _scalar_or_pair(v: tuple) -> Any:
    v = tuple(int(x) if float(x).is_integer() else x for x in v)
    return v[0] if v[0] == v[1] else list(v)


class RF(NamedTuple):
    """Receptive field of one unit of a layer's output, in input pixels, per axis (h, w).

    ``size``: the side of the input window a unit sees; ``stride``: the distance in input pixels
    between neighbouring units (the jump); ``start``: the centre of the first (top-left) unit, in
    input pixel coordinates where pixel i has its centre at i. ``is_global``: the unit sees the
    whole input (fully connected, global pooling). ``aligned``: False where the paths into a merge
    disagree on stride or centre.
    """
    size: Pair = (1, 1)
    stride: Pair = (1, 1)
    start: tuple[float, float] = (0.0, 0.0)
    is_global: bool = False
    aligned: bool = True

    def to_dict(self) -> dict:
        if self.is_global:
            return {"global": True}
        d = {"size": _scalar_or_pair(self.size), "stride": _scalar_or_pair(self.stride),
             "start": _scalar_or_pair(self.start)}
        if not self.aligned:
            d["aligned"] = False
        return d

    def text(self) -> str:
        if self.is_global:
            return "global"
        s = self.size[0] if self.size[0] == self.size[1] else f"{self.size[0]}×{self.size[1]}"
        j = self.stride[0] if self.stride[0] == self.stride[1] else f"{self.stride[0]}×{self.stride[1]}"
        return f"{s} /{j}" + ("" if self.aligned else " !")


GLOBAL_RF = RF(is_global=True)


class LayerRow(NamedTuple):
    """One layer's figures (see docs/definitions.md); ``to_dict`` gives its JSON form."""
    name: str
    op: str
    inputs: tuple[str, ...]
    output: Vol
    params: int
    trainable_params: int
    macs: int
    activations: int        # elements this layer writes to a new buffer (0 when in place)
    rf: RF
    attrs: dict = {}        # the layer's attributes (shared with the Layer, never modified)
    inplace: bool = False   # its output overwrites its input's buffer (or is a view of it)
    scope: tuple[str, ...] = ()
    note: str = ""          # replaces the detail text (folded block rows: "12 layers")

    @property
    def detail(self) -> str:
        """The op's attributes in short form, e.g. "3×3/1 p1, 64" (formatted on demand)."""
        if self.note or self.op == "block":
            return self.note
        from .ops import OPS
        return OPS[self.op].describe(self.attrs)

    def to_dict(self) -> dict:
        return {"name": self.name, "op": self.op, "inputs": list(self.inputs),
                "output": list(self.output), "params": self.params,
                "trainable_params": self.trainable_params, "macs": self.macs,
                "activations": self.activations, "rf": self.rf.to_dict()}


@dataclass(frozen=True, slots=True)
class Totals:
    params: int
    trainable_params: int
    macs: int
    flops: int
    activations: int
    activation_bytes: int
    param_bytes: int
    peak_bytes: int
    peak_layer: str
    training_bytes: int

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class Settings:
    dtype: str = "fp32"
    batch: int = 1
    count_inplace: bool = False
    optimizer: str = "adam"

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True)
class Report:
    name: str
    input: Vol
    layers: tuple[LayerRow, ...]
    totals: Totals
    settings: Settings = Settings()
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    def __getitem__(self, name: str) -> LayerRow:
        for row in self.layers:
            if row.name == name:
                return row
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {"name": self.name, "input": list(self.input),
                "layers": [row.to_dict() for row in self.layers],
                "totals": self.totals.to_dict(),
                "settings": self.settings.to_dict(),
                "diagnostics": [d.to_dict() for d in self.diagnostics]}


def fold(rows: tuple[LayerRow, ...] | list[LayerRow], depth: int | None) -> list[LayerRow]:
    """Rows with block instances deeper than ``depth`` folded into one row each.

    ``depth`` None (or large) keeps every layer; 0 folds every top-level block instance into a
    single row whose op is ``block``, whose output and receptive field are its last layer's, and
    whose counts are the sums of its layers'. Totals are unchanged by folding.
    """
    if depth is None:
        return list(rows)
    out: list[LayerRow] = []
    group: list[LayerRow] = []

    def flush() -> None:
        if not group:
            return
        key = group[0].scope[depth]
        names = {r.name for r in group}
        ext = tuple(dict.fromkeys(s for r in group for s in r.inputs if s not in names))
        last = group[-1]
        out.append(LayerRow(key, "block", ext, last.output, sum(r.params for r in group),
                            sum(r.trainable_params for r in group), sum(r.macs for r in group),
                            sum(r.activations for r in group), last.rf, {}, False,
                            last.scope[:depth], f"{len(group)} layers"))
        group.clear()

    for row in rows:
        if len(row.scope) > depth:
            if group and group[0].scope[depth] != row.scope[depth]:
                flush()
            group.append(row)
        else:
            flush()
            out.append(row)
    flush()
    return out
