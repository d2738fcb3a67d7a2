"""Tokens: the ops of vision transformers that are not attention itself.

A token sequence is a volume 1×N×C: N tokens of C channels each, in the order PyTorch's
``x.flatten(2).transpose(1, 2)`` gives them (row by row). A map whose every place is a token
(Swin and MaxViT keep their H×W grid, channels last) is an H×W×C volume as any other. The ops
here act **per token** (per place): ``linear`` is PyTorch's ``nn.Linear`` over the channels of
each token (of a 1×1×C vector, the same as ``fc``), ``layer_scale`` multiplies each channel by a
learned factor. ``tokens`` turns a map into a sequence, ``untokens`` a sequence back into a map;
``class_token`` prepends learned tokens, ``pos_embed`` adds a learned embedding per token and
channel, ``take_token`` keeps one token (ViT's ``x[:, 0]``), ``patch_merge`` concatenates each
2×2 neighbourhood (Swin), and ``drop_path`` (stochastic depth) is the identity at inference.
Every definition is written out in docs/definitions.md ("Tokens and attention").
"""
from __future__ import annotations

from collections.abc import Sequence
from math import isqrt
from typing import Any

from ..errors import SourcePos, error
from . import derive as dv
from .base import GLOBAL, IDENTITY, At, Attrs, Op, RFKind, RFStep, check_channels
from .dense import FC
from .elementwise import Dropout
from .values import Vol, as_float, as_int, as_pair
from .words import counted

TOKENS_NOTE = "a token sequence is 1×N×C (docs/definitions.md, \"Tokens and attention\")"


def _is_sequence(v: Vol) -> bool:
    return v[0] == 1


class Tokens(Op):
    """A map H×W×C as a sequence of its H·W places (a view: ``x.flatten(2).transpose(1, 2)``
    copies nothing an eager run keeps). Each token sees what its place saw."""
    kind = "tokens"
    names = ("to_tokens", "flatten_tokens")
    view = True
    # the doc_string of the Reshape archcalc's export writes for it, read back by the importer
    # (a map of one row is already a sequence: its Reshape changes nothing but the name)
    ONNX_DOC = "archcalc: tokens"

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        h, w, c = ins[0]
        return (1, h * w, c)

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        h, w, c = ins[0]
        return [dv.given("out_h", "output height", "1", 1, TOKENS_NOTE),
                dv.product("out_w", "tokens", [("H", h), ("W", w)], "one token per place"),
                dv.given("out_c", "output depth", "C", c),
                *dv.no_params_no_macs("a reshape does no arithmetic (a view: nothing copied)")]

    def describe(self, a: Attrs) -> str:
        return "map → tokens"


class Untokens(Op):
    """A sequence 1×N×C back into a map H×W×C with H·W = N (``size``: [H, W]; by default the
    square one, H = W = √N). The inverse view of ``tokens``."""
    kind = "untokens"
    names = ("from_tokens", "to_map")
    ATTRS = {"size": None}
    view = True
    ONNX_DOC = "archcalc: untokens"     # as tokens' (a size of [1, N] changes nothing)

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return None if value is None else as_pair(value, name, pos)

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        h0, n, c = ins[0]
        n *= h0
        if a["size"] is None:
            side = isqrt(n)
            if side * side != n:
                raise error(f"{counted(n, 'token')} make no square map", at.pos, layer=at.layer,
                            hint="give the map's size: {op: untokens, size: [H, W]} with "
                                 f"H·W = {n}" + (" (a class token is still there: take_token "
                                                 "or drop it first)" if isqrt(n - 1) ** 2 ==
                                                n - 1 else ""))
            return (side, side, c)
        h, w = a["size"]
        if h * w != n:
            raise error(f"size {h}×{w} holds {h * w:,} places, the input has "
                        f"{counted(n, 'token')}", at.pos, layer=at.layer,
                        hint=f"give a size whose H·W is {n}")
        return (h, w, c)

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        n = ins[0][0] * ins[0][1]
        how = "√N" if a["size"] is None else "size"
        return [dv.given("out_h", "output height", how, out[0], f"H·W = N = {n:,}"),
                dv.given("out_w", "output width", how, out[1]),
                dv.given("out_c", "output depth", "C", out[2]),
                *dv.no_params_no_macs("a reshape does no arithmetic (a view: nothing copied)")]

    def describe(self, a: Attrs) -> str:
        return "tokens → map"


class ClassToken(Op):
    """``count`` learned tokens (ViT's class token; DeiT adds a distillation token, others
    register tokens) put before the sequence: 1×N×C → 1×(N + count)×C, with count·C
    parameters. The new tokens see nothing of the image yet (their field is the sequence's)."""
    kind = "class_token"
    names = ("cls_token", "prepend_tokens")
    ATTRS = {"count": 1}

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return as_int(value, name, pos)

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        h, n, c = ins[0]
        if h != 1:
            raise error(f"class_token reads a token sequence (1×N×C), got a {h}×{n}×{c} map",
                        at.pos, layer=at.layer, hint="put {op: tokens} before it")
        return (1, n + a["count"], c)

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        return (a["count"] * ins[0][2], 0)

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        _, n, c = ins[0]
        t = a["count"]
        return [dv.given("out_h", "output height", "1", 1, TOKENS_NOTE),
                dv.Derivation("out_w", "tokens", "N + T", f"{n} + {t}", n + t, {"N": n, "T": t},
                              "the learned tokens first"),
                dv.given("out_c", "output depth", "C", c),
                dv.product("params", "parameters", [("T", t), ("C", c)],
                           "one learned vector per token, shared by every image"),
                dv.zero("macs", "MACs", "a concatenation does no arithmetic")]

    def describe(self, a: Attrs) -> str:
        return "1 token" if a["count"] == 1 else f"{a['count']} tokens"


class PosEmbed(Op):
    """A learned position embedding added to every token: parameters N·C for a sequence (H·W·C
    for a map), one per element of one image. ``tokens``: the N it was made for, checked."""
    kind = "pos_embed"
    names = ("position_embedding", "pos_embedding")
    ATTRS = {"tokens": None}

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return None if value is None else as_int(value, name, pos)

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        h, w, _ = ins[0]
        n = a["tokens"]
        if n is not None and n != h * w:
            extra = h * w - n
            raise error(f"the position embedding holds {counted(n, 'token')}, the input has "
                        f"{h * w:,}", at.pos, layer=at.layer,
                        hint=(f"a class token adds {extra} before it: tokens: {h * w}"
                              if 0 < extra <= 8 else
                              f"set tokens: {h * w}, or change the input size (a {n}-token "
                              "embedding fits one input size: the number of patches it was "
                              "trained on)"))
        return ins[0]

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        h, w, c = ins[0]
        return (h * w * c, 0)

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        h, w, c = ins[0]
        return dv.same_volume(ins[0]) + [
            dv.product("params", "parameters", [("N", h * w), ("C", c)],
                       "a learned value per token and channel"),
            dv.zero("macs", "MACs", "its N·C additions are element-wise: not counted as MACs")]


class TakeToken(Op):
    """One token of a sequence, 1×N×C → 1×1×C (ViT's class token ``x[:, 0]``; ``index``
    counts from 0, negative from the end). A view."""
    kind = "take_token"
    names = ("select_token",)
    ATTRS = {"index": 0}
    view = True

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return as_int(value, name, pos, minimum=-(1 << 30))

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        h, n, c = ins[0]
        i = a["index"]
        if h != 1:
            raise error(f"take_token reads a token sequence 1×N×C, the input is a {h}×{n}×{c} "
                        "map", at.pos, layer=at.layer,
                        hint="make the map a sequence first: {op: tokens}")
        if not -n <= i < n:
            raise error(f"take_token index {i} of a sequence of {counted(n, 'token')}",
                        at.pos, layer=at.layer, hint=f"give an index from {-n} to {n - 1}")
        return (1, 1, c)

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        return [dv.given("out_h", "output height", "1", 1, f"token {a['index']} of the sequence"),
                dv.given("out_w", "output width", "1", 1),
                dv.given("out_c", "output depth", "C", out[2]),
                *dv.no_params_no_macs("an index does no arithmetic (a view)")]

    def describe(self, a: Attrs) -> str:
        return f"token {a['index']}"


class Linear(FC):
    """PyTorch's ``nn.Linear`` on the channels of each token (or place) on its own: H×W×C →
    H×W×units with C·units weights (+ units biases), shared by every token; MACs H·W·C·units.
    On a 1×1×C vector it is ``fc``. (``fc`` flattens its whole input first; the attributes and
    their checks are fc's.)"""
    kind = "linear"
    names = ("dense", "token_fc")

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        return IDENTITY                 # each token sees what it saw

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        h, w, c = ins[0]
        check_channels(a.get("in_features"), c, "in_features", at)
        return (h, w, a["units"])

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        c, n = ins[0][2], a["units"]
        return (c * n + (n if a["bias"] else 0), 0)

    def macs(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> int:
        h, w, c = ins[0]
        units: int = a["units"]
        return h * w * c * units

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        (h, w, c), n = ins[0], a["units"]
        bias = ("N", n) if a["bias"] else None
        return [dv.given("out_h", "output height", "H", h, "per token: the places are kept"),
                dv.given("out_w", "output width", "W", w),
                dv.given("out_c", "output depth", "N", n, "units"),
                dv.product("params", "parameters", [("C", c), ("N", n)],
                           "one weight matrix shared by every token"
                           + (", plus one bias per unit" if bias else "; no bias"), plus=bias),
                dv.product("macs", "MACs", [("H", h), ("W", w), ("C", c), ("N", n)],
                           "C·N per token; biases not counted")]



class LayerScale(Op):
    """A learned factor per channel (CaiT, ConvNeXt's γ): C parameters, the volume unchanged;
    its multiplications are element-wise, not MACs."""
    kind = "layer_scale"
    names = ("layerscale",)
    ATTRS = {"init": 1e-6}

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return as_float(value, name, pos)

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        return (ins[0][2], 0)

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        return dv.same_volume(ins[0]) + [
            dv.given("params", "parameters", "C", ins[0][2], "one learned factor per channel"),
            dv.zero("macs", "MACs", dv.NOT_COUNTED)]


class DropPath(Dropout):
    """Stochastic depth: in training, drops a residual branch for a whole image with
    probability ``rate``; at inference the identity (a view: no work, no memory). Its rate is
    checked as dropout's."""
    kind = "drop_path"
    names = ("stochastic_depth", "droppath")
    ATTRS = {"rate": 0.1}
    # the doc_string of the Identity archcalc's export writes for it (then rate), read back by
    # the importer: an exported spec imports with its stochastic depth
    ONNX_DOC = "archcalc: drop_path, rate "
    inplace = False
    view = True

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        return dv.same_volume(ins[0]) + dv.no_params_no_macs(
            "the identity at inference; in training a mask per image")

    def describe(self, a: Attrs) -> str:
        return f"p={a['rate']:g}"


class PatchMerge(Op):
    """Swin's patch merging without its norm and projection: each 2×2 neighbourhood's four
    tokens concatenated, H×W×C → H/2×W/2×4C, in Swin's order (top-left, bottom-left, top-right,
    bottom-right). An odd H or W is padded by one row or column first, as torchvision does. The
    field grows as a 2×2 window of stride 2 would."""
    kind = "patch_merge"
    names = ("patch_merging",)
    # the doc_string of the Pad archcalc's export writes for an odd size: the importer tells it
    # from a pad layer before the merging (or a transposed convolution's output padding)
    ONNX_DOC = "archcalc: patch_merge, odd sizes padded"

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        h, w, c = ins[0]
        return ((h + 1) // 2, (w + 1) // 2, 4 * c)

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        return RFStep((2, 2), (2, 2), (0.0, 0.0))

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        h, w, c = ins[0]
        return [dv.Derivation("out_h", "output height", "⌈H/2⌉", f"⌈{h}/2⌉", out[0], {"H": h},
                              "an odd size is padded by one first"),
                dv.Derivation("out_w", "output width", "⌈W/2⌉", f"⌈{w}/2⌉", out[1], {"W": w}),
                dv.product("out_c", "output depth", [("4", 4), ("C", c)],
                           "the 2×2 neighbours' channels side by side"),
                *dv.no_params_no_macs("a rearrangement does no arithmetic")]

    def describe(self, a: Attrs) -> str:
        return "2×2 → 4C"


__all__ = ["Tokens", "Untokens", "ClassToken", "PosEmbed", "TakeToken", "Linear", "LayerScale",
           "DropPath", "PatchMerge", "GLOBAL"]
