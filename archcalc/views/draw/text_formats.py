"""The layer graph as text: Graphviz DOT (``to_dot``) and a Mermaid flowchart (``to_mermaid``),
from the same :class:`~archcalc.views.draw.diagram.Diagram` as the SVG."""
from __future__ import annotations

import math
import shutil
import subprocess
from typing import TYPE_CHECKING

from ...errors import OPTIONS, error
from ...report import Report
from .diagram import BLOCK_STROKE, LAYER_FILL, STROKE, Diagram, Scale, diagram, text_color

if TYPE_CHECKING:
    from ...graph import Network

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
        decades = sorted(1024.0 ** k * 10 ** j for k in range(7) for j in range(3))
    else:
        decades = [10.0 ** k for k in range(math.ceil(math.log10(scale.lo)),
                                            math.floor(math.log10(scale.hi)) + 1)]
    inner = [v for v in decades if scale.lo < v < scale.hi]
    inner = [v for v in inner if 0.06 < (scale.position(v) or 0.0) < 0.94]   # v > lo > 0
    while len(inner) > n - 2:
        inner = inner[::2]
    return [scale.lo] + inner + [scale.hi]


def legend_lines(d: Diagram) -> list[str]:
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


def to_dot(net: Network, report: Report | None = None, depth: int | None = None,
           color: str | None = None, direction: str = "TB") -> str:
    """The graph in Graphviz's DOT language (``dot -Tsvg``). Node ids are the layer names;
    a legend node (``legend_id``) is added where there is a heat map or a training-only
    layer; ``direction`` is its ``rankdir`` (TB or LR)."""
    return dot_of(diagram(net, report, depth, color, direction))


def dot_of(d: Diagram) -> str:
    font = "Helvetica,Arial,sans-serif"
    out = [f"digraph {_dot_str(d.name)} {{",
           f"  graph [rankdir={d.direction}, labelloc=t, fontname={_dot_str(font)}, fontsize=12, "
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
    legend = legend_lines(d)
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


def to_mermaid(net: Network, report: Report | None = None, depth: int | None = None,
               color: str | None = None, direction: str = "TB") -> str:
    """A Mermaid flowchart (``flowchart TD``; ``flowchart LR`` left to right): node ids ``n0``,
    ``n1`` … in row order (layer names are labels, escaped), ``-->`` edges, ``-.->`` into
    training-only layers, the heat map as ``style`` lines and its scale as a ``legend``
    subgraph."""
    return mermaid_of(diagram(net, report, depth, color, direction))


def mermaid_of(d: Diagram) -> str:
    ids = {n.name: f"n{i}" for i, n in enumerate(d.nodes)}
    title = d.title[0].replace("\\", "\\\\").replace('"', '\\"')
    flow = "flowchart LR" if d.direction == "LR" else "flowchart TD"
    out = ["---", f'title: "{title}"', "---", flow]
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
    legend = legend_lines(d)
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

def graphviz(dot_text: str, fmt: str) -> bytes:
    """``dot -T<fmt>`` of ``dot_text``; a clear error (exit 2) where Graphviz is not
    installed."""
    exe = shutil.which("dot")
    if exe is None:
        raise error("Graphviz's dot program is not installed", OPTIONS,
                    hint="install Graphviz (apt-get install graphviz, brew install graphviz), "
                         "or draw with archcalc's own layout (--layout layered)", kind="usage")
    try:
        p = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode("utf-8"),
                           capture_output=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise error(f"Graphviz's dot failed: {exc}", OPTIONS, kind="usage") from None
    if p.returncode != 0:
        msg = p.stderr.decode("utf-8", "replace").strip().splitlines()
        raise error(f"Graphviz's dot failed: {msg[0] if msg else p.returncode}", OPTIONS,
                    kind="usage")
    return p.stdout
