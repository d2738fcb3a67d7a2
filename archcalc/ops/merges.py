"""Merges of two or more branches: concatenation along depth, element-wise sum."""
from __future__ import annotations

from .. import derive as dv
from ..errors import error
from .base import (MERGE, Op, Vol)


class Concat(Op):
    """Concatenation along depth: spatial sizes must agree."""
    kind = "concat"
    arity = None

    def shape(self, a, ins, at):
        if any(v[:2] != ins[0][:2] for v in ins):
            raise error("concat needs inputs of the same height and width, got "
                        + _listing(at.inputs, ins), at.pos, layer=at.layer,
                        hint="resize the branches (stride, padding or pooling) so that their "
                             "spatial sizes agree")
        return (ins[0][0], ins[0][1], sum(v[2] for v in ins))

    def explain(self, a, ins, out, rounding):
        subs = "".join("₁₂₃₄₅₆₇₈₉"[i] if i < 9 else f"_{i + 1}" for i in range(len(ins)))
        terms = " + ".join(f"C{s}" for s in subs)
        return [dv.given("out_h", "output height", "H", ins[0][0], "every input has it"),
                dv.given("out_w", "output width", "W", ins[0][1]),
                dv.Figure("out_c", "output depth", terms, " + ".join(str(v[2]) for v in ins),
                          out[2], {f"C{s}": v[2] for s, v in zip(subs, ins)},
                          "channels stacked"),
                *dv.no_params_no_macs("copying is not counted")]

    def rf_step(self, a, ins):
        return MERGE


class Add(Op):
    """Element-wise sum: volumes must agree exactly."""
    kind = "add"
    arity = None

    def shape(self, a, ins, at):
        if any(v != ins[0] for v in ins):
            raise error("add needs inputs of the same volume, got " + _listing(at.inputs, ins),
                        at.pos, layer=at.layer,
                        hint="project the skip path (a 1×1 conv with the main path's stride and "
                             "filters) so that both volumes agree")
        return ins[0]

    def explain(self, a, ins, out, rounding):
        return dv.same_volume(ins[0]) + dv.no_params_no_macs()

    def rf_step(self, a, ins):
        return MERGE


def _listing(names: tuple[str, ...], vols: list[Vol]) -> str:
    return ", ".join(f"{n} {v[0]}×{v[1]}×{v[2]}" for n, v in zip(names, vols))
