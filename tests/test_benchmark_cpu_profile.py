"""benchmarks/cpu_profile.py on a tiny random model: its two tables, whose parts add up."""

from __future__ import annotations

import re

from benchmark_modules import load_benchmark
from clips import random_tiny_codec

from cmfr_codec.models import integer, stripes
from cmfr_codec.weights import save_weights


def test_the_profile_splits_each_task_and_times_the_p_frame_networks(tmp_path, capsys, monkeypatch):
    benchmark = load_benchmark("cpu_profile")
    # The benchmark wraps these for its timing; the originals come back after the test.
    monkeypatch.setattr(stripes, "run_stripes", stripes.run_stripes)
    monkeypatch.setattr(integer.IntegerNetwork, "coding", integer.IntegerNetwork.coding)
    weights = save_weights(random_tiny_codec(), tmp_path / "tiny").intra
    assert benchmark.main(["--size", "64x128", "--frames", "3", "--preset", "fast", "--model", str(weights)]) == 0
    printed = capsys.readouterr().out
    for task in ("encode", "decode"):
        wall, in_stripes, one_thread, in_integer = map(int, re.search(
            rf"^\| {task} \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$", printed, re.MULTILINE).groups())
        assert abs(wall - in_stripes - one_thread) <= 1 and in_integer <= one_thread + 1
    assert re.search(r"^\| contextual_encoder \| [0-9.]+ \| - \|$", printed, re.MULTILINE), "an encoder-only network"
    assert re.search(r"^\| contextual_decoder \| [0-9.]+ \| [0-9.]+ \|$", printed, re.MULTILINE)
