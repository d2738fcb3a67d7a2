"""Spec strings: the lectures' shorthand letters and the VGG paper's tokens, in one grammar.

    spec   := item*                       items separated by white space (or none, for letters)
    item   := '(' spec ')' REPEAT | word
    REPEAT := ('x' | '*' | '×') N         e.g. (CR)x3, (C3D64 C3D64 M)x2

A word is either a run of shorthand letters (C conv, R ReLU, P or M max pool, S softmax) or one
token (C3D64, C11D96S4P0, M3S2, FC4096, LRN, conv3-64, maxpool, FC-4096, soft-max, ...).
The full token table is in docs/spec-languages.md. Words are case-insensitive.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..errors import ArchcalcError, Diagnostic, SourcePos, error
from ..graph import MAX_LAYERS, Builder, Layer
from ..ops import DEFAULT_ROUNDING
from ..ops.words import article, closest

Attrs = dict[str, Any]                  # a layer's attributes, as written or validated
PosOf = Callable[[int], SourcePos]      # an offset in the text → its place
# (word, running width) → the word's layers, validated, and the running width after them
WordMemo = dict[tuple[str, int], tuple[list[tuple[str, Attrs]], int]]

MAX_NESTING = 32
LETTERS = re.compile(r"[CRPMS]+", re.I)


@dataclass
class Defaults:
    """What shorthand letters and bare tokens mean when the spec does not say."""
    filters: int = 64                 # filters of a letter C
    double_after_pool: bool = False   # the lectures' "filters double after each max pool"
    conv_kernel: int = 3
    conv_stride: int = 1
    conv_padding: object = "same"
    pool_kernel: int = 2
    pool_stride: int | None = None    # None: a pool's stride is its kernel
    bias: bool = True
    rounding: str = DEFAULT_ROUNDING
    width: int = field(default=0, repr=False)   # running width of letter convs

    def __post_init__(self) -> None:
        self.width = self.filters

    def pool(self, kind: str, given: Attrs) -> tuple[str, Attrs]:
        """A pool layer's attributes: what is ``given``, else these defaults (a stride left
        unset is the kernel: one rule, in ops._Pool). A max pool doubles the running width of
        letter convs when ``double_after_pool`` is set."""
        attrs = dict(given)
        attrs.setdefault("kernel", self.pool_kernel)
        if self.pool_stride is not None:
            attrs.setdefault("stride", self.pool_stride)
        self.pooled(kind)
        return (kind, attrs)

    def pooled(self, kind: str) -> None:
        """After a pool layer of ``kind``: a max pool doubles the running width of letter convs
        when ``double_after_pool`` is set."""
        if kind == "maxpool" and self.double_after_pool:
            self.width *= 2


def _opts(s: str, allowed: str, word: str, pos: SourcePos) -> dict[str, int]:
    """Options such as S4P0G2 after a token's head: letter then number, each at most once."""
    out: dict[str, int] = {}
    for m in re.finditer(r"([A-Z])(\d+)|(.)", s, re.I):
        if m.group(3) is not None or m.group(1).upper() not in allowed:
            rest = s[m.start():]
            rep = re.fullmatch(r"[x*×](\d+)", rest, re.I)
            raise error(f"unexpected {rest!r} in token {word!r}", pos,
                        hint=f"a repeat takes parentheses: ({word[:len(word) - len(rest)]})"
                             f"x{rep.group(1)}" if rep else
                        f"options after the size are {', '.join(allowed)} followed by a "
                        "number, e.g. C11D96S4P0 (stride 4, padding 0)")
        key = m.group(1).upper()
        if key in out:
            raise error(f"option {key} given twice in {word!r}", pos)
        out[key] = int(m.group(2))
    return out


_CONV = re.compile(r"C(\d+)(?:X(\d+))?D(\d+)(.*)", re.I)
_CONV_PAPER = re.compile(r"conv(\d+)(?:x(\d+))?-(\d+)", re.I)
_DW = re.compile(r"DW(\d+)(?:X(\d+))?(.*)", re.I)
_POOL = re.compile(r"([MA])(\d+)?(?:X(\d+))?(.*)", re.I)
FC_TOKEN = re.compile(r"FC-?(\d+)", re.I)
_RESAMPLE = re.compile(r"(UP|SHUF)(\d+)", re.I)
_NAMED: dict[str, tuple[str, Attrs]] = {
    "s": ("softmax", {}), "softmax": ("softmax", {}), "soft-max": ("softmax", {}),
    "r": ("relu", {}), "relu": ("relu", {}),
    "lrn": ("lrn", {}), "bn": ("batchnorm", {}), "batchnorm": ("batchnorm", {}),
    "do": ("dropout", {}), "drop": ("dropout", {}), "dropout": ("dropout", {}),
    "gap": ("global_avgpool", {}), "flatten": ("flatten", {}),
    "tanh": ("tanh", {}), "sigmoid": ("sigmoid", {}),
    # activations, norms, global max pooling
    "r6": ("relu6", {}), "relu6": ("relu6", {}), "hs": ("hardswish", {}),
    "hardswish": ("hardswish", {}), "hsig": ("hardsigmoid", {}),
    "hardsigmoid": ("hardsigmoid", {}), "silu": ("silu", {}), "swish": ("silu", {}),
    "gelu": ("gelu", {}), "lrelu": ("leaky_relu", {}), "prelu": ("prelu", {}),
    "elu": ("elu", {}), "gn": ("groupnorm", {}), "ln": ("layernorm", {}),
    "in": ("instancenorm", {}), "gmp": ("global_maxpool", {}),
}
_GN = re.compile(r"GN(\d+)", re.I)


_PATHLIKE = re.compile(r"[/\\]|\.(ya?ml|tsv|md|txt|spec|onnx)$", re.I)


def word_layers(word: str, pos: SourcePos, d: Defaults) -> list[tuple[str, Attrs]]:
    """The (op, attributes) a word stands for; letters may stand for several layers."""
    low = word.lower()
    if _PATHLIKE.search(word):
        raise error(f"unknown token {word!r}", pos, hint=_token_hint(word))
    sep = re.search(r"[,;|]", word)
    if sep and len(word) > 1:
        parts = [p for p in re.split(r"[,;|]+", word) if p]
        raise error(f"unexpected {sep.group(0)!r} in {word!r}", pos,
                    hint=f"words are separated by spaces: {' '.join(parts)}")
    if LETTERS.fullmatch(word) and low not in ("s",):
        out: list[tuple[str, Attrs]] = []
        for ch in low:
            if ch == "c":
                out.append(("conv", {"filters": d.width, "kernel": d.conv_kernel,
                                     "stride": d.conv_stride, "padding": d.conv_padding,
                                     "bias": d.bias}))
            elif ch == "r":
                out.append(("relu", {}))
            elif ch == "s":
                out.append(("softmax", {}))
            else:
                out.append(d.pool("maxpool", {}))
        return out
    if low in _NAMED:
        op, named = _NAMED[low]
        return [(op, dict(named))]
    if low in ("maxpool", "pool"):
        return [d.pool("maxpool", {})]
    if low == "avgpool":
        return [d.pool("avgpool", {})]
    m = _GN.fullmatch(word)
    if m:
        return [("groupnorm", {"groups": int(m.group(1))})]
    m = FC_TOKEN.fullmatch(word)
    if m:
        return [("fc", {"units": int(m.group(1)), "bias": d.bias})]
    m = _CONV_PAPER.fullmatch(word)
    if m:
        k = (int(m.group(1)), int(m.group(2) or m.group(1)))
        return [("conv", {"filters": int(m.group(3)), "kernel": k, "stride": d.conv_stride,
                          "padding": d.conv_padding, "bias": d.bias})]
    m = _CONV.fullmatch(word)
    if m:
        o = _opts(m.group(4), "SPG", word, pos)
        k = (int(m.group(1)), int(m.group(2) or m.group(1)))
        return [("conv", {"filters": int(m.group(3)), "kernel": k,
                          "stride": o.get("S", d.conv_stride),
                          "padding": o.get("P", d.conv_padding),
                          "groups": o.get("G", 1), "bias": d.bias})]
    m = _DW.fullmatch(word)
    if m:
        o = _opts(m.group(3), "SP", word, pos)
        k = (int(m.group(1)), int(m.group(2) or m.group(1)))
        return [("dwconv", {"kernel": k, "stride": o.get("S", d.conv_stride),
                            "padding": o.get("P", d.conv_padding), "bias": d.bias})]
    m = _RESAMPLE.fullmatch(word)                # UP2 (nearest ×2), SHUF3 (shuffle)
    if m:
        n = int(m.group(2))
        return [("upsample", {"scale": n}) if m.group(1).lower() == "up"
                else ("shuffle", {"groups": n})]
    if low.startswith(("max", "avg")):          # not M/A options: maxpool3, avgpool2
        raise error(f"unknown token {word!r}", pos, hint=_token_hint(word))
    m = _POOL.fullmatch(word)
    # M3, M3S2, MS2, A: a pool; "attention", "mean": a word, not an M/A with options
    if m and (m.group(2) or re.match(r"[SP]\d", m.group(4), re.I) or low in ("m", "a")):
        o = _opts(m.group(4), "SP", word, pos)
        attrs: Attrs = {}
        if m.group(2):
            attrs["kernel"] = (int(m.group(2)), int(m.group(3) or m.group(2)))
        if "S" in o:
            attrs["stride"] = o["S"]
        if "P" in o:
            attrs["padding"] = o["P"]
        return [d.pool("avgpool" if m.group(1).lower() == "a" else "maxpool", attrs)]
    raise error(f"unknown token {word!r}", pos, hint=_token_hint(word))


# Words without numbers: a "did you mean" among them never invents a size or a filter count.
_NAMED_TOKENS = ["M", "S", "R", "LRN", "BN", "GAP", "dropout", "flatten", "maxpool", "avgpool",
                 "soft-max", "softmax", "relu", "tanh", "sigmoid", "batchnorm",
                 "R6", "HS", "HSIG", "SILU", "GELU", "LRELU", "PRELU", "ELU", "GN", "LN", "IN",
                 "GMP", "relu6", "hardswish", "hardsigmoid", "swish"]
_SHAPES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str | None]]] = [
    # C3X64: an X typed for the D of C3D64 (a second kernel size over 15 is not plausible)
    (re.compile(r"c(\d+)x(\d+)", re.I),
     lambda m: f"did you mean C{m.group(1)}D{m.group(2)} ({m.group(2)} filters of "
               f"{m.group(1)}×{m.group(1)})? ("
               f"{article(m.group(1))} {m.group(1)}×{m.group(2)} kernel is "
               f"C{m.group(1)}x{m.group(2)}D<filters>)" if int(m.group(2)) > 15 else None),
    (re.compile(r"(?:conv|c)(\d+)(?:x(\d+))?", re.I),
     lambda m: f"a conv token names its filters: C{m.group(1)}"
               f"{'x' + m.group(2) if m.group(2) else ''}D<filters> or "
               f"conv{m.group(1)}{'x' + m.group(2) if m.group(2) else ''}-<filters>"),
    (re.compile(r"(?:fc|dense|linear)", re.I),
     lambda m: "a fully connected token names its units: FC<units>, e.g. FC10"),
    (re.compile(r"(?:maxpool|pool|mp)(\d+)(?:x(\d+))?", re.I),
     lambda m: f"a max pool of {m.group(1)}×{m.group(2) or m.group(1)} is M{m.group(1)}"
               f"{'x' + m.group(2) if m.group(2) else ''} (stride S<s>, e.g. M3S2)"),
    (re.compile(r"[x*×](\d+)", re.I),
     lambda m: f"a repeat follows a group in parentheses: (C3D64 R)x{m.group(1)}"),
    (re.compile(r"([CRPMS]+)[x*×](\d+)", re.I),
     lambda m: f"a repeat takes parentheses: ({m.group(1)})x{m.group(2)}"),
    (re.compile(r"(?:dropout|drop|do)-?(0?\.\d+)", re.I),
     lambda m: "write dropout (rate 0.5); another rate is set in YAML: "
               f"{{op: dropout, rate: {m.group(1)}}}"),
    (re.compile(r"([SPG])(\d+)", re.I),      # "C3D64 S2": an option written as its own word
     lambda m: f"{m.group(1).upper()}{m.group(2)} is an option of the token before it "
               f"({ {'S': 'stride', 'P': 'padding', 'G': 'groups'}[m.group(1).upper()]}): write "
               f"it without a space, e.g. C3D64{m.group(1).upper()}{m.group(2)}"),
    (re.compile(r"(?:avgpool|ap)(\d+)", re.I),
     lambda m: f"an average pool of {m.group(1)}×{m.group(1)} is A{m.group(1)}"),
]


def _token_hint(word: str) -> str:
    if _PATHLIKE.search(word):
        return (f"no file {word} exists, so it was read as a spec string: check the path"
                + (" (an .onnx model is not a spec yet)" if word.lower().endswith(".onnx") else ""))
    from ..ops import OP_NAMES, OPS
    from ..ops.base import REQUIRED
    if word.lower() in OP_NAMES and not _PATHLIKE.search(word):
        op = OP_NAMES[word.lower()]
        needs = "".join(f", {k}: …" for k, v in OPS[op].ATTRS.items() if v is REQUIRED)
        return (f"{op} is an op of YAML specs: in a layers: list write it as a mapping, "
                f"{{op: {op}{needs}}} (docs/spec-languages.md lists its attributes); a spec "
                "string's tokens: C<k>D<filters>, M, FC<n>, R, BN …")
    if word.lower() in ("name", "name:"):
        return ("this looks like a column table whose tabs became spaces: separate its cells with "
                "tabs, or write it in Markdown (| Name | A | B |, then a |---| rule)")
    for rx, say in _SHAPES:
        m = rx.fullmatch(word)
        said = say(m) if m else None
        if said:
            return said
    near = closest(word, _NAMED_TOKENS)
    return (f"did you mean {near}? " if near else "") + \
        "tokens: C<k>D<filters>[S<stride>][P<pad>][G<groups>], DW<k>[S<s>][P<p>] (depthwise), " \
        "M[<k>][S<s>][P<p>], A<k> (average " \
        "pool), GAP, GMP, FC<n>, S, R, R6, HS, HSIG, SILU, GELU, LRELU, PRELU, ELU, LRN, BN, " \
        "GN[<groups>], LN, IN, dropout, flatten; letters: C R P M S"


def emit_word(b: Builder, w: Word, d: Defaults,
              memo: WordMemo, **add: Any) -> list[Layer]:
    """Add the layers a word stands for to Builder ``b``; returns them.

    ``memo`` caches each word's validated attributes (keyed by the word and the running width of
    letter convs), so a word repeated 50,000 times is parsed and validated once."""
    key = (w.text, d.width)
    hit = memo.get(key)
    if hit is None:
        from ..ops import lookup
        layers = [(op, lookup(op, w.pos).normalize(attrs, w.pos))
                  for op, attrs in word_layers(w.text, w.pos, d)]
        hit = memo[key] = (layers, d.width)
    layers, d.width = hit
    if add:
        return [b.add(op, attrs, w.pos, ready=True, **add) for op, attrs in layers]
    return [b.follow(op, attrs, w.pos) for op, attrs in layers]


# ---------------------------------------------------------------------------------------------
# the item grammar: words and repeated groups

class Word(NamedTuple):
    """One word of a spec string and where it starts (a named tuple: one per word of a
    100,000-word string)."""
    text: str
    pos: SourcePos


@dataclass
class Group:
    items: list[Item]
    times: int
    pos: SourcePos


Item = Word | Group             # what a spec string is a list of


# a token is '(', ')' with its repeat count, or a word; white space between them is skipped
_TOKEN = re.compile(r"#[^\n]*|\(|\)\s*(?:[x*×]\s*(\d+))?|[^\s()#]+")


def parse_items(text: str, pos_of: PosOf) -> list[Item]:
    """Parse ``text`` into Words and Groups. ``pos_of(offset)`` maps an offset to a SourcePos."""
    stack: list[tuple[list[Item], SourcePos]] = [([], pos_of(0))]
    new_tuple = tuple.__new__          # a Word without the named tuple's Python-level constructor
    items = stack[-1][0]
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        first = tok[0]
        if first == "#":              # a comment, to the end of the line
            continue
        if first == "(":
            pos = pos_of(m.start())
            if len(stack) > MAX_NESTING:
                raise error(f"groups nested deeper than {MAX_NESTING} levels", pos)
            stack.append(([], pos))
            items = stack[-1][0]
        elif first == ")":
            pos = pos_of(m.start())
            if len(stack) == 1:
                raise error("')' without a matching '('", pos, hint="remove it or add a '(' before")
            if m.group(1) is None:
                raise error("a group must be followed by a repeat count, as in (CR)x3", pos,
                            hint="write )x2 after the group, or drop the parentheses")
            times = int(m.group(1))
            if times < 1:
                raise error("a repeat count must be at least 1", pos)
            group, gpos = stack.pop()
            if not group:
                raise error("an empty group repeats nothing", gpos,
                            hint="put layers inside the parentheses, e.g. (CR)x3, or remove it")
            items = stack[-1][0]
            items.append(Group(group, times, gpos))
        else:
            items.append(new_tuple(Word, (tok, pos_of(m.start()))))
    if len(stack) > 1:
        raise error("'(' is never closed", stack[-1][1], hint="add ')x<count>' after the group")
    return stack[0][0]


def count_layers(items: Sequence[Item], sizes: dict[str, int] | None = None) -> int:
    """Words an item list expands to (an upper bound on its layers' count divided by letters).
    ``sizes`` caches each distinct word's count (a literal 100,000-word string has few)."""
    sizes = {} if sizes is None else sizes
    n = 0
    for it in items:
        if isinstance(it, Group):
            n += it.times * count_layers(it.items, sizes)
            if n > MAX_LAYERS:
                return n
        else:
            k = sizes.get(it.text)
            if k is None:
                k = sizes[it.text] = len(it.text) if LETTERS.fullmatch(it.text) else 1
            n += k
    return n


def expand(items: Sequence[Item]) -> Iterator[Word]:
    for it in items:
        if isinstance(it, Group):
            for _ in range(it.times):
                yield from expand(it.items)
        else:
            yield it


# Letter runs that are likely misspellings of one token, with what was probably meant.
MISREAD = {"mp": "M (one max pool) or maxpool", "sm": "S (softmax) or softmax",
           "ms": "M S (a max pool, then softmax)", "pm": "M (one max pool)",
           "pp": "M (one max pool)", "mm": "M (one max pool)", "ss": "S (softmax)",
           "rr": "R (one ReLU)"}
_LETTER_OPS = {"c": "conv", "r": "ReLU", "p": "max pool", "m": "max pool", "s": "softmax"}


def _words(items: Sequence[Item]) -> Iterator[Word]:
    """Every word as written (a group's words once, not once per repetition)."""
    for it in items:
        if isinstance(it, Group):
            yield from _words(it.items)
        else:
            yield it


def _is_token(w: Word) -> bool:
    try:
        word_layers(w.text, w.pos, Defaults())
        return True
    except ArchcalcError:
        return False


def letter_runs(items: Sequence[Item]) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """(errors, warnings) for runs of shorthand letters that are likely misread.

    A run of two or more letters (``CRCRP``) stands for one layer per letter. In a spec that also
    uses tokens (``C3D64``, ``FC10``, ``relu``), where each word is one layer, such a run is an
    error: ``C3D64 R MP`` would otherwise build two max pools. In a spec of letters only, a word
    that looks like a token's misspelling (``MP``, ``SM``) is read as letters, with a warning."""
    words = list(_words(items))
    # each distinct word is matched once (a 100,000-word string has few)
    letters = {t for t in {w.text for w in words} if len(t) > 1 and LETTERS.fullmatch(t)}
    if not letters:
        return [], []
    runs = [w for w in words if w.text in letters]
    token = next((w for w in words if not LETTERS.fullmatch(w.text) and _is_token(w)), None)
    errors: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    for w in runs:
        read = ", ".join(f"{ch} ({_LETTER_OPS[ch.lower()]})" for ch in w.text)
        meant = MISREAD.get(w.text.lower())
        if token is not None:
            hint = (f"did you mean {meant}? " if meant else "") + \
                "a spec that uses tokens takes one layer per word: write the letters apart " \
                f"({' '.join(w.text)}) if you meant each of them"
            errors.append(Diagnostic(
                "error", f"{w.text!r} would be read as the letters {read}, but this spec also "
                f"uses tokens such as {token.text!r}, one layer per word", w.pos, hint))
        elif meant:
            warnings.append(Diagnostic(
                "warning", f"{w.text!r} is read as the letters {read}", w.pos,
                f"did you mean {meant}? (a run of letters is one layer per letter)"))
    return errors, warnings


def check_size(items: Sequence[Item], pos: SourcePos) -> None:
    n = count_layers(items)
    if n > MAX_LAYERS:
        raise error(f"the spec expands to more than {MAX_LAYERS:,} layers", pos,
                    hint="lower the repeat counts; archcalc's limit keeps analysis within memory")


def line_positions(text: str, file: str, line: int = 1, col: int = 1) -> PosOf:
    """A ``pos_of(offset)`` for text that starts at (line, col) of ``file``."""
    lines = text.split("\n")
    if len(lines) == 1:                  # a one-line spec string: no search
        def on_the_line(offset: int) -> SourcePos:   # built as a plain tuple is: one per word
            return tuple.__new__(SourcePos, (file, line, offset + col, text))
        return on_the_line
    starts = [0]
    for ln in lines[:-1]:
        starts.append(starts[-1] + len(ln) + 1)

    def pos_of(offset: int) -> SourcePos:
        i = bisect_right(starts, offset) - 1
        c = offset - starts[i] + 1 + (col - 1 if i == 0 else 0)
        return SourcePos(file, line + i, c, lines[i])
    return pos_of
