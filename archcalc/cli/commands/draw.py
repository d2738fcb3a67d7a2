"""``archcalc draw``: a network's layer graph or volume drawing, written atomically."""
from __future__ import annotations

import os
import sys

import typer

from ...analysis import analyze, problems
from ...errors import OPTIONS, ArchcalcError, error
from ...files import Output, writable_output, write_atomic
from ...settings import LoadOptions
from ...spec import read_one
from ...units import human_bytes
from ..guard import note, say
from ..options import SPEC, choice, command, request, whole
from ..outputs import check_outputs, stopping, suffix

WRITES = {"svg": "an SVG drawing", "png": "a PNG image", "dot": "a DOT drawing",
          "mermaid": "a Mermaid drawing"}


def output_format(output: str, fmt: str | None) -> str:
    """The format to write: --format's (any case), else the output file's suffix. With
    --format, a suffix of another format is refused, an unknown one said (docs/draw.md)."""
    from ...views.draw import FORMATS, SUFFIXES
    if fmt is not None:
        chosen = str(choice(fmt, FORMATS, "--format"))
        suffix(output, WRITES[chosen], [s for s, f in SUFFIXES.items() if f == chosen],
               hint="or drop --format: the suffix chooses it")
        return chosen
    if output == "-":
        raise error("-o - (standard output) needs --format", OPTIONS, kind="usage",
                    hint="e.g. -o - --format mermaid (svg, dot and mermaid are text)")
    ext = os.path.splitext(output)[1].lower()
    if ext not in SUFFIXES:
        raise error(f"cannot tell the format of {output} from its suffix "
                    f"{ext or '(none)'}", OPTIONS, kind="usage",
                    hint="give --format svg, png, dot or mermaid, or name the file .svg, .png, "
                         ".dot/.gv, .mmd or .md (Mermaid in a Markdown fence)")
    return SUFFIXES[ext]


def _other(output: str) -> str:
    """Another name for a drawing of ``output``'s format."""
    stem, ext = os.path.splitext(os.path.basename(output))
    known = ext.lower() in (".svg", ".png", ".dot", ".gv", ".mmd", ".md")
    return f"{stem}-drawing{ext if known else '.svg'}"


@command
@stopping()          # SIGTERM as Ctrl-C: no partial file is left
def draw(
    spec: str = SPEC,
    output: str = typer.Option(..., "--output", "-o", metavar="FILE", show_default=False,
                               help="the file to write (- for standard output: svg, dot and "
                                    "mermaid)"),
    format_: str | None = typer.Option(None, "--format", "-F", metavar="FORMAT",
                                       help="svg, png, dot or mermaid (default: from FILE's "
                                            "suffix: .svg .png .dot/.gv .mmd/.md)"),
    depth: str | None = typer.Option(None, "--depth", "-d", metavar="N",
                                     help="fold block instances nested deeper than this "
                                          "(default: every layer, folded automatically "
                                          "past 300 boxes)"),
    color: str | None = typer.Option(None, "--color", "--colour", metavar="KEY",
                                     help="shade boxes as a heat map of params, macs, "
                                          "memory or rf"),
    style: str = typer.Option("graph", "--style", metavar="STYLE",
                              help="graph (boxes and arrows) or volumes (the classic volume "
                                   "drawing)"),
    layout_: str = typer.Option("layered", "--layout", metavar="NAME",
                                help="layered (archcalc's own) or dot (Graphviz's, where "
                                     "installed)"),
    direction: str | None = typer.Option(None, "--direction", metavar="DIR",
                                         help="TB (the layers top to bottom, the default) or "
                                              "LR (left to right)"),
    opts: LoadOptions = request(exclude=("optimizer", "count_inplace", "convention")),
) -> None:
    """Draw a network: its layer graph with every layer's figures (SVG, PNG, Graphviz DOT or
    Mermaid), optionally shaded as a heat map."""
    from ...views.draw import COLOR_KEYS, DIRECTIONS, LAYOUTS, STYLES, drawing
    from ...views.text import diag_line
    if output != "-":
        check_outputs([Output(output, example=_other(output))], [spec])
        writable_output(output, "net.svg", "the drawing")
    fmt = output_format(output, format_)     # (not "format": draw has no JSON document)
    key = choice(color, COLOR_KEYS, "--color")
    kind = choice(style, STYLES, "--style")
    lay = choice(layout_, LAYOUTS, "--layout")
    way = "TB" if direction is None else direction.strip().upper()
    if way not in DIRECTIONS:
        raise error(f"--direction must be TB or LR, got {direction!r}", OPTIONS, kind="usage",
                    hint="TB draws the layers top to bottom (the default), LR left to right")
    fold = whole(depth, "--depth", 0)
    if output == "-" and fmt == "png":
        raise error("PNG is binary: it is written to a file, not to standard output", OPTIONS,
                    hint="give a file path, e.g. -o net.png", kind="usage")
    if kind == "volumes":
        if fmt not in ("svg", "png"):
            raise error(f"the volume drawing is SVG or PNG, not {fmt}", OPTIONS, kind="usage",
                        hint="write .svg or .png, or draw the graph (--style graph)")
        if key is not None:
            raise error("--color shades the graph drawing (--style graph)", OPTIONS,
                        hint="drop --color, or drop --style volumes", kind="usage")
        if lay != "layered":
            raise error("--layout lays out the graph drawing (--style graph)", OPTIONS,
                        hint="drop --layout, or drop --style volumes", kind="usage")
        if direction is not None:
            raise error("--direction lays out the graph drawing (--style graph); the volume "
                        "drawing runs left to right", OPTIONS,
                        hint="drop --direction, or drop --style volumes", kind="usage")
    try:
        net = read_one(spec, opts)
        report = analyze(net)
    except ArchcalcError as exc:            # what archcalc validate prints
        raise ArchcalcError(problems(exc)) from None
    for d in report.diagnostics:             # warnings: the drawing is the output
        say(diag_line(d))
    made = drawing(net, report, fmt, fold, key, lay, kind,
                   markdown=output != "-" and output.lower().endswith(".md"), direction=way)
    for text in made.notes:
        note(text)
    if output == "-":
        sys.stdout.write(made.data.decode("utf-8"))
        return
    write_atomic(output, made.data)
    print(f"wrote {output} ({human_bytes(len(made.data))}): {report.name} as {fmt}, "
          f"{made.boxes:,} {'volumes' if kind == 'volumes' else 'boxes'}"
          + ("" if made.depth is None else f" (--depth {made.depth})"))
