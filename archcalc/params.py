"""Parameters of a spec: ``--set name=value`` and the variants it makes (docs/design-space.md).

A YAML spec declares parameters with defaults under ``params:`` (``params: {width: 1.0,
depth: [3, 4, 6, 3], res: 224}``) and uses them in any expression (``${make_divisible(64 *
width)}``); every spec also has the built-in parameters

  ``res``        the input's height and width (square); a spec may declare it itself and use it
                 (``input: ${res}x${res}x3``), else it replaces the height and width of the input
  ``input``      the whole input volume, ``HxWxC`` (as ``--input``)
  ``rounding``   covered, exact, floor or ceil (as ``--rounding``)
  ``batch``, ``dtype``, ``optimizer``   what ``analyze`` uses (as ``--batch``, ``--dtype``,
                 ``--optimizer``; a ``--set`` value wins over those options)

Public API (stable: ``archcalc sweep`` and ``archcalc fit`` build on it):

``parse_assignment(text: str) -> tuple[str, Any]``
    ``"width=0.75"`` → ``("width", 0.75)``; values are whole numbers, decimals, true/false,
    lists (``depth=[2,2,2,2]``) or words (``dtype=bf16``, ``input=160x160x3``). A malformed
    assignment is an ArchcalcError at <options> (exit 2).

``declared(spec_arg, **load_options) -> dict[str, Any]``
    The spec's declared parameters with their defaults, in the order declared, then the
    built-ins with the values the spec gets without settings (res, input, rounding, batch,
    dtype, optimizer; res is None for an input that is not square).

``load_variant(spec_arg, settings: dict[str, Any], **load_options) -> tuple[Network, dict]``
    The network for those settings and the keyword options of ``archcalc.analyze`` for them
    (``dtype``, ``batch``, ``optimizer``): ``analyze(net, **options)``. A name the spec does not
    declare (and no built-in) is an ArchcalcError, exit 2, with "did you mean" and the declared
    names; a spec that fails to build with these settings raises its errors (exit 1).

``check_builtin(name: str, value: Any) -> None``
    A built-in parameter's value checked as ``--set`` checks it (exit 2 for a bad one).

``parse_range(text: str, option: str = "--range", least: int = 1) -> range``
    ``"32..1024"`` (both ends included) or ``"160..320/32"``; a range with no values, a step of
    zero or a negative step is an ArchcalcError at <options> (exit 2).

``spec_arg`` is what the commands take as SPEC: a file, a shipped network's name, a spec string
or ``-``. ``load_options`` are those of the commands: ``input``, ``filters``,
``double_after_pool``, ``rounding``, ``column`` (all optional).
"""
from __future__ import annotations

import re
from typing import Any, Optional, Sequence

from .errors import OPTIONS, ArchcalcError, Diagnostic, error
from .graph import Network
from .spec.yaml_spec import BUILTINS

__all__ = ["parse_assignment", "declared", "load_variant", "parse_range", "BUILTINS", "parse_sets",
           "check_builtin"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_NUMBER = re.compile(r"[+-]?(\d[\d_]*)?(\.\d*)?([eE][+-]?\d+)?")
DEFAULT_ANALYSIS = {"dtype": "fp32", "batch": 1, "optimizer": "adam"}


def _value(text: str, option: str) -> Any:
    """One value of an assignment: a number, true/false, a list of values, or a word."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    if _NUMBER.fullmatch(t) and any(c.isdigit() for c in t):
        try:
            return int(t.replace("_", ""))
        except ValueError:
            return float(t.replace("_", ""))
    if t.startswith("[") or t.endswith("]"):
        if not (t.startswith("[") and t.endswith("]")):
            raise error(f"{option}: the list {t!r} is not closed", OPTIONS,
                        hint="write a list as [3,4,6,3]", exit_code=2)
        inner = t[1:-1].strip()
        if not inner:
            return []
        if "[" in inner:
            raise error(f"{option}: lists of lists are not supported, got {t!r}", OPTIONS,
                        hint="write a list as [3,4,6,3]", exit_code=2)
        return [_value(x, option) for x in inner.split(",")]
    if not t:
        raise error(f"{option}: a value is missing", OPTIONS,
                    hint="write NAME=VALUE, e.g. --set width=0.75", exit_code=2)
    return t


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"name=value"`` → ``(name, value)`` (see the module's docstring)."""
    if not isinstance(text, str) or "=" not in text:
        raise error(f"--set takes NAME=VALUE, got {text!r}", OPTIONS,
                    hint="e.g. --set width=0.75 or --set depth=[2,2,2,2]", exit_code=2)
    name, _, raw = text.partition("=")
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise error(f"--set {text}: {name!r} is not a parameter name", OPTIONS,
                    hint="a name is a word (letters, digits, _), e.g. --set width=0.75",
                    exit_code=2)
    if not raw.strip():
        raise error(f"--set {name}=: the value is missing", OPTIONS,
                    hint=f"e.g. --set {name}=1", exit_code=2)
    return name, _value(raw, f"--set {name}")


def parse_sets(texts: Optional[Sequence[str]]) -> dict[str, Any]:
    """Repeated ``--set`` options → {name: value}; a name given twice is an error."""
    out: dict[str, Any] = {}
    for t in texts or ():
        name, value = parse_assignment(t)
        if name in out:
            raise error(f"--set {name} is given twice", OPTIONS,
                        hint="give each parameter once", exit_code=2)
        out[name] = value
    return out


def _load(spec_arg: str, settings: Optional[dict], load_options: dict) -> Network:
    from .cli_common import load_one
    unknown = set(load_options) - {"input", "filters", "double_after_pool", "rounding", "column",
                                   "label"}
    if unknown:
        raise TypeError(f"unknown load options: {', '.join(sorted(unknown))}")
    o = load_options
    return load_one(spec_arg, o.get("input"), o.get("filters"), o.get("double_after_pool"),
                    o.get("rounding"), o.get("column"), o.get("label", "<spec>"),
                    settings=settings or None)


def analysis_of(net: Network, base: Optional[dict] = None) -> dict:
    """The keyword options of ``analyze`` for ``net``: ``base`` (the command's --dtype, --batch,
    --optimizer; else fp32, 1, adam) with the built-in parameters it was loaded with over them."""
    return {**DEFAULT_ANALYSIS, **(base or {}), **net.analysis}


def declared(spec_arg: str, **load_options) -> dict[str, Any]:
    """The spec's parameters with their defaults, then the built-ins (module docstring)."""
    net = _load(spec_arg, None, load_options)
    h, w, c = net.input
    out = dict(net.params)
    out.setdefault("res", h if h == w else None)
    out.update(input=f"{h}x{w}x{c}", rounding=net.rounding, **analysis_of(net))
    return out


def load_variant(spec_arg: str, settings: dict[str, Any], **load_options
                 ) -> tuple[Network, dict]:
    """The network and ``analyze`` options for ``settings`` (module docstring)."""
    if not isinstance(settings, dict):
        raise error(f"settings are a mapping of names to values, got {settings!r}", OPTIONS,
                    exit_code=2)
    net = _load(spec_arg, settings, load_options)
    return net, analysis_of(net)


def cli_load(spec_arg: str, sets: Optional[Sequence[str]], input, filters, double, rounding,
             column, options: dict) -> tuple[Network, dict]:
    """What a command does with SPEC and its --set options: the network and the ``analyze``
    options (``options``: the command's own --dtype/--batch/--optimizer, which --set overrides)."""
    settings = parse_sets(sets)
    net = _load(spec_arg, settings, dict(input=input, filters=filters, double_after_pool=double,
                                         rounding=rounding, column=column))
    return net, {k: v for k, v in analysis_of(net, options).items() if k in options}


def describe(values: dict[str, Any]) -> str:
    """``width=0.75 res=160``: settings as --set would take them."""
    from .spec.yaml_spec import _show
    return " ".join(f"{k}={_show(v)}" for k, v in values.items())


def undeclared(name: str, names: Sequence[str]) -> ArchcalcError:
    """The error for a parameter the spec does not declare (for commands that check first)."""
    import difflib
    near = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return ArchcalcError(Diagnostic("error", f"the spec declares no parameter {name!r}", OPTIONS,
                                    (f"did you mean {near[0]!r}? " if near else "")
                                    + "parameters: " + ", ".join(names)), exit_code=2)


_RANGE = re.compile(r"\s*(-?\d[\d_]*)\s*\.\.\s*(-?\d[\d_]*)\s*(?:/\s*(-?\d[\d_]*)\s*)?")


def parse_range(text: str, option: str = "--range", least: int = 1) -> range:
    """``"32..1024"`` (every whole number from 32 to 1024, both included) or ``"160..320/32"``
    (every 32nd) → a ``range``. A range with no values, a step of zero or a bound below
    ``least`` is an error at <options> (exit 2)."""
    m = _RANGE.fullmatch(str(text))
    if not m:
        raise error(f"{option} takes FIRST..LAST or FIRST..LAST/STEP, got {text!r}", OPTIONS,
                    hint=f"e.g. {option} 32..1024 or {option} 160..320/32 (both ends included)",
                    exit_code=2)
    lo, hi = int(m.group(1).replace("_", "")), int(m.group(2).replace("_", ""))
    step = int(m.group(3).replace("_", "")) if m.group(3) else 1
    if step == 0:
        raise error(f"{option} {text}: a step of zero", OPTIONS,
                    hint=f"a positive step, e.g. {lo}..{hi}/1", exit_code=2)
    if step < 0:
        raise error(f"{option} {text}: the step must be positive", OPTIONS,
                    hint=f"write the range upwards: {min(lo, hi)}..{max(lo, hi)}/{-step}",
                    exit_code=2)
    if hi < lo:
        raise error(f"{option} {text} holds no values: {lo} is more than {hi}", OPTIONS,
                    hint=f"write the range upwards: {hi}..{lo}", exit_code=2)
    if lo < least:
        raise error(f"{option} {text}: values start at {least}, got {lo}", OPTIONS,
                    hint=f"e.g. {option} {max(least, 32)}..{max(hi, 64)}", exit_code=2)
    return range(lo, hi + 1, step)


def check_builtin(name: str, value: Any) -> None:
    """A value of a built-in parameter (``batch``, ``dtype``, ``optimizer``, ``input``,
    ``rounding``, ``res``) checked as ``--set`` checks it: an ArchcalcError at <options> (exit 2)
    for a bad one (``dtype=fp64``, ``batch=0``)."""
    from .spec import _settings
    _settings({name: value}, None, None)
