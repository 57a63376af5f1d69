"""YUV4MPEG2 (``.y4m``): raw 4:2:0 frames with a one-line text header and a ``FRAME`` line each.

Header: ``YUV4MPEG2 W416 H240 F25:1 Ip A1:1 C420jpeg X...`` (width, height, rate as a ratio,
interlacing, pixel aspect, colour/chroma tag, extensions).  Only the 8-bit 4:2:0 tags are
accepted; a missing ``C`` tag means ``420jpeg``.  We write ``C420jpeg``, the tag ffmpeg writes for
``yuv420p``: the samples are the same whatever the 4:2:0 chroma siting, which only tells a
player where to interpolate.

Every ``FRAME`` line may carry parameters, so frames are not at fixed offsets in general.  When
all frame lines are the plain ``FRAME\\n`` (what every common tool writes) the count and the
offset of any frame follow from the file length; otherwise the reader walks the frame lines once
at open, seeking over the pictures, to count them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

from cmfr_codec.errors import InputError
from cmfr_codec.io.frames import VideoInfo, YuvFrame
from cmfr_codec.io.naming import DEFAULT_FPS, checked_size
from cmfr_codec.io.streams import VideoReader, require_input_file, selected_count
from cmfr_codec.io.yuv import PlanarFileWriter

SIGNATURE = b"YUV4MPEG2"
PLAIN_FRAME_LINE = b"FRAME\n"
ACCEPTED_CHROMA_TAGS = ("420jpeg", "420", "420paldv", "420mpeg2")
WRITTEN_CHROMA_TAG = "420jpeg"

_LONGEST_HEADER = 65536  # X comments may be long, but a header of more than 64 KiB is not a y4m file
_LONGEST_FRAME_LINE = 4096


@dataclass(frozen=True)
class Y4mHeader:
    """The stream header's fields that matter here; ``fps`` is ``None`` for a missing or 0:0 rate."""

    width: int
    height: int
    fps: Fraction | None
    chroma_tag: str
    length: int


def parse_header(line: bytes, path: Path) -> Y4mHeader:
    """The fields of a stream header line (including its newline)."""
    if not line.startswith(SIGNATURE + b" ") or not line.endswith(b"\n"):
        raise InputError(
            f"{path} is not a YUV4MPEG2 file: it does not start with a '{SIGNATURE.decode()}' line"
        )
    try:
        tokens = line[len(SIGNATURE) :].decode("ascii").split()
    except UnicodeDecodeError:
        raise InputError(f"{path}: the YUV4MPEG2 header is not ASCII text") from None
    fields = {token[0]: token[1:] for token in tokens if token[0] in "WHFC"}
    if "W" not in fields or "H" not in fields:
        raise InputError(f"{path}: the YUV4MPEG2 header has no W (width) or H (height) field")
    try:
        width, height = int(fields["W"]), int(fields["H"])
    except ValueError:
        raise InputError(f"{path}: bad size W{fields['W']} H{fields['H']} in the YUV4MPEG2 header") from None
    chroma_tag = fields.get("C", "420jpeg")
    if chroma_tag not in ACCEPTED_CHROMA_TAGS:
        accepted = ", ".join(f"C{tag}" for tag in ACCEPTED_CHROMA_TAGS)
        raise InputError(
            f"{path}: YUV4MPEG2 colour format C{chroma_tag} is not supported; "
            f"only 8-bit 4:2:0 is ({accepted}); convert with ffmpeg -pix_fmt yuv420p"
        )
    return Y4mHeader(*checked_size(width, height), _parse_rate(fields.get("F"), path), chroma_tag, len(line))


def _parse_rate(text: str | None, path: Path) -> Fraction | None:
    if text is None:
        return None
    numerator, colon, denominator = text.partition(":")
    try:
        if not colon:
            raise ValueError
        rate = (int(numerator), int(denominator))
    except ValueError:
        raise InputError(
            f"{path}: bad frame rate F{text} in the YUV4MPEG2 header: expected F<num>:<den>"
        ) from None
    if rate[0] <= 0 or rate[1] <= 0:
        return None
    return Fraction(*rate)


class Y4mReader(VideoReader):
    """Frames of a ``.y4m`` file."""

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
        handle: BinaryIO = open(path, "rb")
        try:
            header = parse_header(handle.readline(_LONGEST_HEADER), path)
            if size is not None and tuple(size) != (header.width, header.height):
                raise InputError(
                    f"--size {size[0]}x{size[1]} does not match {path}, which is {header.width}x{header.height}"
                )
            geometry = VideoInfo(header.width, header.height, fps or header.fps or DEFAULT_FPS)
            offsets = _frame_offsets(handle, path, header.length, geometry.frame_bytes)
            count = selected_count(path, len(offsets), skip, frames)
            handle.seek(offsets[skip])
        except BaseException:
            handle.close()
            raise
        super().__init__(path, VideoInfo(geometry.width, geometry.height, geometry.fps, count))
        self._handle = handle

    def _frames(self) -> Iterator[YuvFrame]:
        frame_bytes = self.info.frame_bytes
        for index in range(self.info.frame_count or 0):
            _read_frame_line(self._handle, self.path, index)
            data = self._handle.read(frame_bytes)
            if len(data) != frame_bytes:
                raise InputError(
                    f"{self.path} ended inside frame {index}: did the file shrink while reading?"
                )
            yield YuvFrame.from_bytes(data, self.info.width, self.info.height)

    def close(self) -> None:
        self._handle.close()


def _frame_offsets(handle: BinaryIO, path: Path, first: int, frame_bytes: int) -> Sequence[int]:
    """Where each frame's ``FRAME`` line starts: arithmetic for plain lines, a walk otherwise."""
    length = os.fstat(handle.fileno()).st_size
    stride = len(PLAIN_FRAME_LINE) + frame_bytes
    plain = range(first, length, stride)
    ends = (plain[0], plain[-1]) if plain else ()
    if (length - first) % stride == 0 and all(
        _line_at(handle, offset) == PLAIN_FRAME_LINE for offset in ends
    ):
        return plain
    offsets = []
    offset = first
    while offset < length:
        handle.seek(offset)
        line = _read_frame_line(handle, path, len(offsets))
        offsets.append(offset)
        offset += len(line) + frame_bytes
        if offset > length:
            raise InputError(
                f"{path} is truncated: frame {len(offsets) - 1} has {length - offset + frame_bytes} "
                f"of its {frame_bytes} bytes"
            )
    return offsets


def _line_at(handle: BinaryIO, offset: int) -> bytes:
    handle.seek(offset)
    return handle.read(len(PLAIN_FRAME_LINE))


def _read_frame_line(handle: BinaryIO, path: Path, index: int) -> bytes:
    """The ``FRAME`` line (with any parameters, which are ignored) before picture ``index``."""
    line = handle.readline(_LONGEST_FRAME_LINE)
    if not line.startswith(b"FRAME") or not line.endswith(b"\n"):
        raise InputError(f"{path}: frame {index} does not start with a FRAME line; the file is damaged")
    return line


class Y4mWriter(PlanarFileWriter):
    """A ``.y4m`` file: progressive, square pixels, 4:2:0 tagged ``C420jpeg``."""

    frame_prefix = PLAIN_FRAME_LINE

    def __init__(self, path: str | os.PathLike[str], info: VideoInfo):
        header = (
            f"YUV4MPEG2 W{info.width} H{info.height} F{info.fps.numerator}:{info.fps.denominator} "
            f"Ip A1:1 C{WRITTEN_CHROMA_TAG}\n"
        )
        super().__init__(path, info, header.encode("ascii"))
