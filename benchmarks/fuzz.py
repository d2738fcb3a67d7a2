"""The long fuzz run (robustness against any input): random text and mutated valid specs in every
spec language, fed to parse + analyze + diagnose. The only acceptable outcomes are a report or
archcalc's own error with a location; anything else (another exception, an input taking over --slow
seconds) is a bug and is printed with the input that caused it.

    python benchmarks/fuzz.py --n 100000 [--seed 0]
"""
from __future__ import annotations

import argparse
import pathlib
import random
import sys
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from netgen import check_outcome, mutate, random_text, random_valid

SPECS = ROOT / "specs"


def corpus(rng: random.Random) -> list[str]:
    texts = ["(C3D16 R)x2 M C3D32S2P1 BN R A2 FC10 S", "(CRCRP)x2 CRS",
             "conv3-64 maxpool FC-4096 soft-max",
             "C11D96S4P0 M3S2 LRN DW3S2 GAP"]
    texts += [p.read_text() for p in sorted(SPECS.iterdir())]
    texts += [random_valid(rng)[0] for _ in range(20)]
    return texts


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--slow", type=float, default=2.0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    base = corpus(rng)
    counts = {"ok": 0, "error": 0}
    bugs = slow = 0
    worst = 0.0
    t0 = time.perf_counter()
    for i in range(args.n):
        text = random_text(rng) if i % 5 == 0 else mutate(rng, rng.choice(base))
        t = time.perf_counter()
        try:
            counts[check_outcome(text)] += 1
        except Exception:
            bugs += 1
            print(f"--- BUG on input {i}:\n{text!r}\n{traceback.format_exc()}", flush=True)
        dt = time.perf_counter() - t
        worst = max(worst, dt)
        if dt > args.slow:
            slow += 1
            print(f"--- SLOW ({dt:.1f} s) on input {i}: {text[:200]!r}", flush=True)
    total = time.perf_counter() - t0
    print(f"{args.n} inputs in {total:.0f} s: {counts['ok']} reports, {counts['error']} located "
          f"errors, {bugs} bugs, {slow} slow (> {args.slow} s); slowest {worst * 1e3:.0f} ms")
    return 1 if bugs or slow else 0


if __name__ == "__main__":
    sys.exit(main())
