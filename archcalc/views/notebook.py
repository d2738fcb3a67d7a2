"""Jupyter's views of a Network and a Report (``_repr_svg_``, ``_repr_html_``): the only place
the core's records reach up to a view, through these two functions imported on first use."""
from __future__ import annotations

from ..errors import ArchcalcError
from ..graph import Network
from ..report import Report


def network_svg(net: Network) -> str | None:
    """The volume drawing of ``net``, or None (Jupyter then shows the next representation)
    where analysis finds errors."""
    from ..analysis import analyze
    try:
        report = analyze(net)
    except ArchcalcError:
        return None
    from .draw import volumes
    return volumes.to_svg(net, report)


def report_html(report: Report) -> str:
    """The totals, the warnings and the per-layer table as HTML (without plots)."""
    from .report.html import repr_html
    return repr_html(report)
