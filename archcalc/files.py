"""Files archcalc writes, in one place: every output appears whole or not at all, and never in
place of something the command reads.

* :func:`refuse_inputs` — an output that would replace an input of the command (the same file
  by path or by inode: through a symbolic link, a hard link, standard input redirected from it;
  an ONNX model's external data; a file inside a folder that is replaced whole): one error
  before any work;
* :func:`output_suffix` — an output's suffix against the format written: the suffix of another
  format archcalc knows is refused, an unknown one is said (docs/usage.md, "Output files");
* :func:`writable_output` — an output path checked before any work (a folder, a missing folder,
  a device or a pipe: one clear error);
* :class:`AtomicFile` — a file written beside its path under a temporary name and moved into
  place when complete (text or bytes, streamed); an error or an interrupt leaves no partial file
  and keeps the old one;
* :func:`write_atomic` — the same for data held in memory;
* :func:`replace_folder` — a folder of files (a Markdown report's plots), swapped in whole.

Errors are of kind "io" or "usage" (both the command line's exit 2).
"""
from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any, NamedTuple

from .errors import OPTIONS, ArchcalcError, SourcePos, error


def umask() -> int:
    """The process's umask (read without changing it for long)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def writable_output(output: str, example: str, what: str) -> None:
    """An --output path that cannot be written is one clear error before any work: a directory
    (``example`` names a file in it), a missing folder, not a regular file (``what`` is
    written: "the drawing")."""
    real = os.path.realpath(output)
    folder = os.path.dirname(real)
    if os.path.isdir(real):
        raise error(f"--output {output} is a directory", OPTIONS,
                    hint=f"name a file in it, e.g. -o {os.path.join(output, example)}", kind="io")
    if not os.path.isdir(folder):
        raise error(f"--output {output}: the folder {os.path.dirname(output) or folder} does "
                    "not exist", OPTIONS,
                    hint=f"create it first (mkdir -p {os.path.dirname(output) or folder}) or "
                         "write elsewhere", kind="io")
    if os.path.exists(real) and not os.path.isfile(real):
        raise error(f"--output {output} is not a regular file", OPTIONS,
                    hint=f"write {what} to a file path", kind="io")
    try:        # archcalc writes beside the file first (AtomicFile): a file made there and gone
        fd, probe = tempfile.mkstemp(prefix=".archcalc-", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise error(f"--output {output}: archcalc cannot create files in "
                    f"{os.path.dirname(output) or folder} ({exc.strerror or exc})", OPTIONS,
                    hint="write to a folder you can write to", kind="io") from None


# ---------------------------------------------------------------------------------------------
# an output never replaces an input

FOLDER_SUFFIXES = (".svg",)         # what archcalc writes into a folder (a report's plots)


class Input(NamedTuple):
    """A file a command reads: ``path`` (``-`` for standard input) and ``what`` it is, as a
    message names it ("the spec", "the device file", "the external data of the model m.onnx")."""
    path: str
    what: str = "a file"


class Output(NamedTuple):
    """A file (or, with ``folder``, a folder replaced whole) a command writes: its ``path``, the
    ``option`` that named it and an ``example`` of another name, for the hint. A file written
    beside the one named (an ONNX model's weights, a report's plots) has its ``role`` ("the
    weights file") and the output it goes with (``beside``)."""
    path: str
    option: str = "--output"
    example: str | None = None
    folder: bool = False
    role: str | None = None
    beside: str | None = None
    hint: str | None = None          # what to do instead, where no other name can be given


def _stat(path: str) -> os.stat_result | None:
    """What ``path`` is (through symbolic links), or None where nothing is; ``-`` is standard
    input where it is a regular file (a shell's ``< file``)."""
    try:
        if path == "-":
            st = os.fstat(sys.stdin.fileno())
            return st if stat.S_ISREG(st.st_mode) else None
        return os.stat(path)
    except (OSError, ValueError, AttributeError):
        return None


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def refuse_inputs(outputs: Sequence[str | Output], inputs: Iterable[str | Input]) -> None:
    """One error (kind "usage", exit 2) when writing any of ``outputs`` would replace any of
    ``inputs``: the same file by path or by inode (a symbolic link, a hard link, standard input
    redirected from it), or, for a folder replaced whole, a folder that holds an input. Paths
    that name no file (a spec string, a file not yet written) are never the same. Called before
    any work, by every command that writes a file."""
    given = [i if isinstance(i, Input) else Input(i) for i in inputs]
    read = [(i, st) for i in given if (st := _stat(i.path)) is not None]
    if not read:
        return
    for out in outputs:
        o = out if isinstance(out, Output) else Output(out)
        if o.path == "-":
            continue
        ost = _stat(o.path)
        if ost is None:
            continue
        for i, ist in read:
            if _same(ost, ist):
                raise _replaces(o, i)
            if o.folder and stat.S_ISDIR(ost.st_mode) and i.path != "-":
                here = os.path.realpath(i.path)
                while os.path.dirname(here) != here:
                    here = os.path.dirname(here)
                    st = _stat(here)
                    if st is not None and _same(st, ost):
                        raise _inside(o, i)


def _name(o: Output) -> str:
    return f"{o.role} {o.path} (of {o.option} {o.beside})" if o.role and o.beside else \
        f"{o.option} {o.path}"


def _hint(o: Output) -> str:
    if o.hint:
        return o.hint
    if o.beside:
        return (f"give {o.option} another name ({o.role} is named after it)"
                + (f", e.g. {o.option} {o.example}" if o.example else "")
                + ", or move the input away")
    return f"write to another file, e.g. {o.option} {o.example}" if o.example else \
        "write to another file"


def _replaces(o: Output, i: Input) -> ArchcalcError:
    name = _name(o)
    if i.path == "-":
        how = "is the file standard input is read from, which holds " + i.what
    elif os.path.abspath(o.path) == os.path.abspath(i.path):
        how = "is " + i.what
    elif os.path.realpath(o.path) == os.path.realpath(i.path):
        how = f"is a symbolic link to {i.path}, " + i.what
    else:
        how = f"is a hard link to {i.path}, " + i.what
    return error(f"{name} {how} this command reads: writing it would destroy what is read",
                 OPTIONS, hint=_hint(o), kind="usage")


def _inside(o: Output, i: Input) -> ArchcalcError:
    return error(f"{_name(o)} is replaced whole, and it holds {i.path}, {i.what} this command "
                 "reads", OPTIONS, hint=_hint(o), kind="usage")


def check_folder(folder: str, suffixes: Sequence[str] = FOLDER_SUFFIXES,
                 beside: str | None = None, option: str = "--output") -> None:
    """A folder that :func:`replace_folder` will replace whole must hold only what archcalc
    writes there (regular files ending in ``suffixes``): anything else in it is the user's, and
    is never deleted (one error, kind "io", before any work)."""
    if not os.path.lexists(folder):
        return
    where = f"the folder {folder}" + (f" (of {option} {beside})" if beside else "")
    if os.path.islink(folder) or not os.path.isdir(folder):
        raise error(f"{where} exists and is not a folder archcalc wrote", OPTIONS, kind="io",
                    hint="move it away (archcalc puts files there), or give the output "
                         "another name")
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise _cannot(folder, exc) from None
    other = [n for n in names if not (n.lower().endswith(tuple(suffixes)) and not
                                      os.path.islink(os.path.join(folder, n)) and
                                      os.path.isfile(os.path.join(folder, n)))]
    if other:
        shown = ", ".join(other[:3]) + (f" and {len(other) - 3} more" if len(other) > 3 else "")
        raise error(f"{where} is replaced whole, and it holds {shown}, which archcalc did not "
                    "write there", OPTIONS, kind="io",
                    hint="move those files away, or give the output another name")


# ---------------------------------------------------------------------------------------------
# an output's suffix

# what each suffix means to archcalc: what it reads or writes under that name
KNOWN_SUFFIXES: Mapping[str, str] = {
    ".onnx": "an ONNX model", ".data": "an ONNX model's external data",
    ".yaml": "a YAML spec", ".yml": "a YAML spec", ".spec": "a spec",
    ".txt": "text (a spec, a table)", ".tsv": "a tab-separated table",
    ".md": "Markdown", ".markdown": "Markdown", ".json": "JSON", ".jsonl": "JSON Lines",
    ".ndjson": "JSON Lines", ".csv": "CSV", ".html": "an HTML page", ".htm": "an HTML page",
    ".svg": "an SVG drawing", ".png": "a PNG image", ".dot": "Graphviz DOT",
    ".gv": "Graphviz DOT", ".mmd": "Mermaid", ".py": "PyTorch source",
    ".pt": "PyTorch weights"}


def output_suffix(output: str, writes: str, suffixes: Sequence[str], option: str = "--output",
                  hint: str | None = None, unknown: str = "warn") -> str | None:
    """Check that ``output``'s suffix fits ``writes`` (what is written: "an ONNX model"), whose
    files end in one of ``suffixes``: one of them is fine (None); the suffix of another format
    archcalc knows (:data:`KNOWN_SUFFIXES`) is refused (kind "usage", exit 2); an unknown
    suffix, or none, is refused where ``unknown`` is "refuse", else the text of a warning is
    returned for the command to say. ``hint`` is added to the error's hint."""
    if output == "-":
        return None
    suffix = os.path.splitext(output)[1].lower()
    if suffix in suffixes:
        return None
    names = (", ".join(suffixes[:-1]) + " or " if len(suffixes) > 1 else "") + suffixes[-1]
    stem = os.path.splitext(output)[0] if suffix else output
    fix = f"e.g. {option} {stem}{suffixes[0]}" + (f"; {hint}" if hint else "")
    known = KNOWN_SUFFIXES.get(suffix)
    if known is not None or unknown == "refuse":
        said = f"{suffix} ({known})" if known else (suffix or "no suffix")
        raise error(f"{option} {output}: {writes} should end in {names}, not {said}", OPTIONS,
                    hint=fix, kind="usage")
    return (f"{option} {output}: {writes} is usually named {names}"
            + (f", not {suffix}" if suffix else "") + f" ({fix})")


def _cannot(path: str, exc: OSError) -> ArchcalcError:
    return error(f"cannot write {path}: {exc.strerror or exc}", SourcePos(path), kind="io")


class AtomicFile:
    """A file written beside ``path`` under a temporary name and moved into place by
    :meth:`commit`; :meth:`abort` (or leaving a ``with`` block by an exception) removes it and
    leaves any old file as it was. ``binary`` writes bytes; otherwise text (UTF-8)."""

    def __init__(self, path: str, binary: bool = False, suffix: str = ".part"):
        self.path = path
        self.real = os.path.realpath(path)
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{os.path.basename(self.real)}.",
                                            suffix=suffix, dir=os.path.dirname(self.real))
        except OSError as exc:
            raise _cannot(path, exc) from None
        self.fh: IO[Any] = os.fdopen(fd, "wb") if binary else \
            os.fdopen(fd, "w", encoding="utf-8", newline="")
        self.done = False

    def write(self, data: Any) -> int:
        try:
            return self.fh.write(data)
        except OSError as exc:
            self.abort()
            raise _cannot(self.path, exc) from None

    def commit(self) -> None:
        try:
            self.fh.close()
            os.chmod(self.tmp, 0o666 & ~umask())
            os.replace(self.tmp, self.real)
            self.done = True
        except OSError as exc:
            self.abort()
            raise _cannot(self.path, exc) from None

    def abort(self) -> None:
        try:
            self.fh.close()
        except OSError:
            pass
        if not self.done and os.path.exists(self.tmp):
            os.unlink(self.tmp)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, kind: Any, value: Any, tb: Any) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def write_atomic(path: str, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` atomically (see :class:`AtomicFile`)."""
    with AtomicFile(path, binary=True) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)


def replace_folder(folder: str, files: Mapping[str, str],
                   suffixes: Sequence[str] = FOLDER_SUFFIXES) -> None:
    """The folder ``folder`` holding exactly ``files`` (name → text), swapped in whole: written
    under a temporary name beside it, then moved into place. An existing folder is replaced
    only where it holds nothing but files ending in ``suffixes`` (what archcalc put there);
    anything else in it, or a file of that name, is an error (:func:`check_folder`)."""
    check_folder(folder, suffixes)
    base = os.path.dirname(os.path.abspath(folder))
    try:
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(folder)}.", dir=base)
        os.chmod(tmp, 0o777 & ~umask())         # as mkdir would make it (mkdtemp makes 0700)
    except OSError as exc:
        raise _cannot(folder, exc) from None
    try:
        for rel, content in files.items():
            with open(os.path.join(tmp, os.path.basename(rel)), "w", encoding="utf-8") as fh:
                fh.write(content)
        if os.path.isdir(folder) and not os.path.islink(folder):
            shutil.rmtree(folder)
        elif os.path.lexists(folder):
            raise error(f"{folder} exists and is not a folder", SourcePos(folder), kind="io",
                        hint="move it away: archcalc puts files there")
        os.replace(tmp, folder)
    except OSError as exc:
        raise _cannot(folder, exc) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
