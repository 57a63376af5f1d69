"""benchmarks/latent_rates.py: each latent's rate, and the hyper-latents' rate next to their entropy."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from benchmark_modules import load_benchmark, table_rows, tiny_weights

from cmfr_codec.io import open_video
from cmfr_codec.pipeline import frame_to_tensor
from cmfr_codec.training import trainer

latent_rates = load_benchmark("latent_rates")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "city_416x240_25fps.mkv"


def test_the_empirical_entropy_counts_each_channel_on_its_own():
    symbols = torch.tensor([[[[0.0, 1.0]], [[3.0, 3.0]]], [[[1.0, 0.0]], [[3.0, 3.0]]]])  # (N=2, C=2, 1, 2)
    assert latent_rates.empirical_entropy_bits(symbols) == pytest.approx(4.0)  # channel 0: 4 fair bits; 1: none


@pytest.fixture(scope="module")
def measured():
    torch.manual_seed(0)
    codec = trainer.new_codec("tiny").eval()
    with open_video(EXAMPLE, frames=3) as reader:
        frames = [frame_to_tensor(frame, "cpu")[..., :64, :96] for frame in reader]
    with torch.no_grad():
        return latent_rates.measure(codec, frames, quality=20)


def test_every_latent_of_the_chain_has_a_rate(measured):
    rates, _ = measured
    assert list(rates) == list(latent_rates.LATENTS)
    assert all(rate > 0 for rate in rates.values())


def test_the_hyper_latents_model_bytes_are_those_of_the_rate_table_and_bounded_by_their_entropy(measured):
    rates, hyper = measured
    assert set(hyper) == set(latent_rates.HYPER_LATENTS)
    for name, (model_bytes, entropy_bytes) in hyper.items():
        assert model_bytes == pytest.approx(rates[name], rel=1e-5)
        assert 0 <= entropy_bytes <= model_bytes + 1e-6


def test_the_script_prints_both_tables(tmp_path: Path, capsys):
    stem = tiny_weights(tmp_path)
    assert latent_rates.main([str(EXAMPLE), "--model", str(stem), "--frames", "2", "--quality", "0", "63"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert [row.split(" | ")[0] for row in rows if row[2:3].isdigit()] == ["| 0", "| 63"] + ["| 0"] * 3 + ["| 63"] * 3


def test_a_missing_clip_is_a_usage_error_not_a_traceback(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as raised:
        latent_rates.main([str(tmp_path / "missing.mp4"), "--model", str(tiny_weights(tmp_path))])
    assert raised.value.code == 2 and "missing.mp4" in capsys.readouterr().err
