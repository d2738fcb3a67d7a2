"""The ``everything`` convention: the ledger of every operation of every layer
(docs/definitions.md, "The operations ledger"). Every expected value is derived by hand in the
comments from the definitions, per image."""
import json

import pytest
from conftest import run_cli

import archcalc
from archcalc.analysis import conventions, ledger
from archcalc.ops import OPS

ZERO = dict.fromkeys(ledger.CATEGORIES, 0)


def L(**kw):
    return {**ZERO, **kw}


def by_layer(spec: str) -> dict:
    r = archcalc.analyze(archcalc.parse(spec))
    vols = {row.name: row.output for row in r.layers}
    return {row.name: ledger.ledger(row, [vols[s] for s in row.inputs]) for row in r.layers}


# input 4×4×2
CNN = """
name: cnn
input: [4, 4, 2]
layers:
  - {op: conv, name: conv, filters: 3, kernel: 3, padding: 1}
  - {op: batchnorm, name: bn}
  - {op: relu, name: relu}
  - {op: maxpool, name: pool, kernel: 2}
  - {op: layernorm, name: ln}
  - {op: gelu, name: gelu}
  - {op: upsample, name: up, scale: 2, mode: bilinear}
  - {op: softmax, name: sm}
  - {op: global_avgpool, name: gap}
  - {op: fc, name: fc, units: 5}
"""
CNN_LEDGER = {
    # conv 3×3, 3 filters, on 4×4×2, padding 1: out 4×4×3, E = 48; MACs = 48·2·3·3 = 864.
    # mul = 864; add = 864 − 48 (a sum of 18 products: 17 adds) + 48 (bias) = 864
    "conv": L(mul=864, add=864),
    # batchnorm at inference, E = 48: one multiply and one add per element
    "bn": L(mul=48, add=48),
    # relu, E = 48: one comparison each
    "relu": L(cmp=48),
    # maxpool 2×2 → 2×2×3, E = 12: 3 comparisons per window (4 values)
    "pool": L(cmp=36),
    # layernorm over C = 3 at each of 4 places (4 groups of n = 3):
    # add: mean sums 4·2 = 8, x − μ 4·3 = 12, variance sums 4·2 = 8, + eps 4, + β 12 → 44
    # div: mean 4, variance 4, (x − μ)/σ 12 → 20; mul: squares 12, ·γ 12 → 24; exp (√): 4
    "ln": L(add=44, div=20, mul=24, exp=4),
    # gelu, E = 12: erf 12 (exp category), 3 multiplies each (x/√2, ·0.5, ·x) 36, 1 + erf 12
    "gelu": L(exp=12, mul=36, add=12),
    # bilinear ×2 → 4×4×3, E = 48: 4 multiplies and 3 adds per output: 192, 144
    "up": L(mul=192, add=144),
    # softmax over C = 3 at 16 places: max 16·2 = 32 cmp; subtract max 48 + sum 16·2 = 32 → 80
    # add; exp 48; div 48
    "sm": L(cmp=32, add=80, exp=48, div=48),
    # global average of 4×4×3: 3·(16 − 1) = 45 adds, 3 divisions
    "gap": L(add=45, div=3),
    # fc 3 → 5 with bias: mul 15; add 15 − 5 + 5 = 15
    "fc": L(mul=15, add=15),
}
CNN_TOTAL = sum(sum(v.values()) for v in CNN_LEDGER.values())
# 1,728 + 96 + 48 + 36 + 92 + 60 + 336 + 208 + 48 + 30 = 2,682
assert CNN_TOTAL == 2_682


def test_each_op_family_by_hand():
    got = by_layer(CNN)
    assert got["input"] == ZERO
    assert {k: v for k, v in got.items() if k != "input"} == CNN_LEDGER


def test_the_convention_total_and_under():
    r = archcalc.analyze(archcalc.parse(CNN))
    assert conventions.total(r, "everything") == CNN_TOTAL
    assert ledger.report_ledger(r) == L(mul=864 + 48 + 24 + 36 + 192 + 15,
                                        add=864 + 48 + 44 + 12 + 144 + 80 + 45 + 15,
                                        div=20 + 48 + 3, exp=4 + 12 + 48, cmp=48 + 36 + 32)
    counted = archcalc.analyze(archcalc.parse(CNN), convention="everything")
    assert counted.totals.macs == CNN_TOTAL
    assert [row.macs for row in counted.layers][1:3] == [1_728, 96]
    assert counted.totals.params == r.totals.params        # nothing else changes


ATTENTION = """
name: attn
input: [2, 2, 4]
layers:
  - {op: tokens, name: tok}
  - {op: attention, name: att, heads: 2}
  - {op: linear, name: lin, units: 2, bias: false}
"""


def test_attention_by_hand():
    # N = 4 tokens, C = 4, heads 2, D = 4, head_dim 2, G = 4 (global)
    # q, k, v: mul N·C·3D = 4·4·12 = 192; add 192 − N·3D (48) + 48 biases = 192
    # QKᵀ: mul N·G·D = 64; add heads·N·G·(head_dim − 1) = 2·4·4·1 = 32
    # scaling: mul heads·N·G = 32
    # softmax over 8 rows of 4: cmp 8·3 = 24; add 32 (− max) + 24 (sum) = 56; exp 32; div 32
    # weighted sum: mul N·G·D = 64; add N·(G − 1)·D = 4·3·4 = 48
    # output projection: mul N·D·C = 64; add 64 − 16 + 16 biases = 64
    # linear 4 → 2 per token, no bias: mul 4·4·2 = 32; add 32 − 8 = 24
    got = by_layer(ATTENTION)
    assert got["tok"] == ZERO
    assert got["att"] == L(mul=192 + 64 + 32 + 64 + 64, add=192 + 32 + 56 + 48 + 64,
                           cmp=24, exp=32, div=32)
    assert got["lin"] == L(mul=32, add=24)
    # the products are exactly the MACs
    r = archcalc.analyze(archcalc.parse(ATTENTION))
    assert r["att"].macs == 192 + 64 + 64 + 64 == got["att"]["mul"] - 32


ELEMENTWISE = """
name: ew
input: [2, 2, 4]
layers:
  - {op: sigmoid, name: sig}
  - {op: silu, name: silu, inputs: [input]}
  - {op: add, name: sum, inputs: [sig, silu]}
  - {op: mul, name: prod, inputs: [sum, input, sig]}
  - {op: hardswish, name: hsw}
  - {op: hardsigmoid, name: hsig}
  - {op: relu6, name: r6}
  - {op: leaky_relu, name: lrelu}
  - {op: prelu, name: pr}
  - {op: elu, name: elu}
  - {op: tanh, name: th}
  - {op: dropout, name: drop}
  - {op: lrn, name: lrn, size: 3}
  - {op: groupnorm, name: gn, groups: 2}
  - {op: instancenorm, name: inorm}
  - {op: dwconv, name: dw, kernel: 3}
  - {op: avgpool, name: avg, kernel: 2}
  - {op: layer_scale, name: ls}
  - {op: global_maxpool, name: gmp, inputs: [dw]}
  - {op: adaptive_avgpool, name: aap, output: 1, inputs: [dw]}
  - {op: concat, name: cat, inputs: [gmp, aap]}
  - {op: flatten, name: flat}
"""


def test_elementwise_norms_and_pools_by_hand():
    e = 2 * 2 * 4                       # 16 elements everywhere until the pools
    got = by_layer(ELEMENTWISE)
    assert got["sig"] == L(exp=e, add=e, div=e)                # 1/(1 + e⁻ˣ)
    assert got["silu"] == L(exp=e, add=e, div=e, mul=e)       # x·σ(x)
    assert got["sum"] == L(add=e)                             # 2 inputs: 1 add each
    assert got["prod"] == L(mul=2 * e)                        # 3 inputs: 2 multiplies each
    assert got["hsw"] == L(add=e, cmp=2 * e, mul=2 * e)       # x·min(max(x + 3, 0), 6)/6
    assert got["hsig"] == L(add=e, cmp=2 * e, mul=e)
    assert got["r6"] == L(cmp=2 * e)
    assert got["lrelu"] == got["pr"] == L(cmp=e, mul=e)
    assert got["elu"] == L(cmp=e, exp=e, add=e, mul=e)
    assert got["th"] == L(exp=e)
    assert got["drop"] == ZERO
    # lrn, n = 3: squares 16, window sums 16·2 = 32, ·α/n 16, + k 16, ^β 16, x/… 16
    assert got["lrn"] == L(mul=32, add=48, exp=16, div=16)
    # groupnorm, 2 groups of n = 2·2·4/2 = 8: add 2·7 + 16 + 2·7 + 2 + 16 (β) = 62;
    # div 2 + 2 + 16 = 20; mul 16 + 16 (γ) = 32; √ 2
    assert got["gn"] == L(add=62, div=20, mul=32, exp=2)
    # instancenorm, no affine, 4 groups of n = 4: add 4·3 + 16 + 4·3 + 4 = 44; div 4 + 4 + 16
    # = 24; mul 16; √ 4
    assert got["inorm"] == L(add=44, div=24, mul=16, exp=4)
    # dwconv 3×3 padding 1 on 2×2×4, bias: MACs = 16·9 = 144; add 144 − 16 + 16 = 144
    assert got["dw"] == L(mul=144, add=144)
    # avgpool 2×2 → 1×1×4: 3 adds and 1 division per output
    assert got["avg"] == L(add=12, div=4)
    assert got["ls"] == L(mul=4)                              # ·γ on 1×1×4
    assert got["gmp"] == L(cmp=4 * 3)                         # 4 channels, 4 places
    assert got["aap"] == L(add=4 * 3, div=4)                  # one window of 4 per channel
    assert got["cat"] == got["flat"] == ZERO


def test_conv_transpose_counts_what_lands():
    # 2×2×1 → 4×4×1, kernel 3, stride 2, padding 1, output_padding 1, bias:
    # MACs (every input value times every weight) = 2·2·1·1·3·3 = 36.
    # Along an axis the products land at o = 2i + j − 1 (i ∈ {0, 1}, j ∈ {0, 1, 2}):
    # i = 0 → −1 (cropped), 0, 1; i = 1 → 1, 2, 3: hits [1, 2, 1, 1], 5 in the output.
    # Landed 5·5 = 25 products into 16 outputs, each reached: add 25 − 16 + 16 (bias) = 25
    got = by_layer("""
name: up
input: [2, 2, 1]
layers:
  - {op: conv_transpose, name: t, filters: 1, kernel: 3, stride: 2, padding: 1,
     output_padding: 1}
""")
    assert got["t"] == L(mul=36, add=25)


def test_every_op_has_a_rule():
    assert set(ledger.RULES) == set(OPS)
    assert set(ledger.CATEGORIES) == {"mul", "add", "div", "exp", "cmp"}


def test_an_opaque_layer_is_unknown():
    r = archcalc.analyze(archcalc.parse(CNN))
    row = r["relu"]._replace(op="opaque")
    assert ledger.items(row, [r["bn"].output]) is None
    assert ledger.count(row, [r["bn"].output]) == 0


def test_summary_json_and_text():
    r = run_cli("summary", CNN, "-F", "json")
    assert r.returncode == 0, r.stderr
    totals = json.loads(r.stdout)["totals"]
    assert totals["conventions"]["everything"] == CNN_TOTAL
    assert totals["ledger"] == {"mul": 1_179, "add": 1_252, "div": 71, "exp": 64, "cmp": 116,
                                "unknown_layers": []}
    assert 1_179 + 1_252 + 71 + 64 + 116 == CNN_TOTAL
    r = run_cli("summary", CNN, "--convention", "everything")
    assert r.returncode == 0, r.stderr
    assert f"operations (everything): {CNN_TOTAL:,}" in r.stdout


def test_every_command_takes_everything():
    r = run_cli("compare", CNN, "--convention", "torchvision,everything", "-F", "json")
    assert r.returncode == 0, r.stderr
    nets = json.loads(r.stdout)["networks"]
    assert [n["macs"] for n in nets.values()] == [864 + 15, CNN_TOTAL]
    r = run_cli("diff", CNN, CNN.replace("units: 5", "units: 6"), "--convention", "everything",
                "-F", "json")
    assert r.returncode == 0, r.stderr
    macs = [t for t in json.loads(r.stdout)["totals"] if t["key"] == "macs"][0]
    # fc 3 → 6: 18 mul + 18 add instead of 15 + 15
    assert (macs["before"], macs["after"]) == (CNN_TOTAL, CNN_TOTAL + 6)
    assert macs["label"] == "operations (everything)"
    r = run_cli("validate", CNN, "--convention", "everything", "--max-macs", str(CNN_TOTAL - 1))
    assert r.returncode == 1
    r = run_cli("validate", CNN, "--convention", "everything", "--max-macs", str(CNN_TOTAL))
    assert r.returncode == 0, r.stdout + r.stderr


def test_explain_lists_each_term_with_its_conventions():
    r = run_cli("explain", CNN, "conv", "fc", "relu")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "everything mul 864 + add 864 = 1,728" in out
    assert "operations: mul" in out and "operations: add" in out
    assert "torchvision, fvcore and flopcounter count conv products (the MACs)" in out
    # flopcounter's 2·MACs = products + (k − 1) sums + one add per output: the bias's
    assert "flopcounter counts conv sums (k − 1 for k products), conv bias" in out
    assert "everything cmp 48 = 48" in out
    doc = json.loads(run_cli("explain", CNN, "bn", "-F", "json").stdout)
    figs = {f["key"]: f for f in doc["layers"][0]["figures"]}
    assert figs["conventions"]["values"]["everything"] == 96
    assert figs["ops_mul"]["value"] == figs["ops_add"]["value"] == 48
    assert "fvcore counts" in figs["ops_by"]["value"]


@pytest.mark.parametrize("name", ["lenet5", "resnet50", "vit_b_16", "swin_t"])
def test_the_products_are_never_fewer_than_the_macs(name):
    r = archcalc.analyze(archcalc.load(name))
    assert ledger.report_ledger(r)["mul"] >= r.totals.macs
    assert conventions.total(r, "everything") >= 2 * r.totals.macs - sum(
        row.output[0] * row.output[1] * row.output[2] for row in r.layers
        if row.op in ("conv", "dwconv", "fc", "linear"))


def test_lenet5_by_hand():
    # conv and fc layers, each with biases: mul = MACs, add = MACs − E + E = MACs, so
    # 2·416,520 = 833,040; tanh: one each on 28·28·6 + 10·10·16 + 120 + 84 = 4,704 + 1,600 +
    # 120 + 84 = 6,508; avgpools 2×2: 3 adds + 1 division per output: 4·(14·14·6) = 4,704 and
    # 4·(5·5·16) = 1,600. 833,040 + 6,508 + 4,704 + 1,600 = 845,852
    r = archcalc.analyze(archcalc.load("lenet5"))
    assert conventions.total(r, "everything") == 845_852
    assert ledger.report_ledger(r) == L(mul=416_520, add=416_520 + 3 * 1_176 + 3 * 400,
                                        div=1_176 + 400, exp=6_508)
