"""specs/densenet121.yaml (a shipped modern CNN) against torchvision's documented figures, the
paper's Table 1 and, where torch is installed, a PyTorch model built layer by layer in this file."""
import pytest
from conftest import SPECS, torch_figures

import archcalc


@pytest.fixture(scope="module")
def report():
    return archcalc.analyze(archcalc.load(SPECS / "densenet121.yaml"))


def test_densenet121_matches_torchvisions_figures(report):
    # torchvision.models.densenet121 (DenseNet121_Weights.IMAGENET1K_V1): 7,978,856 parameters,
    # 2.83 GFLOPS (torchvision's "GFLOPS" are multiply-adds)
    assert report.totals.params == 7_978_856
    assert abs(report.totals.macs / 2.83e9 - 1) < 0.005


def test_densenet121_by_hand():
    # each dense layer: BN over its input (2c), 1×1 conv c → 128, BN (2·128), 3×3 conv 128 → 32;
    # each transition: BN (2c), 1×1 conv c → c/2; no conv has a bias
    def layer(c):
        return 2 * c + c * 128 + 2 * 128 + 9 * 128 * 32
    total, c = 7 * 7 * 3 * 64 + 2 * 64, 64
    for k, n in enumerate((6, 12, 24, 16)):
        for _ in range(n):
            total, c = total + layer(c), c + 32
        if k < 3:
            total, c = total + 2 * c + c * (c // 2), c // 2
    total += 2 * c + c * 1000 + 1000
    assert c == 1024 and total == 7_978_856


def test_densenet121_output_sizes_are_the_papers_table_1(report):
    # Huang et al. 2017, Table 1 ("Output Size" column): convolution 112×112, pooling 56×56,
    # dense block (1) 56×56, transition (1) 28×28, dense block (2) 28×28, transition (2) 14×14,
    # dense block (3) 14×14, transition (3) 7×7, dense block (4) 7×7, classification 1×1;
    # DenseNet-121's channels: 64 + 6·32 = 256, halved to 128, + 12·32 = 512, … 1024
    assert report["conv0"].output == (112, 112, 64)
    assert report["pool0"].output == (56, 56, 64)
    assert [report[f"denseblock{k}.{n - 1}/concat"].output
            for k, n in ((1, 6), (2, 12), (3, 24), (4, 16))] == \
        [(56, 56, 256), (28, 28, 512), (14, 14, 1024), (7, 7, 1024)]
    assert [report[f"transition{k}/pool"].output for k in (1, 2, 3)] == \
        [(28, 28, 128), (14, 14, 256), (7, 7, 512)]
    assert report["avgpool"].output == (1, 1, 1024)
    assert report.layers[-1].output == (1, 1, 1000)
    # 58 dense layers (6 + 12 + 24 + 16) + 3 transitions + conv0 + classifier = 121 weighted layers
    assert sum(1 for row in report.layers if row.op in ("conv", "fc")) == 2 * 58 + 3 + 1 + 1


def _densenet121(torch):
    nn = torch.nn

    class DenseLayer(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.body = nn.Sequential(
                nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, 128, 1, bias=False),
                nn.BatchNorm2d(128), nn.ReLU(), nn.Conv2d(128, 32, 3, padding=1, bias=False))

        def forward(self, x):
            return torch.cat([x, self.body(x)], 1)
    layers, c = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                 nn.MaxPool2d(3, 2, 1)], 64
    for k, n in enumerate((6, 12, 24, 16)):
        for _ in range(n):
            layers.append(DenseLayer(c))
            c += 32
        if k < 3:
            layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, bias=False),
                       nn.AvgPool2d(2, 2)]
            c //= 2
    layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(c, 1000)]
    return nn.Sequential(*layers)


@pytest.mark.slow                  # builds and runs DenseNet-121 in PyTorch: 5–9 s
def test_densenet121_against_a_pytorch_model(report):
    torch = pytest.importorskip("torch")
    model = _densenet121(torch)
    params, buffers, flops, y = torch_figures(torch, model)
    assert params == report.totals.params
    assert buffers == report.totals.buffers
    assert tuple(y.shape) == (1, 1000)
    # the counter behind torchvision's GFLOPS counts conv and matmul FLOPs: 2 × archcalc's MACs
    assert flops == 2 * report.totals.macs
