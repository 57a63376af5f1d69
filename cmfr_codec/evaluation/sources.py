"""The sequences an evaluation codes: video files, folders of them, or a DCVC-style dataset config.

A dataset config is the JSON the DCVC repositories ship (``dataset_config_example_yuv420.json``)::

    {"root_path": "/media/data/",
     "test_classes": {
        "HEVC_D": {"test": 1, "base_path": "HEVC_D", "src_type": "yuv420",
                   "sequences": {"BasketballPass_416x240_50.yuv":
                                     {"width": 416, "height": 240, "frames": 96, "intra_period": 32}}}}}

A sequence lives at ``root_path/base_path/NAME``.  ``src_type`` is ``yuv420`` (raw 8-bit 4:2:0;
``.yuv`` is appended when the name lacks it, as DCVC does) or ``png`` (a folder of ``im1.png``,
``im2.png``, ... or ``im00001.png``, ...).  ``intra_period`` (older configs: ``gop``) of -1 means
only the first frame is intra; classes with ``"test": 0`` are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from cmfr_codec.errors import InputError
from cmfr_codec.io import VideoReader, open_video
from cmfr_codec.io.frames import VideoInfo, YuvFrame
from cmfr_codec.io.naming import DEFAULT_FPS, size_and_rate_from_name
from cmfr_codec.io.streams import selected_count

VIDEO_EXTENSIONS = (".yuv", ".y4m", ".mkv", ".mp4", ".mov", ".avi", ".webm", ".ivf", ".264", ".h264", ".265", ".hevc")
"""Files a folder input contributes; anything else in the folder is ignored."""

FILES_CLASS = "files"
"""The class of sequences named directly on the command line."""


@dataclass(frozen=True)
class SourceSequence:
    """One source sequence and how to read it.

    ``frames`` is how many frames to code (``None``: all); ``intra_period`` is the config's
    period, or ``None`` to use the command's.
    """

    class_name: str
    name: str
    path: Path
    src_type: str = "video"
    size: tuple[int, int] | None = None
    fps: Fraction | None = None
    frames: int | None = None
    skip: int = 0
    intra_period: int | None = None

    @property
    def label(self) -> str:
        return f"{self.class_name}/{self.name}"

    def open(self) -> VideoReader:
        """A fresh reader of the selected frames (every job opens its own)."""
        if self.src_type == "png":
            return PngFolderReader(self.path, fps=self.fps, skip=self.skip, frames=self.frames)
        return open_video(self.path, size=self.size, fps=self.fps, skip=self.skip, frames=self.frames)

    def probe(self) -> VideoInfo:
        """Size, rate and selected frame count, read once before any job starts (bad inputs fail early)."""
        with self.open() as reader:
            info = reader.info
            if info.frame_count is None:
                info = VideoInfo(info.width, info.height, info.fps, sum(1 for _ in reader))
        if not info.frame_count:
            raise InputError(f"no frames to evaluate in {self.path}")
        return info


class PngFolderReader(VideoReader):
    """A DCVC ``png`` sequence: ``im1.png``, ``im2.png``, ... (or ``im00001.png``) in one folder.

    Each picture is decoded by FFmpeg and converted like any RGB input (BT.709, limited range).
    """

    def __init__(self, path: Path, *, fps: Fraction | None = None, skip: int = 0, frames: int | None = None):
        if not path.is_dir():
            raise InputError(f"no such png sequence folder: {path}")
        self.path = path
        self._digits = _png_digits(path)
        total = 0
        while self._picture(total).is_file():
            total += 1
        count = selected_count(path, total, skip, frames)
        first = self._read(skip)
        name_rate = size_and_rate_from_name(path.name)
        rate = fps or (name_rate[2] if name_rate and name_rate[2] else DEFAULT_FPS)
        super().__init__(path, VideoInfo(first.width, first.height, Fraction(rate), count))
        self._skip = skip

    def _picture(self, index: int) -> Path:
        return self.path / f"im{index + 1:0{self._digits}d}.png"

    def _read(self, index: int) -> YuvFrame:
        import av

        from cmfr_codec.io.pyav import frame_planes, to_yuv420p

        picture = self._picture(index)
        try:
            with av.open(str(picture)) as container:
                return frame_planes(to_yuv420p(next(container.decode(video=0))))
        except (av.FFmpegError, StopIteration) as error:
            raise InputError(f"cannot read {picture}: {error}") from None

    def _frames(self) -> Iterator[YuvFrame]:
        for index in range(self._skip, self._skip + (self.info.frame_count or 0)):
            frame = self._read(index)
            if (frame.width, frame.height) != (self.info.width, self.info.height):
                raise InputError(f"{self._picture(index)} is {frame.width}x{frame.height}, unlike the first picture")
            yield frame


def _png_digits(folder: Path) -> int:
    if (folder / "im1.png").is_file():
        return 1
    if (folder / "im00001.png").is_file():
        return 5
    raise InputError(f"{folder} holds neither im1.png nor im00001.png, the DCVC png sequence names")


def collect_sequences(
    inputs: Sequence[Path],
    *,
    size: tuple[int, int] | None = None,
    fps: Fraction | None = None,
    frames: int | None = None,
    skip: int = 0,
) -> list[SourceSequence]:
    """Every sequence the inputs name, in order; ``frames`` caps a config's own frame count."""
    sequences: list[SourceSequence] = []
    for path in inputs:
        if path.suffix.lower() == ".json" and path.is_file():
            sequences += _config_sequences(path, frames, skip)
        elif path.is_dir():
            found = sorted(child for child in path.iterdir() if child.is_file() and child.suffix.lower() in VIDEO_EXTENSIONS)
            if not found:
                raise InputError(f"{path} holds no video files ({', '.join(VIDEO_EXTENSIONS)})")
            class_name = path.resolve().name
            sequences += [
                SourceSequence(class_name, child.name, child, size=size, fps=fps, frames=frames, skip=skip)
                for child in found
            ]
        elif path.exists():
            sequences.append(SourceSequence(FILES_CLASS, path.name, path, size=size, fps=fps, frames=frames, skip=skip))
        else:
            raise InputError(f"no such file or folder: {path}")
    seen: set[str] = set()
    for sequence in sequences:
        if sequence.label in seen:
            raise InputError(f"sequence {sequence.label} is named twice; evaluate each sequence once")
        seen.add(sequence.label)
    return sequences


def _config_sequences(path: Path, frames: int | None, skip: int) -> list[SourceSequence]:
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"cannot read dataset config {path}: {error}") from None
    if not isinstance(config, dict) or not isinstance(config.get("test_classes"), dict):
        raise InputError(f"{path} is not a dataset config: it has no 'test_classes' object")
    root = Path(str(config.get("root_path", "")))
    if not root.is_absolute():
        root = path.parent / root
    sequences = []
    for class_name, entry in config["test_classes"].items():
        where = f"{path}: class {class_name}"
        if not isinstance(entry, dict) or not isinstance(entry.get("sequences"), dict):
            raise InputError(f"{where} has no 'sequences' object")
        if not entry.get("test", 1):
            continue
        src_type = entry.get("src_type", "yuv420")
        if src_type not in ("yuv420", "png"):
            raise InputError(f"{where}: src_type {src_type!r} is not supported; use yuv420 or png")
        folder = root / str(entry.get("base_path", ""))
        for name, spec in entry["sequences"].items():
            sequences.append(_config_sequence(class_name, folder, name, spec, src_type, frames, skip, where))
    if not sequences:
        raise InputError(f"{path} selects no sequences (every class has \"test\": 0)")
    return sequences


def _config_sequence(
    class_name: str, folder: Path, name: str, spec: object, src_type: str, frames: int | None, skip: int, where: str
) -> SourceSequence:
    if not isinstance(spec, dict):
        raise InputError(f"{where}: sequence {name} needs an object with width, height and frames")
    try:
        size = (int(spec["width"]), int(spec["height"])) if "width" in spec else None
        count = int(spec["frames"]) if "frames" in spec else None
        period = spec.get("intra_period", spec.get("gop"))
        period = None if period is None else int(period)
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{where}: sequence {name} has a bad field: {error}") from None
    path = folder / name
    if src_type == "yuv420" and path.suffix.lower() != ".yuv" and not path.exists():
        path = path.with_name(path.name + ".yuv")
    if count is not None and frames is not None:
        count = min(count, frames)
    elif count is None:
        count = frames
    intra_period = None if period is None else max(period, 0)
    return SourceSequence(
        class_name, name, path, src_type="png" if src_type == "png" else "video",
        size=size if src_type == "yuv420" else None, frames=count, skip=skip, intra_period=intra_period,
    )
