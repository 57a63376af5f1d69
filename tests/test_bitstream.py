"""The bitstream container round-trips what it is given and lays it out as docs/bitstream.md says."""

from __future__ import annotations

import dataclasses
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import pytest

from cmfr_codec.bitstream import (
    FORMAT_VERSION,
    BitstreamReader,
    BitstreamWriter,
    FrameRecord,
    FrameType,
    SequenceHeader,
)
from cmfr_codec.errors import InputError

INTRA, PREDICTED = FrameType.INTRA, FrameType.PREDICTED


def make_header(**changes: object) -> SequenceHeader:
    fields = dict(
        model_name="cmfr-s",
        weights_digest=bytes(range(32)),
        width=416,
        height=240,
        fps=Fraction(30000, 1001),
        frame_count=0,
        quality_index=40,
        intra_period=3,
        substream_names=("z", "y", "motion_z", "motion_y"),
    )
    return SequenceHeader(**{**fields, **changes})


def make_record(frame_type: FrameType, quality_index: int = 40, **substreams: bytes) -> FrameRecord:
    return FrameRecord(frame_type, quality_index, dict(substreams))


def write_sequence(path: Path, records: list[FrameRecord], header: SequenceHeader | None = None) -> Path:
    with BitstreamWriter(path, header or make_header()) as writer:
        for record in records:
            writer.write_frame(record)
    return path


def gop_records(frame_types: str) -> list[FrameRecord]:
    """One small record per letter of ``frame_types`` ("IPPIP..."), each with distinct payload bytes."""
    return [
        make_record(FrameType(letter), z=bytes([number]), y=bytes([number]) * (number + 3))
        for number, letter in enumerate(frame_types)
    ]


def test_header_round_trips(tmp_path: Path) -> None:
    header = make_header(width=1920, height=1080, fps=Fraction(24000, 1001), quality_index=63, intra_period=0)
    path = write_sequence(tmp_path / "a.bin", [make_record(INTRA)], header)
    with BitstreamReader(path) as reader:
        assert reader.header == dataclasses.replace(header, frame_count=1)


def test_records_round_trip_with_substream_order_kept(tmp_path: Path) -> None:
    records = [
        make_record(INTRA, 12, z=b"\x00\x01", y=b"\xff" * 100),
        make_record(PREDICTED, 13, motion_z=b"m", motion_y=b"", z=b"zz", y=b"yyy"),
    ]
    path = write_sequence(tmp_path / "a.bin", records)
    with BitstreamReader(path) as reader:
        read_back = list(reader)
    assert read_back == records
    assert [list(record.substreams) for record in read_back] == [
        ["z", "y"],
        ["motion_z", "motion_y", "z", "y"],
    ]


def test_record_with_no_substreams_round_trips(tmp_path: Path) -> None:
    path = write_sequence(tmp_path / "a.bin", [make_record(INTRA), make_record(PREDICTED)])
    with BitstreamReader(path) as reader:
        assert [record.substreams for record in reader] == [{}, {}]


def test_record_with_the_most_substreams_and_longest_names_round_trips(tmp_path: Path) -> None:
    substreams = {f"s{number:02d}_" + "x" * 28: bytes([number]) * number for number in range(64)}
    header = make_header(substream_names=tuple(reversed(substreams)))
    path = write_sequence(tmp_path / "a.bin", [FrameRecord(INTRA, 0, substreams)], header)
    with BitstreamReader(path) as reader:
        assert reader.header.substream_names == header.substream_names
        assert next(iter(reader)).substreams == substreams


@pytest.mark.parametrize("size", [0, 127, 128, 16383, 16384, 2**21])
def test_substream_sizes_round_trip_across_varint_lengths(tmp_path: Path, size: int) -> None:
    records = [make_record(INTRA, y=bytes(size)), make_record(PREDICTED, z=b"\x01" * size, y=b"")]
    path = write_sequence(tmp_path / "a.bin", records)
    with BitstreamReader(path) as reader:
        assert list(reader) == records


@pytest.mark.parametrize(("sizes", "overhead"), [((100, 127), 11), ((100, 400), 12), ((200, 400), 13)])
def test_a_p_frame_with_two_substreams_costs_11_to_13_bytes(
    tmp_path: Path, sizes: tuple[int, int], overhead: int
) -> None:
    """7 bytes (frame number, type and quality, count, CRC) + per sub-stream 1 byte of name index and
    a size of 1 byte below 128, 2 bytes below 16384."""
    record = make_record(PREDICTED, motion_y=bytes(sizes[0]), y=bytes(sizes[1]))
    with BitstreamWriter(tmp_path / "a.bin", make_header()) as writer:
        writer.write_frame(make_record(INTRA))
        assert writer.write_frame(record) == record.payload_bytes + overhead


def test_sequence_without_frames_round_trips(tmp_path: Path) -> None:
    path = write_sequence(tmp_path / "a.bin", [])
    with BitstreamReader(path) as reader:
        assert (reader.header.frame_count, reader.index, list(reader)) == (0, [], [])


def test_frame_count_written_as_zero_is_patched_at_close(tmp_path: Path) -> None:
    path = write_sequence(tmp_path / "a.bin", gop_records("IPPIP"), make_header(frame_count=0))
    with BitstreamReader(path) as reader:
        assert reader.header.frame_count == 5


def test_frame_count_given_up_front_is_replaced_by_the_frames_written(tmp_path: Path) -> None:
    path = write_sequence(tmp_path / "a.bin", gop_records("IPP"), make_header(frame_count=100))
    with BitstreamReader(path) as reader:
        assert reader.header.frame_count == 3


def test_seek_index_lists_exactly_the_i_frames_at_their_record_offsets(tmp_path: Path) -> None:
    path = write_sequence(tmp_path / "a.bin", gop_records("IPPIPPIP"))
    with BitstreamReader(path) as reader:
        intra_offsets = [
            (info.frame_number, info.offset) for info in reader.scan() if info.frame_type is INTRA
        ]
        assert reader.index == intra_offsets
        assert [frame for frame, _ in reader.index] == [0, 3, 6]


@pytest.mark.parametrize(("wanted", "first"), [(0, 0), (2, 0), (3, 3), (5, 3), (6, 6), (7, 6)])
def test_frames_from_starts_at_the_nearest_i_frame_at_or_before(
    tmp_path: Path, wanted: int, first: int
) -> None:
    records = gop_records("IPPIPPIP")
    path = write_sequence(tmp_path / "a.bin", records)
    with BitstreamReader(path) as reader:
        assert list(reader.frames_from(wanted)) == list(enumerate(records))[first:]


@pytest.mark.parametrize("wanted", [-1, 8])
def test_frames_from_a_frame_outside_the_sequence_is_an_input_error(tmp_path: Path, wanted: int) -> None:
    path = write_sequence(tmp_path / "a.bin", gop_records("IPPIPPIP"))
    with BitstreamReader(path) as reader, pytest.raises(InputError, match="does not exist"):
        reader.frames_from(wanted)


def test_scan_describes_each_record_without_decoding(tmp_path: Path) -> None:
    path = write_sequence(
        tmp_path / "a.bin", [make_record(INTRA, 7, z=b"ab", y=b"cdef"), make_record(PREDICTED, 9, y=b"")]
    )
    with BitstreamReader(path) as reader:
        first, second = reader.scan()
    assert (first.frame_number, first.frame_type, first.quality_index) == (0, INTRA, 7)
    assert (first.offset, first.substream_sizes, first.crc_ok) == (
        reader.header_bytes,
        {"z": 2, "y": 4},
        True,
    )
    assert (second.frame_number, second.frame_type, second.quality_index) == (1, PREDICTED, 9)
    assert (second.offset, second.substream_sizes) == (first.offset + first.record_bytes, {"y": 0})


def test_every_byte_of_the_file_is_accounted_for(tmp_path: Path) -> None:
    records = gop_records("IPPIP")
    with BitstreamWriter(tmp_path / "a.bin", make_header()) as writer:
        record_sizes = [writer.write_frame(record) for record in records]
    index_and_trailer = (4 + 12 * 2 + 4) + 16
    with BitstreamReader(tmp_path / "a.bin") as reader:
        assert reader.file_size == writer.bytes_written == (tmp_path / "a.bin").stat().st_size
        assert reader.file_size == reader.header_bytes + sum(record_sizes) + index_and_trailer
        payload = sum(record.payload_bytes for record in records)
        assert reader.overhead_bytes() == reader.file_size - payload


def test_file_begins_with_magic_and_version_and_ends_with_the_trailer_magic(tmp_path: Path) -> None:
    data = write_sequence(tmp_path / "a.bin", gop_records("IP")).read_bytes()
    assert data[:6] == b"CMFR" + bytes(FORMAT_VERSION)
    assert data[-4:] == b"CMFE"


def test_header_size_is_72_bytes_plus_the_model_name_and_the_name_table(tmp_path: Path) -> None:
    header = make_header(model_name="m" * 64, substream_names=("frame", "motion"))
    path = write_sequence(tmp_path / "a.bin", [make_record(INTRA)], header)
    with BitstreamReader(path) as reader:
        assert reader.header_bytes == 72 + 64 + (1 + 5) + (1 + 6)


def test_the_specification_example_is_written_byte_for_byte(tmp_path: Path) -> None:
    """docs/bitstream.md section 8: one I-frame and one P-frame, every byte spelled out."""
    header = make_header(
        weights_digest=bytes(32), fps=Fraction(25), intra_period=0, substream_names=("frame", "motion")
    )
    records = [
        make_record(INTRA, 40, frame=b"\x01\x02\x03\x04"),
        make_record(PREDICTED, 41, motion=b"\xaa\xbb", frame=b"\x05\x06\x07"),
    ]
    expected = bytes.fromhex(
        "434d4652 03 00 5b00" + "00" * 32 + "a0010000 f0000000 19000000 01000000 02000000 00000000"
        "01 28 06 636d66722d73 02 05 6672616d65 06 6d6f74696f6e bc2f8823"
        "00 68 01 00 04 01020304 2974f5c8"
        "01 a9 02 01 02 00 03 aabb 050607 a91d68ba"
        "01000000 00000000 5b00000000000000 54359f4a"
        "7800000000000000 4c55971a 434d4645"
    )
    assert write_sequence(tmp_path / "a.bin", records, header).read_bytes() == expected


def test_a_record_crc_covers_the_full_frame_number_before_the_record_bytes(tmp_path: Path) -> None:
    data = write_sequence(tmp_path / "a.bin", [make_record(INTRA, y=b"abc"), make_record(PREDICTED, y=b"d")]).read_bytes()
    with BitstreamReader(tmp_path / "a.bin") as reader:
        second = list(reader.scan())[1]
    record = data[second.offset : second.offset + second.record_bytes]
    assert struct.unpack("<I", record[-4:])[0] == zlib.crc32(struct.pack("<I", 1) + record[:-4])


def test_reader_skips_header_extensions_of_a_later_minor_version(tmp_path: Path) -> None:
    records = gop_records("IPIP")
    path = write_sequence(tmp_path / "a.bin", records)
    with BitstreamReader(path) as original:
        header_length, index = original.header_bytes, original.index
    data = path.read_bytes()
    index_offset = struct.unpack_from("<Q", data, len(data) - 16)[0]
    extension = b"new!"
    header_body = bytearray(data[: header_length - 4] + extension)
    header_body[5] = 7  # minor version 1.7
    struct.pack_into("<H", header_body, 6, header_length + len(extension))
    new_header = bytes(header_body) + struct.pack("<I", zlib.crc32(header_body))
    shifted = [(frame, offset + len(extension)) for frame, offset in index]
    new_index = struct.pack("<I", len(shifted)) + b"".join(struct.pack("<IQ", *entry) for entry in shifted)
    new_index_offset = index_offset + len(extension)
    trailer = struct.pack("<QI4s", new_index_offset, zlib.crc32(struct.pack("<Q", new_index_offset)), b"CMFE")
    (tmp_path / "b.bin").write_bytes(
        new_header
        + data[header_length:index_offset]
        + new_index
        + struct.pack("<I", zlib.crc32(new_index))
        + trailer
    )
    with BitstreamReader(tmp_path / "b.bin") as reader:
        assert list(reader) == records
        assert reader.header_bytes == header_length + len(extension)


def test_the_file_appears_only_when_the_writer_closes(tmp_path: Path) -> None:
    writer = BitstreamWriter(tmp_path / "a.bin", make_header())
    writer.write_frame(make_record(INTRA, z=b"z"))
    assert not (tmp_path / "a.bin").exists()
    writer.close()
    assert (tmp_path / "a.bin").is_file()


def test_an_exception_inside_the_writer_block_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), BitstreamWriter(tmp_path / "a.bin", make_header()) as writer:
        writer.write_frame(make_record(INTRA, z=b"z"))
        raise RuntimeError("encoder failed")
    assert list(tmp_path.iterdir()) == []


def test_writing_after_close_is_refused(tmp_path: Path) -> None:
    writer = BitstreamWriter(tmp_path / "a.bin", make_header())
    writer.write_frame(make_record(INTRA))
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write_frame(make_record(PREDICTED))


def test_a_substream_missing_from_the_name_table_is_refused_on_the_write_side(tmp_path: Path) -> None:
    with (
        BitstreamWriter(tmp_path / "a.bin", make_header(substream_names=("frame",))) as writer,
        pytest.raises(ValueError, match="name table"),
    ):
        writer.write_frame(make_record(INTRA, motion=b""))


def test_the_first_frame_must_be_intra(tmp_path: Path) -> None:
    with (
        BitstreamWriter(tmp_path / "a.bin", make_header()) as writer,
        pytest.raises(ValueError, match="I-frame"),
    ):
        writer.write_frame(make_record(PREDICTED))


def test_opening_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        BitstreamReader(tmp_path / "missing.bin")


@pytest.mark.parametrize(
    "changes",
    [
        {"width": 0},
        {"width": 100_000},
        {"height": 16385},
        {"fps": Fraction(2**31, 1)},
        {"frame_count": 10_000_001},
        {"quality_index": 64},
        {"quality_index": -1},
        {"intra_period": -1},
        {"model_name": ""},
        {"model_name": "m" * 65},
        {"model_name": "modèle"},
        {"weights_digest": bytes(31)},
        {"pixel_format": "yuv444p"},
        {"substream_names": ["y"]},
        {"substream_names": ("y", "y")},
        {"substream_names": ("motion-y",)},
        {"substream_names": tuple(f"s{number}" for number in range(65))},
    ],
)
def test_header_outside_the_bounds_is_refused_on_the_write_side(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        make_header(**changes)


@pytest.mark.parametrize("name", ["", "1z", "motion-z", "ẑ", "x" * 33, "a b"])
def test_substream_names_must_be_short_ascii_identifiers(name: str) -> None:
    with pytest.raises(ValueError, match="sub-stream name"):
        FrameRecord(INTRA, 0, {name: b""})


def test_a_record_holds_at_most_64_substreams() -> None:
    with pytest.raises(ValueError, match="at most 64"):
        FrameRecord(INTRA, 0, {f"s{number}": b"" for number in range(65)})


def test_payload_bytes_counts_substream_data_only() -> None:
    assert make_record(INTRA, z=b"abc", y=b"", motion_z=b"12").payload_bytes == 5
