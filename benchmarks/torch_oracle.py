"""The long PyTorch-source run: N random valid networks (every op, the token and attention ops
included) compiled to PyTorch source by exporters/torch_source.py and checked by PyTorch itself
(tests/torch_check.py):

* structure: the module on the meta device: sum(p.numel()) and the buffers against archcalc's
  parameters and buffers, every module's output shape (forward hooks) against the layer's
  volume, FlopCounterMode's FLOPs against 2 × archcalc's MACs (the flopcounter convention);
* values: loaded with the ONNX export's seeded weights, its outputs against onnxruntime's on the
  ONNX export (|Δ| ≤ 1e-5 + 1e-4 · max|output|), and torch.export.export of it;
* round trip: the module exported by torch.onnx.export (TorchScript, opset 17) and read back by
  archcalc.load: the parameters, MACs and the volume of every layer that is a module.

    python benchmarks/torch_oracle.py --n 1000
    python benchmarks/torch_oracle.py --n 200 --no-roundtrip --seed 5000

A network onnxruntime cannot open (its CPU pooling refuses a padding as wide as the window) is
counted apart for the values check. The round trip is attempted for every network; where
tests/torch_check.py's ``roundtrip_limit`` names a known limit (an op archcalc's importer does
not read from PyTorch's export, a layer read only for its size) its outcome is counted apart
and not a disagreement; for every other network a refusal or a difference is one.
"""
from __future__ import annotations

import argparse
import collections
import pathlib
import random
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from netgen import random_valid
from torch_check import roundtrip, roundtrip_limit, runs_in_onnxruntime, structure, values

import archcalc
from archcalc.exporters import torch_source as ts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0, help="the first network's seed")
    ap.add_argument("--no-roundtrip", action="store_true")
    ap.add_argument("--no-tokens", action="store_true", help="leave out the token ops")
    args = ap.parse_args()
    counts: collections.Counter[str] = collections.Counter()
    times: collections.Counter[str] = collections.Counter()
    ops: collections.Counter[str] = collections.Counter()
    refused: collections.Counter[str] = collections.Counter()
    worst = 0.0
    bad = 0
    start = time.perf_counter()
    for seed in range(args.seed, args.seed + args.n):
        _, net, _ = random_valid(random.Random(seed), new_ops=True, tokens=not args.no_tokens)
        ops.update(layer.op for layer in net.layers if layer.op != "input")
        found: list[str] = []
        t0 = time.perf_counter()
        try:
            compiled = ts.compile_network(net)
        except Exception as exc:             # a bug of the emitter: reported, the run goes on
            print(f"seed {seed}: compiling: {type(exc).__name__}: {exc}")
            bad += 1
            continue
        t1 = time.perf_counter()
        times["compile"] += t1 - t0
        try:
            f, _ = structure(net, compiled)
        except Exception as exc:
            f = [f"structure: {type(exc).__name__}: {str(exc)[:300]}"]
        found += f
        counts["structure ok" if not f else "structure bad"] += 1
        t2 = time.perf_counter()
        times["structure"] += t2 - t1
        if runs_in_onnxruntime(net):
            try:
                f, w = values(net, compiled, seed=seed)
                worst = max(worst, w)
            except Exception as exc:
                f = [f"values: {type(exc).__name__}: {str(exc)[:300]}"]
            found += f
            counts["values ok" if not f else "values bad"] += 1
        else:
            counts["values: onnxruntime refuses the ONNX export"] += 1
        t3 = time.perf_counter()
        times["values"] += t3 - t2
        if not args.no_roundtrip:
            limit = roundtrip_limit(net)
            within = "" if limit is None else " (a known limit applies)"
            try:
                f, _ = roundtrip(net, compiled)
                if limit is None:
                    found += f
                elif f:
                    print(f"seed {seed}: round trip, {limit}: " + "; ".join(f[:2]))
                counts[f"round trip ok{within}" if not f else f"round trip bad{within}"] += 1
            except archcalc.ArchcalcError as exc:
                if limit is None:
                    found.append(f"round trip: the importer refuses: {str(exc)[:200]}")
                counts[f"round trip: the importer refuses PyTorch's ONNX{within}"] += 1
                first = str(exc).split("\n")[0]
                refused[first.split("archcalc cannot read it: ")[-1][:60]] += 1
            except Exception as exc:         # torch.onnx.export's failures share no base class
                if limit is None:
                    found.append(f"round trip: torch.onnx.export fails: {str(exc)[:200]}")
                counts[f"round trip: torch.onnx.export fails{within}"] += 1
                refused[f"torch.onnx.export: {str(exc).splitlines()[0][:60]}"] += 1
            times["round trip"] += time.perf_counter() - t3
        if found:
            bad += 1
            print(f"seed {seed}: " + "; ".join(found[:4]), flush=True)
        done = seed - args.seed + 1
        if done % 100 == 0:
            print(f"... {done} networks, {bad} with a disagreement, "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    total = time.perf_counter() - start
    print(f"\n{args.n} random networks (seeds {args.seed}…{args.seed + args.n - 1}), "
          f"{sum(ops.values()):,} layers; {bad} with a disagreement; {total:.0f} s "
          f"({total / args.n * 1000:.0f} ms a network)")
    for key in sorted(counts):
        print(f"  {key}: {counts[key]}")
    print(f"  largest output difference against onnxruntime: {worst:.2e} of max(1, the "
          "output's largest value)")
    print("  time: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
    if refused:
        print("  round trips refused, by the importer's first message:")
        for msg, n in refused.most_common(12):
            print(f"    {n:4d}  {msg}")
    print("  layers by op: " + ", ".join(f"{op} {n}" for op, n in ops.most_common()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
