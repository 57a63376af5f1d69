"""Where the commands print their tables."""

from __future__ import annotations

from rich.console import Console

REPORT_WIDTH = 200
"""Width of tables sent to a file or a pipe: wide enough that no figure is cut, as rich would at 80."""


def report_console() -> Console:
    """stdout for tables: the terminal's width on a terminal, :data:`REPORT_WIDTH` columns otherwise."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=REPORT_WIDTH)
    return console
