"""Memory over time: peak activations under liveness, and the training estimate.

Plain functions over a Network's graph and the analysis rows, in the style of networkx
algorithms. Definitions are in docs/definitions.md.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from .graph import Network
    from .report import LayerRow


def peak_activations(net: "Network", rows: Sequence["LayerRow"]) -> tuple[int, str]:
    """Most activation elements alive at once, and the layer running at that moment.

    Layers run in the network's (topological) order. Each layer that is not in place allocates a
    buffer for its output while its inputs are still alive; in-place layers and views share their
    input's buffer. A buffer is freed once the last consumer of every tensor stored in it has run;
    the network's outputs (layers nobody consumes) stay alive to the end. The input counts.
    """
    index = {row.name: i for i, row in enumerate(rows)}
    buffer: dict[str, str] = {}        # tensor -> the layer whose buffer holds it
    size: dict[str, int] = {}
    last_use: dict[str, int] = {}
    end = len(rows)
    for i, row in enumerate(rows):
        buf = buffer[row.inputs[0]] if row.inplace else row.name
        buffer[row.name] = buf
        if not row.inplace:
            size[buf] = row.activations
        uses = [index[s] for s in net.consumers[row.name] if s in index]
        last = max(uses) if uses else end
        last_use[buf] = max(last_use.get(buf, i), last)
    frees: dict[int, list[str]] = {}
    for buf, i in last_use.items():
        frees.setdefault(i, []).append(buf)
    live = peak = 0
    peak_at = rows[0].name if rows else ""
    for i, row in enumerate(rows):
        if not row.inplace:
            live += size[row.name]
        if live > peak:
            peak, peak_at = live, row.name
        for buf in frees.get(i, ()):
            live -= size[buf]
    return peak, peak_at


def training_bytes(params: int, trainable: int, activation_elements: int, dtype_size: int,
                   optimizer_states: int) -> int:
    """Estimate of the bytes one training step holds:
    weights (all parameters, buffers included) + one gradient per trainable parameter
    + ``optimizer_states`` state tensors per trainable parameter (sgd 0, momentum 1, adam 2)
    + every activation of the forward pass kept for backward (the summed activations × batch).
    All at one dtype. Framework workspaces and allocator slack are not included."""
    return dtype_size * (params + trainable * (1 + optimizer_states) + activation_elements)
