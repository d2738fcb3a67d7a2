"""The ``everything`` convention: a ledger of every arithmetic operation of every layer, per
image, by category (docs/definitions.md, "The operations ledger").

Each op kind has a rule giving its work as items: a category (``mul``; ``add``, additions and
subtractions; ``div``; ``exp``, the exponential and the other transcendental functions: erf,
tanh, square root, power; ``cmp``, comparisons and max), what the work is, its formula and its
number, and which of the other conventions count that work. A convention that counts a MAC
counts a multiply and, for flopcounter, its add: the ledger's ``mul`` of a conv, fc, linear or
attention is exactly archcalc's MACs, and its ``add`` sums the products (MACs − E where a sum of
k products needs k − 1 additions), plus one per output where a bias is added. flopcounter's
2·MACs is the products, their sums and one add more per output: the bias's where there is one
(without a bias, one per output more than the work done).

Not counted anywhere: sign flips, moves and copies (views, concatenation, padding, nearest
upsampling, the token ops) and the index arithmetic of windows. An ``opaque`` layer (an ONNX
node archcalc does not know) is unknown: it is left out of the ledger and said so."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod
from typing import NamedTuple

from ..ops import OPS, Attrs, Vol
from ..report import LayerRow, Report

CATEGORIES = ("mul", "add", "div", "exp", "cmp")
WORDS = {"mul": "multiplications", "add": "additions and subtractions", "div": "divisions",
         "exp": "exponentials and other transcendental functions (erf, tanh, sqrt, pow)",
         "cmp": "comparisons (max, min)"}
MACS = ("torchvision", "fvcore", "flopcounter")      # the conventions that count a product
UNKNOWN = ("opaque",)                                 # ops whose work is unknown


class Item(NamedTuple):
    """One term of a layer's ledger."""
    category: str           # one of CATEGORIES
    what: str
    formula: str
    value: int
    by: tuple[str, ...] = ()    # the other conventions that count this work


_Rule = Callable[[Attrs, Sequence[Vol], Vol], list[Item]]


def _e(v: Vol) -> int:
    return prod(v)


def _dot(what: str, muls: int, mul_f: str, sums: int, n_f: str, bias: bool) -> list[Item]:
    """``sums`` sums of ``muls`` products in all (``sums`` outputs): the products, the additions
    that sum them (k − 1 for a sum of k), and a bias added to each output."""
    items = [Item("mul", f"{what} products (the MACs)", mul_f, muls, MACS),
             Item("add", f"{what} sums (k − 1 for k products)",
                  f"{mul_f} − {n_f}", muls - sums, ("flopcounter",))]
    if bias:       # flopcounter's 2 per product: the k − 1 sums and one add more, the bias's
        items.append(Item("add", f"{what} bias", n_f, sums, ("flopcounter",)))
    return items


# --- weight layers ----------------------------------------------------------------------------

def _conv(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
    (kh, kw), c = a["kernel"], ins[0][2]
    g = c if "multiplier" in a else a["groups"]
    macs = _e(out) * (c // g) * kh * kw
    return _dot("conv", macs, "H'·W'·K·(C/g)·F_h·F_w", _e(out), "H'·W'·K", a["bias"])


def _landing(n_in: int, k: int, s: int, p: int, d: int, n_out: int) -> list[int]:
    """Along one axis of a transposed convolution: how many of the (input place, kernel tap)
    products land on each output place (o + P on the uncropped axis)."""
    hits = [0] * n_out
    for i in range(n_in):
        for j in range(k):
            o = i * s + j * d - p
            if 0 <= o < n_out:
                hits[o] += 1
    return hits


def _conv_transpose(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
    (h, w, c), (oh, ow, k) = ins[0], out
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = a["kernel"], a["stride"], a["padding"], \
        a["dilation"]
    g = a["groups"]
    macs = h * w * c * (k // g) * kh * kw
    rows, cols = _landing(h, kh, sh, ph, dh, oh), _landing(w, kw, sw, pw, dw, ow)
    landed = (c // g) * k * sum(rows) * sum(cols)       # products inside the output
    places = sum(1 for r in rows if r) * sum(1 for q in cols if q)
    sums = places * k                                    # outputs that receive a product
    items = [Item("mul", "transposed-conv products (the MACs: every input value times every "
                  "weight it meets, those cropped by the padding included)",
                  "H·W·C·(K/g)·F_h·F_w", macs, MACS),
             Item("add", "transposed-conv sums (the products that land on each output place, "
                  "less one)", "landed − outputs reached", landed - sums, ("flopcounter",))]
    if a["bias"]:
        items.append(Item("add", "transposed-conv bias", "outputs reached", sums))
    return items


def _fc(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
    n = _e(ins[0])
    return _dot("fc", n * out[2], "N_in·N_out", out[2], "N_out", a["bias"])


def _linear(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
    h, w, c = ins[0]
    return _dot("linear", h * w * c * out[2], "H·W·C·U", _e(out), "H·W·U", a["bias"])


def _softmax(n: int, g: int, where: str, n_f: str, g_f: str) -> list[Item]:
    """``n`` softmaxes of ``g`` values each: the max (for stability), x − max, exp, the sum, and
    the division."""
    return [Item("cmp", f"{where} softmax: the max of each row", f"{n_f}·({g_f} − 1)",
                 n * (g - 1)),
            Item("add", f"{where} softmax: subtract the max", f"{n_f}·{g_f}", n * g),
            Item("exp", f"{where} softmax: exp", f"{n_f}·{g_f}", n * g),
            Item("add", f"{where} softmax: the sum of each row", f"{n_f}·({g_f} − 1)",
                 n * (g - 1)),
            Item("div", f"{where} softmax: divide by the sum", f"{n_f}·{g_f}", n * g)]


def _attention(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
    op = OPS["attention"]
    h, w, c = ins[0]
    n, d, g, heads = h * w, op.inner(a, c), op.group(a, ins), a["heads"]   # type: ignore
    hd = d // heads
    items: list[Item] = []
    if len(ins) > 1:
        hk, wk, ck = ins[1]
        items += _dot("q projection", n * c * d, "N·C·D", n * d, "N·D", a["qkv_bias"])
        items += _dot("k, v projection", hk * wk * ck * 2 * d, "N₂·C₂·2D", hk * wk * 2 * d,
                      "N₂·2D", a["qkv_bias"])
    else:
        items += _dot("q, k, v projection", n * c * 3 * d, "N·C·3D", n * 3 * d, "N·3D",
                      a["qkv_bias"])
    hng = heads * n * g
    items += [Item("mul", "QKᵀ products (the MACs)", "N·G·D", n * g * d, MACS),
              Item("add", "QKᵀ sums", "heads·N·G·(head_dim − 1)", hng * (hd - 1),
                   ("flopcounter",)),
              Item("mul", "scaling by 1/√head_dim", "heads·N·G", hng)]
    if a["relpos"]:
        items.append(Item("add", "relative-position bias", "heads·N·G", hng))
    if any(a["shift"]):
        items.append(Item("add", "the shifted windows' mask", "heads·N·G", hng))
    items += _softmax(heads * n, g, "attention", "heads·N", "G")
    items += [Item("mul", "weighted sum products (the MACs)", "N·G·D", n * g * d, MACS),
              Item("add", "weighted sum sums", "N·(G − 1)·D", n * (g - 1) * d,
                   ("flopcounter",))]
    if a["proj"]:
        items += _dot("output projection", n * d * c, "N·D·C", n * c, "N·C", a["proj_bias"])
    return items


# --- normalization ----------------------------------------------------------------------------

def _normalize(groups: int, n: int, g_f: str, n_f: str, affine: bool) -> list[Item]:
    """``groups`` groups of ``n`` elements each normalised by their own mean and variance:
    mean (n − 1 adds, a division), variance (x − μ, its square, their sum, a division), + eps,
    √, (x − μ)/σ, and the affine γ·x + β."""
    k = groups
    items = [Item("add", "mean: the sum", f"{g_f}·({n_f} − 1)", k * (n - 1)),
             Item("div", "mean: divide by n", g_f, k),
             Item("add", "variance: x − μ", f"{g_f}·{n_f}", k * n),
             Item("mul", "variance: the squares", f"{g_f}·{n_f}", k * n),
             Item("add", "variance: their sum", f"{g_f}·({n_f} − 1)", k * (n - 1)),
             Item("div", "variance: divide by n", g_f, k),
             Item("add", "+ eps", g_f, k),
             Item("exp", "square root", g_f, k),
             Item("div", "normalize: (x − μ)/σ", f"{g_f}·{n_f}", k * n)]
    if affine:
        items += [Item("mul", "affine: ·γ", f"{g_f}·{n_f}", k * n),
                  Item("add", "affine: + β", f"{g_f}·{n_f}", k * n)]
    return [i._replace(by=("fvcore",)) for i in items]     # fvcore: 5 (4) per element for all


def _batchnorm(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
    e = _e(out)
    return [Item("mul", "scale (the statistics and γ folded into one factor)", "H·W·C", e,
                 ("fvcore",)),
            Item("add", "shift (β − scale·μ folded)", "H·W·C", e, ("fvcore",))]


def _layernorm(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
    h, w, c = ins[0]
    return _normalize(h * w, c, "H·W", "C", True)


def _groupnorm(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
    h, w, c = ins[0]
    g = a["groups"]
    return _normalize(g, h * w * c // g, "G", "(H·W·C/G)", True)


def _instancenorm(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
    h, w, c = ins[0]
    return _normalize(c, h * w, "C", "(H·W)", a["affine"])


def _lrn(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
    e, n = _e(out), a["size"]
    # b = x / (k + α/n · Σ x²)^β over a window of n channels, zero-padded at the ends (as
    # PyTorch's LocalResponseNorm computes it)
    return [Item("mul", "the squares", "H·W·C", e),
            Item("add", "the window sums", "H·W·C·(n − 1)", e * (n - 1)),
            Item("mul", "· α/n", "H·W·C", e),
            Item("add", "+ k", "H·W·C", e),
            Item("exp", "^β", "H·W·C", e),
            Item("div", "x / the denominator", "H·W·C", e)]


# --- element-wise -----------------------------------------------------------------------------

def _each(*parts: tuple[str, str, int]) -> _Rule:
    """An element-wise op: per output element, ``k`` operations of each (category, what, k)."""
    def rule(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
        e = _e(out)
        return [Item(cat, what, "H·W·C" if k == 1 else f"{k}·H·W·C", k * e)
                for cat, what, k in parts]
    return rule


def _nothing(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
    return []


def _upsample(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
    if a["mode"] == "nearest":
        return []           # a copy of the nearest pixel (fvcore counts 1 per output element)
    e = _e(out)
    return [Item("mul", "bilinear weights: 4 per output", "4·H'·W'·C", 4 * e, ("fvcore",)),
            Item("add", "bilinear sums: 3 per output", "3·H'·W'·C", 3 * e)]


def _softmax_op(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
    h, w, c = out
    return _softmax(h * w, c, "channel", "H·W", "C")


def _merge(cat: str, what: str) -> _Rule:
    def rule(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
        k = len(ins)
        return [Item(cat, what, "H·W·C" if k == 2 else f"{k - 1}·H·W·C", (k - 1) * _e(out))]
    return rule


# --- pooling ----------------------------------------------------------------------------------

def _pool(cat: str) -> _Rule:
    def rule(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
        (kh, kw), e = a["kernel"], _e(out)
        what = "max of each window" if cat == "cmp" else "sum of each window"
        items = [Item(cat, what, "H'·W'·C·(F_h·F_w − 1)", e * (kh * kw - 1))]
        if cat == "add":
            items.append(Item("div", "divide by the window", "H'·W'·C", e))
        return items
    return rule


def _global(cat: str) -> _Rule:
    def rule(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
        h, w, c = ins[0]
        if cat == "cmp":
            return [Item("cmp", "max over the places", "C·(H·W − 1)", c * (h * w - 1))]
        return [Item("add", "sum over the places", "C·(H·W − 1)", c * (h * w - 1), ("fvcore",)),
                Item("div", "divide by H·W", "C", c, ("fvcore",))]
    return rule


def _adaptive(a: Attrs, ins: Sequence[Vol], out: Vol) -> list[Item]:
    from ..ops.windowed import adaptive_windows
    (h, w, c), (oh, ow, _) = ins[0], out
    e = _e(out)
    if h % oh == 0 and w % ow == 0:
        win = (h // oh) * (w // ow)
        return [Item("add", "sum of each window", "H'·W'·C·(window − 1)", e * (win - 1),
                     ("fvcore",)),
                Item("div", "divide by the window", "H'·W'·C", e, ("fvcore",))]
    # uneven windows (PyTorch's): each cell sums its own window's places
    hs = [end - s for s, end in adaptive_windows(h, oh)]
    ws = [end - s for s, end in adaptive_windows(w, ow)]
    adds = c * sum(a_ * b - 1 for a_ in hs for b in ws)
    return [Item("add", "sum of each window (uneven)", "C·Σ(window − 1)", adds, ("fvcore",)),
            Item("div", "divide by the window", "H'·W'·C", e, ("fvcore",))]


RULES: dict[str, _Rule] = {
    "conv": _conv, "dwconv": _conv, "conv_transpose": _conv_transpose, "fc": _fc,
    "linear": _linear, "attention": _attention,
    "batchnorm": _batchnorm, "layernorm": _layernorm, "groupnorm": _groupnorm,
    "instancenorm": _instancenorm, "lrn": _lrn,
    "relu": _each(("cmp", "max(x, 0)", 1)),
    "relu6": _each(("cmp", "min(max(x, 0), 6)", 2)),
    "leaky_relu": _each(("cmp", "the sign test", 1), ("mul", "slope·x", 1)),
    "prelu": _each(("cmp", "the sign test", 1), ("mul", "slope·x", 1)),
    "elu": _each(("cmp", "the sign test", 1), ("exp", "eˣ", 1), ("add", "eˣ − 1", 1),
                 ("mul", "α·(eˣ − 1)", 1)),
    "sigmoid": _each(("exp", "e⁻ˣ", 1), ("add", "1 + e⁻ˣ", 1), ("div", "1/(1 + e⁻ˣ)", 1)),
    "tanh": _each(("exp", "tanh", 1)),
    "silu": _each(("exp", "e⁻ˣ", 1), ("add", "1 + e⁻ˣ", 1), ("div", "1/(1 + e⁻ˣ)", 1),
                  ("mul", "x·σ(x)", 1)),
    "gelu": _each(("exp", "erf", 1), ("mul", "x/√2, ·0.5 and ·x", 3), ("add", "1 + erf", 1)),
    "hardsigmoid": _each(("add", "x + 3", 1), ("cmp", "clamp to [0, 6]", 2), ("mul", "/6", 1)),
    "hardswish": _each(("add", "x + 3", 1), ("cmp", "clamp to [0, 6]", 2),
                       ("mul", "/6 and ·x", 2)),
    "softmax": _softmax_op,
    "maxpool": _pool("cmp"), "avgpool": _pool("add"),
    "global_avgpool": _global("add"), "adaptive_avgpool": _adaptive,
    "global_maxpool": _global("cmp"),
    "add": _merge("add", "the sums"), "mul": _merge("mul", "the products"),
    "upsample": _upsample,
    "pos_embed": _each(("add", "+ the embedding", 1)),
    "layer_scale": _each(("mul", "·γ", 1)),
    "opaque": _nothing,     # unknown: items() gives None, and the layer is left out
    # moves, copies, views and work only training does: nothing
    **dict.fromkeys(("input", "dropout", "flatten", "concat", "slice", "shuffle", "pad", "crop",
                     "tokens", "untokens", "take_token", "class_token", "drop_path",
                     "patch_merge", "pixel_shuffle", "pixel_unshuffle"), _nothing),
}


def items(row: LayerRow, ins: Sequence[Vol]) -> list[Item] | None:
    """``row``'s ledger term by term, or None where its work is unknown (``opaque``)."""
    if row.op in UNKNOWN or row.op not in RULES:
        return None
    return RULES[row.op](row.attrs, ins, row.output)


def ledger(row: LayerRow, ins: Sequence[Vol]) -> dict[str, int]:
    """``row``'s operations by category (every category, 0 where none; all 0 where unknown)."""
    out = dict.fromkeys(CATEGORIES, 0)
    for i in items(row, ins) or []:
        out[i.category] += i.value
    return out


def count(row: LayerRow, ins: Sequence[Vol]) -> int:
    """``row``'s operations, all categories together."""
    return sum(ledger(row, ins).values())


def report_ledger(report: Report) -> dict[str, int]:
    """The network's operations by category, per image, training-only layers left out."""
    vols = {r.name: r.output for r in report.layers}
    out = dict.fromkeys(CATEGORIES, 0)
    for r in report.layers:
        if not r.train_only:
            for k, v in ledger(r, [vols[s] for s in r.inputs]).items():
                out[k] += v
    return out


def unknown(report: Report) -> list[str]:
    """The layers whose work the ledger leaves out: unknown ops."""
    return [r.name for r in report.layers if r.op in UNKNOWN]


__all__ = ["CATEGORIES", "RULES", "UNKNOWN", "Item", "count", "items", "ledger",
           "report_ledger", "unknown"]
