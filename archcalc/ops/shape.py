"""Ops that only reshape or supply a volume: flatten, the network input."""
from __future__ import annotations

from math import prod

from .. import derive as dv
from .base import (Op)


class Flatten(Op):
    kind = "flatten"
    view = True

    def shape(self, a, ins, at):
        return (1, 1, prod(ins[0]))

    def explain(self, a, ins, out, rounding):
        h, w, c = ins[0]
        return [dv.given("out_h", "output height", "1", 1, "a vector (a view: nothing is copied)"),
                dv.given("out_w", "output width", "1", 1),
                dv.product("out_c", "output depth", [("H", h), ("W", w), ("C", c)]),
                *dv.no_params_no_macs("a reshape does no arithmetic")]


class Input(Op):
    kind = "input"
    arity = 0

    def explain(self, a, ins, out, rounding):
        return [dv.given("out_h", "output height", "H", out[0], "the input"),
                dv.given("out_w", "output width", "W", out[1]),
                dv.given("out_c", "output depth", "C", out[2]),
                *dv.no_params_no_macs("")]
