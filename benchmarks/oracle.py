"""The long oracle run (issue 5): N random valid networks (chains and small DAGs with random
kernels, strides, paddings, dilations, groups and channels), each exported and run in
onnxruntime, every layer's volume and the parameter count compared with the analyzer.

    python benchmarks/oracle.py --n 1000
"""
from __future__ import annotations

import argparse
import pathlib
import random
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from netgen import random_valid  # noqa: E402
from oracle import disagreements  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    bad = layers = merges = 0
    t = time.perf_counter()
    for i in range(args.n):
        text, net, report = random_valid(rng)
        layers += len(report.layers) - 1
        merges += sum(row.op in ("concat", "add", "mul") for row in report.layers)
        found = disagreements(net, report)
        if found:
            bad += 1
            print(f"--- network {i} disagrees:\n{text}" + "\n".join(found), flush=True)
    print(f"{args.n} random networks ({layers:,} layers, {merges:,} merges) in "
          f"{time.perf_counter() - t:.0f} s: {bad} disagreements")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
