"""ONNX import (ONNX models read as networks): round trips, ONNX files as other tools write them,
patterns, names, bad input. The PyTorch exports are in test_onnx_import_torch.py (optional)."""
from __future__ import annotations

import json
import os
import random
import sys

import pytest

from archcalc.cli.guard import exit_code

onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")
from conftest import imported_by, run_cli  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from test_export import SPECS, spec_networks  # noqa: E402

import archcalc  # noqa: E402
from archcalc.exporters import onnx as ox  # noqa: E402
from archcalc.exporters.yaml import to_yaml  # noqa: E402
from archcalc.onnx_import import load_onnx  # noqa: E402
from archcalc.onnx_import.names import short_name  # noqa: E402
from archcalc.spec import parse  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import netgen  # noqa: E402

FIELDS = ("output", "params", "trainable", "buffers", "macs", "activations", "rf", "inplace")
TOTALS = ("params", "trainable_params", "buffers", "macs", "activations", "activation_bytes",
          "param_bytes", "peak_bytes", "training_bytes")


def same_report(a, b, skip_train_only=True):
    """Differences between two reports, layer by layer (by name) and in the totals; a's
    training-only layers are not in an export, so b is compared with a's inference figures."""
    rows = {r.name: r for r in b.layers}
    problems = []
    for r in a.layers:
        if r.train_only and skip_train_only:
            assert r.name not in rows
            continue
        s = rows.pop(r.name, None)
        if s is None:
            problems.append(f"{r.name}: missing")
            continue
        problems += [f"{r.name}.{k}: {getattr(r, k)} vs {getattr(s, k)}" for k in FIELDS
                     if getattr(r, k) != getattr(s, k)]
    problems += [f"{name}: extra" for name in rows]
    ta, tb = a.totals, b.totals
    for k in TOTALS:
        want = getattr(ta, k)
        if k in ("params", "trainable_params"):
            want -= ta.train_only_params
        if k == "buffers":
            want -= ta.train_only_buffers
        if k == "training_bytes" and ta.train_only_params:
            continue                     # counts the training-only head whole
        if want != getattr(tb, k):
            problems.append(f"totals.{k}: {want} vs {getattr(tb, k)}")
    return problems


def export_import(net, path, **kw):
    ox.export(net, str(path), progress=False, **kw)
    return load_onnx(str(path))


# ---------------------------------------------------------------------------------------------
# round trips

@pytest.mark.parametrize("net", spec_networks())
def test_every_spec_round_trips_exactly(net, tmp_path):
    """load(export(spec)) gives the spec's report: every layer's volume, parameters, buffers,
    MACs, activations, receptive field and in-place flag, and every total (peak included)."""
    back = export_import(net, tmp_path / "m.onnx", weights="none")
    assert same_report(archcalc.analyze(net), archcalc.analyze(back)) == []
    # and the YAML that archcalc import writes reads back to the same report
    again = parse(to_yaml(back), language="yaml")
    assert same_report(archcalc.analyze(back), archcalc.analyze(again)) == []


def test_random_networks_round_trip(tmp_path):
    """Random networks of every op (the oracle's generator: splits, slices, shuffles, upsampling,
    transposed convs with output_padding up to the dilation, pads, crops, norms, merges)."""
    for seed in range(60):
        _, net, report = netgen.random_valid(random.Random(seed), new_ops=True)
        back = export_import(net, tmp_path / f"{seed}.onnx", weights="none")
        assert same_report(report, archcalc.analyze(back)) == [], seed


def _round_trip_problems(report, net, path):
    """same_report of ``report`` (the spec's) and load(export(net)), then of that and the YAML
    archcalc import writes for it."""
    back = export_import(net, path, weights="none")
    problems = same_report(report, archcalc.analyze(back))
    again = parse(to_yaml(back), language="yaml")
    return problems + [f"yaml: {p}" for p in same_report(archcalc.analyze(back),
                                                         archcalc.analyze(again))]


def _gated(net):
    """Whether ``net`` multiplies a layer by its own sigmoid or hard sigmoid, which nothing else
    reads: Mul(x, Sigmoid(x)), the form the import reads as one silu (or hardswish) layer
    (docs/onnx-import.md), so that such a network does not round-trip layer for layer."""
    layers = {layer.name: layer for layer in net.layers}
    readers = {}
    for layer in net.layers:
        for name in layer.inputs:
            readers[name] = readers.get(name, 0) + 1
    for layer in net.layers:
        if layer.op != "mul" or len(layer.inputs) != 2:
            continue
        for gate, x in (layer.inputs, reversed(layer.inputs)):
            g = layers[gate]
            if g.op in ("sigmoid", "hardsigmoid") and list(g.inputs) == [x] and \
                    readers[gate] == 1 and gate not in net.outputs:
                return True
    return False


def _one_window(net, report) -> bool:
    """Whether an attention of ``net`` has one window over its whole map."""
    rows = {row.name: row for row in report.layers}
    return any(layer.op == "attention" and layer.attrs["window"] is not None
               and tuple(layer.attrs["window"]) == rows[layer.inputs[0]].output[:2]
               for layer in net.layers)


def _token_round_trips(tmp_path, seeds, prefix):
    """The oracle's random networks with the token and attention ops drawn too (netgen's
    ``tokens``): every one round-trips, but those that multiply a layer by its own sigmoid gate
    (:func:`_gated`); (the networks, for what they hold)."""
    nets = []
    for seed in seeds:
        text, net, report = netgen.random_valid(random.Random(f"{prefix}-{seed}"), new_ops=True,
                                                tokens=True)
        if _gated(net):
            continue
        problems = _round_trip_problems(report, net, tmp_path / "m.onnx")
        if _one_window(net, report):
            # a window as large as its map reads back as the global attention it computes:
            # every figure agrees but the training step's, which keeps a windowed attention's
            # scores (explicit softmax, as Swin runs it) and a global one's q, k, v (PyTorch's
            # scaled_dot_product_attention): docs/onnx-import.md
            problems = [p for p in problems if not p.startswith("totals.training_bytes")]
        assert problems == [], text
        nets.append((net, report))
    assert len(nets) >= 0.99 * len(seeds)
    return nets


def _attention_forms(nets):
    """The token ops and the attention forms ``nets`` hold (which the round trip has read)."""
    seen = set()
    for net, report in nets:
        rows = {row.name: row for row in report.layers}
        for layer in net.layers:
            seen.add(layer.op)
            a = layer.attrs
            if layer.op != "attention":
                continue
            src = rows[layer.inputs[0]]
            seen.add("window" if a["window"] else "grid" if a["grid"] else
                     "cross" if len(layer.inputs) == 2 else "global")
            if a["window"] and any(a["shift"]) and a["relpos"]:
                seen.add("shifted window, relpos")
            if a["grid"] and a["relpos"]:
                seen.add("grid, relpos")
            if src.output[0] == 1:
                seen.add("on a sequence")
            if not a["proj"]:
                seen.add("no proj")
            if src.op == "attention":
                seen.add("after an attention")
    return seen


def test_random_token_networks_round_trip(tmp_path):
    """Random networks with the token and attention ops among the others (the oracle's
    generator with ``tokens``): load(export(net)) and its YAML give the network's report."""
    seen = _attention_forms(_token_round_trips(tmp_path, range(40), "round-trip-tokens"))
    assert {"tokens", "untokens", "class_token", "pos_embed", "take_token", "linear",
            "layer_scale", "drop_path", "patch_merge", "attention", "window", "grid", "cross",
            "global", "shifted window, relpos", "grid, relpos", "on a sequence", "no proj",
            "after an attention"} <= seen


@pytest.mark.slow
def test_random_token_networks_round_trip_long(tmp_path):
    """The same over 1,000 networks (about a minute)."""
    _token_round_trips(tmp_path, range(1000), "round-trip-tokens-long")


# what the graph alone leaves open, or the importer's walks could mistake: each reads back as
# written (the export names a few nodes' layer in their doc_string: docs/export.md)
EDGE_FORMS = {
    # a grid of cells one place wide, or as wide as the map, holds the places of windows too;
    # its field is global, a window's not
    "grid [1, 1]": "{op: attention, heads: 2, grid: [1, 1]}",
    "grid [1, W]": "{op: attention, heads: 2, grid: [1, 8], relpos: true}",
    "grid [H, W]": "{op: attention, heads: 2, grid: [8, 8]}",
    "window [1, 1], relpos, one head": "{op: attention, heads: 1, window: 1, relpos: true}",
    # views that change nothing: the tokens of a row, a sequence back into a row
    "tokens of a row, untokens to a row": """{op: avgpool, kernel: [8, 1]}
  - {op: tokens}
  - {op: untokens, size: [1, 8]}""",
    # two attentions with no layer between them: their views meet
    "attention after attention": """{op: attention, heads: 2, window: 4, shift: 2}
  - {op: attention, heads: 4, head_dim: 2, proj: false}
  - {op: attention, heads: 2, window: [2, 4], shift: [1, 0], relpos: true}
  - {op: attention, heads: 2, grid: 2}""",
    "cross-attention": """{op: conv, name: kv, filters: 6, kernel: 3, stride: 2, padding: 1}
  - {op: attention, name: q, inputs: input, heads: 2}
  - {op: attention, inputs: [q, kv], heads: 2, kv_channels: 6}
  - {op: attention, inputs: [q, q], heads: 4, qkv_bias: false, proj: false}""",
    # layers of views, slices, pads or concatenations next to an attention's own
    "layers of views around attention": """{op: shuffle, groups: 2}
  - {op: attention, heads: 2, window: 4, shift: 1}
  - {op: shuffle, groups: 4}
  - {op: pad, padding: [0, 4, 0, 4]}
  - {op: attention, heads: 2, window: 4, shift: 2}
  - {op: slice, start: 1}
  - {op: attention, heads: 1, window: 2, shift: 1}
  - {op: crop, size: [8, 8]}
  - {op: dropout}
  - {op: attention, heads: 1}
  - {op: drop_path}
  - {op: patch_merge}""",
    "a concatenation into attention": """{op: slice, name: a, end: 2}
  - {op: slice, name: b, inputs: input, start: 2}
  - {op: concat, inputs: [b, a]}
  - {op: attention, heads: 2, window: [1, 8], shift: [0, 3]}""",
    "one channel": """{op: conv, filters: 1, kernel: 1}
  - {op: attention, heads: 1, window: 4, shift: 2, relpos: true}
  - {op: attention, heads: 1, head_dim: 3, grid: 2, proj: false}""",
    # a pad layer by one zero row before a patch merging, a transposed convolution's output
    "pads before a patch merging": """{op: pad, padding: [0, 1, 0, 1]}
  - {op: patch_merge}
  - {op: conv_transpose, filters: 4, kernel: 2, stride: 2, output_padding: 1}
  - {op: patch_merge}""",
    "a sequence": """{op: tokens}
  - {op: class_token, count: 2}
  - {op: pos_embed}
  - {op: attention, heads: 2, window: [1, 6], shift: [0, 3], relpos: true}
  - {op: attention, heads: 2}
  - {op: take_token, index: -1}
  - {op: linear, units: 5}
  - {op: layer_scale}""",
}


@pytest.mark.parametrize("layers", EDGE_FORMS.values(), ids=EDGE_FORMS.keys())
def test_forms_the_graph_alone_leaves_open_round_trip(layers, tmp_path):
    net = parse(f"input: 8x8x4\nlayers:\n  - {layers}\n")
    assert _round_trip_problems(archcalc.analyze(net), net, tmp_path / "m.onnx") == []


def test_the_token_ops_read_without_their_names(tmp_path):
    """Where the graph says it alone, the import needs none of the names in doc_strings: a
    ViT's stem, class token, position embedding, layer-normed attention and head, and a Swin
    stage (each attention begins and ends at another layer), with every doc_string cleared."""
    net = parse("""input: 32x32x3
layers:
  - {op: conv, filters: 8, kernel: 4, stride: 4, padding: 0}
  - {op: layernorm, name: norm0}
  - {op: attention, heads: 2, window: 4, relpos: true}
  - {op: add, name: res, inputs: [attention1, norm0]}
  - {op: layernorm}
  - {op: attention, heads: 2, window: 4, shift: 2, relpos: true}
  - {op: add, inputs: [attention2, res]}
  - {op: patch_merge}
  - {op: tokens}
  - {op: class_token}
  - {op: pos_embed}
  - {op: layernorm, name: norm}
  - {op: attention, heads: 2}
  - {op: add, inputs: [attention3, norm]}
  - {op: take_token}
  - {op: linear, units: 10}
""")
    model = ox.to_model(net, weights="none")
    named = [node for node in model.graph.node if node.doc_string]
    assert {node.op_type for node in named} == {"Reshape", "Concat"}     # tokens; attentions
    for node in named:
        node.doc_string = ""
    path = write(model, tmp_path)
    assert same_report(archcalc.analyze(net), archcalc.analyze(load_onnx(path))) == []


def test_inline_and_external_weights_are_never_read(tmp_path):
    net = archcalc.load(os.path.join(SPECS, "resnet18.yaml"))
    inline = export_import(net, tmp_path / "inline.onnx", weights="random")
    ext_path = tmp_path / "ext.onnx"
    ox.export(net, str(ext_path), weights="random", external_data=True, progress=False)
    data = [p for p in os.listdir(tmp_path) if p.startswith("ext.onnx") and p != "ext.onnx"]
    assert data                                   # the weights went to a file of their own
    for p in data:                                # ... which the import never opens
        os.remove(tmp_path / p)
    external = load_onnx(str(ext_path))
    want = archcalc.analyze(net)
    assert same_report(want, archcalc.analyze(inline)) == []
    assert same_report(want, archcalc.analyze(external)) == []


def test_the_import_never_imports_onnx(tmp_path):
    path = tmp_path / "m.onnx"
    ox.export(archcalc.load(os.path.join(SPECS, "resnet18.yaml")), str(path), weights="none",
              progress=False)
    modules, out = imported_by("summary", str(path), "-F", "json")
    assert json.loads(out)["totals"]["params"] == 11_689_512       # torchvision's ResNet-18
    assert "onnx" not in modules and "onnxruntime" not in modules and "numpy" not in modules


# ---------------------------------------------------------------------------------------------
# ONNX files as other tools write them

def make_model(nodes, inits, inp=("x", [1, 3, 8, 8]), outputs=("y",), opset=17, shapes=True,
               value_info=()):
    x = helper.make_tensor_value_info(inp[0], TensorProto.FLOAT, inp[1])
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs]
    graph = helper.make_graph(nodes, "g", [x], outs,
                              [numpy_helper.from_array(np.asarray(v, dtype=np.int64
                                                                  if k.startswith("i_") else
                                                                  np.float32), k)
                               for k, v in inits.items()], value_info=list(value_info))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7 if opset <= 15 else 8
    if shapes:
        model = onnx.shape_inference.infer_shapes(model)
    return model


def write(model, tmp_path, name="m.onnx"):
    path = str(tmp_path / name)
    onnx.save(model, path)
    return path


def rows(path, **kw):
    r = archcalc.analyze(load_onnx(path, **kw))
    return {row.name: row for row in r.layers}, r


def small_net(opset):
    """Conv 3×3/1 p1 (8 filters) → Relu → MaxPool 2/2 ceil → Clip [0, 6] → Pad 1 → Resize ×2 →
    Split into 4 + 4 → Concat → GlobalAveragePool → Flatten → Gemm 10, in the forms of ``opset``
    (Clip bounds, Pad pads, Resize scales and Split sizes as attributes or inputs)."""
    w = np.zeros((8, 3, 3, 3))
    inits = {"w": w, "b": np.zeros(8), "fw": np.zeros((10, 8)), "fb": np.zeros(10)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1],
                              kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2],
                              strides=[2, 2], ceil_mode=1)]
    if opset >= 11:
        inits.update(lo=np.array(0.0), hi=np.array(6.0), i_pads=[0, 0, 1, 1, 0, 0, 1, 1],
                     scales=[1, 1, 2, 2])
        nodes += [helper.make_node("Clip", ["p", "lo", "hi"], ["q"], name="clip"),
                  helper.make_node("Pad", ["q", "i_pads"], ["d"], name="pad"),
                  helper.make_node("Resize", ["d", "", "scales"], ["u"], name="up",
                                   mode="nearest")]
    if opset >= 18:
        nodes.append(helper.make_node("Split", ["u"], ["s0", "s1"], name="split", axis=1,
                                      num_outputs=2))
    elif opset >= 13:
        inits["i_split"] = [4, 4]
        nodes.append(helper.make_node("Split", ["u", "i_split"], ["s0", "s1"], name="split",
                                      axis=1))
    else:
        nodes.append(helper.make_node("Split", ["u"], ["s0", "s1"], name="split", axis=1,
                                      split=[4, 4]))
    nodes += [helper.make_node("Concat", ["s1", "s0"], ["k"], name="cat", axis=1),
              helper.make_node("GlobalAveragePool", ["k"], ["g"], name="gap"),
              helper.make_node("Flatten", ["g"], ["f"], name="flat"),
              helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]
    return make_model(nodes, inits, opset=opset)


@pytest.mark.parametrize("opset", list(range(11, onnx.defs.onnx_opset_version() + 1)))
def test_opsets_11_to_the_newest(opset, tmp_path):
    got, report = rows(write(small_net(opset), tmp_path))
    # by hand: 8×8 conv p1 → 8×8×8; pool 2/2 → 4×4; pad 1 → 6×6; ×2 → 12×12; split 4 + 4;
    # concat 8; global pool; fc 8·10 + 10 = 90
    assert got["conv"].output == (8, 8, 8) and got["conv"].params == 3 * 3 * 3 * 8 + 8
    assert got["clip"].op == "relu6" and got["pad"].output == (6, 6, 8)
    assert got["up"].output == (12, 12, 8)
    assert got["split.0"].output == (12, 12, 4) and got["split.1"].output == (12, 12, 4)
    assert got["cat"].output == (12, 12, 8) and got["cat"].inputs == ("split.1", "split.0")
    assert got["fc"].params == 90 and got["fc"].macs == 80
    assert "flat" not in got                       # a flatten before a fully connected layer
    assert report.totals.macs == 8 * 8 * 8 * 27 + 80


def test_with_and_without_shape_information(tmp_path):
    model = small_net(17)
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    del bare.graph.value_info[:]
    for o in bare.graph.output:
        o.type.tensor_type.ClearField("shape")
    a, _ = rows(write(model, tmp_path, "shapes.onnx"))
    b, _ = rows(write(bare, tmp_path, "bare.onnx"))
    assert {k: (r.output, r.params, r.macs, r.rf) for k, r in a.items()} == \
        {k: (r.output, r.params, r.macs, r.rf) for k, r in b.items()}


def test_tensorflow_same_padding_is_asymmetric(tmp_path):
    """auto_pad SAME_UPPER (TensorFlow's SAME): a 3×3/2 conv on 8×8 pads 0 at the top and 1 at
    the bottom (total (⌈8/2⌉ − 1)·2 + 3 − 8 = 1); output 4×4; the receptive field's first centre
    moves by the top padding only."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3],
                              strides=[2, 2], auto_pad="SAME_UPPER")]
    got, _ = rows(write(make_model(nodes, {"w": np.zeros((4, 3, 3, 3))}), tmp_path))
    conv = got["conv"]
    assert conv.output == (4, 4, 4) and conv.attrs["pads"] == (0, 0) and \
        conv.attrs["pads_end"] == (1, 1)
    # RF: size 3, jump 2, first centre at (3 − 1)/2 − 0 = 1 (pixel 1 of the input)
    assert conv.rf.size == (3, 3) and conv.rf.stride == (2, 2) and conv.rf.start == (1.0, 1.0)
    nodes[0] = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3],
                                strides=[2, 2], pads=[1, 0, 0, 1])     # top 1, left 0, …
    got, _ = rows(write(make_model(nodes, {"w": np.zeros((4, 3, 3, 3))}), tmp_path, "b.onnx"))
    assert got["conv"].output == (4, 4, 4) and got["conv"].rf.start == (0.0, 1.0)


def test_pytorch_style_names_and_patterns(tmp_path):
    """Node names as PyTorch writes them; GELU in its Erf form (Div √2, Erf, Add 1, Mul x, Mul
    0.5), SiLU as Mul(x, Sigmoid x), a Linear as MatMul + Add, shape arithmetic folded."""
    inits = {"w": np.zeros((4, 3, 1, 1)), "sqrt2": np.array(2 ** 0.5), "one": np.array(1.0),
             "half": np.array(0.5), "mw": np.zeros((4, 5)), "mb": np.zeros(5),
             "i_zero": np.array(0), "i_minus1": [-1]}
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="/features/features.0/Conv",
                         kernel_shape=[1, 1]),
        helper.make_node("Div", ["c", "sqrt2"], ["d"], name="/act/Div"),
        helper.make_node("Erf", ["d"], ["e"], name="/act/Erf"),
        helper.make_node("Add", ["e", "one"], ["a"], name="/act/Add"),
        helper.make_node("Mul", ["c", "a"], ["m"], name="/act/Mul"),
        helper.make_node("Mul", ["m", "half"], ["gelu"], name="/act/Mul_1"),
        helper.make_node("Sigmoid", ["gelu"], ["s"], name="/silu/Sigmoid"),
        helper.make_node("Mul", ["gelu", "s"], ["silu"], name="/silu/Mul"),
        helper.make_node("GlobalAveragePool", ["silu"], ["g"], name="/pool/GlobalAveragePool"),
        helper.make_node("Shape", ["g"], ["shape"], name="/Shape"),
        helper.make_node("Gather", ["shape", "i_zero"], ["n"], name="/Gather"),
        helper.make_node("Unsqueeze", ["n", "i_axes"], ["n1"], name="/Unsqueeze"),
        helper.make_node("Concat", ["n1", "i_minus1"], ["target"], name="/Concat", axis=0),
        helper.make_node("Reshape", ["g", "target"], ["flat"], name="/Reshape"),
        helper.make_node("MatMul", ["flat", "mw"], ["mm"], name="/fc/MatMul"),
        helper.make_node("Add", ["mm", "mb"], ["y"], name="/fc/Add")]
    inits["i_axes"] = [0]
    got, report = rows(write(make_model(nodes, inits), tmp_path))
    assert [r.op for r in report.layers] == ["input", "conv", "gelu", "silu", "global_avgpool",
                                             "fc"]
    assert list(got) == ["input", "features.0", "act", "silu", "pool", "fc"]
    assert got["fc"].params == 4 * 5 + 5 and got["fc"].output == (1, 1, 5)


def test_short_names():
    assert short_name("/layer1/layer1.0/conv1/Conv", "Conv") == "layer1.0.conv1"
    assert short_name("/features/features.0/Conv", "Conv") == "features.0"
    assert short_name("/layer1/layer1.0/relu_1/Relu", "Relu") == "layer1.0.relu_1"
    assert short_name("/Relu_3", "Relu") == "Relu_3"
    assert short_name("inception_3a/conv1", "Conv") == "inception_3a/conv1"   # archcalc's own
    assert short_name("conv1", "Conv") == "conv1"


def test_a_diff_between_two_versions_aligns_by_name(tmp_path):
    """ResNet-18 → ResNet-34 as two ONNX files: layers align by their names (layer1.0/conv1 is
    in both; layer1.2 only in B)."""
    p1, p2 = tmp_path / "v1.onnx", tmp_path / "v2.onnx"
    for name, p in (("resnet18", p1), ("resnet34", p2)):
        ox.export(archcalc.load(os.path.join(SPECS, f"{name}.yaml")), str(p), weights="none",
                  progress=False)
    p = run_cli("diff", str(p1), str(p2), "-F", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    text = json.dumps(doc)
    assert "11689512" in text and "21797672" in text           # torchvision's counts
    assert "layer1.2/conv1" in text


# ---------------------------------------------------------------------------------------------
# dynamic sizes, unknown ops

def test_dynamic_spatial_sizes_ask_for_input(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3])]
    path = write(make_model(nodes, {"w": np.zeros((4, 3, 3, 3))},
                            inp=("x", ["N", 3, "H", "W"])), tmp_path)
    with pytest.raises(archcalc.ArchcalcError) as exc:
        load_onnx(path)
    assert exit_code(exc.value) == 2
    assert "dynamic height and width" in str(exc.value) and "--input 224x224x3" in str(exc.value)
    got, _ = rows(path, input="32x32x3")
    assert got["conv"].output == (30, 30, 4)
    p = run_cli("summary", path, "--input", "32x32x4")
    assert p.returncode == 2 and "--input gives 4 channels" in p.stderr


def nms_model():
    """A conv, then three nodes of an op archcalc does not know."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Mystery", ["c"], ["m1"], name="m1", domain="acme"),
             helper.make_node("Relu", ["m1"], ["r"], name="relu"),
             helper.make_node("Mystery", ["r"], ["m2"], name="m2", domain="acme"),
             helper.make_node("Mystery", ["m2"], ["y"], name="m3", domain="acme")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y],
                              [numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                   helper.make_opsetid("acme", 1)])


def test_unknown_ops_are_named_once_per_type(tmp_path):
    path = write(nms_model(), tmp_path)
    with pytest.raises(archcalc.ArchcalcError) as exc:
        load_onnx(path)
    errors = exc.value.diagnostics
    assert len(errors) == 1
    assert "unsupported op 'acme.Mystery' (3 nodes: m1, m2, m3)" in errors[0].message
    p = run_cli("summary", path)
    assert p.returncode == 1 and "unsupported op 'acme.Mystery' (3 nodes" in p.stderr
    assert "--unknown passthrough" in p.stderr and "Traceback" not in p.stderr


def test_passthrough_keeps_unknown_nodes_marked_and_uncounted(tmp_path):
    path = write(nms_model(), tmp_path)
    got, report = rows(path, unknown="passthrough")
    assert [got[n].op for n in ("m1", "m2", "m3")] == ["opaque"] * 3
    assert got["m3"].output == (8, 8, 4) and got["m1"].params == 0 and got["m1"].macs == 0
    assert report.totals.macs == 8 * 8 * 4 * 27       # the conv alone
    assert any("not counted" in d.message for d in report.diagnostics)
    p = run_cli("summary", path, "--unknown", "passthrough")
    assert p.returncode == 0 and "ONNX Mystery (not counted)" in p.stdout
    assert "3 layers pass through ONNX nodes archcalc cannot read (Mystery ×3)" in p.stdout
    assert "gives no size for m1, m2, m3" in p.stdout     # (acme.Mystery: no inference rule)
    doc = json.loads(run_cli("summary", path, "--unknown", "passthrough", "-F", "json").stdout)
    assert [r["op"] for r in doc["layers"]].count("opaque") == 3
    p = run_cli("export", path, "--unknown", "passthrough", "-o", str(tmp_path / "x.onnx"))
    assert p.returncode != 0 and "Traceback" not in p.stderr
    # the spec import writes keeps the layers, and the warning with them
    spec = tmp_path / "m.yaml"
    assert run_cli("import", path, "--unknown", "passthrough", "-o", str(spec)).returncode == 0
    p = run_cli("validate", str(spec))
    assert "3 layers pass through ONNX nodes archcalc cannot read" in p.stdout + p.stderr


def test_a_size_changing_unknown_op_is_one_error(tmp_path):
    """TopK (k = 4 of 8 channels) gets its size from shape inference (k is an initializer);
    a Concat along the height changes the size: one error, not two."""
    inits = {"w": np.zeros((8, 3, 3, 3)), "i_k": [4]}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]),
             helper.make_node("TopK", ["c", "i_k"], ["t", "ti"], name="topk", axis=1)]
    path = write(make_model(nodes, inits, outputs=("t",), shapes=False), tmp_path)
    got, _ = rows(path, unknown="passthrough")
    assert got["topk"].output == (8, 8, 4)
    nodes = [helper.make_node("Concat", ["x", "x"], ["y"], name="hcat", axis=2)]
    path = write(make_model(nodes, {}), tmp_path, "h.onnx")
    p = run_cli("summary", path, "--unknown", "passthrough")
    assert p.returncode == 1 and p.stderr.count("error") == 1, p.stderr
    assert "changes the size 8×8 → 16×8" in p.stderr


# ---------------------------------------------------------------------------------------------
# bad input: one clean error, exit 2, never a traceback

def bad(tmp_path, data: bytes, name="m.onnx"):
    path = tmp_path / name
    path.write_bytes(data)
    p = run_cli("summary", str(path))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr and p.stderr.count("error") == 1, p.stderr
    return p.stderr


def test_corrupt_truncated_and_foreign_files(tmp_path):
    good = small_net(17).SerializeToString()
    assert "truncated" in bad(tmp_path, good[: len(good) // 2])
    assert "not a readable ONNX model" in bad(tmp_path, bytes(random.Random(1).randrange(256)
                                                              for _ in range(4000)))
    assert "not" in bad(tmp_path, b"name: vgg\nlayers: [C3D64]\n")
    assert "empty" in bad(tmp_path, b"")
    assert "no such file" in run_cli("summary", str(tmp_path / "nope.onnx")).stderr


def test_no_image_input_says_what_was_found(tmp_path):
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, None)
    graph = helper.make_graph([helper.make_node("Identity", ["input_ids"], ["y"])], "g",
                              [ids], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    err = bad(tmp_path, model.SerializeToString())
    assert "no image input" in err and "'input_ids' int64 [batch, seq]" in err


def test_cycles_and_dangling_inputs(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    cyc = helper.make_graph([helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
                             helper.make_node("Relu", ["a"], ["b"], name="n2"),
                             helper.make_node("Relu", ["a"], ["y"], name="n3")], "g", [x], [y])
    model = helper.make_model(cyc, opset_imports=[helper.make_opsetid("", 17)])
    assert "cycle" in bad(tmp_path, model.SerializeToString())
    dangling = helper.make_graph([helper.make_node("Add", ["x", "ghost"], ["y"], name="n1")],
                                 "g", [x], [y])
    model = helper.make_model(dangling, opset_imports=[helper.make_opsetid("", 17)])
    err = bad(tmp_path, model.SerializeToString())
    assert "reads 'ghost', which no node, initializer or graph input gives" in err


def test_an_opset_newer_than_onnx_knows(tmp_path):
    model = small_net(17)
    model.opset_import[0].version = onnx.defs.onnx_opset_version() + 5
    err = bad(tmp_path, model.SerializeToString())
    assert f"opset {onnx.defs.onnx_opset_version() + 5}, newer than the installed onnx" in err


# ---------------------------------------------------------------------------------------------
# the commands

def test_every_command_reads_an_onnx_model(tmp_path):
    path = str(tmp_path / "r18.onnx")
    ox.export(archcalc.load(os.path.join(SPECS, "resnet18.yaml")), path, weights="none",
              progress=False)
    assert run_cli("validate", path).returncode == 0
    p = run_cli("compare", "resnet18", path, "-F", "json")
    assert p.returncode == 0, p.stderr
    assert run_cli("draw", path, "-o", str(tmp_path / "r.svg")).returncode == 0
    assert run_cli("explain", path, "layer1.0/conv1").returncode == 0
    spec = tmp_path / "r18.yaml"
    p = run_cli("import", path, "-o", str(spec))
    assert p.returncode == 0 and "wrote" in p.stderr, p.stderr
    doc = json.loads(run_cli("summary", str(spec), "-F", "json").stdout)
    assert doc["totals"]["params"] == 11_689_512 and doc["totals"]["macs"] == 1_814_073_344
    assert run_cli("import", path).stdout.startswith("# imported from r18.onnx")


def test_import_errors(tmp_path):
    path = str(tmp_path / "r.onnx")
    ox.export(archcalc.load(os.path.join(SPECS, "lenet5.yaml")), path, weights="none",
              progress=False)
    for args, words in ((["specs/vgg16.yaml"], "is not an .onnx file"),
                        ([path, "-o", str(tmp_path / "no" / "x.yaml")], "does not exist"),
                        ([path, "-o", str(tmp_path / "x.txt")], "should end in .yaml"),
                        ([path, "--unknown", "maybe"], "--unknown must be one of")):
        p = run_cli("import", *args)
        assert p.returncode == 2 and words in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert not os.path.exists(tmp_path / "x.txt")


def test_profiling_an_imported_model_maps_its_nodes_to_layers(tmp_path):
    """run --profile on a model with PyTorch's node names: every timed node maps to a layer
    (the import records which node became which layer)."""
    pytest.importorskip("onnxruntime")
    inits = {"w": np.random.default_rng(0).standard_normal((8, 3, 3, 3)), "b": np.zeros(8),
             "fw": np.zeros((10, 8 * 8 * 8)), "fb": np.zeros(10)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="/features/features.0/Conv",
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["c"], ["s"], name="/features/features.1/Sigmoid"),
             helper.make_node("Mul", ["c", "s"], ["m"], name="/features/features.1/Mul"),
             helper.make_node("Flatten", ["m"], ["f"], name="/Flatten"),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="/classifier/Gemm",
                              transB=1)]
    path = write(make_model(nodes, inits), tmp_path)
    net = load_onnx(path)
    assert net.origin["node_layers"] == {
        "/features/features.0/Conv": "features.0", "/features/features.1/Sigmoid": "features.1",
        "/features/features.1/Mul": "features.1", "/Flatten": "classifier",
        "/classifier/Gemm": "classifier",            # and their outputs' names
        "c": "features.0", "s": "features.1", "m": "features.1", "f": "classifier",
        "y": "classifier"}
    p = run_cli("run", path, "--profile", "--iters", "3", "--warmup", "1", "-F", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert "UNMAPPED" not in p.stdout and "map to no layer" not in p.stderr
    assert doc["name"] == "m"


# ---------------------------------------------------------------------------------------------
# forms found by a newcomer's review (PyTorch's two exporters)

def test_pytorch_pad_computation_is_folded(tmp_path):
    """nn.ZeroPad2d((1, 2, 0, 1)) as the TorchScript exporter writes it: the pads are computed
    by ConstantOfShape → Concat → Reshape → Slice (step −1) → Transpose → Reshape → Cast."""
    c = lambda name, v: helper.make_node("Constant", [], [name], name=name,
                                         value=numpy_helper.from_array(np.asarray(v, np.int64)))
    nodes = [c("given", [1, 2, 0, 1]), c("n4", [4]),
             helper.make_node("ConstantOfShape", ["n4"], ["zeros"], name="zeros"),
             helper.make_node("Concat", ["given", "zeros"], ["p8"], name="cat", axis=0),
             c("shape", [-1, 2]),
             helper.make_node("Reshape", ["p8", "shape"], ["p42"], name="r1"),
             c("st", [-1]), c("en", [-(2 ** 63)]), c("ax", [0]), c("sp", [-1]),
             helper.make_node("Slice", ["p42", "st", "en", "ax", "sp"], ["rev"], name="rev"),
             helper.make_node("Transpose", ["rev"], ["tr"], name="tr", perm=[1, 0]),
             c("flat", [-1]),
             helper.make_node("Reshape", ["tr", "flat"], ["pads"], name="r2"),
             helper.make_node("Cast", ["pads"], ["pads64"], name="cast", to=TensorProto.INT64),
             helper.make_node("Pad", ["x", "pads64"], ["y"], name="/p/Pad", mode="constant")]
    got, _ = rows(write(make_model(nodes, {}), tmp_path))
    # PyTorch's (left 1, right 2, top 0, bottom 1): 8×8 → 9×11
    assert got["p"].output == (9, 11, 3) and got["p"].attrs["padding"] == (0, 1, 1, 2)


def test_pytorch_dynamo_names_come_from_the_module_path():
    from archcalc.onnx_import.names import torch_scope_name
    ns = (": __main__.Net/layer1: torch.nn.modules.container.Sequential/layer1.0: __main__.Basic"
          "/layer1.0.relu: torch.nn.modules.activation.ReLU/relu_1: aten.relu.default")
    assert torch_scope_name(ns) == "layer1.0.relu"
    ns = (": __main__.Net/layer1: torch.nn.modules.container.Sequential/layer1.0: __main__.Basic"
          "/add: aten.add.Tensor")
    assert torch_scope_name(ns) == "layer1.0.add"
    assert torch_scope_name(": __main__.Net/flatten: aten.flatten.using_ints") == "flatten"


def test_groupnorm_with_per_group_initializers_and_a_transposed_linear(tmp_path):
    """PyTorch's newer exporter: the InstanceNormalization's per-group scale and bias are
    initializers; a training-mode Linear is MatMul(x, Transpose(W))."""
    inits = {"w": np.zeros((8, 3, 3, 3)), "i_g": [0, 2, -1], "s2": np.ones(2), "b2": np.zeros(2),
             "i_back": [0, 8, 8, 8], "gamma": np.ones((8, 1, 1)), "beta": np.zeros((8, 1, 1)),
             "fw": np.zeros((5, 8))}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Reshape", ["c", "i_g"], ["g"], name="g1"),
             helper.make_node("InstanceNormalization", ["g", "s2", "b2"], ["n"], name="g2"),
             helper.make_node("Reshape", ["n", "i_back"], ["b"], name="g3"),
             helper.make_node("Mul", ["b", "gamma"], ["m"], name="g4"),
             helper.make_node("Add", ["m", "beta"], ["gn"], name="/gn/Add"),
             helper.make_node("GlobalAveragePool", ["gn"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Transpose", ["fw"], ["wt"], name="t", perm=[1, 0]),
             helper.make_node("MatMul", ["f", "wt"], ["y"], name="/fc/MatMul")]
    got, report = rows(write(make_model(nodes, inits), tmp_path))
    assert got["gn"].op == "groupnorm" and got["gn"].params == 16       # γ and β: 2·8
    assert got["fc"].params == 40 and got["fc"].output == (1, 1, 5)
    assert report.totals.params == 8 * 27 + 16 + 40


def test_messages_for_forms_archcalc_cannot_read(tmp_path):
    """A Resize to a size that is no whole multiple (an FPN on odd sizes), two image inputs, a
    channels-last input: each one message that says what was found."""
    sizes = {"i_sz": [1, 3, 12, 12]}
    nodes = [helper.make_node("Resize", ["x", "", "", "i_sz"], ["y"], name="rs")]
    p = run_cli("summary", write(make_model(nodes, sizes), tmp_path, "r.onnx"))
    assert p.returncode == 1 and "a Resize from 8×8 to 12×12" in p.stderr
    assert "size: [" not in p.stderr                    # no spec syntax for a model
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    x2 = helper.make_tensor_value_info("x2", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    two = helper.make_model(helper.make_graph([helper.make_node("Add", ["x", "x2"], ["y"])],
                                              "g", [x, x2], [y]),
                            opset_imports=[helper.make_opsetid("", 17)])
    err = bad(tmp_path, two.SerializeToString())
    assert "has 2 image inputs ('x' float32 [1, 3, 8, 8]; 'x2' float32 [1, 3, 8, 8])" in err
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="r")]
    path = write(make_model(nodes, {}, inp=("x", [1, 32, 32, 3])), tmp_path, "nhwc.onnx")
    assert "looks channels-last" in run_cli("summary", path).stdout
    # JSON's "file" is the path alone; a node is named in the message
    doc = json.loads(run_cli("summary", write(nms_model(), tmp_path, "u.onnx"), "-F",
                             "json").stdout)
    assert doc["diagnostics"][0]["file"].endswith("u.onnx")
    assert "(3 nodes: m1, m2, m3)" in doc["diagnostics"][0]["message"]


def test_set_built_ins_on_a_model(tmp_path):
    """--set res= sizes a dynamic model (its channels kept); batch, dtype and optimizer apply
    as for a spec; a model declares no parameters of its own."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3])]
    path = write(make_model(nodes, {"w": np.zeros((4, 3, 3, 3))},
                            inp=("x", ["N", 3, "H", "W"])), tmp_path)
    doc = json.loads(run_cli("summary", path, "--set", "res=32", "--set", "dtype=fp16",
                             "-F", "json").stdout)
    conv = [r for r in doc["layers"] if r["name"] == "conv"][0]
    assert conv["output"] == [30, 30, 4]
    assert doc["totals"]["activation_bytes"] == 2 * (32 * 32 * 3 + 30 * 30 * 4)   # fp16: 2 B
    p = run_cli("summary", path, "--set", "width=2")
    assert p.returncode == 2 and "declares no parameter 'width'" in p.stderr
