"""specs/mobilenet_v3_small.yaml (a shipped modern CNN) against torchvision's documented figures,
the MobileNetV3 paper's Table 2 and, where torch is installed, a PyTorch model built layer by layer.
"""
import pytest
from conftest import SPECS, torch_figures

import archcalc

# Howard et al. 2019, "Searching for MobileNetV3", Table 2 (MobileNetV3-Small): one row per bneck,
# k, exp size, #out, SE, NL, s
TABLE2 = [(3, 16, 16, 1, "RE", 2), (3, 72, 24, 0, "RE", 2), (3, 88, 24, 0, "RE", 1),
          (5, 96, 40, 1, "HS", 2), (5, 240, 40, 1, "HS", 1), (5, 240, 40, 1, "HS", 1),
          (5, 120, 48, 1, "HS", 1), (5, 144, 48, 1, "HS", 1), (5, 288, 96, 1, "HS", 2),
          (5, 576, 96, 1, "HS", 1), (5, 576, 96, 1, "HS", 1)]


def report():
    return archcalc.analyze(archcalc.load(SPECS / "mobilenet_v3_small.yaml"))


def test_mobilenet_v3_small_matches_torchvision():
    r = report()
    # torchvision.models.mobilenet_v3_small: num_params 2,542,856; the docs' table says "0.06"
    # GFLOPS, the weights' meta "_ops": 0.057 (G multiply-adds, rounded to three decimals)
    assert r.totals.params == 2_542_856
    assert round(r.totals.macs / 1e9, 2) == 0.06
    assert round(r.totals.macs / 1e9, 3) == 0.057
    assert not any(d.severity == "warning" for d in r.diagnostics)


def test_mobilenet_v3_small_volumes_as_table_2():
    r = report()
    # Table 2's "Input" column, each row's input being the previous row's output:
    # 224²×3 → conv 3×3/2 → 112²×16 → bnecks → 7²×96 → conv 1×1 → 7²×576 → pool → 1²×576
    # → 1×1 conv NBN (torchvision: Linear) 1024 → 1000 classes
    assert r["stem"].output == (112, 112, 16)
    expected = [(56, 56, 16), (28, 28, 24), (28, 28, 24), (14, 14, 40), (14, 14, 40),
                (14, 14, 40), (14, 14, 48), (14, 14, 48), (7, 7, 96), (7, 7, 96), (7, 7, 96)]
    # every block ends in project_bn (or its residual add, of the same volume)
    assert [r[f"bneck{k}.0/project_bn"].output for k in range(1, 12)] == expected
    assert r["last"].output == (7, 7, 576)
    assert r["gap1"].output == (1, 1, 576)
    assert r["fc1"].output == (1, 1, 1024) and r.layers[-1].output == (1, 1, 1000)


def test_mobilenet_v3_small_block_structure_by_the_table():
    r = report()
    ops = [row.op for row in r.layers]
    se_rows = [k for k, row in enumerate(TABLE2, 1) if row[3]]
    # SE in the table's rows 1 and 4–11 (the paper also marks the last 1×1 conv; torchvision
    # puts no SE there, and neither does the spec): one mul and one hardsigmoid gate each
    assert ops.count("mul") == ops.count("hardsigmoid") == len(se_rows) == 9
    assert sorted(row.name.split("/")[0] for row in r.layers if row.op == "mul") == \
        sorted(f"bneck{k}.0" for k in se_rows)
    # the residual add where the stride is 1 and the block keeps its width: rows 3, 5, 6, 8, 10, 11
    cin, adds = 16, []
    for k, (_, _, out, _, _, s) in enumerate(TABLE2, 1):
        if s == 1 and cin == out:
            adds.append(f"bneck{k}.0/add")
        cin = out
    assert adds == [row.name for row in r.layers if row.op == "add"]
    assert len(adds) == 6
    # expansion only where exp differs from the input width: every row but the first
    assert not any(row.name == "bneck1.0/expand" for row in r.layers)
    assert sum(1 for row in r.layers if row.name.endswith("/expand")) == 10
    # NL: hardswish in the stem, rows 4–11 (expansion and depthwise), the last conv and the
    # classifier: 1 + 8·2 + 1 + 1; ReLU in rows 1–3 (row 1 has no expansion: its depthwise
    # only) and in every SE: 1 + 2 + 2 + 9
    assert ops.count("hardswish") == 19
    assert ops.count("relu") == 1 + 2 + 2 + 9
    # squeeze width _make_divisible(exp // 4, 8): 16 // 4 = 4 → 8; 96 // 4 = 24; 144 // 4 = 36 → 40
    assert r["bneck1.0/se_fc1"].output == (1, 1, 8)
    assert r["bneck4.0/se_fc1"].output == (1, 1, 24)
    assert r["bneck8.0/se_fc1"].output == (1, 1, 40)
    # depthwise kernels 3 then 5, as the table's k column
    assert [r[f"bneck{k}.0/dw"].params for k in (1, 4)] == [3 * 3 * 16, 5 * 5 * 96]


def _mobilenet_v3_small(torch):
    """torchvision's mobilenet_v3_small written out with torch.nn (torchvision is not used)."""
    nn = torch.nn

    def make_divisible(v, d=8):
        new = max(d, int(v + d / 2) // d * d)
        return new + d if new < 0.9 * v else new

    class SqueezeExcitation(nn.Module):
        def __init__(self, c):
            super().__init__()
            squeeze = make_divisible(c // 4)
            self.fc1, self.fc2 = nn.Conv2d(c, squeeze, 1), nn.Conv2d(squeeze, c, 1)

        def forward(self, x):
            s = nn.functional.adaptive_avg_pool2d(x, 1)
            return x * nn.functional.hardsigmoid(self.fc2(nn.functional.relu(self.fc1(s))))

    class InvertedResidual(nn.Module):
        def __init__(self, cin, k, exp, out, se, nl, stride):
            super().__init__()
            act = nn.Hardswish if nl == "HS" else nn.ReLU
            layers = []
            if exp != cin:
                layers += [nn.Conv2d(cin, exp, 1, bias=False), nn.BatchNorm2d(exp), act()]
            layers += [nn.Conv2d(exp, exp, k, stride, k // 2, groups=exp, bias=False),
                       nn.BatchNorm2d(exp), act()]
            if se:
                layers.append(SqueezeExcitation(exp))
            layers += [nn.Conv2d(exp, out, 1, bias=False), nn.BatchNorm2d(out)]
            self.block = nn.Sequential(*layers)
            self.use_res = stride == 1 and cin == out

        def forward(self, x):
            y = self.block(x)
            return x + y if self.use_res else y

    layers = [nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish()]
    cin = 16
    for row in TABLE2:
        layers.append(InvertedResidual(cin, *row))
        cin = row[2]
    layers += [nn.Conv2d(cin, 6 * cin, 1, bias=False), nn.BatchNorm2d(6 * cin), nn.Hardswish(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6 * cin, 1024), nn.Hardswish(),
               nn.Dropout(0.2), nn.Linear(1024, 1000)]
    return nn.Sequential(*layers)


def test_mobilenet_v3_small_against_a_pytorch_model():
    torch = pytest.importorskip("torch")
    model = _mobilenet_v3_small(torch)
    r = report()
    params, buffers, flops, y = torch_figures(torch, model)
    assert params == r.totals.params == 2_542_856
    assert buffers == r.totals.buffers
    assert tuple(y.shape) == (1, 1000)
    # FlopCounterMode counts each multiply-add of conv and matmul as 2 FLOPs
    assert flops == 2 * r.totals.macs
    # the stage volumes of the PyTorch model equal the analyzer's, block by block
    x, seen = torch.zeros(1, 3, 224, 224), []
    with torch.no_grad():
        for m in model:
            x = m(x)
            if type(m).__name__ == "InvertedResidual":
                seen.append((x.shape[2], x.shape[3], x.shape[1]))
    assert seen == [r[f"bneck{k}.0/project_bn"].output for k in range(1, 12)]
