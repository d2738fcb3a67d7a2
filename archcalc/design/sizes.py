"""``archcalc sizes``: which input sizes a network takes, and the rule behind them
(docs/design-space.md).

Every size in a range is run through the analysis pass (``analysis.walk`` with that input: the
shape rules of the rounding rule in force, no re-reading of the spec unless its layers are
computed from the input's size). A valid size gets its final feature map (the output of the last
layer whose receptive field is not global, or that still has more than one place: 7×7×2048 for
ResNet-50 at 224, the 197 tokens of ViT-B/16's last block, whose field attention made global)
and that map's receptive field; the invalid ones are grouped by the first layer that refuses them.

The rule is solved, not guessed: along each path a layer with stride s whose input advances by a
jump J input pixels per unit (the receptive field's stride) divides an input that is an affine
function of N with slope 1/J, so whether it divides depends on N modulo numerator(J·s) only —
once N is large enough that no window is larger than its input. The sizes the network accepts
are therefore periodic in N with period P = lcm over the windowed layers of numerator(J·s) (32
for five stride-2 stages). The evaluated sizes give the residues that repeat and the size from
which they do; the smallest divisor of P that keeps the pattern is the period stated. Where the
evaluated range is too short to see the pattern twice the command says so instead of stating a
rule.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from math import gcd
from typing import TYPE_CHECKING, Any

from ..errors import OPTIONS, ArchcalcError, Diagnostic, error
from ..graph import Network
from ..ops.values import Vol

if TYPE_CHECKING:                       # (imported where used: sizes' start-up stays light)
    from ..report import RF
    from .parameters import Design

Reload = Callable[[Vol], Network]       # the network read again for another input volume

MAX_SIZES = 100_000


@dataclass
class Size:
    n: int
    input: Vol
    ok: bool
    layer: str | None = None            # the first layer that refuses it (or the feature map's)
    message: str | None = None          # that layer's error
    feature: Vol | None = None          # the final feature map's volume
    rf: RF | None = None                # its receptive field
    outputs: dict[str, Vol] = field(default_factory=dict)   # network outputs → volume


def parse_min_output(text: str | None) -> tuple[int, int] | None:
    """``"7x7"`` or ``"7"`` → (7, 7)."""
    if text is None:
        return None
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        vals = [int(p) for p in parts]
    except ValueError:
        vals = []
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) != 2 or min(vals) < 1:
        raise error(f"--min-output takes HxW (or one size for both), got {text!r}", OPTIONS,
                    hint="e.g. --min-output 7x7", kind="usage")
    return vals[0], vals[1]


def _input(base: Vol, n: int, axis: str) -> Vol:
    h, w, c = base
    return (n, n, c) if axis == "square" else (n, w, c) if axis == "height" else (h, n, c)


def evaluate(net: Network, sizes: Iterable[int], axis: str = "square",
             reload: Reload | None = None,
             min_output: tuple[int, int] | None = None) -> list[Size]:
    """Each size of ``sizes`` for ``net``. ``reload(n)`` gives the network for size n where its
    layers depend on the input's size (else the walk is fed the input directly)."""
    from ..analysis.walk import walk
    out: list[Size] = []
    for n in sizes:
        vol = _input(net.input, n, axis)
        this = net
        if reload is not None:
            try:
                this = reload(vol)
            except ArchcalcError as exc:
                d = next((x for x in exc.diagnostics if x.severity == "error"),
                         exc.diagnostics[0] if exc.diagnostics else None)
                out.append(Size(n, vol, False, d.layer if d else None,
                                d.message if d else "the spec cannot be built"))
                continue
        if reload is None:
            d = first_error(net, vol)
            if d is not None:
                out.append(Size(n, vol, False, d.layer, d.message))
                continue
        rows, diags, errors, _ = walk(this, input=None if reload else vol)
        if errors:
            d = next(d for d in diags if d.severity == "error")
            out.append(Size(n, vol, False, d.layer, d.message))
            continue
        feature = None
        for row in rows:       # the last map (or token sequence) before a head pools it away
            if not row.train_only and (not row.rf.is_global or row.output[0] * row.output[1] > 1):
                feature = row
        names = set(this.outputs)
        outs = {row.name: row.output for row in rows if row.name in names}
        s = Size(n, vol, True, feature.name if feature else None, None,
                 feature.output if feature else None, feature.rf if feature else None, outs)
        if min_output and feature is not None and (feature.output[0] < min_output[0]
                                                   or feature.output[1] < min_output[1]):
            s.ok = False
            s.message = (f"the final feature map {feature.output[0]}×{feature.output[1]} is "
                         f"smaller than --min-output {min_output[0]}×{min_output[1]}")
        out.append(s)
    return out


def first_error(net: Network, vol: Vol) -> Diagnostic | None:
    """The first error the analysis pass would report for ``net`` fed ``vol`` (None: valid),
    found with the shape rules alone: five times faster than the whole pass, which a valid size
    then gets (its figures come from it)."""
    from ..ops import MAX_DIM, At
    vols: dict[str, Vol] = {}
    rounding = net.rounding
    for layer in net.layers:
        if layer.op == "input":
            vols[layer.name] = vol
            continue
        try:
            out = layer.opdef.shape(layer.attrs, [vols[s] for s in layer.inputs],
                                    At(layer.name, layer.pos, layer.inputs, rounding))
        except ArchcalcError as exc:
            return next((d for d in exc.diagnostics if d.severity == "error"), None) or \
                Diagnostic("error", "refused", layer.pos, layer=layer.name)
        if max(out) > MAX_DIM:
            return Diagnostic("error", f"the output {out[0]}×{out[1]}×{out[2]} is too large",
                              layer.pos, layer=layer.name)
        vols[layer.name] = out
    return None


def stride_period(net: Network, n: int, axis: str = "square") -> int | None:
    """P: the period in N of the sizes ``net`` accepts (see the module's docstring), from the
    receptive-field jumps at input size ``n``; None where they cannot be had."""
    from ..analysis.walk import walk
    from ..ops import Windowed
    rows, _, errors, _ = walk(net, input=_input(net.input, n, axis))
    if errors:
        return None
    ax = 1 if axis == "width" else 0
    jump = {row.name: row.rf for row in rows}
    period = 1
    for layer in net.layers:
        if layer.name not in jump or layer.op == "input":
            continue
        ins = [jump[s] for s in layer.inputs if s in jump]
        if not ins or any(r.is_global for r in ins):
            continue
        # (a field that is not global has a stride)
        j = max(Fraction(r.stride[ax]).limit_denominator(1 << 16) for r in ins
                if r.stride is not None)
        if isinstance(layer.opdef, Windowed):
            s = layer.attrs["stride"][ax]
        elif layer.op == "attention" and (layer.attrs["window"] or layer.attrs["grid"]):
            s = (layer.attrs["window"] or layer.attrs["grid"])[ax]   # M divides the map
        elif layer.op == "pixel_unshuffle":
            s = layer.attrs["factor"]
        else:           # (adaptive pooling takes any input: PyTorch's uneven windows)
            continue
        p = (j * s).numerator
        period = period * p // gcd(period, p)
        if period > 1 << 20:
            return None
    return period


@dataclass
class Rule:
    text: str
    period: int | None = None             # d: valid iff N mod d in residues, for N ≥ start
    residues: tuple[int, ...] = ()
    start: int | None = None              # the rule holds from here (within the range)
    exceptions: tuple[int, ...] = ()      # valid sizes below start
    source: str = ""                      # "strides" or "observed"
    checked: tuple[int, int] | None = None    # the sizes it was derived on (first, last)


def _holds(valid: dict[int, bool], lo: int, hi: int, d: int, res: set[int]) -> int:
    """The smallest L in [lo, hi] from which valid[N] == (N mod d in res) for every N ≥ L."""
    L = hi + 1
    for n in range(hi, lo - 1, -1):
        if valid[n] != (n % d in res):
            break
        L = n
    return L


def derive(valid: dict[int, bool], lo: int, hi: int, P: int | None,
           observe: bool = True) -> Rule:
    """The rule of the valid sizes in lo..hi (every N there evaluated), given the period P.
    ``observe``: where P does not show twice in lo..hi, look for a shorter pattern the sizes
    show (three times); else say that no rule shows. An observed pattern is never "no size from
    N on": a run of refused sizes at the end of a range is no evidence that none follows."""
    if not any(valid.values()):
        return Rule(f"no size in {lo}..{hi} is valid", checked=(lo, hi))
    candidates = [(P, "strides")] if P else []
    span = hi - lo + 1
    best: tuple[int, int, set[int], str] | None = None
    observed = [(q, "observed") for q in range(1, span // 3 + 1)] if observe else []
    for p, source in candidates + observed:
        if best is not None and source == "observed":
            break
        if 2 * p > span:
            continue
        # the residues of the last full period, checked back to where they stop holding
        res = {n % p for n in range(hi - p + 1, hi + 1) if valid[n]}
        if not res and source == "observed":
            continue
        L = _holds(valid, lo, hi, p, res)
        # the pattern must be seen twice (from the strides), or three times and over at least
        # 8 sizes (observed only)
        if hi - L + 1 < (2 * p if source == "strides" else max(3 * p, 8)):
            continue
        if best is None or L < best[1]:
            best = (p, L, res, source)
        if source == "strides":
            break
    if best is None:
        return Rule(f"no periodic rule shows in {lo}..{hi} (the network's period is "
                    f"{P}: evaluate at least {2 * P} consecutive sizes)" if P else
                    f"no periodic rule shows in {lo}..{hi}", checked=(lo, hi))
    p, L, res, source = best
    for d in sorted(x for x in range(1, p + 1) if p % x == 0):   # the smallest period
        rd = {r % d for r in res}
        if all((r % d in rd) == (r in res) for r in range(p)):
            p, res = d, rd
            break
    first = next((n for n in range(L, hi + 1) if valid[n]), None)
    below = tuple(n for n in range(lo, L) if valid[n])
    if first is None:
        text = f"no size from {L} on"
    elif p == 1:
        text = f"every N ≥ {first}"
    else:
        rs = sorted(res)
        cong = (f"N divisible by {p}" if rs == [0] else f"N ≡ {rs[0]} (mod {p})" if len(rs) == 1
                else f"N mod {p} ∈ {{{', '.join(map(str, rs))}}}")
        # the lower bound, where some smaller size in the range has a valid residue
        text = cong + (f", N ≥ {first}" if any(n % p in res for n in range(lo, first)) else "")
    if below:
        text += "; also " + ", ".join(map(str, below[:8])) + (" …" if len(below) > 8 else "")
    return Rule(text, p, tuple(sorted(res)), L, below, source, (lo, hi))


MAX_EXTRA = 1 << 14      # sizes checked beyond the range, at most, to see the period twice


def _valid(net: Network, sizes: Iterable[int], axis: str,
           min_output: tuple[int, int] | None) -> dict[int, bool]:
    """Whether each size is valid (as :func:`evaluate` says, without the figures where
    ``--min-output`` does not ask for the final feature map)."""
    if min_output is not None:
        return {s.n: s.ok for s in evaluate(net, sizes, axis, None, min_output)}
    return {n: first_error(net, _input(net.input, n, axis)) is None for n in sizes}


def strides_rule(net: Network, valid: dict[int, bool], lo: int, hi: int, axis: str = "square",
                 min_output: tuple[int, int] | None = None) -> Rule | None:
    """The rule the strides imply (see the module's docstring), whatever the range: the period
    P from the receptive-field jumps at a valid size (the first in lo..hi, else the first found
    above it), then the sizes from ``lo`` on checked as far beyond ``hi`` as it takes to see
    the pattern twice (at most :data:`MAX_EXTRA` more). ``valid`` holds every size of lo..hi;
    the sizes checked beyond it are added to it. None where no valid size is found or the
    strides give no period (the caller then says what the range shows)."""
    first = next((n for n in range(lo, hi + 1) if valid[n]), None)
    top = hi
    while first is None and top < hi + MAX_EXTRA:       # a valid size above the range
        more = range(top + 1, min(top + 256, hi + MAX_EXTRA) + 1)
        valid.update(_valid(net, more, axis, min_output))
        top = more[-1]
        first = next((n for n in more if valid[n]), None)
    if first is None:
        return None
    P = stride_period(net, first, axis)
    if P is None:
        return None
    while True:
        rule = derive(valid, lo, top, P, observe=False)
        if rule.source == "strides":
            return rule
        if top >= hi + MAX_EXTRA:
            return Rule(f"no rule: the strides' period {P} does not show twice in the "
                        f"{top - lo + 1} sizes checked ({lo}..{top})", checked=(lo, top))
        nxt = min(top + P if top >= lo + 2 * P - 1 else lo + 2 * P - 1, hi + MAX_EXTRA)
        valid.update(_valid(net, range(top + 1, nxt + 1), axis, min_output))
        top = nxt


def progressions(ns: list[int]) -> list[str]:
    """Sorted sizes as runs: ``33..1023/2``, ``64..95``, ``100``."""
    out: list[str] = []
    i = 0
    while i < len(ns):
        j = i + 1
        if j < len(ns):
            step = ns[j] - ns[i]
            while j + 1 < len(ns) and ns[j + 1] - ns[j] == step:
                j += 1
            if j - i >= 2:
                out.append(f"{ns[i]}..{ns[j]}" + (f"/{step}" if step != 1 else ""))
                i = j + 1
                continue
        out.append(str(ns[i]))
        i += 1
    return out


def refused(results: list[Size]) -> list[dict[str, Any]]:
    """The invalid sizes grouped by the first layer that refuses them, in order of first size."""
    groups: dict[str | None, dict[str, Any]] = {}
    for s in results:
        if not s.ok:
            key = s.layer if not (s.message or "").startswith("the final feature map") \
                else "--min-output"
            g = groups.setdefault(key, {"layer": key, "message": s.message, "sizes": []})
            g["sizes"].append(s.n)
    for g in groups.values():
        g["count"] = len(g["sizes"])
        g["runs"] = progressions(g["sizes"])
    return list(groups.values())


# ---------------------------------------------------------------------------------------------
# the whole question (archcalc sizes)

@dataclass
class Sizes:
    """What ``archcalc sizes`` answers: the network, the range asked (``wanted``; LAST as
    given), the rule derived over every size of it, the sizes shown and the refused ones
    grouped by layer."""
    net: Network
    wanted: range
    lo: int
    hi: int
    axis: str
    min_output: tuple[int, int] | None
    rule: Rule
    shown: list[Size]
    refused: list[dict[str, Any]]

    @property
    def valid(self) -> list[Size]:
        return [s for s in self.shown if s.ok]


def sizes(design: Design, wanted: range, axis: str = "square",
          min_output: tuple[int, int] | None = None) -> Sizes:
    """Every size of ``wanted`` for the network of ``design`` (a
    :class:`~archcalc.design.parameters.Design`), with the rule the strides imply (checked on
    every size from the range's first to its last, whatever its step)."""
    if len(wanted) > MAX_SIZES or wanted[-1] > 2 ** 20:
        raise error(f"--range {wanted.start}..{wanted.stop - 1} is too large: at most "
                    f"{MAX_SIZES:,} sizes up to {2 ** 20:,}", OPTIONS, kind="usage",
                    hint="narrow the range (the rule is derived from every size in it; a step "
                         "only thins the listing)")
    if "res" in design.options.params:
        raise error("sizes sets the input size itself: drop --set res", OPTIONS,
                    hint="the range gives the sizes; --input gives the channels", kind="usage")
    net = base_network(design, wanted[0])
    fixed = fixed_size(net)
    if fixed is not None and ((fixed[0] is not None and axis != "width")
                              or (fixed[1] is not None and axis != "height")):
        return _fixed_sizes(net, fixed, wanted, axis, min_output)      # a size it fixes varies
    reload: Reload | None = None
    if net.size_dependent:        # its layers are computed from the input's size: read again
        def read_again(vol: Vol) -> Network:
            if "res" in net.params:
                return design.build({"res": vol[0]})
            return design.build({"input": f"{vol[0]}x{vol[1]}x{vol[2]}"})
        reload = read_again
    lo, hi = wanted[0], wanted.stop - 1         # LAST as given, even where STEP passes it
    every = range(lo, hi + 1)                   # the rule needs every size, not every STEPth
    results = evaluate(net, every if len(every) <= MAX_SIZES else wanted, axis, reload,
                       min_output)
    by_n = {s.n: s for s in results}
    valid = {s.n: s.ok for s in results}
    rule: Rule | None = None
    if len(valid) != len(every):
        rule = Rule("not derived (the range is sampled)")
    elif reload is None:        # the strides' rule, checked beyond the range where it must be
        rule = strides_rule(net, dict(valid), lo, hi, axis, min_output)
    if rule is None:            # what the range shows (a spec read again for each size),
        # from the strides of the network read at its first valid size where they show twice
        first = next((n for n in every if valid.get(n)), None)
        period = None
        if reload is not None and first is not None and len(valid) == len(every):
            period = stride_period(reload(_input(net.input, first, axis)), first, axis)
        rule = derive(valid, lo, hi, period)
    shown = [by_n[n] for n in wanted]
    return Sizes(net, wanted, lo, hi, axis, min_output, rule, shown, refused(shown))


def base_network(design: Design, n: int) -> Network:
    """The network of ``design``; an ONNX model whose height or width is dynamic (and no
    ``--input`` given) read at n along each dynamic axis, with its channels: every size is then
    tried."""
    try:
        return design.build()
    except ArchcalcError as exc:
        fix = next((d.fix for d in exc.diagnostics if d.fix), None) or {}
        if fix.get("kind") != "dynamic_input" or fix.get("channels") is None:
            raise
    fh, fw = fix.get("fixed_size") or (None, None)
    return design.build({"input": f"{fh or n}x{fw or n}x{fix['channels']}"})


def fixed_size(net: Network) -> tuple[int | None, int | None] | None:
    """An imported model's height and width where it fixes them (None along a dynamic axis;
    None where both are dynamic, or for a spec)."""
    fixed: tuple[int | None, int | None] | None = (net.origin or {}).get("fixed_size")
    return fixed


def fixed_message(net: Network) -> str:
    """What a model fixed at one size says about it (for the sizes it refuses)."""
    fh, fw = fixed_size(net) or (None, None)
    origin = net.origin or {}
    at = f"{fh}×{fw}" if fh and fw else f"H = {fh}" if fh else f"W = {fw}"
    return (f"{origin.get('path', net.name)}'s input {origin.get('input_name', 'input')!r} is "
            f"fixed at {at}: the model takes no other size")


def _fixed_sizes(net: Network, fixed: tuple[int | None, int | None], wanted: range, axis: str,
                 min_output: tuple[int, int] | None) -> Sizes:
    """``sizes`` for a model that fixes the height or width the range varies: the sizes that
    keep the fixed axes are analyzed; the others are refused by the input, as every command
    refuses them."""
    fh, fw = fixed
    why = fixed_message(net)
    shown = []
    for n in wanted:
        vol = _input(net.input, n, axis)
        if (fh is not None and vol[0] != fh) or (fw is not None and vol[1] != fw):
            shown.append(Size(n, vol, False, "input", why))
        else:
            shown.extend(evaluate(net, [n], axis, None, min_output))
    # the sizes N that keep the fixed axes: one, none, or (a dynamic axis varied) every one
    h, w, _ = net.input
    ns: set[int | None] = {fh if axis != "width" else None, fw if axis != "height" else None}
    ns.discard(None)
    kept = (axis != "width" or fh in (None, h)) and (axis != "height" or fw in (None, w))
    at = f"{fh}×{fw}" if fh and fw else f"H = {fh}" if fh else f"W = {fw}"
    if len(ns) > 1 or not kept or not ns:
        text = f"none: the model's input is fixed at {at}"
    else:
        text = f"one size, N = {ns.pop()}: the model's input is fixed at {at}"
    rule = Rule(text + " (re-export it with dynamic height and width for others)")
    lo, hi = wanted[0], wanted.stop - 1
    return Sizes(net, wanted, lo, hi, axis, min_output, rule, shown, refused(shown))


def valid_sizes_rule(net: Network) -> tuple[int, int, str] | None:
    """(first valid N, period, the rule's text) where the valid square input sizes are one
    residue modulo a period above 1 (the rule ``archcalc sizes -r 1..4096`` states), else
    None."""
    span = range(1, 4097)
    try:
        valid = _valid(net, span, "square", None)
        rule = strides_rule(net, valid, span[0], span[-1])   # (as archcalc sizes does)
    except ArchcalcError:
        return None
    if rule is None or rule.period is None or rule.period <= 1 or len(rule.residues) != 1 \
            or rule.exceptions:
        return None
    # (strides_rule added the sizes it checked past 4096 to valid)
    start = next((n for n in sorted(valid) if n >= (rule.start or 1) and valid[n]), None)
    return None if start is None else (start, rule.period, rule.text)
