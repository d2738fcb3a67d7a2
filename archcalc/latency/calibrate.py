"""``archcalc calibrate``: this machine's achievable peak and bandwidth, and per-op-kind
efficiency factors fitted to profiled runs of a few calibration networks, stored as the
``local-cpu`` device in the user's config folder. Uses onnxruntime (CPU). See docs/latency.md.

The fit: each comparison row g (a layer and those fused into it, profile.map_nodes) was
measured m_g; its bare-roofline time per op kind k is T_gk (model.estimate with efficiency 1
and no overhead) and it holds N_g layers. Slowdowns a_k ≥ 0 and an overhead o ≥ 0 minimise
Σ_g ((Σ_k a_k·T_gk + o·N_g − m_g) / m_g)², the relative error (a 10 µs layer counts as much
as a 10 ms one). Efficiency(k) = 1 / a_k, at most MAX_EFFICIENCY: a kind fitted to a_k = 0 (its
layers cost nothing measurable) gets MAX_EFFICIENCY. A kind in fewer than MIN_ROWS rows of the
calibration networks is not fitted (its time in those rows is left to the overhead and the
other kinds) and borrows a fitted kind's factor (FALLBACK); the stored file says which.

Peak and bandwidth are the median of their repeats, not the best: on a loaded machine the
median is closer to what the profiled runs get.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import OPTIONS, error
from ..files import write_atomic
from ..ops.words import counted
from .devices import KINDS, LOCAL, Device, local_profile_path
from .measure import measure_bandwidth, measure_peak

if TYPE_CHECKING:
    from ..graph import Network
    from ..report import Report
    from .profile import Profile

# the networks calibrate profiles by default: two of the issue's, and a small probe of
# depthwise-separable layers (no shipped network is used that the held-out test predicts)
DW_PROBE = ("C3D32S2 BN R DW3 BN R C1D64 BN R DW3S2 BN R C1D128 BN R DW3 BN R C1D128 BN R "
            "DW3S2 BN R C1D256 BN R DW3 BN R C1D256 BN R A2 GAP FC100")
DEFAULT_NETS = ("vgg16", "resnet50", "dw-probe")
FALLBACK = {"conv": ("conv1x1", "fc"), "conv1x1": ("conv", "fc"), "fc": ("conv1x1", "conv"),
            "depthwise": ("pool", "elementwise", "conv"), "pool": ("elementwise", "depthwise"),
            "elementwise": ("pool", "depthwise")}
MAX_EFFICIENCY = 50.0
MIN_ROWS = 3            # a kind in fewer rows than this is not fitted (one softmax is no basis)


def fit(samples: list[tuple[dict, int, float]]) -> tuple[dict, float, dict]:
    """``samples``: (seconds of bare roofline per kind, layers, measured seconds) per row.
    Returns (slowdown a_k per fitted kind, overhead o in seconds, rows per kind)."""
    counts = {k: sum(1 for t, _, _ in samples if t.get(k, 0) > 0) for k in KINDS}
    counts = {k: n for k, n in counts.items() if n}
    kinds = [k for k in KINDS if counts.get(k, 0) >= MIN_ROWS]     # too few rows: borrowed
    cols = kinds + ["overhead"]
    A = np.array([[t.get(k, 0.0) for k in kinds] + [n] for t, n, _ in samples], dtype=float)
    m = np.array([s[2] for s in samples], dtype=float)
    w = 1.0 / m
    active = list(range(len(cols)))
    coef = np.zeros(len(cols))
    while active:           # least squares; the most negative coefficient dropped, one by one
        sol, *_ = np.linalg.lstsq(A[:, active] * w[:, None], m * w, rcond=None)
        if (sol >= 0).all():
            coef[:] = 0
            coef[active] = sol
            break
        active.pop(int(np.argmin(sol)))
    slow = {k: float(coef[i]) for i, k in enumerate(kinds) if coef[i] > 0}
    return slow, float(coef[-1]), counts


def samples_of(report: Report, prof: Profile, peak: float,
               bw: float) -> list[tuple[dict[str, float], int, float]]:
    from . import model, profile
    bare = Device(LOCAL, LOCAL, {"fp32": peak / 1e12}, bw / 1e9)
    est = model.estimate(report, bare).by_name()
    out = []
    for g in profile.map_nodes(report, prof.nodes).groups:
        parts: dict[str, float] = {}
        n = 0
        for name in g.layers:
            t = est.get(name)
            if t is None or t.kind in ("view", "epilogue"):
                continue
            parts[t.kind] = parts.get(t.kind, 0.0) + t.time_s
            n += 1
        if n and g.measured_us > 0:
            out.append((parts, n, g.measured_us * 1e-6))
    return out


def calibrate(nets: Sequence[Network], *, iters: int = 10, warmup: int = 3, matmul: int = 1024,
              copy_mib: int = 64, threads: int | None = None,
              log: Callable[[str], None] | None = None,
              step: Callable[[str], None] | None = None) -> tuple[Device, dict[str, Any]]:
    """Measure, profile ``nets`` (Networks) and fit; returns the calibrated local-cpu device
    (not yet stored: see :func:`store`) and what the fit found (rows per kind, borrowed
    factors, slowdowns, overhead). ``log`` is told what was found, ``step`` what is about to be
    done, at the start of each of the ``2 + len(nets)`` steps (a progress bar's)."""
    from ..analysis import analyze
    from . import profile
    say = log or (lambda text: None)
    doing = step or (lambda text: None)
    doing(f"measuring the peak (MatMul {matmul}×{matmul})")
    peak = measure_peak(matmul, threads=threads)
    doing(f"measuring the bandwidth (a copy of {copy_mib} MiB)")
    bw = measure_bandwidth(copy_mib, threads=threads)
    say(f"peak {peak / 1e9:,.1f} GFLOP/s (fp32 MatMul {matmul}×{matmul}), "
        f"bandwidth {bw / 1e9:,.1f} GB/s (copy of {copy_mib} MiB)")
    samples = []
    for net in nets:
        doing(f"profiling {net.name} ({warmup} + {iters} runs)")
        report = analyze(net)
        prof = profile.profile(net, warmup=warmup, iters=iters, provider="cpu",
                               threads=threads)
        got = samples_of(report, prof, peak, bw)
        say(f"profiled {net.name}: {counted(len(prof.nodes), 'node')}, "
            f"{counted(len(got), 'row')}, median run "
            f"{prof.median_run_ms:.2f} ms")
        samples += got
    if not samples:
        raise error("the calibration networks gave no measured layer to fit", OPTIONS,
                    kind="spec")
    slow, over, counts = fit(samples)
    if not any(counts.get(k, 0) >= MIN_ROWS for k in KINDS):
        # nothing to stand on: the stored calibration is kept rather than replaced
        raise error(f"the calibration networks gave too few layers to fit ({len(samples)} "
                    f"measured rows; a kind needs {MIN_ROWS})", OPTIONS, kind="spec",
                    hint="calibrate on real networks (the default: vgg16, resnet50, dw-probe); "
                         "the stored calibration is unchanged")
    eff, borrowed = {}, {}
    for k in KINDS:
        if k not in slow and counts.get(k, 0) >= MIN_ROWS:   # fitted to zero: free
            eff[k] = MAX_EFFICIENCY
            continue
        src = next((c for c in (k, *FALLBACK[k]) if c in slow), next(iter(slow), None))
        if src is None:
            continue
        eff[k] = min(MAX_EFFICIENCY, 1.0 / slow[src])
        if src != k:
            borrowed[k] = src
    import onnxruntime
    names = ", ".join(n.name for n in nets)
    lent = "; borrowed factors: " + ", ".join(f"{k} from {v}" for k, v in borrowed.items())
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    src_text = (f"archcalc calibrate, {when} UTC, onnxruntime {onnxruntime.__version__} (CPU, "
                f"{os.cpu_count()} logical CPUs, {threads or 'default'} threads); networks: "
                f"{names}; {counted(len(samples), 'row')} fitted"
                + (lent if borrowed else ""))
    dev = Device(LOCAL, f"this machine's CPU ({platform.processor() or platform.machine()})",
                 {"fp32": peak / 1e12}, bw / 1e9, over * 1e6, eff, src_text, True)
    return dev, {"threads": threads or "onnxruntime's default", "rows_per_kind": counts,
                 "borrowed": borrowed,
                 "slowdown": slow, "overhead_us": over * 1e6}


def store(dev: Device, extra: dict, path: str | None = None) -> str:
    """Write ``dev`` as the local-cpu device file (atomically) and return its path."""
    path = path or local_profile_path()
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise error(f"cannot create {folder}: {exc.strerror or exc}", OPTIONS,
                    hint="set XDG_CONFIG_HOME to a folder you can write", kind="usage") from None
    doc = {"about": "written by archcalc calibrate: this machine's CPU as onnxruntime runs "
                    "it (docs/latency.md)",
           "devices": {LOCAL: {"name": dev.name, "peak_tflops": dev.peak_tflops,
                               "bandwidth_gbs": dev.bandwidth_gbs,
                               "overhead_us": dev.overhead_us, "efficiency": dev.efficiency,
                               "calibrated": True, "source": dev.source, "fit": extra}}}
    write_atomic(path, json.dumps(doc, indent=2) + "\n")
    return path


__all__ = ["calibrate", "store", "measure_peak", "measure_bandwidth", "fit",
           "DEFAULT_NETS", "DW_PROBE"]
