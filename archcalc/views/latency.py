"""The latency views: ``archcalc estimate``'s table and documents, the latency column of
``archcalc summary --device``, and ``archcalc run --profile``'s measured-beside-predicted table."""
from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from ..units import bytes_exact, human_bytes, human_count
from .table import Column
from .text import Step, fitted_table, md_cell, wrap_text

if TYPE_CHECKING:
    from ..latency.devices import Device
    from ..latency.model import Estimate
    from ..latency.profile import Comparison


def _us(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:,.1f}" if us < 1000 else f"{us:,.0f}"

def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:+.0f}%"

def device_line(dev: Device) -> str:
    def rate(k: str, v: float) -> str:
        unit = "OPS" if k == "int8" else "FLOPS"
        return f"{k} {v:g} T{unit}" if v >= 1 else f"{k} {v * 1e3:,.1f} G{unit}"
    peaks = ", ".join(rate(k, v) for k, v in dev.peak_tflops.items())
    state = ("calibrated" if dev.calibrated else
             "datasheet roofline (efficiency 1)" if dev.key != "local-cpu" else "measured now")
    return (f"{dev.key}: {dev.name}; {peaks}; {dev.bandwidth_gbs:,.1f} GB/s; "
            f"{dev.overhead_us:g} µs per layer; {state}" + (f" ({dev.note})" if dev.note else ""))

def estimate_rows(est: Estimate, exact: bool = False
                  ) -> tuple[list[str], list[str], list[list[str]]]:
    """estimate's table: headers, alignments, rows; FLOPs and bytes in short forms (3.54M,
    275.00 KiB), or ``exact`` with thousands separators (Markdown: 3,538,944, 275.00 KiB
    (281,600 B))."""
    total = est.time_s
    heads = ["layer", "op", "kind", "FLOPs", "bytes", "FLOP/B", "bound", "time µs", "%time"]
    just = ["left", "left", "left", "right", "right", "right", "left", "right", "right"]
    flops = (lambda n: f"{n:,}") if exact else human_count
    size = bytes_exact if exact else human_bytes
    rows = [[t.name, t.op, t.kind, flops(t.flops) if t.flops else "0",
             size(t.bytes) if t.bytes else "0",
             "" if t.intensity is None else f"{t.intensity:,.1f}", t.bound, _us(t.time_s),
             f"{100 * t.time_s / total:.1f}%" if total else ""] for t in est.layers]
    return heads, just, rows

def estimate_totals(est: Estimate) -> list[str]:
    dev, total = est.device, est.time_s
    ridge = dev.peak(est.dtype) / dev.bandwidth
    kinds = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in est.by_kind().items())
    return [f"device: {device_line(dev)}",
            f"dtype: {est.dtype}, batch {est.report.settings.batch}; ridge point "
            f"{ridge:,.1f} FLOP/byte (layers below it are memory-bound)",
            f"predicted: {total * 1e3:,.3f} ms per batch ({human_count(est.flops)} FLOPs, "
            f"{human_bytes(est.bytes)} moved)",
            f"time by kind: {kinds}"]


# how estimate's table gets narrower on a terminal: a name past 40 columns shortened, then op,
# FLOP/B, bytes, FLOPs and kind hidden (the time, its share and the bound stay), names to 12
ESTIMATE_STEPS: list[Step] = [(0, "middle", 40), 1, 5, 4, 3, 2, (0, "middle", 12)]


def render_estimate(est: Any, fmt: str, width: int | None = None) -> str:
    """``archcalc estimate`` in ``fmt``: table (plain text), markdown or csv (JSON is
    ``est.to_dict()``). ``width``: the terminal's columns, which the table and its lines fit
    (``fitted_table``; None for a pipe: whole lines, every column)."""
    heads, just, rows = estimate_rows(est, exact=fmt == "markdown")
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["name", "op", "kind", "flops", "bytes", "intensity", "bound", "time_us"])
        for t in est.layers:
            w.writerow([t.name, t.op, t.kind, t.flops, t.bytes,
                        "" if t.intensity is None else f"{t.intensity:.6g}", t.bound,
                        f"{t.time_s * 1e6:.6g}"])
        return buf.getvalue()
    if fmt == "markdown":
        out = [f"## {md_cell(est.report.name)} on {md_cell(est.device.key)}", "",
               "| " + " | ".join(heads) + " |",
               "|" + "|".join("---:" if j == "right" else "---" for j in just) + "|"]
        out += ["| " + " | ".join(md_cell(c) for c in r) + " |" for r in rows]
        out += [""] + [f"- {md_cell(x)}" for x in estimate_totals(est)]
        return "\n".join(out) + "\n"
    return (fitted_table(f"{est.report.name} on {est.device.key}", heads, just, rows, width,
                         ESTIMATE_STEPS, every="--format csv shows every column") + "\n"
            + "\n".join(wrap_text(line, width, 4) for line in estimate_totals(est)) + "\n")


def latency_column(est: Any) -> Column:
    """The latency column of ``archcalc summary --device``: each layer's predicted µs (a folded
    block's row: the sum of its layers')."""
    times = {t.name: t.time_s for t in est.layers}
    inside: dict[str, float] = {}
    for row in est.report.layers:
        for scope in row.scope:
            inside[scope] = inside.get(scope, 0.0) + times.get(row.name, 0.0)

    def cell(row: Any, vols: Any, r: Any, short: bool) -> str:
        t = times.get(row.name, inside.get(row.name) if row.op == "block" else None)
        return "" if t is None else _us(t)
    return Column(f"µs {est.device.key}", "right", cell, 0)     # asked for: never dropped


def summary_json(text: str, est: Estimate) -> str:
    """``summary --format json`` with each layer's ``latency_us`` (a folded block's: the sum of
    its layers') and the estimate's totals."""
    doc = json.loads(text)
    times = {t.name: t.time_s * 1e6 for t in est.layers}
    inside: dict[str, float] = {}
    for row in est.report.layers:
        for scope in row.scope:
            inside[scope] = inside.get(scope, 0.0) + times.get(row.name, 0.0)
    for row in doc["layers"]:
        row["latency_us"] = times.get(row["name"], inside.get(row["name"]))
    d = est.to_dict()
    doc["latency"] = {"device": d["device"], "dtype": d["dtype"], "totals": d["totals"]}
    return json.dumps(doc, indent=2)

def comparison_lines(cmp: Comparison, name: str, width: int | None = None) -> list[str]:
    """``archcalc run --profile``'s table and lines; ``width``: the terminal's columns, which
    they fit (the label cells wrapped between words, kind hidden if need be; None for a pipe:
    whole lines)."""
    p, est = cmp.profile, cmp.estimate
    heads = ["layer (+ fused into it)", "kind", "predicted µs", "measured µs", "error"]
    rows = [[r.label, r.kind, "" if r.predicted_us is None else _us(r.predicted_us * 1e-6),
             "—" if r.measured_us is None else _us(r.measured_us * 1e-6), _pct(r.error)]
            for r in cmp.rows]
    text = fitted_table(f"{name}: measured per layer", heads,
                        ["left", "left", "right", "right", "right"], rows, width,
                        [(0, "wrap", 24), 1, (0, "wrap", 12)],
                        every="--format json shows every figure").rstrip("\n")
    prov = "CUDA (GPU)" if p.provider == "cuda" else "CPU"
    lines = [text, "",
             f"provider: {prov}" + (f"; GPU not used: {p.note}" if p.note else ""),
             f"runs: median over {p.iters} profiled runs after {p.warmup} warm-up (and the "
             f"first run), batch {p.batch}; median run {p.median_run_ms:,.3f} ms"]
    if est is None:
        lines.append("prediction: none (give --device NAME to compare with a device's roofline)")
    else:
        lines.append(f"prediction: {device_line(est.device)}")
        lines.append(f"total: predicted {cmp.predicted_ms:,.3f} ms, measured "
                     f"{cmp.measured_ms:,.3f} ms (sum of node medians): error "
                     f"{_pct(cmp.total_error)}")
        med = cmp.median_abs_error
        if med is not None:
            n = sum(1 for r in cmp.rows if r.error is not None)
            lines.append(f"per-layer median |error|: {100 * med:.0f}% over {n} rows")
    dom = cmp.dominant(5)
    if dom and cmp.measured_ms:
        share = lambda r: 100 * r.measured_us / 1e3 / cmp.measured_ms
        lines.append("dominant: " + ", ".join(
            f"{r.layers[0] if r.layers else r.label} {share(r):.0f}%" for r in dom))
    return [lines[0], *(wrap_text(line, width, 4) for line in lines[1:])]
