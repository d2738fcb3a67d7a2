"""The series the report's plots show, each taken from the Report (no figure is recomputed
here by another definition). No plotting library is imported."""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ...analysis.memory import Storage
from ...report import Report

if TYPE_CHECKING:
    from ...graph import Network


class _Recorder(Storage):
    """:class:`Storage` that also notes the live elements at the moment a layer runs (its
    output allocated, its inputs not yet freed): the moment ``Storage.peak`` is measured."""
    __slots__ = ("during",)
    during: int | None

    def _allocate(self, name: str, elements: int, readers: int, scratch: int = 0) -> None:
        Storage._allocate(self, name, elements, readers, scratch)
        self.during = self.live + scratch


class LivePoint(NamedTuple):
    name: str
    activation_bytes: int      # what this layer writes (0 in place), per batch
    live_bytes: int            # every buffer alive while it runs, per batch


def live_curve(net: Network, report: Report) -> list[LivePoint]:
    """The live activation memory over execution order: the storage decisions the analysis
    recorded in the rows (in place or not), replayed as ``memory.alive_while`` replays them.
    Its maximum is ``report.totals.peak_bytes``. Training-only layers do not run in inference
    and are left out."""
    store = _Recorder(net.inference_consumers, net.declared_outputs)
    scale = report.totals.batch * _dtype_size(report)
    out = []
    for row in report.layers:
        if row.train_only:
            continue
        store.during = None
        store.run(row.name, row.inputs, row.activations, False, row.inplace, row.scratch)
        live = store.live if store.during is None else store.during
        out.append(LivePoint(row.name, row.activations * scale, live * scale))
    return out


def _dtype_size(report: Report) -> int:
    from ...units import DTYPES
    return DTYPES[report.settings.dtype]


class Part(NamedTuple):
    label: str
    bytes: int


def training_parts(report: Report) -> list[Part]:
    """``totals.training_bytes``, the training step's peak, split into what is alive at that
    moment (docs/training-memory.md): weights and buffers, the input batch, the optimizer's
    state, the weights' gradients, the optimizer step's temporaries, what autograd saved for
    the backward pass, and the rest (activations not saved, gradients of activations). The
    parts sum to the total (checked); empty parts are left out."""
    t, s, tr = report.totals, report.settings, report.training
    labels = {"weights": "weights and buffers", "input": "input batch",
              "optimizer state": f"optimizer state ({s.optimizer})", "gradients": "gradients",
              "step temporaries": "optimizer step temporaries",
              "saved for backward": "saved for backward",
              "activations and their gradients": "other activations and their gradients"}
    parts = [Part(labels[k], v) for k, v in tr.at_peak.items() if v]
    assert sum(p.bytes for p in parts) == t.training_bytes, "training peak split"
    return parts


class RFPoint(NamedTuple):
    name: str
    size: int | float | None      # the larger side of the receptive field; None where global


def rf_growth(report: Report) -> list[RFPoint]:
    """The receptive field's size (the larger of its sides) per layer, in input pixels."""
    return [RFPoint(row.name, None if row.rf.is_global or row.rf.size is None
                    else max(row.rf.size))
            for row in report.layers if not row.train_only]
