"""Write archcalc networks in other forms: compiled to ONNX (and run with onnxruntime), or as a
YAML spec.

    >>> import archcalc
    >>> from archcalc.exporters import onnx as onnx_export, runtime
    >>> net = archcalc.parse("C3D16 R M FC10 S", input=(32, 32, 3))
    >>> path = onnx_export.export(net, "small.onnx")            # doctest: +SKIP
    >>> runtime.run(path, batch=8).median_ms                    # doctest: +SKIP

``archcalc.exporters.torch_source`` writes PyTorch source (``export -o model.py``).
``archcalc.exporters.onnx`` holds the emission table (archcalc op kind → ONNX nodes), ``to_model``,
``export`` and ``verify``; ``archcalc.exporters.runtime`` opens onnxruntime sessions and times them;
``archcalc.exporters.yaml`` writes a network (an imported model) as a YAML spec that reads back to
the same report. The commands are ``archcalc.cli.commands.export``, ``run`` and ``import_``.

This package's ``__init__`` imports neither onnx nor onnxruntime: they are loaded by the
submodules that need them, so that ``archcalc`` stays light.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archcalc.errors import ArchcalcError
    from archcalc.graph import Layer


def unknown_layer(layer: Layer, what: str) -> ArchcalcError:
    """The error every exporter gives for a passthrough layer of an imported model (an ONNX
    node archcalc does not know): ``what`` says what cannot be written (``it cannot be
    exported``)."""
    from archcalc.errors import error
    return error(f"layer {layer.name!r} is an ONNX {layer.attrs['onnx_op']} node archcalc does "
                 f"not know (kept by --unknown passthrough): {what}", layer.pos,
                 layer=layer.name, hint="export the original model instead, or remove the layer",
                 kind="spec")
