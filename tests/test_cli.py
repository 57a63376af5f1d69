"""The cmfr command line: help, exit codes, one-line errors, and no output left behind on failure."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import click
import numpy as np
import pytest
from clips import REPO, write_raw_yuv

from cmfr_codec.cli.main import cli


def _one_red_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert "Traceback" not in result.stderr
    return lines[0]


def _written_container(path: Path, frame_count: int = 4) -> Path:
    """A real container: header plus frames whose sub-streams are genuine ANS data."""
    from cmfr_codec.bitstream import BitstreamWriter, FrameRecord, FrameType, SequenceHeader
    from cmfr_codec.entropy import ConditionalCoder

    coder = ConditionalCoder("gaussian")
    rng = np.random.default_rng(7)
    header = SequenceHeader(
        model_name="cmfr-s",
        weights_digest=hashlib.sha256(b"weights").digest(),
        width=64,
        height=48,
        fps=Fraction(25),
        frame_count=0,
        quality_index=21,
        intra_period=2,
        substream_names=("z", "y"),
    )
    with BitstreamWriter(path, header) as writer:
        for number in range(frame_count):
            indices = rng.integers(0, 64, size=(8, 3, 4)).astype(np.int32)
            symbols = rng.integers(-3, 4, size=indices.shape).astype(np.int32)
            frame_type = FrameType.INTRA if number % 2 == 0 else FrameType.PREDICTED
            writer.write_frame(FrameRecord(frame_type, 21, {"z": b"\x01\x02\x03\x04", "y": coder.encode(symbols, indices)}))
    return path


def test_every_option_of_every_command_explains_itself_and_its_default():
    for name, command in cli.commands.items():
        for parameter in command.params:
            if not isinstance(parameter, click.Option) or parameter.name == "help":
                continue
            assert parameter.help, f"cmfr {name} {parameter.opts} has no help"
            states_default = parameter.show_default or "default" in parameter.help.lower()
            assert states_default or parameter.required, f"cmfr {name} {parameter.opts} hides its default"


def test_top_level_help_lists_the_commands(run_cmfr):
    result = run_cmfr("--help")
    assert result.exit_code == 0
    for command in ("encode", "decode", "eval", "info"):
        assert command in result.stdout


def test_python_dash_m_runs_the_same_command():
    done = subprocess.run(
        [sys.executable, "-m", "cmfr_codec", "--version"], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0
    assert done.stdout.startswith("cmfr, version")


def test_encode_of_raw_yuv_without_size_is_a_usage_error(run_cmfr, tmp_path, small_clip_frames):
    source = write_raw_yuv(tmp_path / "clip.yuv", small_clip_frames)
    output = tmp_path / "out.bin"
    result = run_cmfr("encode", source, output)
    assert result.exit_code == 2
    assert "--size" in _one_red_line(result)
    assert not output.exists()


def test_encode_of_yuv_with_partial_last_frame_names_the_problem(run_cmfr, tmp_path, small_clip_frames):
    source = write_raw_yuv(tmp_path / "clip_64x48_25.yuv", small_clip_frames)
    with open(source, "ab") as handle:
        handle.write(b"\x00" * 100)
    output = tmp_path / "out.bin"
    result = run_cmfr("encode", source, output)
    assert result.exit_code == 2
    line = _one_red_line(result)
    assert "clip_64x48_25.yuv" in line
    assert not output.exists()


def test_encode_of_missing_file_is_an_input_error(run_cmfr, tmp_path):
    result = run_cmfr("encode", tmp_path / "nothing.y4m", tmp_path / "out.bin")
    assert result.exit_code == 2
    assert "nothing.y4m" in _one_red_line(result)


def test_encode_without_installed_weights_says_no_model(run_cmfr, tmp_path, small_clip_frames):
    source = write_raw_yuv(tmp_path / "clip_64x48_25.yuv", small_clip_frames)
    output = tmp_path / "out.bin"
    result = run_cmfr("encode", source, output, "--model", "no-such-model")
    assert result.exit_code == 1
    assert "no model" in _one_red_line(result)
    assert not output.exists()


def test_quality_outside_0_to_63_is_refused(run_cmfr, tmp_path, small_clip_frames):
    source = write_raw_yuv(tmp_path / "clip_64x48_25.yuv", small_clip_frames)
    result = run_cmfr("encode", source, tmp_path / "out.bin", "--quality", "64")
    assert result.exit_code == 2
    assert "--quality" in _one_red_line(result)


def test_output_that_would_overwrite_the_input_is_refused(run_cmfr, tmp_path, small_clip_frames):
    source = write_raw_yuv(tmp_path / "clip_64x48_25.yuv", small_clip_frames)
    before = source.read_bytes()
    result = run_cmfr("encode", source, source)
    assert result.exit_code == 2
    _one_red_line(result)
    assert source.read_bytes() == before


def test_decode_of_garbage_is_a_bitstream_error(run_cmfr, tmp_path):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    output = tmp_path / "out.y4m"
    result = run_cmfr("decode", garbage, output)
    assert result.exit_code == 1
    assert "bitstream" in _one_red_line(result)
    assert not output.exists()


def test_decode_of_truncated_file_is_a_bitstream_error(run_cmfr, tmp_path):
    stream = _written_container(tmp_path / "good.bin")
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(stream.read_bytes()[: stream.stat().st_size * 2 // 3])
    output = tmp_path / "out.y4m"
    result = run_cmfr("decode", truncated, output)
    assert result.exit_code == 1
    _one_red_line(result)
    assert not output.exists()


def test_decode_of_file_with_one_flipped_byte_names_the_frame(run_cmfr, tmp_path):
    stream = _written_container(tmp_path / "good.bin")
    data = bytearray(stream.read_bytes())
    data[len(data) // 2] ^= 0x10
    damaged = tmp_path / "damaged.bin"
    damaged.write_bytes(bytes(data))
    output = tmp_path / "out.y4m"
    result = run_cmfr("decode", damaged, output)
    assert result.exit_code == 1
    assert "frame" in _one_red_line(result)
    assert not output.exists()


def test_decode_with_weights_of_another_digest_names_both(run_cmfr, tmp_path):
    from cmfr_codec.weights import find_weights

    stream = _written_container(tmp_path / "good.bin")
    (tmp_path / "other.intra.cmfrw").write_bytes(b"other intra weights")
    (tmp_path / "other.inter.cmfrw").write_bytes(b"other inter weights")
    other_digest = find_weights(str(tmp_path / "other.intra.cmfrw")).digest
    result = run_cmfr("decode", stream, tmp_path / "out.y4m", "--model", tmp_path / "other.intra.cmfrw")
    assert result.exit_code == 1
    line = _one_red_line(result)
    assert hashlib.sha256(b"weights").hexdigest()[:16] in line
    assert other_digest.hex()[:16] in line


def test_decode_to_unknown_extension_is_refused_before_work(run_cmfr, tmp_path):
    stream = _written_container(tmp_path / "good.bin")
    result = run_cmfr("decode", stream, tmp_path / "out.avi")
    assert result.exit_code == 2
    assert ".y4m" in _one_red_line(result)


def test_info_prints_header_and_frame_table(run_cmfr, tmp_path):
    stream = _written_container(tmp_path / "good.bin", frame_count=4)
    result = run_cmfr("info", stream, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["width"], report["height"], report["frame_count"]) == (64, 48, 4)
    assert report["quality_index"] == 21
    assert [frame["type"] for frame in report["frames"]] == ["I", "P", "I", "P"]
    assert all(frame["crc_ok"] for frame in report["frames"])
    assert report["bpp"] == pytest.approx(stream.stat().st_size * 8 / (64 * 48 * 4))


def test_info_table_flags_the_damaged_frame_and_exits_1(run_cmfr, tmp_path):
    stream = _written_container(tmp_path / "good.bin", frame_count=4)
    from cmfr_codec.bitstream import BitstreamReader

    with BitstreamReader(stream) as reader:
        third = list(reader.scan())[2]
    data = bytearray(stream.read_bytes())
    data[third.offset + third.record_bytes - 3] ^= 0x01
    stream.write_bytes(bytes(data))
    result = run_cmfr("info", stream)
    assert result.exit_code == 1
    assert "BAD" in result.stdout
    assert "frame 2" in _one_red_line(result)


def test_eval_matches_an_independent_psnr_and_bpp(run_cmfr, tmp_path, small_clip_frames):
    from cmfr_codec.io.frames import YuvFrame

    source = write_raw_yuv(tmp_path / "src_64x48_25.yuv", small_clip_frames)
    rng = np.random.default_rng(3)
    noisy = [
        YuvFrame(*(np.clip(plane.astype(int) + rng.integers(-4, 5, plane.shape), 0, 255).astype(np.uint8)
                   for plane in frame.planes()))
        for frame in small_clip_frames
    ]
    decoded = write_raw_yuv(tmp_path / "dec.yuv", noisy)
    bitstream = tmp_path / "fake.bin"
    bitstream.write_bytes(b"\x00" * 1234)
    report_path = tmp_path / "report.json"
    result = run_cmfr("eval", source, "--decoded", decoded, "--bitstream", bitstream, "--output", report_path)
    assert result.exit_code == 0, result.stderr
    report = json.loads(report_path.read_text())

    def psnr(a, b):
        mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
        return 10 * np.log10(255**2 / mse)

    expected_y = np.mean([psnr(a.y, b.y) for a, b in zip(small_clip_frames, noisy, strict=True)])
    assert report["psnr_y"] == pytest.approx(expected_y, abs=1e-6)
    assert report["frames"] == len(small_clip_frames)
    assert report["bpp"] == pytest.approx(1234 * 8 / (64 * 48 * len(small_clip_frames)))
    assert report["kbps"] == pytest.approx(1234 * 8 / (len(small_clip_frames) / 25) / 1000)
    assert len(report["per_frame"]) == len(small_clip_frames)


def test_eval_with_too_few_decoded_frames_is_an_input_error(run_cmfr, tmp_path, small_clip_frames):
    source = write_raw_yuv(tmp_path / "src_64x48_25.yuv", small_clip_frames)
    decoded = write_raw_yuv(tmp_path / "dec.yuv", small_clip_frames[:-1])
    report_path = tmp_path / "report.json"
    result = run_cmfr("eval", source, "--decoded", decoded, "--output", report_path)
    assert result.exit_code == 2
    assert "dec.yuv" in _one_red_line(result)
    assert not report_path.exists()


def test_debug_flag_shows_the_traceback(run_cmfr, tmp_path):
    result = run_cmfr("--debug", "decode", tmp_path / "missing.bin", tmp_path / "out.y4m")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr
