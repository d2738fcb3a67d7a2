"""The device table: peak throughput per dtype and memory bandwidth of named hardware.

Built-in devices come from ``devices.json`` beside this module (datasheet figures, dense
peaks, each with its source); a user adds devices in a YAML or JSON file of the same shape
(``--device-file``); ``local-cpu`` is this machine as ``archcalc calibrate`` measured it (stored
in the user's config folder) or, before any calibration, as a quick measurement.
Every figure is checked where it is read: a missing, non-numeric, zero or negative one is an
error at its file and line (exit 2), never a silent zero. See docs/latency.md.
"""
from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from ..errors import OPTIONS, ArchcalcError, Diagnostic, SourcePos, error
from ..ops.words import article

HERE = os.path.dirname(os.path.abspath(__file__))
BUILTIN = os.path.join(HERE, "devices.json")
LOCAL = "local-cpu"
# the peaks a device may give; tf32 is fp32 storage with tensor-core math
MATH = ("fp32", "tf32", "fp16", "bf16", "int8")
STORAGE = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "int8": 1}
# the op kinds that get their own efficiency factor (model.kind_of assigns them)
KINDS = ("conv", "conv1x1", "depthwise", "fc", "pool", "elementwise")


@dataclass(frozen=True)
class Device:
    """One device: ``peak_tflops`` (dense, per dtype, 10^12 operations/s), ``bandwidth_gbs``
    (10^9 bytes/s), ``overhead_us`` per layer, and ``efficiency`` per op kind (the share of the
    roofline a layer of that kind reaches; 1.0, the bare roofline, unless calibrated)."""
    key: str
    name: str
    peak_tflops: dict
    bandwidth_gbs: float
    overhead_us: float = 0.0
    efficiency: dict = field(default_factory=dict)
    source: str = ""
    calibrated: bool = False
    note: str | None = None         # e.g. "measured now, not calibrated"

    def peak(self, dtype: str) -> float:
        """FLOP/s at ``dtype``; an error naming the dtypes this device has when it has none."""
        if dtype not in self.peak_tflops:
            have = ", ".join(self.peak_tflops)
            raise error(f"{self.key} has no {dtype} peak (it gives {have})", OPTIONS,
                        hint=f"choose --dtype {next(iter(self.peak_tflops))}, or add "
                             f"{article(dtype)} {dtype} "
                             "figure in a --device-file", kind="usage")
        return self.peak_tflops[dtype] * 1e12

    @property
    def bandwidth(self) -> float:
        return self.bandwidth_gbs * 1e9

    def to_dict(self) -> dict:
        return {"key": self.key, "name": self.name, "peak_tflops": dict(self.peak_tflops),
                "bandwidth_gbs": self.bandwidth_gbs, "overhead_us": self.overhead_us,
                "efficiency": dict(self.efficiency), "calibrated": self.calibrated,
                "source": self.source, "note": self.note}


# ---------------------------------------------------------------------------------------------
# reading a device file (YAML or JSON), with the line of every value

class _Located:
    """A parsed value with the line each mapping value starts on: ``lines[key]``."""

    def __init__(self, value: Any, line: int, lines: dict[str, int] | None = None):
        self.value, self.line, self.lines = value, line, lines or {}


def _compose(path: str) -> _Located | None:
    import yaml
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read device file {path}: {getattr(exc, 'strerror', None) or exc}",
                    SourcePos(path), kind="io") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise error(f"device file {path} is not valid YAML or JSON: "
                    f"{getattr(exc, 'problem', None) or exc}", SourcePos(path, line),
                    kind="usage") from None
    return None if node is None else _convert(node, path)   # (an empty file: no devices)


def _convert(node: Any, path: str) -> _Located:
    """A YAML node as values with the line of each (``path`` names the file in messages)."""
    import yaml
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, _Located] = {}
        lines: dict[str, int] = {}
        for k, v in node.value:
            key = str(yaml.safe_load(yaml.serialize(k))) if k.tag != "tag:yaml.org,2002:str" \
                else k.value
            if key in out:
                raise error(f"{key!r} is given twice (first on line {lines[key]})",
                            SourcePos(path, k.start_mark.line + 1),
                            hint="keep one of them", kind="usage")
            out[key] = _convert(v, path)
            lines[key] = k.start_mark.line + 1
        return _Located(out, line, lines)
    if isinstance(node, yaml.SequenceNode):
        return _Located([_convert(v, path) for v in node.value], line)
    return _Located(yaml.safe_load(yaml.serialize(node)), line)


def _number(loc: _Located | None, what: str, path: str, line: int, least_open: bool = True,
            zero_ok: bool = False) -> float:
    if loc is None:
        raise error(f"{what} is missing", SourcePos(path, line),
                    hint="every device needs peak_tflops (a dense figure per dtype) and "
                         "bandwidth_gbs; see docs/latency.md", kind="usage")
    v = loc.value
    if isinstance(v, str):
        try:                 # 3e3: a JSON number that YAML 1.1 reads as text
            v = float(v) if any(c.isdigit() for c in v) and v.strip().lower() not in \
                ("nan", "inf", "-inf", "+inf") else v
        except ValueError:
            pass
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise error(f"{what} must be a number, got {v!r}", SourcePos(path, loc.line),
                    kind="usage")
    if v < 0 or (v == 0 and not zero_ok) or v != v or v == float("inf"):
        raise error(f"{what} must be {'≥ 0' if zero_ok else 'positive'}, got {v}",
                    SourcePos(path, loc.line),
                    hint="a datasheet figure: TFLOPS (TOPS for int8), GB/s, µs", kind="usage")
    return float(v)


def _table(loc: _Located, what: str, allowed: tuple, noun: str, path: str) -> dict:
    """A mapping of positive figures whose keys must be among ``allowed``."""
    out = {}
    for k, v in loc.value.items():
        if k not in allowed:
            raise error(f"{what.split(': ')[0]}: unknown {noun} {k!r} in {what.split(': ')[1]}",
                        SourcePos(path, loc.lines[k]), hint="one of " + ", ".join(allowed),
                        kind="usage")
        out[k] = _number(v, f"{what}.{k}", path, loc.lines[k])
    return out


DEVICE_KEYS = ("name", "source", "peak_tflops", "bandwidth_gbs", "overhead_us", "efficiency",
               "calibrated", "fit")


def _device(key: str, loc: _Located, path: str, line: int) -> Device:
    if not isinstance(loc.value, dict):
        raise error(f"device {key} must be a mapping of its figures", SourcePos(path, line),
                    kind="usage")
    d = loc.value
    for k in d:
        if k not in DEVICE_KEYS:
            import difflib
            near = difflib.get_close_matches(str(k), DEVICE_KEYS, n=1)
            raise error(f"device {key}: unknown key {k!r}", SourcePos(path, loc.lines[k]),
                        hint=(f"did you mean {near[0]!r}? " if near else "")
                        + "the keys: " + ", ".join(DEVICE_KEYS), kind="usage")
    peaks_loc = d.get("peak_tflops")
    if peaks_loc is None or not isinstance(peaks_loc.value, dict) or not peaks_loc.value:
        raise error(f"device {key}: peak_tflops is missing" if peaks_loc is None else
                    f"device {key}: peak_tflops must map dtypes to TFLOPS",
                    SourcePos(path, peaks_loc.line if peaks_loc else line),
                    hint="e.g. peak_tflops: {fp32: 19.5, fp16: 312} (dense figures)", kind="usage")
    peaks = _table(peaks_loc, f"device {key}: peak_tflops", MATH, "dtype", path)
    bw = _number(d.get("bandwidth_gbs"), f"device {key}: bandwidth_gbs", path, line)
    over = d.get("overhead_us")
    overhead = 0.0 if over is None else _number(over, f"device {key}: overhead_us", path,
                                                line, zero_ok=True)
    eloc = d.get("efficiency")
    if eloc is not None and not isinstance(eloc.value, dict):
        raise error(f"device {key}: efficiency must map op kinds to factors",
                    SourcePos(path, eloc.line), kind="usage")
    eff = {} if eloc is None else _table(eloc, f"device {key}: efficiency", KINDS, "op kind",
                                         path)
    text = lambda k: str(d[k].value) if k in d and d[k].value is not None else ""
    return Device(key, text("name") or key, peaks, bw, overhead, eff, text("source"),
                  bool(d["calibrated"].value) if "calibrated" in d else bool(eff))


def read_file(path: str) -> dict[str, Device]:
    """The devices of one file: ``{"devices": {key: {peak_tflops: ..., bandwidth_gbs: ...}}}``."""
    top = _compose(path)
    if top is None or not isinstance(top.value, dict) or "devices" not in top.value \
            or not isinstance(top.value["devices"].value, dict):
        raise error(f"device file {path} has no 'devices' mapping", SourcePos(path, 1),
                    hint="devices: {my-gpu: {name: ..., peak_tflops: {fp32: 10}, "
                         "bandwidth_gbs: 500}}", kind="usage")
    devs = top.value["devices"]
    out = {}
    for k, v in devs.value.items():
        name = str(k).strip().lower()
        if not name or any(c.isspace() for c in name):
            raise error(f"device name {str(k)!r} has a space: --device takes one word",
                        SourcePos(path, devs.lines[k]), hint="e.g. my-gpu", kind="usage")
        out[name] = _device(name, v, path, devs.lines[k])
    return out


_builtin: dict[str, Device] | None = None


def builtin() -> dict[str, Device]:
    global _builtin
    if _builtin is None:
        _builtin = read_file(BUILTIN)
    return _builtin


# ---------------------------------------------------------------------------------------------
# the user's local-cpu profile (written by archcalc calibrate)

def config_dir() -> str:
    """$XDG_CONFIG_HOME/archcalc, else ~/.config/archcalc."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "archcalc")


def local_profile_path() -> str:
    return os.path.join(config_dir(), "local-cpu.json")


def stored_local() -> Device | None:
    """The calibrated local-cpu device, or None when ``archcalc calibrate`` has not run."""
    path = local_profile_path()
    if not os.path.isfile(path):
        return None
    return read_file(path).get(LOCAL) or _no_local(path)


def _no_local(path: str) -> NoReturn:
    raise error(f"{path} has no {LOCAL} device", SourcePos(path, 1),
                hint="run archcalc calibrate again (it rewrites the file)", kind="usage")


def known(device_file: str | None = None) -> dict[str, Device]:
    devs = dict(builtin())
    if device_file:
        devs.update(read_file(device_file))
    return devs


def get(name: str, device_file: str | None = None,
        measure: Callable[[], Device] | None = None) -> Device:
    """The device called ``name`` (any case). ``local-cpu`` is the stored calibration, else
    ``measure()`` (a quick measurement, which needs onnxruntime). An unknown name lists the
    known ones and suggests the nearest."""
    key = name.strip().lower()
    devs = known(device_file)
    if key in devs:
        return devs[key]
    if key == LOCAL:
        dev = stored_local()
        if dev is not None:
            return dev
        if measure is None:
            raise error(f"{LOCAL} is not calibrated and cannot be measured here", OPTIONS,
                        kind="usage", hint="run archcalc calibrate")
        return measure()
    names = [*devs, LOCAL]
    near = [n for n in names if key and n.startswith(key)][:1]     # h100 → h100-sxm
    near = near or difflib.get_close_matches(key, names, n=1, cutoff=0.4)
    hint = (f"did you mean {near[0]}? " if near else "") + "known devices: " + ", ".join(names)
    raise ArchcalcError(Diagnostic("error", f"unknown device {name!r}", OPTIONS,
                                   hint + "; add your own with --device-file (docs/latency.md)"),
                        kind="usage")
