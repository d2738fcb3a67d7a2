"""How sweep results are written, one row a variant as it arrives: a text table, CSV or JSON Lines
(``--format``); to standard output, or to a file (``-o``) that appears only when the sweep is
complete."""
from __future__ import annotations

import csv
import json
import os
import tempfile
from typing import Any, Optional, Sequence, TextIO

from ..errors import SourcePos, error
from .figures import active, keys

FORMATS = ("table", "csv", "json", "jsonl", "html")  # json, jsonl: JSON Lines, one a variant;
# html: the page of the Pareto front (archcalc.review.front), written at the end


def show(v: Any) -> str:
    """A setting's value as ``--set`` takes it: 0.75, 160, [3,4,6,3], bf16, true."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(show(x) for x in v) + "]"
    return str(v)


def short(value, unit: str) -> str:
    """A figure as the table shows it: counts in K/M/G, bytes in KiB/MiB/GiB; None (a
    receptive field global everywhere) as "global"."""
    from ..views import human_bytes, human_count
    if value is None:
        return "global" if unit == "px" else "-"
    if unit == "bytes":
        return human_bytes(value)
    if unit == "count":
        return human_count(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class Writer:
    """Writes the rows of one sweep to ``out`` in ``fmt``. ``widths`` (the table's) are the
    widest value of each parameter, so columns line up without holding the rows."""

    def __init__(self, out: TextIO, fmt: str, names: Sequence[str], count: int,
                 widths: Optional[dict] = None):
        self.out, self.fmt, self.names = out, fmt, list(names)
        if fmt == "csv":
            self.csv = csv.writer(out, lineterminator="\n")
        elif fmt == "table":
            self.index_w = max(1, len(str(max(count - 1, 0))))
            self.widths = {n: max(len(n), (widths or {}).get(n, 0)) for n in self.names}

    def header(self) -> None:
        if self.fmt == "csv":
            self.csv.writerow(["variant", *self.names, "ok", *keys(), "error", "error_layer"])
        elif self.fmt == "table":
            cells = [f"{'#':>{self.index_w}}"] + [f"{n:>{self.widths[n]}}" for n in self.names]
            cells += [f"{f.label:>10}" for f in active()]
            self.out.write("  ".join(cells) + "\n")

    def row(self, r) -> None:
        if self.fmt == "csv":
            figures = r.figures or ("",) * len(keys())
            err = r.error or {}
            self.csv.writerow([r.variant, *(show(r.settings[n]) for n in self.names),
                               "true" if r.error is None else "false",
                               *("" if v is None else v for v in figures),
                               err.get("message", ""), err.get("layer") or ""])
        elif self.fmt == "table":
            cells = [f"{r.variant:>{self.index_w}}"]
            cells += [f"{show(r.settings[n]):>{self.widths[n]}}" for n in self.names]
            if r.error is None:
                cells += [f"{short(v, f.unit):>10}" for f, v in zip(active(), r.figures)]
            else:
                where = f" [{r.error['layer']}]" if r.error.get("layer") else ""
                cells.append(f"invalid{where}: {r.error['message']}")
            self.out.write("  ".join(cells) + "\n")
        else:
            doc = {"variant": r.variant, "settings": r.settings, "ok": r.error is None}
            doc.update(zip(keys(), r.figures or (None,) * len(keys())))
            doc["error"] = r.error
            self.out.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n")


def column_widths(axes) -> dict:
    """The widest shown value of each axis (for a long range: its ends and a few between)."""
    out = {}
    for a in axes:
        vals = a.values
        picks = vals if len(vals) <= 1000 else [vals[k] for k in
                                                 range(0, len(vals), len(vals) // 1000)] + [vals[-1]]
        out[a.name] = max((len(show(v)) for v in picks), default=0)
    return out


# ---------------------------------------------------------------------------------------------
# the output file

def check_output(path: str) -> None:
    """An --output that cannot be written is one clear error (exit 2) before any work."""
    from ..cli_common import writable_output
    writable_output(path, "sweep.csv", "the results")


def format_of(path: Optional[str], fmt: Optional[str]) -> str:
    """--format's value, else the output file's suffix (.csv, .jsonl/.json, .html), else
    table."""
    from ..cli_common import choice
    if fmt is not None:
        got = choice(fmt, FORMATS, "--format")
        return "json" if got == "jsonl" else got
    suffix = os.path.splitext(path or "")[1].lower()
    return {".csv": "csv", ".jsonl": "json", ".json": "json", ".ndjson": "json",
            ".html": "html", ".htm": "html"}.get(suffix, "table")


class AtomicFile:
    """A text file written beside ``path`` under a temporary name and moved into place by
    ``commit()``; ``abort()`` (or an exception) removes it and leaves any old file as it was."""

    def __init__(self, path: str):
        self.path = path
        self.real = os.path.realpath(path)
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{os.path.basename(self.real)}.",
                                            suffix=".part", dir=os.path.dirname(self.real))
        except OSError as exc:
            raise self._error(exc) from None
        self.fh = os.fdopen(fd, "w", encoding="utf-8", newline="")

    def _error(self, exc: OSError):
        return error(f"cannot write {self.path}: {exc.strerror or exc}", SourcePos(self.path),
                     exit_code=2)

    def write(self, text: str) -> int:
        try:
            return self.fh.write(text)
        except OSError as exc:
            self.abort()
            raise self._error(exc) from None

    def commit(self) -> None:
        from ..cli_common import umask
        try:
            self.fh.close()
            os.chmod(self.tmp, 0o666 & ~umask())
            os.replace(self.tmp, self.real)
        except OSError as exc:
            self.abort()
            raise self._error(exc) from None

    def abort(self) -> None:
        try:
            self.fh.close()
        except OSError:
            pass
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)
