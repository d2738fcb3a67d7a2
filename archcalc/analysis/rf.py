"""The receptive-field algebra, in one place: small pure functions over the receptive field of a
layer's output (size, jump, first centre per axis; :class:`~archcalc.report.RF`) and the step an
op takes (:class:`~archcalc.ops.RFStep`), in the manner of google-research's
``receptive_field`` (Araujo et al., Distill 2019, eqs. 4–6; docs/definitions.md, "Receptive
field").

* :func:`window`: a sliding window (kernel F, stride S, padding P; after upsampling, over a grid
  ``up`` times finer): r' = r + (F − 1)·j, j' = j·S, c' = c + ((F − 1)/2 − P)·j;
* :func:`resize`: a resize to any size (units a + o·q apart in input pixels, reading within d);
* :func:`merge`: the union of the branches' windows where paths meet;
* :func:`field_inputs`: which inputs of a merge make its field (not a broadcast gate);
* :func:`step`: one layer's field from its inputs' fields and its op's step (what the analysis
  pass calls for every layer), with a fast path for the common case that the tests hold equal to
  :func:`window` on every shipped spec and random networks;
* :func:`at_output`: the field "at the output" that ``diff`` and ``sweep`` report.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

from ..ops import GLOBAL, IDENTITY, RFKind, RFStep, Vol
from ..ops.resampling import RFResize
from ..report import GLOBAL_RF, RF, AxisPair, LayerRow, Report

_new = tuple.__new__


def tidy(x: float) -> float:
    """A whole float as an int: after upsampling, jumps and sizes may be fractions (halves,
    quarters: exact in binary floating point) and become whole again after later strides."""
    return int(x) if isinstance(x, float) and x.is_integer() else x


def window(rf: RF, s: RFStep) -> RF:
    """One sliding window: size grows by (k − 1)·jump, the jump multiplies by the stride, and the
    first centre moves by ((k − 1)/2 − pad)·jump. After upsampling the window slides over a grid
    ``up`` times finer: the jump is first divided by ``up`` (a fraction)."""
    if rf.is_global:
        return rf
    assert rf.stride is not None and rf.size is not None and rf.start is not None   # local
    if isinstance(s, RFResize):
        return resize(rf, s)
    (kh, kw), (sh, sw), (ph, pw) = s.k, s.s, s.p
    (jh, jw), (rh, rw), (ch, cw) = rf.stride, rf.size, rf.start
    jh, jw = tidy(jh / s.up[0]), tidy(jw / s.up[1])
    return RF((tidy(rh + (kh - 1) * jh), tidy(rw + (kw - 1) * jw)),
              (tidy(jh * sh), tidy(jw * sw)),
              (ch + ((kh - 1) / 2 - ph) * jh, cw + ((kw - 1) / 2 - pw) * jw), False, rf.aligned)


def resize(rf: RF, s: RFResize) -> RF:
    """A resize (:class:`~archcalc.ops.resampling.RFResize`): per axis, units centred at
    a + o·q input pixels, each reading pixels within d of its centre: r' = r + 2d·j, j' = j·q,
    c' = c + a·j, computed exactly from the input's fractions and rounded once to a float."""
    assert rf.stride is not None and rf.size is not None and rf.start is not None   # local
    size, jump, start = [], [], []
    for ax, x in enumerate(s.axes):
        j = Fraction(rf.stride[ax])
        size.append(tidy(float(Fraction(rf.size[ax]) + 2 * x.d * j)))
        jump.append(tidy(float(j * x.q)))
        start.append(float(Fraction(rf.start[ax]) + x.a * j))
    return RF((size[0], size[1]), (jump[0], jump[1]), (start[0], start[1]), False, rf.aligned)


def merge(rfs: Sequence[RF]) -> RF:
    """The receptive field after a merge: the union of the input windows of its branches.

    Where the branches agree on stride and centre (the alignment condition of Araujo et al.) this
    is simply the largest of them; otherwise the result is flagged unaligned, its size covers
    every branch's window and its stride is the largest branch stride.
    """
    first = rfs[0]
    if first.is_global or any(r.is_global for r in rfs):
        return GLOBAL_RF
    if all(r == first for r in rfs):             # the same field on every branch: itself
        return first
    aligned = all(r.aligned for r in rfs) and all(
        r.stride == first.stride and r.start == first.start for r in rfs)
    local = [local_axes(r) for r in rfs]          # (size, stride, start) of each
    size: list[float] = []
    stride: list[float] = []
    start: list[float] = []
    for ax in (0, 1):
        lo = hi = None
        fraction = False
        jump: float = 0
        for r, j, c in local:
            half = (r[ax] - 1) / 2
            if lo is None or c[ax] - half < lo:
                lo = c[ax] - half
            if hi is None or c[ax] + half > hi:
                hi = c[ax] + half
            fraction = fraction or isinstance(r[ax], float)
            jump = max(jump, j[ax])
        assert lo is not None and hi is not None
        size.append(tidy(hi - lo + 1) if fraction else round(hi - lo) + 1)
        start.append((lo + hi) / 2)
        stride.append(jump)
    return RF((size[0], size[1]), (stride[0], stride[1]), (start[0], start[1]), False, aligned)


def local_axes(rf: RF) -> tuple[AxisPair, AxisPair, AxisPair]:
    """(size, stride, start) of a local field (not a global one, which has none)."""
    assert rf.size is not None and rf.stride is not None and rf.start is not None
    return rf.size, rf.stride, rf.start


def field_inputs(srcs: Sequence[str], ins: Sequence[Vol], out: Vol) -> list[str]:
    """The inputs of a merge whose windows make its receptive field: all of them, except inputs
    broadcast over the places (height or width 1 against a larger output: a 1×1×C
    squeeze-and-excitation gate). Such a gate scales each channel by a function of its own
    input's whole field (global context, usually from a global pool); the local window of each
    output unit is the other inputs' (docs/definitions.md, "Receptive field")."""
    kept = [s for s, v in zip(srcs, ins) if v[:2] == out[:2]]
    return kept or list(srcs)


def step(rfs: Mapping[str, RF], srcs: Sequence[str], s: RFStep | RFKind, ins: Sequence[Vol],
         out: Vol) -> RF:
    """The field of a layer reading ``srcs`` (whose fields are in ``rfs``) with the op's step
    ``s`` (an RFStep, IDENTITY, GLOBAL or MERGE). The common case (a window without upsampling
    over a field of whole numbers) is :func:`window`'s formulas without its divisions."""
    if type(s) is RFStep:
        rf = rfs[srcs[0]]
        if rf.is_global:
            return rf
        if s.up == (1, 1):
            assert rf.stride is not None and rf.size is not None and rf.start is not None
            (jh, jw), (rh, rw) = rf.stride, rf.size
            if type(jh) is int and type(jw) is int and type(rh) is int and type(rw) is int:
                (kh, kw), (sh, sw), (ph, pw) = s.k, s.s, s.p
                ch, cw = rf.start
                return _new(RF, ((rh + (kh - 1) * jh, rw + (kw - 1) * jw), (jh * sh, jw * sw),
                                 (ch + ((kh - 1) / 2 - ph) * jh, cw + ((kw - 1) / 2 - pw) * jw),
                                 False, rf.aligned))
        return window(rf, s)
    if isinstance(s, RFStep):                   # a resize's step (RFResize)
        return window(rfs[srcs[0]], s)
    if s == IDENTITY:
        return rfs[srcs[0]]
    if s == GLOBAL:
        return GLOBAL_RF
    return merge([rfs[x] for x in field_inputs(srcs, ins, out)])       # MERGE


def at_output(report: Report, outputs: Sequence[str] | None = None) -> tuple[str, RF] | None:
    """(layer, RF) of the receptive field "at the output": for each output layer the RF of the
    output, or where it is global (a classifier's), of the last layer before it (walking back
    along first inputs) whose RF is local; of several outputs, the largest. None where there is
    no local RF at all, or where an output's field was made global by a global attention (a
    transformer's features see the whole image: the patch embedding's window before them is
    no field of theirs)."""
    by_name = {r.name: r for r in report.layers}
    if not outputs:
        read = {s for r in report.layers for s in r.inputs}
        outputs = [r.name for r in report.layers
                   if r.name not in read and r.op != "input" and not r.train_only]
    best: LayerRow | None = None
    widest = 0.0
    for name in outputs:
        row = by_name.get(name)
        while row is not None and row.rf.is_global:
            if row.op == "attention" and not by_name[row.inputs[0]].rf.is_global:
                return None                # global attention: the features see everything
            row = by_name.get(row.inputs[0]) if row.inputs else None
        if row is not None and row.rf.size is not None and \
                (best is None or max(row.rf.size) > widest):
            best, widest = row, max(row.rf.size)
    return None if best is None else (best.name, best.rf)
