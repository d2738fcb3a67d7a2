"""Nothing a command reads is ever lost: an output that would replace an input — the same file
by path, through a symbolic link or a hard link, an ONNX model's external data, a file inside a
report's plots folder, standard input redirected from the file — is refused before any work
(exit 2), and the input is left as it was (archcalc.files.refuse_inputs)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, SPECS, _environment, run_cli


def copy(tmp_path, name, as_=None):
    dst = tmp_path / (as_ or name)
    shutil.copy(SPECS / name, dst)
    return dst


def refused(p, *words):
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and "hint:" in p.stderr, p.stderr
    for w in words:
        assert w in p.stderr, p.stderr


def test_export_onto_its_own_spec_is_refused(tmp_path):
    x = copy(tmp_path, "lenet5.yaml", "x.yaml")
    before = x.read_bytes()
    p = run_cli("export", x, "-o", x, cwd=tmp_path)
    refused(p, "x.yaml", "the spec")
    assert x.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["x.yaml"]        # nothing staged, nothing left


def test_draw_and_report_onto_their_own_table_are_refused(tmp_path):
    t = copy(tmp_path, "vgg_table.md", "t.md")
    before = t.read_bytes()
    refused(run_cli("draw", "t.md", "-c", "D", "-o", "t.md", cwd=tmp_path), "t.md")
    refused(run_cli("report", "t.md", "-o", "t.md", "--no-plots", cwd=tmp_path), "t.md")
    assert t.read_bytes() == before


def test_draw_dot_onto_its_own_text_spec_is_refused(tmp_path):
    net = tmp_path / "net.txt"
    net.write_text("C3D8 M FC10\n")
    refused(run_cli("draw", "net.txt", "-o", "net.txt", "-F", "dot", cwd=tmp_path),
            "net.txt", "the spec")
    assert net.read_text() == "C3D8 M FC10\n"


def test_a_symbolic_link_or_a_hard_link_to_the_spec_is_the_spec(tmp_path):
    net = tmp_path / "net.yaml"
    shutil.copy(SPECS / "lenet5.yaml", net)
    before = net.read_bytes()
    os.symlink("net.yaml", tmp_path / "soft.svg")
    os.link(net, tmp_path / "hard.svg")
    p = run_cli("draw", "net.yaml", "-o", "soft.svg", cwd=tmp_path)
    refused(p, "soft.svg", "net.yaml", "symbolic link")
    p = run_cli("draw", "net.yaml", "-o", "hard.svg", cwd=tmp_path)
    refused(p, "hard.svg", "net.yaml", "hard link")
    # the spec named through a link, the output by its own name
    p = run_cli("export", "soft.svg", "-o", "net.yaml", cwd=tmp_path)
    assert p.returncode == 2 and net.read_bytes() == before


def test_a_shipped_spec_is_an_input_too(tmp_path):
    shipped = SPECS / "lenet5.yaml"
    before = shipped.read_bytes()
    try:
        p = run_cli("sweep", "lenet5", "--set", "res=32", "-F", "table", "-o", shipped)
    finally:            # (where the check is missing, the repository's file is put back)
        written = shipped.read_bytes()
        shipped.write_bytes(before)
    refused(p, "the shipped spec lenet5")
    assert written == before


def test_sweep_onto_its_spec_or_its_device_file_is_refused(tmp_path):
    net = tmp_path / "net.txt"
    net.write_text("C3D8 M FC10\n")
    refused(run_cli("sweep", "net.txt", "--set", "res=32,64", "-o", "net.txt", cwd=tmp_path),
            "net.txt")
    assert net.read_text() == "C3D8 M FC10\n"
    dev = tmp_path / "dev.json"
    dev.write_text('{"devices": {"mine": {"name": "mine", "peak_tflops": {"fp32": 10}, '
                   '"bandwidth_gbs": 100}}}\n')
    before = dev.read_bytes()
    p = run_cli("sweep", "net.txt", "--set", "res=32,64", "-D", "mine", "--device-file",
                "dev.json", "-F", "json", "-o", "dev.json", cwd=tmp_path)
    assert p.returncode == 2 and dev.read_bytes() == before
    assert "device file" in p.stdout           # -F json: the error is the JSON document


def test_a_report_never_replaces_a_plots_folder_that_holds_its_spec(tmp_path):
    pytest.importorskip("pygal")
    files = tmp_path / "review_files"
    files.mkdir()
    spec = files / "net.yaml"
    shutil.copy(SPECS / "lenet5.yaml", spec)
    p = run_cli("report", spec, "-o", tmp_path / "review.md")
    refused(p, "review_files", "net.yaml")
    assert spec.is_file() and not (tmp_path / "review.md").exists()


def test_a_report_never_deletes_a_folder_of_files_it_did_not_write(tmp_path):
    pytest.importorskip("pygal")
    files = tmp_path / "review_files"
    files.mkdir()
    (files / "notes.txt").write_text("mine\n")
    p = run_cli("report", "lenet5", "-o", tmp_path / "review.md")
    refused(p, "review_files", "notes.txt")
    assert (files / "notes.txt").read_text() == "mine\n"
    # a folder of plots archcalc wrote is replaced whole, as documented
    (files / "notes.txt").unlink()
    assert run_cli("report", "lenet5", "-o", tmp_path / "review.md").returncode == 0
    assert run_cli("report", "lenet5", "-o", tmp_path / "review.md").returncode == 0


# ---------------------------------------------------------------------------------------------
# an ONNX model's external data

@pytest.fixture
def model_with_data(tmp_path):
    """m.onnx with its weights in a file named w.svg (a location any tool may choose)."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import archcalc
    from archcalc.exporters import onnx as ox
    path = tmp_path / "plain.onnx"
    ox.export(archcalc.load("lenet5"), path, progress=False)
    model = onnx.load(str(path))
    onnx.save_model(model, str(tmp_path / "m.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="w.svg", size_threshold=0)
    path.unlink()
    return tmp_path / "m.onnx", tmp_path / "w.svg"


def test_an_output_onto_a_models_external_data_is_refused(model_with_data, tmp_path):
    model, data = model_with_data
    before = data.read_bytes()
    p = run_cli("draw", model, "-o", data)
    refused(p, "w.svg", "external data", "m.onnx")
    assert data.read_bytes() == before
    os.rename(data, tmp_path / "w.yaml")
    onnx = pytest.importorskip("onnx")
    m = onnx.load(str(model), load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "w.yaml"
    onnx.save_model(m, str(model))
    data = tmp_path / "w.yaml"
    before = data.read_bytes()
    # import refused this only by the suffix: the same check as every command now
    refused(run_cli("import", model, "-o", data), "w.yaml", "external data")
    assert data.read_bytes() == before


def test_export_refuses_a_weights_file_that_is_an_input(model_with_data, tmp_path):
    model, data = model_with_data
    os.rename(data, tmp_path / "n.onnx.data")
    onnx = pytest.importorskip("onnx")
    m = onnx.load(str(model), load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "n.onnx.data"
    onnx.save_model(m, str(model))
    before = (tmp_path / "n.onnx.data").read_bytes()
    p = run_cli("export", model, "-o", tmp_path / "n.onnx", "--external-data")
    refused(p, "n.onnx.data", "external data")
    assert (tmp_path / "n.onnx.data").read_bytes() == before
    assert not (tmp_path / "n.onnx").exists()


def test_export_onto_its_own_onnx_model_is_refused(model_with_data):
    model, _ = model_with_data
    before = model.read_bytes()
    refused(run_cli("export", model, "-o", model), "m.onnx")
    assert model.read_bytes() == before


# ---------------------------------------------------------------------------------------------
# standard input redirected from the file written

def test_standard_input_from_the_output_file_is_refused(tmp_path):
    # a real process: standard input must be the file itself (its inode), not a copy
    net = tmp_path / "net.dot"
    net.write_text("C3D8 M FC10\n")
    with open(net, "rb") as stdin:
        p = subprocess.run([sys.executable, "-m", "archcalc.cli", "draw", "-", "-o", str(net)],
                           stdin=stdin, capture_output=True, text=True, cwd=ROOT,
                           env=_environment(None, "200"))
    refused(p, "standard input")
    assert net.read_text() == "C3D8 M FC10\n"


def test_distinct_files_are_written_as_before(tmp_path):
    net = tmp_path / "net.txt"
    net.write_text("C3D8 M FC10\n")
    assert run_cli("draw", "net.txt", "-o", "net.dot", cwd=tmp_path).returncode == 0
    assert run_cli("draw", "net.txt", "-o", "net.dot", cwd=tmp_path).returncode == 0   # again
    assert net.read_text() == "C3D8 M FC10\n"


def test_the_check_in_python(tmp_path):
    from archcalc.errors import ArchcalcError
    from archcalc.files import refuse_inputs
    a = tmp_path / "a.yaml"
    a.write_text("x")
    refuse_inputs([str(tmp_path / "b.svg")], [str(a)])          # a new file: nothing to say
    refuse_inputs([str(tmp_path / "b.svg")], ["-", "C3D8 M"])   # no file: nothing to compare
    with pytest.raises(ArchcalcError) as info:
        refuse_inputs([str(a)], [str(a)])
    assert info.value.kind == "usage"
