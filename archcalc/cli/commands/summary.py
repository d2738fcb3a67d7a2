"""``archcalc summary``: per-layer and total figures of a network."""
from __future__ import annotations

import typer

from ...analysis import analyze
from ...errors import OPTIONS, error
from ...settings import LoadOptions
from ...spec import read_one
from ..guard import say
from ..options import (
    DEPTH,
    SPEC,
    DeviceChoice,
    choice,
    command,
    device,
    format_option,
    request,
    whole,
)

FORMATS = ("table", "json", "markdown", "csv")


@command
def summary(
    spec: str = SPEC,
    opts: LoadOptions = request(),
    format: str = format_option(FORMATS),
    depth: str | None = DEPTH,
    sharing: bool = typer.Option(False, "--sharing", help="for each convolution, how many "
                                 "times more parameters it would need without weight sharing "
                                 "(locally connected) and as a dense layer"),
    dev: DeviceChoice | None = device(),
) -> None:
    """Per-layer and total figures of a network."""
    fmt = choice(format, FORMATS, "--format")
    fold = whole(depth, "--depth", 0)
    if dev is not None and fmt == "csv":
        raise error("--device has no csv column in summary", OPTIONS, kind="usage",
                    hint="archcalc estimate SPEC --device NAME --format csv")
    net = read_one(spec, opts)
    report = analyze(net)
    from ...views import documents, table
    counts = None
    if sharing:
        from ...analysis.explain import sharing_counts
        counts = sharing_counts(net, report)
    extra = table.sharing_columns(counts)
    est = None
    if dev is not None:                     # archcalc/latency: pure arithmetic, no onnxruntime
        from ... import latency
        from ...latency import model
        from ...views.latency import latency_column
        est = model.estimate(report, latency.device(dev.name, dev.file))
        extra = (*extra, latency_column(est))
    if fmt == "table":
        table.render_table(report, fold, extra=extra)
    elif fmt == "json":
        text = documents.render_json(report, fold, counts)
        if est is not None:
            from ...views.latency import summary_json
            text = summary_json(text, est)
        print(text)
    elif fmt == "markdown":
        print(documents.render_markdown(report, fold, extra), end="")
    else:
        print(documents.render_csv(report, fold, counts), end="")
        for d in report.diagnostics:        # CSV has no place for them: on stderr, one a line
            from ...views.text import diag_line
            say(diag_line(d))
    if est is not None and fmt in ("table", "markdown"):
        from ...views.text import terminal_width, wrap_text
        print(wrap_text(f"predicted on {est.device.key}: {est.time_s * 1e3:,.3f} ms per batch "
                        "(archcalc estimate breaks it down)",
                        terminal_width() if fmt == "table" else None, 2))
