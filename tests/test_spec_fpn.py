"""specs/fpn_resnet18.yaml: a feature pyramid network (Lin et al. 2017, "Feature Pyramid Networks
for Object Detection", §3) on ResNet-18's C2…C5, against the paper's description, torchvision's
documented ResNet-18 figures and a PyTorch model built layer by layer."""
import pytest
from conftest import SPECS, torch_figures

import archcalc

LEVELS = {2: 56, 3: 28, 4: 14, 5: 7}     # P_k has stride 2^k: 224 / 2^k
C_WIDTHS = {2: 64, 3: 128, 4: 256, 5: 512}


@pytest.fixture(scope="module")
def report():
    return archcalc.analyze(archcalc.load(SPECS / "fpn_resnet18.yaml"))


def test_pyramid_volumes(report):
    # "we set d = 256 in this paper and thus all extra convolutional layers have 256-channel
    # outputs" (§3); C2…C5 are the outputs of conv2…conv5 (torchvision's layer1…layer4), with
    # strides {4, 8, 16, 32}
    for k, side in LEVELS.items():
        assert report[f"P{k}"].output == (side, side, 256), k
        assert report[f"layer{k - 1}.1/relu"].output == (side, side, C_WIDTHS[k])
        assert report[f"inner{k}"].inputs == (f"layer{k - 1}.1/relu",)
    # the top-down path: the coarser map upsampled 2× (nearest) and added to the lateral
    for k in (2, 3, 4):
        up = report[f"up{k + 1}"]
        assert report[f"merge{k}"].inputs == (f"inner{k}", up.name)
        assert up.inputs == ((f"merge{k + 1}",) if k < 4 else ("inner5",))
        assert up.output == (LEVELS[k], LEVELS[k], 256)
    # no non-linearity in the pyramid (§3: "there are no non-linearities in these extra layers")
    fpn = report.layers[[r.name for r in report.layers].index("inner5"):]
    assert {r.op for r in fpn} == {"conv", "upsample", "add", "maxpool"}     # the max pool: P6


def test_outputs_are_p2_to_p6_as_declared(report):
    net = archcalc.load(SPECS / "fpn_resnet18.yaml")
    assert net.outputs == ["P2", "P3", "P4", "P5", "P6"]
    read = {name for row in report.layers for name in row.inputs}
    assert [r.name for r in report.layers[1:] if r.name not in read] == ["P2", "P3", "P4", "P6"]
    # P6: "a stride two subsampling of P5" (§4.1): ⌊(7 − 1)/2⌋ + 1 = 4
    assert report["P6"].output == (4, 4, 256) and report["P6"].inputs == ("P5",)
    assert not [d for d in report.diagnostics if "nothing reads" in d.message]
    # the outputs stay alive to the end (P5 too, though P6 reads it): the last layer runs with
    # P2…P5 held and P6 written
    assert report.totals.peak_bytes >= 4 * 256 * (sum(s * s for s in LEVELS.values()) + 16)


def test_counts_against_torchvisions_resnet18(report):
    # torchvision.models.resnet18: 11,689,512 parameters, 1.81 GFLOPS (multiply-adds); the FPN
    # reads layer4 and drops the classifier: fc = 512·1000 + 1000 weights, 512·1000 MACs
    backbone_params = 11_689_512 - (512 * 1000 + 1000)
    laterals = sum(c * 256 + 256 for c in C_WIDTHS.values())
    outputs = 4 * (9 * 256 * 256 + 256)
    assert report.totals.params == backbone_params + laterals + outputs
    fpn_macs = sum(LEVELS[k] ** 2 * 256 * (C_WIDTHS[k] + 9 * 256) for k in LEVELS)
    assert abs((report.totals.macs - fpn_macs) / (1.81e9 - 512 * 1000) - 1) < 0.005
    assert report["P2"].macs == 56 * 56 * 256 * 256 * 9


def _fpn_resnet18(torch):
    nn = torch.nn

    class Basic(nn.Module):
        def __init__(self, cin, c, stride):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
            self.skip = nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False),
                                      nn.BatchNorm2d(c)) \
                if stride != 1 or cin != c else nn.Identity()

        def forward(self, x):
            return torch.relu(self.body(x) + self.skip(x))

    class FPN(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                      nn.ReLU(), nn.MaxPool2d(3, 2, 1))
            stages, cin = [], 64
            for c, s in ((64, 1), (128, 2), (256, 2), (512, 2)):
                stages.append(nn.Sequential(Basic(cin, c, s), Basic(c, c, 1)))
                cin = c
            self.stages = nn.ModuleList(stages)
            self.lateral = nn.ModuleList(nn.Conv2d(c, 256, 1) for c in (64, 128, 256, 512))
            self.output = nn.ModuleList(nn.Conv2d(256, 256, 3, padding=1) for _ in range(4))

        def forward(self, x):
            feats = []
            x = self.stem(x)
            for stage in self.stages:
                x = stage(x)
                feats.append(x)
            top = self.lateral[3](feats[3])
            outs = [self.output[3](top)]
            for k in (2, 1, 0):
                top = self.lateral[k](feats[k]) + nn.functional.interpolate(
                    top, scale_factor=2, mode="nearest")
                outs.insert(0, self.output[k](top))
            return outs + [nn.functional.max_pool2d(outs[-1], 1, 2, 0)]   # P6
    return FPN()


def test_fpn_against_a_pytorch_model(report):
    torch = pytest.importorskip("torch")
    params, buffers, flops, outs = torch_figures(torch, _fpn_resnet18(torch))
    assert (params, buffers) == (report.totals.params, report.totals.buffers)
    assert [tuple(o.shape[1:]) for o in outs] == \
        [(report[f"P{k}"].output[2], *report[f"P{k}"].output[:2]) for k in (2, 3, 4, 5, 6)]
    # conv only (nearest interpolation and the adds are not counted): 2 × archcalc's MACs
    assert flops == 2 * report.totals.macs


def test_the_exported_model_has_the_five_outputs(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from archcalc.exporters import onnx as ox
    net = archcalc.load(SPECS / "fpn_resnet18.yaml")
    model = onnx.load(ox.export(net, tmp_path / "fpn.onnx", weights="none"))
    dims = [(o.name, [d.dim_value for d in o.type.tensor_type.shape.dim][1:])
            for o in model.graph.output]
    assert dims == [(f"P{k}", [256, s, s]) for k, s in {**LEVELS, 6: 4}.items()]
