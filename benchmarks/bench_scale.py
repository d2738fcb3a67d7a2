"""Scale (how long networks of many layers take): parse and analysis time, separately and per layer,
for chains of 1k, 10k and 100k layers written two ways (a repeated group, ``(C3D16 R)x50000``, and
the literal string ``C3D16 R C3D16 R ...``), each the best of 3 runs; the target is parse + analyze
≤ 1 s at 100k layers, with a flat per-layer cost (linear time). Then peak Python memory, a ResNet
with 1,000 bottleneck blocks, and, with torch and torchinfo installed, torchinfo's time for a
10k-layer chain.

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

import archcalc


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


def chain(n: int, literal: bool = False) -> str:
    """A chain of n layers: conv 3×3 (16 filters) and ReLU, alternately."""
    return "C3D16 R " * (n // 2) if literal else f"(C3D16 R)x{n // 2}"


def resnet_blocks(n: int) -> str:
    text = (ROOT / "specs" / "resnet50.yaml").read_text()
    head, _ = text.split("layers:\n  - {op: conv, name: conv1", 1)
    return head + (
        "layers:\n  - {op: conv, name: conv1, filters: 64, kernel: 7, stride: 2, padding: 3}\n"
        "  - {block: bottleneck_down, name: stem, width: 64, stride: 1}\n"
        f"  - {{block: bottleneck, name: 'body.{{i}}', repeat: {n - 1}, width: 64}}\n"
        "  - {op: global_avgpool}\n  - {op: fc, units: 1000, bias: true}\n")


TARGET_S = 1.0          # parse + analyze of a 100,000-layer chain


def main() -> None:
    verdicts = []
    for literal in (False, True):
        form = "the literal string 'C3D16 R C3D16 R ...'" if literal else \
            "a repeated group '(C3D16 R)x<n/2>'"
        print(f"spec: {form}, input 32×32×3, best of 3")
        print("layers     parse   analyze     total   parse/layer  analyze/layer  total/layer")
        for n in (1_000, 10_000, 100_000):
            text = chain(n, literal)
            net, tp = timed(lambda text=text: archcalc.parse(text, input=(32, 32, 3)))
            _, ta = timed(lambda net=net: archcalc.analyze(net))
            del net
            total = tp + ta
            print(f"{n:>7} {tp:7.3f} s {ta:7.3f} s {total:7.3f} s {tp / n * 1e6:9.2f} µs "
                  f"{ta / n * 1e6:11.2f} µs {total / n * 1e6:10.2f} µs")
        verdicts.append(f"{'literal' if literal else 'group'}: {total:.3f} s "
                        f"({'within' if total <= TARGET_S else 'OVER'} the {TARGET_S:g} s target)")
        print()
    print("100k layers, parse + analyze: " + "; ".join(verdicts))
    # the same, as one call, more often: this VM's timings vary by up to 2× from run to run,
    # so the spread is part of the figure
    for literal in (False, True):
        text = chain(100_000, literal)
        runs = []
        for _ in range(7):
            gc.collect()
            t = time.perf_counter()
            report = archcalc.analyze(archcalc.parse(text, input=(32, 32, 3)))
            runs.append(time.perf_counter() - t)
            del report                 # freeing 100k layers' records is not part of the figure
        runs.sort()
        print(f"  {'literal' if literal else 'group'}, 7 runs of parse + analyze: best "
              f"{runs[0]:.3f} s, median {runs[3]:.3f} s, worst {runs[-1]:.3f} s")
    _, _, mem = measure(lambda: archcalc.analyze(archcalc.parse(chain(100_000), input=(32, 32, 3))))
    print(f"peak Python memory, 100k-layer chain parsed and analyzed: {mem / 2**20:.1f} MiB "
          f"({mem / 100_000 / 1024:.2f} KiB per layer)")
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
        layers += [torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU()]
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), *layers[2:])
    _, tt = timed(lambda: torchinfo.summary(model, input_size=(1, 3, 8, 8), verbose=0), 1)
    net, tp = timed(lambda: archcalc.parse(chain(10_000), input=(8, 8, 3)), 1)
    _, ta = timed(lambda: archcalc.analyze(net), 1)
    print(f"10k-layer chain: torchinfo.summary {tt:.2f} s vs archcalc parse + analyze "
          f"{tp + ta:.2f} s")


if __name__ == "__main__":
    main()
