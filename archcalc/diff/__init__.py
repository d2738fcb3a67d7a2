"""What changed between two networks (``archcalc diff A B``), as plain data.

:func:`diff` aligns the rows of two Reports and returns a :class:`Diff`: the totals' deltas
first (parameters, MACs, activations, peak memory, receptive field at the output), then one
:class:`RowChange` per layer that was added, removed or changed (attribute by attribute, each
figure before → after). Every figure is read from the Reports; the only arithmetic here is
subtraction and percentages. ``Diff.to_dict()`` is the JSON document (``DIFF_SCHEMA``);
:func:`check_gates` evaluates ``--fail-on`` gates. The views (plain text, rich, Markdown,
JSON) are in ``archcalc.views.diff``, the gates in ``archcalc.diff.gates``, the command in
``archcalc.cli.commands.diff``.

Alignment (docs/diff.md):

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any

from ..analysis.rf import at_output
from ..report import LayerRow, Report, fold, public_attrs
from ..units import bytes_exact

if TYPE_CHECKING:
    from ..errors import Diagnostic
    from ..graph import Network

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
    def row(self) -> LayerRow:
        """The row as it is in B, else as it was in A (every row is on one side at least)."""
        row = self.b or self.a
        assert row is not None
        return row

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def figures(self) -> dict[str, tuple[Any, Any]]:
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
    before: float | None     # a count; the receptive field's side may be a fraction
    after: float | None
    where: tuple[str | None, str | None] = (None, None)
    text: tuple[str, str] | None = None      # how the values read (rf: "212 /32")

    @property
    def change(self) -> float | None:
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
        return [r for r in self.rows if r.matched == "structure" and r.a is not None
                and r.b is not None and r.a.name != r.b.name]

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


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


def _figure(row: LayerRow | None, figure: str) -> Any:
    """A row's figure as the diff compares it: the output volume, the receptive field's text or a
    count, by ``figure``; None for a missing row."""
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


def _with_figures(sigs: Sequence[tuple], rows: Sequence[LayerRow]) -> list[tuple]:
    """Signatures that also hold each row's parameters and output volume, and its inputs'."""
    by = {r.name: r for r in rows}
    return [s + (r.params, r.output,
                 tuple((by[x].params, by[x].output) if x in by else x for x in r.inputs))
            for s, r in zip(sigs, rows)]


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
        in_a = a_of_b.get(j)
        if in_a is not None:
            while next_a < in_a:
                if next_a not in match and next_a not in emitted:
                    out.append((next_a, None, None))
                    emitted.add(next_a)
                next_a += 1
            out.append((in_a, j, match[in_a][1]))
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
          ("flops", "FLOPs (2 × MACs)"), ("activations", "activations"),
          ("activation_bytes", "activation memory"), ("peak_bytes", "peak activation memory"),
          ("param_bytes", "weights inference loads (bytes)"),
          ("training_bytes", "training estimate"))


def _totals(a: Report, b: Report, out_a: Sequence[str] | None,
            out_b: Sequence[str] | None) -> tuple[Delta, ...]:
    out = []
    counted = a.settings.convention if a.settings.convention == b.settings.convention else None
    for key, label in TOTALS:
        before, after = getattr(a.totals, key), getattr(b.totals, key)
        if key == "macs" and counted not in (None, "torchvision", "flopcounter"):
            label = "operations (everything)" if counted == "everything" else \
                f"MACs ({counted})"
        where = (a.totals.peak_layer, b.totals.peak_layer) if key == "peak_bytes" else (None, None)
        out.append(Delta(key, label, before, after, where))
    ra, rb = at_output(a, out_a), at_output(b, out_b)
    out.append(Delta("rf", "receptive field at the output",
                     max(ra[1].size) if ra and ra[1].size else None,
                     max(rb[1].size) if rb and rb[1].size else None,
                     (ra[0] if ra else None, rb[0] if rb else None),
                     (ra[1].text() if ra else "global", rb[1].text() if rb else "global")))
    return tuple(out)


def _diag_key(d: Diagnostic, rename: Mapping[str, str] | None = None
              ) -> tuple[str, str | None, str]:
    """What makes two diagnostics the same finding: severity, layer (A's named as in B) and the
    message with its numbers and layer name left out (a warning whose percentages moved with
    the change is still the same warning; it is not listed as gone and new)."""
    text = re.sub(r"\d[\d,.]*", "#", d.message)
    if d.layer:
        text = text.replace(d.layer, "<layer>")
    layer = None if d.layer is None else (rename or {}).get(d.layer, d.layer)
    return (d.severity, layer, text)


def diff(report_a: Report, report_b: Report, net_a: Network | None = None,
         net_b: Network | None = None,
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
    if cost[0] and len(rows_a) + len(rows_b) <= STRUCTURE_ONLY_LIMIT:
        # names given by position (a spec string's conv1, conv2, ...) shift when a layer is
        # inserted: where structure alone explains the change with fewer rows, it wins
        # (by (op, attributes), then with the figures too: two 16-filter convs, on 3 and on 16
        # channels, are then told apart, so an inserted conv is the one added)
        for sa, sb in ((sig_a, sig_b),
                       (_with_figures(sig_a, rows_a), _with_figures(sig_b, rows_b))):
            other = _rows(rows_a, rows_b, align(rows_a, rows_b, sa, sb, names=False),
                          inner_a, inner_b)
            if _cost(other) < cost:
                out, cost = other, _cost(other)
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


def _cost(rows: Sequence[RowChange]) -> tuple[int, int]:
    """Rows added, removed or changed (what an alignment leaves a reviewer to read), then, to
    choose between alignments that leave as many, the changed rows whose figures differ (a
    rewired row beats a row said to have grown)."""
    return (sum(r.status in ("added", "removed", "changed") for r in rows),
            sum(r.status == "changed" and any(_figure(r.a, f) != _figure(r.b, f)
                                               for f in FIGURES if f != "rf") for r in rows))


def _rows(rows_a: Sequence[LayerRow], rows_b: Sequence[LayerRow],
          pairs: Sequence[tuple[int | None, int | None, str | None]],
          inner_a: dict[str, tuple[tuple[str, str], ...]],
          inner_b: dict[str, tuple[tuple[str, str], ...]]) -> list[RowChange]:
    rename = {rows_a[i].name: rows_b[j].name for i, j, _ in pairs
              if i is not None and j is not None}
    out = []
    for i, j, how in pairs:
        if j is None:
            assert i is not None                # a pair holds a row of A, of B or of both
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
# how a change reads (the gates' messages and the views share it)

def value_text(t: Delta, side: int) -> str:
    """The total's value on ``side`` (0: A, 1: B) as the views show it."""
    if t.key == "rf" and t.text is not None:
        return t.text[side]
    v = (t.before, t.after)[side]
    if v is None:
        return "—"
    if t.key.endswith("bytes") and isinstance(v, int):      # bytes are whole
        return bytes_exact(v) if v >= 1024 else f"{v:,} B"
    return f"{v:,}"


def signed(n: int) -> str:
    """A change with its sign (− for a minus), or nothing for 0."""
    return "" if not n else f"{n:+,}".replace("-", "−")


def whole_blocks(d: Diff) -> dict[str, tuple[str, LayerRow]]:
    """Block instances added or removed whole (every row of the instance only in B, or only in
    A), outermost first: row name → (block instance, the block as one row, folded by the
    Report's own ``fold``). The table and Markdown views show such a block as one row."""
    out: dict[str, tuple[str, LayerRow]] = {}
    for status, rep in (("added", d.b), ("removed", d.a)):
        side = [(row, r.status) for r in d.rows
                if (row := r.b if status == "added" else r.a) is not None]
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


__all__ = ["DIFF_SCHEMA", "Change", "Delta", "Diff", "RowChange", "align", "diff", "renumbered",
           "value_text", "signed", "whole_blocks", "TOTALS"]
