"""Fixes that fit where the user stands.

A window whose division the rounding rule refuses raises an error with fixes for that layer
(``ops.window_out``). Deep in a network the layer's own input is not something the user can set:
what they can change is the **network input**, the padding or the rounding mode. :func:`improve`
rewrites such hints: it re-runs the shape rules on candidate network input sizes (the nearest
below and above, per axis, a bounded search) and names those that make every layer valid, spelled
in the language the spec was written in (``-i 96x96x3`` and ``--rounding floor`` for spec strings
and tables, ``input: 96x96x3`` and ``rounding: floor`` for YAML).
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..errors import Diagnostic, SourcePos
from ..graph import Network
from ..ops import Vol, Windowed
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


def network_inputs(net: Network) -> list[Vol]:
    """Network input volumes, nearest below and above the current one, under which no window is
    refused (and no other error appears that the current input does not have). Empty when none is
    found within the search's bounds."""
    h0, w0, c = net.input
    start = time.monotonic()
    base = shape_errors(net, net.input)
    bad = _rounding_axes(base)
    if not bad:
        return []
    limit = _others(base)
    # a bounded search: a fixed budget, plus a few walks' worth for a very large network
    deadline = time.monotonic() + TIME_BUDGET + 3 * (time.monotonic() - start)
    strides = {0: 1, 1: 1}
    for layer in net.layers:
        if isinstance(layer.opdef, Windowed):
            strides[0] = min(strides[0] * layer.attrs["stride"][0], MAX_STEPS)
            strides[1] = min(strides[1] * layer.attrs["stride"][1], MAX_STEPS)

    if any(d.fix and d.fix.get("kind") == "window" for d in base):
        strides = {0: MAX_STEPS, 1: MAX_STEPS}       # a window too large: look further up

    def ok(vol: Vol, axes: set[str]) -> bool:
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
        if ok((h, w, c), {"height", "width"}):
            out.append((h, w, c))
    return out


def _spell(net: Network, what: str, value: Vol | str) -> str:
    yaml = net.language == "yaml"
    if what == "input":                 # where the user set it: the spec, or the -i option
        text = "x".join(str(v) for v in value)
        return f"input: {text}" if yaml and not net.input_given else f"-i {text}"
    return f"rounding: {value}" if yaml else f"--rounding {value}"


def window_hint(net: Network, d: Diagnostic, inputs: Sequence[Vol]) -> str | None:
    bigger = [v for v in inputs if v[0] >= net.input[0] and v[1] >= net.input[1]]
    if not bigger:
        return d.hint
    return (f"use a larger network input ({_spell(net, 'input', bigger[-1])}, the nearest that "
            "fits every window), a smaller kernel or more padding")


def rounding_hint(net: Network, d: Diagnostic, inputs: Sequence[Vol]) -> str:
    fixes = []
    if inputs:
        fixes.append(" or ".join(_spell(net, "input", v) for v in inputs) + " (the network input)")
    if _fix(d).get("padding") is not None:
        fixes.append(f"padding {_fix(d)['padding']} on {d.layer or 'this layer'}")
    floor, ceil = _spell(net, "rounding", "floor"), _spell(net, "rounding", "ceil")
    fixes.append(f"{floor} (as PyTorch) or {ceil} (as Caffe pooling)")
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
