"""Reads a bitstream record by record, checking every size before it reads what the size announces.

Opening a file checks its header, trailer and seek index; records are checked as they are
read.  A length field is only ever trusted after it was compared with the bytes that remain
in its region of the file, so a damaged or hostile file cannot make the reader allocate more
than the file holds.
"""

from __future__ import annotations

import bisect
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from cmfr_codec.bitstream.layout import (
    CRC,
    DIRECTORY_ENTRY_MAX_BYTES,
    FRAME_NUMBER_MASK,
    HEADER_PREFIX,
    INDEX_COUNT,
    MAGIC,
    RECORD_FIELDS,
    SMALLEST_INDEX,
    SMALLEST_RECORD,
    TRAILER,
    crc32,
    decode_directory,
    decode_header,
    decode_header_length,
    decode_index,
    decode_trailer,
    decode_type_and_quality,
    index_bytes,
    is_intra_type_byte,
    record_crc_start,
)
from cmfr_codec.bitstream.records import FrameRecord, FrameType, RecordInfo, SequenceHeader
from cmfr_codec.errors import BitstreamError, InputError

_CRC_CHUNK_BYTES = 1 << 20


class _Cursor:
    """Reads forward through one region of the file and refuses to read past the region's end."""

    def __init__(self, file: BinaryIO, position: int, end: int, frame: int | None):
        self.file = file
        self.position = position
        self.end = end
        self.frame = frame

    @property
    def remaining(self) -> int:
        return self.end - self.position

    def take(self, size: int, what: str) -> bytes:
        if size > self.remaining:
            raise BitstreamError(f"truncated {what}: needs {size} bytes, {self.remaining} remain", self.frame)
        # Seek every time: several iterators over one reader may take turns on the same file.
        self.file.seek(self.position)
        data = self.file.read(size)
        if len(data) != size:
            raise BitstreamError(f"truncated {what}: the file ended early", self.frame)
        self.position += size
        return data

    def unpack(self, layout: struct.Struct, what: str) -> tuple:
        return layout.unpack(self.take(layout.size, what))

    def peek(self, size: int) -> bytes:
        """Up to ``size`` of the next bytes, fewer where the region ends, without moving on."""
        self.file.seek(self.position)
        return self.file.read(min(size, self.remaining))

    def skip(self, size: int, what: str) -> None:
        if size > self.remaining:
            raise BitstreamError(f"truncated {what}: needs {size} bytes, {self.remaining} remain", self.frame)
        self.position += size

    def crc_of(self, size: int, previous: int, what: str) -> int:
        """CRC of the next ``size`` bytes, read in bounded chunks instead of all at once."""
        crc = previous
        while size > 0:
            chunk = self.take(min(size, _CRC_CHUNK_BYTES), what)
            crc = crc32(chunk, crc)
            size -= len(chunk)
        return crc


@dataclass(frozen=True)
class _RecordLayout:
    """Where one record's parts lie, learned from its fixed fields and directory alone."""

    frame_number: int
    frame_type: FrameType
    quality_index: int
    offset: int
    head_crc: int  # the CRC over the frame number, fixed fields and directory: all it covers before the payload
    substream_sizes: dict[str, int]
    payload_offset: int
    payload_length: int
    stored_crc: int

    @property
    def end(self) -> int:
        return self.payload_offset + self.payload_length + CRC.size


class BitstreamReader:
    """Opens a bitstream, validating its header, trailer and seek index; reads records on demand.

    ``header_bytes`` is the header's size on disk; ``index`` lists ``(frame_number, offset)``
    for every I-frame, in frame order.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        try:
            self._file: BinaryIO = open(self.path, "rb")
        except FileNotFoundError:
            raise InputError(f"no such file: {self.path}") from None
        except OSError as error:
            raise InputError(f"cannot read {self.path}: {error.strerror}") from None
        try:
            self.file_size = os.fstat(self._file.fileno()).st_size
            self.header, self.header_bytes = self._read_header()
            self._records_end = self._read_trailer()
            self.index = self._read_index()
            self._index_offsets = dict(self.index)
            self._check_index_targets()
        except BaseException:
            self._file.close()
            raise

    def __iter__(self) -> Iterator[FrameRecord]:
        """Every record in order, each checked (structure and CRC) before it is yielded."""
        for layout in self._walk(0, self.header_bytes):
            yield self._read_record(layout)

    def frames_from(self, frame_number: int) -> Iterator[tuple[int, FrameRecord]]:
        """``(frame number, record)`` from the nearest I-frame at or before ``frame_number`` to the end.

        A frame outside the sequence is refused here, when asked for, not at the first record.
        """
        if not 0 <= frame_number < self.header.frame_count:
            raise InputError(
                f"frame {frame_number} does not exist: the sequence has {self.header.frame_count} frames"
            )
        position = bisect.bisect_right(self.index, (frame_number, self.file_size)) - 1
        return self._records_from(*self.index[position])

    def _records_from(self, frame_number: int, offset: int) -> Iterator[tuple[int, FrameRecord]]:
        for layout in self._walk(frame_number, offset):
            yield layout.frame_number, self._read_record(layout)

    def scan(self) -> Iterator[RecordInfo]:
        """Every record's description, with its CRC status reported instead of raised.

        Structural damage (a size that does not fit, an unknown frame type) still raises,
        because the records after it cannot be found.
        """
        for layout in self._walk(0, self.header_bytes):
            cursor = _Cursor(self._file, layout.payload_offset, self._records_end, layout.frame_number)
            crc = cursor.crc_of(layout.payload_length, layout.head_crc, "payload")
            yield RecordInfo(
                frame_number=layout.frame_number,
                frame_type=layout.frame_type,
                quality_index=layout.quality_index,
                offset=layout.offset,
                record_bytes=layout.end - layout.offset,
                substream_sizes=layout.substream_sizes,
                crc_ok=crc == layout.stored_crc,
            )

    def verify(self) -> None:
        """Read the whole file; raise ``BitstreamError`` at the first fault."""
        for _ in self:
            pass

    def overhead_bytes(self) -> int:
        """Bytes that are not sub-stream payload: header, record fields, directories, CRCs, index, trailer."""
        payload = sum(layout.payload_length for layout in self._walk(0, self.header_bytes))
        return self.file_size - payload

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> BitstreamReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _read_header(self) -> tuple[SequenceHeader, int]:
        cursor = _Cursor(self._file, 0, self.file_size, None)
        start = cursor.take(min(self.file_size, HEADER_PREFIX.size), "header")
        if not start.startswith(MAGIC):
            raise BitstreamError("not a cmfr bitstream")
        if len(start) < HEADER_PREFIX.size:
            raise BitstreamError(f"truncated header: the file has only {self.file_size} bytes")
        length = decode_header_length(start)
        rest = cursor.take(length - HEADER_PREFIX.size, "header")
        return decode_header(start + rest), length

    def _read_trailer(self) -> int:
        """The seek index's offset, which is also where the frame records end."""
        trailer_offset = self.file_size - TRAILER.size
        if trailer_offset - SMALLEST_INDEX < self.header_bytes:
            raise BitstreamError("truncated: no room for the seek index and trailer after the header")
        cursor = _Cursor(self._file, trailer_offset, self.file_size, None)
        index_offset = decode_trailer(cursor.take(TRAILER.size, "trailer"))
        if not self.header_bytes <= index_offset <= trailer_offset - SMALLEST_INDEX:
            raise BitstreamError(f"seek index offset {index_offset} lies outside the frame data")
        frame_bytes = index_offset - self.header_bytes
        if self.header.frame_count * SMALLEST_RECORD > frame_bytes:
            raise BitstreamError(
                f"the header announces {self.header.frame_count} frames, but {frame_bytes} bytes of frame "
                f"records hold at most {frame_bytes // SMALLEST_RECORD}"
            )
        return index_offset

    def _read_index(self) -> list[tuple[int, int]]:
        trailer_offset = self.file_size - TRAILER.size
        cursor = _Cursor(self._file, self._records_end, trailer_offset, None)
        count_bytes = cursor.take(INDEX_COUNT.size, "seek index")
        (count,) = INDEX_COUNT.unpack(count_bytes)
        if count > self.header.frame_count:
            raise BitstreamError(
                f"seek index lists {count} I-frames, more than the header's {self.header.frame_count} frames"
            )
        if index_bytes(count) != trailer_offset - self._records_end:
            raise BitstreamError(
                f"seek index of {count} entries does not fill the "
                f"{trailer_offset - self._records_end} bytes before the trailer"
            )
        entries = decode_index(count_bytes + cursor.take(cursor.remaining, "seek index"))
        self._check_index(entries)
        return entries

    def _check_index(self, entries: list[tuple[int, int]]) -> None:
        """Entries must start at frame 0, increase, and leave room for every record between them."""
        frame_count = self.header.frame_count
        if frame_count == 0:
            if self._records_end != self.header_bytes:
                raise BitstreamError("the header announces no frames, but records follow it")
            return
        if not entries or entries[0] != (0, self.header_bytes):
            raise BitstreamError("the seek index does not start with frame 0 at the first record")
        bounds = [*entries, (frame_count, self._records_end)]
        for (frame, offset), (next_frame, next_offset) in pairwise(bounds):
            if next_frame <= frame:
                raise BitstreamError(
                    f"seek index entry for frame {next_frame} is out of order or beyond the {frame_count} frames"
                )
            if next_offset - offset < SMALLEST_RECORD * (next_frame - frame):
                raise BitstreamError(
                    f"frames {frame}..{next_frame - 1} do not fit between offsets {offset} and {next_offset}"
                )

    def _check_index_targets(self) -> None:
        """Each index entry must point at the record of the frame it names, and that record must be intra."""
        for frame_number, offset in self.index:
            cursor = _Cursor(self._file, offset, self._records_end, None)
            low_byte, type_and_quality, _ = cursor.unpack(RECORD_FIELDS, "record")
            if low_byte != frame_number & FRAME_NUMBER_MASK or not is_intra_type_byte(type_and_quality):
                raise BitstreamError(
                    f"seek index entry for frame {frame_number} does not point at its I-frame record"
                )

    def _walk(self, frame_number: int, offset: int) -> Iterator[_RecordLayout]:
        """The layouts of the records from ``frame_number`` (at ``offset``) to the last one.

        Also checks that every I-frame, and only I-frames, are in the seek index at their
        own offsets, and that the records end exactly where the index begins.
        """
        frame_count = self.header.frame_count
        for number in range(frame_number, frame_count):
            layout = self._read_layout(number, offset)
            expected = offset if layout.frame_type is FrameType.INTRA else None
            if self._index_offsets.get(number) != expected:
                raise BitstreamError(
                    f"{layout.frame_type.name.lower()} record disagrees with the seek index", number
                )
            yield layout
            offset = layout.end
        if offset != self._records_end:
            raise BitstreamError(
                f"{self._records_end - offset} bytes follow the last of the header's {frame_count} frame records"
            )

    def _read_layout(self, frame_number: int, offset: int) -> _RecordLayout:
        cursor = _Cursor(self._file, offset, self._records_end, frame_number)
        if cursor.remaining == 0:
            raise BitstreamError(
                f"record missing: the records end before the header's {self.header.frame_count} frames",
                frame_number,
            )
        fields = cursor.take(RECORD_FIELDS.size, "record header")
        low_byte, type_and_quality, substream_count = RECORD_FIELDS.unpack(fields)
        if low_byte != frame_number & FRAME_NUMBER_MASK:
            raise BitstreamError(
                f"record carries frame number {low_byte} modulo 256, expected {frame_number & FRAME_NUMBER_MASK}",
                frame_number,
            )
        frame_type, quality_index = decode_type_and_quality(type_and_quality, frame_number)
        names = self.header.substream_names
        if substream_count > len(names):
            raise BitstreamError(
                f"{substream_count} sub-streams, the header's name table has {len(names)}", frame_number
            )
        window = cursor.peek(substream_count * DIRECTORY_ENTRY_MAX_BYTES)
        sizes, directory_length = decode_directory(window, substream_count, names, frame_number)
        cursor.skip(directory_length, "sub-stream directory")
        payload_length = sum(sizes.values())
        if payload_length + CRC.size > cursor.remaining:
            raise BitstreamError(
                f"sub-streams of {payload_length} bytes run past the end of the frame data", frame_number
            )
        payload_offset = cursor.position
        cursor.skip(payload_length, "payload")
        (stored_crc,) = cursor.unpack(CRC, "record CRC")
        return _RecordLayout(
            frame_number=frame_number,
            frame_type=frame_type,
            quality_index=quality_index,
            offset=offset,
            head_crc=crc32(fields + window[:directory_length], record_crc_start(frame_number)),
            substream_sizes=sizes,
            payload_offset=payload_offset,
            payload_length=payload_length,
            stored_crc=stored_crc,
        )

    def _read_record(self, layout: _RecordLayout) -> FrameRecord:
        cursor = _Cursor(self._file, layout.payload_offset, self._records_end, layout.frame_number)
        payload = cursor.take(layout.payload_length, "payload")
        if crc32(payload, layout.head_crc) != layout.stored_crc:
            raise BitstreamError("CRC mismatch", layout.frame_number)
        substreams = {}
        start = 0
        for name, size in layout.substream_sizes.items():
            substreams[name] = payload[start : start + size]
            start += size
        return FrameRecord(layout.frame_type, layout.quality_index, substreams)
