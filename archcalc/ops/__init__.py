"""The operator table: every op kind archcalc knows, each defined once.

An op describes, as pure functions of a layer's attributes and its input volumes:
  * which attributes it takes and their defaults (``ATTRS``), validated by :meth:`Op.normalize`;
  * its output volume (:meth:`Op.shape`);
  * its parameters, trainable and not (:meth:`Op.params`);
  * its multiply-accumulates (:meth:`Op.macs`);
  * its receptive-field step (:meth:`Op.rf_step`);
  * how its output is stored (``inplace``: may overwrite its input; ``view``: never copies);
  * how it got each of its figures (:meth:`Op.explain`: formulas with the numbers substituted).

Volumes are (H, W, C) tuples of ints. Vectors are (1, 1, N); token sequences 1×N×C.
Each family lives in its own module (``windowed``, ``dense``, ``elementwise``, ``normalization``,
``shape``, ``merges``, ``channels``, ``resampling``, ``tokens``, ``attention``); the machinery
they share is in ``base``, the value coercion in ``values`` and the building blocks of
derivations in ``derive``. Adding an op
means adding one class to its family and listing it in ``_KINDS`` below.
"""
from __future__ import annotations

from typing import Any

from ..errors import SourcePos, error
from .attention import Attention
from .base import GLOBAL, IDENTITY, MERGE, At, Attrs, Elementwise, Op, RFKind, RFStep, window_out
from .channels import Shuffle, Slice
from .dense import FC
from .elementwise import (
    ELU,
    GELU,
    LRN,
    Dropout,
    HardSigmoid,
    HardSwish,
    LeakyReLU,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from .merges import Add, Concat, Mul
from .normalization import BatchNorm, GroupNorm, InstanceNorm, LayerNorm
from .resampling import ConvTranspose, Crop, Pad, PixelShuffle, PixelUnshuffle, Upsample
from .shape import Flatten, Input, Opaque
from .tokens import (
    ClassToken,
    DropPath,
    LayerScale,
    Linear,
    PatchMerge,
    PosEmbed,
    TakeToken,
    Tokens,
    Untokens,
)
from .values import DEFAULT_ROUNDING, MAX_DIM, ROUNDINGS, Pair, Vol
from .windowed import (
    AdaptiveAvgPool,
    AvgPool,
    Conv,
    DepthwiseConv,
    GlobalAvgPool,
    GlobalMaxPool,
    MaxPool,
    Windowed,
)
from .words import closest

_KINDS: tuple[type[Op], ...] = (
    Input, Conv, DepthwiseConv, MaxPool, AvgPool, GlobalAvgPool, AdaptiveAvgPool, FC, ReLU, Tanh,
    Sigmoid, Dropout, Softmax, LRN, BatchNorm, Flatten, Concat, Add,
    # channels and resampling
    Slice, Shuffle, Upsample, ConvTranspose, Pad, Crop, PixelShuffle, PixelUnshuffle,
    # activations, norms, broadcast merges
    ReLU6, HardSwish, HardSigmoid, SiLU, GELU, LeakyReLU, PReLU, ELU,
    GroupNorm, LayerNorm, InstanceNorm, GlobalMaxPool, Mul,
    # tokens and attention
    Tokens, Untokens, ClassToken, PosEmbed, TakeToken, Linear, LayerScale, DropPath, PatchMerge,
    Attention,
    # an imported ONNX op archcalc does not know (--unknown passthrough)
    Opaque)

OPS: dict[str, Op] = {}
for _cls in _KINDS:
    _op = _cls()
    OPS[_op.kind] = _op

OP_NAMES: dict[str, str] = {}
for _op in OPS.values():
    OP_NAMES[_op.kind] = _op.kind
    for _n in _op.names:
        OP_NAMES[_n] = _op.kind


# Not an op of its own: the Builder expands a split into one slice per part (graph.py); lookup
# gives this stand-in, which no layer ever has as its op
SPLIT = "split"


class _Split(Op):
    kind = SPLIT
    ATTRS = {"parts": None, "sizes": None}


SPLIT_OP = _Split()


def lookup(name: Any, pos: SourcePos) -> Op:
    """The op for a kind name or one of its spellings (case-insensitive). ``split`` gives the
    stand-in SPLIT_OP: the Builder expands a split into slices, one per part."""
    key = str(name).lower()
    if key == SPLIT:
        return SPLIT_OP
    if key in OP_NAMES:
        return OPS[OP_NAMES[key]]
    near = closest(key, [*OP_NAMES, SPLIT])        # a close name only: not flatten for attention
    hint = f"did you mean {near!r}? " if near else ""
    raise error(f"unknown op {name!r}", pos,
                hint=hint + "known ops: " + ", ".join([k for k in OPS if k != "input"] + [SPLIT]))


__all__ = ["OPS", "OP_NAMES", "Op", "At", "Attrs", "RFStep", "RFKind", "IDENTITY", "GLOBAL",
           "MERGE", "Vol", "Pair", "DEFAULT_ROUNDING", "MAX_DIM", "ROUNDINGS", "SPLIT",
           "Elementwise", "Windowed", "lookup", "window_out"]
