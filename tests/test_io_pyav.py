"""Inputs decoded by FFmpeg (PyAV) and lossless FFV1 .mkv output."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from cmfr_codec.errors import InputError
from cmfr_codec.io import VideoInfo, YuvFrame, create_video_writer, open_video

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "city_416x240_25fps.mkv"


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


def assert_same_frames(actual: list[YuvFrame], expected: list[YuvFrame]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        for got_plane, want_plane in zip(got.planes(), want.planes(), strict=True):
            np.testing.assert_array_equal(got_plane, want_plane)


def write_ffv1(path: Path, pictures: list[av.VideoFrame], pixel_format: str) -> None:
    """A test source in any pixel format FFV1 can hold, written with PyAV directly."""
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = pictures[0].width, pictures[0].height, pixel_format
        for index, picture in enumerate(pictures):
            picture.pts = index
            container.mux(stream.encode(picture))
        container.mux(stream.encode(None))


@pytest.mark.parametrize(("width", "height"), [(16, 8), (17, 9)])
def test_mkv_round_trip_is_bit_exact(tmp_path, width, height):
    frames = random_frames(width, height, 3)
    path = tmp_path / "clip.mkv"
    with create_video_writer(path, VideoInfo(width, height, Fraction(30000, 1001))) as writer:
        for frame in frames:
            writer.write(frame)
    with open_video(path) as reader:
        assert (reader.info.width, reader.info.height, reader.info.fps) == (
            width,
            height,
            Fraction(30000, 1001),
        )
        assert_same_frames(list(reader), frames)


def test_mkv_output_is_ffv1_yuv420p(tmp_path):
    path = tmp_path / "clip.mkv"
    with create_video_writer(path, VideoInfo(16, 8, Fraction(25))) as writer:
        writer.write(random_frames(16, 8, 1)[0])
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (
            container.format.name.split(",")[0],
            stream.codec_context.name,
            stream.codec_context.pix_fmt,
        ) == (
            "matroska",
            "ffv1",
            "yuv420p",
        )


def test_the_example_clip_reads_as_32_frames_of_416x240_at_25_fps():
    with open_video(EXAMPLE) as reader:
        assert (reader.info.width, reader.info.height, reader.info.fps) == (416, 240, 25)
        frames = list(reader)
    assert len(frames) == 32
    assert all(frame.y.shape == (240, 416) and frame.u.shape == (120, 208) for frame in frames)
    assert not np.array_equal(frames[0].y, frames[31].y)


def test_skip_and_frames_select_a_range_of_the_example():
    with open_video(EXAMPLE) as reader:
        everything = list(reader)
    with open_video(EXAMPLE, skip=29, frames=2) as reader:
        assert_same_frames(list(reader), everything[29:31])


def test_skip_past_the_end_of_a_stream_without_a_frame_count_is_refused():
    with (
        open_video(EXAMPLE, skip=32) as reader,
        pytest.raises(InputError, match="--skip 32 is past the end.*32 frames"),
    ):
        list(reader)


def bt709_limited(red: int, green: int, blue: int) -> tuple[float, float, float]:
    """Y, Cb, Cr of a full-range RGB colour by the BT.709 equations (limited-range output)."""
    kr, kb = 0.2126, 0.0722
    r, g, b = red / 255, green / 255, blue / 255
    luma = kr * r + (1 - kr - kb) * g + kb * b
    return 16 + 219 * luma, 128 + 224 * (b - luma) / (2 * (1 - kb)), 128 + 224 * (r - luma) / (2 * (1 - kr))


@pytest.mark.parametrize("colour", [(255, 255, 255), (255, 0, 0), (0, 0, 255), (40, 200, 90)])
def test_rgb_sources_are_converted_with_bt709_limited_range(tmp_path, colour):
    rgb = np.empty((8, 16, 3), dtype=np.uint8)
    rgb[:] = colour
    path = tmp_path / "rgb.mkv"
    write_ffv1(path, [av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="bgr0")], "bgr0")
    with open_video(path) as reader:
        (frame,) = list(reader)
    for plane, expected in zip(frame.planes(), bt709_limited(*colour), strict=True):
        assert np.all(np.abs(plane.astype(float) - expected) <= 1), (plane[0, 0], expected)
    if colour == (255, 255, 255):
        assert (frame.y[0, 0], frame.u[0, 0], frame.v[0, 0]) == (235, 128, 128)


def test_yuv444_sources_are_subsampled_without_changing_values(tmp_path):
    planes = np.empty((3, 8, 16), dtype=np.uint8)
    planes[0], planes[1], planes[2] = 180, 60, 200
    path = tmp_path / "yuv444.mkv"
    write_ffv1(path, [av.VideoFrame.from_ndarray(planes, format="yuv444p")], "yuv444p")
    with open_video(path) as reader:
        (frame,) = list(reader)
    assert frame.u.shape == (4, 8)
    assert np.all(frame.y == 180)
    assert np.all(frame.u == 60)
    assert np.all(frame.v == 200)


def test_a_file_that_is_not_video_is_an_input_error(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are not frames\n")
    with pytest.raises(InputError, match=r"cannot read video .*notes\.mp4: Invalid data"):
        open_video(path)


def test_a_truncated_video_with_no_decodable_frame_is_an_input_error(tmp_path):
    path = tmp_path / "cut.mkv"
    path.write_bytes(EXAMPLE.read_bytes()[:3000])
    with pytest.raises(InputError, match=r"cannot read video .*cut\.mkv"):
        with open_video(path) as reader:
            list(reader)


def test_explicit_size_must_match_the_stream():
    with pytest.raises(InputError, match="--size 1920x1080 does not match .*, which is 416x240"):
        open_video(EXAMPLE, size=(1920, 1080))
