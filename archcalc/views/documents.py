"""One report as a document: JSON (``Report.to_dict``, with summary's extras), Markdown and CSV."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from ..report import Report
from .table import COLUMNS, Column, totals_lines
from .text import md_cell, vol_text


def render_json(r: Report, depth: int | None = None,
                sharing: dict[str, tuple[int, int, int]] | None = None) -> str:
    doc = r.to_dict(depth)
    from ..analysis.conventions import every_total
    from ..analysis.ledger import report_ledger, unknown
    doc["totals"]["conventions"] = every_total(r)    # docs/definitions.md, "Counting conventions"
    # the everything convention by category (docs/definitions.md, "The operations ledger")
    doc["totals"]["ledger"] = {**report_ledger(r), "unknown_layers": unknown(r)}
    if sharing:                  # summary --sharing: each convolution's three counts
        for row in doc["layers"]:
            if row["name"] in sharing:
                shared, local, dense = sharing[row["name"]]
                row["sharing"] = {"shared": shared, "locally_connected": local, "dense": dense}
    return json.dumps(doc, indent=2)

def render_markdown(r: Report, depth: int | None = None, extra: Sequence[Column] = ()) -> str:
    cols = (*COLUMNS, *extra)
    heads = [c.header for c in cols]
    out = [f"## {md_cell(r.name)} — input {vol_text(r.input)}", "",
           "| " + " | ".join(heads) + " |",
           "|" + "|".join("---" if c.justify == "left" else "---:" for c in cols) + "|"]
    rows = r.rows(depth)
    vols = {row.name: row.output for row in rows}
    for row in rows:
        out.append("| " + " | ".join(md_cell(c.cell(row, vols, r, False)) for c in cols)
                   + " |")
    out.append("")
    out += [f"- **{k}**: {md_cell(v)}" for k, v in totals_lines(r)]
    for d in r.diagnostics:
        where = f" [{md_cell(d.layer)}]" if d.layer else ""
        hint = f" (hint: {md_cell(d.hint)})" if d.hint else ""
        out.append(f"- **{d.severity}**{where} at `{d.pos}`: {md_cell(d.message)}{hint}")
    return "\n".join(out) + "\n"

CSV_COLUMNS = ("name", "op", "detail", "inputs", "in_h", "in_w", "in_c", "out_h", "out_w",
               "out_c", "params", "trainable_params", "buffers", "macs", "activations",
               "inplace", "global", "rf_h", "rf_w", "rf_stride_h", "rf_stride_w", "rf_start_h",
               "rf_start_w", "rf_aligned", "train_only")

def render_csv(r: Report, depth: int | None = None,
               sharing: dict[str, tuple[int, int, int]] | None = None) -> str:
    """One row per layer (no totals row: every row is a layer, so that a spreadsheet or pandas
    can sum and filter; the params and buffers columns sum to the totals, and so do the macs and
    activations of the rows whose train_only is false).
    ``inputs`` is a JSON array of names; ``in_*`` are the first input's volume; receptive-field
    columns are empty for a global layer. With ``sharing`` (summary --sharing), three more
    columns: the parameters of a locally connected and of a dense layer, for convolutions."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS + (("locally_connected_params", "dense_params") if sharing else ()))
    rows = r.rows(depth)
    vols = {row.name: row.output for row in rows}
    for row in rows:
        vin = vols[row.inputs[0]] if row.inputs else ("", "", "")
        rf = row.rf.to_dict()
        local = [] if row.rf.is_global else [*rf["size"], *rf["stride"], *rf["start"]]
        w.writerow([row.name, row.op, row.detail, json.dumps(list(row.inputs)), *vin,
                    *row.output, row.params, row.trainable_params, row.buffers, row.macs,
                    row.activations, str(row.inplace).lower(), str(row.rf.is_global).lower(),
                    *(local or [""] * 6), str(row.rf.aligned).lower(),
                    str(row.train_only).lower(),
                    *((sharing[row.name][1:] if row.name in sharing else ("", ""))
                      if sharing else ())])
    return buf.getvalue()
