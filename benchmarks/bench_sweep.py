"""How fast and how lean `archcalc sweep` is:

1. variants per second per core on ResNet-50 (specs/resnet.yaml, width 0.5..1.5/0.05 × res
   160..320/32: 126 variants):

   a. the sweep's own evaluation in this process (``evaluate_chunk``, what one worker process
      does: the spec is read once, each variant built from the composed document, whose
      compiled expressions and planned layers it keeps, then analyzed);
   b. the same variants, each read from scratch (a new ``Design`` per variant: the text read,
      the YAML composed, every expression compiled anew), then analyzed;
   c. the whole command on every core (``archcalc sweep -j N``, a new process as a user runs
      it, output to a file), over width 0.5..1.5/0.01 × res 160..320/32 (606 variants);

2. peak resident memory of sweeps of a small network (spec string ``C3D4 FC2``, res × batch) of
   growing size, up to 1,000,000 variants, run as the command (``-o`` a CSV file): the
   command's own process and its largest worker. Flat from 10,000 to 1,000,000 variants means
   nothing grows with the sweep.

    python benchmarks/bench_sweep.py [--runs 5] [--rss 10000,100000,1000000] [--rss-runs 3]

Times are medians and bests of ``--runs``; the machine may be shared (say so when reporting).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESNET = str(ROOT / "specs" / "resnet.yaml")
AXES = ["width=0.5..1.5/0.05", "res=160..320/32"]           # 21 × 6 = 126 variants
COMMAND_AXES = ["width=0.5..1.5/0.01", "res=160..320/32"]   # 101 × 6 = 606 variants
SMALL = "C3D4 FC2"


def per_core(runs: int) -> dict:
    """Variants per second evaluated in this process: the sweep's path (the spec read once)
    and every variant read from scratch."""
    import archcalc
    from archcalc.design.parameters import Design
    from archcalc.design.sweep import plan
    from archcalc.design.sweep.engine import evaluate_chunk
    job, space = plan(RESNET, AXES)
    settings = [space[i] for i in range(len(space))]
    evaluate_chunk(job, settings[:2])                       # imports, the first compose
    sweep_rates, scratch_rates = [], []
    for _ in range(runs):
        t = time.perf_counter()
        evaluate_chunk(job, settings)
        sweep_rates.append(len(settings) / (time.perf_counter() - t))
        t = time.perf_counter()
        for s in settings:                  # a new Design: the spec read and composed anew
            archcalc.analyze(Design(RESNET, job.options).build(s))
        scratch_rates.append(len(settings) / (time.perf_counter() - t))
    return {"variants": len(settings), "sweep": sweep_rates, "scratch": scratch_rates}


def command(args: list[str]) -> tuple[float, dict]:
    """Run ``archcalc sweep ARGS`` in a new process (see ``child``); (seconds, {main_mib,
    worker_mib}): the peak RSS of the command's process and of its largest worker."""
    t = time.perf_counter()
    p = subprocess.run([sys.executable, __file__, "--child", *args], cwd=ROOT,
                       capture_output=True, text=True)
    took = time.perf_counter() - t
    lines = p.stderr.strip().splitlines()
    got = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {"code": "?"}
    if got["code"] not in (0, None):
        raise SystemExit(f"archcalc sweep {' '.join(args)} failed:\n{p.stderr}")
    return took, got


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as fh:
                kids = [int(x) for x in fh.read().split()]
        except OSError:
            continue
        out += kids
        todo += kids
    return out


def _peak_mib(pid: int) -> float:
    """VmHWM, the process's peak resident set so far (Linux)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def child(args: list[str]) -> None:
    """``archcalc sweep ARGS`` in this process, a thread reading the peak RSS of its worker
    processes (children of the forkserver: not this process's to wait for) while they run."""
    import threading

    from archcalc.cli import main as cli_main
    workers: dict[int, float] = {}
    stop = threading.Event()

    def sample() -> None:
        me = os.getpid()
        while not stop.wait(0.2):
            for p in _descendants(me):
                workers[p] = max(workers.get(p, 0.0), _peak_mib(p))

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    code = 0
    try:
        cli_main(["sweep", *args])
    except SystemExit as e:
        code = e.code
    stop.set()
    t.join()
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over exec, so it would report
    # the peak of the benchmark's own process (the ResNet part) that started this one
    me = _peak_mib(os.getpid())
    print(json.dumps({"code": code, "main_mib": me,
                      "worker_mib": max(workers.values(), default=0.0)}), file=sys.stderr)


def stats(values: list[float]) -> str:
    return f"median {statistics.median(values):,.1f}, best {max(values):,.1f}"


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        return child(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rss", default="10000,100000,1000000",
                    help="sweep sizes whose peak memory is measured")
    ap.add_argument("--rss-runs", type=int, default=3)
    a = ap.parse_args()
    from archcalc.design.sweep import default_jobs
    cores = default_jobs()
    print(f"# {cores} cores (os.sched_getaffinity), {os.getloadavg()[0]:.1f} load at start")

    got = per_core(a.runs)
    print(f"ResNet-50 (specs/resnet.yaml, {' × '.join(AXES)}), {got['variants']} variants, "
          f"{a.runs} runs, one process:")
    print(f"  a. sweep (the spec read once, each variant built and analyzed): "
          f"{stats(got['sweep'])} variants/s")
    print(f"  b. a new Design per variant (the spec read anew each time) + analyze: "
          f"{stats(got['scratch'])} variants/s")

    with tempfile.TemporaryDirectory() as d:
        rates = []
        n = 101 * 6
        for _ in range(a.runs):
            took, _ = command([RESNET, *(x for axis in COMMAND_AXES for x in ("--set", axis)),
                               "-o", os.path.join(d, "r.csv")])
            rates.append(n / took)
        print(f"  c. archcalc sweep of {n} variants ({' × '.join(COMMAND_AXES)}) on {cores} "
              f"processes, end to end (start-up included): {stats(rates)} variants/s")

        for size in [int(x) for x in a.rss.split(",") if x]:
            main_mib, worker_mib, secs = [], [], []
            for _ in range(a.rss_runs):
                res = min(size, 1000)           # res 8..1007 × batch 1..size/1000
                took, got = command([SMALL, "--set", f"res=8..{8 + res - 1}",
                                     "--set", f"batch=1..{size // res}",
                                     "-o", os.path.join(d, "s.csv")])
                main_mib.append(got["main_mib"])
                worker_mib.append(got["worker_mib"])
                secs.append(took)
            print(f"{SMALL!r}, {size:,} variants, {a.rss_runs} runs: peak RSS of the command "
                  f"median {statistics.median(main_mib):.1f} MiB (max "
                  f"{max(main_mib):.1f}), largest worker median "
                  f"{statistics.median(worker_mib):.1f} MiB; median "
                  f"{statistics.median(secs):.0f} s ({size / statistics.median(secs):,.0f} "
                  "variants/s)")


if __name__ == "__main__":
    main()
