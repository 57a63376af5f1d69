"""Writing shards: tiled ``yuv420p`` pictures (see :mod:`~cmfr_codec.data.layout`) as monochrome H.264 in MP4.

x264 codes the grey pictures at a constant quantiser (``qp``, 14 by default: about 51 dB PSNR-YUV
on Big Buck Bunny, see docs/data.md), with an IDR picture every ``key_interval`` pictures (the clip
length, so that every clip decodes on its own) and one encoder thread, which makes the output the
same bytes on every run.  Each packet is also decoded as it leaves the encoder, so the writer
knows what every decoder will return: the sha256 of the decoded pictures (the loader checks it)
and the PSNR of each frame against what was written.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange

from cmfr_codec.data.layout import tiled_shape, untile

DEFAULT_QP = 14
X264_PRESET = "medium"


@dataclass
class ShardSummary:
    """What a finished shard holds and how faithfully."""

    path: Path
    width: int
    height: int
    frames: int = 0
    decoded_sha256: str = ""
    psnr: list[float] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return self.path.stat().st_size


def psnr_yuv(reference: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR-YUV (6:1:1) in dB between two tiled pictures; 100 dB for identical ones."""
    scores = []
    for original, coded in zip(untile(reference), untile(decoded), strict=True):
        error = float(np.mean((original.astype(np.float64) - coded) ** 2))
        scores.append(100.0 if error == 0 else min(100.0, 10 * np.log10(255.0**2 / error)))
    return (6 * scores[0] + scores[1] + scores[2]) / 8


def picture_of(frame: av.VideoFrame) -> np.ndarray:
    """The first plane of a decoded frame (the tiled picture), without FFmpeg's line padding."""
    plane = frame.planes[0]
    return np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width].copy()


class ShardWriter:
    """An MP4 of monochrome H.264 written one tiled picture at a time; :meth:`close` returns its summary."""

    def __init__(self, path: Path, width: int, height: int, fps: Fraction, qp: int = DEFAULT_QP, key_interval: int = 1):
        if width % 4 or height % 4:
            raise ValueError(f"shard frames have sides that are multiples of 4, got {width}x{height}")
        rows, columns = tiled_shape(width, height)
        self.summary = ShardSummary(path, width, height)
        self._shape = (rows, columns)
        self._container = av.open(str(path), "w", format="mp4")
        x264_parameters = f"keyint={key_interval}:min-keyint={key_interval}:scenecut=0:open-gop=0:threads=1"
        self._stream = self._container.add_stream(
            "libx264", rate=fps, options={"preset": X264_PRESET, "qp": str(qp), "x264-params": x264_parameters}
        )
        self._stream.width, self._stream.height, self._stream.pix_fmt = columns, rows, "gray"
        self._stream.codec_context.color_range = ColorRange.JPEG
        self._stream.codec_context.thread_count = 1
        self._decoder: av.CodecContext | None = None
        self._waiting: deque[np.ndarray] = deque()
        self._digest = hashlib.sha256()

    def write(self, picture: np.ndarray) -> None:
        if picture.shape != self._shape or picture.dtype != np.uint8:
            raise ValueError(f"expected a {self._shape} uint8 picture, got {picture.dtype} {picture.shape}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="gray")
        frame.pts = self.summary.frames
        frame.color_range = ColorRange.JPEG
        self._waiting.append(picture)
        self.summary.frames += 1
        self._send(self._stream.encode(frame))

    def close(self) -> ShardSummary:
        self._send(self._stream.encode(None))
        if self._decoder is not None:
            self._check(self._decoder.decode(None))
        self._container.close()
        if self._waiting:
            raise RuntimeError(f"{len(self._waiting)} pictures of {self.summary.path} did not come back from the decoder")
        self.summary.decoded_sha256 = self._digest.hexdigest()
        return self.summary

    def abort(self) -> None:
        self._container.close()

    def _send(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            if self._decoder is None:
                # MP4 carries the parameter sets out of band, so the checking decoder gets them the same way.
                self._decoder = av.CodecContext.create("h264", "r")
                self._decoder.extradata = self._stream.codec_context.extradata
            self._check(self._decoder.decode(packet))
            self._container.mux(packet)

    def _check(self, frames: list[av.VideoFrame]) -> None:
        for frame in frames:
            decoded = picture_of(frame)
            self._digest.update(decoded.tobytes())
            self.summary.psnr.append(psnr_yuv(self._waiting.popleft(), decoded))
