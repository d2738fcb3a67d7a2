"""Counting conventions (docs/definitions.md, "Counting conventions"): each convention's count
derived by hand on a small network, and fvcore's and FlopCounterMode's own counts of the same
networks built in PyTorch (optional: they need torch, fvcore, torchvision)."""
import json

import pytest
from conftest import run_cli

import archcalc
from archcalc.analysis import conventions

SMALL = """
name: small
input: [8, 8, 3]
layers:
  - {op: conv, filters: 8, kernel: 3, padding: 1, bias: false}
  - {op: batchnorm}
  - {op: relu}
  - {op: layernorm}
  - {op: upsample, scale: 2, mode: bilinear}
  - {op: global_avgpool}
  - {op: fc, units: 10}
"""
CONV = 8 * 8 * 8 * 3 * 3 * 3          # 13,824
FC = 8 * 10                           # 80
BN = 2 * 8 * 8 * 8                    # scale and shift per element at inference
LN = 5 * 8 * 8 * 8                    # fvcore's 5 per element of an affine norm
UP = 4 * 16 * 16 * 8                  # bilinear: 4 per output element
GAP = 16 * 16 * 8                     # an adaptive average: 1 per input element
# everything (docs/definitions.md, "The operations ledger"): conv mul 13,824 + add 13,824 − 512
# (no bias) = 27,136; batchnorm 2·512 = 1,024; relu 512; layernorm, 64 groups of 8: add 64·7 +
# 512 + 64·7 + 64 + 512 = 1,984, div 64 + 64 + 512 = 640, mul 512 + 512 = 1,024, √ 64 → 3,712;
# bilinear 7·2,048 = 14,336; global average 8·255 + 8 = 2,048; fc 80 + 80 = 160
EVERYTHING = 27_136 + 1_024 + 512 + 3_712 + 14_336 + 2_048 + 160     # 48,928


def test_each_convention_by_hand():
    r = archcalc.analyze(archcalc.parse(SMALL))
    assert conventions.total(r, "torchvision") == CONV + FC == r.totals.macs
    assert conventions.total(r, "fvcore") == CONV + FC + BN + LN + UP + GAP
    assert conventions.total(r, "flopcounter") == 2 * (CONV + FC) == r.totals.flops
    under = conventions.under(r, "fvcore")
    assert under.totals.macs == CONV + FC + BN + LN + UP + GAP
    assert [row.macs for row in under.layers] == [0, CONV, BN, 0, LN, UP, GAP, FC]
    # nothing else changes
    assert under.totals.params == r.totals.params
    assert under.totals.peak_bytes == r.totals.peak_bytes


def test_summary_convention_option_and_json():
    r = run_cli("summary", SMALL, "--convention", "fvcore")
    assert r.returncode == 0, r.stderr
    assert f"MACs (fvcore): {CONV + FC + BN + LN + UP + GAP:,}" in r.stdout
    r = run_cli("summary", SMALL, "-F", "json")
    got = json.loads(r.stdout)["totals"]["conventions"]
    assert got == {"torchvision": CONV + FC, "fvcore": CONV + FC + BN + LN + UP + GAP,
                   "flopcounter": 2 * (CONV + FC), "everything": EVERYTHING}
    r = run_cli("summary", SMALL, "--convention", "fvcor")
    assert r.returncode == 2
    assert ("--convention must be one of torchvision, fvcore, flopcounter, everything, got "
            "'fvcor'") in r.stderr and "did you mean 'fvcore'?" in r.stderr


def test_default_figures_do_not_change():
    # every shipped CNN keeps its tested numbers under the default
    r = archcalc.analyze(archcalc.load("resnet50"))
    assert conventions.under(r, "torchvision") is r
    assert r.totals.macs == 4_089_184_256


def _torchvision():
    pytest.importorskip("fvcore")
    from conftest import import_torchvision
    return import_torchvision()


def _fvcore(model, shape):
    import torch
    from fvcore.nn import FlopCountAnalysis
    with torch.no_grad():
        f = FlopCountAnalysis(model.eval(), torch.randn(1, *shape))
        f.unsupported_ops_warnings(False)
        f.uncalled_modules_warnings(False)
        return f.total()


def _flopcounter(model, shape):
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as m:
        model.eval()(torch.randn(1, *shape))
    return m.get_total_flops()


def test_the_small_network_as_fvcore_and_flopcounter_count_it():
    torch = pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    from torch import nn

    class LN2d(nn.LayerNorm):           # over the channels at each place
        def forward(self, x):
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                          nn.ReLU(), LN2d(8), nn.Upsample(scale_factor=2, mode="bilinear"),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    r = archcalc.analyze(archcalc.parse(SMALL))
    assert _fvcore(model, (3, 8, 8)) == conventions.total(r, "fvcore")
    assert _flopcounter(model, (3, 8, 8)) == conventions.total(r, "flopcounter")
    assert torch is not None


@pytest.mark.slow                     # torchvision's import and two traces: about 15 s
@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2", "densenet121", "convnext_tiny",
                                  "swin_t"])
def test_torchvision_cnns_as_fvcore_counts_them(name):
    torch, torchvision = _torchvision()
    model = getattr(torchvision.models, name)()
    r = archcalc.analyze(archcalc.load(name))
    assert _fvcore(model, (3, 224, 224)) == conventions.total(r, "fvcore")
    assert _flopcounter(model, (3, 224, 224)) == conventions.total(r, "flopcounter")
    assert torch is not None


def test_deit_as_fvcore_counts_it_by_hand():
    # DeiT's tables are fvcore's count of timm's ViT with explicit q @ k.T and attn @ v
    # (fused attention off): the MACs, plus LayerNorm's 5 per element (25 LayerNorms of
    # 197 tokens). DeiT-B (vit_b_16's shape): 17,563,828,224 + 25·197·768·5 = 17,582,740,224,
    # "17.6 G"; DeiT-S: 4,598,882,304 + 25·197·384·5 = 4,608,338,304, "4.6 G".
    for spec, macs, c in (("vit_b_16", 17_563_828_224, 768), ("deit_s", 4_598_882_304, 384)):
        r = archcalc.analyze(archcalc.load(spec))
        assert r.totals.macs == macs
        assert conventions.total(r, "fvcore") == macs + 25 * 197 * c * 5


def test_every_command_that_counts_takes_the_convention(tmp_path):
    total = CONV + FC + BN + LN + UP + GAP
    r = run_cli("compare", SMALL, "--convention", "torchvision,fvcore,flopcounter", "-F", "json")
    assert r.returncode == 0, r.stderr
    nets = json.loads(r.stdout)["networks"]
    assert [n["macs"] for n in nets.values()] == [CONV + FC, total, CONV + FC]
    assert [n["flops"] for n in nets.values()] == [2 * (CONV + FC), 2 * total, 2 * (CONV + FC)]
    assert list(nets) == ["small (torchvision)", "small (fvcore)", "small (flopcounter)"]
    r = run_cli("diff", SMALL, SMALL.replace("units: 10", "units: 20"), "--convention", "fvcore",
                "-F", "json")
    macs = [t for t in json.loads(r.stdout)["totals"] if t["key"] == "macs"][0]
    assert (macs["before"], macs["after"]) == (total, total + 8 * 10)
    assert macs["label"] == "MACs (fvcore)"
    r = run_cli("validate", SMALL, "--convention", "fvcore", "--max-macs", str(total - 1))
    assert r.returncode == 1 and "MACs" in r.stdout
    # the Python API
    net = archcalc.parse(SMALL)
    assert archcalc.analyze(net, convention="fvcore").totals.macs == total
    # estimate predicts time from the work done, whatever a paper counted: no --convention
    r = run_cli("estimate", SMALL, "-D", "t4", "--convention", "fvcore")
    assert r.returncode == 2 and "--convention" in r.stderr


def test_a_sweep_counts_every_variant_under_the_convention():
    total = CONV + FC + BN + LN + UP + GAP
    r = run_cli("sweep", SMALL, "--set", "batch=1,2", "-F", "csv", "--convention", "fvcore")
    assert r.returncode == 0, r.stderr
    rows = r.stdout.splitlines()
    macs = rows[0].split(",").index("macs")
    assert [int(row.split(",")[macs]) for row in rows[1:]] == [total, total]


def test_the_totals_by_convention_do_not_depend_on_the_one_chosen():
    # (a report counted under fvcore once gave fvcore's count as "torchvision" in its JSON)
    got = {c: json.loads(run_cli("summary", SMALL, "--convention", c, "-F", "json").stdout)
           ["totals"]["conventions"] for c in ("torchvision", "fvcore", "flopcounter",
                                                "everything")}
    assert len({json.dumps(v, sort_keys=True) for v in got.values()}) == 1, got
    assert got["fvcore"]["torchvision"] == CONV + FC
    r = archcalc.analyze(archcalc.parse(SMALL), convention="fvcore")
    assert conventions.under(r, "torchvision").totals.macs == CONV + FC


def test_a_prediction_of_time_follows_the_work_not_the_convention():
    from archcalc import latency
    from archcalc.latency import model
    net = archcalc.parse(SMALL)
    t4 = latency.device("t4")
    base = model.estimate(archcalc.analyze(net), t4)
    for c in ("fvcore", "everything"):
        other = model.estimate(archcalc.analyze(net, convention=c), t4)
        assert other.flops == base.flops == 2 * (CONV + FC) and other.time_s == base.time_s


def test_every_view_of_a_count_says_whose_it_is():
    """Under a convention other than torchvision's the MACs say so wherever they are shown:
    compare's rows and JSON, validate's budget message and line, fit's table, sweep's note
    and JSON lines (the default's are plain MACs, as before)."""
    r = run_cli("compare", SMALL, "--convention", "fvcore")
    assert "MACs (fvcore)" in r.stdout and "FLOPs (fvcore)" in r.stdout, r.stdout
    assert "MACs (fvcore)" not in run_cli("compare", SMALL).stdout
    doc = json.loads(run_cli("compare", SMALL, "--convention", "everything", "-F", "json").stdout)
    assert [n["convention"] for n in doc["networks"].values()] == ["everything"]
    r = run_cli("compare", SMALL, "--convention", "everything")
    assert "operations (everything)" in r.stdout, r.stdout
    r = run_cli("validate", SMALL, "--max-macs", "1", "--convention", "fvcore")
    assert r.returncode == 1
    assert "over budget: MACs per image (fvcore)" in r.stdout + r.stderr
    assert "budgets: macs (fvcore)" in r.stdout
    r = run_cli("fit", SMALL, "--budget", "training=1MiB", "--maximize", "batch",
                "--convention", "fvcore")
    assert "MACs counted as fvcore" in r.stdout and "MACs (fvcore)" in r.stdout, r.stdout
    r = run_cli("sweep", SMALL, "--set", "batch=1..2", "--convention", "fvcore")
    assert "(MACs: counted under the fvcore convention" in r.stdout, r.stdout
    r = run_cli("sweep", SMALL, "--set", "batch=1..2", "--convention", "fvcore", "-F", "jsonl")
    assert all(json.loads(line)["convention"] == "fvcore" for line in r.stdout.splitlines())
