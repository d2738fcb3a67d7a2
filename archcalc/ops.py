"""The operator table: every op kind archcalc knows, each defined once.

An op describes, as pure functions of a layer's attributes and its input volumes:
  * which attributes it takes and their defaults (``ATTRS``), validated by :meth:`Op.normalize`;
  * its output volume (:meth:`Op.shape`);
  * its parameters, trainable and not (:meth:`Op.params`);
  * its multiply-accumulates (:meth:`Op.macs`);
  * its receptive-field step (:meth:`Op.rf_step`);
  * how its output is stored (``inplace``: may overwrite its input; ``view``: never copies);
  * how it got each of its figures (:meth:`Op.explain`: formulas with the numbers substituted).

Volumes are (H, W, C) tuples of ints. Vectors are (1, 1, N).
Adding an op means adding one class here and registering it in ``OPS``.
"""
from __future__ import annotations

import re
from math import prod
from typing import Any, NamedTuple

from . import derive as dv
from .errors import ArchcalcError, Diagnostic, SourcePos, error

Vol = tuple[int, int, int]
Pair = tuple[int, int]

# The most any count may be: larger values are refused before anything is allocated.
MAX_DIM = 1 << 31
ROUNDINGS = ("covered", "exact", "floor", "ceil")
DEFAULT_ROUNDING = "covered"


# ---------------------------------------------------------------------------------------------
# attribute coercion (shared by every front-end through Op.normalize)

def _int(value: Any, what: str, pos: SourcePos, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        else:
            example = "3"
            try:
                as_float = float(value)
                if as_float.is_integer() and abs(as_float) < 2 ** 63:
                    example = str(int(as_float))   # 1e3 (YAML reads it as text) → 1000
            except (TypeError, ValueError, OverflowError):
                pass
            raise error(f"{what} must be a whole number, got {value!r}", pos,
                        hint=f"write {what} as an integer such as {example}")
    if value < minimum:
        raise error(f"{what} must be at least {minimum}, got {value}", pos)
    if value > MAX_DIM:
        raise error(f"{what} = {value} is too large (the limit is {MAX_DIM:,})", pos,
                    hint="archcalc refuses sizes that could not be allocated on any device")
    return value


def _pair(value: Any, what: str, pos: SourcePos, minimum: int = 1) -> Pair:
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*[x×*,]\s*\d+\s*", value):
        h, w = re.split(r"[x×*,]", value)
        raise error(f"{what} must be one number or a pair [h, w], got {value!r}", pos,
                    hint=f"write {what}: [{h.strip()}, {w.strip()}]"
                    + (f" (or {what}: {h.strip()})" if h.strip() == w.strip() else ""))
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise error(f"{what} must be one number or a pair [h, w], got {list(value)!r}", pos)
        return (_int(value[0], what, pos, minimum), _int(value[1], what, pos, minimum))
    v = _int(value, what, pos, minimum)
    return (v, v)


def _bool(value: Any, what: str, pos: SourcePos) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "on", "false", "no", "off"):
        return value.lower() in ("true", "yes", "on")
    raise error(f"{what} must be true or false, got {value!r}", pos)


def _padding(value: Any, pos: SourcePos) -> str | Pair:
    if isinstance(value, str) and value.lower() in ("same", "valid"):
        return value.lower()
    if isinstance(value, str) and not value.strip().isdigit():
        import difflib
        near = difflib.get_close_matches(value.lower(), ["same", "valid"], n=1, cutoff=0.5)
        raise error(f"padding must be same, valid, a number or a pair [h, w], got {value!r}", pos,
                    hint=(f"did you mean {near[0]!r}? " if near else "")
                    + "same keeps the size (odd kernels), valid is no padding, 1 pads one pixel "
                      "per side")
    return _pair(value, "padding", pos, minimum=0)


def _rounding(value: Any, pos: SourcePos) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.lower() in ROUNDINGS:
        return value.lower()
    raise error(f"rounding must be one of {', '.join(ROUNDINGS)}, got {value!r}", pos,
                hint="covered (the default): floor, unless that leaves real input pixels unseen; "
                     "exact: a non-whole output size is an error; floor: PyTorch; ceil: Caffe pooling")


def _float(value: Any, what: str, pos: SourcePos) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{what} must be a number, got {value!r}", pos)
    return float(value)


# ---------------------------------------------------------------------------------------------
# the output-size rule and its diagnostics

def unseen_tail(n: int, k_eff: int, s: int, pad: int) -> int:
    """Real input pixels at the bottom/right edge that flooring leaves to no window, beyond those
    the stride skips anyway (0 when none): with r = (n + 2·pad − k_eff) mod s, the last window
    floor keeps ends r pixels before the padded end, so T = r − pad real pixels are dropped; a
    stride larger than the window skips s − k_eff pixels between windows in any case."""
    r = (n + 2 * pad - k_eff) % s
    return max(0, (r - pad) - max(0, s - k_eff))


def window_ok(n: int, k_eff: int, s: int, pad: int, rounding: str) -> bool:
    """Whether ``rounding`` accepts this window along one axis (the window fits the padded input)."""
    num = n + 2 * pad - k_eff
    if num < 0:
        return False
    if rounding in ("floor", "ceil") or num % s == 0:
        return True
    return rounding == "covered" and unseen_tail(n, k_eff, s, pad) == 0


def window_out(n: int, k: int, s: int, pad: int, d: int, rounding: str, axis: str,
               layer: str, pos: SourcePos) -> int:
    """Output length along one axis: (n − k_eff + 2·pad)/s + 1, rounded as ``rounding`` says.

    ``k_eff = d·(k − 1) + 1`` is the dilated kernel. ``floor`` drops a fraction (PyTorch, ONNX
    default); ``covered`` (the default) floors too, but refuses a fraction whose flooring leaves
    real input pixels unseen that the stride would not skip anyway (see :func:`unseen_tail`);
    ``exact`` refuses every fraction; ``ceil`` keeps a partial last window (Caffe pooling,
    ``ceil_mode``), but, as PyTorch and ONNX do, never a window that would start inside the right
    padding only.
    """
    k_eff = d * (k - 1) + 1
    num = n + 2 * pad - k_eff
    kdesc = f"{k}" if d == 1 else f"{k_eff} (kernel {k}, dilation {d})"
    if num < 0:
        along = "both axes" if " and " in axis else axis
        raise ArchcalcError([Diagnostic(
            "error", f"the {kdesc}-wide window is larger than the padded input along {along}: "
            f"{n} + 2·{pad} = {n + 2 * pad} < {k_eff}", pos,
            "use a smaller kernel, more padding, or a larger input", layer,
            fix={"kind": "window", "axes": axis.split(" and ")})])
    q, r = divmod(num, s)
    if r == 0 or rounding == "floor":
        return q + 1
    if rounding == "ceil":
        if (q + 1) * s >= n + pad:  # the extra window would start in the right padding
            return q + 1
        return q + 2
    unseen = unseen_tail(n, k_eff, s, pad)
    if rounding == "covered" and unseen == 0:
        return q + 1
    value = num / s + 1
    fixes = []
    ins = [str(x) for x in range(n + 1, n + 2 * s + 1) if window_ok(x, k_eff, s, pad, rounding)][:1]
    ins += [str(x) for x in range(n - 1, max(0, n - 2 * s), -1)
            if window_ok(x, k_eff, s, pad, rounding)][:1]
    if ins:
        fixes.append(f"an input {axis} of {' or '.join(ins)}")  # for this layer
    pads = [p for p in range(0, k_eff + 1) if p != pad and window_ok(n, k_eff, s, p, rounding)]
    if pads:
        fixes.append(f"padding {pads[0]}")
    fixes.append("rounding: floor (as PyTorch) or rounding: ceil (as Caffe pooling)")
    what = "is not a whole number"
    if rounding == "covered":
        rows = {"height": "row", "width": "column"}.get(axis, "row and column")
        last = f"last {unseen} input {rows}s".replace("row and columns", "rows and columns") \
            if unseen > 1 else f"last input {rows}"
        what += f", and flooring it would leave the {last} unseen by any window"
    raise ArchcalcError([Diagnostic(
        "error", f"output {axis} ({n} − {k_eff} + 2·{pad})/{s} + 1 = {value:g} {what}", pos,
        "for a valid division use " + ", or ".join(fixes), layer,
        fix={"kind": "rounding", "axes": axis.split(" and "), "rounding": rounding,
             "padding": pads[0] if pads else None})])


# ---------------------------------------------------------------------------------------------
# receptive-field steps

class At(NamedTuple):
    """Where a shape rule is applied: the layer's name, place, input names, default rounding."""
    layer: str
    pos: SourcePos
    inputs: tuple[str, ...] = ()
    rounding: str = DEFAULT_ROUNDING


class RFStep:
    """A sliding window as the receptive-field algebra sees it, per axis (h, w):
    effective kernel, stride and left/top padding."""
    __slots__ = ("k", "s", "p")

    def __init__(self, k: Pair, s: Pair, p: Pair):
        self.k, self.s, self.p = k, s, p


IDENTITY = "identity"   # output unit sees what the input unit at the same place sees
GLOBAL = "global"       # output unit sees the whole input
MERGE = "merge"         # output unit sees the union of what its inputs' units see


# ---------------------------------------------------------------------------------------------
# the op classes

class Op:
    kind: str = ""
    names: tuple[str, ...] = ()     # other spellings accepted for ``op:`` in YAML
    ATTRS: dict[str, Any] = {}      # attribute -> default (REQUIRED for none)
    arity: int | None = 1           # inputs; None means two or more (merges)
    weight_layer = False            # counted in the VGG table's "# Layers"
    inplace = False                 # may overwrite its input (ReLU, dropout)
    view = False                    # output is a view of its input (flatten): never a copy

    def normalize(self, raw: dict[str, Any], pos: SourcePos,
                  where: dict[str, SourcePos] | None = None) -> dict[str, Any]:
        """Validated attributes with defaults filled in. ``where`` may give each attribute's own
        place in the source, for sharper error positions. Every problem is reported at once:
        each unknown attribute (with a "did you mean"), each bad value, each missing one."""
        where = where or {}
        diags: list[Diagnostic] = []
        meant: set[str] = set()
        for k in raw:
            if k in self.ATTRS:
                continue
            advice = ATTR_ADVICE.get(str(k).lower())
            near = None if advice else suggest_attr(str(k), self.ATTRS)
            if near:
                meant.add(near)
            allowed = ", ".join(self.ATTRS) or "none"
            diags.append(Diagnostic("error", f"{self.kind} takes no attribute {k!r}",
                                    where.get(("key", k)) or where.get(k, pos),
                                    (f"did you mean {near!r}? " if near else "")
                                    + (advice + "; " if advice else "")
                                    + f"attributes of {self.kind}: {allowed}"))
        out = {}
        for name, default in self.ATTRS.items():
            value = raw.get(name, default)
            if value is REQUIRED:
                if name not in meant:       # a misspelling of it is reported already
                    diags.append(Diagnostic("error", f"{self.kind} needs the attribute {name!r}",
                                            pos, f"for example {{op: {self.kind}, {name}: ...}}"))
                continue
            try:
                out[name] = self.coerce(name, value, where.get(name, pos))
            except ArchcalcError as exc:
                diags.extend(exc.diagnostics)
        if diags:
            raise ArchcalcError(diags)
        return out

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return value

    def shape(self, a: dict, ins: list[Vol], at: "At") -> Vol:
        """Output volume from the input volumes; errors are raised with ``at``'s place."""
        return ins[0]

    def params(self, a: dict, ins: list[Vol], out: Vol) -> tuple[int, int]:
        """(trainable, non-trainable) parameter counts."""
        return (0, 0)

    def macs(self, a: dict, ins: list[Vol], out: Vol) -> int:
        return 0

    def rf_step(self, a: dict, ins: list[Vol]) -> RFStep | str:
        return IDENTITY

    def describe(self, a: dict) -> str:
        return ""

    def explain(self, a: dict, ins: list[Vol], out: Vol, rounding: str) -> list["dv.Figure"]:
        """How the op got its figures: output height, width and depth (``out_h``, ``out_w``,
        ``out_c``), ``params`` (and ``buffers`` where it has them) and ``macs``, each a
        :class:`~archcalc.derive.Figure` whose value is what the rules above computed.
        ``rounding`` is the network's default for windows. Every op defines it (the test suite
        checks that each registered op explains every figure it computes)."""
        raise NotImplementedError(f"op {self.kind!r} does not explain its figures")


class _Elementwise(Op):
    """An op that maps each element on its own (or along channels at one place): the output
    volume is the input's, no weights, and its work is not counted as MACs."""

    def explain(self, a, ins, out, rounding):
        return dv.same_volume(ins[0]) + dv.no_params_no_macs()


# Attribute names other libraries use, and what archcalc calls them.
ATTR_SYNONYMS = {
    "size": "kernel", "kernel_size": "kernel", "ksize": "kernel", "pool_size": "kernel",
    "window": "kernel", "filter_size": "kernel", "strides": "stride", "pad": "padding",
    "pads": "padding", "filter": "filters", "num_filters": "filters", "out_channels": "filters",
    "channels": "filters", "units_out": "units", "out_features": "units", "num_outputs": "units",
    "outputs": "units", "features": "units", "neurons": "units", "use_bias": "bias",
    "dilation_rate": "dilation", "group": "groups", "ceil_mode": "rounding",
    "p": "rate", "drop_rate": "rate", "dropout": "rate", "epsilon": "eps",
    "output_size": "output", "depth_multiplier": "multiplier",
}


# Attributes other libraries put on a layer that archcalc expresses otherwise.
ATTR_ADVICE = {
    "activation": "an activation is a layer of its own here: add R (or {op: relu}) after this one",
    "inplace": "ReLU and dropout work in place by default (--count-inplace gives them buffers)",
    "in_place": "ReLU and dropout work in place by default (--count-inplace gives them buffers)",
    "axis": "softmax and concat act along the channels; there is no axis to choose",
    "dim": "softmax and concat act along the channels; there is no axis to choose",
}


def suggest_attr(name: str, attrs) -> str | None:
    """The attribute ``name`` was probably meant to be, among ``attrs``: a known synonym
    (``size`` → ``kernel``, ``strides`` → ``stride``), else the closest spelling."""
    import difflib
    key = name.lower()
    if key in attrs:
        return key
    syn = ATTR_SYNONYMS.get(key)
    if syn in attrs:
        return syn
    near = difflib.get_close_matches(key, list(attrs), n=1, cutoff=0.6)
    return near[0] if near else None


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


def _padding_of(a: dict, k_eff: Pair, layer: str, pos: SourcePos) -> Pair:
    p = a["padding"]
    if p == "valid":
        return (0, 0)
    if p == "same":
        if (k_eff[0] - 1) % 2 or (k_eff[1] - 1) % 2:
            raise error(f"'same' padding needs an odd kernel, got {k_eff[0]}×{k_eff[1]}", pos,
                        layer=layer, hint="give the padding as a number instead: a P option "
                        "after a token (C2D8P0), padding: 0 in YAML")
        return ((k_eff[0] - 1) // 2, (k_eff[1] - 1) // 2)
    return p


class _Windowed(Op):
    """Shared by conv and pooling: kernel, stride, padding, dilation, rounding."""

    def coerce(self, name, value, pos):
        if name in ("kernel", "stride", "dilation"):
            return _pair(value, name, pos)
        if name == "padding":
            return _padding(value, pos)
        if name == "rounding":
            return _rounding(value, pos)
        return value

    def normalize(self, raw, pos, where=None):
        """Also resolves, once, the dilated kernel (``k_eff``) and the padding per side (``pads``,
        from ``same``/``valid``/numbers): every later rule reads them from here."""
        a = super().normalize(raw, pos, where)
        (kh, kw), (dh, dw) = a["kernel"], a.get("dilation", (1, 1))
        a["k_eff"] = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        a["pads"] = _padding_of(a, a["k_eff"], None, (where or {}).get("padding", pos))
        return a

    def k_eff(self, a: dict) -> Pair:
        return a["k_eff"]

    def pads(self, a: dict, at: At | None = None) -> Pair:
        return a["pads"]

    def spatial(self, a: dict, vin: Vol, at: At) -> Pair:
        ph, pw = a["pads"]
        (kh, kw), (sh, sw) = a["kernel"], a["stride"]
        (dh, dw) = a.get("dilation", (1, 1))
        r = a.get("rounding") or at.rounding
        if (vin[0], kh, sh, ph, dh) == (vin[1], kw, sw, pw, dw):   # one check, one message
            h = window_out(vin[0], kh, sh, ph, dh, r, "height and width", at.layer, at.pos)
            return h, h
        out, diags = [], []
        for n, k, s, p, d, axis in ((vin[0], kh, sh, ph, dh, "height"),
                                    (vin[1], kw, sw, pw, dw, "width")):
            try:
                out.append(window_out(n, k, s, p, d, r, axis, at.layer, at.pos))
            except ArchcalcError as exc:     # report both axes at once
                diags.extend(exc.diagnostics)
        if diags:
            raise ArchcalcError(diags)
        return out[0], out[1]

    def rf_step(self, a, ins):
        return RFStep(a["k_eff"], a["stride"], a["pads"])

    def explain_window(self, a: dict, vin: Vol, out: Vol, rounding: str) -> list["dv.Figure"]:
        """Output height and width, with the rounding applied and what it dropped."""
        (kh, kw), (sh, sw), (dh, dw) = a["kernel"], a["stride"], a.get("dilation", (1, 1))
        ph, pw = a["pads"]
        r = a.get("rounding") or rounding
        return [dv.window_axis("out_h", "output height", "H", vin[0], kh, sh, ph, dh, r, out[0]),
                dv.window_axis("out_w", "output width", "W", vin[1], kw, sw, pw, dw, r, out[1])]

    def window_text(self, a: dict) -> str:
        (kh, kw), (sh, sw) = a["kernel"], a["stride"]
        k = f"{kh}×{kw}"
        s = f"/{sh}" if sh == sw else f"/{sh}×{sw}"
        p = a["pads"]
        ptxt = f"p{p[0]}" if p[0] == p[1] else f"p{p[0]}×{p[1]}"
        d = a.get("dilation", (1, 1))
        dtxt = "" if d == (1, 1) else f" d{d[0]}" if d[0] == d[1] else f" d{d[0]}×{d[1]}"
        return f"{k}{s} {ptxt}{dtxt}"


class Conv(_Windowed):
    kind = "conv"
    names = ("conv2d", "convolution")
    ATTRS = {"filters": REQUIRED, "kernel": 3, "stride": 1, "padding": "same", "dilation": 1,
             "groups": 1, "bias": True, "rounding": None, "in_channels": None}
    weight_layer = True

    def coerce(self, name, value, pos):
        if name == "in_channels" and value is None:
            return None
        if name in ("filters", "groups", "in_channels"):
            return _int(value, name, pos)
        if name == "bias":
            return _bool(value, name, pos)
        return super().coerce(name, value, pos)

    def shape(self, a, ins, at):
        vin = ins[0]
        _check_channels(a.get("in_channels"), vin[2], "in_channels", at)
        g = a["groups"]
        if vin[2] % g or a["filters"] % g:
            raise error(f"groups = {g} must divide both the input channels ({vin[2]}) "
                        f"and the filters ({a['filters']})", at.pos, layer=at.layer,
                        hint="choose groups that divides both, e.g. groups = input channels for a "
                             "depthwise convolution")
        h, w = self.spatial(a, vin, at)
        return (h, w, a["filters"])

    def params(self, a, ins, out):
        kh, kw = a["kernel"]
        weights = kh * kw * (ins[0][2] // a["groups"]) * a["filters"]
        return (weights + (a["filters"] if a["bias"] else 0), 0)

    def macs(self, a, ins, out):
        kh, kw = a["kernel"]
        return out[0] * out[1] * out[2] * (ins[0][2] // a["groups"]) * kh * kw

    def explain(self, a, ins, out, rounding):
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

    def sharing(self, a, ins, out) -> list["dv.Figure"]:
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
        dense = dv.product("dense", "fully connected", [("H·W·C", h * w * c), ("H'·W'·K", oh * ow * k)],
                           "every input to every output" + (", plus biases" if biases else ""),
                           plus=("H'·W'·K", oh * ow * k) if biases else None)
        return [dv.given("shared", "shared (this layer)", "parameters", shared), local, dense]

    def describe(self, a):
        g = f" g{a['groups']}" if a["groups"] != 1 else ""
        nb = "" if a["bias"] else " no-bias"
        return f"{self.window_text(a)}, {a['filters']}{g}{nb}"


def _check_channels(declared: int | None, got: int, what: str, at: At) -> None:
    """A layer that states what it expects (``in_channels``, ``in_features``, as PyTorch's
    constructors do) must receive exactly that."""
    if declared is not None and declared != got:
        src = f" from {at.inputs[0]}" if at.inputs else ""
        raise error(f"{what} = {declared}, but the input{src} has {got}", at.pos, layer=at.layer,
                    hint=f"set {what}: {got}, or fix the layer before it")


class DepthwiseConv(Conv):
    """Depthwise convolution (MobileNet): one k×k filter per input channel, ``multiplier`` of them,
    so C_out = multiplier·C_in. It is a conv with groups = C_in and filters = multiplier·C_in; this
    op exists so that a spec need not know its input's depth."""
    kind = "dwconv"
    names = ("depthwise_conv", "depthwiseconv2d")
    ATTRS = {"multiplier": 1, "kernel": 3, "stride": 1, "padding": "same", "dilation": 1,
             "bias": True, "rounding": None}

    def coerce(self, name, value, pos):
        if name == "multiplier":
            return _int(value, name, pos)
        return super().coerce(name, value, pos)

    @staticmethod
    def as_conv(a: dict, cin: int) -> dict:
        """The equivalent conv attributes for an input of ``cin`` channels."""
        return {**a, "filters": cin * a["multiplier"], "groups": cin}

    def shape(self, a, ins, at):
        return super().shape(self.as_conv(a, ins[0][2]), ins, at)

    def params(self, a, ins, out):
        return super().params(self.as_conv(a, ins[0][2]), ins, out)

    def macs(self, a, ins, out):
        return super().macs(self.as_conv(a, ins[0][2]), ins, out)

    def sharing(self, a, ins, out):
        return super().sharing(self.as_conv(a, ins[0][2]), ins, out)

    def explain(self, a, ins, out, rounding):
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

    def describe(self, a):
        m = f", ×{a['multiplier']}" if a["multiplier"] != 1 else ""
        return f"{self.window_text(a)} depthwise{m}" + ("" if a["bias"] else " no-bias")


class _Pool(_Windowed):
    ATTRS = {"kernel": 2, "stride": None, "padding": 0, "rounding": None}

    def normalize(self, raw, pos, where=None):
        a = super().normalize(raw, pos, where)
        if a["stride"] is None:
            a["stride"] = a["kernel"]      # as PyTorch: the stride defaults to the window
        return a

    def coerce(self, name, value, pos):
        if name == "stride" and value is None:
            return None
        return super().coerce(name, value, pos)

    def shape(self, a, ins, at):
        ph, pw = a["pads"]
        kh, kw = a["kernel"]
        if ph * 2 > kh or pw * 2 > kw:
            raise error(f"pooling padding ({ph}×{pw}) must be at most half the window ({kh}×{kw})",
                        at.pos, layer=at.layer, hint="PyTorch and ONNX refuse larger pooling pads")
        h, w = self.spatial(a, ins[0], at)
        return (h, w, ins[0][2])

    def explain(self, a, ins, out, rounding):
        return self.explain_window(a, ins[0], out, rounding) + [
            dv.given("out_c", "output depth", "C", ins[0][2], "pooling keeps the channels"),
            *dv.no_params_no_macs("comparisons and averages are not counted as MACs")]

    def describe(self, a):
        return self.window_text(a)


class MaxPool(_Pool):
    kind = "maxpool"
    names = ("max_pool", "pool", "maxpool2d")


class AvgPool(_Pool):
    kind = "avgpool"
    names = ("avg_pool", "averagepool", "avgpool2d")


class GlobalAvgPool(Op):
    kind = "global_avgpool"
    names = ("gap", "global_avg_pool", "globalaveragepool")

    def shape(self, a, ins, at):
        return (1, 1, ins[0][2])

    def rf_step(self, a, ins):
        return GLOBAL

    def explain(self, a, ins, out, rounding):
        h, w, c = ins[0]
        return [dv.given("out_h", "output height", "1", 1, f"one average over all {h}×{w} places"),
                dv.given("out_w", "output width", "1", 1),
                dv.given("out_c", "output depth", "C", c),
                *dv.no_params_no_macs("averages are not counted as MACs")]


class AdaptiveAvgPool(Op):
    """Average pooling to a fixed output size (torchvision's AlexNet and VGG use 6×6 and 7×7).

    archcalc accepts it where each output cell averages an equal window, i.e. the input size is a
    multiple of the output size; it is then an average pool with kernel = stride = input/output.
    (Uneven bins have no single kernel, so neither the receptive-field algebra nor ONNX's
    AveragePool can express them.)"""
    kind = "adaptive_avgpool"
    names = ("adaptive_avg_pool", "adaptiveavgpool2d")
    ATTRS = {"output": REQUIRED}

    def coerce(self, name, value, pos):
        return _pair(value, "output", pos)

    def window(self, a: dict, vin: Vol) -> Pair:
        return (vin[0] // a["output"][0], vin[1] // a["output"][1])

    def shape(self, a, ins, at):
        (h, w, c), (oh, ow) = ins[0], a["output"]
        if h % oh or w % ow:
            raise error(f"adaptive pooling from {h}×{w} to {oh}×{ow} has uneven windows", at.pos,
                        layer=at.layer, hint="archcalc needs the input size to be a multiple of the "
                        "output size; change the input or use an avgpool with an explicit kernel")
        return (oh, ow, c)

    def rf_step(self, a, ins):
        k = self.window(a, ins[0])
        return RFStep(k, k, (0, 0))

    def explain(self, a, ins, out, rounding):
        (h, w, c), (oh, ow) = ins[0], a["output"]
        return [dv.given("out_h", "output height", "the output size asked for", oh,
                         f"an average pool with window = stride = {h}/{oh} = {h // oh}"),
                dv.given("out_w", "output width", "the output size asked for", ow,
                         f"window = stride = {w}/{ow} = {w // ow}"),
                dv.given("out_c", "output depth", "C", c),
                *dv.no_params_no_macs("averages are not counted as MACs")]

    def describe(self, a):
        return f"→ {a['output'][0]}×{a['output'][1]}"


class FC(Op):
    kind = "fc"
    names = ("linear", "dense", "fully_connected")
    ATTRS = {"units": REQUIRED, "bias": True, "in_features": None}
    weight_layer = True

    def coerce(self, name, value, pos):
        if name == "in_features":
            return None if value is None else _int(value, name, pos)
        return _int(value, name, pos) if name == "units" else _bool(value, name, pos)

    def shape(self, a, ins, at):
        _check_channels(a.get("in_features"), prod(ins[0]), "in_features", at)
        return (1, 1, a["units"])

    def params(self, a, ins, out):
        n_in = prod(ins[0])
        return (n_in * a["units"] + (a["units"] if a["bias"] else 0), 0)

    def macs(self, a, ins, out):
        return prod(ins[0]) * a["units"]

    def rf_step(self, a, ins):
        return GLOBAL

    def explain(self, a, ins, out, rounding):
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

    def describe(self, a):
        return f"{a['units']}" + ("" if a["bias"] else " no-bias")


class ReLU(_Elementwise):
    kind = "relu"
    inplace = True


class Tanh(_Elementwise):
    kind = "tanh"


class Sigmoid(_Elementwise):
    kind = "sigmoid"


class Dropout(_Elementwise):
    kind = "dropout"
    ATTRS = {"rate": 0.5}
    inplace = True

    def coerce(self, name, value, pos):
        v = _float(value, "rate", pos)
        if not 0.0 <= v < 1.0:
            raise error(f"dropout rate must be in [0, 1), got {v}", pos)
        return v

    def describe(self, a):
        return f"p={a['rate']:g}"


class Softmax(_Elementwise):
    kind = "softmax"
    names = ("soft-max",)


class LRN(_Elementwise):
    """Local response normalization across channels (AlexNet, VGG A-LRN): no parameters."""
    kind = "lrn"
    ATTRS = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}

    def coerce(self, name, value, pos):
        return _int(value, name, pos) if name == "size" else _float(value, name, pos)

    def describe(self, a):
        return f"size {a['size']}"


class BatchNorm(Op):
    """Batch normalization: γ and β trainable (2C), running mean and variance buffers (2C)."""
    kind = "batchnorm"
    names = ("bn", "batch_norm", "batchnorm2d")
    ATTRS = {"eps": 1e-5}

    def coerce(self, name, value, pos):
        return _float(value, name, pos)

    def params(self, a, ins, out):
        c = ins[0][2]
        return (2 * c, 2 * c)

    def explain(self, a, ins, out, rounding):
        c = ins[0][2]
        return dv.same_volume(ins[0]) + [
            dv.product("params", "parameters", [("2", 2), ("C", c)], "γ and β per channel"),
            dv.product("buffers", "buffers", [("2", 2), ("C", c)],
                       "running mean and variance per channel: state, not parameters"),
            dv.zero("macs", "MACs", dv.NOT_COUNTED)]


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


class Input(Op):
    kind = "input"
    arity = 0

    def explain(self, a, ins, out, rounding):
        return [dv.given("out_h", "output height", "H", out[0], "the input"),
                dv.given("out_w", "output width", "W", out[1]),
                dv.given("out_c", "output depth", "C", out[2]),
                *dv.no_params_no_macs("")]


OPS: dict[str, Op] = {}
for _cls in (Input, Conv, DepthwiseConv, MaxPool, AvgPool, GlobalAvgPool, AdaptiveAvgPool, FC, ReLU, Tanh, Sigmoid, Dropout,
             Softmax, LRN, BatchNorm, Flatten, Concat, Add):
    _op = _cls()
    OPS[_op.kind] = _op

OP_NAMES: dict[str, str] = {}
for _op in OPS.values():
    OP_NAMES[_op.kind] = _op.kind
    for _n in _op.names:
        OP_NAMES[_n] = _op.kind


def lookup(name: Any, pos: SourcePos) -> Op:
    """The op for a kind name or one of its spellings (case-insensitive)."""
    key = str(name).lower()
    if key in OP_NAMES:
        return OPS[OP_NAMES[key]]
    import difflib
    near = difflib.get_close_matches(key, list(OP_NAMES), n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    raise error(f"unknown op {name!r}", pos,
                hint=hint + "known ops: " + ", ".join(k for k in OPS if k != "input"))


__all__ = ["OPS", "Op", "lookup", "window_out", "RFStep", "IDENTITY", "GLOBAL", "MERGE", "Vol",
           "ArchcalcError", "Diagnostic"]
