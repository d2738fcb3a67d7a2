"""Views: render a Report (or several) as a rich table, JSON, Markdown or CSV. No arithmetic
happens here beyond unit formatting and shares of a total."""
from __future__ import annotations

import csv
import io
import json
from typing import Callable, NamedTuple, Sequence

from .report import SCHEMA, LayerRow, Report

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


def exact_and_short(n: int) -> str:
    """An exact count and, where it helps, its short form: "138,357,544 (138.36M)", "112"."""
    return f"{n:,}" if n < 1000 else f"{n:,} ({human_count(n)})"


def vol_text(v) -> str:
    return f"{v[0]}×{v[1]}×{v[2]}"


def share_text(part: int, whole: int) -> str:
    """A row's share of a total, as the table shows it: "" for none, "<0.1%" for a sliver."""
    if not part or not whole:
        return ""
    pct = 100 * part / whole
    return "<0.1%" if pct < 0.05 else f"{pct:.1f}%"


def _op_text(row: LayerRow) -> str:
    from .ops import OPS
    view = row.op in OPS and OPS[row.op].view
    return f"{row.op} {row.detail}".strip() + (" (view)" if row.inplace and view and
                                               row.op != "flatten" else
                                               " (in place)" if row.inplace and not view else "") \
        + (" [training only]" if row.train_only else "")


def _input_text(row: LayerRow, vols: dict) -> str:
    if not row.inputs:
        return ""
    first = vol_text(vols[row.inputs[0]])
    return first if len(row.inputs) == 1 else f"{first} +{len(row.inputs) - 1}"


def _totals_lines(r: Report) -> list[tuple[str, str]]:
    t, s = r.totals, r.settings
    per_batch = s.batch > 1
    lines = [
        ("parameters", f"{exact_and_short(t.params)}: {t.trainable_params:,} trainable"
         f", {t.non_trainable_params:,} non-trainable (PyTorch's and torchvision's count)"),
    ]
    if t.buffers:
        lines.append(("buffers", f"{t.buffers:,} (BatchNorm running statistics; Keras's \"Total "
                      f"params\" includes them: {t.params + t.buffers:,})"))
    lines += [
        ("MACs", f"{exact_and_short(t.macs)} per image"
         + (f", {exact_and_short(t.batch_macs)} per batch of {s.batch}"
            if per_batch else "")),
        ("FLOPs (2 × MACs)", f"{exact_and_short(t.flops)} per image"
         + (f", {exact_and_short(t.flops * s.batch)} per batch"
            if per_batch else "")),
        ("activations", f"{t.activations:,} elements per image, {human_bytes(t.activation_bytes)} "
         f"at {s.dtype}, batch {s.batch}"
         + ("" if s.count_inplace else ", activations/dropout in place")),
        ("peak activations", f"{human_bytes(t.peak_bytes)} ({t.peak_bytes:,} B) at {t.peak_layer}"),
        ("memory (inference)", f"input {human_bytes(t.input_bytes)} + forward activations "
         f"{human_bytes(t.forward_bytes)} + parameters {human_bytes(t.param_bytes)} = "
         f"{human_bytes(t.total_bytes)} estimated total"),
        ("training estimate", f"{human_bytes(t.training_bytes)} ({s.optimizer}; see "
         "docs/definitions.md)"),
    ]
    unaligned = [row.name for row in r.layers if not row.rf.is_global and not row.rf.aligned]
    if unaligned:
        lines.append(("RF !", f"{len(unaligned)} layers ({unaligned[0]} first) see a union of "
                      "receptive fields whose branches differ in stride or centre (not aligned: "
                      "docs/definitions.md); the warning names the merge where it starts"))
    if t.train_only_params or t.train_only_macs or t.train_only_activations:
        lines.insert(-1, ("training only", f"{exact_and_short(t.train_only_params)} params"
                          + (f" + {t.train_only_buffers:,} buffers" if t.train_only_buffers else "")
                          + f", {exact_and_short(t.train_only_macs)} MACs, "
                          f"{t.train_only_activations:,} activation elements per image: layers "
                          "marked [training only], in the parameters and the training estimate, "
                          "not in the MACs, activations, peak or inference memory above"))
    return lines


# ---------------------------------------------------------------------------------------------
# the table

class Column(NamedTuple):
    header: str
    justify: str
    cell: Callable[[LayerRow, dict, Report, bool], str]
    drop: int          # 0: always shown; otherwise the order in which a narrow terminal drops it


def _count(n: int, short: bool) -> str:
    return human_count(n) if short else f"{n:,}"


COLUMNS = (
    Column("layer", "left", lambda row, vols, r, short: row.name, 0),
    Column("op", "left", lambda row, vols, r, short: _op_text(row), 0),
    Column("input", "right", lambda row, vols, r, short: _input_text(row, vols), 2),
    Column("output", "right", lambda row, vols, r, short: vol_text(row.output), 0),
    Column("params", "right", lambda row, vols, r, short: _count(row.params, short), 0),
    Column("%params", "right",
           lambda row, vols, r, short: share_text(row.params, r.totals.params), 4),
    Column("MACs", "right", lambda row, vols, r, short: _count(row.macs, short), 0),
    # a training-only layer's MACs are not part of the (inference) total: no share of it
    Column("%MACs", "right", lambda row, vols, r, short: "" if row.train_only else
           share_text(row.macs, r.totals.macs), 5),
    Column("activations", "right",
           lambda row, vols, r, short: _count(row.activations, short), 6),
    Column("RF", "right", lambda row, vols, r, short: row.rf.text(), 7),
    Column("trainable", "left", lambda row, vols, r, short: row.trainable, 3),
)


def _table(r: Report, rows: list[LayerRow], cols: Sequence[Column], compact: bool):
    """A rich table; ``compact``: no borders, and counts in K/M/G (as the totals give them)."""
    from rich import box
    from rich.table import Table
    table = Table(title=f"{r.name} — input {vol_text(r.input)}", title_justify="left",
                  box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD, pad_edge=not compact,
                  collapse_padding=compact)
    for col in cols:
        table.add_column(col.header, justify=col.justify, no_wrap=True)
    vols = {row.name: row.output for row in rows}
    for row in rows:
        table.add_row(*[col.cell(row, vols, r, compact) for col in cols])
    return table


def _width(console, table) -> int:
    from rich.measure import Measurement
    return Measurement.get(console, console.options.update_width(100_000), table).maximum


def plain_table(title: str, headers: Sequence[str], justify: Sequence[str],
                rows: Sequence[Sequence[str]]) -> str:
    """A table as plain text: columns two spaces apart, numbers right-aligned, a rule under the
    header; every line whole (for pipes, files and grep)."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells) -> str:
        return "  ".join(c.ljust(w) if j == "left" else c.rjust(w)
                         for c, w, j in zip(cells, widths, justify)).rstrip()
    out = [title, line(headers), "  ".join("─" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out) + "\n"


def diag_line(d) -> str:
    return f"{d.severity}{f' [{d.layer}]' if d.layer else ''}: {d.message}"


def sharing_columns(sharing: dict[str, tuple[int, int, int]] | None) -> tuple[Column, ...]:
    """``summary --sharing``: for each convolution, how many times more parameters a locally
    connected layer (same windows, no sharing) and a dense layer (same volumes) would need.
    ``sharing``: layer name → (shared, locally connected, dense) parameters."""
    if not sharing:
        return ()

    def ratio(i: int):
        def cell(row, vols, r, short):
            got = sharing.get(row.name)
            if not got or not got[0]:
                return ""
            x = got[i] / got[0]
            return f"{human_count(round(x)) if short else f'{x:,.0f}'}×"
        return cell
    return (Column("×local", "right", ratio(1), 8), Column("×dense", "right", ratio(2), 9))


def render_table(r: Report, depth: int | None = None, console=None,
                 extra: Sequence[Column] = ()) -> None:
    """The summary table and totals. On a terminal (rich), a table too narrow for every column
    first turns compact (no borders; counts in K/M/G, exact in the totals and in every other
    format), then drops the least needed columns (a note names them); nothing is cut or wrapped.
    Piped output (not a terminal) is plain text with every column, exact, never wrapped (and
    rich is not even imported: it is most of the start-up time)."""
    import sys
    if console is None and not sys.stdout.isatty():
        rows = r.rows(depth)
        vols = {row.name: row.output for row in rows}
        cols = (*COLUMNS, *extra)
        text = plain_table(f"{r.name} — input {vol_text(r.input)}", [c.header for c in cols],
                           [c.justify for c in cols],
                           [[c.cell(row, vols, r, False) for c in cols] for row in rows])
        text += "\n" + "".join(f"{k}: {v}\n" for k, v in _totals_lines(r))
        text += "".join(diag_line(d) + "\n" for d in r.diagnostics)
        sys.stdout.write(text)
        return
    from rich.console import Console
    console = console or Console()
    rows = r.rows(depth)
    cols = [*COLUMNS, *extra]
    table = _table(r, rows, cols, compact=False)
    hidden: list[str] = []
    if console.is_terminal and _width(console, table) > console.width:
        table = _table(r, rows, cols, compact=True)
        for col in sorted((c for c in (*COLUMNS, *extra) if c.drop), key=lambda c: c.drop):
            if _width(console, table) <= console.width:
                break
            cols.remove(col)
            hidden.append(col.header)
            table = _table(r, rows, cols, compact=True)
    need = _width(console, table)
    width = console.width
    if need > console.width:          # never cut a number: print at the table's own width
        console = Console(width=need, file=console.file, force_terminal=console.is_terminal,
                          no_color=console.no_color)
    console.print(table)
    soft = not console.is_terminal      # a pipe gets whole lines; a terminal wraps at words
    if hidden:
        console.print(f"(hidden at {width} columns: {', '.join(hidden)}; --format csv shows "
                      "every column)", style="dim", highlight=False, soft_wrap=soft)
    for k, v in _totals_lines(r):
        console.print(f"[bold]{k}[/bold]: {v}", highlight=False, soft_wrap=soft)
    for d in r.diagnostics:      # one line each here; `archcalc validate` shows them in full
        console.print(diag_line(d), style="yellow", highlight=False, markup=False,
                      soft_wrap=soft)


# ---------------------------------------------------------------------------------------------
# documents

def render_json(r: Report, depth: int | None = None,
                sharing: dict[str, tuple[int, int, int]] | None = None) -> str:
    doc = r.to_dict(depth)
    if sharing:                  # summary --sharing: each convolution's three counts
        for row in doc["layers"]:
            if row["name"] in sharing:
                shared, local, dense = sharing[row["name"]]
                row["sharing"] = {"shared": shared, "locally_connected": local, "dense": dense}
    return json.dumps(doc, indent=2)


def md_cell(text: str) -> str:
    """Text for a Markdown table cell or line: a | would end the cell, a newline the row, a
    backtick open a code span, and <...> read as an HTML tag (which GitHub strips)."""
    return (str(text).replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
            .replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " "))


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
    out += [f"- **{k}**: {md_cell(v)}" for k, v in _totals_lines(r)]
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


# ---------------------------------------------------------------------------------------------
# comparing networks

COMPARE_ROWS = (("weight layers", None), ("parameters", "params"), ("buffers", "buffers"),
                ("MACs", "macs"), ("activations", "activations"), ("peak bytes", "peak_bytes"))


def compare_keys(entries: Sequence[tuple]) -> list[str]:
    """A distinct key per network: its name, or where names repeat, the name with the file it
    came from (``vgg16 (a.yaml)``) when that tells them apart, else ``name#2``, ``name#3``, …"""
    names = [e[0].name for e in entries]
    sources = [e[2] if len(e) > 2 else None for e in entries]
    keys = []
    for i, (name, src) in enumerate(zip(names, sources)):
        same = [j for j, n in enumerate(names) if n == name]
        if len(same) == 1:
            keys.append(name)
            continue
        srcs = [sources[j] for j in same]
        import os
        files = [os.path.basename(x) for x in srcs if x and os.path.isfile(x)]
        if len(files) == len(srcs) and len(set(files)) == len(files):
            key = f"{name} ({os.path.basename(src)})"
        else:
            n = same.index(i) + 1
            key = name if n == 1 else f"{name}#{n}"
        keys.append(key)
    seen: dict[str, int] = {}
    for i, k in enumerate(keys):          # whatever remains equal gets a number
        seen[k] = seen.get(k, 0) + 1
        if seen[k] > 1:
            keys[i] = f"{k}#{seen[k]}"
    return keys


def compare_rows(entries: Sequence[tuple], short: bool = False) -> list[list[str]]:
    """Rows of the side-by-side comparison: a header of keys (see ``compare_keys``), then one
    row per figure (exact counts, or rounded ones such as 138.36M where ``short``)."""
    rows = [["", *compare_keys(entries)]]
    for label, key in COMPARE_ROWS:
        if key is None:
            rows.append([label, *[str(e[1]) for e in entries]])
        else:
            vals = [getattr(e[0].totals, key) for e in entries]
            fmt = human_bytes if key.endswith("bytes") else human_count
            rows.append([label, *[fmt(v) if short else str(v) for v in vals]])
    return rows


def _legend(entries: Sequence[tuple], keys: list[str]) -> list[str]:
    """"key: source" for each network whose name another one shares, so that a reader can
    tell them apart."""
    names = [e[0].name for e in entries]
    return [f"{k}: {e[2]}" for k, e in zip(keys, entries)
            if names.count(e[0].name) > 1 and len(e) > 2 and e[2]]


def render_compare(entries: Sequence[tuple], fmt: str = "table", console=None) -> str | None:
    """``entries``: (report, weight layers[, source]) per network, source being the SPEC it
    came from. Networks with the same name get distinct keys (``compare_keys``); the table and
    Markdown views then say under the table where each came from."""
    rows = compare_rows(entries, short=fmt == "table")
    legend = _legend(entries, rows[0][1:])
    if fmt == "json":
        keys = rows[0][1:]
        return json.dumps({"schema": SCHEMA, "networks": {
            k: {"name": e[0].name, "source": e[2] if len(e) > 2 else None,
                "weight_layers": e[1], **e[0].totals.to_dict()}
            for k, e in zip(keys, entries)}}, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        return buf.getvalue()
    if fmt == "markdown":
        out = ["| " + " | ".join(md_cell(c) for c in rows[0]) + " |",
               "|---" + "|---:" * (len(rows[0]) - 1) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        out += [""] + [f"- {md_cell(line)}" for line in legend] if legend else []
        return "\n".join(out) + "\n"
    from rich.console import Console
    from rich.table import Table
    def build(rows, compact=False):
        from rich import box
        table = Table(box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD, pad_edge=not compact,
                      collapse_padding=compact)
        for i, h in enumerate(rows[0]):
            table.add_column(h, justify="left" if i == 0 else "right", no_wrap=True)
        for r in rows[1:]:
            table.add_row(*r)
        return table
    console = console or Console()
    table = build(rows)
    need = _width(console, table)
    if console.is_terminal and need > console.width:   # many networks: one row each instead
        table = build([list(col) for col in zip(*rows)], compact=True)
        need = _width(console, table)
    if need > console.width:
        console = Console(width=need, file=console.file, force_terminal=console.is_terminal,
                          no_color=console.no_color)
    console.print(table)
    for line in legend:
        console.print(line, highlight=False, markup=False, soft_wrap=not console.is_terminal)
    return None


# ---------------------------------------------------------------------------------------------
# explanations (archcalc explain)

def _wrapped(lead: str, text: str, width: int | None) -> str:
    """``lead`` + ``text``, broken between words at ``width`` with the continuation lines under
    the text's first column (or at 4 spaces where the lead is wider than half the width)."""
    if not width or len(lead) + len(text) <= width:
        return lead + text
    import textwrap
    indent = " " * (len(lead) if len(lead) <= width // 2 else 4)
    return textwrap.fill(text, width=width, initial_indent=lead, subsequent_indent=indent,
                         break_on_hyphens=False, break_long_words=False)


def explain_document(report: Report, layers: Sequence, totals: Sequence[str]) -> dict:
    """The JSON form of ``archcalc explain``: each figure with its formula, the worked numbers,
    the values by symbol, its value and a note."""
    return {"schema": SCHEMA, "name": report.name, "input": list(report.input),
            "settings": report.settings.to_dict(),
            "layers": [e.to_dict() for e in layers], "totals": list(totals)}


def render_explain(report: Report, layers: Sequence, totals: Sequence[str],
                   fmt: str = "text", wrap: int | None = None) -> str:
    """``layers``: LayerExplanations (archcalc.explain); ``totals``: sentences. ``wrap``: the
    text's width on a terminal (lines break between words, under their own column); None for
    a pipe, which gets whole lines."""
    if fmt == "json":
        return json.dumps(explain_document(report, layers, totals), indent=2)
    md = fmt == "markdown"
    rows = {row.name: row for row in report.layers}
    out = [f"## {md_cell(report.name)} — input {vol_text(report.input)}" if md else
           f"{report.name} — input {vol_text(report.input)}", ""]
    width = max((len(f.label) for e in layers for f in e.figures), default=0)
    for e in layers:
        row = rows[e.name]
        src = " + ".join(vol_text(rows[s].output) for s in e.inputs)
        head = f"{e.name} — {e.op} {e.detail}".rstrip() + \
            (f" ({src} → {vol_text(row.output)})" if src else "") + \
            (" [training only]" if row.train_only else "")
        out.append(f"### {md_cell(head)}" if md else head)
        for f in e.figures:
            out.append(f"- {f.label}: `{f.text()}`" if md else
                       _wrapped(f"  {f.label.ljust(width)}  ", f.text(), wrap))
        out.append("")
    if totals:
        out.append("### Totals" if md else "totals")
        out += [f"- {t}" if md else _wrapped("  ", t, wrap) for t in totals]
    return "\n".join(out).rstrip("\n") + "\n"
