"""Row-striped convolutions: the same convolution, the same bits with any number of workers."""

from __future__ import annotations

import pytest
import torch

from cmfr_codec.determinism import reproducible_inference
from cmfr_codec.errors import InputError
from cmfr_codec.models import stripes
from cmfr_codec.models.alignment import OffsetDiversityAlignment
from cmfr_codec.models.contexts import ScaledFeatureFusion, TemporalContexts
from cmfr_codec.models.layers import (
    Conv2d,
    DepthwiseBlock,
    PointwiseConv2d,
    ResidualBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    UNet,
    subpixel_conv3x3,
)
from cmfr_codec.models.motion import MotionRefiner, SpyNetFlow, warp

SHAPES = [
    # (in, out, kernel, stride, groups, height, width)
    (16, 24, 3, 1, 1, 100, 37),
    (16, 24, 3, 2, 1, 101, 38),
    (16, 24, 3, 2, 1, 128, 40),
    (24, 24, 3, 1, 24, 130, 20),
    (12, 20, 1, 1, 1, 97, 33),
    (12, 20, 1, 2, 1, 97, 33),
    (6, 8, 5, 1, 1, 70, 9),
]


def _layer(in_channels: int, out_channels: int, kernel: int, stride: int, groups: int) -> torch.nn.Conv2d:
    layer_type = PointwiseConv2d if kernel == 1 else Conv2d
    layer = layer_type(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, groups=groups)
    return layer.to(memory_format=torch.channels_last)


def _coded(layer: torch.nn.Conv2d, x: torch.Tensor, workers: int, monkeypatch: pytest.MonkeyPatch) -> torch.Tensor:
    monkeypatch.setenv("CMFR_THREADS", str(workers))
    with reproducible_inference():
        return layer(x)


def _randomised(module: torch.nn.Module, std: float = 0.3) -> torch.nn.Module:
    """``module`` channels-last with random parameters (not ones whose last convolution starts at zero)."""
    torch.manual_seed(0)
    for parameter in module.parameters():
        torch.nn.init.normal_(parameter, std=std)
    return module.to(memory_format=torch.channels_last)


def _assert_stripes_compute_the_module(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...],
                                       monkeypatch: pytest.MonkeyPatch, tolerance: float = 1e-4) -> None:
    """Coded in stripes: close to the module's own output, and the same bits with 1 and 2 workers."""
    with torch.no_grad():
        expected = module(*inputs)
    outputs = []
    for workers in (1, 2):
        monkeypatch.setenv("CMFR_THREADS", str(workers))
        with reproducible_inference():
            outputs.append(module(*inputs))
    assert outputs[0].shape == expected.shape
    torch.testing.assert_close(outputs[0], expected, rtol=tolerance, atol=tolerance)
    assert torch.equal(outputs[0], outputs[1])


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_striped_convolution_is_torchs_convolution_with_identical_bits_for_any_worker_count(shape, monkeypatch):
    in_channels, out_channels, kernel, stride, groups, height, width = shape
    torch.manual_seed(0)
    layer = _layer(in_channels, out_channels, kernel, stride, groups)
    x = torch.randn(1, in_channels, height, width).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        reference = torch.nn.functional.conv2d(x.contiguous(), layer.weight, layer.bias, stride, kernel // 2, 1, groups)
    one = _coded(layer, x, 1, monkeypatch)
    assert one.shape == reference.shape
    torch.testing.assert_close(one, reference, rtol=1e-5, atol=1e-5)
    for workers in (2, 3):
        assert torch.equal(_coded(layer, x, workers, monkeypatch), one)


@pytest.mark.parametrize("block_type", [DepthwiseBlock, ResidualBlock])
def test_a_whole_block_in_stripes_is_the_block_with_identical_bits_for_any_worker_count(block_type, monkeypatch):
    x = torch.randn(1, 8, 3 * stripes.STRIPE_ROWS + 7, 19)
    _assert_stripes_compute_the_module(_randomised(block_type(8)), (x,), monkeypatch, tolerance=1e-5)


@pytest.mark.parametrize("make_block", [
    lambda: ResidualBlockWithStride(6, 10),
    lambda: ResidualBlockUpsample(6, 10),
    lambda: subpixel_conv3x3(6, 10, 2),
], ids=["stride-2", "upsample", "subpixel"])
def test_resampling_blocks_in_stripes_are_the_block_for_any_worker_count(make_block, monkeypatch):
    x = torch.randn(1, 6, 2 * stripes.MIN_PARALLEL_ROWS + 6, 15)
    _assert_stripes_compute_the_module(_randomised(make_block()), (x,), monkeypatch)


@pytest.mark.parametrize("cost_radius", [0, 3])
def test_flow_estimation_in_stripes_is_the_same_flow_for_any_worker_count(cost_radius: int, monkeypatch):
    """With a cost volume too: it is computed a stripe at a time, with the rows its shifts and window reach.
    Its 49 channels, scaled by 100, widen the float rounding of the channels-last stripes against
    torch's own layout (no seams: the difference is spread over every row), hence the tolerance."""
    current, reference = torch.rand(2, 1, 6, 2 * stripes.MIN_PARALLEL_ROWS + 6, 24)
    estimator = _randomised(SpyNetFlow(levels=2, channels=(8, 8), cost_radius=cost_radius), std=0.1)
    _assert_stripes_compute_the_module(estimator, (current, reference), monkeypatch,
                                       tolerance=1e-4 if cost_radius else 1e-5)


def test_feature_fusion_in_stripes_is_the_same_fusion_for_any_worker_count(monkeypatch):
    rows = 2 * stripes.MIN_PARALLEL_ROWS + 3
    h, context = torch.randn(1, 8, rows, 17), torch.randn(1, 6, rows, 17)
    _assert_stripes_compute_the_module(_randomised(ScaledFeatureFusion(8, 6, 10, sff=True)), (h, context), monkeypatch)


def test_alignment_in_stripes_is_the_same_alignment_for_any_worker_count(monkeypatch):
    rows = 2 * stripes.MIN_PARALLEL_ROWS + 10
    feature, flow, guide = torch.randn(1, 8, rows, 20), 3.0 * torch.randn(1, 2, rows, 20), torch.rand(1, 6, rows, 20)
    alignment = _randomised(OffsetDiversityAlignment(8, groups=2, guide_channels=6))
    # Offsets of up to 8 pixels into random features amplify float rounding (about 1e-6) to 1e-4;
    # a seam (too little reach) differs by whole units.
    _assert_stripes_compute_the_module(alignment, (feature, flow, guide), monkeypatch, tolerance=1e-3)


def test_a_band_of_rows_warps_as_those_rows_of_the_whole_warp():
    torch.manual_seed(0)
    x, flow = torch.rand(1, 3, 40, 12), 4.0 * torch.randn(1, 2, 40, 12)
    torch.testing.assert_close(warp(x, flow, band_start=0)[:, :, 10:25], warp(x, flow[:, :, 10:25], band_start=10))
    with pytest.raises(ValueError, match="cannot warp"):
        warp(x, flow[:, :, 10:25])


def test_the_partition_depends_only_on_the_row_count():
    assert stripes.stripes(stripes.MIN_PARALLEL_ROWS - 1) == [(0, stripes.MIN_PARALLEL_ROWS - 1)]
    rows = 3 * stripes.STRIPE_ROWS + 5
    parts = stripes.stripes(rows)
    assert parts[0][0] == 0 and parts[-1][1] == rows
    assert all(end == following for (_, end), (following, _) in zip(parts, parts[1:], strict=False))
    assert [end - first for first, end in parts] == [stripes.STRIPE_ROWS] * 3 + [5]


def test_stripes_are_used_only_when_coding_one_picture_on_the_cpu_without_autograd():
    picture = torch.zeros(1, 2, 8, 8)
    assert not stripes.active(picture)
    with reproducible_inference():
        assert stripes.active(picture)
        assert not stripes.active(torch.zeros(2, 2, 8, 8))
        with torch.enable_grad():
            assert not stripes.active(picture)
    assert not stripes.active(picture)


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_thread_count_is_refused_with_its_value(value, monkeypatch):
    monkeypatch.setenv("CMFR_THREADS", value)
    with pytest.raises(InputError, match="CMFR_THREADS"):
        stripes.worker_count()


def test_motion_refinement_in_stripes_is_the_same_refinement_for_any_worker_count(monkeypatch):
    """The whole refiner runs per stripe, its warp of the reference frame included."""
    rows = 2 * stripes.MIN_PARALLEL_ROWS + 6
    flow, reference, feature = 2.0 * torch.randn(1, 2, rows, 22), torch.rand(1, 6, rows, 22), torch.randn(1, 8, rows, 22)
    refiner = _randomised(MotionRefiner(8, 8, blocks=2), std=0.1)
    _assert_stripes_compute_the_module(refiner, (flow, reference, feature), monkeypatch, tolerance=1e-4)


@pytest.mark.parametrize("blocks_per_stage", [1, 2])
def test_a_unet_whose_skips_are_added_inside_the_stripes_is_the_same_unet_for_any_worker_count(blocks_per_stage,
                                                                                              monkeypatch):
    x = torch.randn(1, 6, 4 * stripes.MIN_PARALLEL_ROWS + 8, 20)
    unet = _randomised(UNet(6, 5, channels=(8, 8, 8), blocks_per_stage=blocks_per_stage), std=0.1)
    _assert_stripes_compute_the_module(unet, (x,), monkeypatch)


def test_temporal_contexts_in_stripes_are_the_same_contexts_for_any_worker_count(monkeypatch):
    rows = 4 * stripes.MIN_PARALLEL_ROWS
    feature, flow, guide = torch.randn(1, 8, rows, 16), torch.randn(1, 2, rows, 16), torch.rand(1, 6, rows, 16)
    contexts = _randomised(TemporalContexts(8, (8, 8, 8), 2, 6, 1), std=0.1)
    with torch.no_grad():
        expected = contexts(feature, flow, guide)
    outputs = []
    for workers in (1, 2):
        monkeypatch.setenv("CMFR_THREADS", str(workers))
        with reproducible_inference():
            outputs.append(contexts(feature, flow, guide))
    for one, two, reference in zip(*outputs, expected, strict=True):
        torch.testing.assert_close(one, reference, rtol=1e-3, atol=1e-3)
        assert torch.equal(one, two)
