"""cmfr eval INPUT --codecs ...: the report of a real clip, checked against independent encodes and decodes."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from clips import example_frames, random_tiny_codec

from cmfr_codec.io import create_video_writer, open_video
from cmfr_codec.io.frames import VideoInfo
from cmfr_codec.weights import save_weights

WIDTH, HEIGHT, FRAMES, INTRA_PERIOD = 64, 48, 4, 2
TIMING_KEYS = ("encode_seconds", "decode_seconds", "encode_fps", "decode_fps")


def _cmfr(*arguments: object) -> int:
    from cmfr_codec.cli.main import main

    try:
        main([str(argument) for argument in arguments])
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 1
    return 0


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 4-frame 64x48 clip of real video, a randomly initialised tiny model, and the report of both codecs."""
    folder = tmp_path_factory.mktemp("eval")
    codec = random_tiny_codec()
    weights = save_weights(codec, folder / "tiny").intra
    clip = folder / "clip.y4m"
    with create_video_writer(clip, VideoInfo(WIDTH, HEIGHT, Fraction(25), FRAMES)) as writer:
        for frame in example_frames(FRAMES, WIDTH, HEIGHT):
            writer.write(frame)
    report = folder / "report.json"
    code = _cmfr("eval", clip, "--codecs", "cmfr,x264", "--qualities", "21,42", "--crf", "27,37",
                 "--intra-period", INTRA_PERIOD, "--model", weights, "--output", report)
    assert code == 0
    return {"folder": folder, "weights": weights, "clip": clip, "report": report}


def _report(setup) -> dict:
    return json.loads(setup["report"].read_text())


def _entry(report: dict, codec: str, quality: int) -> dict:
    (entry,) = [entry for entry in report["results"] if (entry["codec"], entry["quality"]) == (codec, quality)]
    return entry


def _psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    mse = np.mean((reference.astype(np.float64) - decoded.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / mse))


def _mean_psnrs(sources, decoded) -> tuple[float, float]:
    """Mean PSNR-Y and mean 6:1:1 PSNR-YUV over the frames, computed here with numpy alone."""
    y, yuv = [], []
    for source, frame in zip(sources, decoded, strict=True):
        planes = [_psnr(a, b) for a, b in zip(source.planes(), frame.planes(), strict=True)]
        y.append(planes[0])
        yuv.append((6 * planes[0] + planes[1] + planes[2]) / 8)
    return float(np.mean(y)), float(np.mean(yuv))


def test_the_report_has_one_entry_per_sequence_codec_and_quality_with_self_describing_keys(setup):
    report = _report(setup)
    assert report["format"] == "cmfr-eval-report" and report["version"] == 1 and report["complete"] is True
    assert [(entry["codec"], entry["quality"], entry["quality_kind"]) for entry in report["results"]] == [
        ("cmfr", 21, "quality_index"), ("cmfr", 42, "quality_index"), ("x264", 27, "crf"), ("x264", 37, "crf"),
    ]
    expected = {"class", "sequence", "source", "codec", "quality", "frames", "intra_period", "coding", "width",
                "height", "fps", "coded_data", "coded_bytes", "bpp", "kbps", "psnr_y", "psnr_u", "psnr_v",
                "psnr_yuv", "psnr_rgb", "msssim_y", "msssim_yuv", *TIMING_KEYS, "per_frame"}
    for entry in report["results"]:
        assert expected <= set(entry)
        assert (entry["sequence"], entry["frames"], entry["intra_period"]) == ("clip.y4m", FRAMES, INTRA_PERIOD)
        assert [frame["frame"] for frame in entry["per_frame"]] == list(range(FRAMES))
        assert [frame["type"] for frame in entry["per_frame"]] == ["I", "P", "I", "P"]
        assert {"bytes", "bpp", "kbps", "psnr_yuv", "msssim_y"} <= set(entry["per_frame"][0])
        assert entry["encode_fps"] > 0 and entry["decode_fps"] > 0
    assert "arithmetic mean of per-frame values" in report["averaging"]["sequence"]
    assert report["bd_rate"]["anchor"] == "x264" and report["bd_rate"]["method"] == "pchip"
    (per_class,) = report["bd_rate"]["per_class"]
    assert per_class["codec"] == "cmfr" and set(per_class["class_curve"]) == set(report["bd_rate"]["metrics"])
    with open(setup["report"].with_suffix(".csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["codec"], row["quality"]) for row in rows] == [("cmfr", "21"), ("cmfr", "42"), ("x264", "27"), ("x264", "37")]
    assert float(rows[2]["bpp"]) == pytest.approx(report["results"][2]["bpp"])
    assert setup["report"].with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("quality", [21, 42])
def test_cmfr_points_equal_an_independent_encode_decode_and_score(setup, tmp_path, quality):
    entry = _entry(_report(setup), "cmfr", quality)
    bitstream, decoded_path = tmp_path / "clip.bin", tmp_path / "decoded.y4m"
    assert _cmfr("encode", setup["clip"], bitstream, "--quality", quality, "--intra-period", INTRA_PERIOD,
                 "--model", setup["weights"]) == 0
    assert _cmfr("decode", bitstream, decoded_path, "--model", setup["weights"]) == 0
    with open_video(setup["clip"]) as source, open_video(decoded_path) as decoded:
        psnr_y, psnr_yuv = _mean_psnrs(list(source), list(decoded))
    assert entry["coded_bytes"] == bitstream.stat().st_size
    assert entry["bpp"] == pytest.approx(bitstream.stat().st_size * 8 / (WIDTH * HEIGHT * FRAMES), rel=1e-12)
    assert entry["psnr_y"] == pytest.approx(psnr_y, abs=1e-9)
    assert entry["psnr_yuv"] == pytest.approx(psnr_yuv, abs=1e-9)


def _without_x264_settings_text(packet: bytes) -> bytes:
    """The packet less the NAL unit holding x264's version and settings, cut from start code to start code."""
    marker = packet.find(b"x264 - core")
    if marker < 0:
        return packet
    begin, end = packet.rfind(b"\x00\x00\x01", 0, marker), packet.find(b"\x00\x00\x01", marker)
    begin -= packet[begin - 1] == 0
    end -= packet[end - 1] == 0
    return packet[:begin] + packet[end:]


@pytest.mark.parametrize("crf", [27, 37])
def test_x264_points_equal_an_independent_pyav_encode_decode_and_score(setup, crf):
    import av

    entry = _entry(_report(setup), "x264", crf)
    options = {"preset": "medium", "crf": str(crf), "x264-params": "bframes=0:keyint=2:scenecut=0:open-gop=0"}
    assert entry["coding"]["options"] == options
    with open_video(setup["clip"]) as reader:
        sources = list(reader)
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    encoder.time_base, encoder.framerate = Fraction(1, 25), Fraction(25)
    encoder.max_b_frames, encoder.thread_type, encoder.options = 0, "FRAME", options
    packets = []
    for number, frame in enumerate(sources):
        picture = av.VideoFrame.from_ndarray(np.concatenate([frame.y.ravel(), frame.u.ravel(), frame.v.ravel()])
                                             .reshape(HEIGHT * 3 // 2, WIDTH), format="yuv420p")
        picture.pts = number
        packets += [bytes(packet) for packet in encoder.encode(picture)]
    packets += [bytes(packet) for packet in encoder.encode(None)]
    packets = [_without_x264_settings_text(packet) for packet in packets]
    decoder = av.CodecContext.create("h264", "r")
    pictures = [picture for data in packets for picture in decoder.decode(av.Packet(data))] + list(decoder.decode(None))
    planes = [picture.to_ndarray() for picture in pictures]
    decoded = [
        type(sources[0])(y=p[:HEIGHT], u=p[HEIGHT:].reshape(2, HEIGHT // 2, WIDTH // 2)[0].copy(),
                         v=p[HEIGHT:].reshape(2, HEIGHT // 2, WIDTH // 2)[1].copy())
        for p in planes
    ]
    psnr_y, psnr_yuv = _mean_psnrs(sources, decoded)
    coded_bytes = sum(len(packet) for packet in packets)
    assert entry["coded_bytes"] == coded_bytes
    assert entry["bpp"] == pytest.approx(coded_bytes * 8 / (WIDTH * HEIGHT * FRAMES), rel=1e-12)
    assert entry["kbps"] == pytest.approx(coded_bytes * 8 / (FRAMES / 25) / 1000, rel=1e-12)
    assert entry["psnr_y"] == pytest.approx(psnr_y, abs=1e-9)
    assert entry["psnr_yuv"] == pytest.approx(psnr_yuv, abs=1e-9)


def _without_timings(entries: list[dict]) -> list[dict]:
    return [{key: value for key, value in entry.items() if key not in TIMING_KEYS} for entry in entries]


def test_jobs_in_two_processes_give_the_results_of_one(setup, tmp_path):
    report = tmp_path / "parallel.json"
    assert _cmfr("eval", setup["clip"], "--codecs", "cmfr,x264", "--qualities", "42", "--crf", "27", "--intra-period",
                 INTRA_PERIOD, "--model", setup["weights"], "--jobs", "2", "--output", report) == 0
    serial = _report(setup)
    expected = [_entry(serial, "cmfr", 42), _entry(serial, "x264", 27)]
    assert _without_timings(json.loads(report.read_text())["results"]) == _without_timings(expected)


def test_a_comparison_without_ms_ssim_prints_dashes_and_plots_the_psnr_panels(setup, run_cmfr, tmp_path):
    result = run_cmfr("eval", setup["clip"], "--codecs", "x264", "--crf", "27,37", "--intra-period", INTRA_PERIOD,
                      "--no-msssim", "--output", tmp_path / "report.json")
    assert result.exit_code == 0, result.stderr
    assert "MS-SSIM-Y" in result.stdout and "PSNR-YUV" in result.stdout
    assert (tmp_path / "report.png").stat().st_size > 0


def test_resume_codes_only_the_jobs_the_report_lacks(setup, tmp_path):
    report = tmp_path / "report.json"
    shutil.copy(setup["report"], report)
    assert _cmfr("eval", setup["clip"], "--codecs", "cmfr,x264", "--qualities", "21,42", "--crf", "27,32,37",
                 "--intra-period", INTRA_PERIOD, "--model", setup["weights"], "--output", report, "--resume") == 0
    before, after = _report(setup), json.loads(report.read_text())
    assert [(entry["codec"], entry["quality"]) for entry in after["results"]] == [
        ("cmfr", 21), ("cmfr", 42), ("x264", 27), ("x264", 32), ("x264", 37),
    ]
    # Reused entries keep even their timings, which a new run would never reproduce.
    for codec, quality in [("cmfr", 21), ("cmfr", 42), ("x264", 27), ("x264", 37)]:
        assert _entry(after, codec, quality) == _entry(before, codec, quality)
    assert after["complete"] is True


def test_resume_recodes_entries_made_with_other_settings(setup, tmp_path):
    report = tmp_path / "report.json"
    shutil.copy(setup["report"], report)
    assert _cmfr("eval", setup["clip"], "--codecs", "x264", "--crf", "27,37", "--preset", "fast",
                 "--intra-period", INTRA_PERIOD, "--output", report, "--resume") == 0
    after = json.loads(report.read_text())
    assert [entry["coding"]["options"]["preset"] for entry in after["results"]] == ["fast", "fast"]
    assert _entry(after, "x264", 27)["encode_seconds"] != _entry(_report(setup), "x264", 27)["encode_seconds"]


def _x264_comparison(setup, output: Path, resume: bool):
    from cmfr_codec.evaluation.compare import Comparison
    from cmfr_codec.evaluation.settings import CodecSettings

    return Comparison(inputs=(setup["clip"],), codecs=("x264",), settings=CodecSettings(crf=(27, 37)),
                      intra_period=INTRA_PERIOD, output=output, resume=resume)


def _stop(job, entry):
    raise KeyboardInterrupt


def test_an_interrupted_run_with_resume_leaves_a_whole_report_of_the_finished_jobs(setup, tmp_path):
    from cmfr_codec.evaluation.compare import plan, run_comparison

    report = tmp_path / "report.json"
    comparison = _x264_comparison(setup, report, resume=True)
    with pytest.raises(KeyboardInterrupt):
        run_comparison(comparison, plan(comparison), _stop)
    partial = json.loads(report.read_text())
    assert partial["complete"] is False
    assert [entry["quality"] for entry in partial["results"]] == [27]
    final = run_comparison(comparison, plan(comparison))
    assert final["complete"] is True
    assert [entry["quality"] for entry in final["results"]] == [27, 37]
    assert final["results"][0] == partial["results"][0]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.csv", "report.json", "report.png"]


def test_an_interrupted_run_without_resume_writes_nothing(setup, tmp_path):
    from cmfr_codec.evaluation.compare import plan, run_comparison

    comparison = _x264_comparison(setup, tmp_path / "report.json", resume=False)
    with pytest.raises(KeyboardInterrupt):
        run_comparison(comparison, plan(comparison), _stop)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--codecs", "cmfr,vp9"], "unknown codec vp9"),
        (["--codecs", "x264,x265", "--anchor", "cmfr"], "--anchor cmfr is not one of --codecs"),
        (["--bitstream", "x.bin"], "--bitstream only works with --decoded"),
        (["--decoded", "d.y4m", "--codecs", "x264"], "--codecs cannot be used with --decoded"),
        (["--codecs", "x264", "--resume"], "--resume needs --output"),
        (["--codecs", "x264", "--output", "report.txt"], "name it REPORT.json"),
        (["--codecs", "x264", "--crf", "27,99"], "every value must be 0 to 51"),
    ],
)
def test_a_bad_command_line_is_one_red_line_and_exit_2(run_cmfr, setup, tmp_path, arguments, message):
    result = run_cmfr("eval", setup["clip"], *arguments)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigterm_during_a_comparison_leaves_no_file_and_no_temporary_folder(tmp_path, jobs):
    source = tmp_path / "long_1920x1080_25.yuv"
    with open(source, "wb") as handle:
        handle.truncate(1920 * 1080 * 3 // 2 * 40)  # sparse: black frames, seconds of scoring each
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "cmfr_codec", "eval", str(source), "--codecs", "x264,x265", "--jobs", jobs,
         "--output", str(tmp_path / "report.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, TMPDIR=str(temporary)),
    )
    deadline = time.monotonic() + 60
    while not list(temporary.glob("cmfr-eval-*")) and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    time.sleep(1.0)
    os.kill(process.pid, signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert [line for line in stderr.splitlines() if line.strip()] == ["error: terminated"], stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["long_1920x1080_25.yuv", "tmp"]
    assert list(temporary.iterdir()) == []
