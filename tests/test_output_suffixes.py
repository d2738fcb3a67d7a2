"""An output's suffix says its format: the suffix of another format archcalc knows is refused
before any work (exit 2, with the name to use); an unknown suffix, or none, is written with a
warning where the command's format is known otherwise (docs/usage.md, "Output files")."""
from __future__ import annotations

import json

import pytest
from conftest import run_cli


def refused(p, *words):
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    text = p.stderr + p.stdout
    assert "Traceback" not in text and "hint" in text, text
    for w in words:
        assert w in text, text


@pytest.fixture
def onnx_installed():
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name", ["l.yaml", "l.json", "l.md", "l.svg", "l.csv", "l.txt",
                                  "l.onnx.data", "L.YAML"])
def test_export_refuses_the_suffix_of_another_format(tmp_path, onnx_installed, name):
    p = run_cli("export", "lenet5", "-o", name, "--weights", "none", cwd=tmp_path)
    refused(p, "should end in .onnx", "--output " + name[:-len(name.split(".")[-1]) - 1]
            + ".onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["l.bin", "l"])
def test_export_warns_about_an_unknown_suffix(tmp_path, onnx_installed, name):
    p = run_cli("export", "lenet5", "-o", name, "--weights", "none", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "warning: --output " + name in p.stderr and ".onnx" in p.stderr
    assert (tmp_path / name).is_file()


@pytest.mark.parametrize("fmt,name", [("dot", "x.svg"), ("svg", "x.dot"), ("mermaid", "x.png"),
                                      ("png", "x.md"), ("dot", "x.yaml"), ("svg", "x.txt")])
def test_draw_refuses_a_format_its_suffix_contradicts(tmp_path, fmt, name):
    p = run_cli("draw", "lenet5", "-F", fmt, "-o", name, cwd=tmp_path)
    refused(p, "should end in", "drop --format")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt,name", [("dot", "x.gv"), ("dot", "x.DOT"), ("mermaid", "x.md"),
                                      ("mermaid", "x.mmd"), ("svg", "x.svg")])
def test_draw_takes_a_format_its_suffix_agrees_with(tmp_path, fmt, name):
    p = run_cli("draw", "lenet5", "-F", fmt, "-o", name, cwd=tmp_path)
    assert p.returncode == 0 and "warning: --output" not in p.stderr, p.stderr


def test_draw_warns_about_an_unknown_suffix_with_a_format(tmp_path):
    p = run_cli("draw", "lenet5", "-F", "dot", "-o", "x.graph", cwd=tmp_path)
    assert p.returncode == 0 and "warning: --output x.graph" in p.stderr, p.stderr
    assert (tmp_path / "x.graph").read_text().startswith("digraph")


@pytest.mark.parametrize("args", [["-F", "json", "-o", "x.csv"], ["-F", "csv", "-o", "x.jsonl"],
                                  ["-F", "table", "-o", "x.csv"], ["-o", "x.yaml"],
                                  ["-F", "csv", "-o", "x.txt"], ["-o", "x.svg"]])
def test_sweep_refuses_a_format_its_suffix_contradicts(tmp_path, args):
    p = run_cli("sweep", "C3D8 M FC10", "--set", "res=32,64", *args, cwd=tmp_path)
    refused(p, "should end in")
    assert list(tmp_path.iterdir()) == []
    if "json" in args:              # under -F json the error is the JSON document
        assert json.loads(p.stdout)["ok"] is False


@pytest.mark.parametrize("args", [["-o", "x.csv"], ["-F", "json", "-o", "x.json"],
                                  ["-F", "jsonl", "-o", "x.ndjson"], ["-o", "x.txt"],
                                  ["-F", "csv", "-o", "x.CSV"]])
def test_sweep_takes_a_suffix_that_agrees(tmp_path, args):
    p = run_cli("sweep", "C3D8 M FC10", "--set", "res=32,64", *args, cwd=tmp_path)
    assert p.returncode == 0 and "warning" not in p.stderr, p.stderr


def test_sweep_warns_about_an_unknown_suffix(tmp_path):
    p = run_cli("sweep", "C3D8 M FC10", "--set", "res=32,64", "-o", "x.out", cwd=tmp_path)
    assert p.returncode == 0 and "warning: --output x.out" in p.stderr, p.stderr
    assert "2 variants" in (tmp_path / "x.out").read_text() or \
        (tmp_path / "x.out").read_text().count("\n") >= 3          # a table


@pytest.mark.parametrize("name", ["x.txt", "x.spec", "x.model", "x"])
def test_import_writes_only_a_yaml_file(tmp_path, onnx_installed, name):
    import archcalc
    from archcalc.exporters import onnx as ox
    model = tmp_path / "m.onnx"
    ox.export(archcalc.load("lenet5"), model, weights="none", progress=False)
    p = run_cli("import", model, "-o", tmp_path / name)
    refused(p, "should end in .yaml")
    assert not (tmp_path / name).exists()
