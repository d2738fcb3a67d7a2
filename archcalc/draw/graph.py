"""Graph diagrams of a network: one box per row of the report (a layer, or a folded block), one
arrow per edge of the layer graph, each box carrying the row's figures from the Report (name, op
and its attributes, output volume, parameters, MACs). Four outputs of the same content:

- ``to_svg``: archcalc's own layered drawing (``layout="layered"``: layers from networkx's
  topological generations, long edges routed through their own slots, barycentre ordering within
  layers to reduce crossings, boxes sized to their text), or Graphviz's (``layout="dot"``);
- ``to_png``: that SVG rasterised by cairosvg, or Graphviz's PNG where cairosvg is missing;
- ``to_dot``: Graphviz DOT; ``to_mermaid``: a Mermaid flowchart (renders in GitHub and GitLab
  Markdown).

``color`` (``params``, ``macs``, ``memory``, ``rf``) shades the boxes as a heat map whose scale
is drawn in a legend (logarithmic where the values span two decades or more). Training-only
layers are drawn dashed. ``fit_depth`` picks the block folding that keeps a drawing legible;
``draw_cmd`` is the ``archcalc draw`` command. See docs/draw.md.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from typing import NamedTuple, Optional, Sequence

import typer

from ..cli_common import (BATCH, COLUMN, DOUBLE, DTYPE, FILTERS, INPUT, ROUNDING, SPEC,
                          analysis_options, choice, guarded, load_one, whole)
from ..errors import OPTIONS, ArchcalcError, Diagnostic, SourcePos, error
from ..report import LayerRow, Report
from ..views import _op_text, diag_line, human_bytes, human_count, vol_text

MAX_NODES = 300          # more boxes than this are not legible: fold blocks (fit_depth)
HARD_LIMIT = 5_000       # more than this even folded: refused (the drawing would be useless)
MERMAID_MAX_TEXT = 50_000    # Mermaid's default maxTextSize (GitHub renders up to it)
COLOR_KEYS = ("params", "macs", "memory", "rf")
FORMATS = ("svg", "png", "dot", "mermaid")
LAYOUTS = ("layered", "dot")
STYLES = ("graph", "volumes")
SUFFIXES = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid",
            ".mermaid": "mermaid", ".md": "mermaid"}

# ColorBrewer's YlOrRd (9 classes): sequential, light to dark, colour-blind safe; its relative
# luminance falls monotonically, so a darker box always means a larger value
PALETTE = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c",
           "#bd0026", "#800026")
ZERO_FILL = "#ffffff"    # a value of 0 (no parameters, in place, ...): below the scale
LAYER_FILL, BLOCK_FILL, INPUT_FILL = "#f4f6fa", "#e3ecfa", "#e2e8f0"
STROKE, BLOCK_STROKE = "#4a5568", "#2b6cb0"


# ---------------------------------------------------------------------------------------------
# what is drawn (shared by every format)

class Scale(NamedTuple):
    """The heat map's scale: values from ``lo`` (the smallest non-zero) to ``hi``."""
    key: str
    title: str
    lo: float
    hi: float
    log: bool

    def position(self, value: float) -> Optional[float]:
        """Where ``value`` sits on the scale, 0 … 1; None for 0 (drawn white, below it)."""
        if not value or value <= 0:
            return None
        if self.hi <= self.lo:
            return 1.0
        if self.log:
            t = (math.log10(value) - math.log10(self.lo)) / (math.log10(self.hi) -
                                                             math.log10(self.lo))
        else:
            t = (value - self.lo) / (self.hi - self.lo)
        return min(1.0, max(0.0, t))

    def color(self, value: float) -> str:
        t = self.position(value)
        return ZERO_FILL if t is None else ramp(t)

    def text(self, value: float) -> str:
        return _value_text(self.key, value)

    def tick(self, value: float) -> str:
        """A legend label: three significant digits ("1K", "2.36M", "100 KiB")."""
        if self.key == "rf":
            return f"{value:.3g}"
        units = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)) \
            if self.key == "memory" else (("G", 10**9), ("M", 10**6), ("K", 10**3), ("", 1))
        for unit, size in units:
            if value >= size:
                digits = f"{value / size:.3g}"
                digits = f"{value / size:.0f}" if "e" in digits else digits
                return f"{digits}{' ' * (self.key == 'memory')}{unit}"
        return f"{value:.3g}"


RAMP_STEPS = 64     # the ramp's distinct colours: each step darker than the one before (a
                    # finer ramp would round one channel up where the others stay put)


def ramp(t: float) -> str:
    """The colour at ``t`` (0 … 1) along PALETTE, interpolated in RGB, in RAMP_STEPS steps."""
    t = round(min(1.0, max(0.0, t)) * RAMP_STEPS) / RAMP_STEPS * (len(PALETTE) - 1)
    i = min(int(t), len(PALETTE) - 2)
    f = t - i
    a, b = _rgb(PALETTE[i]), _rgb(PALETTE[i + 1])
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))


def _rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def luminance(color: str) -> float:
    """WCAG relative luminance of ``#rrggbb`` (0 black … 1 white)."""
    def lin(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(c) for c in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_color(fill: str) -> str:
    """Black on light fills, white on dark ones (the better contrast of the two)."""
    return "#000000" if luminance(fill) > 0.179 else "#ffffff"


def _value_text(key: str, value: float) -> str:
    if key == "memory":
        return human_bytes(int(value))
    if key == "rf":
        return f"{value:g}"
    return human_count(int(value))


def _bytes_per_element(report: Report) -> int:
    from ..analysis import DTYPES
    return DTYPES[report.settings.dtype] * report.settings.batch


def values(report: Report, rows: Sequence[LayerRow], key: str) -> list[float]:
    """Each row's figure for the heat map ``key``: parameters, MACs, activation memory in bytes
    (its activations at the report's dtype and batch, as the totals count them), or the larger
    side of its receptive field (a global one sits at the top of the scale)."""
    if key == "params":
        return [row.params for row in rows]
    if key == "macs":
        return [row.macs for row in rows]
    if key == "memory":
        size = _bytes_per_element(report)
        return [row.activations * size for row in rows]
    finite = [max(row.rf.size) for row in rows if not row.rf.is_global and row.rf.size]
    top = max(finite + [max(report.input[:2])])
    return [top if row.rf.is_global else max(row.rf.size) if row.rf.size else 0 for row in rows]


TITLES = {"params": "parameters per layer", "macs": "MACs per layer (per image)",
          "memory": "activation memory per layer", "rf": "receptive field (larger side, pixels)"}


def scale_for(report: Report, rows: Sequence[LayerRow], key: str) -> Scale:
    """The scale of ``key`` over ``rows``: logarithmic where the non-zero values span two
    decades or more, linear otherwise."""
    vals = [v for v in values(report, rows, key) if v > 0]
    lo, hi = (min(vals), max(vals)) if vals else (0, 0)
    log = bool(vals) and hi / lo >= 100
    title = TITLES[key]
    if key == "memory":
        s = report.settings
        title += f" ({s.dtype}, batch {s.batch})"
    return Scale(key, title, lo, hi, log)


class Node(NamedTuple):
    name: str
    lines: tuple[str, ...]      # the box's text: name, op, output volume, figures
    tooltip: str                # every figure exactly
    fill: str
    ink: str                    # the text colour
    dashed: bool                # training only
    kind: str                   # "input", "layer" or "block"


class Edge(NamedTuple):
    src: str
    dst: str
    dashed: bool                # into a training-only layer


class Diagram(NamedTuple):
    name: str
    title: tuple[str, ...]
    nodes: list[Node]
    edges: list[Edge]
    scale: Optional[Scale]
    train_only: bool            # some layer is training-only (the legend says what dashed means)
    global_rf: bool             # some row's receptive field is global (the rf legend says where)


def diagram(net, report: Optional[Report] = None, depth: Optional[int] = None,
            color: Optional[str] = None) -> Diagram:
    """What every format draws: the rows of ``report.rows(depth)`` as nodes with their figures,
    each row's inputs as edges, and the heat-map scale of ``color``."""
    if report is None:
        from ..analysis import analyze
        report = analyze(net)
    if color is not None and color not in COLOR_KEYS:
        raise error(f"color must be one of {', '.join(COLOR_KEYS)}, got {color!r}", OPTIONS,
                    exit_code=2)
    rows = report.rows(depth)
    scale = scale_for(report, rows, color) if color else None
    vals = values(report, rows, color) if color else [0] * len(rows)
    size = _bytes_per_element(report)
    nodes, edges = [], []
    for row, v in zip(rows, vals):
        kind = "input" if row.op == "input" else "block" if row.op == "block" else "layer"
        lines = [row.name, _op_text(row), vol_text(row.output)]
        figures = [f"{human_count(row.params)} params"] * bool(row.params) + \
                  [f"{human_count(row.macs)} MACs"] * bool(row.macs)
        if figures:
            lines.append(" · ".join(figures))
        if color == "memory":
            lines.append(f"{human_bytes(row.activations * size)} activations"
                         if row.activations else "no new buffer" if kind != "input"
                         else "0 B")
        elif color == "rf":
            lines.append(f"RF {row.rf.text()}")
        tip = [f"{row.name}: {_op_text(row)}", f"output {vol_text(row.output)}",
               f"parameters {row.params:,}", f"MACs {row.macs:,}",
               f"activations {row.activations:,} elements", f"receptive field {row.rf.text()}"]
        fill = scale.color(v) if scale else {"input": INPUT_FILL, "block": BLOCK_FILL}.get(
            kind, LAYER_FILL)
        nodes.append(Node(row.name, tuple(_clean(x) for x in lines),
                          _clean("\n".join(tip), keep_newlines=True), fill, text_color(fill),
                          row.train_only, kind))
        for src in dict.fromkeys(row.inputs):
            edges.append(Edge(src, row.name, row.train_only))
    t = report.totals
    title = [f"{report.name}: input {vol_text(report.input)}, {t.params:,} parameters, "
             f"{human_count(t.macs)} MACs per image",
             f"{len(nodes)} boxes, {len(edges)} edges" +
             ("" if depth is None else f"; blocks nested deeper than {depth} folded "
              f"(--depth {depth})")]
    return Diagram(report.name, tuple(_clean(x) for x in title), nodes, edges, scale,
                   any(row.train_only for row in rows),
                   color == "rf" and any(row.rf.is_global for row in rows))


def _clean(text: str, keep_newlines: bool = False) -> str:
    """``text`` without control characters (which XML, DOT and Mermaid cannot carry)."""
    return "".join(c if c.isprintable() or (keep_newlines and c == "\n") else " "
                   for c in str(text))


def fit_depth(report: Report, limit: int = MAX_NODES) -> Optional[int]:
    """The block folding a drawing of ``report`` needs: None (every layer) where the layers fit
    in ``limit`` boxes, else the deepest folding that fits (0, every top-level block folded, where
    none does)."""
    if len(report.layers) <= limit:
        return None
    deepest = max(len(row.scope) for row in report.layers)
    for d in range(deepest - 1, -1, -1):
        if len(report.rows(d)) <= limit:
            return d
    return 0


# ---------------------------------------------------------------------------------------------
# Graphviz DOT

def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace('"', "&quot;")


def legend_ticks(scale: Scale, n: int = 5) -> list[float]:
    """Values to label on the scale: the ends and, on a log scale, the powers of ten between
    them (at most ``n`` in all, evenly picked); on a linear one, ``n`` even steps."""
    if scale.hi <= scale.lo:
        return [scale.hi] if scale.hi else []
    if not scale.log:
        return [scale.lo + (scale.hi - scale.lo) * i / (n - 1) for i in range(n)]
    if scale.key == "memory":        # round in binary units: 1 KiB, 10 KiB, 100 KiB, 1 MiB …
        decades = sorted(1024.0 ** k * 10 ** j for k in range(6) for j in range(3))
    else:
        decades = [10.0 ** k for k in range(math.ceil(math.log10(scale.lo)),
                                            math.floor(math.log10(scale.hi)) + 1)]
    inner = [v for v in decades if scale.lo < v < scale.hi]
    inner = [v for v in inner if 0.06 < scale.position(v) < 0.94]
    while len(inner) > n - 2:
        inner = inner[::2]
    return [scale.lo] + inner + [scale.hi]


def _legend_lines(d: Diagram) -> list[str]:
    out = []
    if d.scale:
        kind = "logarithmic" if d.scale.log else "linear"
        out.append(f"colour: {d.scale.title}, {kind} scale, from {d.scale.text(d.scale.lo)} "
                   f"(lightest) to {d.scale.text(d.scale.hi)} (darkest); white: 0")
        if d.global_rf:
            out.append("a global receptive field (fully connected, global pooling) is darkest")
    if d.train_only:
        out.append("dashed: runs only in training")
    return out


def legend_id(d: Diagram) -> str:
    """The DOT id of the legend node: ``legend``, or ``legend_``, … where a layer has that
    name."""
    names = {n.name for n in d.nodes}
    key = "legend"
    while key in names:
        key += "_"
    return key


def to_dot(net, report: Optional[Report] = None, depth: Optional[int] = None,
           color: Optional[str] = None) -> str:
    """The graph in Graphviz's DOT language (``dot -Tsvg``). Node ids are the layer names;
    a legend node (``legend_id``) is added where there is a heat map or a training-only
    layer."""
    return _dot(diagram(net, report, depth, color))


def _dot(d: Diagram) -> str:
    font = "Helvetica,Arial,sans-serif"
    out = [f"digraph {_dot_str(d.name)} {{",
           f"  graph [rankdir=TB, labelloc=t, fontname={_dot_str(font)}, fontsize=12, "
           f"nodesep=0.25, ranksep=0.35, label={_dot_str(chr(10).join(d.title))}];",
           f"  node [shape=box, style=\"rounded,filled\", fontname={_dot_str(font)}, "
           f"fontsize=10, color=\"{STROKE}\", fillcolor=\"{LAYER_FILL}\", margin=\"0.12,0.05\"];",
           f"  edge [color=\"{STROKE}\", arrowsize=0.6];"]
    for n in d.nodes:
        style = "rounded,filled" + (",dashed" if n.dashed else "")
        attrs = [f"label={_dot_str(chr(10).join(n.lines))}", f"tooltip={_dot_str(n.tooltip)}",
                 f"fillcolor=\"{n.fill}\"", f"fontcolor=\"{n.ink}\"", f"style=\"{style}\""]
        if n.kind == "block":
            attrs += [f"color=\"{BLOCK_STROKE}\"", "penwidth=2"]
        out.append(f"  {_dot_str(n.name)} [{', '.join(attrs)}];")
    for e in d.edges:
        out.append(f"  {_dot_str(e.src)} -> {_dot_str(e.dst)}" +
                   (" [style=dashed];" if e.dashed else ";"))
    legend = _legend_lines(d)
    if legend:
        cells = ""
        if d.scale:
            ticks = legend_ticks(d.scale)
            cells = "<TR>" + "".join(
                f'<TD BGCOLOR="{d.scale.color(v)}"><FONT COLOR="{text_color(d.scale.color(v))}">'
                f"{_html(d.scale.tick(v))}</FONT></TD>" for v in ticks) + "</TR>"
        span = max(1, len(legend_ticks(d.scale)) if d.scale else 1)
        text = "".join(f'<TR><TD COLSPAN="{span}" BORDER="0">{_html(x)}</TD></TR>'
                       for x in legend)
        key = legend_id(d)
        out.append(f'  {_dot_str(key)} [shape=plaintext, style="", label=<<TABLE BORDER="0" '
                   f'CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">{text}{cells}</TABLE>>];')
        out.append(f"  {{ rank=min; {_dot_str(key)}; }}")
    out.append("}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Mermaid

MERMAID_RESERVED = {"end", "graph", "flowchart", "subgraph", "style", "class", "classdef",
                    "click", "linkstyle", "direction", "default", "call", "href"}


def mermaid_text(text: str) -> str:
    """``text`` for a quoted Mermaid label: characters that end the string, open markup or
    an entity (quote, #, <, >, &, |, backtick, semicolon) as Mermaid's entity codes."""
    out = []
    for c in text:
        if c in '"#<>&|`;':
            out.append({'"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;"}.get(
                c, f"#{ord(c)};"))
        else:
            out.append(c)
    return "".join(out)


def to_mermaid(net, report: Optional[Report] = None, depth: Optional[int] = None,
               color: Optional[str] = None) -> str:
    """A Mermaid flowchart (``flowchart TD``): node ids ``n0``, ``n1`` … in row order (layer
    names are labels, escaped), ``-->`` edges, ``-.->`` into training-only layers, the heat map
    as ``style`` lines and its scale as a ``legend`` subgraph."""
    return _mermaid(diagram(net, report, depth, color))


def _mermaid(d: Diagram) -> str:
    ids = {n.name: f"n{i}" for i, n in enumerate(d.nodes)}
    title = d.title[0].replace("\\", "\\\\").replace('"', '\\"')
    out = ["---", f'title: "{title}"', "---", "flowchart TD"]
    for n in d.nodes:
        label = "<br/>".join(mermaid_text(x) for x in n.lines)
        shape = ('("', '")') if n.kind == "input" else ('["', '"]')
        out.append(f"  {ids[n.name]}{shape[0]}{label}{shape[1]}")
    for e in d.edges:
        out.append(f"  {ids[e.src]} {'-.->' if e.dashed else '-->'} {ids[e.dst]}")
    for n in d.nodes:
        extra = ",stroke-dasharray:5 5" if n.dashed else ""
        width = ",stroke-width:2px" if n.kind == "block" else ""
        stroke = BLOCK_STROKE if n.kind == "block" else STROKE
        out.append(f"  style {ids[n.name]} fill:{n.fill},color:{n.ink},stroke:{stroke}"
                   f"{width}{extra}")
    legend = _legend_lines(d)
    if legend:
        caption = (f"colour: {d.scale.title} ({'logarithmic' if d.scale.log else 'linear'} "
                   "scale; white: 0)") if d.scale else "legend"
        out.append(f'  subgraph legend["{mermaid_text(caption)}"]')
        out.append("    direction TB")      # unlinked nodes of one rank: side by side
        k = 0
        if d.scale:
            for v in legend_ticks(d.scale):
                out.append(f'    legend{k}["{mermaid_text(d.scale.tick(v))}"]')
                out.append(f"    style legend{k} fill:{d.scale.color(v)},"
                           f"color:{text_color(d.scale.color(v))}")
                k += 1
        for line in legend[1:] if d.scale else legend:
            out.append(f'    legend{k}["{mermaid_text(line)}"]')
            if "dashed" in line:
                out.append(f"    style legend{k} stroke-dasharray:5 5")
            k += 1
        out.append("  end")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# archcalc's own layered layout and SVG

FONT = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, Courier New, monospace"
FONT_SIZE = 12
CHAR_W = 0.62 * FONT_SIZE    # a monospaced font's advance is 0.60 em (DejaVu, Menlo, Courier)
LINE_H = 15
PAD_X, PAD_Y = 8, 6
GAP_X = 24                   # between two boxes of a layer
DUMMY_W, DUMMY_GAP = 6, 12   # a long edge's slot in a layer it passes through
GAP_Y = 44                   # between layers: only edges run there
MARGIN = 16
TITLE_SIZE = 14


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """The width of ``text`` in a monospaced font of ``size`` px: wide East Asian characters
    count twice, combining marks not at all."""
    cells = sum(0 if unicodedata.combining(c) else
                2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return cells * 0.62 * size


class Box(NamedTuple):
    x: float          # left
    y: float          # top
    w: float
    h: float


def _box_size(lines: Sequence[str]) -> tuple[float, float]:
    return (max(text_width(x) for x in lines) + 2 * PAD_X, len(lines) * LINE_H + 2 * PAD_Y)


def _place(desired: list[float], seps: list[float],
           weights: Optional[list[float]] = None) -> list[float]:
    """Positions as close as possible (weighted least squares) to ``desired`` that keep the
    order and at least ``seps[i]`` between item i and i + 1: isotonic regression (pool adjacent
    violators) on the desired positions less the minimal offsets."""
    offsets = [0.0]
    for s in seps:
        offsets.append(offsets[-1] + s)
    weights = weights or [1.0] * len(desired)
    blocks: list[list[float]] = []          # [weighted sum, weight, count]
    for d, o, w in zip(desired, offsets, weights):
        blocks.append([(d - o) * w, w, 1])
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] > blocks[-1][0] * blocks[-2][1]:
            s, w, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += w
            blocks[-1][2] += c
    out = []
    for s, w, c in blocks:
        out += [s / w] * c
    return [y + o for y, o in zip(out, offsets)]


def _toward(xs: list[float], here: float) -> float:
    """Where an item wants to be: the mean x of its neighbours (boxes only, where it has any:
    a skip's slot would otherwise pull each merge, and the drawing would drift sideways)."""
    return sum(xs) / len(xs) if xs else here


def _crossings(pairs: list[tuple[int, int]]) -> int:
    pairs.sort()
    n = 0
    for i in range(len(pairs)):
        a1, b1 = pairs[i]
        for a2, b2 in pairs[i + 1:]:
            if a2 > a1 and b2 < b1:
                n += 1
    return n


class Layout(NamedTuple):
    boxes: dict[str, Box]                       # node name → its box
    paths: list[list[tuple]]                    # per edge: ("M", x, y), ("L", x, y), ("C", …)
    width: float
    height: float


def layout(d: Diagram, top: float = 0.0) -> Layout:
    """Layered layout: each node in its topological generation (networkx), long edges broken
    into one slot per layer they cross, the order within layers by barycentre sweeps (the order
    with the fewest crossings kept), x positions by least squares towards the neighbours'
    (order and spacing kept), and every edge drawn in its own slot through a layer and as a
    curve in the gap between layers, so that no edge runs through a box."""
    import networkx as nx
    g = nx.DiGraph()
    index = {n.name: i for i, n in enumerate(d.nodes)}
    g.add_nodes_from(index)
    g.add_edges_from((e.src, e.dst) for e in d.edges)
    gens = [sorted(gen, key=index.__getitem__) for gen in nx.topological_generations(g)]
    level = {name: i for i, gen in enumerate(gens) for name in gen}
    size = {n.name: _box_size(n.lines) for n in d.nodes}
    # items: node names, or ("dummy", edge index, level) for an edge passing through a layer
    layers: list[list] = [list(gen) for gen in gens]
    chains = []
    for k, e in enumerate(d.edges):
        chain = [e.src]
        for lv in range(level[e.src] + 1, level[e.dst]):
            dummy = ("dummy", k, lv)
            layers[lv].append(dummy)
            chain.append(dummy)
        chain.append(e.dst)
        chains.append(chain)
    up: dict = {it: [] for layer in layers for it in layer}
    down: dict = {it: [] for layer in layers for it in layer}
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            down[a].append(b)
            up[b].append(a)

    def order_key(it):
        return index[it] if not isinstance(it, tuple) else index[d.edges[it[1]].dst] - 0.5

    for layer in layers:
        layer.sort(key=order_key)
    pos = {it: i for layer in layers for i, it in enumerate(layer)}

    def crossings() -> int:
        return sum(_crossings([(pos[a], pos[b]) for a in layer for b in down[a]])
                   for layer in layers[:-1])

    best, best_order = crossings(), [list(layer) for layer in layers]
    for sweep in range(8):
        downward = sweep % 2 == 0
        seq = range(1, len(layers)) if downward else range(len(layers) - 2, -1, -1)
        for i in seq:
            nbr = up if downward else down
            layer = layers[i]
            keys = {it: (sum(pos[x] for x in nbr[it]) / len(nbr[it]) if nbr[it] else pos[it])
                    for it in layer}
            layer.sort(key=lambda it: (keys[it], pos[it]))
            for j, it in enumerate(layer):
                pos[it] = j
        c = crossings()
        if c < best:
            best, best_order = c, [list(layer) for layer in layers]
        if best == 0:
            break
    layers = best_order
    pos = {it: i for layer in layers for i, it in enumerate(layer)}

    def width(it) -> float:
        return DUMMY_W if isinstance(it, tuple) else size[it][0]

    def seps(layer) -> list[float]:
        return [(width(a) + width(b)) / 2 +
                (DUMMY_GAP if isinstance(a, tuple) or isinstance(b, tuple) else GAP_X)
                for a, b in zip(layer, layer[1:])]

    # the spine: a longest path, one box in every layer, drawn as a straight vertical line;
    # everything else is placed around it (without it, each merge placed between its inputs
    # would shift the rest of the drawing sideways, block after block)
    spine = set(nx.dag_longest_path(g))
    x: dict = {}
    for layer in layers:
        for it, v in zip(layer, _place([0.0] * len(layer), seps(layer))):
            x[it] = v
    for rnd in range(11):              # the last sweep downward: chains hang straight
        downward = rnd % 2 == 0
        seq = range(1, len(layers)) if downward else range(len(layers) - 2, -1, -1)
        for i in seq:
            nbr = up if downward else down
            layer = layers[i]
            want = [0.0 if it in spine else
                    _toward([x[n] for n in nbr[it] if not isinstance(n, tuple)] or
                            [x[n] for n in nbr[it]], x[it]) for it in layer]
            # the spine stays put; a long edge's slot gives way to boxes
            weights = [1000.0 if it in spine else 0.01 if isinstance(it, tuple) else 1.0
                       for it in layer]
            for it, v in zip(layer, _place(want, seps(layer), weights)):
                x[it] = v
    left = min(x[it] - width(it) / 2 for layer in layers for it in layer)
    for it in x:
        x[it] += MARGIN - left
    right = max(x[it] + width(it) / 2 for layer in layers for it in layer) + MARGIN

    band_top, band_h = [], []
    y = top
    for layer in layers:
        h = max(size[it][1] for it in layer if not isinstance(it, tuple))
        band_top.append(y)
        band_h.append(h)
        y += h + GAP_Y
    height = y - GAP_Y + MARGIN
    boxes = {}
    for i, layer in enumerate(layers):
        for it in layer:
            if not isinstance(it, tuple):
                w, h = size[it]
                boxes[it] = Box(x[it] - w / 2, band_top[i] + (band_h[i] - h) / 2, w, h)

    # ports: a node's edges leave (and enter) spread along its bottom (top) side, in the order
    # of the next (previous) point's x, so that edges do not cross at a box
    def ports(name, others) -> dict:
        w = boxes[name].w
        n = len(others)
        step = min(14.0, (w - 2 * PAD_X) / max(n - 1, 1))
        ranked = sorted(range(n), key=lambda k: x[others[k]])
        return {k: x[name] + (r - (n - 1) / 2) * step for r, k in enumerate(ranked)}

    out_port, in_port = {}, {}
    by_src: dict = {}
    by_dst: dict = {}
    for k, c in enumerate(chains):
        by_src.setdefault(c[0], []).append(k)
        by_dst.setdefault(c[-1], []).append(k)
    for name, ks in by_src.items():
        px = ports(name, [chains[k][1] for k in ks])
        for j, k in enumerate(ks):
            out_port[k] = px[j]
    for name, ks in by_dst.items():
        px = ports(name, [chains[k][-2] for k in ks])
        for j, k in enumerate(ks):
            in_port[k] = px[j]

    paths = []
    for k, chain in enumerate(chains):
        src, dst = chain[0], chain[-1]
        b = boxes[src]
        cx, cy = out_port[k], b.y + b.h
        path = [("M", cx, cy)]
        lv = level[src]
        bottom = band_top[lv] + band_h[lv]
        if bottom > cy:
            path.append(("L", cx, bottom))
        cy = bottom
        for it in chain[1:]:
            lv += 1
            top_y = band_top[lv]
            nx_ = in_port[k] if it == dst else x[it]
            end_y = boxes[dst].y if it == dst else top_y
            mid = (cy + top_y) / 2
            path.append(("C", cx, mid, nx_, mid, nx_, top_y))
            if end_y > top_y:
                path.append(("L", nx_, end_y))
            if it != dst:
                bottom = top_y + band_h[lv]
                path.append(("L", nx_, bottom))
                cy = bottom
            cx = nx_
        paths.append(path)
    return Layout(boxes, paths, right, height)


def _shifted(lay: Layout, dx: float) -> Layout:
    """``lay`` moved right by ``dx``."""
    boxes = {k: b._replace(x=b.x + dx) for k, b in lay.boxes.items()}
    paths = [[(p[0], *(v + dx if i % 2 == 0 else v for i, v in enumerate(p[1:])))
              for p in path] for path in lay.paths]
    return Layout(boxes, paths, lay.width + dx, lay.height)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    return '"' + _esc(text).replace('"', "&quot;").replace("\n", "&#10;") + '"'


def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _path_d(path: list[tuple]) -> str:
    return " ".join(p[0] + " " + " ".join(_n(v) for v in p[1:]) for p in path)


def to_svg(net, report: Optional[Report] = None, depth: Optional[int] = None,
           color: Optional[str] = None, layout: str = "layered") -> str:
    """The graph as a standalone SVG document: archcalc's layered layout (``layout="layered"``,
    the same everywhere, nothing to install) or Graphviz's (``layout="dot"``: needs Graphviz's
    ``dot`` program)."""
    d = diagram(net, report, depth, color)
    if layout == "dot":
        return graphviz(_dot(d), "svg").decode("utf-8")
    if layout != "layered":
        raise error(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}", OPTIONS,
                    exit_code=2)
    return _svg(d)


def _svg(d: Diagram) -> str:
    texts: list[str] = []           # title and legend, above the graph
    y = MARGIN
    head_w = 0.0
    for i, line in enumerate(d.title):
        size = TITLE_SIZE if i == 0 else FONT_SIZE
        y += size + 4
        weight = ' font-weight="bold"' if i == 0 else ""
        texts.append(f'<text class="title" x="{MARGIN}" y="{_n(y)}" font-size="{size}"'
                     f'{weight}>{_esc(line)}</text>')
        head_w = max(head_w, text_width(line, size))
        y += 2
    legend = _legend_lines(d)
    if d.scale:
        y += 10
        bar_w, bar_h, steps = 360.0, 14.0, 60
        texts.append(f'<g class="legend"><text x="{MARGIN}" y="{_n(y + FONT_SIZE)}">'
                     f'{_esc(legend[0])}</text>')
        head_w = max(head_w, text_width(legend[0]))
        y += FONT_SIZE + 8
        texts.append(f'<rect x="{MARGIN - 1}" y="{_n(y - 1)}" width="{_n(bar_w + 2)}" '
                     f'height="{_n(bar_h + 2)}" fill="none" stroke="{STROKE}"/>')
        for i in range(steps):
            texts.append(f'<rect x="{_n(MARGIN + bar_w * i / steps)}" y="{_n(y)}" '
                         f'width="{_n(bar_w / steps + 0.3)}" height="{_n(bar_h)}" '
                         f'fill="{ramp((i + 0.5) / steps)}"/>')
        y += bar_h
        last_right = -1e9
        ticks = legend_ticks(d.scale)
        placed = []
        for j, v in enumerate(ticks):         # labels that would touch the previous are dropped
            tx = MARGIN + bar_w * (d.scale.position(v) or 0.0)
            label = d.scale.tick(v)
            w = text_width(label)
            lx = min(max(tx - w / 2, MARGIN), MARGIN + bar_w - w)
            if lx < last_right + 8:
                if j != len(ticks) - 1 or not placed:
                    continue
                placed.pop()                 # the end label wins over an inner one
            placed.append((tx, lx, label))
            last_right = lx + w
        for tx, lx, label in placed:
            texts.append(f'<line x1="{_n(tx)}" y1="{_n(y)}" x2="{_n(tx)}" y2="{_n(y + 4)}" '
                         f'stroke="{STROKE}"/>')
            texts.append(f'<text x="{_n(lx)}" y="{_n(y + 4 + FONT_SIZE)}">{_esc(label)}'
                         "</text>")
        y += 4 + FONT_SIZE + 4
        head_w = max(head_w, bar_w)
        legend = legend[1:]
        texts.append("</g>")
    if legend:
        texts.append('<g class="legend">')
        for line in legend:
            y += 6
            if line.startswith("dashed"):
                texts.append(f'<rect x="{MARGIN}" y="{_n(y)}" width="28" height="{FONT_SIZE}" '
                             f'fill="{LAYER_FILL}" stroke="{STROKE}" stroke-dasharray="4 3"/>')
                texts.append(f'<text x="{MARGIN + 36}" y="{_n(y + FONT_SIZE - 2)}">'
                             f"{_esc(line)}</text>")
                head_w = max(head_w, 36 + text_width(line))
            else:
                texts.append(f'<text x="{MARGIN}" y="{_n(y + FONT_SIZE - 2)}">{_esc(line)}'
                             "</text>")
                head_w = max(head_w, text_width(line))
            y += FONT_SIZE
        texts.append("</g>")
    lay = layout(d, top=y + 24)
    width = max(lay.width, head_w + 2 * MARGIN)
    if width > lay.width:                   # a graph narrower than its heading: centred
        lay = _shifted(lay, (width - lay.width) / 2)
    height = lay.height
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}" '
           f'viewBox="0 0 {_n(width)} {_n(height)}" font-family="{FONT}" '
           f'font-size="{FONT_SIZE}" class="archcalc-graph">',
           f"<title>{_esc(d.name)}</title>",
           "<defs>"
           f'<marker id="archcalc-arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="8" '
           f'markerHeight="8" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="{STROKE}"/>'
           "</marker></defs>",
           f'<rect width="{_n(width)}" height="{_n(height)}" fill="#ffffff"/>']
    out += texts
    out.append(f'<g class="edges" fill="none" stroke="{STROKE}" stroke-width="1.2">')
    for e, path in zip(d.edges, lay.paths):
        dash = ' stroke-dasharray="5 4"' if e.dashed else ""
        out.append(f'<path class="edge" data-from={_attr(e.src)} data-to={_attr(e.dst)} '
                   f'd="{_path_d(path)}" marker-end="url(#archcalc-arrow)"{dash}/>')
    out.append("</g>")
    out.append('<g class="nodes">')
    for i, n in enumerate(d.nodes):
        b = lay.boxes[n.name]
        stroke = BLOCK_STROKE if n.kind == "block" else STROKE
        sw = 2 if n.kind == "block" else 1
        dash = ' stroke-dasharray="5 4"' if n.dashed else ""
        rx = 8 if n.kind == "input" else 3
        out.append(f'<g class="node" id="node{i}" data-name={_attr(n.name)}>'
                   f"<title>{_esc(n.tooltip)}</title>"
                   f'<rect x="{_n(b.x)}" y="{_n(b.y)}" width="{_n(b.w)}" height="{_n(b.h)}" '
                   f'rx="{rx}" fill="{n.fill}" stroke="{stroke}" stroke-width="{sw}"{dash}/>')
        cx = b.x + b.w / 2
        for j, line in enumerate(n.lines):
            weight = ' font-weight="bold"' if j == 0 else ""
            ty = b.y + PAD_Y + (j + 1) * LINE_H - 4
            out.append(f'<text x="{_n(cx)}" y="{_n(ty)}" text-anchor="middle" '
                       f'fill="{n.ink}"{weight}>{_esc(line)}</text>')
        out.append("</g>")
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Graphviz and PNG

def graphviz(dot_text: str, fmt: str) -> bytes:
    """``dot -T<fmt>`` of ``dot_text``; a clear error (exit 2) where Graphviz is not
    installed."""
    exe = shutil.which("dot")
    if exe is None:
        raise error("Graphviz's dot program is not installed", OPTIONS,
                    hint="install Graphviz (apt-get install graphviz, brew install graphviz), "
                         "or draw with archcalc's own layout (--layout layered)", exit_code=2)
    try:
        p = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode("utf-8"),
                           capture_output=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise error(f"Graphviz's dot failed: {exc}", OPTIONS, exit_code=2) from None
    if p.returncode != 0:
        msg = p.stderr.decode("utf-8", "replace").strip().splitlines()
        raise error(f"Graphviz's dot failed: {msg[0] if msg else p.returncode}", OPTIONS,
                    exit_code=2)
    return p.stdout


PNG_MAX_SIDE = 32_767      # cairo's largest image surface, pixels a side


def svg_to_png(svg: str) -> Optional[bytes]:
    """``svg`` rasterised by cairosvg, or None where cairosvg (or the cairo library it needs)
    is not installed. A drawing larger than cairo's 32,767 pixels a side is an error (exit 2)."""
    try:
        import cairosvg
    except (ImportError, OSError):
        return None
    import re
    head = re.search(r'<svg[^>]*\bwidth="([\d.]+)"[^>]*\bheight="([\d.]+)"', svg)
    if head:
        w, h = (float(v) for v in head.groups())
        if max(w, h) > PNG_MAX_SIDE:
            raise error(f"the PNG would be {w:,.0f}×{h:,.0f} pixels, more than the "
                        f"{PNG_MAX_SIDE:,} a side that cairo draws", OPTIONS,
                        hint="write SVG (-o FILE.svg), which has no such limit, or fold blocks "
                             "(--depth 0)", exit_code=2)
    return cairosvg.svg2png(bytestring=svg.encode("utf-8"))


def to_png(net, report: Optional[Report] = None, depth: Optional[int] = None,
           color: Optional[str] = None, layout: str = "layered") -> bytes:
    """The graph as PNG: the layered SVG rasterised by cairosvg where it is installed (else
    Graphviz's own PNG), or Graphviz's PNG with ``layout="dot"``; a clear error (exit 2) where
    neither is installed."""
    d = diagram(net, report, depth, color)
    if layout != "dot":
        png = svg_to_png(_svg(d))
        if png is not None:
            return png
    if layout == "dot" or shutil.which("dot"):
        return graphviz(_dot(d), "png")
    raise error("PNG needs cairosvg or Graphviz, and neither is installed", OPTIONS,
                hint="pip install 'archcalc[draw]' (cairosvg), or install Graphviz (apt-get "
                     "install graphviz); or write SVG (-o FILE.svg), which needs neither",
                exit_code=2)


# ---------------------------------------------------------------------------------------------
# the command

def output_format(output: str, fmt: Optional[str]) -> str:
    """The format to write: --format's (any case), else the output file's suffix."""
    if fmt is not None:
        return choice(fmt, FORMATS, "--format")
    if output == "-":
        raise error("-o - (standard output) needs --format", OPTIONS,
                    hint="e.g. -o - --format mermaid (svg, dot and mermaid are text)",
                    exit_code=2)
    suffix = os.path.splitext(output)[1].lower()
    if suffix not in SUFFIXES:
        raise error(f"cannot tell the format of {output} from its suffix "
                    f"{suffix or '(none)'}", OPTIONS,
                    hint="give --format svg, png, dot or mermaid, or name the file .svg, .png, "
                         ".dot/.gv, .mmd or .md (Mermaid in a Markdown fence)", exit_code=2)
    return SUFFIXES[suffix]


def check_output(output: str) -> None:
    """An output path that cannot be written is one clear error (exit 2) before any work."""
    if output == "-":
        return
    real = os.path.realpath(output)
    folder = os.path.dirname(real)
    if os.path.isdir(real):
        raise error(f"--output {output} is a directory", OPTIONS,
                    hint=f"name a file in it, e.g. -o {os.path.join(output, 'net.svg')}",
                    exit_code=2)
    if not os.path.isdir(folder):
        raise error(f"--output {output}: the folder {os.path.dirname(output) or folder} does "
                    "not exist", OPTIONS,
                    hint=f"create it first (mkdir -p {os.path.dirname(output) or folder}) or "
                         "write elsewhere", exit_code=2)
    if os.path.exists(real) and not os.path.isfile(real):
        raise error(f"--output {output} is not a regular file", OPTIONS,
                    hint="write the drawing to a file path", exit_code=2)


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it, moved into place only
    when complete: an error or an interrupt leaves no half-written file and keeps the old one."""
    real = os.path.realpath(path)
    fd, tmp = None, None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(real)}.",
                                   dir=os.path.dirname(real))
        with os.fdopen(fd, "wb") as fh:
            fd = None
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, real)
        tmp = None
    except OSError as exc:
        raise error(f"cannot write {path}: {exc.strerror or exc}", SourcePos(path),
                    exit_code=2) from None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _load(spec_arg, input, filters, double_after_pool, rounding, column, options):
    """The network and its report; a spec with errors raises what ``archcalc validate`` prints
    (the errors, and what analysis finds in the layers that did build)."""
    from .. import analysis
    try:
        net = load_one(spec_arg, input, filters, double_after_pool, rounding, column)
        return net, analysis.analyze(net, **options)
    except ArchcalcError as exc:
        if exc.exit_code != 1 or exc.partial is None:
            raise
        found = {(d.pos, d.message) for d in exc.diagnostics}
        diags = sorted(exc.diagnostics + [d for d in analysis.diagnose(exc.partial)
                                          if (d.pos, d.message) not in found],
                       key=lambda d: (d.pos.line, d.pos.col, d.severity != "error"))
        raise ArchcalcError(diags) from None


def _note(text: str) -> None:
    sys.stderr.write(f"archcalc: {text}\n")


@guarded
def draw_cmd(
    spec_arg: str = SPEC,
    output: str = typer.Option(..., "--output", "-o", metavar="FILE", show_default=False,
                               help="the file to write (- for standard output: svg, dot and "
                                    "mermaid)"),
    format_: Optional[str] = typer.Option(None, "--format", "-F", metavar="FORMAT",
                                         help="svg, png, dot or mermaid (default: from FILE's "
                                              "suffix: .svg .png .dot/.gv .mmd/.md)"),
    depth: Optional[str] = typer.Option(None, "--depth", "-d", metavar="N",
                                        help="fold block instances nested deeper than this "
                                             "(default: every layer, folded automatically "
                                             f"past {MAX_NODES} boxes)"),
    color: Optional[str] = typer.Option(None, "--color", "--colour", metavar="KEY",
                                        help="shade boxes as a heat map of params, macs, "
                                             "memory or rf"),
    style: str = typer.Option("graph", "--style", metavar="STYLE",
                              help="graph (boxes and arrows) or volumes (the classic volume "
                                   "drawing)"),
    layout_: str = typer.Option("layered", "--layout", metavar="NAME",
                                help="layered (archcalc's own) or dot (Graphviz's, where "
                                     "installed)"),
    input: Optional[str] = INPUT,
    filters: Optional[str] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    column: Optional[str] = COLUMN,
    dtype: str = DTYPE,
    batch: str = BATCH,
):
    """Draw a network: its layer graph with every layer's figures (SVG, PNG, Graphviz DOT or
    Mermaid), optionally shaded as a heat map."""
    check_output(output)
    fmt = output_format(output, format_)     # (not "format": draw has no JSON document)
    key = choice(color, COLOR_KEYS, "--color")
    style = choice(style, STYLES, "--style")
    lay = choice(layout_, LAYOUTS, "--layout")
    depth = whole(depth, "--depth", 0)
    options = analysis_options(dtype, batch)
    if output == "-" and fmt == "png":
        raise error("PNG is binary: it is written to a file, not to standard output", OPTIONS,
                    hint="give a file path, e.g. -o net.png", exit_code=2)
    if style == "volumes":
        if fmt not in ("svg", "png"):
            raise error(f"the volume drawing is SVG or PNG, not {fmt}", OPTIONS,
                        hint="write .svg or .png, or draw the graph (--style graph)",
                        exit_code=2)
        if key is not None:
            raise error("--color shades the graph drawing (--style graph)", OPTIONS,
                        hint="drop --color, or drop --style volumes", exit_code=2)
    net, report = _load(spec_arg, input, filters, double_after_pool, rounding, column, options)
    for d in report.diagnostics:             # warnings: the drawing is the output
        sys.stderr.write(diag_line(d) + "\n")
    if depth is None:
        depth = fit_depth(report)
        if depth is not None:
            _note(f"{report.name} has {len(report.layers):,} layers, too many to draw legibly "
                  f"(more than {MAX_NODES} boxes): drawn with blocks folded, --depth {depth} "
                  f"({len(report.rows(depth)):,} boxes); give --depth to choose")
    boxes = len(report.rows(depth))
    if boxes > HARD_LIMIT:
        raise error(f"{report.name} would need {boxes:,} boxes"
                    f"{'' if depth is None else f' at --depth {depth}'}: too many to draw "
                    f"(the limit is {HARD_LIMIT:,})", OPTIONS,
                    hint="archcalc summary lists every layer; a spec written with blocks "
                         "folds into one box per block", exit_code=2)
    if boxes > MAX_NODES:
        _note(f"{boxes:,} boxes: the drawing is large")
    if style == "volumes":
        try:
            from . import volumes
        except ImportError:
            raise error("the volume drawing (--style volumes) is not available yet in this "
                        "version", OPTIONS, hint="draw the graph (--style graph)",
                        exit_code=2) from None
        svg = volumes.to_svg(net, report, depth)
        data = svg.encode("utf-8")
        if fmt == "png":
            data = svg_to_png(svg)
            if data is None:
                raise error("PNG of the volume drawing needs cairosvg", OPTIONS,
                            hint="pip install 'archcalc[draw]', or write SVG (-o FILE.svg)",
                            exit_code=2)
    elif fmt == "png":
        data = to_png(net, report, depth, key, lay)
    else:
        d = diagram(net, report, depth, key)
        if fmt == "svg":
            text = graphviz(_dot(d), "svg").decode("utf-8") if lay == "dot" else _svg(d)
        elif fmt == "dot":
            text = _dot(d)
        else:
            text = _mermaid(d)
            if len(text) > MERMAID_MAX_TEXT:
                _note(f"the Mermaid text has {len(text):,} characters, more than the "
                      f"{MERMAID_MAX_TEXT:,} that Mermaid (and GitHub) render by default: "
                      "fold blocks with --depth 0")
            if output != "-" and output.lower().endswith(".md"):
                text = f"```mermaid\n{text}```\n"
        data = text.encode("utf-8")
    if output == "-":
        sys.stdout.write(data.decode("utf-8"))
        return
    write_atomic(output, data)
    print(f"wrote {output} ({human_bytes(len(data))}): {report.name} as {fmt}, "
          f"{boxes:,} boxes" + ("" if depth is None else f" (--depth {depth})"))
