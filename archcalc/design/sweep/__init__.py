"""Sweeps over a design space (docs/sweep.md): every variant of a spec that ``--set`` lists,
evaluated in parallel, as a stream of results in variant order.

    >>> from archcalc.design.sweep import sweep
    >>> for r in sweep("C3D8 M C3D16 M FC10", ["res=32..64/16"], jobs=1):
    ...     print(r.settings, r.figures["params"] if r.figures else r.error["message"])

Modules: ``space`` (values, ranges, the product and sampling), ``engine`` (evaluating variants:
inline, in local processes, on a Dask cluster; the figures reported), ``pareto``. How rows are
written is :mod:`archcalc.views.sweep`; the command is ``archcalc.cli.commands.sweep``.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from ...errors import ArchcalcError
from ...settings import BUILTINS, LoadOptions, check_builtin, parse_assignment
from ...spec.sources import open_source
from ..parameters import Design
from .engine import KEYS, LATENCY, Job, Result, run_dask, run_local
from .pareto import Front, Objective, front, parse_objectives
from .space import Axis, NumRange, Space, parse_axis

__all__ = ["sweep", "plan", "Job", "Result", "Space", "Axis", "NumRange", "KEYS", "LATENCY",
           "Front", "Objective", "front", "parse_objectives", "parse_axis", "default_jobs"]


def default_jobs() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _typed(name: str, text: str) -> Any:
    return parse_assignment(f"{name}={text}")[1]


def plan(spec: str, assignments: Sequence[str], options: LoadOptions = LoadOptions(),
         device: Any = None) -> tuple[Job, Space]:
    """The job (the spec, read once) and the space of ``assignments`` (``--set`` texts). The
    first variant is built here, so that what is wrong with the command itself (a parameter the
    spec does not declare, a file that cannot be read: a usage or I/O error) is one error before
    any work; a variant the spec refuses is only that variant's error."""
    space = Space([parse_axis(a, _typed) for a in assignments])
    check_builtins(space)
    job = Job(open_source(spec, options.label), options, device)
    if len(space):
        try:
            Design(job.source, options).build(space[0])
        except ArchcalcError as exc:
            if exc.kind != "spec":
                raise
    return job, space


def check_builtins(space: Space) -> None:
    """A bad value of a built-in parameter (``dtype=fp64``, ``batch=0..8``) is bad usage, as it
    is for ``--set`` alone: found here for every value (a range's ends; ranges are monotonic),
    not as the error of the variants that happen to have it."""
    for a in space.axes:
        if a.name in BUILTINS and a.name != "res":    # res may be the spec's own parameter
            for v in (a.values if isinstance(a.values, list) else (a.values[0], a.values[-1])):
                check_builtin(a.name, v)


def sweep(spec: str, assignments: Sequence[str], *, sample: int | None = None,
          seed: int | None = None, jobs: int | None = None, client: Any = None,
          options: LoadOptions = LoadOptions(), done: Any = None) -> Iterator[Result]:
    """Every variant's Result, in order (variant order, or the order drawn with ``sample``):
    on ``jobs`` local processes (default: every core; 1 runs here), or on the Dask cluster of
    ``client`` (a ``distributed.Client``)."""
    job, space = plan(spec, assignments, options)
    count = len(space) if sample is None else min(sample, len(space))
    indices = space.indices(sample, seed)
    if client is not None:
        return run_dask(job, space, indices, count, client, done)
    return run_local(job, space, indices, count, jobs or default_jobs(), done)
