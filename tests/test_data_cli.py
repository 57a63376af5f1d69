"""cmfr data fetch / prepare on the command line: help with defaults, one-line errors, a real small run."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from test_data_fetch import FakePip, _catalogue
from test_data_prepare import make_sources

from cmfr_codec.cli.data import data
from cmfr_codec.data import fetch
from cmfr_codec.errors import CmfrError


def _one_red_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and "Traceback" not in result.stderr
    return lines[0]


def test_every_data_option_explains_itself_and_its_default():
    for name, command in data.commands.items():
        for parameter in command.params:
            if not isinstance(parameter, click.Option) or parameter.name == "help":
                continue
            assert parameter.help, f"cmfr data {name} {parameter.opts} has no help"
            assert parameter.show_default or "default" in parameter.help.lower(), f"cmfr data {name} {parameter.opts}"


def test_the_top_level_help_lists_the_data_group(run_cmfr):
    assert "data" in run_cmfr("--help").stdout
    listed = run_cmfr("data", "--help").stdout
    assert "fetch" in listed and "prepare" in listed


def test_a_missing_sources_folder_is_one_line_and_exit_code_2(run_cmfr, tmp_path: Path):
    result = run_cmfr("data", "prepare", "--sources", tmp_path / "nowhere", "--dest", tmp_path / "prepared")
    assert result.exit_code == 2
    assert "cmfr data fetch" in _one_red_line(result)
    assert not (tmp_path / "prepared").exists()


def test_a_size_that_is_not_a_multiple_of_4_is_a_usage_error(run_cmfr, tmp_path: Path):
    result = run_cmfr("data", "prepare", "--sources", tmp_path, "--size", "270")
    assert result.exit_code == 2
    assert "--size" in _one_red_line(result)


def test_an_unknown_validation_file_is_one_line_and_exit_code_2(run_cmfr, tmp_path: Path):
    sources = make_sources(tmp_path / "sources")
    result = run_cmfr("data", "prepare", "--sources", sources, "--dest", tmp_path / "out", "--validation", "nosuch.mp4")
    assert result.exit_code == 2
    assert "nosuch.mp4" in _one_red_line(result)


def test_prepare_builds_a_set_and_prints_its_table(run_cmfr, tmp_path: Path):
    sources = make_sources(tmp_path / "sources")
    dest = tmp_path / "prepared"
    result = run_cmfr("data", "prepare", "--sources", sources, "--dest", dest, "--size", "120", "--still-size", "120",
                      "--clip-frames", "3", "--spacing", "0.2", "--max-frames", "12", "--validation", "")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["sources"][0]["clip_starts"] == [0, 5]
    assert manifest["settings"]["validation"] == []
    assert "two_shots.mkv" in result.stdout and "train: 2 clips (6 frames), 1 stills" in result.stdout


def test_fetch_reports_a_failed_download_as_one_line_and_exit_code_1(run_cmfr, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    def no_network(requirement, arguments, folder):
        raise CmfrError(f"pip download {requirement} failed: ERROR: Could not find a version")

    monkeypatch.setattr(fetch, "pip_download", no_network)
    result = run_cmfr("data", "fetch", "--dest", tmp_path / "sources")
    assert result.exit_code == 1
    assert "pip download moviepy==2.2.1 failed" in _one_red_line(result)


def test_fetch_lists_what_it_extracted(run_cmfr, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(fetch, "pip_download", FakePip(tmp_path))
    monkeypatch.setattr(fetch, "CATALOGUE", _catalogue())
    result = run_cmfr("data", "fetch", "--dest", tmp_path / "sources")
    assert result.exit_code == 0, result.stderr
    assert "movie.bin" in result.stdout and "downloaded" in result.stdout
    assert (tmp_path / "sources" / "sources.json").is_file()
