"""``archcalc explain``: the arithmetic behind every figure."""
from __future__ import annotations

import typer

from ...analysis import analyze
from ...analysis import explain as ex
from ...settings import LoadOptions
from ...spec import read_one
from ..options import SPEC, choice, command, format_option, request

FORMATS = ("text", "markdown", "json")


@command
def explain(
    spec: str = SPEC,
    layers: list[str] | None = typer.Argument(
        None, metavar="[LAYER...]", show_default=False,
        help="layer names as the summary lists them, ranges such as conv3..pool5, or block "
             "names (default: every layer, and the totals in words)"),
    opts: LoadOptions = request(exclude=("convention",)),
    format: str = format_option(FORMATS, "text"),
) -> None:
    """The arithmetic behind every figure: each layer's output size with the numbers put into
    the formula and the rounding it needed, parameters as weights + biases, MACs as a product,
    activations, the receptive-field step, and for convolutions what weight sharing saves."""
    fmt = choice(format, FORMATS, "--format")
    net = read_one(spec, opts)
    report = analyze(net)
    from ...views.explain import render_explain
    found = ex.explain(net, report, layers)
    totals = [] if layers else ex.totals_text(report, net)
    from ...views.text import terminal_width
    wrap = terminal_width() if fmt == "text" else None
    print(render_explain(report, found, totals, fmt, wrap), end="")
