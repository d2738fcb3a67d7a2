"""``archcalc import MODEL.onnx [-o spec.yaml]``: an ONNX model as a YAML spec (archcalc.cli
registers it). The spec is read back and analyzed before it is written: a file is written only
when it gives the model's own report."""
from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from .. import cli_common
from ..cli_common import INPUT, UNKNOWN, choice, guarded, writable_output, write_atomic
from ..errors import OPTIONS, error


@guarded
def import_cmd(
    model: str = typer.Argument(..., metavar="MODEL.onnx", show_default=False,
                                help="an ONNX model (weights inline or in external files)"),
    output: str = typer.Option("-", "--output", "-o", metavar="FILE",
                               help="the YAML spec to write (default: standard output)"),
    input: Optional[str] = INPUT,
    unknown: Optional[str] = UNKNOWN,
):
    """Read an ONNX model and write it as a YAML spec (flat: blocks are not recovered)."""
    from .. import analysis
    from ..spec import parse
    from ..spec.yaml_writer import to_yaml
    from . import load_onnx
    if not model.lower().endswith(".onnx"):
        raise error(f"{model} is not an .onnx file", OPTIONS, exit_code=2,
                    hint="archcalc import reads ONNX models; a spec is already a spec")
    if output != "-":
        writable_output(output, "model.yaml", "the spec")
    if output != "-" and os.path.splitext(output)[1].lower() not in (".yaml", ".yml"):
        raise error(f"--output {output}: the spec is YAML, so the file should end in .yaml",
                    OPTIONS, hint=f"e.g. -o {os.path.splitext(output)[0]}.yaml", exit_code=2)
    net = load_onnx(model, input, unknown=choice(cli_common.onnx_unknown, ("error", "passthrough"),
                                                  "--unknown"))
    report = analysis.analyze(net)
    header = (f"imported from {os.path.basename(model)} by archcalc import"
              + (f" (ONNX opset {net.onnx['opset']}, written by {net.onnx['producer']})"
                 if net.onnx.get("producer") else f" (ONNX opset {net.onnx['opset']})"))
    text = to_yaml(net, header)
    again = analysis.analyze(parse(text, language="yaml", file=output))
    if _figures(again) != _figures(report):             # a bug: never write a wrong spec
        raise RuntimeError("the written spec does not give the model's report: "
                           f"{_figures(again)} against {_figures(report)}")
    if output == "-":
        sys.stdout.write(text)
        return
    write_atomic(output, text)
    t = report.totals
    sys.stderr.write(f"wrote {output}: {net.name}, {len(net.layers) - 1} layers, "
                     f"{t.params:,} parameters, {t.macs:,} MACs\n")


def _figures(report) -> tuple:
    t = report.totals
    rows = tuple((r.name, r.output, r.params, r.macs, r.activations, r.rf) for r in report.layers)
    return (t.params, t.buffers, t.macs, t.activations, t.peak_bytes, rows)


__all__ = ["import_cmd"]
