"""Random networks and random spec text, for the fuzz, property and oracle tests and their
longer runs in benchmarks/. Everything is driven by a seeded random.Random, so a failure can be
replayed from its seed."""
from __future__ import annotations

import random

import archcalc

TOKEN_ALPHABET = "CRPMSDFGAWX0123456789()x* -\t\n|:#{}[],$'\"&!%@.\\"
MERGES = ("concat", "add")


def random_yaml(rng: random.Random, max_layers: int = 8, dag: bool = True) -> str:
    """A YAML spec of a random conv/pool/fc chain, with branches and merges when ``dag``.
    It may be invalid (a window larger than its input...): callers keep the ones that analyze."""
    h = rng.choice([7, 8, 15, 16, 31, 32])
    c = rng.choice([1, 3, 4, 8])
    lines = ["name: rnd", f"input: {h}x{rng.choice([h, h + 1, h - 1])}x{c}",
             "defaults:", "  rounding: floor", "layers:"]
    names = ["input"]
    n = rng.randint(1, max_layers)
    for i in range(n):
        name = f"l{i}"
        kind = rng.random()
        src = names[-1]
        if dag and len(names) > 2 and rng.random() < 0.25:
            a, b = rng.sample(names[1:], 2)
            op = rng.choice(MERGES)
            lines.append(f"  - {{op: {op}, name: {name}, inputs: [{a}, {b}]}}")
        elif kind < 0.45:
            k = rng.choice([1, 2, 3, 5])
            s = rng.choice([1, 1, 2])
            p = rng.choice([0, k // 2])
            d = rng.choice([1, 1, 2])
            g = rng.choice([1, 1, 2])
            f = rng.choice([2, 4, 6, 8])
            if dag and rng.random() < 0.3:
                src = rng.choice(names)
            lines.append(f"  - {{op: conv, name: {name}, inputs: {src}, filters: {f}, kernel: {k}, "
                         f"stride: {s}, padding: {p}, dilation: {d}, groups: {g}, "
                         f"bias: {rng.choice(['true', 'false'])}}}")
        elif kind < 0.55:
            lines.append(f"  - {{op: dwconv, name: {name}, kernel: 3, padding: 1, "
                         f"stride: {rng.choice([1, 2])}}}")
        elif kind < 0.75:
            k = rng.choice([2, 3])
            op = rng.choice(["maxpool", "avgpool"])
            lines.append(f"  - {{op: {op}, name: {name}, kernel: {k}, stride: {rng.choice([1, 2])}, "
                         f"padding: {rng.choice([0, 1])}, rounding: {rng.choice(['floor', 'ceil'])}}}")
        elif kind < 0.85:
            lines.append(f"  - {{op: {rng.choice(['relu', 'batchnorm', 'sigmoid', 'tanh'])}, "
                         f"name: {name}}}")
        elif kind < 0.92:
            lines.append(f"  - {{op: global_avgpool, name: {name}}}")
        else:
            lines.append(f"  - {{op: fc, name: {name}, units: {rng.choice([1, 5, 10])}}}")
        names.append(name)
    return "\n".join(lines) + "\n"


def random_valid(rng: random.Random, tries: int = 50, **kw):
    """(text, Network, Report) of a random network that analyzes without error."""
    for _ in range(tries):
        text = random_yaml(rng, **kw)
        try:
            net = archcalc.parse(text)
            return text, net, archcalc.analyze(net)
        except archcalc.ArchcalcError:
            continue
    raise RuntimeError("no valid network found")


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
