"""The receptive-field fast path: ``rf.step`` (what the analysis walk calls for every layer) has
an inline copy of ``rf.window``'s formulas for the common case (a window without upsampling over
a field of whole numbers). Here the walk is replayed from each report's rows, layer by layer, and
``step`` must give exactly what the general formulas give (``window`` for a sliding window,
``merge`` where paths meet), types included (5 and 5.0 differ), and what the report holds.

On every shipped spec (specs/*.yaml and every column of the VGG tables) and a few hundred random
networks (tests/netgen.py, with upsampling, transposed convolutions and the channel ops): 400
drawn layer by layer without a check (the walk's rows of the layers it could compute, errors
and all) and 50 grown to be valid."""
import random
from collections import Counter

import pytest
from netgen import random_valid, random_yaml
from test_export import spec_networks

import archcalc
from archcalc.analysis import rf as rfa
from archcalc.analysis.walk import walk
from archcalc.ops import GLOBAL, IDENTITY, RFStep
from archcalc.report import GLOBAL_RF


def reference(rfs, srcs, s, ins, out):
    """A layer's field by the general formulas, never the fast path."""
    if isinstance(s, RFStep):
        return rfa.window(rfs[srcs[0]], s)
    if s == IDENTITY:
        return rfs[srcs[0]]
    if s == GLOBAL:
        return GLOBAL_RF
    return rfa.merge([rfs[x] for x in rfa.field_inputs(srcs, ins, out)])


def fast_path_taken(rf, s):
    """Whether ``step`` takes its inline formulas for a window ``s`` over the field ``rf``."""
    return (isinstance(s, RFStep) and not rf.is_global and s.up == (1, 1)
            and all(type(v) is int for v in (*rf.stride, *rf.size)))


def replay(net, rows, seen: Counter) -> list[str]:
    """Every layer whose field ``step`` gives otherwise than the general formulas or the
    walk's row; ``seen`` counts the kinds of step met."""
    vols = {row.name: row.output for row in rows}
    rfs = {}
    problems = []
    for row in rows:
        if row.op == "input":
            rfs[row.name] = row.rf
            continue
        ins = [vols[x] for x in row.inputs]
        s = net[row.name].opdef.rf_step(row.attrs, list(ins))
        got = rfa.step(rfs, row.inputs, s, tuple(ins), row.output)
        want = reference(rfs, row.inputs, s, ins, row.output)
        if isinstance(s, RFStep):
            seen["fast" if fast_path_taken(rfs[row.inputs[0]], s) else "window"] += 1
        else:
            seen[s] += 1
        if repr(got) != repr(want) or repr(got) != repr(row.rf):
            problems.append(f"{row.name} ({row.op}): step {got!r}, window/merge {want!r}, "
                            f"report {row.rf!r}")
        rfs[row.name] = got
    return problems


@pytest.mark.parametrize("net", spec_networks())
def test_step_is_window_on_every_shipped_spec(net):
    seen = Counter()
    assert replay(net, archcalc.analyze(net).layers, seen) == []
    assert seen["fast"] > 0                 # every shipped network has a plain window


def test_step_is_window_on_random_networks():
    seen = Counter()
    for seed in range(400):
        text = random_yaml(random.Random(seed), max_layers=16, new_ops=seed % 2 == 0,
                           dag=seed % 3 != 0)
        try:
            net = archcalc.parse(text)
        except archcalc.ArchcalcError:
            continue
        rows = walk(net)[0]             # every layer it could compute (an error skips the rest)
        problems = replay(net, rows, seen)
        assert problems == [], f"seed {seed}:\n{text}\n" + "\n".join(problems)
    # both paths, and the merges, met many times (upsampling makes fractions: the window path)
    assert seen["fast"] > 500 and seen["window"] > 50 and seen["merge"] > 20, seen


def test_step_is_window_on_random_valid_networks():
    seen = Counter()
    for seed in range(50):
        text, net, report = random_valid(random.Random(seed), new_ops=seed % 2 == 0)
        problems = replay(net, report.layers, seen)
        assert problems == [], f"seed {seed}:\n{text}\n" + "\n".join(problems)
    assert seen["fast"] > 50 and seen["window"] > 5, seen
