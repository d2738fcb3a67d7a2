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
the ``archcalc draw`` command is ``command.draw_cmd``. See docs/draw.md.

This module is the public face; the work is split by what a reader looks for:
``diagram.py`` (the content and the heat-map scale), ``layout.py`` (the layered layout),
``svg.py``, ``text_formats.py`` (DOT, Mermaid, running Graphviz), ``png.py`` and
``command.py``.
"""
from __future__ import annotations

from .diagram import (COLOR_KEYS, PALETTE, RAMP_STEPS, ZERO_FILL, Diagram, Scale,
                      diagram, fit_depth, luminance, ramp, scale_for, values)
from .layout import GAP_X, layout
from .png import to_png
from .svg import to_svg
from .text_formats import to_dot, to_mermaid

__all__ = ["COLOR_KEYS", "PALETTE", "RAMP_STEPS", "ZERO_FILL", "Diagram", "Scale", "diagram",
           "fit_depth", "luminance", "ramp", "scale_for", "values", "GAP_X", "layout", "to_png",
           "to_svg", "to_dot", "to_mermaid"]
