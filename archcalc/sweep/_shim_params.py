"""TEMPORARY stand-in for archcalc.params (issue 14 part A) until it is merged: built-ins only
(input, res, batch, dtype, optimizer). Deleted after the merge."""
from __future__ import annotations

from typing import Any

from ..errors import OPTIONS, error

BUILTIN = ("res", "input", "batch", "dtype", "optimizer")


def parse_assignment(text: str) -> tuple[str, Any]:
    name, _, raw = text.partition("=")
    raw = raw.strip()
    try:
        return name.strip(), int(raw)
    except ValueError:
        try:
            return name.strip(), float(raw)
        except ValueError:
            return name.strip(), raw


def _net(spec_arg, settings, load_options):
    from ..cli_common import load_one
    o = dict(load_options)
    for k in settings:
        if k not in BUILTIN:
            raise error(f"the spec declares no parameter {k!r}", OPTIONS,
                        hint="parameters: " + ", ".join(BUILTIN), exit_code=2)
    inp = o.get("input")
    if "res" in settings:
        inp = f"{settings['res']}x{settings['res']}x3"
    if "input" in settings:
        inp = settings["input"]
    return load_one(spec_arg, inp, o.get("filters"), o.get("double_after_pool"),
                    o.get("rounding"), o.get("column"), o.get("label", "<spec>"))


def declared(spec_arg: str, **load_options) -> dict[str, Any]:
    net = _net(spec_arg, {}, load_options)
    h, w, c = net.input
    return {"res": h if h == w else None, "input": f"{h}x{w}x{c}", "batch": 1, "dtype": "fp32",
            "optimizer": "adam"}


def load_variant(spec_arg: str, settings: dict, **load_options):
    net = _net(spec_arg, settings, load_options)
    return net, {k: settings[k] for k in ("batch", "dtype", "optimizer") if k in settings}
