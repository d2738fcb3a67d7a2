"""Spec front-ends: text in any of archcalc's spec languages → a :class:`~archcalc.graph.Network`.

``parse`` takes text (a spec string, a YAML document or a column table); ``load`` takes a SPEC
(a path, a shipped network's name, ``-``, or an ``.onnx`` model: :mod:`.sources`). The language
is recognised from the file's extension or, for text, its form:

  * a YAML mapping with ``layers:`` → :mod:`.yaml`
  * a table with a ``Name`` header row (tab-separated or Markdown) → :mod:`.table`
  * anything else → the shorthand/token grammar of :mod:`.text`

Every option is checked once, by :func:`archcalc.settings.resolve`; :func:`.parsing.parse_text`
is the front-ends' common entry, given the resolved :class:`~archcalc.settings.LoadOptions`.
"""
from __future__ import annotations

from typing import Any

from ..errors import OPTIONS, error
from ..graph import Network
from ..settings import LoadOptions, resolve
from .parsing import DEFAULT_INPUT, parse_text
from .sources import STDIN, Source, load_source, one, open_source, read, read_one

# ---------------------------------------------------------------------------------------------
# the library's entry points (archcalc.parse, archcalc.load)

_OPTION_KEYS = ("filters", "double_after_pool", "rounding", "column", "unknown", "dtype", "batch",
                "optimizer", "count_inplace")


def _options(input: Any, options: dict[str, Any], label: str = "<spec>") -> LoadOptions:
    unknown = [k for k in options if k not in _OPTION_KEYS + ("set",)]
    if unknown:
        raise TypeError(f"unexpected keyword argument {unknown[0]!r}")
    return resolve(input=input, label=label, **options)


def parse(text: str, input: Any = None, *, name: str | None = None, file: str = "<spec>",
          language: str | None = None, default_name: str | None = None,
          **options: Any) -> Network | dict[str, Network]:
    """Parse spec text into a Network.

    ``input`` is the input volume (H, W, C) or ``"224x224x3"``; a YAML spec's own ``input`` is
    used when it is None, else 224×224×3. ``filters`` and ``double_after_pool`` set what a letter
    C means; ``rounding`` ("covered", "exact", "floor", "ceil") the default for windows. For a
    column table, ``column`` picks one network; without it a dict {column: Network} is
    returned. ``language`` ("yaml", "table" or "string") skips recognising the language from
    the text. ``name`` names the network whatever the spec says; ``default_name`` only where it
    says none (a YAML spec's own ``name:`` wins over it).
    ``set`` gives parameters values: a YAML spec's declared ``params`` and the built-ins ``res``
    (the input's height and width), ``input``, ``rounding``, ``batch``, ``dtype`` and
    ``optimizer``; ``dtype``, ``batch``, ``optimizer`` and ``count_inplace`` are the settings
    :func:`archcalc.analyze` uses for this network (see docs/design-space.md).
    """
    opts = _options(input, options, file)
    return parse_text(text, opts, file=file, language=language, name=name,
                      default_name=default_name)


def load(path: Any, input: Any = None, **options: Any) -> Network | dict[str, Network]:
    """Load a SPEC: a spec file (YAML, column table, or a text file holding a spec string), a
    shipped network's name (``"vgg16"``), ``"-"`` (standard input, shown as ``<stdin>``) or an
    ``.onnx`` model (:func:`archcalc.onnx_import.load_onnx`: ``input`` where its size is
    dynamic, and ``unknown="passthrough"`` for ops archcalc does not know).

    The language comes from a ``.yaml``/``.yml`` extension, else from the text itself. A YAML
    spec keeps its own ``name:``; the file name is the name only where the spec gives none.
    Takes the same options as :func:`parse`."""
    if not isinstance(path, (str, bytes)) and not hasattr(path, "__fspath__"):
        raise error(f"load takes a path, got {type(path).__name__}", kind="usage",
                    hint="archcalc.parse(text) reads spec text; archcalc.load(path) a file")
    src = open_source(str(path))
    if src.kind == "string":
        raise error(f"no such file or shipped network: {path}", OPTIONS, kind="io",
                    hint="archcalc.load takes a path or a shipped network's name (archcalc "
                         "specs lists them); archcalc.parse takes spec text")
    return load_source(src, _options(input, options, src.label))


__all__ = ["parse", "load", "parse_text", "read", "read_one", "one", "open_source", "load_source",
           "Source", "STDIN", "DEFAULT_INPUT"]
