"""Where an activation's elements are when ONNX holds it as neither [N, C, H, W] nor [N, C].

Transformers keep their activations as token sequences [N, T, C], channels last [N, H, W, C],
or partitioned into windows ([N·windows, M², C], MaxViT's [N, windows, M², C]); their exporters
reach these by Reshape and Transpose. archcalc's layer sees the same volume H×W×C whatever the
arrangement (a per-token op does the same work on every place), so such a view is no layer: the
activation keeps its volume and records its :class:`Layout`: its ONNX dimensions, which of them
holds the channels, and which place (image pixel or token) each position of the other
dimensions holds. A view that moves the channels as a whole (Transpose, Reshape, Squeeze,
Unsqueeze) gives a new layout; one that splits or merges them is not a view archcalc follows.

Places are numbered ``n·H·W + h·W + w`` (n the image of the batch): row-major, as PyTorch's
``x.flatten(2)`` orders tokens. :attr:`Layout.places` is None while the places are in that order
(as a conv's output, a ``tokens`` layer's output, or after a Transpose to channels last); else a
numpy array of the non-channel dimensions (numpy is imported only where a view reorders
places). An attention reads its groups (a window, a grid cell, every token) from it
(:mod:`.attention`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import NDArray


@dataclass(frozen=True, eq=False)
class Layout:
    """An activation's ONNX dimensions ``dims``, its channel axis ``chan``, and the place each
    position of the other axes holds (``places``, None for row-major order)."""
    dims: tuple[int, ...]
    chan: int
    places: NDArray[Any] | None = None

    @property
    def rest(self) -> tuple[int, ...]:
        """The dimensions other than the channels'."""
        return self.dims[:self.chan] + self.dims[self.chan + 1:]

    def with_channels(self, c: int) -> Layout:
        dims = list(self.dims)
        dims[self.chan] = c
        return Layout(tuple(dims), self.chan, self.places)

    def place_array(self) -> NDArray[Any]:
        """The places, materialized (row-major where :attr:`places` is None)."""
        import numpy as np
        if self.places is not None:
            return self.places
        return np.arange(math.prod(self.rest)).reshape(self.rest)

    def same(self, other: Layout | None) -> bool:
        """Whether ``other`` holds the same elements at the same positions."""
        if other is None or other.dims != self.dims or other.chan != self.chan:
            return False
        if self.places is None and other.places is None:
            return True
        import numpy as np
        return bool(np.array_equal(self.place_array(), other.place_array()))

    def describe(self) -> str:
        """"[1, 56, 56, 96], channels last" and the like, for messages."""
        shown = "[" + ", ".join(str(d) for d in self.dims) + "]"
        where = "channels last" if self.chan == len(self.dims) - 1 else \
            f"channels on axis {self.chan}"
        order = "" if self.places is None else ", places reordered"
        return f"{shown}, {where}{order}"


def classic(dims: Sequence[int], batch: int) -> Layout:
    """The layout of [N, C, H, W] or [N, C]."""
    return Layout(tuple(dims), 1, None)


def _normalize(places: NDArray[Any] | None) -> NDArray[Any] | None:
    """None where ``places`` is the row-major order."""
    if places is None:
        return None
    import numpy as np
    flat = places.reshape(-1)
    if flat.size and np.array_equal(flat, np.arange(flat.size)):
        return None
    return places


def normalized(lay: Layout) -> Layout:
    """``lay`` with its places None where they are in row-major order."""
    return Layout(lay.dims, lay.chan, _normalize(lay.places))


def reshape(lay: Layout, dims: Sequence[int]) -> Layout | None:
    """``lay`` viewed as ``dims`` (a Reshape, Squeeze, Unsqueeze or Flatten), or None where the
    view splits or merges the channels with other axes. The channels stay whole where an axis of
    the new shape has their size and the elements before it are as many as before them."""
    dims = tuple(int(d) for d in dims)
    if math.prod(dims) != math.prod(lay.dims):
        return None
    c = lay.dims[lay.chan]
    before = math.prod(lay.dims[:lay.chan])
    k, run = None, 1
    for i, d in enumerate(dims):
        if run == before and d == c:
            k = i
            break
        run *= d
        if run > before:
            break
    if k is None:
        return None
    rest = dims[:k] + dims[k + 1:]
    if lay.places is None:
        return Layout(dims, k, None)
    return Layout(dims, k, _normalize(lay.places.reshape(rest)))


def transpose(lay: Layout, perm: Sequence[int]) -> Layout:
    """``lay`` with its axes in the order ``perm`` (a Transpose)."""
    dims = tuple(lay.dims[p] for p in perm)
    k = list(perm).index(lay.chan)
    rest_perm = [p - (p > lay.chan) for p in perm if p != lay.chan]
    if lay.places is None and rest_perm == sorted(rest_perm):
        return Layout(dims, k, None)
    places = lay.place_array().transpose(rest_perm)
    return Layout(dims, k, _normalize(places))


def unit_channels_last(lay: Layout) -> Layout:
    """``lay``, of one channel, with its last axis (of size 1 too) taken for the channels': the
    same elements at the same positions (a view of one channel cannot tell its channel axis
    from another of size 1; :func:`reshape` takes the first that fits)."""
    last = len(lay.dims) - 1
    assert lay.dims[lay.chan] == 1 == lay.dims[last]
    rest = lay.dims[:last]
    return Layout(lay.dims, last, _normalize(lay.place_array().reshape(rest)))


def squeezed_rest(lay: Layout, batch: int) -> tuple[int, ...]:
    """The non-channel dimensions without the batch's (where it is more than 1, the first) and
    without those of size 1: (H, W) for a map, (T,) for a token sequence."""
    rest = list(lay.rest)
    if batch > 1 and rest and rest[0] == batch:
        rest = rest[1:]
    return tuple(d for d in rest if d != 1)


def groups(places: NDArray[Any], size: int, hw: tuple[int, int]
           ) -> tuple[str, tuple[int, int], tuple[int, int]] | None:
    """What runs of ``size`` consecutive places of ``places`` (flattened) are, on a map of
    ``hw``: ("all", ...) every place of an image; ("window", (Mh, Mw), (sh, sw)) an Mh×Mw
    block, cyclically shifted by (sh, sw) (Swin's shifted windows); ("grid", (Gh, Gw), (0, 0))
    Gh×Gw places spaced H/Gh and W/Gw apart (MaxViT's grid). None for anything else (padded
    places, a group that is neither)."""
    import numpy as np
    h, w = hw
    flat = places.reshape(-1)
    if flat.size % size or (flat < 0).any():
        return None
    runs = flat.reshape(-1, size)
    image = runs // (h * w)
    if (image != image[:, :1]).any():           # a group never spans two images
        return None
    local = runs % (h * w)
    if size == h * w:
        return "all", (h, w), (0, 0)
    rows, cols = local // w, local % w
    r0, c0 = rows[:, :1], cols[:, :1]
    k = np.arange(size)
    actual = np.sort(local, axis=1)
    for mh in range(1, size + 1):
        if size % mh:
            continue
        mw = size // mh
        if mh > h or mw > w:
            continue
        i, j = k // mw, k % mw
        if h % mh == 0 and w % mw == 0:
            want = ((r0 + i) % h) * w + (c0 + j) % w
            if np.array_equal(np.sort(want, axis=1), actual):
                return "window", (mh, mw), (int(r0[0, 0]) % mh, int(c0[0, 0]) % mw)
    for gh in range(1, size + 1):
        if size % gh:
            continue
        gw = size // gh
        if h % gh or w % gw:
            continue
        sh, sw = h // gh, w // gw
        i, j = k // gw, k % gw
        spaced = (r0 + i * sh) * w + (c0 + j * sw)
        if (r0 < sh).all() and (c0 < sw).all() and \
                np.array_equal(np.sort(spaced, axis=1), actual):
            return "grid", (gh, gw), (0, 0)
    return None
