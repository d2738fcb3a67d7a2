"""An ONNX file's structure, read straight from the protobuf wire format, without the ``onnx``
package and without reading weights.

``onnx.load`` parses every byte of a model, weights included (528 MiB for VGG-16), and importing
``onnx`` alone takes about a quarter of a second. archcalc needs the graph: nodes, attributes,
inputs and outputs, and of each initializer its name, type and dimensions. So the file is read
in 64 KiB blocks where its fields are (:class:`FileBuffer`) and walked field by field
(https://protobuf.dev/programming-guides/encoding/); an initializer's data (``raw_data``, or a
typed field) is skipped by its length and only its place is kept, so the blocks holding weights
are never read. A value is decoded on demand, where a shape computation needs one (a Reshape's
target, a Resize's scales), and only for small tensors.
Tensors with external data are never opened: their dimensions are in the model file.

Field numbers are those of onnx/onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
TensorProto, ValueInfoProto, TypeProto, TensorShapeProto).
"""
from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

from ..ops.words import counted


class FileBuffer:
    """A file read in 64 KiB blocks, only where indexed: ``buf[i]`` (a byte) and ``buf[a:b]``
    (bytes). Unlike a memory map, it maps no pages of the file into the process (the kernel maps
    whole page-cache folios around each touch of a mapping: reading the 32 tensor headers of a
    528 MiB VGG-16 then grew the resident memory by 24 MiB)."""
    BLOCK = 1 << 16

    def __init__(self, path: str, size: int):
        self.fd = os.open(path, os.O_RDONLY)
        self.size = size
        self.blocks: dict[int, bytes] = {}

    def __del__(self) -> None:
        try:
            os.close(self.fd)
        except (OSError, AttributeError):
            pass

    def __len__(self) -> int:
        return self.size

    def block(self, k: int) -> bytes:
        b = self.blocks.get(k)
        if b is None:
            b = self.blocks[k] = os.pread(self.fd, self.BLOCK, k * self.BLOCK)
        return b

    @overload
    def __getitem__(self, i: int) -> int: ...

    @overload
    def __getitem__(self, i: slice) -> bytes: ...

    def __getitem__(self, i: int | slice) -> int | bytes:
        if isinstance(i, slice):
            start, stop = i.start, min(i.stop, self.size)
            if stop - start > self.BLOCK:            # a large value: read at once
                return os.pread(self.fd, stop - start, start)
            out = b""
            while start < stop:
                k, off = divmod(start, self.BLOCK)
                chunk = self.block(k)[off:off + stop - start]
                if not chunk:
                    break
                out += chunk
                start += len(chunk)
            return out
        if i >= self.size or i < 0:
            raise IndexError(i)
        k, off = divmod(i, self.BLOCK)
        return self.block(k)[off]


class WireError(Exception):
    """The bytes are not a well-formed protobuf message (a truncated or corrupt file)."""


Span = tuple[int, int]            # (start, end) of a field's bytes in the buffer
FieldValue = int | Span           # a varint's value, or the span of any other wire type's bytes


def _span(v: FieldValue) -> Span:
    """The bytes of a field that the format gives as bytes (not as a number)."""
    if isinstance(v, int):
        raise WireError("a number where the format has bytes")
    return v


def _number(v: FieldValue) -> int:
    """The value of a field that the format gives as a number (a varint)."""
    if not isinstance(v, int):
        raise WireError("bytes where the format has a number")
    return v


# TensorProto.DataType: code -> (name, struct format or None, bytes per element)
DTYPES: Mapping[int, tuple[str, str | None, int]] = {
    1: ("float32", "f", 4), 2: ("uint8", "B", 1), 3: ("int8", "b", 1), 4: ("uint16", "H", 2),
    5: ("int16", "h", 2), 6: ("int32", "i", 4), 7: ("int64", "q", 8), 8: ("string", None, 0),
    9: ("bool", "?", 1), 10: ("float16", "e", 2), 11: ("float64", "d", 8),
    12: ("uint32", "I", 4), 13: ("uint64", "Q", 8), 14: ("complex64", None, 8),
    15: ("complex128", None, 16), 16: ("bfloat16", None, 2)}
FLOATS = frozenset({1, 10, 11, 16})
MAX_VALUE_ELEMENTS = 4096        # a tensor is decoded only up to this size (shapes, scales)


def _varint(buf: FileBuffer, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        try:
            b = buf[i]
        except IndexError:
            raise WireError("the file ends inside a number (truncated?)") from None
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7
        if shift > 70:
            raise WireError("a number is longer than 10 bytes")


def f32(v: float) -> float:
    """A float32 as the shortest decimal that reads back to the same float32 (1e-05, not
    9.999999747378752e-06): ONNX stores float attributes in 32 bits."""
    packed = struct.pack("<f", v)
    for digits in range(6, 10):
        short = float(f"{v:.{digits}g}")
        if struct.pack("<f", short) == packed:
            return short
    return v


def _signed(v: int) -> int:
    """int64/int32 fields are two's complement in 64 bits."""
    return v - (1 << 64) if v >= 1 << 63 else v


def fields(buf: FileBuffer, start: int, end: int) -> Iterator[tuple[int, int, FieldValue]]:
    """(field number, wire type, value) of one message: a varint's value, else the (start, end)
    of the bytes."""
    i = start
    while i < end:
        at = i
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise WireError(f"bytes that are no protobuf field at byte {at:,}")
        if wt == 0:
            v, i = _varint(buf, i)
            yield num, wt, v
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > end:
                raise WireError(f"a field of {counted(n, 'byte')} runs past the end of its message "
                                "(truncated?)")
            yield num, wt, (i, i + n)
            i += n
        elif wt == 1:
            if i + 8 > end:
                raise WireError("a 64-bit field runs past the end (truncated?)")
            yield num, wt, (i, i + 8)
            i += 8
        elif wt == 5:
            if i + 4 > end:
                raise WireError("a 32-bit field runs past the end (truncated?)")
            yield num, wt, (i, i + 4)
            i += 4
        else:
            raise WireError(f"bytes that are no protobuf field at byte {at:,} (wire type {wt})")
    if i != end:
        raise WireError("a message runs past its end")


def message(buf: FileBuffer, v: FieldValue) -> Iterator[tuple[int, int, FieldValue]]:
    """The fields of the message held in the bytes of a field."""
    return fields(buf, *_span(v))


def _bytes(buf: FileBuffer, v: FieldValue) -> bytes:
    start, end = _span(v)
    return buf[start:end]


def _text(buf: FileBuffer, v: FieldValue) -> str:
    try:
        return _bytes(buf, v).decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("a name is not UTF-8") from None


def _packed_varints(buf: FileBuffer, v: FieldValue) -> list[int]:
    out: list[int] = []
    i, end = _span(v)
    while i < end:
        v, i = _varint(buf, i)
        out.append(_signed(v))
    return out


@dataclass
class Tensor:
    """An initializer or a constant: its dimensions and type; the value is read on demand."""
    name: str = ""
    dims: tuple[int, ...] = ()
    dtype: int = 1
    external: bool = False
    raw: FieldValue | None = None     # raw_data: (start, end) in the buffer, checked when read
    # (field, wire type, value) of typed data
    typed: list[tuple[int, int, FieldValue]] = field(default_factory=list)
    buf: FileBuffer | None = None

    @property
    def size(self) -> int:
        n = 1
        for d in self.dims:
            n *= d
        return n

    @property
    def type_name(self) -> str:
        return DTYPES.get(self.dtype, (f"type {self.dtype}",))[0]

    def values(self) -> list[int | float] | None:
        """The flat values (ints or floats), or None where they are not decoded: a large
        tensor (weights), external data, or a type without a fixed layout."""
        if self.external or self.size > MAX_VALUE_ELEMENTS:
            return None
        name, fmt, width = DTYPES.get(self.dtype, (None, None, 0))
        if fmt is None:
            return None
        n = self.size
        if self.raw is not None:
            start, end = _span(self.raw)
            if end - start != n * width:
                raise WireError(f"tensor {self.name!r} holds "
                                f"{counted(end - start, 'byte')} of data for "
                                f"{n} × {width}")
            raw = list(struct.unpack(f"<{n}{fmt}", self._data(start, end)))
            return [f32(x) for x in raw] if fmt == "f" else raw
        out: list[int | float] = []
        for num, wt, v in self.typed:
            if num in (4, 10):         # float_data (packed, or one fixed32), double_data
                start, end = _span(v)
                width, code = (4, "f") if num == 4 else (8, "d")
                unpacked = struct.unpack(f"<{(end - start) // width}{code}",
                                         self._data(start, end))
                out += map(f32, unpacked) if num == 4 else unpacked
            elif num in (5, 7, 11):                  # int32_data, int64_data, uint64_data
                out += self._varints(v) if wt == 2 else [_signed(_number(v))]
        if name == "float16" and out and isinstance(out[0], int):   # float16 bits in int32_data
            out = [struct.unpack("<e", struct.pack("<H", int(x) & 0xFFFF))[0] for x in out]
        if len(out) != n:
            if n == 1 and not out:
                return None
            raise WireError(f"tensor {self.name!r} holds {counted(len(out), 'value')} for its "
                            f"{counted(n, 'element')}")
        return out

    def _data(self, start: int, end: int) -> bytes:
        if self.buf is None:
            raise WireError(f"tensor {self.name!r} has no file to read its values from")
        return self.buf[start:end]

    def _varints(self, v: FieldValue) -> list[int]:
        if self.buf is None:
            raise WireError(f"tensor {self.name!r} has no file to read its values from")
        return _packed_varints(self.buf, v)


def tensor(buf: FileBuffer, v: FieldValue) -> Tensor:
    t = Tensor(buf=buf)
    dims: list[int] = []
    for num, wt, fv in message(buf, v):
        if num == 1:
            dims += _packed_varints(buf, fv) if wt == 2 else [_signed(_number(fv))]
        elif num == 2:
            t.dtype = _number(fv)
        elif num == 8:
            t.name = _text(buf, fv)
        elif num == 9:
            t.raw = fv
        elif num in (4, 5, 7, 10, 11):
            t.typed.append((num, wt, fv))
        elif num == 14:
            t.external = fv == 1
    t.dims = tuple(dims)
    return t


@dataclass
class Node:
    name: str
    op_type: str
    inputs: list[str]
    outputs: list[str]
    # an attribute's value is of the type the op's schema gives it (an int, a float, a string,
    # a tensor, or a list of ints, floats or strings): each handler reads it as that type
    attrs: dict[str, Any]
    domain: str = ""
    index: int = 0
    doc: str = ""
    meta: dict[str, str] = field(default_factory=dict)    # metadata_props (IR 10)


AttrValue = int | float | str | Tensor | list[float] | list[int] | list[str] | None


def _attribute(buf: FileBuffer, v: FieldValue) -> tuple[str, AttrValue]:
    name, kind = "", 0
    value: AttrValue = None
    floats: list[float] = []
    ints: list[int] = []
    strings: list[str] = []
    for num, wt, fv in message(buf, v):
        if num == 1:
            name = _text(buf, fv)
        elif num == 2:
            value = f32(struct.unpack("<f", _bytes(buf, fv))[0])
        elif num == 3:
            value = _signed(_number(fv))
        elif num == 4:
            value = _bytes(buf, fv).decode("utf-8", "replace")
        elif num == 5:
            value = tensor(buf, fv)
        elif num in (6, 11):
            value = "<graph>"
        elif num == 7:
            start, end = _span(fv)
            floats += struct.unpack(f"<{(end - start) // 4}f", buf[start:end])
        elif num == 8:
            ints += _packed_varints(buf, fv) if wt == 2 else [_signed(_number(fv))]
        elif num == 9:
            strings.append(_bytes(buf, fv).decode("utf-8", "replace"))
        elif num == 20:
            kind = _number(fv)
    if kind == 6 or (floats and value is None):
        value = [f32(x) for x in floats]
    elif kind == 7 or (ints and value is None):
        value = list(ints)
    elif kind == 8 or (strings and value is None):
        value = strings
    return name, value


def node(buf: FileBuffer, fv: FieldValue, index: int) -> Node:
    n = Node("", "", [], [], {}, index=index)
    for num, _, v in message(buf, fv):
        if num == 1:
            n.inputs.append(_text(buf, v))
        elif num == 2:
            n.outputs.append(_text(buf, v))
        elif num == 3:
            n.name = _text(buf, v)
        elif num == 4:
            n.op_type = _text(buf, v)
        elif num == 5:
            k, val = _attribute(buf, v)
            n.attrs[k] = val
        elif num == 6:
            n.doc = _text(buf, v)
        elif num == 9:
            key = value = ""
            for mnum, _, mv in message(buf, v):
                if mnum == 1:
                    key = _text(buf, mv)
                elif mnum == 2:
                    value = _text(buf, mv)
            n.meta[key] = value
        elif num == 7:
            n.domain = _text(buf, v)
    return n


@dataclass
class ValueInfo:
    name: str
    elem_type: int = 0
    # ints (known), strings (symbolic), None (unknown); None: no shape
    dims: list[int | str | None] | None = None


def value_info(buf: FileBuffer, fv: FieldValue) -> ValueInfo:
    vi = ValueInfo("")
    for num, _, v in message(buf, fv):
        if num == 1:
            vi.name = _text(buf, v)
        elif num == 2:
            for tnum, _, tv in message(buf, v):
                if tnum != 1:                       # tensor_type only
                    continue
                for snum, _, sv in message(buf, tv):
                    if snum == 1:
                        vi.elem_type = _number(sv)
                    elif snum == 2:
                        dims: list[int | str | None] = []
                        for dnum, _, dv in message(buf, sv):
                            if dnum != 1:
                                continue
                            d: int | str | None = None
                            for xnum, _, xv in message(buf, dv):
                                if xnum == 1:
                                    d = _signed(_number(xv))
                                elif xnum == 2:
                                    d = _text(buf, xv) or None
                            dims.append(d)
                        vi.dims = dims
    return vi


@dataclass
class Graph:
    name: str = ""
    nodes: list[Node] = field(default_factory=list)
    initializers: dict[str, Tensor] = field(default_factory=dict)
    inputs: list[ValueInfo] = field(default_factory=list)
    outputs: list[ValueInfo] = field(default_factory=list)
    value_info: dict[str, ValueInfo] = field(default_factory=dict)
    sparse: int = 0


def graph(buf: FileBuffer, fv: FieldValue) -> Graph:
    g = Graph()
    for num, _, v in message(buf, fv):
        if num == 1:
            g.nodes.append(node(buf, v, len(g.nodes)))
        elif num == 2:
            g.name = _text(buf, v)
        elif num == 5:
            t = tensor(buf, v)
            g.initializers[t.name] = t
        elif num == 11:
            g.inputs.append(value_info(buf, v))
        elif num == 12:
            g.outputs.append(value_info(buf, v))
        elif num == 13:
            vi = value_info(buf, v)
            g.value_info[vi.name] = vi
        elif num == 15:
            g.sparse += 1
    return g


@dataclass
class Model:
    path: str
    ir_version: int = 0
    producer: str = ""
    opsets: dict[str, int] = field(default_factory=dict)
    graph: Graph | None = None
    functions: int = 0
    size: int = 0


def read(path: str) -> Model:
    """The model at ``path``. Raises OSError for a file that cannot be read and WireError for
    bytes that are not a protobuf message."""
    size = os.path.getsize(path)
    m = Model(path, size=size)
    if size == 0:
        raise WireError("the file is empty")
    buf = FileBuffer(path, size)
    graph_range = None
    producer_version = ""
    for num, wt, v in fields(buf, 0, size):
        if num == 1 and wt == 0:
            m.ir_version = _number(v)
        elif num == 2 and wt == 2:
            m.producer = _text(buf, v)
        elif num == 3 and wt == 2:
            producer_version = _text(buf, v)
        elif num == 7 and wt == 2:
            graph_range = v
        elif num == 8 and wt == 2:
            domain, version = "", 0
            for onum, _, ov in message(buf, v):
                if onum == 1:
                    domain = _text(buf, ov)
                elif onum == 2:
                    version = _number(ov)
            m.opsets[domain] = version
        elif num == 25:
            m.functions += 1
    if producer_version:
        m.producer = f"{m.producer} {producer_version}".strip()
    if graph_range is not None:
        m.graph = graph(buf, graph_range)
    return m
