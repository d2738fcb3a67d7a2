"""Fully connected layers."""
from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

from ..errors import SourcePos
from . import derive as dv
from .base import GLOBAL, REQUIRED, At, Attrs, Op, RFKind, RFStep, check_channels
from .values import Vol, as_bool, as_int


class FC(Op):
    kind = "fc"
    names: tuple[str, ...] = ("fully_connected",)   # linear, dense: per token (ops.tokens)
    ATTRS = {"units": REQUIRED, "bias": True, "in_features": None}
    weight_layer = True

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        if name == "in_features":
            return None if value is None else as_int(value, name, pos)
        return as_int(value, name, pos) if name == "units" else as_bool(value, name, pos)

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        check_channels(a.get("in_features"), prod(ins[0]), "in_features", at)
        return (1, 1, a["units"])

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        n_in = prod(ins[0])
        return (n_in * a["units"] + (a["units"] if a["bias"] else 0), 0)

    def macs(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> int:
        units: int = a["units"]
        return prod(ins[0]) * units

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        return GLOBAL

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        (h, w, c), n = ins[0], a["units"]
        n_in = [("C", c)] if (h, w) == (1, 1) else [("H", h), ("W", w), ("C", c)]
        bias = ("N", n) if a["bias"] else None
        return [dv.given("out_h", "output height", "1", 1, "a vector"),
                dv.given("out_w", "output width", "1", 1),
                dv.given("out_c", "output depth", "N", n, "units"),
                dv.product("params", "parameters", [*n_in, ("N", n)],
                           "every input to every unit" + (", plus one bias per unit" if bias
                                                          else "; no bias"), plus=bias),
                dv.product("macs", "MACs", [*n_in, ("N", n)], "biases not counted")]

    def describe(self, a: Attrs) -> str:
        return f"{a['units']}" + ("" if a["bias"] else " no-bias")
