"""The quality hierarchy: which quality index each frame gets, in the records the decoder reads."""

from __future__ import annotations

import json
import re

import pytest
from benchmark_modules import load_benchmark
from clips import random_tiny_codec, scaled_example_frames, write_raw_yuv

from cmfr_codec.bitstream import BitstreamReader
from cmfr_codec.hierarchy import FLAT, QualityHierarchy
from cmfr_codec.pipeline import SequenceEncoder
from cmfr_codec.weights import LoadedModel


def test_the_i_frame_and_every_period_th_frame_after_it_are_boosted_and_the_others_keep_the_quality():
    hierarchy = QualityHierarchy(period=4, boost=24)
    assert [hierarchy.frame_quality(30, position) for position in range(9)] == [54, 30, 30, 30, 54, 30, 30, 30, 54]
    assert [hierarchy.frame_quality(50, position) for position in range(3)] == [63, 50, 50], "never above 63"
    assert QualityHierarchy() == hierarchy, "the default"
    assert {FLAT.frame_quality(20, position) for position in range(7)} == {20}
    assert {QualityHierarchy(period=1, boost=24).frame_quality(20, position) for position in range(7)} == {20}
    assert {QualityHierarchy(period=4, boost=0).frame_quality(20, position) for position in range(7)} == {20}


@pytest.mark.parametrize(("period", "boost", "message"), [(0, 8, "period must be 1 or more"),
                                                         (4, 64, "boost must lie in 0..63"),
                                                         (4, -1, "boost must lie in 0..63")])
def test_a_hierarchy_outside_its_ranges_is_refused(period, boost, message):
    with pytest.raises(ValueError, match=message):
        QualityHierarchy(period, boost)


def test_each_record_carries_its_frames_quality_and_decodes_to_the_reconstruction(tiny_weights, tmp_path, run_cmfr):
    """Intra period 6: the hierarchy restarts at the second I-frame; the header keeps the requested index."""
    source = write_raw_yuv(tmp_path / "clip_64x64_25.yuv", scaled_example_frames(8, 64, 64))
    stream, recon, decoded = tmp_path / "out.bin", tmp_path / "recon.yuv", tmp_path / "decoded.yuv"
    result = run_cmfr("encode", source, stream, "--model", tiny_weights, "--quality", "20", "--intra-period", "6",
                      "--hierarchy-period", "4", "--hierarchy-boost", "24", "--recon", recon)
    assert result.exit_code == 0, result.stderr
    with BitstreamReader(stream) as reader:
        assert reader.header.quality_index == 20
        records = list(reader)
    assert [record.quality_index for record in records] == [44, 20, 20, 20, 44, 20, 44, 20]
    assert [record.frame_type.value for record in records] == ["I", "P", "P", "P", "P", "P", "I", "P"]
    assert run_cmfr("decode", stream, decoded, "--model", tiny_weights).exit_code == 0
    assert decoded.read_bytes() == recon.read_bytes()
    info = run_cmfr("info", stream, "--json")
    assert [frame["quality_index"] for frame in json.loads(info.stdout)["frames"]] == [44, 20, 20, 20, 44, 20, 44, 20]


def test_a_period_of_one_codes_every_frame_at_the_requested_quality(tiny_weights, tmp_path, run_cmfr):
    source = write_raw_yuv(tmp_path / "clip_64x64_25.yuv", scaled_example_frames(4, 64, 64))
    flat, default = tmp_path / "flat.bin", tmp_path / "default.bin"
    assert run_cmfr("encode", source, flat, "--model", tiny_weights, "--quality", "30",
                    "--hierarchy-period", "1").exit_code == 0
    assert run_cmfr("encode", source, default, "--model", tiny_weights, "--quality", "30").exit_code == 0
    with BitstreamReader(flat) as first, BitstreamReader(default) as second:
        assert [record.quality_index for record in first] == [30, 30, 30, 30]
        assert [record.quality_index for record in second] == [54, 30, 30, 30]


@pytest.mark.parametrize(("option", "value"), [("--hierarchy-period", "0"), ("--hierarchy-boost", "64")])
def test_a_bad_hierarchy_option_is_a_usage_error_and_writes_nothing(option, value, tiny_weights, tmp_path, run_cmfr):
    source = write_raw_yuv(tmp_path / "clip_64x64_25.yuv", scaled_example_frames(2, 64, 64))
    result = run_cmfr("encode", source, tmp_path / "out.bin", "--model", tiny_weights, option, value)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.stderr
    assert not (tmp_path / "out.bin").exists()


def test_the_slow_preset_refines_towards_each_frames_own_quality():
    model = LoadedModel(codec=random_tiny_codec(), name="tiny", digest=bytes(32), device="cpu")
    slow = SequenceEncoder(model, 30, intra_period=32, preset="slow")
    assert slow._codec(30) is slow._codec(30)
    assert slow._codec(54) is not slow._codec(30)
    assert slow._codec(30) is not model.codec
    medium = SequenceEncoder(model, 30, intra_period=32)
    assert medium._codec(54) is medium._codec(30) is model.codec


def test_eval_records_the_hierarchy_in_each_job(tiny_weights, tmp_path, run_cmfr):
    source = write_raw_yuv(tmp_path / "clip_64x64_25.yuv", scaled_example_frames(3, 64, 64))
    report = tmp_path / "report.json"
    result = run_cmfr("eval", source, "--codecs", "cmfr", "--qualities", "40", "--model", tiny_weights,
                      "--cmfr-hierarchy-period", "2", "--cmfr-hierarchy-boost", "10", "--no-msssim", "--output", report)
    assert result.exit_code == 0, result.stderr
    written = json.loads(report.read_text())
    assert written["settings"]["cmfr_hierarchy"] == {"period": 2, "boost": 10}
    assert [entry["coding"]["hierarchy"] for entry in written["results"]] == [{"period": 2, "boost": 10}]


def test_the_hierarchy_cost_benchmark_compares_each_setting_with_flat_coding(tiny_weights, tmp_path, capsys):
    benchmark = load_benchmark("hierarchy_cost")
    source = write_raw_yuv(tmp_path / "clip_64x64_25.yuv", scaled_example_frames(5, 64, 64))
    assert benchmark.main([str(source), "--settings", "2x8", "--model", str(tiny_weights), "--frames", "5",
                           "--qualities", "0,63", "--run", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    assert "--cmfr-hierarchy-period 1 --cmfr-hierarchy-boost 0" in printed
    assert re.search(r"^\| 2x8 \| [-+0-9.]+ % \| [-+0-9.]+ % \| [-+0-9.]+ dB \|$", printed, re.MULTILINE), printed
    assert re.search(r"^\| 4x24 \| ", printed, re.MULTILINE), "the default setting is always measured"
    assert sorted(path.name for path in (tmp_path / "run").glob("*.json")) == ["1x0.json", "2x8.json", "4x24.json"]
    flat = json.loads((tmp_path / "run" / "1x0.json").read_text())
    assert [entry["coding"]["hierarchy"] for entry in flat["results"]] == [{"period": 1, "boost": 0}] * 2


def test_the_hierarchy_cost_benchmark_refuses_a_malformed_setting(capsys):
    with pytest.raises(SystemExit):
        load_benchmark("hierarchy_cost").main(["--settings", "4-24"])
    assert "'4-24' is not PERIODxBOOST" in capsys.readouterr().err
