"""The ``archcalc export`` and ``archcalc run`` commands, registered by archcalc's CLI:

    app.command("export")(export_cmd)
    app.command("run")(run_cmd)

onnx and onnxruntime are imported inside the command bodies only.
"""
from __future__ import annotations

import os
from enum import Enum
from typing import Optional

import typer

from archcalc.cli_common import (COLUMN, DOUBLE, FILTERS, INPUT, ROUNDING, SPEC, guarded,
                                 load_one)
from archcalc.errors import OPTIONS, SourcePos, error
from archcalc.views import human_bytes

SEED = typer.Option(0, "--seed", min=0, help="seed of the random weights")


class Weights(str, Enum):
    random = "random"
    zeros = "zeros"
    none = "none"
    light = "light"


class Provider(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


@guarded
def export_cmd(
    spec_arg: str = SPEC,
    output: str = typer.Option(..., "--output", "-o", help="the .onnx file to write"),
    weights: Weights = typer.Option(Weights.random, "--weights", "-w",
                                    help="random (seeded Kaiming-uniform), zeros, or none/light "
                                         "(structure only: weights become graph inputs)"),
    seed: int = SEED,
    opset: Optional[int] = typer.Option(None, "--opset", min=13,
                                        help="ONNX opset (default: the newest that the installed "
                                             "onnx and onnxruntime both support)"),
    external_data: Optional[bool] = typer.Option(
        None, "--external-data/--no-external-data",
        help="weights in OUTPUT.data beside the model (default: only past 2 GiB)"),
    input: Optional[str] = INPUT,
    filters: Optional[int] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    column: Optional[str] = COLUMN,
):
    """Compile a network to an ONNX file, checked against the analyzer."""
    import archcalc
    from . import onnx as onnx_export
    net = load_one(spec_arg, input, filters, double_after_pool, rounding, column)
    if external_data and weights.value in ("none", "light"):
        raise error("a light model has no weights to put in external data", OPTIONS, exit_code=2)
    path = onnx_export.export(net, output, weights.value, seed, opset,
                              external_data=external_data)
    report = archcalc.analyze(net)
    size = os.path.getsize(path)
    external = weights.value not in ("none", "light") and (
        external_data if external_data is not None
        else report.totals.param_bytes > onnx_export.EXTERNAL_DATA_THRESHOLD)
    extra = f" + {path}.data ({human_bytes(os.path.getsize(path + '.data'))})" if external else ""
    mode = {"random": f"random weights (seed {seed})", "zeros": "zero weights",
            "none": "light: no weights", "light": "light: no weights"}[weights.value]
    print(f"wrote {path} ({human_bytes(size)}){extra}: {net.name}, {report.totals.params:,} parameters, "
          f"{mode}, opset {opset or onnx_export.default_opset()}; checked against the analyzer "
          f"({len(report.layers)} layer shapes and the parameter count)")


@guarded
def run_cmd(
    model: str = typer.Argument(..., metavar="SPEC-or-MODEL.onnx",
                                help="an .onnx file, or a spec (exported to a temporary file)"),
    provider: Provider = typer.Option(Provider.auto, "--provider", "-p",
                                      help="auto (CUDA when it works, else CPU), cpu or cuda"),
    batch: int = typer.Option(1, "--batch", "-b", min=1, help="images per run"),
    warmup: int = typer.Option(3, "--warmup", min=0, help="untimed runs first"),
    iters: int = typer.Option(20, "--iters", "-n", min=1, help="timed runs"),
    weights: Weights = typer.Option(Weights.random, "--weights", "-w",
                                    help="for a spec: random or zeros"),
    seed: int = SEED,
    input: Optional[str] = INPUT,
    filters: Optional[int] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    column: Optional[str] = COLUMN,
):
    """Run a network with onnxruntime on a random batch: output shape check, latency, throughput."""
    from . import runtime
    if model.lower().endswith(".onnx"):
        if not os.path.isfile(model):
            raise error(f"no such model file: {model}", SourcePos(model), exit_code=2)
        target = model
    else:
        target = load_one(model, input, filters, double_after_pool, rounding, column)
    result = runtime.run(target, batch=batch, warmup=warmup, iters=iters,
                         provider=provider.value, weights=weights.value, seed=seed)
    print("\n".join(result.lines()))
