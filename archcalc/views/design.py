"""The design-space views: ``archcalc sizes`` (the valid input sizes and their rule) and
``archcalc fit`` (the answer, one step past it, and the search) as text, JSON or CSV."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Any

from ..analysis.figures import under
from ..report import SCHEMA
from ..units import human_bytes, human_count
from .text import Step, cell_width, fit_columns, plain_measure, plain_table, wrap_text


def _vol(v: Any) -> str:
    return "×".join(str(x) for x in v)


def rows_text(header: list[str], rows: list[list[Any]], width: int | None = None,
              steps: Sequence[Step] = (), names: Sequence[str] | None = None,
              every: str = "") -> str:
    """Columns two spaces apart, left-aligned, every line whole. ``width``: a terminal's columns,
    which the table fits by ``steps`` (``fit_columns``; a note under it names what it hid or
    shortened, by ``names`` where a header is blank); None for a pipe: every column whole."""
    cells = [[str(c) for c in r] for r in rows]
    if width is None:
        widths = [max(len(r[i]) for r in [header] + cells) for i in range(len(header))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                         for r in [header] + cells)
    got = fit_columns(width, header, cells, steps, plain_measure(), names=names)
    text = plain_table(None, got.headers, ["left"] * len(got.keep), got.rows, cell_width,
                       rule=False).rstrip("\n")
    note = got.note(width, every)
    return text + ("\n" + wrap_text(note, width, 1) if note else "")


# ---------------------------------------------------------------------------------------------
# sizes

def sizes_document(s: Any) -> dict[str, Any]:
    rule = s.rule
    return {
        "schema": SCHEMA, "name": s.net.name, "range": [s.lo, s.hi, s.wanted.step],
        "axis": s.axis, "channels": s.net.input[2], "rounding": s.net.rounding,
        "min_output": list(s.min_output) if s.min_output else None,
        "rule": {"text": rule.text, "period": rule.period, "residues": list(rule.residues),
                 "from": rule.start, "also": list(rule.exceptions), "source": rule.source,
                 "checked": list(rule.checked or (s.lo, s.hi))},
        "valid": [{"size": v.n, "input": list(v.input), "feature_map": {
            "layer": v.layer, "output": list(v.feature) if v.feature else None},
            "rf": v.rf.to_dict() if v.rf is not None else None,
            "outputs": {k: list(o) for k, o in v.outputs.items()}} for v in s.valid],
        "invalid": [{"layer": g["layer"], "message": g["message"], "count": g["count"],
                     "runs": g["runs"], "sizes": g["sizes"]} for g in s.refused]}


def sizes_csv(s: Any) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["size", "h", "w", "c", "valid", "feature_layer", "feature_h", "feature_w",
                "feature_c", "rf", "refused_by", "message"])
    for v in s.shown:
        f = v.feature if v.ok and v.feature else ("", "", "")
        w.writerow([v.n, *v.input, "yes" if v.ok else "no", v.layer if v.ok else "", *f,
                    v.rf.text() if v.ok and v.rf is not None else "",
                    "" if v.ok else v.layer or "", "" if v.ok else v.message or ""])
    return buf.getvalue()


def sizes_text(s: Any, width: int | None = None) -> str:
    """``archcalc sizes`` as text; ``width``: the terminal's columns, which every line fits (the
    table by shortening the layer names, prose broken between words); None for a pipe."""
    net, rule, lo, hi = s.net, s.rule, s.lo, s.hi
    what = {"square": "N×N", "height": f"N×{net.input[1]}", "width": f"{net.input[0]}×N"}
    step = f"/{s.wanted.step}" if s.wanted.step != 1 else ""
    least = s.min_output
    out = [f"{net.name}: input {what[s.axis]}×{net.input[2]} for N in {lo}..{hi}{step}, rounding "
           f"{net.rounding}" + (f", final feature map ≥ {least[0]}×{least[1]}" if least else "")]
    c0, c1 = rule.checked or (lo, hi)        # (the strides' rule is checked past the range)
    why = {"strides": f" (period {rule.period}: from the strides, checked on {c0}..{c1})"
                      if rule.period and rule.period > 1 else f" (checked on {c0}..{c1})",
           "observed": f" (observed on {lo}..{hi})", "": ""}[rule.source]
    out.append(f"rule: {rule.text}{why}")
    ok = s.valid
    out.append(f"valid: {len(ok)} of {len(s.shown)}")
    if ok:
        out.append(rows_text(["N", "input", "final feature map", "", "RF"],
                             [[v.n, _vol(v.input), v.layer or "-", _vol(v.feature) if v.feature
                               else "-", v.rf.text() if v.rf is not None else "-"] for v in ok],
                             width, [(2, "middle", 12)],
                             ["N", "input", "final feature map", "its volume", "RF"],
                             "--format csv shows every column"))
    if s.refused:
        out.append(f"invalid: {len(s.shown) - len(ok)}, by the first layer that refuses them")
        for g in s.refused:
            runs = g["runs"]
            text = ", ".join(runs[:12]) + (f", … ({len(runs) - 12} more runs)"
                                           if len(runs) > 12 else "")
            out.append(f"  {g['layer']} ({g['count']}): {text}")
            out.append(f"      e.g. N = {g['sizes'][0]}: {g['message']}")
    return "\n".join(wrap_text(line, width, 8 if line.startswith("  ") else 4)
                     for line in out) + "\n"


# ---------------------------------------------------------------------------------------------
# fit

_SHOWN = (("params", "params", "count"), ("MACs", "macs", "count"),
          ("peak", "peak_bytes", "bytes"), ("training", "training_bytes", "bytes"))


def _probe(p: Any, limits: list) -> dict[str, Any] | None:
    if p is None:
        return None
    if p.report is None:
        return {"value": p.value, "status": p.status, "message": p.message}
    t = p.report.totals
    return {"value": p.value, "status": p.status,
            "budgets": [{"budget": b.name, "limit": b.limit, "value": b.value(p.report),
                         "ok": b.value(p.report) <= b.limit} for b in limits],
            "totals": {k: getattr(t, k) for k in ("params", "macs", "activations",
                                                   "peak_bytes", "training_bytes",
                                                   "total_bytes")}}


def fit_document(r: Any, limits: list, netname: str, settings: Any,
                 rule_note: str | None) -> dict[str, Any]:
    return {"schema": SCHEMA, "name": netname, "maximize": r.name,
            "budgets": [{"budget": b.name, "limit": b.limit, "text": b.text} for b in limits],
            "settings": {k: getattr(settings, k) for k in ("dtype", "batch", "optimizer",
                                                            "convention")},
            "grid": list(r.grid), "sizes_rule": rule_note,
            "answer": _probe(r.answer, limits), "past": _probe(r.past, limits),
            "next_valid": _probe(r.next_valid, limits),
            "capped": r.capped, "evaluations": r.evaluations, "monotone": r.monotone,
            "not_monotone": [{"value": v, "what": w} for v, w in r.not_monotone]}


def _figure(kind: str, n: int) -> str:
    return human_bytes(n) if kind == "bytes" else human_count(n)


def _budget_figure(b: Any, n: int) -> str:
    """In the budget's own unit where it is decimal (24GB: GB, not GiB), with the digits
    that show the difference from the limit."""
    unit = re.search(r"([KMGT])B\s*$", b.text.strip(), re.I)
    if b.figure.kind != "bytes" or unit is None:
        return _figure(b.figure.kind, n)
    scale = 1000 ** ("KMGT".index(unit.group(1).upper()) + 1)
    digits = 2
    while digits < 9 and round(n / scale, digits) == round(b.limit / scale, digits) \
            and n != b.limit:
        digits += 1
    return f"{n / scale:.{digits}f} {unit.group(1).upper()}B"


def fit_text(r: Any, limits: list, netname: str, settings: Any,
             rule_note: str | None, width: int | None = None) -> str:
    """``archcalc fit`` as text; ``width``: the terminal's columns, which every line fits (the
    table's labels and headers broken between words, then its last columns hidden, named);
    None for a pipe."""
    within = ", ".join(f"{b.name} ≤ {b.text}" for b in limits)
    out = [f"{netname}: the largest {r.name} with {within} ({settings.dtype}, "
           f"{settings.optimizer}" + (f", batch {settings.batch}" if r.name != "batch"
                                      else "")
           + ("" if settings.convention == "torchvision" else
              f", MACs counted as {settings.convention}") + ")"]
    if r.answer is None:
        out.append(f"answer: none: {r.name} = {r.lowest.value} already "
                   + ("exceeds it" if r.lowest.status == "over"
                      else f"is invalid ({r.lowest.message})"))
    else:
        out.append(f"answer: {r.name} = {r.answer.value}"
                   + (f" (no value up to --max {r.grid[2]} exceeds the budgets: raise --max to "
                      "look further)" if r.capped else ""))
    cols = [("", r.answer), ("one step past", r.past)]
    if r.next_valid is not None:
        cols.append(("next valid", r.next_valid))
    cols = [(label, p) for label, p in cols if p is not None]
    header = ["", *[f"{r.name} = {p.value}" + (f" ({label})" if label else "")
                    for label, p in cols]]
    rows = []
    counted = settings.convention
    for b in limits:
        rows.append([f"{under(b.name, b.figure.key, counted)} (≤ {b.text})", *[
            "invalid" if p.report is None else
            f"{_budget_figure(b, b.value(p.report))} "
            f"{'ok' if b.value(p.report) <= b.limit else 'OVER'}" for _, p in cols]])
    for label, attr, kind in _SHOWN:
        if any(b.figure.key == attr for b in limits):
            continue
        rows.append([under(label, attr, counted), *["-" if p.report is None else
                              _figure(kind, getattr(p.report.totals, attr)) for _, p in cols]])
    if cols:
        wraps: list[Step] = [(k, "wrap", 10) for k in range(len(header) - 1, -1, -1)]
        out.append(rows_text(header, rows, width, wraps, every="--format json shows every "
                             "figure"))
    for _, p in cols:
        if p.report is None:
            out.append(f"{r.name} = {p.value} is invalid: {p.message}")
    if rule_note:
        out.append(f"sizes: only valid ones searched, {rule_note} (archcalc sizes' rule; --step "
                   "and --min search others)")
    out.append(f"search: {r.evaluations} evaluations; " + (
        "monotone on the values checked" if r.monotone else
        "NOT MONOTONE: " + "; ".join(f"{r.name} = {v} {w}" for v, w in r.not_monotone[:4])
        + " (the answer is a boundary, not necessarily the largest value that fits)"))
    return "\n".join(wrap_text(line, width, 4) for line in out) + "\n"
