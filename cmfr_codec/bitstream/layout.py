"""The byte layout of a cmfr bitstream, format version 2.0.

docs/bitstream.md is the specification; this module is its only translation into bytes.
Everything is little-endian.  The file is::

    header | record 0 | record 1 | ... | record N-1 | seek index | trailer (16 bytes)

Encoding functions take validated dataclasses and cannot fail; ``decode_*`` functions take
bytes whose lengths the caller has already checked and raise ``BitstreamError`` on anything
else that is wrong with them.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence
from fractions import Fraction

from cmfr_codec.bitstream.records import (
    MAX_FPS_TERM,
    MAX_PAYLOAD_BYTES,
    PIXEL_FORMATS,
    FrameRecord,
    FrameType,
    SequenceHeader,
)
from cmfr_codec.errors import BitstreamError

FORMAT_VERSION: tuple[int, int] = (3, 0)
MAGIC = b"CMFR"
END_MAGIC = b"CMFE"

# magic, major version, minor version, header length (all header bytes, CRC included)
HEADER_PREFIX = struct.Struct("<4sBBH")
# weights digest, width, height, fps numerator, fps denominator, frame count, intra period,
# pixel format code, quality index, model name length
HEADER_FIELDS = struct.Struct("<32sIIIIIIBBB")
CRC = struct.Struct("<I")
# a one-character model name and an empty sub-stream name table
SMALLEST_HEADER = HEADER_PREFIX.size + HEADER_FIELDS.size + 1 + 1 + CRC.size

# low byte of the frame number, frame type and quality index, sub-stream count
RECORD_FIELDS = struct.Struct("<BBB")
SMALLEST_RECORD = RECORD_FIELDS.size + CRC.size
# The full frame number is not stored but starts the CRC, so a record found at the wrong
# position fails its CRC even where the low byte happens to match.
FRAME_NUMBER = struct.Struct("<I")
FRAME_NUMBER_MASK = 0xFF
QUALITY_BITS = 6
# Codes start at 1 so that a zeroed byte never reads as a valid frame type.
_FRAME_TYPE_CODES = {FrameType.INTRA: 1, FrameType.PREDICTED: 2}
_FRAME_TYPES = {code: frame_type for frame_type, code in _FRAME_TYPE_CODES.items()}

# Sub-stream sizes are unsigned LEB128: 7 bits per byte, low bits first, high bit set on
# every byte but the last.  Five bytes hold any size up to MAX_PAYLOAD_BYTES.
VARINT_MAX_BYTES = 5
DIRECTORY_ENTRY_MAX_BYTES = 1 + VARINT_MAX_BYTES

INDEX_COUNT = struct.Struct("<I")
# frame number, byte offset of its record from the start of the file
INDEX_ENTRY = struct.Struct("<IQ")
SMALLEST_INDEX = INDEX_COUNT.size + CRC.size

# index offset, CRC of the index offset, end magic
TRAILER = struct.Struct("<QI4s")

# Codes start at 1 so that a zeroed field never reads as a valid format.
_PIXEL_FORMAT_CODES = {name: code for code, name in enumerate(PIXEL_FORMATS, start=1)}
_PIXEL_FORMAT_NAMES = {code: name for name, code in _PIXEL_FORMAT_CODES.items()}


def crc32(data: bytes, previous: int = 0) -> int:
    """CRC-32/ISO-HDLC (the zlib, PNG and Ethernet CRC), continued from ``previous``."""
    return zlib.crc32(data, previous)


def record_crc_start(frame_number: int) -> int:
    """The CRC of the frame number's 4 bytes, from which a record's CRC continues."""
    return crc32(FRAME_NUMBER.pack(frame_number))


def encode_header(header: SequenceHeader) -> bytes:
    """The header's bytes; their number depends only on the model name and the name table."""
    name = header.model_name.encode("ascii")
    table = bytes([len(header.substream_names)]) + b"".join(
        bytes([len(substream)]) + substream.encode("ascii") for substream in header.substream_names
    )
    length = HEADER_PREFIX.size + HEADER_FIELDS.size + len(name) + len(table) + CRC.size
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
        + table
    )
    return body + CRC.pack(crc32(body))


def decode_header_length(prefix: bytes) -> int:
    """Check the magic and the major version in the header's first 8 bytes; return the header's length.

    The magic and the version are checked before anything else, so that a file of another
    kind or of another major version is named as such instead of failing some later check.
    """
    magic, major, minor, length = HEADER_PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise BitstreamError("not a cmfr bitstream")
    if major < FORMAT_VERSION[0]:
        raise BitstreamError(
            f"format version {major}.{minor} was written by an older cmfr, whose weights this one "
            f"does not have: re-encode the source video"
        )
    if major != FORMAT_VERSION[0]:
        raise BitstreamError(
            f"unsupported format version {major}.{minor}; this reader reads {FORMAT_VERSION[0]}.x"
        )
    if length < SMALLEST_HEADER:
        raise BitstreamError(f"header length {length} is below the smallest possible {SMALLEST_HEADER}")
    return length


def _ascii(data: bytes) -> str:
    # Non-ASCII bytes become U+FFFD, which the header's own checks then refuse by name.
    return data.decode("ascii", errors="replace")


def decode_header(data: bytes) -> SequenceHeader:
    """The header from all of its bytes (prefix included), after its CRC matched.

    Bytes between the name table and the CRC are extensions of a later minor version and
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
    if pixel_format_code not in _PIXEL_FORMAT_NAMES:
        raise BitstreamError(f"unknown pixel format code {pixel_format_code}")
    for term, value in (("numerator", fps_numerator), ("denominator", fps_denominator)):
        if not 1 <= value <= MAX_FPS_TERM:
            raise BitstreamError(f"fps {term} {value} is outside 1..{MAX_FPS_TERM}")
    end = len(data) - CRC.size
    position = HEADER_PREFIX.size + HEADER_FIELDS.size
    if position + name_length + 1 > end:
        raise BitstreamError(f"model name of {name_length} bytes runs past the end of the header")
    model_name = _ascii(data[position : position + name_length])
    position += name_length
    table_size = data[position]
    position += 1
    substream_names = []
    for _ in range(table_size):
        if position == end or position + 1 + data[position] > end:
            raise BitstreamError("sub-stream name table runs past the end of the header")
        length = data[position]
        substream_names.append(_ascii(data[position + 1 : position + 1 + length]))
        position += 1 + length
    try:
        return SequenceHeader(
            model_name=model_name,
            weights_digest=weights_digest,
            width=width,
            height=height,
            fps=Fraction(fps_numerator, fps_denominator),
            frame_count=frame_count,
            quality_index=quality_index,
            intra_period=intra_period,
            substream_names=tuple(substream_names),
            pixel_format=_PIXEL_FORMAT_NAMES[pixel_format_code],
        )
    except ValueError as error:
        raise BitstreamError(str(error)) from None


def encode_varint(value: int) -> bytes:
    """``value`` (0..MAX_PAYLOAD_BYTES) as unsigned LEB128, in as few bytes as possible."""
    encoded = bytearray()
    while value > 0x7F:
        encoded.append(value & 0x7F | 0x80)
        value >>= 7
    encoded.append(value)
    return bytes(encoded)


def decode_varint(data: bytes, position: int, frame_number: int) -> tuple[int, int]:
    """The unsigned LEB128 at ``data[position:]`` and the position after it.

    Only the shortest encoding of a value up to MAX_PAYLOAD_BYTES is accepted, so every
    size has exactly one byte form.
    """
    value = 0
    for length in range(VARINT_MAX_BYTES):
        if position + length == len(data):
            raise BitstreamError("truncated sub-stream directory", frame_number)
        byte = data[position + length]
        value |= (byte & 0x7F) << (7 * length)
        if byte & 0x80 == 0:
            if byte == 0 and length > 0:
                raise BitstreamError("over-long encoding of a sub-stream size", frame_number)
            if value > MAX_PAYLOAD_BYTES:
                raise BitstreamError(f"sub-stream size {value} exceeds {MAX_PAYLOAD_BYTES}", frame_number)
            return value, position + length + 1
    raise BitstreamError(f"sub-stream size longer than {VARINT_MAX_BYTES} bytes", frame_number)


def record_parts(frame_number: int, record: FrameRecord, name_indices: Mapping[str, int]) -> list[bytes]:
    """The record's bytes as a list of pieces (so that large payloads are not copied), CRC last.

    ``name_indices`` maps each name of the header's sub-stream name table to its position.
    """
    fields = RECORD_FIELDS.pack(
        frame_number & FRAME_NUMBER_MASK,
        _FRAME_TYPE_CODES[record.frame_type] << QUALITY_BITS | record.quality_index,
        len(record.substreams),
    )
    directory = b"".join(
        bytes([name_indices[name]]) + encode_varint(len(data)) for name, data in record.substreams.items()
    )
    parts = [fields + directory, *record.substreams.values()]
    crc = record_crc_start(frame_number)
    for part in parts:
        crc = crc32(part, crc)
    return [*parts, CRC.pack(crc)]


def decode_type_and_quality(byte: int, frame_number: int) -> tuple[FrameType, int]:
    """The frame type (top 2 bits) and quality index (low 6 bits) stored in one byte."""
    code = byte >> QUALITY_BITS
    if code not in _FRAME_TYPES:
        raise BitstreamError(f"unknown frame type code {code}", frame_number)
    return _FRAME_TYPES[code], byte & ((1 << QUALITY_BITS) - 1)


def is_intra_type_byte(byte: int) -> bool:
    """Whether a record's type-and-quality byte says I-frame (checked for index targets)."""
    return byte >> QUALITY_BITS == _FRAME_TYPE_CODES[FrameType.INTRA]


def decode_directory(
    data: bytes, count: int, names: Sequence[str], frame_number: int
) -> tuple[dict[str, int], int]:
    """``count`` directory entries from the start of ``data``: sizes by name, and the bytes they took.

    ``data`` holds at most ``count * DIRECTORY_ENTRY_MAX_BYTES`` bytes, fewer where the frame
    data ends sooner; an entry that runs past its end is truncated.
    """
    sizes: dict[str, int] = {}
    position = 0
    for _ in range(count):
        if position == len(data):
            raise BitstreamError("truncated sub-stream directory", frame_number)
        index = data[position]
        if index >= len(names):
            raise BitstreamError(
                f"sub-stream name index {index} is outside the header's table of {len(names)} names", frame_number
            )
        name = names[index]
        if name in sizes:
            raise BitstreamError(f"sub-stream {name!r} appears twice", frame_number)
        sizes[name], position = decode_varint(data, position + 1, frame_number)
    return sizes, position


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
