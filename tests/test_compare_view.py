"""``archcalc compare``: the figures it puts side by side (FLOPs, training memory and the receptive
field at the output among them), exact with thousands separators in Markdown, and plain text on a
pipe. Expected values are counted by hand below."""
import csv
import io
import json

from conftest import run_cli

# VGG16 (configuration D) at 224×224×3: thirteen 3×3 convolutions (H·W·C_in·C_out·9 MACs each)
# and three dense layers
VGG_CONVS = [(224, 3, 64), (224, 64, 64), (112, 64, 128), (112, 128, 128), (56, 128, 256),
             (56, 256, 256), (56, 256, 256), (28, 256, 512), (28, 512, 512), (28, 512, 512),
             (14, 512, 512), (14, 512, 512), (14, 512, 512)]
VGG_MACS = sum(h * h * c * k * 9 for h, c, k in VGG_CONVS) + 7 * 7 * 512 * 4096 + \
    4096 * 4096 + 4096 * 1000
VGG_PARAMS = sum(9 * c * k + k for _, c, k in VGG_CONVS) + (7 * 7 * 512 * 4096 + 4096) + \
    (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
# LeNet-5 (specs/lenet5.yaml): 61,706 parameters, 416,520 MACs (tests/test_golden.py counts
# them); activations: the 32×32×1 input, C1 and its tanh 28·28·6 each, S2 14·14·6, C3 and its
# tanh 10·10·16 each, S4 5·5·16, C5 and tanh 120 each, F6 and tanh 84 each, output 10
LENET_ACTS = 1024 + 2 * 4704 + 1176 + 2 * 1600 + 400 + 2 * 120 + 2 * 84 + 10
# training memory (docs/training-memory.md): the training step's peak, at batch 1 in Adam's
# step: 4 bytes × (weights + gradients + two states + the foreach step's square root of the
# second moment: 5 × 61,706, and the input 1,024). The backward pass stays under it: even with
# every activation and a gradient of each alive (2 × 15,626) beside weights, gradients, states
# and input it would be 4 × (4 × 61,706 + 1,024 + 31,252), less
LENET_TRAINING = 4 * (61_706 * 5 + 1024)
# receptive field at the output: the last local layer's (LeNet-5: C5, 32 with stride 4, the dense
# layers after it see everything; VGG16: pool5, 212 with stride 32)
RF = {"lenet5": "32 /4", "vgg16": "212 /32"}


def test_the_hand_counts():
    assert VGG_PARAMS == 138_357_544 and LENET_ACTS == 15_626
    assert LENET_TRAINING == 1_238_216
    assert 4 * (4 * 61_706 + 1024 + 2 * LENET_ACTS) < LENET_TRAINING


def _markdown_rows(text):
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows[cells[0]] = cells[1:]
    return rows


def test_markdown_has_every_figure_exact_with_separators():
    p = run_cli("compare", "lenet5", "vgg16", "-F", "markdown")
    assert p.returncode == 0, p.stderr
    rows = _markdown_rows(p.stdout)
    assert rows["parameters"] == ["61,706", "138,357,544"]
    assert rows["MACs"] == ["416,520", f"{VGG_MACS:,}"] == ["416,520", "15,470,264,320"]
    assert rows["FLOPs"] == ["833,040", f"{2 * VGG_MACS:,}"]
    assert rows["activations"][0] == "15,626"
    assert rows["training bytes"][0] == "1.18 MiB (1,238,216 B)"
    assert rows["receptive field at the output"] == [RF["lenet5"], RF["vgg16"]]


def test_csv_and_json_carry_the_new_figures_as_numbers():
    p = run_cli("compare", "lenet5", "vgg16", "-F", "csv")
    rows = {r[0]: r[1:] for r in csv.reader(io.StringIO(p.stdout))}
    assert rows["FLOPs"] == ["833040", str(2 * VGG_MACS)]
    assert rows["training bytes"][0] == str(LENET_TRAINING)
    assert rows["receptive field at the output"] == ["32", "212"]
    doc = json.loads(run_cli("compare", "lenet5", "vgg16", "-F", "json").stdout)
    lenet = doc["networks"]["lenet5"]
    assert (lenet["flops"], lenet["training_bytes"], lenet["rf"]) == \
        (833_040, LENET_TRAINING, 32)
    assert doc["networks"]["vgg16"]["rf"] == 212


def test_the_table_shows_the_new_figures_and_is_plain_text_on_a_pipe():
    p = run_cli("compare", "lenet5", "vgg16")
    assert p.returncode == 0, p.stderr
    assert not set(p.stdout) & set("┃│━┏┓┗┛┡┩└┘┌┐╇╋"), p.stdout       # no box drawing
    lines = p.stdout.splitlines()
    figure = {line.split("  ")[0].strip(): line.split() for line in lines}
    assert figure["FLOPs"][-2:] == ["833.04K", "30.94G"]
    assert figure["training bytes"][-4:] == ["1.18", "MiB"] + figure["training bytes"][-2:]
    assert lines[-1].startswith("receptive field at the output") and \
        lines[-1].endswith("32 /4    212 /32")
    assert [line for line in lines if line != line.rstrip()] == []       # whole, plain lines
