"""Channel ops (slice, split, shuffle) and resampling ops (upsample, conv_transpose, pad, crop):
shapes, parameters and MACs by hand, receptive fields worked out by hand in 1-D, errors, and
numerics through onnxruntime against values computed by hand (and, where torch is installed,
against torch)."""
from __future__ import annotations

import numpy as np
import pytest

import archcalc
from archcalc.errors import ArchcalcError, SourcePos
from archcalc.graph import Builder

POS = SourcePos("<test>")


def net_of(vol, layers, name="t"):
    """A network from (op, attrs, name, inputs) tuples (name and inputs optional)."""
    b = Builder(name, vol)
    for op, attrs, *rest in layers:
        nm = rest[0] if rest else None
        ins = rest[1] if len(rest) > 1 else None
        b.add(op, attrs, POS, name=nm, inputs=ins)
    return b.build("floor")


def rows(net):
    return {r.name: r for r in archcalc.analyze(net).layers}


def error_of(vol, layers) -> str:
    with pytest.raises(ArchcalcError) as e:
        archcalc.analyze(net_of(vol, layers))
    return "\n".join(d.render() for d in e.value.diagnostics)


# ---------------------------------------------------------------------------------------------
# shapes, parameters, MACs by hand

def test_unet_up_convolution_counts():
    # U-Net's first up-conv: 28×28×1024 → 2×2/2 → 56×56×512.
    # output (28 − 1)·2 − 0 + 1·(2 − 1) + 0 + 1 = 56; params 2·2·1024·512 + 512 = 2,097,664;
    # MACs 28·28·1024·512·2·2 = 802,816·2,048 = 1,644,167,168
    r = rows(net_of((28, 28, 1024), [("conv_transpose", {"filters": 512, "kernel": 2,
                                                         "stride": 2}, "up")]))["up"]
    assert r.output == (56, 56, 512)
    assert r.params == 2_097_664
    assert r.macs == 1_644_167_168


def test_grouped_conv_transpose_with_output_padding():
    # 8×8×6, K = 4, g = 2, F = 3, S = 2, P = 1, output_padding 1:
    # (8 − 1)·2 − 2·1 + 1·2 + 1 + 1 = 16; params 3·3·(6/2)·4 + 4 = 112; MACs 8·8·6·(4/2)·9 = 6,912
    r = rows(net_of((8, 8, 6), [("conv_transpose", {"filters": 4, "kernel": 3, "stride": 2,
                                                    "padding": 1, "output_padding": 1,
                                                    "groups": 2}, "t")]))["t"]
    assert (r.output, r.params, r.macs) == ((16, 16, 4), 112, 6_912)
    # dilation 2, F = 3, no bias: (5 − 1)·1 + 2·2 + 1 = 9; params 3·3·2·3 = 54
    r = rows(net_of((5, 5, 2), [("conv_transpose", {"filters": 3, "kernel": 3, "dilation": 2,
                                                    "bias": False}, "t")]))["t"]
    assert (r.output, r.params) == ((9, 9, 3), 54)


def test_upsample_pad_crop_shapes():
    r = rows(net_of((5, 7, 3), [
        ("upsample", {"scale": [2, 3]}, "u"),                   # 10×21
        ("upsample", {"size": [20, 21], "mode": "bilinear"}, "v"),  # factors 2 and 1
        ("pad", {"padding": [1, 2, 3, 4]}, "p"),                # 20+1+2 = 23, 21+3+4 = 28
        ("pad", {"padding": [1, 2], "mode": "reflect"}, "q"),   # 25×32
        ("crop", {"size": [4, 5]}, "c"),
        ("crop", {}, "d", ["q", "u"]),                          # to u's 10×21
    ]))
    assert r["u"].output == (10, 21, 3)
    assert r["v"].output == (20, 21, 3)
    assert r["p"].output == (23, 28, 3)
    assert r["q"].output == (25, 32, 3)
    assert r["c"].output == (4, 5, 3)
    assert r["d"].output == (10, 21, 3)
    assert all(r[n].params == 0 and r[n].macs == 0 for n in "uvpqcd")


def test_channel_ops_shapes_and_split_names():
    r = rows(net_of((4, 4, 12), [
        ("split", {"parts": 3}, "s"),
        ("split", {"sizes": [2, 10]}, None, ["input"]),
        ("slice", {"start": -5, "end": -1}, "sl", ["input"]),
        ("shuffle", {"groups": 4}, "sh", ["input"]),
        ("concat", {}, "cat", [["s.0", "s.2"]][0]),
    ]))
    assert [r[f"s.{i}"].output for i in range(3)] == [(4, 4, 4)] * 3
    assert r["split1.0"].output == (4, 4, 2) and r["split1.1"].output == (4, 4, 10)
    assert r["sl"].output == (4, 4, 4)           # channels 7, 8, 9, 10
    assert r["sh"].output == (4, 4, 12)
    assert r["cat"].output == (4, 4, 8)
    # slices are views of their input: no activations of their own
    assert r["s.1"].activations == 0 and r["sl"].activations == 0
    assert r["sh"].activations == 4 * 4 * 12


# ---------------------------------------------------------------------------------------------
# receptive fields, worked out by hand in 1-D

def test_receptive_field_of_a_transposed_convolution():
    # 1-D: input of 3 pixels (r = 1, j = 1, c = 0); ConvT F = 3, S = 2, P = 1, output_padding 1
    # gives 6 outputs. Output o gets x[i]·w[t] where o = 2i − 1 + t, t ∈ {0, 1, 2}:
    #   o = 0: i = 0        o = 1: i = 0, 1     o = 2: i = 1
    #   o = 3: i = 1, 2     o = 4: i = 2        o = 5: i = 2 (i = 3 does not exist)
    # The rule: jump j/S = 1/2; size r + (F − 1)·j/S = 1 + 2/2 = 2; first centre
    # c + (P − (F − 1)/2)·j/S = 0 + (1 − 1)/2 = 0. Unit o is centred at o/2 and spans the pixels
    # with centres in [o/2 − 1/2, o/2 + 1/2]: {0}, {0, 1}, {1}, {1, 2}, {2}, {2, (3)}: each
    # unit's true field, exactly.
    r = rows(net_of((1, 3, 1), [("conv_transpose", {"filters": 1, "kernel": [1, 3],
                                                    "stride": [1, 2], "padding": [0, 1],
                                                    "output_padding": [0, 1]}, "t")]))["t"]
    assert r.output == (1, 6, 1)
    assert r.rf.stride == (1, 0.5)
    assert r.rf.size == (1, 2)
    assert r.rf.start == (0, 0)


def test_receptive_field_of_upsampling_and_after():
    # nearest ×2 (o reads pixel ⌊o/2⌋): jump 1/2, size 1 + (2 − 1)/2 = 1.5, start −(2 − 1)/4 =
    # −0.25; unit 0 spans centres in [−0.5, 0] = {0}, unit 1 [0, 0.5] = {0}, unit 2 [0.5, 1] =
    # {1}: exact. bilinear ×2 (x = (o + 0.5)/2 − 0.5, pixels ⌊x⌋ and ⌊x⌋ + 1): size
    # 1 + (4 − 1)/2 = 2.5, start −0.25; unit 1 (x = 0.25) spans [−0.5, 1] = {0, 1}, unit 0
    # (x = −0.25, clamped to 0) spans [−1, 0.5] = {0}.
    r = rows(net_of((4, 4, 1), [
        ("upsample", {"scale": 2}, "near"),
        ("upsample", {"scale": 2, "mode": "bilinear"}, "lin", ["input"]),
        # a 3×3 conv (pad 1) after nearest ×2: size 1.5 + 2·0.5 = 2.5, jump 0.5, start
        # −0.25 + (1 − 1)·0.5 = −0.25; unit 0 reads upsampled units −1..1 = pixels {0} (and
        # padding), unit 1 reads units 0..2 = pixels {0, 1}: within [−0.25 ± 0.75] and [0.25 ± 0.75]
        ("conv", {"filters": 1, "kernel": 3, "padding": 1}, "c", ["near"]),
        # a 2×2/2 max pool after it: size 2.5 + 1·0.5 = 3, jump 1, start −0.25 + 0.5·0.5 = 0
        ("maxpool", {"kernel": 2}, "p"),
        ("pad", {"padding": [2, 0, 1, 0]}, "pad", ["input"]),   # start 0 − 2·1, 0 − 1·1
        ("crop", {"size": [2, 2]}, "crop", ["input"]),          # offset (4 − 2)//2 = 1
    ]))
    assert (r["near"].rf.size, r["near"].rf.stride, r["near"].rf.start) == \
        ((1.5, 1.5), (0.5, 0.5), (-0.25, -0.25))
    assert (r["lin"].rf.size, r["lin"].rf.start) == ((2.5, 2.5), (-0.25, -0.25))
    assert (r["c"].rf.size, r["c"].rf.stride, r["c"].rf.start) == \
        ((2.5, 2.5), (0.5, 0.5), (-0.25, -0.25))
    assert (r["p"].rf.size, r["p"].rf.stride, r["p"].rf.start) == ((3, 3), (1, 1), (0, 0))
    assert isinstance(r["p"].rf.size[0], int)
    assert (r["pad"].rf.size, r["pad"].rf.start) == ((1, 1), (-2, -1))
    assert (r["crop"].rf.size, r["crop"].rf.start) == ((1, 1), (1, 1))


# ---------------------------------------------------------------------------------------------
# errors: located, with a fix

@pytest.mark.parametrize("vol, layers, words", [
    ((4, 4, 6), [("split", {"parts": 4})], ["6 channels do not divide into 4 equal parts",
                                            "parts: 2 or 3"]),
    ((4, 4, 6), [("split", {"sizes": [2, 3]})], ["add up to 5", "input has 6 channels"]),
    ((4, 4, 6), [("slice", {"start": 4, "end": 9})], ["outside the input's 6 channels"]),
    ((4, 4, 6), [("slice", {"start": 3, "end": 3})], ["empty"]),
    ((4, 4, 6), [("shuffle", {"groups": 4})], ["multiple of 4"]),
    ((5, 5, 1), [("upsample", {"scale": 0.1})], ["leaves 0×0 places", "larger scale"]),
    ((3, 3, 1), [("pad", {"padding": 3, "mode": "reflect"})], ["more than 3, got 3",
                                                              "at most 2"]),
    ((4, 4, 1), [("crop", {"size": [5, 2]})], ["larger than its input", "4×4"]),
    ((4, 4, 1), [("crop", {}, "a"), ], ["needs a size"]),
    ((4, 4, 1), [("conv_transpose", {"filters": 1, "kernel": 1, "padding": 3})],
     ["not positive"]),
])
def test_shape_errors(vol, layers, words):
    text = error_of(vol, layers)
    for w in words:
        assert w in text, text


def test_attribute_errors_at_build_time():
    with pytest.raises(ArchcalcError, match="exactly one of scale and size"):
        net_of((4, 4, 1), [("upsample", {"scale": 2, "size": [8, 8]})])
    with pytest.raises(ArchcalcError, match="exactly one of scale and size"):
        net_of((4, 4, 1), [("upsample", {})])
    with pytest.raises(ArchcalcError) as e:
        net_of((4, 4, 1), [("conv_transpose", {"filters": 1, "kernel": 3, "stride": 2,
                                               "output_padding": 2})])
    assert "smaller than the stride (2) or the dilation (1)" in str(e.value)
    assert "0 to 1" in e.value.diagnostics[0].hint
    # output_padding 1 with stride 1 is allowed when the dilation is larger (PyTorch's rule)
    net_of((4, 4, 1), [("conv_transpose", {"filters": 1, "kernel": 3, "dilation": 2,
                                           "output_padding": 1})])
    with pytest.raises(ArchcalcError, match="exactly one of parts"):
        net_of((4, 4, 2), [("split", {"parts": 2, "sizes": [1, 1]})])
    with pytest.raises(ArchcalcError, match="mode must be one of nearest, bilinear"):
        net_of((4, 4, 1), [("upsample", {"scale": 2, "mode": "bicubic"})])
    with pytest.raises(ArchcalcError, match="crop takes its size from the second input"):
        archcalc.analyze(net_of((4, 4, 1), [("crop", {"size": 2}, "c", ["input", "input"])]))


def test_yaml_errors_are_located(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ninput: 8x8x6\nlayers:\n  - {op: conv, filters: 6}\n"
                    "  - {op: split, parts: 4}\n  - {op: crop, size: [9, 2], inputs: conv1}\n")
    with pytest.raises(ArchcalcError) as e:
        archcalc.analyze(archcalc.load(spec))
    lines = {d.pos.line for d in e.value.diagnostics}
    assert {5, 6} <= lines, [d.render() for d in e.value.diagnostics]


def test_split_in_yaml_and_cli_exit_code(tmp_path):
    from conftest import run_cli
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\ninput: 8x8x6\nlayers:\n  - {op: split, parts: 2, name: s}\n")
    net = archcalc.load(spec)
    assert [layer.name for layer in net.layers] == ["input", "s.0", "s.1"]
    spec.write_text("name: s\ninput: 8x8x6\nlayers:\n  - {op: split, parts: 5, name: s}\n")
    res = run_cli("summary", str(spec))
    assert res.returncode == 1 and "do not divide into 5" in res.stderr
    assert "Traceback" not in res.stderr


# ---------------------------------------------------------------------------------------------
# numerics through onnxruntime, computed by hand

ort = None


def run_onnx(net, x, values=None):
    global ort
    ort = pytest.importorskip("onnxruntime")
    from archcalc.exporters import onnx as ox
    model = ox.to_model(net, weights="zeros", values=values)
    ox.verify(model, net)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"input": np.asarray(x, np.float32)})))


def nchw(hwc):
    return np.asarray(hwc, np.float32).transpose(2, 0, 1)[None]


def test_bilinear_and_nearest_upsampling_of_2x2():
    # 1-D, align_corners=False: x = (o + 0.5)/2 − 0.5 → −0.25 (clamped to 0), 0.25, 0.75, 1.25
    # (the right neighbour clamped): [a, 0.75a + 0.25b, 0.25a + 0.75b, b]; [1, 2] → [1, 1.25,
    # 1.75, 2], [3, 4] → [3, 3.25, 3.75, 4]; the rows then mix the same way (0.75/0.25).
    net = net_of((2, 2, 1), [("upsample", {"scale": 2, "mode": "bilinear"}, "lin"),
                             ("upsample", {"scale": 2}, "near", ["input"])])
    x = np.array([[[[1, 2], [3, 4]]]], np.float32)
    out = run_onnx(net, x)
    assert np.allclose(out["lin"][0, 0], [[1, 1.25, 1.75, 2], [1.5, 1.75, 2.25, 2.5],
                                          [2.5, 2.75, 3.25, 3.5], [3, 3.25, 3.75, 4]])
    assert np.array_equal(out["near"][0, 0], [[1, 1, 2, 2], [1, 1, 2, 2],
                                              [3, 3, 4, 4], [3, 3, 4, 4]])


def test_transposed_convolution_with_output_padding():
    # 1-D along W: x = [1, 2, 3], w = [1, 10, 100], S = 2, P = 1, output_padding 1, bias 0.5.
    # y[o] = Σ x[i]·w[t] with o = 2i − 1 + t:
    #   y0 = 1·10 = 10, y1 = 1·100 + 2·1 = 102, y2 = 2·10 = 20, y3 = 2·100 + 3·1 = 203,
    #   y4 = 3·10 = 30, y5 = 3·100 = 300 (the column output_padding adds), each + 0.5.
    net = net_of((1, 3, 1), [("conv_transpose", {"filters": 1, "kernel": [1, 3],
                                                 "stride": [1, 2], "padding": [0, 1],
                                                 "output_padding": [0, 1]}, "t")])
    out = run_onnx(net, [[[[1, 2, 3]]]],
                   {"t.weight": np.array([1, 10, 100], np.float32).reshape(1, 1, 1, 3),
                    "t.bias": np.array([0.5], np.float32)})
    assert np.allclose(out["t"][0, 0, 0], [10.5, 102.5, 20.5, 203.5, 30.5, 300.5])


def test_channel_shuffle_permutation():
    # channels read as a g × (C/g) matrix, transposed: output b·g + a = input a·(C/g) + b.
    # C = 6, g = 2 (rows [0 1 2], [3 4 5]) → 0 3 1 4 2 5; g = 3 (rows [0 1], [2 3], [4 5]) →
    # 0 2 4 1 3 5.
    net = net_of((1, 2, 6), [("shuffle", {"groups": 2}, "g2"),
                             ("shuffle", {"groups": 3}, "g3", ["input"])])
    x = np.arange(6, dtype=np.float32).reshape(1, 6, 1, 1).repeat(2, axis=3)
    x = np.concatenate([x, x + 10])            # a batch of 2: the batch stays dynamic
    out = run_onnx(net, x)
    assert out["g2"][:, :, 0, 1].tolist() == [[0, 3, 1, 4, 2, 5], [10, 13, 11, 14, 12, 15]]
    assert out["g3"][1, :, 0, 0].tolist() == [10, 12, 14, 11, 13, 15]


def test_split_and_slice_values():
    net = net_of((1, 1, 6), [("split", {"parts": 3}, "s"),
                             ("split", {"sizes": [1, 5]}, "u", ["input"]),
                             ("slice", {"start": -4, "end": -1}, "sl", ["input"]),
                             ("concat", {}, "cat", ["s.2", "s.0"])])
    out = run_onnx(net, np.arange(6, dtype=np.float32).reshape(1, 6, 1, 1))
    flat = {k: v.reshape(-1).tolist() for k, v in out.items()}
    assert flat["s.1"] == [2, 3]
    assert flat["cat"] == [4, 5, 0, 1]
    assert flat["u.0"] == [0] and flat["u.1"] == [1, 2, 3, 4, 5]
    assert flat["sl"] == [2, 3, 4]


def test_reflect_and_constant_padding_values():
    # [1, 2, 3] padded by reflection 2 on the left, 1 on the right: the mirror excludes the
    # edge: 3 2 | 1 2 3 | 2; constant 7, one each side: 7 | 1 2 3 | 7
    net = net_of((1, 3, 1), [("pad", {"padding": [0, 0, 2, 1], "mode": "reflect"}, "r"),
                             ("pad", {"padding": [0, 0, 1, 1], "value": 7}, "c", ["input"])])
    out = run_onnx(net, [[[[1, 2, 3]]]])
    assert out["r"][0, 0, 0].tolist() == [3, 2, 1, 2, 3, 2]
    assert out["c"][0, 0, 0].tolist() == [7, 1, 2, 3, 7]


def test_centre_crop_values():
    # a 4×5 input holding 10·row + column; a crop to 2×3 starts at ((4 − 2)//2, (5 − 3)//2) =
    # (1, 1); a crop to the 2×2 of a pooled copy starts at (1, 1) too (odd 5 − 2 = 3: the extra
    # column goes at the right)
    net = net_of((4, 5, 1), [("crop", {"size": [2, 3]}, "c"),
                             ("maxpool", {"kernel": 2}, "p", ["input"]),
                             ("crop", {}, "d", ["input", "p"])])
    x = (10 * np.arange(4)[:, None] + np.arange(5)[None, :]).astype(np.float32)[None, None]
    out = run_onnx(net, x)
    assert out["c"][0, 0].tolist() == [[11, 12, 13], [21, 22, 23]]
    assert out["d"][0, 0].tolist() == [[11, 12], [21, 22]]


def test_shufflenet_unit_exports():
    # a ShuffleNetV2 unit: split in halves, a branch on the second, concat, shuffle
    b = Builder("unit", (8, 8, 8))
    b.add("split", {"parts": 2}, POS, name="s")
    b.add("conv", {"filters": 4, "kernel": 1}, POS, name="pw", inputs=["s.1"])
    b.add("dwconv", {}, POS)
    b.add("concat", {}, POS, name="cat", inputs=["s.0", "dwconv1"])
    b.add("shuffle", {"groups": 2}, POS)
    assert b.splits == {"s": ["s.0", "s.1"]}
    net = b.build()
    x = np.random.default_rng(0).random((3, 8, 8, 8), np.float32)
    out = run_onnx(net, x)["shuffle1"]
    # with zero weights the branch is 0: channels 0..3 of the input go to 0, 2, 4, 6
    assert np.array_equal(out[:, 0::2], x[:, :4]) and not out[:, 1::2].any()


# ---------------------------------------------------------------------------------------------
# against torch (optional)

def test_against_torch():
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from archcalc.exporters import onnx as ox
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)     # [C_in, K/g, F, F], g = 2
    bias = rng.standard_normal(6).astype(np.float32)
    net = net_of((5, 6, 4), [
        ("upsample", {"scale": 2}, "near"),
        ("upsample", {"scale": [2, 3], "mode": "bilinear"}, "lin", ["input"]),
        ("conv_transpose", {"filters": 6, "kernel": 3, "stride": 2, "padding": 1,
                            "output_padding": 1, "groups": 2, "dilation": 1}, "t", ["input"]),
        ("conv_transpose", {"filters": 6, "kernel": 3, "stride": 2, "padding": 2,
                            "dilation": 2, "output_padding": 1, "groups": 2}, "td", ["input"]),
    ])
    model = ox.to_model(net, values={"t.weight": w, "t.bias": bias, "td.weight": w,
                                     "td.bias": bias})
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": x})))
    F = torch.nn.functional
    tx = torch.from_numpy(x)
    want = {"near": F.interpolate(tx, scale_factor=2, mode="nearest"),
            "lin": F.interpolate(tx, scale_factor=(2, 3), mode="bilinear", align_corners=False),
            "t": F.conv_transpose2d(tx, torch.from_numpy(w), torch.from_numpy(bias), stride=2,
                                    padding=1, output_padding=1, groups=2),
            "td": F.conv_transpose2d(tx, torch.from_numpy(w), torch.from_numpy(bias), stride=2,
                                     padding=2, output_padding=1, groups=2, dilation=2)}
    r = rows(net)
    for name, t in want.items():
        assert tuple(t.shape[2:]) + (t.shape[1],) == r[name].output, name
        assert np.allclose(got[name], t.numpy(), atol=1e-5), name
    conv = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert sum(p.numel() for p in conv.parameters()) == r["t"].params


def test_tokens():
    # UP2: nearest ×2 (7 → 14); SHUF4 on C3D8's 8 channels
    r = rows(archcalc.parse("C3D8 SHUF4 UP2", input=(7, 7, 3)))
    assert r["shuffle1"].output == (7, 7, 8) and r["shuffle1"].attrs["groups"] == 4
    assert r["upsample1"].output == (14, 14, 8)
    with pytest.raises(ArchcalcError, match="multiple of 3"):
        archcalc.analyze(archcalc.parse("C3D8 SHUF3", input=(7, 7, 3)))


def test_split_needs_parts_or_sizes(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\ninput: 8x8x6\nlayers:\n  - {op: conv, filters: 6}\n"
                    "  - {op: split}\n")
    with pytest.raises(ArchcalcError, match="exactly one of parts"):
        archcalc.load(spec)
    with pytest.raises(ArchcalcError, match="parts and sizes belong to a split"):
        net_of((4, 4, 2), [("slice", {"parts": 2})])


def test_yaml_names_each_part_of_a_split():
    net = archcalc.parse("name: s\ninput: 4x4x6\nlayers:\n  - {op: split, name: s, parts: 3}\n"
                         "  - {op: conv, name: a, inputs: s.0, filters: 2, kernel: 1}\n"
                         "  - {op: concat, inputs: [a, s.2]}\n")
    r = archcalc.analyze(net)
    assert net["a"].inputs == ("s.0",) and r["a"].output == (4, 4, 2)
    assert r.layers[-1].output == (4, 4, 4)      # a (2 channels) + s.2 (6/3 = 2 channels)


def test_output_size_picks_the_output_padding():
    """A stride of 2 makes two output sizes come from one input size: 7 → (7 − 1)·2 − 2·1 +
    1·(3 − 1) + 1 = 13 with output_padding 0, or 14 with 1. output_size names the one wanted
    (PyTorch's ConvTranspose2d(x, output_size=...)); anything else is refused, with the range."""
    ct = {"filters": 4, "kernel": 3, "stride": 2, "padding": 1}
    r = archcalc.analyze(net_of((7, 7, 8), [("conv_transpose", {**ct, "output_size": [14, 13]},
                                            "t")]))
    assert r["t"].output == (14, 13, 4)
    # parameters and MACs do not depend on the output size: 3·3·8·4 + 4, 7·7·8·4·3·3
    assert (r["t"].params, r["t"].macs) == (3 * 3 * 8 * 4 + 4, 7 * 7 * 8 * 4 * 9)
    with pytest.raises(ArchcalcError) as e:
        archcalc.analyze(net_of((7, 7, 8), [("conv_transpose", {**ct, "output_size": 15}, "t")]))
    d = e.value.diagnostics[0]
    assert "output_size height 15 cannot be reached from input height 7" in d.message
    assert "gives 13 to 14 (output_padding 0 to 1)" in d.message and "13…14" in d.hint
    with pytest.raises(ArchcalcError) as e:
        net_of((7, 7, 8), [("conv_transpose", {**ct, "output_size": 14, "output_padding": 1})])
    assert e.value.diagnostics[0].message == "give output_size or output_padding, not both"


def test_output_size_exports_its_output_padding():
    # the 1-D case above with output_size 6 instead of output_padding 1: the same values
    net = net_of((1, 3, 1), [("conv_transpose", {"filters": 1, "kernel": [1, 3],
                                                 "stride": [1, 2], "padding": [0, 1],
                                                 "output_size": [1, 6]}, "t")])
    out = run_onnx(net, [[[[1, 2, 3]]]],
                   {"t.weight": np.array([1, 10, 100], np.float32).reshape(1, 1, 1, 3),
                    "t.bias": np.array([0.5], np.float32)})
    assert np.allclose(out["t"][0, 0, 0], [10.5, 102.5, 20.5, 203.5, 30.5, 300.5])


def test_defaults_bias_reaches_transposed_convolutions(tmp_path):
    p = tmp_path / "ct.yaml"
    p.write_text("name: ctd\ninput: 8x8x4\ndefaults: {bias: false}\nlayers:\n"
                 "  - {op: conv_transpose, name: a, filters: 4, kernel: 2, stride: 2}\n")
    assert archcalc.analyze(archcalc.load(str(p)))["a"].params == 2 * 2 * 4 * 4   # no biases


def test_fractional_receptive_fields_print_short():
    # stride 3 along W: jump 1/3 after the transposed convolution
    r = archcalc.analyze(net_of((4, 5, 3), [("conv_transpose", {"filters": 2, "kernel": 3,
                                                               "stride": [2, 3], "padding": 1},
                                             "t")]))
    assert r["t"].rf.text() == "2×1.667 /0.5×0.3333"


def test_an_output_past_the_size_limit_is_an_error():
    with pytest.raises(ArchcalcError) as e:
        archcalc.analyze(net_of((8, 8, 3), [("conv_transpose", {"filters": 4, "kernel": 3,
                                                               "stride": 2_000_000_000}, "t")]))
    assert "is too large (the limit is 2,147,483,648 per side)" in e.value.diagnostics[0].message


def test_an_exponent_without_a_dot_is_a_number(tmp_path):
    p = tmp_path / "ln.yaml"      # YAML 1.1 reads 1e-6 as text
    p.write_text("name: ln\ninput: 4x4x8\nlayers:\n  - {op: layernorm, eps: 1e-6}\n"
                 "  - {op: leaky_relu, slope: 1E-2}\n")
    net = archcalc.load(str(p))
    assert net.layers[1].attrs["eps"] == 1e-6 and net.layers[2].attrs["slope"] == 0.01
