"""The ``archcalc report`` command (registered lazily by archcalc.cli: ``summary`` never
imports this module, and pygal is imported only once a report is being written)."""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import List, Optional

import typer

from .. import analysis
from ..cli_common import (BATCH, COLUMN, DEVICE_FILE, DOUBLE, DTYPE, FILTERS, INPLACE, INPUT,
                          OPTIMIZER, ROUNDING, SET, STDIN, UNKNOWN, analysis_options,
                          check_device_file, guarded,
                          load_spec, settings_of, spec_problems, umask, write_atomic)
from ..errors import OPTIONS, ArchcalcError, Diagnostic, SourcePos, error

FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}


def _target(output: str) -> tuple[str, str]:
    """The output path (checked: its folder exists, it is not a folder) and its format."""
    if output == "-":
        raise error("a report is written to a file, not to standard output", OPTIONS,
                    hint="give a file: -o review.html or -o review.md", exit_code=2)
    if os.path.isdir(output):
        raise error(f"-o {output} is a folder", OPTIONS, hint="give a file name, e.g. "
                    f"{os.path.join(output, 'review.html')}", exit_code=2)
    ext = os.path.splitext(output)[1].lower()
    if ext not in FORMATS:
        raise error(f"-o {output}: unknown report format {ext or '(no extension)'!r}", OPTIONS,
                    hint="end the file name in .html (one self-contained page) or .md "
                         "(Markdown, with the plots in a folder beside it)", exit_code=2)
    real = os.path.realpath(output)
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        raise error(f"-o {output}: no such folder {os.path.dirname(output) or '.'}", OPTIONS,
                    hint=f"create it first (mkdir -p {os.path.dirname(output)}) or write the "
                         "report elsewhere", exit_code=2)
    if os.path.isdir(real):
        raise error(f"-o {output} is a folder", OPTIONS, hint="give a file name, e.g. "
                    f"{os.path.join(output, 'review.html')}", exit_code=2)
    return real, FORMATS[ext]


def _write_markdown(path: str, text: str, files: dict[str, str], folder: str) -> None:
    """The Markdown file and its folder of plots, each complete or not at all: the folder is
    written under a temporary name, then swapped in, then the Markdown file replaced."""
    base = os.path.dirname(path)
    try:
        tmp = tempfile.mkdtemp(prefix=f".{folder}.", dir=base)
        os.chmod(tmp, 0o777 & ~umask())         # as mkdir would make it (mkdtemp makes 0700)
    except OSError as exc:
        raise error(f"cannot write {path}: {exc.strerror or exc}", SourcePos(path),
                    exit_code=2) from None
    try:
        for rel, content in files.items():
            with open(os.path.join(tmp, os.path.basename(rel)), "w", encoding="utf-8") as fh:
                fh.write(content)
        dest = os.path.join(base, folder)
        if os.path.isdir(dest) and not os.path.islink(dest):
            shutil.rmtree(dest)
        elif os.path.lexists(dest):
            raise error(f"{dest} exists and is not a folder", SourcePos(dest),
                        hint="move it away: the report puts its plots there", exit_code=2)
        os.replace(tmp, dest)
    except OSError as exc:
        raise error(f"cannot write {path}: {exc.strerror or exc}", SourcePos(path),
                    exit_code=2) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_atomic(path, text)


def drawings(sec: dict, fmt: str) -> None:
    """The drawings of archcalc.draw, folded as ``archcalc draw`` folds a network too large to
    draw legibly: the volume drawing (inline SVG in HTML; an SVG file beside the Markdown; its
    title says how it was folded) and the layer graph (SVG in HTML, whose title says how it was
    folded; Mermaid in Markdown, with a line saying so)."""
    from ..draw import graph, volumes
    from ..draw.diagram import HARD_LIMIT, MERMAID_MAX_TEXT
    net, rep = sec["net"], sec["report"]
    depth = graph.fit_depth(rep)
    boxes = len(rep.rows(depth))
    if boxes > HARD_LIMIT:                  # as archcalc draw: refused, and said
        sec["drawing_note"] = (f"Not drawn: {boxes:,} boxes" + ("" if depth is None else
                               f" even with blocks folded (depth {depth})") + f", more than "
                               f"the {HARD_LIMIT:,} archcalc draws.")
        return
    sec["volumes"] = volumes.to_svg(net, rep)
    if fmt == "html":
        sec["graph"] = graph.to_svg(net, rep, depth=depth)
        return
    text = graph.to_mermaid(net, rep, depth=depth)
    if len(text) > MERMAID_MAX_TEXT and depth != 0 and rep.block_outputs:
        depth = 0                               # what GitHub renders: fold the blocks
        text = graph.to_mermaid(net, rep, depth=0)
    sec["mermaid"] = text
    notes = []
    if depth is not None:
        notes.append(f"{len(rep.layers)} layers: blocks nested deeper than {depth} are folded "
                     f"({len(rep.rows(depth))} boxes; `archcalc draw --depth N` chooses).")
    if len(text) > MERMAID_MAX_TEXT:
        notes.append(f"The Mermaid text has {len(text):,} characters, more than the "
                     f"{MERMAID_MAX_TEXT:,} GitHub renders by default.")
    sec["graph_note"] = " ".join(notes) or None


@guarded
def report_cmd(
    specs: List[str] = typer.Argument(..., metavar="SPEC...", show_default=False,
                                      help="spec files, shipped names, spec strings or - ; "
                                           "several (or a column table) compare side by side"),
    output: str = typer.Option(..., "--output", "-o", metavar="FILE", show_default=False,
                               help="review.html (one self-contained page) or review.md "
                                    "(Markdown; plots in review_files/ beside it)"),
    input: Optional[str] = INPUT,
    filters: Optional[str] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    unknown: Optional[str] = UNKNOWN,
    column: Optional[str] = COLUMN,
    dtype: str = DTYPE,
    batch: str = BATCH,
    count_inplace: bool = INPLACE,
    optimizer: str = OPTIMIZER,
    plots: bool = typer.Option(True, "--plots/--no-plots", help="include the charts"),
    device: Optional[str] = typer.Option(None, "--device", "-D", metavar="NAME",
                                         help="add a roofline chart on this device "
                                              "(docs/latency.md)"),
    device_file: Optional[str] = DEVICE_FILE,
    set_: Optional[List[str]] = SET,
):
    """A design review in one file: name and settings, totals, the drawing, the per-layer
    table, every warning, and plots (parameters and MACs, activation memory with the
    live-memory peak, receptive-field growth, where the training memory goes). A spec with
    errors is refused with the same diagnostics as 'archcalc validate' (exit 1)."""
    path, fmt = _target(output)
    options = analysis_options(dtype, batch, optimizer)
    if specs.count("-") > 1:
        raise ArchcalcError(Diagnostic("error", "standard input (-) can be read only once",
                                       OPTIONS), exit_code=2)
    sections, problems = [], []
    for i, s in enumerate(specs, 1):        # every spec is checked: all their errors at once
        label = f"<spec {i}>" if len(specs) > 1 else "<spec>"
        try:
            got = load_spec(s, input, filters, double_after_pool, rounding, column, label,
                            settings_of(set_))
            for net in (got.values() if isinstance(got, dict) else [got]):
                rep = analysis.analyze(net, count_inplace=count_inplace,
                                       **{**options, **net.analysis})
                sections.append({"net": net, "report": rep, "weight_layers": net.weight_layers(),
                                 "source": STDIN if s == "-" else s})
        except ArchcalcError as exc:
            problems.extend(spec_problems(exc, errors_only=True))   # as validate lists them
    if problems:
        raise ArchcalcError(problems)
    from ..views import compare_keys       # networks named alike get distinct titles
    for sec, key in zip(sections, compare_keys([(x["report"], x["weight_layers"], x["source"])
                                                for x in sections])):
        sec["title"] = key
    dev = None
    check_device_file(device, device_file)
    if device is not None:                  # archcalc/latency: a bad name before any work
        from ..latency import devices, model
        dev = devices.get(device, device_file)
        dev.peak(options["dtype"])
        if not plots:
            raise error("--device adds a chart: it needs the plots", OPTIONS,
                        hint="drop --no-plots", exit_code=2)
    draw = None           # the spec's own errors come first, pygal or not
    if plots:
        try:
            from . import plots as draw
        except ImportError as exc:
            raise error(str(exc), OPTIONS, hint="or leave the plots out: --no-plots",
                        exit_code=2) from None
    for i, sec in enumerate(sections):
        if draw is not None:
            est = model.estimate(sec["report"], dev) if dev is not None else None
            sec["plots"] = draw.all_plots(sec["net"], sec["report"], prefix=f"n{i}-",
                                          estimate=est)
        drawings(sec, fmt)
    if fmt == "html":
        from . import html
        write_atomic(path, html.render(sections))
    else:
        from . import markdown
        folder = os.path.splitext(os.path.basename(path))[0] + "_files"
        text, files = markdown.render(sections, folder)
        _write_markdown(path, text, files, folder)
    names = ", ".join(sec["title"] for sec in sections)
    print(f"wrote {output}: {names}"
          + (f" (plots in {os.path.join(os.path.dirname(output), folder)})"
             if fmt == "markdown" and draw is not None else ""))
