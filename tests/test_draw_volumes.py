"""The volume drawing (archcalc/draw/volumes.py): a valid, self-contained SVG for every shipped
spec, one box per volume and one edge per graph edge (counted here by rules written out by hand,
not by the module's), no text on a box or on other text, a monotone scale, and the LeNet-5 and
AlexNet figures' volumes with their labels."""
from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import pytest
from conftest import SPECS

import archcalc
from archcalc.views.draw import volumes
from archcalc.views.draw.volumes import bar_length, depth_side, draw, fold_depth_for, side, to_svg

NS = "{http://www.w3.org/2000/svg}"
SHIPPED = sorted(SPECS.glob("*.yaml"))
# layers noted on the volume they act on, not drawn: activations, dropout, softmax, LRN,
# normalisations, flatten and channel shuffle (docs/volumes.md)
NOTED = {"relu", "relu6", "tanh", "sigmoid", "silu", "gelu", "elu", "leaky_relu", "prelu",
         "hardswish", "hardsigmoid", "dropout", "softmax", "lrn", "batchnorm", "groupnorm",
         "layernorm", "instancenorm", "flatten", "shuffle"}
MERGES = {"add", "mul"}        # drawn as a circle, not a volume
_REPORTS: dict = {}


def report(name: str):
    if name not in _REPORTS:
        _REPORTS[name] = archcalc.analyze(archcalc.load(str(SPECS / name)))
    return _REPORTS[name]


def cls(el) -> set[str]:
    return set(el.get("class", "").split())


def expected_graph(rows):
    """Drawn nodes and edges of ``rows`` by the rules above: a noted layer stands for the
    layer it acts on (following chains of noted layers back)."""
    stands = {}
    nodes, edges = [], set()
    for row in rows:
        if row.op in NOTED:
            stands[row.name] = stands.get(row.inputs[0], row.inputs[0])
            continue
        nodes.append(row)
        for src in row.inputs:
            edges.add((stands.get(src, src), row.name))
    return nodes, edges


def text_boxes(root):
    """(x0, y0, x1, y1, text) of each <text>: monospace, CHAR_W em per character."""
    out = []
    for t in root.iter(NS + "text"):
        size = float(t.get("font-size"))
        x, y = float(t.get("x")), float(t.get("y"))
        out.append((x, y - 0.85 * size, x + len(t.text) * volumes.CHAR_W * size,
                    y + 0.2 * size, t.text))
    return out


def shape_boxes(root):
    """(x0, y0, x1, y1, layer) of each volume's polygons and each merge's circle."""
    out = []
    for g in root.iter(NS + "g"):
        if "volume" in cls(g):
            pts = [tuple(map(float, p.split(","))) for poly in g.iter(NS + "polygon")
                   for p in poly.get("points").split()]
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            out.append((min(xs), min(ys), max(xs), max(ys), g.get("data-layer")))
        elif "merge" in cls(g):
            c = g.find(NS + "circle")
            cx, cy, r = (float(c.get(k)) for k in ("cx", "cy", "r"))
            out.append((cx - r, cy - r, cx + r, cy + r, g.get("data-layer")))
    return out


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def overlapping_pairs(xs, ys):
    """Pairs (one of xs, one of ys, or two of xs where ys is None) whose boxes overlap."""
    pairs = itertools.combinations(xs, 2) if ys is None else itertools.product(xs, ys)
    return [(a[4], b[4]) for a, b in pairs if overlap(a, b)]


def labels(root) -> dict[str, list[str]]:
    return {g.get("data-layer"): [t.text for t in g.iter(NS + "text")]
            for g in root.iter(NS + "g") if "label" in cls(g)}


def volume_groups(root) -> dict[str, set[str]]:
    return {g.get("data-layer"): cls(g) for g in root.iter(NS + "g") if "volume" in cls(g)}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_spec(path):
    r = report(path.name)
    d = draw(None, r)
    root = ET.fromstring(d.svg.split("?>", 1)[1])            # parses as XML
    assert root.tag == NS + "svg"
    # self-contained: no reference outside the document
    assert not re.search(r"(?:href|src)\s*=", d.svg)
    assert set(re.findall(r"url\(([^)]*)\)", d.svg)) <= {"#arrow"}
    assert "<image" not in d.svg and "@import" not in d.svg
    # one box per volume, one circle per merge, one edge per edge, of the folded view drawn
    depth = fold_depth_for(r)
    assert d.depth == depth
    rows, edges = expected_graph(r.rows(depth))
    vols = volume_groups(root)
    assert sorted(vols) == sorted(x.name for x in rows if x.op not in MERGES)
    merges = [g.get("data-layer") for g in root.iter(NS + "g") if "merge" in cls(g)]
    assert sorted(merges) == sorted(x.name for x in rows if x.op in MERGES)
    paths = [p for p in root.iter(NS + "path") if "edge" in cls(p)]
    assert len(paths) == len(edges)
    # bars are the 1×1×N volumes, boxes the others
    for x in rows:
        if x.op not in MERGES:
            assert ("bar" in vols[x.name]) == (x.output[:2] == (1, 1)), x.name
    # no text on a box, no text on another text
    texts, shapes = text_boxes(root), shape_boxes(root)
    assert overlapping_pairs(texts, None) == []
    assert overlapping_pairs(texts, shapes) == []
    assert overlapping_pairs(shapes, None) == []
    # every volume is labelled with its output volume, from the report
    labs = labels(root)
    for x in rows:
        if x.op not in MERGES:
            h, w, c = x.output
            assert labs[x.name][0] in (f"{h}×{w}×{c}", f"{c}"), x.name
            assert x.name in labs[x.name]


def test_scale_is_monotone_and_legible():
    for f in (side, depth_side, bar_length):
        values = [f(n) for n in range(1, 70_000, 7)]
        assert all(a <= b for a, b in zip(values, values[1:]))
        assert all(a < b for a, b in zip(values[:200], values[1:200]))    # strictly, small n
    # 224×224×3 and 7×7×512 both legible: the big one not huge, the small one not tiny
    assert 100 <= side(224) <= 130 and 40 <= side(7) <= 60
    assert 10 <= depth_side(3) <= 20 and 50 <= depth_side(512) <= 70
    assert side(2048) == side(100_000)                            # clamped
    # in the drawings: a volume at least as large on every axis never draws smaller
    for name in ("vgg16.yaml", "resnet50.yaml", "googlenet.yaml", "unet.yaml"):
        nodes = [n for n in draw(None, report(name), auto_fold=False).nodes.values()
                 if n.kind == "box"]
        for a, b in itertools.permutations(nodes, 2):
            if all(p <= q for p, q in zip(a.vol, b.vol)):
                assert a.fh <= b.fh and a.fw <= b.fw and a.o <= b.o, (a.name, b.name)


def test_alexnet_figure():
    root = ET.fromstring(to_svg(None, report("alexnet.yaml")).split("?>", 1)[1])
    labs, vols = labels(root), volume_groups(root)
    # (227 − 11)/4 + 1 = 55; (55 − 3)/2 + 1 = 27; (27 − 3)/2 + 1 = 13; (13 − 3)/2 + 1 = 6
    want = {"input": "227×227×3", "conv1": "55×55×96", "pool1": "27×27×96",
            "conv2": "27×27×256", "pool2": "13×13×256", "conv3": "13×13×384",
            "conv4": "13×13×384", "conv5": "13×13×256", "pool5": "6×6×256",
            "avgpool": "6×6×256", "fc6": "4096", "fc7": "4096", "fc8": "1000"}
    assert set(vols) == set(want)
    for name, dims in want.items():
        assert labs[name][0] == dims
    assert {n for n, c in vols.items() if "bar" in c} == {"fc6", "fc7", "fc8"}
    assert labs["conv1"][1:] == ["conv1", "conv 11×11/4 p0, 96", "+ relu"]
    assert labs["pool1"][1:] == ["pool1", "maxpool 3×3/2 p0", "+ lrn"]
    assert labs["fc6"][-1] == "+ relu, dropout"
    # a kernel on the input of each conv and max pool (adaptive pooling has none)
    kernels = [g for g in root.iter(NS + "g") if "kernel" in cls(g)]
    assert len(kernels) == 8


def test_lenet5_figure():
    d = draw(None, report("lenet5.yaml"))
    root = ET.fromstring(d.svg.split("?>", 1)[1])
    labs, vols = labels(root), volume_groups(root)
    # 32 − 5 + 1 = 28, 28/2 = 14, 14 − 5 + 1 = 10, 10/2 = 5, 5 − 5 + 1 = 1
    want = {"input": "32×32×1", "C1": "28×28×6", "S2": "14×14×6", "C3": "10×10×16",
            "S4": "5×5×16", "C5": "1×1×120", "F6": "84", "output": "10"}
    assert {n: labs[n][0] for n in vols} == want
    assert {n for n, c in vols.items() if "bar" in c} == {"C5", "F6", "output"}
    assert labs["C1"][-1] == "+ tanh" and labs["S2"][-1] == "avgpool 2×2/2 p0"
    # one column per volume, left to right in the figure's order
    assert [n.col for n in d.nodes.values()] == list(range(8))
    assert d.note is None and d.depth is None


def test_branches_side_by_side_and_skips_as_arcs():
    g = draw(None, report("googlenet.yaml"))
    assert g.depth is None                      # 37 columns: drawn whole
    branches = [n for n in g.nodes.values() if n.name.startswith("inception_3a/")
                and n.op == "conv" and n.name.endswith(("1x1", "3x3_reduce", "5x5_reduce"))]
    assert len(branches) == 3 and len({n.col for n in branches}) == 1     # one column
    assert len({n.y for n in branches}) == 3                               # one above another
    r = draw(None, report("resnet18.yaml"))
    kinds = {(s, t): k for s, t, k in r.edges}
    assert kinds[("layer1.0/add", "layer1.1/add")] == "arc"     # the identity shortcut
    assert kinds[("layer1.1/add", "layer2.0/conv1")] == "curve"


def test_auto_fold_and_explicit_depth():
    r = report("resnet50.yaml")
    assert fold_depth_for(r) == 0
    d = draw(None, r)
    assert d.depth == 0 and "folded to depth 0" in d.note
    assert d.note in d.svg
    assert d.nodes["layer1.0"].op == "block" and d.nodes["layer1.0"].lines[:3] == [
        "56×56×256", "layer1.0", "block 12 layers"]   # 3 × (conv, bn) + relu × 3, the
    # projection (conv, bn) and the add
    whole = draw(None, r, auto_fold=False)
    assert whole.depth is None and whole.note is None
    assert len(whole.nodes) == len(expected_graph(r.layers)[0])
    assert draw(None, r, depth=0).note is None               # asked for: no note
    assert fold_depth_for(report("alexnet.yaml")) is None


def test_training_only_is_dashed():
    r = report("inception_v3.yaml")
    root = ET.fromstring(to_svg(None, r, depth=0).split("?>", 1)[1])
    dashed = {g.get("data-layer") for g in root.iter(NS + "g")
              if "volume" in cls(g) and g.get("stroke-dasharray")}
    assert dashed == {x.name for x in r.rows(0) if x.train_only} == {"AuxLogits"}
    assert labels(root)["AuxLogits"][-1] == "(training only)"
