"""Memory over time: activation storage and its peak under liveness, and the training estimate.

Definitions are in docs/definitions.md. :class:`Storage` follows the layers as the analysis pass
runs them (``analysis.walk``) and decides, in the same step, where each output is stored (in
place or in a buffer of its own) and how many elements are alive; ``training_bytes`` is a plain
function.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..graph import Network
    from ..report import LayerRow


class Storage:
    """Activation buffers while the layers run in the network's (topological) order.

    Each layer that is not in place allocates a buffer for its output while its inputs are still
    alive; in-place layers and views share their input's buffer. A buffer is freed once every
    read of every tensor stored in it has happened; the network's outputs (tensors nobody reads)
    stay alive to the end. An in-place op may overwrite its input's buffer only when no other
    layer still has to read a tensor kept there. The bookkeeping is a count of the reads still
    to come per buffer, so each layer costs a few dictionary operations whatever the network.
    """

    __slots__ = ("buffer", "consumers", "kept", "live", "outputs", "peak", "peak_at", "pending",
                 "seen", "size", "watch")

    def __init__(self, consumers: dict[str, list[str]],
                 outputs: Iterable[str] | None = None) -> None:
        self.consumers = consumers     # tensor -> the layers that read it (one entry per read)
        # outputs the spec declares (kept to the end even where later layers read them)
        self.outputs = frozenset(outputs or ())
        self.buffer: dict[str, str] = {}    # tensor -> the layer whose buffer holds it
        self.pending: dict[str, int] = {}   # buffer -> reads of its tensors still to come
        self.size: dict[str, int] = {}      # buffer -> elements
        self.kept: set[str] = set()         # buffers holding a network output: never freed
        self.live = self.peak = 0
        self.peak_at = ""
        self.watch: str | None = None       # see alive_while
        self.seen: dict[str, int] = {}

    def run(self, name: str, inputs: tuple[str, ...], elements: int, inplace: bool,
            view: bool = False, scratch: int = 0) -> bool:
        """Run layer ``name`` reading ``inputs`` and writing ``elements``. ``inplace``: it may
        overwrite its (single) input; ``view``: it never copies; ``scratch``: elements it holds
        while it runs besides its output (attention's matrix), alive with its inputs and output
        and freed when it ends. Returns whether its output shares its input's buffer."""
        buffer, pending = self.buffer, self.pending
        readers = len(self.consumers[name])
        if len(inputs) == 1:               # most layers: one input, no loops
            root = buffer[inputs[0]]
            left = pending[root] - 1       # its read happens now
            # an in-place op never overwrites a buffer that holds an output of the network
            if view or (inplace and not left and root not in self.kept):
                buffer[name] = root
                pending[root] = left + readers
                if not readers or name in self.outputs:
                    self.kept.add(root)
                return True
            pending[root] = left
            self._allocate(name, elements, readers, scratch)
            if not left and root not in self.kept:
                self.live -= self.size.pop(root)
                pending[root] = -1
            return False
        for src in inputs:
            pending[buffer[src]] -= 1
        self._allocate(name, elements, readers, scratch)
        for src in inputs:                 # buffers nobody reads any more are freed
            buf = buffer[src]
            if not pending[buf] and buf not in self.kept:
                self.live -= self.size.pop(buf)
                pending[buf] = -1          # freed (a second input in the same buffer skips it)
        return False

    def _allocate(self, name: str, elements: int, readers: int, scratch: int = 0) -> None:
        self.buffer[name] = name
        self.pending[name] = readers
        self.size[name] = elements
        if not readers or name in self.outputs:
            self.kept.add(name)
        self.live += elements
        if self.live + scratch > self.peak:
            self.peak, self.peak_at = self.live + scratch, name
        if name == self.watch:
            self.seen = dict(self.size)

    def skip(self, inputs: tuple[str, ...]) -> None:
        """A layer that could not be analyzed: its reads of the inputs that exist still count."""
        for src in inputs:
            if src in self.buffer:
                self.pending[self.buffer[src]] -= 1


def alive_while(net: Network, rows: Iterable[LayerRow], name: str) -> dict[str, int]:
    """The buffers alive while layer ``name`` runs (its output just allocated, its inputs not yet
    freed), each with its elements: the moment the peak is measured. Replays the storage
    decisions the analysis pass recorded in the rows (in place or not)."""
    store = Storage(net.inference_consumers, net.declared_outputs)
    store.watch = name
    for row in rows:
        if row.train_only:              # not run in inference (see Layer.train_only)
            continue
        store.run(row.name, row.inputs, row.activations, False, row.inplace, row.scratch)
        if row.name == name:
            return store.seen or dict(store.size)
    raise KeyError(name)


def training_bytes(params: int, trainable: int, activation_elements: int, dtype_size: int,
                   optimizer_states: int) -> int:
    """Estimate of the bytes one training step holds:
    weights (all parameters, buffers included) + one gradient per trainable parameter
    + ``optimizer_states`` state tensors per trainable parameter (sgd 0, momentum 1, adam 2)
    + every activation of the forward pass kept for backward (the summed activations and
    attention matrices × batch).
    All at one dtype. Framework workspaces and allocator slack are not included."""
    return dtype_size * (params + trainable * (1 + optimizer_states) + activation_elements)
