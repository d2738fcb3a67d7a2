"""specs/unet.yaml against Ronneberger, Fischer & Brox (2015), "U-Net: Convolutional Networks for
Biomedical Image Segmentation", Figure 1, and against a PyTorch model built layer by layer."""
import pytest
from conftest import SPECS

import archcalc

# Figure 1, read off the drawing (the size written beside each box, the channels above it):
# contracting path 572 → 570, 568 (64) → 284 → 282, 280 (128) → 140 → 138, 136 (256) → 68 →
# 66, 64 (512) → 32 → 30, 28 (1024); expansive path: up-conv 2×2 to 56 (512), copy and crop
# 64 → 56, 54, 52 (512); 104, crop 136 → 104, 102, 100 (256); 200, crop 280 → 200, 198, 196
# (128); 392, crop 568 → 392, 390, 388 (64); conv 1×1 → 388×388×2 ("output segmentation map").
FIGURE_1 = {
    "enc1/conv1": (570, 64), "enc1/conv2": (568, 64), "pool1": (284, 64),
    "enc2/conv1": (282, 128), "enc2/conv2": (280, 128), "pool2": (140, 128),
    "enc3/conv1": (138, 256), "enc3/conv2": (136, 256), "pool3": (68, 256),
    "enc4/conv1": (66, 512), "enc4/conv2": (64, 512), "pool4": (32, 512),
    "bottom/conv1": (30, 1024), "bottom/conv2": (28, 1024),
    "up4": (56, 512), "crop4": (56, 512), "cat4": (56, 1024),
    "dec4/conv1": (54, 512), "dec4/conv2": (52, 512),
    "up3": (104, 256), "crop3": (104, 256), "cat3": (104, 512),
    "dec3/conv1": (102, 256), "dec3/conv2": (100, 256),
    "up2": (200, 128), "crop2": (200, 128), "cat2": (200, 256),
    "dec2/conv1": (198, 128), "dec2/conv2": (196, 128),
    "up1": (392, 64), "crop1": (392, 64), "cat1": (392, 128),
    "dec1/conv1": (390, 64), "dec1/conv2": (388, 64),
    "head": (388, 2),
}
# copy and crop: the encoder map each crop reads, and the size it is cut from (Figure 1's grey
# arrows: 568 → 392, 280 → 200, 136 → 104, 64 → 56)
CROPS = {"crop1": ("enc1/relu2", 568, 392), "crop2": ("enc2/relu2", 280, 200),
         "crop3": ("enc3/relu2", 136, 104), "crop4": ("enc4/relu2", 64, 56)}


@pytest.fixture(scope="module")
def report():
    return archcalc.analyze(archcalc.load(SPECS / "unet.yaml"))


def test_every_size_of_figure_1(report):
    assert report.layers[0].output == (572, 572, 1)
    for name, (side, c) in FIGURE_1.items():
        assert report[name].output == (side, side, c), name
    for name, (src, before, after) in CROPS.items():
        row = report[name]
        assert row.inputs[0] == src and report[src].output[:2] == (before, before)
        assert row.output[:2] == (after, after)
    # the concatenation puts the cropped copy first, the up-convolution's output second
    assert report["cat4"].inputs == ("crop4", "up4")
    assert report.layers[-1].name == "head" and report.layers[-1].output == (388, 388, 2)
    # 23 convolutional layers, as the paper's §2 counts them ("In total the network has 23
    # convolutional layers"): 18 valid 3×3, 4 up-convolutions, the final 1×1
    assert sum(1 for row in report.layers if row.op in ("conv", "conv_transpose")) == 23
    assert not report.diagnostics


def test_up_convolution_macs_follow_the_definition(report):
    # docs/definitions.md: a transposed conv's MACs are H_in·W_in·C_in·(C_out/g)·k_h·k_w
    assert report["up4"].macs == 28 * 28 * 1024 * 512 * 2 * 2 == 1_644_167_168
    assert report["up1"].macs == 196 * 196 * 128 * 64 * 2 * 2
    assert report["up4"].params == 2 * 2 * 1024 * 512 + 512


def test_parameters_by_hand(report):
    # every conv with its bias: 3×3 pairs at each width, 2×2 up-convolutions from 2c to c
    # channels, then the 1×1 head
    widths = [64, 128, 256, 512, 1024]
    enc = sum(9 * cin * c + c + 9 * c * c + c for cin, c in zip([1] + widths, widths))
    dec = sum((4 * 2 * c * c + c) + (9 * 2 * c * c + c) + (9 * c * c + c) for c in widths[:4])
    assert report.totals.params == enc + dec + 64 * 2 + 2 == 31_030_658


def _unet(torch):
    """U-Net built from torch.nn layers, following the paper's text, not the spec."""
    nn = torch.nn

    def double(cin, c):
        return nn.Sequential(nn.Conv2d(cin, c, 3), nn.ReLU(inplace=True),
                             nn.Conv2d(c, c, 3), nn.ReLU(inplace=True))

    def crop(x, like):
        h, w = like.shape[2:]
        top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
        return x[:, :, top:top + h, left:left + w]

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            widths = [64, 128, 256, 512]
            self.enc = nn.ModuleList(double(cin, c) for cin, c in zip([1] + widths, widths))
            self.bottom = double(512, 1024)
            self.up = nn.ModuleList(nn.ConvTranspose2d(2 * c, c, 2, stride=2) for c in widths)
            self.dec = nn.ModuleList(double(2 * c, c) for c in widths)
            self.head = nn.Conv2d(64, 2, 1)
            self.sizes = []

        def forward(self, x):
            skips = []
            for enc in self.enc:
                x = enc(x)
                skips.append(x)
                self.sizes.append(x.shape[2])
                x = nn.functional.max_pool2d(x, 2, 2)
            x = self.bottom(x)
            self.sizes.append(x.shape[2])
            for up, dec, skip in zip(self.up[::-1], self.dec[::-1], skips[::-1]):
                x = up(x)
                x = dec(torch.cat([crop(skip, x), x], 1))
                self.sizes += [x.shape[2]]
            return self.head(x)
    return UNet()


def test_unet_against_a_pytorch_model(report):
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    with torch.device("meta"):                  # shapes and counts only: no arithmetic
        model = _unet(torch)
        x = torch.zeros(1, 1, 572, 572)
    # 31,030,658: the "about 31 M" usually quoted for U-Net (implementations with padded
    # convolutions and batch norm differ in the last digits); here every conv has its bias
    assert sum(p.numel() for p in model.parameters()) == report.totals.params == 31_030_658
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(x)
    assert tuple(y.shape) == (1, 2, 388, 388)
    assert model.sizes == [568, 280, 136, 64, 28, 52, 100, 196, 388]
    # FlopCounterMode counts 2 FLOPs per multiply-add of conv and conv_transpose; for a
    # transposed conv it counts each input value times its whole filter (the input's H·W), the
    # convention archcalc states. With kernel = stride = 2 the windows do not overlap, so the
    # count per output value (2·2·C_in·C_out/4 per output pixel) is the same number.
    assert counter.get_total_flops() == 2 * report.totals.macs
    per_module = counter.get_flop_counts()
    for i, name in enumerate(["up1", "up2", "up3", "up4"]):
        assert sum(per_module[f"UNet.up.{i}"].values()) == 2 * report[name].macs, name
