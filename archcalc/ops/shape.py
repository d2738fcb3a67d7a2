"""Ops that only reshape or supply a volume: flatten, the network input."""
from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

from ..errors import SourcePos, error
from . import derive as dv
from .base import GLOBAL, IDENTITY, REQUIRED, At, Attrs, Op, RFKind, RFStep
from .values import Vol, as_volume


class Flatten(Op):
    kind = "flatten"
    view = True

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        return (1, 1, prod(ins[0]))

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        h, w, c = ins[0]
        return [dv.given("out_h", "output height", "1", 1, "a vector (a view: nothing is copied)"),
                dv.given("out_w", "output width", "1", 1),
                dv.product("out_c", "output depth", [("H", h), ("W", w), ("C", c)]),
                *dv.no_params_no_macs("a reshape does no arithmetic")]


class Input(Op):
    kind = "input"
    arity = 0

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        return [dv.given("out_h", "output height", "H", out[0], "the input"),
                dv.given("out_w", "output width", "W", out[1]),
                dv.given("out_c", "output depth", "C", out[2]),
                *dv.no_params_no_macs("")]


class Opaque(Op):
    """A node of an imported ONNX model whose op archcalc does not know, kept where the user
    asked for it (``--unknown passthrough``): its output volume is the one ONNX shape inference
    gives (``output``), else its first input's. Its parameters and MACs are **not counted**
    (they are unknown, not zero), every view marks it, and analysis warns about it. Receptive
    fields pass through it unchanged where it keeps the spatial size; where it changes the size
    they cannot be followed, and it is an error."""
    kind = "opaque"
    ATTRS = {"onnx_op": REQUIRED, "output": None}
    arity = 2              # one or more inputs (checked in shape)

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        if name == "onnx_op":
            return str(value)
        if value is None:
            return None
        return as_volume(value, pos)

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        if not ins:
            raise error(f"the ONNX {a['onnx_op']} node has no input archcalc follows", at.pos,
                        layer=at.layer)
        out = a["output"] or ins[0]
        if out[:2] != ins[0][:2] and out[:2] != (1, 1):
            raise error(f"the ONNX {a['onnx_op']} node changes the size {ins[0][0]}×{ins[0][1]} "
                        f"→ {out[0]}×{out[1]}, and archcalc does not know how: receptive fields "
                        "and the layers after it cannot be followed", at.pos, layer=at.layer,
                        hint="only ops that keep the size (or give a vector) pass through")
        return out

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        out = a["output"] or ins[0]
        return IDENTITY if out[:2] == ins[0][:2] else GLOBAL

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        why = f"ONNX {a['onnx_op']}: archcalc does not know this op; not counted"
        return [dv.given("out_h", "output height", "H", out[0], "ONNX shape inference"
                         if a["output"] else "taken as the input's (shape-preserving)"),
                dv.given("out_w", "output width", "W", out[1]),
                dv.given("out_c", "output depth", "C", out[2]),
                dv.zero("params", "parameters", why), dv.zero("macs", "MACs", why)]

    def describe(self, a: Attrs) -> str:
        return f"ONNX {a['onnx_op']} (not counted)"
