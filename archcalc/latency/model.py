"""The roofline prediction: per layer, FLOPs and bytes moved from the Report, and the time a
device needs for them. Pure arithmetic (no onnx, no onnxruntime): ``archcalc summary --device``
uses it. Definitions: docs/definitions.md ("Latency"), docs/latency.md.

    FLOPs     = 2 × MACs × batch                       (the Report's MACs: conv and fc only)
    bytes     = size(dtype) × (weights + buffers        (read once per batch)
                               + batch × Σ input elements   (read)
                               + batch × output elements    (written)
                               + batch × 4 × attention matrix)  (scores written, read by
                                 the softmax, its output written, read by the weighted sum)
    intensity = FLOPs / bytes
    time      = max(FLOPs / peak, bytes / bandwidth) / efficiency(kind) + overhead

A batch norm, activation or residual add that a runtime fuses into the conv before it (see
``epilogues``) is kind "epilogue": no bytes, no time of its own.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod

from ..analysis.conventions import default_macs
from ..report import LayerRow, Report
from .devices import KINDS, STORAGE, Device

POOLS = {"maxpool", "avgpool", "global_avgpool", "adaptive_avgpool", "global_maxpool"}
# what runtimes fold into the conv or fc before them (batch norm into its weights, the rest in
# its epilogue: onnxruntime, TensorRT, cuDNN, OpenVINO all do): see ``epilogues``
EPILOGUE_OPS = {"batchnorm", "relu", "relu6", "leaky_relu", "sigmoid", "hardsigmoid", "add"}
PRODUCERS = {"conv", "conv1x1", "depthwise", "fc", "epilogue"}
# no work at inference: a reshape (a view of its input) or the identity
VIEWS = {"flatten", "dropout", "tokens", "untokens", "take_token", "drop_path"}
# matrix products: a linear on every token, attention (its projections and two products)
MATMULS = {"fc", "linear", "attention"}


def kind_of(row: LayerRow, in_channels: int | None) -> str | None:
    """The op kind a layer's efficiency factor is fitted for: conv (k×k, k > 1), conv1x1,
    depthwise, fc (matrix products: fc, linear, attention), pool or elementwise (everything
    else that moves data); "view" for a layer that does no work at inference; None for the
    input."""
    op = row.op
    if op == "input":
        return None
    if op in VIEWS:
        return "view"
    if op == "dwconv":
        return "depthwise"
    if op in ("conv", "conv_transpose"):
        g = row.attrs.get("groups", 1)
        if g > 1 and in_channels is not None and g == in_channels:
            return "depthwise"
        return "conv1x1" if tuple(row.attrs.get("kernel", (1, 1))) == (1, 1) else "conv"
    if op in MATMULS:
        return "fc"
    if op in POOLS:
        return "pool"
    return "elementwise"


def epilogues(rows: Sequence[LayerRow], kinds: dict[str, str | None]) -> set[str]:
    """The layers a runtime fuses into the conv or fc before them: a batch norm, an activation
    (ReLU, ReLU6, leaky ReLU, sigmoid, hard sigmoid) or a residual add whose input is a conv,
    an fc or another such layer, that input read by nothing else (a batch norm only straight
    after a conv or fc). They move no bytes of their own and take no time: kind "epilogue",
    set in ``kinds`` (layer → :func:`kind_of`)."""
    readers: dict[str, int] = {}
    for r in rows:
        for s in r.inputs:
            readers[s] = readers.get(s, 0) + 1
    out: set[str] = set()
    for r in rows:
        if r.op not in EPILOGUE_OPS:
            continue
        ok = ("conv", "conv1x1", "depthwise", "fc") if r.op == "batchnorm" else PRODUCERS
        if any(readers.get(s) == 1 and kinds.get(s) in ok for s in r.inputs):
            out.add(r.name)
            kinds[r.name] = "epilogue"
    return out


@dataclass(frozen=True)
class LayerTime:
    name: str
    op: str
    kind: str
    flops: int
    bytes: int
    compute_s: float        # FLOPs / peak
    memory_s: float         # bytes / bandwidth
    time_s: float           # max of the two, over the efficiency, plus the overhead

    @property
    def intensity(self) -> float | None:
        return self.flops / self.bytes if self.bytes else None

    @property
    def bound(self) -> str:
        if self.kind in ("view", "epilogue"):
            return "-"
        return "compute" if self.compute_s >= self.memory_s else "memory"

    def to_dict(self) -> dict:
        return {"name": self.name, "op": self.op, "kind": self.kind, "flops": self.flops,
                "bytes": self.bytes, "intensity": self.intensity, "bound": self.bound,
                "compute_us": self.compute_s * 1e6, "memory_us": self.memory_s * 1e6,
                "time_us": self.time_s * 1e6}


@dataclass(frozen=True)
class Estimate:
    report: Report
    device: Device
    dtype: str              # the math dtype (fp32, tf32, fp16, bf16 or int8)
    layers: tuple[LayerTime, ...]

    @property
    def time_s(self) -> float:
        return sum(t.time_s for t in self.layers)

    @property
    def flops(self) -> int:
        return sum(t.flops for t in self.layers)

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.layers)

    def by_kind(self) -> dict[str, float]:
        """Seconds per op kind (the kinds that take time), largest first."""
        out: dict[str, float] = {}
        for t in self.layers:
            out[t.kind] = out.get(t.kind, 0.0) + t.time_s
        return dict(sorted(((k, v) for k, v in out.items() if v > 0), key=lambda kv: -kv[1]))

    def by_name(self) -> dict[str, LayerTime]:
        return {t.name: t for t in self.layers}

    def to_dict(self) -> dict:
        total = self.time_s
        return {"device": self.device.to_dict(), "dtype": self.dtype,
                "batch": self.report.settings.batch,
                "ridge_flops_per_byte": self.device.peak(self.dtype) / self.device.bandwidth,
                "layers": [t.to_dict() for t in self.layers],
                "totals": {"time_ms": total * 1e3, "flops": self.flops, "bytes": self.bytes,
                           "by_kind": {k: {"time_ms": v * 1e3,
                                           "share": v / total if total else 0.0}
                                       for k, v in self.by_kind().items()}}}


def estimate(report: Report, device: Device, dtype: str | None = None) -> Estimate:
    """The predicted time of every inference layer of ``report`` on ``device``. ``dtype``: the
    math dtype (default the report's storage dtype; tf32 needs a report at fp32). Layers that
    run only in training are left out."""
    dtype = dtype or report.settings.dtype
    size = STORAGE[dtype]
    peak, bw = device.peak(dtype), device.bandwidth
    batch = report.settings.batch
    vols = {row.name: row.output for row in report.layers}
    over = device.overhead_us * 1e-6
    rows = [r for r in report.layers if not r.train_only]
    kinds = {r.name: kind_of(r, vols[r.inputs[0]][2] if r.inputs else None) for r in rows}
    epilogues(rows, kinds)
    out = []
    for row in rows:
        kind = kinds[row.name]
        if kind is None:
            continue
        if kind in ("view", "epilogue"):        # no work of its own
            out.append(LayerTime(row.name, row.op, kind, 0, 0, 0.0, 0.0, 0.0))
            continue
        # the work done, whatever convention the report's MACs were counted under
        flops = 2 * default_macs(row, [vols[s] for s in row.inputs]) * batch
        moved = size * (row.params + row.buffers
                        + batch * (sum(prod(vols[s]) for s in row.inputs) + prod(row.output)
                                   + 4 * row.scratch))
        c, m = flops / peak, moved / bw
        eff = device.efficiency.get(kind, 1.0)
        out.append(LayerTime(row.name, row.op, kind, flops, moved, c, m, max(c, m) / eff + over))
    return Estimate(report, device, dtype, tuple(out))


__all__ = ["estimate", "Estimate", "LayerTime", "kind_of", "KINDS"]
