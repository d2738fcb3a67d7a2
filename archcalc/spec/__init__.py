"""Spec front-ends: text in any of archcalc's spec languages → a :class:`~archcalc.graph.Network`.

``parse`` takes text (a spec string, a YAML document or a column table); ``load`` takes a path.
The language is recognised from the file's extension or, for text, its form:
  * a YAML mapping with ``layers:`` → :mod:`.yaml_spec`
  * a table with a ``Name`` header row (tab-separated or Markdown) → :mod:`.table`
  * anything else → the shorthand/token grammar of :mod:`.text`
"""
from __future__ import annotations

import os
import re
from dataclasses import replace

from ..bulk import paused_gc
from ..errors import OPTIONS, ArchcalcError, Diagnostic, SourcePos, error
from ..graph import Builder, Network, channels_first_warning, parse_volume
from ..ops import _rounding
from .table import looks_like_table, parse_table
from .text import (Defaults, check_size, emit_word, expand, letter_runs, line_positions,
                   parse_items)
from .yaml_spec import parse_yaml

MAX_FILE_BYTES = 16 * 1024 * 1024
DEFAULT_INPUT = (224, 224, 3)
_YAML_HINT = re.compile(r"^\s*(layers|name|input|blocks|defaults)\s*:", re.M)


def _defaults(filters=None, double_after_pool=None, rounding=None) -> tuple[Defaults, dict]:
    overrides = {}
    if filters is not None:
        if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
            raise error(f"filters must be a positive whole number, got {filters!r}", OPTIONS,
                        hint="--filters sets the filters of a shorthand C, e.g. --filters 16",
                        exit_code=2)
        overrides["filters"] = filters
    if double_after_pool is not None:
        overrides["double_after_pool"] = bool(double_after_pool)
    if rounding is not None:
        try:
            overrides["rounding"] = _rounding(rounding, OPTIONS)
        except ArchcalcError as exc:
            exc.exit_code = 2          # a bad option is bad usage, not a bad spec
            raise
    return replace(Defaults(), **overrides), overrides


ANALYSIS_BUILTINS = ("batch", "dtype", "optimizer")


def _settings(settings, input, rounding):
    """``set``'s built-ins checked and taken out: ``input`` and ``rounding`` act as the options
    of the same name (giving both, different, is an error), ``batch``, ``dtype`` and
    ``optimizer`` are returned for the network's ``analysis``; ``res`` and the spec's own
    parameters stay in the settings passed to the parser."""
    if settings is None:
        return {}, input, rounding, {}
    if not isinstance(settings, dict) or not all(isinstance(k, str) for k in settings):
        raise error(f"set is a mapping of parameter names to values, got {settings!r}", OPTIONS,
                    hint="e.g. set={'width': 0.75, 'res': 160}", exit_code=2)
    settings = dict(settings)
    chosen = {}

    def bad(name, want, value):
        return error(f"--set {name}: {want}, got {value!r}", OPTIONS,
                     hint=f"e.g. --set {name}={_EXAMPLES[name]}", exit_code=2)
    if "res" in settings:
        v = settings["res"]
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 2 ** 31:
            raise bad("res", "the input's height and width is a whole number ≥ 1", v)
    if "input" in settings:
        v = parse_volume(settings.pop("input"), OPTIONS, exit_code=2)
        if input is not None and parse_volume(input, OPTIONS, exit_code=2) != v:
            raise error("--input and --set input= disagree", OPTIONS, hint="give one",
                        exit_code=2)
        input = v
    if "res" in settings and input is not None:
        h, w, _ = parse_volume(input, OPTIONS, exit_code=2)
        if (h, w) != (settings["res"], settings["res"]):
            raise error(f"--set res={settings['res']} and the input {h}x{w} (--input or --set "
                        "input=) disagree", OPTIONS, exit_code=2,
                        hint="give one: res sets the height and width, input the whole volume")
    if "rounding" in settings:
        v = settings.pop("rounding")
        v = v.strip().lower() if isinstance(v, str) else v
        if rounding is not None and rounding != v:
            raise error("--rounding and --set rounding= disagree", OPTIONS, hint="give one",
                        exit_code=2)
        rounding = v
    if any(k in settings for k in ANALYSIS_BUILTINS):
        from ..analysis import DTYPES, OPTIMIZERS
        for k, allowed in (("dtype", DTYPES), ("optimizer", OPTIMIZERS)):
            if k in settings:
                v = settings.pop(k)
                if not isinstance(v, str) or v.lower() not in allowed:
                    raise bad(k, "one of " + ", ".join(allowed), v)
                chosen[k] = v.lower()
        if "batch" in settings:
            v = settings.pop("batch")
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 2 ** 31:
                raise bad("batch", "images per batch is a whole number ≥ 1", v)
            chosen["batch"] = v
    return settings, input, rounding, chosen


_EXAMPLES = {"res": 224, "batch": 32, "dtype": "bf16", "optimizer": "adam"}


def _volume(input) -> tuple[int, int, int] | None:
    if input is None:
        return None
    return parse_volume(input, OPTIONS, exit_code=2)


@paused_gc()
def parse(text: str, input=None, *, name: str | None = None, filters: int | None = None,
          double_after_pool: bool | None = None, rounding: str | None = None,
          column: str | None = None, file: str = "<spec>",
          language: str | None = None,
          default_name: str | None = None,
          set: dict | None = None) -> Network | dict[str, Network]:
    """Parse spec text into a Network.

    ``input`` is the input volume (H, W, C) or ``"224x224x3"``; a YAML spec's own ``input`` is
    used when it is None, else 224×224×3. ``filters`` and ``double_after_pool`` set what a letter
    C means; ``rounding`` ("covered", "exact", "floor", "ceil") the default for windows. For a column table,
    ``column`` picks one network; without it a dict {column: Network} is returned.
    ``language`` ("yaml", "table" or "string") skips recognising the language from the text.
    ``name`` names the network whatever the spec says; ``default_name`` only where it says none
    (a YAML spec's own ``name:`` wins over it).
    ``set`` gives parameters values: a YAML spec's declared ``params`` and the built-ins ``res``
    (the input's height and width), ``input``, ``rounding``, ``batch``, ``dtype`` and
    ``optimizer`` (the last three are kept in the network's ``analysis`` and used by
    ``analyze``); see docs/design-space.md.
    """
    if not isinstance(text, str):
        raise error(f"a spec is text, got {type(text).__name__}", exit_code=2)
    settings, input, rounding, chosen = _settings(set, input, rounding)
    d, overrides = _defaults(filters, double_after_pool, rounding)
    vol = _volume(input)
    if language is None:
        table = looks_like_table(text)
        language = "table" if table else "yaml" if _YAML_HINT.search(text) else "string"
    elif language not in ("yaml", "table", "string"):
        raise error(f"language must be yaml, table or string, got {language!r}", OPTIONS,
                    exit_code=2)
    if language == "string" and column is not None:
        raise error("--column applies to column tables, not spec strings", OPTIONS, exit_code=2,
                    hint="drop --column, or give a table (a 'Name' header row, then one column "
                         "per network)")
    if language == "yaml":
        if column is not None:
            raise error("--column applies to column tables, not YAML", OPTIONS, exit_code=2)
        got = parse_yaml(text, file, vol, name, overrides, default_name, settings)
    else:
        unknown = [k for k in settings if k != "res"]
        if unknown:             # only a YAML spec declares parameters
            from .yaml_spec import BUILTINS, _near
            what = "column table" if language == "table" else "spec string"
            raise ArchcalcError([Diagnostic(
                "error", f"the spec declares no parameter {k!r}", OPTIONS,
                _near(k, BUILTINS) + f"a {what} declares no parameters (a YAML spec does, under "
                "params:); built-in: " + ", ".join(BUILTINS)) for k in unknown], exit_code=2)
        if settings:
                base = vol or DEFAULT_INPUT
                vol = (settings["res"], settings["res"], base[2])
        if language == "table":
            got = parse_table(text, file, vol or DEFAULT_INPUT, d, column)
        else:
            got = parse_string(text, vol or DEFAULT_INPUT, d, name or default_name or "network",
                               file)
    if chosen:
        for net in (got.values() if isinstance(got, dict) else [got]):
            net.analysis = dict(chosen)
    if vol is not None:                 # an input given as an option
        for net in (got.values() if isinstance(got, dict) else [got]):
            net.input_option = True
            w = channels_first_warning(vol, OPTIONS, net.language)
            if w is not None:
                net.warnings.insert(0, w)
    return got


def parse_string(text: str, input, d: Defaults, name: str, file: str = "<spec>") -> Network:
    pos_of = line_positions(text, file)
    items = parse_items(text, pos_of)
    check_size(items, pos_of(0))
    b = Builder(name, input, pos_of(0))
    diags, b.warnings = letter_runs(items)
    memo: dict = {}
    first: dict = {}               # a warned word's place -> the first layer it made
    warned = {x.pos for x in b.warnings}
    for w in expand(items):
        try:
            made = emit_word(b, w, d, memo)
            if warned and made and w.pos in warned:
                first.setdefault(w.pos, made[0].name)
        except ArchcalcError as exc:       # keep going: report every bad word at once
            if not any(x.pos == exc.diagnostics[0].pos for x in diags):   # once per place
                diags.extend(exc.diagnostics)
    if diags:
        raise ArchcalcError(diags, partial=b.build(d.rounding, file) if len(b.layers) > 1
                            else None)
    if len(b.layers) == 1:
        raise error("the spec is empty", pos_of(0), hint='write layers, e.g. "CRCRP" or '
                    '"C3D64 M FC10 S"')
    b.warnings = [replace(x, layer=first.get(x.pos)) for x in b.warnings]
    return b.build(d.rounding, file)


def read_text(path: str) -> str:
    """A spec file's text (``-`` reads standard input), or a one-line error (exit code 2) for what
    cannot be read as one."""
    if path == "-":
        return _read_stdin()
    where = SourcePos(path)
    if not os.path.exists(path):
        raise error(f"no such file: {path}", where, hint="check the path, or quote a spec string",
                    exit_code=2)
    if os.path.isdir(path):
        raise error(f"{path} is a directory, not a spec file", where, exit_code=2)
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise error(f"{path} is {size:,} bytes; spec files are limited to {MAX_FILE_BYTES:,}",
                        where, exit_code=2)
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}", where, exit_code=2) from None
    return _decode(data, path)


STDIN = "<stdin>"


def _read_stdin() -> str:
    import sys
    stream = getattr(sys.stdin, "buffer", None)
    try:
        data = stream.read(MAX_FILE_BYTES + 1) if stream is not None else \
            sys.stdin.read(MAX_FILE_BYTES + 1).encode("utf-8")
    except (OSError, ValueError) as exc:
        raise error(f"cannot read standard input: {exc}", SourcePos(STDIN), exit_code=2) from None
    if len(data) > MAX_FILE_BYTES:
        raise error(f"standard input holds more than {MAX_FILE_BYTES:,} bytes, the limit for a "
                    "spec", SourcePos(STDIN), exit_code=2)
    return _decode(data, STDIN)


def _decode(data: bytes, path: str) -> str:
    where = SourcePos(path)
    if b"\0" in data:
        raise error(f"{path} is a binary file, not a spec", where, exit_code=2,
                    hint="an ONNX model is read by its .onnx name: rename it to end in .onnx")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise error(f"{path} is not UTF-8 text (byte {exc.start} on line {line})",
                    SourcePos(path, line), hint="save the file as UTF-8", exit_code=2) from None
    if not text.strip():
        raise error(f"{path} is empty", SourcePos(path, 1, 1),
                    hint="write a spec in it (see specs/ for examples)", exit_code=1)
    return text


def load(path: str, input=None, **options) -> Network | dict[str, Network]:
    """Load a spec file (YAML, column table, or a text file holding a spec string); ``"-"`` reads
    standard input (shown as ``<stdin>``). An ``.onnx`` file is read as an ONNX model
    (:func:`archcalc.onnx_import.load_onnx`: ``input`` where its size is dynamic, and
    ``unknown="passthrough"`` for ops archcalc does not know).

    The language comes from a ``.yaml``/``.yml`` extension, else from the text itself. A YAML
    spec keeps its own ``name:``; the file name is the name only where the spec gives none.
    Takes the same options as :func:`parse`."""
    if not isinstance(path, (str, os.PathLike)):
        raise error(f"load takes a path, got {type(path).__name__}", exit_code=2,
                    hint="archcalc.parse(text) reads spec text; archcalc.load(path) a file")
    path = str(path)
    if path.lower().endswith(".onnx"):
        return _load_onnx(path, input, options)
    options.pop("unknown", None)
    text = read_text(path)
    if path == "-":
        return parse(text, input, file=STDIN, **options)
    if os.path.splitext(path)[1].lower() in (".yaml", ".yml"):
        options.setdefault("language", "yaml")
    options.setdefault("default_name", os.path.splitext(os.path.basename(path))[0])
    return parse(text, input, file=path, **options)


def _load_onnx(path: str, input, options: dict) -> Network:
    """An ONNX model through :mod:`archcalc.onnx_import` (which never reads its weights)."""
    unknown = options.pop("unknown", None) or "error"
    name = options.pop("name", None)
    options.pop("default_name", None)
    settings, input, rounding, chosen = _settings(options.pop("set", None), input,
                                                  options.pop("rounding", None))
    res = settings.pop("res", None)
    if settings:                    # (--set's built-ins apply; a model declares no parameters)
        from .yaml_spec import BUILTINS
        raise error(f"an ONNX model declares no parameter {next(iter(settings))!r}", OPTIONS,
                    exit_code=2, hint="--set takes, for a model, the built-ins: "
                    + ", ".join(b for b in BUILTINS if b != "rounding"))
    if rounding is not None:
        options["rounding"] = rounding
    given = [k for k, v in options.items() if v is not None]
    if given:
        opt = "--" + given[0].replace("_", "-")
        raise error(f"{opt} applies to specs, not to ONNX models", OPTIONS, exit_code=2,
                    hint="an ONNX model's layers carry their own sizes and rounding; drop "
                         f"{opt}")
    from ..onnx_import import load_onnx
    net = load_onnx(path, input, unknown=unknown, name=name, res=res)
    if chosen:
        net.analysis = dict(chosen)
    return net
