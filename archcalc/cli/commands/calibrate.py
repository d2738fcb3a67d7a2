"""``archcalc calibrate``: measure this machine for ``archcalc estimate --device local-cpu``."""
from __future__ import annotations

import sys

import typer

from ...errors import OPTIONS, error
from ...files import Output
from ...settings import LoadOptions
from ...spec import read_one
from ..guard import print_json
from ..options import choice, command, format_option, request, whole
from ..outputs import check_outputs, stopping
from ..progress import Bar


@command
@stopping()          # SIGTERM as Ctrl-C: no partial file is left
def calibrate(
    nets: str = typer.Option(",".join(("vgg16", "resnet50", "dw-probe")), "--nets",
                             metavar="SPEC,...",
                             help="calibration networks, comma-separated: shipped names, spec "
                                  "files, or dw-probe (a small depthwise-separable stack)"),
    opts: LoadOptions = request(only=("input",)),
    iters: str = typer.Option("10", "--iters", "-n", metavar="N", help="profiled runs each"),
    warmup: str = typer.Option("3", "--warmup", metavar="N", help="untimed runs first"),
    matmul: str = typer.Option("1024", "--matmul", metavar="N",
                               help="size of the N×N matrix multiply that measures the peak"),
    copy_mib: str = typer.Option("64", "--copy-mib", metavar="MIB",
                                 help="size of the copy that measures the bandwidth"),
    threads: str | None = typer.Option(None, "--threads", metavar="N",
                                       help="onnxruntime's intra-op threads (default: its "
                                            "own choice); run --profile --threads N to match"),
    format: str = format_option(("text", "json"), "text"),
) -> None:
    """Measure this machine (peak: a matrix multiply; bandwidth: a large copy; both through
    onnxruntime on the CPU), fit per-op-kind efficiencies and a per-layer overhead to
    profiled runs of the calibration networks, and store the result as the local-cpu device
    in the config folder ($XDG_CONFIG_HOME/archcalc, else ~/.config/archcalc)."""
    from ...latency import calibrate as cal
    fmt = choice(format, ("text", "json"), "--format")
    n_iters, n_warmup = whole(iters, "--iters", 1), whole(warmup, "--warmup", 0)
    n = whole(matmul, "--matmul", 16, 8192)
    mib = whole(copy_mib, "--copy-mib", 1, 4096)
    n_threads = whole(threads, "--threads", 1, 1024)
    specs = [s.strip() for s in nets.split(",") if s.strip()]
    if not specs:
        raise error("--nets names no network", OPTIONS, hint="e.g. --nets vgg16,resnet50",
                    kind="usage")
    from ...latency.devices import local_profile_path
    check_outputs([Output(local_profile_path(), "the calibration file",
                          hint="calibrate on a copy of that spec, or set XDG_CONFIG_HOME to "
                               "keep the calibration elsewhere")],
                  [s for s in specs if s.lower() != "dw-probe"])
    loaded = []
    for s in specs:
        if s.lower() == "dw-probe":
            from dataclasses import replace
            net = read_one(cal.DW_PROBE, replace(opts, label="<dw-probe>"))
            loaded.append(net.replace(name="dw-probe"))
        else:
            loaded.append(read_one(s, opts))
    from ...views.text import terminal_width, wrap_text
    width = terminal_width()            # a terminal: lines fit it; a pipe: whole lines
    log = (lambda text: None) if fmt == "json" else \
        (lambda text: print(wrap_text(text, width, 2), flush=True))
    # on a terminal, a bar over the steps (lines printed meanwhile go above it)
    with Bar("calibrate", 2 + len(loaded), "steps",
             redirect_stdout=fmt != "json" and sys.stdout.isatty()) as bar:
        begun: list[str] = []

        def step(text: str) -> None:
            if begun:
                bar.advance()
            begun.append(text)
            bar.describe(text)
        dev, fitted = cal.calibrate(loaded, iters=n_iters, warmup=n_warmup, matmul=n,
                                    copy_mib=mib, threads=n_threads, log=log, step=step)
    path = cal.store(dev, fitted)
    if fmt == "json":
        print_json({"schema": 2, "path": path, "device": dev.to_dict(), "fit": fitted})
        return
    log("efficiency per kind: " + ", ".join(
        f"{k} {v:.2f}" + (f" (from {fitted['borrowed'][k]})" if k in fitted["borrowed"] else "")
        for k, v in dev.efficiency.items()))
    log(f"overhead per layer: {dev.overhead_us:.1f} µs")
    log(f"wrote {path}: archcalc estimate SPEC --device local-cpu uses it")
