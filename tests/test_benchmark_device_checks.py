"""benchmarks/device_checks.py: the GPU session's checks, run here on the CPU with --quick."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_modules import load_benchmark

device_checks = load_benchmark("device_checks")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("device") / "prepared"
    assert device_checks.main(["prepare", str(folder), "--no-wheels"]) == 0
    return folder


def summary(out: Path) -> dict[str, dict]:
    return {result["check"]: result for result in json.loads((out / "summary.json").read_text())}


def test_the_streams_decode_on_the_other_device_and_verify_decodes_the_gpu_stream_here(prepared, tmp_path, capsys):
    out = tmp_path / "out"
    code = device_checks.main(["run", str(prepared), str(out), "--device", "cpu", "--quick",
                               "--checks", "environment,cpu-stream,gpu-stream"])
    assert code == 0
    results = summary(out)
    assert [result["state"] for result in results.values()] == ["ok"] * 3
    assert results["environment"]["details"]["torch"]
    assert results["cpu-stream"]["details"]["samples"] == 416 * 240 * 3 // 2 * device_checks.FRAMES
    assert results["cpu-stream"]["details"]["differing"] == 0
    assert (out / "gpu.bin").stat().st_size > 0 and (out / "gpu_recon.y4m").stat().st_size > 0
    assert "$ " in (out / "log.txt").read_text()
    assert device_checks.main(["verify", str(out)]) == 0
    verify_line = [line for line in capsys.readouterr().out.splitlines() if line.startswith("verify")][0]
    assert '"1 threads": {"samples": 1497600, "differing": 0' in verify_line


def test_training_runs_bf16_stages_a_resume_the_densities_and_torchrun_and_brings_back_their_logs(prepared, tmp_path):
    out = tmp_path / "out"
    assert device_checks.main(["run", str(prepared), str(out), "--device", "cpu", "--quick", "--checks", "train"]) == 0
    logs = (out / "train.csv").read_text()
    assert logs.count("# ") == 4 and "run/inter-rate/train.csv" in logs and "ddp/intra/train.csv" in logs
    assert "run/densities/train.csv" in logs
    inter_rate_steps = logs.split("# run/inter-rate/train.csv\n")[1].split("# ")[0].splitlines()[1:]
    assert [row.split(",")[0] for row in inter_rate_steps] == [str(step) for step in range(1, 9)]


def test_a_failed_check_is_recorded_and_the_next_one_still_runs(tmp_path):
    out = tmp_path / "out"
    code = device_checks.main(["run", str(tmp_path / "missing"), str(out), "--device", "cpu", "--quick",
                               "--checks", "cpu-stream,environment"])
    assert code == 1
    results = summary(out)
    assert results["cpu-stream"]["state"] == "failed" and "missing" in results["cpu-stream"]["details"]["error"]
    assert results["environment"]["state"] == "ok"


def test_checks_that_no_longer_fit_the_budget_are_skipped(tmp_path):
    results = device_checks.run_checks(tmp_path, tmp_path / "out", budget=0, device="cpu", quick=False,
                                       checks=("environment", "tests"))
    assert [result.state for result in results] == ["skipped", "skipped"]
    assert summary(tmp_path / "out")["tests"]["details"]["reason"].endswith("s left")


def test_unknown_checks_are_refused(tmp_path):
    with pytest.raises(SystemExit) as raised:
        device_checks.main(["run", str(tmp_path), str(tmp_path / "out"), "--checks", "speed,warp-drive"])
    assert raised.value.code == 2


def test_every_check_has_a_function_and_a_usual_time():
    assert set(device_checks.CHECK_FUNCTIONS) == set(device_checks.USUAL_SECONDS) == set(device_checks.CHECKS)
