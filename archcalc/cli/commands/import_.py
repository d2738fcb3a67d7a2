"""``archcalc import MODEL.onnx [-o spec.yaml]``: an ONNX model as a YAML spec. The spec is read
back and analyzed before it is written: a file is written only when it gives the model's own
report."""
from __future__ import annotations

import os
import sys

import typer

from ...errors import OPTIONS, error
from ...files import Output, writable_output, write_atomic
from ...settings import LoadOptions
from ..options import command, output_option, request
from ..outputs import check_outputs, stopping, suffix


@command
@stopping()          # SIGTERM as Ctrl-C: no partial file is left
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
        stem = os.path.splitext(os.path.basename(output))[0]
        check_outputs([Output(output, example=f"{stem}-spec.yaml")], [model])
        writable_output(output, "model.yaml", "the spec")
        # archcalc reads a file as YAML by its suffix: another one would read as shorthand
        suffix(output, "the YAML spec", (".yaml", ".yml"), unknown="refuse")
    net = load_onnx(model, opts.input, unknown=opts.unknown)
    text, report = imported(net, os.path.basename(model), output)
    if output == "-":
        sys.stdout.write(text)
        return
    write_atomic(output, text)
    t = report.totals
    sys.stderr.write(f"wrote {output}: {net.name}, {len(net.layers) - 1} layers, "
                     f"{t.params:,} parameters, {t.macs:,} MACs\n")
