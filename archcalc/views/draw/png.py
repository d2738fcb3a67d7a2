"""The layer graph as PNG: the SVG rasterised by cairosvg, or Graphviz's own PNG where cairosvg is
missing; Graphviz invoked as a program."""
from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from ...errors import OPTIONS, error
from ...report import Report
from .diagram import diagram
from .svg import svg_of
from .text_formats import dot_of, graphviz

if TYPE_CHECKING:
    from ...graph import Network

# ---------------------------------------------------------------------------------------------
# Graphviz and PNG


PNG_MAX_SIDE = 32_767      # cairo's largest image surface, pixels a side


def svg_to_png(svg: str, folds: bool = True) -> bytes | None:
    """``svg`` rasterised by cairosvg, or None where cairosvg (or the cairo library it needs)
    is not installed. A drawing larger than cairo's 32,767 pixels a side is an error (exit 2),
    whose hint suggests folding blocks where the drawing ``folds`` (its spec has blocks)."""
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
                        hint="write SVG (-o FILE.svg), which has no such limit"
                             + (", or fold blocks (--depth 0)" if folds else ""), kind="usage")
    return cairosvg.svg2png(bytestring=svg.encode("utf-8"))


def to_png(net: Network, report: Report | None = None, depth: int | None = None,
           color: str | None = None, layout: str = "layered", direction: str = "TB") -> bytes:
    """The graph as PNG: the layered SVG rasterised by cairosvg where it is installed (else
    Graphviz's own PNG), or Graphviz's PNG with ``layout="dot"``; a clear error (exit 2) where
    neither is installed. ``direction``: TB (top to bottom) or LR (left to right)."""
    d = diagram(net, report, depth, color, direction)
    if layout != "dot":
        png = svg_to_png(svg_of(d), folds=bool(net.block_outputs))
        if png is not None:
            return png
    if layout == "dot" or shutil.which("dot"):
        return graphviz(dot_of(d), "png")
    raise error("PNG needs cairosvg or Graphviz, and neither is installed", OPTIONS,
                hint="pip install 'archcalc[draw]' (cairosvg), or install Graphviz (apt-get "
                     "install graphviz); or write SVG (-o FILE.svg), which needs neither",
                kind="usage")
