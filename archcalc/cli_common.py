"""What the archcalc commands share: how a SPEC argument is read, the common options, and the
guard that turns errors into messages and exit codes. Used by ``archcalc.cli`` and by the
``archcalc.exporters`` commands, so that both behave alike."""
from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Optional

import typer

from . import spec
from .errors import ArchcalcError, Diagnostic, SourcePos

SPEC_EXTS = (".yaml", ".yml", ".md", ".tsv", ".txt", ".spec")


class Fmt(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


def fail(exc: ArchcalcError) -> None:
    sys.stderr.write(exc.render() + "\n")
    raise typer.Exit(exc.exit_code)


def guarded(fn):
    """Run a command body: archcalc's own errors become messages and exit codes, never
    tracebacks (set ARCHCALC_DEBUG=1 to see one for an internal error)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ArchcalcError as exc:
            fail(exc)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            sys.stderr.write("archcalc: interrupted\n")
            raise typer.Exit(130)
        except BrokenPipeError:
            raise typer.Exit(0)
        except Exception as exc:  # a bug: say so in one line
            if os.environ.get("ARCHCALC_DEBUG"):
                raise
            sys.stderr.write(f"archcalc: internal error: {type(exc).__name__}: {exc} "
                             "(please report it; ARCHCALC_DEBUG=1 shows the traceback)\n")
            raise typer.Exit(3)
    return wrapper


def load_spec(text: str, input: Optional[str], filters: Optional[int], double: Optional[bool],
              rounding: Optional[str], column: Optional[str]):
    """A spec argument is a file when such a file exists (or it ends like one), else a spec string."""
    opts = dict(filters=filters, double_after_pool=double, rounding=rounding, column=column)
    if os.path.exists(text) or text.lower().endswith(SPEC_EXTS):
        return spec.load(text, input, **opts)
    return spec.parse(text, input, **opts)


# options shared by the commands
INPUT = typer.Option(None, "--input", "-i", help="input volume HxWxC, e.g. 224x224x3 "
                     "(default: the spec's own, else 224x224x3)")
FILTERS = typer.Option(None, "--filters", "-f", help="filters of a shorthand C (default 64)")
DOUBLE = typer.Option(None, "--double-after-pool/--no-double-after-pool",
                      help="double the filters of shorthand C after each max pool")
ROUNDING = typer.Option(None, "--rounding", help="exact (default: a fraction is an error), "
                        "floor (PyTorch) or ceil (Caffe pooling)")
DTYPE = typer.Option("fp32", "--dtype", help="bytes per element: fp32, fp16, bf16, int8")
BATCH = typer.Option(1, "--batch", "-b", min=1, help="images per batch for memory figures")
INPLACE = typer.Option(False, "--count-inplace", help="give ReLU and dropout outputs buffers "
                       "of their own (default: in place)")
OPTIMIZER = typer.Option("adam", "--optimizer", help="for the training estimate: sgd, momentum, adam")


def load_one(text: str, input: Optional[str], filters: Optional[int], double: Optional[bool],
             rounding: Optional[str], column: Optional[str]):
    """Like :func:`load_spec`, for commands that take one network: a table needs --column."""
    net = load_spec(text, input, filters, double, rounding, column)
    if isinstance(net, dict):
        raise ArchcalcError([Diagnostic(
            "error", f"{text} holds {len(net)} networks ({', '.join(net)})", SourcePos(text),
            hint="pick one with --column (or compare them all with 'archcalc compare')")], 2)
    return net


SPEC = typer.Argument(..., metavar="SPEC", help="a spec file or a spec string")
COLUMN = typer.Option(None, "--column", "-c", help="for a column table: the network to use")
