"""Shipped specs of 2016–2025 CNNs against torchvision's documented figures, by hand
and, where torch is installed, against a PyTorch model built layer by layer."""
import pytest
from conftest import SPECS

import archcalc


def fire(cin: int, s: int, e: int) -> int:
    """A fire module's parameters: 1×1 squeeze, 1×1 and 3×3 expands, with biases."""
    return (cin * s + s) + (s * e + e) + (9 * s * e + e)


def test_squeezenet1_1_by_hand_and_torchvision():
    r = archcalc.analyze(archcalc.load(SPECS / "squeezenet1_1.yaml"))
    by_hand = (3 * 3 * 3 * 64 + 64 + fire(64, 16, 64) + fire(128, 16, 64) + fire(128, 32, 128)
               + fire(256, 32, 128) + fire(256, 48, 192) + fire(384, 48, 192)
               + fire(384, 64, 256) + fire(512, 64, 256) + 512 * 1000 + 1000)
    # torchvision.models.squeezenet1_1: 1,235,496 parameters, 0.35 GFLOPS (= multiply-adds)
    assert r.totals.params == by_hand == 1_235_496
    assert abs(r.totals.macs / 0.35e9 - 1) < 0.005
    # (224 − 3)/2 + 1 = 111.5 → 111 (floor, as PyTorch); then ceil pools: 55, 27, 13
    assert r["conv1"].output == (111, 111, 64)
    assert [r[n].output[0] for n in ("pool1", "pool2", "pool3")] == [55, 27, 13]
    assert r["fire9/cat"].output == (13, 13, 512) and r.layers[-1].output == (1, 1, 1000)


def test_mobilenet_v2_matches_torchvision():
    net = archcalc.load(SPECS / "mobilenet_v2.yaml")
    r = archcalc.analyze(net)
    # torchvision.models.mobilenet_v2: 3,504,872 parameters, 0.30 GFLOPS (multiply-adds)
    assert r.totals.params == 3_504_872
    assert abs(r.totals.macs / 0.30e9 - 1) < 0.005
    # 17 inverted residuals (1 + 2 + 3 + 4 + 3 + 3 + 1); a residual add where the stride is 1 and
    # the width is kept: 0 + 1 + 2 + 3 + 2 + 2 + 0 = 10 (the paper's Table 2, by hand)
    assert sum(1 for row in r.layers if row.op == "add") == 10
    assert sum(1 for row in r.layers if row.op == "relu6") == 1 + 16 * 2 + 1 + 1
    assert r["head"].output == (7, 7, 1280)


def test_resnext50_32x4d_matches_torchvision_and_resnet50s_layout():
    r = archcalc.analyze(archcalc.load(SPECS / "resnext50_32x4d.yaml"))
    # torchvision.models.resnext50_32x4d: 25,028,904 parameters, 4.23 GFLOPS (multiply-adds)
    assert r.totals.params == 25_028_904
    assert abs(r.totals.macs / 4.23e9 - 1) < 0.005
    # the grouped 3×3 of layer1: 128 channels in 32 groups of 4, so 3·3·4·128 weights
    assert r["layer1.0/conv2"].params == 3 * 3 * 4 * 128
    # projections exactly where torchvision has them: the first block of every stage
    assert sorted(row.name for row in r.layers if row.name.endswith("downsample.0")) == \
        [f"layer{k}.0/downsample.0" for k in (1, 2, 3, 4)]
    resnet = archcalc.analyze(archcalc.load(SPECS / "resnet50.yaml"))
    assert [row.output for row in r.layers if row.op == "add"] == \
        [row.output for row in resnet.layers if row.op == "add"]


def test_mobilenet_v3_large_matches_torchvision():
    net = archcalc.load(SPECS / "mobilenet_v3_large.yaml")
    r = archcalc.analyze(net)
    # torchvision.models.mobilenet_v3_large: 5,483,032 parameters, "0.22" GFLOPS. That figure
    # is rounded to two decimals: PyTorch's FlopCounterMode (the counter behind it) gives
    # 433,179,520 FLOPs = 2 × 216,589,760 on the model built below
    assert r.totals.params == 5_483_032
    assert round(r.totals.macs / 1e9, 2) == 0.22
    # squeeze-and-excitation in 8 of the 15 blocks (the paper's Table 1), each gating with a mul
    assert sum(1 for row in r.layers if row.op == "mul") == 8
    assert r["bneck4.0/se_fc1"].output == (1, 1, 24)      # make_divisible(72 // 4, 8) = 24
    assert not any(d.severity == "warning" for d in r.diagnostics)


def test_efficientnet_b0_matches_torchvision():
    r = archcalc.analyze(archcalc.load(SPECS / "efficientnet_b0.yaml"))
    # torchvision.models.efficientnet_b0: 5,288,548 parameters, "0.39" GFLOPS (two decimals:
    # FlopCounterMode on the model built below gives exactly 2 × archcalc's MACs)
    assert r.totals.params == 5_288_548
    assert round(r.totals.macs / 1e9, 2) == 0.39
    # 16 MBConv blocks (1 + 2 + 2 + 3 + 3 + 4 + 1), each with squeeze-and-excitation; the SE
    # squeezes to a quarter of the block's input channels: stage2.0 reads 16 → 4
    assert sum(1 for row in r.layers if row.op == "mul") == 16
    assert r["stage2.0/se_fc1"].output == (1, 1, 4)


def _efficientnet_b0(torch):
    nn = torch.nn

    class MBConv(nn.Module):
        def __init__(self, cin, t, k, stride, out):
            super().__init__()
            exp = cin * t
            layers = [] if t == 1 else [nn.Conv2d(cin, exp, 1, bias=False),
                                        nn.BatchNorm2d(exp), nn.SiLU()]
            layers += [nn.Conv2d(exp, exp, k, stride, (k - 1) // 2, groups=exp, bias=False),
                       nn.BatchNorm2d(exp), nn.SiLU()]
            self.body = nn.Sequential(*layers)
            squeeze = max(1, cin // 4)
            self.fc1, self.fc2 = nn.Conv2d(exp, squeeze, 1), nn.Conv2d(squeeze, exp, 1)
            self.project = nn.Sequential(nn.Conv2d(exp, out, 1, bias=False), nn.BatchNorm2d(out))
            self.residual = stride == 1 and cin == out

        def forward(self, x):
            y = self.body(x)
            pooled = y.mean((2, 3), keepdim=True)
            g = torch.sigmoid(self.fc2(nn.functional.silu(self.fc1(pooled))))
            y = self.project(y * g)
            return x + y if self.residual else y
    layers, cin = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.SiLU()], 32
    for t, k, s, c, n in ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)):
        for i in range(n):
            layers.append(MBConv(cin, t, k, s if i == 0 else 1, c))
            cin = c
    layers += [nn.Conv2d(320, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.SiLU(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(1280, 1000)]
    return nn.Sequential(*layers)


def test_shufflenet_v2_x1_0_matches_torchvision():
    r = archcalc.analyze(archcalc.load(SPECS / "shufflenet_v2_x1_0.yaml"))
    # torchvision.models.shufflenet_v2_x1_0: 2,278,604 parameters, "0.14" GFLOPS
    assert r.totals.params == 2_278_604
    assert round(r.totals.macs / 1e9, 2) == 0.14
    # the paper's Table 5 (1×): stage outputs 28×28×116, 14×14×232, 7×7×464
    assert [r[f"stage{k}.0/shuffle"].output for k in (2, 3, 4)] == \
        [(28, 28, 116), (14, 14, 232), (7, 7, 464)]
    # a basic unit passes half its channels untouched: 58 of 116 in stage 2
    assert r["stage2.1/half.0"].output == (28, 28, 58)


def _shufflenet_v2(torch):
    nn = torch.nn

    def shuffle(x):
        n, c, h, w = x.shape
        return x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)

    class Unit(nn.Module):
        def __init__(self, cin, out, stride):
            super().__init__()
            bf = out // 2
            self.stride = stride
            if stride > 1:
                self.b1 = nn.Sequential(
                    nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
                    nn.BatchNorm2d(cin), nn.Conv2d(cin, bf, 1, bias=False), nn.BatchNorm2d(bf),
                    nn.ReLU())
            self.b2 = nn.Sequential(
                nn.Conv2d(cin if stride > 1 else bf, bf, 1, bias=False), nn.BatchNorm2d(bf),
                nn.ReLU(), nn.Conv2d(bf, bf, 3, stride, 1, groups=bf, bias=False),
                nn.BatchNorm2d(bf), nn.Conv2d(bf, bf, 1, bias=False), nn.BatchNorm2d(bf),
                nn.ReLU())

        def forward(self, x):
            if self.stride == 1:
                x1, x2 = x.chunk(2, dim=1)
                return shuffle(torch.cat((x1, self.b2(x2)), 1))
            return shuffle(torch.cat((self.b1(x), self.b2(x)), 1))
    layers, cin = [nn.Conv2d(3, 24, 3, 2, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU(),
                   nn.MaxPool2d(3, 2, 1)], 24
    for out, n in ((116, 4), (232, 8), (464, 4)):
        for i in range(n):
            layers.append(Unit(cin, out, 2 if i == 0 else 1))
            cin = out
    layers += [nn.Conv2d(464, 1024, 1, bias=False), nn.BatchNorm2d(1024), nn.ReLU(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, 1000)]
    return nn.Sequential(*layers)


def _mobilenet_v3_large(torch):
    nn = torch.nn

    def md(v, d=8):
        new = max(d, int(v + d / 2) // d * d)
        return new + d if new < 0.9 * v else new

    class SE(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.f1, self.f2 = nn.Conv2d(c, md(c // 4), 1), nn.Conv2d(md(c // 4), c, 1)

        def forward(self, x):
            f = nn.functional
            return x * f.hardsigmoid(self.f2(torch.relu(self.f1(f.adaptive_avg_pool2d(x, 1)))))

    class Bneck(nn.Module):
        def __init__(self, cin, k, exp, out, se, act, stride):
            super().__init__()
            a = nn.Hardswish if act == "hardswish" else nn.ReLU
            layers = [] if exp == cin else [nn.Conv2d(cin, exp, 1, bias=False),
                                            nn.BatchNorm2d(exp), a()]
            layers += [nn.Conv2d(exp, exp, k, stride, (k - 1) // 2, groups=exp, bias=False),
                       nn.BatchNorm2d(exp), a()] + ([SE(exp)] if se else [])
            layers += [nn.Conv2d(exp, out, 1, bias=False), nn.BatchNorm2d(out)]
            self.body, self.residual = nn.Sequential(*layers), stride == 1 and cin == out

        def forward(self, x):
            return x + self.body(x) if self.residual else self.body(x)
    rows = [(3, 16, 16, 0, "relu", 1), (3, 64, 24, 0, "relu", 2), (3, 72, 24, 0, "relu", 1),
            (5, 72, 40, 1, "relu", 2), (5, 120, 40, 1, "relu", 1), (5, 120, 40, 1, "relu", 1),
            (3, 240, 80, 0, "hardswish", 2), (3, 200, 80, 0, "hardswish", 1),
            (3, 184, 80, 0, "hardswish", 1), (3, 184, 80, 0, "hardswish", 1),
            (3, 480, 112, 1, "hardswish", 1), (3, 672, 112, 1, "hardswish", 1),
            (5, 672, 160, 1, "hardswish", 2), (5, 960, 160, 1, "hardswish", 1),
            (5, 960, 160, 1, "hardswish", 1)]
    layers, cin = [nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish()], 16
    for row in rows:
        layers.append(Bneck(cin, *row))
        cin = row[2]
    layers += [nn.Conv2d(160, 960, 1, bias=False), nn.BatchNorm2d(960), nn.Hardswish(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(960, 1280), nn.Hardswish(),
               nn.Dropout(0.2), nn.Linear(1280, 1000)]
    return nn.Sequential(*layers)


@pytest.mark.parametrize("spec", ["mobilenet_v2", "squeezenet1_1", "resnext50_32x4d",
                                  "mobilenet_v3_large", "efficientnet_b0",
                                  "shufflenet_v2_x1_0"])
def test_modern_specs_against_a_pytorch_model(spec):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    if spec == "squeezenet1_1":
        class Fire(nn.Module):
            def __init__(self, cin, s, e):
                super().__init__()
                self.squeeze = nn.Conv2d(cin, s, 1)
                self.e1 = nn.Conv2d(s, e, 1)
                self.e3 = nn.Conv2d(s, e, 3, padding=1)

            def forward(self, x):
                x = torch.relu(self.squeeze(x))
                return torch.cat([torch.relu(self.e1(x)), torch.relu(self.e3(x))], 1)
        model = nn.Sequential(
            nn.Conv2d(3, 64, 3, stride=2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(64, 16, 64), Fire(128, 16, 64), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(128, 32, 128), Fire(256, 32, 128), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(256, 48, 192), Fire(384, 48, 192), Fire(384, 64, 256), Fire(512, 64, 256),
            nn.Dropout(0.5), nn.Conv2d(512, 1000, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
    elif spec == "mobilenet_v3_large":
        model = _mobilenet_v3_large(torch)
    elif spec == "efficientnet_b0":
        model = _efficientnet_b0(torch)
    elif spec == "shufflenet_v2_x1_0":
        model = _shufflenet_v2(torch)
    elif spec == "resnext50_32x4d":
        class Bottleneck(nn.Module):
            def __init__(self, cin, planes, stride):
                super().__init__()
                width, out = planes * 4 // 64 * 32, planes * 4
                self.body = nn.Sequential(
                    nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                    nn.Conv2d(width, width, 3, stride, 1, groups=32, bias=False),
                    nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, out, 1, bias=False),
                    nn.BatchNorm2d(out))
                self.skip = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False),
                                          nn.BatchNorm2d(out)) \
                    if stride != 1 or cin != out else nn.Identity()

            def forward(self, x):
                return torch.relu(self.body(x) + self.skip(x))
        layers, cin = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                       nn.MaxPool2d(3, 2, 1)], 64
        for planes, n, s in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(n):
                layers.append(Bottleneck(cin, planes, s if i == 0 else 1))
                cin = planes * 4
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
        model = nn.Sequential(*layers)
    else:
        def divisible(v, d=8):
            new = max(d, int(v + d / 2) // d * d)
            return new + d if new < 0.9 * v else new

        class Inverted(nn.Module):
            def __init__(self, cin, cout, stride, t):
                super().__init__()
                hidden = cin * t
                layers = [] if t == 1 else [nn.Conv2d(cin, hidden, 1, bias=False),
                                            nn.BatchNorm2d(hidden), nn.ReLU6()]
                layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                           nn.BatchNorm2d(hidden), nn.ReLU6(),
                           nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
                self.body = nn.Sequential(*layers)
                self.residual = stride == 1 and cin == cout

            def forward(self, x):
                return x + self.body(x) if self.residual else self.body(x)
        layers, cin = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6()], 32
        for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                           (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
            for i in range(n):
                layers.append(Inverted(cin, divisible(c), s if i == 0 else 1, t))
                cin = divisible(c)
        layers += [nn.Conv2d(cin, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6(),
                   nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(1280, 1000)]
        model = nn.Sequential(*layers)
    r = archcalc.analyze(archcalc.load(SPECS / f"{spec}.yaml"))
    assert sum(p.numel() for p in model.parameters()) == r.totals.params
    assert sum(b.numel() for name, b in model.named_buffers()
               if not name.endswith("num_batches_tracked")) == r.totals.buffers
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model.eval()(torch.zeros(1, 3, 224, 224))
    assert y.numel() == 1000
    # the counter behind torchvision's GFLOPS counts conv and matmul: 2 × archcalc's MACs
    assert counter.get_total_flops() == 2 * r.totals.macs
