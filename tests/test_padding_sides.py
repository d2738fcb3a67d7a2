"""Padding given per side, [top, bottom, left, right] (as imported models need it: TensorFlow's
SAME, ONNX pads)."""
from __future__ import annotations

import json

import pytest
from conftest import run_cli

import archcalc

SPEC = """name: sides
input: 8x8x3
layers:
  - {name: c, op: conv, filters: 4, kernel: 3, stride: 2, padding: [0, 1, 0, 1]}
  - {name: p, op: maxpool, kernel: 3, stride: 2, padding: [0, 1, 1, 1]}
  - {name: d, op: conv, filters: 4, kernel: 3, padding: [1, 1, 2, 2]}
"""


def rows():
    r = archcalc.analyze(archcalc.parse(SPEC))
    return {row.name: row for row in r.layers}


def test_sizes_and_receptive_fields_by_hand():
    got = rows()
    # c: (8 − 3 + 0 + 1)/2 + 1 = 4 both ways; RF 3, jump 2, first centre 1 − 0 = 1
    assert got["c"].output == (4, 4, 4)
    assert got["c"].rf.size == (3, 3) and got["c"].rf.start == (1.0, 1.0)
    # p: height (4 − 3 + 0 + 1)/2 + 1 = 2; width (4 − 3 + 1 + 1)/2 + 1 = 2.5 → 2 (floor:
    # the end padding takes the dropped column); RF 3 + 2·2 = 7, jump 4; centres: height
    # 1 + (1 − 0)·2 = 3, width 1 + (1 − 1)·2 = 1
    assert got["p"].output == (2, 2, 4)
    assert got["p"].rf.size == (7, 7) and got["p"].rf.start == (3.0, 1.0)
    # d: a symmetric 4-list is the pair [1, 2]: (2 − 3 + 2)/1 + 1 = 2 high, (2 − 3 + 4) + 1 = 4 wide
    assert got["d"].output == (2, 4, 4) and got["d"].attrs["padding"] == (1, 2)
    assert "pads_end" not in got["d"].attrs


def test_views_show_the_four_sides():
    doc = json.loads(run_cli("summary", "-", "-F", "json", input_text=SPEC).stdout)
    by = {r["name"]: r for r in doc["layers"]}
    assert by["c"]["attrs"]["padding"] == [0, 1, 0, 1]
    assert by["p"]["attrs"]["padding"] == [0, 1, 1, 1]
    assert by["d"]["attrs"]["padding"] == [1, 2]
    table = run_cli("summary", "-", input_text=SPEC).stdout
    assert "p[0,1,0,1]" in table
    text = run_cli("explain", "-", "c", input_text=SPEC).stdout
    assert "(H − F + P_b + P_e)/S + 1 = (8 − 3 + 0 + 1)/2 + 1 = 4" in text


def test_bad_four_sides():
    bad = SPEC.replace("[0, 1, 0, 1]", "[0, -1, 0, 1]")
    p = run_cli("summary", "-", input_text=bad)
    assert p.returncode == 1 and "padding must be at least 0" in p.stderr
    bad = SPEC.replace("[0, 1, 0, 1]", "[0, 1, 0]")
    p = run_cli("summary", "-", input_text=bad)
    assert p.returncode == 1 and "Traceback" not in p.stderr


def test_onnx_runs_the_four_sides():
    ort = pytest.importorskip("onnxruntime")
    np = pytest.importorskip("numpy")
    from archcalc.exporters import onnx as ox
    net = archcalc.parse(SPEC)
    model = ox.to_model(net, weights="random")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    out = sess.run(None, {"input": np.zeros((1, 3, 8, 8), np.float32)})
    assert out[names.index("d")].shape == (1, 4, 2, 4)
