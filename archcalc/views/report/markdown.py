"""The report as Markdown for a pull request: totals, warnings, a Mermaid diagram (where the
drawing module provides one), the charts as SVG files in a folder beside it, and the per-layer
table (in a <details> block, which GitHub and GitLab fold)."""
from __future__ import annotations

import re
from collections.abc import Sequence

from ...ops.words import counted
from ...report import Report
from ..compare import render_compare
from ..table import COLUMNS, totals_lines
from ..text import md_cell
from .html import place, settings_line

TITLES = {"params_macs": "Parameters and MACs per layer",
          "memory": "Activation memory and the live-memory curve",
          "receptive_field": "Receptive field per layer",
          "training": "Where the training memory goes"}


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "net"


def render(sections: Sequence[dict], folder: str) -> tuple[str, dict[str, str]]:
    """The Markdown text and the files it refers to ({path relative to the Markdown file:
    SVG text}); ``folder`` is the name of the folder beside it (``review_files``)."""
    files: dict[str, str] = {}
    names = [s.get("title") or s["report"].name for s in sections]    # distinct (compare_keys)
    out = ["# archcalc review: " + md_cell(", ".join(names)), ""]
    if len(sections) > 1:
        out += ["## Side by side", "",
                render_compare([(s["report"], s["weight_layers"], s["source"])
                                for s in sections], "markdown"), ""]
    if len(sections) == 2:                  # what the change costs: archcalc diff's view
        from ...diff import diff
        from ..diff import render_markdown as diff_markdown
        a, b = sections
        out += [diff_markdown(diff(a["report"], b["report"], a["net"], b["net"],
                                   sources=(a["source"], b["source"]))).rstrip(), ""]
    used: set[str] = set()
    for s in sections:
        r: Report = s["report"]
        key = slug(r.name)
        while key in used:
            key += "_"
        used.add(key)
        out += [f"## {md_cell(s.get('title') or r.name)}", "", md_cell(settings_line(r))
                + (f" · from `{s['source']}`" if s.get("source") else ""), "", "### Totals", ""]
        out += [f"- **{k}**: {md_cell(v)}" for k, v in totals_lines(r)]
        out += ["", f"### Warnings ({len(r.diagnostics)})", ""]
        for d in r.diagnostics:
            where = f" [{md_cell(d.layer)}]" if d.layer else ""
            hint = f" (hint: {md_cell(d.hint)})" if d.hint else ""
            out.append(f"- **{d.severity}**{where} at `{place(d.pos, s)}`: "
                       f"{md_cell(d.message)}{hint}")
        if not r.diagnostics:
            out.append("No warnings.")
        if s.get("drawing_note"):
            out += ["", "### Drawings", "", s["drawing_note"]]
        if s.get("volumes"):
            path = f"{folder}/{key}_volumes.svg"
            files[path] = s["volumes"]
            out += ["", "### Volumes", "", f"![The volumes of {md_cell(r.name)}]({path})"]
        if s.get("mermaid"):
            out += ["", "### Graph", ""] + ([s["graph_note"], ""]
                                            if s.get("graph_note") else [])
            out += ["```mermaid", s["mermaid"].rstrip(), "```"]
        if s.get("plots"):
            out += ["", "### Plots", ""]
            for stem, svg in s["plots"]:
                path = f"{folder}/{key}_{stem}.svg"
                files[path] = svg
                out += [f"![{TITLES.get(stem, stem)}]({path})", ""]
        out += ["", "### Layers", "",
                f"<details><summary>{counted(r.layer_count, 'layer')}</summary>", "",
                "| " + " | ".join(c.header for c in COLUMNS) + " |",
                "|" + "|".join("---" if c.justify == "left" else "---:" for c in COLUMNS) + "|"]
        vols = {row.name: row.output for row in r.layers}
        out += ["| " + " | ".join(md_cell(c.cell(row, vols, r, False)) for c in COLUMNS) + " |"
                for row in r.layers]
        out += ["", "</details>", ""]
    return "\n".join(out).rstrip() + "\n", files
