"""Held-out test of archcalc's latency prediction on this machine's CPU (issue 13).

Calibrate local-cpu on some networks, then predict networks NOT used for calibration and
measure them with onnxruntime's profiler (archcalc run --profile's path). Prints a Markdown
table per calibration: total error (predicted − measured) / measured and the per-layer median
|error| (a row: a layer with those onnxruntime fused into it), each as the median and the best
(smallest |error|) over REPEATS profiles; and the bare roofline (no calibration) beside it.

    python benchmarks/latency_heldout.py [--repeats 5] [--iters 10] [--input 224x224x3]

The calibration is written to a temporary XDG_CONFIG_HOME, never to the user's own. The
machine may be shared: timings are noisy, say so next to any figure taken from this.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

CALIBRATIONS = {"vgg16+resnet50": ["vgg16", "resnet50"],
                "vgg16+resnet50+dw-probe": ["vgg16", "resnet50", "dw-probe"]}
HELD_OUT = ["mobilenet_v2", "googlenet", "resnet18", "squeezenet1_1", "densenet121"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--input", default=None)
    ap.add_argument("--nets", default=",".join(HELD_OUT))
    ap.add_argument("--threads", type=int, default=None,
                    help="onnxruntime intra-op threads (default: its own choice)")
    args = ap.parse_args()
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="archcalc-bench-")
    import onnxruntime
    import archcalc
    from archcalc.cli_common import load_one
    from archcalc.latency import calibrate, model, profile
    from archcalc.latency.devices import Device

    def load(name):
        if name == "dw-probe":
            net = load_one(calibrate.DW_PROBE, args.input, None, None, None, None)
            net.name = "dw-probe"
            return net
        return load_one(name, args.input, None, None, None, None)

    print(f"onnxruntime {onnxruntime.__version__}, {os.cpu_count()} logical CPUs, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; repeats {args.repeats}, "
          f"iters {args.iters} (+{args.warmup} warm-up) per profile, threads "
          f"{args.threads or 'default'}", flush=True)
    held = [load(n) for n in args.nets.split(",")]
    profiles = {}           # measured once per (network, repeat): shared by every calibration
    for net in held:
        profiles[net.name] = [profile.profile(net, warmup=args.warmup, iters=args.iters,
                                              provider="cpu", threads=args.threads)
                            for _ in range(args.repeats)]
        print(f"profiled {net.name}: median run "
              f"{statistics.median(p.median_run_ms for p in profiles[net.name]):.2f} ms",
              flush=True)
    for label, names in CALIBRATIONS.items():
        dev, fit = calibrate.calibrate([load(n) for n in names], iters=args.iters,
                                       warmup=args.warmup, threads=args.threads,
                                       log=lambda t: print("  " + t, flush=True))
        bare = Device("roofline", "bare", dev.peak_tflops, dev.bandwidth_gbs)
        print(f"\n### calibrated on {label}\n")
        print(f"peak {dev.peak_tflops['fp32'] * 1e3:.1f} GFLOP/s, bandwidth "
              f"{dev.bandwidth_gbs:.1f} GB/s, overhead {dev.overhead_us:.1f} µs/layer; "
              "efficiency " + ", ".join(f"{k} {v:.2f}" + (" (borrowed)" if k in fit["borrowed"]
                                                          else "")
                                        for k, v in dev.efficiency.items()) + "\n")
        print("| network | measured ms (median) | predicted ms | total error median (best) "
              "| per-layer median abs error median (best) | bare roofline total error |")
        print("|---|---:|---:|---:|---:|---:|")
        for net in held:
            report = archcalc.analyze(net)
            est = model.estimate(report, dev)
            est0 = model.estimate(report, bare)
            cs = [profile.compare(report, p, est) for p in profiles[net.name]]
            c0 = [profile.compare(report, p, est0) for p in profiles[net.name]]
            tot = [c.total_error for c in cs]
            lay = [c.median_abs_error for c in cs]
            best_t = min(tot, key=abs)
            print(f"| {net.name} | {statistics.median(c.measured_ms for c in cs):.2f} | "
                  f"{cs[0].predicted_ms:.2f} | {100 * statistics.median(tot):+.0f}% "
                  f"({100 * best_t:+.0f}%) | {100 * statistics.median(lay):.0f}% "
                  f"({100 * min(lay):.0f}%) | "
                  f"{100 * statistics.median(c.total_error for c in c0):+.0f}% |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
