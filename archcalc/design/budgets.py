"""Budgets: limits on a network's totals (docs/design-space.md).

A budget is a figure's name and an amount: ``params=5M``, ``macs=600M``, ``peak=1GiB``,
``training=24GiB``. The names are the figures of :mod:`archcalc.analysis.figures` (with their
aliases); the amounts are read by the one grammar of :func:`archcalc.units.parse_amount`. A few
names accept either kind and pick the figure by the unit (``activations=10M`` counts elements per
image, ``activations=100MiB`` the bytes of a batch).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from ..analysis.figures import FIGURES, Figure, lookup, under
from ..errors import OPTIONS, Diagnostic, SourcePos, error
from ..graph import Network
from ..report import Report
from ..units import AmountError, bytes_exact, exact_and_short, parse_amount

# what a budget may limit: the figures a network has at every size (not the receptive field)
BUDGETABLE = tuple(k for k in FIGURES if k != "rf")
# names whose figure the unit picks: a count → the first, bytes → the second
EITHER = {"activations": ("activations", "activation_bytes")}


class Budget(NamedTuple):
    name: str           # the figure's key
    limit: int
    text: str           # the amount as the user wrote it
    figure: Figure

    def value(self, report: Report) -> int:
        value = self.figure.value(report, None)
        if value is None:           # a budget's figures are totals, defined for every network
            raise ValueError(f"{self.name} has no value")
        return int(value)

    def show(self, n: int) -> str:
        return bytes_exact(n) if self.figure.kind == "bytes" else exact_and_short(n)


def amount(text: str, kind: str | None, option: str) -> tuple[int, str]:
    """``text`` read by the grammar of amounts, or a usage error at <options> naming
    ``option``."""
    try:
        return parse_amount(text, kind)       # type: ignore[arg-type]
    except AmountError as exc:
        raise error(f"{option}: {exc.message}", OPTIONS, hint=exc.hint, kind="usage") from None


def budget(name: str, text: str, option: str = "--budget") -> Budget:
    """One budget from its figure's name and amount text."""
    fig = lookup(name, option, BUDGETABLE)
    if fig.key in EITHER:
        limit, kind = amount(text, None, f"{option} {name.strip()}")
        fig = FIGURES[EITHER[fig.key][kind == "bytes"]]
    else:
        limit, _ = amount(text, "bytes" if fig.kind == "bytes" else "count",
                          f"{option} {name.strip()}")
    return Budget(fig.key, limit, str(text).strip(), fig)


def parse_budget(text: str, option: str = "--budget") -> Budget:
    """``"peak_training=24GiB"`` → a Budget."""
    name, eq, value = str(text).partition("=")
    if not eq or not name.strip() or not value.strip():
        raise error(f"{option} takes NAME=AMOUNT, got {text!r}", OPTIONS, kind="usage",
                    hint=f"e.g. {option} training=24GiB or {option} params=5M; budgets: "
                         + ", ".join(BUDGETABLE))
    return budget(name, value, option)


def parse_budgets(texts: Sequence[str], option: str = "--budget") -> list[Budget]:
    """Several ``--budget`` options; a figure given two budgets (under any alias) is refused."""
    out: list[Budget] = []
    seen: dict[str, str] = {}
    for text in texts:
        b = parse_budget(text, option)
        if b.name in seen:
            raise error(f"{option} {text}: {b.name} has a budget already ({seen[b.name]})",
                        OPTIONS, hint="give each figure one budget", kind="usage")
        seen[b.name] = text
        out.append(b)
    return out


def over(budgets: Sequence[Budget], report: Report) -> list[tuple[Budget, int]]:
    """The budgets ``report`` exceeds, with the figure it has."""
    out = []
    for b in budgets:
        v = b.value(report)
        if v > b.limit:
            out.append((b, v))
    return out


def exceeded(budgets: Sequence[Budget], report: Report, option_of: Any = None,
             net: Network | None = None) -> list[Diagnostic]:
    """One located error per budget ``report`` exceeds: what, by how much, the limit. Placed at
    the layer that holds the peak (peak memory) or the spec; the hint names the largest layer."""
    out = []
    for b, v in over(budgets, report):
        by = v - b.limit
        pct = f" (+{100 * by / b.limit:.1f}%)" if b.limit else ""
        opt = option_of(b) if option_of else b.name
        pos, layer, hint = _place(b, report, net)
        exact = f"{b.limit:,} B" if b.figure.kind == "bytes" else f"{b.limit:,}"
        what = under(b.figure.what, b.figure.key, report.settings.convention)
        out.append(Diagnostic(
            "error", f"over budget: {what} {b.show(v)}, limit {opt} {b.text} "
                     f"(= {exact}): {b.show(by)} over{pct}", pos, hint, layer))
    return out


def _place(b: Budget, report: Report, net: Network | None
           ) -> tuple[SourcePos, str | None, str | None]:
    file = SourcePos(net.source or "<spec>") if net is not None else SourcePos("<spec>")
    if net is not None:
        layers = [layer for layer in net.layers if layer.op != "input"]
        file = SourcePos(layers[0].pos.file) if layers else file
    key = b.figure.key
    if key == "peak_bytes" and report.totals.peak_layer:
        name = report.totals.peak_layer
        pos = net[name].pos if net is not None else file
        return pos, name, "the peak is reached while this layer runs (its output and the " \
                          "tensors still alive); a smaller input, batch or dtype lowers it"
    per_layer = {"params": "params", "trainable_params": "trainable_params", "macs": "macs",
                 "batch_macs": "macs", "flops": "macs", "param_bytes": "params",
                 "activations": "activations", "activation_bytes": "activations",
                 "training_bytes": "params" if report.totals.params * 3 >
                 report.totals.activations * report.totals.batch else "activations",
                 "total_bytes": "activations"}.get(key)
    if per_layer is None:
        return file, None, None
    rows = [r for r in report.layers if not r.train_only or key == "training_bytes"]
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


def gates(**given: str | None) -> list[Budget]:
    """validate's --max-* options (name → text or None) as budgets."""
    return [budget(name, text, GATES[name]) for name, text in given.items() if text is not None]


def option_of(b: Budget) -> str:
    """The validate option that set a budget."""
    for name, opt in GATES.items():
        key = lookup(name, opt).key
        if key == b.name or b.name in EITHER.get(key, ()):
            return opt
    return b.name
