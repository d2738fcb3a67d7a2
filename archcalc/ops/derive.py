"""Derivations: every figure with the formula it came from and the numbers that went into it.

Each op explains its own figures (``Op.explain`` in ``archcalc/ops/``, next to its rules) as a list
of :class:`Derivation`; the pieces they share — a sliding window along one axis, a product of
factors, a sum — are built here. The notation is the lectures': W, H input width and height, F
filter size, P padding, S stride, C input channels, K filters; volumes H×W×C.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from .values import Vol


class Derivation(NamedTuple):
    """One derived figure: ``formula`` in symbols, ``worked`` with the numbers substituted,
    ``value`` the result (what the analyzer computed), ``values`` the numbers by symbol, and a
    ``note`` on a choice that shaped it (rounding, bias, in place)."""
    key: str          # out_h, out_w, out_c, params, buffers, macs, activations, rf_size, ...
    label: str
    formula: str
    worked: str
    value: Any        # a count, a size, a pair, a word: whatever the figure is
    values: Mapping[str, float | str]   # the numbers by symbol (or a pair as text: 3×5)
    note: str = ""

    def text(self) -> str:
        shown = _fmt(self.value)
        worked = separated(self.worked)
        parts = [self.formula]
        if worked and worked not in (self.formula, shown):
            parts.append(worked)
        if shown not in parts:
            parts.append(shown)
        return " = ".join(parts) + (f"  ({separated(self.note)})" if self.note else "")

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "formula": self.formula,
                "worked": separated(self.worked), "value": _json(self.value),
                "values": {k: _json(v) for k, v in self.values.items()},
                "note": separated(self.note)}


def _json(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return num(v)
    return str(v)


def num(v: float) -> str:
    """A number inside a formula or a note: as the lectures write it (224·224·64, 4096), with
    thousands separators only where it is long (10,000 and up: 25,088, 10,000.5); a fraction
    to 6 significant digits."""
    if isinstance(v, float) and v == int(v) and abs(v) < 1e15:
        v = int(v)
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    return f"{v:,g}" if abs(v) >= 10_000 else f"{v:g}"


_factor = num

# a whole number of 5 digits or more written without separators, with its fraction if any, that
# is not part of a name (conv12345, a.10000), a volume (20000×20000) or a longer number
_BARE = re.compile(r"(?<![\w.,×])(\d{5,})(\.\d+)?(?![\w,×])")


def separated(text: str) -> str:
    """``text`` (a worked formula or a note, whichever op wrote it) with every long number
    written as :func:`num` writes it: 20000 − 3 → 20,000 − 3, 10000.5 → 10,000.5."""
    return _BARE.sub(lambda m: f"{int(m.group(1)):,}" + (m.group(2) or ""), text)


def product(key: str, label: str, factors: list[tuple[str, int]], note: str = "",
            plus: tuple[str, int] | None = None) -> Derivation:
    """A product of named factors, e.g. F·F·C·K, optionally plus one named term (+ K)."""
    formula = "·".join(sym for sym, _ in factors)
    worked = "·".join(_factor(v) for _, v in factors)
    value = 1
    for _, v in factors:
        value *= v
    values = dict(factors)
    if plus is not None:
        formula += f" + {plus[0]}"
        worked = f"{worked} + {_factor(plus[1])} = {value:,} + {plus[1]:,}"
        value += plus[1]
        values[plus[0]] = plus[1]
    return Derivation(key, label, formula, worked, value, values, note)


def given(key: str, label: str, formula: str, value: Any, note: str = "",
          values: Mapping[str, float | str] | None = None) -> Derivation:
    """A figure that is stated rather than computed (an attribute, or the input's own)."""
    return Derivation(key, label, formula, "", value, values or {}, note)


def zero(key: str, label: str, why: str) -> Derivation:
    return Derivation(key, label, "0", "", 0, {}, why)


NO_WEIGHTS = "no weights"
NOT_COUNTED = "element-wise work is not counted as MACs; see docs/definitions.md"


def same_volume(vin: Vol) -> list[Derivation]:
    """Output = input: an element-wise op."""
    return [given("out_h", "output height", "H", vin[0]),
            given("out_w", "output width", "W", vin[1]),
            given("out_c", "output depth", "C", vin[2])]


def no_params_no_macs(why_macs: str = NOT_COUNTED) -> list[Derivation]:
    return [zero("params", "parameters", NO_WEIGHTS), zero("macs", "MACs", why_macs)]


def window_axis(key: str, label: str, sym: str, n: int, k: int, s: int, p: int, d: int,
                rounding: str, out: int, p_end: int | None = None) -> Derivation:
    """The output length along one axis of a sliding window (conv, pooling), with the rounding
    applied and what it dropped (docs/definitions.md, "Output size"). ``p_end``: the padding
    at the bottom/right where it differs from ``p`` (at the top/left)."""
    k_eff = d * (k - 1) + 1
    kern = "F" if d == 1 else "(d·(F − 1) + 1)"
    values = {sym: n, "F": k, "P": p, "S": s} if d == 1 else \
        {sym: n, "F": k, "d": d, "P": p, "S": s}
    if p_end is None or p_end == p:
        formula = f"({sym} − {kern} + 2P)/S + 1"
        span = n + 2 * p - k_eff
        worked = f"({num(n)} − {num(k_eff)} + 2·{num(p)})/{num(s)} + 1"
    else:                                  # padding per side: begin P_b, end P_e
        formula = f"({sym} − {kern} + P_b + P_e)/S + 1"
        values = {**{k_: v for k_, v in values.items() if k_ != "P"}, "P_b": p, "P_e": p_end}
        span = n + p + p_end - k_eff
        worked = f"({num(n)} − {num(k_eff)} + {num(p)} + {num(p_end)})/{num(s)} + 1"
        p = p_end                          # the end padding decides what the last window drops
    q, r = divmod(span, s)
    if r == 0:
        return Derivation(key, label, formula, worked, out, values)
    exact = span / s + 1
    rows = "row" if sym == "H" else "column"
    if out == q + 2:
        note = f"{num(exact)} rounded up to {num(out)} ({rounding}): a last window that hangs " \
            "over the edge"
    else:
        tail = r - p                       # real pixels past the last window
        gap = max(0, s - k_eff)            # pixels the stride skips between windows anyway
        if tail <= 0:
            dropped = "only padding goes unused"
        else:
            last = (f"the last input {rows} is" if tail == 1
                    else f"the last {tail} input {rows}s are")
            dropped = f"{last} skipped by the stride, as between windows" if tail <= gap \
                else f"{last} seen by no window"
        how = "ceil, but the extra window would start in the padding" if rounding == "ceil" \
            else rounding
        note = f"{num(exact)} rounded down to {num(out)} ({how}): {dropped}"
    return Derivation(key, label, formula, worked, out, values, note)
