"""The named totals of a network, in one place: what a budget limits (``--budget``,
``validate --max-*``), a gate checks (``diff --fail-on``), a sweep reports and ranks
(``--pareto``), ``fit`` and ``compare`` show. Each :class:`Figure` reads its value from a
:class:`~archcalc.report.Report` (never recomputing it); its ``kind`` says how it is written
and read (a count, bytes, pixels).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from ..errors import OPTIONS, error
from ..ops.values import near
from ..report import Report
from .rf import at_output


class Figure(NamedTuple):
    key: str                     # the name a user writes, the JSON / CSV key
    label: str                   # words: "parameters"
    heading: str                 # a table's short heading: "Params"
    kind: str                    # "count", "bytes" or "px"
    what: str                    # what it measures, for messages
    # (report, outputs) → value: a whole number, but for the receptive field, which may be a
    # fraction (after upsampling) or None (global everywhere)
    value: Callable[[Report, Sequence[str] | None], float | None]


def _total(attr: str) -> Callable[[Report, Sequence[str] | None], float | None]:
    def value(report: Report, outputs: Sequence[str] | None = None) -> int:
        total: int = getattr(report.totals, attr)
        return total
    return value


def output_rf(report: Report, outputs: Sequence[str] | None = None) -> float | None:
    """The larger side of the receptive field at the output (:func:`.rf.at_output`: where the
    output's field is global, as a classifier's, that of the last local layer before it); None
    where no layer has a local field."""
    found = at_output(report, outputs)
    return None if found is None or found[1].size is None else max(found[1].size)


FIGURES: dict[str, Figure] = {f.key: f for f in (
    Figure("params", "parameters", "Params", "count", "parameters", _total("params")),
    Figure("trainable_params", "trainable parameters", "Trainable", "count",
           "trainable parameters", _total("trainable_params")),
    Figure("buffers", "buffers", "Buffers", "count",
           "buffers (BatchNorm statistics, position indices)", _total("buffers")),
    Figure("macs", "MACs", "MACs", "count", "MACs per image", _total("macs")),
    Figure("batch_macs", "MACs per batch", "Batch MACs", "count", "MACs per batch",
           _total("batch_macs")),
    Figure("flops", "FLOPs", "FLOPs", "count", "FLOPs per image (2 × MACs)", _total("flops")),
    Figure("activations", "activations", "Activations", "count",
           "activation elements per image", _total("activations")),
    Figure("activation_bytes", "activation memory", "Act. bytes", "bytes",
           "activation memory per batch", _total("activation_bytes")),
    Figure("peak_bytes", "peak activation memory", "Peak", "bytes",
           "peak activation memory (inference, per batch)", _total("peak_bytes")),
    Figure("param_bytes", "weights", "Weights", "bytes", "weights (parameters and buffers)",
           _total("param_bytes")),
    Figure("total_bytes", "inference memory", "Inference", "bytes", "inference memory estimate",
           _total("total_bytes")),
    Figure("training_bytes", "training memory", "Training", "bytes", "training memory estimate",
           _total("training_bytes")),
    Figure("rf", "receptive field at the output", "RF", "px",
           "the receptive field's side at the output", output_rf),
)}

def under(text: str, key: str, convention: str) -> str:
    """``text`` naming figure ``key``, as counted under ``convention``: the MACs of a convention
    other than torchvision's (or flopcounter's, which doubles the same MACs) say whose they are,
    the everything convention's are operations (docs/definitions.md, "Counting conventions"):
    "MACs per image (fvcore)", "operations per image (everything)", "FLOPs (FlopCounterMode's)"."""
    if key in ("macs", "batch_macs"):
        if convention == "everything":
            return text.replace("MACs", "operations") + " (everything)"
        return text if convention in ("torchvision", "flopcounter") else f"{text} ({convention})"
    if key == "flops" and convention != "torchvision":
        return text.replace("2 × MACs", "2 × operations") + (
            " (FlopCounterMode's)" if convention == "flopcounter" else f" ({convention})")
    return text


ALIASES: dict[str, str] = {
    "parameters": "params", "peak": "peak_bytes", "peak_activations": "peak_bytes",
    "weights": "param_bytes", "memory": "total_bytes", "total": "total_bytes",
    "inference": "total_bytes", "training": "training_bytes", "peak_training": "training_bytes",
    "training_memory": "training_bytes", "acts": "activations", "trainable": "trainable_params",
}


def names() -> list[str]:
    """Every name a user may write: the keys, then the aliases."""
    return [*FIGURES, *ALIASES]


def lookup(name: str, what: str, among: Sequence[str] | None = None) -> Figure:
    """The figure called ``name`` (a key or an alias, any case, ``-`` for ``_``), or a usage
    error at <options> naming ``what`` asked for it, with "did you mean". ``among``: the keys
    allowed there (default: every figure)."""
    allowed = list(among) if among is not None else list(FIGURES)
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key in allowed:
        return FIGURES[key]
    spelled = allowed + [a for a, k in ALIASES.items() if k in allowed]
    raise error(f"{what}: no figure named {name.strip()!r}", OPTIONS, kind="usage",
                hint=near(key, spelled) + "figures: " + ", ".join(allowed))
