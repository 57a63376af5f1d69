"""What every reader and writer has in common, whatever the file format.

A reader yields :class:`YuvFrame` objects one at a time, so memory holds one frame however long
the input is; a writer takes them one at a time and publishes the file only when it is closed
without error (through :class:`AtomicOutput`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from cmfr_codec.atomic import AtomicOutput, PublishOnSuccess
from cmfr_codec.errors import CmfrError, InputError
from cmfr_codec.io.frames import VideoInfo, YuvFrame


def require_input_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`Path` if it names an existing file, else an :class:`InputError`."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a video file")
    if not path.exists():
        raise InputError(f"no such file: {path}")
    return path


def check_range(skip: int, frames: int | None) -> None:
    """Refuse a ``--skip``/``--frames`` pair that cannot select anything, before opening files."""
    if skip < 0:
        raise InputError(f"--skip must be 0 or more, got {skip}")
    if frames is not None and frames < 1:
        raise InputError(f"--frames must be 1 or more, got {frames}")


def selected_count(path: Path, total: int | None, skip: int, frames: int | None) -> int | None:
    """How many frames ``skip``/``frames`` select from ``total``; ``None`` if ``total`` is unknown."""
    if total is None:
        return None
    if total == 0:
        raise InputError(f"{path} contains no frames")
    if skip >= total:
        raise InputError(f"--skip {skip} is past the end of {path}, which has {total} frames")
    remaining = total - skip
    return remaining if frames is None else min(frames, remaining)


class VideoReader:
    """Frames of one video file, after the ``skip``/``frames`` selection, read lazily.

    ``info`` describes what iteration yields.  A reader is one pass over the file: iterate it
    once, then close it (or use it as a context manager).
    """

    def __init__(self, path: Path, info: VideoInfo):
        self.path = path
        self.info = info
        self._started = False

    def __iter__(self) -> Iterator[YuvFrame]:
        if self._started:
            raise RuntimeError(f"the reader of {self.path} was already iterated; open the video again")
        self._started = True
        return self._frames()

    def _frames(self) -> Iterator[YuvFrame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file; the format-specific readers close their handles here."""

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class VideoWriter(PublishOnSuccess):
    """A video file written one frame at a time, published whole on :meth:`close`.

    Format writers implement ``_write_frame``, ``_finish`` (complete the file) and ``_release``
    (let go of it unfinished).  ``_io_errors`` are the exceptions that mean the disk or the
    library failed; they reach the user as a one-line :class:`CmfrError`.
    """

    _io_errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self, path: str | os.PathLike[str], info: VideoInfo):
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"cannot write {self.path}: it is a directory")
        self.info = info
        self.frames_written = 0
        self._output = AtomicOutput(self.path)
        self._closed = False

    @property
    def temporary_path(self) -> Path:
        """Where the file grows until it is committed."""
        return self._output.temporary_path

    def write(self, frame: YuvFrame) -> None:
        if self._closed:
            raise ValueError(f"the writer of {self.path} is closed")
        if (frame.width, frame.height) != (self.info.width, self.info.height):
            raise ValueError(
                f"frame is {frame.width}x{frame.height} but {self.path} is "
                f"{self.info.width}x{self.info.height}"
            )
        try:
            self._write_frame(frame)
        except self._io_errors as error:
            raise CmfrError(f"cannot write {self.path}: {describe_error(error)}") from error
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file and rename it into place."""
        if self._closed:
            return
        try:
            self._finish()
            self._output.close()
        except BaseException as error:
            self.abort()
            if isinstance(error, self._io_errors):
                raise CmfrError(f"cannot write {self.path}: {describe_error(error)}") from error
            raise
        self._closed = True

    def abort(self) -> None:
        """Discard everything written: no file appears at ``path``."""
        if self._closed:
            return
        self._closed = True
        try:
            # The file is thrown away, so a failure to close it cleanly changes nothing for the user.
            with contextlib.suppress(*self._io_errors):
                self._release()
        finally:
            self._output.abort()

    def _write_frame(self, frame: YuvFrame) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError



def describe_error(error: BaseException) -> str:
    """The human part of an OS or FFmpeg error, without ``[Errno N]`` and the repeated path."""
    text = getattr(error, "strerror", None)
    return text if text else str(error)
