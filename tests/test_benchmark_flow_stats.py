"""benchmarks/flow_stats.py: how much the prepared set's videos move, per split and frame distance."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from benchmark_modules import load_benchmark
from training_data import make_prepared_set

from cmfr_codec.data.dataset import TRAIN, ClipDataset

flow_stats = load_benchmark("flow_stats")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_prepared_set(tmp_path_factory.mktemp("flow-stats"))


def test_the_lengths_are_those_of_the_teachers_flow_of_frame_s_to_frame_0(prepared: Path):
    clips = ClipDataset(prepared, TRAIN, crop=64, augment=False)
    lengths = flow_stats.flow_lengths(clips, count=1, stride=2)
    expected = flow_stats.dis_flow_targets(torch.stack([clips[0][0], clips[0][2]]))[0].norm(dim=0).flatten()
    assert torch.equal(lengths, expected)


def test_the_table_has_a_row_per_split_and_stride(prepared: Path, capsys):
    assert flow_stats.main(["--data", str(prepared), "--clips", "2", "--strides", "1", "2", "--crop", "64"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| train") or
            line.startswith("| validation")]
    assert [row.split(" | ")[:2] for row in rows] == [["| train", "1"], ["| train", "2"],
                                                       ["| validation", "1"], ["| validation", "2"]]


@pytest.mark.parametrize("option", [("--clips", "0"), ("--strides", "9"), ("--crop", "1000")])
def test_options_out_of_range_are_refused_by_name(prepared: Path, option, capsys):
    with pytest.raises(SystemExit) as refused:
        flow_stats.main(["--data", str(prepared), "--crop", "64", *option])
    assert refused.value.code != 0 and option[0] in capsys.readouterr().err
