"""Every option the commands share, declared once (as pip's ``cli/cmdoptions.py``).

Option values are taken as text and checked by archcalc, not by typer: a bad value gets
archcalc's own one-line message at ``<options>`` naming the allowed values (exit 2), words are
matched without regard to case (``-F JSON``, ``--dtype FP16``), and typer never needs to coerce
a value (which, from typer 0.29 on, would import pydantic).

Options that travel together are a :class:`Group`: a command names the group as the default of
one parameter (``opts: LoadOptions = request()``), and :func:`command` puts the group's options
in the command's signature in its place and hands the command the record the group builds from
their values (a :class:`~archcalc.settings.LoadOptions` resolved by
:func:`archcalc.settings.resolve`, a :class:`DeviceChoice` …). So the load options are written
here once, not in every command.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import typer

from ..errors import OPTIONS, error
from ..settings import LoadOptions, check_choice, parse_sets, resolve, whole
from .guard import guarded

P = inspect.Parameter


def _param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return P(name, P.KEYWORD_ONLY, default=default, annotation=annotation)


# ---------------------------------------------------------------------------------------------
# arguments

def spec_argument(help_more: str = "") -> Any:
    return typer.Argument(..., metavar="SPEC", show_default=False,
                          help="a spec file, an ONNX model (.onnx), a shipped network's name "
                               "(archcalc specs), a spec string, or - for standard input"
                               + help_more)


SPEC = spec_argument()
SPECS = typer.Argument(..., metavar="SPEC...", show_default=False,
                       help="spec files, ONNX models, shipped names, spec strings or - "
                            "(standard input); a column table adds every column")


# ---------------------------------------------------------------------------------------------
# single options

def format_option(choices: Sequence[str], default: str | None = "table",
                  more: str = "") -> Any:
    """``--format/-F`` of a command, with its own choices."""
    listed = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
    return typer.Option(default, "--format", "-F", metavar="FORMAT", help=listed + more)


def output_option(help: str, required: bool = True, default: str | None = None) -> Any:
    if required:
        return typer.Option(..., "--output", "-o", metavar="FILE", show_default=False, help=help)
    return typer.Option(default, "--output", "-o", metavar="FILE", help=help)


DEPTH = typer.Option(None, "--depth", "-d", metavar="N",
                     help="fold block instances nested deeper than this")
SEED = typer.Option("0", "--seed", metavar="N", help="seed of the random weights")


def choice(value: Any, allowed: Sequence[str], option: str) -> Any:
    """``value`` (an option's text) as one of ``allowed``, any case; None stays None."""
    return check_choice(value, tuple(allowed), option)


# ---------------------------------------------------------------------------------------------
# groups

@dataclass(frozen=True)
class Group:
    """Options that travel together: ``params`` (keyword parameters whose defaults are typer
    options) and ``build``, which makes the record a command gets from their values."""
    params: tuple[inspect.Parameter, ...]
    build: Callable[..., Any]


_LOAD: dict[str, inspect.Parameter] = {p.name: p for p in (
    _param("input", str | None, typer.Option(
        None, "--input", "-i", metavar="HxWxC",
        help="input volume, e.g. 224x224x3 (default: the spec's own, else 224x224x3)")),
    _param("filters", str | None, typer.Option(
        None, "--filters", "-f", metavar="N", help="filters of a shorthand C (default 64)")),
    _param("double_after_pool", bool | None, typer.Option(
        None, "--double-after-pool/--no-double-after-pool",
        help="double the filters of shorthand C after each max pool")),
    _param("rounding", str | None, typer.Option(
        None, "--rounding", metavar="RULE",
        help="how a window division that is not whole is treated: covered (default), exact, "
             "floor (PyTorch) or ceil (Caffe pooling); see docs/definitions.md")),
    _param("unknown", str | None, typer.Option(
        None, "--unknown", metavar="MODE",
        help="for an ONNX model: what a node of an op archcalc does not know becomes: error "
             "(the default) or passthrough (a layer of the size ONNX shape inference gives, "
             "its figures not counted)")),
    _param("column", str | None, typer.Option(
        None, "--column", "-c", metavar="NAME",
        help="for a column table: the network to use (any case)")),
    _param("set_", list[str] | None, typer.Option(
        None, "--set", "-s", metavar="NAME=VALUE",
        help="give a parameter a value (repeatable): one the YAML spec declares under params:, "
             "or res, input, rounding, batch, dtype, optimizer (docs/design-space.md)")),
    _param("dtype", str | None, typer.Option(
        None, "--dtype", metavar="TYPE",
        help="bytes per element: fp32 (default), fp16, bf16 or int8")),
    _param("batch", str | None, typer.Option(
        None, "--batch", "-b", metavar="N", help="images per batch (default 1)")),
    _param("optimizer", str | None, typer.Option(
        None, "--optimizer", metavar="NAME",
        help="the training step's optimizer: sgd, momentum, adam (default), adamw, adafactor "
             "(factored second moment) or adam8bit (bitsandbytes' 8-bit states); "
             "docs/training-memory.md")),
    _param("amp", str | None, typer.Option(
        None, "--amp", metavar="MODE",
        help="mixed precision of the training step: off (default; every tensor at --dtype), "
             "bf16 or fp16 (torch.autocast: fp32 weights, low-precision activations)")),
    _param("checkpoint", str | None, typer.Option(
        None, "--checkpoint", metavar="BLOCKS",
        help="activation checkpointing: block instances or stages (every block of it), comma "
             "separated, e.g. layer3 or layer3,layer4: their forward pass runs again in the "
             "backward pass")),
    _param("accumulate", str | None, typer.Option(
        None, "--accumulate", metavar="N",
        help="gradient accumulation: the batch runs as N micro-batches (default 1)")),
    _param("convention", str | None, typer.Option(
        None, "--convention", metavar="NAME",
        help="what the MACs count: torchvision (default: conv, linear and attention's matrix "
             "products), fvcore (+ norms, interpolation, adaptive pooling per element) or "
             "flopcounter (PyTorch's FlopCounterMode: 2 FLOPs a MAC) or everything (every "
             "multiply, add, division, exp and comparison); docs/definitions.md")),
    _param("count_inplace", bool, typer.Option(
        False, "--count-inplace",
        help="give in-place ops (ReLU and the other activations PyTorch runs in place, "
             "dropout) buffers of their own (default: in place)")),
)}
ALL_LOAD = tuple(_LOAD)
SPEC_OPTIONS = ("input", "filters", "double_after_pool", "rounding", "unknown", "column", "set_")
ANALYSIS_OPTIONS = ("dtype", "batch", "optimizer", "count_inplace", "convention", "amp",
                    "checkpoint", "accumulate")
# the training step's settings go with --optimizer: a command without it has none of them
TRAINING_OPTIONS = ("amp", "checkpoint", "accumulate")


def request(*, exclude: Sequence[str] = (), only: Sequence[str] | None = None) -> Any:
    """The load and analysis options (all of them, or ``only`` these, less ``exclude``), built
    into one :class:`~archcalc.settings.LoadOptions` by :func:`archcalc.settings.resolve`: every
    value checked, ``--set`` merged with the options, one message per problem.

    A :class:`Group`, typed ``Any`` as ``typer.Option`` is: it is the default of a parameter
    declared ``LoadOptions``, which :func:`command` replaces by the record built."""
    if "optimizer" in exclude:
        exclude = (*exclude, *TRAINING_OPTIONS)
    names = [n for n in (only or ALL_LOAD) if n not in exclude]
    unknown = [n for n in names if n not in _LOAD]
    if unknown:
        raise ValueError(f"no such load option: {unknown[0]}")

    def build(**values: Any) -> LoadOptions:
        return load_options(**values)
    return Group(tuple(_LOAD[n] for n in names), build)


def load_options(*, set_: Sequence[str] | None = None, label: str = "<spec>",
                 count_inplace: bool = False, **values: Any) -> LoadOptions:
    """The options' text (and repeated ``--set NAME=VALUE``) resolved into LoadOptions."""
    sets = parse_sets(set_) if set_ else None
    return resolve(set=sets, count_inplace=count_inplace or None, label=label, cli=True,
                   **values)


class DeviceChoice(NamedTuple):
    """``--device NAME`` (and where it is defined: ``--device-file PATH``)."""
    name: str
    file: str | None


DEVICE_HELP = ("a device of the table (a100-40gb, a100-80gb, h100-sxm, h100-pcie, h200, l4, t4, "
               "rtx-4090, jetson-agx-orin-64gb; docs/latency.md), one of a --device-file, or "
               "local-cpu (this machine)")


def device(help: str = "add each layer's predicted time on a device (archcalc estimate "
                       "says more)", required: bool = False) -> Any:
    """``--device`` and ``--device-file`` → a :class:`DeviceChoice`, or None without a
    device. A device file without a device is an error (it would be silently ignored).
    A :class:`Group`, typed ``Any`` as :func:`request`'s."""
    params = (
        _param("device", str if required else str | None, typer.Option(
            ... if required else None, "--device", "-D", metavar="NAME",
            show_default=not required, help=DEVICE_HELP if required else help)),
        _param("device_file", str | None, typer.Option(
            None, "--device-file", metavar="PATH",
            help="a YAML or JSON file of your own devices (docs/latency.md)")))

    def build(device: str | None, device_file: str | None) -> DeviceChoice | None:
        if device is None:
            if device_file is not None:
                raise error("--device-file goes with --device", OPTIONS, kind="usage",
                            hint="add --device NAME, a device of that file (docs/latency.md)")
            return None
        return DeviceChoice(device, device_file)
    return Group(params, build)


# ---------------------------------------------------------------------------------------------
# commands

def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A command function for typer: each parameter whose default is a :class:`Group` is
    replaced in the signature by the group's options, and the function gets the record the
    group builds from them; errors become messages and exit codes (:func:`~.guard.guarded`)."""
    sig = inspect.signature(fn)
    params: list[inspect.Parameter] = []
    groups: dict[str, Group] = {}
    for p in sig.parameters.values():
        if isinstance(p.default, Group):
            groups[p.name] = p.default
            params.extend(q for q in p.default.params if q.name not in sig.parameters)
        else:
            params.append(p.replace(kind=P.KEYWORD_ONLY) if p.kind != P.KEYWORD_ONLY else p)

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        for name, group in groups.items():
            values = {q.name: kwargs.pop(q.name) for q in group.params if q.name in kwargs}
            kwargs[name] = group.build(**values)
        return fn(**kwargs)

    # inspect (and so typer) reads a function's __signature__, which functions do not declare
    wrapper.__signature__ = sig.replace(parameters=params)      # type: ignore[attr-defined]
    hints = dict(getattr(fn, "__annotations__", {}))
    for name in groups:
        hints.pop(name, None)
    for g in groups.values():
        hints.update({q.name: q.annotation for q in g.params})
    wrapper.__annotations__ = hints
    return guarded(wrapper)


__all__ = ["SPEC", "SPECS", "DEPTH", "SEED", "Group", "DeviceChoice", "command", "request",
           "device", "format_option", "output_option", "spec_argument", "choice", "whole",
           "load_options"]
