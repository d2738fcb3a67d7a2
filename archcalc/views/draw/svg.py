"""The layer graph as SVG: the layered layout drawn (``layout="layered"``), or Graphviz's
(``layout="dot"``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import OPTIONS, error
from ...report import Report
from .diagram import BLOCK_STROKE, LAYER_FILL, LAYOUTS, STROKE, Diagram, diagram, ramp
from .layout import FONT, FONT_SIZE, LINE_H, MARGIN, PAD_Y, TITLE_SIZE, layout, shifted, text_width
from .text_formats import dot_of, graphviz, legend_lines, legend_ticks

if TYPE_CHECKING:
    from ...graph import Network


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    return '"' + _esc(text).replace('"', "&quot;").replace("\n", "&#10;") + '"'


def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _path_d(path: list[tuple]) -> str:
    return " ".join(p[0] + " " + " ".join(_n(v) for v in p[1:]) for p in path)


def to_svg(net: Network, report: Report | None = None, depth: int | None = None,
           color: str | None = None, layout: str = "layered", direction: str = "TB") -> str:
    """The graph as a standalone SVG document: archcalc's layered layout (``layout="layered"``,
    the same everywhere, nothing to install) or Graphviz's (``layout="dot"``: needs Graphviz's
    ``dot`` program); its layers top to bottom (``direction="TB"``) or left to right
    (``"LR"``)."""
    d = diagram(net, report, depth, color, direction)
    if layout == "dot":
        return graphviz(dot_of(d), "svg").decode("utf-8")
    if layout != "layered":
        raise error(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}", OPTIONS,
                    kind="usage")
    return svg_of(d)


def svg_of(d: Diagram) -> str:
    texts: list[str] = []           # title and legend, above the graph
    y: float = MARGIN
    head_w = 0.0
    for i, line in enumerate(d.title):
        size = TITLE_SIZE if i == 0 else FONT_SIZE
        y += size + 4
        weight = ' font-weight="bold"' if i == 0 else ""
        texts.append(f'<text class="title" x="{MARGIN}" y="{_n(y)}" font-size="{size}"'
                     f'{weight}>{_esc(line)}</text>')
        head_w = max(head_w, text_width(line, size))
        y += 2
    legend = legend_lines(d)
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
        placed: list[tuple[float, float, str]] = []      # (tick x, label x, label)
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
    lay = layout(d, top=y + 24, direction=d.direction)
    width = max(lay.width, head_w + 2 * MARGIN)
    if width > lay.width:                   # a graph narrower than its heading: centred
        lay = shifted(lay, (width - lay.width) / 2)
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
