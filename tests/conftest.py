"""Shared fixtures: small real video cut from the example clip, and a way to run the CLI in-process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from clips import example_frames, random_tiny_codec

from cmfr_codec.io.frames import YuvFrame


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cmfr(capsys: pytest.CaptureFixture[str]):
    """Run ``cmfr ARGS...`` in this process through the real entry point (exit codes included)."""
    from cmfr_codec.cli.main import main

    def run(*arguments: str | Path) -> CliResult:
        capsys.readouterr()
        try:
            main([str(argument) for argument in arguments])
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def small_clip_frames() -> list[YuvFrame]:
    return example_frames(6)



@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised tiny model saved as a weights pair (unit tests only; never shipped)."""
    from cmfr_codec.weights import save_weights

    return save_weights(random_tiny_codec(), tmp_path_factory.mktemp("weights") / "tiny").intra
