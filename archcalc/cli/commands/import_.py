"""``archcalc import MODEL.onnx [-o spec.yaml]``: an ONNX model as a YAML spec. The spec is read
back and analyzed before it is written: a file is written only when it gives the model's own
report."""
from __future__ import annotations

import os
import sys

import typer

from ...errors import OPTIONS, error
from ...files import writable_output, write_atomic
from ...settings import LoadOptions
from ..options import command, output_option, request


@command
def import_(
    model: str = typer.Argument(..., metavar="MODEL.onnx", show_default=False,
                                help="an ONNX model (weights inline or in external files)"),
    output: str = output_option("the YAML spec to write (default: standard output)",
                                required=False, default="-"),
    opts: LoadOptions = request(only=("input", "unknown")),
) -> None:
    """Read an ONNX model and write it as a YAML spec (flat: blocks are not recovered)."""
    from ...exporters.yaml import imported
    from ...onnx_import import load_onnx
    if not model.lower().endswith(".onnx"):
        raise error(f"{model} is not an .onnx file", OPTIONS, kind="usage",
                    hint="archcalc import reads ONNX models; a spec is already a spec")
    if output != "-":
        writable_output(output, "model.yaml", "the spec")
    if output != "-" and os.path.splitext(output)[1].lower() not in (".yaml", ".yml"):
        raise error(f"--output {output}: the spec is YAML, so the file should end in .yaml",
                    OPTIONS, hint=f"e.g. -o {os.path.splitext(output)[0]}.yaml", kind="usage")
    net = load_onnx(model, opts.input, unknown=opts.unknown)
    text, report = imported(net, os.path.basename(model), output)
    if output == "-":
        sys.stdout.write(text)
        return
    write_atomic(output, text)
    t = report.totals
    sys.stderr.write(f"wrote {output}: {net.name}, {len(net.layers) - 1} layers, "
                     f"{t.params:,} parameters, {t.macs:,} MACs\n")
