"""``--fail-on`` gates over a :class:`~archcalc.diff.Diff`: parsed, checked, explained.

A gate is ``METRIC OP [+|-]AMOUNT[%]``: METRIC one of the totals ``archcalc diff`` prints (a
figure's name or alias of :mod:`archcalc.analysis.figures`), OP one of ``> >= < <=``, AMOUNT read
by the one grammar of amounts (:func:`archcalc.units.parse_amount`: ``5M``, ``10MiB``, ``1GB``)
or, with ``%``, a change relative to A.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..analysis.figures import FIGURES, lookup
from ..errors import OPTIONS, ArchcalcError, error
from ..units import AmountError, AmountKind, parse_amount
from . import TOTALS, Delta, Diff, signed, value_text, whole_blocks

# every total diff prints (its TOTALS and the receptive field at the output)
GATE_METRICS = tuple(k for k, _ in TOTALS) + ("rf",)
GATE_GRAMMAR = ("METRIC OP [+|-]AMOUNT[%], METRIC a total diff prints (" + ", ".join(
    GATE_METRICS) + ", or an alias such as peak, training), OP one of > >= < <=, AMOUNT a number "
    "with a unit (K, M, G for counts; KiB, MiB, GiB or KB, MB, GB for bytes) or a percentage; "
    "e.g. params>+5%, macs>+1G, peak>=+10MiB, rf<-10%")
_GATE = re.compile(r"^\s*([a-zA-Z_-]+)\s*(>=|<=|>|<)\s*([+-]?)\s*([0-9.][0-9._]*[eE]?[+-]?[0-9]*"
                   r"\s*[A-Za-z]*)\s*(%?)\s*$")


@dataclass(frozen=True)
class Gate:
    """``--fail-on`` gate: trips when the change of ``metric`` (relative in percent where
    ``relative``, else absolute) compares to ``limit`` as ``op`` says."""
    text: str
    metric: str
    op: str
    limit: float
    relative: bool

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.text, "metric": self.metric, "op": self.op, "limit": self.limit,
                "relative": self.relative}


def parse_gate(text: str, option: str = "--fail-on") -> Gate:
    """``params>+5%`` → Gate; a malformed gate is a usage error naming what is wrong."""
    m = _GATE.match(text)
    if not m:
        raise error(f"{option}: cannot read the gate {text!r}", OPTIONS, kind="usage",
                    hint=GATE_GRAMMAR)
    name, op, sign, amount, pct = m.groups()
    try:
        fig = lookup(name, f"{option} {text.strip()}", GATE_METRICS)
    except ArchcalcError as exc:
        d = exc.diagnostics[0]
        raise error(d.message, OPTIONS, kind="usage",
                    hint=(d.hint or "").split("figures:")[0] + GATE_GRAMMAR) from None
    if pct:
        try:
            value = float(amount.replace("_", ""))
        except ValueError:
            raise error(f"{option} {text.strip()}: a percentage is a plain number, got "
                        f"{amount!r}", OPTIONS, kind="usage", hint="e.g. params>+5%") from None
    else:
        kind: AmountKind = "bytes" if fig.kind == "bytes" else "count"
        try:
            value = float(parse_amount(amount, kind)[0])
        except AmountError as exc:
            raise error(f"{option} {text.strip()}: {exc.message}", OPTIONS, kind="usage",
                        hint=f"{exc.hint}; {GATE_GRAMMAR}") from None
    return Gate(text.strip(), fig.key, op, -value if sign == "-" else value, bool(pct))


_OPS = {">": lambda x, y: x > y, ">=": lambda x, y: x >= y, "<": lambda x, y: x < y,
        "<=": lambda x, y: x <= y}


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    tripped: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.gate.to_dict(), "tripped": self.tripped, "message": self.message}


def _amount(d: Delta, value: float, relative: bool) -> str:
    if relative:
        return f"{value:+.2f}%"
    unit = " B" if FIGURES[d.key].kind == "bytes" else ""
    return f"{value:+,.0f}{unit}"


def check_gates(d: Diff, gates: Sequence[Gate]) -> list[GateResult]:
    """Each gate evaluated on the diff's totals. A gate on a figure that one side lacks (rf of a
    network without a local receptive field), or a relative gate on a figure that was 0, trips:
    a CI job is told it cannot be checked rather than passed."""
    out = []
    for g in gates:
        t = d.total(g.metric)
        what = f"{t.label} {value_text(t, 0)} → {value_text(t, 1)}"
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
    return ", ".join(f"{name} {signed(change)}" for name, change in largest_changes(d, key))
