"""Element-wise ops (activations, dropout) and LRN: the output volume is the input's, no weights."""
from __future__ import annotations

from ..errors import error
from .base import (_Elementwise, _float, _int)


class ReLU(_Elementwise):
    kind = "relu"
    inplace = True


class Tanh(_Elementwise):
    kind = "tanh"


class Sigmoid(_Elementwise):
    kind = "sigmoid"


class Dropout(_Elementwise):
    kind = "dropout"
    ATTRS = {"rate": 0.5}
    inplace = True

    def coerce(self, name, value, pos):
        v = _float(value, "rate", pos)
        if not 0.0 <= v < 1.0:
            raise error(f"dropout rate must be in [0, 1), got {v}", pos)
        return v

    def describe(self, a):
        return f"p={a['rate']:g}"


class Softmax(_Elementwise):
    kind = "softmax"
    names = ("soft-max",)


class LRN(_Elementwise):
    """Local response normalization across channels (AlexNet, VGG A-LRN): no parameters."""
    kind = "lrn"
    ATTRS = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}

    def coerce(self, name, value, pos):
        return _int(value, name, pos) if name == "size" else _float(value, name, pos)

    def describe(self, a):
        return f"size {a['size']}"
