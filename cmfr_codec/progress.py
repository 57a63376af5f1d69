"""Progress bars for long work, drawn on stderr so that stdout stays clean for data."""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from cmfr_codec.pipeline import FrameReport


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


class CodingProgress:
    """The frame bar of ``cmfr encode`` / ``cmfr decode``: frames, frames per second and bitrate so far."""

    def __init__(self, description: str, total: int | None, fps: float):
        self._progress = frame_progress()
        self._task = self._progress.add_task(description, total=total, status="")
        self._fps = fps

    def __enter__(self) -> CodingProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.__exit__(*exc_info)

    def update(self, frame: FrameReport) -> None:
        task = self._progress.tasks[self._task]
        frames = frame.number + 1
        elapsed = task.elapsed or 0.0
        speed = f"{frames / elapsed:.2f} fps" if elapsed > 0 else ""
        kbps = frame.total_bytes * 8 * self._fps / frames / 1000
        self._progress.update(self._task, advance=1, status=f"{speed} {kbps:.1f} kbps")
