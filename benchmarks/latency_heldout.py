"""Held-out test of archcalc's latency prediction on this machine's CPU: networks the calibration
never saw.

Calibrate local-cpu on some networks, then predict networks NOT used for calibration and
measure them with onnxruntime's profiler (archcalc run --profile's path). Each repeat
calibrates afresh and then measures (a shared machine's load changes by the minute). Prints a
Markdown table per calibration: total error (predicted − measured) / measured and the
per-layer median |error| (a row: a layer with those onnxruntime fused into it), each as the
median and the best (smallest |error|) over the repeats; and the bare roofline (the same
measured peak and bandwidth, no fitted factors) beside it.

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
    from archcalc.latency import calibrate, model, profile
    from archcalc.latency.devices import Device
    from archcalc.settings import resolve
    from archcalc.spec import read_one as load_one
    opts = resolve(input=args.input, cli=True)

    def load(name):
        if name == "dw-probe":
            return load_one(calibrate.DW_PROBE, opts).replace(name="dw-probe")
        return load_one(name, opts)

    print(f"onnxruntime {onnxruntime.__version__}, {os.cpu_count()} logical CPUs, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; repeats {args.repeats}, "
          f"iters {args.iters} (+{args.warmup} warm-up) per profile, threads "
          f"{args.threads or 'default'}", flush=True)
    held = [load(n) for n in args.nets.split(",")]
    cal_nets = {label: [load(n) for n in names] for label, names in CALIBRATIONS.items()}
    # each repeat calibrates, then measures the held-out networks at once: on a shared machine
    # the load changes by the minute, and a calibration is only meaningful for runs near it
    results = {label: {net.name: [] for net in held} for label in CALIBRATIONS}
    fits = {label: [] for label in CALIBRATIONS}
    for rep in range(args.repeats):
        devs = {}
        for label, nets in cal_nets.items():
            dev, fit = calibrate.calibrate(nets, iters=args.iters, warmup=args.warmup,
                                           threads=args.threads)
            devs[label] = dev
            fits[label].append((dev, fit))
        for net in held:
            report = archcalc.analyze(net)
            prof = profile.profile(net, warmup=args.warmup, iters=args.iters, provider="cpu",
                                   threads=args.threads)
            for label, dev in devs.items():
                bare = Device("roofline", "bare", dev.peak_tflops, dev.bandwidth_gbs)
                c = profile.compare(report, prof, model.estimate(report, dev))
                c0 = profile.compare(report, prof, model.estimate(report, bare))
                results[label][net.name].append((c, c0))
        print(f"repeat {rep + 1}/{args.repeats} done", flush=True)
    for label in CALIBRATIONS:
        print(f"\n### calibrated on {label}\n")
        for dev, fit in fits[label]:
            print(f"- peak {dev.peak_tflops['fp32'] * 1e3:.1f} GFLOP/s, bandwidth "
                  f"{dev.bandwidth_gbs:.1f} GB/s, overhead {dev.overhead_us:.1f} µs/layer; "
                  "efficiency " + ", ".join(f"{k} {v:.2f}" + ("*" if k in fit["borrowed"]
                                                              else "")
                                            for k, v in dev.efficiency.items()))
        print("\n(* borrowed: too few rows of that kind in the calibration networks)\n")
        print("| network | measured ms | predicted ms | total error median (best) "
              "| per-layer median abs error median (best) | bare roofline total error |")
        print("|---|---:|---:|---:|---:|---:|")
        for net in held:
            got = results[label][net.name]
            tot = [c.total_error for c, _ in got]
            lay = [c.median_abs_error for c, _ in got]
            print(f"| {net.name} | {statistics.median(c.measured_ms for c, _ in got):.2f} | "
                  f"{statistics.median(c.predicted_ms for c, _ in got):.2f} | "
                  f"{100 * statistics.median(tot):+.0f}% ({100 * min(tot, key=abs):+.0f}%) | "
                  f"{100 * statistics.median(lay):.0f}% ({100 * min(lay):.0f}%) | "
                  f"{100 * statistics.median(c0.total_error for _, c0 in got):+.0f}% |")

if __name__ == "__main__":
    sys.exit(main())
