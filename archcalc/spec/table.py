"""Column tables: the VGG paper's configuration table, one network per column.

Two layouts parse: the tab-separated table exactly as the lectures print it (a header row
``Name:<TAB>A<TAB>A-LRN...``, an optional ``# Layers`` row, then rows whose first cell is a row
label, usually empty, and whose other cells hold one token or nothing), and the same table in
Markdown (``| Name | A | ... |``, a ``|---|`` rule, then rows). Lines before the header (prose)
are skipped; the table ends at the first line that is not a table row.
"""
from __future__ import annotations

import re
from dataclasses import replace

from ..errors import ArchcalcError, Diagnostic, SourcePos, error
from ..graph import Builder, Network
from ..ops import Vol
from .text import FC_TOKEN, Defaults, Word, WordMemo, emit_word, letter_runs

_HEADER = re.compile(r"\s*\|?\s*name\s*:?\s*(\t|\|)", re.I)


def looks_like_table(text: str) -> bool:
    return any(_HEADER.match(line) for line in text.split("\n"))


def _cells(line: str, markdown: bool) -> list[tuple[str, int]]:
    """(cell text, 1-based column of its first character) for each cell of a row."""
    sep = "|" if markdown else "\t"
    body, shift = line, 0
    if markdown:
        stripped = line.rstrip()
        lead = len(line) - len(line.lstrip())
        body = stripped[lead:]
        shift = lead
        if body.startswith("|"):
            body, shift = body[1:], shift + 1
        if body.endswith("|"):
            body = body[:-1]
    out, start = [], 0
    for part in body.split(sep):
        lead = len(part) - len(part.lstrip())
        out.append((part.strip(), shift + start + lead + 1))
        start += len(part) + 1
    return out


def _emit_column(b: Builder, words: list[Word], d: Defaults, memo: WordMemo,
                 diags: list[Diagnostic]) -> None:
    """One column's layers. The VGG paper's table omits the ReLUs, but its text says that all
    hidden layers are equipped with the rectification non-linearity: a column without any ReLU
    of its own gets one after every conv and every fully connected layer but the last."""
    errors, warnings = letter_runs(words)       # a cell is one layer: MP is not a max pool
    diags.extend(errors)
    b.warnings.extend(warnings)
    relu = not any(w.text.lower() in ("r", "relu") for w in words)
    fcs = [i for i, w in enumerate(words) if FC_TOKEN.fullmatch(w.text)]
    last_fc = fcs[-1] if fcs else None
    for i, w in enumerate(words):
        try:
            layers = emit_word(b, w, d, memo)
        except ArchcalcError as exc:
            diags.extend(exc.diagnostics)
            continue
        if relu and layers and (layers[-1].op in ("conv", "dwconv")
                                or (layers[-1].op == "fc" and i != last_fc)):
            b.add("relu", {}, w.pos)


def parse_table(text: str, file: str, input: Vol, defaults: Defaults,
                column: str | None) -> dict[str, Network] | Network:
    """All columns as {name: Network}, or the one named ``column``."""
    lines = text.split("\n")
    head = next((i for i, line in enumerate(lines) if _HEADER.match(line)), None)
    if head is None:
        raise error("no table header row found", SourcePos(file, 1, 1),
                    hint="a column table starts with a row 'Name:<TAB>A<TAB>B ...'")
    markdown = lines[head].lstrip().startswith("|")
    header = _cells(lines[head], markdown)
    names = [c for c, _ in header[1:]]
    while names and not names[-1]:
        names.pop()
    if not names or any(not n for n in names):
        raise error("every column in the header row needs a name",
                    SourcePos(file, head + 1, 1, lines[head]))
    if len(set(names)) != len(names):
        raise error("column names in the header repeat", SourcePos(file, head + 1, 1, lines[head]))
    if column is not None and column not in names:
        raise error(f"no column {column!r} in the table", SourcePos(file, head + 1, 1, lines[head]),
                    hint="columns: " + ", ".join(names), kind="usage")
    wanted = [column] if column is not None else names
    builders = {n: Builder(n, input, SourcePos(file, head + 1, 1)) for n in wanted}
    states = {n: replace(defaults) for n in wanted}   # each column has its own running width
    declared: dict[str, tuple[int, SourcePos]] = {}
    memo: WordMemo = {}
    diags: list[Diagnostic] = []
    column_words: dict[str, list[Word]] = {n: [] for n in wanted}
    for i in range(head + 1, len(lines)):
        line = lines[i]
        if markdown:
            if not line.strip().startswith("|"):
                break
            if re.fullmatch(r"\s*\|?[\s:|-]*-[\s:|-]*", line):
                continue
        elif "\t" not in line:
            break
        cells = _cells(line, markdown)
        label = cells[0][0]
        for j, (cell, col) in enumerate(cells[1:]):
            if j >= len(names):
                if cell:
                    diags.append(Diagnostic("error", f"cell {cell!r} lies beyond the last column",
                                            SourcePos(file, i + 1, col, line),
                                            "remove it or name its column in the header"))
                continue
            name = names[j]
            if not cell or name not in builders:
                continue
            pos = SourcePos(file, i + 1, col, line)
            if re.fullmatch(r"#\s*layers?:?", label, re.I):
                if not cell.isdigit():
                    diags.append(Diagnostic("error", f"'# Layers' of {name} must be a number, got "
                                            f"{cell!r}", pos))
                else:
                    declared[name] = (int(cell), pos)
                continue
            column_words[name].append(Word(cell, pos))
    broken = set()                   # columns with a bad cell: their layer count proves nothing
    for name, words in column_words.items():
        before = len(diags)
        _emit_column(builders[name], words, states[name], memo, diags)
        if len(diags) > before:
            broken.add(name)
    nets = {}
    for name, b in builders.items():
        if len(b.layers) == 1:
            diags.append(Diagnostic("error", f"column {name} has no layers",
                                    SourcePos(file, head + 1, 1)))
            continue
        net = b.build(defaults.rounding, file, "table")
        if name in declared and name not in broken:
            want, pos = declared[name]
            got = net.weight_layers()
            if got != want:
                diags.append(Diagnostic(
                    "error", f"column {name} declares {want} weight layers but holds {got} "
                    "(conv and fully connected layers)", pos,
                    "correct the '# Layers' row or the column's tokens"))
        nets[name] = net
    if diags:
        # in file order (cells are read row by row, but the '# Layers' checks come last)
        raise ArchcalcError(sorted(diags, key=lambda d: (d.pos.line, d.pos.col)))
    return nets[column] if column is not None else nets
