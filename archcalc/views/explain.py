"""``archcalc explain`` as text, Markdown or JSON: each figure with its formula and numbers."""
from __future__ import annotations

import json
from collections.abc import Sequence

from ..report import SCHEMA, Report
from .text import cell_width, md_cell, vol_text, wrap_text


def _wrapped(lead: str, text: str, width: int | None) -> str:
    """``lead`` + ``text``, broken between words at ``width`` with the continuation lines under
    the text's first column (or at 4 spaces where the lead is wider than half the width); a
    word longer than a line (a long layer name) is cut across lines, nothing runs past
    ``width``."""
    if not width or cell_width(lead + text) <= width:
        return lead + text
    return wrap_text(text, width, " " * (len(lead) if len(lead) <= width // 2 else 4),
                     lead=lead)

def explain_document(report: Report, layers: Sequence, totals: Sequence[str]) -> dict:
    """The JSON form of ``archcalc explain``: each figure with its formula, the worked numbers,
    the values by symbol, its value and a note."""
    return {"schema": SCHEMA, "name": report.name, "input": list(report.input),
            "settings": report.settings.to_dict(),
            "layers": [e.to_dict() for e in layers], "totals": list(totals)}

def render_explain(report: Report, layers: Sequence, totals: Sequence[str],
                   fmt: str = "text", wrap: int | None = None) -> str:
    """``layers``: LayerExplanations (archcalc.analysis.explain); ``totals``: sentences. ``wrap``:
    the text's width on a terminal (lines break between words, under their own column); None for
    a pipe, which gets whole lines."""
    if fmt == "json":
        return json.dumps(explain_document(report, layers, totals), indent=2)
    md = fmt == "markdown"
    rows = {row.name: row for row in report.layers}
    out = [f"## {md_cell(report.name)} — input {vol_text(report.input)}" if md else
           _wrapped("", f"{report.name} — input {vol_text(report.input)}", wrap), ""]
    width = max((len(f.label) for e in layers for f in e.figures), default=0)
    for e in layers:
        row = rows[e.name]
        src = " + ".join(vol_text(rows[s].output) for s in e.inputs)
        head = f"{e.name} — {e.op} {e.detail}".rstrip() + \
            (f" ({src} → {vol_text(row.output)})" if src else "") + \
            (" [training only]" if row.train_only else "")
        out.append(f"### {md_cell(head)}" if md else _wrapped("", head, wrap))
        for f in e.figures:
            out.append(f"- {f.label}: `{f.text()}`" if md else
                       _wrapped(f"  {f.label.ljust(width)}  ", f.text(), wrap))
        out.append("")
    if totals:
        out.append("### Totals" if md else "totals")
        out += [f"- {t}" if md else _wrapped("  ", t, wrap) for t in totals]
    return "\n".join(out).rstrip("\n") + "\n"
