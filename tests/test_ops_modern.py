"""The modern op vocabulary: activations (relu6, hardswish, hardsigmoid, silu, gelu,
leaky_relu, prelu, elu), normalization (groupnorm, layernorm, instancenorm), global max pooling
and broadcast element-wise merges (mul, add). Every expected value is worked out by hand in the
comments, or (the optional last tests) computed by PyTorch's own functional ops."""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import run_cli

import archcalc
from archcalc.errors import ArchcalcError, SourcePos
from archcalc.graph import Builder

POS = SourcePos("<test>")
ACTIVATIONS = ("relu6", "hardswish", "hardsigmoid", "silu", "gelu", "leaky_relu", "prelu", "elu")


def build(vol, layers):
    """A network from (op, attrs[, name[, inputs]]) tuples."""
    b = Builder("t", vol)
    for op, attrs, *rest in layers:
        name = rest[0] if rest else None
        inputs = rest[1] if len(rest) > 1 else None
        b.add(op, attrs, POS, name=name, inputs=inputs)
    return b.build("exact")


def rows(net, **kw):
    return {r.name: r for r in archcalc.analyze(net, **kw).layers}


# ---------------------------------------------------------------------------------------------
# shapes, parameters, MACs, in place

@pytest.mark.parametrize("op", ACTIVATIONS)
def test_activations_keep_the_volume_and_add_no_macs(op):
    net = build((8, 8, 3), [("conv", {"filters": 16}, "c"), (op, {}, "a")])
    r = rows(net)
    assert r["a"].output == (8, 8, 16)
    assert r["a"].macs == 0
    # prelu's default (shared: true, PyTorch's PReLU()) has one slope; the others no weights
    assert r["a"].params == (1 if op == "prelu" else 0)
    assert r["a"].rf.size == (3, 3)          # as the 3×3 conv before it


@pytest.mark.parametrize("op,inplace", [
    ("relu6", True), ("hardswish", True), ("hardsigmoid", True), ("silu", True),
    ("leaky_relu", True), ("elu", True),     # PyTorch offers inplace=True for these
    ("gelu", False), ("prelu", False),       # and not for these
])
def test_in_place_where_pytorch_offers_it(op, inplace):
    net = build((8, 8, 3), [("conv", {"filters": 16}, "c"), (op, {}, "a"), ("global_avgpool", {})])
    row = rows(net)["a"]
    assert row.inplace is inplace
    assert row.activations == (0 if inplace else 8 * 8 * 16)
    # --count-inplace gives every such op a buffer of its own
    assert rows(net, count_inplace=True)["a"].activations == 8 * 8 * 16


def test_prelu_parameters_per_channel_or_shared():
    net = build((4, 4, 24), [("prelu", {"shared": False}, "per"),
                             ("prelu", {"shared": True}, "one")])
    r = rows(net)
    assert r["per"].params == r["per"].trainable_params == 24     # PReLU(num_parameters=24)
    assert r["one"].params == 1                                   # PReLU()


def test_normalization_parameters():
    # γ and β per channel: 2·C = 2·32 = 64; no running buffers (statistics of the image itself)
    net = build((8, 8, 32), [("groupnorm", {"groups": 8}, "gn"), ("layernorm", {}, "ln"),
                             ("instancenorm", {}, "in0"),
                             ("instancenorm", {"affine": True}, "in1")])
    r = rows(net)
    assert (r["gn"].params, r["gn"].buffers, r["gn"].macs) == (64, 0, 0)
    assert (r["ln"].params, r["ln"].buffers) == (64, 0)
    assert (r["in0"].params, r["in0"].buffers) == (0, 0)          # InstanceNorm2d(32): affine off
    assert (r["in1"].params, r["in1"].buffers) == (64, 0)
    assert all(r[n].output == (8, 8, 32) for n in ("gn", "ln", "in0", "in1"))
    assert all(not r[n].inplace for n in ("gn", "ln", "in0", "in1"))


def test_groupnorm_defaults_to_32_groups():
    net = archcalc.parse("C3D64 GN GN16", input=(8, 8, 3))
    a = [layer.attrs for layer in net.layers if layer.op == "groupnorm"]
    assert [x["groups"] for x in a] == [32, 16]


def test_global_maxpool():
    net = build((7, 5, 12), [("global_maxpool", {}, "g")])
    row = rows(net)["g"]
    assert row.output == (1, 1, 12) and row.params == 0 and row.macs == 0
    assert row.rf.is_global


def se_block(c=16, squeeze=4):
    """A squeeze-and-excitation block after a 3×3 conv on 8×8×3 (torchvision's
    SqueezeExcitation: avgpool, 1×1 conv C→S, ReLU, 1×1 conv S→C, sigmoid, scale·input)."""
    return build((8, 8, 3), [
        ("conv", {"filters": c}, "c"),
        ("global_avgpool", {}, "sq"),
        ("conv", {"filters": squeeze, "kernel": 1, "padding": 0}, "fc1"),
        ("relu", {}, "r"),
        ("conv", {"filters": c, "kernel": 1, "padding": 0}, "fc2"),
        ("sigmoid", {}, "gate"),
        ("mul", {}, "scaled", ["c", "gate"]),
    ])


def test_se_multiply_shape_params_macs():
    r = rows(se_block())
    assert r["scaled"].output == (8, 8, 16)
    assert r["scaled"].params == 0 and r["scaled"].macs == 0     # element-wise: not counted
    # parameters: conv 3·3·3·16 + 16 = 448; fc1 16·4 + 4 = 68; fc2 4·16 + 16 = 80 → 596
    assert sum(x.params for x in r.values()) == 448 + 68 + 80
    # MACs: conv 8·8·16·3·3·3 = 27,648; fc1 16·4 = 64; fc2 4·16 = 64; the 8·8·16 = 1,024
    # multiplications of the gate are not counted (torchvision's GFLOPS rule)
    assert sum(x.macs for x in r.values()) == 27_648 + 64 + 64


def test_broadcast_either_order_and_spatial_maps():
    net = build((6, 4, 8), [
        ("conv", {"filters": 8}, "x"),
        ("global_avgpool", {}, "g"),
        ("mul", {}, "m1", ["g", "x"]),                 # 1×1×8 · 6×4×8
        ("conv", {"filters": 1, "kernel": 1, "padding": 0}, "map", ["x"]),
        ("mul", {}, "m2", ["x", "map"]),               # 6×4×8 · 6×4×1 (spatial attention)
        ("add", {}, "a1", ["x", "g"]),                 # broadcast add
        ("add", {}, "a2", ["x", "m1", "m2"]),          # equal volumes, as before
        ("mul", {}, "m3", ["g", "g"]),                 # 1×1×8 · 1×1×8 stays a vector
    ])
    r = rows(net)
    assert r["m1"].output == r["m2"].output == r["a1"].output == r["a2"].output == (6, 4, 8)
    assert r["m3"].output == (1, 1, 8)
    assert r["m3"].rf.is_global


def test_receptive_field_of_a_gated_volume_is_the_main_paths():
    # conv 3×3 then 3×3/2: r = 1 + 2·1 = 3, then 3 + 2·1 = 5, jump 2; the gate (global) is
    # broadcast over the places and left out of the local window (docs/definitions.md)
    net = build((17, 17, 3), [
        ("conv", {"filters": 8}, "c1"),
        ("conv", {"filters": 8, "stride": 2, "padding": 1}, "c2"),
        ("global_avgpool", {}, "sq"),
        ("sigmoid", {}, "gate"),
        ("mul", {}, "scaled", ["gate", "c2"]),
        ("conv", {"filters": 8}, "c3"),           # 5 + 2·2 = 9
        ("fc", {"units": 2}, "fc"),
    ])
    r = rows(net)
    assert r["gate"].rf.is_global
    assert not r["scaled"].rf.is_global
    assert r["scaled"].rf.size == (5, 5) and r["scaled"].rf.stride == (2, 2)
    assert r["c3"].rf.size == (9, 9)
    assert r["fc"].rf.is_global


def test_explain_states_the_gate_and_the_macs_rule():
    from archcalc.analysis import explain as ex
    net = se_block()
    (e,) = ex.explain(net, archcalc.analyze(net), ["scaled"])
    t = {f.key: f.text() for f in e.figures}
    assert t["out_h"] == "max(H₁, H₂) = max(8, 1) = 8  (broadcast: each input's size is the " \
        "output's or 1)"
    assert "multiplications over 8·8·16 = 1,024 output elements" in t["macs"]
    assert "not counted as MACs" in t["macs"] and "torchvision" in t["macs"]
    assert "gate (global, 1×1) is broadcast over the 8×8 places" in t["rf_size"]


# ---------------------------------------------------------------------------------------------
# errors: one located message with a fix

SE_BAD = """name: se
input: 8x8x3
layers:
  - {op: conv, name: c, filters: 16}
  - {op: global_avgpool, name: sq}
  - {op: conv, name: gate, filters: 8, kernel: 1, padding: 0}
  - {op: mul, name: scaled, inputs: [c, gate]}
"""


def test_a_gate_with_the_wrong_depth_is_a_located_error():
    with pytest.raises(ArchcalcError) as e:
        archcalc.analyze(archcalc.parse(SE_BAD))
    (d,) = e.value.diagnostics
    assert d.layer == "scaled" and d.pos.line == 7
    assert "mul needs inputs of the same volume, got c 8×8×16, gate 1×1×8" in d.message
    assert "the depth (16 vs 8) does not fit" in d.message
    assert "give the gate the main path's 16 channels" in d.hint


def test_spatial_mismatch_names_each_axis():
    net = build((8, 8, 4), [("conv", {"filters": 4}, "a"), ("maxpool", {}, "b", ["input"]),
                            ("mul", {}, "m", ["a", "b"])])
    with pytest.raises(ArchcalcError) as e:
        archcalc.analyze(net)
    d = e.value.diagnostics[0]
    assert "the height (8 vs 4) and width (8 vs 4) do not fit" in d.message
    assert "pool or resize it" in d.hint


def test_add_depth_mismatch_suggests_a_projection_of_that_width():
    net = build((8, 8, 4), [("conv", {"filters": 8}, "a"), ("add", {}, "s", ["a", "input"])])
    with pytest.raises(ArchcalcError) as e:
        archcalc.analyze(net)
    d = e.value.diagnostics[0]
    assert "add needs inputs of the same volume, got a 8×8×8, input 8×8×4" in d.message
    assert "1×1 conv of 8 filters" in d.hint


def test_groupnorm_groups_must_divide_the_channels():
    text = "name: g\ninput: 8x8x3\nlayers:\n  - C3D24\n  - {op: groupnorm, groups: 32}\n"
    with pytest.raises(ArchcalcError) as e:
        archcalc.analyze(archcalc.parse(text))
    (d,) = e.value.diagnostics
    assert d.pos.line == 5 and d.layer == "groupnorm1"
    assert "groupnorm groups = 32 must divide the 24 input channels from conv1" in d.message
    # the divisors of 24 nearest 32: 24 (8 away) and 12 (20 away)
    assert "groups: 12 or groups: 24" in d.hint


def test_the_cli_reports_a_bad_broadcast_without_a_traceback(tmp_path):
    path = tmp_path / "se.yaml"
    path.write_text(SE_BAD)
    got = run_cli("summary", str(path))
    text = got.stdout + got.stderr
    assert got.returncode == 1 and "Traceback" not in text
    assert "se.yaml:7" in text and "depth (16 vs 8)" in text


@pytest.mark.parametrize("op,attrs,needle", [
    ("leaky_relu", {"slope": "steep"}, "slope must be a number"),
    ("elu", {"alpha": [1]}, "alpha must be a number"),
    ("prelu", {"shared": "maybe"}, "shared must be true or false"),
    ("instancenorm", {"affine": 2}, "affine must be true or false"),
    ("groupnorm", {"groups": 0}, "groups must be at least 1"),
    ("layernorm", {"eps": -1}, "eps must be positive"),
    ("relu6", {"inplace": True}, "relu6 takes no attribute 'inplace'"),
])
def test_bad_attributes(op, attrs, needle):
    with pytest.raises(ArchcalcError) as e:
        build((4, 4, 8), [(op, attrs)])
    assert needle in e.value.diagnostics[0].message


@pytest.mark.parametrize("op,attr,hint", [
    ("leaky_relu", "negative_slope", "did you mean 'slope'?"),          # PyTorch's name
    ("groupnorm", "num_groups", "did you mean 'groups'?"),
    ("prelu", "num_parameters", "shared: false (one per channel, PReLU(num_parameters=C))"),
])
def test_pytorch_argument_names_get_archcalcs(op, attr, hint):
    with pytest.raises(ArchcalcError) as e:
        build((4, 4, 8), [(op, {attr: 2})])
    assert hint in e.value.diagnostics[0].hint


def test_yaml_spellings_and_tokens():
    spellings = {"swish": "silu", "hard_swish": "hardswish", "h_sigmoid": "hardsigmoid",
                 "leakyrelu": "leaky_relu", "gn": "groupnorm", "layernorm2d": "layernorm",
                 "instancenorm2d": "instancenorm", "gmp": "global_maxpool", "multiply": "mul",
                 "relu_6": "relu6"}
    for spelled, kind in spellings.items():
        op = archcalc.ops.lookup(spelled, POS)
        assert op.kind == kind, spelled
    tokens = {"R6": "relu6", "HS": "hardswish", "HSIG": "hardsigmoid", "SILU": "silu",
              "swish": "silu", "GELU": "gelu", "LRELU": "leaky_relu", "PRELU": "prelu",
              "ELU": "elu", "GN8": "groupnorm", "LN": "layernorm", "IN": "instancenorm",
              "GMP": "global_maxpool"}
    net = archcalc.parse("C3D16 " + " ".join(tokens), input=(8, 8, 3))
    assert [layer.op for layer in net.layers[2:]] == list(tokens.values())


# ---------------------------------------------------------------------------------------------
# ONNX: every new op runs in onnxruntime with the analyzer's volume and the hand-computed values

def _onnx():
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from archcalc.exporters import onnx as ox
    return ox, ort


def run_onnx(net, x, opset=None, values=None, weights="zeros"):
    """The network's outputs from onnxruntime for input x in archcalc's H×W×C (one image);
    returned as H×W×C arrays (vectors as 1×1×C)."""
    ox, ort = _onnx()
    model = ox.to_model(net, weights, opset=opset, values=values)
    ox.verify(model, net)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.asarray(x, np.float32).transpose(2, 0, 1)[None]
    outs = sess.run(None, {"input": x})
    return [o[0].transpose(1, 2, 0) if o.ndim == 4 else o[0][None, None] for o in outs]


def column(values):
    """Values as a 1×1×C volume (one pixel, one value per channel)."""
    return np.asarray(values, np.float32)[None, None]


def test_onnx_relu6():
    # min(max(x, 0), 6) on [-1, 3, 7] → [0, 3, 6]
    (y,) = run_onnx(build((1, 1, 3), [("relu6", {})]), column([-1, 3, 7]))
    np.testing.assert_array_equal(y.ravel(), [0, 3, 6])


POINTS = [-4, -3, -1, 0, 1, 3, 4]


@pytest.mark.parametrize("opset", [13, 17])       # 13: HardSigmoid·x; 14 on: HardSwish
def test_onnx_hardswish_and_hardsigmoid(opset):
    net = build((1, 1, 7), [("hardswish", {}, "hs"), ("hardsigmoid", {}, "hsig", ["input"])])
    hs, hsig = run_onnx(net, column(POINTS), opset=opset)
    # hardsigmoid = relu6(x + 3)/6: relu6 of [-1, 0, 2, 3, 4, 6, 7] is [0, 0, 2, 3, 4, 6, 6]
    np.testing.assert_allclose(hsig.ravel(), [0, 0, 1 / 3, 1 / 2, 2 / 3, 1, 1], rtol=1e-6)
    # hardswish = x·hardsigmoid(x): [0, 0, -1/3, 0, 2/3, 3, 4]
    np.testing.assert_allclose(hs.ravel(), [0, 0, -1 / 3, 0, 2 / 3, 3, 4], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("opset", [17, 20])       # 17: the erf formula; 20: the Gelu operator
def test_onnx_silu_gelu_leaky_elu(opset):
    net = build((1, 1, 3), [("silu", {}, "silu"), ("gelu", {}, "gelu", ["input"]),
                            ("leaky_relu", {"slope": 0.2}, "lrelu", ["input"]),
                            ("elu", {}, "elu", ["input"]),
                            ("elu", {"alpha": 2}, "elu2", ["input"])])
    silu, gelu, lrelu, elu, elu2 = run_onnx(net, column([-1, 0, 1]), opset=opset)
    # silu(x) = x/(1 + e^−x): silu(1) = 1/1.3678794 = 0.7310586,
    # silu(−1) = −1/3.7182818 = −0.2689414
    np.testing.assert_allclose(silu.ravel(), [-0.2689414, 0, 0.7310586], rtol=1e-6)
    # gelu(x) = x·Φ(x); Φ(1) = 0.8413447 (normal table): gelu(1) = 0.8413447, gelu(−1) =
    # −1·(1 − 0.8413447) = −0.1586553
    np.testing.assert_allclose(gelu.ravel(), [-0.1586553, 0, 0.8413447], rtol=1e-6)
    np.testing.assert_allclose(lrelu.ravel(), [-0.2, 0, 1], rtol=1e-7)
    # elu: α(e^−1 − 1) = −0.6321206 for α = 1, −1.2642411 for α = 2
    np.testing.assert_allclose(elu.ravel(), [-0.6321206, 0, 1], rtol=1e-6)
    np.testing.assert_allclose(elu2.ravel(), [-1.2642411, 0, 1], rtol=1e-6)


def test_onnx_gelu_formula_agrees_with_the_gelu_operator():
    net = build((2, 3, 4), [("gelu", {})])
    x = np.linspace(-4, 4, 24, dtype=np.float32).reshape(2, 3, 4)
    (a,) = run_onnx(net, x, opset=17)
    (b,) = run_onnx(net, x, opset=20)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a, [[[v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in row]
                                    for row in plane] for plane in x], rtol=1e-5, atol=1e-6)


def test_onnx_prelu_per_channel_and_shared():
    # a 1×2×2 volume: channel 0 = [−2, 3], channel 1 = [−4, 5]; slopes 0.5 and 0.25
    x = np.array([[[-2, -4], [3, 5]]], np.float32)          # H×W×C
    net = build((1, 2, 2), [("prelu", {"shared": False}, "per"),
                            ("prelu", {}, "one", ["input"])])
    per, one = run_onnx(net, x, values={"per.weight": np.array([0.5, 0.25]).reshape(2, 1, 1),
                                        "one.weight": np.array([0.1])})
    # per channel: −2·0.5 = −1, −4·0.25 = −1; positives unchanged
    np.testing.assert_allclose(per, [[[-1, -1], [3, 5]]])
    # shared 0.1: −0.2, −0.4
    np.testing.assert_allclose(one, [[[-0.2, -0.4], [3, 5]]], rtol=1e-6)


def test_onnx_prelu_initial_slope_is_pytorchs_quarter():
    (y,) = run_onnx(build((1, 1, 2), [("prelu", {"shared": False})]), column([-4, 4]),
                    weights="random")
    np.testing.assert_allclose(y.ravel(), [-1, 4])           # −4·0.25


def test_onnx_se_multiply():
    # a 2×2×2 volume times its own channel means (a 1×1×2 gate from global average pooling):
    # channel 0 = [[1, 2], [3, 4]] (mean 2.5), channel 1 = [[−1, 0], [1, 2]] (mean 0.5)
    x = np.stack([[[1, 2], [3, 4]], [[-1, 0], [1, 2]]], axis=-1).astype(np.float32)
    net = build((2, 2, 2), [("global_avgpool", {}, "gate"),
                            ("mul", {}, "scaled", ["input", "gate"])])
    (y,) = run_onnx(net, x)
    np.testing.assert_allclose(y[..., 0], [[2.5, 5], [7.5, 10]])
    np.testing.assert_allclose(y[..., 1], [[-0.5, 0], [0.5, 1]])


def test_onnx_se_with_fc_vector_gate_and_broadcast_add():
    # the gate as an fc output (a rank-2 [N, C] value, unsqueezed to [N, C, 1, 1]); an fc of
    # identity weights and bias [1, −1] on the channel maxima [4, 2] gives [5, 1]
    x = np.stack([[[1, 2], [3, 4]], [[-1, 0], [1, 2]]], axis=-1).astype(np.float32)
    net = build((2, 2, 2), [("global_maxpool", {}, "gmp"), ("fc", {"units": 2}, "fc"),
                            ("mul", {}, "scaled", ["input", "fc"]),
                            ("add", {}, "shifted", ["fc", "input"])])
    scaled, shifted = run_onnx(net, x, values={"fc.weight": np.eye(2),
                                               "fc.bias": np.array([1, -1])})
    np.testing.assert_allclose(scaled[..., 0], [[5, 10], [15, 20]])
    np.testing.assert_allclose(scaled[..., 1], [[-1, 0], [1, 2]])
    np.testing.assert_allclose(shifted[..., 0], [[6, 7], [8, 9]])         # x + 5
    np.testing.assert_allclose(shifted[..., 1], [[0, 1], [2, 3]])         # x + 1


def test_onnx_spatial_attention_map():
    # an H×W×1 map (a 1×1 conv summing both channels: [[0, 2], [4, 6]]) times the volume
    x = np.stack([[[1, 2], [3, 4]], [[-1, 0], [1, 2]]], axis=-1).astype(np.float32)
    net = build((2, 2, 2), [("conv", {"filters": 1, "kernel": 1, "padding": 0, "bias": False},
                             "map"), ("mul", {}, "gated", ["input", "map"])])
    (y,) = run_onnx(net, x, values={"map.weight": np.ones((1, 2, 1, 1))})
    np.testing.assert_allclose(y[..., 0], [[0, 4], [12, 24]])
    np.testing.assert_allclose(y[..., 1], [[0, 0], [4, 12]])


def test_onnx_groupnorm_by_hand():
    # 1×2×4, 2 groups of 2 channels. Group 0: channel 0 = [0, 0], channel 1 = [2, 2]: mean 1,
    # variance 1 → [−1, −1], [1, 1]. Group 1: channel 2 = [1, 5], channel 3 = [1, 5]: mean 3,
    # variance 4, std 2 → [−1, 1], [−1, 1]. Then γ = [1, 2, 3, 4], β = [0, 0, 1, −1]:
    # channel 0 [−1, −1], channel 1 [2, 2], channel 2 [−2, 4], channel 3 [−5, 3]
    # (eps = 1e-5 moves them by under 1e-5 relative)
    x = np.array([[[0, 2, 1, 1], [0, 2, 5, 5]]], np.float32)           # H×W×C
    net = build((1, 2, 4), [("groupnorm", {"groups": 2}, "gn")])
    (y,) = run_onnx(net, x, values={"gn.weight": np.array([1, 2, 3, 4]),
                                    "gn.bias": np.array([0, 0, 1, -1])})
    np.testing.assert_allclose(y[0].T, [[-1, -1], [2, 2], [-2, 4], [-5, 3]], rtol=1e-4)


@pytest.mark.parametrize("opset", [13, 17])       # 13: ReduceMean; 17: LayerNormalization
def test_onnx_layernorm_over_channels_by_hand(opset):
    # per place over the 2 channels: [1, 3] → mean 2, var 1 → [−1, 1]; [0, 4] → mean 2,
    # var 4 → [−1, 1]; γ = [2, 1], β = [0, 1] → [−2, 2] at both places
    x = np.array([[[1, 3], [0, 4]]], np.float32)                       # 1×2×2
    net = build((1, 2, 2), [("layernorm", {}, "ln")])
    (y,) = run_onnx(net, x, opset=opset, values={"ln.weight": np.array([2, 1]),
                                                 "ln.bias": np.array([0, 1])})
    np.testing.assert_allclose(y, [[[-2, 2], [-2, 2]]], rtol=1e-4)


def test_onnx_instancenorm_by_hand():
    # per channel over the places: channel 0 = [0, 2] → [−1, 1]; channel 1 = [3, 3] → [0, 0]
    x = np.array([[[0, 3], [2, 3]]], np.float32)
    net = build((1, 2, 2), [("instancenorm", {}, "in0"),
                            ("instancenorm", {"affine": True}, "in1", ["input"])])
    in0, in1 = run_onnx(net, x, values={"in1.weight": np.array([3, 1]),
                                        "in1.bias": np.array([0, 7])})
    np.testing.assert_allclose(in0, [[[-1, 0], [1, 0]]], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(in1, [[[-3, 7], [3, 7]]], rtol=1e-4)


def test_onnx_global_maxpool():
    x = np.arange(12, dtype=np.float32).reshape(2, 2, 3) * [1, -1, 1]
    (y,) = run_onnx(build((2, 2, 3), [("global_maxpool", {})]), x)
    # channel 0: 0, 3, 6, 9 → 9; channel 1: −1, −4, −7, −10 → −1; channel 2: 2..11 → 11
    np.testing.assert_allclose(y.ravel(), [9, -1, 11])


@pytest.mark.parametrize("op,attrs", [(op, {}) for op in ACTIVATIONS] + [
    ("groupnorm", {"groups": 2}), ("layernorm", {}), ("instancenorm", {}),
    ("instancenorm", {"affine": True})])
def test_onnx_on_a_vector(op, attrs):
    """After an fc (a rank-2 [N, C] value) every new op still exports with the analyzer's
    volume (norms first make it [N, C, 1, 1])."""
    net = build((4, 4, 3), [("fc", {"units": 4}), (op, attrs)])
    (y,) = run_onnx(net, np.ones((4, 4, 3)), weights="random")
    assert y.shape == (1, 1, 4)


# ---------------------------------------------------------------------------------------------
# optional: PyTorch's functional ops as an independent oracle

def test_onnx_matches_torch_functional_ops():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(7)
    h, w, c = 5, 6, 8
    x = rng.normal(0, 2, (h, w, c)).astype(np.float32)
    gamma, beta, slope = (rng.normal(size=c).astype(np.float32) for _ in range(3))
    net = build((h, w, c), [
        ("relu6", {}, "relu6", ["input"]), ("hardswish", {}, "hardswish", ["input"]),
        ("hardsigmoid", {}, "hardsigmoid", ["input"]), ("silu", {}, "silu", ["input"]),
        ("gelu", {}, "gelu", ["input"]), ("leaky_relu", {"slope": 0.1}, "lrelu", ["input"]),
        ("prelu", {"shared": False}, "prelu", ["input"]), ("elu", {"alpha": 0.7}, "elu", ["input"]),
        ("groupnorm", {"groups": 4}, "gn", ["input"]), ("layernorm", {}, "ln", ["input"]),
        ("instancenorm", {}, "inorm", ["input"]), ("global_maxpool", {}, "gmp", ["input"]),
        ("global_avgpool", {}, "gap", ["input"]), ("sigmoid", {}, "gate"),
        ("mul", {}, "se", ["input", "gate"]),
    ])
    values = {"prelu.weight": slope.reshape(c, 1, 1), "gn.weight": gamma, "gn.bias": beta,
              "ln.weight": gamma, "ln.bias": beta}
    t = torch.from_numpy(x.transpose(2, 0, 1)[None].copy())
    g, b = torch.from_numpy(gamma), torch.from_numpy(beta)
    expected = {
        "relu6": F.relu6(t), "hardswish": F.hardswish(t), "hardsigmoid": F.hardsigmoid(t),
        "silu": F.silu(t), "gelu": F.gelu(t), "lrelu": F.leaky_relu(t, 0.1),
        "prelu": F.prelu(t, torch.from_numpy(slope)), "elu": F.elu(t, 0.7),
        "gn": F.group_norm(t, 4, g, b, 1e-5),
        "ln": F.layer_norm(t.permute(0, 2, 3, 1), (c,), g, b, 1e-5).permute(0, 3, 1, 2),
        "inorm": F.instance_norm(t, eps=1e-5), "gmp": F.adaptive_max_pool2d(t, 1),
        "se": t * torch.sigmoid(F.adaptive_avg_pool2d(t, 1)),
    }
    for opset in (17, 20):
        outs = dict(zip(["relu6", "hardswish", "hardsigmoid", "silu", "gelu", "lrelu", "prelu",
                         "elu", "gn", "ln", "inorm", "gmp", "se"],
                        run_onnx(net, x, opset=opset, values=values)))
        for name, want in expected.items():
            want = want[0].numpy().transpose(1, 2, 0)
            np.testing.assert_allclose(outs[name], want, rtol=1e-4, atol=1e-5,
                                       err_msg=f"{name} at opset {opset}")


def test_macs_rule_is_pytorchs_flop_counter():
    """torchvision's GFLOPS were measured with a dispatch-level FLOP counter that counts
    convolutions and matrix products only (pytorch/vision#6936); PyTorch's FlopCounterMode,
    built from it, counts 2 FLOPs per multiply-add. On the SE block (with a hardswish after the
    gate) it must count 2 × archcalc's MACs: the gate's multiplications are not counted."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    nn = torch.nn

    class SE(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 16, 3, padding=1)
            self.fc1, self.fc2 = nn.Conv2d(16, 4, 1), nn.Conv2d(4, 16, 1)

        def forward(self, x):
            y = self.c(x)
            gate = torch.sigmoid(self.fc2(torch.relu(self.fc1(nn.functional.adaptive_avg_pool2d(
                y, 1)))))
            return nn.functional.hardswish(y * gate)

    with FlopCounterMode(display=False) as counter:
        SE()(torch.randn(1, 3, 8, 8))
    net = se_block()
    assert counter.get_total_flops() == 2 * archcalc.analyze(net).totals.macs


def test_onnx_operators_at_the_default_opset():
    """At opset 17 (the default) nothing newer than 17 is emitted: no Gelu (20), no
    GroupNormalization (18); the hard sigmoid carries PyTorch's alpha 1/6, not ONNX's 0.2."""
    ox, _ = _onnx()
    net = build((4, 4, 8), [("gelu", {}), ("groupnorm", {"groups": 2}), ("hardsigmoid", {}),
                            ("silu", {}), ("layernorm", {})])
    model = ox.to_model(net, "zeros", opset=17)
    types = {n.op_type for n in model.graph.node}
    assert {"Erf", "InstanceNormalization", "HardSigmoid", "Sigmoid", "LayerNormalization"} <= types
    assert not types & {"Gelu", "GroupNormalization"}
    (hsig,) = [n for n in model.graph.node if n.op_type == "HardSigmoid"]
    alpha = next(a.f for a in hsig.attribute if a.name == "alpha")
    assert alpha == pytest.approx(1 / 6)
    # silu's product and gelu's last node carry the layer's name
    assert {"silu1", "gelu1"} <= {n.output[0] for n in model.graph.node}
