"""The ``archcalc export`` and ``archcalc run`` commands, registered by archcalc's CLI:

    app.command("export")(export_cmd)
    app.command("run")(run_cmd)

onnx and onnxruntime are imported inside the command bodies only.
"""
import os
from typing import List, Optional

import typer

from archcalc.cli_common import (COLUMN, DOUBLE, FILTERS, INPUT, LIMIT, ROUNDING, SET, SPEC,
                                 choice, guarded, load_one, settings_of, whole)
from archcalc.errors import OPTIONS, SourcePos, error
from archcalc.views import human_bytes

SEED = typer.Option("0", "--seed", metavar="N", help="seed of the random weights")
EXPORT_WEIGHTS = ("random", "zeros", "none", "light")
RUN_WEIGHTS = ("random", "zeros")          # a light model cannot run
PROVIDERS = ("auto", "cpu", "cuda")


@guarded
def export_cmd(
    spec_arg: str = SPEC,
    output: str = typer.Option(..., "--output", "-o", metavar="PATH", show_default=False,
                               help="the .onnx file to write"),
    weights: str = typer.Option("random", "--weights", "-w", metavar="MODE",
                                help="random (seeded Kaiming-uniform), zeros, or none/light "
                                     "(structure only: weights become graph inputs)"),
    seed: str = SEED,
    opset: Optional[str] = typer.Option(None, "--opset", metavar="N",
                                        help="ONNX opset (default 17, which TensorRT and OpenVINO "
                                             "also load; at most the newest that the installed "
                                             "onnx and onnxruntime both run)"),
    external_data: Optional[bool] = typer.Option(
        None, "--external-data/--no-external-data",
        help="weights in OUTPUT.data beside the model (default: only past 2 GiB)"),
    input: Optional[str] = INPUT,
    filters: Optional[str] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    column: Optional[str] = COLUMN,
    set_: Optional[List[str]] = SET,
):
    """Compile a network to an ONNX file, checked against the analyzer."""
    import archcalc
    from . import onnx as onnx_export
    weights = choice(weights, EXPORT_WEIGHTS, "--weights")
    seed = whole(seed, "--seed", 0)
    opset = onnx_export.check_opset(whole(opset, "--opset", 0,
                                          example=onnx_export.DEFAULT_OPSET))
    if output == "-":
        raise error("an ONNX model is written to a file, not to standard output", OPTIONS,
                    hint="give a file path: -o model.onnx", exit_code=2)
    if external_data and weights in ("none", "light"):
        raise error("a light model has no weights to put in external data", OPTIONS,
                    hint="drop --external-data, or export with --weights random or zeros",
                    exit_code=2)
    net = load_one(spec_arg, input, filters, double_after_pool, rounding, column,
                   settings=settings_of(set_))
    path = onnx_export.export(net, output, weights, seed, opset, external_data=external_data)
    report = archcalc.analyze(net)
    size = os.path.getsize(path)
    external = weights not in ("none", "light") and (
        external_data if external_data is not None
        else report.totals.param_bytes > onnx_export.EXTERNAL_DATA_THRESHOLD)
    extra = f" + {path}.data ({human_bytes(os.path.getsize(path + '.data'))})" if external else ""
    mode = {"random": f"random weights (seed {seed})", "zeros": "zero weights",
            "none": "light: no weights", "light": "light: no weights"}[weights]
    t = report.totals
    shapes = sum(1 for row in report.layers if not row.train_only)
    left = [row.name for row in report.layers if row.train_only]
    print(f"wrote {path} ({human_bytes(size)}){extra}: {net.name}, "
          f"{t.params - t.train_only_params:,} parameters, {mode}, opset {opset}; checked "
          f"against the analyzer ({shapes} layer shapes and the parameter count)"
          + (f"; the {len(left)} training-only layers ({left[0]} …, {t.train_only_params:,} "
             "parameters) are not exported" if left else ""))


@guarded
def run_cmd(
    model: str = typer.Argument(..., metavar="SPEC-or-MODEL.onnx", show_default=False,
                                help="an .onnx file, or a spec (exported to a temporary file)"),
    provider: str = typer.Option("auto", "--provider", "-p", metavar="NAME",
                                 help="auto (CUDA when it works, else CPU), cpu or cuda"),
    batch: str = typer.Option("1", "--batch", "-b", metavar="N", help="images per run"),
    warmup: str = typer.Option("3", "--warmup", metavar="N", help="untimed runs first"),
    iters: str = typer.Option("20", "--iters", "-n", metavar="N", help="timed runs"),
    weights: str = typer.Option("random", "--weights", "-w", metavar="MODE",
                                help="for a spec: random or zeros"),
    seed: str = SEED,
    input: Optional[str] = INPUT,
    filters: Optional[str] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    column: Optional[str] = COLUMN,
):
    """Run a network with onnxruntime on a random batch: output shape check, latency, throughput."""
    provider = choice(provider, PROVIDERS, "--provider")
    batch, warmup = whole(batch, "--batch", 1, LIMIT), whole(warmup, "--warmup", 0)
    iters, seed = whole(iters, "--iters", 1), whole(seed, "--seed", 0)
    weights = choice(weights, RUN_WEIGHTS, "--weights")
    from . import runtime
    if model.lower().endswith(".onnx"):
        if not os.path.isfile(model):
            raise error(f"no such model file: {model}", SourcePos(model), exit_code=2)
        given = [o for o, v in (("--input", input), ("--filters", filters),
                                ("--double-after-pool", double_after_pool),
                                ("--rounding", rounding), ("--column", column)) if v is not None]
        given += ["--weights"] * (weights != "random") + ["--seed"] * (seed != 0)
        if given:
            raise error(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to a spec, "
                        f"not to an ONNX model: {model} runs as it was exported", OPTIONS,
                        hint="drop the option, or export the spec again with it", exit_code=2)
        target = model
    else:
        target = load_one(model, input, filters, double_after_pool, rounding, column)
    result = runtime.run(target, batch=batch, warmup=warmup, iters=iters,
                         provider=provider, weights=weights, seed=seed)
    print("\n".join(result.lines()))
