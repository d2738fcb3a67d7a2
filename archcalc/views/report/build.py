"""A review's sections and files: for each network its report, drawings (folded as ``archcalc
draw`` folds them) and plots, written as one HTML page or a Markdown file with its plots in a
folder beside it (each whole or not at all)."""
from __future__ import annotations

import os
from typing import Any

from ...errors import OPTIONS, ArchcalcError, SourcePos, error
from ...files import replace_folder, write_atomic

FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}


def target(output: str) -> tuple[str, str]:
    """The output path (checked: its folder exists, it is not a folder) and its format."""
    if output == "-":
        raise error("a report is written to a file, not to standard output", OPTIONS,
                    hint="give a file: -o review.html or -o review.md", kind="usage")
    if os.path.isdir(output):
        raise error(f"-o {output} is a folder", OPTIONS, hint="give a file name, e.g. "
                    f"{os.path.join(output, 'review.html')}", kind="io")
    ext = os.path.splitext(output)[1].lower()
    if ext not in FORMATS:
        raise error(f"-o {output}: unknown report format {ext or '(no extension)'!r}", OPTIONS,
                    hint="end the file name in .html (one self-contained page) or .md "
                         "(Markdown, with the plots in a folder beside it)", kind="usage")
    real = os.path.realpath(output)
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        raise error(f"-o {output}: no such folder {os.path.dirname(output) or '.'}", OPTIONS,
                    hint=f"create it first (mkdir -p {os.path.dirname(output)}) or write the "
                         "report elsewhere", kind="io")
    if os.path.isdir(real):
        raise error(f"-o {output} is a folder", OPTIONS, hint="give a file name, e.g. "
                    f"{os.path.join(output, 'review.html')}", kind="io")
    return real, FORMATS[ext]


def drawings(sec: dict[str, Any], fmt: str) -> None:
    """The drawings of archcalc.views.draw, folded as ``archcalc draw`` folds a network too
    large to draw legibly: the volume drawing (inline SVG in HTML; an SVG file beside the
    Markdown; its title says how it was folded) and the layer graph (SVG in HTML, whose title
    says how it was folded; Mermaid in Markdown, with a line saying so)."""
    from ..draw import HARD_LIMIT, MERMAID_MAX_TEXT, fit_depth, to_mermaid, to_svg, volumes
    net, rep = sec["net"], sec["report"]
    depth = fit_depth(rep)
    boxes = len(rep.rows(depth))
    if boxes > HARD_LIMIT:                  # as archcalc draw: refused, and said
        sec["drawing_note"] = (f"Not drawn: {boxes:,} boxes" + ("" if depth is None else
                               f" even with blocks folded (depth {depth})") + f", more than "
                               f"the {HARD_LIMIT:,} archcalc draws.")
        return
    sec["volumes"] = volumes.to_svg(net, rep)
    if fmt == "html":
        sec["graph"] = to_svg(net, rep, depth=depth)
        return
    text = to_mermaid(net, rep, depth=depth)
    if len(text) > MERMAID_MAX_TEXT and depth != 0 and rep.block_outputs:
        depth = 0                               # what GitHub renders: fold the blocks
        text = to_mermaid(net, rep, depth=0)
    sec["mermaid"] = text
    notes = []
    if depth is not None:
        notes.append(f"{rep.layer_count} layers: blocks nested deeper than {depth} are folded "
                     f"({len(rep.rows(depth))} boxes; `archcalc draw --depth N` chooses).")
    if len(text) > MERMAID_MAX_TEXT:
        notes.append(f"The Mermaid text has {len(text):,} characters, more than the "
                     f"{MERMAID_MAX_TEXT:,} GitHub renders by default.")
    sec["graph_note"] = " ".join(notes) or None


def write(path: str, fmt: str, sections: list[dict[str, Any]]) -> str | None:
    """The review as ``fmt`` at ``path``; returns the plots' folder for Markdown (else None)."""
    if fmt == "html":
        from . import html
        write_atomic(path, html.render(sections))
        return None
    from . import markdown
    folder = os.path.splitext(os.path.basename(path))[0] + "_files"
    text, files = markdown.render(sections, folder)
    where = os.path.join(os.path.dirname(path), folder)
    try:
        replace_folder(where, files)
    except ArchcalcError as exc:          # said as the file the user asked for
        d = exc.diagnostics[0]
        raise error(f"cannot write {path}: its folder of plots {where}: "
                    f"{d.message.split(': ', 1)[-1]}", SourcePos(path), hint=d.hint,
                    kind="io") from None
    write_atomic(path, text)
    return folder
