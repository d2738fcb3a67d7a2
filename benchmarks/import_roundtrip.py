"""The ONNX import's long round trip: N random networks of every op (the oracle's generator),
each exported (structure only) and imported again; every layer's volume, parameters, buffers,
MACs, activations, receptive field and in-place flag and every total must be the same.

    python benchmarks/import_roundtrip.py [--n 600] [--seed 0] [--tokens]

``--tokens`` draws the token and attention ops too (netgen's ``tokens``, as the oracle's
``--tokens``), and reads back the YAML archcalc import writes for each imported network.
"""
from __future__ import annotations

import argparse
import collections
import os
import pathlib
import random
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import netgen
from test_onnx_import import same_report

import archcalc
from archcalc.exporters import onnx as ox
from archcalc.exporters.yaml import to_yaml
from archcalc.onnx_import import load_onnx
from archcalc.spec import parse


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tokens", action="store_true",
                    help="draw the token and attention ops too")
    args = ap.parse_args()
    ops: collections.Counter = collections.Counter()
    bad = []
    with tempfile.TemporaryDirectory() as d:
        for i in range(args.n):
            seed = args.seed * 1_000_003 + i
            _, net, report = netgen.random_valid(random.Random(seed), new_ops=True,
                                                 tokens=args.tokens)
            ops.update(row.op for row in report.layers if row.op != "input")
            path = os.path.join(d, "m.onnx")
            ox.export(net, path, weights="none", progress=False)
            try:
                back = load_onnx(path)
                problems = same_report(report, archcalc.analyze(back))
                if args.tokens and not problems:
                    again = parse(to_yaml(back), language="yaml")
                    problems = [f"yaml: {p}" for p in same_report(archcalc.analyze(back),
                                                                  archcalc.analyze(again))]
            except archcalc.ArchcalcError as exc:
                problems = [str(exc).splitlines()[0]]
            if problems:
                bad.append((seed, problems[:3]))
    print(f"{args.n} networks, {sum(ops.values())} layers: {len(bad)} disagreements")
    print("ops:", ", ".join(f"{k} {v}" for k, v in ops.most_common()))
    for seed, problems in bad[:10]:
        print(f"  seed {seed}: {problems}")


if __name__ == "__main__":
    main()
