"""`archcalc explain`: the arithmetic behind every figure, checked against the lectures' worked
examples (their own numbers, with their slips called out) and against the analyzer itself."""
import pytest
from conftest import DATA, SPECS

import archcalc
from archcalc.analysis import explain as ex
from archcalc.cli.guard import exit_code
from archcalc.errors import SourcePos
from archcalc.graph import Builder
from archcalc.ops import OPS

OP_FIGURES = ("out_h", "out_w", "out_c", "params", "macs")


def every_op_network():
    """A small network with one layer of every registered op kind."""
    b = Builder("all-ops", (8, 8, 4))
    pos = SourcePos("<test>")
    b.add("conv", {"filters": 4, "groups": 2}, pos)
    b.add("dwconv", {"multiplier": 2}, pos)
    b.add("batchnorm", {}, pos)
    b.add("relu", {}, pos)
    b.add("lrn", {"size": 3}, pos)
    b.add("tanh", {}, pos)
    b.add("sigmoid", {}, pos)
    pool = b.add("maxpool", {"kernel": 2}, pos).name
    avg = b.add("avgpool", {"kernel": 2}, pos, inputs=[pool]).name
    gap = b.add("global_avgpool", {}, pos, inputs=[pool]).name
    ada = b.add("adaptive_avgpool", {"output": 2}, pos, inputs=[pool]).name
    b.add("concat", {}, pos, inputs=[avg, ada])
    b.add("add", {}, pos, inputs=[avg, ada])
    b.add("flatten", {}, pos, inputs=[gap])
    b.add("fc", {"units": 4}, pos)
    b.add("dropout", {}, pos)
    b.add("softmax", {}, pos)
    # the channel and resampling ops
    b.add("split", {"sizes": [2, 6]}, pos, name="parts", inputs=[pool])
    b.add("slice", {"start": 1, "end": -1}, pos, inputs=["parts.1"])
    b.add("split", {"parts": 2}, pos, inputs=[pool])
    b.add("shuffle", {"groups": 2}, pos, inputs=[pool])
    up = b.add("upsample", {"scale": 2, "mode": "bilinear"}, pos).name
    b.add("upsample", {"size": [8, 4]}, pos, inputs=[pool])
    b.add("conv_transpose", {"filters": 6, "kernel": 3, "stride": 2, "padding": 1,
                             "output_padding": 1, "groups": 2}, pos, inputs=[pool])
    b.add("pad", {"padding": [1, 0, 2, 1], "mode": "reflect"}, pos, inputs=[up])
    b.add("crop", {"size": [3, 2]}, pos)
    b.add("crop", {}, pos, inputs=[up, pool])
    b.add("pixel_shuffle", {"factor": 2}, pos, inputs=[pool])
    b.add("pixel_unshuffle", {"factor": 2}, pos)
    # the modern activations, norms, broadcast merges
    x = pool
    for op, attrs in (("relu6", {}), ("hardswish", {}), ("hardsigmoid", {}), ("silu", {}),
                      ("gelu", {}), ("leaky_relu", {"slope": 0.2}), ("prelu", {"shared": False}),
                      ("prelu", {}), ("elu", {}), ("groupnorm", {"groups": 2}), ("layernorm", {}),
                      ("instancenorm", {}), ("instancenorm", {"affine": True})):
        x = b.add(op, attrs, pos, inputs=[x]).name
    gate = b.add("global_maxpool", {}, pos, inputs=[x]).name
    b.add("mul", {}, pos, inputs=[x, gate])
    y = b.add("add", {}, pos, inputs=[gate, x]).name
    # an imported ONNX node archcalc does not know (--unknown passthrough)
    b.add("opaque", {"onnx_op": "NonMaxSuppression"}, pos, inputs=[y])
    # tokens and attention: a window with a shift and a bias table on the map, then a sequence
    m = b.add("attention", {"heads": 2, "window": 2, "shift": 1, "relpos": True}, pos,
              inputs=[pool]).name
    m = b.add("patch_merge", {}, pos, inputs=[m]).name
    m = b.add("linear", {"units": 8, "bias": False}, pos, inputs=[m]).name
    m = b.add("layer_scale", {}, pos, inputs=[m]).name
    m = b.add("drop_path", {}, pos, inputs=[m]).name
    t = b.add("tokens", {}, pos, inputs=[m]).name
    t = b.add("class_token", {"count": 2}, pos, inputs=[t]).name
    t = b.add("pos_embed", {"tokens": 6}, pos, inputs=[t]).name
    q = b.add("attention", {"heads": 2, "head_dim": 3}, pos, inputs=[t]).name
    b.add("attention", {"heads": 2, "proj": False, "kv_channels": 8}, pos, inputs=[q, pool])
    b.add("take_token", {"index": -1}, pos, inputs=[q])
    b.add("untokens", {"size": [1, 6]}, pos, inputs=[q])
    return b.build()


def check_against_report(net):
    report = archcalc.analyze(net)
    rows = {r.name: r for r in report.layers}
    seen = set()
    for e in ex.explain(net, report):
        row = rows[e.name]
        figs = {f.key: f.value for f in e.figures}
        assert set(OP_FIGURES) <= set(figs), (e.name, sorted(figs))
        assert (figs["out_h"], figs["out_w"], figs["out_c"]) == row.output, e.name
        assert figs["params"] == row.params and figs["macs"] == row.macs, e.name
        assert figs.get("buffers", 0) == row.buffers, e.name
        assert figs["activations"] == row.activations, e.name
        if not row.rf.is_global:
            assert figs.get("rf_size_h", row.rf.size[0]) == row.rf.size[0], e.name
            if "rf_jump_h" in figs:
                assert figs["rf_jump_h"] == row.rf.stride[0]
                assert figs["rf_start_h"] == row.rf.start[0]
        seen.add(row.op)
    return seen


def test_every_registered_op_explains_every_figure_it_computes():
    assert check_against_report(every_op_network()) == set(OPS)


@pytest.mark.parametrize("spec", sorted(p.name for p in SPECS.glob("*.yaml")))
def test_explanations_agree_with_the_analyzer_on_every_spec(spec):
    check_against_report(archcalc.load(SPECS / spec))


def texts(spec, *names, **kw):
    net = archcalc.parse(spec, **kw)
    found = ex.explain(net, archcalc.analyze(net), names or None)
    return {e.name: {f.key: f.text() for f in e.figures} for e in found}


def test_alexnet_conv1_as_the_lecture_works_it():
    # DI504: "(227-11-0)/4 +1 = 55"; "11x11x3x96 (34,848) number of weights, plus 96 biases ...
    # 34,848+96=34,944 learnable values"; CS167: (227 − 11 + 2·0)/4 + 1 = 55
    t = texts("C11D96S4P0", "conv1", input=(227, 227, 3))["conv1"]
    assert t["out_h"] == "(H − F + 2P)/S + 1 = (227 − 11 + 2·0)/4 + 1 = 55"
    assert t["params"].startswith("F·F·C·K + K = 11·11·3·96 + 96 = 34,848 + 96 = 34,944")
    assert "55·55·96 = 290,400" in t["activations"]


def test_vgg16_walkthrough():
    # the lecture's rows (biases not counted there): "CONV3-64: [224x224x64] memory:
    # 224*224*64=3.2M params: (3*3*3)*64 = 1,728" ... "FC: [1x1x4096] memory: 4096 params:
    # 7*7*512*4096 = 102,760,448". archcalc counts biases too and shows both.
    net = archcalc.load(SPECS / "vgg16.yaml")
    report = archcalc.analyze(net)
    got = {e.name: {f.key: f.text() for f in e.figures} for e in ex.explain(net, report)}
    assert "3·3·3·64 + 64 = 1,728 + 64 = 1,792" in got["conv1"]["params"]
    assert "224·224·64 = 3,211,264" in got["conv1"]["activations"]
    assert "3·3·64·64 + 64 = 36,864 + 64 = 36,928" in got["conv2"]["params"]
    assert "112·112·64 = 802,816" in got["pool1"]["activations"]
    assert "7·7·512·4096 + 4096 = 102,760,448 + 4,096 = 102,764,544" in got["fc1"]["params"]
    assert "4096·1000 + 1000 = 4,096,000 + 1,000 = 4,097,000" in got["fc3"]["params"]
    # "TOTAL memory: 24M * 4 bytes ~ 93MB / image" is a slip: the lecture's own rows sum to
    # 15.2 M (150K + 2·3.2M + 800K + ... + 4096 + 4096 + 1000), which archcalc's activations
    # reproduce with the softmax output (1,000) added: 15,238,608 elements, 58.13 MiB.
    assert report.totals.activations == 15_238_608
    words = " ".join(ex.where_it_sits(report))
    # "Most memory is in early CONV; most params are in late FC", with the numbers
    # the input is no layer: the input and the first 6 of its 39 layers
    assert "the input and the first 6 of its 39 layers (conv1 … conv3)" in words
    assert "last 8 of its 39 layers (fc1 … softmax1)" in words
    assert "fc (3): 89% of the parameters" in words


def test_three_stacked_3x3_convolutions_see_7x7():
    # Aggarwal: "capture pixel regions of size 3×3, 5×5, and 7×7"
    t = texts("C3D1 C3D1 C3D1", input=(9, 9, 1))
    assert t["conv1"]["rf_size_h"] == "r + (F − 1)·j = 1 + (3 − 1)·1 = 3  (F is the " \
        "effective (dilated) kernel)"
    assert t["conv2"]["rf_size_h"].startswith("r + (F − 1)·j = 3 + (3 − 1)·1 = 5")
    assert t["conv3"]["rf_size_h"].startswith("r + (F − 1)·j = 5 + (3 − 1)·1 = 7")


def test_750_weights_quiz():
    # "10 filters of size 5 × 5 × 3 is 750 (excluding biases)"
    t = texts("C5D10", "conv1", input=(32, 32, 3))["conv1"]
    assert "5·5·3·10 + 10 = 750 + 10 = 760" in t["params"]


def test_rounding_is_visible():
    # floor at 224 for AlexNet's conv1: (224 − 11)/4 + 1 = 54.25 → 54, and pixel 223 is unseen
    t = texts("C11D96S4P0", "conv1", input=(224, 224, 3), rounding="floor")["conv1"]
    assert "54.25 rounded down to 54 (floor): the last input row is seen by no window" \
        in t["out_h"]
    # the ResNet idiom: 3×3/2 pad 1 on 32: 16.5 → 16 drops only padding
    t = texts("C3D8S2P1", "conv1", input=(32, 32, 3), rounding="floor")["conv1"]
    assert "16.5 rounded down to 16 (floor): only padding goes unused" in t["out_h"]


def test_weight_sharing_alexnet_conv1():
    # 34,944 shared; 55·55·11·11·3·96 = 105,415,200 weights (+ 290,400 biases) without sharing;
    # (227·227·3)·(55·55·96) = 154,587 · 290,400 = 44,892,064,800 dense weights
    t = texts("C11D96S4P0", "conv1", input=(227, 227, 3))["conv1"]
    assert t["shared"] == "parameters = 34,944"
    assert "= 105,415,200 + 290,400 = 105,705,600" in t["local"]
    assert "154,587·290,400 + 290,400 = 44,892,064,800 + 290,400 = 44,892,355,200" in t["dense"]


def test_selection_by_name_range_and_block():
    net = archcalc.load(SPECS / "resnet18.yaml")
    report = archcalc.analyze(net)
    names = [r.name for r in ex.select(report, net, ["conv1..maxpool"])]
    assert names == ["conv1", "bn1", "relu", "maxpool"]
    block = [r.name for r in ex.select(report, net, ["layer1.0"])]
    assert block[0] == "layer1.0/conv1" and all(n.startswith("layer1.0/") for n in block)
    with pytest.raises(archcalc.ArchcalcError) as e:
        ex.select(report, net, ["conv9"])
    assert exit_code(e.value) == 2 and "no layer or block named 'conv9'" in str(e.value)


# ---------------------------------------------------------------------------------------------
# the commands

def test_explain_command_formats():
    import json

    from conftest import run_cli
    p = run_cli("explain", "C11D96S4P0 R M3S2", "-i", "227x227x3", "conv1")
    assert p.returncode == 0, p.stderr
    assert "(227 − 11 + 2·0)/4 + 1 = 55" in p.stdout and "34,848 + 96 = 34,944" in p.stdout
    assert "pool1" not in p.stdout and "totals" not in p.stdout     # only what was asked for
    doc = json.loads(run_cli("explain", "C11D96S4P0", "-i", "227x227x3", "-F", "json").stdout)
    conv = next(e for e in doc["layers"] if e["name"] == "conv1")
    params = next(f for f in conv["figures"] if f["key"] == "params")
    assert params["formula"] == "F·F·C·K + K" and params["value"] == 34_944
    assert params["values"] == {"F": 11, "C": 3, "K": 96}
    assert doc["totals"] and doc["schema"] == 3
    md = run_cli("explain", "vgg16", "conv1..pool1", "-F", "markdown").stdout
    assert "### conv1 — conv 3×3/1 p1, 64" in md and "### pool1" in md and "conv3" not in md
    bad = run_cli("explain", "vgg16", "conv99")
    assert bad.returncode == 2 and "no layer named 'conv99'" in bad.stderr
    assert "Traceback" not in bad.stderr
    badj = run_cli("explain", "vgg16", "conv99", "-F", "json")
    assert badj.returncode == 2 and json.loads(badj.stdout)["errors"] == 1


def test_summary_sharing_column_in_every_format():
    import csv
    import io
    import json

    from conftest import run_cli
    table = run_cli("summary", "C11D96S4P0", "-i", "227x227x3", "--sharing").stdout
    # 105,705,600 / 34,944 = 3,025 (= 55·55); 44,892,355,200 / 34,944 ≈ 1,284,694
    assert "3,025×" in table and "1,284,694×" in table
    doc = json.loads(run_cli("summary", "C11D96S4P0", "-i", "227x227x3", "--sharing",
                             "-F", "json").stdout)
    assert doc["layers"][1]["sharing"] == {"shared": 34_944, "locally_connected": 105_705_600,
                                           "dense": 44_892_355_200}
    rows = list(csv.DictReader(io.StringIO(run_cli(
        "summary", "C11D96S4P0", "-i", "227x227x3", "--sharing", "-F", "csv").stdout)))
    assert rows[1]["locally_connected_params"] == "105705600"
    assert rows[1]["dense_params"] == "44892355200"
    md = run_cli("summary", "C11D96S4P0", "-i", "227x227x3", "--sharing", "-F", "markdown").stdout
    assert "×local" in md and "3,025×" in md


def test_the_peak_names_the_tensors_alive_then():
    from archcalc.analysis.memory import alive_while
    net = archcalc.load(SPECS / "vgg16.yaml")
    r = archcalc.analyze(net)
    # by hand: conv2 runs reading conv1's buffer (relu1 wrote into it in place) and writes its
    # own; the input was freed after conv1: 2 · 224·224·64 = 6,422,528 elements, 24.50 MiB
    assert r.totals.peak_layer == "conv2"
    assert alive_while(net, r.layers, "conv2") == {"conv1": 3_211_264, "conv2": 3_211_264}
    text = ex.peak_text(net, r)
    assert "24.50 MiB" in text and "conv1 3,211,264, conv2 3,211,264 = 6,422,528" in text
    for spec in ("googlenet.yaml", "resnet50.yaml", "mobilenet_v1.yaml"):     # consistent
        net = archcalc.load(SPECS / spec)
        r = archcalc.analyze(net, batch=4, dtype="fp16")
        alive = alive_while(net, r.layers, r.totals.peak_layer)
        assert sum(alive.values()) * 4 * 2 == r.totals.peak_bytes, spec


def test_the_documented_example_is_what_the_command_prints():
    import re

    from conftest import ROOT, run_cli
    readme = (ROOT / "docs" / "usage.md").read_text()
    block = re.search(r"\$ archcalc explain \"C11D96S4P0 R M3S2\" -i 227x227x3 conv1\n(.*?)```",
                      readme, re.S).group(1)
    out = run_cli("explain", "C11D96S4P0 R M3S2", "-i", "227x227x3", "conv1").stdout
    for line in block.splitlines():
        shown = line.split("…")[0].rstrip(" (")
        if shown.strip():
            assert shown in out, line


def test_every_row_of_the_lectures_vgg16_walkthrough():
    """The lecture's table, row by row (kept in tests/data): "CONV3-64: [224x224x64] memory:
    224*224*64=3.2M params: (3*3*3)*64 = 1,728" (biases not counted there; archcalc shows
    weights + biases)."""
    import re
    table = (DATA / "lecture_vgg16_walkthrough.txt").read_text()
    rows = re.findall(r"^(\w[\w-]*): \[(\d+)x(\d+)x(\d+)\]\s+memory:\s+([\d*]+)(?:=\S+)?\s+params: "
                      r"(?:<b>)?([^<\n]*?)(?:</b>)?\s*$", table, re.M)
    assert len(rows) == 22
    net = archcalc.load(SPECS / "vgg16.yaml")
    report = archcalc.analyze(net)
    found = {e.name: {f.key: f for f in e.figures} for e in ex.explain(net, report)}
    order = {"INPUT": ["input"], "CONV3": [f"conv{i}" for i in range(1, 14)],
             "POOL2": [f"pool{i}" for i in range(1, 6)], "FC": ["fc1", "fc2", "fc3"]}
    for kind, h, w, c, memory, params in rows:
        name = order[kind.split("-")[0]].pop(0)
        figs = found[name]
        assert (figs["out_h"].value, figs["out_w"].value, figs["out_c"].value) == \
            (int(h), int(w), int(c)), name
        # memory: the lecture's product of the output's sides, e.g. 224*224*64 (FC: 4096)
        from math import prod
        assert figs["activations"].value == prod(int(x) for x in memory.split("*")), name
        if "*" in memory:
            assert figs["activations"].worked == memory.replace("*", "·"), name
        if params.strip() == "0":
            assert figs["params"].value == 0, name
            continue
        # "(3*3*64)*128 = 73,728" or "7*7*512*4096 = 102,760,448": the weights before + biases
        product, weights = [x.strip() for x in params.split("=")]
        factors = product.replace("(", "").replace(")", "").split("*")
        assert figs["params"].worked.startswith("·".join(factors)), (name, figs["params"].worked)
        assert f"= {weights} + " in figs["params"].worked, (name, figs["params"].worked)


def test_selection_of_block_ranges_stages_and_bad_ranges():
    net = archcalc.load(SPECS / "resnet18.yaml")
    report = archcalc.analyze(net)
    rows = [r.name for r in ex.select(report, net, ["layer1.0..layer2.0"])]
    assert rows[0] == "layer1.0/conv1" and rows[-1].startswith("layer2.0/")
    assert all(n.startswith(("layer1.", "layer2.0/")) for n in rows)
    stage = [r.name for r in ex.select(report, net, ["layer1"])]      # layer1.0 and layer1.1
    assert {n.split("/")[0] for n in stage} == {"layer1.0", "layer1.1"}
    for bad, needle in (("conv1..", "needs both ends"), ("maxpool..conv1", "runs backwards")):
        with pytest.raises(archcalc.ArchcalcError) as e:
            ex.select(report, net, [bad])
        assert needle in str(e.value)
    lenet = archcalc.load(SPECS / "lenet5.yaml")
    with pytest.raises(archcalc.ArchcalcError) as e:
        ex.select(archcalc.analyze(lenet), lenet, ["c1"])
    assert "did you mean 'C1'?" in str(e.value)


def test_totals_in_words_without_parameters_and_wrapping():
    from archcalc.views import explain as explain_view
    net = archcalc.parse("M3S2", input=(32, 32, 3), rounding="ceil")
    r = archcalc.analyze(net)
    text = " ".join(ex.totals_text(r, net))
    assert "Most parameters" not in text and "Most activation memory" in text
    out = explain_view.render_explain(r, ex.explain(net, r), ex.totals_text(r, net), "text", 60)
    assert max(len(line) for line in out.splitlines()) <= 60
