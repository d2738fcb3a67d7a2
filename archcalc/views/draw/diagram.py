"""The content every drawing of the layer graph shares: one node per row of the report (a layer, or
a folded block) with its figures, one edge per input, the heat-map scale (``color``), and the
folding that keeps a drawing legible (``fit_depth``)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from ...errors import OPTIONS, error
from ...ops.words import counted
from ...report import LayerRow, Report
from ...units import human_bytes, human_count
from ..table import op_text
from ..text import vol_text

if TYPE_CHECKING:
    from ...graph import Network

MAX_NODES = 300          # more boxes than this are not legible: fold blocks (fit_depth)
HARD_LIMIT = 5_000       # more than this even folded: refused (the drawing would be useless)
MERMAID_MAX_TEXT = 50_000    # Mermaid's default maxTextSize (GitHub renders up to it)
COLOR_KEYS = ("params", "macs", "memory", "rf")
FORMATS = ("svg", "png", "dot", "mermaid")
LAYOUTS = ("layered", "dot")
DIRECTIONS = ("TB", "LR")   # the layers top to bottom (the default) or left to right
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

# a legend's units, up to those archcalc.units shows (E, EiB: a 2⁶²-byte amount is its largest)
TICK_COUNTS = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6),
               ("K", 10**3), ("", 1))
TICK_BYTES = (("EiB", 1 << 60), ("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30),
              ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1))


class Scale(NamedTuple):
    """The heat map's scale: values from ``lo`` (the smallest non-zero) to ``hi``."""
    key: str
    title: str
    lo: float
    hi: float
    log: bool

    def position(self, value: float) -> float | None:
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
        units = TICK_BYTES if self.key == "memory" else TICK_COUNTS
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
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return (r, g, b)


def luminance(color: str) -> float:
    """WCAG relative luminance of ``#rrggbb`` (0 black … 1 white)."""
    def lin(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
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
    from ...units import DTYPES
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
    scale: Scale | None
    train_only: bool            # some layer is training-only (the legend says what dashed means)
    global_rf: bool             # some row's receptive field is global (the rf legend says where)
    direction: str = "TB"       # layers top to bottom, or left to right ("LR")


def diagram(net: Network, report: Report | None = None, depth: int | None = None,
            color: str | None = None, direction: str = "TB") -> Diagram:
    """What every format draws: the rows of ``report.rows(depth)`` as nodes with their figures,
    each row's inputs as edges, the heat-map scale of ``color``, and the ``direction`` its
    layers run in (TB, top to bottom, or LR, left to right)."""
    if report is None:
        from ...analysis import analyze
        report = analyze(net)
    if color is not None and color not in COLOR_KEYS:
        raise error(f"color must be one of {', '.join(COLOR_KEYS)}, got {color!r}", OPTIONS,
                    kind="usage")
    if direction not in DIRECTIONS:
        raise error(f"direction must be TB or LR, got {direction!r}", OPTIONS, kind="usage",
                    hint="TB draws the layers top to bottom, LR left to right")
    rows = report.rows(depth)
    scale = scale_for(report, rows, color) if color else None
    vals = values(report, rows, color) if color else [0] * len(rows)
    size = _bytes_per_element(report)
    nodes, edges = [], []
    for row, v in zip(rows, vals):
        kind = "input" if row.op == "input" else "block" if row.op == "block" else "layer"
        lines = [row.name, op_text(row), vol_text(row.output)]
        figures = [_short(row.params, "param")] * bool(row.params) + \
                  [_short(row.macs, "MAC")] * bool(row.macs)
        if figures:
            lines.append(" · ".join(figures))
        if color == "memory":
            lines.append(f"{human_bytes(row.activations * size)} activations"
                         if row.activations else "no new buffer" if kind != "input"
                         else "0 B")
        elif color == "rf":
            lines.append(f"RF {row.rf.text()}")
        tip = [f"{row.name}: {op_text(row)}", f"output {vol_text(row.output)}",
               f"parameters {row.params:,}", f"MACs {row.macs:,}",
               f"activations {counted(row.activations, 'element')}",
               f"receptive field {row.rf.text()}"]
        fill = scale.color(v) if scale else {"input": INPUT_FILL, "block": BLOCK_FILL}.get(
            kind, LAYER_FILL)
        nodes.append(Node(row.name, tuple(_clean(x) for x in lines),
                          _clean("\n".join(tip), keep_newlines=True), fill, text_color(fill),
                          row.train_only, kind))
        for src in dict.fromkeys(row.inputs):
            edges.append(Edge(src, row.name, row.train_only))
    t = report.totals
    title = [f"{report.name}: input {vol_text(report.input)}, {counted(t.params, 'parameter')}, "
             f"{_short(t.macs, 'MAC')} per image",
             f"{counted(len(nodes), 'box')}, {counted(len(edges), 'edge')}" +
             ("" if depth is None or not report.block_outputs else
              f"; blocks nested deeper than {depth} folded "
              f"(--depth {depth})")]
    return Diagram(report.name, tuple(_clean(x) for x in title), nodes, edges, scale,
                   any(row.train_only for row in rows),
                   color == "rf" and any(row.rf.is_global for row in rows), direction)


def _clean(text: str, keep_newlines: bool = False) -> str:
    """``text`` without control characters (which XML, DOT and Mermaid cannot carry)."""
    return "".join(c if c.isprintable() or (keep_newlines and c == "\n") else " "
                   for c in str(text))


def _short(n: int, noun: str) -> str:
    """A figure in short units with its noun: "1 MAC", "2 MACs", "1.23M MACs"."""
    return f"{human_count(n)} {noun if n == 1 else noun + 's'}"


def fit_depth(report: Report, limit: int = MAX_NODES) -> int | None:
    """The block folding a drawing of ``report`` needs: None (every layer) where the layers fit
    in ``limit`` boxes or the spec has no blocks to fold, else the deepest folding that fits (0,
    every top-level block folded, where none does)."""
    if len(report.layers) <= limit or not report.block_outputs:
        return None
    deepest = max(len(row.scope) for row in report.layers)
    for d in range(deepest - 1, -1, -1):
        if len(report.rows(d)) <= limit:
            return d
    return 0
