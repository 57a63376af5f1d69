"""Raw 8-bit 4:2:0 .yuv input and output."""

import tracemalloc
from fractions import Fraction

import numpy as np
import pytest

from cmfr_codec.errors import InputError
from cmfr_codec.io import DEFAULT_FPS, VideoInfo, YuvFrame, create_video_writer, open_video


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


def write_raw(path, frames: list[YuvFrame]) -> None:
    path.write_bytes(b"".join(frame.to_bytes() for frame in frames))


def assert_same_frames(actual: list[YuvFrame], expected: list[YuvFrame]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        for got_plane, want_plane in zip(got.planes(), want.planes(), strict=True):
            np.testing.assert_array_equal(got_plane, want_plane)


def test_round_trip_of_an_odd_size_is_exact(tmp_path):
    frames = random_frames(17, 9, 3)
    path = tmp_path / "clip.yuv"
    with create_video_writer(path, VideoInfo(17, 9, Fraction(25))) as writer:
        for frame in frames:
            writer.write(frame)
    assert path.stat().st_size == 3 * VideoInfo(17, 9, Fraction(25)).frame_bytes
    with open_video(path, size=(17, 9)) as reader:
        assert_same_frames(list(reader), frames)


def test_size_rate_and_count_come_from_the_file_name_and_length(tmp_path):
    path = tmp_path / "Street_16x8_50.yuv"
    write_raw(path, random_frames(16, 8, 4))
    with open_video(path) as reader:
        assert reader.info == VideoInfo(16, 8, Fraction(50), 4)


def test_explicit_size_and_rate_win_over_the_name(tmp_path):
    path = tmp_path / "Street_16x8_50.yuv"
    write_raw(path, random_frames(16, 8, 4))
    with open_video(path, size=(8, 4), fps=Fraction(30000, 1001)) as reader:
        assert reader.info == VideoInfo(8, 4, Fraction(30000, 1001), 16)


def test_rate_defaults_to_30_when_nothing_gives_it(tmp_path):
    path = tmp_path / "clip.yuv"
    write_raw(path, random_frames(8, 4, 1))
    with open_video(path, size=(8, 4)) as reader:
        assert reader.info.fps == DEFAULT_FPS == 30


def test_unknown_size_asks_for_the_size_option(tmp_path):
    path = tmp_path / "clip.yuv"
    write_raw(path, random_frames(8, 4, 1))
    with pytest.raises(InputError, match=r"clip\.yuv.*--size WxH"):
        open_video(path)


def test_length_that_is_not_whole_frames_names_file_sizes_and_leftover(tmp_path):
    path = tmp_path / "clip_8x4.yuv"
    path.write_bytes(bytes(2 * 48 + 5))
    with pytest.raises(InputError) as caught:
        open_video(path)
    message = str(caught.value)
    assert "clip_8x4.yuv" in message
    assert "101 bytes" in message
    assert "48 bytes each" in message
    assert "5 bytes left over" in message


def test_name_announcing_10_bit_is_refused(tmp_path):
    path = tmp_path / "clip_8x4_25_10bit.yuv"
    write_raw(path, random_frames(8, 4, 2))
    with pytest.raises(InputError, match="10bit"):
        open_video(path)


def test_empty_file_has_no_frames(tmp_path):
    path = tmp_path / "clip_8x4.yuv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="contains no frames"):
        open_video(path)


def test_skip_and_frames_select_a_range(tmp_path):
    frames = random_frames(8, 4, 6)
    path = tmp_path / "clip_8x4.yuv"
    write_raw(path, frames)
    with open_video(path, skip=2, frames=3) as reader:
        assert reader.info.frame_count == 3
        assert_same_frames(list(reader), frames[2:5])


def test_frames_beyond_the_end_are_clipped(tmp_path):
    frames = random_frames(8, 4, 6)
    path = tmp_path / "clip_8x4.yuv"
    write_raw(path, frames)
    with open_video(path, skip=4, frames=10) as reader:
        assert reader.info.frame_count == 2
        assert_same_frames(list(reader), frames[4:])


def test_skip_past_the_end_is_refused(tmp_path):
    path = tmp_path / "clip_8x4.yuv"
    write_raw(path, random_frames(8, 4, 6))
    with pytest.raises(InputError, match="--skip 6 is past the end.*6 frames"):
        open_video(path, skip=6)


def test_a_long_1080p_file_is_read_by_seeking_not_loading(tmp_path):
    info = VideoInfo(1920, 1080, Fraction(50))
    path = tmp_path / "Long_1920x1080_50.yuv"
    with open(path, "wb") as sparse:
        sparse.truncate(600 * info.frame_bytes)  # 1.8 GB of holes: no data is written
        sparse.seek(598 * info.frame_bytes)
        sparse.write(b"\x7f" * info.frame_bytes)
    with open_video(path, skip=598, frames=2) as reader:
        assert reader.info.frame_count == 2
        first, second = list(reader)
    assert first.y.min() == first.v.max() == 127
    assert second.y.max() == 0


def test_reading_holds_one_frame_at_a_time(tmp_path):
    info = VideoInfo(320, 240, Fraction(25))
    path = tmp_path / "clip_320x240.yuv"
    path.write_bytes(bytes(40 * info.frame_bytes))
    tracemalloc.start()
    try:
        with open_video(path) as reader:
            frames_read = sum(1 for _ in reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert frames_read == 40
    assert peak < 4 * info.frame_bytes


def test_a_reader_is_a_single_pass(tmp_path):
    path = tmp_path / "clip_8x4.yuv"
    write_raw(path, random_frames(8, 4, 2))
    with open_video(path) as reader:
        list(reader)
        with pytest.raises(RuntimeError, match="already iterated"):
            iter(reader)
