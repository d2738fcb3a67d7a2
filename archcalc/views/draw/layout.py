"""archcalc's own layered layout of a :class:`~archcalc.views.draw.diagram.Diagram`: layers from
networkx's topological generations, long edges through their own slots, barycentre ordering
within layers, a straight spine along a longest path, boxes sized to their (monospaced) text."""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any, NamedTuple

from .diagram import DIRECTIONS, Diagram

# ---------------------------------------------------------------------------------------------
# archcalc's own layered layout and SVG

FONT = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, Courier New, monospace"
FONT_SIZE = 12
CHAR_W = 0.62 * FONT_SIZE    # a monospaced font's advance is 0.60 em (DejaVu, Menlo, Courier)
LINE_H = 15
PAD_X, PAD_Y = 8, 6
GAP_X = 24                   # between two boxes of a layer
DUMMY_W, DUMMY_GAP = 6, 12   # a long edge's slot in a layer it passes through
# what a layer of the drawing holds: a node's name, or ("dummy", edge index, level) where an edge
# passes through the layer
_Item = str | tuple[str, int, int]
GAP_Y = 44                   # between layers: only edges run there
MARGIN = 16
TITLE_SIZE = 14


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """The width of ``text`` in a monospaced font of ``size`` px: wide East Asian characters
    count twice, combining marks not at all."""
    cells = sum(0 if unicodedata.combining(c) else
                2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return cells * 0.62 * size


class Box(NamedTuple):
    x: float          # left
    y: float          # top
    w: float
    h: float


def _box_size(lines: Sequence[str]) -> tuple[float, float]:
    return (max(text_width(x) for x in lines) + 2 * PAD_X, len(lines) * LINE_H + 2 * PAD_Y)


def _place(desired: list[float], seps: list[float],
           weights: list[float] | None = None) -> list[float]:
    """Positions as close as possible (weighted least squares) to ``desired`` that keep the
    order and at least ``seps[i]`` between item i and i + 1: isotonic regression (pool adjacent
    violators) on the desired positions less the minimal offsets."""
    offsets = [0.0]
    for s in seps:
        offsets.append(offsets[-1] + s)
    weights = weights or [1.0] * len(desired)
    blocks: list[list[float]] = []          # [weighted sum, weight, count]
    for d, o, w in zip(desired, offsets, weights):
        blocks.append([(d - o) * w, w, 1])
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] > blocks[-1][0] * blocks[-2][1]:
            s, w, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += w
            blocks[-1][2] += c
    out = []
    for s, w, c in blocks:
        out += [s / w] * int(c)          # c: a count
    return [y + o for y, o in zip(out, offsets)]


def _toward(xs: list[float], here: float) -> float:
    """Where an item wants to be: the mean x of its neighbours (boxes only, where it has any:
    a skip's slot would otherwise pull each merge, and the drawing would drift sideways)."""
    return sum(xs) / len(xs) if xs else here


def _crossings(pairs: list[tuple[int, int]]) -> int:
    pairs.sort()
    n = 0
    for i in range(len(pairs)):
        a1, b1 = pairs[i]
        for a2, b2 in pairs[i + 1:]:
            if a2 > a1 and b2 < b1:
                n += 1
    return n


class Layout(NamedTuple):
    boxes: dict[str, Box]                       # node name → its box
    # per edge: ("M", x, y), ("L", x, y), ("C", x1, y1, x2, y2, x, y)
    paths: list[list[tuple[Any, ...]]]
    width: float
    height: float


def layout(d: Diagram, top: float = 0.0, direction: str = "TB") -> Layout:
    """Layered layout: each node in its topological generation (networkx), long edges broken
    into one slot per layer they cross, the order within layers by barycentre sweeps (the order
    with the fewest crossings kept), x positions by least squares towards the neighbours'
    (order and spacing kept), and every edge drawn in its own slot through a layer and as a
    curve in the gap between layers, so that no edge runs through a box.

    ``direction`` "TB" stacks the layers top to bottom (edges leave a box's bottom side and
    enter the next one's top); "LR" lines them up left to right (out of a box's right side,
    into the next one's left). The layout is computed once in its own frame — across a layer
    (``x`` below) and along the layers (``y``) — with each box's sides swapped for LR, and
    turned into the page's x and y at the end; ``top`` is where the drawing starts below its
    heading in either case."""
    import networkx as nx
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    across = direction == "LR"                   # the frame's x runs down the page
    g = nx.DiGraph()
    index = {n.name: i for i, n in enumerate(d.nodes)}
    g.add_nodes_from(index)
    g.add_edges_from((e.src, e.dst) for e in d.edges)
    gens = [sorted(gen, key=index.__getitem__) for gen in nx.topological_generations(g)]
    level = {name: i for i, gen in enumerate(gens) for name in gen}
    size = {n.name: _box_size(n.lines) for n in d.nodes}
    if across:                                   # in the frame: (across a layer, along)
        size = {k: (h, w) for k, (w, h) in size.items()}
    # items: node names, or ("dummy", edge index, level) for an edge passing through a layer
    layers: list[list[_Item]] = [list(gen) for gen in gens]
    chains: list[list[_Item]] = []
    for k, e in enumerate(d.edges):
        chain: list[_Item] = [e.src]
        for lv in range(level[e.src] + 1, level[e.dst]):
            dummy = ("dummy", k, lv)
            layers[lv].append(dummy)
            chain.append(dummy)
        chain.append(e.dst)
        chains.append(chain)
    up: dict = {it: [] for layer in layers for it in layer}
    down: dict = {it: [] for layer in layers for it in layer}
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            down[a].append(b)
            up[b].append(a)

    def order_key(it: _Item) -> float:
        return index[it] if not isinstance(it, tuple) else index[d.edges[it[1]].dst] - 0.5

    for layer in layers:
        layer.sort(key=order_key)
    pos = {it: i for layer in layers for i, it in enumerate(layer)}

    def crossings() -> int:
        return sum(_crossings([(pos[a], pos[b]) for a in layer for b in down[a]])
                   for layer in layers[:-1])

    best, best_order = crossings(), [list(layer) for layer in layers]
    for sweep in range(8):
        downward = sweep % 2 == 0
        seq = range(1, len(layers)) if downward else range(len(layers) - 2, -1, -1)
        for i in seq:
            nbr = up if downward else down
            layer = layers[i]
            keys = {it: (sum(pos[x] for x in nbr[it]) / len(nbr[it]) if nbr[it] else pos[it])
                    for it in layer}
            layer.sort(key=lambda it: (keys[it], pos[it]))
            for j, it in enumerate(layer):
                pos[it] = j
        c = crossings()
        if c < best:
            best, best_order = c, [list(layer) for layer in layers]
        if best == 0:
            break
    layers = best_order
    pos = {it: i for layer in layers for i, it in enumerate(layer)}

    def width(it: _Item) -> float:
        return DUMMY_W if isinstance(it, tuple) else size[it][0]

    def seps(layer: list[_Item]) -> list[float]:
        return [(width(a) + width(b)) / 2 +
                (DUMMY_GAP if isinstance(a, tuple) or isinstance(b, tuple) else GAP_X)
                for a, b in zip(layer, layer[1:])]

    # the spine: a longest path, one box in every layer, drawn as a straight vertical line;
    # everything else is placed around it (without it, each merge placed between its inputs
    # would shift the rest of the drawing sideways, block after block)
    spine = set(nx.dag_longest_path(g))
    x: dict = {}
    for layer in layers:
        for it, v in zip(layer, _place([0.0] * len(layer), seps(layer))):
            x[it] = v
    for rnd in range(11):              # the last sweep downward: chains hang straight
        downward = rnd % 2 == 0
        seq = range(1, len(layers)) if downward else range(len(layers) - 2, -1, -1)
        for i in seq:
            nbr = up if downward else down
            layer = layers[i]
            want = [0.0 if it in spine else
                    _toward([x[n] for n in nbr[it] if not isinstance(n, tuple)] or
                            [x[n] for n in nbr[it]], x[it]) for it in layer]
            # the spine stays put; a long edge's slot gives way to boxes
            weights = [1000.0 if it in spine else 0.01 if isinstance(it, tuple) else 1.0
                       for it in layer]
            for it, v in zip(layer, _place(want, seps(layer), weights)):
                x[it] = v
    left = min(x[it] - width(it) / 2 for layer in layers for it in layer)
    start_x, start_y = (top, MARGIN) if across else (MARGIN, top)
    for it in x:
        x[it] += start_x - left
    right = max(x[it] + width(it) / 2 for layer in layers for it in layer) + MARGIN

    band_top, band_h = [], []
    y = start_y
    for layer in layers:
        h = max(size[it][1] for it in layer if not isinstance(it, tuple))
        band_top.append(y)
        band_h.append(h)
        y += h + GAP_Y
    height = y - GAP_Y + MARGIN
    boxes = {}
    for i, layer in enumerate(layers):
        for it in layer:
            if not isinstance(it, tuple):
                w, h = size[it]
                boxes[it] = Box(x[it] - w / 2, band_top[i] + (band_h[i] - h) / 2, w, h)

    # ports: a node's edges leave (and enter) spread along its bottom (top) side, in the order
    # of the next (previous) point's x, so that edges do not cross at a box
    def ports(name: str, others: list[_Item]) -> dict[int, float]:
        w = boxes[name].w
        n = len(others)
        step = min(14.0, (w - 2 * PAD_X) / max(n - 1, 1))
        ranked = sorted(range(n), key=lambda k: x[others[k]])
        return {k: x[name] + (r - (n - 1) / 2) * step for r, k in enumerate(ranked)}

    out_port, in_port = {}, {}
    by_src: dict = {}
    by_dst: dict = {}
    for k, ch in enumerate(chains):
        by_src.setdefault(ch[0], []).append(k)
        by_dst.setdefault(ch[-1], []).append(k)
    for name, ks in by_src.items():
        px = ports(name, [chains[k][1] for k in ks])
        for j, k in enumerate(ks):
            out_port[k] = px[j]
    for name, ks in by_dst.items():
        px = ports(name, [chains[k][-2] for k in ks])
        for j, k in enumerate(ks):
            in_port[k] = px[j]

    paths = []
    for k, chain in enumerate(chains):
        src, dst = chain[0], chain[-1]
        assert isinstance(src, str) and isinstance(dst, str)    # a chain joins two nodes
        box = boxes[src]
        cx, cy = out_port[k], box.y + box.h
        path: list[tuple[Any, ...]] = [("M", cx, cy)]
        lv = level[src]
        bottom = band_top[lv] + band_h[lv]
        if bottom > cy:
            path.append(("L", cx, bottom))
        cy = bottom
        for it in chain[1:]:
            lv += 1
            top_y = band_top[lv]
            nx_ = in_port[k] if it == dst else x[it]
            end_y = boxes[dst].y if it == dst else top_y
            mid = (cy + top_y) / 2
            path.append(("C", cx, mid, nx_, mid, nx_, top_y))
            if end_y > top_y:
                path.append(("L", nx_, end_y))
            if it != dst:
                bottom = top_y + band_h[lv]
                path.append(("L", nx_, bottom))
                cy = bottom
            cx = nx_
        paths.append(path)
    if across:                                   # the frame's (x, y) is the page's (y, x)
        boxes = {k: Box(b.y, b.x, b.h, b.w) for k, b in boxes.items()}
        paths = [[(p[0], *(v for i in range(1, len(p), 2) for v in (p[i + 1], p[i])))
                  for p in path] for path in paths]
        return Layout(boxes, paths, height, right)
    return Layout(boxes, paths, right, height)


def shifted(lay: Layout, dx: float) -> Layout:
    """``lay`` moved right by ``dx``."""
    boxes = {k: b._replace(x=b.x + dx) for k, b in lay.boxes.items()}
    paths = [[(p[0], *(v + dx if i % 2 == 0 else v for i, v in enumerate(p[1:])))
              for p in path] for path in lay.paths]
    return Layout(boxes, paths, lay.width + dx, lay.height)
