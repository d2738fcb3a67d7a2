"""The design-space commands ``archcalc sizes`` and ``archcalc fit`` (docs/design-space.md):
thin skins over archcalc.sizes, archcalc.fit, archcalc.params and archcalc.budgets."""
from __future__ import annotations

import csv
import io
import json
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
                    f"{2 ** 20:,}", OPTIONS, hint="narrow the range or give a step",
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
    lo, hi = wanted[0], wanted[-1]
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


def fit_cmd():
    """(being written)"""
