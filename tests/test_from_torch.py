"""``archcalc.from_torch``: a PyTorch module read as a network, through PyTorch's own ONNX export
in memory and archcalc's importer.

Expected figures are PyTorch's: ``sum(p.numel())`` of the module, its BatchNorm statistics,
FlopCounterMode's FLOPs / 2 (conv and linear, as torchvision counts MACs), and torchvision's
documented parameters and GFLOPS (``weights.meta``) for its classification models (slow: every
one the importer reads).

Optional: skips without torch or torchvision.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest
from conftest import ROOT, import_torchvision

torch = pytest.importorskip("torch", reason="from_torch needs torch (pip install torch)")
pytest.importorskip("onnx", reason="torch.onnx.export writes through the onnx package")

from torch import nn  # noqa: E402

import archcalc  # noqa: E402
from archcalc.errors import ArchcalcError  # noqa: E402


@pytest.fixture(scope="module")
def tv():
    return import_torchvision()[1]


def flop_macs(model, shape) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.eval()(torch.zeros(*shape))
    return counter.get_total_flops() // 2


class Small(nn.Module):
    """A module that exists only as code: conv-bn-relu, a residual pair, a head."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU())
        self.body = nn.ModuleList([nn.Conv2d(16, 16, 3, padding=1) for _ in range(2)])
        self.head = nn.Linear(16, classes)

    def forward(self, x):
        x = self.stem(x)
        x = x + self.body[1](torch.relu(self.body[0](x)))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def test_a_module_that_exists_only_as_code():
    model = Small().train()
    net = archcalc.from_torch(model, input=(20, 24, 3))
    r = archcalc.analyze(net)
    assert r.totals.params == sum(p.numel() for p in model.parameters())
    assert r.totals.buffers == 32                  # BatchNorm2d(16)'s running mean and variance
    assert r.totals.macs == flop_macs(Small(), (1, 3, 20, 24))
    names = [layer.name for layer in net.layers]
    assert {"stem.0", "stem.1", "body.0", "body.1", "head"} <= set(names), names
    assert net.input == (20, 24, 3) and net.name == "Small" and net.source == "<torch Small>"
    assert model.training                          # given back in the mode it was in


def test_no_file_is_left_behind():
    before = {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("archcalc-torch-")}
    archcalc.from_torch(Small(), input="16x16x3")
    after = {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("archcalc-torch-")}
    assert after == before


def test_torchvision_resnet18(tv):
    model = tv.models.resnet18()
    r = archcalc.analyze(archcalc.from_torch(model))
    meta = tv.models.ResNet18_Weights.DEFAULT.meta
    assert r.totals.params == meta["num_params"] == sum(p.numel() for p in model.parameters())
    assert round(r.totals.macs / 1e9, 3) == meta["_ops"]
    assert r.layers[5].name == "layer1.0.conv1"


@pytest.mark.parametrize("call, words", [
    (lambda: archcalc.from_torch("resnet18"), "from_torch takes a torch.nn.Module, got str"),
    (lambda: archcalc.from_torch(Small(), input=(16, 16, 1)),
     "PyTorch could not export Small for a 16×16×1 input"),
    (lambda: archcalc.from_torch(Small(), input="16x16"), "input"),
])
def test_errors_are_one_message(call, words):
    with pytest.raises(ArchcalcError) as e:
        call()
    assert words in str(e.value) and e.value.kind == "usage"
    assert len(e.value.diagnostics) == 1


def test_without_torch_one_message_with_the_install_command():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import archcalc\n"
            "try:\n    archcalc.from_torch(object())\n"
            "except archcalc.ArchcalcError as e:\n    print(e.render())\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "needs PyTorch, which is not installed" in p.stdout, p.stderr
    assert "pip install 'archcalc[torch]'" in p.stdout


def _classification_builders(tv):
    return sorted(n for n in tv.models.list_models(module=tv.models))


@pytest.mark.slow
def test_every_torchvision_classification_model_as_documented(tv):
    """Every classification model torchvision lists but Swin V2 (at its evaluation size, from its
    weights' transforms), read through from_torch: parameters equal to ``num_params`` and MACs to
    ``_ops`` (GFLOPS, 3 decimals) of its first weights."""
    failures = []
    for name in _classification_builders(tv):
        if name.startswith("swin_v2"):
            # Swin V2's continuous position bias: an MLP over constant coordinates that the
            # importer does not read (docs/onnx-import.md, "What is not read")
            continue
        weights = tv.models.get_model_weights(name).DEFAULT
        size = weights.transforms().crop_size[0]
        kw = {"aux_logits": False, "init_weights": False} if name == "googlenet" else \
            {"image_size": size} if name.startswith("vit_h") else {}   # (as its weights build it)
        model = tv.models.get_model(name, **kw)
        try:
            r = archcalc.analyze(archcalc.from_torch(model, input=(size, size, 3)))
        except ArchcalcError as exc:
            failures.append(f"{name}: {exc.diagnostics[0].message[:200]}")
            continue
        # the auxiliary classifiers of GoogLeNet and Inception-v3 run in training only: they
        # are in the documented count, not in the graph an eval-mode export writes
        aux = sum(p.numel() for n, p in model.named_parameters()     # (GoogLeNet's weights
                  if n.split(".")[0] == "AuxLogits")                   # have none: 6,624,904)
        got = (r.totals.params + aux, round(r.totals.macs / 1e9, 3))
        want = (weights.meta["num_params"], weights.meta["_ops"])
        if got != want:
            failures.append(f"{name}: {got} != {want}")
    assert failures == [], "\n".join(failures)
