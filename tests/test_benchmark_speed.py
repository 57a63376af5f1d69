"""benchmarks/speed.py on a tiny random model at 64x64: its rows, its time split and its docs block.

Nothing here is timed: the tests check what the benchmark reports, not how fast anything is.
"""

from __future__ import annotations

import pytest
from benchmark_modules import load_benchmark
from clips import REPO

from cmfr_codec.errors import InputError
from cmfr_codec.models.analysis import native_bfloat16
from cmfr_codec.models.stripes import worker_count

speed = load_benchmark("speed", "benchmark_speed")

SETTINGS = speed.Settings(models=("tiny",), sizes=((64, 64),), frames=2, devices=("cpu",))


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list:
    return speed.run_benchmark(SETTINGS, tmp_path_factory.mktemp("speed"))


def test_one_row_per_cmfr_preset_and_one_each_for_x264_and_x265_with_positive_frame_rates(rows):
    assert [row.codec for row in rows] == ["tiny (untrained)", "tiny (untrained)", "x264", "x265"]
    for row in rows:
        assert (row.width, row.height) == (64, 64)
        assert row.encode.frames == row.decode.frames == 2
        assert row.encode.fps > 0 and row.decode.fps > 0


def test_cmfr_time_splits_into_network_entropy_and_io_that_add_up_to_the_whole(rows):
    cmfr = rows[0]
    for timing in (cmfr.encode, cmfr.decode):
        assert set(timing.seconds) == {"network", "entropy", "io"}
        assert all(seconds > 0 for seconds in timing.seconds.values())
        assert sum(timing.share(part) for part in timing.seconds) == pytest.approx(1.0)


def test_baseline_time_splits_into_codec_and_io_that_add_up_to_the_whole(rows):
    for row in rows[2:]:
        for timing in (row.encode, row.decode):
            assert set(timing.seconds) == {"codec", "io"}
            assert all(seconds > 0 for seconds in timing.seconds.values())
            assert timing.share("codec") + timing.share("io") == pytest.approx(1.0)
            assert timing.share("network") is None


def test_cmfr_rows_carry_device_preset_and_the_coding_thread_count(rows):
    """On the CPU the networks code with the striped convolutions' workers (every core by default)."""
    assert (rows[0].device, rows[0].preset, rows[0].threads) == ("cpu", "medium", str(worker_count()))
    fast = "fast (bf16)" if native_bfloat16("cpu") else "fast (fp32)"
    assert (rows[1].codec, rows[1].preset) == ("tiny (untrained)", fast)


def test_table_has_a_header_and_one_line_per_row(rows):
    lines = speed.format_table(rows).splitlines()
    assert lines[0].split()[:2] == ["size", "codec"]
    assert [line.split()[1] for line in lines[1:]] == ["tiny", "tiny", "x264", "x265"]


def test_baselines_get_the_low_delay_options_of_cmfr_eval_with_our_intra_period():
    x265 = speed.baseline_options("x265", speed.Settings(intra_period=5, crf=30))
    assert x265["preset"] == "medium" and x265["crf"] == "30"
    assert "bframes=0:keyint=5:" in x265["x265-params"]


def test_write_docs_replaces_only_the_marked_block():
    text = f"# Title\n\nbefore\n{speed.DOCS_BEGIN}\nold table\n{speed.DOCS_END}\nafter\n"
    replaced = speed.replace_marked_block(text, "new table\n")
    assert replaced == f"# Title\n\nbefore\n{speed.DOCS_BEGIN}\nnew table\n{speed.DOCS_END}\nafter\n"


def test_write_docs_refuses_a_page_without_the_markers():
    with pytest.raises(InputError, match="speed-table"):
        speed.replace_marked_block("# Title\n", "new table\n")


def test_a_run_with_gpu_rows_goes_to_the_gpu_block_and_leaves_the_cpu_table():
    assert speed.docs_markers(("cpu",)) == (speed.DOCS_BEGIN, speed.DOCS_END)
    assert speed.docs_markers(("cpu", "cuda")) == speed.docs_markers(("cuda",)) == (speed.GPU_DOCS_BEGIN,
                                                                                     speed.GPU_DOCS_END)
    text = f"{speed.DOCS_BEGIN}\ncpu table\n{speed.DOCS_END}\n{speed.GPU_DOCS_BEGIN}\nold\n{speed.GPU_DOCS_END}\n"
    replaced = speed.replace_marked_block(text, "gpu table\n", speed.docs_markers(("cpu", "cuda")))
    assert replaced == (f"{speed.DOCS_BEGIN}\ncpu table\n{speed.DOCS_END}\n"
                        f"{speed.GPU_DOCS_BEGIN}\ngpu table\n{speed.GPU_DOCS_END}\n")


def test_the_performance_page_has_the_marked_blocks():
    text = (REPO / "docs" / "performance.md").read_text()
    assert text.count(speed.DOCS_BEGIN) == text.count(speed.DOCS_END) == 1
    assert text.count(speed.GPU_DOCS_BEGIN) == text.count(speed.GPU_DOCS_END) == 1


def test_unknown_presets_are_refused():
    with pytest.raises(InputError, match="placebo"):
        speed.parse_arguments(["--presets", "medium,placebo"])
    assert speed.parse_arguments([])[0].presets == ("medium", "fast")
    assert speed.parse_arguments(["--presets", "slow"])[0].presets == ("slow",)
