"""A new user's smaller slips, each held by a test: counts with their nouns, close-name
suggestions, notes that apply, one count of layers, adaptive pooling's field, names kept through
ONNX, no install paths in reports, huge figures, plot legends, ceil-mode pooling as PyTorch, and
drawings left to right."""
from __future__ import annotations

import os

import pytest
from conftest import run_cli

import archcalc
from archcalc.errors import ArchcalcError, SourcePos
from archcalc.ops import lookup

# ---------------------------------------------------------------------------------------------
# an unknown op: a did-you-mean only for a close name, and what is known

# (attention was one of these words until it became an op: tests/test_attention.py)
@pytest.mark.parametrize("word", ["recurrent", "lstm", "transformer", "embedding", "mlp"])
def test_unknown_op_suggests_nothing_far(word):
    with pytest.raises(ArchcalcError) as e:
        lookup(word, SourcePos())
    d = e.value.diagnostics[0]
    assert d.message == f"unknown op {word!r}"
    assert "did you mean" not in (d.hint or ""), d.hint
    assert "known ops: conv, " in d.hint


@pytest.mark.parametrize("word, meant", [
    ("convv", "conv"), ("maxpol", "maxpool"), ("gloabl_avgpool", "global_avgpool"),
    ("sofmax", "softmax"), ("upsampel", "upsample"), ("Batchnorm2D", "batchnorm2d"),
    ("concatenate", "concat"), ("relu5", "relu"), ("dropuot", "dropout"),
    ("leakyrelu6", "leakyrelu")])
def test_unknown_op_suggests_a_close_name(word, meant):
    if meant.lower() == word.lower():
        assert lookup(word, SourcePos()).kind
        return
    with pytest.raises(ArchcalcError) as e:
        lookup(word, SourcePos())
    assert e.value.diagnostics[0].hint.startswith(f"did you mean {meant!r}? known ops: ")


def test_unknown_op_in_yaml(tmp_path):
    p = tmp_path / "a.yaml"
    # (attention was the word here until it became an op, in issue 21)
    p.write_text("input: 32x32x3\nlayers:\n  - {op: transformer}\n")
    r = run_cli("summary", str(p))
    assert r.returncode == 1
    assert "unknown op 'transformer'" in r.stderr
    assert "flatten'?" not in r.stderr and "did you mean" not in r.stderr


def test_words():
    from archcalc.ops.words import article, closest, counted, plural
    assert [counted(n, "node") for n in (0, 1, 2, 1000)] == \
        ["0 nodes", "1 node", "2 nodes", "1,000 nodes"]
    assert counted(1, "input row") == "1 input row" and counted(3, "input row") == "3 input rows"
    assert [plural(w) for w in ("box", "axis", "buffer", "dummy", "key", "pass")] == \
        ["boxes", "axes", "buffers", "dummies", "keys", "passes"]
    said = {"int8": "an", "uint8": "a", "fp16": "an", "fp32": "an", "bf16": "a", "8-bit": "an",
            "11×11": "an", "18": "an", "1×1": "a", "3×3": "a", "80": "an", "110": "a",
            "input": "an", "output": "an", "layer": "a", "unit": "a", "hour": "an"}
    assert {w: article(w) for w in said} == said
    assert closest("attention", ["flatten", "concat"]) is None
    assert closest("Conv", ["conv"]) == "conv"
    assert closest("x", ["bn", "fc"]) is None          # a short name is close only to itself


# ---------------------------------------------------------------------------------------------
# counts with their nouns: "1 node", never "1 nodes"

ONE = """name: one
input: 1x1x1
layers:
  - {op: fc, units: 1, bias: false}
"""

ONES = """name: ones
input: 4x4x2
layers:
  - {op: prelu, shared: true}
  - {op: groupnorm, groups: 1}
  - {op: conv, kernel: 1, filters: 1, bias: false}
"""


def _one_off(text: str) -> list[str]:
    """Every count of one said with a plural noun: '1 params', '1 layers', '(1 buffers', …"""
    import re
    return re.findall(r"(?<![\d.,])1 (?:params|parameters|MACs|layers|edges|boxes|buffers|"
                      r"elements|groups|channels|rows|volumes|pixels|weights|bytes|nodes)\b",
                      text)


def test_counts_of_one_in_drawings_and_explain(tmp_path):
    from archcalc.analysis.explain import totals_text
    from archcalc.views.draw import to_dot, to_mermaid, to_svg
    for text in (ONE, ONES):
        net = archcalc.parse(text)
        rep = archcalc.analyze(net)
        for out in (to_svg(net, rep), to_dot(net, rep), to_mermaid(net, rep),
                    "\n".join(totals_text(rep, net))):
            assert not _one_off(out), _one_off(out)
        describe = [net[layer.name].opdef.describe(layer.attrs) for layer in net.layers[1:]]
        assert text is ONE or "1 group" in describe, describe
        assert not _one_off(" ".join(describe))


def test_counts_of_one_in_explain_derivations(tmp_path):
    p = tmp_path / "ones.yaml"
    p.write_text(ONES)
    r = run_cli("explain", str(p))
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "over 1 group of C/G = 2 channels" in text
    assert not _one_off(text), _one_off(text)


def test_one_layer_in_explain_totals():
    from archcalc.analysis.explain import totals_text
    net = archcalc.parse(ONE)
    text = "\n".join(totals_text(archcalc.analyze(net), net))
    assert "first 1 " not in text and "last 1 " not in text and "input … input" not in text
    assert "Half the activation memory is in the input alone: 1 of 2 elements (50%)" in text
    assert "Half the parameters are in its one layer (fc1): 1 of 1 (100%)" in text
    assert "alive then (2 buffers, elements per image): input 1, fc1 1" in text
    lenet = archcalc.load("lenet5")
    text = "\n".join(totals_text(archcalc.analyze(lenet), lenet))
    # LeNet-5: the input and 11 layers (C1, tanh1, S2, …, F6, tanh, output)
    assert "Half the activation memory is in the input and the first 2 of its 11 layers " \
           "(C1, tanh1): 10,432 of 15,626 elements (67%)." in text
    assert "Half the parameters are in the last 5 of its 11 layers (C5 … output)" in text


def test_counts_of_one_in_the_report(tmp_path):
    p = tmp_path / "one.yaml"
    p.write_text(ONE)
    for out in ("r.html", "r.md"):
        r = run_cli("report", str(p), "-o", str(tmp_path / out))
        assert r.returncode == 0, r.stderr
        text = (tmp_path / out).read_text()
        assert not _one_off(text), _one_off(text)
        assert "1 layer" in text


def test_counts_of_one_in_op_messages():
    for text, said in (
            ("input: 4x4x1\nlayers:\n  - {op: slice, start: 1, end: 3}\n",
             "outside the input's 1 channel "),
            ("input: 2x2x3\nlayers:\n  - {op: pad, padding: 2, mode: reflect}\n",
             "pad at most 1 pixel by reflection")):
        with pytest.raises(ArchcalcError) as e:
            archcalc.analyze(archcalc.parse(text))
        d = e.value.diagnostics[0]
        assert said in d.message + " " + (d.hint or ""), (d.message, d.hint)


# ---------------------------------------------------------------------------------------------
# one count of layers: the input is no layer, everywhere

def test_repr_and_report_count_layers_alike(tmp_path):
    import re
    net = archcalc.load("lenet5")      # C1 tanh S2 tanh C3 tanh S4 tanh C5 tanh F6 tanh output
    rep = archcalc.analyze(net)
    assert net.layer_count == rep.layer_count == 11 == len(net) - 1
    assert repr(net) == "Network('lenet5', input=32×32×1, 11 layers)"
    assert repr(rep) == "Report('lenet5', input=32×32×1, 11 layers, params=61,706, macs=416,520)"
    for out in ("r.html", "r.md"):
        r = run_cli("report", "lenet5", "-o", str(tmp_path / out))
        assert r.returncode == 0, r.stderr
        text = (tmp_path / out).read_text()
        counts = set(re.findall(r"(\d+) layers", text))
        assert counts == {"11"}, (out, counts)


# ---------------------------------------------------------------------------------------------
# a spec without blocks is never told about folding blocks

LONG = " ".join(["C3D8 R"] * 200)          # 400 layers, no blocks


def _no_fold_talk(text: str) -> None:
    low = text.lower()
    for said in ("folded", "--depth", "depth 0", "nested deeper", "fold blocks"):
        assert said not in low, (said, text[max(0, low.find(said) - 200):low.find(said) + 100])


@pytest.mark.parametrize("out, extra", [("g.svg", []), ("g.mmd", []), ("g.dot", []),
                                        ("v.svg", ["--style", "volumes"])])
def test_draw_a_long_blockless_spec(tmp_path, out, extra):
    r = run_cli("draw", LONG, "-i", "32x32x3", "-o", str(tmp_path / out), *extra)
    assert r.returncode == 0, r.stderr
    _no_fold_talk(r.stdout + r.stderr)
    _no_fold_talk((tmp_path / out).read_text())
    if "volumes" in extra:      # still said: too wide to draw legibly
        assert "201 columns of volumes" in r.stderr and "no blocks to fold" in r.stderr


@pytest.mark.parametrize("out", ["r.html", "r.md"])
def test_report_a_long_blockless_spec(tmp_path, out):
    r = run_cli("report", LONG, "-i", "32x32x3", "-o", str(tmp_path / out))
    assert r.returncode == 0, r.stderr
    _no_fold_talk(r.stdout + r.stderr)
    text = (tmp_path / out).read_text()
    _no_fold_talk(text.replace("fold all", "").replace("unfold", ""))


def test_fold_depth_of_a_blockless_spec():
    from archcalc.views.draw import fit_depth
    from archcalc.views.draw.volumes import fold_depth_for, fold_note
    rep = archcalc.analyze(archcalc.parse(LONG, input=(32, 32, 3)))
    assert fit_depth(rep) is None and fold_depth_for(rep) is None
    assert fold_note(rep) == ("201 columns of volumes are too wide to draw legibly (more than "
                              "40), and the spec has no blocks to fold")


def test_explain_unknown_name_without_blocks():
    r = run_cli("explain", "C3D8 R M", "-i", "32x32x3", "conv9")
    assert r.returncode == 2
    assert "block" not in r.stderr, r.stderr
    assert "did you mean 'conv1'?" in r.stderr
    r = run_cli("explain", "resnet18", "layer9")
    assert "no layer or block named 'layer9'" in r.stderr and "or a block" in r.stderr


def test_a_folded_block_of_one_layer():
    net = archcalc.parse("""name: tiny
input: 8x8x3
blocks:
  one:
    layers:
      - {op: conv, filters: 4}
layers:
  - {block: one}
  - {block: one}
""")
    rows = archcalc.analyze(net).rows(0)
    details = [r.detail for r in rows if r.op == "block"]
    assert details and all(d == "1 layer" for d in details), details


# ---------------------------------------------------------------------------------------------
# adaptive average pooling: to 1×1 it sees the whole input (global), as global_avgpool

def _pooled(tail: str):
    return archcalc.analyze(archcalc.parse(
        "input: 28x28x3\nlayers:\n  - {op: conv, kernel: 3, filters: 8, stride: 2}\n" + tail))


def test_adaptive_pool_to_one_is_global():
    adaptive = _pooled("  - {op: adaptive_avgpool, output: 1}\n")
    gap = _pooled("  - {op: global_avgpool}\n")
    assert adaptive.layers[-1].rf == gap.layers[-1].rf
    assert adaptive.layers[-1].rf.is_global and adaptive.layers[-1].rf.size is None


def test_adaptive_pool_fields_by_hand():
    # conv 3×3/2 p1 on 28: r = 3, j = 2, c = 0 (centre of the first window: (3 − 1)/2 − 1 = 0).
    # 14×14 → 1×7: along H one window of all 14 rows (k = 14, s = 14):
    #   r' = 3 + 13·2 = 29, j' = 28, c' = 0 + (13/2)·2 = 13;
    # along W windows of 2 (k = s = 2): r' = 3 + 1·2 = 5, j' = 4, c' = 0 + (1/2)·2 = 1.
    row = _pooled("  - {op: adaptive_avgpool, output: [1, 7]}\n").layers[-1]
    assert not row.rf.is_global
    assert (row.rf.size, row.rf.stride, row.rf.start) == ((29, 5), (28, 4), (13.0, 1.0))
    # 14×14 → 7×7: windows of 2: r = 5, j = 4, c = 1 along both axes
    row = _pooled("  - {op: adaptive_avgpool, output: 7}\n").layers[-1]
    assert (row.rf.size, row.rf.stride, row.rf.start) == ((5, 5), (4, 4), (1.0, 1.0))


@pytest.mark.parametrize("n, out", [(7, 3), (5, 3), (10, 4), (2, 3), (14, 7), (14, 1), (6, 4)])
def test_adaptive_windows_as_pytorch(n, out):
    """The windows PyTorch's adaptive pooling uses (start = ⌊i·n/out⌋, end = ⌈(i+1)·n/out⌉),
    found by feeding one-hot rows through torch's adaptive_avg_pool1d, are archcalc's; the
    largest is the receptive field's window."""
    torch = pytest.importorskip("torch")
    from archcalc.ops.windowed import adaptive_windows
    seen: list[list[int]] = [[] for _ in range(out)]
    for pixel in range(n):
        x = torch.zeros(1, 1, n, dtype=torch.float64)
        x[0, 0, pixel] = 1
        y = torch.nn.functional.adaptive_avg_pool1d(x, out)[0, 0]
        for i in range(out):
            if y[i] != 0:
                seen[i].append(pixel)
    torch_windows = [(s[0], s[-1] + 1) for s in seen]
    assert all(s == list(range(a, b)) for s, (a, b) in zip(seen, torch_windows))
    assert adaptive_windows(n, out) == torch_windows
    # by hand, for 7 → 3: [0, 3), [2, 5), [4, 7)
    if (n, out) == (7, 3):
        assert torch_windows == [(0, 3), (2, 5), (4, 7)]


# ---------------------------------------------------------------------------------------------
# export → import keeps the network's name

def test_export_then_import_keeps_the_name(tmp_path):
    pytest.importorskip("onnx")
    path = tmp_path / "l.onnx"
    r = run_cli("export", "lenet5", "-o", str(path))
    assert r.returncode == 0, r.stderr
    assert archcalc.load(str(path)).name == "lenet5"
    r = run_cli("summary", str(path))
    assert r.stdout.startswith("lenet5 — input 32×32×1"), r.stdout[:80]
    r = run_cli("import", str(path), "-o", str(tmp_path / "l.yaml"))
    assert r.returncode == 0, r.stderr
    assert archcalc.load(str(tmp_path / "l.yaml")).name == "lenet5"


def test_a_foreign_models_graph_name_is_not_its_name(tmp_path):
    """A model another tool wrote is named after its file: PyTorch calls every graph
    main_graph."""
    onnx = pytest.importorskip("onnx")
    path = tmp_path / "l.onnx"
    assert run_cli("export", "lenet5", "-o", str(path)).returncode == 0
    model = onnx.load(str(path))
    model.producer_name = "pytorch"
    model.graph.name = "main_graph"
    onnx.save(model, str(tmp_path / "mine.onnx"))
    assert archcalc.load(str(tmp_path / "mine.onnx")).name == "mine"


# ---------------------------------------------------------------------------------------------
# a review of a shipped spec names it as the user did, never by the install's path

@pytest.mark.parametrize("out", ["r.html", "r.md"])
def test_report_of_a_shipped_spec_shows_no_install_path(tmp_path, out):
    import os

    from archcalc.spec.sources import find_shipped
    installed = find_shipped("vgg16")
    assert installed and os.path.isabs(installed)
    r = run_cli("report", "vgg16", "-o", str(tmp_path / out))
    assert r.returncode == 0, r.stderr
    text = (tmp_path / out).read_text()
    folder = os.path.dirname(installed)
    assert folder not in text and "site-packages" not in text, \
        text[max(0, text.find(folder) - 200):text.find(folder) + 100]
    assert "vgg16:14:5" in text            # the warning on fc1, where the user can find it
    # a file given by its path is shown as given
    r = run_cli("report", "specs/vgg16.yaml", "-o", str(tmp_path / out))
    assert "specs/vgg16.yaml:14:5" in (tmp_path / out).read_text()


# ---------------------------------------------------------------------------------------------
# huge figures: past G and GiB every view scales on (T, P, E; TiB, PiB, EiB)

HUGE = "C3D512 C1D8 R M C3D64"        # on 4096×4096×512: 39.58T MACs in conv1, 64 GiB of it


def _many_digits(texts: list[str]) -> list[str]:
    """Labels with a number of four digits or more before a unit: 39582G, 60000.00 MiB."""
    import re
    return [t for t in texts if re.search(r"\d{4,}(\.\d+)? ?(K|M|G|T|P|E|KiB|MiB|GiB|TiB|PiB|"
                                          r"EiB|B)\b", t.replace(",", ""))]


def test_scale_ticks_past_giga():
    from archcalc.views.draw.diagram import Scale
    macs = Scale("macs", "MACs", 1.0, 1e19, True)
    assert [macs.tick(v) for v in (999.0, 1e13, 3.9582e13, 2.5e16, 1e18, 1.2e19)] == \
        ["999", "10T", "39.6T", "25P", "1E", "12E"]
    mem = Scale("memory", "memory", 1.0, 2.0 ** 62, True)
    assert [mem.tick(v) for v in (2.0 ** 40, 5 * 2.0 ** 40, 3 * 2.0 ** 50, 2.0 ** 61)] == \
        ["1 TiB", "5 TiB", "3 PiB", "2 EiB"]


def test_drawings_of_a_huge_network(tmp_path):
    import re
    for color in ("macs", "memory", "params"):
        out = tmp_path / f"h_{color}.svg"
        r = run_cli("draw", HUGE, "-i", "4096x4096x512", "-o", str(out), "--color", color)
        assert r.returncode == 0, r.stderr
        texts = re.findall(r"<text[^>]*>([^<]*)</text>", out.read_text())
        assert not _many_digits(texts), _many_digits(texts)
        if color == "macs":
            assert "39.58T MACs" in " ".join(texts) and "39.67T MACs per image" in " ".join(texts)
    r = run_cli("draw", HUGE, "-i", "4096x4096x512", "-o", str(tmp_path / "v.svg"),
                "--style", "volumes")
    assert r.returncode == 0, r.stderr


def test_report_of_a_huge_network(tmp_path):
    import re
    pytest.importorskip("pygal")
    out = tmp_path / "h.html"
    r = run_cli("report", HUGE, "-i", "4096x4096x512", "-o", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", text)
    assert not _many_digits(texts), _many_digits(texts)
    # the memory charts are in GiB: conv1 writes 32 GiB (4096·4096·512 · 4 B), the peak is 64
    assert "peak: 64.00 GiB at conv1" in texts
    assert any(t.endswith(" GiB") for t in texts if t[0].isdigit())


# ---------------------------------------------------------------------------------------------
# the report's charts: the roofline's ticks apart and its legend inside, training shares sum
# to 100%

def _charts(tmp_path, spec: str, *extra: str) -> dict[str, str]:
    pytest.importorskip("pygal")
    out = tmp_path / "r.md"
    r = run_cli("report", spec, "-o", str(out), *extra)
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "r_files"
    return {p.stem[len(spec) + 1:]: p.read_text() for p in folder.glob("*.svg")}


def _texts(svg: str):
    """(text, x, y, rotated, the classes of its groups) of every <text>, in absolute
    coordinates (pygal nests translate() groups)."""
    import re
    import xml.etree.ElementTree as ET
    root = ET.fromstring(svg)
    out = []

    def walk(node, dx, dy, classes):
        t = node.get("transform", "")
        m = re.match(r"translate\(([-\d.]+)[ ,]+([-\d.]+)\)", t)
        if m and not node.tag.endswith("text"):
            dx, dy = dx + float(m.group(1)), dy + float(m.group(2))
        classes = classes + [node.get("class", "")]
        if node.tag.endswith("text") and (node.text or "").strip():
            out.append((node.text, dx + float(node.get("x", 0)), dy + float(node.get("y", 0)),
                        "rotate" in t, " ".join(classes)))
        for child in node:
            walk(child, dx, dy, classes)
    walk(root, 0.0, 0.0, [])
    return out, float(root.get("width")), float(root.get("height"))


def _axis(texts, which: str):
    return [t for t in texts if f"axis {which}" in t[4] and "guides" in t[4]]


@pytest.mark.parametrize("spec, device", [("resnet50", "t4"), ("mobilenet_v2", "t4"),
                                          ("efficientnet_b0", "a100-80gb"), ("vgg16", "t4")])
def test_roofline_ticks_apart_and_legend_inside(tmp_path, spec, device):
    svg = _charts(tmp_path, spec, "--device", device)["roofline"]
    texts, width, height = _texts(svg)
    xs = sorted(_axis(texts, "x"), key=lambda t: t[1])
    ys = sorted(_axis(texts, "y"), key=lambda t: t[2])
    assert len(xs) >= 3 and len(ys) >= 3
    assert not any(t[3] for t in xs)                  # upright
    for a, b in zip(xs, xs[1:]):                      # 11 px labels, 0.6 em a character
        assert a[1] + len(a[0]) * 3.3 + 6 <= b[1] - len(b[0]) * 3.3, (a[0], b[0])
    for a, b in zip(ys, ys[1:]):
        assert b[2] - a[2] >= 14, (a[0], b[0])
    assert not any("e+" in t[0] or "e-" in t[0] for t in xs + ys)
    legends = [t for t in texts if "legends" in t[4]]
    assert legends and all(t[2] + 4 <= height for t in legends), \
        [(t[0], t[2], height) for t in legends]
    assert all(t[1] + len(t[0]) * 7.2 <= width for t in legends)


def test_training_shares_sum_to_100(tmp_path):
    import re
    svg = _charts(tmp_path, "resnet50")["training"]
    texts, _, _ = _texts(svg)
    shares = [re.search(r" ([\d.]+)%$", t[0]) for t in texts if "legends" in t[4]]
    assert len(shares) == 5 and all(shares)
    # resnet50, adam, fp32, batch 1: the peak is Adam's step (docs/training-memory.md; PyTorch
    # measured 511,956,300 B, benchmarks/train_memory.py): weights and buffers 4·25,610,152,
    # the input 4·150,528, two states 8·25,557,032, gradients and the foreach square root
    # 4·25,557,032 each: 20.0 + 0.1 + 39.9 + 20.0 + 20.0 = 100.0
    assert abs(sum(float(s.group(1)) for s in shares) - 100) < 1e-9, [s.group(0) for s in shares]


def test_shares_by_largest_remainder():
    from archcalc.views.report.plots import shares
    assert shares([1, 1, 1]) == ["33.4%", "33.3%", "33.3%"]
    assert shares([2, 2, 4, 2.2]) == ["19.6%", "19.6%", "39.2%", "21.6%"]
    assert shares([0, 5]) == ["0%", "100.0%"]
    assert shares([1, 99_999]) == ["<0.1%", "100.0%"]


# ---------------------------------------------------------------------------------------------
# ceil-mode pooling as PyTorch: a window past the padded input still gives one output

def _torch_pool_size(n: int, k: int, s: int, p: int, avg: bool) -> int | None:
    torch = pytest.importorskip("torch")
    x = torch.zeros(1, 1, n, n)
    try:
        if avg:
            y = torch.nn.functional.avg_pool2d(x, k, s, p, ceil_mode=True)
        else:
            y = torch.nn.functional.max_pool2d(x, k, s, p, ceil_mode=True)
    except RuntimeError:
        return None
    assert y.shape[2] == y.shape[3]
    return int(y.shape[2])


def _archcalc_pool_size(n: int, k: int, s: int, p: int, avg: bool) -> int | None:
    op = "avgpool" if avg else "maxpool"
    try:
        rep = archcalc.analyze(archcalc.parse(
            f"input: {n}x{n}x1\nlayers:\n  - {{op: {op}, kernel: {k}, stride: {s}, "
            f"padding: {p}, rounding: ceil}}\n"))
    except ArchcalcError:
        return None
    h, w, _ = rep.layers[-1].output
    assert h == w
    return h


@pytest.mark.parametrize("avg", [False, True])
def test_ceil_mode_pooling_sizes_as_pytorch(avg):
    """Every input size 1 … 12, kernel 1 … 6, stride 1 … 4, padding 0 … kernel/2 (PyTorch's
    limit), with ceil_mode: archcalc's output size is PyTorch's, and archcalc refuses exactly
    what PyTorch refuses."""
    differ = []
    for n in range(1, 13):
        for k in range(1, 7):
            for s in range(1, 5):
                for p in range(0, k // 2 + 1):
                    want = _torch_pool_size(n, k, s, p, avg)
                    got = _archcalc_pool_size(n, k, s, p, avg)
                    if got != want:
                        differ.append(((n, k, s, p), want, got))
    assert not differ, differ[:10]


def test_ceil_mode_window_past_the_input():
    # kernel 3, stride 2, ceil_mode on 2×2: (2 − 3 + 0)/2 + 1 = 0.5, ceiled to 1 (PyTorch's 1)
    rep = archcalc.analyze(archcalc.parse(
        "input: 2x2x4\nlayers:\n  - {op: maxpool, kernel: 3, stride: 2, rounding: ceil}\n"))
    assert rep.layers[-1].output == (1, 1, 4)
    # the receptive field: one window of 3 from the top left, c = (3 − 1)/2 = 1
    assert (rep.layers[-1].rf.size, rep.layers[-1].rf.start) == ((3, 3), (1.0, 1.0))


def test_ceil_mode_window_past_the_input_exports_and_agrees():
    """The ONNX export of such pools runs in onnxruntime and gives PyTorch's values (max, and
    average counting the padding, as nn.AvgPool2d)."""
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from archcalc.exporters.onnx import to_model
    checked = 0
    for op in ("maxpool", "avgpool"):
        f = torch.nn.functional.max_pool2d if op == "maxpool" else \
            torch.nn.functional.avg_pool2d
        for n, k, s, p in ((2, 3, 2, 0), (1, 2, 2, 0), (1, 3, 3, 0), (1, 4, 2, 1), (3, 5, 3, 1),
                           (2, 5, 4, 1), (4, 6, 3, 1), (2, 4, 3, 0), (5, 3, 2, 1)):
            net = archcalc.parse(f"input: {n}x{n}x2\nlayers:\n  - {{op: {op}, kernel: {k}, "
                                 f"stride: {s}, padding: {p}, rounding: ceil}}\n")
            out = archcalc.analyze(net).layers[-1].output
            sess = ort.InferenceSession(to_model(net).SerializeToString(),
                                        providers=["CPUExecutionProvider"])
            x = np.random.default_rng(n * 100 + k).standard_normal((1, 2, n, n)).astype("float32")
            got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
            want = f(torch.from_numpy(x), k, s, p, ceil_mode=True).numpy()
            assert got.shape == want.shape == (1, out[2], out[0], out[1]), (op, n, k, s, p)
            assert np.allclose(got, want, atol=1e-6), (op, n, k, s, p)
            checked += 1
    assert checked == 18


def test_window_ok_agrees_with_window_out():
    from archcalc.ops.base import window_ok, window_out
    for rounding in ("ceil", "floor", "covered", "exact"):
        for n in range(1, 10):
            for k in range(1, 6):
                for s in range(1, 4):
                    for p in range(0, 3):
                        try:
                            window_out(n, k, s, p, 1, rounding, "height", "x", SourcePos())
                            ok = True
                        except ArchcalcError:
                            ok = False
                        assert window_ok(n, k, s, p, rounding) == ok, (rounding, n, k, s, p)


def test_a_png_too_large_without_blocks_is_not_told_to_fold(tmp_path):
    pytest.importorskip("cairosvg")
    # 501 boxes of about 70 px and their gaps: 58,151 px tall, and no blocks to fold
    r = run_cli("draw", " ".join(["C3D8"] * 500), "-i", "8x8x3", "-o", str(tmp_path / "l.png"))
    assert r.returncode == 2 and "32,767" in r.stderr
    _no_fold_talk(r.stderr)


# ---------------------------------------------------------------------------------------------
# the rest of the kind, found after the first fixes

def test_shipped_spec_messages_and_json_name_it_as_given():
    import json
    import os

    from archcalc.spec.sources import find_shipped
    folder = os.path.dirname(find_shipped("alexnet"))
    r = run_cli("summary", "alexnet", "-i", "224x224x3")     # conv1: (224 − 11)/4 + 1 = 54.25
    assert r.returncode == 1
    assert r.stderr.startswith("alexnet:9:5: error [conv1]"), r.stderr[:200]
    assert folder not in r.stderr
    r = run_cli("summary", "vgg16", "-F", "json")
    assert r.returncode == 0
    files = {d.get("file") for d in json.loads(r.stdout)["diagnostics"]}
    assert files == {"vgg16"}, files


def test_a_word_starting_with_m_or_a_is_not_a_pool_with_options():
    r = run_cli("summary", "C3D8 attention", "-i", "32x32x3")
    assert r.returncode == 1
    assert "unknown token 'attention'" in r.stderr and "ttention'" not in r.stderr.replace(
        "'attention'", "")
    assert "did you mean" not in r.stderr          # (difflib alone offered 'flatten')
    for token in ("M3X", "M3S2Q"):                 # a pool token with a bad option still says so
        r = run_cli("summary", f"C3D8 {token}", "-i", "32x32x3")
        assert f"in token '{token}'" in r.stderr, r.stderr


def test_articles_before_numbers_in_hints():
    r = run_cli("summary", "C8X64", "-i", "32x32x3")
    assert "(an 8×64 kernel is C8x64D<filters>)" in r.stderr, r.stderr
    from archcalc.errors import ArchcalcError
    from archcalc.latency.devices import Device
    dev = Device("mine", "mine", {"fp32": 20.0}, 100.0)
    for dtype, said in (("int8", "add an int8 figure"), ("fp16", "add an fp16 figure"),
                        ("bf16", "add a bf16 figure")):
        with pytest.raises(ArchcalcError) as got:
            dev.peak(dtype)
        assert said in got.value.diagnostics[0].hint, got.value.diagnostics[0].hint



def test_a_name_that_is_no_shipped_network_says_so():
    r = run_cli("summary", "my_net_v2")
    assert r.returncode == 1
    assert "no shipped network is called my_net_v2 (archcalc specs lists them)" in r.stderr
    assert r.stderr.count("tokens:") == 1, r.stderr


# ---------------------------------------------------------------------------------------------
# what a newcomer's pass over every command found

@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
@pytest.mark.parametrize("args", [["export", "lenet5", "-o", "/proc/l.onnx"],
                                  ["report", "lenet5", "--no-plots", "-o", "/proc/r.html"],
                                  ["draw", "lenet5", "-o", "/proc/d.svg"],
                                  ["sweep", "resnet", "--set", "width=0.5,1.0", "-o",
                                   "/proc/s.csv"]])
def test_an_output_folder_archcalc_cannot_write_is_refused_before_any_work(args):
    r = run_cli(*args)
    assert r.returncode == 2
    assert "archcalc cannot create files in /proc" in r.stderr, r.stderr
    assert "sweeping" not in r.stderr and "warning" not in r.stderr


def test_a_directory_as_output_is_one_message(tmp_path):
    r = run_cli("export", "lenet5", "-o", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 2 and "is a directory" in r.stderr, r.stderr


def test_a_zero_step_hint_that_sweeps():
    r = run_cli("sweep", "resnet", "--set", "width=0.5..1.0/0")
    assert r.returncode == 2
    assert "hint: e.g. width=0.5..1.0/0.125 (five values)" in r.stderr, r.stderr
    from archcalc.design.sweep.space import parse_range
    assert len(parse_range("width", "0.5..1.0/0.125")) == 5


def test_a_shipped_name_with_another_suffix():
    r = run_cli("summary", "vgg16.yml")
    assert r.returncode == 2
    assert "a shipped network has that name: give it alone, vgg16" in r.stderr


def test_an_op_name_as_a_bare_word_in_yaml(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_text("name: x\ninput: 32x32x3\nlayers: [conv]\n")
    r = run_cli("summary", str(p))
    assert r.returncode == 1
    assert "write it as a mapping, {op: conv, filters: …}" in r.stderr, r.stderr
