"""Plain-text building blocks every view uses: volumes, shares, one-line diagnostics, Markdown
cells, tables as plain text, and the width a rich renderable needs."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from ..errors import Diagnostic

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

Justify = Literal["left", "right"]      # how a column's cells align


def vol_text(v: Sequence[int]) -> str:
    return f"{v[0]}×{v[1]}×{v[2]}"

def share_text(part: int, whole: int) -> str:
    """A row's share of a total, as the table shows it: "" for none, "<0.1%" for a sliver."""
    if not part or not whole:
        return ""
    pct = 100 * part / whole
    return "<0.1%" if pct < 0.05 else f"{pct:.1f}%"

def plain_table(title: str, headers: Sequence[str], justify: Sequence[str],
                rows: Sequence[Sequence[str]]) -> str:
    """A table as plain text: columns two spaces apart, numbers right-aligned, a rule under the
    header; every line whole (for pipes, files and grep)."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if j == "left" else c.rjust(w)
                         for c, w, j in zip(cells, widths, justify)).rstrip()
    out = [title, line(headers), "  ".join("─" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out) + "\n"

def diag_line(d: Diagnostic) -> str:
    return f"{d.severity}{f' [{d.layer}]' if d.layer else ''}: {d.message}"

def md_cell(text: str) -> str:
    """Text for a Markdown table cell or line: a | would end the cell, a newline the row, a
    backtick open a code span, and <...> read as an HTML tag (which GitHub strips)."""
    return (str(text).replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
            .replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " "))


def width_of(console: Console, renderable: RenderableType) -> int:
    """The columns ``renderable`` needs on ``console`` at its widest (nothing wrapped)."""
    from rich.measure import Measurement
    return Measurement.get(console, console.options.update_width(100_000), renderable).maximum
