"""How sweep results are written, one row a variant as it arrives: a text table, CSV or JSON Lines
(``--format``); to standard output, or to a file (``-o``, :class:`archcalc.files.AtomicFile`)
that appears only when the sweep is complete."""
from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from typing import Any, TextIO

from ..analysis.figures import FIGURES
from ..design.sweep import LATENCY, Axis, Result
from ..ops.values import as_written as show
from ..settings import check_choice
from ..units import human_bytes, human_count

FORMATS = ("table", "csv", "json", "jsonl", "html")  # json, jsonl: JSON Lines, one a variant;
# html: the page of the Pareto front (archcalc.views.report.front), written at the end


def heading(key: str) -> str:
    """A figure's column heading."""
    return "Latency ms" if key == LATENCY else FIGURES[key].heading


def unit(key: str) -> str:
    """How a figure is shortened: "count", "bytes", "px" or "ms"."""
    return "ms" if key == LATENCY else FIGURES[key].kind


def short(value: Any, unit: str) -> str:
    """A figure as the table shows it: counts in K/M/G, bytes in KiB/MiB/GiB; None (a
    receptive field global everywhere) as "global"."""
    if value is None:
        return "global" if unit == "px" else "-"
    if unit == "bytes":
        return human_bytes(value)
    if unit == "count":
        return human_count(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


FIGURE_W = 10       # a figure's column: 138.36M, 24.50 MiB, Latency ms


class Writer:
    """Writes the rows of one sweep to ``out`` in ``fmt``. ``widths`` (the table's) are the
    widest value of each parameter, so columns line up without holding the rows; ``count``
    the largest variant number + 1 (the space's size where a sample is drawn from it).
    ``width``: the terminal's columns, which the table then fits: the figures are hidden from
    the right as far as needed, the parameters kept, and a line above the table names what was
    hidden; an invalid variant's message is cut to the line (None: every column, whole lines)."""

    def __init__(self, out: TextIO, fmt: str, names: Sequence[str], count: int,
                 keys: Sequence[str], widths: dict | None = None, width: int | None = None,
                 convention: str = "torchvision"):
        self.out, self.fmt, self.names, self.keys = out, fmt, list(names), list(keys)
        self.width = width
        self.convention = convention       # what the MACs count (said above a table)
        self.hidden: list[str] = []
        if fmt == "csv":
            self.csv = csv.writer(out, lineterminator="\n")
        elif fmt == "table":
            self.index_w = max(1, len(str(max(count - 1, 0))))
            self.widths = {n: max(len(n), (widths or {}).get(n, 0)) for n in self.names}
            self.shown = list(self.keys)
            if width is not None:
                used = self.index_w + sum(w + 2 for w in self.widths.values())
                while self.shown and used + (FIGURE_W + 2) * len(self.shown) > width:
                    self.hidden.insert(0, self.shown.pop())

    def header(self) -> None:
        if self.fmt == "csv":
            self.csv.writerow(["variant", *self.names, "ok", *self.keys, "error", "error_layer"])
        elif self.fmt == "table":
            if self.convention != "torchvision" and "macs" in self.shown:
                what = "operations" if self.convention == "everything" else "counted"
                self.out.write(f"(MACs: {what} under the {self.convention} convention, "
                               "docs/definitions.md)\n")
            if self.hidden:
                import textwrap
                note = (f"(hidden at {self.width} columns: "
                        f"{', '.join(heading(k) for k in self.hidden)}; --format csv shows every "
                        "column)")
                self.out.write("\n".join(textwrap.wrap(note, self.width or len(note))) + "\n")
            cells = [f"{'#':>{self.index_w}}"] + [f"{n:>{self.widths[n]}}" for n in self.names]
            cells += [f"{heading(k):>{FIGURE_W}}" for k in self.shown]
            self.out.write("  ".join(cells) + "\n")

    def _fit(self, line: str) -> str:
        """``line`` cut to the terminal's width (… where cut)."""
        if self.width is None or len(line) <= self.width:
            return line
        return line[:max(1, self.width - 1)] + "…"

    def row(self, r: Result) -> None:
        if self.fmt == "csv":
            figures = r.figures or {}
            err = r.error or {}
            self.csv.writerow([r.variant, *(show(r.settings[n]) for n in self.names),
                               "true" if r.error is None else "false",
                               *("" if figures.get(k) is None else figures[k]
                                 for k in self.keys),
                               err.get("message", ""), err.get("layer") or ""])
        elif self.fmt == "table":
            cells = [f"{r.variant:>{self.index_w}}"]
            cells += [f"{show(r.settings[n]):>{self.widths[n]}}" for n in self.names]
            if r.error is None:
                figures = r.figures or {}       # a valid variant has them
                cells += [f"{short(figures[k], unit(k)):>{FIGURE_W}}" for k in self.shown]
            else:
                where = f" [{r.error['layer']}]" if r.error.get("layer") else ""
                cells.append(f"invalid{where}: {r.error['message']}")
            self.out.write(self._fit("  ".join(cells)) + "\n")
        else:
            doc = {"variant": r.variant, "settings": r.settings, "ok": r.error is None}
            if self.convention != "torchvision":
                doc["convention"] = self.convention
            doc.update({k: (r.figures or {}).get(k) for k in self.keys})
            doc["error"] = r.error
            self.out.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n")


def column_widths(axes: Sequence[Axis]) -> dict[str, int]:
    """The widest shown value of each axis (for a long range: its ends and a few between)."""
    out = {}
    for a in axes:
        vals = a.values
        picks = vals if len(vals) <= 1000 else \
            [vals[k] for k in range(0, len(vals), len(vals) // 1000)] + [vals[-1]]
        out[a.name] = max((len(show(v)) for v in picks), default=0)
    return out


def format_of(path: str | None, fmt: str | None) -> str:
    """--format's value, else the output file's suffix (.csv, .jsonl/.json, .html), else
    table."""
    if fmt is not None:
        got = check_choice(fmt, FORMATS, "--format")
        return "json" if got == "jsonl" else str(got)
    suffix = os.path.splitext(path or "")[1].lower()
    return {".csv": "csv", ".jsonl": "json", ".json": "json", ".ndjson": "json",
            ".html": "html", ".htm": "html"}.get(suffix, "table")
