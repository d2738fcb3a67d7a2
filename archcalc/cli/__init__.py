"""The ``archcalc`` command line: a thin skin over the library.

``app`` holds the table of commands and :func:`main`; ``options`` declares every shared option
once; ``guard`` maps the kinds of error to exit codes; ``commands/`` holds one module per
command (parse options, call the library, pick a view).
"""
from __future__ import annotations

from typing import Any

from .entry import COMMANDS, build_app, main

__all__ = ["main", "build_app", "COMMANDS"]


def __getattr__(name: str) -> Any:
    if name == "app":               # archcalc.cli.app: the whole app (built on first use)
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
