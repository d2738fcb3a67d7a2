"""``archcalc fit``: the largest value of one parameter for which a network stays within its
budgets, found by search over the analyzer (docs/design-space.md).

The parameter (``batch``, ``res`` or any numeric parameter the spec declares) takes values on a
grid, ``least + k·step``. The search assumes the budgeted figures grow with the parameter (they
do for batch, input size and width): it doubles k from the start value until a budget is
exceeded, then bisects. A value the network refuses (a shape error: not every input size
divides) is searched through with the figures the network has under floor rounding, and the
answer is then the largest valid value at or below the boundary. The assumption is checked
afterwards on values spread below the answer (they must fit) and above it (they must not): a
figure that does not grow is reported as "not monotone", with where.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .errors import OPTIONS, error

MAX_EVALUATIONS = 400
CHECKS = 12              # values checked on each side of the answer


@dataclass
class Probe:
    value: Any
    status: str                       # "fits", "over" or "invalid"
    report: Any = None                # the Report (None for an invalid value)
    over: list = field(default_factory=list)    # (Budget, figure) exceeded
    message: Optional[str] = None     # why it is invalid


@dataclass
class Fit:
    name: str
    answer: Optional[Probe]           # None: nothing fits
    past: Optional[Probe]             # one grid step past the answer
    next_valid: Optional[Probe]       # the first valid value past it (where past is invalid)
    lowest: Probe                     # the least value tried (where nothing fits)
    evaluations: int
    monotone: bool
    not_monotone: list                # (value, what) where the check failed
    capped: bool                      # no value up to the grid's largest (--max) is over
    grid: tuple                       # (least, step, most)


def _exact(x):
    """A grid number exactly as written (0.01, not the float just below it)."""
    from fractions import Fraction
    return Fraction(x) if isinstance(x, int) else Fraction(repr(float(x)))


def _grid_value(least, step, k, integer: bool):
    v = _exact(least) + k * _exact(step)
    return int(v) if integer else float(v)


def search(evaluate: Callable[[Any], Probe], proxy: Callable[[Any], Optional[bool]],
           least, step, most, start, integer: bool, name: str) -> Fit:
    """The search (see the module's docstring). ``evaluate(v)`` gives the Probe at v;
    ``proxy(v)`` whether an invalid v would be over budget (None: unknown)."""
    cache: dict = {}

    def probe(k: int) -> Probe:
        if k not in cache:
            if len(cache) >= MAX_EVALUATIONS:
                tried = sorted(cache.items())
                if all(p.status == "invalid" for _, p in tried):
                    first = tried[0][1]
                    raise error(f"every {name} tried is invalid ({len(tried)} values from "
                                f"{first.value} to {tried[-1][1].value}); at {first.value}: "
                                f"{first.message}", OPTIONS,
                                hint="fix the spec, or search another range (--min, --max, "
                                     "--step)", exit_code=1)
                invalid = sum(p.status == "invalid" for p in cache.values())
                raise error(f"fit: more than {MAX_EVALUATIONS} evaluations without an answer "
                            f"({invalid} of the values tried are invalid)", OPTIONS,
                            hint="where few values are valid (an input size: archcalc sizes "
                                 "SPEC --range … gives the rule, e.g. N ≡ 35 mod 192 for "
                                 "AlexNet), search only those: --min FIRST --step PERIOD",
                            exit_code=1)
            cache[k] = evaluate(_grid_value(least, step, k, integer))
        return cache[k]

    def over(k: int) -> bool:
        p = probe(k)
        if p.status == "invalid":
            got = proxy(p.value)
            return bool(got)
        return p.status == "over"

    top = int((_exact(most) - _exact(least)) // _exact(step))    # exact: --max is reached
    k0 = min(max(int(round((start - least) / step)), 0), top) if start is not None else 0
    # the boundary: the largest k not over (lo), the least k over (hi)
    if over(k0):
        lo, hi = -1, k0
    else:
        lo, span = k0, 1
        hi = None
        while hi is None:
            k = min(lo + span, top)
            if over(k):
                hi = k
            elif k == top:
                lo, hi = top, top + 1
            else:
                lo, span = k, span * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if over(mid):
            hi = mid
        else:
            lo = mid
    # the largest valid value that fits, at or below the boundary
    answer = None
    k = lo
    while k >= 0 and k >= lo - 4096:
        p = probe(k)
        if p.status == "fits":
            answer = k
            break
        k -= 1
    past = next_valid = None
    if answer is not None and answer < top:
        past = probe(answer + 1)
        if past.status == "invalid":
            for k in range(answer + 2, min(answer + 4096, top) + 1):
                if probe(k).status != "invalid":
                    next_valid = probe(k)
                    break
    # the check: spread values below the answer fit, above it (to the boundary found) do not
    bad = []
    if answer is not None:
        for i in range(1, CHECKS + 1):
            k = answer * i // (CHECKS + 1)
            p = probe(k)
            if p.status == "over":
                bad.append((p.value, "over budget below the answer"))
        far = hi if hi <= top else None
        if far is not None:
            for i in range(1, CHECKS + 1):
                k = answer + 1 + (far - answer - 1) * i // CHECKS
                if k <= answer or k > top:
                    continue
                p = probe(k)
                if p.status == "fits":
                    bad.append((p.value, "fits above the answer"))
    return Fit(name, probe(answer) if answer is not None else None, past, next_valid, probe(0),
               len(cache), not bad, bad, hi > top, (least, step, most))
