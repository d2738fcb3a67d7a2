"""The spec languages: shorthand letters, VGG tokens, column tables, YAML — all to one graph
form."""
import pytest
from conftest import DATA, SPECS

import archcalc
from archcalc import ArchcalcError


def ops(net):
    return [(layer.op, layer.attrs.get("filters"), layer.attrs.get("kernel"),
             layer.attrs.get("stride")) for layer in net.layers]


def signature(net):
    return [(layer.op, tuple(sorted((k, str(v)) for k, v in layer.attrs.items())), layer.inputs)
            for layer in net.layers]


# --- shorthand letters --------------------------------------------------------------------------

def test_crcrp_letters():
    net = archcalc.parse("CRCRP", input=(32, 32, 3), filters=16)
    assert [layer.op for layer in net.layers] == ["input", "conv", "relu", "conv", "relu",
                                                  "maxpool"]
    conv = net["conv1"].attrs
    assert conv["filters"] == 16 and conv["kernel"] == (3, 3) and conv["stride"] == (1, 1)
    assert conv["padding"] == "same"
    assert net["pool1"].attrs["kernel"] == (2, 2) and net["pool1"].attrs["stride"] == (2, 2)
    assert archcalc.analyze(net).layers[-1].output == (16, 16, 16)


def test_m_is_a_synonym_for_p_and_letters_are_case_insensitive():
    assert signature(archcalc.parse("CRCRM")) == signature(archcalc.parse("crcrp"))


def test_repeat_groups():
    assert signature(archcalc.parse("(CR)x3 P")) == signature(archcalc.parse("CRCRCRP"))
    assert signature(archcalc.parse("(CRCRP)x2")) == signature(archcalc.parse("CRCRPCRCRP"))
    assert signature(archcalc.parse("((CR)x2 P)*2")) == signature(archcalc.parse("CRCRPCRCRP"))
    assert signature(archcalc.parse("(C3D64 R)×2")) == signature(archcalc.parse("C3D64 R C3D64 R"))


def test_filters_double_after_each_pool():
    net = archcalc.parse("(CRCRP)x3", input=(32, 32, 3), filters=8, double_after_pool=True)
    assert [layer.attrs["filters"] for layer in net.layers if layer.op == "conv"] == \
        [8, 8, 16, 16, 32, 32]
    plain = archcalc.parse("(CRCRP)x3", filters=8)
    assert {layer.attrs["filters"] for layer in plain.layers if layer.op == "conv"} == {8}


# --- VGG tokens ---------------------------------------------------------------------------------

def test_vgg_tokens():
    net = archcalc.parse("C3D64 C1D256 M FC4096 S LRN")
    assert ops(net)[1:] == [("conv", 64, (3, 3), (1, 1)), ("conv", 256, (1, 1), (1, 1)),
                            ("maxpool", None, (2, 2), (2, 2)), ("fc", None, None, None),
                            ("softmax", None, None, None), ("lrn", None, None, None)]
    assert net["fc1"].attrs["units"] == 4096


def test_stride_padding_and_groups_in_tokens():
    net = archcalc.parse("C11D96S4P0 M3S2 C5x3D8P1G2 A2 GAP")
    c1 = net["conv1"].attrs
    assert (c1["kernel"], c1["stride"], c1["padding"]) == ((11, 11), (4, 4), (0, 0))
    assert net["pool1"].attrs["kernel"] == (3, 3) and net["pool1"].attrs["stride"] == (2, 2)
    c2 = net["conv2"].attrs
    assert c2["kernel"] == (5, 3) and c2["groups"] == 2 and c2["padding"] == (1, 1)
    assert net["avgpool1"].op == "avgpool" and net["gap1"].op == "global_avgpool"


def test_vgg_paper_spellings():
    paper = archcalc.parse("conv3-64 conv3-64 maxpool FC-4096 FC-1000 soft-max")
    tokens = archcalc.parse("C3D64 C3D64 M FC4096 FC1000 S")
    assert signature(paper) == signature(tokens)


def test_alexnet_and_zfnet_first_layers_are_expressible():
    alex = archcalc.analyze(archcalc.parse("C11D96S4P0 M3S2", input=(227, 227, 3)))
    assert [r.output for r in alex.layers[1:]] == [(55, 55, 96), (27, 27, 96)]
    zf = archcalc.analyze(archcalc.parse("C7D96S2P1", input=(224, 224, 3), rounding="floor"))
    assert zf.layers[-1].output == (110, 110, 96)


@pytest.mark.parametrize("spec,col,needle", [
    ("C3D64 C3X64", 7, "unknown token 'C3X64'"),
    ("CRCRP Q", 7, "unknown token 'Q'"),
    ("C3D64S4S2", 1, "option S given twice"),
    ("C3D64Z4", 1, "unexpected 'Z4'"),
    ("(CR", 1, "'(' is never closed"),
    ("CR)x2", 3, "')' without a matching '('"),
    ("(CR) P", 4, "followed by a repeat count"),
    ("(CR)x0", 4, "at least 1"),
])
def test_spec_string_errors_point_at_the_character(spec, col, needle):
    with pytest.raises(ArchcalcError) as e:
        archcalc.parse(spec)
    d = e.value.diagnostics[0]
    assert needle in d.message and d.pos.col == col and d.pos.line == 1
    assert "^" in d.render()


def test_typo_gets_a_suggestion():
    with pytest.raises(ArchcalcError) as e:
        archcalc.parse("C3D64 FC409S")
    assert e.value.diagnostics[0].hint


def test_huge_repeat_is_refused_before_expansion():
    with pytest.raises(ArchcalcError) as e:
        archcalc.parse("((CR)x100000)x100000")
    assert "more than 1,000,000 layers" in str(e.value)


def test_empty_spec():
    with pytest.raises(ArchcalcError):
        archcalc.parse("   ")


# --- column tables ------------------------------------------------------------------------------

def test_lecture_table_tsv_is_the_lecture_text():
    """tests/data holds the lecture deck's VGG table with the prose around it, as the deck has
    it: the shipped table is that text, character for character."""
    text = (DATA / "lecture_vgg_table.txt").read_text()
    start = text.index("Name:\t")
    assert text[start:].startswith((SPECS / "vgg_table.tsv").read_text())


def test_lecture_file_parses_as_is():
    nets = archcalc.load(DATA / "lecture_vgg_table.txt")
    assert list(nets) == ["A", "A-LRN", "B", "C", "D", "E"]


def test_tsv_and_markdown_tables_agree():
    tsv = archcalc.load(SPECS / "vgg_table.tsv")
    md = archcalc.load(SPECS / "vgg_table.md")
    assert list(tsv) == list(md) == ["A", "A-LRN", "B", "C", "D", "E"]
    for name in tsv:
        assert signature(tsv[name]) == signature(md[name])


def test_table_columns_hold_the_right_layers():
    nets = archcalc.load(SPECS / "vgg_table.tsv")
    assert [n.weight_layers() for n in nets.values()] == [11, 11, 13, 16, 16, 19]
    # the front-end inserts the ReLU the paper's text gives every conv
    assert [layer.op for layer in nets["A-LRN"].layers[:5]] == ["input", "conv", "relu", "lrn",
                                                                "maxpool"]
    c = [layer.attrs["kernel"] for layer in nets["C"].layers if layer.op == "conv"]
    assert c.count((1, 1)) == 3


def test_table_column_d_is_vgg16():
    d = archcalc.load(SPECS / "vgg_table.md", column="D")
    assert archcalc.analyze(d).totals.params == 138_357_544


def test_layers_row_is_checked():
    text = (SPECS / "vgg_table.tsv").read_text().replace("# Layers\t11\t11\t13",
                                                         "# Layers\t11\t11\t12")
    with pytest.raises(ArchcalcError) as e:
        archcalc.parse(text, file="t.tsv")
    d = e.value.diagnostics[0]
    assert "column B declares 12 weight layers but holds 13" in d.message
    assert (d.pos.line, d.pos.col) == (2, 16)


def test_table_cell_errors_name_line_and_column():
    text = "Name:\tA\tB\n\tC3D64\tC3D6X\n\tM\tM\n"
    with pytest.raises(ArchcalcError) as e:
        archcalc.parse(text, file="t.tsv")
    d = e.value.diagnostics[0]
    assert (d.pos.line, d.pos.col) == (2, 8) and "C3D6X" in d.message


def test_unknown_column():
    with pytest.raises(ArchcalcError) as e:
        archcalc.load(SPECS / "vgg_table.tsv", column="F")
    assert "A, A-LRN, B, C, D, E" in e.value.diagnostics[0].hint


# --- YAML ---------------------------------------------------------------------------------------

VGG16_STRING = ("C3D64 R C3D64 R M C3D128 R C3D128 R M (C3D256 R)x3 M (C3D512 R)x3 M "
                "(C3D512 R)x3 M FC4096 R dropout FC4096 R dropout FC1000 S")


def test_yaml_and_string_give_the_same_graph():
    assert signature(archcalc.load(SPECS / "vgg16.yaml")) == signature(archcalc.parse(VGG16_STRING))


def test_yaml_mapping_attributes():
    net = archcalc.parse("""
name: m
input: [64, 64, 3]
defaults:
  rounding: floor
layers:
  - {op: conv, name: stem, filters: 8, kernel: [7, 5], stride: 2, padding: [3, 2], bias: false}
  - {op: maxpool, kernel: 3, stride: 2, rounding: ceil}
  - {op: conv, filters: 8, kernel: 3, padding: valid, dilation: 2, groups: 8}
  - {op: fully_connected, units: 10}
""")
    stem = net["stem"].attrs
    assert stem["kernel"] == (7, 5) and stem["padding"] == (3, 2) and not stem["bias"]
    assert net.rounding == "floor" and net["pool1"].attrs["rounding"] == "ceil"
    r = archcalc.analyze(net)
    assert r["stem"].output == (32, 32, 8)         # (64 − 7 + 6)/2 + 1 = 32.5 → 32 (floor)
    assert r["pool1"].output == (16, 16, 8)        # (32 − 3)/2 + 1 = 15.5 → 16 (ceil)
    assert r["conv1"].output == (12, 12, 8)        # (16 − 5)/1 + 1: stem is named, so conv1
    assert net["fc1"].op == "fc"


def test_yaml_named_layers_and_inputs():
    net = archcalc.parse("""
name: two
input: 8x8x4
layers:
  - {op: conv, name: a, filters: 4}
  - {op: conv, name: b, filters: 4, inputs: input}
  - {op: add, name: sum, inputs: [a, b]}
""")
    assert net["sum"].inputs == ("a", "b") and net["b"].inputs == ("input",)
    assert set(net.graph.predecessors("sum")) == {"a", "b"}


@pytest.mark.parametrize("text,line,col,needle", [
    ("name: x\ninput: 8x8x3\nlayers:\n  - {op: conv, filters: 0}\n", 4, 25, "at least 1"),
    ("name: x\ninput: 8x8x3\nlayers:\n  - {op: convv, filters: 3}\n", 4, 10, "unknown op 'convv'"),
    ("name: x\ninput: 8x8x3\nlayers:\n  - C3D8\n  - C3Q8\n", 5, 5, "unknown token 'C3Q8'"),
    ("name: x\ninput: 8x8x3\nlayers:\n  - 'C3D8 C3Q8'\n", 4, 11, "unknown token 'C3Q8'"),
    ("name: x\ninput: 8x8x3\nlayer:\n  - C\n", 3, 1, "unknown top-level key 'layer'"),
    # an unclosed brace: PyYAML notices at the end of the file; the error points at the brace
    ("name: x\ninput: 8x8x3\nlayers:\n  - {op: conv, filters: 3\n", 4, 5, "'{' opened here"),
    ("name: x\ninput: 8x8x3\nlayers:\n  - {op: add, inputs: [input, nowhere]}\n", 4, 31,
     "'nowhere' is not defined"),
])
def test_yaml_errors_name_line_and_column(text, line, col, needle):
    with pytest.raises(ArchcalcError) as e:
        archcalc.parse(text, file="s.yaml")
    d = e.value.diagnostics[0]
    assert needle in d.message, d.render()
    assert (d.pos.file, d.pos.line, d.pos.col) == ("s.yaml", line, col), d.render()


def test_yaml_is_read_safely():
    for evil in ("name: x\ninput: 8x8x3\nlayers:\n  - !!python/object/apply:os.system ['true']\n",
                 "name: !!python/name:os.system x\ninput: 8x8x3\nlayers: [C]\n"):
        with pytest.raises(ArchcalcError) as e:
            archcalc.parse(evil)
        assert "unsupported YAML value" in str(e.value)


def test_yaml_alias_bomb_is_refused():
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    bomb = "name: x\ninput: 8x8x3\ndefaults:\n  " + "\n  ".join(lines) + "\nlayers: [C]\n"
    with pytest.raises(ArchcalcError) as e:
        archcalc.parse(bomb)
    assert "more than 1,000,000 values" in str(e.value)


def test_yaml_blocks_with_parameters_and_repeat():
    net = archcalc.parse("""
name: blocks
input: 16x16x8
blocks:
  pair:
    params: {width: null, k: 3}
    layers:
      - {op: conv, name: a, filters: $width, kernel: $k}
      - {op: conv, name: b, filters: "${width * 2}", kernel: 1}
layers:
  - {block: pair, name: stage, repeat: 2, width: 4}
  - {block: pair, name: "last{i}", width: 8, k: 5}
""")
    names = [layer.name for layer in net.layers[1:]]
    assert names == ["stage.0/a", "stage.0/b", "stage.1/a", "stage.1/b", "last0/a", "last0/b"]
    assert net["stage.1/b"].attrs["filters"] == 8 and net["last0/a"].attrs["kernel"] == (5, 5)
    assert net["stage.1/a"].inputs == ("stage.0/b",)
    assert net["stage.1/a"].scope == ("stage.1",)


def test_yaml_block_errors():
    base = ("name: x\ninput: 8x8x3\nblocks:\n  b:\n    params: {w: null}\n"
            "    layers: [{op: conv, filters: $w}]\nlayers:\n")
    with pytest.raises(ArchcalcError, match="needs the parameter 'w'"):
        archcalc.parse(base + "  - {block: b}\n")
    with pytest.raises(ArchcalcError, match="has no parameter 'v'"):
        archcalc.parse(base + "  - {block: b, w: 3, v: 1}\n")
    with pytest.raises(ArchcalcError, match="no block named 'c'"):
        archcalc.parse(base + "  - {block: c}\n")
    with pytest.raises(ArchcalcError, match="unknown parameter 'q'"):
        archcalc.parse(base.replace("$w", "'${q}'") + "  - {block: b, w: 2}\n")


def test_every_shipped_spec_parses_and_analyzes(specs_dir):
    for path in sorted(specs_dir.iterdir()):
        got = archcalc.load(path)
        for net in (got.values() if isinstance(got, dict) else [got]):
            assert archcalc.analyze(net).totals.params > 0, path


def test_a_pools_stride_is_the_same_however_it_is_written():
    # with defaults.pool.kernel 3 and no stride anywhere, every form is 3×3/3: (30 − 3)/3 + 1 = 10
    text = "name: p\ninput: 30x30x1\ndefaults:\n  pool: {kernel: 3}\nlayers:\n  - {layer}\n"
    outs = {archcalc.analyze(archcalc.parse(text.replace("{layer}", form))).layers[-1].output
            for form in ("M", "maxpool", "{op: maxpool}", "{op: maxpool, kernel: 3}", "M3")}
    assert outs == {(10, 10, 1)}
    # a default stride applies to every form that gives none: 3×3/2
    text2 = text.replace("{kernel: 3}", "{kernel: 3, stride: 2}").replace("30x30", "31x31")
    outs2 = {archcalc.analyze(archcalc.parse(text2.replace("{layer}", form))).layers[-1].output
             for form in ("M", "{op: maxpool}", "{op: maxpool, kernel: 3}", "M3")}
    assert outs2 == {(15, 15, 1)}                      # (31 − 3)/2 + 1 = 15


def test_double_after_pool_counts_every_max_pool():
    text = ("name: d\ninput: 32x32x3\nlayers:\n  - C\n  - M\n  - C\n  - {op: maxpool}\n  - C\n")
    net = archcalc.parse(text, filters=8, double_after_pool=True)
    assert [layer.attrs["filters"] for layer in net.layers if layer.op == "conv"] == [8, 16, 32]


def test_unnamed_block_instances_are_numbered_per_block():
    net = archcalc.parse("name: b\ninput: 8x8x4\nblocks:\n  res:\n"
                         "    layers: [C3D4, R, C3D4, R, C3D4]\n"
                         "layers:\n  - {block: res, repeat: 2}\n  - {block: res}\n"
                         "  - {block: res}\n")
    scopes = list(dict.fromkeys(layer.scope[0] for layer in net.layers if layer.scope))
    assert scopes == ["res1", "res2", "res3", "res4"]


def test_yaml_without_input_takes_the_default_as_strings_do():
    # --input's help: "default: the spec's own, else 224x224x3"
    net = archcalc.parse("name: x\nlayers:\n  - C3D8\n")
    assert net.input == (224, 224, 3)


def test_comments_in_spec_strings_and_carets_under_tabs():
    net = archcalc.parse("# my net\nC3D8 M  # first block\nFC10\n", input=(8, 8, 3))
    assert [layer.op for layer in net.layers] == ["input", "conv", "maxpool", "fc"]
    with pytest.raises(ArchcalcError) as e:
        archcalc.parse("C3D8\tM\r\nC3X8 \tC3Q\r\n", input=(8, 8, 3))
    shown = e.value.diagnostics[-1].render().split("\n")
    assert "\r" not in shown[1] and "\t" not in shown[1]
    assert shown[1][shown[2].index("^")] == "C"          # the caret under C3Q, tabs expanded


def test_table_errors_in_file_order_without_a_layer_count_cascade(tmp_path):
    t = tmp_path / "t2.md"
    t.write_text("| Name | A | B |\n|---|---|---|\n| # Layers | 2 | 2 |\n"
                 "| | C3X8 | C3D8 |\n| | FC10 | C3Q |\n")
    with pytest.raises(ArchcalcError) as e:
        archcalc.load(t)
    got = [(d.pos.line, d.pos.col, d.message.split(" '")[0]) for d in e.value.diagnostics]
    # the bad cells, in file order; no "declares 2 weight layers but holds 1" for A or B: their
    # counts are short only because of the bad cells
    assert got == [(4, 5, "unknown token"), (5, 12, "unknown token")]
