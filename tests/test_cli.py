"""The archcalc command as a user meets it: output, formats, exit codes, no tracebacks."""
import csv
import io
import json
import subprocess
import sys

import pytest

from conftest import ROOT, run_cli


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
    assert doc["schema"] == 2
    assert doc["name"] == "vgg16" and doc["input"] == [224, 224, 3]
    layer_keys = ["name", "op", "attrs", "inputs", "input", "output", "params",
                  "trainable_params", "buffers", "macs", "activations", "inplace", "rf", "scope"]
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
    (["summary", "C", "--dtype", "fp64"], 2, "unknown dtype 'fp64'"),
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
    code = ("import sys\nfrom archcalc.cli import app\n"
            "try:\n    app(['summary', 'specs/vgg16.yaml', '-F', 'json'])\n"
            "except SystemExit as e:\n    assert e.code in (0, None)\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('onnx', 'onnxruntime')]\n"
            "print('IMPORTED', bad)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "IMPORTED []" in p.stdout


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
