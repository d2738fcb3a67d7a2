"""``archcalc sweep``: every variant of a spec over the parameters' values (docs/sweep.md)."""
from __future__ import annotations

import heapq
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import typer

from ...design.sweep import Result, default_jobs, parse_objectives, plan
from ...design.sweep.engine import connect, run_dask, run_local, seconds_per_variant
from ...design.sweep.pareto import Front
from ...errors import INTERNAL, OPTIONS, ArchcalcError, Diagnostic, SourcePos, error
from ...files import AtomicFile, Output, writable_output
from ...ops.values import as_written as show
from ...settings import LoadOptions
from ..guard import StreamedError, note
from ..options import SPEC, DeviceChoice, command, device, request, whole
from ..outputs import check_outputs, device_input, stopping, suffix
from ..progress import Bar, duration, on_terminal

if TYPE_CHECKING:
    from types import ModuleType

    from ...design.sweep.pareto import Objective

FIRST_ERRORS = 3            # how many invalid variants an all-invalid sweep shows
# the most variants a sweep evaluates without --yes: past it, a sweep is refused with how long
# it would take (a space of 10¹¹ variants is easy to ask for and takes years)
MAX_VARIANTS = 10 ** 7
ESTIMATE_FROM = 1000        # from this many variants, the count said up front has a time too
# what each format writes, and the suffixes of its files (archcalc.views.sweep.format_of reads
# the format from them): another format's suffix is refused, an unknown one said
WRITES = {"table": "a table (text)", "csv": "CSV", "json": "JSON Lines",
          "html": "the page of the front (HTML)"}
SUFFIXES = {"table": (".txt",), "csv": (".csv",), "json": (".jsonl", ".json", ".ndjson"),
            "html": (".html", ".htm")}


class _Spool:
    """Invalid variants of a --pareto sweep, kept on disk (not in memory) until the front is
    known, then merged with it in order."""

    def __init__(self) -> None:
        self.fh = tempfile.TemporaryFile("w+", encoding="utf-8")

    def add(self, r: Result) -> None:
        self.fh.write(json.dumps([r.seq, r.variant, r.settings, r.error, r.internal]) + "\n")

    def results(self) -> Iterator[Result]:
        self.fh.seek(0)
        for line in self.fh:
            seq, variant, settings, err, internal = json.loads(line)
            yield Result(variant, settings, None, err, internal, seq)
        self.fh.close()


def _as_error(first: list[Result]) -> ArchcalcError:
    """Every variant is invalid: the first few of them and why."""
    diags = []
    for r in first:
        e = r.error
        assert e is not None                # invalid variants only
        where = SourcePos(e["file"], e.get("line") or 0, e.get("column") or 0)
        settings = " ".join(f"{k}={show(v)}" for k, v in r.settings.items())
        diags.append(Diagnostic("error", f"variant {r.variant}" +
                                (f" ({settings})" if settings else "") + f": {e['message']}",
                                where, e.get("hint"), e.get("layer")))
    return ArchcalcError(diags)


PAGE_POINTS = 2000          # valid variants off the front that the page's plot shows, at most
PAGE_INVALID = 100          # invalid variants the page lists (CSV and JSON Lines list them all)


def _page_module(fmt: str, objectives: Sequence[Objective] | None) -> ModuleType | None:
    """archcalc.views.report.front for --format html (which needs --pareto and pygal), else
    None."""
    if fmt != "html":
        return None
    if not objectives:
        raise error("--format html is the page of the Pareto front: it needs --pareto", OPTIONS,
                    hint="e.g. --pareto macs,-rf -o front.html; or write csv or json",
                    kind="usage")
    try:
        import pygal  # noqa: F401
    except ImportError:
        raise error("the Pareto front's page draws its plot with pygal, which is not installed",
                    OPTIONS, hint="pip install 'archcalc[report]', or write csv or json",
                    kind="usage") from None
    from ...views.report import front
    return front


class _Reservoir:
    """A uniform random sample of at most ``size`` of the items added (reservoir sampling):
    what the page plots of a sweep of any size."""

    def __init__(self, size: int, seed: int | None = None):
        import random
        self.items: list[Result] = []
        self.size, self.seen = size, 0
        self.rng = random.Random(seed if seed is not None else 0)

    def add(self, item: Result) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
        else:
            k = self.rng.randrange(self.seen)
            if k < self.size:
                self.items[k] = item
        return None


def _on(workers: int, dask: bool) -> str:
    return f"{workers} Dask worker thread{'s' * (workers != 1)}" if dask else \
        f"{workers} process{'es' * (workers != 1)}"


def _each(seconds: float) -> str:
    """A variant's time: 1.2 s, 3.4 ms, 850 µs."""
    if seconds >= 1:
        return f"{seconds:.1f} s"
    return f"{seconds * 1e3:.1f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.0f} µs"


def _too_many(count: int, sampled: bool, each: float, workers: int,
              where: str) -> ArchcalcError:
    """A sweep of more than MAX_VARIANTS variants, refused with what it would take."""
    took = f"at {_each(each)} a variant on {where}, that is about " \
           f"{duration(count * each / workers)}"
    if sampled:
        return error(f"--sample asks for {count:,} variants, more than the {MAX_VARIANTS:,} "
                     f"archcalc evaluates without being asked: {took}", OPTIONS, kind="usage",
                     hint="draw fewer (e.g. --sample 100000), or add --yes to evaluate them all")
    return error(f"the sweep holds {count:,} variants, more than the {MAX_VARIANTS:,} archcalc "
                 f"evaluates without being asked: {took}", OPTIONS, kind="usage",
                 hint="evaluate a random sample of them (e.g. --sample 100000), narrow the "
                      "--set ranges, or add --yes to evaluate every one")


@command
def sweep(
    spec: str = SPEC,
    sets: list[str] | None = typer.Option(
        None, "--set", "-s", metavar="NAME=VALUES",
        help="a parameter's values: one value, a list a,b,c, or an inclusive range lo..hi/step "
             "(e.g. res=160..320/32, width=0.5,0.75,1.0, depth=[2,2,2,2],[3,4,6,3]); repeat "
             "for more parameters: the sweep is their Cartesian product"),
    sample: str | None = typer.Option(None, "--sample", metavar="N",
                                      help="N distinct variants drawn at random instead"),
    seed: str | None = typer.Option(None, "--seed", metavar="S",
                                    help="seed of --sample's draws (default: a new one, "
                                         "printed)"),
    jobs: str | None = typer.Option(None, "--jobs", "-j", metavar="N",
                                    help="worker processes (default: every core)"),
    format: str | None = typer.Option(None, "--format", "-F", metavar="FORMAT",
                                      help="table, csv, json (JSON Lines; also jsonl) or "
                                           "html (the Pareto front's page); default: from "
                                           "-o's suffix, else table"),
    output: str | None = typer.Option(None, "--output", "-o", metavar="FILE",
                                      help="write to FILE, only once the sweep is complete "
                                           "(default: stream to standard output)"),
    pareto: str | None = typer.Option(
        None, "--pareto", metavar="FIGURES",
        help="keep the non-dominated variants: figures to minimize, - before those to "
             "maximize, e.g. macs,params,-rf"),
    scheduler: str | None = typer.Option(
        None, "--scheduler", metavar="ADDRESS",
        help="run on a Dask cluster, e.g. tcp://host:8786 (pip install 'archcalc[cluster]')"),
    yes: bool = typer.Option(False, "--yes", "-y",
                             help=f"evaluate more than {MAX_VARIANTS:,} variants (without it "
                                  "such a sweep is refused, saying how long it would take)"),
    opts: LoadOptions = request(exclude=("set_", "unknown")),
    dev: DeviceChoice | None = device("also each variant's predicted latency on a device "
                                      "(archcalc estimate; docs/latency.md)"),
) -> None:
    """Every variant of a spec over the parameters' values (--set), evaluated in parallel:
    settings, parameters, MACs, activations, peak and training memory and the output's
    receptive field, one row each in variant order; invalid variants with their first error.

    Exit codes: 0 done (some variants may be invalid: see their rows), 1 every variant is
    invalid, 2 bad usage, 3 an internal error."""
    with stopping():            # SIGTERM as Ctrl-C: the partial file removed, workers stopped
        _sweep(spec, sets or [], sample, seed, jobs, format, output, pareto, scheduler, opts,
               dev, yes)


def _sweep(spec: str, sets: list[str], sample: Any, seed: Any, jobs: Any, format: Any,
           output: str | None, pareto: str | None, scheduler: str | None,
           opts: LoadOptions, dev: DeviceChoice | None, yes: bool = False) -> None:
    from ...views.sweep import Writer, column_widths, format_of
    if output is not None:
        stem, ext = os.path.splitext(os.path.basename(output))
        check_outputs([Output(output, example=f"{stem}-sweep{ext or '.csv'}")], [spec],
                      device_input(dev.file if dev else None))
    fmt = format_of(output, format)
    if output is not None:
        writable_output(output, "sweep.csv", "the results")
        suffix(output, WRITES[fmt], SUFFIXES[fmt],
               hint="or drop --format: the suffix chooses it" if format is not None else
               "or choose the format with --format")
    sample = whole(sample, "--sample", 1)
    seed = whole(seed, "--seed", 0)
    if seed is not None and sample is None:
        raise error("--seed applies to --sample's draws", OPTIONS, kind="usage",
                    hint="add --sample N, or drop --seed")
    jobs = whole(jobs, "--jobs", 1, 4096)
    if scheduler is not None and jobs is not None:
        raise error("--jobs and --scheduler exclude each other", OPTIONS, kind="usage",
                    hint="the cluster's workers set how many run at once")
    on = None
    if dev is not None:                      # a bad name or file is said before any work
        from ... import latency
        on = latency.device(dev.name, dev.file)
        on.peak("fp32")
    job, space = plan(spec, sets, opts, on)
    lists = [a.name for a in space.axes if isinstance(a.values, list) and any(
        isinstance(v, (bool, list, tuple, str)) for v in a.values)]
    objectives = parse_objectives(pareto, job.keys, space.names, lists) \
        if pareto is not None else None
    page = _page_module(fmt, objectives)
    count = len(space)
    if sample is not None:
        if sample >= len(space):
            note(f"--sample {sample:,}: the space holds {len(space):,} variants; all of them "
                 "are run, in order")
            sample = None
        else:
            count = sample
    local = min(jobs or default_jobs(), count)
    each = seconds_per_variant(job, space) if count >= ESTIMATE_FROM else None
    if count > MAX_VARIANTS and not yes:            # before any work, nothing enumerated
        on_cluster = scheduler is not None          # (its size is not known before connecting)
        raise _too_many(count, sample is not None, each or 0.0, 1 if on_cluster else local,
                        "one core" if on_cluster else _on(local, False))
    if sample is not None and seed is None:
        import random
        seed = random.SystemRandom().randrange(2 ** 32)
        note(f"--sample draws with seed {seed} (--seed {seed} draws the same variants)")
    indices = space.indices(sample, seed)

    client = connect(scheduler) if scheduler is not None else None
    workers = sum(client.nthreads().values()) or 1 if client is not None else local
    note(f"sweeping {count:,}" + (f" of the {len(space):,} variants (--sample)"
                                  if sample is not None else " variants")
         + f" on {_on(workers, client is not None)}"
         + (f"; about {duration(count * each / workers)} ({_each(each)} a variant)"
            if each is not None else ""))
    sink = AtomicFile(output) if output is not None else None
    out: Any = sink if sink is not None else sys.stdout
    interactive = on_terminal() and (sink is not None or pareto is not None
                                     or not sys.stdout.isatty())
    # started at the first results: by then the worker processes have started (forked from
    # this process before it has the bar's thread)
    progress = Bar("sweep", count, "variants", interactive)
    started = time.perf_counter()
    streamed = False
    try:
        if client is not None:
            results: Iterator[Result] = run_dask(job, space, indices, count, client,
                                                 progress.advance)
        else:
            results = run_local(job, space, indices, count, jobs or default_jobs(),
                                progress.advance)
        from ...views.text import terminal_width
        writer = Writer(out, fmt, space.names, len(space), job.keys, column_widths(space.axes),
                        terminal_width() if sink is None else None,
                        opts.settings.convention)
        shown = _Reservoir(PAGE_POINTS, seed) if page is not None else None
        invalid_shown: list[Result] = []    # the page is written at the end, from these

        def keep_invalid(r: Result) -> None:
            if len(invalid_shown) < PAGE_INVALID:
                invalid_shown.append(r)
        row = writer.row if page is None else keep_invalid
        writer.header()
        streamed = sink is None and fmt != "html"
        seen = valid = internal = 0
        first_errors: list[Result] = []
        kept = Front(objectives) if objectives else None
        spool = _Spool() if objectives else None
        for r in results:
            seen += 1
            if r.error is None:
                valid += 1
                if shown is not None:
                    shown.add(r)
                if kept is not None:
                    kept.add(r)
                    continue
            else:
                internal += r.internal
                if len(first_errors) < FIRST_ERRORS:
                    first_errors.append(r)
                if spool is not None:
                    spool.add(r)
                    continue
            row(r)
        progress.stop()
        if kept is not None and spool is not None:      # both, with --pareto
            for r in heapq.merge(kept.results(), spool.results(), key=lambda r: r.seq):
                if r.error is not None:     # the page lists the invalid ones only
                    row(r)
                elif page is None:
                    row(r)
        if page is not None:
            assert kept is not None and shown is not None      # the page needs --pareto
            on_front = kept.results()
            seqs = {r.seq for r in on_front}
            title = f"archcalc sweep {job.source.shown}"
            out.write(page.render(title, objectives, space.names, job.keys, on_front,
                                  [r for r in shown.items if r.seq not in seqs], invalid_shown,
                                  {"variants": seen, "invalid": seen - valid,
                                   "unscored": kept.unscored}))
        if sink is not None:
            sink.commit()
            sink = None
    finally:
        progress.stop()
        if sink is not None:
            sink.abort()
        if client is not None:
            client.close()
    took = time.perf_counter() - started
    where = _on(workers, client is not None)
    summary = f"{seen:,} variant{'s' * (seen != 1)}"
    if seen - valid:
        summary += f" ({seen - valid:,} invalid)"
    if kept is not None:
        summary += f", {len(kept.members):,} on the Pareto front"
        if kept.unscored:
            summary += f" ({kept.unscored:,} valid ones have no value of a --pareto figure)"
    summary += f" in {took:.1f} s on {where}"
    if output is not None:
        summary += f"; wrote {output}"
    note(summary)
    if internal:
        raise error(f"{internal:,} variant{'s' * (internal != 1)} hit an internal error (listed "
                    "in the output)", INTERNAL, kind="internal",
                    hint="please report it; ARCHCALC_DEBUG=1 archcalc summary with those "
                         "settings shows the traceback")
    if seen and not valid:
        exc = _as_error(first_errors)
        if streamed and fmt == "json":
            raise StreamedError(exc.diagnostics, exc.kind, exc.partial)
        raise exc
