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
from ..ops.tokens import DropPath
from ..ops.words import article, counted
from . import layout as lay
from .context import Context, Handler
from .layout import Layout
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
    if a.layout is not None:
        linear(cv, node, a, units, n_in, _bias(node, 2))
        return
    fc(cv, node, a, units, n_in, _bias(node, 2))


def linear(cv: Context, node: Node, a: Act, units: int, n_in: int, bias: bool,
           named: Node | None = None) -> None:
    """A weight applied to the channels of every token or place (PyTorch's Linear on [N, T, C]
    or [N, H, W, C]): the channels must be the last axis."""
    la = a.layout
    assert la is not None
    if la.chan != len(la.dims) - 1:
        raise Unsupported(f"a weight applied to the last axis of an input laid out as "
                          f"{la.describe()}: not its channels")
    if n_in != a.vol[2]:
        raise Unsupported(f"a weight for {n_in:,} inputs on {counted(a.vol[2], 'channel')}")
    cv.emit(node, "linear", {"units": units, "bias": bias}, [a], named=named)


def fc(cv: Context, node: Node, a: Act, units: int, n_in: int, bias: bool,
       named: Node | None = None) -> None:
    if n_in != math.prod(a.vol):
        raise Unsupported(f"a weight for {n_in:,} inputs on an input of {math.prod(a.vol):,} "
                          f"({a.vol[0]}×{a.vol[1]}×{a.vol[2]})")
    cv.emit(node, "fc", {"units": units, "bias": bias}, [a], rank=2, named=named)


def matmul(cv: Context, node: Node, bias: str | None = None, last: Node | None = None) -> None:
    a = cv.act(node.inputs[0])
    w = cv.dims(node.inputs[1])
    if w is not None and len(w) == 2 and cv.is_param(node.inputs[1]) and a.layout is not None:
        linear(cv, node, a, w[1], w[0], bias is not None, last)
        return
    if w is None or len(w) != 2 or not cv.is_param(node.inputs[1]) or a.rank != 2:
        if isinstance(cv.vals.get(node.inputs[1]), Act):
            raise Unsupported("a MatMul of two activations outside an attention archcalc "
                              "recognizes (docs/onnx-import.md, \"Transformers\")")
        raise Unsupported("a MatMul that is not a vector times a 2-D weight (a fully connected "
                          "layer), nor tokens times one (a linear layer)")
    fc(cv, node, a, w[1], w[0], bias is not None, last)


matmul.layout_aware = True         # type: ignore[attr-defined]


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
        if a.layout is not None:
            _reduce_places(cv, node, a, kind, axes)
            return
        if a.rank != 4 or axes is None or sorted_axes(axes, 4) != [2, 3]:
            raise Unsupported(f"a reduction over axes {axes} (archcalc reads the spatial mean "
                              "or max, axes [2, 3], as global pooling)")
        cv.emit(node, kind, {}, [a], rank=4 if node.attrs.get("keepdims", 1) else 2)
    return handler


def _reduce_places(cv: Context, node: Node, a: Act, kind: str, axes: list[int] | None) -> None:
    """A mean or max over every place of an input laid out otherwise (the tokens of a
    sequence): global pooling."""
    la = a.layout
    assert la is not None
    rank = len(la.dims)
    over = set(sorted_axes(axes, rank)) if axes is not None else set(range(rank))
    places = {i for i, d in enumerate(la.dims) if i != la.chan and d > 1 and
              not (i == 0 and d == cv.batch)}
    if la.chan in over or not places <= over or (0 in over and cv.batch > 1):
        raise Unsupported(f"a reduction over axes {sorted(over)} of an input laid out as "
                          f"{la.describe()} (archcalc reads one over every place, a global "
                          "pooling)")
    keep = node.attrs.get("keepdims", 1)
    dims = tuple(1 if i in over else d for i, d in enumerate(la.dims)) if keep else \
        tuple(d for i, d in enumerate(la.dims) if i not in over)
    if dims == (cv.batch, a.vol[2]):
        cv.emit(node, kind, {}, [a], rank=2, layout=None)
        return
    chan = la.chan if keep else la.chan - sum(1 for i in over if i < la.chan)
    cv.emit(node, kind, {}, [a], layout=Layout(dims, chan))


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
    if a.layout is not None:
        if axis != a.layout.chan or cv.opset < 13:
            raise Unsupported(f"a softmax over axis {axis} of an input laid out as "
                              f"{a.layout.describe()} (archcalc's softmax is over the "
                              "channels)")
        cv.emit(node, "softmax", {}, [a])
        return
    if axis == 1 and (a.rank == 2 or cv.opset >= 13):
        cv.emit(node, "softmax", {}, [a])
    else:
        raise Unsupported(f"a softmax over axis {axis} of a rank-{a.rank} tensor (archcalc's "
                          "softmax is over the channels)")


def dropout(cv: Context, node: Node) -> None:
    rate = cv.scalar(node, 1, "ratio", 0.5)
    cv.emit(node, "dropout", {"rate": rate}, [cv.act(node.inputs[0])])


def depth_to_space(cv: Context, node: Node) -> None:
    """DepthToSpace in CRD order is PyTorch's pixel_shuffle."""
    a = cv.act(node.inputs[0])
    mode = node.attrs.get("mode", "DCR")
    if isinstance(mode, bytes):
        mode = mode.decode()
    if a.rank != 4 or a.layout is not None:
        raise Unsupported("a DepthToSpace of an input that is not an [N, C, H, W] map")
    if mode != "CRD":
        raise Unsupported(f"DepthToSpace in {mode} order (archcalc's pixel_shuffle is PyTorch's, "
                          "the CRD order)")
    cv.emit(node, "pixel_shuffle", {"factor": int(node.attrs["blocksize"])}, [a])


def identity(cv: Context, node: Node) -> None:
    """A view, or archcalc's own export of a drop_path (named in its doc_string)."""
    doc = DropPath.ONNX_DOC
    if node.doc.startswith(doc):
        try:
            rate = float(node.doc[len(doc):])
        except ValueError:
            rate = None
        if rate is not None and 0.0 <= rate < 1.0:
            cv.emit(node, "drop_path", {"rate": rate}, [cv.act(node.inputs[0])])
            return
    cv.alias(node, cv.act(node.inputs[0]))


def merge(kind: str) -> Handler:
    def handler(cv: Context, node: Node) -> None:
        xs = [x for x in node.inputs if x]
        consts = [x for x in xs if not isinstance(cv.vals.get(x), Act)]
        if consts:
            if len(xs) == 2 and len(consts) == 1 and cv.is_param(consts[0]) and \
                    node.op_type in ("Add", "Mul"):
                a = cv.act(xs[0] if consts[0] == xs[1] else xs[1])
                _learned(cv, node, a, consts[0])
                return
            raise Unsupported(f"{node.op_type} with a constant operand ({consts[0]!r}): archcalc's "
                              f"{kind} merges layers")
        acts = [cv.act(x) for x in xs]
        if len(acts) == 1:
            cv.alias(node, acts[0])
            return
        first = acts[0].layout
        if any(a.layout is not None for a in acts) and \
                not all(a.layout is not None and a.layout.same(first) for a in acts):
            shown = "; ".join(a.layout.describe() if a.layout is not None else
                              f"{a.onnx_dims(cv.batch)}" for a in acts)
            raise Unsupported(f"{article(kind)} {kind} of inputs laid out differently ({shown})")
        cv.emit(node, kind, {}, acts)
    return handler


def _learned(cv: Context, node: Node, a: Act, param: str) -> None:
    """An Add or Mul of a learned tensor: a position embedding (one value per element of an
    image: ViT's) or a layer scale (one factor per channel: CaiT's, ConvNeXt's γ)."""
    d = cv.dims(param) or ()
    dims = a.onnx_dims(cv.batch)
    chan = a.layout.chan if a.layout is not None else 1
    h, w, c = a.vol
    padded = (1,) * (len(dims) - len(d)) + tuple(d)
    fits = len(d) <= len(dims) and all(p in (1, q) for p, q in zip(padded, dims))
    if node.op_type == "Add" and fits and math.prod(d) == h * w * c:
        cv.emit(node, "pos_embed", {"tokens": h * w} if h == 1 else {}, [a])
        return
    if node.op_type == "Mul" and fits and math.prod(d) == c and \
            all(p == 1 for i, p in enumerate(padded) if i != chan):
        cv.emit(node, "layer_scale", {}, [a])
        return
    what = "position embedding (one value per element)" if node.op_type == "Add" else \
        "layer scale (one factor per channel)"
    raise Unsupported(f"{article(node.op_type)} {node.op_type} of a learned tensor of shape "
                      f"{list(d)} on an input of {dims}: archcalc reads it as a {what}")


def concat(cv: Context, node: Node) -> None:
    xs = [x for x in node.inputs if x]
    if any(not isinstance(cv.vals.get(x), Act) for x in xs):
        _class_token(cv, node, xs)
        return
    acts = [cv.act(x) for x in xs]
    rank = max(a.rank for a in acts)
    axis = node.attrs.get("axis", 1)
    if any(a.layout is not None for a in acts):
        _concat_laid_out(cv, node, acts, axis)
        return
    if sorted_axes([axis], rank) != [1]:
        raise Unsupported(f"a concatenation along axis {axis} (archcalc concatenates channels, "
                          "axis 1)")
    if len(acts) == 1:
        cv.alias(node, acts[0])
        return
    cv.emit(node, "concat", {}, acts)


def as_sequence(cv: Context, node: Node, a: Act) -> Act:
    """``a`` as a token sequence 1×N×C: itself where it is one; a ``tokens`` layer where it is a
    map laid out as one ([N, H·W, C] from channels last: Swin's flatten), made here."""
    la = a.layout
    h, w, _ = a.vol
    if la is None or h == 1 or la.places is not None or \
            lay.squeezed_rest(la, cv.batch) != (h * w,):
        return a
    cv.emit(node, "tokens", {}, [a], layout=la)
    t = cv.vals[node.outputs[0]]
    assert isinstance(t, Act)
    return t


def _class_token(cv: Context, node: Node, xs: list[str]) -> None:
    """Learned tokens put before a token sequence: Concat(Expand(token), sequence) along the
    tokens' axis, as ViT's class token."""
    first = xs[0]
    if len(xs) != 2 or not cv.is_param(first) or not isinstance(cv.vals.get(xs[1]), Act):
        raise Unsupported("a concatenation of a constant with layers (archcalc reads learned "
                          "tokens put before a token sequence: a class token)")
    a = as_sequence(cv, node, cv.act(xs[1]))
    la = a.layout
    d = cv.dims(first) or ()
    axis = node.attrs.get("axis", 1)
    axis = axis + len(d) if axis < 0 else axis
    if la is None or a.vol[0] != 1 or len(d) != len(la.dims) or axis == la.chan or \
            lay.squeezed_rest(la, cv.batch) not in ((la.dims[axis],), ()) or \
            any(p != q for i, (p, q) in enumerate(zip(d, la.dims)) if i != axis):
        raise Unsupported(f"a concatenation of a learned tensor of shape {list(d)} with an input "
                          f"of {a.onnx_dims(cv.batch)} (archcalc reads learned tokens put before "
                          "a token sequence [N, T, C]: a class token)")
    count = d[axis]
    dims = list(la.dims)
    dims[axis] += count
    cv.emit(node, "class_token", {"count": count}, [a], layout=Layout(tuple(dims), la.chan))


def _concat_laid_out(cv: Context, node: Node, acts: list[Act], axis: int) -> None:
    """A concatenation of channels (the last axis of tokens, channels last)."""
    first = acts[0].layout
    assert first is not None
    axis = axis + len(first.dims) if axis < 0 else axis
    if axis != first.chan or not all(
            a.layout is not None and a.layout.with_channels(0).same(first.with_channels(0))
            for a in acts):
        raise Unsupported(f"a concatenation along axis {axis} of inputs laid out as "
                          f"{first.describe()} (archcalc concatenates channels)")
    cv.emit(node, "concat", {}, acts)


def gather(cv: Context, node: Node) -> None:
    """One token of a token sequence (ViT's x[:, 0]): take_token; every channel in order (a
    view, as PyTorch's exporter writes as_strided)."""
    a = as_sequence(cv, node, cv.act(node.inputs[0]))
    la = a.layout
    c = cv.const(node.inputs[1])
    axis = node.attrs.get("axis", 0)
    if c is not None and math.prod(c.dims) > 1:
        src = la or lay.classic(a.onnx_dims(cv.batch), cv.batch)
        axis = axis + len(src.dims) if axis < 0 else axis
        big = [i for i, d in enumerate(c.dims) if d != 1]
        if axis == src.chan and math.prod(c.dims) == a.vol[2] and len(big) == 1:
            # (the channels in any order: a view, whatever the indices, which an export may
            # keep in an external file archcalc does not read)
            dims = src.dims[:axis] + tuple(c.dims) + src.dims[axis + 1:]
            _settle(cv, node, a, Layout(dims, axis + big[0], src.places))
            return
    if la is None or c is None or c.values is None or len(c.values) != 1 or a.vol[0] != 1:
        raise Unsupported("a Gather that is not one token of a token sequence [N, T, C]")
    axis = axis + len(la.dims) if axis < 0 else axis
    n = a.vol[1]
    if axis == la.chan or la.dims[axis] != n or lay.squeezed_rest(la, cv.batch) not in ((n,), ()):
        raise Unsupported(f"a Gather along axis {axis} of an input laid out as "
                          f"{la.describe()} (archcalc reads one token of a sequence)")
    index = int(c.values[0])
    dims = la.dims[:axis] + tuple(c.dims) + la.dims[axis + 1:]
    _take(cv, node, a, index, dims)


def _take(cv: Context, node: Node, a: Act, index: int, dims: tuple[int, ...]) -> None:
    la = a.layout
    assert la is not None
    chan = [i for i, d in enumerate(dims) if d == a.vol[2]]
    if dims == (cv.batch, a.vol[2]):
        cv.emit(node, "take_token", {"index": index}, [a], rank=2, layout=None)
    elif chan:
        k = chan[-1] if la.chan == len(la.dims) - 1 else chan[0]
        cv.emit(node, "take_token", {"index": index}, [a], layout=Layout(dims, k))
    else:
        raise Unsupported(f"one token as {list(dims)}")


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
    if a.layout is not None:
        _slice_tokens(cv, node, a, starts, ends, axes, steps)
        return
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


def _slice_tokens(cv: Context, node: Node, a: Act, starts: list[int], ends: list[int],
                  axes: list[int], steps: list[int] | None) -> None:
    """A Slice of a token sequence: the whole of it (nothing), or one token (take_token)."""
    la = a.layout
    assert la is not None
    dims = list(la.dims)
    for ax, s, e, st in zip(axes, starts, ends, steps or [1] * len(axes)):
        ax = ax + len(dims) if ax < 0 else ax
        n = dims[ax]
        picked = range(n)[slice(s, e, st)] if -(1 << 62) < e < (1 << 62) else \
            range(n)[slice(s, None if e > 0 else -n - 1, st)]
        if len(picked) == n:
            continue
        if ax == la.chan or len(picked) != 1 or a.vol[0] != 1 or n != a.vol[1]:
            raise Unsupported(f"a Slice of {len(picked)} of the {n} positions along axis {ax} of "
                              f"an input laid out as {la.describe()} (archcalc reads one token "
                              "of a sequence)")
        dims[ax] = 1
        _take(cv, node, a, picked[0], tuple(dims))
        return
    cv.alias(node, a)


def _values(c: Const | None) -> Sequence[Scalar] | None:
    return c.values if c is not None else None


def _resize_target(cv: Context, node: Node, a: Act) -> dict[str, list[int]]:
    """The Resize's (or Upsample's) output height and width, from its sizes or its scales (over
    [N, C, H, W], or from opset 18 over its ``axes``): whole factors as ``scale``, anything else
    as ``size`` (a scale s gives ⌊H·s⌋ places, as ONNX defines it)."""
    scales: Sequence[Scalar] | None
    sizes: Sequence[Scalar] | None = None
    if node.op_type == "Upsample":
        scales = node.attrs.get("scales") or (_values(cv.const(node.inputs[1]))
                                              if len(node.inputs) > 1 else None)
    elif cv.opset < 11:
        scales = _values(cv.const(node.inputs[1]))
    else:
        sc = cv.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
        sizes = _values(cv.const(node.inputs[3])) if len(node.inputs) > 3 and node.inputs[3] \
            else None
        scales = sc.values if sc is not None and sc.values else None
    h, w, _ = a.vol
    axes = [int(x) % 4 for x in node.attrs.get("axes", [0, 1, 2, 3])]
    given = sizes if sizes is not None else scales
    if given is None or len(given) != len(axes):
        raise Unsupported(f"a Resize without constant scales or sizes over its {len(axes)} axes")
    full: dict[int, float] = {0: 1, 1: 1, 2: 1, 3: 1} if sizes is None else \
        {0: 0, 1: a.vol[2], 2: h, 3: w}
    full.update(zip(axes, (float(v) for v in given)))
    if sizes is not None:
        if full[1] != a.vol[2] or full[2] < 1 or full[3] < 1:
            raise Unsupported(f"Resize sizes {list(given)} (archcalc resizes H and W)")
        th, tw = int(full[2]), int(full[3])
        if th % h == 0 and tw % w == 0:
            return {"scale": [th // h, tw // w]}
        return {"size": [th, tw]}
    if not (_close(full[0], 1) and _close(full[1], 1)) or full[2] <= 0 or full[3] <= 0:
        raise Unsupported(f"Resize scales {list(given)} (archcalc resizes H and W)")
    sh, sw = full[2], full[3]
    if float(sh).is_integer() and float(sw).is_integer():
        return {"scale": [int(sh), int(sw)]}
    return {"size": [math.floor(h * sh), math.floor(w * sw)]}


# how ONNX's Resize maps output coordinates, as archcalc reads it (docs/onnx-import.md):
# PyTorch's nearest (asymmetric, floor) and bilinear (half-pixel, or aligned corners)
_LINEAR_CORNERS = {"half_pixel": False, "pytorch_half_pixel": False, "align_corners": True}


def resize(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    mode = node.attrs.get("mode", "nearest")
    if isinstance(mode, bytes):
        mode = mode.decode()
    if mode not in ("nearest", "linear", "bilinear"):
        raise Unsupported(f"Resize mode {mode!r} (archcalc reads nearest and linear)")
    target = _resize_target(cv, node, a)
    legacy = node.op_type == "Upsample" or cv.opset < 11      # asymmetric, no choice
    coords = "asymmetric" if legacy else node.attrs.get("coordinate_transformation_mode",
                                                        "half_pixel")
    if isinstance(coords, bytes):
        coords = coords.decode()
    attrs: dict[str, object] = {"mode": "nearest" if mode == "nearest" else "bilinear", **target}
    whole = "scale" in target
    if mode == "nearest":
        rounding = node.attrs.get("nearest_mode", "round_prefer_floor")
        if isinstance(rounding, bytes):
            rounding = rounding.decode()
        # any nearest by whole factors reads the pixel ⌊o/S⌋ or its like; any other size only
        # PyTorch's (asymmetric, floor) is the nearest archcalc defines
        if not whole and not (legacy or (coords == "asymmetric" and rounding == "floor")):
            th, tw = target["size"]
            raise Unsupported(f"a Resize from {a.vol[0]}×{a.vol[1]} to {th}×{tw}, nearest with "
                              f"{coords} coordinates and {rounding} rounding (to a size that is "
                              "not a whole multiple archcalc reads PyTorch's nearest: "
                              "asymmetric coordinates, floor)")
    elif coords in _LINEAR_CORNERS:
        attrs["align_corners"] = _LINEAR_CORNERS[coords]
    elif not (legacy and whole):
        raise Unsupported(f"a linear Resize with {coords} coordinates (archcalc reads half_pixel, "
                          "pytorch_half_pixel and align_corners)")
    cv.emit(node, "upsample", attrs, [a], rank=4)


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
    if a.layout is not None:
        if any(pads):
            raise Unsupported(f"pads {pads} of an input laid out as {a.layout.describe()} "
                              "(archcalc follows a Pad of nothing there)")
        cv.alias(node, a)
        return
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
    axis = node.attrs.get("axis", 1)
    dims = a.onnx_dims(cv.batch)
    axis = axis + len(dims) if axis < 0 else axis
    if axis == 1 and (a.layout is None or dims[0] == cv.batch):
        _flat(cv, node, a)
        return
    _view(cv, node, a, [math.prod(dims[:axis]), math.prod(dims[axis:])])


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
    if len(target) == 2 and target[0] == cv.batch and \
            (a.layout is None or target[1] != ch or math.prod(a.vol[:2]) == 1):
        _flat(cv, node, a)
    elif a.layout is None and len(target) == 4 and target[1:] == [ch, h, w]:
        cv.alias(node, a, 4)
    else:
        _view(cv, node, a, target)


def _view(cv: Context, node: Node, a: Act, dims: Sequence[int] | None = None,
          perm: Sequence[int] | None = None) -> None:
    """A Reshape (to ``dims``) or Transpose (by ``perm``) that keeps the channels whole: the
    activation in a new layout (:mod:`.layout`). Where the view makes a map a token sequence
    (``x.flatten(2)``) or a sequence a map, that is a ``tokens`` or ``untokens`` layer; any
    other rearrangement is no layer."""
    src = a.layout or lay.classic(a.onnx_dims(cv.batch), cv.batch)
    new = lay.transpose(src, perm) if perm is not None else lay.reshape(src, dims or ())
    if new is None:
        what = f"a {node.op_type} of {list(src.dims)} to {list(dims or ())}"
        raise Unsupported(f"{what}: it splits or merges the channels with other axes (archcalc "
                          "follows views that keep them whole: token sequences, channels last, "
                          "windows; and a channel shuffle)")
    _settle(cv, node, a, new)


def _settle(cv: Context, node: Node, a: Act, new: Layout) -> None:
    """``a`` viewed as ``new``: [N, C, H, W] or [N, C] again; a ``tokens`` layer where the view
    flattens a map [N, C, H, W] into a sequence (ViT's ``x.flatten(2)``), an ``untokens`` layer
    where it makes a sequence a map; else the same layer laid out anew (channels last, windows:
    the volume stays the map's, whatever the arrangement; a later op that needs a sequence makes
    it one, :func:`as_sequence`)."""
    h, w, c = a.vol
    rest = lay.squeezed_rest(new, cv.batch)
    ordered = new.places is None
    if ordered and new.chan == 1 and len(new.dims) == 4 and new.dims[0] == cv.batch:
        size = tuple(new.dims[2:])                       # [N, C, H, W] again
        if size == (h, w):
            cv.alias(node, Act(a.layer, a.vol, 4))
        elif h == 1 and size[0] * size[1] == w:
            cv.emit(node, "untokens", {"size": list(size)}, [a], rank=4, layout=None)
        else:
            raise Unsupported(f"a {node.op_type} of {h}×{w} places to {size[0]}×{size[1]}")
    elif new.chan == 1 and new.dims == (cv.batch, c):
        cv.alias(node, Act(a.layer, a.vol, 2))
    elif ordered and rest == (h * w,) and h > 1 and a.layout is None:
        cv.emit(node, "tokens", {}, [a], layout=new)
    elif ordered and len(rest) == 2 and h == 1 and rest[0] * rest[1] == w and rest[0] > 1:
        cv.emit(node, "untokens", {"size": list(rest)}, [a], layout=new)
    else:
        cv.alias(node, Act(a.layer, a.vol, len(new.dims), layout=new))


def squeeze(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    axes = cv.ints(node, 1, "axes")
    if a.layout is None and node.op_type == "Squeeze" and a.rank == 4 and \
            a.vol[:2] == (1, 1) and (axes is None or sorted_axes(axes, 4) == [2, 3]):
        cv.alias(node, a, 2)
    elif a.layout is None and node.op_type == "Unsqueeze" and a.rank == 2 and \
            axes is not None and sorted_axes(axes, 4) == [2, 3]:
        cv.alias(node, a, 4)
    else:
        dims = a.onnx_dims(cv.batch)
        if node.op_type == "Squeeze":
            gone = set(sorted_axes(axes, len(dims))) if axes is not None else \
                {i for i, d in enumerate(dims) if d == 1}
            if any(dims[i] != 1 for i in gone):
                raise Unsupported(f"Squeeze on axes {axes} of {dims}")
            new = [d for i, d in enumerate(dims) if i not in gone]
        else:
            if axes is None:
                raise Unsupported("an Unsqueeze without axes")
            new = list(dims)
            for ax in sorted_axes(axes, len(dims) + len(axes)):
                new.insert(ax, 1)
        _view(cv, node, a, new)


def transpose(cv: Context, node: Node) -> None:
    a = cv.act(node.inputs[0])
    rank = len(a.onnx_dims(cv.batch))
    perm = node.attrs.get("perm") or list(reversed(range(rank)))
    if perm == list(range(rank)):
        cv.alias(node, a)
        return
    _view(cv, node, a, perm=perm)


def layernorm(cv: Context, node: Node, channels_last: bool = False) -> None:
    a = cv.act(node.inputs[0])
    axis = node.attrs.get("axis", -1)
    if a.layout is not None:
        channels_last = sorted_axes([axis], a.rank) == [a.layout.chan] == [a.rank - 1]
        if not channels_last:
            raise Unsupported(f"a LayerNormalization over axis {axis} of an input laid out "
                              f"as {a.layout.describe()} (archcalc's layer norm is over the "
                              "channels)")
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
    "DepthToSpace": depth_to_space,
    "Add": merge("add"), "Sum": merge("add"), "Mul": merge("mul"), "Concat": concat,
    "Split": split, "Slice": slice_, "Resize": resize, "Upsample": resize, "Pad": pad,
    "Flatten": flatten, "Reshape": reshape, "Squeeze": squeeze, "Unsqueeze": squeeze,
    "Transpose": transpose, "LayerNormalization": layernorm,
    "InstanceNormalization": instancenorm, "GroupNormalization": groupnorm, "Cast": cast,
    "Gather": gather,
}

# the ops whose handlers read activations laid out other than [N, C, H, W] and [N, C] (token
# sequences, channels last, windows: .layout); any other op on such an input is an error
LAYOUT_OPS = frozenset({
    "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Identity", "Cast", "Dropout",
    "MatMul", "Gemm", "LayerNormalization", "Softmax", "Relu", "Sigmoid", "Tanh", "HardSwish",
    "HardSigmoid", "Gelu", "LeakyRelu", "Elu", "Clip", "Add", "Sum", "Mul", "Concat", "Gather",
    "Slice", "Pad", "ReduceMean", "ReduceMax"})
