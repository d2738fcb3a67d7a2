"""Ultralytics model YAML (YOLOv8, YOLO11 detection) read as a spec (archcalc/spec/ultralytics.py,
docs/spec-languages.md "Ultralytics model YAML").

Expected values are independent of archcalc:

* the parameters and GFLOPs Ultralytics prints for each scale (the comments of its
  ``yolov8.yaml`` and ``yolo11.yaml``, and its documentation's tables), confirmed with the
  package (ultralytics 8.4.190: ``DetectionModel("yolov8n.yaml")``, parameters summed over
  ``model.parameters()``);
* thop's count as Ultralytics' ``get_flops`` runs it at 640×640 (``ultralytics-thop`` 2.2.3,
  measured with the package, ``thop.profile(model, stride=32)``);
* a small model of our own (tests/data/ultralytics/tiny.yaml) derived by hand below.

The fixtures under tests/data/ultralytics/ are written for these tests in Ultralytics' format.
The tests that build the real package's models skip without it (``pip install ultralytics``).
"""
import math
import os
import shutil

import pytest
from conftest import ROOT, run_cli

import archcalc
from archcalc.errors import ArchcalcError
from archcalc.spec.ultralytics import looks_like_ultralytics, make_divisible

DATA = os.path.join(ROOT, "tests", "data", "ultralytics")
V8 = os.path.join(DATA, "yolov8.yaml")
V11 = os.path.join(DATA, "yolo11.yaml")
TINY = os.path.join(DATA, "tiny.yaml")

# (parameters, GFLOPs) as Ultralytics prints them in its model files' comments and its docs
PUBLISHED = {
    ("yolov8", "n"): (3_157_200, 8.9), ("yolov8", "s"): (11_166_560, 28.8),
    ("yolov8", "m"): (25_902_640, 79.3), ("yolov8", "l"): (43_691_520, 165.7),
    ("yolov8", "x"): (68_229_648, 258.5),
    ("yolo11", "n"): (2_624_080, 6.6), ("yolo11", "s"): (9_458_752, 21.7),
    ("yolo11", "m"): (20_114_688, 68.5), ("yolo11", "l"): (25_372_160, 87.6),
    ("yolo11", "x"): (56_966_176, 196.0),
}
# thop.profile(model, inputs=[640×640 image], stride=32) with ultralytics-thop 2.2.3 (what
# ultralytics 8.4.190's get_flops halves to "MACs"): measured with the package
THOP_2_2_3 = {
    ("yolov8", "n"): 4_427_545_600, ("yolov8", "s"): 14_405_964_800,
    ("yolov8", "m"): 39_656_832_000, ("yolov8", "l"): 82_867_328_000,
    ("yolov8", "x"): 129_268_505_600,
    ("yolo11", "n"): 3_336_659_200, ("yolo11", "s"): 10_918_169_600,
    ("yolo11", "m"): 34_321_536_000, ("yolo11", "l"): 43_925_529_600,
    ("yolo11", "x"): 98_157_542_400,
}

# the same after Ultralytics' model.fuse() (BatchNorm folded into each conv), in eval mode
THOP_FUSED_2_2_3 = {
    ("yolov8", "n"): 4_371_993_600, ("yolov8", "s"): 14_301_312_000,
    ("yolov8", "m"): 39_468_364_800, ("yolov8", "l"): 82_574_259_200,
    ("yolov8", "x"): 128_902_169_600,
    ("yolo11", "n"): 3_271_251_200, ("yolo11", "s"): 10_794_880_000,
    ("yolo11", "m"): 34_052_224_000, ("yolo11", "l"): 43_577_984_000,
    ("yolo11", "x"): 97_636_224_000,
}


def load(path, **kw):
    return archcalc.load(path, **kw)


def report(path, **kw):
    return archcalc.analyze(archcalc.load(path, **kw))


def _out(row):
    return math.prod(row.output)


def attention_products(rep):
    """The products of PSA's attention that no layer holds (QKᵀ: N²·heads·key_dim; the
    weighted sum of v: N²·dim), by hand from the layers around them: qkv gives dim + 2·nh_kd
    channels, proj gives dim, over N = H·W places."""
    rows = {r.name: r for r in rep.layers}
    total = 0
    for r in rep.layers:
        if r.name.endswith(".attn.qkv.conv"):
            dim = rows[r.name.replace(".qkv.conv", ".proj.conv")].output[2]
            nh_kd = (r.output[2] - dim) // 2
            n = r.output[0] * r.output[1]
            total += n * n * (nh_kd + dim)
    return total


def thop_ops(rep, version):
    """thop's count on the layers archcalc builds, written out: every conv's MACs (biases not
    counted), 4 per element of every BatchNorm2d (thop's 2·numel, doubled for the affine γ, β),
    and, by version: **old** (the thop that made the figures Ultralytics prints: the model
    profiled in training mode, so Detect returns before DFL) 1 per element of nearest
    upsampling and no attention products; **2.2.3** no upsampling, DFL's conv, and the
    attention's matrix products (its function counter)."""
    conv = sum(r.macs for r in rep.layers if r.op == "conv"
               and (version != "old" or ".dfl." not in r.name))
    bn = 4 * sum(_out(r) for r in rep.layers if r.op == "batchnorm")
    if version == "old":
        return conv + bn + sum(_out(r) for r in rep.layers if r.op == "upsample")
    return conv + bn + attention_products(rep)


# ---------------------------------------------------------------------------------------------
# the published figures

@pytest.mark.parametrize("model,scale", list(PUBLISHED))
def test_parameters_are_ultralytics_own(model, scale):
    rep = report(os.path.join(DATA, f"{model}.yaml"), set={"scale": scale})
    assert rep.totals.params == PUBLISHED[model, scale][0]
    # BatchNorm's running mean and variance: 2 per BN channel, as PyTorch's buffers (plus one
    # num_batches_tracked each, which archcalc does not count as an element of state)
    bn = [r for r in rep.layers if r.op == "batchnorm"]
    assert rep.totals.buffers == 2 * sum(r.output[2] for r in bn)


@pytest.mark.parametrize("model,scale", list(PUBLISHED))
def test_gflops_as_ultralytics_prints_them(model, scale):
    """Ultralytics' GFLOPs = 2 · thop's count / 1e9 at 640×640, rounded to one decimal."""
    rep = report(os.path.join(DATA, f"{model}.yaml"), set={"scale": scale})
    assert round(2 * thop_ops(rep, "old") / 1e9, 1) == PUBLISHED[model, scale][1]
    assert thop_ops(rep, "2.2.3") == THOP_2_2_3[model, scale]


@pytest.mark.parametrize("model,scale", list(PUBLISHED))
def test_macs_are_ultralytics_fused_count(model, scale):
    """archcalc's MACs (conv products, biases not counted: the default convention) are thop's
    count of the fused model, less PSA's attention products (no layer holds them)."""
    rep = report(os.path.join(DATA, f"{model}.yaml"), set={"scale": scale})
    assert rep.totals.macs + attention_products(rep) == THOP_FUSED_2_2_3[model, scale]


def test_attention_products_by_hand():
    """YOLO11n's one PSA block at 20×20 (N = 400): dim 128 in max(128 // 64, 1) = 2 heads of
    key_dim 64/2 = 32: QKᵀ N²·2·32, the weighted sum N²·128."""
    rep = report(V11, set={"scale": "n"})
    assert attention_products(rep) == 400 ** 2 * (2 * 32 + 128) == 30_720_000
    rep = report(V8, set={"scale": "n"})
    assert attention_products(rep) == 0
    bn = sum(_out(r) for r in rep.layers if r.op == "batchnorm")
    assert rep.totals.macs == THOP_2_2_3["yolov8", "n"] - 4 * bn == 4_371_993_600


# ---------------------------------------------------------------------------------------------
# a small model by hand

def test_tiny_model_by_hand():
    """tests/data/ultralytics/tiny.yaml at 64×64×3, scale t = [0.5, 0.5, 64]. A Conv(c1, c2,
    k) has k²·c1·c2 weights and 2·c2 BatchNorm parameters:

    0 Conv 3→16 k3 s2                       432 + 32                      =     464
    1 C2f 16→32, n = round(3·0.5) = 2, c=16:
        cv1 16→32 (576), 2 bottlenecks of two Conv 16→16 k3 (2·2·2,336), cv2 64→32 (2,112)
                                                                          =  12,032
    2 Conv 32→32 k3 s2 (128 · 0.5 = 64 · 0.5 after max_channels 64)       =   9,280
    3 SPPF 32→32: cv1 32→16 (544), cv2 64→32 (2,112)                      =   2,656
    6 C2f 64→32, n = round(5·0.5) = round(2.5) = 2: 2,112 + 9,344 + 2,112 =  13,568
    7 Detect nc=3 on [32, 32]: c2 = max(16, 32/4, 64) = 64, c3 = max(32, 3) = 32;
        per level: box 18,560 + 36,992 + (64·64 + 64) ; class 9,280 + 9,280 + (32·3 + 3)
        = 78,371, two levels, and DFL's 16 fixed weights                  = 156,758
                                                                 total      194,758

    MACs (output places · filters · k² · C_in): 442,368 + 12,058,624 + 2,359,296 + 655,360 +
    13,631,488 + level 32×32 79,790,080 + level 16×16 19,947,520 + DFL 4·1,280 anchors·16 =
    128,966,656."""
    rep = report(TINY, input="64x64x3")
    assert rep.totals.params == 194_758
    assert rep.totals.macs == 128_966_656
    by = {r.name: r for r in rep.layers}
    assert by["model.0.conv"].output == (32, 32, 16)
    assert by["model.1.cv2.act"].output == (32, 32, 32)
    assert {f"model.1.m.{j}.add" for j in range(2)} <= set(by)    # shortcut: True
    assert "model.1.m.2.cv1.conv" not in by
    assert not any(n.startswith("model.6.m.") and n.endswith(".add") for n in by)
    assert by["model.5"].output == (32, 32, 64)
    assert by["model.7.cv2.0.2"].output == (32, 32, 64)
    assert by["model.7.cv3.1.2"].output == (16, 16, 3)
    assert by["model.7.dfl.conv"].output == (1, 4 * (32 * 32 + 16 * 16), 1)
    assert by["model.7.dfl.conv"].params == 16


def test_width_and_depth_rules():
    # Ultralytics' make_divisible rounds up (torchvision's rounds to the nearest)
    assert [make_divisible(x) for x in (16, 16.5, 23.9, 24, 0.1)] == [16, 24, 24, 24, 8]
    net = load(V8, set={"scale": "m"})                  # [0.67, 0.75, 768]
    rep = archcalc.analyze(net)
    by = {r.name: r for r in rep.layers}
    assert by["model.0.conv"].output[2] == 48           # 64 · 0.75
    assert by["model.7.conv"].output[2] == 576          # min(1024, 768) · 0.75
    # repeats: 3 · 0.67 = 2.01 → 2; 6 · 0.67 = 4.02 → 4
    assert "model.2.m.1.cv1.conv" in by and "model.2.m.2.cv1.conv" not in by
    assert "model.4.m.3.cv1.conv" in by and "model.4.m.4.cv1.conv" not in by
    assert net.params == {"scale": "m", "depth": 0.67, "width": 0.75, "max_channels": 768,
                          "nc": 80}
    # --set depth/width/max_channels/nc override the scale's
    rep = report(V8, set={"scale": "n", "depth": 1.0, "width": 1.0, "max_channels": 512})
    assert rep.totals.params == PUBLISHED["yolov8", "l"][0]
    rep = report(V8, set={"scale": "n", "nc": 1})
    # the class branch per level x (64, 128, 256): Conv(x, c3, 3), Conv(c3, c3, 3), Conv2d(c3,
    # nc) with c3 = max(64, min(nc, 100)): 80 for nc = 80, 64 for nc = 1; each level loses
    # 9·x·16 + 2·16 + (9·80·80 + 160 − 9·64·64 − 128) + (80·80 + 80 − 64 − 1) = 144·x + 27,215
    assert PUBLISHED["yolov8", "n"][0] - rep.totals.params == 144 * 448 + 3 * 27_215 == 146_157


def test_c3k_at_the_larger_scales():
    """parse_model gives every C3k2 c3k=True at scales m, l and x: YOLO11m's model.2 holds a C3k
    (cv1, cv2, cv3 and two bottlenecks), YOLO11s's a bottleneck."""
    m = {r.name for r in load(V11, set={"scale": "m"}).layers}
    s = {r.name for r in load(V11, set={"scale": "s"}).layers}
    assert "model.2.m.0.cv3.conv" in m and "model.2.m.0.m.1.cv2.conv" in m
    assert "model.2.m.0.cv3.conv" not in s and "model.2.m.0.cv1.conv" in s


def test_scale_from_the_file_name_and_the_default(tmp_path):
    net = load(V8)
    assert net.name == "yolov8n" and net.params["scale"] == "n"
    assert any("assuming scale='n'" in w.message and w.pos.line == 4 for w in net.warnings)
    named = tmp_path / "yolov8s.yaml"
    shutil.copy(V8, named)
    net = load(str(named))
    assert net.name == "yolov8s" and net.params["scale"] == "s"
    assert not any("scale" in w.message for w in net.warnings)
    net = load(str(named), set={"scale": "x"})
    assert net.params["scale"] == "x" and net.name == "yolov8x"


# ---------------------------------------------------------------------------------------------
# names, as Ultralytics' modules

def test_layers_are_named_as_the_modules():
    names = {r.name for r in load(V11, set={"scale": "n"}).layers}
    for name in ("model.0.conv", "model.0.bn", "model.0.act", "model.2.cv1.conv",
                 "model.2.m.0.cv1.conv", "model.9.cv1.conv", "model.9.m",
                 "model.10.m.0.attn.qkv.conv",
                 "model.10.m.0.attn.pe.conv", "model.10.m.0.attn.proj.bn",
                 "model.10.m.0.ffn.1.conv", "model.11", "model.12",
                 "model.23.cv2.0.0.conv", "model.23.cv2.2.2",
                 "model.23.cv3.0.0.0.conv", "model.23.cv3.0.1.1.conv", "model.23.cv3.2.2",
                 "model.23.dfl.conv"):
        assert name in names, name
    # YOLOv8's class branch is two 3×3 Convs (Detect.legacy); YOLO11's depthwise + 1×1 pairs
    v8 = {r.name for r in load(V8).layers}
    assert "model.22.cv3.0.1.conv" in v8 and "model.22.cv3.0.0.0.conv" not in v8


def test_folded_rows_are_the_modules():
    res = run_cli("summary", V8, "--depth", "0", "--format", "json")
    assert res.returncode == 0, res.stderr
    import json
    rows = json.loads(res.stdout)["layers"]
    assert [r["name"] for r in rows] == ["input", *(f"model.{i}" for i in range(23))]
    assert rows[3]["params"] == 7_360 and rows[23]["params"] == 897_664   # as Ultralytics prints


# ---------------------------------------------------------------------------------------------
# recognising the file

def test_recognised_by_backbone_and_head(tmp_path):
    text = open(V8).read()
    assert looks_like_ultralytics(text)
    plain = tmp_path / "model.txt"          # no .yaml extension: recognised from the text
    plain.write_text(text)
    assert load(str(plain)).params["scale"] == "n"
    assert archcalc.parse(text).layer_count == load(V8).layer_count
    # an archcalc YAML spec with a layer called head is not misread
    spec = tmp_path / "net.yaml"
    spec.write_text("name: n\ninput: 8x8x3\nlayers:\n  - {op: conv, name: head, filters: 4}\n")
    assert load(str(spec)).layer_count == 1
    assert not looks_like_ultralytics(spec.read_text())


# ---------------------------------------------------------------------------------------------
# every command

def test_commands(tmp_path):
    assert "parameters: 11,166,560" in run_cli("summary", V8, "--set", "scale=s").stdout
    res = run_cli("explain", V11, "model.10.m.0.attn.pe.conv")
    assert res.returncode == 0 and "3·3·1·128 = 1,152" in res.stdout, res.stderr
    res = run_cli("validate", V11, "--set", "scale=n")
    assert res.returncode == 0, res.stderr
    res = run_cli("draw", V8, "--set", "res=320", "-o", tmp_path / "y.svg")
    assert res.returncode == 0 and (tmp_path / "y.svg").stat().st_size > 0, res.stderr
    res = run_cli("report", V8, "--set", "res=320", "-o", tmp_path / "y.html")
    assert res.returncode == 0 and "model.22" in (tmp_path / "y.html").read_text(), res.stderr


def test_sweep_depth_and_width(tmp_path):
    out = tmp_path / "s.csv"
    res = run_cli("sweep", V8, "--set", "scale=n", "--set", "depth=0.33,1.0",
                  "--set", "width=0.25,0.5", "--set", "res=320", "-o", out, "--jobs", "1")
    assert res.returncode == 0, res.stderr
    import csv
    rows = list(csv.DictReader(open(out)))
    assert [(r["depth"], r["width"]) for r in rows] == [("0.33", "0.25"), ("0.33", "0.5"),
                                                        ("1.0", "0.25"), ("1.0", "0.5")]
    params = [int(r["params"]) for r in rows]
    assert params[0] == PUBLISHED["yolov8", "n"][0]
    assert params[1] == PUBLISHED["yolov8", "s"][0]      # n's depth, s's width
    assert params[0] < params[2] < params[3]


def test_fit_width(tmp_path):
    res = run_cli("fit", V8, "--set", "scale=n", "--maximize", "width", "--budget",
                  "params=5M", "--max", "1", "--set", "res=320")
    assert res.returncode == 0, res.stderr + res.stdout
    assert "width" in res.stdout


def test_other_input_sizes():
    """Every row follows the input (its DFL anchors too): 320×320 has a quarter of the MACs."""
    small = report(V8, set={"scale": "n", "res": 320})
    assert small.totals.params == PUBLISHED["yolov8", "n"][0]
    assert small.totals.macs * 4 == report(V8, set={"scale": "n"}).totals.macs
    res = run_cli("sizes", V8, "--range", "288..352/32")
    assert res.returncode == 0, res.stderr + res.stdout


# ---------------------------------------------------------------------------------------------
# bad input: one located error with a fix, never a traceback

BASE = """nc: 4
backbone:
  - [-1, 1, Conv, [16, 3, 2]]
  - [-1, 1, Conv, [32, 3, 2]]
head:
  - [-1, 1, C2f, [32, True]]
  - [[-1, 1], 1, Concat, [1]]
"""


@pytest.mark.parametrize("old,new,where,message,hint", [
    ("C2f, [32, True]", "C2F, [32, True]", (6, 13), "unknown module 'C2F'", "did you mean 'C2f'"),
    ("C2f, [32, True]", "C2f, [32, True, 1, 0.5, 7]", (6, 37),
     "C2f takes 1 to 4 arguments (c2, shortcut, g, e), got 5", "[c2, shortcut, g, e]"),
    ("[[-1, 1], 1, Concat", "[[-1, 7], 1, Concat", (7, 11), "from 7 is out of range",
     "-1 is the previous row"),
    ("C2f, [32, True]", "C2f, [32, perhaps]", (6, 23), "shortcut must be True or False",
     "C2f's args: [c2, shortcut, g, e]"),
    ("C2f, [32, True]", "C3k, [32, True]", (6, 13), "C3k is built inside C3k2",
     "write the module that holds it"),
    ("C2f, [32, True]", "Segment, [4]", (6, 13), "does not read Ultralytics' Segment yet",
     "detection models"),
    ("  - [-1, 1, Conv, [32, 3, 2]]", "  - [-1, 1, Conv]", (4, 5),
     "row 1 must be [from, repeats, module, args]", "[-1, 1, Conv, [64, 3, 2]]"),
    ("C2f, [32, True]", "Conv, []", (6, 19),
     "Conv takes 1 to 7 arguments (c2, k, s, p, g, d, act), got 0", "Conv's args"),
    ("[-1, 1, C2f", "[-1, 0, C2f", (6, 10), "repeats must be a whole number", "e.g."),
])
def test_bad_rows(tmp_path, old, new, where, message, hint):
    path = tmp_path / "bad.yaml"
    assert old in BASE
    path.write_text(BASE.replace(old, new))
    res = run_cli("summary", path)
    assert res.returncode == 1, res.stdout
    assert "Traceback" not in res.stderr
    assert f"bad.yaml:{where[0]}:{where[1]}: error: " in res.stderr, res.stderr
    assert message in res.stderr and hint in res.stderr, res.stderr
    assert res.stderr.count("error:") == 1


def test_bad_settings():
    res = run_cli("summary", V8, "--set", "scale=q")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "<options>: error: --set scale=q: the spec has no scale 'q'" in res.stderr
    assert "its scales: n, s, m, l, x" in res.stderr
    res = run_cli("summary", V8, "--set", "scael=n")
    assert res.returncode == 2 and "did you mean 'scale'?" in res.stderr
    res = run_cli("summary", V8, "--set", "width=-1")
    assert res.returncode == 2 and "--set width: a positive number" in res.stderr
    with pytest.raises(ArchcalcError) as exc:
        load(V8, set={"depth": "deep"})
    assert exc.value.kind == "usage"


def test_a_channel_mismatch_is_the_layers_error(tmp_path):
    """C2PSA keeps its channels: a row whose width makes them differ is refused at the row."""
    path = tmp_path / "psa.yaml"
    path.write_text("nc: 2\nbackbone:\n  - [-1, 1, Conv, [64, 3, 2]]\n"
                    "  - [-1, 1, C2PSA, [128]]\nhead:\n  - [[0, 1], 1, Detect, [nc]]\n")
    res = run_cli("summary", path)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "psa.yaml:4:13: error: model.1: C2PSA keeps its channels" in res.stderr, res.stderr


# ---------------------------------------------------------------------------------------------
# the real package, where it is installed

def _ultralytics_model(cfg):
    pytest.importorskip("ultralytics")
    import contextlib
    import io
    import logging

    from ultralytics.nn.tasks import DetectionModel
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return DetectionModel(cfg, verbose=False)
    finally:
        logging.disable(logging.NOTSET)


def _module_check(model, net):
    """Every Conv2d and BatchNorm2d of the package's model is a layer of the same name with the
    same parameters (and, for a conv, the same kernel, stride, groups and channels)."""
    import torch
    rep = archcalc.analyze(net)
    rows = {r.name: r for r in rep.layers}
    seen = 0
    for name, mod in model.named_modules():
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.BatchNorm2d)):
            row = rows[name]
            assert row.params == sum(p.numel() for p in mod.parameters(recurse=False)), name
            if isinstance(mod, torch.nn.Conv2d):
                assert row.attrs["filters"] == mod.out_channels, name
                assert tuple(row.attrs["kernel"]) == tuple(mod.kernel_size), name
                assert tuple(row.attrs["stride"]) == tuple(mod.stride), name
                assert row.attrs["groups"] == mod.groups, name
            seen += 1
    assert seen == sum(1 for r in rep.layers if r.op in ("conv", "batchnorm"))


@pytest.mark.parametrize("model,cfg", [("yolo11", V11), ("yolov8", V8)])
def test_against_the_package_n(model, cfg):
    pkg = _ultralytics_model(f"{model}n.yaml")
    net = load(cfg, set={"scale": "n"})
    _module_check(pkg, net)
    assert sum(p.numel() for p in pkg.parameters()) == archcalc.analyze(net).totals.params


@pytest.mark.slow
@pytest.mark.parametrize("model,scale", list(PUBLISHED))
def test_against_the_package_every_scale(model, scale):
    import thop
    import torch
    pkg = _ultralytics_model(f"{model}{scale}.yaml")
    net = load(os.path.join(DATA, f"{model}.yaml"), set={"scale": scale})
    _module_check(pkg, net)
    if thop.__version__ != "2.2.3":
        pytest.skip(f"thop {thop.__version__}: the figures were measured with 2.2.3")
    image = torch.empty(1, 3, 640, 640)
    rep = archcalc.analyze(net)
    ops, _ = thop.profile(pkg, inputs=[image], verbose=False)
    assert int(ops) == thop_ops(rep, "2.2.3") == THOP_2_2_3[model, scale]
    pkg.fuse(verbose=False)
    pkg.eval()
    ops, _ = thop.profile(pkg, inputs=[image], verbose=False)
    assert int(ops) == rep.totals.macs + attention_products(rep) == \
        THOP_FUSED_2_2_3[model, scale]


def test_multiples_without_scales_and_the_activation(tmp_path):
    """A file without scales: depth_multiple and width_multiple (no channel cap); activation:
    replaces SiLU in every Conv."""
    path = tmp_path / "old.yaml"
    path.write_text("nc: 2\ndepth_multiple: 0.5\nwidth_multiple: 0.5\n"
                    "activation: nn.LeakyReLU(0.1)\nbackbone:\n  - [-1, 1, Conv, [2048, 1]]\n"
                    "  - [-1, 4, C3, [32]]\nhead:\n  - [[0, 1], 1, Concat, [1]]\n")
    net = load(str(path), input="8x8x3")
    by = {layer.name: layer for layer in net.layers}
    assert by["model.0.conv"].attrs["filters"] == 1024       # 2048 · 0.5, not capped
    assert by["model.0.act"].op == "leaky_relu" and by["model.0.act"].attrs["slope"] == 0.1
    assert "model.1.m.1.cv1.conv" in by and "model.1.m.2.cv1.conv" not in by   # 4 · 0.5
    assert net.params == {"depth": 0.5, "width": 0.5, "max_channels": None, "nc": 2}
    assert not net.warnings
    # C3 (c1 1024, c2 16, c_ 8): cv1 and cv2 1024→8, two bottlenecks (1×1 then 3×3, 8 → 8),
    # cv3 16→16, every Conv with 2·c2 BatchNorm parameters
    c3 = 2 * (1024 * 8 + 16) + 2 * ((8 * 8 + 16) + (9 * 8 * 8 + 16)) + (16 * 16 + 32)
    assert archcalc.analyze(net).totals.params == (3 * 1024 + 2 * 1024) + c3
    with pytest.raises(ArchcalcError, match="defines no scales"):
        load(str(path), set={"scale": "n"})
    path.write_text(path.read_text().replace("nn.LeakyReLU(0.1)", "nn.Mish()"))
    with pytest.raises(ArchcalcError, match=r"activation nn\.Mish"):
        load(str(path))


def test_detect_is_the_last_row(tmp_path):
    path = tmp_path / "after.yaml"
    path.write_text(BASE + "  - [[2, 3], 1, Detect, [nc]]\n  - [-1, 1, Conv, [8, 1]]\n")
    res = run_cli("summary", path)
    assert res.returncode == 1 and "after.yaml:9:6: error: row 5: from -1 reads Detect (row 4)" \
        in res.stderr, res.stderr
    path.write_text(BASE + "  - [[2, 3], 1, Detect, [nc]]\n")
    net = load(str(path), input="64x64x3")
    assert net.outputs == ["model.4.cat.0", "model.4.cat.1", "model.4.dfl.conv"]


def test_a_scaled_name_reads_the_unified_file(tmp_path):
    """As Ultralytics: yolo11s.yaml, where there is no such file, is yolo11.yaml at scale s;
    messages name the file read."""
    shutil.copy(V11, tmp_path / "yolo11.yaml")
    res = run_cli("summary", "yolo11s.yaml", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("yolo11s — input 640×640×3")
    assert "parameters: 9,458,752" in res.stdout and "assuming scale" not in res.stdout
    res = run_cli("summary", "yolo11s.yaml", "--set", "scale=q", cwd=tmp_path)
    assert res.returncode == 2 and "no scale 'q'" in res.stderr
    res = run_cli("summary", "yolo12s.yaml", cwd=tmp_path)       # no yolo12.yaml here
    assert res.returncode == 2 and "no such file: yolo12s.yaml" in res.stderr
