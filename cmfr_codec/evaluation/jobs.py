"""One evaluation job: code a sequence with one codec at one rate point, decode it, score it.

Every codec goes through the same steps, so the numbers are comparable::

    source --encode--> coded data --(bytes counted: bpp, kbps)
                           |
                        decode --8-bit 4:2:0 frames at the source size--> SequenceScores <-- source

The learned codec writes a bitstream file with :func:`encode_video` and reads it back with
:func:`decode_video`; the baselines keep their packets in memory and decode exactly those bytes.
The encoder's own reconstruction is never scored.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cmfr_codec.errors import CmfrError
from cmfr_codec.evaluation.baselines import BASELINES, DecodeClock, decode_packets, encode_frames
from cmfr_codec.evaluation.settings import CodecSettings
from cmfr_codec.evaluation.sources import SourceSequence
from cmfr_codec.hierarchy import QualityHierarchy
from cmfr_codec.io import VideoReader
from cmfr_codec.io.frames import VideoInfo, YuvFrame
from cmfr_codec.metrics import SequenceScores, bits_per_pixel, kilobits_per_second

SEQUENCE_AVERAGING = (
    "quality: arithmetic mean of per-frame values (PSNR capped at 100 dB per frame before averaging); "
    "rate: total coded bytes of the sequence"
)


@dataclass(frozen=True)
class Job:
    """One (sequence, codec, quality) point; ``coding`` holds every setting that shapes its result."""

    sequence: SourceSequence
    info: VideoInfo
    codec: str
    quality: int
    quality_kind: str
    intra_period: int
    coding: dict[str, Any]

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.sequence.class_name, self.sequence.name, self.codec, self.quality)

    @property
    def label(self) -> str:
        return f"{self.codec} {self.quality_kind.replace('_', ' ')} {self.quality} on {self.sequence.label}"

    @property
    def identity(self) -> dict[str, Any]:
        """The fields a finished entry must match to stand for this job (``--resume``)."""
        return {
            "class": self.sequence.class_name,
            "sequence": self.sequence.name,
            "source": str(self.sequence.path),
            "codec": self.codec,
            "quality": self.quality,
            "quality_kind": self.quality_kind,
            "skip": self.sequence.skip,
            "frames": self.info.frame_count,
            "intra_period": self.intra_period,
            "coding": self.coding,
        }


def plan_jobs(
    sequences: list[tuple[SourceSequence, VideoInfo]],
    codecs: tuple[str, ...],
    settings: CodecSettings,
    intra_period: int,
    model_digest: str | None,
) -> list[Job]:
    """Every job, ordered by sequence, then codec, then rate point (the report's order)."""
    jobs = []
    for sequence, info in sequences:
        period = sequence.intra_period if sequence.intra_period is not None else intra_period
        for codec in codecs:
            for quality in settings.points(codec):
                jobs.append(
                    Job(sequence, info, codec, quality, settings.quality_kind(codec), period,
                        _coding(codec, quality, period, settings, model_digest))
                )
    return jobs


def _coding(codec: str, quality: int, intra_period: int, settings: CodecSettings, model_digest: str | None) -> dict[str, Any]:
    if codec == "cmfr":
        return {"model": settings.model, "model_digest": model_digest, "device": settings.device,
                "preset": settings.cmfr_preset, "hierarchy": asdict(settings.cmfr_hierarchy)}
    baseline = BASELINES[codec]
    preset = str(settings.av1_preset) if codec == "svtav1" else settings.preset
    rate_control = "crf" if codec == "svtav1" else settings.rate_control
    return {
        "encoder": baseline.encoder,
        "decoder": baseline.decoder,
        "options": baseline.options(quality, intra_period, preset, rate_control),
        "thread_type": "FRAME",
    }


class _TimedReader(VideoReader):
    """Passes frames through and adds up the time spent reading them, to leave it out of encode time."""

    def __init__(self, inner: VideoReader):
        super().__init__(inner.path, inner.info)
        self._inner = inner
        self.seconds = 0.0

    def _frames(self) -> Iterator[YuvFrame]:
        frames = iter(self._inner)
        while True:
            started = time.perf_counter()
            frame = next(frames, None)
            self.seconds += time.perf_counter() - started
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        self._inner.close()


@dataclass
class _Coded:
    """A job's coded data and decoded frames, before scoring."""

    coded_bytes: int
    coded_data: str
    frame_bytes: list[int]
    frame_types: list[str]
    encode_seconds: float
    decoded: Iterator[YuvFrame]
    decode_seconds: Callable[[], float]


_MODELS: dict[tuple[str, str], Any] = {}


def _model(name: str, device: str):
    """The loaded network, once per process (a worker runs many cmfr jobs)."""
    from cmfr_codec.weights import find_weights, load_model

    if (name, device) not in _MODELS:
        _MODELS[(name, device)] = load_model(find_weights(name), device)
    return _MODELS[(name, device)]


def _code_cmfr(job: Job, workdir: Path) -> _Coded:
    from cmfr_codec.bitstream import BitstreamReader
    from cmfr_codec.io import open_video
    from cmfr_codec.pipeline import decode_video, encode_video

    model = _model(job.coding["model"], job.coding["device"])
    bitstream, decoded_path = workdir / "coded.bin", workdir / "decoded.y4m"
    with _TimedReader(job.sequence.open()) as reader:
        started = time.perf_counter()
        encode_video(reader, bitstream, model, job.quality, job.intra_period, preset=job.coding["preset"],
                     hierarchy=QualityHierarchy(**job.coding["hierarchy"]))
        encode_seconds = time.perf_counter() - started - reader.seconds
    with BitstreamReader(bitstream) as coded:
        records = list(coded.scan())
        started = time.perf_counter()
        decode_video(coded, decoded_path, model)
        decode_seconds = time.perf_counter() - started
    decoded = open_video(decoded_path)

    def frames() -> Iterator[YuvFrame]:
        with decoded:
            yield from decoded

    return _Coded(
        coded_bytes=bitstream.stat().st_size,
        coded_data="bitstream file (header, frame records, seek index)",
        frame_bytes=[record.record_bytes for record in records],
        frame_types=[record.frame_type.value for record in records],
        encode_seconds=encode_seconds,
        decoded=frames(),
        decode_seconds=lambda: decode_seconds,
    )


def _code_baseline(job: Job) -> _Coded:
    baseline = BASELINES[job.codec]
    info = job.info
    with job.sequence.open() as reader:
        coded = encode_frames(baseline, job.coding["options"], reader, info.width, info.height, info.fps)
    if len(coded.packets) != info.frame_count:
        raise CmfrError(f"{job.label}: the encoder returned {len(coded.packets)} packets for {info.frame_count} frames")
    clock = DecodeClock()
    return _Coded(
        coded_bytes=coded.coded_bytes,
        coded_data="encoder packets, sizes added up (no container)"
        + (", less x264's user-data SEI" if baseline.drops_user_data_sei else ""),
        frame_bytes=[len(packet) for packet in coded.packets],
        frame_types=["I" if key else "P" for key in coded.keyframes],
        encode_seconds=coded.encode_seconds,
        decoded=decode_packets(baseline, coded.packets, info.width, info.height, clock),
        decode_seconds=lambda: clock.seconds,
    )


def _score(job: Job, decoded: Iterator[YuvFrame], msssim: bool) -> SequenceScores:
    scores = SequenceScores(msssim=msssim)
    with job.sequence.open() as reader:
        for number, source in enumerate(reader):
            candidate = next(decoded, None)
            if candidate is None:
                raise CmfrError(f"{job.label}: the decoder stopped after {number} frames")
            scores.add(source, candidate)
    if next(decoded, None) is not None:
        raise CmfrError(f"{job.label}: the decoder returned more frames than were coded")
    return scores


def _plain(values: dict[str, float]) -> dict[str, float | None]:
    # A skipped metric (--no-msssim) is nan; JSON has no nan, so it becomes null.
    return {key: None if isinstance(value, float) and math.isnan(value) else value for key, value in values.items()}


def _fps(frames: int, seconds: float) -> float | None:
    return frames / seconds if seconds > 0 else None


def run_job(job: Job, workdir: Path, msssim: bool = True) -> dict[str, Any]:
    """Code, decode and score one job; the report entry (see docs/eval.md for every key)."""
    workdir.mkdir(parents=True, exist_ok=True)
    coded = _code_cmfr(job, workdir) if job.codec == "cmfr" else _code_baseline(job)
    scores = _score(job, coded.decoded, msssim)
    decode_seconds = coded.decode_seconds()
    info = job.info
    frames = len(scores.frames)
    per_frame = [
        {
            "frame": number,
            "type": frame_type,
            "bytes": size,
            "bpp": bits_per_pixel(size, info.width, info.height, 1),
            "kbps": kilobits_per_second(size, 1, info.fps),
            **_plain(asdict(frame_scores)),
        }
        for number, (frame_type, size, frame_scores) in enumerate(
            zip(coded.frame_types, coded.frame_bytes, scores.frames, strict=True)
        )
    ]
    return {
        **job.identity,
        "width": info.width,
        "height": info.height,
        "fps": f"{info.fps.numerator}/{info.fps.denominator}",
        "coded_data": coded.coded_data,
        "coded_bytes": coded.coded_bytes,
        "bpp": bits_per_pixel(coded.coded_bytes, info.width, info.height, frames),
        "kbps": kilobits_per_second(coded.coded_bytes, frames, info.fps),
        **_plain(asdict(scores.mean())),
        "encode_seconds": coded.encode_seconds,
        "decode_seconds": decode_seconds,
        "encode_fps": _fps(frames, coded.encode_seconds),
        "decode_fps": _fps(frames, decode_seconds),
        "per_frame": per_frame,
    }
