"""``archcalc compare``: the totals of several networks side by side."""
from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, overload

from ..report import SCHEMA, Report
from ..units import human_bytes, human_count
from .text import md_cell, width_of

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

# a network compared: its report, its weight layers and, where known, the SPEC it came from
Entry = tuple[Report, int] | tuple[Report, int, str | None]

COMPARE_ROWS = (("weight layers", None), ("parameters", "params"), ("buffers", "buffers"),
                ("MACs", "macs"), ("activations", "activations"), ("peak bytes", "peak_bytes"))

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

def compare_rows(entries: Sequence[Entry], short: bool = False) -> list[list[str]]:
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
    def build(rows: list[list[str]], compact: bool = False) -> Table:
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
    need = width_of(console, table)
    if console.is_terminal and need > console.width:   # many networks: one row each instead
        table = build([list(col) for col in zip(*rows)], compact=True)
        need = width_of(console, table)
    if need > console.width:
        console = Console(width=need, file=console.file, force_terminal=console.is_terminal,
                          no_color=console.no_color)
    console.print(table)
    for line in legend:
        console.print(line, highlight=False, markup=False, soft_wrap=not console.is_terminal)
    return None
