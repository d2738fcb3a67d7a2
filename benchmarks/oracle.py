"""The long oracle run (the analyzer against onnxruntime): N random valid networks (chains and small
DAGs with random kernels, strides, paddings, dilations, groups and channels; activations, norms,
global max pooling, broadcast merges; splits whose parts later layers read, channel slices,
shuffles, nearest/bilinear upsampling by scale or to a size, transposed convolutions,
constant/reflect padding, centre crops to a size or to another layer's size), each exported and run
in onnxruntime, every layer's volume and the parameter count compared with the analyzer.

    python benchmarks/oracle.py --n 1000            # every op drawn (the default)
    python benchmarks/oracle.py --n 1000 --classic  # the classic ops only: without the
                                                    # channel and resampling ops
    python benchmarks/oracle.py --n 1000 --tokens   # and the token and attention ops
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
from oracle import disagreements


def variant(layer) -> str:
    """The op of a layer, with the variant the run reports separately."""
    a = layer.attrs
    if layer.op == "slice":
        return "split part" if a["part"] is not None else "slice"
    if layer.op == "upsample":
        return f"upsample {a['mode']} by {'size' if a['size'] is not None else 'scale'}"
    if layer.op == "pad":
        return f"pad {a['mode']}"
    if layer.op == "crop":
        return "crop to a layer" if len(layer.inputs) == 2 else "crop to a size"
    if layer.op == "conv_transpose":
        op = a["output_padding"]
        if any(o >= s for o, s in zip(op, a["stride"])):
            return "conv_transpose (output_padding ≥ stride)"
        return "conv_transpose (output_padding > 0)" if any(op) else "conv_transpose"
    if layer.op == "attention":
        kind = ("window" + (" shifted" if any(a["shift"]) else "") if a["window"] else
                "grid" if a["grid"] else "cross" if len(layer.inputs) == 2 else "global")
        return f"attention {kind}" + (", relpos" if a["relpos"] else "")
    return layer.op


NEW = ("split", "slice", "shuffle", "upsample", "conv_transpose", "pad", "crop")
TOKENS = ("tokens", "untokens", "class_token", "pos_embed", "take_token", "linear", "layer_scale",
          "drop_path", "patch_merge", "attention")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--classic", action="store_true",
                    help="leave out the channel and resampling ops (the classic run)")
    ap.add_argument("--tokens", action="store_true",
                    help="draw the token and attention ops too (tests/netgen.py, _token_op)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    bad = layers = merges = splits = 0
    ops: collections.Counter = collections.Counter()
    t = time.perf_counter()
    for i in range(args.n):
        text, net, report = random_valid(rng, new_ops=not args.classic, tokens=args.tokens)
        layers += len(report.layers) - 1
        merges += sum(row.op in ("concat", "add", "mul") for row in report.layers)
        splits += len({layer.name.rpartition(".")[0] for layer in net.layers
                       if layer.op == "slice" and layer.attrs["part"] is not None})
        ops.update(variant(layer) for layer in net.layers
                   if layer.op in NEW or (args.tokens and layer.op in TOKENS))
        found = disagreements(net, report)
        if found:
            bad += 1
            print(f"--- network {i} disagrees:\n{text}" + "\n".join(found), flush=True)
    print(f"{args.n} random networks ({layers:,} layers, {merges:,} merges) in "
          f"{time.perf_counter() - t:.0f} s: {bad} disagreements")
    if not args.classic or args.tokens:
        print(f"  splits: {splits:,}")
        for name, count in sorted(ops.items()):
            print(f"  {name}: {count:,}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
