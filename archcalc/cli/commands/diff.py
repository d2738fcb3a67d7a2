"""``archcalc diff``: what changed from one network to another."""
from __future__ import annotations

import sys
from dataclasses import replace

import typer

from ...analysis import analyze, problems
from ...errors import OPTIONS, ArchcalcError, Diagnostic, error
from ...settings import LoadOptions
from ...spec import load_source, one, open_source
from ..guard import Finding
from ..options import DEPTH, choice, command, format_option, request, whole

FORMATS = ("table", "json", "markdown")


@command
def diff(
    a: str = typer.Argument(..., metavar="A", show_default=False,
                            help="the network before: any SPEC (file, shipped name, string, -)"),
    b: str = typer.Argument(..., metavar="B", show_default=False,
                            help="the network after: any SPEC"),
    opts: LoadOptions = request(exclude=("column",)),
    column: list[str] | None = typer.Option(
        None, "--column", "-c", metavar="NAME", help="for a column table: the network to "
        "use; given twice, the first is A's and the second B's"),
    format: str = format_option(FORMATS),
    depth: str | None = DEPTH,
    fail_on: list[str] | None = typer.Option(
        None, "--fail-on", metavar="GATE", help="exit 1 when a total changes past a limit, "
        "e.g. params>+5%, macs>+1G, peak>=+10MiB, training>+1GiB, rf<-10% (repeatable)"),
) -> None:
    """What changed from A to B: the totals' deltas, then each layer added, removed or
    changed (attribute by attribute, figures before → after). Exit 0 whether or not they
    differ; 1 when a --fail-on gate trips or a spec has errors."""
    fmt = choice(format, FORMATS, "--format")
    fold = whole(depth, "--depth", 0)
    columns = list(column or [])
    if len(columns) > 2:
        raise error(f"--column given {len(columns)} times", OPTIONS, kind="usage",
                    hint="once for both specs, or twice: A's then B's")
    from ...diff import diff as compute
    from ...diff.gates import check_gates, parse_gate
    gates = [parse_gate(g) for g in fail_on or []]
    if a == "-" and b == "-":
        raise ArchcalcError(Diagnostic("error", "standard input (-) can be read only once",
                                       OPTIONS), "usage")
    got, found = [], []
    for k, s in enumerate((a, b)):      # both specs are checked: all their errors at once
        col = columns[min(k, len(columns) - 1)] if columns else None
        label = f"<spec {'AB'[k]}>"
        try:
            src = open_source(s, label)
            net = one(load_source(src, replace(opts, column=col, label=label)), s)
            got.append((net, analyze(net), src.shown))
        except ArchcalcError as exc:
            found.extend(problems(exc, errors_only=True))   # as validate lists them
    if found:
        raise ArchcalcError(found)
    (net_a, rep_a, shown_a), (net_b, rep_b, shown_b) = got
    result = compute(rep_a, rep_b, net_a, net_b, depth=fold, sources=(shown_a, shown_b))
    checked = check_gates(result, gates)
    from ...views import diff as views
    if fmt == "json":
        print(views.render_json(result, checked))
    elif fmt == "markdown":
        print(views.render_markdown(result, checked), end="")
    elif sys.stdout.isatty():
        views.render_rich(result, checked)
    else:
        print(views.render_text(result, checked), end="")
    tripped = [g for g in checked if g.tripped]
    if tripped:                 # the table shows them; elsewhere standard error says why
        raise Finding([] if fmt == "table" else
                      [f"archcalc: gate tripped: --fail-on {g.message}" for g in tripped])
