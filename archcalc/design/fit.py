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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..errors import OPTIONS, ArchcalcError, error
from ..ops.words import counted

if TYPE_CHECKING:                       # (imported where used: fit's start-up stays light)
    from ..report import Report
    from .budgets import Budget
    from .parameters import Design

MAX_EVALUATIONS = 400
CHECKS = 12              # values checked on each side of the answer


@dataclass
class Probe:
    value: Any
    status: str                       # "fits", "over" or "invalid"
    report: Any = None                # the Report (None for an invalid value)
    over: list[tuple[Budget, int]] = field(default_factory=list)   # (Budget, figure) exceeded
    message: str | None = None        # why it is invalid


@dataclass
class Fit:
    name: str
    answer: Probe | None              # None: nothing fits
    past: Probe | None                # one grid step past the answer
    next_valid: Probe | None          # the first valid value past it (where past is invalid)
    lowest: Probe                     # the least value tried (where nothing fits)
    evaluations: int
    monotone: bool
    not_monotone: list[tuple[Any, str]]     # (value, what) where the check failed
    capped: bool                      # no value up to the grid's largest (--max) is over
    grid: tuple[Any, Any, Any]        # (least, step, most)


def _exact(x: float) -> Fraction:
    """A grid number exactly as written (0.01, not the float just below it)."""
    return Fraction(x) if isinstance(x, int) else Fraction(repr(float(x)))


def _grid_value(least: float, step: float, k: int, integer: bool) -> float:
    v = _exact(least) + k * _exact(step)
    return int(v) if integer else float(v)


def search(evaluate: Callable[[Any], Probe], proxy: Callable[[Any], bool | None],
           least: float, step: float, most: float, start: float | None, integer: bool,
           name: str) -> Fit:
    """The search (see the module's docstring). ``evaluate(v)`` gives the Probe at v;
    ``proxy(v)`` whether an invalid v would be over budget (None: unknown)."""
    cache: dict[int, Probe] = {}

    def probe(k: int) -> Probe:
        if k not in cache:
            if len(cache) >= MAX_EVALUATIONS:
                tried = sorted(cache.items())
                if all(p.status == "invalid" for _, p in tried):
                    first = tried[0][1]
                    raise error(f"every {name} tried is invalid "
                                f"({counted(len(tried), 'value')} from "
                                f"{first.value} to {tried[-1][1].value}); at {first.value}: "
                                f"{first.message}", OPTIONS,
                                hint="fix the spec, or search another range (--min, --max, "
                                     "--step)", kind="spec")
                invalid = sum(p.status == "invalid" for p in cache.values())
                raise error(f"fit: more than {MAX_EVALUATIONS} evaluations without an answer "
                            f"({invalid} of the values tried are invalid)", OPTIONS,
                            hint="where few values are valid (an input size: archcalc sizes "
                                 "SPEC --range … gives the rule, e.g. N ≡ 35 mod 192 for "
                                 "AlexNet), search only those: --min FIRST --step PERIOD",
                            kind="spec")
            cache[k] = evaluate(_grid_value(least, step, k, integer))
        return cache[k]

    def over(k: int) -> bool:
        p = probe(k)
        if p.status == "invalid":
            got = proxy(p.value)
            return bool(got)
        return p.status == "over"

    top = int((_exact(most) - _exact(least)) // _exact(step))    # exact: --max is reached
    k0 = min(max(round((start - least) / step), 0), top) if start is not None else 0
    # the boundary: the largest k not over (lo), the least k over (hi)
    if over(k0):
        lo, hi = -1, k0
    else:
        lo, span = k0, 1
        while True:
            k = min(lo + span, top)
            if over(k):
                hi = k
                break
            if k == top:
                lo, hi = top, top + 1
                break
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
    bad: list[tuple[Any, str]] = []
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


# ---------------------------------------------------------------------------------------------
# the whole question (archcalc fit)

NOT_NUMBERS = ("dtype", "optimizer", "input", "rounding")


@dataclass
class Question:
    """What ``fit`` searched: the parameter, its grid, the rule of valid sizes it used."""
    name: str
    integer: bool
    least: Any
    step: Any
    most: Any
    start: Any
    rule_note: str | None = None
    network: str = ""                 # the network's name


def _number(value: Any, option: str, integer: bool) -> Any:
    if value is None:
        return None
    try:
        v = float(str(value).replace("_", ""))
    except ValueError:
        v = None
    if v is None or v != v or v <= 0 or (integer and not v.is_integer()):
        raise error(f"{option} must be a positive {'whole ' if integer else ''}number, "
                    f"got {value!r}", OPTIONS, hint=f"e.g. {option} {1 if integer else 0.05}",
                    kind="usage")
    return int(v) if integer else v


def question(design: Design, maximize: str, step: Any = None, least: Any = None,
             most: Any = None) -> Question:
    """The search ``fit`` makes: ``maximize`` checked against the spec's parameters, the grid
    (``step``, ``least``, ``most`` as given, else the defaults) and, for ``res`` without a grid
    given, only the valid sizes where they are one residue modulo a period (``sizes``' rule)."""
    from ..analysis import analyze
    from .parameters import undeclared
    from .sizes import valid_sizes_rule
    name = maximize.strip()
    if name in design.options.params:
        raise error(f"--maximize {name} and --set {name}= both give it", OPTIONS,
                    hint=f"drop --set {name}=…", kind="usage")
    if name in NOT_NUMBERS:
        raise error(f"--maximize takes a number: {name} is not one", OPTIONS,
                    hint="e.g. --maximize batch, --maximize res or --maximize width",
                    kind="usage")
    from .sizes import base_network, fixed_message, fixed_size
    net = base_network(design, 224) if name == "res" else design.build()
    if name == "res" and fixed_size(net) is not None:
        raise error(f"--maximize res: {fixed_message(net)}", OPTIONS, kind="usage",
                    hint="re-export the model with a dynamic height and width "
                         "(torch.onnx.export(…, dynamic_axes={'input': {2: 'height', 3: "
                         "'width'}})), or maximize batch")
    if name == "batch":
        start = net.settings.batch
        analyze(net)                    # a spec with errors: those, before any search
    elif name == "res":
        start = net.params.get("res", net.input[0])
    elif name in net.params:
        start = net.params[name]
        if isinstance(start, bool) or not isinstance(start, (int, float)):
            raise error(f"--maximize {name}: the parameter is not a number (its default is "
                        f"{start!r})", OPTIONS, hint="maximize a numeric parameter",
                        kind="usage")
    else:
        raise undeclared(name, [*net.params, "batch", "res"])
    integer = name in ("batch", "res") or (isinstance(start, int) and (
        step is None or float(step).is_integer()))
    step_v = _number(step, "--step", False) or 1
    if integer and not float(step_v).is_integer():
        integer = False
    step_v = int(step_v) if integer else (step_v if step is not None else 0.01)
    least_v = _number(least, "--min", integer) or step_v
    most_v = _number(most, "--max", integer) or (2 ** 31 if name == "batch" else 2 ** 14
                                                 if name == "res" else
                                                 2 ** 31 if integer else 1000.0)
    note = None
    if name == "res" and step is None and least is None:
        # where few input sizes are valid (AlexNet: N ≡ 35 mod 192; Swin-T: multiples of 224),
        # search only those: the rule archcalc sizes derives, from the strides, over the first
        # sizes. A spec whose layers depend on the size (Swin's shift, dropped where a window
        # fills the map) is searched on the grid of its rule as read at its own size; each
        # value is still read and checked at that size.
        found = valid_sizes_rule(net)
        if found is not None:
            least_v, step_v, note = found
            if net.size_dependent:
                note += f" (as read at {net.input[0]}: its layers depend on the size)"
    if most_v < least_v:
        raise error(f"--max {most_v} is less than --min {least_v}: no value to try", OPTIONS,
                    hint="give --max above --min", kind="usage")
    return Question(name, integer, least_v, step_v, most_v, start, note, net.name)


def variant(design: Design, name: str) -> Callable[..., Any]:
    """``build(v, **options)``: the network of ``design`` with ``name`` = v. For ``res`` where
    ``--input`` gave the volume, the input is v×v with its channels (``--set res=`` beside
    ``--input`` would be refused as two sizes)."""
    vol = design.options.input
    if name != "res" or vol is None:
        return lambda v, **options: design.build({name: v}, **options)
    from dataclasses import replace

    from .parameters import Design as _Design
    free = _Design(design.source, replace(design.options, input=None))
    declared = "res" in design.build().params      # a YAML spec's own res: given too

    def build(v: Any, **options: Any) -> Any:
        values = {"input": f"{v}x{v}x{vol[2]}", **({"res": v} if declared else {})}
        return free.build(values, **options)
    return build


def fit(design: Design, budgets: Sequence[Budget], q: Question) -> Fit:
    """The largest value of ``q.name`` whose network stays within ``budgets`` (see the
    module's docstring), every probe a variant of ``design``."""
    from ..analysis import analyze
    from .budgets import over
    build = variant(design, q.name)

    def judged(v: Any, report: Report) -> Probe:
        found = over(budgets, report)
        return Probe(v, "over" if found else "fits", report, found)

    def evaluate(v: Any) -> Probe:
        try:
            return judged(v, analyze(build(v)))
        except ArchcalcError as exc:
            if exc.kind != "spec":
                raise
            d = next((x for x in exc.diagnostics if x.severity == "error"),
                     exc.diagnostics[0] if exc.diagnostics else None)    # an error, not a warning
            return Probe(v, "invalid", message=(f"{d.layer}: " if d and d.layer else "")
                         + (d.message if d else "the spec cannot be built"))

    def proxy(v: Any) -> bool | None:          # an invalid value's figures under floor rounding
        try:
            return bool(over(budgets, analyze(build(v, rounding="floor"))))
        except ArchcalcError:
            return None

    return search(evaluate, proxy, q.least, q.step, q.most, q.start, q.integer, q.name)
