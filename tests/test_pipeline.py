"""cmfr encode / decode end to end on real video with a small model: bit-exact decoding, honest rates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from clips import REPO, example_frames, scaled_example_frames, write_raw_yuv

from cmfr_codec.bitstream import BitstreamReader
from cmfr_codec.determinism import reproducible_inference
from cmfr_codec.entropy import bands
from cmfr_codec.io import open_video
from cmfr_codec.models.dpb import DecodedPictureBuffer
from cmfr_codec.pipeline import frame_to_tensor, is_intra
from cmfr_codec.weights import DEFAULT_MODEL, find_weights, load_model


def _frames_planes(path: Path, size: tuple[int, int] | None = None) -> list[tuple[np.ndarray, ...]]:
    with open_video(path, size=size) as reader:
        return [frame.planes() for frame in reader]


def _same_video(first: Path, second: Path, size: tuple[int, int] | None = None) -> bool:
    a, b = _frames_planes(first, size), _frames_planes(second, size)
    return len(a) == len(b) and all(
        np.array_equal(x, y) for planes_a, planes_b in zip(a, b, strict=True) for x, y in zip(planes_a, planes_b, strict=True)
    )


def _cmfr(*arguments: object, threads: int) -> subprocess.CompletedProcess:
    environment = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                       CMFR_THREADS=str(threads))
    return subprocess.run(
        [sys.executable, "-m", "cmfr_codec", *map(str, arguments)],
        env=environment, capture_output=True, text=True, cwd=REPO, timeout=600, check=False,
    )


def test_decoder_in_another_process_with_another_thread_count_reproduces_recon_byte_for_byte(tiny_weights, tmp_path):
    """256 rows: the full-resolution convolutions run in 4 row stripes, shared by 2 workers or run by 1."""
    source = write_raw_yuv(tmp_path / "clip_96x256_25.yuv", scaled_example_frames(6, 96, 256))
    stream, recon, decoded = tmp_path / "clip.bin", tmp_path / "recon.yuv", tmp_path / "decoded.yuv"
    encoded = _cmfr("encode", source, stream, "--model", tiny_weights, "--recon", recon, "--intra-period", "4",
                    "--quality", "40", threads=2)
    assert encoded.returncode == 0, encoded.stderr
    done = _cmfr("decode", stream, decoded, "--model", tiny_weights, threads=1)
    assert done.returncode == 0, done.stderr
    assert recon.read_bytes() == decoded.read_bytes()
    with BitstreamReader(stream) as reader:
        assert [info.frame_type.value for info in reader.scan()] == ["I", "P", "P", "P", "I", "P"]


def test_row_bands_coded_by_worker_processes_decode_in_one_process_byte_for_byte(tiny_weights, tmp_path, run_cmfr,
                                                                                  monkeypatch):
    """A tiny model's latents are too small for bands, so the encoder is told to cut one per symbol:
    every latent of a 256-row frame then has 2 bands, coded by 2 worker processes here and decoded by
    one process in another."""
    monkeypatch.setattr(bands, "SYMBOLS_PER_BAND", 1)
    monkeypatch.setenv("CMFR_THREADS", "2")
    source = write_raw_yuv(tmp_path / "clip_96x256_25.yuv", scaled_example_frames(3, 96, 256))
    stream, recon, decoded = tmp_path / "clip.bin", tmp_path / "recon.yuv", tmp_path / "decoded.yuv"
    encoded = run_cmfr("encode", source, stream, "--model", tiny_weights, "--recon", recon, "--quality", "40")
    assert encoded.exit_code == 0, encoded.stderr
    with BitstreamReader(stream) as reader:
        assert reader.header.substream_names == ("frame", "frame_1", "motion", "motion_1")
        assert [sorted(record.substreams) for record in reader] == [["frame", "frame_1"]] + 2 * [
            ["frame", "frame_1", "motion", "motion_1"]]
    done = _cmfr("decode", stream, decoded, "--model", tiny_weights, threads=1)
    assert done.returncode == 0, done.stderr
    assert recon.read_bytes() == decoded.read_bytes()


def test_a_size_off_the_model_grid_round_trips_and_is_cropped_back(tiny_weights, tmp_path, run_cmfr):
    frames = example_frames(2, 250, 142)
    source = write_raw_yuv(tmp_path / "odd_250x142_25.yuv", frames)
    stream, recon, decoded = tmp_path / "odd.bin", tmp_path / "recon.y4m", tmp_path / "decoded.y4m"
    assert run_cmfr("encode", source, stream, "--model", tiny_weights, "--recon", recon).exit_code == 0
    assert run_cmfr("decode", stream, decoded, "--model", tiny_weights).exit_code == 0
    with open_video(decoded) as reader:
        assert (reader.info.width, reader.info.height) == (250, 142)
    assert _same_video(recon, decoded)


def test_coded_bits_match_the_shipped_models_estimated_bits_within_3_percent(tmp_path, run_cmfr):
    """The rate the model trains on is the rate the entropy coder pays: 256x256, 20 frames (I and P).

    Compared: the file minus the container's own bytes (header, record fields, directory, CRCs,
    index; ``cmfr info`` reports them) against the sum of -log2 likelihoods of the coding path.
    """
    frames = scaled_example_frames(20, 256, 256)
    source = write_raw_yuv(tmp_path / "clip_256x256_25.yuv", frames)
    stream = tmp_path / "clip.bin"
    assert run_cmfr("encode", source, stream, "--intra-period", "10", "--quality", "63").exit_code == 0
    model = load_model(find_weights(DEFAULT_MODEL))
    estimated_bits, buffer = 0.0, None
    with reproducible_inference():
        for number, frame in enumerate(frames):
            x = frame_to_tensor(frame, "cpu")
            if is_intra(number, 10):
                output = model.codec.intra(x, 63, "ste")
                buffer = DecodedPictureBuffer(frame=output.x_hat)
            else:
                output = model.codec.inter(x, buffer, 63, "ste")
                buffer = output.dpb
            estimated_bits += float(output.bits)
    with BitstreamReader(stream) as reader:
        coded_bits = (reader.file_size - reader.overhead_bytes()) * 8
    assert abs(coded_bits - estimated_bits) / estimated_bits < 0.03
