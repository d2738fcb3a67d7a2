"""archcalc networks → ONNX models (NCHW, float32, dynamic batch).

The emission table ``EMIT`` maps every archcalc op kind to a function that writes the ONNX nodes
of one layer. Every layer's output value is named after the layer, so the model can be checked
layer by layer against ``archcalc.analyze``: :func:`verify` runs ``onnx.checker``, ONNX shape
inference and a parameter count, and :func:`export` refuses to report a file done unless it passes.

Weights (``weights=``):
  * ``"random"``: Kaiming-uniform with the ReLU gain (He et al. 2015; PyTorch's
    ``kaiming_uniform_(w, nonlinearity="relu")``): U(−b, b), b = sqrt(6 / fan_in), so the standard
    deviation is sqrt(2 / fan_in) as He-normal's; biases zero, batch norm γ = 1, β = 0, running mean
    0 and variance 1. Each tensor is drawn in fixed chunks from a numpy Generator (SFC64) seeded
    with (seed, crc32(tensor name), chunk index), so the values do not depend on the order or the
    number of threads that draw them: two exports of one spec are byte-identical. (Uniform values
    draw about 4× faster than normal ones, which keeps export close to the cost of writing.)
  * ``"zeros"``: every trainable parameter is zero; batch norm's running statistics keep their
    initial values (mean 0, variance 1).
  * ``"none"`` (also ``"light"``): structure only. The weights are graph inputs carrying their
    shapes, so the file is a few kilobytes, passes the checker and opens in Netron, but needs its
    weights fed to run.

See docs/export.md for the opset choice, external data and atomic writes.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from math import ceil, prod, sqrt
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from archcalc.analysis import analyze
from archcalc.errors import OPTIONS, SourcePos, error
from archcalc.exporters import unknown_layer
from archcalc.files import Input, refuse_inputs, writable_output
from archcalc.graph import Builder, Layer, Network
from archcalc.ops import At, Op, Vol, Windowed
from archcalc.ops.channels import Slice
from archcalc.ops.resampling import ConvTranspose, Crop, Upsample
from archcalc.ops.windowed import AdaptiveAvgPool, DepthwiseConv, adaptive_windows
from archcalc.ops.words import counted
from archcalc.report import Report
from archcalc.version import __version__

from .onnx_tokens import TOKEN_EMIT, probe_layers

if TYPE_CHECKING:
    import mmap

    from rich.progress import Progress

WEIGHT_MODES = ("random", "zeros", "none")
WEIGHT_ALIASES = {"light": "none", "he": "random"}
BATCH = "batch"                   # the symbolic batch dimension of inputs and outputs
MIN_OPSET = 13                    # Softmax over one axis, Unsqueeze axes as an input
# The default opset: one that TensorRT (8.6 and later), OpenVINO and torch.onnx (its default
# since PyTorch 2.1) all handle; see docs/export.md. Lowered to the newest runnable one if needed.
DEFAULT_OPSET = 17
CHUNK = 1 << 18                   # elements drawn per random chunk (1 MiB of float32: cache-sized)
# Past this many bytes of weights a model is written with external data: protobuf cannot
# serialize a message over 2 GiB, and the graph itself needs some room.
EXTERNAL_DATA_THRESHOLD = (1 << 31) - (64 << 20)
EXTERNAL_ALIGN = 4096             # tensor offsets in the .data file, for memory mapping
PROGRESS_MIN_BYTES = 64 << 20     # a progress bar only for weights at least this large
# Written files up to this size are also passed through onnx.checker as files (it parses the
# whole file: about 2 s/GiB); larger ones are read back by their protobuf framing instead.
FULL_CHECK_BYTES = 64 << 20


class VerificationError(RuntimeError):
    """The ONNX model disagrees with the analyzer: a bug in the exporter or in the analyzer."""


# ---------------------------------------------------------------------------------------------
# parameters: what each weight tensor is and how its values are drawn

@dataclass(frozen=True)
class Param:
    """One weight tensor: ``init`` is its value in random mode ("he", "zeros", "ones",
    "prelu": 0.25, PyTorch's initial PReLU slope, or "given": ``values``, computed by the
    emitter: a relative-position index, a layer scale's initial factor);
    ``trainable`` False marks buffers (batch norm's running statistics)."""
    name: str
    shape: tuple[int, ...]
    init: str
    fan_in: int = 1
    trainable: bool = True
    values: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def size(self) -> int:
        return prod(self.shape)

    @property
    def nbytes(self) -> int:
        return 4 * self.size

    @property
    def chunks(self) -> int:
        return max(1, ceil(self.size / CHUNK))


def weight_mode(weights: str) -> str:
    """The canonical name of a weights mode, or an ArchcalcError for an unknown one."""
    mode = WEIGHT_ALIASES.get(str(weights).lower(), str(weights).lower())
    if mode not in WEIGHT_MODES:
        raise error(f"unknown weights mode {weights!r}", OPTIONS,
                    hint="one of random, zeros, none (light: structure only)", kind="usage")
    return mode


def _chunk(p: Param, index: int, mode: str, seed: int) -> np.ndarray:
    """Chunk ``index`` of ``p``'s flat values: a pure function of its arguments."""
    start = index * CHUNK
    n = min(CHUNK, p.size - start)
    kind = p.init if mode == "random" or not p.trainable else "zeros"
    if kind == "ones":
        return np.ones(n, np.float32)
    if kind == "prelu":
        return np.full(n, 0.25, np.float32)
    if kind == "zeros":
        return np.zeros(n, np.float32)
    if kind == "given":
        assert p.values is not None
        return p.values.reshape(-1)[start:start + n]
    # 32 random bits per value from SFC64; the top 23 become the mantissa of a float in [1, 2)
    # (exponent bits 0x3F800000), which is then moved to [−0.5, 0.5) and scaled to [−b, b):
    # about 2 ns a value, against 3 for Generator.random and 13 for standard_normal.
    bits = np.random.SFC64([seed, zlib.crc32(p.name.encode()), index]).random_raw((n + 1) // 2)
    u = bits.view(np.uint32)[:n]
    u >>= np.uint32(9)
    u |= np.uint32(0x3F800000)
    values = u.view(np.float32)
    values -= np.float32(1.5)
    values *= np.float32(2 * sqrt(6.0 / p.fan_in))
    return values


def _stream(params: list[Param], mode: str, seed: int, given: Mapping[str, np.ndarray],
            workers: int | None = None) -> Iterator[tuple[Param, np.ndarray]]:
    """Every parameter's values as (param, flat chunk) in order, drawn by a few threads ahead
    of the consumer (numpy releases the GIL while drawing), at most 2·workers chunks in flight."""
    workers = workers or min(8, os.cpu_count() or 1)
    jobs = iter([(p, i) for p in params for i in range(p.chunks)])

    def job(p: Param, i: int) -> np.ndarray:
        if p.name in given:
            return given[p.name]
        return _chunk(p, i, mode, seed)

    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for p, i in jobs:
            if p.name in given and i > 0:
                continue
            pending.append((p, pool.submit(job, p, i)))
            if len(pending) >= 2 * workers:
                q, fut = pending.popleft()
                yield q, fut.result()
        while pending:
            q, fut = pending.popleft()
            yield q, fut.result()


def _check_given(params: list[Param], values: Mapping[str, np.ndarray] | None
                 ) -> dict[str, np.ndarray]:
    """Explicit values for named parameters, as flat float32 arrays of the right size."""
    if not values:
        return {}
    shapes = {p.name: p.shape for p in params}
    out = {}
    for name, value in values.items():
        if name not in shapes:
            raise error(f"the network has no parameter {name!r}",
                        hint="parameters are named <layer>.weight, <layer>.bias, "
                             "<layer>.running_mean, <layer>.running_var", kind="usage")
        arr = np.asarray(value, dtype=np.float32)
        if arr.shape != shapes[name]:
            raise error(f"{name} has shape {shapes[name]}, the values given have {arr.shape}",
                        kind="usage")
        out[name] = np.ascontiguousarray(arr).reshape(-1)
    return out


# ---------------------------------------------------------------------------------------------
# the graph under construction

@dataclass
class Plan:
    """An ONNX graph for a network, without weight values: nodes, inputs, outputs, parameters."""
    net: Network
    opset: int
    nodes: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    rank: dict[str, int] = field(default_factory=dict)      # value name → 2 or 4
    used: set[str] = field(default_factory=set)

    def fresh(self, base: str) -> str:
        """A value name no layer and no other value uses."""
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name

    def node(self, op_type: str, inputs: list[str], output: str, rank: int, doc: str | None = None,
             **attrs: Any) -> str:
        self.used.add(output)
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, doc_string=doc,
                                           **attrs))
        self.rank[output] = rank
        return output

    def const(self, base: str, value: np.ndarray) -> str:
        """A Constant node (not an initializer: constants are not parameters)."""
        out = self.fresh(base)
        self.nodes.append(helper.make_node("Constant", [], [out], name=out,
                                           value=numpy_helper.from_array(value, out)))
        return out

    def param(self, name: str, shape: tuple[int, ...], init: str, fan_in: int = 1,
              trainable: bool = True, values: np.ndarray | None = None) -> str:
        name = self.fresh(name)
        given = None if values is None else np.ascontiguousarray(values, np.float32)
        self.params.append(Param(name, tuple(int(d) for d in shape), init, fan_in, trainable,
                                 given))
        return name

    def as4d(self, value: str) -> str:
        """``value`` as [N, C, H, W]: a vector [N, C] becomes [N, C, 1, 1]."""
        if self.rank[value] == 4:
            return value
        axes = self.const(f"{value}.axes", np.array([2, 3], np.int64))
        return self.node("Unsqueeze", [value, axes], self.fresh(f"{value}.4d"), 4)

    def same_rank(self, values: list[str]) -> list[str]:
        """Merge inputs at one rank: vectors stay vectors unless some input is spatial."""
        if all(self.rank[v] == 2 for v in values):
            return values
        return [self.as4d(v) for v in values]

    def value_info(self, name: str, vol: Vol) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                             onnx_dims(vol, self.rank[name]))


def onnx_dims(vol: Vol, rank: int) -> list:
    """archcalc's (H, W, C) as ONNX dims: [batch, C, H, W], or [batch, C] for a vector."""
    h, w, c = vol
    return [BATCH, c] if rank == 2 else [BATCH, c, h, w]


# ---------------------------------------------------------------------------------------------
# the emission table: one function per op kind

# (plan, layer, its input values, their volumes, its output volume, where) → nodes added
Emitter = Callable[[Plan, Layer, list[str], list[Vol], Vol, At], None]


def _input(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    g.used.add(layer.name)
    g.rank[layer.name] = 4
    g.inputs.append(g.value_info(layer.name, out))


_O = TypeVar("_O", bound=Op)


def _opdef(layer: Layer, kind: type[_O]) -> _O:
    """``layer``'s op, as the emitter of its kind knows it (EMIT maps each kind to its own)."""
    op = layer.opdef
    assert isinstance(op, kind)
    return op


def _window_pads(layer: Layer, vin: Vol, out: Vol, at: At) -> list[int]:
    """[top, left, bottom, right]: the op's own padding, with the bottom/right grown where
    rounding ceil keeps a partial last window (ONNX Conv always floors), so that ONNX's output
    size is the analyzer's."""
    op, a = _opdef(layer, Windowed), layer.attrs
    begin = op.pads(a, at)
    ends = [max(e, (o - 1) * s + k - n - p) for p, e, o, s, k, n in
            zip(begin, op.pads_end(a), out[:2], a["stride"], op.k_eff(a), vin[:2])]
    return [*begin, *ends]


def _conv(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    a = layer.attrs
    (kh, kw), groups, cin = a["kernel"], a["groups"], vin[0][2]
    fan_in = cin // groups * kh * kw
    inputs = [g.as4d(ins[0]),
              g.param(f"{layer.name}.weight", (a["filters"], cin // groups, kh, kw), "he", fan_in)]
    if a["bias"]:
        inputs.append(g.param(f"{layer.name}.bias", (a["filters"],), "zeros"))
    g.node("Conv", inputs, layer.name, 4, kernel_shape=[kh, kw], strides=list(a["stride"]),
           dilations=list(a["dilation"]), group=groups, pads=_window_pads(layer, vin[0], out, at))


def _dwconv(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """A depthwise conv is a conv with groups = input channels."""
    attrs = _opdef(layer, DepthwiseConv).as_conv(layer.attrs, vin[0][2])
    _conv(g, layer._replace(attrs=attrs), ins, vin, out, at)


def _pool(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    a = layer.attrs
    op = _opdef(layer, Windowed)
    (ph, pw), (eh, ew) = op.pads(a, at), op.pads_end(a)
    attrs: dict[str, Any] = {"kernel_shape": list(a["kernel"]), "strides": list(a["stride"]),
                             "pads": [ph, pw, eh, ew]}
    # ceil_mode only where ceil rounding actually adds a window: where the extra window would
    # start in the padding, archcalc (as PyTorch and onnxruntime's kernel) keeps the floor size,
    # but ONNX shape inference applies ceil_mode's plain formula and gets one more
    floors = [(n + p + e - k) // s + 1 for n, p, e, k, s in
              zip(vin[0][:2], (ph, pw), (eh, ew), a["kernel"], a["stride"])]
    if any(o > f for o, f in zip(out[:2], floors)):
        attrs["ceil_mode"] = 1
    if layer.op == "avgpool":
        attrs["count_include_pad"] = 1        # PyTorch's nn.AvgPool2d default
        g.node("AveragePool", [g.as4d(ins[0])], layer.name, 4, **attrs)
    else:
        g.node("MaxPool", [g.as4d(ins[0])], layer.name, 4, **attrs)


def _adaptive_avgpool(g: Plan, layer: Layer, ins: list[str],
                      vin: list[Vol], out: Vol, at: At) -> None:
    op = _opdef(layer, AdaptiveAvgPool)
    if op.even(layer.attrs, vin[0]):
        k = list(op.window(layer.attrs, vin[0]))
        g.node("AveragePool", [g.as4d(ins[0])], layer.name, 4, kernel_shape=k, strides=k)
        return
    # uneven windows (PyTorch's): along each axis, each window's mean (Slice, then an
    # AveragePool as long as the slice), concatenated
    x, n = g.as4d(ins[0]), layer.name
    for axis, size, o in ((2, vin[0][0], layer.attrs["output"][0]),
                          (3, vin[0][1], layer.attrs["output"][1])):
        parts = []
        for i, (s, e) in enumerate(adaptive_windows(size, o)):
            part = g.node("Slice", [x, g.const(f"{n}.s", np.array([s], np.int64)),
                                    g.const(f"{n}.e", np.array([e], np.int64)),
                                    g.const(f"{n}.a", np.array([axis], np.int64))],
                          g.fresh(f"{n}.{axis}.{i}"), 4)
            k = [e - s, 1] if axis == 2 else [1, e - s]
            parts.append(g.node("AveragePool", [part], g.fresh(f"{n}.{axis}.{i}.mean"), 4,
                                kernel_shape=k, strides=[1, 1]))
        x = g.node("Concat", parts, n if axis == 3 else g.fresh(f"{n}.rows"), 4, axis=axis)


def _global_avgpool(g: Plan, layer: Layer, ins: list[str],
                    vin: list[Vol], out: Vol, at: At) -> None:
    g.node("GlobalAveragePool", [g.as4d(ins[0])], layer.name, 4)


def _fc(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    a, x = layer.attrs, ins[0]
    if g.rank[x] == 4:
        x = g.node("Flatten", [x], g.fresh(f"{layer.name}.flatten"), 2, axis=1)
    n_in = prod(vin[0])
    inputs = [x, g.param(f"{layer.name}.weight", (a["units"], n_in), "he", n_in)]
    if a["bias"]:
        inputs.append(g.param(f"{layer.name}.bias", (a["units"],), "zeros"))
    g.node("Gemm", inputs, layer.name, 2, transB=1)


def _elementwise(op_type: str) -> Emitter:
    def emit(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
        g.node(op_type, [ins[0]], layer.name, g.rank[ins[0]])
    return emit


def _dropout(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    # inference: Dropout without training_mode is the identity; the ratio is kept for viewers
    ratio = g.const(f"{layer.name}.ratio", np.array(layer.attrs["rate"], np.float32))
    g.node("Dropout", [ins[0], ratio], layer.name, g.rank[ins[0]])


def _softmax(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    g.node("Softmax", [ins[0]], layer.name, g.rank[ins[0]], axis=1)     # over channels


def _lrn(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    a = layer.attrs
    g.node("LRN", [g.as4d(ins[0])], layer.name, 4, size=a["size"], alpha=a["alpha"],
           beta=a["beta"], bias=a["k"])


def _batchnorm(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    c, n = vin[0][2], layer.name
    inputs = [ins[0],
              g.param(f"{n}.weight", (c,), "ones"),
              g.param(f"{n}.bias", (c,), "zeros"),
              g.param(f"{n}.running_mean", (c,), "zeros", trainable=False),
              g.param(f"{n}.running_var", (c,), "ones", trainable=False)]
    g.node("BatchNormalization", inputs, n, g.rank[ins[0]], epsilon=layer.attrs["eps"])


def _flatten(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    g.node("Flatten", [ins[0]], layer.name, 2, axis=1)      # ONNX order: C, H, W


def _concat(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    xs = g.same_rank(list(ins))
    g.node("Concat", xs, layer.name, g.rank[xs[0]], axis=1)


def _add(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    xs = g.same_rank(list(ins))
    g.node("Add" if len(xs) == 2 else "Sum", xs, layer.name, g.rank[xs[0]])


def _ints(g: Plan, base: str, values: Iterable[int]) -> str:
    return g.const(base, np.array(list(values), np.int64))


def _slice(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """Channels [start, end) along axis 1 (a vector stays a vector)."""
    s, e = _opdef(layer, Slice).channels(layer.attrs, vin[0][2], at)
    x, n = ins[0], layer.name
    g.node("Slice", [x, _ints(g, f"{n}.starts", [s]), _ints(g, f"{n}.ends", [e]),
                     _ints(g, f"{n}.axes", [1])], n, g.rank[x])


def _shuffle(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """Reshape to [N, g, C/g, H, W], swap the two channel axes, reshape back; the batch dim is
    0 in the shape constants (copied from the input), so it stays dynamic."""
    (h, w, c), grp, n = vin[0], layer.attrs["groups"], layer.name
    x = g.as4d(ins[0])
    split = g.node("Reshape", [x, _ints(g, f"{n}.grouped", [0, grp, c // grp, h, w])],
                   g.fresh(f"{n}.grouped"), 5)
    swapped = g.node("Transpose", [split], g.fresh(f"{n}.transposed"), 5, perm=[0, 2, 1, 3, 4])
    g.node("Reshape", [swapped, _ints(g, f"{n}.shape", [0, c, h, w])], n, 4)


def _pixel_shuffle(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol,
                   at: At) -> None:
    """PyTorch's pixel_shuffle is ONNX's DepthToSpace in CRD order."""
    g.node("DepthToSpace", [g.as4d(ins[0])], layer.name, 4, blocksize=layer.attrs["factor"],
           mode="CRD")


def _pixel_unshuffle(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol,
                     at: At) -> None:
    """PyTorch's pixel_unshuffle: [B, C, H·r, W·r] → [B, C, H, r, W, r] → [B, C, r, r, H, W] →
    [B, C·r², H, W] (SpaceToDepth would order the channels block first)."""
    n, r, (h, w, c) = layer.name, layer.attrs["factor"], vin[0]
    split = g.node("Reshape", [g.as4d(ins[0]), g.const(f"{n}.blocks", np.array(
        [0, c, h // r, r, w // r, r], np.int64))], g.fresh(f"{n}.blocks"), 6)
    moved = g.node("Transpose", [split], g.fresh(f"{n}.moved"), 6, perm=[0, 1, 3, 5, 2, 4])
    g.node("Reshape", [moved, g.const(f"{n}.shape", np.array([0, c * r * r, h // r, w // r],
                                                             np.int64))], n, 4)


def _upsample(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """Resize: nearest as PyTorch's (asymmetric coordinates, floor), bilinear as PyTorch's
    align_corners=False (linear, half-pixel) or True (align_corners). Whole factors are written
    as ``scales``; any other size as ``sizes`` (from opset 18 over the axes H and W alone; before
    it [N, C] read from the input's shape, so that the batch stays dynamic), which maps output
    coordinates by the sizes' ratio as archcalc defines it (docs/definitions.md, "Resizing")."""
    a, x = layer.attrs, g.as4d(ins[0])
    if a["mode"] == "nearest":
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                 "nearest_mode": "floor"}
    else:
        attrs = {"mode": "linear", "coordinate_transformation_mode":
                 "align_corners" if a["align_corners"] else "half_pixel"}
    factors = _opdef(layer, Upsample).factors(a, vin[0])
    if factors is not None and not a["align_corners"]:
        scales = g.const(f"{layer.name}.scales", np.array([1, 1, *factors], np.float32))
        g.node("Resize", [x, "", scales], layer.name, 4, **attrs)
        return
    hw = np.array(out[:2], np.int64)
    if g.opset >= 18:
        sizes = g.const(f"{layer.name}.sizes", hw)
        g.node("Resize", [x, "", "", sizes], layer.name, 4, axes=[2, 3], **attrs)
        return
    if g.opset >= 15:                     # Shape's start and end exist from opset 15
        shape = g.node("Shape", [x], g.fresh(f"{layer.name}.shape"), 1, start=0, end=2)
    else:
        full = g.node("Shape", [x], g.fresh(f"{layer.name}.shape"), 1)
        shape = g.node("Slice", [full, g.const(f"{layer.name}.from", np.array([0], np.int64)),
                                 g.const(f"{layer.name}.to", np.array([2], np.int64))],
                       g.fresh(f"{layer.name}.nc"), 1)
    sizes = g.node("Concat", [shape, g.const(f"{layer.name}.hw", hw)],
                   g.fresh(f"{layer.name}.sizes"), 1, axis=0)
    g.node("Resize", [x, "", "", sizes], layer.name, 4, **attrs)


def _conv_transpose(g: Plan, layer: Layer, ins: list[str],
                    vin: list[Vol], out: Vol, at: At) -> None:
    a = layer.attrs
    (kh, kw), groups, cin, k = a["kernel"], a["groups"], vin[0][2], a["filters"]
    # PyTorch's weight layout [C_in, K/g, F, F]; its fan-in for the He bound is (K/g)·F·F
    inputs = [g.as4d(ins[0]), g.param(f"{layer.name}.weight", (cin, k // groups, kh, kw), "he",
                                      k // groups * kh * kw)]
    bias = g.param(f"{layer.name}.bias", (k,), "zeros") if a["bias"] else None
    (ph, pw) = a["padding"]
    opad_given = _opdef(layer, ConvTranspose).output_padding(a, vin[0])   # or from output_size
    if all(o < s for o, s in zip(opad_given, a["stride"])):
        g.node("ConvTranspose", inputs + ([bias] if bias else []), layer.name, 4,
               kernel_shape=[kh, kw], strides=list(a["stride"]), dilations=list(a["dilation"]),
               group=groups, pads=[ph, pw, ph, pw], output_padding=list(opad_given))
        return
    # PyTorch allows an output_padding below the stride OR the dilation; onnxruntime's
    # ConvTranspose refuses one that reaches the stride. The values are the same either way:
    # output o sums x[i]·w[t] over o = i·S + t·d − P_begin, and the output_padding rows at the end
    # are those the end padding would cut (while P ≥ output_padding) and after them rows no
    # product reaches (the bias alone). So: cut output_padding less at the end; what is left
    # stays output_padding while below the stride, or else comes as zero rows (Pad) before the
    # bias is added.
    end, opad, extra = [], [], []
    for p, o, s in zip(a["padding"], opad_given, a["stride"]):
        rest = max(0, o - p)
        end.append(p - o + rest)
        opad.append(rest if rest < s else 0)
        extra.append(0 if rest < s else rest)
    if not any(extra):
        g.node("ConvTranspose", inputs + ([bias] if bias else []), layer.name, 4,
               kernel_shape=[kh, kw], strides=list(a["stride"]), dilations=list(a["dilation"]),
               group=groups, pads=[ph, pw, *end], output_padding=opad)
        return
    n = layer.name
    y = g.node("ConvTranspose", inputs, g.fresh(f"{n}.conv"), 4, kernel_shape=[kh, kw],
               strides=list(a["stride"]), dilations=list(a["dilation"]), group=groups,
               pads=[ph, pw, *end], output_padding=opad)
    y = g.node("Pad", [y, _ints(g, f"{n}.pads", [0, 0, 0, 0, 0, 0, *extra])],
               n if bias is None else g.fresh(f"{n}.padded"), 4, mode="constant")
    if bias is not None:
        b = g.node("Unsqueeze", [bias, _ints(g, f"{n}.bias_axes", [1, 2])],
                   g.fresh(f"{n}.bias_kx1x1"), 3)
        g.node("Add", [y, b], n, 4)


def _pad(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """Pad (pads an input since opset 11): [x1_begin, x2_begin, ..., x1_end, ...] over N, C, H,
    W."""
    a, n = layer.attrs, layer.name
    t, b, left, r = a["padding"]
    inputs = [g.as4d(ins[0]), _ints(g, f"{n}.pads", [0, 0, t, left, 0, 0, b, r])]
    if a["mode"] == "constant":
        inputs.append(g.const(f"{n}.value", np.array(a["value"], np.float32)))
    g.node("Pad", inputs, n, 4, mode=a["mode"])


def _crop(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """Slice on H and W (axes 2 and 3) at the centre offsets."""
    crop = _opdef(layer, Crop)
    oh, ow = crop.offsets(layer.attrs, vin, at)
    n = layer.name
    # a crop to a second input's size says which layer the size comes from in the node's
    # doc_string (ONNX keeps only the numbers): archcalc's ONNX import reads it back
    doc = f"{crop.ONNX_DOC}{layer.inputs[1]}" if len(layer.inputs) == 2 else None
    g.node("Slice", [g.as4d(ins[0]), _ints(g, f"{n}.starts", [oh, ow]),
                     _ints(g, f"{n}.ends", [oh + out[0], ow + out[1]]),
                     _ints(g, f"{n}.axes", [2, 3])], n, 4, doc=doc)
# activations, norms, broadcast merges -------------------------------------------------------

def _const(g: Plan, base: str, value: float | np.ndarray) -> str:
    return g.const(base, np.asarray(value, np.float32))


def _relu6(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    n = layer.name
    g.node("Clip", [ins[0], _const(g, f"{n}.min", 0.0), _const(g, f"{n}.max", 6.0)], n,
           g.rank[ins[0]])


# PyTorch's hardsigmoid is relu6(x + 3)/6 = clip(x/6 + 1/2, 0, 1): ONNX's HardSigmoid with these
# (its own defaults are alpha 0.2, beta 0.5, as Keras's)
_HARD: dict[str, Any] = {"alpha": 1.0 / 6.0, "beta": 0.5}


def _hardsigmoid(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    g.node("HardSigmoid", [ins[0]], layer.name, g.rank[ins[0]], **_HARD)


def _hardswish(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    x, n, rank = ins[0], layer.name, g.rank[ins[0]]
    if g.opset >= 14:                     # HardSwish exists from opset 14
        g.node("HardSwish", [x], n, rank)
    else:
        gate = g.node("HardSigmoid", [x], g.fresh(f"{n}.gate"), rank, **_HARD)
        g.node("Mul", [x, gate], n, rank)


def _silu(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    x, n, rank = ins[0], layer.name, g.rank[ins[0]]
    g.node("Mul", [x, g.node("Sigmoid", [x], g.fresh(f"{n}.sigmoid"), rank)], n, rank)


def _gelu(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """Gelu exists from opset 20; before, its exact form 0.5·x·(1 + erf(x/√2))."""
    x, n, rank = ins[0], layer.name, g.rank[ins[0]]
    if g.opset >= 20:
        g.node("Gelu", [x], n, rank)
        return
    scaled = g.node("Mul", [x, _const(g, f"{n}.inv_sqrt2", 1.0 / sqrt(2.0))],
                    g.fresh(f"{n}.scaled"), rank)
    erf = g.node("Erf", [scaled], g.fresh(f"{n}.erf"), rank)
    plus = g.node("Add", [erf, _const(g, f"{n}.one", 1.0)], g.fresh(f"{n}.plus1"), rank)
    half = g.node("Mul", [x, _const(g, f"{n}.half", 0.5)], g.fresh(f"{n}.half_x"), rank)
    g.node("Mul", [half, plus], n, rank)


def _leaky_relu(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    g.node("LeakyRelu", [ins[0]], layer.name, g.rank[ins[0]], alpha=layer.attrs["slope"])


def _elu(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    g.node("Elu", [ins[0]], layer.name, g.rank[ins[0]], alpha=layer.attrs["alpha"])


def _prelu(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """The slope broadcasts against [N, C, H, W] as [C, 1, 1] (one per channel) or [1]."""
    x, c, rank = ins[0], vin[0][2], g.rank[ins[0]]
    shape = (1,) if layer.attrs["shared"] else (c, 1, 1) if rank == 4 else (c,)
    g.node("PRelu", [x, g.param(f"{layer.name}.weight", shape, "prelu")], layer.name, rank)


def _per_channel(g: Plan, name: str, c: int, init: str) -> str:
    """A per-channel parameter of shape [C] (PyTorch's), unsqueezed to [C, 1, 1] so that it
    broadcasts along the channels of [N, C, H, W]."""
    p = g.param(name, (c,), init)
    axes = g.const(f"{name}.axes", np.array([1, 2], np.int64))
    return g.node("Unsqueeze", [p, axes], g.fresh(f"{name}.chw"), 3)


def _scale_shift(g: Plan, y: str, layer: Layer, c: int) -> None:
    """y·γ + β per channel, γ and β trainable (named <layer>.weight and <layer>.bias); the
    output is the layer's value."""
    n = layer.name
    scaled = g.node("Mul", [y, _per_channel(g, f"{n}.weight", c, "ones")],
                    g.fresh(f"{n}.scaled"), 4)
    g.node("Add", [scaled, _per_channel(g, f"{n}.bias", c, "zeros")], n, 4)


def _groupnorm(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """GroupNormalization exists only from opset 18 (and changed meaning in 21), so the portable
    form: [N, C, H, W] → [N, G, C/G·H·W] → InstanceNormalization (per group, γ = 1, β = 0) →
    [N, C, H, W] → ·γ + β per channel."""
    (h, w, c), groups, n = vin[0], layer.attrs["groups"], layer.name
    x = g.as4d(ins[0])
    grouped = g.node("Reshape", [x, g.const(f"{n}.groups", np.array([0, groups, -1], np.int64))],
                     g.fresh(f"{n}.grouped"), 3)
    normed = g.node("InstanceNormalization",
                    [grouped, _const(g, f"{n}.ones", np.ones(groups)),
                     _const(g, f"{n}.zeros", np.zeros(groups))],
                    g.fresh(f"{n}.normalized"), 3, epsilon=layer.attrs["eps"])
    back = g.node("Reshape", [normed, g.const(f"{n}.shape", np.array([0, c, h, w], np.int64))],
                  g.fresh(f"{n}.nchw"), 4)
    _scale_shift(g, back, layer, c)


def _layernorm(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """Over the channels at each place: LayerNormalization (opset 17) on the channels-last
    tensor; before opset 17, its formula with ReduceMean over the channel axis."""
    c, n, eps, x = vin[0][2], layer.name, layer.attrs["eps"], ins[0]
    rank = g.rank[x]
    if g.opset >= 17:
        gamma = g.param(f"{n}.weight", (c,), "ones")
        beta = g.param(f"{n}.bias", (c,), "zeros")
        if rank == 2:
            g.node("LayerNormalization", [x, gamma, beta], n, 2, axis=-1, epsilon=eps)
            return
        last = g.node("Transpose", [x], g.fresh(f"{n}.nhwc"), 4, perm=[0, 2, 3, 1])
        normed = g.node("LayerNormalization", [last, gamma, beta], g.fresh(f"{n}.normalized"), 4,
                        axis=-1, epsilon=eps)
        g.node("Transpose", [normed], n, 4, perm=[0, 3, 1, 2])
        return
    x = g.as4d(x)
    mean = g.node("ReduceMean", [x], g.fresh(f"{n}.mean"), 4, axes=[1], keepdims=1)
    centred = g.node("Sub", [x, mean], g.fresh(f"{n}.centred"), 4)
    square = g.node("Mul", [centred, centred], g.fresh(f"{n}.square"), 4)
    var = g.node("ReduceMean", [square], g.fresh(f"{n}.var"), 4, axes=[1], keepdims=1)
    std = g.node("Sqrt", [g.node("Add", [var, _const(g, f"{n}.eps", eps)],
                                 g.fresh(f"{n}.var_eps"), 4)], g.fresh(f"{n}.std"), 4)
    _scale_shift(g, g.node("Div", [centred, std], g.fresh(f"{n}.normalized"), 4), layer, c)


def _instancenorm(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    c, n = vin[0][2], layer.name
    if layer.attrs["affine"]:
        scale, bias = g.param(f"{n}.weight", (c,), "ones"), g.param(f"{n}.bias", (c,), "zeros")
    else:                                 # no parameters: γ = 1 and β = 0 as constants
        scale, bias = _const(g, f"{n}.ones", np.ones(c)), _const(g, f"{n}.zeros", np.zeros(c))
    g.node("InstanceNormalization", [g.as4d(ins[0]), scale, bias], n, 4,
           epsilon=layer.attrs["eps"])


def _global_maxpool(g: Plan, layer: Layer, ins: list[str],
                    vin: list[Vol], out: Vol, at: At) -> None:
    g.node("GlobalMaxPool", [g.as4d(ins[0])], layer.name, 4)


def _mul(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """Mul broadcasts as numpy does: in NCHW a 1×1×C gate is [N, C, 1, 1] and an H×W×1 map
    [N, 1, H, W] (a vector [N, C] is unsqueezed to 4-D first when any input is spatial)."""
    xs = g.same_rank(list(ins))
    rank, acc = g.rank[xs[0]], xs[0]
    for i, x in enumerate(xs[1:], 2):
        acc = g.node("Mul", [acc, x], layer.name if i == len(xs) else
                     g.fresh(f"{layer.name}.product{i}"), rank)


def _opaque(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """A passthrough layer of an imported model: archcalc does not know what it computes."""
    raise unknown_layer(layer, "it cannot be exported")


EMIT: dict[str, Emitter] = {
    "input": _input,
    "conv": _conv,
    "dwconv": _dwconv,
    "maxpool": _pool,
    "avgpool": _pool,
    "global_avgpool": _global_avgpool,
    "adaptive_avgpool": _adaptive_avgpool,
    "fc": _fc,
    "relu": _elementwise("Relu"),
    "tanh": _elementwise("Tanh"),
    "sigmoid": _elementwise("Sigmoid"),
    "dropout": _dropout,
    "softmax": _softmax,
    "lrn": _lrn,
    "batchnorm": _batchnorm,
    "flatten": _flatten,
    "concat": _concat,
    "add": _add,
    # channel and resampling ops
    "slice": _slice,
    "shuffle": _shuffle,
    "upsample": _upsample,
    "conv_transpose": _conv_transpose,
    "pad": _pad,
    "crop": _crop,
    "pixel_shuffle": _pixel_shuffle,
    "pixel_unshuffle": _pixel_unshuffle,
    # activations, norms, broadcast merges
    "relu6": _relu6,
    "hardswish": _hardswish,
    "hardsigmoid": _hardsigmoid,
    "silu": _silu,
    "gelu": _gelu,
    "leaky_relu": _leaky_relu,
    "prelu": _prelu,
    "elu": _elu,
    "groupnorm": _groupnorm,
    "layernorm": _layernorm,
    "instancenorm": _instancenorm,
    "global_maxpool": _global_maxpool,
    "mul": _mul,
    # a layer of an imported model whose op archcalc does not know
    "opaque": _opaque,
    # tokens and attention (exporters/onnx_tokens.py)
    **TOKEN_EMIT,
}


def plan(net: Network, report: Report | None = None, opset: int | None = None, *,
         _probe: bool = False) -> Plan:
    """The ONNX graph of ``net`` (no weight values yet), at ``opset`` (checked by
    :func:`check_opset`; None: :func:`default_opset`)."""
    report = report or analyze(net)
    out_vol = {row.name: row.output for row in report.layers}
    g = Plan(net, opset if _probe and opset is not None else check_opset(opset))
    g.used.update(layer.name for layer in net.layers)
    for layer in net.layers:
        if layer.train_only:        # the exported graph is the inference graph
            continue
        vin = [out_vol[s] for s in layer.inputs]
        at = At(layer.name, layer.pos, layer.inputs, net.rounding)
        EMIT[layer.op](g, layer, list(layer.inputs), vin, out_vol[layer.name], at)
    g.outputs = [g.value_info(name, out_vol[name]) for name in _sinks(net)]
    return g


def _sinks(net: Network) -> list[str]:
    return net.outputs


# ---------------------------------------------------------------------------------------------
# models

def _model(g: Plan, initializers: list, weight_inputs: list, mode: str, seed: int
           ) -> onnx.ModelProto:
    graph = helper.make_graph(g.nodes, g.net.name, g.inputs + weight_inputs, g.outputs,
                              initializer=initializers)
    opsets = [helper.make_opsetid("", g.opset)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="archcalc",
                              producer_version=__version__)
    model.ir_version = helper.find_min_ir_version_for(opsets)
    meta = {"archcalc.network": g.net.name, "archcalc.weights": mode}
    if mode == "random":
        meta["archcalc.seed"] = str(seed)
    helper.set_model_props(model, meta)
    return model


def _weight_input(p: Param) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(p.name, TensorProto.FLOAT, list(p.shape))


def _light(g: Plan) -> onnx.ModelProto:
    return _model(g, [], [_weight_input(p) for p in g.params], "none", 0)


def to_model(net: Network, weights: str = "random", seed: int = 0, opset: int | None = None,
             values: Mapping[str, np.ndarray] | None = None) -> onnx.ModelProto:
    """``net`` as an in-memory ONNX ModelProto (weights inline). ``values`` gives explicit
    values for named parameters (``conv1.weight``, ``fc1.bias``, ...); the others follow
    ``weights``. Use :func:`export` for files: it streams, checks and writes atomically."""
    mode, seed = weight_mode(weights), _seed(seed)
    g = plan(net, opset=opset)
    if mode == "none":
        return _light(g)
    given = _check_given(g.params, values)
    parts: dict[str, list] = {p.name: [] for p in g.params}
    for p, chunk in _stream(g.params, mode, seed, given):
        parts[p.name].append(chunk)
    inits = [numpy_helper.from_array(np.concatenate(parts[p.name]).reshape(p.shape), p.name)
             for p in g.params]
    return _model(g, inits, [], mode, seed)


def _seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise error(f"the seed must be a whole number ≥ 0, got {seed!r}", OPTIONS, kind="usage")
    return seed


# ---------------------------------------------------------------------------------------------
# verification

def verify(model: onnx.ModelProto, net: Network, report: Report | None = None) -> None:
    """Raise :class:`VerificationError` unless ``model`` is what the analyzer says ``net`` is:
    ``onnx.checker`` passes, ONNX shape inference gives every layer's value (named after the
    layer) the analyzer's volume, and the weights (initializers, or the weight inputs of a light
    model) hold exactly the analyzer's parameters, layer by layer and in total."""
    report = report or analyze(net)
    try:
        # not strict: a wrong layer is then reported by name, with the shapes that follow it
        inferred = onnx.shape_inference.infer_shapes(_skeleton(model), check_type=True,
                                                       data_prop=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise VerificationError(f"ONNX shape inference fails: {exc}") from None
    problems = _shape_problems(inferred, report) + _param_problems(model, report)
    if problems:
        raise VerificationError(f"the ONNX model of {net.name} disagrees with the analyzer: "
                                + "; ".join(problems[:8])
                                + (f" (and {len(problems) - 8} more)" if len(problems) > 8 else ""))
    _check_raw_sizes(model)
    try:
        onnx.checker.check_model(_skeleton(model, keep_outputs=True), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise VerificationError(f"onnx.checker refuses the model: {exc}") from None


def _skeleton(model: onnx.ModelProto, keep_outputs: bool = False) -> onnx.ModelProto:
    """A copy without weight values (initializers become typed inputs), cheap whatever the size
    of the weights. Unless ``keep_outputs``, the outputs' shapes are cleared, so that shape
    inference, not the declaration, decides them."""
    out = onnx.ModelProto()
    for name in ("ir_version", "producer_name", "producer_version", "model_version"):
        setattr(out, name, getattr(model, name))
    out.opset_import.extend(model.opset_import)
    g = model.graph
    graph = helper.make_graph(list(g.node), g.name, list(g.input), [], value_info=[])
    graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                       for t in g.initializer)
    if keep_outputs:
        graph.output.extend(g.output)
    else:
        graph.output.extend(helper.make_tensor_value_info(o.name, o.type.tensor_type.elem_type,
                                                          None) for o in g.output)
    out.graph.CopyFrom(graph)
    return out


def _check_raw_sizes(model: onnx.ModelProto) -> None:
    for t in model.graph.initializer:
        if t.raw_data and len(t.raw_data) != 4 * prod(t.dims):
            raise VerificationError(f"initializer {t.name} holds "
                                    f"{counted(len(t.raw_data), 'byte')} for "
                                    f"dims {list(t.dims)}")


def _inferred_dims(model: onnx.ModelProto) -> dict[str, list]:
    g = model.graph
    out = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            out[vi.name] = [d.dim_param or (d.dim_value if d.HasField("dim_value") else None)
                            for d in t.shape.dim]
    return out


def _shape_problems(inferred: onnx.ModelProto, report: Report) -> list[str]:
    dims = _inferred_dims(inferred)
    problems = []
    for row in report.layers:
        if row.train_only:              # not in the exported (inference) graph
            continue
        got = dims.get(row.name)
        if got is None:
            problems.append(f"{row.name}: shape inference gives no shape")
        elif got not in (onnx_dims(row.output, 4), onnx_dims(row.output, 2) if
                         row.output[:2] == (1, 1) else None) and not _batch_lost(got, row.output):
            h, w, c = row.output
            problems.append(f"{row.name}: ONNX says {got}, the analyzer {h}×{w}×{c}")
    return problems


def _batch_lost(got: list, vol: Vol) -> bool:
    """ONNX's shape inference cannot carry a symbolic batch through Resize (it gives ``unk__n``
    there and after): C, H and W are then compared alone; the batch stays dynamic at run time."""
    return bool(got) and isinstance(got[0], str) and got[0].startswith("unk__") and \
        any(got[1:] == onnx_dims(vol, r)[1:] for r in (4, 2))


def _param_problems(model: onnx.ModelProto, report: Report) -> list[str]:
    g = model.graph
    network_inputs = {row.name for row in report.layers if row.op == "input"}
    sizes = [(t.name, prod(t.dims)) for t in g.initializer]
    sizes += [(vi.name, prod(d.dim_value for d in vi.type.tensor_type.shape.dim))
              for vi in g.input if vi.name not in network_inputs]
    per_layer: dict[str, int] = {}
    for name, n in sizes:
        layer = name.rpartition(".")[0]
        per_layer[layer] = per_layer.get(layer, 0) + n
    problems = [f"{row.name}: {counted(per_layer.get(row.name, 0), 'weight')}, the analyzer "
                f"{row.params + row.buffers:,} parameters and buffers"
                for row in report.layers if not row.train_only
                and per_layer.get(row.name, 0) != row.params + row.buffers]
    total = sum(n for _, n in sizes)
    t = report.totals            # training-only layers are not exported
    stored = t.params + t.buffers - t.train_only_params - t.train_only_buffers
    if total != stored:
        problems.append(f"{counted(total, 'weight')} in all, the analyzer {stored:,}")
    return problems


# ---------------------------------------------------------------------------------------------
# opset choice

def _probe_network() -> Network:
    """A small network using every op kind (and every ONNX operator the table emits)."""
    b = Builder("opset-probe", (4, 4, 4))
    pos = SourcePos("<probe>")
    b.add("conv", {"filters": 4, "groups": 2, "bias": False}, pos)
    b.add("dwconv", {"multiplier": 2}, pos)
    b.add("conv", {"filters": 4, "kernel": 1}, pos)
    b.add("batchnorm", {}, pos)
    b.add("relu", {}, pos)
    b.add("lrn", {"size": 3}, pos)
    pool = b.add("maxpool", {"kernel": 2}, pos).name
    avg = b.add("avgpool", {"kernel": 2}, pos, inputs=[pool]).name
    gap = b.add("global_avgpool", {}, pos, inputs=[pool]).name
    ada = b.add("adaptive_avgpool", {"output": 1}, pos, inputs=[pool]).name
    summed = b.add("add", {}, pos, inputs=[avg, gap, ada]).name
    b.add("concat", {}, pos, inputs=[avg, gap])
    b.add("flatten", {}, pos)
    for op, attrs in (("fc", {"units": 4}), ("dropout", {}), ("tanh", {}), ("sigmoid", {}),
                      ("softmax", {})):
        last = b.add(op, attrs, pos).name
    b.add("add", {}, pos, inputs=[last, summed])
    # Slice (channels, and crop's H and W), Reshape/Transpose (shuffle), Resize
    # (nearest and linear), ConvTranspose, Pad (constant and reflect)
    b.add("split", {"parts": 2}, pos, name="halves", inputs=[pool])
    b.add("shuffle", {"groups": 2}, pos, inputs=["halves.0"])
    near = b.add("upsample", {"scale": 2}, pos).name
    lin = b.add("upsample", {"scale": 2, "mode": "bilinear"}, pos, inputs=["halves.1"]).name
    b.add("conv_transpose", {"filters": 2, "kernel": 3, "stride": 2, "padding": 1,
                             "output_padding": 1}, pos, inputs=[near])
    b.add("pad", {"padding": 1, "mode": "reflect"}, pos, inputs=[lin])
    b.add("pad", {"padding": [0, 1, 1, 0]}, pos)
    b.add("crop", {}, pos, inputs=[lin, pool])
    # DepthToSpace; Reshape/Transpose
    b.add("pixel_shuffle", {"factor": 2}, pos, inputs=[pool])
    b.add("pixel_unshuffle", {"factor": 2}, pos)
    # activations, norms, broadcast merges
    x = pool
    for kind, raw in (("relu6", {}), ("hardswish", {}), ("hardsigmoid", {}), ("silu", {}),
                      ("gelu", {}), ("leaky_relu", {}), ("prelu", {"shared": False}),
                      ("elu", {}), ("groupnorm", {"groups": 2}), ("layernorm", {}),
                      ("instancenorm", {"affine": True})):
        x = b.add(kind, raw, pos, inputs=[x]).name
    gate = b.add("global_maxpool", {}, pos, inputs=[x]).name
    b.add("mul", {}, pos, inputs=[x, gate])
    b.add("add", {}, pos, inputs=[gate, x])
    probe_layers(b, pos, "input")                 # tokens and attention
    return b.build()


def default_opset() -> int:
    """The opset written when none is asked for: :data:`DEFAULT_OPSET`, or the newest runnable
    one where that is older."""
    return min(DEFAULT_OPSET, newest_opset())


def check_opset(opset: int | None) -> int:
    """``opset`` when the installed onnx and onnxruntime can both run it (an ArchcalcError at
    <options>, exit code 2, naming the range otherwise); None gives :func:`default_opset`."""
    if opset is None:
        return default_opset()
    newest = newest_opset()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise error(f"--opset must be between {MIN_OPSET} and {newest}, got {opset!r}", OPTIONS,
                    hint=f"{MIN_OPSET} is the least the exporter needs, {newest} the newest that "
                         "the installed onnx and onnxruntime both run; the default, "
                         f"{default_opset()}, also loads in TensorRT and OpenVINO", kind="usage")
    return opset


@cache
def newest_opset() -> int:
    """The newest opset that both the installed onnx defines and the installed onnxruntime
    runs, found by opening a session on a model that uses every operator the exporter emits.
    Without onnxruntime, onnx's newest."""
    newest = onnx.defs.onnx_opset_version()
    try:
        import onnxruntime as ort
    except ImportError:
        return newest
    net = _probe_network()
    for opset in range(newest, MIN_OPSET - 1, -1):
        g = plan(net, opset=opset, _probe=True)
        if _ort_opens(ort, _model(g, [numpy_helper.from_array(np.zeros(p.shape, np.float32), p.name)
                                      for p in g.params], [], "zeros", 0)):
            return opset
    raise RuntimeError(f"onnxruntime {ort.__version__} opens none of the opsets "
                       f"{MIN_OPSET}..{newest}")


def _ort_opens(ort: Any, model: onnx.ModelProto) -> bool:
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    try:
        ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception:       # onnxruntime raises several unrelated types for an unknown opset
        return False
    return True


# ---------------------------------------------------------------------------------------------
# writing files

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, length: int) -> bytes:
    """The key and length of a length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(length)


# ModelProto.graph, GraphProto.initializer, TensorProto.raw_data
_GRAPH, _INITIALIZER, _RAW_DATA = 7, 5, 9


class _Progress:
    """A rich progress bar on stderr, or nothing: what the export is doing (checking the graph,
    writing the weights: bytes written, the rate and the time left; checking the file)."""

    def __init__(self, total: int, show: bool | None, label: str):
        if show is None:
            show = total >= PROGRESS_MIN_BYTES and sys.stderr.isatty()
        self.bar: Progress | None = None
        if show:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                ProgressColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
            from rich.text import Text

            class Counted(ProgressColumn):
                """A column shown while bytes are counted (blank for a step without)."""

                def __init__(self, inner: ProgressColumn, counted: bool = True):
                    super().__init__()
                    self.inner, self.counted = inner, counted

                def render(self, task: Any) -> Any:
                    if (task.total is not None) == self.counted:
                        return self.inner.render(task)
                    return Text("")

            # two columns narrower than the terminal: a bar filling a line would be pushed up
            # by the ^C a terminal echoes at Ctrl-C, and left on the screen
            out = Console(stderr=True)
            out.width = max(20, out.width - 2)
            self.bar = Progress(Counted(SpinnerColumn(), False), TextColumn("{task.description}"),
                                Counted(BarColumn()), Counted(DownloadColumn(binary_units=True)),
                                Counted(TransferSpeedColumn()), TimeElapsedColumn(),
                                Counted(TextColumn("eta")), Counted(TimeRemainingColumn()),
                                console=out, transient=True,
                                redirect_stdout=False, redirect_stderr=False)
            self.task = self.bar.add_task(label, total=None)

    def __enter__(self) -> _Progress:
        if self.bar:
            self.bar.start()
        return self

    def phase(self, label: str, total: int | None = None) -> None:
        """Now doing ``label``: ``total`` bytes to write, or None (a step without a count);
        drawn at once, so that every phase is seen, however short."""
        if self.bar:
            self.bar.remove_task(self.task)
            self.task = self.bar.add_task(label, total=total)
            self.bar.refresh()

    def advance(self, n: int) -> None:
        if self.bar:
            self.bar.update(self.task, advance=n)

    def __exit__(self, *exc: object) -> None:
        if self.bar:
            self.bar.stop()


def _write_inline(g: Plan, model: onnx.ModelProto, chunks: Iterable[tuple[Param, np.ndarray]],
                  f: BinaryIO, bar: _Progress) -> None:
    """Stream a model with inline weights: the protobuf encoding is written by hand around each
    tensor's raw data, so no weight is ever copied into a message. ``model`` has no initializers;
    its graph field is written last, holding the initializers after the graph's other fields
    (protobuf readers accept fields in any order)."""
    graph = model.graph.SerializeToString()
    rest = onnx.ModelProto()
    rest.CopyFrom(model)
    rest.ClearField("graph")
    heads: list[bytes] = []
    for p in g.params:
        head = onnx.TensorProto(name=p.name, dims=p.shape, data_type=TensorProto.FLOAT)
        head = head.SerializeToString() + _field(_RAW_DATA, p.nbytes)
        heads.append(_field(_INITIALIZER, len(head) + p.nbytes) + head)
    graph_len = len(graph) + sum(len(h) for h in heads) + sum(p.nbytes for p in g.params)
    f.write(rest.SerializeToString() + _field(_GRAPH, graph_len) + graph)
    _write_values(g, chunks, f, bar, heads=heads)


def _write_values(g: Plan, chunks: Iterable[tuple[Param, np.ndarray]], f: BinaryIO,
                  bar: _Progress, heads: Sequence[bytes] | None = None,
                  align: int = 1) -> list[int]:
    """Write each parameter's values (after its head, if given), returning their offsets."""
    offsets: list[int] = []
    current, written = None, 0
    for p, chunk in chunks:
        if p is not current:
            if current is not None and written != current.nbytes:
                raise VerificationError(f"{current.name}: wrote {counted(written, 'byte')}, "
                                        f"not {current.nbytes}")
            current, written = p, 0
            if heads is not None:
                f.write(heads[len(offsets)])
            pad = -f.tell() % align
            f.write(b"\0" * pad)
            offsets.append(f.tell())
        f.write(chunk.data)                  # a memoryview of the array: nothing copied
        written += chunk.nbytes
        bar.advance(chunk.nbytes)
    if current is not None and written != current.nbytes:
        raise VerificationError(f"{current.name}: wrote {counted(written, 'byte')}, "
                                f"not {current.nbytes}")
    return offsets


def _write_external(g: Plan, model: onnx.ModelProto, chunks: Iterable[tuple[Param, np.ndarray]],
                    f: BinaryIO, data_path: str, bar: _Progress) -> None:
    """Weights into ``data_path`` (aligned), the graph with external references into ``f``."""
    with open(data_path, "wb") as data:
        offsets = _write_values(g, chunks, data, bar, align=EXTERNAL_ALIGN)
    location = os.path.basename(data_path)
    for p, offset in zip(g.params, offsets):
        t = onnx.TensorProto(name=p.name, dims=p.shape, data_type=TensorProto.FLOAT,
                             data_location=TensorProto.EXTERNAL)
        for key, value in (("location", location), ("offset", offset), ("length", p.nbytes)):
            entry = t.external_data.add()
            entry.key, entry.value = key, str(value)
        model.graph.initializer.append(t)
    f.write(model.SerializeToString())


def export(net: Network, path: str | os.PathLike, weights: str = "random", seed: int = 0,
           opset: int | None = None, *, values: Mapping[str, np.ndarray] | None = None,
           external_data: bool | None = None,
           external_threshold: int = EXTERNAL_DATA_THRESHOLD,
           progress: bool | None = None) -> str:
    """Write ``net`` as an ONNX file at ``path`` and return the path.

    The graph is verified against the analyzer before any weight is drawn, the file is written
    into a temporary directory beside ``path``, checked again there by ``onnx.checker`` and only
    then moved into place, so a failed or interrupted export leaves nothing behind and never
    replaces an existing file. Weights past ``external_threshold`` bytes (or any weights, with
    ``external_data=True``) go to ``<path>.data`` beside the model. ``progress`` None shows a bar
    on a terminal (stderr) for weights of at least 64 MiB: the graph's check, the weights written
    (bytes, rate, time left), the file's check; True always, False never.
    """
    mode, seed = weight_mode(weights), _seed(seed)
    path = os.fspath(path)
    name = os.path.basename(path)
    report = analyze(net)
    weighed = 0 if mode == "none" else 4 * (report.totals.params - report.totals.train_only_params)
    with _Progress(weighed, progress, f"checking {name} against the analyzer") as bar:
        g = plan(net, report, opset)
        verify(_light(g), net, report)
        total = sum(p.nbytes for p in g.params)
        external = mode != "none" and (external_data if external_data is not None
                                       else total > external_threshold)
        real = os.path.realpath(path)  # through a symlink: the file it points to is replaced
        target_dir = os.path.dirname(real)
        writable_output(path, "model.onnx", "the model")
        origin = (net.origin or {}).get("path")      # an imported model is never written over
        if origin:
            refuse_inputs([path, *([path + ".data"] if external else [])],
                          [Input(origin, "the model")])
        # the model and its weights file are staged together in a folder beside them, then
        # moved
        try:
            tmp_dir = tempfile.mkdtemp(prefix=f".{os.path.basename(real)}.", dir=target_dir)
        except OSError as exc:
            raise error(f"cannot write {path}: {exc.strerror}", SourcePos(path),
                        kind="io") from None
        try:
            tmp = os.path.join(tmp_dir, os.path.basename(real))
            data = tmp + ".data" if external else None
            bar.phase(f"writing {name}", total if mode != "none" else None)
            expected = _write_file(g, mode, seed, values, tmp, data, bar)
            bar.phase(f"checking the written {name}")
            _check_file(tmp, g, expected, light=mode == "none")
            if data:
                os.replace(data, real + ".data")
            os.replace(tmp, real)
        except OSError as exc:
            raise error(f"cannot write {path}: {exc.strerror or exc}", SourcePos(path),
                        kind="io") from None
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)
    return path


def _write_file(g: Plan, mode: str, seed: int, values: Mapping[str, np.ndarray] | None,
                tmp: str, data: str | None, bar: _Progress) -> onnx.ModelProto:
    """Write the model; return what the file holds, without its initializers."""
    with open(tmp, "wb") as f:
        if mode == "none":
            model = _light(g)
            f.write(model.SerializeToString())
            return model
        model = _model(g, [], [], mode, seed)
        expected = onnx.ModelProto()
        expected.CopyFrom(model)
        chunks = _stream(g.params, mode, seed, _check_given(g.params, values))
        if data:
            _write_external(g, model, chunks, f, data, bar)
        else:
            _write_inline(g, model, chunks, f, bar)
    return expected


def _check_file(path: str, g: Plan, expected: onnx.ModelProto, light: bool) -> None:
    """Check the file as written: its protobuf framing is read back (raw weight data skipped, not
    read) and must encode ``expected``'s structure with every tensor the planned size; a file up
    to FULL_CHECK_BYTES (with external data: any model file) also passes ``onnx.checker``."""
    skeleton, raw = _read_skeleton(path)
    heads = list(skeleton.graph.initializer)
    del skeleton.graph.initializer[:]
    if skeleton != expected:
        raise VerificationError(f"{path}: the file does not hold the model that was verified")
    sizes = {t.name: raw.get(t.name, _external_length(t)) for t in heads}
    wrong = [] if light else [p.name for p in g.params if sizes.get(p.name) != p.nbytes]
    if wrong or len(heads) != (0 if light else len(g.params)):
        raise VerificationError(f"{path}: weights of the wrong size: {', '.join(wrong[:5])}")
    if os.path.getsize(path) <= FULL_CHECK_BYTES:
        try:
            onnx.checker.check_model(path)
        except onnx.checker.ValidationError as exc:
            raise VerificationError(f"onnx.checker refuses the written file: {exc}") from None


def _external_length(t: onnx.TensorProto) -> int | None:
    entries = {e.key: e.value for e in t.external_data}
    return int(entries["length"]) if "length" in entries else None


def _read_varint(buf: mmap.mmap, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _fields(buf: mmap.mmap, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start, end) of each field of the message in buf[start:end]."""
    i = start
    while i < end:
        key, i = _read_varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, j = _read_varint(buf, i)
        elif wire == 2:
            length, i = _read_varint(buf, i)
            j = i + length
        elif wire in (1, 5):
            j = i + (8 if wire == 1 else 4)
        else:
            raise VerificationError(f"unexpected protobuf wire type {wire}")
        yield number, wire, i, j
        i = j


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _read_skeleton(path: str) -> tuple[onnx.ModelProto, dict[str, int]]:
    """The model in ``path`` with its tensors' raw data left out, and each raw data's length."""
    import mmap
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        model, graph, raw = bytearray(), bytearray(), {}
        for number, wire, i, j in _fields(buf, 0, len(buf)):
            if number != _GRAPH:
                model += _encoded(buf, number, wire, i, j)
                continue
            for gnum, gwire, gi, gj in _fields(buf, i, j):
                if gnum != _INITIALIZER:
                    graph += _encoded(buf, gnum, gwire, gi, gj)
                    continue
                head, length = bytearray(), None
                for tnum, twire, ti, tj in _fields(buf, gi, gj):
                    if tnum == _RAW_DATA:
                        length = tj - ti
                    else:
                        head += _encoded(buf, tnum, twire, ti, tj)
                tensor = onnx.TensorProto.FromString(bytes(head))
                if length is not None:
                    raw[tensor.name] = length
                graph += _key(_INITIALIZER, 2) + _varint(len(head)) + head
        out = onnx.ModelProto.FromString(bytes(model))
        out.graph.ParseFromString(bytes(graph))
        return out, raw


def _encoded(buf: mmap.mmap, number: int, wire: int, i: int, j: int) -> bytes:
    """One field re-encoded from its value bytes."""
    if wire == 2:
        return _key(number, 2) + _varint(j - i) + buf[i:j]
    return _key(number, wire) + buf[i:j]


__all__ = ["EMIT", "export", "to_model", "verify", "plan", "default_opset", "newest_opset",
           "check_opset", "DEFAULT_OPSET", "weight_mode",
           "VerificationError", "WEIGHT_MODES", "EXTERNAL_DATA_THRESHOLD"]
