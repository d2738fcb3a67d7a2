"""How fast archcalc writes ONNX and how fast its models run, on VGG16 (specs/vgg16.yaml).

    python benchmarks/bench_export.py [--runs 3] [--iters 20]

Figures (best of --runs, in a fresh temporary directory on the same disk):
  * numpy: writing the same number of bytes (4 × 138,357,544) with ndarray.tofile;
  * archcalc export with random weights (target: ≤ 2× numpy), and its parts: drawing the random
    weights alone, and exporting zeros (the writer and checks without the drawing);
  * torch.onnx.export of the same network built with torch.nn (target: archcalc ≥ 3× faster),
    when torch is installed;
  * onnxruntime latency (CPU, batch 1, median of --iters runs, interleaved in rounds so that drift
    hits both alike) of archcalc's model against the torch-exported one (target: within 5%).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np

import archcalc
from archcalc.exporters import onnx as ox
from archcalc.exporters import runtime


def best(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def numpy_write(path: str, n: int, runs: int) -> float:
    data = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
    return best(lambda: data.tofile(path), runs)


def draw_only(net, runs: int) -> float:
    params = ox.plan(net).params

    def draw():
        for _ in ox._stream(params, "random", 0, {}):
            pass
    return best(draw, runs)


def torch_model(net):
    """``net`` as a torch.nn.Sequential (the ops VGG uses), or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    nn = torch.nn
    report = archcalc.analyze(net)
    rows = {r.name: r for r in report.layers}
    mods, flat = [], False
    for layer in net.layers[1:]:
        a, vin = layer.attrs, rows[layer.inputs[0]].output
        if layer.op == "conv":
            p = layer.opdef.pads(a, archcalc.ops.At(layer.name, layer.pos))
            mods.append(nn.Conv2d(vin[2], a["filters"], a["kernel"], a["stride"], p,
                                  a["dilation"], a["groups"], a["bias"]))
        elif layer.op == "maxpool":
            mods.append(nn.MaxPool2d(a["kernel"], a["stride"], a["padding"]))
        elif layer.op == "fc":
            if not flat:
                mods.append(nn.Flatten())
                flat = True
            mods.append(nn.Linear(int(np.prod(vin)), a["units"], a["bias"]))
        elif layer.op == "relu":
            mods.append(nn.ReLU(inplace=True))
        elif layer.op == "dropout":
            mods.append(nn.Dropout(a["rate"]))
        elif layer.op == "softmax":
            mods.append(nn.Softmax(dim=1))
        else:
            raise SystemExit(f"bench: no torch equivalent written for {layer.op}")
    return torch, nn.Sequential(*mods).eval()


def torch_export(torch, model, h: int, w: int, c: int, path: str) -> None:
    x = torch.zeros(1, c, h, w)
    torch.onnx.export(model, (x,), path, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                      opset_version=ox.default_opset() if ox.default_opset() <= 20 else 20,
                      dynamo=False)


def latency(paths: dict[str, str], iters: int, rounds: int = 5) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in paths}
    per_round = max(1, iters // rounds)
    for _ in range(rounds):
        for name, path in paths.items():
            r = runtime.run(path, batch=1, warmup=2, iters=per_round, provider="cpu")
            times[name] += r.times_ms
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    args = ap.parse_args()
    net = archcalc.load(str(ROOT / "specs" / "vgg16.yaml"))
    params = archcalc.analyze(net).totals.params
    ox.default_opset()                                  # the onnxruntime probe, once
    print(f"VGG16: {params:,} parameters, {4 * params / 2**20:,.1f} MiB of float32; "
          f"{os.cpu_count()} CPU cores; opset {ox.default_opset()}")
    with tempfile.TemporaryDirectory(dir=ROOT, prefix=".bench-export-") as tmp:
        tmp_path = pathlib.Path(tmp)
        t_np = numpy_write(str(tmp_path / "numpy.bin"), params, args.runs)
        os.remove(tmp_path / "numpy.bin")
        ours = str(tmp_path / "archcalc.onnx")
        t_rand = best(lambda: ox.export(net, ours, "random"), args.runs)
        t_zero = best(lambda: ox.export(net, str(tmp_path / "zeros.onnx"), "zeros"), args.runs)
        os.remove(tmp_path / "zeros.onnx")
        t_draw = draw_only(net, args.runs)
        print(f"numpy tofile, same bytes          {t_np:7.3f} s")
        print(f"archcalc export, random weights   {t_rand:7.3f} s  = {t_rand / t_np:.2f}× numpy "
              f"(target ≤ 2×)")
        print(f"  drawing the random weights only {t_draw:7.3f} s")
        print(f"  archcalc export, zero weights   {t_zero:7.3f} s  = {t_zero / t_np:.2f}× numpy")
        got = torch_model(net)
        if got is None:
            print("torch is not installed: no torch.onnx.export comparison")
            return
        torch, model = got
        theirs = str(tmp_path / "torch.onnx")
        h, w, c = net.input
        t_torch = best(lambda: torch_export(torch, model, h, w, c, theirs), max(1, args.runs - 1))
        print(f"torch.onnx.export (TorchScript)   {t_torch:7.3f} s: archcalc is "
              f"{t_torch / t_rand:.2f}× faster (target ≥ 3×)")
        med = latency({"archcalc": ours, "torch": theirs}, args.iters)
        diff = (med["archcalc"] / med["torch"] - 1) * 100
        print(f"onnxruntime CPU latency, batch 1: archcalc {med['archcalc']:.1f} ms, "
              f"torch {med['torch']:.1f} ms: {diff:+.1f}% (target within ±5%)")


if __name__ == "__main__":
    main()
