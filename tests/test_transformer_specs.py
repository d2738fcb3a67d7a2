"""The transformer-era shipped specs (ViT-L/16, DeiT-S, Swin-T, ConvNeXt-T, MaxViT-T,
MobileViT-S) against their published figures, each derived here by hand from the architecture as
the paper and torchvision or timm build it; and, where torch is installed, against torchvision's
or timm's own model: parameters, buffers, the output shape of every layer named as a module of
the model, and FlopCounterMode's FLOPs = 2 × archcalc's MACs (docs/definitions.md: conv,
linear, QKᵀ and AV).

FlopCounterMode counts scaled_dot_product_attention's two matrix products on CUDA but has no
formula for the CPU kernel (``_scaled_dot_product_flash_attention_for_cpu``), and it cannot see
inside nn.MultiheadAttention's fused fast path (torchvision's ViT) at all. The tests give that CPU
kernel torch's own formula for the other kernels (``sdpa_flop_count``: QKᵀ and AV) and turn the
fast path off, so the counter sees every product. The models are built on the meta device: the
figures depend only on shapes (a slow test runs them on real CPU tensors and gets the same)."""
from __future__ import annotations

import re

import pytest
from conftest import SPECS, import_torchvision, run_cli

import archcalc


def analyze(spec: str) -> archcalc.Report:
    return archcalc.analyze(archcalc.load(SPECS / f"{spec}.yaml"))


@pytest.fixture(scope="module")
def reports():
    cache: dict[str, archcalc.Report] = {}

    def get(spec: str) -> archcalc.Report:
        if spec not in cache:
            cache[spec] = analyze(spec)
        return cache[spec]
    return get


# ---------------------------------------------------------------------------------------------
# the figures by hand


def vit(c: int, depth: int, mlp: int, tokens: int = 197, patch: int = 16,
        classes: int = 1000) -> tuple[int, int]:
    """(parameters, MACs) of a ViT as torchvision and timm build it: a patch conv with bias, a
    class token, a position embedding per token, ``depth`` pre-norm blocks (LayerNorm 2C; q, k,
    v 3C² + 3C; output projection C² + C; LayerNorm 2C; MLP C·mlp + mlp + mlp·C + C), a final
    LayerNorm and a head. MACs: the patch conv on N − 1 patches, per block N·C·3C (q, k, v) +
    N·N·C (QKᵀ) + N·N·C (AV) + N·C·C (projection) + 2·N·C·mlp (MLP), and the head."""
    n = tokens
    block = 2 * c + (3 * c * c + 3 * c) + (c * c + c) + 2 * c + (c * mlp + mlp) + (mlp * c + c)
    params = (3 * patch * patch * c + c) + c + n * c + depth * block + 2 * c + \
        (c * classes + classes)
    macs = (n - 1) * 3 * patch * patch * c + depth * (
        n * c * 3 * c + 2 * n * n * c + n * c * c + 2 * n * c * mlp) + c * classes
    return params, macs


def swin_t(c: int = 96, depths=(2, 2, 6, 2), heads=(3, 6, 12, 24), m: int = 7,
           side: int = 56, classes: int = 1000) -> tuple[int, int, int]:
    """(parameters, buffers, MACs) of torchvision's Swin-T: a 4×4/4 conv (48·C + C) and
    LayerNorm; per block two LayerNorms, window attention (3C² + 3C, C² + C and a bias table
    (2M − 1)²·heads; its index M²·M² a buffer) and an MLP 4C; patch merging (LayerNorm 4C,
    Linear 4C → 2C, no bias) between stages; LayerNorm, head. MACs: per block over N = side²
    tokens each attending to G = M² (stage 4's one 7×7 window is also 49): N·C·3C + 2·N·G·C +
    N·C·C + 2·N·C·4C; a merge (side/2)²·4C·2C; the stem 56²·48·C; the head."""
    params, buffers, macs = 48 * c + c + 2 * c, 0, side * side * 48 * c
    for stage, (d, h) in enumerate(zip(depths, heads)):
        if stage:
            params += 2 * 4 * c + 4 * c * 2 * c
            side //= 2
            macs += side * side * 4 * c * 2 * c
            c *= 2
        n, g = side * side, min(m, side) ** 2
        attn = (3 * c * c + 3 * c) + (c * c + c) + (2 * m - 1) ** 2 * h
        mlp = (c * 4 * c + 4 * c) + (4 * c * c + c)
        params += d * (2 * c + attn + 2 * c + mlp)
        buffers += d * m ** 4
        macs += d * (n * c * 3 * c + 2 * n * g * c + n * c * c + 2 * n * c * 4 * c)
    return params + 2 * c + c * classes + classes, buffers, macs + c * classes


def convnext_tiny(dims=(96, 192, 384, 768), depths=(3, 3, 9, 3), side: int = 56,
                  classes: int = 1000) -> tuple[int, int]:
    """(parameters, MACs) of torchvision's ConvNeXt-T: a 4×4/4 conv with bias and LayerNorm;
    per CNBlock a 7×7 depthwise conv with bias (49C + C), LayerNorm 2C, Linear C → 4C and
    4C → C with biases, γ (C); between stages LayerNorm and a 2×2/2 conv with bias; LayerNorm
    and head. MACs: per block side²·(49C + 8C²); a downsampling (side/2)²·4·C·2C."""
    c = dims[0]
    params, macs = 48 * c + c + 2 * c, side * side * 48 * c
    for stage, (c, d) in enumerate(zip(dims, depths)):
        if stage:
            prev = dims[stage - 1]
            params += 2 * prev + 4 * prev * c + c
            side //= 2
            macs += side * side * 4 * prev * c
        params += d * ((49 * c + c) + 2 * c + (4 * c * c + 4 * c) + (4 * c * c + c) + c)
        macs += d * side * side * (49 * c + 8 * c * c)
    return params + 2 * c + c * classes + classes, macs + c * classes


def maxvit_t(stem: int = 64, dims=(64, 128, 256, 512), depths=(2, 2, 5, 2), head_dim: int = 32,
             p: int = 7, side: int = 112, classes: int = 1000) -> tuple[int, int, int]:
    """(parameters, buffers, MACs) of torchvision's MaxViT-T. Stem: 3×3/2 conv without bias,
    BatchNorm (2C parameters, 2C running statistics), 3×3 conv with bias. An MBConv (out C,
    mid 4C, squeeze C/4): BatchNorm of its input, 1×1 expand without bias + BN, 3×3 depthwise
    without bias + BN, SE (two 1×1 convs with biases), 1×1 project with bias; on a stage's first
    layer (stride 2) a 3×3/2 average pool and a 1×1 conv with bias as the shortcut. Then block
    and grid attention, each LayerNorm, q, k, v and output projections with biases (4C² + 4C),
    a bias table 13²·heads (heads = C/32; its index 49² a buffer), LayerNorm and MLP 4C. Head:
    LayerNorm, Linear C → C with bias, Linear C → 1000 without. MACs: convs and linears as
    always; the attention products 2·N·49·C over N = side² tokens."""
    params = 27 * stem + 2 * stem + 9 * stem * stem + stem
    buffers = 2 * stem
    macs = side * side * 27 * stem + side * side * 9 * stem * stem
    cin = stem
    for c, d in zip(dims, depths):
        for k in range(d):
            mid, sq = 4 * c, c // 4
            side_in = side
            if k == 0:
                side //= 2
            n = side * side
            params += 2 * cin + cin * mid + 2 * mid + 9 * mid + 2 * mid + \
                (mid * sq + sq) + (sq * mid + mid) + (mid * c + c)
            buffers += 2 * cin + 2 * mid + 2 * mid
            macs += side_in * side_in * cin * mid + n * 9 * mid + 2 * mid * sq + n * mid * c
            if k == 0:
                params += cin * c + c
                macs += n * cin * c
            heads = c // head_dim
            params += 2 * (2 * c + (4 * c * c + 4 * c) + (2 * p - 1) ** 2 * heads +
                           2 * c + (8 * c * c + 5 * c))
            buffers += 2 * p ** 4
            macs += 2 * (n * c * 3 * c + 2 * n * p * p * c + n * c * c + 2 * n * c * 4 * c)
            cin = c
    params += 2 * c + (c * c + c) + c * classes
    return params, buffers, macs + c * c + c * classes


def mobilevit_s(side: int = 128, classes: int = 1000) -> tuple[int, int, int]:
    """(parameters, buffers, MACs) of MobileViT-S (timm's mobilevit_s, 256×256): a 3×3/2 conv
    to 16 and BN (every conv here has no bias and a BN, 2C parameters and 2C running statistics,
    but the 1×1 to the transformer width d); MobileNetV2 blocks (1×1 to 4·in, 3×3 depthwise,
    1×1 to out); MobileViT blocks (3×3 C → C, 1×1 C → d, L transformer layers of LayerNorm,
    attention with 4 heads (4d² + 4d), LayerNorm, MLP 2d (4d² + 3d); LayerNorm, 1×1 d → C, a
    3×3 fusion 2C → C); a 1×1 conv to 640 with BN; the head 640 → 1000. The attention of N
    tokens over the four places of a 2×2 patch: each token attends to N/4."""
    p = b = 0
    m = 0

    def conv(cin, cout, k, out_side, bn=True, groups=1):
        nonlocal p, b, m
        p += k * k * cin // groups * cout + (2 * cout if bn else 0)
        b += 2 * cout if bn else 0
        m += out_side * out_side * k * k * cin // groups * cout

    conv(3, 16, 3, side)
    cin = 16
    plan = [("mv2", 32, 1), ("mv2", 64, 2), ("mv2", 64, 1), ("mv2", 64, 1), ("mv2", 96, 2),
            ("vit", 144, 2), ("mv2", 128, 2), ("vit", 192, 4), ("mv2", 160, 2), ("vit", 240, 3)]
    for kind, width, arg in plan:
        if kind == "mv2":
            mid, stride = 4 * cin, arg
            conv(cin, mid, 1, side)
            side //= stride
            conv(mid, mid, 3, side, groups=mid)
            conv(mid, width, 1, side)
            cin = width
        else:
            d, layers, n = width, arg, side * side
            conv(cin, cin, 3, side)
            conv(cin, d, 1, side, bn=False)
            p += layers * (2 * d + (4 * d * d + 4 * d) + 2 * d + (4 * d * d + 3 * d)) + 2 * d
            m += layers * (n * d * 3 * d + 2 * n * (n // 4) * d + n * d * d + 2 * n * d * 2 * d)
            conv(d, cin, 1, side)
            conv(2 * cin, cin, 3, side)
    conv(cin, 640, 1, side)
    return p + 640 * classes + classes, b, m + 640 * classes


# ---------------------------------------------------------------------------------------------
# archcalc against the hand counts and the published figures


def test_vit_l_16_as_torchvision_documents_it(reports):
    r = reports("vit_l_16")
    params, macs = vit(1024, 24, 4096)
    assert r.totals.params == params == 304_326_632          # torchvision's ViT_L_16_Weights
    assert r.totals.macs == macs == 61_554_712_576            # its 61.55 "GFLOPS"
    assert round(r.totals.macs / 1e9, 2) == 61.55
    assert r.totals.buffers == 0
    assert r["encoder.pos_embedding"].output == (1, 197, 1024)
    assert r["encoder.layers.encoder_layer_23/self_attention"].scratch == 16 * 197 * 197


def test_deit_s_as_the_paper_counts_it(reports):
    r = reports("deit_s")
    params, macs = vit(384, 12, 1536)
    # DeiT-S: 22M parameters and the 4.6 "GFLOPs" quoted for it (multiply-adds); timm's
    # deit_small_patch16_224 has 22,050,664 parameters and 4.6 GMACs
    assert r.totals.params == params == 22_050_664
    assert r.totals.macs == macs == 4_598_882_304
    assert round(r.totals.macs / 1e9, 1) == 4.6
    assert r["blocks.0/attn"].params == 3 * 384 * 384 + 3 * 384 + 384 * 384 + 384
    assert r["head"].output == (1, 1, 1000)


def test_swin_t_as_torchvision_documents_it(reports):
    r = reports("swin_t")
    params, buffers, macs = swin_t()
    assert r.totals.params == params == 28_288_354            # torchvision's Swin_T_Weights
    assert r.totals.buffers == buffers == 12 * 49 * 49         # the relative-position indices
    assert r.totals.macs == macs == 4_490_566_656              # its 4.49 "GFLOPS" (_ops 4.491)
    # shifted windows on every second block, but not in stage 4 (one 7×7 window on a 7×7 map,
    # which torchvision does not shift)
    shifts = {row.name: row.attrs["shift"] for row in r.layers if row.op == "attention"}
    assert [s[0] for s in shifts.values()] == [0, 3] * 5 + [0, 0]
    assert r["features.7.1/attn"].output == (7, 7, 768)
    assert r["features.2/reduction"].output == (28, 28, 192)
    assert r["features.5.5/stochastic_depth"].attrs["rate"] == pytest.approx(0.2 * 9 / 11)


def test_convnext_tiny_as_torchvision_documents_it(reports):
    r = reports("convnext_tiny")
    params, macs = convnext_tiny()
    assert r.totals.params == params == 28_589_128            # ConvNeXt_Tiny_Weights
    assert r.totals.macs == macs == 4_455_531_264              # its 4.46 "GFLOPS" (_ops 4.456)
    assert r.totals.buffers == 0
    assert r["features.7.2/add"].output == (7, 7, 768)
    assert r["features.7.2/stochastic_depth"].attrs["rate"] == pytest.approx(0.1)


def test_maxvit_t_as_torchvision_documents_it(reports):
    r = reports("maxvit_t")
    params, buffers, macs = maxvit_t()
    assert r.totals.params == params == 30_919_624            # MaxVit_T_Weights
    assert r.totals.buffers == buffers == 100_438              # BN statistics and 22 indices
    assert r.totals.macs == macs == 5_558_046_720              # its 5.56 "GFLOPS" (_ops 5.558)
    assert sum(row.buffers for row in r.layers if row.op == "attention") == 22 * 49 * 49
    grid = r["blocks.2.layers.4/layers.grid_attention/attn_layer.1"]
    assert grid.attrs["grid"] == (7, 7) and grid.output == (14, 14, 256)
    assert grid.macs == 196 * 256 * 768 + 2 * 196 * 49 * 256 + 196 * 256 * 256


def test_mobilevit_s_as_the_paper_and_timm_count_it(reports):
    r = reports("mobilevit_s")
    params, buffers, macs = mobilevit_s()
    # the paper's Table 4: MobileViT-S 5.6 M parameters; timm's mobilevit_s: 5,578,632
    assert r.totals.params == params == 5_578_632
    assert r.totals.buffers == buffers == 12_256
    assert r.totals.macs == macs == 2_000_831_488
    # the unfolded attention over 32×32: four groups (the places of a 2×2 patch) of 256 tokens
    att = r["stages.2.1/transformer.0/attn"]
    assert att.output == (32, 32, 144) and att.scratch == 4 * 1024 * 256


# ---------------------------------------------------------------------------------------------
# archcalc against the reference models (torch, torchvision, timm)


def _vit_l_16(torch, tv):
    return tv.models.vit_l_16()


def _swin_t(torch, tv):
    return tv.models.swin_t()


def _convnext_tiny(torch, tv):
    return tv.models.convnext_tiny()


def _maxvit_t(torch, tv):
    return tv.models.maxvit_t()


def _timm(name):
    def build(torch, tv):
        timm = pytest.importorskip("timm")
        return timm.create_model(name)
    return build


# spec: (the model, input side, the layouts of its outputs by module name, first match wins;
# other 4-D outputs are N×C×H×W, 3-D ones token sequences 1×N×C, 2-D ones vectors 1×C)
MODELS = {
    "vit_l_16": (_vit_l_16, 224, []),
    "deit_s": (_timm("deit_small_patch16_224"), 224, []),
    "swin_t": (_swin_t, 224, [(r"^features\.(0\.2|[1-7])|^norm$", "nhwc")]),
    "convnext_tiny": (_convnext_tiny, 224, [(r"\.block\.[2-5]$", "nhwc")]),
    # [B, windows or grid cells, 49, C] inside a partition attention layer
    "maxvit_t": (_maxvit_t, 224, [(r"_attention\.(attn_layer\.|mlp_layer\.|stochastic_dropout)",
                                   "partitions")]),
    # [B·4, N/4, C]: the four places of each 2×2 patch, unfolded
    "mobilevit_s": (_timm("mobilevit_s"), 256, [(r"\.(transformer\.|norm$)", "patches")]),
}


def _expected(layout: str, vol: tuple[int, int, int]) -> tuple[int, ...]:
    h, w, c = vol
    return {"nchw": (1, c, h, w), "nhwc": (1, h, w, c), "seq": (1, h * w, c), "vec": (1, c),
            "partitions": (1, h * w // 49, 49, c), "patches": (4, h * w // 4, c)}[layout]


def _layout(rules, name: str, ndim: int) -> str:
    for pattern, layout in rules:
        if re.search(pattern, name):
            return layout
    return {4: "nchw", 3: "seq", 2: "vec"}[ndim]


def _run(torch, model, side: int, device: str):
    """(the first output shape of every module by name, FlopCounterMode's total) of one
    forward pass of a zero image, batch 1, in eval mode without gradients."""
    from torch.utils import flop_counter as fc

    def cpu_sdpa(q, k, v, *args, out_shape=None, **kwargs):
        return fc.sdpa_flop_count(q, k, v)          # QKᵀ and AV, as for the CUDA kernels

    aten = torch.ops.aten
    mapping = {aten._scaled_dot_product_flash_attention_for_cpu: cpu_sdpa} \
        if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu") else {}
    shapes: dict[str, tuple[int, ...]] = {}

    def hook(name):
        def record(module, args, out):
            if isinstance(out, tuple) and out:      # nn.MultiheadAttention: (out, weights)
                out = out[0]
            if isinstance(out, torch.Tensor) and name not in shapes:
                shapes[name] = tuple(out.shape)
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if n]
    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), fc.FlopCounterMode(display=False, custom_mapping=mapping) as c:
            model.eval()(torch.zeros(1, 3, side, side, device=device))
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)
        for h in handles:
            h.remove()
    return shapes, c.get_total_flops()


@pytest.fixture(scope="module")
def reference():
    torch, tv = import_torchvision()
    cache = {}

    def get(spec: str):
        if spec not in cache:
            build, side, _ = MODELS[spec]
            with torch.device("meta"):
                model = build(torch, tv)
            cache[spec] = (model, *_run(torch, model, side, "meta"))
        return cache[spec]
    return get


@pytest.mark.parametrize("spec", list(MODELS))
def test_every_figure_matches_the_reference_model(spec, reports, reference):
    r = reports(spec)
    model, shapes, flops = reference(spec)
    assert r.totals.params == sum(p.numel() for p in model.parameters())
    # BatchNorm's num_batches_tracked counter (one number per BatchNorm) is not counted: a step
    # counter, not statistics of the data (as conftest.torch_figures)
    assert r.totals.buffers == sum(b.numel() for n, b in model.named_buffers()
                                   if not n.endswith("num_batches_tracked"))
    assert flops == 2 * r.totals.macs
    # every layer and block instance named as a module of the model has its output's shape
    rules = MODELS[spec][2]
    outputs = {row.name: row.output for row in r.layers}
    outputs.update({block: outputs[last] for block, last in r.block_outputs.items()})
    compared, wrong = 0, []
    for name, vol in outputs.items():
        module = name.replace("/", ".")
        if module in shapes:
            got = shapes[module]
            want = _expected(_layout(rules, module, len(got)), vol)
            compared += 1
            if got != want:
                wrong.append(f"{name}: archcalc {vol} → {want}, the model {got}")
    assert not wrong, "\n".join(wrong)
    # and no layer with parameters goes unnamed, but the model's bare parameters (class token,
    # position embedding, ConvNeXt's γ)
    unmatched = {row.op for row in r.layers
                 if row.params and row.name.replace("/", ".") not in shapes}
    assert unmatched <= {"class_token", "pos_embed", "layer_scale"}, unmatched
    assert compared > 0.6 * sum(1 for row in r.layers if row.params)


@pytest.mark.slow                 # 2–13 s each: the models' weights made and run on the CPU
@pytest.mark.parametrize("spec", list(MODELS))
def test_the_meta_device_counts_as_the_cpu(spec, reports, reference):
    torch, tv = import_torchvision()
    build, side, _ = MODELS[spec]
    model = build(torch, tv)
    shapes, flops = _run(torch, model, side, "cpu")
    assert flops == 2 * reports(spec).totals.macs
    assert shapes == reference(spec)[1]


def test_the_summary_says_what_the_buffers_are():
    # a Swin holds no BatchNorm: its buffers are the attention's relative-position indices
    swin = run_cli("summary", "swin_t").stdout
    assert "buffers: 28,812 (attention's relative-position indices; PyTorch's named_buffers(), " \
           "apart from the parameters)" in swin
    maxvit = run_cli("summary", "maxvit_t").stdout
    assert "buffers: 100,438 (BatchNorm running statistics and attention's relative-position " \
           "indices;" in maxvit
    assert "buffers:" not in run_cli("summary", "convnext_tiny").stdout
