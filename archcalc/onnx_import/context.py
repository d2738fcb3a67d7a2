"""What a handler (:mod:`.handlers`) or a pattern (:mod:`.patterns`) may use of the converter:
:class:`Context`, a Protocol that :class:`~.convert.Converter` satisfies, so that neither module
imports the converter's."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ..ops import Vol
from . import wire
from .layout import Layout
from .values import KEEP, Act, Const, Keep, Scalar, Value


class Context(Protocol):
    """The conversion in progress, as a node's handler sees it."""

    @property
    def opset(self) -> int: ...             # the model's ONNX opset

    @property
    def batch(self) -> int: ...             # the input's batch size (1 where dynamic)

    @property
    def g(self) -> wire.Graph: ...          # the ONNX graph

    @property
    def image_name(self) -> str: ...        # the image input's name

    @property
    def unknown(self) -> str: ...           # "error", or "passthrough" (--unknown)

    @property
    def vals(self) -> Mapping[str, Value]: ...        # ONNX value name → its value so far

    @property
    def vols(self) -> Mapping[str, Vol]: ...          # layer name → its output volume

    @property
    def consumers(self) -> Mapping[str, Sequence[wire.Node | None]]: ...
    # value name → the nodes that read it (None: a graph output)

    @property
    def producer(self) -> Mapping[str, wire.Node]: ...     # value name → the node giving it

    def const(self, name: str) -> Const | None: ...

    def dims(self, name: str) -> tuple[int, ...] | None: ...

    def is_param(self, name: str) -> bool: ...

    def act(self, name: str) -> Act: ...

    def scalar(self, node: wire.Node, i: int, attr: str | None,
               default: Scalar | None) -> Scalar | None: ...

    def ints(self, node: wire.Node, i: int, attr: str | None) -> list[int] | None: ...

    def layer_name(self, node: wire.Node) -> str | None: ...

    def take_name(self, name: str) -> None: ...

    def emit(self, node: wire.Node, op: str, raw: dict[str, Any], inputs: list[Act],
             rank: int | None = None, out: int = 0, named: wire.Node | None = None,
             layout: Layout | Keep | None = KEEP) -> Act: ...

    def emit_split(self, node: wire.Node, a: Act, sizes: list[int]) -> None: ...

    def alias(self, node: wire.Node, a: Act, rank: int | None = None) -> None: ...

    def warn(self, node: wire.Node, message: str, hint: str | None = None) -> None: ...


# a node's conversion: a handler, or a pattern's layer made at one of its nodes
Handler = Callable[[Context, wire.Node], None]
