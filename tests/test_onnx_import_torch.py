"""ONNX import of PyTorch exports: networks built here in PyTorch (VGG, ResNet with basic and
bottleneck blocks, a MobileNetV2-style net with ReLU6 and squeeze-and-excitation, ShuffleNet-v2
units, a U-Net-style decoder, and the modern activations and norms) are exported with
``torch.onnx.export``, read back with ``archcalc.load``, and every archcalc layer is compared
with the PyTorch module that made it:

* the output volume with the module's own output, taken by forward hooks on the leaf modules
  (a module's path, ``layer1.0.conv1``, is the archcalc layer's name);
* the parameters with ``sum(p.numel() for p in module.parameters())``, the buffers with the
  module's running statistics, and the totals with the model's;
* the MACs with a count made here from the module's attributes and the hooked shapes (conv:
  H'·W'·F·(C/g)·k_h·k_w; transposed conv: H·W·C·(F/g)·k_h·k_w on its input; fc: in·out), and the
  total also with PyTorch's own ``FlopCounterMode`` (FLOPs = 2 × MACs).

Every archcalc layer must match one module call and every module call one archcalc layer (the
exceptions are named: a Flatten read by a Linear is part of the fc layer; an eval-mode Dropout is
not in the exported graph). Operations written as functions in ``forward`` are small modules here
(``Add``, ``Cat``, ``Chunk``, ``Shuffle``, ``LayerNorm2d``) so that each has a name and a hook.

The TorchScript-based exporter (``dynamo=False``) runs at opsets 11, 13, 17 and 20; the dynamo
exporter (PyTorch's default since 2.9) where onnxscript is installed (its per-model tests are
marked slow). Transformers (token sequences, attention) are tests/test_onnx_import_transformers.py.

torchvision does not import with the torch this project tests against, so the networks are
written here, after torchvision's definitions at a small width and input size. Optional: these
tests skip without torch (``pip install torch``) or where ``torch.onnx.export`` cannot run.
"""
from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch", reason="PyTorch exports are checked only where torch is "
                                            "installed (pip install torch)")
pytest.importorskip("onnx", reason="torch.onnx.export writes its file through the onnx package")

from torch import nn  # noqa: E402

import archcalc  # noqa: E402

OPSET = 17


# ---------------------------------------------------------------------------------------------
# functional operations as modules, so that each has a name (its ONNX node's path) and a hook

class Add(nn.Module):
    def forward(self, a, b):
        return a + b


class Mul(nn.Module):
    def forward(self, a, b):
        return a * b


class Cat(nn.Module):
    def forward(self, *xs):
        return torch.cat(xs, 1)


class Chunk(nn.Module):
    def __init__(self, n: int = 2):
        super().__init__()
        self.n = n

    def forward(self, x):
        return x.chunk(self.n, dim=1)


class Mean(nn.Module):
    """torchvision's ShuffleNetV2 head: x.mean([2, 3])."""

    def forward(self, x):
        return x.mean([2, 3])


class Shuffle(nn.Module):
    """torchvision's channel_shuffle: view → transpose → view (one archcalc layer)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        b, c, h, w = x.size()
        x = x.view(b, self.groups, c // self.groups, h, w)
        x = torch.transpose(x, 1, 2).contiguous()
        return x.view(b, -1, h, w)


class LayerNorm2d(nn.Module):
    """ConvNeXt's layer norm over the channels: permute → LayerNorm(C) → permute (one layer)."""

    def __init__(self, c: int):
        super().__init__()
        self.norm = nn.LayerNorm(c)

    def forward(self, x):
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


UNITS = (Shuffle, LayerNorm2d)           # hooked as a whole: one archcalc layer each

# the archcalc op each module becomes (Conv2d: conv, or dwconv where groups = C_in)
KINDS = {
    nn.Conv2d: "conv", nn.ConvTranspose2d: "conv_transpose", nn.Linear: "fc",
    nn.BatchNorm2d: "batchnorm", nn.ReLU: "relu", nn.ReLU6: "relu6", nn.SiLU: "silu",
    nn.GELU: "gelu", nn.LeakyReLU: "leaky_relu", nn.PReLU: "prelu", nn.ELU: "elu",
    nn.Hardswish: "hardswish", nn.Hardsigmoid: "hardsigmoid", nn.Sigmoid: "sigmoid",
    nn.Tanh: "tanh", nn.GroupNorm: "groupnorm", LayerNorm2d: "layernorm",
    nn.MaxPool2d: "maxpool", nn.AvgPool2d: "avgpool", nn.AdaptiveAvgPool2d: "global_avgpool",
    nn.Upsample: "upsample", nn.Flatten: "flatten", nn.Dropout: "dropout",
    Add: "add", Mul: "mul", Cat: "concat", Chunk: "slice", Mean: "global_avgpool",
    Shuffle: "shuffle",
}


# ---------------------------------------------------------------------------------------------
# the networks (torchvision's structure, small)

def conv_bn(cin, cout, k=3, stride=1, groups=1, act=nn.ReLU):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, act()) if act is not None else nn.Sequential(*layers)


def vgg11(width: int = 4, classes: int = 10) -> nn.Module:
    """VGG-11 (configuration A) at 1/width of its channels, for a 64×64 input: 2×2×(512/width)
    after the fifth pool; the classifier as torchvision's, narrower."""
    cfg = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
    layers, c = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v // width, 3, padding=1), nn.ReLU(inplace=True)]
            c = v // width
    m = nn.Module()
    m.features = nn.Sequential(*layers)
    m.flatten = nn.Flatten()
    m.classifier = nn.Sequential(
        nn.Linear(c * 2 * 2, 256), nn.ReLU(True), nn.Dropout(),
        nn.Linear(256, 256), nn.ReLU(True), nn.Dropout(), nn.Linear(256, classes))
    m.forward = lambda x: m.classifier(m.flatten(m.features(x)))
    return m


class BasicBlock(nn.Module):
    """torchvision's, self.relu used twice as there (its second call is the ONNX node
    ``relu_1``)."""
    expansion = 1

    def __init__(self, cin, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.add = Add()

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(self.add(out, identity))


class Bottleneck(nn.Module):
    """torchvision's (v1.5: the stride on the 3×3 conv)."""
    expansion = 4

    def __init__(self, cin, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.add = Add()

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(self.add(out, identity))


class ResNet(nn.Module):
    """Stem 7×7/2 + 3×3/2 max pool, layer1–2 of basic blocks, layer3 of bottlenecks (each with
    a 1×1 downsample where the stride or width changes), global pool, fc."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.cin = 16
        self.layer1 = self._layer(BasicBlock, 16, 2, 1)
        self.layer2 = self._layer(BasicBlock, 32, 2, 2)
        self.layer3 = self._layer(Bottleneck, 16, 2, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, classes)

    def _layer(self, block, planes, n, stride):
        down = None
        if stride != 1 or self.cin != planes * block.expansion:
            down = nn.Sequential(nn.Conv2d(self.cin, planes * block.expansion, 1, stride,
                                           bias=False), nn.BatchNorm2d(planes * block.expansion))
        blocks = [block(self.cin, planes, stride, down)]
        self.cin = planes * block.expansion
        blocks += [block(self.cin, planes) for _ in range(n - 1)]
        return nn.Sequential(*blocks)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.flatten(self.avgpool(x)))


class SEConv(nn.Module):
    """MobileNetV3's squeeze-and-excitation: pool → 1×1 conv → ReLU → 1×1 conv → hard sigmoid →
    scale."""

    def __init__(self, c, squeeze):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.gate = nn.Hardsigmoid()
        self.mul = Mul()

    def forward(self, x):
        s = self.gate(self.fc2(self.relu(self.fc1(self.avgpool(x)))))
        return self.mul(x, s)


class SELinear(nn.Module):
    """The original SE block: pool → flatten → Linear → ReLU → Linear → sigmoid → view → scale."""

    def __init__(self, c, squeeze):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(c, squeeze)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(squeeze, c)
        self.gate = nn.Sigmoid()
        self.mul = Mul()

    def forward(self, x):
        b, c = x.shape[:2]
        s = self.gate(self.fc2(self.relu(self.fc1(self.flatten(self.avgpool(x))))))
        return self.mul(x, s.view(b, c, 1, 1))


class InvertedResidual(nn.Module):
    """MobileNetV2's block (expand 1×1, depthwise 3×3, SE, project 1×1; the residual sum where
    the stride is 1 and the width stays)."""

    def __init__(self, cin, cout, stride, expand, se=None):
        super().__init__()
        hidden = cin * expand
        layers = []
        if expand != 1:
            layers.append(conv_bn(cin, hidden, 1, act=nn.ReLU6))
        layers.append(conv_bn(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6))
        if se is not None:
            layers.append(se(hidden, _divisible(hidden // 4)))
        layers.append(conv_bn(hidden, cout, 1, act=None))
        self.conv = nn.Sequential(*layers)
        self.use_res = stride == 1 and cin == cout
        if self.use_res:
            self.add = Add()

    def forward(self, x):
        return self.add(x, self.conv(x)) if self.use_res else self.conv(x)


def _divisible(v, d=8):
    return max(d, int(v + d / 2) // d * d)


class MobileNetV2SE(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(3, 16, 3, 2, act=nn.ReLU6),
            InvertedResidual(16, 16, 1, 1),
            InvertedResidual(16, 24, 2, 6, se=SEConv),
            InvertedResidual(24, 24, 1, 6, se=SELinear),
            InvertedResidual(24, 32, 2, 6),
            conv_bn(32, 128, 1, act=nn.ReLU6))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(128, classes))

    def forward(self, x):
        return self.classifier(self.flatten(self.avgpool(self.features(x))))


class ShuffleUnit(nn.Module):
    """torchvision's ShuffleNetV2 InvertedResidual: stride 2 runs two branches on the whole
    input; stride 1 splits the channels in two and runs branch2 on the second half; both concat
    and shuffle the channels in two groups."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        half = cout // 2
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                nn.Conv2d(cin, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True))
        else:
            self.split = Chunk(2)
        c2 = cin if stride > 1 else half
        self.branch2 = nn.Sequential(
            nn.Conv2d(c2, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True))
        self.cat = Cat()
        self.shuffle = Shuffle(2)

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = self.split(x)
            out = self.cat(x1, self.branch2(x2))
        else:
            out = self.cat(self.branch1(x), self.branch2(x))
        return self.shuffle(out)


class ShuffleNetV2(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.conv1 = conv_bn(3, 24, 3, 2)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.stage2 = nn.Sequential(ShuffleUnit(24, 48, 2), ShuffleUnit(48, 48, 1),
                                    ShuffleUnit(48, 48, 1))
        self.stage3 = nn.Sequential(ShuffleUnit(48, 96, 2), ShuffleUnit(96, 96, 1))
        self.conv5 = conv_bn(96, 256, 1)
        self.mean = Mean()
        self.fc = nn.Linear(256, classes)

    def forward(self, x):
        x = self.stage3(self.stage2(self.maxpool(self.conv1(x))))
        return self.fc(self.mean(self.conv5(x)))


def double_conv(cin, cout):
    return nn.Sequential(conv_bn(cin, cout), conv_bn(cout, cout))


class UNet(nn.Module):
    """Two levels down (max pool), a bottleneck, two up: a 2×2/2 transposed conv, and a 3×3/2
    transposed conv with output_padding 1; each followed by the skip's concatenation and a double
    conv. A bilinear upsample and a 1×1 conv make the head at twice the size."""

    def __init__(self, classes: int = 2):
        super().__init__()
        self.enc1 = double_conv(3, 16)
        self.pool1 = nn.MaxPool2d(2)
        self.enc2 = double_conv(16, 32)
        self.pool2 = nn.MaxPool2d(2)
        self.bottleneck = double_conv(32, 64)
        self.up2 = nn.ConvTranspose2d(64, 32, 2, 2)
        self.cat2 = Cat()
        self.dec2 = double_conv(64, 32)
        self.up1 = nn.ConvTranspose2d(32, 16, 3, 2, padding=1, output_padding=1)
        self.cat1 = Cat()
        self.dec1 = double_conv(32, 16)
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.head = nn.Conv2d(16, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool1(e1))
        b = self.bottleneck(self.pool2(e2))
        d2 = self.dec2(self.cat2(self.up2(b), e2))
        d1 = self.dec1(self.cat1(self.up1(d2), e1))
        return self.head(self.upsample(d1))


class Modern(nn.Module):
    """Each modern activation and norm after a conv: SiLU, GELU, LeakyReLU, PReLU (per channel
    and shared), ELU, Hardswish, GroupNorm, ConvNeXt's LayerNorm2d; a 3×3/2 average pool; tanh
    and sigmoid in the head."""

    def __init__(self, classes: int = 10):
        super().__init__()
        c = 16
        self.conv1 = nn.Conv2d(3, c, 3, 1, 1)
        self.silu = nn.SiLU()
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1)
        self.gelu = nn.GELU()
        self.conv3 = nn.Conv2d(c, c, 3, 1, 1, groups=4)
        self.leaky = nn.LeakyReLU(0.2)
        self.conv4 = nn.Conv2d(c, c, 3, 1, 1)
        self.prelu = nn.PReLU(c)
        self.pool = nn.AvgPool2d(3, 2, 1)
        self.conv5 = nn.Conv2d(c, c, 3, 1, 1)
        self.elu = nn.ELU()
        self.conv6 = nn.Conv2d(c, 2 * c, 3, 1, 1)
        self.hswish = nn.Hardswish()
        self.gn = nn.GroupNorm(4, 2 * c)
        self.dw = nn.Conv2d(2 * c, 2 * c, 7, 1, 3, groups=2 * c)
        self.ln = LayerNorm2d(2 * c)
        self.prelu1 = nn.PReLU()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(2 * c, 32)
        self.tanh = nn.Tanh()
        self.fc2 = nn.Linear(32, classes)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        x = self.gelu(self.conv2(self.silu(self.conv1(x))))
        x = self.pool(self.prelu(self.conv4(self.leaky(self.conv3(x)))))
        x = self.gn(self.hswish(self.conv6(self.elu(self.conv5(x)))))
        x = self.prelu1(self.ln(self.dw(x)))
        x = self.tanh(self.fc1(self.flatten(self.avgpool(x))))
        return self.sigmoid(self.fc2(x))


# ---------------------------------------------------------------------------------------------
# the comparison

def calls_of(model: nn.Module, x) -> list:
    """(archcalc name, module, inputs, output) for each call of a leaf module (or a UNITS
    module) in the order they run. A module called again (torchvision's self.relu) is the ONNX
    node ``relu_1``, ``relu_2``, …: PyTorch's exporter numbers a module's later calls so."""
    units = [n for n, m in model.named_modules() if isinstance(m, UNITS)]
    calls, count, handles = [], {}, []
    for name, m in model.named_modules():
        if not name or any(name.startswith(u + ".") for u in units):
            continue
        if not isinstance(m, UNITS) and any(True for _ in m.children()):
            continue

        def hook(mod, inp, out, name=name):
            k = count.get(name, 0)
            count[name] = k + 1
            calls.append((name if k == 0 else f"{name}_{k}", mod, inp, out))
        handles.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return calls


def next_kept(calls, i):
    """The module that runs after call ``i`` in the exported graph (an eval-mode Dropout is not
    in it)."""
    for _, m, _, _ in calls[i + 1:]:
        if not (isinstance(m, nn.Dropout) and not m.training):
            return m
    return None


def volume(t) -> tuple:
    """A tensor's (H, W, C): [N, C, H, W] or [N, C] (a vector, 1×1×C)."""
    s = tuple(t.shape)
    assert s[0] == 1, s
    return (s[2], s[3], s[1]) if len(s) == 4 else (1, 1, s[1])


def hand_macs(m: nn.Module, inp, out) -> int:
    """docs/definitions.md's MACs, counted from the module's attributes and the hooked shapes."""
    if isinstance(m, nn.Conv2d):
        _, f, ho, wo = out.shape
        kh, kw = m.kernel_size
        return ho * wo * f * (m.in_channels // m.groups) * kh * kw
    if isinstance(m, nn.ConvTranspose2d):
        _, c, hi, wi = inp[0].shape
        kh, kw = m.kernel_size
        return hi * wi * c * (m.out_channels // m.groups) * kh * kw
    if isinstance(m, nn.Linear):
        return m.in_features * m.out_features
    return 0


def stats(m: nn.Module) -> int:
    """A module's buffers as archcalc counts them: the running mean and variance (BatchNorm's
    num_batches_tracked is a step counter, not a statistic of the data)."""
    return sum(b.numel() for n, b in m.named_buffers() if not n.endswith("num_batches_tracked"))


def kind(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d) and m.groups == m.in_channels and m.groups > 1:
        return "dwconv"
    return KINDS[type(m)]


def export(model, x, path, opset=OPSET, **kw):
    """PyTorch's TorchScript-based exporter (``dynamo=False``; the dynamo exporter needs
    onnxscript, see the tests at the end). BatchNorm stays a node unless ``training`` says
    otherwise."""
    kw.setdefault("training", torch.onnx.TrainingMode.PRESERVE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=opset,
                              input_names=["image"], output_names=["out"], **kw)
    except ImportError as exc:          # the exporter's own dependencies  # pragma: no cover
        pytest.skip(f"torch.onnx.export cannot run here: {type(exc).__name__}: {exc}")


def export_dynamo(model, x, path, **kw):
    pytest.importorskip("onnxscript", reason="torch.onnx.export(dynamo=True) needs onnxscript "
                                             "(pip install onnxscript)")
    import logging
    logging.disable(logging.WARNING)         # the exporter's progress lines
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), str(path), dynamo=True, verbose=False, **kw)
    finally:
        logging.disable(logging.NOTSET)


def module_paths(path) -> dict:
    """ONNX node name → the module path that the dynamo exporter writes in the node's metadata
    (``pkg.torch.onnx.name_scopes``: ['', 'layer1', 'layer1.0', 'layer1.0.conv1', 'conv2d'])."""
    import ast

    import onnx
    out = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        meta = {p.key: p.value for p in node.metadata_props}
        scopes = ast.literal_eval(meta.get("pkg.torch.onnx.name_scopes", "[]"))
        if len(scopes) >= 2:
            out[node.name] = scopes[-2]
    return out


def check(model: nn.Module, size, tmp_path, opset=OPSET, fused_bn=None, dynamo=False, **kw):
    """Export ``model`` for a size×size×3 input, read it back, compare; returns the report and
    the number of layers compared. Every disagreement is listed in the failure.

    ``fused_bn``: the export folds each BatchNorm into the conv before it (the default export of
    an eval-mode model); the layer is then named after the ``"conv"`` (TorchScript exporter) or
    the ``"bn"`` (dynamo). ``dynamo``: the dynamo exporter, whose node names are not module
    paths: archcalc's layer names are mapped to the modules through the nodes' metadata."""
    torch.manual_seed(0)
    model.eval()
    for m in model.modules():           # BatchNorm statistics of a trained model (not 0 and 1,
        if isinstance(m, nn.BatchNorm2d):        # which a folded conv's bias would drop as zero)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_()
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(1, 3, size, size)
    calls = calls_of(model, x)
    path = tmp_path / "model.onnx"
    if dynamo:                          # at its own opset (18 or later): converting it down to
        export_dynamo(model, x, path, **kw)      # 17 renumbers the nodes and drops metadata
    else:
        export(model, x, path, opset, **kw)
    report = archcalc.analyze(archcalc.load(str(path)))
    rows = {r.name: r for r in report.layers if r.op != "input"}
    if dynamo:
        rows = renamed(rows, module_paths(path))

    expect = {}                  # archcalc name → (module, op, volume, params, buffers, macs)
    params, buffers = sum(p.numel() for p in model.parameters()), stats(model)
    for i, (name, m, inp, out) in enumerate(calls):
        if isinstance(m, nn.Flatten) and isinstance(next_kept(calls, i), nn.Linear):
            continue             # part of the fc layer that reads it
        if (isinstance(m, nn.Dropout) and not m.training) or isinstance(m, nn.Identity):
            continue             # no node in the exported graph (an eval-mode Dropout)
        if fused_bn and isinstance(m, nn.BatchNorm2d) and \
                isinstance(calls[i - 1][1], nn.Conv2d) and calls[i - 1][3] is inp[0]:
            conv_name, conv = calls[i - 1][:2]
            _, op, vol, p, _, macs = expect.pop(conv_name)
            bias = 0 if conv.bias is not None else conv.out_channels
            expect[conv_name if fused_bn == "conv" else name] = (conv, op, vol, p + bias, 0, macs)
            params += bias - 2 * m.num_features
            buffers -= stats(m)
            continue
        p = sum(q.numel() for q in m.parameters())
        outs = out if isinstance(out, tuple) else (out,)
        for j, o in enumerate(outs):
            key = f"{name}.{j}" if isinstance(out, tuple) else name
            op = "slice" if isinstance(out, tuple) else kind(m)
            first = j == 0 and not any(c[1] is m for c in calls[:i])
            expect[key] = (m, op, volume(o), p if first else 0, stats(m) if first else 0,
                           hand_macs(m, inp, o))

    if dynamo:      # the Split of a chunk is the onnxscript optimizer's, without metadata: its
        left = [n for n in rows if n not in expect and rows[n].op == "slice"]    # parts pair
        parts = [n for n in expect if n not in rows and isinstance(expect[n][0], Chunk)]
        if len(left) == len(parts):     # with the chunks' parts in the order they run
            rows.update({p: rows.pop(n) for n, p in zip(left, parts)})
    for name, m, _, out in calls:       # a chunk: one Slice per part (PyTorch emits no Split);
        if isinstance(m, Chunk) and name + ".0" not in rows:      # archcalc numbers the
            for j in range(len(out)):                               # nodes of one module path
                expect[name if j == 0 else f"{name}_{j}"] = expect.pop(f"{name}.{j}")
    problems = []
    for name in sorted(expect.keys() - rows.keys()):
        problems.append(f"{name} ({type(expect[name][0]).__name__}): no archcalc layer")
    for name in sorted(rows.keys() - expect.keys()):
        problems.append(f"{name} ({rows[name].op}): archcalc layer of no module call")
    for name in expect.keys() & rows.keys():
        m, op, vol, p, b, macs = expect[name]
        row = rows[name]
        for what, want, got in (("op", op, row.op), ("output", vol, tuple(row.output)),
                                ("params", p, row.params), ("buffers", b, row.buffers),
                                ("macs", macs, row.macs)):
            if want != got:
                problems.append(f"{name} ({type(m).__name__}): {what} {got}, torch {want}")
    t = report.totals
    for what, want, got in (
            ("params", params, t.params), ("buffers", buffers, t.buffers),
            ("macs", sum(e[5] for e in expect.values()), t.macs),
            ("flops (FlopCounterMode)", flop_counter(model, x), t.flops)):
        if want != got:
            problems.append(f"total {what}: archcalc {got}, torch {want}")
    assert not problems, "\n".join(problems)
    return report, len(expect)


def renamed(rows: dict, paths: dict) -> dict:
    """archcalc's rows keyed by module path (a dynamo export's node names are not): a module's
    k-th later call is path_k, as the hooks name it; a split's parts keep their .0, .1."""
    out, seen = {}, {}
    for name, row in rows.items():
        node, part = name, None
        if name not in paths and "." in name:           # a split's part: node_Split_324.0
            node, part = name.rsplit(".", 1)
        path = paths.get(node, node)
        k = seen.get((path, part), 0)
        seen[(path, part)] = k + 1
        key = path if k == 0 else f"{path}_{k}"
        out[key if part is None else f"{key}.{part}"] = row
    return out


def flop_counter(model, x) -> int:
    """PyTorch's own count of the convolutions' and matrix products' FLOPs (2 per MAC)."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(x)
    return fc.get_total_flops()


# ---------------------------------------------------------------------------------------------
# the tests

def test_vgg11(tmp_path):
    report, n = check(vgg11(), 64, tmp_path)
    assert n == 8 * 2 + 5 + 3 + 2 == len(report.layers) - 1       # conv+relu, pools, fc, relu
    assert [r.output for r in report.layers if r.op == "maxpool"][-1] == (2, 2, 128)


@pytest.mark.parametrize("opset", [11, 17])
def test_resnet(tmp_path, opset):
    report, _ = check(ResNet(), 64, tmp_path, opset)
    rows = {r.name: r for r in report.layers}
    # torchvision's self.relu called twice in a block: the second call is relu_1
    assert rows["layer1.0.relu_1"].inputs == ("layer1.0.add",)
    assert rows["layer3.0.downsample.0"].output == (4, 4, 64)


def test_default_export_folds_batchnorm_into_the_conv(tmp_path):
    """torch.onnx.export's defaults for an eval-mode model fold each BatchNorm into the conv
    before it: the file holds convs with a bias and no BatchNormalization, and archcalc counts
    what the file holds (each of ResNet's convs is followed by a BatchNorm)."""
    report, _ = check(ResNet(), 64, tmp_path, fused_bn="conv",
                      training=torch.onnx.TrainingMode.EVAL)
    assert "batchnorm" not in {r.op for r in report.layers}
    assert report.totals.buffers == 0


def test_mobilenet_v2_se(tmp_path):
    report, _ = check(MobileNetV2SE(), 64, tmp_path)
    rows = {r.name: r for r in report.layers}
    # the SE gate scales the main path: a 1×1×C gate broadcast over H×W×C
    mul = rows["features.2.conv.2.mul"]
    assert [rows[i].output for i in mul.inputs] == [(16, 16, 96), (1, 1, 96)]


@pytest.mark.parametrize("opset", [11, 17])
def test_shufflenet_v2_units(tmp_path, opset):
    report, _ = check(ShuffleNetV2(), 64, tmp_path, opset)
    assert sum(r.op == "shuffle" for r in report.layers) == 5


def test_unet_decoder(tmp_path):
    report, _ = check(UNet(), 32, tmp_path)
    assert report.layers[-1].output == (64, 64, 2)


@pytest.mark.parametrize("opset", [17, 20])     # GELU: the Erf form at 17, the Gelu op at 20
def test_modern_activations_and_norms(tmp_path, opset):
    report, _ = check(Modern(), 32, tmp_path, opset)
    ops = [r.op for r in report.layers]
    assert {"silu", "gelu", "groupnorm", "layernorm", "hardswish"} <= set(ops)
    assert "sigmoid" not in ops[:-1] and "mul" not in ops     # SiLU's Sigmoid·Mul is one layer


def test_modern_at_opset_13(tmp_path):
    """Before opset 14 PyTorch writes Hardswish as x·HardSigmoid(x) (one archcalc layer); GELU
    in its Erf form; GroupNorm as Reshape → InstanceNormalization → Reshape → Mul → Add."""
    model = Modern()
    model.ln = nn.Identity()       # LayerNormalization came with opset 17 (written out before:
                                   # test_layernorm2d_before_opset_17)
    report, _ = check(model, 32, tmp_path, 13)
    assert "hardswish" in [r.op for r in report.layers]


class ConvThen(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = act

    def forward(self, x):
        return self.act(self.conv(x))


def test_layernorm2d_before_opset_17(tmp_path):
    """Before opset 17 PyTorch writes LayerNorm as ReduceMean → Sub → Pow → ReduceMean → Add ε →
    Sqrt → Div → Mul γ → Add β, here between the two Transposes of a channels-last layer norm:
    one layernorm layer."""
    report, _ = check(ConvThen(LayerNorm2d(8)), 16, tmp_path, 13)
    assert [r.op for r in report.layers if r.op != "input"] == ["conv", "layernorm"]


def test_gelu_tanh_before_opset_20(tmp_path):
    """Before opset 20 PyTorch writes GELU(approximate='tanh') as
    0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) in Mul/Add/Pow/Tanh nodes: one gelu layer."""
    _, n = check(ConvThen(nn.GELU(approximate="tanh")), 16, tmp_path, 17)
    assert n == 2


def test_gelu_tanh_at_opset_20(tmp_path):
    """Opset 20's Gelu op with approximate='tanh': a gelu layer (the same figures)."""
    _, n = check(ConvThen(nn.GELU(approximate="tanh")), 16, tmp_path, 20)
    assert n == 2


# ---------------------------------------------------------------------------------------------
# the dynamo exporter (torch.onnx.export's default since PyTorch 2.9; needs onnxscript, which
# the test extra does not install: these skip without it)

@pytest.mark.slow                  # 5–15 s a model: the dynamo exporter is slow
@pytest.mark.parametrize("make", [ResNet, ShuffleNetV2, MobileNetV2SE, UNet, vgg11])
def test_dynamo_export(tmp_path, make):
    """Every figure as with the TorchScript exporter. The dynamo exporter folds each BatchNorm
    into its conv (the node carries the BatchNorm's module path) and names nodes node_Conv_146,
    node_relu_3: archcalc's layers are matched to modules here through the nodes' metadata."""
    check(make(), 64 if make is not UNet else 32, tmp_path, fused_bn="bn", dynamo=True)


def dynamo_report(model, size, tmp_path):
    path = tmp_path / "model.onnx"
    export_dynamo(model.eval(), torch.randn(1, 3, size, size), path)
    return archcalc.analyze(archcalc.load(str(path)))


def test_dynamo_layer_names_are_module_paths(tmp_path):
    report = dynamo_report(ConvThen(nn.ReLU()), 16, tmp_path)
    assert [r.name for r in report.layers] == ["input", "conv", "act"]


def test_dynamo_groupnorm(tmp_path):
    report = dynamo_report(ConvThen(nn.GroupNorm(4, 8)), 16, tmp_path)
    assert [(r.op, r.params) for r in report.layers][1:] == [("conv", 224), ("groupnorm", 16)]


def test_dynamo_pool_after_a_permute(tmp_path):
    """After a channels-last permute (LayerNorm2d) the dynamo exporter writes
    AdaptiveAvgPool2d(1) + Flatten as ReduceMean [-1, -2] keepdims → Reshape [-1] → Gather
    (indices [1, C, 1, 1] = 0…C−1: an as_strided) → Reshape [1, C]: views of the pooled
    vector."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3), LayerNorm2d(8), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(8, 4))
    report = dynamo_report(model, 16, tmp_path)
    assert [r.op for r in report.layers][1:] == ["conv", "layernorm", "global_avgpool", "fc"]
