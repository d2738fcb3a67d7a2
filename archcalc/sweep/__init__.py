"""Sweeps over a design space (issue 14; docs/sweep.md): every variant of a spec that ``--set``
lists, evaluated in parallel, as a stream of results in variant order.

    >>> from archcalc.sweep import sweep
    >>> for r in sweep("C3D8 M C3D16 M FC10", ["res=32..64/16"], jobs=1):
    ...     print(r.settings, r.figures[:2] if r.figures else r.error["message"])

Modules: ``space`` (values, ranges, the product and sampling), ``engine`` (evaluating variants:
inline, in local processes, on a Dask cluster), ``figures`` (what is reported, and the hook for
predicted latency), ``pareto``, ``outputs`` (table, CSV, JSON Lines, the atomic file) and
``command`` (``archcalc sweep``).
"""
from __future__ import annotations

import os
from typing import Any, Iterator, Optional, Sequence

from .engine import Job, Result, run_dask, run_local
from .figures import FIGURES, KEYS, active, keys
from .pareto import Front, Objective, front, parse_objectives
from .space import Axis, NumRange, Space, parse_axis

__all__ = ["sweep", "plan", "Job", "Result", "Space", "Axis", "NumRange", "FIGURES", "KEYS",
           "active", "keys",
           "Front", "Objective", "front", "parse_objectives", "parse_axis", "default_jobs"]


def default_jobs() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _typed(name: str, text: str) -> Any:
    from .load import params
    return params.parse_assignment(f"{name}={text}")[1]


def plan(spec_arg: str, assignments: Sequence[str], load_options: Optional[dict] = None,
         analyze_options: Optional[dict] = None, device=None) -> tuple[Job, Space]:
    """The job (the spec, read once) and the space of ``assignments`` (``--set`` texts). The
    first variant is built here, so that what is wrong with the command itself (a parameter the
    spec does not declare, a file that cannot be read: exit 2) is one error before any work;
    a variant the spec refuses is only that variant's error."""
    from ..cli_common import find_shipped, read_stdin
    from ..errors import ArchcalcError
    from ..spec import read_text
    from .load import load_variant
    space = Space([parse_axis(a, _typed) for a in assignments])
    check_builtins(space)
    load_options = {k: v for k, v in (load_options or {}).items() if v is not None}
    text, file = None, "<spec>"
    if spec_arg == "-":
        text, file = read_stdin(), "<stdin>"
    elif os.path.exists(spec_arg) or find_shipped(spec_arg):
        spec_arg = spec_arg if os.path.exists(spec_arg) else find_shipped(spec_arg)
        if os.path.isfile(spec_arg) and not spec_arg.lower().endswith(".onnx"):
            text, file = read_text(spec_arg), spec_arg      # (a model is read where it is)
    job = Job(spec_arg, text, file, tuple(load_options.items()),
              tuple((analyze_options or {}).items()), device)
    from .figures import use_device
    use_device(device)              # (this process's outputs; forked workers inherit it)
    if len(space):
        try:
            load_variant(job, space[0])
        except ArchcalcError as exc:
            if exc.exit_code != 1:
                raise
    return job, space


def check_builtins(space: Space) -> None:
    """A bad value of a built-in parameter (``dtype=fp64``, ``batch=0..8``) is bad usage (exit
    2), as it is for ``--set`` alone: found here for every value (a range's ends; ranges are
    monotonic), not as the error of the variants that happen to have it."""
    from ..params import check_builtin
    from ..spec.yaml_spec import BUILTINS
    for a in space.axes:
        if a.name in BUILTINS and a.name != "res":    # res may be the spec's own parameter
            for v in (a.values if isinstance(a.values, list) else (a.values[0], a.values[-1])):
                check_builtin(a.name, v)


def sweep(spec_arg: str, assignments: Sequence[str], *, sample: Optional[int] = None,
          seed: Optional[int] = None, jobs: Optional[int] = None, client=None,
          load_options: Optional[dict] = None, analyze_options: Optional[dict] = None,
          done=None) -> Iterator[Result]:
    """Every variant's Result, in order (variant order, or the order drawn with ``sample``):
    on ``jobs`` local processes (default: every core; 1 runs here), or on the Dask cluster of
    ``client`` (a ``distributed.Client``)."""
    job, space = plan(spec_arg, assignments, load_options, analyze_options)
    count = len(space) if sample is None else min(sample, len(space))
    indices = space.indices(sample, seed)
    if client is not None:
        return run_dask(job, space, indices, count, client, done)
    return run_local(job, space, indices, count, jobs or default_jobs(), done)
