"""The ``archcalc diff`` command (archcalc.cli registers it)."""
from __future__ import annotations

from typing import List, Optional

from . import diff
from .gates import GATE_GRAMMAR, check_gates, parse_gate
from .views import render_json, render_markdown, render_rich, render_text

# ---------------------------------------------------------------------------------------------
# the command (archcalc.cli registers it; built on demand, so that importing this module for
# the data does not import typer)

def command():
    """The ``archcalc diff`` command function, for ``archcalc.cli.build_app``."""
    import sys

    import typer

    from .. import analysis
    from ..cli_common import (BATCH, DEPTH, DOUBLE, DTYPE, FILTERS, INPLACE, INPUT, OPTIMIZER,
                              ROUNDING, SET, STDIN, analysis_options, choice, guarded,
                              load_one, settings_of, spec_problems, whole)
    from ..errors import OPTIONS, ArchcalcError, Diagnostic

    @guarded
    def diff_cmd(
        a: str = typer.Argument(..., metavar="A", show_default=False,
                                help="the network before: any SPEC (file, shipped name, "
                                     "string, -)"),
        b: str = typer.Argument(..., metavar="B", show_default=False,
                                help="the network after: any SPEC"),
        input: Optional[str] = INPUT,
        filters: Optional[str] = FILTERS,
        double_after_pool: Optional[bool] = DOUBLE,
        rounding: Optional[str] = ROUNDING,
        column: Optional[List[str]] = typer.Option(
            None, "--column", "-c", metavar="NAME", help="for a column table: the network to "
            "use; given twice, the first is A's and the second B's"),
        format: str = typer.Option("table", "--format", "-F", metavar="FORMAT",
                                   help="table, json or markdown"),
        dtype: str = DTYPE,
        batch: str = BATCH,
        count_inplace: bool = INPLACE,
        optimizer: str = OPTIMIZER,
        depth: Optional[str] = DEPTH,
        fail_on: Optional[List[str]] = typer.Option(
            None, "--fail-on", metavar="GATE", help="exit 1 when a total changes past a limit, "
            "e.g. params>+5%, macs>+1G, peak>=+10Mi, rf<-10% (repeatable)"),
        set_: Optional[List[str]] = SET,
    ):
        """What changed from A to B: the totals' deltas, then each layer added, removed or
        changed (attribute by attribute, figures before → after). Exit 0 whether or not they
        differ; 1 when a --fail-on gate trips or a spec has errors."""
        fmt = choice(format, ("table", "json", "markdown"), "--format")
        options = analysis_options(dtype, batch, optimizer)
        depth = whole(depth, "--depth", 0)
        columns = list(column or [])
        if len(columns) > 2:
            raise ArchcalcError(Diagnostic(
                "error", f"--column given {len(columns)} times", OPTIONS,
                hint="once for both specs, or twice: A's then B's"), 2)
        gates = []
        for g in fail_on or []:
            try:
                gates.append(parse_gate(g))
            except ValueError as exc:
                raise ArchcalcError(Diagnostic("error", f"--fail-on: {exc}", OPTIONS,
                                               hint=GATE_GRAMMAR), 2) from None
        if a == "-" and b == "-":
            raise ArchcalcError(Diagnostic("error", "standard input (-) can be read only once",
                                           OPTIONS), exit_code=2)
        got, problems = [], []
        for k, s in enumerate((a, b)):      # both specs are checked: all their errors at once
            col = columns[min(k, len(columns) - 1)] if columns else None
            try:
                net = load_one(s, input, filters, double_after_pool, rounding, col,
                               label=f"<spec {'AB'[k]}>", settings=settings_of(set_))
                got.append((net, analysis.analyze(net, count_inplace=count_inplace,
                                                  **{**options, **net.analysis})))
            except ArchcalcError as exc:
                problems.extend(spec_problems(exc, errors_only=True))   # as validate lists them
        if problems:
            raise ArchcalcError(problems)
        (net_a, rep_a), (net_b, rep_b) = got
        result = diff(rep_a, rep_b, net_a, net_b, depth=depth,
                      sources=tuple(STDIN if s == "-" else s for s in (a, b)))
        checked = check_gates(result, gates)
        if fmt == "json":
            print(render_json(result, checked))
        elif fmt == "markdown":
            print(render_markdown(result, checked), end="")
        elif sys.stdout.isatty():
            render_rich(result, checked)
        else:
            print(render_text(result, checked), end="")
        tripped = [g for g in checked if g.tripped]
        if tripped:
            if fmt != "table":          # the table shows them; elsewhere stderr says why
                for g in tripped:
                    sys.stderr.write(f"<options>: error: --fail-on {g.message}\n")
            raise typer.Exit(1)

    return diff_cmd
