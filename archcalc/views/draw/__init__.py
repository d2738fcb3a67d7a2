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
the ``archcalc draw`` command is ``archcalc.cli.commands.draw``. See docs/draw.md.

This module is the public face; the work is split by what a reader looks for:
``diagram.py`` (the content and the heat-map scale), ``layout.py`` (the layered layout),
``svg.py``, ``text_formats.py`` (DOT, Mermaid, running Graphviz), ``png.py``, and
``volumes.py``: the classic drawing of volumes as boxes.
"""
from __future__ import annotations

from typing import NamedTuple

from ...errors import OPTIONS, error
from ...graph import Network
from ...report import Report
from .diagram import (
    COLOR_KEYS,
    DIRECTIONS,
    FORMATS,
    HARD_LIMIT,
    LAYOUTS,
    MAX_NODES,
    MERMAID_MAX_TEXT,
    PALETTE,
    RAMP_STEPS,
    STYLES,
    SUFFIXES,
    ZERO_FILL,
    Diagram,
    Scale,
    diagram,
    fit_depth,
    luminance,
    ramp,
    scale_for,
    values,
)
from .layout import GAP_X, layout
from .png import to_png
from .svg import to_svg
from .text_formats import to_dot, to_mermaid

__all__ = ["drawing", "Drawn", "FORMATS", "LAYOUTS", "DIRECTIONS", "STYLES", "SUFFIXES",
           "HARD_LIMIT", "MAX_NODES", "MERMAID_MAX_TEXT", "COLOR_KEYS", "PALETTE", "RAMP_STEPS",
           "ZERO_FILL",
           "Diagram", "Scale", "diagram",
           "fit_depth", "luminance", "ramp", "scale_for", "values", "GAP_X", "layout", "to_png",
           "to_svg", "to_dot", "to_mermaid"]


# ---------------------------------------------------------------------------------------------
# one drawing as a file's bytes (archcalc draw, archcalc report)

class Drawn(NamedTuple):
    data: bytes                 # what the file holds
    boxes: int                  # boxes (graph) or volumes (volume drawing) drawn
    depth: int | None        # the folding used (None: every layer)
    notes: list[str]            # what the user should know (folded automatically, too long …)


def drawing(net: Network, report: Report, fmt: str, depth: int | None = None,
            color: str | None = None, layout_: str = "layered", style: str = "graph",
            markdown: bool = False, direction: str = "TB") -> Drawn:
    """The drawing of ``net`` in ``fmt`` (svg, png, dot or mermaid; the volume drawing: svg or
    png), folded as given (``depth``) or, where ``depth`` is None and the network is too large
    to draw legibly, automatically; the graph's layers run ``direction`` (TB, top to bottom, or
    LR, left to right). ``markdown`` wraps Mermaid in a Markdown fence."""
    from .png import svg_to_png
    from .svg import svg_of
    from .text_formats import dot_of, graphviz, mermaid_of
    notes: list[str] = []
    if style == "volumes":                  # its own folding rule: columns, not boxes
        from . import volumes
        drawn = volumes.draw(net, report, depth, auto_fold=depth is None)
        if drawn.note:
            notes.append(drawn.note)
        boxes = sum(1 for n in drawn.nodes.values() if n.kind != "merge")   # volumes, as titled
        data = drawn.svg.encode("utf-8")
        if fmt == "png":
            png = svg_to_png(drawn.svg, folds=bool(report.block_outputs))
            if png is None:
                raise error("PNG of the volume drawing needs cairosvg", OPTIONS, kind="usage",
                            hint="pip install 'archcalc[draw]', or write SVG (-o FILE.svg)")
            data = png
        return Drawn(data, boxes, drawn.depth, notes)
    given = depth
    if depth is None:
        depth = fit_depth(report)
    boxes = len(report.rows(depth))
    if depth is not None and given is None and boxes == len(report.layers):
        depth = None                    # no blocks to fold: folding changes nothing
    if boxes > HARD_LIMIT:
        raise error(f"{report.name} would need {boxes:,} boxes"
                    f"{'' if depth is None else f' at --depth {depth}'}: too many to draw "
                    f"(the limit is {HARD_LIMIT:,})", OPTIONS, kind="usage",
                    hint="archcalc summary lists every layer; " + (
                        "a spec written with blocks folds into one box per block"
                        if not report.block_outputs else "give a smaller --depth (--depth 0 "
                        "folds every top-level block)" if depth != 0 else
                        "the top-level blocks alone are too many"))
    if depth is not None and given is None:
        notes.append(f"{report.name} has {report.layer_count:,} layers, too many to draw "
                     f"legibly (more than {MAX_NODES} boxes): drawn with blocks folded, "
                     f"--depth {depth} ({boxes:,} boxes); give --depth to choose")
    elif boxes > MAX_NODES:
        notes.append(f"{boxes:,} boxes: the drawing is large"
                     + ("" if report.block_outputs else " (the spec has no blocks to fold)"))
    if fmt == "png":
        return Drawn(to_png(net, report, depth, color, layout_, direction), boxes, depth, notes)
    d = diagram(net, report, depth, color, direction)
    if fmt == "svg":
        text = graphviz(dot_of(d), "svg").decode("utf-8") if layout_ == "dot" else svg_of(d)
    elif fmt == "dot":
        text = dot_of(d)
    else:
        text = mermaid_of(d)
        if len(text) > MERMAID_MAX_TEXT:
            notes.append(f"the Mermaid text has {len(text):,} characters, more than the "
                         f"{MERMAID_MAX_TEXT:,} that Mermaid (and GitHub) render by default"
                         + (": fold blocks with --depth 0" if depth != 0 and
                            report.block_outputs else ""))
        if markdown:
            text = f"```mermaid\n{text}```\n"
    return Drawn(text.encode("utf-8"), boxes, depth, notes)
