"""What changed between two networks (``archcalc diff A B``), as plain data.

:func:`diff` aligns the rows of two Reports and returns a :class:`Diff`: the totals' deltas
first (parameters, MACs, activations, peak memory, receptive field at the output), then one
:class:`RowChange` per layer that was added, removed or changed (attribute by attribute, each
figure before → after). Every figure is read from the Reports; the only arithmetic here is
subtraction and percentages. ``Diff.to_dict()`` is the JSON document (``DIFF_SCHEMA``);
:func:`check_gates` evaluates ``--fail-on`` gates. The views (plain text, rich, Markdown,
JSON) are this module's ``render_*`` functions, so that the command imports one module.

Alignment (docs/review.md, "diff"):

1. by name: a layer's full name carries its block instances (``layer1.0/conv1``), so equal
   names are the same layer in the same block;
2. by structure, for the rows left over, within each stretch between two name-aligned rows
   (taken in both networks' topological order, keeping the longest run of name matches that is
   in order on both sides): first equal (op, attributes) signatures, matched as difflib's
   SequenceMatcher matches blocks (the longest run of equal signatures, then the same on each
   side of it: close to a longest common subsequence), then, between those, rows left over
   that have the same op sequence on both sides, one to one, in order;
3. what is left is removed (only in A) or added (only in B).

The same is done by structure alone (only the input rows matched by name), and where that
explains the change with fewer added, removed and changed rows it wins: names a spec string
gives by position (conv1, conv2, ...) shift when a layer is inserted.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, List, Optional, Sequence

from .report import LayerRow, Report, public_attrs

DIFF_SCHEMA = 1      # version of the diff's JSON document

FIGURES = ("output", "params", "macs", "activations", "rf")


# ---------------------------------------------------------------------------------------------
# the data

@dataclass(frozen=True)
class Change:
    """One attribute (or the op, the inputs, the name) of a layer, before → after; a missing
    attribute is None."""
    key: str
    before: Any
    after: Any

    def to_dict(self) -> dict:
        return {"key": self.key, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class RowChange:
    """One row of the alignment. ``status``: "added" (only in B), "removed" (only in A),
    "changed" (its op, an attribute, its inputs or one of its own figures: output volume,
    params, MACs, activations), "renumbered" (nothing but the number closing its name changed,
    conv2 → conv3: see :func:`renumbered`), "rf" (nothing but its receptive field changed: a
    consequence of a change upstream) or "same"; ``matched``: "name" or "structure" for rows
    in both. ``changes``: the attribute changes; ``figures``: figure → (before, after) for every
    figure (None on the side a row is missing from)."""
    status: str
    a: LayerRow | None
    b: LayerRow | None
    matched: str | None = None
    changes: tuple[Change, ...] = ()

    @property
    def name(self) -> str:
        return (self.b or self.a).name

    @property
    def figures(self) -> dict[str, tuple]:
        return {f: (_figure(self.a, f), _figure(self.b, f)) for f in FIGURES}

    def delta(self, figure: str) -> int:
        """B − A of a count (params, macs, activations); a missing side counts 0."""
        before, after = self.figures[figure]
        return (after or 0) - (before or 0)

    def to_dict(self) -> dict:
        return {"status": self.status, "name": self.name,
                "name_before": self.a.name if self.a else None,
                "name_after": self.b.name if self.b else None,
                "op_before": self.a.op if self.a else None,
                "op_after": self.b.op if self.b else None,
                "matched": self.matched,
                "changes": [c.to_dict() for c in self.changes],
                "figures": {f: {"before": _jsonable(b), "after": _jsonable(a)}
                            for f, (b, a) in self.figures.items()},
                "delta": {f: self.delta(f) for f in ("params", "macs", "activations")}}


@dataclass(frozen=True)
class Delta:
    """A total before → after. ``key``: params, buffers, macs, activations, activation_bytes,
    peak_bytes, param_bytes, training_bytes or rf (the receptive field's side at the output,
    see :func:`output_rf`; None where a network has no local one). ``where``: for rf, the
    layer on each side; for peak_bytes, the layer where the peak occurs on each side."""
    key: str
    label: str
    before: int | None
    after: int | None
    where: tuple[str | None, str | None] = (None, None)
    text: tuple[str, str] | None = None      # how the values read (rf: "212 /32")

    @property
    def change(self) -> int | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def percent(self) -> float | None:
        """Relative change in percent; None where it has no meaning (before is 0 or None)."""
        if self.change is None or not self.before:
            return None
        return 100.0 * self.change / self.before

    def to_dict(self) -> dict:
        d = {"key": self.key, "label": self.label, "before": self.before, "after": self.after,
             "change": self.change,
             "percent": None if self.percent is None else round(self.percent, 4)}
        if any(self.where):
            d["layer_before"], d["layer_after"] = self.where
        if self.text:
            d["text_before"], d["text_after"] = self.text
        return d


@dataclass(frozen=True)
class Diff:
    """Two networks compared: ``totals`` (Delta per figure), ``rows`` (every aligned row in a
    merged order: B's order, a removed row after the row before it in A),
    ``diagnostics_removed`` / ``diagnostics_added``: warnings only A has, only B has (the same
    warning with other numbers in it is neither)."""
    a: Report
    b: Report
    totals: tuple[Delta, ...]
    rows: tuple[RowChange, ...]
    depth: int | None = None
    diagnostics_removed: tuple = ()
    diagnostics_added: tuple = ()
    sources: tuple[str | None, str | None] = (None, None)

    def _having(self, status: str) -> list[RowChange]:
        return [r for r in self.rows if r.status == status]

    @property
    def added(self) -> list[RowChange]:
        return self._having("added")

    @property
    def removed(self) -> list[RowChange]:
        return self._having("removed")

    @property
    def changed(self) -> list[RowChange]:
        return self._having("changed")

    @property
    def rf_only(self) -> list[RowChange]:
        """Rows whose receptive field alone changed (a layer added or changed upstream)."""
        return self._having("rf")

    @property
    def renumbered(self) -> list[RowChange]:
        """Rows whose name's closing number alone changed (conv2 → conv3)."""
        return self._having("renumbered")

    @property
    def unchanged(self) -> list[RowChange]:
        return self._having("same")

    @property
    def renamed(self) -> list[RowChange]:
        """Rows matched by structure under another name (renumbered ones included)."""
        return [r for r in self.rows if r.matched == "structure" and r.a.name != r.b.name]

    @property
    def identical(self) -> bool:
        """No layer added, removed or changed and every total equal."""
        return (not (self.added or self.removed or self.changed or self.rf_only
                     or self.renumbered)
                and all(d.change in (0, None) and d.before == d.after for d in self.totals))

    def total(self, key: str) -> Delta:
        return next(d for d in self.totals if d.key == key)

    def counts(self) -> dict:
        return {"added": len(self.added), "removed": len(self.removed),
                "changed": len(self.changed), "renumbered": len(self.renumbered),
                "rf_only": len(self.rf_only),
                "unchanged": len(self.unchanged),
                "matched_by_name": sum(r.matched == "name" for r in self.rows),
                "matched_by_structure": sum(r.matched == "structure" for r in self.rows)}

    def to_dict(self) -> dict:
        return {"schema": DIFF_SCHEMA,
                "a": {"name": self.a.name, "source": self.sources[0],
                      "input": list(self.a.input)},
                "b": {"name": self.b.name, "source": self.sources[1],
                      "input": list(self.b.input)},
                "depth": self.depth, "identical": self.identical,
                "settings": self.a.settings.to_dict(),
                "totals": [d.to_dict() for d in self.totals],
                "counts": self.counts(),
                "layers": [r.to_dict() for r in self.rows if r.status != "same"],   # rf too
                "diagnostics": {"removed": [d.to_dict() for d in self.diagnostics_removed],
                                "added": [d.to_dict() for d in self.diagnostics_added]}}


def _jsonable(v):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


def _figure(row: LayerRow | None, figure: str):
    if row is None:
        return None
    if figure == "output":
        return tuple(row.output)
    if figure == "rf":
        return row.rf.text()
    return getattr(row, figure)


# ---------------------------------------------------------------------------------------------
# alignment

def _signature(row: LayerRow, inner: dict) -> tuple:
    attrs = public_attrs(row.attrs)
    if row.op == "block":                     # a folded block: what it holds
        attrs = {"layers": inner.get(row.name, ())}
    return (row.op, json.dumps(attrs, sort_keys=True, default=str))


def _inner(report: Report, depth: int | None) -> dict[str, tuple]:
    """Folded block instance → the (op, attributes) of the layers it holds."""
    if depth is None:
        return {}
    out: dict[str, list] = {}
    for row in report.layers:
        if len(row.scope) > depth:
            out.setdefault(row.scope[depth], []).append(
                (row.op, json.dumps(public_attrs(row.attrs), sort_keys=True, default=str)))
    return {k: tuple(v) for k, v in out.items()}


def _in_order(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of (i, j) pairs (sorted by i) increasing in j."""
    import bisect
    tails: list[int] = []           # index into pairs of the last pair of each run length
    back: list[int] = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        pos = bisect.bisect_left([pairs[t][1] for t in tails], j)
        back[k] = tails[pos - 1] if pos else -1
        if pos == len(tails):
            tails.append(k)
        else:
            tails[pos] = k
    out, k = [], tails[-1] if tails else -1
    while k >= 0:
        out.append(pairs[k])
        k = back[k]
    return out[::-1]


def align(rows_a: Sequence[LayerRow], rows_b: Sequence[LayerRow],
          sig_a: Sequence[tuple], sig_b: Sequence[tuple], names: bool = True
          ) -> list[tuple[int | None, int | None, str | None]]:
    """(index in A or None, index in B or None, "name" | "structure" | None) for every row of
    both, in a merged order (see the module's docstring for the rule). ``names`` False: by
    structure alone (only the input rows are matched by name)."""
    where_b = {r.name: j for j, r in enumerate(rows_b)}
    by_name = [(i, where_b[r.name]) for i, r in enumerate(rows_a) if r.name in where_b
               and (names or r.op == "input")]
    match: dict[int, tuple[int, str]] = {i: (j, "name") for i, j in by_name}
    taken_b = {j for _, j in by_name}
    anchors = _in_order(by_name)
    bounds = [(-1, -1), *anchors, (len(rows_a), len(rows_b))]
    for (i0, j0), (i1, j1) in zip(bounds, bounds[1:]):
        ga = [i for i in range(i0 + 1, i1) if i not in match]
        gb = [j for j in range(j0 + 1, j1) if j not in taken_b]
        if not ga or not gb:
            continue
        sm = SequenceMatcher(None, [sig_a[i] for i in ga], [sig_b[j] for j in gb],
                             autojunk=False)
        pa = pb = 0
        for blk in [*sm.get_matching_blocks()]:
            # the stretch before this block: same op sequence → one to one
            sa, sb = ga[pa:blk.a], gb[pb:blk.b]
            if sa and [sig_a[i][0] for i in sa] == [sig_b[j][0] for j in sb]:
                for i, j in zip(sa, sb):
                    match[i] = (j, "structure")
                    taken_b.add(j)
            for k in range(blk.size):
                match[ga[blk.a + k]] = (gb[blk.b + k], "structure")
                taken_b.add(gb[blk.b + k])
            pa, pb = blk.a + blk.size, blk.b + blk.size
    # merged order: B's, each A row not in B placed after the A row before it
    a_of_b = {j: i for i, (j, _) in match.items()}
    out: list[tuple[int | None, int | None, str | None]] = []
    next_a = 0
    emitted = set()
    for j in range(len(rows_b)):
        i = a_of_b.get(j)
        if i is not None:
            while next_a < i:
                if next_a not in match and next_a not in emitted:
                    out.append((next_a, None, None))
                    emitted.add(next_a)
                next_a += 1
            out.append((i, j, match[i][1]))
        else:
            out.append((None, j, None))
    for i in range(len(rows_a)):
        if i not in match and i not in emitted:
            out.append((i, None, None))
    return out


def _changes(a: LayerRow, b: LayerRow, rename: dict[str, str], inner_a: dict,
             inner_b: dict) -> tuple[Change, ...]:
    out = []
    if a.name != b.name:
        out.append(Change("name", a.name, b.name))
    if a.op != b.op:
        out.append(Change("op", a.op, b.op))
    if a.op == "block" and b.op == "block":
        la, lb = inner_a.get(a.name, ()), inner_b.get(b.name, ())
        if len(la) != len(lb):
            out.append(Change("layers", len(la), len(lb)))
        elif la != lb:
            differ = sum(x != y for x, y in zip(la, lb))
            out.append(Change("layers", f"{len(la)} layers",
                              f"{differ} of {len(lb)} layers differ"))
    else:
        pa, pb = public_attrs(a.attrs), public_attrs(b.attrs)
        for k in dict.fromkeys([*pa, *pb]):
            if pa.get(k) != pb.get(k):
                out.append(Change(k, pa.get(k), pb.get(k)))
    wired = tuple(rename.get(s, f"{s} (removed)") for s in a.inputs)
    if wired != tuple(b.inputs):
        out.append(Change("inputs", list(a.inputs), list(b.inputs)))
    if a.train_only != b.train_only:
        out.append(Change("train_only", a.train_only, b.train_only))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# totals

TOTALS = (("params", "parameters"), ("buffers", "buffers"), ("macs", "MACs"),
          ("activations", "activations"), ("activation_bytes", "activation memory"),
          ("peak_bytes", "peak activation memory"), ("param_bytes", "weights (bytes)"),
          ("training_bytes", "training estimate"))


def output_rf(report: Report, outputs: Sequence[str] | None = None) -> tuple[str, Any] | None:
    """(layer, RF) of the receptive field "at the output": for each output layer the RF of the
    output, or where it is global (a classifier's), of the last layer before it (walking back
    along first inputs) whose RF is local; of several outputs, the largest. None where there is
    no local RF at all."""
    by_name = {r.name: r for r in report.layers}
    if not outputs:
        read = {s for r in report.layers for s in r.inputs}
        outputs = [r.name for r in report.layers
                   if r.name not in read and r.op != "input" and not r.train_only]
    best = None
    for name in outputs:
        row = by_name.get(name)
        while row is not None and row.rf.is_global:
            row = by_name.get(row.inputs[0]) if row.inputs else None
        if row is not None and (best is None or max(row.rf.size) > max(best.rf.size)):
            best = row
    return None if best is None else (best.name, best.rf)


def _totals(a: Report, b: Report, out_a, out_b) -> tuple[Delta, ...]:
    out = []
    for key, label in TOTALS:
        before, after = getattr(a.totals, key), getattr(b.totals, key)
        where = (a.totals.peak_layer, b.totals.peak_layer) if key == "peak_bytes" else (None, None)
        out.append(Delta(key, label, before, after, where))
    ra, rb = output_rf(a, out_a), output_rf(b, out_b)
    out.append(Delta("rf", "receptive field at the output",
                     max(ra[1].size) if ra else None, max(rb[1].size) if rb else None,
                     (ra[0] if ra else None, rb[0] if rb else None),
                     (ra[1].text() if ra else "global", rb[1].text() if rb else "global")))
    return tuple(out)


def _diag_key(d, rename: dict | None = None) -> tuple:
    """What makes two diagnostics the same finding: severity, layer (A's named as in B) and the
    message with its numbers and layer name left out (a warning whose percentages moved with
    the change is still the same warning; it is not listed as gone and new)."""
    text = re.sub(r"\d[\d,.]*", "#", d.message)
    if d.layer:
        text = text.replace(d.layer, "<layer>")
    layer = (rename or {}).get(d.layer, d.layer)
    return (d.severity, layer, text)


def diff(report_a: Report, report_b: Report, net_a=None, net_b=None,
         depth: int | None = None, sources: tuple[str | None, str | None] = (None, None)) -> Diff:
    """Compare two analyzed networks. ``net_a``/``net_b`` (the Networks) give the declared
    outputs for the receptive field at the output (without them, the layers nothing reads);
    ``depth`` folds block instances deeper than it on both sides before aligning."""
    rows_a, rows_b = report_a.rows(depth), report_b.rows(depth)
    inner_a, inner_b = _inner(report_a, depth), _inner(report_b, depth)
    sig_a = [_signature(r, inner_a) for r in rows_a]
    sig_b = [_signature(r, inner_b) for r in rows_b]
    out = _rows(rows_a, rows_b, align(rows_a, rows_b, sig_a, sig_b), inner_a, inner_b)
    cost = _cost(out)
    if cost and len(rows_a) + len(rows_b) <= STRUCTURE_ONLY_LIMIT:
        # names given by position (a spec string's conv1, conv2, ...) shift when a layer is
        # inserted: where structure alone explains the change with fewer rows, it wins
        other = _rows(rows_a, rows_b, align(rows_a, rows_b, sig_a, sig_b, names=False),
                      inner_a, inner_b)
        if _cost(other) < cost:
            out = other
    rename = {r.a.name: r.b.name for r in out if r.a is not None and r.b is not None}
    da = {_diag_key(d, rename) for d in report_a.diagnostics}
    db = {_diag_key(d) for d in report_b.diagnostics}
    return Diff(report_a, report_b,
                _totals(report_a, report_b, net_a.outputs if net_a is not None else None,
                        net_b.outputs if net_b is not None else None),
                tuple(out), depth,
                tuple(d for d in report_a.diagnostics if _diag_key(d, rename) not in db),
                tuple(d for d in report_b.diagnostics if _diag_key(d) not in da),
                sources)


STRUCTURE_ONLY_LIMIT = 4_000      # rows of both networks up to which structure alone is tried
_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def renumbered(a: str, b: str) -> bool:
    """``conv2`` → ``conv3``, ``stage1/relu4`` → ``stage1/relu5``: the same name but for its
    closing number, as names that archcalc gives by position shift when a layer is inserted."""
    ma, mb = _NUMBERED.match(a), _NUMBERED.match(b)
    return bool(ma and mb and ma.group(1) == mb.group(1) and ma.group(1)[-1:].isalpha())


def _cost(rows: Sequence[RowChange]) -> int:
    """Rows added, removed or changed: what an alignment leaves a reviewer to read."""
    return sum(r.status in ("added", "removed", "changed") for r in rows)


def _rows(rows_a, rows_b, pairs, inner_a, inner_b) -> list[RowChange]:
    rename = {rows_a[i].name: rows_b[j].name for i, j, _ in pairs
              if i is not None and j is not None}
    out = []
    for i, j, how in pairs:
        if j is None:
            out.append(RowChange("removed", rows_a[i], None))
        elif i is None:
            out.append(RowChange("added", None, rows_b[j]))
        else:
            a, b = rows_a[i], rows_b[j]
            changes = _changes(a, b, rename, inner_a, inner_b)
            figures = any(_figure(a, f) != _figure(b, f) for f in FIGURES if f != "rf")
            if not figures and [c.key for c in changes] == ["name"] and \
                    renumbered(a.name, b.name):
                status = "renumbered"
            elif changes or figures:
                status = "changed"
            else:
                status = "rf" if _figure(a, "rf") != _figure(b, "rf") else "same"
            out.append(RowChange(status, a, b, how, changes))
    return out


# ---------------------------------------------------------------------------------------------
# gates (--fail-on)

GATE_METRICS = {"params": "params", "macs": "macs", "activations": "activations",
                "peak": "peak_bytes", "rf": "rf"}
GATE_GRAMMAR = ("METRIC OP [+|-]NUMBER[%|K|M|G|Ki|Mi|Gi], METRIC one of params, macs, "
                "activations, peak, rf; OP one of > >= < <=; e.g. params>+5%, macs>+1G, "
                "peak>=+10Mi, rf<-10%")
_GATE = re.compile(r"^\s*([a-zA-Z_]+)\s*(>=|<=|>|<)\s*([+-]?)\s*(\d+(?:\.\d*)?|\.\d+)\s*"
                   r"(%|[kKmMgG]i?)?\s*$")
_SCALE = {"k": 10**3, "m": 10**6, "g": 10**9, "ki": 2**10, "mi": 2**20, "gi": 2**30}


@dataclass(frozen=True)
class Gate:
    """``--fail-on`` gate: trips when the change of ``metric`` (relative in percent where
    ``relative``, else absolute) compares to ``limit`` as ``op`` says."""
    text: str
    metric: str
    op: str
    limit: float
    relative: bool

    def to_dict(self) -> dict:
        return {"gate": self.text, "metric": self.metric, "op": self.op, "limit": self.limit,
                "relative": self.relative}


def parse_gate(text: str) -> Gate:
    """``params>+5%`` → Gate; a malformed gate raises ValueError naming what is wrong."""
    m = _GATE.match(text)
    if not m:
        raise ValueError(f"cannot read the gate {text!r}")
    metric, op, sign, number, unit = m.groups()
    metric = metric.lower()
    if metric not in GATE_METRICS:
        raise ValueError(f"unknown metric {metric!r} in the gate {text!r}")
    value = float(number) * (_SCALE[unit.lower()] if unit and unit != "%" else 1)
    return Gate(text.strip(), metric, op, -value if sign == "-" else value, unit == "%")


_OPS = {">": lambda x, y: x > y, ">=": lambda x, y: x >= y, "<": lambda x, y: x < y,
        "<=": lambda x, y: x <= y}


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    tripped: bool
    message: str

    def to_dict(self) -> dict:
        return {**self.gate.to_dict(), "tripped": self.tripped, "message": self.message}


def _amount(d: Delta, value: float, relative: bool) -> str:
    if relative:
        return f"{value:+.2f}%"
    unit = " B" if d.key.endswith("bytes") else ""
    return f"{value:+,.0f}{unit}"


def check_gates(d: Diff, gates: Sequence[Gate]) -> list[GateResult]:
    """Each gate evaluated on the diff's totals. A gate on a figure that one side lacks (rf of a
    network without a local receptive field), or a relative gate on a figure that was 0, trips:
    a CI job is told it cannot be checked rather than passed."""
    out = []
    for g in gates:
        t = d.total(GATE_METRICS[g.metric])
        what = f"{t.label} {_value_text(t, 0)} → {_value_text(t, 1)}"
        if t.change is None or (g.relative and t.percent is None and t.change):
            out.append(GateResult(g, True, f"{g.text}: cannot be checked ({what})"))
            continue
        value = (t.percent or 0.0) if g.relative else float(t.change)
        tripped = _OPS[g.op](value, g.limit)
        where = _largest(d, t.key) if tripped else ""
        out.append(GateResult(g, tripped,
                              f"{g.text}: {what}, a change of {_amount(t, value, g.relative)}"
                              f" (limit {g.op} {_amount(t, g.limit, g.relative)})"
                              + (f"; largest: {where}" if where else "")))
    return out


def largest_changes(d: Diff, figure: str, n: int = 3) -> list[tuple[str, int]]:
    """The ``n`` rows (a block added or removed whole counted as one) whose ``figure`` (params,
    macs or activations) changed most, as (name, change), largest magnitude first."""
    blocks = whole_blocks(d)
    sums: dict[str, int] = {}
    for r in d.rows:
        change = r.delta(figure)
        if change:
            key = blocks[r.name][0] if r.name in blocks else r.name
            sums[key] = sums.get(key, 0) + change
    return sorted(sums.items(), key=lambda kv: -abs(kv[1]))[:n]


def _largest(d: Diff, key: str) -> str:
    if key not in ("params", "macs", "activations"):
        return ""
    return ", ".join(f"{name} {_signed(change)}" for name, change in largest_changes(d, key))


# ---------------------------------------------------------------------------------------------
# views

def _count(n) -> str:
    return "" if n is None else f"{n:,}"


def _value_text(t: Delta, side: int) -> str:
    """The total's value on ``side`` (0: A, 1: B) as the views show it."""
    if t.key == "rf":
        return t.text[side]
    v = (t.before, t.after)[side]
    if v is None:
        return "—"
    if t.key.endswith("bytes"):
        from .views import human_bytes
        return f"{human_bytes(v)}" + ("" if v < 1024 else f" ({v:,} B)")
    return f"{v:,}"


def _change_text(t: Delta) -> str:
    if t.change is None:
        return "n/a"
    if t.change == 0:
        return "="
    unit = " B" if t.key.endswith("bytes") else ""
    pct = "" if t.percent is None else \
        f" ({t.percent:+.1f}%)" if abs(t.percent) >= 0.05 else \
        f" ({t.percent:+.3f}%)" if abs(t.percent) >= 0.0005 else " (≈0%)"
    return f"{t.change:+,}{unit}{pct}".replace("-", "−")


def totals_rows(d: Diff) -> list[list[str]]:
    """[label, before, after, change] per total (the rf row names its layers)."""
    rows = []
    for t in d.totals:
        label = t.label
        if t.key == "rf" and any(t.where):
            wa, wb = t.where
            label += f" ({wa})" if wa == wb else f" ({wa} → {wb})"
        if t.key == "peak_bytes" and t.where[0] != t.where[1]:
            label += f" (at {t.where[0]} → {t.where[1]})"
        elif t.key == "peak_bytes":
            label += f" (at {t.where[0]})"
        rows.append([label, _value_text(t, 0), _value_text(t, 1), _change_text(t)])
    return rows


def _arrow(before, after, fmt=str) -> str:
    if before is None:
        return fmt(after)
    if after is None:
        return fmt(before)
    return fmt(before) if before == after else f"{fmt(before)} → {fmt(after)}"


def _vol(v) -> str:
    return "" if v is None else f"{v[0]}×{v[1]}×{v[2]}"


def _value(v) -> str:
    if isinstance(v, list):
        return "×".join(str(x) for x in v) if all(isinstance(x, int) for x in v) and \
            len(v) == 2 else ", ".join(str(x) for x in v)
    return "—" if v is None else str(v)


def _signed(n: int) -> str:
    return "" if not n else f"{n:+,}".replace("-", "−")


ROW_HEADERS = ("", "layer", "op", "changes", "output", "params", "Δparams", "MACs", "ΔMACs",
               "activations", "RF")
ROW_JUSTIFY = ("left", "left", "left", "left", "right", "right", "right", "right", "right",
               "right", "right")
MARK = {"added": "+", "removed": "−", "changed": "~"}


def whole_blocks(d: Diff) -> dict[str, tuple[str, LayerRow]]:
    """Block instances added or removed whole (every row of the instance only in B, or only in
    A), outermost first: row name → (block instance, the block as one row, folded by the
    Report's own ``fold``). The table and Markdown views show such a block as one row."""
    from .report import fold
    out: dict[str, tuple[str, LayerRow]] = {}
    for status, rep in (("added", d.b), ("removed", d.a)):
        side = [(r.b if status == "added" else r.a, r.status) for r in d.rows]
        side = [(row, st) for row, st in side if row is not None]
        if not any(st == status for _, st in side):
            continue
        whole: dict[tuple[int, str], bool] = {}      # (level, instance) → all rows have status
        members: dict[tuple[int, str], list[str]] = {}
        for row, st in side:
            for i, key in enumerate(row.scope):
                whole[i, key] = whole.get((i, key), True) and st == status
                members.setdefault((i, key), []).append(row.name)
        layers: dict[tuple[int, str], list[LayerRow]] = {}
        for x in rep.layers:
            for i, key in enumerate(x.scope):
                if whole.get((i, key)):
                    layers.setdefault((i, key), []).append(x)
        for row, st in side:
            if st != status or row.name in out:
                continue
            for i, key in enumerate(row.scope):       # the outermost instance added whole
                if whole[i, key]:
                    block = fold(layers[i, key], i, rep.block_outputs)[0]
                    for name in members[i, key]:
                        out[name] = (key, block)
                    break
    return out


def layer_rows(d: Diff, fold_blocks: bool = True) -> list[list[str]]:
    """One row of text cells (ROW_HEADERS) per added, removed or changed layer; with
    ``fold_blocks``, one row for a block instance added or removed whole."""
    out = []
    blocks = whole_blocks(d) if fold_blocks else {}
    shown: set[str] = set()
    for r in d.rows:
        if r.status in ("same", "rf", "renumbered"):
            continue
        if r.status in ("added", "removed") and r.name in blocks:
            key, block = blocks[r.name]
            if key in shown:
                continue
            shown.add(key)
            r = RowChange(r.status, None if r.status == "added" else block,
                          block if r.status == "added" else None)
        f = r.figures
        name = r.name if not (r.a and r.b and r.a.name != r.b.name) else \
            f"{r.a.name} → {r.b.name}"
        op = _arrow(r.a.op if r.a else None, r.b.op if r.b else None)
        if r.status in ("added", "removed"):
            row = r.b or r.a
            changes = f"{r.status}" + (f": {row.detail}" if row.detail else "")
        else:
            changes = "; ".join(f"{c.key} {_value(c.before)} → {_value(c.after)}"
                                for c in r.changes if c.key != "name")
            if r.matched == "structure":
                changes = "(matched by structure) " + changes
        out.append([MARK[r.status], name, op, changes.strip(),
                    _arrow(*f["output"], _vol), _arrow(*f["params"], _count),
                    _signed(r.delta("params")), _arrow(*f["macs"], _count),
                    _signed(r.delta("macs")), _arrow(*f["activations"], _count),
                    _arrow(*f["rf"])])
    return out


def _title(d: Diff) -> str:
    def side(rep, src):
        return rep.name + (f" ({src})" if src and src != rep.name else "")
    return f"diff: {side(d.a, d.sources[0])} → {side(d.b, d.sources[1])}"


def summary_line(d: Diff) -> str:
    c = d.counts()
    if d.identical:
        return "no differences: every layer and every total is the same"
    renamed = len(d.renamed)
    blocks = whole_blocks(d)

    def whole(status: str) -> str:
        n = len({blocks[r.name][0] for r in d.rows if r.status == status and r.name in blocks})
        return f" ({n} whole block{'s' * (n != 1)})" if n else ""
    line = (f"layers: {c['changed']} changed, {c['added']} added{whole('added')}, "
            f"{c['removed']} removed{whole('removed')}, "
            f"{c['unchanged'] + c['rf_only'] + c['renumbered']} unchanged" +
            (f" ({renamed} renamed, matched by structure)" if renamed else ""))
    if c["rf_only"] or c["renumbered"]:
        line += "; of the unchanged (not listed), " + " and ".join(
            ([f"{c['renumbered']} only renumbered ({d.renumbered[0].a.name} → "
              f"{d.renumbered[0].b.name}: names given by position)"] if c["renumbered"] else [])
            + ([f"{c['rf_only']} see another receptive field through a change upstream"]
               if c["rf_only"] else []))
    return line


def _diag_lines(d: Diff) -> list[str]:
    from .views import diag_line
    return ([f"new in B: {diag_line(x)}" for x in d.diagnostics_added]
            + [f"gone from A: {diag_line(x)}" for x in d.diagnostics_removed])


def render_text(d: Diff, gates: Sequence[GateResult] = ()) -> str:
    """Plain text (for pipes and files): title, totals (before, after, change), the summary
    line, the changed rows, diagnostics that appeared or went, the gates."""
    from .views import plain_table
    out = plain_table(_title(d), ["total", "A", "B", "change"],
                      ["left", "right", "right", "right"], totals_rows(d))
    out += "\n" + summary_line(d) + "\n"
    rows = layer_rows(d)
    if rows:
        out += "\n" + plain_table("layers (+ added, − removed, ~ changed)", ROW_HEADERS,
                                  ROW_JUSTIFY, rows)
    lines = _diag_lines(d) + [("FAILED " if g.tripped else "passed ") + g.message
                              for g in gates]
    if lines:
        out += "\n" + "".join(line + "\n" for line in lines)
    return out


def render_rich(d: Diff, gates: Sequence[GateResult] = (), console=None) -> None:
    """The same on a terminal, with rich tables (printed at their own width: never cut)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from .views import _width
    console = console or Console()

    def show(table):
        need = _width(console, table)
        c = console if need <= console.width else Console(
            width=need, file=console.file, force_terminal=console.is_terminal,
            no_color=console.no_color)
        c.print(table)

    t = Table(title=_title(d), title_justify="left", box=box.HEAVY_HEAD)
    for h, j in zip(["total", "A", "B", "change"], ["left", "right", "right", "right"]):
        t.add_column(h, justify=j, no_wrap=True)
    for row, delta in zip(totals_rows(d), d.totals):
        style = None if not delta.change else ("red" if delta.change > 0 else "green")
        t.add_row(*row[:3], f"[{style}]{row[3]}[/]" if style else row[3])
    show(t)
    console.print(summary_line(d), style="bold", highlight=False)
    rows = layer_rows(d)
    if rows:
        t = Table(box=box.SIMPLE_HEAD, title="layers (+ added, − removed, ~ changed)",
                  title_justify="left")
        for h, j in zip(ROW_HEADERS, ROW_JUSTIFY):
            t.add_column(h, justify=j, no_wrap=True)
        color = {"+": "green", "−": "red", "~": "yellow"}
        for row in rows:
            t.add_row(*row, style=color[row[0]])
        show(t)
    for line in _diag_lines(d):
        console.print(line, style="yellow", highlight=False, markup=False)
    for g in gates:
        console.print(("FAILED " if g.tripped else "passed ") + g.message,
                      style="bold red" if g.tripped else "green", highlight=False, markup=False)


def render_markdown(d: Diff, gates: Sequence[GateResult] = ()) -> str:
    """For a pull request: the totals table, the summary line, the changed rows, the rest."""
    from .views import md_cell
    out = [f"## {md_cell(_title(d))}", "", "| total | A | B | change |", "|---|---:|---:|---:|"]
    out += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in totals_rows(d)]
    out += ["", md_cell(summary_line(d))]
    rows = layer_rows(d)
    if rows:
        out += ["", "| " + " | ".join(h or "±" for h in ROW_HEADERS) + " |",
                "|" + "|".join("---" if j == "left" else "---:" for j in ROW_JUSTIFY) + "|"]
        out += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    lines = _diag_lines(d) + [("**FAILED** " if g.tripped else "passed ") + g.message
                              for g in gates]
    if lines:
        out.append("")
        out += [f"- {md_cell(line)}" for line in lines]
    return "\n".join(out) + "\n"


def render_json(d: Diff, gates: Sequence[GateResult] = ()) -> str:
    doc = d.to_dict()
    doc["gates"] = [g.to_dict() for g in gates]
    doc["ok"] = not any(g.tripped for g in gates)
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str)


# ---------------------------------------------------------------------------------------------
# the command (archcalc.cli registers it; built on demand, so that importing this module for
# the data does not import typer)

def command():
    """The ``archcalc diff`` command function, for ``archcalc.cli.build_app``."""
    import sys

    import typer

    from . import analysis
    from .cli_common import (BATCH, DOUBLE, DTYPE, FILTERS, INPLACE, INPUT, OPTIMIZER, ROUNDING,
                             STDIN, analysis_options, choice, guarded, load_one, whole)
    from .errors import OPTIONS, ArchcalcError, Diagnostic

    @guarded
    def diff_cmd(
        a: str = typer.Argument(..., metavar="A", show_default=False,
                                help="the network before: any SPEC (file, shipped name, "
                                     "string, -)"),
        b: str = typer.Argument(..., metavar="B", show_default=False,
                                help="the network after: any SPEC"),
        input: Optional[str] = INPUT,
        filters: Optional[str] = FILTERS,
        double_after_pool: Optional[bool] = DOUBLE,
        rounding: Optional[str] = ROUNDING,
        column: Optional[List[str]] = typer.Option(
            None, "--column", "-c", metavar="NAME", help="for a column table: the network to "
            "use; given twice, the first is A's and the second B's"),
        format: str = typer.Option("table", "--format", "-F", metavar="FORMAT",
                                   help="table, json or markdown"),
        dtype: str = DTYPE,
        batch: str = BATCH,
        count_inplace: bool = INPLACE,
        optimizer: str = OPTIMIZER,
        depth: Optional[str] = typer.Option(None, "--depth", "-d", metavar="N",
                                            help="fold block instances nested deeper than this"),
        fail_on: Optional[List[str]] = typer.Option(
            None, "--fail-on", metavar="GATE", help="exit 1 when a total changes past a limit, "
            "e.g. params>+5%, macs>+1G, peak>=+10Mi, rf<-10% (repeatable)"),
    ):
        """What changed from A to B: the totals' deltas, then each layer added, removed or
        changed (attribute by attribute, figures before → after). Exit 0 whether or not they
        differ; 1 when a --fail-on gate trips or a spec has errors."""
        fmt = choice(format, ("table", "json", "markdown"), "--format")
        options = analysis_options(dtype, batch, optimizer)
        depth = whole(depth, "--depth", 0)
        columns = list(column or [])
        if len(columns) > 2:
            raise ArchcalcError(Diagnostic(
                "error", f"--column given {len(columns)} times", OPTIONS,
                hint="once for both specs, or twice: A's then B's"), 2)
        gates = []
        for g in fail_on or []:
            try:
                gates.append(parse_gate(g))
            except ValueError as exc:
                raise ArchcalcError(Diagnostic("error", f"--fail-on: {exc}", OPTIONS,
                                               hint=GATE_GRAMMAR), 2) from None
        if a == "-" and b == "-":
            raise ArchcalcError(Diagnostic("error", "standard input (-) can be read only once",
                                           OPTIONS), exit_code=2)
        got, problems = [], []
        for k, s in enumerate((a, b)):      # both specs are checked: all their errors at once
            col = columns[min(k, len(columns) - 1)] if columns else None
            try:
                net = load_one(s, input, filters, double_after_pool, rounding, col,
                               label=f"<spec {'AB'[k]}>")
                got.append((net, analysis.analyze(net, count_inplace=count_inplace, **options)))
            except ArchcalcError as exc:
                if exc.exit_code != 1:
                    raise
                problems.extend(exc.diagnostics)
                if exc.partial is not None:      # as validate: the layers that did build, too
                    found = {(d.pos, d.message) for d in exc.diagnostics}
                    problems.extend(d for d in analysis.diagnose(exc.partial)
                                    if d.severity == "error" and (d.pos, d.message) not in found)
        if problems:
            raise ArchcalcError(problems)
        (net_a, rep_a), (net_b, rep_b) = got
        result = diff(rep_a, rep_b, net_a, net_b, depth=depth,
                      sources=tuple(STDIN if s == "-" else s for s in (a, b)))
        checked = check_gates(result, gates)
        if fmt == "json":
            print(render_json(result, checked))
        elif fmt == "markdown":
            print(render_markdown(result, checked), end="")
        elif sys.stdout.isatty():
            render_rich(result, checked)
        else:
            print(render_text(result, checked), end="")
        tripped = [g for g in checked if g.tripped]
        if tripped:
            if fmt != "table":          # the table shows them; elsewhere stderr says why
                for g in tripped:
                    sys.stderr.write(f"<options>: error: --fail-on {g.message}\n")
            raise typer.Exit(1)

    return diff_cmd
