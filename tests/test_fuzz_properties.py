"""Fuzzing and properties, bounded so CI stays fast (benchmarks/fuzz.py runs the long version):
random and mutated specs in every language end in a report or archcalc's own located error;
invariants hold on random valid networks."""
import random

import pytest
from conftest import SPECS
from netgen import check_outcome, mutate, random_text, random_valid

import archcalc

VALID = {
    "string": "(C3D16 R)x2 M C3D32S2P1 BN R A2 FC10 S",
    "letters": "(CRCRP)x2 CRS",
    "table": (SPECS / "vgg_table.tsv").read_text(),
    "markdown": (SPECS / "vgg_table.md").read_text(),
    "yaml": (SPECS / "resnet18.yaml").read_text(),
    "googlenet": (SPECS / "googlenet.yaml").read_text(),
}


@pytest.mark.parametrize("lang", list(VALID))
def test_mutated_specs_end_in_a_report_or_a_located_error(lang):
    rng = random.Random(f"mutate-{lang}")
    outcomes = {"ok": 0, "error": 0}
    for _ in range(150 if lang in ("string", "letters") else 60):
        outcomes[check_outcome(mutate(rng, VALID[lang]))] += 1
    assert outcomes["error"] > 0          # the mutations do break things


def test_random_text_ends_in_a_report_or_a_located_error():
    rng = random.Random("text")
    for _ in range(500):
        check_outcome(random_text(rng))


@pytest.mark.slow                  # 150 random networks grown layer by layer: 10–20 s
def test_random_valid_networks_keep_the_invariants():
    rng = random.Random("properties")
    for _ in range(150):
        text, _, r = random_valid(rng)
        t = r.totals
        # totals are the sums of the rows
        assert t.params == sum(x.params for x in r.layers)
        assert t.trainable_params == sum(x.trainable_params for x in r.layers)
        assert t.macs == sum(x.macs for x in r.layers) and t.flops == 2 * t.macs
        assert t.activations == sum(x.activations for x in r.layers)
        # peak memory never exceeds the summed memory
        assert t.peak_bytes <= t.activation_bytes, text
        # receptive fields never shrink along a path (nor does their stride), except from a
        # gate broadcast over the places into add or mul: its global context is left out of the
        # local window (docs/definitions.md, "Receptive field")
        rows = {x.name: x for x in r.layers}
        for x in r.layers:
            for s in x.inputs:
                a, b = rows[s].rf, x.rf
                if x.op in ("add", "mul") and rows[s].output[:2] != x.output[:2]:
                    assert 1 in rows[s].output[:2], text      # only a size 1 broadcasts
                    continue
                if not b.is_global:
                    assert not a.is_global, text
                    assert b.size[0] >= a.size[0] and b.size[1] >= a.size[1], text
                    assert b.stride[0] >= a.stride[0] and b.stride[1] >= a.stride[1], text


@pytest.mark.slow                  # 5–10 s
def test_a_chain_analyzed_twice_gives_identical_reports():
    rng = random.Random("determinism")
    for _ in range(20):
        text, _, r = random_valid(rng, dag=False)
        assert archcalc.analyze(archcalc.parse(text)).to_dict() == r.to_dict()
