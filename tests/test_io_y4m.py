"""YUV4MPEG2 (.y4m) input and output."""

from fractions import Fraction

import numpy as np
import pytest

from cmfr_codec.errors import InputError
from cmfr_codec.io import VideoInfo, YuvFrame, create_video_writer, open_video


def random_frames(width: int, height: int, count: int, seed: int = 0) -> list[YuvFrame]:
    rng = np.random.default_rng(seed)
    chroma = ((height + 1) // 2, (width + 1) // 2)
    return [
        YuvFrame(
            rng.integers(0, 256, (height, width), dtype=np.uint8),
            rng.integers(0, 256, chroma, dtype=np.uint8),
            rng.integers(0, 256, chroma, dtype=np.uint8),
        )
        for _ in range(count)
    ]


def write_y4m(path, header: str, frames: list[YuvFrame], frame_lines: list[str] | None = None) -> None:
    frame_lines = frame_lines or ["FRAME"] * len(frames)
    body = b"".join(
        f"{line}\n".encode() + frame.to_bytes() for line, frame in zip(frame_lines, frames, strict=True)
    )
    path.write_bytes(f"{header}\n".encode() + body)


def assert_same_frames(actual: list[YuvFrame], expected: list[YuvFrame]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        for got_plane, want_plane in zip(got.planes(), want.planes(), strict=True):
            np.testing.assert_array_equal(got_plane, want_plane)


def test_round_trip_of_an_odd_size_is_exact(tmp_path):
    frames = random_frames(17, 9, 3)
    path = tmp_path / "clip.y4m"
    with create_video_writer(path, VideoInfo(17, 9, Fraction(30000, 1001))) as writer:
        for frame in frames:
            writer.write(frame)
    with open_video(path) as reader:
        assert reader.info == VideoInfo(17, 9, Fraction(30000, 1001), 3)
        assert_same_frames(list(reader), frames)


def test_writer_header_is_progressive_square_pixel_420jpeg(tmp_path):
    path = tmp_path / "clip.y4m"
    with create_video_writer(path, VideoInfo(416, 240, Fraction(30000, 1001))):
        pass
    assert path.read_bytes() == b"YUV4MPEG2 W416 H240 F30000:1001 Ip A1:1 C420jpeg\n"


def test_header_fields_give_size_and_rate_as_a_ratio(tmp_path):
    path = tmp_path / "clip.y4m"
    header = "YUV4MPEG2 W8 H4 F24000:1001 It A0:0 C420mpeg2 XYSCSS=420MPEG2 XCOLORRANGE=LIMITED"
    write_y4m(path, header, random_frames(8, 4, 1))
    with open_video(path) as reader:
        assert reader.info == VideoInfo(8, 4, Fraction(24000, 1001), 1)


@pytest.mark.parametrize("tag", ["", " C420", " C420jpeg", " C420paldv", " C420mpeg2"])
def test_every_420_tag_is_accepted(tmp_path, tag):
    frames = random_frames(8, 4, 1)
    path = tmp_path / "clip.y4m"
    write_y4m(path, f"YUV4MPEG2 W8 H4 F25:1{tag}", frames)
    with open_video(path) as reader:
        assert_same_frames(list(reader), frames)


@pytest.mark.parametrize("tag", ["C444", "C422", "Cmono", "C420p10"])
def test_other_colour_formats_are_refused_by_name(tmp_path, tag):
    path = tmp_path / "clip.y4m"
    path.write_bytes(f"YUV4MPEG2 W8 H4 F25:1 {tag}\nFRAME\n".encode() + bytes(96))
    with pytest.raises(InputError, match=f"clip.y4m.*{tag} is not supported"):
        open_video(path)


def test_a_file_without_the_signature_is_refused(tmp_path):
    path = tmp_path / "clip.y4m"
    path.write_bytes(b"RIFF....AVI LIST")
    with pytest.raises(InputError, match="not a YUV4MPEG2 file"):
        open_video(path)


def test_missing_rate_defaults_to_30(tmp_path):
    path = tmp_path / "clip.y4m"
    write_y4m(path, "YUV4MPEG2 W8 H4", random_frames(8, 4, 1))
    with open_video(path) as reader:
        assert reader.info.fps == 30


def test_explicit_rate_overrides_the_header(tmp_path):
    path = tmp_path / "clip.y4m"
    write_y4m(path, "YUV4MPEG2 W8 H4 F25:1", random_frames(8, 4, 1))
    with open_video(path, fps=Fraction(50)) as reader:
        assert reader.info.fps == 50


def test_explicit_size_must_match_the_header(tmp_path):
    path = tmp_path / "clip.y4m"
    write_y4m(path, "YUV4MPEG2 W8 H4 F25:1", random_frames(8, 4, 1))
    with open_video(path, size=(8, 4)) as reader:
        assert reader.info.width == 8
    with pytest.raises(InputError, match="--size 16x8 does not match .*clip.y4m, which is 8x4"):
        open_video(path, size=(16, 8))


def test_frame_parameters_are_skipped_and_frames_still_counted(tmp_path):
    frames = random_frames(8, 4, 4)
    path = tmp_path / "clip.y4m"
    write_y4m(path, "YUV4MPEG2 W8 H4 F25:1", frames, ["FRAME", "FRAME Ib", "FRAME XTAG=1", "FRAME"])
    with open_video(path, skip=1, frames=2) as reader:
        assert reader.info.frame_count == 2
        assert_same_frames(list(reader), frames[1:3])


def test_skip_and_frames_select_a_range(tmp_path):
    frames = random_frames(9, 5, 6)
    path = tmp_path / "clip.y4m"
    write_y4m(path, "YUV4MPEG2 W9 H5 F25:1", frames)
    with open_video(path, skip=3, frames=2) as reader:
        assert reader.info.frame_count == 2
        assert_same_frames(list(reader), frames[3:5])


def test_skip_past_the_end_is_refused(tmp_path):
    path = tmp_path / "clip.y4m"
    write_y4m(path, "YUV4MPEG2 W8 H4 F25:1", random_frames(8, 4, 3))
    with pytest.raises(InputError, match="--skip 3 is past the end.*3 frames"):
        open_video(path, skip=3)


def test_a_truncated_last_frame_is_reported(tmp_path):
    path = tmp_path / "clip.y4m"
    write_y4m(path, "YUV4MPEG2 W8 H4 F25:1", random_frames(8, 4, 2))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(InputError, match="truncated: frame 1 has 38 of its 48 bytes"):
        open_video(path)


def test_a_long_1080p_file_is_read_by_seeking_not_loading(tmp_path):
    info = VideoInfo(1920, 1080, Fraction(50))
    header = b"YUV4MPEG2 W1920 H1080 F50:1 Ip A1:1 C420jpeg\n"
    stride = len(b"FRAME\n") + info.frame_bytes
    path = tmp_path / "long.y4m"
    with open(path, "wb") as sparse:
        sparse.write(header)
        sparse.truncate(len(header) + 600 * stride)  # 1.8 GB of holes, only the FRAME lines are written
        for index in range(600):
            sparse.seek(len(header) + index * stride)
            sparse.write(b"FRAME\n")
        sparse.write(b"\x7f" * info.frame_bytes)
    with open_video(path, skip=598, frames=5) as reader:
        assert reader.info.frame_count == 2
        first, second = list(reader)
    assert first.y.max() == 0
    assert second.y.min() == second.u.max() == 127
