"""A Network → YAML spec text that archcalc reads back to the same network (``archcalc import
model.onnx -o spec.yaml``).

Every layer is one flow mapping on its own line, in the network's order: its name, its op, the
attributes that differ from the op's defaults (padding always, as pixels per side: [h, w], or
[top, bottom, left, right] where the sides differ), and ``inputs`` where it does not simply
follow the layer before. Blocks are not recovered: the spec is flat.
"""
from __future__ import annotations

import json
import re
from typing import Any

from archcalc.analysis import analyze
from archcalc.graph import Layer, Network
from archcalc.ops import OPS
from archcalc.report import Report, public_attrs
from archcalc.spec import parse

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./\-]*")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "none", "~", "y", "n"}


def scalar(v: Any) -> str:
    """One value in YAML flow style."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        text = repr(v)
        return text if ("." in text or "e" in text or "inf" in text or "nan" in text) \
            else text + ".0"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(scalar(x) for x in v) + "]"
    s = str(v)
    if _PLAIN.fullmatch(s) and s.lower() not in _RESERVED:
        return s
    return json.dumps(s, ensure_ascii=False)       # a JSON string is a YAML double-quoted one


def _pair_or_one(v: Any) -> Any:
    if isinstance(v, (list, tuple)) and len(v) == 2 and v[0] == v[1]:
        return v[0]
    return v


def _attrs(layer: Layer, rounding: str) -> list[tuple[str, object]]:
    op = OPS[layer.op]
    out = []
    for k, v in public_attrs(layer.attrs).items():
        if k == "rounding" and v == rounding:       # the network's own
            continue
        if k == "padding":                          # always written, resolved to pixels
            out.append((k, _pair_or_one(v)))
            continue
        default = op.ATTRS.get(k)
        if v == default or (isinstance(default, (int, float)) and not isinstance(default, bool) \
                and _pair_or_one(v) == default):
            continue
        out.append((k, _pair_or_one(v) if isinstance(v, list) else v))
    return out


def to_yaml(net: Network, header: str | None = None) -> str:
    h, w, c = net.input
    lines = []
    if header:
        lines += [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += [f"name: {scalar(net.name)}", f"input: {h}x{w}x{c}"]
    if net.rounding != "covered":
        lines.append(f"defaults: {{rounding: {net.rounding}}}")
    lines.append("layers:")
    prev = "input"
    for layer in net.layers:
        if layer.op == "input":
            continue
        items = [("name", layer.name), ("op", layer.op), *_attrs(layer, net.rounding)]
        if layer.inputs != (prev,):
            items.append(("inputs", list(layer.inputs)))
        if layer.train_only:
            items.append(("train_only", True))
        lines.append("  - {" + ", ".join(f"{k}: {scalar(v)}" for k, v in items) + "}")
        prev = layer.name
    if net.declared_outputs:
        lines.append("outputs: " + scalar(list(net.declared_outputs)))
    return "\n".join(lines) + "\n"


def _figures(report: Report) -> tuple:
    t = report.totals
    rows = tuple((r.name, r.output, r.params, r.macs, r.activations, r.rf) for r in report.layers)
    return (t.params, t.buffers, t.macs, t.activations, t.peak_bytes, rows)


def imported(net: Network, model: str, file: str = "<spec>") -> tuple[str, Report]:
    """An imported model's YAML spec (``archcalc import``) and its report, checked: the text is
    read back and must give the model's own report (a bug otherwise: never a wrong spec)."""
    origin = net.origin or {}
    header = (f"imported from {model} by archcalc import"
              + (f" (ONNX opset {origin.get('opset')}, written by {origin['producer']})"
                 if origin.get("producer") else f" (ONNX opset {origin.get('opset')})"))
    report = analyze(net)
    text = to_yaml(net, header)
    read = parse(text, language="yaml", file=file)
    assert isinstance(read, Network)      # one network: only a column table gives several
    again = analyze(read)
    if _figures(again) != _figures(report):
        raise RuntimeError("the written spec does not give the model's report: "
                           f"{_figures(again)} against {_figures(report)}")
    return text, report
