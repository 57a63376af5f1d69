"""A damaged or hostile bitstream fails with BitstreamError, names where, and never allocates what it claims.

Offsets used below are the ones docs/bitstream.md specifies: header fields at fixed offsets
(width at 40, frame count at 56, ...), the trailer as the last 16 bytes, a record's frame
type and quality in its second byte and its sub-stream directory from its fourth byte.
"""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmfr_codec.bitstream import BitstreamReader, BitstreamWriter, FrameRecord, FrameType, SequenceHeader
from cmfr_codec.errors import BitstreamError

HEADER = SequenceHeader("cmfr-s", bytes(range(32)), 64, 48, Fraction(25), 0, 40, 3, ("z", "y"))
NAME_TABLE_OFFSET = 67 + len("cmfr-s")

FRAME_TYPES = "IPPIP"


def sample_records() -> list[FrameRecord]:
    return [
        FrameRecord(FrameType(letter), 20 + number, {"z": bytes([number]) * 3, "y": bytes(range(number, 40))})
        for number, letter in enumerate(FRAME_TYPES)
    ]


def write_sample(path: Path, records: list[FrameRecord] | None = None) -> bytes:
    with BitstreamWriter(path, HEADER) as writer:
        for record in sample_records() if records is None else records:
            writer.write_frame(record)
    return path.read_bytes()


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    write_sample(tmp_path / "sample.bin")
    return tmp_path / "sample.bin"


def record_extent(path: Path, frame_number: int) -> tuple[int, int]:
    """(offset, size) of one record in an undamaged file."""
    with BitstreamReader(path) as reader:
        info = list(reader.scan())[frame_number]
    return info.offset, info.record_bytes


def with_header_field(data: bytes, offset: int, layout: str, value: int) -> bytes:
    """``data`` with one header field set and the header CRC recomputed, so only the value is wrong."""
    header_length = struct.unpack_from("<H", data, 6)[0]
    patched = bytearray(data)
    struct.pack_into(layout, patched, offset, value)
    struct.pack_into("<I", patched, header_length - 4, zlib.crc32(patched[: header_length - 4]))
    return bytes(patched)


def with_record(data: bytes, extent: tuple[int, int], frame_number: int, body: bytes) -> bytes:
    """``data`` with one record's bytes before its CRC replaced by ``body`` and a valid CRC appended.

    Only the replaced record is wrong: its CRC, which starts from the frame number, matches,
    and the seek index and trailer are rewritten for the records' new offsets.
    """
    offset, size = extent
    crc = zlib.crc32(body, zlib.crc32(struct.pack("<I", frame_number)))
    shift = len(body) + 4 - size
    index_offset = struct.unpack_from("<Q", data, len(data) - 16)[0]
    entries = [
        (frame, entry_offset + shift if entry_offset > offset else entry_offset)
        for frame, entry_offset in struct.iter_unpack("<IQ", data[index_offset + 4 : -16 - 4])
    ]
    index = struct.pack("<I", len(entries)) + b"".join(struct.pack("<IQ", *entry) for entry in entries)
    new_index_offset = struct.pack("<Q", index_offset + shift)
    return (
        data[:offset]
        + body
        + struct.pack("<I", crc)
        + data[offset + size : index_offset]
        + index
        + struct.pack("<I", zlib.crc32(index))
        + new_index_offset
        + struct.pack("<I", zlib.crc32(new_index_offset))
        + b"CMFE"
    )


def with_record_byte(data: bytes, extent: tuple[int, int], frame_number: int, position: int, value: int) -> bytes:
    """``data`` with one byte of a record set and that record's CRC recomputed."""
    offset, size = extent
    body = bytearray(data[offset : offset + size - 4])
    body[position] = value
    return with_record(data, extent, frame_number, bytes(body))


def read_everything(path: Path) -> list[FrameRecord]:
    """Every way of reading a file, so that a fault any of them mishandles shows up."""
    with BitstreamReader(path) as reader:
        list(reader.scan())
        reader.overhead_bytes()
        if reader.header.frame_count:
            list(reader.frames_from(reader.header.frame_count - 1))
        return list(reader)


def rewrite(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("content", [b"", b"\x00", b"RIFF" + bytes(100), bytes(range(256)) * 4])
def test_a_file_that_is_not_a_bitstream_is_named_as_such(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(BitstreamError, match="not a cmfr bitstream") as failure:
        BitstreamReader(rewrite(tmp_path / "x.bin", content))
    assert failure.value.frame is None


def test_a_bitstream_with_a_changed_magic_is_not_a_bitstream(sample: Path) -> None:
    data = b"CMFX" + sample.read_bytes()[4:]
    with pytest.raises(BitstreamError, match="not a cmfr bitstream"):
        BitstreamReader(rewrite(sample, data))


def test_an_unsupported_major_version_is_named(sample: Path) -> None:
    data = bytearray(sample.read_bytes())
    data[4] = 4
    with pytest.raises(BitstreamError, match=r"unsupported format version 4\.0; this reader reads 3\.x"):
        BitstreamReader(rewrite(sample, bytes(data)))


@pytest.mark.parametrize("major", [1, 2])
def test_a_file_of_an_older_major_version_is_refused_as_made_by_an_older_cmfr(sample: Path, major: int) -> None:
    data = bytearray(sample.read_bytes())
    data[4] = major
    with pytest.raises(BitstreamError, match=rf"{major}\.0 was written by an older cmfr.*re-encode") as failure:
        BitstreamReader(rewrite(sample, bytes(data)))
    assert failure.value.frame is None


@pytest.mark.parametrize(
    "where",
    [
        "in the header prefix",
        "in the model name",
        "in a record header",
        "in a payload",
        "in the index",
        "in the trailer",
    ],
)
def test_truncation_anywhere_is_a_bitstream_error(sample: Path, where: str) -> None:
    data = sample.read_bytes()
    record_offset, record_size = record_extent(sample, 1)
    cut = {
        "in the header prefix": 6,
        "in the model name": 69,
        "in a record header": record_offset + 2,
        "in a payload": record_offset + record_size - 10,
        "in the index": len(data) - 16 - 6,
        "in the trailer": len(data) - 3,
    }[where]
    with pytest.raises(BitstreamError):
        read_everything(rewrite(sample, data[:cut]))


def test_bytes_after_the_trailer_are_refused(sample: Path) -> None:
    with pytest.raises(BitstreamError, match="trailer"):
        BitstreamReader(rewrite(sample, sample.read_bytes() + b"\x00"))


def test_a_flipped_header_byte_fails_the_header_crc(sample: Path) -> None:
    data = bytearray(sample.read_bytes())
    data[41] ^= 0x01  # width
    with pytest.raises(BitstreamError, match="header CRC") as failure:
        BitstreamReader(rewrite(sample, bytes(data)))
    assert failure.value.frame is None


def flip_payload_byte(path: Path, frame_number: int) -> Path:
    offset, size = record_extent(path, frame_number)
    data = bytearray(path.read_bytes())
    data[offset + size - 6] ^= 0x40
    return rewrite(path, bytes(data))


def test_a_flipped_payload_byte_fails_iteration_at_that_frame(sample: Path) -> None:
    with BitstreamReader(flip_payload_byte(sample, 2)) as reader:
        records = iter(reader)
        assert [next(records), next(records)] == sample_records()[:2]
        with pytest.raises(BitstreamError, match="CRC mismatch") as failure:
            next(records)
    assert failure.value.frame == 2


def test_a_flipped_payload_byte_fails_verify_naming_the_frame(sample: Path) -> None:
    with BitstreamReader(flip_payload_byte(sample, 2)) as reader, pytest.raises(BitstreamError) as failure:
        reader.verify()
    assert failure.value.frame == 2


def test_scan_reports_a_flipped_payload_byte_for_that_frame_only(sample: Path) -> None:
    with BitstreamReader(flip_payload_byte(sample, 2)) as reader:
        assert [info.crc_ok for info in reader.scan()] == [True, True, False, True, True]


def test_an_absurd_substream_size_fails_without_a_large_allocation(sample: Path) -> None:
    data = sample.read_bytes()
    offset, size = extent = record_extent(sample, 1)
    record = data[offset : offset + size - 4]
    # z (index 0) keeps its 3 bytes, y (index 1) claims 2**31 - 1: the 5-byte varint ff ff ff ff 07.
    body = record[:3] + bytes([0, 3, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x07]) + record[7:]
    with BitstreamReader(rewrite(sample, with_record(data, extent, 1, body))) as reader:
        tracemalloc.start()
        try:
            with pytest.raises(BitstreamError, match="run past the end") as failure:
                reader.verify()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert failure.value.frame == 1
    assert peak < 1 << 20


@pytest.mark.parametrize(
    ("size_field", "message"),
    [
        (bytes([0x83, 0x00]), "over-long"),
        (bytes([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), "longer than 5 bytes"),
        (bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x1F]), "exceeds"),
    ],
)
def test_a_substream_size_not_in_its_one_shortest_form_is_refused(
    sample: Path, size_field: bytes, message: str
) -> None:
    data = sample.read_bytes()
    offset, size = extent = record_extent(sample, 1)
    record = data[offset : offset + size - 4]
    body = record[:3] + bytes([0]) + size_field + record[5:]
    with BitstreamReader(rewrite(sample, with_record(data, extent, 1, body))) as reader:
        with pytest.raises(BitstreamError, match=message) as failure:
            reader.verify()
    assert failure.value.frame == 1


def test_an_absurd_index_entry_count_fails_without_a_large_allocation(sample: Path) -> None:
    data = bytearray(sample.read_bytes())
    index_offset = struct.unpack_from("<Q", data, len(data) - 16)[0]
    struct.pack_into("<I", data, index_offset, 2**32 - 1)
    tracemalloc.start()
    try:
        with pytest.raises(BitstreamError, match="seek index"):
            BitstreamReader(rewrite(sample, bytes(data)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize(
    ("offset", "layout", "value", "message"),
    [
        (40, "<I", 0, "width 0"),
        (40, "<I", 100_000, "width 100000"),
        (44, "<I", 16385, "height"),
        (48, "<I", 0, "fps numerator"),
        (52, "<I", 2**31, "fps denominator"),
        (56, "<I", 10_000_001, "frame count"),
        (64, "<B", 9, "pixel format"),
        (65, "<B", 64, "quality index"),
        (66, "<B", 200, "model name"),
        (67, "<B", 0xE9, "model name"),
        (NAME_TABLE_OFFSET, "<B", 3, "name table"),
        (NAME_TABLE_OFFSET + 3, "<B", 0, "sub-stream name ''"),
        (NAME_TABLE_OFFSET + 4, "<B", ord("z"), "repeat"),
        (NAME_TABLE_OFFSET + 4, "<B", ord("-"), "sub-stream name '-'"),
    ],
)
def test_header_values_outside_their_bounds_are_refused(
    sample: Path, offset: int, layout: str, value: int, message: str
) -> None:
    data = with_header_field(sample.read_bytes(), offset, layout, value)
    with pytest.raises(BitstreamError, match=message) as failure:
        BitstreamReader(rewrite(sample, data))
    assert failure.value.frame is None


@pytest.mark.parametrize("frame_count", [4, 6, 1000])
def test_a_header_frame_count_other_than_the_records_is_refused(sample: Path, frame_count: int) -> None:
    with pytest.raises(BitstreamError):
        read_everything(rewrite(sample, with_header_field(sample.read_bytes(), 56, "<I", frame_count)))


def test_more_frames_than_the_file_can_hold_are_refused_on_opening(sample: Path) -> None:
    data = with_header_field(sample.read_bytes(), 56, "<I", 10_000_000)
    with pytest.raises(BitstreamError, match="hold at most") as failure:
        BitstreamReader(rewrite(sample, data))
    assert failure.value.frame is None


@pytest.mark.parametrize("code", [0, 3])
def test_an_unknown_frame_type_is_refused_naming_the_frame(sample: Path, code: int) -> None:
    data = with_record_byte(sample.read_bytes(), record_extent(sample, 1), 1, 1, code << 6 | 21)
    with (
        BitstreamReader(rewrite(sample, data)) as reader,
        pytest.raises(BitstreamError, match="frame type") as failure,
    ):
        list(reader.scan())
    assert failure.value.frame == 1


def test_a_p_frame_record_turned_intra_disagrees_with_the_index(sample: Path) -> None:
    data = with_record_byte(sample.read_bytes(), record_extent(sample, 1), 1, 1, 1 << 6 | 21)
    with (
        BitstreamReader(rewrite(sample, data)) as reader,
        pytest.raises(BitstreamError, match="seek index") as failure,
    ):
        reader.verify()
    assert failure.value.frame == 1


def test_a_record_with_another_frame_number_is_refused_naming_the_frame(sample: Path) -> None:
    data = with_record_byte(sample.read_bytes(), record_extent(sample, 2), 2, 0, 1)
    with BitstreamReader(rewrite(sample, data)) as reader, pytest.raises(BitstreamError, match="frame number") as failure:
        reader.verify()
    assert failure.value.frame == 2


def test_a_record_256_frames_away_fails_its_crc_although_its_low_byte_matches(tmp_path: Path) -> None:
    records = [FrameRecord(FrameType.INTRA if number == 0 else FrameType.PREDICTED, 20, {"y": bytes([number % 256]) * 4})
               for number in range(258)]
    path = tmp_path / "long.bin"
    data = write_sample(path, records)
    first, last = record_extent(path, 1), record_extent(path, 257)
    moved = data[: last[0]] + data[first[0] : first[0] + first[1]] + data[last[0] + last[1] :]
    with BitstreamReader(rewrite(path, moved)) as reader, pytest.raises(BitstreamError, match="CRC") as failure:
        reader.verify()
    assert failure.value.frame == 257


def test_a_substream_name_index_outside_the_name_table_is_refused(sample: Path) -> None:
    data = with_record_byte(sample.read_bytes(), record_extent(sample, 1), 1, 3, 2)
    with BitstreamReader(rewrite(sample, data)) as reader, pytest.raises(BitstreamError, match="name index 2"):
        reader.verify()


def test_more_substreams_than_the_name_table_holds_are_refused(sample: Path) -> None:
    data = with_record_byte(sample.read_bytes(), record_extent(sample, 1), 1, 2, 3)
    with BitstreamReader(rewrite(sample, data)) as reader, pytest.raises(BitstreamError, match="name table has 2"):
        reader.verify()


def test_an_index_entry_that_does_not_point_at_an_i_frame_is_refused(sample: Path) -> None:
    data = bytearray(sample.read_bytes())
    index_offset = struct.unpack_from("<Q", data, len(data) - 16)[0]
    p_frame_offset, _ = record_extent(sample, 2)
    struct.pack_into("<IQ", data, index_offset + 4 + 12, 2, p_frame_offset)
    struct.pack_into(
        "<I", data, index_offset + 4 + 24, zlib.crc32(data[index_offset : index_offset + 4 + 24])
    )
    with pytest.raises(BitstreamError, match="seek index") as failure:
        BitstreamReader(rewrite(sample, bytes(data)))
    assert failure.value.frame is None


def test_duplicate_substream_names_are_refused(sample: Path) -> None:
    data = sample.read_bytes()
    extent = record_extent(sample, 0)
    damaged = with_record_byte(data, extent, 0, 5, 0)  # the second entry names z (index 0) again
    with BitstreamReader(rewrite(sample, damaged)) as reader, pytest.raises(BitstreamError, match="twice"):
        reader.verify()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_sample(tmp_path_factory.mktemp("pristine") / "sample.bin")


@st.composite
def damaged_copies(draw: st.DrawFn, original: bytes) -> bytes:
    """The original with one bit flipped, a tail cut off, a range overwritten, or bytes inserted."""
    size = len(original)
    kind = draw(st.sampled_from(["flip", "truncate", "overwrite", "insert"]))
    position = draw(st.integers(0, size - 1))
    if kind == "flip":
        damaged = bytearray(original)
        damaged[position] ^= 1 << draw(st.integers(0, 7))
        return bytes(damaged)
    if kind == "truncate":
        return original[:position]
    replacement = draw(st.binary(min_size=1, max_size=16))
    if kind == "overwrite":
        return (original[:position] + replacement + original[position + len(replacement) :])[:size]
    return original[:position] + replacement + original[position:]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(data=st.data())
def test_any_damage_is_detected_and_only_as_bitstream_error(
    pristine: bytes, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    damaged = data.draw(damaged_copies(pristine))
    path = tmp_path_factory.getbasetemp() / "fuzzed.bin"
    path.write_bytes(damaged)
    if damaged == pristine:  # an overwrite with the bytes already there
        assert read_everything(path) == sample_records()
        return
    with pytest.raises(BitstreamError):
        read_everything(path)
