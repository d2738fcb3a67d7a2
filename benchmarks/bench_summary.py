"""How fast archcalc answers: `archcalc summary specs/vgg16.yaml` end to end (a new process each
time, as a user runs it) and the in-process analysis of VGG16 (parse once, analyze many times).

    python benchmarks/bench_summary.py [--runs 20]

Targets (issue 2): end to end well under 0.5 s; analysis well under 1 ms.
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def end_to_end(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "archcalc.cli", "summary", "specs/vgg16.yaml"],
                       cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return times


def in_process(runs: int) -> tuple[list[float], list[float]]:
    import archcalc
    text = (ROOT / "specs" / "vgg16.yaml").read_text()
    net = archcalc.parse(text)
    analyze_t, parse_t = [], []
    for _ in range(runs):
        t = time.perf_counter()
        archcalc.analyze(net)
        analyze_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        archcalc.parse(text)
        parse_t.append(time.perf_counter() - t)
    return analyze_t, parse_t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    e2e = end_to_end(args.runs)
    an, pa = in_process(max(args.runs, 200))
    print(f"archcalc summary specs/vgg16.yaml (new process): median {statistics.median(e2e)*1e3:.0f} ms, "
          f"min {min(e2e)*1e3:.0f} ms over {len(e2e)} runs")
    print(f"analyze(VGG16) in process: median {statistics.median(an)*1e6:.0f} µs, "
          f"min {min(an)*1e6:.0f} µs over {len(an)} runs")
    print(f"parse(vgg16.yaml) in process: median {statistics.median(pa)*1e6:.0f} µs")


if __name__ == "__main__":
    main()
