"""archcalc: an architecture design calculator for convolutional networks.

    >>> import archcalc
    >>> net = archcalc.parse("C3D64 C3D64 M FC10 S", input=(32, 32, 3))
    >>> report = archcalc.analyze(net)
    >>> report.totals.params
    202570

The library's face: ``parse`` (spec text) and ``load`` (a file, a shipped network's name, ``-``
or an ONNX model) make a :class:`Network`, as does ``from_torch`` (a PyTorch module, read
through an in-memory ONNX export; torch is imported only then); ``analyze`` makes its
:class:`Report`. The core
(spec front-ends, graph, analysis, report, views) never imports onnx or onnxruntime: the ONNX
exporter and the runtime live in ``archcalc.exporters`` (the ``exporters/`` folder of the
repository). docs/architecture.md shows how the packages depend on each other.
"""
from .analysis import analyze
from .errors import ArchcalcError, Diagnostic, SourcePos
from .graph import Layer, Network
from .report import RF, LayerRow, Report, Totals
from .settings import OPTIMIZERS, LoadOptions, Settings, resolve
from .spec import load, parse
from .units import DTYPES
from .version import __version__


def from_torch(module: object, input: object = (224, 224, 3), **options: object) -> Network:
    """The :class:`Network` of a PyTorch module for one image of ``input`` (H, W, C), its layers
    named by the module tree: ``archcalc.from_torch(torchvision.models.resnet50())``. Needs
    torch (``pip install 'archcalc[torch]'``); see docs/onnx-import.md, "PyTorch modules"."""
    from .onnx_import.torch_module import from_torch as read
    return read(module, input, **options)  # type: ignore[arg-type]


__all__ = ["parse", "load", "from_torch", "analyze", "resolve", "Network", "Layer", "Report",
           "LayerRow", "Totals", "RF", "Settings", "LoadOptions", "ArchcalcError", "Diagnostic",
           "SourcePos", "DTYPES", "OPTIMIZERS", "__version__"]
