"""Parameters of a spec: ``--set name=value`` and the variants it makes (docs/design-space.md).

A YAML spec declares parameters with defaults under ``params:`` (``params: {width: 1.0,
depth: [3, 4, 6, 3], res: 224}``) and uses them in any expression (``${make_divisible(64 *
width)}``); every spec also has the built-in parameters (:data:`archcalc.settings.BUILTINS`):

  ``res``        the input's height and width (square); a spec may declare it itself and use it
                 (``input: ${res}x${res}x3``), else it replaces the height and width of the input
  ``input``      the whole input volume, ``HxWxC`` (as ``--input``)
  ``rounding``   covered, exact, floor or ceil (as ``--rounding``)
  ``batch``, ``dtype``, ``optimizer``   what ``analyze`` uses (as ``--batch``, ``--dtype``,
                 ``--optimizer``; a ``--set`` value wins over those options)

Public API (``archcalc sweep`` and ``archcalc fit`` build on it):

``parse_assignment(text) -> (name, value)``, ``parse_sets(texts) -> {name: value}``
    ``"width=0.75"`` → ``("width", 0.75)``; values are whole numbers, decimals, true/false,
    lists (``depth=[2,2,2,2]``) or words (``dtype=bf16``, ``input=160x160x3``).

:class:`Design`
    A SPEC opened once (its text read, a YAML document composed once) with the command's
    options; ``build(values)`` is the network for ``--set``-like values (each variant re-evaluated
    from the parsed spec, never re-read); ``declared()`` the spec's parameters with their
    defaults, then the built-ins.

``parse_range(text, option="--range", least=1) -> range``
    ``"32..1024"`` (both ends included) or ``"160..320/32"``.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..errors import OPTIONS, ArchcalcError, Diagnostic, error
from ..graph import Network
from ..ops.values import as_written
from ..settings import BUILTINS, LoadOptions, check_builtin, parse_assignment, parse_sets, resolve
from ..spec.sources import Source, load_source, one, open_source

__all__ = ["parse_assignment", "parse_sets", "parse_range", "Design", "declared", "describe",
           "undeclared", "vary", "BUILTINS", "check_builtin"]

def vary(base: LoadOptions, values: Mapping[str, Any]) -> LoadOptions:
    """``base`` (a command's resolved options) with ``--set``-like ``values`` over it, merged and
    checked by the same rules (:func:`archcalc.settings.resolve`)."""
    s = base.settings
    return resolve(set={**base.params, **values}, input=base.input, rounding=base.rounding,
                   filters=base.filters, double_after_pool=base.double_after_pool,
                   column=base.column, unknown=base.unknown, dtype=s.dtype, batch=s.batch,
                   optimizer=s.optimizer, count_inplace=s.count_inplace,
                   convention=s.convention, label=base.label)


class Design:
    """A SPEC opened once, built for many settings (a sweep's variants, a fit's probes): the
    text is read once and a YAML document composed once; each :meth:`build` evaluates the
    parsed spec with its values (the network a plain load with those ``--set`` values gives)."""

    def __init__(self, spec: str | Source, options: LoadOptions = LoadOptions()):
        self.source = spec if isinstance(spec, Source) else open_source(spec, options.label)
        self.options = options

    @property
    def arg(self) -> str:
        return self.source.arg

    def build(self, values: Mapping[str, Any] | None = None, **options: Any) -> Network:
        """The network for ``values`` (``{"width": 0.75, "batch": 32}``); its ``settings``
        carry batch, dtype and optimizer for ``analyze``. ``options`` replace the command's
        own (``rounding="floor"``: what a size would give under floor rounding)."""
        opts = vary(self.options, values) if values else self.options
        if options:
            opts = replace(opts, **options)
        return one(load_source(self.source, opts), self.source.arg)

    def declared(self) -> dict[str, Any]:
        """The spec's parameters with their defaults, in the order declared, then the built-ins
        with the values the spec gets without settings (res is None for an input that is not
        square)."""
        net = self.build()
        h, w, c = net.input
        out = dict(net.params)
        out.setdefault("res", h if h == w else None)
        s = net.settings
        out.update(input=f"{h}x{w}x{c}", rounding=net.rounding, dtype=s.dtype, batch=s.batch,
                   optimizer=s.optimizer)
        return out


def declared(spec: str, options: LoadOptions = LoadOptions()) -> dict[str, Any]:
    """The spec's parameters with their defaults, then the built-ins (:meth:`Design.declared`)."""
    return Design(spec, options).declared()


def describe(values: Mapping[str, Any]) -> str:
    """``width=0.75 res=160``: settings as --set would take them."""
    return " ".join(f"{k}={as_written(v)}" for k, v in values.items())


def undeclared(name: str, names: Sequence[str]) -> ArchcalcError:
    """The error for a parameter the spec does not declare (for commands that check first)."""
    near = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return ArchcalcError(Diagnostic("error", f"the spec declares no parameter {name!r}", OPTIONS,
                                    (f"did you mean {near[0]!r}? " if near else "")
                                    + "parameters: " + ", ".join(names)), "usage")


_RANGE = re.compile(r"\s*(-?\d[\d_]*)\s*\.\.\s*(-?\d[\d_]*)\s*(?:/\s*(-?\d[\d_]*)\s*)?")


def parse_range(text: str, option: str = "--range", least: int = 1) -> range:
    """``"32..1024"`` (every whole number from 32 to 1024, both included) or ``"160..320/32"``
    (every 32nd) → a ``range``. A range with no values, a step of zero or a bound below
    ``least`` is an error at <options> (exit 2)."""
    m = _RANGE.fullmatch(str(text))
    if not m:
        raise error(f"{option} takes FIRST..LAST or FIRST..LAST/STEP, got {text!r}", OPTIONS,
                    hint=f"e.g. {option} 32..1024 or {option} 160..320/32 (both ends included)",
                    kind="usage")
    lo, hi = int(m.group(1).replace("_", "")), int(m.group(2).replace("_", ""))
    step = int(m.group(3).replace("_", "")) if m.group(3) else 1
    if step == 0:
        raise error(f"{option} {text}: a step of zero", OPTIONS,
                    hint=f"a positive step, e.g. {lo}..{hi}/1", kind="usage")
    if step < 0:
        raise error(f"{option} {text}: the step must be positive", OPTIONS,
                    hint=f"write the range upwards: {min(lo, hi)}..{max(lo, hi)}/{-step}",
                    kind="usage")
    if hi < lo:
        raise error(f"{option} {text} holds no values: {lo} is more than {hi}", OPTIONS,
                    hint=f"write the range upwards: {hi}..{lo}", kind="usage")
    if lo < least:
        raise error(f"{option} {text}: values start at {least}, got {lo}", OPTIONS,
                    hint=f"e.g. {option} {max(least, 32)}..{max(hi, 64)}", kind="usage")
    return range(lo, hi + 1, step)
