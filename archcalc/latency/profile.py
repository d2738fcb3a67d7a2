"""Measured time per layer: onnxruntime's own profiler times every node of an exported
network, and the nodes are mapped back to archcalc's layers.

The exporter names every node after its layer (helper nodes ``<layer>.<suffix>``); onnxruntime
keeps those names through its optimizations but fuses chains into one node named after one of
them (conv + batch norm + ReLU becomes one Conv named after the ReLU, or after the batch norm
when an Add and a ReLU are fused in as well) and adds a suffix (``_nchwc``). So a node maps to
the layer its name resolves to, and each layer that got no node of its own is put with the
node it was fused into: a conv, fc or pool with the first named layer down its chain of single
consumers, any other layer with its latest input's (the op whose output it post-processes).
Each row of the comparison is one such group. Nodes onnxruntime inserted itself (layout
reorders, copies between devices, nodes it named after their op type) are one row of their own;
a node whose name resolves to no layer is an unmapped row, counted and named, never dropped. See
docs/latency.md.
"""
from __future__ import annotations

import json
import os
import re
import statistics
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import OPTIONS, ArchcalcError, error
from ..ops.words import counted
from ..report import Report
from .model import Estimate, kind_of

if TYPE_CHECKING:
    from ..graph import Network

# op types onnxruntime inserts by itself (layout changes, copies between host and device)
RUNTIME_OPS = {"ReorderInput", "ReorderOutput", "MemcpyToHost", "MemcpyFromHost",
               "Transpose", "Cast"}
_SUFFIX = re.compile(r"(_nchwc|_token_\d+)+$")
ANCHORS = {"conv", "conv1x1", "depthwise", "fc", "pool"}


@dataclass(frozen=True)
class NodeTime:
    name: str               # the node's name in the optimized graph
    op_type: str
    provider: str
    median_us: float        # median over the timed runs (warm-up runs excluded)


@dataclass
class Group:
    """One row of the comparison: the layer a node was named after and the layers fused in."""
    key: str
    layers: list = field(default_factory=list)
    nodes: list = field(default_factory=list)

    @property
    def measured_us(self) -> float:
        return sum(n.median_us for n in self.nodes)


@dataclass(frozen=True)
class Profile:
    provider: str                      # "cpu" or "cuda"
    note: str | None                   # why the GPU was not used, when asked for or expected
    batch: int
    warmup: int
    iters: int
    nodes: tuple[NodeTime, ...]
    run_ms: tuple[float, ...]          # each timed run's wall time as onnxruntime recorded it

    @property
    def median_run_ms(self) -> float:
        return statistics.median(self.run_ms) if self.run_ms else 0.0


# ---------------------------------------------------------------------------------------------
# running with the profiler

def profile(net: Network, *, batch: int = 1, warmup: int = 3, iters: int = 20,
            provider: str = "auto", seed: int = 0, threads: int | None = None,
            weights: str = "random", path: str | None = None) -> Profile:
    """Export ``net`` (``weights``: random or zeros), or take the ONNX model at ``path`` as it
    is, run it ``warmup`` + ``iters`` times with onnxruntime's profiler on, and return each
    node's median time over the timed runs."""
    import numpy as np

    from ..exporters import onnx as onnx_export
    from ..exporters import runtime
    with tempfile.TemporaryDirectory(prefix="archcalc-profile-") as tmp:
        if path is None:
            # no bar of its own: calibrate shows one over its steps (one bar at a time)
            path = onnx_export.export(net, os.path.join(tmp, "model.onnx"), weights, seed,
                                      progress=False)

        def configure(opts: Any) -> None:       # onnxruntime's SessionOptions
            opts.enable_profiling = True
            opts.profile_file_prefix = os.path.join(tmp, "profile")
            if threads:
                opts.intra_op_num_threads = threads
        sess = runtime.open_session(path, provider, configure)
        s = sess.session
        inp = s.get_inputs()[0]
        h, w, c = net.input                      # (a model's dynamic sizes: the given input)
        dims = [d if isinstance(d, int) else v for d, v in zip(inp.shape[1:], (c, h, w))]
        shape = (batch, *dims)
        x = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
        feeds = {inp.name: x}
        for _ in range(1 + warmup + iters):     # the first run (allocations) is a warm-up too
            s.run(None, feeds)
        with open(s.end_profiling(), encoding="utf-8") as fh:
            events = json.load(fh)
    return parse_events(events, 1 + warmup, iters, sess.provider, sess.note, batch, warmup)


def parse_events(events: list, skip: int, iters: int, provider: str = "cpu",
                 note: str | None = None, batch: int = 1, warmup: int = 0) -> Profile:
    """onnxruntime's profile (a list of trace events) → per-node medians over the runs after
    the first ``skip``. Node events are assigned to the run (``model_run`` event) they fall in."""
    runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events
                  if e.get("cat") == "Session" and e.get("name") == "model_run")
    timed = runs[skip:skip + iters]
    per: dict[str, list[float]] = {}
    info: dict[str, tuple[str, str]] = {}
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        if not any(a <= e["ts"] <= b for a, b in timed):
            continue
        name = e["name"][:-len("_kernel_time")]
        per.setdefault(name, []).append(float(e["dur"]))
        args = e.get("args", {})
        info[name] = (args.get("op_name", "?"), args.get("provider", "?"))
    nodes = tuple(NodeTime(n, info[n][0], info[n][1], statistics.median(ts))
                  for n, ts in per.items())
    return Profile(provider, note, batch, warmup, len(timed), nodes,
                   tuple((b - a) / 1e3 for a, b in timed))


# ---------------------------------------------------------------------------------------------
# nodes → layers

def base_name(node: str) -> str:
    """A profiled node's name without onnxruntime's prefix ("fused ") and suffixes."""
    return _SUFFIX.sub("", node[len("fused "):] if node.startswith("fused ") else node)


def renamed(prof: Profile, aliases: dict[str, str]) -> Profile:
    """``prof`` with each node named after the layer ``aliases`` gives its (base) name: an
    imported ONNX model's node names are not its layers' (archcalc.onnx_import records which
    node went into which layer)."""
    from dataclasses import replace
    keys = set(aliases)

    def layer(name: str) -> str:
        key = resolve(name, keys)        # onnxruntime's suffixes: _nchwc, /QuickGeluFusion/
        return aliases[key] if key is not None else name
    return replace(prof, nodes=tuple(replace(n, name=layer(n.name)) for n in prof.nodes))


def resolve(node: str, names: set[str]) -> str | None:
    """The layer a node's name stands for: the name itself without onnxruntime's prefix
    ("fused ") and suffixes ("_nchwc"), or the longest layer name it starts with followed by
    a separator (archcalc's helper nodes ``<layer>.<suffix>``, onnxruntime's
    ``<layer>/QuickGeluFusion/``, ``<layer>_bn``)."""
    base = base_name(node)
    if base in names:
        return base
    best = None
    for i, c in enumerate(base):         # the longest layer name followed by a separator
        if c in "./_ " and base[:i] in names:
            best = base[:i]
    return best


def inserted(n: NodeTime) -> bool:
    """A node onnxruntime made itself: a layout or copy op, or a node named after its own op
    type as onnxruntime names the nodes it creates (``Reshape_token_49``, ``HardSigmoid_227``:
    archcalc names every node after a layer)."""
    return n.op_type in RUNTIME_OPS or re.fullmatch(
        re.escape(n.op_type) + r"(_token)?(_\d+)*", n.name) is not None


@dataclass
class Mapping:
    groups: list[Group]                 # in the layers' order
    runtime: list[NodeTime]             # nodes onnxruntime inserted
    unmapped: list[NodeTime]            # nodes that resolve to no layer
    unmeasured: list[str]               # layers with no node (the runtime removed them)


def map_nodes(report: Report, nodes: Iterable[NodeTime],
              estimate: Estimate | None = None) -> Mapping:
    """Group ``nodes`` (NodeTime) by the layers they ran (see the module's docstring)."""
    rows = [r for r in report.layers if not r.train_only and r.op != "input"]
    order = {r.name: i for i, r in enumerate(rows)}
    names = set(order)
    vols = {r.name: r.output for r in report.layers}
    groups: dict[str, Group] = {}
    runtime: list[NodeTime] = []
    unmapped: list[NodeTime] = []
    for n in nodes:
        layer = resolve(n.name, names)
        if layer is None:
            (runtime if inserted(n) else unmapped).append(n)
            continue
        groups.setdefault(layer, Group(layer)).nodes.append(n)
    home = {k: k for k in groups}
    consumers: dict[str, list[str]] = {}
    for r in rows:
        for s in r.inputs:
            consumers.setdefault(s, []).append(r.name)
    kinds = {r.name: kind_of(r, vols[r.inputs[0]][2] if r.inputs else None) for r in rows}
    for r in rows:                      # a fused conv / fc / pool: down its chain
        if r.name in home or kinds[r.name] not in ANCHORS:
            continue
        cur, seen = r.name, 0
        while cur not in home and len(consumers.get(cur, ())) == 1 and seen < 16:
            cur, seen = consumers[cur][0], seen + 1
        if cur in home:
            home[r.name] = home[cur]
    for r in rows:                      # any other fused layer: with its latest input's
        if r.name in home:
            continue
        ins = [s for s in r.inputs if s in home]
        if ins:
            home[r.name] = home[max(ins, key=order.__getitem__)]
    unmeasured = []
    for r in rows:
        if r.name in home:
            groups[home[r.name]].layers.append(r.name)
        elif kinds[r.name] != "view":
            unmeasured.append(r.name)
    ordered = sorted(groups.values(), key=lambda g: order[g.key])
    for g in ordered:
        g.layers.sort(key=order.__getitem__)
    return Mapping(ordered, runtime, unmapped, unmeasured)


# ---------------------------------------------------------------------------------------------
# prediction and measurement side by side

@dataclass(frozen=True)
class Row:
    label: str                  # the named layer, with those fused into it
    layers: tuple[str, ...]
    kind: str
    predicted_us: float | None
    measured_us: float | None

    @property
    def error(self) -> float | None:
        """(predicted − measured) / measured, or None where either is missing."""
        if self.predicted_us is None or not self.measured_us:
            return None
        return (self.predicted_us - self.measured_us) / self.measured_us


@dataclass(frozen=True)
class Comparison:
    profile: Profile
    estimate: Estimate | None
    rows: tuple[Row, ...]
    unmapped: tuple[NodeTime, ...]

    @property
    def measured_ms(self) -> float:
        """The sum of every node's median (mapped, inserted by the runtime, unmapped)."""
        return sum(r.measured_us or 0 for r in self.rows) / 1e3

    @property
    def predicted_ms(self) -> float | None:
        return None if self.estimate is None else self.estimate.time_s * 1e3

    @property
    def total_error(self) -> float | None:
        if self.predicted_ms is None or not self.measured_ms:
            return None
        return (self.predicted_ms - self.measured_ms) / self.measured_ms

    @property
    def median_abs_error(self) -> float | None:
        errs = [abs(r.error) for r in self.rows if r.error is not None]
        return statistics.median(errs) if errs else None

    def dominant(self, n: int = 5) -> list[Row]:
        return sorted((r for r in self.rows if r.measured_us),
                      key=lambda r: -(r.measured_us or 0.0))[:n]

    def to_dict(self) -> dict:
        p = self.profile
        return {"provider": p.provider, "provider_note": p.note, "batch": p.batch,
                "warmup": p.warmup, "iters": p.iters, "median_run_ms": p.median_run_ms,
                "device": None if self.estimate is None else self.estimate.device.to_dict(),
                "rows": [{"label": r.label, "layers": list(r.layers), "kind": r.kind,
                          "predicted_us": r.predicted_us, "measured_us": r.measured_us,
                          "error": r.error} for r in self.rows],
                "unmapped": [{"node": n.name, "op_type": n.op_type, "median_us": n.median_us}
                             for n in self.unmapped],
                "totals": {"measured_ms": self.measured_ms, "predicted_ms": self.predicted_ms,
                           "error": self.total_error,
                           "median_abs_layer_error": self.median_abs_error}}


def compare(report: Report, prof: Profile, est: Estimate | None) -> Comparison:
    m = map_nodes(report, prof.nodes, est)
    pred = est.by_name() if est is not None else {}
    rows = []
    for g in m.groups:
        fused = [x for x in g.layers if x != g.key]
        label = g.key + (f" (+{len(fused)}: {', '.join(fused)})" if fused else "")
        kind = pred[g.key].kind if g.key in pred else ""
        anchor = next((pred[x].kind for x in g.layers if x in pred and pred[x].kind in ANCHORS),
                      kind)
        p = sum(pred[x].time_s for x in g.layers if x in pred) * 1e6 if est else None
        rows.append(Row(label, tuple(g.layers), anchor, p, g.measured_us))
    for name in m.unmeasured:
        p = pred[name].time_s * 1e6 if name in pred else None
        rows.append(Row(f"{name} (no node: removed by the runtime)", (name,),
                        pred[name].kind if name in pred else "", p, None))
    if m.runtime:
        rows.append(Row(f"(inserted by onnxruntime: {counted(len(m.runtime), 'node')}, "
                        f"{', '.join(sorted({n.op_type for n in m.runtime}))})", (), "runtime",
                        None, sum(n.median_us for n in m.runtime)))
    if m.unmapped:
        rows.append(Row(f"(UNMAPPED: {counted(len(m.unmapped), 'node')}: "
                        f"{', '.join(n.name for n in m.unmapped[:8])}"
                        f"{', …' if len(m.unmapped) > 8 else ''})", (), "unmapped",
                        None, sum(n.median_us for n in m.unmapped)))
    return Comparison(prof, est, tuple(rows), tuple(m.unmapped))


def unmapped_error(c: Comparison) -> ArchcalcError:
    """The error raised when ``strict`` and some nodes map to no layer."""
    names = ", ".join(n.name for n in c.unmapped[:10])
    return error(f"{len(c.unmapped)} profiled node{'s' * (len(c.unmapped) != 1)} map to no "
                 f"layer: {names}{', …' if len(c.unmapped) > 10 else ''}", OPTIONS,
                 hint="the model was not exported by archcalc from this spec, or onnxruntime "
                      "renamed its nodes; their time is in the UNMAPPED row", kind="spec")
