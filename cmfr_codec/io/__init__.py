"""Streaming video input and output: frames flow one at a time, whatever the file's length.

Readers: raw ``.yuv`` (8-bit 4:2:0), ``.y4m``, and anything FFmpeg decodes (through PyAV), all
yielding :class:`YuvFrame` objects in limited-range ``yuv420p``.  Writers: ``.yuv``, ``.y4m``
and lossless FFV1 ``.mkv``, published atomically.  See docs/io.md.
"""

from cmfr_codec.io.formats import SUPPORTED_OUTPUT_EXTENSIONS, create_video_writer, open_video, writer_class
from cmfr_codec.io.frames import VideoInfo, YuvFrame
from cmfr_codec.io.naming import DEFAULT_FPS, parse_fps, parse_size, size_and_rate_from_name
from cmfr_codec.io.streams import VideoReader, VideoWriter

__all__ = [
    "DEFAULT_FPS",
    "SUPPORTED_OUTPUT_EXTENSIONS",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "YuvFrame",
    "create_video_writer",
    "open_video",
    "parse_fps",
    "parse_size",
    "size_and_rate_from_name",
    "writer_class",
]
