"""``archcalc compare``: the totals of several networks side by side."""
from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, overload

from ..analysis.figures import under
from ..report import SCHEMA, Report
from ..units import bytes_exact, human_bytes, human_count
from .text import Justify, Step, fit_columns, md_cell, plain_table, width_of

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

# a network compared: its report, its weight layers and, where known, the SPEC it came from
Entry = tuple[Report, int] | tuple[Report, int, str | None]

# (label, Totals key, a transposed table's short heading): the figures put side by side
# (weight layers: counted from the network; rf: the receptive field at the output, as
# archcalc.analysis.figures reads it)
COMPARE_ROWS = (("weight layers", None, "layers"), ("parameters", "params", "params"),
                ("buffers", "buffers", "buffers"), ("MACs", "macs", "MACs"),
                ("FLOPs", "flops", "FLOPs"), ("activations", "activations", "activations"),
                ("peak bytes", "peak_bytes", "peak"),
                ("training bytes", "training_bytes", "training"),
                ("receptive field at the output", "rf", "RF"))

def compare_keys(entries: Sequence[Entry]) -> list[str]:
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
        files = [os.path.basename(x) for x in srcs if x and os.path.isfile(x)]
        if src and len(files) == len(srcs) and len(set(files)) == len(files):
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

def _rf(report: Report) -> tuple[str, float | None]:
    """The receptive field at the output: as text ("212 /32"; "global" where no layer sees a
    window) and its larger side (None for global)."""
    from ..analysis.figures import output_rf
    from ..analysis.rf import at_output
    found = at_output(report)
    return ("global" if found is None else found[1].text()), output_rf(report)

def _number(v: float | None) -> str:
    return "" if v is None else str(int(v)) if v == int(v) else f"{v:g}"

def compare_rows(entries: Sequence[Entry], short: bool = False,
                 separators: bool = False) -> list[list[str]]:
    """Rows of the side-by-side comparison: a header of keys (see ``compare_keys``), then one
    row per figure: exact counts (the receptive field's larger side), or with ``separators``
    exact counts with thousands separators and bytes in binary units with the exact count
    (Markdown), or where ``short`` rounded ones such as 138.36M; these two give the receptive
    field as size /stride ("212 /32")."""
    rows = [["", *compare_keys(entries)]]
    counted = {e[0].settings.convention for e in entries}
    for label, key, _ in COMPARE_ROWS:
        if key is not None and len(counted) == 1:        # one convention: the rows say it
            label = under(label, key, next(iter(counted)))
        if key is None:
            rows.append([label, *[str(e[1]) for e in entries]])
        elif key == "rf":
            fields = [_rf(e[0]) for e in entries]
            rows.append([label, *[text if short or separators else _number(side)
                                  for text, side in fields]])
        else:
            vals = [getattr(e[0].totals, key) for e in entries]
            size = key.endswith("bytes")
            fmt = (human_bytes if size else human_count) if short else \
                (bytes_exact if size else "{:,}".format) if separators else str
            rows.append([label, *[fmt(v) for v in vals]])
    return rows

def _legend(entries: Sequence[Entry], keys: list[str]) -> list[str]:
    """"key: source" for each network whose name another one shares, so that a reader can
    tell them apart."""
    names = [e[0].name for e in entries]
    return [f"{k}: {e[2]}" for k, e in zip(keys, entries)
            if names.count(e[0].name) > 1 and len(e) > 2 and e[2]]

@overload
def render_compare(entries: Sequence[Entry], fmt: Literal["json", "csv", "markdown"],
                   console: Console | None = None) -> str: ...
@overload
def render_compare(entries: Sequence[Entry], fmt: str = "table",
                   console: Console | None = None) -> str | None: ...
def render_compare(entries: Sequence[Entry], fmt: str = "table",
                   console: Console | None = None) -> str | None:
    """``entries``: (report, weight layers[, source]) per network, source being the SPEC it
    came from. Networks with the same name get distinct keys (``compare_keys``); the table and
    Markdown views then say under the table where each came from."""
    rows = compare_rows(entries, short=fmt == "table", separators=fmt == "markdown")
    legend = _legend(entries, rows[0][1:])
    if fmt == "json":
        keys = rows[0][1:]
        return json.dumps({"schema": SCHEMA, "networks": {
            k: {"name": e[0].name, "source": e[2] if len(e) > 2 else None,
                "convention": e[0].settings.convention,
                "weight_layers": e[1], **e[0].totals.to_dict(), "rf": _rf(e[0])[1]}
            for k, e in zip(keys, entries)}}, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        return buf.getvalue()
    if fmt == "markdown":
        out = ["| " + " | ".join(md_cell(c) for c in rows[0]) + " |",
               "|---" + "|---:" * (len(rows[0]) - 1) + "|"]
        out += ["| " + " | ".join(md_cell(c) for c in r) + " |" for r in rows[1:]]
        out += [""] + [f"- {md_cell(line)}" for line in legend] if legend else []
        return "\n".join(out) + "\n"
    right: list[Justify] = ["right"] * (len(rows[0]) - 1)
    justify: list[Justify] = ["left", *right]
    if console is None and not sys.stdout.isatty():     # a pipe: plain text, as summary's
        return plain_table(None, rows[0], justify, rows[1:]) + \
            "".join(line + "\n" for line in legend)
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    def build(rows: list[list[str]], compact: bool = False,
              just: Sequence[Justify] = justify) -> Table:
        from rich import box
        table = Table(box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD, pad_edge=not compact,
                      collapse_padding=compact)
        for h, j in zip(rows[0], just):
            table.add_column(Text(h), justify=j, no_wrap=True)
        for r in rows[1:]:
            table.add_row(*(Text(c) for c in r))
        return table
    on = console = console or Console()
    table = build(rows)
    note = None
    if console.is_terminal and width_of(console, table) > console.width:
        # many networks: one row each instead, the figures under short headings; then the
        # least needed figures hidden and long keys shortened, as fit_columns does
        heads = ["", *(short for _, _, short in COMPARE_ROWS)]
        names = ["network", *(label for label, _, _ in COMPARE_ROWS)]
        flipped = [list(col) for col in zip(*rows)][1:]
        fig: list[Justify] = ["right"] * len(COMPARE_ROWS)
        just: list[Justify] = ["left", *fig]
        order = ("buffers", "FLOPs", "activations", "layers", "RF", "training", "peak")
        steps: list[Step] = [(0, "middle", 24), *(heads.index(h) for h in order),
                             (0, "middle", 8)]
        got = fit_columns(console.width, heads, flipped, steps,
                          lambda keep, h, rs: width_of(on, build(
                              [h, *rs], True, [just[i] for i in keep])), names=names)
        table = build([got.headers, *got.rows], True, [just[i] for i in got.keep])
        note = got.note(console.width, "--format csv shows every figure")
    need = width_of(console, table)
    if need > console.width:
        console = Console(width=need, file=console.file, force_terminal=console.is_terminal,
                          no_color=console.no_color)
    console.print(table)
    soft = not console.is_terminal
    if note:
        console.print(note, style="dim", highlight=False, markup=False, soft_wrap=soft)
    for line in legend:
        console.print(line, highlight=False, markup=False, soft_wrap=soft)
    return None
