"""Run ONNX models with onnxruntime: provider choice, sessions, timing.

The provider is the best one that actually works: CUDA when this onnxruntime has a CUDA provider
and the driver, a GPU and the provider's libraries are all there, else the CPU. onnxruntime
falls back to the CPU silently (after logging a red error) when CUDA cannot start; here the
reason is found first, without onnxruntime's log, and said in one line.
"""
from __future__ import annotations

import contextlib
import ctypes
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from archcalc.analysis import analyze
from archcalc.errors import OPTIONS, SourcePos, error
from archcalc.graph import Network

CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"
PROVIDERS = ("auto", "cpu", "cuda")


def load_onnxruntime() -> Any:
    """onnxruntime (a module without type stubs), with its log limited to errors
    (ARCHCALC_DEBUG=1 keeps its warnings)."""
    import onnxruntime as ort
    ort.set_default_logger_severity(2 if os.environ.get("ARCHCALC_DEBUG") else 3)
    return ort


# ---------------------------------------------------------------------------------------------
# provider choice

def cuda_unavailable_reason() -> str | None:
    """Why onnxruntime's CUDA provider cannot run here, or None when it should."""
    ort = load_onnxruntime()
    if CUDA not in ort.get_available_providers():
        return "this onnxruntime has no CUDA provider (onnxruntime-gpu is not installed)"
    if sys.platform.startswith("linux"):
        reason = _linux_cuda_problem(ort)
        if reason:
            return reason
    return None


def _linux_cuda_problem(ort: Any) -> str | None:
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return "no NVIDIA driver (libcuda.so.1 cannot be loaded)"
    rc = driver.cuInit(0)
    count = ctypes.c_int(0)
    if rc != 0:
        return f"no usable CUDA GPU (cuInit failed with error {rc})"
    if driver.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return "no CUDA GPU is visible"
    lib = os.path.join(os.path.dirname(ort.__file__), "capi", "libonnxruntime_providers_cuda.so")
    if os.path.exists(lib):
        problem = _load_problem(lib)
        if problem and hasattr(ort, "preload_dlls"):   # CUDA from the nvidia-* pip packages
            with contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                with contextlib.suppress(Exception):
                    ort.preload_dlls()
            problem = _load_problem(lib)
        if problem:
            return f"the CUDA provider cannot load its libraries ({problem})"
    return None


def _load_problem(lib: str) -> str | None:
    try:
        ctypes.CDLL(lib)
    except OSError as exc:
        return str(exc).splitlines()[0].split(": ", 1)[-1]
    return None


@dataclass(frozen=True)
class Session:
    """An onnxruntime session, the provider it runs on ("cuda" or "cpu") and, when the GPU was
    asked for or expected but not used, why."""
    session: Any            # an onnxruntime.InferenceSession (onnxruntime has no type stubs)
    provider: str
    note: str | None = None


def open_session(model_path: str, provider: str = "auto",
                 configure: Callable[[Any], None] | None = None) -> Session:
    """A session on the best provider that works: ``auto`` tries CUDA then the CPU; ``cuda``
    that cannot be honoured is an ArchcalcError; ``cpu`` is the CPU. ``configure``, when
    given, is called with each SessionOptions before use (archcalc.latency turns on
    onnxruntime's profiler this way)."""
    if provider not in PROVIDERS:
        raise error(f"unknown provider {provider!r}", OPTIONS, hint="auto, cpu or cuda",
                    kind="usage")
    ort = load_onnxruntime()
    if provider == "cpu":
        return Session(_session(ort, model_path, [CPU], configure=configure), "cpu")
    reason = cuda_unavailable_reason()
    if reason is None:
        sess = _session(ort, model_path, [CUDA, CPU], quiet=True, configure=configure)
        if sess.get_providers()[0] == CUDA:
            return Session(sess, "cuda")
        reason = "onnxruntime could not start its CUDA provider (ARCHCALC_DEBUG=1 shows its log)"
        if provider == "auto":
            return Session(sess, "cpu", reason)
    if provider == "cuda":
        raise error(f"--provider cuda cannot be honoured: {reason}", OPTIONS,
                    hint="use --provider cpu (or auto, which falls back to the CPU)", kind="usage")
    expected = CUDA in ort.get_available_providers()      # onnxruntime-gpu is installed
    return Session(_session(ort, model_path, [CPU], configure=configure), "cpu",
                   reason if expected else None)


def _session(ort: Any, model_path: str, providers: list[str], quiet: bool = False,
             configure: Callable[[Any], None] | None = None) -> Any:
    opts = ort.SessionOptions()
    if configure is not None:
        configure(opts)
    debug = os.environ.get("ARCHCALC_DEBUG")
    opts.log_severity_level = 2 if debug else (4 if quiet else 3)
    if quiet and not debug:
        ort.set_default_logger_severity(4)
    try:
        return ort.InferenceSession(model_path, opts, providers=providers)
    except Exception as exc:       # onnxruntime raises its own unrelated exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(f"onnxruntime cannot open {model_path}: {first}", SourcePos(str(model_path)),
                    hint="is it an ONNX model? archcalc export writes one from a spec",
                    kind="usage") from None
    finally:
        if quiet and not debug:
            ort.set_default_logger_severity(3)


# ---------------------------------------------------------------------------------------------
# running and timing

@dataclass(frozen=True)
class RunResult:
    """What one ``run`` measured. Times are wall-clock milliseconds of ``session.run`` calls
    (inputs already in host memory; outputs copied back), after ``warmup`` untimed calls."""
    model: str
    provider: str                       # "cuda" or "cpu"
    note: str | None                    # why the GPU was not used, when asked for or expected
    batch: int
    warmup: int
    iters: int
    input_shape: tuple[int, ...]
    output_shapes: tuple[tuple[int, ...], ...]
    expected_shapes: tuple[tuple[int, ...], ...] | None   # None: nothing to check against
    expected_from: str                  # "analyzer", "model" or "nothing"
    times_ms: tuple[float, ...]

    @property
    def shape_ok(self) -> bool | None:
        if self.expected_shapes is None:
            return None
        return self.output_shapes == self.expected_shapes

    @property
    def median_ms(self) -> float:
        return float(np.median(self.times_ms))

    @property
    def p10_ms(self) -> float:
        return float(np.percentile(self.times_ms, 10))

    @property
    def p90_ms(self) -> float:
        return float(np.percentile(self.times_ms, 90))

    @property
    def min_ms(self) -> float:
        return float(min(self.times_ms))

    @property
    def images_per_s(self) -> float:
        return self.batch * 1000.0 / self.median_ms

    def provider_line(self) -> str:
        name = "CUDA (GPU)" if self.provider == "cuda" else "CPU"
        return name + (f"; GPU not used: {self.note}" if self.note else "")

    def lines(self) -> list[str]:
        shapes = ", ".join(_shape_text(s) for s in self.output_shapes)
        if self.expected_shapes is None:                  # shape_ok is None
            check = "(not checked: the model declares no output shape)"
        else:
            check = f"as the {self.expected_from} says" if self.shape_ok else (
                f"but the {self.expected_from} says "
                + ", ".join(_shape_text(s) for s in self.expected_shapes))
        return [
            f"model       {self.model}",
            f"provider    {self.provider_line()}",
            f"input       {_shape_text(self.input_shape)}",
            f"output      {shapes} {check}",
            f"latency     median {self.median_ms:.3f} ms (p10 {self.p10_ms:.3f}, "
            f"p90 {self.p90_ms:.3f}, min {self.min_ms:.3f}) over {self.iters} "
            f"run{'s' * (self.iters != 1)} "
            f"after {self.warmup} warm-up",
            f"throughput  {self.images_per_s:,.1f} images/s at batch {self.batch}",
        ]


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape)


def run(model: Network | str | os.PathLike[str], *, batch: int = 1, warmup: int = 3,
        iters: int = 20, provider: str = "auto", weights: str = "random", seed: int = 0,
        name: str | None = None) -> RunResult:
    """Run ``model`` on a random batch and time it.

    ``model`` is a path to an .onnx file or an archcalc ``Network`` (exported to a temporary
    file with ``weights``). The output shapes are checked against the analyzer for a network,
    against the model's declared outputs for a file; a disagreement raises
    ``archcalc.exporters.onnx.VerificationError``.
    """
    for what, value, least in (("batch", batch, 1), ("warmup", warmup, 0), ("iters", iters, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise error(f"{what} must be a whole number ≥ {least}, got {value!r}", OPTIONS,
                        kind="usage")
    if isinstance(model, Network):
        return _run_network(model, batch, warmup, iters, provider, weights, seed, name)
    path = os.fspath(model)
    if not os.path.isfile(path):
        raise error(f"no such model file: {path}", SourcePos(str(path)), kind="io")
    return _run_file(path, batch, warmup, iters, provider, seed, None, name or path)


def _run_network(net: Network, batch: int, warmup: int, iters: int, provider: str, weights: str,
                 seed: int, name: str | None) -> RunResult:
    from . import onnx as onnx_export
    if onnx_export.weight_mode(weights) == "none":
        raise error("a light model (weights none) has no weights to run", OPTIONS,
                    hint="run with weights random or zeros", kind="usage")
    report = analyze(net)
    rows = {row.name: row for row in report.layers}
    layout = onnx_export.plan(net, report)        # which outputs are vectors, which volumes
    expected = tuple((batch, *onnx_export.onnx_dims(rows[s].output, layout.rank[s])[1:])
                     for s in onnx_export._sinks(net))
    with tempfile.TemporaryDirectory(prefix="archcalc-run-") as tmp:
        path = onnx_export.export(net, os.path.join(tmp, "model.onnx"), weights, seed)
        label = name or (f"{net.name} ({'zero' if weights == 'zeros' else weights} weights, "
                         "exported to a temporary file)")
        return _run_file(path, batch, warmup, iters, provider, seed, expected, label)


def _run_file(path: str, batch: int, warmup: int, iters: int, provider: str, seed: int,
              expected: tuple[tuple[int, ...], ...] | None, label: str) -> RunResult:
    sess = open_session(path, provider)
    s = sess.session
    inputs = s.get_inputs()
    if len(inputs) != 1:
        raise error(f"{path} takes {len(inputs)} inputs ({', '.join(i.name for i in inputs[:4])}"
                    f"{', ...' if len(inputs) > 4 else ''}); archcalc runs models with one",
                    pos=SourcePos(path),
                    hint="a light export (weights none) has its weights as inputs: export with "
                         "--weights random or zeros", kind="usage")
    shape = _input_shape(inputs[0], batch, path)
    x = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    feeds = {inputs[0].name: x}
    outputs = s.run(None, feeds)
    for _ in range(warmup):
        s.run(None, feeds)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter_ns()
        s.run(None, feeds)
        times.append((time.perf_counter_ns() - t0) / 1e6)
    expected_from = "analyzer" if expected is not None else "model"
    if expected is None:
        expected = _declared_shapes(s, batch)
        expected_from = "model" if expected is not None else "nothing"
    result = RunResult(label, sess.provider, sess.note, batch, warmup, iters, shape,
                       tuple(tuple(o.shape) for o in outputs), expected, expected_from,
                       tuple(times))
    if expected is not None and result.shape_ok is False:
        from .onnx import VerificationError
        raise VerificationError(f"{label}: the output is "
                                f"{', '.join(_shape_text(o) for o in result.output_shapes)}, "
                                f"the {expected_from} says "
                                f"{', '.join(_shape_text(e) for e in expected)}")
    return result


def _input_shape(inp: Any, batch: int, path: str) -> tuple[int, ...]:
    dims = list(inp.shape)
    if not dims:
        raise error(f"the input {inp.name} is a scalar", SourcePos(path), kind="usage")
    if isinstance(dims[0], int) and dims[0] != batch:
        raise error(f"{path} has a fixed batch of {dims[0]}, not {batch}", OPTIONS,
                    hint=f"run it with --batch {dims[0]}", kind="usage")
    dims[0] = batch
    if not all(isinstance(d, int) and d > 0 for d in dims):
        raise error(f"the input {inp.name} has an unknown size {inp.shape}", SourcePos(path),
                    kind="usage")
    return tuple(dims)


def _declared_shapes(s: Any, batch: int) -> tuple[tuple[int, ...], ...] | None:
    shapes = []
    for out in s.get_outputs():
        dims = list(out.shape)
        if not dims or not all(isinstance(d, int) for d in dims[1:]):
            return None
        shapes.append((batch, *dims[1:]))
    return tuple(shapes)


__all__ = ["run", "RunResult", "open_session", "Session", "cuda_unavailable_reason", "PROVIDERS"]
