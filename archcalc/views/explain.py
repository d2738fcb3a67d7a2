"""``archcalc explain`` as text, Markdown or JSON: each figure with its formula and numbers."""
from __future__ import annotations

import json
from collections.abc import Sequence

from ..report import SCHEMA, Report
from .text import cell_width, md_cell, vol_text, wrap_text


def _wrapped(lead: str, text: str, width: int | None) -> str:
    """``lead`` + ``text``, broken between words at ``width`` with the continuation lines under
    the text's first column (or at 4 spaces where the lead is wider than half the width); a
    word longer than a line (a long layer name) is cut across lines, nothing runs past
    ``width``."""
    if not width or cell_width(lead + text) <= width:
        return lead + text
    return wrap_text(text, width, " " * (len(lead) if len(lead) <= width // 2 else 4),
                     lead=lead)

_STATES = {"sgd": "none", "momentum": "one momentum buffer per trainable parameter",
           "adam": "two moments per trainable parameter", "adamw": "two moments per trainable "
           "parameter", "adafactor": "a row and a column of the second moment per weight "
           "(over its last two axes), a vector's whole", "adam8bit": "two 8-bit moments per "
           "trainable parameter and an fp32 scale per block of 2,048"}


def training_sentences(report: Report) -> list[str]:
    """The training step's figures in words, each with its arithmetic
    (docs/training-memory.md)."""
    tr, s = report.training, report.settings
    if tr is None:
        return []
    where = {"forward": f"in the forward pass at {tr.layer}",
             "backward": f"in the backward pass at {tr.layer}",
             "optimizer": "in the optimizer step"}[tr.phase]
    parts = " + ".join(f"{k} {v:,}" for k, v in tr.at_peak.items() if v)
    out = [f"training step peak = {parts} = {tr.peak:,} B, {where} (one step of eager "
           f"PyTorch, steady state; docs/training-memory.md)"]
    top = sorted(tr.per_layer.items(), key=lambda kv: -kv[1])[:3]
    out.append(f"saved for backward = {tr.saved:,} B for a micro-batch of {tr.micro_batch}: "
               "what autograd keeps of each layer (a convolution or linear layer its input, "
               "BatchNorm its input and two statistics per channel, ReLU its output, max "
               "pooling its input and int64 indices, adds, concatenations and views nothing)"
               + ("; the most: " + ", ".join(f"{n} {b:,}" for n, b in top) if top else ""))
    trainable = report.totals.trainable_params
    out.append(f"gradients = {trainable:,} trainable parameters × {s.dtype_bytes} B = "
               f"{tr.grads:,} B; optimizer state ({s.optimizer}: {_STATES[s.optimizer]}) = "
               f"{tr.states:,} B, made on the first step"
               + (f"; the step's temporaries {tr.step_temps:,} B (PyTorch's foreach step)"
                  if tr.step_temps else ""))
    if tr.casts:
        out.append(f"autocast ({s.amp}) copies the weights of convolutions and linear layers "
                   f"once per forward pass: {tr.casts:,} B, saved for backward beside "
                   "low-precision activations; the weights, their gradients and the optimizer "
                   "state stay fp32")
    if tr.recompute_macs:
        out.append(f"checkpointed {', '.join(s.checkpoint)}: each block keeps its input only "
                   f"and runs its forward pass again when its backward pass starts: "
                   f"{tr.recompute_macs:,} MACs more per step")
    if tr.accumulate > 1:
        out.append(f"{tr.accumulate} micro-batches of {tr.micro_batch}: each saves its own "
                   "activations; the gradients of the earlier ones stay alive through the later")
    out.append(f"inference peak (eager PyTorch) = {tr.inference:,} B at {tr.inference_layer}: "
               "weights, the input and the activations alive as PyTorch holds them (a "
               "module's input until it returns)")
    return out


def explain_document(report: Report, layers: Sequence, totals: Sequence[str]) -> dict:
    """The JSON form of ``archcalc explain``: each figure with its formula, the worked numbers,
    the values by symbol, its value and a note."""
    return {"schema": SCHEMA, "name": report.name, "input": list(report.input),
            "settings": report.settings.to_dict(),
            "layers": [e.to_dict() for e in layers],
            "totals": list(totals) + training_sentences(report)}

def render_explain(report: Report, layers: Sequence, totals: Sequence[str],
                   fmt: str = "text", wrap: int | None = None) -> str:
    """``layers``: LayerExplanations (archcalc.analysis.explain); ``totals``: sentences. ``wrap``:
    the text's width on a terminal (lines break between words, under their own column); None for
    a pipe, which gets whole lines."""
    if fmt == "json":
        return json.dumps(explain_document(report, layers, totals), indent=2)
    md = fmt == "markdown"
    rows = {row.name: row for row in report.layers}
    out = [f"## {md_cell(report.name)} — input {vol_text(report.input)}" if md else
           _wrapped("", f"{report.name} — input {vol_text(report.input)}", wrap), ""]
    width = max((len(f.label) for e in layers for f in e.figures), default=0)
    for e in layers:
        row = rows[e.name]
        src = " + ".join(vol_text(rows[s].output) for s in e.inputs)
        head = f"{e.name} — {e.op} {e.detail}".rstrip() + \
            (f" ({src} → {vol_text(row.output)})" if src else "") + \
            (" [training only]" if row.train_only else "")
        out.append(f"### {md_cell(head)}" if md else _wrapped("", head, wrap))
        for f in e.figures:
            out.append(f"- {f.label}: `{f.text()}`" if md else
                       _wrapped(f"  {f.label.ljust(width)}  ", f.text(), wrap))
        out.append("")
    totals = list(totals) + (training_sentences(report) if totals else [])
    if totals:
        out.append("### Totals" if md else "totals")
        out += [f"- {t}" if md else _wrapped("  ", t, wrap) for t in totals]
    return "\n".join(out).rstrip("\n") + "\n"
