"""benchmarks/flow_fit.py: a new flow estimator trained alone on the DIS teacher."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from benchmark_modules import load_benchmark
from training_data import make_prepared_set

flow_fit = load_benchmark("flow_fit")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_prepared_set(tmp_path_factory.mktemp("flow-fit"))


def test_the_teacher_of_a_snippet_is_the_motion_stages_target(prepared: Path):
    snippets, targets = flow_fit.held_out(prepared, crop=64)
    assert targets.shape == (len(snippets), 2, 32, 32)
    assert torch.equal(targets[0], flow_fit.dis_flow_targets(snippets[0])[0])


def test_the_report_has_a_row_per_50_steps_and_one_at_the_end(prepared: Path, capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert flow_fit.main(["--data", str(prepared), "--model-config", "tiny", "--steps", "3", "--batch", "2",
                              "--crop", "64", "--device", "cpu"]) == 0
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.split(" | ")[0] for row in rows] == ["| 3"] and len(rows[0].split(" | ")) == 5
    assert "held-out end-point error (half-resolution pixels) of zero flow" in printed
    assert "cost volume radius 1; frame pairs up to 6 frames apart, 50% synthetic" in printed


def test_the_warp_psnr_is_that_of_frame_0_warped_onto_frame_1_in_yuv_6_1_1(prepared: Path):
    snippets, targets = flow_fit.held_out(prepared, crop=64)
    zero = flow_fit.warp_psnr(snippets, torch.zeros_like(targets))
    mse = flow_fit.yuv_mse(snippets[:, 0], snippets[:, 1]).item()
    assert zero == pytest.approx(10 * torch.log10(torch.tensor(1 / mse)).item(), abs=1e-3)
    shifted = torch.zeros_like(targets)
    shifted[:, 0] = 1.0
    mse = flow_fit.yuv_mse(flow_fit.warp(snippets[:, 0], shifted), snippets[:, 1]).item()
    assert flow_fit.warp_psnr(snippets, shifted) == pytest.approx(10 * torch.log10(torch.tensor(1 / mse)).item(), abs=1e-3)
    assert flow_fit.warp_psnr(snippets, shifted) != pytest.approx(zero, abs=0.01)


def test_the_options_switch_off_the_cost_volume_the_strides_and_the_synthetic_pairs(prepared: Path, capsys):
    assert flow_fit.main(["--data", str(prepared), "--model-config", "tiny", "--steps", "1", "--batch", "2",
                          "--crop", "64", "--device", "cpu", "--cost-radius", "0", "--max-frame-stride", "1",
                          "--synthetic-motion", "0"]) == 0
    assert "cost volume radius 0; frame pairs up to 1 frames apart, 0% synthetic" in capsys.readouterr().out


@pytest.mark.parametrize("option", [("--steps", "0"), ("--crop", "100"), ("--cost-radius", "-1"),
                                    ("--synthetic-motion", "1.5"), ("--max-frame-stride", "0")])
def test_options_out_of_range_are_refused_by_name(prepared: Path, option, capsys):
    with pytest.raises(SystemExit) as refused:
        flow_fit.main(["--data", str(prepared), *option])
    assert refused.value.code != 0 and option[0] in capsys.readouterr().err
