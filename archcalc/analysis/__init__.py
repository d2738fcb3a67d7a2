"""Analysis: a Network in, a Report out, in one pass.

* :func:`analyze` — every figure of every layer and the totals (``walk``), or every error found;
* :func:`diagnose` — every problem, errors and warnings, without raising (``archcalc validate``);
* :func:`problems` — what ``validate`` lists for a spec that failed to build.

The pass itself is :mod:`.walk`; the receptive-field algebra :mod:`.rf`; memory over time and the
training estimate :mod:`.memory`; warnings on valid networks :mod:`.lint`; hints that fit the
spec's language :mod:`.fixes`; the arithmetic behind each figure (``archcalc explain``)
:mod:`.explain`. Every definition is written out in docs/definitions.md.
"""
from __future__ import annotations

from dataclasses import replace
from math import prod
from operator import attrgetter
from typing import Any

from ..bulk import paused_gc
from ..errors import OPTIONS, ArchcalcError, Diagnostic, error
from ..graph import Network
from ..report import Report, Totals
from ..settings import resolve_analysis
from .fixes import improve
from .lint import lint
from .training import Lazy, checkpoint_segments
from .walk import walk


@paused_gc()
def diagnose(net: Network) -> list[Diagnostic]:
    """Every problem in ``net``, errors and warnings, in layer order; never raises for a problem
    in the spec (this is what ``archcalc validate`` reports)."""
    rows, diags, _, _ = walk(net)
    diags = improve(net, diags) + list(net.warnings)
    return _sorted(net, diags + lint(net, rows))


def _sorted(net: Network, diags: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in layer order, errors first within a layer."""
    if not diags:
        return diags
    index = {layer.name: i for i, layer in enumerate(net.layers)}
    return sorted(diags, key=lambda d: (index.get(d.layer or "", -1), d.severity != "error"))


def problems(exc: ArchcalcError, errors_only: bool = False) -> list[Diagnostic]:
    """The problems of a spec that failed to build, as ``archcalc validate`` lists them: the
    errors found while reading it and what analysis finds in the layers that did build
    (``exc.partial``), in source order. ``errors_only`` leaves the warnings out. An error that
    is not the spec's (bad usage, an unreadable file) is raised again."""
    if exc.kind != "spec":
        raise exc
    diags = list(exc.diagnostics)
    if exc.partial is not None:
        found = {(d.pos, d.message) for d in diags}
        diags = sorted(diags + [d for d in diagnose(exc.partial)
                                if (d.pos, d.message) not in found
                                and not (errors_only and d.severity != "error")],
                       key=lambda d: (d.pos.line, d.pos.col, d.severity != "error"))
    return diags


@paused_gc()
def analyze(net: Network, dtype: Any = None, batch: Any = None, count_inplace: Any = None,
            optimizer: Any = None, convention: Any = None, amp: Any = None,
            checkpoint: Any = None, accumulate: Any = None, backend: Any = None) -> Report:
    """Analyze ``net``; returns a :class:`Report` or raises :class:`ArchcalcError` with every
    error found. The settings are the network's own (``net.settings``: fp32, batch 1, adam, in
    place, unless the spec was loaded with ``set={"batch": 32}`` or the options of a command);
    ``dtype`` (bytes per element), ``batch`` (images per step), ``count_inplace`` (in-place ops
    get buffers of their own), ``convention`` (what the MACs count: :mod:`.conventions`) and
    the training step's ``optimizer`` (sgd, momentum, adam, adamw, adafactor, adam8bit),
    ``amp`` (off, bf16, fp16: autocast), ``checkpoint`` (blocks or stages run again in the
    backward pass), ``accumulate`` (micro-batches per step) and ``backend`` (cuda, cpu: whose
    kernels) replace them (docs/training-memory.md). Warnings are in ``report.diagnostics``."""
    if not isinstance(net, Network):
        raise error(f"analyze takes a Network, got {type(net).__name__}", OPTIONS,
                    hint="make one first: archcalc.analyze(archcalc.parse(\"C3D64 M\")) or "
                         "archcalc.load(\"spec.yaml\")", kind="usage")
    settings = resolve_analysis(net.settings, dtype=dtype, batch=batch, optimizer=optimizer,
                                count_inplace=count_inplace, convention=convention, amp=amp,
                                checkpoint=checkpoint, accumulate=accumulate, backend=backend)
    rows, diags, errors, store = walk(net, settings.count_inplace)
    diags = improve(net, diags) + list(net.warnings)
    if errors:
        raise ArchcalcError(_sorted(net, diags))
    diags = _sorted(net, diags + lint(net, rows))

    size, batch_ = settings.dtype_bytes, settings.batch
    params = sum(map(attrgetter("params"), rows))
    trainable = sum(map(attrgetter("trainable_params"), rows))
    buffers = sum(map(attrgetter("buffers"), rows))
    train = [row for row in rows if row.train_only]     # an auxiliary head: runs in training only
    t_params, t_buffers, t_macs, t_acts = (sum(map(attrgetter(k), train)) for k in
                                           ("params", "buffers", "macs", "activations"))
    macs = sum(map(attrgetter("macs"), rows)) - t_macs
    acts = sum(map(attrgetter("activations"), rows)) - t_acts
    if settings.checkpoint:
        _check_targets(net, settings.checkpoint)
    # the training step is replayed when a figure of it is first asked for (Totals.training)
    step = Lazy(net, tuple(rows), settings)
    totals = Totals(
        params=params, trainable_params=trainable, macs=macs, flops=2 * macs,
        activations=acts, activation_bytes=acts * batch_ * size,
        param_bytes=(params + buffers - t_params - t_buffers) * size,
        peak_bytes=store.peak * batch_ * size, peak_layer=store.peak_at,
        buffers=buffers, input_bytes=prod(net.input) * batch_ * size, batch=batch_,
        train_only_params=t_params, train_only_buffers=t_buffers, train_only_macs=t_macs,
        train_only_activations=t_acts, step=step)
    if settings.convention == "torchvision":
        return Report(net.name, net.input, tuple(rows), totals, settings, tuple(diags),
                      net.block_outputs)
    from .conventions import under  # the rows' MACs counted under another convention
    return under(Report(net.name, net.input, tuple(rows), totals,
                        replace(settings, convention="torchvision"), tuple(diags),
                        net.block_outputs), settings.convention)


def _check_targets(net: Network, targets: tuple[str, ...]) -> None:
    """Every ``checkpoint`` target names a block, a stage or layers of ``net``."""
    names = [layer.name for layer in net.layers]
    found = set(checkpoint_segments(names, targets).values())
    missing = [t for t in targets
               if not any(f == t or f.startswith(t + ".") for f in found)]
    if missing:
        blocks = sorted({s.rpartition(".")[0] or s for layer in net.layers
                         for s in layer.scope[:1]})
        raise error(f"checkpoint: no block or layer of {net.name} is named "
                    f"{', '.join(repr(m) for m in missing)}", OPTIONS, kind="usage",
                    hint="name a block instance or a stage: " + (", ".join(blocks[:8])
                                                                    or "this network has none"))


__all__ = ["analyze", "diagnose", "problems", "walk"]
