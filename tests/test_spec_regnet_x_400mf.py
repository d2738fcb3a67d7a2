"""specs/regnet_x_400mf.yaml (a shipped modern CNN) against torchvision's documented figures, the
RegNet width rule computed here independently and, where torch is installed, a PyTorch model built
layer by layer."""
import math

import pytest
from conftest import SPECS, torch_figures

import archcalc


def regnet_stages(depth=22, w_0=24, w_a=24.48, w_m=2.54, group_width=16):
    """RegNet's quantized linear widths (Radosavovic et al. 2020, eqs. 2–4) as torchvision's
    BlockParams.from_init_params applies them: u_j = w_0 + w_a·j, s_j = round(log(u_j/w_0) /
    log w_m), w_j = w_0·w_m^s_j to a multiple of 8; blocks of equal width form a stage; each
    stage width made divisible by the group width (torchvision's _make_divisible)."""
    widths = []
    for j in range(depth):
        s = round(math.log((w_0 + w_a * j) / w_0) / math.log(w_m))
        widths.append(int(round(w_0 * w_m ** s / 8) * 8))
    stages = []
    for w in widths:
        if stages and stages[-1][0] == w:
            stages[-1][1] += 1
        else:
            stages.append([w, 1])

    def make_divisible(v, d):
        new = max(d, int(v + d / 2) // d * d)
        return new + d if new < 0.9 * v else new
    return [(make_divisible(w, min(group_width, w)), n) for w, n in stages]


def report():
    return archcalc.analyze(archcalc.load(SPECS / "regnet_x_400mf.yaml"))


def test_regnet_x_400mf_matches_torchvision():
    r = report()
    # torchvision.models.regnet_x_400mf: num_params 5,495,976; the docs' table says "0.41"
    # GFLOPS, the weights' meta "_ops": 0.414 (G multiply-adds, rounded to three decimals). "Within
    # 0.5% of 410 M" would be wrong: 0.41 is itself rounded, and torchvision's own counter gives
    # 0.414 G (413.8 M, 0.9% above 410 M); the exact figure is checked against FlopCounterMode below
    assert r.totals.params == 5_495_976
    assert round(r.totals.macs / 1e9, 2) == 0.41
    assert round(r.totals.macs / 1e9, 3) == 0.414
    assert abs(r.totals.macs / 0.414e9 - 1) < 0.005
    assert not any(d.severity == "warning" for d in r.diagnostics)


def test_regnet_x_400mf_stages_follow_the_width_rule():
    r = report()
    stages = regnet_stages()
    assert stages == [(32, 1), (64, 2), (160, 7), (400, 12)]     # the brief's depths and widths
    size = 112                                                   # after the 3×3/2 stem
    for k, (w, n) in enumerate(stages, 1):
        size //= 2                                               # each stage's first block: /2
        blocks = {row.name.split("/")[0] for row in r.layers if row.name.startswith(f"block{k}.")}
        assert blocks == {f"block{k}.{i}" for i in range(n)}
        assert r[f"block{k}.{n - 1}/relu"].output == (size, size, w)
        # the 3×3 conv in groups of 16 channels: w/16 groups, 3·3·16·w weights
        assert r[f"block{k}.0/b"].params == 3 * 3 * 16 * w
    assert r["stem"].output == (112, 112, 32)
    # a projection (1×1/2 conv + BN) exactly where the shape changes: each stage's first block
    # (block1.0 too: 32 → 32 channels, but stride 2)
    assert [row.name for row in r.layers if row.name.endswith("/proj")] == \
        [f"block{k}.0/proj" for k in (1, 2, 3, 4)]
    assert r["block1.0/proj"].params == 32 * 32
    assert sum(1 for row in r.layers if row.op == "add") == 22
    assert r.layers[-1].output == (1, 1, 1000) and r["fc"].params == 400 * 1000 + 1000


def _regnet_x_400mf(torch):
    """torchvision's regnet_x_400mf written out with torch.nn (torchvision is not used)."""
    nn = torch.nn

    def conv_bn(cin, cout, k, stride=1, groups=1, relu=True):
        layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                  nn.BatchNorm2d(cout)]
        return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)

    class XBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.f = nn.Sequential(conv_bn(cin, cout, 1),
                                   conv_bn(cout, cout, 3, stride, cout // 16),
                                   conv_bn(cout, cout, 1, relu=False))
            self.proj = conv_bn(cin, cout, 1, stride, relu=False) \
                if stride != 1 or cin != cout else None

        def forward(self, x):
            skip = x if self.proj is None else self.proj(x)
            return torch.relu(skip + self.f(x))

    layers, cin = [conv_bn(3, 32, 3, 2)], 32
    for width, depth in [(32, 1), (64, 2), (160, 7), (400, 12)]:
        for i in range(depth):
            layers.append(XBlock(cin, width, 2 if i == 0 else 1))
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1000)]
    return nn.Sequential(*layers)


def test_regnet_x_400mf_against_a_pytorch_model():
    torch = pytest.importorskip("torch")
    model = _regnet_x_400mf(torch)
    r = report()
    params, buffers, flops, y = torch_figures(torch, model)
    assert params == r.totals.params == 5_495_976
    assert buffers == r.totals.buffers
    assert tuple(y.shape) == (1, 1000)
    # FlopCounterMode counts each multiply-add of conv and matmul as 2 FLOPs
    assert flops == 2 * r.totals.macs
