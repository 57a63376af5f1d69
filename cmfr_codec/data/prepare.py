"""``cmfr data prepare``: the fetched sources -> a compact training set of clips and stills.

For every video, one pass: decode (PyAV), convert to limited-range ``yuv420p`` the way the codec
reads any input (:func:`cmfr_codec.io.pyav.to_yuv420p`), downscale with an area filter so the short
side is ``size`` (never upscaled; this also washes out the sources' own coding artefacts), find
scene cuts and pick clips (:mod:`~cmfr_codec.data.scenes`), and append the clips to the video's
shard.  Every photo becomes a one-picture shard, converted and downscaled the same way but to the
short side ``still_size`` (the photos are few and mostly lossless PNG, so they keep more pixels);
RGB goes through the codec's BT.709 limited-range conversion here, so the loader never converts
colour.

Videos and photos are split by source file: a file is wholly in ``train`` or in ``validation``.
The result is built in a temporary folder beside ``dest`` and renamed into place only when
complete, so a failed or interrupted run leaves no half-written set (and the previous one, if
any, stays).  The manifest holds no time or path of this machine: the same sources and settings
give the same bytes (same versions of PyAV/FFmpeg/x264 and the same kind of CPU).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation

from cmfr_codec import __version__
from cmfr_codec.data.fetch import read_index
from cmfr_codec.data.layout import MANIFEST_FORMAT, MANIFEST_NAME, tile
from cmfr_codec.data.scenes import (
    CUT_RATIO,
    CUT_THRESHOLD,
    CUT_WINDOW,
    FLAT_THRESHOLD,
    Candidate,
    ClipSelector,
    SceneCutDetector,
    thumbnail,
)
from cmfr_codec.data.shards import DEFAULT_QP, X264_PRESET, ShardSummary, ShardWriter
from cmfr_codec.data.sources import PHOTO, TRAIN, VALIDATION, VIDEO
from cmfr_codec.digests import file_sha256
from cmfr_codec.errors import InputError
from cmfr_codec.io.pyav import frame_planes, to_yuv420p
from cmfr_codec.io.streams import describe_error

LAYOUT = (
    "each shard is an MP4 of monochrome H.264 (x264, full range); each picture tiles one limited-range "
    "yuv420p frame: Y (height x width) on top, U and V (height/2 x width/2 each) side by side below it"
)
SPLITS = (TRAIN, VALIDATION)


@dataclass(frozen=True)
class PrepareSettings:
    """Every choice that shapes the prepared set; all of it is recorded in the manifest."""

    size: int = 288
    still_size: int = 512
    clip_frames: int = 7
    spacing: float = 2.0
    validation_spacing: float = 0.0
    qp: int = DEFAULT_QP
    validation: tuple[str, ...] | None = None
    max_frames: int | None = None
    dense: tuple[str, ...] = ()
    """Training videos whose clips are packed back to back whatever ``spacing`` says: short camera
    clips, so that a few seconds of them give more than a handful of clips."""

    def check(self) -> None:
        for option, value in (("--size", self.size), ("--still-size", self.still_size)):
            if value < 16 or value % 4:
                raise InputError(f"{option} must be a multiple of 4 pixels, 16 or more, got {value}")
        if self.clip_frames < 1:
            raise InputError(f"--clip-frames must be 1 or more, got {self.clip_frames}")
        if self.spacing < 0 or self.validation_spacing < 0:
            raise InputError("--spacing and --validation-spacing must be 0 or more seconds")
        if not 0 <= self.qp <= 51:
            raise InputError(f"--qp must be 0..51, got {self.qp}")
        if self.max_frames is not None and self.max_frames < 1:
            raise InputError(f"--max-frames must be 1 or more, got {self.max_frames}")


class Tracker:
    """Progress callbacks; the CLI draws bars with them, the library default ignores them."""

    def begin(self, name: str, frames: int | None) -> None:
        """Work on source ``name`` starts; ``frames`` is its frame count if known."""

    def advance(self, frames: int) -> None:
        """``frames`` more frames of the current source were read."""


def prepared_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """The frame size whose short side is about ``short_side`` (at most the source's own).

    Both sides are multiples of 4, so the tiled picture has an even number of rows (H.264 pictures
    of odd height come back from some decoders slightly changed).
    """
    scale = min(1.0, short_side / min(width, height))

    def multiple_of_4(length: int) -> int:
        return max(4, min(4 * round(length * scale / 4), length - length % 4))

    return multiple_of_4(width), multiple_of_4(height)


def check_destination(dest: Path) -> None:
    """Refuse a ``--dest`` that holds anything other than a prepared set, before any work is done."""
    if not dest.exists():
        return
    if not dest.is_dir():
        raise InputError(f"{dest} exists and is not a folder")
    if any(dest.iterdir()) and not (dest / MANIFEST_NAME).is_file():
        raise InputError(f"{dest} exists and is not a prepared set (it has no {MANIFEST_NAME}); choose another --dest")


def prepare(sources: Path, dest: Path, settings: PrepareSettings | None = None, tracker: Tracker | None = None) -> dict:
    """Build the prepared set of ``sources`` (a folder with ``sources.json``) at ``dest``; returns the manifest."""
    settings = settings or PrepareSettings()
    settings.check()
    tracker = tracker or Tracker()
    entries = read_index(sources)
    splits = _splits(entries, settings.validation)
    _check_dense(entries, settings.dense)
    check_destination(dest)
    stems = [Path(entry["name"]).stem for entry in entries]
    if len(set(stems)) != len(stems):
        raise InputError(f"{sources}/sources.json lists two files with the same name stem; shards are named by it")
    for entry in entries:
        _check_source(sources, entry)
    dest.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        # mkdtemp makes the folder private (0700); the set gets the permissions of any new folder.
        umask = os.umask(0)
        os.umask(umask)
        building.chmod(0o777 & ~umask)
        records, shards = [], []
        for entry in entries:
            split = splits[entry["name"]]
            prepare_one = _prepare_video if entry["kind"] == VIDEO else _prepare_photo
            record, shard = prepare_one(sources / entry["name"], split, settings, building, tracker)
            records.append({**_described(entry), "split": split, **record})
            if shard is not None:
                shards.append(shard)
        if not shards:
            raise InputError(f"nothing was prepared from {sources}: no source gave a clip or a still")
        manifest = _manifest(settings, records, shards)
        (building / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _publish(building, dest)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return manifest


def _splits(entries: list[dict], validation: tuple[str, ...] | None) -> dict[str, str]:
    names = [entry["name"] for entry in entries]
    if validation is None:
        return {entry["name"]: entry["split"] for entry in entries}
    unknown = sorted(set(validation) - set(names))
    if unknown:
        raise InputError(f"--validation names {', '.join(unknown)}, which is not among the sources ({', '.join(names)})")
    return {name: VALIDATION if name in validation else TRAIN for name in names}


def _check_dense(entries: list[dict], dense: tuple[str, ...]) -> None:
    videos = [entry["name"] for entry in entries if entry["kind"] == VIDEO]
    unknown = sorted(set(dense) - set(videos))
    if unknown:
        raise InputError(f"--dense names {', '.join(unknown)}, which is not among the source videos ({', '.join(videos)})")


def _check_source(sources: Path, entry: dict) -> None:
    path = sources / entry["name"]
    if entry["kind"] not in (VIDEO, PHOTO) or entry["split"] not in SPLITS:
        raise InputError(f"{sources}/sources.json: {entry['name']} has kind {entry['kind']!r} and split "
                         f"{entry['split']!r}; kinds are {VIDEO}, {PHOTO} and splits {', '.join(SPLITS)}")
    if not path.is_file():
        raise InputError(f"{path} is listed in sources.json but missing (run 'cmfr data fetch --dest {sources}')")
    if file_sha256(path).hex() != entry["sha256"]:
        raise InputError(f"{path} does not match its sha256 in sources.json (run 'cmfr data fetch --dest {sources}')")


def _described(entry: dict) -> dict:
    return {field: entry.get(field, "") for field in ("name", "kind", "licence", "origin", "note", "sha256", "bytes")}


def _downscaled(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """The frame as limited-range yuv420p at ``width`` x ``height``, tiled."""
    scaled = to_yuv420p(frame).reformat(width=width, height=height, interpolation=Interpolation.AREA)
    return tile(*frame_planes(scaled).planes())


def _open(path: Path) -> av.container.InputContainer:
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as error:
        raise InputError(f"cannot read {path}: {describe_error(error)}") from error
    if not container.streams.video:
        container.close()
        raise InputError(f"cannot read {path}: it has no video stream")
    return container


def _shard_name(split: str, kind: str, source: Path) -> str:
    return f"{split}/{'clips' if kind == VIDEO else 'stills'}/{source.stem}.mp4"


class _LazyShard:
    """A shard writer opened at the first picture, so a source without any clip leaves no file."""

    def __init__(self, folder: Path, name: str, width: int, height: int, fps: Fraction, qp: int, key_interval: int):
        self.name = name
        self._arguments = (folder / name, width, height, fps, qp, key_interval)
        self._writer: ShardWriter | None = None

    def write(self, picture: np.ndarray) -> None:
        if self._writer is None:
            self._arguments[0].parent.mkdir(parents=True, exist_ok=True)
            self._writer = ShardWriter(*self._arguments)
        self._writer.write(picture)

    def close(self) -> ShardSummary | None:
        return None if self._writer is None else self._writer.close()

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()


def _prepare_video(path: Path, split: str, settings: PrepareSettings, folder: Path, tracker: Tracker):
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        source_width, source_height = stream.codec_context.width, stream.codec_context.height
        fps = Fraction(stream.average_rate or stream.guessed_rate or 25)
        width, height = prepared_size(source_width, source_height, settings.size)
        if split == VALIDATION:
            spacing = settings.validation_spacing
        else:
            spacing = 0.0 if path.name in settings.dense else settings.spacing
        detector = SceneCutDetector()
        selector: ClipSelector[np.ndarray] = ClipSelector(settings.clip_frames, round(spacing * fps))
        shard = _LazyShard(folder, _shard_name(split, VIDEO, path), width, height, fps, settings.qp, settings.clip_frames)
        pending: dict[int, Candidate[np.ndarray]] = {}
        cuts: list[int] = []
        clip_starts: list[int] = []

        def decide(decisions: list[tuple[int, bool]]) -> None:
            for index, starts_shot in decisions:
                if starts_shot and index > 0:
                    cuts.append(index)
                clip = selector.push(pending.pop(index), starts_shot)
                if clip is not None:
                    for frame in clip:
                        shard.write(frame.item)
                    clip_starts.append(clip[0].index)

        total = stream.frames or None
        if settings.max_frames is not None and total is not None:
            total = min(total, settings.max_frames)
        tracker.begin(path.name, total)
        read = 0
        try:
            for frame in _decoded(container, stream, path):
                if settings.max_frames is not None and read == settings.max_frames:
                    break
                picture = _downscaled(frame, width, height)
                thumb = thumbnail(picture[:height])
                pending[read] = Candidate(read, picture, float(thumb.std()))
                decide(detector.push(thumb))
                read += 1
                tracker.advance(1)
            decide(detector.finish())
            summary = shard.close()
        except BaseException:
            shard.abort()
            raise
    record = {
        "source_size": f"{source_width}x{source_height}",
        "fps": str(fps),
        "frames_read": read,
        "cuts": cuts,
        "clips": len(clip_starts),
        "clip_starts": clip_starts,
        "prepared_size": f"{width}x{height}",
        "shard": shard.name if summary else None,
    }
    return record, _shard_record(summary, shard.name, "clips", split, path.name, settings.clip_frames)


def _decoded(container: av.container.InputContainer, stream: av.VideoStream, path: Path):
    try:
        yield from container.decode(stream)
    except av.FFmpegError as error:
        raise InputError(f"cannot read {path}: {describe_error(error)}") from error


def _prepare_photo(path: Path, split: str, settings: PrepareSettings, folder: Path, tracker: Tracker):
    tracker.begin(path.name, 1)
    with _open(path) as container:
        frame = next(iter(_decoded(container, container.streams.video[0], path)), None)
        if frame is None:
            raise InputError(f"cannot read {path}: no picture could be decoded")
        width, height = prepared_size(frame.width, frame.height, settings.still_size)
        name = _shard_name(split, PHOTO, path)
        shard = _LazyShard(folder, name, width, height, Fraction(1), settings.qp, 1)
        try:
            shard.write(_downscaled(frame, width, height))
            summary = shard.close()
        except BaseException:
            shard.abort()
            raise
    tracker.advance(1)
    record = {"source_size": f"{frame.width}x{frame.height}", "stills": 1, "prepared_size": f"{width}x{height}", "shard": name}
    return record, _shard_record(summary, name, "stills", split, path.name, 1)


def _shard_record(summary: ShardSummary | None, name: str, kind: str, split: str, source: str, clip_frames: int) -> dict | None:
    if summary is None:
        return None
    return {
        "file": name,
        "kind": kind,
        "split": split,
        "source": source,
        "width": summary.width,
        "height": summary.height,
        "frames": summary.frames,
        "clip_frames": clip_frames,
        "clips": summary.frames // clip_frames,
        "bytes": summary.bytes,
        "sha256": file_sha256(summary.path).hex(),
        "decoded_sha256": summary.decoded_sha256,
        "psnr_yuv_mean": round(float(np.mean(summary.psnr)), 3),
        "psnr_yuv_min": round(float(np.min(summary.psnr)), 3),
    }


def _manifest(settings: PrepareSettings, records: list[dict], shards: list[dict]) -> dict:
    totals: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        mine = [shard for shard in shards if shard["split"] == split]
        totals[split] = {
            "clips": sum(shard["clips"] for shard in mine if shard["kind"] == "clips"),
            "clip_frames_total": sum(shard["frames"] for shard in mine if shard["kind"] == "clips"),
            "stills": sum(shard["frames"] for shard in mine if shard["kind"] == "stills"),
            "bytes": sum(shard["bytes"] for shard in mine),
        }
    recorded = asdict(settings)
    recorded["validation"] = sorted(record["name"] for record in records if record["split"] == VALIDATION)
    recorded["dense"] = sorted(settings.dense)
    return {
        "format": MANIFEST_FORMAT,
        "layout": LAYOUT,
        "settings": {
            **recorded,
            "x264_preset": X264_PRESET,
            "cut_threshold": CUT_THRESHOLD,
            "cut_ratio": CUT_RATIO,
            "cut_window": CUT_WINDOW,
            "flat_threshold": FLAT_THRESHOLD,
        },
        "software": {"cmfr_codec": __version__, "av": av.__version__, "libavcodec": _library_version("libavcodec")},
        "sources": records,
        "shards": shards,
        "totals": {**totals, "bytes": sum(shard["bytes"] for shard in shards)},
    }


def _library_version(name: str) -> str:
    version = av.library_versions.get(name)
    return ".".join(str(part) for part in version) if version else "unknown"


def _publish(building: Path, dest: Path) -> None:
    """Put the finished set at ``dest``, replacing a previous prepared set there."""
    if not dest.exists():
        building.rename(dest)
        return
    check_destination(dest)
    retired = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
    dest.rename(retired / dest.name)
    building.rename(dest)
    shutil.rmtree(retired, ignore_errors=True)

