"""What a command that writes files needs beyond :mod:`archcalc.files` (docs/usage.md, "Output
files"):

* what it reads, so that what it writes never replaces it (the check itself is
  :func:`archcalc.files.refuse_inputs`, one place for every command): the files behind a SPEC
  argument — a spec file, a shipped spec, standard input, an ONNX model and the external data
  files its tensors name — and its other inputs (a device file);
* its output's suffix checked, a warning said (:func:`suffix`);
* :func:`stopping`: SIGTERM stops it as Ctrl-C does, so that a partial file is removed."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..files import Input, Output, output_suffix, refuse_inputs, writable_output
from .guard import note

if TYPE_CHECKING:
    from types import FrameType


def spec_inputs(arg: str) -> list[Input]:
    """The files a SPEC argument reads (as :func:`archcalc.spec.sources.open_source` decides
    what it is): none for a spec string."""
    from ..spec.sources import find_shipped
    if arg == "-":
        return [Input("-", "the spec")]
    if os.path.exists(arg):
        if arg.lower().endswith(".onnx") and os.path.isfile(arg):
            return [Input(arg, "the model"), *(Input(p, f"the external data of the model {arg}")
                                               for p in onnx_data_files(arg))]
        return [Input(arg, "the spec")]
    shipped = find_shipped(arg)
    return [Input(shipped, f"the shipped spec {arg}")] if shipped else []


def check_outputs(outputs: Sequence[str | Output], specs: Iterable[str] = (),
                  more: Iterable[Input] = ()) -> None:
    """Refuse (exit 2, before any work) an output that would replace a file the command reads:
    its SPEC arguments' files and ``more``; and one that cannot be written (a folder, a missing
    or read-only folder: :func:`archcalc.files.writable_output`)."""
    refuse_inputs(outputs, [i for s in specs for i in spec_inputs(s)] + list(more))
    for out in outputs:
        if isinstance(out, str):
            out = Output(out)
        # an output the user named (a file archcalc places itself, calibrate's, is made with
        # its folder)
        if out.path != "-" and out.option.startswith("-") and not out.folder and \
                out.beside is None:
            writable_output(out.path, out.example or "output", "the output")


def device_input(path: str | None) -> list[Input]:
    return [Input(path, "the device file")] if path else []


def suffix(output: str, writes: str, suffixes: Sequence[str], hint: str | None = None,
           unknown: str = "warn", option: str = "--output") -> None:
    """:func:`archcalc.files.output_suffix`, its warning said on standard error."""
    warning = output_suffix(output, writes, suffixes, option, hint, unknown)
    if warning is not None:
        note("warning: " + warning)


# ---------------------------------------------------------------------------------------------
# signals

@contextmanager
def stopping() -> Iterator[None]:
    """While a command writes files: SIGTERM (``kill``, a batch system's time limit) ends it as
    Ctrl-C (SIGINT) does — a KeyboardInterrupt, so that its partial files are removed and its
    worker processes stopped, "interrupted", exit 130 — and, once one of them has, the next
    SIGINT or SIGTERM is ignored until the command is done cleaning up (a second Ctrl-C would
    otherwise break off the removal of a partial file). In the main thread only (elsewhere
    signals cannot be handled)."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # a SIGINT ignored from the start (a background job of a script) stays ignored
    stops = tuple(s for s in (signal.SIGINT, signal.SIGTERM)
                  if signal.getsignal(s) is not signal.SIG_IGN)

    def stop(signum: int, frame: FrameType | None) -> None:
        for s in stops:                     # once: the cleanup is not interrupted in turn
            signal.signal(s, signal.SIG_IGN)
        raise KeyboardInterrupt
    before = {s: signal.signal(s, stop) for s in stops}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)


# ---------------------------------------------------------------------------------------------
# an ONNX model's external data

# field numbers of onnx/onnx.proto
_GRAPH = 7                                  # ModelProto.graph
_NODE, _INITIALIZER, _SPARSE = 1, 5, 15     # GraphProto
_ATTRIBUTE = 5                              # NodeProto.attribute
_T, _G, _TENSORS, _GRAPHS, _SPARSE_T = 5, 6, 10, 11, 22   # AttributeProto
_EXTERNAL = 13                              # TensorProto.external_data


def onnx_data_files(path: str) -> list[str]:
    """The external data files that the tensors of the ONNX model at ``path`` name (paths
    beside the model), read from its structure without reading any weight
    (:mod:`archcalc.onnx_import.wire`); none for a file that is not a readable model (reading
    it says why)."""
    from ..onnx_import import wire
    try:
        size = os.path.getsize(path)
        buf = wire.FileBuffer(path, size)
        found: set[str] = set()
        for num, wt, v in wire.fields(buf, 0, size):
            if num == _GRAPH and wt == 2:
                _graph(wire, buf, v, found, 0)
    except (OSError, wire.WireError, UnicodeDecodeError, RecursionError):
        return []
    folder = os.path.dirname(path)
    return [os.path.join(folder, loc) for loc in sorted(found)]


def _graph(wire: Any, buf: Any, v: Any, found: set[str], depth: int) -> None:
    if depth > 16:                      # subgraphs nested deeper than any real model
        return
    for num, wt, fv in wire.message(buf, v):
        if wt != 2:
            continue
        if num == _INITIALIZER:
            _tensor(wire, buf, fv, found)
        elif num == _SPARSE:
            for snum, swt, sv in wire.message(buf, fv):
                if snum in (1, 2) and swt == 2:         # values, indices
                    _tensor(wire, buf, sv, found)
        elif num == _NODE:
            for nnum, nwt, nv in wire.message(buf, fv):
                if nnum != _ATTRIBUTE or nwt != 2:
                    continue
                for anum, awt, av in wire.message(buf, nv):
                    if awt != 2:
                        continue
                    if anum in (_T, _TENSORS):
                        _tensor(wire, buf, av, found)
                    elif anum in (_G, _GRAPHS):
                        _graph(wire, buf, av, found, depth + 1)
                    elif anum == _SPARSE_T:
                        for snum, swt, sv in wire.message(buf, av):
                            if snum in (1, 2) and swt == 2:
                                _tensor(wire, buf, sv, found)


def _tensor(wire: Any, buf: Any, v: Any, found: set[str]) -> None:
    for num, wt, fv in wire.message(buf, v):
        if num != _EXTERNAL or wt != 2:
            continue
        entry = {k: buf[a:b].decode("utf-8") for k, (a, b) in
                 ((n, sv) for n, swt, sv in wire.message(buf, fv) if swt == 2)}
        if entry.get(1) == "location" and entry.get(2):
            found.add(entry[2])
