"""What `pip install .` puts on a machine: one top-level package, and the cmfr console command."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from clips import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(folder), str(REPO)],
        check=True,
        cwd=build,
        capture_output=True,
    )
    return next(folder.glob("cmfr_codec-*.whl"))


def test_the_only_top_level_package_is_cmfr_codec(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist() if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"cmfr_codec"}


def test_models_and_cli_install_inside_the_package(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "cmfr_codec/models/__init__.py" in names
    assert "cmfr_codec/cli/main.py" in names


def test_the_wheel_declares_the_cmfr_console_command(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(name for name in archive.namelist() if name.endswith("entry_points.txt"))
        text = archive.read(entry_points).decode()
    assert "cmfr = cmfr_codec.cli.main:main" in text
