"""``--pareto macs,params,-rf``: the non-dominated variants. A variant dominates another when it
is at least as good in every named figure and better in one; a name minimizes its figure, ``-``
before it maximizes. Variants with equal figures dominate neither: both stay.

The front is kept as results stream in (each new variant is compared with the front only), so
a sweep holds the front, never every result.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from ...analysis.figures import ALIASES
from ...errors import OPTIONS, error
from .engine import Result

Score = tuple[float, ...]       # a variant's figures, each to minimize


class Objective(NamedTuple):
    key: str            # a figure's key, or a parameter's name
    maximize: bool


def parse_objectives(text: str, keys: Sequence[str], params: Sequence[str] = (),
                     not_numbers: Sequence[str] = ()) -> list[Objective]:
    """``macs,params,-rf`` → objectives; a figure's key (of ``keys``, the sweep's) or a swept
    numeric parameter's name each (``not_numbers``: swept parameters whose values are not
    numbers, refused)."""
    out: list[Objective] = []
    for word in text.split(","):
        w = word.strip()
        maximize = w.startswith("-")
        name: str | None = ALIASES.get(w.lstrip("-+ ").lower(), w.lstrip("-+ ").lower())
        if name not in keys:
            raw = w.lstrip("-+ ")
            if raw in not_numbers:
                raise error(f"--pareto: the values of {raw!r} are not numbers, so no variant "
                            "is better or worse in it", OPTIONS, kind="usage",
                            hint="name a figure, or a swept parameter whose values are numbers")
            name = raw if raw in params else None
        if name is None:
            import difflib
            choices = list(keys) + [a for a, k in ALIASES.items() if k in keys] + list(params)
            near = difflib.get_close_matches(w.lstrip("-+ "), choices, n=1, cutoff=0.6)
            raise error(f"--pareto: {w or '(nothing)'!r} is no figure of a sweep", OPTIONS,
                        hint=(f"did you mean {near[0]!r}? " if near else "") +
                        "figures: " + ", ".join(keys) + " (and the swept parameters); "
                        "- before a name maximizes it, e.g. --pareto macs,params,-rf",
                        kind="usage")
        if any(o.key == name for o in out):
            raise error(f"--pareto names {name} twice", OPTIONS, kind="usage")
        out.append(Objective(name, maximize))
    return out


def _score(result: Result, objectives: Sequence[Objective]) -> Score | None:
    """The figures to minimize (a maximized one negated), or None where one is undefined (a
    receptive field that is global everywhere) or not a number: such a variant is on no
    front."""
    if result.figures is None:              # an invalid variant: on no front
        return None
    figures = result.figures
    out: list[float] = []
    for o in objectives:
        v: Any = figures[o.key] if o.key in figures else result.settings.get(o.key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        out.append(-v if o.maximize else v)
    return tuple(out)


def dominates(a: Score, b: Score) -> bool:
    """``a`` is no worse than ``b`` in every figure and better in one (all minimized)."""
    return all(x <= y for x, y in zip(a, b)) and a != b


class Front:
    """The non-dominated results so far; ``add`` one at a time, ``results()`` in variant
    order."""

    def __init__(self, objectives: Sequence[Objective]):
        self.objectives = list(objectives)
        self.members: list[tuple[Score, Result]] = []
        self.unscored = 0               # valid variants with an undefined figure

    def add(self, result: Result) -> None:
        score = _score(result, self.objectives)
        if score is None:
            self.unscored += 1
            return
        if any(dominates(s, score) for s, _ in self.members):
            return
        self.members = [(s, r) for s, r in self.members if not dominates(score, s)]
        self.members.append((score, result))

    def results(self) -> list[Result]:
        return sorted((r for _, r in self.members), key=lambda r: r.seq)


def front(results: Iterable[Result], objectives: Sequence[Objective]) -> list[Result]:
    """The non-dominated ones of ``results`` (valid results: figures not None)."""
    f = Front(objectives)
    for r in results:
        f.add(r)
    return f.results()
