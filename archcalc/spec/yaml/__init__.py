"""YAML specs: name, input, parameters, defaults, reusable blocks and a layer list
(docs/spec-languages.md).

The package, by concern, each module importing only those before it:

  * :mod:`.compose`  YAML text → :class:`YMap`/:class:`YList` values that keep the line and column
    of every value; YAML syntax errors worded for users
  * :mod:`.expr`     the ``$name``/``${…}`` expression language, evaluated safely (no Python)
  * :mod:`.params`   the spec's declared parameters with ``--set`` values over their defaults, and
    its ``defaults:``
  * :mod:`.emit`     the emitter: layer lists, blocks and stage tables → layers
  * here             :func:`compose` (a document, composed once) and :func:`parse_yaml` (a
    document → a Network: the top-level keys, the input, the outputs)
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ...errors import ArchcalcError, Diagnostic, error
from ...graph import Builder, Network
from ...ops.values import Vol, as_volume, channels_first_warning, near
from ..text import Defaults
from .compose import MAX_NODES, Quoted, YList, YMap, compose_yaml
from .emit import MAX_BLOCK_DEPTH, Emitter, Memo
from .expr import Expressions, InputVolume, evaluate, make_divisible, shown, substitute
from .params import spec_defaults, top_params, uses

__all__ = ["parse_yaml", "compose", "Document", "YMap", "YList", "Quoted", "Expressions",
           "InputVolume", "evaluate", "substitute", "make_divisible", "TOP_KEYS",
           "DEFAULT_INPUT", "MAX_NODES", "MAX_BLOCK_DEPTH"]

TOP_KEYS = ("name", "input", "params", "defaults", "blocks", "layers", "outputs")
DEFAULT_INPUT = (224, 224, 3)      # a spec without input: and without --input (as docs say)


class Document(NamedTuple):
    """A YAML spec composed once: its top-level mapping, and what building it made that holds
    for every build (:class:`~.emit.Memo`: each expression compiled once, each op mapping
    planned once). A sweep builds every variant from one."""
    spec: YMap
    memo: Memo


def compose(text: str, file: str) -> Document:
    """The spec's text as a :class:`Document` (YMap/YList values with their places)."""
    return Document(compose_yaml(text, file), Memo())


def parse_yaml(text: str, file: str, input: Vol | None = None, name: str | None = None,
               overrides: dict[str, Any] | None = None, default_name: str | None = None,
               settings: dict[str, Any] | None = None,
               document: Document | None = None) -> Network:
    """A YAML spec. ``overrides`` (from options) win over the spec's own ``defaults``;
    ``settings`` (``--set name=value``) over the defaults of its top-level ``params`` (a name it
    does not declare is an error, kind "usage"; ``res``, undeclared, sets the input's height and
    width). The network's ``params`` are the values its parameters took. ``document``: the
    text already composed (:func:`compose`; a sweep composes once and builds every variant)."""
    doc = compose(text, file) if document is None else document
    spec = doc.spec
    diags: list[Diagnostic] = []     # every problem, reported together at the end
    meant: set[str | None] = set()   # top-level keys that a misspelled key probably stands for
    for key in spec:
        if key not in TOP_KEYS:
            meaning = near(key, TOP_KEYS)
            meant.add(meaning.split("'")[1] if meaning else None)
            diags.append(Diagnostic("error", f"unknown top-level key {key!r}", spec.key_at[key],
                                    meaning + "top-level keys: " + ", ".join(TOP_KEYS)))
    try:
        return _build(doc, file, input, name, overrides, default_name, diags, meant,
                      settings or {})
    except ArchcalcError as exc:
        if not diags or exc.diagnostics[0] in diags:
            raise
        raise ArchcalcError(diags + exc.diagnostics) from None


def _build(doc: Document, file: str, input: Vol | None, name: str | None,
           overrides: dict[str, Any] | None, default_name: str | None,
           diags: list[Diagnostic], meant: set[str | None], settings: dict[str, Any]) -> Network:
    """The checked mapping of a YAML spec → a Network; ``diags`` holds the problems found so far
    (raised with any found here), ``meant`` the keys a misspelled top-level key stands for (their
    absence is not reported twice)."""
    spec, x = doc.spec, doc.memo.expressions
    env = top_params(spec, diags, settings, x)
    d = spec_defaults(spec, Defaults(), diags, env, x)
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
            input = as_volume(x.substitute(spec["input"], env, spec.where["input"]),
                              spec.where["input"])
            chw = channels_first_warning(input, spec.where["input"], "yaml")
        except ArchcalcError as exc:        # the layers are still checked (and never returned)
            diags.extend(exc.diagnostics)
            input = (224, 224, 3)
    if "res" in settings and "res" not in env:     # the built-in: the input's height and width
        input = (settings["res"], settings["res"], input[2])
    stem = file.rsplit("/", 1)[-1].rsplit(".", 1)[0] if not file.startswith("<") else "network"
    net_name = name or str(spec.get("name") or default_name or stem)
    layers = spec.get("layers")
    if "layers" not in spec and "layers" in meant:
        raise ArchcalcError(diags)
    if isinstance(layers, str) and layers.strip():
        raise error("'layers' is a list, got one string", spec.where["layers"],
                    hint=f"write layers: [{layers.strip()}] (or one item per line, each after "
                         "'- ')")
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
    emitter = Emitter(b, d, blocks, doc.memo, dict(env))
    local = {"input": "input"}
    emitter.items(layers, env, "", (), local, 0)
    diags += emitter.report()
    for bname in blocks:                # a block nothing uses is never checked: say so
        if bname not in emitter.used:
            b.warnings.append(Diagnostic(
                "warning", f"block {bname!r} is defined but never used (its layers are not "
                "checked)", blocks.key_at[bname],
                f"use it (- {{block: {bname}}}) or remove it"))
    if "outputs" in spec and not diags:
        try:
            b.outputs = _outputs(spec, local, b)
        except ArchcalcError as exc:
            diags += exc.diagnostics
    if diags:
        raise ArchcalcError(diags, partial=b.build(d.rounding, file, "yaml")
                            if len(b.layers) > 1 else None)
    # its layers depend on the input's height or width beyond the input itself (in.h, in.w, or a
    # declared res): another input size needs the spec read again (archcalc sizes)
    size_dependent = emitter.size_read or ("res" in env and _reads_res(doc))
    return b.build(d.rounding, file, "yaml", params=env, size_dependent=size_dependent)


def _reads_res(doc: Document) -> bool:
    """Whether an expression outside ``input:`` (and the declaration of ``res`` itself) may
    read ``res``: worked out once per document."""
    memo, spec = doc.memo, doc.spec
    if memo.reads_res is None:
        memo.reads_res = uses(
            [v for k, v in spec.items() if k not in ("input", "params")]
            + [v for k, v in (spec.get("params") or {}).items() if k != "res"], "res")
    return memo.reads_res


def _outputs(spec: YMap, local: dict[str, str], b: Builder) -> list[str]:
    """The spec's ``outputs:``, the layers (or block instances) the network returns, as full
    layer names. Without it, the outputs are the layers nothing reads."""
    raw, pos = spec["outputs"], spec.where["outputs"]
    items = [raw] if isinstance(raw, str) else raw
    where = raw.where if isinstance(raw, YList) else [pos] * len(items or [])
    if not isinstance(items, list) or not items:
        raise error("outputs must name one or more layers", pos,
                    hint="outputs: [p2, p3, p4, p5]")
    out: list[str] = []
    for item, at in zip(items, where):
        if not isinstance(item, str):
            raise error(f"outputs name layers, got {shown(item)}", at,
                        hint="outputs: [p2, p3, p4, p5]")
        full = local.get(item, item)
        if item in local and full != item and item not in b.block_outputs:
            raise error(f"outputs: {item!r} is absent (its when: is false here), so it stands "
                        f"for {full!r}", at, hint=f"list {full!r} itself, or drop {item!r}")
        full = b.block_outputs.get(full, full)       # a block instance: its output layer
        if full not in b.names:
            raise error(f"outputs: no layer {item!r}", at,
                        hint=near(item, [k for k in local if k != "input"]) +
                        "outputs name layers or block instances of the top-level list")
        if b.names[full].train_only:
            raise error(f"outputs: {item!r} runs only in training", at,
                        hint="the outputs are the inference network's; drop it from outputs")
        if full == "input":
            raise error("outputs: the input is not an output", at, hint="name a layer")
        if full in out:
            raise error(f"outputs: {item!r} is listed twice", at, hint="list each layer once")
        out.append(full)
    return out
