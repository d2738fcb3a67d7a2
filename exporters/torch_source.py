"""archcalc networks → readable PyTorch source (``archcalc export SPEC -o model.py``).

:func:`to_source` writes one Python module that imports only ``torch`` (``torch``,
``torch.nn``, ``torch.nn.functional``): one ``nn.Module`` class per kind of block instance of
the spec (its constructor takes what differs between the instances: channels, strides, …), one
class for the network whose submodules carry the spec's names (``layer1[0].conv1``), a
``forward`` in the spec's order, and a docstring with archcalc's totals. Generating it needs no
torch: this module imports torch only in the functions that build or load a module
(:func:`build`, :func:`state_dict`, :func:`export` with weights).

Layouts. A map H×W×C is ``[N, C, H, W]`` (PyTorch's), a vector ``[N, C]``; the ops that work
on the channels of each place (``linear``, ``layernorm``, ``layer_scale``, attention, the token
ops) run channels-last, as torchvision's ConvNeXt and Swin do: ``[N, H, W, C]`` for a map,
``[N, L, C]`` for a token sequence (``tokens`` is ``x.flatten(2).transpose(1, 2)``). The
forward converts between them where an op needs another (a ``permute``, ``flatten`` or
``unflatten``: no arithmetic), and every output is returned as ``[N, C, H, W]`` or ``[N, C]``.

Weights. The source builds PyTorch's default initialisation. :func:`state_dict` gives the
values ``archcalc export -o x.onnx`` writes (``weights`` random with ``seed``, or zeros): the
ONNX exporter's own draw, renamed to the module's ``state_dict`` keys; ``export`` writes it
beside the source as ``<stem>.pt`` (``torch.save``), so that
``model.load_state_dict(torch.load("model.pt"))`` gives the ONNX model's weights. With
``weights="none"`` only the source is written. docs/export.md ("PyTorch source") has the rest.
"""
from __future__ import annotations

import keyword
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from math import prod
from typing import Any

from archcalc.analysis import analyze
from archcalc.errors import error
from archcalc.exporters import unknown_layer
from archcalc.graph import Layer, Network
from archcalc.ops import At, Vol, Windowed
from archcalc.ops.attention import Attention
from archcalc.ops.channels import Slice
from archcalc.ops.resampling import ConvTranspose, Crop, Upsample
from archcalc.ops.windowed import DepthwiseConv
from archcalc.report import Report
from archcalc.version import __version__

WEIGHT_MODES = ("random", "zeros", "none")
WIDTH = 88          # ruff's (and black's) default line length: the file passes either config

# ---------------------------------------------------------------------------------------------
# expressions and their layout, as ruff format would write them


@dataclass
class Group:
    """A bracketed expression: ``head`` + open bracket, items, close bracket (a call, a list or
    a tuple). Written on one line where it fits, else one item a line with a trailing comma
    (ruff's "magic trailing comma" then keeps it so)."""
    head: str
    items: list[Any]              # str | Group | tuple[str, str | Group] (a keyword argument)
    open: str = "("
    close: str = ")"

    def flat(self) -> str:
        parts = [_flat(i) for i in self.items]
        if self.open == "(" and not self.head and len(parts) == 1:
            return f"({parts[0]},)"           # a one-item tuple
        return f"{self.head}{self.open}{', '.join(parts)}{self.close}"


@dataclass
class Entry:
    """``"key": value`` in a dict display (an nn.ModuleDict's)."""
    key: str
    value: Any


def _flat(item: Any) -> str:
    if isinstance(item, Entry):
        return f'"{item.key}": {_flat(item.value)}'
    if isinstance(item, tuple):
        return f"{item[0]}={_flat(item[1])}"
    if isinstance(item, Group):
        return item.flat()
    return str(item)


def _lines(prefix: str, item: Any, indent: int, suffix: str = "") -> list[str]:
    """``prefix`` + ``item`` + ``suffix`` at ``indent`` spaces, exploded where too long."""
    pad = " " * indent
    text = f"{pad}{prefix}{_flat(item)}{suffix}"
    if len(text) <= WIDTH:
        return [text]
    if isinstance(item, tuple):
        return _lines(f"{prefix}{item[0]}=", item[1], indent, suffix)
    if isinstance(item, Entry):
        return _lines(f'{prefix}"{item.key}": ', item.value, indent, suffix)
    if isinstance(item, Group) and item.items:
        out = [f"{pad}{prefix}{item.head}{item.open}"]
        for sub in item.items:
            out += _lines("", sub, indent + 4, ",")
        return out + [f"{pad}{item.close}{suffix}"]
    if isinstance(item, Sum):
        out = [f"{pad}{prefix}("]
        for i, term in enumerate(item.terms):
            out.append(f"{pad}    {'' if i == 0 else item.op + ' '}{term}")
        return out + [f"{pad}){suffix}"]
    return [text]                               # nothing to break: left long


@dataclass
class Sum:
    """``a + b + c`` (or ``*``) of plain names; broken as ruff breaks a long binary expression."""
    op: str
    terms: list[str]

    def __str__(self) -> str:
        return f" {self.op} ".join(self.terms)


def structured(src: str) -> Any:
    """An expression's text as Groups and Sums where it has calls, lists or a chain of ``+``
    or ``*`` at the top, so that :func:`_lines` breaks it as ruff format would; the text of
    everything else kept as written."""
    import ast
    tree = ast.parse(src, mode="eval").body

    def text(node: ast.AST) -> str:
        seg = ast.get_source_segment(src, node)
        assert seg is not None
        return seg

    def build(node: ast.AST) -> Any:
        if isinstance(node, ast.Call) and not node.args and not node.keywords:
            return text(node)
        if isinstance(node, ast.Call):
            items: list[Any] = [build(a) for a in node.args]
            items += [(k.arg, build(k.value)) for k in node.keywords]
            return Group(text(node.func), items)
        if isinstance(node, ast.List):
            return Group("", [build(e) for e in node.elts], "[", "]")
        return text(node)

    if isinstance(tree, ast.BinOp) and isinstance(tree.op, (ast.Add, ast.Mult)):
        terms, op = [], "+" if isinstance(tree.op, ast.Add) else "*"
        node: ast.AST = tree
        while isinstance(node, ast.BinOp) and type(node.op) is type(tree.op):
            terms.append(text(node.right))
            node = node.left
        terms.append(text(node))
        return Sum(op, terms[::-1])
    return build(tree)


def _lit(v: Any) -> str:
    """A constructor argument as Python writes it: a pair of equal values as one number."""
    if isinstance(v, tuple):
        if len(v) == 2 and v[0] == v[1]:
            return _lit(v[0])
        return "(" + ", ".join(_lit(x) for x in v) + ")"
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


# layouts of a value: a map [N, C, H, W], channels-last [N, H, W, C], tokens [N, L, C], a
# vector [N, C]
NCHW, NHWC, NLC, NC = "nchw", "nhwc", "nlc", "nc"
CHANNELS_LAST = (NHWC, NLC, NC)   # the channels on the last axis


def torch_shape(layout: str, vol: Vol, batch: int) -> tuple[int, ...]:
    """The shape of a value of volume ``vol`` in ``layout``, at ``batch``."""
    h, w, c = vol
    return {NCHW: (batch, c, h, w), NHWC: (batch, h, w, c), NLC: (batch, h * w, c),
            NC: (batch, c)}[layout]


def convert(x: str, src: str, dst: str, vol: Vol) -> str:
    """The expression giving value ``x`` (in layout ``src``) in layout ``dst``."""
    if src == dst:
        return x
    h, w, _ = vol
    if src == NC:
        if h * w != 1:
            raise AssertionError(f"a vector of volume {vol}")
        return {NCHW: f"{x}[:, :, None, None]", NHWC: f"{x}[:, None, None]",
                NLC: f"{x}[:, None]"}[dst]
    if dst == NC:
        if h * w != 1:
            raise AssertionError(f"a map of volume {vol} as a vector")
        return f"{x}.flatten(1)"
    return {(NCHW, NHWC): f"{x}.permute(0, 2, 3, 1)",
            (NHWC, NCHW): f"{x}.permute(0, 3, 1, 2)",
            (NCHW, NLC): f"{x}.flatten(2).transpose(1, 2)",
            (NLC, NCHW): f"{x}.transpose(1, 2).unflatten(2, ({h}, {w}))",
            (NHWC, NLC): f"{x}.flatten(1, 2)",
            (NLC, NHWC): f"{x}.unflatten(1, ({h}, {w}))"}[(src, dst)]


# ---------------------------------------------------------------------------------------------
# helper classes, written into the file once where a layer uses them

HELPERS: dict[str, str] = {
    "ClassToken": '''
class ClassToken(nn.Module):
    """Learned tokens put before a sequence (ViT's class token):
    [N, L, C] → [N, T + L, C]."""

    def __init__(self, count: int, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, count, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.weight.expand(x.shape[0], -1, -1), x], dim=1)
''',
    "PositionEmbedding": '''
class PositionEmbedding(nn.Module):
    """A learned embedding added to each token: [N, L, C] + [1, L, C]."""

    def __init__(self, tokens: int, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, tokens, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight
''',
    "LayerScale": '''
class LayerScale(nn.Module):
    """Each channel scaled by a learned factor (CaiT, ConvNeXt); the channels last."""

    def __init__(self, channels: int, init: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight
''',
    "DropPath": '''
class DropPath(nn.Module):
    """Stochastic depth: in training, each sample's path is dropped with probability p
    (the others scaled by 1 / (1 − p)); the identity at inference."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep
''',
    "PatchMerge": '''
class PatchMerge(nn.Module):
    """Swin's patch merging without its projection: the four places of each 2×2 patch
    concatenated on the channels, [N, H, W, C] → [N, ⌈H/2⌉, ⌈W/2⌉, 4C] (an odd side
    padded by one)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[1], x.shape[2]
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        parts = [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]]
        return torch.cat(parts, dim=-1)
''',
    "SelfAttention": '''
class SelfAttention(nn.Module):
    """Multi-head attention over a token sequence [N, L, C], as nn.MultiheadAttention
    computes it; given a second sequence [N, M, C₂] (cross-attention), its keys and
    values come from it. ``proj=False`` leaves out the output projection (the output is
    then heads·head_dim wide)."""

    def __init__(
        self,
        channels: int,
        heads: int,
        head_dim: int,
        qkv_bias: bool = True,
        proj: bool = True,
        proj_bias: bool = True,
        kv_channels: int | None = None,
    ) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        inner = heads * head_dim
        if kv_channels is None:
            self.qkv = nn.Linear(channels, 3 * inner, bias=qkv_bias)
        else:
            self.q = nn.Linear(channels, inner, bias=qkv_bias)
            self.k = nn.Linear(kv_channels, inner, bias=qkv_bias)
            self.v = nn.Linear(kv_channels, inner, bias=qkv_bias)
        if proj:
            self.proj = nn.Linear(inner, channels, bias=proj_bias)
        else:
            self.proj = nn.Identity()

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if context is None:
            qkv = self.qkv(x).unflatten(-1, (3, self.heads, self.head_dim))
            q, k, v = qkv.permute(2, 0, 3, 1, 4)
        else:
            q, k, v = (
                layer(source).unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)
                for layer, source in ((self.q, x), (self.k, context), (self.v, context))
            )
        attn = (q * self.head_dim**-0.5) @ k.transpose(-2, -1)
        y = attn.softmax(dim=-1) @ v
        return self.proj(y.transpose(1, 2).flatten(2))
''',
    "WindowAttention": '''
def pair(v: int | tuple[int, int] | None) -> tuple[int, int] | None:
    return (v, v) if isinstance(v, int) else v


def relative_position_index(mh: int, mw: int) -> torch.Tensor:
    """For each pair of places of an mh×mw window (row by row), the row of the bias
    table that holds their offset (torchvision's Swin and MaxViT)."""
    rows, cols = torch.meshgrid(torch.arange(mh), torch.arange(mw), indexing="ij")
    coords = torch.stack([rows, cols]).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    return (rel[..., 0] + mh - 1) * (2 * mw - 1) + rel[..., 1] + mw - 1


def shift_mask(
    h: int,
    w: int,
    window: tuple[int, int],
    shift: tuple[int, int],
) -> torch.Tensor:
    """Swin's mask of a shifted window: −100 between places that came from different
    regions of the rolled map, 0 elsewhere; [windows, 1, M, M]."""
    (mh, mw), (sh, sw) = window, shift
    rows, cols = torch.arange(h), torch.arange(w)
    # the regions are cut at −M and −S from the bottom and the right (where shifted)
    row_region = torch.zeros(h, dtype=torch.long)
    if sh:
        row_region = (rows >= h - mh).long() + (rows >= h - sh).long()
    col_region = torch.zeros(w, dtype=torch.long)
    if sw:
        col_region = (cols >= w - mw).long() + (cols >= w - sw).long()
    regions = row_region[:, None] * 3 + col_region[None, :]
    regions = regions.view(h // mh, mh, w // mw, mw).transpose(1, 2)
    regions = regions.reshape(-1, mh * mw)
    diff = regions[:, None, :] - regions[:, :, None]
    return torch.where(diff != 0, -100.0, 0.0)[:, None]


class WindowAttention(nn.Module):
    """Multi-head self-attention within windows (Swin: ``window``, optionally
    ``shift``ed) or within the cells of a grid of places spread over the map (MaxViT:
    ``grid``) of a map [N, H, W, C], with an optional relative-position bias
    (``relpos``)."""

    def __init__(
        self,
        channels: int,
        heads: int,
        head_dim: int,
        window: int | tuple[int, int] | None = None,
        grid: int | tuple[int, int] | None = None,
        shift: int | tuple[int, int] = 0,
        relpos: bool = False,
        qkv_bias: bool = True,
        proj: bool = True,
        proj_bias: bool = True,
    ) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.window, self.grid, self.shift = pair(window), pair(grid), pair(shift)
        inner = heads * head_dim
        self.qkv = nn.Linear(channels, 3 * inner, bias=qkv_bias)
        if proj:
            self.proj = nn.Linear(inner, channels, bias=proj_bias)
        else:
            self.proj = nn.Identity()
        if relpos:
            mh, mw = self.window or self.grid
            table = torch.zeros((2 * mh - 1) * (2 * mw - 1), heads)
            self.relative_position_bias_table = nn.Parameter(table)
            index = relative_position_index(mh, mw).flatten()
            self.register_buffer("relative_position_index", index)
        else:
            self.relative_position_bias_table = None

    def partition(self, x: torch.Tensor) -> torch.Tensor:
        """[N, H, W, C] → [N, groups, places, C]."""
        n, h, w, c = x.shape
        if self.window is not None:
            (mh, mw) = self.window
            x = x.view(n, h // mh, mh, w // mw, mw, c).permute(0, 1, 3, 2, 4, 5)
        else:
            (gh, gw) = self.grid
            x = x.view(n, gh, h // gh, gw, w // gw, c).permute(0, 2, 4, 1, 3, 5)
        return x.flatten(3, 4).flatten(1, 2)

    def merge(self, y: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """[N, groups, places, C] → [N, H, W, C]."""
        n, c = y.shape[0], y.shape[-1]
        if self.window is not None:
            (mh, mw) = self.window
            y = y.view(n, h // mh, w // mw, mh, mw, c).permute(0, 1, 3, 2, 4, 5)
        else:
            (gh, gw) = self.grid
            y = y.view(n, h // gh, w // gw, gh, gw, c).permute(0, 3, 1, 4, 2, 5)
        return y.reshape(n, h, w, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[1], x.shape[2]
        shifted = self.window is not None and any(self.shift)
        if shifted:
            x = torch.roll(x, (-self.shift[0], -self.shift[1]), dims=(1, 2))
        qkv = self.qkv(self.partition(x)).unflatten(-1, (3, self.heads, self.head_dim))
        q, k, v = qkv.permute(3, 0, 1, 4, 2, 5)
        attn = (q * self.head_dim**-0.5) @ k.transpose(-2, -1)
        if self.relative_position_bias_table is not None:
            bias = self.relative_position_bias_table[self.relative_position_index]
            places = attn.shape[-1]
            attn = attn + bias.view(places, places, -1).permute(2, 0, 1)
        if shifted:
            attn = attn + shift_mask(h, w, self.window, self.shift).to(attn)
        y = (attn.softmax(dim=-1) @ v).transpose(2, 3).flatten(3)
        y = self.merge(self.proj(y), h, w)
        if shifted:
            y = torch.roll(y, self.shift, dims=(1, 2))
        return y
''',
}


# ---------------------------------------------------------------------------------------------
# one layer: its module (a constructor call with its values) and its forward expression

@dataclass
class Ctor:
    """A module's constructor: ``head(args)`` where each argument is a literal value (a slot:
    the block classes make the values that differ between instances parameters)."""
    head: str
    args: list[tuple[str | None, str, Any]]     # (keyword or None, slot name, value)
    helper: str | None = None                   # the helper class it needs
    # keyword arguments left out where their value is this default (in every instance)
    defaults: dict[str, Any] = field(default_factory=dict)

    def template(self) -> tuple[Any, ...]:
        return (self.head, tuple((k, s, type(v).__name__) for k, s, v in self.args))


@dataclass
class Emitted:
    """What a layer compiles to: an optional module, the forward expression (``{m}`` stands
    for the module, ``{0}``, ``{1}`` … for the inputs, converted to ``needs``), and the layout
    of its output."""
    module: Ctor | None
    expr: str
    needs: list[str]
    out: str
    uses_f: bool = False


def _pair_or_int(v: Any) -> Any:
    return v[0] if isinstance(v, tuple) and len(v) == 2 and v[0] == v[1] else v


def _window_pads(layer: Layer, vin: Vol, out: Vol, at: At) -> tuple[list[int], list[int]]:
    """(top, left) and (bottom, right): the layer's own padding, the end grown where rounding
    ceil keeps a partial window (as the ONNX exporter does)."""
    op, a = layer.opdef, layer.attrs
    assert isinstance(op, Windowed)
    begin = list(op.pads(a, at))
    ends = [max(e, (o - 1) * s + k - n - p) for p, e, o, s, k, n in
            zip(begin, op.pads_end(a), out[:2], a["stride"], op.k_eff(a), vin[:2])]
    return begin, ends


def _conv(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    a = layer.attrs
    if layer.op == "dwconv":
        op = layer.opdef
        assert isinstance(op, DepthwiseConv)
        a = op.as_conv(a, vin[0][2])
    begin, end = _window_pads(layer, vin[0], out, at)
    args: list[tuple[str | None, str, Any]] = [
        (None, "in_channels", vin[0][2]), (None, "out_channels", a["filters"]),
        (None, "kernel_size", _pair_or_int(a["kernel"]))]
    args.append(("stride", "stride", _pair_or_int(a["stride"])))
    expr = "{m}({0})"
    uses_f = False
    if begin == end:
        args.append(("padding", "padding", _pair_or_int(tuple(begin))))
    else:                   # uneven padding: PyTorch's Conv2d pads both sides alike
        expr = f"{{m}}(F.pad({{0}}, ({begin[1]}, {end[1]}, {begin[0]}, {end[0]})))"
        uses_f = True
    args.append(("dilation", "dilation", _pair_or_int(a["dilation"])))
    args.append(("groups", "groups", a["groups"]))
    args.append(("bias", "bias", bool(a["bias"])))
    return Emitted(Ctor("nn.Conv2d", args, None, _CONV_DEFAULTS), expr, [NCHW], NCHW, uses_f)


_CONV_DEFAULTS = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True,
                  "output_padding": 0}


def _torch_pool_out(n: int, k: int, s: int, p: int, ceil: bool) -> int:
    """PyTorch's pooling output length."""
    num = n + 2 * p - k
    o = (-(-num // s) if ceil else num // s) + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def _pool(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    a = layer.attrs
    op = layer.opdef
    assert isinstance(op, Windowed)
    begin, end = list(op.pads(a, at)), list(op.pads_end(a))
    k, s = a["kernel"], a["stride"]
    head = "nn.MaxPool2d" if layer.op == "maxpool" else "nn.AvgPool2d"
    args: list[tuple[str | None, str, Any]] = [(None, "kernel_size", _pair_or_int(k))]
    args.append(("stride", "stride", _pair_or_int(s)))
    expr, uses_f = "{m}({0})", False
    fits = begin == end and all(2 * p <= kk for p, kk in zip(begin, k))
    if fits:
        for ceil in (False, True):
            if all(_torch_pool_out(n, kk, ss, p, ceil) == o
                   for n, kk, ss, p, o in zip(vin[0][:2], k, s, begin, out[:2])):
                break
        else:
            fits = False
    if fits:
        args.append(("padding", "padding", _pair_or_int(tuple(begin))))
        args.append(("ceil_mode", "ceil_mode", ceil))
    else:
        # padding PyTorch's pooling does not take (more than half the window, or uneven):
        # padded first, the padding read as -inf by max pooling and as 0 by average pooling
        # (which counts the padding, as nn.AvgPool2d does)
        ends = [max(e, (o - 1) * ss + kk - n - p) for p, e, o, ss, kk, n in
                zip(begin, end, out[:2], s, k, vin[0][:2])]
        value = ', value=float("-inf")' if layer.op == "maxpool" else ""
        expr = f"{{m}}(F.pad({{0}}, ({begin[1]}, {ends[1]}, {begin[0]}, {ends[0]}){value}))"
        uses_f = True
    defaults = {"stride": _pair_or_int(k), "padding": 0, "ceil_mode": False}
    return Emitted(Ctor(head, args, None, defaults), expr, [NCHW], NCHW, uses_f)


def _module(head: str, *positional: str, **keywords: str) -> Any:
    """An emitter for a layer that is one module, in any layout: ``head(attrs…)`` with the
    layer's attributes ``positional`` and ``keywords`` (PyTorch's keyword → archcalc's)."""
    def emit(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
        args: list[tuple[str | None, str, Any]] = [(None, k, layer.attrs[k]) for k in positional]
        args += [(k, k, layer.attrs[v]) for k, v in keywords.items()]
        return Emitted(Ctor(head, args), "{m}({0})", [lay[0]], lay[0])
    return emit


def _softmax(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    dim = 1 if lay[0] in (NCHW, NC) else -1
    return Emitted(Ctor("nn.Softmax", [("dim", "dim", dim)]), "{m}({0})", [lay[0]], lay[0])


def _prelu(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    if layer.attrs["shared"]:
        return Emitted(Ctor("nn.PReLU", []), "{m}({0})", [lay[0]], lay[0])
    want = lay[0] if lay[0] in (NCHW, NC) else NCHW
    return Emitted(Ctor("nn.PReLU", [(None, "channels", vin[0][2])]), "{m}({0})", [want], want)


def _batchnorm(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    vec = lay[0] == NC
    args: list[tuple[str | None, str, Any]] = [(None, "channels", vin[0][2])]
    if layer.attrs["eps"] != 1e-5:
        args.append(("eps", "eps", layer.attrs["eps"]))
    return Emitted(Ctor("nn.BatchNorm1d" if vec else "nn.BatchNorm2d", args), "{m}({0})",
                   [NC if vec else NCHW], NC if vec else NCHW)


def _eps(layer: Layer) -> list[tuple[str | None, str, Any]]:
    return [] if layer.attrs["eps"] == 1e-5 else [("eps", "eps", layer.attrs["eps"])]


def _layernorm(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    want = lay[0] if lay[0] in CHANNELS_LAST else NHWC
    return Emitted(Ctor("nn.LayerNorm", [(None, "channels", vin[0][2]), *_eps(layer)]),
                   "{m}({0})", [want], want)


def _groupnorm(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    want = lay[0] if lay[0] in (NCHW, NC) else NCHW
    return Emitted(Ctor("nn.GroupNorm", [(None, "groups", layer.attrs["groups"]),
                                         (None, "channels", vin[0][2]), *_eps(layer)]),
                   "{m}({0})", [want], want)


def _instancenorm(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    h, w, c = vin[0]
    args = [(None, "channels", c), *_eps(layer)]
    if h * w == 1:     # InstanceNorm2d refuses one place; GroupNorm with a group a channel
        args = [(None, "groups", c), *args,    # computes the same (and takes [N, C])
                ("affine", "affine", bool(layer.attrs["affine"]))]
        return Emitted(Ctor("nn.GroupNorm", args), "{m}({0})", [lay[0] if lay[0] == NC
                                                                 else NCHW], lay[0] if lay[0]
                       == NC else NCHW)
    if layer.attrs["affine"]:
        args.append(("affine", "affine", True))
    return Emitted(Ctor("nn.InstanceNorm2d", args), "{m}({0})", [NCHW], NCHW)


def _lrn(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    a = layer.attrs
    args: list[tuple[str | None, str, Any]] = [(None, "size", a["size"])]
    for key, torch_key, default in (("alpha", "alpha", 1e-4), ("beta", "beta", 0.75),
                                    ("k", "k", 1.0)):
        if a[key] != default:
            args.append((torch_key, torch_key, a[key]))
    return Emitted(Ctor("nn.LocalResponseNorm", args), "{m}({0})", [NCHW], NCHW)


def _fc(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    a = layer.attrs
    args: list[tuple[str | None, str, Any]] = [(None, "in_features", prod(vin[0])),
                                               (None, "out_features", a["units"])]
    if not a["bias"]:
        args.append(("bias", "bias", False))
    if lay[0] == NC:
        return Emitted(Ctor("nn.Linear", args), "{m}({0})", [NC], NC)
    # flattened in the order C, H, W (PyTorch's torch.flatten of [N, C, H, W], and ONNX's)
    return Emitted(Ctor("nn.Linear", args), "{m}(torch.flatten({0}, 1))", [NCHW], NC)


def _linear(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    a = layer.attrs
    args: list[tuple[str | None, str, Any]] = [(None, "in_features", vin[0][2]),
                                               (None, "out_features", a["units"])]
    if not a["bias"]:
        args.append(("bias", "bias", False))
    want = lay[0] if lay[0] in CHANNELS_LAST else NHWC
    return Emitted(Ctor("nn.Linear", args), "{m}({0})", [want], want)


def _flatten(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    if lay[0] == NC:
        return Emitted(None, "{0}", [NC], NC)
    return Emitted(None, "torch.flatten({0}, 1)", [NCHW], NC)


def _merge_layout(lay: list[str]) -> str:
    spatial = [x for x in lay if x != NC]
    return spatial[0] if spatial else NC


def _concat(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    want = _merge_layout(lay)
    dim = 1 if want in (NCHW, NC) else -1
    items = ", ".join(f"{{{i}}}" for i in range(len(vin)))
    return Emitted(None, f"torch.cat([{items}], dim={dim})", [want] * len(vin), want)


def _broadcast(sign: str) -> Any:
    def emit(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
        want = _merge_layout(lay)
        if want == NLC and any(v[:2] not in ((1, 1), out[:2]) for v in vin):
            want = NCHW          # a 1×W or H×1 map broadcasts on [N, C, H, W] only
        return Emitted(None, f" {sign} ".join(f"{{{i}}}" for i in range(len(vin))),
                       [want] * len(vin), want)
    return emit


def _slice(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    op = layer.opdef
    assert isinstance(op, Slice)
    s, e = op.channels(layer.attrs, vin[0][2], at)
    if (s, e) == (0, vin[0][2]):        # every channel: the input itself
        return Emitted(None, "{0}", [lay[0]], lay[0])
    rng = f"{s or ''}:{e if e != vin[0][2] else ''}"
    if lay[0] in (NCHW, NC):
        return Emitted(None, f"{{0}}[:, {rng}]", [lay[0]], lay[0])
    return Emitted(None, f"{{0}}[..., {rng}]", [lay[0]], lay[0])


def _shuffle(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    g, (h, w, c) = layer.attrs["groups"], vin[0]
    if g in (1, c):                     # one group, or one channel a group: nothing moves
        return Emitted(None, "{0}", [lay[0]], lay[0])
    return Emitted(None, f"{{0}}.view(-1, {g}, {c // g}, {h}, {w}).transpose(1, 2)"
                   f".reshape(-1, {c}, {h}, {w})", [NCHW], NCHW)


def _upsample(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    a = layer.attrs
    op = layer.opdef
    assert isinstance(op, Upsample)
    factors = op.factors(a, vin[0])
    args: list[tuple[str | None, str, Any]]
    if factors is not None and not a["align_corners"]:
        f = _pair_or_int(tuple(factors))
        args = [("scale_factor", "scale_factor", float(f) if isinstance(f, int) else
                 tuple(float(x) for x in f))]
    else:           # any other size as the size (the ratio of sizes maps the coordinates)
        args = [("size", "size", _pair_or_int(tuple(out[:2])))]
    args.append(("mode", "mode", f'"{a["mode"]}"'))
    if a["mode"] == "bilinear":
        args.append(("align_corners", "align_corners", bool(a["align_corners"])))
    return Emitted(Ctor("nn.Upsample", args), "{m}({0})", [NCHW], NCHW)


def _conv_transpose(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]
                    ) -> Emitted:
    a = layer.attrs
    op = layer.opdef
    assert isinstance(op, ConvTranspose)
    opad = op.output_padding(a, vin[0])
    args: list[tuple[str | None, str, Any]] = [
        (None, "in_channels", vin[0][2]), (None, "out_channels", a["filters"]),
        (None, "kernel_size", _pair_or_int(a["kernel"]))]
    for key, value in (("stride", a["stride"]), ("padding", a["padding"]),
                       ("output_padding", tuple(opad))):
        args.append((key, key, _pair_or_int(tuple(value))))
    args.append(("groups", "groups", a["groups"]))
    args.append(("bias", "bias", bool(a["bias"])))
    args.append(("dilation", "dilation", _pair_or_int(a["dilation"])))
    return Emitted(Ctor("nn.ConvTranspose2d", args, None, _CONV_DEFAULTS), "{m}({0})", [NCHW],
                   NCHW)


def _pad(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    a = layer.attrs
    t, b, left, r = a["padding"]
    sides = (left, r, t, b)
    pads = sides[0] if len(set(sides)) == 1 else sides
    if a["mode"] == "reflect":
        ctor = Ctor("nn.ReflectionPad2d", [(None, "padding", pads)])
    elif a["value"] == 0:
        ctor = Ctor("nn.ZeroPad2d", [(None, "padding", pads)])
    else:
        ctor = Ctor("nn.ConstantPad2d", [(None, "padding", pads), (None, "value", a["value"])])
    return Emitted(ctor, "{m}({0})", [NCHW], NCHW)


def _crop(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    op = layer.opdef
    assert isinstance(op, Crop)
    oh, ow = op.offsets(layer.attrs, vin, at)
    h, w = out[:2]
    rows = f"{oh or ''}:{oh + h}" if (oh, h) != (0, vin[0][0]) else ":"
    cols = f"{ow or ''}:{ow + w}" if (ow, w) != (0, vin[0][1]) else ":"
    needs = [NCHW, *lay[1:]]          # a second input gives the size only
    return Emitted(None, f"{{0}}[:, :, {rows}, {cols}]", needs, NCHW)


def _factor(head: str) -> Any:
    def emit(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
        return Emitted(Ctor(head, [(None, "factor", layer.attrs["factor"])]), "{m}({0})",
                       [NCHW], NCHW)
    return emit


def _global_pool(head: str) -> Any:
    def emit(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
        return Emitted(Ctor(head, [(None, "output_size", 1)]), "{m}({0})", [NCHW], NCHW)
    return emit


def _adaptive(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    size = _pair_or_int(tuple(layer.attrs["output"]))
    return Emitted(Ctor("nn.AdaptiveAvgPool2d", [(None, "output_size", size)]), "{m}({0})",
                   [NCHW], NCHW)


def _tokens(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    return Emitted(None, "{0}", [NLC], NLC)


def _untokens(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    # the same elements: the output's layout conversion does the work
    return Emitted(None, "{0}", [NLC], NLC)


def _class_token(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    return Emitted(Ctor("ClassToken", [(None, "count", layer.attrs["count"]),
                                       (None, "channels", vin[0][2])], "ClassToken"),
                   "{m}({0})", [NLC], NLC)


def _pos_embed(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    h, w, c = vin[0]
    return Emitted(Ctor("PositionEmbedding", [(None, "tokens", h * w), (None, "channels", c)],
                        "PositionEmbedding"), "{m}({0})", [NLC], NLC)


def _take_token(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    return Emitted(None, f"{{0}}[:, {layer.attrs['index']}]", [NLC], NC)


def _layer_scale(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    want = lay[0] if lay[0] in CHANNELS_LAST else NHWC
    return Emitted(Ctor("LayerScale", [(None, "channels", vin[0][2]),
                                       (None, "init", float(layer.attrs["init"]))],
                        "LayerScale"), "{m}({0})", [want], want)


def _drop_path(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    return Emitted(Ctor("DropPath", [(None, "p", float(layer.attrs["rate"]))], "DropPath"),
                   "{m}({0})", [lay[0]], lay[0])


def _patch_merge(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    return Emitted(Ctor("PatchMerge", [], "PatchMerge"), "{m}({0})", [NHWC], NHWC)


def _attention(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    op, a = layer.opdef, layer.attrs
    assert isinstance(op, Attention)
    c, heads = vin[0][2], a["heads"]
    hd = op.inner(a, c) // heads
    args: list[tuple[str | None, str, Any]] = [
        (None, "channels", c), (None, "heads", heads), (None, "head_dim", hd)]
    part = a["window"] or a["grid"]
    if part:
        args.append(("window" if a["window"] else "grid", "window" if a["window"] else "grid",
                     tuple(part)))
        if a["window"] and any(a["shift"]):
            args.append(("shift", "shift", tuple(a["shift"])))
        if a["relpos"]:
            args.append(("relpos", "relpos", True))
    for key in ("qkv_bias", "proj", "proj_bias"):
        if not a[key]:
            args.append((key, key, False))
    if part:
        return Emitted(Ctor("WindowAttention", args, "WindowAttention"), "{m}({0})", [NHWC],
                       NHWC)
    if len(vin) == 2:
        args.append(("kv_channels", "kv_channels", vin[1][2]))
        return Emitted(Ctor("SelfAttention", args, "SelfAttention"), "{m}({0}, {1})",
                       [NLC, NLC], NLC)
    return Emitted(Ctor("SelfAttention", args, "SelfAttention"), "{m}({0})", [NLC], NLC)


def _dropout(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    rate = float(layer.attrs["rate"])
    args: list[tuple[str | None, str, Any]] = [] if rate == 0.5 else [(None, "p", rate)]
    return Emitted(Ctor("nn.Dropout", args), "{m}({0})", [lay[0]], lay[0])


def _opaque(layer: Layer, vin: list[Vol], out: Vol, at: At, lay: list[str]) -> Emitted:
    raise unknown_layer(layer, "it has no PyTorch source")


EMIT: dict[str, Any] = {
    "conv": _conv,
    "dwconv": _conv,
    "maxpool": _pool,
    "avgpool": _pool,
    "global_avgpool": _global_pool("nn.AdaptiveAvgPool2d"),
    "global_maxpool": _global_pool("nn.AdaptiveMaxPool2d"),
    "adaptive_avgpool": _adaptive,
    "fc": _fc,
    "relu": _module("nn.ReLU"),
    "tanh": _module("nn.Tanh"),
    "sigmoid": _module("nn.Sigmoid"),
    "relu6": _module("nn.ReLU6"),
    "hardswish": _module("nn.Hardswish"),
    "hardsigmoid": _module("nn.Hardsigmoid"),
    "silu": _module("nn.SiLU"),
    "gelu": _module("nn.GELU"),
    "leaky_relu": _module("nn.LeakyReLU", "slope"),
    "elu": _module("nn.ELU", alpha="alpha"),
    "prelu": _prelu,
    "dropout": _dropout,
    "softmax": _softmax,
    "lrn": _lrn,
    "batchnorm": _batchnorm,
    "layernorm": _layernorm,
    "groupnorm": _groupnorm,
    "instancenorm": _instancenorm,
    "flatten": _flatten,
    "concat": _concat,
    "add": _broadcast("+"),
    "mul": _broadcast("*"),
    "slice": _slice,
    "shuffle": _shuffle,
    "upsample": _upsample,
    "conv_transpose": _conv_transpose,
    "pad": _pad,
    "crop": _crop,
    "pixel_shuffle": _factor("nn.PixelShuffle"),
    "pixel_unshuffle": _factor("nn.PixelUnshuffle"),
    "tokens": _tokens,
    "untokens": _untokens,
    "class_token": _class_token,
    "pos_embed": _pos_embed,
    "take_token": _take_token,
    "linear": _linear,
    "layer_scale": _layer_scale,
    "drop_path": _drop_path,
    "patch_merge": _patch_merge,
    "attention": _attention,
    "opaque": _opaque,
}


# ---------------------------------------------------------------------------------------------
# the module tree: block instances (classes) and containers (nn.Sequential, nn.ModuleDict)

# attributes an nn.Module has already: a layer named so gets a trailing underscore
_RESERVED = frozenset("""training forward train eval to cuda cpu xpu mtia ipu type float double
half bfloat16 apply modules children parameters buffers state_dict load_state_dict
named_modules named_children named_parameters named_buffers register_buffer
register_parameter register_module add_module zero_grad requires_grad_ extra_repr
get_submodule set_submodule get_parameter get_buffer share_memory compile to_empty
dump_patches call_super_init get_extra_state set_extra_state register_forward_hook
register_forward_pre_hook register_backward_hook register_full_backward_hook
register_full_backward_pre_hook register_state_dict_pre_hook register_state_dict_post_hook
register_load_state_dict_pre_hook register_load_state_dict_post_hook self x out torch nn F
""".split())


def identifier(name: str) -> str:
    """``name`` as a Python identifier: other characters as ``_``, a leading digit or a
    keyword or a name nn.Module already has followed by ``_``."""
    out = re.sub(r"\W", "_", name)
    if not out or out[0].isdigit():
        out = "_" + out
    if keyword.iskeyword(out) or out in _RESERVED:
        out += "_"
    return out


def camel(name: str) -> str:
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", name) if p]
    out = "".join(p[:1].upper() + p[1:] for p in parts) or "Block"
    return out if not out[0].isdigit() else "Net" + out


@dataclass
class Instance:
    """A block instance: its full name, the layers directly in it, the instances in it."""
    name: str
    parent: Instance | None
    layers: list[Layer] = field(default_factory=list)
    children: list[Instance] = field(default_factory=list)
    order: list[Any] = field(default_factory=list)   # Layer | Instance, in the spec's order
    closed: bool = True          # one input, one output read outside: a forward of its own
    source: str = ""             # the layer it reads (closed instances)
    output: str = ""             # its output layer
    cls: str = ""                # its class's name
    args: list[Any] = field(default_factory=list)    # its constructor's arguments
    train_only: bool = False

    def all_layers(self) -> Iterable[Layer]:
        yield from self.layers
        for c in self.children:
            yield from c.all_layers()


@dataclass
class Node:
    """A container of modules within a class: key → Node, ("layer", Layer) or ("inst",
    Instance)."""
    items: dict[str, Any] = field(default_factory=dict)
    kind: str = "attrs"         # "attrs" (the class itself), "seq" (nn.Sequential), "dict"


def _segments(local: str) -> list[str]:
    return [s for s in re.split(r"[./]", local) if s != ""] or ["_"]


def _insert(root: Node, segs: list[str], leaf: Any) -> None:
    node = root
    for i, seg in enumerate(segs[:-1]):
        nxt = node.items.get(seg)
        if nxt is None:
            nxt = node.items[seg] = Node()
        elif not isinstance(nxt, Node):       # a module already holds the name: flatten
            _insert(node, ["_".join(segs[i:])], leaf)
            return
        node = nxt
    key = segs[-1]
    if key in node.items:
        key = "_".join(segs)
        while key in node.items:
            key += "_"
    node.items[key] = leaf


def _finish(node: Node, top: bool) -> None:
    """Decide each container's kind and make its keys valid."""
    keys = list(node.items)
    if top:
        node.kind = "attrs"
        renamed: dict[str, Any] = {}
        for k, v in node.items.items():
            name = identifier(k)
            while name in renamed:
                name += "_"
            renamed[name] = v
        node.items = renamed
    elif keys == [str(i) for i in range(len(keys))]:
        node.kind = "seq"
    else:
        node.kind = "dict"
    for v in node.items.values():
        if isinstance(v, Node):
            _finish(v, False)


def _access(node_kind: str, key: str) -> str:
    if node_kind == "attrs":
        return f".{key}"
    if node_kind == "seq":
        return f"[{key}]"
    return f'["{key}"]'


@dataclass
class Compiled:
    """A network compiled to PyTorch source, with what the checks need: each layer's module
    (its path in ``named_modules()``, or None where the layer is an expression in a forward)
    and the layout of its output; the class to instantiate; what ``forward`` returns."""
    source: str
    class_name: str
    modules: dict[str, str | None]
    layouts: dict[str, str]
    outputs: list[str]
    train_outputs: list[str]


class _Compiler:
    def __init__(self, net: Network, report: Report):
        self.net, self.report = net, report
        self.vol = {row.name: row.output for row in report.layers}
        self.emitted: dict[str, Emitted] = {}
        self.layout: dict[str, str] = {}
        self.helpers: set[str] = set()
        self.uses_f = False
        self.classes: dict[tuple[Any, ...], str] = {}        # signature → class name
        self.class_code: list[str] = []
        self.class_params: dict[str, list[str]] = {}
        self.class_columns: dict[str, dict[int, str]] = {}
        self.module_path: dict[str, str | None] = {}
        self.names_taken: set[str] = set(HELPERS) | {"relative_position_index", "shift_mask",
                                                      "pair"}
        self.block_names = _yaml_blocks(net)

    # -- layers ---------------------------------------------------------------------------
    def emit_layers(self) -> None:
        for layer in self.net.layers:
            if layer.op == "input":
                self.layout[layer.name] = NCHW
                continue
            emitter = EMIT.get(layer.op)
            if emitter is None:
                raise error(f"layer {layer.name!r}: the op {layer.op!r} has no PyTorch emission",
                            layer.pos, layer=layer.name, kind="internal")
            vin = [self.vol[s] for s in layer.inputs]
            at = At(layer.name, layer.pos, layer.inputs, self.net.rounding)
            e = emitter(layer, vin, self.vol[layer.name], at,
                        [self.layout[s] for s in layer.inputs])
            self.emitted[layer.name] = e
            self.layout[layer.name] = e.out
            self.uses_f |= e.uses_f
            if e.module is not None and e.module.helper:
                self.helpers.add(e.module.helper)

    # -- instances --------------------------------------------------------------------------
    def instances(self) -> Instance:
        root = Instance("", None)
        by_name: dict[str, Instance] = {"": root}
        for layer in self.net.layers:
            if layer.op == "input":
                continue
            parent = root
            for full in layer.scope:
                inst = by_name.get(full)
                if inst is None:
                    inst = by_name[full] = Instance(full, parent)
                    parent.children.append(inst)
                    parent.order.append(inst)
                parent = inst
            parent.layers.append(layer)
            parent.order.append(layer)
        consumers = self.net.consumers
        outputs = set(self.net.outputs)
        for inst in by_name.values():
            if inst is root:
                continue
            inside = {layer.name for layer in inst.all_layers()}
            reads = {s for layer in inst.all_layers() for s in layer.inputs if s not in inside}
            out = self.net.block_outputs.get(inst.name, "")
            read_out = {n for n in inside for c in consumers[n] if c not in inside} | \
                (inside & outputs)
            train = [layer.train_only for layer in inst.all_layers()]
            inst.train_only = all(train)
            inst.closed = (len(reads) == 1 and out in inside and read_out <= {out}
                           and (all(train) or not any(train)))
            inst.source = next(iter(reads)) if len(reads) == 1 else ""
            inst.output = out
        return root

    # -- one class --------------------------------------------------------------------------
    def local(self, inst: Instance, full: str) -> str:
        return full[len(inst.name) + 1:] if inst.name else full

    def tree(self, inst: Instance) -> Node:
        node = Node()
        for item in inst.order:
            if isinstance(item, Instance):
                _insert(node, _segments(self.local(inst, item.name)), ("inst", item))
            elif self.emitted[item.name].module is not None:
                _insert(node, _segments(self.local(inst, item.name)), ("layer", item))
        _finish(node, True)
        return node

    def ctor_expr(self, key: str, leaf: Any, slots: list[Any]) -> Any:
        """A leaf's constructor as a Group, its values replaced by slot markers (``slots``
        collects (value, name, module key)); a block instance's call lists every slot of its
        class, marked with the class's column (reduced to its parameters when written)."""
        kind, obj = leaf
        items: list[Any] = []
        if kind == "inst":
            for j, (value, name, _) in enumerate(obj.args):
                slots.append((value, name, key))
                items.append((f"%%{j}%%", f"@@{len(slots) - 1}@@"))
            return Group(obj.cls, items)
        ctor = self.emitted[obj.name].module
        assert ctor is not None
        for kw, slot, value in ctor.args:
            if isinstance(value, str):          # a string argument (a mode): not a slot
                lit = value
            else:
                slots.append((value, slot, key))
                lit = f"@@{len(slots) - 1}@@"
            if kw and kw in ctor.defaults:
                items.append((kw, lit, ctor.defaults[kw]))
            else:
                items.append((kw, lit) if kw else lit)
        return Group(ctor.head, items)

    def container_expr(self, node: Node, slots: list[Any], owner: str) -> Any:
        items = []
        for key, v in node.items.items():
            sub = self.container_expr(v, slots, owner) if isinstance(v, Node) else \
                self.ctor_expr(owner, v, slots)
            items.append(sub if node.kind == "seq" else Entry(key, sub))
        if node.kind == "seq":
            return Group("nn.Sequential", items)
        return Group("nn.ModuleDict", [Group("", items, "{", "}")])

    def paths(self, inst: Instance, node: Node, prefix: str, attr: str,
              out: dict[str, tuple[str, str]]) -> None:
        """Each layer and instance under ``node``: (its path in named_modules, its access
        expression from ``self`` of the class)."""
        for key, v in node.items.items():
            path = f"{prefix}.{key}" if prefix else key
            access = attr + _access(node.kind, key)
            if isinstance(v, Node):
                self.paths(inst, v, path, access, out)
            else:
                out[v[1].name] = (path, access)

    def compile_instance(self, inst: Instance, prefix: str) -> dict[str, tuple[str, str]]:
        """Compile the classes of ``inst``'s instances (deepest first), then ``inst``'s own;
        returns every layer's and instance's (module path, access from self) under it."""
        node = self.tree(inst)
        where: dict[str, tuple[str, str]] = {}
        self.paths(inst, node, "", "self", where)
        found: dict[str, tuple[str, str]] = {}
        for child in inst.children:
            path, access = where[child.name]
            sub = self.compile_instance(child, prefix + path + ".")
            for name, (p, a) in sub.items():
                found[name] = (p, access + a[len("self"):])
        for name, (p, a) in where.items():
            found[name] = (prefix + p, a)
            if name in self.net.by_name:
                self.module_path[name] = prefix + p
        # the class: __init__ with the values as slots, forward
        slots: list[Any] = []
        init: list[Any] = []
        for key, v in node.items.items():
            expr = self.container_expr(v, slots, key) if isinstance(v, Node) else \
                self.ctor_expr(key, v, slots)
            init.append((f"self.{key} = ", expr))
        forward = self.forward(inst, found) if inst.closed or inst.parent is None else None
        if inst.parent is None:
            self.root_code = (init, slots, forward)
            return found
        signature = (repr(init), repr(forward), tuple(type(v).__name__ for v, _, _ in slots))
        cls = self.classes.get(signature)
        if cls is None:
            cls = self.new_class_name(inst)
            self.classes[signature] = cls
            self.pending[cls] = (init, [], forward, inst)
        self.pending[cls][1].append(slots)
        inst.cls = cls
        inst.args = slots                     # reduced to the class's parameters later
        return found

    def new_class_name(self, inst: Instance) -> str:
        local = self.local(inst.parent, inst.name) if inst.parent else inst.name
        names = {layer.name[len(inst.name) + 1:] for layer in inst.layers}
        best, score = None, 0.0
        for bname, blayers in self.block_names.items():
            if names and blayers:
                s = len(names & blayers) / len(names | blayers)
                if s > score:
                    best, score = bname, s
        base = camel(best) if best and score >= 0.5 else \
            camel(re.sub(r"[\d_.]+$", "", _segments(local)[0])) + "Block"
        name, n = base, 1
        while name in self.names_taken:
            n += 1
            name = f"{base}{n}"
        self.names_taken.add(name)
        return name

    # -- forward ----------------------------------------------------------------------------
    def units(self, inst: Instance, found: dict[str, tuple[str, str]]) -> list[Any]:
        """(reads, produces, template, train_only) of each statement of ``inst``'s forward in
        the spec's order: a layer, a closed block instance's call, or a chain of them."""
        out: list[Any] = []
        for item in inst.order:
            if isinstance(item, Instance):
                if item.closed:
                    out.append(([item.source], item.output, found[item.name][1] + "({0})",
                                item.train_only, [self.layout[item.source]], item))
                else:
                    out += self.units(item, found)
                continue
            e = self.emitted[item.name]
            template = e.expr
            if e.module is not None:
                template = template.replace("{m}", found[item.name][1])
            out.append((list(item.inputs), item.name, template, item.train_only, e.needs, None))
        return self.chains(inst, out, found)

    def chains(self, inst: Instance, units: list[Any], found: dict[str, tuple[str, str]]
               ) -> list[Any]:
        """Consecutive statements running the members of one nn.Sequential, each reading the
        one before (and nothing else reading them), as one call of the Sequential."""
        def seqs(node: Node) -> Iterable[Node]:
            for v in node.items.values():
                if isinstance(v, Node):
                    if v.kind == "seq":
                        yield v
                    yield from seqs(v)

        for v in list(seqs(self.tree(inst))):
            members = list(v.items.values())
            if any(isinstance(m, Node) for m in members):
                continue
            ends: list[tuple[str, str, set[str]]] = []     # (reads, produces, inside)
            for kind, obj in members:
                if kind == "inst":
                    ends.append((obj.source, obj.output, {x.name for x in obj.all_layers()}))
                else:
                    ends.append((obj.inputs[0], obj.name, {obj.name}))
            idx = [next((i for i, u in enumerate(units) if u[1] == out), -1)
                   for _, out, _ in ends]
            if -1 in idx or idx != list(range(idx[0], idx[0] + len(idx))):
                continue
            ok = len({units[i][3] for i in idx}) == 1
            for (kind, obj), i in zip(members, idx):
                if kind == "layer":      # a plain call of the module, on its input as it is
                    e = self.emitted[obj.name]
                    ok = ok and e.expr == "{m}({0})" and len(obj.inputs) == 1 and \
                        e.needs[0] == self.layout[obj.inputs[0]]
                elif units[i][5] is not obj:
                    ok = False
            for (_, out_a, _), (src_b, _, inside_b) in zip(ends, ends[1:]):
                ok = ok and src_b == out_a and out_a not in self.net.outputs and \
                    all(c in inside_b for c in self.net.consumers[out_a])
            if not ok:
                continue
            first = units[idx[0]]
            access = found[members[0][1].name][1].rsplit("[", 1)[0]
            call_unit = ([ends[0][0]], ends[-1][1], access + "({0})", first[3], first[4], None)
            units = units[:idx[0]] + [call_unit] + units[idx[-1] + 1:]
        return units

    def forward(self, inst: Instance, found: dict[str, tuple[str, str]]) -> list[str]:
        root = inst.parent is None
        units = self.units(inst, found)
        units = [u for u in units if not u[3]] + [u for u in units if u[3]] if root else units
        source = "input" if root else inst.source
        if root:
            outs = list(self.net.outputs)
            train_outs = [layer.name for layer in self.net.layers if layer.train_only
                          and not self.net.consumers[layer.name]]
        else:
            outs, train_outs = [inst.output], []
        # a layer that changes nothing in the layout its input has (tokens of tokens, the
        # flatten of a vector) is its input under another name: no statement
        alias: dict[str, str] = {}
        kept = []
        for u in units:
            if u[2] == "{0}" and self.layout[u[0][0]] == u[4][0]:
                alias[u[1]] = alias.get(u[0][0], u[0][0])
                continue
            kept.append(u)
        units = kept
        n_inf = sum(1 for u in units if not u[3])
        # the last statement reading each value (the returns are statements n_inf and last)
        last: dict[str, int] = {}
        for i, u in enumerate(units):          # (a crop's second input gives only its size)
            for k, r in enumerate(u[0]):
                if f"{{{k}}}" in u[2]:
                    last[alias.get(r, r)] = i
        for r in outs:
            r = alias.get(r, r)
            last[r] = max(last.get(r, -1), n_inf if not train_outs else len(units))
        for r in train_outs:
            last[alias.get(r, r)] = len(units)
        var = {source: "x"}
        holders = {"x": source}      # the value each reused name holds
        taken = {"x", "out"}
        lines: list[str] = []
        for i, (reads, produces, template, train, needs, _) in enumerate(units):
            args = [convert(var[alias.get(r, r)], self.layout[r], need, self.vol[r])
                    if f"{{{k}}}" in template else ""
                    for k, (r, need) in enumerate(zip(reads, needs))]
            free = [v for v in ("x", "out") if last.get(holders.get(v, ""), -1) <= i]
            if produces not in last:        # read by nothing: only a size was read from it
                if "self." not in template:
                    continue
                name = "_"
            elif free:
                name = free[0]
                holders[name] = produces
            else:
                name = identifier(_short(self.local(inst, produces)))
                while name in taken:
                    name += "_"
                taken.add(name)
            var[produces] = name
            indent = 12 if train else 8
            if train and (i == 0 or not units[i - 1][3]):
                lines.append("        if self.training:")
            text = template.format(*args)
            if len(f"{' ' * indent}{name} = {text}") > WIDTH and name != "_":
                # too long with a layout conversion in it: the conversion first, on its own
                others = {var[alias.get(r, r)] for r in reads}
                for k, r in enumerate(reads):
                    v = var[alias.get(r, r)]
                    if args[k] and args[k] != v and (name not in others or v == name):
                        lines += _lines(f"{name} = ", structured(args[k]), indent)
                        args[k] = name
                        break
                text = template.format(*args)
            lines += _lines(f"{name} = ", structured(text), indent)

        def ret(names: list[str], indent: int) -> list[str]:
            vals = []
            for r in names:
                lay = self.layout[r]
                v = var[alias.get(r, r)]
                vals.append(convert(v, lay, NC if lay == NC else NCHW, self.vol[r])
                            if root else v)
            flat = " " * indent + "return " + ", ".join(vals)
            if len(flat) <= WIDTH:
                return [flat]
            return _lines("return ", Group("", vals), indent)
        if train_outs:
            if not any(u[3] for u in units):
                lines.append("        if self.training:")
            lines += ret(outs + train_outs, 12)
        lines += ret(outs, 8)
        return lines

    # -- the file ---------------------------------------------------------------------------

    def run(self) -> Compiled:
        self.emit_layers()
        root = self.root_inst = self.instances()
        self.pending: dict[str, Any] = {}
        self.compile_instance(root, "")
        parts = [self.finish_class(cls, *spec) for cls, spec in self.pending.items()]
        name = camel(self.net.name)
        while name in self.names_taken:
            name += "Net"
        init, slots, forward = self.root_code
        train = [layer for layer in self.net.layers if layer.train_only
                 and not self.net.consumers[layer.name]]
        parts.append(self.class_text(name, [], init, [[s[0] for s in slots]], {}, forward,
                                     self.doc_network(), inst_outputs=len(self.net.outputs),
                                     train_outputs=len(train)))
        helpers = [HELPERS[h].strip("\n") for h in HELPERS if h in self.helpers]
        uses_f = self.uses_f or "PatchMerge" in self.helpers
        head = ['"""' + self.module_doc() + '"""', "", "import torch"]
        if uses_f:
            head.append("import torch.nn.functional as F")
        head += ["from torch import nn", ""]
        source = "\n".join(head) + "\n\n" + "\n\n\n".join([*helpers, *parts]) + "\n"
        modules = {layer.name: self.module_path.get(layer.name) for layer in self.net.layers
                   if layer.op != "input"}
        train_outs = [layer.name for layer in self.net.layers if layer.train_only
                      and not self.net.consumers[layer.name]]
        return Compiled(source, name, modules, dict(self.layout), list(self.net.outputs),
                        train_outs)

    def finish_class(self, cls: str, init: list[Any], instances: list[list[Any]],
                     forward: list[str] | None, inst: Instance) -> str:
        """A block class: the slots that differ between its instances become its parameters
        (slots always equal one parameter), the block's input channels ``in_channels``."""
        width = len(instances[0])
        referenced = {int(m) for m in re.findall(r"@@(\d+)@@", repr(init))}
        params: dict[tuple[Any, ...], str] = {}
        names: dict[int, str] = {}
        in_c = tuple(self.vol[i.source][2] if i.source else None
                     for i in self.instances_of(cls))
        groups: dict[tuple[Any, ...], list[int]] = {}
        for j in range(width):
            if j not in referenced:
                continue
            column = tuple(slots[j][0] for slots in instances)
            if len(set(column)) > 1:
                groups.setdefault(column, []).append(j)
        counts: dict[str, int] = {}
        for column, cols in groups.items():
            base = "in_channels" if column == in_c else instances[0][cols[0]][1]
            counts[base] = counts.get(base, 0) + 1
        for column, cols in groups.items():
            _, slot, key = instances[0][cols[0]]
            base = "in_channels" if column == in_c else slot
            pname = base if counts[base] == 1 else f"{identifier(key)}_{slot}"
            while pname in params.values():
                pname += "_"
            params[column] = pname
            for j in cols:
                names[j] = pname
        first_col = {p: min(j for j, n in names.items() if n == p) for p in params.values()}
        order = sorted(params.values(), key=lambda p: (p != "in_channels",
                                                       list(params.values()).index(p)))
        self.class_params[cls] = order
        self.class_columns[cls] = {first_col[p]: p for p in order}
        # each instance's arguments: its values of the parameters
        for i in self.instances_of(cls):
            full = i.args
            i.args = [(full[first_col[p]][0], p, "") for p in order]
        doc = _wrap(f"Block {inst.name} of the spec" + (
            f" and {len(instances) - 1} more like it" if len(instances) > 1 else "") + ".",
            4)
        return self.class_text(cls, order, init, [[s[0] for s in x] for x in instances],
                               names, forward, doc, [s[0] for s in instances[0]])

    def instances_of(self, cls: str) -> list[Instance]:
        out: list[Instance] = []

        def walk(i: Instance) -> None:
            if i.cls == cls:
                out.append(i)
            for c in i.children:
                walk(c)
        walk(self.root_inst)
        return out

    def class_text(self, cls: str, params: list[str], init: list[Any],
                   values: list[list[Any]], names: dict[int, str], forward: list[str] | None,
                   doc: str, first: list[Any] | None = None, inst_outputs: int = 1,
                   train_outputs: int = 0) -> str:
        first = first if first is not None else values[0]

        def fill(text: str) -> str:
            def slot(m: re.Match[str]) -> str:
                j = int(m.group(1))
                return names.get(j) or _lit(first[j])
            return re.sub(r"@@(\d+)@@", slot, text)

        def resolve(item: Any) -> Any:
            if isinstance(item, Group):
                items = []
                columns = self.class_columns.get(item.head, {})
                for sub in item.items:
                    if isinstance(sub, tuple) and sub[0].startswith("%%"):
                        pname = columns.get(int(sub[0].strip("%")))
                        if pname is not None:
                            items.append((pname, resolve(sub[1])))
                    elif isinstance(sub, tuple) and len(sub) == 3:
                        value = resolve(sub[1])       # left out where it is the default
                        if value != _lit(sub[2]):
                            items.append((sub[0], value))
                    else:
                        items.append(resolve(sub))
                return Group(item.head, items, item.open, item.close)
            if isinstance(item, tuple):
                return (item[0], resolve(item[1]))
            if isinstance(item, Entry):
                return Entry(item.key, resolve(item.value))
            return fill(str(item))

        lines = [f"class {cls}(nn.Module):", f'    """{doc}"""', ""]
        kinds = {p: _annotation(first[min(j for j, n in names.items() if n == p)])
                 for p in params}
        sig = ", ".join(f"{p}: {kinds[p]}" for p in params)
        head = f"    def __init__(self{', ' + sig if sig else ''}) -> None:"
        if len(head) > WIDTH:
            lines.append("    def __init__(")
            lines.append("        self,")
            lines += [f"        {p}: {kinds[p]}," for p in params]
            lines.append("    ) -> None:")
        else:
            lines.append(head)
        lines.append("        super().__init__()")
        for prefix, expr in init:
            lines += _lines(prefix, resolve(expr), 8)
        if forward is not None:
            returns = "torch.Tensor"
            if inst_outputs > 1:
                returns = "tuple[torch.Tensor, ...]"
            if train_outputs:
                returns = "torch.Tensor | tuple[torch.Tensor, ...]" if inst_outputs == 1 \
                    else returns
            lines += ["", f"    def forward(self, x: torch.Tensor) -> {returns}:"]
            lines += forward
        return "\n".join(lines)

    def totals(self) -> tuple[int, int, int]:
        t = self.report.totals
        return (t.params - t.train_only_params, t.buffers - t.train_only_buffers, t.macs)

    def module_doc(self) -> str:
        net, t = self.net, self.report.totals
        h, w, c = net.input
        src = f" from {os.path.basename(net.source)}" if net.source and \
            not net.source.startswith("<") else ""
        outs = ", ".join(f"{o} {'×'.join(map(str, self.vol[o]))}" for o in net.outputs)
        lines = [f"{net.name}: PyTorch source generated by archcalc {__version__}{src}.", "",
                 f"Input: {h}×{w}×{c} (a [N, {c}, {h}, {w}] tensor).",
                 f"Outputs: {outs}.",
                 f"Parameters: {t.params:,} (and {t.buffers:,} buffers).",
                 f"MACs: {t.macs:,} per image (archcalc's default convention).", ""]
        if t.train_only_params or any(layer.train_only for layer in net.layers):
            lines.insert(-1, f"Training-only layers: {t.train_only_params:,} of the parameters"
                         " (their outputs are returned only in training).")
        return "\n".join(_wrap(line) for line in lines)

    def doc_network(self) -> str:
        n = self.net.layer_count
        return f"{self.net.name} ({n} layer{'s' * (n != 1)}), as the spec writes it."


def _wrap(line: str, indent: int = 0) -> str:
    """A docstring line wrapped at the line length (words kept whole)."""
    out, cur = [], ""
    for word in line.split(" "):
        if cur and len(cur) + 1 + len(word) > WIDTH - 8 - indent:
            out.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}" if cur else word
    out.append(cur)
    return ("\n" + " " * indent).join(out)


def _short(local: str) -> str:
    """A variable's name for a layer: the last part of its name (``fc1`` for
    ``layers.squeeze_excitation.fc1``), with the one before a number (``downsample_0``)."""
    parts = [p for p in re.split(r"[./]", local) if p]
    if len(parts) > 1 and parts[-1].isdigit():
        return f"{parts[-2]}_{parts[-1]}"
    return parts[-1] if parts else "y"


def _annotation(value: Any) -> str:
    if isinstance(value, tuple):
        return "tuple[" + ", ".join(_annotation(v) for v in value) + "]"
    return type(value).__name__


def _yaml_blocks(net: Network) -> dict[str, set[str]]:
    """The block definitions of a YAML spec (name → the names of its layers), read again from
    its file, to name the classes after them; empty where there is none."""
    path = net.source
    if net.language != "yaml" or not path:
        return {}
    if not os.path.isfile(path):
        from archcalc.spec.sources import find_shipped
        path = find_shipped(path)
        if path is None:
            return {}
    try:
        import yaml
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
        blocks = doc.get("blocks") or {}
        return {str(k): {str(item.get("name")) for item in (v.get("layers") or [])
                         if isinstance(item, dict) and item.get("name") is not None}
                for k, v in blocks.items() if isinstance(v, dict)}
    except Exception:           # a name is a nicety: a spec we cannot reread has none
        return {}


# ---------------------------------------------------------------------------------------------
# the public functions

def compile_network(net: Network, report: Report | None = None) -> Compiled:
    """``net`` compiled to PyTorch source, with the tables the checks use."""
    return _Compiler(net, report or analyze(net)).run()


def to_source(net: Network, report: Report | None = None) -> str:
    """``net`` as the text of a Python module defining its ``nn.Module`` classes."""
    return compile_network(net, report).source


def load(compiled: Compiled, module_name: str = "archcalc_generated") -> Any:
    """The network class of ``compiled``'s source, executed as a module."""
    import types
    mod = types.ModuleType(module_name)
    exec(compile(compiled.source, f"<{module_name}>", "exec"), mod.__dict__)
    return getattr(mod, compiled.class_name)


_ATTENTION_KEYS = {"in_proj_weight": "qkv.weight", "in_proj_bias": "qkv.bias",
                   "q_proj_weight": "q.weight", "k_proj_weight": "k.weight",
                   "v_proj_weight": "v.weight", "out_proj_weight": "proj.weight",
                   "out_proj_bias": "proj.bias"}


def state_dict(net: Network, weights: str = "random", seed: int = 0,
               compiled: Compiled | None = None) -> dict[str, Any]:
    """The values ``archcalc export -o x.onnx --weights WEIGHTS --seed SEED`` writes, as the
    generated module's ``state_dict`` (torch tensors, shaped as the module's; BatchNorm's
    ``num_batches_tracked`` left out: load with ``strict=False`` or as :func:`build` does)."""
    import numpy as np
    import torch
    from onnx import numpy_helper

    from . import onnx as onnx_export
    if onnx_export.weight_mode(weights) == "none":
        raise error("weights none has no values", kind="usage",
                    hint="use random or zeros, or construct the module on the meta device")
    compiled = compiled or compile_network(net)
    model = onnx_export.to_model(net, weights=weights, seed=seed)
    out: dict[str, Any] = {}
    for t in model.graph.initializer:
        layer_name, _, suffix = t.name.rpartition(".")
        layer = net.by_name[layer_name]
        path = compiled.modules.get(layer_name)
        if path is None:
            raise error(f"{t.name}: layer {layer_name} has no module", kind="internal")
        value = numpy_helper.to_array(t)
        if layer.op == "attention":
            cross = len(layer.inputs) == 2
            if suffix == "in_proj_bias" and cross:
                for part, chunk in zip("qkv", np.split(value, 3)):
                    out[f"{path}.{part}.bias"] = torch.from_numpy(chunk.copy())
                continue
            suffix = _ATTENTION_KEYS.get(suffix, suffix)
        tensor = torch.from_numpy(np.array(value, copy=True))
        if suffix == "relative_position_index":
            tensor = tensor.long()
        out[f"{path}.{suffix}"] = tensor
    return out


def build(net: Network, weights: str = "random", seed: int = 0,
          compiled: Compiled | None = None) -> Any:
    """The generated module, instantiated: with the ONNX exporter's weights (``random`` with
    ``seed``, or ``zeros``), or on the meta device (``none``: structure only)."""
    import torch
    compiled = compiled or compile_network(net)
    cls = load(compiled)
    from . import onnx as onnx_export
    if onnx_export.weight_mode(weights) == "none":
        with torch.device("meta"):
            return cls()
    model = cls()
    state = state_dict(net, weights, seed, compiled)
    own = model.state_dict()
    for key, value in state.items():
        if key not in own:
            raise error(f"the generated module has no tensor {key}", kind="internal")
        state[key] = value.reshape(own[key].shape)
    # training-only layers are not in the ONNX export: they keep PyTorch's initialisation
    train = tuple(f"{compiled.modules[layer.name]}." for layer in net.layers
                  if layer.train_only and compiled.modules.get(layer.name))
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")
               and not k.startswith(train)]
    if missing:
        raise error(f"the ONNX export has no values for {', '.join(missing[:5])}",
                    kind="internal")
    index = [k for k in state if k.endswith("relative_position_index")]
    for k in index:           # computed by the module itself: the same as the exporter's
        if not torch.equal(own[k], state[k]):
            raise error(f"{k}: the module computes another index than the ONNX exporter",
                        kind="internal")
    model.load_state_dict(state, strict=False)
    return model.eval()


def export(net: Network, path: str | os.PathLike, weights: str = "none", seed: int = 0
           ) -> list[str]:
    """Write ``net``'s source to ``path`` (atomically) and, with ``weights`` random or zeros,
    its state_dict beside it as ``<path without .py>.pt``; return the paths written."""
    import io

    from archcalc.files import write_atomic

    from . import onnx as onnx_export
    mode = onnx_export.weight_mode(weights)
    path = os.fspath(path)
    compiled = compile_network(net)
    written = [path]
    data = None
    if mode != "none":              # the weights are made (and checked) before anything is written
        import torch
        buffer = io.BytesIO()
        torch.save(build(net, mode, seed, compiled).state_dict(), buffer)
        data = buffer.getvalue()
    if data is not None:
        written.append(weights_path(path))
        write_atomic(written[1], data)
    write_atomic(path, compiled.source)
    return written


def weights_path(path: str) -> str:
    """The state_dict file written beside ``model.py``: ``model.pt``."""
    root, ext = os.path.splitext(path)
    return (root if ext == ".py" else path) + ".pt"


__all__ = ["to_source", "compile_network", "Compiled", "state_dict", "build", "load",
           "export", "weights_path", "torch_shape", "EMIT", "HELPERS", "WEIGHT_MODES"]
