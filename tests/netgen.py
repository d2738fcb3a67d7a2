"""Random networks and random spec text, for the fuzz, property and oracle tests and their
longer runs in benchmarks/. Everything is driven by a seeded random.Random, so a failure can be
replayed from its seed."""
from __future__ import annotations

import random

import archcalc

TOKEN_ALPHABET = "CRPMSDFGAWX0123456789()x* -\t\n|:#{}[],$'\"&!%@.\\"
MERGES = ("concat", "add", "mul")
# element-wise ops and norms drawn for a layer (the modern ones after the first line)
ELEMENTWISE = ("relu", "batchnorm", "sigmoid", "tanh", "dropout", "lrn",
               "relu6", "hardswish", "hardsigmoid", "silu", "gelu", "leaky_relu", "elu",
               "layernorm", "instancenorm")


def _header(rng: random.Random) -> tuple[list[str], list[str]]:
    h = rng.choice([7, 8, 15, 16, 31, 32])
    c = rng.choice([1, 3, 4, 8])
    lines = ["name: rnd", f"input: {h}x{rng.choice([h, h + 1, h - 1])}x{c}",
             "defaults:", "  rounding: floor", "layers:"]
    return lines, ["input"]


def _random_layer(rng: random.Random, name: str, names: list[str], dag: bool,
                  shapes: dict | None = None, new_ops: bool = False,
                  tokens: bool = False) -> str:
    """One layer line: a conv (random kernel, stride, padding, dilation, groups, bias), a
    depthwise conv, a max/avg pool (floor or ceil), an element-wise op, global pooling, an fc, or
    (in a DAG) a merge of two earlier layers, or a layer reading an earlier one; with
    ``new_ops``, a third of the time one of the channel or resampling ops (``_new_op``,
    possibly several lines); with ``tokens``, 30% of the time a token or attention op
    (``_token_op``, possibly several lines; drawn first, so that without ``tokens`` the draws
    are those of before)."""
    if tokens and rng.random() < 0.3:
        src = rng.choice(names) if dag and rng.random() < 0.3 else names[-1]
        return _token_op(rng, name, names, src, shapes)
    kind = rng.random()
    src = rng.choice(names) if dag and rng.random() < 0.3 else names[-1]
    if new_ops and rng.random() < 0.35:
        return _new_op(rng, name, names, src, dag, shapes)
    if dag and len(names) > 2 and kind < 0.2:
        a, b = rng.sample(names[1:], 2)
        return f"  - {{op: {rng.choice(MERGES)}, name: {name}, inputs: [{a}, {b}]}}"
    if kind < 0.5:
        k = rng.choice([1, 2, 3, 5])
        return (f"  - {{op: conv, name: {name}, inputs: {src}, "
                f"filters: {rng.choice([2, 4, 6, 8])}, kernel: {k}, "
                f"stride: {rng.choice([1, 1, 2])}, padding: {rng.choice([0, k // 2])}, "
                f"dilation: {rng.choice([1, 1, 2])}, groups: {rng.choice([1, 1, 2])}, "
                f"bias: {rng.choice(['true', 'false'])}}}")
    if kind < 0.58:
        return (f"  - {{op: dwconv, name: {name}, inputs: {src}, kernel: 3, padding: 1, "
                f"stride: {rng.choice([1, 2])}, multiplier: {rng.choice([1, 2])}}}")
    if kind < 0.78:
        return (f"  - {{op: {rng.choice(['maxpool', 'avgpool'])}, name: {name}, inputs: {src}, "
                f"kernel: {rng.choice([2, 3])}, stride: {rng.choice([1, 2])}, "
                f"padding: {rng.choice([0, 1])}, rounding: {rng.choice(['floor', 'ceil'])}}}")
    if kind < 0.9:
        r = rng.random()
        if r < 0.1:
            return (f"  - {{op: prelu, name: {name}, inputs: {src}, "
                    f"shared: {rng.choice(['true', 'false'])}}}")
        if r < 0.2:          # groups that do not divide the channels are dropped as invalid
            return (f"  - {{op: groupnorm, name: {name}, inputs: {src}, "
                    f"groups: {rng.choice([1, 2, 4])}}}")
        op = rng.choice(ELEMENTWISE)
        return f"  - {{op: {op}, name: {name}, inputs: {src}}}"
    if kind < 0.95:
        op = rng.choice(["global_avgpool", "global_maxpool"])
        return f"  - {{op: {op}, name: {name}, inputs: {src}}}"
    return f"  - {{op: fc, name: {name}, inputs: {src}, units: {rng.choice([1, 5, 10])}}}"


# the channel and resampling ops, drawn by _new_op
NEW_OPS = ("split", "slice", "shuffle", "upsample", "conv_transpose", "pad", "crop")
GROW_TO = 72        # upsampling and transposed convolutions stop growing a side past this


def _divisors(c: int) -> list[int]:
    return [d for d in range(1, c + 1) if c % d == 0]


def _new_op(rng: random.Random, name: str, names: list[str], src: str, dag: bool,
            shapes: dict | None) -> str:
    """A channel op (a split into equal or given parts whose parts later layers read, a channel
    slice, a shuffle) or a resampling op (upsample by scale or to a size, a transposed
    convolution, a pad, a centre crop to a size or to another layer's size), its attributes drawn
    from the volume of its input (``shapes``: layer → (H, W, C); without it the text may be
    invalid) so that it is valid by construction. Some are deliberately borderline: a split into
    one-channel parts, a shuffle in 1 or C groups, a slice of one channel or of all of them, a
    scale of 1, an output_padding of max(stride, dilation) − 1 (above the stride when the
    dilation is larger), a padding that leaves a one-pixel output, reflect padding of H − 1, a
    crop to the full size or to 1×1, a crop to a layer of the same size."""
    h, w, c = (shapes or {}).get(src, (8, 8, 4))
    op = rng.choice(NEW_OPS if c > 1 else NEW_OPS[1:])
    head = f"  - {{op: {op}, name: {name}, inputs: {src}"
    if op == "split":
        equal = [d for d in _divisors(c) if 1 < d <= 8]
        if equal and rng.random() < 0.6:      # one-channel parts (d = C) a quarter of the time
            wider = [d for d in equal if d < c]
            parts = rng.choice(wider if wider and rng.random() < 0.75 else equal)
            sizes = [c // parts] * parts
            lines = [f"{head}, parts: {parts}}}"]
        else:
            n = rng.choice([2, 2, 3]) if c >= 3 else 2
            cuts = sorted(rng.sample(range(1, c), n - 1))
            sizes = [b - a for a, b in zip([0, *cuts], [*cuts, c])]
            lines = [f"{head}, sizes: [{', '.join(map(str, sizes))}]}}"]
        parts = [f"{name}.{i}" for i in range(len(sizes))]
        if rng.random() < 0.75:       # ShuffleNet's unit: a branch on one part, concat, shuffle
            i = rng.randrange(len(parts))
            if rng.random() < 0.5:
                k = rng.choice([1, 3])
                lines.append(f"  - {{op: conv, name: {name}b, inputs: {parts[i]}, "
                             f"filters: {rng.choice([sizes[i], 2, 4])}, kernel: {k}, "
                             f"padding: {k // 2}}}")
            else:
                lines.append(f"  - {{op: {rng.choice(ELEMENTWISE)}, name: {name}b, "
                             f"inputs: {parts[i]}}}")
            merged = parts[:i] + [f"{name}b"] + parts[i + 1:]
            rng.shuffle(merged)
            lines.append(f"  - {{op: concat, name: {name}c, inputs: [{', '.join(merged)}]}}")
            if rng.random() < 0.5:
                lines.append(f"  - {{op: shuffle, name: {name}s, inputs: {name}c, "
                             f"groups: {len(parts)}}}")
        return "\n".join(lines)
    if op == "slice":
        s = rng.randrange(c)
        e = rng.choice([s + 1, c, rng.randint(s + 1, c)])
        start = "" if s == 0 and rng.random() < 0.5 else \
            f", start: {s - c if rng.random() < 0.3 else s}"
        end = "" if e == c and rng.random() < 0.5 else \
            f", end: {e - c if e < c and rng.random() < 0.3 else e}"
        return f"{head}{start}{end}}}"
    if op == "shuffle":           # 1 or C groups (no permutation) a quarter of the time
        real = _divisors(c)[1:-1]
        groups = rng.choice(real if real and rng.random() < 0.75 else _divisors(c))
        return f"{head}, groups: {groups}}}"
    if op == "upsample":
        f = [rng.choice([1, 2, 2, 3]) if n * 3 <= GROW_TO else 1 for n in (h, w)]
        mode = rng.choice(["nearest", "bilinear"])
        r = rng.random()
        if r < 0.4 and f[0] == f[1]:
            how = f"scale: {f[0]}"
        elif r < 0.7:
            how = f"scale: [{f[0]}, {f[1]}]"
        else:
            how = f"size: [{h * f[0]}, {w * f[1]}]"
        return f"{head}, mode: {mode}, {how}}}"
    if op == "conv_transpose":
        k = rng.choice([1, 2, 3, 4])
        s = rng.choice([1, 2, 2, 3]) if max(h, w) * 3 <= GROW_TO else 1
        d = rng.choice([1, 1, 2])
        opad = rng.choice([0, max(s, d) - 1, rng.randrange(max(s, d))])
        filters = rng.choice([2, 4, 6, 8])
        groups = rng.choice([g for g in (1, 1, 2, 4) if c % g == 0 and filters % g == 0])
        room = ((min(h, w) - 1) * s + d * (k - 1) + opad) // 2     # largest padding: 1 pixel out
        p = rng.choice([0, min(room, rng.randint(0, d * (k - 1))), room])
        return (f"{head}, filters: {filters}, kernel: {k}, stride: {s}, padding: {p}, "
                f"output_padding: {opad}, groups: {groups}, dilation: {d}, "
                f"bias: {rng.choice(['true', 'false'])}}}")
    if op == "pad":
        mode = rng.choice(["constant", "reflect"])
        top = min(h - 1, 6) if mode == "reflect" else 3      # reflect pads at most H − 1
        side = min(w - 1, 6) if mode == "reflect" else 3
        t, b = (rng.choice([0, min(top, 1), min(top, 3), top]) for _ in "tb")
        left, r = (rng.choice([0, min(side, 1), min(side, 3), side]) for _ in "lr")
        form = rng.random()
        if form < 0.3 and min(top, side) >= 1:
            pads = str(min(top, side, rng.choice([1, 2])))
        elif form < 0.5:
            pads = f"[{t}, {left}]"
        else:
            pads = f"[{t}, {b}, {left}, {r}]"
        value = f", value: {rng.choice([0, 1.5, -2])}" if mode == "constant" else ""
        return f"{head}, padding: {pads}, mode: {mode}{value}}}"
    # crop: to a size, or (U-Net's copy-and-crop) to the size of a layer no larger, then merged
    if not dag or shapes is None or rng.random() < 0.4:
        th = rng.choice([h, 1, rng.randint(1, h)])
        tw = rng.choice([w, 1, rng.randint(1, w)])
        return f"{head}, size: [{th}, {tw}]}}"
    fits = [n for n in names if shapes[n][0] <= h and shapes[n][1] <= w]
    to = rng.choice(fits)
    line = f"  - {{op: crop, name: {name}, inputs: [{src}, {to}]}}"
    if rng.random() < 0.5:
        line += f"\n  - {{op: concat, name: {name}m, inputs: [{name}, {to}]}}"
    return line


# the token and attention ops, drawn by _token_op ("tokens": a token sequence and what reads it)
TOKEN_OPS = ("attention", "tokens", "patch_merge", "linear", "layer_scale", "drop_path")


def _attention(rng: random.Random, name: str, names: list[str], src: str,
               vol: tuple[int, int, int], shapes: dict | None) -> str:
    """An attention layer over ``src`` (of volume ``vol``) valid by construction: heads that
    divide the channels (or a head_dim), then global, cross (keys and values from any earlier
    layer, with kv_channels where its width differs, or given anyway), a window (sides dividing
    the map's; a shift below it on one axis, both or none; a relative-position bias) or a grid
    (sides dividing the map's; a bias); projections and biases on or off."""
    h, w, c = vol
    attrs = [f"heads: {rng.choice([d for d in _divisors(c) if d <= 4])}"]
    if rng.random() < 0.25:
        attrs.append(f"head_dim: {rng.choice([1, 2, 3, 5])}")
    inputs = src
    kind = rng.random()
    # window and grid sides: divisors of the map's up to 8, 1 only where there is no other
    small = [[d for d in _divisors(n) if 1 < d <= 8] or [1] for n in (h, w)]
    if kind < 0.35 and shapes and rng.random() < 0.5:                  # cross-attention
        other = rng.choice(names)
        inputs = f"[{src}, {other}]"
        ck = shapes[other][2]
        if ck != c or rng.random() < 0.3:
            attrs.append(f"kv_channels: {ck}")
    elif 0.35 <= kind < 0.7:                                            # windows
        mh, mw = rng.choice(small[0]), rng.choice(small[1])
        attrs.append(f"window: [{mh}, {mw}]" if mh != mw or rng.random() < 0.5 else
                     f"window: {mh}")
        sh, sw = (rng.choice([0, s // 2, s // 2, s - 1]) for s in (mh, mw))
        if sh or sw:
            attrs.append(f"shift: [{sh}, {sw}]")
        if rng.random() < 0.6:
            attrs.append("relpos: true")
    elif kind >= 0.7:                                                   # a grid
        attrs.append(f"grid: [{rng.choice(small[0])}, {rng.choice(small[1])}]")
        if rng.random() < 0.6:
            attrs.append("relpos: true")
    for flag in ("qkv_bias", "proj", "proj_bias"):
        if rng.random() < 0.2:
            attrs.append(f"{flag}: false")
    return f"  - {{op: attention, name: {name}, inputs: {inputs}, {', '.join(attrs)}}}"


def _token_op(rng: random.Random, name: str, names: list[str], src: str,
              shapes: dict | None) -> str:
    """A token or attention op on ``src``, shaped from its volume (``shapes``: layer → (H, W,
    C); without it the text may be invalid): an attention (``_attention``), Swin's patch merge
    (odd sizes included), a per-token linear, a layer scale, a drop path, or a token sequence: the
    map as tokens, then some of class tokens, a position embedding (its ``tokens`` checked or
    not), a linear, an attention over the sequence (``_attention``: 1×M windows) and a layer scale,
    ending as a sequence, one token taken (a negative index at times) or a map again."""
    h, w, c = (shapes or {}).get(src, (8, 8, 4))
    op = rng.choice(TOKEN_OPS + ("attention", "attention", "attention", "tokens"))
    head = f"  - {{op: {op}, name: {name}, inputs: {src}"
    if op == "attention":
        return _attention(rng, name, names, src, (h, w, c), shapes)
    if op == "patch_merge":
        return f"{head}}}"
    if op == "linear":
        return f"{head}, units: {rng.choice([1, 4, 6, 8])}, bias: {rng.choice(['true', 'false'])}}}"
    if op == "layer_scale":
        return f"{head}, init: {rng.choice([1e-6, 0.1, 1])}}}"
    if op == "drop_path":
        return f"{head}, rate: {rng.choice([0, 0.1, 0.5])}}}"
    lines = [f"{head}}}"]
    n, prev = h * w, name

    def add(suffix: str, op: str, attrs: str = "") -> None:
        nonlocal prev
        lines.append(f"  - {{op: {op}, name: {name}{suffix}, inputs: {prev}{attrs}}}")
        prev = f"{name}{suffix}"

    count = 0
    if rng.random() < 0.5:
        count = rng.choice([1, 1, 2])
        add("c", "class_token", f", count: {count}")
        n += count
    if rng.random() < 0.7:
        add("p", "pos_embed", f", tokens: {n}" if rng.random() < 0.5 else "")
    if rng.random() < 0.4:
        c = rng.choice([2, 4, 8])
        add("l", "linear", f", units: {c}")
    if rng.random() < 0.5:
        lines.append(_attention(rng, f"{name}a", names, prev, (1, n, c), shapes))
        prev = f"{name}a"
    if rng.random() < 0.3:
        add("s", "layer_scale")
    end = rng.random()
    if end < 0.35:
        add("t", "take_token", f", index: {rng.randrange(-n, n)}")
    elif end < 0.7:
        size = f"[{h}, {w}]" if count == 0 and rng.random() < 0.7 else f"[1, {n}]"
        add("m", "untokens", f", size: {size}")
    return "\n".join(lines)


def random_yaml(rng: random.Random, max_layers: int = 8, dag: bool = True,
                new_ops: bool = False) -> str:
    """A YAML spec of random layers; it may be invalid (a window larger than its input...)."""
    lines, names = _header(rng)
    for i in range(rng.randint(1, max_layers)):
        lines.append(_random_layer(rng, f"l{i}", names, dag, None, new_ops))
        names.append(f"l{i}")
    return "\n".join(lines) + "\n"


def random_valid(rng: random.Random, max_layers: int = 12, dag: bool = True, tries: int = 60,
                 new_ops: bool = False, tokens: bool = False):
    """(text, Network, Report) of a random network that analyzes without error, grown one layer
    at a time (a candidate that makes it invalid is dropped and another drawn), so that it
    reaches about ``max_layers`` layers. ``new_ops`` also draws the channel and resampling
    ops (``_new_op``), shaped from the volumes of the layers so far so that they are valid by
    construction (a split with its parts then counts as several layers). ``tokens`` also draws
    the token and attention ops (``_token_op``), shaped the same way."""
    lines, names = _header(rng)
    want = rng.randint(1, max_layers)
    net = report = None
    h, w, c = (int(v) for v in lines[1].split()[1].split("x"))
    shapes: dict[str, tuple[int, int, int]] | None = \
        {"input": (h, w, c)} if new_ops or tokens else None
    k = 0
    for _ in range(tries):
        if len(names) > want:
            break
        name = f"l{k}"
        candidate = lines + [_random_layer(rng, name, names, dag, shapes, new_ops, tokens)]
        try:
            n = archcalc.parse("\n".join(candidate) + "\n")
            r = archcalc.analyze(n)
        except archcalc.ArchcalcError:
            continue
        lines, net, report = candidate, n, r
        names = [layer.name for layer in n.layers]
        k += 1
        if shapes is not None:
            shapes = {row.name: row.output for row in r.layers}
    if net is None:
        return random_valid(rng, max_layers, dag, tries, new_ops, tokens)
    return "\n".join(lines) + "\n", net, report


def mutate(rng: random.Random, text: str) -> str:
    """One to four random edits: delete, insert, replace, duplicate, truncate, renumber."""
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        if not chars:
            chars = [rng.choice(TOKEN_ALPHABET)]
        i = rng.randrange(len(chars))
        r = rng.random()
        if r < 0.25:
            del chars[i]
        elif r < 0.5:
            chars.insert(i, rng.choice(TOKEN_ALPHABET))
        elif r < 0.65:
            chars[i] = rng.choice(TOKEN_ALPHABET)
        elif r < 0.75:
            j = min(len(chars), i + rng.randint(1, 20))
            chars[i:i] = chars[i:j]
        elif r < 0.85:
            chars = chars[:i]
        else:
            chars[i:i + 1] = list(str(rng.choice([0, 1, 2, 7, 99, 4096, 10**6, 10**30, -3])))
    return "".join(chars)


def random_text(rng: random.Random) -> str:
    n = rng.randint(0, 60)
    if rng.random() < 0.2:
        return "".join(chr(rng.randint(0, 0x2FF)) for _ in range(n))
    return "".join(rng.choice(TOKEN_ALPHABET) for _ in range(n))


def check_outcome(text: str) -> str:
    """Parse and analyze ``text``: 'ok' or 'error'. Anything else escapes as an exception: a bug.
    Every error must carry a place (a line and column in the text)."""
    try:
        got = archcalc.parse(text, file="<fuzz>")
        nets = got.values() if isinstance(got, dict) else [got]
        for net in nets:
            archcalc.analyze(net)
            archcalc.analysis.diagnose(net)
        return "ok"
    except archcalc.ArchcalcError as exc:
        for d in exc.diagnostics:
            assert d.pos.file == "<fuzz>" and d.pos.line >= 1, (d.render(), text)
        return "error"
