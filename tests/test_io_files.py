"""What every format shares: choosing a format, atomic writes, input paths and range options."""

from fractions import Fraction

import numpy as np
import pytest

from cmfr_codec.errors import InputError
from cmfr_codec.io import SUPPORTED_OUTPUT_EXTENSIONS, VideoInfo, YuvFrame, create_video_writer, open_video

INFO = VideoInfo(16, 8, Fraction(25))


def grey_frame(width: int = 16, height: int = 8) -> YuvFrame:
    chroma = ((height + 1) // 2, (width + 1) // 2)
    return YuvFrame(
        np.full((height, width), 128, np.uint8),
        np.full(chroma, 128, np.uint8),
        np.full(chroma, 128, np.uint8),
    )


def test_supported_outputs_are_yuv_y4m_and_mkv():
    assert SUPPORTED_OUTPUT_EXTENSIONS == (".yuv", ".y4m", ".mkv")


def test_unknown_output_extension_lists_the_supported_ones(tmp_path):
    with pytest.raises(
        InputError, match=r"out\.mp4: unknown output extension '\.mp4'; use one of \.yuv, \.y4m, \.mkv"
    ):
        create_video_writer(tmp_path / "out.mp4", INFO)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extension", SUPPORTED_OUTPUT_EXTENSIONS)
def test_the_file_appears_only_when_the_writer_closes(tmp_path, extension):
    path = tmp_path / f"out{extension}"
    writer = create_video_writer(path, INFO)
    writer.write(grey_frame())
    assert not path.exists()
    writer.close()
    assert path.exists()
    assert [entry.name for entry in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("extension", SUPPORTED_OUTPUT_EXTENSIONS)
def test_an_exception_inside_the_with_block_leaves_no_file(tmp_path, extension):
    path = tmp_path / f"out{extension}"
    with pytest.raises(KeyboardInterrupt), create_video_writer(path, INFO) as writer:
        writer.write(grey_frame())
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_abort_keeps_an_existing_file_untouched(tmp_path):
    path = tmp_path / "out.yuv"
    path.write_bytes(b"previous result")
    writer = create_video_writer(path, INFO)
    writer.write(grey_frame())
    writer.abort()
    assert path.read_bytes() == b"previous result"


@pytest.mark.parametrize("extension", SUPPORTED_OUTPUT_EXTENSIONS)
def test_a_frame_of_the_wrong_size_is_a_programming_error(tmp_path, extension):
    with (
        create_video_writer(tmp_path / f"out{extension}", INFO) as writer,
        pytest.raises(ValueError, match="17x8"),
    ):
        writer.write(grey_frame(17, 8))


def test_an_output_folder_that_does_not_exist_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="output folder does not exist"):
        create_video_writer(tmp_path / "missing" / "out.y4m", INFO)


@pytest.mark.parametrize("name", ["clip_16x8.yuv", "clip.y4m", "clip.mkv"])
def test_a_missing_input_is_named(tmp_path, name):
    with pytest.raises(InputError, match=f"no such file: .*{name}"):
        open_video(tmp_path / name)


def test_a_directory_is_not_a_video(tmp_path):
    folder = tmp_path / "clip.mkv"
    folder.mkdir()
    with pytest.raises(InputError, match="is a directory"):
        open_video(folder)


@pytest.mark.parametrize(
    ("skip", "frames", "message"),
    [(-1, None, "--skip must be 0 or more"), (0, 0, "--frames must be 1 or more")],
)
def test_impossible_ranges_are_refused_before_reading(tmp_path, skip, frames, message):
    with pytest.raises(InputError, match=message):
        open_video(tmp_path / "clip_16x8.yuv", skip=skip, frames=frames)
