"""YAML text → values with their places: :class:`YMap` and :class:`YList` (a dict and a list that
also know where each of their values was written), plain scalars, and :class:`Quoted` strings.

The text is composed with PyYAML's safe loader into nodes (no object is ever constructed from a
tag; libyaml's where PyYAML has it, a few times faster, and PyYAML's own for the wording of a
syntax error) and converted here with a budget on the values aliases expand to, so aliases
cannot blow up memory, while keeping the line and column of every value for error messages. A
spec whose top-level layer list alone holds more layers than archcalc analyzes is refused
before it is converted. A YAML syntax error is reworded for users: where it is, and the likely
cause (a tab, a list item without its space, an unclosed bracket, a bare ``${…}`` inside a flow
mapping).
"""
from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

import yaml

from ...errors import ArchcalcError, SourcePos, error
from ...graph import MAX_LAYERS

MAX_NODES = 1_000_000      # YAML values that aliases expand to
MAX_DEPTH = 200            # nesting of mappings and lists

_PLAIN = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_PLAIN_HINT = "archcalc reads plain YAML: numbers, strings, lists and mappings"


class YMap(dict[str, Any]):
    """A YAML mapping: its keys (every key a name) and values, with places."""
    pos: SourcePos
    where: dict[str, SourcePos]      # key -> place of its value
    key_at: dict[str, SourcePos]     # key -> place of the key itself


class YList(list[Any]):
    """A YAML sequence, with places."""
    pos: SourcePos
    where: list[SourcePos]           # the place of each item


class Quoted(str):
    """A quoted scalar: its text starts one column after its mark."""

    __slots__ = ()


class _Convert:
    """Nodes → values, counting them (the budget) and keeping their places."""

    def __init__(self, file: str, lines: list[str]):
        self.file, self.lines, self.count = file, lines, 0
        self.cons = yaml.constructor.SafeConstructor()
        self.seen: set[int] = set()      # the nodes converted once (a second time: an alias)

    def pos(self, node: yaml.Node) -> SourcePos:
        m = node.start_mark
        line = self.lines[m.line] if m.line < len(self.lines) else None
        return SourcePos(self.file, m.line + 1, m.column + 1, line)

    def __call__(self, node: yaml.Node, depth: int = 0, aliased: bool = False) -> Any:
        if not aliased:
            if id(node) in self.seen:   # an alias: what it expands to counts against the budget
                aliased = True
            elif isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
                self.seen.add(id(node))
        if aliased:
            self.count += 1
            if self.count > MAX_NODES:
                raise error(f"the YAML's aliases expand to more than {MAX_NODES:,} values",
                            self.pos(node), hint="archcalc refuses alias bombs; write the "
                            "repeated part out, or as a block with repeat:")
        if depth > MAX_DEPTH:
            raise error(f"the YAML nests deeper than {MAX_DEPTH} levels", self.pos(node))
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN:
            raise error(f"unsupported YAML value: tag {node.tag!r}", self.pos(node),
                        hint=_PLAIN_HINT)
        if isinstance(node, yaml.MappingNode):
            out = YMap()
            out.pos, out.where, out.key_at = self.pos(node), {}, {}
            for k, v in node.value:
                key = self(k, depth + 1, aliased)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise error("mapping keys must be plain words", self.pos(k))
                key = str(key)        # every key of the schema is a name
                if key in out:
                    raise error(f"key {key!r} appears twice", self.pos(k),
                                hint="each key may be given once")
                out[key] = self(v, depth + 1, aliased)
                out.where[key] = self.pos(v)
                out.key_at[key] = self.pos(k)
            return out
        if isinstance(node, yaml.SequenceNode):
            seq = YList()
            seq.pos, seq.where = self.pos(node), []
            for v in node.value:
                seq.append(self(v, depth + 1, aliased))
                seq.where.append(self.pos(v))
            return seq
        try:
            value = self.cons.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise error(f"unsupported YAML value: {getattr(exc, 'problem', exc)}", self.pos(node),
                        hint=_PLAIN_HINT) from None
        if not isinstance(value, (str, int, float, bool, type(None))):
            raise error(f"unsupported YAML value of type {type(value).__name__}", self.pos(node),
                        hint=_PLAIN_HINT)
        if isinstance(value, str) and isinstance(node, yaml.ScalarNode) \
                and node.style in ("'", '"'):
            return Quoted(value)
        return value


def _yaml_error(exc: yaml.YAMLError, file: str, lines: list[str]) -> ArchcalcError:
    """PyYAML's error, worded for users, at its place."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return error(f"YAML syntax error: {problem}", SourcePos(file))
    opened = getattr(exc, "context_mark", None)
    context = getattr(exc, "context", None) or ""
    if opened is not None and "flow" in context and opened.line < mark.line:
        # a { or [ that is never closed: PyYAML notices at the end; point at the opening
        bracket = "{" if "mapping" in context else "["
        text = lines[opened.line] if opened.line < len(lines) else None
        return error(f"YAML syntax error: the '{bracket}' opened here is not closed",
                     SourcePos(file, opened.line + 1, opened.column + 1, text),
                     hint=f"close it with '{'}' if bracket == '{' else ']'}' on this line, "
                          "or check the commas between its items")
    line = lines[mark.line] if mark.line < len(lines) else None
    hint = "check the indentation and the brackets on this line"
    if line is not None and "\t" in line[:len(line) - len(line.lstrip())]:
        hint = "YAML indents with spaces, not tabs: replace the tab at the start of this line"
    elif line is not None and re.match(r"\s*-[^\s-]", line):
        hint = "a list item is '- ' with a space: write '- " + line.strip()[1:] + "'"
    bare = re.search(r"(^|[^'\"])(\$\{[^}]*\})", line or "")
    if bare and line is not None and "{" in line[:bare.start(2)]:
        hint = (f"quote ${{…}} inside a flow mapping {{…}}: write '{bare.group(2)}' "
                "(YAML reads a bare { as the start of a mapping)")
    return error(f"YAML syntax error: {problem}",
                 SourcePos(file, mark.line + 1, mark.column + 1, line), hint=hint)


_FAST_LOADER = getattr(yaml, "CSafeLoader", None)      # libyaml, where PyYAML was built with it


def _shallow(text: str) -> bool:
    """Whether the text's brackets nest at most a few hundred deep: libyaml's composer recurses
    in C, and a text of tens of thousands of ``[`` would overflow its stack (PyYAML's own
    composer stops with a RecursionError, which is reported)."""
    brackets = re.sub(r"[^\[\]{}]+", "", text)
    return not brackets or max(accumulate(1 if c in "[{" else -1 for c in brackets)) <= MAX_DEPTH


def _compose(text: str, file: str, lines: list[str]) -> yaml.Node | None:
    """The text's node tree: by libyaml where there is one; a syntax error (and its wording)
    by PyYAML's own parser."""
    if _FAST_LOADER is not None and _shallow(text):
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass                       # worded as PyYAML words it, below
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file, lines) from None
    except RecursionError:
        raise error("the YAML nests too deeply to read", SourcePos(file, 1, 1),
                    hint=f"archcalc reads YAML nested up to {MAX_DEPTH} levels") from None


def _check_layer_count(root: yaml.Node, convert: _Convert) -> None:
    """A spec whose top-level ``layers:`` list holds more items that each make a layer than
    archcalc analyzes (MAX_LAYERS) is refused at the item past the limit, before its values
    are converted. An item counted makes one layer at least: a token string, or an op mapping
    without ``when:`` or ``repeat:`` (which may make none)."""
    if not isinstance(root, yaml.MappingNode):
        return
    items = next((v for k, v in root.value if isinstance(k, yaml.ScalarNode)
                  and k.value == "layers"), None)
    if not isinstance(items, yaml.SequenceNode) or len(items.value) <= MAX_LAYERS:
        return
    count = 0
    for item in items.value:
        if isinstance(item, yaml.ScalarNode):
            counted = bool(item.value.strip())
        elif isinstance(item, yaml.MappingNode):
            keys = {k.value for k, _ in item.value if isinstance(k, yaml.ScalarNode)}
            counted = "op" in keys and not keys & {"when", "repeat"}
        else:
            counted = False
        count += counted
        if count > MAX_LAYERS:
            raise error(f"the spec has more than the {MAX_LAYERS:,} layers archcalc analyzes",
                        convert.pos(item), hint=f"this is layer {count:,} of the top-level list; "
                        "archcalc analyzes networks of at most "
                        f"{MAX_LAYERS:,} layers")


def compose_yaml(text: str, file: str) -> YMap:
    """The spec's text as YMap/YList values with their places: its top-level mapping."""
    lines = text.split("\n")
    root = _compose(text, file, lines)
    if root is None:
        raise error("the YAML file is empty", SourcePos(file, 1, 1),
                    hint="write name, input and layers (see specs/vgg16.yaml)")
    convert = _Convert(file, lines)
    _check_layer_count(root, convert)
    spec = convert(root)
    if not isinstance(spec, YMap):
        raise error("a YAML spec is a mapping with name, input and layers", SourcePos(file, 1, 1))
    return spec
