"""Errors → messages and exit codes, in one place (as pip's ``cli/status_codes.py``).

The library raises :class:`~archcalc.errors.ArchcalcError` with a *kind*; the command line maps
each kind to its exit code here, and nowhere else:

====  ==============================================================================
0     success
1     a finding: the spec has errors, a budget is exceeded, a gate trips, nothing fits
2     bad usage (an option, an argument) or a file that cannot be read or written
3     an internal error (a bug: please report it)
130   interrupted (Ctrl-C, SIGINT, SIGTERM)
====  ==============================================================================

Under ``--format json`` every outcome, errors included, is a JSON document on standard output
(docs/diagnostics.md).
"""
from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

import typer

from ..errors import INTERNAL, ArchcalcError, Diagnostic, Kind, SourcePos
from ..report import SCHEMA

SUCCESS = 0
FINDING = 1
USAGE = 2
INTERNAL_ERROR = 3
INTERRUPTED = 130
EXIT_CODES: dict[Kind, int] = {"spec": FINDING, "usage": USAGE, "io": USAGE,
                               "internal": INTERNAL_ERROR}



def exit_code(exc: ArchcalcError) -> int:
    return EXIT_CODES[exc.kind]


class Finding(Exception):
    """What a command found and already said (validate's errors, a tripped gate, a budget that
    nothing fits): exit 1, nothing more printed. ``lines`` go to standard error first (where the
    finding was not the command's main output)."""

    def __init__(self, lines: Sequence[str] = ()):
        super().__init__("; ".join(lines))
        self.lines = list(lines)


class StreamedError(ArchcalcError):
    """An error raised after the command streamed its results to standard output as JSON Lines
    (every sweep variant invalid): it is said on standard error, never as a JSON document that
    would break the stream."""


def error_document(diagnostics: Sequence[Diagnostic]) -> dict[str, Any]:
    """The JSON document of a command that failed (or of ``validate``): docs/diagnostics.md."""
    errors = sum(d.severity == "error" for d in diagnostics)
    return {"schema": SCHEMA, "ok": errors == 0, "errors": errors,
            "warnings": len(diagnostics) - errors,
            "diagnostics": [d.to_dict() for d in diagnostics]}


def print_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2, ensure_ascii=False))


def say(text: str) -> None:
    """``text`` (an error, a warning) on standard error, its lines fitted to the terminal
    standard error is (broken between words, a source line kept around its caret); whole lines
    on a pipe or into a file."""
    from ..views.text import fit_lines, terminal_width
    sys.stderr.write(fit_lines(text, terminal_width(sys.stderr)) + "\n")


def note(text: str) -> None:
    """A line for the user beside the output (on standard error): ``archcalc: …``."""
    say(f"archcalc: {text}")


def fail(exc: ArchcalcError, as_json: bool = False) -> NoReturn:
    """Report ``exc`` (as a JSON document on stdout under --format json, else on stderr) and
    exit with its code. When stdout itself cannot be written, that is the error reported."""
    if as_json and not (isinstance(sys.stdout, SafeStdout) and sys.stdout.dropped):
        try:
            print_json(error_document(exc.diagnostics))
            raise typer.Exit(exit_code(exc))
        except ArchcalcError as unwritable:
            exc = unwritable
    say(exc.render())
    raise typer.Exit(exit_code(exc))


def wants_json(fmt: Any) -> bool:
    return isinstance(fmt, str) and fmt.strip().lower().lstrip("=") in ("json", "jsonl")


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command body: archcalc's own errors become messages and exit codes, never
    tracebacks (ARCHCALC_DEBUG=1 shows one for an internal error). With ``--format json``
    every outcome, errors included, is a JSON document on stdout."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = wants_json(kwargs.get("format"))
        try:
            return fn(*args, **kwargs)
        except ArchcalcError as exc:
            fail(exc, as_json and not isinstance(exc, StreamedError))
        except Finding as found:
            for line in found.lines:
                say(line)
            raise typer.Exit(FINDING) from None
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            sys.stderr.write("archcalc: interrupted\n")
            raise typer.Exit(INTERRUPTED) from None
        except BrokenPipeError:         # a reader that went away before we wrote to it
            quiet_stdout()
            raise typer.Exit(SUCCESS) from None
        except Exception as exc:        # a bug: say so in one line
            if os.environ.get("ARCHCALC_DEBUG"):
                raise
            message = f"internal error: {type(exc).__name__}: {exc}"
            hint = "please report it; ARCHCALC_DEBUG=1 shows the traceback"
            if as_json:
                fail(ArchcalcError(Diagnostic("error", message, INTERNAL, hint),
                                   "internal"), True)
            say(f"archcalc: {message} ({hint})")
            raise typer.Exit(INTERNAL_ERROR) from None
    return wrapper


class SafeStdout:
    """Standard output that survives its reader: after a closed pipe (``archcalc validate … |
    head -1``) the rest of the output is dropped and the command still ends with its own exit
    code; any other write error (a full disk: ``> /dev/full``) becomes one clean error (kind
    "io"). Everything else is the wrapped stream's."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self.dropped = False

    def _guard(self, do: Callable[..., Any], *args: Any) -> Any:
        if self.dropped:
            return None
        try:
            return do(*args)
        except BrokenPipeError:
            self.dropped = True
            quiet_stdout()
            return None
        except OSError as exc:
            self.dropped = True
            quiet_stdout()
            raise ArchcalcError(Diagnostic(
                "error", f"cannot write standard output: {exc.strerror or exc}",
                SourcePos("<stdout>"), "write somewhere with room, or pipe it elsewhere"),
                "io") from None

    def write(self, text: str) -> int:
        self._guard(self._stream.write, text)
        return len(text)

    def flush(self) -> None:
        self._guard(self._stream.flush)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def quiet_stdout() -> None:
    """After a closed pipe (``archcalc ... | head``): send what is left to /dev/null, so that
    Python's final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
