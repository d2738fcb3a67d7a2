"""``archcalc run``: run a network with onnxruntime (``--profile``: time per layer)."""
from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING

import typer

from ...errors import OPTIONS, SourcePos, error
from ...settings import LoadOptions
from ...spec import read_one
from ..guard import print_json
from ..options import (
    SEED,
    DeviceChoice,
    choice,
    command,
    device,
    format_option,
    request,
    spec_argument,
    whole,
)
from ..outputs import stopping

if TYPE_CHECKING:
    from ...graph import Network

RUN_WEIGHTS = ("random", "zeros")          # a light model cannot run
PROVIDERS = ("auto", "cpu", "cuda")


@command
@stopping()          # SIGTERM as Ctrl-C: the temporary model is removed
def run(
    model: str = spec_argument(" (a spec is exported to a temporary file)"),
    provider: str = typer.Option("auto", "--provider", "-p", metavar="NAME",
                                 help="auto (CUDA when it works, else CPU), cpu or cuda"),
    warmup: str = typer.Option("3", "--warmup", metavar="N", help="untimed runs first"),
    iters: str = typer.Option("20", "--iters", "-n", metavar="N", help="timed runs"),
    weights: str = typer.Option("random", "--weights", "-w", metavar="MODE",
                                help="for a spec: random or zeros"),
    seed: str = SEED,
    opts: LoadOptions = request(exclude=("dtype", "optimizer", "count_inplace", "convention")),
    profile: bool = typer.Option(False, "--profile",
                                 help="time every layer with onnxruntime's profiler, beside "
                                      "the prediction (docs/latency.md)"),
    dev: DeviceChoice | None = device("with --profile: the device to predict for (default "
                                      "local-cpu on the CPU)"),
    format: str = format_option(("text", "json"), "text", more=" (with --profile)"),
    threads: str | None = typer.Option(None, "--threads", metavar="N",
                                       help="with --profile: onnxruntime's intra-op threads"),
) -> None:
    """Run a network with onnxruntime on a random batch: output shape check, latency, throughput
    (--profile: time per layer beside the prediction)."""
    where = choice(provider, PROVIDERS, "--provider")
    warm, runs = whole(warmup, "--warmup", 0), whole(iters, "--iters", 1)
    seed_n = whole(seed, "--seed", 0)
    mode = choice(weights, RUN_WEIGHTS, "--weights")
    fmt = choice(format, ("text", "json"), "--format")
    n_threads = whole(threads, "--threads", 1, 1024)
    batch = opts.settings.batch
    if not profile and (dev is not None or fmt != "text" or n_threads is not None):
        raise error("--device, --device-file, --format and --threads go with --profile", OPTIONS,
                    hint="add --profile", kind="usage")
    if profile:
        from ... import latency
        from ...analysis import analyze
        from ...latency import devices
        from ...latency import model as roofline
        from ...latency import profile as prof
        from ...views.latency import comparison_lines
        net = read_one(model, opts)
        report = analyze(net)
        predict_on = None
        if dev is not None:                   # a bad name is said before the long part
            predict_on = latency.device(dev.name, dev.file)
            predict_on.peak("fp32")
        origin = net.origin                   # an imported model: profiled as it is
        measured = prof.profile(net, batch=batch, warmup=warm, iters=runs, provider=where,
                                seed=seed_n, threads=n_threads, weights=mode,
                                path=origin["path"] if origin else None)
        if origin:
            measured = prof.renamed(measured, origin["node_layers"])
        if predict_on is None and measured.provider == "cpu":
            predict_on = latency.device(devices.LOCAL)
        est = roofline.estimate(report, predict_on, "fp32") if predict_on is not None else None
        cmp = prof.compare(report, measured, est)
        if fmt == "json":
            print_json({"schema": 2, "name": report.name, **cmp.to_dict()})
            return
        from ...views.text import terminal_width, wrap_text
        width = terminal_width()
        print("\n".join(comparison_lines(cmp, report.name, width)))
        err = shutil.get_terminal_size().columns if sys.stderr.isatty() else None
        if predict_on is not None and measured.provider == "cpu" and \
                predict_on.key != devices.LOCAL:
            sys.stderr.write(wrap_text(f"archcalc: note: measured on this CPU, predicted for "
                                       f"{predict_on.key}: the errors compare two machines "
                                       "(--device local-cpu predicts this one)", err, 4) + "\n")
        if cmp.unmapped:
            sys.stderr.write(wrap_text(f"archcalc: warning: {len(cmp.unmapped)} profiled nodes "
                                       "map to no layer ("
                                       f"{', '.join(n.name for n in cmp.unmapped[:5])}"
                                       f"{', …' if len(cmp.unmapped) > 5 else ''}): their time "
                                       "is in the UNMAPPED row", err, 4) + "\n")
        return
    from ...exporters import runtime
    if model.lower().endswith(".onnx"):
        if not os.path.isfile(model):
            raise error(f"no such model file: {model}", SourcePos(model), kind="io")
        given = ["--" + k.replace("_", "-") for k in opts.given() if k != "input"]
        given = (["--input"] if opts.input is not None else []) + given
        given += ["--weights"] * (mode != "random") + ["--seed"] * (seed_n != 0)
        if given:
            raise error(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to a spec, "
                        f"not to an ONNX model: {model} runs as it was exported", OPTIONS,
                        hint="drop the option, or export the spec again with it", kind="usage")
        target: str | Network = model
    else:
        target = read_one(model, opts)
    result = runtime.run(target, batch=batch, warmup=warm, iters=runs, provider=where,
                         weights=mode, seed=seed_n)
    from ...views.text import terminal_width, wrap_text
    width = terminal_width()                # a terminal: values broken under their column
    print("\n".join(wrap_text(line, width, 12) for line in result.lines()))
