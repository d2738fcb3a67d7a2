"""Settings, resolved once: what a request asks of archcalc, checked and merged in one function.

A request gives values three ways: the command's options (``--input``, ``--batch`` …, or the same
keywords from Python), ``--set NAME=VALUE`` (``set={...}``), whose *built-in* names are
``res``, ``input``, ``rounding``, ``batch``, ``dtype`` and ``optimizer``, and the spec's own
declared parameters (``params:`` in YAML, with their defaults; the front-end merges those).
:func:`resolve` merges the first two and checks every value, with one message per problem, into
a frozen :class:`LoadOptions`: how to read the spec (its input volume, rounding, the spec's
parameters …) and the :class:`Settings` the analysis uses (dtype, batch, optimizer, in-place
counting). The rules, written once here:

* ``--set input=`` and ``--input`` (and ``--set rounding=`` and ``--rounding``) must agree;
  ``--set res=N`` and an input of another height or width disagree;
* ``--set batch=`` (``dtype=``, ``optimizer=``) wins over ``--batch`` (``--dtype``,
  ``--optimizer``): a sweep varies it over a command's fixed option;
* every other ``--set`` name is a parameter of the spec (checked by the front-end, which knows
  what the spec declares); ``res`` is also the built-in "input height and width".
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ParamSpec, TypeVar, overload

from .errors import NOWHERE, OPTIONS, ArchcalcError, Diagnostic, SourcePos, error
from .ops.values import Vol, as_bool, as_rounding, as_volume, choice
from .units import DTYPES

# the optimizers of the training model, each with the state tensors it keeps per trainable
# parameter at the parameter's dtype (adafactor's factored second moment and adam8bit's 8-bit
# states are computed per weight: archcalc.analysis.training; docs/training-memory.md)
OPTIMIZERS: dict[str, int] = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2, "adafactor": 0,
                              "adam8bit": 0}
# mixed precision: off (every tensor at --dtype), or autocast to bf16 or fp16 (fp32 weights)
AMP_MODES = ("off", "bf16", "fp16")
# the kernels the training model follows where they differ (dropout's mask, autocast's lists)
BACKENDS = ("cuda", "cpu")
# what the MACs figures count (the rules: archcalc.analysis.conventions; docs/definitions.md)
CONVENTIONS = ("torchvision", "fvcore", "flopcounter", "everything")
# what an ONNX node of an op archcalc does not know becomes
UNKNOWN_MODES = ("error", "passthrough")
BUILTINS = ("res", "input", "batch", "dtype", "optimizer", "rounding")
ANALYSIS_BUILTINS = ("batch", "dtype", "optimizer")
_P = ParamSpec("_P")
_T = TypeVar("_T")
LIMIT = 2 ** 31              # the largest size or count archcalc takes (docs/diagnostics.md)
EXAMPLES = {"res": "224", "input": "224x224x3", "rounding": "floor", "batch": "32",
            "dtype": "bf16", "optimizer": "adam"}


@dataclass(frozen=True, slots=True)
class Settings:
    """What the analysis uses beyond the network: bytes per element, images per batch, whether
    in-place ops get buffers of their own, and the training step's optimizer, mixed precision
    (``amp``), checkpointed blocks, micro-batches (``accumulate``) and kernels (``backend``)."""
    dtype: str = "fp32"
    batch: int = 1
    count_inplace: bool = False
    optimizer: str = "adam"
    # what the MACs figures count (archcalc.analysis.conventions): torchvision's by default
    convention: str = "torchvision"
    amp: str = "off"
    checkpoint: tuple[str, ...] = ()
    accumulate: int = 1
    backend: str = "cuda"

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    @property
    def dtype_bytes(self) -> int:
        return DTYPES[self.dtype]


@dataclass(frozen=True)
class LoadOptions:
    """How to read a spec, and the settings its network is analyzed with.

    ``input``: the input volume (None: the spec's own, else 224×224×3); ``rounding``: the default
    rule for windows; ``filters``, ``double_after_pool``: what a shorthand ``C`` means;
    ``column``: a column table's network; ``unknown``: what an ONNX op archcalc does not know
    becomes; ``params``: values for the spec's parameters (``res`` among them); ``settings``: the
    analysis settings; ``label``: what a spec string is called in messages (``<spec 2>``)."""
    input: Vol | None = None
    rounding: str | None = None
    filters: int | None = None
    double_after_pool: bool | None = None
    column: str | None = None
    unknown: str = "error"
    params: Mapping[str, Any] = field(default_factory=dict)
    settings: Settings = Settings()
    label: str = "<spec>"

    def with_params(self, params: Mapping[str, Any]) -> LoadOptions:
        """The same options with these parameters' values over the given ones (a variant)."""
        return replace(self, params={**self.params, **params})

    def given(self) -> list[str]:
        """The options that read a spec's text (not an ONNX model's), as given, by name."""
        return [k for k in ("input", "rounding", "filters", "double_after_pool", "column")
                if getattr(self, k) is not None]


class _Problems:
    """Every problem found while resolving, each one diagnostic (kind "usage")."""

    def __init__(self) -> None:
        self.diags: list[Diagnostic] = []

    def check(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T | None:
        """``fn``'s value, or None with its diagnostics kept."""
        try:
            return fn(*args, **kwargs)
        except ArchcalcError as exc:
            self.diags.extend(exc.diagnostics)
            return None

    def add(self, message: str, hint: str | None = None, pos: SourcePos = OPTIONS) -> None:
        self.diags.append(Diagnostic("error", message, pos, hint))

    def raise_any(self) -> None:
        if self.diags:
            raise ArchcalcError(self.diags, "usage")


def _spell(name: str, cli: bool) -> str:
    """How a setting is named in a message: its option (``--batch``) or keyword (``batch=``)."""
    return f"--{name.replace('_', '-')}" if cli else f"{name}="


def _whole(value: Any, what: str, least: int, most: int = LIMIT,
           pos: SourcePos = OPTIONS, example: str | None = None) -> int:
    """A whole number in [least, most]: an int, or its digits (from the command line)."""
    number: Any = value
    if isinstance(value, str):
        text = value.strip().lstrip("=").replace("_", "")
        number = int(text) if text.lstrip("-").isdigit() else None
    if isinstance(number, bool) or not isinstance(number, int):
        raise _usage(f"{what} must be a whole number ≥ {least}, got {value!r}",
                     f"e.g. {what} {example or max(least, 1)}", pos)
    if number < least:
        raise _usage(f"{what} must be a whole number ≥ {least}, got {number}",
                     f"e.g. {what} {example or max(least, 1)}", pos)
    if number > most:
        raise _usage(f"{what} must be at most {most:,}, got {number:,}", None, pos)
    return number


def _usage(message: str, hint: str | None, pos: SourcePos = OPTIONS) -> ArchcalcError:
    return ArchcalcError(Diagnostic("error", message, pos, hint), "usage")


@overload
def whole(value: str | int, what: str, least: int = 0, most: int = LIMIT,
          example: str | None = None) -> int: ...
@overload
def whole(value: str | int | None, what: str, least: int = 0, most: int = LIMIT,
          example: str | None = None) -> int | None: ...
def whole(value: str | int | None, what: str, least: int = 0, most: int = LIMIT,
          example: str | None = None) -> int | None:
    """An option's value as a whole number in [least, most], or None where it is not given."""
    return None if value is None else _whole(value, what, least, most, OPTIONS, example)


def check_choice(value: Any, allowed: tuple[str, ...] | list[str], what: str,
                 example: str | None = None) -> str | None:
    """An option's value as one of ``allowed`` (any case), or None where it is not given."""
    if value is None:
        return None
    try:
        return choice(value, allowed, what, OPTIONS, example)
    except ArchcalcError as exc:
        raise exc.as_kind("usage") from None


def _builtin(name: str, value: Any) -> Any:
    """A built-in parameter's value (``--set NAME=VALUE``) checked."""
    what = f"--set {name}"
    if name == "res":
        return _whole(value, what, 1, example=EXAMPLES[name])
    if name == "input":
        try:
            return as_volume(value, OPTIONS)
        except ArchcalcError as exc:
            raise exc.as_kind("usage") from None
    if name == "rounding":
        return _as_usage(as_rounding, value, OPTIONS, what)
    if name == "batch":
        return _whole(value, what, 1, example=EXAMPLES[name])
    allowed = tuple(DTYPES) if name == "dtype" else tuple(OPTIMIZERS)
    if not isinstance(value, str):
        raise _usage(f"{what} must be one of {', '.join(allowed)}, got {value!r}",
                     f"e.g. {what}={EXAMPLES[name]}")
    return check_choice(value, allowed, what, f"{what}={EXAMPLES[name]}")


def check_builtin(name: str, value: Any) -> Any:
    """A value of a built-in parameter (``batch``, ``dtype``, ``optimizer``, ``input``,
    ``rounding``, ``res``) checked as ``--set`` checks it: an ArchcalcError at <options> of kind
    "usage" for a bad one (``dtype=fp64``, ``batch=0``). Returns the value as used."""
    if name not in BUILTINS:
        raise ValueError(f"{name!r} is not a built-in parameter")
    return _builtin(name, value)


def _as_usage(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    try:
        return fn(*args, **kwargs)
    except ArchcalcError as exc:
        raise exc.as_kind("usage") from None


def resolve(*, set: Mapping[str, Any] | None = None, input: Any = None, rounding: Any = None,
            filters: Any = None, double_after_pool: Any = None, column: Any = None,
            unknown: Any = None, dtype: Any = None, batch: Any = None, optimizer: Any = None,
            count_inplace: Any = None, convention: Any = None, amp: Any = None,
            checkpoint: Any = None, accumulate: Any = None, backend: Any = None,
            label: str = "<spec>", cli: bool = False) -> LoadOptions:
    """Every setting of a request, merged and checked (the module's docstring gives the rules).
    Values are Python values or, from the command line (``cli``), the options' text. Every
    problem is one diagnostic; all of them are raised together (kind "usage")."""
    p = _Problems()
    sets: dict[str, Any] = {}
    if set is not None:
        if not isinstance(set, Mapping) or not all(isinstance(k, str) for k in set):
            raise _usage(f"set is a mapping of parameter names to values, got {set!r}",
                         "e.g. set={'width': 0.75, 'res': 160}")
        sets = dict(set)
    # the built-in parameters' values by name (a volume, a rounding, a batch, a dtype …)
    builtins: dict[str, Any] = {k: p.check(_builtin, k, sets.pop(k)) for k in BUILTINS
                                if k in sets and k != "res"}
    res = p.check(_builtin, "res", sets["res"]) if "res" in sets else None
    if res is not None:
        sets["res"] = res

    def option(name: str, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T | None:
        try:
            return fn(*args, **kwargs)
        except ArchcalcError as exc:
            p.diags.extend(exc.as_kind("usage").diagnostics)
            return None

    vol = None if input is None else option("input", as_volume, input, OPTIONS,
                                            f"{_spell('input', cli)} size")
    if builtins.get("input") is not None:
        if vol is not None and vol != builtins["input"]:
            p.add("--input and --set input= disagree", "give one")
        vol = builtins["input"]
    if res is not None and vol is not None and vol[:2] != (res, res):
        p.add(f"--set res={res} and the input {vol[0]}x{vol[1]} (--input or --set input=) "
              "disagree", "give one: res sets the height and width, input the whole volume")
    rule = None if rounding is None else option("rounding", as_rounding, rounding, OPTIONS,
                                                _spell("rounding", cli))
    if "rounding" in builtins and builtins["rounding"] is not None:
        if rule is not None and rule != builtins["rounding"]:
            p.add("--rounding and --set rounding= disagree", "give one")
        rule = builtins["rounding"]
    width = None if filters is None else p.check(_whole, filters, _spell("filters", cli), 1)
    double = None if double_after_pool is None else option(
        "double_after_pool", as_bool, double_after_pool, _spell("double_after_pool", cli),
        OPTIONS)
    mode = "error" if unknown is None else p.check(check_choice, unknown, UNKNOWN_MODES,
                                                   _spell("unknown", cli))
    if column is not None and not isinstance(column, str):
        p.add(f"{_spell('column', cli)} names a column, got {column!r}", "e.g. column='D'")
    settings = p.check(resolve_analysis, Settings(), dtype=dtype, batch=batch,
                       optimizer=optimizer, count_inplace=count_inplace, convention=convention,
                       amp=amp, checkpoint=checkpoint, accumulate=accumulate, backend=backend,
                       cli=cli)
    p.raise_any()
    assert settings is not None         # resolve_analysis failed only with a diagnostic
    chosen = {k: builtins[k] for k in ANALYSIS_BUILTINS if k in builtins}
    if chosen:                          # --set batch= (dtype=, optimizer=) wins over the option
        settings = replace(settings, **chosen)
    return LoadOptions(vol, rule, width, double, column, mode or "error", sets, settings, label)


def resolve_analysis(base: Settings, *, dtype: Any = None, batch: Any = None,
                     optimizer: Any = None, count_inplace: Any = None, convention: Any = None,
                     amp: Any = None, checkpoint: Any = None, accumulate: Any = None,
                     backend: Any = None, cli: bool = False) -> Settings:
    """``base`` with the analysis settings given (None keeps the base's), each checked."""
    p = _Problems()
    changes: dict[str, Any] = {}
    if dtype is not None:
        changes["dtype"] = p.check(check_choice, dtype, tuple(DTYPES), _spell("dtype", cli))
    if batch is not None:
        changes["batch"] = p.check(_whole, batch, _spell("batch", cli), 1)
    if optimizer is not None:
        changes["optimizer"] = p.check(check_choice, optimizer, tuple(OPTIMIZERS),
                                       _spell("optimizer", cli))
    if convention is not None:
        changes["convention"] = p.check(check_choice, convention, CONVENTIONS,
                                        _spell("convention", cli))
    if amp is not None:
        changes["amp"] = p.check(check_choice, "off" if amp is False else amp, AMP_MODES,
                                 _spell("amp", cli))
    if backend is not None:
        changes["backend"] = p.check(check_choice, backend, BACKENDS, _spell("backend", cli))
    if accumulate is not None:
        changes["accumulate"] = p.check(_whole, accumulate, _spell("accumulate", cli), 1)
    if checkpoint is not None:
        names = [checkpoint] if isinstance(checkpoint, str) else checkpoint
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            p.add(f"{_spell('checkpoint', cli)} names blocks, got {checkpoint!r}",
                  "e.g. checkpoint=['layer3'] (--checkpoint layer3,layer4)")
        else:
            changes["checkpoint"] = tuple(dict.fromkeys(
                part.strip() for n in names for part in n.split(",") if part.strip()))
    if count_inplace is not None:
        if isinstance(count_inplace, bool):
            changes["count_inplace"] = count_inplace
        else:
            p.add(f"{_spell('count_inplace', cli)} must be True or False, got "
                  f"{count_inplace!r}")
    p.raise_any()
    return replace(base, **changes) if changes else base


# ---------------------------------------------------------------------------------------------
# --set NAME=VALUE, as the command line writes it

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
                        hint="write a list as [3,4,6,3]", kind="usage")
        inner = t[1:-1].strip()
        if not inner:
            return []
        if "[" in inner:
            raise error(f"{option}: lists of lists are not supported, got {t!r}", OPTIONS,
                        hint="write a list as [3,4,6,3]", kind="usage")
        return [_value(x, option) for x in inner.split(",")]
    if not t:
        raise error(f"{option}: a value is missing", OPTIONS,
                    hint="write NAME=VALUE, e.g. --set width=0.75", kind="usage")
    return t


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"name=value"`` → ``(name, value)`` (see the module's docstring)."""
    if not isinstance(text, str) or "=" not in text:
        raise error(f"--set takes NAME=VALUE, got {text!r}", OPTIONS,
                    hint="e.g. --set width=0.75 or --set depth=[2,2,2,2]", kind="usage")
    name, _, raw = text.partition("=")
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise error(f"--set {text}: {name!r} is not a parameter name", OPTIONS,
                    hint="a name is a word (letters, digits, _), e.g. --set width=0.75",
                    kind="usage")
    if not raw.strip():
        raise error(f"--set {name}=: the value is missing", OPTIONS,
                    hint=f"e.g. --set {name}=1", kind="usage")
    return name, _value(raw, f"--set {name}")


def parse_sets(texts: Sequence[str] | None) -> dict[str, Any]:
    """Repeated ``--set`` options → {name: value}; a name given twice is an error."""
    out: dict[str, Any] = {}
    for t in texts or ():
        name, value = parse_assignment(t)
        if name in out:
            raise error(f"--set {name} is given twice", OPTIONS,
                        hint="give each parameter once", kind="usage")
        out[name] = value
    return out


def example(name: str) -> str:
    """An example value of a built-in parameter (for hints)."""
    return EXAMPLES[name]


__all__ = ["Settings", "LoadOptions", "resolve", "resolve_analysis", "check_builtin", "whole",
           "parse_assignment", "parse_sets",
           "check_choice", "BUILTINS", "ANALYSIS_BUILTINS", "OPTIMIZERS", "UNKNOWN_MODES",
           "AMP_MODES", "BACKENDS",
           "LIMIT", "NOWHERE"]
