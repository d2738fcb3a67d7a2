"""``archcalc report``: a design review in one file (pygal imported only once one is written)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from ...errors import OPTIONS, error
from ...files import Output, check_folder
from ...settings import LoadOptions
from ..options import SPECS, DeviceChoice, command, device, output_option, request
from ..outputs import check_outputs, device_input, stopping
from ..progress import Bar
from .compare import read_all

if TYPE_CHECKING:
    from types import ModuleType


def _other(output: str) -> str:
    stem, ext = os.path.splitext(os.path.basename(output))
    return f"{stem}-review{ext}"


@command
@stopping()          # SIGTERM as Ctrl-C: no partial file is left
def report(
    specs: list[str] = SPECS,
    output: str = output_option("review.html (one self-contained page) or review.md "
                                "(Markdown; plots in review_files/ beside it)"),
    opts: LoadOptions = request(),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="include the charts"),
    dev: DeviceChoice | None = device("add a roofline chart on this device "
                                      "(docs/latency.md)"),
) -> None:
    """A design review in one file: name and settings, totals, the drawing, the per-layer
    table, every warning, and plots (parameters and MACs, activation memory with the
    live-memory peak, receptive-field growth, where the training memory goes). A spec with
    errors is refused with the same diagnostics as 'archcalc validate' (exit 1)."""
    from ...views.compare import compare_keys
    from ...views.report.build import drawings, target, write
    path, fmt = target(output)
    outs = [Output(output, example=_other(output))]
    if fmt == "markdown":                   # the plots' folder, replaced whole
        plots_at = os.path.join(os.path.dirname(output),
                                os.path.splitext(os.path.basename(output))[0] + "_files")
        outs.append(Output(plots_at, example=_other(output), folder=True,
                           role="the plots folder", beside=output))
        check_outputs(outs, specs, device_input(dev.file if dev else None))
        check_folder(plots_at, beside=output)
    else:
        check_outputs(outs, specs, device_input(dev.file if dev else None))
    entries = read_all(specs, opts)
    sections = [{"net": net, "report": rep, "weight_layers": net.weight_layers(),
                 "source": shown} for net, rep, shown in entries]
    for sec, key in zip(sections, compare_keys([(x["report"], x["weight_layers"], x["source"])
                                                for x in sections])):
        sec["title"] = key          # networks named alike get distinct titles
    roof = None
    if dev is not None:                     # archcalc/latency: a bad name before any work
        from ... import latency
        roof = latency.device(dev.name, dev.file)
        roof.peak(opts.settings.dtype)
        if not plots:
            raise error("--device adds a chart: it needs the plots", OPTIONS,
                        hint="drop --no-plots", kind="usage")
    draw: ModuleType | None = None       # the spec's own errors come first, pygal or not
    if plots:
        try:
            from ...views.report import plots as draw
        except ImportError as exc:
            raise error(str(exc), OPTIONS, hint="or leave the plots out: --no-plots",
                        kind="usage") from None
    # on a terminal, a bar over the steps: a big network's plots and drawings take seconds
    with Bar("report", len(sections) * (1 + (draw is not None)) + 1, "steps") as bar:
        for i, sec in enumerate(sections):
            if draw is not None:
                from ...latency import model
                bar.describe(f"plotting {sec['title']}")
                est = model.estimate(sec["report"], roof) if roof is not None else None
                sec["plots"] = draw.all_plots(sec["net"], sec["report"], prefix=f"n{i}-",
                                              estimate=est)
                bar.advance()
            bar.describe(f"drawing {sec['title']}")
            drawings(sec, fmt)
            bar.advance()
        bar.describe(f"writing {output}")
        folder = write(path, fmt, sections)
    names = ", ".join(sec["title"] for sec in sections)
    print(f"wrote {output}: {names}"
          + (f" (plots in {os.path.join(os.path.dirname(output), folder)})"
             if folder is not None and draw is not None else ""))
