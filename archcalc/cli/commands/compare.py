"""``archcalc compare``: totals of several networks side by side."""
from __future__ import annotations

from dataclasses import replace

import typer

from ...analysis import analyze, problems
from ...errors import OPTIONS, ArchcalcError, Diagnostic
from ...settings import LoadOptions
from ...spec import load_source, open_source
from ..options import SPECS, choice, command, format_option, request

FORMATS = ("table", "json", "markdown", "csv")


def read_all(specs: list[str], opts: LoadOptions) -> list[tuple]:
    """Every network of every SPEC (a column table gives each of its columns) with its report,
    weight layers and where it came from; every spec is checked, all their errors at once (as
    ``validate`` lists them)."""
    if specs.count("-") > 1:
        raise ArchcalcError(Diagnostic("error", "standard input (-) can be read only once",
                                       OPTIONS), "usage")
    entries, found = [], []
    for i, s in enumerate(specs, 1):
        label = f"<spec {i}>" if len(specs) > 1 else "<spec>"   # which argument a string was
        try:
            src = open_source(s, label)
            got = load_source(src, replace(opts, label=label))
            for net in (got.values() if isinstance(got, dict) else [got]):
                entries.append((net, analyze(net), src.shown))
        except ArchcalcError as exc:
            found.extend(problems(exc, errors_only=True))
    if found:
        raise ArchcalcError(found)
    return entries


@command
def compare(
    specs: list[str] = SPECS,
    opts: LoadOptions = request(exclude=("column", "convention")),
    format: str = format_option(FORMATS),
    convention: str = typer.Option(
        "torchvision", "--convention", metavar="NAMES",
        help="what the MACs count, one convention or several separated by commas "
             "(torchvision,fvcore,flopcounter,everything: each network under each, side "
             "by side); "
             "docs/definitions.md"),
) -> None:
    """Totals of several networks side by side (every column of a VGG-style table)."""
    fmt = choice(format, FORMATS, "--format")
    from ...analysis import conventions
    from ...views.compare import render_compare
    names = list(dict.fromkeys(conventions.lookup(c).key for c in convention.split(",")
                               if c.strip())) or [conventions.DEFAULT]     # each once
    entries = []
    for net, report, shown in read_all(specs, opts):
        for key in names:
            counted = conventions.under(report, key)
            if len(names) > 1:
                counted = replace(counted, name=f"{report.name} ({key})")
            entries.append((counted, net.weight_layers(), shown))
    out = render_compare(entries, fmt)
    if out is not None:
        print(out, end="")
