"""What the archcalc commands share: how a SPEC argument is read, the common options and how
their values are checked, and the guard that turns errors into messages and exit codes. Used by
``archcalc.cli`` and by the ``archcalc.exporters`` commands, so that both behave alike.

Option values are taken as text and checked here, not by typer: a bad value gets archcalc's own
one-line message at ``<options>`` naming the allowed values (exit 2), words are matched without
regard to case (``-F JSON``, ``--dtype FP16``), and typer never needs to coerce a value (which,
from typer 0.29 on, would import pydantic).
"""
from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from dataclasses import replace
from typing import Optional, Sequence

import typer

from . import spec
from .errors import OPTIONS, ArchcalcError, Diagnostic, SourcePos, error

SPEC_EXTS = (".yaml", ".yml", ".md", ".tsv", ".txt", ".spec")
FORMATS = ("table", "json", "markdown", "csv")
SCHEMA = 2                      # the "schema" key of every JSON document the commands print
STDIN = "<stdin>"


# ---------------------------------------------------------------------------------------------
# errors → messages and exit codes

def error_document(diagnostics: Sequence[Diagnostic]) -> dict:
    """The JSON document of a command that failed (or of ``validate``): see docs/diagnostics.md."""
    errors = sum(d.severity == "error" for d in diagnostics)
    return {"schema": SCHEMA, "ok": errors == 0, "errors": errors,
            "warnings": len(diagnostics) - errors,
            "diagnostics": [d.to_dict() for d in diagnostics]}


def print_json(doc) -> None:
    print(json.dumps(doc, indent=2, ensure_ascii=False))


def fail(exc: ArchcalcError, as_json: bool = False) -> None:
    """Report ``exc`` (as a JSON document on stdout under --format json, else on stderr) and
    exit with its code. When stdout itself cannot be written, that is the error reported."""
    if as_json and not (isinstance(sys.stdout, SafeStdout) and sys.stdout.dropped):
        try:
            print_json(error_document(exc.diagnostics))
            raise typer.Exit(exc.exit_code)
        except ArchcalcError as unwritable:
            exc = unwritable
    sys.stderr.write(exc.render() + "\n")
    raise typer.Exit(exc.exit_code)


def wants_json(fmt) -> bool:
    return isinstance(fmt, str) and fmt.strip().lower() == "json"


def guarded(fn):
    """Run a command body: archcalc's own errors become messages and exit codes, never
    tracebacks (set ARCHCALC_DEBUG=1 to see one for an internal error). With ``--format json``
    every outcome, errors included, is a JSON document on stdout."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        as_json = wants_json(kwargs.get("format"))
        try:
            return fn(*args, **kwargs)
        except ArchcalcError as exc:
            fail(exc, as_json)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            sys.stderr.write("archcalc: interrupted\n")
            raise typer.Exit(130)
        except BrokenPipeError:         # a reader that went away before we wrote to it
            _quiet_stdout()
            raise typer.Exit(0)
        except Exception as exc:  # a bug: say so in one line
            if os.environ.get("ARCHCALC_DEBUG"):
                raise
            message = f"internal error: {type(exc).__name__}: {exc}"
            hint = "please report it; ARCHCALC_DEBUG=1 shows the traceback"
            if as_json:
                fail(ArchcalcError(Diagnostic("error", message, SourcePos("<internal>"), hint),
                                   exit_code=3), True)
            sys.stderr.write(f"archcalc: {message} ({hint})\n")
            raise typer.Exit(3)
    return wrapper


class SafeStdout:
    """Standard output that survives its reader: after a closed pipe (``archcalc validate … |
    head -1``) the rest of the output is dropped and the command still ends with its own exit
    code; any other write error (a full disk: ``> /dev/full``) becomes one clean error, exit 2.
    Everything else is the wrapped stream's."""

    def __init__(self, stream):
        self._stream = stream
        self.dropped = False

    def _guard(self, do, *args):
        if self.dropped:
            return None
        try:
            return do(*args)
        except BrokenPipeError:
            self.dropped = True
            _quiet_stdout()
            return None
        except OSError as exc:
            self.dropped = True
            _quiet_stdout()
            raise ArchcalcError(Diagnostic(
                "error", f"cannot write standard output: {exc.strerror or exc}",
                SourcePos("<stdout>"), "write somewhere with room, or pipe it elsewhere"),
                exit_code=2) from None

    def write(self, text: str) -> int:
        self._guard(self._stream.write, text)
        return len(text)

    def flush(self) -> None:
        self._guard(self._stream.flush)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _quiet_stdout() -> None:
    """After a closed pipe (``archcalc ... | head``): send what is left to /dev/null, so that
    Python's final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# ---------------------------------------------------------------------------------------------
# option values

def choice(value: Optional[str], allowed: Sequence[str], option: str) -> Optional[str]:
    """``value`` as one of ``allowed`` (any case), or an error at <options> naming them."""
    if value is None:
        return None
    word = value.strip().lower()
    word = word[1:] if word.startswith("=") else word      # -F=json
    if word in allowed:
        return word
    raise error(f"{option} must be one of {', '.join(allowed)}, got {value!r}", OPTIONS,
                hint=f"e.g. {option} {allowed[0]}", exit_code=2)


LIMIT = 2 ** 31              # the largest size or count archcalc takes (docs/diagnostics.md)


def whole(value, option: str, least: int = 0, most: Optional[int] = None,
          example: Optional[int] = None) -> Optional[int]:
    """``value`` (text from the command line) as a whole number ≥ ``least`` (and ≤ ``most``);
    ``example`` is the value the hint shows."""
    example = max(least, 1) if example is None else example
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        number = value
    else:
        try:
            number = int(str(value).strip().lstrip("=").replace("_", ""))
        except ValueError:
            number = None
        if number is None:
            raise error(f"{option} must be a whole number ≥ {least}, got {value!r}", OPTIONS,
                        hint=f"e.g. {option} {example}", exit_code=2)
    if number is not None and number < least:
        raise error(f"{option} must be a whole number ≥ {least}, got {number}", OPTIONS,
                    hint=f"e.g. {option} {example}", exit_code=2)
    if number is not None and most is not None and number > most:
        raise error(f"{option} must be at most {most:,}, got {number:,}", OPTIONS, exit_code=2)
    return number


def rounding_option(value: Optional[str]) -> Optional[str]:
    from .ops import ROUNDINGS
    return choice(value, ROUNDINGS, "--rounding")


def analysis_options(dtype: str, batch, optimizer: str = "adam") -> dict:
    """--dtype, --batch and --optimizer checked, as keywords of ``archcalc.analyze``."""
    from .analysis import DTYPES, OPTIMIZERS
    return dict(dtype=choice(dtype, tuple(DTYPES), "--dtype"), batch=whole(batch, "--batch", 1, LIMIT),
                optimizer=choice(optimizer, tuple(OPTIMIZERS), "--optimizer"))


# ---------------------------------------------------------------------------------------------
# shipped specs

INDEX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shipped_specs.json")


def shipped_specs() -> list[dict]:
    """The shipped networks, from ``archcalc/shipped_specs.json``: file, what, and checked (the
    published figure each is tested against)."""
    return [dict(e) for e in _shipped_index()]


@functools.lru_cache(maxsize=1)
def _shipped_index() -> tuple:
    """The index, read once: every spec string is first looked up as a shipped name, which
    cost a sweep of a small spec string half its time when the file was read each time."""
    with open(INDEX, encoding="utf-8") as fh:
        return tuple(json.load(fh)["specs"])


def shipped_dir() -> Optional[str]:
    """The folder of the shipped specs: ``archcalc/specs`` in an installed wheel, the
    repository's ``specs/`` in a source checkout (or an editable install)."""
    here = os.path.dirname(INDEX)
    first = shipped_specs()[0]["file"]
    for d in (os.path.join(here, "specs"), os.path.join(os.path.dirname(here), "specs")):
        if os.path.isfile(os.path.join(d, first)):
            return d
    return None


def find_shipped(name: str) -> Optional[str]:
    """The path of the shipped spec called ``name`` (``vgg16`` or ``vgg16.yaml``), or None."""
    if not name or os.sep in name or "/" in name or " " in name.strip():   # a spec string
        return None
    d = shipped_dir()
    if d is None:
        return None
    for entry in shipped_specs():
        f = entry["file"]
        if name.lower() in (f.lower(), os.path.splitext(f)[0].lower()):
            return os.path.join(d, f)
    return None


# ---------------------------------------------------------------------------------------------
# reading a SPEC argument

_stdin_text: Optional[str] = None


def read_stdin() -> str:
    """Standard input as spec text (read once: a second use gets the same text)."""
    global _stdin_text
    if _stdin_text is None:
        _stdin_text = _read_stdin()
    return _stdin_text


def _read_stdin() -> str:
    where = SourcePos(STDIN)
    if sys.stdin is not None and sys.stdin.isatty():
        sys.stderr.write("archcalc: reading the spec from standard input (end it with Ctrl-D)\n")
    try:
        data = sys.stdin.buffer.read(spec.MAX_FILE_BYTES + 1)
    except (OSError, ValueError, AttributeError) as exc:
        raise error(f"cannot read standard input: {exc}", where, exit_code=2) from None
    if len(data) > spec.MAX_FILE_BYTES:
        raise error(f"standard input holds more than {spec.MAX_FILE_BYTES:,} bytes, the limit "
                    "of a spec", where, exit_code=2)
    if b"\0" in data:
        raise error("standard input is binary, not a spec", where, exit_code=2,
                    hint="an ONNX model is read from a file: give its path (MODEL.onnx)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"standard input is not UTF-8 text (byte {exc.start})", where,
                    hint="send the spec as UTF-8", exit_code=2) from None
    if not text.strip():
        raise error("standard input is empty", where,
                    hint="pipe a spec in, e.g. cat net.yaml | archcalc summary -", exit_code=1)
    return text


onnx_unknown = "error"          # --unknown: what an ONNX op archcalc does not know becomes


def _set_unknown(value: Optional[str]) -> Optional[str]:
    """--unknown's callback: kept here (checked where a model is read), so that the commands
    pass no extra argument down to the loaders."""
    global onnx_unknown
    if value is not None:
        onnx_unknown = value
    return value


def _read(text: str, input, opts: dict, label: str = "<spec>"):
    """SPEC → Network (or {column: Network}): '-' is standard input, an existing file is read,
    a name ending like a spec file is a (missing) file, a shipped network's name is that spec,
    anything else is a spec string."""
    if text == "-":
        return spec.parse(read_stdin(), input, file=STDIN, **opts)
    if text.lower().endswith(".onnx") and not os.path.isdir(text):
        return spec.load(text, input, unknown=choice(onnx_unknown, ("error", "passthrough"),
                                                     "--unknown"), **opts)
    if os.path.exists(text) or text.lower().endswith(SPEC_EXTS):
        shipped = None if os.path.exists(text) else find_shipped(text)
        if shipped is None and not os.path.exists(text):
            elsewhere = find_shipped(os.path.basename(text))     # specs/vgg16.yaml, elsewhere
            if elsewhere:
                name = os.path.splitext(os.path.basename(text))[0]
                raise error(f"no such file: {text}", SourcePos(text), exit_code=2,
                            hint=f"a shipped network has that name: give it alone, {name}, "
                                 "from any folder (archcalc specs lists them)")
        return spec.load(shipped or text, input, **opts)
    shipped = find_shipped(text)
    if shipped:
        return spec.load(shipped, input, **opts)
    try:
        return spec.parse(text, input, file=label, **opts)
    except ArchcalcError as exc:
        raise _as_a_name(text, exc) from None


def _as_a_name(text: str, exc: ArchcalcError) -> ArchcalcError:
    """A one-word SPEC that is no spec string was probably meant as a file or a shipped
    network: say so rather than only "unknown token"."""
    word = text.strip()
    if not word or any(c.isspace() for c in word) or exc.exit_code != 1:
        return exc
    if "/" in word or os.sep in word:
        found = [word + e for e in SPEC_EXTS if os.path.isfile(word + e)]
        return error(f"no such file: {word}", SourcePos(word), exit_code=2,
                     hint=f"did you mean {found[0]}?" if found else
                     "check the path (archcalc specs lists the shipped networks)")
    import difflib
    names = [os.path.splitext(e["file"])[0] for e in shipped_specs()]
    close = difflib.get_close_matches(word.lower(), names, n=1, cutoff=0.6)
    if not close:
        return exc
    first = exc.diagnostics[0]
    hint = (f"did you mean the shipped network {close[0]}? (archcalc specs lists them; "
            "a spec string is made of tokens)")
    return ArchcalcError([replace(first, hint=hint), *exc.diagnostics[1:]], exc.exit_code)


def load_spec(text: str, input: Optional[str], filters, double: Optional[bool],
              rounding: Optional[str], column: Optional[str], label: str = "<spec>",
              settings: Optional[dict] = None):
    """A SPEC argument (see :func:`_read`) with the common options applied. ``--column`` matches
    a table's column names without regard to case when no column has exactly that name.
    ``settings``: parameter values (--set, see archcalc.params)."""
    opts = dict(filters=whole(filters, "--filters", 1, LIMIT), double_after_pool=double,
                rounding=rounding_option(rounding), column=column)
    if settings:
        opts["set"] = settings
    if column is None:
        return _read(text, input, opts, label)
    try:
        return _read(text, input, opts, label)
    except ArchcalcError as exc:
        if not any(d.message.startswith("no column ") for d in exc.diagnostics):
            raise
        names = _column_names(exc)
        match = [n for n in names if n.lower() == column.strip().lower()]
        if len(match) != 1:
            raise
    return _read(text, input, dict(opts, column=match[0]))


def _column_names(exc: ArchcalcError) -> list[str]:
    """The table's columns, from the hint of its "no column" error ("columns: A, B, ...")."""
    for d in exc.diagnostics:
        if d.hint and d.hint.startswith("columns: "):
            return [n.strip() for n in d.hint[len("columns: "):].split(",")]
    return []


def load_one(text: str, input: Optional[str], filters, double: Optional[bool],
             rounding: Optional[str], column: Optional[str], label: str = "<spec>",
             settings: Optional[dict] = None):
    """Like :func:`load_spec`, for commands that take one network: a table needs --column."""
    net = load_spec(text, input, filters, double, rounding, column, label, settings)
    if isinstance(net, dict) and len(net) == 1:       # a table of one column: that network
        return next(iter(net.values()))
    if isinstance(net, dict):
        raise ArchcalcError([Diagnostic(
            "error", f"{text} holds {len(net)} networks ({', '.join(net)})", OPTIONS,
            hint="pick one with --column (or compare them all with 'archcalc compare')")], 2)
    return net


def settings_of(sets: Optional[Sequence[str]]) -> Optional[dict]:
    """Repeated --set NAME=VALUE options as {name: value} (archcalc.params), or None."""
    if not sets:
        return None
    from .params import parse_sets
    return parse_sets(sets)


def load_set(text: str, sets: Optional[Sequence[str]], input, filters, double, rounding,
             column, options: Optional[dict] = None):
    """:func:`load_one` with the --set options; the built-ins batch, dtype and optimizer they
    give replace those in ``options`` (the command's analysis options, updated in place)."""
    net = load_one(text, input, filters, double, rounding, column, settings=settings_of(sets))
    if options is not None:
        options.update({k: v for k, v in net.analysis.items() if k in options})
    return net


# ---------------------------------------------------------------------------------------------
# options shared by the commands (values are text: checked by the functions above)

SPEC = typer.Argument(..., metavar="SPEC", show_default=False,
                      help="a spec file, an ONNX model (.onnx), a shipped network's name "
                           "(archcalc specs), a spec string, or - for standard input")
INPUT = typer.Option(None, "--input", "-i", metavar="HxWxC",
                     help="input volume, e.g. 224x224x3 (default: the spec's own, else 224x224x3)")
FILTERS = typer.Option(None, "--filters", "-f", metavar="N",
                       help="filters of a shorthand C (default 64)")
DOUBLE = typer.Option(None, "--double-after-pool/--no-double-after-pool",
                      help="double the filters of shorthand C after each max pool")
ROUNDING = typer.Option(None, "--rounding", metavar="RULE",
                        help="how a window division that is not whole is treated: covered "
                             "(default), exact, floor (PyTorch) or ceil (Caffe pooling); "
                             "see docs/definitions.md")
COLUMN = typer.Option(None, "--column", "-c", metavar="NAME",
                      help="for a column table: the network to use (any case)")
DTYPE = typer.Option("fp32", "--dtype", metavar="TYPE",
                     help="bytes per element: fp32, fp16, bf16 or int8")
BATCH = typer.Option("1", "--batch", "-b", metavar="N", help="images per batch")
DEPTH = typer.Option(None, "--depth", "-d", metavar="N",
                     help="fold block instances nested deeper than this")
INPLACE = typer.Option(False, "--count-inplace", help="give in-place ops (ReLU and the other "
                       "activations PyTorch runs in place, dropout) buffers of their own "
                       "(default: in place)")
UNKNOWN = typer.Option(None, "--unknown", metavar="MODE", callback=_set_unknown,
                       help="for an ONNX model: what a node of an op archcalc does not know "
                            "becomes: error (the default) or passthrough (a layer of the size "
                            "ONNX shape inference gives, its figures not counted)")
OPTIMIZER = typer.Option("adam", "--optimizer", metavar="NAME",
                         help="for the training estimate: sgd, momentum or adam")
DEVICE_FILE = typer.Option(None, "--device-file", metavar="PATH",       # archcalc/latency
                           help="a YAML or JSON file of your own devices (docs/latency.md)")


def check_device_file(device: Optional[str], device_file: Optional[str]) -> None:
    """--device-file names where devices are; alone it would be silently ignored."""
    if device is None and device_file is not None:
        raise error("--device-file goes with --device", OPTIONS, exit_code=2,
                    hint="add --device NAME, a device of that file (docs/latency.md)")


SET = typer.Option(None, "--set", "-s", metavar="NAME=VALUE",
                   help="give a parameter a value (repeatable): one the YAML spec declares "
                        "under params:, or res, input, rounding, batch, dtype, optimizer "
                        "(see docs/design-space.md)")


# ---------------------------------------------------------------------------------------------
# files the commands write (draw, report)

def writable_output(output: str, example: str, what: str) -> None:
    """An --output path that cannot be written is one clear error (exit 2) before any work:
    a directory (``example`` names a file in it), a missing folder, not a regular file
    (``what`` is written: "the drawing")."""
    real = os.path.realpath(output)
    folder = os.path.dirname(real)
    if os.path.isdir(real):
        raise error(f"--output {output} is a directory", OPTIONS,
                    hint=f"name a file in it, e.g. -o {os.path.join(output, example)}",
                    exit_code=2)
    if not os.path.isdir(folder):
        raise error(f"--output {output}: the folder {os.path.dirname(output) or folder} does "
                    "not exist", OPTIONS,
                    hint=f"create it first (mkdir -p {os.path.dirname(output) or folder}) or "
                         "write elsewhere", exit_code=2)
    if os.path.exists(real) and not os.path.isfile(real):
        raise error(f"--output {output} is not a regular file", OPTIONS,
                    hint=f"write {what} to a file path", exit_code=2)


def write_atomic(path: str, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file beside it, moved into
    place only when complete: an error or an interrupt leaves no half-written file and keeps the
    old one; a path that cannot be written is one error (exit 2), never a traceback."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    real = os.path.realpath(path)
    fd, tmp = None, None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(real)}.",
                                   dir=os.path.dirname(real))
        with os.fdopen(fd, "wb") as fh:
            fd = None
            fh.write(data)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, real)
        tmp = None
    except OSError as exc:
        raise error(f"cannot write {path}: {exc.strerror or exc}", SourcePos(path),
                    exit_code=2) from None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def umask() -> int:
    """The process's umask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def spec_problems(exc: ArchcalcError, errors_only: bool = False) -> list:
    """The problems of a spec that failed to build, as ``archcalc validate`` lists them: the
    errors found while reading it and what analysis finds in the layers that did build
    (``exc.partial``), in source order. ``errors_only`` leaves the warnings out. An error that
    is not the spec's (bad usage, an unreadable file: exit code 2) is raised again."""
    if exc.exit_code != 1:
        raise exc
    diags = list(exc.diagnostics)
    if exc.partial is not None:
        from . import analysis
        found = {(d.pos, d.message) for d in diags}
        diags = sorted(diags + [d for d in analysis.diagnose(exc.partial)
                                if (d.pos, d.message) not in found
                                and not (errors_only and d.severity != "error")],
                       key=lambda d: (d.pos.line, d.pos.col, d.severity != "error"))
    return diags
