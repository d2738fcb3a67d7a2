"""Random valid networks (conv/pool/fc chains and small DAGs with random kernels, strides,
paddings, dilations, groups, channels): the volumes onnxruntime computes when it runs the
exported graph equal the analyzer's, and the exported initializers hold exactly the analyzer's
parameter count. Bounded here; benchmarks/oracle.py runs 1,000 networks."""
import random

import pytest

import archcalc
from conftest import SPECS
from netgen import random_valid
from oracle import disagreements


@pytest.mark.parametrize("seed", range(40))
def test_random_network_agrees_with_onnxruntime(seed):
    text, net, report = random_valid(random.Random(f"oracle-{seed}"))
    assert disagreements(net, report) == [], text


@pytest.mark.parametrize("spec", ["resnet18.yaml", "googlenet.yaml", "mobilenet_v1.yaml",
                                  "lenet5.yaml", "zfnet.yaml"])
def test_shipped_network_agrees_with_onnxruntime(spec):
    net = archcalc.load(SPECS / spec)
    assert disagreements(net, archcalc.analyze(net), batch=1) == []


def test_the_oracle_catches_a_wrong_volume_and_a_wrong_count():
    from dataclasses import replace
    net = archcalc.parse("C3D8 M FC10", input=(8, 8, 3))
    r = archcalc.analyze(net)
    rows = tuple(row._replace(output=(3, 3, 8)) if row.name == "pool1" else row for row in r.layers)
    bad = replace(r, layers=rows, totals=replace(r.totals, params=r.totals.params + 1))
    found = disagreements(net, bad)
    assert any("pool1" in f for f in found) and any("initializers" in f for f in found)
