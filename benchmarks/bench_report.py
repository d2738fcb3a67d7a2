"""How fast `archcalc report specs/resnet152.yaml -o r.html` is end to end (a new process each
time, as a user runs it), beside `archcalc summary specs/resnet152.yaml` and the interpreter
alone, interleaved so that all see the same machine load; then where the time goes in process
(load + analyze, the plots, the drawings, the HTML) and the plotting library's import.

    python benchmarks/bench_report.py [--runs 10]

Target: the report ≤ 1 s on the 2-core machine. Needs the report extra (pygal).
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_summary import compile_package


def commands(out: str) -> dict[str, list[str]]:
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "archcalc summary specs/resnet152.yaml": [sys.executable, "-m", "archcalc.cli",
                                                  "summary", "specs/resnet152.yaml"],
        "archcalc report specs/resnet152.yaml -o r.html": [
            sys.executable, "-m", "archcalc.cli", "report", "specs/resnet152.yaml", "-o", out],
    }


def end_to_end(runs: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as d:
        cmds = commands(str(pathlib.Path(d) / "r.html"))
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(runs):
            for label, cmd in cmds.items():
                t = time.perf_counter()
                subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
                times[label].append(time.perf_counter() - t)
        size = (pathlib.Path(d) / "r.html").stat().st_size
    print(f"r.html: {size / 1024:.0f} KiB")
    return times


def stages() -> None:
    code = (
        "import time; t0 = time.perf_counter()\n"
        "import pygal\n"
        "t1 = time.perf_counter()\n"
        "import archcalc\n"
        "from archcalc.views.report import plots, html\n"
        "net = archcalc.load('specs/resnet152.yaml'); rep = archcalc.analyze(net)\n"
        "t2 = time.perf_counter()\n"
        "p = plots.all_plots(net, rep)\n"
        "t3 = time.perf_counter()\n"
        "from archcalc.views.report.build import drawings\n"
        "sec = {'net': net, 'report': rep, 'plots': p, 'source': 'resnet152'}\n"
        "drawings(sec, 'html')\n"
        "t4 = time.perf_counter()\n"
        "page = html.render([sec])\n"
        "t5 = time.perf_counter()\n"
        "print(f'import pygal {t1 - t0:.3f} s, load + analyze {t2 - t1:.3f} s, '\n"
        "      f'4 plots {t3 - t2:.3f} s, drawings (networkx imported) {t4 - t3:.3f} s, '\n"
        "      f'HTML {t5 - t4:.3f} s')\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    compile_package()
    for label, ts in end_to_end(args.runs).items():
        print(f"{label:<50} median {statistics.median(ts):.3f} s  "
              f"min {min(ts):.3f} s  max {max(ts):.3f} s")
    stages()


if __name__ == "__main__":
    main()
