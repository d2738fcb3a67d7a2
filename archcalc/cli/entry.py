"""The ``archcalc`` command: one table of commands, each imported only when it runs (as pip's
``commands/__init__.py``), and the entry point :func:`main`.

Each command lives in ``archcalc/cli/commands/<name>.py`` as one function: it parses its
options, calls the library and picks a view. Exit codes are decided in ``guard``.
"""
from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import typer

from ..errors import OPTIONS, ArchcalcError, Diagnostic
from ..version import __version__
from .guard import (
    INTERRUPTED,
    SUCCESS,
    USAGE,
    SafeStdout,
    error_document,
    exit_code,
    print_json,
    say,
)

if TYPE_CHECKING:      # the click typer vendors (0.26 on), named for the type checker only
    from typer._click.exceptions import UsageError


class Entry(NamedTuple):
    module: str          # under archcalc.cli.commands
    function: str
    summary: str         # the line `archcalc -h` shows


COMMANDS: dict[str, Entry] = {
    "summary": Entry("summary", "summary", "Per-layer and total figures of a network."),
    "explain": Entry("explain", "explain", "The arithmetic behind every figure."),
    "compare": Entry("compare", "compare", "Totals of several networks side by side."),
    "validate": Entry("validate", "validate", "Every problem in a spec at once."),
    "diff": Entry("diff", "diff", "What changed from one network to another."),
    "specs": Entry("specs", "specs", "The shipped networks."),
    "export": Entry("export", "export", "Compile a network to an ONNX file."),
    "run": Entry("run", "run", "Run a network with onnxruntime."),
    "draw": Entry("draw", "draw", "Draw a network."),
    "report": Entry("report", "report", "A design review in one file."),
    "import": Entry("import_", "import_", "An ONNX model as a YAML spec."),
    "estimate": Entry("estimate", "estimate", "Predicted time per layer on a device."),
    "calibrate": Entry("calibrate", "calibrate", "Measure this machine for estimate."),
    "sizes": Entry("sizes", "sizes", "The valid input sizes of a network."),
    "fit": Entry("fit", "fit", "The largest value of a parameter within budgets."),
    "sweep": Entry("sweep", "sweep", "Every variant of a spec over parameters' values."),
}
HELP = "archcalc: shapes, parameters, MACs, memory and receptive fields of a vision network."


def _version(value: bool) -> None:
    if value:
        print(f"archcalc {__version__}")
        raise typer.Exit(0)


def _root(version: bool = typer.Option(False, "--version", "-V", is_eager=True,
                                       callback=_version, help="print the version and exit")
          ) -> None:
    """archcalc: shapes, parameters, MACs, memory and receptive fields of a vision network."""


def load_command(name: str) -> Any:
    """The function of command ``name`` (its module imported now)."""
    entry = COMMANDS[name]
    module = importlib.import_module(f"archcalc.cli.commands.{entry.module}")
    return getattr(module, entry.function)


def build_app(only: str | None = None) -> typer.Typer:
    """The archcalc typer app: every command, or only the command ``only`` (what ``main`` runs
    when the command line names one: typer then inspects one signature, and ``summary`` never
    imports another command's module, nor what it needs)."""
    app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                      pretty_exceptions_enable=False,
                      context_settings={"help_option_names": ["-h", "--help"]}, help=HELP)
    app.callback()(_root)
    for name in COMMANDS:
        if only is None or name == only:
            app.command(name)(load_command(name))
    return app


def __getattr__(name: str) -> Any:
    if name == "app":               # archcalc.cli.entry.app: the whole app (built on first use)
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _usage_error_type() -> type[UsageError]:
    """click's UsageError (unknown option, missing argument ...) as the installed typer has it:
    the base class of ``typer.BadParameter`` (typer vendors click from 0.26 on)."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def _json_requested(argv: Sequence[str]) -> bool:
    for i, a in enumerate(argv):
        if a in ("-F", "--format") and i + 1 < len(argv) and argv[i + 1].lower() == "json":
            return True
        if a.lower() in ("-fjson", "--format=json"):
            return True
    return False


def _usage_hint(command: str, message: str, argv: Sequence[str]) -> str:
    """What to do about a command line typer could not read: the usual slips get their fix."""
    if command == "archcalc" and "no such command" in message:
        return "commands: " + ", ".join(COMMANDS) + " ('archcalc -h' says what each does)"
    if "unexpected extra argument" in message and command.split()[-1] in (
            "summary", "explain", "validate", "export", "run", "draw"):
        extra = re.search(r"\(([^()]*)\)$", message)
        words = extra.group(1).split() if extra else []
        at = list(argv).index(words[0]) if words and words[0] in argv else 0
        spec = " ".join([argv[at - 1]] + words) if at > 1 else " ".join(words)
        return (f'a spec string of several words is one argument: quote it, as in '
                f'{command} "{spec}"; to compare several specs use archcalc compare')
    return f"'{command} -h' lists the options"


def main(argv: Sequence[str] | None = None) -> None:
    """The ``archcalc`` entry point: typer parses, archcalc words the errors (one line at
    <options>, exit 2, as JSON under --format json). Holds no state between calls: calling it
    any number of times in one process gives what as many separate processes give."""
    args = sys.argv[1:] if argv is None else list(argv)
    stdout = sys.stdout
    if not isinstance(stdout, SafeStdout):
        sys.stdout = SafeStdout(stdout)
    try:
        _run(args)
    finally:
        if sys.stdout is not stdout and isinstance(sys.stdout, SafeStdout):
            try:
                sys.stdout.flush()
            except ArchcalcError:
                pass
            sys.stdout = stdout


def _run(args: list[str]) -> None:
    if "--version" in args[:args.index("--") if "--" in args else None]:   # on every command
        print(f"archcalc {__version__}")
        sys.exit(SUCCESS)
    if not args:                        # `archcalc` alone: the overview, and exit 2
        build_app().__call__(["-h"], prog_name="archcalc", standalone_mode=False)
        sys.stderr.write("archcalc: a command is needed (archcalc -h lists them)\n")
        sys.exit(USAGE)
    app = build_app(args[0] if args[0] in COMMANDS else None)
    try:
        code = app(args, prog_name="archcalc", standalone_mode=False)
    except _usage_error_type() as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "archcalc"
        if command == "archcalc":           # an error found before the command was known
            named = next((a for a in args if a in COMMANDS), None)
            command += f" {named}" if named else ""
        message = exc.format_message().rstrip(".")
        message = message[:1].lower() + message[1:]
        err = ArchcalcError(Diagnostic("error", message, OPTIONS,
                                       hint=_usage_hint(command, message, args)), "usage")
        if _json_requested(args):
            print_json(error_document(err.diagnostics))
        else:
            say(err.render())
        sys.exit(USAGE)
    except typer.Abort:
        sys.stderr.write("archcalc: interrupted\n")
        sys.exit(INTERRUPTED)
    try:
        sys.stdout.flush()              # where a full disk shows
    except ArchcalcError as exc:
        say(exc.render())
        sys.exit(exit_code(exc))
    sys.exit(code if isinstance(code, int) else SUCCESS)


if __name__ == "__main__":
    main()
