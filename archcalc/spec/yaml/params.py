"""A YAML spec's top-level values: its declared parameters (``params:``) with ``--set`` values
over their defaults, and its ``defaults:`` (which may use those parameters).

A spec declares parameters as names with defaults (``params: {width: 1.0, depth: [3, 4, 6,
3]}``); every expression of the spec may use them. ``--set`` (``set=`` from Python) gives a
declared parameter a value of the kind of its default; a name the spec does not declare is an
error of kind "usage" unless it is a built-in (:data:`archcalc.settings.BUILTINS`), which the
front-ends apply themselves.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from ...errors import ArchcalcError, Diagnostic, SourcePos, error
from ...ops import DEFAULT_ROUNDING
from ...ops.base import suggest_attr
from ...ops.values import as_bool, as_int, as_padding, as_pair, as_rounding, as_written, near
from ...settings import BUILTINS
from ..text import Defaults
from .compose import YMap
from .expr import FUNCTIONS, Expressions

DEFAULT_KEYS = ("filters", "double_after_pool", "rounding", "bias", "conv", "pool")
# names no parameter (nor a stage table's column) may take: the language's own
RESERVED = ("in", "i", "stage", "true", "false", *FUNCTIONS)
NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
# the built-in parameters every spec has (archcalc.settings.BUILTINS): ``res`` may also be
# declared (the spec then uses it itself, e.g. ``input: ${res}x${res}x3``); the others may not
UNDECLARABLE = BUILTINS[1:]


def top_params(spec: YMap, diags: list[Diagnostic], settings: dict[str, Any] | None,
               exprs: Expressions) -> dict[str, Any]:
    """The spec's ``params:``: names every expression may use (e.g. width_mult, depth_mult),
    with ``settings`` (``--set``) over their defaults. A parameter given in ``settings`` takes
    that value whatever its default says; one after it that is computed from it follows it.
    Each problem of the spec is added to ``diags``; a bad ``--set`` is raised (kind "usage")."""
    settings = settings or {}
    raw = spec.get("params")
    if raw is not None and not isinstance(raw, YMap):
        diags.extend(error("params must be a mapping of names to values", spec.where["params"],
                           hint="params: {width_mult: 1.0, depth_mult: 1.0}").diagnostics)
        raw = None
    raw = raw if raw is not None else YMap()
    unknown = [k for k in settings if k not in raw and k not in BUILTINS]
    if unknown:
        declared = list(raw)
        raise ArchcalcError([Diagnostic(
            "error", f"the spec declares no parameter {k!r}", SourcePos("<options>"),
            near(k, declared + list(BUILTINS)) + "its parameters: "
            + (", ".join(declared) or "none") + "; built-in: " + ", ".join(BUILTINS))
            for k in unknown], kind="usage")
    env: dict[str, Any] = {}
    for k, v in raw.items():
        try:
            if not NAME.fullmatch(k) or k in RESERVED:
                raise error(f"{k!r} cannot name a parameter", raw.key_at[k],
                            hint="a parameter is a word other than "
                            + ", ".join(RESERVED))
            if k in UNDECLARABLE:
                raise error(f"{k!r} is a built-in parameter: a spec cannot declare it",
                            raw.key_at[k], hint=f"set it with --set {k}=… (or set={{{k!r}: …}}); "
                            "a spec may declare res (and use it, input: ${res}x${res}x3)")
            default = exprs.substitute(v, env, raw.where[k])
            env[k] = check_setting(k, settings[k], default) if k in settings else default
        except ArchcalcError as exc:
            if exc.kind == "usage":          # a bad --set: the command line's, not the spec's
                raise
            diags.extend(exc.diagnostics)
    return env


def check_setting(name: str, value: Any, default: Any) -> Any:
    """A ``--set`` value for a declared parameter, checked against the kind of its default (a
    number for a number, a list for a list, true/false for true/false)."""
    def kind(v: Any) -> str | None:
        return ("true or false" if isinstance(v, bool) else "a number"
                if isinstance(v, (int, float)) else "a list" if isinstance(v, list)
                else "text" if isinstance(v, str) else None)
    want, got = kind(default), kind(value)
    if want is not None and got != want:
        raise error(f"--set {name}: the parameter is {want} (its default is "
                    f"{as_written(default)}), got {as_written(value)}", SourcePos("<options>"),
                    hint=f"e.g. --set {name}={as_written(default)}", kind="usage")
    return value


def uses(value: Any, name: str) -> bool:
    """Whether an expression somewhere in ``value`` (YAML values, nested) may read ``name``."""
    stack = [value]
    word = re.compile(r"\b" + re.escape(name) + r"\b")
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str) and "$" in v and word.search(v):
            return True
    return False


def spec_defaults(spec: YMap, base: Defaults, diags: list[Diagnostic], env: dict[str, Any],
                  exprs: Expressions) -> Defaults:
    """The spec's ``defaults:`` over ``base``; each bad entry is added to ``diags`` and skipped,
    so that the layers are still checked. Values may use the top-level ``params`` (``env``)."""
    raw = spec.get("defaults")
    if raw is None:
        return base
    if not isinstance(raw, YMap):
        diags.extend(error("defaults must be a mapping", spec.where["defaults"]).diagnostics)
        return base
    d = replace(base)
    for key, value in raw.items():
        pos = raw.where[key]
        try:
            value = exprs.substitute(value, env, pos) if not isinstance(value, YMap) else value
            if key not in DEFAULT_KEYS:
                raise error(f"unknown default {key!r}", raw.key_at[key],
                            hint=near(key, DEFAULT_KEYS) + "defaults: " + ", ".join(DEFAULT_KEYS))
            if key in ("conv", "pool"):
                if not isinstance(value, YMap):
                    raise error(f"defaults.{key} must be a mapping", pos)
                allowed = ("kernel", "stride", "padding") if key == "conv" else ("kernel", "stride")
                for k, v in value.items():
                    try:
                        if k not in allowed:
                            meant = suggest_attr(k, allowed)
                            raise error(f"unknown default {key}.{k}", value.key_at[k],
                                        hint=(f"did you mean {meant!r}? " if meant else "")
                                        + f"defaults.{key}: " + ", ".join(allowed))
                        where = value.where[k]
                        v = exprs.substitute(v, env, where)
                        setattr(d, f"{key}_{k}", as_padding(v, where) if k == "padding"
                                else as_pair(v, f"defaults.{key}.{k}", where))
                    except ArchcalcError as exc:
                        diags.extend(exc.diagnostics)
            elif key == "rounding":
                d.rounding = as_rounding(value, pos) or DEFAULT_ROUNDING
            elif key == "filters":
                d.filters = as_int(value, "filters", pos)
            else:                               # double_after_pool, bias
                setattr(d, key, as_bool(value, key, pos))
        except ArchcalcError as exc:
            diags.extend(exc.diagnostics)
    d.width = d.filters
    return d
