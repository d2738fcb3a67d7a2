"""Input and errors: specs read as written or refused with a hint that fits where the
user stands (rounding default, network-level fixes, all errors at once, stdin, ONNX files)."""
from __future__ import annotations

import pytest

import archcalc
from archcalc.analysis import diagnose
from archcalc.cli.guard import exit_code
from archcalc.errors import ArchcalcError, SourcePos
from archcalc.ops import window_out


def out(n, k, s=1, p=0, d=1, rounding="covered"):
    return window_out(n, k, s, p, d, rounding, "width", "L", SourcePos())


def errors_of(fn, *args, **kw):
    with pytest.raises(ArchcalcError) as ei:
        fn(*args, **kw)
    return ei.value.diagnostics


# ---------------------------------------------------------------------------------------------
# the default rounding rule: covered

def test_covered_accepts_a_fraction_where_only_padding_goes_unused():
    # 3×3/2 padding 1 on 32: (32 − 3 + 2)/2 + 1 = 16.5; r = 31 mod 2 = 1 = the right padding → 16
    assert out(32, 3, s=2, p=1) == 16
    # torchvision AlexNet conv1 11×11/4 padding 2 on 224: (224 − 11 + 4)/4 + 1 = 55.25;
    # r = 217 mod 4 = 1 ≤ padding 2 → 55
    assert out(224, 11, s=4, p=2) == 55
    # ResNet's 1×1/2 downsample on 56: 55/2 + 1 = 28.5; pixel 55 is skipped by the stride anyway
    assert out(56, 1, s=2) == 28
    # ZFNet conv1 7×7/2 padding 1 on 224: 219/2 + 1 = 110.5; r = 1 = padding → 110
    assert out(224, 7, s=2, p=1) == 110


def test_covered_refuses_when_real_pixels_go_unseen():
    # original AlexNet conv1 11×11/4 padding 0 on 224: 213/4 + 1 = 54.25, r = 1 real pixel unseen
    with pytest.raises(ArchcalcError) as ei:
        out(224, 11, s=4)
    d = ei.value.diagnostics[0]
    assert "54.25" in d.message and "unseen" in d.message
    # 223 (212/4 + 1 = 54) and 227 (216/4 + 1 = 55) are exact; padding 2 leaves r = 1 ≤ 2
    assert "227" in d.hint and "223" in d.hint and "padding 2" in d.hint
    # a 2×2/2 pool on 25 (VGG16's pool4 at 100×100): 23/2 + 1 = 12.5, the 25th row unseen
    with pytest.raises(ArchcalcError):
        out(25, 2, s=2)


def test_exact_floor_ceil_stay():
    with pytest.raises(ArchcalcError):
        out(32, 3, s=2, p=1, rounding="exact")
    assert out(224, 11, s=4, rounding="floor") == 54
    assert out(224, 11, s=4, rounding="ceil") == 55


def test_default_rounding_everywhere_is_covered():
    # C3D32S2 on 32×32 is 16×16×32 by default in a string, a YAML spec and a table
    net = archcalc.parse("C3D32S2", input=(32, 32, 3))
    assert net.rounding == "covered"
    assert archcalc.analyze(net)["conv1"].output == (16, 16, 32)
    y = archcalc.parse("name: y\ninput: 32x32x3\nlayers: [C3D32S2]\n")
    assert y.rounding == "covered" and archcalc.analyze(y)["conv1"].output == (16, 16, 32)
    t = archcalc.parse("Name:\tA\n\tC3D32S2\n", input=(32, 32, 3), column="A")
    assert archcalc.analyze(t)["conv1"].output == (16, 16, 32)
    # exact is still available from every front-end
    with pytest.raises(ArchcalcError):
        archcalc.analyze(archcalc.parse("C3D32S2", input=(32, 32, 3), rounding="exact"))


def test_shipped_specs_need_no_rounding_lines_but_caffe_pools():
    import glob
    for path in glob.glob("specs/*.yaml"):
        text = open(path).read()
        if "rounding: floor" in text:     # kept only where the default would refuse the layer:
            # SqueezeNet 1.1's conv1, (224 − 3)/2 + 1 = 111.5, leaves a real row unseen
            with pytest.raises(ArchcalcError):
                archcalc.analyze(archcalc.parse(text.replace(", rounding: floor", "")))
    # ZFNet and GoogLeNet keep their Caffe ceil pools
    assert "rounding: ceil" in open("specs/zfnet.yaml").read()
    assert "rounding: ceil" in open("specs/googlenet.yaml").read()


# ---------------------------------------------------------------------------------------------
# hints name the network input, in the spelling of where the user stands

def _first_error(net):
    return next(d for d in diagnose(net) if d.severity == "error")


def test_deep_division_suggests_network_inputs_for_a_spec_string():
    # VGG16's convs keep the size; its five 2×2/2 pools need an even input each, so the input must
    # be a multiple of 2^5 = 32: 100 → 50 → 25 → 12.5 (pool3). Nearest: 96 and 128.
    net = archcalc.parse("(C3D64 C3D64 M)x2 (C3D256 C3D256 C3D256 M)x3 FC10", input="100x100x3")
    d = _first_error(net)
    assert d.layer == "pool3"
    assert "-i 96x96x3" in d.hint and "-i 128x128x3" in d.hint
    assert "--rounding floor" in d.hint
    # the layer's own input (25 → 24 or 26) is not what the user can set
    assert "24" not in d.hint and "26" not in d.hint
    with pytest.raises(ArchcalcError) as ei:
        archcalc.analyze(net)
    assert "-i 96x96x3" in ei.value.diagnostics[0].hint


def test_deep_division_hint_in_yaml_spelling():
    # VGG16 at 100×100: 100 → 50 → 25 → 12.5 at pool3; the nearest inputs every pool divides
    # are 96 and 128 (multiples of 32). The input written in the YAML: YAML's spelling.
    text = open("specs/vgg16.yaml").read().replace("input: 224x224x3", "input: 100x100x3")
    assert "input: 100x100x3" in text
    d = _first_error(archcalc.parse(text, file="vgg16.yaml"))
    assert "input: 96x96x3" in d.hint and "input: 128x128x3" in d.hint
    assert "rounding: floor" in d.hint and "--rounding" not in d.hint and "-i " not in d.hint
    # the input given as an option (-i, input=): the option's spelling, where the user set it
    d = _first_error(archcalc.load("specs/vgg16.yaml", input="100x100x3"))
    assert "-i 96x96x3 or -i 128x128x3" in d.hint and "input: 96" not in d.hint


def test_simple_cnn_at_200_is_refused_with_network_fixes():
    # the lectures' simple CNN: four 2×2/2 pools, so the input must be a multiple of 16:
    # 200 → 100 → 50 → 25 → 12.5 at the fourth pool; nearest multiples of 16 are 192 and 208
    net = archcalc.load("specs/simple_cnn.yaml", input="200x200x3")
    d = _first_error(net)
    assert "12.5" in d.message
    assert "-i 192x192x3" in d.hint and "-i 208x208x3" in d.hint     # -i: given as an option


def test_non_square_input_fixes_only_the_failing_axis():
    # 3×3/2 pool, no padding: (6 − 3)/2 + 1 = 2.5 refused (the 6th row unseen); width 7 is exact
    net = archcalc.parse("C3D8 M3S2", input="6x7x3")
    d = _first_error(net)
    assert d.message.startswith("output height ")
    assert "-i 5x7x3" in d.hint and "-i 7x7x3" in d.hint


# ---------------------------------------------------------------------------------------------
# Network.language and Network.block_outputs

def test_language_is_set_by_every_front_end():
    assert archcalc.parse("CRP").language == "string"
    assert archcalc.load("specs/vgg16.yaml").language == "yaml"
    assert archcalc.load("specs/vgg_table.tsv", column="D").language == "table"


def test_block_outputs_name_the_declared_output():
    net = archcalc.load("specs/resnet18.yaml")
    # no output: in the block → its last layer; repeat 2 of "layer1" gives layer1.0 and layer1.1
    assert net.block_outputs["layer1.0"] == "layer1.0/relu"
    assert net.block_outputs["layer4.1"] == "layer4.1/relu"
    text = """name: t
input: 8x8x3
blocks:
  b:
    layers:
      - {op: conv, name: main, filters: 4}
      - {op: relu, name: after}
    output: main
layers:
  - {block: b, name: one}
  - {block: b}
"""
    net = archcalc.parse(text)
    assert net.block_outputs == {"one": "one/main", "b1": "b1/main"}
    # the next layer reads the declared output
    assert net["b1/main"].inputs == ("one/main",)


# ---------------------------------------------------------------------------------------------
# spec strings: letter runs beside tokens

def test_letter_run_beside_tokens_is_an_error_with_its_place():
    d = errors_of(archcalc.parse, "C3D64 R C3D64 R MP FC10")
    assert len(d) == 1
    # "C3D64 R C3D64 R " is 16 characters: MP starts at column 17
    assert d[0].pos.col == 17 and "'MP'" in d[0].message and "max pool" in d[0].message
    assert "did you mean M" in d[0].hint
    d = errors_of(archcalc.parse, "C3D64 R FC10 SM")
    assert d[0].pos.col == 14 and "softmax" in d[0].message and "did you mean S" in d[0].hint


def test_letter_runs_alone_still_parse():
    net = archcalc.parse("CRCRP", input="32x32x3")
    assert [layer.op for layer in net.layers[1:]] == ["conv", "relu", "conv", "relu", "maxpool"]
    assert net.warnings == []
    # single letters beside tokens are fine: one layer each
    net = archcalc.parse("C3D64 R M FC10 S", input="32x32x3")
    assert [layer.op for layer in net.layers[1:]] == ["conv", "relu", "maxpool", "fc", "softmax"]


def test_misspelled_token_in_a_letters_only_spec_warns():
    net = archcalc.parse("C R C R MP", input="32x32x3")
    assert [layer.op for layer in net.layers[-2:]] == ["maxpool", "maxpool"]
    (w,) = net.warnings
    assert w.severity == "warning" and w.pos.col == 9 and "did you mean M" in w.hint
    assert w.layer == "pool1"
    # analyze and diagnose report it
    assert any("'MP'" in d.message for d in archcalc.analyze(net).diagnostics)
    assert any("'MP'" in d.message for d in diagnose(net))


def test_letter_run_beside_tokens_in_yaml():
    text = "name: y\ninput: 32x32x3\nlayers:\n  - C3D8 SM\n"
    d = errors_of(archcalc.parse, text)
    assert (d[0].pos.line, d[0].pos.col) == (4, 10) and "'SM'" in d[0].message


# ---------------------------------------------------------------------------------------------
# an input written in PyTorch's C×H×W order

def test_channels_first_input_option_warns():
    net = archcalc.parse("C3D8", input="3x224x224")
    (w,) = net.warnings
    assert "H = 3, W = 224, C = 224" in w.message and w.pos.file == "<options>"
    assert "-i 224x224x3" in w.hint
    assert any("H = 3" in d.message for d in archcalc.analyze(net).diagnostics)
    # an H×W×C input gets none; nor does a small map of a few channels
    assert archcalc.parse("C3D8", input="224x224x3").warnings == []
    assert archcalc.parse("C3D8", input="3x3x2").warnings == []


def test_channels_first_yaml_input_warns_in_yaml_spelling():
    net = archcalc.parse("name: x\ninput: 1x28x28\nlayers: [C3D8]\n")
    (w,) = net.warnings
    assert (w.pos.line, w.pos.col) == (2, 8) and "input: 28x28x1" in w.hint


def test_network_warnings_reach_the_errors_too():
    # 3 high: the 2×2/2 pool gives 1.5; the warning explains why, beside the error
    net = archcalc.parse("C3D64 M", input="3x224x224")
    with pytest.raises(ArchcalcError) as ei:
        archcalc.analyze(net)
    assert [d.severity for d in ei.value.diagnostics] == ["warning", "error"]


# ---------------------------------------------------------------------------------------------
# files: ONNX models, YAML without a YAML extension, standard input

def test_a_corrupt_onnx_file(tmp_path):
    # .onnx files are read as ONNX models; this one starts as one (ir_version 7,
    # producer "pytorch") and then holds bytes no protobuf message has
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07\x12\x07pytorch" + bytes(range(256)) * 64)
    with pytest.raises(ArchcalcError) as ei:
        archcalc.load(str(path))
    assert exit_code(ei.value) == 2
    d = ei.value.diagnostics[0]
    assert "is not a readable ONNX model" in d.message and "at byte" in d.message
    assert "truncated or corrupt" in d.hint


def test_onnx_file_on_the_command_line_exits_2(tmp_path):
    from typer.testing import CliRunner

    from archcalc.cli import app
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07" + b"\0" * 100)
    res = CliRunner().invoke(app, ["summary", str(path)])
    assert res.exit_code == 2 and "is not a readable ONNX model" in res.output


def test_yaml_without_yaml_extension_keeps_its_name(tmp_path):
    path = tmp_path / "my-network.txt"
    path.write_text(open("specs/resnet18.yaml").read())
    net = archcalc.load(str(path))
    assert net.name == "resnet18" and net.language == "yaml"
    # a spec string in a text file is named after the file
    path = tmp_path / "tiny.txt"
    path.write_text("CRP\n")
    assert archcalc.load(str(path)).name == "tiny"
    # a YAML spec without name: falls back on the file name
    path = tmp_path / "anon.spec"
    path.write_text("input: 8x8x3\nlayers: [CRP]\n")
    assert archcalc.load(str(path)).name == "anon"


def _stdin(monkeypatch, text):
    import io
    import sys
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))


def test_load_dash_reads_standard_input(monkeypatch):
    _stdin(monkeypatch, open("specs/vgg16.yaml").read())
    net = archcalc.load("-")
    assert net.name == "vgg16" and net.language == "yaml"
    assert net.layers[1].pos.file == "<stdin>"
    _stdin(monkeypatch, "C3D8 R M\n")
    net = archcalc.load("-", input="8x8x3")
    assert net.language == "string"
    assert [la.op for la in net.layers[1:]] == ["conv", "relu", "maxpool"]
    _stdin(monkeypatch, "C3D8 Q\n")
    d = errors_of(archcalc.load, "-")
    assert str(d[0].pos) == "<stdin>:1:6"
    _stdin(monkeypatch, "   \n")
    d = errors_of(archcalc.load, "-")
    assert d[0].message == "standard input is empty" and str(d[0].pos) == "<stdin>"


# ---------------------------------------------------------------------------------------------
# the VGG table: ReLU after every conv and every FC but the last, as the paper's text says

def test_vgg_table_gets_the_papers_relus():
    nets = archcalc.load("specs/vgg_table.tsv")
    for name, net in nets.items():
        ops = [layer.op for layer in net.layers]
        # every conv and the first two FCs are followed by a ReLU; FC1000 by softmax
        for i, op in enumerate(ops):
            if op == "conv":
                assert ops[i + 1] == "relu", (name, i)
        assert ops[-6:] == ["fc", "relu", "fc", "relu", "fc", "softmax"], name
    d = nets["D"]
    # VGG16: 13 convs + 2 FCs → 15 ReLUs; ReLU has no parameters or MACs, so the paper's
    # 138M parameters (Table 2) stand: 138,357,544 as torchvision documents for vgg16
    assert sum(1 for layer in d.layers if layer.op == "relu") == 15
    r = archcalc.analyze(d)
    assert r.totals.params == 138_357_544
    # MACs: the same as the YAML VGG16 (which writes its ReLUs out)
    assert r.totals.macs == archcalc.analyze(archcalc.load("specs/vgg16.yaml")).totals.macs


def test_table_with_its_own_relus_is_left_alone():
    text = "Name:\tA\n\tC3D8\n\tR\n\tM\n\tFC10\n"
    net = archcalc.parse(text, input="8x8x3", column="A")
    assert [layer.op for layer in net.layers[1:]] == ["conv", "relu", "maxpool", "fc"]


# ---------------------------------------------------------------------------------------------
# every error at once

def _yaml(layers: str, head: str = "") -> str:
    return f"name: t\ninput: 32x32x3\n{head}layers:\n{layers}"


def test_every_unknown_attribute_of_a_layer_is_named():
    d = errors_of(archcalc.parse, _yaml("  - {op: conv, filter: 32, kernal: 3, strides: 2}\n"))
    got = {x.message.split("'")[1]: x for x in d}
    assert set(got) == {"filter", "kernal", "strides"} and len(d) == 3
    assert "did you mean 'filters'" in got["filter"].hint
    assert "did you mean 'kernel'" in got["kernal"].hint
    assert "did you mean 'stride'" in got["strides"].hint
    # each at its key: "  - {op: conv, " is 15 characters, so filter starts at column 16
    assert (got["filter"].pos.line, got["filter"].pos.col) == (4, 16)
    # no "needs the attribute 'filters'" on top of the misspelling
    assert not any("needs" in x.message for x in d)


def test_layer_errors_survive_a_misspelled_default():
    text = _yaml("  - {op: conv, filters: 8, kernal: 3}\n  - {op: fc, unti: 10}\n",
                 head="defaults:\n  filtres: 8\n")
    d = errors_of(archcalc.parse, text)
    msgs = [x.message for x in d]
    assert any("unknown default 'filtres'" in m for m in msgs)
    assert any("'kernal'" in m for m in msgs) and any("'unti'" in m for m in msgs)
    assert "did you mean 'filters'" in d[0].hint


BLOCK = """name: t
input: 32x32x3
blocks:
  basic:
    params: {width: null}
    layers:
      - {op: conv, name: c1, filters: $width, kernal: 3}
      - R
layers:
  - {block: basic, name: layer1, repeat: 3, width: 16}
  - {block: basic, width: 8}
"""


def test_an_error_inside_a_block_is_reported_once_with_its_instances():
    d = errors_of(archcalc.parse, BLOCK)
    assert len(d) == 1
    assert (d[0].pos.line, d[0].pos.col) == (7, 47)
    for name in ("layer1.0", "layer1.1", "layer1.2", "basic1"):
        assert name in d[0].message


# ---------------------------------------------------------------------------------------------
# hints that point the right way

def test_padding_misspelled_suggests_same():
    (d,) = errors_of(archcalc.parse, _yaml("  - {op: conv, filters: 8, padding: sam}\n"))
    assert "same" in d.message and "valid" in d.message and "did you mean 'same'" in d.hint


def test_maxpool_size_suggests_kernel():
    (d,) = errors_of(archcalc.parse, _yaml("  - {op: maxpool, size: 2}\n"))
    assert "did you mean 'kernel'" in d.hint


def test_conv3x3_token_gets_no_invented_filter_count():
    (d,) = errors_of(archcalc.parse, "Conv3x3 R")
    assert "CONV3-64" not in d.hint.upper()
    assert "C3x3D<filters>" in d.hint and "conv3x3-<filters>" in d.hint
    (d,) = errors_of(archcalc.parse, "maxpool3")
    assert "M3" in d.hint and "unexpected 'axpool3'" not in d.message


def test_blok_and_unti_get_a_did_you_mean():
    (d,) = errors_of(archcalc.parse, _yaml("  - {blok: basic}\n"))
    assert "did you mean 'block'" in d.hint and d.pos.col == 6
    text = BLOCK.replace("kernal", "kernel").replace("width: 8}", "width: 8, widht: 3}")
    (d,) = errors_of(archcalc.parse, text)
    assert "did you mean 'width'" in d.hint
    (d,) = errors_of(archcalc.parse, _yaml("  - {op: fc, unti: 10}\n"))
    assert "did you mean 'units'" in d.hint


def test_bare_expression_in_a_flow_mapping_gets_the_quoting_advice():
    text = ("name: t\ninput: 8x8x3\nblocks:\n  b:\n    params: {w: 8}\n    layers:\n"
            "      - {op: conv, filters: ${w*2}}\nlayers:\n  - {block: b}\n")
    (d,) = errors_of(archcalc.parse, text)
    assert "'${w*2}'" in d.hint and "quote" in d.hint
    # quoted as advised, it works: 2·8 = 16 filters
    net = archcalc.parse(text.replace("${w*2}", "'${w*2}'"))
    assert net["b1/conv1"].attrs["filters"] == 16


def test_an_analysis_error_inside_a_block_is_reported_once():
    text = """name: t
input: 32x32x3
blocks:
  basic:
    params: {width: null}
    layers:
      - {op: conv, name: c1, filters: $width, groups: 3}
layers:
  - {op: conv, filters: 16}
  - {block: basic, name: layer1, repeat: 3, width: 16}
"""
    # 16 channels in, 16 filters: groups = 3 divides neither, in each of the three instances
    d = [x for x in diagnose(archcalc.parse(text)) if x.severity == "error"]
    assert len(d) == 1 and d[0].layer == "layer1.0/c1"
    assert "layer1.1/c1" in d[0].message and "layer1.2/c1" in d[0].message
    with pytest.raises(ArchcalcError) as ei:
        archcalc.analyze(archcalc.parse(text))
    assert len(ei.value.diagnostics) == 1


def test_more_hints_that_point_the_right_way():
    # "activation" is not a misspelling of "dilation": the activation is a layer of its own
    (d,) = errors_of(archcalc.parse, _yaml("  - {op: conv, filters: 8, activation: relu}\n"))
    assert "dilation" not in d.hint.split(";")[0] and "add R" in d.hint
    # a comma-separated spec string: words are separated by spaces
    (d,) = errors_of(archcalc.parse, "C3D64,R,M")
    assert "C3D64 R M" in d.hint
    # a repeat without parentheses
    (d,) = errors_of(archcalc.parse, "CRPx3")
    assert "(CRP)x3" in d.hint
    # a dropout rate in a token
    (d,) = errors_of(archcalc.parse, "C3D8 dropout0.3")
    assert "rate: 0.3" in d.hint


def test_yaml_names_get_a_did_you_mean():
    text = """name: b
input: 32x32x3
blocks:
  res:
    params: {w: null}
    layers:
      - {op: conv, name: c1, filters: $w}
      - {op: add, name: add, inputs: [c1, inputt]}
    output: ad
layers:
  - {block: res, w: 3}
  - {block: ress, w: 3}
  - {op: conv, name: x, filters: 8, inputs: [res1]}
  - {op: fc, units: 1e3}
"""
    d = errors_of(archcalc.parse, text)
    hints = {x.message.split(" ")[0] + x.message.split("'")[1]: x.hint for x in d}
    assert "did you mean 'input'?" in hints["inputinputt"]
    assert "did you mean 'add'?" in hints["blockres"]
    assert "did you mean 'res'?" in hints["noress"]
    # res1 exists (its output is what failed): it is not reported as undefined
    assert not any("'res1'" in x.message for x in d)
    # YAML reads 1e3 as text: the hint gives the number
    assert "1000" in hints["units1e3"]


def test_table_cell_letter_run_is_an_error():
    text = "Name:\tA\n\tC3D64\n\tMP\n\tFC10\n"
    (d,) = errors_of(archcalc.parse, text, column="A")
    assert (d.pos.line, d.pos.col) == (3, 2) and "'MP'" in d.message


def test_table_whose_tabs_became_spaces_says_so():
    d = errors_of(archcalc.parse, "Name:  A  B\n  C3D64  C3D64\n")
    assert "tabs" in d[0].hint and "Markdown" in d[0].hint


def test_options_that_do_not_apply_are_refused_not_ignored():
    (d,) = errors_of(archcalc.parse, "CRP", column="A")
    assert "--column applies to column tables" in d.message
    with pytest.raises(ArchcalcError) as ei:
        archcalc.parse("CRP", language="json")
    assert exit_code(ei.value) == 2


def test_a_window_too_large_suggests_the_nearest_network_input_that_fits():
    # VGG16 at 16×16: five 2×2/2 pools take 16 → 8 → 4 → 2 → 1, and pool5 gets 1 < 2.
    # The nearest valid input above is 32 (a multiple of 2^5; every pool then sees an even size)
    net = archcalc.load("specs/vgg16.yaml", input="16x16x3")
    d = _first_error(net)
    assert d.layer == "pool5" and "-i 32x32x3" in d.hint


def test_kernel_written_3x3_and_a_bare_repeat_get_their_spellings():
    (d,) = errors_of(archcalc.parse, _yaml("  - {op: conv, filters: 8, kernel: 3x3}\n"))
    assert "kernel: [3, 3]" in d.hint
    (d,) = errors_of(archcalc.parse, "C3D8 x3")
    assert "parentheses" in d.hint


def test_malformed_input_volumes_get_the_probable_spelling():
    (d,) = errors_of(archcalc.parse, "CRP", input="224")
    assert "224x224x3" in d.hint
    (d,) = errors_of(archcalc.parse, "CRP", input="1x3x224x224")
    assert "224x224x3 --batch 1" in d.hint


def test_a_missing_file_read_as_a_spec_string_says_so():
    (d,) = errors_of(archcalc.parse, "model.onnx")
    assert "no file model.onnx exists" in d.hint and "not a spec" in d.hint
    (d,) = errors_of(archcalc.parse, "spec/vgg16")
    assert "check the path" in d.hint


def test_yaml_layout_mistakes_get_their_fix():
    (d,) = errors_of(archcalc.parse, "name: s\ninput: 32x32x3\nlayers: C3D8 M FC10\n")
    assert "layers: [C3D8 M FC10]" in d.hint
    (d,) = errors_of(archcalc.parse, "name: s\ninput: 32x32x3\nlayers:\n\t- C3D8\n")
    assert "tabs" in d.hint
    text = "name: s\ninput: 32x32x3\nlayers:\n  - op: conv\n    filters: 8\n  -op: fc\n"
    (d,) = errors_of(archcalc.parse, text)
    assert "- op: fc" in d.hint


def test_a_bad_input_volume_does_not_hide_the_layers_errors():
    d = errors_of(archcalc.parse, "name: s\ninput: 224x224\nlayers:\n  - {op: conv, filtrs: 8}\n")
    assert len(d) == 2 and "224x224x3" in d[0].hint and "did you mean 'filters'" in d[1].hint


def test_a_token_with_a_repeat_glued_on_shows_the_group():
    (d,) = errors_of(archcalc.parse, "C3D64x2")
    assert "(C3D64)x2" in d.hint



def test_hints_for_an_x_for_d_and_a_detached_option():
    (d,) = errors_of(archcalc.parse, "C3D64 C3X64")
    assert d.hint.startswith("did you mean C3D64 (64 filters of 3×3)?")
    (d,) = errors_of(archcalc.parse, "C3x3")          # a plausible kernel: its filters missing
    assert "C3x3D<filters>" in d.hint
    (d,) = errors_of(archcalc.parse, "C3D64 S2")
    assert "S2 is an option of the token before it (stride)" in d.hint and "C3D64S2" in d.hint


def test_an_empty_group_is_refused():
    (d,) = errors_of(archcalc.parse, "C3D8 M ()x3 FC10")
    assert "empty group" in d.message and d.pos.col == 8


def test_an_unnamed_layer_that_failed_keeps_its_name_for_later_references():
    # the third layer (conv, unnamed, bad attribute) would have been conv1; the add that names
    # conv1 is checked but not reported again ("conv1 is not defined" would mislead)
    text = ("input: 32x32x3\nlayers:\n  - {op: conv, name: a, filters: 16, kernel_size: 3}\n"
            "  - {op: conv, name: b, inputs: a, filters: 16}\n"
            "  - {op: conv, filters: 16, strides: 2}\n  - {op: add, inputs: [b, conv1]}\n")
    errors = errors_of(archcalc.parse, text)
    assert [d.pos.line for d in errors] == [3, 5]
