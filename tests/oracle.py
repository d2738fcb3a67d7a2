"""The onnxruntime oracle: export a network, run it in onnxruntime with every layer's output made a
graph output, and compare what onnxruntime actually computed with the analyzer — every layer's
volume, and the parameter count against the exported initializers. Used by tests/test_oracle.py
(bounded) and benchmarks/oracle.py (the long run)."""
from __future__ import annotations

from math import prod

import numpy as np
import onnx
import onnxruntime as ort

import archcalc
from archcalc.exporters import onnx as onnx_export


def _volume(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """An ONNX output shape (batch first, NCHW or N×features) as archcalc's (H, W, C)."""
    if len(shape) == 4:
        return (shape[2], shape[3], shape[1])
    if len(shape) == 2:
        return (1, 1, shape[1])
    raise AssertionError(f"unexpected rank {len(shape)}")


def disagreements(net: archcalc.Network, report: archcalc.Report, batch: int = 2) -> list[str]:
    """What onnxruntime and the analyzer disagree on (an empty list: they agree)."""
    model = onnx_export.to_model(net, weights="random", seed=1)
    found = []
    inits = sum(prod(t.dims) for t in model.graph.initializer)
    stored = report.totals.params + report.totals.buffers
    if inits != stored:
        found.append(f"initializers hold {inits:,} values, the analyzer counts "
                     f"{stored:,} parameters and buffers")
    layers = [row.name for row in report.layers if row.op != "input"]
    present = {o.name for o in model.graph.output}
    produced = {out for node in model.graph.node for out in node.output}
    for name in layers:
        if name not in produced:
            found.append(f"no ONNX value named after layer {name}")
        elif name not in present:
            model.graph.output.append(onnx.ValueInfoProto(name=name))
    so = ort.SessionOptions()
    so.log_severity_level = 4
    h, w, c = net.input
    x = np.random.default_rng(0).standard_normal((batch, c, h, w), dtype=np.float32)
    try:        # onnxruntime refusing the exported graph is a disagreement, not a crash
        sess = ort.InferenceSession(model.SerializeToString(), so,
                                    providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        outs = dict(zip(names, sess.run(names, {sess.get_inputs()[0].name: x})))
    except Exception as exc:             # onnxruntime's errors share no public base class
        return found + [f"onnxruntime refused the exported graph: {str(exc)[:300]}"]
    for row in report.layers:
        if row.op == "input" or row.name not in outs:
            continue
        got = outs[row.name].shape
        if got[0] != batch or _volume(got) != row.output:
            found.append(f"{row.name}: onnxruntime computed {got}, the analyzer "
                         f"{row.output[0]}×{row.output[1]}×{row.output[2]}")
    return found
