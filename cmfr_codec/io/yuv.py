"""Raw 8-bit 4:2:0 ``.yuv`` files: planar Y, U, V frames back to back, no header.

The size comes from ``--size`` or the file name, the rate from ``--fps``, the name, or
:data:`DEFAULT_FPS`; the frame count from the file length, which must be a whole number of
frames.  Skipped frames are seeked over, never read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from typing import BinaryIO

import numpy as np

from cmfr_codec.errors import InputError
from cmfr_codec.io.frames import VideoInfo, YuvFrame
from cmfr_codec.io.naming import DEFAULT_FPS, size_and_rate_from_name, unsupported_format_in_name
from cmfr_codec.io.streams import VideoReader, VideoWriter, require_input_file, selected_count


class RawYuvReader(VideoReader):
    """Frames of a raw ``yuv420p`` file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        size: tuple[int, int] | None = None,
        fps: Fraction | None = None,
        skip: int = 0,
        frames: int | None = None,
    ):
        path = require_input_file(path)
        unsupported = unsupported_format_in_name(path)
        if unsupported is not None:
            raise InputError(
                f"{path}: the name says '{unsupported}', but raw .yuv input must be 8-bit 4:2:0 (yuv420p)"
            )
        from_name = size_and_rate_from_name(path)
        if size is None:
            if from_name is None:
                raise InputError(
                    f"size of raw video {path} is unknown: pass --size WxH "
                    "(or name the file like Name_1920x1080_50.yuv)"
                )
            size = from_name[:2]
        rate = fps or (from_name[2] if from_name is not None else None) or DEFAULT_FPS
        width, height = size
        geometry = VideoInfo(width, height, rate)
        length = path.stat().st_size
        total, leftover = divmod(length, geometry.frame_bytes)
        if leftover:
            raise InputError(
                f"{path} is {length} bytes, not a whole number of {width}x{height} yuv420p frames "
                f"({geometry.frame_bytes} bytes each): {leftover} bytes left over; check --size"
            )
        count = selected_count(path, total, skip, frames)
        super().__init__(path, VideoInfo(width, height, rate, count))
        self._handle: BinaryIO = open(path, "rb")
        self._handle.seek(skip * geometry.frame_bytes)

    def _frames(self) -> Iterator[YuvFrame]:
        frame_bytes = self.info.frame_bytes
        for index in range(self.info.frame_count or 0):
            data = self._handle.read(frame_bytes)
            if len(data) != frame_bytes:
                raise InputError(
                    f"{self.path} ended inside frame {index}: did the file shrink while reading?"
                )
            yield YuvFrame.from_bytes(data, self.info.width, self.info.height)

    def close(self) -> None:
        self._handle.close()


class PlanarFileWriter(VideoWriter):
    """Frames as raw planes, each after ``frame_prefix``, the whole after ``header``.

    With no header and no prefix this is a raw ``.yuv`` file; the YUV4MPEG2 writer adds both.
    """

    frame_prefix = b""

    def __init__(self, path: str | os.PathLike[str], info: VideoInfo, header: bytes = b""):
        super().__init__(path, info)
        try:
            self._handle: BinaryIO = open(self.temporary_path, "wb")
            self._handle.write(header)
        except BaseException:
            self._output.abort()
            raise

    def _write_frame(self, frame: YuvFrame) -> None:
        self._handle.write(self.frame_prefix)
        for plane in frame.planes():
            self._handle.write(np.ascontiguousarray(plane).data)

    def _finish(self) -> None:
        self._handle.close()

    def _release(self) -> None:
        self._handle.close()


class RawYuvWriter(PlanarFileWriter):
    """A raw ``yuv420p`` file: only the planes, so size and rate must travel in the name or options."""
