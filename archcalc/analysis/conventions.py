"""Counting conventions: which work a MAC or FLOP figure counts, as each source the reader's
paper may have used counts it (docs/definitions.md, "Counting conventions").

archcalc's own figure (``torchvision``, the default) counts the multiply-accumulates of conv,
transposed conv, fc, linear and attention (its projections, QKᵀ and the weighted sum), biases
excluded: torchvision's "GFLOPS" column and most papers' tables. The others are defined here,
each as that default plus or times what its source adds, op by op:

* ``fvcore`` (fvcore's ``FlopCountAnalysis``, detectron2's and DeiT's and ConvNeXt's tables):
  one "flop" per MAC as above, plus batch norm at inference 2 per element (scale and shift),
  layer, group and affine instance norm 5 per element (4 without affine), nearest upsampling 1
  and bilinear 4 per output element, adaptive and global average pooling 1 per input element.
  Activations, additions, multiplications, softmax and max and average pooling are not counted.
* ``flopcounter`` (PyTorch's ``torch.utils.flop_counter.FlopCounterMode``): 2 FLOPs per MAC
  above (a multiply and an add) and nothing else: it counts convolutions and matrix products.
* ``everything``: every arithmetic operation of every layer (multiplications, additions and
  subtractions, divisions, exponentials and other transcendental functions, comparisons), the
  ledger of :mod:`.ledger`; an ``opaque`` layer's work is unknown and left out.

A figure under a convention is the sum of its layers' counts; every other figure is the same
whatever the convention."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from math import prod
from typing import NamedTuple

from ..ops import OPS, Attrs, Vol
from ..report import LayerRow, Report
from ..settings import CONVENTIONS as NAMES
from ..settings import check_choice
from .ledger import count as ledger_count


class Term(NamedTuple):
    """Work a convention adds to a layer's MACs: what it is, its formula, its number."""
    what: str
    formula: str
    value: int


# (attributes, input volumes, output volume) → the term fvcore adds for this op kind
_Rule = Callable[[Attrs, Sequence[Vol], Vol], Term]


def _per_output(what: str, k: int) -> _Rule:
    def rule(a: Attrs, ins: Sequence[Vol], out: Vol) -> Term:
        return Term(what, f"{k}·H·W·C" if k != 1 else "H·W·C", k * prod(out))
    return rule


def _per_input(what: str) -> _Rule:
    def rule(a: Attrs, ins: Sequence[Vol], out: Vol) -> Term:
        return Term(what, "H_in·W_in·C", prod(ins[0]))
    return rule


def _instancenorm(a: Attrs, ins: Sequence[Vol], out: Vol) -> Term:
    k = 5 if a["affine"] else 4
    return Term(f"normalization, {k} per element", f"{k}·H·W·C", k * prod(out))


def _upsample(a: Attrs, ins: Sequence[Vol], out: Vol) -> Term:
    k = 1 if a["mode"] == "nearest" else 4
    return Term(f"{a['mode']} interpolation, {k} per output element",
                "H′·W′·C" if k == 1 else "4·H′·W′·C", k * prod(out))


FVCORE: dict[str, _Rule] = {
    "batchnorm": _per_output("scale and shift at inference, 2 per element", 2),
    "layernorm": _per_output("normalization, 5 per element", 5),
    "groupnorm": _per_output("normalization, 5 per element", 5),
    "instancenorm": _instancenorm,
    "upsample": _upsample,
    "global_avgpool": _per_input("an average, 1 per input element"),
    "adaptive_avgpool": _per_input("an average, 1 per input element"),
}


class Convention(NamedTuple):
    key: str
    label: str          # what its figure is called: "MACs", "fvcore flops", "FLOPs"
    source: str         # what it reproduces
    factor: int         # its count per MAC of the default


CONVENTIONS: dict[str, Convention] = {c.key: c for c in (
    Convention("torchvision", "MACs", "torchvision's GFLOPS column and most papers' tables "
               "(multiply-adds of conv, linear and attention's matrix products)", 1),
    Convention("fvcore", "fvcore flops", "fvcore's FlopCountAnalysis (one flop per MAC, plus "
               "norms, interpolation and adaptive pooling per element)", 1),
    Convention("flopcounter", "FLOPs", "PyTorch's FlopCounterMode (2 FLOPs per MAC of conv "
               "and matrix products)", 2),
    Convention("everything", "operations", "every multiply, add, division, exponential and "
               "comparison of every layer (archcalc.analysis.ledger)", 1),
)}
DEFAULT = "torchvision"
assert tuple(CONVENTIONS) == NAMES       # the names a setting takes (archcalc.settings)


def lookup(name: str, option: str = "--convention") -> Convention:
    """The convention called ``name`` (any case), or a usage error naming ``option``."""
    key = check_choice(name, NAMES, option)
    assert key is not None              # (None only where no name is given)
    return CONVENTIONS[key]


def terms(convention: str, row: LayerRow, ins: Sequence[Vol]) -> list[Term]:
    """What ``convention`` adds to ``row``'s MACs (before its factor)."""
    if convention == "fvcore" and row.op in FVCORE:
        return [FVCORE[row.op](row.attrs, ins, row.output)]
    return []


def default_macs(row: LayerRow, ins: Sequence[Vol]) -> int:
    """``row``'s MACs under the default convention, from its op (whichever convention the
    report holding the row was counted under)."""
    if row.op == "input":
        return 0
    return int(OPS[row.op].macs(row.attrs, ins, row.output))


def layer_count(convention: str, row: LayerRow, ins: Sequence[Vol]) -> int:
    """``row``'s count under ``convention``."""
    if convention == "everything":
        return ledger_count(row, ins)
    c = CONVENTIONS[convention]
    return c.factor * (default_macs(row, ins) + sum(t.value for t in terms(convention, row, ins)))


def counts(report: Report, convention: str) -> list[int]:
    """Every layer's count under ``convention``, in the report's order."""
    vols = {r.name: r.output for r in report.layers}
    return [layer_count(convention, r, [vols[s] for s in r.inputs]) for r in report.layers]


def total(report: Report, convention: str) -> int:
    """The network's count under ``convention`` (per image; training-only layers left out, as
    the MACs total leaves them)."""
    return sum(n for n, r in zip(counts(report, convention), report.layers) if not r.train_only)


def every_total(report: Report) -> dict[str, int]:
    return {key: total(report, key) for key in CONVENTIONS}


def under(report: Report, convention: str | None = None) -> Report:
    """``report`` with each layer's MACs and the MACs and FLOPs totals counted under
    ``convention`` (the report's own setting by default; in MAC units: ``flopcounter``'s FLOPs
    are twice its MACs, which are the default's); every other figure unchanged. (``analyze``
    applies the setting; each layer's count comes from its op, so a report under one convention
    can be put under another.)"""
    convention = convention or report.settings.convention
    if convention == report.settings.convention:
        return report
    per = counts(report, convention)
    factor = CONVENTIONS[convention].factor
    rows = tuple(replace_row(r, n // factor) for r, n in zip(report.layers, per))
    macs = sum(r.macs for r in rows if not r.train_only)
    totals = replace(report.totals, macs=macs, flops=2 * macs)
    return replace(report, layers=rows, totals=totals,
                   settings=replace(report.settings, convention=convention))


def replace_row(row: LayerRow, macs: int) -> LayerRow:
    return row._replace(macs=macs) if macs != row.macs else row


__all__ = ["CONVENTIONS", "DEFAULT", "Convention", "Term", "counts", "every_total",
           "layer_count", "lookup", "terms", "total", "under"]
