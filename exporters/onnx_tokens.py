"""ONNX emitters of the token and attention ops (archcalc/ops/tokens.py, archcalc/ops/attention.py).

Registered into :data:`archcalc.exporters.onnx.EMIT`. Layout: a volume H×W×C is ``[batch, C, H,
W]``, so a token sequence 1×N×C is ``[batch, C, 1, N]`` (its tokens along the last axis, in
PyTorch's ``x.flatten(2)`` order). Only standard operators (no contrib ops), each valid from
opset 13 (the exporter's least) to the newest; the batch stays symbolic: every shape constant
writes it as 0 (copied from the input), and nothing merges it with another axis.

Attention, as torchvision computes it (``nn.MultiheadAttention``; Swin's
``shifted_window_attention``; MaxViT's ``RelativePositionalMultiHeadAttention``), on the tokens
as ``[batch, groups, G, C]`` (one group for global and cross-attention; a window or a grid cell
per group otherwise):

    roll by −shift (Slice + Concat per axis) → partition (Reshape, Transpose, Reshape)
    → q, k, v (MatMul by the transposed projection, Add the bias; Reshape, Transpose, Gather)
    → q·head_dim^−½ (Mul) → QKᵀ (MatMul) [+ bias table gathered by the index] [+ shift mask]
    → Softmax(axis −1) → ·V (MatMul) → heads merged (Transpose, Reshape)
    → output projection (MatMul, Add) → reverse partition → roll back by +shift

Weights are named after PyTorch's (``nn.MultiheadAttention``, Swin's window attention), one dot
after the layer's name as the exporter's per-layer check expects: ``in_proj_weight`` [3D, C],
``in_proj_bias`` [3D], (cross-attention: ``q_proj_weight`` [D, C], ``k_proj_weight`` and
``v_proj_weight`` [D, C₂]), ``out_proj_weight`` [C, D], ``out_proj_bias`` [C],
``relative_position_bias_table`` [(2M_h − 1)(2M_w − 1), heads] and the buffer
``relative_position_index`` [M²·M²] (float32, as every exported tensor; cast to int64 for the
Gather). docs/export.md lists every op's nodes.

Some nodes name, in their ``doc_string``, the layer whose output they give, for archcalc's own
import where the graph alone does not tell (the ops' ``ONNX_DOC``): a drop_path's Identity (its
rate), the Reshape of tokens and untokens (which may change nothing), an odd size's Pad of a
patch merging, an attention's last node (and whether it is a grid).

This module imports nothing from ``exporters/onnx.py`` at run time (that module imports this
one): it writes through the :class:`~archcalc.exporters.onnx.Plan` it is given.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from onnx import TensorProto

from archcalc.errors import SourcePos
from archcalc.graph import Builder, Layer
from archcalc.ops import At, Vol
from archcalc.ops.attention import Attention
from archcalc.ops.tokens import DropPath, PatchMerge, Tokens, Untokens

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .onnx import Plan

    Emitter = Callable[[Plan, Layer, list[str], list[Vol], Vol, At], None]

# torchvision's value between tokens of different regions of a shifted window
SHIFT_MASK = -100.0


def _ints(g: Plan, base: str, values: Iterable[int]) -> str:
    return g.const(base, np.array(list(values), np.int64))


def _floats(g: Plan, base: str, value: float | np.ndarray) -> str:
    return g.const(base, np.asarray(value, np.float32))


# ---------------------------------------------------------------------------------------------
# tokens

def _tokens(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """``x.flatten(2)``: [batch, C, H, W] → [batch, C, 1, H·W] (row by row); its doc_string
    names the op for archcalc's import (of a map of one row, the Reshape changes nothing)."""
    h, w, c = vin[0]
    g.node("Reshape", [g.as4d(ins[0]), _ints(g, f"{layer.name}.shape", [0, c, 1, h * w])],
           layer.name, 4, doc=Tokens.ONNX_DOC)


def _untokens(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """[batch, C, 1, N] → [batch, C, H, W]; named in its doc_string as tokens'."""
    h, w, c = out
    g.node("Reshape", [g.as4d(ins[0]), _ints(g, f"{layer.name}.shape", [0, c, h, w])],
           layer.name, 4, doc=Untokens.ONNX_DOC)


def _class_token(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol,
                 at: At) -> None:
    """``torch.cat([cls.expand(B, -1, -1), x], dim=1)`` with ``cls`` = ``<layer>.weight``
    [1, T, C] (PyTorch's shape; zeros, as torchvision's ViT starts it). The tokens are
    broadcast to the batch by a ``Where`` whose condition is always true against the input's
    first token: an exact copy of ``cls`` per image (no arithmetic on the input), and unlike an
    ``Expand`` to a computed shape, ONNX shape inference keeps the symbolic batch through it."""
    n, (_, _, c), t = layer.name, vin[0], layer.attrs["count"]
    x = g.as4d(ins[0])
    cls = g.param(f"{n}.weight", (1, t, c), "zeros")
    cls = g.node("Transpose", [cls], g.fresh(f"{n}.channels_first"), 3, perm=[0, 2, 1])
    cls = g.node("Unsqueeze", [cls, _ints(g, f"{n}.axes", [2])], g.fresh(f"{n}.1c1t"), 4)
    first = g.node("Slice", [x, _ints(g, f"{n}.starts", [0]), _ints(g, f"{n}.ends", [1]),
                             _ints(g, f"{n}.axes", [3])], g.fresh(f"{n}.first_token"), 4)
    always = g.const(f"{n}.true", np.ones((1, 1, 1, 1), np.bool_))
    per_image = g.node("Where", [always, cls, first], g.fresh(f"{n}.per_image"), 4)
    g.node("Concat", [per_image, x], n, 4, axis=3)


def _pos_embed(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """``x + pos_embedding`` with ``<layer>.weight`` [1, H·W, C] (PyTorch's [1, N, C]; on a map,
    its places row by row); zeros in random mode (torchvision draws N(0, 0.02²), which the
    exporter's init kinds do not have)."""
    n, (h, w, c) = layer.name, vin[0]
    p = g.param(f"{n}.weight", (1, h * w, c), "zeros")
    p = g.node("Transpose", [p], g.fresh(f"{n}.channels_first"), 3, perm=[0, 2, 1])
    p = g.node("Reshape", [p, _ints(g, f"{n}.shape", [1, c, h, w])], g.fresh(f"{n}.1chw"), 4)
    g.node("Add", [g.as4d(ins[0]), p], n, 4)


def _take_token(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol,
                at: At) -> None:
    """``x[:, index]``: Gather on the token axis → [batch, C, 1, 1]."""
    n, tokens = layer.name, vin[0][1]
    index = layer.attrs["index"] % tokens
    g.node("Gather", [g.as4d(ins[0]), _ints(g, f"{n}.index", [index])], n, 4, axis=3)


def _linear(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """``nn.Linear`` over the channels of each token: a 1×1 ``Conv`` whose weight is
    ``<layer>.weight`` [units, C] (PyTorch's shape) unsqueezed to [units, C, 1, 1]; on a vector
    [batch, C], ``Gemm`` with ``transB=1`` as ``fc``."""
    a, n, x, c = layer.attrs, layer.name, ins[0], vin[0][2]
    inputs = [g.param(f"{n}.weight", (a["units"], c), "he", c)]
    if a["bias"]:
        inputs.append(g.param(f"{n}.bias", (a["units"],), "zeros"))
    if g.rank[x] == 2:
        g.node("Gemm", [x, *inputs], n, 2, transB=1)
        return
    inputs[0] = g.node("Unsqueeze", [inputs[0], _ints(g, f"{n}.axes", [2, 3])],
                       g.fresh(f"{n}.kernel"), 4)
    g.node("Conv", [x, *inputs], n, 4, kernel_shape=[1, 1])


def _layer_scale(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol,
                 at: At) -> None:
    """``x · γ`` per channel, ``<layer>.weight`` [C] (initial value: the spec's ``init``),
    unsqueezed to [C, 1, 1] against [batch, C, H, W]."""
    n, x, c = layer.name, ins[0], vin[0][2]
    gamma = g.param(f"{n}.weight", (c,), "given",
                    values=np.full(c, layer.attrs["init"], np.float32))
    if g.rank[x] == 4:
        gamma = g.node("Unsqueeze", [gamma, _ints(g, f"{n}.axes", [1, 2])],
                       g.fresh(f"{n}.chw"), 3)
    g.node("Mul", [x, gamma], n, g.rank[x])


def _drop_path(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    """The identity at inference (its rate in the doc_string, for archcalc's import)."""
    g.node("Identity", [ins[0]], layer.name, g.rank[ins[0]],
           doc=f"{DropPath.ONNX_DOC}{layer.attrs['rate']!r}")


def _patch_merge(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol,
                 at: At) -> None:
    """Swin's ``_patch_merging_pad``: an odd H or W padded by one zero row/column at the
    bottom/right (``Pad``), then x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]
    (``Slice`` with steps 2) concatenated on the channels."""
    n, (h, w, _) = layer.name, vin[0]
    x = g.as4d(ins[0])
    if h % 2 or w % 2:
        x = g.node("Pad", [x, _ints(g, f"{n}.pads", [0, 0, 0, 0, 0, 0, h % 2, w % 2])],
                   g.fresh(f"{n}.padded"), 4, doc=PatchMerge.ONNX_DOC, mode="constant")
    ends, axes, steps = (_ints(g, f"{n}.{what}", v) for what, v in
                         (("ends", [h + h % 2, w + w % 2]), ("axes", [2, 3]), ("steps", [2, 2])))
    parts = [g.node("Slice", [x, _ints(g, f"{n}.starts", [r, s]), ends, axes, steps],
                    g.fresh(f"{n}.x{i}"), 4)
             for i, (r, s) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1)))]
    g.node("Concat", parts, n, 4, axis=1)


# ---------------------------------------------------------------------------------------------
# attention

def relative_position_index(mh: int, mw: int) -> np.ndarray:
    """torchvision's ``relative_position_index`` of an mh×mw window (Swin's
    ``define_relative_position_index``, MaxViT's ``_get_relative_position_index``): for the
    pair (i, j) of places, flattened row by row, the row of the bias table of their offset."""
    coords = np.stack(np.meshgrid(np.arange(mh), np.arange(mw), indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0)
    rel[:, :, 0] += mh - 1
    rel[:, :, 1] += mw - 1
    rel[:, :, 0] *= 2 * mw - 1
    out: np.ndarray = rel.sum(-1).reshape(-1)
    return out


def shift_mask(h: int, w: int, window: tuple[int, int], shift: tuple[int, int]) -> np.ndarray:
    """torchvision's shifted-window attention mask as [windows, 1, M², M²]: after the cyclic
    shift, places from different regions of the map (3 × 3 regions cut at −M and −S from the
    bottom/right) get −100 between them, others 0."""
    (mh, mw), (sh, sw) = window, shift
    regions = np.zeros((h, w), np.float32)
    count = 0
    for top, bottom in ((0, -mh), (-mh, -sh), (-sh, None)):
        for left, right in ((0, -mw), (-mw, -sw), (-sw, None)):
            regions[top:bottom, left:right] = count
            count += 1
    groups = (h // mh) * (w // mw)
    regions = regions.reshape(h // mh, mh, w // mw, mw).transpose(0, 2, 1, 3)
    regions = regions.reshape(groups, mh * mw)
    diff = regions[:, None, :] - regions[:, :, None]
    return np.where(diff != 0, SHIFT_MASK, 0.0).astype(np.float32)[:, None]


class _Groups:
    """How a map [batch, C, H, W] is cut into the groups its tokens attend within, and back.

    ``kind`` "global": one group of H·W tokens; "window": (H/M_h)(W/M_w) windows of M_h·M_w
    places, windows and places row by row (Swin's partition); "grid": (H/G_h)(W/G_w) cells of
    G_h·G_w places spaced H/G_h and W/G_w apart (MaxViT's partition, then its axis swap)."""

    def __init__(self, kind: str, h: int, w: int, part: tuple[int, int] | None):
        self.kind, self.h, self.w = kind, h, w
        if kind == "global":
            self.count, self.size = 1, h * w
            return
        assert part is not None
        ph, pw = part
        # H = outer·inner (the index h = i·inner + j); the group is the window's or cell's
        self.outer = (h // ph, w // pw) if kind == "window" else (ph, pw)
        self.inner = (ph, pw) if kind == "window" else (h // ph, w // pw)
        self.count, self.size = (h // ph) * (w // pw), ph * pw

    def split(self, g: Plan, x: str, c: int, base: str) -> str:
        """[batch, C, H, W] → [batch, groups, G, C]."""
        if self.kind == "global":
            x = g.node("Reshape", [x, _ints(g, f"{base}.shape", [0, 1, c, self.size])],
                       g.fresh(f"{base}.tokens"), 4)
            return g.node("Transpose", [x], g.fresh(f"{base}.groups"), 4, perm=[0, 1, 3, 2])
        (oh, ow), (ih, iw) = self.outer, self.inner
        x = g.node("Reshape", [x, _ints(g, f"{base}.shape", [0, c, oh, ih, ow, iw])],
                   g.fresh(f"{base}.tiles"), 6)
        # axes: 0 batch, 1 C, 2 outer h, 3 inner h, 4 outer w, 5 inner w
        perm = [0, 2, 4, 3, 5, 1] if self.kind == "window" else [0, 3, 5, 2, 4, 1]
        x = g.node("Transpose", [x], g.fresh(f"{base}.grouped"), 6, perm=perm)
        return g.node("Reshape", [x, _ints(g, f"{base}.shape", [0, self.count, self.size, c])],
                      g.fresh(f"{base}.groups"), 4)

    def join(self, g: Plan, y: str, c: int, base: str, name: str) -> str:
        """[batch, groups, G, C] → [batch, C, H, W], the value ``name``."""
        if self.kind == "global":
            y = g.node("Transpose", [y], g.fresh(f"{base}.channels_first"), 4, perm=[0, 1, 3, 2])
            return g.node("Reshape", [y, _ints(g, f"{base}.shape", [0, c, self.h, self.w])],
                          name, 4)
        (oh, ow), (ih, iw) = self.outer, self.inner
        if self.kind == "window":    # [batch, outer h, outer w, inner h, inner w, C]
            dims, perm = [0, oh, ow, ih, iw, c], [0, 5, 1, 3, 2, 4]
        else:                        # [batch, inner h, inner w, outer h, outer w, C]
            dims, perm = [0, ih, iw, oh, ow, c], [0, 5, 3, 1, 4, 2]
        y = g.node("Reshape", [y, _ints(g, f"{base}.shape", dims)], g.fresh(f"{base}.tiles"), 6)
        y = g.node("Transpose", [y], g.fresh(f"{base}.ungrouped"), 6, perm=perm)
        return g.node("Reshape", [y, _ints(g, f"{base}.shape", [0, c, self.h, self.w])],
                      name, 4)


def _roll(g: Plan, x: str, shifts: tuple[int, int], sizes: tuple[int, int], base: str,
          name: str | None = None) -> str:
    """``torch.roll(x, shifts, dims=(H, W))`` for shifts in (−size, size): per axis, the two
    slices of the map swapped (Slice, Slice, Concat); the last one is the value ``name``."""
    moved = [(axis, s % size) for axis, s, size in zip((2, 3), shifts, sizes) if s % size]
    assert moved or name is None, "a roll that moves nothing names no value"
    for i, (axis, s) in enumerate(moved):
        size = sizes[axis - 2]
        # roll by s: out[k] = x[(k − s) mod size], so the last s places come first
        tail = g.node("Slice", [x, _ints(g, f"{base}.starts", [size - s]),
                                _ints(g, f"{base}.ends", [size]), _ints(g, f"{base}.axes", [axis])],
                      g.fresh(f"{base}.tail"), 4)
        head = g.node("Slice", [x, _ints(g, f"{base}.starts", [0]),
                                _ints(g, f"{base}.ends", [size - s]),
                                _ints(g, f"{base}.axes", [axis])], g.fresh(f"{base}.head"), 4)
        out = name if name is not None and i == len(moved) - 1 else g.fresh(f"{base}.rolled")
        x = g.node("Concat", [tail, head], out, 4, axis=axis)
    return x


def _project(g: Plan, x: str, weight: str, bias: str | None, base: str) -> str:
    """``F.linear`` on the last axis: x·Wᵀ (+ b), W in PyTorch's [out, in]."""
    wt = g.node("Transpose", [weight], g.fresh(f"{base}.weight_t"), 2, perm=[1, 0])
    y = g.node("MatMul", [x, wt], g.fresh(f"{base}.matmul"), 4)
    return y if bias is None else g.node("Add", [y, bias], g.fresh(f"{base}.biased"), 4)


def _heads(g: Plan, x: str, groups: int, tokens: int, heads: int, hd: int, base: str) -> str:
    """[batch, groups, G, heads·hd] → [batch, groups, heads, G, hd]."""
    x = g.node("Reshape", [x, _ints(g, f"{base}.shape", [0, groups, tokens, heads, hd])],
               g.fresh(f"{base}.split"), 5)
    return g.node("Transpose", [x], g.fresh(f"{base}.heads"), 5, perm=[0, 1, 3, 2, 4])


def _slice_bias(g: Plan, bias: str | None, i: int, d: int, base: str) -> str | None:
    if bias is None:
        return None
    return g.node("Slice", [bias, _ints(g, f"{base}.starts", [i * d]),
                            _ints(g, f"{base}.ends", [(i + 1) * d]), _ints(g, f"{base}.axes", [0])],
                  g.fresh(f"{base}.bias"), 1)


def _relpos_bias(g: Plan, n: str, part: tuple[int, int], heads: int) -> str:
    """The bias [heads, G, G]: ``table[index].view(G, G, heads).permute(2, 0, 1)``."""
    mh, mw = part
    table = g.param(f"{n}.relative_position_bias_table", ((2 * mh - 1) * (2 * mw - 1), heads),
                    "zeros")
    index = g.param(f"{n}.relative_position_index", ((mh * mw) ** 2,), "given",
                    trainable=False, values=relative_position_index(mh, mw))
    index = g.node("Cast", [index], g.fresh(f"{n}.index_int64"), 1, to=TensorProto.INT64)
    bias = g.node("Gather", [table, index], g.fresh(f"{n}.bias_pairs"), 2, axis=0)
    bias = g.node("Transpose", [bias], g.fresh(f"{n}.bias_heads"), 2, perm=[1, 0])
    return g.node("Reshape", [bias, _ints(g, f"{n}.bias_shape", [heads, mh * mw, mh * mw])],
                  g.fresh(f"{n}.relative_position_bias"), 3)


def _attention(g: Plan, layer: Layer, ins: list[str], vin: list[Vol], out: Vol, at: At) -> None:
    op, a, n = layer.opdef, layer.attrs, layer.name
    assert isinstance(op, Attention)
    (h, w, c), heads = vin[0], a["heads"]
    d = op.inner(a, c)
    hd = d // heads
    part = a["window"] or a["grid"]
    groups = _Groups("window" if a["window"] else "grid" if a["grid"] else "global", h, w, part)
    shift = (a["shift"][0], a["shift"][1]) if a["window"] and any(a["shift"]) else (0, 0)
    x = g.as4d(ins[0])
    if any(shift):
        x = _roll(g, x, (-shift[0], -shift[1]), (h, w), f"{n}.shift")
    xs = groups.split(g, x, c, f"{n}.q_in" if len(ins) > 1 else f"{n}.in")
    count, size = groups.count, groups.size
    bias = g.param(f"{n}.in_proj_bias", (3 * d,), "zeros") if a["qkv_bias"] else None
    if len(ins) == 1:
        weight = g.param(f"{n}.in_proj_weight", (3 * d, c), "he", c)
        qkv = _project(g, xs, weight, bias, f"{n}.qkv")
        qkv = g.node("Reshape", [qkv, _ints(g, f"{n}.qkv_shape", [0, count, size, 3, heads, hd])],
                     g.fresh(f"{n}.qkv_split"), 6)
        # [3, batch, groups, heads, G, hd], then q, k, v = qkv[0], qkv[1], qkv[2]
        qkv = g.node("Transpose", [qkv], g.fresh(f"{n}.qkv_heads"), 6, perm=[3, 0, 1, 4, 2, 5])
        q, k, v = (g.node("Gather", [qkv, g.const(f"{n}.{what}_index", np.array(i, np.int64))],
                          g.fresh(f"{n}.{what}"), 5, axis=0) for i, what in enumerate("qkv"))
        keys = size
    else:
        hk, wk, ck = vin[1]
        keys = hk * wk
        ys = _Groups("global", hk, wk, None).split(g, g.as4d(ins[1]), ck, f"{n}.kv_in")
        q, k, v = (_heads(g, _project(g, src, g.param(f"{n}.{what}_proj_weight", (d, width), "he",
                                                      width),
                                      _slice_bias(g, bias, i, d, f"{n}.{what}"), f"{n}.{what}"),
                          count, tokens, heads, hd, f"{n}.{what}")
                   for i, (what, src, width, tokens) in
                   enumerate((("q", xs, c, size), ("k", ys, ck, keys), ("v", ys, ck, keys))))
    q = g.node("Mul", [q, _floats(g, f"{n}.scale", hd ** -0.5)], g.fresh(f"{n}.q_scaled"), 5)
    kt = g.node("Transpose", [k], g.fresh(f"{n}.k_t"), 5, perm=[0, 1, 2, 4, 3])
    scores = g.node("MatMul", [q, kt], g.fresh(f"{n}.scores"), 5)       # [b, groups, heads, G, K]
    if a["relpos"]:
        assert part is not None
        scores = g.node("Add", [scores, _relpos_bias(g, n, part, heads)],
                        g.fresh(f"{n}.scores_biased"), 5)
    if any(shift):
        assert a["window"] is not None
        mask = g.const(f"{n}.shift_mask", shift_mask(h, w, a["window"], shift))
        scores = g.node("Add", [scores, mask], g.fresh(f"{n}.scores_masked"), 5)
    weights = g.node("Softmax", [scores], g.fresh(f"{n}.attention"), 5, axis=-1)
    y = g.node("MatMul", [weights, v], g.fresh(f"{n}.weighted"), 5)     # [b, groups, heads, G, hd]
    y = g.node("Transpose", [y], g.fresh(f"{n}.merge_heads"), 5, perm=[0, 1, 3, 2, 4])
    y = g.node("Reshape", [y, _ints(g, f"{n}.merged_shape", [0, count, size, d])],
               g.fresh(f"{n}.merged"), 4)
    cout = d
    if a["proj"]:
        weight = g.param(f"{n}.out_proj_weight", (c, d), "he", d)
        pbias = g.param(f"{n}.out_proj_bias", (c,), "zeros") if a["proj_bias"] else None
        y, cout = _project(g, y, weight, pbias, f"{n}.out_proj"), c
    if any(shift):
        y = groups.join(g, y, cout, f"{n}.out", g.fresh(f"{n}.unshifted"))
        _roll(g, y, shift, (h, w), f"{n}.unshift", name=n)
    else:
        groups.join(g, y, cout, f"{n}.out", n)
    # the last node, whose output is the layer's, named as such for archcalc's import
    last = g.nodes[-1]
    assert list(last.output) == [n]
    last.doc_string = Attention.ONNX_DOC + (Attention.ONNX_GRID if a["grid"] else "")


TOKEN_EMIT: dict[str, Emitter] = {
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
}


def probe_layers(b: Builder, pos: SourcePos, x: str) -> None:
    """Layers of every token and attention op, after ``x`` (a 4×4×4 map), for the exporter's
    opset probe: every ONNX operator the emitters above write."""
    y = b.add("attention", {"heads": 2, "window": 2, "shift": 1, "relpos": True}, pos,
              inputs=[x]).name
    y = b.add("attention", {"heads": 2, "head_dim": 3, "grid": 2, "relpos": True,
                            "proj": False}, pos, inputs=[y]).name
    b.add("layer_scale", {}, pos, inputs=[y])
    b.add("drop_path", {}, pos)
    b.add("patch_merge", {}, pos)
    t = b.add("tokens", {}, pos).name
    b.add("class_token", {}, pos)
    b.add("pos_embed", {}, pos)
    q = b.add("linear", {"units": 4}, pos).name
    b.add("attention", {"heads": 2, "kv_channels": 24}, pos, inputs=[q, t])
    b.add("take_token", {"index": -1}, pos)
    b.add("linear", {"units": 2}, pos)
    b.add("untokens", {}, pos, inputs=[t])


__all__ = ["TOKEN_EMIT", "probe_layers", "relative_position_index", "shift_mask"]
