"""benchmarks/motion_check.py: a model's flows and warps next to zero flow and the DIS teacher."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from benchmark_modules import load_benchmark, table_rows, tiny_weights

from cmfr_codec.io import open_video
from cmfr_codec.pipeline import frame_to_tensor
from cmfr_codec.training import trainer
from cmfr_codec.training.flow_teacher import dis_flow_targets

motion_check = load_benchmark("motion_check")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "city_416x240_25fps.mkv"


@pytest.fixture(scope="module")
def shifted_pair() -> list[torch.Tensor]:
    """Real content and the same content moved by 2 half-resolution pixels (4 luma pixels) to the right."""
    with open_video(EXAMPLE, frames=1) as reader:
        frame = frame_to_tensor(next(iter(reader)), "cpu")[..., 32:96, 64:128]
    return [frame, torch.roll(frame, shifts=2, dims=-1)]


def test_the_teacher_finds_the_shift_and_warps_far_better_than_zero_flow(shifted_pair):
    torch.manual_seed(0)
    # A lossless I-frame, so that the warps compare flows rather than an untrained intra codec's noise.
    codec = SimpleNamespace(intra=lambda x, quality, quantization: SimpleNamespace(x_hat=x),
                            inter=trainer.new_codec("tiny").inter.eval())
    with torch.no_grad():
        values = dict(zip(motion_check.COLUMNS, motion_check.measure(codec, shifted_pair, quality=0), strict=True))
    assert values["DIS flow"] == pytest.approx(2.0, abs=0.3)
    assert values["warp DIS dB"] > values["warp zero dB"] + 3
    assert values["motion bytes"] > 0 and values["coded DIS bytes"] > 0 and values["coded zero bytes"] > 0
    assert all(value == value for value in values.values())  # no NaN


def test_the_coded_columns_motion_code_the_teachers_flow_and_then_zero_flow(shifted_pair):
    inter = trainer.new_codec("tiny").inter.eval()
    given = []

    def recording_inter(*arguments, flow=None):
        given.append(flow)
        return inter(*arguments, flow=flow)

    codec = SimpleNamespace(intra=lambda x, quality, quantization: SimpleNamespace(x_hat=x), inter=recording_inter)
    with torch.no_grad():
        motion_check.measure(codec, shifted_pair, quality=0)
    assert given[0] is None
    assert torch.equal(given[1], dis_flow_targets(torch.cat(shifted_pair)))
    assert given[2].shape == given[1].shape and not given[2].any()


def test_the_script_prints_one_row_per_quality_index(tmp_path: Path, capsys):
    stem = tiny_weights(tmp_path)
    assert motion_check.main([str(EXAMPLE), "--model", str(stem), "--frames", "2", "--quality", "0", "63"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert [row.split(" | ")[0] for row in rows[2:]] == ["| 0", "| 63"]
    assert all(len(row.split(" | ")) == 1 + len(motion_check.COLUMNS) for row in rows)
