"""YAML specs: name, input, defaults, reusable blocks and a layer list (docs/spec-languages.md).

The file is composed with PyYAML's safe loader into nodes (no object is ever constructed from a
tag) and converted here with a budget on nodes, so aliases cannot blow up memory, while keeping
the line and column of every value for error messages.
"""
from __future__ import annotations

import ast
import operator
import re
from dataclasses import replace
from typing import Any

import yaml

from ..errors import ArchcalcError, Diagnostic, SourcePos, error
from ..graph import MAX_LAYERS, Builder, Network, channels_first_warning, parse_volume
from ..ops import DEFAULT_ROUNDING, _bool, _int, _padding, _pair, _rounding, lookup, suggest_attr
from .text import Defaults, check_size, emit_word, expand, letter_runs, parse_items

MAX_NODES = 1_000_000      # YAML nodes after alias expansion
MAX_BLOCK_DEPTH = 16       # blocks instantiating blocks


class YMap(dict):
    pos: SourcePos
    where: dict      # key -> place of its value
    key_at: dict     # key -> place of the key itself


class YList(list):
    pos: SourcePos
    where: list


_PLAIN = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class _Convert:
    def __init__(self, file: str, lines: list[str]):
        self.file, self.lines, self.count = file, lines, 0
        self.cons = yaml.constructor.SafeConstructor()

    def pos(self, node: yaml.Node) -> SourcePos:
        m = node.start_mark
        line = self.lines[m.line] if m.line < len(self.lines) else None
        return SourcePos(self.file, m.line + 1, m.column + 1, line)

    def __call__(self, node: yaml.Node, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise error(f"the YAML expands to more than {MAX_NODES:,} values (through aliases?)",
                        self.pos(node), hint="archcalc refuses alias bombs; write the spec out")
        if depth > 200:
            raise error("the YAML nests deeper than 200 levels", self.pos(node))
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN:
            raise error(f"unsupported YAML value: tag {node.tag!r}", self.pos(node),
                        hint="archcalc reads plain YAML: numbers, strings, lists and mappings")
        if isinstance(node, yaml.MappingNode):
            out = YMap()
            out.pos, out.where, out.key_at = self.pos(node), {}, {}
            for k, v in node.value:
                key = self(k, depth + 1)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise error("mapping keys must be plain words", self.pos(k))
                key = str(key)        # every key of the schema is a name
                if key in out:
                    raise error(f"key {key!r} appears twice", self.pos(k),
                                hint="each key may be given once")
                out[key] = self(v, depth + 1)
                out.where[key] = self.pos(v)
                out.key_at[key] = self.pos(k)
            return out
        if isinstance(node, yaml.SequenceNode):
            out = YList()
            out.pos, out.where = self.pos(node), []
            for v in node.value:
                out.append(self(v, depth + 1))
                out.where.append(self.pos(v))
            return out
        try:
            value = self.cons.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise error(f"unsupported YAML value: {getattr(exc, 'problem', exc)}", self.pos(node),
                        hint="archcalc reads plain YAML: numbers, strings, lists and mappings")
        if not isinstance(value, (str, int, float, bool, type(None))):
            raise error(f"unsupported YAML value of type {type(value).__name__}", self.pos(node),
                        hint="archcalc reads plain YAML: numbers, strings, lists and mappings")
        if isinstance(value, str) and node.style in ("'", '"'):
            return _Quoted(value)
        return value


class _Quoted(str):
    """A quoted scalar: its text starts one column after its mark."""


def _yaml_error(exc: yaml.YAMLError, file: str, lines: list[str]) -> ArchcalcError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return error(f"YAML syntax error: {problem}", SourcePos(file))
    opened = getattr(exc, "context_mark", None)
    context = getattr(exc, "context", None) or ""
    if opened is not None and "flow" in context and opened.line < mark.line:
        # a { or [ that is never closed: PyYAML notices at the end; point at the opening
        bracket = "{" if "mapping" in context else "["
        line = lines[opened.line] if opened.line < len(lines) else None
        return error(f"YAML syntax error: the '{bracket}' opened here is not closed",
                     SourcePos(file, opened.line + 1, opened.column + 1, line),
                     hint=f"close it with '{'}' if bracket == '{' else ']'}' on this line, "
                          "or check the commas between its items")
    line = lines[mark.line] if mark.line < len(lines) else None
    hint = "check the indentation and the brackets on this line"
    if line is not None and "\t" in line[:len(line) - len(line.lstrip())]:
        hint = "YAML indents with spaces, not tabs: replace the tab at the start of this line"
    elif line is not None and re.match(r"\s*-[^\s-]", line):
        hint = "a list item is '- ' with a space: write '- " + line.strip()[1:] + "'"
    bare = re.search(r"(^|[^'\"])(\$\{[^}]*\})", line or "")
    if bare and "{" in line[:bare.start(2)]:
        hint = (f"quote ${{…}} inside a flow mapping {{…}}: write '{bare.group(2)}' "
                "(YAML reads a bare { as the start of a mapping)")
    return error(f"YAML syntax error: {problem}", SourcePos(file, mark.line + 1, mark.column + 1, line),
                 hint=hint)


# ---------------------------------------------------------------------------------------------
# block parameters: $name and ${expression}

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Div: operator.truediv}
_SUBST = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z_0-9]*)")


def _eval(expr: str, env: dict, pos: SourcePos) -> Any:
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        raise error(f"cannot read the expression {expr!r}", pos,
                    hint="expressions use names, numbers, + - * / // % and parentheses") from None

    def ev(n: ast.AST) -> Any:
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)):
            return n.value
        if isinstance(n, ast.Name):
            if n.id not in env:
                raise error(f"unknown parameter {n.id!r} in {expr!r}", pos,
                            hint="parameters here: " + (", ".join(env) or "none"))
            v = env[n.id]
            # a bare $name passes any value through ('same', [3, 1]); arithmetic takes numbers
            if n is not tree.body and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise error(f"parameter {n.id!r} is {v!r}, not a number, in {expr!r}", pos,
                            hint="arithmetic takes numbers only")
            return v
        if isinstance(n, ast.BinOp) and type(n.op) in _OPS:
            left, right = ev(n.left), ev(n.right)
            if isinstance(n.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
                raise error(f"division by zero in {expr!r}", pos)
            if isinstance(n.op, ast.Mult) and abs(left) * abs(right) > 1 << 62:
                raise error(f"{expr!r} is too large", pos)
            v = _OPS[type(n.op)](left, right)
            return int(v) if isinstance(v, float) and v.is_integer() else v
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            v = ev(n.operand)
            return -v if isinstance(n.op, ast.USub) else v
        raise error(f"cannot evaluate {expr!r}", pos,
                    hint="expressions use names, numbers, + - * / // % and parentheses")
    return ev(tree)


def _subst(value: Any, env: dict, pos: SourcePos) -> Any:
    if isinstance(value, list):
        return [_subst(v, env, pos) for v in value]
    if not isinstance(value, str) or "$" not in value:
        return value
    m = _SUBST.fullmatch(value.strip())
    if m:
        return _eval(m.group(1) if m.group(1) is not None else m.group(2), env, pos)
    return _SUBST.sub(lambda m: str(_eval(m.group(1) if m.group(1) is not None else m.group(2),
                                          env, pos)), value)


# ---------------------------------------------------------------------------------------------
# the schema

TOP_KEYS = ("name", "input", "defaults", "blocks", "layers")
DEFAULT_KEYS = ("filters", "double_after_pool", "rounding", "bias", "conv", "pool")
LAYER_KEYS = ("op", "name", "inputs", "repeat")
BLOCK_KEYS = ("block", "name", "inputs", "repeat")


def _near(word: str, choices) -> str:
    """ "did you mean 'x'? " for the closest of ``choices``, or nothing."""
    import difflib
    near = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean {near[0]!r}? " if near else ""


def _defaults(spec: YMap, base: Defaults, diags: list) -> Defaults:
    """The spec's ``defaults:`` over ``base``; each bad entry is added to ``diags`` and skipped,
    so that the layers are still checked."""
    raw = spec.get("defaults")
    if raw is None:
        return base
    if not isinstance(raw, YMap):
        diags.extend(error("defaults must be a mapping", spec.where["defaults"]).diagnostics)
        return base
    d = replace(base)
    for key, value in raw.items():
        pos = raw.where[key]
        try:
            if key not in DEFAULT_KEYS:
                raise error(f"unknown default {key!r}", raw.key_at[key],
                            hint=_near(key, DEFAULT_KEYS) + "defaults: " + ", ".join(DEFAULT_KEYS))
            if key in ("conv", "pool"):
                if not isinstance(value, YMap):
                    raise error(f"defaults.{key} must be a mapping", pos)
                allowed = ("kernel", "stride", "padding") if key == "conv" else ("kernel", "stride")
                for k, v in value.items():
                    try:
                        if k not in allowed:
                            near = suggest_attr(k, allowed)
                            raise error(f"unknown default {key}.{k}", value.key_at[k],
                                        hint=(f"did you mean {near!r}? " if near else "")
                                        + f"defaults.{key}: " + ", ".join(allowed))
                        where = value.where[k]
                        setattr(d, f"{key}_{k}", _padding(v, where) if k == "padding"
                                else _pair(v, f"defaults.{key}.{k}", where))
                    except ArchcalcError as exc:
                        diags.extend(exc.diagnostics)
            elif key == "rounding":
                d.rounding = _rounding(value, pos) or DEFAULT_ROUNDING
            elif key == "filters":
                d.filters = _int(value, "filters", pos)
            else:                               # double_after_pool, bias
                setattr(d, key, _bool(value, key, pos))
        except ArchcalcError as exc:
            diags.extend(exc.diagnostics)
    d.width = d.filters
    return d


DEFAULT_INPUT = (224, 224, 3)      # a spec without input: and without --input (as docs say)


def parse_yaml(text: str, file: str, input=None, name=None,
               overrides: dict | None = None, default_name: str | None = None) -> Network:
    """A YAML spec. ``overrides`` (from options) win over the spec's own ``defaults``."""
    lines = text.split("\n")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file, lines) from None
    except RecursionError:
        raise error("the YAML nests too deeply to read", SourcePos(file, 1, 1),
                    hint="archcalc reads YAML nested up to 200 levels") from None
    if root is None:
        raise error("the YAML file is empty", SourcePos(file, 1, 1),
                    hint="write name, input and layers (see specs/vgg16.yaml)")
    spec = _Convert(file, lines)(root)
    if not isinstance(spec, YMap):
        raise error("a YAML spec is a mapping with name, input and layers", SourcePos(file, 1, 1))
    diags: list = []                 # every problem, reported together at the end
    meant = set()                    # top-level keys that a misspelled key probably stands for
    for key in spec:
        if key not in TOP_KEYS:
            near = _near(key, TOP_KEYS)
            meant.add(near.split("'")[1] if near else None)
            diags.append(Diagnostic("error", f"unknown top-level key {key!r}", spec.key_at[key],
                                    near + "top-level keys: " + ", ".join(TOP_KEYS)))
    try:
        return _parse_spec(spec, file, input, name, overrides, default_name, diags, meant)
    except ArchcalcError as exc:
        if not diags or exc.diagnostics[0] in diags:
            raise
        raise ArchcalcError(diags + exc.diagnostics) from None


def _parse_spec(spec: YMap, file: str, input, name, overrides, default_name, diags: list,
                meant: set) -> Network:
    """The checked mapping of a YAML spec → a Network; ``diags`` holds the problems found so far
    (raised with any found here), ``meant`` the keys a misspelled top-level key stands for (their
    absence is not reported twice)."""
    d = _defaults(spec, Defaults(), diags)
    for k, v in (overrides or {}).items():
        setattr(d, k, v)
    d.width = d.filters
    chw = None                       # the spec's own input written C×H×W (an option's: see parse)
    if input is None:
        if "input" not in spec and "input" in meant:
            raise ArchcalcError(diags)
        if "input" not in spec:             # as for spec strings and tables
            input = DEFAULT_INPUT
    if input is None:
        try:
            input = parse_volume(spec["input"], spec.where["input"])
            chw = channels_first_warning(input, spec.where["input"], "yaml")
        except ArchcalcError as exc:        # the layers are still checked (and never returned)
            diags.extend(exc.diagnostics)
            input = (224, 224, 3)
    stem = file.rsplit("/", 1)[-1].rsplit(".", 1)[0] if not file.startswith("<") else "network"
    net_name = name or str(spec.get("name") or default_name or stem)
    layers = spec.get("layers")
    if "layers" not in spec and "layers" in meant:
        raise ArchcalcError(diags)
    if isinstance(layers, str) and layers.strip():
        raise error("'layers' is a list, got one string", spec.where["layers"],
                    hint=f"write layers: [{layers.strip()}] (or one item per line, each after '- ')")
    if not isinstance(layers, YList) or not layers:
        raise error("the spec needs a non-empty list 'layers'",
                    spec.where.get("layers", spec.pos), hint="layers: [C3D64, M, FC10, S]")
    blocks = spec.get("blocks") or YMap()
    if not isinstance(blocks, YMap):
        raise error("blocks must be a mapping from block name to its definition",
                    spec.where["blocks"])
    b = Builder(net_name, input, spec.where.get("input", spec.pos))
    if chw is not None:
        b.warnings.append(chw)
    emitter = _Emitter(b, d, blocks)
    emitter.items(layers, {}, "", (), {"input": "input"}, 0)
    diags += emitter.report()
    if diags:
        raise ArchcalcError(diags)
    return b.build(d.rounding, file, "yaml")



class _Emitter:
    def __init__(self, builder: Builder, d: Defaults, blocks: YMap):
        self.b, self.d, self.blocks = builder, d, blocks
        self.diags: list = []           # every problem found, not only the first
        self.users: dict = {}           # (place, message) -> the block instances that hit it
        self.memo: dict = {}            # validated token attributes (see text.emit_word)
        self.instances: dict = {}       # unnamed block instances so far, per (scope, block)

    def report(self) -> list:
        """The problems found, each once, with the block instances that use it."""
        out = []
        for d in self.diags:
            users = self.users[(d.pos, d.message)]
            if users:
                shown = ", ".join(users[:6]) + (f" and {len(users) - 6} more" if len(users) > 6
                                                else "")
                d = replace(d, message=f"{d.message} (in block instance"
                            f"{'s' if len(users) > 1 else ''} {shown})")
            out.append(d)
        return out

    def items(self, items: YList, env: dict, prefix: str, scope: tuple, local: dict, depth: int):
        """Emit a layer list. ``local`` maps names visible here to full layer names. A failed
        item is reported and the items after it are still checked (see Builder.fail)."""
        for i, item in enumerate(items):
            try:
                self.item(item, items.where[i], env, prefix, scope, local, depth)
            except ArchcalcError as exc:
                for d in exc.diagnostics:      # a block's mistake once, not once per instance
                    key = (d.pos, d.message)
                    if key not in self.users:
                        self.users[key] = []
                        self.diags.append(d)
                    if scope and scope[-1] not in self.users[key]:
                        self.users[key].append(scope[-1])
                name = item.get("name") if isinstance(item, YMap) else None
                full = self.b.fail(prefix + str(name) if isinstance(name, str) and "{" not in name
                                   and "$" not in name else None)
                if full.startswith(prefix):
                    local[full[len(prefix):]] = full

    def item(self, item, pos, env, prefix, scope, local, depth):
        if isinstance(item, str):
            self.tokens(_subst(item, env, pos), pos, isinstance(item, _Quoted), prefix, scope,
                        local)
        elif isinstance(item, YMap) and "block" in item:
            self.block(item, env, prefix, scope, local, depth)
        elif isinstance(item, YMap) and "op" in item:
            self.layer(item, env, prefix, scope, local)
        else:
            near = ""
            if isinstance(item, YMap):
                import difflib
                for k in item:
                    m = difflib.get_close_matches(str(k).lower(), ["op", "block"], n=1, cutoff=0.6)
                    if m:
                        near = f"did you mean {m[0]!r} for {k!r}? "
                        pos = item.key_at[k]
                        break
            raise error("a layer is a token string (C3D64), a mapping with 'op' "
                        "or a mapping with 'block'", pos,
                        hint=near + "e.g. - {op: conv, filters: 64, kernel: 3}")

    def tokens(self, text: str, pos: SourcePos, quoted: bool, prefix, scope, local):
        shift = pos.col + (1 if quoted else 0)

        def pos_of(offset: int) -> SourcePos:
            return SourcePos(pos.file, pos.line, shift + offset, pos.source_line)
        words = parse_items(text, pos_of)
        check_size(words, pos)
        errors, warnings = letter_runs(words)
        if errors:
            raise ArchcalcError(errors)
        first: dict = {}
        for w in expand(words):
            for layer in emit_word(self.b, w, self.d, self.memo, scope=scope, prefix=prefix):
                local[layer.name[len(prefix):]] = layer.name
                first.setdefault(w.pos, layer.name)
        for w in warnings:
            if not any(x.pos == w.pos for x in self.b.warnings):   # once per place
                self.b.warnings.append(replace(w, layer=first.get(w.pos)))

    def _inputs(self, item: YMap, env: dict, local: dict) -> list[str] | None:
        if "inputs" not in item:
            return None
        given = item["inputs"]
        where = given.where if isinstance(given, YList) else [item.where["inputs"]]
        raw = _subst(given, env, item.where["inputs"])
        raw = [raw] if isinstance(raw, str) else raw
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            raise error("inputs must be a layer name or a list of names", item.where["inputs"])
        out = []
        for x, pos in zip(raw, where):
            if x not in local:
                raise error(f"input {x!r} is not defined before this layer", pos,
                            hint=_near(x, local) +
                            "inputs name earlier layers of the same list (or 'input'); "
                                 "defined so far: " + ", ".join(
                                     [k for k, v in local.items() if v not in self.b.failed][-6:]))
            out.append(local[x])
        return out

    def _repeat(self, item: YMap, env: dict) -> int:
        n = _subst(item.get("repeat", 1), env, item.where.get("repeat", item.pos))
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise error(f"repeat must be a whole number ≥ 1, got {n!r}",
                        item.where.get("repeat", item.pos))
        if n > MAX_LAYERS:
            raise error(f"repeat {n:,} is more than the {MAX_LAYERS:,} layers archcalc analyzes",
                        item.where["repeat"], hint="lower the repeat count")
        return n

    def _names(self, item: YMap, env: dict, n: int, default: str | None) -> list[str | None]:
        raw = item.get("name", default)
        if raw is None:
            return [None] * n
        if not isinstance(raw, (str, int)) or isinstance(raw, bool):
            raise error(f"a layer name is a word, got {raw!r}", item.where["name"])
        raw = str(raw)
        if n > 1 and "{i" not in raw:
            raw += ".{i}"
        pos = item.where.get("name", item.pos)
        return [re.sub(r"\{([^}]*)\}", lambda m: str(_eval(m.group(1), {**env, "i": i}, pos)), raw)
                if "{" in raw else _subst(raw, env, pos) for i in range(n)]

    def layer(self, item: YMap, env, prefix, scope, local):
        op = _subst(item["op"], env, item.where["op"])
        attrs = {k: _subst(v, env, item.where[k]) for k, v in item.items() if k not in LAYER_KEYS}
        kind = lookup(op, item.where["op"]).kind
        d = self.d
        if kind in ("conv", "dwconv"):
            for k, v in (("kernel", d.conv_kernel), ("stride", d.conv_stride),
                         ("padding", d.conv_padding), ("bias", d.bias)):
                attrs.setdefault(k, v)
        elif kind == "fc":
            attrs.setdefault("bias", d.bias)
        n = self._repeat(item, env)
        inputs = self._inputs(item, env, local)
        where = {**item.where, **{("key", k): p for k, p in item.key_at.items()}}
        for name in self._names(item, env, n, None):
            if kind in ("maxpool", "avgpool"):     # each pool may double the letter width
                attrs = d.pool(kind, attrs)[1]
            layer = self.b.add(kind, attrs, item.pos, name=name, inputs=inputs, scope=scope,
                               prefix=prefix, where=where)
            local[layer.name[len(prefix):]] = layer.name
            inputs = None

    def block(self, item: YMap, env, prefix, scope, local, depth):
        pos = item.pos
        bname = item["block"]
        if not isinstance(bname, str) or bname not in self.blocks:
            raise error(f"no block named {bname!r}", item.where["block"],
                        hint=_near(bname, self.blocks)
                        + "blocks defined: " + (", ".join(self.blocks) or "none"))
        if depth >= MAX_BLOCK_DEPTH:
            raise error(f"blocks nest deeper than {MAX_BLOCK_DEPTH} levels (does {bname!r} "
                        "instantiate itself?)", pos)
        bdef = self.blocks[bname]
        if not isinstance(bdef, YMap) or not isinstance(bdef.get("layers"), YList):
            raise error(f"block {bname!r} needs a list 'layers'", self.blocks.where[bname])
        for k in bdef:
            if k not in ("params", "layers", "output"):
                raise error(f"unknown key {k!r} in block {bname!r}", bdef.key_at[k],
                            hint="a block has params, layers and optionally output")
        params = bdef.get("params") or {}
        if not isinstance(params, dict):
            raise error(f"params of block {bname!r} must be a mapping of names to defaults",
                        bdef.where["params"], hint="params: {width: null, stride: 1}")
        given = {k: _subst(v, env, item.where[k]) for k, v in item.items() if k not in BLOCK_KEYS}
        for k in given:
            if k not in params:
                raise error(f"block {bname!r} has no parameter {k!r}", item.key_at[k],
                            hint=_near(k, [*params, *BLOCK_KEYS]) + "its parameters: "
                            + (", ".join(params) or "none"))
        benv = {}
        for k, default in params.items():
            if k in given:
                benv[k] = given[k]
            elif default is None:
                raise error(f"block {bname!r} needs the parameter {k!r}", pos,
                            hint=f"add {k}: <value> to this line")
            else:
                benv[k] = default
        n = self._repeat(item, env)
        inputs = self._inputs(item, env, local)
        for i, name in enumerate(self._names(item, env, n, None)):
            if name is None:                      # block1, block2, ... per block and scope
                key = (prefix, bname)
                self.instances[key] = self.instances.get(key, 0) + 1
                name = f"{bname}{self.instances[key]}"
            full = prefix + name
            src = inputs[0] if inputs else self.b.last
            if inputs and len(inputs) != 1:
                raise error("a block instance takes one input", item.where["inputs"])
            inner_local = {"input": src}
            self.b.last = src
            self.items(bdef["layers"], {**benv, "i": i}, full + "/", scope + (full,), inner_local,
                       depth + 1)
            out = bdef.get("output")
            if out is not None:
                if not isinstance(out, str) or out not in inner_local:
                    local[name] = self.b.fail(full)    # defined, but failed: not reported again
                    raise error(f"block {bname!r} names output {out!r}, which it does not define",
                                bdef.where["output"], hint=_near(out, inner_local)
                                + "its layers: " + ", ".join(k for k in inner_local
                                                             if k != "input"))
                self.b.last = inner_local[out]
            local[name] = self.b.last
            if self.b.last not in self.b.failed:
                self.b.block_outputs[full] = self.b.last
            inputs = None
