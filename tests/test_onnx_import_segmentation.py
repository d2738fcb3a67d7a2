"""ONNX import of torchvision's segmentation models: FCN, DeepLabV3 and LR-ASPP, whose heads
resize their output to the image's size, which is no whole multiple of the feature map
(LR-ASPP: 33×33 → 520×520; at 100 × 100 every model resizes 13×13 or 7×7 → 100×100).

Expected figures are never archcalc's: parameters are ``sum(p.numel())`` of the module (less
the BatchNorms the dynamo exporter folds into their convolutions), MACs are PyTorch's
``FlopCounterMode`` (FLOPs / 2: conv and linear, as torchvision counts them), every
convolution's output volume is read by a forward hook, and at 520 × 520 with the auxiliary
heads the totals are torchvision's own documented figures (``weights.meta``: ``num_params``
and ``_ops``, GFLOPS in its table), e.g. LR-ASPP 3,221,538 parameters and 2.086 G.

Optional: skips without torch or torchvision (conftest.import_torchvision); the dynamo exports
skip without onnxscript. The full-size models are marked slow.
"""
from __future__ import annotations

import logging
import warnings
from collections import Counter

import pytest
from conftest import import_torchvision

torch = pytest.importorskip("torch", reason="PyTorch exports are checked only where torch is "
                                            "installed (pip install torch)")
pytest.importorskip("onnx", reason="torch.onnx.export writes its file through the onnx package")

from torch import nn  # noqa: E402

import archcalc  # noqa: E402

MODELS = ["fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101",
          "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"]
WEIGHTS = {"fcn_resnet50": "FCN_ResNet50_Weights", "fcn_resnet101": "FCN_ResNet101_Weights",
           "deeplabv3_resnet50": "DeepLabV3_ResNet50_Weights",
           "deeplabv3_resnet101": "DeepLabV3_ResNet101_Weights",
           "deeplabv3_mobilenet_v3_large": "DeepLabV3_MobileNet_V3_Large_Weights",
           "lraspp_mobilenet_v3_large": "LRASPP_MobileNet_V3_Large_Weights"}


@pytest.fixture(scope="module")
def tv():
    return import_torchvision()[1]


def build(tv, name: str, aux: bool = False) -> nn.Module:
    """The model untrained (21 classes, as the VOC weights), its weights redrawn so that no two
    tensors are equal (a fresh model's zero biases are shared or dropped by the exporters)."""
    kw = {"aux_loss": True} if aux else {}
    model = getattr(tv.models.segmentation, name)(weights=None, weights_backbone=None,
                                                  num_classes=21, **kw).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
    return model


def export(model, size: int, path, dynamo: bool) -> str:
    x = torch.randn(1, 3, size, size)
    if dynamo:
        pytest.importorskip("onnxscript", reason="torch.onnx.export(dynamo=True) needs "
                                                 "onnxscript")
        logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dynamo:
                torch.onnx.export(model, (x,), str(path), dynamo=True, opset_version=18,
                                  external_data=False, verbose=False)
            else:
                torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17,
                                  training=torch.onnx.TrainingMode.PRESERVE)
    finally:
        logging.disable(logging.NOTSET)
    return str(path)


def figures(model, size: int):
    """(parameters, BatchNorm statistics, MACs, the volumes every Conv2d writes, the outputs'
    volumes), from PyTorch."""
    from torch.utils.flop_counter import FlopCounterMode
    vols: list[tuple[int, int, int]] = []

    def hook(m, i, o):
        vols.append((o.shape[2], o.shape[3], o.shape[1]))
    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(torch.randn(1, 3, size, size))
    for h in hooks:
        h.remove()
    stats = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("batches_tracked"))
    outs = sorted((t.shape[2], t.shape[3], t.shape[1]) for t in out.values())
    return (sum(p.numel() for p in model.parameters()), stats, counter.get_total_flops() // 2,
            Counter(vols), outs)


def batchnorm_channels(model) -> int:
    """The dynamo exporter folds every BatchNorm into the convolution before it: its γ and β
    (2C) go and the convolution gains a bias (C; none of these convolutions has one)."""
    return sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def check(tv, name: str, size: int, tmp_path, dynamo: bool, aux: bool = False):
    model = build(tv, name, aux)
    path = export(model, size, tmp_path / f"{name}.onnx", dynamo)
    params, stats, macs, conv_vols, outs = figures(model, size)
    net = archcalc.load(path)
    r = archcalc.analyze(net)
    if dynamo:
        params -= batchnorm_channels(model)
        stats = 0
    assert r.totals.params == params
    assert r.totals.buffers == stats
    assert r.totals.macs == macs
    assert Counter(row.output for row in r.layers if row.op in ("conv", "dwconv")) \
        == conv_vols
    read = {s for row in r.layers for s in row.inputs}
    assert sorted(row.output for row in r.layers if row.name not in read) == outs
    resizes = [row for row in r.layers if row.op == "upsample"]
    assert resizes and all(row.attrs["mode"] == "bilinear" and not row.attrs["align_corners"]
                           for row in resizes)
    return r


def uneven_resizes(r) -> list[tuple[int, int]]:
    """(from, to) of every resize whose output is no whole multiple of its input."""
    by_name = {row.name: row for row in r.layers}
    return [(by_name[row.inputs[0]].output[0], row.output[0]) for row in r.layers
            if row.op == "upsample" and row.output[0] % by_name[row.inputs[0]].output[0]]


@pytest.mark.parametrize("name", ["lraspp_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large",
                                  "fcn_resnet50"])
def test_segmentation_models_import_exactly(tv, name, tmp_path):
    """At 100 × 100 (output stride 8 or 16: 13×13 or 7×7 resized to 100×100), TorchScript."""
    r = check(tv, name, 100, tmp_path, dynamo=False)
    # output stride 8 (ResNet, dilated) or 16 (MobileNetV3): ⌈100/8⌉ = 13, ⌈100/16⌉ = 7; LR-ASPP
    # first resizes its 1/16 branch to the 1/8 one
    assert uneven_resizes(r) == {"lraspp_mobilenet_v3_large": [(7, 13), (13, 100)],
                                 "deeplabv3_mobilenet_v3_large": [(7, 100)],
                                 "fcn_resnet50": [(13, 100)]}[name]


def test_lraspp_from_the_dynamo_exporter(tv, tmp_path):
    r = check(tv, "lraspp_mobilenet_v3_large", 100, tmp_path, dynamo=True)
    assert uneven_resizes(r) == [(7, 13), (13, 100)]


@pytest.mark.slow
@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("name", MODELS)
def test_every_segmentation_model_at_520(tv, name, dynamo, tmp_path):
    """Every torchvision segmentation model at its evaluation size, with its auxiliary head
    where it has one (as its weights are published): the totals are torchvision's documented
    parameters and GFLOPS (TorchScript; dynamo folds the BatchNorms)."""
    aux = not name.startswith("lraspp")
    r = check(tv, name, 520, tmp_path, dynamo=dynamo, aux=aux)
    meta = getattr(tv.models.segmentation, WEIGHTS[name]).DEFAULT.meta
    if not dynamo:
        assert r.totals.params == meta["num_params"]
    assert round(r.totals.macs / 1e9, 3) == meta["_ops"]
    # output stride 8 resizes 65 → 520 by a whole factor; MobileNetV3's 16 gives 33
    assert uneven_resizes(r) == {"deeplabv3_mobilenet_v3_large": [(33, 520)],
                                 "lraspp_mobilenet_v3_large": [(33, 65)]}.get(name, [])
