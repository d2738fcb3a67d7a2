"""The onnxruntime runner and the export/run commands."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from archcalc.cli.guard import exit_code

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from test_export import spec_networks  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

import archcalc  # noqa: E402
from archcalc.cli.entry import build_app  # noqa: E402
from archcalc.errors import ArchcalcError  # noqa: E402
from archcalc.exporters import onnx as ox  # noqa: E402
from archcalc.exporters import runtime  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)
SMALL = "C3D16 R M C3D32 R M FC10 S"
CUDA_REASON = runtime.cuda_unavailable_reason()


@pytest.fixture
def small():
    return archcalc.parse(SMALL, input=(32, 32, 3))


@pytest.mark.slow                  # every shipped network run in onnxruntime: about a minute
@pytest.mark.parametrize("net", spec_networks())
def test_every_spec_runs_on_the_cpu_with_the_analyzers_shape(net):
    result = runtime.run(net, weights="zeros", provider="cpu", warmup=0, iters=1)
    report = archcalc.analyze(net)
    # one output per layer the spec lists under outputs: (an FPN's P2…P6), else per inference
    # layer that nothing reads, in layer order; training-only layers are not run
    read = {name for row in report.layers for name in row.inputs}
    sinks = [report[n] for n in net.declared_outputs] if net.declared_outputs else \
        [row for row in report.layers[1:] if row.name not in read and not row.train_only]
    assert len(result.output_shapes) == len(sinks)
    assert result.shape_ok and result.expected_from == "analyzer"
    for out, row in zip(result.output_shapes, sinks):
        assert out[0] == 1 and np.prod(out[1:]) == np.prod(row.output)


def test_result_figures(small):
    r = runtime.run(small, batch=4, warmup=1, iters=7, provider="cpu")
    assert dataclasses.is_dataclass(r)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.batch = 2
    assert len(r.times_ms) == 7 and r.provider == "cpu" and r.note is None
    assert r.min_ms <= r.p10_ms <= r.median_ms <= r.p90_ms <= max(r.times_ms)
    assert r.images_per_s == pytest.approx(4000 / r.median_ms)
    assert r.input_shape == (4, 3, 32, 32) and r.output_shapes == ((4, 10),)
    text = "\n".join(r.lines())
    assert "as the analyzer says" in text and "images/s at batch 4" in text


def test_run_a_file_checks_its_declared_outputs(small, tmp_path):
    path = ox.export(small, tmp_path / "m.onnx")
    r = runtime.run(path, batch=3, iters=2, provider="cpu")
    assert r.output_shapes == ((3, 10),) and r.shape_ok and r.expected_from == "model"


def test_a_wrong_output_shape_is_an_error(small, tmp_path, monkeypatch):
    path = ox.export(small, tmp_path / "m.onnx")
    monkeypatch.setattr(runtime, "_declared_shapes", lambda s, batch: ((batch, 11),))
    with pytest.raises(ox.VerificationError, match="says 1×11"):
        runtime.run(path, iters=1, provider="cpu")


def test_light_models_do_not_run(small, tmp_path):
    path = ox.export(small, tmp_path / "light.onnx", weights="none")
    with pytest.raises(ArchcalcError, match="takes 7 inputs"):
        runtime.run(path, provider="cpu")
    with pytest.raises(ArchcalcError, match="no weights"):
        runtime.run(small, weights="none")


def test_bad_arguments(small, tmp_path):
    with pytest.raises(ArchcalcError, match="batch"):
        runtime.run(small, batch=0)
    with pytest.raises(ArchcalcError, match="unknown provider"):
        runtime.run(small, provider="tpu")
    with pytest.raises(ArchcalcError, match="no such model"):
        runtime.run(tmp_path / "missing.onnx")


# ---------------------------------------------------------------------------------------------
# providers

def test_auto_says_why_the_gpu_was_not_used(small):
    if CUDA_REASON is None:
        pytest.skip("CUDA works here: auto uses it")
    r = runtime.run(small, iters=1, provider="auto")
    assert r.provider == "cpu"
    gpu_build = "CUDAExecutionProvider" in ort.get_available_providers()
    assert r.note == (CUDA_REASON if gpu_build else None)
    assert "\n" not in r.provider_line()


def test_cuda_that_cannot_be_honoured_is_an_error(small):
    if CUDA_REASON is None:
        pytest.skip("CUDA works here")
    with pytest.raises(ArchcalcError, match="cannot be honoured") as info:
        runtime.run(small, iters=1, provider="cuda")
    assert CUDA_REASON in str(info.value) and exit_code(info.value) == 2


@pytest.mark.gpu
@pytest.mark.skipif(CUDA_REASON is not None, reason=f"no CUDA for onnxruntime: {CUDA_REASON}")
def test_gpu_run_matches_the_cpu(small, tmp_path):
    path = ox.export(small, tmp_path / "m.onnx")
    r = runtime.run(path, batch=8, iters=3, provider="cuda")
    assert r.provider == "cuda" and r.note is None and r.output_shapes == ((8, 10),)
    x = np.random.default_rng(0).standard_normal((8, 3, 32, 32), dtype=np.float32)
    gpu = runtime.open_session(path, "cuda").session.run(None, {"input": x})[0]
    cpu = runtime.open_session(path, "cpu").session.run(None, {"input": x})[0]
    np.testing.assert_allclose(gpu, cpu, rtol=1e-3, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# commands

@pytest.fixture
def cli():
    app = build_app()
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_export_command(cli, tmp_path):
    out = tmp_path / "m.onnx"
    res = cli("export", SMALL, "-i", "32x32x3", "-o", str(out), "--weights", "zeros")
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.output and "checked against the analyzer" in res.output
    model = ox.onnx.load(str(out))
    assert not any(ox.onnx.numpy_helper.to_array(t).any() for t in model.graph.initializer
                   if t.name.endswith("weight"))


def test_export_command_errors(cli, tmp_path):
    res = cli("export", os.path.join(ROOT, "specs", "vgg_table.md"), "-o", str(tmp_path / "v.onnx"))
    assert res.exit_code == 2 and "holds 6 networks" in res.output
    res = cli("export", "C3D16 Q", "-o", str(tmp_path / "v.onnx"))
    assert res.exit_code == 1 and "unknown token" in res.output
    assert os.listdir(tmp_path) == []


def test_run_command(cli, tmp_path):
    res = cli("run", SMALL, "-i", "32x32x3", "--provider", "cpu", "--batch", "2", "--iters", "3")
    assert res.exit_code == 0, res.output
    assert "provider    CPU" in res.output and "2×10 as the analyzer says" in res.output
    path = tmp_path / "m.onnx"
    cli("export", SMALL, "-i", "32x32x3", "-o", str(path))
    res = cli("run", str(path), "--provider", "cpu", "--iters", "2")
    assert res.exit_code == 0 and "as the model says" in res.output


def test_run_command_without_cuda_is_one_clean_line():
    if CUDA_REASON is None:
        pytest.skip("CUDA works here")
    # processes of their own: onnxruntime's C++ code writes straight to file descriptor 2, which
    # only a process's captured stderr shows
    code = "from archcalc.cli import main; main()"
    base = [sys.executable, "-c", code, "run", SMALL, "-i", "32x32x3", "--iters", "1"]
    auto = subprocess.run(base, capture_output=True, text=True, cwd=ROOT)
    assert auto.returncode == 0 and auto.stderr == ""
    cuda = subprocess.run(base + ["--provider", "cuda"], capture_output=True, text=True, cwd=ROOT)
    assert cuda.returncode == 2 and "Traceback" not in cuda.stderr
    assert "onnxruntime" not in cuda.stderr.replace("this onnxruntime", "")
    assert cuda.stderr.startswith("<options>: error: --provider cuda cannot be honoured")


def test_archcalc_and_the_commands_module_import_neither_onnx_nor_onnxruntime():
    code = ("import sys, archcalc, archcalc.exporters, archcalc.cli.commands.export, "
            "archcalc.cli.commands.run; "
            "print(sorted(m for m in ('onnx', 'onnxruntime') if m in sys.modules))")
    # a fresh interpreter: this one has imported onnx for other tests
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stderr


def test_run_help_lists_only_modes_that_run():
    from conftest import run_cli
    p = run_cli("run", "-h")
    assert p.returncode == 0
    weights = p.stdout[p.stdout.index("--weights"):].split("--seed")[0]
    assert "random or zeros" in weights and "none" not in weights and "light" not in weights
    bad = run_cli("run", SMALL, "-i", "32x32x3", "--weights", "none")
    assert bad.returncode == 2
    assert bad.stderr.startswith("<options>: error: --weights must be one of random, zeros")


@pytest.mark.parametrize("content", [b"not a model at all", b"\x08\x07\x12\x00garbage\xff"])
def test_a_corrupt_model_file_is_exit_2_at_its_place(tmp_path, content):
    from conftest import run_cli
    path = tmp_path / "broken.onnx"
    path.write_bytes(content)
    p = run_cli("run", str(path), "--provider", "cpu", "--iters", "1")
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert p.stderr.startswith(f"{path}: error: onnxruntime cannot open {path}")
    assert "<api>" not in p.stderr and "Traceback" not in p.stderr


def test_a_light_model_file_is_refused_at_its_place(small, tmp_path):
    from conftest import run_cli
    path = ox.export(small, tmp_path / "light.onnx", weights="none")
    p = run_cli("run", path, "--provider", "cpu", "--iters", "1")
    assert p.returncode == 2 and p.stderr.startswith(f"{path}: error: {path} takes 7 inputs")
    assert "<api>" not in p.stderr


def test_spec_options_on_an_onnx_model_are_refused(tmp_path):
    path = str(tmp_path / "m.onnx")
    ox.export(archcalc.parse("C3D4", input=(8, 8, 3)), path, "zeros")
    from conftest import run_cli
    p = run_cli("run", path, "-i", "16x16x3", "--iters", "1")
    assert p.returncode == 2 and "--input applies to a spec, not to an ONNX model" in p.stderr
