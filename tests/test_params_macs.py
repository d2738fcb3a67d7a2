"""Parameters and MACs, with expected values derived by hand from the formulas
(conv: k_h·k_w·C_in/groups·C_out + C_out; FC: in·out + out; MACs:
H_out·W_out·C_out·C_in/groups·k_h·k_w and in·out) and from published tables."""
import pytest
from conftest import SPECS

import archcalc


def conv_p(k, cin, cout, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


def fc_p(n_in, n_out, bias=True):
    return n_in * n_out + (n_out if bias else 0)


def total(spec, input=(224, 224, 3), **kw):
    return archcalc.analyze(archcalc.parse(spec, input=input, **kw)).totals


def test_alexnet_conv1_34944():
    # DI504: 11·11·3·96 = 34,848 weights + 96 biases = 34,944 learnables
    r = archcalc.analyze(archcalc.parse("C11D96S4P0", input=(227, 227, 3)))
    assert r["conv1"].params == 34_944 == 11 * 11 * 3 * 96 + 96


def test_quiz_750_weights():
    # Artificial Neural Networks deck quiz: 10 filters of 5×5×3 are 750 weights (no biases)
    net = archcalc.parse("name: q\ninput: 32x32x3\nlayers:\n  - {op: conv, filters: 10, kernel: 5, "
                         "padding: 0, bias: false}\n")
    assert archcalc.analyze(net).totals.params == 750


def test_conv_filter_parameters_c_n2_plus_1():
    # Olsen: a filter N×N over C channels has C·N² + 1 parameters; one filter, C = 3, N = 3 → 28
    assert total("C3D1", input=(8, 8, 3)).params == 3 * 3 * 3 + 1


def test_vgg16_published_total():
    # torchvision vgg16: 138,357,544 parameters; 15.47 GFLOPS in its docs (multiply-adds)
    r = archcalc.analyze(archcalc.load(SPECS / "vgg16.yaml"))
    convs = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
             (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
    by_hand = sum(conv_p(3, a, b) for a, b in convs) + fc_p(7 * 7 * 512, 4096) \
        + fc_p(4096, 4096) + fc_p(4096, 1000)
    assert r.totals.params == by_hand == 138_357_544
    sizes = [224, 224, 112, 112, 56, 56, 56, 28, 28, 28, 14, 14, 14]
    macs = sum(s * s * b * a * 9 for s, (a, b) in zip(sizes, convs)) \
        + 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * 1000
    assert r.totals.macs == macs
    assert round(r.totals.macs / 1e9, 2) == 15.47
    assert r.totals.flops == 2 * r.totals.macs


def test_vgg16_per_layer_weights_match_the_lecture_table():
    # Olsen's VGG16 walkthrough ("not counting biases"): 1,728; 36,864; ...; 102,760,448; ...
    text = open(SPECS / "vgg16.yaml").read().replace("name: vgg16", "name: vgg16\n") \
        .replace("defaults:", "defaults:\n  bias: false")
    r = archcalc.analyze(archcalc.parse(text))
    lecture = [1_728, 36_864, 73_728, 147_456, 294_912, 589_824, 589_824, 1_179_648, 2_359_296,
               2_359_296, 2_359_296, 2_359_296, 2_359_296, 102_760_448, 16_777_216, 4_096_000]
    assert [row.params for row in r.layers if row.params] == lecture


def test_vgg_table_matches_the_papers_table_2():
    # Simonyan & Zisserman, Table 2: 133, 133, 133, 134, 138, 144 million parameters
    nets = archcalc.load(SPECS / "vgg_table.tsv")
    got = {name: round(archcalc.analyze(n).totals.params / 1e6) for name, n in nets.items()}
    assert got == {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}


def test_alexnet_spec():
    r = archcalc.analyze(archcalc.load(SPECS / "alexnet.yaml"))
    convs = conv_p(11, 3, 96) + conv_p(5, 96, 256) + conv_p(3, 256, 384) + conv_p(3, 384, 384) \
        + conv_p(3, 384, 256)
    fcs = fc_p(6 * 6 * 256, 4096) + fc_p(4096, 4096) + fc_p(4096, 1000)
    assert r.totals.params == convs + fcs == 62_378_344
    assert [row.output for row in r.layers if row.op == "maxpool"] == \
        [(27, 27, 96), (13, 13, 256), (6, 6, 256)]


def test_zfnet_volumes_match_the_lecture_table():
    r = archcalc.analyze(archcalc.load(SPECS / "zfnet.yaml"))
    want = {"pool1": (55, 55, 96), "pool2": (13, 13, 256), "conv3": (13, 13, 512),
            "conv4": (13, 13, 1024), "conv5": (13, 13, 512), "fc1": (1, 1, 4096),
            "fc3": (1, 1, 1000)}
    assert {k: r[k].output for k in want} == want


def test_lenet5():
    r = archcalc.analyze(archcalc.load(SPECS / "lenet5.yaml"))
    assert r.totals.params == conv_p(5, 1, 6) + conv_p(5, 6, 16) + conv_p(5, 16, 120) \
        + fc_p(120, 84) + fc_p(84, 10) == 61_706
    assert r["C5"].output == (1, 1, 120)


def test_simple_cnn_and_the_lectures_slips():
    # Olsen's table claims 282,640 feature parameters, but its level-3 rows use 64 input channels
    # where the level-2 output has 32 (18,432 should be 32·3·3·32 = 9,216 and 36,864 should be
    # 64·3·3·32 = 18,432) and only its first row counts biases (112 = 4·3·3·3 + 4).
    # The right count without biases is 254,988; with biases 255,400.
    widths = [(3, 4), (4, 8), (8, 16), (16, 32), (32, 32), (32, 64), (64, 128), (128, 128)]
    assert sum(conv_p(3, a, b, bias=False) for a, b in widths) == 254_988
    r = archcalc.analyze(archcalc.load(SPECS / "simple_cnn.yaml"))
    feat = sum(row.params for row in r.layers if row.op == "conv")
    assert feat == sum(conv_p(3, a, b) for a, b in widths) == 255_400
    # FC M: (N/16)²·128·M = N²·M/2; at N = 224, M = 100: 2,508,800 weights + 100 biases
    assert r["fc1"].params == 224 * 224 * 100 // 2 + 100


def test_simple_cnn_at_the_slides_n_200_is_inexact():
    text = open(SPECS / "simple_cnn.yaml").read().replace("224x224x3", "200x200x3")
    with pytest.raises(archcalc.ArchcalcError) as e:
        archcalc.analyze(archcalc.parse(text))
    assert "(25 − 2 + 2·0)/2 + 1 = 12.5" in str(e.value)


def test_groups_depthwise_dilation_no_bias():
    spec = """name: g
input: 16x16x32
layers:
  - {op: conv, filters: 64, kernel: 3, groups: 4}
  - {op: conv, filters: 64, kernel: 3, groups: 64, bias: false}
  - {op: conv, filters: 8, kernel: 3, dilation: 2, padding: 2}
"""
    r = archcalc.analyze(archcalc.parse(spec))
    assert r["conv1"].params == 3 * 3 * (32 // 4) * 64 + 64
    assert r["conv1"].macs == 16 * 16 * 64 * (32 // 4) * 9
    assert r["conv2"].params == 3 * 3 * 1 * 64          # depthwise, no bias
    assert r["conv2"].macs == 16 * 16 * 64 * 1 * 9
    assert r["conv3"].output == (16, 16, 8)
    assert r["conv3"].params == conv_p(3, 64, 8)


def test_batchnorm_trainable_and_buffers():
    r = archcalc.analyze(archcalc.parse("C3D16 BN", input=(8, 8, 3)))
    bn = r["bn1"]
    # γ, β: parameters (PyTorch's BatchNorm2d.parameters()); running mean, var: buffers
    assert (bn.params, bn.trainable_params, bn.buffers) == (2 * 16, 2 * 16, 2 * 16)
    conv = 3 * 3 * 3 * 16 + 16
    assert (r.totals.params, r.totals.trainable_params) == (conv + 32, conv + 32)
    assert r.totals.buffers == 32 and r.totals.param_bytes == 4 * (conv + 64)


def test_fc_macs_and_no_bias_in_macs():
    r = archcalc.analyze(archcalc.parse("FC10", input=(4, 4, 2)))
    assert r["fc1"].macs == 32 * 10 and r["fc1"].params == 32 * 10 + 10
