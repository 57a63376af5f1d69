"""Which reader or writer a path gets: the format is chosen by the file's extension.

Inputs: ``.yuv`` is raw ``yuv420p``, ``.y4m`` is YUV4MPEG2, anything else is handed to FFmpeg
(PyAV), which recognises containers by their content.  Outputs: ``.yuv``, ``.y4m`` and lossless
FFV1 ``.mkv``.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from cmfr_codec.errors import InputError
from cmfr_codec.io.frames import VideoInfo
from cmfr_codec.io.naming import checked_size
from cmfr_codec.io.streams import VideoReader, VideoWriter, check_range
from cmfr_codec.io.y4m import Y4mReader, Y4mWriter
from cmfr_codec.io.yuv import RawYuvReader, RawYuvWriter

SUPPORTED_OUTPUT_EXTENSIONS = (".yuv", ".y4m", ".mkv")

# PyAV is imported only when a file needs it (.mkv output, container input): the training machine
# (a lent GPU) has no PyAV, and training never opens such files (docs/training.md).


def open_video(
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] | None = None,
    fps: Fraction | None = None,
    skip: int = 0,
    frames: int | None = None,
) -> VideoReader:
    """A reader of ``frames`` frames of ``path`` (all of them if ``None``) after skipping ``skip``.

    ``size`` is required for a raw ``.yuv`` whose name does not give it, and checked against the
    file's own size for other formats.  ``fps`` overrides the rate of any input.
    """
    check_range(skip, frames)
    if size is not None:
        size = checked_size(*size)
    if fps is not None and fps <= 0:
        raise InputError(f"invalid frame rate {fps}: it must be greater than 0")
    suffix = Path(path).suffix.lower()
    if suffix in (".yuv", ".y4m"):
        reader: type[VideoReader] = RawYuvReader if suffix == ".yuv" else Y4mReader
    else:
        from cmfr_codec.io.pyav import PyAvReader

        reader = PyAvReader
    return reader(path, size=size, fps=fps, skip=skip, frames=frames)


def writer_class(path: str | os.PathLike[str]) -> type[VideoWriter]:
    """The writer for ``path``'s extension; InputError for an extension no writer handles.

    Commands call it before any work, so a typo in the output name fails at once.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in SUPPORTED_OUTPUT_EXTENSIONS:
        raise InputError(
            f"cannot write {path}: unknown output extension '{suffix}'; "
            f"use one of {', '.join(SUPPORTED_OUTPUT_EXTENSIONS)}"
        )
    if suffix == ".mkv":
        from cmfr_codec.io.pyav import Ffv1MkvWriter

        return Ffv1MkvWriter
    return RawYuvWriter if suffix == ".yuv" else Y4mWriter


def create_video_writer(path: str | os.PathLike[str], info: VideoInfo) -> VideoWriter:
    """A writer for ``path`` in the format its extension names; nothing appears there until it closes."""
    return writer_class(path)(path, info)
