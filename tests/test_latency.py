"""archcalc.latency without onnxruntime: the device table, the roofline estimate (values derived
by hand from the formulas in docs/definitions.md, "Latency"), device-file errors, and the
estimate / summary --device commands."""
from __future__ import annotations

import json

import pytest
from conftest import imported_by

import archcalc
from archcalc.cli import main
from archcalc.cli.guard import exit_code
from archcalc.errors import ArchcalcError
from archcalc.latency import devices, model


def cli(capsys, *args, env=None, monkeypatch=None):
    """archcalc ARGS in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


DEVICE_YAML = """\
devices:
  toy:
    name: a toy accelerator
    peak_tflops: {fp32: 0.5, fp16: 1.0}
    bandwidth_gbs: 100
    overhead_us: 5
    source: made up for the tests
  slow-dw:
    peak_tflops: {fp32: 0.5}
    bandwidth_gbs: 100
    efficiency: {depthwise: 0.25, elementwise: 0.5}
"""


@pytest.fixture
def toy(tmp_path):
    path = tmp_path / "devices.yaml"
    path.write_text(DEVICE_YAML)
    return str(path)


def test_a_conv_layer_by_hand(toy):
    """conv 3×3, 64 filters on 32×32×3, batch 2, fp16 on 1 TFLOPS / 100 GB/s / 5 µs."""
    net = archcalc.parse("C3D64", input="32x32x3")
    rep = archcalc.analyze(net, dtype="fp16", batch=2)
    est = model.estimate(rep, devices.get("toy", toy))
    conv = est.by_name()[rep.layers[1].name]
    macs = 32 * 32 * 64 * (3 * 3 * 3)                 # H'·W'·K·C·F·F
    flops = 2 * macs * 2                              # 2 per MAC, batch 2
    weights = 3 * 3 * 3 * 64 + 64                     # F·F·C·K + K biases
    moved = 2 * (weights + 2 * (32 * 32 * 3) + 2 * (32 * 32 * 64))   # fp16: 2 bytes each
    assert (conv.flops, conv.bytes) == (flops, moved) == (7_077_888, 278_016)
    assert conv.intensity == pytest.approx(flops / moved)
    compute, memory = flops / 1e12, moved / 100e9     # 7.08 µs against 2.78 µs
    assert conv.bound == "compute" and memory < compute
    assert conv.memory_s == pytest.approx(memory)
    assert conv.time_s == pytest.approx(compute + 5e-6)
    assert est.time_s == pytest.approx(compute + 5e-6)
    assert est.by_kind() == {"conv": pytest.approx(compute + 5e-6)}


def test_memory_bound_layers_views_and_efficiency(toy):
    """A pool reads its input and writes its output; dropout and flatten do no work; a
    depthwise layer on a device with efficiency 0.25 takes four times its roofline."""
    net = archcalc.parse("DW3 M dropout flatten FC10", input="8x8x16")
    rep = archcalc.analyze(net)                       # fp32, batch 1
    est = model.estimate(rep, devices.get("slow-dw", toy))
    t = {row.op: est.by_name()[row.name] for row in rep.layers if row.op != "input"}
    dw = t["dwconv"]
    assert dw.kind == "depthwise" and dw.flops == 2 * 8 * 8 * 16 * 9
    dw_bytes = 4 * ((9 * 16 + 16) + 8 * 8 * 16 + 8 * 8 * 16)
    assert dw.bytes == dw_bytes and dw.bound == "memory"
    assert dw.time_s == pytest.approx(dw_bytes / 100e9 / 0.25)     # no overhead given
    pool = t["maxpool"]
    assert (pool.kind, pool.flops, pool.bytes) == ("pool", 0, 4 * (8 * 8 * 16 + 4 * 4 * 16))
    assert pool.time_s == pytest.approx(pool.bytes / 100e9)         # pool efficiency: 1
    assert t["dropout"].time_s == t["flatten"].time_s == 0 and t["flatten"].bound == "-"
    fc = t["fc"]
    assert fc.kind == "fc" and fc.bytes == 4 * (256 * 10 + 10 + 256 + 10)


def test_kinds():
    net = archcalc.parse("C3D8 C1D8 C3D8G8 C3D16G2 DW3 BN R A2 GAP FC4", input="8x8x8")
    rep = archcalc.analyze(net)
    vols = {r.name: r.output for r in rep.layers}
    kinds = [model.kind_of(r, vols[r.inputs[0]][2] if r.inputs else None) for r in rep.layers]
    assert kinds == [None, "conv", "conv1x1", "depthwise", "conv", "depthwise", "elementwise",
                     "elementwise", "pool", "pool", "fc"]


def test_the_table_holds_dense_peaks_with_sources():
    table = devices.builtin()
    assert {"a100-40gb", "a100-80gb", "h100-sxm", "h100-pcie", "h200", "l4", "t4", "rtx-4090",
            "jetson-agx-orin-64gb"} <= set(table)
    # the datasheets print these with sparsity; the table must hold half of each
    sparse = {"h100-sxm": {"fp16": 1979, "tf32": 989, "int8": 3958},
              "a100-40gb": {"fp16": 624, "tf32": 312, "int8": 1248},
              "l4": {"fp16": 242, "int8": 485}, "h200": {"fp16": 1979}}
    for key, peaks in sparse.items():
        for dt, headline in peaks.items():
            assert table[key].peak_tflops[dt] == pytest.approx(headline / 2, rel=0.01), (key, dt)
    assert table["h100-sxm"].peak_tflops["fp16"] == 989.4
    for d in table.values():
        assert "fp32" in d.peak_tflops and d.bandwidth_gbs > 0 and "http" in d.source
        assert d.efficiency == {} and not d.calibrated    # the bare roofline
    assert "tf32" not in table["t4"].peak_tflops          # Turing has none: never a zero


@pytest.mark.parametrize("text, message, line", [
    ("devices:\n  x:\n    peak_tflops: {fp32: 1}\n", "x: bandwidth_gbs is missing", 2),
    ("devices:\n  x:\n    peak_tflops:\n      fp32: -3\n    bandwidth_gbs: 10\n",
     "x: peak_tflops.fp32 must be positive, got -3", 4),
    ("devices:\n  x:\n    bandwidth_gbs: 10\n", "x: peak_tflops is missing", 2),
    ("devices:\n  x:\n    peak_tflops: {fp32: 1}\n    bandwidth_gbs: 0\n",
     "x: bandwidth_gbs must be positive, got 0", 4),
    ("devices:\n  x:\n    peak_tflops: {fp32: 1}\n    bandwidth_gbs: fast\n",
     "x: bandwidth_gbs must be a number, got 'fast'", 4),
    ("devices:\n  x:\n    peak_tflops: {fp64: 1}\n    bandwidth_gbs: 1\n",
     "unknown dtype 'fp64'", 3),
    ('{"devices": {"x": {"peak_tflops": {"fp32": 1},\n "bandwidth_gbs": 1, "overhead_us": -1}}}',
     "x: overhead_us must be ≥ 0, got -1", 2),
    ("gpus: {}\n", "has no 'devices' mapping", 1),
    ("devices: [\n", "is not valid YAML or JSON", 2),
    # a newcomer's review: a typo in an optional key, a key given twice, an empty file
    ("devices:\n  x:\n    peak_tflops: {fp32: 1}\n    bandwidth_gbs: 1\n    overhead: 5\n",
     "x: unknown key 'overhead'", 5),
    ("devices:\n  x:\n    peak_tflops: {fp32: 1}\n    bandwidth_gbs: 9\n    bandwidth_gbs: 1\n",
     "'bandwidth_gbs' is given twice (first on line 4)", 5),
    ("# nothing\n", "has no 'devices' mapping", 1),
])
def test_device_file_errors_are_at_their_line(tmp_path, text, message, line):
    path = tmp_path / "dev.yaml"
    path.write_text(text)
    with pytest.raises(ArchcalcError) as exc:
        devices.get("x", str(path))
    d = exc.value.diagnostics[0]
    assert message in d.message and exit_code(exc.value) == 2
    assert (d.pos.file, d.pos.line) == (str(path), line)


def test_unknown_device_suggests_the_nearest_and_lists_all():
    with pytest.raises(ArchcalcError) as exc:
        devices.get("h100")
    d = exc.value.diagnostics[0]
    assert d.message == "unknown device 'h100'" and exit_code(exc.value) == 2
    assert d.hint.startswith("did you mean h100-sxm?")
    assert all(k in d.hint for k in [*devices.builtin(), "local-cpu"])
    with pytest.raises(ArchcalcError) as exc:
        devices.get("rtx4090")
    assert "did you mean rtx-4090?" in exc.value.diagnostics[0].hint


def test_a_dtype_without_a_peak_is_an_error_never_a_zero(capsys):
    code, out, err = cli(capsys, "estimate", "C3D8", "-i", "8x8x3", "--device", "t4",
                         "--dtype", "bf16")
    assert code == 2 and out == ""
    assert "t4 has no bf16 peak (it gives fp32, fp16, int8)" in err and "Traceback" not in err
    code, out, err = cli(capsys, "estimate", "C3D8", "-i", "8x8x3", "--device", "nope",
                         "-F", "json")
    doc = json.loads(out)
    assert code == 2 and doc["ok"] is False
    assert doc["diagnostics"][0]["message"] == "unknown device 'nope'"


def test_estimate_command_formats_agree(capsys, toy):
    args = ("estimate", "C3D64 R M", "-i", "32x32x3", "--device", "toy", "--device-file", toy,
            "--dtype", "fp16", "-b", "2")
    code, out, _ = cli(capsys, *args, "-F", "json")
    assert code == 0
    doc = json.loads(out)
    conv = doc["layers"][0]
    assert (conv["flops"], conv["bytes"], conv["bound"]) == (7_077_888, 278_016, "compute")
    assert conv["time_us"] == pytest.approx(7.077888 + 5)
    assert doc["totals"]["time_ms"] == pytest.approx(sum(x["time_us"] for x in doc["layers"])
                                                     / 1e3)
    assert sum(k["share"] for k in doc["totals"]["by_kind"].values()) == pytest.approx(1)
    assert doc["ridge_flops_per_byte"] == pytest.approx(1e12 / 100e9)
    code, out, _ = cli(capsys, *args, "-F", "csv")
    rows = out.splitlines()
    assert code == 0 and rows[0].startswith("name,op,kind,flops,bytes")
    assert rows[1].split(",")[3:5] == ["7077888", "278016"]
    code, out, _ = cli(capsys, *args)
    assert code == 0 and "ridge point 10.0 FLOP/byte" in out and "compute" in out
    code, out, _ = cli(capsys, *args, "-F", "markdown")
    assert code == 0 and out.startswith("## ") and "| time µs |" in out


def test_tf32_uses_fp32_storage_and_the_tf32_peak(capsys):
    code, out, _ = cli(capsys, "estimate", "C3D64", "-i", "32x32x3", "--device", "a100-40gb",
                       "--dtype", "tf32", "-F", "json")
    assert code == 0
    conv = json.loads(out)["layers"][0]
    assert conv["bytes"] == 4 * (1792 + 32 * 32 * 3 + 32 * 32 * 64)
    assert conv["compute_us"] == pytest.approx(2 * 1_769_472 / 156e12 * 1e6)


def test_summary_device_column_and_json(capsys, toy):
    code, out, _ = cli(capsys, "summary", "C3D64 R M", "-i", "32x32x3", "--device", "toy",
                       "--device-file", toy, "-F", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["layers"][1]["latency_us"] == pytest.approx(2 * 1_769_472 / 0.5e12 * 1e6 + 5)
    assert doc["layers"][0]["latency_us"] is None            # the input takes no time
    assert doc["latency"]["device"]["key"] == "toy"
    code, out, _ = cli(capsys, "summary", "resnet18", "--device", "h100-sxm", "-d", "0")
    assert code == 0 and "µs h100-sxm" in out and "predicted on h100-sxm" in out
    code, out, err = cli(capsys, "summary", "C3D8", "--device", "toy", "-F", "csv")
    assert code == 2 and "archcalc estimate" in err


def test_summary_folded_block_row_is_the_sum_of_its_layers():
    from archcalc import latency
    from archcalc.latency import model
    from archcalc.views.latency import latency_column
    rep = archcalc.analyze(archcalc.load("resnet18"))
    est = model.estimate(rep, latency.device("l4"))
    col = latency_column(est)
    block = next(r for r in rep.rows(0) if r.op == "block")
    inside = sum(t.time_s for t in est.layers
                 if block.name in rep[t.name].scope) * 1e6
    shown = float(col.cell(block, {}, rep, False).replace(",", ""))
    assert abs(shown - inside) <= (0.05 if inside < 1000 else 0.5)     # as rounded for display


def test_summary_with_a_device_imports_no_onnxruntime():
    modules, out = imported_by("summary", "mobilenet_v2", "--device", "t4", "--dtype", "fp16")
    assert "µs t4" in out
    assert [m for m in modules if m.split(".")[0] in ("onnx", "onnxruntime")] == []
    modules, _ = imported_by("summary", "mobilenet_v2")
    assert not [m for m in modules if m.startswith("archcalc.latency")]


def test_local_cpu_reads_the_stored_calibration(tmp_path, monkeypatch, toy):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert devices.local_profile_path() == str(tmp_path / "archcalc" / "local-cpu.json")
    (tmp_path / "archcalc").mkdir()
    (tmp_path / "archcalc" / "local-cpu.json").write_text(json.dumps({"devices": {
        "local-cpu": {"peak_tflops": {"fp32": 0.1}, "bandwidth_gbs": 10, "overhead_us": 2,
                      "efficiency": {"conv": 0.5}, "calibrated": True}}}))
    dev = devices.get("local-cpu", measure=lambda: pytest.fail("measured instead of read"))
    assert dev.calibrated and dev.efficiency == {"conv": 0.5} and dev.overhead_us == 2
    (tmp_path / "archcalc" / "local-cpu.json").write_text('{"devices": {"local-cpu": '
                                                          '{"bandwidth_gbs": 10}}}')
    with pytest.raises(ArchcalcError) as exc:
        devices.get("local-cpu")
    assert "peak_tflops is missing" in exc.value.diagnostics[0].message


def test_the_docs_device_file_example_and_table(tmp_path):
    """docs/latency.md: its device-file example loads, and its table shows the data file's
    fp32 peak and bandwidth for every device."""
    import re

    from conftest import ROOT
    text = (ROOT / "docs" / "latency.md").read_text()
    block = re.search(r"```yaml device-file\n(.*?)```", text, re.S).group(1)
    (tmp_path / "d.yaml").write_text(block)
    dev = devices.get("my-gpu", str(tmp_path / "d.yaml"))
    assert dev.peak("fp16") == 160e12 and dev.efficiency == {"depthwise": 0.3}
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| [^|]+ \| ([\d.,]+) \|.*\| ([\d.,]+) \|$", text, re.M)
    assert {k for k, _, _ in rows} == set(devices.builtin())
    for key, fp32, bw in rows:
        d = devices.builtin()[key]
        assert (float(fp32), float(bw.replace(",", ""))) == (d.peak_tflops["fp32"],
                                                             d.bandwidth_gbs), key


def test_fused_epilogues_take_no_time():
    """batch norm and ReLU straight after a conv, and a residual add of two such chains, are
    fused (kind epilogue: no bytes, no time); a batch norm after a pool, the ReLU after it,
    and a ReLU on a conv output that something else also reads are not."""
    net = archcalc.parse("""
layers:
  - {name: c1, op: conv, filters: 8}
  - {name: b1, op: batchnorm}
  - {name: r1, op: relu}
  - {name: p, op: maxpool}
  - {name: b2, op: batchnorm}
  - {name: r2, op: relu}
  - {name: c2, op: conv, filters: 8}
  - {name: c3, op: conv, filters: 8, inputs: [r2]}
  - {name: sum, op: add, inputs: [c3, r2]}
  - {name: r3, op: relu, inputs: [c2]}
  - {name: r4, op: relu, inputs: [c2]}
""", input="8x8x8")
    rep = archcalc.analyze(net)
    est = model.estimate(rep, devices.get("l4"))
    kinds = {t.name: t.kind for t in est.layers}
    assert kinds == {"c1": "conv", "b1": "epilogue", "r1": "epilogue", "p": "pool",
                     "b2": "elementwise", "r2": "elementwise", "c2": "conv", "c3": "conv",
                     "sum": "epilogue", "r3": "elementwise", "r4": "elementwise"}
    fused = [t for t in est.layers if t.kind == "epilogue"]
    assert all(t.bytes == t.flops == 0 and t.time_s == 0 and t.bound == "-" for t in fused)
    r2 = est.by_name()["r2"]
    assert r2.bytes == 4 * 2 * (4 * 4 * 8) and r2.time_s == pytest.approx(r2.bytes / 300e9
                                                                          + 5e-6)


def test_report_roofline_chart(capsys, tmp_path):
    pytest.importorskip("pygal", reason="archcalc report draws its charts with pygal")
    out_file = tmp_path / "r.html"
    code, _, err = cli(capsys, "report", "C3D16 R DW3 C1D32 GAP FC10", "-i", "32x32x3",
                       "-o", str(out_file), "--device", "t4", "--dtype", "fp16")
    assert code == 0, err
    html = out_file.read_text()
    assert "on t4 (fp16): roofline" in html and "(1 layer without FLOPs not shown)" in html
    assert "roof: 320 GB/s, 65,000 GFLOP/s" in html
    code, _, err = cli(capsys, "report", "C3D8", "-o", str(tmp_path / "x.html"),
                       "--device", "h100")
    assert code == 2 and "did you mean h100-sxm?" in err and not (tmp_path / "x.html").exists()
    code, _, err = cli(capsys, "report", "C3D8", "-o", str(tmp_path / "x.html"),
                       "--device", "t4", "--no-plots")
    assert code == 2 and "drop --no-plots" in err


def test_device_files_read_as_a_user_writes_them(tmp_path, capsys):
    """A JSON exponent is a number; a device's name is matched in any case; --device-file
    without --device is an error, not ignored (a newcomer's review)."""
    path = tmp_path / "d.json"
    path.write_text('{"devices": {"MyGPU": {"peak_tflops": {"fp32": 1}, "bandwidth_gbs": 3e3}}}')
    dev = devices.get("mygpu", str(path))
    assert dev.bandwidth_gbs == 3000.0 and devices.get("MyGPU", str(path)) == dev
    from archcalc.cli import main
    for args in (["summary", "lenet5", "--device-file", str(path)],
                 ["run", "lenet5", "--profile", "--device-file", str(path)]):
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2 and "--device-file goes with --device" in capsys.readouterr().err


def test_summary_json_gives_a_folded_block_its_layers_latency():
    """--depth 0 folds ResNet-18's blocks: a block's latency_us is the sum of its layers' (as
    the table shows it), not null (a newcomer's finding)."""
    from conftest import run_cli
    flat = json.loads(run_cli("summary", "resnet18", "--device", "t4", "-F", "json").stdout)
    folded = json.loads(run_cli("summary", "resnet18", "--device", "t4", "--depth", "0",
                                "-F", "json").stdout)
    inside = sum(r["latency_us"] for r in flat["layers"]
                 if r["name"].startswith("layer1.0/") and r["latency_us"] is not None)
    block = next(r for r in folded["layers"] if r["name"] == "layer1.0")
    assert inside > 0 and block["latency_us"] == pytest.approx(inside)
