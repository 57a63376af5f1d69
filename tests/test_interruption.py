"""SIGTERM and Ctrl-C stop a long run with one line, a conventional exit code, and no output file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _start_long_eval(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    # A sparse 1080p raw file: 200 black frames that cost no disk, and seconds of scoring each.
    source = tmp_path / "long_1920x1080_25.yuv"
    with open(source, "wb") as handle:
        handle.truncate(1920 * 1080 * 3 // 2 * 200)
    report = tmp_path / "report.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "cmfr_codec", "eval", str(source), "--decoded", str(source), "--output", str(report)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, report


def _wait_until_running(process: subprocess.Popen, seconds: float = 3.0) -> None:
    time.sleep(seconds)
    assert process.poll() is None, process.communicate()


@pytest.mark.parametrize(("sent", "exit_code", "word"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_signal_stops_eval_without_leaving_files(tmp_path, sent, exit_code, word):
    process, report = _start_long_eval(tmp_path)
    _wait_until_running(process)
    os.kill(process.pid, sent)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == exit_code
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == [f"error: {word}"]
    assert not report.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["long_1920x1080_25.yuv"]


def test_sigterm_during_encode_leaves_neither_bitstream_nor_reconstruction(tmp_path):
    source = tmp_path / "long_416x240_25.yuv"
    with open(source, "wb") as handle:
        handle.truncate(416 * 240 * 3 // 2 * 200)
    process = subprocess.Popen(
        [sys.executable, "-m", "cmfr_codec", "encode", str(source), str(tmp_path / "out.bin"),
         "--recon", str(tmp_path / "recon.y4m")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.tmp-*.bin")) and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    assert list(tmp_path.glob(".out.tmp-*.bin")), "the encoder never started writing"
    time.sleep(1.0)  # mid-sequence: some frames written
    os.kill(process.pid, signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143
    assert [line for line in stderr.splitlines() if line.strip()] == ["error: terminated"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["long_416x240_25.yuv"]
