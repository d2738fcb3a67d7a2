"""How fast an ONNX model is read: VGG-16 with its 528 MiB of weights inline (the target:
import + analyze ≤ 0.5 s on this machine), in process and end to end (`archcalc summary
vgg16.onnx`, a new process each time, beside `python -c pass` in the same run), with the memory
the import takes (weights are never read: the file is read in 64 KiB blocks around its graph's
fields, and a tensor's data is skipped by its length).

    python benchmarks/bench_import.py [--runs 7] [--model PATH]

Without --model, VGG-16 is exported once (random weights, inline) to a temporary folder.
Reported: best and median over the runs; the machine's page cache holds the file after the
first read (the figures are for a warm cache, as when a user runs a second command on a model).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def export_vgg16(folder: str) -> str:
    import archcalc
    from archcalc.exporters import onnx as ox
    path = os.path.join(folder, "vgg16.onnx")
    ox.export(archcalc.load(str(ROOT / "specs" / "vgg16.yaml")), path, weights="random",
              progress=False)
    return path


def resident_kib() -> int:
    """The process's resident memory now (Linux /proc/self/statm), in KiB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def in_process(path: str, runs: int) -> tuple[list[float], int, dict]:
    import archcalc
    from archcalc.onnx_import import load_onnx
    times, nets = [], []
    before = resident_kib()
    for _ in range(runs):
        t = time.perf_counter()
        net = load_onnx(path)               # (kept alive: the memory is measured with them)
        report = archcalc.analyze(net)
        times.append(time.perf_counter() - t)
        nets.append(net)
        if len(nets) == 1:
            grown = resident_kib() - before   # the resident memory the first import added
    t = report.totals
    return times, grown, {"params": t.params, "macs": t.macs, "layers": len(report.layers) - 1}


def end_to_end(path: str, runs: int) -> dict[str, list[float]]:
    cmds = {"python -c pass": [sys.executable, "-c", "pass"],
            "archcalc summary vgg16.onnx": [sys.executable, "-m", "archcalc.cli", "summary",
                                            path]}
    out: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(runs):
        for k, cmd in cmds.items():        # interleaved: both see the same load
            t = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
            out[k].append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--model")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = args.model or export_vgg16(folder)
        size = os.path.getsize(path)
        print(f"model: {path} ({size / 2**20:,.1f} MiB)")
        times, grown, figures = in_process(path, args.runs)
        print(f"in process, import + analyze: best {min(times) * 1e3:.1f} ms, median "
              f"{statistics.median(times) * 1e3:.1f} ms over {args.runs} runs "
              f"(first {times[0] * 1e3:.1f} ms); {figures}")
        print(f"resident memory grew by {grown / 1024:.1f} MiB with the first import of a "
              f"{size / 2**20:,.0f} MiB model")
        for k, v in end_to_end(path, args.runs).items():
            print(f"{k:32s} best {min(v) * 1e3:6.0f} ms  "
                  f"median {statistics.median(v) * 1e3:6.0f} ms")


if __name__ == "__main__":
    main()
