"""The figures a sweep reports for every variant, each taken from the variant's Report (never
recomputed): ``FIGURES`` lists them in column order as (key, label, unit, function of (report,
network)).

Hook for issue 13 (predicted latency): when ``archcalc estimate`` exists, append
``("latency_ms", "latency", "ms", lambda report, net: <its estimate>)`` here; every output
format, ``--pareto latency_ms`` and the Dask workers then carry it with no other change (the
workers import this module, so the entry must be importable there, not registered at run time).
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
    # issue 13: Figure("latency_ms", "Latency", "ms", <estimate>) goes here
)

KEYS = tuple(f.key for f in FIGURES)
ALIASES = {"peak": "peak_bytes", "training": "training_bytes", "acts": "activations"}
