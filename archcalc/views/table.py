"""The per-layer table of ``archcalc summary`` (and the report's): its columns, the totals in
words, and how it fits the terminal it is given (rich) or a pipe (plain text)."""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from ..ops import OPS, Vol
from ..report import LayerRow, Report
from ..settings import Settings
from ..units import exact_and_short, human_bytes, human_count
from .text import (
    Justify,
    Step,
    diag_line,
    fit_columns,
    plain_table,
    share_text,
    vol_text,
    width_of,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

# a column's cell: (row, output volume by layer name, report, compact) → its text
Cell = Callable[[LayerRow, dict[str, Vol], Report, bool], str]


def op_text(row: LayerRow) -> str:
    view = row.op in OPS and OPS[row.op].view
    return f"{row.op} {row.detail}".strip() + (" (view)" if row.inplace and view and
                                               row.op != "flatten" else
                                               " (in place)" if row.inplace and not view else "") \
        + (" [training only]" if row.train_only else "")

def _input_text(row: LayerRow, vols: dict) -> str:
    if not row.inputs:
        return ""
    first = vol_text(vols[row.inputs[0]])
    return first if len(row.inputs) == 1 else f"{first} +{len(row.inputs) - 1}"

# what each op's buffers are, in the order the words are said
_BUFFER_WORDS = {"batchnorm": "BatchNorm running statistics",
                 "attention": "attention's relative-position indices"}


def _buffers_held(r: Report) -> str:
    """What the buffers are, from the layers that hold them: BatchNorm's running statistics,
    attention's relative-position indices (a Swin holds no BatchNorm)."""
    kinds = {row.op for row in r.layers if row.buffers}
    words = [w for op, w in _BUFFER_WORDS.items() if op in kinds]
    if kinds - set(_BUFFER_WORDS):
        words.append("fixed tensors of the layers")
    return " and ".join(words)


def totals_lines(r: Report) -> list[tuple[str, str]]:
    t, s = r.totals, r.settings
    per_batch = s.batch > 1
    lines = [
        ("parameters", f"{exact_and_short(t.params)}: {t.trainable_params:,} trainable"
         f", {t.non_trainable_params:,} non-trainable (PyTorch's and torchvision's count)"
         if t.params else "0"),
    ]
    if t.buffers:
        keras = all(row.op == "batchnorm" for row in r.layers if row.buffers)
        lines.append(("buffers", f"{t.buffers:,} ({_buffers_held(r)}; "
                      + (f"Keras's \"Total params\" includes them: {t.params + t.buffers:,})"
                         if keras else "PyTorch's named_buffers(), apart from the parameters)")))
    lines += [
        ("MACs" if s.convention in ("torchvision", "flopcounter") else
         "operations (everything)" if s.convention == "everything" else
         f"MACs ({s.convention})",
         f"{exact_and_short(t.macs)} per image"
         + (f", {exact_and_short(t.batch_macs)} per batch of {s.batch}"
            if per_batch else "")),
        *([] if s.convention == "everything" else [       # operations are no MACs to double
            ("FLOPs (2 × MACs" + ("; FlopCounterMode's)" if s.convention == "flopcounter"
                                  else ")"),
             f"{exact_and_short(t.flops)} per image"
             + (f", {exact_and_short(t.flops * s.batch)} per batch" if per_batch else ""))]),
        ("activations", f"{t.activations:,} elements per image, {human_bytes(t.activation_bytes)} "
         f"at {s.dtype}, batch {s.batch}"
         + ("" if s.count_inplace else ", activations/dropout in place")),
        ("peak activations", f"{human_bytes(t.peak_bytes)} ({t.peak_bytes:,} B) at {t.peak_layer}"),
        ("memory (inference)", f"input {human_bytes(t.input_bytes)} + forward activations "
         f"{human_bytes(t.forward_bytes)} + parameters {human_bytes(t.param_bytes)} = "
         f"{human_bytes(t.total_bytes)} estimated total"),
        *training_lines(r),
    ]
    unaligned = [row.name for row in r.layers if not row.rf.is_global and not row.rf.aligned]
    if unaligned:
        lines.append(("RF !", f"{len(unaligned)} layers ({unaligned[0]} first) see a union of "
                      "receptive fields whose branches differ in stride or centre (not aligned: "
                      "docs/definitions.md); the warning names the merge where it starts"))
    if t.train_only_params or t.train_only_macs or t.train_only_activations:
        lines.insert(-1, ("training only", f"{exact_and_short(t.train_only_params)} params"
                          + (f" + {t.train_only_buffers:,} buffers" if t.train_only_buffers else "")
                          + f", {exact_and_short(t.train_only_macs)} MACs, "
                          f"{t.train_only_activations:,} activation elements per image: layers "
                          "marked [training only], in the parameters and the training estimate, "
                          "not in the MACs, activations, peak or inference memory above"))
    return lines

def training_setting(s: Settings) -> str:
    """The training step's settings in words: "adam", "adamw, autocast bf16, checkpoint
    layer3, 4 micro-batches"."""
    words = [s.optimizer]
    if s.amp != "off":
        words.append(f"autocast {s.amp}")
    if s.checkpoint:
        words.append("checkpoint " + ",".join(s.checkpoint))
    if s.accumulate > 1:
        words.append(f"{s.accumulate} micro-batches")
    if s.backend != "cuda":
        words.append(f"{s.backend} kernels")
    return ", ".join(words)


def training_lines(r: Report) -> list[tuple[str, str]]:
    """The eager inference peak and the training step (docs/training-memory.md)."""
    t, s, tr = r.totals, r.settings, r.training
    if tr is None:
        return [("training step", f"{human_bytes(t.training_bytes)} peak")]
    phase = {"forward": "at the end of the forward pass" if tr.layer == "" else
             f"in the forward pass, at {tr.layer}",
             "backward": f"in the backward pass, at {tr.layer}",
             "optimizer": "in the optimizer step"}[tr.phase]
    micro = (f"; micro-batch {tr.micro_batch} × {tr.accumulate}" if tr.accumulate > 1 else "")
    terms = [f"weights {human_bytes(tr.weights)}", f"gradients {human_bytes(tr.grads)}"]
    if tr.states:
        terms.append(f"optimizer state {human_bytes(tr.states)}")
    if tr.step_temps:
        terms.append(f"step temporaries {human_bytes(tr.step_temps)}")
    terms.append(f"saved for backward {human_bytes(tr.saved)}")
    if tr.casts:
        terms.append(f"autocast weight copies {human_bytes(tr.casts)}")
    lines = [
        ("inference peak", f"{human_bytes(tr.inference)} at {tr.inference_layer} (eager "
         "PyTorch: weights, input and the activations alive)"),
        ("training step", f"{human_bytes(t.training_bytes)} peak {phase} "
         f"({training_setting(s)}{micro}; docs/training-memory.md)"),
        ("training terms", " · ".join(terms)
         + (f" · recomputed {exact_and_short(tr.recompute_macs)} MACs per step"
            if tr.recompute_macs else "")),
    ]
    return lines


def _saved_text(row: LayerRow, r: Report) -> str:
    """Bytes the layer's backward node keeps (a folded block: its layers'), at the batch."""
    tr = r.training
    if tr is None:
        return ""
    n = tr.per_layer.get(row.name)
    if n is None and row.op == "block":
        n = sum(tr.per_layer.get(x.name, 0) for x in r.layers if row.name in x.scope)
    return human_bytes(n) if n else ""


class Column(NamedTuple):
    header: str
    justify: Justify
    cell: Cell
    drop: int          # 0: always shown; otherwise the order in which a narrow terminal drops it

def _count(n: int, short: bool) -> str:
    return human_count(n) if short else f"{n:,}"

COLUMNS = (
    Column("layer", "left", lambda row, vols, r, short: row.name, 0),
    Column("op", "left", lambda row, vols, r, short: op_text(row), 0),
    Column("input", "right", lambda row, vols, r, short: _input_text(row, vols), 2),
    Column("output", "right", lambda row, vols, r, short: vol_text(row.output), 0),
    Column("params", "right", lambda row, vols, r, short: _count(row.params, short), 0),
    Column("%params", "right",
           lambda row, vols, r, short: share_text(row.params, r.totals.params), 4),
    Column("MACs", "right", lambda row, vols, r, short: _count(row.macs, short), 0),
    # a training-only layer's MACs are not part of the (inference) total: no share of it
    Column("%MACs", "right", lambda row, vols, r, short: "" if row.train_only else
           share_text(row.macs, r.totals.macs), 5),
    Column("activations", "right",
           lambda row, vols, r, short: _count(row.activations, short), 6),
    Column("RF", "right", lambda row, vols, r, short: row.rf.text(), 7),
    # what autograd keeps of the layer for the backward pass (docs/training-memory.md)
    Column("saved", "right", lambda row, vols, r, short: _saved_text(row, r), 1),
    Column("trainable", "left", lambda row, vols, r, short: row.trainable, 3),
)

def _table(title: str, headers: Sequence[str], justify: Sequence[Justify],
           rows: Sequence[Sequence[str]], compact: bool) -> Table:
    """A rich table of text cells (never read as markup: ``[training only]`` stays);
    ``compact``: no borders, and the padding collapsed."""
    from rich import box
    from rich.table import Table
    from rich.text import Text
    table = Table(title=Text(title), title_justify="left",
                  box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD, pad_edge=not compact,
                  collapse_padding=compact)
    for head, just in zip(headers, justify):
        table.add_column(Text(head), justify=just, no_wrap=True)
    for cells in rows:
        table.add_row(*(Text(c) for c in cells))
    return table

def sharing_columns(sharing: dict[str, tuple[int, int, int]] | None) -> tuple[Column, ...]:
    """``summary --sharing``: for each convolution, how many times more parameters a locally
    connected layer (same windows, no sharing) and a dense layer (same volumes) would need.
    ``sharing``: layer name → (shared, locally connected, dense) parameters."""
    if not sharing:
        return ()

    def ratio(i: int) -> Cell:
        def cell(row: LayerRow, vols: dict[str, Vol], r: Report, short: bool) -> str:
            got = sharing.get(row.name)
            if not got or not got[0]:
                return ""
            x = got[i] / got[0]
            return f"{human_count(round(x)) if short else f'{x:,.0f}'}×"
        return cell
    return (Column("×local", "right", ratio(1), 8), Column("×dense", "right", ratio(2), 9))

def fit_steps(cols: Sequence[Column]) -> list[Step]:
    """How the summary table gets narrower, in order: a layer name past 40 columns is shortened
    in the middle; the columns with a drop order go, least needed first; names are shortened
    to 20 columns; op goes; names are shortened to 12. ``fit_columns`` goes on from there (and
    gives back a column where the narrowing left room for it)."""
    heads = [c.header for c in cols]
    layer, op = heads.index("layer"), heads.index("op")
    droppable = sorted((c for c in cols if c.drop), key=lambda c: c.drop)
    return [(layer, "middle", 40), *(heads.index(c.header) for c in droppable),
            (layer, "middle", 20), op, (layer, "middle", 12)]

def render_table(r: Report, depth: int | None = None, console: Console | None = None,
                 extra: Sequence[Column] = ()) -> None:
    """The summary table and totals. On a terminal (rich), a table too wide for it first turns
    compact (no borders; counts in K/M/G, exact in the totals and in every other format), then
    narrows as ``fit_steps`` says: columns hidden and names shortened with …, a note naming
    them; a number is never cut and a row never wraps. Piped output (not a terminal) is plain
    text with every column, exact, never wrapped (and rich is not even imported: it is most of
    the start-up time)."""
    rows = r.rows(depth)
    vols = {row.name: row.output for row in rows}
    cols = [*COLUMNS, *extra]
    title = f"{r.name} — input {vol_text(r.input)}"
    heads = [c.header for c in cols]
    justify = [c.justify for c in cols]

    def cells(compact: bool) -> list[list[str]]:
        return [[c.cell(row, vols, r, compact) for c in cols] for row in rows]
    if console is None and not sys.stdout.isatty():
        text = plain_table(title, heads, justify, cells(False))
        text += "\n" + "".join(f"{k}: {v}\n" for k, v in totals_lines(r))
        text += "".join(diag_line(d) + "\n" for d in r.diagnostics)
        sys.stdout.write(text)
        return
    from rich.console import Console
    from rich.text import Text
    console = console or Console()
    on = console
    table = _table(title, heads, justify, cells(False), compact=False)
    note = None
    if console.is_terminal and width_of(console, table) > console.width:
        def measure(keep: list[int], h: list[str], rs: list[list[str]]) -> int:
            return width_of(on, _table(title, h, [justify[i] for i in keep], rs, True))
        got = fit_columns(console.width, heads, cells(True), fit_steps(cols), measure)
        table = _table(title, got.headers, [justify[i] for i in got.keep], got.rows, True)
        note = got.note(console.width, "--format csv shows every column")
    need = width_of(console, table)
    if need > console.width:      # narrower than any table (or not a terminal): never cut
        console = Console(width=need, file=console.file, force_terminal=console.is_terminal,
                          no_color=console.no_color)
    console.print(table)
    soft = not console.is_terminal      # a pipe gets whole lines; a terminal wraps at words
    if note:
        console.print(note, style="dim", highlight=False, markup=False, soft_wrap=soft)
    for k, v in totals_lines(r):
        console.print(Text.assemble((k, "bold"), f": {v}"), highlight=False, soft_wrap=soft)
    for d in r.diagnostics:      # one line each here; `archcalc validate` shows them in full
        console.print(diag_line(d), style="yellow", highlight=False, markup=False,
                      soft_wrap=soft)
