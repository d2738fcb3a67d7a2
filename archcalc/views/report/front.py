"""The HTML page of a sweep's Pareto front (``archcalc sweep … --pareto X,Y -o front.html``):
a scatter plot of the first two --pareto figures, the front over a bounded random sample of the
other valid variants, and the front's table. Self-contained like ``archcalc report``'s page
(inline SVG and styles, no URL). pygal (``archcalc[report]``) draws the plot; imported only
when such a page is written."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...ops.values import as_written as show
from ..sweep import heading, short, unit
from .html import CSS, esc, inline_svg

if TYPE_CHECKING:
    from ...design.sweep import Result
    from ...design.sweep.pareto import Objective


def _shown(key: str, v: Any) -> str:
    try:
        return short(v, unit(key))
    except KeyError:                     # a swept parameter, not a figure
        return short(v, "")


def _tick(key: str, v: float) -> str:
    """An axis tick's label: pygal places ticks at floats, while counts and bytes are shown as
    whole numbers (``human_count`` and ``human_bytes`` take ints)."""
    try:
        kind = unit(key)
    except KeyError:                     # a swept parameter, not a figure
        return short(v, "")
    return short(round(v) if kind in ("count", "bytes") else v, kind)


def _value(r: Result, key: str) -> Any:
    return r.figures.get(key, r.settings.get(key)) if r.figures else None


def _error(r: Result) -> dict[str, Any]:
    """An invalid variant's first error (Diagnostic.to_dict())."""
    return r.error or {}


def _label(r: Result) -> str:
    return f"variant {r.variant}: " + " ".join(f"{k}={show(v)}" for k, v in r.settings.items())


def scatter(objectives: Sequence[Objective], front: Sequence[Result],
            others: Sequence[Result]) -> str:
    """The first two objectives: every front variant, and ``others`` (a sample of the rest)."""
    import pygal

    from .plots import CHART_ID, STYLE, tidy
    x, y = objectives[0].key, objectives[1].key

    def points(rs: Sequence[Result]) -> list[dict[str, Any]]:
        return [{"value": (_value(r, x), _value(r, y)),
                 "label": f"{_label(r)} — {x} {_shown(x, _value(r, x))}, "
                          f"{y} {_shown(y, _value(r, y))}"} for r in rs]

    word = {False: "fewer is better", True: "more is better"}
    chart = pygal.XY(title=f"Pareto front: {x} ({word[objectives[0].maximize]}) against {y} "
                           f"({word[objectives[1].maximize]})",
                     width=1000, height=520, js=[], disable_xml_declaration=True,
                     explicit_size=True, stroke=False, style=STYLE, dots_size=3,
                     x_title=x, y_title=y, legend_at_bottom=True, truncate_legend=-1,
                     x_value_formatter=lambda v: _tick(x, v),
                     value_formatter=lambda v: _tick(y, v))
    if others:
        chart.add(f"other valid variants ({len(others):,} shown)", points(others), dots_size=2)
    chart.add(f"on the front ({len(front):,})", points(front), dots_size=5)
    return CHART_ID.sub("chart-front", tidy(chart.render(is_unicode=True)))   # a stable id


def render(title: str, objectives: Sequence[Objective], names: Sequence[str],
           keys: Sequence[str], front: Sequence[Result], others: Sequence[Result],
           invalid: Sequence[Result], counts: dict[str, int]) -> str:
    """The page: ``front`` (the non-dominated results, in order), ``others`` (a sample of the
    valid ones not on it, for the plot), ``invalid`` (the first invalid ones) and ``counts``
    (variants, valid, invalid, unscored)."""
    wanted = ", ".join(("-" if o.maximize else "") + o.key for o in objectives)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
           f"<h1>{esc(title)}</h1>",
           f'<p class="settings">{counts["variants"]:,} variants, {counts["invalid"]:,} '
           f"invalid; {len(front):,} on the Pareto front of {esc(wanted)} (a variant is on it "
           "when no other is at least as good in every one of these figures and better in "
           "one; - maximizes)</p>"]
    if len(objectives) >= 2 and front:
        out.append("<figure>" + inline_svg(scatter(objectives, front, others))
                   + "</figure>")
        if len(objectives) > 2:
            out.append('<p class="note">The plot shows the first two figures; the front is '
                       "over all of them, so some of its points lie above others.</p>")
    heads = ["variant", *names, *(heading(k) for k in keys)]
    out.append('<h2>The front</h2><div class="tablewrap"><table class="ac"><thead><tr>'
               + "".join(f"<th{' class=n' if i else ''}>{esc(h)}</th>"
                         for i, h in enumerate(heads)) + "</tr></thead><tbody>")
    for r in front:
        cells = [str(r.variant), *(show(r.settings[n]) for n in names),
                 *(_shown(k, (r.figures or {})[k]) for k in keys)]     # valid: it has them
        out.append("<tr>" + "".join(f"<td{' class=n' if i else ''}>{esc(c)}</td>"
                                    for i, c in enumerate(cells)) + "</tr>")
    out.append("</tbody></table></div>")
    if invalid:
        more = counts["invalid"] - len(invalid)
        out.append("<h2>Invalid variants</h2><ul class=diag>" + "".join(
            f"<li>{esc(_label(r))}: <span class=error>{esc(_error(r)['message'])}</span>"
            + (f" [{esc(_error(r)['layer'])}]" if _error(r).get("layer") else "") + "</li>"
            for r in invalid) + "</ul>"
            + (f'<p class="note">and {more:,} more: the CSV or JSON Lines output of the same '
               "sweep lists every one.</p>" if more > 0 else ""))
    if counts.get("unscored"):
        out.append(f'<p class="note">{counts["unscored"]:,} valid variants have no value of a '
                   "--pareto figure (a receptive field that is global everywhere) and are on "
                   "no front.</p>")
    out.append('<p class="note">Made by archcalc sweep; every figure is defined in '
               "archcalc's docs/definitions.md and docs/sweep.md.</p></body></html>\n")
    return "\n".join(out)
