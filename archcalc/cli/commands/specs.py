"""``archcalc specs``: the shipped networks."""
from __future__ import annotations

from ...spec.sources import shipped_specs
from ..options import command


@command
def specs() -> None:
    """The shipped networks: their names (usable as SPEC from any folder) and the published
    figure each is tested against."""
    from ...views.text import terminal_width, wrap_text
    entries = shipped_specs()
    width = max((len(e["file"]) for e in entries), default=0)
    columns = terminal_width()          # a terminal: lines broken between words to fit it
    for e in entries:                   # two short lines each: readable in 80 columns
        for line in (f"{e['file']:<{width}}  {e['what']}",
                     f"{'':<{width}}  checked against {e['checked']}"):
            print(wrap_text(line, columns, width + 4))
