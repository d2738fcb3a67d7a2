"""Budgets: limits on a network's totals, read in one place (docs/design-space.md).

A budget is a name and an amount: ``params=5M``, ``macs=600M``, ``peak=1GiB``,
``training=24GiB``. Counts take K, M, G, T (powers of 1000); bytes take KiB, MiB, GiB, TiB
(powers of 1024) or KB, MB, GB, TB (powers of 1000), and B. Units are read without regard to
case; a unit archcalc does not know is an error naming those it does.

Each name maps to one figure of the Report's :class:`~archcalc.report.Totals` (``BUDGETS``); a
few names accept either kind and pick the figure by the unit (``activations=10M`` counts elements
per image, ``activations=100MiB`` the bytes of a batch).
"""
from __future__ import annotations

import re
from typing import NamedTuple, Optional

from .errors import OPTIONS, Diagnostic, SourcePos, error

COUNT_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
BYTE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
              "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
SHOWN_COUNT = "K, M, G, T (×1000)"
SHOWN_BYTES = "B, KiB, MiB, GiB, TiB (×1024) or KB, MB, GB, TB (×1000)"


class Figure(NamedTuple):
    """A budgetable figure: the Totals attribute, its kind ("count" or "bytes") and words."""
    attr: str
    kind: str
    what: str


# name → figure; every attr is a field or property of report.Totals
FIGURES = {
    "params": Figure("params", "count", "parameters"),
    "trainable_params": Figure("trainable_params", "count", "trainable parameters"),
    "macs": Figure("macs", "count", "MACs per image"),
    "batch_macs": Figure("batch_macs", "count", "MACs per batch"),
    "flops": Figure("flops", "count", "FLOPs per image"),
    "activations": Figure("activations", "count", "activation elements per image"),
    "activation_bytes": Figure("activation_bytes", "bytes", "activation memory per batch"),
    "peak": Figure("peak_bytes", "bytes", "peak activation memory (inference, per batch)"),
    "param_bytes": Figure("param_bytes", "bytes", "weights (parameters and buffers)"),
    "memory": Figure("total_bytes", "bytes", "inference memory estimate"),
    "training": Figure("training_bytes", "bytes", "training memory estimate"),
}
ALIASES = {"peak_bytes": "peak", "peak_activations": "peak", "weights": "param_bytes",
           "total": "memory", "total_bytes": "memory", "inference": "memory",
           "training_bytes": "training", "peak_training": "training",
           "training_memory": "training", "parameters": "params"}
# names whose figure the unit picks: a count → the first, bytes → the second
EITHER = {"activations": ("activations", "activation_bytes")}


class Budget(NamedTuple):
    name: str           # as FIGURES names it
    limit: int
    text: str           # as the user wrote it
    figure: Figure

    def value(self, totals) -> int:
        return getattr(totals, self.figure.attr)

    def show(self, n: int) -> str:
        from .views import exact_and_short, human_bytes
        if self.figure.kind == "bytes":
            return f"{human_bytes(n)} ({n:,} B)" if n >= 1024 else f"{n:,} B"
        return exact_and_short(n)


_AMOUNT = re.compile(r"\s*([0-9][0-9_]*(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*")


def amount(text: str, kind: Optional[str], option: str) -> tuple[int, str]:
    """``"24GiB"`` → (25769803776, "bytes"). ``kind`` "count" or "bytes" requires that kind;
    None accepts either (a plain number is then a count)."""
    m = _AMOUNT.fullmatch(str(text)) if text is not None else None
    if not m:
        raise error(f"{option}: {text!r} is not an amount", OPTIONS,
                    hint="a number with a unit: counts " + SHOWN_COUNT + "; bytes "
                    + SHOWN_BYTES + ", e.g. 5M or 24GiB", exit_code=2)
    number, unit = float(m.group(1).replace("_", "")), m.group(2).lower()
    if unit in COUNT_UNITS and (kind != "bytes" or unit == ""):
        got = "count" if kind != "bytes" else "bytes"
        scale = COUNT_UNITS[unit]
    elif unit in BYTE_UNITS and kind != "count":
        got, scale = "bytes", BYTE_UNITS[unit]
    elif unit in BYTE_UNITS:
        raise error(f"{option} is a count, not bytes: {text!r}", OPTIONS,
                    hint=f"counts take {SHOWN_COUNT}, e.g. 5M", exit_code=2)
    elif unit in COUNT_UNITS:
        raise error(f"{option} is an amount of memory: {text!r} has no byte unit", OPTIONS,
                    hint=f"write {m.group(1)}{unit.upper()}iB (×1024) or "
                         f"{m.group(1)}{unit.upper()}B (×1000); bytes take {SHOWN_BYTES}",
                    exit_code=2)
    else:
        accepted = (SHOWN_COUNT if kind == "count" else SHOWN_BYTES if kind == "bytes"
                    else f"counts {SHOWN_COUNT}; bytes {SHOWN_BYTES}")
        raise error(f"{option}: unknown unit {m.group(2)!r} in {text!r}", OPTIONS,
                    hint="accepted: " + accepted, exit_code=2)
    value = number * scale
    if value != value or value > 2 ** 62:
        raise error(f"{option}: {text!r} is too large", OPTIONS, exit_code=2)
    return int(round(value)), got


def figure_name(name: str, option: str = "--budget") -> str:
    """A budget name as FIGURES names it (aliases resolved), or an error with "did you mean"."""
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in FIGURES:
        import difflib
        names = list(FIGURES) + list(ALIASES)
        near = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        raise error(f"{option}: no budget named {name!r}", OPTIONS,
                    hint=(f"did you mean {near[0]!r}? " if near else "")
                    + "budgets: " + ", ".join(FIGURES), exit_code=2)
    return key


def budget(name: str, text: str, option: str = "--budget") -> Budget:
    """One budget from its name and amount text."""
    key = figure_name(name, option)
    if key in EITHER:
        limit, kind = amount(text, None, option)
        key = EITHER[key][kind == "bytes"]
    else:
        limit, _ = amount(text, FIGURES[key].kind, option)
    return Budget(key, limit, str(text).strip(), FIGURES[key])


def parse_budget(text: str, option: str = "--budget") -> Budget:
    """``"peak_training=24GiB"`` → a Budget."""
    name, eq, value = str(text).partition("=")
    if not eq or not name.strip() or not value.strip():
        raise error(f"{option} takes NAME=AMOUNT, got {text!r}", OPTIONS,
                    hint=f"e.g. {option} training=24GiB or {option} params=5M; budgets: "
                         + ", ".join(FIGURES), exit_code=2)
    return budget(name, value, f"{option} {name.strip()}")


def over(budgets, report) -> list[tuple[Budget, int]]:
    """The budgets ``report`` exceeds, with the figure it has."""
    out = []
    for b in budgets:
        v = b.value(report.totals)
        if v > b.limit:
            out.append((b, v))
    return out


def exceeded(budgets, report, option_of=None, net=None) -> list[Diagnostic]:
    """One located error per budget ``report`` exceeds: what, by how much, the limit. Placed at
    the layer that holds the peak (peak memory) or the spec; the hint names the largest layer."""
    out = []
    for b, v in over(budgets, report):
        by = v - b.limit
        pct = f" (+{100 * by / b.limit:.1f}%)" if b.limit else ""
        opt = option_of(b) if option_of else b.name
        pos, layer, hint = _place(b, report, net)
        exact = f"{b.limit:,} B" if b.figure.kind == "bytes" else f"{b.limit:,}"
        out.append(Diagnostic(
            "error", f"over budget: {b.figure.what} {b.show(v)}, limit {opt} {b.text} "
                     f"(= {exact}): {b.show(by)} over{pct}", pos, hint, layer))
    return out


def _place(b: Budget, report, net) -> tuple[SourcePos, Optional[str], Optional[str]]:
    file = SourcePos(getattr(net, "source", None) or "<spec>") if net is not None \
        else SourcePos("<spec>")
    if net is not None:
        layers = [layer for layer in net.layers if layer.op != "input"]
        file = SourcePos(layers[0].pos.file) if layers else file
    attr = b.figure.attr
    if attr == "peak_bytes" and report.totals.peak_layer:
        name = report.totals.peak_layer
        pos = net[name].pos if net is not None else file
        return pos, name, "the peak is reached while this layer runs (its output and the " \
                          "tensors still alive); a smaller input, batch or dtype lowers it"
    per_layer = {"params": "params", "trainable_params": "trainable_params", "macs": "macs",
                 "batch_macs": "macs", "flops": "macs", "param_bytes": "params",
                 "activations": "activations", "activation_bytes": "activations",
                 "training_bytes": "params" if report.totals.params * 3 >
                 report.totals.activations * report.totals.batch else "activations",
                 "total_bytes": "activations"}.get(attr)
    if per_layer is None:
        return file, None, None
    rows = [r for r in report.layers if not r.train_only or attr == "training_bytes"]
    total = sum(getattr(r, per_layer) for r in rows)
    if not rows or not total:
        return file, None, None
    top = max(rows, key=lambda r: getattr(r, per_layer))
    n = getattr(top, per_layer)
    word = {"params": "parameters", "trainable_params": "trainable parameters", "macs": "MACs",
            "activations": "activation elements"}[per_layer]
    return file, None, (f"the largest layer by {word}: {top.name} with {n:,} "
                        f"({100 * n / total:.1f}% of them)")


# validate's budget options: the option → the budget name
GATES = {"params": "--max-params", "macs": "--max-macs", "peak": "--max-peak",
         "activations": "--max-activations", "training": "--max-training-memory"}


def gates(**given) -> list[Budget]:
    """validate's --max-* options (name → text or None) as budgets."""
    return [budget(name, text, GATES[name]) for name, text in given.items() if text is not None]


def option_of(b: Budget) -> str:
    """The validate option that set a budget."""
    return next((GATES[k] for k in GATES if FIGURES[k] == b.figure or
                 (k in EITHER and b.name in EITHER[k])), b.name)
