"""The design-space commands ``archcalc sizes`` and ``archcalc fit`` (docs/design-space.md):
thin skins over archcalc.sizes, archcalc.fit, archcalc.params and archcalc.budgets."""
from __future__ import annotations

import csv
import io
from typing import List, Optional

import typer

from .cli_common import (BATCH, COLUMN, DOUBLE, DTYPE, FILTERS, INPUT, OPTIMIZER, ROUNDING, SET,
                         SPEC, analysis_options, choice, guarded, load_set, print_json,
                         settings_of)
from .errors import OPTIONS, ArchcalcError, Diagnostic, error

SCHEMA = 2


def _vol(v) -> str:
    return "×".join(str(x) for x in v)


def _rows(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in [header] + rows)


@guarded
def sizes_cmd(
    spec_arg: str = SPEC,
    range_: str = typer.Option(..., "--range", "-r", metavar="FIRST..LAST[/STEP]",
                               show_default=False,
                               help="the input sizes to try, both ends included, e.g. 32..1024"),
    min_output: Optional[str] = typer.Option(None, "--min-output", metavar="HxW",
                                             help="also require the final feature map to be at "
                                                  "least this large, e.g. 7x7"),
    axis: str = typer.Option("square", "--axis", metavar="AXIS",
                             help="square (H = W = N, the default), height (W kept) or width "
                                  "(H kept)"),
    input: Optional[str] = INPUT,
    filters: Optional[str] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    column: Optional[str] = COLUMN,
    set_: Optional[List[str]] = SET,
    format: str = typer.Option("table", "--format", "-F", metavar="FORMAT",
                               help="table, json or csv"),
):
    """Every input size in a range for which the network is valid under the rounding rule,
    with its final feature map and receptive field; the invalid ones grouped by the first layer
    that refuses them; and the rule (e.g. N divisible by 32), solved from the strides and
    checked on every size of the range. Exit 1 when no size is valid."""
    from . import sizes as sz
    from .params import load_variant, parse_range
    fmt = choice(format, ("table", "json", "csv"), "--format")
    axis = choice(axis, ("square", "height", "width"), "--axis")
    wanted = parse_range(range_, "--range")
    if len(wanted) > sz.MAX_SIZES or wanted[-1] > 2 ** 20:
        raise error(f"--range {range_} is too large: at most {sz.MAX_SIZES:,} sizes up to "
                    f"{2 ** 20:,}", OPTIONS, hint="narrow the range (the rule is derived from "
                    "every size in it; a step only thins the listing)",
                    exit_code=2)
    least = sz.parse_min_output(min_output)
    settings = settings_of(set_) or {}
    if "res" in settings or "input" in settings:
        raise error("sizes sets the input size itself: drop --set res/input", OPTIONS,
                    hint="the range gives the sizes; --input gives the channels", exit_code=2)
    net = load_set(spec_arg, set_, input, filters, double_after_pool, rounding, column)
    reload = None
    if net.size_dependent:        # its layers are computed from the input's size: read again
        def reload(vol):
            got, _ = load_variant(spec_arg, {**settings, "input": f"{vol[0]}x{vol[1]}x{vol[2]}"}
                                  if "res" not in net.params else {**settings, "res": vol[0]},
                                  filters=filters, double_after_pool=double_after_pool,
                                  rounding=rounding, column=column)
            return got
    lo, hi = wanted[0], wanted.stop - 1         # LAST as given, even where STEP passes it
    every = range(lo, hi + 1)                   # the rule needs every size, not every STEPth
    results = sz.evaluate(net, every if len(every) <= sz.MAX_SIZES else wanted, axis, reload,
                          least)
    by_n = {s.n: s for s in results}
    valid = {s.n: s.ok for s in results}
    period = None
    first_ok = next((s.n for s in results if s.ok), None)
    if first_ok is not None and reload is None and len(valid) == len(every):
        period = sz.stride_period(net, first_ok, axis)
    rule = sz.derive(valid, lo, hi, period) if len(valid) == len(every) else \
        sz.Rule("not derived (the range is sampled)")
    shown = [by_n[n] for n in wanted]
    ok = [s for s in shown if s.ok]
    bad = sz.refused(shown)
    channels = net.input[2]
    if fmt == "json":
        print_json({
            "schema": SCHEMA, "name": net.name, "range": [lo, hi, wanted.step], "axis": axis,
            "channels": channels, "rounding": net.rounding,
            "min_output": list(least) if least else None,
            "rule": {"text": rule.text, "period": rule.period, "residues": list(rule.residues),
                     "from": rule.start, "also": list(rule.exceptions), "source": rule.source,
                     "checked": [lo, hi]},
            "valid": [{"size": s.n, "input": list(s.input), "feature_map": {
                "layer": s.layer, "output": list(s.feature) if s.feature else None},
                "rf": s.rf.to_dict() if s.rf is not None else None,
                "outputs": {k: list(v) for k, v in s.outputs.items()}} for s in ok],
            "invalid": [{"layer": g["layer"], "message": g["message"], "count": g["count"],
                         "runs": g["runs"], "sizes": g["sizes"]} for g in bad]})
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["size", "h", "w", "c", "valid", "feature_layer", "feature_h", "feature_w",
                    "feature_c", "rf", "refused_by", "message"])
        for s in shown:
            f = s.feature if s.ok and s.feature else ("", "", "")
            w.writerow([s.n, *s.input, "yes" if s.ok else "no", s.layer if s.ok else "", *f,
                        s.rf.text() if s.ok and s.rf is not None else "",
                        "" if s.ok else s.layer or "", "" if s.ok else s.message or ""])
        print(buf.getvalue(), end="")
    else:
        what = {"square": "N×N", "height": f"N×{net.input[1]}", "width": f"{net.input[0]}×N"}
        step = f"/{wanted.step}" if wanted.step != 1 else ""
        print(f"{net.name}: input {what[axis]}×{channels} for N in {lo}..{hi}{step}, rounding "
              f"{net.rounding}" + (f", final feature map ≥ {least[0]}×{least[1]}" if least
                                   else ""))
        why = {"strides": f" (period {rule.period}: from the strides, checked on "
                          f"{lo}..{hi})" if rule.period and rule.period > 1 else
                          f" (checked on {lo}..{hi})",
               "observed": f" (observed on {lo}..{hi})", "": ""}[rule.source]
        print(f"rule: {rule.text}{why}")
        print(f"valid: {len(ok)} of {len(shown)}")
        if ok:
            print(_rows(["N", "input", "final feature map", "", "RF"],
                        [[s.n, _vol(s.input), s.layer or "-", _vol(s.feature) if s.feature
                          else "-", s.rf.text() if s.rf is not None else "-"] for s in ok]))
        if bad:
            print(f"invalid: {len(shown) - len(ok)}, by the first layer that refuses them")
            for g in bad:
                runs = g["runs"]
                text = ", ".join(runs[:12]) + (f", … ({len(runs) - 12} more runs)"
                                               if len(runs) > 12 else "")
                print(f"  {g['layer']} ({g['count']}): {text}")
                print(f"      e.g. N = {g['sizes'][0]}: {g['message']}")
    if not ok:
        first = [s for s in shown if not s.ok][:3]
        raise ArchcalcError([Diagnostic(
            "error", f"no input size in {lo}..{hi} is valid for {net.name}", OPTIONS,
            "; ".join(f"N = {s.n}: {s.layer + ': ' if s.layer else ''}{s.message}"
                      for s in first))], exit_code=1) if fmt != "json" else typer.Exit(1)



def _valid_sizes_rule(net) -> Optional[tuple]:
    """(first valid N, period, the rule's text) where the valid square input sizes are one
    residue modulo a period above 1 (checked on 1..4096, as ``archcalc sizes`` does), else
    None."""
    from . import sizes as sz
    span = range(1, 4097)
    try:
        results = sz.evaluate(net, span, "square", None, None)
    except ArchcalcError:
        return None
    valid = {s.n: s.ok for s in results}
    first = next((n for n in span if valid.get(n)), None)
    if first is None:
        return None
    rule = sz.derive(valid, span[0], span[-1], sz.stride_period(net, first, "square"))
    if rule.period is None or rule.period <= 1 or len(rule.residues) != 1 or rule.exceptions:
        return None
    start = next(n for n in span if n >= (rule.start or 1) and valid.get(n))
    return start, rule.period, rule.text


def _number(text: Optional[str], option: str, integer: bool):
    if text is None:
        return None
    try:
        v = float(str(text).replace("_", ""))
    except ValueError:
        v = None
    if v is None or v != v or v <= 0 or (integer and not v.is_integer()):
        raise error(f"{option} must be a positive {'whole ' if integer else ''}number, "
                    f"got {text!r}", OPTIONS, hint=f"e.g. {option} {1 if integer else 0.05}",
                    exit_code=2)
    return int(v) if integer else v


@guarded
def fit_cmd(
    spec_arg: str = SPEC,
    budget: List[str] = typer.Option(..., "--budget", metavar="NAME=AMOUNT", show_default=False,
                                     help="a limit (repeatable), e.g. training=24GiB, "
                                          "peak=1GiB, params=5M, macs=600M"),
    maximize: str = typer.Option(..., "--maximize", metavar="PARAM", show_default=False,
                                 help="batch, res or a numeric parameter the spec declares"),
    step: Optional[str] = typer.Option(None, "--step", metavar="X",
                                       help="the grid of values tried (default 1 for whole "
                                            "numbers, 0.01 otherwise)"),
    least: Optional[str] = typer.Option(None, "--min", metavar="X",
                                        help="the least value tried (default: one step)"),
    most: Optional[str] = typer.Option(None, "--max", metavar="X",
                                       help="the largest value tried"),
    input: Optional[str] = INPUT,
    filters: Optional[str] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    column: Optional[str] = COLUMN,
    set_: Optional[List[str]] = SET,
    dtype: str = DTYPE,
    batch: str = BATCH,
    optimizer: str = OPTIMIZER,
    format: str = typer.Option("table", "--format", "-F", metavar="FORMAT",
                               help="table or json"),
):
    """The largest value of one parameter (--maximize batch, res, width, …) for which the
    network stays within every --budget, by search over the analyzer, with the figures at the
    answer and one step past it. Exit 1 when nothing fits."""
    from . import analysis, budgets as bd, fit as ft
    from .params import load_variant
    fmt = choice(format, ("table", "json"), "--format")
    limits = [bd.parse_budget(b) for b in budget]
    seen: dict = {}
    for b, text in zip(limits, budget):       # the same figure twice: which would count?
        key = b.name
        if key in seen:
            raise error(f"--budget {text}: {key} has a budget already ({seen[key]})", OPTIONS,
                        hint="give each figure one budget", exit_code=2)
        seen[key] = text
    options = analysis_options(dtype, batch, optimizer)
    settings = settings_of(set_) or {}
    name = maximize.strip()
    if name in settings:
        raise error(f"--maximize {name} and --set {name}= both give it", OPTIONS,
                    hint=f"drop --set {name}=…", exit_code=2)
    if name in ("dtype", "optimizer", "input", "rounding"):
        raise error(f"--maximize takes a number: {name} is not one", OPTIONS,
                    hint="e.g. --maximize batch, --maximize res or --maximize width",
                    exit_code=2)
    load = dict(input=input, filters=filters, double_after_pool=double_after_pool,
                rounding=rounding, column=column)
    net = load_set(spec_arg, set_, input, filters, double_after_pool, rounding, column, options)
    if name == "batch":
        start = options["batch"]
        analysis.analyze(net, **options)     # a spec with errors: those, before any search
    elif name == "res":
        start = net.params.get("res", net.input[0])
    elif name in net.params:
        start = net.params[name]
        if isinstance(start, bool) or not isinstance(start, (int, float)):
            raise error(f"--maximize {name}: the parameter is not a number (its default is "
                        f"{start!r})", OPTIONS, hint="maximize a numeric parameter",
                        exit_code=2)
    else:
        from .params import undeclared
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
    rule_note = None
    if name == "res" and step is None and least is None and not net.size_dependent:
        # where few input sizes are valid (AlexNet: N ≡ 35 mod 192), search only those: the
        # rule archcalc sizes derives, from the strides, over the first sizes
        found = _valid_sizes_rule(net)
        if found is not None:
            least_v, step_v, rule_note = found
    if most_v < least_v:
        raise error(f"--max {most_v} is less than --min {least_v}: no value to try", OPTIONS,
                    hint="give --max above --min", exit_code=2)

    def judged(v, report) -> ft.Probe:
        over = bd.over(limits, report)
        return ft.Probe(v, "over" if over else "fits", report, over)

    def evaluate(v) -> ft.Probe:
        try:
            if name == "batch":
                return judged(v, analysis.analyze(net, **{**options, "batch": v}))
            got, opts = load_variant(spec_arg, {**settings, name: v}, **load)
            return judged(v, analysis.analyze(got, **{**options, **got.analysis}))
        except ArchcalcError as exc:
            if exc.exit_code != 1:
                raise
            d = exc.diagnostics[0] if exc.diagnostics else None
            return ft.Probe(v, "invalid", message=(f"{d.layer}: " if d and d.layer else "")
                            + (d.message if d else "the spec cannot be built"))

    def proxy(v):                       # an invalid value's figures under floor rounding
        try:
            got, _ = load_variant(spec_arg, {**settings, name: v}, **{**load,
                                                                     "rounding": "floor"})
            return bool(bd.over(limits, analysis.analyze(got, **{**options, **got.analysis})))
        except ArchcalcError:
            return None

    result = ft.search(evaluate, proxy, least_v, step_v, most_v, start, integer, name)
    _show_fit(result, limits, net.name, options, fmt, rule_note)
    if result.answer is None:
        low = result.lowest
        why = ("; ".join(f"{b.figure.what} {b.show(v)} > {b.text}" for b, v in low.over)
               if low.status == "over" else low.message)
        raise ArchcalcError(Diagnostic(
            "error", f"nothing fits: at the least value, {name} = {low.value}, {why}", OPTIONS,
            "raise the budget, lower --min, or lower the other settings (--dtype, --batch, "
            "--set …)"), exit_code=1) if fmt != "json" else typer.Exit(1)


_SHOWN = (("params", "params", "count"), ("MACs", "macs", "count"),
          ("peak", "peak_bytes", "bytes"), ("training", "training_bytes", "bytes"))


def _figures(p, limits) -> dict:
    if p is None:
        return None
    if p.report is None:
        return {"value": p.value, "status": p.status, "message": p.message}
    t = p.report.totals
    return {"value": p.value, "status": p.status,
            "budgets": [{"budget": b.name, "limit": b.limit, "value": b.value(t),
                         "ok": b.value(t) <= b.limit} for b in limits],
            "totals": {k: getattr(t, k) for k in ("params", "macs", "activations",
                                                   "peak_bytes", "training_bytes",
                                                   "total_bytes")}}


def _show_fit(r, limits, netname, options, fmt, rule_note=None) -> None:
    from .views import human_bytes, human_count
    if fmt == "json":
        print_json({"schema": SCHEMA, "name": netname, "maximize": r.name,
                    "budgets": [{"budget": b.name, "limit": b.limit, "text": b.text}
                                for b in limits],
                    "settings": options, "grid": list(r.grid), "sizes_rule": rule_note,
                    "answer": _figures(r.answer, limits), "past": _figures(r.past, limits),
                    "next_valid": _figures(r.next_valid, limits),
                    "capped": r.capped, "evaluations": r.evaluations, "monotone": r.monotone,
                    "not_monotone": [{"value": v, "what": w} for v, w in r.not_monotone]})
        return
    within = ", ".join(f"{b.name} ≤ {b.text}" for b in limits)
    print(f"{netname}: the largest {r.name} with {within} ({options['dtype']}, "
          f"{options['optimizer']}" + (f", batch {options['batch']}" if r.name != "batch"
                                       else "") + ")")
    if r.answer is None:
        print(f"answer: none: {r.name} = {r.lowest.value} already "
              + ("exceeds it" if r.lowest.status == "over" else f"is invalid ({r.lowest.message})"))
    else:
        print(f"answer: {r.name} = {r.answer.value}"
              + (f" (no value up to --max {r.grid[2]} exceeds the budgets: raise --max to "
                 "look further)" if r.capped else ""))
    cols = [("", r.answer), ("one step past", r.past)]
    if r.next_valid is not None:
        cols.append(("next valid", r.next_valid))
    cols = [(label, p) for label, p in cols if p is not None]

    def fig(kind, n):
        return human_bytes(n) if kind == "bytes" else human_count(n)
    header = ["", *[f"{r.name} = {p.value}" + (f" ({label})" if label else "")
                    for label, p in cols]]
    rows = []
    def budget_fig(b, n):
        """In the budget's own unit where it is decimal (24GB: GB, not GiB), with the digits
        that show the difference from the limit."""
        import re
        unit = re.search(r"([KMGT])B\s*$", b.text.strip(), re.I)
        if b.figure.kind != "bytes" or unit is None:
            return fig(b.figure.kind, n)
        scale = 1000 ** "KMGT".index(unit.group(1).upper()) * 1000
        digits = 2
        while digits < 9 and round(n / scale, digits) == round(b.limit / scale, digits) \
                and n != b.limit:
            digits += 1
        return f"{n / scale:.{digits}f} {unit.group(1).upper()}B"
    for b in limits:
        rows.append([f"{b.name} (≤ {b.text})", *[
            "invalid" if p.report is None else
            f"{budget_fig(b, b.value(p.report.totals))} "
            f"{'ok' if b.value(p.report.totals) <= b.limit else 'OVER'}" for _, p in cols]])
    for label, attr, kind in _SHOWN:
        if any(b.figure.attr == attr for b in limits):
            continue
        rows.append([label, *["-" if p.report is None else
                              fig(kind, getattr(p.report.totals, attr)) for _, p in cols]])
    if cols:
        print(_rows(header, rows))
    for label, p in cols:
        if p.report is None:
            print(f"{r.name} = {p.value} is invalid: {p.message}")
    if rule_note:
        print(f"sizes: only valid ones searched, {rule_note} (archcalc sizes' rule; --step "
              "and --min search others)")
    print(f"search: {r.evaluations} evaluations; " + (
        "monotone on the values checked" if r.monotone else
        "NOT MONOTONE: " + "; ".join(f"{r.name} = {v} {w}" for v, w in r.not_monotone[:4])
        + " (the answer is a boundary, not necessarily the largest value that fits)"))
