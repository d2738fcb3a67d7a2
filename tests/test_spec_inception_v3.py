"""specs/inception_v3.yaml (a shipped modern CNN) against torchvision's documented figures, the
paper's grid sizes and, where torch is installed, a PyTorch model built layer by layer in this file
(eval mode: the auxiliary classifier, marked train_only in the spec, is not run)."""
import pytest
from conftest import SPECS

import archcalc


@pytest.fixture(scope="module")
def report():
    return archcalc.analyze(archcalc.load(SPECS / "inception_v3.yaml"))


def test_inception_v3_matches_torchvisions_figures(report):
    # torchvision.models.inception_v3 (Inception_V3_Weights.IMAGENET1K_V1): 27,161,264 parameters
    # (every parameter of the model, the auxiliary classifier AuxLogits included) and 5.71 GFLOPS
    # (multiply-adds) on 299×299×3 at inference, where AuxLogits does not run
    assert report.totals.params == 27_161_264
    assert abs(report.totals.macs / 5.71e9 - 1) < 0.005


def test_inception_v3_aux_head_is_training_only_by_hand(report):
    # InceptionAux(768, 1000): 5×5/3 average pool (17 → 5), BasicConv2d 768 → 128 (1×1),
    # BasicConv2d 128 → 768 (5×5, 5 → 1), fc 768 → 1000; each BatchNorm has γ and β
    conv0, conv1, fc = 768 * 128 + 2 * 128, 5 * 5 * 128 * 768 + 2 * 768, 768 * 1000 + 1000
    assert report.totals.train_only_params == conv0 + conv1 + fc == 3_326_696
    assert report.totals.train_only_macs == 5 * 5 * 768 * 128 + 5 * 5 * 128 * 768 + 768 * 1000
    aux = [row for row in report.layers if row.name.startswith("AuxLogits/")]
    assert aux and all(row.train_only for row in aux)
    assert not any(row.train_only for row in report.layers if not row.name.startswith("AuxLogits/"))
    assert report["AuxLogits/pool"].output == (5, 5, 768)
    assert report["AuxLogits/conv1/relu"].output == (1, 1, 768)
    assert report["AuxLogits/fc"].output == (1, 1, 1000)
    # inference reads Mixed_6e, not the aux head: Mixed_7a's branches read it
    assert report["Mixed_7a/branch3x3_1/conv"].inputs == ("Mixed_6e/concat",)


def test_inception_v3_export_leaves_the_aux_head_out(tmp_path):
    onnx = pytest.importorskip("onnx")
    from archcalc.exporters import onnx as ox
    net = archcalc.load(SPECS / "inception_v3.yaml")
    model = onnx.load(ox.export(net, tmp_path / "m.onnx", weights="none"))
    assert [o.name for o in model.graph.output] == ["fc"]
    assert not any(n.name.startswith("AuxLogits") for n in model.graph.node)


def test_inception_v3_grid_sizes_are_the_papers(report):
    # Szegedy et al. 2016, Table 1, its "input size" column (a row's input is the previous row's
    # output): conv 3×3/2 on 299×299×3, conv 3×3/1 on 149×149×32, conv padded 3×3/1 on
    # 147×147×32, pool 3×3/2 on 147×147×64, conv 3×3/1 on 73×73×64, conv 3×3/2 on 71×71×80,
    # conv 3×3/1 on 35×35×192, 3 × Figure 5 on 35×35×288, 5 × Figure 6 on 17×17×768, 2 × Figure 7
    # on 8×8×1280, pool 8×8 on 8×8×2048, linear to 1000. After the pool the table's stem is not the
    # released model's (torchvision's): a 1×1 conv to 73×73×80, a 3×3 conv to 71×71×192, a 3×3/2
    # max pool to 35×35×192, and the first Figure-5 module reads those 192 channels (256 out, then
    # 288). The spec follows torchvision, whose counts it reproduces; the other sizes are the
    # table's.
    assert report["Conv2d_1a_3x3/relu"].output == (149, 149, 32)
    assert report["Conv2d_2a_3x3/relu"].output == (147, 147, 32)
    assert report["Conv2d_2b_3x3/relu"].output == (147, 147, 64)
    assert report["maxpool1"].output == (73, 73, 64)
    assert report["Conv2d_3b_1x1/relu"].output == (73, 73, 80)
    assert report["Conv2d_4a_3x3/relu"].output == (71, 71, 192)
    assert report["maxpool2"].output == (35, 35, 192)
    assert [report[f"Mixed_{m}/concat"].output for m in ("5b", "5c", "5d")] == \
        [(35, 35, 256), (35, 35, 288), (35, 35, 288)]
    assert [report[f"Mixed_{m}/concat"].output for m in ("6a", "6b", "6c", "6d", "6e")] == \
        [(17, 17, 768)] * 5
    assert report["Mixed_7a/concat"].output == (8, 8, 1280)
    assert [report[f"Mixed_{m}/concat"].output for m in ("7b", "7c")] == [(8, 8, 2048)] * 2
    assert report.layers[-1].output == (1, 1, 1000)
    # the factorized 7×7 of Figure 6: a 1×7 then a 7×1, each keeping the 17×17 grid
    assert report["Mixed_6b/branch7x7_2/conv"].params == 1 * 7 * 128 * 128
    assert report["Mixed_6b/branch7x7_3/conv"].params == 7 * 1 * 128 * 192


def _basic(nn, cin, cout, k=1, s=1, p=0):
    """torchvision's BasicConv2d: conv without bias, BatchNorm with eps 0.001, ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, bias=False),
                         nn.BatchNorm2d(cout, eps=0.001), nn.ReLU())


def _inception_v3(torch):
    nn, F = torch.nn, torch.nn.functional

    def chain(*convs):
        return nn.Sequential(*(_basic(nn, *c) for c in convs))

    class Branches(nn.Module):
        """Parallel branches, concatenated; 'avg'/'max' put a 3×3 pool before a branch."""
        def __init__(self, *branches, pool=None, stride_pool=None):
            super().__init__()
            self.branches = nn.ModuleList(branches)
            self.pool, self.stride_pool = pool, stride_pool

        def forward(self, x):
            outs = [b(x) for b in self.branches]
            if self.pool is not None:
                outs.append(self.pool(F.avg_pool2d(x, 3, 1, 1)))
            if self.stride_pool:
                outs.append(F.max_pool2d(x, 3, 2))
            return torch.cat(outs, 1)

    class Split(nn.Module):
        """Inception E's 3×3 split into a 1×3 and a 3×1 side by side, concatenated."""
        def __init__(self, head, c):
            super().__init__()
            self.head = head
            self.a = _basic(nn, c, 384, (1, 3), 1, (0, 1))
            self.b = _basic(nn, c, 384, (3, 1), 1, (1, 0))

        def forward(self, x):
            y = self.head(x)
            return torch.cat([self.a(y), self.b(y)], 1)

    def a(cin, pf):
        return Branches(chain((cin, 64)), chain((cin, 48), (48, 64, 5, 1, 2)),
                        chain((cin, 64), (64, 96, 3, 1, 1), (96, 96, 3, 1, 1)),
                        pool=_basic(nn, cin, pf))

    def c(c7):
        h, v = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
        return Branches(chain((768, 192)), chain((768, c7), (c7, c7, *h), (c7, 192, *v)),
                        chain((768, c7), (c7, c7, *v), (c7, c7, *h), (c7, c7, *v),
                              (c7, 192, *h)), pool=_basic(nn, 768, 192))

    def e(cin):
        return Branches(chain((cin, 320)), Split(chain((cin, 384)), 384),
                        Split(chain((cin, 448), (448, 384, 3, 1, 1)), 384),
                        pool=_basic(nn, cin, 192))

    class Inception3(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(
                _basic(nn, 3, 32, 3, 2), _basic(nn, 32, 32, 3), _basic(nn, 32, 64, 3, 1, 1),
                nn.MaxPool2d(3, 2), _basic(nn, 64, 80), _basic(nn, 80, 192, 3), nn.MaxPool2d(3, 2),
                a(192, 32), a(256, 64), a(288, 64),
                Branches(chain((288, 384, 3, 2)),
                         chain((288, 64), (64, 96, 3, 1, 1), (96, 96, 3, 2)), stride_pool=True),
                c(128), c(160), c(160), c(192))
            # torchvision's InceptionAux: 5×5/3 average pool, 1×1 conv to 128, 5×5 conv to 768
            # (both BasicConv2d), global average pool, fc 768 → 1000; run only in training
            self.AuxLogits = nn.Sequential(
                nn.AvgPool2d(5, 3), _basic(nn, 768, 128), _basic(nn, 128, 768, 5),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(768, 1000))
            self.head = nn.Sequential(
                Branches(chain((768, 192), (192, 320, 3, 2)),
                         chain((768, 192), (192, 192, (1, 7), 1, (0, 3)),
                               (192, 192, (7, 1), 1, (3, 0)), (192, 192, 3, 2)),
                         stride_pool=True),
                e(1280), e(2048), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5),
                nn.Linear(2048, 1000))

        def forward(self, x):
            x = self.stem(x)
            aux = self.AuxLogits(x) if self.training else None
            y = self.head(x)
            return (y, aux) if self.training else y
    return Inception3()


@pytest.mark.slow                  # builds and runs Inception-v3 in PyTorch: 4–9 s
def test_inception_v3_against_a_pytorch_model(report):
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    model = _inception_v3(torch).eval()
    # torchvision's 27,161,264 counts every parameter of the model, AuxLogits included
    assert sum(p.numel() for p in model.parameters()) == report.totals.params
    assert sum(p.numel() for p in model.AuxLogits.parameters()) == \
        report.totals.train_only_params
    assert sum(b.numel() for name, b in model.named_buffers()
               if not name.endswith("num_batches_tracked")) == report.totals.buffers
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.AuxLogits(torch.zeros(1, 768, 17, 17))
    assert counter.get_total_flops() == 2 * report.totals.train_only_macs
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(torch.zeros(1, 3, 299, 299))
    assert tuple(y.shape) == (1, 1000)
    # FlopCounterMode counts conv and matmul FLOPs: 2 × archcalc's MACs; eval mode skips AuxLogits
    assert counter.get_total_flops() == 2 * report.totals.macs
