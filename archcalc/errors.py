"""Diagnostics: every problem archcalc reports carries a place, a message and a hint.

One exception type, :class:`ArchcalcError`, carries a list of diagnostics; the CLI turns it into
text and an exit code. Nothing else in archcalc is meant to escape to a user.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class SourcePos(NamedTuple):
    """A place in the text a layer came from: file (or ``<spec>`` for a string), 1-based line and
    column. A named tuple: a 100,000-layer spec string makes one per word, and a tuple is built
    several times faster than a frozen dataclass."""

    file: str = "<spec>"
    line: int = 0
    col: int = 0
    source_line: str | None = None  # the text of that line, for a caret under the column

    def __str__(self) -> str:
        if self.line and self.col:
            return f"{self.file}:{self.line}:{self.col}"
        if self.line:
            return f"{self.file}:{self.line}"
        return self.file


NOWHERE = SourcePos("<api>")        # a value passed in from Python
OPTIONS = SourcePos("<options>")    # a command-line option (or the same keyword from Python)


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" | "warning"
    message: str
    pos: SourcePos = NOWHERE
    hint: str | None = None
    layer: str | None = None
    # what a fix-finder needs to know (archcalc.fixes), e.g. {"kind": "rounding", "axis": ...}
    fix: dict | None = field(default=None, compare=False, hash=False, repr=False)

    def render(self, caret: bool = True) -> str:
        where = str(self.pos)
        who = f" [{self.layer}]" if self.layer else ""
        out = f"{where}: {self.severity}{who}: {self.message}"
        if caret and self.pos.source_line is not None and self.pos.col:
            line = self.pos.source_line.rstrip("\r\n")
            if len(line) <= 200:         # tabs expanded alike above and below: the caret aligns
                before = line[:self.pos.col - 1].expandtabs(8)
                out += f"\n    {line.expandtabs(8)}\n    {' ' * len(before)}^"
        if self.hint:
            out += f"\n  hint: {self.hint}"
        return out

    def to_dict(self) -> dict:
        return {
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
            "layer": self.layer,
            "file": self.pos.file,
            "line": self.pos.line,
            "column": self.pos.col,
        }


class ArchcalcError(Exception):
    """Raised with one or more diagnostics when a spec cannot be parsed or analyzed.

    ``exit_code`` is 1 for problems in the spec and 2 for bad usage or an unreadable file.
    """

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic, exit_code: int = 1,
                 partial=None):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        self.exit_code = exit_code
        # a spec front-end's error may carry the network built from the layers that could be
        # built (those that depend on no bad layer): `archcalc validate` analyzes it too
        self.partial = partial
        super().__init__("\n".join(d.render(caret=False) for d in self.diagnostics))

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)


def error(message: str, pos: SourcePos = NOWHERE, hint: str | None = None, layer: str | None = None,
          exit_code: int = 1) -> ArchcalcError:
    """Build (not raise) an :class:`ArchcalcError` with one error diagnostic."""
    return ArchcalcError([Diagnostic("error", message, pos, hint, layer)], exit_code)
