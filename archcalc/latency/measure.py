"""This machine measured through onnxruntime (CPU): the achievable peak of a matrix multiply and
the bandwidth of a large copy. ``archcalc calibrate`` fits its efficiencies on top of these;
``local-cpu`` without a calibration is the bare roofline they give (:func:`quick_local`)."""
from __future__ import annotations

import platform
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from .devices import LOCAL, Device

if TYPE_CHECKING:
    import onnx


def session(model: Any, threads: int | None = None) -> Any:
    """An onnxruntime CPU session of an ONNX model proto (its log limited to errors)."""
    from ..exporters.runtime import load_onnxruntime
    ort = load_onnxruntime()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])


def _median_time(sess: Any, feeds: dict[str, np.ndarray], repeats: int) -> float:
    sess.run(None, feeds)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    from onnx import helper
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def measure_peak(n: int = 1024, repeats: int = 10, threads: int | None = None) -> float:
    """FLOP/s of an n×n by n×n fp32 matrix multiply through onnxruntime (the median of
    ``repeats``)."""
    from onnx import TensorProto, helper
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])
    g = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["y"])], "peak", [a, b], [y])
    sess = session(_model(g), threads)
    rng = np.random.default_rng(0)
    x = {"a": rng.standard_normal((n, n), dtype=np.float32),
         "b": rng.standard_normal((n, n), dtype=np.float32)}
    return 2 * n ** 3 / _median_time(sess, x, repeats)


def measure_bandwidth(mib: int = 64, repeats: int = 10, threads: int | None = None) -> float:
    """Bytes/s of a large copy through onnxruntime: a ReLU over ``mib`` MiB of fp32 reads it
    and writes as much (median of ``repeats``)."""
    from onnx import TensorProto, helper
    n = mib * (1 << 20) // 4
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "copy", [x], [y])
    sess = session(_model(g), threads)
    feeds = {"x": np.random.default_rng(0).standard_normal(n, dtype=np.float32)}
    return 2 * n * 4 / _median_time(sess, feeds, repeats)


def quick_local() -> Device:
    """local-cpu before any calibration: peak and bandwidth measured now (about a second), the
    bare roofline (efficiency 1, no overhead)."""
    peak, bw = measure_peak(repeats=5), measure_bandwidth(repeats=5)
    return Device(LOCAL, f"this machine's CPU ({platform.processor() or platform.machine()})",
                  {"fp32": peak / 1e12}, bw / 1e9, 0.0, {},
                  "measured now by archcalc (onnxruntime MatMul and a large copy)", False,
                  "not calibrated: measured peak and bandwidth only (archcalc calibrate fits "
                  "the per-kind efficiencies and the overhead)")
