"""The emitter: a YAML spec's layer list → layers added to a :class:`~archcalc.graph.Builder`.

An item of a layer list is a token string (``C3D64 M``, read by :mod:`archcalc.spec.text`), an op
mapping (``{op: conv, filters: 64}``), a block instance (``{block: bottleneck, width: 64}``) or a
stage table (``{stages: {block: …, table: […]}}``); blocks instantiate the layer lists of their
definitions with their parameters, and expressions may read a block's input volume (``in.c``),
which the emitter computes, with the ops' own shape rules, only when asked. Every problem is
collected (a block's mistake once, with the instances that hit it) and the items after a failed
one are still checked.
"""
from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ...errors import ArchcalcError, Diagnostic, SourcePos, error
from ...graph import MAX_LAYERS, Builder, Layer
from ...ops import OP_NAMES, OPS, At, Op, lookup
from ...ops.base import suggest_attr
from ...ops.values import Vol, near
from ..text import Defaults, WordMemo, check_size, emit_word, expand, letter_runs, parse_items
from .compose import Quoted, YList, YMap
from .expr import AXES, Env, Expressions, InputVolume, Node, shown
from .params import NAME, RESERVED

MAX_BLOCK_DEPTH = 16       # blocks instantiating blocks
LAYER_KEYS = ("op", "name", "inputs", "repeat", "when", "train_only")
BLOCK_KEYS = ("block", "name", "inputs", "repeat", "when", "train_only")
STAGE_KEYS = ("block", "table", "with", "name", "repeat", "stride", "train_only")
Scope = tuple[str, ...]    # the block instances a layer is built in, outermost first
Local = dict[str, str]     # the names a layer list sees → the full names of their layers
KEPT = 256                 # validated attribute sets an op mapping keeps (see LayerPlan)


def _kind_of(item: Any) -> str | None:
    """The op kind of a layer mapping whose op is a plain known word, else None."""
    if not isinstance(item, YMap) or not isinstance(item.get("op"), str) or "repeat" in item:
        return None
    return OP_NAMES.get(item["op"].lower())


_CONV_DEFAULTS = ("conv", "dwconv")           # ops that take defaults.conv and defaults.bias
_BIAS_DEFAULTS = ("fc", "conv_transpose")     # the other ops with a bias
_POOLS = ("maxpool", "avgpool")               # ops that take defaults.pool


class LayerPlan:
    """What building an op mapping needs that no parameter changes, worked out once per
    document (for a mapping whose op is a plain word and that has no ``train_only:``): its op;
    its attributes (``(key, value, place)`` in the order written; those whose value holds an
    expression or a list are evaluated per build, the others are the values written); which of
    the spec's defaults its op takes; its ``when:`` (compiled), whether it has ``repeat:``, its
    ``inputs:`` and its name where they are plain words; the places the op's messages point
    at; and the attributes the op has validated so far, one dict per distinct set of evaluated
    values (at most KEPT: memory stays bounded in a sweep).

    Validating is a pure function of the values, so a layer built again with values seen
    before (another instance of a block, another variant of a sweep) shares that dict: the
    analysis then also reuses its figures while the input volumes repeat."""

    __slots__ = (
        "attrs",
        "defaults",
        "dynamic",
        "inputs",
        "kind",
        "name",
        "opdef",
        "repeat",
        "validated",
        "when",
        "where",
    )

    def __init__(self, opdef: Op, item: YMap, x: Expressions):
        self.opdef, self.kind = opdef, opdef.kind
        self.attrs = [(k, v, item.where[k]) for k, v in item.items() if k not in LAYER_KEYS]
        # (substitution, place) of each value evaluated per build, in the order written
        self.dynamic = [(x.substitution(v), pos) for _, v, pos in self.attrs if _evaluated(v)]
        kind = opdef.kind
        self.defaults = (_CONV_DEFAULTS if kind in _CONV_DEFAULTS else _BIAS_DEFAULTS
                         if kind in _BIAS_DEFAULTS else _POOLS if kind in _POOLS else None)
        # when: compiled (None: the layer is always built)
        self.when = x.substitution(item["when"]) if "when" in item else None
        self.repeat = "repeat" in item
        # inputs: None (the previous layer), names and their places, or _WRITTEN (expressions)
        given = item.get("inputs")
        self.inputs: Any = _WRITTEN
        if given is None and "inputs" not in item:
            self.inputs = None
        elif isinstance(given, str) and "$" not in given:
            self.inputs = ([given], [item.where["inputs"]])
        elif isinstance(given, YList) and all(isinstance(x, str) and "$" not in x
                                              for x in given):
            self.inputs = (list(given), given.where)
        name = item.get("name")
        # a plain word (or number) is the name of the layer it makes alone (see _names)
        plain = name is None or (isinstance(name, (str, int)) and not isinstance(name, bool)
                                 and "{" not in str(name) and "$" not in str(name))
        self.name: Any = (None if name is None else str(name)) if plain else _WRITTEN
        self.where: dict[Any, SourcePos] = {**item.where,
                                            **{("key", k): p for k, p in item.key_at.items()}}
        self.validated: dict[tuple[Any, ...], Mapping[str, Any]] = {}

    def raw(self, values: list[Any], d: Defaults) -> dict[str, Any]:
        """The attributes as written, with ``values`` (of :attr:`dynamic`, in order) for those
        evaluated, and the spec's defaults where the op takes them (what :meth:`Emitter._layer`
        gives the op)."""
        evaluated = iter(values)
        raw = {k: next(evaluated) if _evaluated(v) else v for k, v, _ in self.attrs}
        if self.defaults is _CONV_DEFAULTS:
            for k, v in (("kernel", d.conv_kernel), ("stride", d.conv_stride),
                         ("padding", d.conv_padding), ("bias", d.bias)):
                raw.setdefault(k, v)
        elif self.defaults is _BIAS_DEFAULTS:
            raw.setdefault("bias", d.bias)
        elif self.defaults is _POOLS:
            raw.setdefault("kernel", d.pool_kernel)
            if d.pool_stride is not None:
                raw.setdefault("stride", d.pool_stride)
        return raw


class Memo:
    """What building a document made that holds for every build: its compiled expressions, the
    plans of its op mappings (by the mapping's id: the document keeps the mappings alive as
    long as this), and whether an expression outside ``input:`` and ``params:`` reads ``res``
    (None until a build asks). Owned by the composed document."""

    __slots__ = ("expressions", "layers", "reads_res")

    def __init__(self) -> None:
        self.expressions = Expressions()
        self.layers: dict[int, LayerPlan | None] = {}
        self.reads_res: bool | None = None


_UNPLANNED: Any = object()      # a mapping not planned yet (None: never planned)
_WRITTEN: Any = object()        # a layer name that is a pattern or an expression


def _evaluated(value: Any) -> bool:
    """Whether a written value is evaluated per build: text with ``$`` (an expression), or a
    list (item by item, into a list of its own)."""
    return isinstance(value, list) or (isinstance(value, str) and "$" in value)


def _frozen(values: list[Any]) -> tuple[Any, ...] | None:
    """``values`` as a key that tells apart every difference validation could see: each value
    with its type (1, 1.0 and true differ), a float by its exact bits, a list or tuple item by
    item; None for a value that cannot be part of a key."""
    out: list[Any] = []
    for v in values:
        t = v.__class__
        if t is int or t is str or t is bool or v is None:
            out.append((t, v))
        elif t is float:
            out.append((t, v.hex()))
        elif isinstance(v, (list, tuple)):
            inner = _frozen(list(v))
            if inner is None:
                return None
            out.append((t, inner))
        elif isinstance(v, (str, int, float)):      # a subclass (Quoted): as its own kind
            out.append((t, v.hex() if isinstance(v, float) else v))
        else:
            return None
    return tuple(out)


class LayerLimit(ArchcalcError):
    """The network passed MAX_LAYERS: the emission stops (every later item would fail too)."""


class Emitter:
    """Emits the layer lists of one build of a spec into ``builder``: ``d`` the defaults,
    ``blocks`` the block definitions, ``memo`` the document's (its expressions and plans),
    ``top`` the top-level parameters (which block layers also see)."""

    def __init__(self, builder: Builder, d: Defaults, blocks: YMap, memo: Memo,
                 top: dict[str, Any]):
        self.b, self.d, self.blocks, self.memo = builder, d, blocks, memo
        self.x = memo.expressions
        self.top = top
        self.diags: list[Diagnostic] = []   # every problem found, not only the first
        # (place, message) -> the block instances that hit it
        self.users: dict[tuple[SourcePos, str], list[str]] = {}
        self.words: WordMemo = {}       # validated token attributes (see text.emit_word)
        # unnamed block instances so far, per (scope, block)
        self.instances: dict[tuple[str, str], int] = {}
        # the volume tracker (in.h, in.w, in.c): the output volume of a built layer, computed
        # with its op's own shape rule when an expression asks, with those of its ancestors
        self.vols: dict[str, Vol | None] = {}   # layer name -> volume, None where unknown
        self.why: dict[str, Layer] = {}     # layer name -> the layer whose error made it unknown
        self.tracked = 0                # the layers before this one all have their volumes
        self.shapes: dict[tuple[int, str, tuple[Vol, ...]], Vol] = {}      # see shape
        self.defaults_keys: dict[tuple[str, ...], Any] = {}     # see defaults_key
        self.unknown_said = False       # an in.* was refused for an earlier error: said once
        self.used: set[str] = set()     # blocks instantiated (or named in stages) at least once
        self.chain: list[str] = []      # the blocks whose instances enclose the one being built
        self.size_read = False          # an expression read in.h or in.w

    def volume(self, src: str, pos: SourcePos, what: str, expr: str) -> Vol:
        """The output volume of layer ``src``; a located error for ``what`` (``in.c``) when it
        cannot be known. A shape error found here is reported once, as the analysis would."""
        vols, stack, names = self.vols, [src], self.b.names
        if src not in vols:
            self._forward()
        while stack:                    # depth first, without recursion (chains may be long)
            name = stack[-1]
            if name in vols:
                stack.pop()
                continue
            layer = names.get(name)
            if layer is None or layer.op == "input":    # a layer that failed to build: None
                vols[name] = self.b.input if layer is not None else None
                stack.pop()
                continue
            todo = [s for s in layer.inputs if s not in vols]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            got = [vols[s] for s in layer.inputs]
            ins = [v for v in got if v is not None]
            if len(ins) < len(got):
                vols[name] = None
                cause = self.why.get(layer.inputs[got.index(None)])
                if cause is not None:
                    self.why[name] = cause
                continue
            try:
                vols[name] = self.shape(layer, ins, self.d.rounding)
            except ArchcalcError as exc:
                vols[name] = None
                self.why[name] = layer
                for d in exc.diagnostics:      # reported here, as the build then stops
                    if (d.pos, d.message) not in self.users:
                        self.users[(d.pos, d.message)] = []
                        self.diags.append(d)
        vol = self.vols.get(src)
        if vol is not None:
            return vol
        if self.unknown_said:           # the layers that follow fail quietly: one error says why
            raise ArchcalcError([])
        self.unknown_said = True
        cause = self.why.get(src)
        if cause is not None:
            because = f"layer {cause.name!r} before it has an error ({cause.pos})"
        else:
            because = "a layer before it could not be built (its error is reported)"
        raise error(f"{what} is unknown in {expr!r}: {because}", pos,
                    hint="fix that error first; this one (and the layers that depend on it) "
                         "then follow")

    def _forward(self) -> None:
        """The volumes of the layers built since the last call, in the order built, while each
        is computed without an error (the first that is not is left to :meth:`volume`, which
        reports it as it would have without this). A layer computed here that ``volume`` would
        not have needed yet changes nothing: it has no error, and its volume is the one
        ``volume`` would compute."""
        layers, vols, shapes, rounding = self.b.layers, self.vols, self.shapes, self.d.rounding
        i = self.tracked
        for layer in itertools.islice(layers, i, None):
            name, srcs = layer.name, layer.inputs
            if name not in vols:
                if layer.op == "input":
                    vols[name] = self.b.input
                else:
                    if len(srcs) == 1:
                        one = vols.get(srcs[0])
                        if one is None:         # not known (yet): volume's to follow
                            break
                        ins = [one]
                    else:
                        got = [vols.get(s) for s in srcs]
                        ins = [v for v in got if v is not None]
                        if len(ins) < len(got):
                            break
                    key = (id(layer.attrs), layer.op, tuple(ins))
                    vol = shapes.get(key)
                    if vol is None:
                        try:
                            vol = self.shape(layer, ins, rounding)
                        except ArchcalcError:
                            break
                    vols[name] = vol
            i += 1
        self.tracked = i

    def shape(self, layer: Layer, ins: list[Vol], rounding: str) -> Vol:
        """The output volume of ``layer`` (built) reading volumes ``ins``: its op's shape rule,
        a function of the attributes and the input volumes, so computed once for the layers
        that share them (a block's instances: see LayerPlan). The attributes all belong to
        layers of this build, so their ids are not another's while it lasts."""
        key = (id(layer.attrs), layer.op, tuple(ins))
        vol = self.shapes.get(key)
        if vol is None:
            vol = self.shapes[key] = OPS[layer.op].shape(
                layer.attrs, ins, At(layer.name, layer.pos, layer.inputs, rounding))
        return vol

    def axis(self, src: str, axis: str, expr: str, pos: SourcePos) -> int:
        """``in.h``, ``in.w`` or ``in.c`` of a block instance reading layer ``src`` (what its
        InputVolume reads)."""
        if axis != "c":             # the network's layers then depend on the input's size
            self.size_read = True
        vol = self.volume(src, pos, f"in.{axis}", expr)
        return vol[AXES.index(axis)]

    def when(self, item: YMap, env: Env, compiled: Node | None = None) -> bool:
        """A layer's or block instance's ``when:``, which must be true or false (``compiled``:
        its substitution, where it is kept)."""
        if "when" not in item:
            return True
        pos = item.where["when"]
        v = compiled(env, pos) if compiled is not None else \
            self.x.substitute(item["when"], env, pos)
        if not isinstance(v, bool):
            raw = item["when"]
            what = ("a number" if isinstance(v, (int, float)) else "text" if isinstance(v, str)
                    else "a list" if isinstance(v, list) else "nothing" if v is None else "a value")
            raise error(f"when: must be true or false, but {raw!r} is {what}"
                        if isinstance(raw, str) and "$" in raw
                        else f"when: must be true or false, got {shown(v)}", pos,
                        hint="write a condition, e.g. when: ${stride == 1 and in.c == out}")
        return v

    def train_only(self, item: YMap, env: Env) -> bool:
        """A layer's, block instance's or stage's ``train_only:``, which must be true or false."""
        pos = item.where["train_only"]
        v = self.x.substitute(item["train_only"], env, pos)
        if not isinstance(v, bool):
            raise error(f"train_only: must be true or false, got {shown(v)}", pos,
                        hint="write train_only: true on the layers (or the block) that run only in "
                             "training, such as an auxiliary classifier")
        return v

    def report(self) -> list[Diagnostic]:
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

    def items(self, items: YList, env: Env, prefix: str, scope: Scope, local: Local,
              depth: int) -> None:
        """Emit a layer list. ``local`` maps names visible here to full layer names. A failed
        item is reported and the items after it are still checked (see Builder.fail)."""
        plans = self.memo.layers
        for i, item in enumerate(items):
            try:
                plan = plans.get(id(item))
                if plan is not None:    # an op mapping built before (see layer)
                    self.planned(plan, item, env, prefix, scope, local)
                else:
                    self.item(item, items.where[i], env, prefix, scope, local, depth)
            except ArchcalcError as exc:
                if isinstance(exc, LayerLimit) or len(self.b.layers) > MAX_LAYERS:
                    # no item after it can be built: one error, at the outermost item that
                    # passed the limit (a block instance's line, not the block's)
                    raise LayerLimit(error(
                        f"the spec has more than the {MAX_LAYERS:,} layers archcalc analyzes",
                        items.where[i], hint=f"archcalc analyzes networks of at most "
                        f"{MAX_LAYERS:,} layers; the layer past the limit is made here"
                        ).diagnostics) from None
                for d in exc.diagnostics:      # a block's mistake once, not once per instance
                    key = (d.pos, d.message)
                    if key not in self.users:
                        self.users[key] = []
                        self.diags.append(d)
                    if scope and scope[-1] not in self.users[key] and \
                            (d.fix or {}).get("kind") != "block_depth":   # (its chain says)
                        self.users[key].append(scope[-1])
                name = item.get("name") if isinstance(item, YMap) else None
                if isinstance(name, str) and "{" not in name and "$" not in name:
                    full = self.b.fail(prefix + name)
                else:       # an unnamed layer keeps the name it would have had (conv1): later
                    kind = _kind_of(item)           # layers naming it are not reported again
                    full = self.b.fail(self.b.next_name(kind, prefix) if kind else None)
                if full.startswith(prefix):
                    local[full[len(prefix):]] = full

    def item(self, item: Any, pos: SourcePos, env: Env, prefix: str, scope: Scope,
             local: Local, depth: int) -> None:
        """One item of a layer list, at ``pos``."""
        # train_only: on a layer or block instance, or inside a stages: mapping
        flags = item.get("stages") if isinstance(item, YMap) and "stages" in item else item
        if isinstance(flags, YMap) and "train_only" in flags:
            train = self.train_only(flags, env)
            before = self.b.train_only
            self.b.train_only = before or train      # inside a training-only block: still so
            try:
                return self._item(item, pos, env, prefix, scope, local, depth)
            finally:
                self.b.train_only = before
        return self._item(item, pos, env, prefix, scope, local, depth)

    def _item(self, item: Any, pos: SourcePos, env: Env, prefix: str, scope: Scope,
              local: Local, depth: int) -> None:
        if isinstance(item, str):
            self.tokens(self.x.substitute(item, env, pos), pos, isinstance(item, Quoted), prefix,
                        scope, local)
        elif isinstance(item, YMap) and "stages" in item:
            self.stages(item, env, prefix, scope, local, depth)
        elif isinstance(item, YMap) and "block" in item:
            self.block(item, env, prefix, scope, local, depth)
        elif isinstance(item, YMap) and "op" in item:
            self.layer(item, env, prefix, scope, local)
        else:
            near = ""
            if isinstance(item, YMap):
                for k in item:
                    m = difflib.get_close_matches(str(k).lower(), ["op", "block", "stages"], n=1,
                                                  cutoff=0.6)
                    if m:
                        near = f"did you mean {m[0]!r} for {k!r}? "
                        pos = item.key_at[k]
                        break
            raise error("a layer is a token string (C3D64), a mapping with 'op', "
                        "a mapping with 'block' or a mapping with 'stages'", pos,
                        hint=near + "e.g. - {op: conv, filters: 64, kernel: 3}")

    def tokens(self, text: Any, pos: SourcePos, quoted: bool, prefix: str, scope: Scope,
               local: Local) -> None:
        """A token string (``C3D64 R M``) written at ``pos``: its words' layers."""
        shift = pos.col + (1 if quoted else 0)

        def pos_of(offset: int) -> SourcePos:
            return SourcePos(pos.file, pos.line, shift + offset, pos.source_line)
        words = parse_items(text, pos_of)
        check_size(words, pos)
        errors, warnings = letter_runs(words)
        if errors:
            raise ArchcalcError(errors)
        first: dict[SourcePos, str] = {}
        for w in expand(words):
            for layer in emit_word(self.b, w, self.d, self.words, scope=scope, prefix=prefix):
                local[layer.name[len(prefix):]] = layer.name
                first.setdefault(w.pos, layer.name)
        for warning in warnings:
            if not any(x.pos == warning.pos for x in self.b.warnings):   # once per place
                self.b.warnings.append(replace(warning, layer=first.get(warning.pos)))

    def _inputs(self, item: YMap, env: Env, local: Local) -> list[str] | None:
        if "inputs" not in item:
            return None
        given = item["inputs"]
        where = given.where if isinstance(given, YList) else [item.where["inputs"]]
        raw = self.x.substitute(given, env, item.where["inputs"])
        raw = [raw] if isinstance(raw, str) else raw
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            raise error("inputs must be a layer name or a list of names", item.where["inputs"])
        return self._named(raw, where, local)

    def _named(self, names: list[str], where: list[SourcePos], local: Local) -> list[str]:
        """The full names of the layers ``names`` (given at ``where``) stand for."""
        out = []
        for x, pos in zip(names, where):
            if x not in local:
                raise error(f"input {x!r} is not defined before this layer", pos,
                            hint=near(x, local) +
                            "inputs name earlier layers of the same list (or 'input'); "
                                 "defined so far: " + ", ".join(
                                     [k for k, v in local.items() if v not in self.b.failed][-6:]))
            out.append(local[x])
        return out

    def _repeat(self, item: YMap, env: Env) -> int:
        n = self.x.substitute(item.get("repeat", 1), env, item.where.get("repeat", item.pos))
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise error(f"repeat must be a whole number ≥ 1, got {n!r}",
                        item.where.get("repeat", item.pos))
        if n > MAX_LAYERS:
            raise error(f"repeat {n:,} is more than the {MAX_LAYERS:,} layers archcalc analyzes",
                        item.where["repeat"], hint="lower the repeat count")
        return n

    def _names(self, item: YMap, env: Env, n: int, default: str | None) -> list[Any]:
        raw = item.get("name", default)
        if raw is None:
            return [None] * n
        if not isinstance(raw, (str, int)) or isinstance(raw, bool):
            raise error(f"a layer name is a word, got {raw!r}", item.where["name"])
        raw = str(raw)
        if n > 1 and "{i" not in raw:
            raw += ".{i}"
        pos = item.where.get("name", item.pos)
        return [self.x.name(raw, {**env, "i": i}, pos) if "{" in raw
                else self.x.substitute(raw, env, pos) for i in range(n)]

    def _absent(self, item: YMap, env: Env, local: Local, names: list[Any]) -> None:
        """A layer or block instance whose ``when:`` is false is not built: it acts as identity.
        Its name stands for its (first) input, and the next layer follows that input."""
        inputs = self._inputs(item, env, local)
        src = inputs[0] if inputs else self.b.last
        for name in names:
            if name is not None:
                local[name] = src
        self.b.last = src

    def layer(self, item: YMap, env: Env, prefix: str, scope: Scope, local: Local) -> None:
        """An op mapping: its layer (or layers, with repeat:)."""
        plans = self.memo.layers
        plan = plans.get(id(item), _UNPLANNED)
        if plan is _UNPLANNED:
            plan = plans[id(item)] = self._plan(item)
        if plan is None:
            self._layer(item, env, prefix, scope, local)
        else:
            self.planned(plan, item, env, prefix, scope, local)

    def planned(self, plan: LayerPlan, item: YMap, env: Env, prefix: str, scope: Scope,
                local: Local) -> None:
        """What :meth:`_layer` does, with what no parameter changes done once (see LayerPlan):
        the same checks in the same order, the same layers."""
        if plan.when is not None and not self.when(item, env, plan.when):
            self._absent(item, env, local, self._names(item, env, self._repeat(item, env), None))
            return
        kind, d, group, dynamic = plan.kind, self.d, plan.defaults, plan.dynamic
        # the evaluated values, and their key (see _frozen; a lone int is its own key)
        key: Any
        if not dynamic:
            values: list[Any] = []
            key = ()
        elif len(dynamic) == 1:
            node, pos = dynamic[0]
            value = node(env, pos)
            values = [value]
            key = value if value.__class__ is int else _frozen(values)
        else:
            values = [node(env, pos) for node, pos in dynamic]
            key = _frozen(values)
        n = self._repeat(item, env) if plan.repeat else 1
        given = plan.inputs
        if given is None:
            inputs = None
        elif given is _WRITTEN:
            inputs = self._inputs(item, env, local)
        else:
            try:
                inputs = [local[x] for x in given[0]]
            except KeyError:            # one is not defined: the error _named gives
                inputs = self._named(given[0], given[1], local)
        names = [plan.name] if n == 1 and plan.name is not _WRITTEN else \
            self._names(item, env, n, None)
        attrs: Mapping[str, Any] | None = None
        if key is not None and group is not None:   # the defaults it takes: part of the key
            taken = self.defaults_keys.get(group) or self.defaults_key(group)
            key = None if taken is None else (key, taken)
        if key is not None:
            try:
                attrs = plan.validated.get(key)
            except TypeError:           # a value that cannot be a key (a --set dict)
                key = None
        b = self.b
        for name in names:
            if group is _POOLS:
                d.pooled(kind)          # each pool may double the letter width
            if attrs is None:           # the first of these values: validated by the op
                layer = b.add(kind, plan.raw(values, d), item.pos, name=name, inputs=inputs,
                              scope=scope, prefix=prefix, where=plan.where)
                attrs = layer.attrs
                if key is not None:
                    if len(plan.validated) >= KEPT:     # memory stays bounded in a sweep
                        plan.validated.clear()
                    plan.validated[key] = attrs
            else:                       # as validated before: the same attributes object
                layer = b.add(kind, attrs, item.pos, name=name, inputs=inputs, scope=scope,
                              prefix=prefix, ready=True)
            local[layer.name[len(prefix):]] = layer.name
            inputs = None

    def defaults_key(self, group: tuple[str, ...]) -> Any:
        """The spec's defaults an op of ``group`` takes (see LayerPlan.raw), as part of a key:
        the same for every layer of this build (only the running width of letter convs
        changes as it goes, which no op mapping takes)."""
        got = self.defaults_keys.get(group)
        if got is None:
            d = self.d
            got = self.defaults_keys[group] = _frozen(
                [d.conv_kernel, d.conv_stride, d.conv_padding, d.bias] if group is _CONV_DEFAULTS
                else [d.bias] if group is _BIAS_DEFAULTS else [d.pool_kernel, d.pool_stride])
        return got

    def _plan(self, item: YMap) -> LayerPlan | None:
        """The plan of an op mapping whose op is a plain word that is not a split and whose keys
        are all right; None for any other (built by :meth:`_layer` every time, which reports
        what is wrong where it is met)."""
        op = item["op"]
        if not isinstance(op, str) or "$" in op or "train_only" in item or "stages" in item \
                or "block" in item:
            return None
        try:
            opdef = lookup(op, item.where["op"])
            self._check_keys(item, opdef)
        except ArchcalcError:
            return None
        if opdef.kind == "split":
            return None
        return LayerPlan(opdef, item, self.x)

    def _check_keys(self, item: YMap, opdef: Op) -> None:
        """A misspelled layer key (train-only, inptus) is not an attribute: say so."""
        for k in item:
            if k not in LAYER_KEYS and k not in opdef.ATTRS:
                meant = difflib.get_close_matches(str(k).lower().replace("-", "_"), LAYER_KEYS,
                                                  n=1, cutoff=0.75)
                if meant and not suggest_attr(str(k), opdef.ATTRS):
                    raise error(f"unknown key {k!r}", item.key_at[k],
                                hint=f"did you mean {meant[0]!r}? keys of a layer: "
                                + ", ".join(LAYER_KEYS) + f", and {opdef.kind}'s attributes")

    def _layer(self, item: YMap, env: Env, prefix: str, scope: Scope, local: Local) -> None:
        """An op mapping, read in full (the op itself may be an expression)."""
        op = self.x.substitute(item["op"], env, item.where["op"])
        if not self.when(item, env):
            lookup(op, item.where["op"])
            self._absent(item, env, local, self._names(item, env, self._repeat(item, env), None))
            return
        opdef = lookup(op, item.where["op"])
        self._check_keys(item, opdef)
        attrs = {k: self.x.substitute(v, env, item.where[k]) for k, v in item.items()
                 if k not in LAYER_KEYS}
        kind = opdef.kind
        d = self.d
        if kind in _CONV_DEFAULTS:
            for k, v in (("kernel", d.conv_kernel), ("stride", d.conv_stride),
                         ("padding", d.conv_padding), ("bias", d.bias)):
                attrs.setdefault(k, v)
        elif kind in _BIAS_DEFAULTS:     # the other ops with a bias
            attrs.setdefault("bias", d.bias)
        n = self._repeat(item, env)
        inputs = self._inputs(item, env, local)
        where: dict[Any, SourcePos] = {**item.where,
                                       **{("key", k): p for k, p in item.key_at.items()}}
        for name in self._names(item, env, n, None):
            if kind in _POOLS:     # each pool may double the letter width
                attrs = d.pool(kind, attrs)[1]
            layer = self.b.add(kind, attrs, item.pos, name=name, inputs=inputs, scope=scope,
                               prefix=prefix, where=where)
            local[layer.name[len(prefix):]] = layer.name
            if kind == "split":             # each part is addressable: s.0, s.1, ...
                for part in self.b.splits[layer.name.rpartition(".")[0]]:
                    local[part[len(prefix):]] = part
            inputs = None

    def _block_def(self, bname: Any, where: SourcePos, pos: SourcePos, depth: int
                   ) -> tuple[YMap, dict[str, Any]]:
        """The checked definition of block ``bname`` and its parameters."""
        if not isinstance(bname, str) or bname not in self.blocks:
            raise error(f"no block named {bname!r}", where,
                        hint=near(bname, self.blocks)
                        + "blocks defined: " + (", ".join(self.blocks) or "none"))
        self.used.add(bname)
        if depth >= MAX_BLOCK_DEPTH:
            raise self._too_deep(bname, pos)
        bdef = self.blocks[bname]
        if not isinstance(bdef, YMap) or not isinstance(bdef.get("layers"), YList):
            slip = next((k for k in bdef if k not in ("params", "layers", "output")
                         and near(k, ("layers",))), None) if isinstance(bdef, YMap) else None
            if slip is not None:           # layer:, layres: — the list is there, misspelled
                raise error(f"unknown key {slip!r} in block {bname!r}", bdef.key_at[slip],
                            hint=near(slip, ("layers",)) + "a block has params, layers and "
                                 "optionally output")
            raise error(f"block {bname!r} needs a list 'layers'",
                        bdef.key_at.get("layers", self.blocks.where[bname])
                        if isinstance(bdef, YMap) else self.blocks.where[bname],
                        hint="layers: [{op: conv, filters: $width}, …]")
        for k in bdef:
            if k not in ("params", "layers", "output"):
                raise error(f"unknown key {k!r} in block {bname!r}", bdef.key_at[k],
                            hint="train_only goes on the instance line: - {block: "
                            f"{bname}, train_only: true}}" if k == "train_only" else
                            near(k, ("params", "layers", "output")) +
                            "a block has params, layers and optionally output")
        params = bdef.get("params") or {}
        if not isinstance(params, dict):
            raise error(f"params of block {bname!r} must be a mapping of names to defaults",
                        bdef.where["params"], hint="params: {width: null, stride: 1}")
        return bdef, params

    def _too_deep(self, bname: str, pos: SourcePos) -> ArchcalcError:
        """Blocks nested past MAX_BLOCK_DEPTH: the chain of blocks that leads here, and, where a
        block in it instantiates itself (through others or not), that cycle."""
        chain = [*self.chain, bname]
        shown = " → ".join(chain) if len(chain) <= 8 else \
            " → ".join(chain[:3]) + " → … → " + " → ".join(chain[-2:])
        if bname in self.chain:
            cycle = chain[len(self.chain) - 1 - self.chain[::-1].index(bname):]
            return ArchcalcError(Diagnostic(
                "error", f"blocks nest deeper than {MAX_BLOCK_DEPTH} levels: block {bname!r} "
                f"instantiates itself ({' → '.join(cycle)})", pos,
                "a block may contain itself only under a when: that ends the recursion within "
                f"{MAX_BLOCK_DEPTH} levels", fix={"kind": "block_depth"}))
        return ArchcalcError(Diagnostic(
            "error", f"blocks nest deeper than {MAX_BLOCK_DEPTH} levels: {shown}", pos,
            f"the block nesting depth is at most {MAX_BLOCK_DEPTH} (a block inside a block "
            "inside …); write some level's layers into the block that uses it",
            fix={"kind": "block_depth"}))

    def _block_env(self, bname: str, params: dict[str, Any], given: dict[str, Any],
                   key_at: Callable[[str], SourcePos], pos: SourcePos,
                   keys: tuple[str, ...] = BLOCK_KEYS) -> dict[str, Any]:
        """The block's parameters: those ``given`` (placed by ``key_at``) over its defaults."""
        for k in given:
            if k not in params:
                raise error(f"block {bname!r} has no parameter {k!r}", key_at(k),
                            hint=near(k, [c for c in (*params, *keys) if c != k])
                            + ("a stage table gives the first block of each stage its stride: "
                               f"add a stride parameter to block {bname!r} (" if k == "stride"
                               else "") + "its parameters: " + (", ".join(params) or "none")
                            + (")" if k == "stride" else ""))
        benv: dict[str, Any] = {}
        for k, default in params.items():
            if k in given:
                benv[k] = given[k]
            elif default is None:
                raise error(f"block {bname!r} needs the parameter {k!r}", pos,
                            hint=f"add {k}: <value> to this line" if keys is BLOCK_KEYS else
                            f"name a column {k} in the table's header, or map it in with: "
                            f"{{{k}: ${{...}}}}")
            else:
                benv[k] = default
        return benv

    def _instance(self, bname: str, bdef: YMap, benv: dict[str, Any], i: int, name: str,
                  src: str, prefix: str, scope: Scope, local: Local, depth: int) -> None:
        """Emit one instance of a block, named ``name``, reading layer ``src``."""
        full = prefix + name
        inner_local = {"input": src}
        self.b.last = src
        self.chain.append(bname)
        try:
            self.items(bdef["layers"],
                       {**self.top, **benv, "i": i, "in": InputVolume(self.axis, src)},
                       full + "/", scope + (full,), inner_local, depth + 1)
        finally:
            self.chain.pop()
        out = bdef.get("output")
        if out is not None:
            if not isinstance(out, str) or out not in inner_local:
                local[name] = self.b.fail(full)    # defined, but failed: not reported again
                raise error(f"block {bname!r} names output {out!r}, which it does not define",
                            bdef.where["output"], hint=near(out, inner_local)
                            + "its layers: " + ", ".join(k for k in inner_local
                                                         if k != "input"))
            self.b.last = inner_local[out]
        local[name] = self.b.last
        if self.b.last not in self.b.failed:
            self.b.block_outputs[full] = self.b.last

    def block(self, item: YMap, env: Env, prefix: str, scope: Scope, local: Local,
              depth: int) -> None:
        """A block instance (or several, with repeat:)."""
        pos = item.pos
        bname = item["block"]
        bdef, params = self._block_def(bname, item.where["block"], pos, depth)
        n = self._repeat(item, env)
        inputs = self._inputs(item, env, local)
        if inputs and len(inputs) != 1:
            raise error("a block instance takes one input", item.where["inputs"])
        for i, name in enumerate(self._names(item, env, n, None)):
            src = inputs[0] if inputs else self.b.last
            here = {**env, "in": InputVolume(self.axis, src)}
            if not self.when(item, {**here, "i": i}):   # not built: its name stands for its input
                if name is not None:
                    local[name] = src
                self.b.last = src
                inputs = None
                continue
            if name is None:                      # block1, block2, ... per block and scope
                key = (prefix, bname)
                self.instances[key] = self.instances.get(key, 0) + 1
                name = f"{bname}{self.instances[key]}"
            # i: the repeat's index, as in when: and name:
            given: dict[str, Any] = {k: self.x.substitute(v, {**here, "i": i}, item.where[k])
                                     for k, v in item.items() if k not in BLOCK_KEYS}
            benv = self._block_env(bname, params, given, item.key_at.__getitem__, pos)
            self._instance(bname, bdef, benv, i, name, src, prefix, scope, local, depth)
            inputs = None

    def stages(self, item: YMap, env: Env, prefix: str, scope: Scope, local: Local,
               depth: int) -> None:
        """A stage table: each row (named by the header row) repeats a block; the first block of
        a stage takes the row's stride, the others stride 1."""
        for k in item:
            if k != "stages":
                raise error(f"unknown key {k!r} beside 'stages'", item.key_at[k],
                            hint="write every setting inside stages: {block: …, table: …}")
        st = item["stages"]
        if not isinstance(st, YMap):
            raise error("stages is a mapping with block and table", item.where["stages"],
                        hint="stages: {block: inverted_residual, table: [[t, c, n, s], "
                             "[1, 16, 1, 1]]}")
        for k in st:
            if k not in STAGE_KEYS:
                raise error(f"unknown key {k!r} in stages", st.key_at[k],
                            hint=near(k, STAGE_KEYS) + "stages take: " + ", ".join(STAGE_KEYS))
        for k in ("block", "table"):
            if k not in st:
                raise error(f"stages needs {k!r}", st.pos,
                            hint="stages: {block: inverted_residual, table: [[t, c, n, s], "
                                 "[1, 16, 1, 1]]}")
        bname = st["block"]
        bdef, params = self._block_def(bname, st.where["block"], st.pos, depth)
        table = st["table"]
        example = "table: [[t, c, n, s], [1, 16, 1, 1], [6, 24, 2, 2]]"
        if not isinstance(table, YList) or len(table) < 2 or not isinstance(table[0], YList):
            raise error("a stage table is a list of rows, the first naming the columns",
                        st.where["table"], hint=example)
        header, hpos = table[0], table.where[0]
        for j, col in enumerate(header):
            if not isinstance(col, str) or not NAME.fullmatch(col) \
                    or col in RESERVED:
                raise error(f"column {j + 1} of the header is {col!r}, not a name", header.where[j],
                            hint=(f"{col!r} is reserved; " if col in RESERVED else "")
                            + "the first row names the columns with words: " + example)
            if col in header[:j]:
                raise error(f"the column {col!r} is named twice", header.where[j],
                            hint="name each column once")
        cols = list(header)
        repeat = st.get("repeat", "$n")
        stride = st.get("stride", "$s" if "s" in cols else None)
        if "repeat" not in st and "n" not in cols:
            raise error("the stage table has no column n (the blocks per stage)", hpos,
                        hint="add a column n, or write repeat: ${…} over the columns")
        with_ = st.get("with")
        if with_ is not None and not isinstance(with_, YMap):
            raise error("with maps block parameters to values over the columns",
                        st.where["with"], hint="with: {expand: $t, out: $c}")
        passed = [c for c in cols if c not in ("n", "s")] if with_ is None else list(with_)
        name_pat = st.get("name", "stage{stage}")
        if not isinstance(name_pat, str):
            raise error(f"a stage name is a word, got {name_pat!r}", st.where["name"])
        name_pos = st.where.get("name", st.pos)
        rows = []
        for r in range(1, len(table)):
            row, rpos = table[r], table.where[r]
            if not isinstance(row, YList) or len(row) != len(cols):
                got = f"{len(row)} values" if isinstance(row, YList) else repr(row)
                raise error(f"row {r} of the stage table has {got}, the header "
                            f"[{', '.join(cols)}] has {len(cols)}", rpos,
                            hint=f"write one value per column: [{', '.join(cols)}]")
            rows.append((row, rpos))
        for r, (row, rpos) in enumerate(rows, 1):
            renv = {**env, **dict(zip(cols, row)), "stage": r}
            n = self.x.substitute(repeat, renv, st.where.get("repeat", rpos))
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise error(f"row {r}: the blocks per stage must be a whole number ≥ 0, got "
                            f"{shown(n)}", st.where.get("repeat", rpos))
            if n > MAX_LAYERS:
                raise error(f"row {r} repeats its block {n:,} times, more than the "
                            f"{MAX_LAYERS:,} layers archcalc analyzes", rpos)
            base = (self.x.name(name_pat, renv, name_pos) if "{" in name_pat
                    else self.x.substitute(name_pat, renv, name_pos))
            if n and prefix + f"{base}.0" in self.b.block_outputs:
                raise error(f"the stage {base!r} is built twice: its blocks {base}.0, … exist "
                            "already", name_pos, hint="give each stages: item its own name, "
                            "e.g. name: \"head{stage}\"" if "name" not in st else
                            "give this stages: item another name")
            for i in range(n):
                src = self.b.last
                ienv = {**renv, "i": i, "in": InputVolume(self.axis, src)}
                if with_ is None:
                    given = {c: renv[c] for c in passed}
                else:
                    given = {k: self.x.substitute(v, ienv, with_.where[k])
                             for k, v in with_.items()}
                if stride is not None and "stride" not in given:   # with: may set it itself
                    s = self.x.substitute(stride, ienv, st.where.get("stride", rpos))
                    given["stride"] = s if i == 0 else 1
                benv = self._block_env(bname, params, given,
                                       lambda k: (with_.key_at.get(k) if with_ is not None
                                                  else None) or st.where.get(k) or hpos,
                                       rpos, STAGE_KEYS)
                self._instance(bname, bdef, benv, i, f"{base}.{i}", src, prefix, scope, local,
                               depth)

