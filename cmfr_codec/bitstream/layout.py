"""The byte layout of a cmfr bitstream, format version 1.0.

docs/bitstream.md is the specification; this module is its only translation into ``struct``
formats.  Everything is little-endian.  The file is::

    header | record 0 | record 1 | ... | record N-1 | seek index | trailer (16 bytes)

Encoding functions take validated dataclasses and cannot fail; ``decode_*`` functions take
bytes whose lengths the caller has already checked and raise ``BitstreamError`` on anything
else that is wrong with them.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from fractions import Fraction

from cmfr_codec.bitstream.records import (
    MAX_FPS_TERM,
    PIXEL_FORMATS,
    FrameRecord,
    FrameType,
    SequenceHeader,
)
from cmfr_codec.errors import BitstreamError

FORMAT_VERSION: tuple[int, int] = (1, 0)
MAGIC = b"CMFR"
END_MAGIC = b"CMFE"

# magic, major version, minor version, header length (all header bytes, CRC included)
HEADER_PREFIX = struct.Struct("<4sBBH")
# weights digest, width, height, fps numerator, fps denominator, frame count, intra period,
# pixel format code, quality index, model name length
HEADER_FIELDS = struct.Struct("<32sIIIIIIBBB")
CRC = struct.Struct("<I")
SMALLEST_HEADER = HEADER_PREFIX.size + HEADER_FIELDS.size + 1 + CRC.size

# frame number, frame type letter, quality index, sub-stream count, payload length
RECORD_FIELDS = struct.Struct("<IcBBI")
SUBSTREAM_NAME_LENGTH = struct.Struct("<B")
SUBSTREAM_SIZE = struct.Struct("<I")
SMALLEST_RECORD = RECORD_FIELDS.size + CRC.size

INDEX_COUNT = struct.Struct("<I")
# frame number, byte offset of its record from the start of the file
INDEX_ENTRY = struct.Struct("<IQ")
SMALLEST_INDEX = INDEX_COUNT.size + CRC.size

# index offset, CRC of the index offset, end magic
TRAILER = struct.Struct("<QI4s")

# Codes start at 1 so that a zeroed field never reads as a valid format.
_PIXEL_FORMAT_CODES = {name: code for code, name in enumerate(PIXEL_FORMATS, start=1)}
_PIXEL_FORMAT_NAMES = {code: name for name, code in _PIXEL_FORMAT_CODES.items()}
_FRAME_TYPES = {frame_type.value.encode("ascii"): frame_type for frame_type in FrameType}


def crc32(data: bytes, previous: int = 0) -> int:
    """CRC-32/ISO-HDLC (the zlib, PNG and Ethernet CRC), continued from ``previous``."""
    return zlib.crc32(data, previous)


def encode_header(header: SequenceHeader) -> bytes:
    """The header's bytes; its length depends only on the model name's length."""
    name = header.model_name.encode("ascii")
    length = SMALLEST_HEADER - 1 + len(name)
    body = (
        HEADER_PREFIX.pack(MAGIC, *FORMAT_VERSION, length)
        + HEADER_FIELDS.pack(
            header.weights_digest,
            header.width,
            header.height,
            header.fps.numerator,
            header.fps.denominator,
            header.frame_count,
            header.intra_period,
            _PIXEL_FORMAT_CODES[header.pixel_format],
            header.quality_index,
            len(name),
        )
        + name
    )
    return body + CRC.pack(crc32(body))


def decode_header_length(prefix: bytes) -> int:
    """Check the magic and the major version in the header's first 8 bytes; return the header's length.

    The magic and the version are checked before anything else, so that a file of another
    kind or of a later major version is named as such instead of failing some later check.
    """
    magic, major, minor, length = HEADER_PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise BitstreamError("not a cmfr bitstream")
    if major != FORMAT_VERSION[0]:
        raise BitstreamError(
            f"unsupported format version {major}.{minor}; this reader reads {FORMAT_VERSION[0]}.x"
        )
    if length < SMALLEST_HEADER:
        raise BitstreamError(f"header length {length} is below the smallest possible {SMALLEST_HEADER}")
    return length


def decode_header(data: bytes) -> SequenceHeader:
    """The header from all of its bytes (prefix included), after its CRC matched.

    Bytes between the model name and the CRC are extensions of a later minor version and
    are skipped (they are still covered by the CRC).
    """
    (stored_crc,) = CRC.unpack_from(data, len(data) - CRC.size)
    if crc32(data[: -CRC.size]) != stored_crc:
        raise BitstreamError("header CRC mismatch")
    (
        weights_digest,
        width,
        height,
        fps_numerator,
        fps_denominator,
        frame_count,
        intra_period,
        pixel_format_code,
        quality_index,
        name_length,
    ) = HEADER_FIELDS.unpack_from(data, HEADER_PREFIX.size)
    name_start = HEADER_PREFIX.size + HEADER_FIELDS.size
    if name_start + name_length > len(data) - CRC.size:
        raise BitstreamError(f"model name of {name_length} bytes runs past the end of the header")
    if pixel_format_code not in _PIXEL_FORMAT_NAMES:
        raise BitstreamError(f"unknown pixel format code {pixel_format_code}")
    for term, value in (("numerator", fps_numerator), ("denominator", fps_denominator)):
        if not 1 <= value <= MAX_FPS_TERM:
            raise BitstreamError(f"fps {term} {value} is outside 1..{MAX_FPS_TERM}")
    try:
        return SequenceHeader(
            # Non-ASCII bytes become U+FFFD, which the header's own check then refuses by name.
            model_name=data[name_start : name_start + name_length].decode("ascii", errors="replace"),
            weights_digest=weights_digest,
            width=width,
            height=height,
            fps=Fraction(fps_numerator, fps_denominator),
            frame_count=frame_count,
            quality_index=quality_index,
            intra_period=intra_period,
            pixel_format=_PIXEL_FORMAT_NAMES[pixel_format_code],
        )
    except ValueError as error:
        raise BitstreamError(str(error)) from None


def record_parts(frame_number: int, record: FrameRecord) -> list[bytes]:
    """The record's bytes as a list of pieces (so that large payloads are not copied), CRC last."""
    directory = b"".join(
        SUBSTREAM_NAME_LENGTH.pack(len(name)) + name.encode("ascii") + SUBSTREAM_SIZE.pack(len(data))
        for name, data in record.substreams.items()
    )
    head = (
        RECORD_FIELDS.pack(
            frame_number,
            record.frame_type.value.encode("ascii"),
            record.quality_index,
            len(record.substreams),
            record.payload_bytes,
        )
        + directory
    )
    parts = [head, *record.substreams.values()]
    crc = 0
    for part in parts:
        crc = crc32(part, crc)
    return [*parts, CRC.pack(crc)]


def decode_frame_type(letter: bytes, frame_number: int) -> FrameType:
    """The frame type stored as one ASCII letter; any other letter is damage, not a new type."""
    try:
        return _FRAME_TYPES[letter]
    except KeyError:
        raise BitstreamError(f"unknown frame type {letter!r}", frame_number) from None


def encode_index(entries: Sequence[tuple[int, int]]) -> bytes:
    """The seek index: entry count, (frame number, offset) per I-frame, CRC of both."""
    body = INDEX_COUNT.pack(len(entries)) + b"".join(INDEX_ENTRY.pack(*entry) for entry in entries)
    return body + CRC.pack(crc32(body))


def decode_index(data: bytes) -> list[tuple[int, int]]:
    """The seek index's entries from all of its bytes, whose total the caller matched to the count."""
    (stored_crc,) = CRC.unpack_from(data, len(data) - CRC.size)
    if crc32(data[: -CRC.size]) != stored_crc:
        raise BitstreamError("seek index CRC mismatch")
    entries = data[INDEX_COUNT.size : -CRC.size]
    return [(frame, offset) for frame, offset in INDEX_ENTRY.iter_unpack(entries)]


def index_bytes(entry_count: int) -> int:
    """Size of a seek index with ``entry_count`` entries, to check a stored count against the file."""
    return INDEX_COUNT.size + entry_count * INDEX_ENTRY.size + CRC.size


def encode_trailer(index_offset: int) -> bytes:
    """The fixed-size end of the file, through which a reader finds the seek index."""
    offset = struct.pack("<Q", index_offset)
    return TRAILER.pack(index_offset, crc32(offset), END_MAGIC)


def decode_trailer(data: bytes) -> int:
    """The seek index's offset from the trailer's 16 bytes."""
    index_offset, stored_crc, end_magic = TRAILER.unpack(data)
    if end_magic != END_MAGIC:
        raise BitstreamError("no trailer at the end of the file (truncated, or bytes after the trailer)")
    if crc32(struct.pack("<Q", index_offset)) != stored_crc:
        raise BitstreamError("trailer CRC mismatch")
    return index_offset
