"""The report's charts as SVG text, drawn by pygal (the optional extra ``archcalc[report]``;
docs/report.md says why pygal). Imported only by ``archcalc report``. Every value comes from
the Report through :mod:`.figures`; pygal draws the axes, bars, lines, labels and legends."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ...ops.words import counted
from ...report import Report
from ...units import human_bytes, human_count
from . import series

if TYPE_CHECKING:
    from ...graph import Network
    from ...latency.model import Estimate

try:
    import pygal
    from pygal.style import Style
except ImportError as exc:          # the command turns this into one clear error (exit 2)
    raise ImportError("archcalc report draws its plots with pygal: pip install "
                      "'archcalc[report]'") from exc

WIDTH, HEIGHT = 1000, 440
MAX_BARS = 100       # more layers than this: the bar chart folds blocks (and says so)
STYLE = Style(background="white", plot_background="white", foreground="#333",
              foreground_strong="#111", foreground_subtle="#ddd", opacity=".85",
              opacity_hover="1", font_family="system-ui, sans-serif",
              label_font_size=11, major_label_font_size=11, legend_font_size=12,
              title_font_size=15, value_font_size=11, tooltip_font_size=12,
              colors=("#3b6fb6", "#e0823d", "#c0392b", "#2e9d6b", "#8e5cb5"),
              stroke_width="2.5", stroke_opacity="1", stroke_width_hover="3.5",
              guide_stroke_color="#d6d6d6", major_guide_stroke_color="#bbbbbb",
              guide_stroke_dasharray="3,3", major_guide_stroke_dasharray="3,3")
BAR_STYLE = Style(**{**STYLE.to_dict(), "stroke_width": "0.5", "colors": STYLE.colors})


def _config(title: str, labels: list[str], columns: int = 3, **kw: Any) -> dict[str, Any]:
    n = len(labels)
    every = max(1, n // 24)         # at most ~24 layer names along the x axis
    kw.setdefault("style", STYLE)
    return dict(title=title, width=WIDTH, height=HEIGHT, js=[],
                disable_xml_declaration=True, explicit_size=True,
                x_labels=labels, x_label_rotation=40, truncate_label=14,
                show_minor_x_labels=every == 1, x_labels_major_every=every,
                legend_at_bottom=True, legend_at_bottom_columns=columns, show_legend=True,
                truncate_legend=-1, legend_box_size=14,
                margin_bottom=4, spacing=8, print_values=False, **kw)


def _number(v: float) -> str:
    """An axis label or a value in plain digits, never 8e+03: 8,000, 150, 2.5, 0.25."""
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}" if v >= 1 else f"{v:.2g}"


def log_ticks(lo: float, hi: float, most: int = 9) -> list[float]:
    """Labels for a log axis from ``lo`` to ``hi``: 1, 2 and 5 of each decade where at most
    ``most`` fall in the range, else the decades alone (every second, third … where even
    they are too many), so that no two labels crowd each other."""
    import math
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for steps in ((1, 2, 5), (1,)):
        ticks = [m * 10.0 ** k for k in range(first, last + 1) for m in steps
                 if lo <= m * 10.0 ** k <= hi]
        if len(ticks) <= most:
            return ticks if len(ticks) >= 2 else sorted({*ticks, lo, hi})
    every = math.ceil(len(ticks) / most)
    return ticks[::every]


def render(chart: Any) -> str:
    """``chart`` as tidy SVG, with room for every row of its legend: pygal reserves
    ``series // columns`` rows below the plot (none for fewer series than columns) where
    ``ceil(series / columns)`` are drawn, and the last row fell off the picture."""
    import math

    def setting(name: str) -> Any:           # set on the chart, else given to its constructor
        return chart.__dict__[name] if name in chart.__dict__ else getattr(chart.config, name)
    n, cols = len(chart.raw_series), setting("legend_at_bottom_columns")
    if setting("legend_at_bottom") and setting("show_legend") and n and cols:
        row = max(setting("legend_box_size"), setting("style").legend_font_size) * 1.5
        reserved, needed = n // cols - 1, math.ceil(n / cols) - 1     # rows past the first
        chart.margin_bottom = (setting("margin_bottom") or 0) + max(0, (needed - reserved) * row)
    return tidy(chart.render(is_unicode=True))


def byte_unit(largest: float) -> tuple[str, int]:
    """The binary unit a chart of byte amounts up to ``largest`` is drawn in: the largest whose
    one is at most ``largest`` (KiB for LeNet-5's activations, MiB for VGG16's, GiB, TiB … EiB
    past them), so that its axis reads 0 … 1023.99 of it, never 60000.00 MiB."""
    for unit, size in (("EiB", 1 << 60), ("PiB", 1 << 50), ("TiB", 1 << 40),
                       ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if largest >= size:
            return unit, size
    return "B", 1


def shares(amounts: list[float]) -> list[str]:
    """Each amount's share of their sum, to one decimal, rounded so that the shown shares sum
    to exactly 100.0% (largest remainder: each gets its share's whole tenths, and the tenths
    left go to the largest remainders, the first of equal ones first), never 101%. A zero is
    "0%"; a share that rounds to nothing is "<0.1%"."""
    whole = sum(amounts)
    if not whole:
        return ["0%"] * len(amounts)
    exact = [1000 * a / whole for a in amounts]          # in tenths of a percent
    tenths = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: (-(exact[i] - tenths[i]), i))[
            :1000 - sum(tenths)]:
        tenths[i] += 1
    return ["0%" if not a else "<0.1%" if not t else f"{t // 10}.{t % 10}%"
            for a, t in zip(amounts, tenths)]


def _percent(v: float) -> str:
    return "<0.1%" if 0 < v < 0.05 else f"{v:.1f}%"       # as the table's share columns


def params_macs(report: Report) -> str:
    """Parameters and MACs per layer, each as its share of the network's total (one scale for
    both; the lectures' point: parameters sit in the late fully connected layers, MACs in the
    convolutions); every bar's tooltip has the exact count."""
    rows = [r for r in report.layers if r.op != "input"]
    folded = ""
    if len(rows) > MAX_BARS and report.block_outputs:   # too many bars to read: fold blocks
        rows = [r for r in report.rows(0) if r.op != "input"]
        folded = f", blocks folded ({report.layer_count} layers in {len(rows)} rows)"
    t = report.totals
    chart = pygal.Bar(**_config(f"{report.name}: parameters and MACs per layer "
                                f"(% of total){folded}",
                                [r.name for r in rows], columns=2, range=(0, None), style=BAR_STYLE,
                                value_formatter=_percent))
    chart.add(f"parameters ({human_count(t.params)})",
              [{"value": 100 * r.params / t.params if t.params else 0,
                "label": counted(r.params, "parameter")} for r in rows])
    chart.add(f"MACs ({human_count(t.macs)})",
              [{"value": 0 if r.train_only or not t.macs else 100 * r.macs / t.macs,
                "label": counted(r.macs, "MAC")} for r in rows])
    return render(chart)


def memory(net: Network, report: Report) -> str:
    """Activation memory each layer writes, and the live activation memory over execution
    order (every buffer alive while that layer runs) with its peak marked."""
    curve = series.live_curve(net, report)
    t = report.totals
    peak = max(range(len(curve)), key=lambda i: curve[i].live_bytes)
    unit, size = byte_unit(curve[peak].live_bytes)
    chart = pygal.Line(**_config(
        f"{report.name}: activation memory (batch {t.batch}, {report.settings.dtype})",
        [p.name for p in curve], fill=False, show_dots=False, stroke_style={"width": 3},
        value_formatter=lambda v: f"{v:,.2f} {unit}", y_title=unit))
    chart.add("written by the layer", [p.activation_bytes / size for p in curve],
              fill=True, stroke_style={"width": 1})
    chart.add("alive while it runs", [p.live_bytes / size for p in curve])
    chart.add(f"peak: {human_bytes(curve[peak].live_bytes)} at {curve[peak].name}",
              [{"value": p.live_bytes / size, "label": "peak"} if i == peak else None
               for i, p in enumerate(curve)], show_dots=True, dots_size=6, stroke=False)
    return render(chart)


def receptive_field(report: Report) -> str:
    """The receptive field's size per layer against the input's size (global layers: the
    input's size, since they see all of it)."""
    pts = [p for p in series.rf_growth(report) if p.name != report.layers[0].name]
    side = max(report.input[0], report.input[1])
    chart = pygal.Line(**_config(f"{report.name}: receptive field per layer (input pixels)",
                                 [p.name for p in pts], show_dots=False,
                                 stroke_style={"width": 3}, y_title="pixels",
                                 value_formatter=lambda v: f"{v:g} px"))
    chart.add("receptive field (larger side)", [p.size for p in pts])
    chart.add("global (sees the whole input)",
              [{"value": side, "label": "global"} if p.size is None else None for p in pts],
              show_dots=True, stroke=False,
              dots_size=3)
    ends = [side] + [None] * (len(pts) - 2) + [side] if len(pts) > 1 else [side]
    chart.add(f"input size ({side} px)", ends,          # a straight line from end to end
              stroke_style={"width": 2, "dasharray": "6, 4"})
    return render(chart)


def training(report: Report) -> str:
    """Where one training step's memory goes (the training estimate's terms)."""
    parts = series.training_parts(report)
    t, s = report.totals, report.settings
    unit, size = byte_unit(t.training_bytes)
    chart = pygal.HorizontalStackedBar(
        title=f"{report.name}: training estimate {human_bytes(t.training_bytes)} "
              f"({s.optimizer}, batch {t.batch}, {s.dtype})",
        style=BAR_STYLE, width=WIDTH, height=290, js=[], disable_xml_declaration=True,
        explicit_size=True, legend_at_bottom=True, legend_at_bottom_columns=4,
        truncate_legend=-1, legend_box_size=14,
        show_x_labels=True, x_title=unit, margin_bottom=16,
        value_formatter=lambda v: f"{v:,.1f} {unit}")
    for p, share in zip(parts, shares([p.bytes for p in parts])):
        chart.add(f"{p.label} {share}", [{"value": p.bytes / size,
                                               "label": f"{p.label}: {human_bytes(p.bytes)}"}])
    return render(chart)


def roofline(est: Estimate) -> str:
    """archcalc report --device: the device's roofline (log-log: attainable FLOP/s against
    arithmetic intensity, the bandwidth slope up to the ridge point, then the flat peak) and
    each layer that does arithmetic as a point at its intensity and its predicted FLOP/s
    (FLOPs / predicted time), one series per op kind. Layers without FLOPs (pools,
    element-wise) have intensity 0, which a log axis cannot show: the title counts them (not
    the fused ones, which take no time of their own)."""
    dev, dtype = est.device, est.dtype
    peak, bw = dev.peak(dtype) / 1e9, dev.bandwidth / 1e9           # GFLOP/s, GB/s
    pts = [t for t in est.layers if t.flops and t.bytes and t.time_s]
    left = sum(1 for t in est.layers if t.kind not in ("view", "epilogue")) - len(pts)
    xs = [t.intensity for t in pts if t.intensity is not None] or [1.0]     # bytes: all
    lo, hi = min(min(xs), peak / bw) / 2, max(max(xs), peak / bw) * 2
    ys = [t.flops / t.time_s / 1e9 for t in pts] + [bw * lo, peak]
    chart = pygal.XY(**_config(
        f"{est.report.name} on {dev.key} ({dtype}): roofline, one point per layer"
        + (f" ({counted(left, 'layer')} without FLOPs not shown)" if left else ""),
        [], columns=3,
        logarithmic=True, x_title="arithmetic intensity (FLOP per byte moved)",
        y_title="GFLOP/s", stroke=False,
        value_formatter=_number, x_value_formatter=_number))
    # ticks of its own: pygal labels every 1 … 9 of each decade on a log axis, and they overlap
    chart.x_labels = log_ticks(lo, hi)
    chart.y_labels = log_ticks(min(ys), max(ys))
    chart.x_label_rotation = 0
    chart.show_minor_x_labels = chart.show_minor_y_labels = True
    chart.height = HEIGHT + 60
    chart.margin_bottom = 24
    ridge = peak / bw
    chart.add(f"roof: {bw:,.0f} GB/s, {peak:,.0f} GFLOP/s",
              [(lo, bw * lo), (ridge, peak), (hi, peak)], stroke=True, show_dots=False,
              stroke_style={"width": 2})
    kinds: dict[str, list] = {}
    for t in pts:
        kinds.setdefault(t.kind, []).append(
            {"value": (t.intensity, t.flops / t.time_s / 1e9),
             "label": f"{t.name}: {t.intensity:,.1f} FLOP/B, {t.time_s * 1e6:,.1f} µs, "
                      f"{t.bound}-bound"})
    for kind, values in kinds.items():
        chart.add(kind, values, dots_size=4)
    return render(chart)


def all_plots(net: Network, report: Report, prefix: str = "",
              estimate: Estimate | None = None) -> list[tuple[str, str]]:
    """(file stem, SVG text) for each chart; ``prefix`` makes the charts' ids (and so their
    styles) distinct where several networks' charts share one page; ``estimate`` (archcalc
    report --device) adds the roofline."""
    charts = [("params_macs", params_macs(report)), ("memory", memory(net, report)),
              ("receptive_field", receptive_field(report)), ("training", training(report))]
    if estimate is not None:
        charts.append(("roofline", roofline(estimate)))
    return [(stem, CHART_ID.sub(f"chart-{prefix}{stem}", svg)) for stem, svg in charts]


CHART_ID = re.compile(r"chart-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# pygal's credit comments, its config script and the legend ids its script uses
_DROP = re.compile(r'<!--.*?-->|<script\b.*?</script>|\s+id="activate-serie-\d+"', re.S)


_POINT = re.compile(r'<g class="(bar|dots)">(.*?)</g>', re.S)
_DESC = re.compile(r'<desc class="([a-z_]+)[^"]*">(.*?)</desc>', re.S)


def _tooltip(m: re.Match) -> str:
    """A bar's or dot's <desc> elements (read by pygal's tooltip JavaScript, which the report
    does not load) as one <title>, which browsers show on hover without any script."""
    desc = dict(_DESC.findall(m.group(2)))
    words = [w for w in (desc.get("x_label"), desc.get("label"), desc.get("value")) if w]
    title = f"<title>{': '.join(words[:1] + [' · '.join(words[1:])])}</title>" if words else ""
    return f'<g class="{m.group(1)}">{title}{_DESC.sub("", m.group(2))}</g>'


def tidy(svg: str) -> str:
    """A standalone SVG file: pygal's credit comments (which hold URLs) and its config script
    (read only by pygal's tooltip JavaScript, which the report does not load) left out, and
    each bar's or dot's figures as a <title> (a tooltip without script)."""
    svg = _POINT.sub(_tooltip, _DROP.sub("", svg))
    # coordinates (attribute values only, never text) to 1/100 px: a third of the size off
    return _ATTR.sub(lambda m: _LONG.sub(r"\1", m.group()), svg)


_ATTR = re.compile(r'="[^"]*"')
_LONG = re.compile(r"(?<![\d.])(\d+\.\d\d)\d+")
