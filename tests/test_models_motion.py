"""Flow warping, the SpyNet-style estimator, the Motion Refiner and offset-diversity alignment."""

import math

import pytest
import torch

from cmfr_codec.models.alignment import OffsetDiversityAlignment
from cmfr_codec.models.motion import COST_SCALE, MotionRefiner, SpyNetFlow, matching_costs, resize_flow, warp


def constant_flow(batch: int, height: int, width: int, dx: float, dy: float) -> torch.Tensor:
    flow = torch.empty(batch, 2, height, width)
    flow[:, 0], flow[:, 1] = dx, dy
    return flow


def assert_finite_gradients(module: torch.nn.Module, output: torch.Tensor) -> None:
    output.square().mean().backward()
    for name, parameter in module.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name


def test_warping_with_zero_flow_is_the_identity():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 17, 23)
    assert torch.allclose(warp(x, torch.zeros(2, 2, 17, 23)), x, atol=1e-5)


def test_warping_with_an_integer_flow_fetches_the_displaced_pixels():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 20, 24)
    out = warp(x, constant_flow(1, 20, 24, dx=3, dy=-2))
    assert torch.allclose(out[..., 2:, :-3], x[..., :-2, 3:], atol=1e-5)


def test_channel_zero_of_the_flow_is_horizontal():
    x = torch.arange(8, dtype=torch.float32).expand(1, 1, 8, 8)
    out = warp(x, constant_flow(1, 8, 8, dx=1, dy=0))
    assert torch.allclose(out[0, 0, :, :-1], x[0, 0, :, 1:], atol=1e-5)


def test_a_half_pixel_flow_interpolates_bilinearly():
    x = torch.arange(6, dtype=torch.float32).reshape(1, 1, 1, 6) ** 2
    out = warp(x, constant_flow(1, 1, 6, dx=0.5, dy=0))
    assert torch.allclose(out[0, 0, 0, :-1], (x[0, 0, 0, :-1] + x[0, 0, 0, 1:]) / 2, atol=1e-5)


def test_samples_outside_the_picture_take_the_edge_value():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 6, 9)
    out = warp(x, constant_flow(1, 6, 9, dx=100, dy=-100))
    assert torch.allclose(out, x[..., :1, -1:].expand_as(x), atol=1e-6)


def test_warp_rejects_a_flow_of_another_size():
    with pytest.raises(ValueError, match="cannot warp"):
        warp(torch.zeros(1, 3, 8, 8), torch.zeros(1, 2, 8, 9))


def test_warp_rejects_a_flow_without_two_channels():
    with pytest.raises(ValueError, match="flow must be"):
        warp(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


def test_resizing_a_flow_scales_its_vectors_with_the_pixel_size():
    flow = constant_flow(1, 10, 12, dx=1.5, dy=-2.0)
    assert torch.allclose(resize_flow(flow, 20, 24), constant_flow(1, 20, 24, dx=3.0, dy=-4.0))
    assert torch.allclose(resize_flow(flow, 5, 24), constant_flow(1, 5, 24, dx=3.0, dy=-1.0))


def test_halving_a_flow_averages_two_by_two_blocks():
    torch.manual_seed(0)
    flow = torch.randn(1, 2, 8, 8)
    expected = torch.nn.functional.avg_pool2d(flow, 2) / 2
    assert torch.allclose(resize_flow(flow, 4, 4), expected, atol=1e-6)


@pytest.mark.parametrize("in_channels", [6, 3])
def test_an_untrained_flow_estimator_outputs_zero_flow_at_the_input_size(in_channels: int):
    torch.manual_seed(0)
    estimator = SpyNetFlow(in_channels=in_channels, channels=(8, 8))
    current, reference = torch.rand(2, in_channels, 40, 57), torch.rand(2, in_channels, 40, 57)
    flow = estimator(current, reference)
    assert flow.shape == (2, 2, 40, 57)
    assert torch.equal(flow, torch.zeros_like(flow))


def test_coarse_flow_is_doubled_in_value_at_each_finer_level():
    estimator = SpyNetFlow(levels=3, channels=(8,))
    with torch.no_grad():
        estimator.level_nets[2][-1].bias.copy_(torch.tensor([1.0, -0.5]))
    flow = estimator(torch.rand(1, 6, 19, 30), torch.rand(1, 6, 19, 30))
    assert torch.allclose(flow, constant_flow(1, 19, 30, dx=4.0, dy=-2.0))


def test_the_finest_level_residual_is_added_unscaled():
    estimator = SpyNetFlow(levels=3, channels=(8,))
    with torch.no_grad():
        estimator.level_nets[0][-1].bias.copy_(torch.tensor([0.25, 0.75]))
        estimator.level_nets[1][-1].bias.copy_(torch.tensor([1.0, 0.0]))
    flow = estimator(torch.rand(1, 6, 16, 16), torch.rand(1, 6, 16, 16))
    assert torch.allclose(flow, constant_flow(1, 16, 16, dx=2.25, dy=0.75))


def test_stopping_a_level_early_skips_that_level_and_doubles_the_coarser_flow():
    estimator = SpyNetFlow(levels=3, channels=(8,))
    with torch.no_grad():
        estimator.level_nets[0][-1].bias.copy_(torch.tensor([0.25, 0.75]))
        estimator.level_nets[1][-1].bias.copy_(torch.tensor([1.0, 0.0]))
    flow = estimator(torch.rand(1, 6, 19, 30), torch.rand(1, 6, 19, 30), finest_level=1)
    assert torch.allclose(flow, constant_flow(1, 19, 30, dx=2.0, dy=0.0)), "level 0's +0.25/+0.75 is not added"


@pytest.mark.parametrize("finest_level", [-1, 3])
def test_the_finest_level_must_be_one_of_the_estimators_levels(finest_level: int):
    with pytest.raises(ValueError, match="finest_level must be 0..2"):
        SpyNetFlow(levels=3, channels=(8,))(torch.zeros(1, 6, 16, 16), torch.zeros(1, 6, 16, 16), finest_level)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_warping_a_reduced_precision_tensor_samples_at_float32_positions(dtype: torch.dtype):
    """bfloat16 cannot count past 256 columns; torch's CPU grid_sample returned NaN in bfloat16."""
    x = torch.rand(1, 3, 8, 600).to(dtype)
    flow = constant_flow(1, 8, 600, dx=1.0, dy=0.0)
    warped = warp(x, flow.to(dtype))
    assert warped.dtype == dtype
    assert torch.equal(warped, warp(x.float(), flow).to(dtype))
    shifted = torch.cat([x[..., 1:], x[..., -1:]], dim=-1)
    assert (warped.float() - shifted.float()).abs().max() < 0.01


def test_the_flow_estimator_trains_every_level_net():
    torch.manual_seed(0)
    estimator = SpyNetFlow(levels=3, channels=(8, 8))
    current, reference = torch.rand(1, 6, 32, 32), torch.rand(1, 6, 32, 32)
    loss = (warp(reference, estimator(current, reference)) - current).square().mean()
    loss.backward()
    for level_net in estimator.level_nets:
        last_conv_gradient = level_net[-1].weight.grad
        assert torch.isfinite(last_conv_gradient).all() and last_conv_gradient.abs().sum() > 0


def test_the_flow_estimator_rejects_frames_of_different_shapes():
    with pytest.raises(ValueError, match="differ"):
        SpyNetFlow(channels=(8,))(torch.zeros(1, 6, 16, 16), torch.zeros(1, 6, 16, 24))


def test_an_untrained_motion_refiner_returns_the_flow_unchanged():
    torch.manual_seed(0)
    refiner = MotionRefiner(channels=8, feature_channels=4)
    flow = torch.randn(2, 2, 40, 56)
    refined = refiner(flow, torch.rand(2, 6, 40, 56), torch.randn(2, 4, 40, 56))
    assert torch.equal(refined, flow)


def test_the_motion_refiner_passes_gradients_to_every_parameter():
    torch.manual_seed(0)
    refiner = MotionRefiner(channels=8, feature_channels=4, frame_channels=3)
    with torch.no_grad():
        refiner.flow_correction.weight.normal_(std=0.1)
    refined = refiner(torch.randn(1, 2, 24, 20), torch.rand(1, 3, 24, 20), torch.randn(1, 4, 24, 20))
    assert refined.shape == (1, 2, 24, 20)
    assert_finite_gradients(refiner, refined)


def test_the_motion_refiner_rejects_a_feature_at_another_size():
    with pytest.raises(ValueError, match="motion feature"):
        MotionRefiner(8, 4)(torch.zeros(1, 2, 16, 16), torch.zeros(1, 6, 16, 16), torch.zeros(1, 4, 8, 8))


def test_untrained_alignment_is_plain_flow_warping():
    torch.manual_seed(0)
    alignment = OffsetDiversityAlignment(16, groups=4)
    reference_feature, flow = torch.randn(2, 16, 40, 56), 3 * torch.randn(2, 2, 40, 56)
    assert torch.allclose(alignment(reference_feature, flow), warp(reference_feature, flow), atol=1e-6)


def test_each_group_is_warped_with_the_flow_plus_its_own_offset():
    torch.manual_seed(0)
    alignment = OffsetDiversityAlignment(8, groups=4, max_offset=4.0)
    group_offset = torch.zeros(3 * 4)
    group_offset[2:4] = torch.tensor([math.atanh(2.0 / 4.0), math.atanh(-1.0 / 4.0)])
    with torch.no_grad():
        alignment.predictor[-1].bias.copy_(group_offset)
    reference_feature, flow = torch.randn(1, 8, 24, 32), torch.randn(1, 2, 24, 32)
    aligned = alignment(reference_feature, flow)
    shifted = warp(reference_feature, flow + torch.tensor([2.0, -1.0])[None, :, None, None])
    assert torch.allclose(aligned[:, 2:4], shifted[:, 2:4], atol=1e-5)
    others = [0, 1, 4, 5, 6, 7]
    assert torch.allclose(aligned[:, others], warp(reference_feature, flow)[:, others], atol=1e-6)


def test_the_mask_scales_its_group():
    alignment = OffsetDiversityAlignment(8, groups=4)
    with torch.no_grad():
        alignment.predictor[-1].bias[2 * 4 + 3] = -30.0
    reference_feature = torch.randn(1, 8, 16, 16)
    aligned = alignment(reference_feature, torch.zeros(1, 2, 16, 16))
    assert aligned[:, 6:].abs().max() < 1e-6
    assert torch.allclose(aligned[:, :6], reference_feature[:, :6], atol=1e-5)


def test_alignment_uses_a_guide_and_passes_gradients_on_odd_sizes():
    torch.manual_seed(0)
    alignment = OffsetDiversityAlignment(8, groups=2, guide_channels=3, hidden_channels=8)
    with torch.no_grad():
        alignment.predictor[-1].weight.normal_(std=0.1)
    guide = torch.randn(2, 3, 21, 35)
    aligned = alignment(torch.randn(2, 8, 21, 35), torch.randn(2, 2, 21, 35), guide)
    assert aligned.shape == (2, 8, 21, 35)
    assert_finite_gradients(alignment, aligned)


def test_alignment_rejects_a_missing_guide():
    with pytest.raises(ValueError, match="guide"):
        OffsetDiversityAlignment(8, groups=2, guide_channels=3)(
            torch.zeros(1, 8, 8, 8), torch.zeros(1, 2, 8, 8)
        )


def test_alignment_needs_channels_divisible_by_groups():
    with pytest.raises(ValueError, match="divisible"):
        OffsetDiversityAlignment(10, groups=4)


def test_the_cost_volume_is_highest_at_the_displacement_that_matches():
    torch.manual_seed(0)
    reference = torch.rand(1, 6, 24, 30)
    for dx, dy in ((2, 0), (0, -1), (-3, 3), (1, 2)):
        current = warp(reference, constant_flow(1, 24, 30, dx=float(dx), dy=float(dy)))
        costs = matching_costs(current, reference, radius=3)
        assert costs.shape == (1, 49, 24, 30)
        best = costs[..., 4:-4, 4:-4].argmax(dim=1)  # away from the replicated edges
        assert torch.equal(best, torch.full_like(best, (dy + 3) * 7 + (dx + 3))), (dx, dy)
        assert costs.max() <= 0


def test_the_cost_volume_is_the_windowed_mean_squared_difference():
    current, warped = torch.rand(1, 2, 5, 6), torch.rand(1, 2, 5, 6)
    costs = matching_costs(current, warped, radius=1)
    shifted = torch.nn.functional.pad(warped, (1, 1, 1, 1), mode="replicate")[..., 1 + 1:1 + 1 + 5, 1 - 1:1 - 1 + 6]
    squared = (current - shifted).pow(2).mean(dim=1)  # displacement dx = -1, dy = +1: channel 2 * 3 + 0
    assert torch.allclose(costs[0, 6, 2, 3], -COST_SCALE * squared[0, 1:4, 2:5].mean())


def test_an_estimator_with_a_cost_volume_starts_at_zero_flow_and_reads_one_channel_per_displacement():
    torch.manual_seed(0)
    plain, with_costs = SpyNetFlow(levels=3, channels=(8,)), SpyNetFlow(levels=3, channels=(8,), cost_radius=2)
    assert with_costs.level_nets[0][0].in_channels == plain.level_nets[0][0].in_channels + 25
    flow = with_costs(torch.rand(2, 6, 20, 36), torch.rand(2, 6, 20, 36))
    assert flow.shape == (2, 2, 20, 36) and torch.equal(flow, torch.zeros_like(flow))
    with pytest.raises(ValueError, match="cost_radius"):
        SpyNetFlow(cost_radius=-1)


def test_the_cost_volume_lets_a_new_estimator_learn_a_shift_that_the_plain_one_does_not():
    """The reason the presets have ``flow_cost_radius``: 60 Adam steps on frames shifted by up to 2
    pixels take the cost-volume estimator's error well below zero flow's; the plain one stays at it."""
    generator = torch.Generator().manual_seed(0)
    texture = torch.nn.functional.avg_pool2d(torch.rand(64, 6, 40, 40, generator=generator), 3, 1, 1)

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        picks = torch.arange(8) + 8 * (step % 8)
        shifts = (torch.rand(8, 2, 1, 1, generator=generator) * 4 - 2).expand(8, 2, 40, 40)
        return warp(texture[picks], shifts), texture[picks], shifts

    errors = {}
    for radius in (0, 2):
        torch.manual_seed(0)
        estimator = SpyNetFlow(levels=2, channels=(16, 16), cost_radius=radius)
        optimizer = torch.optim.Adam(estimator.parameters(), lr=2e-3)
        for step in range(60):
            current, reference, target = batch(step)
            loss = (estimator(current, reference) - target).norm(dim=1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        current, reference, target = batch(60)
        with torch.no_grad():
            errors[radius] = ((estimator(current, reference) - target).norm(dim=1).mean() / target.norm(dim=1).mean()).item()
    assert errors[2] < 0.6 and errors[0] > 0.8, errors
