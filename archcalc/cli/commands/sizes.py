"""``archcalc sizes``: the valid input sizes of a network and the rule behind them."""
from __future__ import annotations

import typer

from ...design.parameters import Design, parse_range
from ...design.sizes import parse_min_output
from ...design.sizes import sizes as valid_sizes
from ...errors import OPTIONS, ArchcalcError, Diagnostic
from ...settings import LoadOptions
from ..guard import Finding, print_json
from ..options import SPEC, choice, command, format_option, request

FORMATS = ("table", "json", "csv")


@command
def sizes(
    spec: str = SPEC,
    range_: str = typer.Option(..., "--range", "-r", metavar="FIRST..LAST[/STEP]",
                               show_default=False,
                               help="the input sizes to try, both ends included, e.g. 32..1024"),
    min_output: str | None = typer.Option(None, "--min-output", metavar="HxW",
                                          help="also require the final feature map to be at "
                                               "least this large, e.g. 7x7"),
    axis: str = typer.Option("square", "--axis", metavar="AXIS",
                             help="square (H = W = N, the default), height (W kept) or width "
                                  "(H kept)"),
    opts: LoadOptions = request(exclude=("dtype", "batch", "optimizer", "count_inplace",
                                               "convention")),
    format: str = format_option(FORMATS),
) -> None:
    """Every input size in a range for which the network is valid under the rounding rule,
    with its final feature map and receptive field; the invalid ones grouped by the first layer
    that refuses them; and the rule (e.g. N divisible by 32), solved from the strides and
    checked on every size of the range. Exit 1 when no size is valid."""
    fmt = choice(format, FORMATS, "--format")
    side = choice(axis, ("square", "height", "width"), "--axis")
    wanted = parse_range(range_, "--range")
    least = parse_min_output(min_output)
    found = valid_sizes(Design(spec, opts), wanted, side, least)
    from ...views import design as views
    if fmt == "json":
        print_json(views.sizes_document(found))
    elif fmt == "csv":
        print(views.sizes_csv(found), end="")
    else:
        from ...views.text import terminal_width
        print(views.sizes_text(found, terminal_width()), end="")
    if not found.valid:
        if fmt == "json":
            raise Finding()
        first = [s for s in found.shown if not s.ok][:3]
        raise ArchcalcError([Diagnostic(
            "error", f"no input size in {found.lo}..{found.hi} is valid for {found.net.name}",
            OPTIONS, "; ".join(f"N = {s.n}: {s.layer + ': ' if s.layer else ''}{s.message}"
                               for s in first))])
