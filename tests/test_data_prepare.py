"""cmfr data prepare: clips that respect scene cuts, stills, the split by file, a manifest, and bytes that repeat.

The sources are real but small: a video cut from the example clip with a scene cut in the
middle (the second shot is the clip turned upside down), and a photo made from one of its frames.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from clips import EXAMPLE_CLIP

from cmfr_codec.data.fetch import index_entry, write_index
from cmfr_codec.data.layout import untile
from cmfr_codec.data.prepare import PrepareSettings, prepare, prepared_size
from cmfr_codec.errors import InputError
from cmfr_codec.io import VideoInfo, YuvFrame, create_video_writer, open_video

SHOT_FRAMES = 10
SMALL = PrepareSettings(size=120, still_size=120, clip_frames=3, spacing=0.0)


def write_photo(path: Path, frame: YuvFrame) -> Path:
    """An RGB PNG of ``frame`` (the codec's reader will take it back through BT.709)."""
    picture = av.VideoFrame(frame.width, frame.height, "yuv420p")
    for plane, pixels in zip(picture.planes, frame.planes(), strict=True):
        np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width] = pixels
    rgb = picture.reformat(format="rgb24")
    with av.open(str(path), "w", format="image2") as output:
        stream = output.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "rgb24"
        for packet in [*stream.encode(rgb), *stream.encode(None)]:
            output.mux(packet)
    return path


def make_sources(folder: Path, video_split: str = "train", photo_split: str = "validation") -> Path:
    """A sources folder: ``two_shots.mkv`` (2 x 10 frames, one cut) and ``photo.png``, with sources.json."""
    folder.mkdir(parents=True, exist_ok=True)
    with open_video(EXAMPLE_CLIP, frames=2 * SHOT_FRAMES) as reader:
        frames = list(reader)
    second_shot = [YuvFrame(*(plane[::-1, ::-1].copy() for plane in frame.planes())) for frame in frames[SHOT_FRAMES:]]
    video = folder / "two_shots.mkv"
    with create_video_writer(video, VideoInfo(416, 240, Fraction(25))) as writer:
        for frame in frames[:SHOT_FRAMES] + second_shot:
            writer.write(frame)
    photo = write_photo(folder / "photo.png", frames[0])
    write_index(folder, [
        index_entry(video, kind="video", licence="CC0", origin="tests", split=video_split),
        index_entry(photo, kind="photo", licence="CC0", origin="tests", split=photo_split),
    ])
    return folder


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sources(tmp_path_factory.mktemp("data") / "sources")


@pytest.fixture(scope="module")
def prepared(sources: Path) -> tuple[Path, dict]:
    dest = sources.parent / "prepared"
    return dest, prepare(sources, dest, SMALL)


def _decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray()[: frame.height] for frame in container.decode(video=0)]


def test_clips_are_consecutive_frames_and_never_cross_the_cut(prepared):
    _, manifest = prepared
    video = manifest["sources"][0]
    assert video["cuts"] == [SHOT_FRAMES]
    assert video["clip_starts"] == [0, 3, 6, 10, 13, 16]
    for start in video["clip_starts"]:
        assert (start < SHOT_FRAMES) == (start + 2 < SHOT_FRAMES), f"clip at {start} crosses the cut"


def test_frames_are_downscaled_to_the_short_side_in_multiples_of_4(prepared):
    _, manifest = prepared
    assert manifest["sources"][0]["prepared_size"] == "208x120"
    assert prepared_size(720, 405, 288) == (512, 288)
    assert prepared_size(640, 272, 288) == (640, 272), "never upscaled"
    assert prepared_size(451, 300, 512) == (448, 300), "sides become multiples of 4, never larger"
    assert prepared_size(640, 427, 512) == (640, 424)


def test_the_split_is_by_source_file(prepared):
    root, manifest = prepared
    splits = {shard["source"]: (shard["split"], shard["kind"]) for shard in manifest["shards"]}
    assert splits == {"two_shots.mkv": ("train", "clips"), "photo.png": ("validation", "stills")}
    assert (root / "train/clips/two_shots.mp4").is_file()
    assert (root / "validation/stills/photo.mp4").is_file()
    assert manifest["settings"]["validation"] == ["photo.png"]


def test_the_manifest_counts_what_the_shards_hold(prepared):
    root, manifest = prepared
    clips = next(shard for shard in manifest["shards"] if shard["kind"] == "clips")
    assert (clips["frames"], clips["clips"], clips["clip_frames"]) == (18, 6, 3)
    assert len(_decoded(root / clips["file"])) == 18
    assert manifest["totals"]["train"]["clips"] == 6
    assert manifest["totals"]["validation"]["stills"] == 1
    assert manifest["totals"]["bytes"] == sum((root / shard["file"]).stat().st_size for shard in manifest["shards"])
    assert manifest["sources"][0]["licence"] == "CC0" and len(manifest["sources"][0]["sha256"]) == 64


def test_shards_are_near_lossless_copies_of_the_downscaled_frames(prepared, sources: Path):
    root, manifest = prepared
    with av.open(str(sources / "two_shots.mkv")) as container:
        first = next(container.decode(video=0)).reformat(width=208, height=120, interpolation="AREA").to_ndarray()
    stored_y = untile(_decoded(root / "train/clips/two_shots.mp4")[0])[0]
    error = np.abs(stored_y.astype(int) - first[:120]).mean()
    assert error < 1.0
    assert all(shard["psnr_yuv_min"] > 40 for shard in manifest["shards"])


def test_the_same_sources_and_settings_give_the_same_bytes(prepared, sources: Path, tmp_path: Path):
    root, _ = prepared
    again = tmp_path / "again"
    prepare(sources, again, SMALL)
    files = sorted(path.relative_to(root) for path in root.rglob("*") if path.is_file())
    assert files == sorted(path.relative_to(again) for path in again.rglob("*") if path.is_file())
    for name in files:
        assert (root / name).read_bytes() == (again / name).read_bytes(), name


def test_validation_can_be_chosen_by_file_name(sources: Path, tmp_path: Path):
    manifest = prepare(sources, tmp_path / "set", PrepareSettings(**{**SMALL.__dict__, "validation": ("two_shots.mkv",)}))
    assert {shard["source"]: shard["split"] for shard in manifest["shards"]} == {
        "two_shots.mkv": "validation", "photo.png": "train"}


def test_an_unknown_validation_name_is_refused(sources: Path, tmp_path: Path):
    with pytest.raises(InputError, match="--validation names nosuch.mp4"):
        prepare(sources, tmp_path / "set", PrepareSettings(validation=("nosuch.mp4",)))


def test_dense_videos_pack_their_clips_back_to_back_whatever_the_spacing(sources: Path, tmp_path: Path):
    spaced = PrepareSettings(**{**SMALL.__dict__, "spacing": 0.4})
    assert prepare(sources, tmp_path / "spaced", spaced)["sources"][0]["clip_starts"] == [0, 10]
    dense = prepare(sources, tmp_path / "dense", PrepareSettings(**{**spaced.__dict__, "dense": ("two_shots.mkv",)}))
    assert dense["sources"][0]["clip_starts"] == [0, 3, 6, 10, 13, 16]
    assert dense["settings"]["dense"] == ["two_shots.mkv"]


def test_only_source_videos_can_be_dense(sources: Path, tmp_path: Path):
    for name in ("nosuch.mp4", "photo.png"):
        with pytest.raises(InputError, match=f"--dense names {name}, which is not among the source videos"):
            prepare(sources, tmp_path / "set", PrepareSettings(dense=(name,)))


def test_a_failed_run_leaves_no_set_and_no_temporary_folder(sources: Path, tmp_path: Path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "two_shots.mkv").write_bytes((sources / "two_shots.mkv").read_bytes()[:5000])
    write_index(broken, [index_entry(broken / "two_shots.mkv", kind="video", licence="CC0", origin="tests")])
    dest = tmp_path / "out" / "prepared"
    with pytest.raises(InputError):
        prepare(broken, dest, SMALL)
    assert list(dest.parent.iterdir()) == []


def test_a_folder_that_is_not_a_prepared_set_is_never_replaced(sources: Path):
    with pytest.raises(InputError, match="is not a prepared set"):
        prepare(sources, sources, SMALL)
    assert (sources / "two_shots.mkv").is_file()


def test_a_previous_prepared_set_is_replaced_whole(sources: Path, tmp_path: Path):
    dest = tmp_path / "prepared"
    prepare(sources, dest, SMALL)
    manifest = prepare(sources, dest, PrepareSettings(**{**SMALL.__dict__, "clip_frames": 5}))
    assert json.loads((dest / "manifest.json").read_text()) == manifest
    assert manifest["settings"]["clip_frames"] == 5
    assert [path.name for path in tmp_path.iterdir()] == ["prepared"]


def test_a_changed_source_file_is_refused(sources: Path, tmp_path: Path):
    copy = make_sources(tmp_path / "sources")
    with open(copy / "photo.png", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(InputError, match="does not match its sha256"):
        prepare(copy, tmp_path / "set", SMALL)
