"""archcalc: an architecture design calculator for convolutional networks.

    >>> import archcalc
    >>> net = archcalc.parse("C3D64 C3D64 M FC10 S", input=(32, 32, 3))
    >>> report = archcalc.analyze(net)
    >>> report.totals.params
    202570

The library's face: ``parse`` (spec text) and ``load`` (a file, a shipped network's name, ``-``
or an ONNX model) make a :class:`Network`; ``analyze`` makes its :class:`Report`. The core
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

__all__ = ["parse", "load", "analyze", "resolve", "Network", "Layer", "Report", "LayerRow",
           "Totals", "RF", "Settings", "LoadOptions", "ArchcalcError", "Diagnostic", "SourcePos",
           "DTYPES", "OPTIMIZERS", "__version__"]
