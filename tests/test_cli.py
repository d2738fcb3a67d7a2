"""The archcalc command as a user meets it: output, formats, exit codes, no tracebacks."""
import csv
import io
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, imported_by, run_cli, run_cli_process


def test_summary_vgg16_table():
    p = run_cli("summary", "specs/vgg16.yaml")
    assert p.returncode == 0, p.stderr
    assert "138,357,544" in p.stdout and "pool5" in p.stdout and "212 /32" in p.stdout


def test_summary_spec_string_with_options():
    p = run_cli("summary", "CRCRP", "--input", "32x32x3", "--filters", "16", "-F", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["input"] == [32, 32, 3]
    assert [layer["output"] for layer in doc["layers"]][-1] == [16, 16, 16]
    # 2 convs: 3·3·3·16 + 16 and 3·3·16·16 + 16
    assert doc["totals"]["params"] == 448 + 2320


def test_json_document_is_stable():
    p = run_cli("summary", "specs/vgg16.yaml", "--format", "json")
    doc = json.loads(p.stdout)
    assert list(doc)[:5] == ["schema", "name", "input", "depth", "layers"]
    assert doc["schema"] == 3
    assert doc["name"] == "vgg16" and doc["input"] == [224, 224, 3]
    layer_keys = ["name", "op", "attrs", "inputs", "input", "output", "params",
                  "trainable_params", "buffers", "macs", "activations", "inplace", "rf", "scope",
                  "train_only"]
    assert all(list(layer) == layer_keys for layer in doc["layers"])
    for key in ("params", "trainable_params", "macs", "flops", "activations", "activation_bytes",
                "param_bytes", "peak_bytes"):
        assert isinstance(doc["totals"][key], int)
    fc = next(layer for layer in doc["layers"] if layer["op"] == "fc")
    assert fc["output"] == [1, 1, 4096]
    assert fc["rf"] == {"global": True, "size": None, "stride": None, "start": None,
                        "aligned": True}
    pool5 = next(layer for layer in doc["layers"] if layer["name"] == "pool5")
    assert pool5["rf"] == {"global": False, "size": [212, 212], "stride": [32, 32],
                           "start": [15.5, 15.5], "aligned": True}
    assert doc["totals"]["params"] == 138_357_544
    assert doc["totals"]["flops"] == 2 * doc["totals"]["macs"]


def test_markdown_and_csv():
    md = run_cli("summary", "C3D8 M", "-i", "8x8x3", "-F", "markdown")
    assert md.returncode == 0
    assert "| conv1 | conv 3×3/1 p1, 8 | 8×8×3 | 8×8×8 | 224 | 100.0% |" in md.stdout
    c = run_cli("summary", "C3D8 M", "-i", "8x8x3", "-F", "csv")
    rows = list(csv.DictReader(io.StringIO(c.stdout)))
    assert [r["name"] for r in rows] == ["input", "conv1", "pool1"]
    assert rows[1]["params"] == str(3 * 3 * 3 * 8 + 8) and rows[2]["out_h"] == "4"


def test_compare_vgg_table_matches_table_2():
    p = run_cli("compare", "specs/vgg_table.md", "-F", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    millions = {k: round(v["params"] / 1e6) for k, v in doc["networks"].items()}
    assert millions == {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}
    table = run_cli("compare", "specs/vgg_table.tsv")
    assert "138.36M" in table.stdout and "A-LRN" in table.stdout


def test_summary_of_one_column():
    p = run_cli("summary", "specs/vgg_table.md", "--column", "D", "-F", "json")
    assert json.loads(p.stdout)["totals"]["params"] == 138_357_544


@pytest.mark.parametrize("args,code,needle", [
    (["summary", "C3D64 C3X64"], 1, "<spec>:1:7: error: unknown token 'C3X64'"),
    (["summary", "C11D96S4P0"], 1, "54.25 is not a whole number"),
    (["summary", "missing.yaml"], 2, "no such file: missing.yaml"),
    (["summary", "specs"], 2, "is a directory"),
    (["summary", "C", "--input", "32x32"], 2, "an input volume is H×W×C"),
    (["summary", "specs/vgg_table.md"], 2, "holds 6 networks"),
    (["summary", "specs/vgg_table.md", "--column", "Z"], 2, "no column 'Z'"),
    (["summary", "C", "--dtype", "fp64"], 2,
     "--dtype must be one of fp32, fp16, bf16, int8, got 'fp64'"),
    (["summary", "C", "--rounding", "up"], 2, "rounding must be one of"),
])
def test_errors_are_one_clean_message(args, code, needle):
    p = run_cli(*args)
    assert p.returncode == code, (p.stdout, p.stderr)
    assert needle in p.stderr
    assert "Traceback" not in p.stderr + p.stdout


def test_binary_and_non_utf8_files(tmp_path):
    b = tmp_path / "x.yaml"
    b.write_bytes(b"\x00\x01\x02")
    p = run_cli("summary", str(b))
    assert p.returncode == 2 and "binary file" in p.stderr
    b.write_bytes("name: caf\xe9\n".encode("latin-1"))
    p = run_cli("summary", str(b))
    assert p.returncode == 2 and "not UTF-8" in p.stderr


def test_summary_does_not_import_onnx():
    modules, _ = imported_by("summary", "specs/vgg16.yaml", "-F", "json")
    assert [m for m in modules if m.split(".")[0] in ("onnx", "onnxruntime")] == []


def test_depth_folds_block_rows(tmp_path):
    spec = tmp_path / "b.yaml"
    spec.write_text("name: b\ninput: 8x8x4\nblocks:\n  two:\n    layers: [C3D4, R, C3D4]\n"
                    "layers:\n  - {block: two, name: s, repeat: 2}\n  - FC10\n")
    full = run_cli("summary", str(spec), "-F", "csv")
    folded = run_cli("summary", str(spec), "-F", "csv", "--depth", "0")
    names = [r["name"] for r in csv.DictReader(io.StringIO(folded.stdout))]
    assert names == ["input", "s.0", "s.1", "fc1"]
    rows = list(csv.DictReader(io.StringIO(full.stdout)))
    assert len(rows) == 1 + 6 + 1
    frows = list(csv.DictReader(io.StringIO(folded.stdout)))
    assert int(frows[1]["params"]) == 2 * (3 * 3 * 4 * 4 + 4)


# ---------------------------------------------------------------------------------------------
# one document in every format, one stream: the command line as a newcomer meets it

def cli_in(cwd, *args, input_text=None):
    """The archcalc command run from another folder (as an installed command would be), on an
    80-column screen."""
    return run_cli(*args, input_text=input_text, cwd=cwd, columns="80")


BAD_YAML_SYNTAX = "name: x\nlayers: [C3D8, {op: conv, filters: 3}\n"
BAD_YAML_OP = "name: x\ninput: 8x8x3\nlayers:\n  - {op: blur, filters: 3}\n"


@pytest.mark.parametrize("command", ["validate", "summary", "compare"])
@pytest.mark.parametrize("args,files,code", [
    (["C3D64 C3X64"], {}, 1),                                 # unknown token
    (["bad.yaml"], {"bad.yaml": BAD_YAML_SYNTAX}, 1),         # YAML syntax error
    (["op.yaml"], {"op.yaml": BAD_YAML_OP}, 1),               # unknown op
    (["missing.yaml"], {}, 2),                                # unreadable: no such file
    (["sub"], {"sub/": ""}, 2),                               # unreadable: a directory
    (["C3D8", "--dtype", "fp64"], {}, 2),                     # a bad option value
    (["C3D8", "--no-such-option"], {}, 2),                    # an unknown option
])
def test_format_json_is_a_json_document_on_every_path(tmp_path, command, args, files, code):
    for name, text in files.items():
        if name.endswith("/"):
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_text(text)
    p = cli_in(tmp_path, command, *args, "-F", "json")
    assert p.returncode == code, (p.stdout, p.stderr)
    doc = json.loads(p.stdout)                 # the whole of stdout is one JSON document
    assert doc["schema"] == 3 and doc["ok"] is False and doc["errors"] >= 1
    assert all(d["severity"] in ("error", "warning") for d in doc["diagnostics"])
    assert p.stderr == ""


def test_validate_json_of_a_good_spec_says_ok():
    # VGG16's fc1 holds 25088·4096 + 4096 = 102,764,544 of 138,357,544 parameters (74%): a warning
    p = run_cli("validate", "specs/vgg16.yaml", "--format", "JSON")
    doc = json.loads(p.stdout)
    assert p.returncode == 0 and doc["ok"] is True and doc["errors"] == 0
    assert doc["warnings"] == len(doc["diagnostics"]) >= 1
    strict = run_cli("validate", "specs/vgg16.yaml", "-F=json", "--strict")
    assert strict.returncode == 1 and json.loads(strict.stdout)["ok"] is False


def test_validate_text_keeps_errors_and_warnings_on_stdout_in_order():
    # conv1: (224 − 11)/4 + 1 = 54.25 is an error; fc1 then holds 54·54·96·10 + 10 = 2,799,370 of
    # 2,799,370 + 11·11·3·96 + 96 = 2,834,314 parameters, a warning; the count comes last
    p = run_cli("validate", "C11D96S4P0 FC10")
    assert p.returncode == 1 and p.stderr == ""
    lines = p.stdout.splitlines()
    err = next(i for i, s in enumerate(lines) if ": error [conv1]:" in s)
    warn = next(i for i, s in enumerate(lines) if ": warning [fc1]:" in s)
    assert err < warn and lines[-1] == "network: 1 error, 1 warning"


def test_validate_text_puts_parse_errors_on_stdout_with_the_count():
    p = run_cli("validate", "C3D64 C3X64 FOO")
    assert p.returncode == 1 and p.stderr == ""
    assert "unknown token 'C3X64'" in p.stdout and "unknown token 'FOO'" in p.stdout
    assert p.stdout.splitlines()[-1] == "<spec>: 2 errors, 0 warnings"


def test_version_and_short_help_everywhere():
    import archcalc
    for args in (["--version"], ["-V"], ["summary", "--version"], ["run", "x.onnx", "--version"]):
        v = run_cli(*args)
        assert v.returncode == 0 and v.stdout.strip() == f"archcalc {archcalc.__version__}"
    for cmd in ([], ["summary"], ["compare"], ["validate"], ["specs"], ["export"], ["run"]):
        p = run_cli(*cmd, "-h")
        assert p.returncode == 0 and p.stdout.startswith("Usage: "), (cmd, p.stderr)
        assert "-h, --help" in p.stdout


def test_option_words_are_case_insensitive():
    # the words of the spec languages are case-insensitive; so are the options' words
    doc = json.loads(run_cli("summary", "C3D8 M FC10", "-i", "8x8x3", "-F", "JSON",
                             "--dtype", "FP16", "--optimizer", "Adam").stdout)
    ref = json.loads(run_cli("summary", "C3D8 M FC10", "-i", "8x8x3", "-F", "json").stdout)
    assert 2 * doc["totals"]["activation_bytes"] == ref["totals"]["activation_bytes"]  # 2 B vs 4 B
    d = run_cli("summary", "specs/vgg_table.md", "--column", "d", "-F", "json")
    assert d.returncode == 0, d.stderr
    assert json.loads(d.stdout)["totals"]["params"] == 138_357_544     # column D is VGG16
    assert run_cli("summary", "C3D8", "--rounding", "FLOOR").returncode == 0


@pytest.mark.parametrize("args,allowed", [
    (["-F", "jsn"], "table, json, markdown, csv"),
    (["--dtype", "fp64"], "fp32, fp16, bf16, int8"),
    (["--optimizer", "adagrad"], "sgd, momentum, adam"),
    (["--batch", "0"], "≥ 1"),
    (["--batch", "many"], "≥ 1"),
    (["--batch", str(2 ** 31 + 1)], "at most 2,147,483,648"),
    (["--depth", "-1"], "≥ 0"),
    (["--filters", "x"], "≥ 1"),
    (["--rounding", "up"], "floor"),
    (["--no-such-option"], "no such option"),
])
def test_bad_option_values_get_archcalcs_own_message(args, allowed):
    p = run_cli("summary", "C3D8", *args)
    assert p.returncode == 2, p.stderr
    first = p.stderr.splitlines()[0]
    assert first.startswith("<options>: error: ") and allowed in first
    for internal in ("Invalid value", "Value error", "is not one of", "Usage:", "Traceback"):
        assert internal not in p.stderr + p.stdout


def test_stdin_is_a_spec_and_yaml_keeps_its_name():
    yaml_text = "name: piped\ninput: 8x8x3\nlayers: [C3D8, M, FC10]\n"
    p = run_cli("summary", "-", "-F", "json", input_text=yaml_text)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    # conv 3·3·3·8 + 8 = 224; fc (4·4·8)·10 + 10 = 1290
    assert doc["name"] == "piped" and doc["totals"]["params"] == 224 + 1290
    s = run_cli("validate", "-", input_text="C3D8 M C3D8")
    assert s.returncode == 0 and s.stdout.splitlines()[-1].endswith("0 errors, 0 warnings")
    c = run_cli("compare", "-", "specs/lenet5.yaml", "-F", "json", input_text=yaml_text)
    assert c.returncode == 0 and len(json.loads(c.stdout)) == 2
    empty = run_cli("summary", "-", input_text="")
    assert empty.returncode == 1 and "<stdin>: error: standard input is empty" in empty.stderr


def test_an_onnx_file_without_a_graph_is_refused(tmp_path):
    # .onnx files are read as ONNX models: one with only an ir_version (field 1 = 7)
    # holds no graph
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07")
    p = cli_in(tmp_path, "summary", "model.onnx")
    assert p.returncode == 2 and "model.onnx is not an ONNX model (it holds no graph" in p.stderr
    assert "Traceback" not in p.stderr


def test_shipped_specs_by_name_from_any_folder(tmp_path):
    p = cli_in(tmp_path, "summary", "vgg16", "-F", "json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["totals"]["params"] == 138_357_544      # torchvision's VGG16
    # lenet5: conv 5·5·1·6 + 6 = 156, conv 5·5·6·16 + 16 = 2416, fc 400·120 + 120 = 48120,
    # 120·84 + 84 = 10164, 84·10 + 10 = 850: 61,706
    assert json.loads(cli_in(tmp_path, "summary", "LeNet5.yaml", "-F", "json").stdout)[
        "totals"]["params"] == 61_706
    (tmp_path / "vgg16.yaml").write_text("name: mine\ninput: 8x8x3\nlayers: [C3D8]\n")
    mine = json.loads(cli_in(tmp_path, "summary", "vgg16.yaml", "-F", "json").stdout)
    assert mine["name"] == "mine"                                       # a local file wins
    (tmp_path / "vgg16").write_text("C3D4")
    assert json.loads(cli_in(tmp_path, "summary", "vgg16", "-i", "8x8x3", "-F", "json").stdout)[
        "totals"]["params"] == 3 * 3 * 3 * 4 + 4


def test_specs_lists_every_shipped_spec_with_its_figure():
    p = run_cli("specs")
    index = json.loads((ROOT / "archcalc" / "shipped_specs.json").read_text())["specs"]
    shipped = sorted(f.name for f in (ROOT / "specs").iterdir())
    assert sorted(e["file"] for e in index) == shipped
    lines = p.stdout.splitlines()
    assert p.returncode == 0 and len(lines) == 2 * len(index)
    listed = {a.split()[0]: b.strip() for a, b in zip(lines[::2], lines[1::2])}
    assert sorted(listed) == shipped and max(map(len, lines)) <= 100
    assert listed["vgg16.yaml"] == "checked against 138,357,544 params, 15.47 G MACs (torchvision)"


def test_summary_imports_no_pydantic_and_not_the_exporters():
    modules, _ = imported_by("summary", "specs/vgg16.yaml")
    assert [m for m in modules if m.split(".")[0] == "pydantic"
            or m.startswith("archcalc.exporters")] == []


def test_a_closed_pipe_is_not_an_error():
    # a process of its own: a real pipe whose reader exits, and the interpreter's last flush
    code = (f"{sys.executable!r} -m archcalc.cli summary specs/resnet152.yaml | head -1 "
            "> /dev/null; echo ${PIPESTATUS[0]}")
    p = subprocess.run(["bash", "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.stdout.strip() == "0" and p.stderr == ""


def test_a_table_on_stdin_with_a_column_in_any_case():
    table = (ROOT / "specs" / "vgg_table.md").read_text()
    p = run_cli("summary", "-", "--column", "d", "-F", "json", input_text=table)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["totals"]["params"] == 138_357_544


def test_usage_errors_name_the_command_and_bare_archcalc_shows_help():
    p = run_cli("summary", "C", "-F")
    assert p.returncode == 2
    assert p.stderr.splitlines() == ["<options>: error: option '-F' requires an argument",
                                     "  hint: 'archcalc summary -h' lists the options"]
    bare = run_cli()            # no command: the overview, and exit 2 (bad usage)
    assert bare.returncode == 2 and bare.stdout.startswith("Usage: archcalc")
    assert bare.stderr == "archcalc: a command is needed (archcalc -h lists them)\n"


def test_a_one_word_spec_that_is_no_spec_string_points_to_files_and_shipped_names(tmp_path):
    (tmp_path / "net.yaml").write_text("name: n\ninput: 8x8x3\nlayers: [C3D4]\n")
    p = cli_in(tmp_path, "summary", "./net")
    assert p.returncode == 2 and "no such file: ./net" in p.stderr
    assert "did you mean ./net.yaml?" in p.stderr
    q = cli_in(tmp_path, "summary", "vgg17")
    assert q.returncode == 1 and "unknown token 'vgg17'" in q.stderr
    assert "did you mean the shipped network vgg16?" in q.stderr


def test_an_internal_error_is_one_line_or_one_json_document(monkeypatch, capsys):
    from archcalc import cli
    from archcalc.cli.commands import summary

    def boom(*args, **kwargs):
        raise RuntimeError("a bug")
    monkeypatch.setattr(summary, "analyze", boom)
    monkeypatch.delenv("ARCHCALC_DEBUG", raising=False)
    with pytest.raises(SystemExit) as e:
        cli.main(["summary", "C3D8", "-F", "JSON"])
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert e.value.code == 3 and out.err == "" and doc["ok"] is False
    assert doc["diagnostics"][0]["file"] == "<internal>"
    assert doc["diagnostics"][0]["message"] == "internal error: RuntimeError: a bug"
    with pytest.raises(SystemExit) as e:
        cli.main(["summary", "C3D8"])
    out = capsys.readouterr()
    assert e.value.code == 3 and out.out == ""
    assert out.err.startswith("archcalc: internal error: RuntimeError: a bug (please report it")


def test_a_closed_pipe_keeps_the_exit_code():
    # validate finds an error (exit 1); its reader stops after one line: still exit 1 (a real
    # pipe, so a process of its own)
    for args, code in ((["validate", "C11D96S4P0"], 1), (["validate", "vgg16", "--strict"], 1),
                       (["summary", "vgg16"], 0), (["--help"], 0)):
        cmd = " ".join(f"'{a}'" for a in args)
        p = subprocess.run(["bash", "-c", f"set -o pipefail; {sys.executable!r} -m archcalc.cli "
                            f"{cmd} | head -c 10 > /dev/null"], capture_output=True, text=True,
                           cwd=ROOT)
        assert p.returncode == code, (args, p.stderr)
        assert "Traceback" not in p.stderr and "Exception ignored" not in p.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
@pytest.mark.parametrize("args", [["summary", "vgg16"], ["summary", "vgg16", "-F", "json"],
                                  ["summary", "C11D96S4P0", "-F", "json"],
                                  ["validate", "C11D96S4P0"], ["explain", "vgg16"], ["specs"]])
def test_a_full_disk_is_one_clean_error(args):
    # a process of its own: standard output is the file descriptor of /dev/full, down to the
    # interpreter's final flush at exit
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-m", "archcalc.cli", *args], stdout=full,
                           stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("<stdout>: error: cannot write standard output:")
    assert "Traceback" not in p.stderr


def test_python_dash_m_is_the_command():
    # `python -m archcalc.cli` in a process of its own: the module runs main() and its exit
    # code is the process's
    p = run_cli_process("summary", "lenet5", "-F", "json")
    assert p.returncode == 0 and json.loads(p.stdout)["totals"]["params"] == 61_706
    bad = run_cli_process("summary", "C3D8", "--dtype", "fp64")
    assert bad.returncode == 2 and bad.stderr.startswith("<options>: error: --dtype")


def test_usage_slips_get_their_fix():
    p = run_cli("summary", "C3D64", "M", "FC10")
    assert p.returncode == 2 and 'quote it, as in archcalc summary "C3D64 M FC10"' in p.stderr
    p = run_cli("bogus")
    assert p.returncode == 2 and "commands: summary, explain, compare" in p.stderr


def test_hints_for_option_values_and_shipped_names(tmp_path):
    p = run_cli("export", "C3D4", "-i", "8x8x3", "-o", str(tmp_path / "x.onnx"), "--opset", "abc")
    assert p.returncode == 2 and "e.g. --opset 17" in p.stderr
    p = run_cli("summary", "C3D4", "-i", "[32,32,3]", "-F", "json")      # brackets as in YAML
    assert p.returncode == 0 and json.loads(p.stdout)["input"] == [32, 32, 3]
    p = run_cli("summary", "specs/vgg16.yaml", cwd=tmp_path)
    assert p.returncode == 2 and "a shipped network has that name: give it alone, vgg16" in p.stderr


def test_compare_reports_every_spec_s_errors_each_at_its_argument():
    p = run_cli("compare", "CRX", "C11D96S4P0", "C3D64 M3")
    assert p.returncode == 1
    places = [line.split(": ")[0] for line in p.stderr.splitlines() if ": error" in line]
    assert places == ["<spec 1>:1:1", "<spec 2>:1:1", "<spec 3>:1:7"]


def test_validate_reports_parse_and_analysis_errors_together(tmp_path):
    spec = tmp_path / "f4.yaml"
    spec.write_text("input: 224x224x3\nlayers:\n"
                    "  - {op: conv, filters: 96, kernel: 11, stride: 4, padding: 0}\n"
                    "  - {op: conv, filters: 8, groups: 3}\n  - {op: maxpool, kernal: 3}\n")
    p = run_cli("validate", str(spec), "-F", "json")
    doc = json.loads(p.stdout)
    assert p.returncode == 1 and doc["errors"] == 3
    # line 3: (224 − 11)/4 + 1 = 54.25; line 4: groups 3 vs 96 channels; line 5: the typo
    assert [d["line"] for d in doc["diagnostics"]] == [3, 4, 5]
    s = run_cli("validate", "C11D96S4P0 C3X")
    assert s.returncode == 1 and "54.25" in s.stdout and "unknown token 'C3X'" in s.stdout
