"""Evaluating variants: one variant is :meth:`archcalc.design.parameters.Design.build` then
``analyze``, exactly as a single run with ``--set``; many are evaluated in chunks by worker
processes (local) or by the workers of a Dask cluster, and come back as a stream in the order
they were asked for.

Memory stays flat: the variants are drawn from the space as chunks are submitted, at most a
window of chunks is in flight, and every result is handed on (written out) as soon as those
before it are; nothing holds a list of all variants or results.

Per-variant cost: reading the YAML text into values is most of a ResNet-50 parse and is the
same for every variant; a chunk opens the spec once (:class:`~archcalc.design.parameters.Design`)
and builds every variant's network from the parsed spec. Building and the analysis run in full
for every variant, so a result is the one a plain load + analyze gives (tests/test_sweep.py
checks it).
"""
from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

from ...analysis import analyze
from ...analysis.figures import FIGURES
from ...bulk import paused_gc
from ...errors import INTERNAL, OPTIONS, ArchcalcError, error
from ...report import Report
from ...settings import LoadOptions
from ...spec.sources import Source
from ..parameters import Design
from .space import Space

# what a sweep reports of every variant, in column order (archcalc.analysis.figures)
KEYS = ("params", "macs", "activations", "peak_bytes", "training_bytes", "rf")
LATENCY = "latency_ms"              # with --device: the predicted time of a batch


class Job(NamedTuple):
    """What every worker needs to build a variant: the spec (its text read once by the command:
    the workers of a cluster may not see the file, nor standard input) and the options of
    loading and analysis that are the same for every variant."""
    source: Source
    options: LoadOptions
    device: Any = None              # --device: an archcalc.latency Device (latency reported)

    @property
    def keys(self) -> tuple[str, ...]:
        """The figures reported, in column order."""
        return KEYS + ((LATENCY,) if self.device is not None else ())


Values = dict[str, Any]             # settings, figures, an error's fields: by name
# what a variant gave: (figures, error, internal); see Result
Outcome = tuple[Values | None, Values | None, bool]
Done = Callable[[int], None]        # told how many more variants are done
Handle = TypeVar("Handle")          # a chunk in flight (a future)


class Result(NamedTuple):
    variant: int                    # the variant's number in the product order
    settings: Values
    figures: Values | None          # key → value (Job.keys); None for an invalid variant
    error: Values | None            # the first error (Diagnostic.to_dict()); None when valid
    internal: bool = False          # the error is a bug in archcalc, not in the variant
    seq: int = 0                    # its place in the sweep's output order (0, 1, 2, ...)


# ---------------------------------------------------------------------------------------------
# one variant

def figures_of(job: Job, report: Report, outputs: Sequence[str]) -> Values:
    """The reported figures of one variant's report."""
    out = {k: FIGURES[k].value(report, outputs) for k in KEYS}
    if job.device is not None:
        from ...latency import model
        out[LATENCY] = model.estimate(report, job.device).time_s * 1e3
    return out


def evaluate(job: Job, design: Design, settings: Values) -> Outcome:
    """(figures, error, internal) of one variant: never raises for a problem of the variant."""
    try:
        net = design.build(settings)
        return figures_of(job, analyze(net), net.outputs), None, False
    except ArchcalcError as exc:
        first = next((d for d in exc.diagnostics if d.severity == "error"), exc.diagnostics[0])
        return None, first.to_dict(), False
    except RecursionError:
        return None, error("the spec nests too deeply to build").diagnostics[0].to_dict(), False
    except Exception as exc:            # a bug: recorded on the variant, the sweep exits 3
        return None, {"severity": "error", "message": f"internal error: {type(exc).__name__}: "
                      f"{exc}", "hint": "please report it", "layer": None,
                      "file": INTERNAL.file, "line": 0, "column": 0}, True


def evaluate_chunk(job: Job, chunk: Sequence[Values]) -> list[Outcome]:
    """Evaluate a chunk of variants' settings (what a worker process or a Dask task runs): the
    spec is parsed once for the chunk, each variant evaluated from it."""
    design = Design(job.source, job.options)
    with paused_gc():
        return [evaluate(job, design, s) for s in chunk]


def seconds_per_variant(job: Job, space: Space) -> float:
    """How long one variant takes in this process (building it and its analysis), measured on
    the space's first, middle and last variants (a sweep's cost grows along its axes): what a
    sweep's estimate of its time is made from. The spec's text was parsed by :func:`plan`."""
    import time
    design = Design(job.source, job.options)
    picks = sorted({0, len(space) // 2, len(space) - 1})
    with paused_gc():
        started = time.perf_counter()
        for i in picks:
            evaluate(job, design, space[i])
        return (time.perf_counter() - started) / len(picks)


# ---------------------------------------------------------------------------------------------
# many variants, in order

def chunks(indices: Iterable[int], size: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    for i in indices:
        chunk.append(i)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def chunk_size(count: int, workers: int) -> int:
    """Variants per task: enough tasks for every worker to stay busy (16 each) and to show
    progress, few enough that sending them costs little next to evaluating them."""
    return max(1, min(128, count // max(1, workers * 16)))


def in_order(submit: Callable[[list[Values]], Handle], wait: Callable[[Handle], list[Outcome]],
             space: Space, batches: Iterable[list[int]], window: int,
             done: Done | None = None) -> Iterator[Result]:
    """Submit chunks, keep at most ``window`` in flight, yield their results in submission
    order. ``submit(settings_list)`` → handle; ``wait(handle)`` → the chunk's results."""
    pending: deque[tuple[list[int], list[Values], Handle]] = deque()
    batches = iter(batches)

    def fill() -> None:
        while len(pending) < window:
            batch = next(batches, None)
            if batch is None:
                return
            settings = [space[i] for i in batch]
            pending.append((batch, settings, submit(settings)))

    fill()
    seq = 0
    while pending:
        batch, settings, handle = pending.popleft()
        got = wait(handle)
        fill()                          # keep the workers busy while these are written
        for i, s, (figures, err, internal) in zip(batch, settings, got):
            yield Result(i, s, figures, err, internal, seq)
            seq += 1
        if done is not None:
            done(len(batch))


def run_inline(job: Job, space: Space, indices: Iterable[int], count: int,
               done: Done | None = None) -> Iterator[Result]:
    """In this process (``--jobs 1``)."""
    return in_order(lambda s: evaluate_chunk(job, s), lambda r: r, space,
                    chunks(indices, chunk_size(count, 1)), 1, done)


def _worker_start(parent: int) -> None:
    """In a worker process: SIGINT and SIGTERM end it at once and silently (not the command's
    handlers, nor a KeyboardInterrupt's traceback): the command, interrupted too or told by
    the worker's end (:func:`_ended`), stops the sweep. And it exits when the command that
    started it is gone (killed outright, it cannot stop its workers, which would otherwise wait
    for work forever)."""
    import signal
    import threading
    for s in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(s) is not signal.SIG_IGN:    # (a SIGINT ignored stays ignored)
            signal.signal(s, signal.SIG_DFL)

    def watch() -> None:
        import time
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def run_local(job: Job, space: Space, indices: Iterable[int], count: int, jobs: int,
              done: Done | None = None) -> Iterator[Result]:
    """In ``jobs`` worker processes of this machine."""
    if jobs <= 1 or count <= 1:
        yield from run_inline(job, space, indices, count, done)
        return
    import concurrent.futures as cf
    import multiprocessing as mp
    size = chunk_size(count, jobs)
    jobs = min(jobs, -(-count // size))
    # Linux: fork, all workers at the first submission (before the command starts its progress
    # bar's thread): they start at once with archcalc imported, and a script calling sweep()
    # needs no `if __name__ == "__main__"` guard. Elsewhere (macOS, Windows) spawn, the safe
    # default there.
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_start,
                                  initargs=(os.getpid(),))
    workers: list[Any] = []             # the worker processes (started at the first submit)

    def submit(settings: list[Values]) -> Any:
        f = pool.submit(evaluate_chunk, job, settings)
        if not workers:
            workers.extend(dict(getattr(pool, "_processes", None) or {}).values())
        return f

    finished = False
    try:
        yield from in_order(submit, lambda f: f.result(), space, chunks(indices, size),
                            jobs * 4, done)
        finished = True
    except cf.process.BrokenProcessPool:
        # the pool's own thread reaps the workers: their exit codes are read once it has
        pool.shutdown(wait=True, cancel_futures=True)
        raise _ended(workers) from None
    finally:
        if not finished:                # interrupted, failed, or closed early: stop at once
            for w in workers:
                try:
                    w.kill()
                except (OSError, ValueError, AttributeError):
                    pass
        pool.shutdown(wait=True, cancel_futures=True)


def _ended(workers: Sequence[Any]) -> BaseException:
    """Why a worker process ended before its work: a signal that stops (SIGINT, SIGTERM,
    SIGHUP: sent to it, to the sweep's process group or to every archcalc process) interrupts
    the sweep as Ctrl-C does; SIGKILL is most often the kernel's out-of-memory killer; anything
    else is an internal error. (Once one worker has ended, the pool ends the others with
    SIGTERM: the first cause is what tells.)"""
    import signal
    codes = [c for c in (getattr(w, "exitcode", None) for w in workers) if c is not None]
    names = {-int(s): s.name for s in signal.Signals}
    stops = {-signal.SIGINT, -signal.SIGTERM, -getattr(signal, "SIGHUP", signal.SIGTERM)}
    if -getattr(signal, "SIGKILL", 9) in codes:
        return error("a sweep worker process was killed (SIGKILL: out of memory?)", OPTIONS,
                     hint="run fewer at once with --jobs, or sweep fewer variants per run "
                          "(--sample)", kind="internal")
    other = [c for c in codes if c not in stops]
    if codes and not other:
        return KeyboardInterrupt()
    why = (f"signal {names.get(other[0], other[0])}" if other[0] < 0 else
           f"exit code {other[0]}") if other else "no exit code"
    return error(f"a sweep worker process died ({why})", OPTIONS,
                 hint="please report it; run with --jobs 1 to see the error in this process",
                 kind="internal")


# ---------------------------------------------------------------------------------------------
# a Dask cluster

CONNECT_TIMEOUT = 5             # seconds to reach a scheduler before saying it cannot be reached


def connect(address: str) -> Any:
    """A dask.distributed Client of the scheduler at ``address``, or a clear error (exit 2).
    The address is asked who it is first (a plain connection, no Client): a Client that fails
    to start lingers and takes seconds to give up, and a port that is not a Dask scheduler's
    answers with what Dask would read as nonsense."""
    try:
        import distributed
    except ImportError:
        raise error("--scheduler needs dask.distributed, which is not installed", OPTIONS,
                    hint="pip install 'archcalc[cluster]' (on this machine and the workers)",
                    kind="usage") from None
    import logging
    for name in ("distributed", "distributed.client", "distributed.comm", "distributed.core"):
        logging.getLogger(name).setLevel(logging.CRITICAL)   # the error below says it once
    who = _identity(address)
    if who.get("type") != "Scheduler":
        raise error(f"{address} is a Dask {str(who.get('type', 'server')).lower()}, not the "
                    "scheduler", OPTIONS, hint="give the scheduler's address (port 8786 by "
                    "default; dask worker prints it as 'Registered to')", kind="usage")
    try:
        client: Any = distributed.Client      # (untyped: distributed has no annotations)
        return client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except Exception as exc:
        raise error(f"cannot connect to the Dask scheduler at {address} ({_reason(exc)})",
                    OPTIONS, hint="check that this machine's dask and distributed are the "
                    "cluster's versions", kind="usage") from None


def _reason(exc: BaseException) -> str:
    return (f"{type(exc).__name__}: {exc}".split("\n")[0])[:200]


def _identity(address: str) -> Values:
    """What the server at ``address`` says it is (Dask's ``identity`` call), within
    CONNECT_TIMEOUT seconds; an address that is malformed, unreachable or not Dask's is one
    clear error."""
    import asyncio

    from distributed import core
    rpc: Any = core.rpc                     # (untyped: distributed has no annotations)

    async def ask() -> Values:
        r = rpc(address, timeout=CONNECT_TIMEOUT)
        try:
            got: Values = await asyncio.wait_for(r.identity(), CONNECT_TIMEOUT)
            return got
        finally:
            await r.close_rpc()

    try:
        return asyncio.run(ask())
    except (ValueError, TypeError) as exc:
        raise error(f"--scheduler {address}: {exc}", OPTIONS,
                    hint="an address is tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786",
                    kind="usage") from None
    except (OSError, TimeoutError) as exc:
        raise error(f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT} s "
                    f"({_reason(exc) if str(exc) else 'no answer'})", OPTIONS,
                    hint="start one (dask scheduler), check the address and port (default "
                         "8786), or drop --scheduler to run on this machine",
                    kind="usage") from None
    except Exception as exc:            # something answered, but not in Dask's protocol
        why = "" if isinstance(exc, (MemoryError, OverflowError)) else f" ({_reason(exc)})"
        raise error(f"{address} does not answer as a Dask scheduler: another service is on "
                    f"that port{why}", OPTIONS,
                    hint="check the port: a scheduler listens on 8786 by default",
                    kind="usage") from None


def run_dask(job: Job, space: Space, indices: Iterable[int], count: int, client: Any,
             done: Done | None = None, retries: int = 3) -> Iterator[Result]:
    """On the workers of the cluster ``client`` is connected to. A worker that dies takes its
    tasks with it; the scheduler gives them to another worker (and ``retries`` covers a task
    that fails), so no variant is lost."""
    threads = sum(client.nthreads().values()) or 1
    size = chunk_size(count, threads)
    submitted: list[Any] = []             # the futures in flight

    def submit(settings: list[Values]) -> Any:
        f = client.submit(evaluate_chunk, job, settings, pure=False, retries=retries)
        submitted.append(f)
        return f

    def wait(f: Any) -> list[Outcome]:
        try:
            got = f.result()
        except Exception as exc:        # the task failed its retries, or the cluster went away
            reason = f"{type(exc).__name__}: {exc}".split("\n")[0]
            raise error(f"the Dask cluster could not evaluate variants ({reason})", OPTIONS,
                        hint="archcalc must be installed on every worker, the same version as "
                             "here (pip install 'archcalc[cluster]'); see docs/sweep.md",
                        kind="usage") from None
        submitted.remove(f)
        f.release()
        outcomes: list[Outcome] = got
        return outcomes

    try:
        yield from in_order(submit, wait, space, chunks(indices, size), max(8, threads * 4),
                            done)
    finally:
        if submitted:
            client.cancel(submitted)
