"""Warnings a reviewer would want: plain functions over a Network and its analysis rows.

Each check returns diagnostics of severity "warning"; none changes a figure. They are listed in
docs/diagnostics.md.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import TYPE_CHECKING

from ..errors import Diagnostic
from ..ops import OPS, Attrs, Vol, Windowed
from ..ops.base import unseen_tail
from ..ops.windowed import DepthwiseConv

if TYPE_CHECKING:
    from ..graph import Layer, Network
    from ..report import RF, LayerRow

SPATIAL_WEIGHTS = ("conv", "dwconv")
FC_SHARE = 0.5          # an fc layer holding more than this share of all parameters is flagged
WINDOWED = frozenset(kind for kind, op in OPS.items() if isinstance(op, Windowed))
MERGES = frozenset(kind for kind, op in OPS.items() if op.arity is None)


def _warn(layer: Layer, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic("warning", message, layer.pos, hint, layer.name)


def rounding_effects(net: Network, rows: dict[str, LayerRow]) -> Iterable[Diagnostic]:
    """Ceil rounding that adds a partial window, and floor rounding that leaves real input pixels
    at the bottom/right edge unseen by any window (pixels that the stride skips anyway, where the
    window is narrower than the stride, are not counted). Nothing under ``exact`` or ``covered``,
    which refuse those divisions with an error instead."""
    # (id of attributes, input volume, rounding): nothing to say
    quiet: set[tuple[int, Vol, str]] = set()
    for layer in net.layers:
        if layer.op not in WINDOWED or layer.name not in rows:
            continue
        a = layer.attrs
        rounding = a.get("rounding") or net.rounding
        if rounding in ("exact", "covered"):
            continue
        vin = rows[layer.inputs[0]].output
        key = (id(a), vin, rounding)
        if key in quiet:
            continue
        note = _rounding_note(layer, a, vin, rows[layer.name].output, rounding)
        if note is None:
            quiet.add(key)
        else:
            yield note


def _rounding_note(layer: Layer, a: Attrs, vin: Vol, vout: Vol,
                   rounding: str) -> Diagnostic | None:
    """The rounding warning of one layer: along the first axis that needs one, or along both
    when height and width have the same arithmetic."""
    op = layer.opdef
    assert isinstance(op, Windowed)             # the caller's check: layer.op in WINDOWED
    if isinstance(op, DepthwiseConv):
        a = op.as_conv(a, vin[2])
    terms = op.axis_terms(a, vin)               # (length, padding) per axis, per side aware
    found = []                                  # (numbers, axis) of each axis that warns
    for ax, axis in ((0, "height"), (1, "width")):
        (n, p), k, s = terms[ax], op.k_eff(a)[ax], a["stride"][ax]
        if not (n + 2 * p - k) % s:
            continue
        if rounding == "ceil" and vout[ax] != (n + 2 * p - k) // s + 2:
            continue                   # the extra window would start in the padding: none
        if rounding != "ceil" and unseen_tail(n, k, s, p) <= 0:   # the rule `covered` refuses by
            continue
        found.append(((n, k, s, p, vout[ax]), axis))
    if not found:
        return None
    (n, k, s, p, out), axis = found[0]
    both = len(found) == 2 and found[0][0] == found[1][0]
    if rounding == "ceil":
        along = "height and width" if both else axis
        return _warn(layer, f"ceil rounding adds a partial last window along {along}: "
                     f"({n} − {k} + 2·{p})/{s} + 1 = {(n + 2 * p - k) / s + 1:g} → {out}",
                     "expected for Caffe-style pooling; frameworks that floor give one less")
    unseen = unseen_tail(n, k, s, p)
    what = "row and column" if both else "row" if axis == "height" else "column"
    plural = what.replace("row", "rows").replace("column", "columns") if unseen > 1 else what
    return _warn(layer, f"floor rounding leaves the last {unseen} input {plural} "
                 f"({'height and width' if both else axis} {n}, window {k}, stride {s}, "
                 f"padding {p}) unseen by any window",
                 "adjust the input size or padding for an exact division")


def collapsed_early(net: Network, rows: dict[str, LayerRow]) -> Iterable[Diagnostic]:
    """A layer where the volume becomes 1×1 (from a larger input) while convolutions with a
    spatial kernel still read from it, directly or through other layers: those see padding
    around one pixel. 1×1 convolutions on a 1×1 volume are fully connected layers (the
    squeeze-and-excitation branch, a convolutional classifier) and do not count; neither do
    layers that do not descend from the collapse (the trunk beside a side branch), nor layers
    after a merge that broadcasts the 1×1 volume over a larger one (an SE gate's ``mul``)."""
    consumers = net.consumers
    seen: set[str] = set()
    for row in rows.values():
        out = row.output
        if not (out[0] == 1 == out[1]) or row.name in seen or not row.inputs or \
                all(rows[s].output[:2] == (1, 1) for s in row.inputs if s in rows):
            continue
        later = []                        # spatial convolutions reading from it, in layer order
        todo = [row.name]
        while todo:
            src = todo.pop()
            for c in consumers[src]:
                if c in seen or c not in rows:
                    continue
                if rows[src].output[:2] == (1, 1) and rows[c].output[:2] != (1, 1):
                    continue      # a gate broadcast over a larger volume (squeeze-and-excitation):
                    # what follows the merge sees the other input's places, not the 1×1 volume
                seen.add(c)
                todo.append(c)
                x = net[c]
                if x.op in SPATIAL_WEIGHTS and x.attrs["k_eff"] != (1, 1):
                    later.append(c)
        if later:
            later.sort(key=_position(net))
            n = len(later)
            yield _warn(net[row.name], f"the volume is 1×1 at {row.name} while {n} more "
                        + (f"convolutions follow (first: {later[0]}); they see" if n > 1 else
                           f"convolution follows ({later[0]}); it sees")
                        + " no spatial context",
                        "move the convolutions before the global pooling or fully connected "
                        "layer" if row.rf.is_global else
                        "use a larger input, or fewer poolings or strides before this layer")


def unread_outputs(net: Network, rows: dict[str, LayerRow]) -> Iterable[Diagnostic]:
    """A layer nothing reads, other than the last: it becomes another output of the network
    (kept alive to the end, exported as an ONNX output) — usually a name mistyped in a later
    layer's inputs."""
    declared = net.declared_outputs
    last = next(layer.name for layer in reversed(net.layers) if not layer.train_only)
    for name, readers in net.consumers.items():        # in layer order
        if readers or name not in rows or net[name].op == "input" or \
                net[name].train_only:      # an auxiliary head's output is read by the loss
            continue
        layer = net[name]
        if declared is None and name != last:
            yield _warn(layer, f"nothing reads {layer.name}: it is another output of the "
                        "network (kept to the end in peak memory, an output of the ONNX model)",
                        "if a later layer should read it, check that layer's inputs; if it is "
                        "meant as an output, list the outputs in the spec (outputs: [...])")
        elif declared is not None and name not in declared:
            yield _warn(layer, f"nothing reads {layer.name} and outputs: does not list it: its "
                        "work is wasted (it is not an output of the network)",
                        "add it to outputs, or check the inputs of the layer that should read "
                        "it")


def _position(net: Network) -> Callable[[str], int]:
    index = {layer.name: i for i, layer in enumerate(net.layers)}
    return index.__getitem__


def fc_dominates(net: Network, rows: dict[str, LayerRow]) -> Iterable[Diagnostic]:
    """A fully connected layer holding most of the network's parameters because it reads a
    flattened spatial volume of features (VGG's fc1 reads 7×7×512): the case the hint's global
    pooling would fix. An fc after global pooling (a narrow MobileNet's classifier) or one that
    reads the network's input itself (a multilayer perceptron) is not flagged: no pooling would
    shrink it."""
    total = sum(map(attrgetter("params"), rows.values()))
    for row in rows.values():
        if row.op == "fc" and total and row.params > FC_SHARE * total and \
                _reads_spatial_features(rows, row.inputs[0]):
            yield _warn(net[row.name], f"{row.name} holds {row.params / total:.0%} of the "
                        f"parameters ({row.params:,} of {total:,})",
                        "global average pooling before the classifier (as in GoogLeNet and "
                        "ResNet) removes most of them")


def _reads_spatial_features(rows: dict[str, LayerRow], name: str) -> bool:
    """Whether tensor ``name`` is, up to layers that keep its elements (flatten, dropout, ReLU,
    batch norm...), a volume larger than 1×1 computed by the network (not its input)."""
    while True:
        row = rows[name]
        h, w, c = row.output
        if row.op == "input":
            return False
        if h * w > 1:
            return True
        src = rows.get(row.inputs[0]) if len(row.inputs) == 1 else None
        if src is None or src.output[0] * src.output[1] * src.output[2] != h * w * c:
            return False
        name = src.name


def misaligned_merges(net: Network, rows: dict[str, LayerRow]) -> Iterable[Diagnostic]:
    """A merge whose branches disagree on receptive-field stride or centre (Araujo et al.)."""
    for row in rows.values():
        if row.op in MERGES and not row.rf.aligned and \
                all(rows[s].rf.aligned for s in row.inputs):
            yield _warn(net[row.name], "receptive fields of the merged branches are not aligned "
                        "(their strides or centres differ): " + ", ".join(
                            f"{s} {rows[s].rf.text()} centre {_centre(rows[s].rf)}"
                            for s in row.inputs),
                        "make every branch's total padding match its kernel, as Araujo et al. "
                        "(Distill 2019) describe; after upsampling a shift of part of the "
                        "coarser grid's stride is expected (FPN-style decoders accept it)")


def _centre(rf: RF) -> str:
    """The first centre's height coordinate (a merged branch's field is local)."""
    return "global" if rf.start is None else f"{rf.start[0]:g}"


def uncounted(net: Network, rows: dict[str, LayerRow]) -> Iterable[Diagnostic]:
    """Layers of an imported ONNX model whose op archcalc does not know (``opaque``, kept by
    ``--unknown passthrough``): their parameters and MACs are unknown, so every total is a lower
    bound. One warning, at the first of them."""
    found = [layer for layer in net.layers if layer.op == "opaque"]
    if not found:
        return
    kinds: dict[str, int] = {}
    for layer in found:
        kinds[layer.attrs["onnx_op"]] = kinds.get(layer.attrs["onnx_op"], 0) + 1
    listed = ", ".join(f"{op} ×{n}" if n > 1 else op for op, n in kinds.items())
    many = len(found) > 1
    yield _warn(found[0], f"{len(found)} layer{'s' if many else ''} pass{'' if many else 'es'} "
                f"through ONNX nodes archcalc cannot read ({listed}): their parameters and MACs "
                "are not counted (0 in every total, which is a lower bound)",
                "docs/onnx-import.md lists the ops and forms archcalc reads")
    unsized = [layer.name for layer in found if layer.attrs.get("output") is None]
    if unsized:
        yield _warn(net[unsized[0]],
                    f"ONNX shape inference gives no size for {', '.join(unsized)}: the output "
                    "volume is taken as the input's",
                    "run onnx.shape_inference.infer_shapes on the model first, or give --input "
                    "where its size is dynamic")


def token_slips(net: Network, rows: dict[str, LayerRow]) -> Iterable[Diagnostic]:
    """Token ops that run but are likely not what was meant: a patch merge of a token sequence
    (1×N×C: it pairs neighbouring tokens with the zero row of padding; Swin merges maps), and a
    shifted window as large as the map (the shift then only rolls the map: torchvision's Swin
    drops it; the counts are the same either way)."""
    for layer in net.layers:
        row = rows.get(layer.name)
        if row is None or not row.inputs:
            continue
        h, w, _ = rows[row.inputs[0]].output
        if layer.op == "patch_merge" and h == 1 and w > 1:
            yield _warn(layer, f"patch_merge of a token sequence 1×{w}: it merges 2×2 places of "
                        "a map, here each token with its neighbour and a row of padding",
                        "make the sequence a map first: {op: untokens} (size: [h, w] where it "
                        "is not square)")
        if layer.op == "attention" and layer.attrs["window"] and any(layer.attrs["shift"]) \
                and tuple(layer.attrs["window"]) == (h, w):
            yield _warn(layer, f"a shifted {h}×{w} window over a {h}×{w} map: the shift only "
                        "rolls the map (torchvision's Swin drops it at this size; the counts "
                        "are the same)", "drop the shift, or keep it to match an "
                        "implementation that rolls")


CHECKS = (rounding_effects, collapsed_early, fc_dominates, misaligned_merges, unread_outputs,
          uncounted, token_slips)


def lint(net: Network, rows: list[LayerRow]) -> list[Diagnostic]:
    by_name = {r.name: r for r in rows}
    return [d for check in CHECKS for d in check(net, by_name)]
