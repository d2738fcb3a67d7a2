"""The ONNX exporter: coverage of every op, agreement with the analyzer, weights, files."""
from __future__ import annotations

import glob
import os
import stat
from math import sqrt

import numpy as np
import pytest

from archcalc.cli.guard import exit_code

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from conftest import run_cli  # noqa: E402

import archcalc  # noqa: E402
from archcalc.errors import ArchcalcError, SourcePos  # noqa: E402
from archcalc.exporters import onnx as ox  # noqa: E402
from archcalc.graph import Builder  # noqa: E402
from archcalc.ops import OPS  # noqa: E402

SPECS = os.path.join(os.path.dirname(__file__), os.pardir, "specs")
POS = SourcePos("<test>")


def spec_networks():
    """Every network in specs/: one per YAML or text spec, one per column of a table."""
    out = []
    for path in sorted(glob.glob(os.path.join(SPECS, "*"))):
        if not path.lower().endswith((".yaml", ".yml", ".md", ".tsv", ".txt", ".spec")):
            continue
        got = archcalc.load(path)
        nets = got.items() if isinstance(got, dict) else [(got.name, got)]
        out += [pytest.param(net, id=f"{os.path.basename(path)}:{name}") for name, net in nets]
    return out


def build(input_vol, layers, rounding="exact"):
    """A network from (op, attrs[, inputs]) tuples; layers are named op1, op2, ..."""
    b = Builder("test", input_vol)
    for op, attrs, *inputs in layers:
        b.add(op, attrs, POS, inputs=inputs[0] if inputs else None)
    return b.build(rounding)


def ort_run(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": np.asarray(x, np.float32)})


# ---------------------------------------------------------------------------------------------
# coverage and agreement with the analyzer

def test_every_op_kind_has_an_emitter():
    assert set(ox.EMIT) == set(OPS)


def test_the_probe_network_uses_every_op_kind():
    # but opaque: a passthrough layer of an imported ONNX model, which export refuses
    assert {layer.op for layer in ox._probe_network().layers} == set(OPS) - {"opaque"}


@pytest.mark.parametrize("net", spec_networks())
def test_every_spec_exports_and_verifies(net, tmp_path):
    path = ox.export(net, tmp_path / "model.onnx", weights="none")
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    ox.verify(model, net)


def test_specs_directory_is_not_empty():
    assert spec_networks(), "specs/ holds no spec: the export tests over it test nothing"


WINDOWS = [
    ("conv same", (9, 9, 3), [("conv", {"filters": 4})], "exact"),
    ("conv valid stride 2", (9, 9, 3), [("conv", {"filters": 4, "stride": 2, "padding": "valid"})],
     "exact"),
    ("conv pair padding", (8, 10, 3), [("conv", {"filters": 4, "kernel": [3, 5],
                                                 "padding": [0, 2]})], "exact"),
    ("conv floor", (8, 8, 3), [("conv", {"filters": 4, "stride": 2, "padding": 0})], "floor"),
    ("conv ceil", (6, 6, 3), [("conv", {"filters": 4, "stride": 2, "padding": 0})], "ceil"),
    ("conv ceil padded", (10, 7, 3), [("conv", {"filters": 4, "kernel": 3, "stride": 3,
                                                "padding": 1, "rounding": "ceil"})], "exact"),
    ("conv dilated grouped no bias", (16, 16, 8),
     [("conv", {"filters": 8, "dilation": 2, "groups": 4, "bias": False})], "exact"),
    ("depthwise", (8, 8, 6), [("conv", {"filters": 6, "groups": 6})], "exact"),
    ("dwconv", (9, 9, 4), [("dwconv", {"multiplier": 2, "stride": 2, "padding": 0,
                                       "bias": False})], "floor"),
    ("maxpool ceil", (5, 5, 2), [("maxpool", {"kernel": 2})], "ceil"),
    ("maxpool 3/2 ceil", (13, 13, 2), [("maxpool", {"kernel": 3, "stride": 2})], "ceil"),
    ("avgpool padded ceil", (7, 7, 2), [("avgpool", {"kernel": 3, "stride": 2, "padding": 1,
                                                     "rounding": "ceil"})], "exact"),
    ("avgpool floor", (7, 7, 2), [("avgpool", {"kernel": 2})], "floor"),
    ("adaptive", (12, 8, 3), [("adaptive_avgpool", {"output": [3, 2]})], "exact"),
]


@pytest.mark.parametrize("name,vol,layers,rounding", WINDOWS, ids=[w[0] for w in WINDOWS])
def test_window_ops_agree_with_the_analyzer(name, vol, layers, rounding):
    net = build(vol, layers, rounding)
    model = ox.to_model(net, "random")
    ox.verify(model, net)
    (out,) = ort_run(model, np.ones((2, vol[2], vol[0], vol[1])))
    h, w, c = archcalc.analyze(net).layers[-1].output
    assert out.shape == (2, c, h, w)


def test_vectors_and_volumes_mix():
    """fc output (a vector) feeding a conv, and merges of vectors with 1×1 volumes."""
    net = build((6, 6, 3), [
        ("conv", {"filters": 4}), ("batchnorm", {}), ("global_avgpool", {}),
        ("fc", {"units": 4}, ["conv1"]), ("conv", {"filters": 4, "kernel": 1}),
        ("add", {}, ["gap1", "fc1", "conv2"]), ("concat", {}, ["fc1", "gap1"]),
        ("flatten", {}), ("batchnorm", {}), ("lrn", {"size": 3}), ("dropout", {"rate": 0.2}),
        ("softmax", {}, ["bn2"]), ("tanh", {}, ["add1"]), ("sigmoid", {}, ["tanh1"]),
    ])
    model = ox.to_model(net, "random")
    ox.verify(model, net)
    outs = ort_run(model, np.ones((3, 3, 6, 6)))
    assert [o.shape for o in outs] == [(3, 8, 1, 1), (3, 8), (3, 4, 1, 1)]


def test_verify_catches_a_shape_the_analyzer_did_not_give():
    net = build((8, 8, 3), [("conv", {"filters": 4}), ("relu", {})])
    model = ox.to_model(net, "zeros")
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    next(a for a in conv.attribute if a.name == "strides").ints[:] = [2, 2]
    with pytest.raises(ox.VerificationError, match="conv1"):
        ox.verify(model, net)


def test_verify_catches_a_missing_parameter():
    net = build((8, 8, 3), [("conv", {"filters": 4}), ("relu", {})])
    model = ox.to_model(net, "zeros")
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    del conv.input[2]
    del model.graph.initializer[1]            # conv1.bias
    with pytest.raises(ox.VerificationError, match="108 weights, the analyzer 112"):
        ox.verify(model, net)


def test_graph_input_has_a_dynamic_batch():
    net = build((8, 8, 3), [("conv", {"filters": 4}), ("fc", {"units": 5})])
    model = ox.to_model(net, "none")
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == ox.BATCH and [d.dim_value for d in dims[1:]] == [3, 8, 8]
    out = model.graph.output[0].type.tensor_type.shape.dim
    assert out[0].dim_param == ox.BATCH and out[1].dim_value == 5


def test_explicit_opset(tmp_path):
    net = build((8, 8, 3), [("conv", {"filters": 4}), ("softmax", {})])
    model = onnx.load(ox.export(net, tmp_path / "m.onnx", opset=13))
    assert model.opset_import[0].version == 13
    assert ox.default_opset() >= 13


def test_default_opset_is_the_conservative_one():
    # docs/export.md: 17 (TensorRT 8.6+, OpenVINO, torch.onnx's default), unless this onnx and
    # onnxruntime cannot run 17
    net = build((8, 8, 3), [("conv", {"filters": 4}), ("softmax", {})])
    assert ox.default_opset() == min(17, ox.newest_opset())
    assert ox.to_model(net, "zeros").opset_import[0].version == ox.default_opset()


def test_opsets_outside_what_onnx_and_onnxruntime_run_are_refused(tmp_path):
    net = build((8, 8, 3), [("conv", {"filters": 4}), ("softmax", {})])
    newest = ox.newest_opset()
    assert newest <= onnx.defs.onnx_opset_version()
    for bad in (12, newest + 1, 30, True):
        with pytest.raises(ArchcalcError, match=f"--opset must be between 13 and {newest}") as e:
            ox.export(net, tmp_path / "m.onnx", opset=bad)
        assert exit_code(e.value) == 2 and str(e.value.diagnostics[0].pos) == "<options>"
    assert list(tmp_path.iterdir()) == []
    # the newest accepted one is one that onnxruntime really opens
    path = ox.export(net, tmp_path / "m.onnx", opset=newest)
    ort.InferenceSession(path, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("opset,code", [("12", 2), ("9999", 2), ("x", 2), (None, 0)])
def test_export_command_opset(tmp_path, opset, code):
    out = tmp_path / "m.onnx"
    args = ["export", "C3D4 FC10", "-i", "8x8x3", "-o", str(out)]
    args += ["--opset", opset] if opset else []
    p = run_cli(*args)
    assert p.returncode == code, p.stderr
    if code:
        assert p.stderr.startswith("<options>: error: --opset must be") and not out.exists()
        assert "Traceback" not in p.stderr
    else:
        assert f"opset {ox.default_opset()};" in p.stdout
        assert onnx.load(str(out)).opset_import[0].version == ox.default_opset()


# ---------------------------------------------------------------------------------------------
# numbers computed by hand

def test_one_by_one_conv_with_known_weights():
    net = build((2, 2, 2), [("conv", {"filters": 1, "kernel": 1})])
    model = ox.to_model(net, "zeros", values={"conv1.weight": [[[[1.0]], [[2.0]]]],
                                              "conv1.bias": [0.5]})
    x = [[[[1, 2], [3, 4]], [[10, 20], [30, 40]]]]            # N, C, H, W
    (out,) = ort_run(model, x)
    # out = 1·x0 + 2·x1 + 0.5
    np.testing.assert_allclose(out, [[[[21.5, 42.5], [63.5, 84.5]]]])


def test_max_pool_over_a_known_input():
    net = build((4, 4, 1), [("maxpool", {"kernel": 2})])
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)     # x[i, j] = 4i + j
    (out,) = ort_run(ox.to_model(net), x)
    np.testing.assert_array_equal(out, [[[[5, 7], [13, 15]]]])


def test_max_pool_ceil_keeps_the_partial_windows():
    net = build((5, 5, 1), [("maxpool", {"kernel": 2})], rounding="ceil")
    x = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)     # x[i, j] = 5i + j
    (out,) = ort_run(ox.to_model(net), x)
    # windows: rows {0,1} {2,3} {4}, the same for columns; each max is at its last row and column
    np.testing.assert_array_equal(out, [[[[6, 8, 9], [16, 18, 19], [21, 23, 24]]]])


def test_avg_pool_counts_padding_as_pytorch_does():
    net = build((2, 2, 1), [("avgpool", {"kernel": 2, "padding": 1})])
    (out,) = ort_run(ox.to_model(net), np.ones((1, 1, 2, 2)))
    # every 2×2 window holds one input pixel and three padded zeros: 1/4
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 0.25))


def test_zero_weight_net_outputs_its_bias():
    net = build((4, 4, 2), [("conv", {"filters": 4}), ("relu", {}), ("fc", {"units": 3})])
    model = ox.to_model(net, "zeros", values={"fc1.bias": [1.0, 2.0, 3.0]})
    (out,) = ort_run(model, np.random.default_rng(1).normal(size=(2, 2, 4, 4)))
    np.testing.assert_array_equal(out, [[1, 2, 3], [1, 2, 3]])


def test_softmax_is_over_channels():
    net = build((3, 3, 4), [("softmax", {})])
    x = np.random.default_rng(2).normal(size=(2, 4, 3, 3))
    (out,) = ort_run(ox.to_model(net), x)
    np.testing.assert_allclose(out.sum(axis=1), np.ones((2, 3, 3)), rtol=1e-6)


def test_values_must_match_a_parameter():
    net = build((2, 2, 2), [("conv", {"filters": 1, "kernel": 1})])
    with pytest.raises(ArchcalcError, match=r"no parameter 'conv9\.weight'"):
        ox.to_model(net, values={"conv9.weight": [1.0]})
    with pytest.raises(ArchcalcError, match="shape"):
        ox.to_model(net, values={"conv1.bias": [1.0, 2.0]})


# ---------------------------------------------------------------------------------------------
# weights

def weights_of(model):
    return {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}


def test_random_weights_are_kaiming_uniform():
    net = build((16, 16, 64), [("conv", {"filters": 128})])
    w = weights_of(ox.to_model(net, "random"))
    fan_in = 64 * 3 * 3
    bound = sqrt(6 / fan_in)                       # U(−b, b) has variance b²/3 = 2/fan_in
    assert w["conv1.weight"].shape == (128, 64, 3, 3)
    assert w["conv1.weight"].min() >= -bound and w["conv1.weight"].max() <= bound
    assert w["conv1.weight"].max() > 0.99 * bound and w["conv1.weight"].min() < -0.99 * bound
    assert abs(w["conv1.weight"].std() / sqrt(2 / fan_in) - 1) < 0.02
    assert abs(w["conv1.weight"].mean()) < 0.05 * sqrt(2 / fan_in)
    assert not w["conv1.bias"].any()


def test_random_weights_depend_on_the_seed():
    net = build((8, 8, 3), [("conv", {"filters": 8}), ("fc", {"units": 10})])
    a, b = weights_of(ox.to_model(net, seed=1)), weights_of(ox.to_model(net, seed=1))
    c = weights_of(ox.to_model(net, seed=2))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["fc1.weight"], c["fc1.weight"])


def test_chunks_do_not_depend_on_the_number_of_threads(monkeypatch):
    monkeypatch.setattr(ox, "CHUNK", 1000)
    params = [ox.Param("a.weight", (30, 100), "he", 100), ox.Param("b.weight", (7, 900), "he", 900)]
    one = [c for _, c in ox._stream(params, "random", 0, {}, workers=1)]
    four = [c for _, c in ox._stream(params, "random", 0, {}, workers=4)]
    assert len(one) == 3 + 7 and all(np.array_equal(x, y) for x, y in zip(one, four))


def test_zeros_mode_keeps_batchnorm_statistics():
    net = build((4, 4, 3), [("conv", {"filters": 2}), ("batchnorm", {})])
    w = weights_of(ox.to_model(net, "zeros"))
    for name in ("conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean"):
        assert not w[name].any(), name
    np.testing.assert_array_equal(w["bn1.running_var"], [1, 1])


def test_parameters_match_the_analyzer_per_layer():
    net = ox._probe_network()
    report = archcalc.analyze(net)
    w = weights_of(ox.to_model(net))
    # initializers hold the parameters and the buffers (BatchNorm's running statistics)
    assert sum(v.size for v in w.values()) == report.totals.params + report.totals.buffers
    assert w["bn1.weight"].size + w["bn1.bias"].size == report["bn1"].trainable_params


def test_unknown_weights_mode():
    with pytest.raises(ArchcalcError, match="unknown weights mode"):
        ox.to_model(ox._probe_network(), "ones")


# ---------------------------------------------------------------------------------------------
# files

@pytest.fixture
def small():
    return build((16, 16, 3), [("conv", {"filters": 8}), ("relu", {}), ("maxpool", {}),
                               ("fc", {"units": 10}), ("softmax", {})])


def test_exported_file_is_the_model_of_to_model(small, tmp_path):
    path = ox.export(small, tmp_path / "m.onnx", seed=3)
    assert path == str(tmp_path / "m.onnx")
    assert onnx.load(path) == ox.to_model(small, seed=3)


def test_two_exports_are_byte_identical(small, tmp_path):
    a = ox.export(small, tmp_path / "a.onnx")
    b = ox.export(small, tmp_path / "b.onnx")
    with open(a, "rb") as fa, open(b, "rb") as fb:
        assert fa.read() == fb.read()


def test_light_export_is_structure_only(tmp_path):
    net = archcalc.parse("C3D64 C3D64 M FC4096 FC10 S", input=(64, 64, 3))
    path = ox.export(net, tmp_path / "light.onnx", weights="light")
    model = onnx.load(path)
    assert os.path.getsize(path) < 10_000 and not model.graph.initializer
    assert [i.name for i in model.graph.input][:2] == ["input", "conv1.weight"]
    ox.verify(model, net)


def test_external_data_past_the_threshold(small, tmp_path):
    path = ox.export(small, tmp_path / "ext.onnx", external_threshold=1000)
    assert os.path.exists(path + ".data")
    assert os.path.getsize(path) < 2000
    onnx.checker.check_model(path)
    assert weights_of(onnx.load(path)).keys() == weights_of(ox.to_model(small)).keys()
    for k, v in weights_of(onnx.load(path)).items():
        np.testing.assert_array_equal(v, weights_of(ox.to_model(small))[k])
    inline = ox.export(small, tmp_path / "inline.onnx")
    assert not os.path.exists(inline + ".data")


def test_external_data_runs(small, tmp_path):
    path = ox.export(small, tmp_path / "ext.onnx", external_data=True)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {"input": np.ones((2, 3, 16, 16), np.float32)})
    np.testing.assert_allclose(out.sum(axis=1), [1, 1], rtol=1e-6)


def leftovers(d):
    return sorted(n for n in os.listdir(d) if n.startswith("."))


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_failed_export_keeps_the_old_file(small, tmp_path, monkeypatch, exc):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"the previous model")

    def broken(*args, **kwargs):
        raise exc
    monkeypatch.setattr(ox, "_chunk", broken)
    with pytest.raises(type(exc)):
        ox.export(small, path)
    assert path.read_bytes() == b"the previous model"
    assert leftovers(tmp_path) == []


def test_export_that_disagrees_with_the_analyzer_writes_nothing(small, tmp_path, monkeypatch):
    def wrong_pool(g, layer, ins, vin, out, at):
        g.node("MaxPool", [ins[0]], layer.name, 4, kernel_shape=[3, 3], strides=[3, 3])
    monkeypatch.setitem(ox.EMIT, "maxpool", wrong_pool)
    with pytest.raises(ox.VerificationError, match="pool1"):
        ox.export(small, tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []


def test_export_to_a_missing_directory(small, tmp_path):
    with pytest.raises(ArchcalcError, match="does not exist") as info:
        ox.export(small, tmp_path / "nowhere" / "m.onnx")
    assert exit_code(info.value) == 2


def test_file_check_refuses_a_truncated_tensor(small, tmp_path, monkeypatch):
    real = ox._chunk
    monkeypatch.setattr(ox, "_chunk", lambda p, i, m, s: real(p, i, m, s)[:-1])
    with pytest.raises(ox.VerificationError, match="wrote"):
        ox.export(small, tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []


def test_skeleton_reader_round_trips(small, tmp_path):
    path = ox.export(small, tmp_path / "m.onnx")
    skeleton, raw = ox._read_skeleton(path)
    full = onnx.load(path)
    assert raw == {t.name: len(t.raw_data) for t in full.graph.initializer}
    del full.graph.initializer[:]
    del skeleton.graph.initializer[:]
    assert skeleton == full


def test_export_never_replaces_a_device_a_pipe_or_a_symlink(tmp_path):
    from conftest import run_cli
    fifo = tmp_path / "fifo.onnx"
    os.mkfifo(fifo)
    p = run_cli("export", "C3D4", "-i", "8x8x3", "-o", str(fifo))
    assert p.returncode == 2 and "not a regular file" in p.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)                     # still a pipe
    real = tmp_path / "real" / "target.onnx"
    real.parent.mkdir()
    link = tmp_path / "link.onnx"
    link.symlink_to(real)
    p = run_cli("export", "C3D4", "-i", "8x8x3", "-o", str(link))
    assert p.returncode == 0, p.stderr
    assert link.is_symlink() and real.is_file()                      # written through the link
    onnx.checker.check_model(str(real))
    dash = run_cli("export", "C3D4", "-i", "8x8x3", "-o", "-")
    assert dash.returncode == 2 and "standard output" in dash.stderr


def test_ceil_pooling_whose_extra_window_would_start_in_the_padding():
    # maxpool 2×2/2, padding 1, ceil, on 15: ceil((15 + 2 − 2)/2) + 1 = 9, but the 9th window
    # would start at 16 − 1 = 15, in the right padding: PyTorch (and archcalc) keep 8. ONNX's
    # shape inference applies ceil_mode's plain formula (9), so the exporter must not ask for it.
    net = archcalc.parse("name: p\ninput: 15x15x2\nlayers:\n"
                         "  - {op: maxpool, kernel: 2, stride: 2, padding: 1, rounding: ceil}\n"
                         "  - FC3\n")
    assert archcalc.analyze(net)["pool1"].output == (8, 8, 2)
    model = ox.to_model(net, "random")
    ox.verify(model, net)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"input": np.ones((1, 2, 15, 15), np.float32)})
    assert y.shape == (1, 3)
