"""Scale (issue 5): parse + analysis time and peak Python memory for chains of 1k, 10k and 100k
layers, their ratios (linear growth gives ×10 per step), and a ResNet with 1,000 bottleneck
blocks. With torch and torchinfo installed, torchinfo's time for the same 10k-layer chain.

    python benchmarks/bench_scale.py
"""
from __future__ import annotations

import gc
import pathlib
import sys
import time
import tracemalloc

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import archcalc  # noqa: E402


def measure(fn):
    gc.collect()
    tracemalloc.start()
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, dt, peak


def timed(fn, repeat=3):
    best = None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return out, best


def chain(n: int) -> str:
    return f"(C3D8 R)x{n // 2}"


def resnet_blocks(n: int) -> str:
    text = (ROOT / "specs" / "resnet50.yaml").read_text()
    head, _ = text.split("layers:\n  - {op: conv, name: conv1", 1)
    return head + (
        "layers:\n  - {op: conv, name: conv1, filters: 64, kernel: 7, stride: 2, padding: 3}\n"
        "  - {block: bottleneck_down, name: stem, width: 64, stride: 1}\n"
        f"  - {{block: bottleneck, name: 'body.{{i}}', repeat: {n - 1}, width: 64}}\n"
        "  - {op: global_avgpool}\n  - {op: fc, units: 1000, bias: true}\n")


def main() -> None:
    prev = None
    print("layers   parse     analyze   total     ratio   per layer   peak Python memory")
    for n in (1_000, 10_000, 100_000):
        net, tp = timed(lambda: archcalc.parse(chain(n), input=(8, 8, 3)))
        _, ta = timed(lambda: archcalc.analyze(net))
        del net
        _, _, mem = measure(lambda: archcalc.analyze(archcalc.parse(chain(n), input=(8, 8, 3))))
        total = tp + ta
        ratio = f"×{total / prev:.1f}" if prev else ""
        print(f"{n:>7}  {tp:7.3f} s {ta:7.3f} s {total:7.3f} s {ratio:>6} {total / n * 1e6:7.1f} µs"
              f"   {mem / 2**20:8.1f} MiB")
        prev = total
    text = resnet_blocks(1000)
    net, tp = timed(lambda: archcalc.parse(text), 1)
    r, ta = timed(lambda: archcalc.analyze(net), 1)
    print(f"ResNet with 1,000 bottleneck blocks ({len(net.layers):,} layers): parse {tp:.3f} s, "
          f"analyze {ta:.3f} s, {r.totals.params:,} params")
    try:
        import torch
        import torchinfo
    except ImportError:
        print("torch/torchinfo not installed: no comparison")
        return
    layers = []
    for _ in range(5_000):
        layers += [torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU()]
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), *layers[2:])
    _, tt = timed(lambda: torchinfo.summary(model, input_size=(1, 3, 8, 8), verbose=0), 1)
    net, tp = timed(lambda: archcalc.parse(chain(10_000), input=(8, 8, 3)), 1)
    _, ta = timed(lambda: archcalc.analyze(net), 1)
    print(f"10k-layer chain: torchinfo.summary {tt:.2f} s vs archcalc parse + analyze {tp + ta:.2f} s")


if __name__ == "__main__":
    main()
