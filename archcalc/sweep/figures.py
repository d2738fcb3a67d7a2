"""The figures a sweep reports for every variant, each taken from the variant's Report (never
recomputed): ``FIGURES`` lists them in column order as (key, label, unit, function of (report,
network)).

With ``--device NAME`` a sweep also reports each variant's predicted latency on that device
(``archcalc estimate``'s total, in ms): :func:`active` gives the figures in use, and each
worker learns the device from the job (:func:`use_device`), on local processes and on Dask.
"""
from __future__ import annotations

from typing import Callable, NamedTuple


class Figure(NamedTuple):
    key: str                    # the column / JSON key, and the name --pareto takes
    label: str                  # the table's heading
    unit: str                   # "count", "bytes" or "px": how the table shortens it
    value: Callable             # (report, network) -> int | float | None


def output_rf(report, net):
    """The larger side of the receptive field at the output (``archcalc diff``'s definition:
    where the output's field is global, as a classifier's, that of the last local layer before
    it); None where no layer has a local field."""
    from ..diff import output_rf as rf_at_output
    found = rf_at_output(report, net.outputs)
    return None if found is None else max(found[1].size)


FIGURES: tuple[Figure, ...] = (
    Figure("params", "Params", "count", lambda r, n: r.totals.params),
    Figure("macs", "MACs", "count", lambda r, n: r.totals.macs),
    Figure("activations", "Activations", "count", lambda r, n: r.totals.activations),
    Figure("peak_bytes", "Peak", "bytes", lambda r, n: r.totals.peak_bytes),
    Figure("training_bytes", "Training", "bytes", lambda r, n: r.totals.training_bytes),
    Figure("rf", "RF", "px", output_rf),
)

KEYS = tuple(f.key for f in FIGURES)
_device = None                  # the device of --device (archcalc.latency), else None


def _latency_ms(report, net):
    from ..latency import model
    return model.estimate(report, _device).time_s * 1e3


LATENCY = Figure("latency_ms", "Latency ms", "ms", _latency_ms)


def use_device(device) -> None:
    """Report the predicted latency on ``device`` (an archcalc.latency Device) too; None: not."""
    global _device
    _device = device


def active() -> tuple[Figure, ...]:
    """The figures reported, in column order: FIGURES, and the latency where a device is set."""
    return FIGURES + ((LATENCY,) if _device is not None else ())


def keys() -> tuple[str, ...]:
    return tuple(f.key for f in active())
ALIASES = {"peak": "peak_bytes", "training": "training_bytes", "acts": "activations"}
