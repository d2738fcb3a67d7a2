"""Every hint of a refused window, applied, removes the error it was given for.

A property test over generated networks: sliding windows (convolutions, depthwise convolutions,
max and average pools) with kernels, strides, paddings (one per axis, and four sides in YAML),
dilations, network and layer roundings and axes that differ, written as spec strings and as
YAML. For each refused window the test takes each fix its hint names — a network input, a
padding, a rounding — applies it to the spec as written, and analyzes again: the error must be
gone. The hints must also agree with the input warning (an input that looks C×H×W is searched
from the reading the warning suggests) and never propose a volume that itself looks C×H×W.
Expected outcomes come from applying the hint, not from archcalc's own search.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace

import pytest
from conftest import run_cli

import archcalc
from archcalc.analysis import diagnose
from archcalc.errors import ArchcalcError

SIZED = ("rounding", "window")
SEED = 20240611
CASES = 260


@dataclass
class Win:
    op: str                                   # conv, dwconv, maxpool, avgpool, adaptive_avgpool
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, ...]                  # (h, w) or (top, bottom, left, right)
    dilation: tuple[int, int] = (1, 1)
    rounding: str | None = None               # the layer's own (YAML only)


@dataclass
class Case:
    input: tuple[int, int, int]
    layers: list[Win]
    language: str                             # "string" or "yaml"
    rounding: str = "covered"                 # the network's
    given: bool = True                        # the input given as an option (-i), else in YAML
    names: list[str] = field(default_factory=list)


def _pair(v: tuple[int, int]) -> str:
    return str(v[0]) if v[0] == v[1] else f"[{v[0]}, {v[1]}]"


def text_of(case: Case) -> str:
    if case.language == "string":
        words = []
        for w in case.layers:
            k = f"{w.kernel[0]}" if w.kernel[0] == w.kernel[1] else f"{w.kernel[0]}x{w.kernel[1]}"
            opts = f"S{w.stride[0]}P{w.padding[0]}"
            words.append({"conv": f"C{k}D4{opts}", "dwconv": f"DW{k}{opts}",
                          "maxpool": f"M{k}{opts}", "avgpool": f"A{k}{opts}"}[w.op])
        return " ".join(words)
    lines = ["name: t"]
    if not case.given:
        lines.append("input: " + "x".join(map(str, case.input)))
    lines += ["defaults:", f"  rounding: {case.rounding}", "layers:"]
    for i, w in enumerate(case.layers):
        if w.op == "adaptive_avgpool":        # (output: the kernel field)
            lines.append(f"  - {{op: adaptive_avgpool, name: L{i}, output: {_pair(w.kernel)}}}")
            continue
        pad = _pair(w.padding) if len(w.padding) == 2 else \
            "[" + ", ".join(map(str, w.padding)) + "]"
        item = (f"op: {w.op}, name: L{i}, kernel: {_pair(w.kernel)}, "
                f"stride: {_pair(w.stride)}, padding: {pad}")
        if w.op == "conv":
            item += ", filters: 4"
        if w.op in ("conv", "dwconv") and w.dilation != (1, 1):
            item += f", dilation: {_pair(w.dilation)}"
        if w.rounding:
            item += f", rounding: {w.rounding}"
        lines.append(f"  - {{{item}}}")
    return "\n".join(lines) + "\n"


def build(case: Case):
    """The network of ``case`` as written (the input and rounding as options where the spec
    language takes them so), with ``case.names``: the layer name of each window."""
    kw = {}
    if case.given:
        kw["input"] = "x".join(map(str, case.input))
    if case.language == "string":
        kw["rounding"] = case.rounding
    net = archcalc.parse(text_of(case), language=case.language, **kw)
    case.names = [layer.name for layer in net.layers if layer.op != "input"]
    return net


def random_case(rng: random.Random) -> Case:
    language = rng.choice(["string", "yaml"])
    yaml = language == "yaml"
    if rng.random() < 0.12:                   # written C×H×W, as PyTorch prints it
        s = rng.choice([16, 24, 32, 40])
        vol = (rng.choice([1, 3, 4]), s, s)
    else:
        h = rng.randint(1, 48)
        vol = (h, h if rng.random() < 0.5 else rng.randint(1, 48), rng.choice([1, 3, 8]))
    layers = []
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(["conv", "conv", "dwconv", "maxpool", "avgpool"])
        k = (rng.randint(1, 7), rng.randint(1, 7)) if rng.random() < 0.4 or yaml else \
            (rng.randint(1, 7),) * 2
        if language == "string" or rng.random() < 0.6:
            s = (rng.randint(1, 4),) * 2
        else:
            s = (rng.randint(1, 4), rng.randint(1, 4))
        pool = op.endswith("pool")
        most = (min(k) // 2) if pool else 3
        if language == "string" or rng.random() < 0.5:
            p: tuple[int, ...] = (rng.randint(0, most),) * 2
        elif rng.random() < 0.6:
            p = (rng.randint(0, k[0] // 2 if pool else 3), rng.randint(0, k[1] // 2 if pool else 3))
        else:                                  # four sides
            p = tuple(rng.randint(0, (k[i // 2] // 2) if pool else 3) for i in range(4))
        d = (1, 1)
        if yaml and not pool and rng.random() < 0.3:
            d = (rng.randint(1, 3), rng.randint(1, 3))
        own = rng.choice([None, None, None, "covered", "exact"]) if yaml else None
        layers.append(Win(op, k, s, p, d, own))
    if yaml and rng.random() < 0.25:          # torchvision's adaptive pooling at the end
        layers.append(Win("adaptive_avgpool", (rng.randint(1, 4), rng.randint(1, 4)), (1, 1),
                          (0, 0)))
    return Case(vol, layers, language, rng.choice(["covered", "covered", "exact", "floor", "ceil"]),
                given=not yaml or rng.random() < 0.5)


def sized_errors(net):
    return [d for d in diagnose(net) if d.severity == "error" and d.fix
            and d.fix.get("kind") in SIZED]


# -- reading a hint -------------------------------------------------------------------------

_INPUT = re.compile(r"(-i |input: )(\d+)x(\d+)x(\d+)")
_PADDING = re.compile(r"padding:? (\d+|\[[\d, ]+\]) on ([\w/.]+)")


def fixes_in(hint: str):
    """The fixes a hint names: ("input", spelling, volume), ("padding", layer, pads),
    ("rounding", layer or None, value)."""
    out = []
    for m in _INPUT.finditer(hint):
        out.append(("input", m.group(1).strip(), tuple(int(m.group(i)) for i in (2, 3, 4))))
    for m in _PADDING.finditer(hint):
        pads = tuple(int(x) for x in m.group(1).strip("[]").split(","))
        out.append(("padding", m.group(2), pads))
    own = re.search(r"rounding: floor \(as PyTorch\) or ceil \(as Caffe pooling\) on ([\w/.]+)",
                    hint)
    if own:
        out += [("rounding", own.group(1), r) for r in ("floor", "ceil")]
    elif re.search(r"(--rounding|rounding:) floor", hint):
        out += [("rounding", None, r) for r in ("floor", "ceil")]
    return out


def applied(case: Case, fix) -> Case:
    kind, where, value = fix
    if kind == "input":
        return replace(case, input=value)
    if kind == "rounding" and where is None:
        return replace(case, rounding=value)
    i = case.names.index(where)
    layers = list(case.layers)
    if kind == "rounding":
        layers[i] = replace(layers[i], rounding=value)
        return replace(case, layers=layers)
    pads = value * 2 if len(value) == 1 else value
    layers[i] = replace(layers[i], padding=pads)
    language = case.language
    if len(pads) != 2 or pads[0] != pads[1]:
        language = "yaml"           # a token pads both axes alike: the hint says to use YAML
    return replace(case, layers=layers, language=language)


def looks_chw(v) -> bool:
    return v[0] in (1, 3, 4) and v[1] > 4 and v[2] > 4


def check_case(case: Case) -> int:
    """Apply every fix of every refused window's hint; the number of fixes applied."""
    try:
        net = build(case)
    except ArchcalcError:
        return 0
    count = 0
    for d in sized_errors(net):
        found = fixes_in(d.hint)
        if not found:           # none within the search's bounds: the hint promises none
            assert d.fix["kind"] != "rounding", d.hint
            assert d.hint in ("use a larger input or a smaller kernel",
                              "archcalc needs the input size to be a multiple of the output "
                              "size; change the input or use an avgpool with an explicit "
                              "kernel"), d.hint
            NONE_FOUND.append(d.hint)
            continue
        axes = set(d.fix["axes"])
        for fix in found:
            kind, where, value = fix
            if kind == "input":
                assert not looks_chw(value), f"{case}: proposes {value}: {d.hint}"
                want = "-i" if case.given or case.language != "yaml" else "input:"
                assert where == want, f"{case}: {where} for {want}: {d.hint}"
            if kind == "rounding" and where is None:
                assert ("under defaults:" in d.hint) == (case.language == "yaml"), d.hint
            if kind == "padding" and case.language == "string":   # a token's P pads all sides
                assert (len(set(value)) > 1) == ("a token's P pads every side" in d.hint), d.hint
            after = applied(case, fix)
            try:
                again = build(after)
            except ArchcalcError as exc:           # the fix itself must be accepted
                raise AssertionError(f"{case}\n{d.message}\nhint: {d.hint}\n{fix} gives "
                                     f"{exc}") from None
            errs = [e for e in diagnose(again) if e.severity == "error"]
            if kind == "input":      # a network input: no window refused anywhere
                left = [e for e in errs if e.fix and e.fix.get("kind") in SIZED]
            else:                    # the layer's own fix: this layer's error along these axes
                left = [e for e in errs if e.layer == d.layer and e.fix
                        and e.fix.get("kind") in SIZED and axes & set(e.fix["axes"])]
            assert not left, (f"{text_of(case)!r} {case}\n{d.message}\nhint: {d.hint}\n"
                              f"applied {fix}: {left[0].message}")
            # nor any error the layer did not have (a pooling padding refused, say)
            assert not [e for e in errs if e.layer == d.layer and not e.fix and e.message
                        not in {x.message for x in diagnose(net)}], (case, fix, errs)
            count += 1
    return count


NONE_FOUND: list[str] = []


def test_every_hint_applied_removes_its_error():
    rng = random.Random(SEED)
    NONE_FOUND.clear()
    applied_fixes = failing = 0
    for _ in range(CASES):
        case = random_case(rng)
        n = check_case(case)
        failing += n > 0
        applied_fixes += n
    # the family is rich enough to mean something
    assert failing >= 60 and applied_fixes >= 300, (failing, applied_fixes)
    assert len(NONE_FOUND) * 10 < failing, NONE_FOUND       # a hint without a fix is rare


@pytest.mark.parametrize("case", [
    # the report's case: a 4×1 max pool on 3981×1×8 (PyTorch refuses padding 2 along the width)
    Case((3981, 1, 8), [Win("maxpool", (4, 1), (4, 1), (0, 0))], "string"),
    Case((3981, 1, 8), [Win("maxpool", (4, 1), (4, 1), (0, 0))], "yaml"),
    # both axes refused, by different kernels: one padding for the layer fixes both
    Case((10, 11, 3), [Win("maxpool", (4, 3), (4, 2), (0, 0))], "yaml", "exact"),
    # four sides, a dilation, a layer's own rounding
    Case((17, 20, 3), [Win("conv", (3, 5), (2, 3), (0, 1, 2, 0), (2, 1), "exact")], "yaml"),
    # a window larger than its input
    Case((3, 30, 3), [Win("maxpool", (5, 2), (1, 1), (0, 0))], "yaml", given=False),
])
def test_hints_of_chosen_windows_apply(case):
    assert check_case(case) >= 1


def test_the_pool_padding_hint_is_per_axis_and_valid():
    """By hand: (3981 − 4 + 2p)/4 + 1 floors without leaving a real row unseen where the
    remainder (3977 + 2p) mod 4 is at most p: p = 2 (3981 mod 4 = 1 ≤ 2); along the width the
    1-wide window may not be padded at all (PyTorch: at most half the window)."""
    net = archcalc.parse("M4x1", input="3981x1x8")
    (d,) = sized_errors(net)
    assert "padding [2, 0] on pool1" in d.hint and "padding 2 " not in d.hint
    assert "3980x1x8" in d.hint and "3984x1x8" in d.hint
    net = archcalc.parse("name: t\ninput: 3981x1x8\nlayers:\n  - {op: maxpool, kernel: [4, 1]}\n")
    (d,) = sized_errors(net)
    assert "padding: [2, 0] on pool1" in d.hint and "input: 3984x1x8" in d.hint
    assert "rounding: floor (as PyTorch) or ceil (as Caffe pooling) under defaults:" in d.hint


def test_hints_agree_with_the_channels_first_warning():
    """3x224x224 is read H = 3, W = 224, C = 224; the warning asks about 224x224x3, and the
    errors' hints start from that reading (VGG16 takes 224×224 whole)."""
    net = archcalc.load("vgg16", input="3x224x224")
    (w,) = [d for d in diagnose(net) if d.severity == "warning" and d.layer == "input"]
    assert "did you mean -i 224x224x3?" in w.hint
    errs = sized_errors(net)
    assert errs and all("-i 224x224x3" in d.hint for d in errs)
    assert not any(re.search(r"-i \d+x224x224", d.hint) for d in errs)
    assert "padding: [1, 0] on pool1" in errs[0].hint           # 2×2/2 pool on 3 rows: p = 1


def test_onnx_channels_hint_reads_chw(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    np = pytest.importorskip("numpy")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3])],
                              "g", [x], [y],
                              [numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    with pytest.raises(ArchcalcError) as exc:
        archcalc.load(path, input="3x64x64")
    (d,) = exc.value.diagnostics
    assert "--input 64x64x3" in d.hint and "3x64x3" not in d.hint
    # a fixed-size model: its own size
    fixed = str(tmp_path / "f.onnx")
    assert run_cli("export", "C3D4", "-i", "32x32x3", "-o", fixed, "-w", "none").returncode == 0
    with pytest.raises(ArchcalcError) as exc:
        archcalc.load(fixed, input="3x32x32")
    assert "--input 32x32x3" in exc.value.diagnostics[0].hint


def test_a_spec_string_gets_a_padding_its_tokens_can_write():
    """3×3/2 pool on 6×7: the height's (6 − 3)/2 + 1 = 2.5 leaves row 6 unseen; with P1 both
    axes pass: (6 + 2 − 3)/2 → remainder 1 ≤ 1 (only padding unused), (7 + 2 − 3)/2 = 3."""
    (d,) = sized_errors(archcalc.parse("C3D8 M3S2", input="6x7x3"))
    assert "padding 1 on pool1" in d.hint and "[" not in d.hint


def test_adaptive_pooling_takes_uneven_windows_as_pytorch():
    """torchvision's AlexNet at 259: 259 → 63 → 31 → 15 → 7 at the adaptive pool to 6, whose
    windows are then uneven ([0, 2), [1, 3), [2, 4), [3, 5), [4, 6), [5, 7): PyTorch's
    ⌊i·7/6⌋ … ⌈(i+1)·7/6⌉); it ran refused until issue 21, and PyTorch computes it."""
    assert sized_errors(archcalc.load("alexnet", input="259x259x3")) == []
    r = archcalc.analyze(archcalc.load("alexnet", input="259x259x3"))
    # the pool's 6×6 output makes the classifier's parameters those at the spec's own 227
    at_227 = archcalc.analyze(archcalc.load("alexnet")).totals.params
    assert r["avgpool"].output == (6, 6, 256) and r.totals.params == at_227


def test_a_pool_padded_past_half_its_window_is_told_the_most_it_may_pad():
    """A 4×1 pool may pad 2 rows and no column (at most half the window, as PyTorch)."""
    text = ("name: t\ninput: 9x9x3\nlayers:\n"
            "  - {op: maxpool, name: p, kernel: [4, 1], padding: %s}\n")
    with pytest.raises(ArchcalcError) as exc:
        archcalc.analyze(archcalc.parse(text % "2"))
    (d,) = exc.value.diagnostics
    assert "padding [2, 0]" in d.hint
    # applied: valid ((9 + 4 − 4)/4 leaves 1 row, within the padding: covered accepts it)
    archcalc.analyze(archcalc.parse(text % "[2, 0]"))
