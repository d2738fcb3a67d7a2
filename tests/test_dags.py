"""Graphs, not just chains: branches, merges, blocks, and the classic networks that need them.
Small graphs are computed by hand; the classic networks are held to their published figures."""
import pytest
from conftest import SPECS

import archcalc
from archcalc import ArchcalcError
from archcalc.report import fold

TWO_BRANCH = """
name: two_branch
input: 8x8x4
layers:
  - {op: conv, name: a, filters: 6, kernel: 1, padding: 0}
  - {op: conv, name: b, inputs: input, filters: 10, kernel: 3, padding: 1}
  - {op: concat, name: cat, inputs: [a, b]}
"""


def analyze_text(text, **kw):
    return archcalc.analyze(archcalc.parse(text), **kw)


def test_two_branch_concat_by_hand():
    r = analyze_text(TWO_BRANCH)
    assert r["cat"].output == (8, 8, 16)
    assert r["a"].params == 1 * 1 * 4 * 6 + 6 and r["b"].params == 3 * 3 * 4 * 10 + 10
    assert r.totals.params == 30 + 370
    assert r["cat"].inputs == ("a", "b")
    # RF: union of a 1×1 and a 3×3 window on the same centre → 3, aligned (same stride, centre)
    assert r["cat"].rf.size == (3, 3) and r["cat"].rf.aligned
    # liveness: input 256 (8·8·4) stays alive until b has run. a: 384, b: 640, cat: 1024.
    #   a runs:   input 256 + a 384             = 640
    #   b runs:   input 256 + a 384 + b 640     = 1280 (input freed after)
    #   cat runs: a 384 + b 640 + cat 1024      = 2048  ← peak
    assert r.totals.peak_bytes == 4 * 2048 and r.totals.peak_layer == "cat"
    assert r.totals.activations == 256 + 384 + 640 + 1024


def test_add_with_projection_by_hand():
    r = analyze_text("""
name: res
input: 8x8x4
layers:
  - {op: conv, name: c1, filters: 8, stride: 2, padding: 1, bias: false, rounding: floor}
  - {op: batchnorm, name: bn1}
  - {op: relu, name: r1}
  - {op: conv, name: c2, filters: 8, padding: 1, bias: false}
  - {op: conv, name: proj, inputs: input, filters: 8, kernel: 1, stride: 2, padding: 0,
     bias: false, rounding: floor}
  - {op: add, name: sum, inputs: [c2, proj]}
  - {op: relu, name: out}
""")
    # c1: (8 − 3 + 2)/2 + 1 = 4.5 → 4; proj: (8 − 1)/2 + 1 = 4.5 → 4
    assert r["sum"].output == (4, 4, 8)
    assert r["c1"].params == 3 * 3 * 4 * 8 and r["proj"].params == 4 * 8
    # BatchNorm: γ and β are parameters (2C); running mean and variance are buffers (2C)
    assert r["bn1"].params == r["bn1"].trainable_params == 2 * 8 and r["bn1"].buffers == 2 * 8
    assert r["c1"].macs == 4 * 4 * 8 * 4 * 9 and r["proj"].macs == 4 * 4 * 8 * 4
    assert r["out"].inplace and r["out"].activations == 0      # sole consumer of sum
    assert r["r1"].inplace
    # RF: main path 3×3/2 (pad 1) then 3×3/1: size 3 + 2·2 = 7, start (1 − 1)·1 + (1 − 1)·2 = 0;
    # the 1×1/2 projection: size 1, start 0. Same stride (2) and centre (0) → aligned, size 7.
    assert r["sum"].rf.size == (7, 7) and r["sum"].rf.stride == (2, 2) and r["sum"].rf.aligned


def test_misaligned_merge_is_flagged():
    # a 2×2/2 pool (centre moves by 0.5) and a 1×1/2 conv (centre stays at 0) merged by add
    r = analyze_text("""
name: mis
input: 8x8x4
layers:
  - {op: maxpool, name: p, kernel: 2, stride: 2}
  - {op: conv, name: c, inputs: input, filters: 4, kernel: 1, stride: 2, padding: 0,
     rounding: floor}
  - {op: add, name: sum, inputs: [p, c]}
""")
    rf = r["sum"].rf
    assert not rf.aligned and rf.to_dict()["aligned"] is False
    # union of [−0.5, 1.5]-wide windows: pool covers pixels 0..1 (centre 0.5), conv pixel 0
    assert rf.size == (2, 2) and rf.start == (0.5, 0.5)
    warnings = [d for d in r.diagnostics if d.severity == "warning"]
    assert len(warnings) == 1 and "not aligned" in warnings[0].message
    assert warnings[0].layer == "sum"


@pytest.mark.parametrize("merge,needle", [
    ("concat", "concat needs inputs of the same height and width, got a 8×8×4, b 4×4×4"),
    ("add", "add needs inputs of the same volume, got a 8×8×4, b 4×4×4"),
])
def test_broken_merge_names_both_volumes(merge, needle):
    text = f"""
name: broken
input: 8x8x4
layers:
  - {{op: conv, name: a, filters: 4}}
  - {{op: maxpool, name: b, inputs: input}}
  - {{op: {merge}, name: m, inputs: [a, b]}}
"""
    with pytest.raises(ArchcalcError) as e:
        analyze_text(text)
    d = e.value.diagnostics[0]
    assert needle in d.message and d.layer == "m" and d.pos.line == 7


def test_errors_in_separate_branches_are_all_reported():
    text = """
name: two_errors
input: 8x8x4
layers:
  - {op: conv, name: a, filters: 4, kernel: 3, stride: 3, padding: 0}
  - {op: conv, name: b, inputs: input, filters: 4, kernel: 9, padding: 0}
  - {op: concat, name: m, inputs: [a, b]}
"""
    with pytest.raises(ArchcalcError) as e:
        analyze_text(text)
    assert [d.layer for d in e.value.diagnostics] == ["a", "b"]


def test_merge_needs_two_inputs():
    with pytest.raises(ArchcalcError, match="merges two or more inputs"):
        archcalc.parse("name: x\ninput: 8x8x3\nlayers:\n  - {op: add}\n")


# --- published networks -------------------------------------------------------------------------

def conv_p(k, cin, cout, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


@pytest.mark.parametrize("name,trainable,gmacs", [
    # torchvision's documented parameter counts (model.parameters(): buffers excluded) and
    # "GFLOPS", which are multiply-adds of conv and linear layers
    ("resnet18", 11_689_512, 1.81), ("resnet34", 21_797_672, 3.66),
    ("resnet50", 25_557_032, 4.09), ("resnet101", 44_549_160, 7.80),
    ("resnet152", 60_192_808, 11.51),
])
def test_resnets_match_torchvision(name, trainable, gmacs):
    r = archcalc.analyze(archcalc.load(SPECS / f"{name}.yaml"))
    assert r.totals.params == r.totals.trainable_params == trainable
    assert abs(r.totals.macs / 1e9 - gmacs) / gmacs < 0.01
    bn_channels = sum(row.output[2] for row in r.layers if row.op == "batchnorm")
    assert r.totals.buffers == 2 * bn_channels     # running mean and variance
    assert r["fc"].output == (1, 1, 1000) and r["layer4.1/add"].output[:2] == (7, 7)


def test_resnet18_by_hand():
    # conv1 + 8 basic blocks (two 3×3 convs each, 1×1 projections in the first block of stages
    # 2–4) + BN (2 trainable per channel) + fc; every conv without bias
    convs = conv_p(7, 3, 64, False)
    bn = 64
    cin = 64
    for width in (64, 128, 256, 512):
        for _block in range(2):
            convs += conv_p(3, cin, width, False) + conv_p(3, width, width, False)
            bn += 2 * width
            if cin != width:
                convs += conv_p(1, cin, width, False)
                bn += width
            cin = width
    total = convs + 2 * bn + conv_p(1, 512, 1000)
    assert total == 11_689_512
    r = archcalc.analyze(archcalc.load(SPECS / "resnet18.yaml"))
    assert r.totals.trainable_params == total


def test_resnet50_stride_sits_on_the_3x3():
    net = archcalc.load(SPECS / "resnet50.yaml")
    assert net["layer2.0/conv2"].attrs["stride"] == (2, 2)
    assert net["layer2.0/conv1"].attrs["stride"] == (1, 1)
    assert net["layer2.0/downsample.0"].attrs["stride"] == (2, 2)


def test_resnet_blocks_fold_and_expand():
    r = archcalc.analyze(archcalc.load(SPECS / "resnet50.yaml"))
    folded = fold(r.layers, 0)
    blocks = [row for row in folded if row.op == "block"]
    assert [b.name for b in blocks][:4] == ["layer1.0", "layer1.1", "layer1.2", "layer2.0"]
    assert len(blocks) == 3 + 4 + 6 + 3
    assert sum(row.params for row in folded) == r.totals.params
    assert sum(row.macs for row in folded) == r.totals.macs
    assert blocks[3].output == (28, 28, 512)
    assert len(fold(r.layers, None)) == len(r.layers)


def test_json_carries_each_layers_inputs():
    doc = archcalc.analyze(archcalc.load(SPECS / "resnet18.yaml")).to_dict()
    add = next(layer for layer in doc["layers"] if layer["name"] == "layer2.0/add")
    assert add["inputs"] == ["layer2.0/bn2", "layer2.0/downsample.1"]


GOOGLENET_TABLE_1 = {
    # Szegedy et al. 2014, Table 1: output size and depth of every row
    "conv1/7x7_s2": (112, 112, 64), "pool1/3x3_s2": (56, 56, 64), "conv2/3x3": (56, 56, 192),
    "pool2/3x3_s2": (28, 28, 192), "inception_3a/output": (28, 28, 256),
    "inception_3b/output": (28, 28, 480), "pool3/3x3_s2": (14, 14, 480),
    "inception_4a/output": (14, 14, 512), "inception_4b/output": (14, 14, 512),
    "inception_4c/output": (14, 14, 512), "inception_4d/output": (14, 14, 528),
    "inception_4e/output": (14, 14, 832), "pool4/3x3_s2": (7, 7, 832),
    "inception_5a/output": (7, 7, 832), "inception_5b/output": (7, 7, 1024),
    "pool5/7x7_s1": (1, 1, 1024), "loss3/classifier": (1, 1, 1000),
}

# (input depth, #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj) from Table 1, and the
# paper's "ops" column in millions. The paper's params column (in units of 1024 weights) is loose:
# it prints 4c as 463K and 5a as 1072K where the widths give 497.5K and 1018K — the arithmetic is
# tested instead. Its ops entries round to the nearest million except two: 4a prints 73M for
# 14·14·375,552 = 73.6M, and 5a prints 54M for 7·7·1,042,432 = 51.1M (a slip).
INCEPTION = {
    "3a": (192, 64, 96, 128, 16, 32, 32, 28, 128), "3b": (256, 128, 128, 192, 32, 96, 64, 28, 304),
    "4a": (480, 192, 96, 208, 16, 48, 64, 14, None), "4b": (512, 160, 112, 224, 24, 64, 64, 14, 88),
    "4c": (512, 128, 128, 256, 24, 64, 64, 14, 100),
    "4d": (512, 112, 144, 288, 32, 64, 64, 14, 119),
    "4e": (528, 256, 160, 320, 32, 128, 128, 14, 170),
    "5a": (832, 256, 160, 320, 32, 128, 128, 7, None),
    "5b": (832, 384, 192, 384, 48, 128, 128, 7, 71),
}


def test_googlenet_matches_table_1():
    r = archcalc.analyze(archcalc.load(SPECS / "googlenet.yaml"))
    assert {k: r[k].output for k in GOOGLENET_TABLE_1} == GOOGLENET_TABLE_1
    blocks = {row.name: row for row in fold(r.layers, 0)}
    for name, (cin, c1, r3, c3, r5, c5, pp, hw, mops) in INCEPTION.items():
        weights = cin * c1 + cin * r3 + 9 * r3 * c3 + cin * r5 + 25 * r5 * c5 + cin * pp
        biases = c1 + r3 + c3 + r5 + c5 + pp
        row = blocks[f"inception_{name}"]
        assert row.params == weights + biases, name
        assert row.macs == hw * hw * weights, name
        if mops is not None:
            assert round(row.macs / 1e6) == mops, name
    # conv1: the paper prints 2.7K params and 34M ops; 7·7·3·64 = 9,408 weights, 118M MACs
    assert r["conv1/7x7_s2"].params == 9_408 + 64
    assert r["conv1/7x7_s2"].macs == 112 * 112 * 9_408


def test_googlenet_inception_branches_and_receptive_field():
    net = archcalc.load(SPECS / "googlenet.yaml")
    cat = net["inception_3a/output"]
    assert len(cat.inputs) == 4 and cat.scope == ("inception_3a",)
    r = archcalc.analyze(net)
    # all four branches are centred ('same' padding everywhere): aligned, and the 5×5 branch is
    # the widest: RF(3a) = RF(pool2) + 4·jump(8)
    assert r["inception_3a/output"].rf.aligned
    assert r["inception_3a/output"].rf.size[0] == r["pool2/3x3_s2"].rf.size[0] + 4 * 8


def test_googlenet_peak_holds_branches_until_their_merge():
    r = archcalc.analyze(archcalc.load(SPECS / "googlenet.yaml"))
    assert r.totals.peak_bytes <= r.totals.activation_bytes
    assert r.totals.peak_layer     # a named layer


def test_mobilenet_v1():
    r = archcalc.analyze(archcalc.load(SPECS / "mobilenet_v1.yaml"))
    # Keras MobileNet: 4,253,864 "Total params" (BatchNorm's moving statistics included),
    # 4,231,976 trainable; the paper: 569 M mult-adds
    assert r.totals.params + r.totals.buffers == 4_253_864
    assert r.totals.params == r.totals.trainable_params == 4_231_976
    assert round(r.totals.macs / 1e6) == 569
    dw = r["block2/dw"]
    assert dw.output == (56, 56, 64) and dw.params == 3 * 3 * 64 and dw.macs == 56 * 56 * 64 * 9
    assert r["block13/pw"].output == (7, 7, 1024)


def test_depthwise_multiplier():
    r = analyze_text("name: d\ninput: 8x8x4\nlayers:\n  - {op: dwconv, multiplier: 2}\n")
    row = r["dwconv1"]
    assert row.output == (8, 8, 8) and row.params == 3 * 3 * 8 + 8 and row.macs == 8 * 8 * 8 * 9
