"""The YAML block language (docs/spec-languages.md, "Blocks that say what designers mean"): a
block's input volume (in.h, in.w, in.c), optional layers (when:), expressions with comparisons,
and/or/not, min/max/round/floor/ceil and make_divisible, top-level params, and stage tables.

The proofs are two networks written with one block each: MobileNetV2 (1.0, 224) against
torchvision's documented count, and ResNet-18 with identity-or-projection decided by when:.
"""
from __future__ import annotations

import pytest
from conftest import run_cli

import archcalc
from archcalc.errors import ArchcalcError, SourcePos
from archcalc.spec.yaml import evaluate as _eval
from archcalc.spec.yaml import make_divisible

# MobileNetV2 (Sandler et al. 2018, Table 2) as torchvision.models.mobilenet_v2 builds it: one
# inverted-residual block; the 1×1 expansion exists only where t ≠ 1, the residual add only where
# the stride is 1 and the block keeps its width. Widths are make_divisible(c × width_mult, 8).
# MobileNetV2 uses ReLU6, which has no parameters and no MACs: `relu` stands in for it here only
# because relu6 is being added by another change; once relu6 exists this spec (and the one to be
# shipped in specs/) must use it, or the exported graph and its runtime are not faithful.
MOBILENET_V2 = """
name: mobilenet_v2
input: 224x224x3
params: {width_mult: 1.0}
defaults: {bias: false}
blocks:
  inverted_residual:
    params: {t: null, out: null, stride: 1}
    layers:
      - {op: conv, name: expand, filters: "${t * in.c}", kernel: 1, padding: 0, when: "${t != 1}"}
      - {op: batchnorm, name: expand_bn, when: "${t != 1}"}
      - {op: relu, name: expand_relu, when: "${t != 1}"}        # relu6 once it exists
      - {op: dwconv, name: dw, stride: $stride, padding: 1}
      - {op: batchnorm, name: dw_bn}
      - {op: relu, name: dw_relu}                                # relu6 once it exists
      - {op: conv, name: project, filters: $out, kernel: 1, padding: 0}
      - {op: batchnorm, name: project_bn}
      - {op: add, name: add, inputs: [project_bn, input], when: "${stride == 1 and in.c == out}"}
layers:
  - {op: conv, name: stem, filters: "${make_divisible(32 * width_mult)}", kernel: 3, stride: 2,
     padding: 1}
  - BN R
  - stages:
      block: inverted_residual
      with: {t: $t, out: "${make_divisible(c * width_mult)}"}
      table:
        - [t, c, n, s]
        - [1, 16, 1, 1]
        - [6, 24, 2, 2]
        - [6, 32, 3, 2]
        - [6, 64, 4, 2]
        - [6, 96, 3, 1]
        - [6, 160, 3, 2]
        - [6, 320, 1, 1]
  - {op: conv, name: head, filters: "${make_divisible(1280 * max(1.0, width_mult))}", kernel: 1,
     padding: 0}
  - BN R GAP
  - {op: dropout, rate: 0.2}
  - {op: fc, name: classifier, units: 1000, bias: true}
"""

# ResNet-18 (torchvision.models.resnet18) with ONE basic block: the projection (downsample.0/1)
# exists only where the stride or the width changes; where it is absent its name stands for the
# block input, so the add reads [bn2, input].
RESNET18 = """
name: resnet18
input: 224x224x3
defaults: {bias: false}
blocks:
  basic:
    params: {width: null, stride: 1}
    layers:
      - {op: conv, name: conv1, filters: $width, kernel: 3, stride: $stride, padding: 1}
      - {op: batchnorm, name: bn1}
      - {op: relu, name: relu1}
      - {op: conv, name: conv2, filters: $width, kernel: 3, padding: 1}
      - {op: batchnorm, name: bn2}
      - {op: conv, name: downsample.0, inputs: input, filters: $width, kernel: 1, stride: $stride,
         padding: 0, when: "${stride != 1 or in.c != width}"}
      - {op: batchnorm, name: downsample.1, when: "${stride != 1 or in.c != width}"}
      - {op: add, name: add, inputs: [bn2, downsample.1]}
      - {op: relu, name: relu}
layers:
  - {op: conv, name: conv1, filters: 64, kernel: 7, stride: 2, padding: 3}
  - {op: batchnorm, name: bn1}
  - {op: relu, name: relu}
  - {op: maxpool, name: maxpool, kernel: 3, stride: 2, padding: 1}
  - stages:
      block: basic
      name: "layer{stage}"
      table: [[width, n, s], [64, 2, 1], [128, 2, 2], [256, 2, 2], [512, 2, 2]]
  - {op: global_avgpool, name: avgpool}
  - {op: fc, name: fc, units: 1000, bias: true}
"""


def _error(text: str) -> list:
    with pytest.raises(ArchcalcError) as e:
        archcalc.analyze(archcalc.parse(text, file="s.yaml"))
    return e.value.diagnostics


# ---------------------------------------------------------------------------------------------
# the proofs

def test_mobilenet_v2_is_one_block_and_a_stage_table():
    net = archcalc.parse(MOBILENET_V2)
    report = archcalc.analyze(net)
    # torchvision's mobilenet_v2 docs (IMAGENET1K_V1): 3,504,872 parameters, 0.30 GFLOPS
    assert report.totals.params == 3_504_872
    assert abs(report.totals.macs - 0.30e9) <= 0.005 * 0.30e9
    # 17 blocks, named after their stage (Table 2's rows) and their place in it
    blocks = list(net.block_outputs)
    assert blocks == ["stage1.0", "stage2.0", "stage2.1", "stage3.0", "stage3.1", "stage3.2",
                      "stage4.0", "stage4.1", "stage4.2", "stage4.3", "stage5.0", "stage5.1",
                      "stage5.2", "stage6.0", "stage6.1", "stage6.2", "stage7.0"]
    # t = 1: no expansion; the depthwise conv reads the stem's output directly
    assert "stage1.0/expand" not in net.by_name
    assert net["stage1.0/dw"].inputs == ("relu1",)
    # the first block of a stage takes its stride, the others stride 1
    assert net["stage4.0/dw"].attrs["stride"] == (2, 2)
    assert net["stage4.1/dw"].attrs["stride"] == (1, 1)
    assert net["stage5.0/dw"].attrs["stride"] == (1, 1)        # s = 1 for the 96 row
    # the expansion reads in.c: 6 × 24 = 144 in stage2.1
    assert net["stage2.1/expand"].attrs["filters"] == 144
    # residual adds where stride 1 and in.c == out: 0+1+2+3+2+2+0 = 10 (by hand from Table 2)
    adds = [layer for layer in net.layers if layer.op == "add"]
    assert len(adds) == 10
    assert "stage5.0/add" not in net.by_name          # 64 → 96 channels: no add
    # merges name what the user wrote: the add reads project_bn and the block input
    assert net["stage2.1/add"].inputs == ("stage2.1/project_bn", "stage2.0/project_bn")
    assert net.block_outputs["stage2.0"] == "stage2.0/project_bn"     # absent add → project_bn
    assert net.block_outputs["stage2.1"] == "stage2.1/add"


def test_resnet18_with_identity_or_projection_decided_by_when():
    net = archcalc.parse(RESNET18)
    report = archcalc.analyze(net)
    assert report.totals.params == 11_689_512       # torchvision's resnet18 docs
    assert abs(report.totals.macs - 1.81e9) <= 0.005 * 1.81e9       # its 1.81 GFLOPS
    assert net["layer1.0/add"].inputs == ("layer1.0/bn2", "maxpool")            # identity
    assert net["layer2.0/add"].inputs == ("layer2.0/bn2", "layer2.0/downsample.1")  # projection
    assert net["layer2.1/add"].inputs == ("layer2.1/bn2", "layer2.0/relu")      # identity
    assert net["layer2.0/downsample.0"].attrs["stride"] == (2, 2)
    projections = [layer.name for layer in net.layers if layer.name.endswith("downsample.0")]
    assert projections == ["layer2.0/downsample.0", "layer3.0/downsample.0",
                           "layer4.0/downsample.0"]


def test_resnet18_matches_the_shipped_spec_layer_for_layer(specs_dir):
    ours = archcalc.parse(RESNET18)
    shipped = archcalc.load(specs_dir / "resnet18.yaml")
    assert [(x.name, x.op, x.inputs) for x in ours.layers] == \
        [(x.name, x.op, x.inputs) for x in shipped.layers]


def _torch_mobilenet_v2(width_mult: float):
    """MobileNetV2 built layer by layer in PyTorch as torchvision's mobilenetv2.py builds it,
    with its _make_divisible written out here (an independent implementation of the count)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def divisible(v, d=8, min_value=None):
        min_value = min_value or d
        new_v = max(min_value, int(v + d / 2) // d * d)
        return new_v + d if new_v < 0.9 * v else new_v

    def cbr(i, o, k, s, g=1):
        return [nn.Conv2d(i, o, k, s, (k - 1) // 2, groups=g, bias=False), nn.BatchNorm2d(o),
                nn.ReLU6()]
    c_in = divisible(32 * width_mult)
    layers = cbr(3, c_in, 3, 2)
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        out = divisible(c * width_mult)
        for i in range(n):
            hidden = round(c_in * t)
            block = (cbr(c_in, hidden, 1, 1) if t != 1 else []) + cbr(hidden, hidden, 3,
                                                                      s if i == 0 else 1, hidden)
            block += [nn.Conv2d(hidden, out, 1, 1, 0, bias=False), nn.BatchNorm2d(out)]
            layers += block
            c_in = out
    last = divisible(1280 * max(1.0, width_mult))
    layers += cbr(c_in, last, 1, 1)
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
                          nn.Linear(last, 1000))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("width_mult", [1.0, 0.75, 1.4, 0.35])
def test_the_width_multiplier_follows_torchvision(width_mult):
    expected = _torch_mobilenet_v2(width_mult)
    text = MOBILENET_V2.replace("params: {width_mult: 1.0}",
                                f"params: {{width_mult: {width_mult}}}")
    assert archcalc.analyze(archcalc.parse(text)).totals.params == expected


# ---------------------------------------------------------------------------------------------
# in.h, in.w, in.c

def test_a_block_sees_its_input_volume():
    net = archcalc.parse("""
name: v
input: 12x10x6
blocks:
  look:
    params: {}
    layers:
      - {op: conv, name: wide, filters: "${6 * in.c}", kernel: 1}
      - {op: conv, name: area, inputs: input, filters: "${in.h * in.w}", kernel: 1}
layers:
  - {op: maxpool, kernel: 2}
  - {block: look, name: a}
  - {block: look, name: b}
""")
    # after the 2×2 pool: 6×5×6; block a reads it, block b reads a's output (6×5×30)
    assert net["a/wide"].attrs["filters"] == 36 and net["a/area"].attrs["filters"] == 30
    assert net["b/wide"].attrs["filters"] == 6 * 30 and net["b/area"].attrs["filters"] == 30


def test_in_volumes_follow_the_spec_rounding_and_strides():
    # (9 − 3 + 2·0)/2 + 1 = 4 under floor; the block sees 4×4
    net = archcalc.parse("""
name: r
input: 9x9x2
defaults: {rounding: floor}
blocks:
  b:
    layers: [{op: fc, name: f, units: "${in.h * 100 + in.w * 10 + in.c}"}]
layers:
  - {op: conv, filters: 5, kernel: 3, stride: 2, padding: 0}
  - {block: b}
""")
    assert net["b1/f"].attrs["units"] == 445


# ---------------------------------------------------------------------------------------------
# when:

def test_an_absent_layer_stands_for_its_input():
    net = archcalc.parse("""
name: w
input: 8x8x4
blocks:
  res:
    params: {out: null}
    layers:
      - {op: conv, name: c, filters: $out, kernel: 3}
      - {op: conv, name: proj, inputs: input, filters: $out, kernel: 1, when: "${in.c != out}"}
      - {op: add, name: sum, inputs: [c, proj]}
    output: sum
layers:
  - {block: res, name: same, out: 4}
  - {block: res, name: wider, out: 8}
""")
    assert net["same/sum"].inputs == ("same/c", "input")
    assert net["wider/sum"].inputs == ("wider/c", "wider/proj")
    assert net["wider/proj"].inputs == ("same/sum",)


def test_the_next_layer_follows_an_absent_layer_input():
    net = archcalc.parse("""
name: w
input: 8x8x4
layers:
  - {op: conv, name: a, filters: 4}
  - {op: conv, name: b, filters: 4}
  - {op: conv, name: skip, inputs: a, filters: 4, when: false}
  - {op: relu, name: r}
""")
    # skip is absent: identity on its input a, so r reads a (as it would read skip)
    assert net["r"].inputs == ("a",)


def test_when_on_a_block_instance():
    text = """
name: w
input: 8x8x4
params: {se: 0}
blocks:
  two:
    layers: [{op: conv, name: c, filters: 4}, {op: relu, name: r}]
layers:
  - {op: conv, name: stem, filters: 4}
  - {block: two, name: extra, when: "${se > 0 and in.c == 4}"}
  - {op: add, name: sum, inputs: [stem, extra]}
"""
    off = archcalc.parse(text)
    assert "extra/c" not in off.by_name
    assert off["sum"].inputs == ("stem", "stem")
    on = archcalc.parse(text.replace("se: 0", "se: 0.25"))
    assert on["sum"].inputs == ("stem", "extra/r")


def test_when_must_be_a_boolean():
    diags = _error("name: w\ninput: 8x8x4\nblocks:\n  b:\n    params: {stride: 1}\n    layers:\n"
                   "      - {op: conv, filters: 4, when: $stride}\n"
                   "layers:\n  - {block: b}\n  - {block: b, stride: 2}\n")
    assert len(diags) == 1, [d.render() for d in diags]
    d = diags[0]
    assert (d.pos.line, d.pos.col) == (7, 38)
    assert "when: must be true or false, but '$stride' is a number" in d.message
    assert "b1" in d.message and "b2" in d.message     # once, naming both instances
    assert "stride == 1" in d.hint


def test_when_literal_that_is_not_a_boolean():
    diags = _error("name: w\ninput: 8x8x4\nlayers:\n  - {op: conv, filters: 4, when: 3}\n")
    assert len(diags) == 1 and "when: must be true or false, got 3" in diags[0].message


# ---------------------------------------------------------------------------------------------
# expressions

P = SourcePos("e.yaml", 1, 1)


@pytest.mark.parametrize("expr, env, value", [
    ("7 // 2", {}, 3),
    ("1 < 2 <= 2 < 3", {}, True),
    ("1 < 2 > 3", {}, False),
    ("s == 1 and c != 4", {"s": 1, "c": 4}, False),
    ("s == 1 or not c == 4", {"s": 2, "c": 5}, True),
    ("8 if t == 1 else 16", {"t": 1}, 8),
    ("se", {"se": True}, True),
    ("se == true", {"se": True}, True),
    ("min(3, 1, 2) + max(4, 9)", {}, 10),
    ("floor(-2.5)", {}, -3),
    ("ceil(2.1)", {}, 3),
    ("ceil(4 * 1.1)", {}, 5),           # EfficientNet-B1's depth 1.1 × 4 repeats → 5
    ("round(2.5) + round(3.5)", {}, 6),  # Python's round: halves to even, 2 + 4
    ("make_divisible(24)", {}, 24),
    # torchvision's _make_divisible by hand: int(12 + 4)//8*8 = 16 (≥ 0.9·12)
    ("make_divisible(16 * 0.75)", {}, 16),
    ("make_divisible(37)", {}, 40),                  # int(41)//8*8 = 40
    ("make_divisible(10)", {}, 16),                  # 8 < 0.9·10 = 9 → 8 + 8
    ("make_divisible(3, 8, 1)", {}, 9),              # max(1, 0) = 1 < 2.7 → 1 + 8
    ("make_divisible(x=100, divisor=16, min_value=None)", {}, 96),   # int(108)//16*16 = 96
    ("make_divisible(1280 * max(1.0, 1.4))", {}, 1792),
])
def test_expressions(expr, env, value):
    got = _eval(expr, env, P)
    assert got == value and type(got) is type(value)


def test_make_divisible_is_torchvisions():
    # torchvision's MobileNetV3 (0.75) widths, from its _make_divisible by hand:
    # 16·0.75 = 12 → 16; 72·0.75 = 54 → int(58)//8*8 = 56; 40·0.75 = 30 → 32; 960·0.75 = 720
    assert [make_divisible(c * 0.75) for c in (16, 72, 40, 960)] == [16, 56, 32, 720]


@pytest.mark.parametrize("expr, needle", [
    ("2 ** 3", "operator ** is not supported"),
    ("x.real", "cannot evaluate"),
    ("__import__('os')", "unknown function '__import__'"),
    ("open(1)", "unknown function 'open'"),
    ("'a' + 'b'", "cannot evaluate"),
    ("[1, 2]", "cannot evaluate"),
    ("(lambda: 1)()", "cannot evaluate"),
    ("1e308 * 1e308", "too large"),
    ("2 ** 62 * 4", "operator ** is not supported"),
    ("4611686018427387904 * 4", "too large"),
    ("ceil(1e400)", "too large"),
    ("1 and 2", "and takes true or false"),
    ("not 3", "not takes true or false"),
    ("1 if 2 else 3", "takes true or false"),
    ("x < true", "comparisons take numbers"),
    ("min()", "min takes 1 or more arguments"),
    ("floor(1, 2)", "floor takes 1 argument"),
    ("make_divisible(10, divisor=0)", "divisor must be a whole number"),
    ("make_divisible(10, step=8)", "takes no argument 'step'"),
    ("1 / 0", "division by zero"),
    ("mx(1, 2)", "did you mean 'max'"),
])
def test_expressions_stay_bounded(expr, needle):
    with pytest.raises(ArchcalcError) as e:
        _eval(expr, {"x": 1}, P)
    assert needle in e.value.diagnostics[0].render(), e.value.diagnostics[0].render()


def test_an_unknown_variable_suggests_the_near_one():
    diags = _error("name: w\ninput: 8x8x4\nblocks:\n  b:\n    params: {width: 4}\n    layers:\n"
                   "      - {op: conv, filters: '${2 * widht}'}\nlayers:\n  - {block: b}\n")
    assert len(diags) == 1
    assert "unknown parameter 'widht'" in diags[0].message
    assert "did you mean 'width'?" in diags[0].hint
    assert (diags[0].pos.line, diags[0].pos.col) == (7, 29)


def test_an_in_name_that_does_not_exist():
    diags = _error("name: w\ninput: 8x8x4\nblocks:\n  b:\n    layers:\n"
                   "      - {op: conv, filters: '${in.channels}'}\nlayers:\n  - {block: b}\n")
    assert len(diags) == 1
    assert "uses in.channels, which does not exist" in diags[0].message
    assert "in.h (height), in.w (width), in.c (channels)" in diags[0].hint


def test_in_outside_a_block():
    diags = _error("name: w\ninput: 8x8x4\nlayers:\n  - {op: conv, filters: '${in.c}'}\n")
    assert len(diags) == 1 and "outside a block" in diags[0].message


def test_an_unknown_volume_is_said_once_and_the_real_error_once():
    # the stem's 7×7/2 does not divide 224 under exact rounding: that is the real error; the
    # blocks after it cannot know in.c: one error says why, the rest fail quietly
    text = RESNET18.replace("padding: 3}", "padding: 3, rounding: exact}", 1)
    diags = _error(text)
    assert len(diags) == 2, [d.render() for d in diags]
    real, why = diags
    assert real.layer == "conv1" and "is not a whole number" in real.message
    assert why.message.startswith("in.c is unknown")
    assert "layer 'conv1' before it has an error" in why.message


def test_an_unknown_volume_after_a_build_error():
    text = RESNET18.replace("{op: maxpool, name: maxpool, kernel: 3",
                            "{op: maxpool, name: maxpool, kernal: 3")
    diags = _error(text)
    assert len(diags) == 2, [d.render() for d in diags]
    assert "takes no attribute 'kernal'" in diags[0].message
    assert "could not be built" in diags[1].message


# ---------------------------------------------------------------------------------------------
# stage tables

def test_stage_table_rows_expand_into_blocks():
    net = archcalc.parse("""
name: s
input: 32x32x3
blocks:
  b:
    params: {out: null, stride: 1}
    layers: [{op: conv, name: c, filters: $out, stride: $stride}]
layers:
  - stages:
      block: b
      table: [[out, n, s], [8, 1, 1], [16, 3, 2]]
""")
    assert [layer.name for layer in net.layers[1:]] == [
        "stage1.0/c", "stage2.0/c", "stage2.1/c", "stage2.2/c"]
    assert [net[f"stage2.{i}/c"].attrs["stride"] for i in range(3)] == [(2, 2), (1, 1), (1, 1)]
    assert net["stage2.0/c"].attrs["filters"] == 16


def test_efficientnet_multipliers_apply_through_expressions():
    # EfficientNet-B1: depth 1.1, width 1.0; repeats ceil(n · 1.1) for n = 1, 2, 2, 3, 3, 4, 1
    # are 2, 3, 3, 4, 4, 5, 2 (by hand); widths make_divisible(c · width)
    net = archcalc.parse("""
name: e
input: 32x32x3
params: {width_mult: 1.0, depth_mult: 1.1}
blocks:
  mb:
    params: {out: null, stride: 1}
    layers: [{op: conv, name: c, filters: $out, kernel: 1, stride: $stride, padding: 0}]
layers:
  - stages:
      block: mb
      name: "s{stage}"
      repeat: "${ceil(n * depth_mult)}"
      with: {out: "${make_divisible(c * width_mult)}"}
      table:
        - [c, n, s]
        - [16, 1, 1]
        - [24, 2, 2]
        - [40, 2, 2]
        - [80, 3, 2]
        - [112, 3, 1]
        - [192, 4, 2]
        - [320, 1, 1]
""")
    per_stage = [sum(1 for b in net.block_outputs if b.startswith(f"s{k}.")) for k in range(1, 8)]
    assert per_stage == [2, 3, 3, 4, 4, 5, 2]
    assert net["s7.1/c"].attrs["filters"] == 320


def test_stage_table_row_that_does_not_match_its_header():
    diags = _error("name: s\ninput: 8x8x3\nblocks:\n  b:\n    params: {out: null, stride: 1}\n"
                   "    layers: [{op: conv, filters: $out, stride: $stride}]\nlayers:\n"
                   "  - stages:\n      block: b\n      table:\n        - [out, n, s]\n"
                   "        - [8, 1, 1]\n        - [16, 2]\n")
    assert len(diags) == 1
    d = diags[0]
    assert (d.pos.line, d.pos.col) == (13, 11)
    assert "row 2 of the stage table has 2 values, the header [out, n, s] has 3" in d.message
    assert "[out, n, s]" in d.hint


@pytest.mark.parametrize("table, needle", [
    ("[[out, 5, s], [8, 1, 1]]", "column 2 of the header is 5, not a name"),
    ("[[out, n, out], [8, 1, 1]]", "the column 'out' is named twice"),
    ("[[out, s], [8, 1]]", "no column n"),
    ("[[out, n, s]]", "a list of rows"),
    ("[[out, n, s], [8, 1.5, 1]]", "whole number"),
])
def test_stage_table_errors(table, needle):
    diags = _error("name: s\ninput: 8x8x3\nblocks:\n  b:\n    params: {out: null, stride: 1}\n"
                   "    layers: [{op: conv, filters: $out, stride: $stride}]\nlayers:\n"
                   f"  - stages: {{block: b, table: {table}}}\n")
    assert len(diags) == 1 and needle in diags[0].message, [d.render() for d in diags]


def test_stage_with_names_block_parameters():
    diags = _error("name: s\ninput: 8x8x3\nblocks:\n  b:\n    params: {out: null, stride: 1}\n"
                   "    layers: [{op: conv, filters: $out, stride: $stride}]\nlayers:\n"
                   "  - stages: {block: b, with: {otu: $c}, table: [[c, n, s], [8, 1, 1]]}\n")
    assert len(diags) == 1 and "has no parameter 'otu'" in diags[0].message
    assert "did you mean 'out'?" in diags[0].hint
    assert (diags[0].pos.line, diags[0].pos.col) == (8, 31)


def test_top_level_params():
    net = archcalc.parse("name: p\ninput: 8x8x3\nparams: {w: 8, w2: '${2 * w}'}\n"
                         "layers:\n  - {op: conv, filters: $w2}\n")
    assert net["conv1"].attrs["filters"] == 16
    diags = _error("name: p\ninput: 8x8x3\nparams: {in: 8}\nlayers: [C]\n")
    assert "'in' cannot name a parameter" in diags[0].message


def test_the_documented_example_is_mobilenet_v2():
    import re

    from conftest import ROOT
    doc = (ROOT / "docs" / "spec-languages.md").read_text()
    text = next(m.group(1) for m in re.finditer(r"```yaml\n(.*?)```", doc, re.S)
                if "name: mobilenet_v2" in m.group(1))
    assert archcalc.analyze(archcalc.parse(text)).totals.params == 3_504_872


def test_a_stage_with_that_sets_the_stride_itself_wins():
    net = archcalc.parse("""
name: s
input: 32x32x3
blocks:
  b:
    params: {out: null, stride: 1}
    layers: [{op: conv, name: c, filters: $out, stride: $stride}]
layers:
  - stages:
      block: b
      with: {out: $out, stride: "${2 if i == 1 else 1}"}
      table: [[out, n, s], [8, 3, 2]]
""")
    assert [net[f"stage1.{i}/c"].attrs["stride"] for i in range(3)] == [(1, 1), (2, 2), (1, 1)]


def test_a_stage_stride_for_a_block_without_one_says_so(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: x\ninput: 8x8x3\nblocks:\n  b:\n    params: {c: null}\n"
                 "    layers: [{op: conv, filters: $c}]\nlayers:\n"
                 "  - {stages: {block: b, table: [[c, n, s], [8, 2, 2]]}}\n")
    with pytest.raises(ArchcalcError) as e:
        archcalc.load(str(p))
    d = e.value.diagnostics[0]
    assert d.message == "block 'b' has no parameter 'stride'"
    assert "did you mean" not in d.hint and "add a stride parameter to block 'b'" in d.hint


def test_two_unnamed_stage_tables_say_which_to_name(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: x\ninput: 8x8x3\nblocks:\n  b:\n    params: {c: null, stride: 1}\n"
                 "    layers: [{op: conv, name: conv, filters: $c, stride: $stride}]\nlayers:\n"
                 "  - {stages: {block: b, table: [[c, n, s], [8, 2, 2]]}}\n"
                 "  - {stages: {block: b, table: [[c, n, s], [16, 1, 1]]}}\n")
    with pytest.raises(ArchcalcError) as e:
        archcalc.load(str(p))
    (d,) = e.value.diagnostics
    assert d.message.startswith("the stage 'stage1' is built twice")
    assert d.pos.line == 9 and "its own name" in d.hint


def test_i_in_a_repeated_instances_parameters(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: x\ninput: 8x8x3\nblocks:\n  b:\n    params: {f: null}\n"
                 "    layers: [{op: conv, name: c, filters: $f, kernel: 1}]\nlayers:\n"
                 '  - {block: b, name: "b{i}", repeat: 3, f: "${4 + i}"}\n')
    net = archcalc.load(str(p))
    assert [net[f"b{i}/c"].attrs["filters"] for i in range(3)] == [4, 5, 6]


@pytest.mark.parametrize("expr, message", [
    ("2 ** 3", "the operator ** is not supported in '2 ** 3'"),
    ("3 & 1", "the operator & is not supported in '3 & 1'"),
])
def test_unsupported_operators_are_named(expr, message):
    with pytest.raises(ArchcalcError) as e:
        _eval(expr, {}, SourcePos("<t>"))
    assert e.value.diagnostics[0].message == message


def test_a_parameter_a_stage_table_leaves_out_says_where_to_give_it(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: x\ninput: 8x8x3\nblocks:\n  b:\n    params: {c: null, k: null}\n"
                 "    layers: [{op: conv, filters: $c, kernel: $k}]\nlayers:\n"
                 "  - {stages: {block: b, table: [[c, n], [8, 2]]}}\n")
    with pytest.raises(ArchcalcError) as e:
        archcalc.load(str(p))
    d = e.value.diagnostics[0]
    assert d.message == "block 'b' needs the parameter 'k'"
    assert d.hint.startswith("name a column k in the table's header")


def test_a_block_nothing_uses_is_reported(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: x\ninput: 8x8x3\nblocks:\n  unused:\n    layers: [{op: convv}]\n"
                 "layers:\n  - C3D4\n")
    (w,) = archcalc.analyze(archcalc.load(str(p))).diagnostics
    assert (w.severity, w.pos.line, w.pos.col) == ("warning", 4, 3)
    assert w.message == "block 'unused' is defined but never used (its layers are not checked)"


def test_a_misspelled_layers_key_of_a_block_is_named(tmp_path):
    spec = tmp_path / "b.yaml"
    spec.write_text("input: 8x8x3\nblocks:\n  b:\n    params: {heads: null}\n"
                    "    layer: [{op: relu}]\nlayers:\n  - {block: b, heads: 2}\n")
    p = run_cli("summary", str(spec))
    assert p.returncode == 1
    assert "b.yaml:5:5: error: unknown key 'layer' in block 'b'" in p.stderr, p.stderr
    assert "did you mean 'layers'?" in p.stderr
