"""Multi-head attention (Vaswani et al. 2017; ViT, Swin, MaxViT), as one layer.

Over an input of H×W×C (a token sequence is 1×N×C) with ``heads`` heads of ``head_dim``
channels each (D = heads·head_dim, by default D = C): a projection of each token to a query, a
key and a value of D channels (``qkv_bias``: with biases), for every head the scores QKᵀ of
every query against the keys of its group, their softmax, the weighted sum of the values, and an
output projection D → C (``proj``). The group a token attends to is every token (global), its
``window`` of M×M places (Swin; ``shift`` places cyclically first, as Swin's shifted windows),
or its ``grid`` cell (MaxViT: the G×G tokens spaced H/G apart). ``relpos``: a learned
relative-position bias per head and offset, (2M − 1)²·heads parameters, and the index that
spreads it over the M²×M² pairs (a buffer, as PyTorch registers it). A second input makes it
cross-attention: queries from the first, keys and values from the second (of the same width,
or of ``kv_channels``: PyTorch's ``kdim``/``vdim``).

MACs, per image (torchvision's convention, docs/definitions.md "Tokens and attention"):
projections N·C·3D (cross: N·C·D + N₂·C₂·2D) and N·D·C, QKᵀ and the weighted sum N·G·D each,
N tokens, G the tokens of a group. The attention matrix, heads·N·G elements, is held while the
layer runs (the liveness peak) and kept for the backward pass (the training estimate).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import SourcePos, error
from . import derive as dv
from .base import GLOBAL, REQUIRED, At, Attrs, Op, RFKind, RFStep
from .values import Vol, as_bool, as_int, as_pair
from .words import counted


def _divisors_near(n: int, m: int) -> str:
    """Sizes near ``n`` that ``m`` divides."""
    lo, hi = n - n % m, n - n % m + m
    return " or ".join(str(x) for x in (lo, hi) if x > 0)


class Attention(Op):
    kind = "attention"
    names = ("mhsa", "self_attention", "multihead_attention", "msa")
    ATTRS = {"heads": REQUIRED, "head_dim": None, "qkv_bias": True, "proj": True,
             "proj_bias": True, "window": None, "shift": 0, "grid": None, "relpos": False,
             "kv_channels": None}
    arity = 2                       # one input (self-attention) or two (cross); checked in shape
    weight_layer = True
    # the doc_string of the last node archcalc's export writes for it (its output): the
    # importer's walk from the weighted sum ends there, and the next attention's walk to its
    # input stops there (views of two attentions meet without a layer between them)
    ONNX_DOC = "archcalc: attention"
    # added to it for a grid: a grid whose cells are one place or the whole map along each axis
    # holds the places of windows too (the same arithmetic), which archcalc's field tells apart
    ONNX_GRID = ", grid"

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        if name in ("heads", "head_dim", "kv_channels"):
            return None if value is None else as_int(value, name, pos)
        if name in ("window", "grid"):
            return None if value is None else as_pair(value, name, pos)
        if name == "shift":
            return as_pair(value, name, pos, minimum=0)
        return as_bool(value, name, pos)

    # --- the sizes everything else follows from -------------------------------------------

    def inner(self, a: Attrs, c: int) -> int:
        """D: the channels of the queries, keys and values (all heads)."""
        heads: int = a["heads"]
        return heads * (a["head_dim"] if a["head_dim"] is not None else c // heads)

    def group(self, a: Attrs, ins: Sequence[Vol]) -> int:
        """G: the tokens each query attends to."""
        if len(ins) > 1:
            return ins[1][0] * ins[1][1]
        h, w, _ = ins[0]
        part = a["window"] or a["grid"]
        return part[0] * part[1] if part else h * w

    def table(self, a: Attrs) -> tuple[int, int]:
        """(bias table, index buffer) of the relative-position bias, or (0, 0)."""
        if not a["relpos"]:
            return (0, 0)
        mh, mw = a["window"] or a["grid"]
        return ((2 * mh - 1) * (2 * mw - 1) * a["heads"], (mh * mw) ** 2)

    # --- the op's rules ----------------------------------------------------------------------

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        h, w, c = ins[0]
        heads, hd = a["heads"], a["head_dim"]
        where: dict[str, Any] = {"pos": at.pos, "layer": at.layer}
        if len(ins) > 2:
            raise error(f"attention reads one input (self-attention) or two (queries, then keys "
                        f"and values), got {len(ins)}", **where)
        if hd is None and c % heads:
            ok = [d for d in range(1, c + 1) if c % d == 0 and abs(d - heads) <= max(4, heads)]
            raise error(f"{counted(heads, 'head')} do not divide the {counted(c, 'channel')}",
                        **where, hint=f"use heads: {' or '.join(map(str, ok[-3:]))} (a divisor "
                                      f"of {c}), or give head_dim")
        if a["window"] and a["grid"]:
            raise error("attention takes a window or a grid, not both", **where,
                        hint="MaxViT's block and grid attentions are two layers")
        if a["relpos"] and not (a["window"] or a["grid"]):
            raise error("a relative-position bias needs a window or a grid (its table is "
                        "(2M − 1)² per head for an M×M window)", **where,
                        hint="add window: M, or drop relpos")
        if any(a["shift"]) and not a["window"]:
            raise error("a shift moves windows: it needs window", **where)
        if len(ins) == 2:
            if a["window"] or a["grid"]:
                raise error("cross-attention attends to the whole second input: no window or "
                            "grid", **where)
            ck = ins[1][2]
            if ck != (a["kv_channels"] or c):
                src = at.inputs[1] if len(at.inputs) > 1 else "the second input"
                raise error(f"the keys and values come from {src} with "
                            f"{counted(ck, 'channel')}, the queries' input has {c}"
                            + (f" and kv_channels is {a['kv_channels']}" if a["kv_channels"]
                               else ""), **where,
                            hint=f"set kv_channels: {ck} (PyTorch's kdim and vdim) to project "
                                 f"{ck} channels, or give the second input {c}")
        elif a["kv_channels"] is not None:
            raise error("kv_channels is the width of a second input (cross-attention); this "
                        "attention reads one", **where, hint="add the keys' input: "
                                                             "inputs: [queries, keys]")
        part = a["window"] or a["grid"]
        if part:
            what = "window" if a["window"] else "grid"
            if h == 1 and w > 1 and part[0] > 1:
                raise error(f"a {what} partitions a map H×W, the input is a token sequence "
                            f"1×{w}", **where,
                            hint="make it a map first ({op: untokens}), or attend over the "
                                 f"whole sequence (leave {what} out)")
            for size, m, axis in ((h, part[0], "height"), (w, part[1], "width")):
                if m > size:
                    raise error(f"the {m}-wide {what} is larger than the map's {axis} {size}",
                                **where, hint=f"use {what}: {size} (torchvision's Swin shrinks "
                                              "a window to the map and drops its shift)")
                if size % m:
                    raise error(
                        f"the {what} {m} does not divide the map's {axis} {size}", **where,
                        hint=f"inputs whose {axis} here is {_divisors_near(size, m)} work"
                             + (f"; a Swin implementation pads the map to "
                                f"{size + (-size) % m} first (padding archcalc does not add)"
                                if what == "window" else
                                "; MobileViT resizes the map to a multiple of its patch first "
                                "(archcalc does not)"))
            for s, m in zip(a["shift"], part):
                if s >= m:
                    raise error(f"a shift of {s} is not less than the window {m}", **where,
                                hint=f"Swin shifts by half the window: shift: {m // 2}")
        return (h, w, c if a["proj"] else self.inner(a, c))

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        c = ins[0][2]
        d = self.inner(a, c)
        ckv = ins[1][2] if len(ins) > 1 else c
        qkv = c * d + 2 * ckv * d + (3 * d if a["qkv_bias"] else 0)
        proj = (d * c + (c if a["proj_bias"] else 0)) if a["proj"] else 0
        table, index = self.table(a)
        return (qkv + proj + table, index)

    def macs(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> int:
        return sum(term for _, _, term in self.terms(a, ins))

    def terms(self, a: Attrs, ins: Sequence[Vol]) -> list[tuple[str, str, int]]:
        """The MACs term by term: (key, formula, value)."""
        h, w, c = ins[0]
        n, d, g = h * w, self.inner(a, c), self.group(a, ins)
        if len(ins) > 1:
            hk, wk, ck = ins[1]
            proj_in = [("q", "N·C·D", n * c * d), ("kv", "N₂·C₂·2D", hk * wk * ck * 2 * d)]
        else:
            proj_in = [("qkv", "N·C·3D", n * c * 3 * d)]
        out = [("proj", "N·D·C", n * d * c)] if a["proj"] else []
        return [*proj_in, ("scores", "N·G·D", n * g * d), ("weighted", "N·G·D", n * g * d), *out]

    def scratch(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> int:
        """The attention matrix: heads·N·G elements per image."""
        h, w, _ = ins[0]
        return int(a["heads"]) * h * w * self.group(a, ins)

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        if not a["window"] or tuple(a["window"]) == tuple(ins[0][:2]):    # one window: global
            return GLOBAL
        # a token sees its M×M window, aligned to the M grid (moved by the shift): the farthest
        # token of it is up to M − 1 away on either side, so the envelope centred on each token
        # that holds every token's window is 2M − 1 wide (docs/definitions.md)
        mh, mw = a["window"]
        return RFStep((2 * mh - 1, 2 * mw - 1), (1, 1), (mh - 1, mw - 1))

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        h, w, c = ins[0]
        n, d, g, heads = h * w, self.inner(a, c), self.group(a, ins), a["heads"]
        hd = d // heads
        part = a["window"] or a["grid"]
        gnote = ("every token" if not part and len(ins) == 1 else
                 "every token of the second input" if len(ins) > 1 else
                 f"a {part[0]}×{part[1]} {'window' if a['window'] else 'grid cell'}"
                 + (f", shifted by {a['shift'][0]}×{a['shift'][1]}" if any(a["shift"]) else ""))
        ckv = ins[1][2] if len(ins) > 1 else c
        figs = [dv.given("out_h", "output height", "H", h, "every token gives one"),
                dv.given("out_w", "output width", "W", w),
                dv.given("out_c", "output depth", "C" if a["proj"] else "D", out[2],
                         "the output projection maps D back to C" if a["proj"]
                         else "no output projection: heads·head_dim")]
        # (formula, worked, value) of each part of the parameters
        parts = [("C·3D", f"{c}·3·{d}", 3 * c * d) if len(ins) == 1 else
                 ("C·D + C₂·2D", f"{c}·{d} + {ckv}·2·{d}", c * d + 2 * ckv * d)]
        if a["qkv_bias"]:
            parts.append(("3D", f"{3 * d}", 3 * d))
        if a["proj"]:
            parts.append(("D·C", f"{d}·{c}", d * c))
            if a["proj_bias"]:
                parts.append(("C", f"{c}", c))
        table, index = self.table(a)
        if table:
            mh, mw = part
            parts.append(("(2M−1)²·heads", f"{2 * mh - 1}·{2 * mw - 1}·{heads}", table))
        total = sum(v for _, _, v in parts)
        figs.append(dv.Derivation(
            "params", "parameters", " + ".join(f for f, _, _ in parts),
            " + ".join(w for _, w, _ in parts), total,
            {"C": c, "D": d, "heads": heads, "head_dim": hd},
            "the q, k, v projections (C·3D, + 3D biases)"
            + (", the output projection (D·C + C)" if a["proj"] else "")
            + (", the relative-position bias table" if table else "")
            + f"; D = heads·head_dim = {heads}·{hd}; the same projections serve every token"))
        if index:
            figs.append(dv.given("buffers", "buffers", "M²·M²", index,
                                 "the relative-position index: a buffer, not parameters"))
        terms = self.terms(a, ins)
        figs.append(dv.Derivation(
            "macs", "MACs", " + ".join(f for _, f, _ in terms),
            " + ".join(f"{v:,}" for _, _, v in terms), sum(v for _, _, v in terms),
            {"N": n, "G": g, "C": c, "D": d},
            f"N = {n:,} tokens, each attending to G = {g:,} ({gnote}); QKᵀ and the weighted "
            "sum are N·G·head_dim per head; softmax and the bias not counted"))
        figs.append(dv.product("scratch", "attention matrix", [("heads", heads), ("N", n),
                                                               ("G", g)],
                               "held while it runs and kept for backward"))
        return figs

    def describe(self, a: Attrs) -> str:
        part = a["window"] or a["grid"]
        text = f"{a['heads']} heads"
        if part:
            text += f", {'window' if a['window'] else 'grid'} {part[0]}×{part[1]}"
            if any(a["shift"]):
                text += f" shift {a['shift'][0]}"
        return text


__all__ = ["Attention"]
