"""``archcalc fit``: the largest value of one parameter within budgets."""
from __future__ import annotations

import typer

from ...analysis.figures import under
from ...design import fit as ft
from ...design.budgets import parse_budgets
from ...design.parameters import Design
from ...errors import OPTIONS, ArchcalcError, Diagnostic
from ...settings import LoadOptions
from ..guard import Finding, print_json
from ..options import SPEC, choice, command, format_option, request

FORMATS = ("table", "json")


@command
def fit(
    spec: str = SPEC,
    budget: list[str] = typer.Option(..., "--budget", metavar="NAME=AMOUNT", show_default=False,
                                     help="a limit (repeatable), e.g. training=24GiB, "
                                          "peak=1GiB, params=5M, macs=600M"),
    maximize: str = typer.Option(..., "--maximize", metavar="PARAM", show_default=False,
                                 help="batch, res or a numeric parameter the spec declares"),
    step: str | None = typer.Option(None, "--step", metavar="X",
                                    help="the grid of values tried (default 1 for whole "
                                         "numbers, 0.01 otherwise)"),
    least: str | None = typer.Option(None, "--min", metavar="X",
                                     help="the least value tried (default: one step)"),
    most: str | None = typer.Option(None, "--max", metavar="X",
                                    help="the largest value tried"),
    opts: LoadOptions = request(),
    format: str = format_option(FORMATS),
) -> None:
    """The largest value of one parameter (--maximize batch, res, width, …) for which the
    network stays within every --budget, by search over the analyzer, with the figures at the
    answer and one step past it. Exit 1 when nothing fits."""
    fmt = choice(format, FORMATS, "--format")
    limits = parse_budgets(budget)
    design = Design(spec, opts)
    q = ft.question(design, maximize, step, least, most)
    result = ft.fit(design, limits, q)
    from ...views import design as views
    name, settings = q.network, opts.settings
    if fmt == "json":
        print_json(views.fit_document(result, limits, name, settings, q.rule_note))
    else:
        from ...views.text import terminal_width
        print(views.fit_text(result, limits, name, settings, q.rule_note, terminal_width()),
              end="")
    if result.answer is None:
        if fmt == "json":
            raise Finding()
        low = result.lowest
        why = ("; ".join(f"{under(b.figure.what, b.figure.key, settings.convention)} "
                         f"{b.show(v)} > {b.text}" for b, v in low.over)
               if low.status == "over" else low.message)
        raise ArchcalcError(Diagnostic(
            "error", f"nothing fits: at the least value, {q.name} = {low.value}, {why}", OPTIONS,
            "raise the budget, lower --min, or lower the other settings (--dtype, --batch, "
            "--set …)"))
