"""Channel ops: a slice of the channels, ShuffleNet's channel shuffle; a ``split`` is expanded by
the Builder (archcalc/graph.py) into one ``slice`` per part, named ``<split>.<i>``."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import Places, SourcePos, error
from . import derive as dv
from .base import At, Attrs, Op
from .values import Vol, as_int
from .words import counted


def _sizes(value: Any, pos: SourcePos) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise error(f"sizes must be a list of channel counts such as [32, 32], got {value!r}", pos)
    return tuple(as_int(v, "each size", pos) for v in value)


class Slice(Op):
    """Channels ``start`` (inclusive) to ``end`` (exclusive), Python-style: negative values count
    from the end, ``end`` left out means the last channel. A view of its input (as PyTorch's
    ``x[:, a:b]``): nothing is copied.

    A part of a ``split`` is a slice with ``part`` (its index) and either ``parts`` (equal parts)
    or ``sizes`` (the sizes of all parts): its channels are resolved against the input's depth,
    so a split that does not divide the depth is reported at the split."""
    kind = "slice"
    names = ("channel_slice", "narrow")
    ATTRS = {"start": 0, "end": None, "part": None, "parts": None, "sizes": None}
    view = True

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        if value is None:
            return None
        if name == "sizes":
            return _sizes(value, pos)
        if name in ("start", "end"):
            return as_int(value, name, pos, minimum=-(1 << 31))
        return as_int(value, name, pos, minimum=0 if name == "part" else 1)

    def normalize(self, raw: Mapping[str, Any], pos: SourcePos,
                  where: Places | None = None) -> dict[str, Any]:
        a = super().normalize(raw, pos, where)
        if a["part"] is not None:
            n = a["parts"] if a["parts"] is not None else len(a["sizes"] or ())
            if (a["parts"] is None) == (a["sizes"] is None) or a["part"] >= n:
                raise error("a split part needs its index and either parts or sizes", pos)
        elif a["parts"] is not None or a["sizes"] is not None:
            raise error("parts and sizes belong to a split; a slice takes start and end", pos,
                        hint="write {op: split, parts: 2}, or {op: slice, start: 0, end: 16}")
        return a

    def channels(self, a: Attrs, c: int, at: At) -> tuple[int, int]:
        """The half-open channel range [start, end) of the input's ``c`` channels."""
        if a["part"] is not None:
            i = a["part"]
            split = at.layer.rpartition(".")[0] or at.layer
            if a["sizes"] is not None:
                sizes = a["sizes"]
                if sum(sizes) != c:
                    raise error(f"split {split!r}: the sizes {list(sizes)} add up to {sum(sizes)}, "
                                f"but the input has {counted(c, 'channel')}", at.pos,
                                layer=at.layer,
                                hint=f"give sizes that add up to {c}, e.g. "
                                     f"{[c - c // 2, c // 2] if c > 1 else [c]}")
                return sum(sizes[:i]), sum(sizes[:i + 1])
            n = a["parts"]
            if c % n:
                divisors = [d for d in range(2, min(c, 64) + 1) if c % d == 0][:6]
                raise error(f"split {split!r}: {counted(c, 'channel')} do not divide into {n} "
                            "equal parts",
                            at.pos, layer=at.layer,
                            hint=(f"use parts: {' or '.join(map(str, divisors))}, or " if divisors
                                  else "") + "give unequal parts as sizes: [a, b, ...]")
            q = c // n
            return i * q, (i + 1) * q
        start, end = a["start"], a["end"]
        s = start + c if start < 0 else start
        e = c if end is None else (end + c if end < 0 else end)
        if not 0 <= s < e <= c:
            shown = f"{start}:{'' if end is None else end}"
            raise error(f"the channel slice {shown} is empty or outside the input's "
                        f"{counted(c, 'channel')} "
                        f"(it resolves to [{s}, {e}))", at.pos, layer=at.layer,
                        hint=f"start and end are Python-style, half-open: 0 ≤ start < end ≤ {c} "
                             "(negative values count from the end)")
        return s, e

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        h, w, c = ins[0]
        s, e = self.channels(a, c, at)
        return (h, w, e - s)

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        h, w, c = ins[0]
        k = out[2]
        if a["part"] is not None and a["sizes"] is not None:
            depth = dv.given("out_c", "output depth", f"size {a['part']} of the split", k,
                             f"channels {sum(a['sizes'][:a['part']])} to "
                             f"{sum(a['sizes'][:a['part'] + 1])} (exclusive) of {c}")
        elif a["part"] is not None:
            n = a["parts"]
            depth = dv.Derivation("out_c", "output depth", "C/n", f"{c}/{n}", k, {"C": c, "n": n},
                              f"part {a['part']} of {n} equal parts: channels "
                              f"{a['part'] * k} to {(a['part'] + 1) * k} (exclusive)")
        else:
            depth = dv.Derivation("out_c", "output depth", "end − start", "", k, {"C": c},
                              f"channels [{a['start']}:{'' if a['end'] is None else a['end']}] "
                              f"of {c}, half-open")
        return [dv.given("out_h", "output height", "H", h),
                dv.given("out_w", "output width", "W", w), depth,
                *dv.no_params_no_macs("a view of some channels: nothing is computed")]

    def describe(self, a: Attrs) -> str:
        if a["part"] is not None:
            return f"part {a['part']}" + (f"/{a['parts']}" if a["parts"] else
                                          f" of {list(a['sizes'])}")
        return f"[{a['start']}:{'' if a['end'] is None else a['end']}]"


class Shuffle(Op):
    """ShuffleNet's channel shuffle with g groups: the channels, read as a g × (C/g) matrix
    (row a = group a), are transposed and read out again, so output channel b·g + a is input
    channel a·(C/g) + b. A copy (PyTorch's reshape after a transpose is not a view)."""
    kind = "shuffle"
    names = ("channel_shuffle", "channelshuffle")
    ATTRS = {"groups": 2}

    def coerce(self, name: str, value: Any, pos: SourcePos) -> Any:
        return as_int(value, name, pos)

    def shape(self, a: Attrs, ins: Sequence[Vol], at: At) -> Vol:
        c, g = ins[0][2], a["groups"]
        if c % g:
            raise error(f"a channel shuffle in {g} groups needs the channels ({c}) to be a "
                        f"multiple of {g}", at.pos, layer=at.layer,
                        hint="choose groups that divides the input's channels (ShuffleNet uses "
                             "the groups of the grouped convolution before it)")
        return ins[0]

    def explain(self, a: Attrs, ins: Sequence[Vol], out: Vol,
                rounding: str) -> list[dv.Derivation]:
        c, g = ins[0][2], a["groups"]
        return dv.same_volume(ins[0]) + dv.no_params_no_macs(
            f"a permutation: output channel b·{g} + a is input channel a·{c // g} + b")

    def describe(self, a: Attrs) -> str:
        return f"g{a['groups']}"
