"""Normalization layers with parameters and buffers."""
from __future__ import annotations

from .. import derive as dv
from .base import (Op, _float)


class BatchNorm(Op):
    """Batch normalization: γ and β trainable (2C), running mean and variance buffers (2C)."""
    kind = "batchnorm"
    names = ("bn", "batch_norm", "batchnorm2d")
    ATTRS = {"eps": 1e-5}

    def coerce(self, name, value, pos):
        return _float(value, name, pos)

    def params(self, a, ins, out):
        c = ins[0][2]
        return (2 * c, 2 * c)

    def explain(self, a, ins, out, rounding):
        c = ins[0][2]
        return dv.same_volume(ins[0]) + [
            dv.product("params", "parameters", [("2", 2), ("C", c)], "γ and β per channel"),
            dv.product("buffers", "buffers", [("2", 2), ("C", c)],
                       "running mean and variance per channel: state, not parameters"),
            dv.zero("macs", "MACs", dv.NOT_COUNTED)]
