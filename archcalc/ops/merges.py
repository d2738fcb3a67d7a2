"""Merges of two or more branches: concatenation along depth, element-wise sum and product
(broadcast per axis as numpy does)."""
from __future__ import annotations

from collections.abc import Sequence

from ..errors import error
from . import derive as dv
from .base import MERGE, At, Attrs, Op, RFKind, RFStep
from .values import Vol


class Concat(Op):
    """Concatenation along depth: spatial sizes must agree."""
    kind = "concat"
    arity = None

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        if any(v[:2] != ins[0][:2] for v in ins):
            raise error("concat needs inputs of the same height and width, got "
                        + _listing(at.inputs, ins), at.pos, layer=at.layer,
                        hint="resize the branches (stride, padding or pooling) so that their "
                             "spatial sizes agree")
        return (ins[0][0], ins[0][1], sum(v[2] for v in ins))

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        subs = "".join("₁₂₃₄₅₆₇₈₉"[i] if i < 9 else f"_{i + 1}" for i in range(len(ins)))
        terms = " + ".join(f"C{s}" for s in subs)
        return [dv.given("out_h", "output height", "H", ins[0][0], "every input has it"),
                dv.given("out_w", "output width", "W", ins[0][1]),
                dv.Derivation("out_c", "output depth", terms, " + ".join(str(v[2]) for v in ins),
                          out[2], {f"C{s}": v[2] for s, v in zip(subs, ins)},
                          "channels stacked"),
                *dv.no_params_no_macs("copying is not counted")]

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        return MERGE


AXES = ("height", "width", "depth")


def broadcast(kind: str, ins: Sequence[Vol], at: At) -> Vol:
    """The output volume of an element-wise merge: per axis (height, width, depth) as numpy
    broadcasts, every input's size equal or 1, the output the largest. Anything else is one error
    naming every input's volume, each axis that does not fit and how to fix it."""
    out, bad = [], []
    for ax in range(3):
        sizes = {v[ax] for v in ins}
        if len(sizes - {1}) > 1:
            bad.append(ax)
        out.append(max(sizes))
    if not bad:
        return (out[0], out[1], out[2])
    axes = " and ".join(f"{AXES[ax]} ({' vs '.join(str(v[ax]) for v in ins)})" for ax in bad)
    verb = "do not fit" if len(bad) > 1 else "does not fit"
    if kind == "add" and all(v[:2] == ins[0][:2] or v[:2] == (1, 1) for v in ins) \
            and bad == [2]:
        hint = ("project the narrower branch with a 1×1 conv of "
                f"{max(v[2] for v in ins)} filters so that the depths agree")
    elif kind == "add":
        hint = ("project the skip path (a 1×1 conv with the main path's stride and filters) so "
                "that both volumes agree")
    elif bad == [2]:
        hint = (f"give the gate the main path's {max(v[2] for v in ins)} channels (its last "
                "conv's filters), or make it one channel (H×W×1) to scale every channel alike")
    else:
        hint = ("a gate is 1×1×C (global pooling, then 1×1 convs) or has the main path's height "
                "and width: pool or resize it so that each of its sizes is 1 or the main path's")
    raise error(f"{kind} needs inputs of the same volume, got {_listing(at.inputs, ins)}: the "
                f"{axes} {verb}, and broadcasting needs each axis equal or 1 on one side",
                at.pos, layer=at.layer, hint=hint)


class _Broadcast(Op):
    """An element-wise merge of two or more inputs with numpy's broadcasting per axis (height,
    width, depth): equal volumes, or a volume and a 1×1×C or H×W×1 tensor (squeeze-and-excitation
    and attention gates). No weights; its work is element-wise, not counted as MACs."""
    arity = None
    word = ""

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        return broadcast(self.kind, ins, at)

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        spread = [i for i, v in enumerate(ins) if v != out]
        if not spread:
            return dv.same_volume(ins[0]) + dv.no_params_no_macs(self.not_counted(out))
        subs = "₁₂₃₄₅₆₇₈₉"
        figs = []
        for ax, (key, label, sym) in enumerate((("out_h", "output height", "H"),
                                                ("out_w", "output width", "W"),
                                                ("out_c", "output depth", "C"))):
            terms = [f"{sym}{subs[i] if i < 9 else i + 1}" for i in range(len(ins))]
            figs.append(dv.Derivation(key, label, f"max({', '.join(terms)})",
                                  f"max({', '.join(str(v[ax]) for v in ins)})", out[ax],
                                  {t: v[ax] for t, v in zip(terms, ins)},
                                  "broadcast: each input's size is the output's or 1"))
        return figs + dv.no_params_no_macs(self.not_counted(out))

    def not_counted(self, out: Vol) -> str:
        h, w, c = out
        return (f"element-wise work ({self.word} over {h}·{w}·{c} = {h * w * c:,} output elements) "
                "is not counted as MACs: only conv and fc are, as in torchvision's GFLOPS "
                "(docs/definitions.md)")

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        return MERGE


class Add(_Broadcast):
    """Element-wise sum: equal volumes (a residual connection), or broadcast as ``mul``."""
    kind = "add"
    word = "additions"


class Mul(_Broadcast):
    """Element-wise product, broadcast: a volume times a 1×1×C gate (squeeze-and-excitation) or
    an H×W×1 map (spatial attention)."""
    kind = "mul"
    names = ("multiply",)
    word = "multiplications"


def _listing(names: Sequence[str], vols: Sequence[Vol]) -> str:
    return ", ".join(f"{n} {v[0]}×{v[1]}×{v[2]}" for n, v in zip(names, vols))
