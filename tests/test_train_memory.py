"""The training-memory model (archcalc/analysis/training.py, docs/training-memory.md): hand
counts on a small network, the settings and options, and PyTorch itself (tests/torch_memory.py)
on torchvision's models of shipped specs, within ±5%: small inputs by default, full sizes slow.
Expected values are counted by hand or measured, never taken from archcalc."""
from __future__ import annotations

import json
import pathlib
import sys

import pytest
from design_helpers import cli

import archcalc
from archcalc.errors import ArchcalcError

ROOT = pathlib.Path(__file__).resolve().parent.parent

# conv 3×3 p1 3→8 (216 weights, no bias), BatchNorm (16 params, 16 buffers), ReLU in place,
# max pool 2, flatten, fc 512→10 (5,130): 5,362 parameters; input 16×16×3, batch 2
TINY = """name: tiny
input: 16x16x3
layers:
  - {op: conv, name: c, filters: 8, kernel: 3, padding: 1, bias: false}
  - {op: batchnorm, name: bn}
  - {op: relu, name: r}
  - {op: maxpool, name: p, kernel: 2}
  - {op: flatten, name: f}
  - {op: fc, name: fc, units: 10}
"""
# by hand, bytes at fp32, batch 2:
X = 2 * 16 * 16 * 3 * 4                   # 6,144: the input
CONV = 2 * 16 * 16 * 8 * 4                # 16,384: conv's, BatchNorm's outputs (ReLU in place)
POOL = 2 * 8 * 8 * 8 * 4                  # 4,096: the pooled map
IDX = 2 * 8 * 8 * 8 * 8                   # 8,192: max pooling's int64 indices
STATS = 2 * 8 * 4                         # BatchNorm's save_mean and save_invstd
WEIGHTS = (5362 + 16) * 4                 # 21,512: parameters and running statistics
GRADS = 5362 * 4                          # 21,448


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return archcalc.load(str(path))


def test_saved_for_backward_by_hand(tiny):
    r = archcalc.analyze(tiny, batch=2, optimizer="sgd")
    # conv keeps its input, BatchNorm its input and statistics, ReLU its output (BatchNorm's
    # buffer, overwritten in place), max pooling its input (the same) and indices, the fc its
    # input (the pooled map, through the flatten view)
    assert r.totals.saved_bytes == X + CONV + STATS + CONV + IDX + POOL == 51_264
    assert r.training.per_layer == {"c": X, "bn": CONV + STATS, "r": CONV, "p": IDX, "f": 0,
                                    "fc": POOL}


def test_training_peak_by_hand(tiny):
    r = archcalc.analyze(tiny, batch=2, optimizer="sgd")
    # end of the forward pass: weights, input, conv's and ReLU's maps, the statistics, the
    # pooled map, its indices, the logits (80 B)
    end = WEIGHTS + X + CONV + STATS + CONV + POOL + IDX + 80
    assert r.training.end_of_forward == end
    # backward, going down: the fc makes the pooled map's gradient (4,096) and its weights'
    # (20,520); max pooling frees the pooled map and makes a gradient of its input (16,384);
    # ReLU, after the pooled map's gradient and the indices went, makes its own (16,384): the
    # peak, with the fc's gradients kept
    fc_grads = 5130 * 4
    at_relu = end + POOL + fc_grads - POOL + CONV - POOL - IDX + CONV
    assert r.totals.training_bytes == at_relu == 113_856
    assert (r.training.phase, r.training.layer) == ("backward", "r")
    parts = r.training.at_peak
    assert sum(parts.values()) == r.totals.training_bytes
    assert parts["gradients"] == fc_grads


def test_adam_state_and_step(tiny):
    r = archcalc.analyze(tiny, batch=2, optimizer="adam")
    # two moments per trainable parameter, held from the first step on: the backward peak of
    # SGD (above) plus them; the foreach step (every gradient, the moments and the square root
    # of the second moment: one more parameters' worth) stays under it
    assert r.training.states == 2 * GRADS
    assert (r.training.phase, r.totals.training_bytes) == ("backward", 113_856 + 2 * GRADS)
    # an input of 4×4: the activations are small beside the weights, the step is the peak
    small = archcalc.analyze(tiny.replace(input=(4, 4, 3)), batch=1, optimizer="adam")
    # the fc has 2·2·8 = 32 inputs now: 330 parameters
    assert small.training.weights == WEIGHTS - 5130 * 4 + 330 * 4
    params = 216 + 16 + 330
    step = (params + 16) * 4 + 4 * 4 * 3 * 4 + 4 * params * 4
    assert (small.training.phase, small.totals.training_bytes) == ("optimizer", step)
    assert small.training.at_peak["step temporaries"] == params * 4


def test_adafactor_and_adam8bit_states(tiny):
    # Adafactor: conv 8×3×3×3: rows 8·3·3 + columns 8·3·3 = 144; BatchNorm's two vectors 16;
    # fc 10×512: 10 + 512; its bias 10
    r = archcalc.analyze(tiny, batch=2, optimizer="adafactor")
    assert r.training.states == (144 + 16 + 522 + 10) * 4
    # 8-bit Adam: two bytes a parameter, an fp32 scale per block of 2048 for each state
    r = archcalc.analyze(tiny, batch=2, optimizer="adam8bit")
    assert r.training.states == 2 * (5362 + 4 * 3)


def test_momentum_state(tiny):
    r = archcalc.analyze(tiny, batch=2, optimizer="momentum")
    assert r.training.states == GRADS


def test_accumulation_runs_micro_batches(tiny):
    one = archcalc.analyze(tiny, batch=2, optimizer="sgd")
    two = archcalc.analyze(tiny, batch=2, optimizer="sgd", accumulate=2)
    assert two.training.micro_batch == 1
    # half the batch saved (BatchNorm's statistics are per channel, whatever the batch); the
    # gradients of the first micro-batch alive through the second
    assert two.totals.saved_bytes == (one.totals.saved_bytes - STATS) // 2 + STATS
    assert two.training.at_peak["gradients"] >= GRADS


def test_autocast_halves_activations_and_copies_weights(tiny):
    r = archcalc.analyze(tiny, batch=2, optimizer="sgd", amp="bf16")
    # conv and fc run in bf16: the input's bf16 copy (X/2), conv's map (CONV/2, BatchNorm
    # runs in it), ReLU's output, the indices (int64 still), the pooled map (POOL/2), and the
    # bf16 copies of conv's and fc's weights (216 + 5,130) × 2
    casts = (216 + 5130) * 2
    assert r.training.casts == casts
    assert r.totals.saved_bytes == X // 2 + CONV // 2 + STATS + CONV // 2 + IDX + POOL // 2 \
        + casts


def test_checkpointing_keeps_the_block_input(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("""name: ck
input: 8x8x4
blocks:
  unit:
    layers:
      - {op: conv, name: conv, filters: 4, kernel: 3, padding: 1, bias: false}
      - {op: batchnorm, name: bn}
      - {op: relu, name: relu}
layers:
  - {block: unit, name: "b.{i}", repeat: 3}
""")
    net = archcalc.load(str(path))
    plain = archcalc.analyze(net, batch=1, optimizer="sgd")
    ck = archcalc.analyze(net, batch=1, optimizer="sgd", checkpoint=["b.1"])
    act, stats = 8 * 8 * 4 * 4, 2 * 4 * 4
    # b.1 saves its input (b.0's output, which b.0's ReLU keeps too), its conv's output with
    # BatchNorm's statistics (for BatchNorm) and its ReLU's output (which b.2's conv keeps
    # too); checkpointed, it keeps only its input: its conv's map and the statistics go
    assert plain.totals.saved_bytes - ck.totals.saved_bytes == act + stats
    # the block's conv runs again: 8·8·4·4·9 MACs
    assert ck.totals.recompute_macs == 8 * 8 * 4 * 4 * 9
    # a stage: every block of it
    assert archcalc.analyze(net, checkpoint="b").totals.recompute_macs == 3 * 8 * 8 * 4 * 4 * 9


def test_bad_settings_are_usage_errors(tiny):
    with pytest.raises(ArchcalcError, match="amp"):
        archcalc.analyze(tiny, amp="fp8")
    with pytest.raises(ArchcalcError, match="no block or layer"):
        archcalc.analyze(tiny, checkpoint=["layer9"])
    with pytest.raises(ArchcalcError, match="accumulate"):
        archcalc.analyze(tiny, accumulate=0)
    with pytest.raises(ArchcalcError, match="optimizer"):
        archcalc.analyze(tiny, optimizer="lion")


def test_summary_and_json_show_the_step(capsys):
    code, out, err = cli(capsys, "summary", str(ROOT / "specs" / "resnet18.yaml"), "-b", "8",
                         "--amp", "bf16", "--checkpoint", "layer3", "--optimizer", "adamw",
                         "--accumulate", "2")
    assert code == 0, err
    assert "training step:" in out and "adamw, autocast bf16, checkpoint layer3, " \
        "2 micro-batches" in out
    assert "recomputed" in out and "saved for backward" in out
    code, out, err = cli(capsys, "summary", str(ROOT / "specs" / "resnet18.yaml"), "-F",
                         "json", "--checkpoint", "layer3")
    doc = json.loads(out)
    assert doc["settings"]["checkpoint"] == ["layer3"]
    assert doc["totals"]["saved_bytes"] > 0 and doc["totals"]["recompute_macs"] > 0
    code, out, err = cli(capsys, "summary", str(ROOT / "specs" / "resnet18.yaml"),
                         "--checkpoint", "layer9")
    assert code == 2 and "no block or layer" in err


def test_summary_does_not_import_torch():
    from conftest import imported_by
    modules, _ = imported_by("summary", str(ROOT / "specs" / "resnet18.yaml"), "--amp", "bf16")
    assert "torch" not in modules


# --- against PyTorch -------------------------------------------------------------------------

def _bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import train_memory
    return train_memory


@pytest.fixture(scope="module")
def torchvision_models():
    from conftest import import_torchvision
    import_torchvision()
    return _bench()


def test_the_measurement_by_hand():
    """tests/torch_memory.py on the tiny network, counted by hand as above: what it measures
    is what PyTorch holds."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(ROOT / "tests"))
    from torch_memory import inference_peak, saved_bytes, training_step
    nn = torch.nn
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                      nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(512, 10))
    x = torch.randn(2, 3, 16, 16)
    assert saved_bytes(m, x)[0] == X + CONV + STATS + CONV + IDX + POOL
    # PyTorch holds BatchNorm's num_batches_tracked too (an int64: 8 B), and the loss (a
    # scalar, 4 B) and its gradient (4 B) at the peak
    held = WEIGHTS + 8 + X
    end = held + CONV + STATS + CONV + POOL + IDX + 80 + 4
    peak = end + 4 + 5130 * 4 + CONV - POOL - IDX + CONV
    assert training_step(m, x, torch.optim.SGD(m.parameters(), lr=0.1)).peak == peak
    # inference (eval mode): conv's and BatchNorm's maps alive together
    assert inference_peak(m, x) == held + 2 * CONV


SMALL = [  # spec, batch, side, optimizer, amp, checkpoint
    ("resnet18", 2, 32, "sgd", "off", False),
    ("resnet18", 2, 32, "adam", "bf16", True),
    ("mobilenet_v2", 2, 32, "sgd", "off", False),
    ("mobilenet_v2", 2, 32, "adam", "bf16", False),
    ("densenet121", 2, 32, "sgd", "off", False),            # concatenations, transitions
    ("efficientnet_b0", 2, 32, "sgd", "off", False),        # gates, SiLU, stochastic depth
    ("convnext_tiny", 2, 32, "sgd", "off", False),          # LayerNorm, GELU, layer scale
]


@pytest.mark.parametrize("spec,batch,side,optimizer,amp,checkpoint", SMALL)
def test_within_five_percent_of_pytorch(torchvision_models, spec, batch, side, optimizer, amp,
                                        checkpoint):
    tm = torchvision_models
    got = tm.modelled(spec, batch, side, optimizer, amp, checkpoint)
    want = tm.measure(spec, batch, side, optimizer, amp, checkpoint)
    for figure, value in want.items():
        assert got[figure] == pytest.approx(value, rel=0.05), figure


FULL = [(spec, batch, opt, amp, ck)
        for spec in ("resnet18", "resnet50", "vgg16", "mobilenet_v2", "densenet121")
        for batch in (1, 32) for opt in ("sgd", "adam") for amp in ("off", "bf16")
        for ck in ((False, True) if spec.startswith("resnet") else (False,))]


@pytest.mark.slow
@pytest.mark.parametrize("spec,batch,optimizer,amp,checkpoint", FULL)
def test_within_five_percent_at_full_size(torchvision_models, spec, batch, optimizer, amp,
                                          checkpoint):
    tm = torchvision_models
    got = tm.modelled(spec, batch, 224, optimizer, amp, checkpoint)
    want = tm.measure(spec, batch, 224, optimizer, amp, checkpoint)
    for figure, value in want.items():
        assert got[figure] == pytest.approx(value, rel=0.05), figure


OTHERS = [  # spec, batch, side, optimizer, amp: attention, layer scale, stochastic depth
    ("vit_b_16", 1, 224, "sgd", "off"), ("vit_b_16", 1, 224, "adam", "bf16"),
    ("swin_t", 1, 224, "sgd", "off"), ("maxvit_t", 1, 224, "sgd", "off"),
    ("convnext_tiny", 2, 64, "sgd", "off"), ("efficientnet_b0", 2, 64, "adam", "bf16"),
    ("densenet121", 2, 64, "sgd", "off"), ("shufflenet_v2_x1_0", 2, 64, "sgd", "off"),
]


@pytest.mark.slow
@pytest.mark.parametrize("spec,batch,side,optimizer,amp", OTHERS)
def test_other_specs_within_five_percent(torchvision_models, spec, batch, side, optimizer, amp):
    tm = torchvision_models
    got = tm.modelled(spec, batch, side, optimizer, amp)
    want = tm.measure(spec, batch, side, optimizer, amp)
    for figure, value in want.items():
        assert got[figure] == pytest.approx(value, rel=0.05), figure


def test_accumulation_against_pytorch(torchvision_models):
    tm = torchvision_models
    import torch
    from torch_memory import training_step
    net = tm.inplace_adds(archcalc.load(str(ROOT / "specs" / "resnet18.yaml"),
                                        input=(32, 32, 3)))
    r = archcalc.analyze(net, batch=4, optimizer="sgd", accumulate=2, backend="cpu")
    torch.manual_seed(0)
    model = tm.reference("resnet18")
    meter = training_step(model, torch.randn(4, 3, 32, 32),
                          tm.optimizer_for("sgd", model.parameters()), accumulate=2)
    assert r.totals.training_bytes == pytest.approx(meter.peak, rel=0.05)
