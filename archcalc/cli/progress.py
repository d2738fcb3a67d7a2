"""Signs of life for long work (docs/usage.md, "Progress"): a progress bar on standard error while
it is a terminal — what is being done, the count done of the total, the rate, the time so far
and the time left — and nothing on a pipe or a file, so that piped output and JSON stay
clean. rich is imported only when a bar is shown."""
from __future__ import annotations

import sys
from typing import Any


def on_terminal() -> bool:
    """Whether standard error is a terminal (where a bar may be drawn)."""
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


def console() -> Any:
    """A rich Console on standard error two columns narrower than the terminal: a bar that
    filled a line would be pushed up a line by the ``^C`` the terminal echoes at Ctrl-C, and
    left on the screen when it is removed."""
    from rich.console import Console
    out = Console(stderr=True)
    out.width = max(20, out.width - 2)
    return out


def duration(seconds: float) -> str:
    """A time in words a person reads at a glance: 45 s, 12 min, 3.5 h, 4.2 days, 310 years."""
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1f} s"
    for size, unit in ((365.25 * 86400, "years"), (86400, "days"), (3600, "h"), (60, "min")):
        if seconds >= 1.5 * size or unit == "min":
            n = seconds / size
            return f"{n:,.1f} {unit}" if n < 10 else f"{n:,.0f} {unit}"
    return f"{seconds:.0f} s"      # (not reached)


class Bar:
    """A progress bar of ``total`` steps (``None``: a spinner with the time so far) labelled
    ``label``, on standard error, shown only where ``enabled`` (default: standard error is a
    terminal). Started by :meth:`start` (or the first :meth:`advance`), removed by :meth:`stop`
    (or leaving a ``with`` block): it leaves nothing on the screen. ``unit`` names what is
    counted in the rate (variants: "12,345 variants/s"). Where standard output is the same
    terminal, lines printed meanwhile appear above the bar (``redirect_stdout``)."""

    def __init__(self, label: str, total: int | None, unit: str = "",
                 enabled: bool | None = None, redirect_stdout: bool = False):
        self.label, self.total, self.unit = label, total, unit
        self.enabled = on_terminal() if enabled is None else enabled
        self.redirect = redirect_stdout
        self.bar: Any = None
        self.task: Any = None

    def start(self) -> Bar:
        if not self.enabled or self.bar is not None:
            return self
        self.enabled = False                 # once
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text
        unit = self.unit

        class Rate(ProgressColumn):
            """Steps per second (or seconds per step, for slow steps)."""

            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                if not speed:
                    return Text("", style="progress.data.speed")
                shown = f"{speed:,.0f}" if speed >= 10 else f"{speed:.2g}"
                text = f"{shown} {unit}/s".replace("  ", " ") if speed >= 1 else \
                    f"{1 / speed:.1f} s each"
                return Text(text, style="progress.data.speed")

        if self.total is None:
            columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}"),
                                  TimeElapsedColumn()]
        else:
            columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       Rate(), TimeElapsedColumn(), TextColumn("eta"),
                       TimeRemainingColumn()]
        self.bar = Progress(*columns, console=console(), transient=True,
                            redirect_stdout=self.redirect, redirect_stderr=False)
        self.task = self.bar.add_task(self.label, total=self.total)
        self.bar.start()
        return self

    def advance(self, n: int = 1) -> None:
        self.start()
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def describe(self, text: str) -> None:
        """What is being done now (in place of the label), drawn at once: every step is seen,
        however short."""
        self.start()
        if self.bar is not None:
            self.bar.update(self.task, description=text, refresh=True)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def __enter__(self) -> Bar:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["Bar", "console", "duration", "on_terminal"]
