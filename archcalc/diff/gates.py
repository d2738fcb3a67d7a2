"""``--fail-on`` gates over a :class:`~archcalc.diff.Diff`: parsed, checked, explained."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from . import Delta, Diff
from .views import _signed, _value_text, whole_blocks

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
