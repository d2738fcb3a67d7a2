"""One function per ONNX op type: the archcalc layer it becomes (docs/onnx-import.md).

A handler reads its node's attributes and the dimensions of the initializers it uses, and
emits a layer through the converter (``cv.emit``), aliases its output to an input's
(``cv.alias``), or raises ``Unsupported`` naming the variant it cannot read.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..ops.resampling import Crop
from ..ops.words import article, counted
from .context import Context, Handler
from .values import Act, Const, Scalar, Unsupported, sorted_axes
from .wire import Node

INT64_MAX = (1 << 63) - 1


def _window(cv: Context, node: Node, a: Act, kernel: list[int]) -> dict[str, list[int]]:
    """kernel, stride, dilation and padding of a Conv/Pool node; auto_pad resolved against the
    input size (SAME_UPPER puts the odd pixel at the end, as TensorFlow's SAME)."""
    at = node.attrs
    if len(kernel) != 2:
        n = len(kernel)
        raise Unsupported(f"{article(str(n))} {n}-D window (archcalc reads 2-D ones)")
    strides = list(at.get("strides", [1, 1]))
    dil = list(at.get("dilations", [1, 1]))
    auto = at.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads_b, pads_e = [], []
        for n, k, s, d in zip(a.vol[:2], kernel, strides, dil):
            total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
            small, big = total // 2, total - total // 2
            pads_b.append(small if auto == "SAME_UPPER" else big)
            pads_e.append(big if auto == "SAME_UPPER" else small)
        pads = [*pads_b, *pads_e]
    elif auto == "VALID":
        pads = [0, 0, 0, 0]
    else:
        pads = list(at.get("pads", [0, 0, 0, 0]))
    top, left, bottom, right = pads
    padding = [top, left] if (top, left) == (bottom, right) else [top, bottom, left, right]
    return {"kernel": list(kernel), "stride": strides, "dilation": dil, "padding": padding}


def _bias(node: Node, i: int) -> bool:
    return len(node.inputs) > i and bool(node.inputs[i])


def conv(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    w = cv.dims(node.inputs[1])
    if w is None or len(w) != 4:
        raise Unsupported("its weight is not a 4-D initializer (a 2-D convolution's)")
    f, cin_g, kh, kw = w
    group = node.attrs.get("group", 1)
    cin = a.vol[2]
    if cin_g * group != cin:
        raise Unsupported(f"its weight [{f}, {cin_g}, {kh}, {kw}] with group {group} does not "
                          f"fit an input of {counted(cin, 'channel')}")
    win = _window(cv, node, a, list(node.attrs.get("kernel_shape", [kh, kw])))
    bias = _bias(node, 2)
    if group == cin and group > 1 and f % cin == 0:
        raw = {"multiplier": f // cin, **win, "bias": bias}
        cv.emit(node, "dwconv", raw, [a], rank=4)
    else:
        raw = {"filters": f, **win, "groups": group, "bias": bias}
        cv.emit(node, "conv", raw, [a], rank=4)


def conv_transpose(cv: Context, node: Node, extra: tuple[int, int] = (0, 0),
                   bias: bool | None = None, named: Node | None = None) -> None:
    """``extra``: zero rows and columns a Pad adds at the end (an output_padding beyond what
    ONNX's ConvTranspose takes); ``bias``: a bias added after that Pad."""
    a = cv.act(node.inputs[0])
    w = cv.dims(node.inputs[1])
    if w is None or len(w) != 4:
        raise Unsupported("its weight is not a 4-D initializer")
    _, f_g, kh, kw = w
    at = node.attrs
    group = at.get("group", 1)
    if at.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise Unsupported(f"auto_pad {at['auto_pad']}")
    top, left, bottom, right = at.get("pads", [0, 0, 0, 0]) \
        if at.get("auto_pad", "NOTSET") == "NOTSET" else [0, 0, 0, 0]
    opad = list(at.get("output_padding", [0, 0]))
    # archcalc's transposed conv crops P at both ends; an end crop smaller by x is the same as
    # x more output_padding
    if bottom > top or right > left:
        raise Unsupported(f"pads {[top, left, bottom, right]} crop more at the end than at the "
                          "start")
    opad = [opad[0] + top - bottom + extra[0], opad[1] + left - right + extra[1]]
    raw = {"filters": f_g * group, "kernel": [kh, kw], "stride": list(at.get("strides", [1, 1])),
           "padding": [top, left], "output_padding": opad, "groups": group,
           "dilation": list(at.get("dilations", [1, 1])),
           "bias": _bias(node, 2) if bias is None else bias}
    if "output_shape" in at:
        raw["output_size"] = list(at["output_shape"])[-2:]
        raw.pop("output_padding")
    cv.emit(node, "conv_transpose", raw, [a], rank=4, named=named)


def gemm(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    w = cv.dims(node.inputs[1])
    if w is None or len(w) != 2:
        raise Unsupported("its B operand is not a 2-D initializer (a weight)")
    if node.attrs.get("transA", 0):
        raise Unsupported("transA = 1")
    units, n_in = (w[0], w[1]) if node.attrs.get("transB", 0) else (w[1], w[0])
    fc(cv, node, a, units, n_in, _bias(node, 2))


def fc(cv: Context, node: Node, a: Act, units: int, n_in: int, bias: bool,
       named: Node | None = None) -> None:
    if n_in != math.prod(a.vol):
        raise Unsupported(f"a weight for {n_in:,} inputs on an input of {math.prod(a.vol):,} "
                          f"({a.vol[0]}×{a.vol[1]}×{a.vol[2]})")
    cv.emit(node, "fc", {"units": units, "bias": bias}, [a], rank=2, named=named)


def matmul(cv: Context, node: Node, bias: str | None = None, last: Node | None = None) -> None:
    a = cv.act(node.inputs[0])
    w = cv.dims(node.inputs[1])
    if w is None or len(w) != 2 or not cv.is_param(node.inputs[1]) or a.rank != 2:
        raise Unsupported("a MatMul that is not a vector times a 2-D weight (a fully connected "
                          "layer)")
    fc(cv, node, a, w[1], w[0], bias is not None, last)


def _pool(kind: str) -> Handler:
    def handler(cv: Context, node: Node) -> None:
        a = cv.act(node.inputs[0])
        at = node.attrs
        if any(d != 1 for d in at.get("dilations", [1, 1])):
            raise Unsupported("a dilated pooling window")
        win = _window(cv, node, a, list(at["kernel_shape"]))
        win.pop("dilation")
        raw = {**win, "rounding": "ceil"} if at.get("ceil_mode", 0) else win
        cv.emit(node, kind, raw, [a], rank=4)
    return handler


def _global(kind: str) -> Handler:
    def handler(cv: Context, node: Node) -> None:
        cv.emit(node, kind, {}, [cv.act(node.inputs[0])], rank=4)
    return handler


def _reduce(kind: str) -> Handler:
    """ReduceMean/ReduceMax over H and W: a global pooling (keepdims 0 gives a vector)."""
    def handler(cv: Context, node: Node) -> None:
        a = cv.act(node.inputs[0])
        axes = cv.ints(node, 1, "axes")
        if a.rank != 4 or axes is None or sorted_axes(axes, 4) != [2, 3]:
            raise Unsupported(f"a reduction over axes {axes} (archcalc reads the spatial mean "
                              "or max, axes [2, 3], as global pooling)")
        cv.emit(node, kind, {}, [a], rank=4 if node.attrs.get("keepdims", 1) else 2)
    return handler


def batchnorm(cv: Context, node: Node) -> None:
    cv.emit(node, "batchnorm", {"eps": node.attrs.get("epsilon", 1e-5)},
            [cv.act(node.inputs[0])])


def lrn(cv: Context, node: Node) -> None:
    at = node.attrs
    cv.emit(node, "lrn", {"size": at["size"], "alpha": at.get("alpha", 1e-4),
                          "beta": at.get("beta", 0.75), "k": at.get("bias", 1.0)},
            [cv.act(node.inputs[0])])


def _simple(kind: str, **attrs: tuple[str, float]) -> Handler:
    """A layer of ``kind`` whose attributes are the node's (``attrs``: archcalc's name → the
    ONNX attribute's name and its default)."""
    def handler(cv: Context, node: Node) -> None:
        raw = {k: node.attrs.get(onnx_name, default) for k, (onnx_name, default) in attrs.items()}
        cv.emit(node, kind, raw, [cv.act(node.inputs[0])])
    return handler


def clip(cv: Context, node: Node) -> None:
    lo = cv.scalar(node, 1, "min", None)
    hi = cv.scalar(node, 2, "max", None)
    a = cv.act(node.inputs[0])
    if _close(lo, 0.0) and _close(hi, 6.0):
        cv.emit(node, "relu6", {}, [a])
    elif _close(lo, 0.0) and (hi is None or hi > 3e38):
        cv.emit(node, "relu", {}, [a])
    else:
        raise Unsupported(f"Clip to [{lo}, {hi}] (archcalc reads [0, 6] as ReLU6 and [0, ∞) as "
                          "ReLU)")


def _close(x: Scalar | None, y: float) -> bool:
    return x is not None and abs(x - y) < 1e-6


def prelu(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    d = cv.dims(node.inputs[1])
    n = math.prod(d) if d is not None else None
    if n == 1:
        cv.emit(node, "prelu", {"shared": True}, [a])
    elif n == a.vol[2]:
        cv.emit(node, "prelu", {"shared": False}, [a])
    else:
        raise Unsupported(f"a PRelu slope of shape {list(d or [])} (archcalc reads one slope, or "
                          "one per channel)")


def softmax(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    axis = node.attrs.get("axis", 1 if cv.opset < 13 else -1)
    axis = axis + a.rank if axis < 0 else axis
    if axis == 1 and (a.rank == 2 or cv.opset >= 13):
        cv.emit(node, "softmax", {}, [a])
    else:
        raise Unsupported(f"a softmax over axis {axis} of a rank-{a.rank} tensor (archcalc's "
                          "softmax is over the channels)")


def dropout(cv: Context, node: Node) -> None:
    rate = cv.scalar(node, 1, "ratio", 0.5)
    cv.emit(node, "dropout", {"rate": rate}, [cv.act(node.inputs[0])])


def identity(cv: Context, node: Node) -> None:
    cv.alias(node, cv.act(node.inputs[0]))


def merge(kind: str) -> Handler:
    def handler(cv: Context, node: Node) -> None:
        xs = [x for x in node.inputs if x]
        consts = [x for x in xs if not isinstance(cv.vals.get(x), Act)]
        if consts:
            raise Unsupported(f"{node.op_type} with a constant operand ({consts[0]!r}): archcalc's "
                              f"{kind} merges layers")
        acts = [cv.act(x) for x in xs]
        if len(acts) == 1:
            cv.alias(node, acts[0])
            return
        cv.emit(node, kind, {}, acts)
    return handler


def concat(cv: Context, node: Node) -> None:
    acts = [cv.act(x) for x in node.inputs if x]
    rank = max(a.rank for a in acts)
    axis = node.attrs.get("axis", 1)
    if sorted_axes([axis], rank) != [1]:
        raise Unsupported(f"a concatenation along axis {axis} (archcalc concatenates channels, "
                          "axis 1)")
    if len(acts) == 1:
        cv.alias(node, acts[0])
        return
    cv.emit(node, "concat", {}, acts)


def split(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    if sorted_axes([node.attrs.get("axis", 0)], a.rank) != [1]:
        raise Unsupported(f"a split along axis {node.attrs.get('axis', 0)} (archcalc splits "
                          "channels, axis 1)")
    sizes = cv.ints(node, 1, "split")
    n = len(node.outputs)
    if sizes is None:
        c = a.vol[2]
        if c % n:                         # opset 18's num_outputs: the last part is smaller
            part = -(-c // n)
            sizes = [part] * (n - 1) + [c - part * (n - 1)]
        else:
            sizes = [c // n] * n
    cv.emit_split(node, a, sizes)


def slice_(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    if cv.opset >= 10:
        starts, ends = cv.ints(node, 1, None), cv.ints(node, 2, None)
        axes = cv.ints(node, 3, None)
        steps = cv.ints(node, 4, None)
    else:
        starts, ends = node.attrs.get("starts"), node.attrs.get("ends")
        axes, steps = node.attrs.get("axes"), None
    if starts is None or ends is None:
        raise Unsupported("a Slice without starts and ends")
    axes = list(range(len(starts))) if axes is None else axes
    if steps and any(s != 1 for s in steps):
        raise Unsupported(f"a Slice with steps {steps}")
    axes = [x + a.rank if x < 0 else x for x in axes]
    h, w, c = a.vol
    size = {1: c, 2: h, 3: w}
    span = {}
    for ax, s, e in zip(axes, starts, ends):
        if ax not in size or (a.rank == 2 and ax != 1):
            raise Unsupported(f"a Slice along axis {ax}")
        n = size[ax]
        s = max(0, s + n if s < 0 else min(s, n))
        e = max(0, e + n if e < 0 else min(e, n))
        span[ax] = (s, e)
    if set(span) == {1}:
        s, e = span[1]
        cv.emit(node, "slice", {"start": s, "end": e}, [a])
        return
    if 1 in span and span[1] != (0, c):
        raise Unsupported("a Slice of channels and of the spatial axes at once")
    oh = span.get(2, (0, h))
    ow = span.get(3, (0, w))
    th, tw = oh[1] - oh[0], ow[1] - ow[0]
    if (oh[0], ow[0]) != ((h - th) // 2, (w - tw) // 2):
        raise Unsupported(f"a Slice of rows {oh[0]}…{oh[1]} and columns {ow[0]}…{ow[1]} of "
                          f"{h}×{w}: archcalc's crop is centred")
    doc = Crop.ONNX_DOC
    if node.doc.startswith(doc) and cv.vols.get(node.doc[len(doc):], (0, 0))[:2] == (th, tw):
        other = node.doc[len(doc):]                  # archcalc's own export of a crop to the
        cv.emit(node, "crop", {}, [a, Act(other, cv.vols[other], 4)])   # size of a second input
        return
    cv.emit(node, "crop", {"size": [th, tw]}, [a])


def _values(c: Const | None) -> Sequence[Scalar] | None:
    return c.values if c is not None else None


def _resize_target(cv: Context, node: Node, a: Act) -> dict[str, list[int]]:
    scales: Sequence[Scalar] | None
    if node.op_type == "Upsample":
        scales = node.attrs.get("scales") or (_values(cv.const(node.inputs[1]))
                                              if len(node.inputs) > 1 else None)
        sizes = None
    elif cv.opset < 11:
        scales, sizes = _values(cv.const(node.inputs[1])), None
    else:
        sc = cv.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
        sz = _values(cv.const(node.inputs[3])) if len(node.inputs) > 3 and node.inputs[3] \
            else None
        scales = sc.values if sc is not None and sc.values else None
        sizes = [int(v) for v in sz] if sz is not None else None
    h, w, _ = a.vol
    if sizes is not None:
        if len(sizes) != 4:
            raise Unsupported(f"Resize sizes {sizes}")
        return {"size": sizes[2:]}
    if scales is None or len(scales) != 4 or not (_close(scales[0], 1) and _close(scales[1], 1)):
        raise Unsupported(f"Resize scales {scales} (archcalc resizes H and W)")
    sh, sw = scales[2:]
    if float(sh).is_integer() and float(sw).is_integer():
        return {"scale": [int(sh), int(sw)]}
    return {"size": [math.floor(h * sh), math.floor(w * sw)]}


def resize(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    mode = node.attrs.get("mode", "nearest")
    modes = {"nearest": "nearest", "linear": "bilinear", "bilinear": "bilinear"}
    if mode not in modes:
        raise Unsupported(f"Resize mode {mode!r} (archcalc reads nearest and linear)")
    target = _resize_target(cv, node, a)
    h, w, _ = a.vol
    size = target.get("size")
    if size is not None and (size[0] % h or size[1] % w or size[0] < h or size[1] < w):
        raise Unsupported(f"a Resize from {h}×{w} to {size[0]}×{size[1]}: archcalc's upsampling "
                          "is by whole factors (a size that is a multiple of the input's)")
    cv.emit(node, "upsample", {"mode": modes[mode], **target}, [a], rank=4)


def pad(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    at = node.attrs
    if cv.opset >= 11:
        pads = cv.ints(node, 1, None)
        value = cv.scalar(node, 2, None, 0.0) if len(node.inputs) > 2 and node.inputs[2] \
            else 0.0
        axes = cv.ints(node, 3, None) if len(node.inputs) > 3 and node.inputs[3] else None
    else:
        pads, value, axes = list(at.get("pads", [])), at.get("value", 0.0), None
    if pads is None:
        raise Unsupported("a Pad without pads")
    if axes is not None:
        full = [0] * 8
        k = len(axes)
        for i, ax in enumerate(sorted_axes(axes, 4)):
            full[ax], full[ax + 4] = pads[i], pads[i + k]
        pads = full
    mode = at.get("mode", "constant")
    if mode not in ("constant", "reflect"):
        raise Unsupported(f"Pad mode {mode!r} (archcalc pads with a constant or by reflection)")
    if a.rank != 4 or len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
        raise Unsupported(f"pads {pads} (archcalc pads height and width)")
    if any(p < 0 for p in pads):
        raise Unsupported(f"negative pads {pads}")
    raw: dict[str, Any] = {"padding": [pads[2], pads[6], pads[3], pads[7]], "mode": mode}
    if mode == "constant":
        raw["value"] = value
    cv.emit(node, "pad", raw, [a], rank=4)


def flatten(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    if node.attrs.get("axis", 1) != 1:
        raise Unsupported(f"a Flatten at axis {node.attrs['axis']} (archcalc flattens all but "
                          "the batch, axis 1)")
    _flat(cv, node, a)


def _flat(cv: Context, node: Node, a: Act) -> None:
    if a.rank == 2 or (a.vol[:2] == (1, 1) and a.flat is None):
        cv.alias(node, Act(a.layer, a.vol, 2, a.flat))
        return
    name = cv.layer_name(node) or "flatten"
    cv.take_name(name)
    cv.alias(node, Act(a.layer, (1, 1, math.prod(a.vol)), 2, name))


def reshape(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    shape = _values(cv.const(node.inputs[1]))
    if shape is None:
        raise Unsupported("a Reshape to a shape archcalc cannot compute")
    h, w, ch = a.vol
    dims = a.onnx_dims(cv.batch)
    target = [int(v) for v in shape]
    target = [dims[i] if t == 0 and i < len(dims) else t for i, t in enumerate(target)]
    total = math.prod(dims)
    if target.count(-1) == 1:
        known = math.prod(t for t in target if t != -1)
        target = [total // known if t == -1 else t for t in target]
    if math.prod(target) != total:
        raise Unsupported(f"a Reshape of {dims} to {target}")
    if len(target) == 2 and target[0] == cv.batch:
        _flat(cv, node, a)
    elif len(target) == 4 and target[1:] == [ch, h, w]:
        cv.alias(node, a, 4)
    else:
        raise Unsupported(f"a Reshape of {dims} to {target} (archcalc reads a flatten, and the "
                          "reshape–transpose–reshape of a channel shuffle)")


def squeeze(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    axes = cv.ints(node, 1, "axes")
    if node.op_type == "Squeeze" and a.rank == 4 and a.vol[:2] == (1, 1) and \
            (axes is None or sorted_axes(axes, 4) == [2, 3]):
        cv.alias(node, a, 2)
    elif node.op_type == "Unsqueeze" and a.rank == 2 and axes is not None and \
            sorted_axes(axes, 4) == [2, 3]:
        cv.alias(node, a, 4)
    else:
        raise Unsupported(f"{node.op_type} on axes {axes} of a rank-{a.rank} tensor")


def transpose(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    perm = node.attrs.get("perm")
    if perm is not None and perm != list(range(len(perm))):
        raise Unsupported(f"a Transpose {perm} (archcalc keeps the NCHW layout; it reads the "
                          "transposes of a channel shuffle and of a layer norm)")
    cv.alias(node, a)


def layernorm(cv: Context, node: Node, channels_last: bool = False) -> None:
    a = cv.act(node.inputs[0])
    axis = node.attrs.get("axis", -1)
    if not channels_last and not (a.rank == 2 and sorted_axes([axis], 2) == [1]):
        raise Unsupported(f"a LayerNormalization over axis {axis} of a rank-{a.rank} tensor "
                          "(archcalc's layer norm is over the channels)")
    if not _bias(node, 2):
        raise Unsupported("a LayerNormalization without a bias")
    cv.emit(node, "layernorm", {"eps": node.attrs.get("epsilon", 1e-5)}, [a])


def instancenorm(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    affine = cv.is_param(node.inputs[1])
    cv.emit(node, "instancenorm", {"affine": affine, "eps": node.attrs.get("epsilon", 1e-5)},
            [a], rank=4)


def groupnorm(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    d = cv.dims(node.inputs[1])
    groups = node.attrs["num_groups"]
    if d is None or math.prod(d) != a.vol[2]:
        raise Unsupported("a GroupNormalization with a scale per group (opset 18–20): archcalc's "
                          "group norm has one per channel (as opset 21 and PyTorch)")
    cv.emit(node, "groupnorm", {"groups": groups, "eps": node.attrs.get("epsilon", 1e-5)}, [a],
            rank=4)


def cast(cv: Context, node: Node) -> None:
    cv.alias(node, cv.act(node.inputs[0]))


HANDLERS: Mapping[str, Handler] = {
    "Conv": conv, "ConvTranspose": conv_transpose, "Gemm": gemm, "MatMul": matmul,
    "MaxPool": _pool("maxpool"), "AveragePool": _pool("avgpool"),
    "GlobalAveragePool": _global("global_avgpool"), "GlobalMaxPool": _global("global_maxpool"),
    "ReduceMean": _reduce("global_avgpool"), "ReduceMax": _reduce("global_maxpool"),
    "BatchNormalization": batchnorm, "LRN": lrn,
    "Relu": _simple("relu"), "Sigmoid": _simple("sigmoid"), "Tanh": _simple("tanh"),
    "HardSwish": _simple("hardswish"), "HardSigmoid": _simple("hardsigmoid"),
    "Gelu": _simple("gelu"), "LeakyRelu": _simple("leaky_relu", slope=("alpha", 0.01)),
    "Elu": _simple("elu", alpha=("alpha", 1.0)), "PRelu": prelu, "Clip": clip,
    "Softmax": softmax, "Dropout": dropout, "Identity": identity,
    "Add": merge("add"), "Sum": merge("add"), "Mul": merge("mul"), "Concat": concat,
    "Split": split, "Slice": slice_, "Resize": resize, "Upsample": resize, "Pad": pad,
    "Flatten": flatten, "Reshape": reshape, "Squeeze": squeeze, "Unsqueeze": squeeze,
    "Transpose": transpose, "LayerNormalization": layernorm,
    "InstanceNormalization": instancenorm, "GroupNormalization": groupnorm, "Cast": cast,
}
