"""Fixes that fit where the user stands.

A window whose division the rounding rule refuses raises an error with fixes for that layer
(``ops.window_out``; the sliding-window ops give it a padding valid for the layer as a whole).
Deep in a network the layer's own input is not something the user can set: what they can change
is the **network input**, the padding or the rounding mode. :func:`improve` rewrites such hints:
it re-runs the shape rules on candidate network input sizes (the nearest below and above, per
axis, a bounded search) and names those that make every layer valid, spelled in the language the
spec was written in (``-i 96x96x3`` and ``--rounding floor`` for spec strings and tables,
``input: 96x96x3`` and ``rounding: floor`` under ``defaults:`` for YAML; a padding per axis,
``padding: [2, 0]``, where the axes differ). An input that looks written C×H×W is searched from
the reading the input warning suggests. Every hint is valid as it stands: applied, it removes
the error (tests/test_hints_apply.py applies them).
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..errors import OPTIONS, Diagnostic, SourcePos
from ..graph import Network
from ..ops import Vol, Windowed
from ..ops.base import padding_text
from ..ops.values import channels_first_warning
from .walk import walk

MAX_STEPS = 1024          # candidates tried per axis and direction, at most
TIME_BUDGET = 0.5         # seconds for the search (more for a network whose walk is slow)


def shape_errors(net: Network, input: Vol) -> list[Diagnostic]:
    """The errors the analysis pass finds for ``net`` fed ``input`` (after an error it goes on
    with the volume the layer would have had under floor rounding)."""
    return [d for d in walk(net, input=input)[1] if d.severity == "error"]


SIZE_ERRORS = ("rounding", "window")   # errors that another network input may remove


def _fix(d: Diagnostic) -> dict[str, Any]:
    """What ``d`` tells a fix-finder (nothing, for most diagnostics)."""
    return d.fix or {}


def _sized(d: Diagnostic) -> bool:
    return _fix(d).get("kind") in SIZE_ERRORS


def _rounding_axes(errs: list[Diagnostic]) -> set[str]:
    """The axes along which some window is refused (a fraction, or a window too large)."""
    return {a for d in errs if _sized(d) for a in _fix(d)["axes"]}


def _others(errs: list[Diagnostic]) -> int:
    return sum(1 for d in errs if not _sized(d))


def looks_channels_first(vol: Vol) -> bool:
    """Whether ``vol`` reads as PyTorch's C×H×W (the input warning's test: a height of 1, 3 or
    4 before a width and a depth both over 4)."""
    return channels_first_warning(vol, OPTIONS, "string") is not None


def channels_first_reading(vol: Vol) -> Vol | None:
    """The volume the channels-first warning suggests for ``vol`` (3x224x224 → 224x224x3), or
    None where ``vol`` does not look C×H×W."""
    if not looks_channels_first(vol):
        return None
    h, w, c = vol
    return (w, c, h)


def network_inputs(net: Network) -> list[Vol]:
    """Network input volumes, nearest below and above the current one, under which no window is
    refused (and no other error appears that the current input does not have). Empty when none is
    found within the search's bounds.

    Where the input looks written C×H×W (3x224x224, which the input warning asks about), the
    search starts from the reading the warning suggests (224x224x3): that volume itself where
    it works, else the nearest to it. No volume that itself looks C×H×W is proposed."""
    start = time.monotonic()
    base = shape_errors(net, net.input)
    bad = _rounding_axes(base)
    if not bad:
        return []
    limit = _others(base)
    # a bounded search: a fixed budget, plus a few walks' worth for a very large network
    deadline = time.monotonic() + TIME_BUDGET + 3 * (time.monotonic() - start)
    reading = channels_first_reading(net.input)
    if reading is not None:
        errs = shape_errors(net, reading)
        if not _rounding_axes(errs) and _others(errs) <= limit:
            return [reading]
        found = _search(net, reading, _rounding_axes(errs) or bad, limit, deadline)
        if found:
            return found
    return _search(net, net.input, bad, limit, deadline)


def _search(net: Network, origin: Vol, bad: set[str], limit: int, deadline: float) -> list[Vol]:
    """The nearest inputs below and above ``origin`` under which no window along the ``bad``
    axes, nor any window along the others, is refused (see :func:`network_inputs`)."""
    h0, w0, c = origin
    strides = {0: 1, 1: 1}
    for layer in net.layers:       # the period of the valid sizes divides their product
        step = layer.attrs["stride"] if isinstance(layer.opdef, Windowed) else None
        if step is not None:
            strides[0] = min(strides[0] * step[0], MAX_STEPS)
            strides[1] = min(strides[1] * step[1], MAX_STEPS)

    if any(_fix(d).get("kind") == "window" for d in shape_errors(net, origin)):
        strides = {0: MAX_STEPS, 1: MAX_STEPS}       # a window too large: look further up

    def ok(vol: Vol, axes: set[str]) -> bool:
        if looks_channels_first(vol):              # what the input warning would ask about
            return False
        errs = shape_errors(net, vol)
        return not (_rounding_axes(errs) & axes) and _others(errs) <= limit

    out: list[Vol] = []
    if h0 == w0 and strides[0] == strides[1]:     # a square input: square candidates first
        reach = min(MAX_STEPS, 2 * strides[0])
        for step in (-1, 1):
            x = h0 + step
            while 0 < x and abs(x - h0) <= reach and time.monotonic() < deadline:
                if ok((x, x, c), {"height", "width"}):
                    out.append((x, x, c))
                    break
                x += step
        if out:
            return out
    found: dict[int, list[int | None]] = {}
    for ax, axis, n in ((0, "height", h0), (1, "width", w0)):
        if axis not in bad:
            found[ax] = [n, n]
            continue
        reach = min(MAX_STEPS, 2 * strides[ax])
        best: list[int | None] = [None, None]
        for side, step in ((0, -1), (1, 1)):
            x = n + step
            while 0 < x and abs(x - n) <= reach and time.monotonic() < deadline:
                if ok((x, w0, c) if ax == 0 else (h0, x, c), {axis}):
                    best[side] = x
                    break
                x += step
        found[ax] = best
    for side in (0, 1):
        h, w = found[0][side], found[1][side]
        if h is None or w is None:
            continue
        if (h, w, c) not in out and ok((h, w, c), {"height", "width"}):
            out.append((h, w, c))
    return out


def _spell(net: Network, what: str, value: Any, layer: str | None = None) -> str:
    """A fix as the spec's language writes it: the network input (``-i 96x96x3`` where an
    option gave it or the spec has no place for it, ``input: 96x96x3`` in YAML), the rounding
    (``--rounding floor``; YAML's ``rounding: floor`` under ``defaults:``; a layer's own
    ``rounding: floor … on pool1``) or a layer's padding (``padding 2 on conv1``; a spec string's
    token pads both axes alike, so a padding per axis is YAML's)."""
    yaml = net.language == "yaml"
    if what == "input":                 # where the user set it: the spec, or the -i option
        text = "x".join(str(v) for v in value)
        return f"input: {text}" if yaml and not net.input_given else f"-i {text}"
    if what == "own_rounding":
        return f"rounding: floor (as PyTorch) or ceil (as Caffe pooling) on {layer}"
    if what == "rounding":
        return ("rounding: floor (as PyTorch) or ceil (as Caffe pooling) under defaults:" if yaml
                else "--rounding floor (as PyTorch) or --rounding ceil (as Caffe pooling)")
    pads = padding_text(value)
    if yaml:
        return f"padding: {pads} on {layer}"
    if len(set(value)) == 1 or net.language == "onnx":
        return f"padding {pads} on {layer}"
    return (f"padding {pads} on {layer} (a layer written in YAML: a token's P pads every side "
            "alike)")


def _padding(net: Network, fix: dict[str, Any], layer: str | None) -> str | None:
    """The padding a hint names: in a spec string or a table, one for every side where one
    works (what a token's ``P`` writes), else the least per axis."""
    pads, uniform = fix.get("pads"), fix.get("uniform")
    if net.language in ("string", "table") and uniform is not None:
        pads = (uniform, uniform)
    return None if pads is None else _spell(net, "padding", pads, layer)


def _read_as(net: Network, v: Vol) -> str:
    """Why a proposed input is the C×H×W reading of the given one, where it is."""
    if channels_first_reading(net.input) != v:
        return ""
    h, w, c = net.input
    return f"{h}x{w}x{c} read as C×H×W, as the input warning asks"


def window_hint(net: Network, d: Diagnostic, inputs: Sequence[Vol]) -> str | None:
    pads = _padding(net, _fix(d), d.layer)
    rest = (f", or {pads}" if pads is not None else "") + ", or a smaller kernel"
    bigger = [v for v in inputs if v[0] >= net.input[0] and v[1] >= net.input[1]]
    if not bigger:
        return f"use {pads}, a smaller kernel, or a larger input" if pads is not None else d.hint
    why = _read_as(net, bigger[-1])
    if why:
        return f"use {_spell(net, 'input', bigger[-1])} ({why}){rest}"
    return (f"use a larger network input ({_spell(net, 'input', bigger[-1])}, the nearest that "
            f"fits every window){rest}")


def rounding_hint(net: Network, d: Diagnostic, inputs: Sequence[Vol]) -> str:
    fix = _fix(d)
    fixes = []
    if inputs:
        why = _read_as(net, inputs[0]) if len(inputs) == 1 else ""
        fixes.append(" or ".join(_spell(net, "input", v) for v in inputs)
                     + f" ({why or 'the network input'})")
    pads = _padding(net, fix, d.layer)
    if pads is not None:
        fixes.append(pads)
    fixes.append(_spell(net, "own_rounding" if fix.get("own_rounding") else "rounding", None,
                        d.layer))
    return "for a valid division use " + ", or ".join(fixes)


def once_per_place(diags: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per place and message: a mistake inside a block (or a repeated group) that
    every instance repeats is reported once, at its place, naming the layers it hits."""
    seen: dict[tuple[SourcePos, str, str], list[Diagnostic]] = {}
    for d in diags:
        seen.setdefault((d.pos, d.message, d.severity), []).append(d)
    out = []
    for group in seen.values():
        d = group[0]
        others = [x.layer for x in group[1:] if x.layer]
        if others:
            shown = ", ".join(others[:6]) + (f" and {len(others) - 6} more" if len(others) > 6
                                             else "")
            d = replace(d, message=f"{d.message} (also in {shown})")
        out.append(d)
    return out


def improve(net: Network, diags: list[Diagnostic]) -> list[Diagnostic]:
    """``diags`` once per place, with the hints of refused divisions rewritten (see the module's
    docstring)."""
    diags = once_per_place(diags)
    if not any(_sized(d) for d in diags):
        return diags
    inputs = network_inputs(net)
    hint = {"rounding": rounding_hint, "window": window_hint}
    return [replace(d, hint=hint[_fix(d)["kind"]](net, d, inputs)) if _sized(d) else d
            for d in diags]
