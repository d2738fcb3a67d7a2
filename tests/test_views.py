"""Every output format tells the same truth: JSON schema, CSV, Markdown, the table on a narrow
terminal and in a pipe, folded blocks, torchinfo-style totals, compare keys."""
import csv
import io
import json
import re

from conftest import SPECS, run_cli
from rich.console import Console

import archcalc
from archcalc.cli.guard import exit_code
from archcalc.report import SCHEMA
from archcalc.views import compare as compare_view
from archcalc.views import documents
from archcalc.views import table as table_view


def small():
    # conv 3×3 (8 filters, bias) → batchnorm → relu (in place) → max pool 2×2 → fc 10
    return archcalc.analyze(archcalc.parse("C3D8 BN R M FC10", input=(8, 8, 3)), batch=2)


def test_json_rows_carry_what_the_table_shows():
    doc = small().to_dict()
    assert doc["schema"] == SCHEMA == 3
    conv, bn, relu, pool, fc = doc["layers"][1:]
    assert conv["attrs"] == {"filters": 8, "kernel": [3, 3], "stride": [1, 1], "padding": [1, 1],
                             "dilation": [1, 1], "groups": 1, "bias": True}
    assert conv["input"] == [[8, 8, 3]] and conv["output"] == [8, 8, 8]
    assert relu["inplace"] is True and conv["inplace"] is False
    assert pool["attrs"]["kernel"] == [2, 2] and pool["attrs"]["stride"] == [2, 2]
    assert fc["attrs"] == {"units": 10, "bias": True}
    # BatchNorm: γ, β parameters; running mean and variance buffers
    assert (bn["params"], bn["trainable_params"], bn["buffers"]) == (16, 16, 16)
    # one shape for every receptive field: pairs, and nulls for a global one
    assert conv["rf"] == {"global": False, "size": [3, 3], "stride": [1, 1], "start": [0, 0],
                          "aligned": True}
    assert fc["rf"] == {"global": True, "size": None, "stride": None, "start": None,
                        "aligned": True}
    assert {k for layer in doc["layers"] for k in layer["rf"]} == \
        {"global", "size", "stride", "start", "aligned"}


def test_python_rf_of_a_global_layer_has_no_local_size():
    rf = small()["fc1"].rf
    assert rf.is_global and rf.size is None and rf.stride is None and rf.start is None
    assert rf.text() == "global"


def test_totals_separate_parameters_buffers_and_memory():
    t = small().totals
    conv, bn, fc = 3 * 3 * 3 * 8 + 8, 2 * 8, 4 * 4 * 8 * 10 + 10
    assert (t.params, t.trainable_params, t.non_trainable_params, t.buffers) == \
        (conv + bn + fc, conv + bn + fc, 0, 2 * 8)
    # per image: conv 8·8·3·8·9 MACs, fc 128·10; per batch of 2: twice that
    assert t.macs == 8 * 8 * 8 * 27 + 128 * 10 and t.batch_macs == 2 * t.macs
    # bytes at fp32, batch 2: input 8·8·3; forward: conv 512 + bn 512 + pool 128 + fc 10
    assert t.input_bytes == 192 * 2 * 4
    assert t.forward_bytes == (512 + 512 + 128 + 10) * 2 * 4
    assert t.param_bytes == (conv + bn + fc + 16) * 4
    assert t.total_bytes == t.input_bytes + t.forward_bytes + t.param_bytes
    doc = t.to_dict()
    assert doc["batch_macs"] == 2 * t.macs and doc["buffers"] == 16


def test_table_totals_lines(capsys):
    r = small()
    console = Console(file=io.StringIO(), width=200)
    table_view.render_table(r, console=console)
    out = console.file.getvalue()
    assert "parameters: 1,530 (1.53K): 1,530 trainable, 0 non-trainable" in out
    assert "buffers: 16" in out
    assert f"MACs: {r.totals.macs:,}" in out and f"{2 * r.totals.macs:,}" in out
    assert "memory (inference): input 1.50 KiB + forward activations 9.08 KiB" in out


def test_markdown_escapes_pipes_and_labels_warnings_once():
    text = "name: p\ninput: 8x8x3\nlayers:\n  - {op: conv, name: 'a|b', filters: 4}\n" \
           "  - {op: fc, units: 1000}\n"
    r = archcalc.analyze(archcalc.parse(text))
    md = documents.render_markdown(r)
    row = next(line for line in md.splitlines() if line.startswith("| a"))
    assert row.startswith("| a\\|b | conv")
    assert row.count(" | ") == len(table_view.COLUMNS) - 1      # the pipe did not add a cell
    warn = [line for line in md.splitlines() if "holds" in line]
    assert len(warn) == 1 and warn[0].count("warning") == 1


def test_csv_numbers_only_and_unambiguous_inputs():
    r = archcalc.analyze(archcalc.load(SPECS / "googlenet.yaml"))
    rows = list(csv.DictReader(io.StringIO(documents.render_csv(r))))
    numeric = [c for c in documents.CSV_COLUMNS if c.startswith(("in_", "out_", "rf_")) and
               c != "rf_aligned"] + ["params", "trainable_params", "buffers", "macs",
                                     "activations"]
    for row in rows:
        for c in numeric:
            assert row[c] == "" or float(row[c]) == float(row[c]), (row["name"], c)
            assert row[c] == "" or row[c].replace(".", "", 1).isdigit(), (row["name"], c, row[c])
    cat = next(row for row in rows if row["name"] == "inception_3a/output")
    names = {row["name"] for row in rows}
    assert len(json.loads(cat["inputs"])) == 4 and set(json.loads(cat["inputs"])) <= names
    fc = rows[-2]
    assert fc["global"] == "true" and fc["rf_h"] == "" and fc["rf_stride_w"] == ""
    conv1 = rows[1]
    assert (conv1["rf_h"], conv1["rf_w"], conv1["global"]) == ("7", "7", "false")
    # no totals row: the count columns sum to the totals
    assert sum(int(row["params"]) for row in rows) == r.totals.params
    assert sum(int(row["macs"]) for row in rows) == r.totals.macs


def test_piped_output_is_never_wrapped():
    p = run_cli("summary", "specs/vgg16.yaml", env={"COLUMNS": "80"})
    assert p.returncode == 0
    warning = [line for line in p.stdout.splitlines() if line.startswith("warning")]
    assert warning == ["warning [fc1]: fc1 holds 74% of the parameters (102,764,544 of "
                       "138,357,544)"]
    totals = next(line for line in p.stdout.splitlines() if line.startswith("memory"))
    assert totals.endswith("estimated total")
    header = next(line for line in p.stdout.splitlines() if "layer" in line and "RF" in line)
    assert "%MACs" in header and "trainable" in header        # every column in a pipe


def test_a_narrow_terminal_drops_columns_not_digits():
    r = archcalc.analyze(archcalc.load(SPECS / "vgg16.yaml"))
    console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    table_view.render_table(r, console=console)
    out = re.sub(r"\x1b\[[0-9;]*m", "", console.file.getvalue())
    table = out.split("(hidden at")[0].splitlines()
    assert max(len(line) for line in table) <= 80
    assert "102.76M" in out and "pool5" in out and "212 /32" in out   # compact, RF kept
    assert "(hidden at 80 columns:" in out
    assert "102,764,544" in out                         # exact in the totals and warnings


def test_fold_shows_the_declared_output_and_renames_inputs():
    text = """name: f
input: 8x8x4
blocks:
  b:
    layers:
      - {op: conv, name: main, filters: 8, kernel: 2, stride: 2, padding: 0}
      - {op: maxpool, name: side, inputs: input}
      - {op: concat, name: cat, inputs: [main, side]}
      - {op: conv, name: aux, filters: 2, kernel: 1}
    output: cat
layers:
  - {block: b, name: s}
  - {op: conv, name: head, filters: 4, inputs: s}
"""
    net = archcalc.parse(text)
    r = archcalc.analyze(net)
    # the declared output is cat (4×4×12), not the last layer aux (4×4×2)
    assert r.block_outputs == {"s": "s/cat"}
    rows = r.rows(0)
    s = next(row for row in rows if row.name == "s")
    assert s.output == (4, 4, 12) and s.rf == r["s/cat"].rf
    names = {row.name for row in rows}
    assert all(src in names for row in rows for src in row.inputs)
    head = next(row for row in rows if row.name == "head")
    assert head.inputs == ("s",)
    doc = r.to_dict(0)          # the JSON document folds alike
    assert [row["name"] for row in doc["layers"]] == ["input", "s", "head"]
    assert doc["layers"][1]["output"] == [4, 4, 12] and doc["layers"][2]["input"] == [[4, 4, 12]]


def test_depth_is_the_same_in_every_format():
    r = archcalc.analyze(archcalc.load(SPECS / "resnet18.yaml"))
    want = [row.name for row in r.rows(0)]
    assert len(want) < len(r.layers)
    doc = json.loads(documents.render_json(r, 0))
    assert [row["name"] for row in doc["layers"]] == want and doc["depth"] == 0
    assert [row["name"] for row in csv.DictReader(io.StringIO(documents.render_csv(r, 0)))] == want
    md = [line.split(" | ")[0][2:] for line in documents.render_markdown(r, 0).splitlines()
          if line.startswith("| ") and not line.startswith("| layer |")]
    assert md == want
    console = Console(file=io.StringIO(), width=300)
    table_view.render_table(r, 0, console=console)
    assert "layer2.0 " in console.file.getvalue() and "layer2.0/conv1" not in \
        console.file.getvalue()


def test_compare_keeps_networks_with_the_same_name():
    a = archcalc.analyze(archcalc.parse("C3D8 M", input=(8, 8, 3)))
    b = archcalc.analyze(archcalc.parse("C3D16 M", input=(8, 8, 3)))
    doc = json.loads(compare_view.render_compare([(a, 1, "C3D8 M"), (b, 1, "C3D16 M")], "json"))
    assert list(doc["networks"]) == ["network", "network#2"]
    assert doc["networks"]["network#2"]["params"] == 3 * 3 * 3 * 16 + 16
    assert doc["networks"]["network#2"]["source"] == "C3D16 M"
    same_file = compare_view.compare_keys([(a, 1, str(SPECS / "vgg16.yaml")),
                                    (a, 1, str(SPECS / "vgg16.yaml"))])
    assert same_file[0] != same_file[1]
    files = compare_view.compare_keys([(a, 1, str(SPECS / "vgg16.yaml")),
                                (b, 1, str(SPECS / "lenet5.yaml"))])
    assert files == ["network (vgg16.yaml)", "network (lenet5.yaml)"]


def test_compare_table_says_which_is_which():
    a = archcalc.analyze(archcalc.parse("C3D8 M", input=(8, 8, 3)))
    b = archcalc.analyze(archcalc.parse("C3D16 M", input=(8, 8, 3)))
    console = Console(file=io.StringIO(), width=120)
    compare_view.render_compare([(a, 1, "C3D8 M"), (b, 1, "C3D16 M")], "table", console=console)
    out = console.file.getvalue()
    assert "network#2" in out and "network#2: C3D16 M" in out and "network: C3D8 M" in out
    md = compare_view.render_compare([(a, 1, "C3D8 M"), (b, 1, "C3D16 M")], "markdown")
    assert "| network | network#2 |" in md and "- network#2: C3D16 M" in md


def test_a_piped_summary_does_not_import_rich():
    # rich's import and table layout were most of the start-up time of `archcalc summary`;
    # a pipe gets the plain-text table, which needs neither
    from conftest import imported_by
    modules, out = imported_by("summary", "specs/vgg16.yaml")
    assert [m for m in modules if m.split(".")[0] == "rich"] == [] and "138,357,544" in out


def test_api_and_cli_edges_a_newcomer_hit(tmp_path):
    import pytest
    with pytest.raises(archcalc.ArchcalcError) as e:
        archcalc.analyze("C3D64")
    assert "analyze takes a Network, got str" in str(e.value) and exit_code(e.value) == 2
    r = archcalc.analyze(archcalc.parse("C3D4", input=(4, 4, 1)), dtype="FP16", optimizer="Adam")
    assert r.settings.dtype == "fp16" and r.totals.param_bytes == 2 * (9 * 4 + 4)
    # a table of one column needs no --column
    one = tmp_path / "one.md"
    one.write_text("| Name | A |\n|---|---|\n| | C3D8 |\n| | FC10 |\n")
    p = run_cli("summary", str(one), "-F", "json")
    assert p.returncode == 0, p.stderr
    # CSV has no place for warnings: they go to stderr, one a line
    p = run_cli("summary", "C R C R MP", "-i", "8x8x3", "-F", "csv")
    assert p.returncode == 0 and p.stderr.startswith("warning [pool1]: 'MP' is read as")
    # small counts are not repeated in short form
    assert "parameters: 40: 40 trainable" in run_cli("summary", "C3D4", "-i", "4x4x1").stdout


def test_compare_in_a_narrow_terminal_lists_one_network_a_row():
    nets = archcalc.load(SPECS / "vgg_table.md")
    entries = [(archcalc.analyze(n), n.weight_layers(), "vgg_table.md") for n in nets.values()]
    entries.append((archcalc.analyze(archcalc.load(SPECS / "resnet50.yaml")), 50, "resnet50"))
    console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    compare_view.render_compare(entries, "table", console=console)
    out = re.sub(r"\x1b\[[0-9;]*m", "", console.file.getvalue())
    assert max(len(line) for line in out.splitlines()) <= 80
    assert any(line.split()[:2] == ["D", "16"] for line in out.splitlines())   # a row per network


def test_markdown_cells_escape_what_markdown_would_read():
    from archcalc.views.text import md_cell
    # | ends a cell, a backtick opens a code span, <x> is an HTML tag GitHub strips, & an entity
    assert md_cell('a|b <x> & `t`') == "a\\|b &lt;x&gt; &amp; \\`t\\`"
