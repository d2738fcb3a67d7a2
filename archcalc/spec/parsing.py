"""Spec text in any of archcalc's languages → a :class:`~archcalc.graph.Network`: the front-ends'
common entry, :func:`parse_text`, given the options :func:`archcalc.settings.resolve` checked.
The language is given, or recognised from the text's form:

  * a YAML mapping with ``layers:`` → :mod:`.yaml`
  * a table with a ``Name`` header row (tab-separated or Markdown) → :mod:`.table`
  * anything else → the shorthand/token grammar of :mod:`.text`
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from ..bulk import paused_gc
from ..errors import OPTIONS, ArchcalcError, Diagnostic, SourcePos, error
from ..graph import Builder, Network
from ..ops.values import channels_first_warning, near
from ..settings import BUILTINS, LoadOptions
from .table import looks_like_table, parse_table
from .text import (
    Defaults,
    WordMemo,
    check_size,
    emit_word,
    expand,
    letter_runs,
    line_positions,
    parse_items,
)
from .ultralytics import is_ultralytics, looks_like_ultralytics, parse_ultralytics
from .yaml import compose, parse_yaml
from .yaml.compose import compose_yaml

DEFAULT_INPUT = (224, 224, 3)
_YAML_HINT = re.compile(r"^\s*(layers|name|input|blocks|defaults)\s*:", re.M)
LANGUAGES = ("yaml", "table", "string")


def _defaults(opts: LoadOptions) -> tuple[Defaults, dict[str, Any]]:
    """What shorthand letters mean, and the options that override a YAML spec's defaults."""
    overrides: dict[str, Any] = {}
    if opts.filters is not None:
        overrides["filters"] = opts.filters
    if opts.double_after_pool is not None:
        overrides["double_after_pool"] = opts.double_after_pool
    if opts.rounding is not None:
        overrides["rounding"] = opts.rounding
    return replace(Defaults(), **overrides), overrides


@paused_gc()
def parse_text(text: str, opts: LoadOptions = LoadOptions(), *, file: str = "<spec>",
               language: str | None = None, name: str | None = None,
               default_name: str | None = None, parsed: dict[str, Any] | None = None
               ) -> Network | dict[str, Network]:
    """Spec text → Network (or {column: Network} for a column table without ``opts.column``).
    ``language`` ("yaml", "table" or "string") skips recognising it from the text; ``name``
    names the network whatever the spec says, ``default_name`` only where it says none.
    ``parsed``: a place to keep what reading this text made, for the next call with the same
    text (:class:`~.sources.Source` keeps one: a YAML document is composed once)."""
    if not isinstance(text, str):
        raise error(f"a spec is text, got {type(text).__name__}", kind="usage")
    d, overrides = _defaults(opts)
    vol = opts.input
    params = dict(opts.params)
    if language in (None, "yaml") and looks_like_ultralytics(text):
        document = None if parsed is None else parsed.get("ultralytics")
        if document is None:
            document = compose_yaml(text, file)
            if parsed is not None:
                parsed["ultralytics"] = document
        if is_ultralytics(document):
            if opts.column is not None:
                raise error("--column applies to column tables, not Ultralytics models",
                            OPTIONS, kind="usage")
            return _finish(parse_ultralytics(document, file, vol, name, default_name, params,
                                             opts.rounding), vol is not None, opts)
    if language is None:
        table = looks_like_table(text)
        language = "table" if table else "yaml" if _YAML_HINT.search(text) else "string"
    elif language not in LANGUAGES:
        raise error(f"language must be yaml, table or string, got {language!r}", OPTIONS,
                    kind="usage")
    if language == "string" and opts.column is not None:
        raise error("--column applies to column tables, not spec strings", OPTIONS, kind="usage",
                    hint="drop --column, or give a table (a 'Name' header row, then one column "
                         "per network)")
    if language == "yaml":
        if opts.column is not None:
            raise error("--column applies to column tables, not YAML", OPTIONS, kind="usage")
        document = None if parsed is None else parsed.get("yaml")
        if document is None:
            document = compose(text, file)
            if parsed is not None:
                parsed["yaml"] = document
        got: Network | dict[str, Network] = parse_yaml(text, file, vol, name, overrides,
                                                       default_name, params, document)
    else:
        unknown = [k for k in params if k != "res"]
        if unknown:             # only a YAML spec declares parameters
            what = "column table" if language == "table" else "spec string"
            raise ArchcalcError([Diagnostic(
                "error", f"the spec declares no parameter {k!r}", OPTIONS,
                near(k, BUILTINS) + f"a {what} declares no parameters (a YAML spec does, under "
                "params:); built-in: " + ", ".join(BUILTINS)) for k in unknown], "usage")
        if "res" in params:
            base = vol or DEFAULT_INPUT
            vol = (params["res"], params["res"], base[2])
        if language == "table":
            got = parse_table(text, file, vol or DEFAULT_INPUT, d, opts.column)
        else:
            got = parse_string(text, vol or DEFAULT_INPUT, d, name or default_name or "network",
                               file)
    return _finish(got, vol is not None, opts)


def _finish(got: Network | dict[str, Network], given: bool, opts: LoadOptions
            ) -> Network | dict[str, Network]:
    """The networks with the request's settings, and the input's C×H×W warning where an option
    gave it."""
    def done(net: Network) -> Network:
        warnings = net.warnings
        if given:
            w = channels_first_warning(net.input, OPTIONS, net.language)
            if w is not None:
                warnings = [w, *warnings]
        return net.replace(settings=opts.settings, input_given=given, warnings=warnings)
    if isinstance(got, dict):
        return {k: done(v) for k, v in got.items()}
    return done(got)


def parse_string(text: str, input: tuple[int, int, int], d: Defaults, name: str,
                 file: str = "<spec>") -> Network:
    pos_of = line_positions(text, file)
    items = parse_items(text, pos_of)
    check_size(items, pos_of(0))
    b = Builder(name, input, pos_of(0))
    diags, b.warnings = letter_runs(items)
    memo: WordMemo = {}
    first: dict[SourcePos, str] = {}    # a warned word's place -> the first layer it made
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
