"""archcalc sizes states the rule the strides imply whatever the range shown: the rule is checked
over as many sizes beyond the range as its period needs (and says where), the listing keeps to
the range asked, and no rule is read off a short range's tail."""
import json
import random
import re

import pytest
from design_helpers import cli

import archcalc
from archcalc.design import sizes as sz
from archcalc.design.parameters import Design


def doc_of(capsys, *args):
    code, out, _ = cli(capsys, "sizes", *args, "-F", "json")
    return code, json.loads(out)


# AlexNet (by hand, tests/test_sizes.py): conv1 11×11/4 needs N ≡ 3 (mod 4), the three 3×3/2
# pools odd sizes at jumps 4, 8, 16: N ≡ 3 (mod 32); pool5 needs a 3-wide input, N ≥ 67; the
# adaptive pool to 6×6 takes any size (PyTorch's uneven windows)
@pytest.mark.parametrize("first, last, valid", [
    (200, 260, [227, 259]), (200, 500, list(range(227, 501, 32))),
    (200, 1000, list(range(227, 1001, 32)))])
def test_alexnet_rule_whatever_the_range(capsys, first, last, valid):
    code, doc = doc_of(capsys, "alexnet", "-r", f"{first}..{last}")
    assert code == 0
    assert doc["rule"]["text"] == "N ≡ 3 (mod 32)"
    assert (doc["rule"]["period"], doc["rule"]["residues"]) == (32, [3])
    lo, hi = doc["rule"]["checked"]
    assert lo == first and hi - lo + 1 >= 2 * 32 and hi >= last      # the period, twice
    assert [v["size"] for v in doc["valid"]] == valid            # the listing: the range only
    assert max(n for g in doc["invalid"] for n in g["sizes"]) == last


def test_the_text_says_where_the_rule_was_checked(capsys):
    code, out, _ = cli(capsys, "sizes", "alexnet", "-r", "200..260")
    assert code == 0
    m = re.search(r"rule: N ≡ 3 \(mod 32\) \(period 32: from the strides, checked on "
                  r"200\.\.(\d+)\)", out)
    assert m and int(m.group(1)) >= 200 + 2 * 32 - 1, out
    assert "no size from" not in out and "valid: 2 of 61" in out


def test_a_range_without_a_valid_size_still_gets_the_rule(capsys):
    code, doc = doc_of(capsys, "alexnet", "-r", "1..10")
    assert code == 1 and doc["valid"] == []
    assert doc["rule"]["text"] == "N ≡ 3 (mod 32), N ≥ 67"


def test_a_short_range_of_a_period_one_network(capsys):
    # ResNet-50 takes every size (tests/test_sizes.py): said for 1..5 too, checked past it
    code, doc = doc_of(capsys, "resnet50", "-r", "1..5")
    assert code == 0 and doc["rule"]["text"] == "every N ≥ 1"
    assert doc["rule"]["checked"][1] >= 64           # its strides' period, 32, seen twice


def test_an_observed_tail_of_refused_sizes_is_no_rule():
    valid = {n: n in (5, 13) for n in range(1, 41)}
    assert "no size from" not in sz.derive(valid, 1, 40, None).text


@pytest.mark.parametrize("spec", ["alexnet", "vgg16", "zfnet", "googlenet", "lenet5",
                                  "C11D8S4P0 M3S2 C5D8P2 M3S2 C3D8 M3S2",
                                  "C7D8S2P3 M3S2P1 C3D8S2 M2 C1D8S3"])
def test_the_rule_of_a_short_range_holds_far_beyond_it(spec):
    """The rule stated for a random short range agrees, size for size, with the analysis of
    every size up to 1200 from where it says it holds."""
    net = archcalc.load(spec) if " " not in spec else archcalc.parse(spec)
    truth = {n: sz.first_error(net, (n, n, net.input[2])) is None for n in range(1, 1201)}
    rng = random.Random(spec)
    for _ in range(4):
        lo = rng.randint(1, 400)
        hi = lo + rng.randint(0, 60)
        got = sz.sizes(Design(spec), range(lo, hi + 1))
        rule = got.rule
        assert [s.n for s in got.valid] == [n for n in range(lo, hi + 1) if truth[n]]
        if rule.period is None:
            assert rule.source != "observed" and "no size from" not in rule.text, rule
            continue
        for n in range(max(rule.start or lo, lo), 1201):
            assert truth[n] == (n % rule.period in rule.residues), (spec, lo, hi, rule, n)
