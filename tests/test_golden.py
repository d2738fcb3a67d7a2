"""The views' exact output, kept in tests/golden/: ``archcalc summary`` piped (plain text), in
Markdown and in CSV for LeNet-5, ResNet-18 folded to its blocks (``-d 0``) and a spec string;
``archcalc compare`` and ``archcalc explain`` for one example each.

Any change to what these commands print shows here as a diff. Where the change is meant, rewrite
the files with ``pytest tests/test_golden.py --update-golden`` and review the diff
(tests/README.md). The golden files are not merely "what the code printed once": the tests below
check their figures against counts made by hand."""
import csv
import io
import re

import pytest
from conftest import GOLDEN, run_cli

STRING = "C3D64 R M FC10 S"
CASES = {
    "summary_lenet5.txt": ("summary", "lenet5"),
    "summary_lenet5.md": ("summary", "lenet5", "-F", "markdown"),
    "summary_lenet5.csv": ("summary", "lenet5", "-F", "csv"),
    "summary_resnet18_d0.txt": ("summary", "resnet18", "-d", "0"),
    "summary_resnet18_d0.md": ("summary", "resnet18", "-d", "0", "-F", "markdown"),
    "summary_resnet18_d0.csv": ("summary", "resnet18", "-d", "0", "-F", "csv"),
    "summary_string.txt": ("summary", STRING, "-i", "32x32x3"),
    "summary_string.md": ("summary", STRING, "-i", "32x32x3", "-F", "markdown"),
    "summary_string.csv": ("summary", STRING, "-i", "32x32x3", "-F", "csv"),
    "compare_lenet5_resnet18_vgg16.txt": ("compare", "lenet5", "resnet18", "vgg16"),
    "explain_lenet5.txt": ("explain", "lenet5"),
}


def golden(name: str, text: str, update: bool) -> str:
    """The golden file ``name``: rewritten with ``text`` under --update-golden, else read."""
    path = GOLDEN / name
    if update:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
    assert path.exists(), f"{path} is missing: run pytest --update-golden to write it"
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", CASES)
def test_output_is_the_golden_file(name, update_golden):
    p = run_cli(*CASES[name])
    assert p.returncode == 0, p.stderr
    want = golden(name, p.stdout, update_golden)
    assert p.stdout == want, f"archcalc {' '.join(CASES[name])} differs from tests/golden/{name}"
    # what goes to standard error (CSV's diagnostics): a golden file of its own where any
    err_name = name + ".stderr"
    if p.stderr or (GOLDEN / err_name).exists():
        assert p.stderr == golden(err_name, p.stderr, update_golden), err_name


# ---------------------------------------------------------------------------------------------
# the figures in the golden files, counted by hand

def read(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8")


def conv(h_out, w_out, k, c_in, filters, bias=True):
    """(parameters, MACs) of a convolution: k·k·C·K weights (+ K biases); one multiply-add per
    weight per output place."""
    return k * k * c_in * filters + (filters if bias else 0), h_out * w_out * filters * c_in * k * k


def fc(n_in, n_out):
    return n_in * n_out + n_out, n_in * n_out


# LeNet-5 (specs/lenet5.yaml): valid 5×5 convolutions, 2×2/2 average pools, tanh
LENET = {"C1": conv(28, 28, 5, 1, 6), "C3": conv(10, 10, 5, 6, 16), "C5": conv(1, 1, 5, 16, 120),
         "F6": fc(120, 84), "output": fc(84, 10)}
# receptive fields: r += (k − 1)·j, j *= s
LENET_RF = {"C1": (5, 1), "S2": (6, 2), "C3": (14, 2), "S4": (16, 4), "C5": (32, 4)}


def test_lenet5_golden_figures_by_hand():
    assert [p for p, _ in LENET.values()] == [156, 2_416, 48_120, 10_164, 850]
    params = sum(p for p, _ in LENET.values())
    macs = sum(m for _, m in LENET.values())
    assert (params, macs) == (61_706, 416_520)          # the LeNet-5 of the literature

    table = read("summary_lenet5.txt")
    assert f"parameters: {params:,} (61.71K)" in table and f"MACs: {macs:,} (416.52K)" in table
    for name, (p, m) in LENET.items():
        row = next(line.split() for line in table.splitlines() if line.startswith(name + " "))
        assert f"{p:,}" in row and f"{m:,}" in row, (name, row)
    # activation elements: every layer's output (tanh, unlike ReLU, is not run in place)
    acts = 32 * 32 + 2 * 28 * 28 * 6 + 14 * 14 * 6 + 2 * 10 * 10 * 16 + 5 * 5 * 16 + 2 * 120 \
        + 2 * 84 + 10
    assert f"activations: {acts:,} elements per image" in table
    # the peak: C1's output and tanh1's, both alive while tanh1 runs, 4 bytes each
    assert f"peak activations: 36.75 KiB ({2 * 28 * 28 * 6 * 4:,} B) at tanh1" in table

    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(read("summary_lenet5.csv")))}
    for name, (p, m) in LENET.items():
        assert (int(rows[name]["params"]), int(rows[name]["macs"])) == (p, m)
    for name, (size, jump) in LENET_RF.items():
        assert (int(rows[name]["rf_h"]), int(rows[name]["rf_stride_h"])) == (size, jump)
    assert rows["F6"]["global"] == "true"
    assert sum(int(r["params"]) for r in rows.values()) == params

    md = read("summary_lenet5.md")
    # 156 / 61,706 = 0.25% of the parameters, 117,600 / 416,520 = 28.2% of the MACs
    assert "| C1 | conv 5×5/1 p0, 6 | 32×32×1 | 28×28×6 | 156 | 0.3% | 117,600 | 28.2% |" in md


def test_resnet18_golden_figures_by_hand():
    stem = conv(112, 112, 7, 3, 64, bias=False)
    assert stem == (9_408, 118_013_952)
    # a basic block at 56×56×64: two 3×3 convolutions without bias and two BatchNorms (γ, β)
    one, macs_one = conv(56, 56, 3, 64, 64, bias=False)
    block1 = (2 * one + 2 * 2 * 64, 2 * macs_one)
    assert block1 == (73_984, 231_211_008)
    head = fc(512, 1000)
    # torchvision's resnet18: 11,689,512 parameters; BatchNorm channels 64 + 4·64 + (4·128 +
    # 128) + (4·256 + 256) + (4·512 + 512) = 4,800, each with a running mean and variance
    bn_channels = 64 + 4 * 64 + 5 * 128 + 5 * 256 + 5 * 512
    table = read("summary_resnet18_d0.txt")
    assert "parameters: 11,689,512 (11.69M)" in table
    assert f"buffers: {2 * bn_channels:,} (BatchNorm" in table and "11,699,112" in table
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(read("summary_resnet18_d0.csv")))}
    assert [r for r in rows if r.startswith("layer")] == [
        f"layer{i}.{j}" for i in (1, 2, 3, 4) for j in (0, 1)]      # folded to the blocks
    assert (int(rows["conv1"]["params"]), int(rows["conv1"]["macs"])) == stem
    assert (int(rows["layer1.0"]["params"]), int(rows["layer1.0"]["macs"])) == block1
    assert (int(rows["layer1.1"]["params"]), int(rows["layer1.1"]["macs"])) == block1
    assert (int(rows["fc"]["params"]), int(rows["fc"]["macs"])) == head
    assert sum(int(r["params"]) for r in rows.values()) == 11_689_512
    # the folded rows carry the receptive field at the block's output: stem 7 /2, pool 11 /4,
    # then each 3×3 adds 2·jump: layer1.0 11 + 2·4·2 = 27
    assert [(rows[n]["rf_h"], rows[n]["rf_stride_h"]) for n in ("conv1", "maxpool", "layer1.0")
            ] == [("7", "2"), ("11", "4"), ("27", "4")]
    md = read("summary_resnet18_d0.md")
    assert "| layer1.0 | block 7 layers | 56×56×64 | 56×56×64 | 73,984 |" in md


def test_spec_string_golden_figures_by_hand():
    c = conv(32, 32, 3, 3, 64)          # C3D64: 3×3, 64 filters, padded: 32×32 stays
    f = fc(16 * 16 * 64, 10)            # after the 2×2/2 max pool
    assert (c[0] + f[0], c[1] + f[1]) == (165_642, 1_933_312)
    table = read("summary_string.txt")
    assert "parameters: 165,642 (165.64K)" in table and "MACs: 1,933,312 (1.93M)" in table
    # fc1 holds 163,850 / 165,642 = 98.9% of the parameters: the warning
    assert "warning [fc1]: fc1 holds 99% of the parameters (163,850 of 165,642)" in table
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(read("summary_string.csv")))}
    assert list(rows) == ["input", "conv1", "relu1", "pool1", "fc1", "softmax1"]
    assert (int(rows["conv1"]["params"]), int(rows["fc1"]["params"])) == (c[0], f[0])
    assert rows["relu1"]["inplace"] == "true" and rows["relu1"]["activations"] == "0"
    assert "| pool1 | maxpool 2×2/2 p0 | 32×32×64 | 16×16×64 | 0 |" in read("summary_string.md")


def test_compare_and_explain_golden_figures_by_hand():
    text = read("compare_lenet5_resnet18_vgg16.txt")
    cells = {r[0]: r[1:] for r in (re.split(r"\s{2,}", line) for line in text.splitlines())
             if len(r) == 4}
    # VGG16: 13 convolutions + 3 fc = 16 weight layers, 138,357,544 parameters (torchvision)
    assert cells["weight layers"] == ["5", "21", "16"]
    assert cells["parameters"] == ["61.71K", "11.69M", "138.36M"]
    assert cells["MACs"][0] == "416.52K" and cells["FLOPs"][0] == "833.04K"   # 2 × 416,520
    # the receptive field at the output: LeNet-5's C5 (32, stride 4), VGG16's pool5 (212 /32)
    assert cells["receptive field at the output"][::2] == ["32 /4", "212 /32"]

    text = read("explain_lenet5.txt")
    assert "F·F·C·K + K = 5·5·1·6 + 6 = 150 + 6 = 156" in text
    assert "H'·W'·K·C·F·F = 10·10·16·6·5·5 = 240,000" in text
    assert "C·N + N = 84·10 + 10 = 840 + 10 = 850" in text
    assert "r + (F − 1)·j = 6 + (5 − 1)·2 = 14" in text                # C3's receptive field
    # half the parameters are in C5 … output: 48,120 + 10,164 + 850 = 59,134
    assert re.search(r"the last 5 of its 11 layers \(C5 … output\): 59,134 of 61,706", text)
