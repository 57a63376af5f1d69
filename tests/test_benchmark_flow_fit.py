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
    assert [row.split(" | ")[0] for row in rows] == ["| 3"]
    assert "held-out end-point error (half-resolution pixels) of zero flow" in printed


@pytest.mark.parametrize("option", [("--steps", "0"), ("--crop", "100")])
def test_options_out_of_range_are_refused_by_name(prepared: Path, option, capsys):
    with pytest.raises(SystemExit) as refused:
        flow_fit.main(["--data", str(prepared), *option])
    assert refused.value.code != 0 and option[0] in capsys.readouterr().err
