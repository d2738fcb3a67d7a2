"""Resizing to any size (``upsample``/``resize``): nearest, bilinear with and without aligned
corners, by a fractional scale or to a size that is no whole multiple (DeepLabV3 and LR-ASPP
resize 33×33 or 65×65 to 520×520).

Expected values are derived independently: output sizes as ⌊H·s⌋ by hand and from PyTorch's
``F.interpolate``; the receptive field's reach d from which input pixels each output unit
depends on, read off PyTorch's Jacobian of ``F.interpolate`` (optional: torch); exported
numerics against ``F.interpolate`` itself; hand-written ONNX Resize nodes for the import.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from conftest import run_cli

import archcalc
from archcalc.errors import ArchcalcError, SourcePos
from archcalc.graph import Builder

POS = SourcePos("<test>")


def net_of(vol, layers, name="t"):
    b = Builder(name, vol)
    for op, attrs, *rest in layers:
        b.add(op, attrs, POS, name=rest[0] if rest else None,
              inputs=rest[1] if len(rest) > 1 else None)
    return b.build("floor")


def rows(net):
    return {r.name: r for r in archcalc.analyze(net).layers}


# ---------------------------------------------------------------------------------------------
# sizes

@pytest.mark.parametrize("vol, attrs, out", [
    ((33, 33, 8), {"size": [520, 520], "mode": "bilinear"}, (520, 520, 8)),
    ((65, 65, 8), {"size": 520, "mode": "bilinear", "align_corners": True}, (520, 520, 8)),
    ((10, 7, 2), {"scale": 1.5}, (15, 10, 2)),              # ⌊10·1.5⌋, ⌊7·1.5⌋ = ⌊10.5⌋
    ((10, 10, 2), {"scale": [0.5, 0.3]}, (5, 3, 2)),        # downsampling by a scale
    ((7, 7, 1), {"size": [3, 5], "mode": "bilinear"}, (3, 5, 1)),
    ((4, 4, 1), {"scale": 2}, (8, 8, 1)),                  # whole factors, as before
])
def test_output_sizes_by_hand(vol, attrs, out):
    assert rows(net_of(vol, [("upsample", attrs, "u")]))["u"].output == out


def test_output_sizes_as_pytorch_gives_them():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for n in (7, 10, 33):
        for s in (0.3, 0.5, 0.7, 1.5, 2.5, 15.76):
            want = F.interpolate(torch.zeros(1, 1, n, n), scale_factor=s, mode="nearest",
                                 recompute_scale_factor=True).shape[2]
            assert rows(net_of((n, n, 1), [("upsample", {"scale": s}, "u")]))["u"].output[0] \
                == want, (n, s)


# ---------------------------------------------------------------------------------------------
# the receptive field: units at a + o·q, reading within d

# d by hand: nearest ×2 reads ⌊o/2⌋, centred at (o + ½)/2 − ½: within ¼; bilinear ×2 reads
# ⌊x⌋, ⌊x⌋ + 1 of x = o/2 − ¼: within ¾; bilinear ×3, x = k − ⅓, k, k + ⅓: within ⅔ (pixel
# k + 1 of x = k has weight 0); aligned corners 33 → 65, x = o/2: within ½; 1 → 65: pixel 0
# only, the farthest centre (o + ½)/65 − ½ at o = 0 and 64: 32/65
@pytest.mark.parametrize("n, m, mode, aligned, d", [
    (4, 8, "nearest", False, Fraction(1, 4)),
    (4, 8, "bilinear", False, Fraction(3, 4)),
    (3, 9, "bilinear", False, Fraction(2, 3)),
    (33, 65, "bilinear", True, Fraction(1, 2)),
    (1, 65, "bilinear", False, Fraction(32, 65)),
])
def test_reach_by_hand(n, m, mode, aligned, d):
    r = rows(net_of((1, n, 1), [("upsample", {"size": [1, m], "mode": mode,
                                              "align_corners": aligned}, "u")]))["u"]
    q = Fraction(n - 1, m - 1) if aligned else Fraction(n, m)
    a = Fraction(0) if aligned else (q - 1) / 2
    assert r.rf.size[1] == pytest.approx(float(1 + 2 * d), abs=1e-12)
    assert r.rf.stride[1] == pytest.approx(float(q), abs=1e-12)
    assert r.rf.start[1] == pytest.approx(float(a), abs=1e-12)


CASES = [(33, 520, "bilinear", False), (33, 520, "bilinear", True), (65, 520, "bilinear", False),
         (1, 65, "bilinear", False), (7, 3, "bilinear", False), (5, 7, "nearest", False),
         (10, 15, "nearest", False), (13, 100, "bilinear", False), (3, 9, "bilinear", False),
         (4, 8, "nearest", False), (20, 7, "bilinear", True)]


@pytest.mark.parametrize("n, m, mode, aligned", CASES)
def test_reach_is_what_pytorch_reads(n, m, mode, aligned):
    """Each output unit's true field (the input pixels its value depends on: the nonzero entries
    of PyTorch's Jacobian) lies within d of the centre a + o·q, and some unit reaches d."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    kw = {"align_corners": aligned} if mode == "bilinear" else {}
    jac = torch.autograd.functional.jacobian(
        lambda x: F.interpolate(x, size=(1, m), mode=mode, **kw),
        torch.rand(1, 1, 1, n, dtype=torch.float64)).reshape(m, n).numpy()
    q = Fraction(n - 1, m - 1) if aligned and m > 1 else Fraction(n, m)
    a = Fraction(0) if aligned else (q - 1) / 2
    reach = max(abs(i - (a + o * q)) for o in range(m) for i in np.flatnonzero(jac[o]))
    r = rows(net_of((1, n, 1), [("upsample", {"size": [1, m], "mode": mode,
                                              "align_corners": aligned}, "u")]))["u"]
    assert r.rf.size[1] == pytest.approx(float(1 + 2 * reach), abs=1e-9)
    assert r.rf.stride[1] == pytest.approx(float(q), abs=1e-12)
    assert r.rf.start[1] == pytest.approx(float(a), abs=1e-12)


def test_after_a_stride_the_field_scales_with_the_jump():
    # a 4×4/4 pool (size 4, jump 4, start 1.5), then bilinear 8 → 30: q = 8/30, d from
    # x = (o + ½)·4/15 − ½; size 4 + 2d·4, jump 4·4/15, start 1.5 + (4/15 − 1)/2·4
    n, m = 8, 30
    xs = [Fraction(2 * o + 1, 2) * Fraction(n, m) - Fraction(1, 2) for o in range(m)]
    d = Fraction(0)
    for x in xs:
        xc = max(x, Fraction(0))
        i0 = min(int(xc), n - 1)
        read = [i0] + ([i0 + 1] if xc != i0 and i0 + 1 < n else [])
        d = max([d] + [abs(i - x) for i in read])
    r = rows(net_of((32, 32, 1), [("avgpool", {"kernel": 4}, "p"),
                                  ("upsample", {"size": m, "mode": "bilinear"}, "u")]))["u"]
    assert r.rf.size == pytest.approx((float(4 + 2 * d * 4),) * 2)
    assert r.rf.stride == pytest.approx((float(4 * Fraction(n, m)),) * 2)
    assert r.rf.start == pytest.approx((1.5 + float((Fraction(n, m) - 1) / 2 * 4),) * 2)


def test_explain_shows_the_resize_step(tmp_path):
    spec = tmp_path / "r.yaml"
    spec.write_text("input: [33, 33, 8]\nlayers:\n"
                    "  - {op: resize, size: 520, mode: bilinear, name: up}\n"
                    "  - {op: resize, scale: 1.5, name: fr}\n")
    p = run_cli("explain", str(spec), "up", "fr")
    assert p.returncode == 0, p.stderr
    # x = ((2o + 1)·33 − 520)/1040: some unit lies 1/1040 past a pixel and reads the next one,
    # so d = 1 − 1/1040: unit 228 is at x = (457·33 − 520)/1040 = 14 + 1/1040 and reads 14, 15
    assert "r + 2d·j = 1 + 2·1039/1040·1" in p.stdout
    assert "j·q = 1·33/520" in p.stdout
    assert "⌊520·1.5⌋ = 780" in p.stdout


# ---------------------------------------------------------------------------------------------
# errors

@pytest.mark.parametrize("attrs, words", [
    ({"scale": 2, "align_corners": True}, "align_corners applies to bilinear resizing only"),
    ({"scale": 0}, "scale must be a positive number"),
    ({"scale": -1.5}, "scale must be a positive number"),
    ({"scale": "big"}, "scale must be a number"),
    ({"scale": [1, 2, 3]}, "one number or a pair"),
    ({"size": [0, 4]}, "size"),
])
def test_bad_attributes(attrs, words):
    with pytest.raises(ArchcalcError, match=words):
        net_of((4, 4, 1), [("upsample", attrs)])


def test_a_scale_that_leaves_nothing_is_located(tmp_path):
    spec = tmp_path / "r.yaml"
    spec.write_text("input: [5, 5, 1]\nlayers:\n  - {op: resize, scale: 0.1}\n")
    p = run_cli("summary", str(spec))
    assert p.returncode == 1
    assert "r.yaml:3:5" in p.stderr and "leaves 0×0 places" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr


# ---------------------------------------------------------------------------------------------
# export: onnxruntime against F.interpolate; and back in

def _net():
    return net_of((13, 17, 3), [
        ("upsample", {"size": [100, 90], "mode": "bilinear"}, "lin"),
        ("upsample", {"size": [40, 33], "mode": "bilinear", "align_corners": True}, "al",
         ["input"]),
        ("upsample", {"scale": 1.5}, "near", ["input"]),
        ("upsample", {"size": [5, 6], "mode": "bilinear"}, "down", ["input"]),
        ("upsample", {"scale": [2, 3], "mode": "bilinear"}, "whole", ["input"]),
    ])


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_export_computes_what_pytorch_does(opset):
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from archcalc.exporters import onnx as ox
    net = _net()
    model = ox.to_model(net, opset=opset)
    ox.verify(model, net)          # ONNX's shapes (with a dynamic batch) are the analyzer's
    x = np.random.default_rng(0).standard_normal((2, 3, 13, 17)).astype(np.float32)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": x})))
    F, tx = torch.nn.functional, torch.from_numpy(x)
    want = {"lin": F.interpolate(tx, size=(100, 90), mode="bilinear", align_corners=False),
            "al": F.interpolate(tx, size=(40, 33), mode="bilinear", align_corners=True),
            "near": F.interpolate(tx, size=(19, 25), mode="nearest"),
            "down": F.interpolate(tx, size=(5, 6), mode="bilinear", align_corners=False),
            "whole": F.interpolate(tx, scale_factor=(2, 3), mode="bilinear")}
    for name, t in want.items():
        assert got[name].shape == tuple(t.shape), name
        # coordinates are computed in float32 by both: equal to a few ulps of the values
        assert np.abs(got[name] - t.numpy()).max() < 1e-4, name


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_export_imports_back_to_the_same_report(opset, tmp_path):
    pytest.importorskip("onnx")
    from archcalc.exporters import onnx as ox
    net = _net()
    path = tmp_path / "r.onnx"
    ox.export(net, str(path), opset=opset)
    back = {r.name: r for r in archcalc.analyze(archcalc.load(str(path))).layers}
    for name, row in rows(net).items():
        assert (back[name].output, back[name].rf) == (row.output, row.rf), name
        if row.op == "upsample":
            assert back[name].attrs["mode"] == row.attrs["mode"]
            assert back[name].attrs["align_corners"] == row.attrs["align_corners"]


def _resize_model(attrs, inputs, inits, opset=18, out=None):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 10, 10])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    node = helper.make_node("Resize", ["x", *inputs], ["y"], name="rs", **attrs)
    graph = helper.make_graph([node], "g", [x], [y], [
        numpy_helper.from_array(np.asarray(v, np.int64 if k.startswith("i_") else np.float32), k)
        for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model, onnx


@pytest.mark.parametrize("attrs, inputs, inits, want", [
    # opset 18's axes: sizes for H and W alone
    ({"mode": "linear", "axes": [2, 3]}, ["", "", "i_sz"], {"i_sz": [25, 7]},
     {"output": (25, 7, 3), "mode": "bilinear", "align_corners": False}),
    ({"mode": "linear", "coordinate_transformation_mode": "align_corners"},
     ["", "", "i_sz"], {"i_sz": [1, 3, 33, 33]},
     {"output": (33, 33, 3), "mode": "bilinear", "align_corners": True}),
    ({"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
     ["", "sc"], {"sc": [1, 1, 1.5, 2.5]},
     {"output": (15, 25, 3), "mode": "bilinear", "align_corners": False}),
    ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
      "nearest_mode": "floor"}, ["", "sc"], {"sc": [1, 1, 0.5, 0.7]},
     {"output": (5, 7, 3), "mode": "nearest"}),        # ⌊10·0.7⌋ = 7, as in float32
    ({"mode": "nearest"}, ["", "sc"], {"sc": [1, 1, 2, 2]},   # whole factors: any nearest
     {"output": (20, 20, 3), "mode": "nearest"}),
])
def test_resize_forms_import(attrs, inputs, inits, want, tmp_path):
    model, onnx = _resize_model(attrs, inputs, inits)
    path = str(tmp_path / "r.onnx")
    onnx.save(model, path)
    row = archcalc.analyze(archcalc.load(path)).layers[-1]
    assert row.output == want.pop("output")
    for k, v in want.items():
        assert row.attrs[k] == v, k


@pytest.mark.parametrize("attrs, words", [
    ({"mode": "cubic"}, "Resize mode 'cubic'"),
    ({"mode": "linear", "coordinate_transformation_mode": "asymmetric"},
     "a linear Resize with asymmetric coordinates"),
    ({"mode": "nearest", "coordinate_transformation_mode": "half_pixel"},
     "a Resize from 10×10 to 15×15, nearest with half_pixel coordinates"),
])
def test_resize_forms_refused_with_one_message(attrs, words, tmp_path):
    model, onnx = _resize_model(attrs, ["", "sc"], {"sc": [1, 1, 1.5, 1.5]})
    path = str(tmp_path / "r.onnx")
    onnx.save(model, path)
    p = run_cli("summary", path)
    assert p.returncode == 1 and words in p.stderr, p.stderr
    assert "node 'rs' (Resize)" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("n, m", [(14, 4), (7, 9), (7, 3), (33, 4), (10, 5), (5, 13)])
def test_adaptive_pooling_field_is_what_pytorch_reads(n, m):
    """Adaptive pooling's field as a resize's: cells n/m apart centred at (n/m − 1)/2 + o·n/m,
    every window (the input pixels PyTorch's AdaptiveAvgPool2d averages, read off its Jacobian)
    within d of its cell's centre, and some window reaching d; equal windows (m divides n) are
    the average pool's own step."""
    torch = pytest.importorskip("torch")
    jac = torch.autograd.functional.jacobian(
        lambda x: torch.nn.functional.adaptive_avg_pool2d(x, (1, m)),
        torch.rand(1, 1, 1, n, dtype=torch.float64)).reshape(m, n).numpy()
    q = Fraction(n, m)
    a = (q - 1) / 2
    reach = max(abs(i - (a + o * q)) for o in range(m) for i in np.flatnonzero(jac[o]))
    r = rows(net_of((2, n, 1), [("adaptive_avgpool", {"output": [1, m]}, "p")]))["p"]
    assert r.rf.size[1] == pytest.approx(float(1 + 2 * reach), abs=1e-12)
    assert r.rf.stride[1] == pytest.approx(float(q), abs=1e-12)
    assert r.rf.start[1] == pytest.approx(float(a), abs=1e-12)
    if n % m == 0:
        k = n // m
        assert (r.rf.size[1], r.rf.stride[1], r.rf.start[1]) == (k, k, (k - 1) / 2)
