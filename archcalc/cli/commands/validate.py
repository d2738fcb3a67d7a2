"""``archcalc validate``: every problem in a spec at once."""
from __future__ import annotations

import typer

from ...analysis import analyze, diagnose, problems
from ...analysis.figures import under
from ...errors import ArchcalcError
from ...settings import LoadOptions
from ...spec import load_source, open_source
from ..guard import Finding, error_document, print_json
from ..options import SPEC, choice, command, format_option, request

FORMATS = ("text", "json")


@command
def validate(
    spec: str = SPEC,
    opts: LoadOptions = request(),
    format: str = format_option(FORMATS, "text"),
    strict: bool = typer.Option(False, "--strict", help="exit 1 on warnings too"),
    max_params: str | None = typer.Option(None, "--max-params", metavar="N",
                                          help="budget: parameters, e.g. 5M (K, M, G ×1000)"),
    max_macs: str | None = typer.Option(None, "--max-macs", metavar="N",
                                        help="budget: MACs per image, e.g. 600M"),
    max_peak: str | None = typer.Option(None, "--max-peak", metavar="BYTES",
                                        help="budget: peak activation memory, e.g. 1GiB "
                                             "(KiB, MiB, GiB ×1024; KB, MB, GB ×1000)"),
    max_activations: str | None = typer.Option(
        None, "--max-activations", metavar="N|BYTES",
        help="budget: activation elements per image (10M) or bytes per batch (100MiB)"),
    max_training: str | None = typer.Option(None, "--max-training-memory", metavar="BYTES",
                                            help="budget: the training estimate, e.g. 24GiB"),
) -> None:
    """Every problem in a spec at once: errors and warnings, each with its place and a hint,
    in order on standard output, then the count. With budgets (--max-params, --max-macs,
    --max-peak, --max-activations, --max-training-memory) each one exceeded is an error too.

    Exit codes: 0 no errors (warnings allowed unless --strict), 1 problems in the spec or a
    budget exceeded, 2 bad usage or an unreadable file."""
    fmt = choice(format, FORMATS, "--format")
    from ...design.budgets import exceeded, gates, option_of
    limits = gates(params=max_params, macs=max_macs, peak=max_peak,
                   activations=max_activations, training=max_training)
    src = open_source(spec, opts.label)
    checked = []                        # budgets: (network, budget, its figure)
    try:
        got = load_source(src, opts)
        nets = list(got.values()) if isinstance(got, dict) else [got]
        names = ", ".join(n.name for n in nets)
        diags = [d for net in nets for d in diagnose(net)]
        if limits and not any(d.severity == "error" for d in diags):
            for net in nets:
                report = analyze(net)
                diags += exceeded(limits, report, option_of, net)
                checked += [(net.name, b, b.value(report)) for b in limits]
    except ArchcalcError as exc:
        if exc.kind != "spec":          # bad usage, an unreadable file: not the spec's
            raise
        names = src.label
        diags = problems(exc)           # the spec's problems are this command's report
        nets = []
    doc = error_document(diags)
    doc["ok"] = not (doc["errors"] or (strict and doc["warnings"]))   # as the exit status
    if limits:
        doc["budgets"] = [{"network": n, "budget": b.name, "limit": b.limit, "value": v,
                           "ok": v <= b.limit} for n, b, v in checked]
    if fmt == "json":
        print_json(doc)
    else:
        from ...views.text import fit_lines, terminal_width
        width = terminal_width()            # a terminal: lines fit it; a pipe: whole lines
        for d in diags:
            print(fit_lines(d.render(), width))
        if checked:
            print(fit_lines("budgets: " + "; ".join(
                f"{under(b.name, b.figure.key, opts.settings.convention)} {b.show(v)} "
                f"{'≤' if v <= b.limit else '>'} {b.text}"
                + (f" ({n})" if len(nets) > 1 else "") for n, b, v in checked), width))
        print(fit_lines(f"{names}: {doc['errors']} error{'s' * (doc['errors'] != 1)}, "
                        f"{doc['warnings']} warning{'s' * (doc['warnings'] != 1)}", width))
    if not doc["ok"]:
        raise Finding()
