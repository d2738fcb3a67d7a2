"""Layers that run only in training (``train_only: true``, e.g. an auxiliary classifier): shown
and marked, counted in a separate line, left out of the inference MACs, activations, peak and
export. Expected values are worked by hand in the comments, and checked against the same network
written without the auxiliary head."""
from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import run_cli

import archcalc
from archcalc.errors import ArchcalcError

HEAD = """\
name: auxnet
input: 32x32x3
blocks:
  head:
    layers:
      - {op: global_avgpool}
      - {op: fc, units: 10}
layers:
  - {op: conv, name: c1, filters: 8, kernel: 3, padding: 1}
  - {op: relu}
  - {op: conv, name: c2, filters: 16, kernel: 3, stride: 2, padding: 1}
"""
AUX = "  - {block: head, name: aux, train_only: true}\n"
TAIL = """\
  - {op: relu, name: r2, inputs: c2}
  - {op: conv, name: c3, filters: 16, kernel: 3, padding: 1}
  - {op: global_avgpool}
  - {op: fc, units: 10}
"""


def load(tmp_path, text: str, name: str = "net.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return archcalc.load(str(p)), p


def test_totals_by_hand(tmp_path):
    net, _ = load(tmp_path, HEAD + AUX + TAIL)
    t = archcalc.analyze(net).totals
    # parameters: c1 3·3·3·8 + 8 = 224, c2 3·3·8·16 + 16 = 1,168, c3 3·3·16·16 + 16 = 2,320,
    # fc1 16·10 + 10 = 170, and the auxiliary fc 16·10 + 10 = 170: 4,052 (the model holds all)
    assert t.params == 224 + 1168 + 2320 + 170 + 170 == 4052
    assert t.train_only_params == 170
    # MACs: c1 32·32·8·27 = 221,184, c2 16·16·16·72 = 294,912, c3 16·16·16·144 = 589,824,
    # fc1 160; the auxiliary fc's 160 are training only
    assert t.macs == 221184 + 294912 + 589824 + 160 and t.train_only_macs == 160
    # activations: input 3,072 + c1 8,192 + c2 4,096 + c3 4,096 + gap 16 + fc 10 (ReLUs in
    # place); the head's gap 16 + fc 10 are training only
    assert t.activations == 3072 + 8192 + 4096 + 4096 + 16 + 10
    assert t.train_only_activations == 26
    # the peak is while c2 runs: c1's buffer (8,192, read by c2) and c2's (4,096), fp32
    assert (t.peak_bytes, t.peak_layer) == ((8192 + 4096) * 4, "c2")
    # inference loads every weight but the head's; the training step (docs/training-memory.md)
    # holds the weights and two Adam states of all 4,052 and runs the head too: its peak comes
    # as the first ReLU's backward runs, with the input (3,072), the gradients of every weight
    # but c1's (4,052 − 224), the ReLU's output kept for it (8,192), the gradient c2 made of it
    # and the ReLU's own (8,192 each), and both heads' logits (10 each), all fp32
    assert t.param_bytes == (4052 - 170) * 4
    assert t.training_bytes == 4 * (4052 * 3 + 3072 + (4052 - 224) + 3 * 8192 + 2 * 10)


def test_inference_figures_equal_the_network_without_the_head(tmp_path):
    with_aux, _ = load(tmp_path, HEAD + AUX + TAIL, "a.yaml")
    without, _ = load(tmp_path, HEAD + TAIL, "b.yaml")
    a, b = archcalc.analyze(with_aux).totals, archcalc.analyze(without).totals
    for key in ("macs", "activations", "peak_bytes", "peak_layer", "param_bytes", "total_bytes"):
        assert getattr(a, key) == getattr(b, key), key
    assert a.params == b.params + a.train_only_params


def test_a_head_at_the_end_keeps_the_peak_and_warns_of_nothing(tmp_path):
    """Defined after the main path, the head still reads c2: its reads must not keep c2's buffer
    alive in the inference peak, and neither output is reported as 'another output' that nothing
    reads."""
    net, _ = load(tmp_path, HEAD + TAIL + AUX.replace("}", ", inputs: c2}"))
    r = archcalc.analyze(net)
    without = archcalc.analyze(load(tmp_path, HEAD + TAIL, "b.yaml")[0])
    assert r.totals.peak_bytes == without.totals.peak_bytes
    assert [d.message for d in r.diagnostics] == []


def test_rows_are_marked_in_every_format(tmp_path):
    net, p = load(tmp_path, HEAD + AUX + TAIL)
    r = archcalc.analyze(net)
    assert [row.name for row in r.layers if row.train_only] == ["aux/gap1", "aux/fc1"]
    (folded,) = [row for row in r.rows(0) if row.name == "aux"]
    assert folded.train_only and folded.params == 170
    table = run_cli("summary", str(p))
    assert table.returncode == 0
    marked = [line.split()[0] for line in table.stdout.splitlines()
              if "[training only]" in line and not line.startswith("training only:")]
    assert marked == ["aux/gap1", "aux/fc1"]
    assert "training only: 170 params" in table.stdout
    doc = json.loads(run_cli("summary", str(p), "-F", "json").stdout)
    assert [row["name"] for row in doc["layers"] if row["train_only"]] == ["aux/gap1", "aux/fc1"]
    assert doc["totals"]["train_only_macs"] == 160
    rows = list(csv.DictReader(io.StringIO(run_cli("summary", str(p), "-F", "csv").stdout)))
    # the rows that run in inference sum to the totals
    assert sum(int(x["macs"]) for x in rows if x["train_only"] == "false") == r.totals.macs
    assert sum(int(x["params"]) for x in rows) == r.totals.params
    md = run_cli("summary", str(p), "-F", "markdown").stdout
    assert [line.split("|")[1].strip() for line in md.splitlines()
            if line.startswith("|") and "[training only]" in line] == ["aux/gap1", "aux/fc1"]
    assert "- **training only**: 170 params" in md


def test_inference_cannot_read_a_training_only_layer(tmp_path):
    with pytest.raises(ArchcalcError) as e:
        load(tmp_path, HEAD + AUX + TAIL.replace("inputs: c2", "inputs: aux"))
    d = e.value.diagnostics[0]
    assert "reads 'aux/fc1', which runs only in training" in d.message
    assert (d.pos.line, "train_only: true" in d.hint) == (13, True)


def test_train_only_must_be_true_or_false(tmp_path):
    with pytest.raises(ArchcalcError) as e:
        load(tmp_path, HEAD + AUX.replace("true", "3") + TAIL)
    d = e.value.diagnostics[0]
    assert d.message == "train_only: must be true or false, got 3"
    assert (d.pos.line, d.pos.col) == (12, 42)


def test_a_single_layer_and_a_layer_inside_a_block(tmp_path):
    text = HEAD.replace("      - {op: fc, units: 10}\n",
                        "      - {op: fc, units: 10, train_only: true}\n") + \
        "  - {block: head, name: h2}\n"
    # inside the block only the fc is training only; it is the block's last layer, nothing
    # inference runs reads it
    net, _ = load(tmp_path, text)
    t = archcalc.analyze(net).totals
    assert (t.train_only_params, t.train_only_macs) == (170, 160)
    assert [layer.name for layer in net.layers if layer.train_only] == ["h2/fc1"]


def test_the_export_is_the_inference_graph(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    _, p = load(tmp_path, HEAD + AUX + TAIL)
    out = tmp_path / "m.onnx"
    res = run_cli("export", str(p), "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert "3,882 parameters" in res.stdout and "training-only layers" in res.stdout
    m = onnx.load(str(out))
    assert not [n.name for n in m.graph.node if n.name.startswith("aux")]
    assert [o.name for o in m.graph.output] == ["fc1"]
    assert sum(int(__import__("math").prod(t.dims)) for t in m.graph.initializer) == 4052 - 170
    ran = run_cli("run", str(p))
    assert ran.returncode == 0 and "as the analyzer says" in ran.stdout


def test_a_stage_table_can_be_training_only(tmp_path):
    text = HEAD.replace("blocks:\n", "blocks:\n  b:\n    params: {c: null}\n"
                        "    layers: [{op: conv, filters: $c, kernel: 3, padding: 1}]\n") + \
        "  - {stages: {block: b, table: [[c, n], [16, 2]], train_only: true}}\n" + TAIL
    net, _ = load(tmp_path, text)
    assert [layer.name for layer in net.layers if layer.train_only] == \
        ["stage1.0/conv1", "stage1.1/conv1"]
    # two 3×3 convs 16 → 16 on 16×16: 2 · (3·3·16·16 + 16) params, 2 · 16·16·16·144 MACs
    t = archcalc.analyze(net).totals
    assert (t.train_only_params, t.train_only_macs) == (2 * 2320, 2 * 589824)


def test_a_folded_block_counts_the_macs_inference_runs(tmp_path):
    text = """\
name: folded
input: 8x8x3
blocks:
  b:
    layers:
      - {op: conv, name: conv1, filters: 4}
      - {op: fc, name: aux, inputs: conv1, units: 3, train_only: true}
      - {op: relu, name: r, inputs: conv1}
layers:
  - {block: b, name: x, repeat: 2}
"""
    net, p = load(tmp_path, text)
    r = archcalc.analyze(net)
    folded = {row.name: row for row in r.rows(0)}
    # x.0: conv 8·8·4·27 = 6,912 MACs (the aux fc's 8·8·4·3 = 768 are training only); x.1:
    # conv 8·8·4·36 = 9,216
    assert (folded["x.0"].macs, folded["x.1"].macs) == (6912, 9216)
    assert folded["x.0"].params == (27 * 4 + 4) + (256 * 3 + 3) and not folded["x.0"].train_only
    assert sum(row.macs for row in r.rows(0)) == r.totals.macs == 6912 + 9216
    assert sum(row.activations for row in r.rows(0)) == r.totals.activations
    rows = list(csv.DictReader(io.StringIO(run_cli("summary", str(p), "-F", "csv", "--depth",
                                                   "0").stdout)))
    assert sum(int(x["macs"]) for x in rows if x["train_only"] == "false") == r.totals.macs


@pytest.mark.parametrize("key", ["train-only", "tarin_only", "trainonly"])
def test_a_misspelled_train_only_is_named(tmp_path, key):
    with pytest.raises(ArchcalcError) as e:
        load(tmp_path, HEAD + f"  - {{op: relu, {key}: true}}\n")
    d = e.value.diagnostics[0]
    assert (d.message, d.pos.line) == (f"unknown key {key!r}", 12)
    assert d.hint.startswith("did you mean 'train_only'?")


def test_explain_marks_a_training_only_layer(tmp_path):
    _, p = load(tmp_path, HEAD + AUX + TAIL)
    out = run_cli("explain", str(p), "aux/fc1").stdout
    assert "aux/fc1 — fc 10 (1×1×16 → 1×1×10) [training only]" in out
