"""``archcalc specs``: the shipped networks."""
from __future__ import annotations

from ...spec.sources import shipped_specs
from ..options import command


@command
def specs() -> None:
    """The shipped networks: their names (usable as SPEC from any folder) and the published
    figure each is tested against."""
    entries = shipped_specs()
    width = max((len(e["file"]) for e in entries), default=0)
    for e in entries:                   # two short lines each: readable in 80 columns
        print(f"{e['file']:<{width}}  {e['what']}\n{'':<{width}}  checked against "
              f"{e['checked']}")
