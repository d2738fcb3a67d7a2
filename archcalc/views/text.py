"""Plain-text building blocks every view uses: volumes, shares, one-line diagnostics, Markdown
cells, tables as plain text, the width a rich renderable needs, and how a table and its prose
fit a terminal of a given width (``fit_columns``, ``wrap_text``)."""
from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple, TextIO

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

def plain_table(title: str | None, headers: Sequence[str], justify: Sequence[str],
                rows: Sequence[Sequence[str]], width: Callable[[str], int] = len,
                rule: bool = True) -> str:
    """A table as plain text: its title (None: none), columns two spaces apart, numbers
    right-aligned, a rule under the header (unless not ``rule``); every line whole (for pipes,
    files and grep). ``width``: a cell's width in columns (``cell_width`` on a terminal, where
    a cell may also hold several lines: ``fit_columns``)."""
    def size(text: str) -> int:
        return max(width(part) for part in text.split("\n"))
    widths = [max([size(h)] + [size(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def lines(cells: Sequence[str]) -> list[str]:
        parts = [c.split("\n") for c in cells]
        out = []
        for k in range(max((len(p) for p in parts), default=1)):
            out.append("  ".join(_pad(p[k] if k < len(p) else "", w, j, width)
                                 for p, w, j in zip(parts, widths, justify)).rstrip())
        return out
    out = [*([] if title is None else [title]), *lines(headers),
           *(["  ".join("─" * w for w in widths)] if rule else [])]
    for r in rows:
        out += lines(r)
    return "\n".join(out) + "\n"

def _pad(text: str, w: int, justify: str, width: Callable[[str], int]) -> str:
    fill = " " * (w - width(text))
    return text + fill if justify == "left" else fill + text

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


# ---------------------------------------------------------------------------------------------
# fitting a terminal

def terminal_width(stream: TextIO | None = None) -> int | None:
    """The columns of the terminal ``stream`` (standard output by default) is, or None where it
    is not one (a pipe or a file, which get whole lines)."""
    try:
        if not (stream or sys.stdout).isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return shutil.get_terminal_size().columns

def cell_width(text: str) -> int:
    """The columns ``text`` takes on a terminal, at its widest line (rich's measure: × and µ
    take one column, an East Asian wide character two)."""
    from rich.cells import cell_len
    return max((cell_len(line) for line in text.split("\n")), default=0)

def _take(text: str, n: int, from_end: bool = False) -> str:
    """The first (or last) characters of ``text`` that fit in ``n`` columns."""
    from rich.cells import cell_len
    out, used = [], 0
    for ch in (reversed(text) if from_end else text):
        used += cell_len(ch)
        if used > n:
            break
        out.append(ch)
    return "".join(reversed(out) if from_end else out)

def shorten(text: str, n: int, where: str = "end") -> str:
    """``text`` in at most ``n`` columns: whole where it fits, else cut with … at its end or (for
    names, whose end tells them apart: ``Mixed_5b/br…dbl_1/conv``) in its middle, keeping the
    last index before the last part where it can (``encoder.…11/self_attention``)."""
    if cell_width(text) <= n:
        return text
    if n <= 1:
        return "…"[:n]
    if where == "middle":
        # a name's end tells siblings apart, and so does the last index before its last part
        # (the block: encoder_layer_11/self_attention): keep from that index on where the rest
        # leaves room for a head (en…11/self_attention), else cut in the middle
        cut = max(text.rfind("."), text.rfind("/"))
        found = list(_DIGITS.finditer(text, 0, cut)) if cut > 0 else []
        if found:
            tail = text[found[-1].start():]
            head = n - 1 - cell_width(tail)
            if head >= 1:
                return _take(text, head) + "…" + tail
        head = (n - 1) // 2
        return _take(text, head) + "…" + _take(text, n - 1 - head, from_end=True)
    return _take(text, n - 1) + "…"


_DIGITS = re.compile(r"\d+")

_NUMBER = re.compile(r"[(\[]*[+−-]?\d[\d,.]*[%KMGTPE]?[)\],;:]*")


def is_number(word: str) -> bool:
    """Whether ``word`` is a number as the views write one (138,357,544, +1.85G, −3.1%,
    (102,764,544), 4,096,): never cut across lines. A name with digits (layer1.1) is not."""
    return _NUMBER.fullmatch(word) is not None


def wrap_text(text: str, width: int | None, indent: int | str = 0,
              break_words: bool = True, lead: str = "") -> str:
    """``text`` broken between words into lines of at most ``width`` columns, each line's
    continuation indented by ``indent`` (a count of spaces or a prefix; 4 spaces where that is
    more than half the width); a word longer than a whole line is cut (with ``break_words``)
    or left on a line of its own. ``lead`` starts the first line as it is (aligned labels
    keep their spaces). A line that fits is left as it is; ``width`` None (a pipe): all of
    them."""
    if width is None:
        return lead + text
    pad = " " * indent if isinstance(indent, int) else indent
    if cell_width(pad) > width // 2:
        pad = " " * min(4, width // 4)
    out: list[str] = []
    for k, para in enumerate(text.split("\n")):
        first = lead if k == 0 else ""
        if cell_width(first + para) <= width:
            out.append(first + para)
            continue
        body = para.lstrip(" ")
        line = first + para[:len(para) - len(body)]     # the paragraph's own indent stays
        if width - cell_width(line) < 10:           # a terminal too narrow for it: the lead
            if line.strip():                        # on a line of its own, the text under
                out.append(wrap_text(line.rstrip(" "), width, 4))
            line = pad if line.strip() or k else line[:max(0, width - 10)]
        bare = True                                 # nothing but the indent on it yet
        for word in body.split(" "):        # "" for a second space: kept within a line
            if bare and not word:
                continue
            joined = line + word if bare else f"{line} {word}"
            if cell_width(joined) <= width:
                line, bare = joined, False
                continue
            if not bare:
                out.append(line.rstrip(" "))
                line, bare = pad, True
            if not word:
                continue
            while break_words and cell_width(line + word) > width and \
                    width - cell_width(line) > 0 and not is_number(word):
                piece = _take(word, width - cell_width(line))
                out.append(line + piece)
                word, line = word[len(piece):], pad
            if bare and cell_width(line + word) > width:    # a number wider than the room the
                line = line[:max(0, width - cell_width(word))]  # indent leaves: less indent
            line, bare = line + word, False
        out.append(line)
    return "\n".join(out)

def fit_lines(text: str, width: int | None, indent: int = 4) -> str:
    """Prose as a diagnostic prints it (``Diagnostic.render``), fitted to a terminal of
    ``width`` columns: each line broken between words (its continuation indented by ``indent``
    more than the line), except a source line with a caret under it, of which both show the
    same window around the caret (… where cut). ``width`` None (a pipe): the text as it is."""
    if width is None:
        return text
    lines = text.split("\n")
    out: list[str] = []
    k = 0
    while k < len(lines):
        line = lines[k]
        caret = lines[k + 1] if k + 1 < len(lines) else ""
        if caret.strip() == "^" and len(caret) > 0 and cell_width(line) > width:
            lead = len(line) - len(line.lstrip(" "))
            at = len(caret) - 1                 # the caret's column
            room = max(1, width - lead - 2)     # an … on each side at most
            start = max(lead, min(at - room // 2, len(line) - room))
            left = "…" if start > lead else ""
            end = start + room
            right = "…" if end < len(line) else ""
            out.append(" " * lead + left + line[start:end] + right)
            out.append(" " * (lead + len(left) + at - start) + "^")
            k += 2
            continue
        own = len(line) - len(line.lstrip(" "))
        out.append(wrap_text(line, width, own + indent))
        k += 1
    return "\n".join(out)

def wrap_cell(text: str, width: int, break_words: bool = False) -> str:
    """A table cell's text in lines of at most ``width`` columns, broken between words (a word
    longer than that is cut only with ``break_words``)."""
    return "\n".join(wrap_text(para, width, 0, break_words) for para in text.split("\n"))


class Fitted(NamedTuple):
    """A table fitted to a width: the columns kept (indices into the original ones), their
    headers and cells (some shortened or wrapped), and what was done: the headers of the columns
    hidden (in the order they went) and of those whose text was shortened with …."""
    keep: list[int]
    headers: list[str]
    rows: list[list[str]]
    hidden: list[str]
    shortened: list[str]

    def note(self, width: int, every: str) -> str | None:
        """What a reader must be told: "(hidden at 60 columns: op, input; layer shortened with
        …; --format csv shows every column)", or None where the table is whole."""
        if not self.hidden and not self.shortened:
            return None
        parts = [f"hidden at {width} columns: {', '.join(self.hidden)}" if self.hidden
                 else f"at {width} columns"]
        if self.shortened:
            parts.append(f"{' and '.join(self.shortened)} "
                         "shortened with …")
        return "(" + "; ".join([*parts, every]) + ")"


# a step towards a narrower table: a column to hide (its index), or (index, how, least): its
# text made narrower, down to ``least`` columns at most: "middle" or "end" (shortened with …
# there: names, never numbers), "wrap" (broken between words onto more lines: prose)
Step = int | tuple[int, str, int]
# (kept indices, their headers, rows) → the columns the table needs; fit_columns gives it one
# row, of each column's widest cell, which makes the table as wide as all of them do
Measure = Callable[[list[int], list[str], list[list[str]]], int]


def fit_columns(width: int, headers: Sequence[str], rows: Sequence[Sequence[str]],
                steps: Sequence[Step], measure: Measure, anchor: int = 0,
                names: Sequence[str] | None = None) -> Fitted:
    """Make a table fit ``width`` columns: take ``steps`` in order (least needed first) until it
    fits, narrowing a column only as far as the table needs. Past them, hide the columns right of
    ``anchor`` from the last, then narrow ``anchor``'s own text as its step says (or shorten it
    at its end), cutting long words if it must. Then, where that left room, undo what was done
    in the reverse order (the most needed first): a hidden column comes back if it fits, a
    narrowed one widens as far as it fits. What is hidden or shortened in the end is in the
    result, by ``names`` (the headers unless given: a column whose header is blank needs one)."""
    keep = list(range(len(headers)))
    heads = list(headers)
    cells = [list(r) for r in rows]
    done: list[tuple[int, str]] = []        # (column, "hide" or how it was narrowed), in order
    how = {s[0]: s[1] for s in steps if not isinstance(s, int)}

    widest: dict[int, str] = {}             # column → its widest cell (a table's width is theirs)

    def refresh(i: int) -> None:
        widest[i] = max((r[i] for r in cells), key=cell_width, default="")

    for i in keep:
        refresh(i)

    def need() -> int:              # measured on one row of the widest cells: the same width
        return measure(list(keep), [heads[i] for i in keep],
                       [[widest[i] for i in keep]] if cells else [])

    def narrow(i: int, mode: str, least: int, final: bool = False) -> None:
        over = need() - width
        if i not in keep or over <= 0:
            return
        now = max(cell_width(heads[i]), cell_width(widest[i]))
        if (i, mode) not in done:
            done.append((i, mode))
        if mode == "wrap":              # between words; a long name is cut, a number never
            words = [w for c in [headers[i], *(r[i] for r in rows)] for w in c.split()
                     if is_number(w)]
            n = max(least, *(cell_width(w) for w in words), now - over)
            heads[i] = wrap_cell(headers[i], n, True)
            for r, orig in zip(cells, rows):
                r[i] = wrap_cell(orig[i], n, True)
            refresh(i)
            return
        n = max(least, 1 if final else cell_width(headers[i]), now - over)
        for r, orig in zip(cells, rows):
            r[i] = shorten(orig[i], n, mode)
        refresh(i)

    def hide(i: int) -> None:
        keep.remove(i)
        done.append((i, "hide"))

    for step in steps:
        if need() <= width:
            break
        if isinstance(step, int):
            if step in keep and step != anchor:
                hide(step)
        else:
            narrow(*step)
    while need() > width and keep[-1] > anchor:
        hide(keep[-1])
    if need() > width:
        narrow(anchor, how.get(anchor, "end"), 1, final=True)
    if need() <= width:
        for i, what in reversed(list(done)):
            if what == "hide":
                keep.append(i)
                keep.sort()
                if need() <= width:
                    done.remove((i, what))
                else:
                    keep.remove(i)
            else:                           # back to whole, then as narrow as it must be
                heads[i] = headers[i]
                for r, orig in zip(cells, rows):
                    r[i] = orig[i]
                refresh(i)
                narrow(i, what, 1)
                narrow(i, what, 1, final=True)
    named = list(names or headers)
    shortened = [i for i, what in done if what in ("middle", "end") and i in keep and
                 any(r[i] != orig[i] for r, orig in zip(cells, rows))]
    return Fitted(keep, [heads[i] for i in keep], [[r[i] for i in keep] for r in cells],
                  [named[i] for i, what in done if what == "hide"],
                  list(dict.fromkeys(named[i] for i in shortened)))


def plain_measure(gap: int = 2) -> Measure:
    """``fit_columns``'s measure for ``plain_table``'s layout: columns ``gap`` apart."""
    def measure(keep: list[int], headers: list[str], rows: list[list[str]]) -> int:
        widths = [max([cell_width(h)] + [cell_width(r[k]) for r in rows])
                  for k, h in enumerate(headers)]
        return sum(widths) + gap * max(0, len(widths) - 1)
    return measure


def fitted_table(title: str, headers: Sequence[str], justify: Sequence[str],
                 rows: Sequence[Sequence[str]], width: int | None, steps: Sequence[Step] = (),
                 anchor: int = 0, every: str = "") -> str:
    """``plain_table`` fitted to a terminal of ``width`` columns (``fit_columns``), its title
    wrapped and a note under it saying what was hidden or shortened; ``width`` None (a pipe):
    the whole table."""
    if width is None:
        return plain_table(title, headers, justify, rows)
    got = fit_columns(width, headers, rows, steps, plain_measure(), anchor)
    text = plain_table(wrap_text(title, width), got.headers, [justify[i] for i in got.keep],
                       got.rows, cell_width)
    note = got.note(width, every)
    return text + (wrap_text(note, width, 1) + "\n" if note else "")

