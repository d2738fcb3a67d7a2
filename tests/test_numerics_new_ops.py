"""Hand-computed values through onnxruntime for what tests/test_ops_resampling.py and
tests/test_ops_modern.py leave out (their 2×2 bilinear upsample, transposed convolution with
output_padding, SE multiply and channel shuffle are not repeated here): a transposed convolution
whose output_padding reaches the stride (allowed by PyTorch below the dilation, refused by
onnxruntime's ConvTranspose), found by the random-network oracle (tests/test_oracle.py)."""
import numpy as np
import pytest

import archcalc
from archcalc.errors import SourcePos
from archcalc.graph import Builder

ort = pytest.importorskip("onnxruntime")
from archcalc.exporters import onnx as ox  # noqa: E402


def _net(vol, layers):
    b = Builder("t", vol)
    pos = SourcePos("<test>", 1, 1)
    for op, attrs, name in layers:
        b.add(op, attrs, pos, name=name, inputs=["input"])
    return b.build()


def _run(net, x, values):
    model = ox.to_model(net, weights="zeros", values=values)
    ox.verify(model, net)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"input": np.asarray(x, np.float32)})))


def _reference(x, w, b, s, p, d, op):
    """A 1-D transposed convolution by its definition (PyTorch's ConvTranspose1d): input i and
    tap t add x[i]·w[t] into output o = i·s + t·d − p, for every o inside the output of size
    (n − 1)·s − 2p + d·(k − 1) + op + 1; then the bias."""
    n, k = len(x), len(w)
    y = np.zeros((n - 1) * s - 2 * p + d * (k - 1) + op + 1)
    for i in range(n):
        for t in range(k):
            o = i * s + t * d - p
            if 0 <= o < len(y):
                y[o] += x[i] * w[t]
    return y + b


def test_output_padding_at_the_stride_below_the_dilation():
    # 1-D along W: x = [1, 2, 3], w = [1, 10] (F = 2), S = 1, dilation 2, output_padding 1,
    # bias 0.5. Output (3 − 1)·1 − 2P + 2·(2 − 1) + 1 + 1 = 6 − 2P. y[o] = Σ x[i]·w[t] over
    # o = i + 2t − P. P = 0: y0 = 1, y1 = 2, y2 = 3 + 1·10 = 13, y3 = 20, y4 = 30, y5 = nothing
    # reaches the column output_padding adds: only the bias. P = 1: the same values one place
    # earlier, cut to 4: 2, 13, 20, 30 (the last is the column P would cut, output_padding
    # keeps it). PyTorch allows output_padding 1 here (smaller than the dilation); onnxruntime's
    # ConvTranspose refuses output_padding ≥ stride, so the exporter must say it otherwise.
    x = np.array([1, 2, 3], np.float32)
    w = np.array([1, 10], np.float32)
    layers = [("conv_transpose", {"filters": 1, "kernel": [1, 2], "stride": 1, "dilation": [1, 2],
                                  "padding": [0, p], "output_padding": [0, 1]}, f"p{p}")
              for p in (0, 1)]
    values = {f"p{p}.{k}": v for p in (0, 1) for k, v in
              (("weight", w.reshape(1, 1, 1, 2)), ("bias", np.array([0.5], np.float32)))}
    out = _run(_net((1, 3, 1), layers), x.reshape(1, 1, 1, 3), values)
    assert np.allclose(out["p0"][0, 0, 0], [1.5, 2.5, 13.5, 20.5, 30.5, 0.5])
    assert np.allclose(out["p1"][0, 0, 0], [2.5, 13.5, 20.5, 30.5])
    for p in (0, 1):
        assert np.allclose(out[f"p{p}"][0, 0, 0], _reference(x, w, 0.5, 1, p, 2, 1))


@pytest.mark.parametrize("s, d, p, op", [(1, 2, 0, 1), (1, 3, 0, 2), (1, 3, 1, 2), (2, 3, 0, 2),
                                         (2, 3, 1, 2), (2, 3, 3, 2), (1, 2, 2, 1), (2, 1, 1, 1)])
def test_transposed_convolution_against_its_definition(s, d, p, op):
    # output_padding at or above the stride (below the dilation), with padding below, equal to
    # and above it, and one ordinary case; 2-D with the same setting on both axes, 2 channels
    # in 2 groups, random values, against the definition applied per axis (the 2-D transposed
    # convolution of a separable kernel is the outer product of two 1-D ones).
    rng = np.random.default_rng(s * 100 + d * 10 + p)
    xh, xw = rng.standard_normal(4), rng.standard_normal(5)
    wh, ww = rng.standard_normal(3), rng.standard_normal(3)
    x = np.stack([np.outer(xh, xw), 2 * np.outer(xh, xw)]).astype(np.float32)[None]
    weight = np.stack([np.outer(wh, ww), -np.outer(wh, ww)]).astype(np.float32)[:, None]
    net = _net((4, 5, 2), [("conv_transpose", {"filters": 2, "kernel": 3, "stride": s,
                                               "padding": p, "dilation": d, "groups": 2,
                                               "output_padding": op}, "t")])
    (h, w_, k), = [row.output for row in archcalc.analyze(net).layers if row.name == "t"]
    bias = np.array([0.25, -1.0], np.float32)
    out = _run(net, x, {"t.weight": weight, "t.bias": bias})["t"]
    base = np.outer(_reference(xh, wh, 0, s, p, d, op), _reference(xw, ww, 0, s, p, d, op))
    assert out.shape == (1, 2, h, w_) and k == 2
    assert np.allclose(out[0, 0], base + 0.25, atol=1e-5)
    assert np.allclose(out[0, 1], -2 * base - 1.0, atol=1e-5)


@pytest.mark.parametrize("s, d, p, op", [(1, 2, 0, 1), (1, 3, 1, 2), (2, 3, 0, 2), (2, 3, 3, 2)])
def test_output_padding_at_the_stride_against_torch(s, d, p, op):
    # PyTorch's ConvTranspose2d accepts these (output_padding below the dilation); the exported
    # graph must compute what it computes, bias included in the rows no product reaches
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)     # [C_in, K/g, F, F], g = 2
    bias = rng.standard_normal(6).astype(np.float32)
    net = _net((5, 6, 4), [("conv_transpose", {"filters": 6, "kernel": 3, "stride": s,
                                               "padding": p, "dilation": d, "groups": 2,
                                               "output_padding": op}, "t")])
    got = _run(net, x, {"t.weight": w, "t.bias": bias})["t"]
    want = torch.nn.functional.conv_transpose2d(
        torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(bias), stride=s, padding=p,
        output_padding=op, groups=2, dilation=d).numpy()
    assert got.shape == want.shape and np.allclose(got, want, atol=1e-4)
