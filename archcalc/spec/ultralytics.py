"""Ultralytics model YAML (YOLOv8, YOLO11 detection) → a :class:`~archcalc.graph.Network`
(docs/spec-languages.md, "Ultralytics model YAML").

An Ultralytics model file is a mapping with ``nc:`` (classes), ``scales:`` ({n, s, m, l, x:
[depth, width, max_channels]}) and two lists, ``backbone:`` and ``head:``, of rows ``[from,
repeats, module, args]``. It is recognised by its ``backbone:`` and ``head:`` keys. Each module
is written here once, in archcalc's ops, as Ultralytics' ``ultralytics.nn.modules`` builds it,
and every layer is named as the PyTorch module it stands for (``model.2.m.0.cv1.conv``), so a
forward hook finds it. The rows are read as ``ultralytics.nn.tasks.parse_model`` reads them:

* width: a module's output channels are ``make_divisible(min(c2, max_channels) · width, 8)``
  (rounded **up** to a multiple of 8, Ultralytics' own ``make_divisible``, not torchvision's);
* depth: ``repeats`` n becomes ``max(round(n · depth), 1)`` where n > 1 (Python's round);
* the scale is ``--set scale=s``, else the one the file's name says (``yolov8s.yaml``, as
  Ultralytics guesses it), else the first of ``scales:`` with a warning, as Ultralytics does;
  ``--set depth=…``, ``width=…``, ``max_channels=…`` and ``nc=…`` override it (a sweep varies
  them);
* ``from`` is -1 (the previous row), a row's index, a negative index counted back from the row,
  or a list of them (Concat, Detect).

Nothing here computes a figure: the layers' own ops do (docs/definitions.md).
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from typing import Any

from ..errors import OPTIONS, ArchcalcError, Diagnostic, SourcePos, error
from ..graph import Builder, Network
from ..ops import OPS, At
from ..ops.values import Vol, as_written, near
from ..settings import BUILTINS
from .yaml.compose import YList, YMap

__all__ = ["looks_like_ultralytics", "is_ultralytics", "parse_ultralytics", "make_divisible",
           "MODULES", "PARAMETERS", "DEFAULT_INPUT"]

DEFAULT_INPUT = (640, 640, 3)          # Ultralytics' imgsz 640, ch 3
PARAMETERS = ("scale", "depth", "width", "max_channels", "nc")
TOP_KEYS = ("nc", "scales", "backbone", "head", "depth_multiple", "width_multiple",
            "activation", "ch", "channels", "reg_max", "end2end", "scale", "kpt_shape",
            "yaml_file")
_BACKBONE = re.compile(r"^backbone\s*:", re.M)
_HEAD = re.compile(r"^head\s*:", re.M)
_SCALE_IN_NAME = re.compile(r"yolo(e-)?v?\d+([nslmx])")

# the activations ``activation:`` may name (Conv.default_act): archcalc's op and its attributes
_ACTIVATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "SiLU": ("silu", {}), "ReLU": ("relu", {}), "ReLU6": ("relu6", {}),
    "LeakyReLU": ("leaky_relu", {}), "Hardswish": ("hardswish", {}), "GELU": ("gelu", {}),
    "Sigmoid": ("sigmoid", {}), "Tanh": ("tanh", {}), "ELU": ("elu", {}),
}


def make_divisible(x: float, divisor: int = 8) -> int:
    """Ultralytics' ``make_divisible``: the smallest multiple of ``divisor`` not below ``x``."""
    return math.ceil(x / divisor) * divisor


def looks_like_ultralytics(text: str) -> bool:
    """Whether spec text looks like an Ultralytics model file: top-level ``backbone:`` and
    ``head:`` keys (an archcalc YAML spec has neither)."""
    return bool(_BACKBONE.search(text) and _HEAD.search(text))


def is_ultralytics(spec: Any) -> bool:
    """Whether a composed YAML document is an Ultralytics model file."""
    return isinstance(spec, YMap) and "backbone" in spec and "head" in spec and \
        "layers" not in spec


# ---------------------------------------------------------------------------------------------
# the module vocabulary: the YAML arguments each module takes after its output channels

class Arg:
    """One argument of a module as a YAML row writes it: its name, its kind and its default."""

    def __init__(self, name: str, kind: str, default: Any):
        self.name, self.kind, self.default = name, kind, default


def _sig(*args: tuple[str, str, Any]) -> tuple[Arg, ...]:
    return tuple(Arg(*a) for a in args)


# module → (takes c2 first and is width-scaled, takes a repeat count, its other arguments)
MODULES: dict[str, tuple[bool, bool, tuple[Arg, ...]]] = {
    "Conv": (True, False, _sig(("k", "int", 1), ("s", "int", 1), ("p", "int?", None),
                               ("g", "int", 1), ("d", "int", 1), ("act", "bool", True))),
    "DWConv": (True, False, _sig(("k", "int", 1), ("s", "int", 1), ("d", "int", 1),
                                 ("act", "bool", True))),
    "Bottleneck": (True, False, _sig(("shortcut", "bool", True), ("g", "int", 1),
                                     ("k", "pair2", (3, 3)), ("e", "float", 0.5))),
    "C3": (True, True, _sig(("shortcut", "bool", True), ("g", "int", 1), ("e", "float", 0.5))),
    "C2f": (True, True, _sig(("shortcut", "bool", False), ("g", "int", 1), ("e", "float", 0.5))),
    "C3k2": (True, True, _sig(("c3k", "bool", False), ("e", "float", 0.5), ("attn", "bool", False),
                              ("g", "int", 1), ("shortcut", "bool", True))),
    "SPPF": (True, False, _sig(("k", "int", 5), ("n", "int", 3), ("shortcut", "bool", False))),
    "C2PSA": (True, True, _sig(("e", "float", 0.5),)),
    "Concat": (False, False, _sig(("dimension", "int", 1),)),
    "nn.Upsample": (False, False, _sig(("size", "int?", None), ("scale_factor", "number?", None),
                                       ("mode", "str", "nearest"))),
    "Detect": (False, False, _sig(("nc", "int", None),)),
}
# modules Ultralytics builds inside others: a row cannot name them (parse_model passes their
# arguments unscaled, without the input channels)
INNER = {"C3k": "C3k2 (c3k: true, or any C3k2 at scales m, l and x)",
         "PSABlock": "C2PSA (or C3k2 with attn: true)", "Attention": "C2PSA's PSABlock",
         "DFL": "Detect"}
# heads and modules of other tasks and versions, not read yet
LATER = ("Segment", "Pose", "OBB", "Classify", "v10Detect", "WorldDetect", "YOLOEDetect",
         "RTDETRDecoder", "A2C2f", "C2fCIB", "PSA", "SCDown", "SPP", "GhostConv", "C2fAttn",
         "RepNCSPELAN4", "ADown", "ELAN1", "AConv", "SPPELAN", "Segment26", "Pose26", "OBB26")


# ---------------------------------------------------------------------------------------------
# reading the file

class _Reader:
    """The top-level values of an Ultralytics file with their places; every problem is one
    located diagnostic."""

    def __init__(self, spec: YMap, file: str):
        self.spec, self.file = spec, file

    def at(self, key: str) -> SourcePos:
        return self.spec.where.get(key, self.spec.pos)

    def whole(self, key: str, default: int | None, least: int = 1) -> int | None:
        if key not in self.spec:
            return default
        v = self.spec[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < least:
            raise error(f"{key} must be a whole number ≥ {least}, got {as_written(v)}",
                        self.at(key), hint=f"e.g. {key}: {default or 80}")
        return v

    def number(self, key: str, default: float) -> float:
        if key not in self.spec:
            return default
        v = self.spec[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise error(f"{key} must be a positive number, got {as_written(v)}", self.at(key),
                        hint=f"e.g. {key}: 1.0")
        return float(v)


def _scale_row(scales: YMap, name: str) -> tuple[float, float, int]:
    row, pos = scales[name], scales.where[name]
    ok = isinstance(row, list) and len(row) == 3 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in row) and \
        float(row[2]).is_integer()
    if not ok:
        raise error(f"scale {name!r} must be [depth, width, max_channels], got "
                    f"{as_written(row)}", pos, hint=f"e.g. {name}: [0.33, 0.25, 1024]")
    return float(row[0]), float(row[1]), int(row[2])


def _setting(settings: dict[str, Any], key: str) -> Any:
    """A --set value of one of the file's parameters, checked (kind "usage")."""
    v = settings[key]
    if key == "scale":
        if not isinstance(v, str):
            raise error(f"--set scale: a scale is a name such as n or s, got {as_written(v)}",
                        OPTIONS, kind="usage", hint="e.g. --set scale=s")
        return v
    if key in ("max_channels", "nc"):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise error(f"--set {key}: a whole number ≥ 1, got {as_written(v)}", OPTIONS,
                        kind="usage", hint=f"e.g. --set {key}={1024 if key != 'nc' else 80}")
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
        raise error(f"--set {key}: a positive number, got {as_written(v)}", OPTIONS,
                    kind="usage", hint=f"e.g. --set {key}={0.5}")
    return float(v)


def parse_ultralytics(spec: YMap, file: str, input: Vol | None = None, name: str | None = None,
                      default_name: str | None = None, settings: dict[str, Any] | None = None,
                      rounding: str | None = None) -> Network:
    """An Ultralytics model file (composed: :func:`archcalc.spec.yaml.compose`) → Network.
    ``settings``: ``--set`` values (``scale``, ``depth``, ``width``, ``max_channels``, ``nc`` and
    the built-ins); ``input`` (an option's) replaces 640×640×ch; ``rounding`` replaces floor
    (PyTorch's)."""
    settings = dict(settings or {})
    unknown = [k for k in settings if k not in PARAMETERS and k not in BUILTINS]
    if unknown:
        raise ArchcalcError([Diagnostic(
            "error", f"the spec declares no parameter {k!r}", OPTIONS,
            near(k, PARAMETERS + BUILTINS) + "an Ultralytics model's parameters: "
            + ", ".join(PARAMETERS) + "; built-in: " + ", ".join(BUILTINS)) for k in unknown],
            "usage")
    for k in PARAMETERS:
        if k in settings:
            settings[k] = _setting(settings, k)
    r = _Reader(spec, file)
    warnings: list[Diagnostic] = []
    for key in spec:
        if key not in TOP_KEYS:
            warnings.append(Diagnostic(
                "warning", f"top-level key {key!r} is not read", spec.key_at[key],
                near(key, TOP_KEYS) + "archcalc reads " + ", ".join(TOP_KEYS[:7])))
    stem = (default_name or (os.path.splitext(os.path.basename(file))[0]
                             if not file.startswith("<") else "")) or "network"
    # the scale: --set, else the file's name, else the first (with Ultralytics' warning)
    scales = spec.get("scales")
    depth = r.number("depth_multiple", 1.0)
    width = r.number("width_multiple", 1.0)
    max_channels: int | None = None
    scale: str | None = None
    if scales is not None:
        if not isinstance(scales, YMap) or not scales:
            raise error("scales must map each scale's name to [depth, width, max_channels]",
                        r.at("scales"), hint="scales: {n: [0.33, 0.25, 1024], s: [0.33, 0.5, "
                        "1024]}")
        named = _SCALE_IN_NAME.search(stem)
        if "scale" in settings:
            scale = settings["scale"]
            if scale not in scales:
                raise error(f"--set scale={scale}: the spec has no scale {scale!r}", OPTIONS,
                            kind="usage", hint=near(scale, list(scales)) + "its scales: "
                            + ", ".join(scales) + f" (e.g. --set scale={next(iter(scales))})")
        elif isinstance(spec.get("scale"), str) and spec["scale"] in scales:
            scale = spec["scale"]
        elif named and named.group(2) in scales:
            scale = named.group(2)
        else:
            scale = next(iter(scales))
            if named:
                warnings.append(Diagnostic(
                    "warning", f"the file's name says scale {named.group(2)!r}, which the spec "
                    f"does not define: assuming scale={scale!r}", r.at("scales"),
                    "pick one with --set scale=… (scales: " + ", ".join(scales) + ")"))
            else:
                warnings.append(Diagnostic(
                    "warning", f"no model scale given: assuming scale={scale!r}, the first (as "
                    "Ultralytics does)", spec.key_at["scales"],
                    "pick one with --set scale=… (scales: " + ", ".join(scales) + ")"))
        depth, width, max_channels = _scale_row(scales, scale)
    elif "scale" in settings:
        raise error(f"--set scale={settings['scale']}: the spec defines no scales", OPTIONS,
                    kind="usage", hint="set depth and width instead (--set depth=0.33 --set "
                    "width=0.25)")
    depth = settings.get("depth", depth)
    width = settings.get("width", width)
    max_channels = settings.get("max_channels", max_channels)
    nc = settings.get("nc", r.whole("nc", None))
    reg_max = r.whole("reg_max", 16)
    assert reg_max is not None
    ch = r.whole("ch", None) or r.whole("channels", 3)
    assert ch is not None
    if spec.get("end2end"):
        raise error("end2end heads (YOLOv10, YOLO26: one-to-one and one-to-many branches) are "
                    "not read yet", spec.key_at["end2end"],
                    hint="archcalc reads YOLOv8 and YOLO11 detection models")
    act = _activation(spec)
    vol = input or (DEFAULT_INPUT[0], DEFAULT_INPUT[1], ch)
    if "res" in settings:
        vol = (settings["res"], settings["res"], vol[2])
    letter = _SCALE_IN_NAME.search(stem)
    if name:
        net_name = name
    elif scale and re.fullmatch(r"yolo(e-)?v?\d+", stem):
        net_name = stem + scale                             # yolov8 at scale s: yolov8s
    elif scale and letter:                                  # yolov8s.yaml at scale m: yolov8m
        net_name = stem[:letter.start(2)] + scale + stem[letter.end(2):]
    elif scale:
        net_name = f"{stem}-{scale}"
    else:
        net_name = stem
    b = Builder(net_name, vol, spec.pos)
    b.warnings.extend(warnings)
    e = _Emitter(b, act, spec, file, rounding or "floor")
    e.rows(depth, width, max_channels, nc, reg_max, scale)
    params: dict[str, Any] = {}
    if scale is not None:
        params["scale"] = scale
    params.update(depth=depth, width=width, max_channels=max_channels, nc=nc)
    # DFL's join pads each level's anchors by the others' counts: another input size is read anew
    return b.build(rounding or "floor", file, "ultralytics", params=params,
                   size_dependent=e.size_read)


def _activation(spec: YMap) -> tuple[str, dict[str, Any]]:
    """Conv's activation: SiLU, or the file's ``activation:`` (``nn.ReLU()``,
    ``nn.LeakyReLU(0.1)``)."""
    raw = spec.get("activation")
    if raw is None:
        return ("silu", {})
    m = re.fullmatch(r"\s*(?:torch\.)?(?:nn\.)?(\w+)\s*\(\s*([0-9.eE+-]*)\s*(?:,\s*\w+\s*=\s*\w+"
                     r"\s*)?\)\s*", str(raw))
    if not m or m.group(1) not in _ACTIVATIONS:
        raise error(f"activation {as_written(raw)} is not one archcalc knows",
                    spec.where["activation"], hint="activation: nn.SiLU(), nn.ReLU(), "
                    "nn.LeakyReLU(0.1), nn.ReLU6(), nn.Hardswish(), nn.GELU(), nn.Sigmoid(), "
                    "nn.Tanh() or nn.ELU()")
    op, attrs = _ACTIVATIONS[m.group(1)]
    if m.group(2):
        if op != "leaky_relu":
            raise error(f"{m.group(1)} takes no argument here", spec.where["activation"],
                        hint=f"activation: nn.{m.group(1)}()")
        attrs = {"slope": float(m.group(2))}
    return (op, attrs)


# ---------------------------------------------------------------------------------------------
# the rows, and each module as archcalc's ops

class _Emitter:
    def __init__(self, b: Builder, act: tuple[str, dict[str, Any]], spec: YMap, file: str,
                 rounding: str):
        self.b, self.act, self.spec, self.file, self.rounding = b, act, spec, file, rounding
        self.legacy = True          # Detect's class branch as YOLOv8's (until a C3k2: YOLO11's)
        self.size_read = False      # a layer's attributes follow from the input's size
        self.heads: set[int] = set()    # the rows that are Detect heads
        self.pos = spec.pos

    # --- the rows -------------------------------------------------------------------------

    def rows(self, depth: float, width: float, max_channels: int | None, nc: int | None,
             reg_max: int, scale: str | None) -> None:
        spec, b = self.spec, self.b
        rows: list[tuple[Any, SourcePos]] = []
        for part in ("backbone", "head"):
            items = spec[part]
            if not isinstance(items, YList):
                raise error(f"{part} must be a list of rows [from, repeats, module, args]",
                            spec.where[part], hint=f"{part}:\n  - [-1, 1, Conv, [64, 3, 2]]")
            rows.extend(zip(items, items.where))
        if not rows:
            raise error("backbone and head hold no rows", spec.pos,
                        hint="backbone:\n  - [-1, 1, Conv, [64, 3, 2]]")
        outs: list[str] = []           # each row's output layer
        chs: list[int] = []            # each row's output channels (parse_model's ch)
        detect: list[str] = []         # Detect's outputs: the network's
        for i, (row, pos) in enumerate(rows):
            if not isinstance(row, YList) or len(row) != 4:
                raise error(f"row {i} must be [from, repeats, module, args], got "
                            f"{as_written(row)}", pos,
                            hint="e.g. - [-1, 1, Conv, [64, 3, 2]]")
            f, n, module, args = row
            fpos, npos, mpos, apos = row.where
            srcs, cins = self._sources(i, f, fpos, outs, chs)
            if isinstance(n, float) and n.is_integer():
                n = int(n)
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise error(f"row {i}: repeats must be a whole number ≥ 1, got {as_written(n)}",
                            npos, hint="e.g. - [-1, 3, C2f, [128, True]]")
            if not isinstance(module, str):
                raise error(f"row {i}: the module is a name, got {as_written(module)}", mpos,
                            hint="modules: " + ", ".join(MODULES))
            if module not in MODULES:
                raise self._unknown(i, module, mpos)
            if args is None:
                args = YList()
                args.pos, args.where = apos, []
            if not isinstance(args, YList):
                raise error(f"row {i}: args must be a list, got {as_written(args)}", apos,
                            hint="e.g. [64, 3, 2] (write [] for none)")
            n = max(round(n * depth), 1) if n > 1 else n
            pos = mpos                  # the row's layers are placed at its module's name
            values = self._args(i, module, args, apos, nc)
            if module == "SPPF":        # parse_model: rows of up to [c2, k] activate cv1
                values.append(len(args) <= 2)
            scaled, repeated, _ = MODULES[module]
            prefix = f"model.{i}"
            if not repeated and n > 1 and module in ("Concat", "Detect"):
                raise error(f"row {i}: {module} is not repeated (repeats must be 1)", npos)
            if module not in ("Concat", "Detect") and len(srcs) != 1:
                raise error(f"row {i}: {module} reads one input, but from lists {len(srcs)}",
                            fpos, hint="from is -1 (the previous row) or one row's index; "
                            "Concat merges several")
            c1 = cins[0]
            c2 = c1
            if scaled:
                c2 = values.pop(0)
                c2 = make_divisible(min(c2, max_channels) * width if max_channels else
                                    c2 * width, 8)
            if module == "C3k2":
                self.legacy = False
                if scale in ("m", "l", "x"):       # parse_model: c3k at the larger scales
                    values[0] = True
            if repeated:
                out = self.module(module, prefix, srcs[0], c1, c2, values, n, pos)
            elif module == "Concat":
                out, c2 = self.concat(prefix, srcs, pos), sum(cins)
            elif module == "Detect":
                if values[0] is None:
                    raise error(f"row {i}: Detect needs the number of classes: nc: 80 at the "
                                "top of the file, or Detect's argument", apos,
                                hint="add nc: 80 (or write [nc] as Detect's args with nc set)")
                got = self.detect(prefix, srcs, cins, values[0], reg_max, pos)
                detect.extend(got)
                self.heads.add(i)
                out = got[-1]
            elif n > 1:                     # nn.Sequential of n modules: model.i.0, model.i.1, …
                src, cin = srcs[0], c1
                scope = (prefix,)
                for j in range(n):
                    src = self.module(module, f"{prefix}.{j}", src, cin, c2, values, 1, pos,
                                      scope=scope)
                    cin = c2
                out = src
            else:
                out = self.module(module, prefix, srcs[0], c1, c2, values, 1, pos)
            if module != "Detect":
                b.block_outputs[prefix] = out
            outs.append(out)
            chs.append(c2)
        if detect:
            b.outputs = detect

    def _sources(self, i: int, f: Any, pos: SourcePos, outs: list[str], chs: list[int]
                 ) -> tuple[list[str], list[int]]:
        """The layers (and their channels) a row's ``from`` names."""
        items = f if isinstance(f, list) else [f]
        if not items:
            raise error(f"row {i}: from lists no row", pos, hint="from is -1 (the previous row)")
        srcs, cins = [], []
        places = f.where if isinstance(f, YList) else [pos] * len(items)
        for x, pos in zip(items, places):
            if isinstance(x, bool) or not isinstance(x, int):
                raise error(f"row {i}: from takes row indices, got {as_written(x)}", pos,
                            hint="-1 is the previous row; 4 is row 4; [-1, 6] two rows")
            j = i + x if x < 0 else x
            if x == -1 and i == 0:
                srcs.append("input")
                cins.append(self.b.input[2])
                continue
            if j in self.heads:
                raise error(f"row {i}: from {x} reads Detect (row {j}), whose outputs are the "
                            "network's", pos, hint="Detect is the last row; read the rows it "
                            "reads instead")
            if not 0 <= j < i:
                last = f"0–{i - 1}" if i > 1 else "0"
                raise error(f"row {i}: from {x} is out of range: row {i} reads the rows before "
                            "it" + (f" ({last}, or -1 … -{i} counted back)" if i else
                                    " (row 0 reads the input: -1)"), pos,
                            hint="rows are numbered from 0 over backbone then head; -1 is the "
                            "previous row" + (f"; did you mean {i - 1}?" if x == i else ""))
            srcs.append(outs[j])
            cins.append(chs[j])
        return srcs, cins

    def _unknown(self, i: int, module: str, pos: SourcePos) -> ArchcalcError:
        if module in INNER:
            return error(f"row {i}: {module} is built inside {INNER[module]}, not as a row of "
                         "its own", pos, hint="write the module that holds it; rows take: "
                         + ", ".join(MODULES))
        if module in LATER or module.removeprefix("nn.") in LATER:
            return error(f"row {i}: archcalc does not read Ultralytics' {module} yet", pos,
                         hint="it reads detection models (YOLOv8, YOLO11); rows take: "
                         + ", ".join(MODULES))
        known = list(MODULES) + list(INNER)
        guess = near(module, known) or near("nn." + module, known)
        return error(f"row {i}: unknown module {module!r}", pos,
                     hint=guess + "modules: " + ", ".join(MODULES))

    def _args(self, i: int, module: str, args: YList, pos: SourcePos, nc: int | None
              ) -> list[Any]:
        """A row's arguments resolved (``nc``, ``None``, ``True``) and checked against the
        module's signature, with the defaults after them: [c2, …] for width-scaled modules."""
        scaled, _, sig = MODULES[module]
        full = ((Arg("c2", "int", None),) if scaled else ()) + sig
        if module == "Detect":
            full = sig
        need = 1 if scaled else 0
        if len(args) > len(full) or len(args) < need:
            names = ", ".join(a.name for a in full)
            many = f"{need} to {len(full)}" if need else f"at most {len(full)}"
            at = args.where[len(full)] if len(args) > len(full) else pos
            raise error(f"row {i}: {module} takes {many} argument{'s' * (len(full) != 1)} "
                        f"({names}), got {len(args)}", at, hint=f"{module}'s args: [{names}]")
        out: list[Any] = []
        for k, a in enumerate(full):
            if k >= len(args):
                out.append(nc if (module == "Detect" and a.name == "nc") else a.default)
                continue
            v, at = args[k], args.where[k]
            if isinstance(v, str):
                word = v.strip()
                if word == "nc":
                    v = nc
                    if nc is None:
                        raise error(f"row {i}: {module} reads nc, which the file does not set",
                                    at, hint="add nc: 80 at the top of the file")
                elif word in ("None", "null"):
                    v = None
                elif word in ("True", "False"):
                    v = word == "True"
                elif re.fullmatch(r"[-+]?\d+", word):
                    v = int(word)
                elif re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", word):
                    v = float(word)
            out.append(self._check(i, module, a, v, at))
        return out

    def _check(self, i: int, module: str, a: Arg, v: Any, at: SourcePos) -> Any:
        kind = a.kind
        if v is None and kind.endswith("?"):
            return None
        base = kind.rstrip("?")
        bad = None
        if base == "int":
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if a.name == "p" else 1):
                bad = "a whole number" + (" ≥ 0" if a.name == "p" else " ≥ 1")
        elif base == "bool":
            if not isinstance(v, bool):
                bad = "True or False"
        elif base in ("float", "number"):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                bad = "a positive number"
        elif base == "pair2":
            pair = v if isinstance(v, list) else [v, v]
            if len(pair) != 2 or not all(isinstance(x, int) and not isinstance(x, bool)
                                         and x >= 1 for x in pair):
                bad = "a kernel size or [k1, k2]"
            else:
                v = tuple(pair)
        elif base == "str":
            if not isinstance(v, str):
                bad = "a word"
        if bad is not None:
            scaled, _, sig = MODULES[module]
            names = (["c2"] if scaled else []) + [x.name for x in sig]
            raise error(f"row {i}: {module}'s argument {a.name} must be {bad}, got "
                        f"{as_written(v)}", at, hint=f"{module}'s args: [{', '.join(names)}]")
        if module == "nn.Upsample" and a.name == "mode" and v not in ("nearest", "bilinear"):
            raise error(f"row {i}: nn.Upsample mode {v!r} is not one archcalc reads", at,
                        hint="mode: nearest or bilinear")
        if module == "Concat" and v != 1:
            raise error(f"row {i}: Concat joins channels (dimension 1), got dimension {v}", at,
                        hint="write [1]")
        return v

    # --- building blocks --------------------------------------------------------------------

    def add(self, op: str, attrs: dict[str, Any], name: str, inputs: Sequence[str],
            scope: tuple[str, ...], pos: SourcePos) -> str:
        return self.b.add(op, attrs, pos, name=name, inputs=list(inputs), scope=scope).name

    def conv(self, p: str, src: str, c1: int, c2: int, k: int | tuple[int, int] = 1, s: int = 1,
             pad: int | None = None, g: int = 1, d: int = 1, act: bool = True,
             scope: tuple[str, ...] = (), pos: SourcePos | None = None) -> str:
        """Ultralytics' Conv: nn.Conv2d (no bias, padding autopad(k, p, d)) → BatchNorm2d →
        the activation (none with act=False). Returns its last layer."""
        pos = pos or self.pos
        kk = (k, k) if isinstance(k, int) else k
        padding = [d * (x - 1) // 2 if pad is None else pad for x in kk] if d > 1 else \
            [x // 2 if pad is None else pad for x in kk]
        scope = scope + (p,)
        out = self.add("conv", {"filters": c2, "kernel": list(kk), "stride": s,
                                "padding": padding, "groups": g, "dilation": d, "bias": False,
                                "in_channels": c1}, f"{p}.conv", [src], scope, pos)
        out = self.add("batchnorm", {}, f"{p}.bn", [out], scope, pos)
        if act:
            op, attrs = self.act
            out = self.add(op, dict(attrs), f"{p}.act", [out], scope, pos)
        self.b.block_outputs[p] = out
        return out

    def split(self, p: str, src: str, sizes: list[int], scope: tuple[str, ...],
              pos: SourcePos) -> list[str]:
        self.b.add("split", {"sizes": sizes}, pos, name=p, inputs=[src], scope=scope)
        return self.b.splits[p]

    def bottleneck(self, p: str, src: str, c1: int, c2: int, shortcut: bool = True, g: int = 1,
                   k: tuple[Any, Any] = (3, 3), e: float = 0.5, scope: tuple[str, ...] = (),
                   pos: SourcePos | None = None) -> str:
        c_ = int(c2 * e)
        inner = scope + (p,)
        x = self.conv(f"{p}.cv1", src, c1, c_, k[0], scope=inner, pos=pos)
        x = self.conv(f"{p}.cv2", x, c_, c2, k[1], g=g, scope=inner, pos=pos)
        if shortcut and c1 == c2:
            x = self.add("add", {}, f"{p}.add", [src, x], inner, pos or self.pos)
        self.b.block_outputs[p] = x
        return x

    def c3(self, p: str, src: str, c1: int, c2: int, n: int, shortcut: bool = True, g: int = 1,
           e: float = 0.5, k: int | None = None, scope: tuple[str, ...] = (),
           pos: SourcePos | None = None) -> str:
        """C3 (bottlenecks with kernels 1 and 3) and C3k (``k``: kernels k and k)."""
        c_ = int(c2 * e)
        inner = scope + (p,)
        a = self.conv(f"{p}.cv1", src, c1, c_, 1, scope=inner, pos=pos)
        kern = ((1, 1), (3, 3)) if k is None else ((k, k), (k, k))
        for j in range(n):
            a = self.bottleneck(f"{p}.m.{j}", a, c_, c_, shortcut, g, kern, 1.0, inner, pos)
        bb = self.conv(f"{p}.cv2", src, c1, c_, 1, scope=inner, pos=pos)
        cat = self.add("concat", {}, f"{p}.cat", [a, bb], inner, pos or self.pos)
        out = self.conv(f"{p}.cv3", cat, 2 * c_, c2, 1, scope=inner, pos=pos)
        self.b.block_outputs[p] = out
        return out

    def c2f(self, p: str, src: str, c1: int, c2: int, n: int, shortcut: bool, g: int,
            e: float, inner_block: str, pos: SourcePos, scope: tuple[str, ...] = ()) -> str:
        """C2f, and C3k2 (``inner_block``: bottleneck, c3k or attn)."""
        c = int(c2 * e)
        inner = scope + (p,)
        x = self.conv(f"{p}.cv1", src, c1, 2 * c, 1, scope=inner, pos=pos)
        ys = self.split(f"{p}.chunk", x, [c, c], inner, pos)
        for j in range(n):
            m = f"{p}.m.{j}"
            if inner_block == "c2f":
                y = self.bottleneck(m, ys[-1], c, c, shortcut, g, (3, 3), 1.0, inner, pos)
            elif inner_block == "c3k":
                y = self.c3(m, ys[-1], c, c, 2, shortcut, g, 0.5, 3, inner, pos)
            elif inner_block == "attn":
                y = self.bottleneck(f"{m}.0", ys[-1], c, c, shortcut, g, scope=inner + (m,),
                                    pos=pos)
                y = self.psablock(f"{m}.1", y, c, 0.5, max(c // 64, 1), True, inner + (m,), pos)
                self.b.block_outputs[m] = y
            else:
                y = self.bottleneck(m, ys[-1], c, c, shortcut, g, scope=inner, pos=pos)
            ys.append(y)
        cat = self.add("concat", {}, f"{p}.cat", ys, inner, pos)
        return self.conv(f"{p}.cv2", cat, (2 + n) * c, c2, 1, scope=inner, pos=pos)

    def attention(self, p: str, src: str, dim: int, heads: int, ratio: float,
                  scope: tuple[str, ...], pos: SourcePos) -> str:
        """Ultralytics' Attention: qkv (Conv 1×1 to dim + 2·heads·key_dim, no activation), the
        positional encoding pe (a depthwise 3×3 Conv on v) added to the attended values, and
        proj (Conv 1×1). The products of the attention itself (QKᵀ, N²·heads·key_dim, and the
        weighted sum of v, N²·dim) are not layers here: archcalc's ``attention`` op projects
        its own q, k and v (docs/spec-languages.md says what this leaves out)."""
        head_dim = dim // heads
        key_dim = int(head_dim * ratio)
        nh_kd = key_dim * heads
        inner = scope + (p,)
        qkv = self.conv(f"{p}.qkv", src, dim, dim + 2 * nh_kd, 1, act=False, scope=inner,
                        pos=pos)
        v = self.add("slice", {"start": 2 * nh_kd}, f"{p}.v", [qkv], inner, pos)
        pe = self.conv(f"{p}.pe", v, dim, dim, 3, g=dim, act=False, scope=inner, pos=pos)
        x = self.add("add", {}, f"{p}.add", [v, pe], inner, pos)
        out = self.conv(f"{p}.proj", x, dim, dim, 1, act=False, scope=inner, pos=pos)
        self.b.block_outputs[p] = out
        return out

    def psablock(self, p: str, src: str, c: int, ratio: float, heads: int, shortcut: bool,
                 scope: tuple[str, ...], pos: SourcePos) -> str:
        inner = scope + (p,)
        a = self.attention(f"{p}.attn", src, c, heads, ratio, inner, pos)
        if shortcut:
            a = self.add("add", {}, f"{p}.add1", [src, a], inner, pos)
        f = self.conv(f"{p}.ffn.0", a, c, 2 * c, 1, scope=inner, pos=pos)
        f = self.conv(f"{p}.ffn.1", f, 2 * c, c, 1, act=False, scope=inner, pos=pos)
        if shortcut:
            f = self.add("add", {}, f"{p}.add2", [a, f], inner, pos)
        self.b.block_outputs[p] = f
        return f

    # --- the modules a row names --------------------------------------------------------------

    def module(self, module: str, p: str, src: str, c1: int, c2: int, v: list[Any], n: int,
               pos: SourcePos, scope: tuple[str, ...] = ()) -> str:
        if module == "Conv":
            k, s, pad, g, d, act = v
            return self.conv(p, src, c1, c2, k, s, pad, g, d, act, scope, pos)
        if module == "DWConv":
            k, s, d, act = v
            return self.conv(p, src, c1, c2, k, s, None, math.gcd(c1, c2), d, act, scope, pos)
        if module == "Bottleneck":
            shortcut, g, k, e = v
            return self.bottleneck(p, src, c1, c2, shortcut, g, (k[0], k[1]), e, scope, pos)
        if module == "C3":
            shortcut, g, e = v
            return self.c3(p, src, c1, c2, n, shortcut, g, e, None, scope, pos)
        if module == "C2f":
            shortcut, g, e = v
            return self.c2f(p, src, c1, c2, n, shortcut, g, e, "c2f", pos, scope)
        if module == "C3k2":
            c3k, e, attn, g, shortcut = v
            kind = "attn" if attn else "c3k" if c3k else "bottleneck"
            return self.c2f(p, src, c1, c2, n, shortcut, g, e, kind, pos, scope)
        if module == "SPPF":
            return self.sppf(p, src, c1, c2, v, pos, scope)
        if module == "C2PSA":
            (e,) = v
            return self.c2psa(p, src, c1, c2, n, e, pos, scope)
        if module == "nn.Upsample":
            size, factor, mode = v
            if (size is None) == (factor is None):
                raise error(f"{p}: nn.Upsample takes a size or a scale_factor (one of them)",
                            pos, hint='e.g. [None, 2, "nearest"]')
            attrs: dict[str, Any] = {"mode": mode}
            attrs.update({"size": size} if size is not None else {"scale": factor})
            return self.add("upsample", attrs, p, [src], scope, pos)
        raise AssertionError(module)              # (Concat and Detect: by rows())

    def sppf(self, p: str, src: str, c1: int, c2: int, v: list[Any], pos: SourcePos,
             scope: tuple[str, ...]) -> str:
        """SPPF: cv1 (1×1 to c1/2), n max pools k×k (stride 1, padding k//2) one after another,
        their concatenation, cv2 (1×1). A row of up to two arguments (YOLOv8, YOLO11) gives cv1
        its activation, as Ultralytics does for those files."""
        k, n, shortcut, legacy = v
        c_ = c1 // 2
        inner = scope + (p,)
        x = self.conv(f"{p}.cv1", src, c1, c_, 1, act=legacy, scope=inner, pos=pos)
        ys = [x]
        for t in range(n):
            ys.append(self.add("maxpool", {"kernel": k, "stride": 1, "padding": k // 2},
                               f"{p}.m" if t == 0 else f"{p}.m({t + 1})", [ys[-1]], inner,
                               pos))
        cat = self.add("concat", {}, f"{p}.cat", ys, inner, pos)
        out = self.conv(f"{p}.cv2", cat, c_ * (n + 1), c2, 1, scope=inner, pos=pos)
        if shortcut and c1 == c2:
            out = self.add("add", {}, f"{p}.add", [out, src], inner, pos)
        return out

    def c2psa(self, p: str, src: str, c1: int, c2: int, n: int, e: float, pos: SourcePos,
              scope: tuple[str, ...]) -> str:
        if c1 != c2:
            raise error(f"{p}: C2PSA keeps its channels, but reads {c1} and would give {c2}",
                        pos, hint="give it the channels of its input (before width scaling: "
                        "those of the row before it)")
        c = int(c1 * e)
        inner = scope + (p,)
        x = self.conv(f"{p}.cv1", src, c1, 2 * c, 1, scope=inner, pos=pos)
        a, bb = self.split(f"{p}.split", x, [c, c], inner, pos)
        for j in range(n):
            bb = self.psablock(f"{p}.m.{j}", bb, c, 0.5, max(c // 64, 1), True, inner, pos)
        cat = self.add("concat", {}, f"{p}.cat", [a, bb], inner, pos)
        return self.conv(f"{p}.cv2", cat, 2 * c, c1, 1, scope=inner, pos=pos)

    def concat(self, p: str, srcs: list[str], pos: SourcePos) -> str:
        if len(srcs) < 2:
            raise error(f"{p}: Concat joins two or more rows, from names one", pos,
                        hint="from: [-1, 6] joins the previous row and row 6")
        return self.add("concat", {}, p, srcs, (), pos)

    def detect(self, p: str, srcs: list[str], chs: list[int], nc: int, reg_max: int,
               pos: SourcePos) -> list[str]:
        """Detect: per level a box branch cv2 (Conv 3×3, Conv 3×3, nn.Conv2d 1×1 to 4·reg_max)
        and a class branch cv3 (YOLOv8: Conv 3×3, Conv 3×3; YOLO11: DWConv 3×3 + Conv 1×1
        twice; then nn.Conv2d 1×1 to nc), concatenated (the level's output, as training gives
        it); and DFL over every level's anchors: each box side's reg_max bins softmaxed and
        weighed by a fixed 1×1 conv (reg_max weights, not trained). Returns the names of its
        outputs."""
        c2 = max(16, chs[0] // 4, reg_max * 4)
        c3 = max(chs[0], min(nc, 100))
        scope = (p,)
        levels, boxes = [], []
        for i, (src, x) in enumerate(zip(srcs, chs)):
            q = f"{p}.cv2.{i}"
            box = self.conv(f"{q}.0", src, x, c2, 3, scope=scope + (q,), pos=pos)
            box = self.conv(f"{q}.1", box, c2, c2, 3, scope=scope + (q,), pos=pos)
            box = self.add("conv", {"filters": 4 * reg_max, "kernel": 1, "padding": 0,
                                    "in_channels": c2}, f"{q}.2", [box], scope + (q,), pos)
            self.b.block_outputs[q] = box
            q = f"{p}.cv3.{i}"
            inner = scope + (q,)
            if self.legacy:
                cls = self.conv(f"{q}.0", src, x, c3, 3, scope=inner, pos=pos)
                cls = self.conv(f"{q}.1", cls, c3, c3, 3, scope=inner, pos=pos)
            else:
                cls = self.conv(f"{q}.0.0", src, x, x, 3, g=x, scope=inner + (f"{q}.0",),
                                pos=pos)
                cls = self.conv(f"{q}.0.1", cls, x, c3, 1, scope=inner + (f"{q}.0",), pos=pos)
                self.b.block_outputs[f"{q}.0"] = cls
                cls = self.conv(f"{q}.1.0", cls, c3, c3, 3, g=c3, scope=inner + (f"{q}.1",),
                                pos=pos)
                cls = self.conv(f"{q}.1.1", cls, c3, c3, 1, scope=inner + (f"{q}.1",), pos=pos)
                self.b.block_outputs[f"{q}.1"] = cls
            cls = self.add("conv", {"filters": nc, "kernel": 1, "padding": 0, "in_channels": c3},
                           f"{q}.2", [cls], inner, pos)
            self.b.block_outputs[q] = cls
            levels.append(self.add("concat", {}, f"{p}.cat.{i}", [box, cls], scope, pos))
            boxes.append(box)
        if reg_max <= 1:
            return levels
        return [*levels, self.dfl(f"{p}.dfl", boxes, reg_max, scope, pos)]

    def dfl(self, p: str, boxes: list[str], reg_max: int, scope: tuple[str, ...],
            pos: SourcePos) -> str:
        """DFL over the anchors of every level: each level's box output (H×W×4·reg_max) as
        4·H·W places of reg_max bins (a channel shuffle putting each side's bins together, then
        a pixel shuffle by 2: exactly the view Ultralytics takes), softmaxed over the bins, as
        one token sequence; the levels' sequences joined (zero padding each to the whole length
        and adding them: archcalc's concat joins channels only), then the fixed 1×1 conv."""
        inner = scope + (p,)
        seqs = []
        for i, box in enumerate(boxes):
            x = self.add("shuffle", {"groups": 4}, f"{p}.side.{i}", [box], inner, pos)
            x = self.add("pixel_shuffle", {"factor": 2}, f"{p}.bins.{i}", [x], inner, pos)
            x = self.add("softmax", {}, f"{p}.softmax.{i}", [x], inner, pos)
            seqs.append(self.add("tokens", {}, f"{p}.anchors.{i}", [x], inner, pos))
        return self._join(p, seqs, reg_max, inner, pos)

    def _join(self, p: str, seqs: list[str], reg_max: int, scope: tuple[str, ...],
              pos: SourcePos) -> str:
        """The levels' anchor sequences as one (zero padding each to its place in the whole,
        then adding them: a concatenation along the tokens, which archcalc's concat does not
        do), then DFL's conv (reg_max → 1, no bias, fixed weights)."""
        lengths = self._lengths(seqs)
        self.size_read = True
        if lengths is None or len(seqs) == 1:     # (an error before: the analysis reports it)
            joined = seqs[0] if len(seqs) == 1 else self.add("concat", {}, f"{p}.cat", seqs,
                                                             scope, pos)
        else:
            total, before, padded = sum(lengths), 0, []
            for i, (seq, n) in enumerate(zip(seqs, lengths)):
                padded.append(self.add("pad", {"padding": [0, 0, before, total - before - n]},
                                       f"{p}.place.{i}", [seq], scope, pos))
                before += n
            joined = self.add("add", {}, f"{p}.anchors", padded, scope, pos)
        return self.add("conv", {"filters": 1, "kernel": 1, "padding": 0, "bias": False,
                                 "in_channels": reg_max}, f"{p}.conv", [joined], scope, pos)

    def _lengths(self, seqs: list[str]) -> list[int] | None:
        """The number of tokens of each sequence, by each op's own shape rule (as the YAML
        front-end's in.h); None where a layer before them has an error."""
        b = self.b
        vols: dict[str, Vol] = {"input": b.input}
        for layer in b.layers[1:]:
            try:
                vols[layer.name] = OPS[layer.op].shape(
                    layer.attrs, [vols[s] for s in layer.inputs],
                    At(layer.name, layer.pos, layer.inputs, self.rounding))
            except (ArchcalcError, KeyError):
                return None
        return [vols[s][1] for s in seqs]
