"""Sliding windows: convolution (plain, grouped, depthwise) and pooling (max, average, global,
adaptive)."""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ..errors import ArchcalcError, Diagnostic, Places, SourcePos, error
from . import derive as dv
from .base import (
    GLOBAL,
    REQUIRED,
    At,
    Attrs,
    Op,
    RFKind,
    RFStep,
    check_channels,
    division_hint,
    padding_text,
    window_hint_text,
    window_ok,
    window_out,
)
from .resampling import ResizeAxis, RFResize
from .values import Pair, Vol, as_bool, as_int, as_padding, as_pair, as_rounding


def _padding_of(a: Attrs, k_eff: Pair, layer: str | None, pos: SourcePos) -> Pair:
    """The padding at the top and left: ``same`` and ``valid`` resolved to pixels."""
    p = a["padding"]
    if p == "valid":
        return (0, 0)
    if p == "same":
        if (k_eff[0] - 1) % 2 or (k_eff[1] - 1) % 2:
            raise error(f"'same' padding needs an odd kernel, got {k_eff[0]}×{k_eff[1]}", pos,
                        layer=layer, hint="give the padding as a number instead: a P option "
                        "after a token (C2D8P0), padding: 0 in YAML")
        return ((k_eff[0] - 1) // 2, (k_eff[1] - 1) // 2)
    pads: Pair = p                    # numbers (four sides are resolved before this)
    return pads


def _groups_hint(cin: int, filters: int) -> str:
    """Groups that would work: the common divisors of the input channels and the filters."""
    from math import gcd
    g = gcd(cin, filters)
    ok = [d for d in range(1, min(g, 4096) + 1) if g % d == 0]
    shown = ", ".join(map(str, ok[:8])) + (", …" if len(ok) > 8 else "")
    depthwise = (" (groups = input channels, a depthwise convolution, needs filters a multiple "
                 f"of {cin})") if filters % cin else ""
    return f"groups that divide both {cin} and {filters}: {shown}{depthwise}"


class Windowed(Op):
    """Shared by conv and pooling: kernel, stride, padding, dilation, rounding."""

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        if name in ("kernel", "stride", "dilation"):
            return as_pair(value, name, pos)
        if name == "padding":
            return as_padding(value, pos, sides=True)
        if name == "rounding":
            return as_rounding(value, pos)
        return value

    def normalize(self, raw: Mapping[str, Any], pos: SourcePos,
                  where: Places | None = None) -> dict[str, Any]:
        """Also resolves, once, the dilated kernel (``k_eff``) and the padding per side (``pads``,
        from ``same``/``valid``/numbers): every later rule reads them from here."""
        a = super().normalize(raw, pos, where)
        (kh, kw), (dh, dw) = a["kernel"], a.get("dilation", (1, 1))
        a["k_eff"] = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        p = a["padding"]
        if isinstance(p, tuple) and len(p) == 4:      # [top, bottom, left, right]
            top, bottom, left, right = p
            if (top, left) == (bottom, right):
                a["padding"] = (top, left)
            else:                                    # begin pads in "pads", end in "pads_end"
                a["pads_end"] = (bottom, right)
            a["pads"] = (top, left)
        else:
            a["pads"] = _padding_of(a, a["k_eff"], None, (where or {}).get("padding", pos))
        return a

    def k_eff(self, a: Attrs) -> Pair:
        k_eff: Pair = a["k_eff"]
        return k_eff

    def pads(self, a: Attrs, at: At | None = None) -> Pair:
        """The padding at the top and left (the begin side, which places the windows)."""
        pads: Pair = a["pads"]
        return pads

    @staticmethod
    def pads_end(a: Attrs) -> Pair:
        """The padding at the bottom and right: the same as the top and left unless the layer
        gives four sides."""
        pads: Pair = a.get("pads_end") or a["pads"]
        return pads

    @staticmethod
    def axis_terms(a: Attrs, vin: Vol) -> tuple[tuple[int, int], tuple[int, int]]:
        """Per axis (height, width): an input length and one padding per side such that the
        symmetric rule of :func:`window_out` gives this layer's output and unseen tail. With
        begin padding b and end padding e, n + b + e − k = (n + b − e) + 2e − k, and the last
        window's cover of real pixels is decided by the end padding: so (n + b − e, e)."""
        end = a.get("pads_end")
        if end is None:
            return (vin[0], a["pads"][0]), (vin[1], a["pads"][1])
        (bh, bw), (eh, ew) = a["pads"], end
        return (vin[0] + bh - eh, eh), (vin[1] + bw - ew, ew)

    def max_padding(self, a: Attrs, axis: int) -> int | None:
        """The most padding a side may have along ``axis`` (None: no limit but the window's)."""
        return None

    def spatial(self, a: Attrs, vin: Vol, at: At) -> Pair:
        try:
            return self._spatial(a, vin, at)
        except ArchcalcError as exc:
            raise ArchcalcError(self._layer_fixes(a, vin, at, exc.diagnostics)) from None

    def _spatial(self, a: Attrs, vin: Vol, at: At) -> Pair:
        if "pads_end" in a:
            (nh, ph), (nw, pw) = self.axis_terms(a, vin)
            vin = (nh, nw, vin[2])
        else:
            ph, pw = a["pads"]
        (kh, kw), (sh, sw) = a["kernel"], a["stride"]
        (dh, dw) = a.get("dilation", (1, 1))
        r = a.get("rounding") or at.rounding
        if (vin[0], kh, sh, ph, dh) == (vin[1], kw, sw, pw, dw):   # one check, one message
            h = window_out(vin[0], kh, sh, ph, dh, r, "height and width", at.layer, at.pos)
            return h, h
        out: list[int] = []
        diags: list[Diagnostic] = []
        for n, k, s, p, d, axis in ((vin[0], kh, sh, ph, dh, "height"),
                                    (vin[1], kw, sw, pw, dw, "width")):
            try:
                out.append(window_out(n, k, s, p, d, r, axis, at.layer, at.pos))
            except ArchcalcError as exc:     # report both axes at once
                diags.extend(exc.diagnostics)
        if diags:
            raise ArchcalcError(diags)
        return out[0], out[1]

    def _paddings(self, a: Attrs, vin: Vol, rounding: str, i: int) -> list[int]:
        """The paddings (the same on both sides) under which no window along axis ``i`` is
        refused, within what the op allows (a pooling pads at most half its window)."""
        k_eff, s = a["k_eff"][i], a["stride"][i]
        limit, most = self.max_padding(a, i), k_eff - 1
        if limit is not None:
            most = min(most, limit)
        return [p for p in range(0, most + 1) if window_ok(vin[i], k_eff, s, p, rounding)]

    def fix_padding(self, a: Attrs, vin: Vol, rounding: str, axes: Collection[str]
                    ) -> tuple[tuple[int, ...] | None, int | None]:
        """Paddings for the whole layer under which no window along ``axes`` is refused.

        First, along each of those axes the least padding (the same on both sides) that the
        rounding accepts and the op allows, along the other axis the layer's own: (height,
        width), or (top, bottom, left, right) where a side differs from its opposite; None
        where some axis has none. Second, one padding for every side (what a spec string's
        ``P`` writes) that works along both axes, or None."""
        begin, end = self.pads(a), self.pads_end(a)
        sides: list[tuple[int, int]] = []
        for i, axis in enumerate(("height", "width")):
            if axis not in axes:
                sides.append((begin[i], end[i]))
                continue
            p = next((p for p in self._paddings(a, vin, rounding, i)
                      if (p, p) != (begin[i], end[i])), None)
            if p is None:
                break
            sides.append((p, p))
        per_axis: tuple[int, ...] | None = None
        if len(sides) == 2:
            per_axis = (sides[0][0], sides[1][0]) if all(b == e for b, e in sides) \
                else (*sides[0], *sides[1])
        both = set(self._paddings(a, vin, rounding, 0)) & set(self._paddings(a, vin, rounding, 1))
        now = {*begin, *end}
        uniform = next((p for p in sorted(both) if now != {p}), None)
        return per_axis, uniform

    def _layer_fixes(self, a: Attrs, vin: Vol, at: At, diags: list[Diagnostic]
                     ) -> list[Diagnostic]:
        """``window_out``'s errors with fixes for this layer: a padding for the layer as a
        whole (valid for it, per axis where the axes differ, and removing every refused window
        of the layer at once; ``uniform``, one padding for every side where one works), and the
        layer's own rounding where it sets one."""
        axes = {ax for d in diags if d.fix for ax in d.fix.get("axes", ())}
        if not axes:
            return diags
        rounding = a.get("rounding") or at.rounding
        pads, uniform = self.fix_padding(a, vin, rounding, axes)
        own = a.get("rounding") is not None
        out = []
        for d in diags:
            if not d.fix:
                out.append(d)
                continue
            fix = {**d.fix, "pads": pads, "uniform": uniform, "own_rounding": own}
            hint = window_hint_text(fix, at.layer) if fix["kind"] == "window" \
                else division_hint(fix, at.layer)
            out.append(replace(d, hint=hint, fix=fix))
        return out

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        return RFStep(a["k_eff"], a["stride"], a["pads"])

    def explain_window(self, a: Attrs, vin: Vol, out: Vol,
                       rounding: str) -> list[dv.Derivation]:
        """Output height and width, with the rounding applied and what it dropped."""
        (kh, kw), (sh, sw), (dh, dw) = a["kernel"], a["stride"], a.get("dilation", (1, 1))
        (ph, pw), (eh, ew) = a["pads"], self.pads_end(a)
        r = a.get("rounding") or rounding
        return [dv.window_axis("out_h", "output height", "H", vin[0], kh, sh, ph, dh, r, out[0],
                               eh),
                dv.window_axis("out_w", "output width", "W", vin[1], kw, sw, pw, dw, r, out[1],
                               ew)]

    def window_text(self, a: Attrs) -> str:
        (kh, kw), (sh, sw) = a["kernel"], a["stride"]
        k = f"{kh}×{kw}"
        s = f"/{sh}" if sh == sw else f"/{sh}×{sw}"
        p, e = a["pads"], self.pads_end(a)
        ptxt = f"p{p[0]}" if p[0] == p[1] else f"p{p[0]}×{p[1]}"
        if e != p:                         # four sides: top, bottom, left, right
            ptxt = f"p[{p[0]},{e[0]},{p[1]},{e[1]}]"
        d = a.get("dilation", (1, 1))
        dtxt = "" if d == (1, 1) else f" d{d[0]}" if d[0] == d[1] else f" d{d[0]}×{d[1]}"
        return f"{k}{s} {ptxt}{dtxt}"


class Conv(Windowed):
    kind = "conv"
    names = ("conv2d", "convolution")
    ATTRS = {"filters": REQUIRED, "kernel": 3, "stride": 1, "padding": "same", "dilation": 1,
             "groups": 1, "bias": True, "rounding": None, "in_channels": None}
    weight_layer = True

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        if name == "in_channels" and value is None:
            return None
        if name in ("filters", "groups", "in_channels"):
            return as_int(value, name, pos)
        if name == "bias":
            return as_bool(value, name, pos)
        return super().coerce(name, value, pos)

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        vin = ins[0]
        check_channels(a.get("in_channels"), vin[2], "in_channels", at)
        g = a["groups"]
        if vin[2] % g or a["filters"] % g:
            raise error(f"groups = {g} must divide both the input channels ({vin[2]}) "
                        f"and the filters ({a['filters']})", at.pos, layer=at.layer,
                        hint=_groups_hint(vin[2], a["filters"]))
        h, w = self.spatial(a, vin, at)
        return (h, w, a["filters"])

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        kh, kw = a["kernel"]
        weights = kh * kw * (ins[0][2] // a["groups"]) * a["filters"]
        return (weights + (a["filters"] if a["bias"] else 0), 0)

    def macs(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> int:
        kernel: Pair = a["kernel"]
        groups: int = a["groups"]
        return out[0] * out[1] * out[2] * (ins[0][2] // groups) * kernel[0] * kernel[1]

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        (kh, kw), g, c, k = a["kernel"], a["groups"], ins[0][2], a["filters"]
        kern = [("F", kh), ("F", kw)] if kh == kw else [("F_h", kh), ("F_w", kw)]
        cin = [("C", c)] if g == 1 else [("C/g", c // g)]
        bias = ("K", k) if a["bias"] else None
        return self.explain_window(a, ins[0], out, rounding) + [
            dv.given("out_c", "output depth", "K", k, "one channel per filter"),
            dv.product("params", "parameters", [*kern, *cin, ("K", k)],
                       "weights, plus one bias per filter" if bias else "weights; no bias",
                       plus=bias),
            dv.product("macs", "MACs", [("H'", out[0]), ("W'", out[1]), ("K", k), *cin, *kern],
                       "one multiply-add per weight per output place; biases not counted")]

    def sharing(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> list[dv.Derivation]:
        """What weight sharing buys: the parameters of this layer as it is, of a locally
        connected layer with the same windows but its own weights (and bias) at every output
        place, and of a fully connected layer from the same input volume to the same output
        volume (docs/definitions.md, "Weight sharing")."""
        (kh, kw), g = a["kernel"], a["groups"]
        (h, w, c), (oh, ow, k) = ins[0], out
        kern = [("F", kh), ("F", kw)] if kh == kw else [("F_h", kh), ("F_w", kw)]
        cin = [("C", c)] if g == 1 else [("C/g", c // g)]
        biases = a["bias"]
        shared = self.params(a, ins, out)[0]
        local = dv.product("local", "locally connected", [("H'", oh), ("W'", ow), *kern, *cin,
                                                            ("K", k)],
                           "the same windows, no sharing: own weights at every output place"
                           + (" and own biases" if biases else ""),
                           plus=("H'·W'·K", oh * ow * k) if biases else None)
        dense = dv.product("dense", "fully connected",
                           [("H·W·C", h * w * c), ("H'·W'·K", oh * ow * k)],
                           "every input to every output" + (", plus biases" if biases else ""),
                           plus=("H'·W'·K", oh * ow * k) if biases else None)
        return [dv.given("shared", "shared (this layer)", "parameters", shared), local, dense]

    def describe(self, a: Attrs) -> str:
        g = f" g{a['groups']}" if a["groups"] != 1 else ""
        nb = "" if a["bias"] else " no-bias"
        return f"{self.window_text(a)}, {a['filters']}{g}{nb}"


class DepthwiseConv(Conv):
    """Depthwise convolution (MobileNet): one k×k filter per input channel, ``multiplier`` of them,
    so C_out = multiplier·C_in. It is a conv with groups = C_in and filters = multiplier·C_in; this
    op exists so that a spec need not know its input's depth."""
    kind = "dwconv"
    names = ("depthwise_conv", "depthwiseconv2d")
    ATTRS = {"multiplier": 1, "kernel": 3, "stride": 1, "padding": "same", "dilation": 1,
             "bias": True, "rounding": None}

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        if name == "multiplier":
            return as_int(value, name, pos)
        return super().coerce(name, value, pos)

    @staticmethod
    def as_conv(a: Attrs, cin: int) -> dict[str, Any]:
        """The equivalent conv attributes for an input of ``cin`` channels."""
        return {**a, "filters": cin * a["multiplier"], "groups": cin}

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        return super().shape(self.as_conv(a, ins[0][2]), ins, at)

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        return super().params(self.as_conv(a, ins[0][2]), ins, out)

    def macs(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> int:
        return super().macs(self.as_conv(a, ins[0][2]), ins, out)

    def sharing(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> list[dv.Derivation]:
        return super().sharing(self.as_conv(a, ins[0][2]), ins, out)

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        (kh, kw), c, m = a["kernel"], ins[0][2], a["multiplier"]
        kern = [("F", kh), ("F", kw)] if kh == kw else [("F_h", kh), ("F_w", kw)]
        k = c * m
        bias = ("K", k) if a["bias"] else None
        depth = dv.product("out_c", "output depth", [("m", m), ("C", c)],
                           "one F×F filter per input channel, m of them")
        return self.explain_window(a, ins[0], out, rounding) + [
            depth,
            dv.product("params", "parameters", [*kern, ("K", k)],
                       "K = m·C filters of one channel each" + (", plus biases" if bias else ""),
                       plus=bias),
            dv.product("macs", "MACs", [("H'", out[0]), ("W'", out[1]), ("K", k), *kern],
                       "each output channel reads one input channel")]

    def describe(self, a: Attrs) -> str:
        m = f", ×{a['multiplier']}" if a["multiplier"] != 1 else ""
        return f"{self.window_text(a)} depthwise{m}" + ("" if a["bias"] else " no-bias")


class _Pool(Windowed):
    ATTRS = {"kernel": 2, "stride": None, "padding": 0, "rounding": None}

    def normalize(self, raw: Mapping[str, Any], pos: SourcePos,
                  where: Places | None = None) -> dict[str, Any]:
        a = super().normalize(raw, pos, where)
        if a["stride"] is None:
            a["stride"] = a["kernel"]      # as PyTorch: the stride defaults to the window
        return a

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        if name == "stride" and value is None:
            return None
        return super().coerce(name, value, pos)

    def max_padding(self, a: Attrs, axis: int) -> int | None:
        """At most half the window (PyTorch and ONNX refuse more)."""
        kernel: Pair = a["kernel"]
        return kernel[axis] // 2

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        ph, pw = map(max, a["pads"], self.pads_end(a))
        kh, kw = a["kernel"]
        if ph * 2 > kh or pw * 2 > kw:
            most = padding_text((min(ph, kh // 2), min(pw, kw // 2)))
            raise error(f"pooling padding ({ph}×{pw}) must be at most half the window ({kh}×{kw})",
                        at.pos, layer=at.layer, hint=f"the most this pool may pad is padding "
                        f"{most} (PyTorch and ONNX refuse more)")
        h, w = self.spatial(a, ins[0], at)
        return (h, w, ins[0][2])

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        return self.explain_window(a, ins[0], out, rounding) + [
            dv.given("out_c", "output depth", "C", ins[0][2], "pooling keeps the channels"),
            *dv.no_params_no_macs("comparisons and averages are not counted as MACs")]

    def describe(self, a: Attrs) -> str:
        # a layer's own ceil rounding (Caffe, ceil_mode) changes its size: shown
        return self.window_text(a) + (" ceil" if a.get("rounding") == "ceil" else "")


class MaxPool(_Pool):
    kind = "maxpool"
    names = ("max_pool", "pool", "maxpool2d")


class AvgPool(_Pool):
    kind = "avgpool"
    names = ("avg_pool", "averagepool", "avgpool2d")


class _GlobalPool(Op):
    """One value per channel over all H×W places: a 1×1×C vector that sees the whole input."""
    reduces = ""          # "average", "maximum"

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        return (1, 1, ins[0][2])

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        return GLOBAL

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        h, w, c = ins[0]
        return [dv.given("out_h", "output height", "1", 1,
                         f"one {self.reduces} over all {h}×{w} places"),
                dv.given("out_w", "output width", "1", 1),
                dv.given("out_c", "output depth", "C", c),
                *dv.no_params_no_macs(f"{self.reduces}s are not counted as MACs")]


class GlobalAvgPool(_GlobalPool):
    kind = "global_avgpool"
    names = ("gap", "global_avg_pool", "globalaveragepool")
    reduces = "average"


def adaptive_windows(n: int, out: int) -> list[tuple[int, int]]:
    """The half-open windows [start, end) that adaptive pooling of ``n`` places to ``out`` reads,
    as PyTorch defines them: start = ⌊i·n/out⌋, end = ⌈(i+1)·n/out⌉. Where ``out`` divides ``n``
    every window is n/out wide, at a stride of n/out; otherwise they are uneven (7 → 3: [0, 3),
    [2, 5), [4, 7))."""
    return [(i * n // out, -(-(i + 1) * n // out)) for i in range(out)]


@lru_cache(maxsize=512)
def adaptive_axis(n: int, m: int) -> ResizeAxis:
    """The field step of adaptive pooling from ``n`` to ``m`` places along one axis, as a
    resize's (:func:`~archcalc.ops.resampling.resize_axis`): cells centred at a + o·q with
    q = n/m and a = (q − 1)/2, each window within d of its cell's centre (exact: in integers over
    2m). Equal windows (m divides n) give the average pool's step: d = (q − 1)/2."""
    reach = 0
    for i, (s, e) in enumerate(adaptive_windows(n, m)):
        c = (2 * i + 1) * n - m                        # the centre, times 2m
        reach = max(reach, c - 2 * m * s, 2 * m * (e - 1) - c)
    return ResizeAxis(Fraction(n, m), Fraction(n - m, 2 * m), Fraction(reach, 2 * m))


class AdaptiveAvgPool(Op):
    """Average pooling to a fixed output size (torchvision's AlexNet and VGG use 6×6 and 7×7;
    ``nn.AdaptiveAvgPool2d(1)`` is torchvision's global average pool).

    Each output cell averages the window PyTorch gives it (:func:`adaptive_windows`): where the
    output size divides the input's, an average pool with kernel = stride = input/output; else
    uneven, overlapping windows (GoogLeNet's and Inception's auxiliary heads pool 14×14 to 4×4
    with windows [0, 4), [3, 7), [7, 11), [10, 14)). Its receptive field: global where the
    output is 1×1 (one window over the whole input, as global_avgpool); otherwise the step of
    :func:`adaptive_axis`: cells input/output apart, each window within d of its cell's centre
    (for equal windows the average pool's step; docs/definitions.md)."""
    kind = "adaptive_avgpool"
    names = ("adaptive_avg_pool", "adaptiveavgpool2d")
    ATTRS = {"output": REQUIRED}

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return as_pair(value, "output", pos)

    def window(self, a: Attrs, vin: Vol) -> Pair:
        """The stride of the windows (their width, where they are even): ⌊input/output⌋."""
        return (max(1, vin[0] // a["output"][0]), max(1, vin[1] // a["output"][1]))

    def even(self, a: Attrs, vin: Vol) -> bool:
        oh, ow = a["output"]
        return bool(vin[0] % oh == 0 and vin[1] % ow == 0)

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        # any input: an output larger than the input repeats its places, as PyTorch's does
        return (a["output"][0], a["output"][1], ins[0][2])

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        if tuple(a["output"]) == (1, 1):       # one window over everything: global pooling
            return GLOBAL
        (h, w, _), (oh, ow) = ins[0], a["output"]
        return RFResize((adaptive_axis(h, oh), adaptive_axis(w, ow)))

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        (h, w, c), (oh, ow) = ins[0], a["output"]

        def how(n: int, o: int) -> str:
            if n % o == 0:
                return f"an average pool with window = stride = {n}/{o} = {n // o}"
            wins = adaptive_windows(n, o)
            shown = ", ".join(f"[{s}, {e})" for s, e in wins[:4]) + (", …" if o > 4 else "")
            return (f"uneven windows [⌊i·{n}/{o}⌋, ⌈(i+1)·{n}/{o}⌉) as PyTorch's: {shown}")
        return [dv.given("out_h", "output height", "the output size asked for", oh, how(h, oh)),
                dv.given("out_w", "output width", "the output size asked for", ow, how(w, ow)),
                dv.given("out_c", "output depth", "C", c),
                *dv.no_params_no_macs("averages are not counted as MACs")]

    def describe(self, a: Attrs) -> str:
        return f"→ {a['output'][0]}×{a['output'][1]}"


class GlobalMaxPool(_GlobalPool):
    """The largest value of each channel over all H×W places."""
    kind = "global_maxpool"
    names = ("gmp", "global_max_pool", "globalmaxpool")
    reduces = "maximum"
