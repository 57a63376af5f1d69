"""Encode and decode frame rates of cmfr next to x264 and x265, split into network, entropy coding and I/O.

    python benchmarks/speed.py [--models cmfr-s[,cmfr-base]] [--sizes 1920x1080,1280x720,832x480]
        [--frames 8] [--device auto|cpu|cuda] [--presets medium,fast] [--quality 32] [--crf 32]
        [--intra-period 32] [--baselines x264,x265] [--workdir DIR] [--write-docs]

Frames are the example clip scaled to each size with PyAV (real content), written once to a raw
``.yuv`` file that every codec reads.  A run codes ``--frames`` frames (one I-frame, then P-frames
until the intra period; x264 and x265 get the same period) and decodes them back to a ``.yuv``
file, all timed end to end:

    encode: read the .yuv  ->  code  ->  write the coded file      (cmfr: its bitstream container)
    decode: read the coded file  ->  decode  ->  write the .yuv

cmfr runs the real pipeline classes (SequenceEncoder / SequenceDecoder) and the real container
(BitstreamWriter / BitstreamReader).  Its time is split three ways: I/O (the reads and writes
above), entropy coding (time inside the entropy coders' push and pop, as every coding path goes
through them) and network (the rest: the networks and the tensor conversions around them).
x264 and x265 run through PyAV with the low-delay settings ``cmfr eval`` uses
(cmfr_codec/evaluation/baselines.py: medium preset, no B-frames, thread_type FRAME, libavcodec's
automatic thread count); their packets go to a file as length-prefixed records and are read back
before decoding.  Their time is split into I/O and the codec itself.  Baselines run on the CPU.

``--device auto`` measures cmfr on the CPU and, when torch sees a usable GPU, on the GPU too.
``--presets`` names cmfr's encoder presets to measure (cmfr_codec/presets.py): ``medium`` runs every
network in fp32; ``fast`` runs the encoder-only networks in bf16 where the device has it natively
(the preset column then reads "fast (bf16)", else "fast (fp32)") and estimates motion at half
resolution.  Decoding is the same networks in fp32 whatever the preset.  A model named in
``--models`` that has no installed weights but is a preset (cmfr-base today) is built randomly
initialised (seed 0) and marked "untrained": its networks cost what trained ones would, its
entropy coders code other symbols.  Each configuration codes and decodes two frames once,
untimed, before it is measured (lazy initialisation, CUDA start-up).

``--write-docs`` replaces the block between the speed-table markers in docs/performance.md with
the command, the machine and the table, so the figure there always comes from this script; a run
with GPU rows goes into the GPU block (``speed-table-gpu``), so the two machines' tables stand
side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import shlex
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import torch

from cmfr_codec.bitstream import BitstreamReader, BitstreamWriter, SequenceHeader
from cmfr_codec.device import resolve_device
from cmfr_codec.entropy import FactorizedCoder
from cmfr_codec.entropy.bands import BandDecoder
from cmfr_codec.errors import CmfrError, InputError, ModelError
from cmfr_codec.evaluation.baselines import BASELINES, DecodeClock, decode_packets, encode_frames
from cmfr_codec.evaluation.report import environment
from cmfr_codec.evaluation.settings import DEFAULT_INTRA_PERIOD, DEFAULT_PRESET
from cmfr_codec.io import VideoInfo, YuvFrame, create_video_writer, open_video, parse_size
from cmfr_codec.io.pyav import frame_planes
from cmfr_codec.models import latent_codecs
from cmfr_codec.models.analysis import native_bfloat16
from cmfr_codec.models.codec import CmfrCodec
from cmfr_codec.models.config import PRESETS
from cmfr_codec.models.stripes import worker_count
from cmfr_codec.pipeline import PendingRecord, SequenceDecoder, SequenceEncoder, substream_names
from cmfr_codec.presets import DEFAULT_PRESET as DEFAULT_CMFR_PRESET
from cmfr_codec.presets import PRESETS as ENCODER_PRESETS
from cmfr_codec.weights import LoadedModel, WeightsFiles, find_weights, load_model, save_weights

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "city_416x240_25fps.mkv"
DOCS = REPO / "docs" / "performance.md"
DOCS_BEGIN, DOCS_END = "<!-- speed-table:begin -->", "<!-- speed-table:end -->"
GPU_DOCS_BEGIN, GPU_DOCS_END = "<!-- speed-table-gpu:begin -->", "<!-- speed-table-gpu:end -->"

BASELINE_CODECS = ("x264", "x265")
WARM_UP_FRAMES = 2
THREAD_VARIABLES = ("CMFR_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES")
_END = object()
TIMED_PRESETS = ("medium", "fast")
"""The presets timed by default: ``slow`` (latent refinement) codes a 1080p frame in minutes on a CPU."""


@dataclass(frozen=True)
class Settings:
    """What one benchmark run measures."""

    models: tuple[str, ...] = ("cmfr-s",)
    sizes: tuple[tuple[int, int], ...] = ((1920, 1080), (1280, 720), (832, 480))
    frames: int = 8
    devices: tuple[str, ...] = ("cpu",)
    presets: tuple[str, ...] = TIMED_PRESETS
    baselines: tuple[str, ...] = BASELINE_CODECS
    quality: int = 32
    crf: int = 32
    intra_period: int = DEFAULT_INTRA_PERIOD


@dataclass(frozen=True)
class Timing:
    """Seconds per part of one encode or decode run of ``frames`` frames; the parts add up to the whole."""

    frames: int
    seconds: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    @property
    def fps(self) -> float:
        return self.frames / self.total

    def share(self, part: str) -> float | None:
        """The fraction of the time ``part`` took, or None when this codec's time has no such part."""
        return self.seconds[part] / self.total if part in self.seconds else None


@dataclass(frozen=True)
class Row:
    """One line of the table: a codec on a device at one size."""

    codec: str
    device: str
    preset: str
    threads: str
    width: int
    height: int
    encode: Timing
    decode: Timing

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


class PartClock:
    """Wall time of a run and the seconds spent in its named parts; the rest is the codec's own work."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.wall = 0.0

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started

    @contextlib.contextmanager
    def whole(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - started

    def timed(self, items: Iterable, name: str) -> Iterator:
        """``items`` passed through, the time spent fetching each one counted as ``name``."""
        iterator = iter(items)
        while True:
            with self.part(name):
                item = next(iterator, _END)
            if item is _END:
                return
            yield item

    def timing(self, frames: int, rest: str, **measured: float) -> Timing:
        """The run's parts: the clock's own, ``measured`` ones, and ``rest`` for the wall time left over."""
        parts = {**self.seconds, **measured}
        return Timing(frames, {rest: self.wall - sum(parts.values()), **parts})


class EntropyTimer:
    """Wraps every entry to the entropy coders to count their wall time in this process: the row
    bands' coding and popping (waits for worker processes included) and the hyper-latents' coder."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._originals: list[tuple[object, str, Callable]] = []

    def __enter__(self) -> EntropyTimer:
        entries = [(latent_codecs, "encode_bands"), (BandDecoder, "pop"), (BandDecoder, "finish"),
                   (FactorizedCoder, "push"), (FactorizedCoder, "pop"), (PendingRecord, "resolve")]
        for owner, name in entries:
            original = getattr(owner, name)
            self._originals.append((owner, name, original))
            setattr(owner, name, self._timed(original))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for coder, name, original in self._originals:
            setattr(coder, name, original)

    def _timed(self, function: Callable) -> Callable:
        def timed(*arguments, **keywords):
            started = time.perf_counter()
            try:
                return function(*arguments, **keywords)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


# Source frames and models


def clip_frames(width: int, height: int, count: int) -> list[YuvFrame]:
    """The first ``count`` frames of the example clip, scaled to ``width`` x ``height`` by FFmpeg."""
    frames = []
    with av.open(str(EXAMPLE)) as container:
        for decoded in container.decode(video=0):
            frames.append(frame_planes(decoded.reformat(width=width, height=height, format="yuv420p")))
            if len(frames) == count:
                return frames
    raise InputError(f"--frames {count}: the example clip has only {len(frames)} frames")


def write_source(folder: Path, frames: list[YuvFrame]) -> Path:
    """The frames as a raw ``.yuv`` file named with its size and rate, as every codec will read it."""
    width, height = frames[0].width, frames[0].height
    path = folder / f"source_{width}x{height}_25.yuv"
    with create_video_writer(path, VideoInfo(width, height, Fraction(25), len(frames))) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def weights_for(model: str, folder: Path) -> tuple[WeightsFiles, bool]:
    """The weights files of ``model`` and whether they are trained.

    An installed name or a weights path gives those files; a preset name with no installed
    weights gives a randomly initialised model (seed 0), saved in ``folder``.
    """
    try:
        return find_weights(model), True
    except ModelError:
        if model not in PRESETS:
            raise
    torch.manual_seed(0)
    codec = CmfrCodec(PRESETS[model]).eval()
    codec.update_tables()
    return save_weights(codec, folder / f"{model}-random"), False


# cmfr


def encode_cmfr(model: LoadedModel, source: Path, bitstream: Path, settings: Settings,
                frames: int | None = None, preset: str = DEFAULT_CMFR_PRESET) -> Timing:
    """Encode ``source`` (its first ``frames`` frames) into the bitstream file, timed part by part."""
    clock = PartClock()
    with EntropyTimer() as entropy, clock.whole():
        with clock.part("io"):
            reader = open_video(source, frames=frames)
        info = reader.info
        header = SequenceHeader(
            model_name=model.name, weights_digest=model.digest, width=info.width, height=info.height,
            fps=info.fps, frame_count=info.frame_count or 0, quality_index=settings.quality,
            intra_period=settings.intra_period, substream_names=substream_names(info.width, info.height),
        )
        encoder = SequenceEncoder(model, settings.quality, settings.intra_period, preset)
        with clock.part("io"):
            writer = BitstreamWriter(bitstream, header)
        pending = []  # as encode_video: a record is written after the next frame's networks ran
        for frame in clock.timed(reader, "io"):
            pending.append(encoder.encode(frame, reconstruct=False)[0])
            if len(pending) == 2:
                write_record(clock, writer, pending.pop(0))
        for record in pending:
            write_record(clock, writer, record)
        with clock.part("io"):
            writer.close()
            reader.close()
    return clock.timing(info.frame_count or 0, rest="network", entropy=entropy.seconds)


def write_record(clock: PartClock, writer: BitstreamWriter, record: PendingRecord) -> None:
    resolved = record.resolve()  # waiting for worker processes' bands: entropy time (EntropyTimer)
    with clock.part("io"):
        writer.write_frame(resolved)


def decode_cmfr(model: LoadedModel, bitstream: Path, output: Path) -> Timing:
    """Decode the bitstream file into the ``.yuv`` file, timed part by part."""
    clock = PartClock()
    with EntropyTimer() as entropy, clock.whole():
        with clock.part("io"):
            reader = BitstreamReader(bitstream)
            header = reader.header
            writer = create_video_writer(output, VideoInfo(header.width, header.height, header.fps, header.frame_count))
        decoder = SequenceDecoder(model, header)
        for number, record in enumerate(clock.timed(reader, "io")):
            frame = decoder.decode(number, record)
            with clock.part("io"):
                writer.write(frame)
        with clock.part("io"):
            writer.close()
            reader.close()
    return clock.timing(writer.frames_written, rest="network", entropy=entropy.seconds)


def measure_cmfr(model: LoadedModel, label: str, preset: str, source: Path, info: VideoInfo,
                 settings: Settings) -> Row:
    """One cmfr row: a warm-up on the first frames, then the timed encode and decode of the whole source."""
    bitstream, output = source.with_name("cmfr.bin"), source.with_name("cmfr_decoded.yuv")
    encode_cmfr(model, source, bitstream, settings, frames=WARM_UP_FRAMES, preset=preset)
    decode_cmfr(model, bitstream, output)
    encoding = encode_cmfr(model, source, bitstream, settings, preset=preset)
    decoding = decode_cmfr(model, bitstream, output)
    check_frame_count(label, encoding, decoding)
    # Coding runs on one torch thread; on the CPU its convolutions share the stripe workers.
    threads = worker_count() if model.device == "cpu" else 1
    return Row(label, model.device, preset_label(preset, model.device), str(threads), info.width, info.height,
               encoding, decoding)


def preset_label(preset: str, device: str) -> str:
    """The preset column: ``fast`` says whether its encoder-only networks ran in bf16 on ``device``."""
    if preset == "medium":
        return preset
    return f"{preset} ({'bf16' if native_bfloat16(device) else 'fp32'})"


# x264 and x265


def baseline_options(name: str, settings: Settings) -> dict[str, str]:
    """The encoder options ``cmfr eval`` gives ``name`` at this CRF and intra period (medium preset)."""
    return BASELINES[name].options(settings.crf, settings.intra_period, DEFAULT_PRESET, "crf")


def write_packets(path: Path, packets: list[bytes]) -> None:
    with open(path, "wb") as handle:
        for packet in packets:
            handle.write(len(packet).to_bytes(4, "big"))
            handle.write(packet)


def read_packets(path: Path) -> list[bytes]:
    data, packets, position = path.read_bytes(), [], 0
    while position < len(data):
        size = int.from_bytes(data[position : position + 4], "big")
        packets.append(data[position + 4 : position + 4 + size])
        position += 4 + size
    return packets


def encode_baseline(name: str, source: Path, coded: Path, settings: Settings, frames: int | None = None) -> Timing:
    """Encode ``source`` with x264 or x265 into a packets file, timed: I/O and the encoder."""
    clock = PartClock()
    with clock.whole():
        with clock.part("io"):
            reader = open_video(source, frames=frames)
        info = reader.info
        sequence = encode_frames(BASELINES[name], baseline_options(name, settings), clock.timed(reader, "io"),
                                 info.width, info.height, info.fps)
        with clock.part("io"):
            write_packets(coded, sequence.packets)
            reader.close()
    if len(sequence.packets) != info.frame_count:
        raise CmfrError(f"{name} returned {len(sequence.packets)} packets for {info.frame_count} frames")
    return clock.timing(len(sequence.packets), rest="codec")


def decode_baseline(name: str, coded: Path, output: Path, info: VideoInfo) -> Timing:
    """Decode the packets file into the ``.yuv`` file, timed: I/O and the decoder."""
    clock = PartClock()
    with clock.whole():
        with clock.part("io"):
            packets = read_packets(coded)
            writer = create_video_writer(output, info)
        for frame in decode_packets(BASELINES[name], packets, info.width, info.height, DecodeClock()):
            with clock.part("io"):
                writer.write(frame)
        with clock.part("io"):
            writer.close()
    return clock.timing(writer.frames_written, rest="codec")


def measure_baseline(name: str, source: Path, info: VideoInfo, settings: Settings) -> Row:
    """One x264 or x265 row: a warm-up on the first frames, then the timed encode and decode of the whole source."""
    coded, output = source.with_name(f"{name}.packets"), source.with_name(f"{name}_decoded.yuv")
    encode_baseline(name, source, coded, settings, frames=WARM_UP_FRAMES)
    decode_baseline(name, coded, output, info)
    encoding = encode_baseline(name, source, coded, settings)
    decoding = decode_baseline(name, coded, output, info)
    check_frame_count(name, encoding, decoding)
    return Row(name, "cpu", "-", "auto", info.width, info.height, encoding, decoding)


def check_frame_count(codec: str, encoding: Timing, decoding: Timing) -> None:
    if decoding.frames != encoding.frames:
        raise CmfrError(f"{codec}: {encoding.frames} frames encoded but {decoding.frames} decoded")


# The run


def run_benchmark(settings: Settings, workdir: Path, on_row: Callable[[Row], None] = lambda row: None) -> list[Row]:
    """Every row: per size, cmfr for each model, device and preset, then each baseline."""
    workdir.mkdir(parents=True, exist_ok=True)
    weights = [weights_for(model, workdir) for model in settings.models]
    models = [(load_model(files, device), trained) for files, trained in weights for device in settings.devices]
    rows = []

    def keep(row: Row) -> None:
        on_row(row)
        rows.append(row)

    for width, height in settings.sizes:
        folder = workdir / f"{width}x{height}"
        folder.mkdir(exist_ok=True)
        source = write_source(folder, clip_frames(width, height, settings.frames))
        info = VideoInfo(width, height, Fraction(25), settings.frames)
        for model, trained in models:
            for preset in settings.presets:
                keep(measure_cmfr(model, cmfr_label(model, trained), preset, source, info, settings))
        for name in settings.baselines:
            keep(measure_baseline(name, source, info, settings))
    return rows


def cmfr_label(model: LoadedModel, trained: bool) -> str:
    return model.name if trained else f"{model.name} (untrained)"


# Output


def format_fps(fps: float) -> str:
    if fps >= 100:
        return f"{fps:.0f}"
    if fps >= 10:
        return f"{fps:.1f}"
    return f"{fps:.2f}" if fps >= 1 else f"{fps:.3f}"


def format_share(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f}"


def format_table(rows: list[Row]) -> str:
    """A plain-text table: one line per row, frame rates and each part's share of the time in %."""
    split_parts = ("network", "entropy", "io")
    header = ["size", "codec", "device", "preset", "threads", "frames",
              "enc fps", "net %", "ent %", "I/O %", "dec fps", "net %", "ent %", "I/O %"]
    lines = [header]
    for row in rows:
        cells = [row.size, row.codec, row.device, row.preset, row.threads, str(row.encode.frames)]
        for timing in (row.encode, row.decode):
            cells += [format_fps(timing.fps), *(format_share(timing.share(part)) for part in split_parts)]
        lines.append(cells)
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    left = {"size", "codec", "device", "preset"}
    return "\n".join(
        "  ".join(cell.ljust(width) if name in left else cell.rjust(width)
                  for cell, width, name in zip(line, widths, header, strict=True)).rstrip()
        for line in lines
    )


TABLE_NOTE = ("net/ent/I/O %: share of the time in the networks, the entropy coders and file I/O; "
              "x264/x265 time is not split: the rest after I/O is the codec.")


def machine_line(devices: tuple[str, ...]) -> str:
    """The machine the timings come from: CPU, cores, GPU when used, torch and its build, PyAV, thread settings."""
    facts = environment("cuda" if "cuda" in devices else "cpu", torch.get_num_threads())
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only build"
    threads = ", ".join(thread_settings())
    return (
        f"{facts['cpu']}, {facts['logical_cpus']} logical CPUs, {facts['machine']}, {facts['gpu'] or 'no GPU'}; "
        f"torch {facts['torch']} ({build}), PyAV {facts['pyav']} (libavcodec {facts['ffmpeg_libavcodec']})"
        + (f"; {threads}" if threads else "")
    )


def thread_settings() -> list[str]:
    """The environment variables set in this run that choose threads or GPUs, as NAME=VALUE."""
    return [f"{name}={os.environ[name]}" for name in THREAD_VARIABLES if name in os.environ]


def command_line(arguments: list[str]) -> str:
    """The command as run, with the thread settings that shape it in front."""
    return " ".join([*thread_settings(), "python", "benchmarks/speed.py", *map(shlex.quote, arguments)])


def docs_block(command: str, machine: str, frames: int, table: str) -> str:
    today = datetime.date.today().isoformat()
    return (
        f"Made on {today} by\n\n```\n{command}\n```\n\n"
        f"on {machine}. {frames} frames per run.\n\n```\n{table}\n```\n\n{TABLE_NOTE}\n"
    )


def docs_markers(devices: tuple[str, ...]) -> tuple[str, str]:
    """The block a run's table goes to: the GPU block when it measured a GPU, else the CPU block."""
    return (GPU_DOCS_BEGIN, GPU_DOCS_END) if "cuda" in devices else (DOCS_BEGIN, DOCS_END)


def replace_marked_block(text: str, block: str, markers: tuple[str, str] = (DOCS_BEGIN, DOCS_END)) -> str:
    """``text`` with everything between the ``markers`` (begin, end) replaced by ``block``."""
    begin_marker, end_marker = markers
    begin, end = text.find(begin_marker), text.find(end_marker)
    if begin < 0 or end < begin:
        raise InputError(f"no {begin_marker} ... {end_marker} block to replace")
    return text[: begin + len(begin_marker)] + "\n" + block + text[end:]


# Command line


def parse_list(text: str, allowed: tuple[str, ...] | None, option: str) -> tuple[str, ...]:
    values = tuple(value.strip() for value in text.split(",") if value.strip())
    unknown = [value for value in values if allowed is not None and value not in allowed]
    if unknown:
        raise InputError(f"{option}: unknown {unknown[0]!r}; choose from {', '.join(allowed)}")
    return values


def devices_for(choice: str) -> tuple[str, ...]:
    """``auto``: the CPU, and the GPU when torch sees a usable one; ``cpu`` or ``cuda``: that device only."""
    if choice == "auto":
        return ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
    return (resolve_device(choice),)


def parse_arguments(arguments: list[str]) -> tuple[Settings, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="cmfr-s", help="installed names, weights paths or presets (default cmfr-s)")
    parser.add_argument("--sizes", default="1920x1080,1280x720,832x480", help="WxH,... (default 1080p, 720p, 832x480)")
    parser.add_argument("--frames", type=int, default=8, help="frames per run: one I-frame, then P-frames (default 8)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="where cmfr's networks run (default auto: CPU, and the GPU when there is one)")
    parser.add_argument("--presets", default=",".join(TIMED_PRESETS),
                        help=f"cmfr encoder presets, of {','.join(ENCODER_PRESETS)} (default {','.join(TIMED_PRESETS)})")
    parser.add_argument("--quality", type=int, default=32, help="cmfr quality index (default 32)")
    parser.add_argument("--crf", type=int, default=32, help="x264/x265 CRF (default 32)")
    parser.add_argument("--intra-period", type=int, default=DEFAULT_INTRA_PERIOD,
                        help=f"I-frame period of every codec (default {DEFAULT_INTRA_PERIOD})")
    parser.add_argument("--baselines", default=",".join(BASELINE_CODECS), help="x264,x265 or a subset; '' for none")
    parser.add_argument("--workdir", type=Path, default=None, help="where the files go (default: a temporary folder)")
    parser.add_argument("--write-docs", action="store_true", help=f"replace the speed table in {DOCS.relative_to(REPO)}")
    namespace = parser.parse_args(arguments)
    if namespace.frames < 1:
        parser.error("--frames must be at least 1")
    settings = Settings(
        models=parse_list(namespace.models, None, "--models"),
        sizes=tuple(parse_size(size) for size in parse_list(namespace.sizes, None, "--sizes")),
        frames=namespace.frames,
        devices=devices_for(namespace.device),
        presets=parse_list(namespace.presets, ENCODER_PRESETS, "--presets"),
        baselines=parse_list(namespace.baselines, BASELINE_CODECS, "--baselines"),
        quality=namespace.quality,
        crf=namespace.crf,
        intra_period=namespace.intra_period,
    )
    return settings, namespace


def main(arguments: list[str]) -> None:
    try:
        settings, namespace = parse_arguments(arguments)
        machine = machine_line(settings.devices)
        print(f"machine: {machine}", flush=True)
        with contextlib.ExitStack() as stack:
            workdir = namespace.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cmfr-speed-")))
            rows = run_benchmark(settings, workdir, on_row=lambda row: print(
                f"  {row.size} {row.codec} {row.device}: encode {format_fps(row.encode.fps)} fps, "
                f"decode {format_fps(row.decode.fps)} fps", file=sys.stderr, flush=True))
    except CmfrError as error:
        raise SystemExit(f"error: {error}") from None
    table = format_table(rows)
    print(f"{settings.frames} frames per run\n{table}\n{TABLE_NOTE}")
    if namespace.write_docs:
        block = docs_block(command_line(arguments), machine, settings.frames, table)
        DOCS.write_text(replace_marked_block(DOCS.read_text(), block, docs_markers(settings.devices)))
        print(f"wrote the table into {DOCS.relative_to(REPO)}")


if __name__ == "__main__":
    main(sys.argv[1:])
