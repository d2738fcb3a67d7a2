"""The ``archcalc`` command: a thin skin over the library. Options are parsed here, the work is
done by ``archcalc.spec``, ``archcalc.analysis`` and ``archcalc.views``.

Exit codes: 0 success, 1 a problem in the spec, 2 bad usage or an unreadable file,
3 an internal error (a bug: please report it), 130 interrupted.
"""
import os
import sys
from typing import List, Optional

import typer

from . import __version__, analysis
from .cli_common import (BATCH, COLUMN, DEPTH, DEVICE_FILE, DOUBLE, DTYPE, FILTERS, FORMATS,
                         INPLACE, INPUT, OPTIMIZER, ROUNDING, SET, SPEC, STDIN, UNKNOWN,
                         analysis_options, check_device_file, choice, SafeStdout,
                         error_document, guarded,
                         load_set, load_spec, print_json, settings_of, shipped_specs,
                         spec_problems, whole)
from .errors import OPTIONS, ArchcalcError, Diagnostic

def _version(value: bool) -> None:
    if value:
        print(f"archcalc {__version__}")
        raise typer.Exit(0)


def _app(version: bool = typer.Option(False, "--version", "-V", is_eager=True,
                                      callback=_version, help="print the version and exit")):
    """archcalc: shapes, parameters, MACs, memory and receptive fields of a CNN from a spec."""


FORMAT = typer.Option("table", "--format", "-F", metavar="FORMAT",
                      help="table, json, markdown or csv")


@guarded
def summary(
    spec_arg: str = SPEC,
    input: Optional[str] = INPUT,
    filters: Optional[str] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    unknown: Optional[str] = UNKNOWN,
    column: Optional[str] = COLUMN,
    format: str = FORMAT,
    dtype: str = DTYPE,
    batch: str = BATCH,
    count_inplace: bool = INPLACE,
    optimizer: str = OPTIMIZER,
    depth: Optional[str] = DEPTH,
    sharing: bool = typer.Option(False, "--sharing", help="for each convolution, how many "
                                 "times more parameters it would need without weight sharing "
                                 "(locally connected) and as a dense layer"),
    device: Optional[str] = typer.Option(None, "--device", "-D", metavar="NAME",
                                         help="add each layer's predicted time on a device "
                                              "(archcalc estimate says more)"),
    device_file: Optional[str] = DEVICE_FILE,
    set_: Optional[List[str]] = SET,
):
    """Per-layer and total figures of a network."""
    fmt = choice(format, FORMATS, "--format")
    options = analysis_options(dtype, batch, optimizer)
    depth = whole(depth, "--depth", 0)
    net = load_set(spec_arg, set_, input, filters, double_after_pool, rounding, column, options)
    report = analysis.analyze(net, count_inplace=count_inplace, **options)
    from . import views
    counts = None
    if sharing:
        from .explain import sharing_counts
        counts = sharing_counts(net, report)
    extra = views.sharing_columns(counts)
    est = None
    check_device_file(device, device_file)
    if device is not None:                  # archcalc/latency: pure arithmetic, no onnxruntime
        if fmt == "csv":
            raise ArchcalcError(Diagnostic("error", "--device has no csv column in summary",
                                           OPTIONS, "archcalc estimate SPEC --device NAME "
                                           "--format csv"), exit_code=2)
        from .latency.command import summary_columns
        more, est = summary_columns(report, device, device_file)
        extra = (*extra, *more)
    if fmt == "table":
        views.render_table(report, depth, extra=extra)
    elif fmt == "json":
        text = views.render_json(report, depth, counts)
        if est is not None:
            from .latency.command import summary_json
            text = summary_json(text, est)
        print(text)
    elif fmt == "markdown":
        print(views.render_markdown(report, depth, extra), end="")
    else:
        print(views.render_csv(report, depth, counts), end="")
        for d in report.diagnostics:        # CSV has no place for them: on stderr, one a line
            sys.stderr.write(views.diag_line(d) + "\n")
    if est is not None and fmt in ("table", "markdown"):
        print(f"predicted on {est.device.key}: {est.time_s * 1e3:,.3f} ms per batch "
              "(archcalc estimate breaks it down)")


@guarded
def compare(
    specs: List[str] = typer.Argument(..., metavar="SPEC...", show_default=False,
                                      help="spec files, shipped names, spec strings or - "
                                           "(standard input); a column table adds every column"),
    input: Optional[str] = INPUT,
    filters: Optional[str] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    unknown: Optional[str] = UNKNOWN,
    format: str = FORMAT,
    dtype: str = DTYPE,
    batch: str = BATCH,
    set_: Optional[List[str]] = SET,
):
    """Totals of several networks side by side (every column of a VGG-style table)."""
    fmt = choice(format, FORMATS, "--format")
    options = analysis_options(dtype, batch)
    if specs.count("-") > 1:
        raise ArchcalcError(Diagnostic("error", "standard input (-) can be read only once",
                                       OPTIONS), exit_code=2)
    entries, problems = [], []
    for i, s in enumerate(specs, 1):        # every spec is checked: all their errors at once
        label = f"<spec {i}>" if len(specs) > 1 else "<spec>"   # which argument a string was
        try:
            got = load_spec(s, input, filters, double_after_pool, rounding, None, label,
                            settings_of(set_))
            for net in (got.values() if isinstance(got, dict) else [got]):
                entries.append((analysis.analyze(net, **{**options, **net.analysis}),
                                net.weight_layers(),
                                STDIN if s == "-" else s))
        except ArchcalcError as exc:
            problems.extend(spec_problems(exc, errors_only=True))   # as validate lists them
    if problems:
        raise ArchcalcError(problems)
    from . import views
    out = views.render_compare(entries, fmt)
    if out is not None:
        print(out, end="")


@guarded
def validate(
    spec_arg: str = SPEC,
    input: Optional[str] = INPUT,
    filters: Optional[str] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    unknown: Optional[str] = UNKNOWN,
    column: Optional[str] = COLUMN,
    format: str = typer.Option("text", "--format", "-F", metavar="FORMAT", help="text or json"),
    strict: bool = typer.Option(False, "--strict", help="exit 1 on warnings too"),
    set_: Optional[List[str]] = SET,
    max_params: Optional[str] = typer.Option(None, "--max-params", metavar="N",
                                             help="budget: parameters, e.g. 5M (K, M, G ×1000)"),
    max_macs: Optional[str] = typer.Option(None, "--max-macs", metavar="N",
                                           help="budget: MACs per image, e.g. 600M"),
    max_peak: Optional[str] = typer.Option(None, "--max-peak", metavar="BYTES",
                                           help="budget: peak activation memory, e.g. 1GiB "
                                                "(KiB, MiB, GiB ×1024; KB, MB, GB ×1000)"),
    max_activations: Optional[str] = typer.Option(
        None, "--max-activations", metavar="N|BYTES",
        help="budget: activation elements per image (10M) or bytes per batch (100MiB)"),
    max_training: Optional[str] = typer.Option(None, "--max-training-memory", metavar="BYTES",
                                               help="budget: the training estimate, e.g. 24GiB"),
    dtype: str = DTYPE,
    batch: str = BATCH,
    optimizer: str = OPTIMIZER,
):
    """Every problem in a spec at once: errors and warnings, each with its place and a hint,
    in order on standard output, then the count. With budgets (--max-params, --max-macs,
    --max-peak, --max-activations, --max-training-memory) each one exceeded is an error too.

    Exit codes: 0 no errors (warnings allowed unless --strict), 1 problems in the spec or a
    budget exceeded, 2 bad usage or an unreadable file."""
    fmt = choice(format, ("text", "json"), "--format")
    from .budgets import gates
    limits = gates(params=max_params, macs=max_macs, peak=max_peak,
                   activations=max_activations, training=max_training)
    options = analysis_options(dtype, batch, optimizer)
    try:
        got = load_spec(spec_arg, input, filters, double_after_pool, rounding, column,
                        settings=settings_of(set_))
        nets = list(got.values()) if isinstance(got, dict) else [got]
        names = ", ".join(n.name for n in nets)
        diags = [d for net in nets for d in analysis.diagnose(net)]
        checked = []                        # budgets: (network, budget, its figure)
        if limits and not any(d.severity == "error" for d in diags):
            from .budgets import exceeded, option_of
            for net in nets:
                report = analysis.analyze(net, **{**options, **net.analysis})
                diags += exceeded(limits, report, option_of, net)
                checked += [(net.name, b, b.value(report.totals)) for b in limits]
    except ArchcalcError as exc:
        if exc.exit_code != 1:              # bad usage, an unreadable file: not the spec's
            raise
        names = (STDIN if spec_arg == "-" else spec_arg if os.path.exists(spec_arg)
                 else exc.diagnostics[0].pos.file if exc.diagnostics else "<spec>")
        diags = spec_problems(exc)          # the spec's problems are this command's report
        checked = []
    doc = error_document(diags)
    doc["ok"] = not (doc["errors"] or (strict and doc["warnings"]))   # as the exit status
    if limits:
        doc["budgets"] = [{"network": n, "budget": b.name, "limit": b.limit, "value": v,
                           "ok": v <= b.limit} for n, b, v in checked]
    if fmt == "json":
        print_json(doc)
    else:
        for d in diags:
            print(d.render())
        if checked:
            print("budgets: " + "; ".join(f"{b.name} {b.show(v)} {'≤' if v <= b.limit else '>'} "
                                          f"{b.text}" + (f" ({n})" if len(nets) > 1 else "")
                                          for n, b, v in checked))
        print(f"{names}: {doc['errors']} error{'s' * (doc['errors'] != 1)}, "
              f"{doc['warnings']} warning{'s' * (doc['warnings'] != 1)}")
    if not doc["ok"]:
        raise typer.Exit(1)


@guarded
def explain(
    spec_arg: str = SPEC,
    layers: Optional[List[str]] = typer.Argument(
        None, metavar="[LAYER...]", show_default=False,
        help="layer names as the summary lists them, ranges such as conv3..pool5, or block "
             "names (default: every layer, and the totals in words)"),
    input: Optional[str] = INPUT,
    filters: Optional[str] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    unknown: Optional[str] = UNKNOWN,
    column: Optional[str] = COLUMN,
    format: str = typer.Option("text", "--format", "-F", metavar="FORMAT",
                               help="text, markdown or json"),
    dtype: str = DTYPE,
    batch: str = BATCH,
    count_inplace: bool = INPLACE,
    set_: Optional[List[str]] = SET,
):
    """The arithmetic behind every figure: each layer's output size with the numbers put into
    the formula and the rounding it needed, parameters as weights + biases, MACs as a product,
    activations, the receptive-field step, and for convolutions what weight sharing saves."""
    fmt = choice(format, ("text", "markdown", "json"), "--format")
    options = analysis_options(dtype, batch)
    net = load_set(spec_arg, set_, input, filters, double_after_pool, rounding, column, options)
    report = analysis.analyze(net, count_inplace=count_inplace, **options)
    from . import explain as ex, views
    found = ex.explain(net, report, layers)
    totals = [] if layers else ex.totals_text(report, net)
    wrap = None
    if fmt == "text" and sys.stdout.isatty():
        import shutil
        wrap = shutil.get_terminal_size().columns
    print(views.render_explain(report, found, totals, fmt, wrap), end="")


@guarded
def specs_cmd():
    """The shipped networks: their names (usable as SPEC from any folder) and the published
    figure each is tested against."""
    entries = shipped_specs()
    width = max((len(e["file"]) for e in entries), default=0)
    for e in entries:                   # two short lines each: readable in 80 columns
        print(f"{e['file']:<{width}}  {e['what']}\n{'':<{width}}  checked against "
              f"{e['checked']}")


COMMANDS = ("summary", "explain", "compare", "validate", "diff", "specs", "export", "run",
            "draw", "report", "import", "estimate", "calibrate", "sizes", "fit", "sweep")


def build_app(only: Optional[str] = None) -> typer.Typer:
    """The archcalc typer app: every command, or only the command ``only`` (what ``main`` runs
    when the command line names one: typer then inspects one signature instead of six, and
    ``summary`` never imports the exporters' commands). export and run live in
    archcalc.exporters, the only place onnx and onnxruntime are used (inside the commands'
    bodies)."""
    app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                      pretty_exceptions_enable=False,
                      context_settings={"help_option_names": ["-h", "--help"]},
                      help="archcalc: shapes, parameters, MACs, memory and receptive fields of "
                           "a CNN from a spec.")
    app.callback()(_app)
    commands = {"summary": summary, "explain": explain, "compare": compare,
                "validate": validate, "specs": specs_cmd}
    if only is None or only in ("export", "run"):
        from .exporters.commands import export_cmd, run_cmd
        commands.update(export=export_cmd, run=run_cmd)
    if only is None or only == "diff":          # archcalc/diff/: the diff and its command
        from .diff.command import command as diff_command
        commands["diff"] = diff_command()
    if only in (None, "draw"):
        from .draw.command import draw_cmd
        commands["draw"] = draw_cmd
    if only is None or only == "report":            # pygal only inside the command's body
        from .review.command import report_cmd
        commands.update(report=report_cmd)
    if only is None or only == "import":            # an ONNX model as a YAML spec
        from .onnx_import.command import import_cmd
        commands["import"] = import_cmd
    if only in (None, "estimate", "calibrate"):      # archcalc/latency/ (issue 13)
        from .latency.command import calibrate_cmd, estimate_cmd
        commands.update(estimate=estimate_cmd, calibrate=calibrate_cmd)
    if only in (None, "sizes", "fit"):         # the design space: archcalc/design_commands.py
        from .design_commands import fit_cmd, sizes_cmd
        commands.update(sizes=sizes_cmd, fit=fit_cmd)
    if only in (None, "sweep"):                 # archcalc/sweep/: sweeps over parameters
        from .sweep.command import sweep_cmd
        commands["sweep"] = sweep_cmd
    for name, fn in commands.items():
        if only is None or name == only:
            app.command(name)(fn)
    return app


def __getattr__(name: str):
    if name == "app":               # archcalc.cli.app: the whole app (built on first use)
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _usage_error_type() -> type:
    """click's UsageError (unknown option, missing argument ...) as the installed typer has it:
    the base class of ``typer.BadParameter`` (typer vendors click from 0.26 on)."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def _json_requested(argv: List[str]) -> bool:
    for i, a in enumerate(argv):
        if a in ("-F", "--format") and i + 1 < len(argv) and argv[i + 1].lower() == "json":
            return True
        if a.lower() in ("-fjson", "--format=json"):
            return True
    return False


def _usage_hint(command: str, message: str, argv: List[str]) -> str:
    """What to do about a command line typer could not read: the usual slips get their fix."""
    if command == "archcalc" and "no such command" in message:
        return "commands: " + ", ".join(COMMANDS) + " ('archcalc -h' says what each does)"
    if "unexpected extra argument" in message and command.split()[-1] in (
            "summary", "explain", "validate", "export", "run", "draw"):
        import re
        extra = re.search(r"\(([^()]*)\)$", message)
        words = extra.group(1).split() if extra else []
        at = argv.index(words[0]) if words and words[0] in argv else 0
        spec = " ".join([argv[at - 1]] + words) if at > 1 else " ".join(words)
        return (f'a spec string of several words is one argument: quote it, as in '
                f'{command} "{spec}"; to compare several specs use archcalc compare')
    return f"'{command} -h' lists the options"


def main(argv: Optional[List[str]] = None) -> None:
    """The ``archcalc`` entry point: typer parses, archcalc words the errors (one line at
    <options>, exit 2, as JSON under --format json)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not isinstance(sys.stdout, SafeStdout):
        sys.stdout = SafeStdout(sys.stdout)
    if "--version" in argv[:argv.index("--") if "--" in argv else None]:   # on every command
        print(f"archcalc {__version__}")
        sys.exit(0)
    app = build_app(argv[0] if argv and argv[0] in COMMANDS else None)
    try:
        code = app(argv, prog_name="archcalc", standalone_mode=False)
    except _usage_error_type() as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":   # plain `archcalc`: the help, as -h
            print(exc.format_message())
            sys.exit(0)
        command = exc.ctx.command_path if exc.ctx is not None else "archcalc"
        if command == "archcalc":           # an error found before the command was known
            named = next((a for a in argv if a in COMMANDS), None)
            command += f" {named}" if named else ""
        message = exc.format_message().rstrip(".")
        message = message[:1].lower() + message[1:]
        err = ArchcalcError(Diagnostic("error", message, OPTIONS,
                                       hint=_usage_hint(command, message, argv)), exit_code=2)
        if _json_requested(argv):
            print_json(error_document(err.diagnostics))
        else:
            sys.stderr.write(err.render() + "\n")
        sys.exit(2)
    except typer.Abort:
        sys.stderr.write("archcalc: interrupted\n")
        sys.exit(130)
    finish(code if isinstance(code, int) else 0)


def finish(code: int) -> None:
    """Flush standard output (where a full disk shows) and exit with ``code``."""
    try:
        sys.stdout.flush()
    except ArchcalcError as exc:
        sys.stderr.write(exc.render() + "\n")
        sys.exit(exc.exit_code)
    sys.exit(code)


if __name__ == "__main__":
    main()
