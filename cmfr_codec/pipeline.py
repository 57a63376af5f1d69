"""Encoder and decoder pipelines: video frames <-> container records, one frame at a time.

::

    reader --YuvFrame--> SequenceEncoder --PendingRecord--> BitstreamWriter (one frame later)
                               | reconstruction (what the decoder will output) --> --recon writer
    BitstreamReader --FrameRecord--> SequenceDecoder --YuvFrame--> video writer

Only the current frame and the decoded picture buffer are in memory, so memory does not grow
with the sequence length.  Frames are padded once (replicate) to the model's grid on the way in
and cropped back on the way out.  The encoder's reconstruction is computed from exactly the
latents the decoder will see, so ``cmfr decode`` reproduces ``--recon`` bit for bit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from cmfr_codec.bitstream import BitstreamReader, BitstreamWriter, FrameRecord, FrameType, SequenceHeader
from cmfr_codec.entropy.bands import Answer, band_bytes, band_stream_names, deferred_band_coding
from cmfr_codec.errors import BitstreamError, InputError
from cmfr_codec.hierarchy import DEFAULT_HIERARCHY, QualityHierarchy
from cmfr_codec.io import VideoReader, create_video_writer
from cmfr_codec.io.frames import VideoInfo, YuvFrame
from cmfr_codec.models.analysis import fast_analysis
from cmfr_codec.models.codec import PADDING_MULTIPLE, CmfrCodec
from cmfr_codec.models.dpb import DecodedPictureBuffer
from cmfr_codec.models.inter import LATENT_STRIDE, MOTION_STREAM
from cmfr_codec.models.intra import FRAME_STREAM
from cmfr_codec.models.layers import pad_to_multiple, tensor_to_yuv420, yuv420_to_tensor
from cmfr_codec.presets import DEFAULT_PRESET, PRESETS
from cmfr_codec.refine import refined_analysis
from cmfr_codec.weights import LoadedModel

FrameCallback = Callable[["FrameReport"], None]

SUBSTREAM_NAMES = (FRAME_STREAM, MOTION_STREAM)
"""The latents' sub-streams, in the order of the header's name table; each may add row bands."""


MAX_DECODE_PIXELS_VARIABLE = "CMFR_MAX_DECODE_PIXELS"
DEFAULT_MAX_DECODE_PIXELS = 4096 * 2304
"""Luma pixels per frame the decoder accepts unless told otherwise: UHD 3840x2160 and DCI 4K
4096x2160 fit.  A header may announce up to 16384x16384, whose buffers would not fit memory,
so a file asking for more than this is refused before any network runs."""


@dataclass(frozen=True)
class FrameReport:
    """What a progress display needs after each frame."""

    number: int
    frame_type: FrameType
    record_bytes: int
    total_bytes: int


def frames_since_intra(number: int, intra_period: int) -> int:
    """How many frames frame ``number`` comes after the last I-frame (0: it is one)."""
    return number % intra_period if intra_period > 0 else number


def is_intra(number: int, intra_period: int) -> bool:
    """Frame 0 is always intra; then every ``intra_period``-th frame (never, for 0)."""
    return frames_since_intra(number, intra_period) == 0


def frame_to_tensor(frame: YuvFrame, device: str) -> torch.Tensor:
    """The frame as the model's padded half-resolution 6-channel tensor."""
    padded, _ = pad_to_multiple(yuv420_to_tensor(frame.y, frame.u, frame.v).to(device), PADDING_MULTIPLE)
    return padded


def model_grid(width: int, height: int) -> tuple[int, int]:
    """The padded half-resolution (h, w) on which the model codes a ``width`` x ``height`` sequence."""

    def padded(size: int) -> int:
        half = (size + 1) // 2
        return half + -half % PADDING_MULTIPLE

    return padded(height), padded(width)


def substream_names(width: int, height: int) -> tuple[str, ...]:
    """The header's name table for ``width`` x ``height``: each latent's name, then its band names.

    A latent's quadtree steps have half its rows, and frames tall enough may cut them into row
    bands ``NAME_1``, ``NAME_2``, ... (:mod:`cmfr_codec.entropy.bands`); small frames have none.
    """
    rows, _ = model_grid(width, height)
    step_rows = rows // LATENT_STRIDE // 2
    return tuple(name for stream in SUBSTREAM_NAMES for name in band_stream_names(stream, step_rows))


def tensor_to_frame(x_hat: torch.Tensor, width: int, height: int) -> YuvFrame:
    """The decoder's output frame: rounded to 8 bits and cropped to the sequence size."""
    return YuvFrame(*tensor_to_yuv420(x_hat.cpu(), height, width))


@dataclass(frozen=True)
class PendingRecord:
    """A coded frame whose row bands may still be in worker processes' hands (``resolve`` waits)."""

    frame_type: FrameType
    quality_index: int
    streams: dict[str, bytes | Answer]

    def resolve(self) -> FrameRecord:
        """The frame record, once every band's bytes are in."""
        return FrameRecord(self.frame_type, self.quality_index,
                           {name: band_bytes(data) for name, data in self.streams.items()})


class SequenceEncoder:
    """Codes the frames of one sequence in order, keeping the decoder's picture buffer.

    Each frame is coded at the quality index ``hierarchy`` gives it (:mod:`cmfr_codec.hierarchy`).
    """

    def __init__(self, model: LoadedModel, quality_index: int, intra_period: int, preset: str = DEFAULT_PRESET,
                 hierarchy: QualityHierarchy = DEFAULT_HIERARCHY):
        if preset not in PRESETS:
            raise InputError(f"unknown preset {preset!r}: the presets are {', '.join(PRESETS)}")
        self.model = model
        self.quality_index = quality_index
        self.intra_period = intra_period
        self.hierarchy = hierarchy
        self._shared: CmfrCodec | None = None
        """The codec of every frame, for the presets whose codec does not depend on the quality."""
        if preset == "fast":
            self._shared = fast_analysis(model.codec)
        elif preset == "medium":
            self._shared = model.codec
        self._refined: dict[int, CmfrCodec] = {}
        """``slow``'s codecs by quality index: each refines towards its own quality's lambda."""
        self._buffer: DecodedPictureBuffer | None = None
        self._count = 0

    def encode(self, frame: YuvFrame, reconstruct: bool = True) -> tuple[PendingRecord, YuvFrame | None]:
        """One frame -> its record and the reconstruction the decoder will produce (``None`` when
        not ``reconstruct``: the 8-bit picture costs a conversion that only ``--recon`` needs).

        Worker processes may still be coding the record's row bands: resolving it after the next
        frame's :meth:`encode` overlaps their work with that frame's networks.
        """
        position = frames_since_intra(self._count, self.intra_period)
        quality_index = self.hierarchy.frame_quality(self.quality_index, position)
        codec = self._codec(quality_index)
        x = frame_to_tensor(frame, self.model.device)
        with deferred_band_coding():
            if position == 0:
                decoded, streams = codec.intra.compress(x, quality_index)
                self._buffer = DecodedPictureBuffer(frame=decoded.x_hat)
                frame_type = FrameType.INTRA
            else:
                decoded, streams = codec.inter.compress(x, self._buffer, quality_index)
                self._buffer = decoded.dpb
                frame_type = FrameType.PREDICTED
        self._count += 1
        reconstruction = tensor_to_frame(decoded.x_hat, frame.width, frame.height) if reconstruct else None
        return PendingRecord(frame_type, quality_index, streams), reconstruction

    def _codec(self, quality_index: int) -> CmfrCodec:
        """The preset's codec for the frames of ``quality_index``."""
        if self._shared is not None:
            return self._shared
        if quality_index not in self._refined:
            self._refined[quality_index] = refined_analysis(self.model.codec, quality_index)
        return self._refined[quality_index]


def max_decode_pixels() -> int:
    """The decoder's frame-size limit: ``CMFR_MAX_DECODE_PIXELS`` when set, else the default."""
    value = os.environ.get(MAX_DECODE_PIXELS_VARIABLE)
    if value is None:
        return DEFAULT_MAX_DECODE_PIXELS
    if not value.isdecimal() or int(value) < 1:
        raise InputError(f"{MAX_DECODE_PIXELS_VARIABLE}={value!r} is not a positive whole number of pixels")
    return int(value)


class SequenceDecoder:
    """Decodes the records of one sequence in order, keeping the picture buffer.

    Frames larger than :func:`max_decode_pixels` are refused here, before any buffer exists.
    """

    def __init__(self, model: LoadedModel, header: SequenceHeader):
        limit = max_decode_pixels()
        if header.width * header.height > limit:
            raise BitstreamError(
                f"{header.width}x{header.height} frames exceed this decoder's limit of {limit} pixels "
                f"(set {MAX_DECODE_PIXELS_VARIABLE} to raise it)"
            )
        self.model = model
        self.width, self.height = header.width, header.height
        self._grid = model_grid(header.width, header.height)
        self._buffer: DecodedPictureBuffer | None = None

    def decode(self, number: int, record: FrameRecord) -> YuvFrame:
        """One record -> its frame; malformed coded data raises :class:`BitstreamError` naming the frame."""
        codec = self.model.codec
        try:
            if record.frame_type is FrameType.INTRA:
                decoded = codec.intra.decompress(record.substreams, record.quality_index, *self._grid)
                self._buffer = DecodedPictureBuffer(frame=decoded.x_hat)
            else:
                if self._buffer is None:
                    raise BitstreamError("a P-frame before any I-frame", frame=number)
                decoded = codec.inter.decompress(record.substreams, self._buffer, record.quality_index)
                self._buffer = decoded.dpb
        except BitstreamError as error:
            raise BitstreamError(error.detail, frame=number) from None
        except KeyError as error:
            raise BitstreamError(f"sub-stream {error} is missing", frame=number) from None
        return tensor_to_frame(decoded.x_hat, self.width, self.height)


@dataclass(frozen=True)
class CodingResult:
    """Totals of one encode or decode run."""

    frames: int
    file_bytes: int


def encode_video(
    reader: VideoReader,
    output_path: Path,
    model: LoadedModel,
    quality_index: int,
    intra_period: int,
    recon_path: Path | None = None,
    on_frame: FrameCallback | None = None,
    preset: str = DEFAULT_PRESET,
    hierarchy: QualityHierarchy = DEFAULT_HIERARCHY,
) -> CodingResult:
    """Encode every frame ``reader`` yields into ``output_path`` (and the reconstruction into
    ``recon_path``) with the encoder ``preset`` (:data:`PRESETS`), each frame at the quality
    ``hierarchy`` gives it; the header records the requested ``quality_index``."""
    info = reader.info
    header = SequenceHeader(
        model_name=model.name,
        weights_digest=model.digest,
        width=info.width,
        height=info.height,
        fps=info.fps,
        frame_count=info.frame_count or 0,
        quality_index=quality_index,
        intra_period=intra_period,
        substream_names=substream_names(info.width, info.height),
    )
    encoder = SequenceEncoder(model, quality_index, intra_period, preset, hierarchy)
    recon = create_video_writer(recon_path, info) if recon_path is not None else None
    frames = 0
    try:
        with BitstreamWriter(output_path, header) as writer:
            pending: PendingRecord | None = None  # written after the next frame's networks ran
            for frame in reader:
                record, reconstruction = encoder.encode(frame, reconstruct=recon is not None)
                if pending is not None:
                    _write_record(writer, pending, frames - 1, on_frame)
                pending = record
                frames += 1
                if recon is not None:
                    recon.write(reconstruction)
            if pending is None:
                raise InputError(f"{reader.path} has no frames to encode")
            _write_record(writer, pending, frames - 1, on_frame)
        if recon is not None:
            recon.close()
    except BaseException:
        if recon is not None:
            recon.abort()
        raise
    return CodingResult(frames=frames, file_bytes=output_path.stat().st_size)


def _write_record(writer: BitstreamWriter, record: PendingRecord, number: int, on_frame: FrameCallback | None) -> None:
    record_bytes = writer.write_frame(record.resolve())
    if on_frame is not None:
        on_frame(FrameReport(number, record.frame_type, record_bytes, writer.bytes_written))


def decode_video(
    reader: BitstreamReader,
    output_path: Path,
    model: LoadedModel,
    on_frame: FrameCallback | None = None,
) -> CodingResult:
    """Decode every record of ``reader`` into the video file ``output_path``."""
    header = reader.header
    decoder = SequenceDecoder(model, header)
    info = VideoInfo(header.width, header.height, header.fps, header.frame_count)
    total = reader.header_bytes
    with create_video_writer(output_path, info) as writer:
        for number, record in enumerate(reader):
            writer.write(decoder.decode(number, record))
            if on_frame is not None:
                total += record.payload_bytes
                on_frame(FrameReport(number, record.frame_type, record.payload_bytes, total))
    return CodingResult(frames=header.frame_count, file_bytes=reader.file_size)
