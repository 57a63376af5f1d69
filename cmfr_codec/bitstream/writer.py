"""Streams frame records into a new bitstream file that appears only when it is complete."""

from __future__ import annotations

import dataclasses
import os

from cmfr_codec.atomic import AtomicOutput, PublishOnSuccess
from cmfr_codec.bitstream.layout import encode_header, encode_index, encode_trailer, record_parts
from cmfr_codec.bitstream.records import MAX_FRAME_COUNT, FrameRecord, FrameType, SequenceHeader


class BitstreamWriter(PublishOnSuccess):
    """Writes a header, then one record per :meth:`write_frame`, then the seek index at :meth:`close`.

    The number of frames need not be known in advance: the header is written with the count
    it was given (0 if unknown) and rewritten with the real count at close.  The file is
    written under a temporary name; it appears at ``path`` on :meth:`close` and never
    appears after :meth:`abort`.  As a context manager, leaving the block normally closes and
    leaving it through an exception aborts.
    """

    def __init__(self, path: str | os.PathLike[str], header: SequenceHeader):
        self._output = AtomicOutput(path)
        try:
            self._file = open(self._output.temporary_path, "wb")
            encoded_header = encode_header(header)
            self._file.write(encoded_header)
        except BaseException:
            self._output.abort()
            raise
        self._header = header
        self._name_indices = {name: index for index, name in enumerate(header.substream_names)}
        self._bytes_written = len(encoded_header)
        self._frames_written = 0
        self._index: list[tuple[int, int]] = []
        self._open = True

    @property
    def bytes_written(self) -> int:
        """Bytes in the file so far; after :meth:`close`, the size of the finished file."""
        return self._bytes_written

    def write_frame(self, record: FrameRecord) -> int:
        """Append the next frame's record; return its size in bytes on disk.

        The first frame must be an I-frame: every reader starts decoding there.  Every
        sub-stream must be named in the header's name table.
        """
        if not self._open:
            raise ValueError("write to a closed bitstream writer")
        frame_number = self._frames_written
        if frame_number == 0 and record.frame_type is not FrameType.INTRA:
            raise ValueError("the first frame of a sequence must be an I-frame")
        if frame_number == MAX_FRAME_COUNT:
            raise ValueError(f"a sequence holds at most {MAX_FRAME_COUNT} frames")
        unknown = [name for name in record.substreams if name not in self._name_indices]
        if unknown:
            raise ValueError(
                f"sub-stream {unknown[0]!r} is not in the header's name table {self._header.substream_names!r}"
            )
        parts = record_parts(frame_number, record, self._name_indices)
        try:
            self._file.writelines(parts)
        except BaseException:
            # A record cut short cannot be taken back: the file is lost either way.
            self.abort()
            raise
        if record.frame_type is FrameType.INTRA:
            self._index.append((frame_number, self._bytes_written))
        record_bytes = sum(len(part) for part in parts)
        self._bytes_written += record_bytes
        self._frames_written += 1
        return record_bytes

    def close(self) -> None:
        """Append the seek index and trailer, store the real frame count, and publish the file."""
        if not self._open:
            return
        try:
            tail = encode_index(self._index) + encode_trailer(self._bytes_written)
            self._file.write(tail)
            self._bytes_written += len(tail)
            final_header = dataclasses.replace(self._header, frame_count=self._frames_written)
            self._file.seek(0)
            self._file.write(encode_header(final_header))
            self._file.flush()
            # The rename that publishes the file must not overtake its data on the way to disk.
            os.fsync(self._file.fileno())
            self._file.close()
            self._output.close()
            self._open = False
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop everything written; no file appears at the destination."""
        self._open = False
        self._file.close()
        self._output.abort()

