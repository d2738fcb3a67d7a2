"""The ``archcalc estimate`` and ``archcalc calibrate`` commands, the latency column of
``archcalc summary --device`` and the output of ``archcalc run --profile`` (registered lazily
by archcalc.cli: ``summary`` without --device never imports this package). onnxruntime is
imported only by calibrate, run --profile and a local-cpu without a stored calibration."""
from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from .. import analysis
from ..cli_common import (BATCH, COLUMN, DEVICE_FILE, DOUBLE, FILTERS, INPUT, LIMIT, ROUNDING,
                          SPEC, choice, guarded, load_one, print_json, whole)
from ..errors import OPTIONS, error
from ..views import human_bytes, human_count, plain_table

DEVICE = typer.Option(..., "--device", "-D", metavar="NAME", show_default=False,
                      help="a device of the table (a100-40gb, a100-80gb, h100-sxm, h100-pcie, "
                           "h200, l4, t4, rtx-4090, jetson-agx-orin-64gb; docs/latency.md), one "
                           "of a --device-file, or local-cpu (this machine)")
MATH_DTYPES = ("fp32", "tf32", "fp16", "bf16", "int8")
FORMATS = ("table", "json", "markdown", "csv")


def _us(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:,.1f}" if us < 1000 else f"{us:,.0f}"


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:+.0f}%"


def device_line(dev) -> str:
    def rate(k: str, v: float) -> str:
        unit = "OPS" if k == "int8" else "FLOPS"
        return f"{k} {v:g} T{unit}" if v >= 1 else f"{k} {v * 1e3:,.1f} G{unit}"
    peaks = ", ".join(rate(k, v) for k, v in dev.peak_tflops.items())
    state = ("calibrated" if dev.calibrated else
             "datasheet roofline (efficiency 1)" if dev.key != "local-cpu" else "measured now")
    return (f"{dev.key}: {dev.name}; {peaks}; {dev.bandwidth_gbs:,.1f} GB/s; "
            f"{dev.overhead_us:g} µs per layer; {state}" + (f" ({dev.note})" if dev.note else ""))


# ---------------------------------------------------------------------------------------------
# estimate

def _estimate(net, device: str, device_file: Optional[str], dtype: str, batch: int):
    from . import devices, model
    storage = "fp32" if dtype == "tf32" else dtype
    dev = devices.get(device, device_file)
    dev.peak(dtype)                      # a dtype without a peak: said before any work
    report = analysis.analyze(net, dtype=storage, batch=batch)
    return model.estimate(report, dev, dtype)


def estimate_rows(est) -> tuple[list[str], list[str], list[list[str]]]:
    total = est.time_s
    heads = ["layer", "op", "kind", "FLOPs", "bytes", "FLOP/B", "bound", "time µs", "%time"]
    just = ["left", "left", "left", "right", "right", "right", "left", "right", "right"]
    rows = [[t.name, t.op, t.kind, human_count(t.flops) if t.flops else "0",
             human_bytes(t.bytes) if t.bytes else "0",
             "" if t.intensity is None else f"{t.intensity:,.1f}", t.bound, _us(t.time_s),
             f"{100 * t.time_s / total:.1f}%" if total else ""] for t in est.layers]
    return heads, just, rows


def estimate_totals(est) -> list[str]:
    dev, total = est.device, est.time_s
    ridge = dev.peak(est.dtype) / dev.bandwidth
    kinds = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in est.by_kind().items())
    return [f"device: {device_line(dev)}",
            f"dtype: {est.dtype}, batch {est.report.settings.batch}; ridge point "
            f"{ridge:,.1f} FLOP/byte (layers below it are memory-bound)",
            f"predicted: {total * 1e3:,.3f} ms per batch ({human_count(est.flops)} FLOPs, "
            f"{human_bytes(est.bytes)} moved)",
            f"time by kind: {kinds}"]


@guarded
def estimate_cmd(
    spec_arg: str = SPEC,
    device: str = DEVICE,
    device_file: Optional[str] = DEVICE_FILE,
    dtype: str = typer.Option("fp32", "--dtype", metavar="TYPE",
                              help="fp32, tf32 (fp32 storage, tensor-core math), fp16, bf16 "
                                   "or int8: the bytes per element and the peak used"),
    batch: str = BATCH,
    format: str = typer.Option("table", "--format", "-F", metavar="FORMAT",
                               help="table, json, markdown or csv"),
    input: Optional[str] = INPUT,
    filters: Optional[str] = FILTERS,
    double_after_pool: Optional[bool] = DOUBLE,
    rounding: Optional[str] = ROUNDING,
    column: Optional[str] = COLUMN,
):
    """Predicted time per layer on a device: FLOPs, bytes moved, arithmetic intensity, compute-
    or memory-bound, time = max(FLOPs/peak, bytes/bandwidth)/efficiency + overhead; totals and
    the share of time per op kind (docs/latency.md)."""
    fmt = choice(format, FORMATS, "--format")
    dtype = choice(dtype, MATH_DTYPES, "--dtype")
    batch = whole(batch, "--batch", 1, LIMIT)
    net = load_one(spec_arg, input, filters, double_after_pool, rounding, column)
    est = _estimate(net, device, device_file, dtype, batch)
    if fmt == "json":
        print_json({"schema": 2, "name": est.report.name, **est.to_dict()})
        return
    heads, just, rows = estimate_rows(est)
    if fmt == "csv":
        import csv
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["name", "op", "kind", "flops", "bytes", "intensity", "bound", "time_us"])
        for t in est.layers:
            w.writerow([t.name, t.op, t.kind, t.flops, t.bytes,
                        "" if t.intensity is None else f"{t.intensity:.6g}", t.bound,
                        f"{t.time_s * 1e6:.6g}"])
        return
    if fmt == "markdown":
        from ..views import md_cell
        out = [f"## {md_cell(est.report.name)} on {md_cell(est.device.key)}", "",
               "| " + " | ".join(heads) + " |",
               "|" + "|".join("---:" if j == "right" else "---" for j in just) + "|"]
        out += ["| " + " | ".join(md_cell(c) for c in r) + " |" for r in rows]
        out += [""] + [f"- {md_cell(x)}" for x in estimate_totals(est)]
        print("\n".join(out))
        return
    sys.stdout.write(plain_table(f"{est.report.name} on {est.device.key}", heads, just, rows))
    print()
    print("\n".join(estimate_totals(est)))


# ---------------------------------------------------------------------------------------------
# summary --device: one more column

def summary_columns(report, device: str, device_file: Optional[str]):
    """The latency column of ``archcalc summary --device`` and the estimate behind it."""
    from ..views import Column
    from . import devices, model
    est = model.estimate(report, devices.get(device, device_file))
    times = {t.name: t.time_s for t in est.layers}
    inside: dict[str, float] = {}
    for row in report.layers:          # a folded block's row: the sum of its layers
        for scope in row.scope:
            inside[scope] = inside.get(scope, 0.0) + times.get(row.name, 0.0)

    def cell(row, vols, r, short):
        t = times.get(row.name, inside.get(row.name) if row.op == "block" else None)
        return "" if t is None else _us(t)
    return (Column(f"µs {est.device.key}", "right", cell, 0),), est   # asked for: never dropped


def summary_json(text: str, est) -> str:
    """``summary --format json`` with each layer's ``latency_us`` (a folded block's: the sum of
    its layers') and the estimate's totals."""
    doc = json.loads(text)
    times = {t.name: t.time_s * 1e6 for t in est.layers}
    inside: dict[str, float] = {}
    for row in est.report.layers:
        for scope in row.scope:
            inside[scope] = inside.get(scope, 0.0) + times.get(row.name, 0.0)
    for row in doc["layers"]:
        row["latency_us"] = times.get(row["name"], inside.get(row["name"]))
    d = est.to_dict()
    doc["latency"] = {"device": d["device"], "dtype": d["dtype"], "totals": d["totals"]}
    return json.dumps(doc, indent=2)


# ---------------------------------------------------------------------------------------------
# run --profile

def profile_run(net, *, provider: str, batch: int, warmup: int, iters: int, seed: int,
                device: Optional[str], device_file: Optional[str], fmt: str,
                threads: Optional[int] = None, weights: str = "random") -> None:
    """Profile ``net`` with onnxruntime and print measured time per layer beside the
    prediction for ``device`` (default: local-cpu when it ran on the CPU)."""
    from ..cli_common import check_device_file
    from . import devices, model, profile
    check_device_file(device, device_file)
    report = analysis.analyze(net, batch=batch)
    dev = None
    if device is not None:                   # a bad name is said before the long part
        dev = devices.get(device, device_file)
        dev.peak("fp32")
    onnx_model = getattr(net, "onnx", None)      # an imported model: profiled as it is
    prof = profile.profile(net, batch=batch, warmup=warmup, iters=iters, provider=provider,
                           seed=seed, threads=threads, weights=weights,
                           path=onnx_model["path"] if onnx_model else None)
    if onnx_model:
        prof = profile.renamed(prof, onnx_model["node_layers"])
    if dev is None and prof.provider == "cpu":
        dev = devices.get(devices.LOCAL)
    est = model.estimate(report, dev, "fp32") if dev is not None else None
    cmp = profile.compare(report, prof, est)
    if fmt == "json":
        print_json({"schema": 2, "name": report.name, **cmp.to_dict()})
        return
    print("\n".join(comparison_lines(cmp, report.name)))
    if dev is not None and prof.provider == "cpu" and dev.key != devices.LOCAL:
        sys.stderr.write(f"archcalc: note: measured on this CPU, predicted for {dev.key}: the "
                         "errors compare two machines (--device local-cpu predicts this one)\n")
    if cmp.unmapped:
        sys.stderr.write(f"archcalc: warning: {len(cmp.unmapped)} profiled nodes map to no "
                         f"layer ({', '.join(n.name for n in cmp.unmapped[:5])}"
                         f"{', …' if len(cmp.unmapped) > 5 else ''}): their time is in the "
                         "UNMAPPED row\n")


def comparison_lines(cmp, name: str) -> list[str]:
    p, est = cmp.profile, cmp.estimate
    heads = ["layer (+ fused into it)", "kind", "predicted µs", "measured µs", "error"]
    rows = [[r.label, r.kind, "" if r.predicted_us is None else _us(r.predicted_us * 1e-6),
             "—" if r.measured_us is None else _us(r.measured_us * 1e-6), _pct(r.error)]
            for r in cmp.rows]
    text = plain_table(f"{name}: measured per layer", heads,
                       ["left", "left", "right", "right", "right"], rows).rstrip("\n")
    prov = "CUDA (GPU)" if p.provider == "cuda" else "CPU"
    lines = [text, "",
             f"provider: {prov}" + (f"; GPU not used: {p.note}" if p.note else ""),
             f"runs: median over {p.iters} profiled runs after {p.warmup} warm-up (and the "
             f"first run), batch {p.batch}; median run {p.median_run_ms:,.3f} ms"]
    if est is None:
        lines.append("prediction: none (give --device NAME to compare with a device's roofline)")
    else:
        lines.append(f"prediction: {device_line(est.device)}")
        lines.append(f"total: predicted {cmp.predicted_ms:,.3f} ms, measured "
                     f"{cmp.measured_ms:,.3f} ms (sum of node medians): error "
                     f"{_pct(cmp.total_error)}")
        med = cmp.median_abs_error
        if med is not None:
            n = sum(1 for r in cmp.rows if r.error is not None)
            lines.append(f"per-layer median |error|: {100 * med:.0f}% over {n} rows")
    dom = cmp.dominant(5)
    if dom and cmp.measured_ms:
        share = lambda r: 100 * r.measured_us / 1e3 / cmp.measured_ms      # noqa: E731
        lines.append("dominant: " + ", ".join(
            f"{r.layers[0] if r.layers else r.label} {share(r):.0f}%" for r in dom))
    return lines


# ---------------------------------------------------------------------------------------------
# calibrate

@guarded
def calibrate_cmd(
    nets: str = typer.Option(",".join(("vgg16", "resnet50", "dw-probe")), "--nets",
                             metavar="SPEC,...",
                             help="calibration networks, comma-separated: shipped names, spec "
                                  "files, or dw-probe (a small depthwise-separable stack)"),
    input: Optional[str] = typer.Option(None, "--input", "-i", metavar="HxWxC",
                                        help="input volume of every calibration network "
                                             "(default: each spec's own)"),
    iters: str = typer.Option("10", "--iters", "-n", metavar="N", help="profiled runs each"),
    warmup: str = typer.Option("3", "--warmup", metavar="N", help="untimed runs first"),
    matmul: str = typer.Option("1024", "--matmul", metavar="N",
                               help="size of the N×N matrix multiply that measures the peak"),
    copy_mib: str = typer.Option("64", "--copy-mib", metavar="MIB",
                                 help="size of the copy that measures the bandwidth"),
    threads: Optional[str] = typer.Option(None, "--threads", metavar="N",
                                          help="onnxruntime's intra-op threads (default: its "
                                               "own choice); run --profile --threads N to match"),
    format: str = typer.Option("text", "--format", "-F", metavar="FORMAT",
                               help="text or json"),
):
    """Measure this machine (peak: a matrix multiply; bandwidth: a large copy; both through
    onnxruntime on the CPU), fit per-op-kind efficiencies and a per-layer overhead to
    profiled runs of the calibration networks, and store the result as the local-cpu device
    in the config folder ($XDG_CONFIG_HOME/archcalc, else ~/.config/archcalc)."""
    fmt = choice(format, ("text", "json"), "--format")
    iters, warmup = whole(iters, "--iters", 1), whole(warmup, "--warmup", 0)
    matmul, copy_mib = whole(matmul, "--matmul", 16, 8192), whole(copy_mib, "--copy-mib", 1, 4096)
    threads = whole(threads, "--threads", 1, 1024)
    from . import calibrate
    specs = [s.strip() for s in nets.split(",") if s.strip()]
    if not specs:
        raise error("--nets names no network", OPTIONS, hint="e.g. --nets vgg16,resnet50",
                    exit_code=2)
    loaded = []
    for s in specs:
        net = load_one(calibrate.DW_PROBE if s.lower() == "dw-probe" else s, input, None, None,
                       None, None, label="<dw-probe>" if s.lower() == "dw-probe" else "<spec>")
        if s.lower() == "dw-probe":
            net.name = "dw-probe"
        loaded.append(net)
    log = (lambda text: None) if fmt == "json" else (lambda text: print(text, flush=True))
    dev, fit = calibrate.calibrate(loaded, iters=iters, warmup=warmup, matmul=matmul,
                                   copy_mib=copy_mib, threads=threads, log=log)
    path = calibrate.store(dev, fit)
    if fmt == "json":
        print_json({"schema": 2, "path": path, "device": dev.to_dict(), "fit": fit})
        return
    print("efficiency per kind: " + ", ".join(
        f"{k} {v:.2f}" + (f" (from {fit['borrowed'][k]})" if k in fit["borrowed"] else "")
        for k, v in dev.efficiency.items()))
    print(f"overhead per layer: {dev.overhead_us:.1f} µs")
    print(f"wrote {path}: archcalc estimate SPEC --device local-cpu uses it")
