"""The op machinery: attribute coercion, the output-size rule of sliding windows, receptive-field
steps, and the ``Op`` base class every op kind derives from. The op kinds themselves live in the
sibling modules, one per family; ``archcalc.ops`` registers them."""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final, Literal, NamedTuple

from ..errors import ArchcalcError, Diagnostic, Places, SourcePos, error
from . import derive as dv
from .values import (
    DEFAULT_ROUNDING,
    MAX_DIM,
    ROUNDINGS,
    Pair,
    Vol,
    as_bool,
    as_float,
    as_int,
    as_padding,
    as_pair,
    as_rounding,
)

__all__ = ["DEFAULT_ROUNDING", "MAX_DIM", "ROUNDINGS", "Pair", "Vol", "as_bool", "as_float",
           "as_int", "as_padding", "as_pair", "as_rounding", "Attrs", "At", "RFStep", "RFKind",
           "IDENTITY", "GLOBAL", "MERGE", "Op", "Elementwise", "REQUIRED", "check_channels",
           "suggest_attr", "unseen_tail", "window_ok", "window_out", "division_hint",
           "window_hint_text", "padding_text"]


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
    """Whether ``rounding`` accepts this window along one axis (the window fits the padded
    input, or under ``ceil`` falls short of it by less than a stride: :func:`window_out`)."""
    num = n + 2 * pad - k_eff
    if num < 0:
        return rounding == "ceil" and num > -s
    if rounding in ("floor", "ceil") or num % s == 0:
        return True
    return rounding == "covered" and unseen_tail(n, k_eff, s, pad) == 0


def padding_text(pads: Sequence[int]) -> str:
    """A padding as a spec writes it: ``2`` (every side), ``[2, 0]`` (height, width) or
    ``[1, 2, 0, 0]`` (top, bottom, left, right)."""
    if len(set(pads)) == 1:
        return str(pads[0])
    return "[" + ", ".join(map(str, pads)) + "]"


def division_hint(fix: Mapping[str, Any], layer: str | None) -> str:
    """The hint of a refused division (``window_out``'s error), from its ``fix`` record: another
    input length for this layer, a padding that the layer accepts (``pads``: the layer's whole
    padding, per axis where the axes differ), or another rounding (the layer's own where it sets
    one)."""
    fixes = []
    if fix.get("inputs"):
        fixes.append(f"an input {' and '.join(fix['axes'])} of {' or '.join(fix['inputs'])}")
    if fix.get("pads") is not None:
        fixes.append(f"padding {padding_text(fix['pads'])}" + (f" on {layer}" if layer else ""))
    on = f" on {layer}" if fix.get("own_rounding") and layer else ""
    fixes.append(f"rounding: floor{on} (as PyTorch) or rounding: ceil{on} (as Caffe pooling)")
    return "for a valid division use " + ", or ".join(fixes)


def window_hint_text(fix: Mapping[str, Any], layer: str | None) -> str:
    """The hint of a window larger than its padded input, from its ``fix`` record."""
    pads = fix.get("pads")
    if pads is None:          # (no padding the layer allows makes the window fit and divide)
        return "use a larger input or a smaller kernel"
    return (f"use padding {padding_text(pads)}" + (f" on {layer}" if layer else "")
            + ", a smaller kernel, or a larger input")


def _pad_fix(n: int, k_eff: int, s: int, pad: int, rounding: str, max_pad: int | None
             ) -> tuple[int] | None:
    """The least padding (on both sides, at most ``max_pad``) other than ``pad`` under which
    ``rounding`` accepts the window, or None."""
    most = k_eff - 1 if max_pad is None else min(max_pad, k_eff - 1)
    return next(((p,) for p in range(0, most + 1) if p != pad
                 and window_ok(n, k_eff, s, p, rounding)), None)


def window_out(n: int, k: int, s: int, pad: int, d: int, rounding: str, axis: str,
               layer: str, pos: SourcePos, max_pad: int | None = None) -> int:
    """Output length along one axis: (n − k_eff + 2·pad)/s + 1, rounded as ``rounding`` says.

    ``k_eff = d·(k − 1) + 1`` is the dilated kernel. ``floor`` drops a fraction (PyTorch, ONNX
    default); ``covered`` (the default) floors too, but refuses a fraction whose flooring leaves
    real input pixels unseen that the stride would not skip anyway (see :func:`unseen_tail`);
    ``exact`` refuses every fraction; ``ceil`` keeps a partial last window (Caffe pooling,
    ``ceil_mode``), but, as PyTorch and ONNX do, never a window that would start inside the right
    padding only. Under ``ceil``, as PyTorch's ``ceil_mode``, a window larger than the padded
    input still gives one output where (n + 2·pad − k_eff)/s + 1 rounds up to 1, i.e. where it
    falls short by less than a stride (kernel 3, stride 2 on 2: (2 − 3)/2 + 1 = 0.5 → 1).

    A refused window's error carries a ``fix`` record (what :mod:`archcalc.analysis.fixes` and
    the sliding-window ops rewrite into hints): the kind (``window``: larger than the padded
    input; ``rounding``: a division the rule refuses), the axes, the inputs lengths nearest
    ``n`` that work, and ``pads``, a padding on every side of these axes (at most ``max_pad``,
    a pooling's half window) that works.
    """
    k_eff = d * (k - 1) + 1
    num = n + 2 * pad - k_eff
    kdesc = f"{k}" if d == 1 else f"{k_eff} (kernel {k}, dilation {d})"
    if num < 0 and rounding == "ceil" and num > -s:
        return 1                    # ⌈num/s⌉ + 1 = 1; that window starts at −pad, in the input
    if num < 0:
        along = "both axes" if " and " in axis else axis
        fix: dict[str, Any] = {"kind": "window", "axes": axis.split(" and "),
                               "pads": _pad_fix(n, k_eff, s, pad, rounding, max_pad)}
        raise ArchcalcError([Diagnostic(
            "error", f"the {kdesc}-wide window is larger than the padded input along {along}: "
            f"{n} + 2·{pad} = {n + 2 * pad} < {k_eff}", pos, window_hint_text(fix, None), layer,
            fix=fix)])
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
    ins = [str(x) for x in range(n + 1, n + 2 * s + 1) if window_ok(x, k_eff, s, pad, rounding)][:1]
    ins += [str(x) for x in range(n - 1, max(0, n - 2 * s), -1)
            if window_ok(x, k_eff, s, pad, rounding)][:1]
    what = "is not a whole number"
    if rounding == "covered":
        rows = {"height": "row", "width": "column"}.get(axis, "row and column")
        last = f"last {unseen} input {rows}s".replace("row and columns", "rows and columns") \
            if unseen > 1 else f"last input {rows}"
        what += f", and flooring it would leave the {last} unseen by any window"
    fix = {"kind": "rounding", "axes": axis.split(" and "), "rounding": rounding, "inputs": ins,
           "pads": _pad_fix(n, k_eff, s, pad, rounding, max_pad)}
    raise ArchcalcError([Diagnostic(
        "error", f"output {axis} ({n} − {k_eff} + 2·{pad})/{s} + 1 = {value:g} {what}", pos,
        division_hint(fix, None), layer, fix=fix)])


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
    effective kernel, stride and left/top padding. ``up`` (upsampling, transposed convolution)
    first divides the jump by that factor: the window then slides over a grid ``up`` times finer
    than its input (docs/definitions.md, "Receptive field"); ``p`` may then be a fraction (and
    is negative for a crop)."""
    __slots__ = ("k", "p", "s", "up")

    def __init__(self, k: Pair, s: Pair, p: tuple[float, float], up: Pair = (1, 1)):
        self.k, self.s, self.p, self.up = k, s, p, up


# the steps that are no window
RFKind = Literal["identity", "global", "merge"]
IDENTITY: Final = "identity"   # output unit sees what the input unit at the same place sees
GLOBAL: Final = "global"       # output unit sees the whole input
MERGE: Final = "merge"         # output unit sees the union of what its inputs' units see

# A layer's attributes as its op normalized them, by name: each value is what the op's
# ``coerce`` made of it (an int, a Pair, a str, a bool, a float, a tuple or None, by attribute).
Attrs = Mapping[str, Any]


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
    rf_note = ""                    # what the receptive field leaves out (explain says it)

    def normalize(self, raw: Mapping[str, Any], pos: SourcePos,
                  where: Places | None = None) -> dict[str, Any]:
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
        out: dict[str, Any] = {}
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

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        """Output volume from the input volumes; errors are raised with ``at``'s place."""
        return ins[0]

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        """(trainable, non-trainable) parameter counts."""
        return (0, 0)

    def macs(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> int:
        return 0

    def rf_step(self, a: Attrs, ins: Sequence[Vol]) -> RFStep | RFKind:
        return IDENTITY

    def scratch(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> int:
        """Elements per image the layer holds while it runs besides its output, and keeps for
        the backward pass (attention's matrix of scores); 0 for most ops."""
        return 0

    def describe(self, a: Attrs) -> str:
        return ""

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        """How the op got its figures: output height, width and depth (``out_h``, ``out_w``,
        ``out_c``), ``params`` (and ``buffers`` where it has them) and ``macs``, each a
        :class:`~archcalc.ops.derive.Derivation` whose value is what the rules above computed.
        ``rounding`` is the network's default for windows. Every op defines it (the test suite
        checks that each registered op explains every figure it computes)."""
        raise NotImplementedError(f"op {self.kind!r} does not explain its figures")


class Elementwise(Op):
    """An op that maps each element on its own (or along channels at one place): the output
    volume is the input's, no weights, and its work is not counted as MACs."""

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
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
    "negative_slope": "slope", "num_groups": "groups",
}


# Attributes other libraries put on a layer that archcalc expresses otherwise.
ATTR_ADVICE = {
    "activation": "an activation is a layer of its own here: add R (or {op: relu}) after this one",
    "inplace": "ReLU, dropout and the activations PyTorch offers in place (relu6, hardswish, "
               "hardsigmoid, silu, leaky_relu, elu) work in place by default "
               "(--count-inplace gives them buffers)",
    "in_place": "ReLU, dropout and the activations PyTorch offers in place (relu6, hardswish, "
                "hardsigmoid, silu, leaky_relu, elu) work in place by default "
                "(--count-inplace gives them buffers)",
    "axis": "softmax and concat act along the channels; there is no axis to choose",
    "dim": "softmax and concat act along the channels; there is no axis to choose",
    "num_parameters": "prelu takes shared: true (one slope, PyTorch's PReLU()) or shared: false "
                      "(one per channel, PReLU(num_parameters=C))",
}


def suggest_attr(name: str, attrs: Collection[str]) -> str | None:
    """The attribute ``name`` was probably meant to be, among ``attrs``: a known synonym
    (``size`` → ``kernel``, ``strides`` → ``stride``), else the closest spelling."""
    from .words import closest
    key = name.lower()
    if key in attrs:
        return key
    syn = ATTR_SYNONYMS.get(key)
    if syn in attrs:
        return syn
    return closest(key, attrs)


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


def check_channels(declared: int | None, got: int, what: str, at: At) -> None:
    """A layer that states what it expects (``in_channels``, ``in_features``, as PyTorch's
    constructors do) must receive exactly that."""
    if declared is not None and declared != got:
        src = f" from {at.inputs[0]}" if at.inputs else ""
        raise error(f"{what} = {declared}, but the input{src} has {got}", at.pos, layer=at.layer,
                    hint=f"set {what}: {got}, or fix the layer before it")
