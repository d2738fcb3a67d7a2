"""The report as one self-contained HTML file: no external URL, no request to any network
(styles and the few lines of JavaScript are inline, the charts are inline SVG). The table and
totals pieces import nothing heavy: ``Report._repr_html_`` (Jupyter) uses them without plots."""
from __future__ import annotations

import html
import re
from collections.abc import Sequence

from ...errors import SourcePos
from ...ops import Vol
from ...ops.words import counted
from ...report import LayerRow, Report
from ...units import human_bytes
from ..compare import Entry, compare_rows
from ..table import COLUMNS, Column, totals_lines
from ..text import vol_text

esc = html.escape

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:0 auto;
max-width:1320px;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:19px;margin:28px 0 6px;border-bottom:2px solid
#3b6fb6;padding-bottom:2px}h3{font-size:15px;margin:18px 0 6px}
.settings{color:#555;margin:0 0 10px}
table.ac{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:13px}
table.ac th,table.ac td{padding:2px 8px;border-bottom:1px solid #e3e3e3;white-space:nowrap}
table.ac th{background:#f1f4f9;position:sticky;top:0;text-align:left;cursor:pointer;
user-select:none}
table.ac td.n,table.ac th.n{text-align:right}
table.ac tbody.grp tr.blk td{background:#f8f8f1;font-weight:600}
table.ac tbody.grp tr.in td{background:#fcfcfa;color:#444}
table.ac tbody.grp tr.in td:first-child{padding-left:26px}
table.ac tr.train td{color:#8a6d1f}
table.ac tr:hover td{background:#eef3fb}
button.tg{border:1px solid #bbb;background:#fff;border-radius:3px;font-size:11px;
width:20px;padding:0;margin-right:6px;cursor:pointer}
th .ar{color:#3b6fb6}
.tablewrap{max-height:640px;overflow:auto;border:1px solid #ddd}
table.totals td{border-bottom:1px solid #eee;padding:3px 10px;vertical-align:top;white-space:normal}
table.totals td:first-child{font-weight:600;white-space:nowrap}
ul.diag{padding-left:18px}ul.diag li{margin:3px 0}
.error{color:#b00020;font-weight:600}.warning{color:#9a6700;font-weight:600}
.pos{color:#666;font-family:ui-monospace,monospace;font-size:12px}.hint{color:#555}
figure{margin:14px 0}figure svg{max-width:100%;height:auto}
.drawing{overflow:auto;max-height:900px;border:1px solid #ddd}
.note{color:#666;font-size:12px}
"""

JS = """
function acSort(th){var t=th.closest('table'),i=[].indexOf.call(th.parentNode.children,th),
d=th.dataset.d=th.dataset.d==='a'?'d':'a',b=[].slice.call(t.tBodies);
b.sort(function(x,y){var p=x.rows[0].cells[i],q=y.rows[0].cells[i],
u=p.dataset.v!==undefined?+p.dataset.v:p.textContent,
v=q.dataset.v!==undefined?+q.dataset.v:q.textContent;
return (u<v?-1:u>v?1:(+x.dataset.o)-(+y.dataset.o))*(d==='a'?1:-1);});
b.forEach(function(x){t.appendChild(x);});
[].forEach.call(th.parentNode.children,function(h){
var s=h.querySelector('.ar');if(s)s.textContent='';});
th.querySelector('.ar').textContent=d==='a'?' \\u25B2':' \\u25BC';}
function acToggle(b){var g=b.closest('tbody'),open=b.textContent==='+';
b.textContent=open?'\\u2212':'+';[].forEach.call(g.rows,function(r,k){if(k)r.hidden=!open;});}
function acAll(btn,open){var t=btn.parentNode.nextElementSibling.querySelector('table');
[].forEach.call(t.querySelectorAll('button.tg'),function(b){
if((b.textContent==='+')===open)acToggle(b);});}
"""

_NUMERIC = {"params": "params", "%params": "params", "MACs": "macs", "%MACs": "macs",
            "activations": "activations"}


def _cell(col: Column, row: LayerRow, vols: dict[str, Vol], r: Report) -> str:
    text = esc(col.cell(row, vols, r, False))
    key = _NUMERIC.get(col.header)
    if key is not None:
        return f'<td class="n" data-v="{getattr(row, key)}">{text}</td>'
    if col.header == "output":
        v = row.output
        return f'<td class="n" data-v="{v[0] * v[1] * v[2]}">{text}</td>'
    if col.header == "RF":
        size = row.rf.size
        val = 1e18 if row.rf.is_global or size is None else max(size)
        return f'<td class="n" data-v="{val}">{text}</td>'
    cls = ' class="n"' if col.justify == "right" else ""
    return f"<td{cls}>{text}</td>"


def layer_table(r: Report) -> str:
    """The per-layer table: every top-level row (``Report.rows(0)``) in a tbody of its own; a
    folded block's tbody also holds its layers (``rows(None)``), hidden until its + is pressed.
    Clicking a header sorts the top-level rows (a block's layers stay under it)."""
    cols = COLUMNS
    heads = "".join(f'<th{" class=n" if c.justify == "right" else ""} '
                    f'onclick="acSort(this)">{esc(c.header)}<span class="ar"></span></th>'
                    for c in cols)
    full = {row.name: row.output for row in r.layers}
    top = r.rows(0)
    tops = {row.name: row.output for row in top}
    members: dict[str, list[LayerRow]] = {}
    for row in r.layers:
        if row.scope:
            members.setdefault(row.scope[0], []).append(row)
    out = [f'<table class="ac"><thead><tr>{heads}</tr></thead>']
    for i, row in enumerate(top):
        cls = " train" if row.train_only else ""
        if row.op == "block":
            inner = members.get(row.name, [])
            cells = [_cell(c, row, tops, r) for c in cols]
            cells[0] = cells[0].replace("<td>", '<td><button class="tg" onclick="acToggle(this)"'
                                        ' title="show its layers">+</button>', 1)
            first = "".join(cells)
            out.append(f'<tbody class="grp" data-o="{i}"><tr class="blk{cls}">{first}</tr>')
            for m in inner:
                mc = " train" if m.train_only else ""
                out.append(f'<tr class="in{mc}" hidden>'
                           + "".join(_cell(c, m, full, r) for c in cols) + "</tr>")
            out.append("</tbody>")
        else:
            out.append(f'<tbody data-o="{i}"><tr class="{cls.strip()}">'
                       + "".join(_cell(c, row, tops, r) for c in cols) + "</tr></tbody>")
    out.append("</table>")
    return "".join(out)


def totals_table(r: Report) -> str:
    return ('<table class="ac totals">' + "".join(
        f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in totals_lines(r))
        + "</table>")


def settings_line(r: Report) -> str:
    s = r.settings
    return (f"input {vol_text(r.input)} · {counted(r.layer_count, 'layer')} · dtype {s.dtype} · "
            f"batch {s.batch} · optimizer {s.optimizer} · "
            + ("in-place ops counted as buffers" if s.count_inplace else "activations in place"))


def place(pos: SourcePos, s: dict | None = None) -> str:
    """Where a diagnostic points, as the user named the spec: a place in the file the network
    was read from (``net.source``: a shipped spec's is the install's path) is shown under the
    SPEC argument the user gave (``s["source"]``: ``vgg16:14:5``), never the install's path."""
    net, given = (s or {}).get("net"), (s or {}).get("source")
    if net is not None and given and pos.file == net.source and given != pos.file:
        pos = pos._replace(file=given)
    return str(pos)


def diagnostics_list(r: Report, s: dict | None = None) -> str:
    """The report's warnings; ``s`` the review's section, whose SPEC names the file."""
    if not r.diagnostics:
        return '<p class="note">No warnings.</p>'
    items = []
    for d in r.diagnostics:
        layer = f" [{esc(d.layer)}]" if d.layer else ""
        hint = f'<br><span class="hint">hint: {esc(d.hint)}</span>' if d.hint else ""
        items.append(f'<li><span class="{esc(d.severity)}">{esc(d.severity)}</span>{layer} '
                     f'<span class="pos">{esc(place(d.pos, s))}</span>: {esc(d.message)}'
                     f"{hint}</li>")
    return '<ul class="diag">' + "".join(items) + "</ul>"


def repr_html(r: Report) -> str:
    """Jupyter's view of a Report: the totals and the table (no plots, no script: notebooks
    may not run it, so every block is shown unfolded (``rows(None)``) in a plain table)."""
    cols = COLUMNS
    vols = {row.name: row.output for row in r.layers}
    head = "".join(f'<th style="text-align:{"right" if c.justify == "right" else "left"}">'
                   f"{esc(c.header)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(
        f'<td style="text-align:{"right" if c.justify == "right" else "left"};'
        f'white-space:nowrap">{esc(c.cell(row, vols, r, False))}</td>' for c in cols) + "</tr>"
        for row in r.layers)
    tot = "".join(f"<tr><td><b>{esc(k)}</b></td><td style='text-align:left'>{esc(v)}</td></tr>"
                  for k, v in totals_lines(r))
    warn = "".join(f"<li>{esc(d.severity)}{f' [{esc(d.layer)}]' if d.layer else ''}: "
                   f"{esc(d.message)}</li>" for d in r.diagnostics)
    return (f"<div><b>{esc(r.name)}</b> — {esc(settings_line(r))}<table>{tot}</table>"
            + (f"<ul>{warn}</ul>" if warn else "")
            + f"<details><summary>{counted(r.layer_count, 'layer')}</summary><table><thead><tr>"
            + head + f"</tr></thead><tbody>{body}</tbody></table></details></div>")


_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


def inline_svg(svg: str, prefix: str = "") -> str:
    """An SVG document as an element of the HTML page: its namespace declarations (URLs,
    though never fetched) left out (the HTML parser puts <svg> in the SVG namespace itself);
    with ``prefix``, its ids and the references to them made unique in the page."""
    svg = re.sub(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>", "", svg)
    svg = _XMLNS.sub("", svg).replace("xlink:href=", "href=").strip()
    if prefix:
        svg = _IDS.sub(lambda m: f'{m.group(1)}{prefix}', svg)
    return svg


_IDS = re.compile(r'(\bid="|url\(#|href="#)')


def _anchor(i: int) -> str:
    return f"net{i}"


def render(sections: Sequence[dict], title: str | None = None) -> str:
    """The whole page. ``sections``: one dict per network with ``report``, ``plots`` ((stem,
    SVG) pairs), ``volumes`` and ``graph`` (the drawings' SVG text, or None, each with a
    ``…_note`` saying how it was folded) and ``source`` (the SPEC it came from)."""
    names = [s.get("title") or s["report"].name for s in sections]    # distinct (compare_keys)
    title = title or ("archcalc review: " + ", ".join(names))
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{esc(title)}</title><style>{CSS}</style><script>{JS}</script></head><body>",
           f"<h1>{esc(title)}</h1>"]
    if len(sections) > 1:
        out.append(compare_table([(s["report"], s["weight_layers"], s["source"])
                                  for s in sections]))
        out.append("<p>" + " · ".join(f'<a href="#{_anchor(i)}">{esc(n)}</a>'
                                      for i, n in enumerate(names)) + "</p>")
    if len(sections) == 2:
        out.append(diff_section(sections))
    for i, s in enumerate(sections):
        out.append(network_section(s, i))
    out.append('<p class="note">Made by archcalc report; every figure is defined in '
               "archcalc's docs/definitions.md.</p></body></html>\n")
    return "\n".join(out)


def compare_table(entries: Sequence[Entry]) -> str:
    rows = compare_rows(entries)
    head = "".join(f"<th{' class=n' if j else ''}>{esc(c)}</th>" for j, c in enumerate(rows[0]))
    body = []
    for row in rows[1:]:
        label = row[0]
        cells = []
        for c in row[1:]:
            text = f"{int(c):,}" if c.isdigit() else c
            if c.isdigit() and "bytes" in label:
                text = f"{human_bytes(int(c))}"
            cells.append(f'<td class="n" title="{esc(c)}">{esc(text)}</td>')
        body.append(f"<tr><td>{esc(label)}</td>{''.join(cells)}</tr>")
    return (f'<h2>Side by side</h2><div class="tablewrap"><table class="ac"><thead><tr>{head}'
            f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def diff_section(sections: Sequence[dict]) -> str:
    """Two networks: what the change costs, as ``archcalc diff`` finds it (archcalc.diff: the
    alignment, the totals' deltas and the changed rows; the text cells are its views')."""
    from ...diff import diff
    from ..diff import ROW_HEADERS, ROW_JUSTIFY, layer_rows, summary_line, totals_rows
    a, b = sections
    d = diff(a["report"], b["report"], a["net"], b["net"], sources=(a["source"], b["source"]))

    def table(heads: Sequence[str], justify: Sequence[str],
              rows: Sequence[Sequence[str]]) -> str:
        th = "".join(f"<th{' class=n' if j == 'right' else ''}>{esc(h)}</th>"
                     for h, j in zip(heads, justify))
        body = "".join("<tr>" + "".join(f"<td{' class=n' if j == 'right' else ''}>{esc(c)}"
                                         "</td>" for c, j in zip(row, justify)) + "</tr>"
                       for row in rows)
        return (f'<div class="tablewrap"><table class="ac"><thead><tr>{th}</tr></thead>'
                f"<tbody>{body}</tbody></table></div>")
    out = [f"<h2>What changed: {esc(a.get('title') or a['report'].name)} → "
           f"{esc(b.get('title') or b['report'].name)}</h2>",
           table(("total", "A", "B", "change"), ("left", "right", "right", "right"),
                 totals_rows(d)),
           f"<p>{esc(summary_line(d))}</p>"]
    rows = layer_rows(d)
    if rows:
        out.append(table([h or "±" for h in ROW_HEADERS], ROW_JUSTIFY, rows))
    return "\n".join(out)


def network_section(s: dict, i: int) -> str:
    r: Report = s["report"]
    out = [f'<section id="{_anchor(i)}"><h2>{esc(s.get("title") or r.name)}</h2>',
           f'<p class="settings">{esc(settings_line(r))}'
           + (f" · from {esc(s['source'])}" if s.get("source") else "") + "</p>",
           "<h3>Totals</h3>", totals_table(r),
           f"<h3>Warnings ({len(r.diagnostics)})</h3>", diagnostics_list(r, s)]
    if s.get("drawing_note"):
        out += ["<h3>Drawings</h3>", f'<p class="note">{esc(s["drawing_note"])}</p>']
    for title, key in (("Volumes", "volumes"), ("Graph", "graph")):
        if s.get(key):
            note = s.get(key + "_note")
            out += [f"<h3>{title}</h3>"] + ([f'<p class="note">{esc(note)}</p>'] if note else [])
            out.append(f'<div class="drawing">{inline_svg(s[key], f"d{i}{key[0]}-")}</div>')
    blocks = sum(1 for row in r.rows(0) if row.op == "block")
    toggles = (' · <button onclick="acAll(this,true)">unfold all</button> '
               '<button onclick="acAll(this,false)">fold all</button>' if blocks else "")
    out += [f"<h3>Layers</h3><p class=\"note\">{counted(r.layer_count, 'layer')}"
            + (f", {counted(blocks, 'folded block')} (+ shows a block's layers)" if blocks
               else "")
            + f"; click a column's header to sort{toggles}</p>",
            f'<div class="tablewrap">{layer_table(r)}</div>']
    if s.get("plots"):
        out.append("<h3>Plots</h3>")
        out += [f"<figure>{inline_svg(svg)}</figure>" for _, svg in s["plots"]]
    out.append("</section>")
    return "\n".join(out)
