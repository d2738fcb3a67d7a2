"""A YAML spec's ``outputs:``: the layers the network returns (an FPN's P2…P6). Without it the
outputs are the inference layers nothing reads."""
from __future__ import annotations

import pytest

import archcalc
from archcalc.errors import ArchcalcError

SPEC = """\
name: two_heads
input: 8x8x4
blocks:
  pair:
    layers: [{op: conv, name: a, filters: 4, kernel: 1}, {op: relu, name: r}]
layers:
  - {op: conv, name: c1, filters: 4, kernel: 1}
  - {block: pair, name: p}
  - {op: maxpool, name: down, inputs: c1, kernel: 2}
  - {op: conv, name: last, inputs: down, filters: 4, kernel: 1}
"""


def load(tmp_path, text):
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return archcalc.load(str(path))


def test_without_outputs_the_unread_layers_are_the_outputs(tmp_path):
    net = load(tmp_path, SPEC)
    assert net.declared_outputs is None and net.outputs == ["p/r", "last"]
    (w,) = archcalc.analyze(net).diagnostics
    assert w.layer == "p/r" and w.message.startswith("nothing reads p/r: it is another output")
    assert "outputs: [...]" in w.hint


def test_declared_outputs_are_kept_alive_and_not_warned_about(tmp_path):
    # c1 is read by p/a and down, and listed as an output: it stays alive to the end. A block
    # instance's name stands for its output layer.
    net = load(tmp_path, SPEC + "outputs: [c1, p, last]\n")
    assert net.outputs == ["c1", "p/r", "last"]
    r = archcalc.analyze(net)
    assert r.diagnostics == ()
    # elements, by hand: input 256, c1 256, p/a 256 (p/r in place), down 4·4·4 = 64, last 64.
    # Without the list, c1's buffer is freed after down reads it; with it, c1 is held, so while
    # last runs: c1 256 + p/a 256 + down 64 + last 64 = 640 (the input was freed after c1)
    assert r.totals.peak_bytes == 640 * 4 and r.totals.peak_layer == "last"
    free = archcalc.analyze(load(tmp_path, SPEC)).totals
    # without the list, the peak is while down runs: c1 (read now) + p/a (p/r is an unread
    # output, kept) + down 64 = 576; then c1 is freed and last runs with 256 + 64 + 64 = 384
    assert (free.peak_bytes, free.peak_layer) == (576 * 4, "down")


def test_an_unread_layer_left_out_of_the_list_is_wasted_work(tmp_path):
    r = archcalc.analyze(load(tmp_path, SPEC + "outputs: [last]\n"))
    (w,) = r.diagnostics
    assert w.layer == "p/r" and "outputs: does not list it" in w.message


@pytest.mark.parametrize("outputs, message, col", [
    ("[lsat]", "outputs: no layer 'lsat'", 11),
    ("[last, last]", "outputs: 'last' is listed twice", 17),
    ("[]", "outputs must name one or more layers", 10),
    ("[3]", "outputs name layers, got 3", 11),
    ("[input]", "outputs: the input is not an output", 11),
])
def test_bad_outputs_are_located(tmp_path, outputs, message, col):
    with pytest.raises(ArchcalcError) as e:
        load(tmp_path, SPEC + f"outputs: {outputs}\n")
    d = e.value.diagnostics[0]
    assert (d.message, d.pos.line, d.pos.col) == (message, 11, col)
    if "lsat" in outputs:
        assert "did you mean 'last'?" in d.hint


def test_the_export_returns_the_declared_outputs(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from archcalc.exporters import onnx as ox
    net = load(tmp_path, SPEC + "outputs: [c1, p, last]\n")
    model = onnx.load(ox.export(net, str(tmp_path / "m.onnx"), weights="zeros"))
    assert [o.name for o in model.graph.output] == ["c1", "p/r", "last"]


def test_an_in_place_op_never_overwrites_an_output(tmp_path):
    """c is returned (declared) and read by a ReLU: the ReLU needs a buffer of its own, or the
    returned c would hold relu(c). Elements: input 192, c 8·8·16 = 1,024, r 1,024, d 256."""
    text = ("name: inpl\ninput: 8x8x3\noutputs: [c, d]\nlayers:\n"
            "  - {op: conv, name: c, filters: 16}\n  - {op: relu, name: r, inputs: c}\n"
            "  - {op: conv, name: d, filters: 4}\n")
    r = archcalc.analyze(load(tmp_path, text))
    assert not r["r"].inplace and r["r"].activations == 1024
    assert r.totals.activations == 192 + 1024 + 1024 + 256
    # while d runs: c (kept) + r + d = 2,304 elements (the input was freed after c)
    assert r.totals.peak_bytes == (1024 + 1024 + 256) * 4
    # the same without the list: a view of c that nothing reads is an output, kept likewise
    text = ("name: inpl\ninput: 8x8x16\nlayers:\n"
            "  - {op: conv, name: c, filters: 16}\n  - {op: slice, name: v, inputs: c, end: 8}\n"
            "  - {op: relu, name: r, inputs: c}\n  - {op: conv, name: d, filters: 4}\n")
    r = archcalc.analyze(load(tmp_path, text))
    assert not r["r"].inplace


def test_an_absent_layer_in_outputs_says_what_it_stands_for(tmp_path):
    with pytest.raises(ArchcalcError) as e:
        load(tmp_path, SPEC + '  - {op: relu, name: gone, when: "${1 > 2}"}\n'
             "outputs: [last, gone]\n")
    d = e.value.diagnostics[0]
    assert d.message == "outputs: 'gone' is absent (its when: is false here), so it stands for " \
        "'last'" and (d.pos.line, d.pos.col) == (12, 17)


def test_train_only_on_a_block_definition_points_to_the_instance_line(tmp_path):
    with pytest.raises(ArchcalcError) as e:
        load(tmp_path, SPEC.replace("  pair:\n", "  pair:\n    train_only: true\n"))
    d = e.value.diagnostics[0]
    assert d.message == "unknown key 'train_only' in block 'pair'"
    assert d.hint == "train_only goes on the instance line: - {block: pair, train_only: true}"
