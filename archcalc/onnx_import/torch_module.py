"""A PyTorch module read as a network: exported to ONNX in memory by PyTorch's own exporter and
read by archcalc's ONNX importer, so that every analysis applies to a model that exists only as
code (docs/onnx-import.md, "PyTorch modules").

The export is PyTorch's TorchScript exporter (opset 17, BatchNorm kept as a node, as the module
is: ``TrainingMode.PRESERVE`` on a module in eval mode), whose node names carry the module tree
(``layer1.0.conv1``), which the importer turns back into layer names. Only the structure is
exported with its weights where they take less than 1 GiB (a Swin's masks, computed from
buffers, then stay constants), and past that as structure alone (``export_params=False``:
weights become graph inputs, as in archcalc's own light models). The bytes are read
from a temporary file that is always removed: nothing is left behind. torch is imported here
only, and only when asked for (``archcalc[torch]``).
"""
from __future__ import annotations

import io
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ..errors import OPTIONS, ArchcalcError, SourcePos, error
from ..graph import Network
from ..ops.values import as_volume

TORCH_HINT = "install it: pip install 'archcalc[torch]' (or pip install torch)"


def torch_or_error() -> Any:
    try:
        import torch
    except ImportError:
        raise error("reading a PyTorch model needs PyTorch, which is not installed", OPTIONS,
                    hint=TORCH_HINT, kind="usage") from None
    return torch


def from_torch(module: Any, input: str | Sequence[int] = (224, 224, 3), *,
               name: str | None = None, unknown: str = "error") -> Network:
    """The network of the PyTorch ``module`` for one image of ``input`` (H, W, C, or
    ``"224x224x3"``), its layers named by the module tree. The module is put in eval mode for
    the export and given back in the mode it was in; its weights are neither read nor changed.
    ``unknown="passthrough"`` keeps ops archcalc does not know as uncounted layers."""
    torch = torch_or_error()
    if not isinstance(module, torch.nn.Module):
        raise error(f"from_torch takes a torch.nn.Module, got {type(module).__name__}", OPTIONS,
                    hint="build the model first: archcalc.from_torch(torchvision.models."
                         "resnet50(), input=(224, 224, 3))", kind="usage")
    try:
        h, w, c = as_volume(input, OPTIONS)
    except ArchcalcError as exc:
        raise exc.as_kind("usage") from None
    label = name or type(module).__name__
    data = _export(torch, module, (1, c, h, w), label)
    return _read(data, label, unknown)


def _export(torch: Any, module: Any, shape: tuple[int, int, int, int], label: str) -> bytes:
    buffer = io.BytesIO()
    was_training = module.training
    module.eval()
    try:
        # grad stays on: nn.MultiheadAttention's fused fast path (no ONNX form) runs only
        # without it. The weights go in where they fit a protobuf (constants computed from them,
        # a Swin's masks, stay constants); past that only the structure, weights as inputs
        size = sum(t.numel() * t.element_size() for t in [*module.parameters(),
                                                          *module.buffers()])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (torch.zeros(*shape),), buffer, dynamo=False,
                              opset_version=17, training=torch.onnx.TrainingMode.PRESERVE,
                              input_names=["input"], export_params=size < 1 << 30)
    except Exception as exc:       # whatever the exporter raises: one message, not a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(f"PyTorch could not export {label} for a {shape[2]}×{shape[3]}×{shape[1]} "
                    f"input: {first[:300]}", SourcePos(f"<torch {label}>"),
                    hint="check the input size and channels the model expects (--input HxWxC; "
                         "input=(H, W, C) from Python)", kind="usage") from None
    finally:
        module.train(was_training)
    return buffer.getvalue()


def _read(data: bytes, label: str, unknown: str) -> Network:
    from . import load_onnx
    shown = f"<torch {label}>"
    with tempfile.TemporaryDirectory(prefix="archcalc-torch-") as folder:
        path = os.path.join(folder, f"{label}.onnx")
        with open(path, "wb") as f:
            f.write(data)
        try:
            net = load_onnx(path, unknown=unknown, name=label)
        except ArchcalcError as exc:
            raise _relabelled(exc, path, shown) from None
    return net.replace(source=shown, origin={**(net.origin or {}), "path": shown})


def _relabelled(exc: ArchcalcError, path: str, shown: str) -> ArchcalcError:
    """The importer's error about the temporary file, told of the module instead."""
    def fix(text: str | None) -> str | None:
        return None if text is None else text.replace(path, shown)
    diags = [replace(d, message=fix(d.message) or "", hint=fix(d.hint),
                     pos=d.pos._replace(file=shown) if d.pos.file == path else d.pos)
             for d in exc.diagnostics]
    return ArchcalcError(diags, exc.kind, exc.partial)


def factory_module(target: str) -> Callable[..., Any] | None:
    """``pkg.module:factory`` → the callable, or None where ``target`` is not of that form."""
    if ":" not in target or os.path.exists(target):
        return None
    mod, _, attr = target.partition(":")
    if not mod or not attr or not all(p.isidentifier() for p in mod.split(".") + attr.split(".")):
        return None
    import importlib
    try:
        obj: Any = importlib.import_module(mod)
    except ImportError as exc:
        raise error(f"cannot import {mod}: {exc}", SourcePos(target), kind="usage",
                    hint="check the module path, and that its package is installed") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise error(f"{mod} has no {attr!r}", SourcePos(target), kind="usage",
                        hint=f"name a model class or function of {mod}, e.g. {mod}:resnet50")
        obj = getattr(obj, part)
    if not callable(obj):
        raise error(f"{target} is not callable", SourcePos(target), kind="usage",
                    hint="name a model class or a function that returns one")
    return obj
