"""Element-wise ops (activations, dropout) and LRN: the output volume is the input's, and no
weights except PReLU's trainable slopes."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import SourcePos, error
from . import derive as dv
from .base import Attrs, Elementwise
from .values import Vol, as_bool, as_float, as_int


class ReLU(Elementwise):
    kind = "relu"
    inplace = True


class Tanh(Elementwise):
    kind = "tanh"


class Sigmoid(Elementwise):
    kind = "sigmoid"


class Dropout(Elementwise):
    kind = "dropout"
    ATTRS = {"rate": 0.5}
    inplace = True

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        v = as_float(value, "rate", pos)
        if not 0.0 <= v < 1.0:
            raise error(f"{self.kind} rate must be in [0, 1), got {v}", pos)
        return v

    def describe(self, a: Attrs) -> str:
        return f"p={a['rate']:g}"


class Softmax(Elementwise):
    kind = "softmax"
    names = ("soft-max",)


class LRN(Elementwise):
    """Local response normalization across channels (AlexNet, VGG A-LRN): no parameters."""
    kind = "lrn"
    ATTRS = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return as_int(value, name, pos) if name == "size" else as_float(value, name, pos)

    def describe(self, a: Attrs) -> str:
        return f"size {a['size']}"


# --- the activations of mobile networks and transformers -------------------------------------
# In place exactly where PyTorch offers ``inplace=True`` (ReLU6, Hardswish, Hardsigmoid, SiLU,
# LeakyReLU, ELU); GELU and PReLU have no in-place form there (docs/definitions.md, "Activation
# memory").

class ReLU6(Elementwise):
    """min(max(x, 0), 6) (MobileNetV2)."""
    kind = "relu6"
    names = ("relu_6",)
    inplace = True


class HardSwish(Elementwise):
    """x·relu6(x + 3)/6 (MobileNetV3)."""
    kind = "hardswish"
    names = ("hard_swish", "h_swish", "hswish")
    inplace = True


class HardSigmoid(Elementwise):
    """relu6(x + 3)/6 (PyTorch's; MobileNetV3's SE gate)."""
    kind = "hardsigmoid"
    names = ("hard_sigmoid", "h_sigmoid", "hsigmoid")
    inplace = True


class SiLU(Elementwise):
    """x·σ(x) (swish; EfficientNet)."""
    kind = "silu"
    names = ("swish",)
    inplace = True


class GELU(Elementwise):
    """x·Φ(x) = 0.5·x·(1 + erf(x/√2)) (the exact form, PyTorch's default)."""
    kind = "gelu"


class LeakyReLU(Elementwise):
    """max(0, x) + slope·min(0, x)."""
    kind = "leaky_relu"
    names = ("leakyrelu", "lrelu")
    ATTRS = {"slope": 0.01}
    inplace = True

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return as_float(value, "slope", pos)

    def describe(self, a: Attrs) -> str:
        return f"slope {a['slope']:g}"


class ELU(Elementwise):
    """x for x > 0, alpha·(eˣ − 1) otherwise."""
    kind = "elu"
    ATTRS = {"alpha": 1.0}
    inplace = True

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return as_float(value, "alpha", pos)

    def describe(self, a: Attrs) -> str:
        return f"α {a['alpha']:g}"


class PReLU(Elementwise):
    """max(0, x) + a·min(0, x) with a trainable slope a: one per channel (``shared: false``,
    PyTorch's ``PReLU(num_parameters=C)``) or one for the whole layer (``shared: true``, PyTorch's
    default ``PReLU()``)."""
    kind = "prelu"
    ATTRS = {"shared": True}

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return as_bool(value, "shared", pos)

    def params(self, a: Attrs, ins: Sequence[Vol], out: Vol) -> tuple[int, int]:
        return (1 if a["shared"] else ins[0][2], 0)

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        if a["shared"]:
            p = dv.given("params", "parameters", "1", 1, "one slope shared by every channel "
                         "(shared: true, PyTorch's PReLU())")
        else:
            p = dv.given("params", "parameters", "C", ins[0][2], "one slope per channel "
                         "(shared: false, PyTorch's PReLU(num_parameters=C))")
        return dv.same_volume(ins[0]) + [p, dv.zero("macs", "MACs", dv.NOT_COUNTED)]

    def describe(self, a: Attrs) -> str:
        return "shared slope" if a["shared"] else "slope per channel"
