"""Parameters in specs (archcalc/params.py, docs/design-space.md): a YAML spec's params: with
defaults, --set and set={...} over them, the built-ins res, input, rounding, batch, dtype,
optimizer; figures checked by hand."""
import json

import pytest
from conftest import SPECS
from design_helpers import cli

import archcalc
from archcalc.cli.guard import exit_code
from archcalc.design.parameters import Design, declared, parse_range
from archcalc.settings import parse_assignment

# conv 3×3 (same padding) from C_in = 3 to f filters with bias: 27·f + f parameters;
# repeated `depth` times more from f to f: 9·f·f + f each; fc from H·W·f to 10
FAMILY = """
name: family
params: {f: 8, depth: 1, ks: [3, 5], side: 16}
input: ${side}x${side}x3
defaults: {conv: {kernel: "${ks[0]}"}}
blocks:
  unit:
    params: {stride: 1}
    layers:
      - {op: conv, filters: $f, stride: $stride}
layers:
  - {op: conv, name: stem, filters: $f}
  - {block: unit, repeat: $depth}
  - {op: fc, units: 10}
"""


def family_params(f, depth, side):
    return (27 * f + f) + depth * (9 * f * f + f) + (side * side * f * 10 + 10)


def test_defaults_and_settings_by_hand():
    net = archcalc.parse(FAMILY)
    assert net.input == (16, 16, 3)
    assert archcalc.analyze(net).totals.params == family_params(8, 1, 16)
    net = archcalc.parse(FAMILY, set={"f": 4, "depth": 3, "side": 8})
    assert net.input == (8, 8, 3)
    assert net.params == {"f": 4, "depth": 3, "ks": [3, 5], "side": 8}
    assert archcalc.analyze(net).totals.params == family_params(4, 3, 8)


def test_params_reach_defaults_and_blocks():
    # defaults: {conv: {kernel: ${ks[0]}}}; ks=[1, 1] makes every conv 1×1: 3·f + f, f·f + f
    net = archcalc.parse(FAMILY, set={"ks": [1, 1], "f": 2})
    assert archcalc.analyze(net).totals.params == (3 * 2 + 2) + (2 * 2 + 2) + (16 * 16 * 2 * 10
                                                                               + 10)


def test_undeclared_name_is_exit_2_with_did_you_mean_and_the_declared_ones():
    with pytest.raises(archcalc.ArchcalcError) as e:
        archcalc.parse(FAMILY, set={"dept": 2})
    assert exit_code(e.value) == 2
    d = e.value.diagnostics[0]
    assert "dept" in d.message and "did you mean 'depth'" in d.hint
    assert "f, depth, ks, side" in d.hint


def test_a_value_of_the_wrong_kind_is_exit_2():
    with pytest.raises(archcalc.ArchcalcError) as e:
        archcalc.parse(FAMILY, set={"f": "wide"})
    assert exit_code(e.value) == 2 and "a number" in e.value.diagnostics[0].message
    with pytest.raises(archcalc.ArchcalcError) as e:
        archcalc.parse(FAMILY, set={"ks": 3})
    assert exit_code(e.value) == 2 and "a list" in e.value.diagnostics[0].message


def test_builtins_res_input_and_analysis_settings():
    net = archcalc.parse("C3D8 FC10", set={"res": 10, "batch": 4, "dtype": "bf16",
                                          "optimizer": "sgd"})
    assert net.input == (10, 10, 3)
    r = archcalc.analyze(net)
    assert (r.settings.batch, r.settings.dtype, r.settings.optimizer) == (4, "bf16", "sgd")
    # sgd, 2 bytes each (docs/training-memory.md): the peak comes as the fc's backward runs:
    # weights (8,234) + the input (10·10·3 × 4) + conv's output (10·10·8 × 4, kept for the fc)
    # + the logits (10 × 4) + the gradient of conv's output (10·10·8 × 4) + the fc's weight
    # gradients (8,010)
    t = r.totals
    assert t.training_bytes == 2 * (8234 + 300 * 4 + 800 * 4 + 10 * 4 + 800 * 4 + 8010)
    assert archcalc.parse("C3D8", set={"input": "20x20x1"}).input == (20, 20, 1)
    assert archcalc.parse("C3D8", input="12x12x5", set={"res": 12}).input == (12, 12, 5)
    # res and an input of another height and width disagree: an error, whichever the spec
    # (a newcomer found each kind of spec picking a different winner)
    with pytest.raises(archcalc.ArchcalcError) as e:
        archcalc.parse("C3D8", input="9x9x5", set={"res": 12})
    assert exit_code(e.value) == 2 and "disagree" in e.value.diagnostics[0].message
    # analyze's own keywords still win
    assert archcalc.analyze(net, batch=2).settings.batch == 2


def test_builtins_cannot_be_declared_and_strings_declare_nothing():
    with pytest.raises(archcalc.ArchcalcError) as e:
        archcalc.parse("params: {batch: 8}\nlayers: [C3D8]")
    assert "built-in" in e.value.diagnostics[0].message
    with pytest.raises(archcalc.ArchcalcError) as e:
        archcalc.parse("C3D8", set={"width": 2})
    assert exit_code(e.value) == 2 and "declares no parameters" in e.value.diagnostics[0].hint
    with pytest.raises(archcalc.ArchcalcError) as e:
        archcalc.parse("C3D8", set={"dtype": "fp64"})
    assert exit_code(e.value) == 2 and "fp32" in e.value.diagnostics[0].message


def test_list_items_in_expressions():
    with pytest.raises(archcalc.ArchcalcError) as e:
        archcalc.parse(FAMILY.replace("${ks[0]}", "${ks[2]}"))
    assert "outside the list of 2 items" in e.value.diagnostics[0].message


@pytest.mark.parametrize("text, want", [
    ("width=0.75", ("width", 0.75)), ("res=224", ("res", 224)), ("dtype=bf16", ("dtype", "bf16")),
    ("depth=[2,2,2,2]", ("depth", [2, 2, 2, 2])), ("depth=[ 3, 4 ]", ("depth", [3, 4])),
    ("on=true", ("on", True)), ("input=160x160x3", ("input", "160x160x3")),
    ("n=1_000", ("n", 1000)), ("x=-2", ("x", -2)), ("x=1e3", ("x", 1000.0))])
def test_parse_assignment(text, want):
    assert parse_assignment(text) == want


@pytest.mark.parametrize("text, needle", [
    ("width", "NAME=VALUE"), ("=3", "not a parameter name"), ("w=", "missing"),
    ("2w=1", "not a parameter name"), ("d=[1,2", "not closed"), ("d=[[1]]", "lists of lists")])
def test_parse_assignment_errors(text, needle):
    with pytest.raises(archcalc.ArchcalcError) as e:
        parse_assignment(text)
    assert exit_code(e.value) == 2 and needle in e.value.render()
    assert e.value.diagnostics[0].pos.file == "<options>"


@pytest.mark.parametrize("text, want", [("32..36", [32, 33, 34, 35, 36]),
                                        ("160..320/32", [160, 192, 224, 256, 288, 320]),
                                        ("5..5", [5])])
def test_parse_range(text, want):
    assert list(parse_range(text)) == want


@pytest.mark.parametrize("text, needle", [("36..32", "holds no values"), ("1..9/0", "zero"),
                                          ("1..9/-1", "positive"), ("1-9", "FIRST..LAST"),
                                          ("0..4", "start at 1")])
def test_parse_range_errors(text, needle):
    with pytest.raises(archcalc.ArchcalcError) as e:
        parse_range(text)
    assert exit_code(e.value) == 2 and needle in e.value.render()


def test_declared_and_design_variants():
    d = declared(str(SPECS / "resnet.yaml"))
    assert d == {"depth": [3, 4, 6, 3], "width": 1.0, "res": 224, "input": "224x224x3",
                 "rounding": "covered", "dtype": "fp32", "batch": 1, "optimizer": "adam"}
    assert declared("vgg16")["res"] == 224 and "width" not in declared("vgg16")
    net = Design("resnet").build({"res": 160, "batch": 8, "dtype": "bf16"})
    assert net.input == (160, 160, 3)
    assert net.settings == archcalc.Settings(dtype="bf16", batch=8, optimizer="adam")
    with pytest.raises(archcalc.ArchcalcError) as e:
        Design("resnet").build({"widht": 1.0})
    assert exit_code(e.value) == 2 and "did you mean 'width'" in e.value.diagnostics[0].hint


@pytest.mark.parametrize("depth, ref", [([3, 4, 6, 3], "resnet50"), ([3, 4, 23, 3], "resnet101"),
                                        ([3, 8, 36, 3], "resnet152")])
def test_the_resnet_family_is_the_shipped_resnets_layer_for_layer(depth, ref):
    a = archcalc.analyze(archcalc.load(SPECS / "resnet.yaml", set={"depth": depth}))
    b = archcalc.analyze(archcalc.load(SPECS / f"{ref}.yaml"))
    assert [(r.name, r.output, r.params, r.macs) for r in a.layers] == \
        [(r.name, r.output, r.params, r.macs) for r in b.layers]


def test_resnet_width_rounds_with_make_divisible():
    # width 0.3: 64·0.3 = 19.2 → the nearest multiple of 8 is 16, more than 10% below 19.2
    # (17.28), so one more 8: 24; 128·0.3 = 38.4 → 40, 256·0.3 = 76.8 → 80, 512·0.3 = 153.6 → 152
    net = archcalc.load(SPECS / "resnet.yaml", set={"width": 0.3})
    r = archcalc.analyze(net)
    assert [r[f"layer{s}.0/conv1"].output[2] for s in (1, 2, 3, 4)] == [24, 40, 80, 152]


def test_cli_set_on_summary_validate(capsys):
    code, out, _ = cli(capsys, "summary", "resnet", "--set", "depth=[2,2,2,2]", "-F", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["totals"]["params"] == archcalc.analyze(
        archcalc.load(SPECS / "resnet.yaml", set={"depth": [2, 2, 2, 2]})).totals.params
    code, out, _ = cli(capsys, "summary", "C3D8", "-s", "res=10", "-s", "batch=3", "-F", "json")
    assert doc and json.loads(out)["input"] == [10, 10, 3]
    assert json.loads(out)["settings"]["batch"] == 3
    code, out, err = cli(capsys, "summary", "resnet", "--set", "dpth=[1,1,1,1]")
    assert code == 2 and "did you mean 'depth'" in err and "depth, width, res" in err
    code, out, _ = cli(capsys, "validate", "resnet", "--set", "dpth=1", "-F", "json")
    assert code == 2 and json.loads(out)["diagnostics"][0]["file"] == "<options>"
    code, out, _ = cli(capsys, "summary", "resnet", "--set", "res=8", "--set", "res=9")
    assert code == 2


def test_draw_takes_set(tmp_path, capsys):
    out = tmp_path / "r.svg"
    code, _, _ = cli(capsys, "draw", "resnet", "-s", "depth=[1,1,1,1]", "-o", out)
    svg = out.read_text()
    assert code == 0 and "layer4.0" in svg and "layer1.1" not in svg


def test_compare_and_diff_take_set_for_every_spec(capsys):
    # the family at its defaults is ResNet-50: at res 160 both are, and nothing differs
    code, out, _ = cli(capsys, "diff", "resnet", "resnet50", "-s", "res=160", "-F", "json")
    doc = json.loads(out)
    assert code == 0
    macs = archcalc.analyze(archcalc.load(SPECS / "resnet50.yaml", input="160x160x3")).totals.macs
    assert json.dumps(doc).count(str(macs)) >= 2
    code, out, _ = cli(capsys, "compare", "resnet", "vgg16", "-s", "res=64", "-F", "json")
    assert code == 0 and str(archcalc.analyze(archcalc.load(
        SPECS / "vgg16.yaml", input="64x64x3")).totals.macs) in out
    code, _, err = cli(capsys, "compare", "resnet", "vgg16", "-s", "depth=[1,1,1,1]")
    assert code == 2 and "no parameter 'depth'" in err         # vgg16 declares none
