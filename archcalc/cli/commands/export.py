"""``archcalc export``: compile a network to an ONNX file (onnx imported in the body only)."""
from __future__ import annotations

import os

import typer

from ...errors import OPTIONS, error
from ...files import Output
from ...settings import LoadOptions
from ...spec import read_one
from ...units import human_bytes
from ..options import SEED, SPEC, choice, command, output_option, request, whole
from ..outputs import check_outputs, stopping, suffix

WEIGHTS = ("random", "zeros", "none", "light")


@command
@stopping()          # SIGTERM as Ctrl-C: no partial file is left
def export(
    spec: str = SPEC,
    output: str = output_option("the .onnx file to write"),
    weights: str = typer.Option("random", "--weights", "-w", metavar="MODE",
                                help="random (seeded Kaiming-uniform), zeros, or none/light "
                                     "(structure only: weights become graph inputs)"),
    seed: str = SEED,
    opset: str | None = typer.Option(None, "--opset", metavar="N",
                                     help="ONNX opset (default 17, which TensorRT and OpenVINO "
                                          "also load; at most the newest that the installed "
                                          "onnx and onnxruntime both run)"),
    external_data: bool | None = typer.Option(
        None, "--external-data/--no-external-data",
        help="weights in OUTPUT.data beside the model (default: only past 2 GiB)"),
    opts: LoadOptions = request(exclude=("dtype", "batch", "optimizer", "count_inplace",
                                               "convention")),
) -> None:
    """Compile a network to an ONNX file, checked against the analyzer."""
    from ...analysis import analyze
    from ...exporters import onnx as onnx_export
    mode = choice(weights, WEIGHTS, "--weights")
    seed_n = whole(seed, "--seed", 0)
    version = onnx_export.check_opset(whole(opset, "--opset", 0,
                                            example=str(onnx_export.DEFAULT_OPSET)))
    if output == "-":
        raise error("an ONNX model is written to a file, not to standard output", OPTIONS,
                    hint="give a file path: -o model.onnx", kind="usage")
    example = os.path.splitext(os.path.basename(output))[0] + "-export.onnx"
    light = mode in ("none", "light")
    check_outputs([Output(output, example=example),
                   *([] if light else [Output(output + ".data", example=example,
                                              role="the weights file", beside=output)])],
                  [spec])
    suffix(output, "an ONNX model", (".onnx",),
           hint="archcalc and most tools know a model by its .onnx suffix")
    if external_data and mode in ("none", "light"):
        raise error("a light model has no weights to put in external data", OPTIONS,
                    hint="drop --external-data, or export with --weights random or zeros",
                    kind="usage")
    net = read_one(spec, opts)
    path = onnx_export.export(net, output, mode, seed_n, version, external_data=external_data)
    report = analyze(net)
    size = os.path.getsize(path)
    external = mode not in ("none", "light") and (
        external_data if external_data is not None
        else report.totals.param_bytes > onnx_export.EXTERNAL_DATA_THRESHOLD)
    extra = f" + {path}.data ({human_bytes(os.path.getsize(path + '.data'))})" if external else ""
    shown = {"random": f"random weights (seed {seed_n})", "zeros": "zero weights",
             "none": "light: no weights", "light": "light: no weights"}[mode]
    t = report.totals
    shapes = sum(1 for row in report.layers if not row.train_only)
    left = [row.name for row in report.layers if row.train_only]
    print(f"wrote {path} ({human_bytes(size)}){extra}: {net.name}, "
          f"{t.params - t.train_only_params:,} parameters, {shown}, opset {version}; checked "
          f"against the analyzer ({shapes} layer shapes and the parameter count)"
          + (f"; the {len(left)} training-only layers ({left[0]} …, {t.train_only_params:,} "
             "parameters) are not exported" if left else ""))
