"""Latent codecs: training likelihoods, real bytes, and a decoder that rebuilds the encoder's latent exactly."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cmfr_codec.determinism import reproducible_inference
from cmfr_codec.entropy import ScaleTable
from cmfr_codec.errors import ModelError
from cmfr_codec.models.integer import table_indices
from cmfr_codec.models.latent_codecs import (
    PHASES,
    FactorizedLatentCodec,
    GaussianConditionalCodec,
    QuadtreeContextCodec,
    step_phase,
)

REPOSITORY = Path(__file__).resolve().parents[1]
CHANNELS = 8
HYPER_CHANNELS = 8


def stream_bits(streams: dict[str, bytes]) -> int:
    return 8 * sum(len(data) for data in streams.values())


def training_bits(likelihoods: torch.Tensor) -> float:
    return float(-likelihoods.detach().log2().sum())


def assert_rate_matches(streams: dict[str, bytes], likelihoods: torch.Tensor) -> None:
    """Coded size within 5% of the training rate, plus two 32-bit ANS words per stream."""
    estimate = training_bits(likelihoods)
    assert abs(stream_bits(streams) - estimate) <= 0.05 * estimate + 64 * len(streams)


def fit(codec: torch.nn.Module, rate, steps: int, learning_rate: float) -> None:
    """A few Adam steps minimising ``rate()`` (mean bits per element): a trained-ish density."""
    optimiser = torch.optim.Adam(codec.parameters(), lr=learning_rate)
    for _ in range(steps):
        optimiser.zero_grad()
        rate().backward()
        optimiser.step()


def hyper_latent_sample(seed: int) -> torch.Tensor:
    """Laplace-distributed values whose spread differs from channel to channel."""
    generator = torch.Generator().manual_seed(seed)
    unit = torch.empty(1, CHANNELS, 8, 8).exponential_(generator=generator)
    signs = torch.randint(0, 2, unit.shape, generator=generator) * 2 - 1
    return unit * signs * torch.linspace(0.5, 6.0, CHANNELS)[None, :, None, None]


@pytest.fixture(scope="module")
def factorized() -> FactorizedLatentCodec:
    torch.manual_seed(0)
    codec = FactorizedLatentCodec(CHANNELS)
    training = torch.cat([hyper_latent_sample(seed) for seed in range(4)])
    fit(codec, lambda: -codec(training)[1].log2().mean(), 80, 0.1)
    codec.update_tables()
    return codec


@pytest.fixture(scope="module")
def quadtree() -> QuadtreeContextCodec:
    torch.manual_seed(1)
    codec = QuadtreeContextCodec(CHANNELS, HYPER_CHANNELS)
    y, common_params = quadtree_sample(seed=2)
    fit(codec, lambda: -codec(y, common_params)[1].log2().mean(), 40, 0.01)
    return codec


def quadtree_sample(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    common_params = torch.randn(1, HYPER_CHANNELS, 8, 8, generator=generator)
    y = 4 * torch.randn(1, CHANNELS, 8, 8, generator=generator) + common_params
    return y, common_params


def conditional_sample(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """y drawn around its means at scale-table positions -3 .. 55 (scales about 0.08 .. 28,
    some below the table)."""
    generator = torch.Generator().manual_seed(seed)
    positions = torch.empty(1, 16, 8, 8).uniform_(-3.0, 55.0, generator=generator)
    means = 3 * torch.randn(1, 16, 8, 8, generator=generator)
    y = means + GaussianConditionalCodec().scales(positions) * torch.randn(1, 16, 8, 8, generator=generator)
    return y, positions, means


# --- FactorizedLatentCodec ------------------------------------------------------------------------

@pytest.mark.parametrize("quantization", ["noise", "ste"])
def test_factorized_forward_gives_latent_shaped_likelihoods_in_unit_interval(quantization):
    torch.manual_seed(0)
    z = 3 * torch.randn(2, CHANNELS, 4, 6)
    z_hat, likelihoods = FactorizedLatentCodec(CHANNELS)(z, quantization)
    assert z_hat.shape == likelihoods.shape == z.shape
    assert bool((likelihoods > 0).all()) and bool((likelihoods <= 1).all())


def test_factorized_straight_through_forward_is_the_coded_rounding():
    torch.manual_seed(0)
    z = 3 * torch.randn(1, CHANNELS, 4, 4)
    z_hat, _ = FactorizedLatentCodec(CHANNELS)(z, "ste")
    assert torch.equal(z_hat, torch.round(z))


def test_factorized_noise_forward_stays_within_half_a_step():
    torch.manual_seed(0)
    z = 3 * torch.randn(1, CHANNELS, 4, 4)
    z_hat, _ = FactorizedLatentCodec(CHANNELS)(z, "noise")
    assert not torch.equal(z_hat, z)
    assert float((z_hat - z).abs().max()) <= 0.5


def test_factorized_density_puts_unit_mass_on_the_integers():
    torch.manual_seed(0)
    codec = FactorizedLatentCodec(CHANNELS)
    integers = torch.arange(-400.0, 401.0).reshape(1, 1, -1, 1).expand(1, CHANNELS, -1, 1)
    total = codec.likelihoods(integers).sum(dim=2).flatten()
    torch.testing.assert_close(total, torch.ones(CHANNELS), atol=1e-4, rtol=0)


def test_factorized_likelihoods_ignore_mixed_precision_and_come_out_in_float32():
    torch.manual_seed(0)
    codec = FactorizedLatentCodec(CHANNELS)
    with torch.no_grad():  # a narrow density, as trained hyper-latents have: bfloat16 would blur it
        for matrix in codec.matrices:
            matrix.add_(2.0)
    z_hat = torch.randint(-3, 4, (2, CHANNELS, 4, 4)).float()
    plain = codec.likelihoods(z_hat)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = codec.likelihoods(z_hat)
        from_bfloat16 = codec.likelihoods(z_hat.bfloat16())
    assert mixed.dtype == from_bfloat16.dtype == torch.float32
    assert torch.equal(mixed, plain) and torch.equal(from_bfloat16, plain)


def test_factorized_backward_reaches_the_density_and_the_latent():
    torch.manual_seed(0)
    codec = FactorizedLatentCodec(CHANNELS)
    z = (3 * torch.randn(1, CHANNELS, 4, 4)).requires_grad_()
    _, likelihoods = codec(z, "ste")
    (-likelihoods.log2().sum()).backward()
    assert z.grad is not None and bool(z.grad.abs().sum() > 0)
    assert all(parameter.grad is not None and bool(parameter.grad.abs().sum() > 0)
               for parameter in codec.parameters())


def test_factorized_coding_without_tables_is_a_model_error():
    codec = FactorizedLatentCodec(CHANNELS)
    with pytest.raises(ModelError, match="update_tables"):
        codec.compress(torch.zeros(1, CHANNELS, 4, 4))


def test_factorized_round_trip_rebuilds_the_exact_integer_latent(factorized):
    z = hyper_latent_sample(seed=10)
    z_hat, streams = factorized.compress(z)
    assert list(streams) == ["z"] and isinstance(streams["z"], bytes) and streams["z"]
    assert torch.equal(z_hat, torch.round(z))
    assert torch.equal(factorized.decompress(streams, (8, 8)), z_hat)


def test_factorized_values_far_outside_the_tables_round_trip_through_the_escape(factorized):
    z = hyper_latent_sample(seed=11)
    z[0, 0, 0, :3] = torch.tensor([1000.0, -70_000.0, 300.0])
    z_hat, streams = factorized.compress(z)
    assert torch.equal(factorized.decompress(streams, (8, 8)), z_hat)
    assert z_hat[0, 0, 0, 1] == -70_000


def test_factorized_stream_size_matches_the_training_rate(factorized):
    z = hyper_latent_sample(seed=12)
    _, likelihoods = factorized(z, "ste")
    _, streams = factorized.compress(z)
    assert_rate_matches(streams, likelihoods)


def test_factorized_tables_travel_in_the_state_dict(factorized, tmp_path):
    z = hyper_latent_sample(seed=13)
    _, streams = factorized.compress(z)
    torch.save(factorized.state_dict(), tmp_path / "codec.pt")
    restored = FactorizedLatentCodec(CHANNELS)
    restored.load_state_dict(torch.load(tmp_path / "codec.pt"))
    assert torch.equal(restored.cdf_tables, factorized.cdf_tables)
    restored_z_hat, restored_streams = restored.compress(z)
    assert restored_streams == streams
    assert torch.equal(restored.decompress(streams, (8, 8)), restored_z_hat)


def test_factorized_stream_name_is_configurable():
    torch.manual_seed(0)
    codec = FactorizedLatentCodec(CHANNELS, name="motion_z")
    codec.update_tables()
    z_hat, streams = codec.compress(torch.zeros(1, CHANNELS, 2, 2))
    assert list(streams) == ["motion_z"]
    assert torch.equal(codec.decompress(streams, (2, 2)), z_hat)


def narrowed(codec: FactorizedLatentCodec, band: int) -> FactorizedLatentCodec:
    """``codec`` with the densities of ``band`` made narrower than the others."""
    rows = slice(band * codec.channels, (band + 1) * codec.channels)
    with torch.no_grad():
        for matrix in codec.matrices:
            matrix[rows] += 0.5
    return codec


def test_factorized_density_bands_share_the_quality_indices_out_in_equal_runs():
    codec = FactorizedLatentCodec(CHANNELS, density_bands=8)
    assert [codec.density_band(quality) for quality in (0, 7, 8, 31, 32, 63)] == [0, 0, 1, 3, 4, 7]
    assert FactorizedLatentCodec(CHANNELS).density_band(None) == 0
    with pytest.raises(ValueError, match="quality index is needed"):
        codec.density_band(None)
    with pytest.raises(ValueError, match="0..63"):
        codec.density_band(64)
    with pytest.raises(ValueError, match="density_bands must be 1..64"):
        FactorizedLatentCodec(CHANNELS, density_bands=0)


def test_factorized_likelihoods_follow_each_samples_band():
    torch.manual_seed(0)
    codec = narrowed(FactorizedLatentCodec(CHANNELS, density_bands=2), band=1)
    z_hat = torch.randint(-3, 4, (1, CHANNELS, 4, 4)).float()
    low, high = codec.likelihoods(z_hat, 0), codec.likelihoods(z_hat, 63)
    assert not torch.equal(low, high)
    mixed = codec.likelihoods(z_hat.expand(3, -1, -1, -1), torch.tensor([10.0, 40.5, 31.0]))
    for sample, alone in ((0, low), (1, high), (2, low)):  # the same up to the batched matrix products' rounding
        torch.testing.assert_close(mixed[sample], alone[0], rtol=1e-6, atol=0)


def test_factorized_banded_round_trip_codes_each_band_with_its_own_tables():
    torch.manual_seed(0)
    codec = narrowed(FactorizedLatentCodec(CHANNELS, density_bands=2), band=1)
    codec.update_tables()
    assert codec.cdf_tables.shape[0] == 2 * CHANNELS
    z = hyper_latent_sample(seed=14) / 4
    low_hat, low = codec.compress(z, 20)
    high_hat, high = codec.compress(z, 50)
    assert low != high and torch.equal(low_hat, high_hat)
    assert torch.equal(codec.decompress(low, (8, 8), 20), low_hat)
    assert torch.equal(codec.decompress(high, (8, 8), 50), high_hat)
    _, likelihoods = codec(z, "ste", 50)
    assert_rate_matches(high, likelihoods)


def test_spreading_the_densities_over_more_bands_keeps_every_qualitys_likelihoods():
    torch.manual_seed(0)
    source = narrowed(FactorizedLatentCodec(CHANNELS, density_bands=2), band=1)
    spread = FactorizedLatentCodec(CHANNELS, density_bands=8)
    spread.spread_bands(source)
    z_hat = torch.randint(-3, 4, (64, CHANNELS, 2, 2)).float()
    qualities = torch.arange(64)
    assert torch.equal(spread.likelihoods(z_hat, qualities), source.likelihoods(z_hat, qualities))
    with pytest.raises(ValueError, match="other shapes"):
        spread.spread_bands(FactorizedLatentCodec(CHANNELS + 1))


# --- GaussianConditionalCodec ---------------------------------------------------------------------

@pytest.mark.parametrize("distribution", ["gaussian", "laplace"])
@pytest.mark.parametrize("quantization", ["noise", "ste"])
def test_conditional_forward_gives_latent_shaped_likelihoods_in_unit_interval(distribution, quantization):
    y, positions, means = conditional_sample(seed=0)
    y_hat, likelihoods = GaussianConditionalCodec(distribution)(y, positions, means, quantization)
    assert y_hat.shape == likelihoods.shape == y.shape
    assert bool((likelihoods > 0).all()) and bool((likelihoods <= 1).all())


@pytest.mark.parametrize("distribution", ["gaussian", "laplace"])
def test_conditional_likelihoods_sum_to_one_over_the_integers(distribution):
    centred = torch.arange(-400.0, 401.0).reshape(-1, 1)
    positions = torch.tensor([[0.0, 21.5, 40.0, 55.0]]).expand(centred.shape[0], 4)
    total = GaussianConditionalCodec(distribution).likelihoods(centred, positions).sum(dim=0)
    torch.testing.assert_close(total, torch.ones(4), atol=1e-5, rtol=0)


def test_conditional_straight_through_forward_equals_the_coded_reconstruction():
    y, positions, means = conditional_sample(seed=1)
    codec = GaussianConditionalCodec()
    y_hat, _ = codec(y, positions, means, "ste")
    coded_y_hat, _ = codec.compress(y, positions, means)
    assert torch.equal(y_hat, coded_y_hat)


def test_conditional_backward_reaches_latent_positions_and_means():
    y, positions, means = (tensor.requires_grad_() for tensor in conditional_sample(seed=2))
    _, likelihoods = GaussianConditionalCodec()(y, positions, means, "noise")
    (-likelihoods.log2().sum()).backward()
    assert all(tensor.grad is not None and bool(tensor.grad.abs().sum() > 0) for tensor in (y, positions, means))


def test_conditional_positions_below_the_table_count_as_its_first_entry_yet_get_pushed_up():
    codec = GaussianConditionalCodec()
    centred = torch.ones(1)
    below = torch.tensor([-5.0], requires_grad=True)
    likelihood = codec.likelihoods(centred, below)
    torch.testing.assert_close(likelihood, codec.likelihoods(centred, torch.tensor([0.0])))
    (-likelihood.log2()).sum().backward()
    assert float(below.grad) < 0


def test_conditional_positions_map_to_the_nearest_table_entry_with_halves_going_up():
    positions = torch.tensor([[-7.0, 0.0, 0.49, 0.5, 10.5, 62.6, 63.0, 90.0]], dtype=torch.float64)
    assert table_indices(positions, 64).tolist() == [[0, 0, 0, 1, 11, 63, 63, 63]]


def test_conditional_position_scales_are_the_scale_table_entries():
    codec = GaussianConditionalCodec()
    table = ScaleTable()
    scales = codec.scales(torch.arange(64, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(scales, table.scales, rtol=1e-12)


@pytest.mark.parametrize("distribution", ["gaussian", "laplace"])
def test_conditional_round_trip_rebuilds_the_exact_latent(distribution):
    y, positions, means = conditional_sample(seed=3)
    codec = GaussianConditionalCodec(distribution)
    y_hat, streams = codec.compress(y, positions, means)
    assert list(streams) == ["y"] and isinstance(streams["y"], bytes) and streams["y"]
    assert torch.equal(y_hat, torch.round(y - means) + means)
    assert torch.equal(codec.decompress(streams, positions, means), y_hat)


def test_conditional_index_map_is_the_identity_until_calibrated_and_loads_so_from_older_weights():
    codec = GaussianConditionalCodec()
    assert torch.equal(codec.index_map, torch.arange(64))
    older = {key: value for key, value in codec.state_dict().items() if key != "index_map"}
    codec.index_map[:] = 0
    codec.load_state_dict(older)
    assert torch.equal(codec.index_map, torch.arange(64))


def test_calibration_codes_scales_that_are_too_wide_with_the_table_that_fits_them():
    y, positions, means = conditional_sample(seed=5)
    too_wide = positions + 6  # the network predicts six entries (1.8x) wider than the symbols' scale
    codec = GaussianConditionalCodec()
    _, before = codec.compress(y, too_wide, means)
    bits = codec.table_bits(torch.round(y - means), too_wide)
    assert bits.shape == (64, 64)
    codec.calibrate(bits)
    predicted = table_indices(too_wide, 64).long().unique()
    assert (codec.index_map[predicted] < predicted).float().mean() > 0.8
    assert torch.equal(codec.index_map[bits.sum(dim=1) == 0], torch.arange(64)[bits.sum(dim=1) == 0])
    y_hat, after = codec.compress(y, too_wide, means)
    assert len(after["y"]) < len(before["y"])
    assert torch.equal(codec.decompress(after, too_wide, means), y_hat)
    assert torch.equal(y_hat, torch.round(y - means) + means)
    # Training's rate follows the coded tables (between entries it uses the continuous scale).
    calibrated_bits = float(-codec.likelihoods(torch.round(y - means), too_wide).log2().sum())
    assert calibrated_bits == pytest.approx(float(bits.gather(1, codec.index_map[:, None]).sum()), rel=0.05)


def test_conditional_skipped_positions_reconstruct_at_the_mean_on_both_sides():
    y, positions, means = conditional_sample(seed=4)
    y = y + 2.0 * (positions < 10)  # symbols the skip discards, so it must show
    codec = GaussianConditionalCodec(skip_below_index=8)
    skipped = positions < 7.5
    y_hat, streams = codec.compress(y, positions, means)
    assert bool(skipped.any())
    assert torch.equal(y_hat[skipped], means[skipped])
    assert torch.equal(codec.decompress(streams, positions, means), y_hat)


@pytest.mark.parametrize("distribution", ["gaussian", "laplace"])
def test_conditional_stream_size_matches_the_training_rate(distribution):
    y, positions, means = conditional_sample(seed=5)
    codec = GaussianConditionalCodec(distribution)
    _, likelihoods = codec(y, positions, means, "ste")
    _, streams = codec.compress(y, positions, means)
    assert_rate_matches(streams, likelihoods)


# --- QuadtreeContextCodec -------------------------------------------------------------------------

def test_quadtree_steps_code_every_group_and_phase_exactly_once():
    coded = [(group, step_phase(group, step)) for step in range(4) for group in range(4)]
    assert sorted(coded) == sorted((group, phase) for group in range(4) for phase in PHASES)
    for step in range(4):
        assert sorted(step_phase(group, step) for group in range(4)) == sorted(PHASES)


@pytest.mark.parametrize("quantization", ["noise", "ste"])
def test_quadtree_forward_gives_latent_shaped_likelihoods_in_unit_interval(quantization):
    torch.manual_seed(0)
    y, common_params = quadtree_sample(seed=0)
    y_hat, likelihoods = QuadtreeContextCodec(CHANNELS, HYPER_CHANNELS)(y, common_params, quantization)
    assert y_hat.shape == likelihoods.shape == y.shape
    assert bool((likelihoods > 0).all()) and bool((likelihoods <= 1).all())


def test_quadtree_backward_reaches_every_step_network_and_the_inputs():
    torch.manual_seed(0)
    codec = QuadtreeContextCodec(CHANNELS, HYPER_CHANNELS)
    y, common_params = (tensor.requires_grad_() for tensor in quadtree_sample(seed=1))
    y_hat, likelihoods = codec(y, common_params, "ste")
    ((y_hat - y.detach()).square().sum() - likelihoods.log2().sum()).backward()
    assert y.grad is not None and common_params.grad is not None
    for network in codec.parameter_networks:
        assert all(parameter.grad is not None and bool(parameter.grad.abs().sum() > 0)
                   for parameter in network.parameters())


def test_quadtree_a_step_depends_only_on_earlier_steps():
    """Changing what step 3 codes leaves the likelihoods of steps 0-2 untouched (the decoder's view)."""
    torch.manual_seed(0)
    codec = QuadtreeContextCodec(CHANNELS, HYPER_CHANNELS)
    y, common_params = quadtree_sample(seed=2)
    last_step = torch.zeros_like(y, dtype=torch.bool)
    for group in range(4):
        row, column = step_phase(group, 3)
        last_step[:, group * 2:(group + 1) * 2, row::2, column::2] = True
    _, before = codec(y, common_params, "ste")
    _, after = codec(y + 5.0 * last_step, common_params, "ste")
    assert torch.equal(before[~last_step], after[~last_step])
    assert not torch.equal(before[last_step], after[last_step])


def test_quadtree_straight_through_forward_equals_the_coded_reconstruction(quadtree):
    y, common_params = quadtree_sample(seed=3)
    with reproducible_inference():  # the arithmetic compress uses, so only the code paths are compared
        y_hat, _ = quadtree(y, common_params, "ste")
    coded_y_hat, _ = quadtree.compress(y, common_params)
    assert torch.equal(y_hat, coded_y_hat)


def test_quadtree_round_trip_rebuilds_the_exact_latent_from_one_stream_of_four_steps(quadtree):
    y, common_params = quadtree_sample(seed=4)
    y_hat, streams = quadtree.compress(y, common_params)
    assert list(streams) == ["y"]
    assert all(isinstance(data, bytes) and data for data in streams.values())
    assert torch.equal(quadtree.decompress(streams, common_params), y_hat)


def test_quadtree_stream_prefix_is_configurable():
    torch.manual_seed(0)
    codec = QuadtreeContextCodec(CHANNELS, HYPER_CHANNELS, name="motion_y")
    y, common_params = quadtree_sample(seed=5)
    y_hat, streams = codec.compress(y, common_params)
    assert list(streams) == ["motion_y"]
    assert torch.equal(codec.decompress(streams, common_params), y_hat)


def test_quadtree_stream_size_matches_the_training_rate(quadtree):
    y, common_params = quadtree_sample(seed=6)
    _, likelihoods = quadtree(y, common_params, "ste")
    _, streams = quadtree.compress(y, common_params)
    assert_rate_matches(streams, likelihoods)


def test_quadtree_rejects_odd_latent_sizes():
    codec = QuadtreeContextCodec(CHANNELS, HYPER_CHANNELS)
    with pytest.raises(ValueError, match="even"):
        codec.compress(torch.zeros(1, CHANNELS, 5, 4), torch.zeros(1, HYPER_CHANNELS, 5, 4))


# --- Across processes -----------------------------------------------------------------------------

CHILD = """
import sys
import torch
torch.set_num_threads(1)
from cmfr_codec.models.latent_codecs import FactorizedLatentCodec, GaussianConditionalCodec, QuadtreeContextCodec
from cmfr_codec.determinism import reproducible_inference
saved = torch.load(sys.argv[1])
factorized = FactorizedLatentCodec(saved["channels"])
factorized.load_state_dict(saved["factorized"])
quadtree = QuadtreeContextCodec(saved["channels"], saved["hyper_channels"])
quadtree.load_state_dict(saved["quadtree"])
conditional = GaussianConditionalCodec("laplace", skip_below_index=4)
torch.save({
    "z_hat": factorized.decompress(saved["z_streams"], saved["z_size"]),
    "y_hat": quadtree.decompress(saved["y_streams"], saved["common_params"]),
    "conditional_y_hat": conditional.decompress(saved["conditional_streams"], *saved["positions_and_means"]),
}, sys.argv[2])
"""


def test_another_process_decodes_every_codec_bit_exactly(factorized, quadtree, tmp_path):
    """The decoder lives in another process, on one thread where the encoder used several."""
    z_hat, z_streams = factorized.compress(hyper_latent_sample(seed=20))
    y, common_params = quadtree_sample(seed=21)
    y_hat, y_streams = quadtree.compress(y, common_params)
    conditional_y, positions, means = conditional_sample(seed=22)
    conditional_y_hat, conditional_streams = GaussianConditionalCodec("laplace", skip_below_index=4).compress(
        conditional_y, positions, means)
    torch.save({
        "channels": CHANNELS, "hyper_channels": HYPER_CHANNELS,
        "factorized": factorized.state_dict(), "quadtree": quadtree.state_dict(),
        "z_streams": z_streams, "z_size": (8, 8),
        "y_streams": y_streams, "common_params": common_params,
        "conditional_streams": conditional_streams, "positions_and_means": (positions, means),
    }, tmp_path / "encoded.pt")
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(REPOSITORY))
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "encoded.pt"), str(tmp_path / "decoded.pt")],
                           env=environment, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    decoded = torch.load(tmp_path / "decoded.pt")
    assert torch.equal(decoded["z_hat"], z_hat)
    assert torch.equal(decoded["y_hat"], y_hat)
    assert torch.equal(decoded["conditional_y_hat"], conditional_y_hat)
