"""The design space of a sweep: one axis per ``--set name=VALUES``, the variants their Cartesian
product, numbered in product order (the last axis varies fastest, as ``itertools.product``).

VALUES is one value, a list ``a,b,c`` (commas inside brackets belong to the value:
``depth=[3,4,6,3],[2,2,2,2]`` is two values) or an inclusive range ``lo..hi/step`` (step 1 when
left out; upwards, as ``archcalc sizes --range``, whose ranges are whole numbers only). Ranges
are exact: their ends and step are read as decimal fractions, so ``0.5..1.0/0.25`` is 0.5,
0.75, 1.0 and ``0.1..0.3/0.1`` ends at 0.3, never one short or one past by a rounding error.
Nothing is expanded into a list: a range is a sequence that computes its k-th value, the space
one that computes its i-th variant, so a space of 10¹² variants costs no memory and
``--sample`` draws from it directly.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from typing import Any, NamedTuple, overload

from ...errors import OPTIONS, error

_RANGE = ".."


class NumRange(Sequence[Any]):
    """lo, lo + step, … up to and including hi (never past it), computed exactly: ``size``
    values, whole numbers where ``whole``, else floats."""

    def __init__(self, lo: Fraction, step: Fraction, size: int, whole: bool, text: str):
        self.lo, self.step, self.size, self.whole, self.text = lo, step, size, whole, text
        # value k = (a + k·b) / d in whole numbers: int / int is correctly rounded, so a float
        # value is the nearest float to the exact one, at a fraction of Fraction's cost
        self._d = lo.denominator * step.denominator
        self._a = lo.numerator * step.denominator
        self._b = step.numerator * lo.denominator

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, k: int) -> Any: ...

    @overload
    def __getitem__(self, k: slice) -> list[Any]: ...

    def __getitem__(self, k: int | slice) -> Any:
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(self.size))]
        if k < 0:
            k += self.size
        if not 0 <= k < self.size:
            raise IndexError(k)
        n = self._a + k * self._b
        return n // self._d if self.whole else n / self._d

    def __repr__(self) -> str:
        return f"NumRange({self.text!r}, {self.size} values)"


class Axis(NamedTuple):
    name: str
    values: Sequence[Any]   # a list, or a NumRange
    text: str               # as given, for messages


def _number(text: str, what: str, assignment: str) -> Fraction:
    try:
        return Fraction(text.strip().replace("_", ""))
    except (ValueError, ZeroDivisionError):
        raise error(f"--set {assignment}: the {what} of a range is a number, got {text.strip()!r}",
                    OPTIONS, hint="a range is lo..hi/step, e.g. res=160..320/32 or "
                                  "width=0.5..1.0/0.25", kind="usage") from None


def parse_range(name: str, text: str) -> NumRange:
    """``lo..hi[/step]`` → a NumRange; a step of zero, or a range with no values, is an error."""
    assignment = f"{name}={text}"
    body, _, step_text = text.partition("/")
    lo_text, _, hi_text = body.partition(_RANGE)
    lo, hi = _number(lo_text, "start", assignment), _number(hi_text, "end", assignment)
    step = _number(step_text, "step", assignment) if step_text.strip() else Fraction(1)
    if step == 0:
        quarter = (hi - lo) / 4 if hi > lo else Fraction(1)     # five values
        shown = str(quarter.numerator) if quarter.denominator == 1 else f"{float(quarter):g}"
        raise error(f"--set {assignment}: the step of a range cannot be zero", OPTIONS,
                    hint=f"e.g. {name}={lo_text.strip()}..{hi_text.strip()}/{shown}"
                         + (" (five values)" if hi > lo else ""), kind="usage")
    if step < 0:                # as archcalc sizes --range: ranges go upwards
        raise error(f"--set {assignment}: the step must be positive", OPTIONS, kind="usage",
                    hint=f"write the range upwards: {name}={min(lo, hi)}..{max(lo, hi)}/{-step}")
    if hi < lo:
        raise error(f"--set {assignment}: the range holds no values ({lo_text.strip()} is more "
                    f"than {hi_text.strip()})", OPTIONS, kind="usage",
                    hint=f"write the range upwards: {name}={hi_text.strip()}..{lo_text.strip()}"
                         + (f"/{step_text.strip()}" if step_text.strip() else ""))
    count = int((hi - lo) / step) + 1            # floor: never past hi
    whole = all(x.denominator == 1 and not any(c in t for c in ".eE")
                for x, t in ((lo, lo_text), (hi, hi_text), (step, step_text or "1")))
    return NumRange(lo, step, count, whole, text)


def split_values(text: str) -> list[str]:
    """``a,b,[c,d]`` → ['a', 'b', '[c,d]']: commas inside brackets or braces belong to a value."""
    out: list[str] = []
    depth = start = 0
    for i, c in enumerate(text):
        if c in "[{(":
            depth += 1
        elif c in "]})":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def parse_axis(assignment: str, typed: Callable[[str, str], Any]) -> Axis:
    """One ``--set name=VALUES``. ``typed(name, text)`` reads one value as ``--set`` does for a
    single run (archcalc.design.parameters.parse_assignment), so a sweep's values mean what they
    mean there."""
    name, eq, text = assignment.partition("=")
    name = name.strip()
    if not eq or not name:
        raise error(f"--set takes name=VALUES, got {assignment!r}", OPTIONS,
                    hint="e.g. --set res=160..320/32 --set width=0.5,0.75,1.0", kind="usage")
    text = text.strip()
    if _RANGE in text and not text.startswith(("[", "{", "(", "'", '"')):
        values: Sequence[Any] = parse_range(name, text)
    else:
        parts = split_values(text)
        if any(not p.strip() for p in parts):
            raise error(f"--set {assignment}: an empty value in the list", OPTIONS,
                        hint=f"list values with commas between them, e.g. {name}=0.5,0.75,1.0",
                        kind="usage")
        values = [typed(name, p.strip()) for p in parts]
    return Axis(name, values, text)


class Space:
    """The Cartesian product of the axes; ``space[i]`` is variant i's settings."""

    def __init__(self, axes: Sequence[Axis]):
        seen: set[str] = set()
        for a in axes:
            if a.name in seen:
                raise error(f"--set {a.name} is given twice", OPTIONS,
                            hint=f"give every value of {a.name} in one --set, e.g. "
                                 f"{a.name}=a,b,c", kind="usage")
            seen.add(a.name)
        self.axes = list(axes)
        self.names = [a.name for a in self.axes]
        total = 1
        for a in self.axes:
            total *= len(a.values)
        self.total = total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < self.total:
            raise IndexError(i)
        out: dict[str, Any] = {}
        for a in reversed(self.axes):            # mixed radix: the last axis varies fastest
            i, k = divmod(i, len(a.values))
            out[a.name] = a.values[k]
        return {n: out[n] for n in self.names}

    def indices(self, sample: int | None = None, seed: int | None = None) -> Iterator[int]:
        """Every variant's number in product order, or ``sample`` distinct ones drawn at random
        (reproducibly for a ``seed``), streamed: nothing is held but a few keys."""
        if sample is None or sample >= self.total:
            return iter(range(self.total))
        return _draws(self.total, sample, seed)


def _draws(total: int, n: int, seed: int | None) -> Iterator[int]:
    """``n`` distinct numbers below ``total`` in a random order: the first n of a seeded
    pseudo-random permutation (a 4-round Feistel network over the next even power of two,
    cycle-walking the values ≥ total), so no list of the draws is ever made."""
    rng = random.Random(seed)
    bits = max(2, total.bit_length())
    bits += bits % 2
    half = bits // 2
    mask = (1 << half) - 1
    keys = [rng.getrandbits(64) | 1 for _ in range(4)]

    def permute(x: int) -> int:
        left, right = x >> half, x & mask
        for k in keys:
            f = ((right * k) ^ (right >> 3) ^ k) * 0x9E3779B97F4A7C15
            left, right = right, left ^ ((f >> 17) & mask)
        return (left << half) | right

    count, x = 0, 0
    while count < n:
        y = permute(x)
        while y >= total:                   # cycle-walk: stays a permutation of [0, total)
            y = permute(y)
        yield y
        count += 1
        x += 1
