"""ONNX import of transformers: torchvision's ViT, Swin, MaxViT and ConvNeXt, and attentions
written here, exported with PyTorch's TorchScript exporter (``dynamo=False``, opsets 14, 17,
20) and its dynamo exporter (opsets 18, 23 with ONNX's Attention op, 25), read back with
``archcalc.load``.

The expected figures are never archcalc's: parameters are ``sum(p.numel())`` of the module (and
its relative-position index buffers); MACs are counted by hand from the architecture (ViT,
Swin, ConvNeXt: the formulas below) or by PyTorch's ``FlopCounterMode`` (FLOPs / 2: conv,
linear and the attention's matmuls, as torchvision counts them). The models run at small sizes
(torchvision's own classes, narrow and shallow) so that each test takes a few seconds; the
full-size models, exported here as well, are marked slow.

Every model's parameters are redrawn before export (``normal_(0, 0.02)``): a freshly built
torchvision model has zero biases, which the dynamo exporter's optimizer drops (a trained model
has none) and the TorchScript exporter shares between layers through Identity nodes.

Optional: these tests skip without torch, onnx or torchvision (whose compiled ops are stood in
for, conftest.import_torchvision); the dynamo exports skip without onnxscript.
"""
from __future__ import annotations

import logging
import math
import warnings

import pytest
from conftest import import_torchvision, run_cli

torch = pytest.importorskip("torch", reason="PyTorch exports are checked only where torch is "
                                            "installed (pip install torch)")
pytest.importorskip("onnx", reason="torch.onnx.export writes its file through the onnx package")

from torch import nn  # noqa: E402

import archcalc  # noqa: E402
from archcalc.errors import ArchcalcError  # noqa: E402


@pytest.fixture(scope="module")
def tv():
    return import_torchvision()[1]


def redraw(model: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    model.eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
    return model


def export(model, size, path, opset=17, dynamo=False):
    """``model`` exported for a size×size×3 image. TorchScript: BatchNorm kept as a node
    (``training=PRESERVE``). Grad stays on: nn.MultiheadAttention's fused fast path (no ONNX
    form) is taken only without it."""
    x = torch.randn(1, 3, size, size)
    if dynamo:
        pytest.importorskip("onnxscript", reason="torch.onnx.export(dynamo=True) needs "
                                                 "onnxscript")
        logging.disable(logging.WARNING)          # the exporter's progress lines
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dynamo:
                torch.onnx.export(model, (x,), str(path), dynamo=True, opset_version=opset,
                                  external_data=False, verbose=False)
            else:
                torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=opset,
                                  training=torch.onnx.TrainingMode.PRESERVE)
    finally:
        logging.disable(logging.NOTSET)
    return str(path)


def flop_macs(model, size) -> int:
    """PyTorch's count (FlopCounterMode: conv, linear, matmul, einsum, as multiply-adds)."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, size, size))
    return counter.get_total_flops() // 2


def params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def index_buffers(model) -> int:
    """The relative-position index buffers (Swin, MaxViT) and BatchNorm's statistics."""
    return sum(b.numel() for name, b in model.named_buffers()
               if not name.endswith("num_batches_tracked"))


def folded_batchnorms(model) -> int:
    """What the dynamo exporter's folding of each BatchNorm into the conv before it takes from
    the parameters: the norm's γ and β, less the bias the conv gains where it had none."""
    out = 0
    for m in model.modules():
        if isinstance(m, nn.Sequential):
            kids = list(m)
            for conv, bn in zip(kids, kids[1:]):
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    out += 2 * bn.num_features - (0 if conv.bias is not None else
                                                  bn.num_features)
    return out


def read(path, **kw):
    net = archcalc.load(path, **kw)
    return net, archcalc.analyze(net)


def attentions(net):
    return [la.attrs for la in net.layers if la.op == "attention"]


# ---------------------------------------------------------------------------------------------
# ViT (torchvision's VisionTransformer)

def vit_macs(image, patch, layers, hidden, mlp, classes) -> int:
    """By hand: the patch conv; per block the q, k, v projections (T·C·3C), QKᵀ and the
    weighted sum (T·T·C each), the output projection (T·C·C) and the MLP (2·T·C·mlp); the
    head on the class token. T = patches + 1."""
    n = (image // patch) ** 2
    t = n + 1
    block = t * hidden * 3 * hidden + 2 * t * t * hidden + t * hidden * hidden + \
        2 * t * hidden * mlp
    return n * hidden * 3 * patch * patch + layers * block + hidden * classes


def small_vit(tv):
    from torchvision.models.vision_transformer import VisionTransformer
    return redraw(VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                    hidden_dim=32, mlp_dim=64, num_classes=10))


VIT_OPS = ["conv", "tokens", "class_token", "pos_embed",
           *["layernorm", "attention", "add", "layernorm", "linear", "gelu", "linear", "add"] * 2,
           "layernorm", "take_token", "fc"]


def test_hand_formula_is_torchvision_vit_b_16():
    """The formula's own check: torchvision documents 17.56 GFLOPS for ViT-B/16, which the
    shipped spec (specs/vit_b_16.yaml) gives exactly as 17,563,828,224."""
    assert vit_macs(224, 16, 12, 768, 3072, 1000) == 17_563_828_224


@pytest.mark.parametrize("opset", [17, 14, 20])
def test_vit_torchscript(tv, tmp_path, opset):
    """Opset 17 and 20: LayerNormalization; 14: LayerNorm written out (ReduceMean … Add β).
    nn.MultiheadAttention as the TorchScript exporter writes it (in-projection MatMul + Add,
    Reshape/Unsqueeze/Transpose/Squeeze/Gather into q, k, v, scaling by √ of the head size
    computed from shapes, MatMul, Softmax, MatMul, Gemm out-projection) is one attention."""
    model = small_vit(tv)
    net, r = read(export(model, 32, tmp_path / "vit.onnx", opset))
    assert [la.op for la in net.layers][1:] == VIT_OPS
    assert r.totals.params == params(model) == 24_234
    assert r.totals.macs == vit_macs(32, 8, 2, 32, 64, 10)
    assert attentions(net)[0]["heads"] == 2 and attentions(net)[0]["window"] is None
    assert [la.attrs["count"] for la in net.layers if la.op == "class_token"] == [1]


@pytest.mark.parametrize("opset", [23, pytest.param(18, marks=pytest.mark.slow),
                                   pytest.param(25, marks=pytest.mark.slow)])
def test_vit_dynamo(tv, tmp_path, opset):
    """The dynamo exporter: MatMul/Softmax at opset 18; from 23 ONNX's Attention op between the
    projections (25: the newest opset onnxruntime runs that this exporter writes correctly)."""
    model = small_vit(tv)
    path = export(model, 32, tmp_path / "vit.onnx", opset, dynamo=True)
    if opset >= 23:
        import onnx
        assert "Attention" in {n.op_type for n in onnx.load(path).graph.node}
    net, r = read(path)
    assert [la.op for la in net.layers][1:] == VIT_OPS
    assert r.totals.params == params(model)
    assert r.totals.macs == vit_macs(32, 8, 2, 32, 64, 10)


# ---------------------------------------------------------------------------------------------
# Swin (torchvision's SwinTransformer: shifted windows, relative-position bias, patch merging)

def swin_macs(size, patch, dim, depths, window, classes, mlp=4) -> int:
    """By hand: the patch conv; per block on an H×W map of C channels the q, k, v projections
    (N·C·3C), QKᵀ and the weighted sum within M×M windows (N·M²·C each, M the window, or the
    map where it is smaller), the output projection (N·C·C), the MLP (2·N·C·4C); each patch
    merging's reduction (N/4 · 4C · 2C); the head."""
    h = size // patch
    total = h * h * dim * 3 * patch * patch
    c = dim
    for i, depth in enumerate(depths):
        n, m = h * h, min(window, h)
        total += depth * (n * c * 3 * c + 2 * n * m * m * c + n * c * c + 2 * n * c * mlp * c)
        if i < len(depths) - 1:
            h //= 2
            total += h * h * 4 * c * 2 * c
            c *= 2
    return total + c * classes


def small_swin(tv):
    from torchvision.models.swin_transformer import SwinTransformer
    return redraw(SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2],
                                  num_heads=[2, 4], window_size=[4, 4], num_classes=10))


@pytest.mark.parametrize("opset,dynamo", [(17, False), (14, False),
                                          pytest.param(18, True, marks=pytest.mark.slow),
                                          pytest.param(23, True, marks=pytest.mark.slow)])
def test_swin(tv, tmp_path, opset, dynamo):
    """Windows of 4×4 on maps of 16×16 and 8×8; every second block shifted by 2 (its roll a
    Slice + Concat pair per axis, its mask computed from shapes); the relative-position bias
    (a gathered, folded table: (2·4 − 1)² offsets per head) and the index buffer (4⁴ = 256
    per block); Swin's patch merging between the stages."""
    model = small_swin(tv)
    net, r = read(export(model, 64, tmp_path / "swin.onnx", opset, dynamo))
    assert r.totals.params == params(model) == 35_942
    assert r.totals.buffers == index_buffers(model) == 4 * 256
    assert r.totals.macs == swin_macs(64, 4, 16, [2, 2], 4, 10) == flop_macs(model, 64)
    found = [(a["heads"], a["window"], a["shift"], a["relpos"]) for a in attentions(net)]
    assert found == [(2, (4, 4), (0, 0), True), (2, (4, 4), (2, 2), True),
                     (4, (4, 4), (0, 0), True), (4, (4, 4), (2, 2), True)]
    assert [la.op for la in net.layers].count("patch_merge") == 1


# ---------------------------------------------------------------------------------------------
# MaxViT (torchvision's MaxVit: MBConv, window and grid attention on partitioned maps)

def small_maxvit(tv):
    from torchvision.models.maxvit import MaxVit
    return redraw(MaxVit(input_size=(64, 64), stem_channels=8, partition_size=4,
                         block_channels=[16, 32], block_layers=[1, 1], head_dim=8,
                         stochastic_depth_prob=0.0, num_classes=10))


@pytest.mark.parametrize("opset,dynamo", [(17, False), (14, False),
                                          pytest.param(18, True, marks=pytest.mark.slow)])
def test_maxvit(tv, tmp_path, opset, dynamo):
    """Each MaxViT layer: a window attention (4×4 blocks) and a grid attention (4×4 places
    spaced H/4 apart), on maps partitioned by Reshape → Transpose → Reshape (and a swap of
    axes for the grid) outside the attention, with Einsum for QKᵀ and AV. The dynamo exporter
    folds each BatchNorm after a conv into the conv."""
    model = small_maxvit(tv)
    net, r = read(export(model, 64, tmp_path / "maxvit.onnx", opset, dynamo))
    folded = folded_batchnorms(model) if dynamo else 0
    assert r.totals.params == params(model) - folded
    assert r.totals.macs == flop_macs(model, 64)
    found = [(a["heads"], a["window"], a["grid"], a["relpos"]) for a in attentions(net)]
    assert found == [(2, (4, 4), None, True), (2, None, (4, 4), True),
                     (4, (4, 4), None, True), (4, None, (4, 4), True)]
    if not dynamo:
        assert r.totals.buffers == index_buffers(model)


# ---------------------------------------------------------------------------------------------
# ConvNeXt (torchvision's: permutes, LayerNorm channels last, Linear on [N, H, W, C], γ)

def small_convnext(tv):
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    return redraw(ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)],
                           num_classes=10))


def convnext_macs(size, stages, classes) -> int:
    """By hand: the 4×4/4 stem; per block a 7×7 depthwise conv and the MLP C → 4C → C on every
    place; the 2×2/2 downsampling convs; the head."""
    h = size // 4
    c = stages[0][0]
    total = h * h * c * 3 * 16
    for i, (c, depth) in enumerate(stages):
        total += depth * (h * h * c * 49 + 2 * h * h * c * 4 * c)
        if i < len(stages) - 1:
            h //= 2
            total += h * h * stages[i + 1][0] * c * 4
    return total + stages[-1][0] * classes


@pytest.mark.parametrize("opset,dynamo", [(17, False), (14, False), (18, True)])
def test_convnext(tv, tmp_path, opset, dynamo):
    """Its layer scale (a learned [C, 1, 1] factor) is a layer_scale layer, its Linear on
    channels-last maps a linear layer, its LayerNorm a layernorm; stochastic depth is the
    identity in the graph."""
    model = small_convnext(tv)
    net, r = read(export(model, 32, tmp_path / "convnext.onnx", opset, dynamo))
    assert r.totals.params == params(model) == 16_346
    assert r.totals.macs == convnext_macs(32, [(16, 1), (32, 1)], 10) == flop_macs(model, 32)
    ops = [la.op for la in net.layers]
    assert ops.count("layer_scale") == 2 and ops.count("linear") == 4
    assert ops.count("layernorm") == 5       # the stem, 2 blocks, the downsampling, the head


# ---------------------------------------------------------------------------------------------
# attentions written here: what archcalc reads and what it refuses

class Attention(nn.Module):
    """Multi-head self-attention on [N, T, C] written out: separate q, k, v projections of D
    channels (``bias``), an output projection (``proj``), ``temperature``: a learned factor per
    head on the scores; ``project``: False takes q = k = v = the input itself."""

    def __init__(self, c=16, heads=2, d=None, bias=True, proj=True, temperature=False,
                 project=True):
        super().__init__()
        d = d or c
        self.heads, self.d, self.project = heads, d, project
        self.q, self.k, self.v = (nn.Linear(c, d, bias=bias) for _ in range(3))
        self.proj = nn.Linear(d, c) if proj else None
        self.t = nn.Parameter(torch.ones(heads, 1, 1)) if temperature else None

    def forward(self, x):
        b, n, c = x.shape
        if self.project:
            q, k, v = (f(x).reshape(b, n, self.heads, self.d // self.heads).transpose(1, 2)
                       for f in (self.q, self.k, self.v))
        else:
            q = k = v = x.reshape(b, n, self.heads, c // self.heads).transpose(1, 2)
        a = q @ k.transpose(-2, -1) * (q.shape[-1] ** -0.5)
        if self.t is not None:
            a = a * self.t
        y = (a.softmax(-1) @ v).transpose(1, 2).reshape(b, n, -1)
        return self.proj(y) if self.proj is not None else y


class Tokens(nn.Module):
    """A 4×4/4 patch embedding, the attention on the 16 tokens of a 16×16 image, the mean
    token, a head."""

    def __init__(self, **kw):
        super().__init__()
        self.embed = nn.Conv2d(3, 16, 4, 4)
        self.attn = Attention(**kw)
        self.head = nn.Linear(kw.get("d", 16) if kw.get("proj", True) is False else 16, 10)

    def forward(self, x):
        return self.head(self.attn(self.embed(x).flatten(2).transpose(1, 2)).mean(1))


@pytest.mark.parametrize("dynamo", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_attention_written_out(tmp_path, dynamo):
    """Separate q, k, v projections of D = 24 channels without biases and no output
    projection: attention with head_dim 12, qkv_bias false, proj false. By hand (16 tokens,
    C = 16): conv 16·16·3·16 = 12,288; projections 16·16·3·24 = 18,432; QKᵀ and AV 2·16·16·24 =
    12,288; head 24·10 = 240."""
    model = redraw(Tokens(d=24, bias=False, proj=False))
    net, r = read(export(model, 16, tmp_path / "attn.onnx", 18 if dynamo else 17, dynamo))
    (a,) = attentions(net)
    assert (a["heads"], a["head_dim"], a["qkv_bias"], a["proj"]) == (2, 12, False, False)
    assert r.totals.params == params(model) == 16 * 3 * 16 + 16 + 3 * 16 * 24 + 24 * 10 + 10
    assert r.totals.macs == 12_288 + 18_432 + 12_288 + 240
    assert [la.op for la in net.layers][1:] == ["conv", "attention", "global_avgpool", "fc"]


class MultiheadTokens(nn.Module):
    """PyTorch's own nn.MultiheadAttention (4 heads), batch first or not, after a learned
    class token put before the 16 patch tokens (Expand + Concat); the class token taken by a
    Slice, ``y[:, :1]``, and flattened into the head."""

    def __init__(self, batch_first):
        super().__init__()
        self.embed = nn.Conv2d(3, 16, 4, 4)
        self.cls = nn.Parameter(torch.zeros(1, 1, 16))
        self.attn = nn.MultiheadAttention(16, 4, batch_first=batch_first)
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], 1)
        if self.attn.batch_first:
            y, _ = self.attn(t, t, t)
        else:
            u = t.transpose(0, 1)
            y = self.attn(u, u, u)[0].transpose(0, 1)
        return self.head(y[:, :1].flatten(1))


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention_module(tmp_path, batch_first):
    """By hand (17 tokens, C = 16): conv 16·16·3·16 = 12,288; projections 17·16·48 = 13,056; QKᵀ
    and AV 2·17·17·16 = 9,248; out-projection 17·16·16 = 4,352; head 16·10 = 160."""
    model = redraw(MultiheadTokens(batch_first))
    net, r = read(export(model, 16, tmp_path / "mha.onnx"))
    assert [la.op for la in net.layers][1:] == ["conv", "tokens", "class_token", "attention",
                                                "take_token", "fc"]
    assert r.totals.params == params(model)
    assert r.totals.macs == 12_288 + 13_056 + 9_248 + 4_352 + 160
    assert attentions(net)[0]["heads"] == 4


class CrossTokens(nn.Module):
    """PyTorch's nn.MultiheadAttention as cross-attention (2 heads, ``kdim``/``vdim``): the
    queries are the 16 tokens of 4×4 patches (16 channels), the keys and values the 4 tokens of
    8×8 patches (8 channels), each layer-normed; the mean of the tokens into a head."""

    def __init__(self, batch_first):
        super().__init__()
        self.q_embed = nn.Conv2d(3, 16, 4, 4)
        self.kv_embed = nn.Conv2d(3, 8, 8, 8)
        self.q_norm, self.kv_norm = nn.LayerNorm(16), nn.LayerNorm(8)
        self.attn = nn.MultiheadAttention(16, 2, kdim=8, vdim=8, batch_first=batch_first)
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        q = self.q_norm(self.q_embed(x).flatten(2).transpose(1, 2))
        kv = self.kv_norm(self.kv_embed(x).flatten(2).transpose(1, 2))
        if self.attn.batch_first:
            y = self.attn(q, kv, kv, need_weights=False)[0]
        else:
            q, kv = q.transpose(0, 1), kv.transpose(0, 1)
            y = self.attn(q, kv, kv, need_weights=False)[0].transpose(0, 1)
        return self.head(y.mean(1))


@pytest.mark.parametrize("batch_first, opset, dynamo", [
    (True, 17, False), (False, 17, False), (True, 18, True),
    pytest.param(False, 18, True, marks=pytest.mark.slow),
    pytest.param(True, 23, True, marks=pytest.mark.slow)])
def test_cross_attention_module(tmp_path, batch_first, opset, dynamo):
    """By hand (16 queries of C = 16, 4 keys of C₂ = 8, D = 16): the convs 16·16·3·16 = 12,288
    and 4·8·3·64 = 6,144; projections 16·16·16 = 4,096 (q) and 4·8·2·16 = 1,024 (k, v); QKᵀ and
    AV 2·16·4·16 = 2,048; out-projection 16·16·16 = 4,096; head 16·10 = 160. The biases of
    q, k and v are cut from one in_proj_bias (Slices; the dynamo exporter's Split)."""
    model = redraw(CrossTokens(batch_first))
    net, r = read(export(model, 16, tmp_path / "cross.onnx", opset, dynamo))
    assert sorted(la.op for la in net.layers[1:]) == sorted(
        ["conv", "tokens", "layernorm", "conv", "tokens", "layernorm", "attention",
         "global_avgpool", "fc"])
    assert r.totals.params == params(model)
    assert r.totals.macs == 12_288 + 6_144 + 4_096 + 1_024 + 2_048 + 4_096 + 160
    (a,) = [la for la in net.layers if la.op == "attention"]
    assert a.attrs["heads"] == 2 and a.attrs["kv_channels"] == 8 and len(a.inputs) == 2


def test_an_attention_with_a_parameter_it_has_not_is_one_error(tmp_path):
    """A learned temperature per head: archcalc's attention has no such parameter, so the
    region is one error at its last node, naming the tensor; nothing after it is reported.
    With --unknown passthrough it is one opaque layer (not counted), the layers after it
    read."""
    path = export(redraw(Tokens(temperature=True)), 16, tmp_path / "t.onnx")
    with pytest.raises(ArchcalcError) as exc:
        archcalc.load(path)
    (d,) = exc.value.diagnostics
    assert d.message.startswith("node '/attn/proj/Add' (Add): archcalc cannot read it: an "
                                "attention that applies a learned tensor 'attn.t' of shape "
                                "[2, 1, 1]")
    assert d.message.endswith("; the 2 nodes that depend on it are skipped")
    net, _ = read(path, unknown="passthrough")
    assert [la.op for la in net.layers][1:] == ["conv", "opaque", "global_avgpool", "fc"]
    p = run_cli("summary", path)
    assert p.returncode == 1 and p.stderr.count("error") == 1, p.stderr


def test_an_attention_without_projections_is_one_error(tmp_path):
    """q = k = v = the tokens themselves: the Softmax between two MatMuls is found, but no
    projection: one error at the weighted sum, the views into heads before it not reported."""
    path = export(redraw(Tokens(project=False)), 16, tmp_path / "p.onnx")
    with pytest.raises(ArchcalcError) as exc:
        archcalc.load(path)
    (d,) = exc.value.diagnostics
    assert "(MatMul): archcalc cannot read it: an attention (MatMul → Softmax → MatMul) " \
           "archcalc cannot read as one layer: its queries, keys or values come from no " \
           "projection" in d.message
    assert "--unknown passthrough" not in (d.hint or "")


# ---------------------------------------------------------------------------------------------
# the full-size models, against torchvision's figures

FULL = {
    # name: (torchvision's parameters, MACs as documented by torchvision, in GFLOPS)
    "vit_b_16": (86_567_656, 17.56),
    "convnext_tiny": (28_589_128, 4.46),
    "swin_t": (28_288_354, 4.49),
    "maxvit_t": (30_919_624, 5.56),
}


@pytest.mark.slow                  # 10–60 s each: torchvision's models at 224, exported
@pytest.mark.parametrize("name,dynamo,opset", [
    ("vit_b_16", False, 17), ("vit_b_16", True, 18), ("vit_b_16", True, 23),
    ("convnext_tiny", False, 17), ("swin_t", False, 17), ("swin_t", True, 18),
    ("maxvit_t", False, 17)])
def test_torchvision_full_size(tv, tmp_path, name, dynamo, opset):
    model = redraw(getattr(tv.models, name)())
    n, gflops = FULL[name]
    _, r = read(export(model, 224, tmp_path / f"{name}.onnx", opset, dynamo))
    assert r.totals.params == params(model) == n
    assert round(r.totals.macs / 1e9, 2) == gflops
    if name == "vit_b_16":
        assert r.totals.macs == vit_macs(224, 16, 12, 768, 3072, 1000)
        spec = archcalc.analyze(archcalc.load("vit_b_16"))
        assert [(x.op, x.params, x.macs) for x in r.layers] == \
            [(x.op, x.params, x.macs) for x in spec.layers]
    elif name == "swin_t":
        assert r.totals.macs == swin_macs(224, 4, 96, [2, 2, 6, 2], 7, 1000) == \
            flop_macs(model, 224)
        assert r.totals.buffers == index_buffers(model) == 12 * 7 ** 4
    elif name == "convnext_tiny":
        assert r.totals.macs == convnext_macs(224, [(96, 3), (192, 3), (384, 9), (768, 3)],
                                              1000) == flop_macs(model, 224)
    else:
        assert r.totals.macs == flop_macs(model, 224)
        assert math.isclose(r.totals.buffers, index_buffers(model))
