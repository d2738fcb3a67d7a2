"""The ``archcalc draw`` command (archcalc.cli registers it): the graph diagrams of this package
and the volume figure of ``volumes.py``, written atomically."""
from __future__ import annotations

import os
import sys
from typing import List, Optional

import typer

from ..cli_common import (BATCH, COLUMN, DOUBLE, DTYPE, FILTERS, INPUT, ROUNDING, SET, SPEC,
                          UNKNOWN, analysis_options, choice, guarded, load_set, spec_problems,
                          whole, writable_output, write_atomic)
from ..errors import OPTIONS, ArchcalcError, error
from ..views import diag_line, human_bytes
from .diagram import (COLOR_KEYS, FORMATS, HARD_LIMIT, LAYOUTS, MAX_NODES, MERMAID_MAX_TEXT, STYLES,
                      SUFFIXES, diagram, fit_depth)
from .png import svg_to_png, to_png
from .svg import _svg
from .text_formats import _dot, _mermaid, graphviz


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
    if output != "-":
        writable_output(output, "net.svg", "the drawing")


def _load(spec_arg, input, filters, double_after_pool, rounding, column, options,
          sets=None):
    """The network and its report; a spec with errors raises what ``archcalc validate`` prints
    (the errors, and what analysis finds in the layers that did build)."""
    from .. import analysis
    try:
        net = load_set(spec_arg, sets, input, filters, double_after_pool, rounding, column,
                       options)
        return net, analysis.analyze(net, **options)
    except ArchcalcError as exc:
        raise ArchcalcError(spec_problems(exc)) from None


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
    unknown: Optional[str] = UNKNOWN,
    column: Optional[str] = COLUMN,
    dtype: str = DTYPE,
    batch: str = BATCH,
    set_: Optional[List[str]] = SET,
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
        if lay != "layered":
            raise error("--layout lays out the graph drawing (--style graph)", OPTIONS,
                        hint="drop --layout, or drop --style volumes", exit_code=2)
    net, report = _load(spec_arg, input, filters, double_after_pool, rounding, column, options,
                        set_)
    for d in report.diagnostics:             # warnings: the drawing is the output
        sys.stderr.write(diag_line(d) + "\n")
    if style == "volumes":                  # its own folding rule: columns, not boxes
        from . import volumes
        drawing = volumes.draw(net, report, depth, auto_fold=depth is None)
        if drawing.note:
            _note(drawing.note)
        depth, svg = drawing.depth, drawing.svg
        boxes = sum(1 for n in drawing.nodes.values() if n.kind != "merge")   # volumes, as titled
        data = svg.encode("utf-8")
        if fmt == "png":
            data = svg_to_png(svg)
            if data is None:
                raise error("PNG of the volume drawing needs cairosvg", OPTIONS,
                            hint="pip install 'archcalc[draw]', or write SVG (-o FILE.svg)",
                            exit_code=2)
    else:
        given = depth
        if depth is None:
            depth = fit_depth(report)
        boxes = len(report.rows(depth))
        if depth is not None and given is None and boxes == len(report.layers):
            depth = None                    # no blocks to fold: folding changes nothing
        if boxes > HARD_LIMIT:
            raise error(f"{report.name} would need {boxes:,} boxes"
                        f"{'' if depth is None else f' at --depth {depth}'}: too many to draw "
                        f"(the limit is {HARD_LIMIT:,})", OPTIONS,
                        hint="archcalc summary lists every layer; a spec written with blocks "
                             "folds into one box per block", exit_code=2)
        if depth is not None and given is None:
            _note(f"{report.name} has {len(report.layers):,} layers, too many to draw "
                  f"legibly (more than {MAX_NODES} boxes): drawn with blocks folded, "
                  f"--depth {depth} ({boxes:,} boxes); give --depth to choose")
        elif boxes > MAX_NODES:
            _note(f"{boxes:,} boxes: the drawing is large"
                  + ("" if report.block_outputs else " (the spec has no blocks to fold)"))
        if fmt == "png":
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
                          f"{MERMAID_MAX_TEXT:,} that Mermaid (and GitHub) render by default"
                          + (": fold blocks with --depth 0" if depth != 0 and
                             report.block_outputs else ""))
                if output != "-" and output.lower().endswith(".md"):
                    text = f"```mermaid\n{text}```\n"
            data = text.encode("utf-8")
    if output == "-":
        sys.stdout.write(data.decode("utf-8"))
        return
    write_atomic(output, data)
    print(f"wrote {output} ({human_bytes(len(data))}): {report.name} as {fmt}, "
          f"{boxes:,} {'volumes' if style == 'volumes' else 'boxes'}"
          + ("" if depth is None else f" (--depth {depth})"))
