"""archcalc fit (archcalc/fit.py): the largest value within budgets, against answers computed
by hand from the definitions (docs/definitions.md)."""
import json

import pytest
from conftest import SPECS, run_cli
from design_helpers import cli

import archcalc

GIB = 1 << 30


def test_largest_batch_under_24gib_training_bf16_adam(capsys):
    # training_bytes is the training step's peak (docs/training-memory.md; checked against
    # PyTorch in tests/test_train_memory.py): fit's answer is the largest batch whose peak is
    # within the budget, one more is over it, and the peak grows with the batch
    code, out, _ = cli(capsys, "fit", "resnet50", "--budget", "peak_training=24GiB", "--dtype",
                       "bf16", "--optimizer", "adam", "--maximize", "batch", "-F", "json")
    doc = json.loads(out)
    want = doc["answer"]["value"]
    assert code == 0 and doc["monotone"] is True
    assert doc["past"]["value"] == want + 1
    assert doc["answer"]["budgets"][0]["ok"] and not doc["past"]["budgets"][0]["ok"]
    assert doc["answer"]["totals"]["training_bytes"] <= 24 * GIB \
        < doc["past"]["totals"]["training_bytes"]
    t = archcalc.analyze(archcalc.load(SPECS / "resnet50.yaml"), batch=want, dtype="bf16",
                         optimizer="adam").totals
    assert doc["answer"]["totals"]["training_bytes"] == t.training_bytes
    # bounds from the measurement: PyTorch's ResNet-50 saves 86,121,984 B per image for the
    # backward pass at fp32 (benchmarks/train_memory.py, batch 1), half of it at bf16: fewer
    # than 24 GiB / 43,060,992 B ≈ 598 images fit; the gradients of activations alive beside
    # them never reach as much again, nor do weights, gradients and Adam's states (25.6 M
    # parameters × 2 bytes × 4 = 204 MB): more than half of it fit
    per_image = 86_121_984 // 2
    assert (24 * GIB - 204_000_000) // (2 * per_image) < want < 24 * GIB // per_image


def test_24gb_is_not_24gib(capsys):
    answers = {}
    for budget in ("24GB", "24GiB"):
        code, out, _ = cli(capsys, "fit", "resnet50", "--budget", f"training={budget}",
                           "--dtype", "bf16", "--maximize", "batch", "-F", "json")
        assert code == 0
        doc = json.loads(out)
        answers[budget] = doc["answer"]["value"]
        limit = 24 * (10**9 if budget == "24GB" else GIB)
        assert doc["answer"]["totals"]["training_bytes"] <= limit \
            < doc["past"]["totals"]["training_bytes"]
    assert answers["24GB"] < answers["24GiB"]


def test_largest_vgg16_input_under_a_peak(capsys):
    # VGG16's peak is while conv1_2 runs: conv1_1's and conv1_2's outputs, 2 · 64 · N² elements
    # (the input is freed, ReLU in place): 512 · N² bytes at fp32 ≤ 100 MiB ⟺ N ≤ 452.5; the
    # sizes VGG16 takes are multiples of 32 (test_sizes): fit searches only those (the rule
    # archcalc sizes derives): 448 fits, 480 is one step past and over.
    code, out, _ = cli(capsys, "fit", "vgg16", "--budget", "peak=100MiB", "--maximize", "res",
                       "-F", "json")
    doc = json.loads(out)
    assert doc["answer"]["value"] == 448
    assert doc["answer"]["totals"]["peak_bytes"] == 512 * 448 ** 2
    assert doc["past"]["value"] == 480 and doc["past"]["status"] == "over"
    assert doc["grid"][:2] == [32, 32] and "N divisible by 32" in doc["sizes_rule"]
    # with a grid of its own (--step 1), the invalid sizes are searched through: 449 is refused
    # by pool1, and the first valid size past it, 480, is over
    code, out, _ = cli(capsys, "fit", "vgg16", "--budget", "peak=100MiB", "--maximize", "res",
                       "--step", "1", "-F", "json")
    doc = json.loads(out)
    assert code == 0 and doc["answer"]["value"] == 448
    assert doc["past"] == {"value": 449, "status": "invalid", "message": doc["past"]["message"]}
    assert "pool1" in doc["past"]["message"]
    assert doc["next_valid"]["value"] == 480 and doc["next_valid"]["status"] == "over"


def test_input_sizes_that_are_rarely_valid(capsys):
    """AlexNet takes N ≡ 3 (mod 32), N ≥ 67 (test_sizes): fit searches those only (a
    newcomer's finding: the search through invalid sizes gave up). Its MACs grow with N²: at
    355 2,824,002,080 (under 3G), at 387 3,368,423,456 (over): the answer is 355."""
    code, out, _ = cli(capsys, "fit", "alexnet", "--budget", "macs=3G", "--maximize", "res",
                       "-F", "json")
    doc = json.loads(out)
    assert code == 0 and doc["answer"]["value"] == 355 and doc["past"]["value"] == 387
    assert doc["past"]["status"] == "over" and doc["grid"][:2] == [67, 32]


SPEC = """
params: {f: 8}
input: 32x32x3
layers:
  - {op: conv, filters: $f, kernel: 3, padding: 1}
"""


def test_a_declared_whole_number_parameter(tmp_path, capsys):
    # MACs = 32 · 32 · 27 · f = 27,648 · f ≤ 300,000 ⟺ f ≤ 10.85: f = 10
    path = tmp_path / "f.yaml"
    path.write_text(SPEC)
    code, out, _ = cli(capsys, "fit", path, "--budget", "macs=300K", "--maximize", "f")
    assert code == 0
    assert "answer: f = 10" in out and "f = 11 (one step past)" in out
    code, out, _ = cli(capsys, "fit", path, "--budget", "macs=300K", "--maximize", "f",
                       "-F", "json")
    assert json.loads(out)["answer"]["totals"]["macs"] == 27648 * 10


def test_a_float_parameter_on_a_grid(tmp_path, capsys):
    # filters ${round(16 * w)}: MACs 27,648 · round(16w) ≤ 300,000 ⟺ round(16w) ≤ 10 ⟺
    # 16w < 10.5 ⟺ w < 0.65625: on the grid 0.05, 0.1, … the answer is 0.65
    path = tmp_path / "w.yaml"
    path.write_text(SPEC.replace("{f: 8}", "{w: 1.0}").replace("$f", '"${round(16 * w)}"'))
    code, out, _ = cli(capsys, "fit", path, "--budget", "macs=300K", "--maximize", "w",
                       "--step", "0.05", "-F", "json")
    doc = json.loads(out)
    assert code == 0 and doc["answer"]["value"] == 0.65 and doc["past"]["value"] == 0.7


def test_not_monotone_is_said(tmp_path, capsys):
    # filters grow with f up to 19, then drop to 1: f ≤ 10 and f ≥ 20 fit 300K MACs
    path = tmp_path / "n.yaml"
    path.write_text(SPEC.replace("{f: 8}", "{f: 30}").replace("$f",
                                                               '"${f if f < 20 else 1}"'))
    code, out, _ = cli(capsys, "fit", path, "--budget", "macs=300K", "--maximize", "f",
                       "--max", "40")
    assert code == 0 and "NOT MONOTONE" in out and "over budget below the answer" in out


def test_nothing_fits_is_exit_1(capsys):
    code, _, err = cli(capsys, "fit", "resnet50", "--budget", "params=1M", "--maximize",
                       "batch")
    assert code == 1 and "nothing fits" in err and "batch = 1" in err


@pytest.mark.parametrize("args, needle", [
    (["--budget", "params=1M", "--maximize", "widht"], "no parameter 'widht'"),
    (["--budget", "params=1M", "--maximize", "dtype"], "takes a number"),
    (["--budget", "peak=24G", "--maximize", "batch"], "no byte unit"),
    (["--budget", "peek=24GiB", "--maximize", "batch"], "did you mean 'peak'"),
    (["--budget", "peak=1GiB", "--maximize", "batch", "--step", "0"], "--step"),
    (["--budget", "peak=1GiB", "--maximize", "batch", "--min", "9", "--max", "3"], "--max")])
def test_bad_usage_is_exit_2(capsys, args, needle):
    code, _, err = cli(capsys, "fit", "resnet", *args)
    assert code == 2 and needle in err


def test_a_spec_with_errors_and_a_search_that_never_exceeds(capsys):
    code, _, err = cli(capsys, "fit", "C11D96S4P0 FC10", "--budget", "params=1G", "--maximize",
                       "batch")
    assert code == 1 and "54.25" in err                # the spec's own error, not a search
    # params do not grow with the input of a conv-only net: nothing up to --max is over
    code, out, _ = cli(capsys, "fit", "C3D8 M", "--budget", "params=1M", "--maximize", "res",
                       "--max", "64", "-F", "json")
    doc = json.loads(out)
    assert code == 0 and doc["capped"] is True and doc["answer"]["value"] == 64


def test_one_budget_per_figure():
    """peak_training and training name one figure: two budgets on it are refused (which would
    count?), as --set refuses a parameter given twice."""
    from conftest import run_cli
    p = run_cli("fit", "resnet50", "--budget", "training=24GiB", "--budget",
                "peak_training=20GiB", "--maximize", "batch")
    assert p.returncode == 2 and "has a budget already" in p.stderr


def test_a_decimal_grid_reaches_its_max(tmp_path, capsys):
    """--max 2 --step 0.01: 0.01 + 199·0.01 is 2 exactly, so 2 is tried (float steps stopped at
    1.99: a newcomer's finding). filters round(16w) ≤ 32 at w = 2: 27,648 · 32 = 884,736 MACs,
    under a budget of 1M."""
    path = tmp_path / "w.yaml"
    path.write_text(SPEC.replace("{f: 8}", "{w: 1.0}").replace("$f", '"${round(16 * w)}"'))
    code, out, _ = cli(capsys, "fit", path, "--budget", "macs=1M", "--maximize", "w",
                       "--max", "2", "--step", "0.01", "-F", "json")
    assert code == 0 and json.loads(out)["answer"]["value"] == 2.0


def test_a_decimal_budget_is_shown_in_its_own_unit(capsys):
    """24GB is 24·10⁹ bytes: the figures beside it are in GB, not GiB (22.38 GiB marked OVER
    against 24GB read as a mistake). batch 424: 24,034,726,080 B (a newcomer's hand count)."""
    code, out, _ = cli(capsys, "fit", "resnet50", "--budget", "peak_training=24GB", "--dtype",
                       "bf16", "--optimizer", "adam", "--maximize", "batch")
    line = next(x for x in out.splitlines() if x.startswith("training_bytes"))
    assert code == 0 and " GB ok" in line and " GB OVER" in line and "GiB" not in line


def test_res_of_a_windowed_transformer_searches_its_valid_sizes():
    # Swin-T's 7×7 windows at strides 4, 8, 16, 32 take N divisible by 4·7, 8·7, 16·7, 32·7:
    # multiples of 224. Its MACs grow about as N²: 4.49 G at 224, about 4 × at 448 (> 10 G)
    p = run_cli("fit", "swin_t", "--budget", "macs=10G", "--maximize", "res")
    assert p.returncode == 0, p.stderr
    assert "answer: res = 224" in p.stdout and "N divisible by 224" in p.stdout
    s = run_cli("sizes", "swin_t", "--range", "100..1000")
    assert "rule: N divisible by 224 (period 224: from the strides" in s.stdout, s.stdout
