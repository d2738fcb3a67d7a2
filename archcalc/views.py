"""Views: render a Report (or several) as a rich table, JSON, Markdown or CSV. No arithmetic
happens here beyond unit formatting."""
from __future__ import annotations

import csv
import io
import json
from typing import Sequence

from .report import LayerRow, Report, fold

FORMATS = ("table", "json", "markdown", "csv")


def human_bytes(n: int) -> str:
    """Binary units: 1 KiB = 1024 B, 1 MiB = 1024² B, 1 GiB = 1024³ B."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def human_count(n: int) -> str:
    """Decimal units for counts: K = 10³, M = 10⁶, G = 10⁹."""
    for unit, scale in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def vol_text(v) -> str:
    return f"{v[0]}×{v[1]}×{v[2]}"


def _op_text(row: LayerRow) -> str:
    return f"{row.op} {row.detail}".strip() + (" (in place)" if row.inplace and row.op != "flatten"
                                               else "")


def _totals_lines(r: Report) -> list[tuple[str, str]]:
    t, s = r.totals, r.settings
    frozen = t.params - t.trainable_params
    return [
        ("parameters", f"{t.params:,} ({human_count(t.params)})"
         + (f", of which {frozen:,} non-trainable" if frozen else "")),
        ("MACs", f"{t.macs:,} ({human_count(t.macs)})"),
        ("FLOPs (2 × MACs)", f"{t.flops:,} ({human_count(t.flops)})"),
        ("activations", f"{t.activations:,} elements, {human_bytes(t.activation_bytes)} at "
         f"{s.dtype}, batch {s.batch}" + ("" if s.count_inplace else ", ReLU/dropout in place")),
        ("peak activations", f"{human_bytes(t.peak_bytes)} ({t.peak_bytes:,} B) at {t.peak_layer}"),
        ("parameter memory", f"{human_bytes(t.param_bytes)} ({t.param_bytes:,} B)"),
        ("training estimate", f"{human_bytes(t.training_bytes)} ({s.optimizer}; see docs/definitions.md)"),
    ]


def _wide_enough(console, table):
    """A console as wide as the table needs: a number is never cut or wrapped (on a narrow
    terminal, or in a pipe, where rich assumes 80 columns, long lines are better than lost
    digits)."""
    from rich.console import Console
    from rich.measure import Measurement
    need = Measurement.get(console, console.options.update_width(10_000), table).maximum
    if need <= console.width:
        return console
    return Console(width=need, file=console.file, force_terminal=console.is_terminal,
                   no_color=console.no_color)


def render_table(r: Report, depth: int | None = None, console=None) -> None:
    from rich.console import Console
    from rich.table import Table
    console = console or Console()
    table = Table(title=f"{r.name} — input {vol_text(r.input)}", title_justify="left")
    for col, just in (("layer", "left"), ("op", "left"), ("output", "right"), ("params", "right"),
                      ("MACs", "right"), ("activations", "right"), ("RF", "right")):
        table.add_column(col, justify=just, no_wrap=True)
    for row in fold(r.layers, depth):
        table.add_row(row.name, _op_text(row), vol_text(row.output), f"{row.params:,}",
                      f"{row.macs:,}", f"{row.activations:,}", row.rf.text())
    console = _wide_enough(console, table)
    console.print(table)
    for k, v in _totals_lines(r):
        console.print(f"[bold]{k}[/bold]: {v}", highlight=False)
    for d in r.diagnostics:      # one line each here; `archcalc validate` shows them in full
        console.print(f"{d.severity} [{d.layer}]: {d.message}", style="yellow", highlight=False,
                      markup=False)


def render_json(r: Report) -> str:
    return json.dumps(r.to_dict(), indent=2)


def render_markdown(r: Report, depth: int | None = None) -> str:
    out = [f"## {r.name} — input {vol_text(r.input)}", "",
           "| layer | op | output | params | MACs | activations | RF |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for row in fold(r.layers, depth):
        out.append(f"| {row.name} | {_op_text(row)} | {vol_text(row.output)} | {row.params:,} | "
                   f"{row.macs:,} | {row.activations:,} | {row.rf.text()} |")
    out.append("")
    out += [f"- **{k}**: {v}" for k, v in _totals_lines(r)]
    out += [f"- **{d.severity}**: {d.render(caret=False)}" for d in r.diagnostics]
    return "\n".join(out) + "\n"


def render_csv(r: Report, depth: int | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "op", "inputs", "out_h", "out_w", "out_c", "params", "trainable_params",
                "macs", "activations", "rf_size", "rf_stride", "rf_start"])
    for row in fold(r.layers, depth):
        rf = row.rf.to_dict()
        size = "global" if row.rf.is_global else rf["size"]
        w.writerow([row.name, row.op, " ".join(row.inputs), *row.output, row.params,
                    row.trainable_params, row.macs, row.activations, size,
                    rf.get("stride", ""), rf.get("start", "")])
    return buf.getvalue()


COMPARE_ROWS = (("weight layers", None), ("parameters", "params"), ("MACs", "macs"),
                ("activations", "activations"), ("peak bytes", "peak_bytes"))


def compare_rows(reports: Sequence[tuple[Report, int]], short: bool = False) -> list[list[str]]:
    """Rows of the side-by-side comparison: a header of names, then one row per figure
    (exact counts, or rounded ones such as 138.36M where ``short``)."""
    rows = [["", *[r.name for r, _ in reports]]]
    for label, key in COMPARE_ROWS:
        if key is None:
            rows.append([label, *[str(n) for _, n in reports]])
        else:
            vals = [getattr(r.totals, key) for r, _ in reports]
            fmt = human_bytes if key.endswith("bytes") else human_count
            rows.append([label, *[fmt(v) if short else str(v) for v in vals]])
    return rows


def render_compare(reports, fmt: str = "table", console=None) -> str | None:
    rows = compare_rows(reports, short=fmt == "table")
    if fmt == "json":
        return json.dumps({r.name: {"weight_layers": n, **r.totals.to_dict()} for r, n in reports},
                          indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        return buf.getvalue()
    if fmt == "markdown":
        out = ["| " + " | ".join(rows[0]) + " |", "|---" + "|---:" * (len(rows[0]) - 1) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return "\n".join(out) + "\n"
    from rich.console import Console
    from rich.table import Table
    table = Table()
    for i, h in enumerate(rows[0]):
        table.add_column(h, justify="left" if i == 0 else "right", no_wrap=True)
    for r in rows[1:]:
        table.add_row(*r)
    console = console or Console()
    _wide_enough(console, table).print(table)
    return None
