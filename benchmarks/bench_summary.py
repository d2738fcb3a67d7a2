"""How fast archcalc answers: `archcalc summary specs/vgg16.yaml` end to end (a new process each
time, as a user runs it, output to a pipe) beside `python -c pass` (the interpreter alone) in the
same run, interleaved so that both see the same machine load; and the in-process analysis of
VGG16 and of ViT-B/16 (parse once, analyze many times); `archcalc summary vit_b_16` beside them.

    python benchmarks/bench_summary.py [--runs 20]

Targets: end to end ≤ 0.2 s median on the 2-core CI machine; analysis well under 1 ms.
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


COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "archcalc summary specs/vgg16.yaml": [sys.executable, "-m", "archcalc.cli", "summary",
                                          "specs/vgg16.yaml"],
    "archcalc summary specs/vgg16.yaml -F json": [sys.executable, "-m", "archcalc.cli",
                                                  "summary", "specs/vgg16.yaml", "-F", "json"],
    "archcalc summary vit_b_16": [sys.executable, "-m", "archcalc.cli", "summary", "vit_b_16"],
}


def compile_package() -> None:
    """Byte-compile archcalc as pip does when it installs a wheel. An editable checkout run with
    PYTHONDONTWRITEBYTECODE=1 (as this project's machines are) has no __pycache__ and would
    compile every module from source at every start: 40–60 ms more."""
    import compileall
    for d in ("archcalc", "exporters"):
        compileall.compile_dir(str(ROOT / d), quiet=1)


def end_to_end(runs: int) -> dict[str, list[float]]:
    """Wall-clock seconds of each command, ``runs`` times, the commands taking turns."""
    times: dict[str, list[float]] = {k: [] for k in COMMANDS}
    for _ in range(runs):
        for label, cmd in COMMANDS.items():
            t = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
            times[label].append(time.perf_counter() - t)
    return times


def in_process(runs: int, spec: str = "vgg16") -> tuple[list[float], list[float]]:
    import archcalc
    text = (ROOT / "specs" / f"{spec}.yaml").read_text()
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
    ap.add_argument("--no-compile", action="store_true",
                    help="do not byte-compile archcalc first (measure start-up from source)")
    args = ap.parse_args()
    if not args.no_compile:
        compile_package()
    e2e = end_to_end(args.runs)
    an, pa = in_process(max(args.runs, 200))
    base = statistics.median(e2e["python -c pass"])
    for label, times in e2e.items():
        med = statistics.median(times)
        print(f"{label} (new process): median {med*1e3:.0f} ms, min {min(times)*1e3:.0f} ms over "
              f"{len(times)} runs" + ("" if label.startswith("python") else
                                      f"; {med / base:.1f}× python -c pass"))
    print(f"analyze(VGG16) in process: median {statistics.median(an)*1e6:.0f} µs, "
          f"min {min(an)*1e6:.0f} µs over {len(an)} runs")
    print(f"parse(vgg16.yaml) in process: median {statistics.median(pa)*1e6:.0f} µs")
    an, pa = in_process(max(args.runs, 200), "vit_b_16")
    print(f"analyze(ViT-B/16) in process: median {statistics.median(an)*1e6:.0f} µs, "
          f"min {min(an)*1e6:.0f} µs over {len(an)} runs (target: under 2 ms); parse "
          f"{statistics.median(pa)*1e6:.0f} µs")


if __name__ == "__main__":
    main()
