"""Encoder presets: the fast preset's cheaper encoder-only networks and the slow preset's refined latents
change the chosen bits, never decodability."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from benchmark_modules import load_benchmark
from clips import random_tiny_codec, scaled_example_frames, write_raw_yuv

from cmfr_codec.bitstream import BitstreamReader
from cmfr_codec.models.analysis import ANALYSIS_NETWORKS, CoarseFlow, ReducedPrecision, fast_analysis
from cmfr_codec.models.dpb import DecodedPictureBuffer
from cmfr_codec.pipeline import frame_to_tensor
from cmfr_codec.refine import refine_latent, refined_analysis
from cmfr_codec.weights import save_weights


def moving_tiny_codec():
    """The tiny test model with a flow estimator that outputs motion (an untrained one outputs zero
    flow at every level, which would hide what the fast preset changes)."""
    codec = random_tiny_codec()
    torch.manual_seed(1)
    with torch.no_grad():
        for level_net in codec.inter.flow_estimator.level_nets:
            level_net[-1].weight.normal_(0.0, 0.05)
            level_net[-1].bias.normal_(0.0, 0.5)
    return codec


@pytest.fixture(scope="module")
def moving_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    stem = tmp_path_factory.mktemp("weights") / "moving"
    return save_weights(moving_tiny_codec(), stem).intra


def test_the_fast_codec_replaces_only_encoder_only_networks_and_leaves_the_original_alone():
    codec = random_tiny_codec()
    before = {name: id(module) for name, module in codec.named_modules()}
    fast = fast_analysis(codec, bfloat16=True)
    assert {name: id(module) for name, module in codec.named_modules()} == before
    for part, names in ANALYSIS_NETWORKS.items():
        original, changed = getattr(codec, part), getattr(fast, part)
        for name, module in original.named_children():
            if name in names:
                assert isinstance(getattr(changed, name), ReducedPrecision), name
            else:
                assert getattr(changed, name) is module, f"{part}.{name} is not shared"
    flow = fast.inter.flow_estimator.network
    assert isinstance(flow, CoarseFlow) and flow.finest_level == 1
    assert next(flow.parameters()).dtype == torch.bfloat16
    assert next(codec.inter.flow_estimator.parameters()).dtype == torch.float32


def test_without_bfloat16_the_fast_codec_keeps_float32_and_shares_the_flow_weights():
    codec = random_tiny_codec()
    fast = fast_analysis(codec, bfloat16=False)
    assert isinstance(fast.inter.flow_estimator, CoarseFlow)
    assert fast.inter.flow_estimator.estimator is codec.inter.flow_estimator
    assert fast.inter.contextual_encoder is codec.inter.contextual_encoder


def test_a_reduced_precision_network_takes_tuples_and_returns_float32():
    layer = torch.nn.Conv2d(2, 3, 1)
    wrapped = ReducedPrecision(torch.nn.Sequential(layer), torch.bfloat16)
    out = wrapped(torch.rand(1, 2, 4, 4))
    assert out.dtype == torch.float32 and layer.weight.dtype == torch.float32
    assert wrapped._cast((torch.zeros(1), [torch.zeros(1)], 3))[1][0].dtype == torch.bfloat16


@pytest.mark.parametrize("bfloat16", [False, True])
def test_fast_coding_decodes_to_the_encoders_reconstruction_with_the_medium_decoder(bfloat16: bool):
    """The fast codec encodes; the unchanged codec decodes (as ``cmfr decode`` does): same pictures."""
    codec = moving_tiny_codec()
    fast = fast_analysis(codec, bfloat16=bfloat16)
    frames = [frame_to_tensor(frame, "cpu") for frame in scaled_example_frames(3, 64, 64)]
    with torch.no_grad():
        analysed = fast.intra.analysis(frames[0]), codec.intra.analysis(frames[0])
    assert torch.equal(*analysed) != bfloat16, "only bfloat16 changes the I-frame's analysis"
    decoded, streams = fast.intra.compress(frames[0], 40)
    assert torch.equal(codec.intra.decompress(streams, 40, 64 // 2, 64 // 2).x_hat, decoded.x_hat)
    encoder_dpb = decoder_dpb = DecodedPictureBuffer(frame=decoded.x_hat)
    for x in frames[1:]:
        encoded, streams = fast.inter.compress(x, encoder_dpb, 40)
        medium_streams = codec.inter.compress(x, encoder_dpb, 40)[1]
        assert streams["motion"] != medium_streams["motion"], "the flow changed, so the motion latent did"
        reconstructed = codec.inter.decompress(streams, decoder_dpb, 40)
        assert torch.equal(reconstructed.x_hat, encoded.x_hat)
        encoder_dpb, decoder_dpb = encoded.dpb, reconstructed.dpb


@pytest.mark.parametrize("preset", ["fast", "slow"])
def test_cmfr_encode_presets_round_trip_and_the_same_bytes_come_with_any_thread_count(
        preset, moving_weights, tmp_path, run_cmfr, monkeypatch):
    """256 rows: the full-resolution networks run in row stripes, by 2 workers or by 1."""
    source = write_raw_yuv(tmp_path / "clip_96x256_25.yuv", scaled_example_frames(3, 96, 256))
    streams = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("CMFR_THREADS", threads)
        stream, recon = tmp_path / f"{preset}{threads}.bin", tmp_path / f"recon{threads}.yuv"
        encoded = run_cmfr("encode", source, stream, "--model", moving_weights, "--preset", preset,
                           "--recon", recon, "--quality", "40")
        assert encoded.exit_code == 0, encoded.stderr
        streams[threads] = stream.read_bytes()
    assert streams["1"] == streams["2"]
    decoded = tmp_path / "decoded.yuv"
    assert run_cmfr("decode", tmp_path / f"{preset}2.bin", decoded, "--model", moving_weights).exit_code == 0
    assert decoded.read_bytes() == (tmp_path / "recon1.yuv").read_bytes()
    medium = tmp_path / "medium.bin"
    assert run_cmfr("encode", source, medium, "--model", moving_weights, "--quality", "40").exit_code == 0
    assert medium.read_bytes() != streams["1"], "the preset changed nothing"
    with BitstreamReader(medium) as first, BitstreamReader(tmp_path / f"{preset}1.bin") as second:
        assert first.header == second.header, "the stream does not record the preset"


def test_an_unknown_preset_is_a_usage_error(tmp_path, run_cmfr):
    result = run_cmfr("encode", tmp_path / "in.yuv", tmp_path / "out.bin", "--preset", "placebo")
    assert result.exit_code == 2
    assert "'placebo' is not one of 'slow', 'medium', 'fast'" in result.stderr
    assert not (tmp_path / "out.bin").exists()


def test_refining_a_latent_walks_down_its_objective_reproducibly_and_leaves_the_random_state_alone():
    def objective(y: torch.Tensor) -> torch.Tensor:
        noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)  # as the codecs' noise quantisation draws it
        return (noisy - 3).pow(2).sum()

    start = torch.zeros(1, 2, 3, 3)
    state = torch.random.get_rng_state()
    first, second = refine_latent(start, objective, steps=50, learning_rate=0.1), refine_latent(start, objective, 50, 0.1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(first, second) and not first.requires_grad
    assert float((first - 3).abs().max()) < float((start - 3).abs().min())
    assert refine_latent(start, objective, steps=0) is start


def test_slow_coding_decodes_to_the_encoders_reconstruction_with_the_medium_decoder():
    """The refining codec encodes; the unchanged codec decodes (as ``cmfr decode`` does): same pictures."""
    codec = moving_tiny_codec()
    slow = refined_analysis(codec, 40, steps=4)
    assert slow.intra.synthesis is codec.intra.synthesis and "_analyse" not in vars(codec.intra)
    frames = [frame_to_tensor(frame, "cpu") for frame in scaled_example_frames(3, 64, 64)]
    decoded, streams = slow.intra.compress(frames[0], 40)
    assert streams["frame"] != codec.intra.compress(frames[0], 40)[1]["frame"], "the refinement changed nothing"
    assert torch.equal(codec.intra.decompress(streams, 40, 64 // 2, 64 // 2).x_hat, decoded.x_hat)
    encoder_dpb = decoder_dpb = DecodedPictureBuffer(frame=decoded.x_hat)
    for x in frames[1:]:
        encoded, streams = slow.inter.compress(x, encoder_dpb, 40)
        medium_streams = codec.inter.compress(x, encoder_dpb, 40)[1]
        assert streams["motion"] == medium_streams["motion"], "only the frame latent is refined"
        assert streams["frame"] != medium_streams["frame"]
        reconstructed = codec.inter.decompress(streams, decoder_dpb, 40)
        assert torch.equal(reconstructed.x_hat, encoded.x_hat)
        encoder_dpb, decoder_dpb = encoded.dpb, reconstructed.dpb


def test_eval_records_the_cmfr_preset_in_each_job_and_in_the_settings(moving_weights, tmp_path, run_cmfr):
    source = write_raw_yuv(tmp_path / "clip_64x64_25.yuv", scaled_example_frames(2, 64, 64))
    report = tmp_path / "report.json"
    result = run_cmfr("eval", source, "--codecs", "cmfr", "--qualities", "40", "--model", moving_weights,
                      "--cmfr-preset", "fast", "--no-msssim", "--output", report)
    assert result.exit_code == 0, result.stderr
    written = json.loads(report.read_text())
    assert written["settings"]["cmfr_preset"] == "fast"
    assert [entry["coding"]["preset"] for entry in written["results"]] == ["fast"]


@pytest.mark.parametrize("preset", ["fast", "slow"])
def test_the_preset_cost_benchmark_codes_both_presets_and_prints_the_bd_rate_and_speeds(preset, moving_weights,
                                                                                        tmp_path, capsys):
    benchmark = load_benchmark("preset_cost")
    source = write_raw_yuv(tmp_path / "clip_64x64_25.yuv", scaled_example_frames(3, 64, 64))
    assert benchmark.main([str(source), "--preset", preset, "--model", str(moving_weights), "--frames", "3",
                           "--qualities", "0,63", "--run", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    assert "--cmfr-preset medium" in printed and f"--cmfr-preset {preset}" in printed
    assert re.search(r"^\| clip\S* \| 63 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|", printed, re.MULTILINE)
    assert f"{preset} model against the medium model (PSNR-YUV, pchip) | BD-rate | BD-PSNR |" in printed
    reports = {name: json.loads((tmp_path / "run" / f"{name}.json").read_text()) for name in ("medium", preset)}
    assert [entry["coding"]["preset"] for entry in reports[preset]["results"]] == [preset, preset]
    assert f"| {preset} | {benchmark.mean_encode_fps(reports[preset]):.2f} |" in printed
