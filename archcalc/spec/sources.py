"""The one reader of a SPEC argument: what every command and the library take as "a spec".

A SPEC is, in this order:

* ``-``: standard input (read once, as text);
* a path ending in ``.onnx``: an ONNX model (read by :mod:`archcalc.onnx_import`, weights never);
* an existing file, or a name ending like a spec file (``.yaml``, ``.md`` …: a missing file);
* the name of a shipped network (``vgg16``, ``resnet50.yaml``; ``archcalc specs`` lists them);
* anything else: a spec string (``"C3D64 M FC10"``).

:func:`open_source` decides which and reads the text once into a :class:`Source`; :func:`read`
(and :func:`read_one`, for commands that take one network) builds the network with the options
resolved by :func:`archcalc.settings.resolve`. A sweep opens the source once and builds every
variant from it.
"""
from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import OPTIONS, ArchcalcError, Diagnostic, SourcePos, error
from ..graph import Network
from ..settings import LoadOptions
from .parsing import parse_text

MAX_FILE_BYTES = 16 * 1024 * 1024
SPEC_EXTS = (".yaml", ".yml", ".md", ".tsv", ".txt", ".spec")
STDIN = "<stdin>"
INDEX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "shipped_specs.json")


# ---------------------------------------------------------------------------------------------
# the shipped networks

def shipped_specs() -> list[dict[str, str]]:
    """The shipped networks, from ``archcalc/shipped_specs.json``: file, what, and checked (the
    published figure each is tested against)."""
    return [dict(e) for e in _shipped_index()]


@functools.lru_cache(maxsize=1)
def _shipped_index() -> tuple[dict[str, str], ...]:
    """The index, read once per process (it is part of the installed package)."""
    with open(INDEX, encoding="utf-8") as fh:
        return tuple(json.load(fh)["specs"])


def shipped_dir() -> str | None:
    """The folder of the shipped specs: ``archcalc/specs`` in an installed wheel, the
    repository's ``specs/`` in a source checkout (or an editable install)."""
    here = os.path.dirname(INDEX)
    first = _shipped_index()[0]["file"]
    for d in (os.path.join(here, "specs"), os.path.join(os.path.dirname(here), "specs")):
        if os.path.isfile(os.path.join(d, first)):
            return d
    return None


def find_shipped(name: str) -> str | None:
    """The path of the shipped spec called ``name`` (``vgg16`` or ``vgg16.yaml``), or None."""
    if not name or os.sep in name or "/" in name or " " in name.strip():   # a spec string
        return None
    d = shipped_dir()
    if d is None:
        return None
    for entry in _shipped_index():
        f = entry["file"]
        if name.lower() in (f.lower(), os.path.splitext(f)[0].lower()):
            return os.path.join(d, f)
    return None


def shipped_names() -> list[str]:
    return [os.path.splitext(e["file"])[0] for e in _shipped_index()]


# ---------------------------------------------------------------------------------------------
# reading text

def decode(data: bytes, path: str) -> str:
    """Spec text from a file's (or standard input's) bytes: UTF-8 (a BOM allowed), not binary,
    not empty."""
    where = SourcePos(path)
    what = "standard input" if path == STDIN else path
    if b"\0" in data:
        raise error(f"{what} is binary, not a spec" if path == STDIN else
                    f"{path} is a binary file, not a spec", where, kind="io",
                    hint="an ONNX model is read from a file whose name ends in .onnx (give its "
                         "path, or rename it)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise error(f"{what} is not UTF-8 text (byte {exc.start} on line {line})",
                    SourcePos(path, line), hint="save the spec as UTF-8", kind="io") from None
    if not text.strip():
        raise error(f"{what} is empty", where if path == STDIN else SourcePos(path, 1, 1),
                    hint="pipe a spec in, e.g. cat net.yaml | archcalc summary -"
                    if path == STDIN else "write a spec in it (see specs/ for examples)")
    return text


def read_text(path: str) -> str:
    """A spec file's text, or one error (kind "io") for what cannot be read as one."""
    where = SourcePos(path)
    if not os.path.exists(path):
        raise error(f"no such file: {path}", where, hint="check the path, or quote a spec string",
                    kind="io")
    if os.path.isdir(path):
        raise error(f"{path} is a directory, not a spec file", where, kind="io")
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise error(f"{path} is {size:,} bytes; spec files are limited to {MAX_FILE_BYTES:,}",
                        where, kind="io")
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}", where, kind="io") from None
    return decode(data, path)


def read_stdin() -> str:
    """Standard input as spec text (what ``-`` names)."""
    where = SourcePos(STDIN)
    stream = sys.stdin
    if stream is not None and stream.isatty():
        sys.stderr.write("archcalc: reading the spec from standard input (end it with Ctrl-D)\n")
    try:
        raw = getattr(stream, "buffer", None)
        data = raw.read(MAX_FILE_BYTES + 1) if raw is not None else \
            stream.read(MAX_FILE_BYTES + 1).encode("utf-8")
    except (OSError, ValueError, AttributeError) as exc:
        raise error(f"cannot read standard input: {exc}", where, kind="io") from None
    if len(data) > MAX_FILE_BYTES:
        raise error(f"standard input holds more than {MAX_FILE_BYTES:,} bytes, the limit of a "
                    "spec", where, kind="io")
    return decode(data, STDIN)


# ---------------------------------------------------------------------------------------------
# a SPEC argument

@dataclass(frozen=True)
class Source:
    """A SPEC argument, decided and read: ``kind`` is "stdin", "onnx", "file", "shipped" or
    "string"; ``path`` the file (an ONNX model, a spec file, a shipped spec), ``text`` the spec's
    text (None for an ONNX model, which is read where it is), ``label`` what messages call it
    (a shipped spec: its name as given, never where it is installed)."""
    arg: str
    kind: str
    path: str | None
    text: str | None
    label: str
    # what reading the text made once, kept for the next build (a YAML document's values with
    # their places): a sweep evaluates every variant from it
    parsed: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (for a sweep's worker) without what was parsed: each worker parses once."""
        return {**self.__dict__, "parsed": {}}

    @property
    def shown(self) -> str:
        """How a listing names it: the argument as given (``<stdin>`` for ``-``)."""
        return STDIN if self.arg == "-" else self.arg


def open_source(arg: str, label: str = "<spec>") -> Source:
    """Decide what the SPEC ``arg`` is and read its text (see the module's docstring)."""
    if not isinstance(arg, (str, os.PathLike)):
        raise error(f"a spec is a path, a shipped name or spec text, got {type(arg).__name__}",
                    OPTIONS, kind="usage",
                    hint="archcalc.parse(text) reads spec text; archcalc.load(path) a file")
    arg = str(arg)
    if arg == "-":
        return Source(arg, "stdin", None, read_stdin(), STDIN)
    if arg.lower().endswith(".onnx") and not os.path.isdir(arg):
        return Source(arg, "onnx", arg, None, arg)
    if os.path.exists(arg):
        return Source(arg, "file", arg, read_text(arg), arg)
    if arg.lower().endswith(SPEC_EXTS):
        shipped = find_shipped(arg)
        if shipped is not None:
            return Source(arg, "shipped", shipped, read_text(shipped), arg)
        # specs/vgg16.yaml from elsewhere, vgg16.yml: a shipped network's name
        elsewhere = find_shipped(os.path.basename(arg)) or \
            find_shipped(os.path.splitext(os.path.basename(arg))[0])
        if elsewhere:
            name = os.path.splitext(os.path.basename(arg))[0]
            raise error(f"no such file: {arg}", SourcePos(arg), kind="io",
                        hint=f"a shipped network has that name: give it alone, {name}, from "
                             "any folder (archcalc specs lists them)")
        unified = _scaled_name(arg)
        if unified is not None:     # yolov8n.yaml: yolov8.yaml at scale n, as Ultralytics reads it
            return Source(arg, "file", unified, read_text(unified), unified)
        return Source(arg, "file", arg, read_text(arg), arg)         # the error it gives
    shipped = find_shipped(arg)
    if shipped is not None:
        return Source(arg, "shipped", shipped, read_text(shipped), arg)
    return Source(arg, "string", None, arg, label)


def _scaled_name(arg: str) -> str | None:
    """For a missing ``yolov8n.yaml``: the Ultralytics model file ``yolov8.yaml`` beside it,
    which Ultralytics reads at the scale the name gives (the front-end takes the scale from the
    name asked for); None where there is none."""
    folder, base = os.path.split(arg)
    stem, ext = os.path.splitext(base)
    if ext.lower() not in (".yaml", ".yml"):
        return None
    unified = re.sub(r"(\d+)([nslmx])(.+)?$", r"\1\3", stem)
    path = os.path.join(folder, unified + ext)
    if unified == stem or not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(MAX_FILE_BYTES)
    except (OSError, UnicodeDecodeError):
        return None
    from .ultralytics import looks_like_ultralytics
    return path if looks_like_ultralytics(text) else None


def load_source(src: Source, options: LoadOptions = LoadOptions()
                ) -> Network | dict[str, Network]:
    """The network (or, for a column table without ``column``, every column's) of ``src``."""
    if src.kind == "onnx":
        return _load_onnx(src.arg, options)
    text = src.text if src.text is not None else ""
    if src.kind == "string":
        try:
            return _with_column(lambda o: parse_text(text, o, file=src.label), options)
        except ArchcalcError as exc:
            raise _as_a_name(src.arg, exc) from None
    path = src.path or src.label
    language = "yaml" if os.path.splitext(path)[1].lower() in (".yaml", ".yml") else None
    named = src.arg if src.kind == "file" else path     # (yolov8n.yaml read from yolov8.yaml)
    default = None if src.kind == "stdin" else os.path.splitext(os.path.basename(named))[0]
    return _with_column(lambda o: parse_text(text, o, file=src.label, language=language,
                                             default_name=default, parsed=src.parsed), options)


def read(arg: str, options: LoadOptions = LoadOptions()) -> Network | dict[str, Network]:
    """SPEC → Network (or {column: Network} for a column table without ``column``)."""
    return load_source(open_source(arg, options.label), options)


def read_one(arg: str, options: LoadOptions = LoadOptions()) -> Network:
    """Like :func:`read`, for commands that take one network: a table needs a column."""
    return one(read(arg, options), arg)


def one(got: Network | dict[str, Network], arg: str) -> Network:
    """The one network of what a SPEC gave (a table of one column: that column's)."""
    if isinstance(got, dict) and len(got) == 1:
        return next(iter(got.values()))
    if isinstance(got, dict):
        raise ArchcalcError([Diagnostic(
            "error", f"{arg} holds {len(got)} networks ({', '.join(got)})", OPTIONS,
            hint="pick one with --column (or compare them all with 'archcalc compare')")],
            "usage")
    return got


def _with_column(parse: Callable[[LoadOptions], Network | dict[str, Network]],
                 options: LoadOptions) -> Network | dict[str, Network]:
    """``parse(options)``; a ``column`` that names no column exactly but one without regard to
    case is that column."""
    if options.column is None:
        return parse(options)
    try:
        return parse(options)
    except ArchcalcError as exc:
        if not any(d.message.startswith("no column ") for d in exc.diagnostics):
            raise
        names = _column_names(exc)
        match = [n for n in names if n.lower() == options.column.strip().lower()]
        if len(match) != 1:
            raise
    return parse(replace(options, column=match[0]))


def _column_names(exc: ArchcalcError) -> list[str]:
    """The table's columns, from the hint of its "no column" error ("columns: A, B, ...")."""
    for d in exc.diagnostics:
        if d.hint and d.hint.startswith("columns: "):
            return [n.strip() for n in d.hint[len("columns: "):].split(",")]
    return []


def _as_a_name(text: str, exc: ArchcalcError) -> ArchcalcError:
    """A one-word SPEC that is no spec string was probably meant as a file or a shipped
    network: say so rather than only "unknown token"."""
    word = text.strip()
    if not word or any(c.isspace() for c in word) or exc.kind != "spec":
        return exc
    if "/" in word or os.sep in word:
        found = [word + e for e in SPEC_EXTS if os.path.isfile(word + e)]
        return error(f"no such file: {word}", SourcePos(word), kind="io",
                     hint=f"did you mean {found[0]}?" if found else
                     "check the path (archcalc specs lists the shipped networks)")
    from ..ops.words import closest
    meant = closest(word, shipped_names())
    first = exc.diagnostics[0]
    if not meant:
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(?:[_.-][A-Za-z0-9]+)+", word) and \
                len(exc.diagnostics) == 1 and "unknown token" in first.message:
            # vit_b_16, my-net: a name, not tokens
            return ArchcalcError([replace(first, hint=(
                f"no shipped network is called {word} (archcalc specs lists them), and no file "
                "of that name is here; a spec string is made of "
                + (first.hint or "tokens").removeprefix("tokens: ").join(["tokens: ", ""])))],
                exc.kind)
        return exc
    hint = (f"did you mean the shipped network {meant}? (archcalc specs lists them; a spec "
            "string is made of tokens)")
    return ArchcalcError([replace(first, hint=hint), *exc.diagnostics[1:]], exc.kind)


def _load_onnx(path: str, options: LoadOptions) -> Network:
    """An ONNX model through :mod:`archcalc.onnx_import` (which never reads its weights)."""
    params = dict(options.params)
    res = params.pop("res", None)
    if params:                  # (--set's built-ins apply; a model declares no parameters)
        from ..settings import BUILTINS
        raise error(f"an ONNX model declares no parameter {next(iter(params))!r}", OPTIONS,
                    kind="usage", hint="--set takes, for a model, the built-ins: "
                    + ", ".join(b for b in BUILTINS if b != "rounding"))
    given = options.given()
    given = [k for k in given if k != "input"]
    if given:
        opt = "--" + given[0].replace("_", "-")
        raise error(f"{opt} applies to specs, not to ONNX models", OPTIONS, kind="usage",
                    hint="an ONNX model's layers carry their own sizes and rounding; drop "
                         f"{opt}")
    from ..onnx_import import load_onnx
    net = load_onnx(path, options.input, unknown=options.unknown, res=res)
    return net.replace(settings=options.settings)
