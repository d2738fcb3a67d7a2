"""Resampling: upsampling (nearest, bilinear), transposed convolution, explicit padding, centre
crop. Their receptive-field steps (docs/definitions.md, "Receptive field") divide the jump by the
upsampling factor (``RFStep.up``) or move the first centre by the padding or the crop's offset."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any, NamedTuple

from ..errors import NOWHERE, Places, SourcePos, error
from . import derive as dv
from .base import REQUIRED, At, Attrs, Op, RFKind, RFStep
from .values import Pair, Vol, as_bool, as_float, as_int, as_pair
from .words import counted

MODES = ("nearest", "bilinear")
PAD_MODES = ("constant", "reflect")


def _whole(x: float) -> float:
    """``x``, as an int where it is whole."""
    return int(x) if x.is_integer() else x


def _choice(value: Any, what: str, choices: tuple[str, ...], pos: SourcePos) -> str:
    if isinstance(value, str) and value.lower() in choices:
        return value.lower()
    raise error(f"{what} must be one of {', '.join(choices)}, got {value!r}", pos)


def nearest_step(sh: int, sw: int) -> RFStep:
    """The field step of an output pixel that reads the one input pixel under it, the grid made
    ``sh``×``sw`` times finer (pixel shuffle): a window of S with padding S − 1 over the finer
    grid (docs/definitions.md)."""
    return RFStep((sh, sw), (1, 1), (sh - 1, sw - 1), (sh, sw))


def _scale(value: Any, pos: SourcePos) -> tuple[float, float]:
    """One positive number (both axes) or a pair [h, w]; whole ones as ints."""
    pair = list(value) if isinstance(value, (list, tuple)) else [value, value]
    if len(pair) != 2:
        raise error(f"scale must be one number or a pair [h, w], got {value!r}", pos)
    out = []
    for v in pair:
        f = as_float(v, "scale", pos)
        if not f > 0 or math.isinf(f):
            raise error(f"scale must be a positive number, got {v!r}", pos,
                        hint="write scale: 2 to double the size, scale: 0.5 to halve it")
        out.append(_whole(f))
    return (out[0], out[1])


def _size_pair(value: Any, pos: SourcePos) -> Pair:
    return as_pair(value, "size", pos)


def scaled(n: int, s: float) -> int:
    """⌊n·s⌋, the size a scale gives (PyTorch's and ONNX's), exactly for a decimal scale."""
    return math.floor(n * Fraction(str(s)))


class ResizeAxis(NamedTuple):
    """How one axis of a resize from ``n`` to ``m`` places reads its input, in input pixels:
    unit o is centred at ``a + o·q`` (``q`` the jump between neighbouring units), and every
    pixel it reads lies within ``d`` of that centre (docs/definitions.md, "Resizing")."""
    q: Fraction
    a: Fraction
    d: Fraction


@lru_cache(maxsize=512)
def resize_axis(n: int, m: int, mode: str, aligned: bool) -> ResizeAxis:
    """The centres and reach of a resize of ``n`` places to ``m`` along one axis (exact, in
    integers over a common denominator D):

    * nearest (PyTorch's ``nearest``, ONNX's asymmetric coordinates with ``floor``): unit o reads
      pixel min(⌊o·n/m⌋, n − 1);
    * bilinear (PyTorch's ``align_corners=False``, ONNX's ``half_pixel``): x = (o + ½)·n/m − ½,
      clamped at 0; it reads ⌊x⌋ and, where x is not whole, ⌊x⌋ + 1 (clamped at n − 1);
    * bilinear with aligned corners: x = o·(n − 1)/(m − 1), read as above.

    The centre line is x for bilinear and the same half-pixel line for nearest (a = (q − 1)/2;
    0 with aligned corners); d is the largest distance from a unit's centre to a pixel it reads
    with a nonzero weight."""
    if aligned:
        qn, qd = (n - 1, m - 1) if m > 1 else (n, m)
        big_d = qd

        def centre(o: int) -> int:
            return o * qn
        a = Fraction(0)
    else:
        qn, qd = n, m
        big_d = 2 * m

        def centre(o: int) -> int:
            return (2 * o + 1) * n - m
        a = Fraction(n - m, 2 * m)
    reach = 0
    for o in range(m):
        c = centre(o)
        if mode == "nearest":
            read: tuple[int, ...] = (min(o * n // m, n - 1),)
        else:
            x = max(c, 0)
            i0 = min(x // big_d, n - 1)
            read = (i0, i0 + 1) if x > i0 * big_d and i0 + 1 < n else (i0,)
        for i in read:
            reach = max(reach, abs(i * big_d - c))
    return ResizeAxis(Fraction(qn, qd), a, Fraction(reach, big_d))


class RFResize(RFStep):
    """A resize's field step: per axis, a window of 1 + 2d input pixels that slides by q, its
    first centre a from pixel 0 (:func:`resize_axis`). ``k``, ``s`` and ``p`` hold the same step
    as floats for a reader of any :class:`RFStep`; the analysis uses the exact ``axes``."""
    __slots__ = ("axes",)

    def __init__(self, axes: tuple[ResizeAxis, ResizeAxis]):
        super().__init__(tuple(float(1 + 2 * x.d) for x in axes),       # type: ignore[arg-type]
                         tuple(float(x.q) for x in axes),               # type: ignore[arg-type]
                         tuple(float(x.d - x.a) for x in axes))         # type: ignore[arg-type]
        self.axes = axes


class Upsample(Op):
    """Resizing to any size: by a ``scale`` per axis (whole, or a fraction: the output is
    ⌊H·s⌋), or to a ``size``. ``nearest`` copies input pixel ⌊o·H/H′⌋ (PyTorch's
    mode='nearest'); ``bilinear`` interpolates as PyTorch's align_corners=False (half-pixel
    centres), or with ``align_corners: true`` the corner pixels' centres aligned. No weights;
    the interpolation's multiply-adds are not counted as MACs: element-wise work, as pooling
    (docs/definitions.md, "MACs and FLOPs" and "Resizing")."""
    kind = "upsample"
    names = ("upsampling", "interpolate", "resize", "upsample2d")
    ATTRS = {"mode": "nearest", "scale": None, "size": None, "align_corners": False}

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        if name == "mode":
            return _choice(value, "mode", MODES, pos)
        if name == "align_corners":
            return as_bool(value, name, pos)
        if value is None:
            return None
        return _scale(value, pos) if name == "scale" else _size_pair(value, pos)

    def normalize(self, raw: Mapping[str, Any], pos: SourcePos,
                  where: Places | None = None) -> dict[str, Any]:
        a = super().normalize(raw, pos, where)
        if (a["scale"] is None) == (a["size"] is None):
            raise error("upsample needs exactly one of scale and size", pos,
                        hint="write scale: 2 (or [2, 2]) to double the size, or size: [h, w]")
        if a["align_corners"] and a["mode"] != "bilinear":
            raise error("align_corners applies to bilinear resizing only", pos,
                        hint="write mode: bilinear, or leave align_corners out")
        return a

    def target(self, a: Attrs, vin: Vol) -> Pair:
        """The output's height and width: the size asked for, or ⌊H·s⌋ × ⌊W·s⌋."""
        size: Pair | None = a["size"]
        if size is not None:
            return size
        sh, sw = a["scale"]
        return (scaled(vin[0], sh), scaled(vin[1], sw))

    def factors(self, a: Attrs, vin: Vol) -> Pair | None:
        """The whole factors of an upsampling by whole factors (scale or size); else None."""
        (h, w), (th, tw) = vin[:2], self.target(a, vin)
        return (th // h, tw // w) if th % h == 0 and tw % w == 0 else None

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        h, w, c = ins[0]
        th, tw = self.target(a, ins[0])
        if th < 1 or tw < 1:
            raise error(f"scaling {h}×{w} by {_pair_text(a['scale'])} leaves "
                        f"{max(th, 0)}×{max(tw, 0)} places", at.pos, layer=at.layer,
                        hint="give a larger scale, or a size: [h, w] of at least 1×1")
        return (th, tw, c)

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        # every output unit is centred at a + o·q input pixels and reads pixels within d of
        # it: a window of 1 + 2d pixels at a stride q (docs/definitions.md, "Resizing")
        (h, w, _), (th, tw) = ins[0], self.target(a, ins[0])
        mode, aligned = a["mode"], a["align_corners"]
        return RFResize((resize_axis(h, th, mode, aligned), resize_axis(w, tw, mode, aligned)))

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        (h, w, c), (th, tw) = ins[0], out[:2]
        if a["size"] is not None:
            sizes = [dv.given("out_h", "output height", "the size asked for", th),
                     dv.given("out_w", "output width", "the size asked for", tw)]
        else:
            sh, sw = a["scale"]
            sizes = [dv.Derivation("out_h", "output height", "⌊H·s⌋", f"⌊{h}·{sh}⌋", th,
                                   {"H": h, "s": sh}, "resizing by a scale"),
                     dv.Derivation("out_w", "output width", "⌊W·s⌋", f"⌊{w}·{sw}⌋", tw,
                                   {"W": w, "s": sw})]
        return [*sizes, dv.given("out_c", "output depth", "C", c),
                dv.zero("params", "parameters", dv.NO_WEIGHTS),
                dv.zero("macs", "MACs", "interpolation is element-wise work, not counted as "
                        "MACs; see docs/definitions.md" if a["mode"] == "bilinear"
                        else "nearest resizing copies pixels")]

    def describe(self, a: Attrs) -> str:
        corners = " (aligned corners)" if a["align_corners"] else ""
        if a["size"] is not None:
            return f"{a['mode']} → {a['size'][0]}×{a['size'][1]}{corners}"
        return f"{a['mode']} ×{_pair_text(a['scale'])}{corners}"


def _pair_text(pair: tuple[float, float]) -> str:
    return f"{pair[0]:g}" if pair[0] == pair[1] else f"{pair[0]:g}×{pair[1]:g}"


class ConvTranspose(Op):
    """Transposed convolution (PyTorch's ConvTranspose2d, ONNX's ConvTranspose): each input value
    is multiplied by a whole F×F×(K/g) filter, the products are added into the output at stride
    S, and P pixels are cropped from each side. Output (H − 1)·S − 2P + d·(F − 1) +
    output_padding + 1; parameters F·F·(C/g)·K (+ K biases); MACs H·W·C·(K/g)·F·F (each input
    value times each weight it meets: fvcore's count for transposed convolutions)."""
    kind = "conv_transpose"
    names = ("deconv", "convtranspose", "conv_transpose2d", "convtranspose2d", "upconv")
    ATTRS = {"filters": REQUIRED, "kernel": REQUIRED, "stride": 1, "padding": 0,
             "output_padding": 0, "groups": 1, "dilation": 1, "bias": True, "output_size": None}
    weight_layer = True

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        if name in ("filters", "groups"):
            return as_int(value, name, pos)
        if name == "bias":
            return as_bool(value, name, pos)
        if name == "output_size":
            return None if value is None else as_pair(value, name, pos, minimum=1)
        if name in ("padding", "output_padding"):
            if isinstance(value, str) and value.lower() in ("same", "valid"):
                raise error(f"a transposed convolution's {name} is a number of pixels, got "
                            f"{value!r}", pos, hint=f"write {name}: 0 (or a pair [h, w])")
            return as_pair(value, name, pos, minimum=0)
        return as_pair(value, name, pos)

    def normalize(self, raw: Mapping[str, Any], pos: SourcePos,
                  where: Places | None = None) -> dict[str, Any]:
        a = super().normalize(raw, pos, where)
        if a["output_size"] is not None and a["output_padding"] != (0, 0):
            raise error("give output_size or output_padding, not both",
                        (where or {}).get("output_size", pos),
                        hint="output_size picks the output_padding that reaches it: drop "
                             "output_padding")
        for ax in (0, 1):
            op, s, d = a["output_padding"][ax], a["stride"][ax], a["dilation"][ax]
            if op >= s and op >= d:
                raise error(f"output_padding {op} must be smaller than the stride ({s}) or the "
                            f"dilation ({d})", (where or {}).get("output_padding", pos),
                            hint="output_padding only picks among the output sizes a stride "
                                 f"leaves ambiguous: use 0 to {max(s, d) - 1} (as PyTorch "
                                 "requires)")
        return a

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        h, w, c = ins[0]
        g, k = a["groups"], a["filters"]
        if c % g or k % g:
            raise error(f"groups = {g} must divide both the input channels ({c}) and the "
                        f"filters ({k})", at.pos, layer=at.layer,
                        hint="choose groups that divides both")
        out = []
        for n, f, s, p, d, op, axis in zip((h, w), a["kernel"], a["stride"], a["padding"],
                                           a["dilation"], self.output_padding(a, ins[0], at),
                                           ("height", "width")):
            o = (n - 1) * s - 2 * p + d * (f - 1) + op + 1
            if o < 1:
                raise error(f"output {axis} ({n} − 1)·{s} − 2·{p} + {d}·({f} − 1) + {op} + 1 = "
                            f"{o} is not positive", at.pos, layer=at.layer,
                            hint="use less padding or a larger kernel or stride")
            out.append(o)
        return (out[0], out[1], k)

    def output_padding(self, a: Attrs, vin: Vol, at: At | None = None) -> Pair:
        """The output_padding used: as given, or the one that reaches ``output_size``. A stride
        (or dilation) of S makes S output sizes come from the same input size; output_padding
        0 … S − 1 picks among them, and output_size names the one wanted."""
        if a["output_size"] is None:
            given: Pair = a["output_padding"]
            return given
        ops: list[int] = []
        for n, f, s, p, d, t, axis in zip(vin[:2], a["kernel"], a["stride"], a["padding"],
                                          a["dilation"], a["output_size"], ("height", "width")):
            base = (n - 1) * s - 2 * p + d * (f - 1) + 1
            top = base + max(s, d) - 1
            if not base <= t <= top:
                reach = f"{base}" if top == base else f"{base} to {top}"
                raise error(f"output_size {axis} {t} cannot be reached from input {axis} {n}: "
                            f"({n} − 1)·{s} − 2·{p} + {d}·({f} − 1) + output_padding + 1 gives "
                            f"{reach} (output_padding 0 to {max(s, d) - 1})",
                            at.pos if at else NOWHERE, layer=at.layer if at else None,
                            hint=f"use output_size {reach.replace(' to ', '…')}, or change the "
                                 "stride, padding or kernel")
            ops.append(t - base)
        return (ops[0], ops[1])

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        kh, kw = a["kernel"]
        return (kh * kw * (ins[0][2] // a["groups"]) * a["filters"]
                + (a["filters"] if a["bias"] else 0), 0)

    def macs(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> int:
        (h, w, c), kernel = ins[0], a["kernel"]
        kh: int = kernel[0]
        kw: int = kernel[1]
        filters: int = a["filters"]
        groups: int = a["groups"]
        return h * w * c * (filters // groups) * kh * kw

    def k_eff(self, a: Attrs) -> Pair:
        (kh, kw), (dh, dw) = a["kernel"], a["dilation"]
        return (dh * (kh - 1) + 1, dw * (kw - 1) + 1)

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        # equivalent to: S − 1 zeros between input pixels (jump j/S), then a stride-1 window of
        # the dilated kernel k_eff padded by k_eff − 1 − P (docs/definitions.md)
        k = self.k_eff(a)
        return RFStep(k, (1, 1), (k[0] - 1 - a["padding"][0], k[1] - 1 - a["padding"][1]),
                      a["stride"])

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        (h, w, c), k, g = ins[0], a["filters"], a["groups"]
        (kh, kw) = a["kernel"]
        figs = []
        for key, label, sym, n, f, s, p, d, op, o in zip(
                ("out_h", "out_w"), ("output height", "output width"), ("H", "W"), (h, w),
                a["kernel"], a["stride"], a["padding"], a["dilation"],
                self.output_padding(a, ins[0]), out):
            formula = f"({sym} − 1)·S − 2P + d·(F − 1) + output_padding + 1"
            figs.append(dv.Derivation(key, label, formula,
                                  f"({n} − 1)·{s} − 2·{p} + {d}·({f} − 1) + {op} + 1", o,
                                  {sym: n, "S": s, "P": p, "d": d, "F": f, "output_padding": op}))
        kern = [("F", kh), ("F", kw)] if kh == kw else [("F_h", kh), ("F_w", kw)]
        cin = [("C", c)] if g == 1 else [("C/g", c // g)]
        kout = [("K", k)] if g == 1 else [("K/g", k // g)]
        bias = ("K", k) if a["bias"] else None
        return figs + [
            dv.given("out_c", "output depth", "K", k, "filters"),
            dv.product("params", "parameters", [*kern, *cin, ("K", k)],
                       "one F×F×C/g filter per output channel" + (", plus biases" if bias else ""),
                       plus=bias),
            dv.product("macs", "MACs", [("H", h), ("W", w), ("C", c), *kout, *kern],
                       "each input value times each weight it meets (biases not counted)")]

    def describe(self, a: Attrs) -> str:
        (kh, kw), (sh, sw) = a["kernel"], a["stride"]
        s = f"/{sh}" if sh == sw else f"/{sh}×{sw}"
        p = a["padding"]
        text = f"{kh}×{kw}{s} p{p[0]}" if p[0] == p[1] else f"{kh}×{kw}{s} p{p[0]}×{p[1]}"
        if a["output_padding"] != (0, 0):
            text += f" op{a['output_padding'][0]}"
        if a["output_size"] is not None:
            text += f" →{a['output_size'][0]}" if a["output_size"][0] == a["output_size"][1] \
                else f" →{a['output_size'][0]}×{a['output_size'][1]}"
        if a["dilation"] != (1, 1):
            text += f" d{a['dilation'][0]}"
        g = f" g{a['groups']}" if a["groups"] != 1 else ""
        return f"{text}, {a['filters']}{g}" + ("" if a["bias"] else " no-bias")


def _pads(value: Any, pos: SourcePos) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from n, [h, w] or [top, bottom, left, right]."""
    if isinstance(value, (list, tuple)) and len(value) == 4:
        t, b, left, r = (as_int(v, "padding", pos, minimum=0) for v in value)
        return (t, b, left, r)
    if isinstance(value, (list, tuple)) and len(value) not in (2,):
        raise error(f"padding is n, [h, w] or [top, bottom, left, right], got {list(value)!r}", pos)
    ph, pw = as_pair(value, "padding", pos, minimum=0)
    return (ph, ph, pw, pw)


class Pad(Op):
    """Explicit padding of the spatial sides: ``constant`` (``value``, default 0) or ``reflect``
    (mirrored without repeating the edge, as PyTorch's ReflectionPad2d and ONNX's reflect)."""
    kind = "pad"
    names = ("padding", "zeropad", "zero_pad", "reflection_pad", "pad2d")
    ATTRS = {"padding": REQUIRED, "mode": "constant", "value": 0.0}

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        if name == "padding":
            return _pads(value, pos)
        if name == "mode":
            return _choice(value, "mode", PAD_MODES, pos)
        return as_float(value, name, pos)

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        (h, w, c), (t, b, left, r) = ins[0], a["padding"]
        if a["mode"] == "reflect":
            for side, p, n, axis in (("top", t, h, "height"), ("bottom", b, h, "height"),
                                     ("left", left, w, "width"), ("right", r, w, "width")):
                if p >= n:
                    raise error(f"reflect padding of {p} on the {side} needs an input {axis} of "
                                f"more than {p}, got {n}", at.pos, layer=at.layer,
                                hint=f"pad at most {counted(n - 1, 'pixel')} by reflection, "
                                     "or use "
                                     "mode: constant")
        return (h + t + b, w + left + r, c)

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        t, _, left, _ = a["padding"]
        return RFStep((1, 1), (1, 1), (t, left))

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        (h, w, c), (t, b, left, r) = ins[0], a["padding"]
        return [dv.Derivation("out_h", "output height", "H + P_top + P_bottom",
                              f"{h} + {t} + {b}", out[0], {"H": h, "P_top": t, "P_bottom": b}),
                dv.Derivation("out_w", "output width", "W + P_left + P_right",
                              f"{w} + {left} + {r}", out[1],
                              {"W": w, "P_left": left, "P_right": r}),
                dv.given("out_c", "output depth", "C", c),
                *dv.no_params_no_macs("padding copies pixels")]

    def describe(self, a: Attrs) -> str:
        t, b, left, r = a["padding"]
        p = str(t) if t == b == left == r else f"{t},{b},{left},{r}"
        return f"{a['mode']} {p}"


class Crop(Op):
    """Centre crop to ``size: [h, w]``, or to the spatial size of a second input (U-Net's
    copy-and-crop: ``inputs: [encoder, decoder]``). The offset is ⌊(H − h)/2⌋ from the top and
    ⌊(W − w)/2⌋ from the left (the extra pixel of an odd difference is cut at the bottom/right).
    A view of its input (as PyTorch's slicing)."""
    kind = "crop"
    names = ("center_crop", "centre_crop", "centercrop")
    # the doc_string of the ONNX Slice a crop to a second input's size exports as (which layer
    # the size came from; ONNX keeps only the numbers): the ONNX import reads it back
    ONNX_DOC = "archcalc: crop to the size of "
    ATTRS = {"size": None}
    arity = 2              # one or two inputs; checked in shape
    view = True

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return None if value is None else as_pair(value, name, pos)

    def target(self, a: Attrs, ins: Sequence[Vol], at: At) -> Pair:
        if len(ins) == 2:
            if a["size"] is not None:
                raise error("crop takes its size from the second input or from size, not both",
                            at.pos, layer=at.layer, hint="drop size, or the second input")
            return ins[1][:2]
        if len(ins) != 1:
            raise error(f"crop takes one or two inputs, got {len(ins)}", at.pos, layer=at.layer,
                        hint="inputs: [layer to crop, layer whose size to crop to]")
        if a["size"] is None:
            raise error("crop needs a size: [h, w], or a second input to take the size from",
                        at.pos, layer=at.layer, hint="e.g. {op: crop, inputs: [enc4, up1]}")
        size: Pair = a["size"]
        return size

    def offsets(self, a: Attrs, ins: Sequence[Vol], at: At | None = None) -> Pair:
        th, tw = self.target(a, ins, at or At("", NOWHERE))
        return ((ins[0][0] - th) // 2, (ins[0][1] - tw) // 2)

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        (h, w, c), (th, tw) = ins[0], self.target(a, ins, at)
        if th > h or tw > w:
            src = f"{at.inputs[0]}, " if at.inputs else ""
            raise error(f"a crop to {th}×{tw} is larger than its input ({src}{h}×{w})", at.pos,
                        layer=at.layer, hint="crop to at most the input's size, or pad the "
                        "input (an explicit pad layer) to reach a larger size")
        return (th, tw, c)

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        oh, ow = self.offsets(a, ins)
        return RFStep((1, 1), (1, 1), (-oh, -ow))

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        (h, w, c) = ins[0]
        src = "the second input's" if len(ins) == 2 else "the size asked for"
        oh, ow = (h - out[0]) // 2, (w - out[1]) // 2
        return [dv.given("out_h", "output height", "h", out[0],
                         f"{src}; cut from row ⌊({h} − {out[0]})/2⌋ = {oh}"),
                dv.given("out_w", "output width", "w", out[1],
                         f"cut from column ⌊({w} − {out[1]})/2⌋ = {ow}"),
                dv.given("out_c", "output depth", "C", c),
                *dv.no_params_no_macs("a view of the centre: nothing is computed"
                                      if len(ins) == 1 else
                                      "a copy of the centre (counted as a new buffer): no "
                                      "arithmetic")]

    def describe(self, a: Attrs) -> str:
        return "centre" if a["size"] is None else f"centre {a['size'][0]}×{a['size'][1]}"


class _ByFactor(Op):
    """A rearrangement of r×r blocks by an integer ``factor`` r (pixel shuffle and unshuffle)."""
    ATTRS = {"factor": REQUIRED}

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return as_int(value, name, pos)


class PixelShuffle(_ByFactor):
    """PyTorch's ``PixelShuffle(r)`` (ONNX ``DepthToSpace``, mode CRD): H×W×(C·r²) →
    rH×rW×C, output (c, h·r + i, w·r + j) = input (c·r² + i·r + j, h, w). No weights and no
    arithmetic; each output pixel reads one input pixel, so its field is nearest upsampling's
    by r."""
    kind = "pixel_shuffle"
    names = ("depth_to_space", "pixelshuffle")

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        h, w, c = ins[0]
        r = a["factor"]
        if c % (r * r):
            raise error(f"pixel_shuffle by {r} needs channels divisible by {r}·{r} = {r * r}, "
                        f"the input has {counted(c, 'channel')}", at.pos, layer=at.layer,
                        hint=f"give {at.inputs[0] if at.inputs else 'its input'} "
                             + " or ".join(str(n) for n in sorted({
                                 max(1, c // (r * r)) * r * r, (c // (r * r) + 1) * r * r}))
                             + " channels")
        return (h * r, w * r, c // (r * r))

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        return nearest_step(a["factor"], a["factor"])

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        (h, w, c), r = ins[0], a["factor"]
        return [dv.product("out_h", "output height", [("H", h), ("r", r)]),
                dv.product("out_w", "output width", [("W", w), ("r", r)]),
                dv.Derivation("out_c", "output depth", "C/r²", f"{c}/{r * r}", c // (r * r),
                              {"C": c, "r": r}, "r² channels become an r×r block"),
                *dv.no_params_no_macs("a rearrangement does no arithmetic")]

    def describe(self, a: Attrs) -> str:
        return f"×{a['factor']}"


class PixelUnshuffle(_ByFactor):
    """PyTorch's ``PixelUnshuffle(r)``, the inverse of ``pixel_shuffle``: rH×rW×C → H×W×(C·r²),
    output (c·r² + i·r + j, h, w) = input (c, h·r + i, w·r + j) (ONNX's SpaceToDepth orders
    the channels otherwise: exported as Reshape and Transpose). Its field grows as an r×r
    window of stride r."""
    kind = "pixel_unshuffle"
    names = ("pixelunshuffle",)

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        h, w, c = ins[0]
        r = a["factor"]
        for n, axis in ((h, "height"), (w, "width")):
            if n % r:
                raise error(f"pixel_unshuffle by {r} needs the {axis} divisible by {r}, got {n}",
                            at.pos, layer=at.layer,
                            hint=f"an input whose {axis} here is {n - n % r or r} or "
                                 f"{n - n % r + r} works")
        return (h // r, w // r, c * r * r)

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        r = a["factor"]
        return RFStep((r, r), (r, r), (0, 0))

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        (h, w, c), r = ins[0], a["factor"]
        return [dv.Derivation("out_h", "output height", "H/r", f"{h}/{r}", h // r,
                              {"H": h, "r": r}),
                dv.Derivation("out_w", "output width", "W/r", f"{w}/{r}", w // r,
                              {"W": w, "r": r}),
                dv.product("out_c", "output depth", [("C", c), ("r", r), ("r", r)],
                           "each r×r block's pixels side by side"),
                *dv.no_params_no_macs("a rearrangement does no arithmetic")]

    def describe(self, a: Attrs) -> str:
        return f"÷{a['factor']}"
