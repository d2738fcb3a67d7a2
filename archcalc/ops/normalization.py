"""Normalization layers with parameters and buffers."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import SourcePos, error
from . import derive as dv
from .base import At, Attrs, Op
from .values import Vol, as_bool, as_float, as_int
from .words import counted

# the receptive-field note of the norms whose statistics are taken over a whole image
PER_IMAGE_STATISTICS = ("its statistics over all H·W places rescale each channel by global "
                        "context, which archcalc leaves out of the local window "
                        "(docs/definitions.md)")

class BatchNorm(Op):
    """Batch normalization: γ and β trainable (2C), running mean and variance buffers (2C)."""
    kind = "batchnorm"
    names = ("bn", "batch_norm", "batchnorm2d")
    ATTRS = {"eps": 1e-5}

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return as_float(value, name, pos)

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        c = ins[0][2]
        return (2 * c, 2 * c)

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        c = ins[0][2]
        return dv.same_volume(ins[0]) + [
            dv.product("params", "parameters", [("2", 2), ("C", c)], "γ and β per channel"),
            dv.product("buffers", "buffers", [("2", 2), ("C", c)],
                       "running mean and variance per channel: state, not parameters"),
            dv.zero("macs", "MACs", dv.NOT_COUNTED)]


# --- normalization over groups, channels, instances -------------------------------------------
# These use statistics of the image itself, also at inference (no running buffers). GroupNorm and
# InstanceNorm take them over the whole H×W: archcalc keeps the receptive field of their input
# (the statistics are a per-channel rescaling by global context, as a squeeze-and-excitation
# gate; docs/definitions.md, "Receptive field").

class _Norm(Op):
    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        if name == "eps":
            v = as_float(value, name, pos)
            if v <= 0:
                raise error(f"eps must be positive, got {v:g}", pos,
                            hint="eps keeps the division by the standard deviation finite; "
                                 "PyTorch's default is 1e-5")
            return v
        return value


def _affine(c: int, note: str) -> dv.Derivation:
    return dv.product("params", "parameters", [("2", 2), ("C", c)], note)


class GroupNorm(_Norm):
    """Group normalization (Wu & He 2018): mean and variance over each group of C/G channels and
    all H×W places of one image; γ and β per channel (2C), no buffers. ``groups`` defaults to the
    paper's G = 32 and must divide the channels."""
    kind = "groupnorm"
    names = ("group_norm", "gn")
    ATTRS = {"groups": 32, "eps": 1e-5}
    rf_note = PER_IMAGE_STATISTICS

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        if name == "groups":
            return as_int(value, name, pos)
        return super().coerce(name, value, pos)

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        c, g = ins[0][2], a["groups"]
        if c % g:
            divisors = [d for d in range(1, c + 1) if c % d == 0]
            near = sorted(divisors, key=lambda d: (abs(d - g), d))[:2]
            src = f" from {at.inputs[0]}" if at.inputs else ""
            raise error(f"groupnorm groups = {g} must divide the {c} input channels{src}",
                        at.pos, layer=at.layer,
                        hint=f"use groups: {' or groups: '.join(str(d) for d in sorted(near))} "
                             f"(divisors of {c} nearest {g}), or give the layer before "
                             f"a multiple of {counted(g, 'channel')}")
        return ins[0]

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        return (2 * ins[0][2], 0)

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        c, g = ins[0][2], a["groups"]
        return dv.same_volume(ins[0]) + [
            _affine(c, f"γ and β per channel; statistics over {counted(g, 'group')} of C/G = "
                       f"{counted(c // g, 'channel')} and all H·W places, no running buffers"),
            dv.zero("macs", "MACs", dv.NOT_COUNTED)]

    def describe(self, a: Attrs) -> str:
        return counted(a["groups"], "group")


class LayerNorm(_Norm):
    """Layer normalization over the channels at each place (ConvNeXt's LayerNorm2d: a
    ``LayerNorm(C)`` applied channels-last): γ and β per channel (2C), no buffers."""
    kind = "layernorm"
    names = ("layer_norm", "ln", "layernorm2d")
    ATTRS = {"eps": 1e-5}           # PyTorch's default; torchvision's ConvNeXt sets 1e-6

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        return (2 * ins[0][2], 0)

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        return dv.same_volume(ins[0]) + [
            _affine(ins[0][2], "γ and β per channel; statistics over the C channels at each "
                               "place, no running buffers"),
            dv.zero("macs", "MACs", dv.NOT_COUNTED)]

    def describe(self, a: Attrs) -> str:
        return "over channels"


class InstanceNorm(_Norm):
    """Instance normalization: mean and variance per channel over the H×W places of one image.
    ``affine`` false (PyTorch's ``InstanceNorm2d`` default): no parameters; true: γ and β per
    channel (2C). No running buffers (PyTorch's ``track_running_stats=False`` default)."""
    kind = "instancenorm"
    names = ("instance_norm", "instancenorm2d")
    ATTRS = {"affine": False, "eps": 1e-5}
    rf_note = PER_IMAGE_STATISTICS

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        if name == "affine":
            return as_bool(value, name, pos)
        return super().coerce(name, value, pos)

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        return (2 * ins[0][2] if a["affine"] else 0, 0)

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        c = ins[0][2]
        p = _affine(c, "γ and β per channel (affine: true)") if a["affine"] else \
            dv.zero("params", "parameters", "affine: false (PyTorch's InstanceNorm2d default): "
                    "no γ, no β")
        return dv.same_volume(ins[0]) + [p, dv.zero("macs", "MACs", dv.NOT_COUNTED)]

    def describe(self, a: Attrs) -> str:
        return "affine" if a["affine"] else ""
