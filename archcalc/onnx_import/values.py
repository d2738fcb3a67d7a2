"""The values that flow between an ONNX graph's nodes while it is converted: an activation
(:class:`Act`, the output of an archcalc layer), a constant (:class:`Const`, folded shape
arithmetic or an initializer's dimensions), or the output of a node that failed
(:data:`FAILED`) or lies inside a folded pattern (:data:`INTERNAL`); :class:`Unsupported`,
which a node that archcalc cannot convert raises, and :class:`Skipped`, raised where a node
reads the output of one that failed. Imports nothing of the importer but
:mod:`.wire`.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..ops import Vol
from . import wire
from .layout import Layout

Scalar = int | float            # a constant's element (bools are ints)


@dataclass
class Act:
    """An activation: the output of an archcalc layer as ONNX holds it, [N, C, H, W] (rank 4)
    or [N, C] (rank 2, a vector 1×1×C), or in another arrangement that ``layout`` describes (a
    token sequence [N, T, C], channels last, windows: :mod:`.layout`; ``rank`` is then its
    number of dimensions). ``flat`` marks a pending flatten of ``layer`` (made a layer only if
    something other than a fully connected layer reads it)."""
    layer: str
    vol: Vol
    rank: int = 4
    flat: str | None = None      # the flatten layer's name, while it is pending
    layout: Layout | None = None     # None: [N, C, H, W] (rank 4) or [N, C] (rank 2)

    def onnx_dims(self, batch: int) -> list[int]:
        """The dimensions ONNX gives it: [N, C, H, W], or [N, C] for a vector."""
        if self.layout is not None:
            return list(self.layout.dims)
        h, w, c = self.vol
        return [batch, c, h, w] if self.rank == 4 else [batch, c]


@dataclass
class Const:
    """A constant: ``values`` flat (None for a weight too large to decode: only its dims are
    known); ``param`` where it is, or is reshaped from, an initializer."""
    dims: tuple[int, ...]
    values: Sequence[Scalar] | None
    param: bool = False

    @property
    def scalar(self) -> Scalar | None:
        return self.values[0] if self.values is not None and len(self.values) == 1 else None


class Keep:
    """The default of :meth:`~.convert.Converter.emit`'s ``layout``: the first input's."""


KEEP = Keep()


class Failed:
    """The output of a node that could not be converted (its error is reported once)."""


FAILED = Failed()
INTERNAL = Failed()        # a value inside a pattern (read only by the pattern's own nodes)

Value = Act | Const | Failed     # what an ONNX value name holds during the conversion


class Unsupported(Exception):
    """A node archcalc cannot convert: ``what`` says why (the op, or the variant of it)."""

    def __init__(self, what: str, op: bool = False):
        super().__init__(what)
        self.what = what
        self.op = op                 # the op itself is unknown (grouped per op type)


class Skipped(Exception):
    """A node that reads ``value``, the output of a node that could not be converted: it is not
    converted either, and is counted with that node's error rather than reported."""

    def __init__(self, value: str):
        super().__init__(value)
        self.value = value


def sorted_axes(axes: Iterable[int], rank: int) -> list[int]:
    """``axes`` of a rank-``rank`` tensor with negative ones counted from the end, sorted."""
    return sorted(a + rank if a < 0 else a for a in axes)


def constant(node: wire.Node) -> Const:
    """The value of a Constant node."""
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
