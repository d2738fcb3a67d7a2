"""Training memory as eager PyTorch holds it (docs/training-memory.md defines every term).

One training step (``zero_grad(set_to_none=True)``, forward, backward, optimizer step) is
replayed layer by layer on byte counts, in the order PyTorch runs it:

* forward: each layer allocates its output (in-place ops and views share their input's storage)
  and the extra tensors its op keeps (BatchNorm's per-channel statistics, max pooling's int64
  indices, dropout's mask, autocast's copies); a storage is freed once nothing reads it, no
  module that is still running holds it (eager PyTorch: a module's input lives until the module
  returns) and no node of the backward graph saved it (:data:`SAVES`, PyTorch's
  derivatives.yaml);
* backward: the layers in reverse; each allocates the gradients of its inputs (an add passes
  its gradient on, a concatenation hands out slices of it, a view reshapes it) and of its
  weights (kept to the optimizer step), then frees what it saved and the gradient of its output;
* optimizer step: the weights, their gradients and the optimizer's state (made on the first step:
  the steady state is modelled), plus the temporaries of PyTorch's ``foreach`` implementation
  (Adam's ``_foreach_sqrt`` of the second moment: one tensor per parameter).

Activation checkpointing (``checkpoint``) keeps a chosen block's input instead of what its layers
save, and runs its forward pass again when its backward starts; gradient accumulation
(``accumulate``) runs micro-batches of ``batch / accumulate`` images, the gradients of the
earlier ones alive during the later ones. Mixed precision (``amp``) follows autocast's op lists.

The per-op rules are keyed by op kind here; they belong beside each op in archcalc/ops (a
``saves`` method per op), where they would move unchanged.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from math import ceil, prod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..graph import Network
    from ..report import LayerRow
    from ..settings import Settings

# --- the optimizers ------------------------------------------------------------------------
# state tensors per trainable parameter, each of the parameter's dtype ("adafactor" and
# "adam8bit" are computed per weight: see _state_bytes)
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2, "adafactor": 0,
                    "adam8bit": 0}
# temporaries of the foreach step, in parameters' worth (Adam: _foreach_sqrt of exp_avg_sq)
# (Adafactor's, per weight: see _step_temps)
OPTIMIZER_TEMPS = {"sgd": 0, "momentum": 0, "adam": 1, "adamw": 1, "adafactor": 1,
                   "adam8bit": 0}
AMP = ("off", "bf16", "fp16")

# --- autocast's op lists (torch/csrc/autograd/autocast_mode.cpp) ------------------------------
# ops that autocast runs in the low precision (their inputs cast, their weights cast once per
# forward pass and cached)
_LOW = frozenset({"conv", "dwconv", "conv_transpose", "fc", "linear", "attention"})
# ops that autocast runs in fp32 (CUDA's list; on CPU none of archcalc's ops is on it)
_FP32 = {"cuda": frozenset({"softmax", "layernorm", "groupnorm"}), "cpu": frozenset()}

# --- what autograd saves, per op kind (derivatives.yaml) ---------------------------------------
# "in": its input(s); "out": its output; "" nothing (add, concat, views, upsampling, padding)
SAVES: dict[str, str] = {
    "conv": "in", "dwconv": "in", "conv_transpose": "in", "fc": "in", "linear": "in",
    "batchnorm": "in", "layernorm": "in", "groupnorm": "in", "instancenorm": "in",
    "maxpool": "in", "avgpool": "in", "adaptive_avgpool": "in", "global_maxpool": "in",
    "relu": "out", "sigmoid": "out", "tanh": "out", "softmax": "out",
    "relu6": "in", "leaky_relu": "in", "elu": "in", "gelu": "in", "silu": "in",
    "hardswish": "in", "hardsigmoid": "in", "prelu": "in", "mul": "in", "layer_scale": "in",
    "lrn": "in", "attention": "in", "opaque": "in", "drop_path": "",
    "global_avgpool": "", "add": "", "concat": "", "flatten": "", "upsample": "", "pad": "",
    "crop": "", "slice": "", "shuffle": "", "pixel_shuffle": "", "pixel_unshuffle": "",
    "tokens": "", "untokens": "", "take_token": "", "class_token": "", "pos_embed": "",
    "patch_merge": "", "dropout": "", "input": "",
}
# in place, these save a copy of their input (autograd's formula reads the input, which the op
# overwrites: derivatives.yaml has no in-place formula for them); relu, leaky_relu and elu have
# one that reads the output, and keep nothing more in place
_CLONED = frozenset({"relu6", "hardswish", "silu", "hardsigmoid"})
# backward passes the output's gradient on to its inputs without a new tensor
_PASS = frozenset({"add", "concat", "flatten", "tokens", "untokens", "input"})


def _normalized_name(text: str) -> str:
    return text.strip().strip("/.")


def checkpoint_segments(names: Iterable[str], targets: Sequence[str]) -> dict[str, str]:
    """Layer → the checkpointed segment it belongs to. A target names a block instance
    (``layer3.1``) or a stage whose instances are ``TARGET.i`` (``layer3``: every block of it,
    each its own segment), or a layer name prefix (``features.2``)."""
    out: dict[str, str] = {}
    wanted = [_normalized_name(t) for t in targets if t and t.strip()]
    for name in names:
        for t in wanted:
            if name == t or name.startswith(t + "/"):
                out[name] = t
                break
            if name.startswith(t + "."):
                # a stage: the segment is its instance, TARGET.i (up to the next / or .)
                rest = name[len(t) + 1:]
                inst = rest.split("/", 1)[0].split(".", 1)[0]
                out[name] = f"{t}.{inst}"
                break
    return out


@dataclass(frozen=True)
class Training:
    """What one training step holds (bytes; see docs/training-memory.md)."""
    peak: int                   # the training-step peak (``Totals.training_bytes``)
    phase: str                  # where it happens: "forward", "backward" or "optimizer"
    layer: str                  # the layer running at the peak (the optimizer: "step")
    weights: int                # parameters and buffers, at their storage dtype
    grads: int                  # one gradient per trainable parameter (the parameters' dtype)
    states: int                 # the optimizer's state
    step_temps: int             # the optimizer step's temporaries
    saved: int                  # saved for the backward pass, one micro-batch (the input and
                                # autocast's weight copies included where a layer saves them)
    casts: int                  # autocast's low-precision copies of the weights
    end_of_forward: int         # live bytes when the forward pass ends
    recompute_macs: int         # the checkpointed blocks' MACs run again (per step)
    micro_batch: int
    accumulate: int
    inference: int              # the inference peak of eager PyTorch (weights and input in)
    inference_layer: str
    per_layer: dict[str, int] = field(default_factory=dict)   # bytes each layer's node saves
    # what the peak is made of: weights, input, optimizer state, gradients, step temporaries,
    # saved for backward, activations and their gradients (the rest); sums to ``peak``
    at_peak: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in
                ("peak", "phase", "layer", "weights", "grads", "states", "step_temps", "saved",
                 "casts", "end_of_forward", "recompute_macs", "micro_batch", "accumulate",
                 "inference", "inference_layer")}


class Lazy:
    """The training step of an analysed network, replayed when first asked for (``get``): the
    analysis pass stays as fast as it was for what does not need it. Pickled, it is the
    record."""

    __slots__ = ("args", "value")

    def __init__(self, net: Network, rows: Sequence[LayerRow], settings: Settings) -> None:
        self.args: tuple[Network, Sequence[LayerRow], Settings] | None = (net, rows, settings)
        self.value: Training | None = None

    def get(self) -> Training:
        if self.value is None:
            assert self.args is not None
            net, rows, s = self.args
            self.value = simulate(net, rows, s, optimizer=s.optimizer, amp=s.amp,
                                  checkpoint=s.checkpoint, accumulate=s.accumulate,
                                  device=s.backend)
            self.args = None
        return self.value

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (_done, (self.get(),))


def _done(value: Training) -> Training:
    return value


class _Mem:
    """Storages by key with reference counts; the running sum and its peak, with what the sum
    was made of at the peak (the storages saved for backward and the weights' gradients apart
    from the rest)."""

    __slots__ = ("at", "kept", "now", "parts", "peak", "refs", "saved_now", "size", "wgrads")

    def __init__(self, base: int) -> None:
        self.now = base
        self.peak = base
        self.at = ("forward", "")
        self.size: dict[object, int] = {}
        self.refs: dict[object, int] = {}
        self.kept: set[object] = set()       # storages some backward node saved
        self.saved_now = 0                   # their bytes, while alive
        self.wgrads = 0                      # the weights' gradients made so far
        self.parts = (0, 0)                  # (saved_now, wgrads) at the peak

    def alloc(self, key: object, nbytes: int, refs: int = 1) -> None:
        self.size[key] = nbytes
        self.refs[key] = refs
        self.now += nbytes

    def ref(self, key: object, n: int = 1) -> None:
        self.refs[key] += n

    def save(self, key: object) -> None:
        if key not in self.kept and key in self.size:
            self.kept.add(key)
            self.saved_now += self.size[key]

    def unref(self, key: object, n: int = 1) -> None:
        left = self.refs.get(key)
        if left is None:
            return
        left -= n
        if left <= 0:
            b = self.size.pop(key)
            self.now -= b
            del self.refs[key]
            if key in self.kept:
                self.kept.discard(key)
                self.saved_now -= b
        else:
            self.refs[key] = left

    def grad(self, nbytes: int) -> None:
        self.now += nbytes
        self.wgrads += nbytes

    def check(self, layer: str, phase: str) -> None:
        if self.now > self.peak:
            self.peak, self.at = self.now, (phase, layer)
            self.parts = (self.saved_now, self.wgrads)


def _param_shape(row: LayerRow) -> list[tuple[int, ...]]:
    """The shapes of a layer's trainable tensors, as PyTorch holds them (Adafactor's state
    follows their last two axes); the weight of a conv is O×I/g×kh×kw, of a linear O×I."""
    a = row.attrs
    n = row.trainable_params
    if not n:
        return []
    if row.op in ("conv", "dwconv", "conv_transpose") and "kernel" in a:
        kh, kw = a.get("kernel") or (1, 1)
        bias = row.output[2] if a.get("bias", True) else 0
        w = n - bias
        rest = w // max(1, kh * kw)
        out = row.output[2]
        return [(out, max(1, rest // max(1, out)), kh, kw)] + ([(bias,)] if bias else [])
    if row.op in ("fc", "linear"):
        units = row.output[2]
        bias = units if a.get("bias", True) else 0
        return [(units, max(1, (n - bias) // units))] + ([(bias,)] if bias else [])
    return [(n,)]


def _step_temps(optimizer: str, rows: Sequence[LayerRow], trainable: int, pbytes: int) -> int:
    """The optimizer step's temporaries at their largest, in bytes. Adam's foreach step holds
    the square root of every second moment at once; Adafactor's the estimate of every second
    moment (row_var @ col_var, the parameter's size) beside the mean of each row variance
    (the parameter's size over its last two axes)."""
    if optimizer == "adafactor":
        total = 0
        for row in rows:
            for shape in _param_shape(row):
                total += prod(shape) + (prod(shape[:-2]) if len(shape) > 1 else 0)
        return total * pbytes
    return OPTIMIZER_TEMPS[optimizer] * trainable * pbytes


def _state_bytes(optimizer: str, rows: Sequence[LayerRow], trainable: int, pbytes: int) -> int:
    """The optimizer's state in bytes."""
    if optimizer == "adafactor":    # torch.optim.Adafactor: no momentum, the second moment
        total = 0                   # factored over the last two axes (a row and a column)
        for row in rows:
            for shape in _param_shape(row):
                if len(shape) > 1:
                    lead = prod(shape[:-2])
                    total += lead * (shape[-2] + shape[-1])
                else:
                    total += shape[0]
        return total * pbytes
    if optimizer == "adam8bit":     # bitsandbytes: two uint8 states, an fp32 scale per 2048
        blocks = ceil(trainable / 2048)     # (its block-wise quantization), for each state
        return 2 * (trainable + 4 * blocks)
    return OPTIMIZER_STATES[optimizer] * trainable * pbytes


def simulate(net: Network, rows: Sequence[LayerRow], settings: Settings, *,
             optimizer: str = "adam", amp: str = "off", checkpoint: Sequence[str] = (),
             accumulate: int = 1, device: str = "cuda",
             inplace_adds: Iterable[str] = ()) -> Training:
    """The training step and the eager inference peak of ``net`` (its analysed ``rows``)."""
    size = settings.dtype_bytes
    batch = settings.batch
    accumulate = max(1, min(accumulate, batch))
    micro = ceil(batch / accumulate)
    adds = frozenset(inplace_adds) | {r.name for r in rows
                                      if r.op == "add" and r.attrs.get("inplace")}
    low = 2 if amp != "off" else size
    fp32 = _FP32.get(device, _FP32["cuda"])

    params = sum(r.params for r in rows)
    trainable = sum(r.trainable_params for r in rows)
    buffers = sum(r.buffers for r in rows)
    weights = (params + buffers) * size
    pbytes = size                                   # parameters' dtype (fp32 master under amp)
    grads = trainable * pbytes
    states = _state_bytes(optimizer, rows, trainable, pbytes)
    temps = _step_temps(optimizer, rows, trainable, pbytes)
    in_bytes = prod(net.input) * batch * size       # the whole batch, held by the caller
    vols = {r.name: r.output for r in rows}
    vols["input"] = net.input

    # ---- the dtype of every tensor ---------------------------------------------------------
    dt: dict[str, int] = {}
    for r in rows:
        if r.op == "input" or amp == "off":
            dt[r.name] = size
        elif r.op in _LOW:
            dt[r.name] = low
        elif r.op in fp32:
            dt[r.name] = 4
        else:
            dt[r.name] = max((dt.get(s, size) for s in r.inputs), default=size)

    def nbytes(name: str) -> int:
        return prod(vols[name]) * micro * dt[name]

    segments = checkpoint_segments((r.name for r in rows), checkpoint)
    holds = _holders(rows)
    position = {r.name: i for i, r in enumerate(rows)}
    # held to that layer's end: freed there, or at its last read if that comes later
    until = {t: position[last] for t, last in holds.items()}
    release_at: dict[str, list[str]] = {}         # a module's last layer → tensors it held
    for t, last in holds.items():
        release_at.setdefault(last, []).append(t)

    infer, infer_at = _inference(net, rows, size, batch, adds, until, release_at, position)

    # ---- forward ----------------------------------------------------------------------------
    # held from the start: weights, optimizer state, the batch (a micro-batch is a view of it)
    # and, accumulating, the gradients of the earlier micro-batches
    mem = _Mem(weights + states + in_bytes + (grads if accumulate > 1 else 0))
    readers: dict[str, int] = {}                  # tensor → forward reads still to come
    for r in rows:
        for s in r.inputs:
            readers[s] = readers.get(s, 0) + 1
    outputs = {r.name for r in rows if r.op != "input" and not readers.get(r.name)}
    store: dict[str, object] = {"input": "input"}  # tensor → its storage
    mem.alloc("input", 0, 1 << 30)                 # counted in the base
    saved: dict[object, int] = {}                 # storage → its bytes, once saved
    saved_by: dict[str, list[object]] = {}        # layer → the storages its node holds
    per_layer: dict[str, int] = {}
    seg_layers: dict[str, list[LayerRow]] = {}
    seg_held: set[tuple[str, str]] = set()
    seg_made: dict[str, set[object]] = {}         # block → the storages its layers make
    seg_saved: dict[str, list[tuple[str, object, int]]] = {}   # block → (layer, storage, bytes)
    casts = 0
    for i, r in enumerate(rows):
        name, op = r.name, r.op
        if op == "input":
            continue
        seg = segments.get(name)
        if seg is not None:
            seg_layers.setdefault(seg, []).append(r)
        if ((r.inplace and len(r.inputs) == 1) or (name in adds and r.inputs)) \
                and not _masks(r):
            key = store[r.inputs[0]]
            mem.ref(key)
        else:
            key = name
            mem.alloc(key, nbytes(name))
            if seg is not None:
                seg_made.setdefault(seg, set()).add(key)
        store[name] = key
        keep: list[object] = []                   # storages its node saves
        made: list[object] = []                   # tensors the op makes only to save them
        kind = SAVES.get(op, "in")
        if op in _CLONED and key != name:         # in place: a copy of its input is saved
            mem.alloc(("clone", name), nbytes(r.inputs[0]))
            made.append(("clone", name))
        elif kind == "in":
            for s in dict.fromkeys(r.inputs):
                if amp != "off" and op in _LOW and dt[s] != low:
                    ckey = ("cast", name, s)      # autocast's low-precision copy of the input
                    mem.alloc(ckey, prod(vols[s]) * micro * low)
                    made.append(ckey)
                else:
                    keep.append(store[s])
        elif kind == "out":
            keep.append(key)
        if amp != "off" and op in _LOW and r.trainable_params:
            casts += r.trainable_params * low     # the weight's cast (cached, then saved)
            mem.alloc(("wcast", name), r.trainable_params * low)
            made.append(("wcast", name))
        extra = _extras(r, micro, dt[name], device, amp != "off")
        if extra:
            mem.alloc(("extra", name), extra)
            made.append(("extra", name))
        mem.check(name, "forward")
        if seg is not None:                       # checkpointed: its node saves nothing but
            # (what it would save, made again when the block's backward starts)
            again = seg_saved.setdefault(seg, [])
            for k in keep:
                if k in seg_made.get(seg, ()):
                    again.append((name, k, mem.size.get(k, 0)))
            for k in made:
                again.append((name, k, mem.size.get(k, 0)))
            keep = []                             # the block's inputs (once per block)
            for k in made:
                mem.unref(k)
            made = []
            for s in r.inputs:
                if segments.get(s) != seg and (seg, s) not in seg_held:
                    seg_held.add((seg, s))
                    keep.append(store[s])
        for k in keep:
            mem.ref(k)
        for k in keep + made:
            mem.save(k)
        mine = 0
        for k in keep + made:
            if k not in saved:
                b = mem.size.get(k, 0) if k != "input" else prod(net.input) * micro * size
                saved[k] = b
                mine += b
        per_layer[name] = mine
        saved_by[name] = keep + made
        for s in r.inputs:                        # inputs read for the last time are freed
            readers[s] -= 1                       # unless a running module still holds them
            if not readers[s] and until.get(s, -1) < i and s not in outputs:
                mem.unref(store[s])
        for s in release_at.get(name, ()):
            if not readers.get(s) and s not in outputs:
                mem.unref(store[s])
    end_forward = mem.now
    saved_total = sum(saved.values())

    # ---- backward ---------------------------------------------------------------------------
    grad: dict[str, object] = {}                  # tensor → its gradient's storage
    for o in outputs:                             # the loss's gradient: an expanded scalar
        grad[o] = ("g", o)
        mem.alloc(("g", o), 0)
    recomputed: set[str] = set()
    for r in reversed(rows):
        name, op = r.name, r.op
        if op == "input":
            continue
        seg = segments.get(name)
        if seg is not None and seg not in recomputed:
            recomputed.add(seg)                   # the block runs again: what it saves returns
            users: dict[object, list[str]] = {}
            sizes: dict[object, int] = {}
            for layer, k, b in seg_saved.get(seg, ()):
                users.setdefault(k, []).append(layer)
                sizes[k] = b
            for k, layers in users.items():
                mem.alloc(("re", k), sizes[k], len(layers))
                mem.save(("re", k))
                for layer in layers:
                    saved_by[layer] = saved_by.get(layer, []) + [("re", k)]
            mem.check(name, "backward")
        g = grad.pop(name, None)
        if g is None:                             # nothing downstream needs it
            for k in saved_by.get(name, ()):
                mem.unref(k)
            continue
        made = []
        for s in dict.fromkeys(r.inputs):
            if s == "input":
                continue                          # the input needs no gradient
            if op in _PASS or (r.inplace and _is_view(op)) or (op == "drop_path"
                                                               and not _masks(r)):
                contrib: object = g               # handed on (a slice, a view, the same)
                mem.ref(g)
            else:
                contrib = ("g", name, s)
                mem.alloc(contrib, nbytes(s))
                made.append(contrib)
            old = grad.get(s)
            if old is None:
                grad[s] = contrib
                continue
            # a tensor read twice: its two gradients are summed, in place into one that
            # nothing else holds, else into a new tensor
            if mem.refs.get(old) == 1:
                mem.unref(contrib)
            elif mem.refs.get(contrib) == 1:
                mem.unref(old)
                grad[s] = contrib
            else:
                summed = ("sum", name, s)
                mem.alloc(summed, nbytes(s))
                mem.check(name, "backward")
                mem.unref(old)
                mem.unref(contrib)
                grad[s] = summed
        wg = r.trainable_params
        cast = amp != "off" and op in _LOW and wg
        if cast:                                  # autocast: the gradient of the weight's
            mem.alloc(("wg16", name), wg * low)   # low-precision copy comes first ...
        elif wg:
            mem.grad(wg * pbytes)                 # ... else its .grad, kept to the step
        mem.check(name, "backward")
        for k in saved_by.get(name, ()):          # the node is done: what it saved goes
            mem.unref(k)
        mem.unref(g)
        if cast:                                  # ... then the cast's backward node makes
            mem.grad(wg * pbytes)                 # the fp32 .grad from it
            mem.check(name, "backward")
            mem.unref(("wg16", name))
        if accumulate > 1:                        # added into the .grad that exists
            mem.grad(-wg * pbytes)

    # ---- optimizer step ---------------------------------------------------------------------
    # every gradient alive, the state (made on the first step) and the step's temporaries;
    # the outputs the caller still holds are negligible beside them and left out
    step_peak = weights + states + in_bytes + grads + temps
    if step_peak > mem.peak:
        mem.peak, mem.at = step_peak, ("optimizer", "step")
        mem.parts = (0, 0 if accumulate > 1 else grads)
    base = weights + states + in_bytes
    held_grads = mem.parts[1] + (grads if accumulate > 1 else 0)
    parts = {"weights": weights, "input": in_bytes, "optimizer state": states,
             "gradients": held_grads,
             "step temporaries": temps if mem.at[0] == "optimizer" else 0,
             "saved for backward": mem.parts[0]}
    parts["activations and their gradients"] = mem.peak - base - held_grads \
        - parts["step temporaries"] - mem.parts[0]
    recompute = sum(sr.macs for layers in seg_layers.values() for sr in layers) * batch
    return Training(mem.peak, mem.at[0], mem.at[1], weights, grads, states, temps,
                    saved_total, casts, end_forward, recompute, micro, accumulate,
                    infer + weights, infer_at, per_layer, parts)


def _is_view(op: str) -> bool:
    return op in ("flatten", "crop", "slice", "take_token")


def _masks(r: LayerRow) -> bool:
    """Dropout and stochastic depth in training (a rate above 0): the output is a new tensor,
    the input times a mask (torchvision's modules are not in place)."""
    return r.op in ("dropout", "drop_path") and bool(r.attrs.get("rate"))


def _vol(rows: Sequence[LayerRow], name: str, net: Network) -> tuple[int, int, int]:
    if name == "input":
        return net.input
    for r in rows:
        if r.name == name:
            return r.output
    raise KeyError(name)


def _extras(r: LayerRow, micro: int, dsize: int, device: str, amp: bool = False) -> int:
    """Bytes an op keeps for backward besides its inputs and output."""
    op = r.op
    h, w, c = r.output
    if op == "batchnorm":
        return 2 * c * 4                                   # save_mean, save_invstd (fp32)
    if op == "layernorm":
        return 2 * h * w * micro * 4                       # mean, rstd per token
    if op == "groupnorm":
        return 2 * int(r.attrs.get("groups", 32)) * micro * 4
    if op == "instancenorm":
        return 2 * c * micro * 4
    if op == "maxpool":
        return h * w * c * micro * 8                       # int64 indices
    if op == "dropout":
        if not r.attrs.get("rate"):
            return 0
        return h * w * c * micro * (1 if device == "cuda" else dsize)   # bool / noise mask
    if op == "drop_path":                                  # one mask value per image (fp32)
        return micro * 4 if r.attrs.get("rate") else 0
    if op == "attention":
        # PyTorch's multi-head attention in training: the projected queries, keys and values
        # (one tensor of 3·D per token) and the heads' output (D per token, kept for the
        # output projection); fused attention (scaled_dot_product_attention) keeps a log-sum-exp
        # per head and token in fp32, explicit attention (Swin's windows, MaxViT's grid) its
        # softmax, heads·N·G
        d = _inner(r)
        tokens = h * w * micro
        kept = 4 * d * tokens * dsize
        if r.attrs.get("window") or r.attrs.get("grid"):
            # under autocast the fp32 relative-position bias makes the scores fp32: the
            # softmax is kept in fp32 and its low-precision copy for the product with V too
            matrix = 4 + dsize if amp and r.attrs.get("relpos") else dsize
            return kept + r.scratch * micro * matrix
        return kept + int(r.attrs.get("heads", 1)) * tokens * 4
    if op == "lrn":
        size = int(r.attrs.get("size", 5))
        return int(h * w * micro * dsize * (2 * c + (c + size - 1)))
    return 0


def _inner(r: LayerRow) -> int:
    """Attention's D: heads × head_dim (the input's channels by default)."""
    heads = int(r.attrs.get("heads", 1))
    head_dim = r.attrs.get("head_dim")
    return heads * int(head_dim) if head_dim else r.output[2]


def _holders(rows: Sequence[LayerRow]) -> dict[str, str]:
    """Tensor → the last layer of the outermost running module that holds it past its last
    read (eager PyTorch: a module's caller keeps the module's input until it returns). Modules
    are the block instances (``layer1.0``) and the stages they are numbered in (``layer1``)."""
    last: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for r in rows:
        for mod in _modules(r):
            last[mod] = r.name
            members.setdefault(mod, []).append(r.name)
    out: dict[str, str] = {}
    index = {r.name: i for i, r in enumerate(rows)}
    for mod, names in members.items():
        inside = set(names)
        end = last[mod]
        for n in names:
            for s in _row(rows, index, n).inputs:
                if s not in inside and s != "input":
                    prev = out.get(s)
                    if prev is None or index[end] > index[prev]:
                        out[s] = end
    return out


def _row(rows: Sequence[LayerRow], index: dict[str, int], name: str) -> LayerRow:
    return rows[index[name]]


_MODULES: dict[tuple[tuple[str, ...], str], list[str]] = {}
_CUT = re.compile(r"[./]")


def _modules(r: LayerRow) -> list[str]:
    """The modules a layer runs in, innermost first: its block instances and every prefix of
    its name at a dot or a slash (the shipped specs name layers by PyTorch's module paths:
    ``layer1.0/conv1`` runs in ``layer1.0`` and ``layer1``, ``…/mlp.1`` in ``…/mlp``)."""
    key = (r.scope, r.name)
    got = _MODULES.get(key)
    if got is None:
        mods = dict.fromkeys(reversed(r.scope))
        cuts = [m.start() for m in _CUT.finditer(r.name)]
        for at in reversed(cuts):
            mods[r.name[:at]] = None
        got = [m for m in mods if m]
        if len(_MODULES) < 65536:
            _MODULES[key] = got
    return got


def _inference(net: Network, rows: Sequence[LayerRow], size: int, batch: int,
               adds: frozenset[str], until: dict[str, int],
               release_at: dict[str, list[str]], position: dict[str, int]) -> tuple[int, str]:
    """The peak of live activation bytes of an eager forward pass without autograd (the input
    included, weights not) and the layer it happens at."""
    rows = [r for r in rows if not r.train_only]
    readers: dict[str, int] = {}
    for r in rows:
        for s in r.inputs:
            readers[s] = readers.get(s, 0) + 1
    live = prod(net.input) * batch * size
    peak, at = live, "input"
    store: dict[str, str] = {"input": "input"}
    nbytes: dict[str, int] = {"input": live}
    refs: dict[str, int] = {"input": 1 << 30}
    outputs = {r.name for r in rows if r.op != "input" and not readers.get(r.name)}

    def drop(tensor: str) -> int:
        key = store[tensor]
        refs[key] -= 1
        return nbytes.pop(key) if refs[key] == 0 else 0

    # a chain of concatenations (DenseNet's growing stack): eager PyTorch keeps the pieces in a
    # list and concatenates them anew for each layer, so every piece stays alive until the
    # module holding the list returns
    chained = _chains(rows)
    ops = {r.name: r.op for r in rows}
    listed: dict[str, list[str]] = {}     # a module's last layer → the pieces its list holds
    for r in rows:
        if r.op == "input":
            continue
        name = r.name
        if (r.inplace and len(r.inputs) == 1) or name in adds:
            key = store[r.inputs[0]]
            store[name] = key
            refs[key] += 1
        else:
            store[name] = name
            nbytes[name] = b = prod(r.output) * batch * size
            refs[name] = 1
            live += b
        # max pooling makes its int64 indices even without autograd (ATen's max_pool2d is
        # max_pool2d_with_indices), dropped as it returns
        scratch = prod(r.output) * batch * 8 if r.op == "maxpool" else 0
        if live + scratch > peak:
            peak, at = live + scratch, name
        if name in chained:                   # its pieces join the list
            last = chained[name]
            for s in r.inputs:
                if ops.get(s) != "concat" and s in store:
                    refs[store[s]] += 1
                    listed.setdefault(last, []).append(s)
        i = position[name]
        for s in r.inputs:
            readers[s] -= 1
            if not readers[s] and until.get(s, -1) < i and s not in outputs:
                live -= drop(s)
        for s in release_at.get(name, ()):
            if not readers.get(s) and s not in outputs:
                live -= drop(s)
        for s in listed.pop(name, ()):
            live -= drop(s)
    return peak, at


def _chains(rows: Sequence[LayerRow]) -> dict[str, str]:
    """A concatenation that reads another or is read by another (a chain: DenseNet's dense
    block) → the last layer of the outermost module it runs in: where eager PyTorch's list of
    its pieces is dropped."""
    last: dict[str, str] = {}
    for r in rows:
        for mod in _modules(r):
            last[mod] = r.name
    ops = {r.name: r.op for r in rows}
    members: set[str] = set()
    for r in rows:
        if r.op == "concat":
            for s in r.inputs:
                if ops.get(s) == "concat":
                    members.update((s, r.name))
    out: dict[str, str] = {}
    for r in rows:
        if r.name in members:
            mods = _modules(r)
            if mods:
                out[r.name] = last[mods[-1]]
    return out


__all__ = ["Training", "Lazy", "simulate", "checkpoint_segments", "SAVES", "OPTIMIZER_STATES",
           "AMP"]
