"""Tokens and attention: every figure derived by hand here (docs/definitions.md, "Tokens and
attention"), ViT-B/16 against torchvision's documented counts (86,567,656 parameters, 17.56
GFLOPS meaning multiply-adds), and each bad input refused with a located error and a fix."""
import pytest
from conftest import run_cli

import archcalc
from archcalc.errors import ArchcalcError

TINY = """
name: tiny
input: [32, 32, 3]
layers:
  - {op: conv, filters: 64, kernel: 4, stride: 4, padding: 0}
  - {op: tokens}
  - {op: class_token}
  - {op: pos_embed, tokens: 65}
  - {op: layernorm}
  - {op: attention, heads: 4}
  - {op: linear, units: 256}
  - {op: take_token}
  - {op: fc, units: 10}
"""


def test_a_tiny_vit_by_hand():
    r = archcalc.analyze(archcalc.parse(TINY))
    rows = {row.name: row for row in r.layers}
    assert rows["conv1"].output == (8, 8, 64)               # (32 − 4)/4 + 1 = 8
    assert rows["tokens1"].output == (1, 64, 64)            # 8·8 = 64 tokens
    assert rows["tokens1"].activations == 0                 # a view
    assert rows["class_token1"].output == (1, 65, 64)
    assert rows["class_token1"].params == 64                # one token of 64 channels
    assert rows["pos_embed1"].params == 65 * 64             # N·C = 4,160
    att = rows["attention1"]
    # qkv 64·192 + 192, proj 64·64 + 64
    assert att.params == 64 * 192 + 192 + 64 * 64 + 64 == 16_640
    # N·C·3D + 2·N·N·D + N·D·C with N = 65, C = D = 64
    assert att.macs == 65 * 64 * 192 + 2 * 65 * 65 * 64 + 65 * 64 * 64 == 1_605_760
    assert att.scratch == 4 * 65 * 65                       # heads·N·N
    assert att.rf.is_global
    lin = rows["linear1"]                                   # per token: 64·256 + 256
    assert lin.output == (1, 65, 256) and lin.params == 16_640
    assert lin.macs == 65 * 64 * 256
    assert rows["take_token1"].output == (1, 1, 256)
    assert rows["fc1"].params == 256 * 10 + 10
    # the liveness peak is at the attention: its input and output (65·64 each) and its matrix
    assert r.totals.peak_layer == "attention1"
    assert r.totals.peak_bytes == 4 * (2 * 65 * 64 + 4 * 65 * 65)
    # training (docs/training-memory.md): PyTorch's fused attention keeps no matrix; beside its
    # input (which the linear stand-in below keeps too) it keeps q, k, v (3·64 per token) and
    # the heads' output (64 per token), and a log-sum-exp per head and token (fp32)
    without = archcalc.analyze(archcalc.parse(TINY.replace("attention, heads: 4",
                                                           "linear, units: 64")))
    extra = r.totals.saved_bytes - without.totals.saved_bytes
    assert extra == 4 * (4 * 64 * 65) + 4 * (4 * 65)
    # the linear stand-in has 64·64 + 64 parameters: Adam keeps two states of the attention's
    # 12,480 more
    assert r.training.states - without.training.states == 2 * 4 * (16_640 - 4_160)


def test_vit_b_16_as_torchvision_documents_it():
    r = archcalc.analyze(archcalc.load("vit_b_16"))
    assert r.totals.params == 86_567_656                    # torchvision's ViT_B_16_Weights
    # 17.56 GFLOPS in torchvision's table: multiply-adds of the conv, the linears and QKᵀ, AV.
    # Per block, N = 197, C = 768: qkv 197·768·2304, QKᵀ and AV 197·197·768 each, proj
    # 197·768·768, MLP 2·197·768·3072; plus the patch conv 196·768·768 and the head 768·1000.
    block = 197 * 768 * 2304 + 2 * 197 * 197 * 768 + 197 * 768 * 768 + 2 * 197 * 768 * 3072
    assert r.totals.macs == 12 * block + 196 * 768 * 768 + 768 * 1000 == 17_563_828_224
    rows = {row.name: row for row in r.layers}
    assert rows["encoder.pos_embedding"].output == (1, 197, 768)
    assert rows["heads.head"].output == (1, 1, 1000)


def test_window_attention_of_a_swin_t_block():
    # Swin-T's first stage: 56×56×96, 3 heads, 7×7 windows, a relative-position bias
    net = archcalc.parse("""
name: w
input: [56, 56, 96]
layers:
  - {op: attention, heads: 3, window: 7, shift: 3, relpos: true}
""")
    row = archcalc.analyze(net).layers[1]
    # qkv 96·288 + 288, proj 96·96 + 96, table 13·13·3; the index 49·49 a buffer
    assert row.params == 96 * 288 + 288 + 96 * 96 + 96 + 13 * 13 * 3 == 37_755
    assert row.buffers == 49 * 49
    n = 56 * 56
    assert row.macs == n * 96 * 288 + 2 * n * 49 * 96 + n * 96 * 96
    assert row.scratch == 3 * n * 49
    # a token sees its 7×7 window, aligned to the grid: the first token of a window reaches 6
    # tokens to one side, the last 6 to the other; the envelope centred on each: 2·6 + 1 = 13
    assert row.rf.size == (13, 13) and row.rf.stride == (1, 1) and row.rf.start == (0, 0)


def test_grid_and_cross_attention():
    net = archcalc.parse("""
name: g
input: [28, 28, 64]
layers:
  - {op: attention, name: grid, heads: 2, grid: 7, relpos: true}
  - {op: conv, name: kv, inputs: input, filters: 32, kernel: 2, stride: 2, padding: 0}
  - {op: attention, name: cross, inputs: [grid, kv], heads: 4, kv_channels: 32}
""")
    rows = {r.name: r for r in archcalc.analyze(net).layers}
    g = rows["grid"]
    assert g.macs == 784 * 64 * 192 + 2 * 784 * 49 * 64 + 784 * 64 * 64
    assert g.rf.is_global
    c = rows["cross"]
    # q 64·64, k and v 32·64 each, biases 3·64; proj 64·64 + 64
    assert c.params == 64 * 64 + 2 * 32 * 64 + 192 + 64 * 64 + 64
    # queries 784 tokens, keys 14·14 = 196
    assert c.macs == 784 * 64 * 64 + 196 * 32 * 128 + 2 * 784 * 196 * 64 + 784 * 64 * 64


def test_patch_merge_layer_scale_drop_path():
    net = archcalc.parse("""
name: m
input: [7, 7, 96]
layers:
  - {op: patch_merge}
  - {op: layernorm}
  - {op: linear, units: 192, bias: false}
  - {op: layer_scale}
  - {op: drop_path, rate: 0.2}
""")
    rows = archcalc.analyze(net).layers
    assert rows[1].output == (4, 4, 384)        # 7 padded to 8, halved; 4·96 channels
    assert rows[3].params == 384 * 192
    assert rows[4].params == 192
    assert rows[5].activations == 0 and rows[5].params == 0


@pytest.mark.parametrize("layer, says, hint", [
    ("{op: attention, heads: 5}", "5 heads do not divide the 64 channels", "heads: "),
    ("{op: attention, heads: 4, window: 5}", "the window 5 does not divide the map's height 8",
     "10"),
    ("{op: attention, heads: 4, window: 16}", "larger than the map's height 8", "window: 8"),
    ("{op: attention, heads: 4, window: 4, shift: 4}", "a shift of 4 is not less than", "shift: 2"),
    ("{op: attention, heads: 4, relpos: true}", "needs a window or a grid", "window: M"),
    ("{op: tokens}\n  - {op: pos_embed, tokens: 65}", "holds 65 tokens, the input has 64",
     "tokens: 64"),
    ("{op: tokens}\n  - {op: class_token}\n  - {op: pos_embed, tokens: 64}",
     "holds 64 tokens, the input has 65", "a class token adds 1 before it: tokens: 65"),
    ("{op: tokens}\n  - {op: class_token}\n  - {op: untokens}", "65 tokens make no square map",
     "class token"),
    ("{op: class_token}", "reads a token sequence", "{op: tokens}"),
])
def test_bad_input_is_one_located_error_with_a_fix(layer, says, hint):
    text = f"name: e\ninput: [8, 8, 64]\nlayers:\n  - {layer}\n"
    with pytest.raises(ArchcalcError) as got:
        archcalc.analyze(archcalc.parse(text))
    d = got.value.diagnostics
    assert len(d) == 1 and says in d[0].message, d
    assert hint in (d[0].hint or ""), d[0].hint
    assert d[0].pos.line >= 4


def test_cross_attention_with_another_width_needs_kv_channels():
    r = run_cli("summary", """
name: x
input: [8, 8, 64]
layers:
  - {op: conv, name: kv, filters: 32, kernel: 1, padding: 0}
  - {op: attention, inputs: [input, kv], heads: 4}
""")
    assert r.returncode == 1
    assert "the keys and values come from kv with 32 channels, the queries' input has 64" in \
        r.stderr and "kv_channels: 32" in r.stderr


def test_linear_is_per_token_and_fc_flattens():
    net = archcalc.parse("name: l\ninput: [4, 4, 8]\nlayers:\n  - {op: linear, units: 3}\n"
                         "  - {op: fc, name: f, inputs: input, units: 3}\n")
    rows = archcalc.analyze(net).layers
    assert rows[1].output == (4, 4, 3) and rows[1].params == 8 * 3 + 3
    assert rows[2].output == (1, 1, 3) and rows[2].params == 128 * 3 + 3


def test_explain_lists_the_attention_terms():
    r = run_cli("explain", TINY, "attention1")
    assert r.returncode == 0, r.stderr
    assert "N·C·3D + N·G·D + N·G·D + N·D·C = 798,720 + 270,400 + 270,400 + 266,240 = " \
           "1,605,760" in r.stdout
    assert "heads·N·G = 4·65·65 = 16,900" in r.stdout


def test_a_window_as_large_as_the_map_is_global_attention():
    # Swin-T's last stage: one 7×7 window over the 7×7 map
    net = archcalc.parse("name: w\ninput: [7, 7, 32]\nlayers:\n"
                         "  - {op: attention, heads: 2, window: 7, relpos: true}\n")
    assert archcalc.analyze(net).layers[1].rf.is_global


def test_a_grid_that_does_not_divide_the_map_says_what_works():
    net = "name: g\ninput: [7, 7, 32]\nlayers:\n  - {op: attention, heads: 2, grid: 2}\n"
    with pytest.raises(ArchcalcError) as got:
        archcalc.analyze(archcalc.parse(net))
    hint = got.value.diagnostics[0].hint
    assert "6 or 8 work" in hint and "Swin" not in hint


def test_the_latency_model_sees_attention_as_matrix_products():
    from archcalc import latency
    from archcalc.latency import model
    r = archcalc.analyze(archcalc.parse(TINY))
    est = model.estimate(r, latency.device("t4"))
    t = est.by_name()["attention1"]
    assert t.kind == "fc" and t.flops == 2 * 1_605_760
    # fp32: weights, its input and output (65·64 each) and the matrix written, read, written by
    # the softmax and read by the weighted sum (4 · 4·65·65)
    assert t.bytes == 4 * (16_640 + 2 * 65 * 64 + 4 * 4 * 65 * 65)
    assert est.by_name()["linear1"].kind == "fc"
    assert est.by_name()["tokens1"].kind == "view" and est.by_name()["take_token1"].kind == "view"


def test_a_transformers_field_at_the_output_is_global():
    """After a global attention every token sees the whole image: compare and sweep say the
    field at the output is global (not the patch embedding's 16 /16 before it), and sizes'
    final feature map is the last block's token sequence."""
    import archcalc.analysis.figures as figures
    from archcalc.analysis.rf import at_output
    from archcalc.design.sizes import evaluate
    vit = archcalc.load("deit_s")
    r = archcalc.analyze(vit)
    assert at_output(r) is None and figures.output_rf(r) is None
    cnn = archcalc.analyze(archcalc.load("resnet18"))
    assert at_output(cnn)[0] == "layer4.1/relu"        # a classifier's: its last local map
    size = evaluate(vit, [224])[0]
    assert size.layer == "norm" and size.feature == (1, 197, 384) and size.rf.is_global


@pytest.mark.parametrize("layers, words, hint", [
    ("[{op: tokens}, {op: attention, heads: 3, grid: 2}]",
     "a grid partitions a map H×W, the input is a token sequence 1×196", "{op: untokens}"),
    ("[{op: tokens}, {op: attention, heads: 3, window: 7}]",
     "a window partitions a map H×W, the input is a token sequence 1×196", "leave window out"),
    ("[{op: take_token, index: 5}]",
     "take_token reads a token sequence 1×N×C, the input is a 14×14×96 map", "{op: tokens}"),
    ("[{op: tokens}, {op: take_token, index: 196}]", "take_token index 196 of a sequence of "
     "196 tokens", "from -196 to 195"),
    ("[{op: pixel_shuffle, factor: 2}]", "needs channels divisible by 2·2 = 4",
     "give input 96 or 100 channels"),
])
def test_token_errors_say_what_the_input_is(layers, words, hint, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"input: 14x14x{98 if 'pixel' in layers else 96}\nlayers: {layers}\n")
    p = run_cli("validate", str(spec))
    assert p.returncode == 1 and words in p.stdout and hint in p.stdout, p.stdout


@pytest.mark.parametrize("layers, words", [
    ("[{op: tokens}, {op: patch_merge}]", "patch_merge of a token sequence 1×196"),
    ("[{op: attention, heads: 3, window: 7, shift: 3}]",
     "a shifted 7×7 window over a 7×7 map: the shift only rolls the map"),
])
def test_token_slips_are_warnings(layers, words, tmp_path):
    spec = tmp_path / "s.yaml"
    side = 7 if "shift" in layers else 14
    spec.write_text(f"input: {side}x{side}x96\nlayers: {layers}\n")
    p = run_cli("validate", str(spec))
    assert p.returncode == 0 and words in p.stdout and "1 warning" in p.stdout, p.stdout
