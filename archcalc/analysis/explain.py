"""``archcalc explain``: every figure of a layer with the arithmetic behind it.

The op supplies its own derivations (``Op.explain``, next to each op's rules in archcalc/ops/:
output size, parameters, MACs); what every layer shares — activation memory and the receptive-field
step — is derived here from the report's rows, with the same rules the analysis pass used
(docs/definitions.md). Nothing is recomputed differently: a test checks that every derived value
equals the report's.
"""
from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any, NamedTuple

from ..errors import OPTIONS, ArchcalcError, error
from ..graph import Network
from ..ops import GLOBAL, IDENTITY, MERGE, OPS, RFStep, Vol
from ..ops import derive as dv
from ..ops.resampling import RFResize
from ..ops.windowed import Conv
from ..ops.words import counted
from ..report import RF, AxisPair, LayerRow, Report
from ..units import human_bytes
from .ledger import Item
from .memory import alive_while
from .rf import field_inputs, local_axes


class LayerExplanation(NamedTuple):
    name: str
    op: str
    detail: str
    inputs: tuple[str, ...]
    figures: list[dv.Derivation]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "detail": self.detail,
                "inputs": list(self.inputs), "figures": [f.to_dict() for f in self.figures]}


def _axes(vals: AxisPair) -> str:
    return str(vals[0]) if vals[0] == vals[1] else f"{vals[0]}×{vals[1]}"


def _num(x: float) -> str:
    """A number inside a formula: a negative one in parentheses, so that "− (−4)" reads right."""
    return f"{x:g}" if x >= 0 else f"({x:g})"


def net_view(kind: str) -> bool:
    return OPS[kind].view


def activation_figures(row: LayerRow, report: Report,
                       rows: dict[str, LayerRow]) -> list[dv.Derivation]:
    """Elements this layer writes to a new buffer, and their bytes at the report's settings."""
    s = report.settings
    size = s.dtype_bytes
    if row.inplace:
        src = row.inputs[0]
        why = f"a view of {src}: nothing is copied" if net_view(row.op) else \
            f"in place: it overwrites the buffer of {src}"
        return [dv.zero("activations", "activations", why)]
    h, w, c = row.output
    elems = dv.product("activations", "activations", [("H'", h), ("W'", w), ("C'", c)],
                       "elements of a new buffer, per image, in training only: this layer is "
                       "train_only, left out of the inference MACs, activations, peak and export"
                       if row.train_only else "elements of a new buffer, per image")
    return [elems, dv.product("activation_bytes", "activation bytes",
                              [("elements", elems.value), ("batch", s.batch),
                               (f"bytes ({s.dtype})", size)])]


def rf_figures(row: LayerRow, net: Network, rows: dict[str, LayerRow]) -> list[dv.Derivation]:
    """The receptive-field step from the previous layer's (size r, jump j, start c) to this one's
    (Araujo et al., Distill 2019; docs/definitions.md)."""
    rf = row.rf
    if row.op == "input":
        return [dv.given("rf_size", "receptive field", "1", 1, "each input pixel sees itself")]
    layer = net[row.name]
    ins = [rows[s].output for s in row.inputs]
    step = layer.opdef.rf_step(layer.attrs, ins)
    prev = rows[row.inputs[0]].rf
    if rf.is_global:
        why = "a global op: every unit sees the whole input" if step == GLOBAL else \
            "after a global layer every unit sees the whole input"
        return [dv.given("rf_size", "receptive field", "global", "global", why)]
    size, stride, start = local_axes(rf)
    if step == MERGE:
        kept = field_inputs(row.inputs, ins, row.output)
        parts = ", ".join(f"{s} {rows[s].rf.text()}" for s in kept)
        note = "the branches are aligned: the largest window" if rf.aligned else \
            "the branches are not aligned: an upper bound"
        gates = [s for s in row.inputs if s not in kept]
        if gates:
            h, w = row.output[:2]
            what = ", ".join(f"{s} ({'global, ' if rows[s].rf.is_global else ''}"
                             f"{rows[s].output[0]}×{rows[s].output[1]})" for s in gates)
            one = len(gates) == 1
            note += (f"; {what} {'is' if one else 'are'} broadcast over the {h}×{w} places: "
                     f"{'it rescales' if one else 'they rescale'} each channel by context from "
                     f"{'its' if one else 'their'} own whole field, which archcalc leaves out of "
                     "the local window (strictly every unit depends on "
                     f"{'it' if one else 'them'}; docs/definitions.md)")
        return [dv.given("rf_size", "receptive field", "the union of the branches' windows",
                         _axes(size), f"{parts}; {note}")]
    if step == IDENTITY or prev.is_global:
        why = layer.opdef.rf_note or "an element-wise op sees what its input saw"
        return [dv.given("rf_size", "receptive field", "r", size[0] if size[0] == size[1]
                         else size, f"as {row.inputs[0]}: {why}",
                         {"r": _axes(size), "j": _axes(stride)})]
    assert isinstance(step, RFStep)     # a global step made a global field, returned above
    k, s, p = step.k, step.s, step.p
    if isinstance(step, RFResize):
        return _resize_rf(rf, prev, step, ins[0], row.output,
                          layer.attrs.get("align_corners", False))
    if step.up != (1, 1):
        return _upsampling_rf(rf, prev, step)
    psize, pstride, pstart = local_axes(prev)
    figs = []
    for ax, suffix in ((0, "_h"), (1, "_w")):
        if ax == 1 and (k[0], s[0], p[0], psize[0], pstride[0], pstart[0]) == \
                (k[1], s[1], p[1], psize[1], pstride[1], pstart[1]):
            break
        tag = "" if k[0] == k[1] and s[0] == s[1] and p[0] == p[1] and \
            psize[0] == psize[1] else (" (height)" if ax == 0 else " (width)")
        r0, j0, c0 = psize[ax], pstride[ax], pstart[ax]
        why = (f"F = 2M − 1: a token's {(k[ax] + 1) // 2}-wide window reaches up to M − 1 "
               "tokens to either side of it" if row.op == "attention" else
               "F is the effective (dilated) kernel")
        figs += [
            dv.Derivation("rf_size" + suffix, "receptive field" + tag, "r + (F − 1)·j",
                          f"{r0} + ({k[ax]} − 1)·{j0}", size[ax],
                          {"r": r0, "F": k[ax], "j": j0}, why),
            dv.Derivation("rf_jump" + suffix, "jump" + tag, "j·S", f"{j0}·{s[ax]}", stride[ax],
                          {"j": j0, "S": s[ax]}, "input pixels between neighbouring units"),
            dv.Derivation("rf_start" + suffix, "first centre" + tag, "c + ((F − 1)/2 − P)·j",
                          f"{_num(c0)} + (({k[ax]} − 1)/2 − {_num(p[ax])})·{j0}",
                          start[ax], {"c": c0, "F": k[ax], "P": p[ax], "j": j0},
                          "the centre of the top-left unit's window, in input pixels")]
    return figs


def _resize_rf(rf: RF, prev: RF, step: RFResize, vin: Vol, out: Vol,
               aligned: bool) -> list[dv.Derivation]:
    """A resize's step: units a + o·q input pixels apart, each reading within d of its centre
    (docs/definitions.md, "Resizing")."""
    size, stride, start = local_axes(rf)
    psize, pstride, pstart = local_axes(prev)
    figs = []
    for ax, suffix in ((0, "_h"), (1, "_w")):
        x = step.axes[ax]
        if ax == 1 and (x, vin[0], out[0], psize[0], pstride[0], pstart[0]) == \
                (step.axes[0], vin[1], out[1], psize[1], pstride[1], pstart[1]):
            break
        tag, side = ("", " (width)")[ax], "HW"[ax]
        r0, j0, c0, n, m = psize[ax], pstride[ax], pstart[ax], vin[ax], out[ax]
        q, a, d = (_frac(v) for v in x)
        figs += [
            dv.Derivation("rf_size" + suffix, "receptive field" + tag, "r + 2d·j",
                          f"{_num(r0)} + 2·{d}·{_num(j0)}", size[ax],
                          {"r": r0, "d": float(x.d), "j": j0},
                          f"d = {d}: the farthest input pixel a unit reads, from its centre "
                          f"({n} → {m} places)"),
            dv.Derivation("rf_jump" + suffix, "jump" + tag, "j·q", f"{_num(j0)}·{q}",
                          stride[ax], {"j": j0, "q": float(x.q)},
                          "q: input pixels between neighbouring units, "
                          + (f"({side} − 1)/({side}′ − 1): aligned corners" if aligned and m > 1
                             else f"{side}/{side}′")),
            dv.Derivation("rf_start" + suffix, "first centre" + tag, "c + a·j",
                          f"{_num(c0)} + {a}·{_num(j0)}", start[ax],
                          {"c": c0, "a": float(x.a), "j": j0},
                          "a: the first unit's centre in input pixels, "
                          + ("0: aligned corners" if aligned else "(q − 1)/2: half-pixel "
                             "centres"))]
    return figs


def _frac(v: Fraction) -> str:
    """A fraction in a formula: whole as an int, else n/d (in parentheses when negative)."""
    n = abs(v.numerator)
    text = str(n) if v.denominator == 1 else f"{n}/{v.denominator}"
    return f"(−{text})" if v < 0 else text


def _upsampling_rf(rf: RF, prev: RF, step: RFStep) -> list[dv.Derivation]:
    """The step of an upsampling or a transposed convolution: the window of F units slides over
    a grid ``up`` times finer than its input, so j' = j/S comes first (docs/definitions.md)."""
    size, stride, start = local_axes(rf)
    psize, pstride, pstart = local_axes(prev)
    figs = []
    for ax, suffix in ((0, "_h"), (1, "_w")):
        if ax == 1 and (step.k[0], step.p[0], step.up[0], psize[0], pstride[0],
                        pstart[0]) == (step.k[1], step.p[1], step.up[1], psize[1],
                                       pstride[1], pstart[1]):
            break
        r0, j0, c0 = psize[ax], pstride[ax], pstart[ax]
        k, p, u = step.k[ax], step.p[ax], step.up[ax]
        figs += [
            dv.Derivation("rf_size" + suffix, "receptive field" + ("", " (width)")[ax],
                          "r + (F − 1)·j/S", f"{_num(r0)} + ({k} − 1)·{_num(j0)}/{u}", size[ax],
                          {"r": r0, "F": k, "j": j0, "S": u},
                          "an envelope in input pixels; a fraction where units see unequal "
                          "fields"),
            dv.Derivation("rf_jump" + suffix, "jump" + ("", " (width)")[ax], "j/S",
                          f"{_num(j0)}/{u}", stride[ax], {"j": j0, "S": u},
                          "input pixels between neighbouring units: a fraction after upsampling"),
            dv.Derivation("rf_start" + suffix, "first centre" + ("", " (width)")[ax],
                          "c + ((F − 1)/2 − P)·j/S",
                          f"{_num(c0)} + (({k} − 1)/2 − {_num(p)})·{_num(j0)}/{u}", start[ax],
                          {"c": c0, "F": k, "P": p, "j": j0, "S": u},
                          "F, P of the equivalent window over the finer grid; see "
                          "docs/definitions.md")]
    return figs


def sharing(row: LayerRow, net: Network, rows: dict[str, LayerRow]) -> list[dv.Derivation]:
    """For a convolution: its parameters, a locally connected layer's and a dense layer's (the
    op's own rule, ``Conv.sharing``); for any other layer, nothing."""
    layer = net[row.name]
    op = layer.opdef
    if not isinstance(op, Conv):         # Conv.sharing (DepthwiseConv's, too)
        return []
    return op.sharing(layer.attrs, [rows[s].output for s in row.inputs], row.output)


def sharing_counts(net: Network, report: Report) -> dict[str, tuple[int, int, int]]:
    """Layer name → (shared, locally connected, dense) parameters, for every convolution
    (``summary --sharing``)."""
    rows = {row.name: row for row in report.layers}
    out: dict[str, tuple[int, int, int]] = {}
    for row in report.layers:
        figs = {f.key: f.value for f in sharing(row, net, rows)}
        if figs:
            out[row.name] = (figs["shared"], figs["local"], figs["dense"])
    return out


def explain_layer(row: LayerRow, net: Network, report: Report,
                  rows: dict[str, LayerRow]) -> LayerExplanation:
    layer = net[row.name]
    ins = [rows[s].output for s in row.inputs]
    figures = layer.opdef.explain(layer.attrs, ins, row.output, net.rounding)
    figures += activation_figures(row, report, rows) + rf_figures(row, net, rows)
    figures += sharing(row, net, rows) + convention_figures(row, ins)
    return LayerExplanation(row.name, row.op, row.detail, row.inputs, figures)


def convention_figures(row: LayerRow, ins: list[Vol]) -> list[dv.Derivation]:
    """The layer's count under each counting convention (docs/definitions.md, "Counting
    conventions"): which terms each adds; then its ledger of operations by category (the
    ``everything`` convention, "The operations ledger"), each term with the conventions that
    count it."""
    from . import conventions as cv
    from . import ledger as lg
    added = {key: cv.terms(key, row, ins) for key in cv.CONVENTIONS}
    work = lg.items(row, ins)
    if not row.macs and not any(added.values()) and work is not None and \
            not any(i.value for i in work):
        return []
    parts, values = [], {}
    for key, c in cv.CONVENTIONS.items():
        n = cv.layer_count(key, row, ins)
        values[key] = n
        if key == "everything":
            by_cat = lg.ledger(row, ins)
            how = "unknown (an opaque layer: left out)" if work is None else \
                " + ".join(f"{cat} {by_cat[cat]:,}" for cat in lg.CATEGORIES if by_cat[cat])
            parts.append("everything " + (f"{how} = {n:,}" if how else "0 (no arithmetic)")
                         if work is not None else f"everything {how}")
            continue
        extra = added[key]
        how = ("2·MACs" if c.factor == 2 else "MACs") + "".join(
            f" + {t.formula} ({t.what})" for t in extra)
        parts.append(f"{key} {how} = {n:,}")
    text = "; ".join(parts)       # (its numbers by convention are in ``values``)
    figs = [dv.Derivation("conventions", "by convention", text, "", text, values,
                          "torchvision and fvcore count MACs, flopcounter FLOPs, everything "
                          "operations")]
    return figs + ledger_figures(work or [])


def ledger_figures(work: list[Item]) -> list[dv.Derivation]:
    """A layer's operations by category, each term with its formula, and which conventions
    count which terms."""
    from . import ledger as lg
    work = [i for i in work if i.value]
    figs = []
    for cat in lg.CATEGORIES:
        mine = [i for i in work if i.category == cat]
        if not mine:
            continue
        figs.append(dv.Derivation(
            f"ops_{cat}", f"operations: {cat}", " + ".join(i.formula for i in mine),
            " + ".join(f"{i.value:,}" for i in mine), sum(i.value for i in mine), {},
            "; ".join(i.what for i in mine)))
    if not work:
        return figs
    groups: dict[tuple[str, ...], list[str]] = {}
    for i in work:
        groups.setdefault(i.by, []).append(i.what)
    said = []
    for by, whats in groups.items():
        names = ", ".join(by[:-1]) + " and " + by[-1] if len(by) > 1 else "".join(by)
        said.append(f"{names} count{'s' if len(by) == 1 else ''} " if by else
                    "everything alone adds ")
        said[-1] += ", ".join(whats)
    text = "; ".join(said)
    figs.append(dv.Derivation("ops_by", "counted by", text, "", text, {},
                              "everything counts all of these; flopcounter's 2 per product is "
                              "the products, their sums and one add more per output, a bias's "
                              "where there is one" if any("flopcounter" in i.by for i in work)
                              else "everything counts all of these"))
    return figs


def select(report: Report, net: Network, wanted: Sequence[str] | None) -> list[LayerRow]:
    """The rows asked for: all by default; names, ranges ``conv3..pool5`` (in layer order,
    both ends included) or block instance names (every layer inside)."""
    if not wanted:
        return list(report.layers)
    order = {row.name: i for i, row in enumerate(report.layers)}

    def span(name: str) -> tuple[int, int]:
        """First and last row of a layer, a block instance, or a group of instances named by
        their common prefix (``layer1`` for ``layer1.0``, ``layer1.1``)."""
        if name in order:
            return order[name], order[name]
        inside = [order[r.name] for r in report.layers
                  if any(s == name or s.startswith(name + ".") or s.startswith(name + "/")
                         for s in r.scope)]
        if not inside:
            raise _unknown(name, order, report)
        return min(inside), max(inside)

    picked: set[int] = set()
    for w in wanted:
        if ".." in w and w not in order:
            a, _, b = w.partition("..")
            if not a or not b:
                raise error(f"the range {w!r} needs both ends", OPTIONS,
                            hint="write first..last, e.g. conv3..pool5", kind="usage")
            (a0, _), (_, b1) = span(a), span(b)
            if b1 < a0:
                raise error(f"the range {w!r} runs backwards: {b} comes before {a}", OPTIONS,
                            hint=f"write {b}..{a}", kind="usage")
            picked.update(range(a0, b1 + 1))
        elif w in order:
            picked.add(order[w])
        else:
            lo, hi = span(w)
            picked.update(order[r.name] for r in report.layers[lo:hi + 1]
                          if r.scope and any(s == w or s.startswith((w + ".", w + "/"))
                                             for s in r.scope))
    return [report.layers[i] for i in sorted(picked)]


def _unknown(name: str, order: dict[str, int], report: Report) -> ArchcalcError:
    import difflib
    blocks = {s for r in report.layers for s in r.scope}
    names = list(order) + sorted(blocks)
    lower = {n.lower(): n for n in names}
    near = difflib.get_close_matches(name.lower(), list(lower), n=1)
    near = [lower[near[0]]] if near else []
    what = "layer or block" if blocks else "layer"      # a spec without blocks: layers only
    return error(f"no {what} named {name!r} in {report.name}", OPTIONS,
                 hint=(f"did you mean {near[0]!r}? " if near else "")
                 + "name layers as the summary lists them, a range a..b"
                 + (", or a block" if blocks else "") + " (a spec string of several words must "
                 'be quoted: "C3D64 M FC10")', kind="usage")


def explain(net: Network, report: Report, wanted: Sequence[str] | None = None
            ) -> list[LayerExplanation]:
    rows = {row.name: row for row in report.layers}
    return [explain_layer(row, net, report, rows) for row in select(report, net, wanted)]


# ---------------------------------------------------------------------------------------------
# the totals, in words

def _share(part: int, whole: int) -> str:
    if not whole or not part:
        return "0%"
    pct = 100 * part / whole
    return "<1%" if pct < 0.5 else f"{pct:.0f}%"


def _run(which: str, names: list[str], n: int) -> str:
    """``names``, the first (or last) layers of ``n``, in words: "the last layer (fc8)", "the
    first 2 of its 11 layers (C1, tanh1)", "the last 5 of its 11 layers (C5 … output)"."""
    k = len(names)
    if k == 1:
        return f"the {which} layer ({names[0]})" if n > 1 else f"its one layer ({names[0]})"
    listed = ", ".join(names) if k == 2 else f"{names[0]} … {names[-1]}"
    return f"the {which} {k} of its {n} layers ({listed})" if k < n else \
        f"all {n} of its layers ({listed})"


def where_it_sits(report: Report) -> list[str]:
    """The lectures' "most memory in the early convolutions, most parameters in the late fully
    connected layers", as sentences with this network's numbers: the shortest run of first layers
    that holds half the activation memory, the shortest run of last layers that holds half the
    parameters, and the share of each op kind."""
    rows, t = report.layers, report.totals
    # activations are the inference pass's: training-only layers (Layer.train_only) are left out
    run = [r for r in rows if not r.train_only] if t.train_only_activations else rows
    out = []
    if t.activations:
        acc, k = 0, 0
        while acc * 2 < t.activations:
            acc += run[k].activations
            k += 1
        if run[0].op == "input":        # the input is no layer (Report.layer_count)
            where = "the input alone" if k == 1 else \
                "the input and " + _run("first", [r.name for r in run[1:k]], len(run) - 1)
        else:
            where = _run("first", [r.name for r in run[:k]], len(run))
        out.append(f"Half the activation memory is in {where}: {acc:,} of "
                   f"{counted(t.activations, 'element')} ({_share(acc, t.activations)}).")
    if t.params:
        acc, k = 0, 0
        while acc * 2 < t.params:
            acc += rows[-1 - k].params
            k += 1
        names = [r.name for r in rows[len(rows) - k:]]
        out.append(f"Half the parameters are in {_run('last', names, report.layer_count)}: "
                   f"{acc:,} of {t.params:,} ({_share(acc, t.params)}).")
    kinds: dict[str, list[int]] = {}
    for r in rows:
        if r.params or r.activations:
            tally = kinds.setdefault(r.op, [0, 0, 0])
            tally[0] += r.params
            tally[1] += 0 if r.train_only else r.activations
            tally[2] += 1
    ranked = sorted(kinds.items(), key=lambda kv: -kv[1][0])
    parts = [f"{op} ({n}): {_share(p, t.params)} of the parameters, "
             f"{_share(a, t.activations)} of the activations"
             for op, (p, a, n) in ranked if p or a]
    if parts:
        out.append("By op: " + "; ".join(parts) + ".")
    return out


def top(report: Report, key: str, n: int = 3) -> list[tuple[str, int]]:
    """The ``n`` layers with most of ``key``; activations and MACs are the inference pass's
    (training-only layers left out), parameters every layer's."""
    rows = [r for r in report.layers if key == "params" or not r.train_only]
    return sorted(((r.name, getattr(r, key)) for r in rows if getattr(r, key)),
                  key=lambda x: -x[1])[:n]


def peak_text(net: Network, report: Report) -> str:
    """Where the peak of live activation memory happens and which tensors are alive then."""
    t, s = report.totals, report.settings
    alive = alive_while(net, report.layers, t.peak_layer)
    parts = ", ".join(f"{n} {e:,}" for n, e in sorted(alive.items(), key=lambda kv: -kv[1]))
    return (f"The peak of live activation memory, {human_bytes(t.peak_bytes)} at {s.dtype} and "
            f"batch {s.batch}, is reached while {t.peak_layer} runs; alive then "
            f"({counted(len(alive), 'buffer')}, elements per image): {parts} = "
            f"{counted(sum(alive.values()), 'element')} × "
            f"{s.batch} × {s.dtype_bytes} bytes.")


def totals_text(report: Report, net: Network | None = None) -> list[str]:
    t = report.totals
    lines = where_it_sits(report)
    if net is not None and t.peak_layer:
        lines.append(peak_text(net, report))
    for label, key, whole in (("Most parameters", "params", t.params),
                              ("Most activation memory", "activations", t.activations)):
        most = top(report, key)
        if most:
            lines.append(f"{label}: " + ", ".join(f"{n} {v:,} ({_share(v, whole)})"
                                                  for n, v in most) + ".")
    if t.train_only_params or t.train_only_macs:
        lines.append(f"Training only (layers marked train_only, not run in inference): "
                     f"{counted(t.train_only_params, 'parameter')} "
                     f"({_share(t.train_only_params, t.params)} of all), "
                     f"{counted(t.train_only_macs, 'MAC')} and "
                     f"{counted(t.train_only_activations, 'activation element')}, on top of the "
                     "inference figures above.")
    return lines
