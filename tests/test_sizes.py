"""archcalc sizes (archcalc/sizes.py): the valid input sizes and their rule, checked by hand on
the lectures' nets and VGG16/ResNet-50."""
import json

import pytest
from design_helpers import cli

import archcalc
from archcalc.design import sizes as sz

# the lectures' net: 3×3 same convolutions and four 2×2/2 max pools
LECTURE = "C3D64 M C3D128 M C3D256 M C3D512 M FC10"


def test_four_pools_need_n_divisible_by_16_under_exact(capsys):
    # each 2×2/2 pool halves exactly only an even size: N, N/2, N/4, N/8 all even ⟺ 16 | N
    code, out, _ = cli(capsys, "sizes", LECTURE, "--range", "1..256", "--rounding", "exact",
                       "-F", "json")
    doc = json.loads(out)
    assert code == 0
    assert [v["size"] for v in doc["valid"]] == list(range(16, 257, 16))
    assert doc["rule"]["text"] == "N divisible by 16"
    assert (doc["rule"]["period"], doc["rule"]["residues"]) == (16, [0])
    # the final feature map (pool4's output) is N/16 × N/16 × 512, its field 3·... by hand:
    # conv 3 → 3, pool +1 → 4 (jump 2), conv +4 → 8, pool +2 → 10 (jump 4), conv +8 → 18,
    # pool +4 → 22 (jump 8), conv +16 → 38, pool +8 → 46 (jump 16)
    v = doc["valid"][1]
    assert v["feature_map"] == {"layer": "pool4", "output": [2, 2, 512]}
    assert v["rf"]["size"] == [46, 46] and v["rf"]["stride"] == [16, 16]


def test_floor_takes_every_size_from_16(capsys):
    # floor never refuses a fraction; four 2×2 pools need N ≥ 16 (pool4 needs 2 pixels)
    code, out, _ = cli(capsys, "sizes", LECTURE, "-r", "1..100", "--rounding", "floor",
                       "-F", "json")
    doc = json.loads(out)
    assert code == 0 and [v["size"] for v in doc["valid"]] == list(range(16, 101))
    assert doc["rule"]["text"] == "every N ≥ 16"


def test_vgg16_takes_multiples_of_32_and_each_pool_refuses_its_residues(capsys):
    # five 2×2/2 pools: pool k refuses N whose size at it is odd: N ≡ 2^(k-1) (mod 2^k)
    code, out, _ = cli(capsys, "sizes", "vgg16", "-r", "32..1024", "-F", "json")
    doc = json.loads(out)
    assert code == 0
    assert [v["size"] for v in doc["valid"]] == list(range(32, 1025, 32))
    assert doc["rule"]["text"] == "N divisible by 32"
    groups = {g["layer"]: g for g in doc["invalid"]}
    for k in range(1, 6):
        want = [n for n in range(32, 1025) if n % 2 ** k == 2 ** (k - 1)]
        assert groups[f"pool{k}"]["sizes"] == want
    assert groups["pool1"]["runs"] == ["33..1023/2"]
    assert groups["pool5"]["runs"] == ["48..1008/32"]
    at224 = next(v for v in doc["valid"] if v["size"] == 224)
    assert at224["feature_map"] == {"layer": "pool5", "output": [7, 7, 512]}
    assert at224["rf"]["size"] == [212, 212]            # VGG16's published field


def test_min_output_7x7_starts_vgg16_at_224(capsys):
    code, out, _ = cli(capsys, "sizes", "vgg16", "-r", "32..1024", "--min-output", "7x7")
    assert code == 0
    assert "rule: N divisible by 32, N ≥ 224" in out
    assert "valid: 26 of 993" in out            # 224, 256, …, 1024


def test_resnet50_takes_every_size(capsys):
    # by hand: conv1 7×7/2 p3 and the 3×3/2 p1 convs leave at most r − P ≤ 0 pixels unseen,
    # the 1×1/2 downsample at most 1 = S − F_eff: the covered rule accepts every size, and the
    # two paths into each add agree (⌈N/2⌉ both)
    code, out, _ = cli(capsys, "sizes", "resnet50", "-r", "1..70", "-F", "json")
    doc = json.loads(out)
    assert code == 0 and doc["invalid"] == []
    assert [v["size"] for v in doc["valid"]] == list(range(1, 71))
    assert doc["rule"]["text"] == "every N ≥ 1"
    at64 = next(v for v in doc["valid"] if v["size"] == 64)
    assert at64["feature_map"]["output"] == [2, 2, 2048]


def test_alexnet_rule_from_its_strides(capsys):
    # conv1 11×11/4 without padding: N ≡ 3 (mod 4); pools 3×3/2 at jumps 4, 8, 16 need odd
    # sizes: N ≡ 3 (mod 32); N ≥ 67 (N = 35 leaves pool5 a 1-pixel input under a 3-wide
    # window); the adaptive pool to 6×6 takes any size, as PyTorch's (uneven windows)
    code, out, _ = cli(capsys, "sizes", "alexnet", "-r", "32..1024", "-F", "json")
    doc = json.loads(out)
    assert code == 0 and [v["size"] for v in doc["valid"]] == list(range(67, 1025, 32))
    assert doc["rule"]["text"] == "N ≡ 3 (mod 32), N ≥ 67"


def test_every_size_invalid_is_exit_1_with_the_first_reasons(capsys):
    code, _, err = cli(capsys, "sizes", "alexnet", "-r", "32..66")
    assert code == 1
    assert "no input size in 32..66 is valid" in err
    assert "N = 32: conv1" in err and "N = 34" in err


@pytest.mark.parametrize("args, needle", [
    (["-r", "100..32"], "holds no values"), (["-r", "32..100/0"], "step of zero"),
    (["-r", "32..64", "--min-output", "7y"], "--min-output"),
    (["-r", "32..64", "--axis", "depth"], "--axis"),
    (["-r", "32..64", "--set", "res=3"], "drop --set res")])
def test_bad_usage_is_exit_2(capsys, args, needle):
    code, _, err = cli(capsys, "sizes", "vgg16", *args)
    assert code == 2 and needle in err


def test_height_axis_keeps_the_width(capsys):
    code, out, _ = cli(capsys, "sizes", "vgg16", "-r", "200..300", "--axis", "height", "-F",
                       "json")
    doc = json.loads(out)
    assert code == 0
    assert [v["input"] for v in doc["valid"]] == [[224, 224, 3], [256, 224, 3], [288, 224, 3]]


def test_a_spec_computed_from_the_input_size_is_read_again(capsys):
    # the conv's filters are in.h: its output channels follow the size (no shortcut walk)
    spec = ("blocks:\n  b:\n    layers:\n      - {op: conv, filters: \"${in.h}\", kernel: 1}\n"
            "layers:\n  - {op: maxpool, kernel: 2}\n  - {block: b}\n")
    net = archcalc.parse(spec)
    assert net.size_dependent
    got = sz.evaluate(net, [8, 10], reload=lambda vol: archcalc.parse(
        spec, input=f"{vol[0]}x{vol[1]}x{vol[2]}"))
    assert [s.feature for s in got] == [(4, 4, 4), (5, 5, 5)]
    assert not archcalc.load("specs/resnet.yaml").size_dependent     # res only in input:


def test_progressions_and_derive():
    assert sz.progressions([1, 3, 5, 7, 10, 11, 12, 20]) == ["1..7/2", "10..12", "20"]
    valid = {n: n % 8 in (0, 3) and n >= 20 for n in range(1, 100)}
    rule = sz.derive(valid, 1, 99, 8)
    assert rule.text == "N mod 8 ∈ {0, 3}, N ≥ 24"
    valid = {n: n % 4 == 0 for n in range(1, 30)}
    assert sz.derive(valid, 1, 29, 8).text == "N divisible by 4"     # 8 reduced to 4
    rule = sz.derive(valid, 1, 29, 32)       # too short to see 32 twice: what the sizes show
    assert (rule.text, rule.source) == ("N divisible by 4", "observed")
    assert "no periodic rule" in sz.derive({n: n in (5, 6, 17) for n in range(1, 20)}, 1, 19,
                                           None).text


@pytest.mark.parametrize("name", ["vgg16", "alexnet", "unet", "inception_v3", "fpn_resnet18",
                                  "zfnet", "googlenet"])
def test_the_shape_pass_refuses_as_the_analysis_pass(name):
    # sizes classifies each size with the shape rules alone; the whole pass must agree on
    # whether it is valid and on the first error
    from archcalc.analysis import walk
    net = archcalc.load(f"specs/{name}.yaml")
    for n in (31, 33, 64, 100, 188, 227, 299):
        vol = (n, n, net.input[2])
        d = sz.first_error(net, vol)
        _, diags, errors, _ = walk(net, input=vol)
        assert (d is None) == (errors == 0)
        if d is not None:
            w = next(x for x in diags if x.severity == "error")
            assert (d.layer, d.message) == (w.layer, w.message)
