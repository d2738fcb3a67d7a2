"""archcalc: an architecture design calculator for convolutional networks.

    >>> import archcalc
    >>> net = archcalc.parse("C3D64 C3D64 M FC10 S", input=(32, 32, 3))
    >>> report = archcalc.analyze(net)
    >>> report.totals.params
    202570

The core (spec parsing, graph, analysis, report, views) never imports onnx or onnxruntime;
the ONNX exporter and the runtime live in ``archcalc.exporters`` (the ``exporters/`` folder of
the repository), which nothing in the core imports.
"""
from .analysis import DTYPES, OPTIMIZERS, analyze
from .errors import ArchcalcError, Diagnostic, SourcePos
from .graph import Layer, Network
from .report import RF, LayerRow, Report, Totals
from .spec import load, parse

__version__ = "0.1.0"

__all__ = ["parse", "load", "analyze", "Network", "Layer", "Report", "LayerRow", "Totals", "RF",
           "ArchcalcError", "Diagnostic", "SourcePos", "DTYPES", "OPTIMIZERS", "__version__"]
