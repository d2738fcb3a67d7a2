"""The ``archcalc`` command: a thin skin over the library. Options are parsed here, the work is
done by ``archcalc.spec``, ``archcalc.analysis`` and ``archcalc.views``.

Exit codes: 0 success, 1 a problem in the spec, 2 bad usage or an unreadable file,
3 an internal error (a bug: please report it), 130 interrupted.
"""
from __future__ import annotations

import sys
from enum import Enum
from typing import List, Optional

import typer

from . import analysis, views
from .cli_common import (BATCH, COLUMN, DOUBLE, DTYPE, FILTERS, INPLACE, INPUT, OPTIMIZER,
                         ROUNDING, SPEC, Fmt, guarded, load_one, load_spec)

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
                  help="archcalc: shapes, parameters, MACs, memory and receptive fields of a CNN "
                       "from a spec.")


@app.command()
@guarded
def summary(
    spec_arg: str = SPEC,
    input: Optional[str] = INPUT,
    filters: Optional[int] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    column: Optional[str] = COLUMN,
    format: Fmt = typer.Option(Fmt.table, "--format", "-F", help="table, json, markdown or csv"),
    dtype: str = DTYPE,
    batch: int = BATCH,
    count_inplace: bool = INPLACE,
    optimizer: str = OPTIMIZER,
    depth: Optional[int] = typer.Option(None, "--depth", "-d", min=0,
                                        help="fold block instances nested deeper than this"),
):
    """Per-layer and total figures of a network."""
    net = load_one(spec_arg, input, filters, double_after_pool, rounding, column)
    report = analysis.analyze(net, dtype=dtype, batch=batch, count_inplace=count_inplace,
                              optimizer=optimizer)
    if format == Fmt.table:
        views.render_table(report, depth)
    elif format == Fmt.json:
        print(views.render_json(report))
    elif format == Fmt.markdown:
        print(views.render_markdown(report, depth), end="")
    else:
        print(views.render_csv(report, depth), end="")


@app.command()
@guarded
def compare(
    specs: List[str] = typer.Argument(..., metavar="SPEC...",
                                      help="spec files or strings; a column table adds every column"),
    input: Optional[str] = INPUT,
    filters: Optional[int] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    format: Fmt = typer.Option(Fmt.table, "--format", "-F"),
    dtype: str = DTYPE,
    batch: int = BATCH,
):
    """Totals of several networks side by side (every column of a VGG-style table)."""
    nets = []
    for s in specs:
        got = load_spec(s, input, filters, double_after_pool, rounding, None)
        nets += list(got.values()) if isinstance(got, dict) else [got]
    reports = [(analysis.analyze(n, dtype=dtype, batch=batch), n.weight_layers()) for n in nets]
    out = views.render_compare(reports, format.value)
    if out is not None:
        print(out, end="")


class Report(str, Enum):
    text = "text"
    json = "json"


@app.command()
@guarded
def validate(
    spec_arg: str = SPEC,
    input: Optional[str] = INPUT,
    filters: Optional[int] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    column: Optional[str] = COLUMN,
    format: Report = typer.Option(Report.text, "--format", "-F", help="text or json"),
    strict: bool = typer.Option(False, "--strict", help="exit 1 on warnings too"),
):
    """Every problem in a spec at once: errors and warnings, each with its place and a hint.

    Exit codes: 0 no errors (warnings allowed unless --strict), 1 problems in the spec,
    2 bad usage or an unreadable file."""
    got = load_spec(spec_arg, input, filters, double_after_pool, rounding, column)
    nets = list(got.values()) if isinstance(got, dict) else [got]
    diags = [d for net in nets for d in analysis.diagnose(net)]
    errors = sum(d.severity == "error" for d in diags)
    warnings = len(diags) - errors
    if format == Report.json:
        import json
        print(json.dumps({"errors": errors, "warnings": warnings,
                          "diagnostics": [d.to_dict() for d in diags]}, indent=2))
    else:
        for d in diags:
            print(d.render(), file=sys.stderr if d.severity == "error" else sys.stdout)
        names = ", ".join(n.name for n in nets)
        print(f"{names}: {errors} error{'s' * (errors != 1)}, "
              f"{warnings} warning{'s' * (warnings != 1)}")
    if errors or (strict and warnings):
        raise typer.Exit(1)


# export and run live in the exporters package (the only place onnx and onnxruntime are used,
# and only inside those commands' bodies)
from archcalc.exporters.commands import export_cmd, run_cmd  # noqa: E402

app.command("export")(export_cmd)
app.command("run")(run_cmd)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
