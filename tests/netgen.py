"""Random networks and random spec text, for the fuzz, property and oracle tests and their
longer runs in benchmarks/. Everything is driven by a seeded random.Random, so a failure can be
replayed from its seed."""
from __future__ import annotations

import random

import archcalc

TOKEN_ALPHABET = "CRPMSDFGAWX0123456789()x* -\t\n|:#{}[],$'\"&!%@.\\"
MERGES = ("concat", "add", "mul")
# element-wise ops and norms drawn for a layer (issue 10's after the first line)
ELEMENTWISE = ("relu", "batchnorm", "sigmoid", "tanh", "dropout", "lrn",
               "relu6", "hardswish", "hardsigmoid", "silu", "gelu", "leaky_relu", "elu",
               "layernorm", "instancenorm")


def _header(rng: random.Random) -> tuple[list[str], list[str]]:
    h = rng.choice([7, 8, 15, 16, 31, 32])
    c = rng.choice([1, 3, 4, 8])
    lines = ["name: rnd", f"input: {h}x{rng.choice([h, h + 1, h - 1])}x{c}",
             "defaults:", "  rounding: floor", "layers:"]
    return lines, ["input"]


def _random_layer(rng: random.Random, name: str, names: list[str], dag: bool) -> str:
    """One layer line: a conv (random kernel, stride, padding, dilation, groups, bias), a
    depthwise conv, a max/avg pool (floor or ceil), an element-wise op, global pooling, an fc, or
    (in a DAG) a merge of two earlier layers, or a layer reading an earlier one."""
    kind = rng.random()
    src = rng.choice(names) if dag and rng.random() < 0.3 else names[-1]
    if dag and len(names) > 2 and kind < 0.2:
        a, b = rng.sample(names[1:], 2)
        return f"  - {{op: {rng.choice(MERGES)}, name: {name}, inputs: [{a}, {b}]}}"
    if kind < 0.5:
        k = rng.choice([1, 2, 3, 5])
        return (f"  - {{op: conv, name: {name}, inputs: {src}, filters: {rng.choice([2, 4, 6, 8])}, "
                f"kernel: {k}, stride: {rng.choice([1, 1, 2])}, padding: {rng.choice([0, k // 2])}, "
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


def random_yaml(rng: random.Random, max_layers: int = 8, dag: bool = True) -> str:
    """A YAML spec of random layers; it may be invalid (a window larger than its input...)."""
    lines, names = _header(rng)
    for i in range(rng.randint(1, max_layers)):
        lines.append(_random_layer(rng, f"l{i}", names, dag))
        names.append(f"l{i}")
    return "\n".join(lines) + "\n"


def random_valid(rng: random.Random, max_layers: int = 12, dag: bool = True, tries: int = 60):
    """(text, Network, Report) of a random network that analyzes without error, grown one layer
    at a time (a candidate that makes it invalid is dropped and another drawn), so that it
    reaches about ``max_layers`` layers."""
    lines, names = _header(rng)
    want = rng.randint(1, max_layers)
    net = report = None
    for _ in range(tries):
        if len(names) > want:
            break
        name = f"l{len(names) - 1}"
        candidate = lines + [_random_layer(rng, name, names, dag)]
        try:
            n = archcalc.parse("\n".join(candidate) + "\n")
            r = archcalc.analyze(n)
        except archcalc.ArchcalcError:
            continue
        lines, net, report = candidate, n, r
        names.append(name)
    if net is None:
        return random_valid(rng, max_layers, dag, tries)
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
