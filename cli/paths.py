"""Checks on output paths, made before any work starts."""

from __future__ import annotations

from pathlib import Path

from cmfr_codec.errors import InputError


def check_video_output(path: Path) -> None:
    """Refuse an output extension no writer handles, before hours of encoding are spent."""
    from cmfr_codec.io import writer_class

    writer_class(path)


def check_distinct(*paths: Path | None) -> None:
    """Refuse a command line whose output would overwrite its own input."""
    seen: dict[Path, Path] = {}
    for path in paths:
        if path is None:
            continue
        resolved = path.resolve()
        if resolved in seen:
            raise InputError(f"{path} is given twice (input and output, or two outputs)")
        seen[resolved] = path
