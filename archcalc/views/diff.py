"""``archcalc diff``: the views of a :class:`~archcalc.diff.Diff`: plain text (piped), rich (a
terminal), Markdown and JSON."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..diff import Delta, Diff, RowChange, signed, value_text, whole_blocks
from ..diff.gates import GateResult
from ..units import human_bytes, human_count
from .text import Justify, Step, diag_line, fit_columns, md_cell, plain_table, width_of

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

    from ..ops import Vol
    from ..report import Report

# ---------------------------------------------------------------------------------------------
# views

def _count(n: float | None) -> str:
    return "" if n is None else f"{n:,}"


def _change_text(t: Delta) -> str:
    if t.change is None:
        return "n/a"
    if t.change == 0:
        return "="
    unit = " B" if t.key.endswith("bytes") else ""
    pct = "" if t.percent is None else \
        f" ({t.percent:+.1f}%)" if abs(t.percent) >= 0.05 else \
        f" ({t.percent:+.3f}%)" if abs(t.percent) >= 0.0005 else " (≈0%)"
    return f"{t.change:+,}{unit}{pct}".replace("-", "−")


def totals_rows(d: Diff) -> list[list[str]]:
    """[label, before, after, change] per total (the rf row names its layers)."""
    rows = []
    for t in d.totals:
        label = t.label
        if t.key == "rf" and any(t.where):
            wa, wb = t.where
            label += f" ({wa})" if wa == wb else f" ({wa} → {wb})"
        if t.key == "peak_bytes" and t.where[0] != t.where[1]:
            label += f" (at {t.where[0]} → {t.where[1]})"
        elif t.key == "peak_bytes":
            label += f" (at {t.where[0]})"
        rows.append([label, value_text(t, 0), value_text(t, 1), _change_text(t)])
    return rows


def _arrow(before: Any, after: Any, fmt: Callable[[Any], str] = str) -> str:
    """A figure before → after (one value where they agree or one side is missing)."""
    if before is None:
        return fmt(after)
    if after is None:
        return fmt(before)
    return fmt(before) if before == after else f"{fmt(before)} → {fmt(after)}"


def _vol(v: Vol | None) -> str:
    return "" if v is None else f"{v[0]}×{v[1]}×{v[2]}"


def _value(v: Any) -> str:
    """An attribute's value as the spec writes it (a JSON value: public_attrs)."""
    if isinstance(v, list):
        return "×".join(str(x) for x in v) if all(isinstance(x, int) for x in v) and \
            len(v) == 2 else ", ".join(str(x) for x in v)
    if isinstance(v, bool):             # as the spec writes it (YAML), not Python's True
        return "true" if v else "false"
    return "—" if v is None else str(v)


ROW_HEADERS = ("", "layer", "op", "changes", "output", "params", "Δparams", "MACs", "ΔMACs",
               "activations", "RF")
ROW_JUSTIFY: tuple[Justify, ...] = ("left", "left", "left", "left", "right", "right",
                                    "right", "right", "right", "right", "right")
MARK = {"added": "+", "removed": "−", "changed": "~"}
# the layer table's columns a narrow terminal drops, first to last (the deltas stay)
DROP_ORDER = ("RF", "activations", "MACs", "params", "output", "op")





def layer_rows(d: Diff, fold_blocks: bool = True) -> list[list[str]]:
    """One row of text cells (ROW_HEADERS) per added, removed or changed layer; with
    ``fold_blocks``, one row for a block instance added or removed whole."""
    out = []
    blocks = whole_blocks(d) if fold_blocks else {}
    shown: set[str] = set()
    for r in d.rows:
        if r.status in ("same", "rf", "renumbered"):
            continue
        if r.status in ("added", "removed") and r.name in blocks:
            key, block = blocks[r.name]
            if key in shown:
                continue
            shown.add(key)
            r = RowChange(r.status, None if r.status == "added" else block,
                          block if r.status == "added" else None)
        f = r.figures
        name = r.name if not (r.a and r.b and r.a.name != r.b.name) else \
            f"{r.a.name} → {r.b.name}"
        op = _arrow(r.a.op if r.a else None, r.b.op if r.b else None)
        if r.status in ("added", "removed"):
            row = r.row
            changes = f"{r.status}" + (f": {row.detail}" if row.detail else "")
        else:
            changes = "; ".join(f"{c.key} {_value(c.before)} → {_value(c.after)}"
                                for c in r.changes if c.key != "name")
            # (a row matched by structure shows both names, a → b; the line above the table
            # says how many were)
        out.append([MARK[r.status], name, op, changes.strip(),
                    _arrow(*f["output"], _vol), _arrow(*f["params"], _count),
                    signed(r.delta("params")), _arrow(*f["macs"], _count),
                    signed(r.delta("macs")), _arrow(*f["activations"], _count),
                    _arrow(*f["rf"])])
    return out


def _renaming(r: RowChange) -> str:
    """"a → b": the names of a row in both networks."""
    return f"{r.a.name if r.a else '—'} → {r.name}"


def _title(d: Diff) -> str:
    def side(rep: Report, src: str | None) -> str:
        return rep.name + (f" ({src})" if src and src != rep.name else "")
    return f"diff: {side(d.a, d.sources[0])} → {side(d.b, d.sources[1])}"


def summary_line(d: Diff) -> str:
    c = d.counts()
    if d.identical:
        return "no differences: every layer and every total is the same"
    renamed = len(d.renamed)
    blocks = whole_blocks(d)

    def whole(status: str) -> str:
        n = len({blocks[r.name][0] for r in d.rows if r.status == status and r.name in blocks})
        return f" ({n} whole block{'s' * (n != 1)})" if n else ""
    line = (f"layers: {c['changed']} changed, {c['added']} added{whole('added')}, "
            f"{c['removed']} removed{whole('removed')}, "
            f"{c['unchanged'] + c['rf_only'] + c['renumbered']} unchanged" +
            (f" ({renamed} renamed, matched by structure)" if renamed else ""))
    if c["rf_only"] or c["renumbered"]:
        line += "; of the unchanged (not listed), " + " and ".join(
            ([f"{c['renumbered']} only renumbered ({_renaming(d.renumbered[0])}: names given "
              "by position)"] if c["renumbered"] else [])
            + ([f"{c['rf_only']} see another receptive field through a change upstream"]
               if c["rf_only"] else []))
    return line


def _diag_lines(d: Diff) -> list[str]:
    return ([f"new in B: {diag_line(x)}" for x in d.diagnostics_added]
            + [f"gone from A: {diag_line(x)}" for x in d.diagnostics_removed])


def render_text(d: Diff, gates: Sequence[GateResult] = ()) -> str:
    """Plain text (for pipes and files): title, totals (before, after, change), the summary
    line, the changed rows, diagnostics that appeared or went, the gates."""
    out = plain_table(_title(d), ["total", "A", "B", "change"],
                      ["left", "right", "right", "right"], totals_rows(d))
    out += "\n" + summary_line(d) + "\n"
    rows = layer_rows(d)
    if rows:
        out += "\n" + plain_table("layers (+ added, − removed, ~ changed)", ROW_HEADERS,
                                  ROW_JUSTIFY, rows)
    lines = _diag_lines(d) + [("FAILED " if g.tripped else "passed ") + g.message
                              for g in gates]
    if lines:
        out += "\n" + "".join(line + "\n" for line in lines)
    return out


def render_rich(d: Diff, gates: Sequence[GateResult] = (),
                console: Console | None = None) -> None:
    """The same on a terminal, with rich tables, fitted to its width: the totals drop their
    exact bytes in parentheses (and their labels break between words); the layer table shortens
    a name past 40 columns, breaks the changes between words, then hides its least needed
    columns (a note names them) and shortens the names. A number is never cut; what is still
    too wide (a terminal narrower than any table) prints at its own width."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text
    console = console or Console()
    fit = console.is_terminal

    def show(table: RenderableType) -> None:
        need = width_of(console, table)
        c = console if need <= console.width else Console(
            width=need, file=console.file, force_terminal=console.is_terminal,
            no_color=console.no_color)
        c.print(table)

    heads = ["total", "A", "B", "change"]
    justify: list[Justify] = ["left", "right", "right", "right"]
    styles = [None if not t.change else ("red" if t.change > 0 else "green") for t in d.totals]

    def totals(rows: list[list[str]], keep: Sequence[int], compact: bool) -> Table:
        t = Table(title=Text(_title(d)), title_justify="left",
                  box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD, pad_edge=not compact)
        for k in keep:
            t.add_column(Text(heads[k]), justify=justify[k], no_wrap=True)
        for row, style in zip(rows, styles):
            t.add_row(*(Text(c, style=style or "") if k == 3 else Text(c)
                        for k, c in zip(keep, row)))
        return t

    full = totals_rows(d)
    t = totals(full, range(4), False)
    if fit and width_of(console, t) > console.width:
        short = []
        for row in full:    # "23.17 MiB (24,291,232 B)" → "23.17 MiB", "+4,014,080 B" →
            row = [_short(c) for c in row]          # "+3.83 MiB", 15,470,264,320 → 15.47G
            row[0] = row[0].replace("receptive field at the output", "RF at the output") \
                .replace("weights inference loads (bytes)", "inference weights")
            short.append(row)
        got = fit_columns(console.width, heads, short, [(0, "wrap", 16), (3, "wrap", 8)],
                          lambda keep, h, rs: width_of(console, totals(rs, keep, True)))
        t = totals(got.rows, got.keep, True)
        totals_note = got.note(console.width, "--format json shows every figure")
    else:
        totals_note = None
    show(t)
    if totals_note:
        console.print(totals_note, style="dim", highlight=False, markup=False)
    console.print(summary_line(d), style="bold", highlight=False, markup=False)
    rows = layer_rows(d)
    if rows:
        color = {"+": "green", "−": "red", "~": "yellow"}
        marks = [row[0] for row in rows]

        def layers(keep: Sequence[int], cells: list[list[str]], compact: bool = False) -> Table:
            t = Table(box=box.SIMPLE_HEAD, title="layers (+ added, − removed, ~ changed)",
                      title_justify="left", pad_edge=not compact, collapse_padding=compact)
            for k in keep:
                t.add_column(Text(ROW_HEADERS[k]), justify=ROW_JUSTIFY[k], no_wrap=True)
            for mark, row in zip(marks, cells):
                t.add_row(*(Text(c) for c in row), style=color[mark])
            return t

        t, note = layers(range(len(ROW_HEADERS)), rows), None
        if fit and width_of(console, t) > console.width:
            col = ROW_HEADERS.index
            steps: list[Step] = [(col("layer"), "middle", 40), (col("changes"), "wrap", 30),
                                 *(col(name) for name in DROP_ORDER),
                                 (col("changes"), "wrap", 16), (col("layer"), "middle", 12)]
            got = fit_columns(console.width, ROW_HEADERS, rows, steps,
                              lambda keep, h, rs: width_of(console, layers(keep, rs, True)),
                              anchor=col("layer"))
            t = layers(got.keep, got.rows, True)
            note = got.note(console.width, "--format json shows every figure")
        show(t)
        if note:
            console.print(note, style="dim", highlight=False, markup=False)
    for line in _diag_lines(d):
        console.print(line, style="yellow", highlight=False, markup=False)
    for g in gates:
        console.print(("FAILED " if g.tripped else "passed ") + g.message,
                      style="bold red" if g.tripped else "green", highlight=False, markup=False)


def _short(cell: str) -> str:
    """A totals cell for a narrow terminal: exact bytes and long counts in short form."""

    cell = re.sub(r" \([\d,]+ B\)", "", cell)
    cell = re.sub(r"^([+−-]?)([\d,]+) B\b", lambda m: m.group(1) + human_bytes(
        int(m.group(2).replace(",", ""))), cell)
    return re.sub(r"^([+−-]?)(\d{1,3}(?:,\d{3}){2,})", lambda m: m.group(1) + human_count(
        int(m.group(2).replace(",", ""))), cell)


def render_markdown(d: Diff, gates: Sequence[GateResult] = ()) -> str:
    """For a pull request: the totals table, the summary line, the changed rows, the rest."""
    out = [f"## {md_cell(_title(d))}", "", "| total | A | B | change |", "|---|---:|---:|---:|"]
    out += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in totals_rows(d)]
    out += ["", md_cell(summary_line(d))]
    rows = layer_rows(d)
    if rows:
        out += ["", "| " + " | ".join(h or "±" for h in ROW_HEADERS) + " |",
                "|" + "|".join("---" if j == "left" else "---:" for j in ROW_JUSTIFY) + "|"]
        out += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    lines = _diag_lines(d) + [("**FAILED** " if g.tripped else "passed ") + g.message
                              for g in gates]
    if lines:
        out.append("")
        out += [f"- {md_cell(line)}" for line in lines]
    return "\n".join(out) + "\n"


def render_json(d: Diff, gates: Sequence[GateResult] = ()) -> str:
    doc = d.to_dict()
    doc["gates"] = [g.to_dict() for g in gates]
    doc["ok"] = not any(g.tripped for g in gates)
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str)
