"""Files archcalc writes, in one place: every output appears whole or not at all.

* :func:`writable_output` — an output path checked before any work (a folder, a missing folder,
  a device or a pipe: one clear error);
* :class:`AtomicFile` — a file written beside its path under a temporary name and moved into
  place when complete (text or bytes, streamed); an error or an interrupt leaves no partial file
  and keeps the old one;
* :func:`write_atomic` — the same for data held in memory;
* :func:`replace_folder` — a folder of files (a Markdown report's plots), swapped in whole.

Errors are of kind "io" (the command line's exit 2).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import IO, Any

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


def replace_folder(folder: str, files: Mapping[str, str]) -> None:
    """The folder ``folder`` holding exactly ``files`` (name → text), swapped in whole: written
    under a temporary name beside it, then moved into place (an existing folder is replaced; a
    file of that name is an error)."""
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
