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
from ..errors import OPTIONS, ArchcalcError, SourcePos, error
from ..graph import Builder, Network, parse_volume
from ..ops import _rounding
from .table import looks_like_table, parse_table
from .text import Defaults, check_size, emit_word, expand, line_positions, parse_items
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


def _volume(input) -> tuple[int, int, int] | None:
    if input is None:
        return None
    return parse_volume(input, OPTIONS, exit_code=2)


@paused_gc()
def parse(text: str, input=None, *, name: str | None = None, filters: int | None = None,
          double_after_pool: bool | None = None, rounding: str | None = None,
          column: str | None = None, file: str = "<spec>",
          language: str | None = None) -> Network | dict[str, Network]:
    """Parse spec text into a Network.

    ``input`` is the input volume (H, W, C) or ``"224x224x3"``; a YAML spec's own ``input`` is
    used when it is None, else 224×224×3. ``filters`` and ``double_after_pool`` set what a letter
    C means; ``rounding`` ("exact", "floor", "ceil") the default for windows. For a column table,
    ``column`` picks one network; without it a dict {column: Network} is returned.
    ``language`` ("yaml", "table" or "string") skips recognising the language from the text.
    """
    if not isinstance(text, str):
        raise error(f"a spec is text, got {type(text).__name__}", exit_code=2)
    d, overrides = _defaults(filters, double_after_pool, rounding)
    vol = _volume(input)
    if language is None:
        table = looks_like_table(text)
        language = "table" if table else "yaml" if _YAML_HINT.search(text) else "string"
    if language == "yaml":
        if column is not None:
            raise error("--column applies to column tables, not YAML", OPTIONS, exit_code=2)
        return parse_yaml(text, file, vol, name, overrides)
    if language == "table":
        return parse_table(text, file, vol or DEFAULT_INPUT, d, column)
    return parse_string(text, vol or DEFAULT_INPUT, d, name or "network", file)


def parse_string(text: str, input, d: Defaults, name: str, file: str = "<spec>") -> Network:
    pos_of = line_positions(text, file)
    items = parse_items(text, pos_of)
    check_size(items, pos_of(0))
    b = Builder(name, input, pos_of(0))
    diags, memo = [], {}
    for w in expand(items):
        try:
            emit_word(b, w, d, memo)
        except ArchcalcError as exc:       # keep going: report every bad word at once
            if not any(x.pos == exc.diagnostics[0].pos for x in diags):   # once per place
                diags.extend(exc.diagnostics)
    if diags:
        raise ArchcalcError(diags)
    if len(b.layers) == 1:
        raise error("the spec is empty", pos_of(0), hint='write layers, e.g. "CRCRP" or '
                    '"C3D64 M FC10 S"')
    return b.build(d.rounding, file)


def read_text(path: str) -> str:
    """A spec file's text, or a one-line error (exit code 2) for what cannot be read as one."""
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
    if b"\0" in data:
        raise error(f"{path} is a binary file, not a spec", where, exit_code=2)
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
    """Load a spec file (YAML, column table, or a text file holding a spec string).

    Takes the same options as :func:`parse`."""
    path = str(path)
    text = read_text(path)
    if os.path.splitext(path)[1].lower() in (".yaml", ".yml"):
        return parse(text, input, file=path, language="yaml", **options)   # its own name
    options["name"] = options.get("name") or os.path.splitext(os.path.basename(path))[0]
    return parse(text, input, file=path, **options)
