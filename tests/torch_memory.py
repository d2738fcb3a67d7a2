"""An independent measurement of what PyTorch holds in memory (docs/definitions.md, "Training
memory"): the reference archcalc's memory model is checked against (tests/test_train_memory.py,
benchmarks/train_memory.py). It never reads archcalc's figures.

* :func:`saved_bytes`: the bytes of the unique storages autograd saves for the backward pass in
  one forward pass (``torch.autograd.graph.saved_tensors_hooks``), parameters' storages apart;
* :class:`LiveBytes`: live tensor bytes, tracked at dispatch level: every storage an op writes
  (a ``TorchDispatchMode`` sees every op, the backward pass's included) is counted from its
  creation until PyTorch frees it (a finalizer on the storage's Python object, which PyTorch
  keeps alive exactly as long as the storage); tensors made before tracking (the weights, the
  input, the optimizer's state) are added with :meth:`LiveBytes.hold`. The peak is the largest
  sum reached, with the op that reached it.
* :func:`inference_peak`, :func:`training_step`: the peaks of a forward pass without autograd
  and of one training step (zero_grad, forward, loss, backward, optimizer step).
"""
from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class LiveBytes(TorchDispatchMode):
    """Live tensor bytes over time, by storage (views and in-place ops add nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, int] = {}           # id of the storage object → bytes
        self.now = 0
        self.peak = 0
        self.peak_at = ""
        self.op = ""

    def hold(self, tensors: Iterable[torch.Tensor]) -> None:
        for t in tensors:
            if isinstance(t, torch.Tensor):
                self._track(t)

    def _track(self, t: torch.Tensor) -> None:
        st = t.untyped_storage()
        key = id(st)
        if key in self.live:
            return
        n = st.nbytes()
        self.live[key] = n
        self.now += n
        if self.now > self.peak:
            self.peak, self.peak_at = self.now, self.op
        weakref.finalize(st, self._free, key)

    def _free(self, key: int) -> None:
        self.now -= self.live.pop(key, 0)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.op = str(func)
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._track(t)
        return out


def saved_bytes(model: torch.nn.Module, x: torch.Tensor,
                amp: torch.dtype | None = None) -> tuple[int, Any]:
    """(bytes of the unique storages saved for backward in one forward pass of ``model`` on
    ``x``, the output): the parameters' and buffers' storages (held anyway) are left out, the
    input's counts where a layer saves it. ``amp``: under ``torch.autocast`` of that dtype."""
    params = {p.untyped_storage().data_ptr() for p in [*model.parameters(), *model.buffers()]}
    seen: dict[int, int] = {}
    keep: list[torch.Tensor] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        if st.data_ptr() not in params:
            seen[st.data_ptr()] = st.nbytes()
        keep.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), _autocast(x, amp):
        out = model(x)
    return sum(seen.values()), out


def inference_peak(model: torch.nn.Module, x: torch.Tensor) -> int:
    """The peak of live bytes in a forward pass without autograd, in eval mode: the input, the
    weights and buffers, and every activation while alive (eager PyTorch)."""
    meter = LiveBytes()
    meter.hold([x, *model.parameters(), *model.buffers()])
    was = model.training
    model.eval()
    try:
        with torch.no_grad(), meter:
            model(x)
    finally:
        model.train(was)
    return meter.peak


def training_step(model: torch.nn.Module, x: torch.Tensor,
                  optimizer: torch.optim.Optimizer,
                  loss: Callable[[Any], torch.Tensor] | None = None,
                  steps: int = 2, amp: torch.dtype | None = None,
                  accumulate: int = 1) -> LiveBytes:
    """The live bytes of ``steps`` training steps (the optimizer's state is made on the first;
    the last step's figures are the steady state's): zero_grad(set_to_none), forward, a loss
    (the output's sum by default), backward, optimizer step. The input, weights, buffers and
    any optimizer state that exists are held from the start. ``amp``: the forward pass and
    the loss under ``torch.autocast`` of that dtype (the backward pass outside it).
    ``accumulate``: the batch runs as that many micro-batches (slices of ``x``), each with its
    forward and backward pass, their gradients summed before the step."""
    meter = LiveBytes()
    meter.hold([x, *model.parameters(), *model.buffers()])
    n = x.shape[0]
    size = -(-n // accumulate)
    with meter:
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            for start in range(0, n, size):
                with _autocast(x, amp):
                    out = model(x[start:start + size])
                    value = loss(out) if loss is not None else _sum(out)
                value.backward()
                del out, value
            optimizer.step()
    return meter


def _sum(out: Any) -> torch.Tensor:
    parts = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
    return sum(t.float().sum() for t in parts)  # type: ignore[return-value]


def _autocast(x: torch.Tensor, amp: torch.dtype | None) -> Any:
    import contextlib
    if amp is None:
        return contextlib.nullcontext()
    return torch.autocast(x.device.type, dtype=amp)
