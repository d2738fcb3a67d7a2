"""pixel_shuffle and pixel_unshuffle: volumes and fields by hand, PyTorch's element order in the
exported model (onnxruntime against torch.nn.PixelShuffle / PixelUnshuffle), and the refusals."""
import numpy as np
import pytest

import archcalc
from archcalc.errors import ArchcalcError

SPEC = """
name: p
input: [8, 8, 36]
layers:
  - {op: pixel_shuffle, factor: 3}
  - {op: pixel_unshuffle, factor: 2}
"""


def test_volumes_and_fields_by_hand():
    rows = archcalc.analyze(archcalc.parse(SPEC)).layers
    assert rows[1].output == (24, 24, 4)          # 8·3, 36/3²
    assert rows[2].output == (12, 12, 16)         # 24/2, 4·2²
    assert rows[1].params == rows[1].macs == rows[2].params == rows[2].macs == 0
    # an output pixel of the shuffle reads one input pixel: nearest upsampling by 3's field,
    # size 1 + (3 − 1)/3 = 5/3 input pixels over a grid 3 times finer (jump 1/3)
    assert rows[1].rf.size[0] == pytest.approx(5 / 3) and rows[1].rf.stride[0] == \
        pytest.approx(1 / 3)
    # the unshuffle: a 2×2 window of stride 2 on that grid
    assert rows[2].rf.size[0] == pytest.approx(5 / 3 + 1 / 3) and rows[2].rf.stride[0] == \
        pytest.approx(2 / 3)


@pytest.mark.parametrize("layer, says", [
    ("{op: pixel_shuffle, factor: 4}", "needs channels divisible by 4·4 = 16"),
    ("{op: pixel_unshuffle, factor: 3}", "needs the height divisible by 3, got 8"),
])
def test_refusals(layer, says):
    with pytest.raises(ArchcalcError) as got:
        archcalc.analyze(archcalc.parse(f"name: e\ninput: [8, 8, 36]\nlayers:\n  - {layer}\n"))
    assert says in got.value.diagnostics[0].message


def test_the_export_orders_elements_as_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from archcalc.exporters import onnx as ox
    path = str(tmp_path / "p.onnx")
    ox.export(archcalc.parse(SPEC), path, weights="zeros")
    x = np.random.default_rng(0).standard_normal((2, 36, 8, 8)).astype(np.float32)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    want = torch.nn.PixelUnshuffle(2)(torch.nn.PixelShuffle(3)(torch.from_numpy(x))).numpy()
    assert got.shape == want.shape and np.array_equal(got, want)


def test_pytorch_pixel_shuffle_imports(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 36, 3, padding=1), torch.nn.PixelShuffle(3))
    path = str(tmp_path / "ps.onnx")
    torch.onnx.export(model.eval(), torch.zeros(1, 3, 8, 8), path, opset_version=17,
                      dynamo=False)
    net = archcalc.load(path)
    r = archcalc.analyze(net)
    assert r.layers[-1].op == "pixel_shuffle" and r.layers[-1].output == (24, 24, 4)
    assert r.totals.params == 3 * 36 * 9 + 36


def test_adaptive_pooling_with_uneven_windows_as_pytorch(tmp_path):
    """Inception's auxiliary head pools 14×14 to 4×4 with windows [0, 4), [3, 7), [7, 11),
    [10, 14) (⌊i·14/4⌋ … ⌈(i+1)·14/4⌉); 14 → 5 by 3 has others along each axis. Exported,
    onnxruntime gives what torch's AdaptiveAvgPool2d gives."""
    spec = ("name: a\ninput: [14, 14, 8]\nlayers:\n  - {op: adaptive_avgpool, output: 4}\n"
            "  - {op: adaptive_avgpool, name: b, inputs: input, output: [5, 3]}\n")
    net = archcalc.parse(spec)
    rows = {r.name: r for r in archcalc.analyze(net).layers}
    assert rows["adaptive_avgpool1"].output == (4, 4, 8) and rows["b"].output == (5, 3, 8)
    # cells 14/4 = 3.5 apart centred at 1.25 + 3.5·o (1.25, 4.75, 8.25, 11.75); the windows
    # [0, 3], [3, 6], [7, 10], [10, 13] reach 1.75 from them: size 1 + 2·1.75 = 4.5, jump 3.5
    assert rows["adaptive_avgpool1"].rf.size == (4.5, 4.5)
    assert rows["adaptive_avgpool1"].rf.stride == (3.5, 3.5)
    assert rows["adaptive_avgpool1"].rf.start == (1.25, 1.25)
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from archcalc.exporters import onnx as ox
    path = str(tmp_path / "a.onnx")
    ox.export(net, path, weights="zeros")
    x = np.random.default_rng(1).standard_normal((2, 8, 14, 14)).astype(np.float32)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in sess.get_outputs()],
                   sess.run(None, {sess.get_inputs()[0].name: x})))
    for name, size in (("adaptive_avgpool1", (4, 4)), ("b", (5, 3))):
        want = torch.nn.AdaptiveAvgPool2d(size)(torch.from_numpy(x)).numpy()
        assert np.abs(got[name] - want).max() < 1e-6


def test_the_ledger_of_uneven_windows():
    from archcalc.analysis.ledger import ledger
    # 14 → 4: every window is 4 wide ([0, 4), [3, 7), [7, 11), [10, 14)), so each of the 4·4·8
    # cells adds 16 places (15 additions) and divides once
    net = archcalc.parse("name: a\ninput: [14, 14, 8]\nlayers:\n"
                         "  - {op: adaptive_avgpool, output: 4}\n")
    rows = archcalc.analyze(net).layers
    got = ledger(rows[1], [rows[0].output])
    assert got["add"] == 4 * 4 * 8 * 15 and got["div"] == 4 * 4 * 8
