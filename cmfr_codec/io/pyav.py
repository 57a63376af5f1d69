"""Everything FFmpeg can open, through PyAV, and lossless FFV1 ``.mkv`` output.

Input: the first video stream is decoded and every frame becomes limited-range ``yuv420p``:
  - ``yuv420p`` frames pass through untouched;
  - RGB frames (``rgb24``, ``gbrp``, ``bgr0``, palettes, ...) are converted with the BT.709
    matrix to limited range (16-235 luma), the convention of HD video;
  - other YUV layouts (``yuv444p``, ``yuv422p``, ``nv12``, 10-bit, full-range ``yuvj``) go
    through FFmpeg's scaler, which subsamples chroma, reduces the depth to 8 bits and maps full
    range to limited, keeping the source's own matrix.

Output: FFV1 version 3 in Matroska, ``yuv420p``, every frame a keyframe: bit-exact, seekable,
and readable by any FFmpeg-based tool.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from cmfr_codec.errors import InputError
from cmfr_codec.io.frames import VideoInfo, YuvFrame
from cmfr_codec.io.naming import DEFAULT_FPS
from cmfr_codec.io.streams import VideoReader, VideoWriter, describe_error, require_input_file, selected_count

PIXEL_FORMAT = "yuv420p"

# FFV1 version 3 keeps a CRC per slice, so damage is detected; one keyframe per frame (GOP 1)
# lets a reader seek to any frame.
FFV1_OPTIONS = {"level": "3", "g": "1"}


def to_yuv420p(frame: av.VideoFrame) -> av.VideoFrame:
    """``frame`` as limited-range ``yuv420p`` (see the module docstring for the rules)."""
    layout = frame.format
    if layout.is_rgb or layout.has_palette:
        return frame.reformat(
            format=PIXEL_FORMAT, dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
        )
    if layout.name != PIXEL_FORMAT or frame.color_range == ColorRange.JPEG:
        return frame.reformat(format=PIXEL_FORMAT, dst_color_range=ColorRange.MPEG)
    return frame


def frame_planes(frame: av.VideoFrame) -> YuvFrame:
    """The pixels of a ``yuv420p`` PyAV frame, without FFmpeg's line padding."""
    return YuvFrame(*(_plane_view(plane)[:, : plane.width].copy() for plane in frame.planes))


def _plane_view(plane: av.video.plane.VideoPlane) -> np.ndarray:
    return np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)


class PyAvReader(VideoReader):
    """Frames of the first video stream of any file FFmpeg can demux and decode."""

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
        try:
            container = av.open(str(path))
        except (av.FFmpegError, OSError) as error:
            raise InputError(f"cannot read video {path}: {describe_error(error)}") from error
        try:
            if not container.streams.video:
                raise InputError(f"cannot read video {path}: it has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            width, height = stream.codec_context.width, stream.codec_context.height
            if width <= 0 or height <= 0:
                raise InputError(f"cannot read video {path}: the video stream has no frame size")
            if size is not None and tuple(size) != (width, height):
                raise InputError(
                    f"--size {size[0]}x{size[1]} does not match {path}, which is {width}x{height}"
                )
            rate = fps or stream.average_rate or stream.guessed_rate or DEFAULT_FPS
            count = selected_count(path, stream.frames or None, skip, frames)
        except BaseException:
            container.close()
            raise
        super().__init__(path, VideoInfo(width, height, Fraction(rate), count))
        self._container = container
        self._stream = stream
        self._skip = skip
        self._frames_wanted = frames

    def _frames(self) -> Iterator[YuvFrame]:
        yielded = 0
        decoded = 0
        for decoded, frame in enumerate(self._decoded(), start=1):
            if decoded <= self._skip:
                continue
            if (frame.width, frame.height) != (self.info.width, self.info.height):
                raise InputError(
                    f"{self.path}: frame {decoded - 1} is {frame.width}x{frame.height} but the video "
                    f"started at {self.info.width}x{self.info.height}; size changes are not supported"
                )
            yield frame_planes(to_yuv420p(frame))
            yielded += 1
            if yielded == self._frames_wanted:
                return
        if decoded == 0:
            raise InputError(f"cannot read video {self.path}: no frame could be decoded")
        if yielded == 0:
            raise InputError(
                f"--skip {self._skip} is past the end of {self.path}, which has {decoded} frames"
            )

    def _decoded(self) -> Iterator[av.VideoFrame]:
        try:
            yield from self._container.decode(self._stream)
        except av.FFmpegError as error:
            raise InputError(f"cannot read video {self.path}: {describe_error(error)}") from error

    def close(self) -> None:
        self._container.close()


class Ffv1MkvWriter(VideoWriter):
    """A lossless ``.mkv``: FFV1 in Matroska, ``yuv420p``, limited range, one keyframe per frame."""

    _io_errors = (OSError, av.FFmpegError)

    def __init__(self, path: str | os.PathLike[str], info: VideoInfo):
        super().__init__(path, info)
        try:
            # The temporary name keeps the .mkv suffix, but the muxer is named anyway.
            self._container = av.open(str(self.temporary_path), "w", format="matroska")
        except (av.FFmpegError, OSError) as error:
            self._output.abort()
            raise InputError(f"cannot write {self.path}: {describe_error(error)}") from error
        self._stream = self._container.add_stream("ffv1", rate=info.fps, options=FFV1_OPTIONS)
        self._stream.width = info.width
        self._stream.height = info.height
        self._stream.pix_fmt = PIXEL_FORMAT
        self._stream.codec_context.time_base = 1 / info.fps
        self._stream.codec_context.color_range = ColorRange.MPEG

    def _write_frame(self, frame: YuvFrame) -> None:
        picture = av.VideoFrame(self.info.width, self.info.height, PIXEL_FORMAT)
        for plane, pixels in zip(picture.planes, frame.planes(), strict=True):
            _plane_view(plane)[:, : plane.width] = pixels
        picture.pts = self.frames_written
        picture.time_base = 1 / self.info.fps
        picture.color_range = ColorRange.MPEG
        self._container.mux(self._stream.encode(picture))

    def _finish(self) -> None:
        self._container.mux(self._stream.encode(None))
        self._container.close()

    def _release(self) -> None:
        self._container.close()
