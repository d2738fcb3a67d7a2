"""archcalc.latency with onnxruntime: profiled nodes mapped back to layers on a tiny exported
network, warm-up runs left out, unmapped nodes counted and named, calibrate into a temporary
config folder, run --profile, and the CUDA path's fallback."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("onnxruntime", reason="profiling runs the model with onnxruntime")
pytest.importorskip("onnx", reason="profiling exports the model to ONNX")

import archcalc
from archcalc.cli import main
from archcalc.latency import calibrate, devices, model, profile
from archcalc.latency.profile import NodeTime

TINY = "C3D8 BN R M C3D16 BN R C1D16 R GAP FC10"


def cli(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture(scope="module")
def tiny():
    net = archcalc.parse(TINY, input="16x16x3")
    return net, archcalc.analyze(net)


def node(name, op="Conv", us=10.0):
    return NodeTime(name, op, "CPUExecutionProvider", us)


def test_fused_nodes_map_back_to_their_layers(tiny):
    """onnxruntime's names: a conv + bn + relu fused under the relu's name with _nchwc, a
    helper node <layer>.<suffix>, "fused <layer>", a reorder it inserted, and one stranger."""
    _, rep = tiny
    names = [r.name for r in rep.layers]          # input conv1 bn1 relu1 pool1 conv2 ...
    conv1, bn1, relu1, pool1, conv2, bn2, relu2, conv3, relu3, gap, fc = names[1:]
    nodes = [node(f"{relu1}_nchwc", us=30), node(f"{pool1}_nchwc", "MaxPool", 5),
             node(f"{relu2}_nchwc", us=40), node(f"fused {relu3}", us=7),
             node(f"{gap}_nchwc", "GlobalAveragePool", 2),
             node("ReorderOutput", "ReorderOutput", 1), node("Reshape_token_49", "Reshape", 1),
             node("HardSigmoid_227", "HardSigmoid", 1),
             node(f"{fc}.flatten", "Flatten", 1), node(fc, "Gemm", 3),
             node("somebody_else", "Conv", 9)]
    m = profile.map_nodes(rep, nodes)
    groups = {g.key: g.layers for g in m.groups}
    assert groups == {relu1: [conv1, bn1, relu1], pool1: [pool1], relu2: [conv2, bn2, relu2],
                      relu3: [conv3, relu3], gap: [gap], fc: [fc]}
    assert [g.measured_us for g in m.groups] == [30, 5, 40, 7, 2, 4]
    assert [n.name for n in m.runtime] == ["ReorderOutput", "Reshape_token_49", "HardSigmoid_227"]
    assert [n.name for n in m.unmapped] == ["somebody_else"]
    est = model.estimate(rep, devices.get("l4"))
    c = profile.compare(rep, profile.Profile("cpu", None, 1, 0, 1, tuple(nodes), (1.0,)), est)
    last = c.rows[-1]
    assert last.kind == "unmapped" and "UNMAPPED: 1 node: somebody_else" in last.label
    assert last.measured_us == 9 and last.predicted_us is None        # never a silent zero
    first = c.rows[0]
    assert first.predicted_us == pytest.approx(sum(est.by_name()[x].time_s
                                                   for x in (conv1, bn1, relu1)) * 1e6)
    assert first.error == pytest.approx((first.predicted_us - 30) / 30)
    assert c.measured_ms == pytest.approx((30 + 5 + 40 + 7 + 2 + 4 + 3 + 9) / 1e3)


def test_a_merge_goes_with_its_latest_input():
    """conv + add + relu fused under the conv's name (a residual block): the add and the relu
    join the conv's row, not the shortcut's."""
    net = archcalc.parse("""
layers:
  - {name: a, op: conv, filters: 8}
  - {name: b, op: conv, filters: 8}
  - {name: sum, op: add, inputs: [b, a]}
  - {name: act, op: relu}
""", input="8x8x8")
    rep = archcalc.analyze(net)
    m = profile.map_nodes(rep, [node("a_nchwc"), node("b_nchwc")])
    assert {g.key: g.layers for g in m.groups} == {"a": ["a"], "b": ["b", "sum", "act"]}


def test_warm_up_runs_are_left_out():
    def run(ts, dur):
        return {"cat": "Session", "name": "model_run", "ts": ts, "dur": dur}

    def kernel(ts, dur):
        return {"cat": "Node", "name": "c_kernel_time", "ts": ts, "dur": dur,
                "args": {"op_name": "Conv", "provider": "CPUExecutionProvider"}}
    events = [run(0, 100), kernel(10, 90),                   # the first run: a warm-up
              run(200, 20), kernel(205, 10), run(300, 20), kernel(305, 12),
              run(400, 20), kernel(405, 30)]
    p = profile.parse_events(events, skip=1, iters=3)
    assert p.iters == 3 and p.nodes == (NodeTime("c", "Conv", "CPUExecutionProvider", 12.0),)
    assert p.run_ms == (0.02, 0.02, 0.02)


def test_profiling_a_tiny_exported_network_maps_every_node(tiny):
    net, rep = tiny
    p = profile.profile(net, warmup=1, iters=3, provider="cpu")
    assert p.provider == "cpu" and p.iters == 3 and p.median_run_ms > 0
    m = profile.map_nodes(rep, p.nodes)
    assert m.unmapped == [] and m.unmeasured == []
    covered = [x for g in m.groups for x in g.layers]
    assert sorted(covered) == sorted(r.name for r in rep.layers if r.op != "input")
    assert all(g.measured_us > 0 for g in m.groups)


def test_run_profile_command(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))       # no stored calibration
    code, out, err = cli(capsys, "run", TINY, "-i", "16x16x3", "--profile", "-n", "3",
                         "--warmup", "1", "-p", "cpu", "--device", "l4")
    assert code == 0, err
    assert "measured per layer" in out and "provider: CPU" in out
    assert "prediction: l4:" in out and "per-layer median |error|" in out
    code, out, err = cli(capsys, "run", TINY, "-i", "16x16x3", "--profile", "-n", "2",
                         "--warmup", "0", "-p", "cpu", "-D", "t4", "-F", "json")
    doc = json.loads(out)
    assert code == 0 and doc["provider"] == "cpu" and doc["device"]["key"] == "t4"
    assert doc["unmapped"] == [] and doc["iters"] == 2
    assert doc["totals"]["measured_ms"] == pytest.approx(
        sum(r["measured_us"] or 0 for r in doc["rows"]) / 1e3)


def test_run_profile_bad_input(capsys, tmp_path):
    code, out, err = cli(capsys, "run", TINY, "--device", "l4")
    assert code == 2 and "go with --profile" in err
    code, out, err = cli(capsys, "run", str(tmp_path / "m.onnx"), "--profile")
    assert code == 2 and "no such file" in err       # (an ONNX model is profiled as it is)
    code, out, err = cli(capsys, "run", TINY, "--profile", "-D", "h100", "-F", "json")
    doc = json.loads(out)
    assert code == 2 and "did you mean h100-sxm?" in doc["diagnostics"][0]["hint"]


def test_cuda_profile_falls_back_or_refuses_cleanly(capsys, tiny):
    """Without a usable GPU: --provider cuda is one clean error (exit 2); auto runs on the
    CPU and says why the GPU was not used (when onnxruntime-gpu is installed)."""
    from archcalc.exporters import runtime
    reason = runtime.cuda_unavailable_reason()
    if reason is None:
        pytest.skip("a usable GPU is here: test_gpu_profile covers it")
    code, _, err = cli(capsys, "run", TINY, "-i", "16x16x3", "--profile", "-p", "cuda",
                       "-n", "1")
    assert code == 2 and "--provider cuda cannot be honoured" in err and "Traceback" not in err
    net, _ = tiny
    p = profile.profile(net, warmup=0, iters=1, provider="auto")
    assert p.provider == "cpu"
    if "CUDAExecutionProvider" in runtime.load_onnxruntime().get_available_providers():
        assert p.note


@pytest.mark.gpu
def test_gpu_profile(tiny):
    from archcalc.exporters import runtime
    if runtime.cuda_unavailable_reason() is not None:
        pytest.skip(runtime.cuda_unavailable_reason())
    net, rep = tiny
    p = profile.profile(net, warmup=2, iters=5, provider="cuda")
    assert p.provider == "cuda"
    m = profile.map_nodes(rep, p.nodes)
    assert m.unmapped == []


def test_fit_recovers_known_factors():
    """Rows made from known slowdowns and overhead: the fit gives them back."""
    truth = {"conv": 2.0, "pool": 0.5}
    samples = []
    for i in range(1, 8):
        parts = {"conv": i * 1e-4, "pool": (8 - i) * 1e-5}
        n = 1 + i % 3
        samples.append((parts, n, sum(truth[k] * v for k, v in parts.items()) + n * 20e-6))
    slow, over, counts = calibrate.fit(samples)
    assert slow == {"conv": pytest.approx(2.0), "pool": pytest.approx(0.5)}
    assert over == pytest.approx(20e-6) and counts == {"conv": 7, "pool": 7}


def test_calibrate_into_a_temporary_config_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    code, out, err = cli(capsys, "calibrate", "--nets", f"{TINY},dw-probe", "-i", "16x16x3",
                         "-n", "2", "--warmup", "0", "--matmul", "64", "--copy-mib", "1")
    assert code == 0, err
    path = tmp_path / "archcalc" / "local-cpu.json"
    assert f"wrote {path}" in out
    stored = json.loads(path.read_text())["devices"]["local-cpu"]
    assert stored["calibrated"] is True and stored["peak_tflops"]["fp32"] > 0
    assert set(stored["efficiency"]) == set(devices.KINDS)
    assert all(v > 0 for v in stored["efficiency"].values()) and stored["overhead_us"] >= 0
    dev = devices.get("local-cpu", measure=lambda: pytest.fail("not read from the file"))
    assert dev.calibrated and dev.efficiency == stored["efficiency"]
    code, out, err = cli(capsys, "estimate", TINY, "-i", "16x16x3", "-D", "local-cpu")
    assert code == 0 and "calibrated" in out
    code, out, err = cli(capsys, "estimate", TINY, "-D", "local-cpu", "--dtype", "fp16")
    assert code == 2 and "local-cpu has no fp16 peak" in err


def test_calibrate_bad_input(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    code, out, err = cli(capsys, "calibrate", "--nets", " , ")
    assert code == 2 and "--nets names no network" in err
    code, out, err = cli(capsys, "calibrate", "--nets", "vgg17", "-F", "json")
    assert code in (1, 2) and json.loads(out)["ok"] is False
    assert not (tmp_path / "archcalc").exists()          # nothing half-written
    # one conv gives one row: nothing to fit, and no calibration written over a good one
    code, out, err = cli(capsys, "calibrate", "--nets", "C3D8", "-i", "16x16x3", "-n", "1",
                         "--warmup", "0", "--matmul", "64", "--copy-mib", "1")
    assert code == 1 and "too few layers to fit" in err
    assert not (tmp_path / "archcalc").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["densenet121", "efficientnet_b0", "shufflenet_v2_x1_0",
                                  "mobilenet_v3_small", "fpn_resnet18"])
def test_shipped_networks_profile_without_unmapped_nodes(name):
    """onnxruntime's fusions on the shipped networks whose names it changes most (densenet's
    standalone batch norms, efficientnet's SiLU, shufflenet's split fusion, the hard swish
    decomposition, FPN's reshapes): every node finds its layer or is marked as inserted."""
    from archcalc.spec import read_one as load_one
    net = load_one(name)
    rep = archcalc.analyze(net)
    p = profile.profile(net, warmup=0, iters=1, provider="cpu")
    m = profile.map_nodes(rep, p.nodes)
    assert m.unmapped == [] and m.unmeasured == []
