"""The ONNX export of the token and attention ops (exporters/onnx_tokens.py), run by onnxruntime
and compared with PyTorch: with torchvision's own modules where it has the variant
(``nn.MultiheadAttention`` for ViT and cross-attention, Swin's ``ShiftedWindowAttention``,
MaxViT's partition and ``RelativePositionalMultiHeadAttention``, ``_patch_merging_pad``, small
``VisionTransformer`` and ``SwinTransformer`` models end to end), and with a reference written
here op by op in PyTorch (channels last, as torchvision writes it) for the rest. Every model is
loaded with the weights read back from the ONNX initializers by name, and run on a batch of 3.

Tolerance: the largest absolute difference over an output at most ``RTOL`` = 1e-4 of the
largest absolute value of PyTorch's output (float32 on both sides); docs/export.md gives the
differences measured."""
from __future__ import annotations

import json
import sys
from math import prod, sqrt

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from onnx import numpy_helper  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import archcalc  # noqa: E402
from archcalc.exporters import onnx as ox  # noqa: E402
from archcalc.exporters.onnx_tokens import relative_position_index, shift_mask  # noqa: E402

RTOL = 1e-4
BATCH = 3
_STAND_INS: list = []          # keeps torchvision's stand-in op library alive


def torchvision():
    """torchvision, imported even where its compiled ops do not load against this torch (the
    CPU build here: ``operator torchvision::nms does not exist``): its detection ops are then
    declared without kernels (none of them runs in these tests) and the import tried again."""
    try:
        import torchvision as tv
        return tv
    except ImportError:
        pytest.skip("torchvision is not installed")
    except RuntimeError:
        pass
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    lib = torch.library.Library("torchvision", "DEF")
    for op in ("nms", "qnms"):
        lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _STAND_INS.append(lib)
    import torchvision as tv
    return tv


# ---------------------------------------------------------------------------------------------
# export, run, compare

def export(net, seed=0, opset=None):
    """The model with random weights of moderate size on every trainable tensor (biases, class
    tokens, tables included: none left at the exporter's zeros), and those weights as torch
    tensors read back from its initializers by name."""
    rng = np.random.default_rng(seed)
    values = {}
    for p in ox.plan(net, opset=opset).params:
        if p.trainable:
            scale = 1 / sqrt(prod(p.shape[1:])) if len(p.shape) > 1 else 0.5
            values[p.name] = (rng.standard_normal(p.shape) * scale).astype(np.float32)
    model = ox.to_model(net, "random", values=values, opset=opset)
    ox.verify(model, net)
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
               for t in model.graph.initializer}
    return model, weights


def run(model, x, names):
    """onnxruntime's values of the layers ``names`` for the input ``x`` (NCHW)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    m.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names if n not in have)
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip(names, sess.run(names, {"input": x})))


MEASURED: dict[str, tuple[float, float]] = {}


def close(name, got, want):
    """``got`` (onnxruntime) against ``want`` (torch): shapes equal, the largest difference at
    most RTOL of the largest value. The differences are kept in MEASURED."""
    want = want.detach().numpy() if hasattr(want, "detach") else np.asarray(want)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    diff = float(np.abs(got - want).max())
    scale = float(np.abs(want).max())
    MEASURED[name] = (diff, diff / scale)
    assert diff <= RTOL * scale, f"{name}: max |Δ| {diff:.3g}, {diff / scale:.3g} of max |x|"


def seq(t):
    """A token sequence [B, N, C] as the export holds it: [B, C, 1, N]."""
    return t.transpose(1, 2).unsqueeze(2)


def nchw(t):
    return t.permute(0, 3, 1, 2)


def nhwc(t):
    return t.permute(0, 2, 3, 1)


def inputs(net, seed=1):
    h, w, c = net.input
    return np.random.default_rng(seed).standard_normal((BATCH, c, h, w)).astype(np.float32)


def spec(text):
    return archcalc.parse("name: t\n" + text.strip() + "\n")


# ---------------------------------------------------------------------------------------------
# tokens

TOKENS = """
input: [4, 6, 8]
layers:
  - {op: tokens, name: t}
  - {op: class_token, name: cls, count: 2}
  - {op: pos_embed, name: pos, tokens: 26}
  - {op: linear, name: lin, units: 12}
  - {op: layer_scale, name: ls, init: 0.5}
  - {op: drop_path, name: dp, rate: 0.3}
  - {op: take_token, name: take, index: -3}
  - {op: linear, name: head, units: 5}
  - {op: untokens, name: map, inputs: t, size: [4, 6]}
  - {op: pos_embed, name: map_pos}
  - {op: linear, name: map_lin, units: 3, bias: false}
  - {op: layer_scale, name: map_ls}
  - {op: patch_merge, name: merge, inputs: map_pos}
  - {op: fc, name: vec, inputs: take, units: 7}
  - {op: linear, name: vec_lin, units: 4}
  - {op: layer_scale, name: vec_ls}
  - {op: drop_path, name: vec_dp}
  - {op: tokens, name: vec_tokens, inputs: vec}
"""


def test_token_ops_match_pytorch():
    net = spec(TOKENS)
    model, W = export(net)
    x = inputs(net)
    names = [layer.name for layer in net.layers[1:]]
    got = run(model, x, names)
    xt = torch.from_numpy(x)
    t = xt.flatten(2).transpose(1, 2)                                   # [B, 24, 8]
    cls = torch.cat([W["cls.weight"].expand(BATCH, -1, -1), t], dim=1)
    pos = cls + W["pos.weight"]
    lin = F.linear(pos, W["lin.weight"], W["lin.bias"])
    ls = lin * W["ls.weight"]
    take = ls[:, -3]                                                    # [B, 12]
    head = F.linear(take, W["head.weight"], W["head.bias"])
    grid = t.transpose(1, 2).reshape(BATCH, 8, 4, 6)
    map_pos = grid + W["map_pos.weight"].transpose(1, 2).reshape(1, 8, 4, 6)
    map_lin = nchw(F.linear(nhwc(map_pos), W["map_lin.weight"]))
    map_ls = map_lin * W["map_ls.weight"].view(1, -1, 1, 1)
    m = nhwc(map_pos)
    merge = torch.cat([m[:, 0::2, 0::2], m[:, 1::2, 0::2], m[:, 0::2, 1::2], m[:, 1::2, 1::2]],
                      dim=-1)
    vec = F.linear(take, W["vec.weight"], W["vec.bias"])
    vec_lin = F.linear(vec, W["vec_lin.weight"], W["vec_lin.bias"])
    vec_ls = vec_lin * W["vec_ls.weight"]
    want = {"t": seq(t), "cls": seq(cls), "pos": seq(pos), "lin": seq(lin), "ls": seq(ls),
            "dp": seq(ls), "take": take[:, :, None, None], "head": head[:, :, None, None],
            "map": grid, "map_pos": map_pos, "map_lin": map_lin, "map_ls": map_ls,
            "merge": nchw(merge), "vec": vec, "vec_lin": vec_lin, "vec_ls": vec_ls,
            "vec_dp": vec_ls, "vec_tokens": vec[:, :, None, None]}
    assert set(want) == set(names)
    for name in names:
        close(f"tokens:{name}", got[name], want[name])


def test_layer_scale_starts_at_its_init_and_class_tokens_at_zero():
    net = spec(TOKENS)
    inits = {t.name: numpy_helper.to_array(t) for t in ox.to_model(net).graph.initializer}
    assert np.all(inits["ls.weight"] == np.float32(0.5))
    assert np.all(inits["map_ls.weight"] == np.float32(1e-6))          # the op's default
    assert not inits["cls.weight"].any() and not inits["pos.weight"].any()
    zeros = {t.name: numpy_helper.to_array(t) for t in ox.to_model(net, "zeros").graph.initializer}
    assert not zeros["ls.weight"].any()                 # zeros: every trainable tensor is 0


@pytest.mark.parametrize("size", [(5, 7), (6, 5), (4, 4)])
def test_patch_merge_pads_odd_sizes_as_torchvision(size):
    torchvision()
    from torchvision.models.swin_transformer import _patch_merging_pad
    h, w = size
    net = spec(f"input: [{h}, {w}, 3]\nlayers:\n  - {{op: patch_merge, name: merge}}")
    model, _ = export(net)
    x = inputs(net)
    got = run(model, x, ["merge"])["merge"]
    close(f"patch_merge {h}×{w}", got, nchw(_patch_merging_pad(nhwc(torch.from_numpy(x)))))


# ---------------------------------------------------------------------------------------------
# attention: a reference written op by op, channels last as torchvision writes it

def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def index_by_hand(mh, mw):
    """The bias table row of each pair of places (i, j) of an mh×mw window: their offset
    (Δrow, Δcol), each shifted to start at 0, as a row-major index into the (2mh−1)×(2mw−1)
    table."""
    rows, cols = np.divmod(np.arange(mh * mw), mw)
    dr = rows[:, None] - rows[None, :] + mh - 1
    dc = cols[:, None] - cols[None, :] + mw - 1
    return torch.from_numpy((dr * (2 * mw - 1) + dc).reshape(-1))


def mask_by_hand(h, w, window, shift):
    """[windows, G, G]: −100 between places of a shifted window that came from different
    regions. A place's region, per axis, after the roll by −s: the last s places (wrapped around
    from the top/left), the M − s before them, or the rest; an axis not shifted is one region."""
    def region(n, m, s):
        idx = np.arange(n)
        return np.zeros(n, int) if s == 0 else np.where(idx < n - m, 0,
                                                         np.where(idx < n - s, 1, 2))
    (mh, mw), (sh, sw) = window, shift
    label = region(h, mh, sh)[:, None] * 3 + region(w, mw, sw)[None, :]
    label = label.reshape(h // mh, mh, w // mw, mw).transpose(0, 2, 1, 3).reshape(-1, mh * mw)
    return torch.from_numpy(np.where(label[:, :, None] != label[:, None, :], -100.0, 0.0)
                            .astype(np.float32))


def reference(x, W, n, a, kv=None):
    """Attention as archcalc defines it (docs/definitions.md), on x [B, C, H, W] (and the keys'
    and values' input kv, NCHW): torch ops, channels last."""
    b, c, h, w = x.shape
    heads = a["heads"]
    hd = a.get("head_dim") or c // heads
    d = heads * hd
    window, grid = a.get("window"), a.get("grid")
    shift = _pair(a.get("shift", 0)) if window else (0, 0)
    t = nhwc(x)
    if any(shift):
        t = torch.roll(t, shifts=(-shift[0], -shift[1]), dims=(1, 2))
    if window:
        mh, mw = _pair(window)
        groups = t.reshape(b, h // mh, mh, w // mw, mw, c).permute(0, 1, 3, 2, 4, 5)
        part = (mh, mw)
    elif grid:
        gh, gw = _pair(grid)
        groups = t.reshape(b, gh, h // gh, gw, w // gw, c).permute(0, 2, 4, 1, 3, 5)
        part = (gh, gw)
    else:
        groups, part = t, None
    groups = groups.reshape(b, -1, prod(part) if part else h * w, c)     # [B, groups, G, C]
    bias = W.get(f"{n}.in_proj_bias")
    if kv is None:
        q, k, v = F.linear(groups, W[f"{n}.in_proj_weight"], bias).split(d, dim=-1)
    else:
        kvt = kv.flatten(2).transpose(1, 2).unsqueeze(1)                 # [B, 1, N₂, C₂]
        bq, bk, bv = bias.split(d) if bias is not None else (None, None, None)
        q = F.linear(groups, W[f"{n}.q_proj_weight"], bq)
        k = F.linear(kvt, W[f"{n}.k_proj_weight"], bk)
        v = F.linear(kvt, W[f"{n}.v_proj_weight"], bv)

    def split(z):
        return z.reshape(*z.shape[:3], heads, hd).transpose(2, 3)     # [B, groups, heads, G, hd]

    q, k, v = split(q), split(k), split(v)
    scores = (q / sqrt(hd)) @ k.transpose(-2, -1)
    if a.get("relpos"):
        table = W[f"{n}.relative_position_bias_table"]
        g = prod(part)
        scores = scores + table[index_by_hand(*part)].reshape(g, g, heads).permute(2, 0, 1)
    if any(shift):
        scores = scores + mask_by_hand(h, w, _pair(window), shift)[:, None]
    y = (scores.softmax(-1) @ v).transpose(2, 3).reshape(*groups.shape[:3], d)
    if a.get("proj", True):
        y = F.linear(y, W[f"{n}.out_proj_weight"], W.get(f"{n}.out_proj_bias"))
    co = y.shape[-1]
    if window:
        y = y.reshape(b, h // mh, w // mw, mh, mw, co).permute(0, 1, 3, 2, 4, 5)
    elif grid:
        y = y.reshape(b, h // gh, w // gw, gh, gw, co).permute(0, 3, 1, 4, 2, 5)
    y = y.reshape(b, h, w, co)
    if any(shift):
        y = torch.roll(y, shifts=shift, dims=(1, 2))
    return nchw(y)


# ---------------------------------------------------------------------------------------------
# attention: torchvision's modules, loaded with the exported weights

def mha(W, n, c, heads, kdim=None, bias=True):
    """``nn.MultiheadAttention`` (torchvision's ViT encoder block; cross-attention with
    kdim/vdim), as a function of (queries [B, C, H, W], keys and values NCHW)."""
    m = torch.nn.MultiheadAttention(c, heads, bias=bias, kdim=kdim, vdim=kdim, batch_first=True)
    state = {"out_proj.weight": W[f"{n}.out_proj_weight"]}
    if kdim is None:
        state["in_proj_weight"] = W[f"{n}.in_proj_weight"]
    else:
        for what in "qkv":
            state[f"{what}_proj_weight"] = W[f"{n}.{what}_proj_weight"]
    if bias:
        state |= {"in_proj_bias": W[f"{n}.in_proj_bias"], "out_proj.bias": W[f"{n}.out_proj_bias"]}
    m.load_state_dict(state, strict=True)

    def f(x, kv):
        b, c_, h, w = x.shape
        q = x.flatten(2).transpose(1, 2)
        k = q if kv is None else kv.flatten(2).transpose(1, 2)
        y, _ = m(q, k, k, need_weights=False)
        return y.transpose(1, 2).reshape(b, c_, h, w)
    return f


def swin(W, n, c, heads, window, shift, relpos=True):
    """torchvision's ``ShiftedWindowAttention`` (channels last)."""
    from torchvision.models.swin_transformer import ShiftedWindowAttention
    m = ShiftedWindowAttention(c, list(_pair(window)), list(_pair(shift)), heads)
    assert torch.equal(m.relative_position_index, index_by_hand(*_pair(window)))
    table = W[f"{n}.relative_position_bias_table"] if relpos else \
        torch.zeros_like(m.relative_position_bias_table)
    m.load_state_dict({"qkv.weight": W[f"{n}.in_proj_weight"], "qkv.bias": W[f"{n}.in_proj_bias"],
                       "proj.weight": W[f"{n}.out_proj_weight"],
                       "proj.bias": W[f"{n}.out_proj_bias"],
                       "relative_position_bias_table": table,
                       "relative_position_index": m.relative_position_index}, strict=True)
    return lambda x, kv: nchw(m.eval()(nhwc(x)))


def maxvit_grid(W, n, c, heads, grid):
    """torchvision's MaxViT grid attention: ``WindowPartition`` into (H/G)² windows, the axes
    swapped (``SwapAxes(-2, -3)``: the groups are the G×G places H/G apart),
    ``RelativePositionalMultiHeadAttention``, swapped back, ``WindowDepartition``. Its scale is
    set to head_dim^−½: torchvision's module scales by feat_dim^−½ (docs/export.md)."""
    from torchvision.models import maxvit
    hd = c // heads
    m = maxvit.RelativePositionalMultiHeadAttention(c, hd, grid * grid)
    assert torch.equal(m.relative_position_index.reshape(-1), index_by_hand(grid, grid))
    m.load_state_dict({"to_qkv.weight": W[f"{n}.in_proj_weight"],
                       "to_qkv.bias": W[f"{n}.in_proj_bias"],
                       "merge.weight": W[f"{n}.out_proj_weight"],
                       "merge.bias": W[f"{n}.out_proj_bias"],
                       "relative_position_bias_table": W[f"{n}.relative_position_bias_table"],
                       "relative_position_index": m.relative_position_index}, strict=True)
    m.scale_factor = hd ** -0.5

    def f(x, kv):
        p = x.shape[2] // grid
        t = maxvit.SwapAxes(-2, -3)(maxvit.WindowPartition()(x, p))
        y = maxvit.SwapAxes(-2, -3)(m(t))
        return maxvit.WindowDepartition()(y, p, grid, grid)
    return f


# (id, input H×W×C, the attention's attributes, its second input, torchvision's module)
CASES = [
    ("vit: global on a sequence with a class token", (4, 4, 16), {"heads": 4}, "cls",
     lambda W, a: mha(W, "att", 16, 4)),
    ("global on a map", (3, 5, 8), {"heads": 2}, None, lambda W, a: mha(W, "att", 8, 2)),
    ("window 4, relpos", (8, 8, 16), {"heads": 2, "window": 4, "relpos": True}, None,
     lambda W, a: swin(W, "att", 16, 2, 4, 0)),
    ("window 4, shift 2, relpos", (8, 8, 16),
     {"heads": 2, "window": 4, "shift": 2, "relpos": True}, None,
     lambda W, a: swin(W, "att", 16, 2, 4, 2)),
    ("window 4×2, shift 2×1, relpos", (8, 8, 12),
     {"heads": 3, "window": [4, 2], "shift": [2, 1], "relpos": True}, None,
     lambda W, a: swin(W, "att", 12, 3, (4, 2), (2, 1))),
    ("window 4, shift 3 rows only, relpos", (8, 12, 8),
     {"heads": 2, "window": 4, "shift": [3, 0], "relpos": True}, None,
     lambda W, a: swin(W, "att", 8, 2, 4, (3, 0))),
    ("window 4, shift 1, no relpos", (8, 8, 8), {"heads": 2, "window": 4, "shift": 1}, None,
     lambda W, a: swin(W, "att", 8, 2, 4, 1, relpos=False)),
    ("window as large as the map, shift 2", (4, 4, 8),
     {"heads": 2, "window": 4, "shift": 2, "relpos": True}, None, None),
    ("window 1×4 on a sequence, shift 0×2", (1, 16, 8),
     {"heads": 2, "window": [1, 4], "shift": [0, 2], "relpos": True}, None, None),
    ("grid 2, relpos (maxvit)", (8, 8, 16), {"heads": 2, "grid": 2, "relpos": True}, None,
     lambda W, a: maxvit_grid(W, "att", 16, 2, 2)),
    ("grid 4, relpos (maxvit)", (8, 8, 16), {"heads": 4, "grid": 4, "relpos": True}, None,
     lambda W, a: maxvit_grid(W, "att", 16, 4, 4)),
    ("grid 2×3, no relpos", (8, 12, 8), {"heads": 2, "grid": [2, 3]}, None, None),
    ("cross, kv_channels 6", (4, 4, 8), {"heads": 2, "kv_channels": 6}, 6,
     lambda W, a: mha(W, "att", 8, 2, kdim=6)),
    ("cross, same width, no biases", (4, 4, 8),
     {"heads": 4, "qkv_bias": False, "proj_bias": False}, 8, None),
    ("head_dim 5 of 3 heads, no proj", (4, 4, 8), {"heads": 3, "head_dim": 5, "proj": False},
     None, None),
    ("head_dim 6, no biases, window 2 shift 1", (4, 4, 8),
     {"heads": 2, "head_dim": 6, "qkv_bias": False, "proj_bias": False, "window": 2,
      "shift": 1, "relpos": True}, None, None),
]


def attention_net(vol, attrs, before):
    """A network: ``before`` (None; "cls": tokens and a class token; a number: a conv of that
    many filters, 2×2 stride 2, giving the keys' and values' input), then the attention ``att``."""
    h, w, c = vol
    att = {"op": "attention", "name": "att", **attrs}
    if before == "cls":
        layers = [{"op": "tokens", "name": "t"}, {"op": "class_token", "name": "cls"}, att]
    elif before:
        layers = [{"op": "conv", "name": "kv", "filters": before, "kernel": 2, "stride": 2,
                   "padding": 0}, {**att, "inputs": ["input", "kv"]}]
    else:
        layers = [att]
    return spec(f"input: [{h}, {w}, {c}]\nlayers:\n"
                + "".join(f"  - {json.dumps(x)}\n" for x in layers))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_attention_matches_pytorch(case):
    name, vol, attrs, before, module = case
    net = attention_net(vol, attrs, before)
    model, W = export(net)
    got = run(model, inputs(net), [layer.name for layer in net.layers[1:]])
    # the attention's inputs as onnxruntime computed them
    x = torch.from_numpy(got["cls"] if before == "cls" else inputs(net))
    y = torch.from_numpy(got["kv"]) if isinstance(before, int) else None
    with torch.no_grad():
        want = reference(x, W, "att", attrs, y)
        close(f"{name} (reference)", got["att"], want)
        if module is not None:
            torchvision()
            close(f"{name} (torchvision)", got["att"], module(W, attrs)(x, y))


def test_a_window_as_large_as_the_map_keeps_its_shift():
    # torchvision's Swin drops the shift of a window as large as the map; the export writes the
    # spec as it is, shift and mask included (docs/export.md): the two differ
    torchvision()
    attrs = {"heads": 2, "window": 4, "shift": 2, "relpos": True}
    net = attention_net((4, 4, 8), attrs, None)
    model, W = export(net)
    x = inputs(net)
    got = run(model, x, ["att"])["att"]
    with torch.no_grad():
        dropped = swin(W, "att", 8, 2, 4, 2)(torch.from_numpy(x), None).numpy()
        same = reference(torch.from_numpy(x), W, "att", {**attrs, "shift": 0}).numpy()
    assert np.allclose(dropped, same, atol=1e-5)
    assert np.abs(got - dropped).max() > 1e-2


def test_the_index_buffer_and_the_mask_are_torchvisions():
    for mh, mw in ((7, 7), (4, 2), (1, 5)):
        assert torch.equal(torch.from_numpy(relative_position_index(mh, mw)),
                           index_by_hand(mh, mw))
    for h, w, window, shift in ((8, 8, (4, 4), (2, 2)), (8, 12, (4, 4), (3, 0)),
                                (14, 14, (7, 7), (3, 3)), (4, 4, (4, 4), (2, 2))):
        got = torch.from_numpy(shift_mask(h, w, window, shift))[:, 0]
        assert torch.equal(got, mask_by_hand(h, w, window, shift))
    # the buffer is an initializer (the analyzer counts it), cast to int64 for Gather
    net = attention_net((8, 8, 16), {"heads": 2, "window": 4, "relpos": True}, None)
    model = ox.to_model(net, "zeros")
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert inits["att.relative_position_index"].dtype == np.float32
    assert np.array_equal(inits["att.relative_position_index"], relative_position_index(4, 4))
    assert any(n.op_type == "Cast" for n in model.graph.node)


@pytest.mark.parametrize("opset", [13, ox.DEFAULT_OPSET, "newest"])
def test_every_opset_computes_the_same(opset):
    opset = ox.newest_opset() if opset == "newest" else opset
    attrs = {"heads": 2, "window": 4, "shift": 2, "relpos": True}
    net = attention_net((8, 8, 8), attrs, None)
    model, W = export(net, opset=opset)
    assert model.opset_import[0].version == opset
    x = inputs(net)
    with torch.no_grad():
        close(f"opset {opset}", run(model, x, ["att"])["att"],
              reference(torch.from_numpy(x), W, "att", attrs))


# ---------------------------------------------------------------------------------------------
# small torchvision models end to end, their state_dict read from the exported weights

def _load(model, W, rename):
    """Load torchvision ``model`` from the exported weights: each ONNX tensor's name mapped to
    the state_dict's by ``rename``; every tensor of the state_dict must be given (the index
    buffers are compared instead)."""
    state = model.state_dict()
    given = {}
    for name, value in W.items():
        key = rename(name)
        assert key in state, (name, key)
        if key.endswith("relative_position_index"):
            assert torch.equal(value.long(), state[key]), key
            value = state[key]
        assert value.shape == state[key].shape, (key, value.shape, state[key].shape)
        given[key] = value
    assert set(given) == set(state), set(state) - set(given)
    model.load_state_dict(given, strict=True)
    return model.eval()


def test_a_small_vit_matches_torchvisions():
    tv = torchvision()
    net = archcalc.load("vit_b_16", input=(32, 32, 3),
                        set={"dim": 16, "heads": 2, "mlp": 32, "depth": 2, "patch": 8})
    model, W = export(net)
    vit = tv.models.vision_transformer.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32)

    def rename(name):
        name = name.replace("/", ".").replace("class_token.weight", "class_token")
        name = name.replace("pos_embedding.weight", "pos_embedding")
        return name.replace("out_proj_weight", "out_proj.weight").replace("out_proj_bias",
                                                                          "out_proj.bias")
    vit = _load(vit, W, rename)
    x = inputs(net)
    got = run(model, x, ["heads.head"])["heads.head"]
    with torch.no_grad():
        close("vit (torchvision VisionTransformer, 2 layers)", got, vit(torch.from_numpy(x)))


SWIN = """
name: swin_micro
input: [64, 64, 3]
blocks:
  swin_block:
    params: {dim: null, heads: null, mlp: null, shift: 0}
    layers:
      - {op: layernorm, name: norm1}
      - {op: attention, name: attn, heads: $heads, window: 4, shift: $shift, relpos: true}
      - {op: drop_path, name: dp1, rate: 0.1}
      - {op: add, name: add1, inputs: [dp1, input]}
      - {op: layernorm, name: norm2}
      - {op: linear, name: mlp.0, units: $mlp}
      - {op: gelu, name: mlp.1}
      - {op: linear, name: mlp.3, units: $dim}
      - {op: drop_path, name: dp2, rate: 0.1}
      - {op: add, name: add2, inputs: [dp2, add1]}
layers:
  - {op: conv, name: features.0.0, filters: 16, kernel: 4, stride: 4, padding: 0}
  - {op: layernorm, name: features.0.2}
  - {block: swin_block, name: features.1.0, dim: 16, heads: 2, mlp: 64}
  - {block: swin_block, name: features.1.1, dim: 16, heads: 2, mlp: 64, shift: 2}
  - {op: patch_merge, name: features.2.merge}
  - {op: layernorm, name: features.2.norm}
  - {op: linear, name: features.2.reduction, units: 32, bias: false}
  - {block: swin_block, name: features.3.0, dim: 32, heads: 4, mlp: 128}
  - {block: swin_block, name: features.3.1, dim: 32, heads: 4, mlp: 128, shift: 2}
  - {op: layernorm, name: norm}
  - {op: global_avgpool, name: avgpool}
  - {op: fc, name: head, units: 10}
"""


def test_a_small_swin_matches_torchvisions():
    tv = torchvision()
    net = archcalc.parse(SWIN)
    model, W = export(net)
    sw = tv.models.swin_transformer.SwinTransformer(
        patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=[4, 4],
        num_classes=10)

    def rename(name):
        name = name.replace("/", ".")
        for ours, theirs in (("in_proj_weight", "qkv.weight"), ("in_proj_bias", "qkv.bias"),
                             ("out_proj_weight", "proj.weight"), ("out_proj_bias", "proj.bias")):
            name = name.replace(ours, theirs)
        return name
    sw = _load(sw, W, rename)
    x = inputs(net)
    got = run(model, x, ["head", "features.3.1/add2"])
    with torch.no_grad():
        xt = torch.from_numpy(x)
        close("swin (torchvision SwinTransformer, 2 stages)", got["head"], sw(xt))
        close("swin features", got["features.3.1/add2"], nchw(sw.features(xt)))


def test_export_command_writes_a_runnable_transformer(tmp_path):
    from conftest import run_cli
    path = tmp_path / "swin.onnx"
    r = run_cli("export", SWIN, "-o", str(path))
    assert r.returncode == 0, r.stderr
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 2):
        (out,) = sess.run(None, {"input": np.ones((batch, 3, 64, 64), np.float32)})
        assert out.shape == (batch, 10) and np.isfinite(out).all()
