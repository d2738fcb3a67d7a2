"""The analysis pass: one walk over a Network in topological order computes every figure.

Per layer: output volume, parameters (trainable and not), MACs, activation elements, receptive
field. Problems are collected as diagnostics (a layer whose input could not be computed is
skipped) and raised together at the end. Peak memory is a plain function over the graph and the
rows (``memory.py``). Every definition is written out in docs/definitions.md.
"""
from __future__ import annotations

from math import prod

from .errors import OPTIONS, ArchcalcError, Diagnostic, error
from .graph import Network
from .lint import lint
from .memory import peak_activations, training_bytes
from .ops import GLOBAL, IDENTITY, MERGE, At, RFStep
from .report import GLOBAL_RF, RF, LayerRow, Report, Settings, Totals

DTYPES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
OPTIMIZERS = {"sgd": 0, "momentum": 1, "adam": 2}   # state tensors per trainable parameter


def _rf_step(rf: RF, step: RFStep) -> RF:
    """One sliding window: size grows by (k − 1)·jump, the jump multiplies by the stride, and the
    first centre moves by ((k − 1)/2 − pad)·jump (Araujo et al., Distill 2019, eqs. 4–6)."""
    if rf.is_global:
        return rf
    (kh, kw), (sh, sw), (ph, pw) = step.k, step.s, step.p
    (jh, jw), (rh, rw), (ch, cw) = rf.stride, rf.size, rf.start
    return RF((rh + (kh - 1) * jh, rw + (kw - 1) * jw), (jh * sh, jw * sw),
              (ch + ((kh - 1) / 2 - ph) * jh, cw + ((kw - 1) / 2 - pw) * jw), False, rf.aligned)


def merge_rf(rfs: list[RF]) -> RF:
    """The receptive field after a merge: the union of the input windows of its branches.

    Where the branches agree on stride and centre (the alignment condition of Araujo et al.,
    Distill 2019) this is simply the largest of them; otherwise the result is flagged unaligned,
    its size covers every branch's window and its stride is the largest branch stride.
    """
    if any(r.is_global for r in rfs):
        return GLOBAL_RF
    aligned = all(r.aligned for r in rfs) and all(
        r.stride == rfs[0].stride and r.start == rfs[0].start for r in rfs)
    size, stride, start = [], [], []
    for ax in (0, 1):
        lo = min(r.start[ax] - (r.size[ax] - 1) / 2 for r in rfs)
        hi = max(r.start[ax] + (r.size[ax] - 1) / 2 for r in rfs)
        size.append(int(round(hi - lo)) + 1)
        start.append((lo + hi) / 2)
        stride.append(max(r.stride[ax] for r in rfs))
    return RF(tuple(size), tuple(stride), tuple(start), False, aligned)


def _check_settings(dtype: str, batch: int, count_inplace: bool, optimizer: str) -> Settings:
    if dtype not in DTYPES:
        raise error(f"unknown dtype {dtype!r}", OPTIONS, hint="one of " + ", ".join(DTYPES),
                    exit_code=2)
    if optimizer not in OPTIMIZERS:
        raise error(f"unknown optimizer {optimizer!r}", OPTIONS,
                    hint="one of " + ", ".join(OPTIMIZERS), exit_code=2)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise error(f"batch must be a positive whole number, got {batch!r}", OPTIONS,
                    exit_code=2)
    if not isinstance(count_inplace, bool):
        raise error(f"count_inplace must be True or False, got {count_inplace!r}", OPTIONS,
                    exit_code=2)
    return Settings(dtype, batch, count_inplace, optimizer)


_RELAXED = ({"rounding": "floor"}, {"groups": 1}, {"rounding": "floor", "groups": 1},
            {"in_channels": None}, {"in_features": None})


def _recover(op, a: dict, ins: list, at: At):
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


def walk(net: Network, count_inplace: bool = False) -> tuple[list[LayerRow], list[Diagnostic], int]:
    """The analysis pass: one walk in topological order. Returns the rows, the diagnostics (errors
    and warnings) and the number of errors; a layer whose inputs are unknown is skipped."""
    consumers = net.consumers
    index = {layer.name: i for i, layer in enumerate(net.layers)}
    vols: dict[str, tuple | None] = {}
    rfs: dict[str, RF] = {}
    rows: list[LayerRow] = []
    diags: list[Diagnostic] = []
    errors = 0
    buffer: dict[str, str] = {}            # tensor -> the layer whose buffer holds it
    sharing: dict[str, list[str]] = {}     # buffer -> the tensors stored in it

    for i, layer in enumerate(net.layers):
        op = layer.opdef
        a = layer.attrs
        if layer.op == "input":
            out = net.input
            rf = RF()
            rows.append(LayerRow("input", "input", (), out, 0, 0, 0, prod(out), rf))
            vols["input"], rfs["input"] = out, rf
            buffer["input"], sharing["input"] = "input", ["input"]
            continue
        ins = [vols[s] for s in layer.inputs]
        if None in ins:
            vols[layer.name] = None
            continue
        at = At(layer.name, layer.pos, layer.inputs, net.rounding)
        try:
            out = op.shape(a, ins, at)
        except ArchcalcError as exc:
            diags.extend(exc.diagnostics)
            errors += 1
            out = _recover(op, a, ins, at)
            if out is None:
                vols[layer.name] = None
                continue
        vols[layer.name] = out
        trainable, frozen = op.params(a, ins, out)
        macs = op.macs(a, ins, out)

        # storage: a view never copies; an in-place op overwrites its input's buffer when no
        # other layer still has to read any tensor kept in that buffer (otherwise it copies)
        root = buffer[layer.inputs[0]]
        inplace = op.view or (op.inplace and not count_inplace and all(
            index[c] <= i for t in sharing[root] for c in consumers[t]))
        if inplace:
            buffer[layer.name] = root
            sharing[root].append(layer.name)
        else:
            buffer[layer.name] = layer.name
            sharing[layer.name] = [layer.name]
        acts = 0 if inplace else prod(out)

        step = op.rf_step(a, ins)
        if step == GLOBAL:
            rf = GLOBAL_RF
        elif step == IDENTITY:
            rf = rfs[layer.inputs[0]]
        elif step == MERGE:
            rf = merge_rf([rfs[s] for s in layer.inputs])
        else:
            rf = _rf_step(rfs[layer.inputs[0]], step)
        rfs[layer.name] = rf
        rows.append(LayerRow(layer.name, layer.op, layer.inputs, out, trainable, trainable, macs,
                             acts, rf, a, inplace, layer.scope, "", frozen))
    return rows, diags, errors


def diagnose(net: Network) -> list[Diagnostic]:
    """Every problem in ``net``, errors and warnings, in layer order; never raises for a problem
    in the spec (this is what ``archcalc validate`` reports)."""
    rows, diags, _ = walk(net)
    from .fixes import improve
    diags = improve(net, diags) + list(getattr(net, "warnings", ()))
    return sorted(diags + lint(net, rows), key=_order(net))


def _order(net: Network):
    index = {layer.name: i for i, layer in enumerate(net.layers)}
    return lambda d: (index.get(d.layer, -1), d.severity != "error")


def analyze(net: Network, dtype: str = "fp32", batch: int = 1, count_inplace: bool = False,
            optimizer: str = "adam") -> Report:
    """Analyze ``net``; returns a :class:`Report` or raises :class:`ArchcalcError` with every
    error found. ``dtype`` sets bytes per element for activations and parameters, ``batch`` the
    images per step; ``count_inplace`` gives ReLU and dropout buffers of their own. Warnings are
    in ``report.diagnostics``."""
    settings = _check_settings(dtype, batch, count_inplace, optimizer)
    rows, diags, errors = walk(net, count_inplace)
    from .fixes import improve
    diags = improve(net, diags) + list(getattr(net, "warnings", ()))
    if errors:
        raise ArchcalcError(sorted(diags, key=_order(net)))
    diags = sorted(diags + lint(net, rows), key=_order(net))

    size = DTYPES[dtype]
    params = sum(r.params for r in rows)
    trainable = sum(r.trainable_params for r in rows)
    buffers = sum(r.buffers for r in rows)
    macs = sum(r.macs for r in rows)
    acts = sum(r.activations for r in rows)
    peak_elems, peak_at = peak_activations(net, rows)
    totals = Totals(
        params=params, trainable_params=trainable, macs=macs, flops=2 * macs,
        activations=acts, activation_bytes=acts * batch * size,
        param_bytes=(params + buffers) * size,
        peak_bytes=peak_elems * batch * size, peak_layer=peak_at,
        training_bytes=training_bytes(params + buffers, trainable, acts * batch, size,
                                      OPTIMIZERS[optimizer]),
        buffers=buffers, input_bytes=prod(net.input) * batch * size, batch=batch)
    return Report(net.name, net.input, tuple(rows), totals, settings, tuple(diags),
                  getattr(net, "block_outputs", None) or {})
