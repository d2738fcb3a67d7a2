"""The analysis pass: one walk over a Network in topological order computes every layer's figures.

Per layer: output volume, parameters (trainable and not), MACs, activation elements, receptive
field. Problems are collected as diagnostics (a layer whose input could not be computed is
skipped); where each output is stored (in place or not) and the peak of live activations are
followed in the same walk by :class:`~archcalc.analysis.memory.Storage`. Every definition is
written out in docs/definitions.md.
"""
from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

from ..errors import ArchcalcError, Diagnostic, error
from ..graph import Layer, Network
from ..ops import IDENTITY, MAX_DIM, At, Attrs, Op, RFKind, RFStep, Vol
from ..report import RF, LayerRow
from . import rf as rfa
from .memory import Storage

_RELAXED = ({"rounding": "floor"}, {"groups": 1}, {"rounding": "floor", "groups": 1},
            {"in_channels": None}, {"in_features": None})

# a layer's figures: output volume, parameters, trainable parameters, buffers, MACs, receptive
# field step, output elements, whether it may overwrite its input, whether it is a view, the
# elements it holds while it runs besides its output (attention's matrix)
_Figures = tuple[Vol, int, int, int, int, RFStep | RFKind, int, bool, bool, int]


def _recover(op: Op, a: Attrs, ins: Sequence[Vol], at: At) -> Vol | None:
    """After an error, the volume the layer would have with floor rounding, without groups or
    without its declared input size, so that the layers after it are still checked (the error
    stands). None where none can be had."""
    for relax in _RELAXED:
        if all(k in a for k in relax):
            try:
                return op.shape({**a, **relax}, ins, at)
            except ArchcalcError:
                continue
    return None


def walk(net: Network, count_inplace: bool = False, input: Vol | None = None
         ) -> tuple[list[LayerRow], list[Diagnostic], int, Storage]:
    """The analysis pass: one walk in topological order. Returns the rows, the diagnostics (errors
    and warnings), the number of errors and the activation storage (its ``peak``, ``peak_at``);
    a layer whose inputs are unknown is skipped. ``input`` replaces the network's input volume
    (``fixes`` tries other input sizes this way).

    Linear in the layers, and cheap per layer: an op's figures are pure functions of its
    attributes and input volumes, so those last computed for an attributes object are reused
    while its input volumes stay the same (a spec string shares one attributes object between
    the repeats of a word, so ``(C3D16 R)x50000`` computes two layers' figures, not 100,000;
    the attributes objects all live in ``net`` during the walk, so their ids are unique)."""
    vols: dict[str, Vol | None] = {}
    rfs: dict[str, RF] = {}
    rows: list[LayerRow] = []
    diags: list[Diagnostic] = []
    errors = 0
    # layers that run only in training hold no inference memory (see Layer.train_only)
    store = Storage(net.inference_consumers, net.declared_outputs)
    # (id(attrs), input volumes) → (kind, figures): every op's figures are pure functions of them
    known: dict[tuple[int, tuple[Any, ...]], tuple[str, _Figures]] = {}
    rounding = net.rounding
    overwrite = not count_inplace
    # bound once: the loop below runs once per layer of networks 100,000 layers long
    run, add_row, new_tuple, rf_step = store.run, rows.append, tuple.__new__, rfa.step

    for layer in net.layers:
        name, kind, a, srcs = layer.name, layer.op, layer.attrs, layer.inputs
        if kind == "input":
            out = input or net.input
            rfs[name] = RF()
            vols[name] = out
            run(name, (), prod(out), False)
            add_row(LayerRow(name, kind, (), out, 0, 0, 0, prod(out), rfs[name]))
            continue
        ins: tuple[Any, ...] = (vols[srcs[0]],) if len(srcs) == 1 else \
            tuple(vols[s] for s in srcs)
        if None in ins:
            vols[name] = None
            store.skip(srcs)
            continue
        memo = (id(a), ins)
        seen = known.get(memo)            # (kind, figures) computed for these attrs and inputs
        fig: _Figures
        if seen is not None and seen[0] is kind:
            fig = seen[1]
        else:
            op = layer.opdef
            at = At(name, layer.pos, srcs, rounding)
            given = list(ins)
            try:
                out = op.shape(a, given, at)
                if max(out) > MAX_DIM:      # upsampling and transposed convolutions can grow
                    raise error(f"the output {out[0]}×{out[1]}×{out[2]} is too large (the limit "
                                f"is {MAX_DIM:,} per side)", layer.pos, layer=name,
                                hint="use a smaller scale or stride; archcalc refuses sizes "
                                     "that could not be allocated on any device")
                ok = True
            except ArchcalcError as exc:
                diags.extend(exc.diagnostics)
                errors += 1
                ok = False
                recovered = _recover(op, a, given, at)
                if recovered is None:
                    vols[name] = None
                    store.skip(srcs)
                    continue
                out = recovered
            trainable, frozen = op.params(a, given, out)    # frozen: buffers
            step = op.rf_step(a, given)
            fig = (out, trainable, trainable, frozen, op.macs(a, given, out),
                   step, prod(out), op.inplace and overwrite, op.view,
                   op.scratch(a, given, out))
            if ok:                          # a failing layer reports its own error every time
                known[memo] = (kind, fig)
        out, params, trainable, buffers, macs, step, elements, may_overwrite, view, scratch = fig
        vols[name] = out
        if layer.train_only:
            inplace = _train_only_inplace(net, layer, view, may_overwrite)
        else:
            inplace = run(name, srcs, elements, may_overwrite, view, scratch)
        # an element-wise op sees what its input saw (rf.step's identity case, without a call:
        # half the layers of most networks)
        rf = rfs[name] = rfs[srcs[0]] if step is IDENTITY else \
            rf_step(rfs, srcs, step, ins, out)
        add_row(new_tuple(LayerRow, (name, kind, srcs, out, params, trainable, macs,
                                     0 if inplace else elements, rf, a, inplace, layer.scope, "",
                                     buffers, layer.train_only, scratch)))
    return rows, diags, errors, store


def _train_only_inplace(net: Network, layer: Layer, view: bool, may_overwrite: bool) -> bool:
    """Whether a training-only layer's output shares its input's buffer: a view always; an
    in-place op where its single input is itself training-only and read by nothing else (a
    training-only head never overwrites a tensor that inference keeps)."""
    if view:
        return True
    if not may_overwrite or len(layer.inputs) != 1:
        return False
    src = layer.inputs[0]
    return net[src].train_only and len(net.consumers[src]) == 1


__all__ = ["walk", "RFStep"]
