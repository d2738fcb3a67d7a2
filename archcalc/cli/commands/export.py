"""``archcalc export``: compile a network to an ONNX file, or to PyTorch source (``-o
model.py``); onnx and torch are imported in the body only."""
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
    output: str = output_option("the .onnx file to write, or a .py file for PyTorch source"),
    weights: str = typer.Option("random", "--weights", "-w", metavar="MODE",
                                help="random (seeded Kaiming-uniform), zeros, or none/light "
                                     "(structure only: weights become graph inputs; for .py, "
                                     "no .pt file)"),
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
    """Compile a network to an ONNX file, checked against the analyzer, or to PyTorch source
    (-o model.py: one nn.Module class per block, the weights beside it as model.pt)."""
    mode = choice(weights, WEIGHTS, "--weights")
    seed_n = whole(seed, "--seed", 0)
    if output.lower().endswith(".py"):
        _python(spec, output, mode, seed_n, opset, external_data, opts)
        return
    from ...analysis import analyze
    from ...exporters import onnx as onnx_export
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


def _python(spec: str, output: str, mode: str, seed: int, opset: str | None,
            external_data: bool | None, opts: LoadOptions) -> None:
    """``-o model.py``: the network's PyTorch source and, unless ``--weights none``, its
    state_dict beside it (``model.pt``), the values the ONNX export with this seed holds."""
    from ...analysis import analyze
    from ...exporters import torch_source
    for given, option in ((opset, "--opset"), (external_data, "--external-data")):
        if given is not None:
            raise error(f"{option} is an ONNX option: a .py output is PyTorch source", OPTIONS,
                        hint=f"drop {option}, or write an ONNX model: -o "
                             f"{os.path.splitext(output)[0]}.onnx", kind="usage")
    light = mode in ("none", "light")
    pt = torch_source.weights_path(output)
    example = os.path.splitext(os.path.basename(output))[0] + "-export.py"
    check_outputs([Output(output, example=example),
                   *([] if light else [Output(pt, example=example, role="the weights file",
                                              beside=output)])], [spec])
    if not light:
        try:
            import torch  # noqa: F401  (only to say early that it is missing)
        except ImportError:
            raise error("the weights beside the source (model.pt) are written by PyTorch, "
                        "which is not installed", OPTIONS,
                        hint="--weights none writes the source alone", kind="usage") from None
    net = read_one(spec, opts)
    written = torch_source.export(net, output, "none" if light else mode, seed)
    t = analyze(net).totals
    with open(written[0], encoding="utf-8") as fh:
        lines = sum(1 for _ in fh)
    shown = {"random": f"random weights (seed {seed})", "zeros": "zero weights"}
    weights_note = (f" + {written[1]} ({human_bytes(os.path.getsize(written[1]))}, "
                    f"{shown[mode]})" if len(written) > 1 else " (no weights: --weights none)")
    print(f"wrote {written[0]} ({lines:,} lines of PyTorch){weights_note}: {net.name}, "
          f"{t.params:,} parameters")
