"""Diagnostics: every problem archcalc reports carries a place, a message and a hint.

One exception type, :class:`ArchcalcError`, carries a list of diagnostics and the *kind* of the
problem: ``"spec"`` (the network as written is wrong), ``"usage"`` (an option or argument is
wrong), ``"io"`` (a file or stream cannot be read or written) or ``"internal"`` (a bug). The
library never chooses an exit code: the command line maps each kind to one
(``archcalc.cli.guard``). Nothing else in archcalc is meant to escape to a user.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

Kind = Literal["spec", "usage", "io", "internal"]
KINDS: tuple[Kind, ...] = ("spec", "usage", "io", "internal")


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


# Where each attribute of a layer was written, for sharper error positions: an attribute's value
# under its name, its key under ("key", name) (a front-end that knows them; see Op.normalize).
Places = Mapping[str | tuple[str, str], SourcePos]

NOWHERE = SourcePos("<api>")        # a value passed in from Python
OPTIONS = SourcePos("<options>")    # a command-line option (or the same keyword from Python)
INTERNAL = SourcePos("<internal>")  # archcalc itself (a bug)


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" | "warning"
    message: str
    pos: SourcePos = NOWHERE
    hint: str | None = None
    layer: str | None = None
    # what a fix-finder needs to know (archcalc.analysis.fixes), e.g. {"kind": "rounding", ...}
    fix: dict[str, Any] | None = field(default=None, compare=False, hash=False, repr=False)

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

    def to_dict(self) -> dict[str, Any]:
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
    """Raised with one or more diagnostics when a spec cannot be read or analyzed, or a request
    cannot be carried out. ``kind`` says whose the problem is (see the module's docstring)."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic, kind: Kind = "spec",
                 partial: Any = None):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        if kind not in KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        self.diagnostics = list(diagnostics)
        self.kind: Kind = kind
        # a spec front-end's error may carry the network built from the layers that could be
        # built (those that depend on no bad layer): `archcalc validate` analyzes it too
        self.partial = partial
        super().__init__("\n".join(d.render(caret=False) for d in self.diagnostics))

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)

    def as_kind(self, kind: Kind) -> ArchcalcError:
        """The same diagnostics as another kind (a value that is a spec's error when a spec
        gives it is a usage error when an option gives it)."""
        return ArchcalcError(self.diagnostics, kind, self.partial)


def error(message: str, pos: SourcePos = NOWHERE, hint: str | None = None,
          layer: str | None = None, kind: Kind = "spec") -> ArchcalcError:
    """Build (not raise) an :class:`ArchcalcError` with one error diagnostic."""
    return ArchcalcError([Diagnostic("error", message, pos, hint, layer)], kind)
