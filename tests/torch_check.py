"""The PyTorch oracle of the source exporter (exporters/torch_source.py): a network compiled to
PyTorch source, its module run by PyTorch, and what PyTorch itself counts and computes compared
with archcalc — the parameters and buffers (``numel``), every module's output shape (forward
hooks), FlopCounterMode's FLOPs, ``torch.export``, the outputs against onnxruntime's on the ONNX
export with the same seeded weights, and the module exported by PyTorch's own ONNX exporter read
back by archcalc. Used by tests/test_torch_source.py (bounded) and benchmarks/torch_oracle.py
(the long run)."""
from __future__ import annotations

import io
import os
import tempfile
from math import prod

import numpy as np

import archcalc
from archcalc.exporters import onnx as onnx_export
from archcalc.exporters import torch_source as ts

# outputs against onnxruntime: |torch − onnxruntime| ≤ ATOL + RTOL·max|onnxruntime| (float32
# round-off through up to a few dozen layers, both in float32; ATOL for outputs that are 0 up
# to round-off, as a normalization over one place, whose x − mean is divided by √ε)
RTOL, ATOL = 1e-4, 1e-4

# The importer reads what torchvision's models export; the generated attention (and the layout
# changes around the token ops) are not among those forms, nor is the TorchScript exporter's
# written-out LocalResponseNorm (docs/export.md, "PyTorch source": the round trip's limits)
NOT_IMPORTED = {"attention", "lrn", "tokens", "untokens", "class_token", "pos_embed",
                "take_token", "linear", "layer_scale", "patch_merge", "drop_path"}


def _channels(net: archcalc.Network, layer: archcalc.Layer) -> int:
    return {row.name: row.output for row in archcalc.analyze(net).layers}[layer.name][2]


def _whole(net: archcalc.Network, layer: archcalc.Layer) -> bool:
    """Whether a slice keeps every channel of its input."""
    vol = {row.name: row.output for row in archcalc.analyze(net).layers}
    return vol[layer.name] == vol[layer.inputs[0]]


def roundtrip_limit(net: archcalc.Network) -> str | None:
    """Why the round trip is not expected to close for ``net`` (None: it is): an op of
    NOT_IMPORTED, or a layer read only for its size (a crop's second input), whose value feeds
    nothing in PyTorch's graph, so that torch.onnx.export drops it."""
    if all(layer.op in ("input", "dropout", "drop_path", "flatten", "tokens", "untokens")
           or (layer.op == "shuffle" and layer.attrs["groups"] in (1, _channels(net, layer)))
           or (layer.op == "slice" and _whole(net, layer)) for layer in net.layers):
        return "a network that computes nothing (archcalc imports no model without a layer)"
    ops = sorted({layer.op for layer in net.layers} & NOT_IMPORTED)
    if ops:
        return "ops the importer does not read from PyTorch: " + ", ".join(ops)
    size_only = {layer.inputs[1] for layer in net.layers if layer.op == "crop"
                 and len(layer.inputs) == 2}
    size_only -= {s for layer in net.layers for s in layer.inputs[:1] if layer.op == "crop"}
    size_only -= {s for layer in net.layers if layer.op != "crop" for s in layer.inputs}
    size_only -= set(net.outputs)
    if size_only:
        return "a layer read only for its size: " + ", ".join(sorted(size_only))
    return None


def _hooked(torch, model, x, train: bool) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}

    def hook(name):
        def record(module, args, out):
            if isinstance(out, torch.Tensor) and name not in shapes:
                shapes[name] = tuple(out.shape)
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if n]
    try:
        model.train(train)
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.eval()
    return shapes


def structure(net: archcalc.Network, compiled: ts.Compiled | None = None, batch: int = 2
              ) -> tuple[list[str], dict[str, int]]:
    """(disagreements, counts) of the module built on the meta device: parameters and buffers,
    every layer's output shape where the layer is a module, FlopCounterMode's FLOPs (inference
    and, with training-only layers, training)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    found: list[str] = []
    compiled = compiled or ts.compile_network(net)
    report = archcalc.analyze(net, convention="flopcounter")
    t = report.totals
    with torch.device("meta"):
        model = ts.load(compiled)()
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers()
                  if not n.endswith("num_batches_tracked"))
    if params != t.params:
        found.append(f"parameters: PyTorch {params:,}, archcalc {t.params:,}")
    if buffers != t.buffers:
        found.append(f"buffers: PyTorch {buffers:,}, archcalc {t.buffers:,}")
    h, w, c = net.input
    x = torch.zeros(batch, c, h, w, device="meta")
    train = any(layer.train_only for layer in net.layers)
    shapes = _hooked(torch, model, x, False)
    if train:
        shapes.update({k: v for k, v in _hooked(torch, model, x, True).items()
                       if k not in shapes})
    checked = 0
    for row in report.layers:
        path = compiled.modules.get(row.name)
        if path is None:
            continue
        got = shapes.get(path)
        want = ts.torch_shape(compiled.layouts[row.name], row.output, batch)
        checked += 1
        if got != want:
            found.append(f"{row.name} ({path}): PyTorch {got}, archcalc "
                         f"{'×'.join(map(str, row.output))} as {want}")
    model.eval()
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        outs = model(x)
    flops = fc.get_total_flops()
    infer = batch * t.flops          # the totals' MACs leave the training-only layers out
    if flops != infer:
        found.append(f"FLOPs: FlopCounterMode {flops:,}, archcalc (flopcounter) {infer:,}")
    outs = outs if isinstance(outs, tuple) else (outs,)
    if len(outs) != len(compiled.outputs):
        found.append(f"{len(outs)} outputs, archcalc {len(compiled.outputs)}")
    for name, o in zip(compiled.outputs, outs):
        vol = report.layers[[r.name for r in report.layers].index(name)].output
        if o.shape[0] != batch or prod(o.shape[1:]) != prod(vol):
            found.append(f"output {name}: {tuple(o.shape)}, archcalc {vol}")
    if train:
        model.train()
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            touts = model(x)
        model.eval()
        want = batch * (t.flops + 2 * t.train_only_macs)
        if fc.get_total_flops() != want:
            found.append(f"training FLOPs: FlopCounterMode {fc.get_total_flops():,}, archcalc "
                         f"{want:,}")
        n = len(compiled.outputs) + len(compiled.train_outputs)
        if not isinstance(touts, tuple) or len(touts) != n:
            found.append(f"training returns {len(touts) if isinstance(touts, tuple) else 1} "
                         f"outputs, expected {n}")
    counts = {"modules": checked, "layers": sum(1 for r in report.layers if r.op != "input")}
    return found, counts


def values(net: archcalc.Network, compiled: ts.Compiled | None = None, seed: int = 1,
           batch: int = 2, export: bool = True) -> tuple[list[str], float]:
    """(disagreements, the largest difference over max(1, the output's largest value)) of the
    module
    loaded with the ONNX exporter's seeded weights against onnxruntime on the ONNX export, at
    ``batch`` on one random input; with ``export``, ``torch.export.export`` of it too."""
    import onnxruntime as ort
    import torch
    found: list[str] = []
    compiled = compiled or ts.compile_network(net)
    model = ts.build(net, "random", seed, compiled)
    h, w, c = net.input
    x = np.random.default_rng(seed).standard_normal((batch, c, h, w), dtype=np.float32)
    with torch.no_grad():
        outs = model(torch.from_numpy(x))
    outs = outs if isinstance(outs, tuple) else (outs,)
    onnx_model = onnx_export.to_model(net, weights="random", seed=seed)
    so = ort.SessionOptions()
    so.log_severity_level = 4
    sess = ort.InferenceSession(onnx_model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    refs = dict(zip(names, sess.run(names, {sess.get_inputs()[0].name: x})))
    worst = 0.0
    for name, o in zip(compiled.outputs, outs):
        ref = refs[name].reshape(batch, -1)
        got = o.numpy().reshape(batch, -1)
        if got.shape != ref.shape:
            found.append(f"output {name}: PyTorch {tuple(o.shape)}, onnxruntime "
                         f"{refs[name].shape}")
            continue
        scale = float(np.abs(ref).max()) if ref.size else 0.0
        diff = float(np.abs(got - ref).max()) if ref.size else 0.0
        worst = max(worst, diff / max(1.0, scale))
        if not diff <= ATOL + RTOL * scale:
            found.append(f"output {name}: differs from onnxruntime by {diff:.3g} "
                         f"(scale {scale:.3g})")
    if export:
        try:
            torch.export.export(model, (torch.from_numpy(x),))
        except Exception as exc:           # torch.export's failures share no base class
            found.append(f"torch.export: {type(exc).__name__}: {str(exc)[:300]}")
    return found, worst


def roundtrip(net: archcalc.Network, compiled: ts.Compiled | None = None
              ) -> tuple[list[str], dict[str, int]]:
    """The generated module (zeros) exported by ``torch.onnx.export`` (TorchScript exporter,
    opset 17) and read back by ``archcalc.load``: its parameters and MACs must be the spec's
    (inference: training-only layers are not in an eval-mode export), and every layer of the
    spec that is a module must be a layer of the import with the same volume (the importer
    names a layer after the module that made it: ``layer1.0.conv1``). Exported with
    ``TrainingMode.PRESERVE``, which keeps each BatchNorm (the eval-mode export folds it into
    the conv before it)."""
    import torch
    found: list[str] = []
    compiled = compiled or ts.compile_network(net)
    model = ts.build(net, "zeros", 0, compiled)
    h, w, c = net.input
    report = archcalc.analyze(net)
    t = report.totals
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.onnx")
        with torch.no_grad(), _quiet():
            torch.onnx.export(model, (torch.zeros(2, c, h, w),), path, dynamo=False,
                              opset_version=17, input_names=["input"],
                              training=torch.onnx.TrainingMode.PRESERVE)
        back = archcalc.load(path)
        r2 = archcalc.analyze(back)
    if r2.totals.params != t.params - t.train_only_params:
        found.append(f"round trip parameters: {r2.totals.params:,}, the spec "
                     f"{t.params - t.train_only_params:,}")
    if r2.totals.macs != t.macs:
        found.append(f"round trip MACs: {r2.totals.macs:,}, the spec {t.macs:,}")
    by_module = {row.name: row.output for row in r2.layers}
    checked = 0
    for row in report.layers:
        path = compiled.modules.get(row.name)
        if path is None or row.train_only:
            continue
        got = by_module.get(path)
        if got is None:
            continue
        checked += 1
        if got != row.output:
            found.append(f"round trip {row.name} ({path}): imported {got}, the spec {row.output}")
    return found, {"roundtrip_layers": checked}


class _quiet:
    """Silence the TorchScript exporter's deprecation warnings and prints."""

    def __enter__(self):
        import contextlib
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")
        self._o = contextlib.redirect_stdout(io.StringIO())
        self._o.__enter__()
        return self

    def __exit__(self, *exc):
        self._o.__exit__(*exc)
        self._w.__exit__(*exc)
        return False


def runs_in_onnxruntime(net: archcalc.Network) -> bool:
    """Whether onnxruntime opens the ONNX export (its CPU pooling refuses a padding as wide as
    the window, which PyTorch and archcalc allow: not the PyTorch exporter's concern)."""
    import onnxruntime as ort

    from archcalc.exporters import onnx as onnx_export
    so = ort.SessionOptions()
    so.log_severity_level = 4
    try:
        ort.InferenceSession(onnx_export.to_model(net, "zeros").SerializeToString(), so,
                             providers=["CPUExecutionProvider"])
    except Exception:        # onnxruntime's errors share no public base class
        return False
    return True
