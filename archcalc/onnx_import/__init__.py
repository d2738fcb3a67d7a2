"""Reading ONNX models into archcalc's layer graph (``archcalc summary model.onnx``,
``archcalc.load("model.onnx")``). See docs/onnx-import.md.

The modules, each importing only those above it:

* :mod:`.wire`: the file's structure, read without its weights and without ``onnx``;
* :mod:`.layout`: activations laid out other than [N, C, H, W] (token sequences, channels
  last, windows) and the views between them;
* :mod:`.values`: the values flowing between nodes (activations, constants, failures) and
  :class:`~.values.Unsupported`;
* :mod:`.names`: layer names from node names and PyTorch's module paths;
* :mod:`.fold`: constant folding (shape arithmetic), numpy only for N-D constants;
* :mod:`.dims`: nodes evaluated on dimensions (an attention's nodes; constants too large to
  fold);
* :mod:`.infer`: what is asked of the ``onnx`` package (shape inference for passthrough nodes),
  imported only when asked;
* :mod:`.context`: the converter as handlers and patterns see it (a Protocol);
* :mod:`.handlers`: the layer each ONNX op becomes;
* :mod:`.attention`: an attention's dozens of nodes found and read as one layer;
* :mod:`.patterns`: groups of nodes that are one layer, found before the walk;
* :mod:`.convert`: the :class:`~.convert.Converter`, which walks the graph and builds the
  :class:`~archcalc.graph.Network`.

``archcalc import`` writes an imported network as a YAML spec
(archcalc/cli/commands/import_.py).
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from ..errors import OPTIONS, ArchcalcError, SourcePos, error
from ..graph import Network
from ..ops.values import as_volume
from ..settings import UNKNOWN_MODES
from .convert import Converter
from .wire import WireError, read

ONNX_MAGIC_HINT = ("give a .onnx file that PyTorch (torch.onnx.export), TensorFlow (tf2onnx) or "
                   "another tool wrote")


def is_onnx_path(path: str) -> bool:
    return str(path).lower().endswith(".onnx")


def load_onnx(path: str, input: str | Sequence[int] | None = None, unknown: str = "error",
              name: str | None = None, res: int | None = None) -> Network:
    """The network of the ONNX model at ``path``. ``input`` (H, W, C) or ``"224x224x3"`` gives
    the input size where the model leaves it dynamic; ``unknown="passthrough"`` keeps nodes of
    ops archcalc does not know as layers whose figures are not counted (else they are errors);
    ``res`` gives a dynamic height and width one size (``--set res=...``), keeping the model's
    channels."""
    path = str(path)
    where = SourcePos(path)
    if unknown not in UNKNOWN_MODES:
        raise error(f"unknown must be error or passthrough, got {unknown!r}",
                    SourcePos("<options>"), kind="usage")
    try:
        vol = None if input is None else as_volume(input, OPTIONS)
    except ArchcalcError as exc:
        raise exc.as_kind("usage") from None
    if not os.path.exists(path):
        raise error(f"no such file: {path}", where, hint="check the path", kind="io")
    if os.path.isdir(path):
        raise error(f"{path} is a directory, not an ONNX model", where, kind="io")
    try:
        model = read(path)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}", where, kind="io") from None
    except (WireError, ValueError) as exc:
        raise error(f"{path} is not a readable ONNX model: {exc}", where,
                    hint="the file is truncated or corrupt, or not ONNX; " + ONNX_MAGIC_HINT,
                    kind="usage") from None
    if model.graph is None or not model.opsets:
        raise error(f"{path} is not an ONNX model (it holds no graph or no opset)", where,
                    hint=ONNX_MAGIC_HINT, kind="usage")
    try:
        return Converter(model, path, vol, unknown, name, res).convert()
    except (WireError, ValueError, IndexError, KeyError) as exc:
        raise error(f"{path} is not a readable ONNX model: {exc}", where,
                    hint="the file is corrupt; " + ONNX_MAGIC_HINT, kind="usage") from None


__all__ = ["load_onnx", "is_onnx_path", "UNKNOWN_MODES"]
