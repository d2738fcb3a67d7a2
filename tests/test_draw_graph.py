"""archcalc draw: graph diagrams. Every SVG parses as XML and has one box per row of the report
and one arrow per edge of the layer graph; no text runs over another text or out of its box, and
no arrow through a box; DOT reads back through a DOT parser with the same nodes and edges;
Mermaid follows its flowchart grammar; heat-map colours darken as the value grows."""
import html
import itertools
import math
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from decimal import ROUND_HALF_UP, Decimal

import pytest
from conftest import ROOT, imported_by, run_cli

import archcalc
from archcalc.views import draw as graph

SVG = "{http://www.w3.org/2000/svg}"
CASES = [("vgg16", None), ("resnet50", None), ("resnet50", 0), ("googlenet", None)]
# edges counted by hand: a chain of n rows has n - 1; each ResNet-50 bottleneck adds its skip
# (16 blocks); each GoogLeNet inception module has 4 branches out of its input and 4 into its
# concat, 3 more edges each way than a chain (9 modules)
COUNTS = {("vgg16", None): (40, 39), ("resnet50", None): (175, 174 + 16),
          ("resnet50", 0): (23, 22), ("googlenet", None): (143, 142 + 9 * 3)}


def spec(name):
    net = archcalc.load(ROOT / "specs" / f"{name}.yaml")
    return net, archcalc.analyze(net)


def graph_edges(report, depth):
    return {(s, row.name) for row in report.rows(depth) for s in row.inputs}


# --------------------------------------------------------------------------------------------
# SVG geometry

def parse_svg(text):
    root = ET.fromstring(text)
    assert root.tag == SVG + "svg"
    nodes = {}
    for g in root.iter(SVG + "g"):
        if g.get("class") == "node":
            rect = g.find(SVG + "rect")
            box = tuple(float(rect.get(k)) for k in ("x", "y", "width", "height"))
            texts = list(g.findall(SVG + "text"))
            nodes[g.get("data-name")] = (box, texts, rect)
    edges = [(p.get("data-from"), p.get("data-to"), p.get("d"), p)
             for p in root.iter(SVG + "path") if p.get("class") == "edge"]
    return root, nodes, edges


def text_box(t, default_size):
    """The extent of a <text> line: a monospaced font's advance is 0.6 em (0.62 to be safe);
    ascent 0.8 em above the baseline, descent 0.25 em below."""
    size = float(t.get("font-size") or default_size)
    cells = sum(2 if ord(c) > 0x2E80 else 1 for c in (t.text or ""))
    w = cells * 0.62 * size
    x = float(t.get("x"))
    left = x - w / 2 if t.get("text-anchor") == "middle" else x
    y = float(t.get("y"))
    return (left, y - 0.8 * size, w, 1.05 * size)


def overlap(a, b, slack=0.0):
    return (a[0] < b[0] + b[2] - slack and b[0] < a[0] + a[2] - slack and
            a[1] < b[1] + b[3] - slack and b[1] < a[1] + a[3] - slack)


def path_points(d, samples=16):
    """Points along an SVG path of M, L and C commands (Béziers sampled)."""
    tok = d.split()
    pts, i, cur = [], 0, None
    while i < len(tok):
        cmd = tok[i]
        if cmd in ("M", "L"):
            p = (float(tok[i + 1]), float(tok[i + 2]))
            if cmd == "L":
                pts += [(cur[0] + (p[0] - cur[0]) * k / samples,
                         cur[1] + (p[1] - cur[1]) * k / samples) for k in range(1, samples + 1)]
            else:
                pts.append(p)
            cur, i = p, i + 3
        elif cmd == "C":
            c1, c2, p = ((float(tok[i + j]), float(tok[i + j + 1])) for j in (1, 3, 5))
            for k in range(1, samples + 1):
                t = k / samples
                pts.append(tuple((1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) *
                                 t ** 2 * c + t ** 3 * e for a, b, c, e in zip(cur, c1, c2, p)))
            cur, i = p, i + 7
        else:
            raise AssertionError(f"unexpected path command {cmd!r} in {d!r}")
    return pts


@pytest.mark.parametrize("name,depth", CASES)
def test_svg_has_one_box_per_row_and_one_arrow_per_edge(name, depth):
    net, report = spec(name)
    text = graph.to_svg(net, report, depth)
    _, nodes, edges = parse_svg(text)
    rows, n_edges = COUNTS[(name, depth)]
    assert len(nodes) == rows == len(report.rows(depth))
    assert set(nodes) == {row.name for row in report.rows(depth)}
    assert len(edges) == n_edges
    assert {(a, b) for a, b, _, _ in edges} == graph_edges(report, depth)
    if depth is None:                # the network's own graph (networkx), edge for edge
        assert {(a, b) for a, b, _, _ in edges} == set(net.graph.edges)
    for row in report.rows(depth):   # the figures in each box are the report's
        lines = [t.text for t in nodes[row.name][1]]
        assert lines[0] == row.name
        assert f"{row.output[0]}×{row.output[1]}×{row.output[2]}" in lines
        if row.params:          # two decimals, rounded half up (1,025,000: 1.03M)
            short = [str((Decimal(row.params) / d).quantize(Decimal("0.01"), ROUND_HALF_UP))
                     for d in (1000, 10**6)]
            assert any(f"{short[0]}K params" in x or f"{short[1]}M params" in x
                       or f"{row.params} params" in x for x in lines), lines
        if row.macs:
            assert any("MACs" in x for x in lines)


@pytest.mark.parametrize("name,depth", CASES + [("inception_v3", 1)])
@pytest.mark.parametrize("color", [None, "params", "macs", "memory", "rf"])
def test_svg_text_never_overlaps_and_arrows_never_cross_boxes(name, depth, color):
    net, report = spec(name)
    root, nodes, edges = parse_svg(graph.to_svg(net, report, depth, color))
    assert root.get("font-family").endswith("monospace")
    size = float(root.get("font-size"))
    boxes = {n: b for n, (b, _, _) in nodes.items()}
    for a, b in itertools.combinations(boxes.values(), 2):
        assert not overlap(a, b), (a, b)
    for name_, (box, texts, _) in nodes.items():          # every line inside its own box
        for t in texts:
            x, y, w, h = text_box(t, size)
            assert box[0] + 4 <= x and x + w <= box[0] + box[2] - 4, (name_, t.text, box)
            assert box[1] + 2 <= y and y + h <= box[1] + box[3], (name_, t.text, box)
    everything = [text_box(t, size) for t in root.iter(SVG + "text")]
    for a, b in itertools.combinations(everything, 2):     # title, legend and boxes: no overlap
        assert not overlap(a, b, slack=0.5), (a, b)
    width, height = float(root.get("width")), float(root.get("height"))
    for x, y, w, h in everything + list(boxes.values()):
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= height
    inner = [(x + 1, y + 1, w - 2, h - 2) for x, y, w, h in boxes.values()]
    for src, dst, d, _ in edges:
        pts = path_points(d)
        sb, db = boxes[src], boxes[dst]
        assert abs(pts[0][1] - (sb[1] + sb[3])) < 0.11 and sb[0] <= pts[0][0] <= sb[0] + sb[2]
        assert abs(pts[-1][1] - db[1]) < 0.11 and db[0] <= pts[-1][0] <= db[0] + db[2]
        for px, py in pts:
            for x, y, w, h in inner:
                assert not (x < px < x + w and y < py < y + h), (src, dst, (px, py))


def test_training_only_layers_are_dashed_everywhere():
    net, report = spec("inception_v3")
    assert {row.name for row in report.rows(0) if row.train_only} == {"AuxLogits"}
    assert {row.name for row in report.rows(1) if row.train_only} == {
        f"AuxLogits/{n}" for n in ("pool", "conv0", "conv1", "avgpool", "fc")}
    _, nodes, _ = parse_svg(graph.to_svg(net, report, 0))
    assert [n for n, (_, _, rect) in nodes.items() if rect.get("stroke-dasharray")] == \
        ["AuxLogits"]
    train_full = {row.name for row in report.layers if row.train_only}
    assert len(train_full) == 9
    _, nodes, edges = parse_svg(graph.to_svg(net, report, None))
    assert {n for n, (_, _, rect) in nodes.items() if rect.get("stroke-dasharray")} == train_full
    assert {b for _, b, _, p in edges if p.get("stroke-dasharray")} == train_full
    dot = graph.to_dot(net, report)
    assert len(re.findall(r'style="rounded,filled,dashed"', dot)) == 9
    mm = graph.to_mermaid(net, report)
    assert mm.count("-.->") == 9             # one input each
    assert "dashed: runs only in training" in dot and "runs only in training" in mm


# --------------------------------------------------------------------------------------------
# DOT read back

def unquote(s):
    if s.startswith('"') and s.endswith('"'):
        return re.sub(r'\\(["\\])', r"\1", s[1:-1])
    return s


@pytest.mark.parametrize("name,depth", CASES)
def test_dot_reads_back_with_pydot(name, depth):
    pydot = pytest.importorskip("pydot", reason="pydot (in the test extra) reads DOT back")
    net, report = spec(name)
    for color in ("macs",):              # with the legend node (pydot parses slowly: once)
        (g,) = pydot.graph_from_dot_data(graph.to_dot(net, report, depth, color))
        nodes = {unquote(n.get_name()) for n in g.get_nodes()} - {"node", "edge", "graph"}
        nodes.discard("legend")
        assert nodes == {row.name for row in report.rows(depth)}
        edges = {(unquote(e.get_source()), unquote(e.get_destination())) for e in g.get_edges()}
        assert len(g.get_edges()) == COUNTS[(name, depth)][1]
        assert edges == graph_edges(report, depth)


def test_dot_with_odd_names_reads_back(tmp_path):
    pydot = pytest.importorskip("pydot", reason="pydot (in the test extra) reads DOT back")
    net = archcalc.parse(ODD, file="odd.yaml")
    report = archcalc.analyze(net)
    (g,) = pydot.graph_from_dot_data(graph.to_dot(net, report, color="params"))
    names = {unquote(n.get_name()) for n in g.get_nodes()} - {"edge", "graph"}
    rows = {row.name for row in report.layers}
    assert "legend" in rows and "node" in rows      # the legend node steps aside: legend_
    assert names == rows | {"legend_"}
    assert {(unquote(e.get_source()), unquote(e.get_destination())) for e in
            g.get_edges()} == graph_edges(report, None)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("name,depth", CASES)
def test_dot_reads_back_with_graphviz(name, depth):
    net, report = spec(name)
    text = graph.to_dot(net, report, depth, "params")
    plain = subprocess.run(["dot", "-Tplain"], input=text.encode(), capture_output=True,
                           check=True).stdout.decode()
    nodes = [ln for ln in plain.splitlines() if ln.startswith("node ")]
    edges = [ln for ln in plain.splitlines() if ln.startswith("edge ")]
    assert len(nodes) == len(report.rows(depth)) + 1      # and the legend
    assert len(edges) == COUNTS[(name, depth)][1]
    svg = graph.to_svg(net, report, depth, "params", layout="dot")
    root = ET.fromstring(svg)
    gs = [g for g in root.iter(SVG + "g") if g.get("class") == "node"]
    assert len(gs) == len(report.rows(depth)) + 1
    assert len([g for g in root.iter(SVG + "g") if g.get("class") == "edge"]) == len(edges)


# --------------------------------------------------------------------------------------------
# Mermaid grammar

ID = r"[A-Za-z][A-Za-z0-9_]*"
RESERVED = {"end", "graph", "flowchart", "subgraph", "style", "class", "classdef", "click",
            "linkstyle", "direction", "default"}
ENTITY = re.compile(r"#(?:\d+|[a-z]+);")


def check_label(label):
    """A quoted flowchart label: no quote, | or backtick inside; every # opens an entity code;
    < only in <br/>; & only inside nothing (entities are written #amp;). Returns its text."""
    assert '"' not in label and "|" not in label and "`" not in label, label
    rest = ENTITY.sub("", label)
    assert "#" not in rest and ";" not in rest, label
    assert "<" not in rest.replace("<br/>", "") and ">" not in rest.replace("<br/>", ""), label
    assert "&" not in rest, label
    text = ENTITY.sub(lambda m: html.unescape("&" + m.group()[1:]) if not m.group()[1].isdigit()
                      else chr(int(m.group()[1:-1])), label)
    return text.split("<br/>")


def parse_mermaid(text):
    """Check ``text`` against the flowchart grammar this output uses; return its nodes (id →
    label lines), edges (id pairs with their arrow) and the ids inside subgraphs."""
    lines = text.splitlines()
    i = 0
    if lines[0] == "---":                 # front matter: key: "value" lines
        j = lines.index("---", 1)
        for ln in lines[1:j]:
            assert re.fullmatch(r'[a-z]+: "(?:[^"\\]|\\.)*"', ln), ln
        i = j + 1
    assert lines[i] in ("flowchart TD", "flowchart TB", "flowchart LR"), lines[i]
    nodes, edges, sub, stack = {}, [], set(), []
    for ln in lines[i + 1:]:
        s = ln.strip()
        if not s or s.startswith("%%"):
            continue
        if m := re.fullmatch(rf'({ID})(\["|\(")(.*)("\]|"\))', s):
            assert m.group(1).lower() not in RESERVED and m.group(1) not in nodes, s
            assert {'["': '"]', '("': '")'}[m.group(2)] == m.group(4), s
            nodes[m.group(1)] = check_label(m.group(3))
            if stack:
                sub.add(m.group(1))
        elif m := re.fullmatch(rf"({ID}) (-->|-\.->) ({ID})", s):
            assert m.group(1) in nodes and m.group(3) in nodes, s
            edges.append((m.group(1), m.group(3), m.group(2)))
        elif m := re.fullmatch(rf"style ({ID}) ([a-z-]+:[^,;]+(?:,[a-z-]+:[^,;]+)*)", s):
            assert m.group(1) in nodes, s
        elif m := re.fullmatch(rf'subgraph ({ID})\["(.*)"\]', s):
            assert m.group(1).lower() not in RESERVED and m.group(1) not in nodes
            check_label(m.group(2))
            stack.append(m.group(1))
        elif s == "end":
            assert stack
            stack.pop()
        elif re.fullmatch(r"direction (TB|TD|BT|LR|RL)", s):
            assert stack
        else:
            raise AssertionError(f"not a flowchart statement: {s!r}")
    assert not stack
    return nodes, edges, sub


@pytest.mark.parametrize("name,depth", CASES)
def test_mermaid_follows_the_flowchart_grammar(name, depth):
    net, report = spec(name)
    rows = report.rows(depth)
    for color in (None, "params"):
        nodes, edges, sub = parse_mermaid(graph.to_mermaid(net, report, depth, color))
        layer_nodes = {k: v for k, v in nodes.items() if k not in sub}
        assert len(layer_nodes) == len(rows)
        assert [v[0] for v in layer_nodes.values()] == [row.name for row in rows]
        names = {k: v[0] for k, v in layer_nodes.items()}
        assert len(edges) == COUNTS[(name, depth)][1]
        assert {(names[a], names[b]) for a, b, _ in edges} == graph_edges(report, depth)
        assert bool(sub) == bool(color)


ODD = """name: odd "names" | here
input: 32x32x3
layers:
  - {op: conv, kernel: 3, filters: 8, name: 'a|b'}
  - {op: relu, name: 'say "hi"'}
  - {op: conv, kernel: 3, filters: 8, name: 'x<y>&z', inputs: ['say "hi"']}
  - {op: conv, kernel: 1, filters: 8, name: 'back\\slash #1;', inputs: ['say "hi"']}
  - {op: add, name: node, inputs: ['x<y>&z', 'back\\slash #1;']}
  - {op: conv, kernel: 1, filters: 4, name: legend}
  - {op: global_avgpool, name: 'end'}
  - {op: fc, units: 10, name: 'graph`tick`'}
"""


def test_odd_names_are_escaped_in_every_format():
    net = archcalc.parse(ODD, file="odd.yaml")
    report = archcalc.analyze(net)
    names = [row.name for row in report.layers]
    assert names[1:5] == ["a|b", 'say "hi"', "x<y>&z", "back\\slash #1;"]
    nodes, edges, sub = parse_mermaid(graph.to_mermaid(net, report, color="params"))
    assert [v[0] for k, v in nodes.items() if k not in sub] == names
    assert len(edges) == 9
    _, svg_nodes, svg_edges = parse_svg(graph.to_svg(net, report, color="params"))
    assert set(svg_nodes) == set(names)
    assert [t.text for t in svg_nodes['say "hi"'][1]][0] == 'say "hi"'
    assert {(a, b) for a, b, _, _ in svg_edges} == graph_edges(report, None)
    assert '"say \\"hi\\""' in graph.to_dot(net, report)


# --------------------------------------------------------------------------------------------
# heat maps

def test_the_colour_ramp_darkens_monotonically():
    lum = [graph.luminance(graph.ramp(i / 1000)) for i in range(1001)]
    assert all(a >= b for a, b in zip(lum, lum[1:]))        # (neighbours may round alike)
    steps = [graph.luminance(graph.ramp(i / graph.RAMP_STEPS))
             for i in range(graph.RAMP_STEPS + 1)]
    assert all(a > b for a, b in zip(steps, steps[1:]))     # every step darker
    assert graph.ramp(0) == graph.PALETTE[0] and graph.ramp(1) == graph.PALETTE[-1]
    assert graph.luminance(graph.ZERO_FILL) > lum[0]        # 0 is lighter than the scale


@pytest.mark.parametrize("key", graph.COLOR_KEYS)
@pytest.mark.parametrize("name", ["vgg16", "resnet50"])
def test_heat_map_colours_are_monotone_in_the_value(name, key):
    net, report = spec(name)
    rows = report.rows(None)
    _, nodes, _ = parse_svg(graph.to_svg(net, report, None, key))
    fills = {n: rect.get("fill") for n, (_, _, rect) in nodes.items()}
    vals = graph.values(report, rows, key)
    pairs = sorted(zip(vals, (graph.luminance(fills[r.name]) for r in rows)))
    for (v1, l1), (v2, l2) in zip(pairs, pairs[1:]):
        assert l2 <= l1 + 1e-12 if v2 > v1 else l2 == l1
    top = max(vals)
    assert {fills[r.name] for r, v in zip(rows, vals) if v == top} == {graph.PALETTE[-1]}
    assert all(fills[r.name] == graph.ZERO_FILL for r, v in zip(rows, vals) if v == 0)


def test_heat_map_values_and_scales_by_hand():
    net, report = spec("vgg16")
    rows = report.rows(None)
    params = dict(zip((r.name for r in rows), graph.values(report, rows, "params")))
    assert params["fc1"] == 7 * 7 * 512 * 4096 + 4096          # the darkest
    assert params["conv1"] == 3 * 3 * 3 * 64 + 64              # 1,792
    s = graph.scale_for(report, rows, "params")
    assert s.log and s.lo == 1792 and s.hi == 102764544        # 4.8 decades: logarithmic
    mid = math.sqrt(s.lo * s.hi)
    assert s.position(mid) == pytest.approx(0.5)
    mem = dict(zip((r.name for r in rows), graph.values(report, rows, "memory")))
    assert mem["conv1"] == 224 * 224 * 64 * 4                  # fp32, batch 1
    half = archcalc.analyze(net, dtype="fp16", batch=8)
    assert graph.values(half, half.rows(None), "memory")[1] == 224 * 224 * 64 * 2 * 8
    rf = dict(zip((r.name for r in rows), graph.values(report, rows, "rf")))
    assert rf["conv1"] == 3 and rf["conv2"] == 5 and rf["pool1"] == 6
    assert rf["pool5"] == 212                  # VGG16's last local receptive field
    assert rf["fc1"] == 224                    # global: the top, here the input's side
    lin = graph.Scale("params", "t", 10, 30, False)
    assert lin.position(20) == 0.5 and lin.position(0) is None
    _, lenet = spec("lenet5")                  # RFs 1 … 16 (fc global at 32): linear
    assert graph.scale_for(lenet, lenet.layers, "rf").log is False


def test_the_svg_legend_states_the_scale():
    net, report = spec("vgg16")
    root = ET.fromstring(graph.to_svg(net, report, None, "params"))
    legend = " ".join(t.text for g in root.iter(SVG + "g") if g.get("class") == "legend"
                      for t in g.iter(SVG + "text"))
    assert "parameters per layer, logarithmic scale, from 1.79K (lightest) to 102.76M " \
           "(darkest); white: 0" in legend
    assert "1.79K" in legend and "103M" in legend               # the ends of the bar
    rf = ET.fromstring(graph.to_svg(net, report, None, "rf"))
    text = " ".join(t.text for t in rf.iter(SVG + "text"))
    assert "global receptive field" in text and "RF global" in text


# --------------------------------------------------------------------------------------------
# folding

def test_fit_depth_folds_only_what_is_too_large():
    _, r50 = spec("resnet50")
    assert graph.fit_depth(r50) is None                          # 175 boxes fit
    assert graph.fit_depth(r50, limit=100) == 0                  # 23 at depth 0
    _, inc = spec("inception_v3")
    assert len(inc.layers) == 323
    assert graph.fit_depth(inc) == 1 and len(inc.rows(1)) == 141  # the deepest that fits
    assert graph.fit_depth(inc, limit=30) == 0
    assert graph.fit_depth(inc, limit=5) == 0                    # nothing fits: the smallest


# --------------------------------------------------------------------------------------------
# the command

def test_draw_writes_each_format_by_suffix(tmp_path):
    for suffix in (".svg", ".dot", ".gv", ".mmd", ".md"):
        out = tmp_path / f"net{suffix}"
        p = run_cli("draw", "resnet50", "-o", str(out), "--depth", "0", "--color", "macs")
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith(f"wrote {out}") and "23 boxes" in p.stdout
        data = out.read_text(encoding="utf-8")
        if suffix == ".svg":
            ET.fromstring(data)
            assert len(parse_svg(data)[1]) == 23
        elif suffix in (".dot", ".gv"):
            assert data.startswith('digraph "resnet50" {')
        elif suffix == ".mmd":
            parse_mermaid(data)
        else:
            assert data.startswith("```mermaid\n") and data.endswith("```\n")
            parse_mermaid(data[len("```mermaid\n"):-len("```\n")])
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]     # no temporary left


def test_draw_to_standard_output():
    p = run_cli("draw", "C3D16 R M FC10", "-o", "-", "--format", "MERMAID")
    assert p.returncode == 0, p.stderr
    nodes, edges, _ = parse_mermaid(p.stdout)
    assert [v[0] for v in nodes.values()] == ["input", "conv1", "relu1", "pool1", "fc1"]
    assert len(edges) == 4
    p = run_cli("draw", "C3D16 R M FC10", "-o", "-", "-F", "svg")
    assert p.returncode == 0 and len(parse_svg(p.stdout)[1]) == 5


@pytest.mark.parametrize("args,words", [
    (["-o", "{d}/net.jpg"], ["cannot tell the format", "--format"]),
    (["-o", "{d}/net.svg", "--format", "json"], ["--format must be one of svg, png, dot, "
                                                 "mermaid, got 'json'"]),
    (["-o", "{d}/net.svg", "--format", "pdf"], ["--format must be one of svg, png, dot, "
                                                "mermaid"]),
    (["-o", "{d}/missing/net.svg"], ["does not exist", "mkdir -p"]),
    (["-o", "{d}"], ["is a directory"]),
    (["-o", "-"], ["needs --format"]),
    (["-o", "-", "-F", "png"], ["PNG is binary"]),
    (["-o", "{d}/net.svg", "--color", "flops"], ["--color must be one of params, macs, "
                                                 "memory, rf"]),
    (["-o", "{d}/net.svg", "--depth", "-1"], ["--depth must be a whole number"]),
    (["-o", "{d}/net.svg", "--style", "3d"], ["--style must be one of graph, volumes"]),
    (["-o", "{d}/net.dot", "--style", "volumes"], ["the volume drawing is SVG or PNG"]),
    (["-o", "{d}/net.svg", "--style", "volumes", "--layout", "dot"],
     ["--layout lays out the graph drawing"]),
])
def test_bad_usage_is_one_clear_error(tmp_path, args, words):
    p = run_cli("draw", "vgg16", *[a.format(d=tmp_path) for a in args])
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert p.stderr.startswith("<options>: error: ") and "Traceback" not in p.stderr
    assert p.stderr.count("error:") == 1 and "hint:" in p.stderr
    for w in words:
        assert w in p.stderr
    assert os.listdir(tmp_path) == []


def test_a_spec_with_errors_gets_validates_diagnostics_and_no_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ninput: 32x32x3\nlayers:\n  - C3D16\n"
                   "  - {op: conv, kernel: 5, stride: 3, filters: 8, padding: 0}\n"
                   "  - {op: add, inputs: [conv1, conv2]}\n  - FC10\n  - Q7\n")
    out = tmp_path / "net.svg"
    out.write_text("the old drawing")
    p = run_cli("draw", str(bad), "-o", str(out))
    v = run_cli("validate", str(bad))
    assert p.returncode == v.returncode == 1
    assert p.stderr.strip() == v.stdout.strip().rsplit("\n", 1)[0].strip()
    assert "unknown token 'Q7'" in p.stderr and "add needs inputs of the same volume" in p.stderr
    assert out.read_text() == "the old drawing"                 # kept, not half-written
    assert sorted(os.listdir(tmp_path)) == ["bad.yaml", "net.svg"]


def test_a_large_network_folds_and_says_so(tmp_path):
    out = tmp_path / "r152.svg"
    p = run_cli("draw", "resnet152", "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert "resnet152 has 514 layers, too many to draw legibly (more than 300 boxes)" in p.stderr
    assert "--depth 0 (57 boxes)" in p.stderr
    _, report = spec("resnet152")
    assert len(parse_svg(out.read_text(encoding="utf-8"))[1]) == len(report.rows(0)) == 57
    p = run_cli("draw", "resnet152", "-o", str(out), "--depth", "1")    # asked for: drawn
    assert p.returncode == 0 and "515 boxes: the drawing is large" in p.stderr
    assert len(parse_svg(out.read_text(encoding="utf-8"))[1]) == 515


def test_a_network_too_large_even_folded_is_refused(tmp_path):
    p = run_cli("draw", "(C3D4 R)x2600", "-i", "8x8x3", "-o", str(tmp_path / "x.svg"))
    assert p.returncode == 2
    # a chain has no blocks: folding changes nothing, so no "drawn folded" note comes first
    assert p.stderr.startswith("<options>: error: network would need 5,201 boxes: too many to "
                               "draw (the limit is 5,000)")
    assert os.listdir(tmp_path) == []


def test_png(tmp_path):
    pytest.importorskip("cairosvg", reason="PNG from archcalc's SVG needs cairosvg "
                                           "(pip install 'archcalc[draw]')")
    out = tmp_path / "g.png"
    p = run_cli("draw", "googlenet", "-o", str(out), "--color", "params")
    assert p.returncode == 0, p.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    root = ET.fromstring(graph.to_svg(*spec("googlenet"), None, "params"))
    assert (w, h) == (round(float(root.get("width"))), round(float(root.get("height"))))


def test_png_without_cairosvg_or_graphviz_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "cairosvg", None)     # as where it is not installed
    p = run_cli("draw", "vgg16", "-o", str(tmp_path / "v.png"),
                env={"PATH": str(tmp_path)})                 # no dot on the PATH
    assert p.returncode == 2
    assert "PNG needs cairosvg or Graphviz, and neither is installed" in p.stderr
    assert "pip install 'archcalc[draw]'" in p.stderr and "apt-get install graphviz" in p.stderr
    assert not (tmp_path / "v.png").exists()


def test_layout_dot_without_graphviz_is_a_clear_error(tmp_path):
    env = {"PATH": str(tmp_path)}
    p = run_cli("draw", "vgg16", "-o", str(tmp_path / "v.svg"), "--layout", "dot", env=env)
    assert p.returncode == 2 and "Graphviz's dot program is not installed" in p.stderr
    assert "apt-get install graphviz" in p.stderr


def test_style_volumes_draws_the_volume_figure_and_says_when_it_folds(tmp_path):
    out = tmp_path / "v.svg"
    p = run_cli("draw", "vgg16", "-o", str(out), "--style", "volumes")
    assert p.returncode == 0, p.stderr
    ET.fromstring(out.read_text(encoding="utf-8"))
    # VGG16 fits whole: no folding note; its 13 conv, 5 pool, 3 fc volumes and the input (the
    # ReLUs and the softmax are labels on the volumes they act on, docs/volumes.md)
    assert "folded" not in p.stderr and "22 volumes" in p.stdout
    # ResNet-50 is too wide whole: folded to depth 0 by the volume figure's own rule, and said
    p = run_cli("draw", "resnet50", "-o", str(tmp_path / "r.svg"), "--style", "volumes")
    assert p.returncode == 0 and "blocks folded to depth 0" in p.stderr
    assert "(--depth 0)" in p.stdout


def test_summary_does_not_import_the_drawing():
    modules, _ = imported_by("summary", "specs/vgg16.yaml")
    assert not [m for m in modules if m.startswith("archcalc.views.draw")]
    modules, _ = imported_by("draw", "specs/vgg16.yaml", "-o", "-", "-F", "dot")
    assert "archcalc.cli.commands.draw" in modules and "cairosvg" not in modules


def test_help_closed_pipe_full_disk_and_slips():
    p = run_cli("draw", "-h")
    assert p.returncode == 0 and p.stdout.startswith("Usage: ") and "--color" in p.stdout
    # a real pipe and /dev/full: processes of their own
    p = subprocess.run(["bash", "-c", f"set -o pipefail; {sys.executable!r} -m archcalc.cli "
                        "draw resnet50 -o - -F mermaid | head -c 10 > /dev/null"],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0 and "Traceback" not in p.stderr and "Exception" not in p.stderr
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            p = subprocess.run([sys.executable, "-m", "archcalc.cli", "draw", "vgg16", "-o", "-",
                                "-F", "dot"], stdout=full, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT)
        assert p.returncode == 2 and "\n<stdout>: error: cannot write standard output" in p.stderr
    p = run_cli("draw", "C3D64", "M", "-o", "-", "-F", "dot")
    assert p.returncode == 2 and 'quote it, as in archcalc draw "C3D64 M' in p.stderr


def test_drawings_do_not_drift_sideways():
    # merges placed between their inputs used to shift everything below them, unit after unit
    # (ShuffleNetV2: 2,088 px wide): the spine keeps each drawing about as wide as its widest
    # layer of boxes
    for name in ("shufflenet_v2_x1_0", "densenet121", "resnet50"):
        net, report = spec(name)
        _, nodes, edges = parse_svg(graph.to_svg(net, report, 1))
        widest = max(sum(b[2] + graph.GAP_X for b, _, _ in row)
                     for row in _layers(nodes).values())
        xs = [b[0] for b, _, _ in nodes.values()] + [b[0] + b[2] for b, _, _ in nodes.values()]
        xs += [x for _, _, d, _ in edges for x, _ in path_points(d, 2)]
        assert max(xs) - min(xs) < widest + 150, name


def _layers(nodes):
    rows = {}
    for box, texts, rect in nodes.values():
        rows.setdefault(round(box[1] + box[3] / 2), []).append((box, texts, rect))
    return rows


def test_a_png_too_large_for_cairo_is_a_clear_error(tmp_path):
    pytest.importorskip("cairosvg", reason="PNG from archcalc's SVG needs cairosvg")
    p = run_cli("draw", "densenet121", "-o", str(tmp_path / "d.png"), "--depth", "1")
    assert p.returncode == 2 and "more than the 32,767 a side that cairo draws" in p.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_spec_draws_one_box_per_layer_and_its_graphs_edges(path):
    """Whole (no folding): one box per layer and exactly the networkx graph's edges."""
    net = archcalc.load(str(path))
    report = archcalc.analyze(net)
    _, nodes, edges = parse_svg(graph.to_svg(net, report, None))
    assert set(nodes) == {layer.name for layer in net.layers}
    assert {(a, b) for a, b, _, _ in edges} == set(net.graph.edges)
    assert len(edges) == net.graph.number_of_edges()


# --------------------------------------------------------------------------------------------
# left to right (--direction LR)

@pytest.mark.parametrize("name,depth", CASES + [("inception_v3", 1), ("shufflenet_v2_x1_0", 1)])
@pytest.mark.parametrize("color", [None, "macs"])
def test_left_to_right_svg_text_never_overlaps_and_arrows_never_cross_boxes(name, depth, color):
    net, report = spec(name)
    root, nodes, edges = parse_svg(graph.to_svg(net, report, depth, color, direction="LR"))
    size = float(root.get("font-size"))
    boxes = {n: b for n, (b, _, _) in nodes.items()}
    assert set(boxes) == {row.name for row in report.rows(depth)}
    assert {(a, b) for a, b, _, _ in edges} == graph_edges(report, depth)
    for a, b in itertools.combinations(boxes.values(), 2):
        assert not overlap(a, b), (a, b)
    for name_, (box, texts, _) in nodes.items():          # every line inside its own box
        for t in texts:
            x, y, w, h = text_box(t, size)
            assert box[0] + 4 <= x and x + w <= box[0] + box[2] - 4, (name_, t.text, box)
            assert box[1] + 2 <= y and y + h <= box[1] + box[3], (name_, t.text, box)
    everything = [text_box(t, size) for t in root.iter(SVG + "text")]
    for a, b in itertools.combinations(everything, 2):     # title, legend and boxes: no overlap
        assert not overlap(a, b, slack=0.5), (a, b)
    width, height = float(root.get("width")), float(root.get("height"))
    for x, y, w, h in everything + list(boxes.values()):
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= height
    inner = [(x + 1, y + 1, w - 2, h - 2) for x, y, w, h in boxes.values()]
    for src, dst, d, _ in edges:
        pts = path_points(d)
        sb, db = boxes[src], boxes[dst]
        # out of the source's right side, into the destination's left side, left to right
        assert abs(pts[0][0] - (sb[0] + sb[2])) < 0.11 and sb[1] <= pts[0][1] <= sb[1] + sb[3]
        assert abs(pts[-1][0] - db[0]) < 0.11 and db[1] <= pts[-1][1] <= db[1] + db[3]
        assert db[0] > sb[0] + sb[2]
        for px, py in pts:
            for x, y, w, h in inner:
                assert not (x < px < x + w and y < py < y + h), (src, dst, (px, py))


def test_resnet50_left_to_right_is_wide_not_tall():
    net, report = spec("resnet50")
    tall = ET.fromstring(graph.to_svg(net, report))
    wide = ET.fromstring(graph.to_svg(net, report, direction="LR"))
    th, tw = float(tall.get("height")), float(tall.get("width"))
    wh, ww = float(wide.get("height")), float(wide.get("width"))
    assert th > 15_000 and th > 10 * tw            # top to bottom: 18,000 px tall
    assert ww > 5 * wh and wh < tw                 # left to right: a wide strip
    with pytest.raises(archcalc.ArchcalcError) as e:
        graph.to_svg(net, report, direction="RL")
    assert "direction must be TB or LR" in str(e.value)


def test_left_to_right_in_dot_and_mermaid():
    net, report = spec("vgg16")
    assert "rankdir=LR" in graph.to_dot(net, report, direction="LR")
    assert "rankdir=TB" in graph.to_dot(net, report)
    lr = graph.to_mermaid(net, report, direction="LR")
    assert "\nflowchart LR\n" in lr and "\nflowchart TD\n" in graph.to_mermaid(net, report)
    parse_mermaid(lr)


def test_draw_direction_option(tmp_path):
    for fmt in ("svg", "dot", "mmd"):
        out = tmp_path / f"r.{fmt}"
        p = run_cli("draw", "resnet18", "-o", str(out), "--direction", "lr")
        assert p.returncode == 0, p.stderr
        text = out.read_text()
        assert {"svg": "<svg", "dot": "rankdir=LR", "mmd": "flowchart LR"}[fmt] in text
    p = run_cli("draw", "resnet18", "-o", str(tmp_path / "x.svg"), "--direction", "up")
    assert p.returncode == 2 and "--direction" in p.stderr and "TB" in p.stderr
    p = run_cli("draw", "resnet18", "-o", str(tmp_path / "v.svg"), "--style", "volumes",
                "--direction", "LR")
    assert p.returncode == 2 and "--direction lays out the graph drawing" in p.stderr
