"""Progress bars for long work, drawn on stderr so that stdout stays clean for data."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def frame_progress() -> Progress:
    """A bar counting frames, with a free-text field for running figures (fps, kbps, PSNR).

    The bar is drawn only on a terminal: redirected to a file or a pipe, stderr carries just the
    one-line errors, which keeps logs and scripts clean.
    """
    console = Console(stderr=True)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
