"""Warnings a reviewer would want: plain functions over a Network and its analysis rows.

Each check returns diagnostics of severity "warning"; none changes a figure. They are listed in
docs/diagnostics.md.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from .errors import Diagnostic
from .ops import OPS, _Windowed

if TYPE_CHECKING:
    from .graph import Network
    from .report import LayerRow

SPATIAL_WEIGHTS = ("conv", "dwconv")
FC_SHARE = 0.5          # an fc layer holding more than this share of all parameters is flagged


def _warn(layer, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic("warning", message, layer.pos, hint, layer.name)


def rounding_effects(net: "Network", rows: dict[str, "LayerRow"]) -> Iterable[Diagnostic]:
    """Ceil rounding that adds a partial window, and floor rounding that leaves input pixels at
    the bottom/right edge unseen by any window."""
    for layer in net.layers:
        op = layer.opdef
        if not isinstance(op, _Windowed) or layer.name not in rows:
            continue
        a = layer.attrs
        rounding = a.get("rounding") or net.rounding
        if rounding in ("exact", "covered"):   # both refuse what would be warned here
            continue
        vin = rows[layer.inputs[0]].output
        if layer.op == "dwconv":
            a = op.as_conv(a, vin[2])
        pads = op.pads(a)
        for ax, axis in ((0, "height"), (1, "width")):
            n, k, s, p = vin[ax], op.k_eff(a)[ax], a["stride"][ax], pads[ax]
            r = (n + 2 * p - k) % s
            if not r:
                continue
            if rounding == "ceil":
                if rows[layer.name].output[ax] != (n + 2 * p - k) // s + 2:
                    continue               # the extra window would start in the padding: none
                yield _warn(layer, f"ceil rounding adds a partial last window along {axis}: "
                            f"({n} − {k} + 2·{p})/{s} + 1 = {(n + 2 * p - k) / s + 1:g} → "
                            f"{rows[layer.name].output[ax]}",
                            "expected for Caffe-style pooling; frameworks that floor give one less")
                break
            unseen = r - p
            if unseen > 0 and k >= s:
                yield _warn(layer, f"floor rounding leaves the last {unseen} input "
                            f"{'row' if ax == 0 else 'column'}{'s' if unseen > 1 else ''} "
                            f"({axis} {n}, window {k}, stride {s}, padding {p}) unseen by any window",
                            "adjust the input size or padding for an exact division")
                break


def collapsed_early(net: "Network", rows: dict[str, "LayerRow"]) -> Iterable[Diagnostic]:
    """A spatial layer whose output is 1×1 while convolutions still follow it."""
    order = [layer for layer in net.layers if layer.name in rows]
    for i, layer in enumerate(order):
        if isinstance(layer.opdef, _Windowed) and rows[layer.name].output[:2] == (1, 1):
            later = [x for x in order[i + 1:] if x.op in SPATIAL_WEIGHTS]
            if later:
                yield _warn(layer, f"the volume is 1×1 at {layer.name} while {len(later)} more "
                            f"convolution{'s' if len(later) > 1 else ''} follow "
                            f"(first: {later[0].name}); they see no spatial context",
                            "use a larger input, or fewer poolings or strides before this layer")
            return


def fc_dominates(net: "Network", rows: dict[str, "LayerRow"]) -> Iterable[Diagnostic]:
    """A fully connected layer holding most of the network's parameters."""
    total = sum(r.params for r in rows.values())
    for row in rows.values():
        if row.op == "fc" and total and row.params > FC_SHARE * total:
            yield _warn(net[row.name], f"{row.name} holds {row.params / total:.0%} of the "
                        f"parameters ({row.params:,} of {total:,})",
                        "global average pooling before the classifier (as in GoogLeNet and "
                        "ResNet) removes most of them")


def misaligned_merges(net: "Network", rows: dict[str, "LayerRow"]) -> Iterable[Diagnostic]:
    """A merge whose branches disagree on receptive-field stride or centre (Araujo et al.)."""
    for row in rows.values():
        if OPS[row.op].arity is None and not row.rf.aligned and \
                all(rows[s].rf.aligned for s in row.inputs):
            yield _warn(net[row.name], "receptive fields of the merged branches are not aligned "
                        "(their strides or centres differ): " + ", ".join(
                            f"{s} {rows[s].rf.text()} centre {rows[s].rf.start[0]:g}"
                            for s in row.inputs),
                        "make every branch's total padding match its kernel, as Araujo et al. "
                        "(Distill 2019) describe")


CHECKS = (rounding_effects, collapsed_early, fc_dominates, misaligned_merges)


def lint(net: "Network", rows: list["LayerRow"]) -> list[Diagnostic]:
    by_name = {r.name: r for r in rows}
    return [d for check in CHECKS for d in check(net, by_name)]
