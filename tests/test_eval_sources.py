"""What an evaluation codes: files, folders, and DCVC dataset configs used unchanged."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from clips import write_raw_yuv

from cmfr_codec.errors import InputError
from cmfr_codec.evaluation.sources import FILES_CLASS, collect_sequences
from cmfr_codec.io import create_video_writer
from cmfr_codec.io.frames import VideoInfo
from cmfr_codec.metrics import psnr_planes, yuv420_to_rgb709


def _write_png_sequence(folder, frames):
    from PIL import Image

    folder.mkdir(parents=True)
    for number, frame in enumerate(frames, start=1):
        Image.fromarray(yuv420_to_rgb709(frame)).save(folder / f"im{number:05d}.png")


def _dcvc_config(tmp_path, frames):
    data = tmp_path / "data"
    (data / "HEVC_X").mkdir(parents=True)
    write_raw_yuv(data / "HEVC_X" / "Clip_64x48_25.yuv", frames)
    _write_png_sequence(data / "RGB" / "Pics_64x48_30", frames)
    config = {
        "root_path": str(data),
        "test_classes": {
            "HEVC_X": {"test": 1, "base_path": "HEVC_X", "src_type": "yuv420", "sequences": {
                "Clip_64x48_25": {"width": 64, "height": 48, "frames": 3, "intra_period": -1}}},
            "Skipped": {"test": 0, "base_path": "nowhere", "src_type": "yuv420", "sequences": {
                "Missing_64x48_25.yuv": {"width": 64, "height": 48, "frames": 3, "intra_period": 32}}},
            "RGB": {"test": 1, "base_path": "RGB", "src_type": "png", "sequences": {
                "Pics_64x48_30": {"width": 64, "height": 48, "frames": 96, "gop": 2}}},
        },
    }
    path = tmp_path / "dataset_config.json"
    path.write_text(json.dumps(config))
    return path


def test_a_dcvc_config_gives_its_classes_frames_and_intra_periods(tmp_path, small_clip_frames):
    config = _dcvc_config(tmp_path, small_clip_frames[:4])
    raw, pictures = collect_sequences([config], frames=2)
    assert (raw.class_name, raw.name, raw.path.name) == ("HEVC_X", "Clip_64x48_25", "Clip_64x48_25.yuv")
    assert raw.intra_period == 0  # DCVC's -1: only the first frame is intra
    assert raw.frames == 2  # the config's 3 frames, capped by --frames 2
    assert (pictures.class_name, pictures.intra_period, pictures.frames) == ("RGB", 2, 2)
    assert raw.probe() == VideoInfo(64, 48, Fraction(25), 2)
    assert pictures.probe() == VideoInfo(64, 48, Fraction(30), 2)


def test_a_png_sequence_reads_as_the_limited_range_yuv_it_was_made_from(tmp_path, small_clip_frames):
    config = _dcvc_config(tmp_path, small_clip_frames[:3])
    _, pictures = collect_sequences([config])
    with pictures.open() as reader:
        decoded = list(reader)
    assert len(decoded) == 3
    # RGB rounding loses a little; the same picture comes back far above coding distortions.
    assert all(psnr_planes(source, frame)[3] > 40 for source, frame in zip(small_clip_frames, decoded, strict=False))


def test_a_folder_is_a_class_of_its_video_files_in_name_order(tmp_path, small_clip_frames):
    folder = tmp_path / "ClassA"
    folder.mkdir()
    for name in ("b.y4m", "a.y4m"):
        with create_video_writer(folder / name, VideoInfo(64, 48, Fraction(25), 2)) as writer:
            for frame in small_clip_frames[:2]:
                writer.write(frame)
    (folder / "notes.txt").write_text("not a video")
    sequences = collect_sequences([folder, tmp_path / "ClassA" / "a.y4m"])
    assert [(sequence.class_name, sequence.name) for sequence in sequences] == [
        ("ClassA", "a.y4m"), ("ClassA", "b.y4m"), (FILES_CLASS, "a.y4m"),
    ]


def test_the_same_sequence_twice_is_refused(tmp_path, small_clip_frames):
    clip = write_raw_yuv(tmp_path / "clip_64x48_25.yuv", small_clip_frames[:2])
    with pytest.raises(InputError, match="named twice"):
        collect_sequences([clip, clip])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "cannot read dataset config"),
        ('{"root_path": "/"}', "no 'test_classes'"),
        ('{"test_classes": {"A": {"src_type": "rgb", "sequences": {}}}}', "src_type 'rgb' is not supported"),
        ('{"test_classes": {"A": {"test": 0, "sequences": {}}}}', "selects no sequences"),
    ],
)
def test_a_broken_config_names_its_problem(tmp_path, text, message):
    config = tmp_path / "config.json"
    config.write_text(text)
    with pytest.raises(InputError, match=message):
        collect_sequences([config])


def test_a_config_sequence_that_is_missing_fails_when_probed(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"root_path": str(tmp_path), "test_classes": {"A": {"base_path": "x", "sequences": {
        "Gone_64x48_25.yuv": {"width": 64, "height": 48, "frames": 2, "intra_period": 32}}}}}))
    (sequence,) = collect_sequences([config])
    with pytest.raises(InputError, match="no such file"):
        sequence.probe()

