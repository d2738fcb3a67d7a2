"""``archcalc estimate``: predicted time per layer on a device (pure arithmetic)."""
from __future__ import annotations

import typer

from ...settings import LoadOptions
from ...spec import read_one
from ..guard import print_json
from ..options import SPEC, DeviceChoice, choice, command, device, format_option, request

MATH_DTYPES = ("fp32", "tf32", "fp16", "bf16", "int8")
FORMATS = ("table", "json", "markdown", "csv")


@command
def estimate(
    spec: str = SPEC,
    dev: DeviceChoice | None = device(required=True),
    math: str | None = typer.Option(None, "--dtype", metavar="TYPE",
                                    help="fp32 (default), tf32 (fp32 storage, tensor-core "
                                         "math), fp16, bf16 or int8: the bytes per element "
                                         "and the peak used"),
    format: str = format_option(FORMATS),
    opts: LoadOptions = request(exclude=("dtype", "optimizer", "count_inplace", "convention")),
) -> None:
    """Predicted time per layer on a device: FLOPs, bytes moved, arithmetic intensity, compute-
    or memory-bound, time = max(FLOPs/peak, bytes/bandwidth)/efficiency + overhead; totals and
    the share of time per op kind (docs/latency.md)."""
    from ... import latency
    from ...analysis import analyze
    from ...latency import model
    from ...views.latency import render_estimate
    fmt = choice(format, FORMATS, "--format")
    dtype = choice(math, MATH_DTYPES, "--dtype") or "fp32"
    assert dev is not None
    on = latency.device(dev.name, dev.file)
    on.peak(dtype)                      # a dtype without a peak: said before any work
    net = read_one(spec, opts)
    est = model.estimate(analyze(net, dtype="fp32" if dtype == "tf32" else dtype), on, dtype)
    if fmt == "json":
        print_json({"schema": 2, "name": est.report.name, **est.to_dict()})
        return
    from ...views.text import terminal_width
    print(render_estimate(est, fmt, terminal_width() if fmt == "table" else None), end="")
