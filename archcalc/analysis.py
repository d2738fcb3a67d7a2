"""The analysis pass: one walk over a Network in topological order computes every figure.

Per layer: output volume, parameters (trainable and not), MACs, activation elements, receptive
field. Problems are collected as diagnostics (a layer whose input could not be computed is
skipped) and raised together at the end. Where each output is stored (in place or not) and the
peak of live activations are followed in the same walk by ``memory.Storage``. Every definition
is written out in docs/definitions.md.
"""
from __future__ import annotations

from math import prod
from operator import attrgetter

from .bulk import paused_gc
from .errors import OPTIONS, ArchcalcError, Diagnostic, error
from .graph import Network
from .lint import lint
from .memory import Storage, training_bytes
from .ops import GLOBAL, IDENTITY, MAX_DIM, At, RFStep
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
    # after upsampling the window slides over a grid ``up`` times finer: jump j/up (a fraction);
    # walk computes the common case (no upsampling, whole numbers) inline with the same formulas
    jh, jw = _tidy(jh / step.up[0]), _tidy(jw / step.up[1])
    return RF((_tidy(rh + (kh - 1) * jh), _tidy(rw + (kw - 1) * jw)),
              (_tidy(jh * sh), _tidy(jw * sw)),
              (ch + ((kh - 1) / 2 - ph) * jh, cw + ((kw - 1) / 2 - pw) * jw), False, rf.aligned)


def _tidy(x):
    """A whole float as an int: after upsampling, jumps and sizes may be fractions (halves,
    quarters: exact in binary floating point) and become whole again after later strides."""
    return int(x) if isinstance(x, float) and x.is_integer() else x


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
        size.append(_tidy(hi - lo + 1) if any(isinstance(r.size[ax], float) for r in rfs)
                    else int(round(hi - lo)) + 1)
        start.append((lo + hi) / 2)
        stride.append(max(r.stride[ax] for r in rfs))
    return RF(tuple(size), tuple(stride), tuple(start), False, aligned)


def field_inputs(srcs: tuple[str, ...], ins: tuple, out: tuple) -> list[str]:
    """The inputs of a merge whose windows make its receptive field: all of them, except inputs
    broadcast over the places (height or width 1 against a larger output: a 1×1×C
    squeeze-and-excitation gate). Such
    a gate scales each channel by a function of its own input's whole field (global context,
    usually from a global pool); the local window of each output unit is the other inputs'
    (docs/definitions.md, "Receptive field")."""
    kept = [s for s, v in zip(srcs, ins) if v[:2] == out[:2]]
    return kept or list(srcs)


def _check_settings(dtype: str, batch: int, count_inplace: bool, optimizer: str) -> Settings:
    dtype = dtype.lower() if isinstance(dtype, str) else dtype            # as on the command line
    optimizer = optimizer.lower() if isinstance(optimizer, str) else optimizer
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


def walk(net: Network, count_inplace: bool = False, input: tuple | None = None
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
    vols: dict[str, tuple | None] = {}
    rfs: dict[str, RF] = {}
    rows: list[LayerRow] = []
    diags: list[Diagnostic] = []
    errors = 0
    store = Storage(net.inference_consumers, net.declared_outputs)   # layers that run only in training hold no
    known: dict[int, tuple] = {}                  # inference memory (see Layer.train_only)           # id(attrs) -> (op, input volumes, figures)
    rounding = net.rounding
    overwrite = not count_inplace
    # bound once: the loop below runs once per layer of networks 100,000 layers long
    run, add_row, new_tuple = store.run, rows.append, tuple.__new__

    for layer in net.layers:
        name, kind, a, srcs = layer.name, layer.op, layer.attrs, layer.inputs
        if kind == "input":
            out = input or net.input
            rf = rfs[name] = RF()
            vols[name] = out
            run(name, (), prod(out), False)
            add_row(LayerRow(name, kind, (), out, 0, 0, 0, prod(out), rf))
            continue
        ins = (vols[srcs[0]],) if len(srcs) == 1 else tuple(vols[s] for s in srcs)
        if None in ins:
            vols[name] = None
            store.skip(srcs)
            continue
        seen = known.get(id(a))           # (kind, ins, figures) last computed for these attrs
        if seen is not None and seen[0] is kind and seen[1] == ins:
            fig = seen[2]
        else:
            op = layer.opdef
            at = At(name, layer.pos, srcs, rounding)
            try:
                out = op.shape(a, list(ins), at)
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
                out = _recover(op, a, list(ins), at)
                if out is None:
                    vols[name] = None
                    store.skip(srcs)
                    continue
            trainable, frozen = op.params(a, list(ins), out)    # frozen: buffers
            step = op.rf_step(a, list(ins))
            # a window with no upsampling: the common case of _rf_step, done inline below
            plain = isinstance(step, RFStep) and step.up == (1, 1)
            fig = (out, trainable, trainable, frozen, op.macs(a, list(ins), out),
                   step, prod(out), op.inplace and overwrite, op.view, plain)
            if ok:                          # a failing layer reports its own error every time
                known[id(a)] = (kind, ins, fig)
        out, params, trainable, buffers, macs, step, elements, may_overwrite, view, plain = fig
        vols[name] = out
        if layer.train_only:
            inplace = _train_only_inplace(net, layer, view, may_overwrite)
        else:
            inplace = run(name, srcs, elements, may_overwrite, view)

        if plain:                           # _rf_step's common case, inline
            rf = rfs[srcs[0]]
            if not rf.is_global:
                (jh, jw), (rh, rw) = rf.stride, rf.size
                if type(jh) is int and type(jw) is int and type(rh) is int and type(rw) is int:
                    (kh, kw), (sh, sw), (ph, pw) = step.k, step.s, step.p
                    ch, cw = rf.start
                    rf = new_tuple(RF, ((rh + (kh - 1) * jh, rw + (kw - 1) * jw),
                                        (jh * sh, jw * sw),
                                        (ch + ((kh - 1) / 2 - ph) * jh,
                                         cw + ((kw - 1) / 2 - pw) * jw), False, rf.aligned))
                else:
                    rf = _rf_step(rf, step)
        elif step == IDENTITY:
            rf = rfs[srcs[0]]
        elif isinstance(step, RFStep):
            rf = _rf_step(rfs[srcs[0]], step)
        elif step == GLOBAL:
            rf = GLOBAL_RF
        else:                               # MERGE
            rf = merge_rf([rfs[s] for s in field_inputs(srcs, ins, out)])
        rfs[name] = rf
        add_row(new_tuple(LayerRow, (name, kind, srcs, out, params, trainable, macs,
                                     0 if inplace else elements, rf, a, inplace, layer.scope, "",
                                     buffers, layer.train_only)))
    return rows, diags, errors, store


def _train_only_inplace(net: Network, layer, view: bool, may_overwrite: bool) -> bool:
    """Whether a training-only layer's output shares its input's buffer: a view always; an
    in-place op where its single input is itself training-only and read by nothing else (a
    training-only head never overwrites a tensor that inference keeps)."""
    if view:
        return True
    if not may_overwrite or len(layer.inputs) != 1:
        return False
    src = layer.inputs[0]
    return net[src].train_only and len(net.consumers[src]) == 1


@paused_gc()
def diagnose(net: Network) -> list[Diagnostic]:
    """Every problem in ``net``, errors and warnings, in layer order; never raises for a problem
    in the spec (this is what ``archcalc validate`` reports)."""
    rows, diags, _, _ = walk(net)
    from .fixes import improve
    diags = improve(net, diags) + list(getattr(net, "warnings", ()))
    return _sorted(net, diags + lint(net, rows))


def _sorted(net: Network, diags: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in layer order, errors first within a layer."""
    if not diags:
        return diags
    index = {layer.name: i for i, layer in enumerate(net.layers)}
    return sorted(diags, key=lambda d: (index.get(d.layer, -1), d.severity != "error"))


@paused_gc()
def analyze(net: Network, dtype: str | None = None, batch: int | None = None,
            count_inplace: bool = False, optimizer: str | None = None) -> Report:
    """Analyze ``net``; returns a :class:`Report` or raises :class:`ArchcalcError` with every
    error found. ``dtype`` sets bytes per element for activations and parameters, ``batch`` the
    images per step; ``count_inplace`` gives in-place ops (ReLU, dropout, …) buffers of their
    own. Warnings are in ``report.diagnostics``. Left out (None), ``dtype``, ``batch`` and
    ``optimizer`` are those the network was loaded with (``set={"batch": 32}``), else fp32, 1
    and adam."""
    if not isinstance(net, Network):
        raise error(f"analyze takes a Network, got {type(net).__name__}", OPTIONS,
                    hint="make one first: archcalc.analyze(archcalc.parse(\"C3D64 M\")) or "
                         "archcalc.load(\"spec.yaml\")", exit_code=2)
    chosen = getattr(net, "analysis", None) or {}
    dtype = chosen.get("dtype", "fp32") if dtype is None else dtype
    batch = chosen.get("batch", 1) if batch is None else batch
    optimizer = chosen.get("optimizer", "adam") if optimizer is None else optimizer
    settings = _check_settings(dtype, batch, count_inplace, optimizer)
    dtype, optimizer = settings.dtype, settings.optimizer
    rows, diags, errors, store = walk(net, count_inplace)
    from .fixes import improve
    diags = improve(net, diags) + list(getattr(net, "warnings", ()))
    if errors:
        raise ArchcalcError(_sorted(net, diags))
    diags = _sorted(net, diags + lint(net, rows))

    size = DTYPES[dtype]
    params = sum(map(attrgetter("params"), rows))
    trainable = sum(map(attrgetter("trainable_params"), rows))
    buffers = sum(map(attrgetter("buffers"), rows))
    train = [row for row in rows if row.train_only]     # an auxiliary head: runs in training only
    t_params, t_buffers, t_macs, t_acts = (sum(map(attrgetter(k), train)) for k in
                                           ("params", "buffers", "macs", "activations"))
    macs = sum(map(attrgetter("macs"), rows)) - t_macs
    acts = sum(map(attrgetter("activations"), rows)) - t_acts
    peak_elems, peak_at = store.peak, store.peak_at
    totals = Totals(
        params=params, trainable_params=trainable, macs=macs, flops=2 * macs,
        activations=acts, activation_bytes=acts * batch * size,
        param_bytes=(params + buffers - t_params - t_buffers) * size,
        peak_bytes=peak_elems * batch * size, peak_layer=peak_at,
        training_bytes=training_bytes(params + buffers, trainable, (acts + t_acts) * batch, size,
                                      OPTIMIZERS[optimizer]),
        buffers=buffers, input_bytes=prod(net.input) * batch * size, batch=batch,
        train_only_params=t_params, train_only_buffers=t_buffers, train_only_macs=t_macs,
        train_only_activations=t_acts)
    return Report(net.name, net.input, tuple(rows), totals, settings, tuple(diags),
                  getattr(net, "block_outputs", None) or {})
