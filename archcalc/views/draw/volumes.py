"""The classic volume drawing (the LeNet, AlexNet and VGG paper figures) as a self-contained SVG.

API (see docs/volumes.md):

* ``to_svg(net, report, depth=None) -> str``: the drawing. ``depth`` None draws every layer, or
  folds automatically where the network is too large to draw legibly (``fold_depth_for``); an
  explicit ``depth`` is honoured as given.
* ``draw(net, report, depth=None) -> Drawing``: the same, with the layout kept (``svg``,
  ``depth`` used, ``note`` saying why it folded or None, the volumes, texts and edges).
* ``fold_depth_for(report) -> int | None``: the depth ``to_svg`` folds to when given none (None:
  no folding needed); ``fold_note(report)`` says so in a sentence (None where it does not fold).

What is drawn (every figure comes from the Report's rows, ``report.rows(depth)``):

* each layer that makes a new volume is a box in oblique projection: the front face is height ×
  width, the channels recede up and to the right. Each side is on a log scale (``side``,
  ``depth_side``, ``bar_length``), clamped, so that 224×224×3 and 7×7×512 both stay legible;
* volumes of 1×1×N (fully connected layers, global pools) are bars: a thin box whose length is
  ``bar_length(N)``;
* element-wise and normalisation layers (relu, tanh, dropout, lrn, batchnorm, …) and flatten
  and channel shuffle are not volumes of their own: they are noted under the volume they act on
  ("+ relu, lrn");
* add and mul (residual and squeeze-excitation merges) are a small circle (⊕, ⊗), not a volume;
* windowed layers (conv, pooling) carry their kernel: a small square on the input volume's
  front face, with its pyramid to the output, and "k×k/s" in the label;
* layout: columns are the topological generations of the drawn graph (networkx), so parallel
  branches (Inception modules) stand one above another in the same columns; an edge between
  neighbouring columns is a curve, one that skips columns (a residual connection) an arc above
  (or below) everything it passes;
* folded blocks are one volume, their output, labelled with the block's name; layers that run
  only in training are drawn dashed.

Text is a monospace font of known advance (``CHAR_W`` × size), so the layout knows every text's
box: labels stand under their volume, never on another box or text.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING

from ...ops.words import counted

if TYPE_CHECKING:
    from ...graph import Network
    from ...report import LayerRow, Report

# A drawing has at most this many columns (topological generations, about 190 px each) before
# ``to_svg`` folds blocks by itself: beyond it the figure is wider than 7,000 px and a reviewer
# zooms out until the labels are unreadable. GoogLeNet's 37 columns (Inception modules side by
# side) stay unfolded; ResNet-34's 53 fold to its 21 blocks.
MAX_COLUMNS = 40

FONT = 11                  # label font size, px
CHAR_W = 0.62              # advance of a monospace character, in em (DejaVu Sans Mono: 0.602)
LINE = 1.3                 # line height, in em
COL_GAP = 44               # horizontal gap between columns
ROW_GAP = 22               # vertical gap between the cells of one column
LANE = 9                   # distance between arcs
BAR_W = 10                 # a bar's front width
BAR_D = 8                  # a bar's receding depth (before projection)
OBLIQUE = 0.5              # the receding axis is drawn at 45° at this fraction of its length

# element-wise and normalisation ops, and reshapes that keep the data: noted, not drawn
_NOTED_EXTRA = {"batchnorm", "groupnorm", "layernorm", "instancenorm", "flatten", "shuffle"}
_SHORT = {"batchnorm": "bn", "groupnorm": "gn", "layernorm": "ln", "instancenorm": "in"}
_MERGE = {"add": "+", "mul": "×"}
_WINDOWED = {"conv", "dwconv", "maxpool", "avgpool", "conv_transpose"}
_FILL = {"input": "#d9d9d9", "conv": "#9ecae1", "dwconv": "#c6dbef", "conv_transpose": "#9ecae1",
         "maxpool": "#fcae91", "avgpool": "#fcae91", "adaptive_avgpool": "#fcae91",
         "global_avgpool": "#fcae91", "global_maxpool": "#fcae91", "fc": "#a1d99b",
         "concat": "#fdd0a2", "block": "#cbc9e2"}


def is_noted(op: str) -> bool:
    """Whether a layer of this op is noted on the volume it acts on rather than drawn."""
    from ...ops import OPS, Elementwise
    return op in _NOTED_EXTRA or isinstance(OPS.get(op), Elementwise)


# ---------------------------------------------------------------------------------------------
# the scale

def side(n: int) -> float:
    """Drawn length, px, of a spatial side of n pixels: 8 + 14·log2(n), n clamped to [1, 2048]
    (1 → 8, 7 → 47, 28 → 75, 224 → 117, 2048 → 162)."""
    return 8 + 14 * math.log2(min(max(n, 1), 2048))


def depth_side(c: int) -> float:
    """Drawn length, px, of the channel axis before the oblique projection: 4 + 6·log2(c), c
    clamped to [1, 4096] (3 → 13.5, 64 → 40, 512 → 58, 4096 → 76); drawn at 45° at half length."""
    return 4 + 6 * math.log2(min(max(c, 1), 4096))


def bar_length(n: int) -> float:
    """Drawn length, px, of a 1×1×n vector (a bar): 8 + 10·log2(n), n clamped to [1, 65536]
    (10 → 41, 1000 → 108, 4096 → 128)."""
    return 8 + 10 * math.log2(min(max(n, 1), 65536))


def text_width(s: str, size: float = FONT) -> float:
    return len(s) * CHAR_W * size


# ---------------------------------------------------------------------------------------------
# the layout

@dataclass
class Node:
    name: str
    op: str
    vol: tuple
    train_only: bool
    lines: list[str]                      # the label, top to bottom (dimensions first)
    kind: str = "box"                     # box, bar or merge
    fw: float = 0.0                       # front face width and height, receding offset
    fh: float = 0.0
    o: float = 0.0
    col: int = 0
    x: float = 0.0                        # front face's top-left corner
    y: float = 0.0
    preds: list[str] = field(default_factory=list)
    kernel: tuple | None = None           # (k_h, k_w) for a windowed layer

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """The drawn shape's box (x0, y0, x1, y1)."""
        if self.kind == "merge":
            return (self.x, self.y, self.x + self.fw, self.y + self.fh)
        return (self.x, self.y - self.o, self.x + self.fw + self.o, self.y + self.fh)

    @property
    def mid(self) -> float:
        _, y0, _, y1 = self.bbox
        return (y0 + y1) / 2

    @property
    def label_w(self) -> float:
        return max(text_width(s) for s in self.lines)

    @property
    def cell_w(self) -> float:
        x0, _, x1, _ = self.bbox
        return max(x1 - x0, self.label_w)

    @property
    def cell_h(self) -> float:
        _, y0, _, y1 = self.bbox
        return (y1 - y0) + 5 + len(self.lines) * LINE * FONT


@dataclass
class Drawing:
    """A laid-out drawing: ``svg`` the document, ``depth`` the folding depth used, ``note`` why
    it folded by itself (None where it did not), ``nodes`` by name, ``texts`` as (x0, y0, x1,
    y1, text) boxes, ``edges`` as (source, target, "curve"|"arc")."""
    svg: str
    depth: int | None
    note: str | None
    nodes: dict[str, Node]
    texts: list[tuple[float, float, float, float, str]]
    edges: list[tuple[str, str, str]]


def _dims(row: LayerRow, bar: bool) -> str:
    h, w, c = row.output
    if bar and row.op == "fc":
        return f"{c}"
    return f"{h}×{w}×{c}"


def _nodes(rows: Sequence[LayerRow]) -> tuple[dict[str, Node], list[tuple[str, str]]]:
    """The drawn nodes and edges of ``rows``: noted layers folded into the volume they act on."""
    root: dict[str, str] = {}
    nodes: dict[str, Node] = {}
    notes: dict[str, list[str]] = {}
    edges: list[tuple[str, str]] = []
    for row in rows:
        if row.op != "block" and is_noted(row.op) and len(row.inputs) == 1:
            r = root.get(row.inputs[0], row.inputs[0])
            root[row.name] = r
            word = _SHORT.get(row.op, row.op)
            if word not in notes[r]:
                notes[r].append(word)
            continue
        root[row.name] = row.name
        h, w, c = row.output
        bar = h == 1 and w == 1
        kind = "merge" if row.op in _MERGE else "bar" if bar else "box"
        if row.op in _MERGE:
            lines = [row.name]
        else:
            detail = row.detail
            head = "block" if row.op == "block" else row.op
            lines = [_dims(row, bar), row.name] + ([f"{head} {detail}".strip()]
                                                   if row.op != "input" else [])
        n = Node(row.name, row.op, row.output, row.train_only, lines, kind)
        if kind == "box":
            n.fw, n.fh, n.o = side(w), side(h), depth_side(c) * OBLIQUE
        elif kind == "bar":
            n.fw, n.fh, n.o = BAR_W, bar_length(c), BAR_D * OBLIQUE
        else:
            n.fw = n.fh = 18
        if row.op in _WINDOWED and row.attrs.get("kernel"):
            k = row.attrs["kernel"]
            n.kernel = tuple(k) if isinstance(k, (tuple, list)) else (k, k)
        nodes[row.name] = n
        notes[row.name] = []
        for s in row.inputs:
            src = root.get(s, s)
            if src in nodes and src not in n.preds:
                n.preds.append(src)
                edges.append((src, row.name))
    for name, words in notes.items():
        if words:
            nodes[name].lines.append("+ " + ", ".join(words))
        if nodes[name].train_only:
            nodes[name].lines.append("(training only)")
    return nodes, edges


def node_count(rows: Sequence[LayerRow]) -> int:
    """The nodes (volumes, bars and merge circles) a drawing of ``rows`` has."""
    return len(_nodes(rows)[0])


def column_count(rows: Sequence[LayerRow]) -> int:
    """The columns (topological generations of the drawn graph) a drawing of ``rows`` has."""
    import networkx as nx
    nodes, edges = _nodes(rows)
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    return sum(1 for _ in nx.topological_generations(g))


def fold_depth_for(report: Report) -> int | None:
    """The depth ``to_svg`` folds blocks to when given none: None where the whole network takes
    at most ``MAX_COLUMNS`` columns or has no blocks to fold, else the deepest depth that brings
    it within (0, the coarsest, where none does)."""
    if not report.block_outputs or column_count(report.layers) <= MAX_COLUMNS:
        return None
    deepest = max((len(r.scope) for r in report.layers), default=0)
    for d in range(deepest - 1, -1, -1):
        if column_count(report.rows(d)) <= MAX_COLUMNS:
            return d
    return 0


def fold_note(report: Report) -> str | None:
    """A sentence saying that (and why) ``to_svg`` folds the network, or that it is too wide
    and has no blocks to fold; None where it is drawn as it is, legibly."""
    d = fold_depth_for(report)
    if d is None:
        n = column_count(report.layers) if not report.block_outputs else 0
        return (f"{n:,} columns of volumes are too wide to draw legibly (more than "
                f"{MAX_COLUMNS}), and the spec has no blocks to fold" if n > MAX_COLUMNS
                else None)
    n = column_count(report.layers)
    still = column_count(report.rows(d))
    return (f"{n:,} columns of volumes are too wide to draw legibly (more than {MAX_COLUMNS}): "
            f"blocks folded to depth {d}" + (f" (still {still:,} columns)" if still > MAX_COLUMNS
                                             else ""))


def _layout(nodes: dict[str, Node], edges: list[tuple[str, str]]) -> list[list[str]]:
    import networkx as nx
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    columns = [list(gen) for gen in nx.topological_generations(g)]
    order = {n: i for i, n in enumerate(nodes)}        # spec order, to keep ties stable
    x = 0.0
    pos: dict[str, float] = {}
    for c, col in enumerate(columns):
        # order a column by where its inputs stand (barycentre), ties in spec order
        col.sort(key=lambda n: (sum(pos[p] for p in nodes[n].preds) / len(nodes[n].preds)
                                if nodes[n].preds else 0.0, order[n]))
        width = max(nodes[n].cell_w for n in col)
        total = sum(nodes[n].cell_h for n in col) + ROW_GAP * (len(col) - 1)
        top = -total / 2 if len(col) > 1 else None
        for i, name in enumerate(col):
            n = nodes[name]
            n.col = c
            n.x = x
            h = n.bbox[3] - n.bbox[1]
            if top is None:     # a lone node: its shape centred on the axis y = 0
                n.y = -h / 2 + (n.o if n.kind != "merge" else 0)
            else:
                n.y = top + (n.o if n.kind != "merge" else 0)
                top += n.cell_h + ROW_GAP
            pos[name] = i
        x += width + COL_GAP
    return columns


def _poly(points: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{a:.1f},{b:.1f}" for a, b in points)


def draw(net: Network | None, report: Report, depth: int | None = None,
         auto_fold: bool = True) -> Drawing:
    """Lay out and draw ``report`` (see the module's docstring); ``net`` is not needed (the
    Report's rows carry the graph) and may be None. ``depth`` None with ``auto_fold`` folds a
    network too wide to draw legibly (``fold_depth_for``); ``auto_fold=False`` draws every
    layer whatever the width."""
    note = None
    if depth is None and auto_fold:
        depth = fold_depth_for(report)
        note = fold_note(report)
    rows = report.rows(depth)
    nodes, edges = _nodes(rows)
    columns = _layout(nodes, edges)
    col_of = {n: nodes[n].col for n in nodes}
    col_x = []
    for col in columns:
        col_x.append((nodes[col[0]].x, nodes[col[0]].x + max(nodes[n].cell_w for n in col)))

    shapes: list[str] = []
    texts: list[tuple[float, float, float, float, str]] = []
    lines: list[str] = []
    kernels: list[str] = []

    def text(x: float, y_top: float, s: str, size: float = FONT, cls: str = "t") -> None:
        base = y_top + size * 0.85
        texts.append((x, y_top, x + text_width(s, size), y_top + size * 1.05, s))
        lines.append(f'<text class="{cls}" x="{x:.1f}" y="{base:.1f}" font-size="{size}">'
                     f'{escape(s)}</text>')

    for n in nodes.values():
        dash = ' stroke-dasharray="4 3"' if n.train_only else ""
        cls = "volume" + (" bar" if n.kind == "bar" else "") + (" train" if n.train_only else "")
        if n.kind == "merge":
            r = n.fw / 2
            cx, cy = n.x + r, n.y + r
            shapes.append(f'<g class="merge" data-layer="{escape(n.name)}" data-op="{n.op}">'
                          f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="#fff" '
                          f'stroke="#333"{dash}/>'
                          f'<path d="M{cx - r * .55:.1f},{cy:.1f}H{cx + r * .55:.1f}'
                          + (f'M{cx:.1f},{cy - r * .55:.1f}V{cy + r * .55:.1f}' if n.op == "add"
                             else f'M{cx - r * .4:.1f},{cy - r * .4:.1f}L{cx + r * .4:.1f},'
                                  f'{cy + r * .4:.1f}M{cx - r * .4:.1f},{cy + r * .4:.1f}L'
                                  f'{cx + r * .4:.1f},{cy - r * .4:.1f}')
                          + '" stroke="#333" stroke-width="1.5" fill="none"/></g>')
        else:
            x, y, fw, fh, o = n.x, n.y, n.fw, n.fh, n.o
            fill = _FILL.get(n.op, "#e5e5e5")
            front = [(x, y), (x + fw, y), (x + fw, y + fh), (x, y + fh)]
            top = [(x, y), (x + o, y - o), (x + fw + o, y - o), (x + fw, y)]
            right = [(x + fw, y), (x + fw + o, y - o), (x + fw + o, y + fh - o), (x + fw, y + fh)]
            shapes.append(
                f'<g class="{cls}" data-layer="{escape(n.name)}" data-op="{n.op}" '
                f'stroke="#333" stroke-width="0.8"{dash}>'
                f'<polygon points="{_poly(front)}" fill="{fill}"/>'
                f'<polygon points="{_poly(top)}" fill="{fill}" fill-opacity="0.6"/>'
                f'<polygon points="{_poly(right)}" fill="{fill}" fill-opacity="0.85"/></g>')
        x0, _, _, y1 = n.bbox
        ty = y1 + 5
        lines.append(f'<g class="label" data-layer="{escape(n.name)}">')
        for i, s in enumerate(n.lines):
            text(x0, ty, s, cls="t b" if i == 0 else "t")
            ty += LINE * FONT
        lines.append('</g>')

    # edges: a curve between neighbouring columns, an arc over (or under) what a skip passes
    drawn_edges: list[tuple[str, str, str]] = []
    lanes_up: list[list[tuple[float, float]]] = []
    lanes_down: list[list[tuple[float, float]]] = []

    def lane(lanes: list[list[tuple[float, float]]], a: float, b: float) -> int:
        for i, used in enumerate(lanes):
            if all(b < u0 - 4 or a > u1 + 4 for u0, u1 in used):
                used.append((a, b))
                return i
        lanes.append([(a, b)])
        return len(lanes) - 1

    for s, t in edges:
        a, b = nodes[s], nodes[t]
        dash = ' stroke-dasharray="4 3"' if b.train_only or a.train_only else ""
        if col_of[t] == col_of[s] + 1:
            sx, sy = a.bbox[2], a.mid
            tx, ty = b.x, min(max(b.mid, b.y), b.y + b.fh)
            cx0 = col_x[col_of[s]][1]
            mid = (cx0 + tx) / 2
            lines.append(f'<path class="edge" d="M{sx:.1f},{sy:.1f}H{cx0:.1f}C{mid:.1f},{sy:.1f} '
                         f'{mid:.1f},{ty:.1f} {tx - 1:.1f},{ty:.1f}" fill="none" stroke="#555" '
                         f'marker-end="url(#arrow)"{dash}/>')
            drawn_edges.append((s, t, "curve"))
            # the kernel: a square on the input's front face, its pyramid to the output
            if (b.kernel and a.kind == "box" and b.kind in ("box", "bar") and len(b.preds) == 1
                    and abs(a.mid - b.mid) < 1):
                # to the input's drawn height in proportion (k/H), at least 6 px, at most half;
                # low on the front face, clear of the edge (at the shape's middle)
                ks = min(max(a.fh * b.kernel[0] / max(a.vol[0], 1), 6.0), a.fh * .5)
                kx, ky = a.x + a.fw - ks - 3, min(a.y + a.fh * .72 - ks / 2, a.y + a.fh - ks - 2)
                px, py = b.x + min(b.fw, 12) / 2, b.y + b.fh * .72
                kernels.append(f'<g class="kernel"><rect x="{kx:.1f}" y="{ky:.1f}" width="{ks:.1f}"'
                               f' height="{ks:.1f}" fill="#fff" fill-opacity="0.5" stroke="#c33"/>'
                               f'<path d="M{kx + ks:.1f},{ky:.1f}L{px:.1f},{py:.1f}L{kx + ks:.1f},'
                               f'{ky + ks:.1f}" fill="none" stroke="#c33" stroke-width="0.7" '
                               f'stroke-dasharray="2 2"/></g>')
            continue
        # a skip: over everything it passes (under, where both ends sit below the axis). It
        # leaves and enters through the gaps between columns, so it crosses no volume and no
        # label; a volume at the top of its column is left (entered) through its top instead
        c0, c1 = col_of[s], col_of[t]
        span = [n for n in nodes.values() if c0 <= n.col <= c1]
        below = a.mid + b.mid > 1
        gx0 = col_x[c0][1] + COL_GAP * 0.25
        gx1 = col_x[c1][0] - COL_GAP * 0.25
        out_top = not below and _is_top(a, nodes)
        in_top = not below and _is_top(b, nodes)
        sx = a.x + a.fw / 2 if out_top else gx0
        tx = b.x + b.fw / 2 if in_top else gx1
        ty = min(max(b.mid, b.y), b.y + b.fh)
        if below:
            yl = max(n.bbox[1] + n.cell_h for n in span) + 8 + LANE * lane(lanes_down, sx, tx)
        else:
            yl = min(n.bbox[1] for n in span) - 10 - LANE * lane(lanes_up, sx, tx)
        r = 5 if below else -5
        d = (f"M{sx:.1f},{a.bbox[1]:.1f}" if out_top
             else f"M{a.bbox[2]:.1f},{a.mid:.1f}H{gx0 - 5:.1f}Q{gx0:.1f},{a.mid:.1f} "
                  f"{gx0:.1f},{a.mid + (5 if yl > a.mid else -5):.1f}")
        d += (f"V{yl - r:.1f}Q{sx:.1f},{yl:.1f} {sx + 5:.1f},{yl:.1f}H{tx - 5:.1f}"
              f"Q{tx:.1f},{yl:.1f} {tx:.1f},{yl - r:.1f}")
        d += (f"V{b.bbox[1] - 1:.1f}" if in_top
              else f"V{ty + (5 if yl < ty else -5):.1f}Q{tx:.1f},{ty:.1f} {tx + 5:.1f},{ty:.1f}"
                   f"H{b.x - 1:.1f}")
        lines.append(f'<path class="edge skip" d="{d}" fill="none" stroke="#777" '
                     f'marker-end="url(#arrow)"{dash}/>')
        drawn_edges.append((s, t, "arc"))

    # the frame: everything's extent, a title above
    xs0 = [n.bbox[0] for n in nodes.values()] + [t[0] for t in texts]
    xs1 = [n.bbox[2] for n in nodes.values()] + [t[2] for t in texts]
    ys0 = [n.bbox[1] for n in nodes.values()] + [t[1] for t in texts]
    ys1 = [n.bbox[3] for n in nodes.values()] + [t[3] for t in texts]
    top_y = min(ys0) - 10 - LANE * (len(lanes_up) + 1)
    bottom_y = max(ys1) + 10 + LANE * (len(lanes_down) + 1)
    volumes = sum(1 for n in nodes.values() if n.kind != "merge")
    heading = [f"{report.name} — {counted(volumes, 'volume')}"
               + ("" if depth is None or not report.block_outputs else
                  f", blocks folded to depth {depth}")]
    if note:
        heading.append(note)
    ty = top_y - (len(heading)) * LINE * 13
    for i, s in enumerate(heading):
        text(min(xs0), ty + i * LINE * 13, s, size=13 if i == 0 else 11, cls="h")
    x_min, x_max = min(xs0 + [t[0] for t in texts]), max(xs1 + [t[2] for t in texts])
    y_min, y_max = ty, bottom_y
    pad = 16
    width, height = x_max - x_min + 2 * pad, y_max - y_min + 2 * pad
    svg = "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="{x_min - pad:.1f} {y_min - pad:.1f} {width:.1f} {height:.1f}" '
        f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">',
        f'<title>{escape(report.name)}: volumes</title>',
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L8,4L0,8z" fill="#555"/>'
        '</marker><style>.t{fill:#222}.b{font-weight:bold}.h{fill:#111;font-weight:bold}'
        '</style></defs>',
        f'<rect x="{x_min - pad:.1f}" y="{y_min - pad:.1f}" width="{width:.1f}" '
        f'height="{height:.1f}" fill="#fff"/>',
        *[ln for ln in lines if ln.startswith("<path")],
        *shapes, *kernels,
        *[ln for ln in lines if not ln.startswith("<path")],
        '</svg>', ''])
    return Drawing(svg, depth, note, nodes, texts, drawn_edges)


def _is_top(n: Node, nodes: dict[str, Node]) -> bool:
    return all(m.y >= n.y for m in nodes.values() if m.col == n.col)


def _is_bottom(n: Node, nodes: dict[str, Node]) -> bool:
    return all(m.y <= n.y for m in nodes.values() if m.col == n.col)


def to_svg(net: Network | None, report: Report, depth: int | None = None,
           auto_fold: bool = True) -> str:
    """The volume drawing of ``report`` as a self-contained SVG document (see ``draw``)."""
    return draw(net, report, depth, auto_fold).svg
